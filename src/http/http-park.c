/* Parked requests (long polls): suspended until woken by key or their deadline, then handed to the handler again. */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "core/timeutil.h"
#include "http/http-limits.h"
#include "http/http.h"
#include "http/http-internal.h"

static void
http_park_unlink(struct http_server *srv, struct http_conn *hc)
{
	if (hc->park_prev)
		hc->park_prev->park_next = hc->park_next;
	else
		srv->parked = hc->park_next;
	if (hc->park_next)
		hc->park_next->park_prev = hc->park_prev;
	hc->park_prev = hc->park_next = NULL;
	hc->parked = false;
	srv->n_parked--;
}

/* Resume a parked request: its handler runs again in the next pass (http_access sees rerun). */
static void
http_park_resume(struct http_server *srv, struct http_conn *hc, bool expired)
{
	http_park_unlink(srv, hc);
	hc->rerun = true;
	hc->park_expired = expired;
	srv->resumed = true;
	MHD_resume_connection(hc->conn);
}

/*
 * The handler asked to park (resp->park): suspend the connection (0), or refuse: HTTP_PARK_FULL when
 * parked_max requests are parked already, HTTP_PARK_LATE when it parks on the call that had to answer.
 */
int
http_park(struct http_server *srv, struct http_conn *hc, struct MHD_Connection *conn, const struct http_response *resp)
{
	if (hc->park_expired) {
		hc->park_expired = false;
		return HTTP_PARK_LATE;
	}
	if (srv->n_parked >= srv->parked_max)
		return HTTP_PARK_FULL;
	hc->conn = conn;
	hc->parked = true;
	hc->park_key = resp->park_key;
	hc->park_until_ms = resp->park_until_ms;
	hc->park_prev = NULL;
	hc->park_next = srv->parked;
	if (srv->parked)
		srv->parked->park_prev = hc;
	srv->parked = hc;
	srv->n_parked++;
	MHD_suspend_connection(conn);
	return 0;
}

size_t
http_server_wake(struct http_server *srv, uint64_t key)
{
	struct http_conn *hc, *next;
	size_t n = 0;

	for (hc = srv->parked; hc; hc = next) {
		next = hc->park_next;
		if (hc->park_key == key) {
			http_park_resume(srv, hc, false);
			n++;
		}
	}
	return n;
}

size_t
http_server_parked(const struct http_server *srv)
{
	return srv->n_parked;
}

/* Resume every parked request whose deadline has come. */
void
http_park_expire(struct http_server *srv, int64_t now_ms)
{
	struct http_conn *hc, *next;

	for (hc = srv->parked; hc; hc = next) {
		next = hc->park_next;
		if (hc->park_until_ms <= now_ms)
			http_park_resume(srv, hc, true);
	}
}

/* Milliseconds until the earliest park deadline (0 when one has passed), or -1 with none parked. */
int
http_park_timeout_ms(const struct http_server *srv, int64_t now_ms)
{
	const struct http_conn *hc;
	int64_t best = INT64_MAX;

	for (hc = srv->parked; hc; hc = hc->park_next)
		if (hc->park_until_ms < best)
			best = hc->park_until_ms;
	if (best == INT64_MAX)
		return -1;
	if (best <= now_ms)
		return 0;
	return best - now_ms > INT_MAX ? INT_MAX : (int)(best - now_ms);
}

/* At stop: each parked request is answered 503 ServiceUnavailable, as a held answer released. */
void
http_park_stop(struct http_server *srv)
{
	static const char body[] = "{\"error\":{\"code\":\"ServiceUnavailable\",\"message\":\"the server is stopping\","
				   "\"target\":\"\",\"details\":[]}}";
	struct http_conn *hc;

	while ((hc = srv->parked) != NULL) {
		http_park_unlink(srv, hc);
		/* a parked request holds no answer; without room for one, its connection is just resumed and closed */
		if (!hc->held)
			hc->held = calloc(1, sizeof(*hc->held));
		if (hc->held) {
			hc->held->status = MHD_HTTP_SERVICE_UNAVAILABLE;
			hc->held->body = strdup(body);
			hc->held->body_len = hc->held->body ? strlen(body) : 0;
			hc->released = true;
		}
		MHD_resume_connection(hc->conn);
	}
}

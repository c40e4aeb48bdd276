/* What http-server.c (daemons, listeners, TLS) and http-request.c (one request) share: the server, a request's state. */
#ifndef JITGATE_HTTP_INTERNAL_H
#define JITGATE_HTTP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <microhttpd.h>

#include "http/http-conns.h"
#include "http/http.h"

#define HTTP_LOG_MAX		256	/* the last libmicrohttpd message, kept for start errors */

/* One per daemon, so the access handler knows which listener a request came through. */
struct http_listener {
	struct http_server *srv;
	bool is_unix;
};

struct http_server {
	struct MHD_Daemon *tls_d;
	struct MHD_Daemon *unix_d;
	struct http_listener tls_l;
	struct http_listener unix_l;
	int epoll_fd;			/* ours, holding both daemons' epoll fds; -1 with one daemon */
	char *unix_path;		/* the socket we created, unlinked at stop */
	char *cert_pem;
	char *key_pem;			/* wiped at stop */
	size_t key_pem_len;
	uint16_t port;
	http_handler_fn handler;
	void *ctx;
	size_t body_max;
	size_t head_max;		/* a request's line and headers, as http_head_size counts them */
	struct http_conn *held;		/* connections suspended with an answer to send at release */
	struct http_conn *parked;	/* parked requests (http_response.park), a doubly linked list */
	size_t n_parked;
	size_t parked_max;
	/*
	 * Connections were resumed (held answers released, parked requests woken) since the last run:
	 * run again at once (http_server_timeout_ms is 0), not when the daemon's epoll fd next wakes.
	 */
	bool resumed;
	struct http_conns conns;	/* tls_d's connections (http-conns.h) */
	unsigned conn_timeout_s;	/* for authenticated connections */
	char last_log[HTTP_LOG_MAX];
};

/* Per-request state, in libmicrohttpd's *con_cls from the first call of the access handler to its completion. */
struct http_conn {
	char *body;
	size_t len;
	size_t cap;
	size_t discarded;		/* bytes thrown away after the body grew too large */
	bool too_large;
	bool started;			/* the access handler has seen this request */
	bool bad_target;		/* the raw target decodes to a control character (http_uri_seen) */
	bool answered;			/* a response is queued; later calls only drain */
	/*
	 * A held answer (http_response.hold): suspended until http_server_release(). Allocated only while one is
	 * held: a struct http_response is 4.6 KB (its headers' room), which every parked watch would carry.
	 */
	struct MHD_Connection *conn;
	struct http_response *held;
	bool released;			/* resumed: queue `held` at the next call */
	struct http_conn *next_held;
	/* a parked request: suspended until woken by key or its deadline, then dispatched again */
	bool parked;
	bool rerun;			/* resumed from a park: call the handler again at the next call */
	bool park_expired;		/* ... because its deadline passed */
	bool unparked;			/* the next dispatch is such a rerun */
	uint64_t park_key;
	int64_t park_until_ms;
	struct http_conn *park_prev, *park_next;
};

/* http-request.c's callbacks, which http_server_start() hands to libmicrohttpd */
enum MHD_Result http_access(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
			    const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls);
void http_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe);
/* http-park.c: parked requests; http_park: 0 (parked), or why not */
#define HTTP_PARK_FULL	1
#define HTTP_PARK_LATE	2
int http_park(struct http_server *srv, struct http_conn *hc, struct MHD_Connection *conn,
	      const struct http_response *resp);
void http_park_expire(struct http_server *srv, int64_t now_ms);
int http_park_timeout_ms(const struct http_server *srv, int64_t now_ms);
void http_park_stop(struct http_server *srv);
void *http_uri_seen(void *cls, const char *uri, struct MHD_Connection *conn);

#endif

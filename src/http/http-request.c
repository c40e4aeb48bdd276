/*
 * One request through libmicrohttpd's access handler: framing and target checks, the body, the handler call,
 * held answers, and http.h's request accessors.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <microhttpd.h>

#include "core/limits.h"
#include "http/http-conns.h"
#include "http/http-limits.h"
#include "http/http.h"
#include "http/http-internal.h"

#define HTTP_CONTENT_TYPE_JSON	"application/json; charset=utf-8"

const char *
http_request_header(const struct http_request *req, const char *name)
{
	return MHD_lookup_connection_value(req->impl, MHD_HEADER_KIND, name);
}

struct http_join {
	const char *name;
	char *buf;
	size_t size;
	size_t len;
	int r;				/* -ENOENT until a line is seen; -E2BIG once one does not fit */
};

static enum MHD_Result
http_join_one(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	struct http_join *j = cls;
	size_t n = value ? strlen(value) : 0, sep = j->r == -ENOENT ? 0 : 2;

	(void)kind;
	if (key == NULL || strcasecmp(key, j->name))
		return MHD_YES;
	if (j->len + sep + n >= j->size) {
		j->r = -E2BIG;
		return MHD_NO;
	}
	memcpy(j->buf + j->len, ", ", sep);
	memcpy(j->buf + j->len + sep, value ? value : "", n);
	j->len += sep + n;
	j->buf[j->len] = '\0';
	j->r = 0;
	return MHD_YES;
}

int
http_request_header_join(const struct http_request *req, const char *name, char *buf, size_t size)
{
	struct http_join j = { name, buf, size, 0, -ENOENT };

	if (size == 0)
		return -E2BIG;
	buf[0] = '\0';
	MHD_get_connection_values(req->impl, MHD_HEADER_KIND, http_join_one, &j);
	return j.r < 0 ? j.r : (int)j.len;
}

const char *
http_request_query(const struct http_request *req, const char *name)
{
	return MHD_lookup_connection_value(req->impl, MHD_GET_ARGUMENT_KIND, name);
}

struct http_query_iter {
	int (*fn)(void *ctx, const char *key, const char *value);
	void *ctx;
};

static enum MHD_Result
http_query_iter_one(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	struct http_query_iter *it = cls;

	/* "?flag" without "=" has no value; handlers see it as empty. */
	return it->fn(it->ctx, key, value ? value : "") == 0 ? MHD_YES : MHD_NO;
}

void
http_request_query_each(const struct http_request *req, int (*fn)(void *ctx, const char *key, const char *value),
			void *ctx)
{
	struct http_query_iter it = { fn, ctx };

	MHD_get_connection_values(req->impl, MHD_GET_ARGUMENT_KIND, http_query_iter_one, &it);
}

/* Queue status + body (copied) with our headers; the one place a response is made. */
static enum MHD_Result
http_queue(struct MHD_Connection *conn, unsigned status, char *body, size_t len, bool must_free,
	   const char *content_type, const struct http_response *extra)
{
	struct MHD_Response *resp;
	enum MHD_Result ok;
	size_t i;

	if (body == NULL)
		resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	else
		resp = MHD_create_response_from_buffer(len, body,
						       must_free ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	if (resp == NULL) {
		if (must_free)
			free(body);
		return MHD_NO;
	}
	ok = MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
	for (i = 0; extra != NULL && ok == MHD_YES && i < extra->n_headers && i < HTTP_HEADERS_OUT_MAX; i++)
		ok = MHD_add_response_header(resp, extra->headers[i].name, extra->headers[i].value);
	if (ok == MHD_YES)
		ok = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ok;
}

static enum MHD_Result
http_queue_error(struct MHD_Connection *conn, unsigned status, const char *code, const char *message)
{
	char *body = NULL;
	int n;

	n = asprintf(&body, "{\"error\":{\"code\":\"%s\",\"message\":\"%s\",\"target\":\"\",\"details\":[]}}", code,
		     message);
	if (n < 0)
		return MHD_NO;
	return http_queue(conn, status, body, (size_t)n, true, HTTP_CONTENT_TYPE_JSON, NULL);
}

static enum MHD_Result
http_queue_too_large(struct http_server *srv, struct MHD_Connection *conn)
{
	char message[96];

	snprintf(message, sizeof(message), "the request body is larger than %zu bytes", srv->body_max);
	return http_queue_error(conn, MHD_HTTP_CONTENT_TOO_LARGE, "RequestBodyTooLarge", message);
}

static enum MHD_Result
http_queue_head_too_large(struct http_server *srv, struct MHD_Connection *conn)
{
	char message[128];

	snprintf(message, sizeof(message), "the request line and headers are larger than %zu bytes (cookies count twice)",
		 srv->head_max);
	return http_queue_error(conn, MHD_HTTP_REQUEST_HEADER_FIELDS_TOO_LARGE, "RequestHeadersTooLarge", message);
}

/*
 * libmicrohttpd decodes the target in place, and a %00 becomes a NUL that ends the path early
 * (".../policies/default%00x" would read as ".../default"): look at the raw target before that.
 * The answer becomes the request's *con_cls.
 */
void *
http_uri_seen(void *cls, const char *uri, struct MHD_Connection *conn)
{
	struct http_conn *hc = calloc(1, sizeof(*hc));

	(void)cls;
	(void)conn;
	if (hc != NULL)
		hc->bad_target = http_target_has_control(uri, strlen(uri));
	return hc;
}

/* Content-Length as libmicrohttpd passed it (it has checked the syntax); UINT64_MAX when absent or odd. */
static uint64_t
http_content_length(struct MHD_Connection *conn)
{
	const char *s = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	uint64_t v = 0;

	if (s == NULL || *s == '\0')
		return UINT64_MAX;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9' || v > (UINT64_MAX - 9) / 10)
			return UINT64_MAX;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	return v;
}

/* Counting the headers that frame a request (libmicrohttpd keeps every line, duplicates too). */
struct http_framing {
	unsigned host, transfer_encoding, content_length;
	bool te_unknown;
};

static enum MHD_Result
http_framing_count(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	struct http_framing *f = cls;

	(void)kind;
	if (!strcasecmp(key, MHD_HTTP_HEADER_HOST))
		f->host++;
	else if (!strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH))
		f->content_length++;
	else if (!strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING)) {
		f->transfer_encoding++;
		if (!value || strcasecmp(value, "chunked"))
			f->te_unknown = true;
	}
	return MHD_YES;
}

/*
 * What libmicrohttpd 0.9.75 lets through even with MHD_OPTION_STRICT_FOR_CLIENT,
 * and a proxy in front may read otherwise (request smuggling): two Host lines,
 * a transfer coding other than chunked (we decode no other), Transfer-Encoding
 * with Content-Length, two Content-Length lines. NULL when the framing is sound.
 */
static const char *
http_framing_error(struct MHD_Connection *conn)
{
	struct http_framing f = { 0 };

	MHD_get_connection_values(conn, MHD_HEADER_KIND, http_framing_count, &f);
	if (f.host > 1)
		return "the request has more than one Host header";
	if (f.te_unknown || f.transfer_encoding > 1)
		return "the only transfer coding accepted is a single 'Transfer-Encoding: chunked'";
	if (f.transfer_encoding && f.content_length)
		return "the request has both Transfer-Encoding and Content-Length";
	if (f.content_length > 1)
		return "the request has more than one Content-Length header";
	return NULL;
}

/* Adding up what a request's head takes of libmicrohttpd's pool (http-limits.h). */
static enum MHD_Result
http_head_count(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	size_t *n = cls, k = key ? strlen(key) : 0, v = value ? strlen(value) : 0;

	*n += HTTP_POOL_ENTRY_COST;
	if (kind == MHD_COOKIE_KIND)
		return MHD_YES;		/* its text is in the Cookie header's copy, counted with the header */
	*n += k + v + 4;		/* ": " and CRLF, or "=" and "&" */
	if (kind == MHD_HEADER_KIND && !strcasecmp(key, MHD_HTTP_HEADER_COOKIE))
		*n += v + 1;		/* the copy libmicrohttpd cuts into cookies */
	return MHD_YES;
}

/* The bytes of the pool a request's line and headers hold: what the answer's head must find room beside. */
static size_t
http_head_size(struct MHD_Connection *conn, const char *method, const char *url, const char *version)
{
	size_t n = strlen(method) + strlen(url) + strlen(version) + 4;

	MHD_get_connection_values(conn, MHD_HEADER_KIND | MHD_COOKIE_KIND | MHD_GET_ARGUMENT_KIND, http_head_count, &n);
	return n;
}

static int
http_conn_append(struct http_conn *hc, const char *data, size_t n)
{
	size_t cap;
	char *p;

	if (hc->cap - hc->len > n)
		goto copy;
	cap = hc->cap ? hc->cap : 4096;
	while (cap - hc->len <= n)
		cap *= 2;
	p = realloc(hc->body, cap);
	if (p == NULL)
		return -ENOMEM;
	hc->body = p;
	hc->cap = cap;
copy:
	memcpy(hc->body + hc->len, data, n);
	hc->len += n;
	hc->body[hc->len] = '\0';
	return 0;
}

static void
http_peer(struct MHD_Connection *conn, bool is_unix, struct http_request *req)
{
	const union MHD_ConnectionInfo *ci;

	req->peer_uid = (uid_t)-1;
	if (is_unix) {
		struct ucred cred;
		socklen_t len = sizeof(cred);

		ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		if (ci != NULL && getsockopt(ci->connect_fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 &&
		    len == sizeof(cred))
			req->peer_uid = cred.uid;
		return;
	}
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci == NULL || ci->client_addr == NULL)
		return;
	if (ci->client_addr->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)(const void *)ci->client_addr;

		req->peer.family = NET_INET;
		memcpy(req->peer.bytes, &sin->sin_addr, 4);
	} else if (ci->client_addr->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)(const void *)ci->client_addr;

		req->peer.family = NET_INET6;
		memcpy(req->peer.bytes, &sin6->sin6_addr, 16);
		net_addr_unmap_v4(&req->peer);
	}
}

/* The caller authenticated: this connection leaves the unauthenticated share and may idle for longer. */
static void
http_conn_authenticated(struct http_server *srv, struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	if (ci != NULL && http_conns_authenticate(&srv->conns, ci->socket_context))
		MHD_set_connection_option(conn, MHD_CONNECTION_OPTION_TIMEOUT, srv->conn_timeout_s);
}

/* The request is whole: hand it to the handler and send what it answers. */
static enum MHD_Result
http_dispatch(struct http_listener *l, struct MHD_Connection *conn, const char *url, const char *method,
	      struct http_conn *hc)
{
	struct http_server *srv = l->srv;
	struct http_request req = { 0 };
	struct http_response resp = { 0 };
	const char *content_type;

	req.method = method;
	req.path = url;
	req.body = hc->body ? hc->body : "";
	req.body_len = hc->len;
	req.via_unix = l->is_unix;
	req.park_expired = hc->park_expired;
	req.unparked = hc->unparked;
	req.park_key = hc->park_key;
	hc->unparked = false;
	req.impl = conn;
	http_peer(conn, l->is_unix, &req);

	srv->handler(srv->ctx, &req, &resp);
	if (resp.authenticated && !l->is_unix)
		http_conn_authenticated(srv, conn);

	if (resp.park) {
		free(resp.body);
		switch (http_park(srv, hc, conn, &resp)) {
		case 0:
			return MHD_YES;
		case HTTP_PARK_FULL:
			return http_queue_error(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "TooManyWatches",
						"the server holds as many watches as it can; try again later");
		default:
			return http_queue_error(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "InternalError",
						"the server could not answer this request");
		}
	}
	hc->park_expired = false;
	if (resp.status < 100 || resp.status > 599) {
		free(resp.body);
		return http_queue_error(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "InternalError",
					"the server could not answer this request");
	}
	if (resp.body == NULL)
		resp.body_len = 0;
	/* These statuses carry no body by definition. */
	if (resp.status == MHD_HTTP_NO_CONTENT || resp.status == MHD_HTTP_NOT_MODIFIED) {
		free(resp.body);
		resp.body = NULL;
		resp.body_len = 0;
	}
	if (resp.hold) {
		/* answered, but not to be sent before the caller says so: park the connection */
		if (!(hc->held = malloc(sizeof(*hc->held)))) {
			free(resp.body);
			return http_queue_error(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "InternalError",
						"the server could not answer this request");
		}
		*hc->held = resp;
		if (resp.held_at)
			*resp.held_at = hc->held;
		hc->conn = conn;
		hc->next_held = srv->held;
		srv->held = hc;
		MHD_suspend_connection(conn);
		return MHD_YES;
	}
	/* (a held answer is never compressed: its body may yet be replaced, and it is small) */
	http_response_encode(&resp, http_request_header(&req, "Accept-Encoding"));
	content_type = resp.content_type ? resp.content_type : HTTP_CONTENT_TYPE_JSON;
	return http_queue(conn, (unsigned)resp.status, resp.body, resp.body_len, true, content_type, &resp);
}

void
http_server_release(struct http_server *srv, const struct http_response *instead)
{
	struct http_conn *hc, *next;
	const char *ra;

	for (hc = srv->held; hc; hc = next) {
		next = hc->next_held;
		hc->next_held = NULL;
		if (instead) {
			/* the other answer's status and body; the request's own headers (correlation ids) stay */
			free(hc->held->body);
			hc->held->status = instead->status;
			hc->held->content_type = instead->content_type;
			hc->held->body = NULL;
			hc->held->body_len = 0;
			if (instead->body && (hc->held->body = malloc(instead->body_len ? instead->body_len : 1))) {
				memcpy(hc->held->body, instead->body, instead->body_len);
				hc->held->body_len = instead->body_len;
			}
			/* and its Retry-After: a 503 from a group commit the store refused says when to try again */
			ra = http_response_header_get(instead, "Retry-After");
			if (ra && !http_response_header_get(hc->held, "Retry-After"))
				http_response_header(hc->held, "Retry-After", ra);
		}
		hc->released = true;
		srv->resumed = true;
		MHD_resume_connection(hc->conn);
	}
	srv->held = NULL;
}

/* The headers are in (the first call for a request): refuse what cannot be served before a byte of the body. */
static enum MHD_Result
http_first_call(struct http_server *srv, struct http_conn *hc, struct MHD_Connection *conn, const char *url,
		const char *method, const char *version)
{
	const char *why;
	uint64_t clen;

	hc->started = true;
	if (hc->bad_target) {
		hc->answered = true;
		return http_queue_error(conn, MHD_HTTP_BAD_REQUEST, "InvalidRequestTarget",
					"the path or query holds a control character (%00-%1F or %7F)");
	}
	if (http_head_size(conn, method, url, version) > srv->head_max) {
		hc->too_large = true;	/* whatever body follows is discarded */
		hc->answered = true;
		return http_queue_head_too_large(srv, conn);
	}
	if ((why = http_framing_error(conn)) != NULL) {
		hc->too_large = true;	/* whatever body follows is discarded, never parsed */
		hc->answered = true;
		return http_queue_error(conn, MHD_HTTP_BAD_REQUEST, "InvalidRequestFraming", why);
	}
	/* A declared length beyond the limit is refused before a byte of the body is read. */
	clen = http_content_length(conn);
	if (clen != UINT64_MAX && clen > srv->body_max) {
		hc->too_large = true;
		hc->answered = true;
		return http_queue_too_large(srv, conn);
	}
	return MHD_YES;
}

enum MHD_Result
http_access(void *cls, struct MHD_Connection *conn, const char *url, const char *method, const char *version,
	    const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	struct http_listener *l = cls;
	struct http_server *srv = l->srv;
	struct http_conn *hc = *con_cls;

	if (hc == NULL)
		return MHD_NO;	/* http_uri_seen had no memory for it */
	if (!hc->started)
		return http_first_call(srv, hc, conn, url, method, version);

	if (*upload_data_size > 0) {
		size_t n = *upload_data_size;

		*upload_data_size = 0;
		if (!hc->too_large && n > srv->body_max - hc->len) {
			hc->too_large = true;
			free(hc->body);
			hc->body = NULL;
			hc->discarded = hc->len;
			hc->len = hc->cap = 0;
		}
		if (hc->too_large) {
			/*
			 * A chunked body has no declared length: read on so the client can
			 * read our 413, but not forever.
			 */
			hc->discarded += n;
			if (hc->discarded / HTTP_DISCARD_FACTOR > srv->body_max)
				return MHD_NO;
			return MHD_YES;
		}
		return http_conn_append(hc, upload_data, n) == 0 ? MHD_YES : MHD_NO;
	}

	if (hc->released) {
		/* back from http_server_release(): send the held answer (http_queue takes its body) */
		struct http_response *held = hc->held;
		enum MHD_Result ok;

		hc->released = false;
		hc->held = NULL;
		ok = http_queue(conn, (unsigned)held->status, held->body, held->body_len, true,
				held->content_type ? held->content_type : HTTP_CONTENT_TYPE_JSON, held);
		free(held);
		return ok;
	}
	if (hc->rerun) {
		/* back from a park (http-park.c): the handler answers again, as to a new request */
		hc->rerun = false;
		hc->unparked = true;
		return http_dispatch(l, conn, url, method, hc);
	}
	if (hc->answered)
		return MHD_YES;
	hc->answered = true;
	if (hc->too_large)
		return http_queue_too_large(srv, conn);
	return http_dispatch(l, conn, url, method, hc);
}

void
http_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	struct http_conn *hc = *con_cls;

	if (hc == NULL)
		return;
	free(hc->body);
	if (hc->held)
		free(hc->held->body);
	free(hc->held);
	free(hc);
	*con_cls = NULL;
}

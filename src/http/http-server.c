/* The HTTPS server under the API: libmicrohttpd daemons driven from the caller's loop, one handler call per request. */
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

/*
 * TLS 1.3 and 1.2 only; in 1.2 only forward-secret (ECDHE) key exchange and AEAD ciphers: no CBC with SHA-1 or
 * SHA-2 HMAC (Lucky13-class padding oracles), no static-RSA key exchange. 1.3 suites are all AEAD already.
 */
/* libmicrohttpd's strictest client discipline: malformed requests are a 400, not guessed at */
#define HTTP_CLIENT_STRICT	1

#define HTTP_TLS_PRIORITIES	"NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-CIPHER-ALL:+AES-256-GCM:+CHACHA20-POLY1305:" \
				"+AES-128-GCM:-MAC-ALL:+AEAD:-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA"
#define HTTP_CONTENT_TYPE_JSON	"application/json; charset=utf-8"
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
	struct http_conn *held;		/* connections suspended with an answer to send at release */
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
	/* a held answer (http_response.hold): suspended until http_server_release() */
	struct MHD_Connection *conn;
	struct http_response held;
	bool released;			/* resumed: queue `held` at the next call */
	struct http_conn *next_held;
};

/* libmicrohttpd's messages are kept, never printed: a start failure quotes the last one. */
static void __attribute__((format(printf, 2, 0)))
http_log(void *cls, const char *fmt, va_list ap)
{
	struct http_server *srv = cls;
	size_t n;

	vsnprintf(srv->last_log, sizeof(srv->last_log), fmt, ap);
	n = strlen(srv->last_log);
	while (n > 0 && (srv->last_log[n - 1] == '\n' || srv->last_log[n - 1] == '\r'))
		srv->last_log[--n] = '\0';
}

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

/*
 * libmicrohttpd decodes the target in place, and a %00 becomes a NUL that ends the path early
 * (".../policies/default%00x" would read as ".../default"): look at the raw target before that.
 * The answer becomes the request's *con_cls.
 */
static void *
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

/* A socket address as a net_addr (zero family for other families or a short address). */
static void
http_addr_of(const struct sockaddr *sa, socklen_t len, struct net_addr *ret)
{
	memset(ret, 0, sizeof(*ret));
	if (sa == NULL)
		return;
	if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
		ret->family = NET_INET;
		memcpy(ret->bytes, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
		ret->family = NET_INET6;
		memcpy(ret->bytes, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, 16);
	}
}

/* libmicrohttpd's accept policy for the HTTPS daemon: the table's (per source, and the authenticated share). */
static enum MHD_Result
http_accept_policy(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
	struct http_server *srv = cls;
	struct net_addr peer;

	http_addr_of(addr, addrlen, &peer);
	return peer.family && http_conns_admit(&srv->conns, &peer) ? MHD_YES : MHD_NO;
}

/* Connections of the HTTPS daemon come and go (libmicrohttpd tells only of admitted ones): keep their slots. */
static void
http_notify_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
		       enum MHD_ConnectionNotificationCode toe)
{
	struct http_server *srv = cls;
	const union MHD_ConnectionInfo *ci;
	struct net_addr peer;

	if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
		http_conns_close(&srv->conns, *socket_context);
		*socket_context = NULL;
		return;
	}
	if (toe != MHD_CONNECTION_NOTIFY_STARTED)
		return;
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci == NULL || ci->client_addr == NULL)
		return;
	/* libmicrohttpd keeps a whole sockaddr of the peer's family */
	http_addr_of(ci->client_addr,
		     ci->client_addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in),
		     &peer);
	/* never NULL in practice: libmicrohttpd admits at most conn_max connections, and there are as many slots */
	*socket_context = http_conns_open(&srv->conns, &peer);
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
	req.impl = conn;
	http_peer(conn, l->is_unix, &req);

	srv->handler(srv->ctx, &req, &resp);
	if (resp.authenticated && !l->is_unix)
		http_conn_authenticated(srv, conn);

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
		hc->held = resp;
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

	for (hc = srv->held; hc; hc = next) {
		next = hc->next_held;
		hc->next_held = NULL;
		if (instead) {
			/* the other answer's status and body; the request's own headers (correlation ids) stay */
			free(hc->held.body);
			hc->held.status = instead->status;
			hc->held.content_type = instead->content_type;
			hc->held.body = NULL;
			hc->held.body_len = 0;
			if (instead->body && (hc->held.body = malloc(instead->body_len ? instead->body_len : 1))) {
				memcpy(hc->held.body, instead->body, instead->body_len);
				hc->held.body_len = instead->body_len;
			}
		}
		hc->released = true;
		MHD_resume_connection(hc->conn);
	}
	srv->held = NULL;
}

static enum MHD_Result
http_access(void *cls, struct MHD_Connection *conn, const char *url, const char *method, const char *version,
	    const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	struct http_listener *l = cls;
	struct http_server *srv = l->srv;
	struct http_conn *hc = *con_cls;
	const char *why;
	uint64_t clen;

	if (hc == NULL)
		return MHD_NO;	/* http_uri_seen had no memory for it */
	if (!hc->started) {
		hc->started = true;
		if (hc->bad_target) {
			hc->answered = true;
			return http_queue_error(conn, MHD_HTTP_BAD_REQUEST, "InvalidRequestTarget",
						"the path or query holds a control character (%00-%1F or %7F)");
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
		char *body = hc->held.body;

		hc->released = false;
		hc->held.body = NULL;
		return http_queue(conn, (unsigned)hc->held.status, body, hc->held.body_len, true,
				  hc->held.content_type ? hc->held.content_type : HTTP_CONTENT_TYPE_JSON, &hc->held);
	}
	if (hc->answered)
		return MHD_YES;
	hc->answered = true;
	if (hc->too_large)
		return http_queue_too_large(srv, conn);
	return http_dispatch(l, conn, url, method, hc);
}

static void
http_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	struct http_conn *hc = *con_cls;

	if (hc == NULL)
		return;
	free(hc->body);
	free(hc->held.body);
	free(hc);
	*con_cls = NULL;
}

/* Read a whole PEM file (at most HTTP_PEM_MAX bytes) into a NUL-terminated heap block. */
static int
http_read_pem(const char *path, char **ret, size_t *ret_len, struct core_error *err)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	int fd;
	int r;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		r = -errno;
		core_error_set(err, "HttpStartFailed", "", "cannot open %s: %s", path, strerror(-r));
		return r;
	}
	if (fstat(fd, &st) < 0) {
		r = -errno;
		core_error_set(err, "HttpStartFailed", "", "cannot stat %s: %s", path, strerror(-r));
		goto out;
	}
	if (!S_ISREG(st.st_mode) || st.st_size <= 0 || st.st_size > HTTP_PEM_MAX) {
		r = -EINVAL;
		core_error_set(err, "HttpStartFailed", "", "%s is not a PEM file of at most %d bytes", path,
			       HTTP_PEM_MAX);
		goto out;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL) {
		r = -ENOMEM;
		goto out;
	}
	while (len < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + len, (size_t)st.st_size - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			core_error_set(err, "HttpStartFailed", "", "cannot read %s: %s", path, strerror(-r));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	*ret = buf;
	*ret_len = len;
	buf = NULL;
	r = 0;
out:
	if (buf != NULL) {
		explicit_bzero(buf, (size_t)st.st_size + 1);
		free(buf);
	}
	close(fd);
	return r;
}

/* "IPv4:PORT", "[IPv6]:PORT", "*:PORT"; port 0 lets the kernel choose. */
static int
http_listen_parse(const char *s, struct sockaddr_storage *ret, socklen_t *ret_len, struct core_error *err)
{
	struct sockaddr_storage ss = { 0 };
	struct net_addr a = { 0 };
	const char *colon, *host, *port;
	size_t host_len, port_len, i;
	unsigned long p = 0;

	if (s == NULL)
		goto bad;
	colon = strrchr(s, ':');
	if (colon == NULL)
		goto bad;
	host = s;
	host_len = (size_t)(colon - s);
	port = colon + 1;
	port_len = strlen(port);
	if (port_len == 0 || port_len > 5)
		goto bad;
	for (i = 0; i < port_len; i++) {
		if (port[i] < '0' || port[i] > '9')
			goto bad;
		p = p * 10 + (unsigned long)(port[i] - '0');
	}
	if (p > 65535)
		goto bad;

	if (host_len >= 2 && host[0] == '[' && host[host_len - 1] == ']') {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		if (net_addr_parse(host + 1, host_len - 2, &a, NULL) < 0 || a.family != NET_INET6)
			goto bad;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)p);
		memcpy(&sin6->sin6_addr, a.bytes, 16);
		*ret_len = sizeof(*sin6);
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)p);
		if (!(host_len == 1 && host[0] == '*')) {
			if (net_addr_parse(host, host_len, &a, NULL) < 0 || a.family != NET_INET)
				goto bad;
			memcpy(&sin->sin_addr, a.bytes, 4);
		}
		*ret_len = sizeof(*sin);
	}
	*ret = ss;
	return 0;
bad:
	core_error_set(err, "InvalidListenAddress", "listen",
		       "the listen address must be IPv4:PORT, [IPv6]:PORT or *:PORT, with a port from 0 to 65535");
	return -EINVAL;
}

/* The unix socket for root on the host: a stale socket is replaced, anything else at the path is left alone. */
static int
http_unix_listen(const char *path, int *ret_fd, struct core_error *err)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	size_t len = strlen(path);
	struct stat st;
	int fd = -1;
	int r;

	if (len == 0 || len >= sizeof(sun.sun_path)) {
		core_error_set(err, "HttpStartFailed", "unix_path", "the unix socket path must be 1 to %zu bytes",
			       sizeof(sun.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	memcpy(sun.sun_path, path, len + 1);
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			core_error_set(err, "HttpStartFailed", "unix_path", "%s exists and is not a socket", path);
			return -EEXIST;
		}
		if (unlink(path) < 0) {
			r = -errno;
			core_error_set(err, "HttpStartFailed", "unix_path", "cannot remove the stale socket %s: %s",
				       path, strerror(-r));
			return r;
		}
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		r = -errno;
		core_error_set(err, "HttpStartFailed", "unix_path", "cannot make a unix socket: %s", strerror(-r));
		return r;
	}
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		r = -errno;
		core_error_set(err, "HttpStartFailed", "unix_path", "cannot bind %s: %s", path, strerror(-r));
		goto fail;
	}
	/* Before listen() nobody can connect, so the mode is right before anyone could use it. */
	if (chmod(path, 0600) < 0) {
		r = -errno;
		core_error_set(err, "HttpStartFailed", "unix_path", "cannot chmod %s: %s", path, strerror(-r));
		goto fail_unlink;
	}
	if (listen(fd, SOMAXCONN) < 0) {
		r = -errno;
		core_error_set(err, "HttpStartFailed", "unix_path", "cannot listen on %s: %s", path, strerror(-r));
		goto fail_unlink;
	}
	*ret_fd = fd;
	return 0;
fail_unlink:
	unlink(path);
fail:
	close(fd);
	return r;
}

/* An errno for a daemon that would not start: the bind errors a person can act on, else EIO. */
static int
http_start_errno(int e)
{
	switch (e) {
	case EADDRINUSE:
	case EADDRNOTAVAIL:
	case EACCES:
	case ENOMEM:
	case EMFILE:
	case ENFILE:
		return -e;
	default:
		return -EIO;
	}
}

static int
http_epoll_add(int epfd, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

int
http_server_start(const struct http_config *cfg, struct http_server **ret, struct core_error *err)
{
	struct http_server *srv = NULL;
	struct sockaddr_storage sa;
	socklen_t sa_len = 0;
	/* Zero in cfg means the limit from http-limits.h (body_max: core/limits.h). */
	unsigned int conn_timeout_s = cfg && cfg->conn_timeout_s ? cfg->conn_timeout_s : API_CONN_TIMEOUT_S;
	unsigned int conn_max = cfg && cfg->conn_max ? cfg->conn_max : API_CONN_MAX;
	unsigned int unauth_timeout_s = conn_timeout_s < API_CONN_UNAUTH_TIMEOUT_S ? conn_timeout_s
										 : API_CONN_UNAUTH_TIMEOUT_S;
	size_t header_memory = cfg && cfg->header_memory ? cfg->header_memory : API_HEADER_MEMORY;
	const union MHD_DaemonInfo *di;
	unsigned int flags = MHD_USE_TLS | MHD_USE_EPOLL | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME;
	size_t cert_len = 0;
	int unix_fd = -1;
	int r;

	if (cfg == NULL || cfg->handler == NULL || cfg->cert_path == NULL || cfg->key_path == NULL)
		return core_error_set(err, "HttpStartFailed", "", "the HTTP server needs a handler, a certificate and a key");
	if (!MHD_is_feature_supported(MHD_FEATURE_TLS) || !MHD_is_feature_supported(MHD_FEATURE_EPOLL)) {
		core_error_set(err, "HttpStartFailed", "", "this libmicrohttpd lacks TLS or epoll support");
		return -EOPNOTSUPP;
	}
	r = http_listen_parse(cfg->listen, &sa, &sa_len, err);
	if (r < 0)
		return r;

	srv = calloc(1, sizeof(*srv));
	if (srv == NULL)
		return -ENOMEM;
	srv->epoll_fd = -1;
	srv->handler = cfg->handler;
	srv->ctx = cfg->ctx;
	srv->body_max = cfg->body_max ? cfg->body_max : API_BODY_MAX;
	srv->conn_timeout_s = conn_timeout_s;
	if (http_conns_init(&srv->conns, conn_max) < 0) {
		free(srv);
		return -ENOMEM;
	}
	srv->tls_l = (struct http_listener){ srv, false };
	srv->unix_l = (struct http_listener){ srv, true };

	r = http_read_pem(cfg->cert_path, &srv->cert_pem, &cert_len, err);
	if (r < 0)
		goto fail;
	r = http_read_pem(cfg->key_path, &srv->key_pem, &srv->key_pem_len, err);
	if (r < 0)
		goto fail;

	if (sa.ss_family == AF_INET6) {
		static const struct in6_addr any6 = IN6ADDR_ANY_INIT;

		flags |= MHD_USE_IPv6;
		/* "[::]" means every address, IPv4 ones too (their peers are unmapped in http_peer). */
		if (memcmp(&((struct sockaddr_in6 *)&sa)->sin6_addr, &any6, sizeof(any6)) == 0)
			flags |= MHD_USE_DUAL_STACK;
	}
	errno = 0;
	/* every connection starts unauthenticated, on the short timeout; per-source caps are ours (IPv6 by /64) */
	srv->tls_d = MHD_start_daemon(flags, 0, http_accept_policy, srv, http_access, &srv->tls_l,
				      MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
				      MHD_OPTION_HTTPS_MEM_CERT, srv->cert_pem,
				      MHD_OPTION_HTTPS_MEM_KEY, srv->key_pem,
				      MHD_OPTION_HTTPS_PRIORITIES, HTTP_TLS_PRIORITIES,
				      MHD_OPTION_CONNECTION_TIMEOUT, unauth_timeout_s,
				      MHD_OPTION_CONNECTION_LIMIT, conn_max,
				      MHD_OPTION_CONNECTION_MEMORY_LIMIT, header_memory,
				      MHD_OPTION_NOTIFY_COMPLETED, http_completed, &srv->tls_l,
				      MHD_OPTION_NOTIFY_CONNECTION, http_notify_connection, srv,
				      MHD_OPTION_URI_LOG_CALLBACK, http_uri_seen, srv,
				      MHD_OPTION_EXTERNAL_LOGGER, http_log, srv,
				      MHD_OPTION_STRICT_FOR_CLIENT, (int)HTTP_CLIENT_STRICT,
				      MHD_OPTION_END);
	if (srv->tls_d == NULL) {
		r = http_start_errno(errno);
		core_error_set(err, "HttpStartFailed", "listen", "cannot serve HTTPS on %s: %s", cfg->listen,
			       srv->last_log[0] ? srv->last_log : strerror(-r));
		goto fail;
	}
	di = MHD_get_daemon_info(srv->tls_d, MHD_DAEMON_INFO_BIND_PORT);
	srv->port = di ? di->port : 0;

	if (cfg->unix_path != NULL) {
		int tls_ep, unix_ep;

		srv->unix_path = strdup(cfg->unix_path);
		if (srv->unix_path == NULL) {
			r = -ENOMEM;
			goto fail;
		}
		r = http_unix_listen(cfg->unix_path, &unix_fd, err);
		if (r < 0) {
			free(srv->unix_path);
			srv->unix_path = NULL;
			goto fail;
		}
		srv->last_log[0] = '\0';
		errno = 0;
		/* From here the socket is libmicrohttpd's: it closes it at stop, and also when the start fails. */
		srv->unix_d = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME, 0, NULL, NULL,
					       http_access, &srv->unix_l,
					       MHD_OPTION_LISTEN_SOCKET, unix_fd,
					       MHD_OPTION_CONNECTION_TIMEOUT, conn_timeout_s,
					       MHD_OPTION_CONNECTION_LIMIT, conn_max,
					       MHD_OPTION_CONNECTION_MEMORY_LIMIT, header_memory,
					       MHD_OPTION_NOTIFY_COMPLETED, http_completed, &srv->unix_l,
					       MHD_OPTION_URI_LOG_CALLBACK, http_uri_seen, srv,
					       MHD_OPTION_EXTERNAL_LOGGER, http_log, srv,
					       MHD_OPTION_STRICT_FOR_CLIENT, (int)HTTP_CLIENT_STRICT,
					       MHD_OPTION_END);
		if (srv->unix_d == NULL) {
			r = http_start_errno(errno);
			core_error_set(err, "HttpStartFailed", "unix_path", "cannot serve HTTP on %s: %s",
				       cfg->unix_path, srv->last_log[0] ? srv->last_log : strerror(-r));
			goto fail;
		}

		di = MHD_get_daemon_info(srv->tls_d, MHD_DAEMON_INFO_EPOLL_FD);
		tls_ep = di ? di->epoll_fd : -1;
		di = MHD_get_daemon_info(srv->unix_d, MHD_DAEMON_INFO_EPOLL_FD);
		unix_ep = di ? di->epoll_fd : -1;
		srv->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
		if (srv->epoll_fd < 0) {
			r = -errno;
			core_error_set(err, "HttpStartFailed", "", "cannot make an epoll fd: %s", strerror(-r));
			goto fail;
		}
		r = http_epoll_add(srv->epoll_fd, tls_ep);
		if (r == 0)
			r = http_epoll_add(srv->epoll_fd, unix_ep);
		if (r < 0) {
			core_error_set(err, "HttpStartFailed", "", "cannot watch the daemons' epoll fds: %s",
				       strerror(-r));
			goto fail;
		}
	}
	srv->last_log[0] = '\0';
	*ret = srv;
	return 0;
fail:
	http_server_stop(srv);
	return r;
}

int
http_server_port(struct http_server *srv)
{
	return srv->port;
}

int
http_server_poll_fd(struct http_server *srv)
{
	const union MHD_DaemonInfo *di;

	if (srv->epoll_fd >= 0)
		return srv->epoll_fd;
	di = MHD_get_daemon_info(srv->tls_d, MHD_DAEMON_INFO_EPOLL_FD);
	return di ? di->epoll_fd : -EBADF;
}

int
http_server_timeout_ms(struct http_server *srv)
{
	struct MHD_Daemon *ds[2] = { srv->tls_d, srv->unix_d };
	MHD_UNSIGNED_LONG_LONG t, best = 0;
	bool any = false;
	size_t i;

	for (i = 0; i < 2; i++) {
		if (ds[i] == NULL || MHD_get_timeout(ds[i], &t) != MHD_YES)
			continue;
		if (!any || t < best)
			best = t;
		any = true;
	}
	if (!any)
		return -1;
	return best > INT_MAX ? INT_MAX : (int)best;
}

int
http_server_run(struct http_server *srv)
{
	int r = 0;

	if (MHD_run(srv->tls_d) != MHD_YES)
		r = -EIO;
	if (srv->unix_d != NULL && MHD_run(srv->unix_d) != MHD_YES)
		r = -EIO;
	return r;
}

void
http_server_stop(struct http_server *srv)
{
	if (srv == NULL)
		return;
	if (srv->held) {
		/* libmicrohttpd must not stop with suspended connections: answer them 503 and let them go */
		struct http_response gone = { .status = 503 };

		http_server_release(srv, &gone);
		http_server_run(srv);
	}
	if (srv->unix_d != NULL)
		MHD_stop_daemon(srv->unix_d);
	if (srv->tls_d != NULL)
		MHD_stop_daemon(srv->tls_d);
	if (srv->epoll_fd >= 0)
		close(srv->epoll_fd);
	if (srv->unix_path != NULL) {
		unlink(srv->unix_path);
		free(srv->unix_path);
	}
	http_conns_free(&srv->conns);
	free(srv->cert_pem);
	if (srv->key_pem != NULL) {
		explicit_bzero(srv->key_pem, srv->key_pem_len);
		free(srv->key_pem);
	}
	free(srv);
}

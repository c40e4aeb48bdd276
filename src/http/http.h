/* The HTTPS server under the API: libmicrohttpd with GnuTLS, single-threaded, driven by the daemon's poll loop. */
#ifndef JITGATE_HTTP_H
#define JITGATE_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/error.h"
#include "core/net.h"

/*
 * Only src/http/http-server.c, http-request.c and http-park.c include <microhttpd.h>. The server accepts TLS on one
 * TCP address (and, optionally, plain HTTP on a unix socket for root on the
 * host). It reads each request's body completely (up to body_max; beyond it
 * answers 413 with a JSON error body itself and never calls the handler), then
 * calls the handler once, synchronously, and sends what the handler filled in
 * (a parked request's handler is called again when it wakes: http_response.park).
 * A TCP connection that has not authenticated (no request on it yet whose
 * answer says so, http_response.authenticated) is closed after
 * API_CONN_UNAUTH_TIMEOUT_S idle (the TLS handshake included), one that has
 * after conn_timeout_s. A client that trickles bytes is not idle, so it is
 * bounded instead by API_CONN_PER_SOURCE_MAX connections per source (an IPv4
 * address or an IPv6 /64: one host usually owns a whole /64) and conn_max in
 * all, of which API_CONN_AUTH_RESERVED are kept for authenticated connections:
 * unauthenticated ones are refused at accept once they hold the rest. The
 * server is single-threaded but never blocks on one connection, so others are
 * still served. Header bytes per connection are capped by header_memory
 * (431/413-style refusal by the library).
 */

#define HTTP_HEADERS_OUT_MAX 8
#define HTTP_HEADER_VALUE_MAX 512	/* bytes of one response header's value, with its NUL */
#define HTTP_PEM_MAX (64 * 1024)	/* a certificate chain or key file read at start */
/*
 * A body without a declared length that outgrows body_max is read on and thrown
 * away up to HTTP_DISCARD_FACTOR * body_max bytes, so the client can still read
 * the 413; beyond that the connection is closed.
 */
#define HTTP_DISCARD_FACTOR 2

struct http_request {
	const char *method;		/* "GET", "PUT", ... */
	const char *path;		/* percent-decoded path, no query string */
	const char *body;		/* NUL-terminated for convenience; body_len excludes the NUL */
	size_t body_len;
	struct net_addr peer;		/* TCP peer address (zero family for the unix socket) */
	bool via_unix;			/* came over the unix socket */
	uid_t peer_uid;			/* unix socket: SO_PEERCRED uid; else (uid_t)-1 */
	bool unparked;			/* called again after a park (woken, or its deadline passed)... */
	uint64_t park_key;		/* ...which had this key */
	bool park_expired;		/* called again because its park_until_ms passed: answer now */
	void *impl;			/* http-server.c's */
};

/*
 * Does a raw request target (n bytes, before percent-decoding) hold a control character, raw
 * or %-encoded (%00-%1F, %7F)? Such a request is a 400 "InvalidRequestTarget" before any handler:
 * a decoded NUL would cut the path short.
 */
bool http_target_has_control(const char *target, size_t n);
/*
 * Is a Content-Type value JSON: "application/json" in any case, parameters (charset=utf-8) allowed?
 * NULL is not.
 */
bool http_media_type_is_json(const char *value);

/* A request header by name (case-insensitive), or NULL. */
const char *http_request_header(const struct http_request *req, const char *name);
/*
 * Every line of a header (case-insensitive name), in the order received, joined
 * with ", " into buf (NUL-terminated) as RFC 9110 5.3 reads repeated lines:
 * the length, -ENOENT when there is none, -E2BIG when it does not fit.
 */
int http_request_header_join(const struct http_request *req, const char *name, char *buf, size_t size);
/* A query argument by name (decoded; case-sensitive as ARM's "api-version"), or NULL. */
const char *http_request_query(const struct http_request *req, const char *name);
/* Iterate query arguments: calls fn for each; stops when fn returns non-zero. */
void http_request_query_each(const struct http_request *req, int (*fn)(void *ctx, const char *key, const char *value),
			     void *ctx);

struct http_response {
	int status;
	char *body;			/* malloc'd, owned by the response; NULL for none */
	size_t body_len;
	const char *content_type;	/* static string; default "application/json; charset=utf-8" */
	size_t n_headers;
	struct {
		char name[64];
		char value[HTTP_HEADER_VALUE_MAX];
	} headers[HTTP_HEADERS_OUT_MAX];
	/*
	 * Hold the answer: the connection waits (suspended) until the next
	 * http_server_release(), because what the handler did is not durable yet
	 * (initiate's group commit, see api_batch_end).
	 */
	bool hold;
	/* with hold: where to tell the held copy's address, for the handler's caller to fill it in before it is released */
	struct http_response **held_at;
	/*
	 * The body carries a secret (a new token, a session's CSRF token): it is
	 * never compressed, so that its length tells nothing about the secret
	 * next to text a third party chose (BREACH).
	 */
	bool secret;
	/*
	 * The caller authenticated: its connection may idle for conn_timeout_s and
	 * leaves the unauthenticated share of the table (see the top of this file).
	 */
	bool authenticated;
	/*
	 * Park the request (a long poll): nothing is sent; the connection waits
	 * (suspended) and the handler is called AGAIN with the same request when
	 * http_server_wake() names park_key, or once park_until_ms (CLOCK_MONOTONIC,
	 * time_mono_ms) passes, then with req->park_expired set: that call must answer
	 * (a park then is a 500). Everything else in the response is dropped. Beyond
	 * parked_max parked requests in all the server answers 503 "TooManyWatches"
	 * itself. Parking does not count as idling (the connection timeout restarts
	 * when it wakes); at stop a parked request gets a 503.
	 */
	bool park;
	uint64_t park_key;
	int64_t park_until_ms;
	/* The code of the error body the handler made ("" for none): the server's metrics count refusals by it. */
	char error_code[ERROR_CODE_MAX];
};

/* Add a response header; -E2BIG when full or too long. */
int http_response_header(struct http_response *resp, const char *name, const char *value);
/* A response header's value by name (case-insensitive), or NULL. */
const char *http_response_header_get(const struct http_response *resp, const char *name);

/*
 * Compression. A body of HTTP_GZIP_MIN bytes or more goes out gzip-compressed
 * (level HTTP_GZIP_LEVEL, fast) to a client whose Accept-Encoding takes gzip,
 * unless the handler already encoded it (the policy GET cache keeps its gzip
 * form, api-cache.c). Such a response says "Vary: Accept-Encoding" either way.
 */
#define HTTP_GZIP_MIN 1024
#define HTTP_GZIP_LEVEL 1

/*
 * Does an Accept-Encoding value (RFC 9110 12.5.3) take gzip? Yes for "gzip",
 * "x-gzip" or "*" with a q-value above 0; an explicit "gzip;q=0" refuses it
 * whatever "*" says. NULL (no header) or a value that does not parse: no.
 */
bool http_accepts_gzip(const char *accept_encoding);
/*
 * in[0..len) as one gzip member at level (1..9) in *ret (malloc'd). 0: done;
 * 1: not done because it would not be smaller; -ENOMEM, -EIO (zlib failed).
 */
int http_gzip(const void *in, size_t len, int level, char **ret, size_t *ret_len);
/*
 * Replace resp's body by its gzip form (http_gzip) and say so: "Content-Encoding:
 * gzip", and a strong ETag made weak (the bytes differ; the version they show
 * does not, and If-Match compares versions). 0 when compressed, 1 when left as
 * it was (not smaller, or no room for the headers), -ENOMEM, -EIO.
 */
int http_response_gzip(struct http_response *resp, int level);
/*
 * The same with a gzip form made already (api-cache.c keeps one): gz (malloc'd)
 * becomes resp's body, said as http_response_gzip says it. 0; or 1 when there is
 * no room for the headers, and then resp is unchanged and gz still the caller's.
 */
int http_response_take_gzip(struct http_response *resp, char *gz, size_t gz_len);
/*
 * What the server does to every answer it sends at once: a body of HTTP_GZIP_MIN
 * bytes or more (or one the handler encoded) gets "Vary: Accept-Encoding", and
 * goes gzip-compressed when accept_encoding (the request's header, or NULL) takes
 * it. A secret answer (resp->secret) is left as it is.
 */
void http_response_encode(struct http_response *resp, const char *accept_encoding);

typedef void (*http_handler_fn)(void *ctx, const struct http_request *req, struct http_response *resp);

struct http_config {
	const char *listen;		/* "127.0.0.1:8443", "[::1]:8443", "0.0.0.0:8443" */
	const char *cert_path;		/* PEM */
	const char *key_path;		/* PEM */
	const char *unix_path;		/* NULL: none; else a socket path (mode 0600) */
	/*
	 * Plain HTTP on `listen`, no TLS (cert_path and key_path unused): only for a page with no secret
	 * in it, on an address the operator chose (jitgated's metrics_listen).
	 */
	bool plain;
	/* Zero in any of these four means the value from http-limits.h (body_max: core/limits.h). */
	size_t body_max;
	unsigned conn_timeout_s;
	unsigned conn_max;
	size_t header_memory;
	size_t parked_max;		/* zero: HTTP_PARKED_MAX */
	http_handler_fn handler;
	void *ctx;
};

struct http_server;

/*
 * Start serving. Errors: "InvalidListenAddress" (target "listen") for a listen
 * string that does not parse; "HttpStartFailed" for files, sockets and the
 * library (target "listen" or "unix_path" when one of them is at fault).
 * "[::]:PORT" serves IPv4 too; "*:PORT" is 0.0.0.0. A port of 0 lets the kernel
 * pick one; http_server_port tells which. The server owns nothing of cfg but
 * handler and ctx, which must outlive it.
 */
int http_server_start(const struct http_config *cfg, struct http_server **ret, struct core_error *err);
/* The TCP port the HTTPS daemon listens on (useful after asking for port 0). */
int http_server_port(struct http_server *srv);
/* The fd to poll for readability (an epoll fd), and how long the caller may sleep (ms, -1: forever). */
int http_server_poll_fd(struct http_server *srv);
int http_server_timeout_ms(struct http_server *srv);
/* Do whatever work is ready: accept, read, call handlers, write. Never blocks. */
int http_server_run(struct http_server *srv);
/*
 * Send the answers held since the last call: as the handlers made them, or, with
 * `instead`, that answer in place of each (what they did was undone). The
 * connections wake in the next http_server_run(); their fd becomes readable.
 */
void http_server_release(struct http_server *srv, const struct http_response *instead);
/*
 * Call the handlers of the requests parked with this key again (in the next
 * http_server_run()). The number of requests woken.
 */
size_t http_server_wake(struct http_server *srv, uint64_t key);
/* How many requests are parked now. */
size_t http_server_parked(const struct http_server *srv);
/* Close every connection and listener, remove the unix socket, free srv. NULL-safe. */
void http_server_stop(struct http_server *srv);
/*
 * The running libmicrohttpd's version when it is not the one the pool's layout was measured against
 * (HTTP_POOL_MEASURED_MHD, http-limits.h), for the daemon to say; NULL when it is.
 */
const char *http_library_unmeasured(void);

#endif

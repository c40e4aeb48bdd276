/* Limits the HTTPS server keeps, named in one place (see also core/limits.h). */
#ifndef JITGATE_HTTP_LIMITS_H
#define JITGATE_HTTP_LIMITS_H

/*
 * libmicrohttpd's memory pool per connection (MHD_OPTION_CONNECTION_MEMORY_LIMIT). It holds the request's line and
 * headers (read into it, with a record per header line, query argument and cookie, and a copy of the Cookie header),
 * then the answer's status line and headers. A request body only passes through it: http-request.c copies the body
 * out as it arrives, up to API_BODY_MAX. libmicrohttpd 0.9.75 allocates the pool whole and zeroes all of it after each
 * request of a kept-alive connection, so every connection, each agent's parked watch too, keeps all of it resident:
 * with the TLS session (about 10 KB) it is most of what a connected agent costs the server (issue 13: at most 16 KB;
 * 32 KB made that 48 KB).
 */
#define API_HEADER_MEMORY	(5 * 1024)
/*
 * Of the pool, kept for the answer's status line and headers: the largest jitgated sends (a portal page's, with its
 * security headers and request ids; a sign-in's, with its Set-Cookie) is about 600 bytes. The rest,
 * HTTP_REQUEST_HEAD_MAX, is the most a request's line and headers may take, counted as libmicrohttpd keeps them
 * (http_head_size): jitgate's CLI and agent send under 1 KB, a browser about 2 KB with the portal's cookie, a
 * provider's sign-in callback up to about 3.5 KB (an authorization code of 1-1.5 KB). A larger request is answered
 * 431 by jitgated, before libmicrohttpd would find no room left for the answer and close the connection without one.
 */
#define HTTP_RESPONSE_HEAD_ROOM	1024
#define HTTP_REQUEST_HEAD_MAX	(API_HEADER_MEMORY - HTTP_RESPONSE_HEAD_ROOM)	/* 4 KB; beyond it, 431 */
/*
 * What libmicrohttpd keeps in the pool for each header line, query argument or cookie (its record, aligned):
 * measured against 0.9.75 (Debian 12's libmicrohttpd12 0.9.75-6). A copy of the library's internals, kept because
 * 0.9.75 offers no bound on a request's head other than the pool itself (no head-size option: the later
 * MHD_OPTION_CLIENT_DISCIPLINE_LVL sets strictness, not a size, and is not in 0.9.75's microhttpd.h;
 * MHD_OPTION_CONNECTION_MEMORY_INCREMENT only sizes the read buffer's growth; its own 431 comes only once the head
 * fills the pool, and a head just under that leaves no room for the answer, which it then never sends).
 * tests/unit/test-http.c test_pool_entries measures the library it runs against and fails, naming the version,
 * when the pool holds more than http_head_count counts or 4 bytes an entry less.
 */
#define HTTP_POOL_ENTRY_COST	64
#define HTTP_POOL_MEASURED_MHD	"0.9.75"	/* that version, as MHD_get_version() says it; jitgated says another at start */
#define API_CONN_TIMEOUT_S	30		/* an authenticated connection idle this long is closed */
#define API_CONN_UNAUTH_TIMEOUT_S	5	/* one that has not authenticated (TLS handshake, first request): sooner */
#define API_CONN_MAX		8192		/* concurrent connections (jitgated raises RLIMIT_NOFILE to fit) */
#define API_CONN_PER_SOURCE_MAX	128		/* of them from one source: an IPv4 address, or an IPv6 /64 */
/*
 * Parked requests (long polls: the agents' watches) in all; beyond it the server answers 503 TooManyWatches.
 * Each holds one connection, so API_CONN_PER_SOURCE_MAX bounds them per source too.
 */
#define HTTP_PARKED_MAX		4096
#define API_CONN_AUTH_RESERVED	1024		/* of API_CONN_MAX, kept for connections that have authenticated */

#endif

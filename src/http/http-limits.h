/* Limits the HTTPS server keeps, named in one place (see also core/limits.h). */
#ifndef JITGATE_HTTP_LIMITS_H
#define JITGATE_HTTP_LIMITS_H

#define API_HEADER_MEMORY	(32 * 1024)	/* per-connection memory for headers (libmicrohttpd) */
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

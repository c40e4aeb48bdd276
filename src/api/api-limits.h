/* Limits the HTTP API keeps, named in one place (see also core/limits.h and store/store.h). */
#ifndef JITGATE_API_LIMITS_H
#define JITGATE_API_LIMITS_H

#define API_BODY_MAX		(1024 * 1024)	/* request body: more is 413 */
#define API_JSON_DEPTH_MAX	32		/* nesting of arrays and objects in a request body */
#define API_STRING_MAX		4096		/* any one JSON string in a request body */
#define API_HEADER_MEMORY	(32 * 1024)	/* per-connection memory for headers (libmicrohttpd) */
#define API_CONN_TIMEOUT_S	30		/* an authenticated connection idle this long is closed */
#define API_CONN_UNAUTH_TIMEOUT_S	5	/* one that has not authenticated (TLS handshake, first request): sooner */
#define API_CONN_MAX		8192		/* concurrent connections (jitgated raises RLIMIT_NOFILE to fit) */
#define API_CONN_PER_SOURCE_MAX	128		/* of them from one source: an IPv4 address, or an IPv6 /64 */
#define API_CONN_AUTH_RESERVED	1024		/* of API_CONN_MAX, kept for connections that have authenticated */
#define API_INITIATE_VMS_MAX	POLICY_VMS_MAX	/* VMs in one initiate or revoke body */
#define API_INITIATE_PORTS_MAX	POLICY_PORTS_MAX	/* ports per VM in one initiate or revoke body */
#define API_POLICY_REQUESTS_MAX	200	/* newest ended requests a policy's GET shows (live ones: all); older ones are in the activity log */
#define API_PAGE_SIZE		100		/* list entries per page before nextLink */
#define API_POLICY_CACHE_MAX	8		/* decoded policies kept (api-cache.c) */
#define API_POLICY_CACHE_JSON_MAX	(256 * 1024)	/* larger stored policies are decoded every time */
#define API_RENDER_CACHE_MAX	8		/* rendered policy GETs kept, per (policy, role, scope) */
#define API_RENDER_CACHE_BODY_MAX	(1024 * 1024)	/* larger bodies are rendered every time */
#define API_RENDER_CACHE_TTL_NS	(1000LL * 1000 * 1000)	/* a rendered GET is reused for at most 1 s */
#define API_RENDER_CACHE_GZIP_LEVEL	6	/* its gzip form is made once, so worth a better ratio */
#define API_FORWARDED_FOR_MAX	1024	/* all X-Forwarded-For lines joined; longer is unusable (no "my IP") */
#define API_ADDRS_MAX		FW_VM_ADDRS_MAX	/* addresses of one VM in an inventory PUT */

#endif

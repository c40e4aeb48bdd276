/* Limits the HTTP API keeps, named in one place (see also core/limits.h, http/http-limits.h, codec/codec-limits.h
 * and store/store.h). */
#ifndef JITGATE_API_LIMITS_H
#define JITGATE_API_LIMITS_H

#define API_POLICY_REQUESTS_MAX	200	/* newest ended requests a policy's GET shows (live ones: all); older ones are in the activity log */
#define API_PAGE_SIZE		100		/* list entries per page before nextLink */
#define API_NEXT_LINK_MAX	8192		/* a nextLink with the request's query arguments; longer: 414 */
#define API_POLICY_CACHE_MAX	8		/* decoded policies kept (api-cache.c) */
#define API_POLICY_CACHE_JSON_MAX	(256 * 1024)	/* larger stored policies are decoded every time */
#define API_READ_CACHE_POLICIES	64		/* policies an initiate read, kept while unwritten (api-read-cache.c) */
#define API_READ_CACHE_POLICY_JSON_MAX	(64 * 1024)	/* larger stored policies are read every time */
#define API_READ_CACHE_VMS	256		/* VMs an initiate read, kept while unwritten */
#define API_RENDER_CACHE_MAX	8		/* rendered policy GETs kept, per (policy, role, scope) */
#define API_RENDER_CACHE_BODY_MAX	(1024 * 1024)	/* larger bodies are rendered every time */
#define API_RENDER_CACHE_TTL_NS	(1000LL * 1000 * 1000)	/* a rendered GET is reused for at most 1 s */
#define API_RENDER_CACHE_GZIP_LEVEL	6	/* its gzip form is made once, so worth a better ratio */
/*
 * Every 503 says when to try again (Retry-After, unless the answer set its own): the store refused for now
 * (busy, a standby after a failover, PostgreSQL unreachable: each call tries to connect again, at most
 * STORE_PG_CONNECT_TIMEOUT_S), or the server is not ready. A client that waits this long then retries.
 */
#define API_UNAVAILABLE_RETRY_S	"2"
#define API_FORWARDED_FOR_MAX	1024	/* all X-Forwarded-For lines joined; longer is unusable (no "my IP") */
#define API_AGENT_PREFIX	"jga_"		/* an agent credential's text starts so */
#define API_AGENT_WAIT_MIN_MS	1000		/* the shortest watch wait a configuration may set (agent_watch_wait) */
/* an agent VM counts as connected while a watch of its agent is parked, or its last contact is this recent */
#define API_AGENT_CONNECTED_NS	(75LL * 1000 * 1000 * 1000)
/*
 * A status POST writes the store only for what changed. Nothing changed: its last contact is kept in memory
 * (api_watch_contact) and written at most every API_AGENT_SEEN_WRITE_NS (well below API_AGENT_CONNECTED_NS, so
 * a restarted server still sees a periodic status's agent as connected). A newly applied revision (up to the
 * VM's) is always written (grants wait for it); any other change counts against the VM's budget of
 * API_AGENT_STATUS_CHANGES_MAX per API_AGENT_STATUS_WINDOW_S, past which it is answered 429.
 */
#define API_AGENT_SEEN_WRITE_NS	(30LL * 1000 * 1000 * 1000)
#define API_AGENT_STATUS_CHANGES_MAX	20
#define API_AGENT_STATUS_WINDOW_S	60
/*
 * Two agents sharing one credential (a copied state directory, a cloned VM image): each agent sends a random
 * instance id per start (?instance=, at most API_AGENT_INSTANCE_MAX characters). An id that comes back after
 * another took over, while it was heard from within API_AGENT_CONNECTED_NS, is a second live agent (a restart
 * only moves from one id to the next). Shown in the inventory for API_AGENT_SHARED_SHOW_NS after it was last
 * seen; an activity row and a log line at most every API_AGENT_SHARED_LOG_NS per VM.
 */
/* How long a port that needs approval waits for it (config approval_timeout), and the range a config may set. */
#define API_APPROVAL_TIMEOUT_MS		(60LL * 60 * 1000)		/* 1 hour */
#define API_APPROVAL_TIMEOUT_MIN_MS	1000LL				/* 1 s: tests */
#define API_APPROVAL_TIMEOUT_MAX_MS	(7LL * 24 * 60 * 60 * 1000)	/* 7 days */
#define API_APPROVALS_LIST_MAX		1000	/* waiting requests one GET …/Jitgate/approvals shows, oldest first */
#define API_AGENT_INSTANCE_MAX	64
#define API_AGENT_SHARED_SHOW_NS	(10LL * 60 * 1000 * 1000 * 1000)
#define API_AGENT_SHARED_LOG_NS	(60LL * 60 * 1000 * 1000 * 1000)

#endif

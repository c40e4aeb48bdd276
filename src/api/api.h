/* The Azure-compatible JIT API and jitgate's extensions: routing, authentication, authorisation, handlers. */
#ifndef JITGATE_API_H
#define JITGATE_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "api/api-oidc.h"
#include "core/error.h"
#include "core/net.h"
#include "core/rbac.h"
#include "http/http.h"
#include "store/store.h"

struct fw;
struct fw_state;

#define API_VERSION_CURRENT	"2020-01-01"
#define API_VERSION_PREVIEW	"2015-06-01-preview"
#define API_TRUSTED_PROXIES_MAX	16
#define API_CALLER_MAX		STORE_REQUESTOR_MAX
#define API_CALLER_ASSIGNMENTS_MAX	8	/* role + scope assignments of one person (map lines matching at sign-in) */
#define INITIATE_CLOCK_SLACK_MS	(60 * 1000)	/* an end time may exceed now + max by this much (client clocks) */
#define APPROVED_WINDOW_NS	(7LL * 24 * 3600 * 1000000000LL)	/* "approved requests in the last 7 days" */

/* Settings the API needs from the daemon's configuration. */
struct api_settings {
	char subscription[ARM_SUBSCRIPTION_MAX + 1];
	char location[ARM_LOCATION_MAX + 1];	/* for VMs registered without one */
	int64_t max_duration_ms;	/* cap on maxRequestAccessDuration */
	size_t n_trusted_proxies;
	struct net_prefix trusted_proxies[API_TRUSTED_PROXIES_MAX];	/* X-Forwarded-For is believed only from these */
	size_t n_custom_roles;
	struct rbac_role custom_roles[RBAC_CUSTOM_ROLES_MAX];
	int64_t agent_watch_wait_ms;	/* how long a watch is held (0: AGENT_WATCH_WAIT_MS); config agent_watch_wait */
	struct oidc_settings oidc;	/* [sso]: single sign-on (api-oidc.c); issuer "" when off */
	uint16_t dnat_port_min, dnat_port_max;	/* gateway DNAT's mapped ports are picked here; config dnat_ports */
	int64_t approval_timeout_ms;	/* how long a port waits for approval (0: API_APPROVAL_TIMEOUT_MS); config approval_timeout */
};

/* The API's world (api-internal.h): the daemon holds it only through the functions below. */
struct api;

/*
 * The daemon sets up the API through these; it sees no field of struct api (api-internal.h).
 * api_new() copies the settings (NULL when out of memory); api_free() (NULL-safe) frees what
 * the API made, not the store or fw, which stay the daemon's. api_set_fw(): the kernel
 * firewall, or NULL with the reason every VM is Unsupported. api_set_ready(): /healthz answers
 * 200. api_set_release(): who sends the answers held for a batch (struct api's release_held, api-internal.h).
 */
struct api *api_new(const struct api_settings *settings);
/* Before the sandbox: set up the HTTPS client single sign-on uses (a no-op when [sso] is off). */
int api_oidc_global_init(const struct api_settings *settings);
void api_free(struct api *api);
void api_set_store(struct api *api, struct store *st);
struct http_fetcher;
/* The loop's outbound HTTPS and the server whose parked sign-in steps it wakes (both outlive api; NULL: none). */
void api_set_fetcher(struct api *api, struct http_fetcher *fetcher, struct http_server *srv);
void api_set_fw(struct api *api, struct fw *fw, const char *reason);
void api_set_local_vm(struct api *api, int64_t id);
/*
 * PostgreSQL without --single-replica (api-agents-only.c): policies and initiates take agent VMs only (400
 * AgentRequired), local and gateway VMs show Unsupported, and the daemon keeps no kernel table (api_set_fw NULL);
 * api_agents_only_report() gives say() a line per such VM a policy holds, and returns how many.
 */
void api_set_agents_only(struct api *api, bool on);
int api_agents_only_report(struct api *api, void (*say)(const char *line));
/*
 * At start (api-dnat-fill.c): the store's rows of gateway DNAT's mapped ports that policies written before it kept
 * them lack, added in one write transaction (idempotent: a later start adds none). A port two policies map is
 * said through say(): the policy written first keeps it, the other gets none of its rows. Returns the rows added, or -errno.
 */
int api_dnat_backfill(struct api *api, void (*say)(const char *line));
struct webhook_hook;
/* The configured webhooks (kept by pointer: they outlive api), for GET …/Jitgate/webhooks. */
void api_set_webhooks(struct api *api, const struct webhook_hook *hooks, size_t n);
void api_set_ready(struct api *api, bool ready);
void api_set_release(struct api *api, void (*fn)(void *ctx, const struct http_response *instead, size_t n),
		     void *ctx);
/* What the daemon reads: whether api_clock_start() knew this boot's id; the earliest end among grants made since it last asked (0: none), cleared by asking. */
bool api_boot_is_known(const struct api *api);
int64_t api_end_hint_take(struct api *api);
/* Whether api_state_load() ran since api_state_loaded_clear() (a kernel change: the daemon refreshes its boot list). */
bool api_state_loaded(const struct api *api);
void api_state_loaded_clear(struct api *api);

/*
 * Initiate's group commit (see api-initiate.c): api_batch_commit() commits the
 * initiates answered since the last commit with one disk sync and has their
 * answers released; the API calls it before handling anything else. The daemon
 * calls api_batch_end() after each http_server_run(): the same, and the pass is over.
 */
int api_batch_commit(struct api *api);
void api_batch_end(struct api *api);
/*
 * Is the pass's batch waiting for the writers' lock another replica holds (api_batch_end did not
 * commit it)? Then the loop's next pass must come within API_BATCH_LOCK_RETRY_MS.
 */
bool api_batch_waiting(const struct api *api);
#define API_BATCH_LOCK_RETRY_MS	1	/* between two tries of a held writers' lock */
#define API_BATCH_LOCK_WAIT_MS	5	/* the longest a batch gathers before it queues for the lock */

/*
 * Closing access never waits on the disk (api-closing.c): closes the store refused are kept in the
 * close journal at `path` and left out of every reconcile until api_closing_flush() has recorded
 * them. api_closing_open() (before the first reconcile) returns how many the journal held;
 * api_closing_flush() how many it recorded now (0 when there was nothing to do or it is not time to
 * ask the store again yet), negative when the store still refuses.
 */
int api_closing_open(struct api *api, const char *path, struct core_error *err);
int api_closing_flush(struct api *api);
size_t api_closing_pending(const struct api *api);
void api_closing_free(struct api *api);

/*
 * The agents' watches (api-watch.c): after each pass the daemon calls api_watches_wake(), which reads the
 * VMs whose revision moved since it last looked (store_vms_changed) and wakes the watches parked on them
 * (http_server_wake, with the VM's id as key). Nothing to do when no watch is parked.
 */
void api_watches_wake(struct api *api, struct http_server *srv);
/* A line the API has for jitgated's log (two agents sharing a credential): 1 with it in buf, else 0. */
int api_alert_take(struct api *api, char *buf, size_t size);

/* Free what the API caches (at exit, or before pointing the API at another store). */
void api_caches_free(struct api *api);
/*
 * Sign-in sessions' chores, from the daemon's timers: sign-outs the store refused are recorded once it
 * takes them (how many, returned), and expired sessions are pruned in small batches.
 */
int api_sessions_tick(struct api *api);

/* Who is calling, after authentication. */
struct api_caller {
	char name[API_CALLER_MAX + 1];	/* "token:NAME", "user:PERSON" (single sign-on) or "root" (unix socket) */
	char subject[STORE_SUBJECT_MAX + 1];	/* single sign-on: the provider's sub; else "" */
	/* what it holds: one role at one scope, or for single sign-on one per matching map line */
	size_t n_assign;
	struct rbac_assignment assign[API_CALLER_ASSIGNMENTS_MAX];
	struct net_addr addr;		/* the caller's address as initiate's "my IP" sees it */
	char addr_text[NET_ADDR_TEXT_MAX];
	struct net_addr limit_addr;	/* whose failure budget: addr, or the peer when addr is unknown */
	char correlation_id[STORE_ID_MAX + 1];
};

/* The http_handler_fn the daemon hands to the HTTP server. */
void api_handle(void *ctx, const struct http_request *req, struct http_response *resp);
/*
 * The http_handler_fn of metrics_listen's plain-HTTP server (api-metrics.c): GET /metrics without
 * authentication (the page holds counts only, never a name or an address), 404 to any other path.
 */
void api_metrics_handle_plain(void *ctx, const struct http_request *req, struct http_response *resp);

/* Call fn with the firewall state the store implies now (what a reconcile applies); its return is ours. */
int api_state_with(struct api *api, int (*fn)(void *ctx, const struct fw_state *st), void *ctx, struct core_error *err);

/*
 * Bring the kernel in line with the store (all VMs, policies' ports, Initiated
 * grants that have not ended): the daemon calls it at start and periodically.
 */
int api_reconcile(struct api *api, struct core_error *err);
/* The same after the monitor saw someone else change the table: the activity log says who and what was restored. */
struct fw_tamper;
int api_reconcile_after(struct api *api, const struct fw_tamper *t, struct core_error *err);

/*
 * Mark every Initiated grant whose end has passed as Revoked/Expired, with an
 * activity entry each: its end time, or (made in this boot) its monotonic end,
 * whichever comes first. Returns how many; *ret_next_ns gets the next end still
 * ahead, as a wall-clock time (0 if none), so the daemon knows when to call again.
 */
int api_expire(struct api *api, int64_t now_ns, int64_t *ret_next_ns);

/*
 * Clocks (core/timeutil.h): time_now_ns() is the wall clock grants' end times are measured against;
 * time_mono_ns() is CLOCK_MONOTONIC, one clock for every process of a boot which, like the kernel's
 * element timers (jiffies), stops during suspend. A grant's monotonic end is on it.
 */

/*
 * At start, before the first expiry and reconcile: read this boot's id (API_BOOT_ID_PATH) into
 * the API (api_boot_is_known), and give every live grant of an earlier boot (or of none) a monotonic end in
 * this one: the time its wall-clock end has left now. Returns how many got one; negative if
 * the boot id cannot be read (the boot then unknown: only the wall clock counts) or the store
 * refused the write (the boot known).
 */
#define API_BOOT_ID_PATH	"/proc/sys/kernel/random/boot_id"
int api_clock_start(struct api *api);

/*
 * When g ends, read at (now_ns, mono_ns): the sooner of its wall-clock end and, if it was made
 * in this boot, its monotonic end (time_end_on_both_clocks). At or before now_ns: it has ended.
 */
int64_t api_grant_end_ns(const struct api *api, const struct store_grant *g, int64_t now_ns, int64_t mono_ns);

/*
 * Token helpers shared by the API and `jitgated token`: a new secret, and the hash stored for it.
 * A join token's secret is made the same way with its own prefix (api_secret_generate), and named
 * in lists and the log by a public id "jt-" + JOIN_ID_HEX hex digits (api_join_id_generate).
 * Each returns the text's length, -ENOSPC when buf is short, or -EIO.
 */
#define API_TOKEN_PREFIX	"jg_"
#define API_JOIN_TOKEN_PREFIX	"jgj_"
#define API_TOKEN_TEXT_MAX	64
int api_token_generate(char *buf, size_t size);
int api_secret_generate(const char *prefix, char *buf, size_t size);
int api_join_id_generate(char *buf, size_t size);
/*
 * Store join token t (every field but id filled) under a fresh id, written to t->id: a clash of
 * the random ids draws again, up to API_JOIN_ID_TRIES times. 0, or the store's (or -EIO's) errno.
 */
#define API_JOIN_ID_TRIES	4
int api_join_token_insert(struct store *st, struct store_join_token *t);
int api_token_hash(const char *token, size_t len, uint8_t hash[STORE_TOKEN_HASH_LEN]);

#endif

/* Shared by the API's files (the router api.c, one api-*.c per resource, and the helpers they share); not for the daemon. */
#ifndef JITGATE_API_INTERNAL_H
#define JITGATE_API_INTERNAL_H

#include "api/api-limits.h"
#include "api/api-metrics.h"
#include "api/api.h"
#include "core/policy.h"
#include "fw/fw.h"
#include "store/store-journal.h"

#define API_PATH_MAX	1024	/* longer paths are 414 */
#define API_TOKEN_BYTES	48	/* random characters after the prefix (6 bits each: 288 bits) */

/* sign-in sessions (api-session.c, api-session-store.c): kept in the store, shared by the replicas */
#define API_SESSIONS_MAX	4096	/* sessions at once, all replicas together; when full, see api-session.c */
#define API_SESSIONS_PER_TOKEN_MAX	8	/* of them made from one token or by one person; a further sign-in ends the oldest */
#define SESSION_SECRET_BYTES	32	/* cookie id: 256 random bits (the CSRF token is derived from it) */
#define SESSION_LIFETIME_S	(8 * 3600)	/* a portal session ends after a working day */
#define SESSION_COOKIE		"jg_session"
#define SSO_BEARER_PREFIX	"jgs_"	/* a CLI's single sign-on session, sent as a bearer */

/* A sign-in session as the store keeps it (store-sessions.h), and its CSRF token (see api-session.c). */
struct api_session {
	uint8_t id_hash[STORE_TOKEN_HASH_LEN];	/* SHA-256 of the cookie's id */
	uint8_t token_hash[STORE_TOKEN_HASH_LEN];	/* the token it was made from, checked on every use */
	char csrf[2 * SESSION_SECRET_BYTES + 1];	/* derived from the id: known only to who holds the id */
	int64_t created_ns;
	int64_t expires_ns;
	/*
	 * Single sign-on (api-oidc.c): token_hash is then the hash of the person's
	 * subject, and the roles and scopes are the ones the person's claims mapped
	 * to at sign-in, every matching map line (a role change takes effect at the
	 * next sign-in).
	 */
	bool sso;
	char person[API_CALLER_MAX + 1];	/* "user:" + the configured claim, e.g. user:alice@example.com */
	char subject[STORE_SUBJECT_MAX + 1];	/* the provider's sub */
	size_t n_assign;
	struct {
		char role[RBAC_ROLE_NAME_MAX + 1];	/* by name: looked up on each use, as a token's is */
		char scope[STORE_SCOPE_MAX + 1];
	} assign[API_CALLER_ASSIGNMENTS_MAX];
};

/*
 * The API's world. The daemon owns every pointer; the API uses them only from
 * the thread that runs the HTTP server (and the daemon's timers, same thread).
 */
struct api {
	struct api_settings settings;
	struct store *store;
	struct fw *fw;			/* NULL when the kernel cannot enforce: VMs are then Unsupported */
	char fw_reason[ERROR_MESSAGE_MAX];	/* why fw is NULL */
	bool agents_only;		/* PostgreSQL without --single-replica: agent VMs only (api-agents-only.c) */
	bool ready;			/* /healthz answers 200 */
	bool state_loaded;		/* api_state_load() ran (for a kernel change): the daemon refreshes its boot list */
	uint64_t request_seq;		/* for correlation ids */
	uint64_t log_failures;		/* activity entries the store refused */
	int64_t next_end_hint_ns;	/* earliest end among grants made since the daemon last looked; 0: none */
	struct {			/* api-session-store.c; in place, so that ending a session needs no memory */
		struct {		/* sign-outs the store has not recorded yet: refused here meanwhile */
			uint8_t id_hash[STORE_TOKEN_HASH_LEN];
			int64_t expires_ns;
		} ended[API_SESSIONS_MAX];
		size_t n_ended;
		int64_t retry_ns;	/* time_mono_ns() before which the store is not asked again */
		int64_t prune_ns;	/* time_mono_ns() of the next prune of expired sessions */
	} sessions;
	struct api_session opened;	/* the session the last sign-in opened (api_session_open), for its answer */
	int64_t local_vm_id;		/* this host's VM, as registered at start */
	const struct webhook_hook *webhooks;	/* the daemon's (api_set_webhooks); shown by api_webhooks_list */
	size_t n_webhooks;
	char boot_id[STORE_BOOT_ID_MAX + 1];	/* this boot (api_clock_start); empty: not known */
	struct api_cache *cache;	/* api-cache.c; freed by api_caches_free() */
	struct api_read_cache *read_cache;	/* api-read-cache.c; freed by api_read_cache_free() */
	struct api_closing *closing;	/* api-closing.c: closes the store has not recorded yet */
	struct {			/* initiate's group commit (api-initiate.c) */
		bool open;		/* a store transaction holds initiates not committed yet */
		size_t held;		/* answers held for it (http_response.hold) */
		int failed_status;	/* non-zero: a commit failed in this pass, with this status... */
		struct core_error failed;	/* ...and this error */
		struct initiate_pending *pending;	/* read and checked, their writes not made yet */
		struct initiate_pending **pending_tail;
		int64_t lock_wait_since;	/* time_mono_ns() of the first try that found the writers' lock held; 0: none */
	} batch;
	/*
	 * The daemon's: send the `n` answers held for a batch that just ended, as they
	 * are (instead NULL: it committed), or `instead` in place of each (it failed and
	 * nothing of it was kept).
	 */
	void (*release_held)(void *ctx, const struct http_response *instead, size_t n);
	void *release_ctx;
	struct api_watches *watches;	/* api-watch.c: parked watches and last contacts per agent VM */
	struct api_metrics metrics;	/* api-metrics.c: what /metrics shows */
	struct api_oidc *oidc;		/* api-oidc.c: single sign-on's provider state; freed by api_oidc_free() */
	struct http_fetcher *fetcher;	/* the loop's outbound HTTPS (api_set_fetcher): single sign-on asks the provider */
	struct http_server *srv;	/* ...and wakes the parked sign-in step when it answered */
	int64_t watch_seen;		/* the fleet revision api_watches_wake() has seen */
};

/* Which part of the subscription a list covers. */
struct api_list_scope {
	const char *resource_group;	/* NULL: all */
	const char *location;		/* NULL: all */
};

/* api-common.c: shared by every file. Fill resp with an Azure error body. */
void api_error(struct http_response *resp, int status, const char *code, const char *target, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
void api_error_record(struct http_response *resp, int status, const struct core_error *err);
/* Serialise `body` (reference stolen) into resp with this status. */
void api_json(struct http_response *resp, int status, json_t *body);

/*
 * A failed authentication by c (`what` says why, for the log), after resp was
 * filled with its 401. `counts`: a token was offered, so it uses the address's
 * failure budget (api-ratelimit.h); past the budget resp becomes a 429 with
 * Retry-After and true is returned. Activity rows are bounded per address.
 */
bool api_auth_failed(struct api *api, const struct api_caller *c, const char *operation, const char *path, bool counts,
		     const char *what, struct http_response *resp);

/* The last element of an X-Forwarded-For list (api.c; exported for its tests): 0 or -EINVAL. */
int api_forwarded_for_last(const char *list, size_t len, struct net_addr *ret);
/* api-auth.c: the caller's address into c (the peer, or a trusted proxy's X-Forwarded-For) */
void api_caller_address(const struct api *api, const struct http_request *req, struct api_caller *c);
/* api-auth.c: 0 and a filled caller, or a 401/403 (503: the store cannot say) in resp */
int api_authenticate(struct api *api, const struct http_request *req, struct api_caller *c, struct http_response *resp);

/* A built-in or configured role by name (case-insensitive), or NULL. */
const struct rbac_role *api_role_lookup(const struct api *api, const char *name);

/*
 * What the caller holds, for messages: "role 'R' at scope 'S'", one per assignment joined by " and "
 * (API_CALLER_TEXT_MAX bytes hold any).
 */
#define API_CALLER_TEXT_MAX	(API_CALLER_ASSIGNMENTS_MAX * (RBAC_ROLE_NAME_MAX + STORE_SCOPE_MAX + 32))
void api_caller_text(const struct api_caller *c, char *buf, size_t size);
/* What the caller holds as a JSON array [{"role", "scope"}, ...] (whoami, the portal's session). */
json_t *api_caller_assignments(const struct api_caller *c);

/* May the caller do `action` on `resource_id` (by any one of its assignments)? */
bool api_allowed(const struct api *api, const struct api_caller *caller, const char *action, const char *resource_id);
/* If not, fill a 403 naming the missing action, log it, and return false. */
bool api_require(struct api *api, const struct api_caller *caller, const char *action, const char *resource_id,
		 struct http_response *resp);

/* Append to the activity log; a refusal by the store is counted, never turned into an error for the caller. */
void api_log(struct api *api, const struct api_caller *caller, const char *operation, const char *resource_id,
	     const char *status, const char *justification, const char *fmt, ...) __attribute__((format(printf, 7, 8)));

/* HTTP status for a negative errno from the store: 503 for a disk that refuses writes, else 500. */
int api_store_status(int r);
/*
 * A store call failed with r: fill err with StoreError "<what>: <the store's last error>", what
 * formatted from fmt, and return api_store_status(r). api_store_error answers the same record.
 * api_store_refused fills err the same and returns r, for a step that leaves the status to its caller.
 */
int api_store_fail(struct api *api, int r, struct core_error *err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
int api_store_refused(struct api *api, int r, struct core_error *err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void api_store_error(struct api *api, struct http_response *resp, int r, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/*
 * Where a write stopped, as its steps record it (0/-errno plus a core_error): the handler's
 * edge turns it into the answer's status with api_fault_status(fault, r), the one place a
 * handler built from steps chooses one.
 */
enum api_fault {
	API_FAULT_REQUEST,		/* 400: the body, or what it names */
	API_FAULT_FORBIDDEN,		/* 403: the caller may not (an approver's role or scope, their own request) */
	API_FAULT_NOT_FOUND,		/* 404 */
	API_FAULT_CONFLICT,		/* 409: what is stored does not allow it */
	API_FAULT_PRECONDITION,		/* 412: If-Match / If-None-Match */
	API_FAULT_INTERNAL,		/* 500: out of memory, the kernel, a stored policy that does not decode */
	API_FAULT_UNAVAILABLE,		/* 503: this host cannot enforce */
	API_FAULT_STORE,		/* the store refused with r: api_store_status(r) */
};
int api_fault_status(enum api_fault fault, int r);
/*
 * The kernel state the store implies now: every VM, every policy's ports, every
 * Initiated grant not yet ended. Arrays owned by *st, freed with api_state_free.
 * api_state_load = api_state_read (the store's rows: its errors are the store's, StoreError)
 * then api_state_build (the kernel's form: out of memory, a stored policy that does not decode);
 * each frees *st when it fails.
 */
struct api_state {
	struct fw_state fw;
	struct store_vm *vms;
	size_t n_vms;
	struct store_policy *pols;	/* read, until built */
	size_t n_pols;
	struct fw_vm *fw_vms;
	struct fw_port *ports;
	struct fw_grant *grants;
	size_t n_grants;
};
int api_state_load(struct api *api, struct api_state *st, struct core_error *err);
int api_state_read(struct api *api, struct api_state *st, struct core_error *err);
int api_state_build(struct api *api, struct api_state *st, struct core_error *err);
void api_state_free(struct api_state *st);
/*
 * A VM's ARM id text by store id ("" when there is no such VM), remembering the
 * last one: a request's grants come VM by VM, so a 64-port request reads its VM once.
 */
struct api_vm_memo {
	int64_t id;			/* 0: nothing remembered yet */
	char text[ARM_ID_MAX + 1];
};
const char *api_vm_text(struct api *api, struct api_vm_memo *m, int64_t vm_id);
/* A store grant as the kernel sees it. */
void api_grant_to_fw(const struct store_grant *g, struct fw_grant *ret);
/*
 * An initiate's reads, kept between requests while the store's config generation stands (api-read-cache.c):
 * as api_policy_read and store_vm_get. api_read_cache_drop empties it (an initiate the store refused).
 */
int api_read_policy(struct api *api, const struct arm_policy_id *id, const char *text, struct store_policy *ret,
		    struct core_error *err);
int api_read_vm(struct api *api, const struct arm_vm_id *arm, struct store_vm *ret);
void api_read_cache_drop(struct api *api);
void api_read_cache_free(struct api *api);
/* The stored policy, decoded (from api-cache.c's copy when this version was decoded before). */
int api_policy_decode_stored(struct api *api, const struct store_policy *sp, struct policy **ret,
			     struct core_error *err);

/*
 * Gateway DNAT (api-dnat.c). api_dnat_plan, at a policy PUT: every publicIpAddress is a gateway VM's
 * and an address of this host; pinned mappedPorts are free on their address (other policies' mappings
 * are taken; `old`, the policy replaced, may be NULL); every other rule of such a VM gets one from the
 * dnat_ports range (the one it had in `old` when still free). Errors name the field. The mapping of a
 * policy VM's rule, and of the rule covering a grant's port (family 0 when none), for src/fw.
 */
int api_dnat_plan(struct api *api, struct policy *p, const struct policy *old, int64_t policy_id,
		  struct core_error *err);
/* The policy's mapped ports kept in the store (its key refuses one another policy holds: -EADDRINUSE, MappedPortInUse). */
int api_dnat_store(struct api *api, const struct policy *p, int64_t policy_id, struct core_error *err);
/* The policy's mapped ports as the store keeps them (a new array in *ret, the caller frees it): -ENOMEM. */
int api_dnat_ports_of(const struct policy *p, struct store_dnat_port **ret, size_t *ret_n);
void api_dnat_of_port(const struct policy_vm *pv, const struct policy_port *pp, struct net_addr *ret_addr,
		      uint16_t *ret_port);
void api_dnat_of_grant(const struct policy_vm *pv, enum net_proto proto, uint16_t port, struct net_addr *ret_addr,
		       uint16_t *ret_port);
/*
 * For a request's answer: its policy as it is now (NULL in *ret when gone), and the mapped port
 * (0: none) and public address of a grant's VM (its id as text) and port under it.
 */
int api_dnat_policy_of_request(struct api *api, const struct store_request *req, struct policy **ret);
uint16_t api_dnat_mapped_port(const struct policy *pol, const char *vm_text, enum net_proto proto, uint16_t port,
			      struct net_addr *ret_pub);
/*
 * The VM inventory's connection details of its mapped ports (each of `ports` with a "mappedPort"):
 * {"address": publicIpAddress, "port": mappedPort, "protocol", "vmPort": the VM's port}, appended to conn.
 */
void api_dnat_connections(const json_t *ports, json_t *conn);
/* Is a one of this host's addresses now (getifaddrs)? */
bool api_host_has_address(const struct net_addr *a);
/*
 * The VM id of the stored policy, found (O(log n)) without copying the policy: *ret points into the cache's copy,
 * valid until the next call into the cache, or when the cache cannot keep it into *owned, the decoded policy that
 * the caller frees (NULL otherwise); *ret NULL when the VM is not in it. 0, or the decode's error.
 */
int api_policy_stored_vm(struct api *api, const struct store_policy *sp, const struct arm_vm_id *id,
			 const struct policy_vm **ret, struct policy **owned, struct core_error *err);
/*
 * A rendered 200 response kept under `key` (api-cache.c): get fills resp (body copied, ETag
 * header) when there is one still valid; put keeps resp's body and `etag`.
 */
bool api_render_cache_get(struct api *api, const char *key, bool gzip, struct http_response *resp);
void api_render_cache_put(struct api *api, const char *key, const struct http_response *resp, const char *etag);

/* api-render.c. A request as the API returns it (Azure's JitNetworkAccessRequest plus "id"). */
json_t *api_request_encode(struct api *api, const struct store_request *req);
/* The same for a request just planned: pol its policy as checked, vm its VM's name as read for it (no store reads). */
json_t *api_request_encode_known(struct api *api, const struct store_request *req, const struct policy *pol,
				 const struct api_vm_memo *vm);
/*
 * The policy as GET returns it to caller `c`: stored JSON plus its requests of the last 7 days,
 * narrowed to the VMs in c's scope when c may read only some of them (c NULL: everything). NULL on failure.
 */
json_t *api_policy_render(struct api *api, const struct api_caller *c, const struct store_policy *sp);
/* Can the caller see this policy (read on it, or on one of its VMs)? */
bool api_policy_visible(struct api *api, const struct api_caller *c, const struct store_policy *sp);

/*
 * A close the store refused to record (api-closing.c): journal it (kind END with reason, or TRUNCATE
 * to at_ns), and leave it out of every reconcile until it is recorded. 1 if added, 0 if the grant was
 * closed as much already; *ret_durable becomes false when the journal could not hold it (then only
 * until a restart). The caller reconciles the kernel afterwards.
 */
int api_closing_add(struct api *api, const struct api_caller *c, const struct store_grant *g,
		    enum store_journal_kind kind, enum store_grant_reason reason, int64_t at_ns, bool *ret_durable);
/* api_closing_add of a revoke (END, UserRequested); with terminate, its record also records the termination. */
int api_closing_add_revoke(struct api *api, const struct api_caller *c, const struct store_grant *g, int64_t at_ns,
			   bool terminate, bool *ret_durable);
/* The pending close of this grant (an END rather than a TRUNCATE if both), or NULL. */
const struct store_journal_entry *api_closing_find(const struct api *api, const char *request_id, int64_t vm_id,
						   uint16_t port);

/*
 * api-grants.c: what initiate and revoke share. Each returns 0 or -errno and fills err; the handler
 * chooses the status. api_policy_read: -ENOENT (ResourceNotFound) or the store's errno (StoreError).
 * api_fw_check: -ENODEV when this host cannot enforce (api_fw_check_vms: and a VM needs it).
 * api_grants_live_on: the live grants on one VM port (of one requestor, or anyone's with NULL). api_grant_end: end one grant in the store, inside
 * the caller's transaction. api_termination_add: after api_grant_end, record that its sessions are to end
 * (for an agent VM's agent; nothing for another VM). api_drops_add: queue its removal from the kernel (-ENOMEM).
 */
struct api_drops {			/* grants one call closes, in the kernel's form, removed in one batch */
	struct fw_grant *v;
	size_t n, cap;
};
int api_policy_read(struct api *api, const struct arm_policy_id *id, const char *text, struct store_policy *ret,
		    struct core_error *err);
int api_fw_check(const struct api *api, struct core_error *err);
/* api_fw_check unless every VM of vm_ids[0..n) (0: none, skipped) is an agent VM, which needs no kernel here. */
int api_fw_check_vms(struct api *api, const int64_t *vm_ids, size_t n, struct core_error *err);
/*
 * api-agents-only.c: the 400 AgentRequired (-EINVAL) naming a local or gateway VM at `target`;
 * api_agents_only_check_vms: that refusal for the first such VM of vm_ids[0..n) (0: skipped), in agents-only mode;
 * each VM's row taken from rows[0..n_rows) (what the caller read), else read.
 */
#define API_AGENTS_ONLY_REASON	"with its store on PostgreSQL, jitgated enforces only through agents: run jitgate-agent on " \
				"this host and put its agent VM in the policy (doc/operator.md, \"One enforcer per host\")"
int api_agent_required(const char *target, const char *vmtext, enum store_point point, struct core_error *err);
int api_agents_only_check_vms(struct api *api, const int64_t *vm_ids, size_t n, const struct store_vm *rows, size_t n_rows,
			      struct core_error *err);
int api_grants_live_on(struct api *api, int64_t vm_id, uint16_t port, const char *requestor, struct store_grant **ret,
		       size_t *ret_n, struct core_error *err);
int api_grant_end(struct api *api, const struct store_grant *g, enum store_grant_reason reason, int64_t now,
		  struct core_error *err);
int api_termination_add(struct api *api, const struct store_grant *g, int64_t now, struct core_error *err);
int api_drops_add(struct api_drops *d, const struct store_grant *g, struct core_error *err);
/* A new request's id: a random (version 4) UUID in text. -EIO without randomness. */
int api_request_id_new(char *buf, size_t size);
/*
 * Keep in v[0..n) only the grants this host's kernel enforces: an agent VM's are its agent's
 * (they reach it through its watch), never in jitgated's table. The number kept, in order.
 */
size_t api_fw_local_only(struct api *api, struct fw_grant *v, size_t n);
/* The same, told the VMs already read for the request (n_known of them; others are read from the store). */
size_t api_fw_local_only_known(struct api *api, struct fw_grant *v, size_t n, const struct store_vm *known,
			       size_t n_known);

/*
 * The pure rules of initiate (api-initiate.c): the body against the policy, for a caller at
 * caller_addr (family 0: not known), at now_ns, under the deployment's cap max_duration_ms.
 * vm_ids[i] is body->vms[i]'s store id (0: the store has no such VM). grants must have room for
 * every port asked for; each planned grant gets vm_id, port, proto, source, end_ns and status.
 * 0 with *ret_n set, or -EINVAL with err naming the first rule broken, in the order a client sees them.
 */
struct api_initiate_in {
	const struct initiate_body *body;
	const struct policy *policy;
	const char *policy_text;	/* the policy's ARM id, for messages */
	const int64_t *vm_ids;
	struct net_addr caller_addr;
	int64_t now_ns;
	int64_t max_duration_ms;
};
int api_initiate_plan(const struct api_initiate_in *in, struct store_grant *grants, size_t *ret_n,
		      struct core_error *err);
/*
 * The pure rule of revoke (api-revoke.c): does a live grant g get closed by a revoke of policy_id at
 * now_ns, by requestor (NULL: anyone's), with ends[0..n_ends) already chosen?
 */
bool api_revoke_wants(const struct store_grant *g, int64_t policy_id, int64_t now_ns, const char *requestor,
		      const struct store_grant *ends, size_t n_ends);

/*
 * api-policies.c's rules, pure (exported for their tests). What a policy write does to the live grant g
 * on VM vm (NULL: not in the inventory) under the new policy p (NULL: a delete), `cap_ms` the deployment's
 * cap on durations: keep it, end it, or cut it short to *ret_end (now + its rule's maximum).
 */
enum api_grant_fate {
	API_GRANT_KEEP,
	API_GRANT_END,
	API_GRANT_CUT,
};
enum api_grant_fate api_policy_grant_fate(const struct policy *p, const struct store_vm *vm, const struct store_grant *g,
					  int64_t now, int64_t cap_ms, int64_t *ret_end);
/* May a PUT with If-Match `match` / If-None-Match `none` (NULL: not sent) write over sp (NULL: none stored)? */
bool api_policy_precondition_ok(const char *match, const char *none, const struct store_policy *sp);

/*
 * api-vms.c's rule for a VM PUT that needs neither store nor kernel (exported for its tests): vm as
 * decoded over old (NULL: a new VM). 0, or -EINVAL with err and *ret_fault (REQUEST or CONFLICT).
 */
int api_vm_put_check(const struct store_vm *vm, const struct store_vm *old, const char *text, enum api_fault *ret_fault,
		     struct core_error *err);

/*
 * api-tokens.c's rules, pure (exported for their tests). A token PUT's body {"role", "scope"?}, checked
 * against the roles and the subscription's scope `sub_scope`: 0 and *ret (scope "" for the whole
 * subscription), or -EINVAL and err (all 400s). A revoke's ?keepGrants (NULL: not sent): 0 and *ret, or -EINVAL.
 */
struct api_token_ask {
	const struct rbac_role *role;
	char scope[STORE_SCOPE_MAX + 1];
};
int api_token_ask_decode(const struct api *api, const char *body, size_t len, const char *sub_scope,
			 struct api_token_ask *ret, struct core_error *err);
int api_token_keep_decode(const char *q, bool *ret, struct core_error *err);

/*
 * api-activity.c's query, decoded by pure steps (exported for their tests). api_activity_vm_decode
 * (first: before the role check) takes ?vm, a full VM id or a bare name; api_activity_query_decode
 * the rest (`own_filters`: the store's filter is all there is, so it may stop at $top). 0, or -EINVAL
 * and err (400s).
 */
struct api_activity_params {
	const char *vm, *since, *until, *top, *format, *accept, *caller, *operation;	/* NULL: not sent */
};
struct api_activity_query {
	struct store_activity_filter f;
	char prefix[ARM_ID_MAX + 1];	/* f.resource_prefix when ?vm is a full id */
	size_t want;			/* rows to show */
	bool csv;
};
int api_activity_vm_decode(const char *vm, struct api_activity_query *q, struct core_error *err);
int api_activity_query_decode(const struct api_activity_params *p, bool own_filters, int64_t now,
			      struct api_activity_query *q, struct core_error *err);

/* Handlers, one file per resource. */
void api_policies_list(struct api *api, const struct api_caller *c, const struct http_request *req,
		       const struct api_list_scope *ls, struct http_response *resp);
void api_policy_get(struct api *api, const struct api_caller *c, const struct http_request *req,
		    const struct arm_policy_id *id, struct http_response *resp);
void api_policy_put(struct api *api, const struct api_caller *c, const struct http_request *req,
		    const struct arm_policy_id *id, struct http_response *resp);
void api_policy_delete(struct api *api, const struct api_caller *c, const struct http_request *req,
		       const struct arm_policy_id *id, struct http_response *resp);
void api_policy_initiate(struct api *api, const struct api_caller *c, const struct http_request *req,
			 const struct arm_policy_id *id, struct http_response *resp);
void api_policy_revoke(struct api *api, const struct api_caller *c, const struct http_request *req,
		       const struct arm_policy_id *id, struct http_response *resp);
void api_vms_list(struct api *api, const struct api_caller *c, const struct http_request *req,
		  const struct api_list_scope *ls, struct http_response *resp);

/*
 * Approvals and extend (api-approvals.c, api-approve.c, api-extend.c; doc/api.md). Each step has its own
 * activity operation (and status), for the log and for what reads it (webhooks):
 * asked (initiate, status Pending), approved (approve, Approved; the last one opens: Opened),
 * denied (deny, Denied), lapsed (ApprovalExpire, Expired), extended (extend, Extended).
 */
#define API_OP_APPROVE		"Microsoft.Security/locations/jitNetworkAccessPolicies/approve/action"
#define API_OP_DENY		"Microsoft.Security/locations/jitNetworkAccessPolicies/deny/action"
#define API_OP_EXTEND		"Microsoft.Security/locations/jitNetworkAccessPolicies/extend/action"
#define API_OP_APPROVAL_EXPIRE	"ApprovalExpire"
/* Is every approverRole of p a built-in or configured role? InvalidApproval naming the first that is not. */
int api_policy_roles_check(const struct api *api, const struct policy *p, struct core_error *err);
/* How long a port waits for approval, as configured. */
int64_t api_approval_timeout_ns(const struct api *api);
/* Does the caller hold an approver's role at an approver's scope for this rule's approval? */
bool api_approver_qualifies(const struct api *api, const struct api_caller *c, const struct policy_approval *a);
/*
 * Initiate's grants that wait for approval (status Pending in the plan) move out of grants[0..*n) into
 * *ret (heap, to free), each with its duration asked for and its lapse (now + the approval timeout).
 */
int api_approval_split(struct api *api, struct store_grant *grants, size_t *n, int64_t now_ns,
		       struct store_pending **ret, size_t *ret_n, struct core_error *err);
/* Write and log the waiting ports of request sr (inside initiate's transaction). */
int api_approval_ask(struct api *api, const struct api_caller *c, const struct store_request *sr,
		     const struct store_pending *pend, size_t n, struct core_error *err);
/* sr's grants and its waiting ports together (heap copy of the request in *ret, grants owned): initiate's answer. */
int api_approval_view(const struct store_request *sr, const struct store_pending *pend, size_t n,
		      struct store_request *ret);
/* Lapse the ports that waited too long; *ret_next_ns: the next lapse (0: none). Returns how many. */
int api_approval_expire(struct api *api, int64_t now_ns, int64_t *ret_next_ns);
void api_policy_approve(struct api *api, const struct api_caller *c, const struct http_request *req,
			const struct arm_policy_id *id, struct http_response *resp);
void api_policy_deny(struct api *api, const struct api_caller *c, const struct http_request *req,
		     const struct arm_policy_id *id, struct http_response *resp);
void api_policy_extend(struct api *api, const struct api_caller *c, const struct http_request *req,
		       const struct arm_policy_id *id, struct http_response *resp);
void api_approvals_list(struct api *api, const struct api_caller *c, const struct http_request *req,
			struct http_response *resp);
void api_vm_get(struct api *api, const struct api_caller *c, const struct http_request *req,
		const struct arm_vm_id *id, struct http_response *resp);
void api_vm_put(struct api *api, const struct api_caller *c, const struct http_request *req,
		const struct arm_vm_id *id, struct http_response *resp);
void api_vm_delete(struct api *api, const struct api_caller *c, const struct http_request *req,
		   const struct arm_vm_id *id, struct http_response *resp);
void api_activity_get(struct api *api, const struct api_caller *c, const struct http_request *req,
		      struct http_response *resp);

/* GET …/Jitgate/webhooks (api-webhooks.c) */
void api_webhooks_list(struct api *api, const struct api_caller *c, const struct http_request *req,
		       struct http_response *resp);
void api_tokens_list(struct api *api, const struct api_caller *c, const struct http_request *req,
		     struct http_response *resp);
void api_token_put(struct api *api, const struct api_caller *c, const struct http_request *req, const char *name,
		   struct http_response *resp);
void api_token_delete(struct api *api, const struct api_caller *c, const struct http_request *req, const char *name,
		      struct http_response *resp);

/*
 * Join tokens (api-joins.c). Who may manage them is who may manage API tokens (Jitgate/tokens/read
 * to list, Jitgate/tokens/write to create and revoke), at the scope of the token's resource group:
 * an Owner of the subscription for any group, an Owner of one resource group for that group only.
 * api_join_allowed is that rule, pure (exported for its tests); resource_group NULL asks about
 * the role alone.
 */
bool api_join_allowed(const struct api_caller *c, const char *action, const char *subscription,
		      const char *resource_group);
void api_join_tokens_list(struct api *api, const struct api_caller *c, const struct http_request *req,
			  struct http_response *resp);
void api_join_token_create(struct api *api, const struct api_caller *c, const struct http_request *req,
			   struct http_response *resp);
void api_join_token_delete(struct api *api, const struct api_caller *c, const struct http_request *req, const char *id,
			   struct http_response *resp);

/*
 * The agent protocol (api-agents.c, doc/agent-protocol.md): every path under /agent/v1, with its own
 * authentication (join tokens, agent credentials; never API tokens or sessions).
 */
#define API_AGENT_ROOT	"/agent/v1"
void api_agent_handle(struct api *api, struct api_caller *c, const struct http_request *req,
		      struct http_response *resp);
#define AGENT_OP_AUTH	"Jitgate/agents/authenticate"	/* activity rows of a refused agent or join credential */
/* What the inventory, the activity row and the log say of two agents sharing a credential (api_watch_instance). */
#define API_AGENT_SHARED_TEXT	"two agents use this VM's credential (a copied state directory or a cloned VM " \
				"image): revoke it (jitgate agent revoke VM) and join each host anew"
/*
 * The request's bearer secret, which must start with `prefix` (API_AGENT_PREFIX, API_JOIN_TOKEN_PREFIX):
 * 0 and its hash, or a 401 in resp (a failure counted against the caller's address when a secret was offered).
 */
int api_agent_bearer(struct api *api, const struct api_caller *c, const struct http_request *req, const char *prefix,
		     uint8_t hash[STORE_TOKEN_HASH_LEN], struct http_response *resp);
/* POST /agent/v1/join (api-agents-join.c) and the watch GET …/state (api-agent-state.c), for a caller already checked. */
void api_agent_join(struct api *api, struct api_caller *c, const struct http_request *req, struct http_response *resp);
/* An agent's listening ports as the store keeps them, whole entries that fit: "TCP/22 UDP/3389" (api-agents-join.c). */
struct agent_status;
void api_agent_listening_text(const struct agent_status *s, char *buf, size_t size);
void api_agent_state_get(struct api *api, const struct http_request *req, const struct store_vm *vm,
			 struct http_response *resp);
/*
 * api-watch.c. A watch of VM vm_id parks (api_watch_parked) and is called again (api_watch_unparked);
 * api_watch_contact notes that its agent was heard from. api_agent_render: the "agent" object of an
 * agent VM's view ({state, connected, disconnectedSince, version, appliedRevision, lastSeenTimeUtc, ...});
 * ret_reason gets why it is Unsupported (its kernel cannot, it never joined or was revoked), or "".
 */
int api_watch_parked(struct api *api, int64_t vm_id);
void api_watch_unparked(struct api *api, int64_t vm_id);
void api_watch_contact(struct api *api, int64_t vm_id);
/* One status change of VM vm_id to write: 0 within its budget, else the seconds until its window ends. */
int api_watch_status_change(struct api *api, int64_t vm_id);
/*
 * The agent of VM vm_id called with instance id `inst` (API_AGENT_INSTANCE_MAX at most): 1 when this shows two
 * live agents sharing its credential and it is time to say so (an activity row, api_watch_alert), else 0.
 */
int api_watch_instance(struct api *api, int64_t vm_id, const char *inst);
/* The agent VMs connected to this server now (a watch parked, or heard from lately), for /metrics. */
size_t api_watches_connected(const struct api *api, int64_t now_ns);
/* A line for jitgated's log (api_alert_take); a newer one replaces one not yet taken. */
void api_watch_alert(struct api *api, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Its agent was revoked: its parked watches are woken (and refused) at the next api_watches_wake. */
void api_watch_kick(struct api *api, int64_t vm_id);
/* Are HTTP_PARKED_MAX watches parked (the server would refuse one more: the API answers 503 itself)? */
bool api_watches_full(const struct api *api);
json_t *api_agent_render(struct api *api, const struct store_vm *vm, char *ret_reason, size_t size);
void api_watches_free(struct api *api);
/*
 * A live grant's end as its enforcer should hold it now (api-state.c): the sooner of its two clocks' ends
 * and of a truncation pending in the close journal; 0 when it is over or its close is pending.
 */
int64_t api_grant_live_end_ns(const struct api *api, const struct store_grant *g, int64_t now_ns, int64_t mono_ns);

/*
 * Agents as Owners manage them (api-agents-admin.c): GET …/providers/Jitgate/agents, and DELETE
 * …/resourceGroups/{rg}/providers/Jitgate/agents/{vm name} revokes that VM's agent credential.
 */
void api_agents_list(struct api *api, const struct api_caller *c, const struct http_request *req,
		     struct http_response *resp);
void api_agent_revoke(struct api *api, const struct api_caller *c, const struct http_request *req,
		      const struct arm_vm_id *id, struct http_response *resp);
/*
 * GET …[/resourceGroups/{rg}]/providers/Jitgate/exposedManagementPorts (api-exposed.c): the agent VMs in the
 * caller's read scope with a listening management port that no JIT rule covers.
 */
void api_exposed_list(struct api *api, const struct api_caller *c, const struct http_request *req,
		      const struct api_list_scope *ls, struct http_response *resp);

/*
 * The session named by the request's cookie, or by a CLI's bearer secret (SSO_BEARER_PREFIX + hex):
 * 0 and ret filled, -ENOENT (none, expired, ended), or the store's error (it cannot say: 503).
 */
int api_session_find(struct api *api, const struct http_request *req, struct api_session *ret);
int api_session_find_bearer(struct api *api, const char *secret, struct api_session *ret);
/* End every portal session made from the token with this hash (it was just revoked; api-token.c). */
void api_sessions_end_token(struct api *api, const uint8_t token_hash[STORE_TOKEN_HASH_LEN]);
/*
 * End the session with this id hash on every replica: 1 it was ended, 0 there was none, or the
 * store's error; it is refused here all the same, and recorded by api_sessions_tick (api-session-store.c).
 */
int api_session_end(struct api *api, const uint8_t id_hash[STORE_TOKEN_HASH_LEN], int64_t expires_ns);
/* The same for the session a cookie's or bearer's id (hex, without the prefix) names, known to the store or not. */
int api_session_end_id(struct api *api, const char *id, size_t len);
/* The store's row for s (api-session-store.c; api-session.c's conversions). */
int api_session_record(struct api *api, const struct api_session *s);
int api_session_lookup(struct api *api, const uint8_t id_hash[STORE_TOKEN_HASH_LEN], struct api_session *ret);
bool api_session_csrf_ok(const struct api_session *s, const struct http_request *req);
/*
 * Open a session from s (key in token_hash; sso, person, subject and assignments filled by the caller),
 * ending in lifetime_s, recorded in the store; cookie: its Set-Cookie goes in resp, else the id (a CLI's
 * bearer) goes in ret_id. 0, -EIO (no secret could be made) or the store's error.
 */
int api_session_open(struct api *api, struct api_session *s, int64_t lifetime_s, bool cookie, struct http_response *resp,
		     char ret_id[2 * SESSION_SECRET_BYTES + 1]);
/* Fill the caller from a single sign-on session: the person, and every role and scope mapped at sign-in. */
void api_caller_from_session(const struct api *api, const struct api_session *s, struct api_caller *c);
/* api-oidc.c: /oidc/... (single sign-on); and its memory. */
void api_oidc_handle(struct api *api, struct api_caller *c, const struct http_request *req, struct http_response *resp);
void api_oidc_free(struct api *api);
/* api-oidc-call.c: the sign-in steps waiting for the provider, their calls stopped (before api_oidc_free). */
void api_oidc_steps_free(struct api *api);
/* DELETE …/providers/Jitgate/ssoSessions/{person}: end every single sign-on session of the person (api-oidc-session.c). */
void api_oidc_sessions_end(struct api *api, const struct api_caller *c, const struct http_request *req, const char *name,
			   struct http_response *resp);
void api_session_create(struct api *api, struct api_caller *c, const struct http_request *req,
			struct http_response *resp);
void api_session_get(struct api *api, struct api_caller *c, const struct http_request *req,
		     struct http_response *resp);
void api_session_delete(struct api *api, struct api_caller *c, const struct http_request *req,
			struct http_response *resp);

/* The portal's files, built into the binary (web/, see scripts/embed-web.py). */
struct web_asset {
	const char *path;		/* "/index.html", "/app.js", ... */
	const char *content_type;
	const unsigned char *data;
	size_t len;
};
extern const struct web_asset web_assets[];
extern const size_t web_assets_count;

/*
 * A list response {"value":[...], "nextLink"?}: page `items` (stolen) by $skipToken (api-common.c).
 * A list whose items are costly to render (the VM inventory) asks api_list_window which of its total
 * items the page holds (a bad $skipToken: 400 in resp, -EINVAL) and renders only those for
 * api_list_respond_page (page stolen).
 */
void api_list_respond(const struct http_request *req, json_t *items, struct http_response *resp);
/*
 * The VMs a list at `ls` shows the caller: those of its resource group (when the list names one) inside
 * the caller's read scope, in store order, in *ret (freed by the caller). A VM outside the scope is not
 * there at all. 0, or the store's -errno.
 */
int api_vms_readable(struct api *api, const struct api_caller *c, const struct api_list_scope *ls,
		     struct store_vm **ret, size_t *ret_n);
int api_list_window(const struct http_request *req, size_t total, size_t *ret_from, size_t *ret_to,
		    struct http_response *resp);
void api_list_respond_page(const struct http_request *req, json_t *page, size_t from, size_t total,
			   struct http_response *resp);

#endif

/* The store: jitgated's durable truth (VMs, policies, requests and their grants, activity log, tokens). */
#ifndef JITGATE_STORE_H
#define JITGATE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/armid.h"
#include "core/error.h"
#include "core/limits.h"
#include "core/net.h"

/*
 * One SQLite database (WAL, synchronous=FULL, foreign keys on) in the state
 * directory or, opened by a postgresql:// URI, one PostgreSQL database shared by
 * every jitgated given it (doc/store-backends.md); schema changes are numbered
 * migrations applied at open, the same numbers on both. Only
 * store-*.c speaks SQL. Every function returns 0 (or a count) on success and a
 * negative errno on failure: -ENOENT (no such row), -EEXIST (a uniqueness rule),
 * -ENOSPC / -EROFS (the disk refuses writes), -EIO (anything else; err says what).
 *
 * Writes outside an explicit transaction commit on their own. store_begin()
 * opens one transaction for several writes; store_commit() or store_rollback()
 * ends it. Nothing here is thread-safe: one thread owns a store.
 *
 * Ownership: arrays and strings returned through ret_* are the caller's, freed
 * with the matching *_free function (all NULL-safe).
 * Times are UTC nanoseconds since the epoch.
 */

#define STORE_ID_MAX		64	/* request ids (UUIDs), correlation ids */
#define STORE_REQUESTOR_MAX	128	/* caller identity, e.g. "token:alice" */
#define STORE_SUBJECT_MAX	255	/* an identity provider's subject (sub) for a person signed in with it */
#define STORE_JUSTIFICATION_MAX	1024
#define STORE_ROLE_MAX		64
#define STORE_SCOPE_MAX		ARM_ID_MAX
#define STORE_TOKEN_NAME_MAX	64
/*
 * The requestor (and caller) name of a token's holder is this prefix and the token's name; the SQL of
 * request_as_read (migration 15) and ST_REQUEST_INSERT_AS_READ reads it too, as written there.
 */
#define STORE_TOKEN_REQUESTOR	"token:"
#define STORE_OS_MAX		16
#define STORE_REASON_MAX	256
#define STORE_OPERATION_MAX	96
#define STORE_STATUS_MAX	32
#define STORE_DETAIL_MAX	1024
#define STORE_ADDR_TEXT_MAX	NET_ADDR_TEXT_MAX
#define STORE_BOOT_ID_MAX	36	/* /proc/sys/kernel/random/boot_id: a UUID in text */
#define STORE_QUERY_LIMIT_MAX	10000	/* rows one activity query returns at most */

struct store;

int store_open(const char *path, struct store **ret, struct core_error *err);
/* Open an existing database to read only (no migrations; its schema must be this build's): writes fail with -EROFS. */
int store_open_readonly(const char *path, struct store **ret, struct core_error *err);
void store_close(struct store *st);
/*
 * PostgreSQL: reads made outside a write transaction while the primary's connection fails fast (refused,
 * reset, or within its reconnect pause) go to the server(s) of uri (the config's store_read), if it has
 * applied all it received (doc/store-backends.md, "Reads from a standby"). Connected at its first use.
 */
int store_read_standby(struct store *st, const char *uri, struct core_error *err);
/* Why the latest failing call on st failed, for the caller to log; never NULL. */
const char *store_last_error(struct store *st);
/*
 * A number that changes whenever what this connection reads may have changed: a row written
 * through it (committed or not), a rollback, a failed statement. For caches of what was read.
 * Other processes' writes are not counted (only tokens are written from outside the server).
 */
uint64_t store_generation(struct store *st);

int store_begin(struct store *st);
/*
 * store_begin if the writers' lock is free now: 0, or -EAGAIN with nothing begun when another
 * replica's write transaction holds it (PostgreSQL); never -EAGAIN on SQLite (one writer).
 */
int store_begin_try(struct store *st);
int store_commit(struct store *st);
void store_rollback(struct store *st);
/* Is a transaction open (store_begin without its commit or rollback yet)? */
bool store_in_transaction(struct store *st);
/*
 * Inside a transaction, a point to go back to: store_mark() sets it, store_mark_keep() keeps
 * what was written since, store_mark_undo() undoes it (and ends the mark). Marks nest. An I/O
 * error can end the whole transaction; store_in_transaction() tells after an undo.
 * A mark is all or nothing: if any store call inside it failed, store_mark_keep() fails with that
 * call's error (the mark stays open), and the caller must store_mark_undo() it. The calls inside
 * take no savepoints of their own (on PostgreSQL, two round-trip-free commands saved per write).
 */
int store_mark(struct store *st);
int store_mark_keep(struct store *st);
void store_mark_undo(struct store *st);

/* SQLite: PRAGMA integrity_check == "ok" and no foreign key broken; PostgreSQL: it answers with our schema. 0 or -EIO. */
int store_check_integrity(struct store *st);

/* ---- VMs ---- */

enum store_point {
	STORE_POINT_LOCAL = 0,	/* jitgated's own host (input hook) */
	STORE_POINT_GATEWAY = 1,	/* a machine this host routes (forward hook) */
	STORE_POINT_AGENT = 2,		/* a host with its own jitgate-agent: never in this host's kernel table */
};

struct store_vm {
	int64_t id;			/* row id; also the VM's key in src/fw */
	struct arm_vm_id arm;
	char location[ARM_LOCATION_MAX + 1];
	char os_type[STORE_OS_MAX];	/* "Linux" or "Windows" */
	enum store_point point;
	size_t n_addrs;			/* gateway: its addresses; local: addresses seen at start (for display) */
	struct net_addr addrs[FW_VM_ADDRS_MAX];
	char unsupported_reason[STORE_REASON_MAX];	/* empty when supported */
	int64_t created_ns;
};

/*
 * Insert (vm->id ignored) or update the VM with the same arm id (case-insensitive). *ret_id gets its row id.
 * -EPERM (nothing written) if the VM exists with another enforcement point: a point is fixed at creation.
 * -EADDRINUSE (nothing written) if vm is a gateway VM and another VM, local or gateway, has one of its
 * addresses (an agent VM's are its own host's, for display: never checked, nor checked against); checked in
 * the write transaction, so of two concurrent writers at most one wins.
 */
int store_vm_put(struct store *st, const struct store_vm *vm, int64_t *ret_id, bool *ret_created);
int store_vm_get(struct store *st, const struct arm_vm_id *arm, struct store_vm *ret);
int store_vm_get_by_id(struct store *st, int64_t id, struct store_vm *ret);
/* All VMs, ordered by subscription, resource group, name (case-insensitive). */
int store_vm_list(struct store *st, struct store_vm **ret, size_t *ret_n);
/* -ENOTEMPTY if the VM is in a policy (-EBUSY is a busy database, as everywhere). */
int store_vm_delete(struct store *st, int64_t id);

/* ---- policies ---- */

struct store_policy {
	int64_t id;
	struct arm_policy_id arm;
	char *json;			/* the policy as the API returns it, minus "requests" (owned) */
	int64_t created_ns, updated_ns;
};

/*
 * Insert or replace the policy with this arm id, and make vm_ids exactly the VMs
 * it holds. -EEXIST (nothing written) if one of them is held by another policy.
 */
int store_policy_put(struct store *st, const struct arm_policy_id *arm, const char *json, const int64_t *vm_ids,
		     size_t n_vm_ids, int64_t now_ns, int64_t *ret_id, bool *ret_created);
int store_policy_get(struct store *st, const struct arm_policy_id *arm, struct store_policy *ret);
int store_policy_get_by_id(struct store *st, int64_t id, struct store_policy *ret);
/* All policies, ordered by subscription, resource group, location, name. */
int store_policy_list(struct store *st, struct store_policy **ret, size_t *ret_n);
/* The id of the policy holding this VM, or -ENOENT. */
int store_policy_of_vm(struct store *st, int64_t vm_id, int64_t *ret_policy_id);
/* Deletes the policy and its VM links (requests stay, for history). -ENOENT if none. */
int store_policy_delete(struct store *st, int64_t id);

/* One mapped port of gateway DNAT: a public address of this host, a protocol (NET_PROTO_ANY: TCP and UDP), a port. */
struct store_dnat_port {
	struct net_addr pub;
	enum net_proto proto;
	uint16_t port;
};
/*
 * Make v[0..n) exactly the mapped ports policy_id holds (store-dnat.c), in the policy write's transaction:
 * -EEXIST (nothing of it written) if another policy holds one of them. Deleting the policy frees its ports.
 */
int store_dnat_ports_set(struct store *st, int64_t policy_id, const struct store_dnat_port *v, size_t n);
/*
 * jitgated's start, for mappings written before the store kept them (migration 14): add the rows of v[0..n) that
 * policy_id lacks, in the caller's write transaction; rows already there stay. Returns how many were added, or
 * -EEXIST (none of them added) when another policy holds one: its id in *ret_holder, v's index in *ret_at.
 */
int store_dnat_ports_fill(struct store *st, int64_t policy_id, const struct store_dnat_port *v, size_t n,
			  int64_t *ret_holder, size_t *ret_at);
/*
 * single_replica: claim to be the database's only jitgated (store-dnat.c), on PostgreSQL a session lock held
 * while this connection lives. 1: claimed; 0: another connection holds it (another jitgated says the same).
 */
int store_claim_sole(struct store *st);
void store_policy_clear(struct store_policy *p);	/* frees p->json */
void store_policies_free(struct store_policy *v, size_t n);

/* ---- requests and their grants ---- */

enum store_grant_status {
	STORE_GRANT_INITIATED = 0,
	STORE_GRANT_REVOKED = 1,
	STORE_GRANT_PENDING = 2,	/* waiting for approval: only in store_pending rows, never a grant's status */
};

enum store_grant_reason {
	STORE_REASON_NONE = 0,
	STORE_REASON_USER_REQUESTED = 1,
	STORE_REASON_EXPIRED = 2,
	STORE_REASON_NEWER_REQUEST = 3,
	STORE_REASON_TOKEN_REVOKED = 4,	/* the requestor's token was revoked */
	STORE_REASON_POLICY_CHANGED = 5,	/* a policy write no longer allows it */
	STORE_REASON_LAST = STORE_REASON_POLICY_CHANGED,
	/* why a Pending port ended without opening: only in store_pending rows, never a grant's reason */
	STORE_REASON_DENIED = 6,
	STORE_REASON_PENDING_EXPIRED = 7,
};

/* One port of one VM in one request. */
struct store_grant {
	char request_id[STORE_ID_MAX + 1];
	int64_t vm_id;
	uint16_t port;
	enum net_proto proto;		/* what the kernel opens: the rule's protocol */
	struct net_source source;
	int64_t end_ns;
	enum store_grant_status status;
	enum store_grant_reason reason;
	int64_t ended_ns;		/* when it became Revoked; 0 while Initiated */
	/*
	 * The boot it was made in (/proc/sys/kernel/random/boot_id) and its end on that boot's
	 * CLOCK_MONOTONIC: within that boot it ends at whichever of end_ns and mono_end_ns comes
	 * first (time_end_on_both_clocks), whatever the wall clock does. Empty and 0: not known
	 * (the boot could not be read, or the grant was stored before migration 5).
	 */
	char boot_id[STORE_BOOT_ID_MAX + 1];
	int64_t mono_end_ns;
	int64_t opened_ns;		/* when it opened, if not at its request's start (an approval); 0: at the start */
	/* filled by queries, ignored on insert: */
	char requestor[STORE_REQUESTOR_MAX + 1];
	int64_t policy_id;
	int64_t applied_ns;		/* when its VM's agent applied it (store_agent_report); 0: not yet */
};

struct store_request {
	char id[STORE_ID_MAX + 1];
	int64_t policy_id;
	char requestor[STORE_REQUESTOR_MAX + 1];
	char requestor_subject[STORE_SUBJECT_MAX + 1];	/* single sign-on: the provider's sub; else "" (read back by the chain's walk only) */
	char requestor_addr[STORE_ADDR_TEXT_MAX];
	int64_t start_ns;
	char justification[STORE_JUSTIFICATION_MAX + 1];
	/*
	 * The policy's updated_ns as the request was decided on it, outside the writers' lock (an initiate),
	 * or 0. Not 0: on PostgreSQL the insert fails -EBUSY if another replica wrote the policy since (a rule,
	 * a VM, a maximum duration changed, or the policy deleted) or revoked the requestor's token
	 * ("token:NAME"), and the client tries again.
	 */
	int64_t policy_read_ns;
	size_t n_grants;
	struct store_grant *grants;	/* owned */
};

int store_request_insert(struct store *st, const struct store_request *req);
/*
 * Inside a write transaction: is the policy still as read (its updated_ns read_ns), and requestor's token
 * ("token:NAME"; any other requestor, or NULL, is not asked about) not revoked since? 0, or -EBUSY with the
 * reason (the API's 503: try again). For a call that decided outside the writers' lock and writes now
 * (extend, an approval's decision); an initiate's request insert checks the same (policy_read_ns).
 */
int store_policy_as_read(struct store *st, int64_t policy_id, int64_t read_ns, const char *requestor);
/* Mark one grant Revoked with a reason; -ENOENT if there is no such Initiated grant. */
int store_grant_end(struct store *st, const char *request_id, int64_t vm_id, uint16_t port,
		    enum store_grant_reason reason, int64_t ended_ns);
/*
 * Move an Initiated grant's end earlier, to end_ns (a policy lowered its maximum duration);
 * -ENOENT if there is no such Initiated grant ending after end_ns. If it was made in boot
 * boot_id, its monotonic end becomes mono_end_ns when that is earlier: it never moves later.
 */
int store_grant_truncate(struct store *st, const char *request_id, int64_t vm_id, uint16_t port, int64_t end_ns,
			 const char *boot_id, int64_t mono_end_ns);
/*
 * Give every Initiated grant ending after now_ns that has no monotonic end in boot boot_id one:
 * mono_ns plus the time its wall-clock end has left (at start, for grants of an earlier boot).
 * Returns how many.
 */
int store_grants_adopt_boot(struct store *st, const char *boot_id, int64_t now_ns, int64_t mono_ns);
/* Every Initiated grant (any end time), with requestor and policy_id filled. */
int store_grants_initiated(struct store *st, struct store_grant **ret, size_t *ret_n);
/*
 * Every Initiated grant ending after after_ns, one at a time (soonest end first), without
 * holding them all: fn's negative return stops the walk and is returned.
 */
int store_grants_live_each(struct store *st, int64_t after_ns, int (*fn)(void *ctx, const struct store_grant *g),
			   void *ctx);
/*
 * Initiated grants whose end is at or before now_ns, or that were made in boot boot_id (NULL or
 * "": none) with a monotonic end at or before mono_ns (the expiry timer's work), soonest first.
 */
int store_grants_due(struct store *st, int64_t now_ns, const char *boot_id, int64_t mono_ns, struct store_grant **ret,
		     size_t *ret_n);
/* The soonest end among Initiated grants ending after after_ns, or 0 when there is none. */
int store_grant_next_end(struct store *st, int64_t after_ns, int64_t *ret_ns);
/* The soonest monotonic end after after_mono_ns among Initiated grants made in boot boot_id, or 0. */
int store_grant_next_mono_end(struct store *st, const char *boot_id, int64_t after_mono_ns, int64_t *ret_ns);
/*
 * The Initiated grants on one port of one VM, soonest end first: anyone's (requestor NULL; revoke)
 * or one requestor's (initiate's supersede rule). Each reads a partial index of live grants only.
 */
int store_grants_live_on(struct store *st, int64_t vm_id, uint16_t port, const char *requestor,
			 struct store_grant **ret, size_t *ret_n);
/*
 * End one requestor's Initiated grants on one port of one VM (initiate's supersede rule), with a
 * reason, at ended_ns; *ret: the grants ended (now Ended), in no order. One statement where reading
 * them with store_grants_live_on() and ending each took one more each (round trips on PostgreSQL).
 */
int store_grants_supersede(struct store *st, const char *requestor, int64_t vm_id, uint16_t port,
			   enum store_grant_reason reason, int64_t ended_ns, struct store_grant **ret, size_t *ret_n);
/*
 * The same, for a caller that needs not know which grants it ended (no kernel of this host enforces them:
 * an agent's VM reads its state from the store). Inside a mark on PostgreSQL, the UPDATE waits to go in one
 * round trip with the mark's keep, which fails if it does; elsewhere it runs at once.
 */
int store_grants_supersede_held(struct store *st, const char *requestor, int64_t vm_id, uint16_t port,
				enum store_grant_reason reason, int64_t ended_ns);
/*
 * Requests of one policy that started at or after since_ns or still hold an Initiated grant, oldest
 * first. Every request with an Initiated grant is always there; `limit` (0: none) caps only the
 * others, the newest `limit` of them.
 */
int store_requests_of_policy(struct store *st, int64_t policy_id, int64_t since_ns, size_t limit,
			     struct store_request **ret, size_t *ret_n);
void store_requests_free(struct store_request *v, size_t n);

/*
 * Write grants (Initiated, in the form store_request_insert takes) for the existing request request_id
 * of requestor: the ports its approval opened.
 */
int store_grants_insert(struct store *st, const char *request_id, const char *requestor,
			const struct store_grant *grants, size_t n);

/* ---- approvals (store-approvals.c) ---- */

/*
 * A port of a request that waits for approval. g: request_id, vm_id, port, proto, source as the grant
 * will have them; end_ns is when the ask lapses; status Pending, or Revoked with reason Denied or
 * PendingExpired and ended_ns when that was decided, or Initiated once approved (then its grant is in grants);
 * requestor and policy_id are filled by queries.
 */
struct store_pending {
	struct store_grant g;
	int64_t want_ms;		/* how long it opens for, from the last approval */
	char extends[STORE_ID_MAX + 1];	/* an extension: the request whose grant (vm, port) it extends; "": opens */
	int64_t extend_end_ns;		/* an extension: the end asked for */
	/* filled by queries: */
	int64_t asked_ns;		/* its request's start */
	char requestor_addr[STORE_ADDR_TEXT_MAX];
	char justification[STORE_JUSTIFICATION_MAX + 1];
};

enum store_pending_state {
	STORE_PENDING_WAITING = 0,
	STORE_PENDING_APPROVED = 1,
	STORE_PENDING_DENIED = 2,
	STORE_PENDING_EXPIRED = 3,
};

/* Put one port of the (already inserted) request p->g.request_id up for approval (p->g, want_ms, extends, extend_end_ns). */
int store_pending_insert(struct store *st, const struct store_pending *p);
/* Every port of one request that asked for approval, by VM and port (an approved one: status Initiated). */
int store_pending_of_request(struct store *st, const char *request_id, struct store_pending **ret, size_t *ret_n);
/* Every port still Pending, oldest request first. */
int store_pending_waiting(struct store *st, struct store_pending **ret, size_t *ret_n);
/* Pending ports whose ask lapsed at or before now_ns, soonest first. */
int store_pending_due(struct store *st, int64_t now_ns, struct store_pending **ret, size_t *ret_n);
/* The soonest lapse after after_ns among Pending ports, or 0. */
int store_pending_next(struct store *st, int64_t after_ns, int64_t *ret_ns);
/* Move a Pending port to `state` (approved, denied, expired) at now_ns; -ENOENT if it is not Pending. */
int store_pending_decide(struct store *st, const char *request_id, int64_t vm_id, uint16_t port,
			 enum store_pending_state state, int64_t now_ns);
/*
 * Inside a transaction, before deciding request_id: hold its waiting ports until the commit, so that two
 * decisions on it (two replicas of one PostgreSQL database) follow one another, the later one seeing the
 * earlier. Returns how many ports still wait (0: decided meanwhile).
 */
int store_pending_lock(struct store *st, const char *request_id);
/* One approval of request_id by approver; -EEXIST if they approved it already. */
int store_approval_add(struct store *st, const char *request_id, const char *approver, int64_t now_ns);
/* How many people approved request_id. */
int store_approvals_count(struct store *st, const char *request_id, int64_t *ret);
/*
 * Move an Initiated grant's end later, to end_ns (an extend); -ENOENT if there is no such Initiated
 * grant ending before end_ns. If it was made in boot boot_id, its monotonic end becomes mono_end_ns.
 */
int store_grant_extend(struct store *st, const char *request_id, int64_t vm_id, uint16_t port, int64_t end_ns,
		       const char *boot_id, int64_t mono_end_ns);

/* Per VM: approved requests since since_ns, the latest request's start and requestor. -ENOENT-free: zeros if none. */
struct store_vm_usage {
	size_t approved_since;
	int64_t last_access_ns;
	char last_user[STORE_REQUESTOR_MAX + 1];
};
int store_vm_usage(struct store *st, int64_t vm_id, int64_t since_ns, struct store_vm_usage *ret);

/* ---- activity log (append-only) ---- */

struct store_activity {
	int64_t id;			/* assigned on append */
	int64_t time_ns;
	char caller[STORE_REQUESTOR_MAX + 1];
	char caller_subject[STORE_SUBJECT_MAX + 1];	/* single sign-on: the provider's sub; else "" (read back by the chain's walk only) */
	char caller_addr[STORE_ADDR_TEXT_MAX];
	char operation[STORE_OPERATION_MAX];	/* e.g. "Microsoft.Security/locations/jitNetworkAccessPolicies/initiate/action" */
	char resource_id[ARM_ID_MAX + 1];
	char status[STORE_STATUS_MAX];		/* "Succeeded", "Failed", "Denied", "Expired", ... */
	char detail[STORE_DETAIL_MAX + 1];	/* reason or error code and message */
	char justification[STORE_JUSTIFICATION_MAX + 1];
	char correlation_id[STORE_ID_MAX + 1];
};

struct store_activity_filter {
	int64_t since_ns, until_ns;	/* 0: unbounded */
	const char *caller;		/* exact, NULL: any */
	const char *resource_prefix;	/* case-insensitive prefix of resource_id, NULL: any */
	const char *operation;		/* exact, NULL: any */
	size_t limit;			/* 0 or > STORE_QUERY_LIMIT_MAX: STORE_QUERY_LIMIT_MAX */
	int64_t before_id;		/* paging: only rows with id < before_id; 0: newest first from the top */
};

/*
 * Append entry a to the log and its chain; a->id is its row id, except inside a mark (store_mark), where
 * it is 0 unless a webhook queues the entry: there nobody reads it, and PostgreSQL need not send it back.
 */
int store_activity_append(struct store *st, struct store_activity *a);
/* Newest first. */
int store_activity_query(struct store *st, const struct store_activity_filter *f, struct store_activity **ret,
			 size_t *ret_n);

/* ---- tokens ---- */

#define STORE_TOKEN_HASH_LEN 32	/* SHA-256 of the secret; the secret itself is never stored */

struct store_token {
	char name[STORE_TOKEN_NAME_MAX + 1];
	char role[STORE_ROLE_MAX + 1];
	char scope[STORE_SCOPE_MAX + 1];	/* "/subscriptions/…[/resourceGroups/…[/providers/…/virtualMachines/…]]" */
	uint8_t hash[STORE_TOKEN_HASH_LEN];
	int64_t created_ns;
	int64_t revoked_ns;			/* 0 while valid */
};

/* -EEXIST if a token with this name exists (revoked or not). */
int store_token_insert(struct store *st, const struct store_token *t);
/* The valid (not revoked) token with this hash, or -ENOENT. */
int store_token_find(struct store *st, const uint8_t hash[STORE_TOKEN_HASH_LEN], struct store_token *ret);
int store_token_list(struct store *st, struct store_token **ret, size_t *ret_n);
/* -ENOENT if there is no valid token of that name. */
int store_token_revoke(struct store *st, const char *name, int64_t now_ns);

/* ---- the fleet: VM revisions, join tokens, agents (doc/agent-protocol.md) ---- */

#define STORE_JOIN_ID_MAX	32	/* a join token's public id */
#define STORE_LISTENING_MAX	512	/* an agent's listening ports as text: "TCP/22 UDP/3389 …" */
#define STORE_VERSION_MAX	64	/* an agent's version */

/*
 * A VM's revision: every write that touches the VM (a grant made, ended or moved; the VM joining or leaving a
 * policy; its policy's rules; the VM's own fields) moves it, in the same transaction, to the next value of one
 * counter for all VMs (store_fleet_revision), so it only grows. -ENOENT if no VM.
 */
int store_vm_revision(struct store *st, int64_t vm_id, int64_t *ret);
/* The counter: the largest revision any VM was ever given (0 before the first change). */
int store_fleet_revision(struct store *st, int64_t *ret);

struct store_vm_change {
	int64_t vm_id;
	int64_t revision;
};

/* The VMs whose revision is above `since`, in revision order: what changed since the counter read `since`. */
int store_vms_changed(struct store *st, int64_t since, struct store_vm_change **ret, size_t *ret_n);

/*
 * Other processes' writes: on PostgreSQL, where several jitgated share one database, every revision
 * given to an agent VM is announced at commit to every store that asked. store_changes_fd() (the
 * first call starts listening) is a descriptor to poll for reading (-1 when the engine announces
 * nothing: SQLite, whose one writer is this process; it may change after a lost connection, so ask
 * again before each poll). store_changes_take() takes
 * what arrived, also what libpq collected while answering other calls (so take before sleeping):
 * returns how many announcements, and *ret_revision the highest revision among them (0: none).
 * Announcements made while the connection was lost are lost with it: read store_vms_changed() then.
 */
int store_changes_fd(struct store *st);
int store_changes_take(struct store *st, int64_t *ret_revision);

/*
 * Whether rows of policies and VMs may be kept between requests (api-read-cache.c): true, with *ret a
 * generation that moves at every write to a policy, a policy's VMs or a VM's own columns (not its
 * revision) by this process or, once announced, by another replica; false when the engine announces no
 * such writes (SQLite: read them each time, which costs little) or cannot now (not listening, no
 * connection). Another replica's write reaches it with its announcement, a few milliseconds after its
 * commit: what is kept is that much older, as a read made just before would be.
 */
bool store_config_generation(struct store *st, uint64_t *ret);

struct store_join_token {
	char id[STORE_JOIN_ID_MAX + 1];		/* public; names the token in lists, revocation and the log */
	uint8_t hash[STORE_TOKEN_HASH_LEN];
	char subscription[ARM_SUBSCRIPTION_MAX + 1];
	char resource_group[ARM_RESOURCE_GROUP_MAX + 1];	/* where joining hosts are registered */
	int64_t uses_left;
	int64_t expires_ns;
	int64_t created_ns;
	char created_by[STORE_REQUESTOR_MAX + 1];
	int64_t revoked_ns;			/* 0 while valid */
};

/* -EEXIST if the id or hash exists. */
int store_join_token_insert(struct store *st, const struct store_join_token *t);
int store_join_token_list(struct store *st, struct store_join_token **ret, size_t *ret_n);
/* -ENOENT if there is no such token that is not revoked already. */
int store_join_token_revoke(struct store *st, const char *id, int64_t now_ns);
/*
 * Spend one use of the join token with this hash, in the caller's transaction (so that the join's other
 * writes and the use stand or fall together): -ENOENT (unknown), -EKEYREVOKED, -EKEYEXPIRED (at or
 * after expires_ns), -EDQUOT (no uses left), each without writing. *ret gets the token as it was.
 */
int store_join_token_use(struct store *st, const uint8_t hash[STORE_TOKEN_HASH_LEN], int64_t now_ns,
			 struct store_join_token *ret);

/* What an agent last reported (store_agent_report). */
struct store_agent_report {
	int64_t applied_revision;	/* -1: none yet */
	char version[STORE_VERSION_MAX + 1];
	bool supported;
	char reason[STORE_REASON_MAX];	/* why its kernel cannot hold the table, when !supported */
	char listening[STORE_LISTENING_MAX + 1];
	int64_t tamper_undone;
	char last_error[STORE_REASON_MAX];
};

struct store_agent {
	int64_t vm_id;
	uint8_t hash[STORE_TOKEN_HASH_LEN];
	bool has_prev;			/* a rotation not yet confirmed: prev_hash still works */
	uint8_t prev_hash[STORE_TOKEN_HASH_LEN];
	char join_token[STORE_JOIN_ID_MAX + 1];
	int64_t joined_ns;
	int64_t revoked_ns;		/* 0 while valid */
	int64_t seen_ns;		/* its last report; 0: never */
	struct store_agent_report report;
};

/*
 * The agent of VM vm_id, with credential hash `hash`: a first join, or a new join after its agent
 * was revoked (which forgets the old record). -EEXIST (nothing written) if the VM has a valid agent.
 */
int store_agent_join(struct store *st, int64_t vm_id, const uint8_t hash[STORE_TOKEN_HASH_LEN],
		     const char *join_token, int64_t now_ns);
/*
 * The agent holding this credential (current, or previous during a rotation), revoked or not: the
 * caller tells them apart. Using the new credential of a rotation confirms it (forgets prev_hash).
 * -ENOENT if no agent holds it.
 */
int store_agent_find(struct store *st, const uint8_t hash[STORE_TOKEN_HASH_LEN], struct store_agent *ret);
int store_agent_get(struct store *st, int64_t vm_id, struct store_agent *ret);
int store_agent_list(struct store *st, struct store_agent **ret, size_t *ret_n);
/* -ENOENT if the VM has no valid agent. */
int store_agent_revoke(struct store *st, int64_t vm_id, int64_t now_ns);
/* A new credential; the current one keeps working until the new one is first used. -ENOENT if no valid agent. */
int store_agent_rotate(struct store *st, int64_t vm_id, const uint8_t hash[STORE_TOKEN_HASH_LEN]);
/*
 * Keep what the agent reports, at now_ns, and mark every live grant of its VM made at or before
 * report->applied_revision as applied at now_ns (when not marked already). -ENOENT if no valid agent.
 */
int store_agent_report(struct store *st, int64_t vm_id, const struct store_agent_report *report, int64_t now_ns);

/*
 * Terminations (store-terminations.c): a revoke with terminateSessions of an agent VM's grant, for its
 * agent to end the sessions that grant let in. Each is kept with the VM's revision after the revoke.
 */
#define STORE_TERMINATIONS_MAX		256	/* kept per VM, the newest (the wire's AGENT_TERMINATIONS_MAX) */
#define STORE_TERMINATION_KEEP_NS	(24LL * 3600 * 1000000000)	/* ...made in the last 24 h */

struct store_termination {
	char request_id[STORE_ID_MAX + 1];
	uint16_t port;
	enum net_proto proto;
	struct net_source source;
	int64_t revision;	/* the VM's revision after the revoke that made it */
	int64_t time_ns;
};

/*
 * Record that the grant (request_id, vm_id, port) was revoked with terminateSessions, in the caller's
 * transaction, after store_grant_end() moved the VM's revision: it takes that revision. Only an agent VM's
 * grant is recorded (returns 1; 0 for another VM's). Terminations older than now_ns - STORE_TERMINATION_KEEP_NS,
 * or beyond the newest STORE_TERMINATIONS_MAX of the VM, are forgotten.
 */
int store_termination_add(struct store *st, const char *request_id, int64_t vm_id, uint16_t port, int64_t now_ns);
/* The VM's terminations made at or after now_ns - STORE_TERMINATION_KEEP_NS, the newest STORE_TERMINATIONS_MAX, oldest first. */
int store_terminations_of_vm(struct store *st, int64_t vm_id, int64_t now_ns, struct store_termination **ret,
			     size_t *ret_n);

/*
 * What /metrics shows of the store (store-metrics.c): live (Initiated) grants, agents whose credential is valid,
 * and the webhooks' backlog: events waiting, events dropped for a full outbox, hooks failing now (every hook).
 */
struct store_counts {
	int64_t live_grants;
	int64_t agents;
	int64_t webhooks_waiting, webhooks_dropped, webhooks_failing;
};
int store_counts_read(struct store *st, struct store_counts *ret);

#endif

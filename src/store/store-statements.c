/* The SQL of every statement the store caches, keyed by enum stmt_id: SQLite's text, and PostgreSQL's where it differs. */
#include "store-internal.h"

#define VM_COLS "SELECT id, subscription, resource_group, name, location, os_type, point, addrs, " \
	"unsupported_reason, created_ns FROM vms"
#define POLICY_COLS "SELECT id, subscription, resource_group, location, name, json, created_ns, updated_ns " \
	"FROM policies"
#define GRANT_FIELDS "SELECT g.request_id, g.vm_id, g.port, g.proto, g.source, g.end_ns, g.status, g.reason, " \
	"g.ended_ns, r.requestor, r.policy_id, g.boot, g.mono_end_ns, g.applied_ns, g.opened_ns "
#define GRANT_COLS GRANT_FIELDS "FROM grants g JOIN requests r ON r.id = g.request_id"
#define PENDING_COLS "SELECT p.request_id, p.vm_id, p.port, p.proto, p.source, p.expires_ns, p.state, p.decided_ns, " \
	"r.requestor, r.policy_id, p.want_ms, r.start_ns, r.requestor_addr, r.justification, p.extends, p.extend_end_ns " \
	"FROM pending p JOIN requests r ON r.id = p.request_id"
#define TOKEN_COLS "SELECT name, role, scope, hash, created_ns, revoked_ns FROM tokens"
#define JOIN_COLS "SELECT id, hash, subscription, resource_group, uses_left, expires_ns, created_ns, created_by, " \
	"revoked_ns FROM join_tokens"
#define AGENT_COLS "SELECT vm_id, hash, prev_hash, join_token, joined_ns, revoked_ns, seen_ns, applied_revision, " \
	"version, supported, reason, listening, tamper_undone, last_error FROM agents"

/*
 * every request of policy ?1 that still holds an Initiated grant (found through the partial index of
 * live grants), and the newest ?3 of the others that started at or after ?2; oldest first. In each
 * dialect's words: the limit (SQLite's -1 is none), and names for the subqueries in FROM.
 */
#define REQUESTS_OF_POLICY(limit, inner_name, outer_name) \
	"SELECT id, policy_id, requestor, requestor_addr, start_ns, justification FROM " \
	"(SELECT r.id, r.policy_id, r.requestor, r.requestor_addr, r.start_ns, r.justification, r.rowid AS rid " \
	"FROM requests r WHERE r.policy_id = ?1 AND r.id IN " \
	"(SELECT g.request_id FROM grants g WHERE g.status = 0) " \
	"UNION ALL SELECT * FROM (SELECT r.id, r.policy_id, r.requestor, r.requestor_addr, r.start_ns, " \
	"r.justification, r.rowid AS rid FROM requests r WHERE r.policy_id = ?1 AND r.start_ns >= ?2 AND NOT EXISTS " \
	"(SELECT 1 FROM grants g WHERE g.request_id = r.id AND +g.status = 0) " \
	"ORDER BY r.start_ns DESC, r.rowid DESC LIMIT " limit ")" inner_name ")" outer_name " ORDER BY start_ns, rid"

#define CHAIN_HEAD "SELECT head_seq, head_hash FROM audit_chain"

const char *const stmt_sql[ST__MAX] = {
	/* BEGIN IMMEDIATE takes the write lock up front, so a WAL reader never has to upgrade and fail. */
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_BEGIN_TRY] = "BEGIN IMMEDIATE",	/* one writer: never another's lock to find */
	[ST_BEGIN_READ] = "BEGIN DEFERRED",	/* a read-only store's consistent snapshot */
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_SAVEPOINT] = "SAVEPOINT store_op",
	[ST_RELEASE] = "RELEASE store_op",
	[ST_ROLLBACK_TO] = "ROLLBACK TO store_op",
	[ST_MARK] = "SAVEPOINT store_mark",
	[ST_MARK_KEEP] = "RELEASE store_mark",
	[ST_MARK_UNDO] = "ROLLBACK TO store_mark",
	[ST_VM_FIND] = "SELECT id, point FROM vms WHERE subscription = ?1 AND resource_group = ?2 AND name = ?3",
	[ST_VM_INSERT] = "INSERT INTO vms (subscription, resource_group, name, location, os_type, point, addrs, "
		"unsupported_reason, created_ns) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
	[ST_VM_UPDATE] = "UPDATE vms SET subscription = ?1, resource_group = ?2, name = ?3, location = ?4, "
		"os_type = ?5, point = ?6, addrs = ?7, unsupported_reason = ?8 WHERE id = ?10",
	[ST_VM_GET] = VM_COLS " WHERE subscription = ?1 AND resource_group = ?2 AND name = ?3",
	[ST_VM_GET_BY_ID] = VM_COLS " WHERE id = ?1",
	[ST_VM_LIST] = VM_COLS " ORDER BY subscription, resource_group, name, id",
	[ST_VM_DELETE] = "DELETE FROM vms WHERE id = ?1",
	[ST_POLICY_FIND] = "SELECT id FROM policies WHERE subscription = ?1 AND resource_group = ?2 "
		"AND location = ?3 AND name = ?4",
	[ST_POLICY_INSERT] = "INSERT INTO policies (subscription, resource_group, location, name, json, "
		"created_ns, updated_ns) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
	[ST_POLICY_UPDATE] = "UPDATE policies SET subscription = ?1, resource_group = ?2, location = ?3, "
		"name = ?4, json = ?5, updated_ns = CASE WHEN ?6 > updated_ns THEN ?6 ELSE updated_ns + 1 END WHERE id = ?7",
	[ST_POLICY_GET] = POLICY_COLS " WHERE subscription = ?1 AND resource_group = ?2 AND location = ?3 "
		"AND name = ?4",
	[ST_POLICY_GET_BY_ID] = POLICY_COLS " WHERE id = ?1",
	[ST_POLICY_LIST] = POLICY_COLS " ORDER BY subscription, resource_group, location, name, id",
	[ST_POLICY_DELETE] = "DELETE FROM policies WHERE id = ?1",
	[ST_LINKS_CLEAR] = "DELETE FROM policy_vms WHERE policy_id = ?1",
	[ST_LINK_OWNER] = "SELECT policy_id FROM policy_vms WHERE vm_id = ?1",
	[ST_LINK_INSERT] = "INSERT INTO policy_vms (vm_id, policy_id) VALUES (?1, ?2)",
	[ST_REQUEST_INSERT] = "INSERT INTO requests (id, policy_id, requestor, requestor_addr, start_ns, "
		"justification, requestor_subject) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	/*
	 * An initiate's request, decided on the policy as it read it (updated_ns ?8) outside the writers'
	 * lock. SQLite has one writer, which commits the pending initiates before any other write: the
	 * policy read is the one there. PostgreSQL's text refuses it if another replica wrote the policy
	 * since, or revoked the requestor's token.
	 */
	[ST_REQUEST_INSERT_AS_READ] = "INSERT INTO requests (id, policy_id, requestor, requestor_addr, start_ns, "
		"justification, requestor_subject) SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7 WHERE ?8 IS NOT NULL",
	/* is the policy as read (updated_ns ?2), and ?3's token (a "token:NAME" requestor) not revoked since? */
	[ST_POLICY_AS_READ] = "SELECT (SELECT count(*) FROM policies WHERE id = ?1 AND updated_ns = ?2), "
		"(SELECT count(*) FROM tokens WHERE substr(?3, 1, 6) = 'token:' AND name = substr(?3, 7) AND revoked_ns <> 0)",
	[ST_GRANT_INSERT] = "INSERT INTO grants (request_id, vm_id, port, proto, source, end_ns, status, reason, "
		"ended_ns, requestor, boot, mono_end_ns, opened_ns) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
	[ST_GRANT_END] = "UPDATE grants SET status = 1, reason = ?4, ended_ns = ?5 "
		"WHERE request_id = ?1 AND vm_id = ?2 AND port = ?3 AND status = 0",
	/* SET reads the row as it was: the monotonic end only ever moves earlier, and only in its own boot */
	[ST_GRANT_TRUNCATE] = "UPDATE grants SET end_ns = ?4, "
		"mono_end_ns = CASE WHEN boot = ?5 AND mono_end_ns > ?6 THEN ?6 ELSE mono_end_ns END WHERE request_id = ?1 AND vm_id = ?2 AND port = ?3 AND status = 0 AND end_ns > ?4",
	[ST_GRANTS_INITIATED] = GRANT_COLS " WHERE g.status = 0 ORDER BY g.end_ns, g.request_id, g.vm_id, g.port",
	/* in the order of grants_initiated_end: nothing to sort, whatever the number of grants */
	[ST_GRANTS_LIVE] = GRANT_FIELDS
		"FROM grants g INDEXED BY grants_initiated_end "
		"JOIN requests r ON r.id = g.request_id WHERE g.status = 0 AND g.end_ns > ?1",
	[ST_GRANTS_LIVE_ON] = GRANT_FIELDS
		"FROM grants g INDEXED BY grants_live_vm_port "
		"JOIN requests r ON r.id = g.request_id WHERE g.vm_id = ?1 AND g.port = ?2 AND g.status = 0 "
		"ORDER BY g.end_ns, g.request_id",
	[ST_GRANTS_OF_REQUEST] = GRANT_COLS " WHERE g.request_id = ?1 ORDER BY g.vm_id, g.port",
	/*
	 * over on the wall clock, or on the monotonic clock of boot ?2 (NULL, the boot not known, matches
	 * none): a UNION, so that each half reads its own partial index of live grants, not all of them
	 */
	[ST_GRANTS_DUE] = GRANT_FIELDS "FROM grants g INDEXED BY grants_initiated_end JOIN requests r "
		"ON r.id = g.request_id WHERE g.status = 0 AND g.end_ns <= ?1 UNION "
		GRANT_FIELDS "FROM grants g INDEXED BY grants_live_mono_end JOIN requests r "
		"ON r.id = g.request_id WHERE g.status = 0 AND g.boot = ?2 AND g.mono_end_ns <= ?3 "
		"ORDER BY 6, 1, 2, 3",
	[ST_GRANT_NEXT_END] = "SELECT min(end_ns) FROM grants WHERE status = 0 AND end_ns > ?1",
	[ST_GRANT_NEXT_MONO_END] = "SELECT min(mono_end_ns) FROM grants "
		"WHERE status = 0 AND boot = ?1 AND mono_end_ns > ?2",
	[ST_GRANTS_ADOPT] = "UPDATE grants SET boot = ?1, mono_end_ns = ?3 + (end_ns - ?2) "
		"WHERE status = 0 AND end_ns > ?2 AND boot <> ?1",
	/*
	 * the requestor's live grants on one port, through the partial index of migration 16, exact on all
	 * three (named: without statistics a planner takes another and visits every live grant on the port)
	 */
	[ST_GRANTS_OF_REQUESTOR] = GRANT_FIELDS
		"FROM grants g INDEXED BY grants_live_vm_port "
		"JOIN requests r ON r.id = g.request_id WHERE g.requestor = ?1 AND g.vm_id = ?2 AND g.port = ?3 "
		"AND g.status = 0 ORDER BY g.end_ns, g.request_id",
	/* one requestor's Initiated grants on one port of one VM ended, returned as GRANT_FIELDS reads them */
	/* the same without its rows: a write no caller reads, held for the mark's keep (stmt_deferrable) */
	[ST_GRANTS_SUPERSEDE_HELD] = "UPDATE grants SET status = 1, reason = ?4, ended_ns = ?5 "
		"WHERE requestor = ?1 AND vm_id = ?2 AND port = ?3 AND status = 0",
	[ST_GRANTS_SUPERSEDE] = "UPDATE grants SET status = 1, reason = ?4, ended_ns = ?5 "
		"WHERE requestor = ?1 AND vm_id = ?2 AND port = ?3 AND status = 0 RETURNING request_id, vm_id, port, "
		"proto, source, end_ns, status, reason, ended_ns, requestor, "
		"(SELECT policy_id FROM requests WHERE id = grants.request_id), boot, mono_end_ns, applied_ns, opened_ns",
	[ST_REQUESTS_OF_POLICY] = REQUESTS_OF_POLICY("?3", "", ""),
	[ST_USAGE_COUNT] = "SELECT count(DISTINCT g.request_id) FROM grants g JOIN requests r "
		"ON r.id = g.request_id WHERE g.vm_id = ?1 AND r.start_ns >= ?2",
	[ST_USAGE_LAST] = "SELECT r.start_ns, r.requestor FROM grants g JOIN requests r ON r.id = g.request_id "
		"WHERE g.vm_id = ?1 ORDER BY r.start_ns DESC, r.rowid DESC LIMIT 1",
	[ST_ACTIVITY_INSERT] = "INSERT INTO activity (time_ns, caller, caller_addr, operation, resource_id, "
		"status, detail, justification, correlation_id, seq, hash, caller_subject) "
		"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
	/* the same, for an entry whose id nobody reads (no webhook queues it): PostgreSQL returns none */
	[ST_ACTIVITY_INSERT_QUIET] = "INSERT INTO activity (time_ns, caller, caller_addr, operation, resource_id, "
		"status, detail, justification, correlation_id, seq, hash, caller_subject) "
		"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
	[ST_TOKEN_INSERT] = "INSERT INTO tokens (name, hash, role, scope, created_ns, revoked_ns) "
		"VALUES (?1, ?2, ?3, ?4, ?5, 0)",
	[ST_TOKEN_FIND] = TOKEN_COLS " WHERE hash = ?1 AND revoked_ns = 0",
	[ST_TOKEN_LIST] = TOKEN_COLS " ORDER BY name",
	[ST_TOKEN_REVOKE] = "UPDATE tokens SET revoked_ns = ?2 WHERE name = ?1 AND revoked_ns = 0",
	[ST_VM_REVISION] = "SELECT revision FROM vms WHERE id = ?1",
	[ST_FLEET_REVISION] = "SELECT n FROM fleet_revision",
	[ST_VMS_CHANGED] = "SELECT id, revision FROM vms WHERE revision > ?1 ORDER BY revision, id",
	[ST_JOIN_INSERT] = "INSERT INTO join_tokens (id, hash, subscription, resource_group, uses_left, expires_ns, "
		"created_ns, created_by, revoked_ns) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 0)",
	[ST_JOIN_LIST] = JOIN_COLS " ORDER BY created_ns, id",
	[ST_JOIN_REVOKE] = "UPDATE join_tokens SET revoked_ns = ?2 WHERE id = ?1 AND revoked_ns = 0",
	[ST_JOIN_FIND] = JOIN_COLS " WHERE hash = ?1",
	[ST_JOIN_SPEND] = "UPDATE join_tokens SET uses_left = uses_left - 1 WHERE hash = ?1 AND uses_left > 0",
	[ST_AGENT_FORGET] = "DELETE FROM agents WHERE vm_id = ?1 AND revoked_ns != 0",
	[ST_AGENT_INSERT] = "INSERT INTO agents (vm_id, hash, join_token, joined_ns) VALUES (?1, ?2, ?3, ?4)",
	[ST_AGENT_FIND] = AGENT_COLS " WHERE hash = ?1 OR prev_hash = ?1",
	[ST_AGENT_CONFIRM] = "UPDATE agents SET prev_hash = NULL WHERE hash = ?1 AND prev_hash IS NOT NULL",
	[ST_AGENT_GET] = AGENT_COLS " WHERE vm_id = ?1",
	[ST_AGENT_LIST] = AGENT_COLS " ORDER BY vm_id",
	[ST_AGENT_REVOKE] = "UPDATE agents SET revoked_ns = ?2, prev_hash = NULL WHERE vm_id = ?1 AND revoked_ns = 0",
	/* a second rotation before the first is confirmed keeps the credential the agent is known to hold */
	[ST_AGENT_ROTATE] = "UPDATE agents SET prev_hash = coalesce(prev_hash, hash), hash = ?2 "
		"WHERE vm_id = ?1 AND revoked_ns = 0",
	[ST_AGENT_REPORT] = "UPDATE agents SET seen_ns = ?2, applied_revision = ?3, version = ?4, supported = ?5, "
		"reason = ?6, listening = ?7, tamper_undone = ?8, last_error = ?9 WHERE vm_id = ?1 AND revoked_ns = 0",
	[ST_GRANTS_APPLIED] = "UPDATE grants SET applied_ns = ?3 WHERE vm_id = ?1 AND applied_ns = 0 AND status = 0 "
		"AND revision <= ?2",
	/* the grant as stored, with its VM's revision as this transaction made it; nothing for a VM without an agent */
	[ST_TERMINATION_ADD] = "INSERT INTO terminations (vm_id, request_id, port, proto, source, revision, time_ns) "
		"SELECT g.vm_id, g.request_id, g.port, g.proto, g.source, v.revision, ?4 FROM grants g "
		"JOIN vms v ON v.id = g.vm_id WHERE g.request_id = ?1 AND g.vm_id = ?2 AND g.port = ?3 AND v.point = 2",
	[ST_TERMINATIONS_PRUNE] = "DELETE FROM terminations WHERE vm_id = ?1 AND (time_ns < ?2 OR id NOT IN "
		"(SELECT id FROM terminations WHERE vm_id = ?1 ORDER BY id DESC LIMIT ?3))",
	[ST_TERMINATIONS_OF_VM] = "SELECT request_id, port, proto, source, revision, time_ns FROM (SELECT * FROM "
		"terminations WHERE vm_id = ?1 AND time_ns >= ?2 ORDER BY id DESC LIMIT ?3) ORDER BY id",
	/*
	 * /metrics (store-metrics.c): live grants through their partial index, agents with a valid credential,
	 * and the webhooks' backlog from each hook's kept counts (no scan of the outbox)
	 */
	[ST_METRICS_COUNTS] = "SELECT (SELECT COUNT(*) FROM grants WHERE status = 0), "
		"(SELECT COUNT(*) FROM agents WHERE revoked_ns = 0), "
		"(SELECT CAST(COALESCE(SUM(waiting), 0) AS BIGINT) FROM webhook_hooks), "
		"(SELECT CAST(COALESCE(SUM(dropped), 0) AS BIGINT) FROM webhook_hooks), "
		"(SELECT COUNT(*) FROM webhook_hooks WHERE failing <> 0)",
	[ST_CHAIN_HEAD] = CHAIN_HEAD,
	[ST_CHAIN_GET] = "SELECT anchor_id, anchor_seq, anchor_hash, head_seq, head_hash FROM audit_chain",
	/* the entries after id ?1, oldest first, ?2 at a time: verification's walk and pruning's batch */
	[ST_CHAIN_WALK] = "SELECT id, time_ns, caller, caller_addr, operation, resource_id, status, detail, "
		"justification, correlation_id, seq, hash, caller_subject FROM activity WHERE id > ?1 ORDER BY id LIMIT ?2",
	/* idempotent: of two replicas pruning the same batch, the second moves nothing */
	[ST_CHAIN_ANCHOR] = "UPDATE audit_chain SET anchor_id = ?1, anchor_seq = ?2, anchor_hash = ?3 "
		"WHERE anchor_id < ?1",
	[ST_ACTIVITY_PRUNE] = "DELETE FROM activity WHERE id <= ?1",
	/* requests started before ?1 whose every grant ended before ?1, oldest first */
	[ST_REQUESTS_ENDED] = "SELECT id, policy_id, requestor, requestor_addr, start_ns, justification "
		"FROM requests r WHERE start_ns < ?1 AND NOT EXISTS (SELECT 1 FROM grants g WHERE "
		"g.request_id = r.id AND (g.status = 0 OR g.ended_ns >= ?1)) ORDER BY start_ns, id LIMIT ?2",
	/* its grants go with it (ON DELETE CASCADE); checked again here, so a grant made meanwhile keeps it */
	[ST_REQUEST_PRUNE] = "DELETE FROM requests WHERE id = ?1 AND NOT EXISTS (SELECT 1 FROM grants g WHERE "
		"g.request_id = ?1 AND (g.status = 0 OR g.ended_ns >= ?2))",
	[ST_OUTBOX_INSERT] = "INSERT INTO webhook_outbox (hook, event_id, event, activity_id) VALUES (?1, ?2, ?3, ?4)",
	[ST_OUTBOX_HEAD] = "SELECT o.id, o.event_id, o.event, o.attempts, o.next_ns, o.lease_ns, a.id, a.time_ns, "
		"a.caller, a.caller_addr, a.operation, a.resource_id, a.status, a.detail, a.justification, "
		"a.correlation_id FROM webhook_outbox o JOIN activity a ON a.id = o.activity_id WHERE o.hook = ?1 "
		"ORDER BY o.id LIMIT 1",
	/* one replica delivers: the row is taken only if nobody holds it and it is due (doc/store-backends.md) */
	[ST_OUTBOX_CLAIM] = "UPDATE webhook_outbox SET lease_ns = ?3 WHERE id = ?1 AND lease_ns <= ?2 AND next_ns <= ?2",
	[ST_OUTBOX_DONE] = "DELETE FROM webhook_outbox WHERE id = ?1 AND hook = ?2",
	[ST_OUTBOX_RETRY] = "UPDATE webhook_outbox SET attempts = ?2, next_ns = ?3, lease_ns = 0 WHERE id = ?1",
	[ST_HOOK_GET] = "SELECT failing, failures, last_error, last_ok_ns, last_fail_ns, dropped FROM webhook_hooks "
		"WHERE hook = ?1",
	[ST_HOOK_PUT] = "INSERT INTO webhook_hooks (hook, failing, failures, last_error, last_ok_ns, last_fail_ns) "
		"VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (hook) DO UPDATE SET failing = excluded.failing, "
		"failures = excluded.failures, last_error = excluded.last_error, last_ok_ns = excluded.last_ok_ns, "
		"last_fail_ns = excluded.last_fail_ns",
	[ST_HOOK_DROPPED] = "INSERT INTO webhook_hooks (hook, dropped) VALUES (?1, 1) "
		"ON CONFLICT (hook) DO UPDATE SET dropped = webhook_hooks.dropped + 1",
	[ST_HOOK_QUEUED] = "INSERT INTO webhook_hooks (hook, waiting) VALUES (?1, 1) "
		"ON CONFLICT (hook) DO UPDATE SET waiting = webhook_hooks.waiting + 1",
	[ST_HOOK_UNQUEUED] = "UPDATE webhook_hooks SET waiting = waiting - 1 WHERE hook = ?1 AND waiting > 0",
	[ST_HOOK_WAITING] = "SELECT waiting FROM webhook_hooks WHERE hook = ?1",
	/* at start: rows deleted by hand (doc/operator.md) leave the counts right again */
	[ST_HOOK_RECOUNT] = "UPDATE webhook_hooks SET waiting = (SELECT count(*) FROM webhook_outbox o "
		"WHERE o.hook = webhook_hooks.hook)",
	[ST_PENDING_INSERT] = "INSERT INTO pending (request_id, vm_id, port, proto, source, want_ms, expires_ns, extends, "
		"extend_end_ns) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
	[ST_PENDING_OF_REQUEST] = PENDING_COLS " WHERE p.request_id = ?1 ORDER BY p.vm_id, p.port",
	[ST_PENDING_WAITING] = PENDING_COLS " WHERE p.state = 0 ORDER BY r.start_ns, p.request_id, p.vm_id, p.port",
	[ST_PENDING_DUE] = PENDING_COLS " WHERE p.state = 0 AND p.expires_ns <= ?1 "
		"ORDER BY p.expires_ns, p.request_id, p.vm_id, p.port",
	[ST_PENDING_NEXT] = "SELECT min(expires_ns) FROM pending WHERE state = 0 AND expires_ns > ?1",
	[ST_PENDING_DECIDE] = "UPDATE pending SET state = ?4, decided_ns = ?5 "
		"WHERE request_id = ?1 AND vm_id = ?2 AND port = ?3 AND state = 0",
	/* takes the waiting rows' write locks: concurrent decisions on one request (replicas) go one after the other */
	[ST_PENDING_LOCK] = "UPDATE pending SET state = state WHERE request_id = ?1 AND state = 0",
	[ST_APPROVAL_ADD] = "INSERT INTO approvals (request_id, approver, time_ns) VALUES (?1, ?2, ?3)",
	[ST_APPROVALS_COUNT] = "SELECT count(*) FROM approvals WHERE request_id = ?1",
	/* a monotonic end only in its own boot: the new end on this boot's clock, computed by the caller */
	[ST_GRANT_EXTEND] = "UPDATE grants SET end_ns = ?4, "
		"mono_end_ns = CASE WHEN boot = ?5 THEN ?6 ELSE mono_end_ns END "
		"WHERE request_id = ?1 AND vm_id = ?2 AND port = ?3 AND status = 0 AND end_ns < ?4",
	/* shared sign-in sessions (store-sessions.c) */
	[ST_SESSION_INSERT] = "INSERT INTO sessions (id_hash, key_hash, sso, person, subject, assignments, created_ns, "
		"expires_ns) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
	[ST_SESSION_FIND] = "SELECT id_hash, key_hash, sso, person, subject, assignments, created_ns, expires_ns "
		"FROM sessions WHERE id_hash = ?1 AND expires_ns > ?2",
	[ST_SESSION_END] = "DELETE FROM sessions WHERE id_hash = ?1",
	[ST_SESSIONS_END_KEY] = "DELETE FROM sessions WHERE key_hash = ?1",
	[ST_SESSIONS_OF_PERSON] = "SELECT id_hash, expires_ns FROM sessions WHERE sso = 1 AND lower(person) = lower(?1)",
	[ST_SESSIONS_END_PERSON] = "DELETE FROM sessions WHERE sso = 1 AND lower(person) = lower(?1)",
	/* a key's newest ?2 stay */
	[ST_SESSIONS_KEY_TRIM] = "DELETE FROM sessions WHERE key_hash = ?1 AND id_hash NOT IN (SELECT id_hash "
		"FROM sessions WHERE key_hash = ?1 ORDER BY created_ns DESC, id_hash LIMIT ?2)",
	[ST_SESSIONS_COUNT] = "SELECT count(*) FROM sessions",
	[ST_SESSIONS_DROP_REVOKED] = "DELETE FROM sessions WHERE sso = 0 AND key_hash NOT IN "
		"(SELECT hash FROM tokens WHERE revoked_ns = 0)",
	/* the oldest session of the key holding the most (on a tie, the key with the oldest session) */
	[ST_SESSIONS_DROP_CROWDED] = "DELETE FROM sessions WHERE id_hash = (SELECT id_hash FROM sessions WHERE "
		"key_hash = (SELECT key_hash FROM sessions GROUP BY key_hash ORDER BY count(*) DESC, min(created_ns), "
		"key_hash LIMIT 1) ORDER BY created_ns, id_hash LIMIT 1)",
	[ST_SESSIONS_PRUNE] = "DELETE FROM sessions WHERE id_hash IN (SELECT id_hash FROM sessions "
		"WHERE expires_ns <= ?1 ORDER BY expires_ns LIMIT ?2)",
	[ST_DNAT_PORTS_CLEAR] = "DELETE FROM dnat_ports WHERE policy_id = ?1",
	[ST_DNAT_PORT_ADD] = "INSERT INTO dnat_ports (public_addr, proto, port, policy_id) VALUES (?1, ?2, ?3, ?4)",
	/* the start's backfill: a row already there (this policy's, or another's: a clash) stays as it is */
	[ST_DNAT_PORT_FILL] = "INSERT INTO dnat_ports (public_addr, proto, port, policy_id) VALUES (?1, ?2, ?3, ?4) "
		"ON CONFLICT (public_addr, proto, port) DO NOTHING",
	[ST_DNAT_PORT_HOLDER] = "SELECT policy_id FROM dnat_ports WHERE public_addr = ?1 AND proto = ?2 AND port = ?3",
};

/* An initiate's writes after its supersede: they go with its mark's keep on PostgreSQL (store-pg.c). */
const bool stmt_deferrable[ST__MAX] = {
	[ST_REQUEST_INSERT] = true,
	[ST_REQUEST_INSERT_AS_READ] = true,
	[ST_GRANT_INSERT] = true,
	[ST_GRANTS_SUPERSEDE_HELD] = true,
	[ST_ACTIVITY_INSERT_QUIET] = true,
};

/*
 * PostgreSQL's text where the dialects disagree (doc/store-backends.md); every other statement is
 * stmt_sql's, with ?N made $N and INDEXED BY dropped when it is prepared.
 */
/* SQLite's NOCASE order: ASCII folded, then bytes (ICU's case-insensitive order puts punctuation elsewhere) */
#define NOCASE_ORDER(col) "lower(" col ") COLLATE \"C\""

const char *const stmt_sql_pg[ST__MAX] = {
	/* one writer at a time, as BEGIN IMMEDIATE on SQLite: the rules checked in a write transaction hold across replicas */
	/* and, once the lock is had, the activity chain's head, in the same round trip (store_pg's begun_chain_head) */
	[ST_BEGIN] = "BEGIN ISOLATION LEVEL READ COMMITTED; SELECT pg_advisory_xact_lock(" STORE_PG_WRITERS_LOCK "); " CHAIN_HEAD " FOR UPDATE",
	/* the same if the lock is free now, else no row (store-pg.c ends the transaction: -EAGAIN); migration 16 */
	[ST_BEGIN_TRY] = "BEGIN ISOLATION LEVEL READ COMMITTED; SELECT * FROM writers_lock_try()",
	[ST_BEGIN_READ] = "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY",
	[ST_VM_INSERT] = "INSERT INTO vms (subscription, resource_group, name, location, os_type, point, addrs, "
		"unsupported_reason, created_ns) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) RETURNING id",
	[ST_VM_LIST] = VM_COLS " ORDER BY " NOCASE_ORDER("subscription") ", " NOCASE_ORDER("resource_group") ", "
		NOCASE_ORDER("name") ", id",
	[ST_POLICY_INSERT] = "INSERT INTO policies (subscription, resource_group, location, name, json, "
		"created_ns, updated_ns) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6) RETURNING id",
	[ST_POLICY_LIST] = POLICY_COLS " ORDER BY " NOCASE_ORDER("subscription") ", " NOCASE_ORDER("resource_group")
		", " NOCASE_ORDER("location") ", " NOCASE_ORDER("name") ", id",
	/* subqueries in FROM need a name; LIMIT NULL is no limit, where SQLite's is -1 */
	[ST_REQUESTS_OF_POLICY] = REQUESTS_OF_POLICY("nullif(?3, -1)", " AS ended", " AS q"),
	[ST_ACTIVITY_INSERT] = "INSERT INTO activity (time_ns, caller, caller_addr, operation, resource_id, "
		"status, detail, justification, correlation_id, seq, hash, caller_subject) "
		"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) RETURNING id",
	/* the row lock keeps the chain linear even for a writer that skipped the advisory lock */
	[ST_CHAIN_HEAD] = CHAIN_HEAD " FOR UPDATE",
	[ST_TOKEN_LIST] = TOKEN_COLS " ORDER BY " NOCASE_ORDER("name"),
	[ST_TERMINATIONS_OF_VM] = "SELECT request_id, port, proto, source, revision, time_ns FROM (SELECT * FROM "
		"terminations WHERE vm_id = ?1 AND time_ns >= ?2 ORDER BY id DESC LIMIT ?3) AS newest ORDER BY id",
	/* request_as_read (migration 15): 40001 (-EBUSY, a 503: try again) if the policy or the token was written since */
	[ST_REQUEST_INSERT_AS_READ] = "INSERT INTO requests (id, policy_id, requestor, requestor_addr, start_ns, "
		"justification, requestor_subject) VALUES (?1, request_as_read(?2, ?8, ?3), ?3, ?4, ?5, ?6, ?7)",
};

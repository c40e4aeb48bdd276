/* Opening a store: the connection's settings, the schema's numbered migrations and the version check of a read-only open. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "store-internal.h"
#include "store-pg.h"

/*
 * Schema migrations: migrations[i] takes a database from user_version i to i + 1,
 * each in its own transaction. Append only; never edit one that has shipped.
 *
 * Ids of VMs, policies and activity rows are AUTOINCREMENT so that a deleted
 * row's id is never handed out again: grants and requests keep pointing at the
 * VM and policy ids they were made for, and src/fw keys kernel state by VM id.
 * Requests and grants have no foreign key to policies or VMs on purpose: they
 * are history and outlive both.
 */
/* SQL: is the VM with this id an agent VM (point 2)? For the fleet triggers of migration 6. */
#define AGENT_VM(id) "(SELECT point FROM vms WHERE id = " id ") = 2"

static const char *const migrations[] = {
	/* 1: the initial schema. */

	/* vms: the machines jitgate protects. ARM names are case-insensitive, hence NOCASE. */
	"CREATE TABLE vms (\n"
	"	id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
	"	subscription TEXT NOT NULL COLLATE NOCASE,\n"
	"	resource_group TEXT NOT NULL COLLATE NOCASE,\n"
	"	name TEXT NOT NULL COLLATE NOCASE,\n"
	"	location TEXT NOT NULL,\n"
	"	os_type TEXT NOT NULL,\n"
	"	point INTEGER NOT NULL CHECK (point IN (0, 1)),	-- 0 local, 1 gateway\n"
	"	addrs TEXT NOT NULL DEFAULT '',			-- canonical addresses, space-separated\n"
	"	unsupported_reason TEXT NOT NULL DEFAULT '',	-- empty when supported\n"
	"	created_ns INTEGER NOT NULL,\n"
	"	UNIQUE (subscription, resource_group, name)\n"
	");\n"

	/* policies: JIT policies; json is the policy as the API returns it, minus its requests. */
	"CREATE TABLE policies (\n"
	"	id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
	"	subscription TEXT NOT NULL COLLATE NOCASE,\n"
	"	resource_group TEXT NOT NULL COLLATE NOCASE,\n"
	"	location TEXT NOT NULL COLLATE NOCASE,\n"
	"	name TEXT NOT NULL COLLATE NOCASE,\n"
	"	json TEXT NOT NULL,\n"
	"	created_ns INTEGER NOT NULL,\n"
	"	updated_ns INTEGER NOT NULL,\n"
	"	UNIQUE (subscription, resource_group, location, name)\n"
	");\n"

	/* policy_vms: which policy holds a VM; vm_id is the key, so a VM is in at most one policy. */
	"CREATE TABLE policy_vms (\n"
	"	vm_id INTEGER PRIMARY KEY REFERENCES vms (id),\n"
	"	policy_id INTEGER NOT NULL REFERENCES policies (id) ON DELETE CASCADE\n"
	");\n"
	"CREATE INDEX policy_vms_policy ON policy_vms (policy_id);\n"

	/* requests: one initiate call each; id is the request's UUID. */
	"CREATE TABLE requests (\n"
	"	id TEXT PRIMARY KEY,\n"
	"	policy_id INTEGER NOT NULL,\n"
	"	requestor TEXT NOT NULL,\n"
	"	requestor_addr TEXT NOT NULL,\n"
	"	start_ns INTEGER NOT NULL,\n"
	"	justification TEXT NOT NULL\n"
	");\n"
	"CREATE INDEX requests_policy_start ON requests (policy_id, start_ns);\n"

	/* grants: one port of one VM in one request, and what became of it. */
	"CREATE TABLE grants (\n"
	"	request_id TEXT NOT NULL REFERENCES requests (id) ON DELETE CASCADE,\n"
	"	vm_id INTEGER NOT NULL,\n"
	"	port INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),\n"
	"	proto INTEGER NOT NULL CHECK (proto IN (0, 6, 17)),	-- enum net_proto: IP protocol numbers, 0 both\n"
	"	source TEXT NOT NULL,				-- '*' or a prefix, as net_source_format writes it\n"
	"	end_ns INTEGER NOT NULL,\n"
	"	status INTEGER NOT NULL CHECK (status IN (0, 1)),	-- 0 Initiated, 1 Revoked\n"
	"	reason INTEGER NOT NULL CHECK (reason BETWEEN 0 AND 3),	-- none, UserRequested, Expired, NewerRequestInitiated\n"
	"	ended_ns INTEGER NOT NULL DEFAULT 0,		-- when it became Revoked; 0 while Initiated\n"
	"	PRIMARY KEY (request_id, vm_id, port)\n"
	");\n"
	"CREATE INDEX grants_initiated ON grants (status) WHERE status = 0;\n"
	"CREATE INDEX grants_vm ON grants (vm_id);\n"

	/* activity: the append-only log of who did what to which resource. */
	"CREATE TABLE activity (\n"
	"	id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
	"	time_ns INTEGER NOT NULL,\n"
	"	caller TEXT NOT NULL,\n"
	"	caller_addr TEXT NOT NULL,\n"
	"	operation TEXT NOT NULL,\n"
	"	resource_id TEXT NOT NULL,\n"
	"	status TEXT NOT NULL,\n"
	"	detail TEXT NOT NULL,\n"
	"	justification TEXT NOT NULL,\n"
	"	correlation_id TEXT NOT NULL\n"
	");\n"
	"CREATE INDEX activity_time ON activity (time_ns);\n"
	"CREATE INDEX activity_caller ON activity (caller);\n"
	"CREATE INDEX activity_resource ON activity (resource_id COLLATE NOCASE);\n"

	/* tokens: bearer tokens, kept only as the SHA-256 of the secret; revoked ones stay, names are never reused. */
	"CREATE TABLE tokens (\n"
	"	name TEXT PRIMARY KEY COLLATE NOCASE,\n"
	"	hash BLOB NOT NULL UNIQUE CHECK (length(hash) = 32),\n"
	"	role TEXT NOT NULL,\n"
	"	scope TEXT NOT NULL,\n"
	"	created_ns INTEGER NOT NULL,\n"
	"	revoked_ns INTEGER NOT NULL DEFAULT 0		-- 0 while valid\n"
	");\n",

	/* 2: the expiry timer and initiate's supersede look-up, without scanning every live grant. */
	"CREATE INDEX grants_initiated_end ON grants (end_ns) WHERE status = 0;\n"
	"CREATE INDEX requests_requestor ON requests (requestor);\n",

	/*
	 * 3: each grant carries its request's requestor, so initiate's supersede look-up reads
	 * only that requestor's live grants (an index of live grants only) and not their whole
	 * history of requests. Copied once from requests for grants stored before.
	 */
	"ALTER TABLE grants ADD COLUMN requestor TEXT NOT NULL DEFAULT '';\n"
	"UPDATE grants SET requestor = coalesce((SELECT r.requestor FROM requests r WHERE r.id = grants.request_id), '');\n"
	"CREATE INDEX grants_live_requestor ON grants (requestor, vm_id, port) WHERE status = 0;\n"
	/* and revoke finds the live grants on one port of one VM without reading all of them */
	"CREATE INDEX grants_live_vm_port ON grants (vm_id, port) WHERE status = 0;\n",

	/*
	 * 4: two more reasons a grant ends: TokenRevoked (4) and PolicyChanged (5). SQLite cannot
	 * change a CHECK in place, so the table is made again with every row and index.
	 */
	"CREATE TABLE grants_new (\n"
	"	request_id TEXT NOT NULL REFERENCES requests (id) ON DELETE CASCADE,\n"
	"	vm_id INTEGER NOT NULL,\n"
	"	port INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),\n"
	"	proto INTEGER NOT NULL CHECK (proto IN (0, 6, 17)),	-- enum net_proto: IP protocol numbers, 0 both\n"
	"	source TEXT NOT NULL,				-- '*' or a prefix, as net_source_format writes it\n"
	"	end_ns INTEGER NOT NULL,\n"
	"	status INTEGER NOT NULL CHECK (status IN (0, 1)),	-- 0 Initiated, 1 Revoked\n"
	"	reason INTEGER NOT NULL CHECK (reason BETWEEN 0 AND 5),	-- enum store_grant_reason\n"
	"	ended_ns INTEGER NOT NULL DEFAULT 0,		-- when it became Revoked; 0 while Initiated\n"
	"	requestor TEXT NOT NULL DEFAULT '',\n"
	"	PRIMARY KEY (request_id, vm_id, port)\n"
	");\n"
	"INSERT INTO grants_new (request_id, vm_id, port, proto, source, end_ns, status, reason, ended_ns, requestor) "
	"SELECT request_id, vm_id, port, proto, source, end_ns, status, reason, ended_ns, requestor FROM grants;\n"
	"DROP TABLE grants;\n"
	"ALTER TABLE grants_new RENAME TO grants;\n"
	"CREATE INDEX grants_initiated ON grants (status) WHERE status = 0;\n"
	"CREATE INDEX grants_vm ON grants (vm_id);\n"
	"CREATE INDEX grants_initiated_end ON grants (end_ns) WHERE status = 0;\n"
	"CREATE INDEX grants_live_requestor ON grants (requestor, vm_id, port) WHERE status = 0;\n"
	"CREATE INDEX grants_live_vm_port ON grants (vm_id, port) WHERE status = 0;\n",

	/*
	 * 5: the boot a grant was made in (/proc/sys/kernel/random/boot_id) and its end on that boot's
	 * CLOCK_MONOTONIC, so that a wall clock stepped back stretches no grant, across restarts too.
	 * Grants stored before have neither ('' and 0): the wall clock is all they have.
	 */
	"ALTER TABLE grants ADD COLUMN boot TEXT NOT NULL DEFAULT '';\n"
	"ALTER TABLE grants ADD COLUMN mono_end_ns INTEGER NOT NULL DEFAULT 0;\n"
	"CREATE INDEX grants_live_mono_end ON grants (boot, mono_end_ns) WHERE status = 0;\n",

	/*
	 * 6: the fleet (doc/agent-protocol.md). A third enforcement point, 2 = a host running
	 * jitgate-agent; SQLite cannot change a CHECK in place, so vms is made again (its links
	 * from policy_vms set aside meanwhile: foreign keys stay on). Each VM gets a revision that
	 * every write touching it moves in the same transaction (the triggers below, so no writer
	 * can forget) to the next value of one counter for the whole table (fleet_revision; a
	 * deleted VM takes no value back): "which VMs changed since R" is one indexed read, which
	 * the watches ask after each write. Each grant keeps the revision that made it and when its agent applied it. Join
	 * tokens and agent credentials are kept, like API tokens, only as hashes.
	 */
	"CREATE TABLE vms_new (\n"
	"	id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
	"	subscription TEXT NOT NULL COLLATE NOCASE,\n"
	"	resource_group TEXT NOT NULL COLLATE NOCASE,\n"
	"	name TEXT NOT NULL COLLATE NOCASE,\n"
	"	location TEXT NOT NULL,\n"
	"	os_type TEXT NOT NULL,\n"
	"	point INTEGER NOT NULL CHECK (point IN (0, 1, 2)),	-- 0 local, 1 gateway, 2 agent\n"
	"	addrs TEXT NOT NULL DEFAULT '',			-- canonical addresses, space-separated\n"
	"	unsupported_reason TEXT NOT NULL DEFAULT '',	-- empty when supported\n"
	"	created_ns INTEGER NOT NULL,\n"
	"	revision INTEGER NOT NULL DEFAULT 0,\n"
	"	UNIQUE (subscription, resource_group, name)\n"
	");\n"
	"INSERT INTO vms_new (id, subscription, resource_group, name, location, os_type, point, addrs, "
	"unsupported_reason, created_ns) SELECT id, subscription, resource_group, name, location, os_type, point, "
	"addrs, unsupported_reason, created_ns FROM vms;\n"
	/* AUTOINCREMENT's high-water mark moves with the rows: a deleted VM's id is still never reused */
	"UPDATE sqlite_sequence SET seq = max(seq, coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'vms'), 0)) "
	"WHERE name = 'vms_new';\n"
	"CREATE TEMP TABLE policy_vms_kept AS SELECT vm_id, policy_id FROM policy_vms;\n"
	"DELETE FROM policy_vms;\n"
	"DROP TABLE vms;\n"
	"ALTER TABLE vms_new RENAME TO vms;\n"
	"INSERT INTO policy_vms (vm_id, policy_id) SELECT vm_id, policy_id FROM policy_vms_kept;\n"
	"DROP TABLE policy_vms_kept;\n"

	"CREATE INDEX vms_revision ON vms (revision);\n"
	"CREATE TABLE fleet_revision (n INTEGER NOT NULL);\n"
	"INSERT INTO fleet_revision (n) VALUES (0);\n"
	"ALTER TABLE grants ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;\n"
	"ALTER TABLE grants ADD COLUMN applied_ns INTEGER NOT NULL DEFAULT 0;\n"
	"CREATE INDEX grants_unapplied ON grants (vm_id, revision) WHERE applied_ns = 0 AND status = 0;\n"

	/*
	 * the revision: a new grant, a grant ended or moved, a VM joining or leaving a policy, a policy's rules,
	 * the VM itself. Only agent VMs are watched, so only theirs move: a grant of a local or gateway VM costs
	 * one look-up of its VM here, not three writes (a bulk of 100,000 grants loads 1.5 times slower otherwise).
	 */
	"CREATE TRIGGER grant_added AFTER INSERT ON grants WHEN " AGENT_VM("NEW.vm_id") " BEGIN\n"
	"	UPDATE fleet_revision SET n = n + 1;\n"
	"	UPDATE vms SET revision = (SELECT n FROM fleet_revision) WHERE id = NEW.vm_id;\n"
	"	UPDATE grants SET revision = (SELECT revision FROM vms WHERE id = NEW.vm_id) WHERE rowid = NEW.rowid;\n"
	"END;\n"
	"CREATE TRIGGER grant_changed AFTER UPDATE OF status, end_ns, mono_end_ns ON grants WHEN " AGENT_VM("NEW.vm_id")
	" BEGIN\n"
	"	UPDATE fleet_revision SET n = n + 1;\n"
	"	UPDATE vms SET revision = (SELECT n FROM fleet_revision) WHERE id = NEW.vm_id;\n"
	"END;\n"
	"CREATE TRIGGER policy_vm_added AFTER INSERT ON policy_vms WHEN " AGENT_VM("NEW.vm_id") " BEGIN\n"
	"	UPDATE fleet_revision SET n = n + 1;\n"
	"	UPDATE vms SET revision = (SELECT n FROM fleet_revision) WHERE id = NEW.vm_id;\n"
	"END;\n"
	"CREATE TRIGGER policy_vm_removed AFTER DELETE ON policy_vms WHEN " AGENT_VM("OLD.vm_id") " BEGIN\n"
	"	UPDATE fleet_revision SET n = n + 1;\n"
	"	UPDATE vms SET revision = (SELECT n FROM fleet_revision) WHERE id = OLD.vm_id;\n"
	"END;\n"
	"CREATE TRIGGER policy_changed AFTER UPDATE OF json ON policies BEGIN\n"
	"	UPDATE fleet_revision SET n = n + 1;\n"
	"	UPDATE vms SET revision = (SELECT n FROM fleet_revision) WHERE point = 2 AND\n"
	"		id IN (SELECT vm_id FROM policy_vms WHERE policy_id = NEW.id);\n"
	"END;\n"
	"CREATE TRIGGER vm_changed AFTER UPDATE OF location, os_type, point, addrs, unsupported_reason ON vms\n"
	"	WHEN NEW.point = 2 BEGIN\n"
	"	UPDATE fleet_revision SET n = n + 1;\n"
	"	UPDATE vms SET revision = (SELECT n FROM fleet_revision) WHERE id = NEW.id;\n"
	"END;\n"

	/* join_tokens: what an Owner hands to a new host; good for `uses_left` joins into one resource group until expires_ns */
	"CREATE TABLE join_tokens (\n"
	"	id TEXT PRIMARY KEY COLLATE NOCASE,\n"
	"	hash BLOB NOT NULL UNIQUE CHECK (length(hash) = 32),\n"
	"	subscription TEXT NOT NULL COLLATE NOCASE,\n"
	"	resource_group TEXT NOT NULL COLLATE NOCASE,\n"
	"	uses_left INTEGER NOT NULL CHECK (uses_left >= 0),\n"
	"	expires_ns INTEGER NOT NULL,\n"
	"	created_ns INTEGER NOT NULL,\n"
	"	created_by TEXT NOT NULL,\n"
	"	revoked_ns INTEGER NOT NULL DEFAULT 0		-- 0 while valid\n"
	");\n"

	/*
	 * agents: the credential of the agent enforcing an agent VM (one per VM; a re-join after a revoke
	 * replaces it), the previous one while a rotation is unconfirmed, and what the agent last reported.
	 */
	"CREATE TABLE agents (\n"
	"	vm_id INTEGER PRIMARY KEY,\n"
	"	hash BLOB NOT NULL UNIQUE CHECK (length(hash) = 32),\n"
	"	prev_hash BLOB CHECK (prev_hash IS NULL OR length(prev_hash) = 32),\n"
	"	join_token TEXT NOT NULL,\n"
	"	joined_ns INTEGER NOT NULL,\n"
	"	revoked_ns INTEGER NOT NULL DEFAULT 0,		-- 0 while valid\n"
	"	seen_ns INTEGER NOT NULL DEFAULT 0,		-- its last status\n"
	"	applied_revision INTEGER NOT NULL DEFAULT -1,\n"
	"	version TEXT NOT NULL DEFAULT '',\n"
	"	supported INTEGER NOT NULL DEFAULT 1,\n"
	"	reason TEXT NOT NULL DEFAULT '',		-- why its kernel cannot hold the table\n"
	"	listening TEXT NOT NULL DEFAULT '',		-- management ports with a listener: 'TCP/22 UDP/3389'\n"
	"	tamper_undone INTEGER NOT NULL DEFAULT 0,\n"
	"	last_error TEXT NOT NULL DEFAULT ''		-- the last state it refused\n"
	");\n"
	"CREATE UNIQUE INDEX agents_prev_hash ON agents (prev_hash) WHERE prev_hash IS NOT NULL;\n",

	/*
	 * 7: terminations: a revoke with terminateSessions of an agent VM's grant, kept (with the VM's
	 * revision after the revoke) for the agent to end that grant's open sessions (doc/agent-protocol.md).
	 * Pruned as each is added: the newest STORE_TERMINATIONS_MAX per VM within STORE_TERMINATION_KEEP_NS.
	 */
	"CREATE TABLE terminations (\n"
	"	id INTEGER PRIMARY KEY,\n"
	"	vm_id INTEGER NOT NULL REFERENCES vms (id) ON DELETE CASCADE,\n"
	"	request_id TEXT NOT NULL,\n"
	"	port INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),\n"
	"	proto INTEGER NOT NULL CHECK (proto IN (0, 6, 17)),\n"
	"	source TEXT NOT NULL,\n"
	"	revision INTEGER NOT NULL,\n"
	"	time_ns INTEGER NOT NULL\n"
	");\n"
	"CREATE INDEX terminations_of_vm ON terminations (vm_id, id);\n",

	/*
	 * 8: nothing. PostgreSQL's 8 announces every write to the other replicas sharing its database;
	 * SQLite's one writer is this process, so there is nobody to tell.
	 */
	"",

	/*
	 * 9: the tamper-evident activity log and retention (doc/operator.md, "Audit verification" and
	 * "Retention"). Each entry gets its place in the chain (seq) and the SHA-256 of its canonical form
	 * with the previous entry's hash (store-chain.c); audit_chain (one row) keeps the anchor (the last
	 * entry outside the chain: pruned, or written before this migration, whose rows have no seq) and
	 * the head (the newest entry's seq and hash). The chain starts here: anchor and head are the
	 * newest entry so far, with hash zero. requests_start lets retention find old requests.
	 */
	"ALTER TABLE activity ADD COLUMN seq INTEGER;\n"
	"ALTER TABLE activity ADD COLUMN hash BLOB;\n"
	"CREATE TABLE audit_chain (\n"
	"	anchor_id INTEGER NOT NULL,	-- entries up to this id are outside the chain\n"
	"	anchor_seq INTEGER NOT NULL,\n"
	"	anchor_hash BLOB NOT NULL CHECK (length(anchor_hash) = 32),\n"
	"	head_seq INTEGER NOT NULL,\n"
	"	head_hash BLOB NOT NULL CHECK (length(head_hash) = 32)\n"
	");\n"
	"INSERT INTO audit_chain SELECT coalesce(max(id), 0), 0, zeroblob(32), 0, zeroblob(32) FROM activity;\n"
	/* the head follows each entry appended, in the same statement; only forward (a row put back moves nothing) */
	"CREATE TRIGGER activity_chained AFTER INSERT ON activity WHEN NEW.seq IS NOT NULL BEGIN\n"
	"	UPDATE audit_chain SET head_seq = NEW.seq, head_hash = NEW.hash WHERE head_seq < NEW.seq;\n"
	"END;\n"
	"CREATE INDEX requests_start ON requests (start_ns);\n",

	/*
	 * 10: webhook notifications (issue 16): the outbox of events still to deliver, one row per hook
	 * and event, written in the transaction of the activity entry it comes from (a restart loses
	 * none); ids in insertion order, never reused, are each hook's delivery order. Each hook's
	 * delivery state (failing or not, what failed last, events dropped when its outbox was full, and
	 * how many wait, kept with each insert and delete so that the limit is checked without a count).
	 */
	"CREATE TABLE webhook_outbox (\n"
	"	id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
	"	hook TEXT NOT NULL,\n"
	"	event_id TEXT NOT NULL,\n"
	"	event TEXT NOT NULL,\n"
	"	activity_id INTEGER NOT NULL REFERENCES activity (id),\n"
	"	attempts INTEGER NOT NULL DEFAULT 0,\n"
	"	next_ns INTEGER NOT NULL DEFAULT 0,		-- not tried again before\n"
	"	lease_ns INTEGER NOT NULL DEFAULT 0		-- being delivered until (by one replica)\n"
	");\n"
	"CREATE INDEX webhook_outbox_of_hook ON webhook_outbox (hook, id);\n"
	"CREATE TABLE webhook_hooks (\n"
	"	hook TEXT PRIMARY KEY,\n"
	"	failing INTEGER NOT NULL DEFAULT 0,\n"
	"	failures INTEGER NOT NULL DEFAULT 0,		-- in a row\n"
	"	last_error TEXT NOT NULL DEFAULT '',\n"
	"	last_ok_ns INTEGER NOT NULL DEFAULT 0,\n"
	"	last_fail_ns INTEGER NOT NULL DEFAULT 0,\n"
	"	dropped INTEGER NOT NULL DEFAULT 0,\n"
	"	waiting INTEGER NOT NULL DEFAULT 0		-- its rows in webhook_outbox: a count that costs no scan\n"
	");\n",

	/*
	 * 11: single sign-on (OpenID Connect): who asked, by the identity provider's subject (sub) beside the
	 * person's name in requestor/caller; '' for tokens, agents and jitgated itself.
	 */
	"ALTER TABLE activity ADD COLUMN caller_subject TEXT NOT NULL DEFAULT '';\n"
	"ALTER TABLE requests ADD COLUMN requestor_subject TEXT NOT NULL DEFAULT '';\n",

	/*
	 * 12: approvals (issue 16). A port whose rule needs approval waits in `pending` (not in grants, so
	 * nothing that opens, reconciles or expires grants sees it) until its request has enough approvals
	 * (one row per approver: nobody approves twice); then its grant is written with opened_ns, the
	 * moment it opened, from which an extend counts the rule's maximum. expires_ns: when a Pending ask
	 * lapses. want_ms: how long it opens for, from the last approval. An extension of a grant whose
	 * rule needs approval is a request of its own, whose ports name the grant's request (extends) and the end asked for.
	 */
	"CREATE TABLE pending (\n"
	"	request_id TEXT NOT NULL REFERENCES requests (id) ON DELETE CASCADE,\n"
	"	vm_id INTEGER NOT NULL,\n"
	"	port INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),\n"
	"	proto INTEGER NOT NULL CHECK (proto IN (0, 6, 17)),\n"
	"	source TEXT NOT NULL,\n"
	"	want_ms INTEGER NOT NULL CHECK (want_ms > 0),\n"
	"	expires_ns INTEGER NOT NULL,\n"
	"	state INTEGER NOT NULL DEFAULT 0 CHECK (state IN (0, 1, 2, 3)),	-- Pending, Approved, Denied, Expired\n"
	"	decided_ns INTEGER NOT NULL DEFAULT 0,\n"
	"	extends TEXT NOT NULL DEFAULT '',		-- an extension: the request whose grant it extends\n"
	"	extend_end_ns INTEGER NOT NULL DEFAULT 0,	-- and to when\n"
	"	PRIMARY KEY (request_id, vm_id, port)\n"
	");\n"
	"CREATE INDEX pending_open ON pending (expires_ns) WHERE state = 0;\n"
	"CREATE TABLE approvals (\n"
	"	request_id TEXT NOT NULL REFERENCES requests (id) ON DELETE CASCADE,\n"
	"	approver TEXT NOT NULL,\n"
	"	time_ns INTEGER NOT NULL,\n"
	"	PRIMARY KEY (request_id, approver)\n"
	");\n"
	"ALTER TABLE grants ADD COLUMN opened_ns INTEGER NOT NULL DEFAULT 0;\n",

	/*
	 * 13: shared sign-in sessions (issue 14): a portal or CLI session, kept here so that every
	 * replica sharing the database accepts it and a sign-out on one is refused by all at once.
	 * id_hash: SHA-256 of the session's secret (the cookie or bearer; the secret is never stored);
	 * key_hash: the token it was made from, or the person's for single sign-on (sso = 1), whose
	 * name, provider subject and role assignments ("role<TAB>scope" lines) are kept with it.
	 */
	"CREATE TABLE sessions (\n"
	"	id_hash BLOB PRIMARY KEY CHECK (length(id_hash) = 32),\n"
	"	key_hash BLOB NOT NULL CHECK (length(key_hash) = 32),\n"
	"	sso INTEGER NOT NULL CHECK (sso IN (0, 1)),\n"
	"	person TEXT NOT NULL DEFAULT '',\n"
	"	subject TEXT NOT NULL DEFAULT '',\n"
	"	assignments TEXT NOT NULL DEFAULT '',\n"
	"	created_ns INTEGER NOT NULL,\n"
	"	expires_ns INTEGER NOT NULL\n"
	");\n"
	"CREATE INDEX sessions_of_key ON sessions (key_hash, created_ns);\n"
	"CREATE INDEX sessions_expiry ON sessions (expires_ns);\n",

	/*
	 * 14: gateway DNAT's mapped ports, unique (session 6, the review): one row per public address,
	 * protocol (a "*" rule takes its port for TCP and UDP: two rows) and mapped port, held by one policy.
	 * The API picks ports from what it reads; two replicas writing at once meet here, the later refused.
	 * Mappings written before this migration become rows at jitgated's next start (api_dnat_backfill).
	 */
	"CREATE TABLE dnat_ports (\n"
	"	public_addr TEXT NOT NULL,\n"
	"	proto INTEGER NOT NULL CHECK (proto IN (6, 17)),\n"
	"	port INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),\n"
	"	policy_id INTEGER NOT NULL REFERENCES policies (id) ON DELETE CASCADE,\n"
	"	PRIMARY KEY (public_addr, proto, port)\n"
	");\n"
	"CREATE INDEX dnat_ports_of_policy ON dnat_ports (policy_id);\n",

	/*
	 * 15: PostgreSQL gives an agent VM one new revision per write transaction rather than one per
	 * grant written (issue 14's throughput). SQLite has one writer and keeps its triggers: nothing here.
	 */
	"SELECT 1;\n",
	/*
	 * 16: the live grants' indexes, fewer and exact (issue 14's throughput). A supersede looks its grants up
	 * by (requestor, vm_id, port) and the rest by (vm_id, port): one index on (vm_id, port, requestor) serves
	 * both exactly, where PostgreSQL had chosen the two-column one and filtered out every other requestor's
	 * grants on the port. grants_initiated repeated grants_initiated_end for every scan of the live grants.
	 * Each INSERT of a grant now keeps six indexes, not eight.
	 */
	"DROP INDEX grants_initiated;\n"
	"DROP INDEX grants_live_requestor;\n"
	"DROP INDEX grants_live_vm_port;\n"
	"CREATE INDEX grants_live_vm_port ON grants (vm_id, port, requestor) WHERE status = 0;\n"
	/*
	 * and two indexes no statement reads, kept on every insert: requests by requestor (the supersede reads
	 * grants.requestor since migration 3), and the log by resource (its filter is a prefix, substr(...) =,
	 * which no index on the column serves; on PostgreSQL each insert compared ICU collation keys)
	 */
	"DROP INDEX requests_requestor;\n"
	"DROP INDEX activity_resource;\n",
};

#define N_MIGRATIONS ((int)(sizeof(migrations) / sizeof(migrations[0])))
_Static_assert(N_MIGRATIONS == STORE_SCHEMA_VERSION, "STORE_SCHEMA_VERSION counts the migrations");

static int
lite_begin(struct store *st)
{
	return run_cached(st, ST_BEGIN);
}

static int
lite_version(struct store *st, int64_t *ret)
{
	return query_one(st, "PRAGMA user_version", ret, NULL, 0);
}

static int
lite_set_version(struct store *st, int64_t version)
{
	char sql[64];

	snprintf(sql, sizeof(sql), "PRAGMA user_version = %lld", (long long)version);
	return exec_sql(st, sql);
}

static const struct store_schema lite_schema = {
	.migrations = migrations,
	.begin = lite_begin,
	.version = lite_version,
	.set_version = lite_set_version,
	.exec = exec_sql,
};

static int
store_open_flags(const char *path, bool readonly, struct store **ret, struct core_error *err)
{
	struct store *st;
	char mode[16];
	int64_t fk;
	int flags, rc, r;

	st = calloc(1, sizeof(*st));
	if (!st) {
		core_error_set(err, "StoreOpenFailed", NULL, "out of memory");
		return -ENOMEM;
	}
	st->ops = &store_sqlite_ops;
	st->readonly = readonly;
	flags = readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
	flags |= SQLITE_OPEN_NOMUTEX;	/* one thread owns a store */
	rc = sqlite3_open_v2(path, &st->db, flags, NULL);
	if (rc != SQLITE_OK) {
		int e = st->db ? sqlite3_system_errno(st->db) : 0;

		/* The OS's reason (no such directory, permission) says more than "unable to open". */
		r = e > 0 ? -e : (st->db ? sql_fail(st, rc) : -ENOMEM);
		core_error_set(err, "StoreOpenFailed", NULL, "cannot open the database %s: %s", path,
		    st->db ? sqlite3_errmsg(st->db) : "out of memory");
		goto out;
	}
	sqlite3_extended_result_codes(st->db, 1);
	sqlite3_busy_timeout(st->db, STORE_BUSY_TIMEOUT_MS);
#ifdef SQLITE_DBCONFIG_DEFENSIVE
	/* No writable_schema or other ways to corrupt the file through SQL. */
	sqlite3_db_config(st->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
#endif

	if (!readonly) {
		r = query_one(st, "PRAGMA journal_mode = WAL", NULL, mode, sizeof(mode));
		if (r >= 0 && strcmp(mode, "wal") != 0)
			r = set_error(st, -EIO, "journal mode is %s, not wal", mode);
		if (r >= 0)
			r = exec_sql(st, "PRAGMA synchronous = FULL");
		if (r < 0) {
			core_error_set(err, "StoreOpenFailed", NULL, "cannot set up the database %s: %s", path,
			    st->error);
			goto out;
		}
	}
	r = exec_sql(st, "PRAGMA foreign_keys = ON");
	if (r >= 0)
		r = query_one(st, "PRAGMA foreign_keys", &fk, NULL, 0);
	if (r >= 0 && fk != 1)
		r = set_error(st, -EIO, "this SQLite does not enforce foreign keys");
	if (r < 0) {
		core_error_set(err, "StoreOpenFailed", NULL, "cannot set up the database %s: %s", path, st->error);
		goto out;
	}

	r = readonly ? store_schema_check(st, &lite_schema, err) : store_schema_migrate(st, &lite_schema, err);
	if (r < 0)
		goto out;
	*ret = st;
	st = NULL;
	r = 0;
out:
	store_close(st);
	return r;
}

/* A libpq URI opens PostgreSQL (doc/store-backends.md); anything else is an SQLite file. */
int
store_open(const char *path, struct store **ret, struct core_error *err)
{
	if (store_pg_is_uri(path))
		return store_pg_open(path, false, ret, err);
	return store_open_flags(path, false, ret, err);
}

int
store_open_readonly(const char *path, struct store **ret, struct core_error *err)
{
	if (store_pg_is_uri(path))
		return store_pg_open(path, true, ret, err);
	return store_open_flags(path, true, ret, err);
}

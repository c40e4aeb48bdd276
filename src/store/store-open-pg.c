/* Opening a PostgreSQL store: the connection, the schema's numbered migrations (in step with SQLite's) and the version check. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "store-pg.h"

/*
 * pg_migrations[i] takes a database from schema_version i to i + 1, each in its own transaction,
 * and leaves the same tables, columns, constraints and indexes as SQLite's migrations[i] in
 * store-open.c (doc/store-backends.md: BIGINT for INTEGER, BYTEA for BLOB, the collation nocase
 * for COLLATE NOCASE, an identity column for AUTOINCREMENT and for the rowid of requests). Append
 * only, and with SQLite's in the same commit.
 */
static const char *const pg_migrations[] = {
	/* 1: the initial schema. */
	"CREATE COLLATION nocase (provider = icu, locale = 'und-u-ks-level2', deterministic = false);\n"
	"CREATE TABLE vms (\n"
	"	id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n"
	"	subscription TEXT NOT NULL COLLATE nocase,\n"
	"	resource_group TEXT NOT NULL COLLATE nocase,\n"
	"	name TEXT NOT NULL COLLATE nocase,\n"
	"	location TEXT NOT NULL,\n"
	"	os_type TEXT NOT NULL,\n"
	"	point BIGINT NOT NULL CONSTRAINT vms_point_check CHECK (point IN (0, 1)),\n"
	"	addrs TEXT NOT NULL DEFAULT '',\n"
	"	unsupported_reason TEXT NOT NULL DEFAULT '',\n"
	"	created_ns BIGINT NOT NULL,\n"
	"	UNIQUE (subscription, resource_group, name)\n"
	");\n"
	"CREATE TABLE policies (\n"
	"	id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n"
	"	subscription TEXT NOT NULL COLLATE nocase,\n"
	"	resource_group TEXT NOT NULL COLLATE nocase,\n"
	"	location TEXT NOT NULL COLLATE nocase,\n"
	"	name TEXT NOT NULL COLLATE nocase,\n"
	"	json TEXT NOT NULL,\n"
	"	created_ns BIGINT NOT NULL,\n"
	"	updated_ns BIGINT NOT NULL,\n"
	"	UNIQUE (subscription, resource_group, location, name)\n"
	");\n"
	"CREATE TABLE policy_vms (\n"
	"	vm_id BIGINT PRIMARY KEY REFERENCES vms (id),\n"
	"	policy_id BIGINT NOT NULL REFERENCES policies (id) ON DELETE CASCADE\n"
	");\n"
	"CREATE INDEX policy_vms_policy ON policy_vms (policy_id);\n"
	"CREATE TABLE requests (\n"
	"	id TEXT PRIMARY KEY,\n"
	"	policy_id BIGINT NOT NULL,\n"
	"	requestor TEXT NOT NULL,\n"
	"	requestor_addr TEXT NOT NULL,\n"
	"	start_ns BIGINT NOT NULL,\n"
	"	justification TEXT NOT NULL,\n"
	"	rowid BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE	-- SQLite's implicit insertion order\n"
	");\n"
	"CREATE INDEX requests_policy_start ON requests (policy_id, start_ns);\n"
	"CREATE TABLE grants (\n"
	"	request_id TEXT NOT NULL REFERENCES requests (id) ON DELETE CASCADE,\n"
	"	vm_id BIGINT NOT NULL,\n"
	"	port BIGINT NOT NULL CHECK (port BETWEEN 1 AND 65535),\n"
	"	proto BIGINT NOT NULL CHECK (proto IN (0, 6, 17)),\n"
	"	source TEXT NOT NULL,\n"
	"	end_ns BIGINT NOT NULL,\n"
	"	status BIGINT NOT NULL CHECK (status IN (0, 1)),\n"
	"	reason BIGINT NOT NULL CONSTRAINT grants_reason_check CHECK (reason BETWEEN 0 AND 3),\n"
	"	ended_ns BIGINT NOT NULL DEFAULT 0,\n"
	"	PRIMARY KEY (request_id, vm_id, port)\n"
	");\n"
	"CREATE INDEX grants_initiated ON grants (status) WHERE status = 0;\n"
	"CREATE INDEX grants_vm ON grants (vm_id);\n"
	"CREATE TABLE activity (\n"
	"	id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n"
	"	time_ns BIGINT NOT NULL,\n"
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
	"CREATE INDEX activity_resource ON activity (resource_id COLLATE nocase);\n"
	"CREATE TABLE tokens (\n"
	"	name TEXT PRIMARY KEY COLLATE nocase,\n"
	"	hash BYTEA NOT NULL UNIQUE CHECK (octet_length(hash) = 32),\n"
	"	role TEXT NOT NULL,\n"
	"	scope TEXT NOT NULL,\n"
	"	created_ns BIGINT NOT NULL,\n"
	"	revoked_ns BIGINT NOT NULL DEFAULT 0\n"
	");\n",

	/* 2: the expiry timer's and the supersede look-up's indexes. */
	"CREATE INDEX grants_initiated_end ON grants (end_ns) WHERE status = 0;\n"
	"CREATE INDEX requests_requestor ON requests (requestor);\n",

	/* 3: each grant carries its request's requestor. */
	"ALTER TABLE grants ADD COLUMN requestor TEXT NOT NULL DEFAULT '';\n"
	"UPDATE grants SET requestor = coalesce((SELECT r.requestor FROM requests r WHERE r.id = grants.request_id), '');\n"
	"CREATE INDEX grants_live_requestor ON grants (requestor, vm_id, port) WHERE status = 0;\n"
	"CREATE INDEX grants_live_vm_port ON grants (vm_id, port) WHERE status = 0;\n",

	/* 4: TokenRevoked (4) and PolicyChanged (5); PostgreSQL changes a CHECK in place. */
	"ALTER TABLE grants DROP CONSTRAINT grants_reason_check, "
	"ADD CONSTRAINT grants_reason_check CHECK (reason BETWEEN 0 AND 5);\n",

	/* 5: the boot a grant was made in and its end on that boot's CLOCK_MONOTONIC. */
	"ALTER TABLE grants ADD COLUMN boot TEXT NOT NULL DEFAULT '';\n"
	"ALTER TABLE grants ADD COLUMN mono_end_ns BIGINT NOT NULL DEFAULT 0;\n"
	"CREATE INDEX grants_live_mono_end ON grants (boot, mono_end_ns) WHERE status = 0;\n",

	/*
	 * 6: the fleet: agent VMs (point 2), revisions moved by triggers (PL/pgSQL here: a trigger's
	 * WHEN cannot read another table, so the agent test is in the body), join tokens and agents.
	 * Each revision given is also announced, at commit, to every store listening (other replicas'
	 * watches): NOTIFY on STORE_PG_CHANNEL with "VM:REVISION" (store_changes_take).
	 */
	"ALTER TABLE vms DROP CONSTRAINT vms_point_check, ADD CONSTRAINT vms_point_check CHECK (point IN (0, 1, 2));\n"
	"ALTER TABLE vms ADD COLUMN revision BIGINT NOT NULL DEFAULT 0;\n"
	"CREATE INDEX vms_revision ON vms (revision);\n"
	"CREATE TABLE fleet_revision (n BIGINT NOT NULL);\n"
	"INSERT INTO fleet_revision (n) VALUES (0);\n"
	"ALTER TABLE grants ADD COLUMN revision BIGINT NOT NULL DEFAULT 0;\n"
	"ALTER TABLE grants ADD COLUMN applied_ns BIGINT NOT NULL DEFAULT 0;\n"
	"CREATE INDEX grants_unapplied ON grants (vm_id, revision) WHERE applied_ns = 0 AND status = 0;\n"
	/* the next revision to the VM, if it is an agent VM: its new revision, else NULL */
	"CREATE FUNCTION fleet_touch(vm BIGINT) RETURNS BIGINT LANGUAGE plpgsql AS $$\n"
	"DECLARE rev BIGINT;\n"
	"BEGIN\n"
	"	IF (SELECT point FROM vms WHERE id = vm) IS DISTINCT FROM 2 THEN RETURN NULL; END IF;\n"
	"	UPDATE fleet_revision SET n = n + 1 RETURNING n INTO rev;\n"
	"	UPDATE vms SET revision = rev WHERE id = vm;\n"
	"	PERFORM pg_notify('" STORE_PG_CHANNEL "', vm || ':' || rev);\n"
	"	RETURN rev;\n"
	"END $$;\n"
	"CREATE FUNCTION grant_added() RETURNS trigger LANGUAGE plpgsql AS $$\n"
	"BEGIN NEW.revision := coalesce(fleet_touch(NEW.vm_id), NEW.revision); RETURN NEW; END $$;\n"
	"CREATE TRIGGER grant_added BEFORE INSERT ON grants FOR EACH ROW EXECUTE FUNCTION grant_added();\n"
	"CREATE FUNCTION grant_changed() RETURNS trigger LANGUAGE plpgsql AS $$\n"
	"BEGIN PERFORM fleet_touch(NEW.vm_id); RETURN NULL; END $$;\n"
	"CREATE TRIGGER grant_changed AFTER UPDATE OF status, end_ns, mono_end_ns ON grants\n"
	"	FOR EACH ROW EXECUTE FUNCTION grant_changed();\n"
	"CREATE TRIGGER policy_vm_added AFTER INSERT ON policy_vms FOR EACH ROW EXECUTE FUNCTION grant_changed();\n"
	"CREATE FUNCTION policy_vm_removed() RETURNS trigger LANGUAGE plpgsql AS $$\n"
	"BEGIN PERFORM fleet_touch(OLD.vm_id); RETURN NULL; END $$;\n"
	"CREATE TRIGGER policy_vm_removed AFTER DELETE ON policy_vms FOR EACH ROW EXECUTE FUNCTION policy_vm_removed();\n"
	/* one new revision for all the policy's agent VMs, as SQLite's trigger gives them */
	"CREATE FUNCTION policy_changed() RETURNS trigger LANGUAGE plpgsql AS $$\n"
	"DECLARE rev BIGINT;\n"
	"BEGIN\n"
	"	UPDATE fleet_revision SET n = n + 1 RETURNING n INTO rev;\n"
	"	UPDATE vms SET revision = rev WHERE point = 2 AND\n"
	"		id IN (SELECT vm_id FROM policy_vms WHERE policy_id = NEW.id);\n"
	"	PERFORM pg_notify('" STORE_PG_CHANNEL "', id || ':' || rev) FROM vms WHERE point = 2 AND\n"
	"		id IN (SELECT vm_id FROM policy_vms WHERE policy_id = NEW.id);\n"
	"	RETURN NULL;\n"
	"END $$;\n"
	"CREATE TRIGGER policy_changed AFTER UPDATE OF json ON policies FOR EACH ROW EXECUTE FUNCTION policy_changed();\n"
	"CREATE FUNCTION vm_changed() RETURNS trigger LANGUAGE plpgsql AS $$\n"
	"BEGIN PERFORM fleet_touch(NEW.id); RETURN NULL; END $$;\n"
	"CREATE TRIGGER vm_changed AFTER UPDATE OF location, os_type, point, addrs, unsupported_reason ON vms\n"
	"	FOR EACH ROW WHEN (NEW.point = 2) EXECUTE FUNCTION vm_changed();\n"
	"CREATE TABLE join_tokens (\n"
	"	id TEXT PRIMARY KEY COLLATE nocase,\n"
	"	hash BYTEA NOT NULL UNIQUE CHECK (octet_length(hash) = 32),\n"
	"	subscription TEXT NOT NULL COLLATE nocase,\n"
	"	resource_group TEXT NOT NULL COLLATE nocase,\n"
	"	uses_left BIGINT NOT NULL CHECK (uses_left >= 0),\n"
	"	expires_ns BIGINT NOT NULL,\n"
	"	created_ns BIGINT NOT NULL,\n"
	"	created_by TEXT NOT NULL,\n"
	"	revoked_ns BIGINT NOT NULL DEFAULT 0\n"
	");\n"
	"CREATE TABLE agents (\n"
	"	vm_id BIGINT PRIMARY KEY,\n"
	"	hash BYTEA NOT NULL UNIQUE CHECK (octet_length(hash) = 32),\n"
	"	prev_hash BYTEA CHECK (prev_hash IS NULL OR octet_length(prev_hash) = 32),\n"
	"	join_token TEXT NOT NULL,\n"
	"	joined_ns BIGINT NOT NULL,\n"
	"	revoked_ns BIGINT NOT NULL DEFAULT 0,\n"
	"	seen_ns BIGINT NOT NULL DEFAULT 0,\n"
	"	applied_revision BIGINT NOT NULL DEFAULT -1,\n"
	"	version TEXT NOT NULL DEFAULT '',\n"
	"	supported BIGINT NOT NULL DEFAULT 1,\n"
	"	reason TEXT NOT NULL DEFAULT '',\n"
	"	listening TEXT NOT NULL DEFAULT '',\n"
	"	tamper_undone BIGINT NOT NULL DEFAULT 0,\n"
	"	last_error TEXT NOT NULL DEFAULT ''\n"
	");\n"
	"CREATE UNIQUE INDEX agents_prev_hash ON agents (prev_hash) WHERE prev_hash IS NOT NULL;\n",

	/* 7: terminations (SQLite's migration 7); ids in insertion order, never reused */
	"CREATE TABLE terminations (\n"
	"	id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n"
	"	vm_id BIGINT NOT NULL REFERENCES vms (id) ON DELETE CASCADE,\n"
	"	request_id TEXT NOT NULL,\n"
	"	port BIGINT NOT NULL CHECK (port BETWEEN 1 AND 65535),\n"
	"	proto BIGINT NOT NULL CHECK (proto IN (0, 6, 17)),\n"
	"	source TEXT NOT NULL,\n"
	"	revision BIGINT NOT NULL,\n"
	"	time_ns BIGINT NOT NULL\n"
	");\n"
	"CREATE INDEX terminations_of_vm ON terminations (vm_id, id);\n",

	/*
	 * 8: replicas (SQLite's 8 is empty: its one writer is this process). Every committed write is
	 * announced on STORE_PG_WRITES_CHANNEL with its table's name, so the caches of the other
	 * jitgated sharing the database drop what they kept (store_generation). Per statement, and
	 * PostgreSQL sends one of equal announcements per transaction: a batch of initiates costs two.
	 */
	/*
	 * An agent revoked on one replica while its watch is parked on another: its VM is given a
	 * revision, so that replica wakes the watch, which then finds the credential revoked and answers
	 * 401 at once (api_watch_kick does this within one replica; SQLite has only that one).
	 */
	"CREATE FUNCTION agent_revoked() RETURNS trigger LANGUAGE plpgsql AS $$\n"
	"BEGIN PERFORM fleet_touch(NEW.vm_id); RETURN NULL; END $$;\n"
	"CREATE TRIGGER agent_revoked AFTER UPDATE OF revoked_ns ON agents FOR EACH ROW\n"
	"	WHEN (OLD.revoked_ns = 0 AND NEW.revoked_ns <> 0) EXECUTE FUNCTION agent_revoked();\n"
	"CREATE FUNCTION write_announced() RETURNS trigger LANGUAGE plpgsql AS $$\n"
	"BEGIN PERFORM pg_notify('" STORE_PG_WRITES_CHANNEL "', TG_TABLE_NAME); RETURN NULL; END $$;\n"
	"CREATE TRIGGER vms_written AFTER INSERT OR UPDATE OR DELETE ON vms\n"
	"	FOR EACH STATEMENT EXECUTE FUNCTION write_announced();\n"
	"CREATE TRIGGER policies_written AFTER INSERT OR UPDATE OR DELETE ON policies\n"
	"	FOR EACH STATEMENT EXECUTE FUNCTION write_announced();\n"
	"CREATE TRIGGER policy_vms_written AFTER INSERT OR UPDATE OR DELETE ON policy_vms\n"
	"	FOR EACH STATEMENT EXECUTE FUNCTION write_announced();\n"
	"CREATE TRIGGER requests_written AFTER INSERT OR UPDATE OR DELETE ON requests\n"
	"	FOR EACH STATEMENT EXECUTE FUNCTION write_announced();\n"
	"CREATE TRIGGER grants_written AFTER INSERT OR UPDATE OR DELETE ON grants\n"
	"	FOR EACH STATEMENT EXECUTE FUNCTION write_announced();\n"
	"CREATE TRIGGER tokens_written AFTER INSERT OR UPDATE OR DELETE ON tokens\n"
	"	FOR EACH STATEMENT EXECUTE FUNCTION write_announced();\n"
	"CREATE TRIGGER join_tokens_written AFTER INSERT OR UPDATE OR DELETE ON join_tokens\n"
	"	FOR EACH STATEMENT EXECUTE FUNCTION write_announced();\n"
	"CREATE TRIGGER agents_written AFTER INSERT OR UPDATE OR DELETE ON agents\n"
	"	FOR EACH STATEMENT EXECUTE FUNCTION write_announced();\n"
	"CREATE TRIGGER terminations_written AFTER INSERT OR UPDATE OR DELETE ON terminations\n"
	"	FOR EACH STATEMENT EXECUTE FUNCTION write_announced();\n",

	/*
	 * 9: the tamper-evident activity log and retention (SQLite's migration 9). Appends to the chain
	 * are serialized by the writers' advisory lock and the row lock on audit_chain (SELECT … FOR UPDATE).
	 */
	"ALTER TABLE activity ADD COLUMN seq BIGINT;\n"
	"ALTER TABLE activity ADD COLUMN hash BYTEA;\n"
	"CREATE TABLE audit_chain (\n"
	"	anchor_id BIGINT NOT NULL,\n"
	"	anchor_seq BIGINT NOT NULL,\n"
	"	anchor_hash BYTEA NOT NULL CHECK (length(anchor_hash) = 32),\n"
	"	head_seq BIGINT NOT NULL,\n"
	"	head_hash BYTEA NOT NULL CHECK (length(head_hash) = 32)\n"
	");\n"
	"INSERT INTO audit_chain SELECT coalesce(max(id), 0), 0, decode(repeat('00', 32), 'hex'), 0, "
	"decode(repeat('00', 32), 'hex') FROM activity;\n"
	"CREATE FUNCTION activity_chained() RETURNS trigger LANGUAGE plpgsql AS $$\n"
	"BEGIN UPDATE audit_chain SET head_seq = NEW.seq, head_hash = NEW.hash WHERE head_seq < NEW.seq; RETURN NULL; END $$;\n"
	"CREATE TRIGGER activity_chained AFTER INSERT ON activity FOR EACH ROW WHEN (NEW.seq IS NOT NULL)\n"
	"	EXECUTE FUNCTION activity_chained();\n"
	"CREATE INDEX requests_start ON requests (start_ns);\n",
	/* 10: webhook notifications (SQLite's migration 10): the outbox and each hook's delivery state */
	"CREATE TABLE webhook_outbox (\n"
	"	id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n"
	"	hook TEXT NOT NULL,\n"
	"	event_id TEXT NOT NULL,\n"
	"	event TEXT NOT NULL,\n"
	"	activity_id BIGINT NOT NULL REFERENCES activity (id),\n"
	"	attempts BIGINT NOT NULL DEFAULT 0,\n"
	"	next_ns BIGINT NOT NULL DEFAULT 0,\n"
	"	lease_ns BIGINT NOT NULL DEFAULT 0\n"
	");\n"
	"CREATE INDEX webhook_outbox_of_hook ON webhook_outbox (hook, id);\n"
	"CREATE TABLE webhook_hooks (\n"
	"	hook TEXT PRIMARY KEY,\n"
	"	failing BIGINT NOT NULL DEFAULT 0,\n"
	"	failures BIGINT NOT NULL DEFAULT 0,\n"
	"	last_error TEXT NOT NULL DEFAULT '',\n"
	"	last_ok_ns BIGINT NOT NULL DEFAULT 0,\n"
	"	last_fail_ns BIGINT NOT NULL DEFAULT 0,\n"
	"	dropped BIGINT NOT NULL DEFAULT 0,\n"
	"	waiting BIGINT NOT NULL DEFAULT 0\n"
	");\n",

	/*
	 * 11: single sign-on (OpenID Connect): who asked, by the identity provider's subject (sub) beside the
	 * person's name in requestor/caller; '' for tokens, agents and jitgated itself.
	 */
	"ALTER TABLE activity ADD COLUMN caller_subject TEXT NOT NULL DEFAULT '';\n"
	"ALTER TABLE requests ADD COLUMN requestor_subject TEXT NOT NULL DEFAULT '';\n",

	/*
	 * 12: approvals (issue 16), as SQLite's 12. A port whose rule needs approval waits in `pending` (not in grants, so
	 * nothing that opens, reconciles or expires grants sees it) until its request has enough approvals
	 * (one row per approver: nobody approves twice); then its grant is written with opened_ns, the
	 * moment it opened, from which an extend counts the rule's maximum. expires_ns: when a Pending ask
	 * lapses. want_ms: how long it opens for, from the last approval. An extension of a grant whose
	 * rule needs approval is a request of its own, whose ports name the grant's request (extends) and the end asked for.
	 */
	"CREATE TABLE pending (\n"
	"	request_id TEXT NOT NULL REFERENCES requests (id) ON DELETE CASCADE,\n"
	"	vm_id BIGINT NOT NULL,\n"
	"	port BIGINT NOT NULL CHECK (port BETWEEN 1 AND 65535),\n"
	"	proto BIGINT NOT NULL CHECK (proto IN (0, 6, 17)),\n"
	"	source TEXT NOT NULL,\n"
	"	want_ms BIGINT NOT NULL CHECK (want_ms > 0),\n"
	"	expires_ns BIGINT NOT NULL,\n"
	"	state BIGINT NOT NULL DEFAULT 0 CHECK (state IN (0, 1, 2, 3)),	-- Pending, Approved, Denied, Expired\n"
	"	decided_ns BIGINT NOT NULL DEFAULT 0,\n"
	"	extends TEXT NOT NULL DEFAULT '',		-- an extension: the request whose grant it extends\n"
	"	extend_end_ns BIGINT NOT NULL DEFAULT 0,	-- and to when\n"
	"	PRIMARY KEY (request_id, vm_id, port)\n"
	");\n"
	"CREATE INDEX pending_open ON pending (expires_ns) WHERE state = 0;\n"
	"CREATE TABLE approvals (\n"
	"	request_id TEXT NOT NULL REFERENCES requests (id) ON DELETE CASCADE,\n"
	"	approver TEXT NOT NULL,\n"
	"	time_ns BIGINT NOT NULL,\n"
	"	PRIMARY KEY (request_id, approver)\n"
	");\n"
	"ALTER TABLE grants ADD COLUMN opened_ns BIGINT NOT NULL DEFAULT 0;\n"
	"CREATE TRIGGER pending_written AFTER INSERT OR UPDATE OR DELETE ON pending\n"
	"	FOR EACH STATEMENT EXECUTE FUNCTION write_announced();\n"
	"CREATE TRIGGER approvals_written AFTER INSERT OR UPDATE OR DELETE ON approvals\n"
	"	FOR EACH STATEMENT EXECUTE FUNCTION write_announced();\n",

	/*
	 * 13: shared sign-in sessions (issue 14), as SQLite's 13. No write_announced trigger: no
	 * replica caches a session; each use reads its row, as a token's use reads the token's.
	 */
	"CREATE TABLE sessions (\n"
	"	id_hash BYTEA PRIMARY KEY CHECK (length(id_hash) = 32),\n"
	"	key_hash BYTEA NOT NULL CHECK (length(key_hash) = 32),\n"
	"	sso BIGINT NOT NULL CHECK (sso IN (0, 1)),\n"
	"	person TEXT NOT NULL DEFAULT '',\n"
	"	subject TEXT NOT NULL DEFAULT '',\n"
	"	assignments TEXT NOT NULL DEFAULT '',\n"
	"	created_ns BIGINT NOT NULL,\n"
	"	expires_ns BIGINT NOT NULL\n"
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
	"	proto BIGINT NOT NULL CHECK (proto IN (6, 17)),\n"
	"	port BIGINT NOT NULL CHECK (port BETWEEN 1 AND 65535),\n"
	"	policy_id BIGINT NOT NULL REFERENCES policies (id) ON DELETE CASCADE,\n"
	"	PRIMARY KEY (public_addr, proto, port)\n"
	");\n"
	"CREATE INDEX dnat_ports_of_policy ON dnat_ports (policy_id);\n",

	/*
	 * 15: one new revision per write transaction, not per grant (issue 14's throughput): the first
	 * touch of a transaction takes the next fleet revision and keeps it in a transaction-local setting
	 * (undone with a savepoint rolled back to, as the counter is); every agent VM touched in that
	 * transaction gets it, its row written and its NOTIFY sent once. A group commit of N initiates to
	 * one VM wrote the VM's row 2N times (each superseded grant too), every write a new row version
	 * and index entry under the writers' lock. Revisions still grow in commit order (the counter's row
	 * stays locked to commit); grants of one transaction share it, as they are seen together.
	 */
	"CREATE FUNCTION fleet_tx_revision() RETURNS BIGINT LANGUAGE plpgsql AS $$\n"
	"DECLARE rev BIGINT := nullif(current_setting('jitgate.fleet_revision', true), '')::BIGINT;\n"
	"BEGIN\n"
	"	IF rev IS NULL THEN\n"
	"		UPDATE fleet_revision SET n = n + 1 RETURNING n INTO rev;\n"
	"		PERFORM set_config('jitgate.fleet_revision', rev::TEXT, true);\n"
	"	END IF;\n"
	"	RETURN rev;\n"
	"END $$;\n"
	"CREATE OR REPLACE FUNCTION fleet_touch(vm BIGINT) RETURNS BIGINT LANGUAGE plpgsql AS $$\n"
	"DECLARE p BIGINT; cur BIGINT; rev BIGINT;\n"
	"BEGIN\n"
	"	SELECT point, revision INTO p, cur FROM vms WHERE id = vm;\n"
	"	IF p IS DISTINCT FROM 2 THEN RETURN NULL; END IF;\n"
	"	rev := fleet_tx_revision();\n"
	"	IF cur IS DISTINCT FROM rev THEN\n"
	"		UPDATE vms SET revision = rev WHERE id = vm;\n"
	"		PERFORM pg_notify('" STORE_PG_CHANNEL "', vm || ':' || rev);\n"
	"	END IF;\n"
	"	RETURN rev;\n"
	"END $$;\n"
	"CREATE OR REPLACE FUNCTION policy_changed() RETURNS trigger LANGUAGE plpgsql AS $$\n"
	"DECLARE rev BIGINT := fleet_tx_revision();\n"
	"BEGIN\n"
	"	PERFORM pg_notify('" STORE_PG_CHANNEL "', id || ':' || rev) FROM vms WHERE point = 2 AND revision <> rev AND\n"
	"		id IN (SELECT vm_id FROM policy_vms WHERE policy_id = NEW.id);\n"
	"	UPDATE vms SET revision = rev WHERE point = 2 AND revision <> rev AND\n"
	"		id IN (SELECT vm_id FROM policy_vms WHERE policy_id = NEW.id);\n"
	"	RETURN NULL;\n"
	"END $$;\n"
	/*
	 * and one write announcement per transaction, not one per table written (PostgreSQL sends one of
	 * equal announcements per transaction): the listeners count them, whatever they say
	 */
	/*
	 * and an initiate decided outside the writers' lock is refused if another replica wrote what it was
	 * decided on before the request's insert (ST_REQUEST_INSERT_AS_READ): its policy, or its token
	 * (revoked): serialization_failure, the store's -EBUSY, a 503 with Retry-After; sent again, it is
	 * decided on what is stored now (a revoked token's is then 401)
	 */
	"CREATE FUNCTION request_as_read(pid BIGINT, read_ns BIGINT, who TEXT) RETURNS BIGINT LANGUAGE plpgsql AS $$\n"
	"BEGIN\n"
	"	IF NOT EXISTS (SELECT 1 FROM policies WHERE id = pid AND updated_ns = read_ns) THEN\n"
	"		RAISE EXCEPTION 'the policy changed while the request was decided: send it again'\n"
	"			USING ERRCODE = 'serialization_failure';\n"
	"	END IF;\n"
	"	IF left(who, 6) = 'token:' AND EXISTS (SELECT 1 FROM tokens WHERE name = substr(who, 7) AND revoked_ns <> 0) THEN\n"
	"		RAISE EXCEPTION 'the token was revoked while the request was decided'\n"
	"			USING ERRCODE = 'serialization_failure';\n"
	"	END IF;\n"
	"	RETURN pid;\n"
	"END $$;\n"
	"CREATE OR REPLACE FUNCTION write_announced() RETURNS trigger LANGUAGE plpgsql AS $$\n"
	"BEGIN PERFORM pg_notify('" STORE_PG_WRITES_CHANNEL "', 'written'); RETURN NULL; END $$;\n",
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
	"DROP INDEX activity_resource;\n"
	/*
	 * and writes to what a replica keeps between requests are announced as such (STORE_PG_CONFIG_PAYLOAD,
	 * beside "written"): a policy, its VMs, a VM's own columns; not a VM's revision, which every grant
	 * moves (store_config_generation)
	 */
	"CREATE FUNCTION config_announced() RETURNS trigger LANGUAGE plpgsql AS $$\n"
	"BEGIN PERFORM pg_notify('" STORE_PG_WRITES_CHANNEL "', '" STORE_PG_CONFIG_PAYLOAD "'); RETURN NULL; END $$;\n"
	"CREATE TRIGGER policies_config AFTER INSERT OR UPDATE OR DELETE ON policies\n"
	"	FOR EACH STATEMENT EXECUTE FUNCTION config_announced();\n"
	"CREATE TRIGGER policy_vms_config AFTER INSERT OR UPDATE OR DELETE ON policy_vms\n"
	"	FOR EACH STATEMENT EXECUTE FUNCTION config_announced();\n"
	"CREATE TRIGGER vms_config AFTER INSERT OR DELETE OR UPDATE OF subscription, resource_group, name, location,\n"
	"	os_type, point, addrs, unsupported_reason, created_ns ON vms\n"
	"	FOR EACH STATEMENT EXECUTE FUNCTION config_announced();\n"
	/*
	 * and the writers' lock taken only if it is free now (a group commit that finds it held waits a
	 * little, reading more initiates, rather than blocking: store_begin_try): the chain's head, as
	 * ST_BEGIN reads it, once had; no row when another transaction holds it. Its read runs after the
	 * lock is had, with a snapshot of its own (READ COMMITTED, a VOLATILE function).
	 */
	"CREATE FUNCTION writers_lock_try(OUT head_seq BIGINT, OUT head_hash BYTEA) RETURNS SETOF record\n"
	"	LANGUAGE plpgsql VOLATILE AS $$\n"
	"BEGIN\n"
	"	IF pg_try_advisory_xact_lock(" STORE_PG_WRITERS_LOCK ") THEN\n"
	"		RETURN QUERY SELECT a.head_seq, a.head_hash FROM audit_chain a FOR UPDATE;\n"
	"	END IF;\n"
	"END $$;\n",
};

#define N_PG_MIGRATIONS ((int)(sizeof(pg_migrations) / sizeof(pg_migrations[0])))
_Static_assert(N_PG_MIGRATIONS == STORE_SCHEMA_VERSION, "PostgreSQL's migrations are numbered as SQLite's");

bool
store_pg_is_uri(const char *where)
{
	return !strncmp(where, "postgresql://", strlen("postgresql://")) ||
	       !strncmp(where, "postgres://", strlen("postgres://"));
}

/* One command (or several) through the simple protocol; -errno with the server's words kept. */
static int
pg_exec(struct store *st, const char *sql)
{
	struct store_pg *pg = st->engine;
	PGresult *res = PQexec(pg->conn, sql);
	ExecStatusType s = PQresultStatus(res);
	int r = 0;

	if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) {
		const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

		r = set_error(st, state && !strncmp(state, "08", 2) ? -EBUSY : -EIO, "%s",
		    PQresultErrorMessage(res)[0] ? PQresultErrorMessage(res) : PQerrorMessage(pg->conn));
	}
	PQclear(res);
	return r;
}

/* The schema version, or -errno; 0 for a database no jitgate has written yet. */
static int
pg_version(struct store *st, int64_t *ret)
{
	struct store_pg *pg = st->engine;
	PGresult *res;
	int r;

	res = PQexec(pg->conn, "SELECT coalesce((SELECT n FROM schema_version), 0) "
	    "WHERE to_regclass('schema_version') IS NOT NULL UNION ALL SELECT 0 "
	    "WHERE to_regclass('schema_version') IS NULL");
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		r = set_error(st, -EIO, "cannot read the schema version: %s", PQresultErrorMessage(res));
		goto out;
	}
	*ret = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	r = 0;
out:
	PQclear(res);
	return r;
}

/* A write transaction under the migration lock, with the version table made if need be. */
static int
pg_begin_migration(struct store *st)
{
	/* a replica starting while another migrates waits for it, however long that takes */
	return pg_exec(st, "BEGIN; SET LOCAL lock_timeout = 0; SET LOCAL statement_timeout = 0; SELECT pg_advisory_xact_lock(" STORE_PG_MIGRATE_LOCK_TEXT "); "
	    "CREATE TABLE IF NOT EXISTS schema_version (n BIGINT NOT NULL)");
}

static int
pg_set_version(struct store *st, int64_t version)
{
	char sql[96];

	snprintf(sql, sizeof(sql), "DELETE FROM schema_version; INSERT INTO schema_version VALUES (%lld)",
	    (long long)version);
	return pg_exec(st, sql);
}

static const struct store_schema pg_schema = {
	.migrations = pg_migrations,
	.begin = pg_begin_migration,
	.version = pg_version,
	.set_version = pg_set_version,
	.exec = pg_exec,
};

/*
 * Library code does not log: the server's notices (CREATE … IF NOT EXISTS) are dropped. One is noted: a
 * plain WARNING (SQLSTATE 01000), the way PostgreSQL tells that a commit's wait for the synchronous
 * standby was cancelled (statement_timeout, pg_cancel_backend) and the commit stands on the primary
 * alone (store-pg.c, pg_unconfirmed).
 */
static void
pg_notice(void *arg, const PGresult *res)
{
	struct store_pg *pg = arg;
	const char *severity = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

	if (severity && !strcmp(severity, "WARNING") && state && !strcmp(state, "01000"))
		pg->warned = true;
}

int
store_pg_open(const char *uri, bool readonly, struct store **ret, struct core_error *err)
{
	const char *const keys[] = { "connect_timeout", "keepalives", "keepalives_idle", "keepalives_interval",
		"keepalives_count", "tcp_user_timeout", "dbname", NULL };
	const char *const values[] = { STORE_PG_CONNECT_TIMEOUT_S, "1", STORE_PG_KEEPALIVE_IDLE_S,
		STORE_PG_KEEPALIVE_INTERVAL_S, STORE_PG_KEEPALIVE_COUNT, STORE_PG_TCP_USER_TIMEOUT_MS, uri, NULL };
	struct store_pg *pg;
	struct store *st;
	int r;

	st = calloc(1, sizeof(*st));
	pg = calloc(1, sizeof(*pg));
	if (!st || !pg) {
		free(st);
		free(pg);
		core_error_set(err, "StoreOpenFailed", NULL, "out of memory");
		return -ENOMEM;
	}
	st->ops = &store_pg_ops;
	st->engine = pg;
	st->readonly = readonly;
	/* keywords in the URI come later, so its own connect_timeout (and the others) win over ours */
	pg->conn = PQconnectdbParams(keys, values, 1);
	if (!pg->conn) {
		r = -ENOMEM;
		core_error_set(err, "StoreOpenFailed", NULL, "out of memory");
		goto out;
	}
	if (PQstatus(pg->conn) != CONNECTION_OK) {
		r = -ECONNREFUSED;
		/* the URI may hold a password: name the server's answer, not the URI */
		core_error_set(err, "StoreOpenFailed", NULL, "cannot connect to PostgreSQL: %s",
		    PQerrorMessage(pg->conn));
		/* libpq's message runs over lines; a log line is one */
		for (char *p = err ? err->message : NULL; p && (p = strpbrk(p, "\n\t"));)
			*p = ' ';
		goto out;
	}
	PQsetNoticeReceiver(pg->conn, pg_notice, pg);
	r = store_pg_session(st);
	if (r < 0) {
		core_error_set(err, "StoreOpenFailed", NULL, "cannot set up the session: %s", st->error);
		goto out;
	}
	r = readonly ? store_schema_check(st, &pg_schema, err) : store_schema_migrate(st, &pg_schema, err);
	if (r < 0)
		goto out;
	*ret = st;
	st = NULL;
	r = 0;
out:
	store_close(st);
	return r;
}

int
store_read_standby(struct store *st, const char *uri, struct core_error *err)
{
	if (st->ops != &store_pg_ops || !store_pg_is_uri(uri))
		return core_error_set(err, "InvalidConfig", "store_read",
		    "store_read is a postgresql:// URI, for a store on PostgreSQL (store = postgresql://...)");
	return store_pg_standby_set(st, uri, err);
}

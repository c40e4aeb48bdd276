/* The SQLite store's core: one WAL database opened and migrated, its transactions, statement cache and errors. */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "core/buf.h"
#include "store-sqlite-internal.h"

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
	 * every write touching it increments in the same transaction (the triggers below, so no
	 * writer can forget), and each grant the revision that made it and when its agent applied
	 * it. Join tokens and agent credentials are kept, like API tokens, only as hashes.
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

	"ALTER TABLE grants ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;\n"
	"ALTER TABLE grants ADD COLUMN applied_ns INTEGER NOT NULL DEFAULT 0;\n"
	"CREATE INDEX grants_unapplied ON grants (vm_id, revision) WHERE applied_ns = 0 AND status = 0;\n"

	/* the revision: a new grant, a grant ended or moved, a VM joining or leaving a policy, a policy's rules, the VM itself */
	"CREATE TRIGGER grant_added AFTER INSERT ON grants BEGIN\n"
	"	UPDATE vms SET revision = revision + 1 WHERE id = NEW.vm_id;\n"
	"	UPDATE grants SET revision = (SELECT revision FROM vms WHERE id = NEW.vm_id) WHERE rowid = NEW.rowid;\n"
	"END;\n"
	"CREATE TRIGGER grant_changed AFTER UPDATE OF status, end_ns, mono_end_ns ON grants BEGIN\n"
	"	UPDATE vms SET revision = revision + 1 WHERE id = NEW.vm_id;\n"
	"END;\n"
	"CREATE TRIGGER policy_vm_added AFTER INSERT ON policy_vms BEGIN\n"
	"	UPDATE vms SET revision = revision + 1 WHERE id = NEW.vm_id;\n"
	"END;\n"
	"CREATE TRIGGER policy_vm_removed AFTER DELETE ON policy_vms BEGIN\n"
	"	UPDATE vms SET revision = revision + 1 WHERE id = OLD.vm_id;\n"
	"END;\n"
	"CREATE TRIGGER policy_changed AFTER UPDATE OF json ON policies BEGIN\n"
	"	UPDATE vms SET revision = revision + 1 WHERE id IN (SELECT vm_id FROM policy_vms WHERE policy_id = NEW.id);\n"
	"END;\n"
	"CREATE TRIGGER vm_changed AFTER UPDATE OF location, os_type, point, addrs, unsupported_reason ON vms BEGIN\n"
	"	UPDATE vms SET revision = revision + 1 WHERE id = NEW.id;\n"
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
};

#define N_MIGRATIONS ((int)(sizeof(migrations) / sizeof(migrations[0])))

#define STORE_BUSY_TIMEOUT_MS	5000

/* ---- errors ---- */

int
set_error(struct store *st, int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(st->error, sizeof(st->error), fmt, ap);
	va_end(ap);
	/* a failed statement may have rolled the transaction back: what readers saw may be gone */
	st->undone++;
	return r;
}

static int
errno_of(int rc)
{
	switch (rc) {
	case SQLITE_CONSTRAINT_UNIQUE:
	case SQLITE_CONSTRAINT_PRIMARYKEY:
		return -EEXIST;
	case SQLITE_CONSTRAINT_CHECK:
	case SQLITE_CONSTRAINT_NOTNULL:
		return -EINVAL;	/* a caller passed a value the schema rules out */
	}
	switch (rc & 0xff) {
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_READONLY:
	case SQLITE_CANTOPEN:	/* past open, this is a journal or WAL file that cannot be created */
		return -EROFS;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_NOMEM:
		return -ENOMEM;
	default:
		return -EIO;
	}
}

/* An SQLite failure: keep its message, return its errno. */
int
sql_fail(struct store *st, int rc)
{
	int r = errno_of(rc), e = sqlite3_system_errno(st->db);

	/*
	 * An I/O error is often a disk that refuses writes: a read-only or full file system, or one the
	 * kernel turned read-only after an error (then even fsync fails with EIO). Writes answer 503 then:
	 * the service comes back when the disk does, and reads keep working.
	 */
	if (r == -EIO && (e == EROFS || e == ENOSPC || e == EDQUOT))
		r = e == EROFS ? -EROFS : -ENOSPC;
	else if (r == -EIO && ((rc & 0xff) == SQLITE_IOERR))
		r = -EROFS;
	if (e)
		return set_error(st, r, "%s (sqlite %d, %s)", sqlite3_errmsg(st->db), rc, strerror(e));
	return set_error(st, r, "%s (sqlite %d)", sqlite3_errmsg(st->db), rc);
}

int
corrupt(struct store *st, const char *table, const char *column)
{
	return set_error(st, -EIO, "corrupt database: bad %s.%s", table, column);
}

uint64_t
store_generation(struct store *st)
{
	return (uint64_t)sqlite3_total_changes64(st->db) + st->undone;
}

const char *
store_last_error(struct store *st)
{
	return st ? st->error : "no store";
}

/* ---- statements ---- */

/* The cached statement, prepared if need be, with no bindings left from its last use. */
int
stmt_get(struct store *st, enum stmt_id id, sqlite3_stmt **ret)
{
	int rc;

	if (!st->stmt[id]) {
		rc = sqlite3_prepare_v3(st->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &st->stmt[id], NULL);
		if (rc != SQLITE_OK)
			return sql_fail(st, rc);
	}
	*ret = st->stmt[id];
	return 0;
}

/*
 * Done with a statement: reset it so that it holds no read transaction open, and
 * drop the bindings, which may point at the caller's memory (SQLITE_STATIC).
 */
void
stmt_done(sqlite3_stmt *s)
{
	if (s) {
		sqlite3_reset(s);
		sqlite3_clear_bindings(s);
	}
}

/* Run a statement that returns no rows. */
int
stmt_run(struct store *st, sqlite3_stmt *s)
{
	int rc = sqlite3_step(s);

	if (rc != SQLITE_DONE)
		return sql_fail(st, rc);
	return 0;
}

int
run_cached(struct store *st, enum stmt_id id)
{
	sqlite3_stmt *s = NULL;
	int r;

	if (id == ST_ROLLBACK || id == ST_ROLLBACK_TO || id == ST_MARK_UNDO)
		st->undone++;
	r = stmt_get(st, id, &s);
	if (r < 0)
		return r;
	r = stmt_run(st, s);
	stmt_done(s);
	return r;
}

int
bind_str(sqlite3_stmt *s, int i, const char *v)
{
	return sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
}

/* Copy a text column into a fixed array; text that does not fit is corruption, never cut. */
int
col_text(struct store *st, sqlite3_stmt *s, int i, char *buf, size_t size, const char *table)
{
	const unsigned char *p;
	int type = sqlite3_column_type(s, i);
	int n;

	p = sqlite3_column_text(s, i);
	if (!p) {
		if (type == SQLITE_NULL)
			return corrupt(st, table, sqlite3_column_name(s, i));
		return sql_fail(st, SQLITE_NOMEM);
	}
	n = sqlite3_column_bytes(s, i);
	if (n < 0 || (size_t)n >= size || memchr(p, '\0', (size_t)n))
		return corrupt(st, table, sqlite3_column_name(s, i));
	memcpy(buf, p, (size_t)n);
	buf[n] = '\0';
	return 0;
}

/* A text column as a new heap string. */
int
col_strdup(struct store *st, sqlite3_stmt *s, int i, char **ret, const char *table)
{
	const unsigned char *p;
	int type = sqlite3_column_type(s, i);
	char *copy;
	int n;

	p = sqlite3_column_text(s, i);
	if (!p) {
		if (type == SQLITE_NULL)
			return corrupt(st, table, sqlite3_column_name(s, i));
		return sql_fail(st, SQLITE_NOMEM);
	}
	n = sqlite3_column_bytes(s, i);
	if (n < 0 || memchr(p, '\0', (size_t)n))
		return corrupt(st, table, sqlite3_column_name(s, i));
	copy = malloc((size_t)n + 1);
	if (!copy)
		return set_error(st, -ENOMEM, "out of memory");
	memcpy(copy, p, (size_t)n);
	copy[n] = '\0';
	*ret = copy;
	return 0;
}

/*
 * Every row of a statement whose parameters are bound (rc: the binding's result), each read by from_row into
 * a new array of elements of size bytes. On failure clear, if given, undoes the rows read whole so far, and
 * the array is freed. The caller resets the statement.
 */
int
rows_collect(struct store *st, sqlite3_stmt *s, int rc, size_t size,
	     int (*from_row)(struct store *st, sqlite3_stmt *s, void *row), void (*clear)(void *row),
	     void **ret, size_t *ret_n)
{
	char *v = NULL, *grown;
	size_t n = 0, cap = 0, i;
	int r;

	if (rc != SQLITE_OK)
		return sql_fail(st, rc);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		grown = array_grow(v, &cap, n, size);
		if (!grown) {
			r = set_error(st, -ENOMEM, "out of memory");
			goto out;
		}
		v = grown;
		r = from_row(st, s, v + n * size);
		if (r < 0)
			goto out;
		n++;
	}
	if (rc != SQLITE_DONE) {
		r = sql_fail(st, rc);
		goto out;
	}
	*ret = v;
	*ret_n = n;
	v = NULL;
	n = 0;
	r = 0;
out:
	for (i = 0; clear && i < n; i++)
		clear(v + i * size);
	free(v);
	return r;
}

/* ---- transactions ---- */

int
store_begin(struct store *st)
{
	if (!sqlite3_get_autocommit(st->db))
		return set_error(st, -EALREADY, "a transaction is already open");
	return run_cached(st, st->readonly ? ST_BEGIN_READ : ST_BEGIN);
}

int
store_commit(struct store *st)
{
	int r;

	if (sqlite3_get_autocommit(st->db))
		return set_error(st, -EINVAL, "no transaction is open");
	r = run_cached(st, ST_COMMIT);
	if (r < 0 && !sqlite3_get_autocommit(st->db)) {
		char saved[STORE_ERROR_MAX];

		/* A failed commit must not leave the transaction half-open; the caller reads the commit's error. */
		memcpy(saved, st->error, sizeof(saved));
		run_cached(st, ST_ROLLBACK);
		memcpy(st->error, saved, sizeof(saved));
	}
	return r;
}

void
store_rollback(struct store *st)
{
	if (!sqlite3_get_autocommit(st->db))
		run_cached(st, ST_ROLLBACK);
}

bool
store_in_transaction(struct store *st)
{
	return !sqlite3_get_autocommit(st->db);
}

int
store_mark(struct store *st)
{
	if (sqlite3_get_autocommit(st->db))
		return set_error(st, -EINVAL, "no transaction is open");
	return run_cached(st, ST_MARK);
}

int
store_mark_keep(struct store *st)
{
	return run_cached(st, ST_MARK_KEEP);
}

void
store_mark_undo(struct store *st)
{
	char saved[STORE_ERROR_MAX];

	/* the caller reads the error that made it undo, not this one's */
	memcpy(saved, st->error, sizeof(saved));
	if (!sqlite3_get_autocommit(st->db) && run_cached(st, ST_MARK_UNDO) >= 0)
		run_cached(st, ST_MARK_KEEP);
	memcpy(st->error, saved, sizeof(saved));
}


int
op_begin(struct store *st, struct op *op)
{
	op->own = sqlite3_get_autocommit(st->db);
	return run_cached(st, op->own ? ST_BEGIN : ST_SAVEPOINT);
}

/* End the operation: keep it if r >= 0 (and the commit works), else undo it. Returns r or the commit's error. */
int
op_end(struct store *st, struct op *op, int r)
{
	char saved[STORE_ERROR_MAX];

	if (r >= 0) {
		int c = run_cached(st, op->own ? ST_COMMIT : ST_RELEASE);

		if (c >= 0)
			return r;
		r = c;
	}
	/* Undoing must not overwrite the error that made us undo. */
	memcpy(saved, st->error, sizeof(saved));
	if (op->own) {
		if (!sqlite3_get_autocommit(st->db))
			run_cached(st, ST_ROLLBACK);
	} else if (!sqlite3_get_autocommit(st->db)) {
		/* Some errors (disk full, I/O) roll back the whole transaction; then there is no savepoint left. */
		if (run_cached(st, ST_ROLLBACK_TO) >= 0)
			run_cached(st, ST_RELEASE);
	}
	memcpy(st->error, saved, sizeof(saved));
	return r;
}

/* ---- open, migrate, close ---- */

static int
exec_sql(struct store *st, const char *sql)
{
	int rc = sqlite3_exec(st->db, sql, NULL, NULL, NULL);

	if (rc != SQLITE_OK)
		return sql_fail(st, rc);
	return 0;
}

/* The first column of the first row of a one-off query: as an integer, or as text into buf. */
static int
query_one(struct store *st, const char *sql, int64_t *ret_int, char *buf, size_t size)
{
	sqlite3_stmt *s = NULL;
	int rc, r;

	rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
	if (rc != SQLITE_OK) {
		r = sql_fail(st, rc);
		goto out;
	}
	rc = sqlite3_step(s);
	if (rc != SQLITE_ROW) {
		r = rc == SQLITE_DONE ? set_error(st, -EIO, "%s: no result", sql) : sql_fail(st, rc);
		goto out;
	}
	if (buf) {
		r = col_text(st, s, 0, buf, size, "pragma");
		if (r < 0)
			goto out;
	}
	if (ret_int)
		*ret_int = sqlite3_column_int64(s, 0);
	r = 0;
out:
	sqlite3_finalize(s);
	return r;
}

/* Bring the schema to N_MIGRATIONS, one migration per transaction; refuse a database from a newer jitgate. */
static int
migrate(struct store *st, struct core_error *err)
{
	char sql[64];
	int64_t version;
	int r;

	for (;;) {
		r = run_cached(st, ST_BEGIN);
		if (r < 0)
			goto fail;
		/* Read inside the write lock: another process may have migrated since we looked. */
		r = query_one(st, "PRAGMA user_version", &version, NULL, 0);
		if (r < 0)
			goto fail;
		if (version > N_MIGRATIONS) {
			store_rollback(st);
			core_error_set(err, "StoreSchemaTooNew", NULL,
			    "the database has schema version %lld but this jitgate knows only up to %d; "
			    "use a newer jitgate", (long long)version, N_MIGRATIONS);
			return set_error(st, -EIO, "database schema version %lld is newer than this build (%d)",
			    (long long)version, N_MIGRATIONS);
		}
		if (version == N_MIGRATIONS) {
			r = run_cached(st, ST_COMMIT);
			if (r < 0)
				goto fail;
			return 0;
		}
		r = exec_sql(st, migrations[version]);
		if (r < 0)
			goto fail;
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %lld", (long long)version + 1);
		r = exec_sql(st, sql);
		if (r < 0)
			goto fail;
		r = run_cached(st, ST_COMMIT);
		if (r < 0)
			goto fail;
	}
fail:
	store_rollback(st);
	core_error_set(err, "StoreMigrationFailed", NULL, "cannot bring the database schema up to version %d: %s",
	    N_MIGRATIONS, st->error);
	return r;
}

/* A read-only store can only read a database whose schema is exactly ours. */
static int
check_version(struct store *st, struct core_error *err)
{
	int64_t version;
	int r;

	r = query_one(st, "PRAGMA user_version", &version, NULL, 0);
	if (r < 0) {
		core_error_set(err, "StoreOpenFailed", NULL, "cannot read the database: %s", st->error);
		return r;
	}
	if (version != N_MIGRATIONS) {
		core_error_set(err, version > N_MIGRATIONS ? "StoreSchemaTooNew" : "StoreSchemaOld", NULL,
		    "the database has schema version %lld, this jitgate reads only version %d%s", (long long)version,
		    N_MIGRATIONS, version > N_MIGRATIONS ? "; use a newer jitgate" : "; open it read-write once");
		return set_error(st, -EIO, "database schema version %lld, expected %d", (long long)version,
		    N_MIGRATIONS);
	}
	return 0;
}

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

	r = readonly ? check_version(st, err) : migrate(st, err);
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
store_open(const char *path, struct store **ret, struct core_error *err)
{
	return store_open_flags(path, false, ret, err);
}

int
store_open_readonly(const char *path, struct store **ret, struct core_error *err)
{
	return store_open_flags(path, true, ret, err);
}

void
store_close(struct store *st)
{
	size_t i;

	if (!st)
		return;
	for (i = 0; i < ST__MAX; i++)
		sqlite3_finalize(st->stmt[i]);
	for (i = 0; i < AF__COMBINATIONS; i++)
		sqlite3_finalize(st->activity_stmt[i]);
	/* An open transaction is rolled back by the close. */
	sqlite3_close(st->db);
	free(st);
}

int
store_check_integrity(struct store *st)
{
	sqlite3_stmt *s = NULL;
	char result[STORE_ERROR_MAX];
	int rc, r;

	r = query_one(st, "PRAGMA integrity_check", NULL, result, sizeof(result));
	if (r < 0)
		return r;
	if (strcmp(result, "ok") != 0)
		return set_error(st, -EIO, "integrity check: %s", result);
	/* integrity_check does not look at foreign keys. */
	rc = sqlite3_prepare_v2(st->db, "PRAGMA foreign_key_check", -1, &s, NULL);
	if (rc != SQLITE_OK)
		return sql_fail(st, rc);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		r = set_error(st, -EIO, "foreign key check: a row of %s points nowhere", sqlite3_column_text(s, 0));
	else if (rc != SQLITE_DONE)
		r = sql_fail(st, rc);
	sqlite3_finalize(s);
	return r;
}

/* The SQLite store: jitgated's durable state in one WAL database, with numbered migrations and cached statements. */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "core/buf.h"
#include "store.h"

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
};

#define N_MIGRATIONS ((int)(sizeof(migrations) / sizeof(migrations[0])))

#define STORE_ERROR_MAX		256	/* bytes of the last error message kept */
#define STORE_BUSY_TIMEOUT_MS	5000
#define STORE_GRANTS_MAX	((size_t)POLICY_VMS_MAX * POLICY_PORTS_MAX)	/* grants in one request */

#define VM_COLS "SELECT id, subscription, resource_group, name, location, os_type, point, addrs, " \
	"unsupported_reason, created_ns FROM vms"
#define POLICY_COLS "SELECT id, subscription, resource_group, location, name, json, created_ns, updated_ns " \
	"FROM policies"
#define GRANT_FIELDS "SELECT g.request_id, g.vm_id, g.port, g.proto, g.source, g.end_ns, g.status, g.reason, " \
	"g.ended_ns, r.requestor, r.policy_id, g.boot, g.mono_end_ns "
#define GRANT_COLS GRANT_FIELDS "FROM grants g JOIN requests r ON r.id = g.request_id"
#define ACTIVITY_COLS "SELECT id, time_ns, caller, caller_addr, operation, resource_id, status, detail, " \
	"justification, correlation_id FROM activity"
#define TOKEN_COLS "SELECT name, role, scope, hash, created_ns, revoked_ns FROM tokens"

/* Every statement the store runs more than once, prepared on first use and kept until close. */
enum stmt_id {
	ST_BEGIN,
	ST_BEGIN_READ,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_SAVEPOINT,
	ST_RELEASE,
	ST_ROLLBACK_TO,
	ST_MARK,
	ST_MARK_KEEP,
	ST_MARK_UNDO,
	ST_VM_FIND,
	ST_VM_INSERT,
	ST_VM_UPDATE,
	ST_VM_GET,
	ST_VM_GET_BY_ID,
	ST_VM_LIST,
	ST_VM_DELETE,
	ST_POLICY_FIND,
	ST_POLICY_INSERT,
	ST_POLICY_UPDATE,
	ST_POLICY_GET,
	ST_POLICY_GET_BY_ID,
	ST_POLICY_LIST,
	ST_POLICY_DELETE,
	ST_LINKS_CLEAR,
	ST_LINK_OWNER,
	ST_LINK_INSERT,
	ST_REQUEST_INSERT,
	ST_GRANT_INSERT,
	ST_GRANT_END,
	ST_GRANT_TRUNCATE,
	ST_GRANTS_INITIATED,
	ST_GRANTS_LIVE,
	ST_GRANTS_LIVE_ON,
	ST_GRANTS_OF_REQUEST,
	ST_GRANTS_DUE,
	ST_GRANT_NEXT_END,
	ST_GRANT_NEXT_MONO_END,
	ST_GRANTS_ADOPT,
	ST_GRANTS_OF_REQUESTOR,
	ST_REQUESTS_OF_POLICY,
	ST_USAGE_COUNT,
	ST_USAGE_LAST,
	ST_ACTIVITY_INSERT,
	ST_TOKEN_INSERT,
	ST_TOKEN_FIND,
	ST_TOKEN_LIST,
	ST_TOKEN_REVOKE,
	ST__MAX,
};

static const char *const stmt_sql[ST__MAX] = {
	/* BEGIN IMMEDIATE takes the write lock up front, so a WAL reader never has to upgrade and fail. */
	[ST_BEGIN] = "BEGIN IMMEDIATE",
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
		"name = ?4, json = ?5, updated_ns = ?6 WHERE id = ?7",
	[ST_POLICY_GET] = POLICY_COLS " WHERE subscription = ?1 AND resource_group = ?2 AND location = ?3 "
		"AND name = ?4",
	[ST_POLICY_GET_BY_ID] = POLICY_COLS " WHERE id = ?1",
	[ST_POLICY_LIST] = POLICY_COLS " ORDER BY subscription, resource_group, location, name, id",
	[ST_POLICY_DELETE] = "DELETE FROM policies WHERE id = ?1",
	[ST_LINKS_CLEAR] = "DELETE FROM policy_vms WHERE policy_id = ?1",
	[ST_LINK_OWNER] = "SELECT policy_id FROM policy_vms WHERE vm_id = ?1",
	[ST_LINK_INSERT] = "INSERT INTO policy_vms (vm_id, policy_id) VALUES (?1, ?2)",
	[ST_REQUEST_INSERT] = "INSERT INTO requests (id, policy_id, requestor, requestor_addr, start_ns, "
		"justification) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[ST_GRANT_INSERT] = "INSERT INTO grants (request_id, vm_id, port, proto, source, end_ns, status, reason, "
		"ended_ns, requestor, boot, mono_end_ns) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
	[ST_GRANT_END] = "UPDATE grants SET status = 1, reason = ?4, ended_ns = ?5 "
		"WHERE request_id = ?1 AND vm_id = ?2 AND port = ?3 AND status = 0",
	/* SET reads the row as it was: the monotonic end only ever moves earlier, and only in its own boot */
	[ST_GRANT_TRUNCATE] = "UPDATE grants SET end_ns = ?4, "
		"mono_end_ns = CASE WHEN boot = ?5 AND mono_end_ns > ?6 THEN ?6 ELSE mono_end_ns END WHERE request_id = ?1 AND vm_id = ?2 AND port = ?3 AND status = 0 AND end_ns > ?4",
	[ST_GRANTS_INITIATED] = GRANT_COLS " WHERE g.status = 0 ORDER BY g.end_ns, g.request_id, g.vm_id, g.port",
	/* in the order of grants_initiated_end: nothing to sort, whatever the number of grants */
	[ST_GRANTS_LIVE] = "SELECT g.request_id, g.vm_id, g.port, g.proto, g.source, g.end_ns, g.status, g.reason, "
		"g.ended_ns, r.requestor, r.policy_id, g.boot, g.mono_end_ns "
		"FROM grants g INDEXED BY grants_initiated_end "
		"JOIN requests r ON r.id = g.request_id WHERE g.status = 0 AND g.end_ns > ?1",
	[ST_GRANTS_LIVE_ON] = "SELECT g.request_id, g.vm_id, g.port, g.proto, g.source, g.end_ns, g.status, "
		"g.reason, g.ended_ns, r.requestor, r.policy_id, g.boot, g.mono_end_ns "
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
	 * the requestor's live grants, through the partial index of migration 3 (named: without
	 * statistics SQLite would take grants_initiated and visit every live grant of everyone)
	 */
	[ST_GRANTS_OF_REQUESTOR] = "SELECT g.request_id, g.vm_id, g.port, g.proto, g.source, g.end_ns, g.status, "
		"g.reason, g.ended_ns, r.requestor, r.policy_id, g.boot, g.mono_end_ns "
		"FROM grants g INDEXED BY grants_live_requestor "
		"JOIN requests r ON r.id = g.request_id WHERE g.requestor = ?1 AND g.vm_id = ?2 AND g.port = ?3 "
		"AND g.status = 0 ORDER BY g.end_ns, g.request_id",
	/*
	 * every request that still holds an Initiated grant (found through the partial index of live
	 * grants), and the newest ?3 (-1: all) of the others that started at or after ?2; oldest first
	 */
	[ST_REQUESTS_OF_POLICY] = "SELECT id, policy_id, requestor, requestor_addr, start_ns, justification FROM "
		"(SELECT r.id, r.policy_id, r.requestor, r.requestor_addr, r.start_ns, r.justification, r.rowid AS rid "
		"FROM requests r WHERE r.policy_id = ?1 AND r.id IN "
		"(SELECT g.request_id FROM grants g WHERE g.status = 0) "
		"UNION ALL SELECT * FROM (SELECT r.id, r.policy_id, r.requestor, r.requestor_addr, r.start_ns, "
		"r.justification, r.rowid AS rid FROM requests r WHERE r.policy_id = ?1 AND r.start_ns >= ?2 AND NOT EXISTS "
		"(SELECT 1 FROM grants g WHERE g.request_id = r.id AND +g.status = 0) "
		"ORDER BY r.start_ns DESC, r.rowid DESC LIMIT ?3)) ORDER BY start_ns, rid",
	[ST_USAGE_COUNT] = "SELECT count(DISTINCT g.request_id) FROM grants g JOIN requests r "
		"ON r.id = g.request_id WHERE g.vm_id = ?1 AND r.start_ns >= ?2",
	[ST_USAGE_LAST] = "SELECT r.start_ns, r.requestor FROM grants g JOIN requests r ON r.id = g.request_id "
		"WHERE g.vm_id = ?1 ORDER BY r.start_ns DESC, r.rowid DESC LIMIT 1",
	[ST_ACTIVITY_INSERT] = "INSERT INTO activity (time_ns, caller, caller_addr, operation, resource_id, "
		"status, detail, justification, correlation_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
	[ST_TOKEN_INSERT] = "INSERT INTO tokens (name, hash, role, scope, created_ns, revoked_ns) "
		"VALUES (?1, ?2, ?3, ?4, ?5, 0)",
	[ST_TOKEN_FIND] = TOKEN_COLS " WHERE hash = ?1 AND revoked_ns = 0",
	[ST_TOKEN_LIST] = TOKEN_COLS " ORDER BY name",
	[ST_TOKEN_REVOKE] = "UPDATE tokens SET revoked_ns = ?2 WHERE name = ?1 AND revoked_ns = 0",
};

/* Activity filters: each bit adds one condition; the statement for each combination is cached. */
enum {
	AF_SINCE = 1 << 0,
	AF_UNTIL = 1 << 1,
	AF_CALLER = 1 << 2,
	AF_PREFIX = 1 << 3,
	AF_OPERATION = 1 << 4,
	AF_BEFORE = 1 << 5,
	AF__COMBINATIONS = 1 << 6,
};

/*
 * Parameter n + 1 belongs to bit n; ?7 is the limit. The prefix compares characters,
 * not a LIKE pattern, so '%' and '_' in a user's filter mean themselves.
 */
static const char *const activity_cond[] = {
	"time_ns >= ?1",
	"time_ns < ?2",
	"caller = ?3",
	"substr(resource_id, 1, length(?4)) = ?4 COLLATE NOCASE",
	"operation = ?5",
	"id < ?6",
};

struct store {
	sqlite3 *db;
	sqlite3_stmt *stmt[ST__MAX];
	sqlite3_stmt *activity_stmt[AF__COMBINATIONS];
	bool readonly;
	uint64_t undone;	/* rollbacks and failed statements, for store_generation() */
	char error[STORE_ERROR_MAX];
};

/* Is this fixed array NUL-terminated within its size? */
#define FIELD_OK(f) (memchr((f), '\0', sizeof(f)) != NULL)

/* ---- errors ---- */

static int
set_error(struct store *st, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int
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
static int
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

static int
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
static int
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
static void
stmt_done(sqlite3_stmt *s)
{
	if (s) {
		sqlite3_reset(s);
		sqlite3_clear_bindings(s);
	}
}

/* Run a statement that returns no rows. */
static int
stmt_run(struct store *st, sqlite3_stmt *s)
{
	int rc = sqlite3_step(s);

	if (rc != SQLITE_DONE)
		return sql_fail(st, rc);
	return 0;
}

static int
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

static int
bind_str(sqlite3_stmt *s, int i, const char *v)
{
	return sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
}

/* Copy a text column into a fixed array; text that does not fit is corruption, never cut. */
static int
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
static int
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

/*
 * One atomic operation of several statements: its own transaction outside
 * store_begin(), a savepoint inside one, so that a failure undoes just this
 * operation and leaves the caller's transaction as it was.
 */
struct op {
	bool own;	/* we began the transaction (rather than a savepoint) */
};

static int
op_begin(struct store *st, struct op *op)
{
	op->own = sqlite3_get_autocommit(st->db);
	return run_cached(st, op->own ? ST_BEGIN : ST_SAVEPOINT);
}

/* End the operation: keep it if r >= 0 (and the commit works), else undo it. Returns r or the commit's error. */
static int
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

/* ---- VMs ---- */

static int
vm_addrs_format(struct store *st, const struct store_vm *vm, char *buf, size_t size)
{
	size_t i, pos = 0;

	buf[0] = '\0';
	for (i = 0; i < vm->n_addrs; i++) {
		int n;

		if (i > 0) {
			if (pos + 1 >= size)
				return set_error(st, -EINVAL, "VM addresses too long");
			buf[pos++] = ' ';
		}
		n = net_addr_format(&vm->addrs[i], buf + pos, size - pos);
		if (n < 0)
			return set_error(st, -EINVAL, "VM address %zu cannot be formatted", i);
		pos += (size_t)n;
	}
	return 0;
}

static int
vm_addrs_parse(struct store *st, const char *text, struct store_vm *vm)
{
	const char *p = text;

	vm->n_addrs = 0;
	while (*p != '\0') {
		const char *sp = strchr(p, ' ');
		size_t n = sp ? (size_t)(sp - p) : strlen(p);

		if (vm->n_addrs >= FW_VM_ADDRS_MAX || net_addr_parse(p, n, &vm->addrs[vm->n_addrs], NULL) < 0)
			return corrupt(st, "vms", "addrs");
		vm->n_addrs++;
		p += n;
		if (*p == ' ')
			p++;
	}
	return 0;
}

static int
vm_from_row(struct store *st, sqlite3_stmt *s, struct store_vm *vm)
{
	char addrs[FW_VM_ADDRS_MAX * NET_ADDR_TEXT_MAX];
	int64_t point;
	int r;

	memset(vm, 0, sizeof(*vm));
	vm->id = sqlite3_column_int64(s, 0);
	if ((r = col_text(st, s, 1, vm->arm.subscription, sizeof(vm->arm.subscription), "vms")) < 0 ||
	    (r = col_text(st, s, 2, vm->arm.resource_group, sizeof(vm->arm.resource_group), "vms")) < 0 ||
	    (r = col_text(st, s, 3, vm->arm.name, sizeof(vm->arm.name), "vms")) < 0 ||
	    (r = col_text(st, s, 4, vm->location, sizeof(vm->location), "vms")) < 0 ||
	    (r = col_text(st, s, 5, vm->os_type, sizeof(vm->os_type), "vms")) < 0 ||
	    (r = col_text(st, s, 7, addrs, sizeof(addrs), "vms")) < 0 ||
	    (r = col_text(st, s, 8, vm->unsupported_reason, sizeof(vm->unsupported_reason), "vms")) < 0)
		return r;
	point = sqlite3_column_int64(s, 6);
	if (point != STORE_POINT_LOCAL && point != STORE_POINT_GATEWAY)
		return corrupt(st, "vms", "point");
	vm->point = (enum store_point)point;
	vm->created_ns = sqlite3_column_int64(s, 9);
	return vm_addrs_parse(st, addrs, vm);
}

static bool
vm_arm_ok(const struct arm_vm_id *arm)
{
	return FIELD_OK(arm->subscription) && FIELD_OK(arm->resource_group) && FIELD_OK(arm->name) &&
	    arm->subscription[0] != '\0' && arm->resource_group[0] != '\0' && arm->name[0] != '\0';
}

static int
bind_vm_arm(sqlite3_stmt *s, const struct arm_vm_id *arm)
{
	int rc = bind_str(s, 1, arm->subscription);

	if (rc == SQLITE_OK)
		rc = bind_str(s, 2, arm->resource_group);
	if (rc == SQLITE_OK)
		rc = bind_str(s, 3, arm->name);
	return rc;
}

/*
 * -EADDRINUSE if another VM (any point; id self_id excepted) has one of vm's addresses. Read inside
 * store_vm_put's write transaction (BEGIN IMMEDIATE), so two writers cannot both pass it.
 */
static int
vm_addrs_free(struct store *st, const struct store_vm *vm, int64_t self_id)
{
	char text[NET_ADDR_TEXT_MAX];
	struct store_vm other;
	sqlite3_stmt *s = NULL;
	size_t i, j;
	int rc, r;

	r = stmt_get(st, ST_VM_LIST, &s);
	if (r < 0)
		return r;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		r = vm_from_row(st, s, &other);
		if (r < 0)
			goto out;
		if (other.id == self_id)
			continue;
		for (i = 0; i < vm->n_addrs; i++)
			for (j = 0; j < other.n_addrs; j++) {
				if (!net_addr_equal(&vm->addrs[i], &other.addrs[j]))
					continue;
				if (net_addr_format(&vm->addrs[i], text, sizeof(text)) < 0)
					text[0] = '\0';
				r = set_error(st, -EADDRINUSE, "%s is an address of VM %lld", text, (long long)other.id);
				goto out;
			}
	}
	r = rc == SQLITE_DONE ? 0 : sql_fail(st, rc);
out:
	stmt_done(s);
	return r;
}

int
store_vm_put(struct store *st, const struct store_vm *vm, int64_t *ret_id, bool *ret_created)
{
	char addrs[FW_VM_ADDRS_MAX * NET_ADDR_TEXT_MAX];
	sqlite3_stmt *s = NULL;
	struct op op;
	int64_t id = 0;
	bool created = false;
	int rc, r;

	if (!vm_arm_ok(&vm->arm) || !FIELD_OK(vm->location) || !FIELD_OK(vm->os_type) ||
	    !FIELD_OK(vm->unsupported_reason) || vm->n_addrs > FW_VM_ADDRS_MAX ||
	    (vm->point != STORE_POINT_LOCAL && vm->point != STORE_POINT_GATEWAY))
		return set_error(st, -EINVAL, "invalid VM record");
	r = vm_addrs_format(st, vm, addrs, sizeof(addrs));
	if (r < 0)
		return r;

	r = op_begin(st, &op);
	if (r < 0)
		return r;
	r = stmt_get(st, ST_VM_FIND, &s);
	if (r < 0)
		goto out;
	rc = bind_vm_arm(s, &vm->arm);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		id = sqlite3_column_int64(s, 0);
		/* a VM's enforcement point is fixed at creation: a gateway never becomes the input hook's */
		if (sqlite3_column_int64(s, 1) != (int64_t)vm->point) {
			r = set_error(st, -EPERM, "the enforcement point of VM %lld cannot change", (long long)id);
			goto out;
		}
	} else if (rc == SQLITE_DONE) {
		created = true;
	} else {
		r = sql_fail(st, rc);
		goto out;
	}
	stmt_done(s);
	/* an address belongs to one VM; the local VM's are this host's, whatever else claims them */
	if (vm->point == STORE_POINT_GATEWAY) {
		r = vm_addrs_free(st, vm, id);
		if (r < 0)
			goto out;
	}

	/* Both statements take the same first eight parameters; the insert adds created_ns, the update the id. */
	r = stmt_get(st, created ? ST_VM_INSERT : ST_VM_UPDATE, &s);
	if (r < 0)
		goto out;
	rc = bind_vm_arm(s, &vm->arm);
	if (rc == SQLITE_OK)
		rc = bind_str(s, 4, vm->location);
	if (rc == SQLITE_OK)
		rc = bind_str(s, 5, vm->os_type);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int(s, 6, (int)vm->point);
	if (rc == SQLITE_OK)
		rc = bind_str(s, 7, addrs);
	if (rc == SQLITE_OK)
		rc = bind_str(s, 8, vm->unsupported_reason);
	if (rc == SQLITE_OK)
		rc = created ? sqlite3_bind_int64(s, 9, vm->created_ns) : sqlite3_bind_int64(s, 10, id);
	if (rc != SQLITE_OK) {
		r = sql_fail(st, rc);
		goto out;
	}
	r = stmt_run(st, s);
	if (r < 0)
		goto out;
	if (created)
		id = sqlite3_last_insert_rowid(st->db);
out:
	stmt_done(s);
	r = op_end(st, &op, r);
	if (r < 0)
		return r;
	if (ret_id)
		*ret_id = id;
	if (ret_created)
		*ret_created = created;
	return 0;
}

/* The one row of a statement already bound: -ENOENT if none. */
static int
vm_get_one(struct store *st, sqlite3_stmt *s, int rc, struct store_vm *ret)
{
	struct store_vm vm;
	int r;

	if (rc == SQLITE_OK)
		rc = sqlite3_step(s);
	if (rc == SQLITE_DONE)
		return set_error(st, -ENOENT, "no such VM");
	if (rc != SQLITE_ROW)
		return sql_fail(st, rc);
	r = vm_from_row(st, s, &vm);
	if (r < 0)
		return r;
	*ret = vm;
	return 0;
}

int
store_vm_get(struct store *st, const struct arm_vm_id *arm, struct store_vm *ret)
{
	sqlite3_stmt *s = NULL;
	int r;

	if (!vm_arm_ok(arm))
		return set_error(st, -EINVAL, "invalid VM id");
	r = stmt_get(st, ST_VM_GET, &s);
	if (r < 0)
		return r;
	r = vm_get_one(st, s, bind_vm_arm(s, arm), ret);
	stmt_done(s);
	return r;
}

int
store_vm_get_by_id(struct store *st, int64_t id, struct store_vm *ret)
{
	sqlite3_stmt *s = NULL;
	int r;

	r = stmt_get(st, ST_VM_GET_BY_ID, &s);
	if (r < 0)
		return r;
	r = vm_get_one(st, s, sqlite3_bind_int64(s, 1, id), ret);
	stmt_done(s);
	return r;
}

int
store_vm_list(struct store *st, struct store_vm **ret, size_t *ret_n)
{
	struct store_vm *v = NULL, *grown;
	sqlite3_stmt *s = NULL;
	size_t n = 0, cap = 0;
	int rc, r;

	r = stmt_get(st, ST_VM_LIST, &s);
	if (r < 0)
		return r;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		grown = array_grow(v, &cap, n, sizeof(*v));
		if (!grown) {
			r = set_error(st, -ENOMEM, "out of memory");
			goto out;
		}
		v = grown;
		r = vm_from_row(st, s, &v[n]);
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
	r = 0;
out:
	stmt_done(s);
	free(v);
	return r;
}

/* The id of the policy that holds vm_id, or -ENOENT. */
static int
link_owner(struct store *st, int64_t vm_id, int64_t *ret_policy_id)
{
	sqlite3_stmt *s = NULL;
	int rc, r;

	r = stmt_get(st, ST_LINK_OWNER, &s);
	if (r < 0)
		return r;
	rc = sqlite3_bind_int64(s, 1, vm_id);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*ret_policy_id = sqlite3_column_int64(s, 0);
		r = 0;
	} else if (rc == SQLITE_DONE) {
		r = set_error(st, -ENOENT, "VM %lld is in no policy", (long long)vm_id);
	} else {
		r = sql_fail(st, rc);
	}
	stmt_done(s);
	return r;
}

int
store_vm_delete(struct store *st, int64_t id)
{
	sqlite3_stmt *s = NULL;
	int64_t policy_id = 0;
	int rc, r;

	r = link_owner(st, id, &policy_id);
	if (r == 0)
		return set_error(st, -EBUSY, "VM %lld is in policy %lld", (long long)id, (long long)policy_id);
	if (r != -ENOENT)
		return r;
	r = stmt_get(st, ST_VM_DELETE, &s);
	if (r < 0)
		return r;
	rc = sqlite3_bind_int64(s, 1, id);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(s);
	if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)	/* linked after all (another writer) */
		r = set_error(st, -EBUSY, "VM %lld is in a policy", (long long)id);
	else if (rc != SQLITE_DONE)
		r = sql_fail(st, rc);
	else if (sqlite3_changes(st->db) == 0)
		r = set_error(st, -ENOENT, "no VM with id %lld", (long long)id);
	stmt_done(s);
	return r;
}

/* ---- policies ---- */

static bool
policy_arm_ok(const struct arm_policy_id *arm)
{
	return FIELD_OK(arm->subscription) && FIELD_OK(arm->resource_group) && FIELD_OK(arm->location) &&
	    FIELD_OK(arm->name) && arm->subscription[0] != '\0' && arm->resource_group[0] != '\0' &&
	    arm->location[0] != '\0' && arm->name[0] != '\0';
}

static int
bind_policy_arm(sqlite3_stmt *s, const struct arm_policy_id *arm)
{
	int rc = bind_str(s, 1, arm->subscription);

	if (rc == SQLITE_OK)
		rc = bind_str(s, 2, arm->resource_group);
	if (rc == SQLITE_OK)
		rc = bind_str(s, 3, arm->location);
	if (rc == SQLITE_OK)
		rc = bind_str(s, 4, arm->name);
	return rc;
}

static int
policy_from_row(struct store *st, sqlite3_stmt *s, struct store_policy *p)
{
	int r;

	memset(p, 0, sizeof(*p));
	p->id = sqlite3_column_int64(s, 0);
	if ((r = col_text(st, s, 1, p->arm.subscription, sizeof(p->arm.subscription), "policies")) < 0 ||
	    (r = col_text(st, s, 2, p->arm.resource_group, sizeof(p->arm.resource_group), "policies")) < 0 ||
	    (r = col_text(st, s, 3, p->arm.location, sizeof(p->arm.location), "policies")) < 0 ||
	    (r = col_text(st, s, 4, p->arm.name, sizeof(p->arm.name), "policies")) < 0)
		return r;
	p->created_ns = sqlite3_column_int64(s, 6);
	p->updated_ns = sqlite3_column_int64(s, 7);
	return col_strdup(st, s, 5, &p->json, "policies");
}

/* Link vm_id to policy_id, which holds no VMs yet but may list one twice. */
static int
policy_link(struct store *st, int64_t policy_id, int64_t vm_id)
{
	sqlite3_stmt *s = NULL;
	int64_t owner = 0;
	int rc, r;

	r = link_owner(st, vm_id, &owner);
	if (r == 0) {
		if (owner == policy_id)
			return 0;	/* listed twice */
		return set_error(st, -EEXIST, "VM %lld is already in policy %lld", (long long)vm_id,
		    (long long)owner);
	}
	if (r != -ENOENT)
		return r;
	r = stmt_get(st, ST_LINK_INSERT, &s);
	if (r < 0)
		return r;
	rc = sqlite3_bind_int64(s, 1, vm_id);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(s, 2, policy_id);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(s);
	if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
		r = set_error(st, -ENOENT, "no VM with id %lld", (long long)vm_id);
	else if (rc != SQLITE_DONE)
		r = sql_fail(st, rc);
	stmt_done(s);
	return r;
}

int
store_policy_put(struct store *st, const struct arm_policy_id *arm, const char *json, const int64_t *vm_ids,
		 size_t n_vm_ids, int64_t now_ns, int64_t *ret_id, bool *ret_created)
{
	sqlite3_stmt *s = NULL;
	struct op op;
	int64_t id = 0;
	bool created = false;
	size_t i;
	int rc, r;

	if (!policy_arm_ok(arm) || !json || (n_vm_ids > 0 && !vm_ids) || n_vm_ids > POLICY_VMS_MAX)
		return set_error(st, -EINVAL, "invalid policy record");

	r = op_begin(st, &op);
	if (r < 0)
		return r;
	r = stmt_get(st, ST_POLICY_FIND, &s);
	if (r < 0)
		goto out;
	rc = bind_policy_arm(s, arm);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		id = sqlite3_column_int64(s, 0);
	} else if (rc == SQLITE_DONE) {
		created = true;
	} else {
		r = sql_fail(st, rc);
		goto out;
	}
	stmt_done(s);

	/* The id's casing follows the latest PUT; created_ns is set once (by the insert's ?6 twice). */
	r = stmt_get(st, created ? ST_POLICY_INSERT : ST_POLICY_UPDATE, &s);
	if (r < 0)
		goto out;
	rc = bind_policy_arm(s, arm);
	if (rc == SQLITE_OK)
		rc = bind_str(s, 5, json);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(s, 6, now_ns);
	if (rc == SQLITE_OK && !created)
		rc = sqlite3_bind_int64(s, 7, id);
	if (rc != SQLITE_OK) {
		r = sql_fail(st, rc);
		goto out;
	}
	r = stmt_run(st, s);
	if (r < 0)
		goto out;
	if (created)
		id = sqlite3_last_insert_rowid(st->db);
	stmt_done(s);

	r = stmt_get(st, ST_LINKS_CLEAR, &s);
	if (r < 0)
		goto out;
	rc = sqlite3_bind_int64(s, 1, id);
	if (rc != SQLITE_OK) {
		r = sql_fail(st, rc);
		goto out;
	}
	r = stmt_run(st, s);
	if (r < 0)
		goto out;
	stmt_done(s);
	s = NULL;
	for (i = 0; i < n_vm_ids; i++) {
		r = policy_link(st, id, vm_ids[i]);
		if (r < 0)
			goto out;
	}
out:
	stmt_done(s);
	r = op_end(st, &op, r);
	if (r < 0)
		return r;
	if (ret_id)
		*ret_id = id;
	if (ret_created)
		*ret_created = created;
	return 0;
}

static int
policy_get_one(struct store *st, sqlite3_stmt *s, int rc, struct store_policy *ret)
{
	struct store_policy p;
	int r;

	if (rc == SQLITE_OK)
		rc = sqlite3_step(s);
	if (rc == SQLITE_DONE)
		return set_error(st, -ENOENT, "no such policy");
	if (rc != SQLITE_ROW)
		return sql_fail(st, rc);
	r = policy_from_row(st, s, &p);
	if (r < 0)
		return r;
	*ret = p;
	return 0;
}

int
store_policy_get(struct store *st, const struct arm_policy_id *arm, struct store_policy *ret)
{
	sqlite3_stmt *s = NULL;
	int r;

	if (!policy_arm_ok(arm))
		return set_error(st, -EINVAL, "invalid policy id");
	r = stmt_get(st, ST_POLICY_GET, &s);
	if (r < 0)
		return r;
	r = policy_get_one(st, s, bind_policy_arm(s, arm), ret);
	stmt_done(s);
	return r;
}

int
store_policy_get_by_id(struct store *st, int64_t id, struct store_policy *ret)
{
	sqlite3_stmt *s = NULL;
	int r;

	r = stmt_get(st, ST_POLICY_GET_BY_ID, &s);
	if (r < 0)
		return r;
	r = policy_get_one(st, s, sqlite3_bind_int64(s, 1, id), ret);
	stmt_done(s);
	return r;
}

int
store_policy_list(struct store *st, struct store_policy **ret, size_t *ret_n)
{
	struct store_policy *v = NULL, *grown;
	sqlite3_stmt *s = NULL;
	size_t n = 0, cap = 0;
	int rc, r;

	r = stmt_get(st, ST_POLICY_LIST, &s);
	if (r < 0)
		return r;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		grown = array_grow(v, &cap, n, sizeof(*v));
		if (!grown) {
			r = set_error(st, -ENOMEM, "out of memory");
			goto out;
		}
		v = grown;
		r = policy_from_row(st, s, &v[n]);
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
	stmt_done(s);
	store_policies_free(v, n);
	return r;
}

int
store_policy_of_vm(struct store *st, int64_t vm_id, int64_t *ret_policy_id)
{
	return link_owner(st, vm_id, ret_policy_id);
}

int
store_policy_delete(struct store *st, int64_t id)
{
	sqlite3_stmt *s = NULL;
	int rc, r;

	r = stmt_get(st, ST_POLICY_DELETE, &s);
	if (r < 0)
		return r;
	rc = sqlite3_bind_int64(s, 1, id);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(s);
	if (rc != SQLITE_DONE)
		r = sql_fail(st, rc);
	else if (sqlite3_changes(st->db) == 0)
		r = set_error(st, -ENOENT, "no policy with id %lld", (long long)id);
	stmt_done(s);
	return r;
}

void
store_policy_clear(struct store_policy *p)
{
	if (p) {
		free(p->json);
		p->json = NULL;
	}
}

void
store_policies_free(struct store_policy *v, size_t n)
{
	size_t i;

	if (!v)
		return;
	for (i = 0; i < n; i++)
		store_policy_clear(&v[i]);
	free(v);
}

/* ---- requests and grants ---- */

static bool
grant_ok(const struct store_grant *g)
{
	return g->port != 0 && (g->proto == NET_PROTO_ANY || g->proto == NET_PROTO_TCP ||
	    g->proto == NET_PROTO_UDP) && (g->source.any || net_prefix_is_valid(&g->source.prefix)) &&
	    (g->status == STORE_GRANT_INITIATED || g->status == STORE_GRANT_REVOKED) &&
	    g->reason >= STORE_REASON_NONE && g->reason <= STORE_REASON_LAST && FIELD_OK(g->boot_id) &&
	    (g->boot_id[0] ? g->mono_end_ns > 0 : g->mono_end_ns == 0);
}

static int
grant_insert(struct store *st, const char *request_id, const char *requestor, const struct store_grant *g)
{
	char source[NET_PREFIX_TEXT_MAX];
	sqlite3_stmt *s = NULL;
	int rc, r;

	if (net_source_format(&g->source, source, sizeof(source)) < 0)
		return set_error(st, -EINVAL, "grant source cannot be formatted");
	r = stmt_get(st, ST_GRANT_INSERT, &s);
	if (r < 0)
		return r;
	rc = bind_str(s, 1, request_id);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(s, 2, g->vm_id);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int(s, 3, g->port);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int(s, 4, (int)g->proto);
	if (rc == SQLITE_OK)
		rc = bind_str(s, 5, source);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(s, 6, g->end_ns);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int(s, 7, (int)g->status);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int(s, 8, (int)g->reason);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(s, 9, g->ended_ns);
	if (rc == SQLITE_OK)
		rc = bind_str(s, 10, requestor);
	if (rc == SQLITE_OK)
		rc = bind_str(s, 11, g->boot_id);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(s, 12, g->mono_end_ns);
	r = rc == SQLITE_OK ? stmt_run(st, s) : sql_fail(st, rc);
	stmt_done(s);
	return r;
}

int
store_request_insert(struct store *st, const struct store_request *req)
{
	sqlite3_stmt *s = NULL;
	struct op op;
	size_t i;
	int rc, r;

	if (!FIELD_OK(req->id) || req->id[0] == '\0' || !FIELD_OK(req->requestor) ||
	    !FIELD_OK(req->requestor_addr) || !FIELD_OK(req->justification) ||
	    (req->n_grants > 0 && !req->grants) || req->n_grants > STORE_GRANTS_MAX)
		return set_error(st, -EINVAL, "invalid request record");
	for (i = 0; i < req->n_grants; i++)
		if (!grant_ok(&req->grants[i]))
			return set_error(st, -EINVAL, "invalid grant %zu", i);

	r = op_begin(st, &op);
	if (r < 0)
		return r;
	r = stmt_get(st, ST_REQUEST_INSERT, &s);
	if (r < 0)
		goto out;
	rc = bind_str(s, 1, req->id);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(s, 2, req->policy_id);
	if (rc == SQLITE_OK)
		rc = bind_str(s, 3, req->requestor);
	if (rc == SQLITE_OK)
		rc = bind_str(s, 4, req->requestor_addr);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(s, 5, req->start_ns);
	if (rc == SQLITE_OK)
		rc = bind_str(s, 6, req->justification);
	r = rc == SQLITE_OK ? stmt_run(st, s) : sql_fail(st, rc);
	if (r < 0)
		goto out;
	/* Each grant belongs to this request, whatever its own request_id says. */
	for (i = 0; i < req->n_grants; i++) {
		r = grant_insert(st, req->id, req->requestor, &req->grants[i]);
		if (r < 0)
			goto out;
	}
out:
	stmt_done(s);
	return op_end(st, &op, r);
}

int
store_grant_end(struct store *st, const char *request_id, int64_t vm_id, uint16_t port,
		enum store_grant_reason reason, int64_t ended_ns)
{
	sqlite3_stmt *s = NULL;
	int rc, r;

	if (!request_id || reason < STORE_REASON_NONE || reason > STORE_REASON_LAST)
		return set_error(st, -EINVAL, "invalid grant end");
	r = stmt_get(st, ST_GRANT_END, &s);
	if (r < 0)
		return r;
	rc = bind_str(s, 1, request_id);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(s, 2, vm_id);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int(s, 3, port);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int(s, 4, (int)reason);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(s, 5, ended_ns);
	r = rc == SQLITE_OK ? stmt_run(st, s) : sql_fail(st, rc);
	if (r == 0 && sqlite3_changes(st->db) == 0)
		r = set_error(st, -ENOENT, "no Initiated grant for that request, VM and port");
	stmt_done(s);
	return r;
}

int
store_grant_truncate(struct store *st, const char *request_id, int64_t vm_id, uint16_t port, int64_t end_ns,
		     const char *boot_id, int64_t mono_end_ns)
{
	sqlite3_stmt *s = NULL;
	int rc, r;

	if (!request_id)
		return set_error(st, -EINVAL, "invalid grant truncation");
	r = stmt_get(st, ST_GRANT_TRUNCATE, &s);
	if (r < 0)
		return r;
	rc = bind_str(s, 1, request_id);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(s, 2, vm_id);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int(s, 3, port);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(s, 4, end_ns);
	if (rc == SQLITE_OK)
		rc = boot_id && boot_id[0] ? bind_str(s, 5, boot_id) : sqlite3_bind_null(s, 5);
	if (rc == SQLITE_OK)	/* an end already past is still a monotonic end: never 0 ("not known") */
		rc = sqlite3_bind_int64(s, 6, mono_end_ns > 0 ? mono_end_ns : 1);
	r = rc == SQLITE_OK ? stmt_run(st, s) : sql_fail(st, rc);
	if (r == 0 && sqlite3_changes(st->db) == 0)
		r = set_error(st, -ENOENT, "no Initiated grant for that request, VM and port ending after that time");
	stmt_done(s);
	return r;
}

static int
grant_from_row(struct store *st, sqlite3_stmt *s, struct store_grant *g)
{
	char source[NET_PREFIX_TEXT_MAX];
	int64_t port, proto, status, reason;
	int r;

	memset(g, 0, sizeof(*g));
	if ((r = col_text(st, s, 0, g->request_id, sizeof(g->request_id), "grants")) < 0 ||
	    (r = col_text(st, s, 4, source, sizeof(source), "grants")) < 0 ||
	    (r = col_text(st, s, 9, g->requestor, sizeof(g->requestor), "requests")) < 0 ||
	    (r = col_text(st, s, 11, g->boot_id, sizeof(g->boot_id), "grants")) < 0)
		return r;
	if (net_source_parse(source, strlen(source), &g->source, NULL) < 0)
		return corrupt(st, "grants", "source");
	g->mono_end_ns = sqlite3_column_int64(s, 12);
	if (g->boot_id[0] ? g->mono_end_ns <= 0 : g->mono_end_ns != 0)
		return corrupt(st, "grants", "mono_end_ns");
	g->vm_id = sqlite3_column_int64(s, 1);
	port = sqlite3_column_int64(s, 2);
	proto = sqlite3_column_int64(s, 3);
	status = sqlite3_column_int64(s, 6);
	reason = sqlite3_column_int64(s, 7);
	if (port < 1 || port > UINT16_MAX)
		return corrupt(st, "grants", "port");
	if (proto != NET_PROTO_ANY && proto != NET_PROTO_TCP && proto != NET_PROTO_UDP)
		return corrupt(st, "grants", "proto");
	if (status != STORE_GRANT_INITIATED && status != STORE_GRANT_REVOKED)
		return corrupt(st, "grants", "status");
	if (reason < STORE_REASON_NONE || reason > STORE_REASON_LAST)
		return corrupt(st, "grants", "reason");
	g->port = (uint16_t)port;
	g->proto = (enum net_proto)proto;
	g->status = (enum store_grant_status)status;
	g->reason = (enum store_grant_reason)reason;
	g->end_ns = sqlite3_column_int64(s, 5);
	g->ended_ns = sqlite3_column_int64(s, 8);
	g->policy_id = sqlite3_column_int64(s, 10);
	return 0;
}

/* All rows of a grant query whose parameters are bound (rc: the binding's result). */
static int
grants_collect(struct store *st, sqlite3_stmt *s, int rc, struct store_grant **ret, size_t *ret_n)
{
	struct store_grant *v = NULL, *grown;
	size_t n = 0, cap = 0;
	int r;

	if (rc != SQLITE_OK)
		return sql_fail(st, rc);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		grown = array_grow(v, &cap, n, sizeof(*v));
		if (!grown) {
			r = set_error(st, -ENOMEM, "out of memory");
			goto out;
		}
		v = grown;
		r = grant_from_row(st, s, &v[n]);
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
	r = 0;
out:
	free(v);
	return r;
}

int
store_grants_initiated(struct store *st, struct store_grant **ret, size_t *ret_n)
{
	sqlite3_stmt *s = NULL;
	int r;

	r = stmt_get(st, ST_GRANTS_INITIATED, &s);
	if (r < 0)
		return r;
	r = grants_collect(st, s, SQLITE_OK, ret, ret_n);
	stmt_done(s);
	return r;
}

int
store_grants_live_on(struct store *st, int64_t vm_id, uint16_t port, const char *requestor, struct store_grant **ret,
		     size_t *ret_n)
{
	sqlite3_stmt *s = NULL;
	int rc = SQLITE_OK, r, first = requestor ? 2 : 1;

	r = stmt_get(st, requestor ? ST_GRANTS_OF_REQUESTOR : ST_GRANTS_LIVE_ON, &s);
	if (r < 0)
		return r;
	if (requestor)
		rc = bind_str(s, 1, requestor);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(s, first, vm_id);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int(s, first + 1, port);
	r = grants_collect(st, s, rc, ret, ret_n);
	stmt_done(s);
	return r;
}

int
store_grants_live_each(struct store *st, int64_t after_ns, int (*fn)(void *ctx, const struct store_grant *g), void *ctx)
{
	struct store_grant g;
	sqlite3_stmt *s = NULL;
	int rc, r;

	r = stmt_get(st, ST_GRANTS_LIVE, &s);
	if (r < 0)
		return r;
	rc = sqlite3_bind_int64(s, 1, after_ns);
	if (rc != SQLITE_OK) {
		r = sql_fail(st, rc);
		goto out;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if ((r = grant_from_row(st, s, &g)) < 0 || (r = fn(ctx, &g)) < 0)
			goto out;
	}
	r = rc == SQLITE_DONE ? 0 : sql_fail(st, rc);
out:
	stmt_done(s);
	return r;
}

int
store_grants_due(struct store *st, int64_t now_ns, const char *boot_id, int64_t mono_ns, struct store_grant **ret,
		 size_t *ret_n)
{
	sqlite3_stmt *s = NULL;
	int rc, r;

	r = stmt_get(st, ST_GRANTS_DUE, &s);
	if (r < 0)
		return r;
	rc = sqlite3_bind_int64(s, 1, now_ns);
	if (rc == SQLITE_OK)
		rc = boot_id && boot_id[0] ? bind_str(s, 2, boot_id) : sqlite3_bind_null(s, 2);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(s, 3, mono_ns);
	r = grants_collect(st, s, rc, ret, ret_n);
	stmt_done(s);
	return r;
}

int
store_grants_adopt_boot(struct store *st, const char *boot_id, int64_t now_ns, int64_t mono_ns)
{
	sqlite3_stmt *s = NULL;
	int rc, r;

	if (!boot_id || !boot_id[0] || strlen(boot_id) > STORE_BOOT_ID_MAX || mono_ns <= 0)
		return set_error(st, -EINVAL, "invalid boot");
	r = stmt_get(st, ST_GRANTS_ADOPT, &s);
	if (r < 0)
		return r;
	rc = bind_str(s, 1, boot_id);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(s, 2, now_ns);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(s, 3, mono_ns);
	r = rc == SQLITE_OK ? stmt_run(st, s) : sql_fail(st, rc);
	if (r == 0)
		r = sqlite3_changes(st->db);
	stmt_done(s);
	return r;
}

int
store_grant_next_end(struct store *st, int64_t after_ns, int64_t *ret_ns)
{
	sqlite3_stmt *s = NULL;
	int rc, r;

	r = stmt_get(st, ST_GRANT_NEXT_END, &s);
	if (r < 0)
		return r;
	rc = sqlite3_bind_int64(s, 1, after_ns);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(s);
	if (rc != SQLITE_ROW) {
		r = sql_fail(st, rc);
		goto out;
	}
	*ret_ns = sqlite3_column_type(s, 0) == SQLITE_NULL ? 0 : sqlite3_column_int64(s, 0);
	r = 0;
out:
	stmt_done(s);
	return r;
}

int
store_grant_next_mono_end(struct store *st, const char *boot_id, int64_t after_mono_ns, int64_t *ret_ns)
{
	sqlite3_stmt *s = NULL;
	int rc, r;

	if (!boot_id || !boot_id[0]) {
		*ret_ns = 0;
		return 0;
	}
	r = stmt_get(st, ST_GRANT_NEXT_MONO_END, &s);
	if (r < 0)
		return r;
	rc = bind_str(s, 1, boot_id);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(s, 2, after_mono_ns);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(s);
	if (rc != SQLITE_ROW) {
		r = sql_fail(st, rc);
		goto out;
	}
	*ret_ns = sqlite3_column_type(s, 0) == SQLITE_NULL ? 0 : sqlite3_column_int64(s, 0);
	r = 0;
out:
	stmt_done(s);
	return r;
}

static int
request_from_row(struct store *st, sqlite3_stmt *s, struct store_request *req)
{
	int r;

	memset(req, 0, sizeof(*req));
	if ((r = col_text(st, s, 0, req->id, sizeof(req->id), "requests")) < 0 ||
	    (r = col_text(st, s, 2, req->requestor, sizeof(req->requestor), "requests")) < 0 ||
	    (r = col_text(st, s, 3, req->requestor_addr, sizeof(req->requestor_addr), "requests")) < 0 ||
	    (r = col_text(st, s, 5, req->justification, sizeof(req->justification), "requests")) < 0)
		return r;
	req->policy_id = sqlite3_column_int64(s, 1);
	req->start_ns = sqlite3_column_int64(s, 4);
	return 0;
}

int
store_requests_of_policy(struct store *st, int64_t policy_id, int64_t since_ns, size_t limit,
			 struct store_request **ret, size_t *ret_n)
{
	struct store_request *v = NULL, *grown;
	sqlite3_stmt *s = NULL;
	size_t n = 0, cap = 0, i;
	int rc, r;

	r = stmt_get(st, ST_REQUESTS_OF_POLICY, &s);
	if (r < 0)
		return r;
	rc = sqlite3_bind_int64(s, 1, policy_id);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(s, 2, since_ns);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(s, 3, limit ? (int64_t)limit : -1);
	if (rc != SQLITE_OK) {
		r = sql_fail(st, rc);
		goto out;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		grown = array_grow(v, &cap, n, sizeof(*v));
		if (!grown) {
			r = set_error(st, -ENOMEM, "out of memory");
			goto out;
		}
		v = grown;
		r = request_from_row(st, s, &v[n]);
		if (r < 0)
			goto out;
		n++;
	}
	if (rc != SQLITE_DONE) {
		r = sql_fail(st, rc);
		goto out;
	}
	stmt_done(s);

	r = stmt_get(st, ST_GRANTS_OF_REQUEST, &s);
	if (r < 0)
		goto out;
	for (i = 0; i < n; i++) {
		r = grants_collect(st, s, bind_str(s, 1, v[i].id), &v[i].grants, &v[i].n_grants);
		stmt_done(s);
		if (r < 0)
			goto out;
	}
	*ret = v;
	*ret_n = n;
	v = NULL;
	n = 0;
	r = 0;
out:
	stmt_done(s);
	store_requests_free(v, n);
	return r;
}

void
store_requests_free(struct store_request *v, size_t n)
{
	size_t i;

	if (!v)
		return;
	for (i = 0; i < n; i++)
		free(v[i].grants);
	free(v);
}

int
store_vm_usage(struct store *st, int64_t vm_id, int64_t since_ns, struct store_vm_usage *ret)
{
	struct store_vm_usage u;
	sqlite3_stmt *s = NULL;
	int64_t count;
	int rc, r;

	memset(&u, 0, sizeof(u));
	r = stmt_get(st, ST_USAGE_COUNT, &s);
	if (r < 0)
		return r;
	rc = sqlite3_bind_int64(s, 1, vm_id);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(s, 2, since_ns);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(s);
	if (rc != SQLITE_ROW) {
		r = sql_fail(st, rc);
		goto out;
	}
	count = sqlite3_column_int64(s, 0);
	if (count < 0)
		count = 0;
	u.approved_since = (size_t)count;
	stmt_done(s);

	r = stmt_get(st, ST_USAGE_LAST, &s);
	if (r < 0)
		goto out;
	rc = sqlite3_bind_int64(s, 1, vm_id);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		u.last_access_ns = sqlite3_column_int64(s, 0);
		r = col_text(st, s, 1, u.last_user, sizeof(u.last_user), "requests");
		if (r < 0)
			goto out;
	} else if (rc != SQLITE_DONE) {
		r = sql_fail(st, rc);
		goto out;
	}
	*ret = u;
	r = 0;
out:
	stmt_done(s);
	return r;
}

/* ---- activity log ---- */

int
store_activity_append(struct store *st, struct store_activity *a)
{
	sqlite3_stmt *s = NULL;
	int rc, r;

	if (!FIELD_OK(a->caller) || !FIELD_OK(a->caller_addr) || !FIELD_OK(a->operation) ||
	    !FIELD_OK(a->resource_id) || !FIELD_OK(a->status) || !FIELD_OK(a->detail) ||
	    !FIELD_OK(a->justification) || !FIELD_OK(a->correlation_id))
		return set_error(st, -EINVAL, "invalid activity record");
	r = stmt_get(st, ST_ACTIVITY_INSERT, &s);
	if (r < 0)
		return r;
	rc = sqlite3_bind_int64(s, 1, a->time_ns);
	if (rc == SQLITE_OK)
		rc = bind_str(s, 2, a->caller);
	if (rc == SQLITE_OK)
		rc = bind_str(s, 3, a->caller_addr);
	if (rc == SQLITE_OK)
		rc = bind_str(s, 4, a->operation);
	if (rc == SQLITE_OK)
		rc = bind_str(s, 5, a->resource_id);
	if (rc == SQLITE_OK)
		rc = bind_str(s, 6, a->status);
	if (rc == SQLITE_OK)
		rc = bind_str(s, 7, a->detail);
	if (rc == SQLITE_OK)
		rc = bind_str(s, 8, a->justification);
	if (rc == SQLITE_OK)
		rc = bind_str(s, 9, a->correlation_id);
	r = rc == SQLITE_OK ? stmt_run(st, s) : sql_fail(st, rc);
	if (r == 0)
		a->id = sqlite3_last_insert_rowid(st->db);
	stmt_done(s);
	return r;
}

static int
activity_from_row(struct store *st, sqlite3_stmt *s, struct store_activity *a)
{
	int r;

	memset(a, 0, sizeof(*a));
	a->id = sqlite3_column_int64(s, 0);
	a->time_ns = sqlite3_column_int64(s, 1);
	if ((r = col_text(st, s, 2, a->caller, sizeof(a->caller), "activity")) < 0 ||
	    (r = col_text(st, s, 3, a->caller_addr, sizeof(a->caller_addr), "activity")) < 0 ||
	    (r = col_text(st, s, 4, a->operation, sizeof(a->operation), "activity")) < 0 ||
	    (r = col_text(st, s, 5, a->resource_id, sizeof(a->resource_id), "activity")) < 0 ||
	    (r = col_text(st, s, 6, a->status, sizeof(a->status), "activity")) < 0 ||
	    (r = col_text(st, s, 7, a->detail, sizeof(a->detail), "activity")) < 0 ||
	    (r = col_text(st, s, 8, a->justification, sizeof(a->justification), "activity")) < 0 ||
	    (r = col_text(st, s, 9, a->correlation_id, sizeof(a->correlation_id), "activity")) < 0)
		return r;
	return 0;
}

/* The cached query for this combination of filters, built from fixed fragments only. */
static int
activity_stmt(struct store *st, unsigned mask, sqlite3_stmt **ret)
{
	const char *join = "WHERE";
	char sql[512];
	size_t pos, i;
	int n, rc;

	if (st->activity_stmt[mask]) {
		*ret = st->activity_stmt[mask];
		return 0;
	}
	n = snprintf(sql, sizeof(sql), "%s", ACTIVITY_COLS);
	if (n < 0 || (size_t)n >= sizeof(sql))
		return set_error(st, -EIO, "activity query too long");
	pos = (size_t)n;
	for (i = 0; i < sizeof(activity_cond) / sizeof(activity_cond[0]); i++) {
		if (!(mask & (1u << i)))
			continue;
		n = snprintf(sql + pos, sizeof(sql) - pos, " %s %s", join, activity_cond[i]);
		if (n < 0 || (size_t)n >= sizeof(sql) - pos)
			return set_error(st, -EIO, "activity query too long");
		pos += (size_t)n;
		join = "AND";
	}
	n = snprintf(sql + pos, sizeof(sql) - pos, " ORDER BY id DESC LIMIT ?7");
	if (n < 0 || (size_t)n >= sizeof(sql) - pos)
		return set_error(st, -EIO, "activity query too long");
	rc = sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st->activity_stmt[mask], NULL);
	if (rc != SQLITE_OK)
		return sql_fail(st, rc);
	*ret = st->activity_stmt[mask];
	return 0;
}

int
store_activity_query(struct store *st, const struct store_activity_filter *f, struct store_activity **ret,
		     size_t *ret_n)
{
	struct store_activity *v = NULL, *grown;
	sqlite3_stmt *s = NULL;
	size_t n = 0, cap = 0, limit;
	unsigned mask = 0;
	int rc = SQLITE_OK, r;

	limit = f->limit == 0 || f->limit > STORE_QUERY_LIMIT_MAX ? STORE_QUERY_LIMIT_MAX : f->limit;
	if (f->since_ns != 0)
		mask |= AF_SINCE;
	if (f->until_ns != 0)
		mask |= AF_UNTIL;
	if (f->caller)
		mask |= AF_CALLER;
	if (f->resource_prefix)
		mask |= AF_PREFIX;
	if (f->operation)
		mask |= AF_OPERATION;
	if (f->before_id != 0)
		mask |= AF_BEFORE;
	r = activity_stmt(st, mask, &s);
	if (r < 0)
		return r;
	if (mask & AF_SINCE)
		rc = sqlite3_bind_int64(s, 1, f->since_ns);
	if (rc == SQLITE_OK && (mask & AF_UNTIL))
		rc = sqlite3_bind_int64(s, 2, f->until_ns);
	if (rc == SQLITE_OK && (mask & AF_CALLER))
		rc = bind_str(s, 3, f->caller);
	if (rc == SQLITE_OK && (mask & AF_PREFIX))
		rc = bind_str(s, 4, f->resource_prefix);
	if (rc == SQLITE_OK && (mask & AF_OPERATION))
		rc = bind_str(s, 5, f->operation);
	if (rc == SQLITE_OK && (mask & AF_BEFORE))
		rc = sqlite3_bind_int64(s, 6, f->before_id);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(s, 7, (int64_t)limit);
	if (rc != SQLITE_OK) {
		r = sql_fail(st, rc);
		goto out;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		grown = array_grow(v, &cap, n, sizeof(*v));
		if (!grown) {
			r = set_error(st, -ENOMEM, "out of memory");
			goto out;
		}
		v = grown;
		r = activity_from_row(st, s, &v[n]);
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
	r = 0;
out:
	stmt_done(s);
	free(v);
	return r;
}

/* ---- tokens ---- */

int
store_token_insert(struct store *st, const struct store_token *t)
{
	sqlite3_stmt *s = NULL;
	int rc, r;

	if (!FIELD_OK(t->name) || t->name[0] == '\0' || !FIELD_OK(t->role) || !FIELD_OK(t->scope))
		return set_error(st, -EINVAL, "invalid token record");
	r = stmt_get(st, ST_TOKEN_INSERT, &s);
	if (r < 0)
		return r;
	rc = bind_str(s, 1, t->name);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_blob(s, 2, t->hash, STORE_TOKEN_HASH_LEN, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = bind_str(s, 3, t->role);
	if (rc == SQLITE_OK)
		rc = bind_str(s, 4, t->scope);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(s, 5, t->created_ns);
	r = rc == SQLITE_OK ? stmt_run(st, s) : sql_fail(st, rc);
	stmt_done(s);
	return r;
}

static int
token_from_row(struct store *st, sqlite3_stmt *s, struct store_token *t)
{
	const void *hash;
	int r;

	memset(t, 0, sizeof(*t));
	if ((r = col_text(st, s, 0, t->name, sizeof(t->name), "tokens")) < 0 ||
	    (r = col_text(st, s, 1, t->role, sizeof(t->role), "tokens")) < 0 ||
	    (r = col_text(st, s, 2, t->scope, sizeof(t->scope), "tokens")) < 0)
		return r;
	hash = sqlite3_column_blob(s, 3);
	if (!hash || sqlite3_column_bytes(s, 3) != STORE_TOKEN_HASH_LEN)
		return corrupt(st, "tokens", "hash");
	memcpy(t->hash, hash, STORE_TOKEN_HASH_LEN);
	t->created_ns = sqlite3_column_int64(s, 4);
	t->revoked_ns = sqlite3_column_int64(s, 5);
	return 0;
}

int
store_token_find(struct store *st, const uint8_t hash[STORE_TOKEN_HASH_LEN], struct store_token *ret)
{
	struct store_token t;
	sqlite3_stmt *s = NULL;
	int rc, r;

	r = stmt_get(st, ST_TOKEN_FIND, &s);
	if (r < 0)
		return r;
	rc = sqlite3_bind_blob(s, 1, hash, STORE_TOKEN_HASH_LEN, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(s);
	if (rc == SQLITE_DONE) {
		r = set_error(st, -ENOENT, "no valid token with that hash");
	} else if (rc != SQLITE_ROW) {
		r = sql_fail(st, rc);
	} else {
		r = token_from_row(st, s, &t);
		if (r == 0)
			*ret = t;
	}
	stmt_done(s);
	return r;
}

int
store_token_list(struct store *st, struct store_token **ret, size_t *ret_n)
{
	struct store_token *v = NULL, *grown;
	sqlite3_stmt *s = NULL;
	size_t n = 0, cap = 0;
	int rc, r;

	r = stmt_get(st, ST_TOKEN_LIST, &s);
	if (r < 0)
		return r;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		grown = array_grow(v, &cap, n, sizeof(*v));
		if (!grown) {
			r = set_error(st, -ENOMEM, "out of memory");
			goto out;
		}
		v = grown;
		r = token_from_row(st, s, &v[n]);
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
	r = 0;
out:
	stmt_done(s);
	free(v);
	return r;
}

int
store_token_revoke(struct store *st, const char *name, int64_t now_ns)
{
	sqlite3_stmt *s = NULL;
	int rc, r;

	if (!name || now_ns == 0)
		return set_error(st, -EINVAL, "invalid token revoke");
	r = stmt_get(st, ST_TOKEN_REVOKE, &s);
	if (r < 0)
		return r;
	rc = bind_str(s, 1, name);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(s, 2, now_ns);
	r = rc == SQLITE_OK ? stmt_run(st, s) : sql_fail(st, rc);
	if (r == 0 && sqlite3_changes(st->db) == 0)
		r = set_error(st, -ENOENT, "no valid token named that");
	stmt_done(s);
	return r;
}

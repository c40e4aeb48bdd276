/* Private to the store's files: the store's state, the engine seam (struct db_ops), its statements and shared helpers. */
#ifndef JITGATE_STORE_INTERNAL_H
#define JITGATE_STORE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "store.h"

struct store_outbox_route;

/*
 * store-open.c opens an SQLite database (its settings and migrations); store-sqlite.c is SQLite's
 * engine behind struct db_ops (statements, columns, the mapping of its errors to errno).
 * store-db.c is written once over db_ops: the statement cache, rows, transactions and errors.
 * store-statements.c holds the SQL of each cached statement. store-vms.c, store-policies.c,
 * store-grants.c, store-activity.c, store-tokens.c, store-agents.c and store-terminations.c each hold one concern and run
 * statements from that cache (the activity log also its own, one per combination of filters) through
 * the db_* calls below, never an engine's own API (doc/store-backends.md).
 */

/*
 * PostgreSQL's writers' lock: the transaction-scoped advisory lock every write transaction of every replica
 * takes (ST_BEGIN, and writers_lock_try of migration 16), 0x6a697467, "jitg"
 */
#define STORE_PG_WRITERS_LOCK	"1785295975"
#define STORE_SCHEMA_VERSION	16	/* migrations of each engine (store-open.c, store-open-pg.c) */
#define STORE_BUSY_TIMEOUT_MS	5000	/* a write waits this long for another writer before -EBUSY */
#define STORE_ERROR_MAX		256	/* bytes of the last error message kept */
#define STORE_GRANTS_MAX	((size_t)POLICY_VMS_MAX * POLICY_PORTS_MAX)	/* grants in one request */

/*
 * Result codes of the seam: SQLite's numbers (store-sqlite.c asserts it), so that its engine passes
 * them through. Another engine returns these too, and DB_FAIL (or any other value) for a failure
 * whose errno and message it keeps for db_ops.fail.
 */
#define DB_OK		0
#define DB_FAIL		1
#define DB_ROW		100
#define DB_DONE		101
#define DB_FOREIGN_KEY	787	/* a foreign key refused the write */

/* A prepared statement: each engine's own struct begins with this. */
struct db_stmt {
	const struct db_ops *ops;
	/*
	 * A write whose result no caller reads (stmt_deferrable): inside a mark, an engine may send it
	 * with the next statement (PostgreSQL: one round trip fewer); its failure fails that one, in the
	 * same mark, which is then undone whole (store.h).
	 */
	bool deferrable;
};

/*
 * One SQL engine. Bindings point at the caller's memory until the statement is reset (as SQLite's
 * SQLITE_STATIC); column values are valid until the next step or reset of the statement.
 */
struct db_ops {
	/* This engine's text of a cached statement where it differs from stmt_sql (NULL entries: the same). */
	const char *const *sql_override;
	int (*prepare)(struct store *st, const char *sql, struct db_stmt **ret);	/* -errno, error kept */
	void (*finalize)(struct db_stmt *s);	/* NULL-safe */
	void (*reset)(struct db_stmt *s);	/* ready to run again, bindings dropped */
	int (*bind_int64)(struct db_stmt *s, int i, int64_t v);
	int (*bind_text)(struct db_stmt *s, int i, const char *v);
	int (*bind_blob)(struct db_stmt *s, int i, const void *p, int n);
	int (*bind_null)(struct db_stmt *s, int i);
	int (*step)(struct db_stmt *s);		/* DB_ROW, DB_DONE or a failure */
	bool (*column_is_null)(struct db_stmt *s, int i);
	int64_t (*column_int64)(struct db_stmt *s, int i);
	const void *(*column_blob)(struct db_stmt *s, int i);
	int (*column_bytes)(struct db_stmt *s, int i);
	const char *(*column_text)(struct db_stmt *s, int i);	/* NULL: out of memory (is_null first) */
	const char *(*column_name)(struct db_stmt *s, int i);
	int64_t (*changes)(struct store *st);		/* rows the last write changed */
	int64_t (*last_id)(struct store *st);		/* the id the last INSERT made */
	uint64_t (*total_changes)(struct store *st);	/* rows ever changed through this connection */
	bool (*in_transaction)(struct store *st);
	int (*fail)(struct store *st, int rc);		/* a failure code to -errno, its message kept */
	int (*check_integrity)(struct store *st);
	void (*close)(struct store *st);		/* the connection; statements are finalized before */
	/* other processes' writes (store_changes_fd, store_changes_take); NULL: the engine tells of none */
	int (*changes_fd)(struct store *st);
	int (*changes_take)(struct store *st, int64_t *ret_revision);
	/* store_config_generation; NULL: the engine announces no such writes (SQLite: this process is the only writer) */
	bool (*config_generation)(struct store *st, uint64_t *ret);
	/*
	 * single_replica (store_claim_sole): claim to be the database's only jitgated, 1 claimed, 0 another holds
	 * the claim. NULL: no claim needed, the engine's database has one process already (SQLite's state
	 * directory is locked by the jitgated that opened it).
	 */
	int (*claim_sole)(struct store *st);
	/*
	 * The activity chain's head (its row locked) as this write transaction's BEGIN read it, for its first
	 * append (chain_next), once: 1, or 0 when it did not (the append reads it). NULL: never.
	 */
	int (*begun_chain_head)(struct store *st, int64_t *ret_seq, uint8_t *ret_hash);
};

static inline int
db_bind_int64(struct db_stmt *s, int i, int64_t v)
{
	return s->ops->bind_int64(s, i, v);
}

static inline int
db_bind_text(struct db_stmt *s, int i, const char *v)
{
	return s->ops->bind_text(s, i, v);
}

static inline int
db_bind_blob(struct db_stmt *s, int i, const void *p, int n)
{
	return s->ops->bind_blob(s, i, p, n);
}

static inline int
db_bind_null(struct db_stmt *s, int i)
{
	return s->ops->bind_null(s, i);
}

static inline int
db_step(struct db_stmt *s)
{
	return s->ops->step(s);
}

static inline bool
db_column_is_null(struct db_stmt *s, int i)
{
	return s->ops->column_is_null(s, i);
}

static inline int64_t
db_column_int64(struct db_stmt *s, int i)
{
	return s->ops->column_int64(s, i);
}

static inline const void *
db_column_blob(struct db_stmt *s, int i)
{
	return s->ops->column_blob(s, i);
}

static inline int
db_column_bytes(struct db_stmt *s, int i)
{
	return s->ops->column_bytes(s, i);
}

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
	ST_GRANTS_SUPERSEDE,
	ST_GRANTS_SUPERSEDE_HELD,
	ST_POLICY_AS_READ,
	ST_BEGIN_TRY,
	ST_REQUEST_INSERT_AS_READ,
	ST_ACTIVITY_INSERT_QUIET,
	ST_REQUESTS_OF_POLICY,
	ST_USAGE_COUNT,
	ST_USAGE_LAST,
	ST_ACTIVITY_INSERT,
	ST_TOKEN_INSERT,
	ST_TOKEN_FIND,
	ST_TOKEN_LIST,
	ST_TOKEN_REVOKE,
	ST_VM_REVISION,
	ST_FLEET_REVISION,
	ST_VMS_CHANGED,
	ST_JOIN_INSERT,
	ST_JOIN_LIST,
	ST_JOIN_REVOKE,
	ST_JOIN_FIND,
	ST_JOIN_SPEND,
	ST_AGENT_FORGET,
	ST_AGENT_INSERT,
	ST_AGENT_FIND,
	ST_AGENT_CONFIRM,
	ST_AGENT_GET,
	ST_AGENT_LIST,
	ST_AGENT_REVOKE,
	ST_AGENT_ROTATE,
	ST_AGENT_REPORT,
	ST_GRANTS_APPLIED,
	ST_TERMINATION_ADD,
	ST_TERMINATIONS_PRUNE,
	ST_TERMINATIONS_OF_VM,
	ST_METRICS_COUNTS,
	/* the activity log's chain and retention (store-chain.c, store-prune.c) */
	ST_CHAIN_HEAD,
	ST_CHAIN_GET,
	ST_CHAIN_WALK,
	ST_CHAIN_ANCHOR,
	ST_ACTIVITY_PRUNE,
	ST_REQUESTS_ENDED,
	ST_REQUEST_PRUNE,
	ST_OUTBOX_INSERT,
	ST_OUTBOX_COUNT,
	ST_OUTBOX_HEAD,
	ST_OUTBOX_CLAIM,
	ST_OUTBOX_DONE,
	ST_OUTBOX_RETRY,
	ST_HOOK_GET,
	ST_HOOK_PUT,
	ST_HOOK_DROPPED,
	ST_HOOK_QUEUED,
	ST_HOOK_UNQUEUED,
	ST_HOOK_WAITING,
	ST_HOOK_RECOUNT,
	ST_PENDING_INSERT,
	ST_PENDING_OF_REQUEST,
	ST_PENDING_WAITING,
	ST_PENDING_DUE,
	ST_PENDING_NEXT,
	ST_PENDING_DECIDE,
	ST_APPROVAL_ADD,
	ST_APPROVALS_COUNT,
	ST_GRANT_EXTEND,
	ST_PENDING_LOCK,
	/* shared sign-in sessions (store-sessions.c) */
	ST_SESSION_INSERT,
	ST_SESSION_FIND,
	ST_SESSION_END,
	ST_SESSIONS_END_KEY,
	ST_SESSIONS_OF_PERSON,
	ST_SESSIONS_END_PERSON,
	ST_SESSIONS_KEY_TRIM,
	ST_SESSIONS_COUNT,
	ST_SESSIONS_DROP_REVOKED,
	ST_SESSIONS_DROP_CROWDED,
	ST_SESSIONS_PRUNE,
	ST_DNAT_PORTS_CLEAR,	/* store-dnat.c */
	ST_DNAT_PORT_ADD,
	ST_DNAT_PORT_FILL,
	ST_DNAT_PORT_HOLDER,
	ST__MAX,
};

/* The SQL of each (store-statements.c), and PostgreSQL's where it differs (NULL entries: the same). */
extern const char *const stmt_sql[ST__MAX];
extern const char *const stmt_sql_pg[ST__MAX];
/* the writes whose result no caller reads (db_stmt.deferrable) */
extern const bool stmt_deferrable[ST__MAX];

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

struct store {
	const struct db_ops *ops;	/* its engine */
	struct sqlite3 *db;		/* SQLite's connection (NULL on another engine) */
	void *engine;			/* another engine's connection and state */
	struct db_stmt *stmt[ST__MAX];
	struct db_stmt *activity_stmt[AF__COMBINATIONS];
	bool readonly;
	struct store_outbox_route *routes;	/* the hooks activity appends feed (store-webhooks.c) */
	size_t n_routes;
	bool outbox_added;		/* an append added to the outbox since store_outbox_added_take */
	uint64_t undone;	/* rollbacks and failed statements, for store_generation() */
	uint64_t begun;		/* write transactions begun (ST_BEGIN): which one the chain's head below is of */
	/*
	 * The activity log chain's head as this store's last append in its write transaction left it: the
	 * head row stays locked (or SQLite's one writer) until that transaction ends, so the next append in
	 * it needs not read the head again (a round trip on PostgreSQL). Good while begun and undone are
	 * what they were then (no other transaction, nothing rolled back or failed since).
	 */
	struct {
		bool valid;
		uint64_t begun, undone;
		int64_t seq;
		uint8_t hash[32];	/* STORE_AUDIT_HASH_LEN */
	} chain_head;
	/*
	 * Marks open (store_mark) in the write transaction, and the depth of the innermost one an
	 * operation inside failed in (0: none) with that failure's error: a mark is all or nothing, so
	 * operations inside one take no savepoint of their own (nor, on PostgreSQL, each write its
	 * statement's), and the mark's keep fails instead (store-db.c).
	 */
	unsigned marks, mark_failed_at;
	int mark_failed_r;
	char error[STORE_ERROR_MAX];
};

/* Is this fixed array NUL-terminated within its size? */
#define FIELD_OK(f) (memchr((f), '\0', sizeof(f)) != NULL)

/*
 * One atomic operation of several statements: its own transaction outside
 * store_begin(), a savepoint inside one, so that a failure undoes just this
 * operation and leaves the caller's transaction as it was.
 */
struct op {
	bool own;	/* we began the transaction (rather than a savepoint) */
	bool in_mark;	/* inside a mark: no savepoint of its own; a failure fails the mark's keep */
};

/* errors (store-db.c): each keeps its message for store_last_error() and returns a negative errno */
int set_error(struct store *st, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int sql_fail(struct store *st, int rc);
int corrupt(struct store *st, const char *table, const char *column);

/* SQLite only (store-sqlite.c), for store-open.c: run sql; read its first row's first column as an integer and/or text */
int exec_sql(struct store *st, const char *sql);
int query_one(struct store *st, const char *sql, int64_t *ret_int, char *buf, size_t size);

/* SQLite's engine (store-sqlite.c) */
extern const struct db_ops store_sqlite_ops;

/* statements (store-db.c) */
int db_prepare(struct store *st, const char *sql, struct db_stmt **ret);
int64_t db_changes(struct store *st);
int64_t db_last_id(struct store *st);
int stmt_get(struct store *st, enum stmt_id id, struct db_stmt **ret);
void stmt_done(struct db_stmt *s);
int stmt_run(struct store *st, struct db_stmt *s);
int run_cached(struct store *st, enum stmt_id id);
int bind_str(struct db_stmt *s, int i, const char *v);
int col_text(struct store *st, struct db_stmt *s, int i, char *buf, size_t size, const char *table);
int col_strdup(struct store *st, struct db_stmt *s, int i, char **ret, const char *table);
int rows_collect(struct store *st, struct db_stmt *s, int rc, size_t size,
		 int (*from_row)(struct store *st, struct db_stmt *s, void *row), void (*clear)(void *row),
		 void **ret, size_t *ret_n);

/* An engine's schema: its numbered migrations and how it keeps their number (store-schema.c runs them). */
struct store_schema {
	const char *const *migrations;	/* STORE_SCHEMA_VERSION of them: [i] takes version i to i + 1 */
	int (*begin)(struct store *st);	/* a write transaction that no other process migrating can share */
	int (*version)(struct store *st, int64_t *ret);
	int (*set_version)(struct store *st, int64_t version);
	int (*exec)(struct store *st, const char *sql);
};

int store_schema_migrate(struct store *st, const struct store_schema *sc, struct core_error *err);
int store_schema_check(struct store *st, const struct store_schema *sc, struct core_error *err);

/* one atomic operation (store-db.c) */
int op_begin(struct store *st, struct op *op);
int op_end(struct store *st, struct op *op, int r);

/*
 * the activity log's chain (store-chain.c): the next place and hash for entry a in the caller's write
 * transaction (hash: STORE_AUDIT_HASH_LEN bytes); the INSERT moves the head there (a trigger)
 */
struct store_audit_entry;
int chain_next(struct store *st, const struct store_activity *a, int64_t *ret_seq, uint8_t *ret_hash);
/* the entry at seq with hash was appended in the caller's write transaction: the head is there now */
void chain_moved(struct store *st, int64_t seq, const uint8_t *hash);
/* an activity row as ST_CHAIN_WALK and the activity queries read it (store-chain.c) */
int activity_from_row(struct store *st, struct db_stmt *s, struct store_activity *a);
int audit_entry_from_row(struct store *st, struct db_stmt *s, struct store_audit_entry *e);

/* a request's row (its grants not read), for rows_collect (store-grants.c) */
int request_row(struct store *st, struct db_stmt *s, void *row);
/* read the grants of each of n requests into it (store-grants.c; store-prune.c asks it too) */
int requests_grants_read(struct store *st, struct store_request *v, size_t n);
/* webhook outbox (store-webhooks.c): is this appended entry an event some hook takes; queue it (in the caller's transaction) */
struct store_activity;
/* an activity entry from columns k.. of a row, in ACTIVITY_COLS' order (store-activity.c) */
int activity_from_cols(struct store *st, struct db_stmt *s, int k, struct store_activity *a);
bool outbox_wants(const struct store *st, const struct store_activity *a);
int outbox_queue(struct store *st, const struct store_activity *a);
/*
 * Bind one port's row to s: ?1 request id, ?2 VM id, ?3 port, ?4 a; DB_OK or the engine's code (store-db.c).
 * The statements that name a grant by its port (end, truncate, extend, decide, termination) share it.
 */
int port_row_bind(struct db_stmt *s, const char *request_id, int64_t vm_id, uint16_t port, int64_t a);
/*
 * Run statement id, an UPDATE of one port's row: ?1 request id, ?2 VM id, ?3 port, ?4 a, ?5 b (store-db.c).
 * -ENOENT with the message `none` when it changed no row.
 */
int port_row_update(struct store *st, enum stmt_id id, const char *request_id, int64_t vm_id, uint16_t port, int64_t a,
		    int64_t b, const char *none);

/* the id of the policy that holds vm_id, or -ENOENT (store-vms.c; store-policies.c asks it too) */
int link_owner(struct store *st, int64_t vm_id, int64_t *ret_policy_id);

#endif

/* PostgreSQL's engine behind struct db_ops (libpq): statements rewritten from the shared text, binary results, SQLSTATE to errno. */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <libpq-fe.h>

#include "store-pg.h"

#define PG_INT_TEXT_MAX	24	/* an int64 in decimal, with its sign and NUL */
#define PG_COMMAND_TEXT_MAX	1024	/* a command with the savepoint commands kept ahead of it (store-pg-pipe.c) */
#define PG_TEXT_OID	25	/* the type given to a parameter the text never names (the activity filters) */

struct pg_stmt {
	struct db_stmt base;
	struct store *st;
	char name[16];			/* of the prepared statement; "" for one run through the simple protocol */
	char *sql;			/* the rewritten text, for the simple protocol */
	int n_params;			/* the highest $N in the text */
	Oid types[STORE_PG_PARAMS_MAX];	/* 0: the server's guess; text for one the text never names */
	unsigned epoch;			/* the connection it was prepared on (store_pg.epoch) */
	bool is_write;			/* INSERT, UPDATE or DELETE: inside a transaction, under its own savepoint */
	bool returns_id;		/* INSERT … RETURNING id: runs to DB_DONE and keeps the id for db_last_id */
	const char *values[STORE_PG_PARAMS_MAX];
	int lengths[STORE_PG_PARAMS_MAX];
	int formats[STORE_PG_PARAMS_MAX];
	char ints[STORE_PG_PARAMS_MAX][PG_INT_TEXT_MAX];
	PGresult *res;
	int row;			/* the row the columns read; -1 before the first step */
	bool done;
};

#define PG(s) ((struct pg_stmt *)(s))

static struct store_pg *
pg_of(struct store *st)
{
	return st->engine;
}

/* ---- errors ---- */

/* SQLSTATE to errno: the few classes the store's callers tell apart (doc/store-backends.md). */
static int
errno_of_state(const char *state)
{
	if (!state)
		return -EBUSY;	/* no answer: the connection is gone */
	if (!strcmp(state, "23505"))
		return -EEXIST;
	if (!strcmp(state, "23514") || !strcmp(state, "23502") || !strcmp(state, "22003") ||
	    !strcmp(state, "22P02"))
		return -EINVAL;
	/* 57014: a statement the server cancelled at STORE_PG_STATEMENT_TIMEOUT_MS; try again, as a lock not had */
	if (!strcmp(state, "40001") || !strcmp(state, "40P01") || !strcmp(state, "55P03") || !strcmp(state, "57014"))
		return -EBUSY;
	if (!strcmp(state, "25006"))
		return -EROFS;	/* a standby: the primary moved */
	if (!strcmp(state, "53100"))
		return -ENOSPC;
	if (!strncmp(state, "08", 2) || !strncmp(state, "57P0", 4))
		return -EBUSY;	/* the server went away or is shutting down: try again */
	if (!strcmp(state, "53200"))
		return -ENOMEM;
	return -EIO;
}

/* Keep the failure of res (or of the connection, res NULL) for pg_fail; the step's result code. */
static int
pg_failed(struct store *st, const PGresult *res)
{
	struct store_pg *pg = pg_of(st);
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = res ? PQresultErrorMessage(res) : PQerrorMessage(pg->conn);
	char *p;

	if (!msg || !*msg)
		msg = PQerrorMessage(pg->conn);
	pg->errno_pending = errno_of_state(state);
	snprintf(pg->message, sizeof(pg->message), "%s (postgresql %s)", *msg ? msg : "no answer",
	    state ? state : "-----");
	/* libpq's messages end in a newline, which a log line does not want */
	for (p = pg->message; (p = strchr(p, '\n'));)
		*p = ' ';
	return state && !strcmp(state, "23503") ? DB_FOREIGN_KEY : DB_FAIL;
}

static int
pg_fail(struct store *st, int rc)
{
	struct store_pg *pg = pg_of(st);

	if (rc == DB_FOREIGN_KEY && !pg->errno_pending)
		pg->errno_pending = -EIO;
	if (!pg->errno_pending)
		return set_error(st, -EIO, "unexpected result code %d", rc);
	rc = pg->errno_pending;
	pg->errno_pending = 0;
	return set_error(st, rc, "%s", pg->message);
}

static int64_t
pg_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/*
 * A connection the server dropped (a restart, a failover; the call that met it answered -EBUSY) is
 * made again before the next statement, its session set up again; statements prepared on the old one
 * are prepared again as they are next run. libpq's connect_timeout bounds the wait (store_pg_open);
 * after a failed attempt the calls fail at once for STORE_PG_RECONNECT_PAUSE_MS.
 */
static int
pg_ready(struct store *st)
{
	struct store_pg *pg = pg_of(st);
	PGTransactionStatusType t;
	int rc;

	if (PQstatus(pg->conn) == CONNECTION_OK && !pg->session_unset) {
		t = PQtransactionStatus(pg->conn);
		pg->tx_was_open = t == PQTRANS_INTRANS || t == PQTRANS_INERROR;
		return DB_OK;
	}
	if (pg->retry_ns && pg_now_ns() < pg->retry_ns) {
		pg->errno_pending = -EBUSY;
		snprintf(pg->message, sizeof(pg->message), "%s", pg->retry_message);
		return DB_FAIL;
	}
	store_pg_drop_deferred(st);	/* the transaction they were for is gone with the connection */
	PQreset(pg->conn);
	if (PQstatus(pg->conn) != CONNECTION_OK) {
		rc = pg_failed(st, NULL);
		pg->retry_ns = pg_now_ns() + (int64_t)STORE_PG_RECONNECT_PAUSE_MS * 1000000;
		snprintf(pg->retry_message, sizeof(pg->retry_message), "%s", pg->message);
		return rc;
	}
	pg->retry_ns = 0;
	pg->epoch++;
	pg->tx_lost = pg->tx_was_open;
	pg->tx_was_open = false;
	if ((rc = store_pg_session(st)) < 0) {
		/*
		 * store_pg_session took the failure (a connection lost again at once: a failover's first moments);
		 * keep it for the caller's pg_fail, which would otherwise see none and answer -EIO (a 500), and
		 * make the next call connect again rather than use a connection without its session's settings
		 */
		pg->errno_pending = rc;
		pg->session_unset = true;
		return DB_FAIL;
	}
	pg->session_unset = false;
	return DB_OK;
}

/*
 * Set up a new connection's session: UTC; a lock (the write lock another replica holds, a row) waited
 * for at most STORE_BUSY_TIMEOUT_MS and then -EBUSY, as SQLite's busy timeout; a statement worked on
 * at most STORE_PG_STATEMENT_TIMEOUT_MS; listening again, if it
 * listened, to the revisions other stores give; read-only for a read-only store.
 */
int
store_pg_session(struct store *st)
{
	struct store_pg *pg = pg_of(st);
	PGresult *res;
	char sql[256];
	int r = 0;

	snprintf(sql, sizeof(sql), "SET TIME ZONE 'UTC'; SET lock_timeout = %d; SET statement_timeout = %d%s%s",
	    STORE_BUSY_TIMEOUT_MS, STORE_PG_STATEMENT_TIMEOUT_MS, pg->listening ? "; " STORE_PG_LISTEN_SQL : "", st->readonly ? "; SET default_transaction_read_only = on" : "");
	res = PQexec(pg->conn, sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		pg->errno_pending = 0;
		r = pg_fail(st, pg_failed(st, res));
	}
	PQclear(res);
	return r;
}

/* Prepare the statement on the server, on the connection as it is now. */
static int
pg_send_prepare(struct pg_stmt *ps)
{
	struct store_pg *pg = pg_of(ps->st);
	PGresult *res;
	int rc = pg_ready(ps->st);

	if (rc != DB_OK)
		return rc;
	res = PQprepare(pg->conn, ps->name, ps->sql, ps->n_params, ps->types);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		rc = pg_failed(ps->st, res);
	else
		ps->epoch = pg->epoch;
	PQclear(res);
	return rc;
}

static int
pg_prepare(struct store *st, const char *sql, struct db_stmt **ret)
{
	struct pg_stmt *ps;
	uint32_t named;
	int i, r;

	ps = calloc(1, sizeof(*ps));
	if (ps)
		ps->sql = malloc(strlen(sql) + 1);
	if (!ps || !ps->sql) {
		r = set_error(st, -ENOMEM, "out of memory");
		goto out;
	}
	r = store_pg_rewrite(sql, ps->sql, &named, &ps->n_params);
	if (r < 0) {
		r = set_error(st, r, "cannot rewrite for PostgreSQL: %s", sql);
		goto out;
	}
	ps->base.ops = &store_pg_ops;
	ps->st = st;
	ps->row = -1;
	ps->is_write = store_pg_is_write(ps->sql);
	/* an INSERT's RETURNING id (ST_GRANTS_SUPERSEDE's RETURNING gives rows, read as a SELECT's) */
	ps->returns_id = ps->is_write && store_pg_ends_with(ps->sql, " RETURNING id");
	/* transaction control, or several commands (ST_BEGIN): the simple protocol, which takes no parameters */
	if (ps->n_params == 0 && (strchr(ps->sql, ';') || !(ps->is_write || store_pg_word_at(ps->sql, "SELECT")))) {
		*ret = &ps->base;
		ps = NULL;
		r = 0;
		goto out;
	}
	for (i = 0; i < ps->n_params; i++)
		ps->types[i] = named & (1u << i) ? 0 : PG_TEXT_OID;
	snprintf(ps->name, sizeof(ps->name), "s%u", ++pg_of(st)->n_prepared);
	ps->epoch = pg_of(st)->epoch - 1;	/* prepared at its first run: a read the standby serves needs it not */
	*ret = &ps->base;
	ps = NULL;
	r = 0;
out:
	if (ps) {
		free(ps->sql);
		free(ps);
	}
	return r;
}

static void
pg_reset(struct db_stmt *s)
{
	struct pg_stmt *ps = PG(s);

	PQclear(ps->res);
	ps->res = NULL;
	ps->row = -1;
	ps->done = false;
	memset(ps->values, 0, sizeof(ps->values));
	memset(ps->lengths, 0, sizeof(ps->lengths));
	memset(ps->formats, 0, sizeof(ps->formats));
}

static void
pg_finalize(struct db_stmt *s)
{
	if (!s)
		return;
	pg_reset(s);
	/* the server forgets prepared statements with the connection, which closes next */
	free(PG(s)->sql);
	free(s);
}

/* ---- bindings: text, except blobs in binary ---- */

static int
pg_bind_at(struct pg_stmt *ps, int i)
{
	if (i < 1 || i > ps->n_params) {
		pg_of(ps->st)->errno_pending = -EINVAL;
		snprintf(pg_of(ps->st)->message, sizeof(pg_of(ps->st)->message), "no parameter %d", i);
		return DB_FAIL;
	}
	return DB_OK;
}

static int
pg_bind_int64(struct db_stmt *s, int i, int64_t v)
{
	struct pg_stmt *ps = PG(s);
	int rc = pg_bind_at(ps, i);

	if (rc != DB_OK)
		return rc;
	snprintf(ps->ints[i - 1], sizeof(ps->ints[i - 1]), "%lld", (long long)v);
	ps->values[i - 1] = ps->ints[i - 1];
	ps->formats[i - 1] = 0;
	return DB_OK;
}

static int
pg_bind_text(struct db_stmt *s, int i, const char *v)
{
	struct pg_stmt *ps = PG(s);
	int rc = pg_bind_at(ps, i);

	if (rc != DB_OK)
		return rc;
	ps->values[i - 1] = v;
	ps->formats[i - 1] = 0;
	return DB_OK;
}

static int
pg_bind_blob(struct db_stmt *s, int i, const void *p, int n)
{
	struct pg_stmt *ps = PG(s);
	int rc = pg_bind_at(ps, i);

	if (rc != DB_OK)
		return rc;
	ps->values[i - 1] = p;
	ps->lengths[i - 1] = n;
	ps->formats[i - 1] = 1;
	return DB_OK;
}

static int
pg_bind_null(struct db_stmt *s, int i)
{
	struct pg_stmt *ps = PG(s);
	int rc = pg_bind_at(ps, i);

	if (rc == DB_OK)
		ps->values[i - 1] = NULL;
	return rc;
}

/* ---- running ---- */

/*
 * A commit whose wait for the synchronous standby was cancelled (statement_timeout, pg_cancel_backend):
 * PostgreSQL keeps it on the primary, answers success and only warns. It is not known to the standby
 * the operator made commits wait for, and a failover may lose it: the caller must not answer it as
 * done. -EBUSY (a 503; the client tries again; the write itself may stand).
 */
static int
pg_unconfirmed(struct store *st)
{
	struct store_pg *pg = pg_of(st);

	pg->errno_pending = -EBUSY;
	snprintf(pg->message, sizeof(pg->message), "the commit was not confirmed by the synchronous standby (its wait "
		 "was cancelled): it is on the primary alone");
	return DB_FAIL;
}

/*
 * The command's result in *ret: alone, or in one pipeline behind the writes held. DB_OK, or a failure
 * kept when one of those writes or the connection failed: then the command did not run.
 */
static int
pg_command_send(struct store *st, const char *sql, PGresult **ret)
{
	struct store_pg_query q = { .text = sql };
	PGresult *failed;
	int rc;

	if (!pg_of(st)->n_held_writes) {
		*ret = PQexec(pg_of(st)->conn, sql);
		return DB_OK;
	}
	if ((*ret = store_pg_pipeline(st, &q, false, &failed)))
		return DB_OK;
	rc = pg_failed(st, failed);
	PQclear(failed);
	return rc;
}

/* One command through the simple protocol, its result dropped: transaction control and savepoints. */
static int
pg_command(struct store *st, const char *sql)
{
	struct store_pg *pg = pg_of(st);
	char text[PG_COMMAND_TEXT_MAX];
	const char *sent = sql;
	PGresult *res;
	int rc = pg_ready(st);

	if (rc != DB_OK)
		return rc;
	/* transaction control and savepoints: a BEGIN starts afresh, the others belonged to a transaction */
	if (store_pg_word_at(sql, "BEGIN"))
		pg->tx_lost = false;
	else if ((rc = store_pg_lost_transaction(st)) != DB_OK)
		return rc;
	/* a savepoint command waits for the next round trip; a ROLLBACK makes the kept ones moot */
	if (store_pg_defer(st, sql))
		return DB_DONE;
	if (!strcmp(sql, "ROLLBACK"))
		store_pg_drop_deferred(st);
	/* back to a savepoint: every write held came after it (none is kept behind a write), so none is sent */
	if (!strncmp(sql, "ROLLBACK TO ", 12))
		store_pg_drop_held_writes(st);
	if (pg->n_deferred && !pg->n_held_writes) {
		if (store_pg_command_text(st, sql, text, sizeof(text)) < 0) {
			pg->errno_pending = -E2BIG;
			snprintf(pg->message, sizeof(pg->message), "a command too long to send: %s", sql);
			return DB_FAIL;
		}
		sent = text;
	}
	pg->warned = false;
	if ((rc = pg_command_send(st, sent, &res)) != DB_OK)
		return rc;
	rc = DB_DONE;
	if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK) {
		rc = pg_failed(st, res);
		/* a BEGIN whose write lock was not had leaves no transaction, as SQLite's BEGIN IMMEDIATE */
		if (store_pg_word_at(sql, "BEGIN") && PQtransactionStatus(pg->conn) == PQTRANS_INERROR)
			PQclear(PQexec(pg->conn, "ROLLBACK"));
	} else if (store_pg_word_at(sql, "COMMIT") && !strcmp(PQcmdStatus(res), "ROLLBACK")) {
		/* the commit of a transaction a failed statement aborted: PostgreSQL rolls back and says so only here */
		pg->errno_pending = -EIO;
		snprintf(pg->message, sizeof(pg->message), "the transaction failed before its commit");
		rc = DB_FAIL;
	} else if (pg->warned && PQtransactionStatus(pg->conn) == PQTRANS_IDLE) {
		rc = pg_unconfirmed(st);	/* a COMMIT (or a command on its own) that warned */
	} else if (store_pg_word_at(sql, "BEGIN")) {
		rc = store_pg_begun(pg, res);
	}
	/* the head a BEGIN read is its transaction's only */
	if (store_pg_word_at(sql, "COMMIT") || !strcmp(sql, "ROLLBACK"))
		pg->begun_head = false;
	PQclear(res);
	return rc;
}

/* Send the savepoint commands kept, alone: before a query that does not go through pg_command or pg_execute. */
static int
pg_flush(struct store *st)
{
	return pg_of(st)->n_deferred ? pg_command(st, "SELECT 1") : DB_DONE;
}

/* The statement's result into ps->res and the counters: DB_ROW (rows to read), DB_DONE, or a failure kept. */
static int
pg_take(struct pg_stmt *ps, PGresult *res)
{
	struct store_pg *pg = pg_of(ps->st);

	ps->res = res;
	switch (PQresultStatus(res)) {
	case PGRES_COMMAND_OK:
		pg->changes = strtoll(PQcmdTuples(res), NULL, 10);
		pg->total_changes += (uint64_t)pg->changes;
		return DB_DONE;
	case PGRES_TUPLES_OK:
		if (!ps->returns_id)
			return DB_ROW;
		pg->changes = PQntuples(res);
		pg->total_changes += (uint64_t)pg->changes;
		ps->row = 0;
		pg->last_id = PQntuples(res) ? store_pg_column_int64(&ps->base, 0) : 0;
		return DB_DONE;
	default:
		return pg_failed(ps->st, res);
	}
}

/*
 * A write inside a transaction runs under its own savepoint: PostgreSQL would otherwise abort the whole
 * transaction where SQLite undoes just the statement (not inside a mark, which is undone whole instead). SAVEPOINT, the statement and RELEASE go in one
 * pipeline, one round trip (three cost initiate two thirds of its rate), behind the savepoint commands
 * kept since the last round trip (store-pg-pipe.c); on failure the statement is rolled back to its
 * savepoint. A read inside a transaction takes the kept commands along in its pipeline.
 */
static int
pg_execute_piped(struct pg_stmt *ps, bool guarded)
{
	struct store_pg_query q = { .name = ps->name, .n_params = ps->n_params, .values = ps->values,
				    .lengths = ps->lengths, .formats = ps->formats };
	PGresult *res, *failed;
	int rc;

	if (!(res = store_pg_pipeline(ps->st, &q, guarded, &failed))) {
		rc = pg_failed(ps->st, failed);	/* a kept savepoint command, or the connection */
		PQclear(failed);
		return rc;
	}
	rc = pg_take(ps, res);
	/* (on a connection lost, the transaction went with it: nothing to undo) */
	if (guarded && rc != DB_DONE && rc != DB_ROW && PQstatus(pg_of(ps->st)->conn) == CONNECTION_OK)
		pg_command(ps->st, "ROLLBACK TO db_stmt; RELEASE db_stmt");
	return rc;
}

/*
 * Inside a mark, a write whose result no caller reads (db_stmt.deferrable) waits for the next round
 * trip (store_pg_hold_write): an initiate's request, grants and log entries go with its mark's keep.
 * It counts as one row changed, as such an INSERT does.
 */
static bool
pg_hold(struct pg_stmt *ps)
{
	struct store_pg_query q = { .name = ps->name, .n_params = ps->n_params, .values = ps->values,
				    .lengths = ps->lengths, .formats = ps->formats };
	struct store_pg *pg = pg_of(ps->st);

	if (!ps->base.deferrable || ps->returns_id || !store_pg_hold_write(ps->st, &q))
		return false;
	pg->changes = 1;
	pg->total_changes++;
	return true;
}

/* Run the statement (prepared again first on a connection made again since). */
static int
pg_execute(struct pg_stmt *ps)
{
	struct store *st = ps->st;
	struct store_pg *pg = pg_of(st);
	int rc;

	if (!ps->name[0])
		return pg_command(st, ps->sql);
	if ((rc = pg_ready(st)) != DB_OK || (ps->is_write && (rc = store_pg_lost_transaction(st)) != DB_OK) ||
	    (ps->epoch != pg->epoch && (rc = pg_send_prepare(ps)) != DB_OK))
		return rc;
	if (PQtransactionStatus(pg->conn) == PQTRANS_INTRANS && (ps->is_write || pg->n_deferred)) {
		if (ps->is_write && st->marks && pg_hold(ps))
			return DB_DONE;
		/* inside a mark, a failed write fails the mark (store.h): no savepoint of its own */
		return pg_execute_piped(ps, ps->is_write && !st->marks);
	}
	pg->warned = false;
	rc = pg_take(ps, PQexecPrepared(pg->conn, ps->name, ps->n_params, ps->values, ps->lengths, ps->formats, 1));
	/* a write on its own commits as it ends */
	if (ps->is_write && pg->warned && (rc == DB_DONE || rc == DB_ROW))
		rc = pg_unconfirmed(st);
	return rc;
}

/* A read the primary's connection failed fast: the standby's answer, if it may give one (store-pg-standby.c). */
static int
pg_standby(struct pg_stmt *ps, int rc, int64_t t0)
{
	struct store_pg_read rd = { ps->sql, ps->n_params, ps->types, ps->values, ps->lengths, ps->formats };
	PGresult *res = ps->name[0] && !ps->is_write ? store_pg_standby_read(ps->st, &rd, pg_now_ns() - t0) : NULL;

	if (!res)
		return rc;
	PQclear(ps->res);
	return pg_take(ps, res);
}

static int
pg_step(struct db_stmt *s)
{
	struct pg_stmt *ps = PG(s);
	int64_t t0;
	int rc;

	if (ps->done)
		return DB_DONE;
	if (ps->row < 0 && !ps->res) {
		t0 = pg_now_ns();
		if ((rc = pg_execute(ps)) != DB_ROW && rc != DB_DONE)
			rc = pg_standby(ps, rc, t0);
		if (rc != DB_ROW) {
			ps->done = rc == DB_DONE;
			return rc;
		}
	}
	if (++ps->row < PQntuples(ps->res))
		return DB_ROW;
	ps->done = true;
	return DB_DONE;
}

/* ---- columns: binary ---- */

static bool
pg_column_is_null(struct db_stmt *s, int i)
{
	return PQgetisnull(PG(s)->res, PG(s)->row, i);
}

int64_t
store_pg_column_int64(struct db_stmt *s, int i)
{
	const unsigned char *p = (const unsigned char *)PQgetvalue(PG(s)->res, PG(s)->row, i);
	int n = PQgetlength(PG(s)->res, PG(s)->row, i), k;
	uint64_t v = 0;

	if (PQgetisnull(PG(s)->res, PG(s)->row, i) || (n != 1 && n != 2 && n != 4 && n != 8))
		return 0;	/* as SQLite reads NULL */
	for (k = 0; k < n; k++)
		v = v << 8 | p[k];
	/* big-endian two's complement of n bytes: extend the sign (bool, int2 and int4 are narrower) */
	if (n < 8 && (p[0] & 0x80) && n > 1)
		v |= ~(uint64_t)0 << (8 * n);
	return (int64_t)v;
}

static const void *
pg_column_blob(struct db_stmt *s, int i)
{
	if (PQgetisnull(PG(s)->res, PG(s)->row, i))
		return NULL;
	return PQgetvalue(PG(s)->res, PG(s)->row, i);
}

static int
pg_column_bytes(struct db_stmt *s, int i)
{
	return PQgetlength(PG(s)->res, PG(s)->row, i);
}

static const char *
pg_column_text(struct db_stmt *s, int i)
{
	/* libpq ends every value with a NUL, in binary too; a NUL inside is caught by the caller */
	return PQgetvalue(PG(s)->res, PG(s)->row, i);
}

static const char *
pg_column_name(struct db_stmt *s, int i)
{
	const char *n = PG(s)->res ? PQfname(PG(s)->res, i) : NULL;

	return n ? n : "?";
}

/* ---- the connection ---- */

static int64_t
pg_changes(struct store *st)
{
	return pg_of(st)->changes;
}

static int64_t
pg_last_id(struct store *st)
{
	return pg_of(st)->last_id;
}

static uint64_t
pg_total_changes(struct store *st)
{
	return pg_of(st)->total_changes + pg_of(st)->foreign;
}

/* A connection lost is in no transaction: what it had open is gone with it. */
static bool
pg_in_transaction(struct store *st)
{
	PGTransactionStatusType t = PQtransactionStatus(pg_of(st)->conn);

	return t == PQTRANS_INTRANS || t == PQTRANS_INERROR || t == PQTRANS_ACTIVE;
}

/* PostgreSQL keeps its own pages and foreign keys whole: what is left to check is that it answers with our schema. */
static int
pg_check_integrity(struct store *st)
{
	PGresult *res;
	int r = 0;

	if (pg_flush(st) != DB_DONE)
		return pg_fail(st, DB_FAIL);
	res = PQexec(pg_of(st)->conn, "SELECT n FROM schema_version");
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
		r = set_error(st, -EIO, "integrity check: %s", PQresultErrorMessage(res));
	else if (strtoll(PQgetvalue(res, 0, 0), NULL, 10) != STORE_SCHEMA_VERSION)
		r = set_error(st, -EIO, "integrity check: schema version %s, expected %d", PQgetvalue(res, 0, 0),
		    STORE_SCHEMA_VERSION);
	PQclear(res);
	return r;
}

static void
pg_close(struct store *st)
{
	struct store_pg *pg = pg_of(st);

	if (pg) {
		store_pg_standby_close(st);
		PQfinish(pg->conn);
		free(pg);
	}
	st->engine = NULL;
}

/* ---- other stores' writes ---- */

/*
 * The first call starts listening: a store that never asks collects no announcements (libpq would keep
 * every one until taken).
 */
static int
pg_changes_fd(struct store *st)
{
	struct store_pg *pg = pg_of(st);

	if (!pg->listening) {
		PGresult *res;

		if (pg_flush(st) != DB_DONE) {
			pg_fail(st, DB_FAIL);
			return -1;
		}
		res = PQexec(pg->conn, STORE_PG_LISTEN_SQL);

		pg->listening = PQresultStatus(res) == PGRES_COMMAND_OK;
		PQclear(res);
		if (!pg->listening)
			return -1;
	}
	return PQsocket(pg->conn);
}

const struct db_ops store_pg_ops = {
	.sql_override = stmt_sql_pg,
	.prepare = pg_prepare,
	.finalize = pg_finalize,
	.reset = pg_reset,
	.bind_int64 = pg_bind_int64,
	.bind_text = pg_bind_text,
	.bind_blob = pg_bind_blob,
	.bind_null = pg_bind_null,
	.step = pg_step,
	.column_is_null = pg_column_is_null,
	.column_int64 = store_pg_column_int64,
	.column_blob = pg_column_blob,
	.column_bytes = pg_column_bytes,
	.column_text = pg_column_text,
	.column_name = pg_column_name,
	.changes = pg_changes,
	.last_id = pg_last_id,
	.total_changes = pg_total_changes,
	.in_transaction = pg_in_transaction,
	.fail = pg_fail,
	.check_integrity = pg_check_integrity,
	.close = pg_close,
	.changes_fd = pg_changes_fd,
	.changes_take = store_pg_changes_take,
	.config_generation = store_pg_config_generation,
	.begun_chain_head = store_pg_begun_chain_head,
	.claim_sole = store_pg_claim_sole,
};

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

int
exec_sql(struct store *st, const char *sql)
{
	int rc = sqlite3_exec(st->db, sql, NULL, NULL, NULL);

	if (rc != SQLITE_OK)
		return sql_fail(st, rc);
	return 0;
}

/* The first column of the first row of a one-off query: as an integer, or as text into buf. */
int
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

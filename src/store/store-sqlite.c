/* SQLite's engine behind struct db_ops: its statements and columns, the mapping of its errors to errno, its checks. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "store-internal.h"

/* The seam's result codes are SQLite's own, so that this engine passes them through unchanged. */
_Static_assert(DB_OK == SQLITE_OK && DB_ROW == SQLITE_ROW && DB_DONE == SQLITE_DONE &&
	       DB_FOREIGN_KEY == SQLITE_CONSTRAINT_FOREIGNKEY && DB_FAIL == SQLITE_ERROR, "db result codes");

struct lite_stmt {
	struct db_stmt base;
	sqlite3_stmt *s;
};

#define LITE(x) (((struct lite_stmt *)(x))->s)

/* ---- errors ---- */

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
lite_fail(struct store *st, int rc)
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

/* ---- statements and columns ---- */

static int
lite_prepare(struct store *st, const char *sql, struct db_stmt **ret)
{
	struct lite_stmt *ls;
	int rc;

	ls = calloc(1, sizeof(*ls));
	if (!ls)
		return set_error(st, -ENOMEM, "out of memory");
	rc = sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &ls->s, NULL);
	if (rc != SQLITE_OK) {
		free(ls);
		return lite_fail(st, rc);
	}
	ls->base.ops = &store_sqlite_ops;
	*ret = &ls->base;
	return 0;
}

static void
lite_finalize(struct db_stmt *s)
{
	if (s) {
		sqlite3_finalize(LITE(s));
		free(s);
	}
}

static void
lite_reset(struct db_stmt *s)
{
	sqlite3_reset(LITE(s));
	sqlite3_clear_bindings(LITE(s));
}

static int
lite_bind_int64(struct db_stmt *s, int i, int64_t v)
{
	return sqlite3_bind_int64(LITE(s), i, v);
}

static int
lite_bind_text(struct db_stmt *s, int i, const char *v)
{
	return sqlite3_bind_text(LITE(s), i, v, -1, SQLITE_STATIC);
}

static int
lite_bind_blob(struct db_stmt *s, int i, const void *p, int n)
{
	return sqlite3_bind_blob(LITE(s), i, p, n, SQLITE_STATIC);
}

static int
lite_bind_null(struct db_stmt *s, int i)
{
	return sqlite3_bind_null(LITE(s), i);
}

static int
lite_step(struct db_stmt *s)
{
	return sqlite3_step(LITE(s));
}

static bool
lite_column_is_null(struct db_stmt *s, int i)
{
	return sqlite3_column_type(LITE(s), i) == SQLITE_NULL;
}

static int64_t
lite_column_int64(struct db_stmt *s, int i)
{
	return sqlite3_column_int64(LITE(s), i);
}

static const void *
lite_column_blob(struct db_stmt *s, int i)
{
	return sqlite3_column_blob(LITE(s), i);
}

static int
lite_column_bytes(struct db_stmt *s, int i)
{
	return sqlite3_column_bytes(LITE(s), i);
}

static const char *
lite_column_text(struct db_stmt *s, int i)
{
	return (const char *)sqlite3_column_text(LITE(s), i);
}

static const char *
lite_column_name(struct db_stmt *s, int i)
{
	return sqlite3_column_name(LITE(s), i);
}

/* ---- the connection ---- */

static int64_t
lite_changes(struct store *st)
{
	return sqlite3_changes(st->db);
}

static int64_t
lite_last_id(struct store *st)
{
	return sqlite3_last_insert_rowid(st->db);
}

static uint64_t
lite_total_changes(struct store *st)
{
	return (uint64_t)sqlite3_total_changes64(st->db);
}

static bool
lite_in_transaction(struct store *st)
{
	return !sqlite3_get_autocommit(st->db);
}

static void
lite_close(struct store *st)
{
	sqlite3_close(st->db);
	st->db = NULL;
}

/* ---- one-off SQL, for store-open.c ---- */

int
exec_sql(struct store *st, const char *sql)
{
	int rc = sqlite3_exec(st->db, sql, NULL, NULL, NULL);

	if (rc != SQLITE_OK)
		return lite_fail(st, rc);
	return 0;
}

/* The first column of the first row of a one-off query: as an integer, or as text into buf. */
int
query_one(struct store *st, const char *sql, int64_t *ret_int, char *buf, size_t size)
{
	struct db_stmt *s = NULL;
	int rc, r;

	r = lite_prepare(st, sql, &s);
	if (r < 0)
		goto out;
	rc = lite_step(s);
	if (rc != SQLITE_ROW) {
		r = rc == SQLITE_DONE ? set_error(st, -EIO, "%s: no result", sql) : lite_fail(st, rc);
		goto out;
	}
	if (buf) {
		r = col_text(st, s, 0, buf, size, "pragma");
		if (r < 0)
			goto out;
	}
	if (ret_int)
		*ret_int = lite_column_int64(s, 0);
	r = 0;
out:
	lite_finalize(s);
	return r;
}

static int
lite_check_integrity(struct store *st)
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
		return lite_fail(st, rc);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		r = set_error(st, -EIO, "foreign key check: a row of %s points nowhere", sqlite3_column_text(s, 0));
	else if (rc != SQLITE_DONE)
		r = lite_fail(st, rc);
	sqlite3_finalize(s);
	return r;
}

const struct db_ops store_sqlite_ops = {
	.sql_override = NULL,	/* the shared text is SQLite's */
	.prepare = lite_prepare,
	.finalize = lite_finalize,
	.reset = lite_reset,
	.bind_int64 = lite_bind_int64,
	.bind_text = lite_bind_text,
	.bind_blob = lite_bind_blob,
	.bind_null = lite_bind_null,
	.step = lite_step,
	.column_is_null = lite_column_is_null,
	.column_int64 = lite_column_int64,
	.column_blob = lite_column_blob,
	.column_bytes = lite_column_bytes,
	.column_text = lite_column_text,
	.column_name = lite_column_name,
	.changes = lite_changes,
	.last_id = lite_last_id,
	.total_changes = lite_total_changes,
	.in_transaction = lite_in_transaction,
	.fail = lite_fail,
	.check_integrity = lite_check_integrity,
	.close = lite_close,
	.claim_sole = NULL,	/* single_replica: the state directory's lock already keeps a database to one jitgated */
};

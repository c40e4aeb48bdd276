/* What every store engine shares, written once over struct db_ops: errors, the statement cache, rows and transactions. */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "store-internal.h"

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

/* An engine's failure code: keep its message, return its errno. */
static void mark_failed(struct store *st, int r);

int
sql_fail(struct store *st, int rc)
{
	int r = st->ops->fail(st, rc);

	/* inside a mark a failed statement fails the mark (PostgreSQL's transaction is aborted until undone) */
	if (st->marks)
		mark_failed(st, r);
	return r;
}

int
corrupt(struct store *st, const char *table, const char *column)
{
	return set_error(st, -EIO, "corrupt database: bad %s.%s", table, column);
}

uint64_t
store_generation(struct store *st)
{
	return st->ops->total_changes(st) + st->undone;
}

const char *
store_last_error(struct store *st)
{
	return st ? st->error : "no store";
}

int
store_check_integrity(struct store *st)
{
	return st->ops->check_integrity(st);
}

void
store_close(struct store *st)
{
	size_t i;

	if (!st)
		return;
	if (st->ops) {
		for (i = 0; i < ST__MAX; i++)
			st->ops->finalize(st->stmt[i]);
		for (i = 0; i < AF__COMBINATIONS; i++)
			st->ops->finalize(st->activity_stmt[i]);
		/* An open transaction is rolled back by the close. */
		st->ops->close(st);
	}
	free(st->routes);
	free(st);
}

int
store_changes_fd(struct store *st)
{
	return st->ops->changes_fd ? st->ops->changes_fd(st) : -1;
}

bool
store_config_generation(struct store *st, uint64_t *ret)
{
	return st->ops->config_generation && st->ops->config_generation(st, ret);
}

int
store_changes_take(struct store *st, int64_t *ret_revision)
{
	if (!st->ops->changes_take) {
		*ret_revision = 0;
		return 0;
	}
	return st->ops->changes_take(st, ret_revision);
}

/* ---- statements ---- */

int
db_prepare(struct store *st, const char *sql, struct db_stmt **ret)
{
	return st->ops->prepare(st, sql, ret);
}

int64_t
db_changes(struct store *st)
{
	return st->ops->changes(st);
}

int64_t
db_last_id(struct store *st)
{
	return st->ops->last_id(st);
}

/* The cached statement, prepared if need be (in the engine's own text where it has one), with no bindings left. */
int
stmt_get(struct store *st, enum stmt_id id, struct db_stmt **ret)
{
	const char *sql = stmt_sql[id];
	int r;

	if (!st->stmt[id]) {
		if (st->ops->sql_override && st->ops->sql_override[id])
			sql = st->ops->sql_override[id];
		r = db_prepare(st, sql, &st->stmt[id]);
		if (r < 0)
			return r;
		st->stmt[id]->deferrable = stmt_deferrable[id];
	}
	*ret = st->stmt[id];
	return 0;
}

/*
 * Done with a statement: reset it so that it holds no read transaction open, and
 * drop the bindings, which may point at the caller's memory.
 */
void
stmt_done(struct db_stmt *s)
{
	if (s)
		s->ops->reset(s);
}

/* Run a statement that returns no rows. */
int
stmt_run(struct store *st, struct db_stmt *s)
{
	int rc = db_step(s);

	if (rc != DB_DONE)
		return sql_fail(st, rc);
	return 0;
}

int
run_cached(struct store *st, enum stmt_id id)
{
	struct db_stmt *s = NULL;
	int r;

	if (id == ST_ROLLBACK || id == ST_ROLLBACK_TO || id == ST_MARK_UNDO)
		st->undone++;
	if (id == ST_BEGIN || id == ST_BEGIN_TRY || id == ST_BEGIN_READ)
		st->begun++;
	/* a transaction begun or ended ends its marks */
	if (id == ST_BEGIN || id == ST_BEGIN_TRY || id == ST_BEGIN_READ || id == ST_COMMIT || id == ST_ROLLBACK)
		st->marks = st->mark_failed_at = 0;
	r = stmt_get(st, id, &s);
	if (r < 0)
		return r;
	r = stmt_run(st, s);
	stmt_done(s);
	return r;
}

int
bind_str(struct db_stmt *s, int i, const char *v)
{
	return db_bind_text(s, i, v);
}

/* A text column's bytes, or a negative errno: NULL is corruption, as is a NUL inside the text. */
static int
col_bytes(struct store *st, struct db_stmt *s, int i, const char *table, const char **ret, size_t *ret_n)
{
	const char *p;
	int n;

	if (s->ops->column_is_null(s, i))
		return corrupt(st, table, s->ops->column_name(s, i));
	p = s->ops->column_text(s, i);
	if (!p)
		return set_error(st, -ENOMEM, "out of memory");
	n = db_column_bytes(s, i);
	if (n < 0 || memchr(p, '\0', (size_t)n))
		return corrupt(st, table, s->ops->column_name(s, i));
	*ret = p;
	*ret_n = (size_t)n;
	return 0;
}

/* Copy a text column into a fixed array; text that does not fit is corruption, never cut. */
int
col_text(struct store *st, struct db_stmt *s, int i, char *buf, size_t size, const char *table)
{
	const char *p;
	size_t n;
	int r;

	r = col_bytes(st, s, i, table, &p, &n);
	if (r < 0)
		return r;
	if (n >= size)
		return corrupt(st, table, s->ops->column_name(s, i));
	memcpy(buf, p, n);
	buf[n] = '\0';
	return 0;
}

/* A text column as a new heap string. */
int
col_strdup(struct store *st, struct db_stmt *s, int i, char **ret, const char *table)
{
	const char *p;
	char *copy;
	size_t n;
	int r;

	r = col_bytes(st, s, i, table, &p, &n);
	if (r < 0)
		return r;
	copy = malloc(n + 1);
	if (!copy)
		return set_error(st, -ENOMEM, "out of memory");
	memcpy(copy, p, n);
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
rows_collect(struct store *st, struct db_stmt *s, int rc, size_t size,
	     int (*from_row)(struct store *st, struct db_stmt *s, void *row), void (*clear)(void *row),
	     void **ret, size_t *ret_n)
{
	char *v = NULL, *grown;
	size_t n = 0, cap = 0, i;
	int r;

	if (rc != DB_OK)
		return sql_fail(st, rc);
	while ((rc = db_step(s)) == DB_ROW) {
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
	if (rc != DB_DONE) {
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
	if (st->ops->in_transaction(st))
		return set_error(st, -EALREADY, "a transaction is already open");
	return run_cached(st, st->readonly ? ST_BEGIN_READ : ST_BEGIN);
}

int
store_begin_try(struct store *st)
{
	if (st->ops->in_transaction(st))
		return set_error(st, -EALREADY, "a transaction is already open");
	if (st->readonly)
		return store_begin(st);
	return run_cached(st, ST_BEGIN_TRY);
}

int
store_commit(struct store *st)
{
	int r;

	if (!st->ops->in_transaction(st))
		return set_error(st, -EINVAL, "no transaction is open");
	r = run_cached(st, ST_COMMIT);
	if (r < 0 && st->ops->in_transaction(st)) {
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
	if (st->ops->in_transaction(st))
		run_cached(st, ST_ROLLBACK);
}

bool
store_in_transaction(struct store *st)
{
	return st->ops->in_transaction(st);
}

int
store_mark(struct store *st)
{
	int r;

	if (!st->ops->in_transaction(st))
		return set_error(st, -EINVAL, "no transaction is open");
	if ((r = run_cached(st, ST_MARK)) >= 0)
		st->marks++;
	return r;
}

/* An operation inside the innermost mark failed: the mark's keep must fail (its caller undoes it). */
static void
mark_failed(struct store *st, int r)
{
	if (!st->mark_failed_at || st->marks < st->mark_failed_at) {
		st->mark_failed_at = st->marks;
		st->mark_failed_r = r;
	}
}

int
store_mark_keep(struct store *st)
{
	int r;

	if (st->marks && st->mark_failed_at >= st->marks)
		return st->mark_failed_r;	/* its message is the failure's, in st->error */
	if ((r = run_cached(st, ST_MARK_KEEP)) >= 0 && st->marks)
		st->marks--;
	return r;
}

void
store_mark_undo(struct store *st)
{
	char saved[STORE_ERROR_MAX];

	/* the caller reads the error that made it undo, not this one's */
	memcpy(saved, st->error, sizeof(saved));
	if (st->ops->in_transaction(st) && run_cached(st, ST_MARK_UNDO) >= 0)
		run_cached(st, ST_MARK_KEEP);
	if (st->marks) {
		if (st->mark_failed_at >= st->marks)
			st->mark_failed_at = 0;
		st->marks--;
	}
	memcpy(st->error, saved, sizeof(saved));
}

int
op_begin(struct store *st, struct op *op)
{
	op->own = !st->ops->in_transaction(st);
	/* inside a mark the mark is the savepoint: all or nothing (store.h) */
	if ((op->in_mark = !op->own && st->marks))
		return 0;
	return run_cached(st, op->own ? ST_BEGIN : ST_SAVEPOINT);
}

/* End the operation: keep it if r >= 0 (and the commit works), else undo it. Returns r or the commit's error. */
int
op_end(struct store *st, struct op *op, int r)
{
	char saved[STORE_ERROR_MAX];

	if (op->in_mark) {
		if (r < 0)
			mark_failed(st, r);
		return r;
	}
	if (r >= 0) {
		int c = run_cached(st, op->own ? ST_COMMIT : ST_RELEASE);

		if (c >= 0)
			return r;
		r = c;
	}
	/* Undoing must not overwrite the error that made us undo. */
	memcpy(saved, st->error, sizeof(saved));
	if (op->own) {
		if (st->ops->in_transaction(st))
			run_cached(st, ST_ROLLBACK);
	} else if (st->ops->in_transaction(st)) {
		/* Some errors (disk full, I/O) roll back the whole transaction; then there is no savepoint left. */
		if (run_cached(st, ST_ROLLBACK_TO) >= 0)
			run_cached(st, ST_RELEASE);
	}
	memcpy(st->error, saved, sizeof(saved));
	return r;
}

int
port_row_bind(struct db_stmt *s, const char *request_id, int64_t vm_id, uint16_t port, int64_t a)
{
	int rc;

	rc = bind_str(s, 1, request_id);
	if (rc == DB_OK)
		rc = db_bind_int64(s, 2, vm_id);
	if (rc == DB_OK)
		rc = db_bind_int64(s, 3, port);
	if (rc == DB_OK)
		rc = db_bind_int64(s, 4, a);
	return rc;
}

int
port_row_update(struct store *st, enum stmt_id id, const char *request_id, int64_t vm_id, uint16_t port, int64_t a,
		int64_t b, const char *none)
{
	struct db_stmt *s = NULL;
	int rc, r;

	r = stmt_get(st, id, &s);
	if (r < 0)
		return r;
	rc = port_row_bind(s, request_id, vm_id, port, a);
	if (rc == DB_OK)
		rc = db_bind_int64(s, 5, b);
	r = rc == DB_OK ? stmt_run(st, s) : sql_fail(st, rc);
	if (r == 0 && db_changes(st) == 0)
		r = set_error(st, -ENOENT, "%s", none);
	stmt_done(s);
	return r;
}

/* Retention: deleting the oldest activity entries and ended requests in small batches, each after its export. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store-audit.h"
#include "store-internal.h"

static int
batch_check(struct store *st, size_t batch)
{
	if (batch == 0 || batch > STORE_PRUNE_BATCH_MAX)
		return set_error(st, -EINVAL, "a prune batch is 1 to %d rows", STORE_PRUNE_BATCH_MAX);
	return 0;
}

/*
 * Delete entries up to `last` and, when it is in the chain, make it the anchor: in one short write
 * transaction. Both statements are idempotent, so a replica pruning the same batch again moves nothing.
 */
static int
activity_delete_upto(struct store *st, const struct store_audit_entry *last)
{
	struct db_stmt *s = NULL;
	struct op op;
	int rc, r;

	if ((r = op_begin(st, &op)) < 0)
		return r;
	if ((r = stmt_get(st, ST_ACTIVITY_PRUNE, &s)) < 0)
		goto out;
	rc = db_bind_int64(s, 1, last->a.id);
	r = rc == DB_OK ? stmt_run(st, s) : sql_fail(st, rc);
	stmt_done(s);
	if (r < 0 || !last->chained)
		goto out;
	if ((r = stmt_get(st, ST_CHAIN_ANCHOR, &s)) < 0)
		goto out;
	rc = db_bind_int64(s, 1, last->a.id);
	if (rc == DB_OK)
		rc = db_bind_int64(s, 2, last->seq);
	if (rc == DB_OK)
		rc = db_bind_blob(s, 3, last->hash, STORE_AUDIT_HASH_LEN);
	r = rc == DB_OK ? stmt_run(st, s) : sql_fail(st, rc);
	stmt_done(s);
out:
	return op_end(st, &op, r);
}

int
store_activity_prune(struct store *st, int64_t before_ns, size_t batch,
		     int (*export)(void *ctx, const struct store_audit_entry *v, size_t n), void *ctx)
{
	struct store_audit_entry *v = NULL;
	size_t n = 0, k = 0;
	int r;

	if ((r = batch_check(st, batch)) < 0)
		return r;
	/* the oldest by id, as the chain runs; an entry not yet old enough stops the batch */
	if ((r = store_audit_entries_after(st, 0, batch, &v, &n)) < 0)
		return r;
	while (k < n && v[k].a.time_ns < before_ns)
		k++;
	if (k == 0)
		goto out;
	/* the export is on disk before anything is deleted (the caller's fsync) */
	if (export && (r = export(ctx, v, k)) < 0)
		goto out;
	if ((r = activity_delete_upto(st, &v[k - 1])) >= 0)
		r = (int)k;
out:
	free(v);
	return r;
}

/* The ended requests deleted in one transaction; each checked again, so a request that got a live grant stays. */
static int
requests_delete(struct store *st, const struct store_request *v, size_t n, int64_t before_ns)
{
	struct db_stmt *s = NULL;
	struct op op;
	size_t i;
	int deleted = 0, rc, r;

	if ((r = op_begin(st, &op)) < 0)
		return r;
	if ((r = stmt_get(st, ST_REQUEST_PRUNE, &s)) < 0)
		goto out;
	for (i = 0; i < n && r >= 0; i++) {
		rc = bind_str(s, 1, v[i].id);
		if (rc == DB_OK)
			rc = db_bind_int64(s, 2, before_ns);
		r = rc == DB_OK ? stmt_run(st, s) : sql_fail(st, rc);
		if (r >= 0)
			deleted += (int)db_changes(st);
		stmt_done(s);
	}
out:
	r = op_end(st, &op, r);
	return r < 0 ? r : deleted;
}

int
store_requests_prune(struct store *st, int64_t before_ns, size_t batch,
		     int (*export)(void *ctx, const struct store_request *v, size_t n), void *ctx)
{
	struct store_request *v = NULL;
	struct db_stmt *s = NULL;
	size_t n = 0;
	void *rows;
	int rc, r;

	if ((r = batch_check(st, batch)) < 0)
		return r;
	if ((r = stmt_get(st, ST_REQUESTS_ENDED, &s)) < 0)
		return r;
	rc = db_bind_int64(s, 1, before_ns);
	if (rc == DB_OK)
		rc = db_bind_int64(s, 2, (int64_t)batch);
	r = rows_collect(st, s, rc, sizeof(*v), request_row, NULL, &rows, &n);
	stmt_done(s);
	if (r < 0)
		return r;
	v = rows;
	if (n == 0)
		goto out;
	if ((r = requests_grants_read(st, v, n)) < 0)
		goto out;
	if (export && (r = export(ctx, v, n)) < 0)
		goto out;
	r = requests_delete(st, v, n, before_ns);
out:
	store_requests_free(v, n);
	return r;
}

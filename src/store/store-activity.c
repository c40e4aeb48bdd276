/* The store's activity log: appending entries and querying them by filter. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#include "store-audit.h"
#include "store-internal.h"

#define ACTIVITY_COLS "SELECT id, time_ns, caller, caller_addr, operation, resource_id, status, detail, " \
	"justification, correlation_id FROM activity"

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

static int
activity_insert(struct store *st, const struct store_activity *a, int64_t seq, const uint8_t *hash, int64_t *ret_id)
{
	struct db_stmt *s = NULL;
	int rc, r;

	/* an id nobody reads is not asked for: PostgreSQL may then send the INSERT with the next statement */
	r = stmt_get(st, ret_id ? ST_ACTIVITY_INSERT : ST_ACTIVITY_INSERT_QUIET, &s);
	if (r < 0)
		return r;
	rc = db_bind_int64(s, 1, a->time_ns);
	if (rc == DB_OK)
		rc = bind_str(s, 2, a->caller);
	if (rc == DB_OK)
		rc = bind_str(s, 3, a->caller_addr);
	if (rc == DB_OK)
		rc = bind_str(s, 4, a->operation);
	if (rc == DB_OK)
		rc = bind_str(s, 5, a->resource_id);
	if (rc == DB_OK)
		rc = bind_str(s, 6, a->status);
	if (rc == DB_OK)
		rc = bind_str(s, 7, a->detail);
	if (rc == DB_OK)
		rc = bind_str(s, 8, a->justification);
	if (rc == DB_OK)
		rc = bind_str(s, 9, a->correlation_id);
	if (rc == DB_OK)
		rc = db_bind_int64(s, 10, seq);
	if (rc == DB_OK)
		rc = db_bind_blob(s, 11, hash, STORE_AUDIT_HASH_LEN);
	if (rc == DB_OK)
		rc = bind_str(s, 12, a->caller_subject);
	r = rc == DB_OK ? stmt_run(st, s) : sql_fail(st, rc);
	if (r == 0 && ret_id)
		*ret_id = db_last_id(st);
	stmt_done(s);
	return r;
}

/*
 * The entry with its place in the chain and its hash; the INSERT moves the chain's head too (trigger
 * activity_chained of migration 9). Reading the head and appending must share one write transaction,
 * so that no other writer takes the same place: the caller's, or one of its own. In the caller's, a
 * failed INSERT has written nothing, so no savepoint is needed (it would cost PostgreSQL two round trips);
 * an entry that is a webhook event is queued in the same transaction, under a savepoint there: both are
 * written, or neither.
 */
int
store_activity_append(struct store *st, struct store_activity *a)
{
	uint8_t hash[STORE_AUDIT_HASH_LEN];
	struct op op = { .own = false };
	bool queue = outbox_wants(st, a), began = false;
	int64_t seq, id = 0;
	int r;

	if (!FIELD_OK(a->caller) || !FIELD_OK(a->caller_addr) || !FIELD_OK(a->operation) ||
	    !FIELD_OK(a->resource_id) || !FIELD_OK(a->status) || !FIELD_OK(a->detail) ||
	    !FIELD_OK(a->justification) || !FIELD_OK(a->correlation_id) || !FIELD_OK(a->caller_subject))
		return set_error(st, -EINVAL, "invalid activity record");
	if (queue || !store_in_transaction(st)) {
		if ((r = op_begin(st, &op)) < 0)
			return r;
		began = true;
	}
	r = chain_next(st, a, &seq, hash);
	if (r >= 0)
		r = activity_insert(st, a, seq, hash, queue || !st->marks ? &id : NULL);
	if (r >= 0) {
		a->id = id;
		chain_moved(st, seq, hash);
		if (queue)
			r = outbox_queue(st, a);
	}
	if (began)
		r = op_end(st, &op, r);
	return r;
}

/* The cached query for this combination of filters, built from fixed fragments only. */
static int
activity_stmt(struct store *st, unsigned mask, struct db_stmt **ret)
{
	const char *join = "WHERE";
	char sql[512];
	size_t pos, i;
	int n, r;

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
	r = db_prepare(st, sql, &st->activity_stmt[mask]);
	if (r < 0)
		return r;
	*ret = st->activity_stmt[mask];
	return 0;
}

static int
activity_row(struct store *st, struct db_stmt *s, void *row)
{
	return activity_from_cols(st, s, 0, row);
}

int
store_activity_query(struct store *st, const struct store_activity_filter *f, struct store_activity **ret,
		     size_t *ret_n)
{
	struct db_stmt *s = NULL;
	size_t limit;
	void *v;
	unsigned mask = 0;
	int rc = DB_OK, r;

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
		rc = db_bind_int64(s, 1, f->since_ns);
	if (rc == DB_OK && (mask & AF_UNTIL))
		rc = db_bind_int64(s, 2, f->until_ns);
	if (rc == DB_OK && (mask & AF_CALLER))
		rc = bind_str(s, 3, f->caller);
	if (rc == DB_OK && (mask & AF_PREFIX))
		rc = bind_str(s, 4, f->resource_prefix);
	if (rc == DB_OK && (mask & AF_OPERATION))
		rc = bind_str(s, 5, f->operation);
	if (rc == DB_OK && (mask & AF_BEFORE))
		rc = db_bind_int64(s, 6, f->before_id);
	if (rc == DB_OK)
		rc = db_bind_int64(s, 7, (int64_t)limit);
	r = rows_collect(st, s, rc, sizeof(**ret), activity_row, NULL, &v, ret_n);
	if (r >= 0)
		*ret = v;
	stmt_done(s);
	return r;
}

/* The store's webhook outbox (store-webhooks.h): queueing events with their activity entries, taking and settling deliveries. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "store-internal.h"
#include "store-webhooks.h"

int
store_outbox_routes_set(struct store *st, const struct store_outbox_route *routes, size_t n)
{
	struct store_outbox_route *copy = NULL;

	if (n) {
		copy = calloc(n, sizeof(*copy));
		if (!copy)
			return set_error(st, -ENOMEM, "out of memory");
		memcpy(copy, routes, n * sizeof(*copy));
	}
	free(st->routes);
	st->routes = copy;
	st->n_routes = n;
	return n ? run_cached(st, ST_HOOK_RECOUNT) : 0;
}

bool
store_outbox_added_take(struct store *st)
{
	bool added = st->outbox_added;

	st->outbox_added = false;
	return added;
}

static int
event_id_new(struct store *st, char out[STORE_EVENT_ID_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char raw[STORE_EVENT_ID_LEN / 2];
	size_t i;

	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
		return set_error(st, -EIO, "no random bytes for an event id");
	for (i = 0; i < sizeof(raw); i++) {
		out[2 * i] = hex[raw[i] >> 4];
		out[2 * i + 1] = hex[raw[i] & 15];
	}
	out[STORE_EVENT_ID_LEN] = '\0';
	return 0;
}

static int
run_hook_stmt(struct store *st, enum stmt_id id, const char *hook)
{
	struct db_stmt *s = NULL;
	int rc, r;

	if ((r = stmt_get(st, id, &s)) < 0)
		return r;
	rc = bind_str(s, 1, hook);
	r = rc == DB_OK ? stmt_run(st, s) : sql_fail(st, rc);
	stmt_done(s);
	return r;
}

/* One hook's copy of the event, or (its outbox full) one more dropped. */
static int
outbox_insert(struct store *st, const char *hook, const char *event_id, const char *event, int64_t activity_id)
{
	struct db_stmt *s = NULL;
	int64_t waiting = 0;
	int rc, r;

	if ((r = store_outbox_count(st, hook, &waiting)) < 0)
		return r;
	if (waiting >= STORE_OUTBOX_MAX)
		return run_hook_stmt(st, ST_HOOK_DROPPED, hook);
	if ((r = stmt_get(st, ST_OUTBOX_INSERT, &s)) < 0)
		return r;
	rc = bind_str(s, 1, hook);
	if (rc == DB_OK)
		rc = bind_str(s, 2, event_id);
	if (rc == DB_OK)
		rc = bind_str(s, 3, event);
	if (rc == DB_OK)
		rc = db_bind_int64(s, 4, activity_id);
	r = rc == DB_OK ? stmt_run(st, s) : sql_fail(st, rc);
	stmt_done(s);
	return r < 0 ? r : run_hook_stmt(st, ST_HOOK_QUEUED, hook);
}

int
outbox_queue(struct store *st, const struct store_activity *a)
{
	char event_id[STORE_EVENT_ID_LEN + 1];
	int e = st->n_routes ? webhook_event_of(a->operation, a->status) : -1;
	size_t i;
	int r;

	if (e < 0)
		return 0;
	if ((r = event_id_new(st, event_id)) < 0)
		return r;
	for (i = 0; i < st->n_routes; i++) {
		if (!(st->routes[i].events & (1u << e)))
			continue;
		if ((r = outbox_insert(st, st->routes[i].hook, event_id, webhook_event_name(e), a->id)) < 0)
			return r;
		st->outbox_added = true;
	}
	return 0;
}

bool
outbox_wants(const struct store *st, const struct store_activity *a)
{
	return st->n_routes && webhook_event_of(a->operation, a->status) >= 0;
}

static int
delivery_from_row(struct store *st, struct db_stmt *s, struct store_delivery *d)
{
	int r;

	memset(d, 0, sizeof(*d));
	d->id = db_column_int64(s, 0);
	d->attempts = db_column_int64(s, 3);
	d->next_ns = db_column_int64(s, 4);
	d->lease_ns = db_column_int64(s, 5);
	if ((r = col_text(st, s, 1, d->event_id, sizeof(d->event_id), "webhook_outbox")) < 0 ||
	    (r = col_text(st, s, 2, d->event, sizeof(d->event), "webhook_outbox")) < 0)
		return r;
	return activity_from_cols(st, s, 6, &d->activity);
}

int
store_outbox_head(struct store *st, const char *hook, struct store_delivery *ret)
{
	struct store_delivery d;
	struct db_stmt *s = NULL;
	int rc, r;

	if ((r = stmt_get(st, ST_OUTBOX_HEAD, &s)) < 0)
		return r;
	rc = bind_str(s, 1, hook);
	if (rc == DB_OK)
		rc = db_step(s);
	if (rc == DB_ROW)
		r = delivery_from_row(st, s, &d);
	else
		r = rc == DB_DONE ? -ENOENT : sql_fail(st, rc);
	if (r == 0)
		*ret = d;
	stmt_done(s);
	return r;
}

/* Run statement id with integer parameters 1..n; -ENOENT when it changed no row. */
static int
run_ints(struct store *st, enum stmt_id id, const int64_t *v, int n)
{
	struct db_stmt *s = NULL;
	int rc = DB_OK, r, i;

	if ((r = stmt_get(st, id, &s)) < 0)
		return r;
	for (i = 0; i < n && rc == DB_OK; i++)
		rc = db_bind_int64(s, i + 1, v[i]);
	r = rc == DB_OK ? stmt_run(st, s) : sql_fail(st, rc);
	if (r == 0 && db_changes(st) == 0)
		r = -ENOENT;
	stmt_done(s);
	return r;
}

int
store_outbox_claim(struct store *st, int64_t id, int64_t now_ns, int64_t lease_until_ns)
{
	const int64_t v[] = { id, now_ns, lease_until_ns };

	return run_ints(st, ST_OUTBOX_CLAIM, v, 3);
}

int
store_outbox_delivered(struct store *st, const char *hook, int64_t id)
{
	struct db_stmt *s = NULL;
	struct op op;
	int rc, r;

	if ((r = op_begin(st, &op)) < 0)
		return r;
	if ((r = stmt_get(st, ST_OUTBOX_DONE, &s)) < 0)
		return op_end(st, &op, r);
	rc = db_bind_int64(s, 1, id);
	if (rc == DB_OK)
		rc = bind_str(s, 2, hook);
	r = rc == DB_OK ? stmt_run(st, s) : sql_fail(st, rc);
	if (r == 0 && db_changes(st) == 0)
		r = -ENOENT;	/* another replica's, delivered and gone */
	stmt_done(s);
	if (r == 0)
		r = run_hook_stmt(st, ST_HOOK_UNQUEUED, hook);
	return op_end(st, &op, r);
}

int
store_outbox_retry(struct store *st, int64_t id, int64_t attempts, int64_t next_ns)
{
	const int64_t v[] = { id, attempts, next_ns };

	return run_ints(st, ST_OUTBOX_RETRY, v, 3);
}

int
store_outbox_count(struct store *st, const char *hook, int64_t *ret)
{
	struct db_stmt *s = NULL;
	int rc, r;

	if ((r = stmt_get(st, ST_HOOK_WAITING, &s)) < 0)
		return r;
	rc = bind_str(s, 1, hook);
	if (rc == DB_OK)
		rc = db_step(s);
	if (rc == DB_ROW)
		*ret = db_column_int64(s, 0);
	else if (rc == DB_DONE)
		*ret = 0;	/* no row yet: nothing was ever queued */
	r = rc == DB_ROW || rc == DB_DONE ? 0 : sql_fail(st, rc);
	stmt_done(s);
	return r;
}

int
store_hook_state_get(struct store *st, const char *hook, struct store_hook_state *ret)
{
	struct store_hook_state h;
	struct db_stmt *s = NULL;
	int rc, r;

	memset(&h, 0, sizeof(h));
	if ((r = stmt_get(st, ST_HOOK_GET, &s)) < 0)
		return r;
	rc = bind_str(s, 1, hook);
	if (rc == DB_OK)
		rc = db_step(s);
	if (rc == DB_ROW) {
		h.failing = db_column_int64(s, 0) != 0;
		h.failures = db_column_int64(s, 1);
		h.last_ok_ns = db_column_int64(s, 3);
		h.last_fail_ns = db_column_int64(s, 4);
		h.dropped = db_column_int64(s, 5);
		r = col_text(st, s, 2, h.last_error, sizeof(h.last_error), "webhook_hooks");
	} else if (rc != DB_DONE) {
		r = sql_fail(st, rc);
	}
	if (r == 0)
		*ret = h;
	stmt_done(s);
	return r;
}

int
store_hook_state_put(struct store *st, const char *hook, const struct store_hook_state *h)
{
	struct db_stmt *s = NULL;
	int rc, r;

	if (!FIELD_OK(h->last_error))
		return set_error(st, -EINVAL, "invalid hook state");
	if ((r = stmt_get(st, ST_HOOK_PUT, &s)) < 0)
		return r;
	rc = bind_str(s, 1, hook);
	if (rc == DB_OK)
		rc = db_bind_int64(s, 2, h->failing);
	if (rc == DB_OK)
		rc = db_bind_int64(s, 3, h->failures);
	if (rc == DB_OK)
		rc = bind_str(s, 4, h->last_error);
	if (rc == DB_OK)
		rc = db_bind_int64(s, 5, h->last_ok_ns);
	if (rc == DB_OK)
		rc = db_bind_int64(s, 6, h->last_fail_ns);
	r = rc == DB_OK ? stmt_run(st, s) : sql_fail(st, rc);
	stmt_done(s);
	return r;
}

/* The activity log's hash chain: each entry's canonical form and hash, appending to the chain, and walking it to verify. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "store-audit.h"
#include "store-internal.h"

static uint8_t *
put_u64(uint8_t *p, uint64_t v)
{
	int i;

	for (i = 7; i >= 0; i--) {
		p[i] = (uint8_t)(v & 0xff);
		v >>= 8;
	}
	return p + 8;
}

static uint8_t *
put_str(uint8_t *p, const char *s)
{
	size_t len = strlen(s);

	p[0] = (uint8_t)(len >> 24);
	p[1] = (uint8_t)(len >> 16);
	p[2] = (uint8_t)(len >> 8);
	p[3] = (uint8_t)len;
	memcpy(p + 4, s, len);
	return p + 4 + len;
}

size_t
store_audit_canonical(int form, const uint8_t prev[STORE_AUDIT_HASH_LEN], int64_t seq,
		      const struct store_activity *a, uint8_t *buf, size_t size)
{
	/* version 2 is version 1 with caller_subject last */
	const char *const strs[] = {
		a->caller, a->caller_addr, a->operation, a->resource_id, a->status, a->detail, a->justification,
		a->correlation_id, a->caller_subject,
	};
	size_t need = STORE_AUDIT_TAG_LEN + STORE_AUDIT_HASH_LEN + 16, nstrs, i;
	uint8_t *p = buf;

	if (form != STORE_AUDIT_FORM_V1 && form != STORE_AUDIT_FORM_V2)
		return 0;
	nstrs = sizeof(strs) / sizeof(strs[0]) - (form == STORE_AUDIT_FORM_V1);
	for (i = 0; i < nstrs; i++)
		need += 4 + strlen(strs[i]);
	if (need > size)
		return 0;
	memcpy(p, form == STORE_AUDIT_FORM_V1 ? STORE_AUDIT_TAG_V1 : STORE_AUDIT_TAG_V2, STORE_AUDIT_TAG_LEN);
	p += STORE_AUDIT_TAG_LEN;
	memcpy(p, prev, STORE_AUDIT_HASH_LEN);
	p += STORE_AUDIT_HASH_LEN;
	p = put_u64(p, (uint64_t)seq);
	p = put_u64(p, (uint64_t)a->time_ns);
	for (i = 0; i < nstrs; i++)
		p = put_str(p, strs[i]);
	return (size_t)(p - buf);
}

int
store_audit_hash(int form, const uint8_t prev[STORE_AUDIT_HASH_LEN], int64_t seq, const struct store_activity *a,
		 uint8_t ret[STORE_AUDIT_HASH_LEN])
{
	uint8_t buf[STORE_AUDIT_CANONICAL_MAX];
	size_t n;

	/* every field of a is NUL-terminated within its array (FIELD_OK), so the form always fits */
	n = store_audit_canonical(form, prev, seq, a, buf, sizeof(buf));
	if (n == 0)
		return -EINVAL;
	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, buf, n, ret) < 0)
		return -EIO;
	return 0;
}

void
store_audit_hex(const uint8_t h[STORE_AUDIT_HASH_LEN], char out[STORE_AUDIT_HEX_SIZE])
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < STORE_AUDIT_HASH_LEN; i++) {
		out[2 * i] = digits[h[i] >> 4];
		out[2 * i + 1] = digits[h[i] & 0xf];
	}
	out[2 * STORE_AUDIT_HASH_LEN] = '\0';
}

static int
col_hash(struct store *st, struct db_stmt *s, int i, uint8_t ret[STORE_AUDIT_HASH_LEN])
{
	if (db_column_is_null(s, i) || db_column_bytes(s, i) != STORE_AUDIT_HASH_LEN)
		return corrupt(st, "audit_chain", "hash");
	memcpy(ret, db_column_blob(s, i), STORE_AUDIT_HASH_LEN);
	return 0;
}

int
store_audit_chain_get(struct store *st, struct store_audit_chain *ret)
{
	struct store_audit_chain c;
	struct db_stmt *s = NULL;
	int rc, r;

	if ((r = stmt_get(st, ST_CHAIN_GET, &s)) < 0)
		return r;
	rc = db_step(s);
	if (rc == DB_ROW) {
		c.anchor_id = db_column_int64(s, 0);
		c.anchor_seq = db_column_int64(s, 1);
		c.head_seq = db_column_int64(s, 3);
		if ((r = col_hash(st, s, 2, c.anchor_hash)) >= 0 && (r = col_hash(st, s, 4, c.head_hash)) >= 0)
			*ret = c;
	} else {
		r = rc == DB_DONE ? corrupt(st, "audit_chain", "(no row)") : sql_fail(st, rc);
	}
	stmt_done(s);
	return r;
}

/* Is the head this transaction's last append left still the head (store.chain_head)? */
static bool
chain_head_known(struct store *st)
{
	return st->chain_head.valid && st->chain_head.begun == st->begun && st->chain_head.undone == st->undone &&
	       store_in_transaction(st);
}

void
chain_moved(struct store *st, int64_t seq, const uint8_t *hash)
{
	_Static_assert(sizeof(st->chain_head.hash) == STORE_AUDIT_HASH_LEN, "the chain head's hash");
	st->chain_head.valid = store_in_transaction(st);
	st->chain_head.begun = st->begun;
	st->chain_head.undone = st->undone;
	st->chain_head.seq = seq;
	memcpy(st->chain_head.hash, hash, STORE_AUDIT_HASH_LEN);
}

/* The next place in the chain and the hash of a there, in the caller's write transaction (the head row locked on PG). */
int
chain_next(struct store *st, const struct store_activity *a, int64_t *ret_seq, uint8_t *ret_hash)
{
	uint8_t prev[STORE_AUDIT_HASH_LEN];
	struct db_stmt *s = NULL;
	int64_t seq = 0;
	int rc, r;

	if (chain_head_known(st)) {
		seq = st->chain_head.seq + 1;
		memcpy(prev, st->chain_head.hash, sizeof(prev));
	} else if (st->ops->begun_chain_head && st->ops->begun_chain_head(st, &seq, prev) > 0) {
		seq++;	/* PostgreSQL read the head with the writers' lock, at this transaction's BEGIN */
	} else {
		if ((r = stmt_get(st, ST_CHAIN_HEAD, &s)) < 0)
			return r;
		rc = db_step(s);
		if (rc == DB_ROW) {
			seq = db_column_int64(s, 0) + 1;
			r = col_hash(st, s, 1, prev);
		} else {
			r = rc == DB_DONE ? corrupt(st, "audit_chain", "(no row)") : sql_fail(st, rc);
		}
		stmt_done(s);
		if (r < 0)
			return r;
	}
	if ((r = store_audit_hash(STORE_AUDIT_FORM, prev, seq, a, ret_hash)) < 0)
		return set_error(st, r, "cannot hash the activity entry");
	*ret_seq = seq;
	return 0;
}

/* An activity row: the columns of ST_CHAIN_WALK (and of the activity queries) in their order. */
int
activity_from_row(struct store *st, struct db_stmt *s, struct store_activity *a)
{
	int r;

	memset(a, 0, sizeof(*a));
	a->id = db_column_int64(s, 0);
	a->time_ns = db_column_int64(s, 1);
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

int
audit_entry_from_row(struct store *st, struct db_stmt *s, struct store_audit_entry *e)
{
	int r;

	memset(e, 0, sizeof(*e));
	if ((r = activity_from_row(st, s, &e->a)) < 0)
		return r;
	/* a row without both chain fields, or with a hash of another length, is outside the chain: verify says so */
	e->chained = !db_column_is_null(s, 10) && !db_column_is_null(s, 11) &&
		     db_column_bytes(s, 11) == STORE_AUDIT_HASH_LEN;
	if (e->chained) {
		e->seq = db_column_int64(s, 10);
		memcpy(e->hash, db_column_blob(s, 11), STORE_AUDIT_HASH_LEN);
	}
	return col_text(st, s, 12, e->a.caller_subject, sizeof(e->a.caller_subject), "activity");
}

static int
audit_row(struct store *st, struct db_stmt *s, void *row)
{
	return audit_entry_from_row(st, s, row);
}

int
store_audit_entries_after(struct store *st, int64_t after, size_t limit, struct store_audit_entry **ret,
			  size_t *ret_n)
{
	struct db_stmt *s = NULL;
	void *v;
	int rc, r;

	if ((r = stmt_get(st, ST_CHAIN_WALK, &s)) < 0)
		return r;
	rc = db_bind_int64(s, 1, after);
	if (rc == DB_OK)
		rc = db_bind_int64(s, 2, (int64_t)limit);
	r = rows_collect(st, s, rc, sizeof(**ret), audit_row, NULL, &v, ret_n);
	if (r >= 0)
		*ret = v;
	stmt_done(s);
	return r;
}

/* Does e's hash match form `form` at its place after prev? */
static bool
audit_matches(const struct store_audit_entry *e, int form, const uint8_t prev[STORE_AUDIT_HASH_LEN])
{
	uint8_t h[STORE_AUDIT_HASH_LEN];

	return store_audit_hash(form, prev, e->seq, &e->a, h) == 0 && memcmp(h, e->hash, STORE_AUDIT_HASH_LEN) == 0;
}

/*
 * Does e hold at the place after (seq, prev), in the current form or the older one (entries written before
 * version 2)? Returns the form it holds in, 0 if neither. The tag makes the two hashes of one entry differ,
 * so a v2 entry with its caller_subject changed matches no form.
 */
static int
audit_links(const struct store_audit_entry *e, int64_t seq, const uint8_t prev[STORE_AUDIT_HASH_LEN])
{
	if (!e->chained || e->seq != seq + 1)
		return 0;
	if (audit_matches(e, STORE_AUDIT_FORM_V2, prev))
		return STORE_AUDIT_FORM_V2;
	return audit_matches(e, STORE_AUDIT_FORM_V1, prev) ? STORE_AUDIT_FORM_V1 : 0;
}

static void
audit_fault(struct store_audit_result *res, enum store_audit_fault f, int64_t id, int64_t seq, int64_t missing)
{
	res->fault = f;
	res->id = id;
	res->seq = seq;
	res->missing = missing;
}

/*
 * Entry v[i] does not follow (seq, prev): say why. next is the entry after it (NULL: none), to tell an
 * entry slipped in before a good one from a changed one.
 */
static void
audit_classify(struct store_audit_result *res, const struct store_audit_entry *e, const struct store_audit_entry *next,
	       int64_t seq, const uint8_t prev[STORE_AUDIT_HASH_LEN])
{
	if (!e->chained || e->seq <= seq || e->seq > res->chain.head_seq)
		audit_fault(res, STORE_AUDIT_INSERTED, e->a.id, e->chained ? e->seq : 0, 0);
	else if (e->seq > seq + 1)
		audit_fault(res, STORE_AUDIT_REMOVED, e->a.id, seq + 1, e->seq - seq - 1);
	else if (next && audit_links(next, seq, prev))
		audit_fault(res, STORE_AUDIT_INSERTED, e->a.id, e->seq, 0);
	else
		audit_fault(res, STORE_AUDIT_CHANGED, e->a.id, e->seq, 0);
}

/* Walk page after page from the anchor; stops at the first fault. */
static int
audit_walk(struct store *st, int64_t at_seq, struct store_audit_result *res)
{
	struct store_audit_entry *v = NULL;
	uint8_t prev[STORE_AUDIT_HASH_LEN];
	int64_t seq = res->chain.anchor_seq, after = res->chain.anchor_id;
	size_t n, i;
	int r;

	memcpy(prev, res->chain.anchor_hash, sizeof(prev));
	res->good_id = after;
	for (;;) {
		/* one more than a page: the entry after a bad one is at hand to classify it */
		if ((r = store_audit_entries_after(st, after, STORE_AUDIT_PAGE + 1, &v, &n)) < 0)
			return r;
		for (i = 0; i < n && i < STORE_AUDIT_PAGE; i++) {
			if ((v[i].form = audit_links(&v[i], seq, prev)) == 0) {
				audit_classify(res, &v[i], i + 1 < n ? &v[i + 1] : NULL, seq, prev);
				goto out;
			}
			res->forms[v[i].form - 1]++;
			seq = v[i].seq;
			memcpy(prev, v[i].hash, sizeof(prev));
			if (seq == at_seq) {
				res->at_found = true;
				memcpy(res->at_hash, prev, sizeof(prev));
			}
			res->good_id = after = v[i].a.id;
			res->checked++;
		}
		if (n <= STORE_AUDIT_PAGE)
			break;
		free(v);
		v = NULL;
	}
	if (res->chain.head_seq > seq)
		audit_fault(res, STORE_AUDIT_REMOVED, 0, seq + 1, res->chain.head_seq - seq);
	else if (res->chain.head_seq != seq || memcmp(res->chain.head_hash, prev, sizeof(prev)))
		audit_fault(res, STORE_AUDIT_HEAD, 0, res->chain.head_seq, 0);
out:
	free(v);
	return 0;
}

int
store_audit_verify(struct store *st, int64_t at_seq, struct store_audit_result *ret)
{
	struct store_audit_result res = { 0 };
	bool own = !store_in_transaction(st);
	int r;

	/* one snapshot: entries appended meanwhile (jitgated runs on) are not half seen */
	if (own && (r = run_cached(st, ST_BEGIN_READ)) < 0)
		return r;
	r = store_audit_chain_get(st, &res.chain);
	if (r >= 0)
		r = audit_walk(st, at_seq, &res);
	if (own)
		store_rollback(st);
	if (r >= 0)
		*ret = res;
	return r;
}

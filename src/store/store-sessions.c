/* Sign-in sessions in the store: recorded within their limits, found by their secret's hash, ended and pruned. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store-internal.h"
#include "store/store-sessions.h"

/* "role<TAB>scope" lines, one per assignment */
#define ASSIGN_TEXT_MAX (STORE_SESSION_ASSIGN_MAX * (STORE_ROLE_MAX + STORE_SCOPE_MAX + 2) + 1)

/* A text the assignments' lines can hold: no tab, no line break. */
static bool
plain(const char *t)
{
	return !strpbrk(t, "\t\n");
}

static int
assign_encode(struct store *st, const struct store_session *s, char *buf, size_t size)
{
	size_t i, at = 0;

	buf[0] = '\0';
	if (s->n_assign > STORE_SESSION_ASSIGN_MAX)
		return set_error(st, -EINVAL, "a session holds at most %d assignments", STORE_SESSION_ASSIGN_MAX);
	for (i = 0; i < s->n_assign; i++) {
		int n;

		if (!FIELD_OK(s->assign[i].role) || !FIELD_OK(s->assign[i].scope) || !plain(s->assign[i].role) ||
		    !plain(s->assign[i].scope))
			return set_error(st, -EINVAL, "invalid session assignment");
		n = snprintf(buf + at, size - at, "%s\t%s\n", s->assign[i].role, s->assign[i].scope);
		if (n < 0 || (size_t)n >= size - at)
			return set_error(st, -EINVAL, "invalid session assignment");
		at += (size_t)n;
	}
	return 0;
}

static int
assign_decode(struct store *st, const char *text, struct store_session *s)
{
	const char *p = text;

	s->n_assign = 0;
	while (*p) {
		const char *tab = strchr(p, '\t'), *nl = tab ? strchr(tab, '\n') : NULL;
		size_t rl, sl;

		if (!nl || s->n_assign == STORE_SESSION_ASSIGN_MAX)
			return corrupt(st, "sessions", "assignments");
		rl = (size_t)(tab - p);
		sl = (size_t)(nl - tab - 1);
		if (rl > STORE_ROLE_MAX || sl > STORE_SCOPE_MAX)
			return corrupt(st, "sessions", "assignments");
		memcpy(s->assign[s->n_assign].role, p, rl);
		s->assign[s->n_assign].role[rl] = '\0';
		memcpy(s->assign[s->n_assign].scope, tab + 1, sl);
		s->assign[s->n_assign].scope[sl] = '\0';
		s->n_assign++;
		p = nl + 1;
	}
	return 0;
}

/*
 * Run a cached DELETE whose parameters are one hash (?1) and, if set, an integer (?2), as one
 * operation (a savepoint inside a caller's transaction, such as a group commit of initiates: its
 * failure then undoes only this, never the caller's work); how many rows it deleted.
 */
static int
run_hash(struct store *st, enum stmt_id id, const uint8_t *hash, const int64_t *n)
{
	struct db_stmt *s = NULL;
	struct op op;
	int rc, r;

	if ((r = op_begin(st, &op)) < 0)
		return r;
	if ((r = stmt_get(st, id, &s)) < 0)
		return op_end(st, &op, r);
	rc = db_bind_blob(s, 1, hash, STORE_TOKEN_HASH_LEN);
	if (rc == DB_OK && n)
		rc = db_bind_int64(s, 2, *n);
	r = rc == DB_OK ? stmt_run(st, s) : sql_fail(st, rc);
	if (r >= 0)
		r = (int)db_changes(st);
	stmt_done(s);
	return op_end(st, &op, r);
}

static int
count_all(struct store *st, int64_t *ret)
{
	struct db_stmt *s = NULL;
	int rc, r;

	if ((r = stmt_get(st, ST_SESSIONS_COUNT, &s)) < 0)
		return r;
	rc = db_step(s);
	if (rc == DB_ROW)
		*ret = db_column_int64(s, 0);
	r = rc == DB_ROW ? 0 : sql_fail(st, rc);
	stmt_done(s);
	return r;
}

/* Room for one more session in the table (the order is store_session_insert's). */
static int
make_room(struct store *st, const struct store_session_limits *lim, int64_t now_ns)
{
	static const enum stmt_id drops[] = { ST_SESSIONS_DROP_REVOKED, ST_SESSIONS_DROP_CROWDED };
	int64_t n = 0;
	size_t i = 0;
	int r;

	if ((r = count_all(st, &n)) < 0 || n < (int64_t)lim->total)
		return r;
	if ((r = store_sessions_prune(st, now_ns, lim->total)) < 0 || (r = count_all(st, &n)) < 0)
		return r;
	/* the crowded key's oldest, one at a time: more than one only if the limit was lowered */
	while (n >= (int64_t)lim->total) {
		int64_t dropped;

		if ((r = run_cached(st, drops[i])) < 0)
			return r;
		dropped = db_changes(st);
		if ((r = count_all(st, &n)) < 0)
			return r;
		if (i == 1 && dropped == 0 && n >= (int64_t)lim->total)
			return set_error(st, -EIO, "cannot make room for a session");
		i = 1;
	}
	return 0;
}

static int
session_insert(struct store *st, const struct store_session *s, const char *assign)
{
	struct db_stmt *q = NULL;
	int rc, r;

	if ((r = stmt_get(st, ST_SESSION_INSERT, &q)) < 0)
		return r;
	rc = db_bind_blob(q, 1, s->id_hash, STORE_TOKEN_HASH_LEN);
	if (rc == DB_OK)
		rc = db_bind_blob(q, 2, s->key_hash, STORE_TOKEN_HASH_LEN);
	if (rc == DB_OK)
		rc = db_bind_int64(q, 3, s->sso ? 1 : 0);
	if (rc == DB_OK)
		rc = bind_str(q, 4, s->person);
	if (rc == DB_OK)
		rc = bind_str(q, 5, s->subject);
	if (rc == DB_OK)
		rc = bind_str(q, 6, assign);
	if (rc == DB_OK)
		rc = db_bind_int64(q, 7, s->created_ns);
	if (rc == DB_OK)
		rc = db_bind_int64(q, 8, s->expires_ns);
	r = rc == DB_OK ? stmt_run(st, q) : sql_fail(st, rc);
	stmt_done(q);
	return r;
}

int
store_session_insert(struct store *st, const struct store_session *s, const struct store_session_limits *lim,
		     int64_t now_ns)
{
	char assign[ASSIGN_TEXT_MAX];
	int64_t keep = lim->per_key ? (int64_t)lim->per_key - 1 : 0;
	struct op op;
	int r;

	if (!FIELD_OK(s->person) || !FIELD_OK(s->subject) || lim->per_key == 0 || lim->total == 0 ||
	    s->expires_ns <= now_ns)
		return set_error(st, -EINVAL, "invalid session record");
	if ((r = assign_encode(st, s, assign, sizeof(assign))) < 0)
		return r;
	if ((r = op_begin(st, &op)) < 0)
		return r;
	r = run_hash(st, ST_SESSIONS_KEY_TRIM, s->key_hash, &keep);
	if (r >= 0)
		r = make_room(st, lim, now_ns);
	if (r >= 0)
		r = session_insert(st, s, assign);
	return op_end(st, &op, r);
}

static int
session_from_row(struct store *st, struct db_stmt *q, struct store_session *s)
{
	char assign[ASSIGN_TEXT_MAX];
	const void *id = db_column_blob(q, 0), *key = db_column_blob(q, 1);
	int r;

	memset(s, 0, sizeof(*s));
	if (!id || db_column_bytes(q, 0) != STORE_TOKEN_HASH_LEN || !key || db_column_bytes(q, 1) != STORE_TOKEN_HASH_LEN)
		return corrupt(st, "sessions", "id_hash");
	memcpy(s->id_hash, id, STORE_TOKEN_HASH_LEN);
	memcpy(s->key_hash, key, STORE_TOKEN_HASH_LEN);
	s->sso = db_column_int64(q, 2) != 0;
	if ((r = col_text(st, q, 3, s->person, sizeof(s->person), "sessions")) < 0 ||
	    (r = col_text(st, q, 4, s->subject, sizeof(s->subject), "sessions")) < 0 ||
	    (r = col_text(st, q, 5, assign, sizeof(assign), "sessions")) < 0 ||
	    (r = assign_decode(st, assign, s)) < 0)
		return r;
	s->created_ns = db_column_int64(q, 6);
	s->expires_ns = db_column_int64(q, 7);
	return 0;
}

int
store_session_find(struct store *st, const uint8_t id_hash[STORE_TOKEN_HASH_LEN], int64_t now_ns,
		   struct store_session *ret)
{
	struct db_stmt *q = NULL;
	int rc, r;

	if ((r = stmt_get(st, ST_SESSION_FIND, &q)) < 0)
		return r;
	rc = db_bind_blob(q, 1, id_hash, STORE_TOKEN_HASH_LEN);
	if (rc == DB_OK)
		rc = db_bind_int64(q, 2, now_ns);
	if (rc == DB_OK)
		rc = db_step(q);
	if (rc == DB_DONE)
		r = set_error(st, -ENOENT, "no session with that hash");
	else if (rc != DB_ROW)
		r = sql_fail(st, rc);
	else
		r = session_from_row(st, q, ret);
	stmt_done(q);
	return r;
}

int
store_session_end(struct store *st, const uint8_t id_hash[STORE_TOKEN_HASH_LEN])
{
	int r = run_hash(st, ST_SESSION_END, id_hash, NULL);

	return r < 0 ? r : r > 0;
}

int
store_sessions_end_key(struct store *st, const uint8_t key_hash[STORE_TOKEN_HASH_LEN])
{
	int r = run_hash(st, ST_SESSIONS_END_KEY, key_hash, NULL);

	return r < 0 ? r : 0;
}

int
store_sessions_of_person(struct store *st, const char *person, uint8_t (*ret_ids)[STORE_TOKEN_HASH_LEN],
			 int64_t *ret_expires, size_t max)
{
	struct db_stmt *q = NULL;
	size_t n = 0;
	int rc, r;

	if ((r = stmt_get(st, ST_SESSIONS_OF_PERSON, &q)) < 0)
		return r;
	rc = bind_str(q, 1, person);
	while (rc == DB_OK && (rc = db_step(q)) == DB_ROW) {
		const void *id = db_column_blob(q, 0);

		if (!id || db_column_bytes(q, 0) != STORE_TOKEN_HASH_LEN) {
			stmt_done(q);
			return corrupt(st, "sessions", "id_hash");
		}
		if (n < max) {
			memcpy(ret_ids[n], id, STORE_TOKEN_HASH_LEN);
			ret_expires[n++] = db_column_int64(q, 1);
		}
		rc = DB_OK;
	}
	r = rc == DB_DONE ? (int)n : sql_fail(st, rc);
	stmt_done(q);
	return r;
}

int
store_sessions_end_person(struct store *st, const char *person)
{
	struct db_stmt *q = NULL;
	int rc, r;

	struct op op;

	if ((r = op_begin(st, &op)) < 0)
		return r;
	if ((r = stmt_get(st, ST_SESSIONS_END_PERSON, &q)) < 0)
		return op_end(st, &op, r);
	rc = bind_str(q, 1, person);
	r = rc == DB_OK ? stmt_run(st, q) : sql_fail(st, rc);
	stmt_done(q);
	return op_end(st, &op, r);
}

int
store_sessions_prune(struct store *st, int64_t now_ns, size_t max)
{
	struct db_stmt *q = NULL;
	int rc, r;

	struct op op;

	if ((r = op_begin(st, &op)) < 0)
		return r;
	if ((r = stmt_get(st, ST_SESSIONS_PRUNE, &q)) < 0)
		return op_end(st, &op, r);
	rc = db_bind_int64(q, 1, now_ns);
	if (rc == DB_OK)
		rc = db_bind_int64(q, 2, (int64_t)max);
	r = rc == DB_OK ? stmt_run(st, q) : sql_fail(st, rc);
	if (r >= 0)
		r = (int)db_changes(st);
	stmt_done(q);
	return op_end(st, &op, r);
}

/* The store's API tokens: only their hashes, found by hash, listed and revoked by name. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>


#include "store-internal.h"

int
store_token_insert(struct store *st, const struct store_token *t)
{
	struct db_stmt *s = NULL;
	int rc, r;

	if (!FIELD_OK(t->name) || t->name[0] == '\0' || !FIELD_OK(t->role) || !FIELD_OK(t->scope))
		return set_error(st, -EINVAL, "invalid token record");
	r = stmt_get(st, ST_TOKEN_INSERT, &s);
	if (r < 0)
		return r;
	rc = bind_str(s, 1, t->name);
	if (rc == DB_OK)
		rc = db_bind_blob(s, 2, t->hash, STORE_TOKEN_HASH_LEN);
	if (rc == DB_OK)
		rc = bind_str(s, 3, t->role);
	if (rc == DB_OK)
		rc = bind_str(s, 4, t->scope);
	if (rc == DB_OK)
		rc = db_bind_int64(s, 5, t->created_ns);
	r = rc == DB_OK ? stmt_run(st, s) : sql_fail(st, rc);
	stmt_done(s);
	return r;
}

static int
token_from_row(struct store *st, struct db_stmt *s, struct store_token *t)
{
	const void *hash;
	int r;

	memset(t, 0, sizeof(*t));
	if ((r = col_text(st, s, 0, t->name, sizeof(t->name), "tokens")) < 0 ||
	    (r = col_text(st, s, 1, t->role, sizeof(t->role), "tokens")) < 0 ||
	    (r = col_text(st, s, 2, t->scope, sizeof(t->scope), "tokens")) < 0)
		return r;
	hash = db_column_blob(s, 3);
	if (!hash || db_column_bytes(s, 3) != STORE_TOKEN_HASH_LEN)
		return corrupt(st, "tokens", "hash");
	memcpy(t->hash, hash, STORE_TOKEN_HASH_LEN);
	t->created_ns = db_column_int64(s, 4);
	t->revoked_ns = db_column_int64(s, 5);
	return 0;
}

int
store_token_find(struct store *st, const uint8_t hash[STORE_TOKEN_HASH_LEN], struct store_token *ret)
{
	struct store_token t;
	struct db_stmt *s = NULL;
	int rc, r;

	r = stmt_get(st, ST_TOKEN_FIND, &s);
	if (r < 0)
		return r;
	rc = db_bind_blob(s, 1, hash, STORE_TOKEN_HASH_LEN);
	if (rc == DB_OK)
		rc = db_step(s);
	if (rc == DB_DONE) {
		r = set_error(st, -ENOENT, "no valid token with that hash");
	} else if (rc != DB_ROW) {
		r = sql_fail(st, rc);
	} else {
		r = token_from_row(st, s, &t);
		if (r == 0)
			*ret = t;
	}
	stmt_done(s);
	return r;
}

static int
token_row(struct store *st, struct db_stmt *s, void *row)
{
	return token_from_row(st, s, row);
}

int
store_token_list(struct store *st, struct store_token **ret, size_t *ret_n)
{
	struct db_stmt *s = NULL;
	void *v;
	int r;

	r = stmt_get(st, ST_TOKEN_LIST, &s);
	if (r < 0)
		return r;
	r = rows_collect(st, s, DB_OK, sizeof(**ret), token_row, NULL, &v, ret_n);
	if (r >= 0)
		*ret = v;
	stmt_done(s);
	return r;
}

int
store_token_revoke(struct store *st, const char *name, int64_t now_ns)
{
	struct db_stmt *s = NULL;
	int rc, r;

	if (!name || now_ns == 0)
		return set_error(st, -EINVAL, "invalid token revoke");
	r = stmt_get(st, ST_TOKEN_REVOKE, &s);
	if (r < 0)
		return r;
	rc = bind_str(s, 1, name);
	if (rc == DB_OK)
		rc = db_bind_int64(s, 2, now_ns);
	r = rc == DB_OK ? stmt_run(st, s) : sql_fail(st, rc);
	if (r == 0 && db_changes(st) == 0)
		r = set_error(st, -ENOENT, "no valid token named that");
	stmt_done(s);
	return r;
}

/* The store's fleet records: VM revisions, join tokens and the agents' credentials and reports (doc/agent-protocol.md). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>


#include "store-internal.h"

/* Read one integer column of the single row `s` answers; -ENOENT (message `what`) when there is none. */
static int
one_int(struct store *st, struct db_stmt *s, int rc, const char *what, int64_t *ret)
{
	if (rc == DB_OK)
		rc = db_step(s);
	if (rc == DB_DONE)
		return set_error(st, -ENOENT, "%s", what);
	if (rc != DB_ROW)
		return sql_fail(st, rc);
	*ret = db_column_int64(s, 0);
	return 0;
}

int
store_vm_revision(struct store *st, int64_t vm_id, int64_t *ret)
{
	struct db_stmt *s = NULL;
	int r;

	r = stmt_get(st, ST_VM_REVISION, &s);
	if (r < 0)
		return r;
	r = one_int(st, s, db_bind_int64(s, 1, vm_id), "no such VM", ret);
	stmt_done(s);
	return r;
}

int
store_fleet_revision(struct store *st, int64_t *ret)
{
	struct db_stmt *s = NULL;
	int r;

	r = stmt_get(st, ST_FLEET_REVISION, &s);
	if (r < 0)
		return r;
	r = one_int(st, s, DB_OK, "no fleet revision", ret);
	if (r == -ENOENT)
		r = corrupt(st, "fleet_revision", "n");
	stmt_done(s);
	return r;
}

static int
change_from_row(struct store *st, struct db_stmt *s, void *row)
{
	struct store_vm_change *c = row;

	(void)st;
	c->vm_id = db_column_int64(s, 0);
	c->revision = db_column_int64(s, 1);
	return 0;
}

int
store_vms_changed(struct store *st, int64_t since, struct store_vm_change **ret, size_t *ret_n)
{
	struct db_stmt *s = NULL;
	void *v;
	int r;

	r = stmt_get(st, ST_VMS_CHANGED, &s);
	if (r < 0)
		return r;
	r = rows_collect(st, s, db_bind_int64(s, 1, since), sizeof(**ret), change_from_row, NULL, &v, ret_n);
	if (r >= 0)
		*ret = v;
	stmt_done(s);
	return r;
}

/* ---- join tokens ---- */

int
store_join_token_insert(struct store *st, const struct store_join_token *t)
{
	struct db_stmt *s = NULL;
	int rc, r;

	if (!FIELD_OK(t->id) || t->id[0] == '\0' || !FIELD_OK(t->subscription) || !FIELD_OK(t->resource_group) ||
	    !FIELD_OK(t->created_by) || t->uses_left < 1)
		return set_error(st, -EINVAL, "invalid join token record");
	r = stmt_get(st, ST_JOIN_INSERT, &s);
	if (r < 0)
		return r;
	rc = bind_str(s, 1, t->id);
	if (rc == DB_OK)
		rc = db_bind_blob(s, 2, t->hash, STORE_TOKEN_HASH_LEN);
	if (rc == DB_OK)
		rc = bind_str(s, 3, t->subscription);
	if (rc == DB_OK)
		rc = bind_str(s, 4, t->resource_group);
	if (rc == DB_OK)
		rc = db_bind_int64(s, 5, t->uses_left);
	if (rc == DB_OK)
		rc = db_bind_int64(s, 6, t->expires_ns);
	if (rc == DB_OK)
		rc = db_bind_int64(s, 7, t->created_ns);
	if (rc == DB_OK)
		rc = bind_str(s, 8, t->created_by);
	r = rc == DB_OK ? stmt_run(st, s) : sql_fail(st, rc);
	stmt_done(s);
	return r;
}

static int
join_from_row(struct store *st, struct db_stmt *s, void *row)
{
	struct store_join_token *t = row;
	const void *hash;
	int r;

	memset(t, 0, sizeof(*t));
	if ((r = col_text(st, s, 0, t->id, sizeof(t->id), "join_tokens")) < 0 ||
	    (r = col_text(st, s, 2, t->subscription, sizeof(t->subscription), "join_tokens")) < 0 ||
	    (r = col_text(st, s, 3, t->resource_group, sizeof(t->resource_group), "join_tokens")) < 0 ||
	    (r = col_text(st, s, 7, t->created_by, sizeof(t->created_by), "join_tokens")) < 0)
		return r;
	hash = db_column_blob(s, 1);
	if (!hash || db_column_bytes(s, 1) != STORE_TOKEN_HASH_LEN)
		return corrupt(st, "join_tokens", "hash");
	memcpy(t->hash, hash, STORE_TOKEN_HASH_LEN);
	t->uses_left = db_column_int64(s, 4);
	t->expires_ns = db_column_int64(s, 5);
	t->created_ns = db_column_int64(s, 6);
	t->revoked_ns = db_column_int64(s, 8);
	return 0;
}

int
store_join_token_list(struct store *st, struct store_join_token **ret, size_t *ret_n)
{
	struct db_stmt *s = NULL;
	void *v;
	int r;

	r = stmt_get(st, ST_JOIN_LIST, &s);
	if (r < 0)
		return r;
	r = rows_collect(st, s, DB_OK, sizeof(**ret), join_from_row, NULL, &v, ret_n);
	if (r >= 0)
		*ret = v;
	stmt_done(s);
	return r;
}

/* Run a cached UPDATE keyed by (text ?1, integer ?2); -ENOENT (message `what`) when it changed no row. */
static int
update_text_int(struct store *st, enum stmt_id id, const char *key, int64_t v, const char *what)
{
	struct db_stmt *s = NULL;
	int rc, r;

	r = stmt_get(st, id, &s);
	if (r < 0)
		return r;
	rc = bind_str(s, 1, key);
	if (rc == DB_OK)
		rc = db_bind_int64(s, 2, v);
	r = rc == DB_OK ? stmt_run(st, s) : sql_fail(st, rc);
	if (r == 0 && db_changes(st) == 0)
		r = set_error(st, -ENOENT, "%s", what);
	stmt_done(s);
	return r;
}

int
store_join_token_revoke(struct store *st, const char *id, int64_t now_ns)
{
	if (!id || now_ns == 0)
		return set_error(st, -EINVAL, "invalid join token revoke");
	return update_text_int(st, ST_JOIN_REVOKE, id, now_ns, "no valid join token with that id");
}

/* The join token with this hash, whatever its state. */
static int
join_find(struct store *st, const uint8_t hash[STORE_TOKEN_HASH_LEN], struct store_join_token *ret)
{
	struct db_stmt *s = NULL;
	int rc, r;

	r = stmt_get(st, ST_JOIN_FIND, &s);
	if (r < 0)
		return r;
	rc = db_bind_blob(s, 1, hash, STORE_TOKEN_HASH_LEN);
	if (rc == DB_OK)
		rc = db_step(s);
	if (rc == DB_DONE)
		r = set_error(st, -ENOENT, "no join token with that hash");
	else if (rc != DB_ROW)
		r = sql_fail(st, rc);
	else
		r = join_from_row(st, s, ret);
	stmt_done(s);
	return r;
}

int
store_join_token_use(struct store *st, const uint8_t hash[STORE_TOKEN_HASH_LEN], int64_t now_ns,
		     struct store_join_token *ret)
{
	struct store_join_token t;
	struct db_stmt *s = NULL;
	int rc, r;

	r = join_find(st, hash, &t);
	if (r < 0)
		return r;
	if (t.revoked_ns != 0)
		return set_error(st, -EKEYREVOKED, "join token %s was revoked", t.id);
	if (now_ns >= t.expires_ns)
		return set_error(st, -EKEYEXPIRED, "join token %s has expired", t.id);
	if (t.uses_left < 1)
		return set_error(st, -EDQUOT, "join token %s is used up", t.id);
	r = stmt_get(st, ST_JOIN_SPEND, &s);
	if (r < 0)
		return r;
	rc = db_bind_blob(s, 1, hash, STORE_TOKEN_HASH_LEN);
	r = rc == DB_OK ? stmt_run(st, s) : sql_fail(st, rc);
	/* read and spend are one statement apart: another writer may have taken the last use */
	if (r == 0 && db_changes(st) == 0)
		r = set_error(st, -EDQUOT, "join token %s is used up", t.id);
	stmt_done(s);
	if (r == 0)
		*ret = t;
	return r;
}

/* ---- agents ---- */

static int
agent_from_row(struct store *st, struct db_stmt *s, void *row)
{
	struct store_agent *a = row;
	struct store_agent_report *rep = &a->report;
	const void *hash;
	int r;

	memset(a, 0, sizeof(*a));
	a->vm_id = db_column_int64(s, 0);
	hash = db_column_blob(s, 1);
	if (!hash || db_column_bytes(s, 1) != STORE_TOKEN_HASH_LEN)
		return corrupt(st, "agents", "hash");
	memcpy(a->hash, hash, STORE_TOKEN_HASH_LEN);
	if (!db_column_is_null(s, 2)) {
		hash = db_column_blob(s, 2);
		if (!hash || db_column_bytes(s, 2) != STORE_TOKEN_HASH_LEN)
			return corrupt(st, "agents", "prev_hash");
		memcpy(a->prev_hash, hash, STORE_TOKEN_HASH_LEN);
		a->has_prev = true;
	}
	if ((r = col_text(st, s, 3, a->join_token, sizeof(a->join_token), "agents")) < 0 ||
	    (r = col_text(st, s, 8, rep->version, sizeof(rep->version), "agents")) < 0 ||
	    (r = col_text(st, s, 10, rep->reason, sizeof(rep->reason), "agents")) < 0 ||
	    (r = col_text(st, s, 11, rep->listening, sizeof(rep->listening), "agents")) < 0 ||
	    (r = col_text(st, s, 13, rep->last_error, sizeof(rep->last_error), "agents")) < 0)
		return r;
	a->joined_ns = db_column_int64(s, 4);
	a->revoked_ns = db_column_int64(s, 5);
	a->seen_ns = db_column_int64(s, 6);
	rep->applied_revision = db_column_int64(s, 7);
	rep->supported = db_column_int64(s, 9) != 0;
	rep->tamper_undone = db_column_int64(s, 12);
	return 0;
}

/* The one row of an agents query bound with (?1 = key). */
static int
agent_one(struct store *st, enum stmt_id id, int64_t vm_id, const uint8_t *hash, struct store_agent *ret)
{
	struct db_stmt *s = NULL;
	int rc, r;

	r = stmt_get(st, id, &s);
	if (r < 0)
		return r;
	rc = hash ? db_bind_blob(s, 1, hash, STORE_TOKEN_HASH_LEN) : db_bind_int64(s, 1, vm_id);
	if (rc == DB_OK)
		rc = db_step(s);
	if (rc == DB_DONE)
		r = set_error(st, -ENOENT, "no such agent");
	else if (rc != DB_ROW)
		r = sql_fail(st, rc);
	else
		r = agent_from_row(st, s, ret);
	stmt_done(s);
	return r;
}

int
store_agent_join(struct store *st, int64_t vm_id, const uint8_t hash[STORE_TOKEN_HASH_LEN], const char *join_token,
		 int64_t now_ns)
{
	struct db_stmt *s = NULL;
	struct op op;
	int rc, r;

	if (!join_token || strlen(join_token) > STORE_JOIN_ID_MAX)
		return set_error(st, -EINVAL, "invalid agent join");
	r = op_begin(st, &op);
	if (r < 0)
		return r;
	/* a revoked agent's record goes; a valid one stays and makes the insert fail with -EEXIST */
	r = stmt_get(st, ST_AGENT_FORGET, &s);
	if (r == 0) {
		rc = db_bind_int64(s, 1, vm_id);
		r = rc == DB_OK ? stmt_run(st, s) : sql_fail(st, rc);
		stmt_done(s);
	}
	if (r == 0)
		r = stmt_get(st, ST_AGENT_INSERT, &s);
	if (r == 0) {
		rc = db_bind_int64(s, 1, vm_id);
		if (rc == DB_OK)
			rc = db_bind_blob(s, 2, hash, STORE_TOKEN_HASH_LEN);
		if (rc == DB_OK)
			rc = bind_str(s, 3, join_token);
		if (rc == DB_OK)
			rc = db_bind_int64(s, 4, now_ns);
		r = rc == DB_OK ? stmt_run(st, s) : sql_fail(st, rc);
		stmt_done(s);
	}
	return op_end(st, &op, r);
}

int
store_agent_find(struct store *st, const uint8_t hash[STORE_TOKEN_HASH_LEN], struct store_agent *ret)
{
	struct store_agent a;
	struct db_stmt *s = NULL;
	int rc, r;

	r = agent_one(st, ST_AGENT_FIND, 0, hash, &a);
	if (r < 0)
		return r;
	/* the new credential of a rotation in use: the agent has it, so the old one may go */
	if (a.has_prev && memcmp(a.hash, hash, STORE_TOKEN_HASH_LEN) == 0 && !st->readonly) {
		r = stmt_get(st, ST_AGENT_CONFIRM, &s);
		if (r < 0)
			return r;
		rc = db_bind_blob(s, 1, hash, STORE_TOKEN_HASH_LEN);
		r = rc == DB_OK ? stmt_run(st, s) : sql_fail(st, rc);
		stmt_done(s);
		if (r < 0)
			return r;
		a.has_prev = false;
		memset(a.prev_hash, 0, sizeof(a.prev_hash));
	}
	*ret = a;
	return 0;
}

int
store_agent_get(struct store *st, int64_t vm_id, struct store_agent *ret)
{
	return agent_one(st, ST_AGENT_GET, vm_id, NULL, ret);
}

int
store_agent_list(struct store *st, struct store_agent **ret, size_t *ret_n)
{
	struct db_stmt *s = NULL;
	void *v;
	int r;

	r = stmt_get(st, ST_AGENT_LIST, &s);
	if (r < 0)
		return r;
	r = rows_collect(st, s, DB_OK, sizeof(**ret), agent_from_row, NULL, &v, ret_n);
	if (r >= 0)
		*ret = v;
	stmt_done(s);
	return r;
}

/* Run a cached UPDATE of agents keyed by (vm ?1, integer ?2); -ENOENT when no valid agent changed. */
static int
agent_update(struct store *st, enum stmt_id id, int64_t vm_id, int64_t v, const uint8_t *hash)
{
	struct db_stmt *s = NULL;
	int rc, r;

	r = stmt_get(st, id, &s);
	if (r < 0)
		return r;
	rc = db_bind_int64(s, 1, vm_id);
	if (rc == DB_OK)
		rc = hash ? db_bind_blob(s, 2, hash, STORE_TOKEN_HASH_LEN) :
			    db_bind_int64(s, 2, v);
	r = rc == DB_OK ? stmt_run(st, s) : sql_fail(st, rc);
	if (r == 0 && db_changes(st) == 0)
		r = set_error(st, -ENOENT, "VM %lld has no valid agent", (long long)vm_id);
	stmt_done(s);
	return r;
}

int
store_agent_revoke(struct store *st, int64_t vm_id, int64_t now_ns)
{
	if (now_ns == 0)
		return set_error(st, -EINVAL, "invalid agent revoke");
	return agent_update(st, ST_AGENT_REVOKE, vm_id, now_ns, NULL);
}

int
store_agent_rotate(struct store *st, int64_t vm_id, const uint8_t hash[STORE_TOKEN_HASH_LEN])
{
	return agent_update(st, ST_AGENT_ROTATE, vm_id, 0, hash);
}

static int
report_bind(struct db_stmt *s, int64_t vm_id, const struct store_agent_report *rep, int64_t now_ns)
{
	int rc = db_bind_int64(s, 1, vm_id);

	if (rc == DB_OK)
		rc = db_bind_int64(s, 2, now_ns);
	if (rc == DB_OK)
		rc = db_bind_int64(s, 3, rep->applied_revision);
	if (rc == DB_OK)
		rc = bind_str(s, 4, rep->version);
	if (rc == DB_OK)
		rc = db_bind_int64(s, 5, rep->supported ? 1 : 0);
	if (rc == DB_OK)
		rc = bind_str(s, 6, rep->reason);
	if (rc == DB_OK)
		rc = bind_str(s, 7, rep->listening);
	if (rc == DB_OK)
		rc = db_bind_int64(s, 8, rep->tamper_undone);
	if (rc == DB_OK)
		rc = bind_str(s, 9, rep->last_error);
	return rc;
}

int
store_agent_report(struct store *st, int64_t vm_id, const struct store_agent_report *rep, int64_t now_ns)
{
	struct db_stmt *s = NULL;
	struct op op;
	int rc, r;

	if (!FIELD_OK(rep->version) || !FIELD_OK(rep->reason) || !FIELD_OK(rep->listening) ||
	    !FIELD_OK(rep->last_error) || rep->applied_revision < -1)
		return set_error(st, -EINVAL, "invalid agent report");
	r = op_begin(st, &op);
	if (r < 0)
		return r;
	r = stmt_get(st, ST_AGENT_REPORT, &s);
	if (r == 0) {
		rc = report_bind(s, vm_id, rep, now_ns);
		r = rc == DB_OK ? stmt_run(st, s) : sql_fail(st, rc);
		if (r == 0 && db_changes(st) == 0)
			r = set_error(st, -ENOENT, "VM %lld has no valid agent", (long long)vm_id);
		stmt_done(s);
	}
	if (r == 0 && rep->applied_revision >= 0)
		r = stmt_get(st, ST_GRANTS_APPLIED, &s);
	if (r == 0 && rep->applied_revision >= 0) {
		rc = db_bind_int64(s, 1, vm_id);
		if (rc == DB_OK)
			rc = db_bind_int64(s, 2, rep->applied_revision);
		if (rc == DB_OK)
			rc = db_bind_int64(s, 3, now_ns);
		r = rc == DB_OK ? stmt_run(st, s) : sql_fail(st, rc);
		stmt_done(s);
	}
	return op_end(st, &op, r);
}

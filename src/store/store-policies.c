/* The store's JIT policies and which VMs each one holds. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>


#include "store-internal.h"

static bool
policy_arm_ok(const struct arm_policy_id *arm)
{
	return FIELD_OK(arm->subscription) && FIELD_OK(arm->resource_group) && FIELD_OK(arm->location) &&
	    FIELD_OK(arm->name) && arm->subscription[0] != '\0' && arm->resource_group[0] != '\0' &&
	    arm->location[0] != '\0' && arm->name[0] != '\0';
}

static int
bind_policy_arm(struct db_stmt *s, const struct arm_policy_id *arm)
{
	int rc = bind_str(s, 1, arm->subscription);

	if (rc == DB_OK)
		rc = bind_str(s, 2, arm->resource_group);
	if (rc == DB_OK)
		rc = bind_str(s, 3, arm->location);
	if (rc == DB_OK)
		rc = bind_str(s, 4, arm->name);
	return rc;
}

static int
policy_from_row(struct store *st, struct db_stmt *s, struct store_policy *p)
{
	int r;

	memset(p, 0, sizeof(*p));
	p->id = db_column_int64(s, 0);
	if ((r = col_text(st, s, 1, p->arm.subscription, sizeof(p->arm.subscription), "policies")) < 0 ||
	    (r = col_text(st, s, 2, p->arm.resource_group, sizeof(p->arm.resource_group), "policies")) < 0 ||
	    (r = col_text(st, s, 3, p->arm.location, sizeof(p->arm.location), "policies")) < 0 ||
	    (r = col_text(st, s, 4, p->arm.name, sizeof(p->arm.name), "policies")) < 0)
		return r;
	p->created_ns = db_column_int64(s, 6);
	p->updated_ns = db_column_int64(s, 7);
	return col_strdup(st, s, 5, &p->json, "policies");
}

/* Link vm_id to policy_id, which holds no VMs yet but may list one twice. */
static int
policy_link(struct store *st, int64_t policy_id, int64_t vm_id)
{
	struct db_stmt *s = NULL;
	int64_t owner = 0;
	int rc, r;

	r = link_owner(st, vm_id, &owner);
	if (r == 0) {
		if (owner == policy_id)
			return 0;	/* listed twice */
		return set_error(st, -EEXIST, "VM %lld is already in policy %lld", (long long)vm_id,
		    (long long)owner);
	}
	if (r != -ENOENT)
		return r;
	r = stmt_get(st, ST_LINK_INSERT, &s);
	if (r < 0)
		return r;
	rc = db_bind_int64(s, 1, vm_id);
	if (rc == DB_OK)
		rc = db_bind_int64(s, 2, policy_id);
	if (rc == DB_OK)
		rc = db_step(s);
	if (rc == DB_FOREIGN_KEY)
		r = set_error(st, -ENOENT, "no VM with id %lld", (long long)vm_id);
	else if (rc != DB_DONE)
		r = sql_fail(st, rc);
	stmt_done(s);
	return r;
}

/* The policy with this ARM id: its id, or created when there is none. */
static int
policy_put_find(struct store *st, const struct arm_policy_id *arm, int64_t *ret_id, bool *ret_created)
{
	struct db_stmt *s = NULL;
	int rc, r;

	r = stmt_get(st, ST_POLICY_FIND, &s);
	if (r < 0)
		return r;
	rc = bind_policy_arm(s, arm);
	if (rc == DB_OK)
		rc = db_step(s);
	if (rc == DB_ROW) {
		*ret_id = db_column_int64(s, 0);
		*ret_created = false;
	} else if (rc == DB_DONE) {
		*ret_created = true;
	} else {
		r = sql_fail(st, rc);
	}
	stmt_done(s);
	return r;
}

/* Insert (created) or update policy id with its ARM id and JSON. */
static int
policy_put_write(struct store *st, const struct arm_policy_id *arm, const char *json, int64_t now_ns, bool created,
		 int64_t *id)
{
	struct db_stmt *s = NULL;
	int rc, r;

	/* The id's casing follows the latest PUT; created_ns is set once (by the insert's ?6 twice). */
	r = stmt_get(st, created ? ST_POLICY_INSERT : ST_POLICY_UPDATE, &s);
	if (r < 0)
		return r;
	rc = bind_policy_arm(s, arm);
	if (rc == DB_OK)
		rc = bind_str(s, 5, json);
	if (rc == DB_OK)
		rc = db_bind_int64(s, 6, now_ns);
	if (rc == DB_OK && !created)
		rc = db_bind_int64(s, 7, *id);
	if (rc != DB_OK) {
		r = sql_fail(st, rc);
		goto out;
	}
	r = stmt_run(st, s);
	if (r < 0)
		goto out;
	if (created)
		*id = db_last_id(st);
out:
	stmt_done(s);
	return r;
}

/* Policy id's VMs become exactly vm_ids. */
static int
policy_links_set(struct store *st, int64_t id, const int64_t *vm_ids, size_t n_vm_ids)
{
	struct db_stmt *s = NULL;
	size_t i;
	int rc, r;

	r = stmt_get(st, ST_LINKS_CLEAR, &s);
	if (r < 0)
		return r;
	rc = db_bind_int64(s, 1, id);
	r = rc != DB_OK ? sql_fail(st, rc) : stmt_run(st, s);
	stmt_done(s);
	for (i = 0; r >= 0 && i < n_vm_ids; i++)
		r = policy_link(st, id, vm_ids[i]);
	return r;
}

int
store_policy_put(struct store *st, const struct arm_policy_id *arm, const char *json, const int64_t *vm_ids,
		 size_t n_vm_ids, int64_t now_ns, int64_t *ret_id, bool *ret_created)
{
	struct op op;
	int64_t id = 0;
	bool created = false;
	int r;

	if (!policy_arm_ok(arm) || !json || (n_vm_ids > 0 && !vm_ids) || n_vm_ids > POLICY_VMS_MAX)
		return set_error(st, -EINVAL, "invalid policy record");

	r = op_begin(st, &op);
	if (r < 0)
		return r;
	r = policy_put_find(st, arm, &id, &created);
	if (r >= 0)
		r = policy_put_write(st, arm, json, now_ns, created, &id);
	if (r >= 0)
		r = policy_links_set(st, id, vm_ids, n_vm_ids);
	r = op_end(st, &op, r);
	if (r < 0)
		return r;
	if (ret_id)
		*ret_id = id;
	if (ret_created)
		*ret_created = created;
	return 0;
}

static int
policy_get_one(struct store *st, struct db_stmt *s, int rc, struct store_policy *ret)
{
	struct store_policy p;
	int r;

	if (rc == DB_OK)
		rc = db_step(s);
	if (rc == DB_DONE)
		return set_error(st, -ENOENT, "no such policy");
	if (rc != DB_ROW)
		return sql_fail(st, rc);
	r = policy_from_row(st, s, &p);
	if (r < 0)
		return r;
	*ret = p;
	return 0;
}

int
store_policy_get(struct store *st, const struct arm_policy_id *arm, struct store_policy *ret)
{
	struct db_stmt *s = NULL;
	int r;

	if (!policy_arm_ok(arm))
		return set_error(st, -EINVAL, "invalid policy id");
	r = stmt_get(st, ST_POLICY_GET, &s);
	if (r < 0)
		return r;
	r = policy_get_one(st, s, bind_policy_arm(s, arm), ret);
	stmt_done(s);
	return r;
}

int
store_policy_get_by_id(struct store *st, int64_t id, struct store_policy *ret)
{
	struct db_stmt *s = NULL;
	int r;

	r = stmt_get(st, ST_POLICY_GET_BY_ID, &s);
	if (r < 0)
		return r;
	r = policy_get_one(st, s, db_bind_int64(s, 1, id), ret);
	stmt_done(s);
	return r;
}

static int
policy_row(struct store *st, struct db_stmt *s, void *row)
{
	return policy_from_row(st, s, row);
}

static void
policy_row_clear(void *row)
{
	store_policy_clear(row);
}

int
store_policy_list(struct store *st, struct store_policy **ret, size_t *ret_n)
{
	struct db_stmt *s = NULL;
	void *v;
	int r;

	r = stmt_get(st, ST_POLICY_LIST, &s);
	if (r < 0)
		return r;
	r = rows_collect(st, s, DB_OK, sizeof(**ret), policy_row, policy_row_clear, &v, ret_n);
	if (r >= 0)
		*ret = v;
	stmt_done(s);
	return r;
}

int
store_policy_of_vm(struct store *st, int64_t vm_id, int64_t *ret_policy_id)
{
	return link_owner(st, vm_id, ret_policy_id);
}

int
store_policy_delete(struct store *st, int64_t id)
{
	struct db_stmt *s = NULL;
	int rc, r;

	r = stmt_get(st, ST_POLICY_DELETE, &s);
	if (r < 0)
		return r;
	rc = db_bind_int64(s, 1, id);
	if (rc == DB_OK)
		rc = db_step(s);
	if (rc != DB_DONE)
		r = sql_fail(st, rc);
	else if (db_changes(st) == 0)
		r = set_error(st, -ENOENT, "no policy with id %lld", (long long)id);
	stmt_done(s);
	return r;
}

void
store_policy_clear(struct store_policy *p)
{
	if (p) {
		free(p->json);
		p->json = NULL;
	}
}

void
store_policies_free(struct store_policy *v, size_t n)
{
	size_t i;

	if (!v)
		return;
	for (i = 0; i < n; i++)
		store_policy_clear(&v[i]);
	free(v);
}

int
store_policy_as_read(struct store *st, int64_t policy_id, int64_t read_ns, const char *requestor)
{
	struct db_stmt *s = NULL;
	int64_t same = 0, revoked = 0;
	int rc, r;

	if ((r = stmt_get(st, ST_POLICY_AS_READ, &s)) < 0)
		return r;
	rc = db_bind_int64(s, 1, policy_id);
	if (rc == DB_OK)
		rc = db_bind_int64(s, 2, read_ns);
	if (rc == DB_OK)
		rc = bind_str(s, 3, requestor ? requestor : "");
	if (rc == DB_OK && (rc = db_step(s)) == DB_ROW) {
		same = db_column_int64(s, 0);
		revoked = db_column_int64(s, 1);
	}
	r = rc == DB_ROW ? 0 : sql_fail(st, rc);
	stmt_done(s);
	if (r < 0)
		return r;
	if (!same)
		return set_error(st, -EBUSY, "the policy changed while the request was decided: send it again");
	if (revoked)
		return set_error(st, -EBUSY, "the token was revoked while the request was decided");
	return 0;
}

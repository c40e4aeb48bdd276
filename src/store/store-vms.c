/* The store's VMs: the machines jitgated guards, each with its enforcement point and addresses. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>


#include "store-internal.h"

static int
vm_addrs_format(struct store *st, const struct store_vm *vm, char *buf, size_t size)
{
	size_t i, pos = 0;

	buf[0] = '\0';
	for (i = 0; i < vm->n_addrs; i++) {
		int n;

		if (i > 0) {
			if (pos + 1 >= size)
				return set_error(st, -EINVAL, "VM addresses too long");
			buf[pos++] = ' ';
		}
		n = net_addr_format(&vm->addrs[i], buf + pos, size - pos);
		if (n < 0)
			return set_error(st, -EINVAL, "VM address %zu cannot be formatted", i);
		pos += (size_t)n;
	}
	return 0;
}

static int
vm_addrs_parse(struct store *st, const char *text, struct store_vm *vm)
{
	const char *p = text;

	vm->n_addrs = 0;
	while (*p != '\0') {
		const char *sp = strchr(p, ' ');
		size_t n = sp ? (size_t)(sp - p) : strlen(p);

		if (vm->n_addrs >= FW_VM_ADDRS_MAX || net_addr_parse(p, n, &vm->addrs[vm->n_addrs], NULL) < 0)
			return corrupt(st, "vms", "addrs");
		vm->n_addrs++;
		p += n;
		if (*p == ' ')
			p++;
	}
	return 0;
}

static int
vm_from_row(struct store *st, struct db_stmt *s, struct store_vm *vm)
{
	char addrs[FW_VM_ADDRS_MAX * NET_ADDR_TEXT_MAX];
	int64_t point;
	int r;

	memset(vm, 0, sizeof(*vm));
	vm->id = db_column_int64(s, 0);
	if ((r = col_text(st, s, 1, vm->arm.subscription, sizeof(vm->arm.subscription), "vms")) < 0 ||
	    (r = col_text(st, s, 2, vm->arm.resource_group, sizeof(vm->arm.resource_group), "vms")) < 0 ||
	    (r = col_text(st, s, 3, vm->arm.name, sizeof(vm->arm.name), "vms")) < 0 ||
	    (r = col_text(st, s, 4, vm->location, sizeof(vm->location), "vms")) < 0 ||
	    (r = col_text(st, s, 5, vm->os_type, sizeof(vm->os_type), "vms")) < 0 ||
	    (r = col_text(st, s, 7, addrs, sizeof(addrs), "vms")) < 0 ||
	    (r = col_text(st, s, 8, vm->unsupported_reason, sizeof(vm->unsupported_reason), "vms")) < 0)
		return r;
	point = db_column_int64(s, 6);
	if (point != STORE_POINT_LOCAL && point != STORE_POINT_GATEWAY && point != STORE_POINT_AGENT)
		return corrupt(st, "vms", "point");
	vm->point = (enum store_point)point;
	vm->created_ns = db_column_int64(s, 9);
	return vm_addrs_parse(st, addrs, vm);
}

static bool
vm_arm_ok(const struct arm_vm_id *arm)
{
	return FIELD_OK(arm->subscription) && FIELD_OK(arm->resource_group) && FIELD_OK(arm->name) &&
	    arm->subscription[0] != '\0' && arm->resource_group[0] != '\0' && arm->name[0] != '\0';
}

static int
bind_vm_arm(struct db_stmt *s, const struct arm_vm_id *arm)
{
	int rc = bind_str(s, 1, arm->subscription);

	if (rc == DB_OK)
		rc = bind_str(s, 2, arm->resource_group);
	if (rc == DB_OK)
		rc = bind_str(s, 3, arm->name);
	return rc;
}

/*
 * -EADDRINUSE if another VM (local or gateway; id self_id excepted) has one of vm's addresses. Agent VMs
 * do not count: they enforce on their own hosts, and two hosts behind two NATs may well share an address. Read inside
 * store_vm_put's write transaction (BEGIN IMMEDIATE), so two writers cannot both pass it.
 */
static int
vm_addrs_free(struct store *st, const struct store_vm *vm, int64_t self_id)
{
	char text[NET_ADDR_TEXT_MAX];
	struct store_vm other;
	struct db_stmt *s = NULL;
	size_t i, j;
	int rc, r;

	r = stmt_get(st, ST_VM_LIST, &s);
	if (r < 0)
		return r;
	while ((rc = db_step(s)) == DB_ROW) {
		r = vm_from_row(st, s, &other);
		if (r < 0)
			goto out;
		if (other.id == self_id || other.point == STORE_POINT_AGENT)
			continue;
		for (i = 0; i < vm->n_addrs; i++)
			for (j = 0; j < other.n_addrs; j++) {
				if (!net_addr_equal(&vm->addrs[i], &other.addrs[j]))
					continue;
				if (net_addr_format(&vm->addrs[i], text, sizeof(text)) < 0)
					text[0] = '\0';
				r = set_error(st, -EADDRINUSE, "%s is an address of VM %lld", text, (long long)other.id);
				goto out;
			}
	}
	r = rc == DB_DONE ? 0 : sql_fail(st, rc);
out:
	stmt_done(s);
	return r;
}

/* The VM with vm's ARM id: its id, or created when there is none; its enforcement point must be vm's. */
static int
vm_put_find(struct store *st, const struct store_vm *vm, int64_t *ret_id, bool *ret_created)
{
	struct db_stmt *s = NULL;
	int64_t id = 0;
	bool created = false;
	int rc, r;

	r = stmt_get(st, ST_VM_FIND, &s);
	if (r < 0)
		return r;
	rc = bind_vm_arm(s, &vm->arm);
	if (rc == DB_OK)
		rc = db_step(s);
	if (rc == DB_ROW) {
		id = db_column_int64(s, 0);
		/* a VM's enforcement point is fixed at creation: a gateway never becomes the input hook's */
		if (db_column_int64(s, 1) != (int64_t)vm->point) {
			r = set_error(st, -EPERM, "the enforcement point of VM %lld cannot change", (long long)id);
			goto out;
		}
	} else if (rc == DB_DONE) {
		created = true;
	} else {
		r = sql_fail(st, rc);
		goto out;
	}
	*ret_id = id;
	*ret_created = created;
out:
	stmt_done(s);
	return r;
}

/* Insert (created) or update VM id with vm's fields; addrs is vm's addresses as text. */
static int
vm_put_write(struct store *st, const struct store_vm *vm, const char *addrs, bool created, int64_t *id)
{
	struct db_stmt *s = NULL;
	int rc, r;

	/* Both statements take the same first eight parameters; the insert adds created_ns, the update the id. */
	r = stmt_get(st, created ? ST_VM_INSERT : ST_VM_UPDATE, &s);
	if (r < 0)
		return r;
	rc = bind_vm_arm(s, &vm->arm);
	if (rc == DB_OK)
		rc = bind_str(s, 4, vm->location);
	if (rc == DB_OK)
		rc = bind_str(s, 5, vm->os_type);
	if (rc == DB_OK)
		rc = db_bind_int64(s, 6, (int)vm->point);
	if (rc == DB_OK)
		rc = bind_str(s, 7, addrs);
	if (rc == DB_OK)
		rc = bind_str(s, 8, vm->unsupported_reason);
	if (rc == DB_OK)
		rc = created ? db_bind_int64(s, 9, vm->created_ns) : db_bind_int64(s, 10, *id);
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

int
store_vm_put(struct store *st, const struct store_vm *vm, int64_t *ret_id, bool *ret_created)
{
	char addrs[FW_VM_ADDRS_MAX * NET_ADDR_TEXT_MAX];
	struct op op;
	int64_t id = 0;
	bool created = false;
	int r;

	if (!vm_arm_ok(&vm->arm) || !FIELD_OK(vm->location) || !FIELD_OK(vm->os_type) ||
	    !FIELD_OK(vm->unsupported_reason) || vm->n_addrs > FW_VM_ADDRS_MAX ||
	    (vm->point != STORE_POINT_LOCAL && vm->point != STORE_POINT_GATEWAY && vm->point != STORE_POINT_AGENT))
		return set_error(st, -EINVAL, "invalid VM record");
	r = vm_addrs_format(st, vm, addrs, sizeof(addrs));
	if (r < 0)
		return r;

	r = op_begin(st, &op);
	if (r < 0)
		return r;
	r = vm_put_find(st, vm, &id, &created);
	if (r < 0)
		goto out;
	/* an address belongs to one VM; the local VM's are this host's, whatever else claims them */
	if (vm->point == STORE_POINT_GATEWAY) {
		r = vm_addrs_free(st, vm, id);
		if (r < 0)
			goto out;
	}
	r = vm_put_write(st, vm, addrs, created, &id);
out:
	r = op_end(st, &op, r);
	if (r < 0)
		return r;
	if (ret_id)
		*ret_id = id;
	if (ret_created)
		*ret_created = created;
	return 0;
}

/* The one row of a statement already bound: -ENOENT if none. */
static int
vm_get_one(struct store *st, struct db_stmt *s, int rc, struct store_vm *ret)
{
	struct store_vm vm;
	int r;

	if (rc == DB_OK)
		rc = db_step(s);
	if (rc == DB_DONE)
		return set_error(st, -ENOENT, "no such VM");
	if (rc != DB_ROW)
		return sql_fail(st, rc);
	r = vm_from_row(st, s, &vm);
	if (r < 0)
		return r;
	*ret = vm;
	return 0;
}

int
store_vm_get(struct store *st, const struct arm_vm_id *arm, struct store_vm *ret)
{
	struct db_stmt *s = NULL;
	int r;

	if (!vm_arm_ok(arm))
		return set_error(st, -EINVAL, "invalid VM id");
	r = stmt_get(st, ST_VM_GET, &s);
	if (r < 0)
		return r;
	r = vm_get_one(st, s, bind_vm_arm(s, arm), ret);
	stmt_done(s);
	return r;
}

int
store_vm_get_by_id(struct store *st, int64_t id, struct store_vm *ret)
{
	struct db_stmt *s = NULL;
	int r;

	r = stmt_get(st, ST_VM_GET_BY_ID, &s);
	if (r < 0)
		return r;
	r = vm_get_one(st, s, db_bind_int64(s, 1, id), ret);
	stmt_done(s);
	return r;
}

static int
vm_row(struct store *st, struct db_stmt *s, void *row)
{
	return vm_from_row(st, s, row);
}

int
store_vm_list(struct store *st, struct store_vm **ret, size_t *ret_n)
{
	struct db_stmt *s = NULL;
	void *v;
	int r;

	r = stmt_get(st, ST_VM_LIST, &s);
	if (r < 0)
		return r;
	r = rows_collect(st, s, DB_OK, sizeof(**ret), vm_row, NULL, &v, ret_n);
	if (r >= 0)
		*ret = v;
	stmt_done(s);
	return r;
}

/* The id of the policy that holds vm_id, or -ENOENT. */
int
link_owner(struct store *st, int64_t vm_id, int64_t *ret_policy_id)
{
	struct db_stmt *s = NULL;
	int rc, r;

	r = stmt_get(st, ST_LINK_OWNER, &s);
	if (r < 0)
		return r;
	rc = db_bind_int64(s, 1, vm_id);
	if (rc == DB_OK)
		rc = db_step(s);
	if (rc == DB_ROW) {
		*ret_policy_id = db_column_int64(s, 0);
		r = 0;
	} else if (rc == DB_DONE) {
		r = set_error(st, -ENOENT, "VM %lld is in no policy", (long long)vm_id);
	} else {
		r = sql_fail(st, rc);
	}
	stmt_done(s);
	return r;
}

int
store_vm_delete(struct store *st, int64_t id)
{
	struct db_stmt *s = NULL;
	int64_t policy_id = 0;
	int rc, r;

	r = link_owner(st, id, &policy_id);
	if (r == 0)
		return set_error(st, -ENOTEMPTY, "VM %lld is in policy %lld", (long long)id, (long long)policy_id);
	if (r != -ENOENT)
		return r;
	r = stmt_get(st, ST_VM_DELETE, &s);
	if (r < 0)
		return r;
	rc = db_bind_int64(s, 1, id);
	if (rc == DB_OK)
		rc = db_step(s);
	if (rc == DB_FOREIGN_KEY)	/* linked after all (another writer) */
		r = set_error(st, -ENOTEMPTY, "VM %lld is in a policy", (long long)id);
	else if (rc != DB_DONE)
		r = sql_fail(st, rc);
	else if (db_changes(st) == 0)
		r = set_error(st, -ENOENT, "no VM with id %lld", (long long)id);
	stmt_done(s);
	return r;
}

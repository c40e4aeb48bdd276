/* The store's terminations: revokes with terminateSessions of agent VMs' grants, kept for their agents (store.h). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store-internal.h"

/* Bind what prune and read share: the VM (?1), the oldest time kept (?2), how many are kept (?3). */
static int
bind_kept(struct db_stmt *s, int64_t vm_id, int64_t now_ns)
{
	int rc = db_bind_int64(s, 1, vm_id);

	if (rc == DB_OK)
		rc = db_bind_int64(s, 2, now_ns - STORE_TERMINATION_KEEP_NS);
	if (rc == DB_OK)
		rc = db_bind_int64(s, 3, STORE_TERMINATIONS_MAX);
	return rc;
}

/* Forget the VM's terminations older than the keep or beyond the newest STORE_TERMINATIONS_MAX. */
static int
terminations_prune(struct store *st, int64_t vm_id, int64_t now_ns)
{
	struct db_stmt *s = NULL;
	int rc, r;

	r = stmt_get(st, ST_TERMINATIONS_PRUNE, &s);
	if (r < 0)
		return r;
	rc = bind_kept(s, vm_id, now_ns);
	r = rc == DB_OK ? stmt_run(st, s) : sql_fail(st, rc);
	stmt_done(s);
	return r;
}

int
store_termination_add(struct store *st, const char *request_id, int64_t vm_id, uint16_t port, int64_t now_ns)
{
	struct db_stmt *s = NULL;
	struct op op;
	int rc, r, added = 0;

	if (!request_id || strnlen(request_id, STORE_ID_MAX + 1) > STORE_ID_MAX || port == 0 || now_ns <= 0)
		return set_error(st, -EINVAL, "invalid termination");
	if ((r = op_begin(st, &op)) < 0)
		return r;
	if ((r = stmt_get(st, ST_TERMINATION_ADD, &s)) < 0)
		goto out;
	rc = port_row_bind(s, request_id, vm_id, port, now_ns);
	r = rc == DB_OK ? stmt_run(st, s) : sql_fail(st, rc);
	if (r == 0)
		added = db_changes(st) > 0;
	stmt_done(s);
	if (r == 0 && added)
		r = terminations_prune(st, vm_id, now_ns);
out:
	r = op_end(st, &op, r);
	return r < 0 ? r : added;
}

static int
termination_from_row(struct store *st, struct db_stmt *s, void *row)
{
	struct store_termination *t = row;
	char source[NET_PREFIX_TEXT_MAX];
	int64_t port, proto;
	int r;

	memset(t, 0, sizeof(*t));
	if ((r = col_text(st, s, 0, t->request_id, sizeof(t->request_id), "terminations")) < 0 ||
	    (r = col_text(st, s, 3, source, sizeof(source), "terminations")) < 0)
		return r;
	if (net_source_parse(source, strlen(source), &t->source, NULL) < 0)
		return corrupt(st, "terminations", "source");
	port = db_column_int64(s, 1);
	proto = db_column_int64(s, 2);
	if (port < 1 || port > UINT16_MAX)
		return corrupt(st, "terminations", "port");
	if (proto != NET_PROTO_ANY && proto != NET_PROTO_TCP && proto != NET_PROTO_UDP)
		return corrupt(st, "terminations", "proto");
	t->port = (uint16_t)port;
	t->proto = (enum net_proto)proto;
	t->revision = db_column_int64(s, 4);
	t->time_ns = db_column_int64(s, 5);
	return 0;
}

int
store_terminations_of_vm(struct store *st, int64_t vm_id, int64_t now_ns, struct store_termination **ret,
			 size_t *ret_n)
{
	struct db_stmt *s = NULL;
	void *v;
	int rc, r;

	r = stmt_get(st, ST_TERMINATIONS_OF_VM, &s);
	if (r < 0)
		return r;
	rc = bind_kept(s, vm_id, now_ns);
	r = rows_collect(st, s, rc, sizeof(**ret), termination_from_row, NULL, &v, ret_n);
	if (r >= 0)
		*ret = v;
	stmt_done(s);
	return r;
}

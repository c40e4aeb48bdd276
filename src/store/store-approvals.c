/* The store's approvals: ports waiting for approval, who approved, and what became of them. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store-internal.h"

int
store_pending_insert(struct store *st, const struct store_pending *p)
{
	const struct store_grant *g = &p->g;
	char source[NET_PREFIX_TEXT_MAX];
	struct db_stmt *s = NULL;
	int rc, r;

	if (!FIELD_OK(g->request_id) || !g->request_id[0] || g->port == 0 || p->want_ms <= 0 || !FIELD_OK(p->extends) ||
	    net_source_format(&g->source, source, sizeof(source)) < 0)
		return set_error(st, -EINVAL, "invalid pending port");
	r = stmt_get(st, ST_PENDING_INSERT, &s);
	if (r < 0)
		return r;
	rc = bind_str(s, 1, g->request_id);
	if (rc == DB_OK)
		rc = db_bind_int64(s, 2, g->vm_id);
	if (rc == DB_OK)
		rc = db_bind_int64(s, 3, g->port);
	if (rc == DB_OK)
		rc = db_bind_int64(s, 4, (int)g->proto);
	if (rc == DB_OK)
		rc = bind_str(s, 5, source);
	if (rc == DB_OK)
		rc = db_bind_int64(s, 6, p->want_ms);
	if (rc == DB_OK)
		rc = db_bind_int64(s, 7, g->end_ns);
	if (rc == DB_OK)
		rc = bind_str(s, 8, p->extends);
	if (rc == DB_OK)
		rc = db_bind_int64(s, 9, p->extend_end_ns);
	r = rc == DB_OK ? stmt_run(st, s) : sql_fail(st, rc);
	stmt_done(s);
	return r;
}

/* A row of PENDING_COLS. */
static int
pending_row(struct store *st, struct db_stmt *s, void *row)
{
	struct store_pending *p = row;
	struct store_grant *g = &p->g;
	char source[NET_PREFIX_TEXT_MAX];
	int64_t port, proto, state;
	int r;

	memset(p, 0, sizeof(*p));
	if ((r = col_text(st, s, 0, g->request_id, sizeof(g->request_id), "pending")) < 0 ||
	    (r = col_text(st, s, 4, source, sizeof(source), "pending")) < 0 ||
	    (r = col_text(st, s, 8, g->requestor, sizeof(g->requestor), "requests")) < 0 ||
	    (r = col_text(st, s, 12, p->requestor_addr, sizeof(p->requestor_addr), "requests")) < 0 ||
	    (r = col_text(st, s, 13, p->justification, sizeof(p->justification), "requests")) < 0 ||
	    (r = col_text(st, s, 14, p->extends, sizeof(p->extends), "pending")) < 0)
		return r;
	p->extend_end_ns = db_column_int64(s, 15);
	if (net_source_parse(source, strlen(source), &g->source, NULL) < 0)
		return corrupt(st, "pending", "source");
	g->vm_id = db_column_int64(s, 1);
	port = db_column_int64(s, 2);
	proto = db_column_int64(s, 3);
	state = db_column_int64(s, 6);
	if (port < 1 || port > UINT16_MAX)
		return corrupt(st, "pending", "port");
	if (proto != NET_PROTO_ANY && proto != NET_PROTO_TCP && proto != NET_PROTO_UDP)
		return corrupt(st, "pending", "proto");
	g->port = (uint16_t)port;
	g->proto = (enum net_proto)proto;
	g->end_ns = db_column_int64(s, 5);
	switch (state) {
	case STORE_PENDING_WAITING:
		g->status = STORE_GRANT_PENDING;
		break;
	case STORE_PENDING_DENIED:
	case STORE_PENDING_EXPIRED:
		g->status = STORE_GRANT_REVOKED;
		g->reason = state == STORE_PENDING_DENIED ? STORE_REASON_DENIED : STORE_REASON_PENDING_EXPIRED;
		g->ended_ns = db_column_int64(s, 7);
		break;
	case STORE_PENDING_APPROVED:
		g->status = STORE_GRANT_INITIATED;
		break;
	default:
		return corrupt(st, "pending", "state");
	}
	g->policy_id = db_column_int64(s, 9);
	p->want_ms = db_column_int64(s, 10);
	p->asked_ns = db_column_int64(s, 11);
	return 0;
}

/* The rows of one of the PENDING_COLS statements, its parameter (a text or a number) bound. */
static int
pending_collect(struct store *st, enum stmt_id id, const char *text, int64_t num, struct store_pending **ret,
		size_t *ret_n)
{
	struct db_stmt *s = NULL;
	void *v;
	int rc = DB_OK, r;

	r = stmt_get(st, id, &s);
	if (r < 0)
		return r;
	if (text)
		rc = bind_str(s, 1, text);
	else if (id == ST_PENDING_DUE)
		rc = db_bind_int64(s, 1, num);
	r = rows_collect(st, s, rc, sizeof(**ret), pending_row, NULL, &v, ret_n);
	stmt_done(s);
	if (r >= 0)
		*ret = v;
	return r;
}

int
store_pending_of_request(struct store *st, const char *request_id, struct store_pending **ret, size_t *ret_n)
{
	return pending_collect(st, ST_PENDING_OF_REQUEST, request_id, 0, ret, ret_n);
}

int
store_pending_waiting(struct store *st, struct store_pending **ret, size_t *ret_n)
{
	return pending_collect(st, ST_PENDING_WAITING, NULL, 0, ret, ret_n);
}

int
store_pending_due(struct store *st, int64_t now_ns, struct store_pending **ret, size_t *ret_n)
{
	return pending_collect(st, ST_PENDING_DUE, NULL, now_ns, ret, ret_n);
}

int
store_pending_next(struct store *st, int64_t after_ns, int64_t *ret_ns)
{
	struct db_stmt *s = NULL;
	int rc, r;

	r = stmt_get(st, ST_PENDING_NEXT, &s);
	if (r < 0)
		return r;
	rc = db_bind_int64(s, 1, after_ns);
	if (rc == DB_OK)
		rc = db_step(s);
	if (rc == DB_ROW)
		*ret_ns = db_column_is_null(s, 0) ? 0 : db_column_int64(s, 0);
	r = rc == DB_ROW ? 0 : sql_fail(st, rc);
	stmt_done(s);
	return r;
}

int
store_pending_decide(struct store *st, const char *request_id, int64_t vm_id, uint16_t port,
		     enum store_pending_state state, int64_t now_ns)
{
	if (!request_id || state <= STORE_PENDING_WAITING || state > STORE_PENDING_EXPIRED)
		return set_error(st, -EINVAL, "invalid decision");
	return port_row_update(st, ST_PENDING_DECIDE, request_id, vm_id, port, (int)state, now_ns,
			       "no Pending port for that request, VM and port");
}

int
store_pending_lock(struct store *st, const char *request_id)
{
	struct db_stmt *s = NULL;
	int rc, r;

	r = stmt_get(st, ST_PENDING_LOCK, &s);
	if (r < 0)
		return r;
	rc = bind_str(s, 1, request_id);
	r = rc == DB_OK ? stmt_run(st, s) : sql_fail(st, rc);
	if (r == 0)
		r = (int)db_changes(st);
	stmt_done(s);
	return r;
}

int
store_approval_add(struct store *st, const char *request_id, const char *approver, int64_t now_ns)
{
	struct db_stmt *s = NULL;
	int rc, r;

	if (!request_id || !approver || !approver[0])
		return set_error(st, -EINVAL, "invalid approval");
	r = stmt_get(st, ST_APPROVAL_ADD, &s);
	if (r < 0)
		return r;
	rc = bind_str(s, 1, request_id);
	if (rc == DB_OK)
		rc = bind_str(s, 2, approver);
	if (rc == DB_OK)
		rc = db_bind_int64(s, 3, now_ns);
	r = rc == DB_OK ? stmt_run(st, s) : sql_fail(st, rc);
	stmt_done(s);
	return r;
}

int
store_approvals_count(struct store *st, const char *request_id, int64_t *ret)
{
	struct db_stmt *s = NULL;
	int rc, r;

	r = stmt_get(st, ST_APPROVALS_COUNT, &s);
	if (r < 0)
		return r;
	rc = bind_str(s, 1, request_id);
	if (rc == DB_OK)
		rc = db_step(s);
	if (rc == DB_ROW)
		*ret = db_column_int64(s, 0);
	r = rc == DB_ROW ? 0 : sql_fail(st, rc);
	stmt_done(s);
	return r;
}

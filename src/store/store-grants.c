/* The store's requests and their grants: writing and ending them, and the queries of expiry, reconcile and usage. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>


#include "store-internal.h"

static bool
grant_ok(const struct store_grant *g)
{
	return g->port != 0 && (g->proto == NET_PROTO_ANY || g->proto == NET_PROTO_TCP ||
	    g->proto == NET_PROTO_UDP) && (g->source.any || net_prefix_is_valid(&g->source.prefix)) &&
	    (g->status == STORE_GRANT_INITIATED || g->status == STORE_GRANT_REVOKED) &&
	    g->reason >= STORE_REASON_NONE && g->reason <= STORE_REASON_LAST && FIELD_OK(g->boot_id) &&
	    (g->boot_id[0] ? g->mono_end_ns > 0 : g->mono_end_ns == 0);
}

static int
grant_insert(struct store *st, const char *request_id, const char *requestor, const struct store_grant *g)
{
	char source[NET_PREFIX_TEXT_MAX];
	struct db_stmt *s = NULL;
	int rc, r;

	if (net_source_format(&g->source, source, sizeof(source)) < 0)
		return set_error(st, -EINVAL, "grant source cannot be formatted");
	r = stmt_get(st, ST_GRANT_INSERT, &s);
	if (r < 0)
		return r;
	rc = bind_str(s, 1, request_id);
	if (rc == DB_OK)
		rc = db_bind_int64(s, 2, g->vm_id);
	if (rc == DB_OK)
		rc = db_bind_int64(s, 3, g->port);
	if (rc == DB_OK)
		rc = db_bind_int64(s, 4, (int)g->proto);
	if (rc == DB_OK)
		rc = bind_str(s, 5, source);
	if (rc == DB_OK)
		rc = db_bind_int64(s, 6, g->end_ns);
	if (rc == DB_OK)
		rc = db_bind_int64(s, 7, (int)g->status);
	if (rc == DB_OK)
		rc = db_bind_int64(s, 8, (int)g->reason);
	if (rc == DB_OK)
		rc = db_bind_int64(s, 9, g->ended_ns);
	if (rc == DB_OK)
		rc = bind_str(s, 10, requestor);
	if (rc == DB_OK)
		rc = bind_str(s, 11, g->boot_id);
	if (rc == DB_OK)
		rc = db_bind_int64(s, 12, g->mono_end_ns);
	if (rc == DB_OK)
		rc = db_bind_int64(s, 13, g->opened_ns);
	r = rc == DB_OK ? stmt_run(st, s) : sql_fail(st, rc);
	stmt_done(s);
	return r;
}

int
store_request_insert(struct store *st, const struct store_request *req)
{
	struct db_stmt *s = NULL;
	struct op op;
	size_t i;
	int rc, r;

	if (!FIELD_OK(req->id) || req->id[0] == '\0' || !FIELD_OK(req->requestor) ||
	    !FIELD_OK(req->requestor_addr) || !FIELD_OK(req->justification) || !FIELD_OK(req->requestor_subject) ||
	    (req->n_grants > 0 && !req->grants) || req->n_grants > STORE_GRANTS_MAX)
		return set_error(st, -EINVAL, "invalid request record");
	for (i = 0; i < req->n_grants; i++)
		if (!grant_ok(&req->grants[i]))
			return set_error(st, -EINVAL, "invalid grant %zu", i);

	r = op_begin(st, &op);
	if (r < 0)
		return r;
	r = stmt_get(st, req->policy_read_ns ? ST_REQUEST_INSERT_AS_READ : ST_REQUEST_INSERT, &s);
	if (r < 0)
		goto out;
	rc = bind_str(s, 1, req->id);
	if (rc == DB_OK)
		rc = db_bind_int64(s, 2, req->policy_id);
	if (rc == DB_OK)
		rc = bind_str(s, 3, req->requestor);
	if (rc == DB_OK)
		rc = bind_str(s, 4, req->requestor_addr);
	if (rc == DB_OK)
		rc = db_bind_int64(s, 5, req->start_ns);
	if (rc == DB_OK)
		rc = bind_str(s, 6, req->justification);
	if (rc == DB_OK)
		rc = bind_str(s, 7, req->requestor_subject);
	if (rc == DB_OK && req->policy_read_ns)
		rc = db_bind_int64(s, 8, req->policy_read_ns);
	r = rc == DB_OK ? stmt_run(st, s) : sql_fail(st, rc);
	if (r < 0)
		goto out;
	/* Each grant belongs to this request, whatever its own request_id says. */
	for (i = 0; i < req->n_grants; i++) {
		r = grant_insert(st, req->id, req->requestor, &req->grants[i]);
		if (r < 0)
			goto out;
	}
out:
	stmt_done(s);
	return op_end(st, &op, r);
}

int
store_grants_insert(struct store *st, const char *request_id, const char *requestor, const struct store_grant *grants,
		    size_t n)
{
	struct op op;
	size_t i;
	int r;

	if (!request_id || !requestor || (n > 0 && !grants) || n > STORE_GRANTS_MAX)
		return set_error(st, -EINVAL, "invalid grants");
	for (i = 0; i < n; i++)
		if (!grant_ok(&grants[i]))
			return set_error(st, -EINVAL, "invalid grant %zu", i);
	if ((r = op_begin(st, &op)) < 0)
		return r;
	for (i = 0; i < n && r >= 0; i++)
		r = grant_insert(st, request_id, requestor, &grants[i]);
	return op_end(st, &op, r < 0 ? r : 0);
}

int
store_grant_end(struct store *st, const char *request_id, int64_t vm_id, uint16_t port,
		enum store_grant_reason reason, int64_t ended_ns)
{
	if (!request_id || reason < STORE_REASON_NONE || reason > STORE_REASON_LAST)
		return set_error(st, -EINVAL, "invalid grant end");
	return port_row_update(st, ST_GRANT_END, request_id, vm_id, port, (int)reason, ended_ns,
			       "no Initiated grant for that request, VM and port");
}

/* Move an Initiated grant's end (ST_GRANT_TRUNCATE earlier, ST_GRANT_EXTEND later); -ENOENT when none moved. */
static int
grant_move(struct store *st, enum stmt_id id, const char *request_id, int64_t vm_id, uint16_t port, int64_t end_ns,
	   const char *boot_id, int64_t mono_end_ns)
{
	struct db_stmt *s = NULL;
	int rc, r;

	if (!request_id)
		return set_error(st, -EINVAL, "invalid grant end");
	r = stmt_get(st, id, &s);
	if (r < 0)
		return r;
	rc = port_row_bind(s, request_id, vm_id, port, end_ns);
	if (rc == DB_OK)
		rc = boot_id && boot_id[0] ? bind_str(s, 5, boot_id) : db_bind_null(s, 5);
	if (rc == DB_OK)	/* an end already past is still a monotonic end: never 0 ("not known") */
		rc = db_bind_int64(s, 6, mono_end_ns > 0 ? mono_end_ns : 1);
	r = rc == DB_OK ? stmt_run(st, s) : sql_fail(st, rc);
	if (r == 0 && db_changes(st) == 0)
		r = set_error(st, -ENOENT, "no Initiated grant for that request, VM and port %s that time",
			      id == ST_GRANT_EXTEND ? "ending before" : "ending after");
	stmt_done(s);
	return r;
}

int
store_grant_truncate(struct store *st, const char *request_id, int64_t vm_id, uint16_t port, int64_t end_ns,
		     const char *boot_id, int64_t mono_end_ns)
{
	return grant_move(st, ST_GRANT_TRUNCATE, request_id, vm_id, port, end_ns, boot_id, mono_end_ns);
}

int
store_grant_extend(struct store *st, const char *request_id, int64_t vm_id, uint16_t port, int64_t end_ns,
		   const char *boot_id, int64_t mono_end_ns)
{
	return grant_move(st, ST_GRANT_EXTEND, request_id, vm_id, port, end_ns, boot_id, mono_end_ns);
}

static int
grant_from_row(struct store *st, struct db_stmt *s, struct store_grant *g)
{
	char source[NET_PREFIX_TEXT_MAX];
	int64_t port, proto, status, reason;
	int r;

	memset(g, 0, sizeof(*g));
	if ((r = col_text(st, s, 0, g->request_id, sizeof(g->request_id), "grants")) < 0 ||
	    (r = col_text(st, s, 4, source, sizeof(source), "grants")) < 0 ||
	    (r = col_text(st, s, 9, g->requestor, sizeof(g->requestor), "requests")) < 0 ||
	    (r = col_text(st, s, 11, g->boot_id, sizeof(g->boot_id), "grants")) < 0)
		return r;
	if (net_source_parse(source, strlen(source), &g->source, NULL) < 0)
		return corrupt(st, "grants", "source");
	g->mono_end_ns = db_column_int64(s, 12);
	if (g->boot_id[0] ? g->mono_end_ns <= 0 : g->mono_end_ns != 0)
		return corrupt(st, "grants", "mono_end_ns");
	g->vm_id = db_column_int64(s, 1);
	port = db_column_int64(s, 2);
	proto = db_column_int64(s, 3);
	status = db_column_int64(s, 6);
	reason = db_column_int64(s, 7);
	if (port < 1 || port > UINT16_MAX)
		return corrupt(st, "grants", "port");
	if (proto != NET_PROTO_ANY && proto != NET_PROTO_TCP && proto != NET_PROTO_UDP)
		return corrupt(st, "grants", "proto");
	if (status != STORE_GRANT_INITIATED && status != STORE_GRANT_REVOKED)
		return corrupt(st, "grants", "status");
	if (reason < STORE_REASON_NONE || reason > STORE_REASON_LAST)
		return corrupt(st, "grants", "reason");
	g->port = (uint16_t)port;
	g->proto = (enum net_proto)proto;
	g->status = (enum store_grant_status)status;
	g->reason = (enum store_grant_reason)reason;
	g->end_ns = db_column_int64(s, 5);
	g->ended_ns = db_column_int64(s, 8);
	g->policy_id = db_column_int64(s, 10);
	g->applied_ns = db_column_int64(s, 13);
	g->opened_ns = db_column_int64(s, 14);
	return 0;
}

static int
grant_row(struct store *st, struct db_stmt *s, void *row)
{
	return grant_from_row(st, s, row);
}

/* All rows of a grant query whose parameters are bound (rc: the binding's result). */
static int
grants_collect(struct store *st, struct db_stmt *s, int rc, struct store_grant **ret, size_t *ret_n)
{
	void *v;
	int r;

	r = rows_collect(st, s, rc, sizeof(**ret), grant_row, NULL, &v, ret_n);
	if (r >= 0)
		*ret = v;
	return r;
}

int
store_grants_initiated(struct store *st, struct store_grant **ret, size_t *ret_n)
{
	struct db_stmt *s = NULL;
	int r;

	r = stmt_get(st, ST_GRANTS_INITIATED, &s);
	if (r < 0)
		return r;
	r = grants_collect(st, s, DB_OK, ret, ret_n);
	stmt_done(s);
	return r;
}

int
store_grants_live_on(struct store *st, int64_t vm_id, uint16_t port, const char *requestor, struct store_grant **ret,
		     size_t *ret_n)
{
	struct db_stmt *s = NULL;
	int rc = DB_OK, r, first = requestor ? 2 : 1;

	r = stmt_get(st, requestor ? ST_GRANTS_OF_REQUESTOR : ST_GRANTS_LIVE_ON, &s);
	if (r < 0)
		return r;
	if (requestor)
		rc = bind_str(s, 1, requestor);
	if (rc == DB_OK)
		rc = db_bind_int64(s, first, vm_id);
	if (rc == DB_OK)
		rc = db_bind_int64(s, first + 1, port);
	r = grants_collect(st, s, rc, ret, ret_n);
	stmt_done(s);
	return r;
}

/* The supersede's parameters: ?1 requestor, ?2 VM, ?3 port, ?4 reason, ?5 when. */
static int
supersede_bind(struct db_stmt *s, const char *requestor, int64_t vm_id, uint16_t port, enum store_grant_reason reason,
	       int64_t ended_ns)
{
	int rc = bind_str(s, 1, requestor);

	if (rc == DB_OK)
		rc = db_bind_int64(s, 2, vm_id);
	if (rc == DB_OK)
		rc = db_bind_int64(s, 3, port);
	if (rc == DB_OK)
		rc = db_bind_int64(s, 4, (int64_t)reason);
	if (rc == DB_OK)
		rc = db_bind_int64(s, 5, ended_ns);
	return rc;
}

int
store_grants_supersede(struct store *st, const char *requestor, int64_t vm_id, uint16_t port,
		       enum store_grant_reason reason, int64_t ended_ns, struct store_grant **ret, size_t *ret_n)
{
	struct db_stmt *s = NULL;
	struct op op;
	int r;

	*ret = NULL;
	*ret_n = 0;
	if (!requestor || reason <= STORE_REASON_NONE || reason > STORE_REASON_LAST)
		return set_error(st, -EINVAL, "invalid grant end");
	if ((r = op_begin(st, &op)) < 0)
		return r;
	if ((r = stmt_get(st, ST_GRANTS_SUPERSEDE, &s)) >= 0) {
		r = grants_collect(st, s, supersede_bind(s, requestor, vm_id, port, reason, ended_ns), ret, ret_n);
		stmt_done(s);
	}
	return op_end(st, &op, r);
}

int
store_grants_supersede_held(struct store *st, const char *requestor, int64_t vm_id, uint16_t port,
			    enum store_grant_reason reason, int64_t ended_ns)
{
	struct db_stmt *s = NULL;
	int rc, r;

	if (!requestor || reason <= STORE_REASON_NONE || reason > STORE_REASON_LAST)
		return set_error(st, -EINVAL, "invalid grant end");
	if ((r = stmt_get(st, ST_GRANTS_SUPERSEDE_HELD, &s)) < 0)
		return r;
	rc = supersede_bind(s, requestor, vm_id, port, reason, ended_ns);
	r = rc == DB_OK ? stmt_run(st, s) : sql_fail(st, rc);
	stmt_done(s);
	return r;
}

int
store_grants_live_each(struct store *st, int64_t after_ns, int (*fn)(void *ctx, const struct store_grant *g), void *ctx)
{
	struct store_grant g;
	struct db_stmt *s = NULL;
	int rc, r;

	r = stmt_get(st, ST_GRANTS_LIVE, &s);
	if (r < 0)
		return r;
	rc = db_bind_int64(s, 1, after_ns);
	if (rc != DB_OK) {
		r = sql_fail(st, rc);
		goto out;
	}
	while ((rc = db_step(s)) == DB_ROW) {
		if ((r = grant_from_row(st, s, &g)) < 0 || (r = fn(ctx, &g)) < 0)
			goto out;
	}
	r = rc == DB_DONE ? 0 : sql_fail(st, rc);
out:
	stmt_done(s);
	return r;
}

int
store_grants_due(struct store *st, int64_t now_ns, const char *boot_id, int64_t mono_ns, struct store_grant **ret,
		 size_t *ret_n)
{
	struct db_stmt *s = NULL;
	int rc, r;

	r = stmt_get(st, ST_GRANTS_DUE, &s);
	if (r < 0)
		return r;
	rc = db_bind_int64(s, 1, now_ns);
	if (rc == DB_OK)
		rc = boot_id && boot_id[0] ? bind_str(s, 2, boot_id) : db_bind_null(s, 2);
	if (rc == DB_OK)
		rc = db_bind_int64(s, 3, mono_ns);
	r = grants_collect(st, s, rc, ret, ret_n);
	stmt_done(s);
	return r;
}

int
store_grants_adopt_boot(struct store *st, const char *boot_id, int64_t now_ns, int64_t mono_ns)
{
	struct db_stmt *s = NULL;
	int rc, r;

	if (!boot_id || !boot_id[0] || strlen(boot_id) > STORE_BOOT_ID_MAX || mono_ns <= 0)
		return set_error(st, -EINVAL, "invalid boot");
	r = stmt_get(st, ST_GRANTS_ADOPT, &s);
	if (r < 0)
		return r;
	rc = bind_str(s, 1, boot_id);
	if (rc == DB_OK)
		rc = db_bind_int64(s, 2, now_ns);
	if (rc == DB_OK)
		rc = db_bind_int64(s, 3, mono_ns);
	r = rc == DB_OK ? stmt_run(st, s) : sql_fail(st, rc);
	if (r == 0)
		r = db_changes(st);
	stmt_done(s);
	return r;
}

/* The one value of a bound min() statement (rc: the binds' result) into *ret_ns, 0 when it is NULL (no row matched). */
static int
min_ns_step(struct store *st, struct db_stmt *s, int rc, int64_t *ret_ns)
{
	if (rc == DB_OK)
		rc = db_step(s);
	if (rc != DB_ROW)
		return sql_fail(st, rc);
	*ret_ns = db_column_is_null(s, 0) ? 0 : db_column_int64(s, 0);
	return 0;
}

int
store_grant_next_end(struct store *st, int64_t after_ns, int64_t *ret_ns)
{
	struct db_stmt *s = NULL;
	int r;

	r = stmt_get(st, ST_GRANT_NEXT_END, &s);
	if (r < 0)
		return r;
	r = min_ns_step(st, s, db_bind_int64(s, 1, after_ns), ret_ns);
	stmt_done(s);
	return r;
}

int
store_grant_next_mono_end(struct store *st, const char *boot_id, int64_t after_mono_ns, int64_t *ret_ns)
{
	struct db_stmt *s = NULL;
	int rc, r;

	if (!boot_id || !boot_id[0]) {
		*ret_ns = 0;
		return 0;
	}
	r = stmt_get(st, ST_GRANT_NEXT_MONO_END, &s);
	if (r < 0)
		return r;
	rc = bind_str(s, 1, boot_id);
	if (rc == DB_OK)
		rc = db_bind_int64(s, 2, after_mono_ns);
	r = min_ns_step(st, s, rc, ret_ns);
	stmt_done(s);
	return r;
}

static int
request_from_row(struct store *st, struct db_stmt *s, struct store_request *req)
{
	int r;

	memset(req, 0, sizeof(*req));
	if ((r = col_text(st, s, 0, req->id, sizeof(req->id), "requests")) < 0 ||
	    (r = col_text(st, s, 2, req->requestor, sizeof(req->requestor), "requests")) < 0 ||
	    (r = col_text(st, s, 3, req->requestor_addr, sizeof(req->requestor_addr), "requests")) < 0 ||
	    (r = col_text(st, s, 5, req->justification, sizeof(req->justification), "requests")) < 0)
		return r;
	req->policy_id = db_column_int64(s, 1);
	req->start_ns = db_column_int64(s, 4);
	return 0;
}

int
request_row(struct store *st, struct db_stmt *s, void *row)
{
	return request_from_row(st, s, row);
}

static int
grant_by_vm_port(const void *a, const void *b)
{
	const struct store_grant *x = a, *y = b;

	if (x->vm_id != y->vm_id)
		return x->vm_id < y->vm_id ? -1 : 1;
	return (x->port > y->port) - (x->port < y->port);
}

/* A request's ports that waited for approval and did not open (Pending, Denied, Expired), among its grants. */
static int
request_add_pending(struct store *st, struct store_request *req)
{
	struct store_pending *p = NULL;
	struct store_grant *all;
	size_t n = 0, i;
	int r;

	if ((r = store_pending_of_request(st, req->id, &p, &n)) < 0 || n == 0)
		goto out;
	all = realloc(req->grants, (req->n_grants + n) * sizeof(*all));
	if (!all) {
		r = set_error(st, -ENOMEM, "out of memory");
		goto out;
	}
	req->grants = all;
	/* an approved port is among the grants already */
	for (i = 0; i < n; i++)
		if (p[i].g.status != STORE_GRANT_INITIATED)
			all[req->n_grants++] = p[i].g;
	qsort(req->grants, req->n_grants, sizeof(*req->grants), grant_by_vm_port);
out:
	free(p);
	return r < 0 ? r : 0;
}

int
requests_grants_read(struct store *st, struct store_request *v, size_t n)
{
	struct db_stmt *s = NULL;
	size_t i;
	int r;

	r = stmt_get(st, ST_GRANTS_OF_REQUEST, &s);
	if (r < 0)
		return r;
	for (i = 0; i < n && r >= 0; i++) {
		r = grants_collect(st, s, bind_str(s, 1, v[i].id), &v[i].grants, &v[i].n_grants);
		stmt_done(s);
	}
	return r < 0 ? r : 0;
}

int
store_requests_of_policy(struct store *st, int64_t policy_id, int64_t since_ns, size_t limit,
			 struct store_request **ret, size_t *ret_n)
{
	struct store_request *v = NULL;
	struct db_stmt *s = NULL;
	size_t n = 0, i;
	void *rows;
	int rc, r;

	r = stmt_get(st, ST_REQUESTS_OF_POLICY, &s);
	if (r < 0)
		return r;
	rc = db_bind_int64(s, 1, policy_id);
	if (rc == DB_OK)
		rc = db_bind_int64(s, 2, since_ns);
	if (rc == DB_OK)
		rc = db_bind_int64(s, 3, limit ? (int64_t)limit : -1);
	/* no row owns anything before its grants are read: request_from_row leaves them NULL */
	r = rows_collect(st, s, rc, sizeof(*v), request_row, NULL, &rows, &n);
	if (r < 0)
		goto out;
	v = rows;
	stmt_done(s);
	s = NULL;
	if ((r = requests_grants_read(st, v, n)) < 0)
		goto out;
	/* and the ports that waited for approval and did not open */
	for (i = 0; i < n; i++)
		if ((r = request_add_pending(st, &v[i])) < 0)
			goto out;
	*ret = v;
	*ret_n = n;
	v = NULL;
	n = 0;
	r = 0;
out:
	stmt_done(s);
	store_requests_free(v, n);
	return r;
}

void
store_requests_free(struct store_request *v, size_t n)
{
	size_t i;

	if (!v)
		return;
	for (i = 0; i < n; i++)
		free(v[i].grants);
	free(v);
}

int
store_vm_usage(struct store *st, int64_t vm_id, int64_t since_ns, struct store_vm_usage *ret)
{
	struct store_vm_usage u;
	struct db_stmt *s = NULL;
	int64_t count;
	int rc, r;

	memset(&u, 0, sizeof(u));
	r = stmt_get(st, ST_USAGE_COUNT, &s);
	if (r < 0)
		return r;
	rc = db_bind_int64(s, 1, vm_id);
	if (rc == DB_OK)
		rc = db_bind_int64(s, 2, since_ns);
	if (rc == DB_OK)
		rc = db_step(s);
	if (rc != DB_ROW) {
		r = sql_fail(st, rc);
		goto out;
	}
	count = db_column_int64(s, 0);
	if (count < 0)
		count = 0;
	u.approved_since = (size_t)count;
	stmt_done(s);

	r = stmt_get(st, ST_USAGE_LAST, &s);
	if (r < 0)
		goto out;
	rc = db_bind_int64(s, 1, vm_id);
	if (rc == DB_OK)
		rc = db_step(s);
	if (rc == DB_ROW) {
		u.last_access_ns = db_column_int64(s, 0);
		r = col_text(st, s, 1, u.last_user, sizeof(u.last_user), "requests");
		if (r < 0)
			goto out;
	} else if (rc != DB_DONE) {
		r = sql_fail(st, rc);
		goto out;
	}
	*ret = u;
	r = 0;
out:
	stmt_done(s);
	return r;
}

/* Rules of one writer that replicas could break: gateway DNAT's mapped ports (one row per address, protocol and port), single_replica's claim. */
#include <errno.h>
#include <stdint.h>

#include "store-internal.h"

/* A row's key: ?1 address, ?2 protocol, ?3 port. */
static int
key_bind(struct db_stmt *s, const char *pub, int proto, uint16_t port)
{
	int rc = bind_str(s, 1, pub);

	if (rc == DB_OK)
		rc = db_bind_int64(s, 2, proto);
	if (rc == DB_OK)
		rc = db_bind_int64(s, 3, port);
	return rc;
}

/* One row through statement id (ST_DNAT_PORT_ADD or ST_DNAT_PORT_FILL): ?1 address, ?2 protocol, ?3 port, ?4 policy. */
static int
dnat_port_run(struct store *st, enum stmt_id id, int64_t policy_id, const char *pub, int proto, uint16_t port)
{
	struct db_stmt *s = NULL;
	int rc, r;

	r = stmt_get(st, id, &s);
	if (r < 0)
		return r;
	rc = key_bind(s, pub, proto, port);
	if (rc == DB_OK)
		rc = db_bind_int64(s, 4, policy_id);
	r = rc == DB_OK ? stmt_run(st, s) : sql_fail(st, rc);
	stmt_done(s);
	return r;
}

/* The policy that holds a row: its id, 0 when none does. */
static int
dnat_port_holder(struct store *st, const char *pub, int proto, uint16_t port, int64_t *ret)
{
	struct db_stmt *s = NULL;
	int rc, r;

	r = stmt_get(st, ST_DNAT_PORT_HOLDER, &s);
	if (r < 0)
		return r;
	rc = key_bind(s, pub, proto, port);
	if (rc == DB_OK)
		rc = db_step(s);
	*ret = rc == DB_ROW ? db_column_int64(s, 0) : 0;
	r = rc == DB_ROW || rc == DB_DONE ? 0 : sql_fail(st, rc);
	stmt_done(s);
	return r;
}

/* The backfill's row: 1 added, 0 the policy's already, -EEXIST when another policy holds it (its id in *ret_holder). */
static int
dnat_port_fill(struct store *st, int64_t policy_id, const char *pub, int proto, uint16_t port, int64_t *ret_holder)
{
	int64_t holder = 0;
	int r;

	if ((r = dnat_port_run(st, ST_DNAT_PORT_FILL, policy_id, pub, proto, port)) < 0)
		return r;
	if (db_changes(st) > 0)
		return 1;
	if ((r = dnat_port_holder(st, pub, proto, port, &holder)) < 0)
		return r;
	if (holder == policy_id)
		return 0;
	*ret_holder = holder;
	return set_error(st, -EEXIST, "port %u (%s) of %s is held by policy %lld", port, proto == NET_PROTO_UDP ? "UDP" :
			 "TCP", pub, (long long)holder);
}

static int
dnat_ports_check(struct store *st, const struct store_dnat_port *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (v[i].port == 0 || (v[i].pub.family != NET_INET && v[i].pub.family != NET_INET6) ||
		    (v[i].proto != NET_PROTO_TCP && v[i].proto != NET_PROTO_UDP && v[i].proto != NET_PROTO_ANY))
			return set_error(st, -EINVAL, "invalid mapped port");
	return 0;
}

/*
 * The rows of v[0..n) for policy_id: added (fill false), or added where none is (fill true). A "*" rule
 * takes its port for both protocols: two rows, so the key alone keeps it from either. Returns the rows
 * added; -EEXIST when another policy holds one (for fill, its id in *ret_holder and the port's index in *ret_at).
 */
static int
dnat_rows(struct store *st, int64_t policy_id, const struct store_dnat_port *v, size_t n, bool fill,
	  int64_t *ret_holder, size_t *ret_at)
{
	static const int protos[] = { NET_PROTO_TCP, NET_PROTO_UDP };
	size_t i, k;
	int added = 0, r = 0;

	for (i = 0; i < n && r >= 0; i++) {
		char pub[NET_ADDR_TEXT_MAX];

		net_addr_format(&v[i].pub, pub, sizeof(pub));
		for (k = 0; k < 2 && r >= 0; k++) {
			if (v[i].proto != NET_PROTO_ANY && (int)v[i].proto != protos[k])
				continue;
			if (fill)
				r = dnat_port_fill(st, policy_id, pub, protos[k], v[i].port, ret_holder);
			else
				r = dnat_port_run(st, ST_DNAT_PORT_ADD, policy_id, pub, protos[k], v[i].port);
			added += r > 0 ? r : 0;
		}
		if (r == -EEXIST && ret_at)
			*ret_at = i;
	}
	return r < 0 ? r : added;
}

int
store_dnat_ports_set(struct store *st, int64_t policy_id, const struct store_dnat_port *v, size_t n)
{
	struct db_stmt *s = NULL;
	int rc, r;

	if ((r = dnat_ports_check(st, v, n)) < 0)
		return r;
	/* one mark around the lot: a port another policy holds leaves none of this policy's rows changed */
	if ((r = store_mark(st)) < 0)
		return r;
	if ((r = stmt_get(st, ST_DNAT_PORTS_CLEAR, &s)) < 0)
		goto undo;
	rc = db_bind_int64(s, 1, policy_id);
	r = rc == DB_OK ? stmt_run(st, s) : sql_fail(st, rc);
	stmt_done(s);
	if (r >= 0)
		r = dnat_rows(st, policy_id, v, n, false, NULL, NULL);
	/* a keep refused (a failure inside the mark) leaves the mark to undo */
	if (r >= 0 && (r = store_mark_keep(st)) >= 0)
		return r;
undo:
	store_mark_undo(st);
	return r;
}

int
store_dnat_ports_fill(struct store *st, int64_t policy_id, const struct store_dnat_port *v, size_t n,
		      int64_t *ret_holder, size_t *ret_at)
{
	int r, added;

	if ((r = dnat_ports_check(st, v, n)) < 0)
		return r;
	/* as for a set: a clash leaves none of this policy's rows added */
	if ((r = store_mark(st)) < 0)
		return r;
	if ((added = r = dnat_rows(st, policy_id, v, n, true, ret_holder, ret_at)) >= 0 &&
	    (r = store_mark_keep(st)) >= 0)
		return added;
	store_mark_undo(st);
	return r;
}

/* the engine's own claim (db_ops.claim_sole); one with none needs none */
int
store_claim_sole(struct store *st)
{
	return st->ops->claim_sole ? st->ops->claim_sole(st) : 1;
}

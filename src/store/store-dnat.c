/* Rules of one writer that replicas could break: gateway DNAT's mapped ports (one row per address, protocol and port), single_replica's claim. */
#include <errno.h>
#include <stdint.h>

#include "store-internal.h"

static int
dnat_port_add(struct store *st, int64_t policy_id, const char *pub, int proto, uint16_t port)
{
	struct db_stmt *s = NULL;
	int rc, r;

	r = stmt_get(st, ST_DNAT_PORT_ADD, &s);
	if (r < 0)
		return r;
	rc = bind_str(s, 1, pub);
	if (rc == DB_OK)
		rc = db_bind_int64(s, 2, proto);
	if (rc == DB_OK)
		rc = db_bind_int64(s, 3, port);
	if (rc == DB_OK)
		rc = db_bind_int64(s, 4, policy_id);
	r = rc == DB_OK ? stmt_run(st, s) : sql_fail(st, rc);
	stmt_done(s);
	return r;
}

int
store_dnat_ports_set(struct store *st, int64_t policy_id, const struct store_dnat_port *v, size_t n)
{
	struct db_stmt *s = NULL;
	size_t i;
	int rc, r;

	for (i = 0; i < n; i++)
		if (v[i].port == 0 || (v[i].pub.family != NET_INET && v[i].pub.family != NET_INET6) ||
		    (v[i].proto != NET_PROTO_TCP && v[i].proto != NET_PROTO_UDP && v[i].proto != NET_PROTO_ANY))
			return set_error(st, -EINVAL, "invalid mapped port");
	/* one mark around the lot: a port another policy holds leaves none of this policy's rows changed */
	if ((r = store_mark(st)) < 0)
		return r;
	if ((r = stmt_get(st, ST_DNAT_PORTS_CLEAR, &s)) < 0)
		goto undo;
	rc = db_bind_int64(s, 1, policy_id);
	r = rc == DB_OK ? stmt_run(st, s) : sql_fail(st, rc);
	stmt_done(s);
	for (i = 0; i < n && r >= 0; i++) {
		char pub[NET_ADDR_TEXT_MAX];

		net_addr_format(&v[i].pub, pub, sizeof(pub));
		/* a "*" rule takes its port for both protocols: two rows, so the key alone keeps it from either */
		if (v[i].proto != NET_PROTO_UDP)
			r = dnat_port_add(st, policy_id, pub, NET_PROTO_TCP, v[i].port);
		if (r >= 0 && v[i].proto != NET_PROTO_TCP)
			r = dnat_port_add(st, policy_id, pub, NET_PROTO_UDP, v[i].port);
	}
	if (r >= 0)
		return store_mark_keep(st);
undo:
	store_mark_undo(st);
	return r;
}

/* the engine's own claim (db_ops.claim_sole); one with none needs none */
int
store_claim_sole(struct store *st)
{
	return st->ops->claim_sole ? st->ops->claim_sole(st) : 1;
}

/* Gateway DNAT's public ports: the taken set and the range allocator (pure; the API fills the set from the store). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "dnat.h"
#include "error.h"

static bool
protos_overlap(enum net_proto a, enum net_proto b)
{
	return a == NET_PROTO_ANY || b == NET_PROTO_ANY || a == b;
}

int
dnat_take(struct dnat_taken *t, const struct net_addr *pub, enum net_proto proto, uint16_t port)
{
	struct dnat_used *v = array_grow(t->v, &t->cap, t->n, sizeof(*v));

	if (!v)
		return -ENOMEM;
	t->v = v;
	memset(&t->v[t->n], 0, sizeof(t->v[t->n]));
	t->v[t->n].pub = *pub;
	t->v[t->n].proto = proto;
	t->v[t->n].port = port;
	t->n++;
	return 0;
}

bool
dnat_port_is_free(const struct dnat_taken *t, const struct net_addr *pub, enum net_proto proto, uint16_t port)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		if (t->v[i].port == port && protos_overlap(t->v[i].proto, proto) && net_addr_equal(&t->v[i].pub, pub))
			return false;
	return true;
}

int
dnat_port_pick(const struct dnat_taken *t, const struct net_addr *pub, enum net_proto proto, uint16_t lo,
	       uint16_t hi, uint16_t prefer, uint16_t *ret)
{
	uint32_t p;

	if (lo == 0 || lo > hi)
		return -EINVAL;
	if (prefer >= lo && prefer <= hi && dnat_port_is_free(t, pub, proto, prefer)) {
		*ret = prefer;
		return 0;
	}
	for (p = lo; p <= hi; p++)
		if (dnat_port_is_free(t, pub, proto, (uint16_t)p)) {
			*ret = (uint16_t)p;
			return 0;
		}
	return -ENOSPC;
}

int
dnat_range_parse(const char *s, size_t n, uint16_t *ret_lo, uint16_t *ret_hi, struct core_error *err)
{
	const char *dash = memchr(s, '-', n);
	uint16_t lo, hi;

	if (!dash || net_port_parse(s, (size_t)(dash - s), &lo, NULL) < 0 ||
	    net_port_parse(dash + 1, n - (size_t)(dash - s) - 1, &hi, NULL) < 0 || lo > hi)
		return core_error_set(err, "InvalidConfig", "dnat_ports",
				      "dnat_ports must be two ports, low-high, such as %d-%d", DNAT_PORTS_DEFAULT_MIN,
				      DNAT_PORTS_DEFAULT_MAX), -EINVAL;
	*ret_lo = lo;
	*ret_hi = hi;
	return 0;
}

/* Gateway DNAT in the desired state, pure: which mappings a state's ports imply for the nat chain's map. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "fw-model.h"

/* The VM's first address of `family`, the one a mapping DNATs to, or NULL. */
static const struct net_addr *
vm_addr_of_family(const struct fw_vm *vm, uint8_t family)
{
	size_t a;

	for (a = 0; a < vm->n_addrs && a < FW_VM_ADDRS_MAX; a++)
		if (vm->addrs[a].family == family)
			return &vm->addrs[a];
	return NULL;
}

bool
fw_dnat_is_valid(const struct fw_vm *vm, const struct net_addr *addr, uint16_t port)
{
	if (addr->family == 0)
		return port == 0;
	if (port == 0 || (addr->family != NET_INET && addr->family != NET_INET6))
		return false;
	return vm->point == FW_POINT_GATEWAY && vm_addr_of_family(vm, addr->family) != NULL;
}

static int
dnat_cmp_key(const void *pa, const void *pb)
{
	const struct fw_dnat *a = pa, *b = pb;
	int c = memcmp(&a->pub, &b->pub, sizeof(a->pub));

	if (c)
		return c;
	if (a->proto != b->proto)
		return a->proto < b->proto ? -1 : 1;
	return cmp_num(a->mapped, b->mapped);
}

static bool
dnat_same_target(const struct fw_dnat *a, const struct fw_dnat *b)
{
	return !memcmp(&a->to, &b->to, sizeof(a->to)) && a->port == b->port;
}

static int
dnat_push(struct fw_dnat **v, size_t *n, size_t *cap, const struct fw_dnat *d)
{
	struct fw_dnat *nv = array_grow(*v, cap, *n, sizeof(**v));

	if (!nv)
		return -ENOMEM;
	*v = nv;
	(*v)[(*n)++] = *d;
	return 0;
}

/* The mappings of one port (one per protocol it covers), appended. */
static int
dnat_of_port(const struct fw_state *st, const struct fw_port *pt, struct fw_dnat **v, size_t *n, size_t *cap,
	     struct core_error *err)
{
	const struct net_addr *to = NULL;
	size_t i;
	int r;

	for (i = 0; i < st->n_vms && !to; i++)
		if (st->vms[i].id == pt->vm && fw_dnat_is_valid(&st->vms[i], &pt->dnat_addr, pt->dnat_port))
			to = vm_addr_of_family(&st->vms[i], pt->dnat_addr.family);
	if (!to)
		return core_error_set(err, FW_ERR_INVALID, "port",
				      "DNAT of port %u of VM %llu: not a gateway VM with an address of that family",
				      pt->port, (unsigned long long)pt->vm);
	for (i = 0; i < 2; i++) {
		uint8_t proto = i == 0 ? NET_PROTO_TCP : NET_PROTO_UDP;
		struct fw_dnat d = { .pub = pt->dnat_addr, .proto = proto, .mapped = pt->dnat_port, .to = *to,
				     .port = pt->port };

		if (pt->proto != NET_PROTO_ANY && pt->proto != proto)
			continue;
		if ((r = dnat_push(v, n, cap, &d)) < 0)
			return r;
	}
	return 0;
}

int
fw_state_dnat(const struct fw_state *st, struct fw_dnat **ret, size_t *ret_n, struct core_error *err)
{
	struct fw_dnat *v = NULL;
	size_t n = 0, cap = 0, i, k = 0;
	int r = 0;

	for (i = 0; i < st->n_ports; i++) {
		if (st->ports[i].dnat_addr.family == 0)
			continue;
		if ((r = dnat_of_port(st, &st->ports[i], &v, &n, &cap, err)) < 0)
			goto out;
	}
	if (n)
		qsort(v, n, sizeof(*v), dnat_cmp_key);
	/* the same port listed twice maps the same way; two ports on one public port never */
	for (i = 0; i < n; i++) {
		if (k && !dnat_cmp_key(&v[k - 1], &v[i])) {
			if (dnat_same_target(&v[k - 1], &v[i]))
				continue;
			r = core_error_set(err, FW_ERR_INVALID, "port",
					   "two VM ports are mapped to one public address, protocol and port %u",
					   v[i].mapped);
			goto out;
		}
		v[k++] = v[i];
	}
	*ret = k ? v : NULL;
	*ret_n = k;
	if (k)
		v = NULL;
out:
	free(v);
	return r;
}

bool
fw_dnat_equal(const struct fw_dnat *a, size_t n_a, const struct fw_dnat *b, size_t n_b)
{
	size_t i;

	if (n_a != n_b)
		return false;
	for (i = 0; i < n_a; i++)
		if (dnat_cmp_key(&a[i], &b[i]) || !dnat_same_target(&a[i], &b[i]))
			return false;
	return true;
}

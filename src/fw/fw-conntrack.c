/* Ending open sessions: deletes the conntrack entries that revoked grants let in (libnetfilter_conntrack). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libnetfilter_conntrack/libnetfilter_conntrack.h>

#include "fw-conntrack.h"

#define FW_KILL_MAX 65536	/* entries collected in one dump; a later call gets the rest */

struct kill_ctx {
	const struct fw_vm *vms;
	size_t n_vms;
	const struct fw_grant *grants;
	size_t n;
	struct nf_conntrack **found;
	size_t n_found;
};

/* One address of the entry: its original (or, `repl`, its reply) direction's source or destination. */
static bool
ct_addr(const struct nf_conntrack *ct, bool repl, bool src, struct net_addr *ret)
{
	memset(ret, 0, sizeof(*ret));
	if (nfct_get_attr_u8(ct, ATTR_ORIG_L3PROTO) == AF_INET) {
		uint32_t a = nfct_get_attr_u32(ct, repl ? (src ? ATTR_REPL_IPV4_SRC : ATTR_REPL_IPV4_DST)
							: (src ? ATTR_ORIG_IPV4_SRC : ATTR_ORIG_IPV4_DST));

		ret->family = NET_INET;
		memcpy(ret->bytes, &a, 4);
		return true;
	}
	if (nfct_get_attr_u8(ct, ATTR_ORIG_L3PROTO) == AF_INET6) {
		const void *a = nfct_get_attr(ct, repl ? (src ? ATTR_REPL_IPV6_SRC : ATTR_REPL_IPV6_DST)
						       : (src ? ATTR_ORIG_IPV6_SRC : ATTR_ORIG_IPV6_DST));

		if (!a)
			return false;
		ret->family = NET_INET6;
		memcpy(ret->bytes, a, 16);
		return true;
	}
	return false;
}

/* The VM with this id among the context's. */
static const struct fw_vm *
vm_lookup(const struct fw_vm *vms, size_t n_vms, uint64_t id)
{
	size_t i;

	for (i = 0; i < n_vms; i++)
		if (vms[i].id == id)
			return &vms[i];
	return NULL;
}

/* Did g let in a session from src to dst:port? `gateway_only`: only as a gateway VM's grant (a DNATed session). */
static bool
grant_matches(const struct kill_ctx *k, const struct fw_grant *g, uint8_t proto, uint16_t port,
	      const struct net_addr *src, const struct net_addr *dst, bool gateway_only)
{
	const struct fw_vm *vm;
	size_t i;

	if (g->port != port || (g->proto != NET_PROTO_ANY && g->proto != proto))
		return false;
	if (!g->source.any && !net_prefix_contains_addr(&g->source.prefix, src))
		return false;
	vm = vm_lookup(k->vms, k->n_vms, g->vm);
	if (!vm || vm->point == FW_POINT_LOCAL)
		return vm != NULL && !gateway_only;
	for (i = 0; i < vm->n_addrs; i++)
		if (!memcmp(&vm->addrs[i], dst, sizeof(*dst)))
			return true;
	return false;
}

static int
on_entry(enum nf_conntrack_msg_type type, struct nf_conntrack *ct, void *data)
{
	struct kill_ctx *k = data;
	struct net_addr src, dst, r_client, r_vm;
	uint8_t proto = nfct_get_attr_u8(ct, ATTR_ORIG_L4PROTO);
	uint16_t port, r_port;
	bool nated;
	size_t i;

	if (proto != NET_PROTO_TCP && proto != NET_PROTO_UDP)
		return NFCT_CB_CONTINUE;
	port = ntohs(nfct_get_attr_u16(ct, ATTR_ORIG_PORT_DST));
	if (!ct_addr(ct, false, true, &src) || !ct_addr(ct, false, false, &dst))
		return NFCT_CB_CONTINUE;
	/*
	 * A DNATed session (gateway DNAT) was opened to the public address and
	 * mapped port; its reply direction comes from the VM's address and port,
	 * back to the source. Only a gateway VM's grant let that in (a local VM's
	 * grant on the same port number did not).
	 */
	r_port = ntohs(nfct_get_attr_u16(ct, ATTR_REPL_PORT_SRC));
	if (!ct_addr(ct, true, false, &r_client) || !ct_addr(ct, true, true, &r_vm))
		return NFCT_CB_CONTINUE;
	nated = r_port != port || !net_addr_equal(&r_vm, &dst);
	for (i = 0; i < k->n; i++) {
		if (!grant_matches(k, &k->grants[i], proto, port, &src, &dst, false) &&
		    !(nated && grant_matches(k, &k->grants[i], proto, r_port, &r_client, &r_vm, true)))
			continue;
		if (k->n_found < FW_KILL_MAX) {
			struct nf_conntrack *c = nfct_clone(ct);

			if (c)
				k->found[k->n_found++] = c;
		}
		break;
	}
	return NFCT_CB_CONTINUE;
}

int
fw_conntrack_kill(const struct fw_vm *vms, size_t n_vms, const struct fw_grant *grants, size_t n, size_t *ret_killed,
		  struct core_error *err)
{
	struct kill_ctx k = { vms, n_vms, grants, n, NULL, 0 };
	struct nfct_handle *dump = NULL, *del = NULL;
	size_t i, killed = 0;
	int r = 0, f;

	k.found = calloc(FW_KILL_MAX, sizeof(*k.found));
	if (!k.found)
		return -ENOMEM;
	dump = nfct_open(CONNTRACK, 0);
	del = nfct_open(CONNTRACK, 0);
	if (!dump || !del) {
		r = core_error_set(err, FW_ERR_UNAVAILABLE, "", "cannot open the conntrack netlink socket: %s",
				   strerror(errno));
		r = -EOPNOTSUPP;
		goto out;
	}
	nfct_callback_register(dump, NFCT_T_ALL, on_entry, &k);
	for (f = 0; f < 2; f++) {
		uint32_t family = f == 0 ? AF_INET : AF_INET6;

		if (nfct_query(dump, NFCT_Q_DUMP, &family) < 0) {
			r = core_error_set(err, FW_ERR_REJECTED, "", "cannot read the conntrack table: %s",
					   strerror(errno));
			r = -EIO;
			goto out;
		}
	}
	/* an entry may have ended on its own meanwhile (ENOENT): that is what we wanted anyway */
	for (i = 0; i < k.n_found; i++)
		if (nfct_query(del, NFCT_Q_DESTROY, k.found[i]) == 0)
			killed++;
	if (ret_killed)
		*ret_killed = killed;
out:
	for (i = 0; i < k.n_found; i++)
		nfct_destroy(k.found[i]);
	free(k.found);
	if (dump)
		nfct_close(dump);
	if (del)
		nfct_close(del);
	return r;
}

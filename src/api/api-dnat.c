/* Gateway DNAT in the API: a policy's publicIpAddress and mapped ports checked and picked at PUT, and read back for grants and answers. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api/api-internal.h"
#include "core/dnat.h"

/* The ports of every other stored policy's mappings: none of them may be given again. */
static int
taken_by_others(struct api *api, int64_t policy_id, struct dnat_taken *t, struct core_error *err)
{
	struct store_policy *pols = NULL;
	size_t n = 0, i, j, k;
	int r;

	if ((r = store_policy_list(api->store, &pols, &n)) < 0)
		return api_store_refused(api, r, err, "cannot read the policies");
	for (i = 0; i < n && r >= 0; i++) {
		struct policy *p = NULL;

		if (pols[i].id == policy_id || api_policy_decode_stored(api, &pols[i], &p, NULL) < 0)
			continue;
		for (j = 0; j < p->n_vms && r >= 0; j++)
			for (k = 0; k < p->vms[j].n_ports && r >= 0; k++)
				if (p->vms[j].public_ip.family && p->vms[j].ports[k].mapped_port)
					r = dnat_take(t, &p->vms[j].public_ip, p->vms[j].ports[k].proto,
						      p->vms[j].ports[k].mapped_port);
		policy_free(p);
	}
	store_policies_free(pols, n);
	return r < 0 ? core_error_set(err, "InternalError", "", "out of memory"), r : 0;
}

/* The VM's publicIpAddress may be used: a gateway VM's, an address of this host, with a VM address of its family. */
static int
check_public_ip(struct api *api, const struct policy_vm *pv, size_t i, struct core_error *err)
{
	char target[96], a[NET_ADDR_TEXT_MAX], vmtext[ARM_ID_MAX + 1];
	struct store_vm vm;
	size_t k;

	snprintf(target, sizeof(target), "properties.virtualMachines[%zu].publicIpAddress", i);
	net_addr_format(&pv->public_ip, a, sizeof(a));
	arm_vm_id_format(&pv->id, vmtext, sizeof(vmtext));
	if (store_vm_get(api->store, &pv->id, &vm) < 0)
		return core_error_set(err, "VirtualMachineNotFound", target, "the virtual machine '%s' is not in "
				      "jitgate's inventory", vmtext);
	if (vm.point != STORE_POINT_GATEWAY)
		return core_error_set(err, "PublicIpAddressNotAllowed", target,
				      "'%s' is %s VM: publicIpAddress (DNAT through this host) is only for gateway VMs",
				      vmtext, vm.point == STORE_POINT_LOCAL ? "the local" : "an agent");
	if (!api_host_has_address(&pv->public_ip))
		return core_error_set(err, "InvalidPublicIpAddress", target,
				      "'%s' is not an address of the gateway host: publicIpAddress must be one of "
				      "jitgated's own addresses", a);
	for (k = 0; k < vm.n_addrs; k++)
		if (vm.addrs[k].family == pv->public_ip.family)
			return 0;
	return core_error_set(err, "InvalidPublicIpAddress", target,
			      "'%s' is an IPv%c address and the virtual machine '%s' has none of that family", a,
			      pv->public_ip.family == NET_INET6 ? '6' : '4', vmtext);
}

/* The mapped port the old policy gave this VM's rule, with the same public address: kept if still free. */
static uint16_t
old_mapping(const struct policy *old, const struct policy_vm *pv, const struct policy_port *pp)
{
	const struct policy_vm *ov;
	const struct policy_port *op;

	if (!old || policy_find_vm(old, &pv->id, &ov) < 0 || !net_addr_equal(&ov->public_ip, &pv->public_ip) ||
	    policy_find_port(ov, pp->number, pp->proto, &op) < 0 || op->proto != pp->proto)
		return 0;
	return op->mapped_port;
}

/* The pinned ports first (an admin's choice wins over a pick), then a pick for each other rule. */
static int
plan_ports(struct api *api, struct policy *p, const struct policy *old, struct dnat_taken *t, struct core_error *err)
{
	char target[128], a[NET_ADDR_TEXT_MAX];
	size_t i, j, pass;

	for (pass = 0; pass < 2; pass++)
		for (i = 0; i < p->n_vms; i++) {
			struct policy_vm *pv = &p->vms[i];

			net_addr_format(&pv->public_ip, a, sizeof(a));
			for (j = 0; j < pv->n_ports; j++) {
				struct policy_port *pp = &pv->ports[j];
				uint16_t port = pp->mapped_port;
				int r;

				snprintf(target, sizeof(target), "properties.virtualMachines[%zu].ports[%zu].mappedPort",
					 i, j);
				if (pv->public_ip.family == 0) {
					if (pass == 0 && port)
						return core_error_set(err, "MappedPortWithoutPublicIp", target,
								      "mappedPort needs the virtual machine's "
								      "publicIpAddress");
					continue;
				}
				if ((pass == 0) != (port != 0))
					continue;
				if (pass == 0 && !dnat_port_is_free(t, &pv->public_ip, pp->proto, port))
					return core_error_set(err, "MappedPortInUse", target,
							      "port %u of %s is already mapped to another VM port", port, a);
				/* the port the rule had keeps, pinned outside the range or not, while it is free */
				if (pass == 1 && (port = old_mapping(old, pv, pp)) &&
				    !dnat_port_is_free(t, &pv->public_ip, pp->proto, port))
					port = 0;
				if (pass == 1 && !port) {
					r = dnat_port_pick(t, &pv->public_ip, pp->proto, api->settings.dnat_port_min,
							   api->settings.dnat_port_max, 0, &port);
					if (r < 0)
						return core_error_set(err, "MappedPortRangeExhausted", target,
								      "no port of %s is free in the gateway's range "
								      "%u-%u (dnat_ports)", a,
								      api->settings.dnat_port_min,
								      api->settings.dnat_port_max);
				}
				if (dnat_take(t, &pv->public_ip, pp->proto, port) < 0)
					return core_error_set(err, "InternalError", "", "out of memory"), -ENOMEM;
				pp->mapped_port = port;
			}
		}
	return 0;
}

int
api_dnat_plan(struct api *api, struct policy *p, const struct policy *old, int64_t policy_id,
	      struct core_error *err)
{
	struct dnat_taken t = { 0 };
	size_t i;
	int r = 0;

	for (i = 0; i < p->n_vms; i++)
		if (p->vms[i].public_ip.family && (r = check_public_ip(api, &p->vms[i], i, err)) < 0)
			return r;
	if ((r = taken_by_others(api, policy_id, &t, err)) < 0)
		goto out;
	r = plan_ports(api, p, old, &t, err);
out:
	free(t.v);
	return r;
}

int
api_dnat_ports_of(const struct policy *p, struct store_dnat_port **ret, size_t *ret_n)
{
	struct store_dnat_port *v;
	size_t n = 0, i, j;

	for (i = 0; i < p->n_vms; i++)
		n += p->vms[i].public_ip.family ? p->vms[i].n_ports : 0;
	if (!(v = calloc(n ? n : 1, sizeof(*v))))
		return -ENOMEM;
	for (i = 0, n = 0; i < p->n_vms; i++)
		for (j = 0; p->vms[i].public_ip.family && j < p->vms[i].n_ports; j++)
			if (p->vms[i].ports[j].mapped_port)
				v[n++] = (struct store_dnat_port){ p->vms[i].public_ip, p->vms[i].ports[j].proto,
								   p->vms[i].ports[j].mapped_port };
	*ret = v;
	*ret_n = n;
	return 0;
}

/*
 * The policy's mapped ports into the store's table (in the write's transaction), whose key refuses a port
 * another policy holds: -EADDRINUSE with MappedPortInUse then (api_dnat_plan, run in the same transaction,
 * finds those first; this is the rule two writers cannot both pass).
 */
int
api_dnat_store(struct api *api, const struct policy *p, int64_t policy_id, struct core_error *err)
{
	struct store_dnat_port *v;
	size_t n;
	int r;

	if (api_dnat_ports_of(p, &v, &n) < 0)
		return core_error_set(err, "InternalError", "", "out of memory"), -ENOMEM;
	r = store_dnat_ports_set(api->store, policy_id, v, n);
	free(v);
	if (r == -EEXIST)
		return core_error_set(err, "MappedPortInUse", "properties.virtualMachines",
				      "a mapped port of this policy was given to another VM port meanwhile; read the "
				      "policy and PUT it again"), -EADDRINUSE;
	return r < 0 ? api_store_refused(api, r, err, "the store refused the mapped ports") : 0;
}

void
api_dnat_of_port(const struct policy_vm *pv, const struct policy_port *pp, struct net_addr *ret_addr,
		 uint16_t *ret_port)
{
	memset(ret_addr, 0, sizeof(*ret_addr));
	*ret_port = 0;
	if (pv->public_ip.family && pp->mapped_port) {
		*ret_addr = pv->public_ip;
		*ret_port = pp->mapped_port;
	}
}

void
api_dnat_of_grant(const struct policy_vm *pv, enum net_proto proto, uint16_t port, struct net_addr *ret_addr,
		  uint16_t *ret_port)
{
	const struct policy_port *pp;

	memset(ret_addr, 0, sizeof(*ret_addr));
	*ret_port = 0;
	if (pv && pv->public_ip.family && policy_find_port(pv, port, proto, &pp) == 0)
		api_dnat_of_port(pv, pp, ret_addr, ret_port);
}

int
api_dnat_policy_of_request(struct api *api, const struct store_request *req, struct policy **ret)
{
	struct store_policy sp = { 0 };
	int r;

	*ret = NULL;
	if ((r = store_policy_get_by_id(api->store, req->policy_id, &sp)) < 0)
		return r;
	r = api_policy_decode_stored(api, &sp, ret, NULL);
	store_policy_clear(&sp);
	return r;
}

uint16_t
api_dnat_mapped_port(const struct policy *pol, const char *vm_text, enum net_proto proto, uint16_t port,
		     struct net_addr *ret_pub)
{
	const struct policy_vm *pv = NULL;
	struct arm_vm_id id;
	uint16_t mapped = 0;

	if (pol && arm_vm_id_parse(vm_text, strlen(vm_text), &id, NULL) == 0 && policy_find_vm(pol, &id, &pv) == 0)
		api_dnat_of_grant(pv, proto, port, ret_pub, &mapped);
	return mapped;
}

void
api_dnat_connections(const json_t *ports, json_t *conn)
{
	const json_t *pt;
	size_t j;

	json_array_foreach(ports, j, pt)
		if (json_object_get(pt, "mappedPort"))
			json_array_append_new(conn, json_pack("{s:O, s:O, s:O, s:O}", "address",
							      json_object_get(pt, "publicIpAddress"), "port",
							      json_object_get(pt, "mappedPort"), "protocol",
							      json_object_get(pt, "protocol"), "vmPort",
							      json_object_get(pt, "number")));
}

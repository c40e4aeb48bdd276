/* JIT policies: ownership of the model, the rules a stored policy must keep, and rule look-ups. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "duration.h"
#include "policy.h"
#include "rbac.h"

struct policy *
policy_new(void)
{
	return calloc(1, sizeof(struct policy));
}

static void
port_clear(struct policy_port *port)
{
	free(port->sources);
	port->sources = NULL;
	port->n_sources = 0;
}

static void
vm_clear(struct policy_vm *vm)
{
	size_t i;

	for (i = 0; i < vm->n_ports; i++) {
		port_clear(&vm->ports[i]);
		free(vm->ports[i].approval);
	}
	free(vm->ports);
	vm->ports = NULL;
	vm->n_ports = 0;
}

static void
policy_clear_vms(struct policy *p)
{
	size_t i;

	for (i = 0; i < p->n_vms; i++)
		vm_clear(&p->vms[i]);
	free(p->vms);
	p->vms = NULL;
	p->n_vms = 0;
}

void
policy_free(struct policy *p)
{
	if (p == NULL)
		return;
	policy_clear_vms(p);
	free(p);
}

int
policy_vms_alloc(struct policy *p, size_t n)
{
	struct policy_vm *vms = NULL;

	if (n > POLICY_VMS_MAX)
		return -E2BIG;
	if (n > 0 && (vms = calloc(n, sizeof(*vms))) == NULL)
		return -ENOMEM;
	policy_clear_vms(p);
	p->vms = vms;
	p->n_vms = n;
	return 0;
}

int
policy_vm_ports_alloc(struct policy_vm *vm, size_t n)
{
	struct policy_port *ports = NULL;

	if (n > POLICY_PORTS_MAX)
		return -E2BIG;
	if (n > 0 && (ports = calloc(n, sizeof(*ports))) == NULL)
		return -ENOMEM;
	vm_clear(vm);
	vm->ports = ports;
	vm->n_ports = n;
	return 0;
}

int
policy_port_sources_alloc(struct policy_port *port, size_t n)
{
	struct net_source *sources = NULL;

	if (n > POLICY_SOURCES_MAX)
		return -E2BIG;
	if (n > 0 && (sources = calloc(n, sizeof(*sources))) == NULL)
		return -ENOMEM;
	port_clear(port);
	port->sources = sources;
	port->n_sources = n;
	return 0;
}

int
policy_copy(const struct policy *src, struct policy **ret)
{
	struct policy *p;
	size_t i, j;
	int r = -ENOMEM;

	p = policy_new();
	if (p == NULL)
		return -ENOMEM;
	p->id = src->id;
	memcpy(p->kind, src->kind, sizeof(p->kind));
	if (src->n_vms > 0) {
		p->vms = calloc(src->n_vms, sizeof(*p->vms));
		if (p->vms == NULL)
			goto out;
		p->n_vms = src->n_vms;
	}
	for (i = 0; i < src->n_vms; i++) {
		const struct policy_vm *svm = &src->vms[i];
		struct policy_vm *vm = &p->vms[i];

		vm->id = svm->id;
		vm->public_ip = svm->public_ip;
		if (svm->n_ports == 0)
			continue;
		vm->ports = calloc(svm->n_ports, sizeof(*vm->ports));
		if (vm->ports == NULL)
			goto out;
		vm->n_ports = svm->n_ports;
		for (j = 0; j < svm->n_ports; j++) {
			const struct policy_port *sport = &svm->ports[j];
			struct policy_port *port = &vm->ports[j];

			*port = *sport;
			port->sources = NULL;
			port->n_sources = 0;
			port->approval = NULL;
			if (sport->approval) {
				if ((port->approval = malloc(sizeof(*port->approval))) == NULL)
					goto out;
				*port->approval = *sport->approval;
			}
			if (sport->n_sources == 0)
				continue;
			port->sources = calloc(sport->n_sources, sizeof(*port->sources));
			if (port->sources == NULL)
				goto out;
			memcpy(port->sources, sport->sources, sport->n_sources * sizeof(*port->sources));
			port->n_sources = sport->n_sources;
		}
	}
	*ret = p;
	p = NULL;
	r = 0;
out:
	policy_free(p);
	return r;
}

static int
validate_vm_id(const struct arm_vm_id *id, struct core_error *err)
{
	size_t ns = strnlen(id->subscription, sizeof(id->subscription));
	size_t ng = strnlen(id->resource_group, sizeof(id->resource_group));
	size_t nn = strnlen(id->name, sizeof(id->name));

	if (ns == sizeof(id->subscription) || ng == sizeof(id->resource_group) || nn == sizeof(id->name))
		return core_error_set(err, "InvalidResourceId", NULL, "The virtual machine id is malformed.");
	if (arm_subscription_validate(id->subscription, ns, err) < 0 ||
	    arm_resource_group_validate(id->resource_group, ng, err) < 0 ||
	    arm_vm_name_validate(id->name, nn, err) < 0)
		return -EINVAL;
	return 0;
}

/* Target of source k of a rule, as the body named it. */
static void
source_target(const struct policy_port *port, size_t k, char *buf, size_t size)
{
	if (port->sources_as_list)
		snprintf(buf, size, "allowedSourceAddressPrefixes[%zu]", k);
	else
		snprintf(buf, size, "allowedSourceAddressPrefix");
}

/* One port rule; err's target is relative to the rule ("number", "allowedSourceAddressPrefixes[1]", …). */
static int
validate_port(const struct policy_port *port, int64_t max_ms, struct core_error *err)
{
	const char *list = port->sources_as_list ? "allowedSourceAddressPrefixes" : "allowedSourceAddressPrefix";
	char target[64], lo[DURATION_FORMAT_SIZE], hi[DURATION_FORMAT_SIZE], src[NET_PREFIX_TEXT_MAX];
	size_t k, l;

	if (port->number == 0)
		return core_error_set(err, "InvalidPort", "number",
		    "Port 0 is not a valid port: it must be a whole number from 1 to 65535.");
	if (port->proto != NET_PROTO_TCP && port->proto != NET_PROTO_UDP && port->proto != NET_PROTO_ANY)
		return core_error_set(err, "InvalidProtocol", "protocol",
		    "The protocol must be TCP, UDP or *.");
	if (port->max_duration_ms < POLICY_DURATION_MIN_MS || port->max_duration_ms > max_ms) {
		if (duration_format_iso8601(POLICY_DURATION_MIN_MS, lo, sizeof(lo)) < 0)
			lo[0] = '\0';
		if (duration_format_iso8601(max_ms, hi, sizeof(hi)) < 0)
			hi[0] = '\0';
		return core_error_set(err, "InvalidMaxRequestAccessDuration", "maxRequestAccessDuration",
		    "maxRequestAccessDuration of port %u must be from %s to %s.",
		    (unsigned)port->number, lo, hi);
	}
	if (port->n_sources == 0 || port->sources == NULL)
		return core_error_set(err, "MissingSourceAddressPrefix", list,
		    "Port %u needs at least one allowed source address prefix (or \"*\").",
		    (unsigned)port->number);
	if (port->n_sources > POLICY_SOURCES_MAX)
		return core_error_set(err, "TooManySourceAddressPrefixes", list,
		    "Port %u has %zu allowed source address prefixes; at most %d are allowed.",
		    (unsigned)port->number, port->n_sources, POLICY_SOURCES_MAX);
	if (!port->sources_as_list && port->n_sources != 1)
		return core_error_set(err, "InvalidSourceAddressPrefix", list,
		    "allowedSourceAddressPrefix holds exactly one prefix; use allowedSourceAddressPrefixes for several.");
	for (k = 0; k < port->n_sources; k++) {
		const struct net_source *s = &port->sources[k];

		source_target(port, k, target, sizeof(target));
		if (s->any && port->n_sources > 1)
			return core_error_set(err, "InvalidSourceAddressPrefix", target,
			    "\"*\" allows every address, so it must be the only source of port %u.",
			    (unsigned)port->number);
		if (!s->any && !net_prefix_is_valid(&s->prefix))
			return core_error_set(err, "InvalidSourceAddressPrefix", target,
			    "The source address prefix of port %u is malformed.", (unsigned)port->number);
		for (l = 0; l < k; l++) {
			if (!net_source_equal(&port->sources[l], s))
				continue;
			if (net_source_format(s, src, sizeof(src)) < 0)
				src[0] = '\0';
			return core_error_set(err, "DuplicateSourceAddressPrefix", target,
			    "%s is listed twice for port %u.", src, (unsigned)port->number);
		}
	}
	return 0;
}

/* A rule's approval, if any; err's target is relative to the rule. Which roles exist is the API's to check. */
static int
validate_approval(const struct policy *p, const struct policy_port *port, struct core_error *err)
{
	const struct policy_approval *a = port->approval;
	char sub[ARM_SUBSCRIPTION_MAX + 32];

	if (a == NULL)
		return 0;
	if (a->required < 1 || a->required > POLICY_APPROVALS_MAX)
		return core_error_set(err, "InvalidApproval", "approval.approvalsRequired",
		    "approvalsRequired of port %u must be from 1 to %d.", (unsigned)port->number, POLICY_APPROVALS_MAX);
	if (a->role[0] == '\0')
		return core_error_set(err, "InvalidApproval", "approval.approverRole",
		    "Port %u needs an approverRole: the role an approver must hold.", (unsigned)port->number);
	snprintf(sub, sizeof(sub), "/subscriptions/%s", p->id.subscription);
	if (strncmp(a->scope, "/subscriptions/", 15) != 0 || !rbac_scope_covers(sub, a->scope))
		return core_error_set(err, "InvalidApproval", "approval.approverScope",
		    "approverScope of port %u must be the policy's subscription or a resource group or virtual machine in it.",
		    (unsigned)port->number);
	return 0;
}

/* The first VM before i with i's id (SIZE_MAX: none), pair by pair: when there was no memory for an index. */
static size_t
first_dup_scan(const struct policy *p, size_t i)
{
	size_t k;

	for (k = 0; k < i; k++)
		if (arm_vm_id_equal(&p->vms[k].id, &p->vms[i].id))
			return k;
	return SIZE_MAX;
}

/* dup: the first VM before i listed with i's id (SIZE_MAX: none) */
static int
validate_vm(const struct policy *p, size_t i, size_t dup, int64_t max_ms, struct core_error *err)
{
	const struct policy_vm *vm = &p->vms[i];
	char target[ERROR_TARGET_MAX];
	size_t j, k;
	int r;

	snprintf(target, sizeof(target), "properties.virtualMachines[%zu].id", i);
	if (validate_vm_id(&vm->id, err) < 0) {
		snprintf(err->target, sizeof(err->target), "%s", target);
		return -EINVAL;
	}
	if (!arm_vm_id_in_group(&vm->id, p->id.subscription, p->id.resource_group))
		return core_error_set(err, "VirtualMachineOutsidePolicyScope", target,
		    "Virtual machine %s is in resource group %s of subscription %s, but the policy covers only resource group %s of subscription %s.",
		    vm->id.name, vm->id.resource_group, vm->id.subscription,
		    p->id.resource_group, p->id.subscription);
	if (dup != SIZE_MAX)
		return core_error_set(err, "DuplicateVirtualMachine", target,
		    "Virtual machine %s is listed twice (also at virtualMachines[%zu]).", vm->id.name, dup);

	snprintf(target, sizeof(target), "properties.virtualMachines[%zu].ports", i);
	if (vm->n_ports == 0 || vm->ports == NULL)
		return core_error_set(err, "MissingPorts", target,
		    "Virtual machine %s needs at least one port rule.", vm->id.name);
	if (vm->n_ports > POLICY_PORTS_MAX)
		return core_error_set(err, "TooManyPorts", target,
		    "Virtual machine %s has %zu port rules; at most %d are allowed.",
		    vm->id.name, vm->n_ports, POLICY_PORTS_MAX);
	for (j = 0; j < vm->n_ports; j++) {
		const struct policy_port *port = &vm->ports[j];

		snprintf(target, sizeof(target), "properties.virtualMachines[%zu].ports[%zu]", i, j);
		r = validate_port(port, max_ms, err);
		if (r == 0)
			r = validate_approval(p, port, err);
		if (r < 0) {
			core_error_prefix_target(err, target);
			return r;
		}
		for (k = 0; k < j; k++) {
			const struct policy_port *other = &vm->ports[k];

			if (other->number != port->number || !net_proto_overlaps(other->proto, port->proto))
				continue;
			snprintf(target, sizeof(target), "properties.virtualMachines[%zu].ports[%zu].number", i, j);
			return core_error_set(err, "DuplicatePort", target,
			    "Port %u/%s of virtual machine %s overlaps the rule at ports[%zu] (%u/%s).",
			    (unsigned)port->number, net_proto_name(port->proto), vm->id.name,
			    k, (unsigned)other->number, net_proto_name(other->proto));
		}
	}
	return 0;
}

static size_t *policy_vm_dups(const struct policy *p);

int
policy_validate(const struct policy *p, int64_t max_duration_ms, struct core_error *err)
{
	struct core_error scratch;
	size_t *dups, i;
	int r = 0;

	/* validate_vm writes err->target directly, so it needs a record even when the caller has none. */
	if (err == NULL)
		err = &scratch;
	if (max_duration_ms <= 0)
		max_duration_ms = POLICY_DURATION_MAX_MS_DEFAULT;
	if (max_duration_ms > DURATION_MS_MAX)
		max_duration_ms = DURATION_MS_MAX;
	if (memchr(p->kind, '\0', sizeof(p->kind)) == NULL)
		return core_error_set(err, "InvalidKind", "kind", "The policy kind is too long.");
	if (p->n_vms > POLICY_VMS_MAX)
		return core_error_set(err, "TooManyVirtualMachines", "properties.virtualMachines",
		    "The policy lists %zu virtual machines; at most %d are allowed.", p->n_vms, POLICY_VMS_MAX);
	if (p->n_vms > 0 && p->vms == NULL)
		return core_error_set(err, "InvalidPolicy", "properties.virtualMachines",
		    "The policy's virtual machines are missing.");
	/* each VM's first earlier duplicate, found by sorting (a 1,000-VM policy pair by pair is 500,000 compares) */
	dups = policy_vm_dups(p);
	for (i = 0; i < p->n_vms; i++) {
		r = validate_vm(p, i, dups ? dups[i] : first_dup_scan(p, i), max_duration_ms, err);
		if (r < 0)
			break;
	}
	free(dups);
	return r;
}

static int
vm_ref_compare(const void *a, const void *b)
{
	const struct policy_vm_ref *x = a, *y = b;
	int c = arm_vm_id_compare(x->id, y->id);

	if (c)
		return c;
	return x->at < y->at ? -1 : x->at > y->at;
}

struct policy_vm_ref *
policy_vm_index(const struct policy *p)
{
	struct policy_vm_ref *v;
	size_t i;

	if (p->n_vms == 0 || !(v = calloc(p->n_vms, sizeof(*v))))
		return NULL;
	for (i = 0; i < p->n_vms; i++)
		v[i] = (struct policy_vm_ref){ &p->vms[i].id, i };
	qsort(v, p->n_vms, sizeof(*v), vm_ref_compare);
	return v;
}

/* For each VM, the first one before it with its id (SIZE_MAX: none); NULL when out of memory (or no VMs). */
static size_t *
policy_vm_dups(const struct policy *p)
{
	struct policy_vm_ref *v = policy_vm_index(p);
	size_t *dups = v ? calloc(p->n_vms, sizeof(*dups)) : NULL;
	size_t i, first = 0;

	for (i = 0; dups && i < p->n_vms; i++) {
		/* in a run of equal ids the first is the lowest index (ties sort by index) */
		if (i > 0 && arm_vm_id_compare(v[i].id, v[first].id) == 0) {
			dups[v[i].at] = v[first].at;
		} else {
			dups[v[i].at] = SIZE_MAX;
			first = i;
		}
	}
	free(v);
	return dups;
}

int
policy_find_vm_indexed(const struct policy *p, const struct policy_vm_ref *index, const struct arm_vm_id *id,
    const struct policy_vm **ret)
{
	size_t lo = 0, hi = p->n_vms;

	if (index == NULL)
		return policy_find_vm(p, id, ret);
	/* the first of the equal ones: the lowest index, as policy_find_vm finds */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (arm_vm_id_compare(index[mid].id, id) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == p->n_vms || arm_vm_id_compare(index[lo].id, id) != 0)
		return -ENOENT;
	*ret = &p->vms[index[lo].at];
	return 0;
}

int
policy_find_vm(const struct policy *p, const struct arm_vm_id *id, const struct policy_vm **ret)
{
	size_t i;

	for (i = 0; i < p->n_vms; i++) {
		if (arm_vm_id_equal(&p->vms[i].id, id)) {
			*ret = &p->vms[i];
			return 0;
		}
	}
	return -ENOENT;
}

int
policy_find_port(const struct policy_vm *vm, uint16_t number, enum net_proto proto,
    const struct policy_port **ret)
{
	size_t j;

	for (j = 0; j < vm->n_ports; j++) {
		const struct policy_port *port = &vm->ports[j];

		if (port->number == number && (port->proto == NET_PROTO_ANY || port->proto == proto)) {
			*ret = port;
			return 0;
		}
	}
	return -ENOENT;
}

int
policy_port_protocols(const struct policy_vm *vm, uint16_t number, enum net_proto *ret)
{
	bool tcp = false, udp = false;
	size_t j;

	for (j = 0; j < vm->n_ports; j++) {
		const struct policy_port *port = &vm->ports[j];

		if (port->number != number)
			continue;
		tcp = tcp || port->proto != NET_PROTO_UDP;
		udp = udp || port->proto != NET_PROTO_TCP;
	}
	if (!tcp && !udp)
		return -ENOENT;
	*ret = tcp && udp ? NET_PROTO_ANY : tcp ? NET_PROTO_TCP : NET_PROTO_UDP;
	return 0;
}

bool
policy_port_allows_source(const struct policy_port *port, const struct net_source *src)
{
	size_t k;

	for (k = 0; k < port->n_sources; k++)
		if (net_source_allows(&port->sources[k], src))
			return true;
	return false;
}

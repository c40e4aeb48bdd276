/* Unit tests for the JIT policy model: validation, copies and the look-ups initiate uses. */
#include <errno.h>
#include <stdio.h>

#include "core/policy.h"
#include "testutil.h"

#define SUB "00000000-0000-0000-0000-000000000000"
#define H24 (24LL * 3600 * 1000)
#define H3 (3LL * 3600 * 1000)

static void
set_source(struct net_source *s, const char *text)
{
	assert_int_equal(net_source_parse(text, strlen(text), s, NULL), 0);
}

static void
set_vm(struct policy_vm *vm, const char *rg, const char *name)
{
	snprintf(vm->id.subscription, sizeof(vm->id.subscription), "%s", SUB);
	snprintf(vm->id.resource_group, sizeof(vm->id.resource_group), "%s", rg);
	snprintf(vm->id.name, sizeof(vm->id.name), "%s", name);
}

static void
set_port(struct policy_port *port, uint16_t number, enum net_proto proto, const char *src)
{
	port->number = number;
	port->proto = proto;
	port->max_duration_ms = H3;
	port->sources_as_list = false;
	assert_int_equal(policy_port_sources_alloc(port, 1), 0);
	set_source(&port->sources[0], src);
}

/*
 * A valid policy in resource group "Rg": vm0 with 22/TCP from "*" and 3389/TCP from
 * 10.0.0.0/8 + 2001:db8::/32 (as a list); vm1 with 53 (any protocol) from 192.168.0.0/16.
 */
static struct policy *
make_policy(void)
{
	struct policy *p = policy_new();
	struct policy_port *port;

	assert_non_null(p);
	snprintf(p->id.subscription, sizeof(p->id.subscription), "%s", SUB);
	snprintf(p->id.resource_group, sizeof(p->id.resource_group), "Rg");
	snprintf(p->id.location, sizeof(p->id.location), "westeurope");
	snprintf(p->id.name, sizeof(p->id.name), "default");
	snprintf(p->kind, sizeof(p->kind), "Basic");
	assert_int_equal(policy_vms_alloc(p, 2), 0);
	set_vm(&p->vms[0], "rg", "vm0");
	assert_int_equal(policy_vm_ports_alloc(&p->vms[0], 2), 0);
	set_port(&p->vms[0].ports[0], 22, NET_PROTO_TCP, "*");
	port = &p->vms[0].ports[1];
	set_port(port, 3389, NET_PROTO_TCP, "10.0.0.0/8");
	assert_int_equal(policy_port_sources_alloc(port, 2), 0);
	port->sources_as_list = true;
	set_source(&port->sources[0], "10.0.0.0/8");
	set_source(&port->sources[1], "2001:db8::/32");
	set_vm(&p->vms[1], "RG", "vm1");
	assert_int_equal(policy_vm_ports_alloc(&p->vms[1], 1), 0);
	set_port(&p->vms[1].ports[0], 53, NET_PROTO_ANY, "192.168.0.0/16");
	return p;
}

static void
expect_invalid(const struct policy *p, int64_t max, const char *code, const char *target)
{
	struct core_error err;

	memset(&err, 0, sizeof(err));
	if (policy_validate(p, max, &err) != -EINVAL)
		fail_msg("accepted; wanted %s at %s", code, target);
	if (strcmp(err.code, code) != 0 || strcmp(err.target, target) != 0)
		fail_msg("got %s at %s (%s); wanted %s at %s", err.code, err.target, err.message, code, target);
	assert_true(err.message[0] != '\0');
	/* NULL err works too */
	assert_int_equal(policy_validate(p, max, NULL), -EINVAL);
}

static void
test_valid(void **state)
{
	struct policy *p = make_policy();
	struct core_error err;

	assert_int_equal(policy_validate(p, H24, &err), 0);
	assert_int_equal(policy_validate(p, 0, &err), 0);	/* the default cap */
	policy_free(p);
	policy_free(NULL);
}

static void
test_empty_vm_list_is_valid(void **state)
{
	struct policy *p = make_policy();

	assert_int_equal(policy_vms_alloc(p, 0), 0);
	assert_null(p->vms);
	assert_int_equal(policy_validate(p, H24, NULL), 0);
	policy_free(p);
}

static void
test_alloc_limits(void **state)
{
	struct policy *p = make_policy();

	assert_int_equal(policy_vms_alloc(p, POLICY_VMS_MAX + 1), -E2BIG);
	assert_int_equal(p->n_vms, 2);	/* unchanged */
	assert_int_equal(policy_vm_ports_alloc(&p->vms[0], POLICY_PORTS_MAX + 1), -E2BIG);
	assert_int_equal(p->vms[0].n_ports, 2);
	assert_int_equal(policy_port_sources_alloc(&p->vms[0].ports[0], POLICY_SOURCES_MAX + 1), -E2BIG);
	assert_int_equal(p->vms[0].ports[0].n_sources, 1);
	/* Replacing frees the old tree (ASan/valgrind would see a leak otherwise). */
	assert_int_equal(policy_vm_ports_alloc(&p->vms[0], 1), 0);
	assert_int_equal(policy_vms_alloc(p, 3), 0);
	assert_int_equal(p->n_vms, 3);
	policy_free(p);
}

static void
test_duration_bounds(void **state)
{
	struct policy *p = make_policy();
	struct policy_port *port = &p->vms[1].ports[0];
	struct core_error err;

	port->max_duration_ms = 5 * 60 * 1000;
	assert_int_equal(policy_validate(p, H24, NULL), 0);
	port->max_duration_ms = H24;
	assert_int_equal(policy_validate(p, H24, NULL), 0);
	port->max_duration_ms = H24 + 1;
	expect_invalid(p, H24, "InvalidMaxRequestAccessDuration",
	    "properties.virtualMachines[1].ports[0].maxRequestAccessDuration");
	policy_validate(p, H24, &err);
	assert_non_null(strstr(err.message, "PT5M"));
	assert_non_null(strstr(err.message, "PT24H"));
	port->max_duration_ms = 5 * 60 * 1000 - 1;
	expect_invalid(p, H24, "InvalidMaxRequestAccessDuration",
	    "properties.virtualMachines[1].ports[0].maxRequestAccessDuration");
	port->max_duration_ms = 0;
	expect_invalid(p, H24, "InvalidMaxRequestAccessDuration",
	    "properties.virtualMachines[1].ports[0].maxRequestAccessDuration");
	/* A deployment with a longer cap. */
	port->max_duration_ms = 48 * 3600 * 1000LL;
	expect_invalid(p, H24, "InvalidMaxRequestAccessDuration",
	    "properties.virtualMachines[1].ports[0].maxRequestAccessDuration");
	assert_int_equal(policy_validate(p, 72 * 3600 * 1000LL, NULL), 0);
	policy_validate(p, 3 * 3600 * 1000LL, &err);
	assert_non_null(strstr(err.message, "PT3H"));
	policy_free(p);
}

static void
test_scope(void **state)
{
	struct policy *p = make_policy();

	set_vm(&p->vms[1], "otherRg", "vm1");
	expect_invalid(p, H24, "VirtualMachineOutsidePolicyScope", "properties.virtualMachines[1].id");
	set_vm(&p->vms[1], "RG", "vm1");
	p->vms[1].id.subscription[0] = '1';
	expect_invalid(p, H24, "VirtualMachineOutsidePolicyScope", "properties.virtualMachines[1].id");
	policy_free(p);
}

static void
test_bad_vm_id(void **state)
{
	struct policy *p = make_policy();

	set_vm(&p->vms[0], "rg", "-bad");
	expect_invalid(p, H24, "InvalidVirtualMachineName", "properties.virtualMachines[0].id");
	set_vm(&p->vms[0], "rg.", "vm0");
	expect_invalid(p, H24, "InvalidResourceGroupName", "properties.virtualMachines[0].id");
	set_vm(&p->vms[0], "rg", "vm0");
	memset(p->vms[0].id.name, 'x', sizeof(p->vms[0].id.name));	/* no NUL */
	expect_invalid(p, H24, "InvalidResourceId", "properties.virtualMachines[0].id");
	policy_free(p);
}

static void
test_duplicate_vm(void **state)
{
	struct policy *p = make_policy();

	set_vm(&p->vms[1], "RG", "VM0");
	expect_invalid(p, H24, "DuplicateVirtualMachine", "properties.virtualMachines[1].id");
	policy_free(p);
}

static void
test_ports(void **state)
{
	struct policy *p = make_policy();
	struct policy_vm *vm = &p->vms[0];

	/* Same number, different protocols: fine. */
	vm->ports[1].number = 22;
	vm->ports[1].proto = NET_PROTO_UDP;
	assert_int_equal(policy_validate(p, H24, NULL), 0);
	vm->ports[1].proto = NET_PROTO_TCP;
	expect_invalid(p, H24, "DuplicatePort", "properties.virtualMachines[0].ports[1].number");
	vm->ports[1].proto = NET_PROTO_ANY;
	expect_invalid(p, H24, "DuplicatePort", "properties.virtualMachines[0].ports[1].number");
	vm->ports[0].proto = NET_PROTO_ANY;
	vm->ports[1].proto = NET_PROTO_UDP;
	expect_invalid(p, H24, "DuplicatePort", "properties.virtualMachines[0].ports[1].number");
	vm->ports[0].proto = NET_PROTO_TCP;
	vm->ports[1].number = 0;
	expect_invalid(p, H24, "InvalidPort", "properties.virtualMachines[0].ports[1].number");
	vm->ports[1].number = 65535;
	assert_int_equal(policy_validate(p, H24, NULL), 0);
	vm->ports[1].proto = (enum net_proto)1;
	expect_invalid(p, H24, "InvalidProtocol", "properties.virtualMachines[0].ports[1].protocol");
	vm->ports[1].proto = NET_PROTO_UDP;

	assert_int_equal(policy_vm_ports_alloc(&p->vms[1], 0), 0);
	expect_invalid(p, H24, "MissingPorts", "properties.virtualMachines[1].ports");
	p->vms[1].n_ports = POLICY_PORTS_MAX + 1;	/* a hand-built count, never dereferenced */
	p->vms[1].ports = (struct policy_port *)&p->vms[1];
	expect_invalid(p, H24, "TooManyPorts", "properties.virtualMachines[1].ports");
	p->vms[1].n_ports = 0;
	p->vms[1].ports = NULL;
	policy_free(p);
}

static void
test_full_port_list(void **state)
{
	struct policy *p = make_policy();
	struct policy_vm *vm = &p->vms[1];
	size_t j;

	assert_int_equal(policy_vm_ports_alloc(vm, POLICY_PORTS_MAX), 0);
	for (j = 0; j < POLICY_PORTS_MAX; j++)
		set_port(&vm->ports[j], (uint16_t)(1000 + j), NET_PROTO_ANY, "10.0.0.0/8");
	assert_int_equal(policy_validate(p, H24, NULL), 0);
	vm->ports[POLICY_PORTS_MAX - 1].number = 1000;
	expect_invalid(p, H24, "DuplicatePort", "properties.virtualMachines[1].ports[63].number");
	policy_free(p);
}

static void
test_sources(void **state)
{
	struct policy *p = make_policy();
	struct policy_port *list = &p->vms[0].ports[1], *single = &p->vms[1].ports[0];

	set_source(&list->sources[1], "*");
	expect_invalid(p, H24, "InvalidSourceAddressPrefix",
	    "properties.virtualMachines[0].ports[1].allowedSourceAddressPrefixes[1]");
	set_source(&list->sources[1], "10.0.0.0/8");
	expect_invalid(p, H24, "DuplicateSourceAddressPrefix",
	    "properties.virtualMachines[0].ports[1].allowedSourceAddressPrefixes[1]");
	/* Overlapping but different prefixes are allowed. */
	set_source(&list->sources[1], "10.1.0.0/16");
	assert_int_equal(policy_validate(p, H24, NULL), 0);

	assert_int_equal(policy_port_sources_alloc(list, 1), 0);
	set_source(&list->sources[0], "*");
	assert_int_equal(policy_validate(p, H24, NULL), 0);	/* "*" alone in a list is fine */

	assert_int_equal(policy_port_sources_alloc(list, 0), 0);
	expect_invalid(p, H24, "MissingSourceAddressPrefix",
	    "properties.virtualMachines[0].ports[1].allowedSourceAddressPrefixes");
	assert_int_equal(policy_port_sources_alloc(single, 2), 0);
	set_source(&single->sources[0], "10.0.0.1");
	set_source(&single->sources[1], "10.0.0.2");
	assert_int_equal(policy_port_sources_alloc(list, 1), 0);
	set_source(&list->sources[0], "10.0.0.1");
	expect_invalid(p, H24, "InvalidSourceAddressPrefix",
	    "properties.virtualMachines[1].ports[0].allowedSourceAddressPrefix");
	single->sources_as_list = true;
	assert_int_equal(policy_validate(p, H24, NULL), 0);

	/* A hand-built prefix that the parser would never produce. */
	single->sources[1].prefix.len = 24;
	expect_invalid(p, H24, "InvalidSourceAddressPrefix",
	    "properties.virtualMachines[1].ports[0].allowedSourceAddressPrefixes[1]");
	single->sources[1].prefix.len = 33;
	expect_invalid(p, H24, "InvalidSourceAddressPrefix",
	    "properties.virtualMachines[1].ports[0].allowedSourceAddressPrefixes[1]");
	single->sources[1].prefix.addr.family = 0;
	expect_invalid(p, H24, "InvalidSourceAddressPrefix",
	    "properties.virtualMachines[1].ports[0].allowedSourceAddressPrefixes[1]");
	policy_free(p);
}

static void
test_too_many(void **state)
{
	struct policy *p = make_policy();
	struct policy_port *port = &p->vms[1].ports[0];
	size_t k;
	char text[32];

	assert_int_equal(policy_port_sources_alloc(port, POLICY_SOURCES_MAX), 0);
	port->sources_as_list = true;
	for (k = 0; k < POLICY_SOURCES_MAX; k++) {
		snprintf(text, sizeof(text), "10.%zu.0.0/16", k);
		set_source(&port->sources[k], text);
	}
	assert_int_equal(policy_validate(p, H24, NULL), 0);
	port->n_sources = POLICY_SOURCES_MAX + 1;	/* hand-built; checked before use */
	expect_invalid(p, H24, "TooManySourceAddressPrefixes",
	    "properties.virtualMachines[1].ports[0].allowedSourceAddressPrefixes");
	port->n_sources = POLICY_SOURCES_MAX;

	p->n_vms = POLICY_VMS_MAX + 1;
	expect_invalid(p, H24, "TooManyVirtualMachines", "properties.virtualMachines");
	p->n_vms = 2;
	policy_free(p);
}

static void
test_many_vms(void **state)
{
	struct policy *p = make_policy();
	char name[32];
	size_t i;

	assert_int_equal(policy_vms_alloc(p, POLICY_VMS_MAX), 0);
	for (i = 0; i < POLICY_VMS_MAX; i++) {
		snprintf(name, sizeof(name), "vm%zu", i);
		set_vm(&p->vms[i], "rg", name);
		assert_int_equal(policy_vm_ports_alloc(&p->vms[i], 1), 0);
		set_port(&p->vms[i].ports[0], 22, NET_PROTO_TCP, "*");
	}
	assert_int_equal(policy_validate(p, H24, NULL), 0);
	set_vm(&p->vms[999], "rg", "VM17");
	expect_invalid(p, H24, "DuplicateVirtualMachine", "properties.virtualMachines[999].id");
	policy_free(p);
}

/* A policy of n VMs "vm{k}" in resource group rg, k scrambled so that the list is not in sorted order. */
static struct policy *
make_scrambled(size_t n)
{
	struct policy *p = make_policy();
	char name[32];
	size_t i;

	assert_int_equal(policy_vms_alloc(p, n), 0);
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "%s%zu", i % 2 ? "VM" : "vm", (i * 7919) % n);
		set_vm(&p->vms[i], "rg", name);
		assert_int_equal(policy_vm_ports_alloc(&p->vms[i], 1), 0);
		set_port(&p->vms[i].ports[0], 22, NET_PROTO_TCP, "*");
	}
	return p;
}

static void
expect_message_has(const struct policy *p, const char *text)
{
	struct core_error err;

	memset(&err, 0, sizeof(err));
	assert_int_equal(policy_validate(p, H24, &err), -EINVAL);
	if (strstr(err.message, text) == NULL)
		fail_msg("message \"%s\" lacks \"%s\"", err.message, text);
}

/* Duplicates are found by sorting: still the first VM listed twice, naming the first one it repeats. */
static void
test_duplicates_sorted(void **state)
{
	struct policy *p = make_scrambled(POLICY_VMS_MAX);

	assert_int_equal(policy_validate(p, H24, NULL), 0);
	/* three of one id: the second is the fault, and it names the first */
	snprintf(p->vms[900].id.name, sizeof(p->vms[900].id.name), "%s", p->vms[40].id.name);
	snprintf(p->vms[600].id.name, sizeof(p->vms[600].id.name), "VM%zu", (size_t)(40 * 7919) % POLICY_VMS_MAX);
	expect_invalid(p, H24, "DuplicateVirtualMachine", "properties.virtualMachines[600].id");
	expect_message_has(p, "also at virtualMachines[40])");
	/* a repeat of a later one does not make an earlier fault: the earliest VM listed twice is */
	snprintf(p->vms[300].id.name, sizeof(p->vms[300].id.name), "%s", p->vms[299].id.name);
	expect_invalid(p, H24, "DuplicateVirtualMachine", "properties.virtualMachines[300].id");
	expect_message_has(p, "also at virtualMachines[299])");
	/* the order of checks is kept: a VM out of scope before it is the fault, not the duplicate after */
	set_vm(&p->vms[7], "other", "vmx");
	expect_invalid(p, H24, "VirtualMachineOutsidePolicyScope", "properties.virtualMachines[7].id");
	/* the names differ by a prefix only: not duplicates */
	policy_free(p);
	p = make_policy();
	set_vm(&p->vms[0], "rg", "vm1");
	set_vm(&p->vms[1], "rg", "VM10");
	assert_int_equal(policy_validate(p, H24, NULL), 0);
	policy_free(p);
}

/* The index finds what the scan finds, the first of equal ids included, and nothing more. */
static void
test_find_indexed(void **state)
{
	struct policy *p = make_scrambled(257);
	struct policy_vm_ref *index = policy_vm_index(p);
	const struct policy_vm *a, *b;
	struct arm_vm_id id;
	size_t i;

	assert_non_null(index);
	for (i = 1; i < p->n_vms; i++)
		assert_true(arm_vm_id_compare(index[i - 1].id, index[i].id) < 0);
	snprintf(p->vms[200].id.name, sizeof(p->vms[200].id.name), "%s", p->vms[100].id.name);
	free(index);
	index = policy_vm_index(p);
	for (i = 0; i < p->n_vms + 20; i++) {
		id = p->vms[i % p->n_vms].id;
		if (i >= p->n_vms)
			snprintf(id.name, sizeof(id.name), "vm%zu%s", i, i % 2 ? "x" : "");
		if (i % 3 == 0)
			snprintf(id.resource_group, sizeof(id.resource_group), "RG");
		a = b = NULL;
		assert_int_equal(policy_find_vm_indexed(p, index, &id, &a), policy_find_vm(p, &id, &b));
		assert_ptr_equal(a, b);
		assert_ptr_equal(a, i == 200 ? &p->vms[100] : i < p->n_vms ? &p->vms[i] : NULL);
		/* without an index (no memory for one) it scans */
		a = NULL;
		policy_find_vm_indexed(p, NULL, &id, &a);
		assert_ptr_equal(a, b);
	}
	assert_int_equal(arm_vm_id_compare(&p->vms[0].id, &p->vms[0].id), 0);
	set_vm(&p->vms[0], "rg", "vm1");
	set_vm(&p->vms[1], "RG", "VM10");
	assert_true(arm_vm_id_compare(&p->vms[0].id, &p->vms[1].id) < 0);
	assert_true(arm_vm_id_compare(&p->vms[1].id, &p->vms[0].id) > 0);
	free(index);
	policy_free(p);
}

static void
test_kind(void **state)
{
	struct policy *p = make_policy();

	memset(p->kind, 'k', sizeof(p->kind));
	expect_invalid(p, H24, "InvalidKind", "kind");
	policy_free(p);
}

static void
test_copy(void **state)
{
	struct policy *p = make_policy(), *c = NULL;

	assert_int_equal(policy_copy(p, &c), 0);
	assert_non_null(c);
	assert_int_equal(c->n_vms, 2);
	assert_ptr_not_equal(c->vms, p->vms);
	assert_ptr_not_equal(c->vms[0].ports[1].sources, p->vms[0].ports[1].sources);
	assert_true(net_source_equal(&c->vms[0].ports[1].sources[1], &p->vms[0].ports[1].sources[1]));
	assert_string_equal(c->vms[1].id.name, "vm1");
	assert_string_equal(c->kind, "Basic");
	assert_int_equal(policy_validate(c, H24, NULL), 0);
	policy_free(p);
	assert_int_equal(c->vms[0].ports[1].number, 3389);
	policy_free(c);
}

static void
test_find(void **state)
{
	struct policy *p = make_policy();
	const struct policy_vm *vm = NULL;
	const struct policy_port *port = NULL;
	struct arm_vm_id id;
	struct net_source src;
	enum net_proto proto;

	memset(&id, 0, sizeof(id));
	snprintf(id.subscription, sizeof(id.subscription), "%s", SUB);
	snprintf(id.resource_group, sizeof(id.resource_group), "RG");
	snprintf(id.name, sizeof(id.name), "VM0");
	assert_int_equal(policy_find_vm(p, &id, &vm), 0);
	assert_ptr_equal(vm, &p->vms[0]);
	snprintf(id.name, sizeof(id.name), "vm9");
	vm = NULL;
	assert_int_equal(policy_find_vm(p, &id, &vm), -ENOENT);
	assert_null(vm);

	vm = &p->vms[0];
	assert_int_equal(policy_find_port(vm, 22, NET_PROTO_TCP, &port), 0);
	assert_ptr_equal(port, &vm->ports[0]);
	port = NULL;
	assert_int_equal(policy_find_port(vm, 22, NET_PROTO_UDP, &port), -ENOENT);
	assert_int_equal(policy_find_port(vm, 22, NET_PROTO_ANY, &port), -ENOENT);
	assert_int_equal(policy_find_port(vm, 23, NET_PROTO_TCP, &port), -ENOENT);
	assert_null(port);
	assert_int_equal(policy_port_protocols(vm, 22, &proto), 0);
	assert_int_equal(proto, NET_PROTO_TCP);
	assert_int_equal(policy_port_protocols(vm, 80, &proto), -ENOENT);

	vm = &p->vms[1];
	assert_int_equal(policy_find_port(vm, 53, NET_PROTO_UDP, &port), 0);
	assert_int_equal(policy_find_port(vm, 53, NET_PROTO_TCP, &port), 0);
	assert_int_equal(policy_find_port(vm, 53, NET_PROTO_ANY, &port), 0);
	assert_ptr_equal(port, &vm->ports[0]);
	assert_int_equal(policy_port_protocols(vm, 53, &proto), 0);
	assert_int_equal(proto, NET_PROTO_ANY);

	/* Separate TCP and UDP rules for one number add up to both. */
	vm = &p->vms[0];
	p->vms[0].ports[1].number = 22;
	p->vms[0].ports[1].proto = NET_PROTO_UDP;
	assert_int_equal(policy_port_protocols(vm, 22, &proto), 0);
	assert_int_equal(proto, NET_PROTO_ANY);
	assert_int_equal(policy_find_port(vm, 22, NET_PROTO_UDP, &port), 0);
	assert_ptr_equal(port, &vm->ports[1]);

	/* Sources: inside one of the rule's prefixes, "*" only under "*". */
	port = &p->vms[0].ports[1];
	set_source(&src, "10.9.8.0/24");
	assert_true(policy_port_allows_source(port, &src));
	set_source(&src, "2001:db8:1::7");
	assert_true(policy_port_allows_source(port, &src));
	set_source(&src, "11.0.0.1");
	assert_false(policy_port_allows_source(port, &src));
	set_source(&src, "*");
	assert_false(policy_port_allows_source(port, &src));
	assert_true(policy_port_allows_source(&p->vms[0].ports[0], &src));
	set_source(&src, "0.0.0.0/0");
	assert_false(policy_port_allows_source(port, &src));
	policy_free(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_empty_vm_list_is_valid),
		cmocka_unit_test(test_alloc_limits),
		cmocka_unit_test(test_duration_bounds),
		cmocka_unit_test(test_scope),
		cmocka_unit_test(test_bad_vm_id),
		cmocka_unit_test(test_duplicate_vm),
		cmocka_unit_test(test_ports),
		cmocka_unit_test(test_full_port_list),
		cmocka_unit_test(test_sources),
		cmocka_unit_test(test_too_many),
		cmocka_unit_test(test_many_vms),
		cmocka_unit_test(test_duplicates_sorted),
		cmocka_unit_test(test_find_indexed),
		cmocka_unit_test(test_kind),
		cmocka_unit_test(test_copy),
		cmocka_unit_test(test_find),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

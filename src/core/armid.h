/* Azure Resource Manager ids and names of the resources jitgate serves: VMs and JIT policies. */
#ifndef JITGATE_CORE_ARMID_H
#define JITGATE_CORE_ARMID_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

/* /subscriptions/{subscription}/resourceGroups/{resource_group}/providers/Microsoft.Compute/virtualMachines/{name} */
struct arm_vm_id {
	char subscription[ARM_SUBSCRIPTION_MAX + 1];
	char resource_group[ARM_RESOURCE_GROUP_MAX + 1];
	char name[ARM_VM_NAME_MAX + 1];
};

/* /subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.Security/locations/{location}/jitNetworkAccessPolicies/{name} */
struct arm_policy_id {
	char subscription[ARM_SUBSCRIPTION_MAX + 1];
	char resource_group[ARM_RESOURCE_GROUP_MAX + 1];
	char location[ARM_LOCATION_MAX + 1];
	char name[ARM_POLICY_NAME_MAX + 1];
};

/*
 * Name validators: 0 when s[0..n) is a valid name, else -EINVAL with err filled.
 * subscription: a GUID 8-4-4-4-12 of hex digits (either case)  → "InvalidSubscriptionId"
 * resource group: 1–90 of [A-Za-z0-9._()-], not ending in '.'  → "InvalidResourceGroupName"
 * VM: 1–64 of [A-Za-z0-9._-], starting alphanumeric, not ending in '.' or '-' → "InvalidVirtualMachineName"
 * location: 1–64 of [A-Za-z0-9]                                → "InvalidLocation"
 * policy: 1–64 of [A-Za-z0-9._-], starting alphanumeric        → "InvalidPolicyName"
 */
int arm_subscription_validate(const char *s, size_t n, struct core_error *err);
int arm_resource_group_validate(const char *s, size_t n, struct core_error *err);
int arm_vm_name_validate(const char *s, size_t n, struct core_error *err);
int arm_location_validate(const char *s, size_t n, struct core_error *err);
int arm_policy_name_validate(const char *s, size_t n, struct core_error *err);

/*
 * Parse a whole id. The fixed segments ("subscriptions", "Microsoft.Compute", …) match in
 * any case, as in ARM; names are kept as written. No trailing '/', no empty segment, at
 * most ARM_ID_MAX bytes. A wrong shape fails with "InvalidResourceId"; a bad name with
 * its validator's code.
 */
int arm_vm_id_parse(const char *s, size_t n, struct arm_vm_id *ret, struct core_error *err);
int arm_policy_id_parse(const char *s, size_t n, struct arm_policy_id *ret, struct core_error *err);

/*
 * A token's scope: "/", or the id of a subscription, a resource group, a VM or a
 * policy, in the shapes above. 0, or -EINVAL with err filled (target "scope"):
 * "InvalidScope" for a wrong shape, a name validator's code for a bad name.
 */
int arm_scope_validate(const char *s, size_t n, struct core_error *err);

/* Write the id with canonical casing of the fixed segments and a NUL; returns the length or -ENOSPC. */
int arm_vm_id_format(const struct arm_vm_id *id, char *buf, size_t size);
int arm_policy_id_format(const struct arm_policy_id *id, char *buf, size_t size);

/* ASCII case-insensitive equality of two NUL-terminated names (ARM names are case-insensitive). */
bool arm_name_equal(const char *a, const char *b);
/* All parts equal, case-insensitively. */
bool arm_vm_id_equal(const struct arm_vm_id *a, const struct arm_vm_id *b);
/* An order of VM ids (for sorting and binary search): 0 exactly when arm_vm_id_equal. */
int arm_vm_id_compare(const struct arm_vm_id *a, const struct arm_vm_id *b);
bool arm_policy_id_equal(const struct arm_policy_id *a, const struct arm_policy_id *b);
/* Is the VM in this subscription and resource group? */
bool arm_vm_id_in_group(const struct arm_vm_id *vm, const char *subscription, const char *resource_group);

#endif

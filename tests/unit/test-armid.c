/* Unit tests for ARM resource ids and name rules. */
#include <errno.h>
#include <stdio.h>

#include "core/armid.h"
#include "testutil.h"

#define SUB "a1b2c3d4-0000-4e5f-8a9b-0123456789ab"
#define VMID "/subscriptions/" SUB "/resourceGroups/myRg/providers/Microsoft.Compute/virtualMachines/vm-1"
#define POLID "/subscriptions/" SUB "/resourceGroups/myRg/providers/Microsoft.Security/locations/westeurope/jitNetworkAccessPolicies/default"

static void
vm_bad(const char *s, const char *code)
{
	struct arm_vm_id id;
	struct core_error err;

	memset(&id, 0x5a, sizeof(id));
	if (arm_vm_id_parse(s, strlen(s), &id, &err) != -EINVAL)
		fail_msg("'%s' accepted", s);
	if (strcmp(err.code, code) != 0)
		fail_msg("'%s': code %s, want %s (%s)", s, err.code, code, err.message);
	assert_string_equal(err.target, "");
	assert_true(err.message[0] != '\0');
	assert_int_equal((unsigned char)id.name[0], 0x5a);
}

static void
policy_bad(const char *s, const char *code)
{
	struct arm_policy_id id;
	struct core_error err;

	memset(&id, 0x5a, sizeof(id));
	if (arm_policy_id_parse(s, strlen(s), &id, &err) != -EINVAL)
		fail_msg("'%s' accepted", s);
	if (strcmp(err.code, code) != 0)
		fail_msg("'%s': code %s, want %s (%s)", s, err.code, code, err.message);
	assert_int_equal((unsigned char)id.name[0], 0x5a);
}

static void
test_vm_id_parse(void **state)
{
	struct arm_vm_id id;
	char buf[ARM_ID_MAX + 1];

	assert_int_equal(arm_vm_id_parse(S(VMID), &id, NULL), 0);
	assert_string_equal(id.subscription, SUB);
	assert_string_equal(id.resource_group, "myRg");
	assert_string_equal(id.name, "vm-1");
	assert_int_equal(arm_vm_id_format(&id, buf, sizeof(buf)), (int)strlen(VMID));
	assert_string_equal(buf, VMID);
}

static void
test_vm_id_case_insensitive_fixed_segments(void **state)
{
	static const char lower[] = "/SUBSCRIPTIONS/" SUB "/resourcegroups/MyRG/PROVIDERS/microsoft.compute/VIRTUALMACHINES/VM-1";
	struct arm_vm_id id, ref;
	char buf[ARM_ID_MAX + 1];

	assert_int_equal(arm_vm_id_parse(S(lower), &id, NULL), 0);
	assert_string_equal(id.resource_group, "MyRG");	/* names kept as written */
	assert_string_equal(id.name, "VM-1");
	arm_vm_id_format(&id, buf, sizeof(buf));
	assert_string_equal(buf, "/subscriptions/" SUB "/resourceGroups/MyRG/providers/Microsoft.Compute/virtualMachines/VM-1");
	assert_int_equal(arm_vm_id_parse(S(VMID), &ref, NULL), 0);
	assert_true(arm_vm_id_equal(&id, &ref));
	memcpy(ref.name, "vm-2", 5);
	assert_false(arm_vm_id_equal(&id, &ref));
}

static void
test_vm_id_bad_shape(void **state)
{
	static const char *const bad[] = {
		"", "/", "//", VMID "/", VMID "/extra",
		"subscriptions/" SUB "/resourceGroups/myRg/providers/Microsoft.Compute/virtualMachines/vm",
		"/subscriptions/" SUB "/resourceGroups/myRg/providers/Microsoft.Compute/virtualMachines",
		"/subscriptions/" SUB "/resourceGroups/myRg/providers/Microsoft.Compute/virtualMachines/",
		"/subscriptions/" SUB "/resourceGroups//providers/Microsoft.Compute/virtualMachines/vm",
		"/subscriptions//resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm",
		"/subscription/" SUB "/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm",
		"/subscriptions/" SUB "/resourceGroup/rg/providers/Microsoft.Compute/virtualMachines/vm",
		"/subscriptions/" SUB "/resourceGroups/rg/provider/Microsoft.Compute/virtualMachines/vm",
		"/subscriptions/" SUB "/resourceGroups/rg/providers/Microsoft.Network/virtualMachines/vm",
		"/subscriptions/" SUB "/resourceGroups/rg/providers/Microsoft.Compute/virtualMachine/vm",
		"/subscriptions/" SUB "/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm//",
		"//subscriptions/" SUB "/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm",
		"/subscriptions/" SUB "/resourceGroups/rg/providers/Microsoft.Compute//virtualMachines/vm",
		"/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q/r/s/t",
		POLID,
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		vm_bad(bad[i], "InvalidResourceId");
}

static void
test_vm_id_bad_names(void **state)
{
	vm_bad("/subscriptions/not-a-guid/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm",
	    "InvalidSubscriptionId");
	vm_bad("/subscriptions/" SUB "/resourceGroups/rg./providers/Microsoft.Compute/virtualMachines/vm",
	    "InvalidResourceGroupName");
	vm_bad("/subscriptions/" SUB "/resourceGroups/r%20g/providers/Microsoft.Compute/virtualMachines/vm",
	    "InvalidResourceGroupName");
	vm_bad("/subscriptions/" SUB "/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/-vm",
	    "InvalidVirtualMachineName");
	vm_bad("/subscriptions/" SUB "/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm.",
	    "InvalidVirtualMachineName");
	vm_bad("/subscriptions/" SUB "/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/v m",
	    "InvalidVirtualMachineName");
}

static void
test_vm_id_unterminated_and_long(void **state)
{
	struct arm_vm_id id;
	size_t n;
	char *s = test_copy_unterminated(VMID, &n);
	char big[ARM_ID_MAX + 50];
	int len;

	assert_int_equal(arm_vm_id_parse(s, n, &id, NULL), 0);
	assert_string_equal(id.name, "vm-1");
	free(s);
	/* A name cut by n ends at n. */
	assert_int_equal(arm_vm_id_parse(VMID, strlen(VMID) - 2, &id, NULL), 0);
	assert_string_equal(id.name, "vm");
	assert_int_equal(arm_vm_id_parse(VMID "\0", strlen(VMID) + 1, &id, NULL), -EINVAL);
	len = snprintf(big, sizeof(big), "/subscriptions/%s/resourceGroups/%0*d/providers/Microsoft.Compute/virtualMachines/%0*d",
	    SUB, ARM_RESOURCE_GROUP_MAX, 0, ARM_VM_NAME_MAX, 0);
	assert_int_equal(arm_vm_id_parse(big, (size_t)len, &id, NULL), 0);
	assert_int_equal(strlen(id.resource_group), ARM_RESOURCE_GROUP_MAX);
	assert_int_equal(strlen(id.name), ARM_VM_NAME_MAX);
	len = snprintf(big, sizeof(big), "/subscriptions/%s/resourceGroups/%0*d/providers/Microsoft.Compute/virtualMachines/%0*d",
	    SUB, ARM_RESOURCE_GROUP_MAX + 1, 0, ARM_VM_NAME_MAX, 0);
	vm_bad(big, "InvalidResourceGroupName");
	len = snprintf(big, sizeof(big), "/subscriptions/%s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/%0*d",
	    SUB, ARM_VM_NAME_MAX + 1, 0);
	vm_bad(big, "InvalidVirtualMachineName");
	memset(big, 'a', sizeof(big) - 1);
	big[0] = '/';
	big[sizeof(big) - 1] = '\0';
	vm_bad(big, "InvalidResourceId");
}

static void
test_policy_id(void **state)
{
	static const char mixed[] = "/Subscriptions/" SUB "/ResourceGroups/myRg/Providers/MICROSOFT.SECURITY/Locations/WestEurope/JitNetworkAccessPolicies/Default";
	struct arm_policy_id id, other;
	char buf[ARM_ID_MAX + 1];

	assert_int_equal(arm_policy_id_parse(S(POLID), &id, NULL), 0);
	assert_string_equal(id.subscription, SUB);
	assert_string_equal(id.resource_group, "myRg");
	assert_string_equal(id.location, "westeurope");
	assert_string_equal(id.name, "default");
	assert_int_equal(arm_policy_id_format(&id, buf, sizeof(buf)), (int)strlen(POLID));
	assert_string_equal(buf, POLID);
	assert_int_equal(arm_policy_id_format(&id, buf, strlen(POLID)), -ENOSPC);

	assert_int_equal(arm_policy_id_parse(S(mixed), &other, NULL), 0);
	assert_string_equal(other.location, "WestEurope");
	assert_true(arm_policy_id_equal(&id, &other));
	arm_policy_id_format(&other, buf, sizeof(buf));
	assert_string_equal(buf, "/subscriptions/" SUB "/resourceGroups/myRg/providers/Microsoft.Security/locations/WestEurope/jitNetworkAccessPolicies/Default");
	memcpy(other.location, "eastus", 7);
	assert_false(arm_policy_id_equal(&id, &other));

	policy_bad(POLID "/", "InvalidResourceId");
	policy_bad(POLID "/initiate", "InvalidResourceId");
	policy_bad(VMID, "InvalidResourceId");
	policy_bad("/subscriptions/" SUB "/resourceGroups/myRg/providers/Microsoft.Security/locations/west-europe/jitNetworkAccessPolicies/default",
	    "InvalidLocation");
	policy_bad("/subscriptions/" SUB "/resourceGroups/myRg/providers/Microsoft.Security/locations/westeurope/jitNetworkAccessPolicies/_x",
	    "InvalidPolicyName");
	policy_bad("/subscriptions/" SUB "/resourceGroups/myRg/providers/Microsoft.Security/location/westeurope/jitNetworkAccessPolicies/default",
	    "InvalidResourceId");
	policy_bad("/subscriptions/" SUB "/resourceGroups/myRg/providers/Microsoft.Compute/locations/westeurope/jitNetworkAccessPolicies/default",
	    "InvalidResourceId");
	policy_bad("/subscriptions/" SUB "x/resourceGroups/myRg/providers/Microsoft.Security/locations/westeurope/jitNetworkAccessPolicies/default",
	    "InvalidSubscriptionId");
}

static void
test_subscription(void **state)
{
	struct core_error err;

	assert_int_equal(arm_subscription_validate(S("00000000-0000-0000-0000-000000000000"), NULL), 0);
	assert_int_equal(arm_subscription_validate(S("ABCDEF01-abcd-ABCD-abcd-0123456789AB"), NULL), 0);
	assert_int_equal(arm_subscription_validate(S("00000000-0000-0000-0000-00000000000"), &err), -EINVAL);
	assert_error(&err, "InvalidSubscriptionId", "");
	assert_int_equal(arm_subscription_validate(S("00000000-0000-0000-0000-0000000000000"), &err), -EINVAL);
	assert_int_equal(arm_subscription_validate(S("000000000-000-0000-0000-000000000000"), &err), -EINVAL);
	assert_int_equal(arm_subscription_validate(S("0000000g-0000-0000-0000-000000000000"), &err), -EINVAL);
	assert_int_equal(arm_subscription_validate(S("{0000000-0000-0000-0000-000000000000"), &err), -EINVAL);
	assert_int_equal(arm_subscription_validate(S("00000000_0000_0000_0000_000000000000"), &err), -EINVAL);
	assert_int_equal(arm_subscription_validate(S(""), &err), -EINVAL);
}

static void
test_resource_group(void **state)
{
	struct core_error err;
	char name[ARM_RESOURCE_GROUP_MAX + 2];

	assert_int_equal(arm_resource_group_validate(S("rg"), NULL), 0);
	assert_int_equal(arm_resource_group_validate(S("My_Rg-(1).x"), NULL), 0);
	assert_int_equal(arm_resource_group_validate(S("."), &err), -EINVAL);
	assert_int_equal(arm_resource_group_validate(S("-"), NULL), 0);
	assert_int_equal(arm_resource_group_validate(S("(rg)"), NULL), 0);
	assert_int_equal(arm_resource_group_validate(S("rg."), &err), -EINVAL);
	assert_error(&err, "InvalidResourceGroupName", "");
	assert_int_equal(arm_resource_group_validate(S(""), &err), -EINVAL);
	assert_int_equal(arm_resource_group_validate(S("r g"), &err), -EINVAL);
	assert_int_equal(arm_resource_group_validate(S("rg/x"), &err), -EINVAL);
	assert_int_equal(arm_resource_group_validate(S("rg\0"), &err), -EINVAL);
	assert_int_equal(arm_resource_group_validate(S("r\xc3\xa9"), &err), -EINVAL);
	memset(name, 'r', sizeof(name));
	assert_int_equal(arm_resource_group_validate(name, ARM_RESOURCE_GROUP_MAX, NULL), 0);
	assert_int_equal(arm_resource_group_validate(name, ARM_RESOURCE_GROUP_MAX + 1, &err), -EINVAL);
}

static void
test_vm_name(void **state)
{
	struct core_error err;
	char name[ARM_VM_NAME_MAX + 2];

	assert_int_equal(arm_vm_name_validate(S("vm"), NULL), 0);
	assert_int_equal(arm_vm_name_validate(S("a"), NULL), 0);
	assert_int_equal(arm_vm_name_validate(S("Web_01.prod-x9"), NULL), 0);
	assert_int_equal(arm_vm_name_validate(S("_vm"), &err), -EINVAL);
	assert_error(&err, "InvalidVirtualMachineName", "");
	assert_int_equal(arm_vm_name_validate(S(".vm"), &err), -EINVAL);
	assert_int_equal(arm_vm_name_validate(S("vm-"), &err), -EINVAL);
	assert_int_equal(arm_vm_name_validate(S("vm."), &err), -EINVAL);
	assert_int_equal(arm_vm_name_validate(S("vm_"), NULL), 0);
	assert_int_equal(arm_vm_name_validate(S("v(m)"), &err), -EINVAL);
	assert_int_equal(arm_vm_name_validate(S(""), &err), -EINVAL);
	memset(name, 'v', sizeof(name));
	assert_int_equal(arm_vm_name_validate(name, ARM_VM_NAME_MAX, NULL), 0);
	assert_int_equal(arm_vm_name_validate(name, ARM_VM_NAME_MAX + 1, &err), -EINVAL);
}

static void
test_location_and_policy_name(void **state)
{
	struct core_error err;
	char name[70];

	assert_int_equal(arm_location_validate(S("westeurope"), NULL), 0);
	assert_int_equal(arm_location_validate(S("WestUS2"), NULL), 0);
	assert_int_equal(arm_location_validate(S("west us"), &err), -EINVAL);
	assert_error(&err, "InvalidLocation", "");
	assert_int_equal(arm_location_validate(S("west-us"), &err), -EINVAL);
	assert_int_equal(arm_location_validate(S(""), &err), -EINVAL);
	memset(name, 'l', sizeof(name));
	assert_int_equal(arm_location_validate(name, ARM_LOCATION_MAX, NULL), 0);
	assert_int_equal(arm_location_validate(name, ARM_LOCATION_MAX + 1, &err), -EINVAL);

	assert_int_equal(arm_policy_name_validate(S("default"), NULL), 0);
	assert_int_equal(arm_policy_name_validate(S("ssh-only_v2.1"), NULL), 0);
	assert_int_equal(arm_policy_name_validate(S("ends-"), NULL), 0);
	assert_int_equal(arm_policy_name_validate(S("-x"), &err), -EINVAL);
	assert_error(&err, "InvalidPolicyName", "");
	assert_int_equal(arm_policy_name_validate(S("a b"), &err), -EINVAL);
	assert_int_equal(arm_policy_name_validate(S(""), &err), -EINVAL);
	assert_int_equal(arm_policy_name_validate(name, ARM_POLICY_NAME_MAX, NULL), 0);
	assert_int_equal(arm_policy_name_validate(name, ARM_POLICY_NAME_MAX + 1, &err), -EINVAL);
}

static void
test_name_equal(void **state)
{
	assert_true(arm_name_equal("myRG", "MYrg"));
	assert_true(arm_name_equal("", ""));
	assert_false(arm_name_equal("rg", "rg1"));
	assert_false(arm_name_equal("rg1", "rg"));
	assert_false(arm_name_equal("a[", "a{"));	/* not a locale or bit trick: '[' and '{' differ */
	assert_false(arm_name_equal("a@", "a`"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vm_id_parse),
		cmocka_unit_test(test_vm_id_case_insensitive_fixed_segments),
		cmocka_unit_test(test_vm_id_bad_shape),
		cmocka_unit_test(test_vm_id_bad_names),
		cmocka_unit_test(test_vm_id_unterminated_and_long),
		cmocka_unit_test(test_policy_id),
		cmocka_unit_test(test_subscription),
		cmocka_unit_test(test_resource_group),
		cmocka_unit_test(test_vm_name),
		cmocka_unit_test(test_location_and_policy_name),
		cmocka_unit_test(test_name_equal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

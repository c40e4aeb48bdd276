/* Fuzz target for ARM ids: parse, format in canonical case, parse again to the same parts. */
#include <errno.h>

#include "core/armid.h"
#include "fuzz-common.h"

static bool
equal_nocase(const char *a, const char *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		char x = a[i], y = b[i];

		if (x >= 'A' && x <= 'Z')
			x = (char)(x - 'A' + 'a');
		if (y >= 'A' && y <= 'Z')
			y = (char)(y - 'A' + 'a');
		if (x != y)
			return false;
	}
	return true;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arm_vm_id vm, vm2;
	struct arm_policy_id pol, pol2;
	struct core_error err;
	char buf[ARM_ID_MAX + 1];
	char *s = fuzz_copy(data, size);
	int len;

	if (arm_vm_id_parse(s, size, &vm, &err) == 0) {
		len = arm_vm_id_format(&vm, buf, sizeof(buf));
		/* Only the fixed segments' case may differ from the input. */
		fuzz_check(len > 0 && (size_t)len == size && equal_nocase(buf, s, size));
		fuzz_check(arm_vm_id_parse(buf, (size_t)len, &vm2, NULL) == 0);
		fuzz_check(memcmp(&vm, &vm2, sizeof(vm)) == 0 || arm_vm_id_equal(&vm, &vm2));
		fuzz_check(strcmp(vm.name, vm2.name) == 0 && strcmp(vm.resource_group, vm2.resource_group) == 0);
		fuzz_check(arm_vm_id_equal(&vm, &vm2));
		fuzz_check(arm_vm_id_format(&vm, buf, (size_t)len) == -ENOSPC);
		fuzz_check(arm_policy_id_parse(s, size, &pol, NULL) < 0);
	} else {
		fuzz_check(err.code[0] != '\0');
	}
	if (arm_policy_id_parse(s, size, &pol, &err) == 0) {
		len = arm_policy_id_format(&pol, buf, sizeof(buf));
		fuzz_check(len > 0 && (size_t)len == size && equal_nocase(buf, s, size));
		fuzz_check(arm_policy_id_parse(buf, (size_t)len, &pol2, NULL) == 0);
		fuzz_check(arm_policy_id_equal(&pol, &pol2));
		fuzz_check(strcmp(pol.location, pol2.location) == 0 && strcmp(pol.name, pol2.name) == 0);
	} else {
		fuzz_check(err.code[0] != '\0');
	}

	/* A token scope: a VM or policy id is one; anything valid starts with '/'; a refusal names the field. */
	if (arm_scope_validate(s, size, &err) == 0)
		fuzz_check(size > 0 && s[0] == '/');
	else
		fuzz_check(err.code[0] != '\0' && strcmp(err.target, "scope") == 0);
	if (arm_vm_id_parse(s, size, &vm, NULL) == 0 || arm_policy_id_parse(s, size, &pol, NULL) == 0)
		fuzz_check(arm_scope_validate(s, size, NULL) == 0);

	/* Validators and name comparison on the raw bytes. */
	if (arm_subscription_validate(s, size, &err) < 0)
		fuzz_check_error(&err, "InvalidSubscriptionId");
	if (arm_resource_group_validate(s, size, &err) < 0)
		fuzz_check_error(&err, "InvalidResourceGroupName");
	if (arm_vm_name_validate(s, size, &err) < 0)
		fuzz_check_error(&err, "InvalidVirtualMachineName");
	if (arm_location_validate(s, size, &err) < 0)
		fuzz_check_error(&err, "InvalidLocation");
	if (arm_policy_name_validate(s, size, &err) < 0)
		fuzz_check_error(&err, "InvalidPolicyName");
	if (size > 0 && memchr(s, '\0', size) == NULL) {
		char *z = malloc(size + 1);

		fuzz_check(z != NULL);
		memcpy(z, s, size);
		z[size] = '\0';
		fuzz_check(arm_name_equal(z, z));
		free(z);
	}
	free(s);
	return 0;
}

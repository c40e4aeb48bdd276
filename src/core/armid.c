/* ARM resource ids: splitting, name rules and canonical formatting, for VMs and JIT policies. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "armid.h"

static bool
is_alnum(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool
is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static char
ascii_lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static bool
equal_nocase_n(const char *s, size_t n, const char *lit)
{
	size_t i;

	if (strlen(lit) != n)
		return false;
	for (i = 0; i < n; i++)
		if (ascii_lower(s[i]) != ascii_lower(lit[i]))
			return false;
	return true;
}

bool
arm_name_equal(const char *a, const char *b)
{
	for (; *a != '\0' && *b != '\0'; a++, b++)
		if (ascii_lower(*a) != ascii_lower(*b))
			return false;
	return *a == *b;
}

int
arm_subscription_validate(const char *s, size_t n, struct core_error *err)
{
	char q[ERROR_QUOTE_SIZE];
	size_t i;

	if (n != ARM_SUBSCRIPTION_MAX)
		goto fail;
	for (i = 0; i < n; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? s[i] != '-' : !is_hex(s[i]))
			goto fail;
	}
	return 0;
fail:
	return core_error_set(err, "InvalidSubscriptionId", NULL,
	    "'%s' is not a valid subscription id: expected a GUID such as 00000000-0000-0000-0000-000000000000",
	    core_error_quote(s, n, q, sizeof(q)));
}

int
arm_resource_group_validate(const char *s, size_t n, struct core_error *err)
{
	char q[ERROR_QUOTE_SIZE];
	size_t i;

	if (n < 1 || n > ARM_RESOURCE_GROUP_MAX || s[n - 1] == '.')
		goto fail;
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (!is_alnum(c) && c != '.' && c != '_' && c != '(' && c != ')' && c != '-')
			goto fail;
	}
	return 0;
fail:
	return core_error_set(err, "InvalidResourceGroupName", NULL,
	    "'%s' is not a valid resource group name: use 1 to %d letters, digits, '.', '_', '-', '(' or ')', not ending in '.'",
	    core_error_quote(s, n, q, sizeof(q)), ARM_RESOURCE_GROUP_MAX);
}

/* 1–max of [A-Za-z0-9._-], starting alphanumeric. */
static bool
is_simple_name(const char *s, size_t n, size_t max)
{
	size_t i;

	if (n < 1 || n > max || !is_alnum(s[0]))
		return false;
	for (i = 0; i < n; i++)
		if (!is_alnum(s[i]) && s[i] != '.' && s[i] != '_' && s[i] != '-')
			return false;
	return true;
}

int
arm_vm_name_validate(const char *s, size_t n, struct core_error *err)
{
	char q[ERROR_QUOTE_SIZE];

	if (!is_simple_name(s, n, ARM_VM_NAME_MAX) || s[n - 1] == '.' || s[n - 1] == '-')
		return core_error_set(err, "InvalidVirtualMachineName", NULL,
		    "'%s' is not a valid virtual machine name: use 1 to %d letters, digits, '.', '_' or '-', starting with a letter or digit and not ending in '.' or '-'",
		    core_error_quote(s, n, q, sizeof(q)), ARM_VM_NAME_MAX);
	return 0;
}

int
arm_location_validate(const char *s, size_t n, struct core_error *err)
{
	char q[ERROR_QUOTE_SIZE];
	size_t i;

	if (n < 1 || n > ARM_LOCATION_MAX)
		goto fail;
	for (i = 0; i < n; i++)
		if (!is_alnum(s[i]))
			goto fail;
	return 0;
fail:
	return core_error_set(err, "InvalidLocation", NULL,
	    "'%s' is not a valid location: use 1 to %d letters and digits, such as westeurope",
	    core_error_quote(s, n, q, sizeof(q)), ARM_LOCATION_MAX);
}

int
arm_policy_name_validate(const char *s, size_t n, struct core_error *err)
{
	char q[ERROR_QUOTE_SIZE];

	if (!is_simple_name(s, n, ARM_POLICY_NAME_MAX))
		return core_error_set(err, "InvalidPolicyName", NULL,
		    "'%s' is not a valid policy name: use 1 to %d letters, digits, '.', '_' or '-', starting with a letter or digit",
		    core_error_quote(s, n, q, sizeof(q)), ARM_POLICY_NAME_MAX);
	return 0;
}

/* One '/'-separated segment of an id. */
struct segment {
	const char *s;
	size_t n;
};

/*
 * Split "/a/b/c" into segments; fails on a missing leading '/', an empty segment
 * (which includes a trailing '/') or more than `max` segments.
 */
static int
split_id(const char *s, size_t n, struct segment *segs, size_t max, size_t *ret_count)
{
	size_t pos = 1, count = 0;

	if (n < 2 || n > ARM_ID_MAX || s[0] != '/')
		return -EINVAL;
	while (pos <= n) {
		const char *slash = memchr(s + pos, '/', n - pos);
		size_t end = slash ? (size_t)(slash - s) : n;

		if (end == pos || count == max)
			return -EINVAL;
		segs[count].s = s + pos;
		segs[count].n = end - pos;
		count++;
		pos = end + 1;
	}
	*ret_count = count;
	return 0;
}

/* Copy a validated segment into a NUL-terminated field of `size` bytes. */
static void
copy_name(char *dst, size_t size, const struct segment *seg)
{
	size_t n = seg->n < size - 1 ? seg->n : size - 1;

	memcpy(dst, seg->s, n);
	dst[n] = '\0';
}

/* The shape shared by both ids: /subscriptions/{s}/resourceGroups/{rg}/providers/{provider}/… */
static bool
has_prefix_shape(const struct segment *segs, const char *provider)
{
	return equal_nocase_n(segs[0].s, segs[0].n, "subscriptions") &&
	    equal_nocase_n(segs[2].s, segs[2].n, "resourceGroups") &&
	    equal_nocase_n(segs[4].s, segs[4].n, "providers") &&
	    equal_nocase_n(segs[5].s, segs[5].n, provider);
}

int
arm_vm_id_parse(const char *s, size_t n, struct arm_vm_id *ret, struct core_error *err)
{
	struct segment segs[ARM_ID_SEGMENTS_MAX];
	struct arm_vm_id id;
	char q[ERROR_QUOTE_SIZE];
	size_t count;
	int r;

	if (split_id(s, n, segs, ARM_ID_SEGMENTS_MAX, &count) < 0 || count != 8 ||
	    !has_prefix_shape(segs, "Microsoft.Compute") ||
	    !equal_nocase_n(segs[6].s, segs[6].n, "virtualMachines"))
		return core_error_set(err, "InvalidResourceId", NULL,
		    "'%s' is not a virtual machine id: expected /subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Compute/virtualMachines/{vmName}",
		    core_error_quote(s, n, q, sizeof(q)));
	r = arm_subscription_validate(segs[1].s, segs[1].n, err);
	if (r < 0)
		return r;
	r = arm_resource_group_validate(segs[3].s, segs[3].n, err);
	if (r < 0)
		return r;
	r = arm_vm_name_validate(segs[7].s, segs[7].n, err);
	if (r < 0)
		return r;
	memset(&id, 0, sizeof(id));	/* whole structs compare with memcmp: no stack bytes after the NULs */
	copy_name(id.subscription, sizeof(id.subscription), &segs[1]);
	copy_name(id.resource_group, sizeof(id.resource_group), &segs[3]);
	copy_name(id.name, sizeof(id.name), &segs[7]);
	*ret = id;
	return 0;
}

int
arm_policy_id_parse(const char *s, size_t n, struct arm_policy_id *ret, struct core_error *err)
{
	struct segment segs[ARM_ID_SEGMENTS_MAX];
	struct arm_policy_id id;
	char q[ERROR_QUOTE_SIZE];
	size_t count;
	int r;

	if (split_id(s, n, segs, ARM_ID_SEGMENTS_MAX, &count) < 0 || count != 10 ||
	    !has_prefix_shape(segs, "Microsoft.Security") ||
	    !equal_nocase_n(segs[6].s, segs[6].n, "locations") ||
	    !equal_nocase_n(segs[8].s, segs[8].n, "jitNetworkAccessPolicies"))
		return core_error_set(err, "InvalidResourceId", NULL,
		    "'%s' is not a JIT network access policy id: expected /subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Security/locations/{location}/jitNetworkAccessPolicies/{name}",
		    core_error_quote(s, n, q, sizeof(q)));
	r = arm_subscription_validate(segs[1].s, segs[1].n, err);
	if (r < 0)
		return r;
	r = arm_resource_group_validate(segs[3].s, segs[3].n, err);
	if (r < 0)
		return r;
	r = arm_location_validate(segs[7].s, segs[7].n, err);
	if (r < 0)
		return r;
	r = arm_policy_name_validate(segs[9].s, segs[9].n, err);
	if (r < 0)
		return r;
	memset(&id, 0, sizeof(id));	/* whole structs compare with memcmp: no stack bytes after the NULs */
	copy_name(id.subscription, sizeof(id.subscription), &segs[1]);
	copy_name(id.resource_group, sizeof(id.resource_group), &segs[3]);
	copy_name(id.location, sizeof(id.location), &segs[7]);
	copy_name(id.name, sizeof(id.name), &segs[9]);
	*ret = id;
	return 0;
}

static int
finish_format(int r, const char *text, char *buf, size_t size)
{
	if (r < 0)
		return -EINVAL;
	if ((size_t)r + 1 > size)
		return -ENOSPC;
	memcpy(buf, text, (size_t)r + 1);
	return r;
}

int
arm_vm_id_format(const struct arm_vm_id *id, char *buf, size_t size)
{
	char text[ARM_ID_MAX + 1];
	int r;

	r = snprintf(text, sizeof(text),
	    "/subscriptions/%.*s/resourceGroups/%.*s/providers/Microsoft.Compute/virtualMachines/%.*s",
	    ARM_SUBSCRIPTION_MAX, id->subscription, ARM_RESOURCE_GROUP_MAX, id->resource_group,
	    ARM_VM_NAME_MAX, id->name);
	if (r >= (int)sizeof(text))
		return -ENOSPC;
	return finish_format(r, text, buf, size);
}

int
arm_policy_id_format(const struct arm_policy_id *id, char *buf, size_t size)
{
	char text[ARM_ID_MAX + 1];
	int r;

	r = snprintf(text, sizeof(text),
	    "/subscriptions/%.*s/resourceGroups/%.*s/providers/Microsoft.Security/locations/%.*s/jitNetworkAccessPolicies/%.*s",
	    ARM_SUBSCRIPTION_MAX, id->subscription, ARM_RESOURCE_GROUP_MAX, id->resource_group,
	    ARM_LOCATION_MAX, id->location, ARM_POLICY_NAME_MAX, id->name);
	if (r >= (int)sizeof(text))
		return -ENOSPC;
	return finish_format(r, text, buf, size);
}

bool
arm_vm_id_in_group(const struct arm_vm_id *vm, const char *subscription, const char *resource_group)
{
	return arm_name_equal(vm->subscription, subscription) &&
	    arm_name_equal(vm->resource_group, resource_group);
}

bool
arm_vm_id_equal(const struct arm_vm_id *a, const struct arm_vm_id *b)
{
	return arm_vm_id_in_group(a, b->subscription, b->resource_group) && arm_name_equal(a->name, b->name);
}

/* Bytes compared as arm_name_equal sees them: a total order in which "equal" is exactly arm_name_equal. */
static int
name_compare(const char *a, const char *b)
{
	for (; *a != '\0' && ascii_lower(*a) == ascii_lower(*b); a++, b++)
		;
	return (int)(unsigned char)ascii_lower(*a) - (int)(unsigned char)ascii_lower(*b);
}

int
arm_vm_id_compare(const struct arm_vm_id *a, const struct arm_vm_id *b)
{
	int c = name_compare(a->subscription, b->subscription);

	if (c == 0)
		c = name_compare(a->resource_group, b->resource_group);
	return c ? c : name_compare(a->name, b->name);
}

bool
arm_policy_id_equal(const struct arm_policy_id *a, const struct arm_policy_id *b)
{
	return arm_name_equal(a->subscription, b->subscription) &&
	    arm_name_equal(a->resource_group, b->resource_group) &&
	    arm_name_equal(a->location, b->location) && arm_name_equal(a->name, b->name);
}

int
arm_scope_validate(const char *s, size_t n, struct core_error *err)
{
	struct arm_policy_id pol;
	struct arm_vm_id vm;
	struct segment segs[4];
	size_t count = 0;
	int r;

	if (n == 1 && s[0] == '/')
		return 0;
	if (arm_vm_id_parse(s, n, &vm, NULL) == 0 || arm_policy_id_parse(s, n, &pol, NULL) == 0)
		return 0;
	/* otherwise a subscription or one of its resource groups (longer ids failed above) */
	if (split_id(s, n, segs, 4, &count) < 0 || (count != 2 && count != 4) ||
	    !equal_nocase_n(segs[0].s, segs[0].n, "subscriptions") ||
	    (count == 4 && !equal_nocase_n(segs[2].s, segs[2].n, "resourceGroups")))
		return core_error_set(err, "InvalidScope", "scope",
				      "a scope is '/' or the id of a subscription, resource group, virtual machine or "
				      "JIT policy");
	r = arm_subscription_validate(segs[1].s, segs[1].n, err);
	if (r == 0 && count == 4)
		r = arm_resource_group_validate(segs[3].s, segs[3].n, err);
	if (r < 0 && err)
		snprintf(err->target, sizeof(err->target), "scope");
	return r;
}

/* The API's pure steps, without store or kernel: statuses from faults, policy write rules, VM PUT, token and activity decoding. */
#include <errno.h>
#include <stdio.h>

#include "api/api-internal.h"
#include "codec/codec.h"
#include "core/timeutil.h"
#include "testutil.h"

#define SUB	"00000000-0000-0000-0000-000000000000"
#define VM1	"/subscriptions/" SUB "/resourceGroups/rg1/providers/Microsoft.Compute/virtualMachines/vm1"
#define POL	"/subscriptions/" SUB "/resourceGroups/rg1/providers/Microsoft.Security/locations/local/" \
		"jitNetworkAccessPolicies/default"
#define POL_BODY "{\"kind\": \"Basic\", \"properties\": {\"virtualMachines\": [{\"id\": \"" VM1 "\", \"ports\": " \
		"[{\"number\": 22, \"protocol\": \"TCP\", \"allowedSourceAddressPrefix\": \"10.0.0.0/24\", " \
		"\"maxRequestAccessDuration\": \"PT3H\"}]}]}}"
#define HOUR_NS	(3600LL * TIME_NS_PER_SEC)
#define HOUR_MS	(3600LL * 1000)

static void
test_fault_status(void **state)
{
	(void)state;
	assert_int_equal(api_fault_status(API_FAULT_REQUEST, -EINVAL), 400);
	assert_int_equal(api_fault_status(API_FAULT_NOT_FOUND, -ENOENT), 404);
	assert_int_equal(api_fault_status(API_FAULT_CONFLICT, -EINVAL), 409);
	assert_int_equal(api_fault_status(API_FAULT_PRECONDITION, -EINVAL), 412);
	assert_int_equal(api_fault_status(API_FAULT_INTERNAL, -ENOMEM), 500);
	assert_int_equal(api_fault_status(API_FAULT_UNAVAILABLE, -EOPNOTSUPP), 503);
	/* the store's refusals: a disk that refuses writes (or is busy) is 503, the rest 500, as api_store_status */
	assert_int_equal(api_fault_status(API_FAULT_STORE, -ENOSPC), 503);
	assert_int_equal(api_fault_status(API_FAULT_STORE, -EROFS), 503);
	assert_int_equal(api_fault_status(API_FAULT_STORE, -EBUSY), 503);
	assert_int_equal(api_fault_status(API_FAULT_STORE, -EIO), 500);
	assert_int_equal(api_fault_status(API_FAULT_STORE, -ENOMEM), 500);
}

static void
test_policy_precondition(void **state)
{
	struct store_policy sp = { 0 };
	char etag[32], weak[40];

	(void)state;
	sp.updated_ns = 0x1234abcd;
	snprintf(etag, sizeof(etag), "\"%llx\"", (unsigned long long)sp.updated_ns);
	snprintf(weak, sizeof(weak), "W/%s", etag);
	/* no condition: anything goes */
	assert_true(api_policy_precondition_ok(NULL, NULL, NULL));
	assert_true(api_policy_precondition_ok(NULL, NULL, &sp));
	/* If-None-Match: * creates only */
	assert_false(api_policy_precondition_ok(NULL, "*", &sp));
	assert_true(api_policy_precondition_ok(NULL, "*", NULL));
	/* If-Match: * replaces only */
	assert_false(api_policy_precondition_ok("*", NULL, NULL));
	assert_true(api_policy_precondition_ok("*", NULL, &sp));
	/* If-Match: an ETag, strong or weak, of this version only */
	assert_true(api_policy_precondition_ok(etag, NULL, &sp));
	assert_true(api_policy_precondition_ok(weak, NULL, &sp));
	assert_false(api_policy_precondition_ok("\"99\"", NULL, &sp));
	assert_false(api_policy_precondition_ok(etag, NULL, NULL));
}

static struct policy *
policy_of(const char *body)
{
	struct arm_policy_id id;
	struct policy *p = NULL;

	assert_int_equal(arm_policy_id_parse(POL, strlen(POL), &id, NULL), 0);
	assert_int_equal(codec_policy_decode(body, strlen(body), &id, &p, NULL), 0);
	return p;
}

static struct store_grant
grant(uint16_t port, const char *source, int64_t end_ns)
{
	struct store_grant g;

	memset(&g, 0, sizeof(g));
	g.port = port;
	g.proto = NET_PROTO_TCP;
	assert_int_equal(net_source_parse(source, strlen(source), &g.source, NULL), 0);
	g.end_ns = end_ns;
	return g;
}

static void
test_policy_grant_fate(void **state)
{
	struct policy *p = policy_of(POL_BODY);
	const int64_t now = 1000 * HOUR_NS, cap = 24 * HOUR_MS;
	struct store_vm vm, other;
	struct store_grant g;
	int64_t end = -1;

	(void)state;
	memset(&vm, 0, sizeof(vm));
	assert_int_equal(arm_vm_id_parse(VM1, strlen(VM1), &vm.arm, NULL), 0);
	other = vm;
	snprintf(other.arm.name, sizeof(other.arm.name), "vm2");

	/* over already: not the write's to end */
	g = grant(22, "10.0.0.5", now);
	assert_int_equal(api_policy_grant_fate(NULL, &vm, &g, now, cap, &end), API_GRANT_KEEP);
	/* a delete, a VM gone from the inventory or from the policy, a port or source no longer allowed: it ends */
	g = grant(22, "10.0.0.5", now + HOUR_NS);
	assert_int_equal(api_policy_grant_fate(NULL, &vm, &g, now, cap, &end), API_GRANT_END);
	assert_int_equal(api_policy_grant_fate(p, NULL, &g, now, cap, &end), API_GRANT_END);
	assert_int_equal(api_policy_grant_fate(p, &other, &g, now, cap, &end), API_GRANT_END);
	g = grant(3389, "10.0.0.5", now + HOUR_NS);
	assert_int_equal(api_policy_grant_fate(p, &vm, &g, now, cap, &end), API_GRANT_END);
	g = grant(22, "10.0.1.5", now + HOUR_NS);
	assert_int_equal(api_policy_grant_fate(p, &vm, &g, now, cap, &end), API_GRANT_END);
	g = grant(22, "10.0.0.5", now + HOUR_NS);
	g.proto = NET_PROTO_UDP;
	assert_int_equal(api_policy_grant_fate(p, &vm, &g, now, cap, &end), API_GRANT_END);
	/* still covered, within the rule's maximum from now: kept, *ret_end untouched */
	g = grant(22, "10.0.0.5", now + 3 * HOUR_NS);
	assert_int_equal(api_policy_grant_fate(p, &vm, &g, now, cap, &end), API_GRANT_KEEP);
	assert_int_equal(end, -1);
	/* past it: cut to now + the rule's maximum, or the deployment's cap when that is lower */
	g = grant(22, "10.0.0.5", now + 5 * HOUR_NS);
	assert_int_equal(api_policy_grant_fate(p, &vm, &g, now, cap, &end), API_GRANT_CUT);
	assert_int_equal(end, now + 3 * HOUR_NS);
	assert_int_equal(api_policy_grant_fate(p, &vm, &g, now, HOUR_MS, &end), API_GRANT_CUT);
	assert_int_equal(end, now + HOUR_NS);
	policy_free(p);
}

static struct store_vm
vm_with(enum store_point point, const char *addr)
{
	struct store_vm vm;

	memset(&vm, 0, sizeof(vm));
	vm.point = point;
	if (addr) {
		assert_int_equal(net_addr_parse(addr, strlen(addr), &vm.addrs[0], NULL), 0);
		vm.n_addrs = 1;
	}
	return vm;
}

static void
test_vm_put_check(void **state)
{
	struct store_vm gw = vm_with(STORE_POINT_GATEWAY, "192.0.2.10"), local = vm_with(STORE_POINT_LOCAL, NULL);
	struct store_vm none = vm_with(STORE_POINT_GATEWAY, NULL), lo = vm_with(STORE_POINT_GATEWAY, "127.0.0.1");
	struct core_error err = { 0 };
	enum api_fault f;

	(void)state;
	assert_int_equal(api_vm_put_check(&gw, NULL, "vm", &f, &err), 0);
	assert_int_equal(api_vm_put_check(&gw, &gw, "vm", &f, &err), 0);
	/* only jitgated registers a local VM */
	assert_int_equal(api_vm_put_check(&local, NULL, "vm", &f, &err), -EINVAL);
	assert_error(&err, "InvalidEnforcement", "properties.enforcement");
	assert_int_equal(f, API_FAULT_REQUEST);
	/* a stored VM keeps its enforcement point: a conflict with what is stored */
	assert_int_equal(api_vm_put_check(&local, &gw, "vm", &f, &err), -EINVAL);
	assert_error(&err, "EnforcementImmutable", "properties.enforcement");
	assert_int_equal(f, API_FAULT_CONFLICT);
	/* a gateway VM needs an address this host routes to */
	assert_int_equal(api_vm_put_check(&none, NULL, "vm", &f, &err), -EINVAL);
	assert_error(&err, "MissingField", "properties.addresses");
	assert_int_equal(f, API_FAULT_REQUEST);
	assert_int_equal(api_vm_put_check(&lo, NULL, "vm", &f, &err), -EINVAL);
	assert_error(&err, "InvalidAddress", "properties.addresses");
	assert_int_equal(f, API_FAULT_REQUEST);
}

static void
test_token_ask(void **state)
{
	static struct api api;
	const char *sub = "/subscriptions/" SUB;
	struct core_error err = { 0 };
	struct api_token_ask ask;

	(void)state;
	snprintf(api.settings.subscription, sizeof(api.settings.subscription), SUB);
#define ASK(body) api_token_ask_decode(&api, (body), strlen(body), sub, &ask, &err)
	assert_int_equal(ASK("[1]"), -EINVAL);
	assert_error(&err, "InvalidJson", "");
	assert_int_equal(ASK("{\"role\": \"Reader\", \"role\": \"Owner\"}"), -EINVAL);	/* duplicate keys */
	assert_error(&err, "InvalidJson", "");
	assert_int_equal(ASK("{\"scope\": \"/\"}"), -EINVAL);
	assert_error(&err, "MissingField", "role");
	assert_int_equal(ASK("{\"role\": \"Nobody\"}"), -EINVAL);
	assert_error(&err, "InvalidRole", "role");
	assert_int_equal(ASK("{\"role\": \"Reader\", \"scope\": 7}"), -EINVAL);
	assert_error(&err, "InvalidScope", "scope");
	assert_int_equal(ASK("{\"role\": \"Reader\", \"scope\": \"/subscriptions/11111111-1111-1111-1111-111111111111\"}"),
			 -EINVAL);
	assert_error(&err, "InvalidScope", "scope");
	/* the whole subscription is "" however it is said; a resource group under it stays as sent; roles without case */
	assert_int_equal(ASK("{\"role\": \"reader\"}"), 0);
	assert_string_equal(ask.role->name, "Reader");
	assert_string_equal(ask.scope, "");
	assert_int_equal(ASK("{\"role\": \"Owner\", \"scope\": \"/\"}"), 0);
	assert_string_equal(ask.scope, "");
	assert_int_equal(ASK("{\"role\": \"Owner\", \"scope\": \"/subscriptions/" SUB "/resourceGroups/rg1\"}"), 0);
	assert_string_equal(ask.scope, "/subscriptions/" SUB "/resourceGroups/rg1");
#undef ASK
}

static void
test_token_keep(void **state)
{
	struct core_error err = { 0 };
	bool keep = true;

	(void)state;
	assert_int_equal(api_token_keep_decode(NULL, &keep, &err), 0);
	assert_false(keep);
	assert_int_equal(api_token_keep_decode("true", &keep, &err), 0);
	assert_true(keep);
	assert_int_equal(api_token_keep_decode("false", &keep, &err), 0);
	assert_false(keep);
	assert_int_equal(api_token_keep_decode("yes", &keep, &err), -EINVAL);
	assert_error(&err, "InvalidQueryParameter", "keepGrants");
}

static void
test_activity_query(void **state)
{
	const int64_t now = 1000 * HOUR_NS;
	struct api_activity_params p;
	struct api_activity_query q;
	struct core_error err = { 0 };

	(void)state;
	/* ?vm: a bare name is checked, a full id becomes the store's prefix */
	assert_int_equal(api_activity_vm_decode(NULL, &q, &err), 0);
	assert_null(q.f.resource_prefix);
	assert_int_equal(q.want, STORE_QUERY_LIMIT_MAX);
	assert_int_equal(api_activity_vm_decode("vm1", &q, &err), 0);
	assert_null(q.f.resource_prefix);
	assert_true(api_activity_vm_decode("bad name", &q, &err) < 0);
	assert_string_equal(err.code, "InvalidVirtualMachineName");
	assert_int_equal(api_activity_vm_decode(VM1, &q, &err), 0);
	assert_string_equal(q.f.resource_prefix, VM1);

	/* since/until: a time or a duration back from now; a bad one names its parameter */
	memset(&p, 0, sizeof(p));
	p.since = "PT1H";
	api_activity_vm_decode(NULL, &q, &err);
	assert_int_equal(api_activity_query_decode(&p, true, now, &q, &err), 0);
	assert_int_equal(q.f.since_ns, now - HOUR_NS);
	p.since = "yesterday";
	memset(&err, 0, sizeof(err));
	api_activity_vm_decode(NULL, &q, &err);
	assert_int_equal(api_activity_query_decode(&p, true, now, &q, &err), -EINVAL);
	assert_string_equal(err.target, "since");
	p.since = NULL;
	p.until = "soon";
	api_activity_vm_decode(NULL, &q, &err);
	assert_int_equal(api_activity_query_decode(&p, true, now, &q, &err), -EINVAL);
	assert_string_equal(err.target, "until");

	/* $top: 1 to the cap; the store stops there only when no filter of ours comes after */
	memset(&p, 0, sizeof(p));
	p.top = "0";
	api_activity_vm_decode(NULL, &q, &err);
	assert_int_equal(api_activity_query_decode(&p, true, now, &q, &err), -EINVAL);
	assert_error(&err, "InvalidTop", "$top");
	p.top = "5x";
	assert_int_equal(api_activity_query_decode(&p, true, now, &q, &err), -EINVAL);
	p.top = "5";
	api_activity_vm_decode(NULL, &q, &err);
	assert_int_equal(api_activity_query_decode(&p, true, now, &q, &err), 0);
	assert_int_equal(q.want, 5);
	assert_int_equal(q.f.limit, 5);
	api_activity_vm_decode(NULL, &q, &err);
	assert_int_equal(api_activity_query_decode(&p, false, now, &q, &err), 0);
	assert_int_equal(q.want, 5);
	assert_int_equal(q.f.limit, 0);

	/* CSV by ?format (without case) or by Accept */
	memset(&p, 0, sizeof(p));
	api_activity_vm_decode(NULL, &q, &err);
	assert_int_equal(api_activity_query_decode(&p, true, now, &q, &err), 0);
	assert_false(q.csv);
	p.format = "CSV";
	assert_int_equal(api_activity_query_decode(&p, true, now, &q, &err), 0);
	assert_true(q.csv);
	p.format = NULL;
	p.accept = "text/csv, */*";
	assert_int_equal(api_activity_query_decode(&p, true, now, &q, &err), 0);
	assert_true(q.csv);
}

/* Who may manage join tokens: the API tokens' actions, at the token's resource group's scope. */
static void
test_join_allowed(void **unused)
{
	static const char sub[] = "00000000-0000-0000-0000-000000000000";
	struct api_caller c;

	(void)unused;
	memset(&c, 0, sizeof(c));
	assert_false(api_join_allowed(&c, RBAC_TOKEN_WRITE, sub, NULL));	/* no role: nothing */
	c.n_assign = 1;
	c.assign[0].role = rbac_role_builtin("Owner");
	assert_true(api_join_allowed(&c, RBAC_TOKEN_WRITE, sub, NULL));
	assert_true(api_join_allowed(&c, RBAC_TOKEN_WRITE, sub, "rg1"));
	snprintf(c.assign[0].scope, sizeof(c.assign[0].scope), "/subscriptions/%s/resourceGroups/rg1", sub);
	assert_true(api_join_allowed(&c, RBAC_TOKEN_WRITE, sub, NULL));
	assert_true(api_join_allowed(&c, RBAC_TOKEN_WRITE, sub, "rg1"));
	assert_true(api_join_allowed(&c, RBAC_TOKEN_WRITE, sub, "RG1"));	/* group names are case-insensitive */
	assert_false(api_join_allowed(&c, RBAC_TOKEN_WRITE, sub, "rg2"));
	assert_false(api_join_allowed(&c, RBAC_TOKEN_WRITE, sub, "rg"));	/* a prefix of a name is not the name */
	snprintf(c.assign[0].scope, sizeof(c.assign[0].scope), "/subscriptions/%s/resourceGroups/rg1/providers/Microsoft.Compute/virtualMachines/a",
		 sub);
	assert_false(api_join_allowed(&c, RBAC_TOKEN_WRITE, sub, "rg1"));	/* a VM's Owner: below the group */
	c.assign[0].scope[0] = '\0';
	c.assign[0].role = rbac_role_builtin("SecurityAdmin");
	assert_true(api_join_allowed(&c, RBAC_TOKEN_READ, sub, "rg1"));
	assert_false(api_join_allowed(&c, RBAC_TOKEN_WRITE, sub, "rg1"));
	c.assign[0].role = rbac_role_builtin("JitRequester");
	assert_false(api_join_allowed(&c, RBAC_TOKEN_READ, sub, NULL));
	assert_false(api_join_allowed(&c, RBAC_TOKEN_WRITE, sub, "rg1"));
	c.assign[0].role = rbac_role_builtin("Reader");
	assert_false(api_join_allowed(&c, RBAC_TOKEN_READ, sub, "rg1"));
}

/* A caller of several assignments (single sign-on): one of them must be an approver's role at the approver's scope. */
static void
test_approver_any(void **unused)
{
	static const char rg1[] = "/subscriptions/" SUB "/resourceGroups/rg1", rg2[] = "/subscriptions/" SUB "/resourceGroups/rg2";
	struct api_settings settings;
	struct policy_approval a;
	struct api_caller c;
	struct api *api;

	(void)unused;
	memset(&settings, 0, sizeof(settings));
	assert_non_null(api = api_new(&settings));
	memset(&c, 0, sizeof(c));
	memset(&a, 0, sizeof(a));
	c.n_assign = 2;
	c.assign[0].role = rbac_role_builtin("JitRequester");
	snprintf(c.assign[0].scope, sizeof(c.assign[0].scope), "%s", rg1);
	c.assign[1].role = rbac_role_builtin("SecurityAdmin");
	snprintf(c.assign[1].scope, sizeof(c.assign[1].scope), "%s", rg2);
	snprintf(a.role, sizeof(a.role), "SecurityAdmin");
	snprintf(a.scope, sizeof(a.scope), "%s", rg2);
	assert_true(api_approver_qualifies(api, &c, &a));
	/* SecurityAdmin is held at rg2 only: JitRequester's scope does not lend it rg1 */
	snprintf(a.scope, sizeof(a.scope), "%s", VM1);
	assert_false(api_approver_qualifies(api, &c, &a));
	snprintf(a.role, sizeof(a.role), "JitRequester");	/* held at rg1 */
	assert_true(api_approver_qualifies(api, &c, &a));
	snprintf(a.role, sizeof(a.role), "Owner");
	assert_false(api_approver_qualifies(api, &c, &a));
	snprintf(a.role, sizeof(a.role), "Wizard");	/* no such role: nobody */
	assert_false(api_approver_qualifies(api, &c, &a));
	c.n_assign = 0;
	snprintf(a.role, sizeof(a.role), "Reader");
	assert_false(api_approver_qualifies(api, &c, &a));
	api_free(api);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fault_status),
		cmocka_unit_test(test_policy_precondition),
		cmocka_unit_test(test_policy_grant_fate),
		cmocka_unit_test(test_vm_put_check),
		cmocka_unit_test(test_token_ask),
		cmocka_unit_test(test_token_keep),
		cmocka_unit_test(test_activity_query),
		cmocka_unit_test(test_join_allowed),
		cmocka_unit_test(test_approver_any),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

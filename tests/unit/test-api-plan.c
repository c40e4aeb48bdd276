/* Unit tests for the pure rules of initiate and revoke (api_initiate_plan, api_revoke_wants): one per rule. */
#include <errno.h>
#include <stdio.h>

#include "api/api-internal.h"
#include "codec/codec.h"
#include "core/timeutil.h"
#include "testutil.h"

#define SUB	"/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg1/providers"
#define POL	SUB "/Microsoft.Security/locations/local/jitNetworkAccessPolicies/default"
#define VM1	SUB "/Microsoft.Compute/virtualMachines/gw1"
#define VM2	SUB "/Microsoft.Compute/virtualMachines/gw2"
/* gw1 alone: 22 from 10.0.0.0/24 for up to 3 hours, 80 from anywhere for up to an hour */
#define POL_BODY "{\"properties\": {\"virtualMachines\": [{\"id\": \"" VM1 "\", \"ports\": [" \
	"{\"number\": 22, \"protocol\": \"TCP\", \"allowedSourceAddressPrefix\": \"10.0.0.0/24\", " \
	"\"maxRequestAccessDuration\": \"PT3H\"}, " \
	"{\"number\": 80, \"protocol\": \"TCP\", \"allowedSourceAddressPrefix\": \"*\", " \
	"\"maxRequestAccessDuration\": \"PT1H\"}]}]}}"
#define NOW	"2030-01-01T00:00:00Z"
#define HOUR	"2030-01-01T01:00:00Z"
#define GW1_ID	7	/* gw1's id in the (imagined) store */

/* One port as the body names it; end and source NULL-able ("" source: none given). */
#define PORT(n, end, src) "{\"number\": " #n ", \"endTimeUtc\": \"" end "\"" src "}"
#define FROM(a) ", \"allowedSourceAddressPrefix\": \"" a "\""
#define ONE_VM(vm, ports) "{\"virtualMachines\": [{\"id\": \"" vm "\", \"ports\": [" ports "]}]}"

struct plan_case {
	struct policy *policy;
	struct initiate_body *body;
	int64_t vm_ids[4];
	struct api_initiate_in in;
	struct store_grant grants[8];
	size_t n;
	struct core_error err;
};

static int64_t
at(const char *rfc3339)
{
	int64_t ns = 0;

	assert_int_equal(time_parse_rfc3339(rfc3339, strlen(rfc3339), &ns, NULL), 0);
	return ns;
}

/* The plan of `body` against POL_BODY, by a caller at `addr` ("": not known), every VM known to the store. */
static int
plan(struct plan_case *pc, const char *body, const char *addr)
{
	struct arm_policy_id pid;
	size_t i;

	memset(pc, 0, sizeof(*pc));
	assert_int_equal(arm_policy_id_parse(POL, strlen(POL), &pid, NULL), 0);
	assert_int_equal(codec_policy_decode(POL_BODY, strlen(POL_BODY), &pid, &pc->policy, NULL), 0);
	assert_int_equal(codec_initiate_decode(body, strlen(body), &pc->body, &pc->err), 0);
	for (i = 0; i < 4; i++)
		pc->vm_ids[i] = GW1_ID + (int64_t)i;
	if (addr[0])
		assert_int_equal(net_addr_parse(addr, strlen(addr), &pc->in.caller_addr, NULL), 0);
	pc->in.body = pc->body;
	pc->in.policy = pc->policy;
	pc->in.policy_text = POL;
	pc->in.vm_ids = pc->vm_ids;
	pc->in.now_ns = at(NOW);
	pc->in.max_duration_ms = POLICY_DURATION_MAX_MS_DEFAULT;
	return api_initiate_plan(&pc->in, pc->grants, &pc->n, &pc->err);
}

static void
plan_clear(struct plan_case *pc)
{
	codec_initiate_free(pc->body);
	policy_free(pc->policy);
}

/* The plan again with pc's inputs as changed by the test. */
static int
replan(struct plan_case *pc)
{
	memset(&pc->err, 0, sizeof(pc->err));
	return api_initiate_plan(&pc->in, pc->grants, &pc->n, &pc->err);
}

static void
test_plan_grants(void **state)
{
	struct plan_case pc;
	char src[NET_PREFIX_TEXT_MAX];

	(void)state;
	assert_int_equal(plan(&pc, ONE_VM(VM1, PORT(22, HOUR, FROM("10.0.0.5")) ", " PORT(80, HOUR, FROM("*"))), ""), 0);
	assert_int_equal(pc.n, 2);
	assert_int_equal(pc.grants[0].vm_id, GW1_ID);
	assert_int_equal(pc.grants[0].port, 22);
	assert_int_equal(pc.grants[0].proto, NET_PROTO_TCP);
	assert_int_equal(pc.grants[0].end_ns, at(HOUR));
	assert_int_equal(pc.grants[0].status, STORE_GRANT_INITIATED);
	net_source_format(&pc.grants[0].source, src, sizeof(src));
	assert_string_equal(src, "10.0.0.5");
	assert_int_equal(pc.grants[1].port, 80);
	plan_clear(&pc);
}

static void
test_plan_vm_not_in_policy(void **state)
{
	struct plan_case pc;

	(void)state;
	assert_int_equal(plan(&pc, ONE_VM(VM2, PORT(22, HOUR, FROM("10.0.0.5"))), ""), -EINVAL);
	assert_error(&pc.err, "VirtualMachineNotInPolicy", "virtualMachines[0].id");
	plan_clear(&pc);
}

static void
test_plan_vm_not_in_store(void **state)
{
	struct plan_case pc;

	(void)state;
	assert_int_equal(plan(&pc, ONE_VM(VM1, PORT(22, HOUR, FROM("10.0.0.5"))), ""), 0);
	pc.vm_ids[0] = 0;
	assert_int_equal(replan(&pc), -EINVAL);
	assert_error(&pc.err, "VirtualMachineNotInPolicy", "virtualMachines[0].id");
	plan_clear(&pc);
}

static void
test_plan_duplicate_port(void **state)
{
	struct plan_case pc;

	(void)state;
	/* the second names the port again: refused as a duplicate before its own (past) end is looked at */
	assert_int_equal(plan(&pc, ONE_VM(VM1, PORT(22, HOUR, FROM("10.0.0.5")) ", " PORT(22, NOW, FROM("10.0.0.6"))),
			      ""), -EINVAL);
	assert_error(&pc.err, "DuplicatePort", "virtualMachines[0].ports[1]");
	plan_clear(&pc);
}

static void
test_plan_port_not_in_policy(void **state)
{
	struct plan_case pc;

	(void)state;
	/* before the end time's check: the port's own rule decides that */
	assert_int_equal(plan(&pc, ONE_VM(VM1, PORT(23, NOW, FROM("10.0.0.5"))), ""), -EINVAL);
	assert_error(&pc.err, "PortNotInPolicy", "virtualMachines[0].ports[0].number");
	plan_clear(&pc);
}

static void
test_plan_end_in_past(void **state)
{
	struct plan_case pc;

	(void)state;
	/* an end of now is not in the future; checked before the source (which is not allowed either) */
	assert_int_equal(plan(&pc, ONE_VM(VM1, PORT(22, NOW, FROM("192.0.2.1"))), ""), -EINVAL);
	assert_error(&pc.err, "EndTimeInPast", "virtualMachines[0].ports[0].endTimeUtc");
	plan_clear(&pc);
}

static void
test_plan_end_too_late_for_rule(void **state)
{
	struct plan_case pc;

	(void)state;
	/* 22 allows 3 hours, plus a minute's slack for client clocks */
	assert_int_equal(plan(&pc, ONE_VM(VM1, PORT(22, "2030-01-01T03:01:00Z", FROM("10.0.0.5"))), ""), 0);
	codec_initiate_free(pc.body);
	policy_free(pc.policy);
	assert_int_equal(plan(&pc, ONE_VM(VM1, PORT(22, "2030-01-01T03:01:01Z", FROM("192.0.2.1"))), ""), -EINVAL);
	assert_error(&pc.err, "EndTimeTooLate", "virtualMachines[0].ports[0].endTimeUtc");
	plan_clear(&pc);
}

static void
test_plan_end_too_late_for_deployment(void **state)
{
	struct plan_case pc;

	(void)state;
	/* the deployment's cap wins over a longer rule stored before it was lowered */
	assert_int_equal(plan(&pc, ONE_VM(VM1, PORT(22, "2030-01-01T02:00:00Z", FROM("10.0.0.5"))), ""), 0);
	pc.in.max_duration_ms = 3600 * 1000;
	assert_int_equal(replan(&pc), -EINVAL);
	assert_error(&pc.err, "EndTimeTooLate", "virtualMachines[0].ports[0].endTimeUtc");
	plan_clear(&pc);
}

static void
test_plan_missing_source(void **state)
{
	struct plan_case pc;

	(void)state;
	assert_int_equal(plan(&pc, ONE_VM(VM1, PORT(22, HOUR, "")), ""), -EINVAL);
	assert_error(&pc.err, "MissingSourceAddressPrefix", "virtualMachines[0].ports[0].allowedSourceAddressPrefix");
	plan_clear(&pc);
}

static void
test_plan_my_ip(void **state)
{
	struct plan_case pc;
	char src[NET_PREFIX_TEXT_MAX];

	(void)state;
	/* no source given: the caller's own address, alone */
	assert_int_equal(plan(&pc, ONE_VM(VM1, PORT(22, HOUR, "")), "10.0.0.9"), 0);
	net_source_format(&pc.grants[0].source, src, sizeof(src));
	assert_string_equal(src, "10.0.0.9");
	plan_clear(&pc);
	/* and it must be inside what the rule allows */
	assert_int_equal(plan(&pc, ONE_VM(VM1, PORT(22, HOUR, "")), "192.0.2.9"), -EINVAL);
	assert_error(&pc.err, "SourceAddressNotAllowed", "virtualMachines[0].ports[0].allowedSourceAddressPrefix");
	plan_clear(&pc);
}

static void
test_plan_source_not_allowed(void **state)
{
	struct plan_case pc;

	(void)state;
	assert_int_equal(plan(&pc, ONE_VM(VM1, PORT(22, HOUR, FROM("10.0.0.0/16"))), ""), -EINVAL);
	assert_error(&pc.err, "SourceAddressNotAllowed", "virtualMachines[0].ports[0].allowedSourceAddressPrefix");
	plan_clear(&pc);
}

static void
test_plan_first_error_wins(void **state)
{
	struct plan_case pc;

	(void)state;
	/* VM by VM, port by port: the second VM's bad port is never reached past the first's */
	assert_int_equal(plan(&pc, "{\"virtualMachines\": [{\"id\": \"" VM1 "\", \"ports\": [" PORT(23, HOUR, "")
			      "]}, {\"id\": \"" VM2 "\", \"ports\": [" PORT(22, HOUR, "") "]}]}", ""), -EINVAL);
	assert_error(&pc.err, "PortNotInPolicy", "virtualMachines[0].ports[0].number");
	plan_clear(&pc);
	assert_int_equal(plan(&pc, "{\"virtualMachines\": [{\"id\": \"" VM1 "\", \"ports\": [" PORT(22, HOUR, FROM("10.0.0.5"))
			      "]}, {\"id\": \"" VM2 "\", \"ports\": [" PORT(22, HOUR, "") "]}]}", ""), -EINVAL);
	assert_error(&pc.err, "VirtualMachineNotInPolicy", "virtualMachines[1].id");
	plan_clear(&pc);
}

/* A live grant of request "r1" by "token:alice" on gw1's port 22 of policy 3, ending in an hour. */
static struct store_grant
live(void)
{
	struct store_grant g;

	memset(&g, 0, sizeof(g));
	snprintf(g.request_id, sizeof(g.request_id), "r1");
	snprintf(g.requestor, sizeof(g.requestor), "token:alice");
	g.policy_id = 3;
	g.vm_id = GW1_ID;
	g.port = 22;
	g.end_ns = 2000;
	g.status = STORE_GRANT_INITIATED;
	return g;
}

static void
test_revoke_wants_own(void **state)
{
	struct store_grant g = live();

	(void)state;
	assert_true(api_revoke_wants(&g, 3, 1000, "token:alice", NULL, 0));
}

static void
test_revoke_other_policy(void **state)
{
	struct store_grant g = live();

	(void)state;
	assert_false(api_revoke_wants(&g, 4, 1000, NULL, NULL, 0));
}

static void
test_revoke_ended(void **state)
{
	struct store_grant g = live();

	(void)state;
	assert_false(api_revoke_wants(&g, 3, 2000, NULL, NULL, 0));
	assert_true(api_revoke_wants(&g, 3, 1999, NULL, NULL, 0));
}

static void
test_revoke_others_need_anyone(void **state)
{
	struct store_grant g = live();

	(void)state;
	assert_false(api_revoke_wants(&g, 3, 1000, "token:bob", NULL, 0));
	assert_true(api_revoke_wants(&g, 3, 1000, NULL, NULL, 0));
}

static void
test_revoke_named_twice(void **state)
{
	struct store_grant g = live(), ends[2] = { live(), live() };

	(void)state;
	ends[0].port = 80;
	snprintf(ends[1].request_id, sizeof(ends[1].request_id), "r0");
	/* another port of the same request, the same port of another request: not this grant */
	assert_true(api_revoke_wants(&g, 3, 1000, NULL, ends, 2));
	ends[1] = live();
	assert_false(api_revoke_wants(&g, 3, 1000, NULL, ends, 2));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plan_grants),
		cmocka_unit_test(test_plan_vm_not_in_policy),
		cmocka_unit_test(test_plan_vm_not_in_store),
		cmocka_unit_test(test_plan_duplicate_port),
		cmocka_unit_test(test_plan_port_not_in_policy),
		cmocka_unit_test(test_plan_end_in_past),
		cmocka_unit_test(test_plan_end_too_late_for_rule),
		cmocka_unit_test(test_plan_end_too_late_for_deployment),
		cmocka_unit_test(test_plan_missing_source),
		cmocka_unit_test(test_plan_my_ip),
		cmocka_unit_test(test_plan_source_not_allowed),
		cmocka_unit_test(test_plan_first_error_wins),
		cmocka_unit_test(test_revoke_wants_own),
		cmocka_unit_test(test_revoke_other_policy),
		cmocka_unit_test(test_revoke_ended),
		cmocka_unit_test(test_revoke_others_need_anyone),
		cmocka_unit_test(test_revoke_named_twice),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

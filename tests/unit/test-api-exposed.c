/*
 * The exposed-management-ports list (api-exposed.c) over a real SQLite store: which agent VMs it names, with which
 * ports, for which caller, through api_handle and fuzz/http-fake.c as a request would come.
 */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <unistd.h>

#include "api/api-internal.h"
#include "codec/codec.h"
#include "core/timeutil.h"
#include "../../fuzz/http-fake.h"
#include "testutil.h"

#define SUBID	"00000000-0000-0000-0000-000000000000"
#define RG1	"/subscriptions/" SUBID "/resourceGroups/rg1"
#define EX	"/subscriptions/" SUBID "/providers/Jitgate/exposedManagementPorts?api-version=2020-01-01"
#define EX_RG1	RG1 "/providers/Jitgate/exposedManagementPorts?api-version=2020-01-01"
#define POL	RG1 "/providers/Microsoft.Security/locations/local/jitNetworkAccessPolicies/default"
#define RG2_READER	"jg_exposedReaderRg2000000000000000000000000000000000"
#define HOSTA_READER	"jg_exposedReaderHostA00000000000000000000000000000000"

struct world {
	char dir[64], db[96];
	struct store *store;
	struct api *api;
	int64_t hosta;
};

/* An agent VM `name` of `rg` whose agent reported `listening` (supported or not); revoked when asked. */
static int64_t
agent_vm(struct world *w, const char *rg, const char *name, const char *listening, bool supported, bool revoked)
{
	struct store_agent_report rep;
	uint8_t hash[STORE_TOKEN_HASH_LEN];
	struct store_vm vm;
	int64_t id;

	memset(&vm, 0, sizeof(vm));
	snprintf(vm.arm.subscription, sizeof(vm.arm.subscription), SUBID);
	snprintf(vm.arm.resource_group, sizeof(vm.arm.resource_group), "%s", rg);
	snprintf(vm.arm.name, sizeof(vm.arm.name), "%s", name);
	snprintf(vm.location, sizeof(vm.location), "local");
	snprintf(vm.os_type, sizeof(vm.os_type), "Linux");
	vm.point = STORE_POINT_AGENT;
	assert_int_equal(store_vm_put(w->store, &vm, &id, NULL), 0);
	memset(hash, (int)id, sizeof(hash));
	assert_int_equal(store_agent_join(w->store, id, hash, "jt-test", time_now_ns()), 0);
	memset(&rep, 0, sizeof(rep));
	rep.supported = supported;
	snprintf(rep.listening, sizeof(rep.listening), "%s", listening);
	assert_int_equal(store_agent_report(w->store, id, &rep, time_now_ns()), 0);
	if (revoked)
		assert_int_equal(store_agent_revoke(w->store, id, time_now_ns()), 0);
	return id;
}

static void
reader(struct world *w, const char *name, const char *secret, const char *scope)
{
	struct store_token t;

	memset(&t, 0, sizeof(t));
	snprintf(t.name, sizeof(t.name), "%s", name);
	snprintf(t.role, sizeof(t.role), "Reader");
	snprintf(t.scope, sizeof(t.scope), "%s", scope);
	assert_int_equal(api_token_hash(secret, strlen(secret), t.hash), 0);
	assert_int_equal(store_token_insert(w->store, &t), 0);
}

/* The policy POL with this body, holding hosta, stored as its PUT would store it. */
static void
policy_store(struct world *w, const char *body)
{
	struct arm_policy_id pid;
	struct policy *p = NULL;
	int64_t id;
	bool created;
	json_t *j;
	char *text;

	assert_int_equal(arm_policy_id_parse(S(POL), &pid, NULL), 0);
	assert_int_equal(codec_policy_decode(body, strlen(body), &pid, &p, NULL), 0);
	assert_non_null(j = codec_policy_encode(p));
	assert_non_null(text = codec_dump(j, NULL));
	assert_int_equal(store_policy_put(w->store, &pid, text, &w->hosta, 1, time_now_ns(), &id, &created), 0);
	free(text);
	json_decref(j);
	policy_free(p);
}

/*
 * hosta listens on 22 (TCP and UDP), 3389 and 5985; its rules cover 22 for any protocol and 3389 for UDP only.
 * hostb is in no policy; hostc's agent was revoked; hostd's kernel cannot hold the table; hoste listens on nothing;
 * hostf is in rg2; gw1 is a gateway VM (nothing reports its listeners).
 */
static int
setup(void **state)
{
	static const char body[] = "{\"properties\": {\"virtualMachines\": [{\"id\": \"" RG1
		"/providers/Microsoft.Compute/virtualMachines/hosta\", \"ports\": [{\"number\": 22, \"protocol\": \"*\", "
		"\"allowedSourceAddressPrefix\": \"*\", \"maxRequestAccessDuration\": \"PT3H\"}, {\"number\": 3389, "
		"\"protocol\": \"UDP\", \"allowedSourceAddressPrefix\": \"*\", \"maxRequestAccessDuration\": \"PT3H\"}]}]}}";
	struct world *w = calloc(1, sizeof(*w));
	struct api_settings settings;
	struct store_vm gw;
	int64_t id;

	assert_non_null(w);
	snprintf(w->dir, sizeof(w->dir), "/tmp/test-api-exposed-XXXXXX");
	assert_non_null(mkdtemp(w->dir));
	snprintf(w->db, sizeof(w->db), "%s/jitgate.db", w->dir);
	assert_int_equal(store_open(w->db, &w->store, NULL), 0);
	memset(&settings, 0, sizeof(settings));
	snprintf(settings.subscription, sizeof(settings.subscription), SUBID);
	settings.max_duration_ms = POLICY_DURATION_MAX_MS_DEFAULT;
	assert_non_null(w->api = api_new(&settings));
	api_set_store(w->api, w->store);
	api_set_fw(w->api, NULL, "the test has no kernel firewall");

	w->hosta = agent_vm(w, "rg1", "hosta", "TCP/22 UDP/22 TCP/3389 TCP/5985", true, false);
	agent_vm(w, "rg1", "hostb", "TCP/22", true, false);
	agent_vm(w, "rg1", "hostc", "TCP/22", true, true);
	agent_vm(w, "rg1", "hostd", "TCP/3389", false, false);
	agent_vm(w, "rg1", "hoste", "", true, false);
	agent_vm(w, "rg2", "hostf", "TCP/5986", true, false);
	memset(&gw, 0, sizeof(gw));
	assert_int_equal(arm_vm_id_parse(S(RG1 "/providers/Microsoft.Compute/virtualMachines/gw1"), &gw.arm, NULL), 0);
	snprintf(gw.location, sizeof(gw.location), "local");
	snprintf(gw.os_type, sizeof(gw.os_type), "Linux");
	gw.point = STORE_POINT_GATEWAY;
	gw.n_addrs = 1;
	assert_int_equal(net_addr_parse(S("192.0.2.10"), &gw.addrs[0], NULL), 0);
	assert_int_equal(store_vm_put(w->store, &gw, &id, NULL), 0);

	policy_store(w, body);

	reader(w, "rg2reader", RG2_READER, "/subscriptions/" SUBID "/resourceGroups/rg2");
	reader(w, "hostareader", HOSTA_READER, RG1 "/providers/Microsoft.Compute/virtualMachines/hosta");
	*state = w;
	return 0;
}

static int
teardown(void **state)
{
	struct world *w = *state;

	api_free(w->api);
	store_close(w->store);
	test_rmtree(w->dir);
	free(w);
	return 0;
}

/*
 * GET target as root on the unix socket (secret NULL) or with a token: the status, and in *ret the answer
 * as "name:jitStatus:number/protocol,..." per entry, space-separated (or the error's "code target").
 */
static int
get(struct world *w, const char *target, const char *secret, char *ret, size_t size)
{
	char buf[1024], hdr[128] = "";
	struct http_request req;
	struct http_response resp;
	json_t *j, *e, *p;
	size_t n = 0, len = 0, i, k;

	buf[n++] = (char)(secret ? 0 : 8 | 16);	/* GET; root on the socket, else TCP from 10.1.2.3 */
	memcpy(buf + n, target, strlen(target) + 1);
	n += strlen(target) + 1;
	if (secret)
		snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s", secret);
	memcpy(buf + n, hdr, strlen(hdr) + 1);
	n += strlen(hdr) + 1;
	assert_int_equal(http_fake_parse((const uint8_t *)buf, n, &req), 0);
	memset(&resp, 0, sizeof(resp));
	api_handle(w->api, &req, &resp);
	api_batch_end(w->api);
	ret[0] = '\0';
	assert_non_null(j = json_loadb(resp.body, resp.body_len, 0, NULL));
	if ((e = json_object_get(j, "error")))
		snprintf(ret, size, "%s %s", json_string_value(json_object_get(e, "code")),
			 json_string_value(json_object_get(e, "target")) ? json_string_value(json_object_get(e, "target")) : "");
	json_array_foreach(json_object_get(j, "value"), i, e) {
		len += (size_t)snprintf(ret + len, size - len, "%s%s:%s:", len ? " " : "",
					json_string_value(json_object_get(e, "name")),
					json_string_value(json_object_get(e, "jitStatus")));
		json_array_foreach(json_object_get(e, "ports"), k, p)
			len += (size_t)snprintf(ret + len, size - len, "%s%lld/%s", k ? "," : "",
						(long long)json_integer_value(json_object_get(p, "number")),
						json_string_value(json_object_get(p, "protocol")));
		/* every entry has its VM's id, group, OS and the time of its agent's report */
		assert_non_null(json_string_value(json_object_get(e, "id")));
		assert_non_null(json_string_value(json_object_get(e, "resourceGroup")));
		assert_string_equal(json_string_value(json_object_get(e, "osType")), "Linux");
		assert_non_null(json_string_value(json_object_get(e, "reportedTimeUtc")));
	}
	json_decref(j);
	free(resp.body);
	http_fake_free(&req);
	return (int)resp.status;
}

/* GET target answers status with `want` (as get() writes it). */
static void
expect(struct world *w, const char *target, const char *secret, int status, const char *want)
{
	char got[1024];

	assert_int_equal(get(w, target, secret, got, sizeof(got)), status);
	assert_string_equal(got, want);
}

static void
test_what_is_exposed(void **state)
{
	/* hosta: 22 covered for both protocols, 3389/TCP not by a UDP rule, 5985 by nothing */
	expect(*state, EX, NULL, 200, "hosta:Configured:3389/TCP,5985/TCP hostb:NotConfigured:22/TCP "
				 "hostd:Unsupported:3389/TCP hostf:NotConfigured:5986/TCP");
	expect(*state, EX_RG1, NULL, 200, "hosta:Configured:3389/TCP,5985/TCP hostb:NotConfigured:22/TCP "
				 "hostd:Unsupported:3389/TCP");
	expect(*state, EX "&port=3389", NULL, 200, "hosta:Configured:3389/TCP hostd:Unsupported:3389/TCP");
	expect(*state, EX "&port=22", NULL, 200, "hostb:NotConfigured:22/TCP");
	expect(*state, EX "&$skipToken=3", NULL, 200, "hostf:NotConfigured:5986/TCP");
}

static void
test_read_scope(void **state)
{
	expect(*state, EX, RG2_READER, 200, "hostf:NotConfigured:5986/TCP");
	expect(*state, EX_RG1, RG2_READER, 200, "");
	expect(*state, EX, HOSTA_READER, 200, "hosta:Configured:3389/TCP,5985/TCP");
	expect(*state, EX, "jg_nosuchtoken00000000000000000000000000000000000", 401, "AuthenticationFailed ");
}

static void
test_bad_parameters(void **state)
{
	expect(*state, EX "&port=0", NULL, 400, "InvalidPortFilter port");
	expect(*state, EX "&port=22x", NULL, 400, "InvalidPortFilter port");
	expect(*state, EX "&port=", NULL, 400, "InvalidPortFilter port");
	expect(*state, EX "&$skipToken=-1", NULL, 400, "InvalidSkipToken $skipToken");
}

/* A rule added for what is exposed takes it off the list: the list is read from the policy as it is now. */
static void
test_covered_by_a_new_rule(void **state)
{
	static const char body[] = "{\"properties\": {\"virtualMachines\": [{\"id\": \"" RG1
		"/providers/Microsoft.Compute/virtualMachines/hosta\", \"ports\": [{\"number\": 22, \"protocol\": \"*\", "
		"\"allowedSourceAddressPrefix\": \"*\", \"maxRequestAccessDuration\": \"PT3H\"}, {\"number\": 3389, "
		"\"protocol\": \"*\", \"allowedSourceAddressPrefix\": \"*\", \"maxRequestAccessDuration\": \"PT3H\"}, "
		"{\"number\": 5985, \"protocol\": \"TCP\", \"allowedSourceAddressPrefix\": \"*\", "
		"\"maxRequestAccessDuration\": \"PT3H\"}]}]}}";
	struct world *w = *state;

	policy_store(w, body);
	expect(w, EX_RG1, NULL, 200, "hostb:NotConfigured:22/TCP hostd:Unsupported:3389/TCP");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_what_is_exposed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_scope, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_parameters, setup, teardown),
		cmocka_unit_test_setup_teardown(test_covered_by_a_new_rule, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

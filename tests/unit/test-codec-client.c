/* Unit tests for the codec's client side: the bodies the CLI builds through it, byte for byte, and its refusals equal to the decoder's. */
#include <errno.h>
#include <stdio.h>

#include "codec/codec.h"
#include "core/timeutil.h"
#include "testutil.h"

#define SUB "20ff7fc3-e762-44dd-bd96-b71116dcdc23"
#define VM1 "/subscriptions/" SUB "/resourceGroups/myRg1/providers/Microsoft.Compute/virtualMachines/vm1"

/* v as compact JSON equals want; v is consumed. */
static void
assert_json(json_t *v, const char *want)
{
	char *s;

	assert_non_null(v);
	s = codec_dump(v, NULL);
	assert_non_null(s);
	assert_string_equal(s, want);
	free(s);
	json_decref(v);
}

/* v as compact JSON (the caller frees it); v is consumed. */
static char *
dump(json_t *v, size_t *ret_len)
{
	char *s;

	assert_non_null(v);
	s = codec_dump(v, ret_len);
	json_decref(v);
	assert_non_null(s);
	return s;
}

static struct arm_vm_id
vm1(void)
{
	struct arm_vm_id id;

	assert_int_equal(arm_vm_id_parse(S(VM1), &id, NULL), 0);
	return id;
}

static int64_t
t_ns(const char *rfc3339)
{
	int64_t ns;

	assert_int_equal(time_parse_rfc3339(rfc3339, strlen(rfc3339), &ns, NULL), 0);
	return ns;
}

/* jitgate request vm1 --port 22 --port 3389 --from 10.0.0.0/24 --reason ...: the body, and the server reads it back. */
static void
test_initiate_body(void **state)
{
	struct initiate_body *b = codec_initiate_new(1, 2), *back = NULL;
	struct core_error err;
	char *text;
	size_t n;

	(void)state;
	assert_non_null(b);
	assert_int_equal(b->n_vms, 1);
	assert_int_equal(b->vms[0].n_ports, 2);
	b->vms[0].id = vm1();
	b->vms[0].ports[0].number = 22;
	b->vms[0].ports[0].end_ns = t_ns("2025-03-01T10:00:00Z");
	b->vms[0].ports[1].number = 3389;
	b->vms[0].ports[1].end_ns = t_ns("2025-03-01T11:30:00Z");
	assert_int_equal(codec_initiate_source_set(b, 0, 0, S("10.0.0.0/24"), &err), 0);
	assert_int_equal(codec_initiate_source_set(b, 0, 1, S("*"), &err), 0);
	assert_int_equal(codec_initiate_justification_set(b, S("kernel update"), &err), 0);
	text = dump(codec_initiate_encode(b), &n);
	assert_non_null(text);
	assert_string_equal(text,
		"{\"virtualMachines\":[{\"id\":\"" VM1 "\",\"ports\":["
		"{\"number\":22,\"endTimeUtc\":\"2025-03-01T10:00:00Z\",\"allowedSourceAddressPrefix\":\"10.0.0.0/24\"},"
		"{\"number\":3389,\"endTimeUtc\":\"2025-03-01T11:30:00Z\",\"allowedSourceAddressPrefix\":\"*\"}]}],"
		"\"justification\":\"kernel update\"}");
	assert_int_equal(codec_initiate_decode(text, n, &back, &err), 0);
	assert_int_equal(back->vms[0].n_ports, 2);
	assert_int_equal(back->vms[0].ports[1].number, 3389);
	assert_true(net_source_equal(&back->vms[0].ports[0].source, &b->vms[0].ports[0].source));
	assert_string_equal(back->justification, "kernel update");
	free(text);
	codec_initiate_free(back);
	codec_initiate_free(b);
}

/* No --from and no --reason: neither field is sent (the server takes the caller's address). */
static void
test_initiate_body_minimal(void **state)
{
	struct initiate_body *b = codec_initiate_new(1, 1);

	(void)state;
	assert_non_null(b);
	b->vms[0].id = vm1();
	b->vms[0].ports[0].number = 22;
	b->vms[0].ports[0].end_ns = t_ns("2025-03-01T10:00:00Z");
	assert_json(codec_initiate_encode(b), "{\"virtualMachines\":[{\"id\":\"" VM1 "\",\"ports\":["
					      "{\"number\":22,\"endTimeUtc\":\"2025-03-01T10:00:00Z\"}]}]}");
	codec_initiate_free(b);
}

/* A source the client cannot send: the same code, target and message as the server's decoder gives for it. */
static void
test_initiate_source_refused_as_decoder(void **state)
{
	static const char body[] = "{\"virtualMachines\":[{\"id\":\"" VM1 "\",\"ports\":["
				   "{\"number\":22,\"endTimeUtc\":\"2025-03-01T10:00:00Z\"},"
				   "{\"number\":80,\"endTimeUtc\":\"2025-03-01T10:00:00Z\","
				   "\"allowedSourceAddressPrefix\":\"10.0.0.300\"}]}]}";
	struct initiate_body *b = codec_initiate_new(1, 2), *back = NULL;
	struct core_error want, got;

	(void)state;
	assert_non_null(b);
	assert_int_equal(codec_initiate_decode(S(body), &back, &want), -EINVAL);
	assert_null(back);
	assert_int_equal(codec_initiate_source_set(b, 0, 1, S("10.0.0.300"), &got), -EINVAL);
	assert_error(&got, want.code, "virtualMachines[0].ports[1].allowedSourceAddressPrefix");
	assert_string_equal(got.message, want.message);
	assert_false(b->vms[0].ports[1].has_source);
	codec_initiate_free(b);
}

/* A justification longer than the server keeps: "ValueTooLong", as the decoder says it. */
static void
test_initiate_justification_refused_as_decoder(void **state)
{
	struct initiate_body *b = codec_initiate_new(1, 1), *back = NULL;
	char reason[API_JUSTIFICATION_MAX + 2], *body;
	struct core_error want, got;
	int n;

	(void)state;
	assert_non_null(b);
	memset(reason, 'x', sizeof(reason) - 1);
	reason[sizeof(reason) - 1] = '\0';
	body = malloc(sizeof(reason) + 256);
	assert_non_null(body);
	n = snprintf(body, sizeof(reason) + 256,
		     "{\"virtualMachines\":[{\"id\":\"" VM1 "\",\"ports\":[{\"number\":22,\"endTimeUtc\":"
		     "\"2025-03-01T10:00:00Z\"}]}],\"justification\":\"%s\"}", reason);
	assert_int_equal(codec_initiate_decode(body, (size_t)n, &back, &want), -EINVAL);
	assert_int_equal(codec_initiate_justification_set(b, reason, strlen(reason), &got), -EINVAL);
	assert_error(&got, "ValueTooLong", "justification");
	assert_string_equal(got.code, want.code);
	assert_string_equal(got.target, want.target);
	assert_string_equal(got.message, want.message);
	/* one byte shorter fits */
	assert_int_equal(codec_initiate_justification_set(b, reason, strlen(reason) - 1, &got), 0);
	assert_int_equal(strlen(b->justification), API_JUSTIFICATION_MAX);
	free(body);
	codec_initiate_free(b);
}

/* jitgate revoke vm1 --port 22 --port 3389 --kill-sessions, and without a port to name (the server refuses it). */
static void
test_revoke_body(void **state)
{
	struct revoke_body *b = codec_revoke_new(1, 3), *back = NULL;
	struct core_error err;
	char *text;
	size_t n;

	(void)state;
	assert_non_null(b);
	b->vms[0].id = vm1();
	b->vms[0].ports[0] = 22;
	b->vms[0].ports[1] = 3389;
	b->vms[0].n_ports = 2;		/* a client fills fewer than it made room for */
	b->terminate_sessions = true;
	text = dump(codec_revoke_encode(b), &n);
	assert_non_null(text);
	assert_string_equal(text, "{\"virtualMachines\":[{\"id\":\"" VM1 "\",\"ports\":[{\"number\":22},{\"number\":3389}]}],"
				  "\"terminateSessions\":true}");
	assert_int_equal(codec_revoke_decode(text, n, &back, &err), 0);
	assert_int_equal(back->vms[0].n_ports, 2);
	assert_true(back->terminate_sessions);
	free(text);
	codec_revoke_free(back);
	codec_revoke_free(b);

	b = codec_revoke_new(1, 0);
	assert_non_null(b);
	b->vms[0].id = vm1();
	assert_json(codec_revoke_encode(b), "{\"virtualMachines\":[{\"id\":\"" VM1 "\",\"ports\":[]}],\"terminateSessions\":false}");
	codec_revoke_free(b);
}

/* jitgate vm add gw2 --address 10.99.0.6 --address fd00:99::6: the gateway VM's PUT body, which the decoder reads back. */
static void
test_vm_body(void **state)
{
	struct codec_vm vm, back;
	struct core_error err;
	char *text;
	size_t n;

	(void)state;
	memset(&vm, 0, sizeof(vm));
	snprintf(vm.location, sizeof(vm.location), "local");
	snprintf(vm.os_type, sizeof(vm.os_type), "Linux");
	vm.point = CODEC_POINT_GATEWAY;
	assert_int_equal(net_addr_parse(S("10.99.0.6"), &vm.addrs[vm.n_addrs++], NULL), 0);
	assert_int_equal(net_addr_parse(S("fd00:99::6"), &vm.addrs[vm.n_addrs++], NULL), 0);
	text = dump(codec_vm_body_encode(&vm), &n);
	assert_non_null(text);
	assert_string_equal(text, "{\"location\":\"local\",\"properties\":{\"osType\":\"Linux\",\"enforcement\":\"gateway\","
				  "\"addresses\":[\"10.99.0.6\",\"fd00:99::6\"]}}");
	memset(&back, 0, sizeof(back));
	assert_int_equal(codec_vm_decode(text, n, &back, &err), 0);
	assert_int_equal(back.n_addrs, 2);
	assert_int_equal(back.point, CODEC_POINT_GATEWAY);
	assert_string_equal(back.os_type, "Linux");
	free(text);
}

/* jitgate enable vm1 --port 3389/tcp --max 1h --source 10.1.0.0/16 [--source fd00::/64]: the rules the CLI adds. */
static void
test_policy_port(void **state)
{
	struct net_source src[2];
	struct policy_port rule = { .number = 3389, .proto = NET_PROTO_TCP, .n_sources = 1, .sources = src,
				    .max_duration_ms = 3600 * 1000 };

	(void)state;
	assert_int_equal(net_source_parse(S("10.1.0.0/16"), &src[0], NULL), 0);
	assert_int_equal(net_source_parse(S("fd00::/64"), &src[1], NULL), 0);
	assert_json(codec_policy_port_encode(&rule), "{\"number\":3389,\"protocol\":\"TCP\",\"allowedSourceAddressPrefix\":"
						      "\"10.1.0.0/16\",\"maxRequestAccessDuration\":\"PT1H\"}");
	{
		struct arm_vm_id id = vm1();
		json_t *ports = json_array();

		assert_int_equal(json_array_append_new(ports, codec_policy_port_encode(&rule)), 0);
		assert_json(codec_policy_vm_json(&id, ports), "{\"id\":\"" VM1 "\",\"ports\":[{\"number\":3389,\"protocol\":"
			    "\"TCP\",\"allowedSourceAddressPrefix\":\"10.1.0.0/16\",\"maxRequestAccessDuration\":\"PT1H\"}]}");
	}
	rule.n_sources = 2;
	rule.sources_as_list = true;
	assert_json(codec_policy_port_encode(&rule), "{\"number\":3389,\"protocol\":\"TCP\",\"allowedSourceAddressPrefixes\":"
						      "[\"10.1.0.0/16\",\"fd00::/64\"],\"maxRequestAccessDuration\":\"PT1H\"}");
}

/* The policy body a read-modify-write PUTs back: the GET view read as a PUT body and written without the server's fields. */
static void
test_policy_body(void **state)
{
	static const char pid[] = "/subscriptions/" SUB "/resourceGroups/myRg1/providers/Microsoft.Security/locations/local/"
				  "jitNetworkAccessPolicies/default";
	struct arm_policy_id id;
	struct policy *p = NULL, *back = NULL;
	struct core_error err;
	const char *view;
	char *body;
	size_t n;

	(void)state;
	assert_int_equal(arm_policy_id_parse(S(pid), &id, NULL), 0);
	/* a new policy: kind Basic, the URL's location, no VM */
	p = policy_new();
	assert_non_null(p);
	p->id = id;
	snprintf(p->kind, sizeof(p->kind), "Basic");
	assert_json(codec_policy_body_encode(p), "{\"kind\":\"Basic\",\"location\":\"local\",\"properties\":{\"virtualMachines\":[]}}");
	policy_free(p);
	p = NULL;

	/* the server's GET view, with a rule, through decode and the body encoder, decodes to the same policy */
	view = "{\"id\":\"x\",\"name\":\"default\",\"location\":\"local\",\"kind\":\"Basic\",\"properties\":{"
	       "\"virtualMachines\":[{\"id\":\"" VM1 "\",\"ports\":[{\"number\":22,\"protocol\":\"*\","
	       "\"allowedSourceAddressPrefixes\":[\"10.0.0.0/8\"],\"maxRequestAccessDuration\":\"PT3H\"}]}],"
	       "\"requests\":[],\"provisioningState\":\"Succeeded\"}}";
	assert_int_equal(codec_policy_decode(view, strlen(view), &id, &p, &err), 0);
	body = dump(codec_policy_body_encode(p), &n);
	assert_non_null(body);
	assert_string_equal(body, "{\"kind\":\"Basic\",\"location\":\"local\",\"properties\":{\"virtualMachines\":[{\"id\":\"" VM1
				  "\",\"ports\":[{\"number\":22,\"protocol\":\"*\",\"allowedSourceAddressPrefixes\":[\"10.0.0.0/8\"],"
				  "\"maxRequestAccessDuration\":\"PT3H\"}]}]}}");
	assert_int_equal(codec_policy_decode(body, n, &id, &back, &err), 0);
	assert_int_equal(back->n_vms, 1);
	assert_int_equal(back->vms[0].ports[0].max_duration_ms, 3LL * 3600 * 1000);
	assert_true(back->vms[0].ports[0].sources_as_list);
	free(body);
	policy_free(back);
	policy_free(p);
}

/* jitgate token create alice --role JitRequester [--scope ID]. */
static void
test_token_body(void **state)
{
	(void)state;
	assert_json(codec_token_body_encode(&(struct codec_token_body){ .role = "JitRequester", .scope = VM1 }),
		    "{\"role\":\"JitRequester\",\"scope\":\"" VM1 "\"}");
	assert_json(codec_token_body_encode(&(struct codec_token_body){ .role = "Reader" }), "{\"role\":\"Reader\"}");
	/* text that JSON cannot carry is not silently dropped */
	assert_null(codec_token_body_encode(&(struct codec_token_body){ .role = "Reader", .scope = "/\xff" }));
	assert_null(codec_token_body_encode(&(struct codec_token_body){ .role = "\xc3" }));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_initiate_body),
		cmocka_unit_test(test_initiate_body_minimal),
		cmocka_unit_test(test_initiate_source_refused_as_decoder),
		cmocka_unit_test(test_initiate_justification_refused_as_decoder),
		cmocka_unit_test(test_revoke_body),
		cmocka_unit_test(test_vm_body),
		cmocka_unit_test(test_policy_port),
		cmocka_unit_test(test_policy_body),
		cmocka_unit_test(test_token_body),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

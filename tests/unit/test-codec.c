/* Unit tests for the API's JSON codec: Azure's bodies, every error code with its target, limits and round trips. */
#include <errno.h>
#include <stdio.h>

#include "codec/codec.h"
#include "core/buf.h"
#include "core/duration.h"
#include "core/timeutil.h"
#include "testutil.h"

#define SUB "20ff7fc3-e762-44dd-bd96-b71116dcdc23"
#define VM1 "/subscriptions/" SUB "/resourceGroups/myRg1/providers/Microsoft.Compute/virtualMachines/vm1"
#define VM2 "/subscriptions/" SUB "/resourceGroups/myRg1/providers/Microsoft.Compute/virtualMachines/vm2"
#define POLICY_ID "/subscriptions/" SUB "/resourceGroups/myRg1/providers/Microsoft.Security/locations/westeurope/jitNetworkAccessPolicies/default"

/* The PUT body of Azure's CreateJitNetworkAccessPolicy example, "requests" included (ignored). */
static const char azure_put[] =
	"{\n"
	"  \"kind\": \"Basic\",\n"
	"  \"properties\": {\n"
	"    \"virtualMachines\": [\n"
	"      {\n"
	"        \"id\": \"" VM1 "\",\n"
	"        \"ports\": [\n"
	"          {\"number\": 22, \"protocol\": \"*\", \"allowedSourceAddressPrefix\": \"*\", \"maxRequestAccessDuration\": \"PT3H\"},\n"
	"          {\"number\": 3389, \"protocol\": \"*\", \"allowedSourceAddressPrefix\": \"*\", \"maxRequestAccessDuration\": \"PT3H\"}\n"
	"        ]\n"
	"      }\n"
	"    ],\n"
	"    \"requests\": [\n"
	"      {\n"
	"        \"virtualMachines\": [{\"id\": \"" VM1 "\", \"ports\": [{\"number\": 3389, \"allowedSourceAddressPrefix\": \"192.127.0.2\",\n"
	"          \"endTimeUtc\": \"2018-05-17T09:06:45.5691611Z\", \"status\": \"Initiated\", \"statusReason\": \"UserRequested\"}]}],\n"
	"        \"startTimeUtc\": \"2018-05-17T08:06:45.5691611Z\",\n"
	"        \"requestor\": \"barbara@contoso.com\"\n"
	"      }\n"
	"    ]\n"
	"  }\n"
	"}\n";

/* The body of Azure's InitiateJitNetworkAccessPolicy example. */
static const char azure_initiate[] =
	"{\"virtualMachines\": [{\"id\": \"" VM1 "\", \"ports\": [{\"number\": 3389, "
	"\"endTimeUtc\": \"2018-07-12T09:53:03.3658798Z\", \"allowedSourceAddressPrefix\": \"192.127.0.2\"}]}], "
	"\"justification\": \"testing a new version of the product\"}";

static struct arm_policy_id
policy_id(void)
{
	struct arm_policy_id id;
	struct core_error err;

	assert_int_equal(arm_policy_id_parse(S(POLICY_ID), &id, &err), 0);
	return id;
}

/* The kind a policy answers with: what was sent, or Azure's default. */
static const char *
kind_answered(const struct policy *p)
{
	return p->kind[0] != '\0' ? p->kind : POLICY_KIND_DEFAULT;
}

/* A rule built in code has no text of its own; one decoded keeps the text it was sent. */
static bool
duration_text_equal(const struct policy_port *a, const struct policy_port *b)
{
	return a->max_duration_text[0] == '\0' || b->max_duration_text[0] == '\0' ||
	    strcmp(a->max_duration_text, b->max_duration_text) == 0;
}

static bool
policy_equal(const struct policy *a, const struct policy *b)
{
	size_t i, j, k;

	if (!arm_policy_id_equal(&a->id, &b->id) || strcmp(kind_answered(a), kind_answered(b)) != 0 || a->n_vms != b->n_vms)
		return false;
	for (i = 0; i < a->n_vms; i++) {
		const struct policy_vm *va = &a->vms[i], *vb = &b->vms[i];

		if (strcmp(va->id.subscription, vb->id.subscription) != 0 ||
		    strcmp(va->id.resource_group, vb->id.resource_group) != 0 ||
		    strcmp(va->id.name, vb->id.name) != 0 || va->n_ports != vb->n_ports ||
		    !net_addr_equal(&va->public_ip, &vb->public_ip))
			return false;
		for (j = 0; j < va->n_ports; j++) {
			const struct policy_port *pa = &va->ports[j], *pb = &vb->ports[j];

			if (pa->number != pb->number || pa->proto != pb->proto ||
			    pa->sources_as_list != pb->sources_as_list || pa->n_sources != pb->n_sources ||
			    pa->max_duration_ms != pb->max_duration_ms || !duration_text_equal(pa, pb) ||
			    pa->mapped_port != pb->mapped_port)
				return false;
			for (k = 0; k < pa->n_sources; k++)
				if (!net_source_equal(&pa->sources[k], &pb->sources[k]))
					return false;
		}
	}
	return true;
}

static struct policy *
decode_policy(const char *body)
{
	struct arm_policy_id id = policy_id();
	struct policy *p = NULL;
	struct core_error err;
	int r;

	r = codec_policy_decode(body, strlen(body), &id, &p, &err);
	if (r < 0)
		fail_msg("decode failed: %s %s: %s", err.code, err.target, err.message);
	assert_non_null(p);
	return p;
}

/* Encode p, serialise it, decode that again and demand the same policy; returns the serialised text. */
static char *
round_trip(const struct policy *p)
{
	json_t *j = codec_policy_encode(p);
	struct policy *again;
	size_t n;
	char *s;

	assert_non_null(j);
	s = codec_dump(j, &n);
	assert_non_null(s);
	assert_int_equal(n, strlen(s));
	json_decref(j);
	again = decode_policy(s);
	assert_true(policy_equal(p, again));
	policy_free(again);
	return s;
}

static void
policy_fails(const char *body, const char *code, const char *target)
{
	struct arm_policy_id id = policy_id();
	struct policy *sentinel = (struct policy *)&id, *p = sentinel;
	struct core_error err;

	memset(&err, 0, sizeof(err));
	assert_int_equal(codec_policy_decode(body, strlen(body), &id, &p, &err), -EINVAL);
	if (strcmp(err.code, code) != 0 || strcmp(err.target, target) != 0)
		fail_msg("%s: got %s at '%s' (%s), want %s at '%s'", body, err.code, err.target, err.message, code,
		    target);
	assert_true(err.message[0] != '\0');
	assert_ptr_equal(p, sentinel);	/* nothing written on failure */
	/* The same failure without an error record. */
	assert_int_equal(codec_policy_decode(body, strlen(body), &id, &p, NULL), -EINVAL);
}

/* A policy body with one VM and one port whose members are `port` (a JSON fragment). */
static char *
one_port(const char *port)
{
	struct buf b = { 0 };

	assert_int_equal(buf_printf(&b, "{\"properties\":{\"virtualMachines\":[{\"id\":\"%s\",\"ports\":[{%s}]}]}}",
	    VM1, port), 0);
	return b.data;
}

static void
port_fails(const char *port, const char *code, const char *target)
{
	char *body = one_port(port);

	policy_fails(body, code, target);
	free(body);
}

#define P0 "properties.virtualMachines[0].ports[0]"
#define GOOD_PORT "\"number\":22,\"protocol\":\"TCP\",\"allowedSourceAddressPrefix\":\"*\",\"maxRequestAccessDuration\":\"PT3H\""

static void
test_policy_azure_example(void **state)
{
	struct policy *p = decode_policy(azure_put);
	json_t *j, *props, *port;
	struct core_error err;
	char *s;

	assert_string_equal(p->kind, "Basic");
	assert_string_equal(p->id.location, "westeurope");
	assert_int_equal(p->n_vms, 1);
	assert_string_equal(p->vms[0].id.name, "vm1");
	assert_string_equal(p->vms[0].id.resource_group, "myRg1");
	assert_int_equal(p->vms[0].n_ports, 2);
	assert_int_equal(p->vms[0].ports[0].number, 22);
	assert_int_equal(p->vms[0].ports[0].proto, NET_PROTO_ANY);
	assert_false(p->vms[0].ports[0].sources_as_list);
	assert_int_equal(p->vms[0].ports[0].n_sources, 1);
	assert_true(p->vms[0].ports[0].sources[0].any);
	assert_int_equal(p->vms[0].ports[0].max_duration_ms, 3LL * 3600 * 1000);
	assert_int_equal(p->vms[0].ports[1].number, 3389);
	assert_int_equal(policy_validate(p, 0, &err), 0);

	/* The response as Azure's example shows it (requests are the caller's to add). */
	j = codec_policy_encode(p);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "id")), POLICY_ID);
	assert_string_equal(json_string_value(json_object_get(j, "name")), "default");
	assert_string_equal(json_string_value(json_object_get(j, "type")),
	    "Microsoft.Security/locations/jitNetworkAccessPolicies");
	assert_string_equal(json_string_value(json_object_get(j, "location")), "westeurope");
	assert_string_equal(json_string_value(json_object_get(j, "kind")), "Basic");
	props = json_object_get(j, "properties");
	assert_string_equal(json_string_value(json_object_get(props, "provisioningState")), "Succeeded");
	assert_null(json_object_get(props, "requests"));
	assert_int_equal(json_object_size(j), 6);
	assert_int_equal(json_object_size(props), 2);
	port = json_array_get(json_object_get(json_array_get(json_object_get(props, "virtualMachines"), 0), "ports"), 1);
	assert_int_equal(json_object_size(port), 4);
	assert_int_equal(json_integer_value(json_object_get(port, "number")), 3389);
	assert_string_equal(json_string_value(json_object_get(port, "protocol")), "*");
	assert_string_equal(json_string_value(json_object_get(port, "allowedSourceAddressPrefix")), "*");
	assert_string_equal(json_string_value(json_object_get(port, "maxRequestAccessDuration")), "PT3H");
	assert_null(json_object_get(port, "allowedSourceAddressPrefixes"));
	assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(props, "virtualMachines"), 0), "id")), VM1);
	json_decref(j);

	s = round_trip(p);
	assert_string_equal(s,
	    "{\"id\":\"" POLICY_ID "\",\"name\":\"default\",\"type\":\"Microsoft.Security/locations/jitNetworkAccessPolicies\","
	    "\"location\":\"westeurope\",\"kind\":\"Basic\",\"properties\":{\"virtualMachines\":[{\"id\":\"" VM1 "\",\"ports\":["
	    "{\"number\":22,\"protocol\":\"*\",\"allowedSourceAddressPrefix\":\"*\",\"maxRequestAccessDuration\":\"PT3H\"},"
	    "{\"number\":3389,\"protocol\":\"*\",\"allowedSourceAddressPrefix\":\"*\",\"maxRequestAccessDuration\":\"PT3H\"}]}],"
	    "\"provisioningState\":\"Succeeded\"}}");
	free(s);
	policy_free(p);
}

static void
test_policy_normalised(void **state)
{
	static const char body[] =
		"{\"location\":\"WestEurope\",\"properties\":{\"virtualMachines\":["
		"{\"id\":\"" VM1 "\",\"ports\":["
		"{\"number\":22,\"protocol\":\"tcp\",\"allowedSourceAddressPrefixes\":[\"10.1.2.3/8\",\"2001:DB8::1\"],\"maxRequestAccessDuration\":\"P1D\"},"
		"{\"number\":53,\"protocol\":\"Udp\",\"allowedSourceAddressPrefix\":\"192.168.7.7/16\",\"maxRequestAccessDuration\":\"PT90M\"}]},"
		"{\"id\":\"" VM2 "\",\"ports\":[]}]}}";
	struct policy *p = decode_policy(body);
	json_t *j, *port;
	char *s;

	assert_int_equal(p->n_vms, 2);
	assert_true(p->vms[0].ports[0].sources_as_list);
	assert_int_equal(p->vms[0].ports[0].n_sources, 2);
	assert_int_equal(p->vms[0].ports[0].proto, NET_PROTO_TCP);
	assert_int_equal(p->vms[0].ports[1].proto, NET_PROTO_UDP);
	assert_int_equal(p->vms[1].n_ports, 0);
	assert_string_equal(p->kind, "");

	j = codec_policy_encode(p);
	assert_non_null(j);
	/* none sent: Azure's "Basic" in the answer, and nothing added to a client's PUT body */
	assert_string_equal(json_string_value(json_object_get(j, "kind")), "Basic");
	assert_string_equal(json_string_value(json_object_get(j, "location")), "westeurope");
	port = json_array_get(json_object_get(json_array_get(json_object_get(json_object_get(j, "properties"),
	    "virtualMachines"), 0), "ports"), 0);
	assert_string_equal(json_string_value(json_object_get(port, "protocol")), "TCP");
	assert_string_equal(json_string_value(json_array_get(json_object_get(port, "allowedSourceAddressPrefixes"), 0)),
	    "10.0.0.0/8");
	assert_string_equal(json_string_value(json_array_get(json_object_get(port, "allowedSourceAddressPrefixes"), 1)),
	    "2001:db8::1");
	assert_null(json_object_get(port, "allowedSourceAddressPrefix"));
	/* the duration as it was sent, not rewritten: desired-state tools see no drift */
	assert_string_equal(json_string_value(json_object_get(port, "maxRequestAccessDuration")), "P1D");
	assert_int_equal(p->vms[0].ports[0].max_duration_ms, 24 * 3600 * 1000);
	json_decref(j);
	j = codec_policy_body_encode(p);
	assert_non_null(j);
	assert_null(json_object_get(j, "kind"));
	json_decref(j);
	s = round_trip(p);
	assert_non_null(strstr(s, "\"allowedSourceAddressPrefix\":\"192.168.0.0/16\""));
	assert_non_null(strstr(s, "\"maxRequestAccessDuration\":\"PT90M\""));
	assert_non_null(strstr(s, "\"maxRequestAccessDuration\":\"P1D\""));
	assert_non_null(strstr(s, "\"kind\":\"Basic\""));
	free(s);
	policy_free(p);
}

/* A model that says "one prefix" but holds two is written as a list rather than losing one. */
/* What a client wrote comes back as written: the kind (an empty one is none) and each duration's words. */
static void
test_policy_as_sent(void **state)
{
	static const char *const durations[][2] = {
		{ "P1D", "86400000" }, { "PT3H", "10800000" }, { "PT180M", "10800000" }, { "PT1,5H", "5400000" },
		{ "P0W", "0" }, { "PT0.5H", "1800000" }, { "PT10800S", "10800000" },
	};
	char body[1024];
	struct policy *p;
	json_t *j;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(durations) / sizeof(durations[0]); i++) {
		snprintf(body, sizeof(body), "{\"kind\":\"%s\",\"properties\":{\"virtualMachines\":[{\"id\":\"" VM1 "\","
		    "\"ports\":[{\"number\":22,\"protocol\":\"TCP\",\"allowedSourceAddressPrefix\":\"*\","
		    "\"maxRequestAccessDuration\":\"%s\"}]}]}}", i % 2 ? "" : "Custom", durations[i][0]);
		p = decode_policy(body);
		assert_int_equal(p->vms[0].ports[0].max_duration_ms, strtoll(durations[i][1], NULL, 10));
		j = codec_policy_encode(p);
		assert_non_null(j);
		assert_string_equal(json_string_value(json_object_get(j, "kind")), i % 2 ? "Basic" : "Custom");
		assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(json_array_get(
		    json_object_get(json_object_get(j, "properties"), "virtualMachines"), 0), "ports"), 0),
		    "maxRequestAccessDuration")), durations[i][0]);
		json_decref(j);
		free(round_trip(p));
		policy_free(p);
	}
}

static void
test_policy_encode_list_fallback(void **state)
{
	struct policy *p = decode_policy(azure_put);
	struct policy_port *port = &p->vms[0].ports[0];
	json_t *j, *jp;

	assert_int_equal(policy_port_sources_alloc(port, 2), 0);
	assert_int_equal(net_source_parse(S("10.0.0.0/8"), &port->sources[0], NULL), 0);
	assert_int_equal(net_source_parse(S("10.1.0.0/16"), &port->sources[1], NULL), 0);
	port->sources_as_list = false;
	j = codec_policy_encode(p);
	assert_non_null(j);
	jp = json_array_get(json_object_get(json_array_get(json_object_get(json_object_get(j, "properties"),
	    "virtualMachines"), 0), "ports"), 0);
	assert_int_equal(json_array_size(json_object_get(jp, "allowedSourceAddressPrefixes")), 2);
	json_decref(j);
	policy_free(p);
}

static void
test_policy_missing(void **state)
{
	policy_fails("{}", "MissingField", "properties");
	policy_fails("{\"properties\":{}}", "MissingField", "properties.virtualMachines");
	policy_fails("{\"properties\":{\"virtualMachines\":null}}", "MissingField", "properties.virtualMachines");
	policy_fails("{\"properties\":{\"virtualMachines\":[{\"ports\":[]}]}}", "MissingField",
	    "properties.virtualMachines[0].id");
	policy_fails("{\"properties\":{\"virtualMachines\":[{\"id\":\"" VM1 "\"}]}}", "MissingField",
	    "properties.virtualMachines[0].ports");
	port_fails("\"protocol\":\"TCP\",\"allowedSourceAddressPrefix\":\"*\",\"maxRequestAccessDuration\":\"PT3H\"",
	    "MissingField", P0 ".number");
	port_fails("\"number\":22,\"allowedSourceAddressPrefix\":\"*\",\"maxRequestAccessDuration\":\"PT3H\"",
	    "MissingField", P0 ".protocol");
	port_fails("\"number\":22,\"protocol\":\"TCP\",\"allowedSourceAddressPrefix\":\"*\"",
	    "MissingField", P0 ".maxRequestAccessDuration");
	port_fails("\"number\":22,\"protocol\":\"TCP\",\"maxRequestAccessDuration\":\"PT3H\"",
	    "MissingSourceAddressPrefix", P0);
	port_fails("\"number\":22,\"protocol\":\"TCP\",\"allowedSourceAddressPrefix\":null,\"maxRequestAccessDuration\":\"PT3H\"",
	    "MissingSourceAddressPrefix", P0);
	port_fails("\"number\":22,\"protocol\":\"TCP\",\"allowedSourceAddressPrefix\":\"*\","
	    "\"allowedSourceAddressPrefixes\":[\"10.0.0.0/8\"],\"maxRequestAccessDuration\":\"PT3H\"",
	    "AmbiguousSourceAddressPrefix", P0);
	/* Both given, one of them empty, is still both. */
	port_fails("\"number\":22,\"protocol\":\"TCP\",\"allowedSourceAddressPrefix\":\"*\","
	    "\"allowedSourceAddressPrefixes\":[],\"maxRequestAccessDuration\":\"PT3H\"",
	    "AmbiguousSourceAddressPrefix", P0);
}

static void
test_policy_types(void **state)
{
	policy_fails("[]", "InvalidType", "");
	policy_fails("{\"properties\":[]}", "InvalidType", "properties");
	policy_fails("{\"properties\":{\"virtualMachines\":{}}}", "InvalidType", "properties.virtualMachines");
	policy_fails("{\"properties\":{\"virtualMachines\":[\"" VM1 "\"]}}", "InvalidType", "properties.virtualMachines[0]");
	policy_fails("{\"properties\":{\"virtualMachines\":[{\"id\":5,\"ports\":[]}]}}", "InvalidType",
	    "properties.virtualMachines[0].id");
	policy_fails("{\"properties\":{\"virtualMachines\":[{\"id\":\"" VM1 "\",\"ports\":{}}]}}", "InvalidType",
	    "properties.virtualMachines[0].ports");
	policy_fails("{\"properties\":{\"virtualMachines\":[{\"id\":\"" VM1 "\",\"ports\":[22]}]}}", "InvalidType", P0);
	policy_fails("{\"kind\":1,\"properties\":{\"virtualMachines\":[]}}", "InvalidType", "kind");
	policy_fails("{\"location\":true,\"properties\":{\"virtualMachines\":[]}}", "InvalidType", "location");
	port_fails("\"number\":\"22\",\"protocol\":\"TCP\",\"allowedSourceAddressPrefix\":\"*\",\"maxRequestAccessDuration\":\"PT3H\"",
	    "InvalidType", P0 ".number");
	port_fails("\"number\":22.0,\"protocol\":\"TCP\",\"allowedSourceAddressPrefix\":\"*\",\"maxRequestAccessDuration\":\"PT3H\"",
	    "InvalidType", P0 ".number");
	port_fails("\"number\":true,\"protocol\":\"TCP\",\"allowedSourceAddressPrefix\":\"*\",\"maxRequestAccessDuration\":\"PT3H\"",
	    "InvalidType", P0 ".number");
	port_fails("\"number\":22,\"protocol\":6,\"allowedSourceAddressPrefix\":\"*\",\"maxRequestAccessDuration\":\"PT3H\"",
	    "InvalidType", P0 ".protocol");
	port_fails("\"number\":22,\"protocol\":\"TCP\",\"allowedSourceAddressPrefix\":[\"*\"],\"maxRequestAccessDuration\":\"PT3H\"",
	    "InvalidType", P0 ".allowedSourceAddressPrefix");
	port_fails("\"number\":22,\"protocol\":\"TCP\",\"allowedSourceAddressPrefixes\":\"*\",\"maxRequestAccessDuration\":\"PT3H\"",
	    "InvalidType", P0 ".allowedSourceAddressPrefixes");
	port_fails("\"number\":22,\"protocol\":\"TCP\",\"allowedSourceAddressPrefixes\":[\"*\",7],\"maxRequestAccessDuration\":\"PT3H\"",
	    "InvalidType", P0 ".allowedSourceAddressPrefixes[1]");
	port_fails("\"number\":22,\"protocol\":\"TCP\",\"allowedSourceAddressPrefix\":\"*\",\"maxRequestAccessDuration\":10800",
	    "InvalidType", P0 ".maxRequestAccessDuration");
}

static void
test_policy_values(void **state)
{
	struct buf b = { 0 };
	int i;

	port_fails("\"number\":0,\"protocol\":\"TCP\",\"allowedSourceAddressPrefix\":\"*\",\"maxRequestAccessDuration\":\"PT3H\"",
	    "InvalidPort", P0 ".number");
	port_fails("\"number\":65536,\"protocol\":\"TCP\",\"allowedSourceAddressPrefix\":\"*\",\"maxRequestAccessDuration\":\"PT3H\"",
	    "InvalidPort", P0 ".number");
	port_fails("\"number\":-22,\"protocol\":\"TCP\",\"allowedSourceAddressPrefix\":\"*\",\"maxRequestAccessDuration\":\"PT3H\"",
	    "InvalidPort", P0 ".number");
	port_fails("\"number\":22,\"protocol\":\"ICMP\",\"allowedSourceAddressPrefix\":\"*\",\"maxRequestAccessDuration\":\"PT3H\"",
	    "InvalidProtocol", P0 ".protocol");
	port_fails("\"number\":22,\"protocol\":\"TCP\",\"allowedSourceAddressPrefix\":\"10.0.0.300\",\"maxRequestAccessDuration\":\"PT3H\"",
	    "InvalidPrefix", P0 ".allowedSourceAddressPrefix");
	port_fails("\"number\":22,\"protocol\":\"TCP\",\"allowedSourceAddressPrefixes\":[\"10.0.0.0/8\",\"10.0.0.0/33\"],\"maxRequestAccessDuration\":\"PT3H\"",
	    "InvalidPrefix", P0 ".allowedSourceAddressPrefixes[1]");
	port_fails("\"number\":22,\"protocol\":\"TCP\",\"allowedSourceAddressPrefix\":\"*\",\"maxRequestAccessDuration\":\"3 hours\"",
	    "InvalidDuration", P0 ".maxRequestAccessDuration");
	policy_fails("{\"properties\":{\"virtualMachines\":[{\"id\":\"/subscriptions/x\",\"ports\":[]}]}}",
	    "InvalidResourceId", "properties.virtualMachines[0].id");
	policy_fails("{\"properties\":{\"virtualMachines\":[{\"id\":\"/subscriptions/" SUB
	    "/resourceGroups/myRg1/providers/Microsoft.Compute/virtualMachines/-vm\",\"ports\":[]}]}}",
	    "InvalidVirtualMachineName", "properties.virtualMachines[0].id");
	policy_fails("{\"kind\":\"0123456789abcdef0123456789abcdef\",\"properties\":{\"virtualMachines\":[]}}",
	    "InvalidKind", "kind");

	/* Counts beyond the model's limits. */
	assert_int_equal(buf_printf(&b, "{\"properties\":{\"virtualMachines\":[{\"id\":\"%s\",\"ports\":[", VM1), 0);
	for (i = 0; i <= POLICY_PORTS_MAX; i++)
		assert_int_equal(buf_printf(&b, "%s{%s}", i ? "," : "", GOOD_PORT), 0);
	assert_int_equal(buf_printf(&b, "]}]}}"), 0);
	policy_fails(b.data, "TooManyPorts", "properties.virtualMachines[0].ports");
	buf_reset(&b);
	assert_int_equal(buf_printf(&b, "\"number\":22,\"protocol\":\"TCP\",\"maxRequestAccessDuration\":\"PT3H\","
	    "\"allowedSourceAddressPrefixes\":["), 0);
	for (i = 0; i <= POLICY_SOURCES_MAX; i++)
		assert_int_equal(buf_printf(&b, "%s\"10.0.%d.0/24\"", i ? "," : "", i), 0);
	assert_int_equal(buf_printf(&b, "]"), 0);
	port_fails(b.data, "TooManySourceAddressPrefixes", P0 ".allowedSourceAddressPrefixes");
	buf_reset(&b);
	assert_int_equal(buf_printf(&b, "{\"properties\":{\"virtualMachines\":["), 0);
	for (i = 0; i <= POLICY_VMS_MAX; i++)
		assert_int_equal(buf_printf(&b, "%s{\"id\":\"%s\",\"ports\":[]}", i ? "," : "", VM1), 0);
	assert_int_equal(buf_printf(&b, "]}}"), 0);
	policy_fails(b.data, "TooManyVirtualMachines", "properties.virtualMachines");
	buf_free(&b);
}

/* Gateway DNAT: publicIpAddress (Azure's, on the policy VM) and mappedPort (jitgate's, on a rule) survive a round trip. */
static void
test_policy_dnat(void **state)
{
	static const char body[] = "{\"properties\":{\"virtualMachines\":[{\"id\":\"" VM1 "\",\"publicIpAddress\":"
		"\"fd00::1\",\"ports\":[{" GOOD_PORT ",\"mappedPort\":50022},{\"number\":3389,\"protocol\":\"*\","
		"\"allowedSourceAddressPrefix\":\"*\",\"maxRequestAccessDuration\":\"PT3H\"}]},{\"id\":\"" VM1 "\","
		"\"publicIpAddress\":\"\",\"ports\":[]}]}}";
	struct policy *p = decode_policy(body);
	char *s;

	assert_int_equal(p->vms[0].public_ip.family, NET_INET6);
	assert_int_equal(p->vms[0].ports[0].mapped_port, 50022);
	assert_int_equal(p->vms[0].ports[1].mapped_port, 0);
	assert_int_equal(p->vms[1].public_ip.family, 0);	/* Azure's "" for none */
	s = round_trip(p);
	assert_non_null(strstr(s, "\"publicIpAddress\":\"fd00::1\""));
	assert_non_null(strstr(s, "\"mappedPort\":50022"));
	assert_null(strstr(s, "\"publicIpAddress\":\"\""));	/* none is not written */
	free(s);
	policy_free(p);
	port_fails(GOOD_PORT ",\"mappedPort\":0", "InvalidPort", P0 ".mappedPort");
	port_fails(GOOD_PORT ",\"mappedPort\":65536", "InvalidPort", P0 ".mappedPort");
	port_fails(GOOD_PORT ",\"mappedPort\":\"22\"", "InvalidType", P0 ".mappedPort");
	policy_fails("{\"properties\":{\"virtualMachines\":[{\"id\":\"" VM1 "\",\"publicIpAddress\":\"10.0.0.0/24\","
	    "\"ports\":[]}]}}", "InvalidAddress", "properties.virtualMachines[0].publicIpAddress");
	policy_fails("{\"properties\":{\"virtualMachines\":[{\"id\":\"" VM1 "\",\"publicIpAddress\":4,"
	    "\"ports\":[]}]}}", "InvalidType", "properties.virtualMachines[0].publicIpAddress");
}

static void
test_policy_location(void **state)
{
	struct policy *p;

	p = decode_policy("{\"location\":\"WESTEUROPE\",\"properties\":{\"virtualMachines\":[]}}");
	assert_string_equal(p->id.location, "westeurope");	/* the URL's spelling is kept */
	policy_free(p);
	policy_fails("{\"location\":\"eastus\",\"properties\":{\"virtualMachines\":[]}}", "LocationMismatch", "location");
	policy_fails("{\"location\":\"\",\"properties\":{\"virtualMachines\":[]}}", "LocationMismatch", "location");
}

static void
test_policy_unknown_ignored(void **state)
{
	static const char body[] =
		"{\"id\":\"/whatever\",\"name\":\"other\",\"type\":\"x\",\"etag\":\"W/1\",\"kind\":null,\"tags\":{\"a\":[1,2,{}]},"
		"\"properties\":{\"provisioningState\":\"Failed\",\"requests\":17,\"virtualMachines\":["
		"{\"id\":\"" VM1 "\",\"publicIpAddress\":\"1.2.3.4\",\"ports\":[{\"number\":22,\"protocol\":\"TCP\","
		"\"allowedSourceAddressPrefix\":\"*\",\"allowedSourceAddressPrefixes\":null,\"maxRequestAccessDuration\":\"PT3H\","
		"\"mappedPort\":2222,\"extra\":{\"deep\":[true]}}]}]}}";
	struct policy *p = decode_policy(body);

	assert_string_equal(p->id.name, "default");	/* the URL's id, not the body's */
	assert_string_equal(p->kind, "");
	assert_int_equal(p->vms[0].n_ports, 1);
	assert_false(p->vms[0].ports[0].sources_as_list);
	policy_free(p);
}

static void
test_json_errors(void **state)
{
	struct arm_policy_id id = policy_id();
	struct core_error err;
	struct policy *p = NULL;
	struct buf b = { 0 };
	char *s;
	size_t n;
	int i;

	policy_fails("", "InvalidJson", "");
	policy_fails("null", "InvalidJson", "");
	policy_fails("{\"properties\":", "InvalidJson", "");
	policy_fails("{\"properties\":{\"virtualMachines\":[]}} x", "InvalidJson", "");
	policy_fails("{'properties':{}}", "InvalidJson", "");
	assert_int_equal(codec_policy_decode(S("{\n  \"a\": tru }"), &id, &p, &err), -EINVAL);
	assert_non_null(strstr(err.message, "line 2"));
	/* Duplicate keys, at the top and deep inside. */
	policy_fails("{\"properties\":{\"virtualMachines\":[]},\"properties\":{\"virtualMachines\":[]}}", "InvalidJson", "");
	port_fails("\"number\":22,\"number\":23,\"protocol\":\"TCP\",\"allowedSourceAddressPrefix\":\"*\",\"maxRequestAccessDuration\":\"PT3H\"",
	    "InvalidJson", "");
	/* Not UTF-8; a NUL inside a string; a NUL in the body. */
	policy_fails("{\"kind\":\"\xff\",\"properties\":{\"virtualMachines\":[]}}", "InvalidJson", "");
	policy_fails("{\"kind\":\"a\\u0000b\",\"properties\":{\"virtualMachines\":[]}}", "InvalidJson", "");
	assert_int_equal(codec_policy_decode(S("{\"properties\":{\"virtualMachines\":[]}}\0"), &id, &p, &err), -EINVAL);
	assert_string_equal(err.code, "InvalidJson");

	/* The body is (pointer, length): no NUL needed, nothing past n read. */
	s = test_copy_unterminated(azure_put, &n);
	assert_int_equal(codec_policy_decode(s, n, &id, &p, &err), 0);
	assert_int_equal(p->vms[0].n_ports, 2);
	policy_free(p);
	assert_int_equal(codec_policy_decode(s, n - 2, &id, &p, &err), -EINVAL);	/* cut before the last '}' */
	assert_string_equal(err.code, "InvalidJson");
	free(s);

	/* Nesting: API_JSON_DEPTH_MAX levels pass, one more fails. "tags" (depth 2) opens the arrays. */
	for (i = 2; i <= API_JSON_DEPTH_MAX + 1; i++) {
		int k;

		buf_reset(&b);
		assert_int_equal(buf_printf(&b, "{\"properties\":{\"virtualMachines\":[]},\"tags\":"), 0);
		for (k = 2; k <= i; k++)
			assert_int_equal(buf_printf(&b, "["), 0);
		for (k = 2; k <= i; k++)
			assert_int_equal(buf_printf(&b, "]"), 0);
		assert_int_equal(buf_printf(&b, "}"), 0);
		if (i <= API_JSON_DEPTH_MAX) {
			assert_int_equal(codec_policy_decode(b.data, b.len, &id, &p, &err), 0);
			policy_free(p);
		} else {
			policy_fails(b.data, "InvalidJson", "");
			assert_int_equal(codec_policy_decode(b.data, b.len, &id, &p, &err), -EINVAL);
			assert_non_null(strstr(err.message, "32"));
		}
	}
	/* Very deep nesting (beyond jansson's own limit, too) is refused, not a crash. */
	buf_reset(&b);
	for (i = 0; i < 5000; i++)
		assert_int_equal(buf_append(&b, "[", 1), 0);
	policy_fails(b.data, "InvalidJson", "");

	/* String length: API_STRING_MAX bytes pass, one more fails, wherever the string is. */
	buf_reset(&b);
	assert_int_equal(buf_printf(&b, "{\"properties\":{\"virtualMachines\":[],\"note\":\""), 0);
	for (i = 0; i < API_STRING_MAX; i++)
		assert_int_equal(buf_append(&b, "x", 1), 0);
	assert_int_equal(buf_printf(&b, "\"}}"), 0);
	assert_int_equal(codec_policy_decode(b.data, b.len, &id, &p, &err), 0);
	policy_free(p);
	buf_reset(&b);
	assert_int_equal(buf_printf(&b, "{\"properties\":{\"virtualMachines\":[],\"note\":[\""), 0);
	for (i = 0; i <= API_STRING_MAX; i++)
		assert_int_equal(buf_append(&b, "x", 1), 0);
	assert_int_equal(buf_printf(&b, "\"]}}"), 0);
	policy_fails(b.data, "ValueTooLong", "properties.note[0]");
	buf_reset(&b);
	assert_int_equal(buf_printf(&b, "{\"properties\":{\"virtualMachines\":[],\""), 0);
	for (i = 0; i <= API_STRING_MAX; i++)
		assert_int_equal(buf_append(&b, "k", 1), 0);
	assert_int_equal(buf_printf(&b, "\":1}}"), 0);
	policy_fails(b.data, "ValueTooLong", "properties");
	buf_free(&b);

	/* A body larger than the HTTP layer lets through. */
	s = calloc(1, API_BODY_MAX + 2);
	assert_non_null(s);
	memset(s, ' ', API_BODY_MAX + 1);
	s[0] = '{';
	s[API_BODY_MAX] = '}';
	assert_int_equal(codec_policy_decode(s, API_BODY_MAX + 1, &id, &p, &err), -EINVAL);
	assert_error(&err, "BodyTooLarge", "");
	free(s);
}

/* ---- initiate ---- */

static struct initiate_body *
decode_initiate(const char *body)
{
	struct initiate_body *b = NULL;
	struct core_error err;

	if (codec_initiate_decode(body, strlen(body), &b, &err) < 0)
		fail_msg("initiate decode failed: %s %s: %s", err.code, err.target, err.message);
	assert_non_null(b);
	return b;
}

static void
initiate_fails(const char *body, const char *code, const char *target)
{
	struct initiate_body *sentinel = (struct initiate_body *)&sentinel, *b = sentinel;
	struct core_error err;

	memset(&err, 0, sizeof(err));
	assert_int_equal(codec_initiate_decode(body, strlen(body), &b, &err), -EINVAL);
	if (strcmp(err.code, code) != 0 || strcmp(err.target, target) != 0)
		fail_msg("%s: got %s at '%s' (%s), want %s at '%s'", body, err.code, err.target, err.message, code,
		    target);
	assert_true(err.message[0] != '\0');
	assert_ptr_equal(b, sentinel);
}

/* An initiate body with one VM and one port whose members are `port`. */
static void
initiate_port_fails(const char *port, const char *code, const char *target)
{
	struct buf b = { 0 };

	assert_int_equal(buf_printf(&b, "{\"virtualMachines\":[{\"id\":\"%s\",\"ports\":[{%s}]}]}", VM1, port), 0);
	initiate_fails(b.data, code, target);
	buf_free(&b);
}

static void
test_initiate_azure_example(void **state)
{
	struct initiate_body *b = decode_initiate(azure_initiate), *again;
	struct net_source src;
	int64_t end;
	json_t *j;
	char *s;

	assert_int_equal(b->n_vms, 1);
	assert_string_equal(b->vms[0].id.name, "vm1");
	assert_int_equal(b->vms[0].n_ports, 1);
	assert_int_equal(b->vms[0].ports[0].number, 3389);
	assert_int_equal(time_parse_rfc3339(S("2018-07-12T09:53:03.3658798Z"), &end, NULL), 0);
	assert_int_equal(b->vms[0].ports[0].end_ns, end);
	assert_true(b->vms[0].ports[0].has_source);
	assert_int_equal(net_source_parse(S("192.127.0.2"), &src, NULL), 0);
	assert_true(net_source_equal(&b->vms[0].ports[0].source, &src));
	assert_string_equal(b->justification, "testing a new version of the product");

	j = codec_initiate_encode(b);
	assert_non_null(j);
	s = codec_dump(j, NULL);
	json_decref(j);
	assert_string_equal(s, "{\"virtualMachines\":[{\"id\":\"" VM1 "\",\"ports\":[{\"number\":3389,"
	    "\"endTimeUtc\":\"2018-07-12T09:53:03.3658798Z\",\"allowedSourceAddressPrefix\":\"192.127.0.2\"}]}],"
	    "\"justification\":\"testing a new version of the product\"}");
	again = decode_initiate(s);
	assert_int_equal(again->vms[0].ports[0].end_ns, end);
	assert_string_equal(again->justification, b->justification);
	free(s);
	codec_initiate_free(again);
	codec_initiate_free(b);
}

static void
test_initiate_optional(void **state)
{
	struct initiate_body *b = decode_initiate(
	    "{\"virtualMachines\":[{\"id\":\"" VM1 "\",\"ports\":[{\"number\":22,\"endTimeUtc\":\"2030-01-01T00:00:00+02:00\"},"
	    "{\"number\":3389,\"endTimeUtc\":\"2030-01-01T00:00:00Z\",\"allowedSourceAddressPrefix\":\"*\"}]},"
	    "{\"id\":\"" VM2 "\",\"ports\":[{\"number\":22,\"endTimeUtc\":\"2030-01-01T00:00:00Z\",\"allowedSourceAddressPrefix\":\"10.9.9.9/8\",\"status\":\"x\"}]}],"
	    "\"justification\":null,\"requestor\":\"ignored\"}");

	assert_int_equal(b->n_vms, 2);
	assert_false(b->vms[0].ports[0].has_source);
	assert_int_equal(b->vms[0].ports[1].end_ns - b->vms[0].ports[0].end_ns, 2 * 3600 * TIME_NS_PER_SEC);
	assert_true(b->vms[0].ports[1].has_source);
	assert_true(b->vms[0].ports[1].source.any);
	assert_int_equal(b->vms[1].ports[0].source.prefix.len, 8);
	assert_string_equal(b->justification, "");
	codec_initiate_free(b);
	codec_initiate_free(NULL);
}

static void
test_initiate_errors(void **state)
{
	struct buf b = { 0 };
	int i;

	initiate_fails("{}", "MissingField", "virtualMachines");
	initiate_fails("[]", "InvalidType", "");
	initiate_fails("{\"virtualMachines\":{}}", "InvalidType", "virtualMachines");
	initiate_fails("{\"virtualMachines\":[]}", "MissingVirtualMachines", "virtualMachines");
	initiate_fails("{\"virtualMachines\":[1]}", "InvalidType", "virtualMachines[0]");
	initiate_fails("{\"virtualMachines\":[{\"ports\":[]}]}", "MissingField", "virtualMachines[0].id");
	initiate_fails("{\"virtualMachines\":[{\"id\":\"vm1\",\"ports\":[]}]}", "InvalidResourceId", "virtualMachines[0].id");
	initiate_fails("{\"virtualMachines\":[{\"id\":\"" VM1 "\"}]}", "MissingField", "virtualMachines[0].ports");
	initiate_fails("{\"virtualMachines\":[{\"id\":\"" VM1 "\",\"ports\":[]}]}", "MissingPorts", "virtualMachines[0].ports");
	initiate_fails("{\"virtualMachines\":[{\"id\":\"" VM1 "\",\"ports\":\"22\"}]}", "InvalidType", "virtualMachines[0].ports");
	initiate_fails("{\"virtualMachines\":[{\"id\":\"" VM1 "\",\"ports\":[22]}]}", "InvalidType", "virtualMachines[0].ports[0]");
	initiate_port_fails("\"endTimeUtc\":\"2030-01-01T00:00:00Z\"", "MissingField", "virtualMachines[0].ports[0].number");
	initiate_port_fails("\"number\":\"22\",\"endTimeUtc\":\"2030-01-01T00:00:00Z\"", "InvalidType",
	    "virtualMachines[0].ports[0].number");
	initiate_port_fails("\"number\":0,\"endTimeUtc\":\"2030-01-01T00:00:00Z\"", "InvalidPort",
	    "virtualMachines[0].ports[0].number");
	initiate_port_fails("\"number\":22", "MissingField", "virtualMachines[0].ports[0].endTimeUtc");
	initiate_port_fails("\"number\":22,\"endTimeUtc\":1700000000", "InvalidType", "virtualMachines[0].ports[0].endTimeUtc");
	initiate_port_fails("\"number\":22,\"endTimeUtc\":\"2030-01-01 00:00:00\"", "InvalidTimestamp",
	    "virtualMachines[0].ports[0].endTimeUtc");
	initiate_port_fails("\"number\":22,\"endTimeUtc\":\"2030-01-01T00:00:00Z\",\"allowedSourceAddressPrefix\":\"me\"",
	    "InvalidPrefix", "virtualMachines[0].ports[0].allowedSourceAddressPrefix");
	initiate_port_fails("\"number\":22,\"endTimeUtc\":\"2030-01-01T00:00:00Z\",\"allowedSourceAddressPrefix\":[\"*\"]",
	    "InvalidType", "virtualMachines[0].ports[0].allowedSourceAddressPrefix");
	initiate_fails("{\"virtualMachines\":[{\"id\":\"" VM1 "\",\"ports\":[{\"number\":22,\"endTimeUtc\":\"2030-01-01T00:00:00Z\"}]},"
	    "{\"id\":\"" VM2 "\",\"ports\":[{\"number\":22,\"endTimeUtc\":\"2030-01-01T00:00:00X\"}]}]}",
	    "InvalidTimestamp", "virtualMachines[1].ports[0].endTimeUtc");
	initiate_fails("{\"virtualMachines\":[{\"id\":\"" VM1 "\",\"ports\":[{\"number\":22,\"endTimeUtc\":\"2030-01-01T00:00:00Z\"}]}],"
	    "\"justification\":5}", "InvalidType", "justification");
	initiate_fails("{\"virtualMachines\":[{\"id\":\"" VM1 "\",\"ports\":[{\"number\":22,\"endTimeUtc\":\"2030-01-01T00:00:00Z\"}]}],"
	    "\"virtualMachines\":[]}", "InvalidJson", "");

	/* justification: API_JUSTIFICATION_MAX bytes pass, one more fails. */
	for (i = API_JUSTIFICATION_MAX; i <= API_JUSTIFICATION_MAX + 1; i++) {
		struct initiate_body *ib = NULL;
		struct core_error err;
		int k;

		buf_reset(&b);
		assert_int_equal(buf_printf(&b, "{\"virtualMachines\":[{\"id\":\"%s\",\"ports\":[{\"number\":22,"
		    "\"endTimeUtc\":\"2030-01-01T00:00:00Z\"}]}],\"justification\":\"", VM1), 0);
		for (k = 0; k < i; k++)
			assert_int_equal(buf_append(&b, "j", 1), 0);
		assert_int_equal(buf_printf(&b, "\"}"), 0);
		if (i == API_JUSTIFICATION_MAX) {
			assert_int_equal(codec_initiate_decode(b.data, b.len, &ib, &err), 0);
			assert_int_equal(strlen(ib->justification), API_JUSTIFICATION_MAX);
			codec_initiate_free(ib);
		} else {
			initiate_fails(b.data, "ValueTooLong", "justification");
		}
	}

	/* Counts. */
	buf_reset(&b);
	assert_int_equal(buf_printf(&b, "{\"virtualMachines\":["), 0);
	for (i = 0; i <= API_INITIATE_VMS_MAX; i++)
		assert_int_equal(buf_printf(&b, "%s{\"id\":\"%s\",\"ports\":[{\"number\":22,\"endTimeUtc\":\"2030-01-01T00:00:00Z\"}]}",
		    i ? "," : "", VM1), 0);
	assert_int_equal(buf_printf(&b, "]}"), 0);
	initiate_fails(b.data, "TooManyVirtualMachines", "virtualMachines");
	buf_reset(&b);
	assert_int_equal(buf_printf(&b, "{\"virtualMachines\":[{\"id\":\"%s\",\"ports\":[", VM1), 0);
	for (i = 0; i <= API_INITIATE_PORTS_MAX; i++)
		assert_int_equal(buf_printf(&b, "%s{\"number\":%d,\"endTimeUtc\":\"2030-01-01T00:00:00Z\"}", i ? "," : "", i + 1), 0);
	assert_int_equal(buf_printf(&b, "]}]}"), 0);
	initiate_fails(b.data, "TooManyPorts", "virtualMachines[0].ports");
	buf_free(&b);
}

/* ---- revoke ---- */

static void
revoke_fails(const char *body, const char *code, const char *target)
{
	struct revoke_body *sentinel = (struct revoke_body *)&sentinel, *b = sentinel;
	struct core_error err;

	memset(&err, 0, sizeof(err));
	assert_int_equal(codec_revoke_decode(body, strlen(body), &b, &err), -EINVAL);
	if (strcmp(err.code, code) != 0 || strcmp(err.target, target) != 0)
		fail_msg("%s: got %s at '%s' (%s), want %s at '%s'", body, err.code, err.target, err.message, code,
		    target);
	assert_ptr_equal(b, sentinel);
}

static void
test_revoke(void **state)
{
	static const char body[] = "{\"virtualMachines\":[{\"id\":\"" VM1 "\",\"ports\":[{\"number\":22},{\"number\":3389}]},"
		"{\"id\":\"" VM2 "\",\"ports\":[{\"number\":5985,\"endTimeUtc\":\"ignored\"}]}],\"terminateSessions\":true}";
	struct revoke_body *b = NULL, *again = NULL;
	struct core_error err;
	json_t *j;
	char *s;
	size_t n;

	assert_int_equal(codec_revoke_decode(S(body), &b, &err), 0);
	assert_int_equal(b->n_vms, 2);
	assert_int_equal(b->vms[0].n_ports, 2);
	assert_int_equal(b->vms[0].ports[1], 3389);
	assert_string_equal(b->vms[1].id.name, "vm2");
	assert_int_equal(b->vms[1].ports[0], 5985);
	assert_true(b->terminate_sessions);
	j = codec_revoke_encode(b);
	assert_non_null(j);
	s = codec_dump(j, &n);
	json_decref(j);
	assert_int_equal(codec_revoke_decode(s, n, &again, &err), 0);
	assert_int_equal(again->n_vms, 2);
	assert_int_equal(again->vms[0].ports[1], 3389);
	assert_true(again->terminate_sessions);
	assert_true(arm_vm_id_equal(&again->vms[1].id, &b->vms[1].id));
	free(s);
	codec_revoke_free(again);
	codec_revoke_free(b);

	assert_int_equal(codec_revoke_decode(S("{\"virtualMachines\":[{\"id\":\"" VM1 "\",\"ports\":[{\"number\":22}]}]}"),
	    &b, &err), 0);
	assert_false(b->terminate_sessions);
	codec_revoke_free(b);
	codec_revoke_free(NULL);

	revoke_fails("{}", "MissingField", "virtualMachines");
	revoke_fails("{\"virtualMachines\":[]}", "MissingVirtualMachines", "virtualMachines");
	revoke_fails("{\"virtualMachines\":[{\"id\":\"" VM1 "\",\"ports\":[]}]}", "MissingPorts", "virtualMachines[0].ports");
	revoke_fails("{\"virtualMachines\":[{\"id\":\"" VM1 "\",\"ports\":[{}]}]}", "MissingField",
	    "virtualMachines[0].ports[0].number");
	revoke_fails("{\"virtualMachines\":[{\"id\":\"" VM1 "\",\"ports\":[22]}]}", "InvalidType", "virtualMachines[0].ports[0]");
	revoke_fails("{\"virtualMachines\":[{\"id\":\"" VM1 "\",\"ports\":[{\"number\":70000}]}]}", "InvalidPort",
	    "virtualMachines[0].ports[0].number");
	revoke_fails("{\"virtualMachines\":[{\"id\":\"" VM1 "\",\"ports\":[{\"number\":22}]}],\"terminateSessions\":\"yes\"}",
	    "InvalidType", "terminateSessions");
	revoke_fails("{\"virtualMachines\":[{\"id\":\"" VM1 "\",\"ports\":[{\"number\":22}]}],\"terminateSessions\":1}",
	    "InvalidType", "terminateSessions");
}

/* ---- VM inventory ---- */

static void
vm_fails(const char *body, const char *code, const char *target)
{
	struct codec_vm vm, before;
	struct core_error err;

	memset(&vm, 0, sizeof(vm));
	snprintf(vm.os_type, sizeof(vm.os_type), "Linux");
	before = vm;
	memset(&err, 0, sizeof(err));
	assert_int_equal(codec_vm_decode(body, strlen(body), &vm, &err), -EINVAL);
	if (strcmp(err.code, code) != 0 || strcmp(err.target, target) != 0)
		fail_msg("%s: got %s at '%s' (%s), want %s at '%s'", body, err.code, err.target, err.message, code,
		    target);
	assert_true(err.message[0] != '\0');
	assert_memory_equal(&vm, &before, sizeof(vm));	/* nothing written on failure */
}

static void
test_vm_decode(void **state)
{
	struct codec_vm vm, again;
	struct core_error err;
	struct net_addr a;
	struct buf b = { 0 };
	json_t *j;
	char *s;
	size_t n;
	int i;

	memset(&vm, 0, sizeof(vm));
	assert_int_equal(codec_vm_decode(S("{\"location\":\"westeurope\",\"properties\":{\"osType\":\"windows\","
	    "\"enforcement\":\"Gateway\",\"addresses\":[\"10.0.0.4\",\"FD00::4\"],\"jit\":{\"status\":\"x\"}}}"), &vm, &err), 0);
	assert_string_equal(vm.location, "westeurope");
	assert_string_equal(vm.os_type, "Windows");
	assert_int_equal(vm.point, CODEC_POINT_GATEWAY);
	assert_int_equal(vm.n_addrs, 2);
	assert_int_equal(net_addr_parse(S("fd00::4"), &a, NULL), 0);
	assert_true(net_addr_equal(&vm.addrs[1], &a));

	/* Round trip through the PUT body the CLI sends. */
	j = codec_vm_body_encode(&vm);
	assert_non_null(j);
	s = codec_dump(j, &n);
	json_decref(j);
	assert_string_equal(s, "{\"location\":\"westeurope\",\"properties\":{\"osType\":\"Windows\",\"enforcement\":\"gateway\","
	    "\"addresses\":[\"10.0.0.4\",\"fd00::4\"]}}");
	memset(&again, 0, sizeof(again));
	assert_int_equal(codec_vm_decode(s, n, &again, &err), 0);
	assert_string_equal(again.location, vm.location);
	assert_string_equal(again.os_type, vm.os_type);
	assert_int_equal(again.point, vm.point);
	assert_int_equal(again.n_addrs, vm.n_addrs);
	assert_memory_equal(again.addrs, vm.addrs, sizeof(vm.addrs));
	free(s);

	/* Absent fields keep what the VM holds; an update may change one thing. */
	assert_int_equal(codec_vm_decode(S("{\"properties\":{\"osType\":\"LINUX\"}}"), &vm, &err), 0);
	assert_string_equal(vm.os_type, "Linux");
	assert_string_equal(vm.location, "westeurope");
	assert_int_equal(vm.n_addrs, 2);
	assert_int_equal(codec_vm_decode(S("{}"), &vm, &err), 0);
	assert_int_equal(codec_vm_decode(S("{\"properties\":{\"enforcement\":\"local\",\"addresses\":[]}}"), &vm, &err), 0);
	assert_int_equal(vm.point, CODEC_POINT_LOCAL);
	assert_int_equal(vm.n_addrs, 0);

	vm_fails("[]", "InvalidType", "");
	vm_fails("{\"properties\":[]}", "InvalidType", "properties");
	vm_fails("{\"location\":\"west europe\"}", "InvalidLocation", "location");
	vm_fails("{\"location\":3}", "InvalidType", "location");
	vm_fails("{\"properties\":{\"osType\":\"BSD\"}}", "InvalidOsType", "properties.osType");
	vm_fails("{\"properties\":{\"osType\":\"Linux \"}}", "InvalidOsType", "properties.osType");
	vm_fails("{\"properties\":{\"osType\":1}}", "InvalidType", "properties.osType");
	vm_fails("{\"properties\":{\"enforcement\":\"remote\"}}", "InvalidEnforcement", "properties.enforcement");
	vm_fails("{\"properties\":{\"enforcement\":\"gateway\"}}", "MissingField", "properties.addresses");
	vm_fails("{\"properties\":{\"enforcement\":\"gateway\",\"addresses\":[]}}", "MissingField", "properties.addresses");
	vm_fails("{\"properties\":{\"enforcement\":\"gateway\",\"addresses\":\"10.0.0.4\"}}", "InvalidType", "properties.addresses");
	vm_fails("{\"properties\":{\"enforcement\":\"gateway\",\"addresses\":[\"10.0.0.4\",4]}}", "InvalidType",
	    "properties.addresses[1]");
	vm_fails("{\"properties\":{\"enforcement\":\"gateway\",\"addresses\":[\"10.0.0.0/24\"]}}", "InvalidAddress",
	    "properties.addresses[0]");
	vm_fails("{\"properties\":{\"enforcement\":\"gateway\",\"addresses\":[\"10.0.0.4\",\"10.0.0.4\"]}}", "DuplicateAddress",
	    "properties.addresses[1]");
	assert_int_equal(buf_printf(&b, "{\"properties\":{\"enforcement\":\"gateway\",\"addresses\":["), 0);
	for (i = 0; i <= API_ADDRS_MAX; i++)
		assert_int_equal(buf_printf(&b, "%s\"10.0.0.%d\"", i ? "," : "", i + 1), 0);
	assert_int_equal(buf_printf(&b, "]}}"), 0);
	vm_fails(b.data, "TooManyAddresses", "properties.addresses");
	buf_free(&b);
	vm_fails("{\"properties\":{}, \"properties\":{}}", "InvalidJson", "");
}

/* ---- errors and dumps ---- */

static void
test_error_encode(void **state)
{
	struct core_error err;
	json_t *j;
	char *s;
	size_t n;

	core_error_set(&err, "InvalidPort", "properties.virtualMachines[0].ports[1].number", "Port \"0\" is bad.");
	j = codec_error_encode(&err);
	assert_non_null(j);
	s = codec_dump(j, &n);
	assert_int_equal(n, strlen(s));
	assert_string_equal(s, "{\"error\":{\"code\":\"InvalidPort\",\"message\":\"Port \\\"0\\\" is bad.\","
	    "\"target\":\"properties.virtualMachines[0].ports[1].number\",\"details\":[]}}");
	free(s);
	json_decref(j);

	core_error_set(&err, "InvalidJson", NULL, "The body is not valid JSON.");
	j = codec_error_encode(&err);
	s = codec_dump(j, NULL);
	assert_string_equal(s, "{\"error\":{\"code\":\"InvalidJson\",\"message\":\"The body is not valid JSON.\",\"details\":[]}}");
	free(s);
	json_decref(j);

	/* A message cut inside a UTF-8 character still makes a valid body. */
	core_error_set(&err, "X", NULL, "caf\xc3");
	j = codec_error_encode(&err);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(json_object_get(j, "error"), "message")), "caf?");
	json_decref(j);

	/* Arrays dump too. */
	j = json_pack("[i,s]", 1, "a");
	s = codec_dump(j, &n);
	assert_string_equal(s, "[1,\"a\"]");
	assert_int_equal(n, 7);
	free(s);
	json_decref(j);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_policy_azure_example),
		cmocka_unit_test(test_policy_normalised),
		cmocka_unit_test(test_policy_as_sent),
		cmocka_unit_test(test_policy_encode_list_fallback),
		cmocka_unit_test(test_policy_missing),
		cmocka_unit_test(test_policy_types),
		cmocka_unit_test(test_policy_values),
		cmocka_unit_test(test_policy_location),
		cmocka_unit_test(test_policy_unknown_ignored),
		cmocka_unit_test(test_json_errors),
		cmocka_unit_test(test_initiate_azure_example),
		cmocka_unit_test(test_initiate_optional),
		cmocka_unit_test(test_initiate_errors),
		cmocka_unit_test(test_revoke),
		cmocka_unit_test(test_policy_dnat),
		cmocka_unit_test(test_vm_decode),
		cmocka_unit_test(test_error_encode),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

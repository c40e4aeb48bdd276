/* Unit tests for the agent protocol's bodies: round trips, every refusal with its code and target, and the limits. */
#include <errno.h>
#include <stdio.h>

#include "codec/codec.h"
#include "codec/codec-agent.h"
#include "core/timeutil.h"
#include "testutil.h"

#define VM1 "/subscriptions/20ff7fc3-e762-44dd-bd96-b71116dcdc23/resourceGroups/rg1/providers/Microsoft.Compute/virtualMachines/web1"

static const char good_state[] =
	"{\"vm\":\"" VM1 "\",\"revision\":7,\"serverTimeUtc\":\"2026-12-04T10:00:00Z\","
	"\"ports\":[{\"number\":22,\"protocol\":\"TCP\"},{\"number\":3389,\"protocol\":\"*\"}],"
	"\"grants\":[{\"requestId\":\"r-1\",\"source\":\"10.0.0.0/24\",\"protocol\":\"TCP\",\"number\":22,"
	"\"endTimeUtc\":\"2026-12-04T11:00:00Z\",\"remainingMs\":3600000},"
	"{\"requestId\":\"r-2\",\"source\":\"*\",\"protocol\":\"UDP\",\"number\":3389,"
	"\"endTimeUtc\":\"2026-12-04T10:05:00.500000099Z\",\"remainingMs\":300500}]}";

/* The encoded value's text; the value itself is freed (LeakSanitizer holds the tests to it). */
static char *
dump(json_t *v, size_t *ret_len)
{
	char *text = codec_dump(v, ret_len);

	json_decref(v);
	return text;
}

static void
test_state_round_trip(void **unused)
{
	struct agent_state *s = NULL, *t = NULL;
	struct core_error err;
	char *text;
	size_t n, len;
	char *copy = test_copy_unterminated(good_state, &n);

	(void)unused;
	assert_int_equal(codec_agent_state_decode(copy, n, &s, &err), 0);
	free(copy);
	assert_string_equal(s->vm, VM1);
	assert_int_equal(s->revision, 7);
	assert_int_equal(s->n_ports, 2);
	assert_int_equal(s->ports[1].number, 3389);
	assert_int_equal(s->ports[1].proto, NET_PROTO_ANY);
	assert_int_equal(s->n_grants, 2);
	assert_string_equal(s->grants[0].request_id, "r-1");
	assert_false(s->grants[0].source.any);
	assert_int_equal(s->grants[0].source.prefix.len, 24);
	assert_true(s->grants[1].source.any);
	assert_int_equal(s->grants[1].proto, NET_PROTO_UDP);
	assert_int_equal(s->grants[1].left_ms, 300500);
	/* Nine fraction digits decode to the 100 ns tick that the wire's seven carry (found by fuzz-agent-json). */
	assert_int_equal(s->grants[1].end_ns - s->server_ns, 300500000000LL);

	/* What the server encodes, the agent decodes to the same state. */
	text = dump(codec_agent_state_encode(s), &len);
	assert_non_null(text);
	assert_int_equal(codec_agent_state_decode(text, len, &t, &err), 0);
	assert_int_equal(t->n_grants, 2);
	assert_int_equal(t->n_ports, 2);
	assert_memory_equal(t->grants, s->grants, 2 * sizeof(*s->grants));
	assert_memory_equal(t->ports, s->ports, 2 * sizeof(*s->ports));
	assert_int_equal(t->server_ns, s->server_ns);
	free(text);
	codec_agent_state_free(s);
	codec_agent_state_free(t);
}

/* A state with no grants and no protected ports is legitimate (JIT disabled on the VM), but "ports" must be there. */
static void
test_state_empty(void **unused)
{
	struct agent_state *s = NULL;
	struct core_error err;

	(void)unused;
	assert_int_equal(codec_agent_state_decode(S("{\"vm\":\"" VM1 "\",\"revision\":0,"
	    "\"serverTimeUtc\":\"2026-12-04T10:00:00Z\",\"ports\":[]}"), &s, &err), 0);
	assert_int_equal(s->n_ports, 0);
	assert_int_equal(s->n_grants, 0);
	codec_agent_state_free(s);
	assert_int_equal(codec_agent_state_decode(S("{\"vm\":\"" VM1 "\",\"revision\":0,"
	    "\"serverTimeUtc\":\"2026-12-04T10:00:00Z\"}"), &s, &err), -EINVAL);
	assert_error(&err, "MissingField", "ports");
}

struct bad {
	const char *body;
	const char *code, *target;
};

#define HEAD "{\"vm\":\"" VM1 "\",\"revision\":1,\"serverTimeUtc\":\"2026-12-04T10:00:00Z\","
#define GRANT(x) HEAD "\"ports\":[],\"grants\":[" x "]}"
#define TERM(x) HEAD "\"ports\":[],\"terminations\":[" x "]}"
#define T_OK "\"requestId\":\"r\",\"source\":\"10.0.0.1\",\"protocol\":\"TCP\",\"number\":22"
#define G_OK "\"requestId\":\"r\",\"source\":\"10.0.0.1\",\"protocol\":\"TCP\",\"number\":22,\"endTimeUtc\":\"2026-12-04T11:00:00Z\""

static const struct bad bad_states[] = {
	{ "[]", "InvalidType", "" },
	{ "{\"vm\":\"web1\",\"revision\":1,\"serverTimeUtc\":\"2026-12-04T10:00:00Z\",\"ports\":[]}", "InvalidResourceId", "vm" },
	{ "{\"vm\":\"" VM1 "\",\"revision\":-1,\"serverTimeUtc\":\"2026-12-04T10:00:00Z\",\"ports\":[]}", "InvalidValue", "revision" },
	{ "{\"vm\":\"" VM1 "\",\"revision\":\"1\",\"serverTimeUtc\":\"2026-12-04T10:00:00Z\",\"ports\":[]}", "InvalidType", "revision" },
	{ "{\"vm\":\"" VM1 "\",\"revision\":1,\"serverTimeUtc\":\"yesterday\",\"ports\":[]}", "InvalidTimestamp", "serverTimeUtc" },
	{ HEAD "\"ports\":[{\"number\":0,\"protocol\":\"TCP\"}]}", "InvalidPort", "ports[0].number" },
	{ HEAD "\"ports\":[{\"number\":22,\"protocol\":\"ICMP\"}]}", "InvalidProtocol", "ports[0].protocol" },
	{ HEAD "\"ports\":[{\"number\":22,\"protocol\":\"TCP\"},{\"number\":22,\"protocol\":\"*\"}]}", "DuplicatePort", "ports[1]" },
	{ HEAD "\"ports\":[{\"number\":22}]}", "MissingField", "ports[0].protocol" },
	{ GRANT("{" G_OK "}"), "MissingField", "grants[0].remainingMs" },
	{ GRANT("{" G_OK ",\"remainingMs\":-5}"), "InvalidValue", "grants[0].remainingMs" },
	{ GRANT("{" G_OK ",\"remainingMs\":99999999999}"), "InvalidValue", "grants[0].remainingMs" },
	{ GRANT("{\"requestId\":\"a b\",\"source\":\"10.0.0.1\",\"protocol\":\"TCP\",\"number\":22,"
	    "\"endTimeUtc\":\"2026-12-04T11:00:00Z\",\"remainingMs\":1}"), "InvalidRequestId", "grants[0].requestId" },
	{ GRANT("{\"requestId\":\"r\",\"source\":\"10.0.0.300\",\"protocol\":\"TCP\",\"number\":22,"
	    "\"endTimeUtc\":\"2026-12-04T11:00:00Z\",\"remainingMs\":1}"), "InvalidPrefix", "grants[0].source" },
	{ GRANT("{\"requestId\":\"r\",\"source\":\"10.0.0.1\",\"protocol\":\"TCP\",\"number\":22,\"remainingMs\":1}"),
	    "MissingField", "grants[0].endTimeUtc" },
	{ GRANT("7"), "InvalidType", "grants[0]" },
	{ TERM("{" T_OK "}"), "MissingField", "terminations[0].revision" },
	{ TERM("{" T_OK ",\"revision\":0}"), "InvalidValue", "terminations[0].revision" },
	/* made after the state's own revision (1): a state cannot say so */
	{ TERM("{" T_OK ",\"revision\":2}"), "InvalidValue", "terminations[0].revision" },
	{ TERM("{" T_OK ",\"revision\":\"1\"}"), "InvalidType", "terminations[0].revision" },
	{ TERM("{\"requestId\":\"r\",\"source\":\"10.0.0.0/33\",\"protocol\":\"TCP\",\"number\":22,\"revision\":1}"),
	    "InvalidPrefix", "terminations[0].source" },
	{ TERM("{\"requestId\":\"\",\"source\":\"*\",\"protocol\":\"TCP\",\"number\":22,\"revision\":1}"),
	    "InvalidRequestId", "terminations[0].requestId" },
	{ TERM("{\"requestId\":\"r\",\"source\":\"*\",\"protocol\":\"TCP\",\"revision\":1}"),
	    "MissingField", "terminations[0].number" },
	{ HEAD "\"ports\":[],\"terminations\":{}}", "InvalidType", "terminations" },
};

static void
test_state_refused(void **unused)
{
	struct agent_state *s = (struct agent_state *)1;
	struct core_error err;
	size_t i;

	(void)unused;
	for (i = 0; i < sizeof(bad_states) / sizeof(bad_states[0]); i++) {
		memset(&err, 0, sizeof(err));
		assert_int_equal(codec_agent_state_decode(bad_states[i].body, strlen(bad_states[i].body), &s, &err),
		    -EINVAL);
		if (strcmp(err.code, bad_states[i].code) != 0 || strcmp(err.target, bad_states[i].target) != 0)
			fail_msg("case %zu: %s at '%s' (%s), expected %s at '%s'", i, err.code, err.target, err.message,
			    bad_states[i].code, bad_states[i].target);
		assert_ptr_equal(s, (struct agent_state *)1);	/* nothing written on failure */
	}
}

/* AGENT_GRANTS_MAX grants decode; one more is refused as a whole. */
static void
test_state_limits(void **unused)
{
	struct agent_state *s = NULL;
	struct core_error err;
	size_t cap = 200 + (AGENT_GRANTS_MAX + 1) * 200, len, i;
	char *b = malloc(cap);

	(void)unused;
	assert_non_null(b);
	for (int extra = 0; extra <= 1; extra++) {
		len = (size_t)snprintf(b, cap, HEAD "\"ports\":[],\"grants\":[");
		for (i = 0; i < (size_t)AGENT_GRANTS_MAX + (size_t)extra; i++)
			len += (size_t)snprintf(b + len, cap - len, "%s{\"requestId\":\"r%zu\",\"source\":\"10.0.0.1\","
			    "\"protocol\":\"TCP\",\"number\":22,\"endTimeUtc\":\"2026-12-04T11:00:00Z\",\"remainingMs\":1000}",
			    i ? "," : "", i);
		len += (size_t)snprintf(b + len, cap - len, "]}");
		assert_true(len < cap);	/* every snprintf above had room */
		if (extra == 0) {
			assert_int_equal(codec_agent_state_decode(b, len, &s, &err), 0);
			assert_int_equal(s->n_grants, AGENT_GRANTS_MAX);
			codec_agent_state_free(s);
		} else {
			assert_int_equal(codec_agent_state_decode(b, len, &s, &err), -EINVAL);
			assert_error(&err, "TooManyGrants", "grants");
		}
	}
	free(b);
	assert_int_equal(codec_agent_state_decode(good_state, AGENT_STATE_BODY_MAX + 1, &s, &err), -EINVAL);
	assert_error(&err, "BodyTooLarge", "");
}

/*
 * Terminations: absent is none (and a state without them encodes without the member, as before they
 * existed); present, they round-trip; AGENT_TERMINATIONS_MAX decode and one more is refused whole.
 */
static void
test_state_terminations(void **unused)
{
	struct agent_state *s = NULL, *t = NULL;
	struct core_error err;
	size_t cap = 200 + (AGENT_TERMINATIONS_MAX + 1) * 120, len, i;
	char *b = malloc(cap), *text;

	(void)unused;
	assert_non_null(b);
	assert_int_equal(codec_agent_state_decode(S(good_state), &s, &err), 0);
	assert_int_equal(s->n_terminations, 0);
	assert_null(s->terminations);
	text = dump(codec_agent_state_encode(s), &len);
	assert_null(strstr(text, "terminations"));
	free(text);
	codec_agent_state_free(s);

	assert_int_equal(codec_agent_state_decode(S("{\"vm\":\"" VM1 "\",\"revision\":9,"
	    "\"serverTimeUtc\":\"2026-12-04T10:00:00Z\",\"ports\":[],\"terminations\":["
	    "{\"requestId\":\"r-1\",\"source\":\"10.0.0.0/24\",\"protocol\":\"TCP\",\"number\":22,\"revision\":8},"
	    "{\"requestId\":\"r-2\",\"source\":\"*\",\"protocol\":\"*\",\"number\":3389,\"revision\":9}]}"), &s, &err), 0);
	assert_int_equal(s->n_terminations, 2);
	assert_string_equal(s->terminations[0].request_id, "r-1");
	assert_int_equal(s->terminations[0].source.prefix.len, 24);
	assert_int_equal(s->terminations[0].port, 22);
	assert_int_equal(s->terminations[0].revision, 8);
	assert_true(s->terminations[1].source.any);
	assert_int_equal(s->terminations[1].proto, NET_PROTO_ANY);
	text = dump(codec_agent_state_encode(s), &len);
	assert_int_equal(codec_agent_state_decode(text, len, &t, &err), 0);
	assert_int_equal(t->n_terminations, 2);
	assert_memory_equal(t->terminations, s->terminations, 2 * sizeof(*s->terminations));
	free(text);
	codec_agent_state_free(s);
	codec_agent_state_free(t);

	for (int extra = 0; extra <= 1; extra++) {
		len = (size_t)snprintf(b, cap, HEAD "\"ports\":[],\"terminations\":[");
		for (i = 0; i < (size_t)AGENT_TERMINATIONS_MAX + (size_t)extra; i++)
			len += (size_t)snprintf(b + len, cap - len, "%s{\"requestId\":\"r%zu\",\"source\":\"10.0.0.1\","
			    "\"protocol\":\"TCP\",\"number\":22,\"revision\":1}", i ? "," : "", i);
		len += (size_t)snprintf(b + len, cap - len, "]}");
		assert_true(len < cap);
		if (extra == 0) {
			assert_int_equal(codec_agent_state_decode(b, len, &s, &err), 0);
			assert_int_equal(s->n_terminations, AGENT_TERMINATIONS_MAX);
			codec_agent_state_free(s);
		} else {
			assert_int_equal(codec_agent_state_decode(b, len, &s, &err), -EINVAL);
			assert_error(&err, "TooManyTerminations", "terminations");
		}
	}
	free(b);
}

static const char good_status[] =
	"{\"revision\":-1,\"version\":\"0.9.0\",\"kernel\":{\"supported\":false,\"reason\":\"no nf_tables\"},"
	"\"addresses\":[\"10.0.0.4\",\"fd00::4\"],\"listening\":[{\"number\":22,\"protocol\":\"TCP\"}],"
	"\"tamperUndone\":3,\"error\":\"\"}";

static void
test_status_and_join(void **unused)
{
	struct agent_status st, st2;
	struct agent_join j, j2;
	struct agent_joined a, a2;
	struct core_error err;
	char *text, body[2048];
	size_t len;

	(void)unused;
	assert_int_equal(codec_agent_status_decode(S(good_status), &st, &err), 0);
	assert_int_equal(st.revision, -1);
	assert_false(st.supported);
	assert_string_equal(st.reason, "no nf_tables");
	assert_int_equal(st.n_addrs, 2);
	assert_int_equal(st.n_listening, 1);
	assert_int_equal(st.tamper_undone, 3);
	text = dump(codec_agent_status_encode(&st), &len);
	assert_non_null(text);
	assert_int_equal(codec_agent_status_decode(text, len, &st2, &err), 0);
	assert_memory_equal(&st, &st2, sizeof(st));
	free(text);

	snprintf(body, sizeof(body), "{\"name\":\"web1\",\"osType\":\"Linux\",%s", good_status + 1);
	assert_int_equal(codec_agent_join_decode(body, strlen(body), &j, &err), 0);
	assert_string_equal(j.name, "web1");
	assert_string_equal(j.os_type, "Linux");
	text = dump(codec_agent_join_encode(&j), &len);
	assert_int_equal(codec_agent_join_decode(text, len, &j2, &err), 0);
	assert_memory_equal(&j, &j2, sizeof(j));
	free(text);

	snprintf(body, sizeof(body), "{\"name\":\"web 1\",%s", good_status + 1);
	assert_int_equal(codec_agent_join_decode(body, strlen(body), &j, &err), -EINVAL);
	assert_string_equal(err.target, "name");
	snprintf(body, sizeof(body), "{\"name\":\"web1\",\"osType\":\"BeOS\",%s", good_status + 1);
	assert_int_equal(codec_agent_join_decode(body, strlen(body), &j, &err), -EINVAL);
	assert_error(&err, "InvalidOsType", "osType");
	assert_int_equal(codec_agent_status_decode(S("{\"revision\":1,\"version\":\"1\"}"), &st, &err), -EINVAL);
	assert_error(&err, "MissingField", "kernel");
	assert_int_equal(codec_agent_status_decode(S("{\"revision\":1,\"version\":\"1\",\"kernel\":{\"supported\":true},"
	    "\"addresses\":[\"10.0.0.1/24\"]}"), &st, &err), -EINVAL);
	assert_error(&err, "InvalidAddress", "addresses[0]");

	memset(&a, 0, sizeof(a));
	snprintf(a.vm, sizeof(a.vm), VM1);
	snprintf(a.credential, sizeof(a.credential), "jga_secret");
	a.revision = 12;
	text = dump(codec_agent_joined_encode(&a), &len);
	assert_int_equal(codec_agent_joined_decode(text, len, &a2, &err), 0);
	assert_memory_equal(&a, &a2, sizeof(a));
	free(text);
	assert_int_equal(codec_agent_joined_decode(S("{\"vm\":\"" VM1 "\",\"revision\":1}"), &a2, &err), -EINVAL);
	assert_error(&err, "MissingField", "credential");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_state_round_trip),
		cmocka_unit_test(test_state_empty),
		cmocka_unit_test(test_state_refused),
		cmocka_unit_test(test_state_limits),
		cmocka_unit_test(test_state_terminations),
		cmocka_unit_test(test_status_and_join),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

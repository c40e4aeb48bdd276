/* Unit tests for the pure parts of jitgate-agent's network half: backoff, rotation, the disconnected deadline, URLs, bodies. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "agent/agent-net.h"
#include "codec/codec-agent.h"
#include "testutil.h"

#define VM1 "/subscriptions/20ff7fc3-e762-44dd-bd96-b71116dcdc23/resourceGroups/rg1/providers/Microsoft.Compute/virtualMachines/web1"

/* A random source that gives what the test set. */
static uint64_t
fixed(void *arg)
{
	return *(uint64_t *)arg;
}

static void
test_backoff_schedule(void **unused)
{
	uint64_t lo = 0, hi = UINT64_MAX;
	unsigned attempt = 0, i;
	int64_t cap = AGENT_BACKOFF_MIN_MS;

	(void)unused;
	/* the least draw always waits the minimum: never a tight loop */
	for (i = 0; i < 20; i++)
		assert_int_equal(agent_backoff_next_ms(&attempt, fixed, &lo), AGENT_BACKOFF_MIN_MS);
	assert_int_equal(attempt, 20);
	/* a draw of cap - MIN (the largest the modulus keeps) waits the whole cap: 0.5, 1, 2, 4 ... up to the max */
	attempt = 0;
	for (i = 0; i < 12; i++) {
		uint64_t top = (uint64_t)(cap - AGENT_BACKOFF_MIN_MS);

		assert_int_equal(agent_backoff_next_ms(&attempt, fixed, &top), cap);
		cap = cap * 2 > AGENT_BACKOFF_MAX_MS ? AGENT_BACKOFF_MAX_MS : cap * 2;
	}
	assert_int_equal(cap, AGENT_BACKOFF_MAX_MS);
	/* any draw stays within [MIN, MAX], however many failures in a row */
	for (i = 0; i < 200; i++) {
		int64_t d = agent_backoff_next_ms(&attempt, fixed, &hi);

		assert_true(d >= AGENT_BACKOFF_MIN_MS && d <= AGENT_BACKOFF_MAX_MS);
	}
	assert_true(attempt <= 64);
	/* the first retry: within [MIN, MIN] or [MIN, 2 MIN] on the second */
	attempt = 0;
	assert_int_equal(agent_backoff_next_ms(&attempt, fixed, &hi), AGENT_BACKOFF_MIN_MS);
	assert_true(agent_backoff_next_ms(&attempt, fixed, &hi) <= 2 * AGENT_BACKOFF_MIN_MS);
}

static void
test_server_rotation(void **unused)
{
	(void)unused;
	assert_int_equal(agent_server_next(0, 1), 0);
	assert_int_equal(agent_server_next(0, 3), 1);
	assert_int_equal(agent_server_next(1, 3), 2);
	assert_int_equal(agent_server_next(2, 3), 0);
	assert_int_equal(agent_server_next(0, 0), 0);
}

static void
test_disconnected(void **unused)
{
	(void)unused;
	/* 0: never */
	assert_false(agent_disconnected_expired(0, 0, INT64_MAX - 1));
	assert_int_equal(agent_disconnected_deadline(1000, 0), INT64_MAX);
	assert_false(agent_disconnected_expired(1000, 5000, 5999));
	assert_true(agent_disconnected_expired(1000, 5000, 6000));
	assert_int_equal(agent_disconnected_deadline(1000, 5000), 6000);
	/* a poll the server holds is contact, up to the hold and its slack; then the last answer counts */
	assert_int_equal(agent_contact_ms(1000, false, 2000, 9000), 1000);
	assert_int_equal(agent_contact_ms(1000, true, 2000, 2000 + AGENT_SERVER_HOLD_MS), 2000 + AGENT_SERVER_HOLD_MS);
	assert_int_equal(agent_contact_ms(1000, true, 2000, 2000 + AGENT_SERVER_HOLD_MS + AGENT_HOLD_SLACK_MS), 1000);
	assert_false(agent_disconnected_expired(agent_contact_ms(0, true, 20000, 25000), 10000, 25000));
	assert_true(agent_disconnected_expired(agent_contact_ms(0, true, 0, 60000), 10000, 60000));
	/* no overflow near the end of time */
	assert_int_equal(agent_disconnected_deadline(INT64_MAX - 10, 5000), INT64_MAX);
}

static void
test_urls(void **unused)
{
	char u[AGENT_URL_MAX + ARM_ID_MAX + 64];

	(void)unused;
	assert_int_equal(agent_url_join("https://jit.example:8443", u, sizeof(u)), 0);
	assert_string_equal(u, "https://jit.example:8443/agent/v1/join");
	assert_int_equal(agent_url_join("https://jit.example:8443//", u, sizeof(u)), 0);
	assert_string_equal(u, "https://jit.example:8443/agent/v1/join");
	assert_int_equal(agent_url_state("https://j:1/", VM1, 42, u, sizeof(u)), 0);
	assert_string_equal(u, "https://j:1/agent/v1" VM1 "/state?since=42");
	assert_int_equal(agent_url_state("https://j:1", VM1, -1, u, sizeof(u)), 0);
	assert_string_equal(u, "https://j:1/agent/v1" VM1 "/state?since=-1");
	assert_int_equal(agent_url_state("https://j:1", VM1, -7, u, sizeof(u)), 0);
	assert_string_equal(u, "https://j:1/agent/v1" VM1 "/state?since=-1");
	assert_int_equal(agent_url_status("https://j:1", VM1, u, sizeof(u)), 0);
	assert_string_equal(u, "https://j:1/agent/v1" VM1 "/status");
	assert_int_equal(agent_url_status("https://j:1", VM1, u, 40), -ENAMETOOLONG);
	assert_int_equal(agent_url_rotate("https://j:1/", VM1, u, sizeof(u)), 0);
	assert_string_equal(u, "https://j:1/agent/v1" VM1 "/rotate");
	assert_int_equal(agent_url_rotate("https://j:1", VM1, u, 40), -ENAMETOOLONG);
	assert_int_equal(agent_url_join("https://j:1", u, 10), -ENAMETOOLONG);
}

static void
test_answer_kind(void **unused)
{
	(void)unused;
	assert_int_equal(agent_answer_kind(200), AGENT_ANSWER_STATE);
	assert_int_equal(agent_answer_kind(401), AGENT_ANSWER_REVOKED);
	assert_int_equal(agent_answer_kind(403), AGENT_ANSWER_RETRY);
	assert_int_equal(agent_answer_kind(503), AGENT_ANSWER_RETRY);
	assert_int_equal(agent_answer_kind(204), AGENT_ANSWER_RETRY);
}

static void
test_without_grants(void **unused)
{
	static const char body[] = "{\"vm\":\"" VM1 "\",\"revision\":9,\"serverTimeUtc\":\"2026-12-04T10:00:00Z\","
		"\"ports\":[{\"number\":22,\"protocol\":\"TCP\"}],\"grants\":[{\"requestId\":\"r-1\",\"source\":\"10.0.0.1\","
		"\"protocol\":\"TCP\",\"number\":22,\"endTimeUtc\":\"2026-12-04T11:00:00Z\",\"remainingMs\":3600000}]}";
	struct agent_state *s = NULL, *c = NULL;

	(void)unused;
	assert_int_equal(codec_agent_state_decode(body, sizeof(body) - 1, &s, NULL), 0);
	assert_int_equal(agent_state_without_grants(s, &c), 0);
	assert_string_equal(c->vm, VM1);
	assert_int_equal(c->revision, 9);
	assert_int_equal(c->n_ports, 1);
	assert_int_equal(c->ports[0].number, 22);
	assert_int_equal(c->n_grants, 0);
	codec_agent_state_free(s);
	codec_agent_state_free(c);
}

static void
test_status_body(void **unused)
{
	struct agent_status st, back;
	struct buf b = { 0 };

	(void)unused;
	memset(&st, 0, sizeof(st));
	st.revision = 12;
	snprintf(st.version, sizeof(st.version), "0.1.0");
	st.supported = true;
	st.tamper_undone = 3;
	st.n_listening = 1;
	st.listening[0].proto = NET_PROTO_TCP;
	st.listening[0].number = 22;
	snprintf(st.error, sizeof(st.error), "a state refused (InvalidJson): x");
	assert_int_equal(agent_status_body(&st, &b), 0);
	assert_non_null(strstr(b.data, "\"revision\":12"));
	assert_non_null(strstr(b.data, "\"tamperUndone\":3"));
	assert_int_equal(codec_agent_status_decode(b.data, b.len, &back, NULL), 0);
	assert_int_equal(back.revision, 12);
	assert_string_equal(back.error, st.error);
	assert_int_equal(back.n_listening, 1);
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backoff_schedule),
		cmocka_unit_test(test_server_rotation),
		cmocka_unit_test(test_disconnected),
		cmocka_unit_test(test_urls),
		cmocka_unit_test(test_answer_kind),
		cmocka_unit_test(test_without_grants),
		cmocka_unit_test(test_status_body),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

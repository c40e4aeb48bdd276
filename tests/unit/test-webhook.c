/* Unit tests for webhooks: the activity-to-event table, a hook's settings, delivery bodies and their signatures. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "core/rbac.h"
#include "core/webhook.h"
#include "daemon/webhook-body.h"
#include "daemon/webhook-config.h"
#include "testutil.h"

#define SECRET "0123456789abcdef-secret"

static void
test_event_of(void **state)
{
	(void)state;
	assert_int_equal(webhook_event_of(RBAC_POLICY_INITIATE, "Succeeded"), WEBHOOK_EV_OPENED);
	assert_int_equal(webhook_event_of(RBAC_POLICY_REVOKE, "Revoked"), WEBHOOK_EV_REVOKED);
	assert_int_equal(webhook_event_of("Expire", "Expired"), WEBHOOK_EV_EXPIRED);
	assert_int_equal(webhook_event_of("Tamper", "Reconciled"), WEBHOOK_EV_TAMPERING_UNDONE);
	/* approvals and extend (the operations api-internal.h names) */
	assert_int_equal(webhook_event_of(RBAC_POLICY_INITIATE, "Pending"), WEBHOOK_EV_REQUESTED);
	assert_int_equal(webhook_event_of("Microsoft.Security/locations/jitNetworkAccessPolicies/approve/action",
					  "Approved"), WEBHOOK_EV_APPROVED);
	assert_int_equal(webhook_event_of("Microsoft.Security/locations/jitNetworkAccessPolicies/approve/action",
					  "Opened"), WEBHOOK_EV_OPENED);
	assert_int_equal(webhook_event_of("Microsoft.Security/locations/jitNetworkAccessPolicies/deny/action",
					  "Denied"), WEBHOOK_EV_DENIED);
	assert_int_equal(webhook_event_of("Microsoft.Security/locations/jitNetworkAccessPolicies/extend/action",
					  "Extended"), WEBHOOK_EV_EXTENDED);
	assert_int_equal(webhook_event_of("ApprovalExpire", "Expired"), WEBHOOK_EV_EXPIRED);
	assert_int_equal(webhook_event_of("Microsoft.Security/locations/jitNetworkAccessPolicies/deny/action",
					  "Failed"), -1);
	/* an initiate that failed, an authorization refusal, a reconcile: no event */
	assert_int_equal(webhook_event_of(RBAC_POLICY_INITIATE, "Failed"), -1);
	assert_int_equal(webhook_event_of(RBAC_POLICY_INITIATE, "Denied"), -1);
	assert_int_equal(webhook_event_of("Reconcile", "Succeeded"), -1);
	assert_int_equal(webhook_event_of("Jitgate/webhooks/deliver", "Failing"), -1);	/* no loop */
	assert_string_equal(webhook_event_name(WEBHOOK_EV_AGENT_DISCONNECTED), "agent disconnected");
	assert_null(webhook_event_name(WEBHOOK_EV__MAX));
}

static void
test_hook_set(void **state)
{
	struct webhook_hook h;
	struct core_error err;
	char origin[128];

	(void)state;
	memset(&h, 0, sizeof(h));
	assert_int_equal(webhook_hook_set(&h, "url", "https://chat.example.com:8443/hooks/KEY?x=1", &err), 0);
	webhook_url_origin(h.url, origin, sizeof(origin));
	assert_string_equal(origin, "https://chat.example.com:8443");
	webhook_url_origin("http://10.0.0.1?k=v", origin, sizeof(origin));
	assert_string_equal(origin, "http://10.0.0.1");
	assert_int_equal(webhook_hook_set(&h, "url", "ftp://x/", &err), -EINVAL);
	assert_error(&err, "InvalidConfig", "url");
	assert_int_equal(webhook_hook_set(&h, "url", "https:///path", &err), -EINVAL);
	assert_int_equal(webhook_hook_set(&h, "url", "https://user:pw@host/", &err), -EINVAL);
	assert_int_equal(webhook_hook_set(&h, "url", "https://host/a b", &err), -EINVAL);
	assert_int_equal(webhook_hook_set(&h, "url", "https://host/\xc3\xa9", &err), -EINVAL);
	assert_string_equal(h.url, "https://chat.example.com:8443/hooks/KEY?x=1");	/* unchanged by a refusal */

	assert_int_equal(webhook_hook_set(&h, "events", " Opened,revoked ,  tampering undone", &err), 0);
	assert_int_equal(h.events, (1u << WEBHOOK_EV_OPENED) | (1u << WEBHOOK_EV_REVOKED) |
					   (1u << WEBHOOK_EV_TAMPERING_UNDONE));
	assert_int_equal(webhook_hook_set(&h, "events", "all", &err), 0);
	assert_int_equal(h.events, WEBHOOK_EVENTS_ALL);
	assert_int_equal(webhook_hook_set(&h, "events", "opened, opend", &err), -EINVAL);
	assert_error(&err, "InvalidConfig", "events");
	assert_non_null(strstr(err.message, "'opend'"));
	assert_int_equal(webhook_hook_set(&h, "events", " , ", &err), -EINVAL);
	assert_int_equal(h.events, WEBHOOK_EVENTS_ALL);

	assert_int_equal(webhook_hook_set(&h, "format", "TEXT", &err), 0);
	assert_int_equal(h.format, WEBHOOK_FORMAT_TEXT);
	assert_int_equal(webhook_hook_set(&h, "format", "xml", &err), -EINVAL);
	assert_int_equal(webhook_hook_set(&h, "secret", "short-secret", &err), -EINVAL);
	assert_error(&err, "InvalidConfig", "secret");
	assert_null(strstr(err.message, "short-secret"));	/* never repeated */
	assert_int_equal(webhook_hook_set(&h, "color", "red", &err), -EINVAL);
	assert_error(&err, "InvalidConfig", "color");
	assert_false(webhook_name_is_valid(""));
	assert_false(webhook_name_is_valid("a b"));
	assert_false(webhook_name_is_valid("123456789012345678901234567890123"));
	assert_true(webhook_name_is_valid("ops-chat_1"));
}

static void
test_config_sections(void **state)
{
	struct webhook_config wc;
	struct core_error err;

	(void)state;
	memset(&wc, 0, sizeof(wc));
	assert_int_equal(webhook_config_section(&wc, "a", "url", "http://10.0.0.1/", &err), 0);
	assert_int_equal(webhook_config_validate(&wc, &err), -EINVAL);
	assert_error(&err, "InvalidConfig", "webhook.a.secret");
	assert_int_equal(webhook_config_section(&wc, "a", "secret", SECRET, &err), 0);
	assert_int_equal(webhook_config_section(&wc, "b", "events", "expired", &err), 0);
	assert_int_equal(wc.n, 2);
	assert_int_equal(webhook_config_validate(&wc, &err), -EINVAL);
	assert_error(&err, "InvalidConfig", "webhook.b.url");
	assert_int_equal(webhook_config_section(&wc, "b", "url", "mailto:x", &err), -EINVAL);
	assert_error(&err, "InvalidConfig", "webhook.b.url");
	assert_int_equal(webhook_config_section(&wc, "bad name", "url", "http://x/", &err), -EINVAL);
	assert_int_equal(webhook_config_set(&wc, "webhook_backoff_max", "PT10S", &err), 0);
	assert_int_equal(wc.backoff_max_ms, 10000);
	assert_int_equal(webhook_config_set(&wc, "webhook_backoff_max", "PT0.5S", &err), -EINVAL);
	assert_int_equal(webhook_config_set(&wc, "webhook_colour", "x", &err), -EINVAL);
	for (wc.n = 2; wc.n < WEBHOOK_HOOKS_MAX;) {
		char name[16];

		snprintf(name, sizeof(name), "h%zu", wc.n);
		assert_int_equal(webhook_config_section(&wc, name, "format", "json", &err), 0);
	}
	assert_int_equal(webhook_config_section(&wc, "one-too-many", "format", "json", &err), -EINVAL);
}

/* The signature a receiver computes: HMAC-SHA256(secret, timestamp "." body), checked against Python's hmac. */
static void
test_sign(void **state)
{
	char sig[WEBHOOK_SIG_SIZE];

	(void)state;
	assert_int_equal(webhook_sign(SECRET, "1700000000", S("{\"a\":1}"), sig), 0);
	assert_string_equal(sig, "sha256=6948a2dc6985c92d09b9edade5c97dce2ba201452d91a72e4a20d35abe4d3420");
	assert_int_equal(webhook_sign(SECRET, "1700000001", S("{\"a\":1}"), sig), 0);
	assert_string_not_equal(sig, "sha256=6948a2dc6985c92d09b9edade5c97dce2ba201452d91a72e4a20d35abe4d3420");
}

static void
delivery(struct store_delivery *d)
{
	memset(d, 0, sizeof(*d));
	d->id = 7;
	snprintf(d->event_id, sizeof(d->event_id), "0123456789abcdef0123456789abcdef");
	snprintf(d->event, sizeof(d->event), "opened");
	d->activity.id = 42;
	d->activity.time_ns = 1700000000LL * 1000000000LL;
	snprintf(d->activity.caller, sizeof(d->activity.caller), "token:alice");
	snprintf(d->activity.operation, sizeof(d->activity.operation), "%s", RBAC_POLICY_INITIATE);
	snprintf(d->activity.status, sizeof(d->activity.status), "Succeeded");
	snprintf(d->activity.resource_id, sizeof(d->activity.resource_id),
		 "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1");
	snprintf(d->activity.detail, sizeof(d->activity.detail), "opened port 22 \"quoted\"\n\xff");
	snprintf(d->activity.justification, sizeof(d->activity.justification), "incident 7");
}

static void
test_body_json(void **state)
{
	struct store_delivery d;
	json_error_t jerr;
	json_t *v;
	char *body;
	size_t n;

	(void)state;
	delivery(&d);
	assert_int_equal(webhook_body_render(WEBHOOK_FORMAT_JSON, &d, &body, &n), 0);
	assert_int_equal(n, strlen(body));
	v = json_loads(body, 0, &jerr);
	assert_non_null(v);
	assert_string_equal(json_string_value(json_object_get(v, "id")), d.event_id);
	assert_string_equal(json_string_value(json_object_get(v, "event")), "opened");
	assert_string_equal(json_string_value(json_object_get(v, "time")), "2023-11-14T22:13:20Z");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(v, "activity"), "id")), 42);
	assert_string_equal(json_string_value(json_object_get(json_object_get(v, "activity"), "caller")), "token:alice");
	/* a control byte and a byte that is not UTF-8 cannot stop the hook: they become '?' */
	assert_string_equal(json_string_value(json_object_get(json_object_get(v, "activity"), "detail")),
			    "opened port 22 \"quoted\"??");
	json_decref(v);
	free(body);
}

static void
test_body_text(void **state)
{
	struct store_delivery d;
	json_t *v;
	char *body;
	size_t n;

	(void)state;
	delivery(&d);
	assert_int_equal(webhook_body_render(WEBHOOK_FORMAT_TEXT, &d, &body, &n), 0);
	v = json_loads(body, 0, NULL);
	assert_non_null(v);
	assert_int_equal(json_object_size(v), 1);
	assert_string_equal(json_string_value(json_object_get(v, "text")),
			    "[jitgate] opened: vm1: opened port 22 \"quoted\"?? (by token:alice: incident 7)");
	json_decref(v);
	free(body);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_event_of),
		cmocka_unit_test(test_hook_set),
		cmocka_unit_test(test_config_sections),
		cmocka_unit_test(test_sign),
		cmocka_unit_test(test_body_json),
		cmocka_unit_test(test_body_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

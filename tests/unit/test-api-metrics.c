/* The API's counters and page (api-metrics*.c), without store or kernel: bounded labels, results, page reuse. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "api/api-internal.h"
#include "testutil.h"

static struct api *
new_api(void)
{
	struct api_settings settings;
	struct api *api;

	memset(&settings, 0, sizeof(settings));
	api = api_new(&settings);
	assert_non_null(api);
	return api;
}

/* The page now (the kept one dropped first, so that it is rendered again). */
static char *
page_now(struct api *api)
{
	struct http_response resp = { 0 };

	api_metrics_free(&api->metrics);
	assert_int_equal(api_metrics_render(api, &resp), 0);
	assert_int_equal(resp.status, 200);
	assert_string_equal(resp.content_type, "text/plain; version=0.0.4; charset=utf-8");
	return resp.body;
}

static size_t
count_lines(const char *text, const char *prefix)
{
	size_t n = 0;
	const char *p;

	for (p = text; p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, prefix, strlen(prefix)))
			n++;
	return n;
}

static void
refuse(struct api *api, int status, const char *code)
{
	struct http_response resp = { .status = status };

	snprintf(resp.error_code, sizeof(resp.error_code), "%s", code);
	api_metrics_request(api, API_OP_NOT_FOUND, &resp, 1000);
}

static void
test_refusal_codes_bounded(void **state)
{
	struct api *api = new_api();
	char code[32], *page;
	int i;

	(void)state;
	for (i = 0; i < API_METRICS_CODES_MAX + 10; i++) {
		snprintf(code, sizeof(code), "Code%d", i);
		refuse(api, 400, code);
	}
	refuse(api, 403, "Code0");	/* a code already counted */
	refuse(api, 400, "not a word");	/* never a label: a code is the server's own word */
	refuse(api, 400, "Quote\"Code");
	refuse(api, 404, "");		/* an error without a body's code */
	page = page_now(api);
	/* the first 64 codes by name; the ten past them, the two that are not words and "None" (no slot left) in "Other" */
	assert_int_equal(count_lines(page, "jitgate_api_refusals_total{code="), API_METRICS_CODES_MAX + 1);
	assert_non_null(strstr(page, "jitgate_api_refusals_total{code=\"Code0\"} 2\n"));
	assert_non_null(strstr(page, "jitgate_api_refusals_total{code=\"Code63\"} 1\n"));
	assert_null(strstr(page, "Code64\""));
	assert_null(strstr(page, "not a word"));
	assert_non_null(strstr(page, "jitgate_api_refusals_total{code=\"Other\"} 13\n"));
	free(page);
	api_free(api);
}

static void
test_results_and_operations(void **state)
{
	struct http_response ok = { .status = 202 }, bad = { .status = 400 }, failed = { .status = 503 };
	struct api *api = new_api();
	char *page;
	int i;

	(void)state;
	/* route 7 is the initiate: POST …/{name}/initiate, the action named where the pattern said {action} */
	api_metrics_request(api, 7, &ok, 2 * 1000 * 1000);
	api_metrics_request(api, 7, &bad, 1000);
	api_metrics_request(api, 7, &failed, 1000);
	api_metrics_request(api, API_OP_HEALTHZ, &ok, 1000);
	api_metrics_request(api, API_OP__END, &ok, 1000);	/* out of range: ignored */
	api_metrics_request(api, -1, &ok, 1000);
	page = page_now(api);
#define INIT "operation=\"POST /subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Security/locations/{loc}/" \
	"jitNetworkAccessPolicies/{name}/initiate\""
	assert_non_null(strstr(page, "jitgate_api_requests_total{" INIT ",result=\"success\"} 1\n"));
	assert_non_null(strstr(page, "jitgate_api_requests_total{" INIT ",result=\"refused\"} 1\n"));
	assert_non_null(strstr(page, "jitgate_api_requests_total{" INIT ",result=\"failed\"} 1\n"));
	/* 2 ms falls in the 0.0025 bucket, not the 0.001 one */
	assert_non_null(strstr(page, "jitgate_api_request_duration_seconds_bucket{" INIT ",le=\"0.001\"} 2\n"));
	assert_non_null(strstr(page, "jitgate_api_request_duration_seconds_bucket{" INIT ",le=\"0.0025\"} 3\n"));
	assert_non_null(strstr(page, "jitgate_api_requests_total{operation=\"GET /healthz\",result=\"success\"} 1\n"));
	/* operations never used have no series; the store is absent: its counts too, and store_up says 0 */
	assert_int_equal(count_lines(page, "jitgate_api_requests_total{"), 6);
	assert_non_null(strstr(page, "\njitgate_store_up 0\n"));
	assert_null(strstr(page, "\njitgate_grants_live"));
	free(page);
	for (i = 0; i < 3; i++)
		api_metrics_group_commit(api, 3, i < 2);
	api_metrics_group_commit(api, 0, true);	/* nothing was waiting: not a commit */
	api_metrics_reconcile(api, true, 1000, true, 1, 0, 0, false);
	api_metrics_reconcile(api, true, 1000, false, 0, 2, 1, false);
	api_metrics_reconcile(api, true, 1000, false, 0, 0, 0, false);	/* nothing to correct: no drift */
	api_metrics_reconcile(api, false, 1000, false, 0, 0, 0, false);
	page = page_now(api);
	assert_non_null(strstr(page, "\njitgate_initiate_group_commit_size_count 3\n"));
	assert_non_null(strstr(page, "\njitgate_initiate_group_commit_failures_total 1\n"));
	assert_non_null(strstr(page, "\njitgate_kernel_tamper_events_total 1\n"));
	assert_non_null(strstr(page, "\njitgate_kernel_drift_repairs_total 1\n"));
	assert_non_null(strstr(page, "\njitgate_kernel_drift_elements_total{change=\"removed\"} 2\n"));
	assert_non_null(strstr(page, "\njitgate_reconcile_runs_total{result=\"ok\"} 3\n"));
	assert_non_null(strstr(page, "\njitgate_reconcile_runs_total{result=\"failed\"} 1\n"));
	assert_non_null(strstr(page, "\njitgate_reconcile_duration_seconds_count 4\n"));
	free(page);
	api_free(api);
}

static void
test_page_reused(void **state)
{
	struct http_response a = { 0 }, b = { 0 };
	struct api *api = new_api();

	(void)state;
	assert_int_equal(api_metrics_render(api, &a), 0);
	api_metrics_store_error(api);
	/* within API_METRICS_PAGE_REUSE_MS the same page comes back, a copy the response owns */
	assert_int_equal(api_metrics_render(api, &b), 0);
	assert_int_equal(a.body_len, b.body_len);
	assert_memory_equal(a.body, b.body, a.body_len);
	assert_ptr_not_equal(a.body, b.body);
	assert_non_null(strstr(b.body, "\njitgate_store_errors_total 0\n"));
	free(b.body);
	api_metrics_free(&api->metrics);
	b = (struct http_response){ 0 };
	assert_int_equal(api_metrics_render(api, &b), 0);
	assert_non_null(strstr(b.body, "\njitgate_store_errors_total 1\n"));
	free(a.body);
	free(b.body);
	api_free(api);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refusal_codes_bounded),
		cmocka_unit_test(test_results_and_operations),
		cmocka_unit_test(test_page_reused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

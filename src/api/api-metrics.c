/* What /metrics counts: the calls the API's files make as they work, each a few additions on fixed-size memory. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api-internal.h"
#include "core/timeutil.h"

/* Seconds: a read answered from memory is well under a millisecond, a write waits for the disk. */
static const double latency_bounds[] = { 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
					 5, 10 };
/* Initiates per group commit: one when idle, up to what one pass of the loop reads under load. */
static const double commit_bounds[] = { 1, 2, 4, 8, 16, 32, 64, 128, 256, 512 };
/* Seconds: a reconcile lists the whole table; 100,000 grants take seconds. */
static const double reconcile_bounds[] = { 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60 };
/* Seconds: one netlink batch through the firewall helper. */
static const double kernel_bounds[] = { 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
					1 };

#define N(a) (sizeof(a) / sizeof((a)[0]))


void
api_metrics_init(struct api_metrics *m)
{
	size_t i;

	m->start_ns = time_now_ns();
	for (i = 0; i < API_OP__END; i++)
		metrics_histogram_init(&m->latency[i], latency_bounds, N(latency_bounds));
	metrics_histogram_init(&m->group_commit, commit_bounds, N(commit_bounds));
	metrics_histogram_init(&m->reconcile_seconds, reconcile_bounds, N(reconcile_bounds));
	metrics_histogram_init(&m->kernel_apply, kernel_bounds, N(kernel_bounds));
	m->ready = true;
}

/* Only a plain word names a refusal (the codes are the server's own), so a label never carries a client's text. */
static bool
code_is_word(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
		      s[i] == '.'))
			return false;
	return i > 0;
}

static void
count_refusal(struct api_metrics *m, const char *code)
{
	size_t i;

	if (!code_is_word(code)) {
		m->refusals_other++;
		return;
	}
	for (i = 0; i < m->n_refusal_codes; i++)
		if (!strcmp(m->refusals[i].code, code)) {
			m->refusals[i].n++;
			return;
		}
	if (m->n_refusal_codes == API_METRICS_CODES_MAX) {
		m->refusals_other++;
		return;
	}
	snprintf(m->refusals[i].code, sizeof(m->refusals[i].code), "%s", code);
	m->refusals[i].n = 1;
	m->n_refusal_codes++;
}

void
api_metrics_free(struct api_metrics *m)
{
	free(m->page.text);
	m->page.text = NULL;
}

void
api_metrics_request(struct api *api, int op, const struct http_response *resp, int64_t elapsed_ns)
{
	struct api_metrics *m = &api->metrics;
	int result = resp->status >= 500 ? API_RESULT_FAILED : resp->status >= 400 ? API_RESULT_REFUSED
										     : API_RESULT_SUCCESS;

	if (!m->ready || op < 0 || op >= API_OP__END)
		return;
	m->requests[op][result]++;
	metrics_histogram_observe(&m->latency[op], (double)elapsed_ns / TIME_NS_PER_SEC);
	if (resp->status >= 400)
		count_refusal(m, resp->error_code[0] ? resp->error_code : "None");
}

void
api_metrics_group_commit(struct api *api, size_t held, bool ok)
{
	if (!api->metrics.ready || (held == 0 && ok))	/* nothing was waiting on it */
		return;
	metrics_histogram_observe(&api->metrics.group_commit, (double)held);
	if (!ok)
		api->metrics.group_commits_failed++;
}

void
api_metrics_reconcile(struct api *api, bool ok, int64_t elapsed_ns, bool tampered, size_t added, size_t removed,
		      size_t updated, bool rebuilt)
{
	struct api_metrics *m = &api->metrics;

	if (!m->ready)
		return;
	m->reconciles[ok ? API_RECONCILE_OK : API_RECONCILE_FAILED]++;
	metrics_histogram_observe(&m->reconcile_seconds, (double)elapsed_ns / TIME_NS_PER_SEC);
	if (!ok)
		return;
	if (tampered)
		m->tamper_events++;
	else if (added || removed || updated || rebuilt)
		m->drift_repairs++;
	m->drift_elements[0] += added;
	m->drift_elements[1] += removed;
	m->drift_elements[2] += updated;
}

void
api_kernel_start(struct api *api)
{
	api->metrics.kernel_start_ns = time_mono_ns();
}

int
api_kernel_timed(struct api *api, int r)
{
	struct api_metrics *m = &api->metrics;

	if (!m->ready)
		return r;
	metrics_histogram_observe(&m->kernel_apply, (double)(time_mono_ns() - m->kernel_start_ns) / TIME_NS_PER_SEC);
	if (r < 0)
		m->kernel_apply_failed++;
	return r;
}

void
api_metrics_store_error(struct api *api)
{
	api->metrics.store_errors++;
}

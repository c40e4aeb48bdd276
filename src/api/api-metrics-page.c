/* /metrics: the page in Prometheus' text format, on the API (a role) and on metrics_listen (no authentication). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api-internal.h"
#include "core/buf.h"
#include "core/timeutil.h"

#ifndef JITGATE_VERSION
#define JITGATE_VERSION "0.0.0"
#endif

#define METRICS_CONTENT_TYPE	"text/plain; version=0.0.4; charset=utf-8"
#define N(a) (sizeof(a) / sizeof((a)[0]))

static const char *const fixed_ops[] = {
	[API_OP_NOT_FOUND - API_METRICS_ROUTES_MAX] = "none",
	[API_OP_WHOAMI - API_METRICS_ROUTES_MAX] = "GET /whoami",
	[API_OP_HEALTHZ - API_METRICS_ROUTES_MAX] = "GET /healthz",
	[API_OP_SESSION - API_METRICS_ROUTES_MAX] = "/session",
	[API_OP_PORTAL - API_METRICS_ROUTES_MAX] = "GET portal",
	[API_OP_AGENT - API_METRICS_ROUTES_MAX] = "/agent/v1",
	[API_OP_METRICS - API_METRICS_ROUTES_MAX] = "GET /metrics",
};
static const char *const results[] = { "success", "refused", "failed" };
static const char *const reconcile_results[] = { "ok", "failed" };
static const char *const drift_kinds[] = { "added", "removed", "updated" };

/* The store's counts, read again when the last read is older than API_METRICS_STORE_REFRESH_MS: scrapes never load it more. */
static void
store_refresh(struct api *api)
{
	struct api_metrics *m = &api->metrics;
	int64_t now = time_mono_ms();
	struct store_counts c;

	if (m->store.read_ms && now - m->store.read_ms < API_METRICS_STORE_REFRESH_MS)
		return;
	m->store.read_ms = now;
	m->store.ok = api->store && store_counts_read(api->store, &c) == 0;
	if (m->store.ok) {
		m->store.live_grants = c.live_grants;
		m->store.agents = c.agents;
		m->store.webhooks_waiting = c.webhooks_waiting;
		m->store.webhooks_dropped = c.webhooks_dropped;
		m->store.webhooks_failing = c.webhooks_failing;
	} else if (api->store) {
		m->store_errors++;
	}
}

/* An operation's label: a route's name, or one of the paths outside the table; false for none. */
static const char *
op_name(const struct api_metrics *m, int op)
{
	if (op < API_METRICS_ROUTES_MAX)
		return m->op_names[op][0] ? m->op_names[op] : NULL;
	return fixed_ops[op - API_METRICS_ROUTES_MAX];
}

/* Requests and their latency, per operation that answered at least one (an operation never used has no series yet). */
static int
render_requests(const struct api_metrics *m, struct buf *b)
{
	const char *name;
	int op, k, r;

	r = metrics_family(b, "jitgate_api_requests_total", "counter",
			   "API requests answered, by operation (the route table's) and result (4xx refused, 5xx failed).");
	for (op = 0; r == 0 && op < API_OP__END; op++) {
		if (!m->latency[op].count || !(name = op_name(m, op)))
			continue;
		for (k = 0; r == 0 && k < API_RESULT__END; k++) {
			struct metrics_label l[] = { { "operation", name }, { "result", results[k] } };

			r = metrics_counter(b, "jitgate_api_requests_total", l, 2, m->requests[op][k]);
		}
	}
	if (r == 0)
		r = metrics_family(b, "jitgate_api_request_duration_seconds", "histogram",
				   "Time the API took to answer, by operation (a parked agent watch: its last call only).");
	for (op = 0; r == 0 && op < API_OP__END; op++) {
		struct metrics_label l = { "operation", NULL };

		if (m->latency[op].count && (l.value = op_name(m, op)))
			r = metrics_histogram_write(b, "jitgate_api_request_duration_seconds", &l, 1, &m->latency[op]);
	}
	return r;
}

static int
render_refusals(const struct api_metrics *m, struct buf *b)
{
	struct metrics_label l = { "code", "Other" };
	size_t i;
	int r;

	r = metrics_family(b, "jitgate_api_refusals_total", "counter",
			   "API answers of 4xx or 5xx, by the error body's code (AuthenticationFailed, ...).");
	for (i = 0; r == 0 && i < m->n_refusal_codes; i++) {
		l.value = m->refusals[i].code;
		r = metrics_counter(b, "jitgate_api_refusals_total", &l, 1, m->refusals[i].n);
	}
	l.value = "Other";
	if (r == 0 && m->refusals_other)
		r = metrics_counter(b, "jitgate_api_refusals_total", &l, 1, m->refusals_other);
	return r;
}

/* One family of one unlabelled sample. */
static int
single(struct buf *b, const char *name, const char *type, const char *help, double v)
{
	int r = metrics_family(b, name, type, help);

	if (r == 0 && !strcmp(type, "counter"))
		r = metrics_counter(b, name, NULL, 0, (uint64_t)v);
	else if (r == 0)
		r = metrics_gauge(b, name, NULL, 0, v);
	return r;
}

/* One family of one unlabelled histogram. */
static int
histogram(struct buf *b, const char *name, const char *help, const struct metrics_histogram *h)
{
	int r = metrics_family(b, name, "histogram", help);

	return r < 0 ? r : metrics_histogram_write(b, name, NULL, 0, h);
}

/* One family of a counter per label value. */
static int
per_label(struct buf *b, const char *name, const char *help, const char *label, const char *const *values,
	  const uint64_t *v, size_t n)
{
	int r = metrics_family(b, name, "counter", help);
	size_t i;

	for (i = 0; r == 0 && i < n; i++) {
		struct metrics_label l = { label, values[i] };

		r = metrics_counter(b, name, &l, 1, v[i]);
	}
	return r;
}

/* What jitgated is and holds now: its version, since when, the store's counts and the agents connected. */
static int
render_state(struct api *api, struct buf *b)
{
	const struct api_metrics *m = &api->metrics;
	struct metrics_label v = { "version", JITGATE_VERSION };
	int r;

	r = metrics_family(b, "jitgate_build_info", "gauge", "jitgated's version, as a label of a constant 1.");
	if (r == 0)
		r = metrics_gauge(b, "jitgate_build_info", &v, 1, 1);
	if (r == 0)
		r = single(b, "jitgate_start_time_seconds", "gauge", "When jitgated started (Unix time).",
			   (double)(m->start_ns / TIME_NS_PER_SEC));
	if (r == 0)
		r = single(b, "jitgate_store_up", "gauge",
			   "1 when the store answered the last read of its counts (at most one a second), else 0.",
			   m->store.ok ? 1 : 0);
	/* while the store cannot say, the counts are absent rather than stale */
	if (r == 0 && m->store.ok)
		r = single(b, "jitgate_grants_live", "gauge", "Grants open now (Initiated, not yet ended), every VM.",
			   (double)m->store.live_grants);
	if (r == 0 && m->store.ok)
		r = single(b, "jitgate_agents_joined", "gauge", "Agent VMs whose credential is valid (joined, not revoked).",
			   (double)m->store.agents);
	if (r == 0)
		r = single(b, "jitgate_agents_connected", "gauge",
			   "Agents connected to this server: a watch parked, or a call within the last 75 seconds.",
			   (double)api_watches_connected(api, time_now_ns()));
	return r;
}

/* The write path and the kernel: group commits, reconciles, drift and tampering undone, kernel changes. */
static int
render_kernel(const struct api_metrics *m, struct buf *b)
{
	int r;

	r = histogram(b, "jitgate_initiate_group_commit_size", "Initiates made durable by one store commit (group commit).",
		      &m->group_commit);
	if (r == 0)
		r = single(b, "jitgate_initiate_group_commit_failures_total", "counter",
			   "Group commits the store refused (every initiate in them was answered with the error).",
			   (double)m->group_commits_failed);
	if (r == 0)
		r = per_label(b, "jitgate_reconcile_runs_total", "Reconciles of the kernel with the store, by result.",
			      "result", reconcile_results, m->reconciles, API_RECONCILE__END);
	if (r == 0)
		r = histogram(b, "jitgate_reconcile_duration_seconds",
			      "Time one reconcile took (read the store, list the table, correct it).", &m->reconcile_seconds);
	if (r == 0)
		r = single(b, "jitgate_kernel_tamper_events_total", "counter",
			   "Changes to table inet jitgate made outside jitgated, seen and undone.", (double)m->tamper_events);
	if (r == 0)
		r = single(b, "jitgate_kernel_drift_repairs_total", "counter",
			   "Periodic or requested reconciles that found the kernel differing from the store, and fixed it.",
			   (double)m->drift_repairs);
	if (r == 0)
		r = per_label(b, "jitgate_kernel_drift_elements_total",
			      "Kernel elements reconciles put back in line with the store, by change.", "change",
			      drift_kinds, m->drift_elements, N(drift_kinds));
	if (r == 0)
		r = histogram(b, "jitgate_kernel_apply_duration_seconds",
			      "Time one request's kernel change took (one netlink batch, through the helper).", &m->kernel_apply);
	if (r == 0)
		r = single(b, "jitgate_kernel_apply_failures_total", "counter",
			   "Kernel changes that failed (the request was refused and nothing of it kept).",
			   (double)m->kernel_apply_failed);
	return r;
}

/* The webhooks' backlog (every hook, from the store: with replicas, the same on each). */
static int
render_webhooks(const struct api_metrics *m, struct buf *b)
{
	int r = 0;

	if (!m->store.ok)
		return 0;
	r = single(b, "jitgate_webhook_events_waiting", "gauge",
		   "Webhook events kept until delivered (every hook; a receiver down makes this grow).",
		   (double)m->store.webhooks_waiting);
	if (r == 0)
		r = single(b, "jitgate_webhook_events_dropped_total", "counter",
			   "Webhook events not kept because their hook's outbox was full (STORE_OUTBOX_MAX).",
			   (double)m->store.webhooks_dropped);
	if (r == 0)
		r = single(b, "jitgate_webhooks_failing", "gauge",
			   "Hooks whose recent deliveries keep failing (see GET .../providers/Jitgate/webhooks).",
			   (double)m->store.webhooks_failing);
	return r;
}

/* The page, rendered now into b. */
static int
render(struct api *api, struct buf *b)
{
	int r;

	store_refresh(api);
	r = render_state(api, b);
	if (r == 0)
		r = render_requests(&api->metrics, b);
	if (r == 0)
		r = render_refusals(&api->metrics, b);
	if (r == 0)
		r = render_kernel(&api->metrics, b);
	if (r == 0)
		r = single(b, "jitgate_store_errors_total", "counter", "Store calls that failed (StoreError).",
			   (double)api->metrics.store_errors);
	if (r == 0)
		r = single(b, "jitgate_activity_log_failures_total", "counter",
			   "Activity log entries the store refused to keep.", (double)api->log_failures);
	if (r == 0)
		r = render_webhooks(&api->metrics, b);
	return r;
}

int
api_metrics_render(struct api *api, struct http_response *resp)
{
	struct api_metrics *m = &api->metrics;
	struct buf b = { .max = API_METRICS_PAGE_MAX };
	int64_t now = time_mono_ms();
	int r;

	if (!m->page.text || now - m->page.made_ms >= API_METRICS_PAGE_REUSE_MS) {
		if ((r = render(api, &b)) < 0) {
			buf_free(&b);
			return r;
		}
		free(m->page.text);
		m->page.text = b.data;
		m->page.len = b.len;
		m->page.made_ms = now;
	}
	resp->body = malloc(m->page.len + 1);
	if (!resp->body)
		return -ENOMEM;
	memcpy(resp->body, m->page.text, m->page.len + 1);
	resp->status = 200;
	resp->body_len = m->page.len;
	resp->content_type = METRICS_CONTENT_TYPE;
	http_response_header(resp, "Cache-Control", "no-store");
	return 0;
}

/* The page, or a 500 naming why not (a bug: the page is bounded well below API_METRICS_PAGE_MAX). */
static void
answer_page(struct api *api, struct http_response *resp)
{
	int r = api_metrics_render(api, resp);

	if (r < 0)
		api_error(resp, 500, "InternalError", "", "cannot render the metrics page: %s", strerror(-r));
}

void
api_metrics_get(struct api *api, const struct api_caller *c, const struct http_request *req,
		struct http_response *resp)
{
	char scope[ARM_ID_MAX + 1];

	if (strcmp(req->method, "GET")) {
		api_error(resp, 405, "MethodNotAllowed", "", "%s is not allowed on /metrics", req->method);
		return;
	}
	snprintf(scope, sizeof(scope), "/subscriptions/%s", api->settings.subscription);
	if (api_require(api, c, RBAC_METRICS_READ, scope, resp))
		answer_page(api, resp);
}

void
api_metrics_handle_plain(void *ctx, const struct http_request *req, struct http_response *resp)
{
	struct api *api = ctx;
	int64_t start = time_mono_ns();

	/* this listener shows the page and nothing else: no API, no portal, no agent protocol */
	if (strcmp(req->path, "/metrics"))
		api_error(resp, 404, "NotFound", "", "only GET /metrics is served here");
	else if (strcmp(req->method, "GET"))
		api_error(resp, 405, "MethodNotAllowed", "", "%s is not allowed on /metrics", req->method);
	else
		answer_page(api, resp);
	api_metrics_request(api, API_OP_METRICS, resp, time_mono_ns() - start);
}

/* What the API counts for /metrics (api-metrics.c): its state inside struct api, and the calls that move it. */
#ifndef JITGATE_API_METRICS_H
#define JITGATE_API_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/limits.h"
#include "core/metrics.h"

struct api;
struct api_caller;
struct http_request;
struct http_response;

#define API_METRICS_ROUTES_MAX	48	/* routes of api.c's table (a static assertion there keeps it so) */
#define API_METRICS_OP_NAME_MAX	192	/* an operation's label: a method and a route pattern (the longest is 146) */
#define API_METRICS_CODES_MAX	64	/* distinct refusal codes counted; any further one counts as "Other" */
#define API_METRICS_STORE_REFRESH_MS	1000	/* the store's counts are read at most this often, whatever the scrapes */
/*
 * A page rendered is served again, copied, for this long: however many scrapes come, the loop renders
 * (≈2 ms at the largest page, bench/metrics-bench) at most once in this time, and values lag at most this.
 */
#define API_METRICS_PAGE_REUSE_MS	1000
#define API_METRICS_PAGE_MAX	((size_t)1 << 20)	/* a page larger than this is a bug: 500 rather than more */

/*
 * The operations timed: route i of api.c's table is operation i; the paths outside the table follow.
 * Every label value is one of these (or a refusal code the server itself wrote): never a VM, a name
 * or an address a client sent, so the page tells an unauthenticated scraper only counts.
 */
enum api_op {
	API_OP_NOT_FOUND = API_METRICS_ROUTES_MAX,	/* no route (404s, 405s, bad api-version, too long) */
	API_OP_WHOAMI,
	API_OP_HEALTHZ,
	API_OP_SESSION,
	API_OP_PORTAL,
	API_OP_AGENT,			/* everything under /agent/v1 */
	API_OP_METRICS,
	API_OP__END,
};

enum api_result {
	API_RESULT_SUCCESS,		/* 1xx-3xx */
	API_RESULT_REFUSED,		/* 4xx */
	API_RESULT_FAILED,		/* 5xx */
	API_RESULT__END,
};

enum api_reconcile_why {
	API_RECONCILE_OK,
	API_RECONCILE_FAILED,
	API_RECONCILE__END,
};

/* Counters and histograms since jitgated started; everything in it is a fixed size. */
struct api_metrics {
	bool ready;			/* histograms initialised (api_metrics_init) */
	int op;				/* the operation of the request being handled (api.c sets it) */
	int64_t start_ns;		/* wall clock at start */
	/* route i's name ("POST /subscriptions/{sub}/…/initiate"), written by api_new; "": no such route */
	char op_names[API_METRICS_ROUTES_MAX][API_METRICS_OP_NAME_MAX];
	uint64_t requests[API_OP__END][API_RESULT__END];
	struct metrics_histogram latency[API_OP__END];
	struct {
		char code[ERROR_CODE_MAX];
		uint64_t n;
	} refusals[API_METRICS_CODES_MAX];
	size_t n_refusal_codes;
	uint64_t refusals_other;	/* codes past API_METRICS_CODES_MAX, or not a plain word */
	struct metrics_histogram group_commit;	/* initiates per group commit */
	uint64_t group_commits_failed;
	uint64_t reconciles[API_RECONCILE__END];
	struct metrics_histogram reconcile_seconds;
	uint64_t drift_repairs;		/* reconciles (not after tampering) that found the kernel differing */
	uint64_t tamper_events;		/* changes of table inet jitgate by someone else, undone */
	uint64_t drift_elements[3];	/* elements added, removed, updated by reconciles */
	struct metrics_histogram kernel_apply;	/* one batch of kernel changes made by a request */
	uint64_t kernel_apply_failed;
	int64_t kernel_start_ns;	/* api_kernel_start's time_mono_ns */
	uint64_t store_errors;		/* store calls that failed (StoreError) */
	struct {			/* the last page rendered (api_metrics_free frees it) */
		char *text;
		size_t len;
		int64_t made_ms;	/* monotonic */
	} page;
	struct {			/* the store's counts, read at most every API_METRICS_STORE_REFRESH_MS */
		int64_t read_ms;	/* monotonic; 0: never */
		bool ok;		/* the last read succeeded */
		int64_t live_grants, agents;
		int64_t webhooks_waiting, webhooks_dropped, webhooks_failing;
	} store;
};

/* Start the clock and the histograms (api_new); free the page kept (api_free). */
void api_metrics_init(struct api_metrics *m);
void api_metrics_free(struct api_metrics *m);
/* A request answered (not parked): its operation, status and error code, and how long the handler took. */
void api_metrics_request(struct api *api, int op, const struct http_response *resp, int64_t elapsed_ns);
void api_metrics_group_commit(struct api *api, size_t held, bool ok);
/* A reconcile: failed or not, its duration, whether tampering triggered it and what it changed. */
void api_metrics_reconcile(struct api *api, bool ok, int64_t elapsed_ns, bool tampered, size_t added, size_t removed,
			   size_t updated, bool rebuilt);
/*
 * A request's kernel change: api_kernel_start(api) just before it, then api_kernel_timed(api, fw_...(…))
 * records its time and whether it failed, and returns the call's r.
 */
void api_kernel_start(struct api *api);
int api_kernel_timed(struct api *api, int r);
void api_metrics_store_error(struct api *api);

/*
 * GET /metrics on the API: authenticated as any API call, then the caller needs RBAC_METRICS_READ on
 * the whole subscription (a resource group's reader sees nothing of the others'). The plain listener's
 * handler is api_metrics_handle_plain (api.h).
 */
void api_metrics_get(struct api *api, const struct api_caller *c, const struct http_request *req,
		     struct http_response *resp);
/* api-metrics-page.c. The page itself (exported for the tests): 0 and resp filled, or -errno. */
int api_metrics_render(struct api *api, struct http_response *resp);


#endif

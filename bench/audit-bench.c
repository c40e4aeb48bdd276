/* The activity log on a store: what an append costs, how fast verify walks, how long one prune batch takes. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/store-audit.h"
#include "store/store.h"

#define BENCH_N_DEFAULT		100000	/* entries appended */
#define BENCH_N_MAX		10000000
#define BENCH_GROUP		100	/* entries per transaction while filling, as group commit does */
#define BENCH_BATCH		500	/* the default prune_batch */
#define BENCH_BATCHES		20	/* prune batches timed */

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void
entry(struct store_activity *a, int64_t i)
{
	memset(a, 0, sizeof(*a));
	a->time_ns = 1000 + i;
	snprintf(a->caller, sizeof(a->caller), "token:bench");
	snprintf(a->caller_addr, sizeof(a->caller_addr), "10.0.0.1");
	snprintf(a->operation, sizeof(a->operation), "Microsoft.Security/locations/jitNetworkAccessPolicies/initiate/action");
	snprintf(a->resource_id, sizeof(a->resource_id), "/subscriptions/00000000-0000-0000-0000-000000000000/"
		 "resourceGroups/default/providers/Microsoft.Compute/virtualMachines/vm%lld", (long long)(i % 100));
	snprintf(a->status, sizeof(a->status), "Succeeded");
	snprintf(a->justification, sizeof(a->justification), "benchmark entry %lld", (long long)i);
}

static int
fill(struct store *st, size_t n)
{
	struct store_activity a;
	int64_t t0 = now_ns(), single = 0;
	size_t i;
	int r = 0;

	/* one entry per transaction for the first thousand: the cost of a lone append, fsync included */
	for (i = 0; i < n && i < 1000 && r >= 0; i++) {
		entry(&a, (int64_t)i);
		r = store_activity_append(st, &a);
	}
	single = now_ns() - t0;
	t0 = now_ns();
	for (; i < n && r >= 0; i++) {
		if (i % BENCH_GROUP == 0)
			r = store_begin(st);
		entry(&a, (int64_t)i);
		if (r >= 0)
			r = store_activity_append(st, &a);
		if (r >= 0 && (i % BENCH_GROUP == BENCH_GROUP - 1 || i == n - 1))
			r = store_commit(st);
	}
	if (r < 0)
		return r;
	printf("append alone (own transaction): n=%zu us_each=%.1f\n", n < 1000 ? n : 1000,
	       single / 1e3 / (double)(n < 1000 ? n : 1000));
	if (n > 1000)
		printf("append in groups of %d: n=%zu us_each=%.1f\n", BENCH_GROUP, n - 1000,
		       (now_ns() - t0) / 1e3 / (double)(n - 1000));
	return 0;
}

int
main(int argc, char **argv)
{
	struct core_error err = { 0 };
	struct store_audit_result res;
	struct store *st = NULL;
	size_t n = argc > 2 ? strtoul(argv[2], NULL, 10) : BENCH_N_DEFAULT;
	int64_t t0, worst = 0, total = 0;
	int i, r;

	if (argc < 2 || n == 0 || n > BENCH_N_MAX) {
		fprintf(stderr, "usage: audit-bench STORE [N]   (a new SQLite file or a postgresql:// URI; N <= %d)\n",
			BENCH_N_MAX);
		return 2;
	}
	if (store_open(argv[1], &st, &err) < 0) {
		fprintf(stderr, "audit-bench: %s\n", err.message);
		return 1;
	}
	if ((r = fill(st, n)) < 0)
		goto fail;
	t0 = now_ns();
	if ((r = store_audit_verify(st, 0, &res)) < 0 || res.fault != STORE_AUDIT_INTACT)
		goto fail;
	printf("verify: entries=%lld s=%.3f entries_per_s=%.0f\n", (long long)res.checked, (now_ns() - t0) / 1e9,
	       (double)res.checked / ((now_ns() - t0) / 1e9));
	for (i = 0; i < BENCH_BATCHES; i++) {
		int64_t t = now_ns(), d;

		if ((r = store_activity_prune(st, INT64_MAX, BENCH_BATCH, NULL, NULL)) < 0)
			goto fail;
		d = now_ns() - t;
		total += d;
		worst = d > worst ? d : worst;
	}
	printf("prune batch of %d (read, delete, anchor; one write transaction): n=%d mean_ms=%.2f max_ms=%.2f\n",
	       BENCH_BATCH, BENCH_BATCHES, total / 1e6 / BENCH_BATCHES, worst / 1e6);
	store_close(st);
	return 0;
fail:
	fprintf(stderr, "audit-bench: %s\n", r < 0 ? store_last_error(st) : "the chain is not intact");
	store_close(st);
	return 1;
}

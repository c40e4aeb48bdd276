/* Cross-store propagation on PostgreSQL: a grant committed through one store, heard by another (two replicas' view). */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/store.h"

#define BENCH_N_DEFAULT		1000	/* grants written, one at a time */
#define BENCH_N_MAX		100000
#define BENCH_WAIT_MS		5000	/* an announcement not heard by then counts as lost */

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static void
print_ms(const char *what, int64_t *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_i64);
	printf("%s: n=%zu p50_ms=%.3f p99_ms=%.3f max_ms=%.3f\n", what, n, v[n / 2] / 1e6, v[n * 99 / 100] / 1e6,
	       v[n - 1] / 1e6);
}

/* Wait until b hears revision rev (or later): 0, or -ETIMEDOUT. */
static int
heard(struct store *b, int64_t rev)
{
	int64_t got = 0, t0 = now_ns();
	struct pollfd p;

	for (;;) {
		if (store_changes_take(b, &got) < 0)
			return -EIO;
		if (got >= rev)
			return 0;
		if (now_ns() - t0 > (int64_t)BENCH_WAIT_MS * 1000000)
			return -ETIMEDOUT;
		p.fd = store_changes_fd(b);
		p.events = POLLIN;
		poll(&p, 1, 100);
	}
}

/* An agent VM in a policy, so that its grants move its revision. */
static int
setup(struct store *a, int64_t *ret_vm, int64_t *ret_policy)
{
	struct arm_policy_id pa = { .subscription = "00000000-0000-0000-0000-000000000000", .resource_group = "rg",
				    .location = "local", .name = "bench" };
	struct store_vm vm = { .arm = { .subscription = "00000000-0000-0000-0000-000000000000",
					.resource_group = "rg", .name = "agent1" },
			       .location = "local", .os_type = "Linux", .point = STORE_POINT_AGENT, .created_ns = 1 };

	if (store_vm_put(a, &vm, ret_vm, NULL) < 0)
		return -1;
	return store_policy_put(a, &pa, "{}", ret_vm, 1, 1, ret_policy, NULL);
}

int
main(int argc, char **argv)
{
	struct core_error err = { 0 };
	struct store *a = NULL, *b = NULL;
	int64_t *commit = NULL, *prop = NULL, vm, policy, rev, t0, t1;
	size_t n = argc > 2 ? strtoul(argv[2], NULL, 10) : BENCH_N_DEFAULT, i, lost = 0, k = 0;
	int rc = 1;

	if (argc < 2 || n == 0 || n > BENCH_N_MAX) {
		fprintf(stderr, "usage: store-bench postgresql://URI [N (1..%d)]\n", BENCH_N_MAX);
		return 2;
	}
	commit = calloc(n, sizeof(*commit));
	prop = calloc(n, sizeof(*prop));
	if (!commit || !prop || store_open(argv[1], &a, &err) < 0 || store_open(argv[1], &b, &err) < 0) {
		fprintf(stderr, "store-bench: %s\n", err.message[0] ? err.message : "out of memory");
		goto out;
	}
	if (store_changes_fd(b) < 0 || setup(a, &vm, &policy) < 0) {
		fprintf(stderr, "store-bench: %s (a PostgreSQL URI?)\n", store_last_error(a));
		goto out;
	}
	for (i = 0; i < n; i++) {
		struct store_grant g = { .vm_id = vm, .port = 22, .proto = NET_PROTO_TCP, .end_ns = INT64_MAX / 2 };
		struct store_request req = { .policy_id = policy, .requestor = "token:bench", .requestor_addr = "10.0.0.1",
					     .start_ns = 1, .justification = "", .n_grants = 1, .grants = &g };

		if (net_source_parse("*", 1, &g.source, NULL) < 0)
			goto out;
		snprintf(req.id, sizeof(req.id), "bench-%zu", i);
		t0 = now_ns();
		if (store_request_insert(a, &req) < 0 || store_vm_revision(a, vm, &rev) < 0) {
			fprintf(stderr, "store-bench: %s\n", store_last_error(a));
			goto out;
		}
		t1 = now_ns();
		if (heard(b, rev) < 0) {
			lost++;
			continue;
		}
		commit[k] = t1 - t0;
		prop[k++] = now_ns() - t1;
	}
	printf("store on PostgreSQL, %zu grants on one agent VM, one at a time through store A; store B listens\n", n);
	if (k) {
		print_ms("write on A (request + grant, committed)", commit, k);
		print_ms("commit on A returned -> B heard the revision", prop, k);
	}
	printf("not heard within %d ms: %zu\n", BENCH_WAIT_MS, lost);
	rc = 0;
out:
	store_close(a);
	store_close(b);
	free(commit);
	free(prop);
	return rc;
}

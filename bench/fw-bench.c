/* Loads N grants into the kernel through src/fw and prints how long it took; bench/fw-bench.sh measures the packet path. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fw/fw.h"

#define BENCH_GRANTS_MAX 1000000
#define BENCH_GRANT_MS (15 * 60 * 1000)	/* long enough to outlive the measurement */
#define BENCH_UPDATES_DEFAULT 200	/* single fw_grant_update calls timed after the batch adds */

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
fail(const char *what, const struct core_error *err)
{
	fprintf(stderr, "fw-bench: %s: %s: %s\n", what, err->code, err->message);
	exit(1);
}

/*
 * Grant i: a single address in 10.128.0.0/9 (or a /30 there for cidr mode),
 * never the measuring client's own address, which gets its own grant.
 */
static void
make_grant(struct fw_grant *g, size_t i, bool cidr, int64_t end_ms)
{
	uint32_t host = 0x0a800000u + (uint32_t)(cidr ? i * 4 : i) + 16;
	char text[32];
	int n;

	n = snprintf(text, sizeof(text), "%u.%u.%u.%u%s", host >> 24, (host >> 16) & 255, (host >> 8) & 255, host & 255,
		     cidr ? "/30" : "");
	memset(g, 0, sizeof(*g));
	g->vm = 1;
	if (net_source_parse(text, (size_t)n, &g->source, NULL) < 0)
		abort();
	g->proto = NET_PROTO_TCP;
	g->port = 22;
	g->end_ms = end_ms;
	snprintf(g->request_id, sizeof(g->request_id), "bench-%zu", i);
}

static int
cmp_double(const void *pa, const void *pb)
{
	double a = *(const double *)pa, b = *(const double *)pb;

	return a < b ? -1 : a > b;
}

/*
 * What one API initiate costs the firewall with n grants live: `count` calls of
 * fw_grant_update, each adding one new grant and removing one of the live ones
 * (so the number live stays n). Prints nothing; returns mean and p99 in ms.
 */
static void
bench_updates(struct fw *fw, const struct fw_grant *live, size_t n, bool cidr, int64_t end, size_t count,
	      double *ret_mean_ms, double *ret_p99_ms)
{
	struct core_error err = { 0 };
	struct fw_changes ch;
	double *ms, sum = 0;
	size_t k;

	*ret_mean_ms = *ret_p99_ms = 0;
	if (count == 0 || n == 0)
		return;
	if (count > n)
		count = n;
	ms = calloc(count, sizeof(*ms));
	if (!ms)
		exit(1);
	for (k = 0; k < count; k++) {
		struct fw_grant add;
		double t0;

		make_grant(&add, n + k, cidr, end);	/* an address and id no live grant has */
		t0 = now_s();
		if (fw_grant_update(fw, &add, 1, &live[k], 1, &ch, &err) < 0)
			fail("fw_grant_update", &err);
		ms[k] = (now_s() - t0) * 1e3;
		sum += ms[k];
	}
	qsort(ms, count, sizeof(*ms), cmp_double);
	*ret_mean_ms = sum / (double)count;
	*ret_p99_ms = ms[(count * 99 + 99) / 100 - 1];
	free(ms);
}

int
main(int argc, char **argv)
{
	struct fw_vm vm = { .id = 1, .point = FW_POINT_LOCAL };
	struct fw_port port = { .vm = 1, .proto = NET_PROTO_TCP, .port = 22 };
	struct core_error err = { 0 };
	struct fw_changes ch;
	struct fw_grant *grants;
	struct fw *fw = NULL;
	size_t n, batch, i, updates = BENCH_UPDATES_DEFAULT;
	bool cidr;
	int64_t end;
	double t0, t_add, t_rec, upd_mean, upd_p99;

	if (argc != 5 && argc != 6) {
		fprintf(stderr, "usage: fw-bench N BATCH single|cidr CLIENT_ADDR [UPDATES]\n");
		return 2;
	}
	n = strtoul(argv[1], NULL, 10);
	batch = strtoul(argv[2], NULL, 10);
	cidr = !strcmp(argv[3], "cidr");
	if (argc == 6)
		updates = strtoul(argv[5], NULL, 10);
	if (n > BENCH_GRANTS_MAX || batch == 0 || updates > BENCH_GRANTS_MAX) {
		fprintf(stderr, "fw-bench: N at most %d, BATCH at least 1\n", BENCH_GRANTS_MAX);
		return 2;
	}
	grants = calloc(n + 1, sizeof(*grants));
	if (!grants)
		return 1;
	end = time_now_ms() + BENCH_GRANT_MS;
	for (i = 0; i < n; i++)
		make_grant(&grants[i], i, cidr, end);
	/* the measuring client's grant, so connections from it are accepted by a set lookup */
	make_grant(&grants[n], 0, false, end);
	if (net_source_parse(argv[4], strlen(argv[4]), &grants[n].source, NULL) < 0)
		return 2;
	snprintf(grants[n].request_id, sizeof(grants[n].request_id), "bench-client");

	/* 1. from a protected, grant-less table: add N grants in batches */
	if (fw_new(&fw, &err) < 0)
		fail("fw_new", &err);
	{
		struct fw_state st = { &vm, 1, &port, 1, &grants[n], 1 };

		if (fw_reconcile(fw, &st, &ch, &err) < 0)
			fail("reconcile to empty", &err);
	}
	t0 = now_s();
	for (i = 0; i < n; i += batch)
		if (fw_grant_add(fw, grants + i, i + batch > n ? n - i : batch, &ch, &err) < 0)
			fail("fw_grant_add", &err);
	t_add = now_s() - t0;
	/* 1b. with those N live: single updates, one grant in and one out, as an initiate that supersedes */
	bench_updates(fw, grants, n, cidr, end, updates, &upd_mean, &upd_p99);
	fw_free(fw);

	/* 2. reconcile from empty: a fresh context (as after a restart) against a kernel holding no grants */
	if (fw_new(&fw, &err) < 0)
		fail("fw_new", &err);
	{
		struct fw_state empty = { &vm, 1, &port, 1, &grants[n], 1 };
		struct fw_state full = { &vm, 1, &port, 1, grants, n + 1 };

		if (fw_reconcile(fw, &empty, &ch, &err) < 0)
			fail("reconcile to empty", &err);
		fw_free(fw);
		if (fw_new(&fw, &err) < 0)
			fail("fw_new", &err);
		t0 = now_s();
		if (fw_reconcile(fw, &full, &ch, &err) < 0)
			fail("reconcile from empty", &err);
		t_rec = now_s() - t0;
		if (ch.added != n + 0 && n > 0) {
			fprintf(stderr, "fw-bench: reconcile added %zu, expected %zu\n", ch.added, n);
			return 1;
		}
		/* 3. a reconcile with nothing to do: the periodic check's cost */
		t0 = now_s();
		if (fw_reconcile(fw, &full, &ch, &err) < 0)
			fail("reconcile unchanged", &err);
	}
	printf("%zu %s %.3f %.3f %.3f %.3f %.3f\n", n, cidr ? "cidr" : "single", t_add, t_rec, now_s() - t0, upd_mean,
	       upd_p99);
	fw_free(fw);
	free(grants);
	return 0;
}

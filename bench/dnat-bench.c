/* Holds N live gateway DNAT grants in the kernel through src/fw, for bench/dnat-bench.sh to measure the DNAT path against. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fw/fw.h"

#define BENCH_GRANTS_MAX 1000000
#define BENCH_GRANT_MS (15 * 60 * 1000)	/* long enough to outlive the measurement */
#define BENCH_PORTS 64			/* the VM's other mapped ports, which the N grants are spread over */
#define BENCH_PORT_BASE 1000		/* ... ports 1000..1063, mapped to 51000..51063 */
#define BENCH_MAPPED_BASE 51000
#define BENCH_CLIENT_MAPPED 50022	/* the measuring client's grant: VM port 22 at PUB:50022 */

static void
fail(const char *what, const struct core_error *err)
{
	fprintf(stderr, "dnat-bench: %s: %s: %s\n", what, err->code, err->message);
	exit(1);
}

static void
parse_addr(const char *s, struct net_addr *ret)
{
	if (net_addr_parse(s, strlen(s), ret, NULL) < 0) {
		fprintf(stderr, "dnat-bench: '%s' is not an address\n", s);
		exit(2);
	}
}

/* Grant i: a single address in 10.128.0.0/9 on one of the mapped ports; the last one is the client's on 22. */
static void
make_grant(struct fw_grant *g, size_t i, const struct net_addr *pub, int64_t end_ms)
{
	uint32_t host = 0x0a800000u + (uint32_t)i + 16;
	char text[32];
	int n = snprintf(text, sizeof(text), "%u.%u.%u.%u", host >> 24, (host >> 16) & 255, (host >> 8) & 255, host & 255);

	memset(g, 0, sizeof(*g));
	g->vm = 1;
	if (net_source_parse(text, (size_t)n, &g->source, NULL) < 0)
		abort();
	g->proto = NET_PROTO_TCP;
	g->port = (uint16_t)(BENCH_PORT_BASE + i % BENCH_PORTS);
	g->end_ms = end_ms;
	g->dnat_addr = *pub;
	g->dnat_port = (uint16_t)(BENCH_MAPPED_BASE + i % BENCH_PORTS);
	snprintf(g->request_id, sizeof(g->request_id), "bench-%zu", i);
}

int
main(int argc, char **argv)
{
	struct fw_vm vm = { .id = 1, .point = FW_POINT_GATEWAY, .n_addrs = 1 };
	struct fw_port ports[BENCH_PORTS + 1];
	struct core_error err = { 0 };
	struct fw_changes ch;
	struct fw_grant *grants;
	struct net_addr pub;
	struct fw *fw = NULL;
	size_t n, i;
	int64_t end;

	if (argc != 5) {
		fprintf(stderr, "usage: dnat-bench N PUBLIC_ADDR VM_ADDR CLIENT_ADDR\n");
		return 2;
	}
	n = strtoul(argv[1], NULL, 10);
	if (n > BENCH_GRANTS_MAX) {
		fprintf(stderr, "dnat-bench: N at most %d\n", BENCH_GRANTS_MAX);
		return 2;
	}
	parse_addr(argv[2], &pub);
	parse_addr(argv[3], &vm.addrs[0]);
	for (i = 0; i <= BENCH_PORTS; i++)
		ports[i] = (struct fw_port){ .vm = 1, .proto = NET_PROTO_TCP,
					     .port = (uint16_t)(i < BENCH_PORTS ? BENCH_PORT_BASE + i : 22),
					     .dnat_addr = pub,
					     .dnat_port = (uint16_t)(i < BENCH_PORTS ? BENCH_MAPPED_BASE + i : BENCH_CLIENT_MAPPED) };
	if (!(grants = calloc(n + 1, sizeof(*grants))))
		return 1;
	end = time_now_ms() + BENCH_GRANT_MS;
	for (i = 0; i <= n; i++)
		make_grant(&grants[i], i, &pub, end);
	grants[n].port = 22;
	grants[n].dnat_port = BENCH_CLIENT_MAPPED;
	if (net_source_parse(argv[4], strlen(argv[4]), &grants[n].source, NULL) < 0)
		return 2;
	if (fw_new(&fw, &err) < 0)
		fail("fw_new", &err);
	{
		struct fw_state st = { &vm, 1, ports, BENCH_PORTS + 1, grants, n + 1 };

		if (fw_reconcile(fw, &st, &ch, &err) < 0)
			fail("reconcile", &err);
	}
	printf("%zu\n", n);
	fw_free(fw);
	free(grants);
	return 0;
}

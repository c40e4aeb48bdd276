/*
 * Fuzz target for jitgate-agent's host parsers (agent-host.h). The first byte picks the parser: os-release,
 * or /proc/net for TCP or UDP; the address list's rules run on the input's bytes read as addresses.
 * Invariants: fields stay printable and NUL-terminated; the socket list stays sorted, unique, within its cap
 * and made of wanted ports only; the address list stays sorted, unique and free of special addresses.
 */
#include <errno.h>

#include "agent/agent-host.h"
#include "fuzz-common.h"

#define FUZZ_LISTEN_MAX	8	/* a small cap, so that -E2BIG is reached */
#define FUZZ_ADDRS_MAX	4

static void
check_field(const char *s, size_t size)
{
	size_t i, n = strnlen(s, size);

	fuzz_check(n < size);
	for (i = 0; i < n; i++)
		fuzz_check(s[i] >= 0x20 && s[i] < 0x7f);
}

static void
os(const char *body, size_t size)
{
	struct agent_os o;

	agent_os_release_parse(body, size, &o);
	check_field(o.id, sizeof(o.id));
	check_field(o.pretty_name, sizeof(o.pretty_name));
}

static void
proc_net(const char *body, size_t size, enum net_proto proto)
{
	static const struct agent_port want[] = { { NET_PROTO_ANY, 22 }, { NET_PROTO_TCP, 3389 },
						  { NET_PROTO_UDP, 5985 }, { NET_PROTO_ANY, 0 } };
	struct agent_port out[FUZZ_LISTEN_MAX];
	size_t n = 0, i, j;
	int r;

	r = agent_proc_net_parse(body, size, proto, want, sizeof(want) / sizeof(want[0]), out, &n, FUZZ_LISTEN_MAX);
	fuzz_check(r >= 0 || r == -E2BIG);
	fuzz_check(n <= FUZZ_LISTEN_MAX);
	for (i = 0; i < n; i++) {
		fuzz_check(out[i].proto == proto);
		for (j = 0; j < sizeof(want) / sizeof(want[0]); j++)
			if (want[j].number == out[i].number && (want[j].proto == NET_PROTO_ANY || want[j].proto == proto))
				break;
		fuzz_check(j < sizeof(want) / sizeof(want[0]));
		fuzz_check(i == 0 || out[i - 1].number < out[i].number);
	}
}

static void
addrs(const uint8_t *data, size_t size)
{
	struct net_addr v[FUZZ_ADDRS_MAX];
	size_t n = 0, i;

	for (i = 0; i + 17 <= size; i += 17) {
		struct net_addr a = { .family = data[i] & 1 ? NET_INET6 : NET_INET };

		memcpy(a.bytes, data + i + 1, a.family == NET_INET ? 4 : 16);
		agent_addrs_add(v, &n, FUZZ_ADDRS_MAX, &a);
	}
	fuzz_check(n <= FUZZ_ADDRS_MAX);
	for (i = 0; i < n; i++) {
		fuzz_check(net_addr_special_kind(&v[i]) == NULL);
		fuzz_check(i == 0 || v[i - 1].family < v[i].family ||
			   (v[i - 1].family == v[i].family && memcmp(v[i - 1].bytes, v[i].bytes, 16) < 0));
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *body;

	if (size < 1)
		return 0;
	body = fuzz_copy(data + 1, size - 1);
	switch (data[0] % 4) {
	case 0:
		os(body, size - 1);
		break;
	case 1:
		proc_net(body, size - 1, NET_PROTO_TCP);
		break;
	case 2:
		proc_net(body, size - 1, NET_PROTO_UDP);
		break;
	default:
		addrs(data + 1, size - 1);
		break;
	}
	free(body);
	return 0;
}

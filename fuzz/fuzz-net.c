/* Fuzz target for addresses, prefixes, sources, ports and protocols, with round-trip and containment checks. */
#include <errno.h>

#include "core/net.h"
#include "fuzz-common.h"

static void
check_addr(const char *s, size_t n)
{
	struct net_addr a, b;
	struct core_error err;
	char buf[NET_ADDR_TEXT_MAX];
	int len;

	if (net_addr_parse(s, n, &a, &err) < 0) {
		fuzz_check_error(&err, "InvalidAddress");
		return;
	}
	fuzz_check(a.family == NET_INET || a.family == NET_INET6);
	len = net_addr_format(&a, buf, sizeof(buf));
	fuzz_check(len > 0 && strlen(buf) == (size_t)len);
	fuzz_check(net_addr_parse(buf, (size_t)len, &b, NULL) == 0);
	fuzz_check(memcmp(&a, &b, sizeof(a)) == 0);
	/* A single-address prefix of it holds it. */
	{
		struct net_prefix p;

		fuzz_check(net_prefix_parse(s, n, &p, NULL) == 0);
		fuzz_check(net_prefix_is_single(&p) && net_prefix_contains_addr(&p, &a));
	}
}

static void
check_prefix(const char *s, size_t n, struct net_prefix *ret, int *ok)
{
	struct net_prefix p, q;
	struct core_error err;
	char buf[NET_PREFIX_TEXT_MAX];
	int len;

	*ok = 0;
	if (net_prefix_parse(s, n, &p, &err) < 0) {
		fuzz_check_error(&err, "InvalidPrefix");
		return;
	}
	fuzz_check(net_prefix_is_valid(&p));
	fuzz_check(net_prefix_contains(&p, &p) && net_prefix_equal(&p, &p));
	len = net_prefix_format(&p, buf, sizeof(buf));
	fuzz_check(len > 0 && strlen(buf) == (size_t)len);
	fuzz_check(net_prefix_parse(buf, (size_t)len, &q, NULL) == 0);
	fuzz_check(memcmp(&p, &q, sizeof(p)) == 0);
	fuzz_check(net_prefix_format(&p, buf, (size_t)len) == -ENOSPC);
	*ret = p;
	*ok = 1;
}

static void
check_source(const char *s, size_t n)
{
	struct net_source a, b;
	struct core_error err;
	char buf[NET_PREFIX_TEXT_MAX];
	int len;

	if (net_source_parse(s, n, &a, &err) < 0) {
		fuzz_check_error(&err, "InvalidPrefix");
		return;
	}
	len = net_source_format(&a, buf, sizeof(buf));
	fuzz_check(len > 0);
	fuzz_check(net_source_parse(buf, (size_t)len, &b, NULL) == 0);
	fuzz_check(net_source_equal(&a, &b));
	fuzz_check(net_source_allows(&a, &b) && net_source_allows(&b, &a));
}

static void
check_port_proto(const char *s, size_t n)
{
	struct core_error err;
	enum net_proto proto, again;
	char buf[8];
	uint16_t port;

	if (net_port_parse(s, n, &port, &err) == 0) {
		/* Strict decimal: the text is exactly the number's canonical form. */
		int len = snprintf(buf, sizeof(buf), "%u", (unsigned)port);

		fuzz_check(port >= 1 && len > 0 && (size_t)len == n && memcmp(buf, s, n) == 0);
	} else {
		fuzz_check_error(&err, "InvalidPort");
	}
	if (net_proto_parse(s, n, &proto, &err) == 0) {
		const char *name = net_proto_name(proto);

		fuzz_check(net_proto_parse(name, strlen(name), &again, NULL) == 0 && again == proto);
		fuzz_check(n == strlen(name));
	} else {
		fuzz_check_error(&err, "InvalidProtocol");
	}
}

/* Containment is a partial order: reflexive (checked above), antisymmetric and transitive on what we have. */
static void
check_pair(const struct net_prefix *a, const struct net_prefix *b)
{
	bool ab = net_prefix_contains(a, b), ba = net_prefix_contains(b, a);

	if (ab && ba)
		fuzz_check(net_prefix_equal(a, b));
	if (ab) {
		fuzz_check(a->addr.family == b->addr.family && a->len <= b->len);
		fuzz_check(net_prefix_contains_addr(a, &b->addr));
	}
	if (a->addr.family != b->addr.family)
		fuzz_check(!ab && !ba);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct net_prefix a, b;
	int ok_a, ok_b;
	char *s = fuzz_copy(data, size);
	const char *split;

	check_addr(s, size);
	check_prefix(s, size, &a, &ok_a);
	check_source(s, size);
	check_port_proto(s, size);

	/* "x y": two prefixes to compare. */
	split = memchr(s, ' ', size);
	if (split != NULL) {
		size_t left = (size_t)(split - s);
		char *l = fuzz_copy(data, left);
		char *r = fuzz_copy(data + left + 1, size - left - 1);

		check_prefix(l, left, &a, &ok_a);
		check_prefix(r, size - left - 1, &b, &ok_b);
		if (ok_a && ok_b) {
			check_pair(&a, &b);
			check_pair(&b, &a);
		}
		free(l);
		free(r);
	}
	free(s);
	return 0;
}

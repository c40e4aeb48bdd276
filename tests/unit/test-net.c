/* Unit tests for addresses, prefixes, sources, ports and protocols. */
#include <errno.h>
#include <stdio.h>

#include "core/net.h"
#include "testutil.h"

static struct net_addr
addr(const char *s)
{
	struct net_addr a;

	assert_int_equal(net_addr_parse(s, strlen(s), &a, NULL), 0);
	return a;
}

static struct net_prefix
prefix(const char *s)
{
	struct net_prefix p;

	assert_int_equal(net_prefix_parse(s, strlen(s), &p, NULL), 0);
	return p;
}

static struct net_source
source(const char *s)
{
	struct net_source src;

	assert_int_equal(net_source_parse(s, strlen(s), &src, NULL), 0);
	return src;
}

/* parse → format gives `want`, and parsing `want` gives the same prefix. */
static void
check_prefix_format(const char *in, const char *want)
{
	char buf[NET_PREFIX_TEXT_MAX];
	struct net_prefix p = prefix(in), q;

	assert_int_equal(net_prefix_format(&p, buf, sizeof(buf)), (int)strlen(want));
	assert_string_equal(buf, want);
	q = prefix(buf);
	assert_true(net_prefix_equal(&p, &q));
	assert_memory_equal(&p, &q, sizeof(p));
}

static void
check_addr_bad(const char *s)
{
	struct core_error err;
	struct net_addr a;

	memset(&a, 0x5a, sizeof(a));
	assert_int_equal(net_addr_parse(s, strlen(s), &a, &err), -EINVAL);
	assert_error(&err, "InvalidAddress", "");
	/* ret untouched on failure */
	assert_int_equal(a.family, 0x5a);
}

static void
check_prefix_bad(const char *s)
{
	struct core_error err;
	struct net_prefix p;

	memset(&p, 0x5a, sizeof(p));
	assert_int_equal(net_prefix_parse(s, strlen(s), &p, &err), -EINVAL);
	assert_error(&err, "InvalidPrefix", "");
	assert_int_equal(p.len, 0x5a);
}

static void
test_addr_v4_good(void **state)
{
	struct net_addr a = addr("10.1.2.3");
	char buf[NET_ADDR_TEXT_MAX];

	assert_int_equal(a.family, NET_INET);
	assert_int_equal(a.bytes[0], 10);
	assert_int_equal(a.bytes[3], 3);
	assert_int_equal(a.bytes[4], 0);
	assert_int_equal(net_addr_bits(&a), 32);
	a = addr("0.0.0.0");
	assert_int_equal(net_addr_format(&a, buf, sizeof(buf)), 7);
	assert_string_equal(buf, "0.0.0.0");
	a = addr("255.255.255.255");
	assert_int_equal(net_addr_format(&a, buf, sizeof(buf)), 15);
	assert_string_equal(buf, "255.255.255.255");
	a = addr("100.64.0.0");
	assert_int_equal(a.bytes[1], 64);
}

static void
test_addr_v4_bad(void **state)
{
	static const char *const bad[] = {
		"", "1", "1.2.3", "1.2.3.4.5", "1.2.3.", ".1.2.3", "1..2.3", "256.1.1.1",
		"1.2.3.256", "010.1.1.1", "1.2.3.04", "00.1.1.1", "1.2.3.4 ", " 1.2.3.4",
		"1.2.3.-4", "+1.2.3.4", "1.2.3.4/", "0x1.2.3.4", "1.2.3.a", "1234.1.1.1",
		"1.2.3.1000", "a.b.c.d", "localhost", "1,2,3,4", "1.2.3.4\n", "999.999.999.999",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		check_addr_bad(bad[i]);
}

static void
test_addr_v6_good(void **state)
{
	char buf[NET_ADDR_TEXT_MAX];
	struct net_addr a;

	a = addr("::");
	assert_int_equal(a.family, NET_INET6);
	assert_int_equal(net_addr_bits(&a), 128);
	assert_int_equal(net_addr_format(&a, buf, sizeof(buf)), 2);
	assert_string_equal(buf, "::");

	a = addr("2001:DB8:0:0:0:0:0:1");
	net_addr_format(&a, buf, sizeof(buf));
	assert_string_equal(buf, "2001:db8::1");
	assert_int_equal(a.bytes[0], 0x20);
	assert_int_equal(a.bytes[15], 1);

	a = addr("::1");
	assert_int_equal(a.bytes[15], 1);
	a = addr("fe80::");
	assert_int_equal(a.bytes[0], 0xfe);
	a = addr("1:2:3:4:5:6:7:8");
	net_addr_format(&a, buf, sizeof(buf));
	assert_string_equal(buf, "1:2:3:4:5:6:7:8");
	/* IPv4-mapped: the IPv4 address the kernel sees */
	a = addr("::ffff:192.0.2.1");
	assert_int_equal(a.family, NET_INET);
	assert_int_equal(a.bytes[0], 192);
	assert_int_equal(a.bytes[10], 0);
	net_addr_format(&a, buf, sizeof(buf));
	assert_string_equal(buf, "192.0.2.1");
	a = addr("::FFFF:c000:0201");
	assert_int_equal(a.family, NET_INET);
	assert_int_equal(a.bytes[3], 1);
	a = addr("64:ff9b::10.0.0.1");
	assert_int_equal(a.family, NET_INET6);
	assert_int_equal(a.bytes[15], 1);
	a = addr("0000:0000:0000:0000:0000:ffff:255.255.255.255");
	assert_int_equal(a.family, NET_INET);
	assert_int_equal(a.bytes[3], 255);
	a = addr("::fffe:192.0.2.1");	/* not mapped */
	assert_int_equal(a.family, NET_INET6);
	/* RFC 5952: the longest run of zeros is compressed, the first on a tie. */
	a = addr("2001:db8:0:0:1:0:0:1");
	net_addr_format(&a, buf, sizeof(buf));
	assert_string_equal(buf, "2001:db8::1:0:0:1");
}

static void
test_addr_v6_bad(void **state)
{
	static const char *const bad[] = {
		":", ":::", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7", "1::2::3", "12345::",
		"g::1", "::1%eth0", "[::1]", "::1/128", "::ffff:1.2.3", "::ffff:01.2.3.4",
		"::ffff:1.2.3.256", "1.2.3.4::", "::1 ", "1:2:3:4:5:6:7:8::", ":1::", "1::2:",
		"::ffff:1.2.3.4:1", "fe80:::1",
		"0000:0000:0000:0000:0000:ffff:255.255.255.2550",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		check_addr_bad(bad[i]);
}

static void
test_addr_unterminated(void **state)
{
	struct net_addr a;
	size_t n;
	char *s = test_copy_unterminated("10.0.0.1", &n);

	assert_int_equal(net_addr_parse(s, n, &a, NULL), 0);
	assert_int_equal(a.bytes[3], 1);
	free(s);
	s = test_copy_unterminated("2001:db8::", &n);
	assert_int_equal(net_addr_parse(s, n, &a, NULL), 0);
	assert_int_equal(a.bytes[15], 0);
	free(s);
	/* Embedded NUL inside the length: refused. */
	assert_int_equal(net_addr_parse("1.2.3.4\0", 8, &a, NULL), -EINVAL);
	assert_int_equal(net_addr_parse("::1\0", 4, &a, NULL), -EINVAL);
}

static void
test_addr_format_nospace(void **state)
{
	struct net_addr a = addr("10.0.0.1");
	char buf[8];

	assert_int_equal(net_addr_format(&a, buf, 8), -ENOSPC);
	assert_int_equal(net_addr_format(&a, buf, 9 > sizeof(buf) ? sizeof(buf) : 9), -ENOSPC);
	a = addr("1.2.3.4");
	assert_int_equal(net_addr_format(&a, buf, 8), 7);
	assert_int_equal(net_addr_format(&a, buf, 7), -ENOSPC);
}

static void
test_addr_unmap(void **state)
{
	struct net_addr a = addr("::ffff:192.0.2.1"), b = addr("192.0.2.1"), c = addr("::1");

	net_addr_unmap_v4(&a);
	assert_true(net_addr_equal(&a, &b));
	assert_memory_equal(&a, &b, sizeof(a));
	net_addr_unmap_v4(&b);
	assert_true(net_addr_equal(&a, &b));
	net_addr_unmap_v4(&c);
	assert_int_equal(c.family, NET_INET6);
}

static void
test_prefix_good(void **state)
{
	struct net_prefix p;

	check_prefix_format("10.0.0.0/8", "10.0.0.0/8");
	check_prefix_format("10.1.2.3", "10.1.2.3");
	check_prefix_format("10.1.2.3/32", "10.1.2.3");
	check_prefix_format("0.0.0.0/0", "0.0.0.0/0");
	check_prefix_format("::/0", "::/0");
	check_prefix_format("2001:db8::1/128", "2001:db8::1");
	check_prefix_format("2001:db8::/32", "2001:db8::/32");
	check_prefix_format("192.168.1.128/25", "192.168.1.128/25");
	p = prefix("10.0.0.1");
	assert_int_equal(p.len, 32);
	assert_true(net_prefix_is_single(&p));
	p = prefix("::1");
	assert_int_equal(p.len, 128);
	assert_true(net_prefix_is_single(&p));
	p = prefix("10.0.0.0/31");
	assert_false(net_prefix_is_single(&p));
}

static void
test_prefix_normalises(void **state)
{
	check_prefix_format("10.1.2.3/24", "10.1.2.0/24");
	check_prefix_format("10.1.2.3/0", "0.0.0.0/0");
	check_prefix_format("10.1.2.255/31", "10.1.2.254/31");
	check_prefix_format("10.1.255.3/17", "10.1.128.0/17");
	check_prefix_format("2001:db8::1/32", "2001:db8::/32");
	check_prefix_format("2001:db8:ffff::1/33", "2001:db8:8000::/33");
	check_prefix_format("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/127", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe/127");
	/* IPv4-mapped prefixes of /96 or longer are the IPv4 prefix; shorter ones are not IPv4 at all */
	check_prefix_format("::ffff:1.2.3.4/120", "1.2.3.0/24");
	check_prefix_format("::ffff:1.2.3.4", "1.2.3.4");
	check_prefix_format("::ffff:1.2.3.4/128", "1.2.3.4");
	check_prefix_format("::ffff:0:0/96", "0.0.0.0/0");
	check_prefix_format("::ffff:1.2.3.4/80", "::/80");
}

static void
test_special_addresses(void **state)
{
	static const char *const special[] = {
		"0.0.0.0", "0.1.2.3", "127.0.0.1", "127.255.0.9", "169.254.1.1", "224.0.0.1", "239.255.255.255",
		"240.0.0.1", "255.255.255.255", "::", "::1", "fe80::1", "febf::1", "ff02::1", "ff0e::9",
	};
	static const char *const ordinary[] = {
		"10.0.0.5", "1.2.3.4", "126.255.255.255", "128.0.0.1", "169.253.1.1", "223.255.255.255",
		"2001:db8::1", "fd00::5", "fec0::1", "::2", "::ffff:10.0.0.5", "64:ff9b::10.0.0.1",
	};
	struct net_addr a;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(special) / sizeof(special[0]); i++) {
		a = addr(special[i]);
		if (!net_addr_special_kind(&a))
			fail_msg("%s is an ordinary address?", special[i]);
	}
	for (i = 0; i < sizeof(ordinary) / sizeof(ordinary[0]); i++) {
		a = addr(ordinary[i]);
		if (net_addr_special_kind(&a))
			fail_msg("%s is %s?", ordinary[i], net_addr_special_kind(&a));
	}
	a = addr("127.0.0.1");
	assert_string_equal(net_addr_special_kind(&a), "a loopback address");
}

/* A "my IP" or requested source written IPv4-mapped is granted as IPv4 and fits IPv4 rules (issue 11). */
static void
test_source_v4_mapped(void **state)
{
	struct net_source any = source("*"), ten = source("10.0.0.0/8"), mapped = source("::ffff:10.0.0.5");
	struct net_source v4 = source("10.0.0.5");
	char buf[NET_PREFIX_TEXT_MAX];

	(void)state;
	assert_int_equal(mapped.prefix.addr.family, NET_INET);
	assert_true(net_source_equal(&mapped, &v4));
	assert_true(net_source_allows(&any, &mapped));
	assert_true(net_source_allows(&ten, &mapped));
	assert_true(net_prefix_is_single(&mapped.prefix));
	assert_int_equal(net_source_format(&mapped, buf, sizeof(buf)), 8);
	assert_string_equal(buf, "10.0.0.5");
}

static void
test_prefix_bad(void **state)
{
	static const char *const bad[] = {
		"", "/", "/24", "10.0.0.0/", "10.0.0.0/33", "10.0.0.0/-1", "10.0.0.0/+8",
		"10.0.0.0/08", "10.0.0.0/00", "10.0.0.0/8/8", "10.0.0.0/ 8", "10.0.0.0 /8",
		"10.0.0.0/8 ", "10.0.0.0/1000", "::/129", "::/0128", "2001:db8::/a", "*",
		"10.0.0/8", "010.0.0.0/8", "10.0.0.0/3x", "::1/256", "10.0.0.0/999",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		check_prefix_bad(bad[i]);
}

static void
test_prefix_len_limits(void **state)
{
	struct net_prefix p;
	struct core_error err;

	assert_int_equal(net_prefix_parse(S("1.2.3.4/32"), &p, NULL), 0);
	assert_int_equal(net_prefix_parse(S("1.2.3.4/33"), &p, &err), -EINVAL);
	assert_string_equal(err.code, "InvalidPrefix");
	assert_non_null(strstr(err.message, "1.2.3.4/33"));
	assert_int_equal(net_prefix_parse(S("::/128"), &p, NULL), 0);
	assert_int_equal(p.len, 128);
	assert_int_equal(net_prefix_parse(S("::/129"), &p, NULL), -EINVAL);
	/* too long overall */
	assert_int_equal(net_prefix_parse(S("0000:0000:0000:0000:0000:ffff:255.255.255.255/128"), &p, NULL), 0);
	assert_int_equal(net_prefix_parse(S("0000:0000:0000:0000:0000:ffff:255.255.255.255/0128"), &p, NULL), -EINVAL);
}

static void
test_prefix_unterminated(void **state)
{
	struct net_prefix p;
	size_t n;
	char *s = test_copy_unterminated("10.1.2.3/2", &n);

	assert_int_equal(net_prefix_parse(s, n, &p, NULL), 0);
	assert_int_equal(p.len, 2);
	assert_int_equal(p.addr.bytes[0], 0);
	free(s);
	s = test_copy_unterminated("10.1.2.3", &n);
	assert_int_equal(net_prefix_parse(s, n, &p, NULL), 0);
	assert_int_equal(p.len, 32);
	free(s);
}

static void
test_prefix_format_nospace(void **state)
{
	struct net_prefix p = prefix("10.0.0.0/8");
	char buf[16];

	assert_int_equal(net_prefix_format(&p, buf, 11), 10);
	assert_int_equal(net_prefix_format(&p, buf, 10), -ENOSPC);
}

static void
test_contains_v4(void **state)
{
	struct net_prefix p8 = prefix("10.0.0.0/8"), p24 = prefix("10.1.2.0/24"), h = prefix("10.1.2.3");
	struct net_prefix all = prefix("0.0.0.0/0"), other = prefix("11.0.0.0/8"), p9 = prefix("10.128.0.0/9");
	struct net_addr a = addr("10.200.0.1"), b = addr("11.0.0.1");

	assert_true(net_prefix_contains(&p8, &p24));
	assert_true(net_prefix_contains(&p8, &h));
	assert_true(net_prefix_contains(&p24, &h));
	assert_true(net_prefix_contains(&p8, &p8));
	assert_false(net_prefix_contains(&p24, &p8));
	assert_false(net_prefix_contains(&h, &p24));
	assert_true(net_prefix_contains(&all, &p8));
	assert_true(net_prefix_contains(&all, &all));
	assert_false(net_prefix_contains(&p8, &all));
	assert_false(net_prefix_contains(&other, &h));
	assert_true(net_prefix_contains(&p8, &p9));
	assert_false(net_prefix_contains(&p9, &p24));
	assert_true(net_prefix_contains_addr(&p9, &a));
	/* Adjacent lengths: a /15 is never inside a /16, even with the same leading bits. */
	{
		struct net_prefix p16 = prefix("10.0.0.0/16"), p15 = prefix("10.0.0.0/15"), p1 = prefix("0.0.0.0/1");

		assert_true(net_prefix_contains(&p15, &p16));
		assert_false(net_prefix_contains(&p16, &p15));
		assert_false(net_prefix_contains(&p1, &all));
		assert_true(net_prefix_contains(&all, &p1));
	}
	assert_false(net_prefix_contains_addr(&p9, &b));
	assert_true(net_prefix_contains_addr(&all, &b));
}

static void
test_contains_v6_and_families(void **state)
{
	struct net_prefix p32 = prefix("2001:db8::/32"), p64 = prefix("2001:db8:1:2::/64");
	struct net_prefix h = prefix("2001:db8:1:2::99"), all6 = prefix("::/0"), all4 = prefix("0.0.0.0/0");
	struct net_prefix v4 = prefix("10.0.0.1"), mapped = prefix("::ffff:10.0.0.1");
	struct net_prefix odd = prefix("2001:db9::/33");

	assert_true(net_prefix_contains(&p32, &p64));
	assert_true(net_prefix_contains(&p64, &h));
	assert_true(net_prefix_contains(&all6, &h));
	assert_false(net_prefix_contains(&p64, &p32));
	assert_false(net_prefix_contains(&p32, &odd));
	/* Never across families, not even /0. */
	assert_false(net_prefix_contains(&all6, &v4));
	assert_false(net_prefix_contains(&all4, &h));
	/* an IPv4-mapped address is parsed as the IPv4 one */
	assert_true(net_prefix_contains(&all4, &mapped));
	assert_false(net_prefix_contains(&all6, &mapped));
	assert_true(net_prefix_equal(&v4, &mapped));
}

static void
test_source(void **state)
{
	struct net_source any = source("*"), p8 = source("10.0.0.0/8"), h = source("10.1.2.3");
	struct net_source v6 = source("2001:db8::/32");
	char buf[NET_PREFIX_TEXT_MAX];
	struct core_error err;
	struct net_source s;

	assert_true(any.any);
	assert_false(p8.any);
	assert_int_equal(net_source_format(&any, buf, sizeof(buf)), 1);
	assert_string_equal(buf, "*");
	assert_int_equal(net_source_format(&any, buf, 1), -ENOSPC);
	assert_int_equal(net_source_format(&p8, buf, sizeof(buf)), 10);
	assert_string_equal(buf, "10.0.0.0/8");

	assert_true(net_source_allows(&any, &any));
	assert_true(net_source_allows(&any, &h));
	assert_true(net_source_allows(&any, &v6));
	assert_false(net_source_allows(&p8, &any));
	assert_true(net_source_allows(&p8, &h));
	assert_false(net_source_allows(&h, &p8));
	assert_false(net_source_allows(&p8, &v6));
	assert_true(net_source_equal(&any, &any));
	assert_false(net_source_equal(&any, &p8));
	assert_true(net_source_equal(&p8, &p8));

	assert_int_equal(net_source_parse(S("**"), &s, &err), -EINVAL);
	assert_string_equal(err.code, "InvalidPrefix");
	assert_int_equal(net_source_parse(S(""), &s, &err), -EINVAL);
	assert_int_equal(net_source_parse(S("*/0"), &s, &err), -EINVAL);
	assert_int_equal(net_source_parse(S(" *"), &s, &err), -EINVAL);
	assert_int_equal(net_source_parse(S("any"), &s, &err), -EINVAL);
	assert_int_equal(net_source_parse(S("Internet"), &s, &err), -EINVAL);
	/* "*" then garbage beyond n */
	assert_int_equal(net_source_parse("*/8", 1, &s, NULL), 0);
	assert_true(s.any);
}

static void
test_port(void **state)
{
	static const char *const bad[] = {
		"", "0", "00", "022", "65536", "70000", "100000", "-1", "+22", " 22", "22 ",
		"2a", "0x16", "99999", "1.0", "22,",
	};
	struct core_error err;
	uint16_t p = 7;
	size_t i, n;
	char *s;

	assert_int_equal(net_port_parse(S("1"), &p, NULL), 0);
	assert_int_equal(p, 1);
	assert_int_equal(net_port_parse(S("22"), &p, NULL), 0);
	assert_int_equal(p, 22);
	assert_int_equal(net_port_parse(S("65535"), &p, NULL), 0);
	assert_int_equal(p, 65535);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		p = 7;
		assert_int_equal(net_port_parse(bad[i], strlen(bad[i]), &p, &err), -EINVAL);
		assert_error(&err, "InvalidPort", "");
		assert_int_equal(p, 7);
	}
	assert_int_equal(net_port_parse(S("65536"), &p, &err), -EINVAL);
	assert_non_null(strstr(err.message, "'65536'"));
	s = test_copy_unterminated("3389", &n);
	assert_int_equal(net_port_parse(s, n, &p, NULL), 0);
	assert_int_equal(p, 3389);
	free(s);
}

static void
test_proto(void **state)
{
	enum net_proto p = NET_PROTO_UDP;
	struct core_error err;

	assert_int_equal(net_proto_parse(S("TCP"), &p, NULL), 0);
	assert_int_equal(p, NET_PROTO_TCP);
	assert_int_equal(net_proto_parse(S("tcp"), &p, NULL), 0);
	assert_int_equal(p, NET_PROTO_TCP);
	assert_int_equal(net_proto_parse(S("Udp"), &p, NULL), 0);
	assert_int_equal(p, NET_PROTO_UDP);
	assert_int_equal(net_proto_parse(S("*"), &p, NULL), 0);
	assert_int_equal(p, NET_PROTO_ANY);
	assert_int_equal(net_proto_parse(S("TCPX"), &p, &err), -EINVAL);
	assert_error(&err, "InvalidProtocol", "");
	assert_int_equal(p, NET_PROTO_ANY);
	assert_int_equal(net_proto_parse(S(""), &p, &err), -EINVAL);
	assert_int_equal(net_proto_parse(S("TC"), &p, &err), -EINVAL);
	assert_int_equal(net_proto_parse(S("ICMP"), &p, &err), -EINVAL);
	assert_int_equal(net_proto_parse(S("Any"), &p, &err), -EINVAL);
	assert_int_equal(net_proto_parse("TCP\0", 4, &p, &err), -EINVAL);
	assert_int_equal(net_proto_parse("UDPX", 3, &p, &err), 0);
	assert_int_equal(p, NET_PROTO_UDP);
	assert_string_equal(net_proto_name(NET_PROTO_TCP), "TCP");
	assert_string_equal(net_proto_name(NET_PROTO_UDP), "UDP");
	assert_string_equal(net_proto_name(NET_PROTO_ANY), "*");
	assert_true(net_proto_overlaps(NET_PROTO_ANY, NET_PROTO_TCP));
	assert_true(net_proto_overlaps(NET_PROTO_UDP, NET_PROTO_ANY));
	assert_true(net_proto_overlaps(NET_PROTO_TCP, NET_PROTO_TCP));
	assert_false(net_proto_overlaps(NET_PROTO_TCP, NET_PROTO_UDP));
}

static void
test_binary_message_is_safe(void **state)
{
	char bin[200];
	struct core_error err;
	struct net_addr a;
	size_t i;

	for (i = 0; i < sizeof(bin); i++)
		bin[i] = (char)(i * 37 + 1);
	assert_int_equal(net_addr_parse(bin, sizeof(bin), &a, &err), -EINVAL);
	for (i = 0; err.message[i] != '\0'; i++)
		assert_true(err.message[i] >= 0x20 && err.message[i] < 0x7f);
	assert_non_null(strstr(err.message, "..."));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_addr_v4_good),
		cmocka_unit_test(test_addr_v4_bad),
		cmocka_unit_test(test_addr_v6_good),
		cmocka_unit_test(test_addr_v6_bad),
		cmocka_unit_test(test_addr_unterminated),
		cmocka_unit_test(test_addr_format_nospace),
		cmocka_unit_test(test_addr_unmap),
		cmocka_unit_test(test_prefix_good),
		cmocka_unit_test(test_prefix_normalises),
		cmocka_unit_test(test_special_addresses),
		cmocka_unit_test(test_source_v4_mapped),
		cmocka_unit_test(test_prefix_bad),
		cmocka_unit_test(test_prefix_len_limits),
		cmocka_unit_test(test_prefix_unterminated),
		cmocka_unit_test(test_prefix_format_nospace),
		cmocka_unit_test(test_contains_v4),
		cmocka_unit_test(test_contains_v6_and_families),
		cmocka_unit_test(test_source),
		cmocka_unit_test(test_port),
		cmocka_unit_test(test_proto),
		cmocka_unit_test(test_binary_message_is_safe),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

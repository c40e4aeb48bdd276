/* Parsing, formatting and containment of addresses, prefixes, sources, ports and protocols. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "net.h"

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool
is_hex(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static char
ascii_lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* Dotted quad, four decimal octets 0–255, no leading zeros (they mean octal to some parsers). */
static int
parse_v4(const char *s, size_t n, uint8_t out[4])
{
	size_t i = 0;
	int octet;

	for (octet = 0; octet < 4; octet++) {
		size_t start = i;
		unsigned v = 0;

		if (octet > 0) {
			if (i >= n || s[i] != '.')
				return -EINVAL;
			start = ++i;
		}
		while (i < n && is_digit(s[i]) && i - start < 3) {
			v = v * 10 + (unsigned)(s[i] - '0');
			i++;
		}
		if (i == start || v > 255)
			return -EINVAL;
		if (i - start > 1 && s[start] == '0')
			return -EINVAL;
		out[octet] = (uint8_t)v;
	}
	return i == n ? 0 : -EINVAL;
}

static int
parse_v6(const char *s, size_t n, uint8_t out[16])
{
	char copy[NET_ADDR_TEXT_MAX];
	size_t i;

	if (n >= sizeof(copy))
		return -EINVAL;
	for (i = 0; i < n; i++)
		if (!is_hex(s[i]) && s[i] != ':' && s[i] != '.')
			return -EINVAL;
	/* The copy is bounded and NUL-terminated, so inet_pton sees exactly s[0..n). */
	memcpy(copy, s, n);
	copy[n] = '\0';
	if (inet_pton(AF_INET6, copy, out) != 1)
		return -EINVAL;
	return 0;
}

/* The text as written: an IPv4-mapped IPv6 address stays IPv6 here (prefix_parse needs its length first). */
static int
addr_parse_raw(const char *s, size_t n, struct net_addr *ret)
{
	struct net_addr a;

	memset(&a, 0, sizeof(a));
	if (n == 0 || n >= NET_ADDR_TEXT_MAX)
		return -EINVAL;
	if (memchr(s, ':', n) != NULL) {
		if (parse_v6(s, n, a.bytes) < 0)
			return -EINVAL;
		a.family = NET_INET6;
	} else {
		if (parse_v4(s, n, a.bytes) < 0)
			return -EINVAL;
		a.family = NET_INET;
	}
	*ret = a;
	return 0;
}

static bool
addr_is_v4_mapped(const struct net_addr *a)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	return a->family == NET_INET6 && memcmp(a->bytes, mapped, sizeof(mapped)) == 0;
}

/*
 * Every address that enters is IPv4 when it is one: "::ffff:10.0.0.5" is 10.0.0.5, which is what
 * the kernel sees on the wire (a grant keyed by the IPv6 form would never match).
 */
static int
addr_parse(const char *s, size_t n, struct net_addr *ret)
{
	struct net_addr a;

	if (addr_parse_raw(s, n, &a) < 0)
		return -EINVAL;
	net_addr_unmap_v4(&a);
	*ret = a;
	return 0;
}

int
net_addr_parse(const char *s, size_t n, struct net_addr *ret, struct core_error *err)
{
	char q[ERROR_QUOTE_SIZE];
	struct net_addr a;

	if (addr_parse(s, n, &a) < 0)
		return core_error_set(err, "InvalidAddress", NULL,
		    "'%s' is not a valid IP address: expected a dotted-quad IPv4 or an IPv6 address",
		    core_error_quote(s, n, q, sizeof(q)));
	*ret = a;
	return 0;
}

int
net_addr_format(const struct net_addr *a, char *buf, size_t size)
{
	char text[NET_ADDR_TEXT_MAX];
	size_t len;

	if (a->family == NET_INET) {
		int r = snprintf(text, sizeof(text), "%u.%u.%u.%u",
		    a->bytes[0], a->bytes[1], a->bytes[2], a->bytes[3]);

		if (r < 0)
			return -EINVAL;
	} else if (a->family == NET_INET6) {
		if (inet_ntop(AF_INET6, a->bytes, text, sizeof(text)) == NULL)
			return -EINVAL;
	} else {
		return -EAFNOSUPPORT;
	}
	len = strlen(text);
	if (len + 1 > size)
		return -ENOSPC;
	memcpy(buf, text, len + 1);
	return (int)len;
}

unsigned
net_addr_bits(const struct net_addr *a)
{
	return a->family == NET_INET6 ? 128 : 32;
}

bool
net_addr_equal(const struct net_addr *a, const struct net_addr *b)
{
	return a->family == b->family && memcmp(a->bytes, b->bytes, sizeof(a->bytes)) == 0;
}

void
net_addr_unmap_v4(struct net_addr *a)
{
	if (!addr_is_v4_mapped(a))
		return;
	memmove(a->bytes, a->bytes + 12, 4);
	memset(a->bytes + 4, 0, sizeof(a->bytes) - 4);
	a->family = NET_INET;
}

const char *
net_addr_special_kind(const struct net_addr *a)
{
	static const uint8_t zero[16];
	const uint8_t *b = a->bytes;

	if (a->family == NET_INET) {
		if (b[0] == 0)
			return "an unspecified (0.0.0.0/8) address";
		if (b[0] == 127)
			return "a loopback address";
		if (b[0] == 169 && b[1] == 254)
			return "a link-local address";
		if (b[0] >= 224 && b[0] <= 239)
			return "a multicast address";
		if (b[0] >= 240)
			return "a reserved or broadcast address";
		return NULL;
	}
	if (a->family != NET_INET6)
		return "not an IP address";
	if (memcmp(b, zero, 16) == 0)
		return "the unspecified address";
	if (memcmp(b, zero, 15) == 0 && b[15] == 1)
		return "a loopback address";
	if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)
		return "a link-local address";
	if (b[0] == 0xff)
		return "a multicast address";
	if (addr_is_v4_mapped(a))
		return "an IPv4-mapped address";
	return NULL;
}

/* Clear every bit at or beyond `len`. */
static void
mask_host_bits(uint8_t bytes[16], unsigned len)
{
	unsigned i;

	for (i = 0; i < 16; i++) {
		if (len >= 8 * (i + 1))
			continue;
		if (len <= 8 * i)
			bytes[i] = 0;
		else
			bytes[i] &= (uint8_t)(0xff00u >> (len - 8 * i));
	}
}

static int
prefix_parse(const char *s, size_t n, struct net_prefix *ret)
{
	struct net_prefix p;
	const char *slash;
	size_t alen, i;
	unsigned len = 0;

	memset(&p, 0, sizeof(p));
	if (n == 0 || n >= NET_PREFIX_TEXT_MAX)
		return -EINVAL;
	slash = memchr(s, '/', n);
	alen = slash ? (size_t)(slash - s) : n;
	if (addr_parse_raw(s, alen, &p.addr) < 0)
		return -EINVAL;
	if (slash == NULL) {
		net_addr_unmap_v4(&p.addr);
		p.len = (uint8_t)net_addr_bits(&p.addr);
		*ret = p;
		return 0;
	}
	/* 1–3 decimal digits, no sign, no leading zero. */
	i = alen + 1;
	if (i == n || n - i > 3 || (s[i] == '0' && n - i > 1))
		return -EINVAL;
	for (; i < n; i++) {
		if (!is_digit(s[i]))
			return -EINVAL;
		len = len * 10 + (unsigned)(s[i] - '0');
	}
	if (len > net_addr_bits(&p.addr))
		return -ERANGE;
	/* ::ffff:a.b.c.d/96+n is the IPv4 prefix a.b.c.d/n; shorter ones reach beyond IPv4 and stay IPv6 */
	if (addr_is_v4_mapped(&p.addr) && len >= 96) {
		net_addr_unmap_v4(&p.addr);
		len -= 96;
	}
	p.len = (uint8_t)len;
	mask_host_bits(p.addr.bytes, len);
	*ret = p;
	return 0;
}

int
net_prefix_parse(const char *s, size_t n, struct net_prefix *ret, struct core_error *err)
{
	char q[ERROR_QUOTE_SIZE];
	struct net_prefix p;
	int r;

	r = prefix_parse(s, n, &p);
	if (r == -ERANGE)
		return core_error_set(err, "InvalidPrefix", NULL,
		    "'%s' is not a valid address prefix: the length must be 0 to 32 for IPv4 and 0 to 128 for IPv6",
		    core_error_quote(s, n, q, sizeof(q)));
	if (r < 0)
		return core_error_set(err, "InvalidPrefix", NULL,
		    "'%s' is not a valid address prefix: expected an IP address, optionally followed by '/' and a prefix length",
		    core_error_quote(s, n, q, sizeof(q)));
	*ret = p;
	return 0;
}

int
net_prefix_format(const struct net_prefix *p, char *buf, size_t size)
{
	char text[NET_PREFIX_TEXT_MAX];
	int alen, r;

	alen = net_addr_format(&p->addr, text, sizeof(text));
	if (alen < 0)
		return alen;
	if (!net_prefix_is_single(p)) {
		r = snprintf(text + alen, sizeof(text) - (size_t)alen, "/%u", (unsigned)p->len);
		if (r < 0 || (size_t)r >= sizeof(text) - (size_t)alen)
			return -EINVAL;
		alen += r;
	}
	if ((size_t)alen + 1 > size)
		return -ENOSPC;
	memcpy(buf, text, (size_t)alen + 1);
	return alen;
}

bool
net_prefix_is_single(const struct net_prefix *p)
{
	return p->len == net_addr_bits(&p->addr);
}

bool
net_prefix_is_valid(const struct net_prefix *p)
{
	uint8_t masked[16];

	if (p->addr.family != NET_INET && p->addr.family != NET_INET6)
		return false;
	if (p->len > net_addr_bits(&p->addr))
		return false;
	memcpy(masked, p->addr.bytes, sizeof(masked));
	mask_host_bits(masked, p->len);
	if (p->addr.family == NET_INET)
		mask_host_bits(masked, 32);	/* IPv4 keeps bytes 4..15 zero */
	return memcmp(masked, p->addr.bytes, sizeof(masked)) == 0;
}

bool
net_prefix_contains(const struct net_prefix *outer, const struct net_prefix *inner)
{
	unsigned full, rest;

	if (outer->addr.family != inner->addr.family || inner->len < outer->len)
		return false;
	if (outer->len > net_addr_bits(&outer->addr))
		return false;
	full = outer->len / 8;
	rest = outer->len % 8;
	if (memcmp(outer->addr.bytes, inner->addr.bytes, full) != 0)
		return false;
	if (rest != 0) {
		uint8_t mask = (uint8_t)(0xff00u >> rest);

		if ((outer->addr.bytes[full] & mask) != (inner->addr.bytes[full] & mask))
			return false;
	}
	return true;
}

void
net_prefix_from_addr(const struct net_addr *a, struct net_prefix *ret)
{
	struct net_prefix p;

	memset(&p, 0, sizeof(p));
	p.addr = *a;
	p.len = (uint8_t)net_addr_bits(a);
	*ret = p;
}

bool
net_prefix_contains_addr(const struct net_prefix *outer, const struct net_addr *a)
{
	struct net_prefix inner;

	net_prefix_from_addr(a, &inner);
	return net_prefix_contains(outer, &inner);
}

bool
net_prefix_equal(const struct net_prefix *a, const struct net_prefix *b)
{
	return a->len == b->len && net_addr_equal(&a->addr, &b->addr);
}

int
net_source_parse(const char *s, size_t n, struct net_source *ret, struct core_error *err)
{
	struct net_source src;
	int r;

	memset(&src, 0, sizeof(src));
	if (n == 1 && s[0] == '*') {
		src.any = true;
		*ret = src;
		return 0;
	}
	r = net_prefix_parse(s, n, &src.prefix, err);
	if (r < 0)
		return r;
	*ret = src;
	return 0;
}

int
net_source_format(const struct net_source *src, char *buf, size_t size)
{
	if (src->any) {
		if (size < 2)
			return -ENOSPC;
		memcpy(buf, "*", 2);
		return 1;
	}
	return net_prefix_format(&src->prefix, buf, size);
}

bool
net_source_allows(const struct net_source *outer, const struct net_source *inner)
{
	if (outer->any)
		return true;
	if (inner->any)
		return false;
	return net_prefix_contains(&outer->prefix, &inner->prefix);
}

bool
net_source_equal(const struct net_source *a, const struct net_source *b)
{
	if (a->any || b->any)
		return a->any == b->any;
	return net_prefix_equal(&a->prefix, &b->prefix);
}

int
net_port_parse(const char *s, size_t n, uint16_t *ret, struct core_error *err)
{
	char q[ERROR_QUOTE_SIZE];
	unsigned v = 0;
	size_t i;

	if (n == 0 || n > 5 || s[0] == '0')
		goto fail;
	for (i = 0; i < n; i++) {
		if (!is_digit(s[i]))
			goto fail;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v < 1 || v > 65535)
		goto fail;
	*ret = (uint16_t)v;
	return 0;
fail:
	return core_error_set(err, "InvalidPort", NULL,
	    "'%s' is not a valid port: it must be a whole number from 1 to 65535",
	    core_error_quote(s, n, q, sizeof(q)));
}

static bool
equal_nocase(const char *s, size_t n, const char *lit)
{
	size_t i;

	if (strlen(lit) != n)
		return false;
	for (i = 0; i < n; i++)
		if (ascii_lower(s[i]) != ascii_lower(lit[i]))
			return false;
	return true;
}

int
net_proto_parse(const char *s, size_t n, enum net_proto *ret, struct core_error *err)
{
	char q[ERROR_QUOTE_SIZE];

	if (equal_nocase(s, n, "TCP")) {
		*ret = NET_PROTO_TCP;
		return 0;
	}
	if (equal_nocase(s, n, "UDP")) {
		*ret = NET_PROTO_UDP;
		return 0;
	}
	if (n == 1 && s[0] == '*') {
		*ret = NET_PROTO_ANY;
		return 0;
	}
	return core_error_set(err, "InvalidProtocol", NULL,
	    "'%s' is not a valid protocol: expected TCP, UDP or *",
	    core_error_quote(s, n, q, sizeof(q)));
}

const char *
net_proto_name(enum net_proto p)
{
	switch (p) {
	case NET_PROTO_TCP:
		return "TCP";
	case NET_PROTO_UDP:
		return "UDP";
	case NET_PROTO_ANY:
		return "*";
	}
	return "?";
}

bool
net_proto_overlaps(enum net_proto a, enum net_proto b)
{
	return a == b || a == NET_PROTO_ANY || b == NET_PROTO_ANY;
}

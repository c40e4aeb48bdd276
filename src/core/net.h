/* IP addresses, CIDR prefixes, ports and protocols: parsing, formatting and containment. */
#ifndef JITGATE_CORE_NET_H
#define JITGATE_CORE_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

enum net_family {
	NET_INET = 4,
	NET_INET6 = 6,
};

/* An address; IPv4 uses bytes[0..3] and leaves the rest zero, so structs compare with memcmp. */
struct net_addr {
	uint8_t family;		/* enum net_family */
	uint8_t bytes[16];
};

/* A prefix, always normalised: no bits set in addr beyond len. len == 32/128 is a single address. */
struct net_prefix {
	struct net_addr addr;
	uint8_t len;
};

/* An allowed or requested source: "*" (any address of either family) or a prefix. */
struct net_source {
	bool any;
	struct net_prefix prefix;	/* unused when any */
};

/* Values are the IP protocol numbers so the firewall can use them directly; ANY is TCP and UDP. */
enum net_proto {
	NET_PROTO_ANY = 0,
	NET_PROTO_TCP = 6,
	NET_PROTO_UDP = 17,
};

/*
 * Dotted-quad IPv4 or RFC 4291/5952 IPv6 text (no zone ids). An IPv4-mapped IPv6 address
 * (::ffff:a.b.c.d) is returned as the IPv4 address: that is what the kernel matches.
 */
int net_addr_parse(const char *s, size_t n, struct net_addr *ret, struct core_error *err);
/* Writes the canonical text (RFC 5952 for IPv6); returns the length or -ENOSPC. */
int net_addr_format(const struct net_addr *a, char *buf, size_t size);
unsigned net_addr_bits(const struct net_addr *a);	/* 32 or 128 */
bool net_addr_equal(const struct net_addr *a, const struct net_addr *b);
/* An IPv4-mapped IPv6 address (::ffff:a.b.c.d, as a dual-stack socket reports IPv4 peers) becomes IPv4; others are left alone. */
void net_addr_unmap_v4(struct net_addr *a);

/*
 * Why a cannot be the address of a machine that traffic is routed to: "a loopback address",
 * "a multicast address", ... (unspecified, loopback, link-local, multicast, IPv4 240/4 and
 * broadcast); NULL for an ordinary unicast address.
 */
const char *net_addr_special_kind(const struct net_addr *a);

/*
 * "addr" (a single address) or "addr/len"; host bits beyond len are cleared, not refused.
 * ::ffff:a.b.c.d/len with len >= 96 is the IPv4 prefix a.b.c.d/(len - 96).
 */
int net_prefix_parse(const char *s, size_t n, struct net_prefix *ret, struct core_error *err);
/* Single addresses are written without "/len", others as "addr/len". Returns length or -ENOSPC. */
int net_prefix_format(const struct net_prefix *p, char *buf, size_t size);
bool net_prefix_is_single(const struct net_prefix *p);
/* Does p look as the parser leaves it: a known family, len within it, no host bits set? */
bool net_prefix_is_valid(const struct net_prefix *p);
/* Is `inner` wholly inside `outer`? False across families. */
bool net_prefix_contains(const struct net_prefix *outer, const struct net_prefix *inner);
bool net_prefix_contains_addr(const struct net_prefix *outer, const struct net_addr *a);
bool net_prefix_equal(const struct net_prefix *a, const struct net_prefix *b);
/* The single-address prefix of a. */
void net_prefix_from_addr(const struct net_addr *a, struct net_prefix *ret);

/* "*" or a prefix as above. */
int net_source_parse(const char *s, size_t n, struct net_source *ret, struct core_error *err);
int net_source_format(const struct net_source *src, char *buf, size_t size);
/* May a request for `inner` be granted under rule source `outer`? "*" only under "*"; otherwise subset. */
bool net_source_allows(const struct net_source *outer, const struct net_source *inner);
bool net_source_equal(const struct net_source *a, const struct net_source *b);

/* Decimal 1–65535, no sign, no leading zeros beyond "0"-free digits, no spaces. */
int net_port_parse(const char *s, size_t n, uint16_t *ret, struct core_error *err);
/* "TCP", "UDP" or "*", case-insensitive on input. */
int net_proto_parse(const char *s, size_t n, enum net_proto *ret, struct core_error *err);
const char *net_proto_name(enum net_proto p);	/* "TCP", "UDP", "*" as Azure writes them */
bool net_proto_overlaps(enum net_proto a, enum net_proto b);	/* "*" overlaps both */

#endif

/* Gateway DNAT's public ports: which (public address, protocol, port) are taken, and picking a free one from a range. */
#ifndef JITGATE_CORE_DNAT_H
#define JITGATE_CORE_DNAT_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "net.h"

#define DNAT_PORTS_DEFAULT_MIN	50000	/* config dnat_ports: the range mapped ports are picked from */
#define DNAT_PORTS_DEFAULT_MAX	50999

/* One public port in use: a rule for "*" takes its port for TCP and UDP alike. */
struct dnat_used {
	struct net_addr pub;
	enum net_proto proto;	/* NET_PROTO_TCP, _UDP or _ANY */
	uint16_t port;
};

/* The taken ports, a growable array (free v when done). */
struct dnat_taken {
	struct dnat_used *v;
	size_t n, cap;
};

/* Note (pub, proto, port) as taken. -ENOMEM. */
int dnat_take(struct dnat_taken *t, const struct net_addr *pub, enum net_proto proto, uint16_t port);

/* Is `port` of `pub` free for `proto` (ANY: for both)? */
bool dnat_port_is_free(const struct dnat_taken *t, const struct net_addr *pub, enum net_proto proto, uint16_t port);

/*
 * A free port of `pub` for `proto` in [lo, hi]: `prefer` when it is in the
 * range and free (the port the rule had before, so a rewrite keeps its
 * mapping), else the lowest free one. -ENOSPC when none is left, -EINVAL for
 * an empty range.
 */
int dnat_port_pick(const struct dnat_taken *t, const struct net_addr *pub, enum net_proto proto, uint16_t lo,
		   uint16_t hi, uint16_t prefer, uint16_t *ret);

/* "lo-hi" (1 <= lo <= hi <= 65535), as config's dnat_ports. -EINVAL with err set. */
int dnat_range_parse(const char *s, size_t n, uint16_t *ret_lo, uint16_t *ret_hi, struct core_error *err);

#endif

/* The HTTPS server's connection table: counts per source and the share kept for authenticated connections. No I/O. */
#ifndef JITGATE_HTTP_CONNS_H
#define JITGATE_HTTP_CONNS_H

#include <stdbool.h>
#include <stddef.h>

#include "core/net.h"

/*
 * One slot per open TCP connection of the HTTPS listener (http-server.c keeps a
 * pointer to it as libmicrohttpd's socket context). A source is an IPv4
 * address or an IPv6 /64 (one host usually owns a whole /64; a v4-mapped
 * address is IPv4). A new connection is admitted while its source holds fewer
 * than API_CONN_PER_SOURCE_MAX and the connections that have not authenticated
 * hold fewer than all but API_CONN_AUTH_RESERVED slots (tables no larger than
 * the reserve keep none). The table owns its slots.
 */
struct http_conn_slot {
	struct net_addr source;		/* the peer's address cut to its source */
	bool used;
	bool authenticated;
};

struct http_conns {
	struct http_conn_slot *slots;
	size_t n;			/* slots: the most connections libmicrohttpd admits */
	size_t n_unauth;		/* used slots not authenticated */
};

int http_conns_init(struct http_conns *t, size_t n);
void http_conns_free(struct http_conns *t);
/* Would a connection from peer be admitted now? */
bool http_conns_admit(const struct http_conns *t, const struct net_addr *peer);
/* A connection from peer was admitted: its slot, or NULL when none is free (it is then not counted). */
struct http_conn_slot *http_conns_open(struct http_conns *t, const struct net_addr *peer);
/* It closed (s may be NULL). */
void http_conns_close(struct http_conns *t, struct http_conn_slot *s);
/* A request on it authenticated: true the first time (it leaves the unauthenticated share). */
bool http_conns_authenticate(struct http_conns *t, struct http_conn_slot *s);

#endif

/* The HTTPS server's connection table (see http-conns.h): a linear scan, cheap next to a TLS handshake. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "http/http-conns.h"
#include "http/http-limits.h"

static void
source_of(const struct net_addr *peer, struct net_addr *ret)
{
	*ret = *peer;
	net_addr_unmap_v4(ret);
	if (ret->family == NET_INET6)
		memset(ret->bytes + 8, 0, sizeof(ret->bytes) - 8);
	else if (ret->family == NET_INET)
		memset(ret->bytes + 4, 0, sizeof(ret->bytes) - 4);
}

int
http_conns_init(struct http_conns *t, size_t n)
{
	memset(t, 0, sizeof(*t));
	t->slots = calloc(n ? n : 1, sizeof(*t->slots));
	if (t->slots == NULL)
		return -ENOMEM;
	t->n = n;
	return 0;
}

void
http_conns_free(struct http_conns *t)
{
	free(t->slots);
	memset(t, 0, sizeof(*t));
}

bool
http_conns_admit(const struct http_conns *t, const struct net_addr *peer)
{
	struct net_addr src;
	size_t i, n = 0;

	if (t->n > API_CONN_AUTH_RESERVED && t->n_unauth + API_CONN_AUTH_RESERVED >= t->n)
		return false;
	source_of(peer, &src);
	for (i = 0; i < t->n; i++)
		if (t->slots[i].used && !memcmp(&t->slots[i].source, &src, sizeof(src)) && ++n >= API_CONN_PER_SOURCE_MAX)
			return false;
	return true;
}

struct http_conn_slot *
http_conns_open(struct http_conns *t, const struct net_addr *peer)
{
	size_t i;

	for (i = 0; i < t->n; i++) {
		struct http_conn_slot *s = &t->slots[i];

		if (s->used)
			continue;
		source_of(peer, &s->source);
		s->used = true;
		s->authenticated = false;
		t->n_unauth++;
		return s;
	}
	return NULL;
}

void
http_conns_close(struct http_conns *t, struct http_conn_slot *s)
{
	if (s == NULL || !s->used)
		return;
	if (!s->authenticated)
		t->n_unauth--;
	memset(s, 0, sizeof(*s));
}

bool
http_conns_authenticate(struct http_conns *t, struct http_conn_slot *s)
{
	if (s == NULL || !s->used || s->authenticated)
		return false;
	s->authenticated = true;
	t->n_unauth--;
	return true;
}

/* The agent transport's pieces beneath client-agent.c: a server URL taken apart, and a name resolved on a thread of its own. */
#ifndef JITGATE_CLIENT_CLIENT_TLS_H
#define JITGATE_CLIENT_CLIENT_TLS_H

#include <netdb.h>
#include <stdbool.h>

#include "client/client.h"

#define CLIENT_HOST_MAX	256	/* a host name or address literal, as DNS allows */

/* https://host[:port][/target]: what a call needs of its URL. */
struct client_target {
	char host[CLIENT_HOST_MAX];	/* without an IPv6 literal's brackets */
	char port[6];
	char authority[CLIENT_HOST_MAX + 8];	/* host[:port] as written: the Host header, the connection's key */
	const char *target;		/* "/path?query" inside the URL given ("/" when none) */
	bool numeric;			/* host is an address: no DNS, no SNI */
};

/* 0, or -EINVAL with *why set: not https, userinfo, a bad port, control bytes or spaces in it. */
int client_target_parse(const char *url, struct client_target *t, const char **why);

/*
 * A name being resolved: glibc's getaddrinfo blocks (DNS timeouts of
 * seconds), so it runs on a thread and the caller polls client_resolve_fd.
 * A numeric host is resolved at once. Either side may let go first.
 */
struct client_resolve;

int client_resolve_start(const struct client_target *t, struct client_resolve **ret);
int client_resolve_fd(const struct client_resolve *r);
/* 1 with *ret (owned by r) when resolved, 0 while it runs, -EHOSTUNREACH with *why (a gai_strerror) when not. */
int client_resolve_result(struct client_resolve *r, struct addrinfo **ret, const char **why);
void client_resolve_put(struct client_resolve *r);

#endif

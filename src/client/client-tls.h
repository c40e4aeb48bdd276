/* The agent transport's pieces beneath client-agent.c: a server URL taken apart, and a name resolved on a thread of its own. */
#ifndef JITGATE_CLIENT_CLIENT_TLS_H
#define JITGATE_CLIENT_CLIENT_TLS_H

#include <netdb.h>
#include <stdbool.h>

#include "client/client.h"

#define CLIENT_HOST_MAX	256	/* a host name or address literal, as DNS allows */
/*
 * Names being resolved at once in the process, a thread each. A resolver
 * thread cannot be stopped (getaddrinfo has no cancel; a DNS server that never
 * answers holds it for the resolver's timeouts, up to minutes), so a call that
 * gives up leaves it running: the next resolution of the same name and port
 * waits for that one instead of starting another, and past this many names
 * a resolution fails at once (-EAGAIN). As many as an agent lists servers.
 */
#define CLIENT_RESOLVE_MAX	8

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
 * A numeric host is resolved at once. Either side may let go first; the
 * callers that asked for one name and port while it was in flight share it.
 */
struct client_resolve;

/* 0, or -EAGAIN when CLIENT_RESOLVE_MAX other names are being resolved, -ENOMEM, another -errno. */
int client_resolve_start(const struct client_target *t, struct client_resolve **ret);
/* Names being resolved now (their threads): for the tests. */
unsigned client_resolve_running(void);
int client_resolve_fd(const struct client_resolve *r);
/* 1 with *ret (owned by r) when resolved, 0 while it runs, -EHOSTUNREACH with *why (a gai_strerror) when not. */
int client_resolve_result(struct client_resolve *r, struct addrinfo **ret, const char **why);
void client_resolve_put(struct client_resolve *r);

#endif

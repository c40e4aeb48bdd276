/* The agent transport's URL parsing and its resolver thread (getaddrinfo off the poll loop); no TLS state lives here. */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client/client-tls.h"

int
client_target_parse(const char *url, struct client_target *t, const char **why)
{
	const char *a, *end, *h, *he, *colon = NULL;
	size_t n;
	unsigned long port = 443;

	memset(t, 0, sizeof(*t));
	if (strncasecmp(url, "https://", 8))
		return *why = "only https:// URLs are used", -EINVAL;
	a = url + 8;
	end = a + strcspn(a, "/?#");
	for (h = url; *h; h++)
		if ((unsigned char)*h <= ' ' || *h == 0x7f)
			return *why = "the URL holds a space or a control character", -EINVAL;
	if (memchr(a, '@', (size_t)(end - a)))
		return *why = "the URL holds a user name", -EINVAL;
	h = a;
	if (*a == '[') {
		if (!(he = memchr(a, ']', (size_t)(end - a))))
			return *why = "the URL's IPv6 address lacks its ']'", -EINVAL;
		h = a + 1;
		if (he + 1 < end && he[1] != ':')
			return *why = "the URL's host is malformed", -EINVAL;
		colon = he + 1 < end ? he + 1 : NULL;
	} else {
		colon = memchr(a, ':', (size_t)(end - a));
		he = colon ? colon : end;
	}
	n = (size_t)(he - h);
	if (n == 0 || n >= sizeof(t->host) || (size_t)(end - a) >= sizeof(t->authority))
		return *why = "the URL's host is empty or too long", -EINVAL;
	if (colon) {
		char *e;

		errno = 0;
		port = strtoul(colon + 1, &e, 10);
		if (e != end || colon + 1 == end || port == 0 || port > 65535 || colon[1] == '+' || colon[1] == '-')
			return *why = "the URL's port is not a number from 1 to 65535", -EINVAL;
	}
	memcpy(t->host, h, n);
	memcpy(t->authority, a, (size_t)(end - a));
	/* a name or an IPv4 address: letters, digits, '-', '.', '_' (an IPv6 one is bracketed and checked below) */
	if (*a != '[' && t->host[strspn(t->host, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._")])
		return *why = "the URL's host holds a character no host name has", -EINVAL;
	snprintf(t->port, sizeof(t->port), "%lu", port);
	t->target = *end ? end : "/";
	if (*t->target == '#')
		return *why = "the URL holds a fragment", -EINVAL;
	{
		unsigned char addr[sizeof(struct in6_addr)];

		t->numeric = inet_pton(AF_INET, t->host, addr) == 1 || inet_pton(AF_INET6, t->host, addr) == 1;
	}
	if (*a == '[' && !t->numeric)
		return *why = "the URL's bracketed host is not an IPv6 address", -EINVAL;
	return 0;
}

struct client_resolve {
	atomic_int refs;		/* the caller's and the thread's */
	int fd[2];			/* a byte on fd[1] makes fd[0] readable when done */
	char host[CLIENT_HOST_MAX];
	char port[6];
	bool numeric;
	int rc;				/* getaddrinfo's */
	struct addrinfo *ai;
};

void
client_resolve_put(struct client_resolve *r)
{
	if (!r || atomic_fetch_sub_explicit(&r->refs, 1, memory_order_acq_rel) != 1)
		return;
	if (r->ai)
		freeaddrinfo(r->ai);
	if (r->fd[0] >= 0)
		close(r->fd[0]);
	if (r->fd[1] >= 0)
		close(r->fd[1]);
	free(r);
}

static void
resolve_now(struct client_resolve *r)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICSERV | (r->numeric ? AI_NUMERICHOST : 0) };

	r->rc = getaddrinfo(r->host, r->port, &hints, &r->ai);
}

static void *
resolve_thread(void *arg)
{
	struct client_resolve *r = arg;
	ssize_t k;

	resolve_now(r);
	atomic_thread_fence(memory_order_release);
	do
		k = write(r->fd[1], "", 1);
	while (k < 0 && errno == EINTR);
	client_resolve_put(r);
	return NULL;
}

int
client_resolve_start(const struct client_target *t, struct client_resolve **ret)
{
	struct client_resolve *r = calloc(1, sizeof(*r));
	pthread_attr_t attr;
	pthread_t th;
	int e;

	if (!r)
		return -ENOMEM;
	r->fd[0] = r->fd[1] = -1;
	atomic_init(&r->refs, 1);
	snprintf(r->host, sizeof(r->host), "%s", t->host);
	snprintf(r->port, sizeof(r->port), "%s", t->port);
	r->numeric = t->numeric;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, r->fd) < 0) {
		e = -errno;
		client_resolve_put(r);
		return e;
	}
	if (r->numeric) {
		/* an address: nothing to wait for */
		resolve_now(r);
		(void)!write(r->fd[1], "", 1);
		*ret = r;
		return 0;
	}
	atomic_fetch_add(&r->refs, 1);
	if ((e = pthread_attr_init(&attr)) == 0) {
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		e = pthread_create(&th, &attr, resolve_thread, r);
		pthread_attr_destroy(&attr);
	}
	if (e) {
		atomic_fetch_sub(&r->refs, 1);
		client_resolve_put(r);
		return -e;
	}
	*ret = r;
	return 0;
}

int
client_resolve_fd(const struct client_resolve *r)
{
	return r->fd[0];
}

int
client_resolve_result(struct client_resolve *r, struct addrinfo **ret, const char **why)
{
	char c;
	ssize_t k = recv(r->fd[0], &c, 1, MSG_DONTWAIT);

	if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return 0;
	if (k != 1)
		return *why = "the resolver failed", -EHOSTUNREACH;
	atomic_thread_fence(memory_order_acquire);
	if (r->rc != 0 || !r->ai)
		return *why = gai_strerror(r->rc), -EHOSTUNREACH;
	*ret = r->ai;
	return 1;
}

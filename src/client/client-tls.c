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

/*
 * The resolutions in flight (CLIENT_RESOLVE_MAX): an entry is there from its
 * thread's start to its end, and the thread's reference keeps it alive so long.
 */
static pthread_mutex_t running_lock = PTHREAD_MUTEX_INITIALIZER;
static struct client_resolve *running[CLIENT_RESOLVE_MAX];

unsigned
client_resolve_running(void)
{
	unsigned i, n = 0;

	pthread_mutex_lock(&running_lock);
	for (i = 0; i < CLIENT_RESOLVE_MAX; i++)
		n += running[i] != NULL;
	pthread_mutex_unlock(&running_lock);
	return n;
}

static void
running_drop(struct client_resolve *r)
{
	unsigned i;

	pthread_mutex_lock(&running_lock);
	for (i = 0; i < CLIENT_RESOLVE_MAX; i++)
		if (running[i] == r)
			running[i] = NULL;
	pthread_mutex_unlock(&running_lock);
}

static void *
resolve_thread(void *arg)
{
	struct client_resolve *r = arg;
	ssize_t k;

	resolve_now(r);
	/* from now on a new attempt resolves afresh: those that waited for this one get its answer */
	running_drop(r);
	atomic_thread_fence(memory_order_release);
	do
		k = write(r->fd[1], "", 1);
	while (k < 0 && errno == EINTR);
	client_resolve_put(r);
	return NULL;
}

static int
resolve_new(const struct client_target *t, struct client_resolve **ret)
{
	struct client_resolve *r = calloc(1, sizeof(*r));
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
	*ret = r;
	return 0;
}

/* A name's resolution on a thread of its own, in `running` while it lasts; the caller holds running_lock. */
static int
resolve_spawn(struct client_resolve *r, unsigned slot)
{
	pthread_attr_t attr;
	pthread_t th;
	int e;

	atomic_fetch_add(&r->refs, 1);
	running[slot] = r;
	if ((e = pthread_attr_init(&attr)) == 0) {
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		e = pthread_create(&th, &attr, resolve_thread, r);
		pthread_attr_destroy(&attr);
	}
	if (e) {
		running[slot] = NULL;
		atomic_fetch_sub(&r->refs, 1);
	}
	return -e;
}

int
client_resolve_start(const struct client_target *t, struct client_resolve **ret)
{
	struct client_resolve *r = NULL;
	unsigned i, free_slot = CLIENT_RESOLVE_MAX;
	int e = 0;

	if (t->numeric) {
		/* an address: nothing to wait for */
		if ((e = resolve_new(t, &r)) < 0)
			return e;
		resolve_now(r);
		(void)!write(r->fd[1], "", 1);
		*ret = r;
		return 0;
	}
	pthread_mutex_lock(&running_lock);
	for (i = 0; i < CLIENT_RESOLVE_MAX && !r; i++) {
		if (!running[i])
			free_slot = free_slot < i ? free_slot : i;
		else if (!strcasecmp(running[i]->host, t->host) && !strcmp(running[i]->port, t->port))
			r = running[i];
	}
	if (r)
		atomic_fetch_add(&r->refs, 1);	/* the same name in flight: wait for its answer */
	else if (free_slot == CLIENT_RESOLVE_MAX)
		e = -EAGAIN;
	else if ((e = resolve_new(t, &r)) == 0 && (e = resolve_spawn(r, free_slot)) < 0) {
		client_resolve_put(r);
		r = NULL;
	}
	pthread_mutex_unlock(&running_lock);
	if (r)
		*ret = r;
	return e;
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
	/* peeked, not taken: every caller sharing the resolution sees it done */
	ssize_t k = recv(r->fd[0], &c, 1, MSG_PEEK | MSG_DONTWAIT);

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

/*
 * agent-hostile.sh's check of CLIENT_RESOLVE_MAX, run where DNS never answers: the agent's resolver (client-tls.c)
 * starts that many names, refuses one more at once, and lets a repeated name wait on the thread already at it.
 * usage: resolvecap DOMAIN   (names n0.DOMAIN, n1.DOMAIN, ... port 8443; prints one line, exit 0 when all held)
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "client/client-tls.h"

/* the threads of this process, as /proc/self/task lists them */
static int
threads(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static int
target(const char *domain, int i, struct client_target *t)
{
	char url[512];
	const char *why = NULL;

	snprintf(url, sizeof(url), "https://n%d.%s:8443/", i, domain);
	return client_target_parse(url, t, &why);
}

int
main(int argc, char **argv)
{
	struct client_resolve *r[CLIENT_RESOLVE_MAX + 2] = { 0 };
	struct client_target t;
	struct timespec a, b;
	int i, started = 0, over, again, shared;
	long over_us;

	if (argc != 2) {
		fprintf(stderr, "usage: resolvecap DOMAIN\n");
		return 2;
	}
	for (i = 0; i < CLIENT_RESOLVE_MAX; i++)
		if (target(argv[1], i, &t) == 0 && client_resolve_start(&t, &r[i]) == 0)
			started++;
	clock_gettime(CLOCK_MONOTONIC, &a);
	over = target(argv[1], CLIENT_RESOLVE_MAX, &t) < 0 ? -EINVAL : client_resolve_start(&t, &r[CLIENT_RESOLVE_MAX]);
	clock_gettime(CLOCK_MONOTONIC, &b);
	over_us = (b.tv_sec - a.tv_sec) * 1000000L + (b.tv_nsec - a.tv_nsec) / 1000;
	again = target(argv[1], 0, &t) < 0 ? -EINVAL : client_resolve_start(&t, &r[CLIENT_RESOLVE_MAX + 1]);
	shared = again == 0 && r[CLIENT_RESOLVE_MAX + 1] == r[0];
	printf("started=%d max=%d running=%u one_more=%s (%ld us) same_name_again=%s threads=%d\n", started,
	       CLIENT_RESOLVE_MAX, client_resolve_running(), over == -EAGAIN ? "EAGAIN" : strerror(-over), over_us,
	       shared ? "shared" : "not shared", threads());
	return started == CLIENT_RESOLVE_MAX && client_resolve_running() == CLIENT_RESOLVE_MAX && over == -EAGAIN &&
	       shared && threads() == CLIENT_RESOLVE_MAX + 1 ? 0 : 1;
}

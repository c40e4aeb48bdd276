/* Real TCP/UDP endpoints for the end-to-end tests and benchmarks: listen, connect, hold a session, measure a rate. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define LISTEN_PORTS_MAX 16
#define LISTEN_CONNS_MAX 1024

static const char usage[] =
	"usage: netprobe listen [-r] PORT...                 TCP and UDP echo on every address\n"
	"                                                     (-r: print \"from PEER to PORT\" for each TCP connection)\n"
	"       netprobe connect [-s SRC] ADDR PORT [MS]     exit 0 if a TCP connection opens within MS (default 1000)\n"
	"       netprobe hold [-s SRC] ADDR PORT MS          connect, print \"connected\", wait MS, then need an echo\n"
	"       netprobe udp [-s SRC] ADDR PORT [MS]         exit 0 if a datagram is echoed within MS\n"
	"       netprobe rate [-s SRC] ADDR PORT SECONDS     print new TCP connections per second\n";

static long
num(const char *s, long lo, long hi)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || end == s || v < lo || v > hi) {
		fprintf(stderr, "netprobe: bad number '%s'\n%s", s, usage);
		exit(2);
	}
	return v;
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static socklen_t
sockaddr_of(const char *addr, long port, struct sockaddr_storage *ss)
{
	struct sockaddr_in *in = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, addr, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)port);
		return sizeof(*in);
	}
	if (inet_pton(AF_INET6, addr, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		return sizeof(*in6);
	}
	fprintf(stderr, "netprobe: bad address '%s'\n", addr);
	exit(2);
}

/* A socket of the right family, bound to src if given. */
static int
open_socket(int type, const struct sockaddr_storage *dst, const char *src)
{
	int fd = socket(dst->ss_family, type, 0);

	if (fd < 0) {
		perror("netprobe: socket");
		exit(2);
	}
	if (src) {
		struct sockaddr_storage ss;
		socklen_t len = sockaddr_of(src, 0, &ss);

		if (bind(fd, (struct sockaddr *)&ss, len) < 0) {
			perror("netprobe: bind source");
			exit(2);
		}
	}
	return fd;
}

/* Connect within ms; returns the socket or -1. */
static int
connect_within(const char *src, const char *addr, long port, long ms)
{
	struct sockaddr_storage dst;
	socklen_t len = sockaddr_of(addr, port, &dst);
	int fd = open_socket(SOCK_STREAM, &dst, src), soerr = 0;
	socklen_t sl = sizeof(soerr);
	struct pollfd p = { .fd = fd, .events = POLLOUT };

	fcntl(fd, F_SETFL, O_NONBLOCK);
	if (connect(fd, (struct sockaddr *)&dst, len) == 0)
		goto ok;
	if (errno != EINPROGRESS || poll(&p, 1, (int)ms) != 1)
		goto fail;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0 || soerr)
		goto fail;
ok:
	fcntl(fd, F_SETFL, 0);
	return fd;
fail:
	close(fd);
	return -1;
}

static void
close_hard(int fd)
{
	struct linger l = { 1, 0 };	/* RST instead of TIME_WAIT, so a rate test does not run out of ports */

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	close(fd);
}

/* "from 10.0.0.5 to 22" (an IPv4 peer without its ::ffff: prefix) */
static void
report_peer(const struct sockaddr_in6 *peer, unsigned port)
{
	char text[INET6_ADDRSTRLEN];
	const void *a = &peer->sin6_addr;
	int family = AF_INET6;

	if (IN6_IS_ADDR_V4MAPPED(&peer->sin6_addr)) {
		a = &peer->sin6_addr.s6_addr[12];
		family = AF_INET;
	}
	if (inet_ntop(family, a, text, sizeof(text)))
		printf("from %s to %u\n", text, port);
	fflush(stdout);
}

static int
do_listen(int argc, char **argv)
{
	struct pollfd pfd[2 * LISTEN_PORTS_MAX + LISTEN_CONNS_MAX];
	int n_listen = 0, n = 0, i, one = 1, zero = 0, report = 0;

	if (argc >= 1 && !strcmp(argv[0], "-r")) {
		report = 1;
		argc--;
		argv++;
	}
	if (argc < 1 || argc > LISTEN_PORTS_MAX) {
		fputs(usage, stderr);
		return 2;
	}
	for (i = 0; i < argc; i++) {
		struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_addr = in6addr_any };
		int t;

		a.sin6_port = htons((uint16_t)num(argv[i], 1, 65535));
		for (t = 0; t < 2; t++) {
			int fd = socket(AF_INET6, t == 0 ? SOCK_STREAM : SOCK_DGRAM, 0);

			setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
			if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
			    (t == 0 && listen(fd, 512) < 0)) {
				perror("netprobe: listen");
				return 2;
			}
			pfd[n++] = (struct pollfd){ .fd = fd, .events = POLLIN };
		}
	}
	n_listen = n;
	printf("listening\n");
	fflush(stdout);
	for (;;) {
		if (poll(pfd, (nfds_t)n, -1) < 0 && errno != EINTR)
			return 1;
		for (i = 0; i < n; i++) {
			char buf[2048];
			ssize_t got;

			if (!(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			if (i < n_listen && (i % 2) == 0) {
				struct sockaddr_in6 peer, self;
				socklen_t pl = sizeof(peer), sl = sizeof(self);
				int c = accept(pfd[i].fd, (struct sockaddr *)&peer, &pl);

				if (c < 0)
					continue;
				/* the client's address as this end sees it: a DNAT test checks the source was kept */
				if (report && getsockname(c, (struct sockaddr *)&self, &sl) == 0)
					report_peer(&peer, ntohs(self.sin6_port));
				if (n == (int)(sizeof(pfd) / sizeof(pfd[0]))) {
					close(c);
					continue;
				}
				pfd[n++] = (struct pollfd){ .fd = c, .events = POLLIN };
			} else if (i < n_listen) {
				struct sockaddr_storage from;
				socklen_t fl = sizeof(from);

				got = recvfrom(pfd[i].fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
				if (got > 0)
					sendto(pfd[i].fd, buf, (size_t)got, 0, (struct sockaddr *)&from, fl);
			} else {
				got = read(pfd[i].fd, buf, sizeof(buf));
				if (got > 0 && write(pfd[i].fd, buf, (size_t)got) == got)
					continue;
				close(pfd[i].fd);
				pfd[i] = pfd[--n];
				i--;
			}
		}
	}
}

/* Parse "[-s SRC] ADDR PORT ..." leaving argv at ADDR. */
static const char *
take_source(int *argc, char ***argv)
{
	if (*argc >= 2 && !strcmp((*argv)[0], "-s")) {
		const char *src = (*argv)[1];

		*argc -= 2;
		*argv += 2;
		return src;
	}
	return NULL;
}

static int
do_connect(int argc, char **argv)
{
	const char *src = take_source(&argc, &argv);
	int fd;

	if (argc < 2 || argc > 3) {
		fputs(usage, stderr);
		return 2;
	}
	fd = connect_within(src, argv[0], num(argv[1], 1, 65535), argc == 3 ? num(argv[2], 1, 600000) : 1000);
	if (fd < 0)
		return 1;
	close_hard(fd);
	return 0;
}

static int
do_hold(int argc, char **argv)
{
	const char *src = take_source(&argc, &argv);
	struct pollfd p;
	char buf[16];
	int fd;

	if (argc != 3) {
		fputs(usage, stderr);
		return 2;
	}
	fd = connect_within(src, argv[0], num(argv[1], 1, 65535), 1000);
	if (fd < 0)
		return 2;
	printf("connected\n");
	fflush(stdout);
	usleep((useconds_t)num(argv[2], 0, 3600000) * 1000);
	p = (struct pollfd){ .fd = fd, .events = POLLIN };
	if (write(fd, "ping", 4) != 4 || poll(&p, 1, 1000) != 1 || read(fd, buf, sizeof(buf)) != 4 ||
	    memcmp(buf, "ping", 4)) {
		fprintf(stderr, "netprobe: the held session did not answer\n");
		return 1;
	}
	printf("alive\n");
	close_hard(fd);
	return 0;
}

static int
do_udp(int argc, char **argv)
{
	const char *src = take_source(&argc, &argv);
	struct sockaddr_storage dst;
	socklen_t len;
	struct pollfd p;
	char buf[16];
	int fd;

	if (argc < 2 || argc > 3) {
		fputs(usage, stderr);
		return 2;
	}
	len = sockaddr_of(argv[0], num(argv[1], 1, 65535), &dst);
	fd = open_socket(SOCK_DGRAM, &dst, src);
	if (connect(fd, (struct sockaddr *)&dst, len) < 0 || send(fd, "ping", 4, 0) != 4)
		return 1;
	p = (struct pollfd){ .fd = fd, .events = POLLIN };
	if (poll(&p, 1, argc == 3 ? (int)num(argv[2], 1, 600000) : 1000) != 1 || recv(fd, buf, sizeof(buf), 0) != 4)
		return 1;
	return 0;
}

static int
do_rate(int argc, char **argv)
{
	const char *src = take_source(&argc, &argv);
	double start, end;
	long count = 0, fails = 0, port;

	if (argc != 3) {
		fputs(usage, stderr);
		return 2;
	}
	port = num(argv[1], 1, 65535);
	start = now_s();
	end = start + (double)num(argv[2], 1, 600);
	while (now_s() < end) {
		int fd = connect_within(src, argv[0], port, 1000);

		if (fd < 0) {
			if (++fails > 3)
				break;
			continue;
		}
		close_hard(fd);
		count++;
	}
	printf("%.0f\n", (double)count / (now_s() - start));
	return fails > 3 ? 1 : 0;
}

int
main(int argc, char **argv)
{
	if (argc < 2) {
		fputs(usage, stderr);
		return 2;
	}
	if (!strcmp(argv[1], "listen"))
		return do_listen(argc - 2, argv + 2);
	if (!strcmp(argv[1], "connect"))
		return do_connect(argc - 2, argv + 2);
	if (!strcmp(argv[1], "hold"))
		return do_hold(argc - 2, argv + 2);
	if (!strcmp(argv[1], "udp"))
		return do_udp(argc - 2, argv + 2);
	if (!strcmp(argv[1], "rate"))
		return do_rate(argc - 2, argv + 2);
	fputs(usage, stderr);
	return 2;
}

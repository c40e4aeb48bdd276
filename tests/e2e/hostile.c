/*
 * Hostile clients for the load test, each bounded in count and time, each printing one summary line.
 * usage: hostile MODE ADDR PORT COUNT SECONDS [SOURCE]
 *   ADDR and SOURCE (the local address to connect from) are IPv4 or IPv6
 *   slowheader  COUNT TLS connections that send a request's header one byte every HOSTILE_TRICKLE_S seconds
 *   slowbody    COUNT TLS connections that send a whole header announcing a body, then the body one byte at a time
 *   idle        COUNT plain TCP connections that never say anything (not even a TLS hello)
 *   bigheader   TLS requests carrying a 64 KiB header, one after another (at most COUNT)
 * For the first three the summary says how many connections the server ended (closed, reset, or answered) and
 * when: "mode=slowheader opened=50 ended=50 first_end_s=30.1 last_end_s=30.4 open_at_end=0 ended_under_3s=0"
 * (idle watches its connections all along; ended_under_3s counts those the server closed at once: refused).
 * For bigheader: "mode=bigheader sent=N status_431=.. status_413=.. status_other=.. closed=.. first_status=..".
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>

#define HOSTILE_CONNS_MAX	4000
#define HOSTILE_SECONDS_MAX	600
#define HOSTILE_TRICKLE_S	2	/* a byte every 2 s: never idle for the server's 30 s */
#define HOSTILE_BIG_HEADER	(64 * 1024)

struct conn {
	int fd;
	gnutls_session_t tls;	/* NULL for plain TCP */
	double ended;		/* seconds after start when the server ended it; 0 while open */
	size_t sent;
};

static gnutls_certificate_credentials_t cred;
static struct sockaddr_storage dst, src;
static socklen_t dst_len, src_len;	/* src_len 0: no SOURCE */
static double t0;

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long
parse_num(const char *s, long lo, long hi)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v < lo || v > hi) {
		fprintf(stderr, "hostile: bad number '%s'\n", s);
		exit(2);
	}
	return v;
}

static int
tcp_open(void)
{
	int fd = socket(dst.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if ((src_len && bind(fd, (struct sockaddr *)&src, src_len) < 0) ||
	    connect(fd, (struct sockaddr *)&dst, dst_len) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* A TLS session over a new connection, handshake done, socket left non-blocking. */
static int
tls_open(struct conn *c)
{
	int r;

	memset(c, 0, sizeof(*c));
	if ((c->fd = tcp_open()) < 0)
		return -1;
	if (gnutls_init(&c->tls, GNUTLS_CLIENT) < 0)
		goto fail;
	gnutls_set_default_priority(c->tls);
	gnutls_credentials_set(c->tls, GNUTLS_CRD_CERTIFICATE, cred);
	gnutls_transport_set_int(c->tls, c->fd);
	gnutls_handshake_set_timeout(c->tls, 5000);
	do
		r = gnutls_handshake(c->tls);
	while (r < 0 && !gnutls_error_is_fatal(r));
	if (r < 0)
		goto fail;
	fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
	return 0;
fail:
	if (c->tls)
		gnutls_deinit(c->tls);
	c->tls = NULL;
	close(c->fd);
	c->fd = -1;
	return -1;
}

/* Has the server ended this connection (closed, reset, or sent anything: an answer)? Never blocks. */
static bool
server_ended(struct conn *c)
{
	struct pollfd p = { .fd = c->fd, .events = POLLIN };
	char buf[4096];
	ssize_t n;

	if (c->ended)
		return true;
	if (poll(&p, 1, 0) != 1)
		return false;
	if (c->tls) {
		n = gnutls_record_recv(c->tls, buf, sizeof(buf));
		if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED || n == GNUTLS_E_REHANDSHAKE)
			return false;	/* a TLS 1.3 session ticket, not an answer */
	} else {
		n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return false;
	}
	c->ended = now_s() - t0;
	return true;
}

static bool
send_some(struct conn *c, const char *p, size_t n)
{
	ssize_t r = c->tls ? gnutls_record_send(c->tls, p, n) : send(c->fd, p, n, MSG_NOSIGNAL);

	if (r == (ssize_t)n || (c->tls && r == GNUTLS_E_AGAIN))
		return r == (ssize_t)n;
	if (!c->ended)
		c->ended = now_s() - t0;
	return false;
}

static void
report(const char *mode, struct conn *cs, int n, int opened)
{
	double first = 0, last = 0;
	int ended = 0, early = 0, i;

	for (i = 0; i < n; i++) {
		if (cs[i].fd < 0)
			continue;
		server_ended(&cs[i]);
		if (!cs[i].ended)
			continue;
		ended++;
		if (cs[i].ended < 3.0)
			early++;
		if (!first || cs[i].ended < first)
			first = cs[i].ended;
		if (cs[i].ended > last)
			last = cs[i].ended;
	}
	printf("mode=%s opened=%d ended=%d first_end_s=%.1f last_end_s=%.1f open_at_end=%d ended_under_3s=%d\n", mode,
	       opened, ended, first, last, opened - ended, early);
}

/* slowheader / slowbody: trickle a byte per connection every HOSTILE_TRICKLE_S until `seconds` have passed. */
static int
trickle(const char *mode, struct conn *cs, int n, int seconds, bool body)
{
	static const char head[] = "GET /healthz HTTP/1.1\r\nHost: jitgate\r\nUser-Agent: hostile-slow-header\r\nX-Slow: ";
	static const char post[] =
		"POST /subscriptions/00000000-0000-0000-0000-000000000000/providers/Microsoft.Security/"
		"jitNetworkAccessPolicies?api-version=2020-01-01 HTTP/1.1\r\nHost: jitgate\r\n"
		"Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{";
	int opened = 0, i;
	double next;

	for (i = 0; i < n; i++) {
		if (tls_open(&cs[i]) < 0) {
			cs[i].fd = -1;
			continue;
		}
		opened++;
		if (body)
			send_some(&cs[i], post, sizeof(post) - 1);
		else
			send_some(&cs[i], head, 16);	/* "GET /healthz HTT": not even a request line yet */
	}
	fprintf(stderr, "hostile: %s: %d connections open\n", mode, opened);
	next = now_s() - t0 + HOSTILE_TRICKLE_S;
	while (now_s() - t0 < seconds) {
		usleep(100000);
		if (now_s() - t0 < next)
			continue;
		next += HOSTILE_TRICKLE_S;
		for (i = 0; i < n; i++) {
			size_t off;

			if (cs[i].fd < 0 || server_ended(&cs[i]))
				continue;
			off = cs[i].sent++;
			if (body)
				send_some(&cs[i], " ", 1);
			else
				send_some(&cs[i], off + 16 < sizeof(head) - 1 ? head + 16 + off : "a", 1);
		}
	}
	report(mode, cs, n, opened);
	return 0;
}

static int
idle(struct conn *cs, int n, int seconds)
{
	int opened = 0, i;

	for (i = 0; i < n; i++) {
		memset(&cs[i], 0, sizeof(cs[i]));
		if ((cs[i].fd = tcp_open()) >= 0)
			opened++;
	}
	fprintf(stderr, "hostile: idle: %d connections open\n", opened);
	while (now_s() - t0 < seconds) {
		usleep(100000);
		for (i = 0; i < n; i++)
			if (cs[i].fd >= 0)
				server_ended(&cs[i]);
	}
	report("idle", cs, n, opened);
	return 0;
}

static int
bigheader(int n, int seconds)
{
	static char req[HOSTILE_BIG_HEADER + 256];
	int sent = 0, s431 = 0, s413 = 0, other = 0, closed = 0, len;
	char first[64] = "";

	len = snprintf(req, sizeof(req), "GET /healthz HTTP/1.1\r\nHost: jitgate\r\nX-Big: ");
	memset(req + len, 'a', HOSTILE_BIG_HEADER);
	len += HOSTILE_BIG_HEADER;
	len += snprintf(req + len, sizeof(req) - (size_t)len, "\r\n\r\n");
	while (sent < n && now_s() - t0 < seconds) {
		struct conn c;
		char buf[512];
		size_t off = 0;
		ssize_t r = 0;
		double until;

		if (tls_open(&c) < 0) {
			closed++;
			sent++;
			continue;
		}
		sent++;
		/* write what the server takes; it may answer and close before the header is all sent */
		until = now_s() + 5;
		while (off < (size_t)len && now_s() < until) {
			r = gnutls_record_send(c.tls, req + off, (size_t)len - off);
			if (r > 0)
				off += (size_t)r;
			else if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED) {
				struct pollfd p = { .fd = c.fd, .events = POLLOUT | POLLIN };

				poll(&p, 1, 100);
				if (p.revents & POLLIN)
					break;
			} else
				break;
		}
		r = 0;
		until = now_s() + 5;
		while (now_s() < until) {
			struct pollfd p = { .fd = c.fd, .events = POLLIN };

			poll(&p, 1, 100);
			r = gnutls_record_recv(c.tls, buf, sizeof(buf) - 1);
			if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED)
				continue;
			break;
		}
		if (r > 12) {
			buf[r] = '\0';
			if (!first[0])
				snprintf(first, sizeof(first), "%.*s", (int)strcspn(buf, "\r\n"), buf);
			if (!strncmp(buf + 9, "431", 3))
				s431++;
			else if (!strncmp(buf + 9, "413", 3))
				s413++;
			else
				other++;
		} else {
			closed++;
		}
		gnutls_deinit(c.tls);
		close(c.fd);
	}
	for (len = 0; first[len]; len++)
		if (first[len] == ' ')
			first[len] = '_';
	printf("mode=bigheader sent=%d status_431=%d status_413=%d status_other=%d closed=%d first_status=%s\n", sent,
	       s431, s413, other, closed, first[0] ? first : "-");
	return 0;
}

static int
sockaddr_parse(const char *s, uint16_t port, struct sockaddr_storage *ret, socklen_t *ret_len)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ret;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ret;

	memset(ret, 0, sizeof(*ret));
	if (inet_pton(AF_INET, s, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		*ret_len = sizeof(*sin);
		return 0;
	}
	if (inet_pton(AF_INET6, s, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		*ret_len = sizeof(*sin6);
		return 0;
	}
	return -1;
}

int
main(int argc, char **argv)
{
	struct conn *cs;
	int n, seconds, r = 2;

	if (argc != 6 && argc != 7) {
		fputs("usage: hostile slowheader|slowbody|idle|bigheader ADDR PORT COUNT SECONDS [SOURCE]\n", stderr);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	if (sockaddr_parse(argv[2], (uint16_t)parse_num(argv[3], 1, 65535), &dst, &dst_len) < 0 ||
	    (argc == 7 && sockaddr_parse(argv[6], 0, &src, &src_len) < 0)) {
		fprintf(stderr, "hostile: bad address '%s'\n", argc == 7 ? argv[6] : argv[2]);
		return 2;
	}
	n = (int)parse_num(argv[4], 1, HOSTILE_CONNS_MAX);
	seconds = (int)parse_num(argv[5], 1, HOSTILE_SECONDS_MAX);
	if (!(cs = calloc((size_t)n, sizeof(*cs))))
		return 1;
	gnutls_global_init();
	gnutls_certificate_allocate_credentials(&cred);
	t0 = now_s();
	if (!strcmp(argv[1], "slowheader"))
		r = trickle("slowheader", cs, n, seconds, false);
	else if (!strcmp(argv[1], "slowbody"))
		r = trickle("slowbody", cs, n, seconds, true);
	else if (!strcmp(argv[1], "idle"))
		r = idle(cs, n, seconds);
	else if (!strcmp(argv[1], "bigheader"))
		r = bigheader(n, seconds);
	else
		fputs("hostile: unknown mode\n", stderr);
	fflush(stdout);
	/* leave the connections to exit(): closing 1,000 TLS sessions one by one tells the test nothing */
	free(cs);
	gnutls_certificate_free_credentials(cred);
	return r;
}

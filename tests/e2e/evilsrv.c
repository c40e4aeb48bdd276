/*
 * A hostile HTTPS server for the CLI's and the agent's e2e tests (tests/e2e/sec-cli.sh, agent-hostile.sh): it
 * answers every request with bytes the test chose, escape sequences and broken UTF-8 included, or too slowly,
 * never wholly or too large, as a compromised jitgated or a man in the middle could.
 * usage: evilsrv DIR ADDR PORT SECONDS [MODE]
 *   Makes DIR/tls/cert.pem (self-signed, naming ADDR) unless it exists, prints "listening" once it
 *   listens, and serves one connection at a time for SECONDS. A request for a path whose last segment
 *   is NAME (query ignored) is answered from the file DIR/NAME: its first line is "STATUS CONTENT-TYPE",
 *   the rest is the body, sent as it is. No such file: 404 with an empty JSON object.
 *   MODE (default files, as above) makes it answer every request in one hostile way instead:
 *     trickle     the answer's head one byte a second (the whole of it would take a minute)
 *     nochunkend  a chunked body, a one-byte chunk a second, never the last chunk
 *     bighead     a head of HTTP1_HEAD_MAX + 1 bytes (lines well under HTTP1_LINE_MAX), then a body
 *     silent      the TLS handshake and the request read, then nothing
 *     notls       the TCP connection accepted, then nothing (not even the TLS handshake)
 *   Each holds the connection until the client closes it or SECONDS are over, and appends one line per
 *   connection ("MODE: request read", "MODE: client gone after N s") to DIR/evil.log.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
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

#include "client/client-http1.h"
#include "core/error.h"
#include "daemon/tls.h"

#define EVIL_REQUEST_MAX	16384	/* bytes of one request head */
#define EVIL_FILE_MAX		(1 << 20)
#define EVIL_SECONDS_MAX	600
#define EVIL_IO_TIMEOUT_MS	5000
#define EVIL_PAD_LINE		4000	/* a bighead header line: well under HTTP1_LINE_MAX, so only the head's total fails */

enum mode { M_FILES, M_TRICKLE, M_NOCHUNKEND, M_BIGHEAD, M_SILENT, M_NOTLS };
static const char *const mode_names[] = { "files", "trickle", "nochunkend", "bighead", "silent", "notls" };

static enum mode mode;
static time_t until;
static char log_path[4200];

static gnutls_certificate_credentials_t cred;

/* The answer file for a request line "METHOD /a/b/NAME?q HTTP/1.1": DIR/NAME, or NULL. */
static char *
answer_for(const char *dir, const char *head, size_t *ret_len)
{
	const char *sp = strchr(head, ' '), *end, *seg;
	char name[256], path[4096];
	FILE *f;
	char *body;
	size_t n;

	if (!sp)
		return NULL;
	end = sp + 1 + strcspn(sp + 1, " ?");
	for (seg = end; seg > sp + 1 && seg[-1] != '/'; seg--)
		;
	n = (size_t)(end - seg);
	if (n == 0 || n >= sizeof(name) || memchr(seg, '.', n) == seg)
		return NULL;
	memcpy(name, seg, n);
	name[n] = '\0';
	if (strchr(name, '/') || snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
		return NULL;
	f = fopen(path, "rb");
	if (!f)
		return NULL;
	body = malloc(EVIL_FILE_MAX);
	n = body ? fread(body, 1, EVIL_FILE_MAX, f) : 0;
	fclose(f);
	*ret_len = n;
	return body;
}

static int
send_all(gnutls_session_t s, const char *p, size_t n)
{
	while (n) {
		ssize_t w = gnutls_record_send(s, p, n);

		if (w == GNUTLS_E_AGAIN || w == GNUTLS_E_INTERRUPTED)
			continue;
		if (w < 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static void
evil_log(const char *what, long n)
{
	FILE *f = fopen(log_path, "a");

	if (!f)
		return;
	fprintf(f, "%s: %s %ld\n", mode_names[mode], what, n);
	fclose(f);
}

/* Wait up to ms for the client to close (its bytes are read and dropped); true when it has. */
static bool
client_gone(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char b[4096];
	ssize_t k;

	if (poll(&p, 1, ms) <= 0)
		return false;
	k = recv(fd, b, sizeof(b), MSG_DONTWAIT);
	return k == 0 || (k < 0 && errno != EAGAIN && errno != EINTR);
}

/* Hold the connection, saying nothing more, until the client goes or our time is up. */
static void
hold(int fd, time_t t0)
{
	while (time(NULL) < until && !client_gone(fd, 1000))
		;
	evil_log("client gone after (s)", (long)(time(NULL) - t0));
}

/* An answer head one byte past HTTP1_HEAD_MAX (status line and final CRLF included), each line short. */
static size_t
big_head(char *out, size_t size)
{
	size_t want = HTTP1_HEAD_MAX + 1, pos, rem, l;

	if (size < want + 3)
		return 0;
	pos = (size_t)snprintf(out, size, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n");
	while ((rem = want - 2 - pos) > 0) {
		/* "X-Pad: " + padding + CRLF: 9 bytes at least, so never leave fewer than that for the last line */
		l = rem <= EVIL_PAD_LINE ? rem : rem - EVIL_PAD_LINE < 9 ? rem - 9 : EVIL_PAD_LINE;
		memcpy(out + pos, "X-Pad: ", 7);
		memset(out + pos + 7, 'a', l - 9);
		memcpy(out + pos + l - 2, "\r\n", 2);
		pos += l;
	}
	memcpy(out + pos, "\r\n{}", 4);
	return pos + 4;
}

/* The hostile answers of MODE, once the request is read. */
static void
serve_hostile(gnutls_session_t s, int fd, time_t t0)
{
	static const char slow[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Slow: "
				   "a head that takes a minute to arrive\r\nContent-Length: 2\r\n\r\n{}";
	static const char chunked[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
	static char big[HTTP1_HEAD_MAX + 64];
	size_t i, n;

	evil_log("request read", 0);
	switch (mode) {
	case M_TRICKLE:
		for (i = 0; i < sizeof(slow) - 1 && time(NULL) < until; i++)
			if (send_all(s, slow + i, 1) < 0 || client_gone(fd, 1000))
				break;
		break;
	case M_NOCHUNKEND:
		if (send_all(s, chunked, sizeof(chunked) - 1) < 0)
			break;
		while (time(NULL) < until && send_all(s, "1\r\n \r\n", 6) == 0 && !client_gone(fd, 1000))
			;
		break;
	case M_BIGHEAD:
		n = big_head(big, sizeof(big));
		if (n && send_all(s, big, n) == 0)
			hold(fd, t0);
		return;
	default:
		hold(fd, t0);
		return;
	}
	evil_log("stopped after (s)", (long)(time(NULL) - t0));
}

static void
serve(int fd, const char *dir)
{
	gnutls_session_t s = NULL;
	char head[EVIL_REQUEST_MAX + 1], hdr[512];
	size_t len = 0, file_len = 0, nl;
	char *file = NULL;
	const char *status = "404 application/json", *body = "{}";
	size_t body_len = 2, status_len = strlen(status);
	time_t t0 = time(NULL);
	int r;

	if (mode == M_NOTLS) {
		evil_log("connection accepted", 0);
		hold(fd, t0);
		goto out;
	}
	if (gnutls_init(&s, GNUTLS_SERVER) < 0)
		goto out;
	gnutls_set_default_priority(s);
	gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, cred);
	gnutls_transport_set_int(s, fd);
	gnutls_handshake_set_timeout(s, EVIL_IO_TIMEOUT_MS);
	gnutls_record_set_timeout(s, EVIL_IO_TIMEOUT_MS);
	do
		r = gnutls_handshake(s);
	while (r < 0 && !gnutls_error_is_fatal(r));
	if (r < 0)
		goto out;
	while (len < EVIL_REQUEST_MAX) {
		ssize_t n = gnutls_record_recv(s, head + len, EVIL_REQUEST_MAX - len);

		if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
			continue;
		if (n <= 0)
			goto out;
		len += (size_t)n;
		head[len] = '\0';
		if (strstr(head, "\r\n\r\n"))
			break;
	}
	head[len] = '\0';
	if (mode != M_FILES) {
		serve_hostile(s, fd, t0);
		goto out;
	}
	file = answer_for(dir, head, &file_len);
	if (file) {
		nl = strcspn(file, "\n");
		if (nl < file_len) {
			status = file;
			status_len = nl;
			body = file + nl + 1;
			body_len = file_len - nl - 1;
		}
	}
	{
		/* "STATUS CONTENT-TYPE": the status is the first word */
		size_t w = strcspn(status, " \n");
		int k = snprintf(hdr, sizeof(hdr),
				 "HTTP/1.1 %.*s Evil\r\nContent-Type: %.*s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
				 (int)w, status, (int)(status_len > w ? status_len - w - 1 : 0), status + (status_len > w ? w + 1 : w),
				 body_len);

		if (k > 0 && (size_t)k < sizeof(hdr) && send_all(s, hdr, (size_t)k) == 0)
			send_all(s, body, body_len);
	}
	gnutls_bye(s, GNUTLS_SHUT_WR);
out:
	free(file);
	if (s)
		gnutls_deinit(s);
	close(fd);
}

int
main(int argc, char **argv)
{
	struct core_error err = { 0 };
	struct sockaddr_in sin = { .sin_family = AF_INET };
	char cert[4096], key[4096];
	long port;
	int lfd, one = 1, seconds;

	if (argc != 5 && argc != 6) {
		fprintf(stderr, "usage: evilsrv DIR ADDR PORT SECONDS [MODE]\n");
		return 2;
	}
	while (argc == 6 && mode < M_NOTLS && strcmp(argv[5], mode_names[mode]))
		mode++;
	if (argc == 6 && strcmp(argv[5], mode_names[mode])) {
		fprintf(stderr, "evilsrv: unknown mode %s\n", argv[5]);
		return 2;
	}
	snprintf(log_path, sizeof(log_path), "%s/evil.log", argv[1]);
	seconds = (int)strtol(argv[4], NULL, 10);
	port = strtol(argv[3], NULL, 10);
	if (seconds <= 0 || seconds > EVIL_SECONDS_MAX || port <= 0 || port > 65535 ||
	    inet_pton(AF_INET, argv[2], &sin.sin_addr) != 1) {
		fprintf(stderr, "evilsrv: bad address, port or seconds\n");
		return 2;
	}
	sin.sin_port = htons((uint16_t)port);
	signal(SIGPIPE, SIG_IGN);
	if (tls_ensure_self_signed(argv[1], argv[2], "evil", &err) < 0) {
		fprintf(stderr, "evilsrv: %s\n", err.message);
		return 1;
	}
	snprintf(cert, sizeof(cert), "%s/tls/cert.pem", argv[1]);
	snprintf(key, sizeof(key), "%s/tls/key.pem", argv[1]);
	if (gnutls_global_init() < 0 || gnutls_certificate_allocate_credentials(&cred) < 0 ||
	    gnutls_certificate_set_x509_key_file(cred, cert, key, GNUTLS_X509_FMT_PEM) < 0) {
		fprintf(stderr, "evilsrv: cannot load %s\n", cert);
		return 1;
	}
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(lfd, 16) < 0) {
		fprintf(stderr, "evilsrv: cannot listen on %s:%s: %s\n", argv[2], argv[3], strerror(errno));
		return 1;
	}
	printf("listening\n");
	fflush(stdout);
	until = time(NULL) + seconds;
	while (time(NULL) < until) {
		struct pollfd p = { .fd = lfd, .events = POLLIN };
		int fd;

		if (poll(&p, 1, 200) <= 0)
			continue;
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd >= 0)
			serve(fd, argv[1]);
	}
	close(lfd);
	gnutls_certificate_free_credentials(cred);
	gnutls_global_deinit();
	return 0;
}

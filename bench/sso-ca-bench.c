/*
 * make bench: how long jitgated's loop is held by one single sign-on provider call (src/http/http-fetch.c, as
 * api-oidc-call.c makes it) when libcurl-gnutls reads the system's trust store for each new connection, against a
 * small ca_file. Prints figures; never fails on a number.
 * Usage: sso-ca-bench [CALLS]
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "core/timeutil.h"
#include "daemon/tls.h"
#include "http/http-fetch.h"
#include "http/http.h"

#define CALLS_DEFAULT	20		/* provider calls per case and round */
#define ROUNDS		3		/* the two cases alternate, so that the machine's drift hits both */
#define CALL_TIMEOUT_MS	10000		/* one call, connect to answer */
#define SYSTEM_CA_DIR	"/etc/ssl/certs"	/* where Debian's libcurl-gnutls finds the system's CAs (no bundle) */

static struct {
	struct http_server *srv;
	int stop[2];
	pthread_t thread;
	bool running;
} S = { .stop = { -1, -1 } };

/* The provider's stand-in: a small JSON answer, as a token or JWKS endpoint gives. */
static void
handler(void *ctx, const struct http_request *req, struct http_response *resp)
{
	(void)ctx;
	(void)req;
	resp->status = 200;
	resp->body = strdup("{}");
	resp->body_len = resp->body ? 2 : 0;
}

static void *
server_main(void *arg)
{
	(void)arg;
	for (;;) {
		struct pollfd p[2] = {
			{ .fd = http_server_poll_fd(S.srv), .events = POLLIN },
			{ .fd = S.stop[0], .events = POLLIN },
		};

		if (poll(p, 2, http_server_timeout_ms(S.srv)) < 0 && errno != EINTR)
			break;
		if (p[1].revents)
			break;
		http_server_run(S.srv);
	}
	return NULL;
}

struct call {
	bool done;
	CURLcode code;
};

static void
on_done(void *ctx, struct http_fetch *t, CURLcode code)
{
	struct call *c = ctx;

	(void)t;
	c->done = true;
	c->code = code;
}

/* What one call cost the loop: its longest single time in libcurl (the stall), and all of it. */
struct cost {
	double stall_ms, total_ms;
	CURLcode code;
};

static void
spent(int64_t from, struct cost *k)
{
	double ms = (double)(time_mono_ns() - from) / 1e6;

	k->total_ms += ms;
	if (ms > k->stall_ms)
		k->stall_ms = ms;
}

/*
 * One provider call on a new connection (a sign-in's calls come minutes apart: the provider has closed the last
 * one), driven as jitgated's loop drives its fetcher: start it, then poll its fd and run it until done.
 */
static int
one_call(struct http_fetcher *f, const char *url, const char *ca_file, struct cost *k)
{
	static const struct http_fetch_limits lim = { CALL_TIMEOUT_MS, CALL_TIMEOUT_MS, 65536, true };
	int64_t deadline = time_mono_ns() + 2 * CALL_TIMEOUT_MS * TIME_NS_PER_MS, t0;
	struct http_fetch t;
	struct call c = { 0 };
	int r;

	memset(k, 0, sizeof(*k));
	if ((r = http_fetch_init(&t, url, ca_file, false, &lim, on_done, &c)) < 0)
		return r;
	curl_easy_setopt(t.easy, CURLOPT_FRESH_CONNECT, 1L);
	curl_easy_setopt(t.easy, CURLOPT_FORBID_REUSE, 1L);
	t0 = time_mono_ns();
	r = http_fetch_start(f, &t);
	spent(t0, k);
	while (r == 0 && !c.done && time_mono_ns() < deadline) {
		struct pollfd p = { .fd = http_fetcher_fd(f), .events = POLLIN };
		int ms = http_fetcher_timeout_ms(f);

		poll(&p, 1, ms < 0 || ms > 100 ? 100 : ms);
		t0 = time_mono_ns();
		http_fetcher_run(f);
		spent(t0, k);
	}
	k->code = c.done ? c.code : CURLE_OPERATION_TIMEDOUT;
	http_fetch_end(f, &t);
	return r;
}

/* n calls with this ca_file: each one's stall and total into stall[i] and total[i], the failures counted. */
static int
calls_run(struct http_fetcher *f, const char *url, const char *ca_file, size_t n, double *stall, double *total,
	  unsigned *failed, CURLcode *code)
{
	size_t i;

	for (i = 0; i < n; i++) {
		struct cost c;

		if (one_call(f, url, ca_file, &c) < 0)
			return -1;
		stall[i] = c.stall_ms;
		total[i] = c.total_ms;
		if (c.code != CURLE_OK) {
			(*failed)++;
			*code = c.code;
		}
	}
	return 0;
}

static int
by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double
pct(double *v, size_t n, double p)
{
	qsort(v, n, sizeof(*v), by_value);
	return v[(size_t)(p * (double)(n - 1) + 0.5)];
}

/* The CA certificates in the system's bundle (the same CAs as the directory's files). */
static size_t
count_bundle(const char *dir)
{
	char path[512], line[128];
	size_t n = 0;
	FILE *fp;

	snprintf(path, sizeof(path), "%s/ca-certificates.crt", dir);
	if ((fp = fopen(path, "r")) == NULL)
		return 0;
	while (fgets(line, sizeof(line), fp))
		n += strncmp(line, "-----BEGIN CERTIFICATE-----", 27) == 0;
	fclose(fp);
	return n;
}

static void
report(const char *name, double *stall, double *total, size_t n, unsigned failed, CURLcode code)
{
	double s50 = pct(stall, n, 0.5), s99 = pct(stall, n, 0.99), smax = stall[n - 1];
	double t50 = pct(total, n, 0.5);

	printf("  %-30s loop stall per call p50 %6.2f ms, p99 %6.2f ms, max %6.2f ms; in libcurl per call p50 %6.2f ms",
	       name, s50, s99, smax, t50);
	if (failed)
		printf(" (%u of %zu: %s)", failed, n, curl_easy_strerror(code));
	printf("\n");
}

int
main(int argc, char **argv)
{
	char dir[] = "/tmp/jitgate-sso-ca-bench.XXXXXX", cert[128], key[128], url[64];
	size_t calls = argc > 1 ? strtoul(argv[1], NULL, 10) : CALLS_DEFAULT, n = 0;
	double *stall[2] = { NULL, NULL }, *total[2] = { NULL, NULL };
	unsigned failed[2] = { 0, 0 };
	CURLcode code[2] = { CURLE_OK, CURLE_OK };
	struct http_config cfg = { 0 };
	struct core_error err = { 0 };
	struct http_fetcher *f = NULL;
	const char *ca[2];
	int round, k, rc = 1;

	if (calls == 0 || calls > 100000 || !mkdtemp(dir))
		return 1;
	snprintf(cert, sizeof(cert), "%s/tls/cert.pem", dir);
	snprintf(key, sizeof(key), "%s/tls/key.pem", dir);
	if (tls_ensure_self_signed(dir, "127.0.0.1", "provider.example", &err) < 0) {
		fprintf(stderr, "sso-ca-bench: %s\n", err.message);
		goto out;
	}
	cfg.listen = "127.0.0.1:0";
	cfg.cert_path = cert;
	cfg.key_path = key;
	cfg.handler = handler;
	if (http_server_start(&cfg, &S.srv, &err) < 0 || pipe2(S.stop, O_CLOEXEC) < 0 ||
	    !(S.running = pthread_create(&S.thread, NULL, server_main, NULL) == 0)) {
		fprintf(stderr, "sso-ca-bench: cannot start the HTTPS server: %s\n", err.message);
		goto out;
	}
	snprintf(url, sizeof(url), "https://127.0.0.1:%d/token", http_server_port(S.srv));
	if (http_fetcher_new(&f) < 0)
		goto out;
	ca[0] = NULL;	/* ca_file unset: the system's CAs */
	ca[1] = cert;	/* ca_file: the provider's one certificate */
	for (k = 0; k < 2; k++) {
		stall[k] = calloc(calls * ROUNDS, sizeof(double));
		total[k] = calloc(calls * ROUNDS, sizeof(double));
		if (!stall[k] || !total[k])
			goto out;
	}
	printf("sso-ca-bench: %s; %zu provider calls per case in %d alternating rounds, each on a new TLS connection "
	       "to a loopback server\n", curl_version(), calls, ROUNDS);
	for (round = 0; round < ROUNDS; round++)
		for (k = 0; k < 2; k++) {
			int which = round % 2 ? 1 - k : k;

			if (calls_run(f, url, ca[which], calls, stall[which] + (size_t)round * calls,
				      total[which] + (size_t)round * calls, &failed[which], &code[which]) < 0)
				goto out;
		}
	n = calls * ROUNDS;
	printf("  the system's trust store: %s (%zu CA certificates in its bundle beside it); the server's "
	       "self-signed certificate fails verification there, after the store is read\n", SYSTEM_CA_DIR,
	       count_bundle(SYSTEM_CA_DIR));
	report("system trust store", stall[0], total[0], n, failed[0], code[0]);
	report("ca_file (1 certificate)", stall[1], total[1], n, failed[1], code[1]);
	rc = 0;
out:
	for (k = 0; k < 2; k++) {
		free(stall[k]);
		free(total[k]);
	}
	http_fetcher_free(f);
	if (S.running && write(S.stop[1], "x", 1) == 1)
		pthread_join(S.thread, NULL);
	http_server_stop(S.srv);
	unlink(cert);
	unlink(key);
	snprintf(cert, sizeof(cert), "%s/tls", dir);
	rmdir(cert);
	rmdir(dir);
	return rc;
}

/* Unit tests for jitgated's outbound HTTP (http-fetch.c) against a loopback listener this test answers by hand. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/timeutil.h"
#include "http/http-fetch.h"
#include "testutil.h"

#define WAIT_MAX_MS	5000	/* a transfer that has not ended by then is a failure */

struct outcome {
	bool done;
	CURLcode code;
};

static void
on_done(void *ctx, struct http_fetch *t, CURLcode code)
{
	struct outcome *o = ctx;

	(void)t;
	o->done = true;
	o->code = code;
}

/* A listening socket on 127.0.0.1 (its port in *port), non-blocking. */
static int
listener(int *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t n = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 8), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &n), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

/*
 * Run the fetcher until o is done; meanwhile, when `answer` is given, each connection to lfd is accepted
 * and sent it once the request has come (this one thread also runs libcurl: nothing here may block).
 * The number of connections accepted.
 */
static int
run_until_done(struct http_fetcher *f, struct outcome *o, int lfd, const char *answer, size_t answer_len)
{
	int64_t end = time_mono_ms() + WAIT_MAX_MS;
	int accepted = 0, c = -1;
	char buf[4096];

	while (!o->done && time_mono_ms() < end) {
		struct pollfd p = { .fd = http_fetcher_fd(f), .events = POLLIN };
		int t = http_fetcher_timeout_ms(f);

		poll(&p, 1, t < 0 || t > 10 ? 10 : t);
		http_fetcher_run(f);
		if (answer && c < 0 && (c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0)
			accepted++;
		if (c >= 0 && read(c, buf, sizeof(buf)) > 0) {
			assert_int_equal(write(c, answer, answer_len), (ssize_t)answer_len);
			shutdown(c, SHUT_WR);
		}
	}
	if (c >= 0)
		close(c);
	assert_true(o->done);
	return accepted;
}

static const struct http_fetch_limits lim = { 300, 300, 1000, true };

/* An http:// URL when only https is allowed (single sign-on's calls): refused before any connection. */
static void
test_plain_http_refused_unless_allowed(void **state)
{
	struct http_fetcher *f;
	struct http_fetch t;
	struct outcome o = { 0 };
	char url[64], why[256];
	int port, lfd = listener(&port);

	(void)state;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", port);
	assert_int_equal(http_fetcher_new(&f), 0);
	assert_int_equal(http_fetch_init(&t, url, NULL, false, &lim, on_done, &o), 0);
	assert_int_equal(http_fetch_start(f, &t), 0);
	assert_int_equal(run_until_done(f, &o, lfd, "x", 1), 0);
	assert_int_equal(o.code, CURLE_UNSUPPORTED_PROTOCOL);
	http_fetch_error(&t, o.code, why, sizeof(why));
	assert_non_null(strstr(why, "http"));
	http_fetch_end(f, &t);
	assert_int_equal(http_fetcher_running(f), 0);
	http_fetcher_free(f);
	close(lfd);
}

/* A listener that takes the connection and never answers: the transfer ends at its timeout, said plainly. */
static void
test_silent_server_times_out(void **state)
{
	struct http_fetcher *f;
	struct http_fetch t;
	struct outcome o = { 0 };
	char url[64], why[256];
	int port, lfd = listener(&port);
	int64_t t0 = time_mono_ms();

	(void)state;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", port);
	assert_int_equal(http_fetcher_new(&f), 0);
	assert_int_equal(http_fetch_init(&t, url, NULL, true, &lim, on_done, &o), 0);
	assert_int_equal(http_fetch_start(f, &t), 0);
	run_until_done(f, &o, lfd, NULL, 0);
	assert_int_equal(o.code, CURLE_OPERATION_TIMEDOUT);
	assert_true(time_mono_ms() - t0 >= 300);
	assert_string_equal(http_fetch_error(&t, o.code, why, sizeof(why)), "no answer within 300 ms");
	http_fetch_end(f, &t);
	http_fetcher_free(f);
	close(lfd);
}

/* A redirect is an answer like any other: its status is seen, its Location never visited. */
static void
test_redirect_not_followed(void **state)
{
	static const char answer[] = "HTTP/1.1 307 Temporary Redirect\r\nLocation: /elsewhere\r\n"
				     "Content-Length: 0\r\nConnection: close\r\n\r\n";
	struct http_fetcher *f;
	struct http_fetch t;
	struct outcome o = { 0 };
	char url[64];
	int port, lfd = listener(&port);

	(void)state;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", port);
	assert_int_equal(http_fetcher_new(&f), 0);
	assert_int_equal(http_fetch_init(&t, url, NULL, true, &lim, on_done, &o), 0);
	assert_int_equal(http_fetch_start(f, &t), 0);
	assert_int_equal(run_until_done(f, &o, lfd, answer, sizeof(answer) - 1), 1);
	assert_int_equal(o.code, CURLE_OK);
	assert_int_equal(http_fetch_status(&t), 307);
	usleep(100 * 1000);
	assert_true(accept4(lfd, NULL, NULL, 0) < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
	http_fetch_end(f, &t);
	http_fetcher_free(f);
	close(lfd);
}

/* An answer longer than answer_max ends the transfer; what was kept is at most answer_max bytes. */
static void
test_long_answer_cut(void **state)
{
	static const char head[] = "HTTP/1.1 200 OK\r\nContent-Length: 5000\r\nConnection: close\r\n\r\n";
	char answer[sizeof(head) - 1 + 5000], url[64], why[256];
	struct http_fetcher *f;
	struct http_fetch t;
	struct outcome o = { 0 };
	int port, lfd = listener(&port);

	(void)state;
	memcpy(answer, head, sizeof(head) - 1);
	memset(answer + sizeof(head) - 1, 'a', 5000);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", port);
	assert_int_equal(http_fetcher_new(&f), 0);
	assert_int_equal(http_fetch_init(&t, url, NULL, true, &lim, on_done, &o), 0);
	assert_int_equal(http_fetch_start(f, &t), 0);
	run_until_done(f, &o, lfd, answer, sizeof(answer));
	assert_int_equal(o.code, CURLE_WRITE_ERROR);
	assert_true(t.too_long);
	assert_true(t.answer_len <= 1000);
	assert_string_equal(http_fetch_error(&t, o.code, why, sizeof(why)), "its answer is longer than 1000 bytes");
	http_fetch_end(f, &t);
	http_fetcher_free(f);
	close(lfd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_http_refused_unless_allowed),
		cmocka_unit_test(test_silent_server_times_out),
		cmocka_unit_test(test_redirect_not_followed),
		cmocka_unit_test(test_long_answer_cut),
	};

	/* a proxy in the test's environment must change nothing: jitgated's transfers take none */
	setenv("http_proxy", "http://192.0.2.1:9", 1);
	setenv("https_proxy", "http://192.0.2.1:9", 1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

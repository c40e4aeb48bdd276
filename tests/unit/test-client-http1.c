/* Unit tests of the agent transport's HTTP/1.1 answer reader (client-http1.c) and URL parser (client-tls.c). */
#include <errno.h>
#include <poll.h>
#include <string.h>

#include "testutil.h"
#include "client/client-http1.h"
#include "client/client-tls.h"

/* Feed `s` in pieces of `step` bytes (0: whole); the first error, else 0; *used: bytes the answer took. */
static long
feed(struct http1_answer *a, const char *s, size_t step, size_t *used)
{
	size_t n = strlen(s), at = 0;

	while (at < n && !http1_done(a)) {
		size_t k = step && step < n - at ? step : n - at;
		long r = http1_feed(a, s + at, k);

		if (r < 0)
			return r;
		at += (size_t)r;
	}
	if (used)
		*used = at;
	return 0;
}

static void
test_length_and_chunks_in_any_pieces(void **state)
{
	static const char *const answers[] = {
		"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"a\":12345}",
		"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n4;ext=1\r\n{\"a\"\r\n7\r\n:12345}\r\n0\r\nX-Trailer: y\r\n\r\n",
		"HTTP/1.1 200 OK\nContent-Length: 11\n\n{\"a\":12345}",	/* bare LF line ends */
	};
	size_t i, step;

	for (i = 0; i < sizeof(answers) / sizeof(answers[0]); i++)
		for (step = 0; step < 9; step++) {
			struct http1_answer a;

			http1_answer_init(&a, 64);
			assert_int_equal(feed(&a, answers[i], step, NULL), 0);
			assert_true(http1_done(&a));
			assert_int_equal(a.status, 200);
			assert_false(a.close);
			assert_int_equal(a.body.len, 11);
			assert_memory_equal(a.body.data, "{\"a\":12345}", 11);
			http1_answer_free(&a);
		}
}

static void
test_what_follows_an_answer_is_not_taken(void **state)
{
	struct http1_answer a;
	size_t used = 0;
	const char *s = "HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 200 OK\r\n";

	http1_answer_init(&a, 64);
	assert_int_equal(feed(&a, s, 0, &used), 0);
	assert_true(http1_done(&a));
	assert_int_equal(a.status, 204);
	assert_int_equal(used, strlen("HTTP/1.1 204 No Content\r\n\r\n"));
	http1_answer_free(&a);
}

static void
test_continue_close_and_eof(void **state)
{
	struct http1_answer a;

	/* a 100 Continue is skipped; HTTP/1.0 without a length is read to the close */
	http1_answer_init(&a, 64);
	assert_int_equal(feed(&a, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.0 401 Unauthorized\r\n\r\n{\"e\":1}", 3, NULL), 0);
	assert_false(http1_done(&a));
	assert_int_equal(http1_eof(&a), 0);
	assert_true(http1_done(&a));
	assert_true(a.close);
	assert_int_equal(a.status, 401);
	assert_int_equal(a.body.len, 7);
	http1_answer_free(&a);
	/* a close in the middle of a length is not an answer */
	http1_answer_init(&a, 64);
	assert_int_equal(feed(&a, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", 0, NULL), 0);
	assert_int_equal(http1_eof(&a), -EPROTO);
	http1_answer_free(&a);
	/* Connection: close among other tokens */
	http1_answer_init(&a, 64);
	assert_int_equal(feed(&a, "HTTP/1.1 200 OK\r\nConnection: keep-alive, Close\r\nContent-Length: 0\r\n\r\n", 0, NULL), 0);
	assert_true(http1_done(&a));
	assert_true(a.close);
	http1_answer_free(&a);
}

static void
test_too_large_is_the_bodys(void **state)
{
	struct http1_answer a;

	http1_answer_init(&a, 10);
	assert_int_equal(feed(&a, "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n", 0, NULL), -EFBIG);
	assert_true(a.too_big);
	http1_answer_free(&a);
	http1_answer_init(&a, 10);
	assert_int_equal(feed(&a, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nabcdef\r\n5\r\n", 2, NULL), -EFBIG);
	assert_true(a.too_big);
	http1_answer_free(&a);
	http1_answer_init(&a, 10);
	assert_int_equal(feed(&a, "HTTP/1.0 200 OK\r\n\r\n0123456789A", 4, NULL), -EFBIG);
	assert_true(a.too_big);
	assert_true(a.body.len <= 10);
	http1_answer_free(&a);
}

static void
test_malformed_answers_are_refused(void **state)
{
	static const char *const bad[] = {
		"HTTP/2 200 OK\r\n\r\n",
		"HTTP/1.1 20 OK\r\n\r\n",
		"HTTP/1.1 200OK\r\n\r\n",
		"ICY 200 OK\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n",
		"HTTP/1.1 200 OK\r\nNoColon\r\n\r\n",
		"HTTP/1.1 200 OK\r\n Folded: x\r\n\r\n",
		"HTTP/1.1 200 OK\r\nName : x\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n",
		"HTTP/1.1 101 Switching Protocols\r\n\r\n",
		"HTTP/1.1 200 OK\r\nA: b\rc\r\n\r\n",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct http1_answer a;

		http1_answer_init(&a, 64);
		assert_int_equal(feed(&a, bad[i], 0, NULL), -EPROTO);
		assert_false(a.too_big);
		http1_answer_free(&a);
	}
}

static void
test_head_limits(void **state)
{
	static char big[HTTP1_LINE_MAX + 64];
	struct http1_answer a;
	size_t i;

	snprintf(big, sizeof(big), "HTTP/1.1 200 OK\r\nX: ");
	memset(big + strlen(big), 'a', HTTP1_LINE_MAX);
	big[sizeof(big) - 1] = '\0';
	http1_answer_init(&a, 64);
	assert_int_equal(feed(&a, big, 1000, NULL), -EFBIG);
	assert_false(a.too_big);
	http1_answer_free(&a);
	/* many short headers pass HTTP1_HEAD_MAX */
	http1_answer_init(&a, 64);
	assert_int_equal(feed(&a, "HTTP/1.1 200 OK\r\n", 0, NULL), 0);
	for (i = 0; i < HTTP1_HEAD_MAX / 8; i++)
		if (http1_feed(&a, "X: abc\r\n", 8) < 0)
			break;
	assert_true(i < HTTP1_HEAD_MAX / 8);
	assert_false(a.too_big);
	http1_answer_free(&a);
}

/* A head of `size` bytes (status line and final CRLF included) in header lines of about 4000 bytes, "{}" after it. */
static void
head_of(char *out, size_t size)
{
	size_t pos = (size_t)snprintf(out, size + 3, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"), rem, l;

	while ((rem = size - 2 - pos) > 0) {
		l = rem <= 4000 ? rem : rem - 4000 < 9 ? rem - 9 : 4000;
		memcpy(out + pos, "X-Pad: ", 7);
		memset(out + pos + 7, 'a', l - 9);
		memcpy(out + pos + l - 2, "\r\n", 2);
		pos += l;
	}
	memcpy(out + pos, "\r\n{}", 5);
}

/* HTTP1_HEAD_MAX is exact: a head of that many bytes is read, one byte more is refused (agent-hostile.sh's bighead) */
static void
test_head_limit_is_exact(void **state)
{
	static char head[HTTP1_HEAD_MAX + 8];
	struct http1_answer a;

	head_of(head, HTTP1_HEAD_MAX);
	http1_answer_init(&a, 64);
	assert_int_equal(feed(&a, head, 1000, NULL), 0);
	assert_true(http1_done(&a));
	assert_int_equal(a.head_len, HTTP1_HEAD_MAX);
	assert_memory_equal(a.body.data, "{}", 2);
	http1_answer_free(&a);
	head_of(head, HTTP1_HEAD_MAX + 1);
	http1_answer_init(&a, 64);
	assert_int_equal(feed(&a, head, 1000, NULL), -EFBIG);
	assert_false(a.too_big);
	http1_answer_free(&a);
}

static void
test_urls(void **state)
{
	struct client_target t;
	const char *why = NULL;

	assert_int_equal(client_target_parse("https://jit.test:8443/agent/v1/x?since=3", &t, &why), 0);
	assert_string_equal(t.host, "jit.test");
	assert_string_equal(t.port, "8443");
	assert_string_equal(t.authority, "jit.test:8443");
	assert_string_equal(t.target, "/agent/v1/x?since=3");
	assert_false(t.numeric);
	assert_int_equal(client_target_parse("https://[fd00::1]", &t, &why), 0);
	assert_string_equal(t.host, "fd00::1");
	assert_string_equal(t.port, "443");
	assert_string_equal(t.authority, "[fd00::1]");
	assert_string_equal(t.target, "/");
	assert_true(t.numeric);
	assert_int_equal(client_target_parse("HTTPS://10.0.0.1:1?x", &t, &why), 0);
	assert_true(t.numeric);
	assert_string_equal(t.target, "?x");
	assert_int_equal(client_target_parse("http://10.0.0.1/", &t, &why), -EINVAL);
	assert_int_equal(client_target_parse("https://10.0.0.1:0/", &t, &why), -EINVAL);
	assert_int_equal(client_target_parse("https://10.0.0.1:65536/", &t, &why), -EINVAL);
	assert_int_equal(client_target_parse("https://10.0.0.1:+1/", &t, &why), -EINVAL);
	assert_int_equal(client_target_parse("https://u:p@10.0.0.1/", &t, &why), -EINVAL);
	assert_int_equal(client_target_parse("https://a b/", &t, &why), -EINVAL);
	assert_int_equal(client_target_parse("https://h/x\r\nX: y", &t, &why), -EINVAL);
	assert_int_equal(client_target_parse("https://[jit.test]/", &t, &why), -EINVAL);
	assert_int_equal(client_target_parse("https://[::1/", &t, &why), -EINVAL);
	assert_int_equal(client_target_parse("https:///x", &t, &why), -EINVAL);
	assert_int_equal(client_target_parse("https://h#f", &t, &why), -EINVAL);
	assert_int_equal(client_target_parse("https://a]b:1/", &t, &why), -EINVAL);
	assert_int_equal(client_target_parse("https://a\xff" "b/", &t, &why), -EINVAL);
	assert_non_null(why);
}

/* Wait (at most 10 s: a hung resolver fails the test, it does not time it) until r is done; its result. */
static int
resolved(struct client_resolve *r, struct addrinfo **ai)
{
	struct pollfd p = { client_resolve_fd(r), POLLIN, 0 };
	const char *why = NULL;

	if (poll(&p, 1, 10000) != 1)
		return -ETIMEDOUT;
	return client_resolve_result(r, ai, &why);
}

/* A resolution shared by two callers gives both its answer; its thread has left the table by then; an address needs none. */
static void
test_resolve_shared(void **state)
{
	struct client_resolve *a = NULL, *b = NULL;
	struct addrinfo *ai = NULL, *bi = NULL;
	struct client_target t;
	const char *why = NULL;

	assert_int_equal(client_target_parse("https://localhost:8443/", &t, &why), 0);
	assert_int_equal(client_resolve_start(&t, &a), 0);
	assert_int_equal(client_resolve_start(&t, &b), 0);
	assert_int_equal(resolved(a, &ai), 1);
	assert_int_equal(resolved(b, &bi), 1);
	assert_non_null(ai);
	assert_non_null(bi);
	/* peeked, not taken: asking again still answers */
	assert_int_equal(resolved(a, &ai), 1);
	assert_int_equal(client_resolve_running(), 0);
	client_resolve_put(a);
	client_resolve_put(b);
	assert_int_equal(client_target_parse("https://127.0.0.1:8443/", &t, &why), 0);
	assert_int_equal(client_resolve_start(&t, &a), 0);
	assert_int_equal(client_resolve_running(), 0);
	assert_int_equal(resolved(a, &ai), 1);
	client_resolve_put(a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_length_and_chunks_in_any_pieces),
		cmocka_unit_test(test_what_follows_an_answer_is_not_taken),
		cmocka_unit_test(test_continue_close_and_eof),
		cmocka_unit_test(test_too_large_is_the_bodys),
		cmocka_unit_test(test_malformed_answers_are_refused),
		cmocka_unit_test(test_head_limits),
		cmocka_unit_test(test_head_limit_is_exact),
		cmocka_unit_test(test_urls),
		cmocka_unit_test(test_resolve_shared),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

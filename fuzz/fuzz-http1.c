/*
 * Fuzz target for jitgate-agent's HTTP/1.1 answer reader (src/client/client-http1.c) and its URL parser
 * (client-tls.c). The first byte picks the body cap, the second how the stream is cut into reads: the answer
 * read whole and read in pieces must come out the same (status, body, error), the body within its cap, and a
 * URL that parses names a host without brackets, a port from 1 to 65535 and a target starting with / or ?.
 */
#include <errno.h>

#include "client/client-http1.h"
#include "client/client-tls.h"
#include "fuzz-common.h"

struct outcome {
	long r;		/* the first error, 0 when none */
	bool done;
	long status;
	size_t used;	/* bytes the answer took (without an error) */
};

static struct outcome
read_answer(struct http1_answer *a, const char *p, size_t n, size_t step, bool eof)
{
	struct outcome o = { 0 };
	size_t at = 0;

	while (at < n && !http1_done(a)) {
		size_t k = step && step < n - at ? step : n - at;
		long used = http1_feed(a, p + at, k);

		if (used < 0) {
			o.r = used;
			break;
		}
		fuzz_check((size_t)used <= k);
		fuzz_check((size_t)used == k || http1_done(a));
		at += (size_t)used;
	}
	if (o.r == 0 && eof && !http1_done(a) && http1_eof(a) < 0)
		o.r = -EPROTO;
	o.done = http1_done(a);
	o.status = a->status;
	o.used = at;
	fuzz_check(a->body.len <= a->max_body);
	fuzz_check(o.r == 0 || o.r == -EPROTO || o.r == -EFBIG || o.r == -ENOMEM);
	fuzz_check(!o.done || (o.status >= 200 && o.status <= 599));
	return o;
}

static void
url(const uint8_t *data, size_t size)
{
	char s[CLIENT_URL_MAX];
	struct client_target t;
	const char *why = NULL;
	unsigned long port;

	if (size >= sizeof(s))
		size = sizeof(s) - 1;
	memcpy(s, data, size);
	s[size] = '\0';
	if (client_target_parse(s, &t, &why) < 0) {
		fuzz_check(why && *why);
		return;
	}
	fuzz_check(t.host[0] && !strchr(t.host, '[') && !strchr(t.host, ']') && !strchr(t.host, '/'));
	port = strtoul(t.port, NULL, 10);
	fuzz_check(port >= 1 && port <= 65535);
	fuzz_check(t.target[0] == '/' || t.target[0] == '?');
	fuzz_check(!strchr(t.authority, '/') && !strchr(t.authority, '@'));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t caps[] = { 0, 1, 16, 1000, 65536 };
	struct http1_answer whole, cut;
	struct outcome a, b;
	const char *p;
	size_t n;
	bool eof;

	if (size < 2)
		return 0;
	if (data[0] & 0x80) {
		url(data + 1, size - 1);
		return 0;
	}
	p = (const char *)data + 2;
	n = size - 2;
	eof = data[0] & 0x40;
	http1_answer_init(&whole, caps[(data[0] & 0x3f) % 5]);
	http1_answer_init(&cut, caps[(data[0] & 0x3f) % 5]);
	a = read_answer(&whole, p, n, 0, eof);
	b = read_answer(&cut, p, n, (size_t)data[1] % 7 + 1, eof);
	/* after an error the bytes taken count only the reads before it, which the cuts decide */
	fuzz_check(a.r == b.r && a.done == b.done && a.status == b.status && (a.r || a.used == b.used));
	/* ... and so does the body taken before it (a read that would pass the cap is refused whole) */
	fuzz_check(a.r || (whole.body.len == cut.body.len &&
			   (whole.body.len == 0 || memcmp(whole.body.data, cut.body.data, whole.body.len) == 0)));
	http1_answer_free(&whole);
	http1_answer_free(&cut);
	return 0;
}

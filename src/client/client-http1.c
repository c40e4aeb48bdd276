/* The agent transport's HTTP/1.1 answer reader: a byte-fed state machine with every length bounded; no I/O here. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "client/client-http1.h"

#define LENGTH_DIGITS_MAX	18	/* a Content-Length or chunk size: beyond, no body we take would fit anyway */

void
http1_answer_init(struct http1_answer *a, size_t max_body)
{
	memset(a, 0, sizeof(*a));
	a->phase = HTTP1_STATUS;
	a->max_body = max_body;
	/* one byte more than we take: the buffer refuses the append that passes it, we say -EFBIG */
	a->body.max = max_body + 1;
}

void
http1_answer_free(struct http1_answer *a)
{
	buf_free(&a->body);
}

static int
body_add(struct http1_answer *a, const char *p, size_t n)
{
	if (n > a->max_body - a->body.len)
		return a->too_big = true, -EFBIG;
	return buf_append(&a->body, p, n) == -ENOMEM ? -ENOMEM : 0;
}

/* "HTTP/1.x NNN reason": the status; an HTTP/1.0 server closes after its answer. */
static int
status_line(struct http1_answer *a, const char *s, size_t n)
{
	if (n < 12 || memcmp(s, "HTTP/1.", 7) || (s[7] != '0' && s[7] != '1') || s[8] != ' ' ||
	    s[9] < '1' || s[9] > '5' || s[10] < '0' || s[10] > '9' || s[11] < '0' || s[11] > '9' || (n > 12 && s[12] != ' '))
		return -EPROTO;
	a->status = (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
	a->close = s[7] == '0';
	a->chunked = a->has_length = false;
	a->remaining = 0;
	return 0;
}

/* Decimal (Content-Length) or hex (a chunk's size) digits, bounded; trailing text only after a chunk's ';'. */
static int
number(const char *s, size_t n, int base, uint64_t *ret)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		int d;

		if (s[i] >= '0' && s[i] <= '9')
			d = s[i] - '0';
		else if (base == 16 && s[i] >= 'a' && s[i] <= 'f')
			d = s[i] - 'a' + 10;
		else if (base == 16 && s[i] >= 'A' && s[i] <= 'F')
			d = s[i] - 'A' + 10;
		else
			break;
		if (i >= LENGTH_DIGITS_MAX)
			return -EFBIG;
		v = v * (uint64_t)base + (uint64_t)d;
	}
	if (i == 0)
		return -EPROTO;
	/* a chunk size may carry extensions (";name=value") and whitespace before them */
	for (; i < n; i++)
		if (base != 16 || (s[i] != ' ' && s[i] != '\t'))
			break;
	if (i < n && (base != 16 || s[i] != ';'))
		return -EPROTO;
	*ret = v;
	return 0;
}

/* Does the comma-separated list `v` hold `token` (case-insensitive)? */
static bool
list_has(const char *v, size_t n, const char *token)
{
	size_t t = strlen(token), i = 0;

	while (i < n) {
		size_t s, e;

		while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		s = i;
		while (i < n && v[i] != ',')
			i++;
		e = i;
		while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
			e--;
		if (e - s == t && strncasecmp(v + s, token, t) == 0)
			return true;
	}
	return false;
}

/* One "Name: value" line: only what frames the body or ends the connection matters to us. */
static int
header_line(struct http1_answer *a, const char *s, size_t n)
{
	const char *colon = memchr(s, ':', n);
	size_t name, vs, ve;
	uint64_t len;

	if (!colon || colon == s || s[0] == ' ' || s[0] == '\t' || colon[-1] == ' ' || colon[-1] == '\t')
		return -EPROTO;
	name = (size_t)(colon - s);
	for (vs = name + 1; vs < n && (s[vs] == ' ' || s[vs] == '\t'); vs++)
		;
	for (ve = n; ve > vs && (s[ve - 1] == ' ' || s[ve - 1] == '\t'); ve--)
		;
	if (name == 14 && strncasecmp(s, "Content-Length", 14) == 0) {
		int r = number(s + vs, ve - vs, 10, &len);

		if (r < 0)
			return r;
		/* two different lengths: which one frames the body is anyone's guess */
		if (a->has_length && len != a->remaining)
			return -EPROTO;
		a->has_length = true;
		a->remaining = len;
	} else if (name == 17 && strncasecmp(s, "Transfer-Encoding", 17) == 0) {
		/* chunked must be the last coding; any other coding is read to the close (and we decode none) */
		if (ve - vs >= 7 && strncasecmp(s + ve - 7, "chunked", 7) == 0 && list_has(s + vs, ve - vs, "chunked"))
			a->chunked = true;
		else
			a->close = true, a->chunked = false;
	} else if (name == 10 && strncasecmp(s, "Connection", 10) == 0 && list_has(s + vs, ve - vs, "close")) {
		a->close = true;
	}
	return 0;
}

/* The empty line after the headers: how the body comes, if one does. */
static int
head_end(struct http1_answer *a)
{
	if (a->status < 200 && a->status != 101) {
		/* 100 Continue and friends: the real answer follows */
		if (++a->infos > HTTP1_INFO_MAX)
			return -EPROTO;
		a->phase = HTTP1_STATUS;
		return 0;
	}
	if (a->status == 101)
		return -EPROTO;	/* we never ask to switch protocols */
	if (a->status == 204 || a->status == 304) {
		a->phase = HTTP1_DONE;
		return 0;
	}
	if (a->chunked) {
		/* a length beside chunked is ignored, and such a server is not trusted with the connection */
		if (a->has_length)
			a->close = true;
		a->has_length = false;
		a->phase = HTTP1_CHUNK_SIZE;
	} else if (a->has_length) {
		if (a->remaining > a->max_body)
			return a->too_big = true, -EFBIG;
		a->phase = a->remaining ? HTTP1_BODY_LENGTH : HTTP1_DONE;
	} else {
		a->close = true;
		a->phase = HTTP1_BODY_CLOSE;
	}
	return 0;
}

/* A whole line (CRLF stripped) in the phase that reads lines. */
static int
line_done(struct http1_answer *a, const char *s, size_t n)
{
	uint64_t size;
	int r;

	switch (a->phase) {
	case HTTP1_STATUS:
		if ((r = status_line(a, s, n)) < 0)
			return r;
		a->phase = HTTP1_HEADER;
		return 0;
	case HTTP1_HEADER:
		return n == 0 ? head_end(a) : header_line(a, s, n);
	case HTTP1_CHUNK_SIZE:
		if ((r = number(s, n, 16, &size)) < 0)
			return r;
		if (size > a->max_body - a->body.len)
			return a->too_big = true, -EFBIG;
		a->remaining = size;
		a->phase = size ? HTTP1_CHUNK_DATA : HTTP1_TRAILER;
		return 0;
	case HTTP1_CHUNK_END:
		if (n != 0)
			return -EPROTO;
		a->phase = HTTP1_CHUNK_SIZE;
		return 0;
	case HTTP1_TRAILER:
		if (n == 0)
			a->phase = HTTP1_DONE;
		return 0;
	default:
		return -EPROTO;
	}
}

/* Bytes toward a line; a CRLF (or a bare LF) ends it. Returns bytes used or -errno. */
static long
line_feed(struct http1_answer *a, const char *p, size_t n)
{
	const char *nl = memchr(p, '\n', n);
	size_t take = nl ? (size_t)(nl - p) + 1 : n;
	bool counted = a->phase == HTTP1_HEADER || a->phase == HTTP1_TRAILER || a->phase == HTTP1_STATUS;
	int r;

	if (take > sizeof(a->line) - a->line_len)
		return -EFBIG;
	if (counted && take > HTTP1_HEAD_MAX - a->head_len)
		return -EFBIG;
	memcpy(a->line + a->line_len, p, take);
	a->line_len += take;
	if (counted)
		a->head_len += take;
	if (!nl)
		return (long)take;
	n = a->line_len - 1;
	if (n > 0 && a->line[n - 1] == '\r')
		n--;
	if (memchr(a->line, '\0', n) || memchr(a->line, '\r', n))
		return -EPROTO;
	a->line_len = 0;
	r = line_done(a, a->line, n);
	return r < 0 ? r : (long)take;
}

/* Body bytes: by length or chunk (up to what remains), or to the close. */
static long
data_feed(struct http1_answer *a, const char *p, size_t n)
{
	size_t take = n;
	int r;

	if (a->phase != HTTP1_BODY_CLOSE && take > a->remaining)
		take = (size_t)a->remaining;
	if ((r = body_add(a, p, take)) < 0)
		return r;
	if (a->phase == HTTP1_BODY_CLOSE)
		return (long)take;
	a->remaining -= take;
	if (a->remaining == 0)
		a->phase = a->phase == HTTP1_CHUNK_DATA ? HTTP1_CHUNK_END : HTTP1_DONE;
	return (long)take;
}

long
http1_feed(struct http1_answer *a, const char *p, size_t n)
{
	size_t used = 0;

	while (used < n && a->phase != HTTP1_DONE) {
		long k;

		if (a->phase == HTTP1_BODY_LENGTH || a->phase == HTTP1_CHUNK_DATA || a->phase == HTTP1_BODY_CLOSE)
			k = data_feed(a, p + used, n - used);
		else
			k = line_feed(a, p + used, n - used);
		if (k < 0)
			return k;
		used += (size_t)k;
	}
	return (long)used;
}

int
http1_eof(struct http1_answer *a)
{
	if (a->phase == HTTP1_BODY_CLOSE)
		a->phase = HTTP1_DONE;
	return a->phase == HTTP1_DONE ? 0 : -EPROTO;
}

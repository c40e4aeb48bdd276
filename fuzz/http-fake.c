/* http-server.c's request accessors over a request decoded from fuzz bytes (see http-fake.h), for the API fuzzer. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fuzz-common.h"
#include "core/hex.h"
#include "http-fake.h"

struct fake_pair {
	char *key;
	char *value;			/* NULL: "?flag" without '=' (libmicrohttpd's lookup then answers NULL) */
};

struct http_fake {
	char *path;
	char *body;
	size_t n_headers, n_args;
	struct fake_pair *headers, *args;
};

static const char *const methods[] = { "GET", "PUT", "POST", "DELETE", "PATCH", "HEAD", "OPTIONS", "get" };

/*
 * A NUL-terminated copy of s[0..n): "%HH" decoded (a bad escape stays as it is,
 * as libmicrohttpd's lenient decoder leaves it), '+' a space when plus. A "%00"
 * ends the C string early. (The real server answers a target with a control character
 * itself, before the handler: http_target_has_control. The fuzzer still hands such a
 * target over, so that the handler is checked on it too.)
 */
static char *
decode(const char *s, size_t n, bool plus)
{
	char *out = malloc(n + 1);
	size_t i, k = 0;

	fuzz_check(out != NULL);
	for (i = 0; i < n; i++) {
		if (s[i] == '%' && i + 2 < n && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
			out[k++] = (char)(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
			i += 2;
		} else {
			out[k++] = plus && s[i] == '+' ? ' ' : s[i];
		}
	}
	out[k] = '\0';
	return out;
}

static struct fake_pair *
pair_add(struct fake_pair **v, size_t *n)
{
	struct fake_pair *p = reallocarray(*v, *n + 1, sizeof(**v));

	fuzz_check(p != NULL);
	*v = p;
	return &p[(*n)++];
}

/* "a=1&b&c=%41": each argument split at its first '=', as libmicrohttpd splits them. */
static void
parse_query(struct http_fake *f, const char *q, size_t n)
{
	while (n > 0) {
		const char *amp = memchr(q, '&', n);
		size_t len = amp ? (size_t)(amp - q) : n;
		const char *eq = memchr(q, '=', len);
		struct fake_pair *p = pair_add(&f->args, &f->n_args);

		if (eq) {
			p->key = decode(q, (size_t)(eq - q), true);
			p->value = decode(eq + 1, len - (size_t)(eq - q) - 1, true);
		} else {
			p->key = decode(q, len, true);
			p->value = NULL;
		}
		if (!amp)
			break;
		q += len + 1;
		n -= len + 1;
	}
}

static void
parse_headers(struct http_fake *f, const char *h, size_t n)
{
	while (n > 0) {
		const char *lf = memchr(h, '\n', n);
		size_t len = lf ? (size_t)(lf - h) : n, line = len;
		const char *colon;

		if (len > 0 && h[len - 1] == '\r')
			len--;
		colon = memchr(h, ':', len);
		if (colon && colon > h) {
			const char *v = colon + 1, *end = h + len;
			struct fake_pair *p;

			while (v < end && (*v == ' ' || *v == '\t'))
				v++;
			while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
				end--;
			p = pair_add(&f->headers, &f->n_headers);
			p->key = malloc((size_t)(colon - h) + 1);
			fuzz_check(p->key != NULL);
			memcpy(p->key, h, (size_t)(colon - h));
			p->key[colon - h] = '\0';
			p->value = malloc((size_t)(end - v) + 1);
			fuzz_check(p->value != NULL);
			memcpy(p->value, v, (size_t)(end - v));
			p->value[end - v] = '\0';
		}
		if (!lf)
			break;
		h += line + 1;
		n -= line + 1;
	}
}

int
http_fake_parse(const uint8_t *data, size_t size, struct http_request *req)
{
	struct http_fake *f = calloc(1, sizeof(*f));
	const char *p = (const char *)data + (size ? 1 : 0), *end = (const char *)data + size, *nul, *q;
	uint8_t flags = size ? data[0] : 0;
	size_t n;

	fuzz_check(f != NULL);
	memset(req, 0, sizeof(*req));
	req->method = methods[flags & 7];
	req->peer_uid = (uid_t)-1;
	if (flags & 8) {
		req->via_unix = true;
		req->peer_uid = flags & 16 ? 0 : 1000;
	} else {
		static const struct net_addr peers[] = {
			{ .family = NET_INET, .bytes = { 10, 1, 2, 3 } },
			{ .family = NET_INET6, .bytes = { [15] = 1 } },
			{ .family = NET_INET, .bytes = { 192, 0, 2, 7 } },
			{ .family = NET_INET6, .bytes = { 0x20, 0x01, 0x0d, 0xb8, [15] = 5 } },
		};

		req->peer = peers[(flags >> 4) & 3];
	}

	/* request-target */
	nul = memchr(p, '\0', (size_t)(end - p));
	n = nul ? (size_t)(nul - p) : (size_t)(end - p);
	q = memchr(p, '?', n);
	f->path = decode(p, q ? (size_t)(q - p) : n, false);
	if (q)
		parse_query(f, q + 1, n - (size_t)(q - p) - 1);
	p = nul ? nul + 1 : end;

	/* headers */
	nul = memchr(p, '\0', (size_t)(end - p));
	n = nul ? (size_t)(nul - p) : (size_t)(end - p);
	parse_headers(f, p, n);
	p = nul ? nul + 1 : end;

	/* body: NUL-terminated as http-server.c makes it, exactly sized so that ASan sees a read beyond */
	n = (size_t)(end - p);
	f->body = malloc(n + 1);
	fuzz_check(f->body != NULL);
	memcpy(f->body, p, n);
	f->body[n] = '\0';

	req->path = f->path;
	req->body = f->body;
	req->body_len = n;
	req->impl = f;
	return 0;
}

static void
pairs_free(struct fake_pair *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(v[i].key);
		free(v[i].value);
	}
	free(v);
}

void
http_fake_free(struct http_request *req)
{
	struct http_fake *f = req->impl;

	if (!f)
		return;
	pairs_free(f->headers, f->n_headers);
	pairs_free(f->args, f->n_args);
	free(f->path);
	free(f->body);
	free(f);
	req->impl = NULL;
}

/* ---- http.h's accessors, as http-server.c has them over libmicrohttpd ---- */

const char *
http_request_header(const struct http_request *req, const char *name)
{
	const struct http_fake *f = req->impl;
	size_t i;

	for (i = 0; i < f->n_headers; i++)
		if (!strcasecmp(f->headers[i].key, name))
			return f->headers[i].value;
	return NULL;
}

int
http_request_header_join(const struct http_request *req, const char *name, char *buf, size_t size)
{
	const struct http_fake *f = req->impl;
	size_t i, len = 0, n;
	int r = -ENOENT;

	if (size == 0)
		return -E2BIG;
	buf[0] = '\0';
	for (i = 0; i < f->n_headers; i++) {
		if (strcasecmp(f->headers[i].key, name))
			continue;
		n = strlen(f->headers[i].value);
		if (len + (r ? 0 : 2) + n >= size)
			return -E2BIG;
		if (!r) {
			memcpy(buf + len, ", ", 2);
			len += 2;
		}
		memcpy(buf + len, f->headers[i].value, n);
		len += n;
		buf[len] = '\0';
		r = 0;
	}
	return r < 0 ? r : (int)len;
}

/* libmicrohttpd compares argument names without case too (MHD_lookup_connection_value), and takes the first. */
const char *
http_request_query(const struct http_request *req, const char *name)
{
	const struct http_fake *f = req->impl;
	size_t i;

	for (i = 0; i < f->n_args; i++)
		if (!strcasecmp(f->args[i].key, name))
			return f->args[i].value;
	return NULL;
}

void
http_request_query_each(const struct http_request *req, int (*fn)(void *ctx, const char *key, const char *value),
			void *ctx)
{
	const struct http_fake *f = req->impl;
	size_t i;

	for (i = 0; i < f->n_args; i++)
		if (fn(ctx, f->args[i].key, f->args[i].value ? f->args[i].value : "") != 0)
			return;
}

/* The API wakes parked watches through the server; the fake has no connections, so none is ever woken. */
size_t
http_server_wake(struct http_server *srv, uint64_t key)
{
	(void)srv;
	(void)key;
	return 0;
}

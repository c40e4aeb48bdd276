/*
 * Response headers and compression, the part of the HTTP layer without libmicrohttpd: http-server.c's server and
 * the API fuzzer's fake (fuzz/http-fake.c) both link this, so the fuzzer checks the handlers' headers and
 * the gzip forms exactly as the server makes them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <zlib.h>

#include "core/hex.h"
#include "http/http.h"

int
http_response_header(struct http_response *resp, const char *name, const char *value)
{
	size_t nl = strlen(name), vl = strlen(value);

	if (resp->n_headers >= HTTP_HEADERS_OUT_MAX || nl == 0 || nl >= sizeof(resp->headers[0].name) ||
	    vl >= sizeof(resp->headers[0].value))
		return -E2BIG;
	/* A CR or LF would let a value smuggle in headers of its own. */
	if (strpbrk(name, "\r\n:") != NULL || strpbrk(value, "\r\n") != NULL)
		return -EINVAL;
	memcpy(resp->headers[resp->n_headers].name, name, nl + 1);
	memcpy(resp->headers[resp->n_headers].value, value, vl + 1);
	resp->n_headers++;
	return 0;
}

static int
header_index(const struct http_response *resp, const char *name)
{
	size_t i;

	for (i = 0; i < resp->n_headers && i < HTTP_HEADERS_OUT_MAX; i++)
		if (strcasecmp(resp->headers[i].name, name) == 0)
			return (int)i;
	return -1;
}

const char *
http_response_header_get(const struct http_response *resp, const char *name)
{
	int i = header_index(resp, name);

	return i < 0 ? NULL : resp->headers[i].value;
}

static bool
is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/*
 * A qvalue (RFC 9110 12.4.2: "0" ["." 0*3DIGIT] / "1" ["." 0*3"0"]) in thousandths, or -1 when s[0..n) is
 * not one.
 */
static int
qvalue_parse(const char *s, size_t n)
{
	int q, scale = 100;
	size_t i;

	if (n == 0 || (s[0] != '0' && s[0] != '1'))
		return -1;
	q = (s[0] - '0') * 1000;
	if (n == 1)
		return q;
	if (s[1] != '.' || n > 5)
		return -1;
	for (i = 2; i < n; i++, scale /= 10) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		q += (s[i] - '0') * scale;
	}
	return q <= 1000 ? q : -1;
}

/*
 * One list element: a coding, then parameters ";name=value". Its q-value (1000 when none) is stored in
 * *ret_q, its coding in [*ret_coding, +*ret_len). -1 for an element that does not parse.
 */
static int
element_parse(const char *s, size_t n, const char **ret_coding, size_t *ret_len, int *ret_q)
{
	size_t i = 0, start;
	int q = 1000;

	while (i < n && is_ows(s[i]))
		i++;
	start = i;
	while (i < n && s[i] != ';' && !is_ows(s[i]))
		i++;
	*ret_coding = s + start;
	*ret_len = i - start;
	while (i < n) {
		size_t name, name_len, value, value_len;

		while (i < n && is_ows(s[i]))
			i++;
		if (i == n)
			break;
		if (s[i++] != ';')
			return -1;
		while (i < n && is_ows(s[i]))
			i++;
		for (name = i; i < n && s[i] != '=' && !is_ows(s[i]) && s[i] != ';'; i++)
			;
		name_len = i - name;
		if (i == n || s[i++] != '=')
			return -1;
		for (value = i; i < n && !is_ows(s[i]) && s[i] != ';'; i++)
			;
		value_len = i - value;
		if (name_len == 1 && (s[name] == 'q' || s[name] == 'Q') && (q = qvalue_parse(s + value, value_len)) < 0)
			return -1;
	}
	*ret_q = q;
	return 0;
}

static bool
coding_is(const char *coding, size_t len, const char *name)
{
	return len == strlen(name) && strncasecmp(coding, name, len) == 0;
}

bool
http_accepts_gzip(const char *accept_encoding)
{
	const char *s = accept_encoding;
	int gzip_q = -1, any_q = -1;

	if (!s)
		return false;
	for (;;) {
		const char *comma = strchr(s, ','), *coding;
		size_t n = comma ? (size_t)(comma - s) : strlen(s), len;
		int q;

		if (element_parse(s, n, &coding, &len, &q) < 0)
			return false;
		if (coding_is(coding, len, "gzip") || coding_is(coding, len, "x-gzip"))
			gzip_q = q > gzip_q ? q : gzip_q;
		else if (coding_is(coding, len, "*"))
			any_q = q > any_q ? q : any_q;
		if (!comma)
			break;
		s = comma + 1;
	}
	return gzip_q >= 0 ? gzip_q > 0 : any_q > 0;
}

int
http_gzip(const void *in, size_t len, int level, char **ret, size_t *ret_len)
{
	z_stream z = { 0 };
	char *out = NULL;
	uLong bound;
	int r, zr;

	if (len > UINT32_MAX)
		return 1;	/* zlib counts in uInt; nothing this big is ever sent */
	/* windowBits 15 + 16: a gzip wrapper instead of zlib's */
	if (deflateInit2(&z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -ENOMEM;
	bound = deflateBound(&z, (uLong)len);
	if (!(out = malloc(bound))) {
		r = -ENOMEM;
		goto out;
	}
	z.next_in = (Bytef *)(uintptr_t)in;
	z.avail_in = (uInt)len;
	z.next_out = (Bytef *)out;
	z.avail_out = (uInt)bound;
	zr = deflate(&z, Z_FINISH);
	if (zr != Z_STREAM_END) {
		r = -EIO;
		goto out;
	}
	if (z.total_out >= len) {
		r = 1;
		goto out;
	}
	*ret = out;
	*ret_len = z.total_out;
	out = NULL;
	r = 0;
out:
	deflateEnd(&z);
	free(out);
	return r;
}

/*
 * Can resp say it is gzip-encoded: room for "Content-Encoding", none there yet, and room for its ETag (if
 * any) made weak? Then *ret_etag is the ETag's index (-1: none) and weak its new value ("": already weak).
 */
static bool
gzip_headers_fit(const struct http_response *resp, char weak[static HTTP_HEADER_VALUE_MAX], int *ret_etag)
{
	int etag = header_index(resp, "ETag");

	*ret_etag = etag;
	weak[0] = '\0';
	if (resp->n_headers >= HTTP_HEADERS_OUT_MAX || header_index(resp, "Content-Encoding") >= 0)
		return false;
	return etag < 0 || strncmp(resp->headers[etag].value, "W/", 2) == 0 ||
	       (size_t)snprintf(weak, HTTP_HEADER_VALUE_MAX, "W/%s", resp->headers[etag].value) < HTTP_HEADER_VALUE_MAX;
}

int
http_response_take_gzip(struct http_response *resp, char *gz, size_t gz_len)
{
	char weak[HTTP_HEADER_VALUE_MAX];
	int etag;

	if (!gzip_headers_fit(resp, weak, &etag))
		return 1;
	free(resp->body);
	resp->body = gz;
	resp->body_len = gz_len;
	if (weak[0])
		memcpy(resp->headers[etag].value, weak, strlen(weak) + 1);
	return http_response_header(resp, "Content-Encoding", "gzip");
}

int
http_response_gzip(struct http_response *resp, int level)
{
	char *gz, weak[HTTP_HEADER_VALUE_MAX];
	size_t gz_len;
	int etag, r;

	if (!resp->body || !gzip_headers_fit(resp, weak, &etag))
		return 1;
	if ((r = http_gzip(resp->body, resp->body_len, level, &gz, &gz_len)) != 0)
		return r;
	return http_response_take_gzip(resp, gz, gz_len);	/* fits: checked above */
}

void
http_response_encode(struct http_response *resp, const char *accept_encoding)
{
	bool encoded = http_response_header_get(resp, "Content-Encoding") != NULL;

	if (resp->secret || (!encoded && resp->body_len < HTTP_GZIP_MIN))
		return;
	if (!http_response_header_get(resp, "Vary"))
		(void)http_response_header(resp, "Vary", "Accept-Encoding");
	if (!encoded && http_accepts_gzip(accept_encoding))
		(void)http_response_gzip(resp, HTTP_GZIP_LEVEL);	/* if it fails, the body goes as it is */
}

/* ---- requests: checks that need no libmicrohttpd (the API fuzzer links them too) ---- */

bool
http_target_has_control(const char *target, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)target[i];

		if (c == '%' && i + 2 < n && hex_value(target[i + 1]) >= 0 && hex_value(target[i + 2]) >= 0) {
			c = (unsigned char)(hex_value(target[i + 1]) * 16 + hex_value(target[i + 2]));
			i += 2;
		}
		if (c < 0x20 || c == 0x7f)
			return true;
	}
	return false;
}

bool
http_media_type_is_json(const char *value)
{
	static const char json[] = "application/json";
	const char *p = value;

	if (p == NULL)
		return false;
	while (*p == ' ' || *p == '\t')
		p++;
	if (strncasecmp(p, json, sizeof(json) - 1) != 0)
		return false;
	p += sizeof(json) - 1;
	while (*p == ' ' || *p == '\t')
		p++;
	return *p == '\0' || *p == ';';	/* parameters (charset=utf-8) are the client's business */
}

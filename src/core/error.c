/* The error record's helpers: fill it, scope its target, and quote bad input safely. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "error.h"

int
core_error_set(struct core_error *err, const char *code, const char *target, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return -EINVAL;

	snprintf(err->code, sizeof(err->code), "%s", code ? code : "");
	snprintf(err->target, sizeof(err->target), "%s", target ? target : "");
	if (fmt != NULL) {
		va_start(ap, fmt);
		vsnprintf(err->message, sizeof(err->message), fmt, ap);
		va_end(ap);
	} else {
		err->message[0] = '\0';
	}
	return -EINVAL;
}

/* Append s to buf (of `size` bytes, holding `*len`), cutting at the end. */
static void
append_cut(char *buf, size_t size, size_t *len, const char *s)
{
	size_t n = strlen(s);

	if (n > size - 1 - *len)
		n = size - 1 - *len;
	memcpy(buf + *len, s, n);
	*len += n;
	buf[*len] = '\0';
}

void
core_error_prefix_target(struct core_error *err, const char *prefix)
{
	char joined[ERROR_TARGET_MAX];
	size_t len = 0;

	if (err == NULL || prefix == NULL || prefix[0] == '\0')
		return;
	joined[0] = '\0';
	append_cut(joined, sizeof(joined), &len, prefix);
	/* "a" + "b" → "a.b", but "a" + "[1].b" → "a[1].b", and "a" + "" → "a". */
	if (err->target[0] != '\0' && err->target[0] != '[')
		append_cut(joined, sizeof(joined), &len, ".");
	append_cut(joined, sizeof(joined), &len, err->target);
	memcpy(err->target, joined, len + 1);
}

const char *
core_error_quote(const char *s, size_t n, char *buf, size_t size)
{
	size_t i, out = 0, take;

	if (buf == NULL || size == 0)
		return "";
	take = n < ERROR_QUOTE_MAX ? n : ERROR_QUOTE_MAX;
	for (i = 0; i < take && out + 1 < size; i++) {
		unsigned char c = (unsigned char)s[i];

		buf[out++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	if (i < n) {
		/* Cut: mark it, giving up input bytes if the buffer is short. */
		while (out > 0 && out + 4 > size)
			out--;
		if (out + 4 <= size) {
			memcpy(buf + out, "...", 3);
			out += 3;
		}
	}
	buf[out] = '\0';
	return buf;
}

/* The client's sanitiser: server text made inert for a terminal (controls made visible, broken UTF-8 replaced). */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#include "cli/text.h"

static const char replacement[] = "\xef\xbf\xbd";	/* U+FFFD */

/*
 * The length of the well-formed UTF-8 character at s[0..n) (1 to 4), or, when
 * there is none, the negated length of its maximal ill-formed subpart (at least
 * 1): the bytes that a U+FFFD replaces. Table 3-7 of the Unicode standard.
 */
static int
utf8_char_len(const unsigned char *s, size_t n)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t need, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		need = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		need = 3;
		if (s[0] == 0xe0)
			lo = 0xa0;	/* overlong */
		else if (s[0] == 0xed)
			hi = 0x9f;	/* surrogates */
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		need = 4;
		if (s[0] == 0xf0)
			lo = 0x90;	/* overlong */
		else if (s[0] == 0xf4)
			hi = 0x8f;	/* past U+10FFFF */
	} else {
		return -1;		/* a continuation byte, C0, C1, F5..FF */
	}
	for (i = 1; i < need; i++) {
		if (i >= n || s[i] < lo || s[i] > hi)
			return -(int)i;
		lo = 0x80, hi = 0xbf;
	}
	return (int)need;
}

static bool
is_control(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f);
}

int
cli_text_escape(struct buf *out, const char *s, size_t n, unsigned flags)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	size_t len0 = out->len, i = 0, run = 0;
	int r = 0;

	/* copy runs of harmless bytes at once; stop at anything to replace */
	while (i < n) {
		int k = utf8_char_len(p + i, n - i);
		uint32_t cp;

		if (k == 1)
			cp = p[i];
		else if (k == 2)
			cp = ((uint32_t)(p[i] & 0x1f) << 6) | (p[i + 1] & 0x3f);
		else
			cp = 0x100;	/* longer characters are never controls */
		if (k > 0 && !is_control(cp)) {
			i += (size_t)k;
			continue;
		}
		if (k > 0 && (flags & CLI_TEXT_MULTILINE) &&
		    (cp == '\n' || cp == '\t' || (cp == '\r' && i + 1 < n && p[i + 1] == '\n'))) {
			i += (size_t)k;
			continue;
		}
		if ((r = buf_append(out, s + run, i - run)) < 0)
			goto out;
		if (k > 0) {
			char esc[CLI_TEXT_ESCAPE_LEN] = { '\\', 'u', '0', '0', hex[cp >> 4], hex[cp & 15] };

			r = buf_append(out, esc, sizeof(esc));
			i += (size_t)k;
		} else {
			r = buf_append(out, replacement, sizeof(replacement) - 1);
			i += (size_t)-k;
		}
		if (r < 0)
			goto out;
		run = i;
	}
	/* an empty input still leaves a NUL-terminated (empty) buffer */
	r = n ? buf_append(out, s + run, i - run) : buf_append(out, "", 0);
out:
	if (r < 0 && out->data) {
		out->len = len0;
		out->data[len0] = '\0';
	}
	return r;
}

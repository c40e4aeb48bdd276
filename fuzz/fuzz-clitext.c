/*
 * Fuzz target for the CLI's sanitiser (src/cli/text.c): whatever a server sends, what reaches the terminal
 * is well-formed UTF-8 without C0, DEL or C1 controls (but the newlines, tabs and CRLF of a document),
 * sanitising twice changes nothing, and clean text passes unchanged.
 */
#include <stdbool.h>

#include "cli/text.h"
#include "fuzz-common.h"

/* An independent strict UTF-8 decoder: the code point at s[0..n) and its length, or 0 when ill-formed. */
static size_t
decode(const unsigned char *s, size_t n, uint32_t *cp)
{
	size_t need, i;
	uint32_t v;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if ((s[0] & 0xe0) == 0xc0)
		need = 2, v = s[0] & 0x1f;
	else if ((s[0] & 0xf0) == 0xe0)
		need = 3, v = s[0] & 0x0f;
	else if ((s[0] & 0xf8) == 0xf0)
		need = 4, v = s[0] & 0x07;
	else
		return 0;
	if (n < need)
		return 0;
	for (i = 1; i < need; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		v = (v << 6) | (s[i] & 0x3f);
	}
	if ((need == 2 && v < 0x80) || (need == 3 && v < 0x800) || (need == 4 && v < 0x10000) || v > 0x10ffff ||
	    (v >= 0xd800 && v <= 0xdfff))
		return 0;
	*cp = v;
	return need;
}

/* Is s[0..n) what a terminal may show: well-formed, and no control but those a document keeps? */
static bool
is_clean(const char *text, size_t n, unsigned flags)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t i = 0, k;
	uint32_t cp;

	while (i < n) {
		if (!(k = decode(s + i, n - i, &cp)))
			return false;
		if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) {
			bool kept = (flags & CLI_TEXT_MULTILINE) &&
				    (cp == '\n' || cp == '\t' || (cp == '\r' && i + 1 < n && s[i + 1] == '\n'));

			if (!kept)
				return false;
		}
		i += k;
	}
	return true;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf once = { 0 }, twice = { 0 };
	unsigned flags;
	char *s;

	if (size == 0)
		return 0;
	flags = data[0] & 1 ? CLI_TEXT_MULTILINE : 0;
	data++, size--;
	s = fuzz_copy(data, size);
	fuzz_check(cli_text_escape(&once, s, size, flags) == 0);
	fuzz_check(once.data && once.data[once.len] == '\0');
	fuzz_check(is_clean(once.data, once.len, flags));
	/* each input byte becomes at most one escape */
	fuzz_check(once.len <= size * CLI_TEXT_ESCAPE_LEN);
	fuzz_check(cli_text_escape(&twice, once.data, once.len, flags) == 0);
	fuzz_check(twice.len == once.len && memcmp(twice.data, once.data, once.len) == 0);
	if (is_clean(s, size, flags))
		fuzz_check(once.len == size && memcmp(once.data, s, size) == 0);
	buf_free(&once);
	buf_free(&twice);
	free(s);
	return 0;
}

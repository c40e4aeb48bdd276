/* Unit tests for the CLI's sanitiser (src/cli/text.c) and the output layer that applies it (src/cli/output.c). */
#include <errno.h>
#include <stdio.h>

#include "testutil.h"	/* before cli.h, whose poisoned names cmocka.h may use */
#include "cli/cli.h"
#include "cli/text.h"

/* cli_text_escape of in[0..n) must give exactly `want`. */
static void
escape_is(const char *in, size_t n, unsigned flags, const char *want)
{
	struct buf b = { 0 };

	assert_int_equal(cli_text_escape(&b, in, n, flags), 0);
	assert_non_null(b.data);
	if (b.len != strlen(want) || memcmp(b.data, want, b.len))
		fail_msg("escape of %zu bytes gave '%s', wanted '%s'", n, b.data, want);
	buf_free(&b);
}

#define ESC_IS(lit, want) escape_is(S(lit), 0, want)
#define DOC_IS(lit, want) escape_is(S(lit), CLI_TEXT_MULTILINE, want)
#define FFFD "\xef\xbf\xbd"

static void
test_text_passes_printable(void **state)
{
	(void)state;
	ESC_IS("", "");
	ESC_IS("vm1 10.0.0.1/24 token:owner", "vm1 10.0.0.1/24 token:owner");
	/* UTF-8 of two, three and four bytes, NBSP (U+00A0, just past C1) and U+FFFD itself pass */
	ESC_IS("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xc2\xa0 \xef\xbf\xbd \xf4\x8f\xbf\xbf",
	       "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xc2\xa0 \xef\xbf\xbd \xf4\x8f\xbf\xbf");
	/* a backslash stays one: only what the terminal would act on changes */
	ESC_IS("C:\\u001b", "C:\\u001b");
}

static void
test_text_escapes_controls(void **state)
{
	(void)state;
	/* set the window title, clear the screen, forge a line */
	ESC_IS("\x1b]0;pwned\x07", "\\u001b]0;pwned\\u0007");
	ESC_IS("a\x1b[2J\x1b[H", "a\\u001b[2J\\u001b[H");
	ESC_IS("10.0.0.1\r\nAccess granted", "10.0.0.1\\u000d\\u000aAccess granted");
	ESC_IS("x\ty\bz", "x\\u0009y\\u0008z");
	escape_is("a\0b", 3, 0, "a\\u0000b");
	ESC_IS("\x7f", "\\u007f");
	ESC_IS("\x01\x1f", "\\u0001\\u001f");
	/* C1 controls as UTF-8: CSI (U+009B), NEL, the first and the last */
	ESC_IS("\xc2\x9b" "31m", "\\u009b31m");
	ESC_IS("\xc2\x80\xc2\x85\xc2\x9f", "\\u0080\\u0085\\u009f");
}

static void
test_text_replaces_bad_utf8(void **state)
{
	(void)state;
	/* an 8-bit C1 byte alone is not UTF-8 */
	ESC_IS("\x9b" "2J", FFFD "2J");
	ESC_IS("\xff\xfe", FFFD FFFD);
	/* overlong forms: each byte that cannot start or continue is its own subpart */
	ESC_IS("\xc0\xaf", FFFD FFFD);
	ESC_IS("\xc1\x9b", FFFD FFFD);
	ESC_IS("\xe0\x80\x9b", FFFD FFFD FFFD);
	ESC_IS("\xf0\x80\x80\x80", FFFD FFFD FFFD FFFD);
	/* surrogates, past U+10FFFF, F5 and above */
	ESC_IS("\xed\xa0\x80", FFFD FFFD FFFD);
	ESC_IS("\xf4\x90\x80\x80", FFFD FFFD FFFD FFFD);
	ESC_IS("\xf5\x80", FFFD FFFD);
	/* a character cut short is one U+FFFD, and what follows is read afresh */
	ESC_IS("\xe2\x82", FFFD);
	ESC_IS("\xe2\x82" "A", FFFD "A");
	ESC_IS("\xf0\x9f\x98" "\x1b", FFFD "\\u001b");
	ESC_IS("\xc2", FFFD);
}

static void
test_text_multiline(void **state)
{
	(void)state;
	/* documents keep their lines, tabs and CRLF line ends; the rest is escaped as in a field */
	DOC_IS("a,b\r\n\"x\ty\"\n", "a,b\r\n\"x\ty\"\n");
	DOC_IS("a\rb", "a\\u000db");
	DOC_IS("a\r", "a\\u000d");
	DOC_IS("{\n  \"n\": \"\x1b[2J\xc2\x9b\x7f\"\n}", "{\n  \"n\": \"\\u001b[2J\\u009b\\u007f\"\n}");
}

static void
test_text_idempotent(void **state)
{
	static const char mixed[] = "\x1b]0;t\x07\xc2\x9b\xe2\x82\xff\n\r\n\x7f ok \xf0\x9f\x98\x80";
	struct buf once = { 0 }, twice = { 0 };
	unsigned flags;

	(void)state;
	for (flags = 0; flags <= CLI_TEXT_MULTILINE; flags++) {
		buf_reset(&once);
		buf_reset(&twice);
		assert_int_equal(cli_text_escape(&once, S(mixed), flags), 0);
		assert_int_equal(cli_text_escape(&twice, once.data, once.len, flags), 0);
		assert_int_equal(once.len, twice.len);
		assert_memory_equal(once.data, twice.data, once.len);
	}
	buf_free(&once);
	buf_free(&twice);
}

static void
test_text_appends_and_fails_whole(void **state)
{
	struct buf b = { .max = 12 };

	(void)state;
	assert_int_equal(cli_text_escape(&b, S("abc"), 0), 0);
	assert_int_equal(cli_text_escape(&b, S("d\x1b"), 0), 0);
	assert_string_equal(b.data, "abcd\\u001b");
	/* too long for the cap: -E2BIG, and the buffer as it was */
	assert_int_equal(cli_text_escape(&b, S("e\x1b"), 0), -E2BIG);
	assert_int_equal(b.len, 10);
	assert_string_equal(b.data, "abcd\\u001b");
	buf_free(&b);
}

/* What cli_fprintf/table_print wrote to a memory stream. */
struct capture {
	char *data;
	size_t len;
	FILE *f;
};

static void
capture_open(struct capture *c)
{
	memset(c, 0, sizeof(*c));
	c->f = open_memstream(&c->data, &c->len);
	assert_non_null(c->f);
}

static void
capture_is(struct capture *c, const char *want)
{
	fclose(c->f);
	if (strcmp(c->data, want))
		fail_msg("printed '%s', wanted '%s'", c->data, want);
	free(c->data);
}

static void
test_printf_escapes_arguments_only(void **state)
{
	struct capture c;

	(void)state;
	/* the format's own newline stays; the field's newline, ESC and C1 do not */
	capture_open(&c);
	assert_int_equal(cli_fprintf(c.f, "Name:  %s\n", "x\x1b]0;t\x07\nAccess granted\xc2\x9b"), 0);
	capture_is(&c, "Name:  x\\u001b]0;t\\u0007\\u000aAccess granted\\u009b\n");
	capture_open(&c);
	assert_int_equal(cli_fprintf(c.f, "%s: %s (at %s)", "jitgate vm", "Bad\r\x1b[1A", "\xff"), 0);
	capture_is(&c, "jitgate vm: Bad\\u000d\\u001b[1A (at " FFFD ")");
}

static void
test_printf_formats_like_printf(void **state)
{
	char want[256];
	struct capture c;

	(void)state;
	capture_open(&c);
	assert_int_equal(cli_fprintf(c.f, "%d %i %u %ld %lld %zu %x %X %o %5d|%-5d|%05u %c %% %.3s|%5s|%-4s|%.*s|%*d %hhu %jd %g",
				     -1, 42, 7u, -70000L, 1LL << 40, (size_t)12345, 255u, 255u, 8u, 3, 4, 5u, 'z', "abcdef",
				     "ab", "cd", 2, "xyz", -4, 9, (unsigned char)200, (intmax_t)-5, 1.5), 0);
	snprintf(want, sizeof(want), "%d %i %u %ld %lld %zu %x %X %o %5d|%-5d|%05u %c %% %.3s|%5s|%-4s|%.*s|%*d %hhu %jd %g",
		 -1, 42, 7u, -70000L, 1LL << 40, (size_t)12345, 255u, 255u, 8u, 3, 4, 5u, 'z', "abcdef", "ab", "cd", 2, "xyz",
		 -4, 9, (unsigned char)200, (intmax_t)-5, 1.5);
	capture_is(&c, want);
	/* a long argument (past the small buffer) is escaped whole */
	{
		char big[1000];

		memset(big, 'a', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		big[700] = '\x1b';
		capture_open(&c);
		assert_int_equal(cli_fprintf(c.f, "[%s]", big), 0);
		fclose(c.f);
		assert_int_equal(c.len, 2 + 998 + CLI_TEXT_ESCAPE_LEN);
		assert_memory_equal(c.data + 1 + 700, "\\u001b", CLI_TEXT_ESCAPE_LEN);
		free(c.data);
	}
}

static void
test_table_cells_escaped(void **state)
{
	static const char *const headers[] = { "NAME", "REASON" };
	const char *row[] = { "vm\x1b[31m1", "a\nb\xc2\x9b" };
	struct table *t = table_new(2, headers);
	struct capture c;

	(void)state;
	assert_non_null(t);
	assert_int_equal(table_add(t, row), 0);
	capture_open(&c);
	table_print(t, c.f);
	table_free(t);
	/* columns are as wide as the escaped text */
	capture_is(&c, "NAME           REASON\n"
		       "vm\\u001b[31m1  a\\u000ab\\u009b\n");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text_passes_printable),
		cmocka_unit_test(test_text_escapes_controls),
		cmocka_unit_test(test_text_replaces_bad_utf8),
		cmocka_unit_test(test_text_multiline),
		cmocka_unit_test(test_text_idempotent),
		cmocka_unit_test(test_text_appends_and_fails_whole),
		cmocka_unit_test(test_printf_escapes_arguments_only),
		cmocka_unit_test(test_printf_formats_like_printf),
		cmocka_unit_test(test_table_cells_escaped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

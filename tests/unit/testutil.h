/* Small helpers shared by the unit tests: literal (pointer, length) pairs and unterminated copies. */
#ifndef JITGATE_TESTS_TESTUTIL_H
#define JITGATE_TESTS_TESTUTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

/* A string literal as (pointer, length), without its NUL. */
#define S(lit) (lit), (sizeof(lit) - 1)

/*
 * Copy s into a heap block of exactly strlen(s) bytes followed by garbage that a
 * parser must not read as part of the value: digits and letters that would change
 * the result if consumed. The caller frees it.
 */
static inline char *
test_copy_unterminated(const char *s, size_t *ret_n)
{
	size_t n = strlen(s);
	char *p = malloc(n + 7);

	assert_non_null(p);
	memcpy(p, s, n);
	memcpy(p + n, "9Zz:/1x", 7);	/* no NUL anywhere: reading on is an overflow under ASan */
	*ret_n = n;
	return p;
}

#define assert_error(e, c, t) do { \
	assert_string_equal((e)->code, (c)); \
	assert_string_equal((e)->target, (t)); \
	assert_true((e)->message[0] != '\0'); \
} while (0)

#endif

/* Small helpers shared by the unit tests: literal (pointer, length) pairs, unterminated copies, addresses, temporary trees. */
#ifndef JITGATE_TESTS_TESTUTIL_H
#define JITGATE_TESTS_TESTUTIL_H

#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/net.h"

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

/* An address from text, which must parse. */
static inline struct net_addr
test_addr(const char *s)
{
	struct net_addr a;

	assert_int_equal(net_addr_parse(s, strlen(s), &a, NULL), 0);
	return a;
}

#define assert_error(e, c, t) do { \
	assert_string_equal((e)->code, (c)); \
	assert_string_equal((e)->target, (t)); \
	assert_true((e)->message[0] != '\0'); \
} while (0)

static inline int
test_rmtree_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Remove the tree at dir: depth first, never following a symlink, and no shell (STYLE.md bans spawning one). */
static inline int
test_rmtree(const char *dir)
{
	return nftw(dir, test_rmtree_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* SQLite's schema taken back from migration 16: the live grants' indexes as they were (test-store.c, test-audit.c). */
#define TEST_UNDO_MIGRATION_16 \
	"DROP INDEX grants_live_vm_port; CREATE INDEX grants_initiated ON grants (status) WHERE status = 0; " \
	"CREATE INDEX grants_live_requestor ON grants (requestor, vm_id, port) WHERE status = 0; " \
	"CREATE INDEX grants_live_vm_port ON grants (vm_id, port) WHERE status = 0; " \
	"CREATE INDEX requests_requestor ON requests (requestor); " \
	"CREATE INDEX activity_resource ON activity (resource_id COLLATE nocase)"

#endif

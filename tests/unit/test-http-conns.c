/* Unit tests for the HTTPS server's connection table (http-conns.c): per-source caps, IPv6 by /64, the authenticated share. */
#include <stdlib.h>
#include <string.h>

#include "http/http-conns.h"
#include "http/http-limits.h"
#include "testutil.h"

static struct net_addr
addr(const char *s)
{
	struct net_addr a;

	assert_int_equal(net_addr_parse(s, strlen(s), &a, NULL), 0);
	return a;
}

/* Fill one source's share, then it is refused and others are not; a close makes room again. */
static void
test_per_source_cap(void **state)
{
	struct http_conns t;
	struct net_addr a = addr("10.0.0.1"), b = addr("10.0.0.2"), mapped = addr("::ffff:10.0.0.1");
	struct http_conn_slot *first = NULL, *s;
	int i;

	assert_int_equal(http_conns_init(&t, API_CONN_MAX), 0);
	for (i = 0; i < API_CONN_PER_SOURCE_MAX; i++) {
		assert_true(http_conns_admit(&t, &a));
		assert_non_null(s = http_conns_open(&t, &a));
		if (!first)
			first = s;
	}
	assert_false(http_conns_admit(&t, &a));
	assert_false(http_conns_admit(&t, &mapped));	/* the same address, v4-mapped */
	assert_true(http_conns_admit(&t, &b));
	http_conns_close(&t, first);
	assert_true(http_conns_admit(&t, &a));
	/* an authenticated connection still counts for its source */
	assert_non_null(s = http_conns_open(&t, &a));
	assert_true(http_conns_authenticate(&t, s));
	assert_false(http_conns_authenticate(&t, s));
	assert_false(http_conns_admit(&t, &a));
	http_conns_close(&t, NULL);
	http_conns_free(&t);
}

/* Five addresses of one /64 are one source; another /64 is another. */
static void
test_ipv6_by_64(void **state)
{
	static const char *const same[] = { "fd00::1", "fd00::2", "fd00::ffff:1", "fd00::a:b:c:d", "fd00:0:0:0:8000::1" };
	struct http_conns t;
	struct net_addr other = addr("fd00:0:0:1::1"), a;
	int i;

	assert_int_equal(http_conns_init(&t, API_CONN_MAX), 0);
	for (i = 0; i < API_CONN_PER_SOURCE_MAX; i++) {
		a = addr(same[i % 5]);
		assert_true(http_conns_admit(&t, &a));
		assert_non_null(http_conns_open(&t, &a));
	}
	for (i = 0; i < 5; i++) {
		a = addr(same[i]);
		assert_false(http_conns_admit(&t, &a));
	}
	assert_true(http_conns_admit(&t, &other));
	http_conns_free(&t);
}

/* Unauthenticated connections stop at all but API_CONN_AUTH_RESERVED; authenticated ones leave that share. */
static void
test_reserve_for_authenticated(void **state)
{
	struct http_conns t;
	struct http_conn_slot *s[API_CONN_MAX];
	struct net_addr a;
	size_t i, n = 0;

	assert_int_equal(http_conns_init(&t, API_CONN_MAX), 0);
	memset(&a, 0, sizeof(a));
	a.family = NET_INET6;
	a.bytes[0] = 0xfd;
	/* many sources, one connection each */
	for (i = 0; i < API_CONN_MAX; i++) {
		a.bytes[6] = (uint8_t)(i >> 8);
		a.bytes[7] = (uint8_t)i;
		if (!http_conns_admit(&t, &a))
			break;
		assert_non_null(s[n++] = http_conns_open(&t, &a));
	}
	assert_int_equal(n, API_CONN_MAX - API_CONN_AUTH_RESERVED);
	assert_int_equal(t.n_unauth, n);
	/* one authenticates: room for one more newcomer */
	assert_true(http_conns_authenticate(&t, s[0]));
	assert_true(http_conns_admit(&t, &a));
	assert_non_null(http_conns_open(&t, &a));
	assert_false(http_conns_admit(&t, &a));
	/* a closed unauthenticated one frees its place too */
	http_conns_close(&t, s[1]);
	assert_true(http_conns_admit(&t, &a));
	http_conns_free(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_per_source_cap),
		cmocka_unit_test(test_ipv6_by_64),
		cmocka_unit_test(test_reserve_for_authenticated),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests for the per-address limit on failed authentication (api-ratelimit.c). */
#include <stdlib.h>
#include <string.h>

#include "api/api-ratelimit.h"
#include "core/timeutil.h"
#include "testutil.h"

#define T0 (1700000000LL * TIME_NS_PER_SEC)

static struct net_addr
addr(const char *s)
{
	struct net_addr a;

	assert_int_equal(net_addr_parse(s, strlen(s), &a, NULL), 0);
	return a;
}

static struct ratelimit *
table(void)
{
	struct ratelimit *rl = calloc(1, sizeof(*rl));

	assert_non_null(rl);
	return rl;
}

static void
test_limit_then_429_until_window_ends(void **state)
{
	struct ratelimit *rl = table();
	struct net_addr a = addr("192.0.2.7");
	bool first;
	int i, r;

	for (i = 0; i < RATELIMIT_AUTH_FAILURES; i++)
		assert_int_equal(ratelimit_auth_failed(rl, &a, T0 + i * TIME_NS_PER_SEC, &first), 0);
	r = ratelimit_auth_failed(rl, &a, T0 + 10 * TIME_NS_PER_SEC, &first);
	assert_int_equal(r, RATELIMIT_AUTH_WINDOW_S - 10);
	assert_true(first);
	/* logged once per window */
	r = ratelimit_auth_failed(rl, &a, T0 + 10 * TIME_NS_PER_SEC + 1, &first);
	assert_int_equal(r, RATELIMIT_AUTH_WINDOW_S - 10);
	assert_false(first);
	/* a second before the end: 1; rounding never says 0 while refusing */
	assert_int_equal(ratelimit_auth_failed(rl, &a, T0 + (RATELIMIT_AUTH_WINDOW_S - 1) * TIME_NS_PER_SEC + 1, &first), 1);
	/* the window has passed: a fresh allowance */
	assert_int_equal(ratelimit_auth_failed(rl, &a, T0 + RATELIMIT_AUTH_WINDOW_S * TIME_NS_PER_SEC, &first), 0);
	assert_false(first);
	free(rl);
}

static void
test_addresses_are_independent(void **state)
{
	struct ratelimit *rl = table();
	struct net_addr a = addr("192.0.2.7"), b = addr("192.0.2.8");
	int i;

	for (i = 0; i <= RATELIMIT_AUTH_FAILURES; i++)
		ratelimit_auth_failed(rl, &a, T0, NULL);
	assert_true(ratelimit_auth_failed(rl, &a, T0, NULL) > 0);
	assert_int_equal(ratelimit_auth_failed(rl, &b, T0, NULL), 0);
	free(rl);
}

static void
test_ipv6_keyed_by_64(void **state)
{
	struct ratelimit *rl = table();
	struct net_addr a = addr("2001:db8:1:2::1"), b = addr("2001:db8:1:2:ffff::9"), c = addr("2001:db8:1:3::1");
	int i;

	for (i = 0; i < RATELIMIT_AUTH_FAILURES; i++)
		assert_int_equal(ratelimit_auth_failed(rl, i % 2 ? &a : &b, T0, NULL), 0);
	assert_true(ratelimit_auth_failed(rl, &a, T0, NULL) > 0);
	assert_int_equal(ratelimit_auth_failed(rl, &c, T0, NULL), 0);
	free(rl);
}

static void
test_full_table_reuses_oldest(void **state)
{
	struct ratelimit *rl = table();
	struct net_addr a = addr("198.51.100.1"), x;
	int i;

	for (i = 0; i <= RATELIMIT_AUTH_FAILURES; i++)
		ratelimit_auth_failed(rl, &a, T0, NULL);
	assert_true(ratelimit_auth_failed(rl, &a, T0, NULL) > 0);
	/* as many other addresses as there are slots, each a little later: a's slot (the oldest) goes */
	for (i = 0; i < RATELIMIT_SLOTS; i++) {
		memset(&x, 0, sizeof(x));
		x.family = NET_INET;
		x.bytes[0] = 10;
		x.bytes[2] = (uint8_t)(i >> 8);
		x.bytes[3] = (uint8_t)i;
		assert_int_equal(ratelimit_auth_failed(rl, &x, T0 + 1 + i, NULL), 0);
	}
	assert_int_equal(ratelimit_auth_failed(rl, &a, T0 + 2 * RATELIMIT_SLOTS, NULL), 0);
	free(rl);
}

static void
test_clock_going_back_starts_a_new_window(void **state)
{
	struct ratelimit *rl = table();
	struct net_addr a = addr("192.0.2.9");
	int i;

	for (i = 0; i <= RATELIMIT_AUTH_FAILURES; i++)
		ratelimit_auth_failed(rl, &a, T0, NULL);
	assert_true(ratelimit_auth_failed(rl, &a, T0, NULL) > 0);
	/* a refusal must never last longer than one window, whatever the wall clock does */
	assert_int_equal(ratelimit_auth_failed(rl, &a, T0 - 3600 * TIME_NS_PER_SEC, NULL), 0);
	free(rl);
}

/* Thousands of failures from one address make one row per window, the next row carrying the count. */
static void
test_log_one_row_per_address_per_window(void **state)
{
	struct ratelimit *rl = table();
	struct net_addr a = addr("192.0.2.7"), a6 = addr("2001:db8::1"), a6b = addr("2001:db8::ffff:2");
	uint32_t unrowed = 12345;
	int i, rows = 0;

	for (i = 0; i < 5000; i++)
		if (ratelimit_log_failure(rl, &a, T0 + i * 1000, &unrowed) == RATELIMIT_ROW_WRITE)
			rows++;
	assert_int_equal(rows, 1);
	assert_int_equal(unrowed, 0);
	/* the next window's first failure gets a row that counts the 4,999 before it */
	assert_int_equal(ratelimit_log_failure(rl, &a, T0 + RATELIMIT_AUTH_WINDOW_S * TIME_NS_PER_SEC, &unrowed),
			 RATELIMIT_ROW_WRITE);
	assert_int_equal(unrowed, 4999);
	assert_int_equal(ratelimit_log_failure(rl, &a, T0 + RATELIMIT_AUTH_WINDOW_S * TIME_NS_PER_SEC + 1, &unrowed),
			 RATELIMIT_ROW_NONE);
	/* one /64 is one address */
	assert_int_equal(ratelimit_log_failure(rl, &a6, T0, &unrowed), RATELIMIT_ROW_WRITE);
	assert_int_equal(ratelimit_log_failure(rl, &a6b, T0, &unrowed), RATELIMIT_ROW_NONE);
	free(rl);
}

/* Many addresses: at most RATELIMIT_LOG_ROWS rows per window in all, then one that says so. */
static void
test_log_rows_capped_in_all(void **state)
{
	struct ratelimit *rl = table();
	struct net_addr x;
	uint32_t unrowed;
	int i, rows = 0, capped = 0;

	memset(&x, 0, sizeof(x));
	x.family = NET_INET;
	x.bytes[0] = 10;
	for (i = 0; i < 3 * RATELIMIT_LOG_ROWS; i++) {
		x.bytes[2] = (uint8_t)(i >> 8);
		x.bytes[3] = (uint8_t)i;
		switch (ratelimit_log_failure(rl, &x, T0 + i, &unrowed)) {
		case RATELIMIT_ROW_WRITE:
			rows++;
			break;
		case RATELIMIT_ROW_CAPPED:
			capped++;
			break;
		case RATELIMIT_ROW_NONE:
			break;
		}
	}
	assert_int_equal(rows, RATELIMIT_LOG_ROWS);
	assert_int_equal(capped, 1);
	assert_int_equal(ratelimit_log_take(rl, T0 + 1000), RATELIMIT_ROW_NONE);
	/* a new window, a new budget */
	assert_int_equal(ratelimit_log_take(rl, T0 + RATELIMIT_AUTH_WINDOW_S * TIME_NS_PER_SEC), RATELIMIT_ROW_WRITE);
	free(rl);
}

static void
test_shared_table_exists(void **state)
{
	assert_non_null(api_ratelimit_auth());
	assert_ptr_equal(api_ratelimit_auth(), api_ratelimit_auth());
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_limit_then_429_until_window_ends),
		cmocka_unit_test(test_addresses_are_independent),
		cmocka_unit_test(test_ipv6_keyed_by_64),
		cmocka_unit_test(test_full_table_reuses_oldest),
		cmocka_unit_test(test_clock_going_back_starts_a_new_window),
		cmocka_unit_test(test_log_one_row_per_address_per_window),
		cmocka_unit_test(test_log_rows_capped_in_all),
		cmocka_unit_test(test_shared_table_exists),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests for the error record helpers. */
#include <errno.h>
#include <stdio.h>

#include "core/error.h"
#include "testutil.h"

static void
test_set_fills_and_returns_einval(void **state)
{
	struct core_error err;

	memset(&err, 'x', sizeof(err));
	assert_int_equal(core_error_set(&err, "InvalidPort", "properties.x", "bad %d", 7), -EINVAL);
	assert_string_equal(err.code, "InvalidPort");
	assert_string_equal(err.target, "properties.x");
	assert_string_equal(err.message, "bad 7");
}

static void
test_set_null_record_and_fields(void **state)
{
	struct core_error err;

	assert_int_equal(core_error_set(NULL, "X", "y", "z"), -EINVAL);
	assert_int_equal(core_error_set(&err, "X", NULL, "m"), -EINVAL);
	assert_string_equal(err.target, "");
}

static void
test_set_truncates(void **state)
{
	struct core_error err;
	char big[2 * ERROR_MESSAGE_MAX];

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	core_error_set(&err, big, big, "%s", big);
	assert_int_equal(strlen(err.code), ERROR_CODE_MAX - 1);
	assert_int_equal(strlen(err.target), ERROR_TARGET_MAX - 1);
	assert_int_equal(strlen(err.message), ERROR_MESSAGE_MAX - 1);
}

static void
test_prefix_target(void **state)
{
	struct core_error err;

	core_error_set(&err, "C", "number", "m");
	core_error_prefix_target(&err, "properties.virtualMachines[2].ports[0]");
	assert_string_equal(err.target, "properties.virtualMachines[2].ports[0].number");

	core_error_set(&err, "C", "[1].id", "m");
	core_error_prefix_target(&err, "properties.virtualMachines");
	assert_string_equal(err.target, "properties.virtualMachines[1].id");

	core_error_set(&err, "C", "", "m");
	core_error_prefix_target(&err, "properties.kind");
	assert_string_equal(err.target, "properties.kind");

	core_error_set(&err, "C", "a", "m");
	core_error_prefix_target(&err, "");
	assert_string_equal(err.target, "a");
	core_error_prefix_target(&err, NULL);
	assert_string_equal(err.target, "a");
	core_error_prefix_target(NULL, "x");
}

static void
test_prefix_target_truncates(void **state)
{
	struct core_error err;
	char big[400];

	memset(big, 'p', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	core_error_set(&err, "C", "tail", "m");
	core_error_prefix_target(&err, big);
	assert_int_equal(strlen(err.target), ERROR_TARGET_MAX - 1);
	assert_true(err.target[0] == 'p');
}

static void
test_quote(void **state)
{
	char q[ERROR_QUOTE_SIZE];
	char bin[] = { 'a', '\0', '\n', (char)0xff, 'b' };
	char big[100];

	assert_string_equal(core_error_quote(S("abc"), q, sizeof(q)), "abc");
	assert_string_equal(core_error_quote(bin, sizeof(bin), q, sizeof(q)), "a???b");
	assert_string_equal(core_error_quote(NULL, 0, q, sizeof(q)), "");
	memset(big, 'z', sizeof(big));
	core_error_quote(big, sizeof(big), q, sizeof(q));
	assert_int_equal(strlen(q), ERROR_QUOTE_MAX + 3);
	assert_memory_equal(q + ERROR_QUOTE_MAX, "...", 3);
	/* Exactly the limit: no ellipsis. */
	core_error_quote(big, ERROR_QUOTE_MAX, q, sizeof(q));
	assert_int_equal(strlen(q), ERROR_QUOTE_MAX);
}

static void
test_quote_small_buffer(void **state)
{
	char q[6];

	assert_string_equal(core_error_quote(S("abcdefghij"), q, sizeof(q)), "ab...");
	assert_string_equal(core_error_quote(S("abcde"), q, sizeof(q)), "abcde");
	assert_string_equal(core_error_quote(S("abc"), q, 1), "");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_set_fills_and_returns_einval),
		cmocka_unit_test(test_set_null_record_and_fields),
		cmocka_unit_test(test_set_truncates),
		cmocka_unit_test(test_prefix_target),
		cmocka_unit_test(test_prefix_target_truncates),
		cmocka_unit_test(test_quote),
		cmocka_unit_test(test_quote_small_buffer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

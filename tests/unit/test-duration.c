/* Unit tests for ISO 8601 durations. */
#include <errno.h>
#include <stdio.h>

#include "core/duration.h"
#include "testutil.h"

#define SECS(x) ((int64_t)(x) * 1000)
#define MINS(x) (SECS(x) * 60)
#define HOURS(x) (MINS(x) * 60)
#define DAYS(x) (HOURS(x) * 24)

static int64_t
parse_ok(const char *s)
{
	int64_t ms = -1;
	struct core_error err;

	if (duration_parse_iso8601(s, strlen(s), &ms, &err) != 0)
		fail_msg("'%s' refused: %s", s, err.message);
	return ms;
}

static void
parse_bad(const char *s, const char *message_part)
{
	int64_t ms = 42;
	struct core_error err;

	if (duration_parse_iso8601(s, strlen(s), &ms, &err) != -EINVAL)
		fail_msg("'%s' accepted", s);
	assert_error(&err, "InvalidDuration", "");
	assert_int_equal(ms, 42);
	if (message_part != NULL && strstr(err.message, message_part) == NULL)
		fail_msg("'%s': message '%s' lacks '%s'", s, err.message, message_part);
}

static void
format_is(int64_t ms, const char *want)
{
	char buf[DURATION_FORMAT_SIZE];

	assert_int_equal(duration_format_iso8601(ms, buf, sizeof(buf)), (int)strlen(want));
	assert_string_equal(buf, want);
}

static void
test_parse_good(void **state)
{
	assert_int_equal(parse_ok("PT3H"), HOURS(3));
	assert_int_equal(parse_ok("PT5M"), MINS(5));
	assert_int_equal(parse_ok("P1D"), DAYS(1));
	assert_int_equal(parse_ok("PT1H30M"), HOURS(1) + MINS(30));
	assert_int_equal(parse_ok("PT0.5H"), MINS(30));
	assert_int_equal(parse_ok("PT0,5H"), MINS(30));
	assert_int_equal(parse_ok("PT90S"), SECS(90));
	assert_int_equal(parse_ok("P1DT2H"), DAYS(1) + HOURS(2));
	assert_int_equal(parse_ok("PT1.5S"), 1500);
	assert_int_equal(parse_ok("PT1,5S"), 1500);
	assert_int_equal(parse_ok("P1W"), DAYS(7));
	assert_int_equal(parse_ok("P1DT1H1M1S"), DAYS(1) + HOURS(1) + MINS(1) + SECS(1));
	assert_int_equal(parse_ok("PT0S"), 0);
	assert_int_equal(parse_ok("P0D"), 0);
	assert_int_equal(parse_ok("PT24H"), DAYS(1));
	assert_int_equal(parse_ok("PT03H"), HOURS(3));
	assert_int_equal(parse_ok("PT1H0.25M"), HOURS(1) + SECS(15));
	assert_int_equal(parse_ok("P0.5D"), HOURS(12));
	assert_int_equal(parse_ok("P0.5W"), HOURS(84));
	assert_int_equal(parse_ok("PT1M30.5S"), SECS(90) + 500);
	assert_int_equal(parse_ok("PT100000S"), SECS(100000));
}

static void
test_sub_millisecond_truncates(void **state)
{
	assert_int_equal(parse_ok("PT0.0009S"), 0);
	assert_int_equal(parse_ok("PT0.0019S"), 1);
	assert_int_equal(parse_ok("PT1.9999999999999999999999S"), 1999);
	assert_int_equal(parse_ok("PT0.1H"), MINS(6));
	assert_int_equal(parse_ok("PT0.333333H"), 1199998);	/* 0.333333 × 3600000 = 1199998.8 */
	assert_int_equal(parse_ok("PT0.00000001H"), 0);
	assert_int_equal(parse_ok("PT0.000001H"), 3);		/* 3.6 ms */
}

static void
test_parse_bad(void **state)
{
	parse_bad("-PT1H", "negative");
	parse_bad("+PT1H", "negative");
	parse_bad("PT-1H", "negative");
	parse_bad("P", "no length");
	parse_bad("PT", "no length");
	parse_bad("P1DT", "'T' must be followed");
	parse_bad("P1Y", "years and months have no fixed length");
	parse_bad("P1M", "years and months have no fixed length");
	parse_bad("P1Y2M3DT4H", "years and months");
	parse_bad("PT1Y", "years and months");
	parse_bad("pt1h", "upper-case");
	parse_bad("PT1h", "upper-case");
	parse_bad("Pt1H", "upper-case");
	parse_bad("P1d", "upper-case");
	parse_bad("PT1.5H30M", "only the last component");
	parse_bad("P1.5DT1H", "only the last component");
	parse_bad("PT1M1H", "order");
	parse_bad("PT1H1H", "order");
	parse_bad("PT1S1M", "order");
	parse_bad("P1W1D", "order");
	parse_bad("P1D1W", "order");
	parse_bad("P1WT1H", "order");
	parse_bad("P1H", NULL);		/* hours need the T */
	parse_bad("PT1D", NULL);	/* days come before the T */
	parse_bad("PT1W", NULL);
	parse_bad("", NULL);
	parse_bad("T1H", NULL);
	parse_bad("1H", NULL);
	parse_bad("PT1", NULL);
	parse_bad("PTH", NULL);
	parse_bad("PT.5H", NULL);
	parse_bad("PT1.H", NULL);
	parse_bad("PT1..5H", NULL);
	parse_bad("PT1.5.5H", NULL);
	parse_bad("PTT1H", NULL);
	parse_bad("PT1HT", NULL);
	parse_bad("PT1H ", NULL);
	parse_bad(" PT1H", NULL);
	parse_bad("PT1 H", NULL);
	parse_bad("PT1X", NULL);
	parse_bad("PT1e3S", NULL);
	parse_bad("PT0x10S", NULL);
	parse_bad("P1DT2H3M4S5", NULL);
	parse_bad("3600", NULL);
	parse_bad("01:00:00", NULL);
}

static void
test_limits(void **state)
{
	assert_int_equal(parse_ok("P366D"), DURATION_MS_MAX);
	assert_int_equal(parse_ok("PT8784H"), DURATION_MS_MAX);
	assert_int_equal(parse_ok("P365DT24H"), DURATION_MS_MAX);
	parse_bad("P366DT0.001S", "longer");
	parse_bad("P367D", "longer");
	parse_bad("PT8784H0.001S", NULL);
	parse_bad("P53W", "longer");
	parse_bad("PT99999999999999999999999999S", "longer");
	parse_bad("P9223372036854775807D", "longer");
	parse_bad("PT31622400001S", "longer");
	assert_int_equal(parse_ok("PT31622400S"), DURATION_MS_MAX);
	/* Longer than DURATION_TEXT_MAX as text, even if the value is small. */
	parse_bad("PT0.00000000000000000000000000000000000000000000000000000000000000001S", NULL);
}

static void
test_unterminated(void **state)
{
	int64_t ms = 0;
	size_t n;
	char *s = test_copy_unterminated("PT1H", &n);

	assert_int_equal(duration_parse_iso8601(s, n, &ms, NULL), 0);
	assert_int_equal(ms, HOURS(1));
	free(s);
	s = test_copy_unterminated("PT1", &n);	/* the garbage "9Z…" must not complete it */
	assert_int_equal(duration_parse_iso8601(s, n, &ms, NULL), -EINVAL);
	free(s);
	s = test_copy_unterminated("PT1.5", &n);
	assert_int_equal(duration_parse_iso8601(s, n, &ms, NULL), -EINVAL);
	free(s);
	assert_int_equal(duration_parse_iso8601("PT1H\0", 5, &ms, NULL), -EINVAL);
	assert_int_equal(duration_parse_iso8601("PT1H30M", 4, &ms, NULL), 0);
	assert_int_equal(ms, HOURS(1));
}

static void
test_format(void **state)
{
	char buf[DURATION_FORMAT_SIZE];

	format_is(HOURS(3), "PT3H");
	format_is(HOURS(1) + MINS(30), "PT1H30M");
	format_is(DAYS(1), "PT24H");
	format_is(0, "PT0S");
	format_is(1500, "PT1.5S");
	format_is(MINS(5), "PT5M");
	format_is(SECS(90), "PT1M30S");
	format_is(1, "PT0.001S");
	format_is(10, "PT0.01S");
	format_is(HOURS(2) + 250, "PT2H0.25S");
	format_is(HOURS(1) + MINS(1) + SECS(1) + 1, "PT1H1M1.001S");
	format_is(DURATION_MS_MAX, "PT8784H");
	format_is(DURATION_MS_MAX - 1, "PT8783H59M59.999S");
	format_is(INT64_MAX, "PT2562047788015H12M55.807S");
	assert_int_equal(duration_format_iso8601(-1, buf, sizeof(buf)), -ERANGE);
	assert_int_equal(duration_format_iso8601(HOURS(3), buf, 5), 4);
	assert_int_equal(duration_format_iso8601(HOURS(3), buf, 4), -ENOSPC);
}

static void
test_round_trip(void **state)
{
	static const char *const in[] = {
		"PT3H", "P1D", "PT1H30M", "PT0.5H", "PT90S", "P1DT2H", "PT1.5S", "P1W", "PT0.001S",
		"P2DT3H4M5.678S", "P366D",
	};
	char buf[DURATION_FORMAT_SIZE];
	int64_t ms, x;
	size_t i;

	for (i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		ms = parse_ok(in[i]);
		assert_true(duration_format_iso8601(ms, buf, sizeof(buf)) > 0);
		assert_int_equal(parse_ok(buf), ms);
	}
	for (x = 0; x <= DURATION_MS_MAX; x += 987654321 + 1) {
		assert_true(duration_format_iso8601(x, buf, sizeof(buf)) > 0);
		assert_int_equal(parse_ok(buf), x);
	}
}

/* What people type: the short form and ISO 8601 in either case; nothing else, nothing empty or zero. */
static void
test_text(void **unused)
{
	int64_t ms = 7;

	(void)unused;
	assert_int_equal(duration_parse_text(S("24h"), &ms), 0);
	assert_int_equal(ms, 24LL * 3600 * 1000);
	assert_int_equal(duration_parse_text(S("1d2H30m15s"), &ms), 0);
	assert_int_equal(ms, ((24LL + 2) * 3600 + 30 * 60 + 15) * 1000);
	assert_int_equal(duration_parse_text(S("pt1h30m"), &ms), 0);
	assert_int_equal(ms, 90LL * 60 * 1000);
	assert_int_equal(duration_parse_text(S("P30D"), &ms), 0);
	assert_int_equal(ms, 30LL * 24 * 3600 * 1000);
	ms = 7;
	assert_int_equal(duration_parse_text(S(""), &ms), -EINVAL);
	assert_int_equal(duration_parse_text(S("0h"), &ms), -EINVAL);
	assert_int_equal(duration_parse_text(S("PT0S"), &ms), -EINVAL);
	assert_int_equal(duration_parse_text(S("h"), &ms), -EINVAL);
	assert_int_equal(duration_parse_text(S("3"), &ms), -EINVAL);
	assert_int_equal(duration_parse_text(S("1m2h"), &ms), -EINVAL);
	assert_int_equal(duration_parse_text(S("1w"), &ms), -EINVAL);
	assert_int_equal(duration_parse_text(S("400d"), &ms), -EINVAL);
	assert_int_equal(duration_parse_text(S("24h "), &ms), -EINVAL);
	assert_int_equal(ms, 7);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_good),
		cmocka_unit_test(test_sub_millisecond_truncates),
		cmocka_unit_test(test_parse_bad),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_unterminated),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

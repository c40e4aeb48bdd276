/* Unit tests for RFC 3339 timestamps and the calendar arithmetic under them. */
#include <errno.h>
#include <stdio.h>
#include <time.h>

#include "core/timeutil.h"
#include "testutil.h"

#define SEC(x) ((int64_t)(x) * TIME_NS_PER_SEC)

static int64_t
parse_ok(const char *s)
{
	int64_t ns = -1;
	struct core_error err;

	if (time_parse_rfc3339(s, strlen(s), &ns, &err) != 0)
		fail_msg("'%s' refused: %s", s, err.message);
	return ns;
}

static void
parse_bad(const char *s, const char *message_part)
{
	int64_t ns = 42;
	struct core_error err;

	if (time_parse_rfc3339(s, strlen(s), &ns, &err) != -EINVAL)
		fail_msg("'%s' accepted", s);
	assert_error(&err, "InvalidTimestamp", "");
	assert_int_equal(ns, 42);
	if (message_part != NULL && strstr(err.message, message_part) == NULL)
		fail_msg("'%s': message '%s' lacks '%s'", s, err.message, message_part);
}

/* fmt writes ns as want, and says its length. */
static void
formatted_is(int (*fmt)(int64_t, char *, size_t), int64_t ns, const char *want)
{
	char buf[TIME_FORMAT_SIZE];

	assert_int_equal(fmt(ns, buf, sizeof(buf)), (int)strlen(want));
	assert_string_equal(buf, want);
}
#define format_is(ns, want)	formatted_is(time_format_rfc3339, (ns), (want))
#define azure_is(ns, want)	formatted_is(time_format_azure, (ns), (want))

static void
test_parse_azure_form(void **state)
{
	assert_int_equal(parse_ok("2018-05-17T09:06:45.5691611Z"), SEC(1526548005) + 569161100);
	assert_int_equal(parse_ok("2018-05-17T09:06:45Z"), SEC(1526548005));
	assert_int_equal(parse_ok("2018-05-17t09:06:45z"), SEC(1526548005));
	assert_int_equal(parse_ok("2018-05-17T09:06:45.0Z"), SEC(1526548005));
	assert_int_equal(parse_ok("2018-05-17T09:06:45.5Z"), SEC(1526548005) + 500000000);
	assert_int_equal(parse_ok("2018-05-17T09:06:45.123Z"), SEC(1526548005) + 123000000);
}

static void
test_epoch_boundary(void **state)
{
	assert_int_equal(parse_ok("1970-01-01T00:00:00Z"), 0);
	assert_int_equal(parse_ok("1970-01-01T00:00:00.000000001Z"), 1);
	assert_int_equal(parse_ok("1970-01-01T01:00:00+01:00"), 0);
	assert_int_equal(parse_ok("1970-01-01T00:00:00-00:30"), SEC(1800));
	parse_bad("1970-01-01T00:59:59+01:00", "before 1970");
	parse_bad("1969-12-31T23:59:59Z", "year");
	format_is(0, "1970-01-01T00:00:00Z");
	format_is(1, "1970-01-01T00:00:00.000000001Z");
}

static void
test_offsets(void **state)
{
	int64_t utc = parse_ok("2020-01-01T00:00:00Z");

	assert_int_equal(utc, SEC(1577836800));
	assert_int_equal(parse_ok("2020-01-01T05:30:00+05:30"), utc);
	assert_int_equal(parse_ok("2019-12-31T19:00:00-05:00"), utc);
	assert_int_equal(parse_ok("2020-01-01T00:00:00-00:00"), utc);
	assert_int_equal(parse_ok("2020-01-01T00:00:00+00:00"), utc);
	assert_int_equal(parse_ok("2020-01-01T23:59:00+23:59"), utc);
	assert_int_equal(parse_ok("2019-12-31T00:01:00-23:59"), utc);
	assert_int_equal(parse_ok("2020-01-01T05:30:00.25+05:30"), utc + 250000000);
	parse_bad("2020-01-01T00:00:00+24:00", "offset");
	parse_bad("2020-01-01T00:00:00+05:60", "offset");
	parse_bad("2020-01-01T00:00:00+0530", NULL);
	parse_bad("2020-01-01T00:00:00+05", NULL);
	parse_bad("2020-01-01T00:00:00+5:30", NULL);
	parse_bad("2020-01-01T00:00:00 +05:30", NULL);
	parse_bad("2020-01-01T00:00:00", "time zone");
	parse_bad("2020-01-01T00:00:00.5", "time zone");
	parse_bad("2020-01-01T00:00:00UTC", NULL);
	parse_bad("2020-01-01T00:00:00GMT", NULL);
}

static void
test_calendar(void **state)
{
	assert_int_equal(parse_ok("2024-02-29T12:00:00Z"), SEC(1709208000));
	assert_int_equal(parse_ok("2000-02-29T00:00:00Z"), parse_ok("2000-03-01T00:00:00Z") - SEC(86400));
	parse_bad("2023-02-29T12:00:00Z", "no day 29");
	parse_bad("2100-02-29T00:00:00Z", "no day");
	parse_bad("2024-02-30T00:00:00Z", "no day");
	parse_bad("2024-04-31T00:00:00Z", "no day");
	parse_bad("2024-00-10T00:00:00Z", "month");
	parse_bad("2024-13-10T00:00:00Z", "month");
	parse_bad("2024-01-00T00:00:00Z", "no day");
	parse_bad("2024-01-32T00:00:00Z", "no day");
	assert_int_equal(parse_ok("2024-12-31T23:59:59Z") + SEC(1), parse_ok("2025-01-01T00:00:00Z"));
	parse_bad("2024-01-01T24:00:00Z", "time of day");
	parse_bad("2024-01-01T23:60:00Z", "time of day");
	parse_bad("2024-01-01T23:59:61Z", "seconds");
	parse_bad("2016-12-31T23:59:60Z", "leap second");
	assert_int_equal(time_days_from_civil(1970, 1, 1), 0);
	assert_int_equal(time_days_from_civil(2000, 3, 1), 951868800 / 86400);
	assert_int_equal(time_days_from_civil(1969, 12, 31), -1);
	assert_int_equal(time_days_in_month(2024, 2), 29);
	assert_int_equal(time_days_in_month(1900, 2), 28);
	assert_int_equal(time_days_in_month(2023, 13), 0);
}

static void
test_civil_round_trip(void **state)
{
	int64_t d, y;
	unsigned m, day;

	/* Every day from 1960 to 2270. */
	for (d = -3653; d < 110000; d++) {
		time_civil_from_days(d, &y, &m, &day);
		assert_true(m >= 1 && m <= 12);
		assert_true(day >= 1 && day <= time_days_in_month(y, m));
		if (time_days_from_civil(y, m, day) != d)
			fail_msg("day %lld", (long long)d);
	}
}

static void
test_years(void **state)
{
	assert_int_equal(parse_ok("2261-12-31T23:59:59.999999999Z"), SEC(9214646399) + 999999999);
	format_is(SEC(9214646399) + 999999999, "2261-12-31T23:59:59.999999999Z");
	parse_bad("2262-01-01T00:00:00Z", "year");
	parse_bad("9999-12-31T23:59:59Z", "year");
	parse_bad("0000-01-01T00:00:00Z", "year");
	/* The local date is in range but the instant is not: it could not be formatted back. */
	parse_bad("2261-12-31T23:59:59-23:59", "after 2261");
	parse_bad("2261-12-31T23:59:59.999999999-00:01", "after 2261");
	assert_int_equal(time_format_rfc3339(SEC(9214646400), (char[TIME_FORMAT_SIZE]){ 0 }, TIME_FORMAT_SIZE), -ERANGE);
	assert_int_equal(time_format_rfc3339(INT64_MAX, (char[TIME_FORMAT_SIZE]){ 0 }, TIME_FORMAT_SIZE), -ERANGE);
	assert_int_equal(time_format_rfc3339(-1, (char[TIME_FORMAT_SIZE]){ 0 }, TIME_FORMAT_SIZE), -ERANGE);
}

static void
test_fraction_digits(void **state)
{
	assert_int_equal(parse_ok("2020-01-01T00:00:00.123456789Z") % TIME_NS_PER_SEC, 123456789);
	assert_int_equal(parse_ok("2020-01-01T00:00:00.000000000Z") % TIME_NS_PER_SEC, 0);
	assert_int_equal(parse_ok("2020-01-01T00:00:00.9Z") % TIME_NS_PER_SEC, 900000000);
	parse_bad("2020-01-01T00:00:00.1234567890Z", "at most 9");
	parse_bad("2020-01-01T00:00:00.Z", NULL);
	parse_bad("2020-01-01T00:00:00,5Z", NULL);
	parse_bad("2020-01-01T00:00:00.5.5Z", NULL);
}

static void
test_syntax(void **state)
{
	static const char *const bad[] = {
		"", "Z", "2020", "2020-01-01", "2020-01-01T", "2020-01-01 00:00:00Z",
		"2020-01-01_00:00:00Z", "2020-1-01T00:00:00Z", "2020-01-1T00:00:00Z",
		"20200-01-01T00:00:00Z", "2020-01-01T0:00:00Z", "2020-01-01T00:0:00Z",
		"2020-01-01T00:00:0Z", "2020-01-01T00:00Z", "2020-01-01T00:00:00ZZ",
		"2020-01-01T00:00:00Z ", " 2020-01-01T00:00:00Z", "+2020-01-01T00:00:00Z",
		"2020/01/01T00:00:00Z", "2020-01-01T00-00-00Z", "2020-01-01T00:00:00+",
		"2020-01-01T00:00:00+05:3", "2020-01-01T00:00:00+05:300", "2020-01-01T00:00:00z0",
		"2020-0a-01T00:00:00Z", "2020-01-01T00:00:00.5ZZ", "2020-01-01t00:00:00+ab:cd",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		parse_bad(bad[i], NULL);
	/* Longer than TIME_TEXT_MAX is refused before it is looked at. */
	parse_bad("2020-01-01T00:00:00.000000000Z000000000000000000000000000000000000000", "RFC 3339");
}

static void
test_unterminated_and_embedded_nul(void **state)
{
	int64_t ns = 0;
	size_t n;
	char *s = test_copy_unterminated("2020-01-01T00:00:00.5Z", &n);

	assert_int_equal(time_parse_rfc3339(s, n, &ns, NULL), 0);
	assert_int_equal(ns, SEC(1577836800) + 500000000);
	free(s);
	s = test_copy_unterminated("2020-01-01T00:00:00.5", &n);
	assert_int_equal(time_parse_rfc3339(s, n, &ns, NULL), -EINVAL);	/* the 'Z' after n is not ours */
	free(s);
	assert_int_equal(time_parse_rfc3339("2020-01-01T00:00:00Z\0", 21, &ns, NULL), -EINVAL);
	assert_int_equal(time_parse_rfc3339("2020-01-01T00:00:00Zjunk", 20, &ns, NULL), 0);
}

static void
test_format(void **state)
{
	char buf[TIME_FORMAT_SIZE];

	format_is(SEC(1526548005) + 569161100, "2018-05-17T09:06:45.5691611Z");
	format_is(SEC(1526548005), "2018-05-17T09:06:45Z");
	format_is(SEC(1526548005) + 500000000, "2018-05-17T09:06:45.5Z");
	format_is(SEC(1526548005) + 10, "2018-05-17T09:06:45.00000001Z");
	format_is(SEC(1709208000), "2024-02-29T12:00:00Z");
	assert_int_equal(time_format_rfc3339(0, buf, 21), 20);
	assert_int_equal(time_format_rfc3339(0, buf, 20), -ENOSPC);
	assert_int_equal(time_format_rfc3339(0, buf, 0), -ENOSPC);
}

/* Azure's form: exactly 7 fraction digits, whatever the instant, cut (never rounded up) to 100 ns. */
static void
test_format_azure(void **state)
{
	char buf[TIME_FORMAT_SIZE];
	int64_t x;

	azure_is(SEC(1526548005) + 569161100, "2018-05-17T09:06:45.5691611Z");
	azure_is(SEC(1526548005), "2018-05-17T09:06:45.0000000Z");
	azure_is(SEC(1526548005) + 500000000, "2018-05-17T09:06:45.5000000Z");
	azure_is(SEC(1526548005) + 99, "2018-05-17T09:06:45.0000000Z");
	azure_is(SEC(1526548005) + 100, "2018-05-17T09:06:45.0000001Z");
	azure_is(SEC(1526548005) + 999999999, "2018-05-17T09:06:45.9999999Z");
	azure_is(0, "1970-01-01T00:00:00.0000000Z");
	azure_is(SEC(9214646399) + 999999999, "2261-12-31T23:59:59.9999999Z");
	assert_int_equal(time_format_azure(SEC(9214646400), buf, sizeof(buf)), -ERANGE);
	assert_int_equal(time_format_azure(-1, buf, sizeof(buf)), -ERANGE);
	assert_int_equal(time_format_azure(0, buf, 29), 28);
	assert_int_equal(time_format_azure(0, buf, 28), -ENOSPC);
	/* what it writes parses back to the instant less its part of a tick */
	for (x = SEC(1700000000); x < SEC(1700000000) + 1000; x += 37) {
		assert_int_equal(time_format_azure(x, buf, sizeof(buf)), 28);
		assert_int_equal(parse_ok(buf), x - x % 100);
	}
}

static void
test_round_trip(void **state)
{
	static const char *const in[] = {
		"2018-05-17T09:06:45.5691611Z", "2024-02-29T23:59:59.999Z", "2000-01-01T00:00:00Z",
		"2099-12-31T12:34:56.000000789Z", "2020-06-15T10:00:00+02:00", "1970-01-02T00:00:00-12:00",
	};
	char buf[TIME_FORMAT_SIZE];
	int64_t ns, again, x;
	size_t i;

	for (i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		ns = parse_ok(in[i]);
		assert_true(time_format_rfc3339(ns, buf, sizeof(buf)) > 0);
		again = parse_ok(buf);
		assert_int_equal(ns, again);
	}
	/* A spread of instants over the whole range. */
	for (i = 0; i <= (size_t)(SEC(9214646399) / (SEC(86400) * 365 + 123456789987LL)); i++) {
		x = (int64_t)i * (SEC(86400) * 365 + 123456789987LL);
		assert_true(time_format_rfc3339(x, buf, sizeof(buf)) > 0);
		assert_int_equal(parse_ok(buf), x);
	}
}

static void
test_conversions(void **state)
{
	assert_int_equal(time_ns_to_ms(1999999), 1);
	assert_int_equal(time_ns_to_ms(-1), -1);
	assert_int_equal(time_ns_to_ms(-1000000), -1);
	assert_int_equal(time_ns_to_ms(0), 0);
	assert_int_equal(time_ms_to_ns(5), 5000000);
	assert_int_equal(time_ms_to_ns(INT64_MAX), INT64_MAX);
	assert_int_equal(time_ms_to_ns(INT64_MIN), INT64_MIN);
}

/*
 * Issue 11, clock steps: a grant made in this boot ends when its granted time is over on
 * CLOCK_MONOTONIC, whatever the wall clock says; one from another boot has only its wall-clock end.
 */
static void
test_end_on_both_clocks(void **state)
{
	const int64_t now = SEC(1800000000), mono = SEC(5000), end = now + SEC(15), mono_end = mono + SEC(15);

	/* no step: its own end, exactly, also with a few ms of rounding between the clocks */
	assert_int_equal(time_end_on_both_clocks(end, mono_end, true, now, mono), end);
	assert_int_equal(time_end_on_both_clocks(end, mono_end - 5 * TIME_NS_PER_MS, true, now, mono), end);
	assert_int_equal(time_end_on_both_clocks(end, mono_end, true, end - 50 * TIME_NS_PER_MS,
						 mono_end + 50 * TIME_NS_PER_MS), end);
	/* 5 s in, the wall clock an hour behind: 10 s left, not an hour and 10 s */
	assert_int_equal(time_end_on_both_clocks(end, mono_end, true, now - SEC(3600) + SEC(5), mono + SEC(5)),
			 now - SEC(3600) + SEC(15));
	/* 16 s in, an hour behind: over (at or before now), though its end is an hour away */
	assert_true(time_end_on_both_clocks(end, mono_end, true, now - SEC(3600) + SEC(16), mono + SEC(16)) <=
		    now - SEC(3600) + SEC(16));
	assert_true(time_end_on_both_clocks(end, mono_end, true, now - SEC(3600) + SEC(15), mono + SEC(15)) <=
		    now - SEC(3600) + SEC(15));
	/* a step forward: its own (earlier) end, never the monotonic one */
	assert_int_equal(time_end_on_both_clocks(end, mono_end, true, now + SEC(10), mono), end);
	/* made in another boot: that monotonic clock means nothing here, the wall clock is all there is */
	assert_int_equal(time_end_on_both_clocks(end, mono_end, false, now - SEC(3600) + SEC(16), mono + SEC(16)),
			 end);
	assert_int_equal(time_end_on_both_clocks(end, mono_end, false, now, mono + SEC(3600)), end);
	/* no monotonic end recorded (made before migration 5): the wall clock */
	assert_int_equal(time_end_on_both_clocks(end, 0, true, now - SEC(3600), mono + SEC(16)), end);
	/* ended by the wall clock: its end, as it was */
	assert_int_equal(time_end_on_both_clocks(end, mono_end, true, end + 1, mono), end);
	/* extreme values from a damaged store do not overflow */
	assert_int_equal(time_end_on_both_clocks(INT64_MAX, INT64_MAX, true, now, mono), INT64_MAX);
	assert_int_equal(time_end_on_both_clocks(INT64_MAX, mono + SEC(1), true, now, mono), now + SEC(1));
	assert_int_equal(time_end_on_both_clocks(INT64_MIN, INT64_MAX, true, now, mono), INT64_MIN);
}

/* The clock readers: ms agree with ns, the wall clock is Unix time, the monotonic clock never goes back. */
static void
test_clocks(void **state)
{
	int64_t ns = time_now_ns(), ms = time_now_ms(), t = (int64_t)time(NULL);
	int64_t m0 = time_mono_ns(), m1 = time_mono_ms(), m2 = time_mono_ns();

	(void)state;
	assert_true(ms >= time_ns_to_ms(ns) && ms - time_ns_to_ms(ns) < 1000);
	assert_true(ms / TIME_MS_PER_SEC >= t - 1 && ms / TIME_MS_PER_SEC <= t + 1);
	assert_true(m0 > 0 && m2 >= m0);
	assert_true(m1 >= time_ns_to_ms(m0) && m1 <= time_ns_to_ms(m2));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_azure_form),
		cmocka_unit_test(test_epoch_boundary),
		cmocka_unit_test(test_offsets),
		cmocka_unit_test(test_calendar),
		cmocka_unit_test(test_civil_round_trip),
		cmocka_unit_test(test_years),
		cmocka_unit_test(test_fraction_digits),
		cmocka_unit_test(test_syntax),
		cmocka_unit_test(test_unterminated_and_embedded_nul),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_format_azure),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_conversions),
		cmocka_unit_test(test_end_on_both_clocks),
		cmocka_unit_test(test_clocks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

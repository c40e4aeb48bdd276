/* Unit tests for the Prometheus text writer (core/metrics.c): escaping, number text, histogram buckets, limits. */
#include <errno.h>
#include <math.h>
#include <stdio.h>

#include "core/metrics.h"
#include "testutil.h"

static void
test_label_escaping(void **state)
{
	struct metrics_label l[] = { { "code", "a\\b\"c\nd" }, { "op", "" } };
	struct buf b = { 0 };
	char out[16];

	(void)state;
	assert_int_equal(metrics_counter(&b, "x_total", l, 2, 7), 0);
	assert_string_equal(b.data, "x_total{code=\"a\\\\b\\\"c\\nd\",op=\"\"} 7\n");
	assert_int_equal(metrics_escape_label("q\"\\\n", out, sizeof(out)), 0);
	assert_string_equal(out, "q\\\"\\\\\\n");
	/* it fits exactly, then one byte less does not */
	assert_int_equal(metrics_escape_label("abc\"", out, 6), 0);
	assert_string_equal(out, "abc\\\"");
	assert_int_equal(metrics_escape_label("abc\"", out, 5), -E2BIG);
	buf_free(&b);
}

static void
test_help_escaping(void **state)
{
	struct buf b = { 0 };

	(void)state;
	/* HELP escapes backslash and new line only; a double quote stays as it is */
	assert_int_equal(metrics_family(&b, "m", "gauge", "a \"b\" c\\d\ne"), 0);
	assert_string_equal(b.data, "# HELP m a \"b\" c\\\\d\\ne\n# TYPE m gauge\n");
	buf_free(&b);
}

static void
test_values(void **state)
{
	char t[32];

	(void)state;
	metrics_format_value(0, t, sizeof(t));
	assert_string_equal(t, "0");
	metrics_format_value(-3, t, sizeof(t));
	assert_string_equal(t, "-3");
	metrics_format_value(0.0005, t, sizeof(t));
	assert_string_equal(t, "0.0005");
	metrics_format_value(0.1 + 0.2, t, sizeof(t));
	assert_string_equal(t, "0.30000000000000004");	/* the shortest text that reads back the same */
	metrics_format_value(1e300, t, sizeof(t));	/* far past int64: never converted (UB the fuzzer found) */
	assert_string_equal(t, "1e+300");
	metrics_format_value(-1e19, t, sizeof(t));
	assert_string_equal(t, "-1e+19");
	metrics_format_value(9007199254740991.0, t, sizeof(t));
	assert_string_equal(t, "9007199254740991");
	metrics_format_value(INFINITY, t, sizeof(t));
	assert_string_equal(t, "+Inf");
	metrics_format_value(-INFINITY, t, sizeof(t));
	assert_string_equal(t, "-Inf");
	metrics_format_value(NAN, t, sizeof(t));
	assert_string_equal(t, "NaN");
}

static void
test_histogram_buckets(void **state)
{
	static const double bounds[] = { 0.1, 1, 10 };
	struct metrics_label l = { "op", "GET /x" };
	struct metrics_histogram h;
	struct buf b = { 0 };

	(void)state;
	metrics_histogram_init(&h, bounds, 3);
	metrics_histogram_observe(&h, 0.05);
	metrics_histogram_observe(&h, 0.1);	/* le: a value on a bound is in that bound's bucket */
	metrics_histogram_observe(&h, 5);
	metrics_histogram_observe(&h, 50);
	metrics_histogram_observe(&h, NAN);	/* counted, above every bound, not summed */
	assert_int_equal(metrics_histogram_write(&b, "t_seconds", &l, 1, &h), 0);
	assert_string_equal(b.data, "t_seconds_bucket{op=\"GET /x\",le=\"0.1\"} 2\n"
				    "t_seconds_bucket{op=\"GET /x\",le=\"1\"} 2\n"
				    "t_seconds_bucket{op=\"GET /x\",le=\"10\"} 3\n"
				    "t_seconds_bucket{op=\"GET /x\",le=\"+Inf\"} 5\n"
				    "t_seconds_sum{op=\"GET /x\"} 55.15\n"
				    "t_seconds_count{op=\"GET /x\"} 5\n");
	buf_reset(&b);
	/* without labels, "le" opens the braces */
	metrics_histogram_init(&h, bounds, 1);
	assert_int_equal(metrics_histogram_write(&b, "u", NULL, 0, &h), 0);
	assert_string_equal(b.data, "u_bucket{le=\"0.1\"} 0\nu_bucket{le=\"+Inf\"} 0\nu_sum 0\nu_count 0\n");
	buf_free(&b);
}

static void
test_limits(void **state)
{
	static double many[METRICS_BUCKETS_MAX + 4];
	struct metrics_label l[METRICS_LABELS_MAX + 1] = { { "a", "1" }, { "b", "2" }, { "c", "3" }, { "d", "4" },
							   { "e", "5" } };
	struct metrics_histogram h;
	struct buf b = { .max = 16 };
	size_t i;

	(void)state;
	assert_int_equal(metrics_gauge(&b, "g", l, METRICS_LABELS_MAX + 1, 1), -EINVAL);
	/* a page past its cap fails whole lines, never leaves half a sample */
	assert_int_equal(metrics_gauge(&b, "g", l, 2, 1), -E2BIG);
	for (i = 0; i < sizeof(many) / sizeof(many[0]); i++)
		many[i] = (double)i;
	metrics_histogram_init(&h, many, sizeof(many) / sizeof(many[0]));
	assert_int_equal(h.n_bounds, METRICS_BUCKETS_MAX);
	metrics_histogram_observe(&h, 1e9);
	assert_int_equal(h.counts[METRICS_BUCKETS_MAX], 1);
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_label_escaping), cmocka_unit_test(test_help_escaping),
		cmocka_unit_test(test_values), cmocka_unit_test(test_histogram_buckets), cmocka_unit_test(test_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

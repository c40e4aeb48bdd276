/* RFC 3339 timestamps: a strict parser and a canonical UTC formatter, on our own calendar arithmetic. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "timeutil.h"

static bool
is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

unsigned
time_days_in_month(int64_t year, unsigned month)
{
	static const unsigned days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	if (month < 1 || month > 12)
		return 0;
	if (month == 2 && is_leap(year))
		return 29;
	return days[month - 1];
}

/* Howard Hinnant's days_from_civil: eras of 400 years, years starting in March. */
int64_t
time_days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (int64_t)(m > 2 ? m - 3 : m + 9) + 2) / 5 + (int64_t)d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

void
time_civil_from_days(int64_t z, int64_t *ret_year, unsigned *ret_month, unsigned *ret_day)
{
	int64_t era, doe, yoe, y, doy, mp;
	unsigned m, d;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	y = yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
	m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
	*ret_year = y + (m <= 2);
	*ret_month = m;
	*ret_day = d;
}

int64_t
time_end_on_both_clocks(int64_t end_ns, int64_t mono_end_ns, bool same_boot, int64_t now_ns, int64_t mono_ns)
{
	int64_t left;

	/* the monotonic end of another boot means nothing here: that clock started again */
	if (!same_boot || mono_end_ns <= 0 || end_ns <= now_ns)
		return end_ns;
	left = mono_end_ns - mono_ns;
	if (left >= end_ns - now_ns - TIME_CLOCK_SLACK_NS)
		return end_ns;
	return now_ns + left;	/* at or before now_ns when its granted time is over, whatever the wall clock */
}

int64_t
time_ns_to_ms(int64_t ns)
{
	int64_t q = ns / TIME_NS_PER_MS;

	if (ns % TIME_NS_PER_MS < 0)
		q--;
	return q;
}

int64_t
time_ms_to_ns(int64_t ms)
{
	if (ms > INT64_MAX / TIME_NS_PER_MS)
		return INT64_MAX;
	if (ms < INT64_MIN / TIME_NS_PER_MS)
		return INT64_MIN;
	return ms * TIME_NS_PER_MS;
}

/* Exactly `count` decimal digits at s[*pos]; advances only on success. */
static int
take_digits(const char *s, size_t n, size_t *pos, unsigned count, unsigned *ret)
{
	unsigned v = 0, i;

	if (n - *pos < count)
		return -EINVAL;
	for (i = 0; i < count; i++) {
		char c = s[*pos + i];

		if (c < '0' || c > '9')
			return -EINVAL;
		v = v * 10 + (unsigned)(c - '0');
	}
	*pos += count;
	*ret = v;
	return 0;
}

static int
take_char(const char *s, size_t n, size_t *pos, char want)
{
	if (*pos >= n || s[*pos] != want)
		return -EINVAL;
	(*pos)++;
	return 0;
}

/* The fields of a timestamp as written, before any range check. */
struct rfc3339 {
	unsigned year, month, day, hour, min, sec;
	int64_t frac;		/* nanoseconds */
	int64_t offset;		/* seconds east of UTC */
};

/* The answer to text that is not RFC 3339 at all. */
static int
rfc3339_syntax(const char *q, struct core_error *err)
{
	static const char *const expected =
	    "expected RFC 3339 such as 2018-05-17T09:06:45.5691611Z or 2018-05-17T11:06:45+02:00";

	return core_error_set(err, "InvalidTimestamp", NULL, "'%s' is not a valid timestamp: %s", q, expected);
}

/* YYYY-MM-DDTHH:MM:SS ('t' too); advances only on success. */
static int
take_date_time(const char *s, size_t n, size_t *pos, struct rfc3339 *t)
{
	size_t p = *pos;

	if (take_digits(s, n, &p, 4, &t->year) < 0 || take_char(s, n, &p, '-') < 0 ||
	    take_digits(s, n, &p, 2, &t->month) < 0 || take_char(s, n, &p, '-') < 0 ||
	    take_digits(s, n, &p, 2, &t->day) < 0)
		return -EINVAL;
	if (p >= n || (s[p] != 'T' && s[p] != 't'))
		return -EINVAL;
	p++;
	if (take_digits(s, n, &p, 2, &t->hour) < 0 || take_char(s, n, &p, ':') < 0 ||
	    take_digits(s, n, &p, 2, &t->min) < 0 || take_char(s, n, &p, ':') < 0 ||
	    take_digits(s, n, &p, 2, &t->sec) < 0)
		return -EINVAL;
	*pos = p;
	return 0;
}

/* An optional .DIGITS after the seconds, as nanoseconds; advances only on success. */
static int
take_fraction(const char *s, size_t n, size_t *pos, int64_t *ret_frac, const char *q, struct core_error *err)
{
	unsigned digits = 0;
	int64_t frac = 0;
	size_t p = *pos;

	if (p < n && s[p] == '.') {
		p++;
		while (p < n && s[p] >= '0' && s[p] <= '9') {
			if (++digits > TIME_FRACTION_DIGITS_MAX)
				return core_error_set(err, "InvalidTimestamp", NULL,
				    "'%s' is not a valid timestamp: at most %d digits may follow the seconds' decimal point",
				    q, TIME_FRACTION_DIGITS_MAX);
			frac = frac * 10 + (s[p] - '0');
			p++;
		}
		if (digits == 0)
			return rfc3339_syntax(q, err);
		for (; digits < 9; digits++)
			frac *= 10;
	}
	*pos = p;
	*ret_frac = frac;
	return 0;
}

/* The time zone: 'Z' (or 'z'), or +HH:MM / -HH:MM, as seconds east of UTC; advances only on success. */
static int
take_zone(const char *s, size_t n, size_t *pos, int64_t *ret_offset, const char *q, struct core_error *err)
{
	unsigned oh = 0, om = 0;
	int64_t offset = 0;
	size_t p = *pos;

	if (p >= n)
		return core_error_set(err, "InvalidTimestamp", NULL,
		    "'%s' is not a valid timestamp: it needs a time zone, 'Z' for UTC or an offset such as +02:00", q);
	if (s[p] == 'Z' || s[p] == 'z') {
		p++;
	} else if (s[p] == '+' || s[p] == '-') {
		bool minus = s[p] == '-';

		p++;
		if (take_digits(s, n, &p, 2, &oh) < 0 || take_char(s, n, &p, ':') < 0 ||
		    take_digits(s, n, &p, 2, &om) < 0)
			return rfc3339_syntax(q, err);
		if (oh > 23 || om > 59)
			return core_error_set(err, "InvalidTimestamp", NULL,
			    "'%s' is not a valid timestamp: the offset must be from -23:59 to +23:59", q);
		offset = (int64_t)oh * 3600 + (int64_t)om * 60;
		if (minus)
			offset = -offset;
	} else {
		return rfc3339_syntax(q, err);
	}
	*pos = p;
	*ret_offset = offset;
	return 0;
}

/* Each field in its range: the year ours, the day in its month, no leap second. */
static int
rfc3339_check(const struct rfc3339 *t, const char *q, struct core_error *err)
{
	if (t->year < TIME_YEAR_MIN || t->year > TIME_YEAR_MAX)
		return core_error_set(err, "InvalidTimestamp", NULL,
		    "'%s' is not a valid timestamp: the year must be from %d to %d",
		    q, TIME_YEAR_MIN, TIME_YEAR_MAX);
	if (t->month < 1 || t->month > 12)
		return core_error_set(err, "InvalidTimestamp", NULL,
		    "'%s' is not a valid timestamp: the month must be from 01 to 12", q);
	if (t->day < 1 || t->day > time_days_in_month(t->year, t->month))
		return core_error_set(err, "InvalidTimestamp", NULL,
		    "'%s' is not a valid timestamp: %04u-%02u has no day %02u", q, t->year, t->month, t->day);
	if (t->hour > 23 || t->min > 59)
		return core_error_set(err, "InvalidTimestamp", NULL,
		    "'%s' is not a valid timestamp: the time of day must be from 00:00 to 23:59", q);
	if (t->sec == 60)
		return core_error_set(err, "InvalidTimestamp", NULL,
		    "'%s' is not a valid timestamp: leap seconds (:60) are not supported", q);
	if (t->sec > 59)
		return core_error_set(err, "InvalidTimestamp", NULL,
		    "'%s' is not a valid timestamp: the seconds must be from 00 to 59", q);
	return 0;
}

/* Checked fields as nanoseconds since the epoch, within what the formatter can write back. */
static int
rfc3339_to_ns(const struct rfc3339 *t, int64_t *ret_ns, const char *q, struct core_error *err)
{
	int64_t secs;

	/* Years 1970–2261 plus a day of offset stay well inside int64 nanoseconds. */
	secs = time_days_from_civil(t->year, t->month, t->day) * 86400 +
	    (int64_t)t->hour * 3600 + (int64_t)t->min * 60 + (int64_t)t->sec - t->offset;
	if (secs < 0)
		return core_error_set(err, "InvalidTimestamp", NULL,
		    "'%s' is not a valid timestamp: it is before 1970-01-01T00:00:00Z", q);
	/* The formatter's range too, so that every timestamp we accept can be written back. */
	if (secs >= time_days_from_civil(TIME_YEAR_MAX + 1, 1, 1) * 86400)
		return core_error_set(err, "InvalidTimestamp", NULL,
		    "'%s' is not a valid timestamp: it is after %d-12-31T23:59:59.999999999Z", q, TIME_YEAR_MAX);
	*ret_ns = secs * TIME_NS_PER_SEC + t->frac;
	return 0;
}

/* Read the text whole (a bad one answers with the syntax), then check the fields' ranges, then the whole. */
int
time_parse_rfc3339(const char *s, size_t n, int64_t *ret_ns, struct core_error *err)
{
	char q[ERROR_QUOTE_SIZE];
	struct rfc3339 t = { 0 };
	size_t pos = 0;
	int r;

	core_error_quote(s, n, q, sizeof(q));
	if (n == 0 || n > TIME_TEXT_MAX || take_date_time(s, n, &pos, &t) < 0)
		return rfc3339_syntax(q, err);
	if ((r = take_fraction(s, n, &pos, &t.frac, q, err)) < 0 || (r = take_zone(s, n, &pos, &t.offset, q, err)) < 0)
		return r;
	if (pos != n)
		return rfc3339_syntax(q, err);
	if ((r = rfc3339_check(&t, q, err)) < 0)
		return r;
	return rfc3339_to_ns(&t, ret_ns, q, err);
}

/* The text of ns: the fraction as short as it can be (exact), or in exactly 7 digits (ticks: Azure's). */
static int
format_rfc3339(int64_t ns, bool ticks, char *buf, size_t size)
{
	char text[TIME_FORMAT_SIZE];
	int64_t secs, days, rem, year, frac;
	unsigned month, day;
	int len, r;

	if (ns < 0)
		return -ERANGE;
	secs = ns / TIME_NS_PER_SEC;
	frac = ns % TIME_NS_PER_SEC;
	days = secs / 86400;
	rem = secs % 86400;
	time_civil_from_days(days, &year, &month, &day);
	if (year > TIME_YEAR_MAX)
		return -ERANGE;
	len = snprintf(text, sizeof(text), "%04d-%02u-%02uT%02d:%02d:%02d",
	    (int)year, month, day, (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60));
	if (len < 0 || (size_t)len >= sizeof(text))
		return -ERANGE;
	if (ticks || frac != 0) {
		int digits = 9;

		if (ticks) {
			frac /= TIME_NS_PER_TICK;
			digits = TIME_TICK_DIGITS;
		}
		while (!ticks && frac % 10 == 0) {
			frac /= 10;
			digits--;
		}
		r = snprintf(text + len, sizeof(text) - (size_t)len, ".%0*lld", digits, (long long)frac);
		if (r < 0 || (size_t)r >= sizeof(text) - (size_t)len)
			return -ERANGE;
		len += r;
	}
	if ((size_t)len + 1 >= sizeof(text))
		return -ERANGE;
	text[len++] = 'Z';
	text[len] = '\0';
	if ((size_t)len + 1 > size)
		return -ENOSPC;
	memcpy(buf, text, (size_t)len + 1);
	return len;
}

int
time_format_rfc3339(int64_t ns, char *buf, size_t size)
{
	return format_rfc3339(ns, false, buf, size);
}

int
time_format_azure(int64_t ns, char *buf, size_t size)
{
	return format_rfc3339(ns, true, buf, size);
}

int64_t
time_cut_to_tick(int64_t ns)
{
	return ns - ns % TIME_NS_PER_TICK;
}

static int64_t
clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * TIME_NS_PER_SEC + ts.tv_nsec;
}

int64_t
time_now_ns(void)
{
	return clock_ns(CLOCK_REALTIME);
}

int64_t
time_now_ms(void)
{
	return time_ns_to_ms(time_now_ns());
}

int64_t
time_mono_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

int64_t
time_mono_ms(void)
{
	return time_ns_to_ms(time_mono_ns());
}

/* ISO 8601 durations: a strict parser for the fixed-length units and Azure's hours-minutes-seconds form. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "duration.h"

#define MS_SECOND	1000LL
#define MS_MINUTE	(60 * MS_SECOND)
#define MS_HOUR		(60 * MS_MINUTE)
#define MS_DAY		(24 * MS_HOUR)
#define MS_WEEK		(7 * MS_DAY)

/* Why a parse failed; each has its own message. */
enum dur_fault {
	DUR_SYNTAX,
	DUR_SIGN,
	DUR_EMPTY,
	DUR_EMPTY_TIME,
	DUR_CALENDAR,
	DUR_FRACTION,
	DUR_ORDER,
	DUR_LOWER,
	DUR_TOO_LONG,
};

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/*
 * The number s[start..end) — "digits[(.|,)digits]", already checked — in `unit` ms,
 * the fraction truncated.
 */
static int
component_ms(const char *s, size_t start, size_t end, int64_t unit, int64_t *ret_ms)
{
	size_t i = start, fend;
	int64_t whole = 0, frac = 0;

	for (; i < end && is_digit(s[i]); i++) {
		whole = whole * 10 + (s[i] - '0');
		if (whole > DURATION_MS_MAX)
			return -ERANGE;
	}
	/*
	 * floor(0.d1d2…dk × unit), exactly, by Horner's rule from the last digit:
	 * floor((d·unit + floor(x)) / 10) == floor((d·unit + x) / 10) for integer d·unit.
	 */
	for (fend = end; fend > i + 1; fend--)
		frac = ((s[fend - 1] - '0') * unit + frac) / 10;
	if (whole > (DURATION_MS_MAX - frac) / unit)
		return -ERANGE;
	*ret_ms = whole * unit + frac;
	return 0;
}

static int
fail(enum dur_fault *fault, enum dur_fault why)
{
	*fault = why;
	return -EINVAL;
}

/* Designators in the order they may appear: date part, then after 'T' the time part. */
static const struct dur_unit {
	char letter;
	bool time;
	int64_t unit;
} units[] = {
	{ 'W', false, MS_WEEK },
	{ 'D', false, MS_DAY },
	{ 'H', true, MS_HOUR },
	{ 'M', true, MS_MINUTE },
	{ 'S', true, MS_SECOND },
};
#define N_UNITS (sizeof(units) / sizeof(units[0]))

/* What the components read so far allow next. */
struct dur_parse {
	size_t next;		/* the first index of units[] still allowed */
	int64_t total;
	bool in_time, fraction, any, any_time, week;
};

/* "digits[(.|,)digits]" at s[*pos]; says whether it had a fraction; advances only on success. */
static int
take_number(const char *s, size_t n, size_t *pos, bool *ret_fraction, enum dur_fault *fault)
{
	size_t p = *pos, fstart;
	bool fraction = false;

	while (p < n && is_digit(s[p]))
		p++;
	if (p == *pos)
		return fail(fault, DUR_SYNTAX);
	if (p < n && (s[p] == '.' || s[p] == ',')) {
		fstart = ++p;
		while (p < n && is_digit(s[p]))
			p++;
		if (p == fstart)
			return fail(fault, DUR_SYNTAX);
		fraction = true;
	}
	*pos = p;
	*ret_fraction = fraction;
	return 0;
}

/* The index in units[] of the designator c, in the date or the time part. */
static int
unit_of(char c, bool in_time, enum dur_fault *fault)
{
	size_t k;

	if (c == 'Y' || (c == 'M' && !in_time))
		return fail(fault, DUR_CALENDAR);
	if (c >= 'a' && c <= 'z')
		return fail(fault, DUR_LOWER);
	for (k = 0; k < N_UNITS; k++)
		if (units[k].letter == c && units[k].time == in_time)
			return (int)k;
	return fail(fault, DUR_SYNTAX);
}

/* One component (a number and its designator) at s[*pos], added to d; advances only on success. */
static int
take_component(const char *s, size_t n, size_t *pos, struct dur_parse *d, enum dur_fault *fault)
{
	size_t p = *pos, start = *pos, k;
	int64_t part;
	bool fraction;
	int u;

	if (s[p] == 't')
		return fail(fault, DUR_LOWER);
	if (s[p] == '-' || s[p] == '+')
		return fail(fault, DUR_SIGN);
	if (d->fraction)
		return fail(fault, DUR_FRACTION);
	if (d->week)
		return fail(fault, DUR_ORDER);
	if (take_number(s, n, &p, &fraction, fault) < 0)
		return -EINVAL;
	if (p >= n)
		return fail(fault, DUR_SYNTAX);
	if ((u = unit_of(s[p], d->in_time, fault)) < 0)
		return u;
	k = (size_t)u;
	if (k < d->next || (units[k].letter == 'W' && d->any))
		return fail(fault, DUR_ORDER);
	if (component_ms(s, start, p, units[k].unit, &part) < 0 || part > DURATION_MS_MAX - d->total) {
		*fault = DUR_TOO_LONG;
		return -ERANGE;
	}
	d->total += part;
	d->fraction = fraction;
	d->week = units[k].letter == 'W';
	d->next = k + 1;
	d->any = true;
	d->any_time = d->any_time || d->in_time;
	*pos = p + 1;
	return 0;
}

static int
parse(const char *s, size_t n, int64_t *ret_ms, enum dur_fault *fault)
{
	struct dur_parse d = { 0 };
	size_t pos;
	int r;

	if (n == 0)
		return fail(fault, DUR_SYNTAX);
	if (s[0] == '-' || s[0] == '+')
		return fail(fault, DUR_SIGN);
	if (s[0] != 'P')
		return fail(fault, s[0] == 'p' ? DUR_LOWER : DUR_SYNTAX);
	pos = 1;
	while (pos < n) {
		if (s[pos] == 'T') {
			if (d.in_time)
				return fail(fault, DUR_SYNTAX);
			d.in_time = true;
			if (d.next < 2)
				d.next = 2;	/* after 'T' only H, M, S */
			pos++;
			continue;
		}
		if ((r = take_component(s, n, &pos, &d, fault)) < 0)
			return r;
	}
	if (!d.any)
		return fail(fault, DUR_EMPTY);
	if (d.in_time && !d.any_time)
		return fail(fault, DUR_EMPTY_TIME);
	*ret_ms = d.total;
	return 0;
}

int
duration_parse_iso8601(const char *s, size_t n, int64_t *ret_ms, struct core_error *err)
{
	char q[ERROR_QUOTE_SIZE];
	enum dur_fault fault = DUR_SYNTAX;
	const char *why;
	int64_t ms;

	if (n <= DURATION_TEXT_MAX && parse(s, n, &ms, &fault) == 0) {
		*ret_ms = ms;
		return 0;
	}
	switch (fault) {
	case DUR_SIGN:
		why = "durations cannot be negative or signed";
		break;
	case DUR_EMPTY:
		why = "it names no length; give at least one of days, hours, minutes or seconds";
		break;
	case DUR_EMPTY_TIME:
		why = "a 'T' must be followed by hours, minutes or seconds";
		break;
	case DUR_CALENDAR:
		why = "years and months have no fixed length; use weeks, days, hours, minutes or seconds";
		break;
	case DUR_FRACTION:
		why = "only the last component may have a fraction";
		break;
	case DUR_ORDER:
		why = "components must appear once each, in the order W, or D then T, H, M, S";
		break;
	case DUR_LOWER:
		why = "the designators P, T, W, D, H, M and S must be upper-case";
		break;
	case DUR_TOO_LONG:
		why = "it is longer than the longest duration accepted (366 days)";
		break;
	case DUR_SYNTAX:
	default:
		why = "expected ISO 8601 such as PT3H, PT1H30M or P1D";
		break;
	}
	return core_error_set(err, "InvalidDuration", NULL, "'%s' is not a valid duration: %s",
	    core_error_quote(s, n, q, sizeof(q)), why);
}

int
duration_format_iso8601(int64_t ms, char *buf, size_t size)
{
	char text[DURATION_FORMAT_SIZE];
	int64_t hours, minutes, seconds, millis;
	int len, r;

	if (ms < 0)
		return -ERANGE;
	hours = ms / MS_HOUR;
	minutes = ms % MS_HOUR / MS_MINUTE;
	seconds = ms % MS_MINUTE / MS_SECOND;
	millis = ms % MS_SECOND;

	memcpy(text, "PT", 2);
	len = 2;
	if (hours > 0) {
		r = snprintf(text + len, sizeof(text) - (size_t)len, "%lldH", (long long)hours);
		if (r < 0 || (size_t)r >= sizeof(text) - (size_t)len)
			return -ERANGE;
		len += r;
	}
	if (minutes > 0) {
		r = snprintf(text + len, sizeof(text) - (size_t)len, "%lldM", (long long)minutes);
		if (r < 0 || (size_t)r >= sizeof(text) - (size_t)len)
			return -ERANGE;
		len += r;
	}
	if (seconds > 0 || millis > 0 || ms == 0) {
		if (millis == 0) {
			r = snprintf(text + len, sizeof(text) - (size_t)len, "%lldS", (long long)seconds);
		} else {
			int digits = 3;

			while (millis % 10 == 0) {
				millis /= 10;
				digits--;
			}
			r = snprintf(text + len, sizeof(text) - (size_t)len, "%lld.%0*lldS",
			    (long long)seconds, digits, (long long)millis);
		}
		if (r < 0 || (size_t)r >= sizeof(text) - (size_t)len)
			return -ERANGE;
		len += r;
	}
	if ((size_t)len + 1 > size)
		return -ENOSPC;
	memcpy(buf, text, (size_t)len);
	buf[len] = '\0';
	return len;
}

/* "2d3h30m15s": each part digits then one of d h m s, each unit at most once and in that order. */
static int
duration_short(const char *s, size_t n, int64_t *ret_ms)
{
	static const struct {
		char unit;
		int64_t ms;
	} short_units[] = { { 'd', MS_DAY }, { 'h', MS_HOUR }, { 'm', MS_MINUTE }, { 's', MS_SECOND } };
	int64_t total = 0;
	size_t i = 0, next_unit = 0;

	if (n == 0)
		return -EINVAL;
	while (i < n) {
		int64_t v = 0;
		size_t digits = 0, u;

		while (i < n && s[i] >= '0' && s[i] <= '9') {
			if (v > DURATION_MS_MAX)
				return -ERANGE;
			v = v * 10 + (s[i] - '0');
			i++, digits++;
		}
		if (!digits || i >= n)
			return -EINVAL;
		for (u = next_unit; u < sizeof(short_units) / sizeof(short_units[0]); u++)
			if (s[i] == short_units[u].unit || s[i] == short_units[u].unit - 'a' + 'A')
				break;
		if (u == sizeof(short_units) / sizeof(short_units[0]))
			return -EINVAL;
		if (v > DURATION_MS_MAX / short_units[u].ms)
			return -ERANGE;
		total += v * short_units[u].ms;
		if (total > DURATION_MS_MAX)
			return -ERANGE;
		next_unit = u + 1;
		i++;
	}
	*ret_ms = total;
	return 0;
}

int
duration_parse_text(const char *s, size_t n, int64_t *ret_ms)
{
	char up[DURATION_TEXT_MAX + 1];
	size_t i;
	int64_t ms;

	if (n == 0 || n > DURATION_TEXT_MAX)
		return -EINVAL;
	if (s[0] == 'P' || s[0] == 'p') {
		/* ISO 8601 wants upper-case designators; people type pt3h */
		for (i = 0; i < n; i++)
			up[i] = s[i] >= 'a' && s[i] <= 'z' ? (char)(s[i] - 'a' + 'A') : s[i];
		if (duration_parse_iso8601(up, n, &ms, NULL) < 0)
			return -EINVAL;
	} else if (duration_short(s, n, &ms) < 0) {
		return -EINVAL;
	}
	if (ms <= 0)
		return -EINVAL;
	*ret_ms = ms;
	return 0;
}

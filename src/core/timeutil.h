/* RFC 3339 timestamps as Azure writes them, to and from UTC nanoseconds since the epoch. */
#ifndef JITGATE_CORE_TIMEUTIL_H
#define JITGATE_CORE_TIMEUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define TIME_NS_PER_SEC		1000000000LL
#define TIME_NS_PER_MS		1000000LL
#define TIME_MS_PER_SEC		1000LL

/*
 * "2018-05-17T09:06:45.5691611Z": date, 'T' (or 't'), time, 0–9 fraction digits,
 * then 'Z' (or 'z') or an offset ±hh:mm. Years TIME_YEAR_MIN..TIME_YEAR_MAX, and the
 * instant itself, in UTC, must lie within those years too. Leap seconds (:60) are refused.
 * On success *ret_ns is UTC nanoseconds since 1970-01-01T00:00:00Z.
 * Fails with -EINVAL and code "InvalidTimestamp".
 */
int time_parse_rfc3339(const char *s, size_t n, int64_t *ret_ns, struct core_error *err);

/*
 * Writes "YYYY-MM-DDThh:mm:ss[.fraction]Z" (UTC; the fraction without trailing zeros,
 * no '.' when whole) and a NUL. TIME_FORMAT_SIZE bytes always suffice. Returns the
 * length, -ENOSPC when buf is short, -ERANGE when ns is negative or past TIME_YEAR_MAX.
 */
int time_format_rfc3339(int64_t ns, char *buf, size_t size);

/*
 * The same instant as Azure writes its times (.NET's round-trip format): always exactly
 * TIME_TICK_DIGITS fraction digits, "2018-05-17T09:06:45.5691611Z", "…:45.0000000Z", the
 * nanoseconds cut down to whole 100 ns ticks (toward the past). Every time in an API answer
 * is written so: .NET's and PowerShell's readers refuse 9 digits. Same returns as above.
 */
#define TIME_NS_PER_TICK	100LL
#define TIME_TICK_DIGITS	7
int time_format_azure(int64_t ns, char *buf, size_t size);

/*
 * The instant time_format_azure writes for ns (>= 0): ns cut down to a whole tick. A decoder whose value
 * goes out again in Azure's form keeps this, so that what it decodes encodes and decodes to itself.
 */
int64_t time_cut_to_tick(int64_t ns);

/* Conversions that round toward negative infinity (ns→ms) or saturate at INT64 limits (ms→ns). */
int64_t time_ns_to_ms(int64_t ns);
int64_t time_ms_to_ns(int64_t ms);

/*
 * When a grant ends, read now: a grant has an absolute end on the wall clock (end_ns, UTC) and,
 * when it was made in this boot (same_boot), an end on CLOCK_MONOTONIC (mono_end_ns; 0: none).
 * It ends at whichever comes first, given as a wall-clock time at (now_ns, mono_ns): a wall
 * clock stepped back never stretches it, a step forward ends it early. Within
 * TIME_CLOCK_SLACK_NS the two ends agree (no step, only rounding) and end_ns is kept as it is.
 * A result at or before now_ns means the grant has ended.
 */
#define TIME_CLOCK_SLACK_NS	(100 * TIME_NS_PER_MS)
int64_t time_end_on_both_clocks(int64_t end_ns, int64_t mono_end_ns, bool same_boot, int64_t now_ns, int64_t mono_ns);

/*
 * The clocks, read in one place: the wall clock (CLOCK_REALTIME, Unix time, UTC; what end
 * times are measured against) and the monotonic one (CLOCK_MONOTONIC: never steps; like the
 * kernel's jiffies it stops during suspend), in nanoseconds or in milliseconds rounded down.
 */
int64_t time_now_ns(void);
int64_t time_now_ms(void);
int64_t time_mono_ns(void);
int64_t time_mono_ms(void);

/* Days since 1970-01-01 of a proleptic Gregorian date, and back; month 1–12, day 1–31. */
int64_t time_days_from_civil(int64_t year, unsigned month, unsigned day);
void time_civil_from_days(int64_t days, int64_t *ret_year, unsigned *ret_month, unsigned *ret_day);
unsigned time_days_in_month(int64_t year, unsigned month);

#endif

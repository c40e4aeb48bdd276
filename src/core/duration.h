/* ISO 8601 durations (maxRequestAccessDuration), to and from milliseconds. */
#ifndef JITGATE_CORE_DURATION_H
#define JITGATE_CORE_DURATION_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

/*
 * "PnW" or "P[nD][T[nH][nM][nS]]", designators upper-case only; n is decimal digits,
 * with a fraction ('.' or ',') allowed on the last component only (PT0.5H, PT1,5S).
 * Years and months are refused (no fixed length), as are signs, empty parts ("P",
 * "PT", "P1DT") and totals beyond DURATION_MS_MAX. Fractions of a millisecond are
 * truncated. Fails with -EINVAL and code "InvalidDuration".
 */
int duration_parse_iso8601(const char *s, size_t n, int64_t *ret_ms, struct core_error *err);

/*
 * Writes the duration as Azure shows one: hours, minutes and seconds only
 * ("PT3H", "PT1H30M", "PT24H", "PT1.5S", "PT0S") and a NUL. DURATION_FORMAT_SIZE
 * bytes always suffice. Returns the length, -ENOSPC when buf is short, -ERANGE when ms < 0.
 */
int duration_format_iso8601(int64_t ms, char *buf, size_t size);

/*
 * What people type on a command line (the CLI's --for, jitgated's --expires): "2d3h30m15s" (each
 * part digits then d, h, m or s, each unit at most once and in that order, either case) or ISO 8601
 * in either case ("pt3h"). Positive and at most DURATION_MS_MAX: 0, or -EINVAL.
 */
int duration_parse_text(const char *s, size_t n, int64_t *ret_ms);

#endif

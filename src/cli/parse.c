/* The client's parsers for what people type: short durations (1h30m), local times, port specs (22/tcp). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/parse.h"
#include "core/duration.h"
#include "core/net.h"
#include "core/timeutil.h"

/* "2d3h30m15s": each part digits then one of d h m s, each unit at most once and in that order. */
static int
duration_short(const char *s, size_t n, int64_t *ret_ms)
{
	static const struct {
		char unit;
		int64_t ms;
	} units[] = { { 'd', 86400000LL }, { 'h', 3600000LL }, { 'm', 60000LL }, { 's', 1000LL } };
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
		for (u = next_unit; u < sizeof(units) / sizeof(units[0]); u++)
			if (s[i] == units[u].unit || s[i] == units[u].unit - 'a' + 'A')
				break;
		if (u == sizeof(units) / sizeof(units[0]))
			return -EINVAL;
		if (v > DURATION_MS_MAX / units[u].ms)
			return -ERANGE;
		total += v * units[u].ms;
		if (total > DURATION_MS_MAX)
			return -ERANGE;
		next_unit = u + 1;
		i++;
	}
	*ret_ms = total;
	return 0;
}

int
cli_duration_parse(const char *s, int64_t *ret_ms)
{
	char up[DURATION_TEXT_MAX + 1];
	size_t n = strlen(s), i;
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

/* Local "YYYY-MM-DD HH:MM[:SS]" (or with 'T'), or "HH:MM[:SS]" as the next such time. */
static int
time_local(const char *s, int64_t now_ns, int64_t *ret_ns)
{
	static const char *const full[] = { "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M" };
	static const char *const clock_only[] = { "%H:%M:%S", "%H:%M" };
	struct tm tm;
	time_t now = (time_t)(now_ns / TIME_NS_PER_SEC), t;
	const char *end;
	size_t i;

	for (i = 0; i < sizeof(full) / sizeof(full[0]); i++) {
		memset(&tm, 0, sizeof(tm));
		end = strptime(s, full[i], &tm);
		if (end && !*end) {
			tm.tm_isdst = -1;
			if ((t = mktime(&tm)) == (time_t)-1)
				return -EINVAL;
			*ret_ns = (int64_t)t * TIME_NS_PER_SEC;
			return 0;
		}
	}
	for (i = 0; i < sizeof(clock_only) / sizeof(clock_only[0]); i++) {
		struct tm today;

		memset(&tm, 0, sizeof(tm));
		end = strptime(s, clock_only[i], &tm);
		if (!end || *end || !localtime_r(&now, &today))
			continue;
		today.tm_hour = tm.tm_hour;
		today.tm_min = tm.tm_min;
		today.tm_sec = tm.tm_sec;
		today.tm_isdst = -1;
		if ((t = mktime(&today)) == (time_t)-1)
			return -EINVAL;
		if (t <= now) {
			today.tm_mday++;
			today.tm_isdst = -1;
			t = mktime(&today);
		}
		*ret_ns = (int64_t)t * TIME_NS_PER_SEC;
		return 0;
	}
	return -EINVAL;
}

int
cli_time_parse(const char *s, int64_t now_ns, int64_t *ret_ns)
{
	size_t n = strlen(s);

	if (n == 0 || n > TIME_TEXT_MAX)
		return -EINVAL;
	if (time_parse_rfc3339(s, n, ret_ns, NULL) == 0)
		return 0;
	return time_local(s, now_ns, ret_ns);
}

int
cli_when_parse(const char *s, int64_t now_ns, int64_t *ret_ns)
{
	int64_t ms;

	if (cli_duration_parse(s, &ms) == 0) {
		*ret_ns = now_ns - ms * TIME_NS_PER_MS;
		return 0;
	}
	return cli_time_parse(s, now_ns, ret_ns);
}

int
cli_port_parse(const char *s, uint16_t *ret_port, const char **ret_proto)
{
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);
	enum net_proto p;
	uint16_t port;

	if (net_port_parse(s, n, &port, NULL) < 0)
		return -EINVAL;
	if (slash) {
		if (net_proto_parse(slash + 1, strlen(slash + 1), &p, NULL) < 0)
			return -EINVAL;
		*ret_proto = net_proto_name(p);
	} else {
		*ret_proto = NULL;
	}
	*ret_port = port;
	return 0;
}

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

int
cli_duration_parse(const char *s, int64_t *ret_ms)
{
	return duration_parse_text(s, strlen(s), ret_ms);
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

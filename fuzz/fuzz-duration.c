/* Fuzz target for ISO 8601 durations: parse, then format and parse again to the same length. */
#include <errno.h>

#include "core/duration.h"
#include "fuzz-common.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char buf[DURATION_FORMAT_SIZE], buf2[DURATION_FORMAT_SIZE];
	struct core_error err;
	int64_t ms, again, raw;
	char *s = fuzz_copy(data, size);
	int len, len2;

	if (duration_parse_iso8601(s, size, &ms, &err) == 0) {
		fuzz_check(ms >= 0 && ms <= DURATION_MS_MAX);
		len = duration_format_iso8601(ms, buf, sizeof(buf));
		fuzz_check(len > 0 && (size_t)len < sizeof(buf) && strlen(buf) == (size_t)len);
		fuzz_check(duration_parse_iso8601(buf, (size_t)len, &again, NULL) == 0);
		fuzz_check(again == ms);
		len2 = duration_format_iso8601(again, buf2, sizeof(buf2));
		fuzz_check(len2 == len && memcmp(buf, buf2, (size_t)len) == 0);
		fuzz_check(duration_format_iso8601(ms, buf2, (size_t)len) == -ENOSPC);
	} else {
		fuzz_check_error(&err, "InvalidDuration");
	}

	/* Every value in range formats and parses back; any non-negative int64 formats. */
	if (size >= sizeof(raw)) {
		memcpy(&raw, data, sizeof(raw));
		len = duration_format_iso8601(raw, buf, sizeof(buf));
		if (raw < 0) {
			fuzz_check(len == -ERANGE);
		} else {
			fuzz_check(len > 0);
			if (raw <= DURATION_MS_MAX) {
				fuzz_check(duration_parse_iso8601(buf, (size_t)len, &again, NULL) == 0);
				fuzz_check(again == raw);
			} else {
				fuzz_check(duration_parse_iso8601(buf, (size_t)len, &again, NULL) == -EINVAL);
			}
		}
	}
	free(s);
	return 0;
}

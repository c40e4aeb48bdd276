/* Fuzz target for RFC 3339 timestamps: parse, then format (exact and Azure's 7 digits) and parse again. */
#include <errno.h>

#include "core/timeutil.h"
#include "fuzz-common.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char buf[TIME_FORMAT_SIZE], buf2[TIME_FORMAT_SIZE];
	struct core_error err;
	int64_t ns, again, raw;
	char *s = fuzz_copy(data, size);
	int len, len2;

	if (time_parse_rfc3339(s, size, &ns, &err) == 0) {
		fuzz_check(ns >= 0);
		len = time_format_rfc3339(ns, buf, sizeof(buf));
		fuzz_check(len > 0 && (size_t)len < sizeof(buf) && strlen(buf) == (size_t)len);
		fuzz_check(time_parse_rfc3339(buf, (size_t)len, &again, NULL) == 0);
		fuzz_check(again == ns);
		len2 = time_format_rfc3339(again, buf2, sizeof(buf2));
		fuzz_check(len2 == len && memcmp(buf, buf2, (size_t)len) == 0);
		/* One byte short is refused, never cut. */
		fuzz_check(time_format_rfc3339(ns, buf2, (size_t)len) == -ENOSPC);
		/* Azure's form: always 7 digits, back to the same instant less its part of a 100 ns tick. */
		len = time_format_azure(ns, buf, sizeof(buf));
		fuzz_check(len == 28 && buf[19] == '.' && buf[27] == 'Z');
		fuzz_check(time_parse_rfc3339(buf, (size_t)len, &again, NULL) == 0);
		fuzz_check(again == time_cut_to_tick(ns));
	} else {
		fuzz_check_error(&err, "InvalidTimestamp");
	}

	/* Any int64 that formats must parse back to itself. */
	if (size >= sizeof(raw)) {
		memcpy(&raw, data, sizeof(raw));
		len = time_format_rfc3339(raw, buf, sizeof(buf));
		if (len > 0) {
			fuzz_check(time_parse_rfc3339(buf, (size_t)len, &again, NULL) == 0);
			fuzz_check(again == raw);
		} else {
			fuzz_check(len == -ERANGE);
		}
	}
	free(s);
	return 0;
}

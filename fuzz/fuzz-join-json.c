/*
 * Fuzz target for the join token ask (codec-join.h): what decodes is within the limits and must encode
 * and decode again to the same thing; a refusal writes nothing and names its field in printable text.
 */
#include <errno.h>

#include "codec/codec.h"
#include "codec/codec-join.h"
#include "fuzz-common.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct join_ask a, b, untouched;
	struct core_error err;
	char *body = fuzz_copy(data, size), *text;
	size_t i, n;
	json_t *j;
	int r;

	memset(&a, 0x5a, sizeof(a));
	untouched = a;
	r = codec_join_ask_decode(body, size, &a, &err);
	if (r < 0) {
		fuzz_check(r == -EINVAL);
		fuzz_check_error(&err, err.code);
		for (i = 0; err.target[i] != '\0'; i++)
			fuzz_check(err.target[i] >= 0x20 && err.target[i] < 0x7f);
		fuzz_check(memcmp(&a, &untouched, sizeof(a)) == 0);
		goto out;
	}
	fuzz_check(a.uses >= 1 && a.uses <= JOIN_USES_MAX);
	fuzz_check(a.expires_ms >= JOIN_EXPIRES_MIN_MS && a.expires_ms <= JOIN_EXPIRES_MAX_MS);
	fuzz_check(a.resource_group[0] != '\0');
	j = codec_join_ask_encode(&a);
	fuzz_check(j != NULL);
	text = codec_dump(j, &n);
	json_decref(j);
	fuzz_check(text != NULL);
	memset(&b, 0, sizeof(b));
	fuzz_check(codec_join_ask_decode(text, n, &b, &err) == 0);
	fuzz_check(strcmp(a.resource_group, b.resource_group) == 0 && a.uses == b.uses);
	/* the encoder writes hours, minutes and seconds: exact to the millisecond */
	fuzz_check(a.expires_ms == b.expires_ms);
	free(text);
out:
	free(body);
	return 0;
}

/* Fuzz target for approve and deny bodies: decode, encode, decode again to the same decision. */
#include <errno.h>

#include "codec/codec.h"
#include "fuzz-common.h"

static const char *const codes[] = {
	"InvalidJson", "InvalidType", "MissingField", "ValueTooLong", "InvalidRequestId", "BodyTooLarge",
};

static void
check_refusal(const struct core_error *err)
{
	size_t i, known = 0;

	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		known |= strcmp(err->code, codes[i]) == 0;
	if (!known)
		fprintf(stderr, "unexpected code %s\n", err->code);
	fuzz_check(known);
	fuzz_check_error(err, err->code);
	for (i = 0; err->target[i] != '\0'; i++)
		fuzz_check(err->target[i] >= 0x20 && err->target[i] < 0x7f);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct approval_body b, again;
	struct core_error err;
	char *body = fuzz_copy(data, size), *s;
	json_t *enc;
	size_t n;
	int r;

	r = codec_approval_decode(body, size, &b, &err);
	if (r < 0) {
		fuzz_check(r == -EINVAL);
		check_refusal(&err);
		free(body);
		return 0;
	}
	fuzz_check(r == 0 && b.request_id[0] != '\0');
	fuzz_check(memchr(b.request_id, '\0', sizeof(b.request_id)) != NULL);
	fuzz_check(memchr(b.reason, '\0', sizeof(b.reason)) != NULL);
	enc = codec_approval_encode(&b);
	fuzz_check(enc != NULL);
	s = codec_dump(enc, &n);
	fuzz_check(s != NULL);
	json_decref(enc);
	r = codec_approval_decode(s, n, &again, &err);
	fuzz_check(r == 0);
	fuzz_check(strcmp(b.request_id, again.request_id) == 0 && strcmp(b.reason, again.reason) == 0);
	free(s);
	free(body);
	return 0;
}

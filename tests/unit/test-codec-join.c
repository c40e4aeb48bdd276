/* Unit tests for the join token bodies: defaults, round trips, each refusal with its code and target, and the states. */
#include <errno.h>
#include <stdio.h>

#include "codec/codec.h"
#include "codec/codec-join.h"
#include "core/timeutil.h"
#include "testutil.h"

static void
test_ask_defaults_and_round_trip(void **unused)
{
	struct join_ask a, b;
	struct core_error err;
	json_t *j;
	char *copy, *text;
	size_t n, len;

	(void)unused;
	copy = test_copy_unterminated("{\"resourceGroup\":\"rg1\"}", &n);
	assert_int_equal(codec_join_ask_decode(copy, n, &a, &err), 0);
	free(copy);
	assert_string_equal(a.resource_group, "rg1");
	assert_int_equal(a.uses, JOIN_USES_DEFAULT);
	assert_int_equal(a.expires_ms, JOIN_EXPIRES_DEFAULT_MS);

	assert_int_equal(codec_join_ask_decode(S("{\"resourceGroup\":\"Prod-1\",\"uses\":1000,\"expiresIn\":\"P30D\","
						 "\"other\":[1]}"), &a, &err), 0);
	assert_int_equal(a.uses, JOIN_USES_MAX);
	assert_int_equal(a.expires_ms, JOIN_EXPIRES_MAX_MS);
	j = codec_join_ask_encode(&a);
	text = codec_dump(j, &len);
	json_decref(j);
	assert_non_null(text);
	memset(&b, 0, sizeof(b));
	assert_int_equal(codec_join_ask_decode(text, len, &b, &err), 0);
	assert_memory_equal(&a, &b, sizeof(a));
	free(text);
	/* null is "not sent", as elsewhere */
	assert_int_equal(codec_join_ask_decode(S("{\"resourceGroup\":\"rg1\",\"uses\":null,\"expiresIn\":null}"), &a,
					       &err), 0);
	assert_int_equal(a.uses, 1);
}

static void
test_ask_refused(void **unused)
{
	struct join_ask a = { .uses = 77 };
	struct core_error err;

	(void)unused;
	assert_int_equal(codec_join_ask_decode(S("{"), &a, &err), -EINVAL);
	assert_error(&err, "InvalidJson", "");
	assert_int_equal(codec_join_ask_decode(S("[]"), &a, &err), -EINVAL);
	assert_error(&err, "InvalidType", "");
	assert_int_equal(codec_join_ask_decode(S("{}"), &a, &err), -EINVAL);
	assert_error(&err, "MissingField", "resourceGroup");
	assert_int_equal(codec_join_ask_decode(S("{\"resourceGroup\":7}"), &a, &err), -EINVAL);
	assert_error(&err, "InvalidType", "resourceGroup");
	assert_int_equal(codec_join_ask_decode(S("{\"resourceGroup\":\"bad$rg\"}"), &a, &err), -EINVAL);
	assert_string_equal(err.target, "resourceGroup");
	assert_int_equal(codec_join_ask_decode(S("{\"resourceGroup\":\"\"}"), &a, &err), -EINVAL);
	assert_string_equal(err.target, "resourceGroup");
	assert_int_equal(codec_join_ask_decode(S("{\"resourceGroup\":\"rg1\",\"uses\":\"2\"}"), &a, &err), -EINVAL);
	assert_error(&err, "InvalidType", "uses");
	assert_int_equal(codec_join_ask_decode(S("{\"resourceGroup\":\"rg1\",\"uses\":0}"), &a, &err), -EINVAL);
	assert_error(&err, "InvalidValue", "uses");
	assert_int_equal(codec_join_ask_decode(S("{\"resourceGroup\":\"rg1\",\"uses\":1001}"), &a, &err), -EINVAL);
	assert_error(&err, "InvalidValue", "uses");
	assert_int_equal(codec_join_ask_decode(S("{\"resourceGroup\":\"rg1\",\"uses\":1.5}"), &a, &err), -EINVAL);
	assert_error(&err, "InvalidType", "uses");
	assert_int_equal(codec_join_ask_decode(S("{\"resourceGroup\":\"rg1\",\"expiresIn\":24}"), &a, &err), -EINVAL);
	assert_error(&err, "InvalidType", "expiresIn");
	assert_int_equal(codec_join_ask_decode(S("{\"resourceGroup\":\"rg1\",\"expiresIn\":\"24h\"}"), &a, &err),
			 -EINVAL);
	assert_error(&err, "InvalidDuration", "expiresIn");
	assert_int_equal(codec_join_ask_decode(S("{\"resourceGroup\":\"rg1\",\"expiresIn\":\"P31D\"}"), &a, &err),
			 -EINVAL);
	assert_error(&err, "InvalidValue", "expiresIn");
	assert_int_equal(codec_join_ask_decode(S("{\"resourceGroup\":\"rg1\",\"expiresIn\":\"PT59S\"}"), &a, &err),
			 -EINVAL);
	assert_error(&err, "InvalidValue", "expiresIn");
	assert_int_equal(codec_join_ask_decode(S("{\"resourceGroup\":\"rg1\",\"resourceGroup\":\"rg2\"}"), &a, &err),
			 -EINVAL);
	assert_error(&err, "InvalidJson", "");
	assert_int_equal(a.uses, 77);	/* nothing written on failure */
}

static void
test_token_view(void **unused)
{
	struct join_token_view t;
	json_t *j;

	(void)unused;
	memset(&t, 0, sizeof(t));
	snprintf(t.id, sizeof(t.id), "jt-0123456789ab");
	snprintf(t.resource_group, sizeof(t.resource_group), "rg1");
	snprintf(t.created_by, sizeof(t.created_by), "token:owner");
	t.uses_left = 2;
	t.created_ns = 1000 * TIME_NS_PER_SEC;
	t.expires_ns = 2000 * TIME_NS_PER_SEC;
	assert_string_equal(codec_join_token_state(&t, 1500 * TIME_NS_PER_SEC), "Valid");
	assert_string_equal(codec_join_token_state(&t, 2000 * TIME_NS_PER_SEC), "Expired");
	j = codec_join_token_encode(&t, 1500 * TIME_NS_PER_SEC);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "id")), "jt-0123456789ab");
	assert_int_equal(json_integer_value(json_object_get(j, "usesLeft")), 2);
	assert_string_equal(json_string_value(json_object_get(j, "expiresTimeUtc")), "1970-01-01T00:33:20.0000000Z");
	assert_null(json_object_get(j, "revokedTimeUtc"));
	assert_null(json_object_get(j, "token"));
	json_decref(j);
	t.uses_left = 0;
	assert_string_equal(codec_join_token_state(&t, 0), "UsedUp");
	t.revoked_ns = 1200 * TIME_NS_PER_SEC;
	assert_string_equal(codec_join_token_state(&t, 0), "Revoked");
	j = codec_join_token_encode(&t, 0);
	assert_string_equal(json_string_value(json_object_get(j, "state")), "Revoked");
	assert_non_null(json_object_get(j, "revokedTimeUtc"));
	json_decref(j);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ask_defaults_and_round_trip),
		cmocka_unit_test(test_ask_refused),
		cmocka_unit_test(test_token_view),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests of single sign-on's pure checks: ID tokens signed here with libjose against a JWKS, discovery, JWKS, mappings, [sso] settings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <errno.h>

#include <cmocka.h>
#include <jose/b64.h>
#include <jose/jwk.h>
#include <jose/jws.h>

#include "api/api-oidc.h"

#define NOW	1800000000
#define ISS	"https://idp.example.com/realms/corp"

static json_t *rsa_k1, *rsa_k2, *ec_k3;	/* private keys */
static json_t *jwks;			/* public: k1 (RSA) and k3 (EC) */

static json_t *
key_new(const char *alg, const char *kid)
{
	json_t *k = json_pack("{s:s}", "alg", alg);

	assert_true(jose_jwk_gen(NULL, k));
	json_object_set_new(k, "kid", json_string(kid));
	json_object_set_new(k, "use", json_string("sig"));
	return k;
}

static json_t *
key_public(const json_t *k)
{
	json_t *p = json_deep_copy(k);

	assert_true(jose_jwk_pub(NULL, p));
	return p;
}

static int
setup(void **state)
{
	(void)state;
	rsa_k1 = key_new("RS256", "k1");
	rsa_k2 = key_new("RS256", "k2");
	ec_k3 = key_new("ES256", "k3");
	jwks = json_pack("{s:[o, o]}", "keys", key_public(rsa_k1), key_public(ec_k3));
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	json_decref(rsa_k1);
	json_decref(rsa_k2);
	json_decref(ec_k3);
	json_decref(jwks);
	return 0;
}

/* Honest claims for alice, then `edit` applied. */
static json_t *
claims_new(void)
{
	return json_pack("{s:s, s:s, s:s, s:I, s:I, s:s, s:s, s:b, s:[s, s]}", "iss", ISS, "aud", "jitgate", "sub", "u-1",
			 "iat", (json_int_t)NOW - 5, "exp", (json_int_t)NOW + 300, "nonce", "n-123", "email",
			 "alice@example.com", "email_verified", 1, "groups", "jit-users", "staff");
}

/* A compact JWS of claims, signed with key under this alg and header kid (NULL: none). */
static char *
sign(json_t *claims, const json_t *key, const char *alg, const char *kid)
{
	char *text = json_dumps(claims, JSON_COMPACT), *out;
	json_t *jws = json_pack("{s:o}", "payload", jose_b64_enc(text, strlen(text)));
	json_t *sig = kid ? json_pack("{s:{s:s, s:s}}", "protected", "alg", alg, "kid", kid)
			  : json_pack("{s:{s:s}}", "protected", "alg", alg);
	size_t n;

	assert_true(jose_jws_sig(NULL, jws, sig, key));
	n = strlen(json_string_value(json_object_get(jws, "protected"))) +
	    strlen(json_string_value(json_object_get(jws, "payload"))) +
	    strlen(json_string_value(json_object_get(jws, "signature"))) + 3;
	out = malloc(n);
	snprintf(out, n, "%s.%s.%s", json_string_value(json_object_get(jws, "protected")),
		 json_string_value(json_object_get(jws, "payload")), json_string_value(json_object_get(jws, "signature")));
	free(text);
	json_decref(jws);
	json_decref(sig);
	json_decref(claims);
	return out;
}

static const struct oidc_expect expect = { ISS, "jitgate", "n-123", "email", "groups", NOW };

static int
verify(const char *tok, struct oidc_claims *c, struct core_error *err)
{
	memset(err, 0, sizeof(*err));
	return oidc_id_token_verify(tok, strlen(tok), jwks, &expect, c, err);
}

static void
test_good_rs256_and_es256(void **state)
{
	struct oidc_claims c;
	struct core_error err;
	char *t = sign(claims_new(), rsa_k1, "RS256", "k1");

	(void)state;
	assert_int_equal(verify(t, &c, &err), 0);
	assert_string_equal(c.subject, "u-1");
	assert_string_equal(c.person, "alice@example.com");
	assert_int_equal(c.n_groups, 2);
	assert_string_equal(c.groups[0], "jit-users");
	free(t);
	t = sign(claims_new(), ec_k3, "ES256", "k3");
	assert_int_equal(verify(t, &c, &err), 0);
	free(t);
}

/* Each spoilt token is refused naming its check. */
static void
expect_refused(json_t *claims, const char *target)
{
	struct oidc_claims c;
	struct core_error err;
	char *t = sign(claims, rsa_k1, "RS256", "k1");

	assert_int_equal(verify(t, &c, &err), -EBADMSG);
	assert_string_equal(err.target, target);
	free(t);
}

static void
test_claims_refused(void **state)
{
	json_t *c;

	(void)state;
	c = claims_new(), json_object_set_new(c, "aud", json_string("another"));
	expect_refused(c, "aud");
	c = claims_new(), json_object_set_new(c, "aud", json_pack("[s, s]", "jitgate", "another"));
	expect_refused(c, "aud");	/* several audiences and no azp naming us */
	c = claims_new(), json_object_set_new(c, "iss", json_string("https://evil.example.com"));
	expect_refused(c, "iss");
	c = claims_new(), json_object_set_new(c, "exp", json_integer(NOW - OIDC_LEEWAY_S));
	expect_refused(c, "exp");
	c = claims_new(), json_object_set_new(c, "iat", json_integer(NOW + OIDC_LEEWAY_S + 1));
	expect_refused(c, "iat");
	c = claims_new(), json_object_set_new(c, "iat", json_integer(NOW - OIDC_IAT_MAX_AGE_S - 1));
	expect_refused(c, "iat");
	c = claims_new(), json_object_set_new(c, "nonce", json_string("n-124"));
	expect_refused(c, "nonce");
	c = claims_new(), json_object_del(c, "nonce");
	expect_refused(c, "nonce");
	c = claims_new(), json_object_del(c, "sub");
	expect_refused(c, "sub");
	c = claims_new(), json_object_del(c, "email");
	expect_refused(c, "email");
}

static void
test_aud_array_with_azp(void **state)
{
	json_t *cl = claims_new();
	struct oidc_claims c;
	struct core_error err;
	char *t;

	(void)state;
	json_object_set_new(cl, "aud", json_pack("[s, s]", "jitgate", "other"));
	json_object_set_new(cl, "azp", json_string("jitgate"));
	t = sign(cl, rsa_k1, "RS256", "k1");
	assert_int_equal(verify(t, &c, &err), 0);
	free(t);
}

static void
test_signature_and_keys(void **state)
{
	struct oidc_claims c;
	struct core_error err;
	char *t = sign(claims_new(), rsa_k1, "RS256", "k1");
	size_t n = strlen(t);

	(void)state;
	t[n - 5] = t[n - 5] == 'A' ? 'B' : 'A';	/* a spoilt signature */
	assert_int_equal(verify(t, &c, &err), -EBADMSG);
	assert_string_equal(err.target, "signature");
	free(t);
	/* signed by k2, which the JWKS lacks: -ENOKEY, so the caller refetches the keys */
	t = sign(claims_new(), rsa_k2, "RS256", "k2");
	assert_int_equal(verify(t, &c, &err), -ENOKEY);
	free(t);
	/* k2's signature under k1's kid */
	t = sign(claims_new(), rsa_k2, "RS256", "k1");
	assert_int_equal(verify(t, &c, &err), -EBADMSG);
	assert_string_equal(err.target, "signature");
	free(t);
	/* no kid and two keys of which one is RSA: only one fits, so it is tried */
	t = sign(claims_new(), rsa_k1, "RS256", NULL);
	assert_int_equal(verify(t, &c, &err), 0);
	free(t);
}

static void
test_algorithms_refused(void **state)
{
	struct oidc_claims c;
	struct core_error err;
	json_t *oct = json_pack("{s:s}", "alg", "HS256");
	char *t;

	(void)state;
	assert_true(jose_jwk_gen(NULL, oct));
	t = sign(claims_new(), oct, "HS256", "k1");
	assert_int_equal(verify(t, &c, &err), -EBADMSG);
	assert_string_equal(err.target, "alg");
	free(t);
	json_decref(oct);
	/* alg none: a header and claims with an empty signature */
	t = strdup("eyJhbGciOiJub25lIn0.eyJpc3MiOiJ4In0.");
	assert_int_equal(verify(t, &c, &err), -EBADMSG);
	assert_string_equal(err.target, "alg");
	free(t);
	/* an RS256 token naming the EC key's kid: no RSA key has that kid (refetch, then refused) */
	t = sign(claims_new(), rsa_k1, "RS256", "k3");
	assert_int_equal(verify(t, &c, &err), -ENOKEY);
	free(t);
}

static void
test_malformed(void **state)
{
	static const char *const bad[] = { "", ".", "..", "a.b.c", "a.b.c.d", "e30.e30.", "W10.e30.", "e30.W10." };
	struct oidc_claims c;
	struct core_error err;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(verify(bad[i], &c, &err), -EBADMSG);
}

static void
test_discovery(void **state)
{
	static const char good[] = "{\"issuer\":\"" ISS "\",\"authorization_endpoint\":\"https://idp/a\","
				   "\"token_endpoint\":\"https://idp/t\",\"jwks_uri\":\"https://idp/k\"}";
	static const char other[] = "{\"issuer\":\"https://other\",\"authorization_endpoint\":\"https://idp/a\","
				    "\"token_endpoint\":\"https://idp/t\",\"jwks_uri\":\"https://idp/k\"}";
	static const char plain[] = "{\"issuer\":\"" ISS "\",\"authorization_endpoint\":\"https://idp/a\","
				    "\"token_endpoint\":\"http://idp/t\",\"jwks_uri\":\"https://idp/k\"}";
	struct oidc_discovery d;
	struct core_error err = { 0 };

	(void)state;
	assert_int_equal(oidc_discovery_parse(good, strlen(good), ISS, &d, &err), 0);
	assert_string_equal(d.token_endpoint, "https://idp/t");
	assert_string_equal(d.device_endpoint, "");
	assert_int_equal(oidc_discovery_parse(other, strlen(other), ISS, &d, &err), -EBADMSG);
	assert_string_equal(err.target, "issuer");
	assert_int_equal(oidc_discovery_parse(plain, strlen(plain), ISS, &d, &err), -EBADMSG);
	assert_int_equal(oidc_discovery_parse("[]", 2, ISS, &d, &err), -EBADMSG);
}

static void
test_jwks_parse(void **state)
{
	char big[OIDC_JWKS_KEYS_MAX * 4 + 64];
	size_t i, n;
	json_t *j;
	struct core_error err = { 0 };

	(void)state;
	assert_int_equal(oidc_jwks_parse("{\"keys\":[]}", 11, &j, &err), 0);
	json_decref(j);
	assert_int_equal(oidc_jwks_parse("{\"keys\":{}}", 11, &j, &err), -EBADMSG);
	n = (size_t)snprintf(big, sizeof(big), "{\"keys\":[{}");
	for (i = 0; i < OIDC_JWKS_KEYS_MAX; i++)
		n += (size_t)snprintf(big + n, sizeof(big) - n, ",{}");
	n += (size_t)snprintf(big + n, sizeof(big) - n, "]}");
	assert_int_equal(oidc_jwks_parse(big, n, &j, &err), -EBADMSG);
}

static void
test_settings_and_maps(void **state)
{
	static struct oidc_settings s;
	const struct oidc_map *m[OIDC_MAPS_MAX];
	struct oidc_claims c;
	struct core_error err = { 0 };

	(void)state;
	memset(&s, 0, sizeof(s));
	assert_int_equal(oidc_settings_set(&s, "issuer", ISS, &err), 0);
	assert_int_equal(oidc_settings_set(&s, "client_id", "jitgate", &err), 0);
	assert_int_equal(oidc_settings_check(&s, &err), -EINVAL);
	assert_string_equal(err.target, "redirect_url");
	assert_int_equal(oidc_settings_set(&s, "redirect_url", "https://jg/oidc/callback", &err), 0);
	assert_int_equal(oidc_settings_check(&s, &err), -EINVAL);
	assert_string_equal(err.target, "map");
	assert_int_equal(oidc_settings_set(&s, "map", "group:admins SecurityAdmin /", &err), 0);
	assert_int_equal(oidc_settings_set(&s, "map", "domain:example.com JitRequester /subscriptions/x", &err), 0);
	assert_int_equal(oidc_settings_set(&s, "map", "team:x Reader /", &err), -EINVAL);
	assert_int_equal(oidc_settings_set(&s, "map", "group:x Reader", &err), -EINVAL);
	assert_int_equal(oidc_settings_set(&s, "map", "group:x Reader / extra", &err), -EINVAL);
	assert_int_equal(oidc_settings_set(&s, "map", "group:x Reader relative", &err), -EINVAL);
	assert_int_equal(oidc_settings_set(&s, "max_session", "PT25H", &err), -EINVAL);
	assert_int_equal(oidc_settings_set(&s, "colour", "blue", &err), -EINVAL);
	assert_int_equal(oidc_settings_check(&s, &err), 0);
	assert_string_equal(s.person_claim, "email");
	assert_int_equal(s.max_session_s, OIDC_SESSION_DEFAULT_S);
	assert_int_equal(s.n_maps, 2);

	memset(&c, 0, sizeof(c));
	snprintf(c.person, sizeof(c.person), "bob@EXAMPLE.com");
	c.person_verified = true;
	assert_int_equal(oidc_map_claims(&s, &c, m, OIDC_MAPS_MAX), 1);
	assert_string_equal(m[0]->role, "JitRequester");
	snprintf(c.groups[c.n_groups++], sizeof(c.groups[0]), "admins");
	assert_int_equal(oidc_map_claims(&s, &c, m, OIDC_MAPS_MAX), 2);
	assert_string_equal(m[0]->role, "SecurityAdmin");
	assert_string_equal(m[0]->scope, "");
	/* an unverified address maps by no domain; bob@notexample.com is not example.com */
	c.person_verified = false;
	assert_int_equal(oidc_map_claims(&s, &c, m, OIDC_MAPS_MAX), 1);
	c.person_verified = true;
	c.n_groups = 0;
	snprintf(c.person, sizeof(c.person), "bob@notexample.com");
	assert_int_equal(oidc_map_claims(&s, &c, m, OIDC_MAPS_MAX), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_rs256_and_es256), cmocka_unit_test(test_claims_refused),
		cmocka_unit_test(test_aud_array_with_azp), cmocka_unit_test(test_signature_and_keys),
		cmocka_unit_test(test_algorithms_refused), cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_discovery), cmocka_unit_test(test_jwks_parse),
		cmocka_unit_test(test_settings_and_maps),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

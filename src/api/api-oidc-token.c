/* The pure checks of OpenID Connect: an ID token against the provider's JWKS (libjose), discovery and JWKS documents, claims to roles. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <jose/b64.h>
#include <jose/jws.h>

#include "api/api-oidc.h"

/*
 * Only asymmetric algorithms: with HS256 the "key" would be the client secret,
 * and "none" is no signature at all. libjose would refuse a key of the wrong
 * type for the header's alg anyway; checking here makes the refusal say so.
 */
static const char *
alg_kty(const char *alg)
{
	if (!strcmp(alg, "RS256"))
		return "RSA";
	if (!strcmp(alg, "ES256"))
		return "EC";
	return NULL;
}

static int
bad(struct core_error *err, const char *target, const char *msg)
{
	core_error_set(err, "InvalidIdToken", target, "%s", msg);
	return -EBADMSG;
}

/* The JSON object in a base64url part (n bytes), or NULL. */
static json_t *
b64_object(const char *p, size_t n)
{
	char buf[OIDC_ID_TOKEN_MAX];
	size_t len = jose_b64_dec_buf(p, n, NULL, 0);
	json_t *o = NULL;

	if (len == SIZE_MAX || len > sizeof(buf) || jose_b64_dec_buf(p, n, buf, sizeof(buf)) != len)
		return NULL;
	o = json_loadb(buf, len, JSON_REJECT_DUPLICATES, NULL);
	if (o && !json_is_object(o)) {
		json_decref(o);
		o = NULL;
	}
	return o;
}

/* The key of the JWKS that may check a token with this header, or NULL (-ENOKEY in *r). */
static const json_t *
jwks_pick(const json_t *jwks, const json_t *hdr, const char *kty, int *r)
{
	const char *kid = json_string_value(json_object_get(hdr, "kid"));
	const json_t *keys = json_object_get(jwks, "keys"), *k, *found = NULL;
	size_t i, n = 0;

	json_array_foreach(keys, i, k) {
		const char *use = json_string_value(json_object_get(k, "use"));
		const char *kkid = json_string_value(json_object_get(k, "kid"));
		const char *kk = json_string_value(json_object_get(k, "kty"));

		if ((use && strcmp(use, "sig")) || !kk || strcmp(kk, kty))
			continue;
		if (kid && (!kkid || strcmp(kid, kkid)))
			continue;
		found = k;
		n++;
	}
	/* no kid: only a JWKS with one key of that type says which key signed */
	if (n != 1) {
		*r = n == 0 && kid ? -ENOKEY : -EBADMSG;
		return NULL;
	}
	return found;
}

/* Does the aud claim name us (a string, or an array with us in it and then azp = us)? */
static bool
aud_ok(const json_t *claims, const char *client_id)
{
	const json_t *aud = json_object_get(claims, "aud"), *v;
	const char *azp = json_string_value(json_object_get(claims, "azp"));
	bool in = false;
	size_t i;

	if (json_is_string(aud))
		return !strcmp(json_string_value(aud), client_id) && (!azp || !strcmp(azp, client_id));
	json_array_foreach(aud, i, v)
		if (json_is_string(v) && !strcmp(json_string_value(v), client_id))
			in = true;
	return in && (json_array_size(aud) == 1 || (azp && !strcmp(azp, client_id)));
}

bool
oidc_text_equal(const char *a, const char *b)
{
	size_t n = strlen(a), i;
	unsigned char d = 0;

	if (n != strlen(b))
		return false;
	for (i = 0; i < n; i++)
		d |= (unsigned char)(a[i] ^ b[i]);
	return d == 0;
}

/* A string claim of 1 to OIDC_TEXT_MAX bytes into dst, or false. */
static bool
claim_text(const json_t *claims, const char *name, char dst[OIDC_TEXT_MAX + 1])
{
	const char *v = json_string_value(json_object_get(claims, name));

	if (!v || !v[0] || strlen(v) > OIDC_TEXT_MAX)
		return false;
	memcpy(dst, v, strlen(v) + 1);
	return true;
}

/* The checks on the claims, after the signature held. */
static int
claims_check(const json_t *claims, const struct oidc_expect *x, struct oidc_claims *c, struct core_error *err)
{
	const char *iss = json_string_value(json_object_get(claims, "iss"));
	const char *nonce = json_string_value(json_object_get(claims, "nonce"));
	json_t *exp = json_object_get(claims, "exp"), *iat = json_object_get(claims, "iat"), *g, *v;
	size_t i;

	if (!iss || strcmp(iss, x->issuer))
		return bad(err, "iss", "the ID token was issued by another issuer");
	if (!aud_ok(claims, x->client_id))
		return bad(err, "aud", "the ID token is not meant for this client (aud/azp)");
	if (!json_is_integer(exp) || json_integer_value(exp) + OIDC_LEEWAY_S <= x->now_s)
		return bad(err, "exp", "the ID token has expired");
	if (!json_is_integer(iat) || json_integer_value(iat) > x->now_s + OIDC_LEEWAY_S ||
	    json_integer_value(iat) + OIDC_IAT_MAX_AGE_S < x->now_s)
		return bad(err, "iat", "the ID token's issue time is in the future or too long ago");
	if (x->nonce && (!nonce || !oidc_text_equal(nonce, x->nonce)))
		return bad(err, "nonce", "the ID token's nonce is not the one this sign-in sent");
	if (!claim_text(claims, "sub", c->subject))
		return bad(err, "sub", "the ID token names no subject");
	if (!claim_text(claims, x->person_claim, c->person))
		return bad(err, x->person_claim, "the ID token lacks the claim that names the person");
	c->exp_s = json_integer_value(exp);
	c->person_verified = !json_is_false(json_object_get(claims, "email_verified"));
	g = json_object_get(claims, x->groups_claim);
	json_array_foreach(g, i, v)
		if (json_is_string(v) && strlen(json_string_value(v)) <= OIDC_TEXT_MAX && c->n_groups < OIDC_GROUPS_MAX)
			snprintf(c->groups[c->n_groups++], OIDC_TEXT_MAX + 1, "%s", json_string_value(v));
	return 0;
}

int
oidc_id_token_verify(const char *text, size_t len, const json_t *jwks, const struct oidc_expect *x,
		     struct oidc_claims *ret, struct core_error *err)
{
	static struct oidc_claims c;	/* large: kept off the stack; the API is single-threaded */
	const char *dot1, *dot2, *alg, *kty;
	json_t *hdr = NULL, *claims = NULL, *jws = NULL;
	const json_t *jwk;
	int r = -EBADMSG;

	memset(&c, 0, sizeof(c));
	if (len > OIDC_ID_TOKEN_MAX || !(dot1 = memchr(text, '.', len)) ||
	    !(dot2 = memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - text))) ||
	    memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - text))) {
		r = bad(err, "id_token", "the ID token is not three base64url parts");
		goto out;
	}
	if (!(hdr = b64_object(text, (size_t)(dot1 - text))) ||
	    !(claims = b64_object(dot1 + 1, (size_t)(dot2 - dot1 - 1)))) {
		r = bad(err, "id_token", "the ID token's header or claims are not base64url JSON objects");
		goto out;
	}
	alg = json_string_value(json_object_get(hdr, "alg"));
	if (!alg || !(kty = alg_kty(alg)) || json_object_get(hdr, "crit")) {
		r = bad(err, "alg", "the ID token's algorithm is not RS256 or ES256");
		goto out;
	}
	if (!(jwk = jwks_pick(jwks, hdr, kty, &r))) {
		if (r != -ENOKEY)
			r = bad(err, "kid", "no single key of the provider's JWKS fits the ID token's header");
		else
			core_error_set(err, "InvalidIdToken", "kid", "the provider's JWKS has no key with this kid");
		goto out;
	}
	jws = json_pack("{s:s%, s:s%, s:s%}", "protected", text, (size_t)(dot1 - text), "payload", dot1 + 1,
			(size_t)(dot2 - dot1 - 1), "signature", dot2 + 1, len - (size_t)(dot2 + 1 - text));
	if (!jws || !jose_jws_ver(NULL, jws, NULL, jwk, false)) {
		r = bad(err, "signature", "the ID token's signature does not verify with the provider's key");
		goto out;
	}
	if ((r = claims_check(claims, x, &c, err)) < 0)
		goto out;
	*ret = c;
	r = 0;
out:
	json_decref(hdr);
	json_decref(claims);
	json_decref(jws);
	return r;
}

/* An https URL of 1 to OIDC_URL_MAX bytes from the document into dst; "" if absent and optional. */
static bool
url_field(const json_t *doc, const char *name, bool required, char dst[OIDC_URL_MAX + 1])
{
	const char *v = json_string_value(json_object_get(doc, name));

	dst[0] = '\0';
	if (!v)
		return !required;
	if (strncmp(v, "https://", 8) || strlen(v) > OIDC_URL_MAX)
		return false;
	memcpy(dst, v, strlen(v) + 1);
	return true;
}

int
oidc_discovery_parse(const char *text, size_t n, const char *issuer, struct oidc_discovery *ret,
		     struct core_error *err)
{
	json_t *doc = json_loadb(text, n, JSON_REJECT_DUPLICATES, NULL);
	const char *iss = json_string_value(json_object_get(doc, "issuer"));
	struct oidc_discovery d;
	int r = -EBADMSG;

	if (!json_is_object(doc)) {
		core_error_set(err, "InvalidDiscovery", "", "the provider's discovery document is not a JSON object");
		goto out;
	}
	/* OpenID Connect Discovery 1.0, 4.3: the issuer in the document must be the one asked for */
	if (!iss || strcmp(iss, issuer)) {
		core_error_set(err, "InvalidDiscovery", "issuer", "the discovery document names another issuer");
		goto out;
	}
	if (!url_field(doc, "authorization_endpoint", true, d.authorization_endpoint) ||
	    !url_field(doc, "token_endpoint", true, d.token_endpoint) || !url_field(doc, "jwks_uri", true, d.jwks_uri) ||
	    !url_field(doc, "device_authorization_endpoint", false, d.device_endpoint)) {
		core_error_set(err, "InvalidDiscovery", "endpoints",
			       "the discovery document lacks an https authorization, token or jwks endpoint");
		goto out;
	}
	*ret = d;
	r = 0;
out:
	json_decref(doc);
	return r;
}

int
oidc_jwks_parse(const char *text, size_t n, json_t **ret, struct core_error *err)
{
	json_t *doc = json_loadb(text, n, JSON_REJECT_DUPLICATES, NULL);
	json_t *keys = json_object_get(doc, "keys");

	if (!json_is_array(keys) || json_array_size(keys) > OIDC_JWKS_KEYS_MAX) {
		json_decref(doc);
		return core_error_set(err, "InvalidJwks", "keys", "the provider's JWKS is not {\"keys\": [...]} of at most %d keys",
				      OIDC_JWKS_KEYS_MAX), -EBADMSG;
	}
	*ret = doc;
	return 0;
}

static bool
map_matches(const struct oidc_map *m, const struct oidc_claims *c)
{
	size_t i, pn = strlen(c->person), tn = strlen(m->text);

	switch (m->match) {
	case OIDC_MATCH_GROUP:
		for (i = 0; i < c->n_groups; i++)
			if (!strcmp(c->groups[i], m->text))
				return true;
		return false;
	case OIDC_MATCH_DOMAIN:
		return c->person_verified && pn > tn + 1 && c->person[pn - tn - 1] == '@' && !strcasecmp(c->person + pn - tn, m->text);
	case OIDC_MATCH_PERSON:
		return c->person_verified && !strcasecmp(c->person, m->text);
	}
	return false;
}

size_t
oidc_map_claims(const struct oidc_settings *s, const struct oidc_claims *c, const struct oidc_map **ret, size_t max)
{
	size_t i, n = 0;

	for (i = 0; i < s->n_maps && n < max; i++)
		if (map_matches(&s->maps[i], c))
			ret[n++] = &s->maps[i];
	return n;
}

/* Talking to the OpenID provider over HTTPS (libcurl): discovery and JWKS, cached, and the token endpoint. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "api/api-oidc-call.h"
#include "core/timeutil.h"

/*
 * The provider is asked only at sign-in (discovery and keys are cached), never for a request made with a
 * session or a token, and never on the API's critical path: each call runs on the loop's fetcher while
 * its step is parked (api-oidc-call.h); these functions answer -EINPROGRESS when they started one. Only
 * https:// is spoken, redirects are not followed (http-fetch.h).
 */

int
api_oidc_global_init(const struct api_settings *settings)
{
	if (!settings->oidc.issuer[0])
		return 0;
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -EIO;
}

/* GET url, expecting 200: the body (the step's), -EINPROGRESS while asking, or -EIO with err. */
static int
get_200(struct api_oidc *o, enum oidc_call_kind kind, const char *url, const char **ret, size_t *ret_len,
	struct core_error *err)
{
	long status = 0;
	int r = oidc_http(o, kind, url, NULL, ret, ret_len, &status, err);

	if (r == 0 && status != 200)
		return core_error_set(err, "ProviderUnavailable", "", "the identity provider answered %ld for %.200s",
				      status, url), -EIO;
	return r;
}

int
oidc_discovery_get(struct api_oidc *o, const struct oidc_discovery **ret, struct core_error *err)
{
	char url[OIDC_URL_MAX + 64];
	const char *text;
	int64_t now = time_now_ns();
	size_t n;
	int r;

	if (!oidc_call_ready(o, OIDC_CALL_DISCOVERY) && o->disc_at && now - o->disc_at < (int64_t)OIDC_DISCOVERY_TTL_S * TIME_NS_PER_SEC) {
		*ret = &o->disc;
		return 0;
	}
	snprintf(url, sizeof(url), "%s%s.well-known/openid-configuration", o->s->issuer,
		 o->s->issuer[strlen(o->s->issuer) - 1] == '/' ? "" : "/");
	/* a provider that is down costs each sign-in at most one wait every OIDC_DOWN_RETRY_S, not one each */
	if (!oidc_call_ready(o, OIDC_CALL_DISCOVERY) && o->disc_failed_at && now - o->disc_failed_at < (int64_t)OIDC_DOWN_RETRY_S * TIME_NS_PER_SEC) {
		if (err)
			*err = o->disc_error;
		return -EIO;
	}
	if ((r = get_200(o, OIDC_CALL_DISCOVERY, url, &text, &n, err)) == -EINPROGRESS)
		return r;
	if (r == 0)
		r = oidc_discovery_parse(text, n, o->s->issuer, &o->disc, err);
	oidc_call_forget(o, OIDC_CALL_DISCOVERY);
	if (r < 0) {
		o->disc_failed_at = now;
		if (err)
			o->disc_error = *err;
		return r;
	}
	o->disc_failed_at = 0;
	o->disc_at = now;
	*ret = &o->disc;
	return 0;
}

int
oidc_jwks_get(struct api_oidc *o, bool refresh, const json_t **ret, struct core_error *err)
{
	const struct oidc_discovery *d;
	int64_t now = time_now_ns();
	/* keys fetched for this step (maybe at an earlier run's refresh) are taken whatever the cache holds */
	bool fetched = oidc_call_ready(o, OIDC_CALL_JWKS);
	const char *text;
	json_t *jwks;
	size_t n;
	int r;

	if (!fetched && o->jwks && !refresh && now - o->jwks_at < (int64_t)OIDC_JWKS_TTL_S * TIME_NS_PER_SEC) {
		*ret = o->jwks;
		return 0;
	}
	/* an unknown kid may be a forgery: it refreshes the keys at most every OIDC_JWKS_REFRESH_MIN_S */
	if (!fetched && o->jwks && refresh && now - o->jwks_try_at < (int64_t)OIDC_JWKS_REFRESH_MIN_S * TIME_NS_PER_SEC)
		return core_error_set(err, "InvalidIdToken", "kid",
				      "the provider's JWKS has no key with this kid (refreshed less than %d s ago)",
				      OIDC_JWKS_REFRESH_MIN_S), -EBADMSG;
	if (!fetched && refresh)
		o->jwks_try_at = now;
	if ((r = oidc_discovery_get(o, &d, err)) < 0 ||
	    (r = get_200(o, OIDC_CALL_JWKS, d->jwks_uri, &text, &n, err)) == -EINPROGRESS)
		return r;
	if (r == 0)
		r = oidc_jwks_parse(text, n, &jwks, err);
	oidc_call_forget(o, OIDC_CALL_JWKS);
	if (r < 0)
		return r;
	json_decref(o->jwks);
	o->jwks = jwks;
	o->jwks_at = now;
	*ret = o->jwks;
	return 0;
}

int
oidc_verify(struct api_oidc *o, const char *id_token, const char *nonce, struct oidc_claims *ret,
	    struct core_error *err)
{
	struct oidc_expect x = { o->s->issuer, o->s->client_id, nonce, o->s->person_claim, o->s->groups_claim,
				 time_now_ns() / TIME_NS_PER_SEC };
	const json_t *jwks;
	int r;

	if ((r = oidc_jwks_get(o, false, &jwks, err)) < 0)
		return r;
	r = oidc_id_token_verify(id_token, strlen(id_token), jwks, &x, ret, err);
	/* a kid we do not know: the provider may have rotated its keys since we fetched them */
	if (r == -ENOKEY && (r = oidc_jwks_get(o, true, &jwks, err)) == 0)
		r = oidc_id_token_verify(id_token, strlen(id_token), jwks, &x, ret, err);
	if (r == -ENOKEY)
		r = -EBADMSG;
	return r;
}

/* form-urlencoded "k=v&k=v" of NULL-terminated pairs into a malloc'd string, or NULL. */
char *
oidc_form(const char *const *kv)
{
	size_t len = 1, i;
	char *out, *e;
	CURL *h = curl_easy_init();

	if (!h)
		return NULL;
	for (i = 0; kv[i]; i += 2)
		len += strlen(kv[i]) + 3 * strlen(kv[i + 1]) + 2;
	if ((out = calloc(1, len))) {
		size_t at = 0;

		for (i = 0; kv[i]; i += 2) {
			if (!(e = curl_easy_escape(h, kv[i + 1], 0))) {
				free(out);
				out = NULL;
				break;
			}
			at += (size_t)snprintf(out + at, len - at, "%s%s=%s", i ? "&" : "", kv[i], e);
			curl_free(e);
		}
	}
	curl_easy_cleanup(h);
	return out;
}

int
oidc_token_call(struct api_oidc *o, const char *url, const char *form, json_t **ret, long *ret_status,
		struct core_error *err)
{
	const char *text;
	size_t n;
	int r = oidc_http(o, OIDC_CALL_TOKEN, url, form, &text, &n, ret_status, err);

	if (r < 0)
		return r;
	*ret = json_loadb(text, n, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(*ret)) {
		json_decref(*ret);
		return core_error_set(err, "ProviderError", "", "the identity provider's answer (%ld) is not JSON",
				      *ret_status), -EBADMSG;
	}
	return 0;
}

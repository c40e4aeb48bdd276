/* Talking to the OpenID provider over HTTPS (libcurl): discovery and JWKS, cached, and the token endpoint. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "api/api-oidc-internal.h"
#include "core/timeutil.h"

/*
 * Every call blocks the API's thread for at most OIDC_HTTP_TIMEOUT_MS: a
 * sign-in is rare next to the requests it would delay, and the provider is
 * asked only at sign-in (discovery and keys are cached), never for a request
 * made with a session or a token. Only https:// is followed, redirects are not.
 */

int
api_oidc_global_init(const struct api_settings *settings)
{
	if (!settings->oidc.issuer[0])
		return 0;
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -EIO;
}

struct body {
	char *data;
	size_t len;
	bool too_long;
};

static size_t
on_data(char *p, size_t size, size_t n, void *ctx)
{
	struct body *b = ctx;
	size_t add = size * n;
	char *d;

	if (b->len + add > OIDC_RESPONSE_MAX) {
		b->too_long = true;
		return 0;
	}
	if (!(d = realloc(b->data, b->len + add + 1)))
		return 0;
	memcpy(d + b->len, p, add);
	b->data = d;
	b->len += add;
	b->data[b->len] = '\0';
	return add;
}

int
oidc_http(const struct oidc_settings *s, const char *url, const char *form, char **ret, size_t *ret_len,
	  long *ret_status, struct core_error *err)
{
	struct body b = { 0 };
	char cerr[CURL_ERROR_SIZE] = "";
	CURL *h = curl_easy_init();
	CURLcode cc;
	int r = -EIO;

	if (!h)
		return core_error_set(err, "ProviderUnavailable", "", "cannot make an HTTPS client"), -ENOMEM;
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)OIDC_HTTP_TIMEOUT_MS);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
	if (s->ca_file[0])
		curl_easy_setopt(h, CURLOPT_CAINFO, s->ca_file);
	if (form) {
		/* client_secret_basic (RFC 6749 2.3.1), the method every provider must support */
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, form);
		curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(h, CURLOPT_USERNAME, s->client_id);
		curl_easy_setopt(h, CURLOPT_PASSWORD, s->client_secret);
	}
	cc = curl_easy_perform(h);
	if (cc != CURLE_OK) {
		core_error_set(err, "ProviderUnavailable", "", "cannot reach the identity provider: %s",
			       b.too_long ? "its answer is too long" : cerr[0] ? cerr : curl_easy_strerror(cc));
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, ret_status);
	*ret = b.data ? b.data : strdup("");
	*ret_len = b.len;
	b.data = NULL;
	r = *ret ? 0 : -ENOMEM;
out:
	free(b.data);
	curl_easy_cleanup(h);
	return r;
}

/* GET url, expecting 200: the body, or -EIO with err. */
static int
get_200(const struct oidc_settings *s, const char *url, char **ret, size_t *ret_len, struct core_error *err)
{
	long status = 0;
	int r = oidc_http(s, url, NULL, ret, ret_len, &status, err);

	if (r == 0 && status != 200) {
		free(*ret);
		return core_error_set(err, "ProviderUnavailable", "", "the identity provider answered %ld for %.200s",
				      status, url), -EIO;
	}
	return r;
}

int
oidc_discovery_get(struct api_oidc *o, const struct oidc_discovery **ret, struct core_error *err)
{
	char url[OIDC_URL_MAX + 64], *text = NULL;
	int64_t now = time_now_ns();
	size_t n;
	int r;

	if (o->disc_at && now - o->disc_at < (int64_t)OIDC_DISCOVERY_TTL_S * TIME_NS_PER_SEC) {
		*ret = &o->disc;
		return 0;
	}
	snprintf(url, sizeof(url), "%s%s.well-known/openid-configuration", o->s->issuer,
		 o->s->issuer[strlen(o->s->issuer) - 1] == '/' ? "" : "/");
	/* a provider that is down costs each sign-in at most one wait every OIDC_DOWN_RETRY_S, not one each */
	if (o->disc_failed_at && now - o->disc_failed_at < (int64_t)OIDC_DOWN_RETRY_S * TIME_NS_PER_SEC) {
		if (err)
			*err = o->disc_error;
		return -EIO;
	}
	if ((r = get_200(o->s, url, &text, &n, err)) == 0) {
		r = oidc_discovery_parse(text, n, o->s->issuer, &o->disc, err);
		free(text);
	}
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
	json_t *jwks;
	char *text = NULL;
	size_t n;
	int r;

	if (o->jwks && !refresh && now - o->jwks_at < (int64_t)OIDC_JWKS_TTL_S * TIME_NS_PER_SEC) {
		*ret = o->jwks;
		return 0;
	}
	/* an unknown kid may be a forgery: it refreshes the keys at most every OIDC_JWKS_REFRESH_MIN_S */
	if (o->jwks && refresh && now - o->jwks_try_at < (int64_t)OIDC_JWKS_REFRESH_MIN_S * TIME_NS_PER_SEC)
		return core_error_set(err, "InvalidIdToken", "kid",
				      "the provider's JWKS has no key with this kid (refreshed less than %d s ago)",
				      OIDC_JWKS_REFRESH_MIN_S), -EBADMSG;
	if (refresh)
		o->jwks_try_at = now;
	if ((r = oidc_discovery_get(o, &d, err)) < 0 || (r = get_200(o->s, d->jwks_uri, &text, &n, err)) < 0)
		return r;
	r = oidc_jwks_parse(text, n, &jwks, err);
	free(text);
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
	char *text = NULL;
	size_t n;
	int r = oidc_http(o->s, url, form, &text, &n, ret_status, err);

	if (r < 0)
		return r;
	*ret = json_loadb(text, n, JSON_REJECT_DUPLICATES, NULL);
	free(text);
	if (!json_is_object(*ret)) {
		json_decref(*ret);
		return core_error_set(err, "ProviderError", "", "the identity provider's answer (%ld) is not JSON",
				      *ret_status), -EBADMSG;
	}
	return 0;
}

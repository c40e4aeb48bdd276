/* Portal sign-in: a bearer token turned into a session cookie (HttpOnly, Secure, SameSite=Strict) with a CSRF token. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "api/api-internal.h"
#include "api/codec.h"
#include "core/timeutil.h"

/*
 * Sessions live in memory only: a restart signs everyone out, which is the
 * safe direction. A session holds the hash of the token it was made from and
 * is checked against the store on every request, so revoking the token ends
 * its sessions too. The cookie carries a random id; only its hash is kept.
 */

static int
random_hex(char *buf, size_t bytes)
{
	uint8_t raw[SESSION_SECRET_BYTES];
	size_t i;

	if (bytes > sizeof(raw) || getrandom(raw, bytes, 0) != (ssize_t)bytes)
		return -EIO;
	for (i = 0; i < bytes; i++)
		snprintf(buf + 2 * i, 3, "%02x", raw[i]);
	explicit_bzero(raw, sizeof(raw));
	return 0;
}

/* Constant-time comparison of two equal-length secrets. */
static bool
secret_equal(const uint8_t *a, const uint8_t *b, size_t n)
{
	uint8_t d = 0;
	size_t i;

	for (i = 0; i < n; i++)
		d |= a[i] ^ b[i];
	return d == 0;
}

static void
sessions_expire(struct api *api, int64_t now)
{
	size_t i;

	for (i = 0; i < API_SESSIONS_MAX; i++)
		if (api->sessions[i].expires_ns && api->sessions[i].expires_ns <= now)
			explicit_bzero(&api->sessions[i], sizeof(api->sessions[i]));
}

/* The session whose id is in the request's cookie, or NULL. */
struct api_session *
api_session_find(struct api *api, const struct http_request *req)
{
	const char *cookie = http_request_header(req, "Cookie"), *p;
	uint8_t hash[STORE_TOKEN_HASH_LEN];
	size_t i, len;

	if (!cookie)
		return NULL;
	for (p = cookie; (p = strstr(p, SESSION_COOKIE "=")); p++)
		if (p == cookie || p[-1] == ' ' || p[-1] == ';')
			break;
	if (!p)
		return NULL;
	p += strlen(SESSION_COOKIE "=");
	len = strcspn(p, "; ");
	if (len != 2 * SESSION_SECRET_BYTES || api_token_hash(p, len, hash) < 0)
		return NULL;
	sessions_expire(api, api_now_ns());
	for (i = 0; i < API_SESSIONS_MAX; i++)
		if (api->sessions[i].expires_ns && secret_equal(api->sessions[i].id_hash, hash, sizeof(hash)))
			return &api->sessions[i];
	return NULL;
}

/* A CSRF check for cookie-authenticated writes: the X-CSRF-Token header must equal the session's. */
bool
api_session_csrf_ok(const struct api_session *s, const struct http_request *req)
{
	const char *h = http_request_header(req, "X-CSRF-Token");

	if (!strcmp(req->method, "GET") || !strcmp(req->method, "HEAD"))
		return true;
	return h && strlen(h) == strlen(s->csrf) && secret_equal((const uint8_t *)h, (const uint8_t *)s->csrf, strlen(h));
}

static void
set_cookie(struct http_response *resp, const char *value, long max_age)
{
	char c[256];

	snprintf(c, sizeof(c), SESSION_COOKIE "=%s; Path=/; Max-Age=%ld; HttpOnly; Secure; SameSite=Strict", value,
		 max_age);
	http_response_header(resp, "Set-Cookie", c);
}

/* POST /session {"token": "..."}: sign in. */
void
api_session_create(struct api *api, struct api_caller *c, const struct http_request *req, struct http_response *resp)
{
	char id[2 * SESSION_SECRET_BYTES + 1], expires[64];
	uint8_t hash[STORE_TOKEN_HASH_LEN];
	struct store_token t;
	struct api_session *s = NULL;
	json_error_t jerr;
	json_t *body = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
	const char *token = json_string_value(json_object_get(body, "token"));
	int64_t now = api_now_ns();
	size_t i;

	if (!token) {
		json_decref(body);
		return api_error(resp, 400, "MissingField", "token", "sign in with {\"token\": \"<your jitgate token>\"}");
	}
	if (strlen(token) > API_TOKEN_TEXT_MAX || api_token_hash(token, strlen(token), hash) < 0 ||
	    store_token_find(api->store, hash, &t) < 0) {
		json_decref(body);
		api_log(api, c, "SignIn", "/session", "Failed", NULL, "unknown or revoked token");
		return api_error(resp, 401, "AuthenticationFailed", "token", "that token is not valid");
	}
	json_decref(body);
	sessions_expire(api, now);
	for (i = 0; i < API_SESSIONS_MAX && !s; i++)
		if (!api->sessions[i].expires_ns)
			s = &api->sessions[i];
	if (!s)
		return api_error(resp, 503, "TooManySessions", "", "too many portal sessions; try again later");
	if (random_hex(id, SESSION_SECRET_BYTES) < 0 || random_hex(s->csrf, SESSION_SECRET_BYTES) < 0 ||
	    api_token_hash(id, strlen(id), s->id_hash) < 0)
		return api_error(resp, 500, "InternalError", "", "cannot make a session");
	memcpy(s->token_hash, hash, sizeof(hash));
	s->expires_ns = now + (int64_t)SESSION_LIFETIME_S * TIME_NS_PER_SEC;
	set_cookie(resp, id, SESSION_LIFETIME_S);
	explicit_bzero(id, sizeof(id));
	explicit_bzero(hash, sizeof(hash));
	snprintf(c->name, sizeof(c->name), "token:%s", t.name);
	api_log(api, c, "SignIn", "/session", "Succeeded", NULL, "portal session for token '%s'", t.name);
	time_format_rfc3339(s->expires_ns, expires, sizeof(expires));
	resp->secret = true;	/* the CSRF token */
	api_json(resp, 201, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "name", c->name, "role", t.role, "scope",
				      t.scope[0] ? t.scope : "/", "address", c->addr_text, "csrfToken", s->csrf,
				      "expiresUtc", expires, "subscriptionId", api->settings.subscription));
}

/* GET /session: the signed-in session's details and CSRF token (for a reloaded page), or 401. */
void
api_session_get(struct api *api, struct api_caller *c, const struct http_request *req, struct http_response *resp)
{
	struct api_session *s = api_session_find(api, req);
	struct store_token t;
	char expires[64];

	if (!s || store_token_find(api->store, s->token_hash, &t) < 0)
		return api_error(resp, 401, "AuthenticationFailed", "", "not signed in");
	time_format_rfc3339(s->expires_ns, expires, sizeof(expires));
	resp->secret = true;	/* the CSRF token */
	api_json(resp, 200, json_pack("{s:s+, s:s, s:s, s:s, s:s, s:s, s:s}", "name", "token:", t.name, "role", t.role,
				      "scope", t.scope[0] ? t.scope : "/", "address", c->addr_text, "csrfToken", s->csrf,
				      "expiresUtc", expires, "subscriptionId", api->settings.subscription));
}

/* DELETE /session: sign out (the cookie is cleared whether or not it named a session). */
void
api_session_delete(struct api *api, struct api_caller *c, const struct http_request *req, struct http_response *resp)
{
	struct api_session *s = api_session_find(api, req);

	if (s) {
		if (!api_session_csrf_ok(s, req))
			return api_error(resp, 403, "CsrfTokenInvalid", "X-CSRF-Token",
					 "a signed-in write needs the X-CSRF-Token header from sign-in");
		explicit_bzero(s, sizeof(*s));
		api_log(api, c, "SignOut", "/session", "Succeeded", NULL, "portal session ended");
	}
	set_cookie(resp, "", 0);
	resp->status = 204;
}

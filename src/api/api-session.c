/* Portal sign-in: a bearer token turned into a session cookie (HttpOnly, Secure, SameSite=Strict) with a CSRF token. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "api/api-internal.h"
#include "api/api-oidc.h"
#include "codec/codec.h"
#include "core/timeutil.h"

/*
 * Sessions are kept in the store (api-session-store.c), shared by every replica. The cookie carries
 * a random id; the store keeps only its hash. The CSRF token is derived from the id (the SHA-256 of
 * a fixed label and the id): any replica that is shown the cookie can tell it, a page of another
 * origin (which cannot read the HttpOnly cookie) cannot, and the store does not hold it.
 *
 * A session made from a token holds the token's hash and is checked against the store on every
 * request, so revoking the token ends its sessions too. No token, and no person, can crowd others
 * out: one holds at most API_SESSIONS_PER_TOKEN_MAX sessions (a further sign-in ends its oldest),
 * and when the store holds API_SESSIONS_MAX a sign-in first drops the expired, then the sessions
 * whose token is no longer valid, then the oldest session of the key holding the most. So a sign-in
 * with a valid token always succeeds, and what it ends belongs to whoever holds the most sessions.
 */

#define CSRF_LABEL	"jitgate csrf\n"

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

/* The id's hash and CSRF token, if it is one (2 * SESSION_SECRET_BYTES lowercase hex digits). */
static bool
id_parse(const char *id, size_t len, uint8_t hash[STORE_TOKEN_HASH_LEN], char csrf[2 * SESSION_SECRET_BYTES + 1])
{
	char text[sizeof(CSRF_LABEL) + 2 * SESSION_SECRET_BYTES];
	uint8_t raw[STORE_TOKEN_HASH_LEN];
	size_t i;
	int r;

	if (len != 2 * SESSION_SECRET_BYTES || strspn(id, "0123456789abcdef") < len)
		return false;
	snprintf(text, sizeof(text), CSRF_LABEL "%.*s", (int)len, id);
	if ((r = api_token_hash(id, len, hash)) == 0)
		r = api_token_hash(text, strlen(text), raw);
	for (i = 0; i < sizeof(raw) && csrf; i++)
		snprintf(csrf + 2 * i, 3, "%02x", raw[i]);
	explicit_bzero(text, sizeof(text));
	explicit_bzero(raw, sizeof(raw));
	return r == 0;
}

/* The session whose id (len hex characters) this is: 0, -ENOENT, or the store's error. */
static int
session_by_id(struct api *api, const char *id, size_t len, struct api_session *ret)
{
	uint8_t hash[STORE_TOKEN_HASH_LEN];
	char csrf[2 * SESSION_SECRET_BYTES + 1];
	int r = -ENOENT;

	if (id_parse(id, len, hash, csrf) && (r = api_session_lookup(api, hash, ret)) == 0)
		memcpy(ret->csrf, csrf, sizeof(csrf));
	explicit_bzero(csrf, sizeof(csrf));
	return r;
}

/* The cookie's session id and its length, or NULL. */
static const char *
cookie_id(const struct http_request *req, size_t *ret_len)
{
	const char *cookie = http_request_header(req, "Cookie"), *p;

	if (!cookie)
		return NULL;
	for (p = cookie; (p = strstr(p, SESSION_COOKIE "=")); p++)
		if (p == cookie || p[-1] == ' ' || p[-1] == ';')
			break;
	if (!p)
		return NULL;
	p += strlen(SESSION_COOKIE "=");
	*ret_len = strcspn(p, "; ");
	return p;
}

int
api_session_find(struct api *api, const struct http_request *req, struct api_session *ret)
{
	size_t len = 0;
	const char *id = cookie_id(req, &len);

	return id ? session_by_id(api, id, len, ret) : -ENOENT;
}

int
api_session_find_bearer(struct api *api, const char *secret, struct api_session *ret)
{
	size_t n = strlen(SSO_BEARER_PREFIX);

	if (strncmp(secret, SSO_BEARER_PREFIX, n))
		return -ENOENT;
	return session_by_id(api, secret + n, strlen(secret + n), ret);
}

/*
 * End the session a cookie or bearer id names, whether or not the store can tell whether there is
 * one (it is refused here at once; the longest a session lives bounds how long that is remembered).
 */
int
api_session_end_id(struct api *api, const char *id, size_t len)
{
	uint8_t hash[STORE_TOKEN_HASH_LEN];
	int64_t longest = SESSION_LIFETIME_S > OIDC_SESSION_MAX_S ? SESSION_LIFETIME_S : OIDC_SESSION_MAX_S;

	if (!id_parse(id, len, hash, NULL))
		return 0;
	return api_session_end(api, hash, time_now_ns() + longest * TIME_NS_PER_SEC);
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

int
api_session_open(struct api *api, struct api_session *s, int64_t lifetime_s, bool cookie, struct http_response *resp,
		 char ret_id[2 * SESSION_SECRET_BYTES + 1])
{
	char id[2 * SESSION_SECRET_BYTES + 1];
	int64_t now = time_now_ns();
	int r = -EIO;

	if (random_hex(id, SESSION_SECRET_BYTES) < 0 || !id_parse(id, strlen(id), s->id_hash, s->csrf))
		goto out;
	s->created_ns = now;
	s->expires_ns = now + lifetime_s * TIME_NS_PER_SEC;
	if ((r = api_session_record(api, s)) < 0)
		goto out;
	if (cookie)
		set_cookie(resp, id, (long)lifetime_s);
	else
		memcpy(ret_id, id, sizeof(id));
out:
	explicit_bzero(id, sizeof(id));
	return r;
}

/* POST /session {"token": "..."}: sign in. */
void
api_session_create(struct api *api, struct api_caller *c, const struct http_request *req, struct http_response *resp)
{
	char expires[64];
	struct store_token t;
	struct api_session *s = &api->opened;
	json_error_t jerr;
	json_t *body = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
	const char *token = json_string_value(json_object_get(body, "token"));
	int r;

	memset(s, 0, sizeof(*s));
	if (!token) {
		json_decref(body);
		api_error(resp, 400, "MissingField", "token", "sign in with {\"token\": \"<your jitgate token>\"}");
		return;
	}
	r = -ENOENT;
	if (strlen(token) <= API_TOKEN_TEXT_MAX && api_token_hash(token, strlen(token), s->token_hash) == 0)
		r = store_token_find(api->store, s->token_hash, &t);
	json_decref(body);
	if (r < 0 && r != -ENOENT) {	/* the store cannot say: 503 with Retry-After, not "not valid" */
		api_store_error(api, resp, r, "cannot check the token");
		goto out;
	}
	if (r < 0) {
		/* a sign-in is a token guess like any other: it shares the address's failure budget and its 429 */
		api_error(resp, 401, "AuthenticationFailed", "token", "that token is not valid");
		api_auth_failed(api, c, "SignIn", "/session", true, "unknown or revoked token", resp);
		goto out;
	}
	if ((r = api_session_open(api, s, SESSION_LIFETIME_S, true, resp, NULL)) < 0) {
		if (r == -EIO)
			api_error(resp, 500, "InternalError", "", "cannot make a session");
		else
			api_store_error(api, resp, r, "cannot record the session");
		goto out;
	}
	snprintf(c->name, sizeof(c->name), STORE_TOKEN_REQUESTOR "%s", t.name);
	api_log(api, c, "SignIn", "/session", "Succeeded", NULL, "portal session for token '%s'", t.name);
	time_format_azure(s->expires_ns, expires, sizeof(expires));
	resp->secret = true;	/* the CSRF token */
	resp->authenticated = true;
	api_json(resp, 201, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "name", c->name, "role", t.role, "scope",
				      t.scope[0] ? t.scope : "/", "address", c->addr_text, "csrfToken", s->csrf,
				      "expiresUtc", expires, "subscriptionId", api->settings.subscription));
out:
	explicit_bzero(s, sizeof(*s));
}

/* GET /session: the signed-in session's details and CSRF token (for a reloaded page), or 401. */
void
api_session_get(struct api *api, struct api_caller *c, const struct http_request *req, struct http_response *resp)
{
	struct api_session s;
	struct store_token t;
	char expires[64];
	int r = api_session_find(api, req, &s);

	if (r == 0 && s.sso) {
		time_format_rfc3339(s.expires_ns, expires, sizeof(expires));
		resp->secret = true;	/* the CSRF token */
		api_caller_from_session(api, &s, c);
		/* role and scope: the first assignment; the portal reads them all */
		api_json(resp, 200, json_pack("{s:s, s:s, s:s, s:o, s:s, s:s, s:s, s:s}", "name", s.person, "role",
					      s.assign[0].role, "scope", s.assign[0].scope[0] ? s.assign[0].scope : "/",
					      "assignments", api_caller_assignments(c), "address", c->addr_text, "csrfToken",
					      s.csrf, "expiresUtc", expires, "subscriptionId", api->settings.subscription));
		goto out;
	}
	if (r == 0)
		r = store_token_find(api->store, s.token_hash, &t);
	if (r < 0 && r != -ENOENT) {	/* the store cannot say: 503, not "not signed in" */
		api_store_error(api, resp, r, "cannot check the session");
		goto out;
	}
	if (r < 0) {
		api_error(resp, 401, "AuthenticationFailed", "", "not signed in");
		goto out;
	}
	time_format_azure(s.expires_ns, expires, sizeof(expires));
	resp->secret = true;	/* the CSRF token */
	api_json(resp, 200, json_pack("{s:s+, s:s, s:s, s:s, s:s, s:s, s:s}", "name", STORE_TOKEN_REQUESTOR, t.name, "role", t.role,
				      "scope", t.scope[0] ? t.scope : "/", "address", c->addr_text, "csrfToken", s.csrf,
				      "expiresUtc", expires, "subscriptionId", api->settings.subscription));
out:
	explicit_bzero(&s, sizeof(s));
}

/*
 * DELETE /session: sign out (the cookie is cleared whether or not it named a session). The CSRF
 * token is derived from the cookie, so it is checked without the store; a sign-out the store
 * cannot record is refused here at once and recorded later (503 says the other replicas wait).
 */
void
api_session_delete(struct api *api, struct api_caller *c, const struct http_request *req, struct http_response *resp)
{
	struct api_session s;
	size_t len = 0;
	const char *id = cookie_id(req, &len);
	int r;

	memset(&s, 0, sizeof(s));
	if (id && id_parse(id, len, s.id_hash, s.csrf) && !api_session_csrf_ok(&s, req)) {
		api_error(resp, 403, "CsrfTokenInvalid", "X-CSRF-Token",
			  "a signed-in write needs the X-CSRF-Token header from sign-in");
		return;
	}
	set_cookie(resp, "", 0);
	if ((r = id ? api_session_end_id(api, id, len) : 0) < 0) {
		api_store_error(api, resp, r, "signed out on this server, but the store cannot record it for the other "
				"replicas yet (it is retried every second)");
		api_log(api, c, "SignOut", "/session", "Failed", NULL, "portal session ended on this replica only");
		return;
	}
	if (r > 0)
		api_log(api, c, "SignOut", "/session", "Succeeded", NULL, "portal session ended");
	resp->status = 204;
}

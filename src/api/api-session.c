/* Portal sign-in: a bearer token turned into a session cookie (HttpOnly, Secure, SameSite=Strict) with a CSRF token. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "api/api-internal.h"
#include "codec/codec.h"
#include "core/timeutil.h"

/*
 * Sessions live in memory only: a restart signs everyone out, which is the
 * safe direction. A session holds the hash of the token it was made from and
 * is checked against the store on every request, so revoking the token ends
 * its sessions too. The cookie carries a random id; only its hash is kept.
 *
 * No token can crowd others out of the table: one token holds at most
 * API_SESSIONS_PER_TOKEN_MAX sessions (a further sign-in ends its oldest), a
 * revoke ends the token's sessions at once, and when the table is full a
 * sign-in first drops sessions whose token is no longer valid (revoked
 * offline) and then ends the oldest session of the token that holds the most.
 * So a sign-in with a valid token always succeeds, and what it ends belongs to
 * whoever holds the most sessions, never to someone with fewer.
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

static size_t
sessions_of(const struct api *api, const uint8_t *token_hash, struct api_session **ret_oldest)
{
	struct api_session *oldest = NULL;
	size_t i, n = 0;

	for (i = 0; i < API_SESSIONS_MAX; i++) {
		struct api_session *s = (struct api_session *)&api->sessions[i];

		if (!s->expires_ns || memcmp(s->token_hash, token_hash, STORE_TOKEN_HASH_LEN))
			continue;
		n++;
		if (!oldest || s->created_ns < oldest->created_ns)
			oldest = s;
	}
	if (ret_oldest)
		*ret_oldest = oldest;
	return n;
}

/* A slot for a new session of token_hash, making room as the comment at the top says. */
static struct api_session *
session_slot(struct api *api, const uint8_t *token_hash, int64_t now)
{
	struct api_session *victim = NULL, *oldest;
	struct store_token t;
	size_t i, n, most = 0;

	sessions_expire(api, now);
	if (sessions_of(api, token_hash, &oldest) >= API_SESSIONS_PER_TOKEN_MAX)
		explicit_bzero(oldest, sizeof(*oldest));
	for (i = 0; i < API_SESSIONS_MAX; i++)
		if (!api->sessions[i].expires_ns)
			return &api->sessions[i];
	/* full: sessions of tokens revoked behind our back (jitgated token revoke) go first */
	for (i = 0; i < API_SESSIONS_MAX; i++)
		if (api->sessions[i].expires_ns && !api->sessions[i].sso &&
		    store_token_find(api->store, api->sessions[i].token_hash, &t) == -ENOENT)
			api_sessions_end_token(api, api->sessions[i].token_hash);
	for (i = 0; i < API_SESSIONS_MAX; i++)
		if (!api->sessions[i].expires_ns)
			return &api->sessions[i];
	/* then the oldest session of the token holding the most (on a tie, the one with the oldest session) */
	for (i = 0; i < API_SESSIONS_MAX; i++) {
		n = sessions_of(api, api->sessions[i].token_hash, &oldest);
		if (n > most || (n == most && oldest->created_ns < victim->created_ns)) {
			most = n;
			victim = oldest;
		}
	}
	explicit_bzero(victim, sizeof(*victim));
	return victim;
}

/* The session whose id (len hex characters) this is, or NULL. */
static struct api_session *
session_by_id(struct api *api, const char *id, size_t len)
{
	uint8_t hash[STORE_TOKEN_HASH_LEN];
	size_t i;

	if (len != 2 * SESSION_SECRET_BYTES || api_token_hash(id, len, hash) < 0)
		return NULL;
	sessions_expire(api, time_now_ns());
	for (i = 0; i < API_SESSIONS_MAX; i++)
		if (api->sessions[i].expires_ns && secret_equal(api->sessions[i].id_hash, hash, sizeof(hash)))
			return &api->sessions[i];
	return NULL;
}

/* The session whose id is in the request's cookie, or NULL. */
struct api_session *
api_session_find(struct api *api, const struct http_request *req)
{
	const char *cookie = http_request_header(req, "Cookie"), *p;
	size_t len;

	if (!cookie)
		return NULL;
	for (p = cookie; (p = strstr(p, SESSION_COOKIE "=")); p++)
		if (p == cookie || p[-1] == ' ' || p[-1] == ';')
			break;
	if (!p)
		return NULL;
	p += strlen(SESSION_COOKIE "=");
	len = strcspn(p, "; ");
	return session_by_id(api, p, len);
}

struct api_session *
api_session_find_bearer(struct api *api, const char *secret)
{
	size_t n = strlen(SSO_BEARER_PREFIX);

	if (strncmp(secret, SSO_BEARER_PREFIX, n))
		return NULL;
	return session_by_id(api, secret + n, strlen(secret + n));
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

struct api_session *
api_session_open(struct api *api, const uint8_t key_hash[STORE_TOKEN_HASH_LEN], int64_t lifetime_s, bool cookie,
		 struct http_response *resp, char ret_id[2 * SESSION_SECRET_BYTES + 1])
{
	char id[2 * SESSION_SECRET_BYTES + 1];
	int64_t now = time_now_ns();
	struct api_session *s = session_slot(api, key_hash, now);

	if (random_hex(id, SESSION_SECRET_BYTES) < 0 || random_hex(s->csrf, SESSION_SECRET_BYTES) < 0 ||
	    api_token_hash(id, strlen(id), s->id_hash) < 0) {
		explicit_bzero(s, sizeof(*s));
		return NULL;
	}
	memcpy(s->token_hash, key_hash, STORE_TOKEN_HASH_LEN);
	s->created_ns = now;
	s->expires_ns = now + lifetime_s * TIME_NS_PER_SEC;
	if (cookie)
		set_cookie(resp, id, (long)lifetime_s);
	else
		memcpy(ret_id, id, sizeof(id));
	explicit_bzero(id, sizeof(id));
	return s;
}

/* POST /session {"token": "..."}: sign in. */
void
api_session_create(struct api *api, struct api_caller *c, const struct http_request *req, struct http_response *resp)
{
	char expires[64];
	uint8_t hash[STORE_TOKEN_HASH_LEN];
	struct store_token t;
	struct api_session *s = NULL;
	json_error_t jerr;
	json_t *body = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
	const char *token = json_string_value(json_object_get(body, "token"));
	int r;

	if (!token) {
		json_decref(body);
		api_error(resp, 400, "MissingField", "token", "sign in with {\"token\": \"<your jitgate token>\"}");
		return;
	}
	r = -ENOENT;
	if (strlen(token) <= API_TOKEN_TEXT_MAX && api_token_hash(token, strlen(token), hash) == 0)
		r = store_token_find(api->store, hash, &t);
	if (r < 0 && r != -ENOENT) {	/* the store cannot say: 503 with Retry-After, not "not valid" */
		json_decref(body);
		explicit_bzero(hash, sizeof(hash));
		api_store_error(api, resp, r, "cannot check the token");
		return;
	}
	if (r < 0) {
		/* a sign-in is a token guess like any other: it shares the address's failure budget and its 429 */
		json_decref(body);
		explicit_bzero(hash, sizeof(hash));
		api_error(resp, 401, "AuthenticationFailed", "token", "that token is not valid");
		api_auth_failed(api, c, "SignIn", "/session", true, "unknown or revoked token", resp);
		return;
	}
	json_decref(body);
	s = api_session_open(api, hash, SESSION_LIFETIME_S, true, resp, NULL);
	explicit_bzero(hash, sizeof(hash));
	if (!s) {
		api_error(resp, 500, "InternalError", "", "cannot make a session");
		return;
	}
	snprintf(c->name, sizeof(c->name), "token:%s", t.name);
	api_log(api, c, "SignIn", "/session", "Succeeded", NULL, "portal session for token '%s'", t.name);
	time_format_azure(s->expires_ns, expires, sizeof(expires));
	resp->secret = true;	/* the CSRF token */
	resp->authenticated = true;
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

	if (s && s->sso) {
		time_format_rfc3339(s->expires_ns, expires, sizeof(expires));
		resp->secret = true;	/* the CSRF token */
		api_caller_from_session(api, s, c);
		/* role and scope: the first assignment; the portal reads them all */
		api_json(resp, 200, json_pack("{s:s, s:s, s:s, s:o, s:s, s:s, s:s, s:s}", "name", s->person, "role",
					      s->assign[0].role, "scope", s->assign[0].scope[0] ? s->assign[0].scope : "/",
					      "assignments", api_caller_assignments(c), "address", c->addr_text, "csrfToken",
					      s->csrf, "expiresUtc", expires, "subscriptionId", api->settings.subscription));
		return;
	}
	if (!s || store_token_find(api->store, s->token_hash, &t) < 0) {
		api_error(resp, 401, "AuthenticationFailed", "", "not signed in");
		return;
	}
	time_format_azure(s->expires_ns, expires, sizeof(expires));
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
		if (!api_session_csrf_ok(s, req)) {
			api_error(resp, 403, "CsrfTokenInvalid", "X-CSRF-Token",
				  "a signed-in write needs the X-CSRF-Token header from sign-in");
			return;
		}
		explicit_bzero(s, sizeof(*s));
		api_log(api, c, "SignOut", "/session", "Succeeded", NULL, "portal session ended");
	}
	set_cookie(resp, "", 0);
	resp->status = 204;
}

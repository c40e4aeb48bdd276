/* Single sign-on with OpenID Connect: the portal's authorization code flow (PKCE, state, nonce) ending in a portal session. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <jose/b64.h>

#include "api/api-internal.h"
#include "api/api-oidc-call.h"
#include "core/timeutil.h"

/*
 * The flow: POST /oidc/start answers the provider's authorization URL (the
 * portal sends the browser there) and sets a short-lived jg_oidc cookie that
 * binds the sign-in's state to this browser (SameSite=Lax: it must come back
 * on the provider's top-level redirect, unlike the session cookie). GET
 * /oidc/callback takes the state once (a replay finds nothing), exchanges the
 * code with the PKCE verifier, checks the ID token (api-oidc-token.c), maps
 * the person's claims to a role and scope, and opens the same portal session
 * as a token sign-in, for at most the configured max_session.
 */

/* A free slot for a new sign-in: the oldest goes when all are taken (an abandoned sign-in costs nothing). */
static struct oidc_pending *
pending_slot(struct api_oidc *o, int64_t now)
{
	struct oidc_pending *oldest = &o->pending[0];
	size_t i;

	for (i = 0; i < OIDC_PENDING_MAX; i++) {
		struct oidc_pending *p = &o->pending[i];

		if (p->created_ns && now - p->created_ns > (int64_t)OIDC_PENDING_TTL_S * TIME_NS_PER_SEC)
			explicit_bzero(p, sizeof(*p));
		if (!p->created_ns)
			return p;
		if (p->created_ns < oldest->created_ns)
			oldest = p;
	}
	explicit_bzero(oldest, sizeof(*oldest));
	return oldest;
}

/* PKCE's S256 challenge of a verifier (RFC 7636 4.2). */
static int
pkce_challenge(const char *verifier, char out[OIDC_RANDOM_TEXT + 1])
{
	uint8_t h[32];

	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, verifier, strlen(verifier), h) != 0 ||
	    jose_b64_enc_buf(h, sizeof(h), out, OIDC_RANDOM_TEXT) != OIDC_RANDOM_TEXT)
		return -EIO;
	out[OIDC_RANDOM_TEXT] = '\0';
	return 0;
}

/* The provider could not be asked: 503 and the reason (a token sign-in still works). */
static void
provider_down(struct api *api, struct api_caller *c, struct http_response *resp, const struct core_error *e)
{
	api_error(resp, 503, e->code[0] ? e->code : "ProviderUnavailable", "",
		  "single sign-on is unavailable: %s (a jitgate token still signs in)", e->message);
	api_log(api, c, "SignIn", "/oidc/start", "Failed", NULL, "single sign-on unavailable: %s", e->message);
}

/* POST /oidc/start: {"authorizeUrl": ...} and the jg_oidc cookie. */
static void
oidc_start(struct api *api, struct api_oidc *o, struct api_caller *c, struct http_response *resp)
{
	char challenge[OIDC_RANDOM_TEXT + 1], cookie[256], url[3 * OIDC_URL_MAX];
	const struct oidc_discovery *d;
	struct core_error e = { 0 };
	struct oidc_pending *p;
	char *q = NULL;
	int64_t now = time_now_ns();
	int r;

	if ((r = oidc_discovery_get(o, &d, &e)) < 0) {
		if (r != -EINPROGRESS)	/* else parked: asked again with the answer */
			provider_down(api, c, resp, &e);
		return;
	}
	p = pending_slot(o, now);
	if (oidc_random_text(p->state) < 0 || oidc_random_text(p->browser) < 0 || oidc_random_text(p->nonce) < 0 ||
	    oidc_random_text(p->verifier) < 0 || pkce_challenge(p->verifier, challenge) < 0 ||
	    !(q = oidc_form((const char *const[]){ "response_type", "code", "client_id", o->s->client_id,
						   "redirect_uri", o->s->redirect_url, "scope", o->s->scopes,
						   "state", p->state, "nonce", p->nonce, "code_challenge", challenge,
						   "code_challenge_method", "S256", NULL }))) {
		explicit_bzero(p, sizeof(*p));
		api_error(resp, 500, "InternalError", "", "cannot start a sign-in");
		return;
	}
	p->created_ns = now;
	snprintf(url, sizeof(url), "%s%c%s", d->authorization_endpoint,
		 strchr(d->authorization_endpoint, '?') ? '&' : '?', q);
	free(q);
	snprintf(cookie, sizeof(cookie), OIDC_BROWSER_COOKIE "=%s; Path=/oidc/; Max-Age=%d; HttpOnly; Secure; SameSite=Lax",
		 p->browser, OIDC_PENDING_TTL_S);
	http_response_header(resp, "Set-Cookie", cookie);
	api_json(resp, 200, json_pack("{s:s}", "authorizeUrl", url));
}

/* The value of cookie `name` in the request (len bytes at *ret), or false. */
static bool
cookie_value(const struct http_request *req, const char *name, const char **ret, size_t *ret_len)
{
	const char *h = http_request_header(req, "Cookie"), *p;
	size_t n = strlen(name);

	for (p = h; p && (p = strstr(p, name)); p++)
		if ((p == h || p[-1] == ' ' || p[-1] == ';') && p[n] == '=') {
			*ret = p + n + 1;
			*ret_len = strcspn(p + n + 1, "; ");
			return true;
		}
	return false;
}

/* The sign-in this callback finishes, taken out of the table (a second use finds nothing), or false. */
static bool
pending_take(struct api_oidc *o, const struct http_request *req, const char *state, struct oidc_pending *ret)
{
	char browser[OIDC_RANDOM_TEXT + 1];
	const char *v;
	size_t i, n;
	int64_t now = time_now_ns();

	if (!cookie_value(req, OIDC_BROWSER_COOKIE, &v, &n) || n != OIDC_RANDOM_TEXT)
		return false;
	memcpy(browser, v, n);
	browser[n] = '\0';
	for (i = 0; i < OIDC_PENDING_MAX; i++) {
		struct oidc_pending *p = &o->pending[i];

		if (!p->created_ns || now - p->created_ns > (int64_t)OIDC_PENDING_TTL_S * TIME_NS_PER_SEC ||
		    !oidc_text_equal(p->state, state))
			continue;
		*ret = *p;
		explicit_bzero(p, sizeof(*p));	/* used once, whatever follows */
		return oidc_text_equal(ret->browser, browser);
	}
	return false;
}

/* Exchange the code for an ID token (its text malloc'd in *ret), or an error in e. */
static int
code_exchange(struct api_oidc *o, const char *code, const struct oidc_pending *p, char **ret, struct core_error *e)
{
	const struct oidc_discovery *d;
	json_t *answer = NULL;
	const char *idt;
	char *form = NULL;
	long status = 0;
	int r;

	if ((r = oidc_discovery_get(o, &d, e)) < 0)
		return r;
	if (!(form = oidc_form((const char *const[]){ "grant_type", "authorization_code", "code", code, "redirect_uri",
						     o->s->redirect_url, "code_verifier", p->verifier, NULL })))
		return -ENOMEM;
	r = oidc_token_call(o, d->token_endpoint, form, &answer, &status, e);
	free(form);
	if (r < 0)
		return r;
	idt = json_string_value(json_object_get(answer, "id_token"));
	if (status != 200 || !idt) {
		r = core_error_set(e, "ProviderError", "code", "the identity provider refused the code (%ld %.100s)",
				   status, json_string_value(json_object_get(answer, "error")) ?: "no id_token");
	} else if (!(*ret = strdup(idt))) {
		r = -ENOMEM;
	}
	json_decref(answer);
	return r < 0 ? r : 0;
}

/* GET /oidc/callback?code=…&state=…: the provider sent the browser back. */
static void
oidc_callback(struct api *api, struct api_oidc *o, struct api_caller *c, const struct http_request *req,
	      struct http_response *resp)
{
	const char *code = http_request_query(req, "code"), *state = http_request_query(req, "state");
	const char *perr = http_request_query(req, "error");
	struct core_error e = { 0 };
	struct oidc_pending p;
	struct oidc_claims cl;
	char held[API_CALLER_TEXT_MAX];
	struct api_session *s;
	char *idt = NULL;
	int r;

	/* the browser's binding is good for one callback, whatever it brings */
	http_response_header(resp, "Set-Cookie", OIDC_BROWSER_COOKIE "=; Path=/oidc/; Max-Age=0; HttpOnly; Secure; SameSite=Lax");
	if (perr) {
		core_error_set(&e, "ProviderError", "error", "the identity provider said: %.200s", perr);
		r = -EACCES;
		goto out;
	}
	/* taken once, at the first run: a run after waiting for the provider finds it in its step */
	if (o->cur && o->cur->have_pending) {
		p = o->cur->pending;
	} else if (!code || !state || !pending_take(o, req, state, &p)) {
		core_error_set(&e, "InvalidState", "state",
			       "this sign-in is unknown, was already used, expired, or began in another browser; "
			       "start again from the portal");
		r = -EACCES;
		goto out;
	} else if (o->cur) {
		o->cur->pending = p;
		o->cur->have_pending = true;
	}
	if ((r = code_exchange(o, code, &p, &idt, &e)) < 0 || (r = oidc_verify(o, idt, p.nonce, &cl, &e)) < 0 ||
	    (r = oidc_session_open(api, o, &cl, true, resp, NULL, &s, &e)) < 0)
		goto out;
	api_caller_from_session(api, s, c);
	api_caller_text(c, held, sizeof(held));
	api_log(api, c, "SignIn", "/oidc/callback", "Succeeded", NULL,
		"portal session by single sign-on: subject '%.200s' of %.300s, %s", cl.subject, o->s->issuer, held);
	resp->status = 303;
	http_response_header(resp, "Location", "/");
	http_response_header(resp, "Cache-Control", "no-store");
	r = 0;
out:
	explicit_bzero(&p, sizeof(p));
	free(idt);
	if (r < 0 && r != -EINPROGRESS) {
		oidc_page(resp, r == -EIO ? 503 : 403, "Sign-in refused", e.message);
		api_log(api, c, "SignIn", "/oidc/callback", "Denied", NULL, "single sign-on refused: %s: %s", e.code,
			e.message);
	}
}

/* One more sign-in step within this second's budget (OIDC_STEPS_PER_S), or false. */
static bool
oidc_step_allowed(struct api_oidc *o)
{
	int64_t second = time_mono_ms() / 1000;

	if (second != o->steps_second) {
		o->steps_second = second;
		o->steps_used = 0;
	}
	if (o->steps_used >= OIDC_STEPS_PER_S)
		return false;
	o->steps_used++;
	return true;
}

void
api_oidc_handle(struct api *api, struct api_caller *c, const struct http_request *req, struct http_response *resp)
{
	struct api_oidc *o = api_oidc_get(api);

	if (!strcmp(req->path, "/oidc/config") && !strcmp(req->method, "GET")) {
		api_json(resp, 200, o ? json_pack("{s:b, s:s}", "enabled", 1, "name", o->s->name)
				      : json_pack("{s:b}", "enabled", 0));
		return;
	}
	if (!o) {
		api_error(resp, 404, "SsoNotConfigured", "", "single sign-on is not configured on this server");
		return;
	}
	/* a run after waiting for the provider is the same step, counted once */
	if (!req->unparked && !oidc_step_allowed(o)) {
		http_response_header(resp, "Retry-After", "1");
		api_error(resp, 429, "TooManyRequests", "",
			  "more than %d single sign-on steps in one second on this server; retry after 1 s", OIDC_STEPS_PER_S);
		return;
	}
	/* every step but a logout may ask the provider: it needs a place among the OIDC_CALLS_MAX that may wait */
	if (strcmp(req->method, "DELETE") && !oidc_step_begin(api, o, req, resp))
		return;
	if (!strcmp(req->path, "/oidc/start") && !strcmp(req->method, "POST"))
		oidc_start(api, o, c, resp);
	else if (!strcmp(req->path, "/oidc/callback") && !strcmp(req->method, "GET"))
		oidc_callback(api, o, c, req, resp);
	else if (!api_oidc_device_handle(api, o, c, req, resp))
		api_error(resp, 404, "NotFound", "", "no such single sign-on endpoint");
	oidc_step_end(o, resp);	/* parked when it waits for the provider */
}

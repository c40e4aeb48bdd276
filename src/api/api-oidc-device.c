/* The CLI's single sign-on (jitgate login --sso): the device authorization grant (RFC 8628), brokered by jitgated. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/api-oidc-call.h"
#include "core/timeutil.h"

/*
 * The CLI never sees the provider's device_code nor any of its tokens: it
 * holds a random handle for the sign-in, and at the end a jitgate session
 * credential (SSO_BEARER_PREFIX + the session id), which lives in jitgated's
 * memory for at most max_session and ends with a restart, a logout, or an
 * administrator ending the person's sessions.
 */

#define OIDC_DEVICE_GRANT	"urn:ietf:params:oauth:grant-type:device_code"
#define OIDC_SLOW_DOWN_NS	(5LL * TIME_NS_PER_SEC)	/* RFC 8628 3.5: slow_down adds 5 s to the interval */
#define OIDC_DEVICE_INTERVAL_MAX_S	60	/* a provider's interval above this is taken as this */

static struct oidc_device *
device_slot(struct api_oidc *o, int64_t now)
{
	struct oidc_device *oldest = &o->devices[0];
	size_t i;

	for (i = 0; i < OIDC_PENDING_MAX; i++) {
		struct oidc_device *d = &o->devices[i];

		if (d->expires_ns && d->expires_ns <= now)
			explicit_bzero(d, sizeof(*d));
		if (!d->expires_ns)
			return d;
		if (d->expires_ns < oldest->expires_ns)
			oldest = d;
	}
	explicit_bzero(oldest, sizeof(*oldest));
	return oldest;
}

static struct oidc_device *
device_find(struct api_oidc *o, const char *handle, int64_t now)
{
	size_t i;

	if (strlen(handle) != OIDC_RANDOM_TEXT)
		return NULL;
	for (i = 0; i < OIDC_PENDING_MAX; i++) {
		struct oidc_device *d = &o->devices[i];

		if (!d->expires_ns || !oidc_text_equal(d->handle, handle))
			continue;
		if (d->expires_ns <= now) {
			explicit_bzero(d, sizeof(*d));
			return NULL;
		}
		return d;
	}
	return NULL;
}

/* POST /oidc/device: the provider's user code and URL for the CLI to print, and our handle to poll with. */
static void
device_start(struct api *api, struct api_oidc *o, struct api_caller *c, struct http_response *resp)
{
	const struct oidc_discovery *disc;
	struct core_error e = { 0 };
	json_t *a = NULL;
	char *form = NULL;
	const char *code, *user_code, *uri, *uri_complete;
	struct oidc_device *d;
	int64_t now = time_now_ns(), interval, expires;
	long status = 0;
	int r = 0;

	if ((r = oidc_discovery_get(o, &disc, &e)) < 0 || !(form = oidc_form((const char *const[]){
							 "client_id", o->s->client_id, "scope", o->s->scopes, NULL })) ||
	    (!disc->device_endpoint[0] &&
	     core_error_set(&e, "DeviceGrantUnsupported", "", "the identity provider offers no device authorization grant")) ||
	    (r = oidc_token_call(o, disc->device_endpoint, form, &a, &status, &e)) < 0) {
		if (r == -EINPROGRESS)	/* parked: asked again with the answer */
			goto out;
		api_error(resp, 503, e.code[0] ? e.code : "ProviderUnavailable", "",
			  "single sign-on is unavailable: %s (a jitgate token still signs in)", e.message);
		api_log(api, c, "SignIn", "/oidc/device", "Failed", NULL, "device sign-in unavailable: %s", e.message);
		goto out;
	}
	code = json_string_value(json_object_get(a, "device_code"));
	user_code = json_string_value(json_object_get(a, "user_code"));
	uri = json_string_value(json_object_get(a, "verification_uri"));
	uri_complete = json_string_value(json_object_get(a, "verification_uri_complete"));
	interval = json_is_integer(json_object_get(a, "interval")) ? json_integer_value(json_object_get(a, "interval")) : 5;
	expires = json_integer_value(json_object_get(a, "expires_in"));
	if (status != 200 || !code || !user_code || !uri || strlen(code) > OIDC_URL_MAX || expires <= 0) {
		api_error(resp, 502, "ProviderError", "", "the identity provider refused the device sign-in (%ld %.100s)",
			  status, json_string_value(json_object_get(a, "error")) ?: "incomplete answer");
		goto out;
	}
	d = device_slot(o, now);
	if (oidc_random_text(d->handle) < 0) {
		api_error(resp, 500, "InternalError", "", "cannot start a sign-in");
		goto out;
	}
	snprintf(d->device_code, sizeof(d->device_code), "%s", code);
	d->interval_ns = (interval < 1 ? 1 : interval > OIDC_DEVICE_INTERVAL_MAX_S ? OIDC_DEVICE_INTERVAL_MAX_S : interval) *
			 TIME_NS_PER_SEC;
	d->next_poll_ns = now + d->interval_ns;
	d->expires_ns = now + (expires > OIDC_PENDING_TTL_S ? OIDC_PENDING_TTL_S : expires) * TIME_NS_PER_SEC;
	resp->secret = true;	/* the handle */
	api_json(resp, 200, json_pack("{s:s, s:s, s:s, s:s, s:I, s:I}", "handle", d->handle, "userCode", user_code,
				      "verificationUri", uri, "verificationUriComplete", uri_complete ? uri_complete : uri,
				      "interval", (json_int_t)(d->interval_ns / TIME_NS_PER_SEC), "expiresIn",
				      (json_int_t)((d->expires_ns - now) / TIME_NS_PER_SEC)));
out:
	free(form);
	json_decref(a);
}

/* The provider said the person approved: check the ID token, map, and answer a jitgate session credential. */
static void
device_done(struct api *api, struct api_oidc *o, struct api_caller *c, const char *idt, struct http_response *resp)
{
	char id[2 * SESSION_SECRET_BYTES + 1], bearer[sizeof(SSO_BEARER_PREFIX) + sizeof(id)], expires[64];
	char held[API_CALLER_TEXT_MAX];
	struct core_error e = { 0 };
	struct oidc_claims cl;
	struct api_session *s;
	int r;

	if ((r = oidc_verify(o, idt, NULL, &cl, &e)) < 0 || (r = oidc_session_open(api, o, &cl, false, resp, id, &s, &e)) < 0) {
		if (r == -EINPROGRESS)	/* the keys are being fetched: parked */
			return;
		api_error(resp, r == -EIO ? 503 : 403, e.code, e.target, "%s", e.message);
		api_log(api, c, "SignIn", "/oidc/device/poll", "Denied", NULL, "single sign-on refused: %s: %s", e.code,
			e.message);
		return;
	}
	snprintf(bearer, sizeof(bearer), SSO_BEARER_PREFIX "%s", id);
	explicit_bzero(id, sizeof(id));
	api_caller_from_session(api, s, c);
	api_caller_text(c, held, sizeof(held));
	api_log(api, c, "SignIn", "/oidc/device/poll", "Succeeded", NULL,
		"CLI session by single sign-on: subject '%.200s' of %.300s, %s", cl.subject, o->s->issuer, held);
	time_format_rfc3339(s->expires_ns, expires, sizeof(expires));
	resp->secret = true;
	/* role and scope: the first assignment, for clients that know only one */
	api_json(resp, 200, json_pack("{s:s, s:s, s:s, s:s, s:o, s:s}", "token", bearer, "name", s->person, "role",
				      s->assign[0].role, "scope", s->assign[0].scope[0] ? s->assign[0].scope : "/",
				      "assignments", api_caller_assignments(c), "expiresUtc", expires));
	explicit_bzero(bearer, sizeof(bearer));
}

/* POST /oidc/device/poll {"handle": ...}: 202 while the person has not approved yet. */
static void
device_poll(struct api *api, struct api_oidc *o, struct api_caller *c, const struct http_request *req,
	    struct http_response *resp)
{
	json_t *body = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, NULL), *a = NULL;
	const char *handle = json_string_value(json_object_get(body, "handle")), *perr, *idt;
	const struct oidc_discovery *disc;
	struct core_error e = { 0 };
	struct oidc_device *d = NULL;
	int64_t now = time_now_ns();
	/* a run after waiting for the keys: the provider's answer is in the step, the handle used up already */
	bool answered = oidc_call_ready(o, OIDC_CALL_TOKEN);
	char *form = NULL;
	long status = 0;
	int r = 0;

	if ((!handle || !(d = device_find(o, handle, now))) && !answered) {
		api_error(resp, 400, "ExpiredSignIn", "handle", "this sign-in is unknown or has expired; start again");
		goto out;
	}
	if (d && !req->unparked && now < d->next_poll_ns) {	/* asked too soon: the provider is not bothered */
		api_json(resp, 202, json_pack("{s:s, s:I}", "status", "pending", "interval",
					      (json_int_t)(d->interval_ns / TIME_NS_PER_SEC)));
		goto out;
	}
	if (d && !req->unparked)
		d->next_poll_ns = now + d->interval_ns;
	if ((r = oidc_discovery_get(o, &disc, &e)) < 0 ||
	    !(form = oidc_form((const char *const[]){ "grant_type", OIDC_DEVICE_GRANT, "device_code",
						      d ? d->device_code : "", "client_id", o->s->client_id, NULL })) ||
	    (r = oidc_token_call(o, disc->token_endpoint, form, &a, &status, &e)) < 0) {
		if (r != -EINPROGRESS)	/* else parked: asked again with the answer */
			api_error(resp, 503, e.code[0] ? e.code : "ProviderUnavailable", "", "%s", e.message);
		goto out;
	}
	perr = json_string_value(json_object_get(a, "error"));
	idt = json_string_value(json_object_get(a, "id_token"));
	if (d && perr && (!strcmp(perr, "authorization_pending") || !strcmp(perr, "slow_down"))) {
		if (!strcmp(perr, "slow_down"))
			d->interval_ns += OIDC_SLOW_DOWN_NS;
		api_json(resp, 202, json_pack("{s:s, s:I}", "status", "pending", "interval",
					      (json_int_t)(d->interval_ns / TIME_NS_PER_SEC)));
		goto out;
	}
	if (d)
		explicit_bzero(d, sizeof(*d));	/* approved, refused or expired: the handle is used up */
	if (status != 200 || !idt)
		api_error(resp, 403, "SignInRefused", "", "the identity provider ended the sign-in: %.100s",
			  perr ? perr : "no ID token");
	else
		device_done(api, o, c, idt, resp);
out:
	free(form);
	json_decref(a);
	json_decref(body);
}

/* DELETE /oidc/session with the CLI's bearer: jitgate logout. */
static void
device_logout(struct api *api, struct api_caller *c, const struct http_request *req, struct http_response *resp)
{
	const char *auth = http_request_header(req, "Authorization");
	const char *id = auth && !strncasecmp(auth, "Bearer " SSO_BEARER_PREFIX, 7 + strlen(SSO_BEARER_PREFIX)) ?
			 auth + 7 + strlen(SSO_BEARER_PREFIX) : NULL;
	struct api_session s;
	int r;

	if (!id) {
		resp->status = 204;
		return;
	}
	if (api_session_find_bearer(api, auth + 7, &s) == 0 && s.sso)
		snprintf(c->name, sizeof(c->name), "%s", s.person);
	explicit_bzero(&s, sizeof(s));
	/* refused here at once even if the store cannot record it: then 503 says the other replicas wait */
	if ((r = api_session_end_id(api, id, strlen(id))) < 0) {
		api_store_error(api, resp, r, "signed out on this server, but the store cannot record it for the other "
				"replicas yet (it is retried every second)");
		return;
	}
	if (r > 0)
		api_log(api, c, "SignOut", "/oidc/session", "Succeeded", NULL, "CLI single sign-on session ended");
	resp->status = 204;
}

bool
api_oidc_device_handle(struct api *api, struct api_oidc *o, struct api_caller *c, const struct http_request *req,
		       struct http_response *resp)
{
	if (!strcmp(req->path, "/oidc/device") && !strcmp(req->method, "POST"))
		device_start(api, o, c, resp);
	else if (!strcmp(req->path, "/oidc/device/poll") && !strcmp(req->method, "POST"))
		device_poll(api, o, c, req, resp);
	else if (!strcmp(req->path, "/oidc/session") && !strcmp(req->method, "DELETE"))
		device_logout(api, c, req, resp);
	else
		return false;
	return true;
}

/* Single sign-on's provider calls on the loop's fetcher: the steps parked while they wait, and their answers (api-oidc-call.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api-oidc-call.h"
#include "core/timeutil.h"
#include "http/http.h"

/* A call's answer or failure is in: the step's request runs again (in the server's next pass). */
static void
on_call_done(void *ctx, struct http_fetch *t, CURLcode code)
{
	struct oidc_call *c = ctx;
	struct oidc_step *s = c->step;
	char why[ERROR_MESSAGE_MAX];

	c->state = OIDC_CALL_DONE;
	c->r = 0;
	if (code != CURLE_OK) {
		core_error_set(&c->err, "ProviderUnavailable", "", "cannot reach the identity provider: %s",
			       http_fetch_error(t, code, why, sizeof(why)));
		c->r = -EIO;
	} else {
		c->status = http_fetch_status(t);
		c->text = t->answer ? t->answer : strdup("");
		c->len = t->answer_len;
		t->answer = NULL;
		if (!c->text) {
			core_error_set(&c->err, "ProviderUnavailable", "", "out of memory");
			c->r = -ENOMEM;
		}
	}
	http_fetch_end(s->api->fetcher, t);
	free(c->form);
	c->form = NULL;
	if (s->api->srv)
		http_server_wake(s->api->srv, s->key);
}

/* The call back to nothing: its transfer stopped, its answer wiped (it may hold an ID token). */
static void
call_clear(struct api *api, struct oidc_call *c)
{
	http_fetch_end(api->fetcher, &c->t);
	free(c->form);
	if (c->text) {
		explicit_bzero(c->text, c->len);
		free(c->text);
	}
	memset(c, 0, sizeof(*c));
}

static void
step_free(struct oidc_step *s)
{
	struct api *api = s->api;
	size_t k;

	for (k = 0; k < OIDC_CALL_KINDS; k++)
		call_clear(api, &s->calls[k]);
	explicit_bzero(s, sizeof(*s));
}

void
api_oidc_steps_free(struct api *api)
{
	size_t i;

	if (!api->oidc || !api->oidc->steps)
		return;
	for (i = 0; i < OIDC_CALLS_MAX; i++)
		if (api->oidc->steps->v[i].key)
			step_free(&api->oidc->steps->v[i]);
	free(api->oidc->steps);
	api->oidc->steps = NULL;
	api->oidc->cur = NULL;
}

/* A free step; one whose request never came back (its park refused, its connection gone) is taken back. */
static struct oidc_step *
step_free_slot(struct oidc_steps *t, int64_t now_ms)
{
	int64_t lost_ms = 2 * ((int64_t)OIDC_HTTP_TIMEOUT_MS + OIDC_PARK_SLACK_MS);
	size_t i;

	for (i = 0; i < OIDC_CALLS_MAX; i++) {
		if (t->v[i].key && now_ms - t->v[i].started_ms > lost_ms)
			step_free(&t->v[i]);
		if (!t->v[i].key)
			return &t->v[i];
	}
	return NULL;
}

/* A run after the park's deadline: a call still running ends as the timeout it is. */
static void
step_expire(struct oidc_step *s)
{
	size_t k;

	for (k = 0; k < OIDC_CALL_KINDS; k++) {
		struct oidc_call *c = &s->calls[k];

		if (c->state != OIDC_CALL_RUNNING)
			continue;
		call_clear(s->api, c);
		c->state = OIDC_CALL_DONE;
		core_error_set(&c->err, "ProviderUnavailable", "", "cannot reach the identity provider: no answer within %d ms",
			       OIDC_HTTP_TIMEOUT_MS);
		c->r = -EIO;
	}
}

struct oidc_step *
oidc_step_begin(struct api *api, struct api_oidc *o, const struct http_request *req, struct http_response *resp)
{
	struct oidc_step *s = NULL;
	char retry[16];
	size_t i;

	o->cur = NULL;
	if (!o->steps && !(o->steps = calloc(1, sizeof(*o->steps)))) {
		api_error(resp, 500, "InternalError", "", "out of memory");
		return NULL;
	}
	if (req->unparked) {
		for (i = 0; i < OIDC_CALLS_MAX && !s; i++)
			if (o->steps->v[i].key && o->steps->v[i].key == req->park_key)
				s = &o->steps->v[i];
		if (!s) {
			api_error(resp, 503, "ProviderUnavailable", "",
				  "single sign-on is unavailable: this sign-in step's answer from the identity provider "
				  "was lost (a jitgate token still signs in)");
			return NULL;
		}
		if (req->park_expired)
			step_expire(s);
	} else if (!(s = step_free_slot(o->steps, time_mono_ms()))) {
		snprintf(retry, sizeof(retry), "%d", OIDC_BUSY_RETRY_S);
		http_response_header(resp, "Retry-After", retry);
		api_error(resp, 503, "ProviderBusy", "",
			  "%d single sign-on steps are waiting for the identity provider already; retry after %d s "
			  "(a jitgate token still signs in)", OIDC_CALLS_MAX, OIDC_BUSY_RETRY_S);
		return NULL;
	} else {
		s->api = api;
		s->key = ++o->steps->next_key | (1ULL << 63);	/* apart from the watches' keys (VM ids) */
		s->started_ms = time_mono_ms();
	}
	s->waits = false;
	o->cur = s;
	return s;
}

void
oidc_step_end(struct api_oidc *o, struct http_response *resp)
{
	struct oidc_step *s = o->cur;

	o->cur = NULL;
	if (!s)
		return;
	if (!s->waits) {
		step_free(s);
		return;
	}
	free(resp->body);
	memset(resp, 0, sizeof(*resp));
	resp->park = true;
	resp->park_key = s->key;
	resp->park_until_ms = time_mono_ms() + OIDC_HTTP_TIMEOUT_MS + OIDC_PARK_SLACK_MS;
}

bool
oidc_call_ready(const struct api_oidc *o, enum oidc_call_kind kind)
{
	return o->cur && o->cur->calls[kind].state == OIDC_CALL_DONE;
}

void
oidc_call_forget(struct api_oidc *o, enum oidc_call_kind kind)
{
	if (o->cur)
		call_clear(o->cur->api, &o->cur->calls[kind]);
}

/* Start the step's call of this kind: GET url, or POST form with client_secret_basic. */
static int
call_start(struct api_oidc *o, struct oidc_call *c, const char *url, const char *form, struct core_error *err)
{
	static const struct http_fetch_limits lim = { OIDC_HTTP_TIMEOUT_MS, OIDC_HTTP_TIMEOUT_MS, OIDC_RESPONSE_MAX, true };
	struct api *api = o->cur->api;
	CURLcode cc = CURLE_OK;
	int r;

	if (!api->fetcher)
		return core_error_set(err, "ProviderUnavailable", "", "cannot reach the identity provider: no HTTPS client"),
		       -EIO;
	if ((r = http_fetch_init(&c->t, url, o->s->ca_file, false, &lim, on_call_done, c)) < 0)
		return core_error_set(err, "ProviderUnavailable", "", "cannot make an HTTPS client"), r;
	c->step = o->cur;
	if (form) {
		/* client_secret_basic (RFC 6749 2.3.1), the method every provider must support */
		if (!(c->form = strdup(form)))
			cc = CURLE_OUT_OF_MEMORY;
		cc |= curl_easy_setopt(c->t.easy, CURLOPT_POSTFIELDS, c->form);
		cc |= curl_easy_setopt(c->t.easy, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		cc |= curl_easy_setopt(c->t.easy, CURLOPT_USERNAME, o->s->client_id);
		cc |= curl_easy_setopt(c->t.easy, CURLOPT_PASSWORD, o->s->client_secret);
	}
	if (cc != CURLE_OK || http_fetch_start(api->fetcher, &c->t) < 0) {
		call_clear(api, c);
		return core_error_set(err, "ProviderUnavailable", "", "cannot make an HTTPS client"), -ENOMEM;
	}
	c->state = OIDC_CALL_RUNNING;
	o->cur->waits = true;
	return -EINPROGRESS;
}

int
oidc_http(struct api_oidc *o, int kind, const char *url, const char *form, const char **ret,
	  size_t *ret_len, long *ret_status, struct core_error *err)
{
	struct oidc_call *c;

	if (!o->cur || kind < 0 || kind >= OIDC_CALL_KINDS)	/* every caller is a step: a bug, not the provider */
		return core_error_set(err, "ProviderUnavailable", "", "cannot reach the identity provider: no step"), -EIO;
	c = &o->cur->calls[kind];
	if (c->state == OIDC_CALL_NONE)
		return call_start(o, c, url, form, err);
	if (c->state == OIDC_CALL_RUNNING) {	/* asked twice in one run: wait on */
		o->cur->waits = true;
		return -EINPROGRESS;
	}
	if (c->r < 0) {
		if (err)
			*err = c->err;
		return c->r;
	}
	*ret = c->text;
	*ret_len = c->len;
	*ret_status = c->status;
	return 0;
}

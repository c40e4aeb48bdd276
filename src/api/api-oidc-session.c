/* Single sign-on's shared parts: the provider state's life, random texts, HTML answers, and opening a person's session. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include <jose/b64.h>

#include "api/api-oidc-internal.h"
#include "core/timeutil.h"
#include "store/store-sessions.h"

int
oidc_random_text(char out[OIDC_RANDOM_TEXT + 1])
{
	uint8_t raw[OIDC_STATE_BYTES];
	size_t n;

	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
		return -EIO;
	n = jose_b64_enc_buf(raw, sizeof(raw), out, OIDC_RANDOM_TEXT);
	explicit_bzero(raw, sizeof(raw));
	if (n != OIDC_RANDOM_TEXT)
		return -EIO;
	out[OIDC_RANDOM_TEXT] = '\0';
	return 0;
}

struct api_oidc *
api_oidc_get(struct api *api)
{
	if (!api->settings.oidc.issuer[0])
		return NULL;
	if (!api->oidc && (api->oidc = calloc(1, sizeof(*api->oidc))))
		api->oidc->s = &api->settings.oidc;
	return api->oidc;
}

void
api_oidc_free(struct api *api)
{
	if (!api->oidc)
		return;
	json_decref(api->oidc->jwks);
	explicit_bzero(api->oidc, sizeof(*api->oidc));
	free(api->oidc);
	api->oidc = NULL;
}

/* A short HTML page for the browser that came back from the provider; msg is escaped. */
void
oidc_page(struct http_response *resp, int status, const char *title, const char *msg)
{
	char esc[2 * ERROR_MESSAGE_MAX], body[4 * ERROR_MESSAGE_MAX];
	size_t i, k = 0;
	int n;

	for (i = 0; msg[i] && k + 7 < sizeof(esc); i++) {
		const char *rep = msg[i] == '<' ? "&lt;" : msg[i] == '>' ? "&gt;" : msg[i] == '&' ? "&amp;" :
				  msg[i] == '"' ? "&quot;" : NULL;

		if (rep)
			k += (size_t)snprintf(esc + k, sizeof(esc) - k, "%s", rep);
		else
			esc[k++] = msg[i];
	}
	esc[k] = '\0';
	n = snprintf(body, sizeof(body),
		     "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>jitgate: %s</title>"
		     "<h1>%s</h1><p id=\"reason\">%s</p><p><a href=\"/\">Back to jitgate</a></p></html>\n",
		     title, title, esc);
	free(resp->body);
	resp->body = strdup(body);
	resp->body_len = resp->body ? (size_t)n : 0;
	resp->content_type = "text/html; charset=utf-8";
	resp->status = status;
	http_response_header(resp, "Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'");
	http_response_header(resp, "Cache-Control", "no-store");
	http_response_header(resp, "Referrer-Policy", "no-referrer");
}

int
oidc_session_open(struct api *api, struct api_oidc *o, const struct oidc_claims *cl, bool cookie,
		  struct http_response *resp, char ret_id[2 * SESSION_SECRET_BYTES + 1], struct api_session **ret,
		  struct core_error *e)
{
	const struct oidc_map *maps[OIDC_MAPS_MAX];
	char subj[2 * OIDC_TEXT_MAX + 8];
	struct api_session *s;
	int64_t life = o->s->max_session_s;
	size_t n = oidc_map_claims(o->s, cl, maps, OIDC_MAPS_MAX), i;

	if (!n)
		return core_error_set(e, "NoRoleMapped", o->s->person_claim,
				      "%.200s may sign in with the identity provider but is given no role in jitgate; "
				      "ask an administrator to map one of your groups", cl->person), -EACCES;
	/* never a session holding only some of them: which ones would be a guess */
	if (n > API_CALLER_ASSIGNMENTS_MAX)
		return core_error_set(e, "TooManyRoles", o->s->person_claim,
				      "%.200s matches %zu map lines of [sso], more than the %d one person may hold; "
				      "ask an administrator to map fewer of your groups", cl->person, n,
				      API_CALLER_ASSIGNMENTS_MAX), -EACCES;
	if (strlen(cl->person) + 5 > API_CALLER_MAX || strlen(cl->subject) > STORE_SUBJECT_MAX)
		return core_error_set(e, "InvalidIdToken", o->s->person_claim,
				      "the claim naming the person is longer than %d characters", API_CALLER_MAX - 5), -EACCES;
	s = &api->opened;
	memset(s, 0, sizeof(*s));
	s->sso = true;
	snprintf(s->person, sizeof(s->person), "user:%s", cl->person);
	snprintf(s->subject, sizeof(s->subject), "%s", cl->subject);
	/* several mappings: the person holds them all, and any one of them allows (doc/operator.md, Single sign-on) */
	for (i = 0; i < n; i++) {
		snprintf(s->assign[i].role, sizeof(s->assign[i].role), "%s", maps[i]->role);
		snprintf(s->assign[i].scope, sizeof(s->assign[i].scope), "%s", maps[i]->scope);
	}
	s->n_assign = n;
	/* one person's sessions are counted together, as one token's are */
	snprintf(subj, sizeof(subj), "sso\n%s", cl->subject);
	if (api_token_hash(subj, strlen(subj), s->token_hash) < 0)
		return core_error_set(e, "InternalError", "", "cannot make a session"), -EIO;
	/* -EIO: 503, the store (shared by the replicas) did not record it; try again */
	if (api_session_open(api, s, life, cookie, resp, ret_id) < 0)
		return core_error_set(e, "SessionNotRecorded", "", "cannot record the session (%s); try again",
				      store_last_error(api->store)), -EIO;
	/* what the answer needs stays; the secrets' traces go (the portal reads its CSRF token from GET /session) */
	explicit_bzero(s->id_hash, sizeof(s->id_hash));
	explicit_bzero(s->csrf, sizeof(s->csrf));
	*ret = s;
	return 0;
}


/* The person's sessions' ids, ended in the store; if it refuses, refused here and recorded later (503). */
static int
sessions_end_person(struct api *api, const char *person, size_t *ret_n)
{
	uint8_t (*ids)[STORE_TOKEN_HASH_LEN] = calloc(API_SESSIONS_MAX, sizeof(*ids));
	int64_t *ends = calloc(API_SESSIONS_MAX, sizeof(*ends));
	int r = -ENOMEM, i;

	if (!ids || !ends)
		goto out;
	if ((r = store_sessions_of_person(api->store, person, ids, ends, API_SESSIONS_MAX)) < 0)
		goto out;
	*ret_n = (size_t)r;
	if ((r = store_sessions_end_person(api->store, person)) < 0)
		for (i = 0; i < (int)*ret_n; i++)
			(void)api_session_end(api, ids[i], ends[i]);
out:
	free(ids);
	free(ends);
	return r;
}

void
api_oidc_sessions_end(struct api *api, const struct api_caller *c, const struct http_request *req, const char *name,
		      struct http_response *resp)
{
	char scope[ARM_ID_MAX + 1], person[API_CALLER_MAX + 1];
	size_t n = SIZE_MAX;	/* not listed */
	int r;

	(void)req;
	/* who may mint and revoke credentials may end a person's sessions: a role change then applies at once */
	snprintf(scope, sizeof(scope), "/subscriptions/%s", api->settings.subscription);
	if (!api_require(api, c, RBAC_TOKEN_WRITE, scope, resp))
		return;
	if (!strncmp(name, "user:", 5))
		name += 5;
	snprintf(person, sizeof(person), "user:%s", name);
	if ((r = sessions_end_person(api, person, &n)) < 0) {
		if (r == -ENOMEM)
			api_error(resp, 500, "InternalError", "", "out of memory");
		else if (n == SIZE_MAX)
			api_store_error(api, resp, r, "cannot end the sessions of %.200s", person);
		else
			api_store_error(api, resp, r, "ended %zu session(s) of %.200s on this server, but the store cannot "
					"record it for the other replicas yet (it is retried every second)", n, person);
		return;
	}
	api_log(api, c, "EndSessions", scope, "Succeeded", NULL, "ended %zu single sign-on session(s) of user:%.200s", n,
		name);
	api_json(resp, 200, json_pack("{s:s+, s:I}", "person", "user:", name, "ended", (json_int_t)n));
}

/* Shared by the API's OpenID Connect files: the provider's cached documents, sign-ins in flight, and the calls to the provider. */
#ifndef JITGATE_API_OIDC_INTERNAL_H
#define JITGATE_API_OIDC_INTERNAL_H

#include "api/api-internal.h"
#include "api/api-oidc.h"

#define OIDC_RANDOM_TEXT	43	/* base64url of OIDC_STATE_BYTES random bytes, no padding */
#define OIDC_BROWSER_COOKIE	"jg_oidc"	/* binds a sign-in's state to the browser that started it */

/* A portal sign-in between the redirect to the provider and its callback. created_ns == 0: free. */
struct oidc_pending {
	char state[OIDC_RANDOM_TEXT + 1];
	char browser[OIDC_RANDOM_TEXT + 1];	/* the jg_oidc cookie's value */
	char nonce[OIDC_RANDOM_TEXT + 1];
	char verifier[OIDC_RANDOM_TEXT + 1];	/* PKCE (RFC 7636) */
	int64_t created_ns;
};

/* A CLI sign-in with the device grant (RFC 8628), brokered: the CLI holds `handle`, never device_code. */
struct oidc_device {
	char handle[OIDC_RANDOM_TEXT + 1];
	char device_code[OIDC_URL_MAX + 1];
	int64_t next_poll_ns;			/* the provider's interval (slow_down adds 5 s) */
	int64_t interval_ns;
	int64_t expires_ns;			/* 0: free */
};

/* The API's provider state; api->oidc, made at the first /oidc/ request and freed by api_oidc_free(). */
struct api_oidc {
	const struct oidc_settings *s;
	struct oidc_discovery disc;
	int64_t disc_at;
	int64_t disc_failed_at;			/* the last failed fetch: OIDC_DOWN_RETRY_S of answers without asking */
	struct core_error disc_error;		/* ...and why */
	json_t *jwks;
	int64_t jwks_at;
	int64_t jwks_try_at;			/* last refetch for an unknown kid: at most one every OIDC_JWKS_REFRESH_MIN_S */
	struct oidc_pending pending[OIDC_PENDING_MAX];
	struct oidc_device devices[OIDC_PENDING_MAX];
	int64_t steps_second;			/* the second (monotonic) steps_used counts */
	unsigned steps_used;			/* sign-in steps in it: at most OIDC_STEPS_PER_S */
	struct oidc_steps *steps;		/* api-oidc-call.c: steps waiting for the provider; api_oidc_steps_free() */
	struct oidc_step *cur;			/* the step being run now (NULL between requests) */
};

/*
 * Every function here that may ask the provider answers -EINPROGRESS when it started the call: the
 * caller returns at once, without answering or logging, and its step is parked (api-oidc-call.h).
 * api-oidc-call.c. oidc_http: the current step's call of `kind` (an enum oidc_call_kind): GET (form NULL)
 * or POST form with client_secret_basic; its answer (*ret, NUL-terminated, the step's) and status, or -EIO
 * "ProviderUnavailable". api-oidc-provider.c. oidc_discovery_get / oidc_jwks_get: cached (refresh: refetch
 * the keys, rate-limited). oidc_verify: an ID token with the cached keys, refetched once on an unknown kid.
 * oidc_form: NULL-terminated key/value pairs, form-urlencoded (malloc'd). oidc_token_call: POST form to url,
 * the JSON object answered (*ret the caller's) and its status.
 */
int oidc_http(struct api_oidc *o, int kind, const char *url, const char *form, const char **ret, size_t *ret_len,
	      long *ret_status, struct core_error *err);
int oidc_discovery_get(struct api_oidc *o, const struct oidc_discovery **ret, struct core_error *err);
int oidc_jwks_get(struct api_oidc *o, bool refresh, const json_t **ret, struct core_error *err);
int oidc_verify(struct api_oidc *o, const char *id_token, const char *nonce, struct oidc_claims *ret,
		struct core_error *err);
char *oidc_form(const char *const *kv);
int oidc_token_call(struct api_oidc *o, const char *url, const char *form, json_t **ret, long *ret_status,
		    struct core_error *err);

/*
 * api-oidc-session.c. api_oidc_get: the provider state, made at first use (NULL: sso is off or no memory).
 * oidc_random_text: 256 random bits as base64url. oidc_page: an HTML answer for a browser (msg escaped).
 * oidc_session_open: map the person's claims to a role and open a session (a cookie in resp, or its id
 * in ret_id for a CLI); -EACCES "NoRoleMapped" when no mapping matches.
 */
struct api_oidc *api_oidc_get(struct api *api);
int oidc_random_text(char out[OIDC_RANDOM_TEXT + 1]);
void oidc_page(struct http_response *resp, int status, const char *title, const char *msg);
int oidc_session_open(struct api *api, struct api_oidc *o, const struct oidc_claims *cl, bool cookie,
		      struct http_response *resp, char ret_id[2 * SESSION_SECRET_BYTES + 1], struct api_session **ret,
		      struct core_error *e);

/* api-oidc-device.c: /oidc/device and /oidc/device/poll (jitgate login --sso); false: not one of them. */
bool api_oidc_device_handle(struct api *api, struct api_oidc *o, struct api_caller *c, const struct http_request *req,
			    struct http_response *resp);

#endif

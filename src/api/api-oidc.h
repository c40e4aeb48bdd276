/* OpenID Connect sign-in: the provider's settings, its limits, and the pure checks of ID tokens, JWKS and discovery. */
#ifndef JITGATE_API_OIDC_H
#define JITGATE_API_OIDC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/error.h"
#include "core/rbac.h"
#include "store/store.h"

#define OIDC_URL_MAX		1024	/* issuer, endpoints and the redirect URL */
#define OIDC_TEXT_MAX		255	/* client id, claim names, a claim's value (person, subject, group) */
#define OIDC_SECRET_MAX		255	/* the client secret */
#define OIDC_SCOPES_MAX		255	/* "openid email groups" */
#define OIDC_NAME_MAX		64	/* the provider's name on the portal's button */
#define OIDC_MAPS_MAX		32	/* claim-to-role mappings in the config */
#define OIDC_GROUPS_MAX		64	/* groups read from one ID token; more are ignored (documented) */
#define OIDC_ID_TOKEN_MAX	(16 * 1024)	/* an ID token longer than this is refused unread */
#define OIDC_RESPONSE_MAX	(64 * 1024)	/* discovery, JWKS, token endpoint: a longer answer is refused */
#define OIDC_JWKS_KEYS_MAX	32	/* keys in one JWKS */
#define OIDC_LEEWAY_S		60	/* clock skew allowed on exp and iat */
#define OIDC_IAT_MAX_AGE_S	600	/* an ID token issued longer ago is stale (the code was just exchanged) */
#define OIDC_SESSION_DEFAULT_S	(8 * 3600)	/* max_session when the config says none */
#define OIDC_SESSION_MAX_S	(24 * 3600)	/* the longest max_session a config may set */
#define OIDC_DISCOVERY_TTL_S	3600	/* discovery is fetched again after an hour */
#define OIDC_JWKS_TTL_S		3600	/* and the JWKS (sooner when an unknown kid arrives) */
#define OIDC_JWKS_REFRESH_MIN_S	30	/* an unknown kid refreshes the JWKS at most this often */
#define OIDC_HTTP_TIMEOUT_MS	5000	/* one call to the provider, connect included: its step then answers 503 */
#define OIDC_DOWN_RETRY_S	10	/* after discovery failed, sign-ins are refused at once for this long (no wait) */
#define OIDC_PENDING_MAX	64	/* sign-ins between the redirect to the provider and the callback */
/*
 * Steps of a sign-in (start, callback, device start and poll) that anyone may send, all addresses together,
 * per second: each may call the provider (aside, its request parked: api-oidc-call.h, OIDC_CALLS_MAX at
 * once), so a flood is answered 429 beyond this instead of making the provider's calls for anyone.
 */
#define OIDC_STEPS_PER_S	20
#define OIDC_PENDING_TTL_S	600	/* a sign-in not finished within 10 minutes is forgotten */
#define OIDC_STATE_BYTES	32	/* state, nonce and PKCE verifier: 256 random bits each */

/* What a mapping matches in the ID token. */
enum oidc_match {
	OIDC_MATCH_GROUP,	/* a value of the groups claim equals the text */
	OIDC_MATCH_DOMAIN,	/* the person claim ends in "@" + the text (case-insensitive) */
	OIDC_MATCH_PERSON,	/* the person claim equals the text (case-insensitive) */
};

/* One line "map = group:NAME ROLE SCOPE" of the config. */
struct oidc_map {
	enum oidc_match match;
	char text[OIDC_TEXT_MAX + 1];
	char role[RBAC_ROLE_NAME_MAX + 1];
	char scope[STORE_SCOPE_MAX + 1];	/* "" for "/" */
};

/* The [sso] section of jitgated.conf. issuer[0] == '\0': single sign-on is off. */
struct oidc_settings {
	char name[OIDC_NAME_MAX + 1];	/* "Keycloak": the portal's "Sign in with Keycloak" */
	char issuer[OIDC_URL_MAX + 1];
	char client_id[OIDC_TEXT_MAX + 1];
	char client_secret[OIDC_SECRET_MAX + 1];
	char redirect_url[OIDC_URL_MAX + 1];	/* https://jitgate.example/oidc/callback */
	char scopes[OIDC_SCOPES_MAX + 1];
	char person_claim[OIDC_TEXT_MAX + 1];	/* default "email" */
	char groups_claim[OIDC_TEXT_MAX + 1];	/* default "groups" */
	char ca_file[OIDC_URL_MAX + 1];	/* trust anchors for the provider; empty: the system's */
	int64_t max_session_s;
	size_t n_maps;
	struct oidc_map maps[OIDC_MAPS_MAX];
};

/* Set one key of [sso]; a "map" line adds a mapping. */
int oidc_settings_set(struct oidc_settings *s, const char *key, const char *value, struct core_error *err);
/* Check a complete [sso] section (defaults filled in); roles are checked by the caller, who knows the custom ones. */
int oidc_settings_check(struct oidc_settings *s, struct core_error *err);

/* What an ID token says about the person, after every check passed. */
struct oidc_claims {
	char subject[OIDC_TEXT_MAX + 1];
	char person[OIDC_TEXT_MAX + 1];
	bool person_verified;		/* false when the token says email_verified: false (no domain or person mapping then) */
	size_t n_groups;
	char groups[OIDC_GROUPS_MAX][OIDC_TEXT_MAX + 1];
	int64_t exp_s;
};

/* What the ID token must match. */
struct oidc_expect {
	const char *issuer;
	const char *client_id;
	const char *nonce;		/* NULL: no nonce asked for (the device grant) */
	const char *person_claim;
	const char *groups_claim;
	int64_t now_s;
};

/*
 * Check a compact ID token (text, len) against the JWKS: alg RS256 or ES256
 * only, the key chosen by kid (a JWKS of one key needs none), the signature,
 * then iss, aud (and azp when several audiences), exp, iat, nonce, sub and
 * the person claim. -ENOKEY: no key in the JWKS has that kid (refresh it and
 * try again); -EBADMSG with err saying which check failed.
 */
int oidc_id_token_verify(const char *text, size_t len, const json_t *jwks, const struct oidc_expect *x,
			 struct oidc_claims *ret, struct core_error *err);

/* A provider's discovery document, the parts jitgate uses. */
struct oidc_discovery {
	char authorization_endpoint[OIDC_URL_MAX + 1];
	char token_endpoint[OIDC_URL_MAX + 1];
	char jwks_uri[OIDC_URL_MAX + 1];
	char device_endpoint[OIDC_URL_MAX + 1];	/* "" when the provider has no device grant */
};

/* Parse discovery (n bytes): issuer must equal `issuer`, every endpoint https. */
int oidc_discovery_parse(const char *text, size_t n, const char *issuer, struct oidc_discovery *ret,
			 struct core_error *err);
/* Parse a JWKS (n bytes): {"keys": [...]} with at most OIDC_JWKS_KEYS_MAX keys; *ret is the caller's to json_decref. */
int oidc_jwks_parse(const char *text, size_t n, json_t **ret, struct core_error *err);

/* Two secrets' texts compared in constant time (for their common length). */
bool oidc_text_equal(const char *a, const char *b);

/* The role + scope assignments of a person (claims), in config order; 0 when none matches. */
size_t oidc_map_claims(const struct oidc_settings *s, const struct oidc_claims *c, const struct oidc_map **ret,
		       size_t max);

#endif

/* The [sso] section of jitgated.conf: one OpenID Connect provider and the mappings of its claims to roles. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "api/api-oidc.h"
#include "core/duration.h"

static int
set_text(char *dst, size_t size, const char *key, const char *value, struct core_error *err)
{
	if (strlen(value) >= size)
		return core_error_set(err, "InvalidConfig", key, "sso %s is longer than %zu characters", key, size - 1);
	memcpy(dst, value, strlen(value) + 1);
	return 0;
}

/* "group:NAME ROLE SCOPE", "domain:example.com ROLE SCOPE" or "person:alice@example.com ROLE SCOPE". */
static int
add_map(struct oidc_settings *s, const char *value, struct core_error *err)
{
	static const char usage[] = "sso map is 'group:NAME ROLE SCOPE', 'domain:DOMAIN ROLE SCOPE' or "
				    "'person:VALUE ROLE SCOPE' (SCOPE / for everything)";
	char what[OIDC_TEXT_MAX + 16], role[RBAC_ROLE_NAME_MAX + 2], scope[STORE_SCOPE_MAX + 2], extra[2];
	struct oidc_map m;
	const char *colon;
	int n;

	if (s->n_maps == OIDC_MAPS_MAX)
		return core_error_set(err, "InvalidConfig", "map", "at most %d sso map lines", OIDC_MAPS_MAX);
	if (strlen(value) > sizeof(what) + sizeof(role) + sizeof(scope))
		return core_error_set(err, "InvalidConfig", "map", "%s", usage);
	memset(&m, 0, sizeof(m));
	_Static_assert(sizeof(what) == 271 && sizeof(role) == 66 && sizeof(scope) == 514, "sscanf widths below");
	n = sscanf(value, "%270s %65s %513s %1s", what, role, scope, extra);
	if (n != 3 || !(colon = strchr(what, ':')) || !colon[1] || strlen(colon + 1) > OIDC_TEXT_MAX ||
	    strlen(role) > RBAC_ROLE_NAME_MAX || strlen(scope) > STORE_SCOPE_MAX || scope[0] != '/')
		return core_error_set(err, "InvalidConfig", "map", "%s", usage);
	if (!strncmp(what, "group:", 6))
		m.match = OIDC_MATCH_GROUP;
	else if (!strncmp(what, "domain:", 7))
		m.match = OIDC_MATCH_DOMAIN;
	else if (!strncmp(what, "person:", 7))
		m.match = OIDC_MATCH_PERSON;
	else
		return core_error_set(err, "InvalidConfig", "map", "%s", usage);
	snprintf(m.text, sizeof(m.text), "%s", colon + 1);
	snprintf(m.role, sizeof(m.role), "%s", role);
	snprintf(m.scope, sizeof(m.scope), "%s", strcmp(scope, "/") ? scope : "");
	s->maps[s->n_maps++] = m;
	return 0;
}

int
oidc_settings_set(struct oidc_settings *s, const char *key, const char *value, struct core_error *err)
{
	int64_t ms;

	if (!strcmp(key, "name"))
		return set_text(s->name, sizeof(s->name), key, value, err);
	if (!strcmp(key, "issuer"))
		return set_text(s->issuer, sizeof(s->issuer), key, value, err);
	if (!strcmp(key, "client_id"))
		return set_text(s->client_id, sizeof(s->client_id), key, value, err);
	if (!strcmp(key, "client_secret"))
		return set_text(s->client_secret, sizeof(s->client_secret), key, value, err);
	if (!strcmp(key, "redirect_url"))
		return set_text(s->redirect_url, sizeof(s->redirect_url), key, value, err);
	if (!strcmp(key, "scopes"))
		return set_text(s->scopes, sizeof(s->scopes), key, value, err);
	if (!strcmp(key, "person_claim"))
		return set_text(s->person_claim, sizeof(s->person_claim), key, value, err);
	if (!strcmp(key, "groups_claim"))
		return set_text(s->groups_claim, sizeof(s->groups_claim), key, value, err);
	if (!strcmp(key, "ca_file"))
		return set_text(s->ca_file, sizeof(s->ca_file), key, value, err);
	if (!strcmp(key, "map"))
		return add_map(s, value, err);
	if (!strcmp(key, "max_session")) {
		if (duration_parse_iso8601(value, strlen(value), &ms, err) < 0 || ms < 60 * 1000 ||
		    ms > (int64_t)OIDC_SESSION_MAX_S * 1000)
			return core_error_set(err, "InvalidConfig", "max_session",
					      "sso max_session is an ISO 8601 duration from PT1M to PT24H");
		s->max_session_s = ms / 1000;
		return 0;
	}
	return core_error_set(err, "InvalidConfig", key, "unknown key '%.64s' in [sso]", key);
}

static bool
is_https(const char *url)
{
	return !strncmp(url, "https://", 8) && url[8];
}

int
oidc_settings_check(struct oidc_settings *s, struct core_error *err)
{
	if (!s->issuer[0] && !s->client_id[0] && !s->n_maps)
		return 0;	/* no [sso]: single sign-on is off */
	if (!is_https(s->issuer))
		return core_error_set(err, "InvalidConfig", "issuer", "sso issuer must be an https:// URL");
	if (!s->client_id[0])
		return core_error_set(err, "InvalidConfig", "client_id", "sso needs client_id");
	if (!is_https(s->redirect_url))
		return core_error_set(err, "InvalidConfig", "redirect_url",
				      "sso redirect_url must be https://<this server>/oidc/callback");
	if (!s->n_maps)
		return core_error_set(err, "InvalidConfig", "map", "sso needs at least one map line (nobody could sign in)");
	if (!s->name[0])
		snprintf(s->name, sizeof(s->name), "single sign-on");
	if (!s->scopes[0])
		snprintf(s->scopes, sizeof(s->scopes), "openid email profile");
	if (!strstr(s->scopes, "openid"))
		return core_error_set(err, "InvalidConfig", "scopes", "sso scopes must include openid");
	if (!s->person_claim[0])
		snprintf(s->person_claim, sizeof(s->person_claim), "email");
	if (!s->groups_claim[0])
		snprintf(s->groups_claim, sizeof(s->groups_claim), "groups");
	if (!s->max_session_s)
		s->max_session_s = OIDC_SESSION_DEFAULT_S;
	return 0;
}

/* Roles and scopes (see rbac.h): ARM-style action wildcards and scope containment. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "rbac.h"

static const struct rbac_role builtin[] = {
	{ "Owner", 1, { "*" }, 0, { { 0 } } },
	{ "SecurityAdmin", 6,
	  { "Microsoft.Security/*", "Microsoft.Compute/*/read", "Microsoft.Insights/eventtypes/*/read",
	    "Jitgate/tokens/read", "Jitgate/whoami/read", RBAC_METRICS_READ },
	  0, { { 0 } } },
	{ "JitRequester", 4,
	  { "Microsoft.Security/locations/jitNetworkAccessPolicies/read", RBAC_POLICY_INITIATE,
	    "Microsoft.Compute/virtualMachines/read", "Jitgate/whoami/read" },
	  0, { { 0 } } },
	{ "SecurityReader", 5,
	  { "Microsoft.Security/*/read", "Microsoft.Compute/*/read", "Microsoft.Insights/eventtypes/*/read",
	    "Jitgate/whoami/read", RBAC_METRICS_READ },
	  0, { { 0 } } },
	{ "Reader", 1, { "*/read" }, 1, { "Jitgate/tokens/read" } },
};

const char *const rbac_known_actions[] = {
	RBAC_POLICY_READ, RBAC_POLICY_WRITE, RBAC_POLICY_DELETE, RBAC_POLICY_INITIATE, RBAC_POLICY_REVOKE,
	RBAC_VM_READ, RBAC_VM_WRITE, RBAC_VM_DELETE, RBAC_ACTIVITY_READ, RBAC_TOKEN_READ, RBAC_TOKEN_WRITE,
	RBAC_WHOAMI_READ, RBAC_METRICS_READ, NULL
};

const char *const rbac_builtin_names[] = { "Owner", "SecurityAdmin", "JitRequester", "SecurityReader", "Reader",
					   NULL };

const struct rbac_role *
rbac_role_builtin(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(builtin) / sizeof(builtin[0]); i++)
		if (!strcasecmp(name, builtin[i].name))
			return &builtin[i];
	return NULL;
}

static char
lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Glob with '*' only; iterative with one backtrack point, so it is linear-ish and never recurses. */
bool
rbac_action_matches(const char *p, const char *s)
{
	const char *star = NULL, *resume = NULL;

	while (*s) {
		if (*p == '*') {
			star = p++;
			resume = s;
		} else if (*p && lower(*p) == lower(*s)) {
			p++;
			s++;
		} else if (star) {
			p = star + 1;
			s = ++resume;
		} else {
			return false;
		}
	}
	while (*p == '*')
		p++;
	return *p == '\0';
}

bool
rbac_role_allows(const struct rbac_role *role, const char *action)
{
	size_t i;
	bool allowed = false;

	for (i = 0; i < role->n_actions && !allowed; i++)
		allowed = rbac_action_matches(role->actions[i], action);
	for (i = 0; i < role->n_not_actions && allowed; i++)
		if (rbac_action_matches(role->not_actions[i], action))
			allowed = false;
	return allowed;
}

bool
rbac_role_within(const struct rbac_role *inner, const struct rbac_role *outer)
{
	size_t i;

	if (!inner)
		return true;
	for (i = 0; rbac_known_actions[i]; i++)
		if (rbac_role_allows(inner, rbac_known_actions[i]) &&
		    !(outer && rbac_role_allows(outer, rbac_known_actions[i])))
			return false;
	return true;
}

static bool
pattern_is_known(const char *pattern)
{
	size_t i;

	for (i = 0; rbac_known_actions[i]; i++)
		if (rbac_action_matches(pattern, rbac_known_actions[i]))
			return true;
	return false;
}

/* Is `a` a path-segment prefix of `b` (case-insensitive)? */
static bool
segment_prefix(const char *a, const char *b)
{
	size_t n = strlen(a);

	while (n > 0 && a[n - 1] == '/')
		n--;
	if (n == 0)
		return true;
	if (strlen(b) < n || strncasecmp(a, b, n))
		return false;
	return b[n] == '\0' || b[n] == '/';
}

bool
rbac_scope_covers(const char *scope, const char *resource_id)
{
	return segment_prefix(scope, resource_id);
}

bool
rbac_any_allows(const struct rbac_assignment *a, size_t n, const char *action, const char *resource_id)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((!action || (a[i].role && rbac_role_allows(a[i].role, action))) &&
		    (!resource_id || rbac_scope_covers(a[i].scope, resource_id)))
			return true;
	return false;
}

bool
rbac_scope_within(const char *scope, const char *resource_id)
{
	return segment_prefix(resource_id, scope);
}

/* `field` names the list in an error record ("actions" or "not_actions"), so the message points at the bad one. */
static int
split_actions(const char *list, const char *field, char out[][RBAC_ACTION_MAX + 1], size_t *ret_n,
	      struct core_error *err)
{
	char q[ERROR_QUOTE_SIZE];
	size_t n = 0;
	const char *p = list ? list : "";

	while (*p) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p), i;

		while (len && (*p == ' ' || *p == '\t'))
			p++, len--;
		while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (len) {
			if (n == RBAC_ACTIONS_MAX)
				return core_error_set(err, "TooManyActions", field, "a role has at most %d %s",
						      RBAC_ACTIONS_MAX, field);
			if (len > RBAC_ACTION_MAX)
				return core_error_set(err, "InvalidAction", field, "an action is at most %d characters",
						      RBAC_ACTION_MAX);
			for (i = 0; i < len; i++)
				if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= 'A' && p[i] <= 'Z') ||
				      (p[i] >= '0' && p[i] <= '9') || strchr("*/._-", p[i])))
					return core_error_set(err, "InvalidAction", field,
							      "action '%s' has a character other than letters, digits and */._-",
							      core_error_quote(p, len, q, sizeof(q)));
			memcpy(out[n], p, len);
			out[n][len] = '\0';
			if (!pattern_is_known(out[n]))
				return core_error_set(err, "UnknownAction", field,
						      "action '%s' matches none of jitgate's actions (such as %s); "
						      "see the list in doc/operator.md",
						      core_error_quote(p, len, q, sizeof(q)), RBAC_POLICY_READ);
			n++;
		}
		p = end ? end + 1 : p + strlen(p);
	}
	*ret_n = n;
	return 0;
}

int
rbac_role_custom(const char *name, const char *actions, const char *not_actions, struct rbac_role *ret,
		 struct core_error *err)
{
	char q[ERROR_QUOTE_SIZE];
	struct rbac_role r;
	size_t i, len = strlen(name);
	int e;

	memset(&r, 0, sizeof(r));
	if (len == 0 || len > RBAC_ROLE_NAME_MAX)
		return core_error_set(err, "InvalidRoleName", "role", "a role name has 1 to %d characters",
				      RBAC_ROLE_NAME_MAX);
	for (i = 0; i < len; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= 'A' && name[i] <= 'Z') ||
		      (name[i] >= '0' && name[i] <= '9') || name[i] == '-' || name[i] == '_'))
			return core_error_set(err, "InvalidRoleName", "role",
					      "role name '%s' may hold only letters, digits, '-' and '_'",
					      core_error_quote(name, len, q, sizeof(q)));
	if (rbac_role_builtin(name))
		return core_error_set(err, "InvalidRoleName", "role", "'%s' is a built-in role", name);
	memcpy(r.name, name, len + 1);
	if ((e = split_actions(actions, "actions", r.actions, &r.n_actions, err)) < 0)
		return e;
	if ((e = split_actions(not_actions, "not_actions", r.not_actions, &r.n_not_actions, err)) < 0)
		return e;
	if (r.n_actions == 0)
		return core_error_set(err, "InvalidAction", "actions", "role '%s' allows no action", name);
	*ret = r;
	return 0;
}

/* Roles and scopes: may this caller perform this action on this resource? Pure rules, no I/O. */
#ifndef JITGATE_CORE_RBAC_H
#define JITGATE_CORE_RBAC_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"
#include "limits.h"

#define RBAC_ROLE_NAME_MAX	64
#define RBAC_ACTION_MAX		128
#define RBAC_ACTIONS_MAX	32	/* actions (or notActions) in one role */
#define RBAC_CUSTOM_ROLES_MAX	32

/* The actions jitgate checks, named as ARM names them. */
#define RBAC_POLICY_READ	"Microsoft.Security/locations/jitNetworkAccessPolicies/read"
#define RBAC_POLICY_WRITE	"Microsoft.Security/locations/jitNetworkAccessPolicies/write"
#define RBAC_POLICY_DELETE	"Microsoft.Security/locations/jitNetworkAccessPolicies/delete"
#define RBAC_POLICY_INITIATE	"Microsoft.Security/locations/jitNetworkAccessPolicies/initiate/action"
#define RBAC_POLICY_REVOKE	"Microsoft.Security/locations/jitNetworkAccessPolicies/revoke/action"	/* anyone's grants */
#define RBAC_VM_READ		"Microsoft.Compute/virtualMachines/read"
#define RBAC_VM_WRITE		"Microsoft.Compute/virtualMachines/write"
#define RBAC_VM_DELETE		"Microsoft.Compute/virtualMachines/delete"
#define RBAC_ACTIVITY_READ	"Microsoft.Insights/eventtypes/values/read"
#define RBAC_TOKEN_READ		"Jitgate/tokens/read"
#define RBAC_TOKEN_WRITE	"Jitgate/tokens/write"
#define RBAC_WHOAMI_READ	"Jitgate/whoami/read"
#define RBAC_METRICS_READ	"Jitgate/metrics/read"	/* GET /metrics: counts for the whole subscription */

/*
 * Every action above, NULL-terminated: the whole universe a role's patterns are
 * read against. A custom role's pattern must match at least one of them, and
 * one role is within another when it allows none of them the other does not.
 */
extern const char *const rbac_known_actions[];

/*
 * A role: the actions it allows (patterns; '*' matches any run of characters,
 * case-insensitively, as ARM's wildcards do) minus its notActions.
 */
struct rbac_role {
	char name[RBAC_ROLE_NAME_MAX + 1];
	size_t n_actions;
	char actions[RBAC_ACTIONS_MAX][RBAC_ACTION_MAX + 1];
	size_t n_not_actions;
	char not_actions[RBAC_ACTIONS_MAX][RBAC_ACTION_MAX + 1];
};

/*
 * The built-in roles of DESIGN.md: Reader, SecurityReader (view), JitRequester
 * (view + initiate), SecurityAdmin (configure, revoke anyone's), Owner
 * (everything). NULL for other names (case-insensitive).
 */
const struct rbac_role *rbac_role_builtin(const char *name);
/* Names of the built-in roles, NULL-terminated. */
extern const char *const rbac_builtin_names[];

bool rbac_action_matches(const char *pattern, const char *action);
bool rbac_role_allows(const struct rbac_role *role, const char *action);

/*
 * Does `outer` allow every action that `inner` allows? Exact, wildcards and
 * notActions included, because both are read against rbac_known_actions: the
 * only actions jitgate ever checks. A NULL inner (a role no longer defined)
 * allows nothing, so it is within any role.
 */
bool rbac_role_within(const struct rbac_role *inner, const struct rbac_role *outer);

/*
 * Does an assignment at `scope` cover `resource_id`? A scope covers itself and
 * everything below it, compared case-insensitively on whole path segments.
 * The empty scope and "/" cover everything.
 */
bool rbac_scope_covers(const char *scope, const char *resource_id);

/*
 * One role at one scope: what a caller holds. A token holds one; a person signed in
 * by single sign-on holds one per map line their claims match.
 */
struct rbac_assignment {
	const struct rbac_role *role;	/* NULL: a role no longer defined (allows nothing) */
	char scope[ARM_ID_MAX + 1];	/* "" for "/" */
};

/*
 * Does any of a[0..n) allow `action` on `resource_id`: its role has the action AND its
 * scope covers the resource (never one assignment's role with another's scope)?
 * action NULL asks about the scopes alone, resource_id NULL about the roles alone.
 */
bool rbac_any_allows(const struct rbac_assignment *a, size_t n, const char *action, const char *resource_id);

/* Does a scope sit at or below resource_id (so the holder may see that it exists)? */
bool rbac_scope_within(const char *scope, const char *resource_id);

/*
 * Build a custom role from a comma-separated list of actions and notActions
 * (spaces around items ignored). Every item must match at least one of
 * rbac_known_actions, so a misspelt action (or notAction, which would silently
 * grant more) is refused rather than ignored. Codes: "InvalidRoleName",
 * "InvalidAction", "UnknownAction", "TooManyActions".
 */
int rbac_role_custom(const char *name, const char *actions, const char *not_actions, struct rbac_role *ret,
		     struct core_error *err);

#endif

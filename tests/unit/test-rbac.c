/* Unit tests for RBAC: the built-in roles against every action, wildcards, scopes and custom roles. */
#include <errno.h>
#include <stdio.h>
#include <time.h>

#include "core/rbac.h"
#include "testutil.h"

/* Every action jitgate checks, in the order of the matrix columns below. */
static const char *const actions[] = {
	RBAC_POLICY_READ, RBAC_POLICY_WRITE, RBAC_POLICY_DELETE, RBAC_POLICY_INITIATE, RBAC_POLICY_REVOKE,
	RBAC_VM_READ, RBAC_VM_WRITE, RBAC_VM_DELETE, RBAC_ACTIVITY_READ, RBAC_TOKEN_READ, RBAC_TOKEN_WRITE,
	RBAC_METRICS_READ,
};
#define N_ACTIONS (sizeof(actions) / sizeof(actions[0]))

/*
 * DESIGN.md's roles. Reader and SecurityReader view (Reader does not see tokens);
 * JitRequester is Azure's least-privileged requester: policies and VMs, initiate,
 * no activity log; SecurityAdmin configures policies and revokes anyone's grants but
 * does not change VMs or tokens; Owner does everything.
 */
static const struct {
	const char *role;
	bool allows[N_ACTIONS];
} matrix[] = {
	/*                 pol.read pol.write pol.del initiate revoke vm.read vm.write vm.del activity tok.read tok.write metrics */
	{ "Owner",          { true,  true,  true,  true,  true,  true,  true,  true,  true,  true,  true,  true } },
	{ "SecurityAdmin",  { true,  true,  true,  true,  true,  true,  false, false, true,  true,  false, true } },
	{ "JitRequester",   { true,  false, false, true,  false, true,  false, false, false, false, false, false } },
	{ "SecurityReader", { true,  false, false, false, false, true,  false, false, true,  false, false, true } },
	{ "Reader",         { true,  false, false, false, false, true,  false, false, true,  false, false, true } },
};

static void
test_builtin_matrix(void **state)
{
	size_t r, a;

	for (r = 0; r < sizeof(matrix) / sizeof(matrix[0]); r++) {
		const struct rbac_role *role = rbac_role_builtin(matrix[r].role);

		assert_non_null(role);
		assert_string_equal(role->name, matrix[r].role);
		for (a = 0; a < N_ACTIONS; a++) {
			if (rbac_role_allows(role, actions[a]) != matrix[r].allows[a])
				fail_msg("%s %s %s", matrix[r].role, matrix[r].allows[a] ? "must allow" : "must not allow",
					 actions[a]);
		}
	}
}

/* The same answers whatever the case of the action asked about, as ARM compares actions. */
static void
test_builtin_matrix_case(void **state)
{
	char upper[RBAC_ACTION_MAX + 1];
	size_t r, a, i;

	for (r = 0; r < sizeof(matrix) / sizeof(matrix[0]); r++) {
		const struct rbac_role *role = rbac_role_builtin(matrix[r].role);

		for (a = 0; a < N_ACTIONS; a++) {
			for (i = 0; actions[a][i]; i++)
				upper[i] = (char)(actions[a][i] >= 'a' && actions[a][i] <= 'z' ? actions[a][i] - 32 : actions[a][i]);
			upper[i] = '\0';
			assert_int_equal(rbac_role_allows(role, upper), matrix[r].allows[a]);
		}
	}
}

static void
test_builtin_lookup(void **state)
{
	size_t i;

	for (i = 0; rbac_builtin_names[i]; i++)
		assert_ptr_equal(rbac_role_builtin(rbac_builtin_names[i]), rbac_role_builtin(matrix[i].role));
	assert_int_equal(i, 5);
	assert_ptr_equal(rbac_role_builtin("owner"), rbac_role_builtin("Owner"));
	assert_ptr_equal(rbac_role_builtin("SECURITYADMIN"), rbac_role_builtin("SecurityAdmin"));
	assert_ptr_equal(rbac_role_builtin("jitrequester"), rbac_role_builtin("JitRequester"));
	assert_ptr_equal(rbac_role_builtin("securityREADER"), rbac_role_builtin("SecurityReader"));
	assert_ptr_equal(rbac_role_builtin("rEaDeR"), rbac_role_builtin("Reader"));
	assert_null(rbac_role_builtin("Contributor"));
	assert_null(rbac_role_builtin(""));
	assert_null(rbac_role_builtin("Owner "));
	assert_null(rbac_role_builtin("Own"));
	assert_null(rbac_role_builtin("Readers"));
}

/* Actions nobody lists explicitly: only the wildcard roles reach them, and only the right ones. */
static void
test_builtin_other_actions(void **state)
{
	const struct rbac_role *owner = rbac_role_builtin("Owner"), *reader = rbac_role_builtin("Reader");
	const struct rbac_role *sadmin = rbac_role_builtin("SecurityAdmin");

	assert_true(rbac_role_allows(owner, "Anything/at/all"));
	assert_true(rbac_role_allows(owner, ""));
	assert_true(rbac_role_allows(reader, "Microsoft.Network/virtualNetworks/read"));
	assert_false(rbac_role_allows(reader, "Microsoft.Network/virtualNetworks/write"));
	assert_false(rbac_role_allows(reader, "jitgate/TOKENS/read"));	/* the notAction is case-insensitive too */
	assert_true(rbac_role_allows(sadmin, "Microsoft.Security/pricings/write"));
	assert_false(rbac_role_allows(sadmin, "Microsoft.Network/virtualNetworks/read"));
}

static void
test_match_literal(void **state)
{
	assert_true(rbac_action_matches("a/b/read", "a/b/read"));
	assert_true(rbac_action_matches("Microsoft.Compute/virtualMachines/read", "microsoft.compute/VIRTUALMACHINES/READ"));
	assert_false(rbac_action_matches("a/b/read", "a/b/rea"));
	assert_false(rbac_action_matches("a/b/rea", "a/b/read"));
	/* a whole segment is not a prefix of a longer action without '*' */
	assert_false(rbac_action_matches("Microsoft.Security", "Microsoft.Security/locations/x/read"));
	assert_false(rbac_action_matches("Microsoft.Security/", "Microsoft.Security/locations/x/read"));
	assert_false(rbac_action_matches("read", "a/read"));
	assert_false(rbac_action_matches("a/b/read", "a/b/read/more"));
	assert_false(rbac_action_matches("a.b/read", "aXb/read"));	/* '.' is no wildcard */
	assert_false(rbac_action_matches("a?b", "axb"));	/* nor '?' */
}

static void
test_match_star(void **state)
{
	assert_true(rbac_action_matches("*", "Microsoft.Security/locations/jitNetworkAccessPolicies/write"));
	assert_true(rbac_action_matches("*/read", RBAC_VM_READ));
	assert_true(rbac_action_matches("*/READ", RBAC_VM_READ));
	assert_false(rbac_action_matches("*/read", RBAC_VM_WRITE));
	assert_false(rbac_action_matches("*/read", "Jitgate/tokens/readall"));
	assert_true(rbac_action_matches("Microsoft.Security/*", RBAC_POLICY_INITIATE));
	assert_true(rbac_action_matches("microsoft.security/*", RBAC_POLICY_REVOKE));
	assert_false(rbac_action_matches("Microsoft.Security/*", RBAC_VM_READ));
	assert_false(rbac_action_matches("Microsoft.Security/*", "Microsoft.SecurityInsights/x/read"));
	/* '*' matches '/' too, like ARM's wildcards */
	assert_true(rbac_action_matches("Microsoft.Compute/*/read", "Microsoft.Compute/a/b/c/read"));
	assert_true(rbac_action_matches("Microsoft.*/read", RBAC_POLICY_READ));
	assert_true(rbac_action_matches("*Policies*", RBAC_POLICY_DELETE));
	assert_true(rbac_action_matches("Micro*", RBAC_VM_READ));
	assert_true(rbac_action_matches("*read", RBAC_VM_READ));
	assert_true(rbac_action_matches("Jitgate/tokens/*", RBAC_TOKEN_WRITE));
	/* a star matches the empty run */
	assert_true(rbac_action_matches("a*b", "ab"));
	assert_true(rbac_action_matches("ab*", "ab"));
	assert_true(rbac_action_matches("*ab", "ab"));
}

static void
test_match_many_stars(void **state)
{
	assert_true(rbac_action_matches("*/*/*", "a/b/c"));
	assert_true(rbac_action_matches("*/*/*", "a/b/c/d"));
	assert_false(rbac_action_matches("*/*/*", "a/b"));
	assert_true(rbac_action_matches("**", "x"));
	assert_true(rbac_action_matches("a**b", "ab"));
	assert_true(rbac_action_matches("*a*b*c*", "xxaxxbxxcxx"));
	assert_false(rbac_action_matches("*a*b*c*", "xxcxxbxxaxx"));
	assert_true(rbac_action_matches("Microsoft.*/*/jit*/*/action", RBAC_POLICY_INITIATE));
	assert_false(rbac_action_matches("Microsoft.*/*/jit*/*/action", RBAC_POLICY_READ));
	/* the backtracking case: the first star must give back what it took */
	assert_true(rbac_action_matches("*ab", "aab"));
	assert_true(rbac_action_matches("*aab*", "aaaab"));
	assert_true(rbac_action_matches("a*b*c", "abbbcbc"));
	assert_false(rbac_action_matches("a*b*c", "abbbcb"));
}

static void
test_match_empty(void **state)
{
	assert_true(rbac_action_matches("", ""));
	assert_true(rbac_action_matches("*", ""));
	assert_true(rbac_action_matches("***", ""));
	assert_false(rbac_action_matches("", "a"));
	assert_false(rbac_action_matches("a", ""));
	assert_false(rbac_action_matches("*a", ""));
}

/* "a*a*a*a*b" against a long run of 'a': a naive backtracker takes forever; this one is quick. */
static void
test_match_pathological(void **state)
{
	static char s[100001];
	struct timespec t0, t1;
	double ms;

	memset(s, 'a', sizeof(s) - 1);
	s[sizeof(s) - 1] = '\0';
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_false(rbac_action_matches("a*a*a*a*b", s));
	assert_false(rbac_action_matches("*a*a*a*a*a*a*a*a*a*a*b", s));
	assert_true(rbac_action_matches("a*a*a*a*a", s));
	s[sizeof(s) - 2] = 'b';
	assert_true(rbac_action_matches("a*a*a*a*b", s));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	/* quadratic at worst in the last star's run; generous for sanitizer builds */
	if (ms > 2000)
		fail_msg("pathological patterns took %.0f ms", ms);
}

static void
test_not_actions(void **state)
{
	struct rbac_role r;
	struct core_error err;

	assert_int_equal(rbac_role_custom("NoDelete", "Microsoft.Security/*", "*/delete, */revoke/action", &r, &err), 0);
	assert_true(rbac_role_allows(&r, RBAC_POLICY_READ));
	assert_true(rbac_role_allows(&r, RBAC_POLICY_WRITE));
	assert_true(rbac_role_allows(&r, RBAC_POLICY_INITIATE));
	assert_false(rbac_role_allows(&r, RBAC_POLICY_DELETE));
	assert_false(rbac_role_allows(&r, RBAC_POLICY_REVOKE));
	assert_false(rbac_role_allows(&r, RBAC_VM_READ));	/* never allowed: notActions only take away */

	/* notActions that cover all that actions allow leave nothing */
	assert_int_equal(rbac_role_custom("Nothing", "*/read", "*", &r, &err), 0);
	for (size_t a = 0; a < N_ACTIONS; a++)
		assert_false(rbac_role_allows(&r, actions[a]));

	/* an exact notAction, case-insensitive */
	assert_int_equal(rbac_role_custom("AllButTokens", "*", "JITGATE/TOKENS/WRITE", &r, &err), 0);
	assert_true(rbac_role_allows(&r, RBAC_TOKEN_READ));
	assert_false(rbac_role_allows(&r, RBAC_TOKEN_WRITE));
}

static void
test_scope_covers(void **state)
{
	const char *rg = "/subscriptions/1/resourceGroups/rg";
	const char *vm = "/subscriptions/1/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1";

	assert_true(rbac_scope_covers(rg, vm));
	assert_true(rbac_scope_covers(rg, rg));
	assert_true(rbac_scope_covers("/subscriptions/1", vm));
	assert_true(rbac_scope_covers(vm, vm));
	assert_false(rbac_scope_covers(vm, rg));
	assert_false(rbac_scope_covers(rg, "/subscriptions/1/resourceGroups/rg2"));
	assert_false(rbac_scope_covers(rg, "/subscriptions/1/resourceGroups/rg2/providers/x/y/vm1"));
	assert_false(rbac_scope_covers("/subscriptions/1", "/subscriptions/10/resourceGroups/rg"));
	assert_false(rbac_scope_covers("/subscriptions/1/resourceGroups/r", rg));
	assert_false(rbac_scope_covers(rg, "/subscriptions/2/resourceGroups/rg"));
	assert_false(rbac_scope_covers(rg, "/subscriptions/1"));
	/* case-insensitive, as ARM ids are */
	assert_true(rbac_scope_covers("/SUBSCRIPTIONS/1/RESOURCEGROUPS/RG", vm));
	assert_true(rbac_scope_covers(rg, "/subscriptions/1/resourcegroups/RG/providers/x"));
	/* trailing slashes on either side */
	assert_true(rbac_scope_covers("/subscriptions/1/resourceGroups/rg/", vm));
	assert_true(rbac_scope_covers("/subscriptions/1/resourceGroups/rg/", rg));
	assert_true(rbac_scope_covers(rg, "/subscriptions/1/resourceGroups/rg/"));
	assert_false(rbac_scope_covers("/subscriptions/1/resourceGroups/rg/", "/subscriptions/1/resourceGroups/rg2"));
	/* the root covers everything */
	assert_true(rbac_scope_covers("", vm));
	assert_true(rbac_scope_covers("/", vm));
	assert_true(rbac_scope_covers("", ""));
	assert_true(rbac_scope_covers("", "/"));
	assert_false(rbac_scope_covers(rg, ""));
	assert_false(rbac_scope_covers(rg, "/"));
}

static void
test_scope_within(void **state)
{
	const char *rg = "/subscriptions/1/resourceGroups/rg";
	const char *vm = "/subscriptions/1/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1";

	/* an assignment on the VM may see the group exists; one on the group may see the subscription */
	assert_true(rbac_scope_within(vm, rg));
	assert_true(rbac_scope_within(rg, "/subscriptions/1"));
	assert_true(rbac_scope_within(rg, rg));
	assert_true(rbac_scope_within(vm, "/SUBSCRIPTIONS/1/resourcegroups/RG/"));
	assert_true(rbac_scope_within(rg, ""));
	assert_true(rbac_scope_within(rg, "/"));
	assert_false(rbac_scope_within(rg, vm));
	assert_false(rbac_scope_within("/subscriptions/1/resourceGroups/rg2", rg));
	assert_false(rbac_scope_within("/subscriptions/1/resourceGroups/rg2/providers/x", rg));
	assert_false(rbac_scope_within("/subscriptions/10", "/subscriptions/1"));
	assert_false(rbac_scope_within("", rg));
}

static void
test_custom_good(void **state)
{
	struct rbac_role r;
	struct core_error err;

	memset(&err, 0, sizeof(err));
	assert_int_equal(rbac_role_custom("Ops-team_2",
					  "  Microsoft.Security/*/read ,\tMicrosoft.Compute/virtualMachines/read,,",
					  " , Jitgate/*  ", &r, &err), 0);
	assert_string_equal(r.name, "Ops-team_2");
	assert_int_equal(r.n_actions, 2);
	assert_string_equal(r.actions[0], "Microsoft.Security/*/read");
	assert_string_equal(r.actions[1], "Microsoft.Compute/virtualMachines/read");
	assert_int_equal(r.n_not_actions, 1);
	assert_string_equal(r.not_actions[0], "Jitgate/*");
	assert_string_equal(err.code, "");	/* untouched on success */

	/* NULL or empty notActions; a single action */
	assert_int_equal(rbac_role_custom("A", "*", NULL, &r, &err), 0);
	assert_int_equal(r.n_actions, 1);
	assert_int_equal(r.n_not_actions, 0);
	assert_int_equal(rbac_role_custom("B", "jitgate/TOKENS/read", "", &r, NULL), 0);
	assert_int_equal(r.n_not_actions, 0);
}

static void
test_custom_limits(void **state)
{
	char list[RBAC_ACTIONS_MAX * 8 + 64], action[RBAC_ACTION_MAX + 2];
	struct rbac_role r, keep;
	struct core_error err;
	size_t i, o = 0;

	/* exactly RBAC_ACTIONS_MAX is fine, one more is not */
	for (i = 0; i < RBAC_ACTIONS_MAX; i++)
		o += (size_t)snprintf(list + o, sizeof(list) - o, "*%.*s/read,", (int)(i % 2), "*");
	assert_int_equal(rbac_role_custom("Max", list, list, &r, &err), 0);
	assert_int_equal(r.n_actions, RBAC_ACTIONS_MAX);
	assert_int_equal(r.n_not_actions, RBAC_ACTIONS_MAX);
	assert_string_equal(r.actions[RBAC_ACTIONS_MAX - 1], "**/read");
	snprintf(list + o, sizeof(list) - o, " extra/read");
	memset(&keep, 0x5a, sizeof(keep));
	r = keep;
	assert_int_equal(rbac_role_custom("Over", list, NULL, &r, &err), -EINVAL);
	assert_error(&err, "TooManyActions", "actions");
	assert_memory_equal(&r, &keep, sizeof(r));	/* not written on failure */
	assert_int_equal(rbac_role_custom("Over", "*", list, &r, &err), -EINVAL);
	assert_error(&err, "TooManyActions", "not_actions");

	/* an action of exactly RBAC_ACTION_MAX characters, then one more */
	memset(action, '*', RBAC_ACTION_MAX);
	action[RBAC_ACTION_MAX] = '\0';
	assert_int_equal(rbac_role_custom("Long", action, NULL, &r, &err), 0);
	assert_string_equal(r.actions[0], action);
	action[RBAC_ACTION_MAX] = 'a';
	action[RBAC_ACTION_MAX + 1] = '\0';
	assert_int_equal(rbac_role_custom("Long", action, NULL, &r, &err), -EINVAL);
	assert_error(&err, "InvalidAction", "actions");
	assert_int_equal(rbac_role_custom("Long", "*", action, &r, &err), -EINVAL);
	assert_error(&err, "InvalidAction", "not_actions");
}

static void
test_custom_bad_actions(void **state)
{
	static const char *const bad[] = {
		"a/read b/read", "a/read;b/read", "a/read\nb", "Microsoft.Security/?", "a=b", "a/read'", "caf\xc3\xa9/read",
		"a\\b", "a/(read)",
	};
	struct rbac_role r;
	struct core_error err;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(rbac_role_custom("Bad", bad[i], NULL, &r, &err), -EINVAL);
		assert_error(&err, "InvalidAction", "actions");
		assert_int_equal(rbac_role_custom("Bad", "*", bad[i], &r, &err), -EINVAL);
		assert_error(&err, "InvalidAction", "not_actions");
	}
	/* the message repeats the bad action, but only as printable ASCII */
	assert_int_equal(rbac_role_custom("Bad", "*/read, evil\x1b[2J/read", NULL, &r, &err), -EINVAL);
	assert_non_null(strstr(err.message, "evil?[2J/read"));
	assert_null(strchr(err.message, '\x1b'));

	/* no action at all: empty, blank, only separators */
	assert_int_equal(rbac_role_custom("Empty", "", NULL, &r, &err), -EINVAL);
	assert_error(&err, "InvalidAction", "actions");
	assert_int_equal(rbac_role_custom("Empty", NULL, "*", &r, &err), -EINVAL);
	assert_error(&err, "InvalidAction", "actions");
	assert_int_equal(rbac_role_custom("Empty", " , ,\t, ", NULL, &r, &err), -EINVAL);
	assert_error(&err, "InvalidAction", "actions");
	/* with a NULL error record it fails the same */
	assert_int_equal(rbac_role_custom("Empty", "", NULL, &r, NULL), -EINVAL);
	assert_int_equal(rbac_role_custom("Bad", "a b", NULL, &r, NULL), -EINVAL);
}

/* An action that names nothing jitgate checks is a typo, in actions and (worse: it would take nothing away) notActions. */
static void
test_custom_unknown_actions(void **state)
{
	static const char *const unknown[] = {
		"Microsoft.Security/locations/jitNetworkAccessPolicy/read",	/* singular */
		"Jitgate/token/write", "Microsoft.Foo/*", "read", "*/reed", "Microsoft.Security/locations/jitNetworkAccessPolicies",
	};
	struct rbac_role r;
	struct core_error err;
	size_t i;

	for (i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
		assert_int_equal(rbac_role_custom("Typo", unknown[i], NULL, &r, &err), -EINVAL);
		assert_error(&err, "UnknownAction", "actions");
		assert_non_null(strstr(err.message, "matches none of jitgate's actions"));
		assert_int_equal(rbac_role_custom("Typo", "*", unknown[i], &r, &err), -EINVAL);
		assert_error(&err, "UnknownAction", "not_actions");
	}
	/* one bad item in a list spoils the list */
	assert_int_equal(rbac_role_custom("Typo", "*/read, Jitgate/tokens/wirte", NULL, &r, &err), -EINVAL);
	assert_error(&err, "UnknownAction", "actions");
	/* every known action is accepted by its own name, in any case, and patterns that match some */
	for (i = 0; rbac_known_actions[i]; i++)
		assert_int_equal(rbac_role_custom("Known", rbac_known_actions[i], rbac_known_actions[i], &r, &err), 0);
	assert_int_equal(rbac_role_custom("Known", "MICROSOFT.SECURITY/*, */Read, Jitgate/*s/*", NULL, &r, &err), 0);
}

/* May a holder of `outer` hand out `inner`? Exact over the known actions, wildcards and notActions included. */
static void
test_role_within(void **state)
{
	const struct rbac_role *owner = rbac_role_builtin("Owner"), *admin = rbac_role_builtin("SecurityAdmin");
	const struct rbac_role *req = rbac_role_builtin("JitRequester"), *reader = rbac_role_builtin("Reader");
	const struct rbac_role *sreader = rbac_role_builtin("SecurityReader");
	struct rbac_role minter, star, all_but_tokens, tokens_only, readers, reads_tokens;
	struct core_error err;
	size_t i;

	/* a role is within itself; everything is within Owner; Owner is within nothing smaller */
	for (i = 0; rbac_builtin_names[i]; i++) {
		const struct rbac_role *b = rbac_role_builtin(rbac_builtin_names[i]);

		assert_true(rbac_role_within(b, b));
		assert_true(rbac_role_within(b, owner));
		if (b != owner)
			assert_false(rbac_role_within(owner, b));
	}
	assert_true(rbac_role_within(req, admin));
	assert_true(rbac_role_within(sreader, admin));
	assert_false(rbac_role_within(admin, req));
	assert_false(rbac_role_within(req, reader));	/* initiate is not a read */
	assert_true(rbac_role_within(sreader, reader));
	/* Reader (all reads but tokens') and SecurityReader allow the same known actions */
	assert_true(rbac_role_within(reader, sreader));

	/* the hole: a custom role with tokens/write may mint only what it holds */
	assert_int_equal(rbac_role_custom("Minter", "Jitgate/tokens/*, */read", NULL, &minter, &err), 0);
	assert_false(rbac_role_within(owner, &minter));
	assert_false(rbac_role_within(admin, &minter));
	assert_false(rbac_role_within(req, &minter));
	assert_true(rbac_role_within(reader, &minter));
	assert_true(rbac_role_within(sreader, &minter));
	assert_true(rbac_role_within(&minter, &minter));

	/* wildcards: "*" is Owner's equal; */
	assert_int_equal(rbac_role_custom("Star", "*/*", NULL, &star, &err), 0);
	assert_true(rbac_role_within(owner, &star));
	assert_true(rbac_role_within(&star, owner));
	/* ...notActions take away: all but tokens/write may not mint a role that has it */
	assert_int_equal(rbac_role_custom("AllButTokens", "*", "*/write", &all_but_tokens, &err), 0);
	assert_false(rbac_role_within(owner, &all_but_tokens));
	assert_true(rbac_role_within(req, &all_but_tokens));
	assert_true(rbac_role_within(reader, &all_but_tokens));
	assert_int_equal(rbac_role_custom("TokensOnly", "Jitgate/tokens/write", NULL, &tokens_only, &err), 0);
	assert_false(rbac_role_within(reader, &tokens_only));
	assert_true(rbac_role_within(&tokens_only, &tokens_only));
	/* Reader (*\/read minus tokens/read) is within a role that reads all, not within one that reads tokens only */
	assert_int_equal(rbac_role_custom("Readers", "*/read", NULL, &readers, &err), 0);
	assert_int_equal(rbac_role_custom("ReadsTokens", "Jitgate/tokens/read", NULL, &reads_tokens, &err), 0);
	assert_true(rbac_role_within(reader, &readers));
	assert_false(rbac_role_within(&readers, reader));
	assert_false(rbac_role_within(reader, &reads_tokens));
	/* a role no longer defined allows nothing: within anything; nothing is within it but nothing */
	assert_true(rbac_role_within(NULL, &tokens_only));
	assert_false(rbac_role_within(reader, NULL));
}

static void
test_custom_names(void **state)
{
	char name[RBAC_ROLE_NAME_MAX + 2];
	struct rbac_role r;
	struct core_error err;
	static const char *const bad[] = { "", "Ops team", "Ops.team", "Ops/team", "Ops\tteam", "rôle", "a,b", "[x]" };
	size_t i;

	memset(name, 'N', RBAC_ROLE_NAME_MAX);
	name[RBAC_ROLE_NAME_MAX] = '\0';
	assert_int_equal(rbac_role_custom(name, "*", NULL, &r, &err), 0);
	assert_string_equal(r.name, name);
	name[RBAC_ROLE_NAME_MAX] = 'N';
	name[RBAC_ROLE_NAME_MAX + 1] = '\0';
	assert_int_equal(rbac_role_custom(name, "*", NULL, &r, &err), -EINVAL);
	assert_error(&err, "InvalidRoleName", "role");

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(rbac_role_custom(bad[i], "*", NULL, &r, &err), -EINVAL);
		assert_error(&err, "InvalidRoleName", "role");
	}
	assert_int_equal(rbac_role_custom("0-_Z", "*", NULL, &r, &err), 0);

	/* built-in names are taken, in any case */
	for (i = 0; rbac_builtin_names[i]; i++) {
		assert_int_equal(rbac_role_custom(rbac_builtin_names[i], "*", NULL, &r, &err), -EINVAL);
		assert_error(&err, "InvalidRoleName", "role");
	}
	assert_int_equal(rbac_role_custom("OWNER", "*", NULL, &r, &err), -EINVAL);
	assert_error(&err, "InvalidRoleName", "role");
	assert_int_equal(rbac_role_custom("jitrequester", "*", NULL, &r, &err), -EINVAL);
	assert_error(&err, "InvalidRoleName", "role");
	/* the name is checked before the actions */
	assert_int_equal(rbac_role_custom("Reader", "", NULL, &r, &err), -EINVAL);
	assert_error(&err, "InvalidRoleName", "role");
}

#define ANY_SUB	"/subscriptions/00000000-0000-0000-0000-000000000000"
#define ANY_A	ANY_SUB "/resourceGroups/groupA"
#define ANY_B	ANY_SUB "/resourceGroups/groupB"
#define ANY_POL	"/providers/Microsoft.Security/locations/westeurope/jitNetworkAccessPolicies/default"

/* A person with several assignments: each one allows on its own, and never one's role with another's scope. */
static void
test_any_allows(void **unused)
{
	struct rbac_assignment a[3];

	(void)unused;
	memset(a, 0, sizeof(a));
	a[0].role = rbac_role_builtin("JitRequester");
	snprintf(a[0].scope, sizeof(a[0].scope), "%s", ANY_A);
	a[1].role = rbac_role_builtin("SecurityAdmin");
	snprintf(a[1].scope, sizeof(a[1].scope), "%s", ANY_B);
	assert_true(rbac_any_allows(a, 2, RBAC_POLICY_INITIATE, ANY_A ANY_POL));
	assert_true(rbac_any_allows(a, 2, RBAC_POLICY_WRITE, ANY_B ANY_POL));
	assert_true(rbac_any_allows(a, 2, RBAC_POLICY_INITIATE, ANY_B ANY_POL));	/* SecurityAdmin may initiate */
	/* SecurityAdmin's write with JitRequester's scope: no */
	assert_false(rbac_any_allows(a, 2, RBAC_POLICY_WRITE, ANY_A ANY_POL));
	assert_false(rbac_any_allows(a, 2, RBAC_POLICY_REVOKE, ANY_A ANY_POL));
	assert_false(rbac_any_allows(a, 2, RBAC_POLICY_READ, ANY_SUB "/resourceGroups/groupC" ANY_POL));
	assert_false(rbac_any_allows(a, 2, RBAC_POLICY_READ, ANY_SUB));	/* neither covers the subscription */
	assert_false(rbac_any_allows(a, 2, RBAC_TOKEN_WRITE, ANY_B));	/* neither role has it anywhere */
	/* one assignment is only itself: the second is not read */
	assert_false(rbac_any_allows(a, 1, RBAC_POLICY_WRITE, ANY_B ANY_POL));
	assert_false(rbac_any_allows(a, 0, RBAC_POLICY_READ, ANY_A));	/* none: nothing */
	/* the halves alone: the roles, the scopes */
	assert_true(rbac_any_allows(a, 2, RBAC_POLICY_WRITE, NULL));
	assert_false(rbac_any_allows(a, 2, RBAC_TOKEN_WRITE, NULL));
	assert_true(rbac_any_allows(a, 2, NULL, ANY_A "/providers/Microsoft.Compute/virtualMachines/vm1"));
	assert_false(rbac_any_allows(a, 2, NULL, ANY_SUB "/resourceGroups/groupAB"));	/* whole segments */
	/* a role no longer defined allows nothing, even where its scope covers; the empty scope covers all */
	a[2].role = NULL;
	assert_false(rbac_any_allows(&a[2], 1, RBAC_POLICY_READ, ANY_A));
	assert_true(rbac_any_allows(&a[2], 1, NULL, ANY_A));
	a[2].role = rbac_role_builtin("Reader");
	assert_true(rbac_any_allows(a, 3, RBAC_POLICY_READ, ANY_SUB "/resourceGroups/groupC" ANY_POL));
	assert_true(rbac_any_allows(a, 3, RBAC_ACTIVITY_READ, ""));
	assert_false(rbac_any_allows(a, 2, RBAC_POLICY_READ, ""));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_builtin_matrix),
		cmocka_unit_test(test_custom_unknown_actions),
		cmocka_unit_test(test_role_within),
		cmocka_unit_test(test_builtin_matrix_case),
		cmocka_unit_test(test_builtin_lookup),
		cmocka_unit_test(test_builtin_other_actions),
		cmocka_unit_test(test_match_literal),
		cmocka_unit_test(test_match_star),
		cmocka_unit_test(test_match_many_stars),
		cmocka_unit_test(test_match_empty),
		cmocka_unit_test(test_match_pathological),
		cmocka_unit_test(test_not_actions),
		cmocka_unit_test(test_scope_covers),
		cmocka_unit_test(test_scope_within),
		cmocka_unit_test(test_any_allows),
		cmocka_unit_test(test_custom_good),
		cmocka_unit_test(test_custom_limits),
		cmocka_unit_test(test_custom_bad_actions),
		cmocka_unit_test(test_custom_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

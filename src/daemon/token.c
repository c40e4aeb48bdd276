/* `jitgated token`: create, list and revoke API tokens offline, straight in the store (join tokens: token-join.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api/api.h"
#include "core/rbac.h"
#include "core/timeutil.h"
#include "daemon/daemon.h"
#include "daemon/log.h"
#include "daemon/sandbox.h"
#include "daemon/statedir.h"
#include "store/store.h"

/*
 * Root running `jitgated token` on a state directory that privilege separation
 * gave to its user: become that user first, so that SQLite as root never opens
 * (or creates, or follows a symlink to) a file in a directory another user controls.
 */
int
token_drop_to_owner(const struct config *cfg)
{
	struct core_error err = { 0 };
	struct sandbox_user u = { .name = "(state directory owner)" };
	struct stat st;

	if (geteuid() != 0 || stat(cfg->state_dir, &st) < 0 || st.st_uid == 0)
		return 0;
	u.uid = st.st_uid;
	u.gid = st.st_gid;
	if (sandbox_drop(&u, 0, &err) < 0) {
		logmsg("cannot become the owner (uid %u) of %s: %s", (unsigned)st.st_uid, cfg->state_dir, err.message);
		return -EPERM;
	}
	return 0;
}

/*
 * Revoke a token in the store and, unless keep_grants, end its holder's live grants (Revoked /
 * TokenRevoked) in the same transaction, as the API does. Returns how many grants it ended.
 */
static int
token_revoke_offline(struct store *st, const char *name, bool keep_grants)
{
	struct store_grant *g = NULL;
	char requestor[STORE_REQUESTOR_MAX + 1];
	int64_t now = (int64_t)time(NULL) * TIME_NS_PER_SEC;
	size_t n = 0, i;
	int r, ended = 0;

	snprintf(requestor, sizeof(requestor), STORE_TOKEN_REQUESTOR "%s", name);
	if ((r = store_begin(st)) < 0)
		return r;
	if ((r = store_token_revoke(st, name, now)) < 0)
		goto out;
	if (!keep_grants && (r = store_grants_initiated(st, &g, &n)) < 0)
		goto out;
	for (i = 0; i < n; i++) {
		if (g[i].end_ns <= now || strcmp(g[i].requestor, requestor))
			continue;
		if ((r = store_grant_end(st, g[i].request_id, g[i].vm_id, g[i].port, STORE_REASON_TOKEN_REVOKED, now)) < 0)
			goto out;
		ended++;
	}
	r = store_commit(st);
out:
	if (store_in_transaction(st))
		store_rollback(st);
	free(g);
	return r < 0 ? r : ended;
}

/* A role by name: a built-in one, else a [role NAME] of the config file; NULL if none. */
static const struct rbac_role *
token_role_of(const struct config *cfg, const char *name)
{
	const struct rbac_role *role = rbac_role_builtin(name);
	size_t i;

	for (i = 0; i < cfg->api.n_custom_roles && !role; i++)
		if (!strcasecmp(cfg->api.custom_roles[i].name, name))
			role = &cfg->api.custom_roles[i];
	return role;
}

/* The token `create` would insert, from the flags; says why not on stderr. */
static int
token_from_flags(const struct cmdline *cl, const struct config *cfg, struct store_token *t)
{
	struct core_error err = { 0 };
	const struct rbac_role *role = cl->role ? token_role_of(cfg, cl->role) : NULL;

	memset(t, 0, sizeof(*t));
	if (!cl->name || !cl->role) {
		fputs("jitgated token create: --name and --role are required\n", stderr);
		return -EINVAL;
	}
	if (!role) {
		fprintf(stderr, "jitgated token create: --role: no role named '%s'\n", cl->role);
		return -EINVAL;
	}
	if (strlen(cl->name) == 0 || strlen(cl->name) > STORE_TOKEN_NAME_MAX ||
	    strspn(cl->name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-@") != strlen(cl->name)) {
		fprintf(stderr, "jitgated token create: --name: 1 to %d of letters, digits and ._-@\n",
			STORE_TOKEN_NAME_MAX);
		return -EINVAL;
	}
	if (cl->scope && cl->scope[0] && arm_scope_validate(cl->scope, strlen(cl->scope), &err) < 0) {
		fprintf(stderr, "jitgated token create: --scope: %s: %s\n", err.code, err.message);
		return -EINVAL;
	}
	if (cl->scope && strlen(cl->scope) > STORE_SCOPE_MAX) {
		fprintf(stderr, "jitgated token create: --scope is too long\n");
		return -EINVAL;
	}
	snprintf(t->name, sizeof(t->name), "%s", cl->name);
	snprintf(t->role, sizeof(t->role), "%s", role->name);
	snprintf(t->scope, sizeof(t->scope), "%s", cl->scope ? cl->scope : "");
	t->created_ns = (int64_t)time(NULL) * TIME_NS_PER_SEC;
	return 0;
}

/* `jitgated token create`: a new token in the store, its secret (shown once) on stdout. */
static int
token_create(struct store *st, const struct cmdline *cl, const struct config *cfg)
{
	struct store_token t;
	char secret[API_TOKEN_TEXT_MAX + 1];
	int r;

	if (token_from_flags(cl, cfg, &t) < 0)
		return DAEMON_EXIT_USAGE;
	if (api_token_generate(secret, sizeof(secret)) < 0 || api_token_hash(secret, strlen(secret), t.hash) < 0)
		return DAEMON_EXIT_FAILURE;
	r = store_token_insert(st, &t);
	if (r == -EEXIST) {
		fprintf(stderr, "jitgated token create: --name: a token named '%s' exists already\n", cl->name);
		r = DAEMON_EXIT_FAILURE;
	} else if (r < 0) {
		fprintf(stderr, "jitgated token create: %s\n", store_last_error(st));
		r = DAEMON_EXIT_FAILURE;
	} else {
		printf("%s\n", secret);
		r = DAEMON_EXIT_OK;
	}
	explicit_bzero(secret, sizeof(secret));
	return r;
}

/* `jitgated token list`: every token, valid or revoked. */
static int
token_list(struct store *st)
{
	struct store_token *v = NULL;
	size_t n = 0, i;

	if (store_token_list(st, &v, &n) < 0)
		return DAEMON_EXIT_FAILURE;
	printf("%-24s %-16s %-8s %s\n", "NAME", "ROLE", "STATE", "SCOPE");
	for (i = 0; i < n; i++)
		printf("%-24s %-16s %-8s %s\n", v[i].name, v[i].role, v[i].revoked_ns ? "revoked" : "valid",
		       v[i].scope[0] ? v[i].scope : "/");
	free(v);
	return DAEMON_EXIT_OK;
}

/* `jitgated token revoke NAME`: the token revoked and (unless --keep-grants) its holder's grants ended. */
static int
token_revoke(struct store *st, const struct cmdline *cl, int argc, char **argv)
{
	const char *name = optind + 2 < argc ? argv[optind + 2] : cl->name;
	int r;

	if (!name) {
		fputs("jitgated token revoke: which token? (NAME)\n", stderr);
		return DAEMON_EXIT_USAGE;
	}
	r = token_revoke_offline(st, name, cl->keep_grants);
	if (r == -ENOENT)
		fprintf(stderr, "jitgated token revoke: no valid token named '%s'\n", name);
	else if (r < 0)
		fprintf(stderr, "jitgated token revoke: %s\n", store_last_error(st));
	else if (r > 0)
		printf("revoked token '%s' and ended its %d live grant(s) in the store; a running jitgated closes "
		       "them in the kernel at its next reconcile (systemctl reload jitgated, or SIGHUP, for now)\n",
		       name, r);
	return r < 0 ? DAEMON_EXIT_FAILURE : DAEMON_EXIT_OK;
}

int
token_run(int argc, char **argv, struct config *cfg)
{
	struct cmdline cl = { 0 };
	struct store *st = NULL;
	const char *sub = argc > 2 ? argv[2] : "";
	int r;

	if (strcmp(sub, "create") && strcmp(sub, "list") && strcmp(sub, "revoke")) {
		daemon_usage(stderr);
		return DAEMON_EXIT_USAGE;
	}
	if (parse_args(argc - 2, argv + 2, cfg, &cl))
		return DAEMON_EXIT_USAGE;
	if (token_drop_to_owner(cfg) < 0 || statedir_open_store(cfg, &st) < 0)
		return DAEMON_EXIT_FAILURE;
	if (!strcmp(sub, "create"))
		r = cl.join ? token_join_create(st, &cl, cfg) : token_create(st, &cl, cfg);
	else if (!strcmp(sub, "list"))
		r = cl.join ? token_join_list(st) : token_list(st);
	else if (cl.join)
		r = optind + 2 < argc ? token_join_revoke(st, cfg, argv[optind + 2])
				      : (fputs("jitgated token revoke --join: which join token? (ID)\n", stderr), DAEMON_EXIT_USAGE);
	else
		r = token_revoke(st, &cl, argc, argv);
	store_close(st);
	return r;
}

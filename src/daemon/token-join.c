/* `jitgated token ... --join`: create, list and revoke join tokens offline, straight in the store, as the API does. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/api.h"
#include "core/armid.h"
#include "core/duration.h"
#include "core/timeutil.h"
#include "daemon/daemon.h"
#include "store/store.h"

#define JOIN_OFFLINE_CALLER	"jitgated"	/* createdBy and the activity rows' caller: no API caller */

/* The activity row the API would write for this change. */
static void
join_log(struct store *st, const struct config *cfg, const char *op, const struct store_join_token *t,
	 const char *status, const char *detail)
{
	struct store_activity a;

	memset(&a, 0, sizeof(a));
	a.time_ns = (int64_t)time(NULL) * TIME_NS_PER_SEC;
	snprintf(a.caller, sizeof(a.caller), JOIN_OFFLINE_CALLER);
	snprintf(a.caller_addr, sizeof(a.caller_addr), "local");
	snprintf(a.operation, sizeof(a.operation), "%s", op);
	snprintf(a.resource_id, sizeof(a.resource_id), "/subscriptions/%s/resourceGroups/%s/providers/Jitgate/joinTokens/%s",
		 cfg->api.subscription, t->resource_group, t->id);
	snprintf(a.status, sizeof(a.status), "%s", status);
	snprintf(a.detail, sizeof(a.detail), "%s (offline, jitgated token)", detail);
	/* the token stands without its row: say so, but do not undo it */
	if (store_activity_append(st, &a) < 0)
		fprintf(stderr, "jitgated token: the activity log refused the row: %s\n", store_last_error(st));
}

/* The join token `create --join` would insert, from the flags; says why not on stderr. */
static int
join_from_flags(const struct cmdline *cl, const struct config *cfg, struct store_join_token *t)
{
	int64_t uses = JOIN_USES_DEFAULT, expires_ms = JOIN_EXPIRES_DEFAULT_MS;
	char *end;
	long v;

	memset(t, 0, sizeof(*t));
	if (cl->name || cl->role || cl->scope) {
		fputs("jitgated token create --join: --name, --role and --scope are for API tokens\n", stderr);
		return -EINVAL;
	}
	if (!cl->resource_group) {
		fputs("jitgated token create --join: --resource-group is required (the group joining hosts go into)\n",
		      stderr);
		return -EINVAL;
	}
	if (arm_resource_group_validate(cl->resource_group, strlen(cl->resource_group), NULL) < 0) {
		fprintf(stderr, "jitgated token create --join: --resource-group: '%s' is not a resource group name\n",
			cl->resource_group);
		return -EINVAL;
	}
	if (cl->uses) {
		errno = 0;
		v = strtol(cl->uses, &end, 10);
		if (errno || end == cl->uses || *end || v < 1 || v > JOIN_USES_MAX) {
			fprintf(stderr, "jitgated token create --join: --uses: '%s' is not a number from 1 to %d\n", cl->uses,
				JOIN_USES_MAX);
			return -EINVAL;
		}
		uses = v;
	}
	if (cl->expires && (duration_parse_text(cl->expires, strlen(cl->expires), &expires_ms) < 0 ||
			    expires_ms < JOIN_EXPIRES_MIN_MS || expires_ms > JOIN_EXPIRES_MAX_MS)) {
		fprintf(stderr, "jitgated token create --join: --expires: '%s' is not a duration from %lldm to %lldd (24h, PT6H)\n",
			cl->expires, JOIN_EXPIRES_MIN_MS / 60000, JOIN_EXPIRES_MAX_MS / (24LL * 3600 * 1000));
		return -EINVAL;
	}
	snprintf(t->subscription, sizeof(t->subscription), "%s", cfg->api.subscription);
	snprintf(t->resource_group, sizeof(t->resource_group), "%s", cl->resource_group);
	snprintf(t->created_by, sizeof(t->created_by), JOIN_OFFLINE_CALLER);
	t->uses_left = uses;
	t->created_ns = (int64_t)time(NULL) * TIME_NS_PER_SEC;
	t->expires_ns = t->created_ns + expires_ms * (TIME_NS_PER_SEC / 1000);
	return 0;
}

int
token_join_create(struct store *st, const struct cmdline *cl, const struct config *cfg)
{
	char secret[API_TOKEN_TEXT_MAX + 1] = "", when[TIME_FORMAT_SIZE] = "", detail[256];
	struct store_join_token t;
	int rc = DAEMON_EXIT_FAILURE;

	if (join_from_flags(cl, cfg, &t) < 0)
		return DAEMON_EXIT_USAGE;
	if (api_secret_generate(API_JOIN_TOKEN_PREFIX, secret, sizeof(secret)) < 0 ||
	    api_token_hash(secret, strlen(secret), t.hash) < 0)
		goto out;
	if (api_join_token_insert(st, &t) < 0) {
		fprintf(stderr, "jitgated token create --join: %s\n", store_last_error(st));
		goto out;
	}
	time_format_rfc3339(t.expires_ns, when, sizeof(when));
	snprintf(detail, sizeof(detail), "created join token %s for resource group %s: %lld use(s), until %s", t.id,
		 t.resource_group, (long long)t.uses_left, when);
	join_log(st, cfg, "Jitgate/joinTokens/write", &t, "Succeeded", detail);
	/* the secret alone on stdout (for scripts), what it is on stderr */
	fprintf(stderr, "join token %s for resource group %s: %lld use(s), until %s; its secret, shown this once:\n",
		t.id, t.resource_group, (long long)t.uses_left, when);
	printf("%s\n", secret);
	rc = DAEMON_EXIT_OK;
out:
	explicit_bzero(secret, sizeof(secret));
	explicit_bzero(t.hash, sizeof(t.hash));
	return rc;
}

int
token_join_list(struct store *st)
{
	struct store_join_token *v = NULL;
	char when[TIME_FORMAT_SIZE];
	int64_t now = (int64_t)time(NULL) * TIME_NS_PER_SEC;
	size_t n = 0, i;

	if (store_join_token_list(st, &v, &n) < 0) {
		fprintf(stderr, "jitgated token list --join: %s\n", store_last_error(st));
		return DAEMON_EXIT_FAILURE;
	}
	printf("%-16s %-24s %-9s %-8s %s\n", "ID", "RESOURCE GROUP", "USES LEFT", "STATE", "EXPIRES");
	for (i = 0; i < n; i++) {
		time_format_rfc3339(v[i].expires_ns, when, sizeof(when));
		printf("%-16s %-24s %-9lld %-8s %s\n", v[i].id, v[i].resource_group, (long long)v[i].uses_left,
		       v[i].revoked_ns ? "revoked" : v[i].uses_left <= 0 ? "used-up" : now >= v[i].expires_ns ? "expired" : "valid",
		       when);
		explicit_bzero(v[i].hash, sizeof(v[i].hash));
	}
	free(v);
	return DAEMON_EXIT_OK;
}

int
token_join_revoke(struct store *st, const struct config *cfg, const char *id)
{
	struct store_join_token t, *v = NULL;
	size_t n = 0, i;
	int r;

	memset(&t, 0, sizeof(t));
	snprintf(t.id, sizeof(t.id), "%s", id);
	snprintf(t.resource_group, sizeof(t.resource_group), "-");
	/* its group, for the activity row's resource id */
	if (store_join_token_list(st, &v, &n) == 0)
		for (i = 0; i < n; i++)
			if (!strcmp(v[i].id, id))
				snprintf(t.resource_group, sizeof(t.resource_group), "%s", v[i].resource_group);
	if (v)
		explicit_bzero(v, n * sizeof(*v));
	free(v);
	r = store_join_token_revoke(st, id, (int64_t)time(NULL) * TIME_NS_PER_SEC);
	if (r == -ENOENT) {
		fprintf(stderr, "jitgated token revoke --join: no valid join token '%s'\n", id);
		return DAEMON_EXIT_FAILURE;
	}
	if (r < 0) {
		fprintf(stderr, "jitgated token revoke --join: %s\n", store_last_error(st));
		return DAEMON_EXIT_FAILURE;
	}
	join_log(st, cfg, "Jitgate/joinTokens/delete", &t, "Revoked", "revoked join token");
	return DAEMON_EXIT_OK;
}

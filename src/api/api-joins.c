/* Join tokens over the API (jitgate's extension): Owners create, list and revoke the tokens agents join with; secrets are shown once. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api-internal.h"
#include "codec/codec-join.h"
#include "core/duration.h"
#include "core/timeutil.h"

#define JOIN_OP_WRITE	"Jitgate/joinTokens/write"	/* activity rows of a create */
#define JOIN_OP_DELETE	"Jitgate/joinTokens/delete"	/* ...and of a revoke */

_Static_assert(JOIN_ID_MAX <= STORE_JOIN_ID_MAX, "a join token's id does not fit the store");
_Static_assert(JOIN_CREATED_BY_MAX >= STORE_REQUESTOR_MAX, "the view cannot hold who created a token");
_Static_assert(API_TOKEN_BYTES + sizeof(API_JOIN_TOKEN_PREFIX) - 1 <= API_TOKEN_TEXT_MAX, "a join secret's text");

bool
api_join_allowed(const struct api_caller *c, const char *action, const char *subscription, const char *resource_group)
{
	char scope[ARM_ID_MAX + 1];

	if (!rbac_any_allows(c->assign, c->n_assign, action, NULL))
		return false;
	if (!resource_group)
		return true;
	snprintf(scope, sizeof(scope), "/subscriptions/%s/resourceGroups/%s", subscription, resource_group);
	return rbac_any_allows(c->assign, c->n_assign, action, scope);
}

/*
 * The caller's role must allow `action` somewhere (its scope is looked at once the token's group is
 * known): otherwise the 403 of api_require, logged. With a group, the caller's scope must cover it.
 */
static bool
join_require(struct api *api, const struct api_caller *c, const char *action, const char *resource_group,
	     struct http_response *resp)
{
	char scope[ARM_ID_MAX + 1];
	int n;

	if (resource_group)
		n = snprintf(scope, sizeof(scope), "/subscriptions/%s/resourceGroups/%s", api->settings.subscription,
			     resource_group);
	else
		n = snprintf(scope, sizeof(scope), "/subscriptions/%s", api->settings.subscription);
	if (n < 0 || (size_t)n >= sizeof(scope))
		scope[0] = '\0';
	if (api_join_allowed(c, action, api->settings.subscription, resource_group))
		return true;
	return api_require(api, c, action, scope, resp);
}

static void
join_view(const struct store_join_token *t, struct join_token_view *v)
{
	memset(v, 0, sizeof(*v));
	snprintf(v->id, sizeof(v->id), "%.*s", JOIN_ID_MAX, t->id);	/* ours are "jt-" + JOIN_ID_HEX */
	snprintf(v->resource_group, sizeof(v->resource_group), "%s", t->resource_group);
	snprintf(v->created_by, sizeof(v->created_by), "%s", t->created_by);
	v->uses_left = t->uses_left;
	v->expires_ns = t->expires_ns;
	v->created_ns = t->created_ns;
	v->revoked_ns = t->revoked_ns;
}

static json_t *
join_json(const struct store_join_token *t, int64_t now)
{
	struct join_token_view v;

	join_view(t, &v);
	return codec_join_token_encode(&v, now);
}

/* The token's resource id, for the activity log. */
static void
join_resource(const struct api *api, const char *rg, const char *id, char *buf, size_t size)
{
	snprintf(buf, size, "/subscriptions/%s/resourceGroups/%s/providers/Jitgate/joinTokens/%s",
		 api->settings.subscription, rg, id);
}

void
api_join_tokens_list(struct api *api, const struct api_caller *c, const struct http_request *req,
		     struct http_response *resp)
{
	struct store_join_token *v = NULL;
	int64_t now = time_now_ns();
	size_t n = 0, i;
	json_t *items;
	int r;

	if (!join_require(api, c, RBAC_TOKEN_READ, NULL, resp))
		return;
	if ((r = store_join_token_list(api->store, &v, &n)) < 0) {
		api_store_error(api, resp, r, "cannot read join tokens");
		return;
	}
	/* a caller scoped to a resource group sees its group's tokens only */
	items = json_array();
	for (i = 0; items && i < n; i++)
		if (arm_name_equal(v[i].subscription, api->settings.subscription) &&
		    api_join_allowed(c, RBAC_TOKEN_READ, api->settings.subscription, v[i].resource_group))
			json_array_append_new(items, join_json(&v[i], now));
	for (i = 0; i < n; i++)
		explicit_bzero(v[i].hash, sizeof(v[i].hash));
	free(v);
	if (!items) {
		resp->status = 500;
		return;
	}
	api_list_respond(req, items, resp);
}

void
api_join_token_create(struct api *api, const struct api_caller *c, const struct http_request *req,
		      struct http_response *resp)
{
	char secret[API_TOKEN_TEXT_MAX + 1] = "", rid[ARM_ID_MAX + 1], d[DURATION_FORMAT_SIZE] = "";
	struct core_error err = { 0 };
	struct store_join_token t;
	struct join_ask ask;
	json_t *out;
	int r;

	memset(&t, 0, sizeof(t));
	if (!join_require(api, c, RBAC_TOKEN_WRITE, NULL, resp))
		goto out;
	if (codec_join_ask_decode(req->body, req->body_len, &ask, &err) < 0) {
		api_error_record(resp, 400, &err);
		goto out;
	}
	if (!join_require(api, c, RBAC_TOKEN_WRITE, ask.resource_group, resp))
		goto out;
	snprintf(t.subscription, sizeof(t.subscription), "%s", api->settings.subscription);
	snprintf(t.resource_group, sizeof(t.resource_group), "%s", ask.resource_group);
	snprintf(t.created_by, sizeof(t.created_by), "%s", c->name);
	t.uses_left = ask.uses;
	t.created_ns = time_now_ns();
	t.expires_ns = t.created_ns + ask.expires_ms * (TIME_NS_PER_SEC / 1000);
	if (api_secret_generate(API_JOIN_TOKEN_PREFIX, secret, sizeof(secret)) < 0 ||
	    api_token_hash(secret, strlen(secret), t.hash) < 0) {
		api_error(resp, 500, "InternalError", "", "cannot make a join token");
		goto out;
	}
	if ((r = api_join_token_insert(api->store, &t)) < 0) {
		api_store_error(api, resp, r, "cannot store the join token");
		goto out;
	}
	duration_format_iso8601(ask.expires_ms, d, sizeof(d));
	join_resource(api, t.resource_group, t.id, rid, sizeof(rid));
	api_log(api, c, JOIN_OP_WRITE, rid, "Succeeded", NULL,
		"created join token %s for resource group %s: %lld use(s), expires in %s", t.id, t.resource_group,
		(long long)t.uses_left, d);
	if (!(out = join_json(&t, t.created_ns)) || json_object_set_new(out, "token", json_string(secret)) < 0) {
		json_decref(out);
		api_error(resp, 500, "InternalError", "", "out of memory");
		goto out;
	}
	resp->secret = true;
	api_json(resp, 201, out);
out:
	explicit_bzero(secret, sizeof(secret));
	explicit_bzero(t.hash, sizeof(t.hash));
}

/* The join token with this id that is not revoked yet: 0, -ENOENT (ResourceNotFound in err), or the store's errno. */
static int
join_find_valid(struct api *api, const char *id, struct store_join_token *ret, struct core_error *err)
{
	struct store_join_token *v = NULL;
	size_t n = 0, i;
	int r;

	if ((r = store_join_token_list(api->store, &v, &n)) < 0)
		return api_store_refused(api, r, err, "cannot read join tokens");
	r = -ENOENT;
	for (i = 0; i < n; i++) {
		if (r == -ENOENT && !strcmp(v[i].id, id) && !v[i].revoked_ns &&
		    arm_name_equal(v[i].subscription, api->settings.subscription)) {
			*ret = v[i];
			r = 0;
		}
		explicit_bzero(v[i].hash, sizeof(v[i].hash));
	}
	free(v);
	if (r == -ENOENT)
		core_error_set(err, "ResourceNotFound", "", "there is no valid join token '%.40s'", id);
	return r;
}

/* A revoke: the token stays in the list as Revoked (the log and an agent's record name it), and no host may join with it. */
void
api_join_token_delete(struct api *api, const struct api_caller *c, const struct http_request *req, const char *id,
		      struct http_response *resp)
{
	struct core_error err = { 0 };
	struct store_join_token t;
	char rid[ARM_ID_MAX + 1];
	enum api_fault fault = API_FAULT_NOT_FOUND;
	int r;

	(void)req;
	memset(&t, 0, sizeof(t));
	if (!join_require(api, c, RBAC_TOKEN_WRITE, NULL, resp))
		return;
	if ((r = join_find_valid(api, id, &t, &err)) < 0) {
		api_error_record(resp, api_fault_status(r == -ENOENT ? API_FAULT_NOT_FOUND : API_FAULT_STORE, r), &err);
		return;
	}
	if (!join_require(api, c, RBAC_TOKEN_WRITE, t.resource_group, resp))
		goto out;
	join_resource(api, t.resource_group, t.id, rid, sizeof(rid));
	t.revoked_ns = time_now_ns();
	if ((r = store_join_token_revoke(api->store, t.id, t.revoked_ns)) < 0) {
		/* -ENOENT: revoked since it was read */
		if (r == -ENOENT) {
			core_error_set(&err, "ResourceNotFound", "", "there is no valid join token '%.40s'", id);
		} else {
			fault = API_FAULT_STORE;
			api_store_refused(api, r, &err, "cannot revoke the join token");
		}
		api_log(api, c, JOIN_OP_DELETE, rid, "Failed", NULL, "%s: %s", err.code, err.message);
		api_error_record(resp, api_fault_status(fault, r), &err);
		goto out;
	}
	api_log(api, c, JOIN_OP_DELETE, rid, "Revoked", NULL, "revoked join token %s of resource group %s (%lld use(s) left)",
		t.id, t.resource_group, (long long)t.uses_left);
	api_json(resp, 200, join_json(&t, t.revoked_ns));
out:
	explicit_bzero(t.hash, sizeof(t.hash));
}

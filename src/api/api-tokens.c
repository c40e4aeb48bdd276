/* Tokens over the API (jitgate's extension): Owners create, list and revoke bearer tokens; secrets are shown once. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/api-internal.h"
#include "codec/codec.h"
#include "core/armid.h"
#include "core/timeutil.h"

static json_t *
token_json(const struct store_token *t)
{
	char created[64] = "", revoked[64] = "";
	json_t *o;

	time_format_rfc3339(t->created_ns, created, sizeof(created));
	o = json_pack("{s:s, s:s, s:s, s:s, s:s}", "name", t->name, "role", t->role, "scope", t->scope[0] ? t->scope : "/",
		      "createdUtc", created, "state", t->revoked_ns ? "Revoked" : "Valid");
	if (o && t->revoked_ns && time_format_rfc3339(t->revoked_ns, revoked, sizeof(revoked)) > 0)
		json_object_set_new(o, "revokedUtc", json_string(revoked));
	return o;
}

static bool
token_name_is_valid(const char *name)
{
	size_t n = strlen(name);

	return n > 0 && n <= STORE_TOKEN_NAME_MAX &&
	       strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-@") == n;
}

/*
 * A caller may hand out (or take back) only what it holds itself: a token whose
 * role allows no action the caller's role does not, at a scope inside the
 * caller's. Otherwise fill a 403 naming what is beyond it, log it, return false.
 * `role` may be NULL (a role no longer defined: it allows nothing).
 */
static bool
token_within_caller(struct api *api, const struct api_caller *c, const char *verb, const char *name,
		    const char *role_name, const struct rbac_role *role, const char *tscope, struct http_response *resp)
{
	size_t i;

	if (!rbac_role_within(role, c->role)) {
		for (i = 0; rbac_known_actions[i]; i++)
			if (rbac_role_allows(role, rbac_known_actions[i]) &&
			    !(c->role && rbac_role_allows(c->role, rbac_known_actions[i])))
				break;
		api_error(resp, 403, "AuthorizationFailed", "role",
			  "the client '%s' with role '%s' may not %s a token with role '%.64s': that role allows '%s', "
			  "which '%s' does not",
			  c->name, c->role ? c->role->name : "-", verb, role_name,
			  rbac_known_actions[i] ? rbac_known_actions[i] : "?", c->role ? c->role->name : "-");
		api_log(api, c, RBAC_TOKEN_WRITE, name, "Denied", NULL, "may not %s a token with role '%.64s'", verb,
			role_name);
		return false;
	}
	if (!rbac_scope_covers(c->scope, tscope)) {
		api_error(resp, 403, "AuthorizationFailed", "scope",
			  "the client '%s' at scope '%s' may not %s a token at scope '%.300s', which is not inside its own",
			  c->name, c->scope[0] ? c->scope : "/", verb, tscope[0] ? tscope : "/");
		api_log(api, c, RBAC_TOKEN_WRITE, name, "Denied", NULL, "may not %s a token at scope '%.300s'", verb,
			tscope[0] ? tscope : "/");
		return false;
	}
	return true;
}

void
api_tokens_list(struct api *api, const struct api_caller *c, const struct http_request *req,
		struct http_response *resp)
{
	struct store_token *v = NULL;
	char scope[ARM_ID_MAX + 1];
	size_t n = 0, i;
	json_t *items;
	int r;

	snprintf(scope, sizeof(scope), "/subscriptions/%s", api->settings.subscription);
	if (!api_require(api, c, RBAC_TOKEN_READ, scope, resp))
		return;
	if ((r = store_token_list(api->store, &v, &n)) < 0) {
		api_store_error(api, resp, r, "cannot read tokens");
		return;
	}
	items = json_array();
	for (i = 0; i < n; i++)
		json_array_append_new(items, token_json(&v[i]));
	free(v);
	api_list_respond(req, items, resp);
}

void
api_token_put(struct api *api, const struct api_caller *c, const struct http_request *req, const char *name,
	      struct http_response *resp)
{
	char scope[ARM_ID_MAX + 1], secret[API_TOKEN_TEXT_MAX + 1];
	const struct rbac_role *role = NULL;
	struct core_error err = { 0 };
	json_error_t jerr;
	json_t *body = NULL, *out;
	const char *role_name, *tscope;
	struct store_token t;
	int r;

	snprintf(scope, sizeof(scope), "/subscriptions/%s", api->settings.subscription);
	if (!api_require(api, c, RBAC_TOKEN_WRITE, scope, resp))
		return;
	if (!token_name_is_valid(name)) {
		api_error(resp, 400, "InvalidTokenName", "name",
			  "a token name has 1 to %d letters, digits and ._-@", STORE_TOKEN_NAME_MAX);
		return;
	}
	body = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(body)) {
		json_decref(body);
		api_error(resp, 400, "InvalidJson", "", "the body is not a JSON object: %s", jerr.text);
		return;
	}
	role_name = json_string_value(json_object_get(body, "role"));
	tscope = json_string_value(json_object_get(body, "scope"));
	if (!role_name) {
		api_error(resp, 400, "MissingField", "role", "role is required (Owner, SecurityAdmin, JitRequester, ...)");
		goto out;
	}
	role = api_role_lookup(api, role_name);
	if (!role) {
		api_error(resp, 400, "InvalidRole", "role", "there is no role named '%.64s'", role_name);
		goto out;
	}
	if (json_object_get(body, "scope") && !json_is_string(json_object_get(body, "scope"))) {
		api_error(resp, 400, "InvalidScope", "scope", "the scope must be a string: '/' or a resource id under %s",
			  scope);
		goto out;
	}
	if (tscope && tscope[0] && arm_scope_validate(tscope, strlen(tscope), &err) < 0) {
		api_error_record(resp, 400, &err);
		goto out;
	}
	if (tscope && tscope[0] && strcmp(tscope, "/") &&
	    (strlen(tscope) > STORE_SCOPE_MAX || !rbac_scope_covers(scope, tscope))) {
		api_error(resp, 400, "InvalidScope", "scope", "the scope must be '/' or a resource id under %s", scope);
		goto out;
	}
	if (!token_within_caller(api, c, "create", name, role->name, role,
				 tscope && strcmp(tscope, "/") ? tscope : "", resp))
		goto out;
	memset(&t, 0, sizeof(t));
	snprintf(t.name, sizeof(t.name), "%s", name);
	snprintf(t.role, sizeof(t.role), "%s", role->name);
	snprintf(t.scope, sizeof(t.scope), "%s", tscope && strcmp(tscope, "/") ? tscope : "");
	t.created_ns = api_now_ns();
	if (api_token_generate(secret, sizeof(secret)) < 0 || api_token_hash(secret, strlen(secret), t.hash) < 0) {
		api_error(resp, 500, "InternalError", "", "cannot make a token");
		goto out;
	}
	r = store_token_insert(api->store, &t);
	if (r == -EEXIST) {
		api_error(resp, 409, "TokenExists", "name", "a token named '%s' exists already (names are never reused)",
			  name);
		goto out;
	}
	if (r < 0) {
		api_store_error(api, resp, r, "cannot store the token");
		goto out;
	}
	api_log(api, c, RBAC_TOKEN_WRITE, name, "Succeeded", NULL, "created token '%s' with role %s at scope %s", name,
		t.role, t.scope[0] ? t.scope : "/");
	out = token_json(&t);
	json_object_set_new(out, "token", json_string(secret));
	resp->secret = true;
	api_json(resp, 201, out);
out:
	explicit_bzero(secret, sizeof(secret));
	json_decref(body);
}

/* The live grants a token's holder asked for (requestor "token:NAME"). */
static int
token_live_grants(struct api *api, const char *name, int64_t now, struct store_grant **ret, size_t *ret_n)
{
	struct store_grant *g = NULL;
	char requestor[STORE_REQUESTOR_MAX + 1];
	size_t n = 0, i, k = 0;
	int r;

	snprintf(requestor, sizeof(requestor), "token:%s", name);
	if ((r = store_grants_initiated(api->store, &g, &n)) < 0)
		return r;
	for (i = 0; i < n; i++)
		if (g[i].end_ns > now && !strcmp(g[i].requestor, requestor))
			g[k++] = g[i];
	*ret = g;
	*ret_n = k;
	return 0;
}

/*
 * Revoking a token ends its holder's live grants (Revoked / TokenRevoked), unless the caller asks
 * to keep them (?keepGrants=true): a token that leaked must not leave ports open. Token and grants
 * are one transaction; if the store refuses it, the token stays valid (503) but its grants are
 * closed all the same (api-closing.c), since closing never waits on the disk.
 */
void
api_token_delete(struct api *api, const struct api_caller *c, const struct http_request *req, const char *name,
		 struct http_response *resp)
{
	const char *keep_q = http_request_query(req, "keepGrants");
	struct store_grant *g = NULL;
	struct store_token *tokens = NULL;
	struct core_error err = { 0 };
	struct fw_grant *drop = NULL;
	struct api_vm_memo memo = { 0 };
	char scope[ARM_ID_MAX + 1];
	struct store_token *t = NULL;
	uint8_t hash[STORE_TOKEN_HASH_LEN];
	size_t n = 0, n_tokens = 0, i;
	int64_t now = api_now_ns();
	bool keep, tx = false, allowed, durable = true;
	int r, status = 500;

	snprintf(scope, sizeof(scope), "/subscriptions/%s", api->settings.subscription);
	if (!api_require(api, c, RBAC_TOKEN_WRITE, scope, resp))
		return;
	if (keep_q && strcmp(keep_q, "true") && strcmp(keep_q, "false")) {
		api_error(resp, 400, "InvalidQueryParameter", "keepGrants",
			  "keepGrants is 'true' or 'false', not '%.16s'", keep_q);
		return;
	}
	keep = keep_q && !strcmp(keep_q, "true");
	if ((r = store_token_list(api->store, &tokens, &n_tokens)) < 0) {
		api_store_error(api, resp, r, "cannot read tokens");
		return;
	}
	for (i = 0; i < n_tokens && !t; i++)
		if (!strcmp(tokens[i].name, name) && !tokens[i].revoked_ns)
			t = &tokens[i];
	if (!t) {
		free(tokens);
		api_error(resp, 404, "ResourceNotFound", "", "there is no valid token named '%.64s'", name);
		return;
	}
	allowed = token_within_caller(api, c, "revoke", name, t->role, api_role_lookup(api, t->role), t->scope, resp);
	memcpy(hash, t->hash, sizeof(hash));
	free(tokens);	/* t pointed into it */
	if (!allowed)
		return;
	if (!keep && (r = token_live_grants(api, name, now, &g, &n)) < 0) {
		api_store_error(api, resp, r, "cannot read the token's grants");
		return;
	}
	if (n && !(drop = calloc(n, sizeof(*drop)))) {
		api_error(resp, 500, "InternalError", "", "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++)
		api_grant_to_fw(&g[i], &drop[i]);
	if ((r = store_begin(api->store)) < 0) {
		status = api_store_fail(api, r, &err, "cannot write");
		goto store_refused;
	}
	tx = true;
	if ((r = store_token_revoke(api->store, name, now)) < 0) {
		status = api_store_fail(api, r, &err, "cannot revoke");
		goto store_refused;
	}
	for (i = 0; i < n; i++) {
		if ((r = store_grant_end(api->store, g[i].request_id, g[i].vm_id, g[i].port, STORE_REASON_TOKEN_REVOKED,
					 now)) < 0) {
			status = api_store_fail(api, r, &err, "cannot end a grant");
			goto store_refused;
		}
		api_log(api, c, RBAC_POLICY_REVOKE, api_vm_text(api, &memo, g[i].vm_id), "Revoked", NULL,
			"closed port %u of request %s (by %s): its token was revoked", g[i].port, g[i].request_id,
			g[i].requestor);
	}
	api_log(api, c, RBAC_TOKEN_WRITE, name, "Revoked", NULL, "revoked token '%.64s'%s", name,
		keep ? "; its live grants were kept, as asked" : "");
	if (n && api->fw && (r = fw_grant_remove(api->fw, drop, n, NULL, &err)) < 0) {
		status = 500;
		store_rollback(api->store);
		tx = false;
		api_reconcile(api, NULL);
		api_error_record(resp, status, &err);
		goto out;
	}
	if ((r = store_commit(api->store)) < 0) {
		tx = false;
		status = api_store_fail(api, r, &err, "the store refused the revoke");
		goto store_refused;
	}
	tx = false;
	api_sessions_end_token(api, hash);
	api_json(resp, 200, json_pack("{s:s, s:s, s:i, s:b}", "name", name, "state", "Revoked", "revokedPorts",
				      (json_int_t)n, "keptGrants", keep));
	goto out;
store_refused:
	/* the token stays valid, but the ports it opened close all the same */
	if (tx) {
		store_rollback(api->store);
		tx = false;
	}
	if (n && api->fw) {
		char m[ERROR_MESSAGE_MAX];

		for (i = 0; i < n; i++)
			api_closing_add(api, c, &g[i], STORE_JOURNAL_END, STORE_REASON_TOKEN_REVOKED, now, &durable);
		api_reconcile(api, NULL);
		if (snprintf(m, sizeof(m), "%s; the token is still valid, but its %zu live grant(s) were closed in "
			     "the kernel all the same, and are recorded when the store accepts writes%s", err.message, n,
			     durable ? "" : " (not all fit the close journal: a restart before then opens those again)") > 0)
			snprintf(err.message, sizeof(err.message), "%s", m);
	}
	api_log(api, c, RBAC_TOKEN_WRITE, name, "Failed", NULL, "%s: %s", err.code, err.message);
	api_error_record(resp, status, &err);
out:
	if (tx)
		store_rollback(api->store);
	free(g);
	free(drop);
}

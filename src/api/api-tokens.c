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

	time_format_azure(t->created_ns, created, sizeof(created));
	o = json_pack("{s:s, s:s, s:s, s:s, s:s}", "name", t->name, "role", t->role, "scope", t->scope[0] ? t->scope : "/",
		      "createdUtc", created, "state", t->revoked_ns ? "Revoked" : "Valid");
	if (o && t->revoked_ns && time_format_azure(t->revoked_ns, revoked, sizeof(revoked)) > 0)
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

/* token_within_caller's refusal for a caller of one assignment (a token, root): what is beyond it. */
static void
token_refused_one(struct api *api, const struct api_caller *c, const char *verb, const char *name,
		  const char *role_name, const struct rbac_role *role, const char *tscope, struct http_response *resp)
{
	const struct rbac_assignment *a = &c->assign[0];
	size_t i;

	if (!rbac_role_within(role, a->role)) {
		for (i = 0; rbac_known_actions[i]; i++)
			if (rbac_role_allows(role, rbac_known_actions[i]) &&
			    !(a->role && rbac_role_allows(a->role, rbac_known_actions[i])))
				break;
		api_error(resp, 403, "AuthorizationFailed", "role",
			  "the client '%s' with role '%s' may not %s a token with role '%.64s': that role allows '%s', "
			  "which '%s' does not",
			  c->name, a->role ? a->role->name : "-", verb, role_name,
			  rbac_known_actions[i] ? rbac_known_actions[i] : "?", a->role ? a->role->name : "-");
		api_log(api, c, RBAC_TOKEN_WRITE, name, "Denied", NULL, "may not %s a token with role '%.64s'", verb,
			role_name);
		return;
	}
	api_error(resp, 403, "AuthorizationFailed", "scope",
		  "the client '%s' at scope '%s' may not %s a token at scope '%.300s', which is not inside its own",
		  c->name, a->scope[0] ? a->scope : "/", verb, tscope[0] ? tscope : "/");
	api_log(api, c, RBAC_TOKEN_WRITE, name, "Denied", NULL, "may not %s a token at scope '%.300s'", verb,
		tscope[0] ? tscope : "/");
}

/*
 * A caller may hand out (or take back) only what it holds itself: a token whose
 * role allows no action the caller's role does not, at a scope inside the
 * caller's, both by ONE of the caller's assignments (a person's two roles at two
 * scopes never add up to a third). Otherwise fill a 403 naming what is beyond
 * it, log it, return false. `role` may be NULL (a role no longer defined: it allows nothing).
 */
static bool
token_within_caller(struct api *api, const struct api_caller *c, const char *verb, const char *name,
		    const char *role_name, const struct rbac_role *role, const char *tscope, struct http_response *resp)
{
	char held[API_CALLER_TEXT_MAX];
	size_t k;

	for (k = 0; k < c->n_assign; k++)
		if (rbac_role_within(role, c->assign[k].role) && rbac_scope_covers(c->assign[k].scope, tscope))
			return true;
	if (c->n_assign == 1) {
		token_refused_one(api, c, verb, name, role_name, role, tscope, resp);
		return false;
	}
	api_caller_text(c, held, sizeof(held));
	api_error(resp, 403, "AuthorizationFailed", "role",
		  "the client '%s' with %s may not %s a token with role '%.64s' at scope '%.300s': none of its "
		  "assignments holds that role's actions at that scope",
		  c->name, held, verb, role_name, tscope[0] ? tscope : "/");
	api_log(api, c, RBAC_TOKEN_WRITE, name, "Denied", NULL, "may not %s a token with role '%.64s' at scope '%.300s'",
		verb, role_name, tscope[0] ? tscope : "/");
	return false;
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

int
api_token_ask_decode(const struct api *api, const char *body, size_t len, const char *sub_scope,
		     struct api_token_ask *ret, struct core_error *err)
{
	const struct rbac_role *role;
	const char *role_name, *tscope;
	json_error_t jerr;
	json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	int r = -EINVAL;

	if (!json_is_object(j)) {
		core_error_set(err, "InvalidJson", "", "the body is not a JSON object: %s", jerr.text);
		goto out;
	}
	role_name = json_string_value(json_object_get(j, "role"));
	tscope = json_string_value(json_object_get(j, "scope"));
	if (!role_name) {
		core_error_set(err, "MissingField", "role", "role is required (Owner, SecurityAdmin, JitRequester, ...)");
		goto out;
	}
	if (!(role = api_role_lookup(api, role_name))) {
		core_error_set(err, "InvalidRole", "role", "there is no role named '%.64s'", role_name);
		goto out;
	}
	if (json_object_get(j, "scope") && !json_is_string(json_object_get(j, "scope"))) {
		core_error_set(err, "InvalidScope", "scope", "the scope must be a string: '/' or a resource id under %s",
			       sub_scope);
		goto out;
	}
	if (tscope && tscope[0] && arm_scope_validate(tscope, strlen(tscope), err) < 0)
		goto out;
	if (tscope && tscope[0] && strcmp(tscope, "/") &&
	    (strlen(tscope) > STORE_SCOPE_MAX || !rbac_scope_covers(sub_scope, tscope))) {
		core_error_set(err, "InvalidScope", "scope", "the scope must be '/' or a resource id under %s", sub_scope);
		goto out;
	}
	ret->role = role;
	snprintf(ret->scope, sizeof(ret->scope), "%s", tscope && strcmp(tscope, "/") ? tscope : "");
	r = 0;
out:
	json_decref(j);
	return r;
}

void
api_token_put(struct api *api, const struct api_caller *c, const struct http_request *req, const char *name,
	      struct http_response *resp)
{
	char scope[ARM_ID_MAX + 1], secret[API_TOKEN_TEXT_MAX + 1] = "";
	struct core_error err = { 0 };
	struct api_token_ask ask;
	struct store_token t;
	json_t *out;
	int r;

	snprintf(scope, sizeof(scope), "/subscriptions/%s", api->settings.subscription);
	if (!api_require(api, c, RBAC_TOKEN_WRITE, scope, resp))
		return;
	if (!token_name_is_valid(name)) {
		api_error(resp, 400, "InvalidTokenName", "name",
			  "a token name has 1 to %d letters, digits and ._-@", STORE_TOKEN_NAME_MAX);
		return;
	}
	if (api_token_ask_decode(api, req->body, req->body_len, scope, &ask, &err) < 0) {
		api_error_record(resp, 400, &err);
		return;
	}
	if (!token_within_caller(api, c, "create", name, ask.role->name, ask.role, ask.scope, resp))
		return;
	memset(&t, 0, sizeof(t));
	snprintf(t.name, sizeof(t.name), "%s", name);
	snprintf(t.role, sizeof(t.role), "%s", ask.role->name);
	snprintf(t.scope, sizeof(t.scope), "%s", ask.scope);
	t.created_ns = time_now_ns();
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
}

/* The live grants a token's holder asked for (requestor "token:NAME"). */
static int
token_live_grants(struct api *api, const char *name, int64_t now, struct store_grant **ret, size_t *ret_n)
{
	struct store_grant *g = NULL;
	char requestor[STORE_REQUESTOR_MAX + 1];
	size_t n = 0, i, k = 0;
	int r;

	snprintf(requestor, sizeof(requestor), STORE_TOKEN_REQUESTOR "%s", name);
	if ((r = store_grants_initiated(api->store, &g, &n)) < 0)
		return r;
	for (i = 0; i < n; i++)
		if (g[i].end_ns > now && !strcmp(g[i].requestor, requestor))
			g[k++] = g[i];
	*ret = g;
	*ret_n = k;
	return 0;
}

/* A token revoke on its way from the request to the answer; each step fills what the next reads. */
struct token_revoke {
	const char *name;
	int64_t now;
	bool keep;			/* ?keepGrants=true: its live grants stay */
	struct store_token tok;		/* the token, as stored */
	struct store_grant *g;		/* its holder's live grants, to end */
	size_t n;
	struct fw_grant *drop;		/* the same, as the kernel sees them */
	bool tx;			/* a store transaction is open */
	enum api_fault fault;		/* where it stopped (api_fault_status) */
	struct core_error err;
};

int
api_token_keep_decode(const char *q, bool *ret, struct core_error *err)
{
	if (q && strcmp(q, "true") && strcmp(q, "false"))
		return core_error_set(err, "InvalidQueryParameter", "keepGrants",
				      "keepGrants is 'true' or 'false', not '%.16s'", q);
	*ret = q && !strcmp(q, "true");
	return 0;
}

/* Decode: the valid token of that name. */
static int
token_revoke_find(struct api *api, struct token_revoke *tr)
{
	struct store_token *tokens = NULL;
	size_t n = 0, i;
	int r;

	tr->fault = API_FAULT_STORE;
	if ((r = store_token_list(api->store, &tokens, &n)) < 0)
		return api_store_refused(api, r, &tr->err, "cannot read tokens");
	for (i = 0; i < n; i++)
		if (!strcmp(tokens[i].name, tr->name) && !tokens[i].revoked_ns)
			break;
	if (i < n)
		tr->tok = tokens[i];
	free(tokens);
	if (i == n) {
		tr->fault = API_FAULT_NOT_FOUND;
		return core_error_set(&tr->err, "ResourceNotFound", "", "there is no valid token named '%.64s'", tr->name);
	}
	return 0;
}

/* Plan: the live grants it ends (none when they are kept), in the store's form and the kernel's. */
static int
token_revoke_plan(struct api *api, struct token_revoke *tr)
{
	size_t i;
	int r;

	tr->fault = API_FAULT_STORE;
	if (!tr->keep && (r = token_live_grants(api, tr->name, tr->now, &tr->g, &tr->n)) < 0)
		return api_store_refused(api, r, &tr->err, "cannot read the token's grants");
	tr->fault = API_FAULT_INTERNAL;
	if (tr->n && !(tr->drop = calloc(tr->n, sizeof(*tr->drop))))
		return core_error_set(&tr->err, "InternalError", "", "out of memory"), -ENOMEM;
	for (i = 0; i < tr->n; i++)
		api_grant_to_fw(&tr->g[i], &tr->drop[i]);
	return 0;
}

/* Apply: in one store transaction the token and its grants, their activity entries, then the kernel. */
static int
token_revoke_apply(struct api *api, const struct api_caller *c, struct token_revoke *tr)
{
	struct api_vm_memo memo = { 0 };
	const struct store_grant *g = tr->g;
	size_t i;
	int r;

	tr->fault = API_FAULT_STORE;
	if ((r = store_begin(api->store)) < 0)
		return api_store_refused(api, r, &tr->err, "cannot write");
	tr->tx = true;
	if ((r = store_token_revoke(api->store, tr->name, tr->now)) < 0)
		return api_store_refused(api, r, &tr->err, "cannot revoke");
	for (i = 0; i < tr->n; i++) {
		if ((r = store_grant_end(api->store, g[i].request_id, g[i].vm_id, g[i].port, STORE_REASON_TOKEN_REVOKED,
					 tr->now)) < 0)
			return api_store_refused(api, r, &tr->err, "cannot end a grant");
		api_log(api, c, RBAC_POLICY_REVOKE, api_vm_text(api, &memo, g[i].vm_id), "Revoked", NULL,
			"closed port %u of request %s (by %s): its token was revoked", g[i].port, g[i].request_id,
			g[i].requestor);
	}
	api_log(api, c, RBAC_TOKEN_WRITE, tr->name, "Revoked", NULL, "revoked token '%.64s'%s", tr->name,
		tr->keep ? "; its live grants were kept, as asked" : "");
	api_kernel_start(api);
	if (tr->n && api->fw && (r = api_kernel_timed(api, fw_grant_remove(api->fw, tr->drop, tr->n, NULL, &tr->err))) < 0) {
		tr->fault = API_FAULT_INTERNAL;
		return r;
	}
	r = store_commit(api->store);
	tr->tx = false;
	if (r < 0)
		return api_store_refused(api, r, &tr->err, "the store refused the revoke");
	return 0;
}

/* Undo what a failed revoke began, log it and answer. */
static void
token_revoke_fail(struct api *api, const struct api_caller *c, struct token_revoke *tr, int r,
		  struct http_response *resp)
{
	bool durable = true;
	size_t i;

	if (tr->fault == API_FAULT_INTERNAL && tr->tx) {
		/* the kernel refused: nothing of the revoke is kept */
		store_rollback(api->store);
		tr->tx = false;
		api_reconcile(api, NULL);
		api_error_record(resp, api_fault_status(tr->fault, r), &tr->err);
		return;
	}
	/* the token stays valid, but the ports it opened close all the same */
	if (tr->tx) {
		store_rollback(api->store);
		tr->tx = false;
	}
	if (tr->n && api->fw) {
		char m[ERROR_MESSAGE_MAX];

		for (i = 0; i < tr->n; i++)
			api_closing_add(api, c, &tr->g[i], STORE_JOURNAL_END, STORE_REASON_TOKEN_REVOKED, tr->now, &durable);
		api_reconcile(api, NULL);
		if (snprintf(m, sizeof(m), "%s; the token is still valid, but its %zu live grant(s) were closed in "
			     "the kernel all the same, and are recorded when the store accepts writes%s", tr->err.message,
			     tr->n, durable ? "" : " (not all fit the close journal: a restart before then opens those again)") > 0)
			snprintf(tr->err.message, sizeof(tr->err.message), "%s", m);
	}
	api_log(api, c, RBAC_TOKEN_WRITE, tr->name, "Failed", NULL, "%s: %s", tr->err.code, tr->err.message);
	api_error_record(resp, api_fault_status(tr->fault, r), &tr->err);
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
	struct token_revoke tr = { .name = name, .now = time_now_ns() };
	char scope[ARM_ID_MAX + 1];
	int r;

	snprintf(scope, sizeof(scope), "/subscriptions/%s", api->settings.subscription);
	if (!api_require(api, c, RBAC_TOKEN_WRITE, scope, resp))
		return;
	tr.fault = API_FAULT_REQUEST;
	if ((r = api_token_keep_decode(http_request_query(req, "keepGrants"), &tr.keep, &tr.err)) < 0 ||
	    (r = token_revoke_find(api, &tr)) < 0) {
		api_error_record(resp, api_fault_status(tr.fault, r), &tr.err);
		return;
	}
	if (!token_within_caller(api, c, "revoke", name, tr.tok.role, api_role_lookup(api, tr.tok.role), tr.tok.scope,
				 resp))
		goto out;
	if ((r = token_revoke_plan(api, &tr)) < 0) {
		api_error_record(resp, api_fault_status(tr.fault, r), &tr.err);
		goto out;
	}
	if ((r = token_revoke_apply(api, c, &tr)) < 0) {
		token_revoke_fail(api, c, &tr, r, resp);
		goto out;
	}
	api_sessions_end_token(api, tr.tok.hash);
	api_json(resp, 200, json_pack("{s:s, s:s, s:i, s:b}", "name", name, "state", "Revoked", "revokedPorts",
				      (json_int_t)tr.n, "keptGrants", tr.keep));
out:
	explicit_bzero(tr.tok.hash, sizeof(tr.tok.hash));
	free(tr.g);
	free(tr.drop);
}

/* The API's front door: routes ARM paths, checks api-version, authenticates, and hands over to one file per resource. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/api-internal.h"
#include "api/api-limits.h"
#include "api/api-ratelimit.h"
#include "codec/codec.h"
#include "core/timeutil.h"

#define PATH_SEGMENTS_MAX 16

static bool method_is(const struct http_request *req, const char *m);
static void method_not_allowed(struct http_response *resp, const struct http_request *req);

/* The portal's own files; "/" is index.html. Security headers keep the page from being framed or fed foreign scripts. */
static bool
serve_web(const struct http_request *req, struct http_response *resp)
{
	const char *path = !strcmp(req->path, "/") ? "/index.html" : req->path;
	size_t i;

	for (i = 0; i < web_assets_count; i++) {
		if (strcmp(web_assets[i].path, path))
			continue;
		if (!method_is(req, "GET")) {
			method_not_allowed(resp, req);
			return true;
		}
		resp->body = malloc(web_assets[i].len ? web_assets[i].len : 1);
		if (!resp->body) {
			resp->status = 500;
			return true;
		}
		memcpy(resp->body, web_assets[i].data, web_assets[i].len);
		resp->body_len = web_assets[i].len;
		resp->content_type = web_assets[i].content_type;
		resp->status = 200;
		http_response_header(resp, "Content-Security-Policy",
				     "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
				     "frame-ancestors 'none'; base-uri 'none'; form-action 'self'");
		http_response_header(resp, "X-Content-Type-Options", "nosniff");
		http_response_header(resp, "Referrer-Policy", "no-referrer");
		http_response_header(resp, "Cache-Control", "no-cache");
		return true;
	}
	return false;
}

/* Split a path into at most PATH_SEGMENTS_MAX segments (in place, in a copy). */
static size_t
split_path(char *copy, char **seg)
{
	size_t n = 0;
	char *p = copy, *save = NULL, *t;

	for (t = strtok_r(p, "/", &save); t && n < PATH_SEGMENTS_MAX; t = strtok_r(NULL, "/", &save))
		seg[n++] = t;
	return t ? PATH_SEGMENTS_MAX + 1 : n;
}

static bool
api_version_ok(const struct http_request *req, struct http_response *resp)
{
	const char *v = http_request_query(req, "api-version");

	if (!v) {
		api_error(resp, 400, "MissingApiVersionParameter", "api-version",
			  "the api-version query parameter (?api-version=) is required for all requests");
		return false;
	}
	if (strcmp(v, API_VERSION_CURRENT) && strcmp(v, API_VERSION_PREVIEW)) {
		api_error(resp, 400, "InvalidApiVersionParameter", "api-version",
			  "the api-version '%.40s' is invalid; the supported versions are '%s', '%s'", v,
			  API_VERSION_CURRENT, API_VERSION_PREVIEW);
		return false;
	}
	return true;
}

static bool
method_is(const struct http_request *req, const char *m)
{
	return !strcmp(req->method, m);
}

static void
method_not_allowed(struct http_response *resp, const struct http_request *req)
{
	api_error(resp, 405, "MethodNotAllowed", "", "%s is not allowed on %.200s", req->method, req->path);
}

static void
handle_whoami(struct api *api, const struct api_caller *c, struct http_response *resp)
{
	const struct rbac_assignment *a = &c->assign[0];
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s}", "name", c->name, "role", a->role ? a->role->name : "",
			      "scope", a->scope[0] ? a->scope : "/", "address", c->addr_text, "subscriptionId",
			      api->settings.subscription);

	/* a person signed in by single sign-on may hold several; role and scope above are the first */
	if (o && c->subject[0])
		json_object_set_new(o, "assignments", api_caller_assignments(c));

	api_json(resp, 200, o);
}

/* Fill a policy id from captured segments; a bad name is a 400 with the validator's code. */
static bool
policy_id_from(const char *sub, const char *rg, const char *loc, const char *name, struct arm_policy_id *id,
	       struct http_response *resp)
{
	struct core_error err = { 0 };
	char text[ARM_ID_MAX + 1];
	int n = snprintf(text, sizeof(text),
			 "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Security/locations/%s/"
			 "jitNetworkAccessPolicies/%s",
			 sub, rg, loc, name);

	if (n < 0 || (size_t)n >= sizeof(text) || arm_policy_id_parse(text, (size_t)n, id, &err) < 0) {
		if (!err.code[0])
			core_error_set(&err, "InvalidResourceId", "", "the resource id is too long");
		api_error_record(resp, 400, &err);
		return false;
	}
	return true;
}

static bool
vm_id_from(const char *sub, const char *rg, const char *name, struct arm_vm_id *id, struct http_response *resp)
{
	struct core_error err = { 0 };
	char text[ARM_ID_MAX + 1];
	int n = snprintf(text, sizeof(text), "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Compute/virtualMachines/%s",
			 sub, rg, name);

	if (n < 0 || (size_t)n >= sizeof(text) || arm_vm_id_parse(text, (size_t)n, id, &err) < 0) {
		if (!err.code[0])
			core_error_set(&err, "InvalidResourceId", "", "the resource id is too long");
		api_error_record(resp, 400, &err);
		return false;
	}
	return true;
}

/* What a route's pattern captured ({sub}, {rg}, {loc}, {name}, {action}); NULL where it has none. */
struct route_args {
	const char *sub, *rg, *loc, *name, *action;
};

/* What a route's handler takes besides the request: the captures, checked and parsed as this says. */
enum route_kind {
	ROUTE_LIST,		/* a list narrowed by {rg} and {loc} */
	ROUTE_POLICY,		/* the policy {sub} {rg} {loc} {name}; a bad name is a 400 before the method is checked */
	ROUTE_VM,		/* the VM {sub} {rg} {name}; likewise */
	ROUTE_NAMED,		/* {name} as it is (a token: its handler checks the name) */
	ROUTE_PLAIN,		/* nothing */
};

struct route {
	const char *method;
	/*
	 * Segments after the leading '/', compared without case; "{x}" captures the request's
	 * segment as x. Routes with one pattern stand together: the first whose pattern matches
	 * the path picks them, and a method none of them has is a 405.
	 */
	const char *pattern;
	const char *action;	/* non-NULL: {action} must be this (without case), else 404 */
	enum route_kind kind;
	union {
		void (*list)(struct api *, const struct api_caller *, const struct http_request *,
			     const struct api_list_scope *, struct http_response *);
		void (*policy)(struct api *, const struct api_caller *, const struct http_request *,
			       const struct arm_policy_id *, struct http_response *);
		void (*vm)(struct api *, const struct api_caller *, const struct http_request *, const struct arm_vm_id *,
			   struct http_response *);
		void (*named)(struct api *, const struct api_caller *, const struct http_request *, const char *,
			      struct http_response *);
		void (*plain)(struct api *, const struct api_caller *, const struct http_request *,
			      struct http_response *);
	} fn;
};

#define SECURITY	"subscriptions/{sub}/providers/Microsoft.Security"
#define SECURITY_RG	"subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Security"
#define POLICY		SECURITY_RG "/locations/{loc}/jitNetworkAccessPolicies/{name}"
#define COMPUTE		"subscriptions/{sub}/providers/Microsoft.Compute"
#define COMPUTE_RG	"subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Compute"
#define JITGATE		"subscriptions/{sub}/providers/Jitgate"
#define JITGATE_RG	"subscriptions/{sub}/resourceGroups/{rg}/providers/Jitgate"

/* The API below /subscriptions, one operation a line (DESIGN.md's table, plus VMs, tokens, join tokens and the activity log). */
static const struct route routes[] = {
	{ "GET", SECURITY "/jitNetworkAccessPolicies", NULL, ROUTE_LIST, .fn.list = api_policies_list },
	{ "GET", SECURITY "/locations/{loc}/jitNetworkAccessPolicies", NULL, ROUTE_LIST, .fn.list = api_policies_list },
	{ "GET", SECURITY_RG "/jitNetworkAccessPolicies", NULL, ROUTE_LIST, .fn.list = api_policies_list },
	{ "GET", SECURITY_RG "/locations/{loc}/jitNetworkAccessPolicies", NULL, ROUTE_LIST, .fn.list = api_policies_list },
	{ "GET", POLICY, NULL, ROUTE_POLICY, .fn.policy = api_policy_get },
	{ "PUT", POLICY, NULL, ROUTE_POLICY, .fn.policy = api_policy_put },
	{ "DELETE", POLICY, NULL, ROUTE_POLICY, .fn.policy = api_policy_delete },
	{ "POST", POLICY "/{action}", "initiate", ROUTE_POLICY, .fn.policy = api_policy_initiate },
	{ "POST", POLICY "/{action}", "revoke", ROUTE_POLICY, .fn.policy = api_policy_revoke },
	{ "POST", POLICY "/{action}", "approve", ROUTE_POLICY, .fn.policy = api_policy_approve },
	{ "POST", POLICY "/{action}", "deny", ROUTE_POLICY, .fn.policy = api_policy_deny },
	{ "POST", POLICY "/{action}", "extend", ROUTE_POLICY, .fn.policy = api_policy_extend },
	{ "GET", COMPUTE "/virtualMachines", NULL, ROUTE_LIST, .fn.list = api_vms_list },
	{ "GET", COMPUTE_RG "/virtualMachines", NULL, ROUTE_LIST, .fn.list = api_vms_list },
	{ "GET", COMPUTE_RG "/virtualMachines/{name}", NULL, ROUTE_VM, .fn.vm = api_vm_get },
	{ "PUT", COMPUTE_RG "/virtualMachines/{name}", NULL, ROUTE_VM, .fn.vm = api_vm_put },
	{ "DELETE", COMPUTE_RG "/virtualMachines/{name}", NULL, ROUTE_VM, .fn.vm = api_vm_delete },
	{ "GET", JITGATE "/tokens", NULL, ROUTE_PLAIN, .fn.plain = api_tokens_list },
	{ "GET", JITGATE "/webhooks", NULL, ROUTE_PLAIN, .fn.plain = api_webhooks_list },
	{ "PUT", JITGATE "/tokens/{name}", NULL, ROUTE_NAMED, .fn.named = api_token_put },
	{ "DELETE", JITGATE "/tokens/{name}", NULL, ROUTE_NAMED, .fn.named = api_token_delete },
	{ "DELETE", JITGATE "/ssoSessions/{name}", NULL, ROUTE_NAMED, .fn.named = api_oidc_sessions_end },
	{ "GET", JITGATE "/joinTokens", NULL, ROUTE_PLAIN, .fn.plain = api_join_tokens_list },
	{ "POST", JITGATE "/joinTokens", NULL, ROUTE_PLAIN, .fn.plain = api_join_token_create },
	{ "DELETE", JITGATE "/joinTokens/{name}", NULL, ROUTE_NAMED, .fn.named = api_join_token_delete },
	{ "GET", JITGATE "/agents", NULL, ROUTE_PLAIN, .fn.plain = api_agents_list },
	{ "GET", JITGATE "/approvals", NULL, ROUTE_PLAIN, .fn.plain = api_approvals_list },
	{ "DELETE", JITGATE_RG "/agents/{name}", NULL, ROUTE_VM, .fn.vm = api_agent_revoke },
	{ "GET", JITGATE "/exposedManagementPorts", NULL, ROUTE_LIST, .fn.list = api_exposed_list },
	{ "GET", JITGATE_RG "/exposedManagementPorts", NULL, ROUTE_LIST, .fn.list = api_exposed_list },
	{ "GET", SECURITY "/jitActivityLog", NULL, ROUTE_PLAIN, .fn.plain = api_activity_get },
};

_Static_assert(sizeof(routes) / sizeof(routes[0]) <= API_METRICS_ROUTES_MAX, "api-metrics.h counts these routes");

/* Route i's name for /metrics: "METHOD /pattern", the action named where the pattern ends in "{action}". */
static void
route_name(size_t i, char *buf, size_t size)
{
	const struct route *r = &routes[i];

	if (r->action)	/* "{action}" closes the pattern: name the action itself */
		snprintf(buf, size, "%s /%.*s%s", r->method, (int)(strlen(r->pattern) - strlen("{action}")), r->pattern,
			 r->action);
	else
		snprintf(buf, size, "%s /%s", r->method, r->pattern);
}

/*
 * Does the path's seg[0..n) match the pattern? Fills *a from its captures. The pattern is
 * walked where it stands (never copied or split), its literals compared without case.
 */
static bool
route_match(const char *pattern, char **seg, size_t n, struct route_args *a)
{
	static const struct {
		const char *name;
		size_t offset;
	} captures[] = {
		{ "{sub}", offsetof(struct route_args, sub) }, { "{rg}", offsetof(struct route_args, rg) },
		{ "{loc}", offsetof(struct route_args, loc) }, { "{name}", offsetof(struct route_args, name) },
		{ "{action}", offsetof(struct route_args, action) },
	};
	const char *p = pattern, *e;
	size_t i, k, len;

	memset(a, 0, sizeof(*a));
	for (i = 0; i < n; i++, p = *e ? e + 1 : e) {
		if (!*p)
			return false;
		e = strchrnul(p, '/');
		len = (size_t)(e - p);
		if (*p != '{') {
			if (strlen(seg[i]) != len || strncasecmp(p, seg[i], len))
				return false;
			continue;
		}
		for (k = 0; k < sizeof(captures) / sizeof(captures[0]); k++)
			if (strlen(captures[k].name) == len && !memcmp(captures[k].name, p, len))
				*(const char **)((char *)a + captures[k].offset) = seg[i];
	}
	return !*p;
}

/* The request below /subscriptions/{sub} (the subscription not checked yet), by the table above. */
static void
route(struct api *api, const struct http_request *req, struct api_caller *c, char **seg, size_t n,
      struct http_response *resp)
{
	const struct route *r, *end = routes + sizeof(routes) / sizeof(routes[0]), *first;
	struct route_args a;
	struct api_list_scope ls;
	struct arm_policy_id pid;
	struct arm_vm_id vid;
	bool allowed = false;

	if (!arm_name_equal(seg[1], api->settings.subscription)) {
		api_error(resp, 404, "SubscriptionNotFound", "", "the subscription '%.40s' could not be found", seg[1]);
		return;
	}
	for (first = routes; first < end && !route_match(first->pattern, seg, n, &a); first++)
		;
	if (first == end)
		goto not_found;
	if (first->kind == ROUTE_POLICY && !policy_id_from(a.sub, a.rg, a.loc, a.name, &pid, resp))
		return;
	if (first->kind == ROUTE_VM && !vm_id_from(a.sub, a.rg, a.name, &vid, resp))
		return;
	for (r = first; r < end && !strcmp(r->pattern, first->pattern); r++) {
		if (!method_is(req, r->method))
			continue;
		allowed = true;
		if (!r->action || !strcasecmp(r->action, a.action))
			break;
	}
	if (!allowed) {
		method_not_allowed(resp, req);
		return;
	}
	/* a POST under a policy that is neither initiate nor revoke names no operation */
	if (r == end || strcmp(r->pattern, first->pattern))
		goto not_found;
	api->metrics.op = (int)(r - routes);
	switch (r->kind) {
	case ROUTE_LIST:
		ls.resource_group = a.rg;
		ls.location = a.loc;
		r->fn.list(api, c, req, &ls, resp);
		break;
	case ROUTE_POLICY:
		r->fn.policy(api, c, req, &pid, resp);
		break;
	case ROUTE_VM:
		r->fn.vm(api, c, req, &vid, resp);
		break;
	case ROUTE_NAMED:
		r->fn.named(api, c, req, a.name, resp);
		break;
	case ROUTE_PLAIN:
		r->fn.plain(api, c, req, resp);
		break;
	}
	return;
not_found:
	api_error(resp, 404, "NotFound", "", "there is no resource or operation at %s %.200s", req->method, req->path);
}

/* Does this look like an initiate (POST .../initiate)? A wrong guess only delays a commit or makes it early. */
static bool
is_initiate(const struct http_request *req)
{
	size_t n = strlen(req->path), k = sizeof("/initiate") - 1;

	return method_is(req, "POST") && n >= k && !strcasecmp(req->path + n - k, "/initiate");
}

/* Every answer's correlation headers (its id also goes into each activity entry), and who is asking from where. */
static void
request_start(struct api *api, const struct http_request *req, struct api_caller *c, struct http_response *resp)
{
	const char *client_id = http_request_header(req, "x-ms-client-request-id");

	memset(c, 0, sizeof(*c));
	api->request_seq++;
	snprintf(c->correlation_id, sizeof(c->correlation_id), "%016llx-%08llx", (unsigned long long)time_now_ns(),
		 (unsigned long long)api->request_seq);
	http_response_header(resp, "x-ms-correlation-request-id", c->correlation_id);
	http_response_header(resp, "x-ms-request-id", c->correlation_id);
	if (client_id && strlen(client_id) < 128)
		http_response_header(resp, "x-ms-client-request-id", client_id);
	api_caller_address(api, req, c);
}

/* A request no path takes: a control character in its path, or a body that is not JSON. True when resp says so. */
static bool
request_is_malformed(const struct http_request *req, struct http_response *resp)
{
	const char *ct = http_request_header(req, "Content-Type");
	char q[ERROR_QUOTE_SIZE];
	size_t n;

	/* (http-server.c refuses them in the raw target; this also covers a control character it let through) */
	for (n = 0; req->path[n]; n++)
		if ((unsigned char)req->path[n] < 0x20 || req->path[n] == 0x7f) {
			api_error(resp, 400, "InvalidRequestTarget", "",
				  "the path holds a control character (%%00-%%1F or %%7F)");
			return true;
		}
	if (req->body_len == 0 || method_is(req, "GET") || method_is(req, "HEAD") || http_media_type_is_json(ct))
		return false;
	if (!ct)
		api_error(resp, 415, "UnsupportedMediaType", "Content-Type",
			  "a request body must be JSON, sent with 'Content-Type: application/json'");
	else
		api_error(resp, 415, "UnsupportedMediaType", "Content-Type",
			  "a request body must be JSON, sent with 'Content-Type: application/json', not '%s'",
			  core_error_quote(ct, strlen(ct), q, sizeof(q)));
	return true;
}

/* GET /healthz: 200 once the kernel firewall is usable and jitgated has started. */
static void
handle_healthz(struct api *api, const struct http_request *req, struct http_response *resp)
{
	if (!method_is(req, "GET"))
		method_not_allowed(resp, req);
	else if (!api->fw && !api->agents_only)	/* agents only: no kernel table here, by design */
		api_error(resp, 503, FW_ERR_UNAVAILABLE, "", "the kernel firewall is not usable: %s", api->fw_reason);
	else if (!api->ready)
		api_error(resp, 503, "NotReady", "", "jitgated is starting");
	else
		api_json(resp, 200, json_pack("{s:s}", "status", "ok"));
}

/* /session: the portal signs in (POST), asks who it is (GET) and signs out (DELETE). */
static void
handle_session(struct api *api, struct api_caller *c, const struct http_request *req, struct http_response *resp)
{
	if (method_is(req, "POST"))
		api_session_create(api, c, req, resp);
	else if (method_is(req, "GET"))
		api_session_get(api, c, req, resp);
	else if (method_is(req, "DELETE"))
		api_session_delete(api, c, req, resp);
	else
		method_not_allowed(resp, req);
}

/* Below the front door: /whoami and the ARM paths under /subscriptions, each after authentication. */
static void
handle_authenticated(struct api *api, struct api_caller *c, const struct http_request *req,
		     struct http_response *resp)
{
	char copy[API_PATH_MAX + 1], *seg[PATH_SEGMENTS_MAX];
	size_t n;

	snprintf(copy, sizeof(copy), "%s", req->path);
	n = split_path(copy, seg);
	if (!strcmp(req->path, "/whoami") || (n == 2 && !strcasecmp(seg[0], "providers") && !strcasecmp(seg[1], "whoami"))) {
		api->metrics.op = API_OP_WHOAMI;
		if (api_authenticate(api, req, c, resp) < 0)
			return;
		resp->authenticated = true;
		handle_whoami(api, c, resp);
		return;
	}
	if (!strcmp(req->path, "/metrics")) {
		api->metrics.op = API_OP_METRICS;
		if (api_authenticate(api, req, c, resp) < 0)
			return;
		resp->authenticated = true;
		api_metrics_get(api, c, req, resp);
		return;
	}
	if (n < 2 || n > PATH_SEGMENTS_MAX || strcasecmp(seg[0], "subscriptions")) {
		api_error(resp, 404, "NotFound", "", "there is no resource or operation at %s %.200s", req->method,
			  req->path);
		return;
	}
	if (!api_version_ok(req, resp))
		return;
	if (api_authenticate(api, req, c, resp) < 0)
		return;
	resp->authenticated = true;
	route(api, req, c, seg, n, resp);
}

/* Every request, by path: the fixed ones, the portal's files, the agent protocol, then the authenticated API. */
static void
dispatch(struct api *api, const struct http_request *req, struct http_response *resp)
{
	struct api_caller c;

	request_start(api, req, &c, resp);
	if (request_is_malformed(req, resp))
		return;
	if (!strcmp(req->path, "/healthz")) {
		api->metrics.op = API_OP_HEALTHZ;
		handle_healthz(api, req, resp);
		return;
	}
	if (!strcmp(req->path, "/session")) {
		api->metrics.op = API_OP_SESSION;
		handle_session(api, &c, req, resp);
		return;
	}
	if (!strncmp(req->path, "/oidc/", 6)) {
		api_oidc_handle(api, &c, req, resp);
		return;
	}
	if (serve_web(req, resp)) {
		api->metrics.op = API_OP_PORTAL;
		return;
	}
	if (strlen(req->path) > API_PATH_MAX) {
		api_error(resp, 414, "PathTooLong", "", "the path is longer than %d bytes", API_PATH_MAX);
		return;
	}
	if (!strncasecmp(req->path, API_AGENT_ROOT "/", strlen(API_AGENT_ROOT) + 1)) {
		api->metrics.op = API_OP_AGENT;
		api_agent_handle(api, &c, req, resp);
		return;
	}
	handle_authenticated(api, &c, req, resp);
}

void
api_handle(void *ctx, const struct http_request *req, struct http_response *resp)
{
	struct api *api = ctx;
	int64_t start;

	/* only initiates join an open group commit; anything else first makes it durable (not in its own time) */
	if (!is_initiate(req))
		api_batch_commit(api);
	start = time_mono_ns();
	api->metrics.op = API_OP_NOT_FOUND;
	dispatch(api, req, resp);
	/* a parked request is counted when a later call answers it */
	if (!resp->park)
		api_metrics_request(api, api->metrics.op, resp, time_mono_ns() - start);
}

struct api *
api_new(const struct api_settings *settings)
{
	struct api *api = calloc(1, sizeof(*api));
	size_t i;

	if (api) {
		api->settings = *settings;
		api_metrics_init(&api->metrics);
		for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
			route_name(i, api->metrics.op_names[i], sizeof(api->metrics.op_names[i]));
	}
	return api;
}

void
api_free(struct api *api)
{
	if (!api)
		return;
	api_caches_free(api);
	api_read_cache_free(api);
	api_metrics_free(&api->metrics);
	api_closing_free(api);
	api_watches_free(api);
	api_oidc_steps_free(api);
	api_oidc_free(api);
	free(api);
}

void
api_set_store(struct api *api, struct store *st)
{
	api->store = st;
}

void
api_set_fetcher(struct api *api, struct http_fetcher *fetcher, struct http_server *srv)
{
	api->fetcher = fetcher;
	api->srv = srv;
}

void
api_set_fw(struct api *api, struct fw *fw, const char *reason)
{
	api->fw = fw;
	snprintf(api->fw_reason, sizeof(api->fw_reason), "%s", fw || !reason ? "" : reason);
}

void
api_set_local_vm(struct api *api, int64_t id)
{
	api->local_vm_id = id;
}

void
api_set_ready(struct api *api, bool ready)
{
	api->ready = ready;
}

void
api_set_release(struct api *api, void (*fn)(void *ctx, const struct http_response *instead, size_t n), void *ctx)
{
	api->release_held = fn;
	api->release_ctx = ctx;
}

bool
api_boot_is_known(const struct api *api)
{
	return api->boot_id[0] != '\0';
}

int64_t
api_end_hint_take(struct api *api)
{
	int64_t hint = api->next_end_hint_ns;

	api->next_end_hint_ns = 0;
	return hint;
}

bool
api_state_loaded(const struct api *api)
{
	return api->state_loaded;
}

void
api_state_loaded_clear(struct api *api)
{
	api->state_loaded = false;
}

/* What the API's files share: clocks, error bodies, JSON responses, RBAC checks, the activity log, paging, failed sign-ins. */
#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "api/api-internal.h"
#include "api/api-ratelimit.h"
#include "codec/codec.h"
#include "core/timeutil.h"

const char *
api_vm_text(struct api *api, struct api_vm_memo *m, int64_t vm_id)
{
	struct store_vm vm;

	if (m->id != vm_id || vm_id == 0) {
		m->id = vm_id;
		m->text[0] = '\0';
		if (store_vm_get_by_id(api->store, vm_id, &vm) == 0)
			arm_vm_id_format(&vm.arm, m->text, sizeof(m->text));
	}
	return m->text;
}

int
api_store_status(int r)
{
	return r == -ENOSPC || r == -EROFS || r == -EBUSY ? 503 : 500;
}

int
api_fault_status(enum api_fault fault, int r)
{
	switch (fault) {
	case API_FAULT_REQUEST:
		return 400;
	case API_FAULT_FORBIDDEN:
		return 403;
	case API_FAULT_NOT_FOUND:
		return 404;
	case API_FAULT_CONFLICT:
		return 409;
	case API_FAULT_PRECONDITION:
		return 412;
	case API_FAULT_UNAVAILABLE:
		return 503;
	case API_FAULT_STORE:
		return api_store_status(r);
	case API_FAULT_INTERNAL:
		break;
	}
	return 500;
}

static void store_error_v(struct api *api, struct core_error *err, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

static void
store_error_v(struct api *api, struct core_error *err, const char *fmt, va_list ap)
{
	char what[ERROR_MESSAGE_MAX];

	vsnprintf(what, sizeof(what), fmt, ap);
	core_error_set(err, "StoreError", "", "%s: %s", what, store_last_error(api->store));
	api_metrics_store_error(api);
}

int
api_store_refused(struct api *api, int r, struct core_error *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	store_error_v(api, err, fmt, ap);
	va_end(ap);
	return r;
}

int
api_store_fail(struct api *api, int r, struct core_error *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	store_error_v(api, err, fmt, ap);
	va_end(ap);
	return api_store_status(r);
}

void
api_store_error(struct api *api, struct http_response *resp, int r, const char *fmt, ...)
{
	char what[ERROR_MESSAGE_MAX];
	struct core_error err;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	memset(&err, 0, sizeof(err));
	api_error_record(resp, api_store_fail(api, r, &err, "%s", what), &err);
}

void
api_json(struct http_response *resp, int status, json_t *body)
{
	size_t len = 0;
	char *text = body ? codec_dump(body, &len) : NULL;

	json_decref(body);
	if (body && !text) {
		resp->status = 500;
		return;
	}
	resp->status = status;
	resp->body = text;
	resp->body_len = len;
}

void
api_error_record(struct http_response *resp, int status, const struct core_error *err)
{
	if (status == 503 && !http_response_header_get(resp, "Retry-After"))
		http_response_header(resp, "Retry-After", API_UNAVAILABLE_RETRY_S);
	snprintf(resp->error_code, sizeof(resp->error_code), "%s", err->code);
	api_json(resp, status, codec_error_encode(err));
}

void
api_error(struct http_response *resp, int status, const char *code, const char *target, const char *fmt, ...)
{
	struct core_error err;
	va_list ap;

	memset(&err, 0, sizeof(err));
	snprintf(err.code, sizeof(err.code), "%s", code);
	snprintf(err.target, sizeof(err.target), "%s", target ? target : "");
	va_start(ap, fmt);
	vsnprintf(err.message, sizeof(err.message), fmt, ap);
	va_end(ap);
	api_error_record(resp, status, &err);
}

const struct rbac_role *
api_role_lookup(const struct api *api, const char *name)
{
	const struct rbac_role *r = rbac_role_builtin(name);
	size_t i;

	for (i = 0; !r && i < api->settings.n_custom_roles; i++)
		if (!strcasecmp(api->settings.custom_roles[i].name, name))
			r = &api->settings.custom_roles[i];
	return r;
}

bool
api_allowed(const struct api *api, const struct api_caller *caller, const char *action, const char *resource_id)
{
	(void)api;
	return rbac_any_allows(caller->assign, caller->n_assign, action, resource_id);
}

void
api_caller_from_session(const struct api *api, const struct api_session *s, struct api_caller *c)
{
	size_t i;

	snprintf(c->name, sizeof(c->name), "%s", s->person);
	snprintf(c->subject, sizeof(c->subject), "%s", s->subject);
	for (i = 0; i < s->n_assign && i < API_CALLER_ASSIGNMENTS_MAX; i++) {
		c->assign[i].role = api_role_lookup(api, s->assign[i].role);
		snprintf(c->assign[i].scope, sizeof(c->assign[i].scope), "%s", s->assign[i].scope);
	}
	c->n_assign = i;
}

void
api_caller_text(const struct api_caller *c, char *buf, size_t size)
{
	size_t i, at = 0;

	buf[0] = '\0';
	for (i = 0; i < c->n_assign && at < size; i++) {
		const struct rbac_assignment *a = &c->assign[i];
		int w = snprintf(buf + at, size - at, "%srole '%s' at scope '%s'", i ? " and " : "",
				 a->role ? a->role->name : "-", a->scope[0] ? a->scope : "/");

		at += w > 0 ? (size_t)w : 0;
	}
}

json_t *
api_caller_assignments(const struct api_caller *c)
{
	json_t *arr = json_array();
	size_t i;

	for (i = 0; arr && i < c->n_assign; i++)
		json_array_append_new(arr, json_pack("{s:s, s:s}", "role", c->assign[i].role ? c->assign[i].role->name : "",
						     "scope", c->assign[i].scope[0] ? c->assign[i].scope : "/"));
	return arr;
}

bool
api_require(struct api *api, const struct api_caller *caller, const char *action, const char *resource_id,
	    struct http_response *resp)
{
	char held[API_CALLER_TEXT_MAX];

	if (api_allowed(api, caller, action, resource_id))
		return true;
	api_caller_text(caller, held, sizeof(held));
	api_error(resp, 403, "AuthorizationFailed", "",
		  "the client '%s' with %s does not have authorization to perform action '%s' over scope '%s'",
		  caller->name, held, action, resource_id);
	api_log(api, caller, action, resource_id, "Denied", NULL, "AuthorizationFailed: the role lacks the action");
	return false;
}

void
api_log(struct api *api, const struct api_caller *caller, const char *operation, const char *resource_id,
	const char *status, const char *justification, const char *fmt, ...)
{
	struct store_activity a;
	va_list ap;

	memset(&a, 0, sizeof(a));
	a.time_ns = time_now_ns();
	if (caller) {
		snprintf(a.caller, sizeof(a.caller), "%s", caller->name);
		snprintf(a.caller_subject, sizeof(a.caller_subject), "%s", caller->subject);
		snprintf(a.caller_addr, sizeof(a.caller_addr), "%s", caller->addr_text);
		snprintf(a.correlation_id, sizeof(a.correlation_id), "%s", caller->correlation_id);
	} else {
		snprintf(a.caller, sizeof(a.caller), "jitgated");
	}
	snprintf(a.operation, sizeof(a.operation), "%s", operation);
	snprintf(a.resource_id, sizeof(a.resource_id), "%s", resource_id ? resource_id : "");
	snprintf(a.status, sizeof(a.status), "%s", status);
	snprintf(a.justification, sizeof(a.justification), "%s", justification ? justification : "");
	va_start(ap, fmt);
	vsnprintf(a.detail, sizeof(a.detail), fmt, ap);
	va_end(ap);
	if (store_activity_append(api->store, &a) < 0)
		api->log_failures++;
}

int
api_list_window(const struct http_request *req, size_t total, size_t *ret_from, size_t *ret_to,
		struct http_response *resp)
{
	const char *skip = http_request_query(req, "$skipToken");
	unsigned long v = 0;
	char *end;

	if (skip) {
		v = strtoul(skip, &end, 10);
		if (*end || end == skip || v > total) {
			api_error(resp, 400, "InvalidSkipToken", "$skipToken", "the $skipToken '%.20s' is not valid",
				  skip);
			return -EINVAL;
		}
	}
	*ret_from = v;
	*ret_to = v + API_PAGE_SIZE < total ? v + API_PAGE_SIZE : total;
	return 0;
}

/* A list's nextLink being built: its text so far, and whether something did not fit. */
struct next_link {
	char text[API_NEXT_LINK_MAX];
	size_t len;
	bool full;
};

static void
link_put(struct next_link *l, const char *s, bool encode)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s && !l->full; s++) {
		unsigned char ch = (unsigned char)*s;
		bool plain = !encode || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
			     strchr("-._~$", ch);

		if (l->len + (plain ? 1 : 3) >= sizeof(l->text)) {
			l->full = true;
			break;
		}
		if (plain) {
			l->text[l->len++] = (char)ch;
		} else {
			l->text[l->len++] = '%';
			l->text[l->len++] = hex[ch >> 4];
			l->text[l->len++] = hex[ch & 15];
		}
	}
	l->text[l->len] = '\0';
}

/* The request's other query arguments go into its nextLink: a filtered list's next page is of the same filter. */
static int
link_put_argument(void *ctx, const char *key, const char *value)
{
	struct next_link *l = ctx;

	if (!strcmp(key, "api-version") || !strcmp(key, "$skipToken"))
		return 0;
	link_put(l, "&", false);
	link_put(l, key, true);
	link_put(l, "=", false);
	link_put(l, value ? value : "", true);
	return 0;
}

void
api_list_respond_page(const struct http_request *req, json_t *page, size_t from, size_t total,
		      struct http_response *resp)
{
	const char *host = http_request_header(req, "Host");
	const char *version = http_request_query(req, "api-version");
	json_t *out = json_pack("{s:o}", "value", page);
	struct next_link *l;
	char skip[48];

	if (from + API_PAGE_SIZE < total && host) {
		if (!(l = calloc(1, sizeof(*l)))) {
			json_decref(out);
			api_error(resp, 500, "InternalError", "", "out of memory");
			return;
		}
		link_put(l, "https://", false);
		link_put(l, host, false);
		link_put(l, req->path, false);
		link_put(l, "?api-version=", false);
		link_put(l, version ? version : API_VERSION_CURRENT, true);
		http_request_query_each(req, link_put_argument, l);
		snprintf(skip, sizeof(skip), "&$skipToken=%zu", from + API_PAGE_SIZE);
		link_put(l, skip, false);
		if (l->full) {
			free(l);
			json_decref(out);
			api_error(resp, 414, "RequestUriTooLong", "", "the query is too long to page through (at most %d bytes)",
				  API_NEXT_LINK_MAX);
			return;
		}
		json_object_set_new(out, "nextLink", json_string(l->text));
		free(l);
	}
	api_json(resp, 200, out);
}

void
api_list_respond(const struct http_request *req, json_t *items, struct http_response *resp)
{
	size_t total = json_array_size(items), from, to, i;
	json_t *page;

	if (api_list_window(req, total, &from, &to, resp) < 0) {
		json_decref(items);
		return;
	}
	page = json_array();
	for (i = from; i < to; i++)
		json_array_append(page, json_array_get(items, i));
	json_decref(items);
	api_list_respond_page(req, page, from, total, resp);
}

bool
api_auth_failed(struct api *api, const struct api_caller *c, const char *operation, const char *path, bool counts,
		const char *what, struct http_response *resp)
{
	int64_t now = time_now_ns();
	bool first = false;
	uint32_t unrowed = 0;
	int retry = counts ? ratelimit_auth_failed(api_ratelimit_auth(), &c->limit_addr, now, &first) : 0;

	if (retry > 0) {	/* past the limit: 429, whatever the 401 would have said */
		char ra[16];

		free(resp->body);
		resp->body = NULL;
		snprintf(ra, sizeof(ra), "%d", retry);
		http_response_header(resp, "Retry-After", ra);
		api_error(resp, 429, "TooManyRequests", "",
			  "more than %d failed authentications from %s within %d s; retry after %d s",
			  RATELIMIT_AUTH_FAILURES, c->addr_text, RATELIMIT_AUTH_WINDOW_S, retry);
		if (first && ratelimit_log_take(api_ratelimit_log(), now) == RATELIMIT_ROW_WRITE)
			api_log(api, c, operation, path, "Throttled", NULL,
				"more than %d failed authentications within %d s; refused with 429 for %d s",
				RATELIMIT_AUTH_FAILURES, RATELIMIT_AUTH_WINDOW_S, retry);
	}
	switch (ratelimit_log_failure(api_ratelimit_log(), &c->limit_addr, now, &unrowed)) {
	case RATELIMIT_ROW_WRITE:
		api_log(api, c, operation, path, "Failed", NULL,
			"%s (one row per address per %d s: %u earlier failures from this address had none)", what,
			RATELIMIT_AUTH_WINDOW_S, unrowed);
		break;
	case RATELIMIT_ROW_CAPPED:
		api_log(api, NULL, operation, "", "Throttled", NULL,
			"more than %d failed authentications were logged within %d s; the rest are counted per address "
			"and each address's count is in its next row",
			RATELIMIT_LOG_ROWS, RATELIMIT_AUTH_WINDOW_S);
		break;
	case RATELIMIT_ROW_NONE:
		break;
	}
	return retry > 0;
}

int
api_vms_readable(struct api *api, const struct api_caller *c, const struct api_list_scope *ls,
		 struct store_vm **ret, size_t *ret_n)
{
	char id[ARM_ID_MAX + 1];
	struct store_vm *vms = NULL;
	size_t n = 0, kept = 0, i;
	int r;

	if ((r = store_vm_list(api->store, &vms, &n)) < 0)
		return r;
	for (i = 0; i < n; i++) {
		if (ls->resource_group && !arm_name_equal(ls->resource_group, vms[i].arm.resource_group))
			continue;
		arm_vm_id_format(&vms[i].arm, id, sizeof(id));
		if (api_allowed(api, c, RBAC_VM_READ, id))
			vms[kept++] = vms[i];
	}
	*ret = vms;
	*ret_n = kept;
	return 0;
}

/*
 * Is a one of this host's addresses now? The local VM's record holds those it had at start; this
 * also catches one added since. (getifaddrs: a route netlink socket, which the sandbox allows.)
 */
bool
api_host_has_address(const struct net_addr *a)
{
	struct ifaddrs *ifa = NULL, *i;
	struct net_addr h;
	bool yes = false;

	if (getifaddrs(&ifa) < 0)
		return false;
	for (i = ifa; i && !yes; i = i->ifa_next) {
		if (!i->ifa_addr)
			continue;
		memset(&h, 0, sizeof(h));
		if (i->ifa_addr->sa_family == AF_INET) {
			h.family = NET_INET;
			memcpy(h.bytes, &((const struct sockaddr_in *)(const void *)i->ifa_addr)->sin_addr, 4);
		} else if (i->ifa_addr->sa_family == AF_INET6) {
			h.family = NET_INET6;
			memcpy(h.bytes, &((const struct sockaddr_in6 *)(const void *)i->ifa_addr)->sin6_addr, 16);
		} else {
			continue;
		}
		yes = net_addr_equal(&h, a);
	}
	freeifaddrs(ifa);
	return yes;
}

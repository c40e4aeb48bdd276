/* What the API's files share: the clock, error bodies and JSON responses, RBAC checks, the activity log, paging. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "api/api-internal.h"
#include "codec/codec.h"

int64_t
api_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int
api_store_status(int r)
{
	return r == -ENOSPC || r == -EROFS || r == -EBUSY ? 503 : 500;
}

int
api_store_fail(struct api *api, int r, struct core_error *err, const char *fmt, ...)
{
	char what[ERROR_MESSAGE_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	core_error_set(err, "StoreError", "", "%s: %s", what, store_last_error(api->store));
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
	return caller->role && rbac_role_allows(caller->role, action) && rbac_scope_covers(caller->scope, resource_id);
}

bool
api_require(struct api *api, const struct api_caller *caller, const char *action, const char *resource_id,
	    struct http_response *resp)
{
	if (api_allowed(api, caller, action, resource_id))
		return true;
	api_error(resp, 403, "AuthorizationFailed", "",
		  "the client '%s' with role '%s' at scope '%s' does not have authorization to perform action '%s' "
		  "over scope '%s'",
		  caller->name, caller->role ? caller->role->name : "-", caller->scope[0] ? caller->scope : "/", action,
		  resource_id);
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
	a.time_ns = api_now_ns();
	if (caller) {
		snprintf(a.caller, sizeof(a.caller), "%s", caller->name);
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

void
api_list_respond(const struct http_request *req, json_t *items, struct http_response *resp)
{
	const char *skip = http_request_query(req, "$skipToken");
	const char *host = http_request_header(req, "Host");
	const char *version = http_request_query(req, "api-version");
	size_t total = json_array_size(items), from = 0, i;
	json_t *page = json_array(), *out;
	char *end;

	if (skip) {
		unsigned long v = strtoul(skip, &end, 10);

		if (*end || end == skip || v > total) {
			json_decref(items);
			json_decref(page);
			api_error(resp, 400, "InvalidSkipToken", "$skipToken", "the $skipToken '%.20s' is not valid",
				  skip);
			return;
		}
		from = v;
	}
	for (i = from; i < total && i < from + API_PAGE_SIZE; i++)
		json_array_append(page, json_array_get(items, i));
	out = json_pack("{s:o}", "value", page);
	if (from + API_PAGE_SIZE < total && host) {
		char link[2048];

		snprintf(link, sizeof(link), "https://%s%s?api-version=%s&$skipToken=%zu", host, req->path,
			 version ? version : API_VERSION_CURRENT, from + API_PAGE_SIZE);
		json_object_set_new(out, "nextLink", json_string(link));
	}
	json_decref(items);
	api_json(resp, 200, out);
}

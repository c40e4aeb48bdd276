/* The activity log (jitgate's extension): every action, filtered by VM, caller, operation and time, as JSON or CSV. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/api-internal.h"
#include "core/buf.h"
#include "core/duration.h"
#include "core/timeutil.h"

#define ACTIVITY_CSV_HEADER "time,caller,caller_address,operation,resource_id,status,detail,justification,correlation_id\r\n"

/* "2026-11-28T10:00:00Z" or a duration back from now ("PT1H", "P7D"). */
static int
parse_when(const char *s, int64_t now, int64_t *ret, struct core_error *err)
{
	int64_t ms;

	if ((s[0] == 'P' || s[0] == 'p') && duration_parse_iso8601(s, strlen(s), &ms, NULL) == 0) {
		*ret = now - ms * TIME_NS_PER_MS;
		return 0;
	}
	return time_parse_rfc3339(s, strlen(s), ret, err);
}

/* One CSV field, RFC 4180 quoted; cells that a spreadsheet would run as a formula get a leading apostrophe. */
static int
csv_field(struct buf *b, const char *s, bool last)
{
	int r = buf_append(b, "\"", 1);

	if (r == 0 && s[0] && strchr("=+-@\t\r", s[0]))
		r = buf_append(b, "'", 1);
	for (; r == 0 && *s; s++)
		r = *s == '"' ? buf_append(b, "\"\"", 2) : buf_append(b, s, 1);
	if (r == 0)
		r = buf_append(b, last ? "\"\r\n" : "\",", last ? 3 : 2);
	return r;
}

/*
 * Does this row belong in the answer? Inside the caller's scope, and for a VM
 * filter about that VM: a bare name matches the last segment of a VM id, a full
 * id matches itself and what lies below it, on whole path segments.
 */
static bool
row_selected(const struct api_caller *c, const struct store_activity *a, const char *sub_scope, const char *vm)
{
	const char *id = a->resource_id;
	size_t n;

	if (!rbac_scope_covers(c->scope, id[0] ? id : sub_scope))
		return false;
	if (!vm)
		return true;
	if (vm[0] == '/')
		return rbac_scope_covers(vm, id);
	n = strlen(vm);
	return strlen(id) > n + 17 && !strcasecmp(id + strlen(id) - n, vm) &&
	       !strncasecmp(id + strlen(id) - n - 17, "/virtualMachines/", 17);
}

void
api_activity_get(struct api *api, const struct api_caller *c, const struct http_request *req,
		 struct http_response *resp)
{
	struct store_activity_filter f;
	struct store_activity *rows = NULL;
	struct core_error err = { 0 };
	const char *vm = http_request_query(req, "vm"), *since = http_request_query(req, "since"),
		   *until = http_request_query(req, "until"), *top = http_request_query(req, "$top"),
		   *format = http_request_query(req, "format"), *accept = http_request_header(req, "Accept");
	char scope[ARM_ID_MAX + 1], prefix[ARM_ID_MAX + 1];
	int64_t now = api_now_ns();
	bool csv;
	size_t n = 0, i, want = STORE_QUERY_LIMIT_MAX, shown = 0;
	int r;

	memset(&f, 0, sizeof(f));
	snprintf(scope, sizeof(scope), "/subscriptions/%s", api->settings.subscription);
	if (vm) {
		/* a full VM id, or a bare VM name (any resource group) */
		if (vm[0] == '/')
			snprintf(prefix, sizeof(prefix), "%s", vm);
		else if (arm_vm_name_validate(vm, strlen(vm), &err) < 0) {
			api_error_record(resp, 400, &err);
			return;
		}
		f.resource_prefix = vm[0] == '/' ? prefix : NULL;
	}
	if (!c->role || !rbac_role_allows(c->role, RBAC_ACTIVITY_READ)) {
		api_require(api, c, RBAC_ACTIVITY_READ, vm && vm[0] == '/' ? vm : scope, resp);
		return;
	}
	if ((since && parse_when(since, now, &f.since_ns, &err) < 0) ||
	    (until && parse_when(until, now, &f.until_ns, &err) < 0)) {
		snprintf(err.target, sizeof(err.target), "%s", since && !f.since_ns ? "since" : "until");
		api_error_record(resp, 400, &err);
		return;
	}
	if (top) {
		char *end;
		unsigned long v = strtoul(top, &end, 10);

		if (*end || end == top || v == 0 || v > STORE_QUERY_LIMIT_MAX) {
			api_error(resp, 400, "InvalidTop", "$top", "$top must be 1 to %d", STORE_QUERY_LIMIT_MAX);
			return;
		}
		want = v;
	}
	/* the store can stop at $top only when every filter is its own; ours come after, so read up to the cap */
	if (!vm && !c->scope[0])
		f.limit = want;
	f.caller = http_request_query(req, "caller");
	f.operation = http_request_query(req, "operation");
	csv = (format && !strcasecmp(format, "csv")) || (accept && strstr(accept, "text/csv"));
	if ((r = store_activity_query(api->store, &f, &rows, &n)) < 0) {
		api_store_error(api, resp, r, "cannot read the log");
		return;
	}
	if (csv) {
		struct buf b = { 0 };

		r = buf_append(&b, ACTIVITY_CSV_HEADER, strlen(ACTIVITY_CSV_HEADER));
		for (i = 0; r == 0 && i < n; i++) {
			char t[64];

			if (!row_selected(c, &rows[i], scope, vm) || shown >= want)
				continue;
			shown++;
			time_format_rfc3339(rows[i].time_ns, t, sizeof(t));
			r = csv_field(&b, t, false);
			r = r ?: csv_field(&b, rows[i].caller, false);
			r = r ?: csv_field(&b, rows[i].caller_addr, false);
			r = r ?: csv_field(&b, rows[i].operation, false);
			r = r ?: csv_field(&b, rows[i].resource_id, false);
			r = r ?: csv_field(&b, rows[i].status, false);
			r = r ?: csv_field(&b, rows[i].detail, false);
			r = r ?: csv_field(&b, rows[i].justification, false);
			r = r ?: csv_field(&b, rows[i].correlation_id, true);
		}
		free(rows);
		if (r < 0) {
			buf_free(&b);
			api_error(resp, 500, "InternalError", "", "cannot build the CSV");
			return;
		}
		resp->status = 200;
		resp->body = b.data;
		resp->body_len = b.len;
		resp->content_type = "text/csv; charset=utf-8";
		http_response_header(resp, "Content-Disposition", "attachment; filename=\"jitgate-activity.csv\"");
		return;
	} else {
		json_t *arr = json_array();

		for (i = 0; i < n; i++) {
			char t[64];

			if (!row_selected(c, &rows[i], scope, vm) || shown >= want)
				continue;
			shown++;
			time_format_rfc3339(rows[i].time_ns, t, sizeof(t));
			json_array_append_new(arr, json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "id",
							     (json_int_t)rows[i].id, "timeUtc", t, "caller", rows[i].caller,
							     "callerAddress", rows[i].caller_addr, "operation",
							     rows[i].operation, "resourceId", rows[i].resource_id, "status",
							     rows[i].status, "detail", rows[i].detail, "justification",
							     rows[i].justification, "correlationId", rows[i].correlation_id));
		}
		free(rows);
		api_json(resp, 200, json_pack("{s:o}", "value", arr));
	}
}

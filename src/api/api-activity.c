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

	if (!rbac_any_allows(c->assign, c->n_assign, RBAC_ACTIVITY_READ, id[0] ? id : sub_scope))
		return false;
	if (!vm)
		return true;
	if (vm[0] == '/')
		return rbac_scope_covers(vm, id);
	n = strlen(vm);
	return strlen(id) > n + 17 && !strcasecmp(id + strlen(id) - n, vm) &&
	       !strncasecmp(id + strlen(id) - n - 17, "/virtualMachines/", 17);
}

int
api_activity_vm_decode(const char *vm, struct api_activity_query *q, struct core_error *err)
{
	memset(q, 0, sizeof(*q));
	q->want = STORE_QUERY_LIMIT_MAX;
	if (!vm)
		return 0;
	/* a full VM id, or a bare VM name (any resource group) */
	if (vm[0] != '/')
		return arm_vm_name_validate(vm, strlen(vm), err);
	snprintf(q->prefix, sizeof(q->prefix), "%s", vm);
	q->f.resource_prefix = q->prefix;
	return 0;
}

int
api_activity_query_decode(const struct api_activity_params *p, bool own_filters, int64_t now,
			  struct api_activity_query *q, struct core_error *err)
{
	if ((p->since && parse_when(p->since, now, &q->f.since_ns, err) < 0) ||
	    (p->until && parse_when(p->until, now, &q->f.until_ns, err) < 0)) {
		snprintf(err->target, sizeof(err->target), "%s", p->since && !q->f.since_ns ? "since" : "until");
		return -EINVAL;
	}
	if (p->top) {
		char *end;
		unsigned long v = strtoul(p->top, &end, 10);

		if (*end || end == p->top || v == 0 || v > STORE_QUERY_LIMIT_MAX)
			return core_error_set(err, "InvalidTop", "$top", "$top must be 1 to %d", STORE_QUERY_LIMIT_MAX);
		q->want = v;
	}
	/* the store can stop at $top only when every filter is its own; ours come after, so read up to the cap */
	if (own_filters)
		q->f.limit = q->want;
	q->f.caller = p->caller;
	q->f.operation = p->operation;
	q->csv = (p->format && !strcasecmp(p->format, "csv")) || (p->accept && strstr(p->accept, "text/csv"));
	return 0;
}

/* The rows the caller may see, at most `want`, as CSV. */
static void
activity_csv(const struct api_caller *c, const struct store_activity *rows, size_t n, const char *scope,
	     const char *vm, size_t want, struct http_response *resp)
{
	struct buf b = { 0 };
	size_t i, shown = 0;
	int r;

	r = buf_append(&b, ACTIVITY_CSV_HEADER, strlen(ACTIVITY_CSV_HEADER));
	for (i = 0; r == 0 && i < n; i++) {
		char t[64];

		if (!row_selected(c, &rows[i], scope, vm) || shown >= want)
			continue;
		shown++;
		time_format_azure(rows[i].time_ns, t, sizeof(t));
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
}

/* The rows the caller may see, at most `want`, as JSON. */
static void
activity_json(const struct api_caller *c, const struct store_activity *rows, size_t n, const char *scope,
	      const char *vm, size_t want, struct http_response *resp)
{
	json_t *arr = json_array();
	size_t i, shown = 0;

	for (i = 0; i < n; i++) {
		char t[64];

		if (!row_selected(c, &rows[i], scope, vm) || shown >= want)
			continue;
		shown++;
		time_format_azure(rows[i].time_ns, t, sizeof(t));
		json_array_append_new(arr, json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "id",
						     (json_int_t)rows[i].id, "timeUtc", t, "caller", rows[i].caller,
						     "callerAddress", rows[i].caller_addr, "operation", rows[i].operation,
						     "resourceId", rows[i].resource_id, "status", rows[i].status, "detail",
						     rows[i].detail, "justification", rows[i].justification,
						     "correlationId", rows[i].correlation_id));
	}
	api_json(resp, 200, json_pack("{s:o}", "value", arr));
}

void
api_activity_get(struct api *api, const struct api_caller *c, const struct http_request *req,
		 struct http_response *resp)
{
	const struct api_activity_params p = {
		.vm = http_request_query(req, "vm"),
		.since = http_request_query(req, "since"),
		.until = http_request_query(req, "until"),
		.top = http_request_query(req, "$top"),
		.format = http_request_query(req, "format"),
		.accept = http_request_header(req, "Accept"),
		.caller = http_request_query(req, "caller"),
		.operation = http_request_query(req, "operation"),
	};
	struct api_activity_query q;
	struct store_activity *rows = NULL;
	struct core_error err = { 0 };
	char scope[ARM_ID_MAX + 1];
	size_t n = 0;
	bool whole;
	int r;

	snprintf(scope, sizeof(scope), "/subscriptions/%s", api->settings.subscription);
	if (api_activity_vm_decode(p.vm, &q, &err) < 0) {
		api_error_record(resp, 400, &err);
		return;
	}
	if (!rbac_any_allows(c->assign, c->n_assign, RBAC_ACTIVITY_READ, NULL)) {
		api_require(api, c, RBAC_ACTIVITY_READ, p.vm && p.vm[0] == '/' ? p.vm : scope, resp);
		return;
	}
	/* "": one assignment reads the whole log, so the store's own filters are all */
	whole = rbac_any_allows(c->assign, c->n_assign, RBAC_ACTIVITY_READ, "");
	if (api_activity_query_decode(&p, !p.vm && whole, time_now_ns(), &q, &err) < 0) {
		api_error_record(resp, 400, &err);
		return;
	}
	if ((r = store_activity_query(api->store, &q.f, &rows, &n)) < 0) {
		api_store_error(api, resp, r, "cannot read the log");
		return;
	}
	if (q.csv)
		activity_csv(c, rows, n, scope, p.vm, q.want, resp);
	else
		activity_json(c, rows, n, scope, p.vm, q.want, resp);
	free(rows);
}

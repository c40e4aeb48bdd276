/* Ports that wait for approval: who may approve, initiate's asking, their lapse, and the list approvers read. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api-internal.h"
#include "core/duration.h"
#include "core/timeutil.h"

int64_t
api_approval_timeout_ns(const struct api *api)
{
	int64_t ms = api->settings.approval_timeout_ms ? api->settings.approval_timeout_ms : API_APPROVAL_TIMEOUT_MS;

	return ms * TIME_NS_PER_MS;
}

bool
api_approver_qualifies(const struct api *api, const struct api_caller *c, const struct policy_approval *a)
{
	const struct rbac_role *need = api_role_lookup(api, a->role);
	size_t i;

	/* a role no longer defined makes nobody an approver (rbac_role_within would let everyone be one) */
	for (i = 0; need && i < c->n_assign; i++)
		if (c->assign[i].role && rbac_role_within(need, c->assign[i].role) &&
		    rbac_scope_covers(c->assign[i].scope, a->scope))
			return true;
	return false;
}

int
api_policy_roles_check(const struct api *api, const struct policy *p, struct core_error *err)
{
	size_t i, j;

	for (i = 0; i < p->n_vms; i++)
		for (j = 0; j < p->vms[i].n_ports; j++) {
			const struct policy_approval *a = p->vms[i].ports[j].approval;
			char t[ERROR_TARGET_MAX];

			if (!a || api_role_lookup(api, a->role))
				continue;
			snprintf(t, sizeof(t), "properties.virtualMachines[%zu].ports[%zu].approval.approverRole", i, j);
			return core_error_set(err, "InvalidApproval", t, "there is no role '%s' (built-in or configured)",
					      a->role), -EINVAL;
		}
	return 0;
}

int
api_approval_split(struct api *api, struct store_grant *grants, size_t *n, int64_t now_ns,
		   struct store_pending **ret, size_t *ret_n, struct core_error *err)
{
	struct store_pending *pend;
	size_t i, k = 0, m = 0;

	*ret = NULL;
	*ret_n = 0;
	pend = calloc(*n ? *n : 1, sizeof(*pend));
	if (!pend)
		return core_error_set(err, "InternalError", "", "out of memory"), -ENOMEM;
	for (i = 0; i < *n; i++) {
		if (grants[i].status != STORE_GRANT_PENDING) {
			grants[k++] = grants[i];
			continue;
		}
		pend[m].g = grants[i];
		pend[m].want_ms = (grants[i].end_ns - now_ns) / TIME_NS_PER_MS;
		if (pend[m].want_ms < 1)
			pend[m].want_ms = 1;
		pend[m].g.end_ns = now_ns + api_approval_timeout_ns(api);
		m++;
	}
	*n = k;
	*ret = pend;
	*ret_n = m;
	return 0;
}

int
api_approval_ask(struct api *api, const struct api_caller *c, const struct store_request *sr,
		 const struct store_pending *pend, size_t n, struct core_error *err)
{
	struct api_vm_memo memo = { 0 };
	size_t i;
	int r;

	for (i = 0; i < n; i++) {
		struct store_pending p = pend[i];
		const struct store_grant g = p.g;
		char src[NET_PREFIX_TEXT_MAX], until[64], dur[DURATION_FORMAT_SIZE];

		snprintf(p.g.request_id, sizeof(p.g.request_id), "%s", sr->id);
		if ((r = store_pending_insert(api->store, &p)) < 0)
			return api_store_refused(api, r, err, "cannot store the request");
		net_source_format(&g.source, src, sizeof(src));
		time_format_rfc3339(g.end_ns, until, sizeof(until));
		duration_format_iso8601(pend[i].want_ms, dur, sizeof(dur));
		api_log(api, c, RBAC_POLICY_INITIATE, api_vm_text(api, &memo, g.vm_id), "Pending", sr->justification,
			"asked for port %u (%s) from %s for %s, request %s: waits for approval until %s", g.port,
			net_proto_name(g.proto), src, dur, sr->id, until);
		if (!api->next_end_hint_ns || g.end_ns < api->next_end_hint_ns)
			api->next_end_hint_ns = g.end_ns;
	}
	return 0;
}

static int
grant_by_vm_port(const void *a, const void *b)
{
	const struct store_grant *x = a, *y = b;

	if (x->vm_id != y->vm_id)
		return x->vm_id < y->vm_id ? -1 : 1;
	return (x->port > y->port) - (x->port < y->port);
}

int
api_approval_view(const struct store_request *sr, const struct store_pending *pend, size_t n,
		  struct store_request *ret)
{
	size_t i;

	*ret = *sr;
	ret->grants = calloc(sr->n_grants + n + 1, sizeof(*ret->grants));
	if (!ret->grants)
		return -ENOMEM;
	if (sr->n_grants)
		memcpy(ret->grants, sr->grants, sr->n_grants * sizeof(*ret->grants));
	for (i = 0; i < n; i++) {
		ret->grants[sr->n_grants + i] = pend[i].g;
		snprintf(ret->grants[sr->n_grants + i].request_id, sizeof(ret->grants[0].request_id), "%s", sr->id);
	}
	ret->n_grants = sr->n_grants + n;
	qsort(ret->grants, ret->n_grants, sizeof(*ret->grants), grant_by_vm_port);
	return 0;
}

int
api_approval_expire(struct api *api, int64_t now_ns, int64_t *ret_next_ns)
{
	struct store_pending *p = NULL;
	struct api_vm_memo memo = { 0 };
	size_t n = 0, i;
	int64_t next = 0;
	int r, lapsed = 0;
	bool tx;

	if ((r = store_pending_due(api->store, now_ns, &p, &n)) < 0)
		goto out;
	tx = n > 0 && store_begin(api->store) == 0;
	for (i = 0; i < n; i++) {
		const struct store_grant *g = &p[i].g;
		struct api_caller sys = { .name = "jitgated" };
		char src[NET_PREFIX_TEXT_MAX];

		r = store_pending_decide(api->store, g->request_id, g->vm_id, g->port, STORE_PENDING_EXPIRED, now_ns);
		if (r == -ENOENT) {
			r = 0;
			continue;
		}
		if (r < 0)
			break;
		snprintf(sys.correlation_id, sizeof(sys.correlation_id), "%s", g->request_id);
		net_source_format(&g->source, src, sizeof(src));
		api_log(api, &sys, API_OP_APPROVAL_EXPIRE, api_vm_text(api, &memo, g->vm_id), "Expired", p[i].justification,
			"port %u (%s) from %s of request %s for %s was not approved in time; it never opened", g->port,
			net_proto_name(g->proto), src, g->request_id, g->requestor);
		lapsed++;
	}
	if (tx && r < 0)
		store_rollback(api->store);
	else if (tx)
		r = store_commit(api->store);
	if (r < 0)
		goto out;
	if ((r = store_pending_next(api->store, now_ns, &next)) < 0)
		goto out;
	if (ret_next_ns)
		*ret_next_ns = next;
	r = lapsed;
out:
	free(p);
	return r;
}

/* One waiting request of the list: its ports grouped by VM, and whether this caller may decide it. */
static json_t *
list_item(struct api *api, const struct api_caller *c, const struct store_pending *p, size_t n, int64_t approvals)
{
	struct api_vm_memo memo = { 0 };
	struct store_policy sp = { 0 };
	struct policy *pol = NULL;
	json_t *o, *vms = json_array(), *ports = NULL;
	char pid[ARM_ID_MAX + 1] = "";
	unsigned needed = 1;
	bool can = strcmp(c->name, p[0].g.requestor) != 0;
	int64_t last_vm = -1;
	size_t i;

	if (store_policy_get_by_id(api->store, p[0].g.policy_id, &sp) == 0) {
		arm_policy_id_format(&sp.arm, pid, sizeof(pid));
		if (api_policy_decode_stored(api, &sp, &pol, NULL) < 0)
			pol = NULL;
	}
	for (i = 0; i < n && vms; i++) {
		const char *vmtext = api_vm_text(api, &memo, p[i].g.vm_id);
		const struct policy_vm *pv = NULL;
		const struct policy_port *rule = NULL;
		struct arm_vm_id vid;
		char src[NET_PREFIX_TEXT_MAX], dur[DURATION_FORMAT_SIZE];

		if (pol && arm_vm_id_parse(vmtext, strlen(vmtext), &vid, NULL) == 0 && policy_find_vm(pol, &vid, &pv) == 0)
			policy_find_port(pv, p[i].g.port, p[i].g.proto, &rule);
		if (rule && rule->approval && rule->approval->required > needed)
			needed = rule->approval->required;
		can = can && rule && rule->approval && api_approver_qualifies(api, c, rule->approval);
		if (p[i].g.vm_id != last_vm) {
			ports = json_array();
			json_array_append_new(vms, json_pack("{s:s, s:o}", "id", vmtext, "ports", ports));
			last_vm = p[i].g.vm_id;
		}
		net_source_format(&p[i].g.source, src, sizeof(src));
		duration_format_iso8601(p[i].want_ms, dur, sizeof(dur));
		json_array_append_new(ports, json_pack("{s:i, s:s, s:s, s:s}", "number", (json_int_t)p[i].g.port,
			"protocol", net_proto_name(p[i].g.proto), "allowedSourceAddressPrefix", src, "duration", dur));
		/* an extension: the grant's request, and the end asked for */
		if (p[i].extends[0] && json_array_size(ports)) {
			char t[64];

			time_format_rfc3339(p[i].extend_end_ns, t, sizeof(t));
			json_object_set_new(json_array_get(ports, json_array_size(ports) - 1), "endTimeUtc", json_string(t));
			json_object_set_new(json_array_get(ports, json_array_size(ports) - 1), "extends", json_string(p[i].extends));
		}
	}
	policy_free(pol);
	store_policy_clear(&sp);
	o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:b, s:o}", "requestId", p[0].g.request_id, "policy", pid,
		      "requestor", p[0].g.requestor, "justification", p[0].justification, "status", "Pending",
		      "approvals", (json_int_t)approvals, "approvalsRequired", (json_int_t)needed, "canApprove", can,
		      "virtualMachines", vms ? vms : json_array());
	if (o) {
		char t[64];

		time_format_rfc3339(p[0].asked_ns, t, sizeof(t));
		json_object_set_new(o, "startTimeUtc", json_string(t));
		time_format_rfc3339(p[0].g.end_ns, t, sizeof(t));
		json_object_set_new(o, "expiresTimeUtc", json_string(t));
	}
	return o;
}

/* May the caller see this waiting request: their own, or one on VMs they may read? */
static bool
list_visible(struct api *api, const struct api_caller *c, const struct store_pending *p, size_t n)
{
	struct api_vm_memo memo = { 0 };
	size_t i;

	if (!strcmp(c->name, p[0].g.requestor))
		return true;
	for (i = 0; i < n; i++)
		if (!api_allowed(api, c, RBAC_POLICY_READ, api_vm_text(api, &memo, p[i].g.vm_id)))
			return false;
	return true;
}

void
api_approvals_list(struct api *api, const struct api_caller *c, const struct http_request *req,
		   struct http_response *resp)
{
	struct store_pending *p = NULL;
	size_t n = 0, i, j;
	json_t *value = json_array();
	int r;

	(void)req;
	if ((r = store_pending_waiting(api->store, &p, &n)) < 0) {
		api_store_error(api, resp, r, "cannot read the requests waiting for approval");
		goto out;
	}
	/* rows come request by request: one item per run of one request id */
	for (i = 0; i < n && value && json_array_size(value) < API_APPROVALS_LIST_MAX; i = j) {
		int64_t count = 0;

		for (j = i; j < n && !strcmp(p[j].g.request_id, p[i].g.request_id); j++)
			;
		if (!list_visible(api, c, &p[i], j - i))
			continue;
		if ((r = store_approvals_count(api->store, p[i].g.request_id, &count)) < 0) {
			api_store_error(api, resp, r, "cannot read approvals");
			goto out;
		}
		json_array_append_new(value, list_item(api, c, &p[i], j - i, count));
	}
	api_json(resp, 200, json_pack("{s:o}", "value", value ? value : json_array()));
	value = NULL;
out:
	json_decref(value);
	free(p);
}

/* Requests and policies as the API returns them, and which policies a caller may see. */
#include <stdio.h>
#include <string.h>

#include "api/api-internal.h"
#include "core/timeutil.h"

static const char *
reason_name(enum store_grant_reason r)
{
	switch (r) {
	case STORE_REASON_EXPIRED:
		return "Expired";
	case STORE_REASON_NEWER_REQUEST:
		return "NewerRequestInitiated";
	case STORE_REASON_TOKEN_REVOKED:
		return "TokenRevoked";
	case STORE_REASON_POLICY_CHANGED:
		return "PolicyChanged";
	case STORE_REASON_DENIED:
		return "Denied";
	case STORE_REASON_PENDING_EXPIRED:
		return "ApprovalExpired";
	case STORE_REASON_USER_REQUESTED:
	case STORE_REASON_NONE:
		break;
	}
	return "UserRequested";
}

static json_t *
time_json(int64_t ns)
{
	char buf[64];

	if (time_format_azure(ns, buf, sizeof(buf)) < 0)
		return json_null();
	return json_string(buf);
}

/* The request as the API returns it; `pol` (may be NULL) is its policy, for the ports' mappedPort. */
static json_t *
request_encode(struct api *api, const struct store_request *req, const struct policy *pol,
	       const struct api_vm_memo *known)
{
	json_t *o = json_object(), *vms = json_array(), *vm = NULL, *ports = NULL;
	struct api_vm_memo memo = known ? *known : (struct api_vm_memo){ 0 };
	int64_t last_vm = -1;
	size_t i;

	if (!o || !vms)
		goto fail;
	for (i = 0; i < req->n_grants; i++) {
		const struct store_grant *g = &req->grants[i];
		const struct store_journal_entry *closed = NULL;
		struct store_grant shown;
		char src[NET_PREFIX_TEXT_MAX];
		struct net_addr pub;
		uint16_t mapped;
		json_t *p;

		/* closed while the store refused to record it: shown as it is in the kernel, marked pending */
		if (g->status == STORE_GRANT_INITIATED && api_closing_pending(api) &&
		    (closed = api_closing_find(api, g->request_id, g->vm_id, g->port))) {
			shown = *g;
			if (closed->kind == STORE_JOURNAL_END) {
				shown.status = STORE_GRANT_REVOKED;
				shown.reason = closed->reason;
				shown.ended_ns = closed->at_ns;
			} else if (closed->at_ns < shown.end_ns) {
				shown.end_ns = closed->at_ns;
			}
			g = &shown;
		}

		if (g->vm_id != last_vm) {
			ports = json_array();
			vm = json_pack("{s:s, s:o}", "id", api_vm_text(api, &memo, g->vm_id), "ports", ports);
			if (!vm || json_array_append_new(vms, vm) < 0)
				goto fail;
			last_vm = g->vm_id;
		}
		net_source_format(&g->source, src, sizeof(src));
		/* jitgate's Pending (waiting for approval): its endTimeUtc is when the ask lapses unless approved */
		p = json_pack("{s:i, s:s, s:o, s:s, s:s}", "number", (json_int_t)g->port, "allowedSourceAddressPrefix", src,
			      "endTimeUtc", time_json(g->end_ns), "status",
			      g->status == STORE_GRANT_INITIATED ? "Initiated" :
			      g->status == STORE_GRANT_PENDING ? "Pending" : "Revoked", "statusReason",
			      g->status == STORE_GRANT_INITIATED ? "UserRequested" :
			      g->status == STORE_GRANT_PENDING ? "AwaitingApproval" : reason_name(g->reason));
		if (!p || json_array_append_new(ports, p) < 0)
			goto fail;
		/* jitgate's addition: when a port was closed, which may be before its endTimeUtc */
		/* jitgate's addition: when an approved port opened (its request's start is when it was asked for) */
		if (g->opened_ns)
			json_object_set_new(p, "openedTimeUtc", time_json(g->opened_ns));
		if (g->status == STORE_GRANT_REVOKED && g->ended_ns)
			json_object_set_new(p, "endedTimeUtc", time_json(g->ended_ns));
		if (closed)
			json_object_set_new(p, "recordPending", json_true());
		/* jitgate's addition: when the VM's agent applied it (agent VMs only; absent until then) */
		if (g->applied_ns)
			json_object_set_new(p, "appliedTimeUtc", time_json(g->applied_ns));
		/* gateway DNAT: the port of the VM's publicIpAddress that leads to this one (Azure's field) */
		if ((mapped = api_dnat_mapped_port(pol, api_vm_text(api, &memo, g->vm_id), g->proto, g->port, &pub)))
			json_object_set_new(p, "mappedPort", json_integer(mapped));
	}
	if (json_object_set_new(o, "virtualMachines", vms) < 0)
		goto fail_o;
	json_object_set_new(o, "startTimeUtc", time_json(req->start_ns));
	json_object_set_new(o, "requestor", json_string(req->requestor));
	if (req->justification[0])
		json_object_set_new(o, "justification", json_string(req->justification));
	json_object_set_new(o, "id", json_string(req->id));
	return o;
fail:
	json_decref(vms);
fail_o:
	json_decref(o);
	return NULL;
}

json_t *
api_request_encode(struct api *api, const struct store_request *req)
{
	struct policy *pol = NULL;
	json_t *o;

	api_dnat_policy_of_request(api, req, &pol);
	o = request_encode(api, req, pol, NULL);
	policy_free(pol);
	return o;
}

json_t *
api_request_encode_known(struct api *api, const struct store_request *req, const struct policy *pol,
			 const struct api_vm_memo *vm)
{
	return request_encode(api, req, pol, vm);
}

/* Keep only the entries of `arr` (objects with "id" or "virtualMachines") that lie in one of the caller's scopes. */
static void
keep_vms_in_scope(json_t *vms, const struct api_caller *c)
{
	size_t i = json_array_size(vms);

	while (i-- > 0) {
		const char *id = json_string_value(json_object_get(json_array_get(vms, i), "id"));

		if (!id || !rbac_any_allows(c->assign, c->n_assign, NULL, id))
			json_array_remove(vms, i);
	}
}

/*
 * A caller who sees the policy only through a VM-level scope sees only the
 * VMs in that scope, and only the requests for them: not the rules of other
 * VMs, nor who asked for them and why. A person holding several assignments
 * sees the VMs inside any of their scopes.
 */
static void
narrow_to_scope(json_t *props, const struct api_caller *c)
{
	json_t *reqs = json_object_get(props, "requests");
	size_t i;

	keep_vms_in_scope(json_object_get(props, "virtualMachines"), c);
	i = json_array_size(reqs);
	while (i-- > 0) {
		json_t *vms = json_object_get(json_array_get(reqs, i), "virtualMachines");

		keep_vms_in_scope(vms, c);
		if (json_array_size(vms) == 0)
			json_array_remove(reqs, i);
	}
}

json_t *
api_policy_render(struct api *api, const struct api_caller *c, const struct store_policy *sp)
{
	struct store_request *reqs = NULL;
	struct policy *pol = NULL;
	size_t n = 0, i;
	json_error_t jerr;
	json_t *o = json_loads(sp->json, 0, &jerr), *props, *arr;
	char id[ARM_ID_MAX + 1];

	props = o ? json_object_get(o, "properties") : NULL;
	/* a policy stored before "kind" was always written answers as Azure's would */
	if (props && !json_object_get(o, "kind") && json_object_set_new(o, "kind", json_string(POLICY_KIND_DEFAULT)) < 0)
		props = NULL;
	if (!props || store_requests_of_policy(api->store, sp->id, time_now_ns() - APPROVED_WINDOW_NS, API_POLICY_REQUESTS_MAX,
						 &reqs, &n) < 0) {
		json_decref(o);
		return NULL;
	}
	arr = json_array();
	/* decoded once for all its requests (their ports' mappedPort) */
	api_policy_decode_stored(api, sp, &pol, NULL);
	for (i = 0; arr && i < n; i++)
		json_array_append_new(arr, request_encode(api, &reqs[i], pol, NULL));
	policy_free(pol);
	json_object_set_new(props, "requests", arr ? arr : json_array());
	store_requests_free(reqs, n);
	arm_policy_id_format(&sp->arm, id, sizeof(id));
	if (c && !api_allowed(api, c, RBAC_POLICY_READ, id))
		narrow_to_scope(props, c);
	return o;
}

bool
api_policy_visible(struct api *api, const struct api_caller *c, const struct store_policy *sp)
{
	char id[ARM_ID_MAX + 1];
	struct policy *p = NULL;
	bool yes = false;
	size_t i;

	arm_policy_id_format(&sp->arm, id, sizeof(id));
	if (api_allowed(api, c, RBAC_POLICY_READ, id))
		return true;
	if (!rbac_any_allows(c->assign, c->n_assign, RBAC_POLICY_READ, NULL) || api_policy_decode_stored(api, sp, &p, NULL) < 0)
		return false;
	for (i = 0; i < p->n_vms && !yes; i++) {
		arm_vm_id_format(&p->vms[i].id, id, sizeof(id));
		yes = rbac_any_allows(c->assign, c->n_assign, RBAC_POLICY_READ, id);
	}
	policy_free(p);
	return yes;
}

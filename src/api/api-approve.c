/* A policy's approve and deny actions: a decision on a request's ports that wait, and the opening the last approval makes. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api-internal.h"
#include "codec/codec.h"
#include "core/duration.h"
#include "core/timeutil.h"

/* One decision as it passes from step to step. */
struct decision {
	struct approval_body body;
	struct store_policy sp;
	struct policy *p;
	struct store_pending *pend;	/* the request's ports still Pending in this policy */
	size_t n;
	const struct policy_port **rules;	/* each one's rule now (NULL: no longer in the policy) */
	char text[ARM_ID_MAX + 1];	/* the policy's id */
	unsigned needed;		/* approvals the strictest of its rules requires */
	int64_t now, mono;
	struct api_vm_memo memo;
};

static void
decision_clear(struct decision *d)
{
	store_policy_clear(&d->sp);
	policy_free(d->p);
	free(d->pend);
	free(d->rules);
}

/* The body, the policy and the request's waiting ports with their rules. */
static int
decision_load(struct api *api, const struct http_request *req, const struct arm_policy_id *id, struct decision *d,
	      enum api_fault *fault, struct core_error *err)
{
	struct store_pending *all = NULL;
	size_t n = 0, i;
	int r;

	*fault = API_FAULT_REQUEST;
	if ((r = codec_approval_decode(req->body, req->body_len, &d->body, err)) < 0)
		return r;
	if ((r = api_policy_read(api, id, d->text, &d->sp, err)) < 0) {
		*fault = r == -ENOENT ? API_FAULT_NOT_FOUND : API_FAULT_STORE;
		return r;
	}
	*fault = API_FAULT_INTERNAL;
	if ((r = api_policy_decode_stored(api, &d->sp, &d->p, err)) < 0)
		return r;
	if ((r = store_pending_of_request(api->store, d->body.request_id, &all, &n)) < 0) {
		*fault = API_FAULT_STORE;
		return api_store_refused(api, r, err, "cannot read request %s", d->body.request_id);
	}
	d->pend = calloc(n + 1, sizeof(*d->pend));
	d->rules = calloc(n + 1, sizeof(*d->rules));
	if (!d->pend || !d->rules) {
		free(all);
		return core_error_set(err, "InternalError", "", "out of memory"), -ENOMEM;
	}
	for (i = 0; i < n; i++)
		if (all[i].g.policy_id == d->sp.id && all[i].g.status == STORE_GRANT_PENDING)
			d->pend[d->n++] = all[i];
	free(all);
	*fault = API_FAULT_NOT_FOUND;
	if (n == 0)
		return core_error_set(err, "RequestNotFound", "requestId",
				      "no request '%s' that asked for approval in the policy '%s'", d->body.request_id,
				      d->text), -ENOENT;
	*fault = API_FAULT_CONFLICT;
	if (d->n == 0)
		return core_error_set(err, "RequestNotPending", "requestId",
				      "request '%s' waits for no approval: it was approved, denied or expired already",
				      d->body.request_id), -EALREADY;
	d->needed = 1;
	for (i = 0; i < d->n; i++) {
		const struct policy_vm *pv;
		const char *vmtext = api_vm_text(api, &d->memo, d->pend[i].g.vm_id);
		struct arm_vm_id vid;

		if (arm_vm_id_parse(vmtext, strlen(vmtext), &vid, NULL) == 0 && policy_find_vm(d->p, &vid, &pv) == 0)
			policy_find_port(pv, d->pend[i].g.port, d->pend[i].g.proto, &d->rules[i]);
		if (d->rules[i] && d->rules[i]->approval && d->rules[i]->approval->required > d->needed)
			d->needed = d->rules[i]->approval->required;
	}
	return 0;
}

/* May this caller decide every waiting port of the request? Never the requester approving their own. */
static int
decision_authorise(struct api *api, const struct api_caller *c, struct decision *d, bool approving,
		   struct core_error *err)
{
	size_t i;

	if (approving && !strcmp(c->name, d->pend[0].g.requestor))
		return core_error_set(err, "SelfApprovalNotAllowed", "requestId",
				      "%s asked for request '%s': a requester cannot approve their own request", c->name,
				      d->body.request_id), -EPERM;
	for (i = 0; i < d->n; i++) {
		const struct policy_approval *a = d->rules[i] ? d->rules[i]->approval : NULL;
		const char *vmtext = api_vm_text(api, &d->memo, d->pend[i].g.vm_id);

		if (!d->rules[i] && approving)
			return core_error_set(err, "PortNotInPolicy", "requestId",
					      "port %u of %s is no longer in the policy's rules: request '%s' can only be "
					      "denied or left to expire", d->pend[i].g.port, vmtext, d->body.request_id),
			       -EPERM;
		/* a rule gone or that no longer needs approval: SecurityAdmins of the VM decide what still waits */
		if (a ? !api_approver_qualifies(api, c, a) : !api_allowed(api, c, RBAC_POLICY_REVOKE, vmtext))
			return core_error_set(err, "NotAnApprover", "requestId",
					      "deciding on port %u of %s needs the role %s at %s (or a scope above it)",
					      d->pend[i].g.port, vmtext, a ? a->role : "SecurityAdmin", a ? a->scope : vmtext),
			       -EACCES;
	}
	return 0;
}

/* The last approval: each waiting port opens now for what was asked, never past its rule's maximum. */
static int
decision_open(struct api *api, const struct api_caller *c, struct decision *d, enum api_fault *fault,
	      struct core_error *err)
{
	struct store_grant *g = calloc(d->n, sizeof(*g));
	struct fw_grant *add = calloc(d->n, sizeof(*add));
	size_t i;
	int r = -ENOMEM;

	*fault = API_FAULT_INTERNAL;
	if (!g || !add) {
		core_error_set(err, "InternalError", "", "out of memory");
		goto out;
	}
	*fault = API_FAULT_STORE;
	for (i = 0; i < d->n; i++) {
		int64_t max_ms = d->rules[i]->max_duration_ms < api->settings.max_duration_ms ?
				 d->rules[i]->max_duration_ms : api->settings.max_duration_ms;
		int64_t want = d->pend[i].want_ms < max_ms ? d->pend[i].want_ms : max_ms;

		g[i] = d->pend[i].g;
		g[i].status = STORE_GRANT_INITIATED;
		g[i].reason = STORE_REASON_NONE;
		g[i].ended_ns = 0;
		g[i].opened_ns = d->now;
		g[i].end_ns = d->now + want * TIME_NS_PER_MS;
		if (api->boot_id[0]) {
			snprintf(g[i].boot_id, sizeof(g[i].boot_id), "%s", api->boot_id);
			g[i].mono_end_ns = d->mono + want * TIME_NS_PER_MS;
		}
		api_grant_to_fw(&g[i], &add[i]);
		if ((r = store_pending_decide(api->store, g[i].request_id, g[i].vm_id, g[i].port, STORE_PENDING_APPROVED,
					      d->now)) < 0) {
			api_store_refused(api, r, err, "cannot record the approval");
			goto out;
		}
	}
	if ((r = store_grants_insert(api->store, d->body.request_id, d->pend[0].g.requestor, g, d->n)) < 0) {
		api_store_refused(api, r, err, "cannot open the request's ports");
		goto out;
	}
	*fault = API_FAULT_INTERNAL;
	if (api->fw && (r = fw_grant_add(api->fw, add, api_fw_local_only(api, add, d->n), NULL, err)) < 0)
		goto out;
	for (i = 0; i < d->n; i++) {
		char src[NET_PREFIX_TEXT_MAX], end[64];

		net_source_format(&g[i].source, src, sizeof(src));
		time_format_rfc3339(g[i].end_ns, end, sizeof(end));
		api_log(api, c, API_OP_APPROVE, api_vm_text(api, &d->memo, g[i].vm_id), "Opened", d->body.reason,
			"approved: opened port %u (%s) from %s until %s for %s, request %s", g[i].port,
			net_proto_name(g[i].proto), src, end, g[i].requestor, g[i].request_id);
		if (!api->next_end_hint_ns || g[i].end_ns < api->next_end_hint_ns)
			api->next_end_hint_ns = g[i].end_ns;
	}
	r = 0;
out:
	free(g);
	free(add);
	return r;
}

/* A refusal of a decision, logged on the policy (or each waiting VM) with who and why, then answered. */
static void
decision_refused(struct api *api, const struct api_caller *c, struct decision *d, const char *op, int status,
		 const struct core_error *err, struct http_response *resp)
{
	api_log(api, c, op, d->text, "Failed", d->body.reason, "request %s: %s: %s", d->body.request_id[0] ?
		d->body.request_id : "-", err->code, err->message);
	api_error_record(resp, status, err);
}

static void
decision_answer(struct decision *d, const char *status, int64_t approvals, struct http_response *resp)
{
	api_json(resp, 200, json_pack("{s:s, s:s, s:I, s:I}", "requestId", d->body.request_id, "status", status,
				      "approvals", (json_int_t)approvals, "approvalsRequired", (json_int_t)d->needed));
}

void
api_policy_approve(struct api *api, const struct api_caller *c, const struct http_request *req,
		   const struct arm_policy_id *id, struct http_response *resp)
{
	struct decision d = { .now = time_now_ns(), .mono = time_mono_ns() };
	struct core_error err = { 0 };
	enum api_fault fault;
	int64_t count = 0;
	bool tx = false;
	int r;

	arm_policy_id_format(id, d.text, sizeof(d.text));
	if ((r = decision_load(api, req, id, &d, &fault, &err)) < 0)
		goto fail;
	fault = API_FAULT_FORBIDDEN;
	if ((r = decision_authorise(api, c, &d, true, &err)) < 0)
		goto fail;
	fault = API_FAULT_STORE;
	if ((r = store_begin(api->store)) < 0) {
		api_store_refused(api, r, &err, "cannot write");
		goto fail;
	}
	tx = true;
	if ((r = store_approval_add(api->store, d.body.request_id, c->name, d.now)) < 0) {
		fault = r == -EEXIST ? API_FAULT_CONFLICT : API_FAULT_STORE;
		if (r == -EEXIST)
			core_error_set(&err, "AlreadyApproved", "requestId", "%s approved request '%s' already: "
				       "each approver counts once", c->name, d.body.request_id);
		else
			api_store_refused(api, r, &err, "cannot record the approval");
		goto fail;
	}
	if ((r = store_approvals_count(api->store, d.body.request_id, &count)) < 0) {
		api_store_refused(api, r, &err, "cannot count approvals");
		goto fail;
	}
	api_log(api, c, API_OP_APPROVE, d.text, "Approved", d.body.reason, "approval %lld of %u for request %s of %s",
		(long long)count, d.needed, d.body.request_id, d.pend[0].g.requestor);
	if (count >= d.needed && (r = decision_open(api, c, &d, &fault, &err)) < 0)
		goto fail;
	fault = API_FAULT_STORE;
	tx = false;
	if ((r = store_commit(api->store)) < 0) {
		api_store_refused(api, r, &err, "the store refused the approval");
		api_reconcile(api, NULL);	/* the kernel follows the store back */
		goto fail;
	}
	decision_answer(&d, count >= d.needed ? "Approved" : "Pending", count, resp);
	goto out;
fail:
	if (tx) {
		store_rollback(api->store);
		api_reconcile(api, NULL);
	}
	decision_refused(api, c, &d, API_OP_APPROVE, api_fault_status(fault, r), &err, resp);
out:
	decision_clear(&d);
}

void
api_policy_deny(struct api *api, const struct api_caller *c, const struct http_request *req,
		const struct arm_policy_id *id, struct http_response *resp)
{
	struct decision d = { .now = time_now_ns() };
	struct core_error err = { 0 };
	enum api_fault fault;
	bool tx = false;
	size_t i;
	int r;

	arm_policy_id_format(id, d.text, sizeof(d.text));
	if ((r = decision_load(api, req, id, &d, &fault, &err)) < 0)
		goto fail;
	if (!d.body.reason[0]) {
		fault = API_FAULT_REQUEST;
		r = core_error_set(&err, "MissingReason", "reason", "a denial needs a reason, for the requester and the log");
		goto fail;
	}
	fault = API_FAULT_FORBIDDEN;
	if ((r = decision_authorise(api, c, &d, false, &err)) < 0)
		goto fail;
	fault = API_FAULT_STORE;
	if ((r = store_begin(api->store)) < 0) {
		api_store_refused(api, r, &err, "cannot write");
		goto fail;
	}
	tx = true;
	for (i = 0; i < d.n; i++) {
		const struct store_grant *g = &d.pend[i].g;

		if ((r = store_pending_decide(api->store, g->request_id, g->vm_id, g->port, STORE_PENDING_DENIED,
					      d.now)) < 0) {
			api_store_refused(api, r, &err, "cannot record the denial");
			goto fail;
		}
		api_log(api, c, API_OP_DENY, api_vm_text(api, &d.memo, g->vm_id), "Denied", d.body.reason,
			"denied port %u (%s) of request %s for %s: %s", g->port, net_proto_name(g->proto), g->request_id,
			g->requestor, d.body.reason);
	}
	tx = false;
	if ((r = store_commit(api->store)) < 0) {
		api_store_refused(api, r, &err, "the store refused the denial");
		goto fail;
	}
	decision_answer(&d, "Denied", 0, resp);
	goto out;
fail:
	if (tx)
		store_rollback(api->store);
	decision_refused(api, c, &d, API_OP_DENY, api_fault_status(fault, r), &err, resp);
out:
	decision_clear(&d);
}

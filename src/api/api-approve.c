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

/* The smaller of a rule's maximum and the deployment's, in ms. */
static int64_t
rule_max_ms(const struct api *api, const struct policy_port *rule)
{
	return rule->max_duration_ms < api->settings.max_duration_ms ? rule->max_duration_ms : api->settings.max_duration_ms;
}

/* Waiting port i as the grant it opens: now, for what was asked, never past its rule's maximum. */
static void
decision_grant(const struct api *api, const struct decision *d, size_t i, struct store_grant *g)
{
	int64_t max_ms = rule_max_ms(api, d->rules[i]);
	int64_t want = d->pend[i].want_ms < max_ms ? d->pend[i].want_ms : max_ms;

	*g = d->pend[i].g;
	g->status = STORE_GRANT_INITIATED;
	g->reason = STORE_REASON_NONE;
	g->ended_ns = 0;
	g->opened_ns = d->now;
	g->end_ns = d->now + want * TIME_NS_PER_MS;
	g->boot_id[0] = '\0';
	g->mono_end_ns = 0;
	if (api->boot_id[0]) {
		snprintf(g->boot_id, sizeof(g->boot_id), "%s", api->boot_id);
		g->mono_end_ns = d->mono + want * TIME_NS_PER_MS;
	}
}

/*
 * Waiting port i, an extension: the live grant it names, its end moved to the one asked for (never past its rule's
 * maximum from when it opened) in *g. 1: moved; 0: nothing to move (it ends later already); -ESRCH: GrantEnded.
 */
static int
decision_extend(struct api *api, struct decision *d, size_t i, struct store_grant *g, struct core_error *err)
{
	const struct store_pending *p = &d->pend[i];
	struct store_grant *live = NULL;
	int64_t end;
	size_t n = 0, k;
	int r;

	if ((r = api_grants_live_on(api, p->g.vm_id, p->g.port, NULL, &live, &n, err)) < 0)
		return r;
	for (k = 0; k < n && strcmp(live[k].request_id, p->extends); k++)
		;
	if (k == n || live[k].end_ns <= d->now) {
		free(live);
		return core_error_set(err, "GrantEnded", "requestId", "the grant of request %s on port %u that request "
				      "'%s' extends is no longer open", p->extends, p->g.port, d->body.request_id), -ESRCH;
	}
	*g = live[k];
	free(live);
	end = g->opened_ns + rule_max_ms(api, d->rules[i]) * TIME_NS_PER_MS;
	if (p->extend_end_ns < end)
		end = p->extend_end_ns;
	if (end <= g->end_ns)
		return 0;
	if (g->boot_id[0] && !strcmp(g->boot_id, api->boot_id))
		g->mono_end_ns = d->mono + (end - d->now);
	g->end_ns = end;
	if ((r = store_grant_extend(api->store, g->request_id, g->vm_id, g->port, end, api->boot_id, g->mono_end_ns)) < 0)
		return api_store_refused(api, r, err, "cannot extend port %u of request %s", g->port, g->request_id);
	return 1;
}

static void
decision_log(struct api *api, const struct api_caller *c, struct decision *d, size_t i, const struct store_grant *g)
{
	char src[NET_PREFIX_TEXT_MAX], end[64];

	net_source_format(&g->source, src, sizeof(src));
	time_format_rfc3339(g->end_ns, end, sizeof(end));
	if (d->pend[i].extends[0])
		api_log(api, c, API_OP_EXTEND, api_vm_text(api, &d->memo, g->vm_id), "Extended", d->body.reason,
			"approved: extended port %u (%s) from %s of request %s for %s to %s, request %s", g->port,
			net_proto_name(g->proto), src, g->request_id, g->requestor, end, d->body.request_id);
	else
		api_log(api, c, API_OP_APPROVE, api_vm_text(api, &d->memo, g->vm_id), "Opened", d->body.reason,
			"approved: opened port %u (%s) from %s until %s for %s, request %s", g->port,
			net_proto_name(g->proto), src, end, g->requestor, g->request_id);
	if (!api->next_end_hint_ns || g->end_ns < api->next_end_hint_ns)
		api->next_end_hint_ns = g->end_ns;
}

/*
 * The last approval: each waiting port opens now for what was asked, never past its rule's maximum; an
 * extension moves the grant it names. The kernel takes them all in one batch (a moved grant is replaced).
 */
static int
decision_open(struct api *api, const struct api_caller *c, struct decision *d, enum api_fault *fault,
	      struct core_error *err)
{
	struct store_grant *g = calloc(d->n, sizeof(*g)), *opened = calloc(d->n, sizeof(*opened));
	struct fw_grant *add = calloc(d->n, sizeof(*add));
	size_t i, k = 0, m = 0;
	int r = -ENOMEM;

	*fault = API_FAULT_INTERNAL;
	if (!g || !add || !opened) {
		core_error_set(err, "InternalError", "", "out of memory");
		goto out;
	}
	for (i = 0; i < d->n; i++) {
		*fault = API_FAULT_STORE;
		if ((r = store_pending_decide(api->store, d->pend[i].g.request_id, d->pend[i].g.vm_id, d->pend[i].g.port,
					      STORE_PENDING_APPROVED, d->now)) < 0) {
			api_store_refused(api, r, err, "cannot record the approval");
			goto out;
		}
		if (!d->pend[i].extends[0]) {
			decision_grant(api, d, i, &g[i]);
			opened[m++] = g[i];
		} else if ((r = decision_extend(api, d, i, &g[i], err)) <= 0) {
			*fault = r == -ESRCH ? API_FAULT_CONFLICT : API_FAULT_STORE;
			if (r < 0)
				goto out;
			memset(&g[i], 0, sizeof(g[i]));	/* it ends later already: nothing to log */
			continue;
		}
		api_grant_to_fw(&g[i], &add[k++]);
	}
	if (m && (r = store_grants_insert(api->store, d->body.request_id, d->pend[0].g.requestor, opened, m)) < 0) {
		api_store_refused(api, r, err, "cannot open the request's ports");
		goto out;
	}
	*fault = API_FAULT_INTERNAL;
	if (k && api->fw && (r = fw_grant_add(api->fw, add, api_fw_local_only(api, add, k), NULL, err)) < 0)
		goto out;
	for (i = 0; i < d->n; i++)
		if (g[i].port)
			decision_log(api, c, d, i, &g[i]);
	r = 0;
out:
	free(g);
	free(opened);
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

/* The decision's transaction, holding the request's waiting ports; 409 RequestNotPending if decided meanwhile. */
static int
decision_begin(struct api *api, struct decision *d, enum api_fault *fault, struct core_error *err)
{
	int r;

	*fault = API_FAULT_STORE;
	if ((r = store_begin(api->store)) < 0)
		return api_store_refused(api, r, err, "cannot write");
	if ((r = store_pending_lock(api->store, d->body.request_id)) < 0) {
		store_rollback(api->store);
		return api_store_refused(api, r, err, "cannot read request %s", d->body.request_id);
	}
	if (r == 0) {
		store_rollback(api->store);
		*fault = API_FAULT_CONFLICT;
		return core_error_set(err, "RequestNotPending", "requestId", "request '%s' waits for no approval: it was "
				      "approved, denied or expired already", d->body.request_id), -EALREADY;
	}
	/* decided on the policy (and the requestor's token) read before the writers' lock: still so? (replicas) */
	if ((r = store_policy_as_read(api->store, d->sp.id, d->sp.updated_ns, d->n ? d->pend[0].g.requestor : NULL)) < 0) {
		store_rollback(api->store);
		return api_store_refused(api, r, err, "request %s", d->body.request_id);
	}
	return 0;
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
	if ((r = decision_begin(api, &d, &fault, &err)) < 0)
		goto fail;
	tx = true;
	fault = API_FAULT_STORE;
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
	if ((r = decision_begin(api, &d, &fault, &err)) < 0)
		goto fail;
	tx = true;
	fault = API_FAULT_STORE;
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

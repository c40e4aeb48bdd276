/*
 * A policy's extend action: a live grant's end moved later, within its rule's maximum from when it opened, in one
 * kernel batch; on a port whose rule needs approval, a request of its own that its approvers decide.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api-internal.h"
#include "codec/codec.h"
#include "core/duration.h"
#include "core/timeutil.h"

/* One grant an extend moves: at once, or (its rule needs approval) once approved. */
struct extend_item {
	struct store_grant g;		/* with its new end */
	int64_t old_end;
	bool ask;
};

/* One extend as it passes from step to step. */
struct extend {
	struct initiate_body *body;
	struct store_policy sp;
	struct policy *p;
	struct extend_item *v;
	size_t n, cap, n_ask;
	char ask_id[STORE_ID_MAX + 1];	/* the request that asks for the extensions that need approval */
	char text[ARM_ID_MAX + 1];
	int64_t now, mono;
	struct api_vm_memo memo;
};

static void
extend_clear(struct extend *x)
{
	codec_initiate_free(x->body);
	store_policy_clear(&x->sp);
	policy_free(x->p);
	free(x->v);
}

static int
extend_keep(struct extend *x, const struct store_grant *g, int64_t end_ns, bool ask, struct core_error *err)
{
	if (x->n == x->cap) {
		size_t cap = x->cap ? 2 * x->cap : 8;
		struct extend_item *v = realloc(x->v, cap * sizeof(*v));

		if (!v)
			return core_error_set(err, "InternalError", "", "out of memory"), -ENOMEM;
		x->v = v;
		x->cap = cap;
	}
	x->v[x->n] = (struct extend_item){ .g = *g, .old_end = g->end_ns, .ask = ask };
	x->v[x->n++].g.end_ns = end_ns;
	x->n_ask += ask;
	return 0;
}

/* A grant's new end against its rule: at most its maximum from when it opened. */
static int
extend_check_end(const struct api *api, const struct policy_port *rule, const struct store_grant *g, int64_t end_ns,
		 int64_t now, const char *target, struct core_error *err)
{
	int64_t max_ms = rule->max_duration_ms < api->settings.max_duration_ms ? rule->max_duration_ms :
			 api->settings.max_duration_ms;
	int64_t max_end = g->opened_ns + max_ms * TIME_NS_PER_MS;
	char when[64], opened[64], dur[DURATION_FORMAT_SIZE];

	/* grants opened before jitgate kept when they opened cannot be told from their maximum: none extends */
	if (!g->opened_ns || end_ns > max_end + INITIATE_CLOCK_SLACK_MS * TIME_NS_PER_MS) {
		time_format_rfc3339(g->opened_ns ? max_end : g->end_ns, when, sizeof(when));
		time_format_rfc3339(g->opened_ns, opened, sizeof(opened));
		duration_format_iso8601(max_ms, dur, sizeof(dur));
		return core_error_set(err, "EndTimeTooLate", target,
				      "port %u may be open for at most %s from when it opened (%s), so endTimeUtc may be "
				      "at most %s", g->port, dur, g->opened_ns ? opened : "not recorded", when), -EINVAL;
	}
	return 0;
}

/* The live grants of one port asked for: the caller's own, or (with revoke/action on the VM) anyone's. */
static int
extend_port(struct api *api, const struct api_caller *c, struct extend *x, const struct policy_vm *pv, int64_t vm_id,
	    const char *vmtext, const struct initiate_port *ip, const char *target, enum api_fault *fault,
	    struct core_error *err)
{
	const struct policy_port *rule;
	struct store_grant *live = NULL;
	enum net_proto proto;
	size_t n = 0, i, found = 0, kept = 0;
	int64_t latest = 0;
	char when[64];
	int r;

	*fault = API_FAULT_REQUEST;
	if (policy_port_protocols(pv, ip->number, &proto) < 0 || policy_find_port(pv, ip->number, proto, &rule) < 0)
		return core_error_set(err, "PortNotInPolicy", target, "port %u is not in the policy's rules for this "
				      "virtual machine", ip->number), -EINVAL;
	*fault = API_FAULT_STORE;
	if ((r = api_grants_live_on(api, vm_id, ip->number, c->name, &live, &n, err)) < 0)
		return r;
	if (n == 0 && api_allowed(api, c, RBAC_POLICY_REVOKE, vmtext)) {
		free(live);
		live = NULL;
		if ((r = api_grants_live_on(api, vm_id, ip->number, NULL, &live, &n, err)) < 0)
			return r;
	}
	*fault = API_FAULT_REQUEST;
	/* each live grant that ends before the new end moves; one that ends later already stays as it is */
	for (i = 0; i < n && r >= 0; i++) {
		if (live[i].policy_id != x->sp.id || live[i].end_ns <= x->now)
			continue;
		found++;
		latest = live[i].end_ns > latest ? live[i].end_ns : latest;
		if (ip->end_ns <= live[i].end_ns)
			continue;
		kept++;
		if ((r = extend_check_end(api, rule, &live[i], ip->end_ns, x->now, target, err)) == 0)
			r = extend_keep(x, &live[i], ip->end_ns, rule->approval != NULL, err);
	}
	free(live);
	if (r < 0)
		return r;
	*fault = API_FAULT_NOT_FOUND;
	if (!found)
		return core_error_set(err, "NoLiveGrant", target, "there is no open grant of yours on port %u of this "
				      "virtual machine to extend", ip->number), -ENOENT;
	*fault = API_FAULT_REQUEST;
	time_format_rfc3339(latest, when, sizeof(when));
	if (!kept)
		return core_error_set(err, "EndTimeNotLater", target, "endTimeUtc must be later than the grant's end, %s",
				      when), -EINVAL;
	return 0;
}

/* Every port asked for, checked; what moves is collected in x. */
static int
extend_plan(struct api *api, const struct api_caller *c, struct extend *x, struct http_response *resp,
	    enum api_fault *fault, struct core_error *err)
{
	size_t i, j;
	int r;

	for (i = 0; i < x->body->n_vms; i++) {
		const struct policy_vm *pv;
		struct store_vm vm;
		char vmtext[ARM_ID_MAX + 1], target[96];

		arm_vm_id_format(&x->body->vms[i].id, vmtext, sizeof(vmtext));
		if (!api_require(api, c, RBAC_POLICY_INITIATE, vmtext, resp))
			return 1;
		snprintf(target, sizeof(target), "virtualMachines[%zu].id", i);
		*fault = API_FAULT_REQUEST;
		if (policy_find_vm(x->p, &x->body->vms[i].id, &pv) < 0 || store_vm_get(api->store, &x->body->vms[i].id,
											 &vm) < 0)
			return core_error_set(err, "VirtualMachineNotInPolicy", target, "the virtual machine is not in "
					      "the policy '%s'", x->text), -EINVAL;
		for (j = 0; j < x->body->vms[i].n_ports; j++) {
			snprintf(target, sizeof(target), "virtualMachines[%zu].ports[%zu].endTimeUtc", i, j);
			if ((r = extend_port(api, c, x, pv, vm.id, vmtext, &x->body->vms[i].ports[j], target, fault,
					     err)) < 0)
				return r;
		}
	}
	return 0;
}

/* Store and kernel: each end moved, then the kernel's elements replaced in one batch (their new timeouts). */
static int
extend_apply(struct api *api, const struct api_caller *c, struct extend *x, enum api_fault *fault,
	     struct core_error *err)
{
	struct fw_grant *fwg = calloc(x->n + 1, sizeof(*fwg));
	size_t i, k = 0;
	int r = -ENOMEM;

	*fault = API_FAULT_INTERNAL;
	if (!fwg) {
		core_error_set(err, "InternalError", "", "out of memory");
		goto out;
	}
	*fault = API_FAULT_STORE;
	for (i = 0; i < x->n; i++) {
		struct store_grant *g = &x->v[i].g;
		bool this_boot = g->boot_id[0] && !strcmp(g->boot_id, api->boot_id);
		char src[NET_PREFIX_TEXT_MAX], from[64], to[64];

		if (x->v[i].ask)
			continue;
		if (this_boot)
			g->mono_end_ns = x->mono + (g->end_ns - x->now);
		if ((r = store_grant_extend(api->store, g->request_id, g->vm_id, g->port, g->end_ns, api->boot_id,
					    g->mono_end_ns)) < 0) {
			api_store_refused(api, r, err, "cannot extend port %u of request %s", g->port, g->request_id);
			goto out;
		}
		api_grant_to_fw(g, &fwg[k++]);
		net_source_format(&g->source, src, sizeof(src));
		time_format_rfc3339(x->v[i].old_end, from, sizeof(from));
		time_format_rfc3339(g->end_ns, to, sizeof(to));
		api_log(api, c, API_OP_EXTEND, api_vm_text(api, &x->memo, g->vm_id), "Extended", x->body->justification,
			"extended port %u (%s) from %s of request %s for %s from %s to %s", g->port,
			net_proto_name(g->proto), src, g->request_id, g->requestor, from, to);
	}
	*fault = API_FAULT_INTERNAL;
	/* the same identity with a later end: fw replaces each element in one batch, never a moment without it */
	if (k && api->fw && (r = fw_grant_add(api->fw, fwg, api_fw_local_only(api, fwg, k), NULL, err)) < 0)
		goto out;
	r = 0;
out:
	free(fwg);
	return r;
}

/*
 * The extensions that need approval: one request of the caller's whose ports wait, each naming the grant it
 * extends and the end asked for (api-approve.c moves the grant when the last approval comes).
 */
static int
extend_ask(struct api *api, const struct api_caller *c, struct extend *x, struct core_error *err)
{
	struct store_request sr = { .policy_id = x->sp.id, .start_ns = x->now };
	size_t i;
	int r;

	if ((r = api_request_id_new(sr.id, sizeof(sr.id))) < 0)
		return core_error_set(err, "InternalError", "", "no randomness"), r;
	snprintf(sr.requestor, sizeof(sr.requestor), "%s", c->name);
	snprintf(sr.requestor_addr, sizeof(sr.requestor_addr), "%s", c->addr_text);
	snprintf(sr.justification, sizeof(sr.justification), "%s", x->body->justification);
	if ((r = store_request_insert(api->store, &sr)) < 0)
		return api_store_refused(api, r, err, "cannot store the request");
	for (i = 0; i < x->n; i++) {
		struct store_pending p = { .g = x->v[i].g, .extend_end_ns = x->v[i].g.end_ns };
		char src[NET_PREFIX_TEXT_MAX], to[64], until[64];

		if (!x->v[i].ask)
			continue;
		snprintf(p.extends, sizeof(p.extends), "%s", x->v[i].g.request_id);
		snprintf(p.g.request_id, sizeof(p.g.request_id), "%s", sr.id);
		p.g.end_ns = x->now + api_approval_timeout_ns(api);
		p.want_ms = (x->v[i].g.end_ns - x->v[i].old_end) / TIME_NS_PER_MS + 1;
		if ((r = store_pending_insert(api->store, &p)) < 0)
			return api_store_refused(api, r, err, "cannot store the request");
		net_source_format(&p.g.source, src, sizeof(src));
		time_format_rfc3339(x->v[i].g.end_ns, to, sizeof(to));
		time_format_rfc3339(p.g.end_ns, until, sizeof(until));
		api_log(api, c, API_OP_EXTEND, api_vm_text(api, &x->memo, p.g.vm_id), "Pending", sr.justification,
			"asked to extend port %u (%s) from %s of request %s for %s to %s, request %s: waits for approval "
			"until %s", p.g.port, net_proto_name(p.g.proto), src, p.extends, p.g.requestor, to, sr.id, until);
		if (!api->next_end_hint_ns || p.g.end_ns < api->next_end_hint_ns)
			api->next_end_hint_ns = p.g.end_ns;
	}
	snprintf(x->ask_id, sizeof(x->ask_id), "%s", sr.id);
	return 0;
}

void
api_policy_extend(struct api *api, const struct api_caller *c, const struct http_request *req,
		  const struct arm_policy_id *id, struct http_response *resp)
{
	struct extend x = { .now = time_now_ns(), .mono = time_mono_ns() };
	struct core_error err = { 0 };
	enum api_fault fault = API_FAULT_REQUEST;
	bool tx = false;
	int r;

	arm_policy_id_format(id, x.text, sizeof(x.text));
	if ((r = codec_initiate_decode(req->body, req->body_len, &x.body, &err)) < 0)
		goto fail;
	if ((r = api_policy_read(api, id, x.text, &x.sp, &err)) < 0) {
		fault = r == -ENOENT ? API_FAULT_NOT_FOUND : API_FAULT_STORE;
		goto fail;
	}
	fault = API_FAULT_INTERNAL;
	if ((r = api_policy_decode_stored(api, &x.sp, &x.p, &err)) < 0)
		goto fail;
	if ((r = extend_plan(api, c, &x, resp, &fault, &err)) != 0) {
		if (r > 0)
			goto out;	/* refused by RBAC: answered and logged */
		goto fail;
	}
	fault = API_FAULT_STORE;
	if ((r = store_begin(api->store)) < 0) {
		api_store_refused(api, r, &err, "cannot write");
		goto fail;
	}
	tx = true;
	/* planned on the policy, the grants and the token read before the writers' lock: still so? (replicas) */
	if ((r = store_policy_as_read(api->store, x.sp.id, x.sp.updated_ns, c->name)) < 0) {
		api_store_refused(api, r, &err, "cannot extend");
		goto fail;
	}
	if ((r = extend_apply(api, c, &x, &fault, &err)) < 0)
		goto fail;
	fault = API_FAULT_STORE;
	if (x.n_ask && (r = extend_ask(api, c, &x, &err)) < 0)
		goto fail;
	tx = false;
	fault = API_FAULT_STORE;
	if ((r = store_commit(api->store)) < 0) {
		api_store_refused(api, r, &err, "the store refused the extension");
		api_reconcile(api, NULL);
		goto fail;
	}
	if (x.n_ask)	/* some wait for approval: 202, as an initiate whose ports wait */
		api_json(resp, 202, json_pack("{s:I, s:I, s:s}", "extendedPorts", (json_int_t)(x.n - x.n_ask), "pendingPorts",
					      (json_int_t)x.n_ask, "requestId", x.ask_id));
	else
		api_json(resp, 200, json_pack("{s:I}", "extendedPorts", (json_int_t)x.n));
	goto out;
fail:
	if (tx) {
		store_rollback(api->store);
		api_reconcile(api, NULL);
	}
	api_log(api, c, API_OP_EXTEND, x.text, "Failed", x.body ? x.body->justification : NULL, "%s: %s%s%s", err.code,
		err.message, err.target[0] ? " at " : "", err.target);
	api_error_record(resp, api_fault_status(fault, r), &err);
out:
	extend_clear(&x);
}

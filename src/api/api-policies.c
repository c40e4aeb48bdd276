/* JIT network access policies: the four lists, Get, CreateOrUpdate and Delete, each applied to the kernel in the same step. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api-internal.h"
#include "codec/codec.h"
#include "core/timeutil.h"

/* A policy's version for If-Match: its last write time, quoted as HTTP wants. */
static void
policy_etag(const struct store_policy *sp, char *buf, size_t size)
{
	snprintf(buf, size, "\"%llx\"", (unsigned long long)sp->updated_ns);
}

/*
 * Does If-Match `match` / If-None-Match `none` (NULL: not sent) allow writing over `sp` (NULL: no policy yet)?
 * The ETag names the policy's version, so a weak one (W/"...", what a gzip-compressed GET carries) matches as well.
 */
bool
api_policy_precondition_ok(const char *match, const char *none, const struct store_policy *sp)
{
	char etag[32];

	if (none && !strcmp(none, "*") && sp)
		return false;
	if (!match || !strcmp(match, "*"))
		return !match || sp;
	if (!sp)
		return false;
	policy_etag(sp, etag, sizeof(etag));
	return strstr(match, etag) != NULL;
}

void
api_policies_list(struct api *api, const struct api_caller *c, const struct http_request *req,
		  const struct api_list_scope *ls, struct http_response *resp)
{
	struct store_policy *pols = NULL;
	size_t n = 0, i;
	json_t *items;
	int r;

	if (!rbac_any_allows(c->assign, c->n_assign, RBAC_POLICY_READ, NULL)) {
		api_require(api, c, RBAC_POLICY_READ, req->path, resp);
		return;
	}
	if ((r = store_policy_list(api->store, &pols, &n)) < 0) {
		api_store_error(api, resp, r, "cannot read policies");
		return;
	}
	items = json_array();
	for (i = 0; i < n; i++) {
		json_t *o;

		if (ls->resource_group && !arm_name_equal(ls->resource_group, pols[i].arm.resource_group))
			continue;
		if (ls->location && !arm_name_equal(ls->location, pols[i].arm.location))
			continue;
		if (!api_policy_visible(api, c, &pols[i]))
			continue;
		o = api_policy_render(api, c, &pols[i]);
		if (o)
			json_array_append_new(items, o);
	}
	store_policies_free(pols, n);
	api_list_respond(req, items, resp);
}

void
api_policy_get(struct api *api, const struct api_caller *c, const struct http_request *req,
	       const struct arm_policy_id *id, struct http_response *resp)
{
	struct store_policy sp;
	char text[ARM_ID_MAX + 1], held[API_CALLER_TEXT_MAX], key[ARM_ID_MAX + API_CALLER_TEXT_MAX + 8];
	json_t *o;
	int r;

	arm_policy_id_format(id, text, sizeof(text));
	/* what this caller's roles and scopes saw of this policy, if nothing was written since (api-cache.c) */
	api_caller_text(c, held, sizeof(held));
	snprintf(key, sizeof(key), "%s\n%s", text, held);
	if (api_render_cache_get(api, key, http_accepts_gzip(http_request_header(req, "Accept-Encoding")), resp))
		return;
	r = store_policy_get(api->store, id, &sp);
	if (r == -ENOENT) {
		if (!api_require(api, c, RBAC_POLICY_READ, text, resp))
			return;
		api_error(resp, 404, "ResourceNotFound", "", "the JIT network access policy '%s' was not found",
			  text);
		return;
	}
	if (r < 0) {
		api_store_error(api, resp, r, "cannot read the policy");
		return;
	}
	if (!api_policy_visible(api, c, &sp)) {
		store_policy_clear(&sp);
		api_require(api, c, RBAC_POLICY_READ, text, resp);
		return;
	}
	o = api_policy_render(api, c, &sp);
	policy_etag(&sp, text, sizeof(text));
	http_response_header(resp, "ETag", text);
	store_policy_clear(&sp);
	if (!o) {
		api_error(resp, 500, "StoreError", "", "cannot render the policy");
		return;
	}
	api_json(resp, 200, o);
	api_render_cache_put(api, key, resp, text);
}

/*
 * What a policy write takes away from live grants: those `p` no longer covers end (all of the
 * policy's when p is NULL: a delete), and those ending later than now + their rule's maximum
 * (lowered, or the deployment's cap) are cut short to end then. Read before any write, so that
 * a store refusing the write cannot keep them open (see policy_closes_pending).
 */
struct policy_closes {
	struct store_grant *end;	/* ending */
	size_t n_end;
	struct store_grant *cut;	/* cut short: cut[i].end_ns is the new end */
	size_t n_cut;
};

static void
policy_closes_free(struct policy_closes *pc)
{
	free(pc->end);
	free(pc->cut);
	memset(pc, 0, sizeof(*pc));
}

enum api_grant_fate
api_policy_grant_fate(const struct policy *p, const struct store_vm *vm, const struct store_grant *g, int64_t now,
		      int64_t cap_ms, int64_t *ret_end)
{
	const struct policy_vm *pv;
	const struct policy_port *pp;
	int64_t max_ms, max_end;

	if (g->end_ns <= now)
		return API_GRANT_KEEP;	/* over already: api_expire's to record */
	/* still covered: same VM, port and protocol, its source still allowed */
	if (!p || !vm || policy_find_vm(p, &vm->arm, &pv) < 0 || policy_find_port(pv, g->port, g->proto, &pp) < 0 ||
	    !policy_port_allows_source(pp, &g->source))
		return API_GRANT_END;
	max_ms = pp->max_duration_ms < cap_ms ? pp->max_duration_ms : cap_ms;
	max_end = now + max_ms * TIME_NS_PER_MS;
	if (g->end_ns <= max_end)
		return API_GRANT_KEEP;
	*ret_end = max_end;
	return API_GRANT_CUT;
}

static int
policy_closes_collect(struct api *api, int64_t policy_id, const struct policy *p, int64_t now,
		      struct policy_closes *pc, struct core_error *err)
{
	struct store_grant *g = NULL;
	struct store_vm *vms = NULL;
	size_t n = 0, n_vms = 0, i, k;
	int r;

	memset(pc, 0, sizeof(*pc));
	if (!policy_id)
		return 0;
	if ((r = store_grants_initiated(api->store, &g, &n)) < 0 || (r = store_vm_list(api->store, &vms, &n_vms)) < 0) {
		api_store_fail(api, r, err, "cannot read the store");
		goto out;
	}
	pc->end = calloc(n ? n : 1, sizeof(*pc->end));
	pc->cut = calloc(n ? n : 1, sizeof(*pc->cut));
	if (!pc->end || !pc->cut) {
		r = -ENOMEM;
		core_error_set(err, "InternalError", "", "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		int64_t end;

		if (g[i].policy_id != policy_id)
			continue;
		for (k = 0; k < n_vms && vms[k].id != g[i].vm_id; k++)
			;
		switch (api_policy_grant_fate(p, k < n_vms ? &vms[k] : NULL, &g[i], now, api->settings.max_duration_ms,
					      &end)) {
		case API_GRANT_END:
			pc->end[pc->n_end++] = g[i];
			break;
		case API_GRANT_CUT:
			pc->cut[pc->n_cut] = g[i];
			pc->cut[pc->n_cut++].end_ns = end;
			break;
		case API_GRANT_KEEP:
			break;
		}
	}
	r = 0;
out:
	if (r < 0)
		policy_closes_free(pc);
	free(g);
	free(vms);
	return r;
}

/* The closes in the store, inside the caller's transaction, with an activity entry each. */
static int
policy_closes_write(struct api *api, const struct api_caller *c, const struct policy_closes *pc, int64_t now,
		    const char *policy_text, struct core_error *err)
{
	size_t i;
	int r;

	for (i = 0; i < pc->n_end; i++) {
		const struct store_grant *g = &pc->end[i];

		r = store_grant_end(api->store, g->request_id, g->vm_id, g->port, STORE_REASON_POLICY_CHANGED, now);
		if (r < 0) {
			api_store_fail(api, r, err, "cannot end a grant");
			return r;
		}
		api_log(api, c, "Revoke", policy_text, "Revoked", NULL,
			"port %u of request %s (by %s) ended because the policy no longer allows it", g->port,
			g->request_id, g->requestor);
	}
	for (i = 0; i < pc->n_cut; i++) {
		const struct store_grant *g = &pc->cut[i];
		char end[64];

		/* the new maximum from now holds on the monotonic clock too (never later than its end there) */
		r = store_grant_truncate(api->store, g->request_id, g->vm_id, g->port, g->end_ns, api->boot_id,
					 time_mono_ns() + (g->end_ns - now));
		if (r < 0) {
			api_store_fail(api, r, err, "cannot shorten a grant");
			return r;
		}
		time_format_azure(g->end_ns, end, sizeof(end));
		api_log(api, c, RBAC_POLICY_WRITE, policy_text, "Truncated", NULL,
			"port %u of request %s (by %s) now ends at %s, the policy's new maximum duration from now",
			g->port, g->request_id, g->requestor, end);
	}
	return 0;
}

/*
 * The store refused the policy write: the policy stays as it was, but what the write would have
 * closed is closed all the same (api-closing.c), since closing never waits on the disk. Returns how
 * many grants that touched; the caller reconciles the kernel and says so in its error.
 */
static size_t
policy_closes_pending(struct api *api, const struct api_caller *c, const struct policy_closes *pc, int64_t now,
		      bool *ret_durable)
{
	size_t i, n = 0;

	*ret_durable = true;
	for (i = 0; i < pc->n_end; i++)
		if (api_closing_add(api, c, &pc->end[i], STORE_JOURNAL_END, STORE_REASON_POLICY_CHANGED, now,
				    ret_durable) >= 0)
			n++;
	for (i = 0; i < pc->n_cut; i++)
		if (api_closing_add(api, c, &pc->cut[i], STORE_JOURNAL_TRUNCATE, STORE_REASON_NONE, pc->cut[i].end_ns,
				    ret_durable) >= 0)
			n++;
	return n;
}

/* A store error's message, plus what was closed regardless of it. */
static void
say_closed_anyway(struct core_error *err, size_t n, bool durable)
{
	char m[ERROR_MESSAGE_MAX];

	if (!n)
		return;
	/* a message cut at ERROR_MESSAGE_MAX still says what it must */
	if (snprintf(m, sizeof(m), "%s; the %zu live grant(s) this change ends or shortens were closed in the kernel "
		     "all the same, and are recorded when the store accepts writes%s", err->message, n,
		     durable ? "" : " (not all fit the close journal: a restart before then opens those again)") > 0)
		snprintf(err->message, sizeof(err->message), "%s", m);
}

/*
 * The activity log keeps policy writes on the policy's id; a VM's own log should
 * show them too: one entry per VM whose JIT rules came, changed or went.
 */
static void
log_vm_changes(struct api *api, const struct api_caller *c, const struct policy *old, const struct policy *now,
	       const char *policy_text, const char *action)
{
	struct policy_vm_ref *index;
	size_t i, k;

	for (i = 0; now && i < now->n_vms; i++) {
		char vmtext[ARM_ID_MAX + 1], ports[256] = "";
		size_t len = 0;

		arm_vm_id_format(&now->vms[i].id, vmtext, sizeof(vmtext));
		for (k = 0; k < now->vms[i].n_ports && len < sizeof(ports) - 16; k++) {
			int w = snprintf(ports + len, sizeof(ports) - len, "%s%u/%s", k ? ", " : "", now->vms[i].ports[k].number,
					 net_proto_name(now->vms[i].ports[k].proto));

			if (w > 0)
				len += (size_t)w;
		}
		api_log(api, c, action, vmtext, "Succeeded", NULL, "JIT configured on this VM: ports %s (policy %s)", ports,
			policy_text);
	}
	/* old against new through an index of the new (1,000 VMs pair by pair is a million compares) */
	index = now && old && old->n_vms ? policy_vm_index(now) : NULL;
	for (i = 0; old && i < old->n_vms; i++) {
		const struct policy_vm *still;
		char vmtext[ARM_ID_MAX + 1];

		if (now && policy_find_vm_indexed(now, index, &old->vms[i].id, &still) == 0)
			continue;
		arm_vm_id_format(&old->vms[i].id, vmtext, sizeof(vmtext));
		api_log(api, c, action, vmtext, "Succeeded", NULL, "JIT disabled on this VM: its ports are open again "
			"(policy %s)", policy_text);
	}
	free(index);
}

/* A policy write (PUT or DELETE) on its way from the request to the answer; each step fills what the next reads. */
struct policy_write {
	const struct arm_policy_id *id;
	char text[ARM_ID_MAX + 1];
	int64_t now;
	/* the store half of the transaction: store_policy_put or store_policy_delete, from the fields below */
	int (*store)(struct api *api, struct policy_write *w);
	struct policy *p;		/* PUT: the new policy (NULL for a DELETE) */
	struct policy *old;		/* the stored one, decoded, if any: what the VMs' log entries compare with */
	int64_t policy_id;		/* the stored one's id; 0: none yet */
	int64_t *vm_ids;		/* PUT: the store ids of p's VMs */
	json_t *enc;
	char *json;			/* PUT: p as stored */
	bool created;
	struct policy_closes pc;
	bool tx;			/* a store transaction is open */
	enum api_fault fault;		/* where it stopped (api_fault_status) */
	struct core_error err;
};

static void
policy_write_init(struct policy_write *w, const struct arm_policy_id *id)
{
	memset(w, 0, sizeof(*w));
	w->id = id;
	w->now = time_now_ns();
	arm_policy_id_format(id, w->text, sizeof(w->text));
}

static void
policy_write_clear(struct policy_write *w)
{
	policy_closes_free(&w->pc);
	json_decref(w->enc);
	free(w->json);
	free(w->vm_ids);
	policy_free(w->p);
	policy_free(w->old);
}

/*
 * Undo what a failed write began, log it and answer. When the store refused, the policy stays
 * as it was (a deleted one keeps its ports protected), but what the write would have closed is
 * closed all the same.
 */
static void
policy_write_fail(struct api *api, const struct api_caller *c, struct policy_write *w, const char *action, int r,
		  struct http_response *resp)
{
	if (w->fault == API_FAULT_STORE) {
		bool durable = true;
		/* agents only: no replica closes anything itself, and a close kept here reaches no agent (api-revoke.c) */
		size_t closed = api->agents_only ? 0 : policy_closes_pending(api, c, &w->pc, w->now, &durable);

		say_closed_anyway(&w->err, closed, durable);
		if (w->tx || closed) {
			store_rollback(api->store);
			w->tx = false;
			api_reconcile(api, NULL);
		}
	}
	if (w->tx) {
		store_rollback(api->store);
		w->tx = false;
		if (api->fw)
			api_reconcile(api, NULL);
	}
	api_log(api, c, action, w->text, "Failed", NULL, "%s: %s", w->err.code, w->err.message);
	api_error_record(resp, api_fault_status(w->fault, r), &w->err);
}

/* This host's kernel table moved to what the store says inside the write's transaction. */
static int
policy_write_kernel(struct api *api, struct policy_write *w)
{
	struct api_state st;
	int r;

	if ((r = api_state_read(api, &st, &w->err)) < 0)
		return r;
	w->fault = API_FAULT_INTERNAL;
	if ((r = api_state_build(api, &st, &w->err)) < 0)
		return r;
	api_kernel_start(api);
	r = api_kernel_timed(api, fw_set_state(api->fw, &st.fw, NULL, &w->err));
	api_state_free(&st);
	return r;
}

/*
 * The write itself, the same for PUT and DELETE: read what it closes, then in one store
 * transaction the policy (w->store), the closes, and the kernel moved to what the store now
 * says. On failure w->fault says where; policy_write_fail() undoes the rest.
 */
static int
policy_write_apply(struct api *api, const struct api_caller *c, struct policy_write *w)
{
	int r;

	w->fault = API_FAULT_STORE;
	if ((r = policy_closes_collect(api, w->policy_id, w->p, w->now, &w->pc, &w->err)) < 0)
		return r;
	if ((r = store_begin(api->store)) < 0)
		return api_store_refused(api, r, &w->err, "cannot write");
	w->tx = true;
	if ((r = w->store(api, w)) < 0)
		return r;
	/*
	 * the kernel half: record the closes, then move the kernel to what the store now says; with no
	 * kernel table here the policy's VMs are all agent VMs (policy_agents_only), whose agents follow the store
	 */
	if ((r = policy_closes_write(api, c, &w->pc, w->now, w->text, &w->err)) < 0 ||
	    (api->fw && (r = policy_write_kernel(api, w)) < 0))
		return r;
	w->fault = API_FAULT_STORE;
	if ((r = store_commit(api->store)) < 0)
		return api_store_refused(api, r, &w->err, "the store refused the change");
	w->tx = false;
	return 0;
}

/*
 * Is every VM of `p` (NULL: none decoded) an agent VM? Their agents enforce the policy, so a write
 * naming only those (before and after) needs no kernel table on this host (as api_fw_check_vms).
 */
static bool
policy_agents_only(struct api *api, const struct policy *p)
{
	struct store_vm vm;
	size_t i;

	if (!p)
		return false;
	for (i = 0; i < p->n_vms; i++)
		if (store_vm_get(api->store, &p->vms[i].id, &vm) < 0 || vm.point != STORE_POINT_AGENT)
			return false;
	return true;
}

/* The 503 of a write this host cannot make without its kernel table: refused whole, before anything is applied. */
static int
policy_fw_refuse(struct api *api, struct policy_write *w)
{
	w->fault = API_FAULT_UNAVAILABLE;
	return core_error_set(&w->err, FW_ERR_UNAVAILABLE, "", "this host cannot enforce JIT access: %s",
			      api->fw_reason);
}

/* PUT, decode: the body is a valid policy, and this host can enforce it (its own firewall, or agent VMs only). */
static int
policy_put_decode(struct api *api, const struct http_request *req, struct policy_write *w)
{
	int r;

	w->fault = API_FAULT_REQUEST;
	if ((r = codec_policy_decode(req->body, req->body_len, w->id, &w->p, &w->err)) == 0)
		r = policy_validate(w->p, api->settings.max_duration_ms, &w->err);
	if (r == 0)
		r = api_policy_roles_check(api, w->p, &w->err);
	/* without a firewall here, a body naming no VM jitgated can show to be an agent VM is refused for that first */
	if (!api->fw && !api->agents_only && !policy_agents_only(api, w->p))
		return policy_fw_refuse(api, w);
	return r < 0 ? r : 0;
}

/* PUT, plan: each VM of the policy is in the inventory, in its location, supported, and in no other policy. */
static int
policy_put_vms(struct api *api, struct policy_write *w)
{
	const struct policy *p = w->p;
	int64_t other;
	size_t i;

	w->fault = API_FAULT_REQUEST;
	for (i = 0; i < p->n_vms; i++) {
		struct store_vm vm;
		char target[64], vmtext[ARM_ID_MAX + 1];

		snprintf(target, sizeof(target), "properties.virtualMachines[%zu].id", i);
		arm_vm_id_format(&p->vms[i].id, vmtext, sizeof(vmtext));
		if (store_vm_get(api->store, &p->vms[i].id, &vm) < 0)
			return core_error_set(&w->err, "VirtualMachineNotFound", target,
					      "the virtual machine '%s' is not in jitgate's inventory", vmtext);
		if (!arm_name_equal(vm.location, w->id->location))
			return core_error_set(&w->err, "LocationMismatch", target,
					      "the virtual machine '%s' is in location '%s', the policy in '%s'", vmtext,
					      vm.location, w->id->location);
		if (api->agents_only && vm.point != STORE_POINT_AGENT)
			return api_agent_required(target, vmtext, vm.point, &w->err);
		if (vm.unsupported_reason[0])
			return core_error_set(&w->err, "VirtualMachineUnsupported", target,
					      "JIT cannot be enabled on '%s': %s", vmtext, vm.unsupported_reason);
		if (store_policy_of_vm(api->store, vm.id, &other) == 0 && other != w->policy_id) {
			struct store_policy op;
			char otext[ARM_ID_MAX + 1] = "another policy";

			if (store_policy_get_by_id(api->store, other, &op) == 0) {
				arm_policy_id_format(&op.arm, otext, sizeof(otext));
				store_policy_clear(&op);
			}
			return core_error_set(&w->err, "VirtualMachineInAnotherPolicy", target,
					      "the virtual machine '%s' is already in the policy '%s'", vmtext, otext);
		}
		w->vm_ids[i] = vm.id;
	}
	return 0;
}

/* PUT, plan: the policy it replaces (If-Match / If-None-Match) and its VMs (the JSON to store: policy_put_store). */
static int
policy_put_plan(struct api *api, const struct http_request *req, struct policy_write *w)
{
	struct store_policy sp = { 0 };
	bool stored = store_policy_get(api->store, w->id, &sp) == 0, ok;

	if (stored) {
		w->policy_id = sp.id;
		api_policy_decode_stored(api, &sp, &w->old, NULL);
	}
	/* the VMs it takes out need this host's kernel as much as those it puts in */
	if (!api->fw && !api->agents_only && stored && !policy_agents_only(api, w->old)) {
		store_policy_clear(&sp);
		return policy_fw_refuse(api, w);
	}
	ok = api_policy_precondition_ok(http_request_header(req, "If-Match"), http_request_header(req, "If-None-Match"),
					stored ? &sp : NULL);
	store_policy_clear(&sp);
	if (!ok) {
		w->fault = API_FAULT_PRECONDITION;
		return core_error_set(&w->err, "PreconditionFailed", "",
				      "the policy changed since it was read (If-Match / If-None-Match); read it again and retry");
	}
	w->fault = API_FAULT_INTERNAL;
	if (!(w->vm_ids = calloc(w->p->n_vms ? w->p->n_vms : 1, sizeof(*w->vm_ids))))
		return core_error_set(&w->err, "InternalError", "", "out of memory"), -ENOMEM;
	return policy_put_vms(api, w);
}

/*
 * PUT's store half (inside policy_write_apply's transaction): the DNAT mapped ports checked and
 * picked here, where the write lock holds other replicas' writes back (on PostgreSQL), then the
 * policy as stored and its mapped ports, whose key refuses a port given twice all the same.
 */
static int
policy_put_store(struct api *api, struct policy_write *w)
{
	int r;

	if ((r = api_dnat_plan(api, w->p, w->old, w->policy_id, &w->err)) < 0) {
		w->fault = r == -EINVAL ? API_FAULT_REQUEST : r == -ENOMEM ? API_FAULT_INTERNAL : API_FAULT_STORE;
		return r;
	}
	w->enc = codec_policy_encode(w->p);
	if (!(w->json = w->enc ? codec_dump(w->enc, NULL) : NULL)) {
		w->fault = API_FAULT_INTERNAL;
		return core_error_set(&w->err, "InternalError", "", "out of memory"), -ENOMEM;
	}
	r = store_policy_put(api->store, w->id, w->json, w->vm_ids, w->p->n_vms, w->now, &w->policy_id, &w->created);
	if (r == 0)
		r = api_dnat_store(api, w->p, w->policy_id, &w->err);
	if (r == -EADDRINUSE) {
		w->fault = API_FAULT_REQUEST;
		return r;
	}
	if (r == -EEXIST) {
		w->fault = API_FAULT_REQUEST;
		return core_error_set(&w->err, "VirtualMachineInAnotherPolicy", "",
				      "a virtual machine of this policy is already in another policy");
	}
	if (r < 0)
		return api_store_refused(api, r, &w->err, "the store refused the policy");
	return 0;
}

/* PUT, answer: log the write, and return the policy as it is stored now, with its ETag. */
static void
policy_put_answer(struct api *api, const struct api_caller *c, struct policy_write *w, struct http_response *resp)
{
	struct store_policy sp = { 0 };
	char etag[32];
	json_t *out;

	api_log(api, c, RBAC_POLICY_WRITE, w->text, "Succeeded", NULL, "%s the policy: %zu virtual machine(s)",
		w->created ? "created" : "replaced", w->p->n_vms);
	log_vm_changes(api, c, w->old, w->p, w->text, RBAC_POLICY_WRITE);
	if (store_policy_get(api->store, w->id, &sp) < 0 || !(out = api_policy_render(api, c, &sp))) {
		store_policy_clear(&sp);
		/* the write was made (and logged so): no "Failed" entry */
		core_error_set(&w->err, "StoreError", "", "the policy was saved but cannot be read back");
		api_error_record(resp, 500, &w->err);
		return;
	}
	policy_etag(&sp, etag, sizeof(etag));
	http_response_header(resp, "ETag", etag);
	store_policy_clear(&sp);
	api_json(resp, 200, out);
}

void
api_policy_put(struct api *api, const struct api_caller *c, const struct http_request *req,
	       const struct arm_policy_id *id, struct http_response *resp)
{
	struct policy_write w;
	int r;

	policy_write_init(&w, id);
	w.store = policy_put_store;
	if (!api_require(api, c, RBAC_POLICY_WRITE, w.text, resp))
		goto out;
	if ((r = policy_put_decode(api, req, &w)) < 0 || (r = policy_put_plan(api, req, &w)) < 0 ||
	    (r = policy_write_apply(api, c, &w)) < 0) {
		policy_write_fail(api, c, &w, RBAC_POLICY_WRITE, r, resp);
		goto out;
	}
	policy_put_answer(api, c, &w, resp);
out:
	policy_write_clear(&w);
}

/* DELETE's store half (inside policy_write_apply's transaction). */
static int
policy_delete_store(struct api *api, struct policy_write *w)
{
	int r = store_policy_delete(api->store, w->policy_id);

	return r < 0 ? api_store_refused(api, r, &w->err, "cannot delete") : 0;
}

void
api_policy_delete(struct api *api, const struct api_caller *c, const struct http_request *req,
		  const struct arm_policy_id *id, struct http_response *resp)
{
	struct policy_write w;
	struct store_policy sp;
	int r;

	(void)req;
	policy_write_init(&w, id);
	w.store = policy_delete_store;
	if (!api_require(api, c, RBAC_POLICY_DELETE, w.text, resp))
		return;
	r = store_policy_get(api->store, id, &sp);
	if (r == -ENOENT) {
		resp->status = 204;
		return;
	}
	if (r < 0) {
		api_store_error(api, resp, r, "cannot read the policy");
		return;
	}
	api_policy_decode_stored(api, &sp, &w.old, NULL);
	if (!api->fw && !api->agents_only && !policy_agents_only(api, w.old)) {
		store_policy_clear(&sp);
		policy_write_clear(&w);
		api_error(resp, 503, FW_ERR_UNAVAILABLE, "", "this host cannot enforce JIT access: %s",
			  api->fw_reason);
		return;
	}
	w.policy_id = sp.id;
	if ((r = policy_write_apply(api, c, &w)) < 0) {
		policy_write_fail(api, c, &w, RBAC_POLICY_DELETE, r, resp);
		goto out;
	}
	if (w.old)
		log_vm_changes(api, c, w.old, NULL, w.text, RBAC_POLICY_DELETE);
	api_log(api, c, RBAC_POLICY_DELETE, w.text, "Succeeded", NULL, "deleted the policy; its ports are unprotected");
	resp->status = 200;
out:
	store_policy_clear(&sp);
	policy_write_clear(&w);
}

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
 * Does the request's If-Match / If-None-Match allow writing over `sp` (NULL: no policy yet)? The ETag names
 * the policy's version, so a weak one (W/"...", what a gzip-compressed GET carries) matches as well.
 */
static bool
precondition_ok(const struct http_request *req, const struct store_policy *sp)
{
	const char *match = http_request_header(req, "If-Match"), *none = http_request_header(req, "If-None-Match");
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

	if (!c->role || !rbac_role_allows(c->role, RBAC_POLICY_READ)) {
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
	char text[ARM_ID_MAX + 1], key[ARM_ID_MAX + RBAC_ROLE_NAME_MAX + STORE_SCOPE_MAX + 8];
	json_t *o;
	int r;

	arm_policy_id_format(id, text, sizeof(text));
	/* what this caller's role and scope saw of this policy, if nothing was written since (api-cache.c) */
	snprintf(key, sizeof(key), "%s\n%s\n%s", text, c->role ? c->role->name : "", c->scope);
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
		const struct policy_vm *pv;
		const struct policy_port *pp;
		int64_t max_ms, max_end;

		if (g[i].policy_id != policy_id || g[i].end_ns <= now)
			continue;
		for (k = 0; k < n_vms && vms[k].id != g[i].vm_id; k++)
			;
		/* still covered: same VM, port and protocol, its source still allowed */
		if (!p || k == n_vms || policy_find_vm(p, &vms[k].arm, &pv) < 0 ||
		    policy_find_port(pv, g[i].port, g[i].proto, &pp) < 0 || !policy_port_allows_source(pp, &g[i].source)) {
			pc->end[pc->n_end++] = g[i];
			continue;
		}
		max_ms = pp->max_duration_ms < api->settings.max_duration_ms ? pp->max_duration_ms
									      : api->settings.max_duration_ms;
		max_end = now + max_ms * TIME_NS_PER_MS;
		if (g[i].end_ns > max_end) {
			pc->cut[pc->n_cut] = g[i];
			pc->cut[pc->n_cut++].end_ns = max_end;
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
					 api_mono_ns() + (g->end_ns - now));
		if (r < 0) {
			api_store_fail(api, r, err, "cannot shorten a grant");
			return r;
		}
		time_format_rfc3339(g->end_ns, end, sizeof(end));
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
 * The kernel half of a policy write: inside the caller's store transaction,
 * record the closes, then move the kernel to what the store now says. On failure the caller rolls back.
 */
static int
apply_policy_change(struct api *api, const struct api_caller *c, const struct policy_closes *pc, int64_t now,
		    const char *policy_text, struct core_error *err)
{
	struct api_state st;
	int r;

	if ((r = policy_closes_write(api, c, pc, now, policy_text, err)) < 0)
		return r;
	if ((r = api_state_load(api, &st, err)) < 0)
		return r;
	r = fw_set_state(api->fw, &st.fw, NULL, err);
	api_state_free(&st);
	return r;
}

/*
 * The activity log keeps policy writes on the policy's id; a VM's own log should
 * show them too: one entry per VM whose JIT rules came, changed or went.
 */
static void
log_vm_changes(struct api *api, const struct api_caller *c, const struct policy *old, const struct policy *now,
	       const char *policy_text, const char *action)
{
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
	for (i = 0; old && i < old->n_vms; i++) {
		const struct policy_vm *still;
		char vmtext[ARM_ID_MAX + 1];

		if (now && policy_find_vm(now, &old->vms[i].id, &still) == 0)
			continue;
		arm_vm_id_format(&old->vms[i].id, vmtext, sizeof(vmtext));
		api_log(api, c, action, vmtext, "Succeeded", NULL, "JIT disabled on this VM: its ports are open again "
			"(policy %s)", policy_text);
	}
}

void
api_policy_put(struct api *api, const struct api_caller *c, const struct http_request *req,
	       const struct arm_policy_id *id, struct http_response *resp)
{
	struct core_error err = { 0 };
	struct policy *p = NULL, *old = NULL;
	struct store_policy sp = { 0 };
	int64_t *vm_ids = NULL, policy_id = 0, other;
	char text[ARM_ID_MAX + 1], *json = NULL;
	json_t *enc = NULL, *out;
	struct policy_closes pc = { 0 };
	int64_t now = api_now_ns();
	bool created = false, tx = false, durable = true;
	size_t i;
	int r, status = 400;

	arm_policy_id_format(id, text, sizeof(text));
	if (!api_require(api, c, RBAC_POLICY_WRITE, text, resp))
		return;
	if (!api->fw) {
		status = 503;
		core_error_set(&err, FW_ERR_UNAVAILABLE, "", "this host cannot enforce JIT access: %s", api->fw_reason);
		goto fail;
	}
	if (codec_policy_decode(req->body, req->body_len, id, &p, &err) < 0 ||
	    policy_validate(p, api->settings.max_duration_ms, &err) < 0)
		goto fail;
	r = store_policy_get(api->store, id, &sp);
	if (r == 0) {
		policy_id = sp.id;
		api_policy_decode_stored(api, &sp, &old, NULL);
	}
	if (!precondition_ok(req, r == 0 ? &sp : NULL)) {
		status = 412;
		core_error_set(&err, "PreconditionFailed", "",
			       "the policy changed since it was read (If-Match / If-None-Match); read it again and retry");
		store_policy_clear(&sp);
		goto fail;
	}
	store_policy_clear(&sp);
	vm_ids = calloc(p->n_vms ? p->n_vms : 1, sizeof(*vm_ids));
	if (!vm_ids) {
		status = 500;
		core_error_set(&err, "InternalError", "", "out of memory");
		goto fail;
	}
	for (i = 0; i < p->n_vms; i++) {
		struct store_vm vm;
		char target[64], vmtext[ARM_ID_MAX + 1];

		snprintf(target, sizeof(target), "properties.virtualMachines[%zu].id", i);
		arm_vm_id_format(&p->vms[i].id, vmtext, sizeof(vmtext));
		if (store_vm_get(api->store, &p->vms[i].id, &vm) < 0) {
			core_error_set(&err, "VirtualMachineNotFound", target,
				       "the virtual machine '%s' is not in jitgate's inventory", vmtext);
			goto fail;
		}
		if (!arm_name_equal(vm.location, id->location)) {
			core_error_set(&err, "LocationMismatch", target,
				       "the virtual machine '%s' is in location '%s', the policy in '%s'", vmtext,
				       vm.location, id->location);
			goto fail;
		}
		if (vm.unsupported_reason[0]) {
			core_error_set(&err, "VirtualMachineUnsupported", target,
				       "JIT cannot be enabled on '%s': %s", vmtext, vm.unsupported_reason);
			goto fail;
		}
		if (store_policy_of_vm(api->store, vm.id, &other) == 0 && other != policy_id) {
			struct store_policy op;
			char otext[ARM_ID_MAX + 1] = "another policy";

			if (store_policy_get_by_id(api->store, other, &op) == 0) {
				arm_policy_id_format(&op.arm, otext, sizeof(otext));
				store_policy_clear(&op);
			}
			core_error_set(&err, "VirtualMachineInAnotherPolicy", target,
				       "the virtual machine '%s' is already in the policy '%s'", vmtext, otext);
			goto fail;
		}
		vm_ids[i] = vm.id;
	}
	enc = codec_policy_encode(p);
	json = enc ? codec_dump(enc, NULL) : NULL;
	if (!json) {
		status = 500;
		core_error_set(&err, "InternalError", "", "out of memory");
		goto fail;
	}
	if ((r = policy_closes_collect(api, policy_id, p, now, &pc, &err)) < 0) {
		status = r == -ENOMEM ? 500 : api_store_status(r);
		goto fail;
	}
	if ((r = store_begin(api->store)) < 0) {
		status = api_store_fail(api, r, &err, "cannot write");
		goto store_refused;
	}
	tx = true;
	r = store_policy_put(api->store, id, json, vm_ids, p->n_vms, now, &policy_id, &created);
	if (r == -EEXIST) {
		core_error_set(&err, "VirtualMachineInAnotherPolicy", "",
			       "a virtual machine of this policy is already in another policy");
		goto fail;
	}
	if (r < 0) {
		status = api_store_fail(api, r, &err, "the store refused the policy");
		goto store_refused;
	}
	if ((r = apply_policy_change(api, c, &pc, now, text, &err)) < 0) {
		status = !strcmp(err.code, "StoreError") ? api_store_status(r) : 500;
		if (!strcmp(err.code, "StoreError"))
			goto store_refused;
		goto fail;
	}
	if ((r = store_commit(api->store)) < 0) {
		status = api_store_fail(api, r, &err, "the store refused the change");
		goto store_refused;
	}
	tx = false;
	api_log(api, c, RBAC_POLICY_WRITE, text, "Succeeded", NULL, "%s the policy: %zu virtual machine(s)",
		created ? "created" : "replaced", p->n_vms);
	log_vm_changes(api, c, old, p, text, RBAC_POLICY_WRITE);
	if (store_policy_get(api->store, id, &sp) < 0 || !(out = api_policy_render(api, c, &sp))) {
		store_policy_clear(&sp);
		core_error_set(&err, "StoreError", "", "the policy was saved but cannot be read back");
		status = 500;
		goto fail_logged;
	}
	{
		char etag[32];

		policy_etag(&sp, etag, sizeof(etag));
		http_response_header(resp, "ETag", etag);
	}
	store_policy_clear(&sp);
	api_json(resp, 200, out);
	goto out;
store_refused:
	/* the policy stays as it was; what it would have closed is closed all the same */
	{
		size_t closed = policy_closes_pending(api, c, &pc, now, &durable);

		say_closed_anyway(&err, closed, durable);
		if (tx || closed) {
			store_rollback(api->store);
			tx = false;
			api_reconcile(api, NULL);
		}
	}
	goto fail;
fail:
	if (tx) {
		store_rollback(api->store);
		if (api->fw)
			api_reconcile(api, NULL);
	}
	api_log(api, c, RBAC_POLICY_WRITE, text, "Failed", NULL, "%s: %s", err.code, err.message);
fail_logged:
	api_error_record(resp, status, &err);
out:
	policy_closes_free(&pc);
	json_decref(enc);
	free(json);
	free(vm_ids);
	policy_free(p);
	policy_free(old);
}

void
api_policy_delete(struct api *api, const struct api_caller *c, const struct http_request *req,
		  const struct arm_policy_id *id, struct http_response *resp)
{
	struct core_error err = { 0 };
	struct policy_closes pc = { 0 };
	struct store_policy sp;
	char text[ARM_ID_MAX + 1];
	int64_t now = api_now_ns();
	bool tx = false, durable = true;
	int r, status = 500;

	(void)req;
	arm_policy_id_format(id, text, sizeof(text));
	if (!api_require(api, c, RBAC_POLICY_DELETE, text, resp))
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
	if (!api->fw) {
		store_policy_clear(&sp);
		api_error(resp, 503, FW_ERR_UNAVAILABLE, "", "this host cannot enforce JIT access: %s",
			  api->fw_reason);
		return;
	}
	if ((r = policy_closes_collect(api, sp.id, NULL, now, &pc, &err)) < 0) {
		status = r == -ENOMEM ? 500 : api_store_status(r);
		goto fail;
	}
	if ((r = store_begin(api->store)) < 0) {
		status = api_store_fail(api, r, &err, "cannot write");
		goto store_refused;
	}
	tx = true;
	if ((r = store_policy_delete(api->store, sp.id)) < 0) {
		status = api_store_fail(api, r, &err, "cannot delete");
		goto store_refused;
	}
	if ((r = apply_policy_change(api, c, &pc, now, text, &err)) < 0) {
		status = !strcmp(err.code, "StoreError") ? api_store_status(r) : 500;
		if (!strcmp(err.code, "StoreError"))
			goto store_refused;
		goto fail;
	}
	if ((r = store_commit(api->store)) < 0) {
		status = api_store_fail(api, r, &err, "the store refused the change");
		goto store_refused;
	}
	tx = false;
	{
		struct policy *old = NULL;

		if (api_policy_decode_stored(api, &sp, &old, NULL) == 0)
			log_vm_changes(api, c, old, NULL, text, RBAC_POLICY_DELETE);
		policy_free(old);
	}
	store_policy_clear(&sp);
	policy_closes_free(&pc);
	api_log(api, c, RBAC_POLICY_DELETE, text, "Succeeded", NULL, "deleted the policy; its ports are unprotected");
	resp->status = 200;
	return;
store_refused:
	/* the policy stays (its ports protected); its grants close all the same */
	{
		size_t closed = policy_closes_pending(api, c, &pc, now, &durable);

		say_closed_anyway(&err, closed, durable);
		if (tx || closed) {
			store_rollback(api->store);
			tx = false;
			api_reconcile(api, NULL);
		}
	}
fail:
	if (tx) {
		store_rollback(api->store);
		api_reconcile(api, NULL);
	}
	store_policy_clear(&sp);
	policy_closes_free(&pc);
	api_log(api, c, RBAC_POLICY_DELETE, text, "Failed", NULL, "%s: %s", err.code, err.message);
	api_error_record(resp, status, &err);
}

/* Revoke: close a policy's live ports early, in the store and the kernel; closing never waits on the disk. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api-internal.h"
#include "codec/codec.h"
#include "core/buf.h"
#include "core/timeutil.h"

/* One revoke as it passes from step to step. */
struct revoke {
	struct revoke_body *body;
	struct store_policy sp;
	struct store_grant *ends;	/* the grants it closes */
	size_t n_ends, cap_ends;
	struct api_drops drop;		/* ends in the kernel's form */
	int refused;			/* < 0: the store refused to record the closes, with this errno... */
	struct core_error store_err;	/* ...and this error */
	bool pending;			/* closed in the kernel, the store's record pending */
	bool durable;			/* ...and kept in the close journal */
	size_t killed;			/* sessions ended */
	char text[ARM_ID_MAX + 1];	/* the policy's id */
	int64_t now;
};

bool
api_revoke_wants(const struct store_grant *g, int64_t policy_id, int64_t now_ns, const char *requestor,
		 const struct store_grant *ends, size_t n_ends)
{
	size_t m;

	if (g->policy_id != policy_id || g->end_ns <= now_ns || (requestor && strcmp(g->requestor, requestor)))
		return false;
	for (m = 0; m < n_ends; m++)	/* a port named twice */
		if (ends[m].vm_id == g->vm_id && ends[m].port == g->port && !strcmp(ends[m].request_id, g->request_id))
			return false;
	return true;
}

/* Revoking one's own grants needs only initiate; anyone's needs revoke. Checked before any write. */
static bool
revoke_authorise(struct api *api, const struct api_caller *c, const struct revoke_body *body,
		 struct http_response *resp)
{
	size_t i;

	for (i = 0; i < body->n_vms; i++) {
		char vmtext[ARM_ID_MAX + 1];

		arm_vm_id_format(&body->vms[i].id, vmtext, sizeof(vmtext));
		if (!api_allowed(api, c, RBAC_POLICY_INITIATE, vmtext) &&
		    !api_require(api, c, RBAC_POLICY_REVOKE, vmtext, resp))
			return false;
	}
	return true;
}

/* What to close on the body's VM i (store id vm_id): reads only. */
static int
revoke_select_vm(struct api *api, const struct api_caller *c, struct revoke *rv, size_t i, int64_t vm_id,
		 struct core_error *err)
{
	const struct revoke_vm *bv = &rv->body->vms[i];
	struct store_grant *live = NULL, *grown;
	char vmtext[ARM_ID_MAX + 1];
	size_t n_live = 0, j, k;
	bool anyone;
	int r = 0;

	arm_vm_id_format(&bv->id, vmtext, sizeof(vmtext));
	anyone = api_allowed(api, c, RBAC_POLICY_REVOKE, vmtext);
	for (j = 0; j < bv->n_ports; j++) {
		free(live);
		live = NULL;
		if ((r = api_grants_live_on(api, vm_id, bv->ports[j], NULL, &live, &n_live, err)) < 0)
			goto out;
		for (k = 0; k < n_live; k++) {
			const struct store_grant *g = &live[k];
			const struct store_journal_entry *closed;

			if (!api_revoke_wants(g, rv->sp.id, rv->now, anyone ? NULL : c->name, rv->ends, rv->n_ends))
				continue;
			if ((closed = api_closing_find(api, g->request_id, g->vm_id, g->port)) &&
			    closed->kind == STORE_JOURNAL_END)
				continue;	/* closed already, its record pending */
			if (!(grown = array_grow(rv->ends, &rv->cap_ends, rv->n_ends, sizeof(*rv->ends)))) {
				core_error_set(err, "InternalError", "", "out of memory");
				r = -ENOMEM;
				goto out;
			}
			rv->ends = grown;
			rv->ends[rv->n_ends++] = *g;
		}
	}
out:
	free(live);
	return r;
}

/*
 * In one store transaction: record each close, take them out of the kernel, commit. 0 also when the
 * store refused (rv->refused and rv->store_err say why; nothing of it is kept, and the caller closes
 * them all the same); -errno with err when something else failed (the store undone, the kernel
 * reconciled to it).
 */
static int
revoke_record(struct api *api, const struct api_caller *c, struct revoke *rv, struct core_error *err)
{
	struct api_vm_memo memo = { 0 };
	size_t i;
	int r;

	if ((r = store_begin(api->store)) < 0) {
		api_store_fail(api, r, &rv->store_err, "cannot write");
		rv->refused = r;
		return 0;
	}
	for (i = 0; i < rv->n_ends; i++) {
		if ((r = api_grant_end(api, &rv->ends[i], STORE_REASON_USER_REQUESTED, rv->now, &rv->store_err)) < 0 ||
		    (rv->body->terminate_sessions &&
		     (r = api_termination_add(api, &rv->ends[i], rv->now, &rv->store_err)) < 0)) {
			store_rollback(api->store);
			rv->refused = r;
			return 0;
		}
		if ((r = api_drops_add(&rv->drop, &rv->ends[i], err)) < 0)
			goto undo;
		api_log(api, c, RBAC_POLICY_REVOKE, api_vm_text(api, &memo, rv->ends[i].vm_id), "Revoked", NULL,
			"closed port %u of request %s (by %s)%s", rv->ends[i].port, rv->ends[i].request_id,
			rv->ends[i].requestor, rv->body->terminate_sessions ? " and ended its open sessions" : "");
	}
	api_kernel_start(api);
	if (rv->drop.n && api->fw && (r = api_kernel_timed(api, fw_grant_remove(api->fw, rv->drop.v, rv->drop.n, NULL, err))) < 0)
		goto undo;
	if ((r = store_commit(api->store)) < 0) {
		api_store_fail(api, r, &rv->store_err, "the store refused the revoke");
		rv->refused = r;
	}
	return 0;
undo:
	store_rollback(api->store);
	api_reconcile(api, NULL);
	return r;
}

/*
 * The store refused to record a revoke: close the grants all the same (api-closing.c), so that
 * closing never waits on the disk. The kernel is reconciled to the store minus these closes.
 */
static int
revoke_pending(struct api *api, const struct api_caller *c, struct revoke *rv, struct core_error *err)
{
	size_t i;
	int r;

	rv->pending = true;
	rv->durable = true;
	for (i = 0; i < rv->n_ends; i++)
		if ((r = api_closing_add_revoke(api, c, &rv->ends[i], rv->now, rv->body->terminate_sessions,
						&rv->durable)) < 0)
			return core_error_set(err, "InternalError", "", "out of memory"), r;
	if (api->fw && (r = api_reconcile(api, err)) < 0)
		return r;
	free(rv->drop.v);
	rv->drop = (struct api_drops){ 0 };
	rv->drop.v = calloc(rv->n_ends, sizeof(*rv->drop.v));
	for (i = 0; rv->drop.v && i < rv->n_ends; i++)
		api_grant_to_fw(&rv->ends[i], &rv->drop.v[rv->drop.n++]);
	api_log(api, c, RBAC_POLICY_REVOKE, rv->text, "Revoked", NULL,
		"closed %zu port(s); %s, so the record is pending%s", rv->n_ends, rv->store_err.message,
		rv->durable ? "" : " (and not in the close journal: a restart before the store records it opens them again)");
	return 0;
}

/* End the closed ports' sessions if asked, and answer what was closed. */
static void
revoke_answer(struct api *api, const struct api_caller *c, struct revoke *rv, struct http_response *resp)
{
	struct core_error err = { 0 };
	json_t *out;

	if (rv->body->terminate_sessions && rv->drop.n && api->fw &&
	    fw_sessions_kill(api->fw, rv->drop.v, rv->drop.n, &rv->killed, &err) < 0)
		api_log(api, c, RBAC_POLICY_REVOKE, rv->text, "Failed", NULL, "ports closed but sessions not ended: %s",
			err.message);
	out = json_pack("{s:i, s:i, s:b}", "revokedPorts", (json_int_t)rv->n_ends, "terminatedSessions",
			(json_int_t)rv->killed, "recordPending", rv->pending);
	if (out && rv->pending)
		json_object_set_new(out, "message", json_sprintf(
			"the ports are closed in the kernel; the store refused to record it (%s)%s", rv->store_err.message,
			rv->durable ? ", so the close is kept in the close journal and recorded as soon as the store accepts writes"
				    : "; the close journal could not hold it either, so a restart of jitgated before the store "
				      "accepts writes would open them again"));
	api_json(resp, 200, out);
}

static void
revoke_clear(struct revoke *rv)
{
	codec_revoke_free(rv->body);
	store_policy_clear(&rv->sp);
	free(rv->ends);
	free(rv->drop.v);
}

void
api_policy_revoke(struct api *api, const struct api_caller *c, const struct http_request *req,
		  const struct arm_policy_id *id, struct http_response *resp)
{
	struct revoke rv = { .now = time_now_ns(), .durable = true };
	struct core_error err = { 0 };
	int r, status = 400;
	size_t i;

	arm_policy_id_format(id, rv.text, sizeof(rv.text));
	if (codec_revoke_decode(req->body, req->body_len, &rv.body, &err) < 0)
		goto fail;
	if ((r = api_policy_read(api, id, rv.text, &rv.sp, &err)) < 0) {
		status = r == -ENOENT ? 404 : api_store_status(r);
		goto fail;
	}
	if (!revoke_authorise(api, c, rv.body, resp))
		goto out;
	/* first what to close (reads only), so that a store refusing the writes cannot keep it open */
	for (i = 0; i < rv.body->n_vms; i++) {
		struct store_vm vm;
		char target[64];

		if (store_vm_get(api->store, &rv.body->vms[i].id, &vm) < 0) {
			snprintf(target, sizeof(target), "virtualMachines[%zu].id", i);
			core_error_set(&err, "VirtualMachineNotInPolicy", target, "the virtual machine is not in the policy");
			goto fail;
		}
		if (api_fw_check_vms(api, &vm.id, 1, &err) < 0) {
			status = 503;
			goto fail;
		}
		if ((r = revoke_select_vm(api, c, &rv, i, vm.id, &err)) < 0) {
			status = api_store_status(r);
			goto fail;
		}
	}
	if (revoke_record(api, c, &rv, &err) < 0) {
		status = 500;
		goto fail;
	}
	if (rv.refused < 0 && (!rv.n_ends || api->agents_only)) {
		/*
		 * nothing was to close; or, several replicas on PostgreSQL, nothing this replica closes itself:
		 * agents learn a close only from the store, and this replica's close journal would reach neither
		 * the other replicas nor their agents. The store's refusal is the answer (503), nothing kept.
		 */
		status = api_store_status(rv.refused);
		err = rv.store_err;
		goto fail;
	}
	/* the kernel closes them all the same; the store records them when it can (api-closing.c) */
	if (rv.refused < 0 && revoke_pending(api, c, &rv, &err) < 0) {
		status = 500;
		goto fail;
	}
	revoke_answer(api, c, &rv, resp);
	goto out;
fail:
	api_log(api, c, RBAC_POLICY_REVOKE, rv.text, "Failed", NULL, "%s: %s", err.code, err.message);
	api_error_record(resp, status, &err);
out:
	revoke_clear(&rv);
}

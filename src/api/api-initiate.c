/* Initiate (open ports just in time) and revoke (close them early), all-or-nothing, store and kernel in one step. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "api/api-internal.h"
#include "codec/codec.h"
#include "core/buf.h"
#include "core/duration.h"
#include "core/timeutil.h"

/* A justification the codec accepts is stored whole (api_policy_initiate copies it into the request). */
_Static_assert(API_JUSTIFICATION_MAX == STORE_JUSTIFICATION_MAX, "the codec and the store disagree on a justification's length");

static int
uuid4(char *buf, size_t size)
{
	uint8_t b[16];

	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
		return -EIO;
	b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
	b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
	snprintf(buf, size, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2],
		 b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
	return 0;
}

/* Checks one requested port against the policy; fills the grant or the error. */
static int
check_port(struct api *api, const struct api_caller *c, const struct policy_vm *pv, const struct initiate_port *ip,
	   const char *target, int64_t now_ns, struct store_grant *g, struct core_error *err)
{
	const struct policy_port *rule;
	enum net_proto proto;
	struct net_source src;
	char t[ERROR_TARGET_MAX], when[64], dur[32];
	int64_t max_end, max_ms;

	if (policy_port_protocols(pv, ip->number, &proto) < 0 || policy_find_port(pv, ip->number, proto, &rule) < 0) {
		snprintf(t, sizeof(t), "%s.number", target);
		return core_error_set(err, "PortNotInPolicy", t, "port %u is not in the policy's rules for this virtual machine",
				      ip->number);
	}
	snprintf(t, sizeof(t), "%s.endTimeUtc", target);
	if (ip->end_ns <= now_ns)
		return core_error_set(err, "EndTimeInPast", t, "endTimeUtc must be in the future");
	/* the deployment's cap applies to rules stored before it was lowered, too */
	max_ms = rule->max_duration_ms < api->settings.max_duration_ms ? rule->max_duration_ms
									 : api->settings.max_duration_ms;
	max_end = now_ns + max_ms * TIME_NS_PER_MS;
	if (ip->end_ns > max_end + INITIATE_CLOCK_SLACK_MS * TIME_NS_PER_MS) {
		time_format_rfc3339(max_end, when, sizeof(when));
		duration_format_iso8601(max_ms, dur, sizeof(dur));
		return core_error_set(err, "EndTimeTooLate", t,
				      "port %u may be opened for at most %s, so endTimeUtc may be at most %s", ip->number,
				      dur, when);
	}
	if (ip->has_source) {
		src = ip->source;
	} else {
		if (!c->addr.family) {
			snprintf(t, sizeof(t), "%s.allowedSourceAddressPrefix", target);
			return core_error_set(err, "MissingSourceAddressPrefix", t,
					      "the caller's IP address is not known (the unix socket, or a trusted proxy that "
					      "sent no usable X-Forwarded-For): give allowedSourceAddressPrefix");
		}
		memset(&src, 0, sizeof(src));
		src.prefix.addr = c->addr;
		src.prefix.len = (uint8_t)net_addr_bits(&c->addr);
	}
	if (!policy_port_allows_source(rule, &src)) {
		char s[NET_PREFIX_TEXT_MAX];

		net_source_format(&src, s, sizeof(s));
		snprintf(t, sizeof(t), "%s.allowedSourceAddressPrefix", target);
		return core_error_set(err, "SourceAddressNotAllowed", t,
				      "the source '%s' is not inside the addresses the policy allows for port %u", s,
				      ip->number);
	}
	memset(g, 0, sizeof(*g));
	g->port = ip->number;
	g->proto = rule->proto;
	g->source = src;
	g->end_ns = ip->end_ns;
	g->status = STORE_GRANT_INITIATED;
	return 0;
}

/* Grants one call closes, in the kernel's form: removed in the same batch as the call's other changes. */
struct drops {
	struct fw_grant *v;
	size_t n, cap;
};

/* The live grants on one VM port (of one requestor, or anyone's with NULL); an HTTP status and err on failure. */
static int
live_grants_on(struct api *api, int64_t vm_id, uint16_t port, const char *requestor, struct store_grant **ret,
	       size_t *ret_n, struct core_error *err)
{
	int r = store_grants_live_on(api->store, vm_id, port, requestor, ret, ret_n);

	if (r < 0)
		return api_store_fail(api, r, err, "cannot read grants");
	return 0;
}

/* End one grant in the store (inside the caller's transaction) and queue its removal from the kernel. */
static int
end_grant(struct api *api, const struct store_grant *g, enum store_grant_reason reason, int64_t now,
	  struct drops *d, struct core_error *err)
{
	struct fw_grant *grown;
	int r = store_grant_end(api->store, g->request_id, g->vm_id, g->port, reason, now);

	if (r < 0) {
		return api_store_fail(api, r, err, "cannot close port %u of request %s", g->port, g->request_id);
	}
	if (!(grown = array_grow(d->v, &d->cap, d->n, sizeof(*d->v)))) {
		core_error_set(err, "InternalError", "", "out of memory");
		return 500;
	}
	d->v = grown;
	api_grant_to_fw(g, &d->v[d->n++]);
	return 0;
}

/*
 * Group commit. A disk sync is most of what an initiate costs, and the HTTP
 * server hands over every request that is ready in one pass (one
 * http_server_run). So the initiates of one pass share one store transaction,
 * each inside its own mark (all-or-nothing per request, supersede sees the
 * earlier ones), and their 202s are held (http_response.hold) until
 * api_batch_end() commits them all with one sync. The kernel is changed per
 * request, as before: a port may open a moment before its 202 is sent, never
 * after. Any other request first commits the batch (api_batch_commit), so
 * nothing reads what is not durable yet. If the commit fails, the store undoes
 * the whole batch, the kernel follows it back, every held request gets the
 * commit's error instead of its 202, and later initiates of the same pass are
 * refused with that error too.
 */

/* Join this pass's batch: open its transaction if need be, and mark where this request starts. */
static int
batch_join(struct api *api, struct core_error *err)
{
	int r;

	if (api->batch.failed_status) {
		*err = api->batch.failed;
		return api->batch.failed_status;
	}
	if (!api->batch.open) {
		if ((r = store_begin(api->store)) < 0)
			goto fail;
		api->batch.open = true;
	}
	if ((r = store_mark(api->store)) < 0)
		goto fail;
	return 0;
fail:
	return api_store_fail(api, r, err, "cannot write");
}

/* A batch lost to the store: nothing of it is kept, and the kernel follows the store back. */
static void
batch_lost(struct api *api, int status, const struct core_error *err)
{
	api->batch.open = false;
	api->batch.failed_status = status;
	api->batch.failed = *err;
	store_rollback(api->store);
	api_reconcile(api, NULL);
}

/* Undo one request of the batch (store and kernel); the others stay, unless the error ended the transaction. */
static void
batch_undo_one(struct api *api, int status, const struct core_error *err)
{
	store_mark_undo(api->store);
	if (!store_in_transaction(api->store)) {
		batch_lost(api, status, err);
		return;
	}
	api_reconcile(api, NULL);
}

int
api_batch_commit(struct api *api)
{
	struct http_response instead = { 0 };
	struct core_error err = { 0 };
	int r, status;

	if (!api->batch.open)
		return 0;
	api->batch.open = false;
	if ((r = store_commit(api->store)) < 0) {
		status = api_store_fail(api, r, &err, "the store refused the request");
		batch_lost(api, status, &err);
		api_error_record(&instead, api->batch.failed_status, &err);
	}
	if (api->batch.held && api->release_held)
		api->release_held(api->release_ctx, r < 0 ? &instead : NULL, api->batch.held);
	api->batch.held = 0;
	free(instead.body);
	return r;
}

void
api_batch_end(struct api *api)
{
	api_batch_commit(api);
	api->batch.failed_status = 0;
}

void
api_policy_initiate(struct api *api, const struct api_caller *c, const struct http_request *req,
		    const struct arm_policy_id *id, struct http_response *resp)
{
	struct core_error err = { 0 };
	struct initiate_body *body = NULL;
	struct store_policy sp = { 0 };
	struct policy *p = NULL;
	struct store_request sr;
	struct store_grant *initiated = NULL;
	struct fw_grant *add = NULL;
	struct drops drop = { 0 };
	struct api_vm_memo vm_memo = { 0 };
	size_t n_init = 0, n_grants = 0, i, j, k;
	char text[ARM_ID_MAX + 1];
	int64_t now = api_now_ns(), mono = api_mono_ns();
	bool tx = false;
	int r, status = 400;

	memset(&sr, 0, sizeof(sr));
	arm_policy_id_format(id, text, sizeof(text));
	if (codec_initiate_decode(req->body, req->body_len, &body, &err) < 0)
		goto fail;
	snprintf(sr.justification, sizeof(sr.justification), "%s", body->justification);
	/* the caller needs initiate on every VM asked for (a VM-scoped requester is enough) */
	for (i = 0; i < body->n_vms; i++) {
		char vmtext[ARM_ID_MAX + 1];

		arm_vm_id_format(&body->vms[i].id, vmtext, sizeof(vmtext));
		if (!api_require(api, c, RBAC_POLICY_INITIATE, vmtext, resp))
			goto out;
		n_grants += body->vms[i].n_ports;
	}
	r = store_policy_get(api->store, id, &sp);
	if (r == -ENOENT) {
		status = 404;
		core_error_set(&err, "ResourceNotFound", "", "the JIT network access policy '%s' was not found", text);
		goto fail;
	}
	if (r < 0 || api_policy_decode_stored(api, &sp, &p, &err) < 0) {
		/* 500 even for a refusing disk (revoke answers api_store_status), and a decode error's message is lost */
		api_store_fail(api, r, &err, "cannot read the policy");
		status = 500;
		goto fail;
	}
	if (!api->fw) {
		status = 503;
		core_error_set(&err, FW_ERR_UNAVAILABLE, "", "this host cannot enforce JIT access: %s", api->fw_reason);
		goto fail;
	}
	sr.grants = calloc(n_grants ? n_grants : 1, sizeof(*sr.grants));
	add = calloc(n_grants ? n_grants : 1, sizeof(*add));
	if (!sr.grants || !add || uuid4(sr.id, sizeof(sr.id)) < 0) {
		status = 500;
		core_error_set(&err, "InternalError", "", "out of memory or randomness");
		goto fail;
	}
	for (i = 0; i < body->n_vms; i++) {
		const struct policy_vm *pv;
		struct store_vm vm;
		char target[96];

		snprintf(target, sizeof(target), "virtualMachines[%zu].id", i);
		if (policy_find_vm(p, &body->vms[i].id, &pv) < 0 || store_vm_get(api->store, &body->vms[i].id, &vm) < 0) {
			core_error_set(&err, "VirtualMachineNotInPolicy", target,
				       "the virtual machine is not in the policy '%s'", text);
			goto fail;
		}
		for (j = 0; j < body->vms[i].n_ports; j++) {
			struct store_grant *g = &sr.grants[sr.n_grants];

			snprintf(target, sizeof(target), "virtualMachines[%zu].ports[%zu]", i, j);
			for (k = 0; k < sr.n_grants; k++)
				if (sr.grants[k].vm_id == vm.id && sr.grants[k].port == body->vms[i].ports[j].number) {
					core_error_set(&err, "DuplicatePort", target, "port %u is asked for twice",
						       body->vms[i].ports[j].number);
					goto fail;
				}
			if (check_port(api, c, pv, &body->vms[i].ports[j], target, now, g, &err) < 0)
				goto fail;
			g->vm_id = vm.id;
			snprintf(g->request_id, sizeof(g->request_id), "%s", sr.id);
			/* its end on this boot's monotonic clock too: a wall clock stepped back cannot stretch it */
			if (api->boot_id[0]) {
				snprintf(g->boot_id, sizeof(g->boot_id), "%s", api->boot_id);
				g->mono_end_ns = mono + (g->end_ns - now);
			}
			api_grant_to_fw(g, &add[sr.n_grants]);
			sr.n_grants++;
		}
	}
	sr.policy_id = sp.id;
	snprintf(sr.requestor, sizeof(sr.requestor), "%s", c->name);
	snprintf(sr.requestor_addr, sizeof(sr.requestor_addr), "%s", c->addr_text);
	sr.start_ns = now;

	if ((status = batch_join(api, &err)) != 0)
		goto fail;
	tx = true;
	/* the same requestor's earlier grants on these ports are superseded, in the same kernel batch */
	for (i = 0; i < sr.n_grants; i++) {
		free(initiated);
		initiated = NULL;
		if ((status = live_grants_on(api, sr.grants[i].vm_id, sr.grants[i].port, c->name, &initiated, &n_init,
					     &err)) != 0)
			goto fail;
		for (k = 0; k < n_init; k++)
			if ((status = end_grant(api, &initiated[k], STORE_REASON_NEWER_REQUEST, now, &drop, &err)) != 0)
				goto fail;
	}
	status = 400;
	if ((r = store_request_insert(api->store, &sr)) < 0) {
		status = api_store_fail(api, r, &err, "cannot store the request");
		goto fail;
	}
	if ((r = fw_grant_update(api->fw, add, sr.n_grants, drop.v, drop.n, NULL, &err)) < 0) {
		status = 500;
		goto fail;
	}
	/* the log entries commit with the request: one disk sync for both, and never one without the other */
	for (i = 0; i < sr.n_grants; i++) {
		char src[NET_PREFIX_TEXT_MAX], end[64];

		net_source_format(&sr.grants[i].source, src, sizeof(src));
		time_format_rfc3339(sr.grants[i].end_ns, end, sizeof(end));
		api_log(api, c, RBAC_POLICY_INITIATE, api_vm_text(api, &vm_memo, sr.grants[i].vm_id), "Succeeded",
			sr.justification,
			"opened port %u (%s) from %s until %s, request %s%s", sr.grants[i].port,
			net_proto_name(sr.grants[i].proto), src, end, sr.id, drop.n ? "; superseded an earlier request" : "");
	}
	if ((r = store_mark_keep(api->store)) < 0) {
		status = api_store_fail(api, r, &err, "the store refused the request");
		goto fail;
	}
	tx = false;
	for (i = 0; i < sr.n_grants; i++)
		if (!api->next_end_hint_ns || sr.grants[i].end_ns < api->next_end_hint_ns)
			api->next_end_hint_ns = sr.grants[i].end_ns;
	api_json(resp, 202, api_request_encode(api, &sr));
	/* sent once the batch commits (api_batch_end), or replaced by its error if that fails */
	resp->hold = true;
	api->batch.held++;
	goto out;
fail:
	if (tx)
		batch_undo_one(api, status, &err);
	/* a refusal is about the VMs asked for: log it on each, so a VM's log shows its refusals too */
	for (i = 0; body && i < body->n_vms; i++) {
		char vmtext[ARM_ID_MAX + 1];

		arm_vm_id_format(&body->vms[i].id, vmtext, sizeof(vmtext));
		api_log(api, c, RBAC_POLICY_INITIATE, vmtext, "Failed", sr.justification, "%s: %s%s%s (policy %s)",
			err.code, err.message, err.target[0] ? " at " : "", err.target, text);
	}
	if (!body)
		api_log(api, c, RBAC_POLICY_INITIATE, text, "Failed", sr.justification, "%s: %s%s%s", err.code,
			err.message, err.target[0] ? " at " : "", err.target);
	api_error_record(resp, status, &err);
out:
	codec_initiate_free(body);
	store_policy_clear(&sp);
	policy_free(p);
	free(sr.grants);
	free(initiated);
	free(add);
	free(drop.v);
}

/*
 * The store refused to record a revoke: close the grants all the same (api-closing.c), so that
 * closing never waits on the disk. The kernel is reconciled to the store minus these closes.
 */
static int
revoke_pending(struct api *api, const struct api_caller *c, const struct store_grant *g, size_t n, int64_t now,
	       bool *ret_durable, struct core_error *err)
{
	size_t i;
	int r;

	*ret_durable = true;
	for (i = 0; i < n; i++)
		if ((r = api_closing_add(api, c, &g[i], STORE_JOURNAL_END, STORE_REASON_USER_REQUESTED, now,
					 ret_durable)) < 0)
			return core_error_set(err, "InternalError", "", "out of memory"), r;
	return api_reconcile(api, err);
}

void
api_policy_revoke(struct api *api, const struct api_caller *c, const struct http_request *req,
		  const struct arm_policy_id *id, struct http_response *resp)
{
	struct core_error err = { 0 }, store_err = { 0 };
	struct revoke_body *body = NULL;
	struct store_policy sp = { 0 };
	struct store_grant *live = NULL, *ends = NULL, *grown;
	struct drops drop = { 0 };
	struct api_vm_memo memo = { 0 };
	size_t n_live = 0, n_ends = 0, cap_ends = 0, i, j, k, killed = 0;
	char text[ARM_ID_MAX + 1];
	int64_t now = api_now_ns();
	bool tx = false, pending = false, durable = true;
	int r, status = 400;
	json_t *out;

	arm_policy_id_format(id, text, sizeof(text));
	if (codec_revoke_decode(req->body, req->body_len, &body, &err) < 0)
		goto fail;
	r = store_policy_get(api->store, id, &sp);
	if (r == -ENOENT) {
		status = 404;
		core_error_set(&err, "ResourceNotFound", "", "the JIT network access policy '%s' was not found", text);
		goto fail;
	}
	if (r < 0) {
		status = api_store_fail(api, r, &err, "cannot read the policy");
		goto fail;
	}
	if (!api->fw) {
		status = 503;
		core_error_set(&err, FW_ERR_UNAVAILABLE, "", "this host cannot enforce JIT access: %s", api->fw_reason);
		goto fail;
	}
	/* revoking one's own grants needs only initiate; anyone's needs revoke. Checked before any write. */
	for (i = 0; i < body->n_vms; i++) {
		char vmtext[ARM_ID_MAX + 1];

		arm_vm_id_format(&body->vms[i].id, vmtext, sizeof(vmtext));
		if (!api_allowed(api, c, RBAC_POLICY_INITIATE, vmtext) &&
		    !api_require(api, c, RBAC_POLICY_REVOKE, vmtext, resp))
			goto out;
	}
	/* first what to close (reads only), so that a store refusing the writes cannot keep it open */
	for (i = 0; i < body->n_vms; i++) {
		struct store_vm vm;
		char vmtext[ARM_ID_MAX + 1], target[64];
		bool anyone;

		arm_vm_id_format(&body->vms[i].id, vmtext, sizeof(vmtext));
		snprintf(target, sizeof(target), "virtualMachines[%zu].id", i);
		anyone = api_allowed(api, c, RBAC_POLICY_REVOKE, vmtext);
		if (store_vm_get(api->store, &body->vms[i].id, &vm) < 0) {
			core_error_set(&err, "VirtualMachineNotInPolicy", target, "the virtual machine is not in the policy");
			goto fail;
		}
		for (j = 0; j < body->vms[i].n_ports; j++) {
			free(live);
			live = NULL;
			if ((status = live_grants_on(api, vm.id, body->vms[i].ports[j], NULL, &live, &n_live, &err)) != 0)
				goto fail;
			for (k = 0; k < n_live; k++) {
				struct store_grant *g = &live[k];
				const struct store_journal_entry *closed;
				size_t m;

				if (g->policy_id != sp.id || g->end_ns <= now || (!anyone && strcmp(g->requestor, c->name)))
					continue;
				if ((closed = api_closing_find(api, g->request_id, g->vm_id, g->port)) &&
				    closed->kind == STORE_JOURNAL_END)
					continue;	/* closed already, its record pending */
				for (m = 0; m < n_ends; m++)	/* a port named twice */
					if (ends[m].vm_id == g->vm_id && ends[m].port == g->port &&
					    !strcmp(ends[m].request_id, g->request_id))
						break;
				if (m < n_ends)
					continue;
				if (!(grown = array_grow(ends, &cap_ends, n_ends, sizeof(*ends)))) {
					status = 500;
					core_error_set(&err, "InternalError", "", "out of memory");
					goto fail;
				}
				ends = grown;
				ends[n_ends++] = *g;
			}
		}
	}
	if ((r = store_begin(api->store)) < 0) {
		status = api_store_fail(api, r, &store_err, "cannot write");
		goto store_refused;
	}
	tx = true;
	for (i = 0; i < n_ends; i++) {
		if ((status = end_grant(api, &ends[i], STORE_REASON_USER_REQUESTED, now, &drop, &store_err)) != 0) {
			if (status == 500 && !strcmp(store_err.code, "InternalError")) {
				err = store_err;
				goto fail;
			}
			goto store_refused;
		}
		api_log(api, c, RBAC_POLICY_REVOKE, api_vm_text(api, &memo, ends[i].vm_id), "Revoked", NULL,
			"closed port %u of request %s (by %s)%s", ends[i].port, ends[i].request_id, ends[i].requestor,
			body->terminate_sessions ? " and ended its open sessions" : "");
	}
	if (drop.n && (r = fw_grant_remove(api->fw, drop.v, drop.n, NULL, &err)) < 0) {
		status = 500;
		goto fail;
	}
	if ((r = store_commit(api->store)) < 0) {
		tx = false;
		status = api_store_fail(api, r, &store_err, "the store refused the revoke");
		goto store_refused;
	}
	tx = false;
	goto closed;
store_refused:
	/* the kernel closes them all the same; the store records them when it can (api-closing.c) */
	if (tx) {
		store_rollback(api->store);
		tx = false;
	}
	pending = n_ends > 0;
	if (pending && (r = revoke_pending(api, c, ends, n_ends, now, &durable, &err)) < 0) {
		status = 500;
		goto fail;
	}
	if (!pending) {
		err = store_err;
		goto fail;
	}
	free(drop.v);
	drop = (struct drops){ 0 };
	drop.v = calloc(n_ends, sizeof(*drop.v));
	for (i = 0; drop.v && i < n_ends; i++)
		api_grant_to_fw(&ends[i], &drop.v[drop.n++]);
	api_log(api, c, RBAC_POLICY_REVOKE, text, "Revoked", NULL,
		"closed %zu port(s); %s, so the record is pending%s", n_ends, store_err.message,
		durable ? "" : " (and not in the close journal: a restart before the store records it opens them again)");
closed:
	if (body->terminate_sessions && drop.n && fw_sessions_kill(api->fw, drop.v, drop.n, &killed, &err) < 0)
		api_log(api, c, RBAC_POLICY_REVOKE, text, "Failed", NULL, "ports closed but sessions not ended: %s",
			err.message);
	out = json_pack("{s:i, s:i, s:b}", "revokedPorts", (json_int_t)n_ends, "terminatedSessions", (json_int_t)killed,
			"recordPending", pending);
	if (out && pending)
		json_object_set_new(out, "message", json_sprintf(
			"the ports are closed in the kernel; the store refused to record it (%s)%s", store_err.message,
			durable ? ", so the close is kept in the close journal and recorded as soon as the store accepts writes"
				: "; the close journal could not hold it either, so a restart of jitgated before the store "
				  "accepts writes would open them again"));
	api_json(resp, 200, out);
	goto out;
fail:
	if (tx) {
		store_rollback(api->store);
		tx = false;
		api_reconcile(api, NULL);
	}
	api_log(api, c, RBAC_POLICY_REVOKE, text, "Failed", NULL, "%s: %s", err.code, err.message);
	api_error_record(resp, status, &err);
out:
	if (tx)
		store_rollback(api->store);
	codec_revoke_free(body);
	store_policy_clear(&sp);
	free(live);
	free(ends);
	free(drop.v);
}

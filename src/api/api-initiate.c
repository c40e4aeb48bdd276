/* Initiate: open ports just in time, all-or-nothing, store and kernel in one step, one commit per pass. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api-internal.h"
#include "codec/codec.h"
#include "core/duration.h"
#include "core/timeutil.h"

/* A justification the codec accepts is stored whole (api_policy_initiate copies it into the request). */
_Static_assert(API_JUSTIFICATION_MAX == STORE_JUSTIFICATION_MAX, "the codec and the store disagree on a justification's length");

/* Checks one requested port against the policy; fills the grant or the error. */
static int
check_port(const struct api_initiate_in *in, const struct policy_vm *pv, const struct initiate_port *ip,
	   const char *target, struct store_grant *g, struct core_error *err)
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
	if (ip->end_ns <= in->now_ns)
		return core_error_set(err, "EndTimeInPast", t, "endTimeUtc must be in the future");
	/* the deployment's cap applies to rules stored before it was lowered, too */
	max_ms = rule->max_duration_ms < in->max_duration_ms ? rule->max_duration_ms : in->max_duration_ms;
	max_end = in->now_ns + max_ms * TIME_NS_PER_MS;
	if (ip->end_ns > max_end + INITIATE_CLOCK_SLACK_MS * TIME_NS_PER_MS) {
		time_format_azure(max_end, when, sizeof(when));
		duration_format_iso8601(max_ms, dur, sizeof(dur));
		/* the rule's maximum in the words its policy uses ("PT180M"), unless the deployment's cap is lower */
		return core_error_set(err, "EndTimeTooLate", t,
				      "port %u may be opened for at most %s, so endTimeUtc may be at most %s", ip->number,
				      max_ms == rule->max_duration_ms && rule->max_duration_text[0] ? rule->max_duration_text : dur,
				      when);
	}
	if (ip->has_source) {
		src = ip->source;
	} else {
		if (!in->caller_addr.family) {
			snprintf(t, sizeof(t), "%s.allowedSourceAddressPrefix", target);
			return core_error_set(err, "MissingSourceAddressPrefix", t,
					      "the caller's IP address is not known (the unix socket, or a trusted proxy that "
					      "sent no usable X-Forwarded-For): give allowedSourceAddressPrefix");
		}
		memset(&src, 0, sizeof(src));
		src.prefix.addr = in->caller_addr;
		src.prefix.len = (uint8_t)net_addr_bits(&in->caller_addr);
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
	/* a rule that needs approval: planned Pending, it waits (api_approval_split) instead of opening */
	g->status = rule->approval ? STORE_GRANT_PENDING : STORE_GRANT_INITIATED;
	return 0;
}

int
api_initiate_plan(const struct api_initiate_in *in, struct store_grant *grants, size_t *ret_n,
		  struct core_error *err)
{
	const struct initiate_body *body = in->body;
	size_t n = 0, i, j, k;

	for (i = 0; i < body->n_vms; i++) {
		const struct policy_vm *pv;
		char target[96];

		snprintf(target, sizeof(target), "virtualMachines[%zu].id", i);
		if (policy_find_vm(in->policy, &body->vms[i].id, &pv) < 0 || !in->vm_ids[i])
			return core_error_set(err, "VirtualMachineNotInPolicy", target,
					      "the virtual machine is not in the policy '%s'", in->policy_text);
		for (j = 0; j < body->vms[i].n_ports; j++) {
			snprintf(target, sizeof(target), "virtualMachines[%zu].ports[%zu]", i, j);
			for (k = 0; k < n; k++)
				if (grants[k].vm_id == in->vm_ids[i] && grants[k].port == body->vms[i].ports[j].number)
					return core_error_set(err, "DuplicatePort", target, "port %u is asked for twice",
							      body->vms[i].ports[j].number);
			if (check_port(in, pv, &body->vms[i].ports[j], target, &grants[n], err) < 0)
				return -EINVAL;
			grants[n++].vm_id = in->vm_ids[i];
		}
	}
	*ret_n = n;
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

/*
 * A batch lost to the store: nothing of it is kept, and the kernel follows the store back. The answers
 * held for it get its error now: their 202s told of requests that are gone. (Left held, the next batch's
 * commit sent them as 202s: a connection to PostgreSQL lost mid-pass lost the transaction and with it the
 * requests already answered in it; tests/e2e/failover.sh step 1a.)
 */
static void
batch_lost(struct api *api, int status, const struct core_error *err)
{
	struct http_response instead = { 0 };

	api->batch.open = false;
	api->batch.failed_status = status;
	api->batch.failed = *err;
	store_rollback(api->store);
	api_reconcile(api, NULL);
	if (!api->batch.held)
		return;
	api_metrics_group_commit(api, api->batch.held, false);
	api_error_record(&instead, status, err);
	if (api->release_held)
		api->release_held(api->release_ctx, &instead, api->batch.held);
	api->batch.held = 0;
	free(instead.body);
}

/*
 * Join this pass's batch: open its transaction if need be, and mark where this request starts.
 * -ECANCELED with the batch's error when it was lost earlier in this pass.
 */
static int
batch_join(struct api *api, struct core_error *err)
{
	int r, status;

	if (api->batch.failed_status) {
		*err = api->batch.failed;
		return -ECANCELED;
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
	status = api_store_fail(api, r, err, "cannot write");
	/* a mark refused because the transaction is gone (the connection lost): so is the batch */
	if (api->batch.open && !store_in_transaction(api->store))
		batch_lost(api, status, err);
	return r;
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

static void batch_flush(struct api *api);

int
api_batch_commit(struct api *api)
{
	struct core_error err = { 0 };
	int r;

	batch_flush(api);
	if (!api->batch.open) {
		/*
		 * refused, every one, before a transaction opened (the store could not begin one: no primary,
		 * while a standby served their reads): their own refusals go out now, not never
		 */
		if (api->batch.held) {
			api_metrics_group_commit(api, api->batch.held, false);
			if (api->release_held)
				api->release_held(api->release_ctx, NULL, api->batch.held);
			api->batch.held = 0;
		}
		return 0;
	}
	if ((r = store_commit(api->store)) < 0) {
		/* the held answers get the commit's error (batch_lost counts it failed; with none held, here) */
		if (!api->batch.held)
			api_metrics_group_commit(api, 0, false);
		batch_lost(api, api_store_fail(api, r, &err, "the store refused the request"), &err);
		return r;
	}
	api->batch.open = false;
	api_metrics_group_commit(api, api->batch.held, true);
	if (api->batch.held && api->release_held)
		api->release_held(api->release_ctx, NULL, api->batch.held);
	api->batch.held = 0;
	return r;
}

/*
 * The pass's initiates are read; before they take the writers' lock (PostgreSQL: shared by every
 * replica, held by a group commit through its sync), see whether it is free. Held: the batch waits,
 * its answers held, while the loop reads more initiates into it (passes API_BATCH_LOCK_RETRY_MS
 * apart), up to API_BATCH_LOCK_WAIT_MS; then it queues for the lock as before. So a replica that
 * finds the other committing gathers a larger group commit instead of blocking its one thread on
 * the lock. True: wait (the batch's transaction was not begun). SQLite's lock is never another's.
 */
static bool
batch_lock_wait(struct api *api)
{
	int64_t now;
	int r;

	if (!api->batch.pending || api->batch.open) {
		api->batch.lock_wait_since = 0;	/* committed meanwhile by a request that needed it durable */
		return false;
	}
	if ((r = store_begin_try(api->store)) == 0) {
		api->batch.open = true;
		api->batch.lock_wait_since = 0;
		return false;
	}
	now = time_mono_ns();
	if (r != -EAGAIN || (api->batch.lock_wait_since &&
			     now - api->batch.lock_wait_since >= (int64_t)API_BATCH_LOCK_WAIT_MS * TIME_NS_PER_MS)) {
		api->batch.lock_wait_since = 0;
		return false;	/* batch_join's store_begin queues for it, or answers the store's error */
	}
	if (!api->batch.lock_wait_since)
		api->batch.lock_wait_since = now;
	return true;
}

bool
api_batch_waiting(const struct api *api)
{
	return api->batch.lock_wait_since != 0 && api->batch.pending;
}

void
api_batch_end(struct api *api)
{
	if (!batch_lock_wait(api))
		api_batch_commit(api);
	api->batch.failed_status = 0;
}


/* One initiate as it passes from step to step. */
struct initiate {
	struct initiate_body *body;
	struct store_policy sp;
	struct policy *p;
	int64_t *vm_ids;		/* body->vms[i]'s store id; 0: the store has no such VM */
	/*
	 * The rows of those the store has, as read for this request when it came, outside the writers'
	 * lock: the agents-only check, the kernel's part (local VMs), the log's VM names and the 202 use
	 * them, not a read under the lock. Another replica may change a VM between that read and this
	 * batch's commit; the grant is still written under the lock by VM id, and an agent applies what is
	 * stored (an address change moves the VM's revision), so only a name in the 202 or the log can be
	 * the older one. A VM deleted meanwhile fails the grant's insert (foreign key): the initiate is
	 * refused whole.
	 */
	struct store_vm *vms;
	size_t n_vms;
	struct store_request sr;
	struct fw_grant *add;		/* sr.grants in the kernel's form */
	struct api_drops drop;		/* the caller's earlier grants it supersedes */
	struct store_pending *pend;	/* the ports that wait for approval instead */
	size_t n_pend;
	char text[ARM_ID_MAX + 1];	/* the policy's id */
	int64_t now, mono;
	/*
	 * Every VM of the request is an agent's, so no kernel of this host holds what it supersedes: the
	 * supersede is written without its rows (store_grants_supersede_held: on PostgreSQL one round trip
	 * fewer under the writers' lock), and the log tells whether the requestor had a live grant on one of
	 * the ports when the request came (had_live), not what the supersede ended a few milliseconds later.
	 */
	bool held_supersede;
	bool had_live;
};

/* The caller needs initiate on every VM asked for (a VM-scoped requester is enough); false with resp filled. */
static bool
initiate_authorise(struct api *api, const struct api_caller *c, const struct initiate_body *body,
		   struct http_response *resp)
{
	size_t i;

	for (i = 0; i < body->n_vms; i++) {
		char vmtext[ARM_ID_MAX + 1];

		arm_vm_id_format(&body->vms[i].id, vmtext, sizeof(vmtext));
		if (!api_require(api, c, RBAC_POLICY_INITIATE, vmtext, resp))
			return false;
	}
	return true;
}

/* The stored policy, decoded. One that does not decode is the store's fault, told in the decoder's words. */
static int
initiate_policy_decode(struct api *api, struct initiate *in, struct core_error *err)
{
	struct core_error why = { 0 };
	int r;

	if ((r = api_policy_decode_stored(api, &in->sp, &in->p, &why)) < 0)
		core_error_set(err, "StoreError", "", "cannot read the policy: %s%s%s",
			       why.message[0] ? why.message : "out of memory", why.target[0] ? " at " : "", why.target);
	return r;
}

/* Room for the grants, the request's id, and each VM's store id: 0, or the HTTP status of the refusal. */
static int
initiate_prepare(struct api *api, struct initiate *in, struct core_error *err)
{
	const struct initiate_body *body = in->body;
	struct store_vm vm;
	size_t n = 0, i;
	int r;

	for (i = 0; i < body->n_vms; i++)
		n += body->vms[i].n_ports;
	in->sr.grants = calloc(n ? n : 1, sizeof(*in->sr.grants));
	in->add = calloc(n ? n : 1, sizeof(*in->add));
	in->vm_ids = calloc(body->n_vms ? body->n_vms : 1, sizeof(*in->vm_ids));
	in->vms = calloc(body->n_vms ? body->n_vms : 1, sizeof(*in->vms));
	if (!in->sr.grants || !in->add || !in->vm_ids || !in->vms ||
	    api_request_id_new(in->sr.id, sizeof(in->sr.id)) < 0)
		return core_error_set(err, "InternalError", "", "out of memory or randomness"), 500;
	/*
	 * reads only: a VM the store lacks is refused by the plan, in its place among the checks; a store
	 * that cannot answer (no primary) is the store's refusal, not the VM's absence (a 400 in failover.sh)
	 */
	for (i = 0; i < body->n_vms; i++) {
		r = api_read_vm(api, &body->vms[i].id, &vm);
		if (r == 0) {
			in->vm_ids[i] = vm.id;
			in->vms[in->n_vms++] = vm;	/* the kernel's part, the log and the 202 need not read it again */
		} else if (r != -ENOENT && r != -EINVAL) {
			return api_store_fail(api, r, err, "cannot read the virtual machine");
		}
	}
	return 0;
}

/* A grant on a port of a VM with a publicIpAddress opens its mapped port too (gateway DNAT). */
static void
initiate_dnat(const struct initiate *in, const struct store_grant *g, struct fw_grant *ret)
{
	const struct policy_vm *pv = NULL;
	size_t k;

	for (k = 0; k < in->body->n_vms; k++)
		if (in->vm_ids[k] == g->vm_id && policy_find_vm(in->p, &in->body->vms[k].id, &pv) == 0)
			break;
	api_dnat_of_grant(pv, g->proto, g->port, &ret->dnat_addr, &ret->dnat_port);
}

/* The request around the planned grants: its id on each, each end on this boot's clock too, the kernel's form. */
static void
initiate_stamp(struct api *api, const struct api_caller *c, struct initiate *in)
{
	size_t i;

	for (i = 0; i < in->sr.n_grants; i++) {
		struct store_grant *g = &in->sr.grants[i];

		snprintf(g->request_id, sizeof(g->request_id), "%s", in->sr.id);
		g->opened_ns = in->now;	/* an extend counts the rule's maximum from here */
		/* its end on this boot's monotonic clock too: a wall clock stepped back cannot stretch it */
		if (api->boot_id[0]) {
			snprintf(g->boot_id, sizeof(g->boot_id), "%s", api->boot_id);
			g->mono_end_ns = in->mono + (g->end_ns - in->now);
		}
		api_grant_to_fw(g, &in->add[i]);
		initiate_dnat(in, g, &in->add[i]);
	}
	in->sr.policy_id = in->sp.id;
	/* its writes wait for the batch, under the writers' lock: refused then if the policy was written meanwhile */
	in->sr.policy_read_ns = in->sp.updated_ns;
	snprintf(in->sr.requestor, sizeof(in->sr.requestor), "%s", c->name);
	snprintf(in->sr.requestor_subject, sizeof(in->sr.requestor_subject), "%s", c->subject);
	snprintf(in->sr.requestor_addr, sizeof(in->sr.requestor_addr), "%s", c->addr_text);
	in->sr.start_ns = in->now;
}

/* The same requestor's earlier grants on these ports are superseded, in the same kernel batch. */
static int
initiate_supersede(struct api *api, const struct api_caller *c, struct initiate *in, struct core_error *err)
{
	struct store_grant *earlier = NULL;
	size_t n = 0, i, k;
	int r = 0;

	for (i = 0; i < in->sr.n_grants && in->held_supersede; i++)
		if ((r = store_grants_supersede_held(api->store, c->name, in->sr.grants[i].vm_id, in->sr.grants[i].port,
						     STORE_REASON_NEWER_REQUEST, in->now)) < 0) {
			api_store_fail(api, r, err, "cannot close the earlier grants on port %u", in->sr.grants[i].port);
			return r;
		}
	for (i = 0; i < in->sr.n_grants && !in->held_supersede; i++) {
		free(earlier);
		earlier = NULL;
		/* one statement ends them and returns them (one round trip on PostgreSQL, under the writers' lock) */
		if ((r = store_grants_supersede(api->store, c->name, in->sr.grants[i].vm_id, in->sr.grants[i].port,
						STORE_REASON_NEWER_REQUEST, in->now, &earlier, &n)) < 0) {
			api_store_fail(api, r, err, "cannot close the earlier grants on port %u", in->sr.grants[i].port);
			goto out;
		}
		for (k = 0; k < n; k++)
			if ((r = api_drops_add(&in->drop, &earlier[k], err)) < 0)
				goto out;
	}
out:
	free(earlier);
	return r;
}

/* The VM's name for the log and the 202, from its row as read for this request (else api_vm_text reads it). */
static void
initiate_vm_memo(const struct initiate *in, int64_t vm_id, struct api_vm_memo *m)
{
	size_t k;

	for (k = 0; k < in->n_vms && m->id != vm_id; k++)
		if (in->vms[k].id == vm_id) {
			m->id = vm_id;
			arm_vm_id_format(&in->vms[k].arm, m->text, sizeof(m->text));
		}
}

/* The log entries commit with the request: one disk sync for both, and never one without the other. */
static void
initiate_log(struct api *api, const struct api_caller *c, const struct initiate *in)
{
	const struct store_request *sr = &in->sr;
	struct api_vm_memo vm_memo = { 0 };
	size_t i;

	for (i = 0; i < sr->n_grants; i++) {
		char src[NET_PREFIX_TEXT_MAX], end[64];

		net_source_format(&sr->grants[i].source, src, sizeof(src));
		time_format_azure(sr->grants[i].end_ns, end, sizeof(end));
		initiate_vm_memo(in, sr->grants[i].vm_id, &vm_memo);
		api_log(api, c, RBAC_POLICY_INITIATE, api_vm_text(api, &vm_memo, sr->grants[i].vm_id), "Succeeded",
			sr->justification,
			"opened port %u (%s) from %s until %s, request %s%s", sr->grants[i].port,
			net_proto_name(sr->grants[i].proto), src, end, sr->id,
			in->drop.n || in->had_live ? "; superseded an earlier request" : "");
	}
}

/* The 202, held until the batch commits. */
static void
initiate_answer(struct api *api, const struct initiate *in, struct http_response *resp)
{
	struct api_vm_memo vm_memo = { 0 };
	struct store_request view;
	size_t i;

	if (in->sr.n_grants)
		initiate_vm_memo(in, in->sr.grants[0].vm_id, &vm_memo);
	for (i = 0; i < in->sr.n_grants; i++)
		if (!api->next_end_hint_ns || in->sr.grants[i].end_ns < api->next_end_hint_ns)
			api->next_end_hint_ns = in->sr.grants[i].end_ns;
	/* the ports that wait show as Pending among the opened ones */
	if (in->n_pend && api_approval_view(&in->sr, in->pend, in->n_pend, &view) == 0) {
		api_json(resp, 202, api_request_encode_known(api, &view, in->p, &vm_memo));
		free(view.grants);
	} else {
		api_json(resp, 202, api_request_encode_known(api, &in->sr, in->p, &vm_memo));
	}
	/* sent once the batch commits (api_batch_end), or replaced by its error if that fails (held when read) */
}

/* The refusal: logged, then answered. */
static void
initiate_refused(struct api *api, const struct api_caller *c, const struct initiate *in, int status,
		 const struct core_error *err, struct http_response *resp)
{
	const struct initiate_body *body = in->body;
	size_t i;

	/* a refusal is about the VMs asked for: log it on each, so a VM's log shows its refusals too */
	for (i = 0; body && i < body->n_vms; i++) {
		char vmtext[ARM_ID_MAX + 1];

		arm_vm_id_format(&body->vms[i].id, vmtext, sizeof(vmtext));
		api_log(api, c, RBAC_POLICY_INITIATE, vmtext, "Failed", in->sr.justification, "%s: %s%s%s (policy %s)",
			err->code, err->message, err->target[0] ? " at " : "", err->target, in->text);
	}
	if (!body)
		api_log(api, c, RBAC_POLICY_INITIATE, in->text, "Failed", in->sr.justification, "%s: %s%s%s", err->code,
			err->message, err->target[0] ? " at " : "", err->target);
	api_error_record(resp, status, err);
}

static void
initiate_clear(struct initiate *in)
{
	codec_initiate_free(in->body);
	store_policy_clear(&in->sp);
	policy_free(in->p);
	free(in->vm_ids);
	free(in->vms);
	free(in->sr.grants);
	free(in->add);
	free(in->drop.v);
	free(in->pend);
}

/* The grants this host's kernel enforces, of v[0..n) (api_fw_local_only), told the VMs read for the request. */
static size_t
initiate_local_only(struct api *api, const struct initiate *in, struct fw_grant *v, size_t n)
{
	return api_fw_local_only_known(api, v, n, in->vms, in->n_vms);
}

/* The stored policy decoded, the request's VMs found, their firewall usable: 0, or the HTTP status of the refusal. */
static int
initiate_ready(struct api *api, struct initiate *in, struct core_error *err)
{
	int status;

	if (initiate_policy_decode(api, in, err) < 0)
		return 500;
	if ((status = initiate_prepare(api, in, err)) != 0)
		return status;
	/* from the rows initiate_prepare read: no second read of each VM */
	if (api_agents_only_check_vms(api, in->vm_ids, in->body->n_vms, in->vms, in->n_vms, err) < 0)
		return 400;
	if (api_fw_check_vms(api, in->vm_ids, in->body->n_vms, err) < 0)
		return 503;
	return 0;
}

/*
 * Reads first, writes later (issue 14): an initiate's reads (token, policy, VMs) and its checks run when it
 * arrives, outside any store transaction; its writes wait in api->batch.pending until the pass ends (or another
 * request needs what is durable) and run then, one after the other, in the batch's transaction. So the writers'
 * lock (PostgreSQL: an advisory lock all replicas share) is held for the writes of the pass and its commit,
 * never for the reads and decoding of the requests after the first.
 */
struct initiate_pending {
	struct initiate in;
	struct api_caller c;
	struct http_response *held;	/* the held answer (http_response.held_at), filled in by initiate_finish */
	struct initiate_pending *next;
};

/* The writes of one read and checked initiate: 0, or the HTTP status of its refusal (*tx: its mark was made). */
static int
initiate_write(struct api *api, const struct api_caller *c, struct initiate *in, struct core_error *err, bool *tx)
{
	int r;

	if ((r = batch_join(api, err)) < 0)
		/* a batch lost earlier in this pass refuses the rest of the pass with its error */
		return r == -ECANCELED ? api->batch.failed_status : api_store_status(r);
	*tx = true;
	if ((r = initiate_supersede(api, c, in, err)) < 0)
		return api_store_status(r);
	if ((r = store_request_insert(api->store, &in->sr)) < 0)
		return api_store_fail(api, r, err, "cannot store the request");
	if ((r = api_approval_ask(api, c, &in->sr, in->pend, in->n_pend, err)) < 0)
		return api_store_status(r);
	/* an agent VM's grants go to its agent through the watch, never into this host's kernel (none without one) */
	api_kernel_start(api);
	if (api->fw && api_kernel_timed(api, fw_grant_update(api->fw, in->add, initiate_local_only(api, in, in->add, in->sr.n_grants),
							     in->drop.v, initiate_local_only(api, in, in->drop.v, in->drop.n),
							     NULL, err)) < 0)
		return 500;
	initiate_log(api, c, in);
	if ((r = store_mark_keep(api->store)) < 0) {
		/* perhaps decided on a policy or VM kept from before another replica's write: read them anew */
		api_read_cache_drop(api);
		return api_store_fail(api, r, err, "the store refused the request");
	}
	return 0;
}

/* One waiting initiate's writes, and its held answer: the 202, or its refusal. */
static void
initiate_finish(struct api *api, struct initiate_pending *p)
{
	struct core_error err = { 0 };
	bool tx = false;
	int status;

	/* without a held copy the server has answered it already (500): nothing of it is written */
	if (p->held) {
		/* a batch lost earlier in this pass released it with the batch's error: this request's own replaces it */
		free(p->held->body);
		p->held->body = NULL;
		p->held->body_len = 0;
		p->held->held_at = NULL;
		if ((status = initiate_write(api, &p->c, &p->in, &err, &tx)) == 0) {
			initiate_answer(api, &p->in, p->held);
		} else {
			if (tx)
				batch_undo_one(api, status, &err);
			initiate_refused(api, &p->c, &p->in, status, &err, p->held);
		}
	}
	initiate_clear(&p->in);
	free(p);
}

/* The writes of the initiates read so far, in the order they came (each sees the earlier ones' supersede). */
static void
batch_flush(struct api *api)
{
	struct initiate_pending *p;

	while ((p = api->batch.pending)) {
		api->batch.pending = p->next;
		initiate_finish(api, p);
	}
	api->batch.pending_tail = NULL;
}

/* Whether the supersede may be held (in->held_supersede), and if so, had the requestor a live grant on the ports? */
static int
initiate_live_before(struct api *api, const struct api_caller *c, struct initiate *in, struct core_error *err)
{
	struct store_grant *v = NULL;
	size_t i, n = 0;
	int r;

	in->held_supersede = in->n_vms > 0;
	for (i = 0; i < in->n_vms; i++)
		if (in->vms[i].point != STORE_POINT_AGENT)
			in->held_supersede = false;
	for (i = 0; i < in->sr.n_grants && in->held_supersede && !in->had_live; i++) {
		if ((r = store_grants_live_on(api->store, in->sr.grants[i].vm_id, in->sr.grants[i].port, c->name, &v,
					      &n)) < 0)
			return api_store_fail(api, r, err, "cannot read the earlier grants on port %u",
					      in->sr.grants[i].port);
		in->had_live = n > 0;
		free(v);
		v = NULL;
	}
	return 0;
}

/* Read and check one initiate (no store transaction); 0, or the HTTP status of its refusal (-1: resp filled). */
static int
initiate_read(struct api *api, const struct api_caller *c, const struct http_request *req, const struct arm_policy_id *id,
	      struct initiate *in, struct core_error *err, struct http_response *resp)
{
	struct api_initiate_in plan;
	int r, status;

	arm_policy_id_format(id, in->text, sizeof(in->text));
	if (codec_initiate_decode(req->body, req->body_len, &in->body, err) < 0)
		return 400;
	snprintf(in->sr.justification, sizeof(in->sr.justification), "%s", in->body->justification);
	if (!initiate_authorise(api, c, in->body, resp))
		return -1;
	if ((r = api_read_policy(api, id, in->text, &in->sp, err)) < 0)
		return r == -ENOENT ? 404 : api_store_status(r);
	if ((status = initiate_ready(api, in, err)) != 0)
		return status;
	plan = (struct api_initiate_in){ .body = in->body, .policy = in->p, .policy_text = in->text,
					 .vm_ids = in->vm_ids, .caller_addr = c->addr, .now_ns = in->now,
					 .max_duration_ms = api->settings.max_duration_ms };
	if (api_initiate_plan(&plan, in->sr.grants, &in->sr.n_grants, err) < 0)
		return 400;
	if (api_approval_split(api, in->sr.grants, &in->sr.n_grants, in->now, &in->pend, &in->n_pend, err) < 0)
		return 500;
	initiate_stamp(api, c, in);
	return initiate_live_before(api, c, in, err);
}

void
api_policy_initiate(struct api *api, const struct api_caller *c, const struct http_request *req,
		    const struct arm_policy_id *id, struct http_response *resp)
{
	struct initiate_pending *p = calloc(1, sizeof(*p));
	struct core_error err = { 0 };
	int status;

	if (!p) {
		api_error(resp, 500, "InternalError", "", "out of memory");
		return;
	}
	p->in.now = time_now_ns();
	p->in.mono = time_mono_ns();
	if ((status = initiate_read(api, c, req, id, &p->in, &err, resp)) != 0) {
		if (status > 0)
			initiate_refused(api, c, &p->in, status, &err, resp);
		initiate_clear(&p->in);
		free(p);
		return;
	}
	p->c = *c;
	/* answered (202 or refusal) by initiate_finish into the held copy, sent once the batch commits */
	resp->status = 202;
	resp->hold = true;
	resp->held_at = &p->held;
	api->batch.held++;
	if (api->batch.pending_tail)
		*api->batch.pending_tail = p;
	else
		api->batch.pending = p;
	api->batch.pending_tail = &p->next;
}

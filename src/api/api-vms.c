/* VM inventory (jitgate's extension): the VMs jitgate can protect, with each one's JIT status. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/api-internal.h"
#include "codec/codec.h"
#include "core/timeutil.h"

static json_t *
ports_of(struct api *api, int64_t policy_id, const struct arm_vm_id *vm_arm, json_t **ret_policy_id)
{
	struct store_policy sp;
	struct policy *p = NULL;
	const struct policy_vm *pv;
	json_t *ports = json_array();
	char text[ARM_ID_MAX + 1];
	size_t i;

	if (store_policy_get_by_id(api->store, policy_id, &sp) < 0)
		return ports;
	arm_policy_id_format(&sp.arm, text, sizeof(text));
	*ret_policy_id = json_string(text);
	/* pv points into the cache's copy (or p): nothing below calls the cache again */
	if (api_policy_stored_vm(api, &sp, vm_arm, &pv, &p, NULL) == 0 && pv)
		for (i = 0; i < pv->n_ports; i++) {
			json_t *o = json_pack("{s:i, s:s}", "number", (json_int_t)pv->ports[i].number, "protocol",
					      net_proto_name(pv->ports[i].proto));
			struct net_addr pub;
			uint16_t mapped;

			/* gateway DNAT: where users connect to reach this port */
			api_dnat_of_port(pv, &pv->ports[i], &pub, &mapped);
			if (o && mapped && net_addr_format(&pub, text, sizeof(text)) > 0) {
				json_object_set_new(o, "publicIpAddress", json_string(text));
				json_object_set_new(o, "mappedPort", json_integer(mapped));
			}
			json_array_append_new(ports, o);
		}
	policy_free(p);
	store_policy_clear(&sp);
	return ports;
}

/*
 * "Configured", "NotConfigured" or "Unsupported" with its reason. An agent VM's enforcer is its agent, not this
 * host's kernel: its reason (into buf) is its agent's (api_agent_render, whose object *ret_agent gets, or NULL).
 */
static const char *
vm_status(struct api *api, const struct store_vm *vm, int64_t *ret_policy_id, const char **ret_reason, char *buf,
	  size_t size, json_t **ret_agent)
{
	json_t *agent;

	*ret_reason = NULL;
	if (vm->point == STORE_POINT_AGENT) {
		agent = api_agent_render(api, vm, buf, size);
		if (ret_agent)
			*ret_agent = agent;
		else
			json_decref(agent);
		if (buf[0]) {
			*ret_reason = buf;
			return "Unsupported";
		}
	} else if (!api->fw) {
		*ret_reason = api->fw_reason;
		return "Unsupported";
	}
	if (vm->unsupported_reason[0]) {
		*ret_reason = vm->unsupported_reason;
		return "Unsupported";
	}
	return store_policy_of_vm(api->store, vm->id, ret_policy_id) == 0 ? "Configured" : "NotConfigured";
}

static const char *
vm_point_name(enum store_point p)
{
	return p == STORE_POINT_AGENT ? "agent" : p == STORE_POINT_GATEWAY ? "gateway" : "local";
}

static json_t *
vm_render(struct api *api, const struct store_vm *vm)
{
	char id[ARM_ID_MAX + 1], a[NET_ADDR_TEXT_MAX], last[64];
	json_t *addrs = json_array(), *jit, *conn = json_array(), *ports = NULL, *policy_id = NULL, *o;
	struct store_vm_usage u;
	int64_t pid = 0;
	char why[STORE_REASON_MAX];
	json_t *agent = NULL;
	const char *reason;
	const char *status = vm_status(api, vm, &pid, &reason, why, sizeof(why), &agent);
	size_t i, j;

	arm_vm_id_format(&vm->arm, id, sizeof(id));
	for (i = 0; i < vm->n_addrs; i++) {
		net_addr_format(&vm->addrs[i], a, sizeof(a));
		json_array_append_new(addrs, json_string(a));
	}
	memset(&u, 0, sizeof(u));
	store_vm_usage(api->store, vm->id, time_now_ns() - APPROVED_WINDOW_NS, &u);
	jit = json_pack("{s:s, s:i}", "status", status, "approvedRequestsLast7Days", (json_int_t)u.approved_since);
	if (reason)
		json_object_set_new(jit, "reason", json_string(reason));
	if (!strcmp(status, "Configured")) {
		ports = ports_of(api, pid, &vm->arm, &policy_id);
		if (policy_id)
			json_object_set_new(jit, "policyId", policy_id);
		for (i = 0; i < vm->n_addrs; i++)
			for (j = 0; j < json_array_size(ports); j++) {
				json_t *pt = json_array_get(ports, j);

				if (json_object_get(pt, "mappedPort"))
					continue;	/* reached through the gateway's public address (below) */
				net_addr_format(&vm->addrs[i], a, sizeof(a));
				json_array_append_new(conn, json_pack("{s:s, s:O, s:O}", "address", a, "port",
								      json_object_get(pt, "number"), "protocol",
								      json_object_get(pt, "protocol")));
			}
		api_dnat_connections(ports, conn);
		json_object_set_new(jit, "ports", ports);
	}
	json_object_set_new(jit, "connectionDetails", conn);
	if (u.last_access_ns && time_format_azure(u.last_access_ns, last, sizeof(last)) > 0) {
		json_object_set_new(jit, "lastAccessTimeUtc", json_string(last));
		json_object_set_new(jit, "lastUser", json_string(u.last_user));
	}
	o = json_pack("{s:s, s:s, s:s, s:s, s:{s:s, s:s, s:o, s:o}}", "id", id, "name", vm->arm.name, "type",
		      "Microsoft.Compute/virtualMachines", "location", vm->location, "properties", "osType", vm->os_type,
		      "enforcement", vm_point_name(vm->point), "addresses", addrs, "jit", jit);
	if (o && agent)
		json_object_set_new(json_object_get(o, "properties"), "agent", agent);
	else
		json_decref(agent);
	return o;
}

void
api_vms_list(struct api *api, const struct api_caller *c, const struct http_request *req,
	     const struct api_list_scope *ls, struct http_response *resp)
{
	const char *want = http_request_query(req, "status"), *bad = NULL;
	struct store_vm *vms = NULL;
	size_t n = 0, kept = 0, from, to, i;
	json_t *items;
	int r;

	if (!rbac_any_allows(c->assign, c->n_assign, RBAC_VM_READ, NULL)) {
		api_require(api, c, RBAC_VM_READ, req->path, resp);
		return;
	}
	if (want)
		want = !strcasecmp(want, "configured")	   ? "Configured"
		       : !strcasecmp(want, "notconfigured") || !strcasecmp(want, "not-configured") ? "NotConfigured"
		       : !strcasecmp(want, "unsupported")   ? "Unsupported"
							    : (bad = want, NULL);
	if (bad) {
		api_error(resp, 400, "InvalidStatusFilter", "status",
			  "status must be configured, notConfigured or unsupported, not '%.32s'", bad);
		return;
	}
	if ((r = api_vms_readable(api, c, ls, &vms, &n)) < 0) {
		api_store_error(api, resp, r, "cannot read VMs");
		return;
	}
	/* which VMs the list holds (kept in place at the front of vms), then only the page's are rendered:
	 * rendering all 1,000 of a fleet for each page of 100 made the portal's load ten times slower */
	for (i = 0; i < n; i++) {
		int64_t pid;
		const char *reason, *st;
		char why[STORE_REASON_MAX];

		if (want) {
			st = vm_status(api, &vms[i], &pid, &reason, why, sizeof(why), NULL);
			if (strcmp(want, st))
				continue;
		}
		vms[kept++] = vms[i];
	}
	if (api_list_window(req, kept, &from, &to, resp) == 0) {
		items = json_array();
		for (i = from; i < to; i++)
			json_array_append_new(items, vm_render(api, &vms[i]));
		api_list_respond_page(req, items, from, kept, resp);
	}
	free(vms);
}

void
api_vm_get(struct api *api, const struct api_caller *c, const struct http_request *req, const struct arm_vm_id *id,
	   struct http_response *resp)
{
	char text[ARM_ID_MAX + 1];
	struct store_vm vm;
	int r;

	(void)req;
	arm_vm_id_format(id, text, sizeof(text));
	if (!api_require(api, c, RBAC_VM_READ, text, resp))
		return;
	r = store_vm_get(api->store, id, &vm);
	if (r == -ENOENT) {
		api_error(resp, 404, "ResourceNotFound", "", "the virtual machine '%s' was not found", text);
		return;
	}
	if (r < 0) {
		api_store_error(api, resp, r, "cannot read the VM");
		return;
	}
	api_json(resp, 200, vm_render(api, &vm));
}

/* A gateway VM's addresses are ones this host routes to: not its own loopback, multicast, ... */
static int
vm_addresses_refused(const struct store_vm *vm, struct core_error *err)
{
	char a[NET_ADDR_TEXT_MAX];
	const char *kind;
	size_t i;

	for (i = 0; vm->point == STORE_POINT_GATEWAY && i < vm->n_addrs; i++) {
		if (!(kind = net_addr_special_kind(&vm->addrs[i])))
			continue;
		net_addr_format(&vm->addrs[i], a, sizeof(a));
		return core_error_set(err, "InvalidAddress", "properties.addresses",
				      "'%s' is %s: a gateway VM needs an address that this host routes to", a, kind);
	}
	return 0;
}

/* The store refused an address that another VM has (-EADDRINUSE): name that VM and the address. */
static void
address_owner_error(struct api *api, const struct store_vm *vm, struct core_error *err)
{
	char a[NET_ADDR_TEXT_MAX], other[ARM_ID_MAX + 1];
	struct store_vm *all = NULL;
	size_t n = 0, i, j, k;

	if (store_vm_list(api->store, &all, &n) == 0)
		for (k = 0; k < n; k++) {
			if (arm_vm_id_equal(&all[k].arm, &vm->arm))
				continue;
			for (i = 0; i < vm->n_addrs; i++)
				for (j = 0; j < all[k].n_addrs; j++) {
					if (!net_addr_equal(&vm->addrs[i], &all[k].addrs[j]))
						continue;
					net_addr_format(&vm->addrs[i], a, sizeof(a));
					arm_vm_id_format(&all[k].arm, other, sizeof(other));
					core_error_set(err, "AddressInUse", "properties.addresses",
						       "'%s' is an address of the virtual machine '%s'%s; an address belongs to "
						       "one VM", a, other,
						       all[k].point == STORE_POINT_LOCAL ? " (jitgated's own host)" : "");
					free(all);
					return;
				}
		}
	free(all);
	core_error_set(err, "AddressInUse", "properties.addresses", "an address of this VM belongs to another VM: %s",
		       store_last_error(api->store));
}

/* The wire format's VM and the stored one hold the same fields the body carries. */
_Static_assert(sizeof(((struct codec_vm *)0)->location) == sizeof(((struct store_vm *)0)->location), "location");
_Static_assert(sizeof(((struct codec_vm *)0)->os_type) == sizeof(((struct store_vm *)0)->os_type), "os_type");
_Static_assert(sizeof(((struct codec_vm *)0)->addrs) == sizeof(((struct store_vm *)0)->addrs), "addrs");

/* Decode a VM PUT body onto vm (the codec's fields of it); nothing written on failure. */
static int
vm_decode(const struct http_request *req, struct store_vm *vm, struct core_error *err)
{
	struct codec_vm body;
	int r;

	memcpy(body.location, vm->location, sizeof(body.location));
	memcpy(body.os_type, vm->os_type, sizeof(body.os_type));
	body.point = vm->point == STORE_POINT_GATEWAY ? CODEC_POINT_GATEWAY : CODEC_POINT_LOCAL;
	body.n_addrs = vm->n_addrs;
	memcpy(body.addrs, vm->addrs, sizeof(body.addrs));
	r = codec_vm_decode(req->body, req->body_len, &body, err);
	if (r < 0)
		return r;
	memcpy(vm->location, body.location, sizeof(vm->location));
	memcpy(vm->os_type, body.os_type, sizeof(vm->os_type));
	vm->point = body.point == CODEC_POINT_GATEWAY ? STORE_POINT_GATEWAY : STORE_POINT_LOCAL;
	vm->n_addrs = body.n_addrs;
	memcpy(vm->addrs, body.addrs, sizeof(vm->addrs));
	return 0;
}

/* Does the PUT body ask for "enforcement": "agent" (any case)? Only a join makes an agent VM. */
static bool
vm_body_says_agent(const struct http_request *req)
{
	json_t *root = json_loadb(req->body, req->body_len, 0, NULL);
	const char *e = json_string_value(json_object_get(json_object_get(root, "properties"), "enforcement"));
	bool agent = e && !strcasecmp(e, "agent");

	json_decref(root);
	return agent;
}

/* A VM PUT on its way from the request to the answer; each step fills what the next reads. */
struct vm_write {
	char text[ARM_ID_MAX + 1];
	struct store_vm vm;		/* as it is to be stored */
	struct store_vm old;		/* as it was stored (zero: it was not) */
	bool existed, created;
	int64_t vm_id;
	enum api_fault fault;		/* where it stopped (api_fault_status) */
	struct core_error err;
};

/* Decode: the stored VM (or a new one's defaults) with the body's fields over it. jitgated's own host is refused first. */
static int
vm_put_decode(struct api *api, const struct http_request *req, const struct arm_vm_id *id, struct vm_write *w)
{
	int r;

	w->existed = store_vm_get(api->store, id, &w->vm) == 0;
	if ((w->existed && w->vm.point == STORE_POINT_AGENT) || vm_body_says_agent(req)) {
		/* its name, OS and addresses come from its agent: it joins (jitgate-agent join) and reports them */
		w->fault = API_FAULT_CONFLICT;
		return core_error_set(&w->err, "AgentVirtualMachine", "properties.enforcement",
				      "'%s' %s: agent VMs are registered by 'jitgate-agent join' and changed only by "
				      "their agent",
				      w->text, w->existed && w->vm.point == STORE_POINT_AGENT ? "is enforced by its own agent"
										    : "cannot be made an agent VM here");
	}
	if (w->existed && w->vm.point == STORE_POINT_LOCAL) {
		/* its name, OS, location and addresses come from jitgated's configuration and host, at every start */
		w->fault = API_FAULT_CONFLICT;
		return core_error_set(&w->err, "LocalVirtualMachine", "properties.enforcement",
				      "'%s' is jitgated's own host (enforcement 'local'): only jitgated registers and "
				      "changes it",
				      w->text);
	}
	if (w->existed) {
		w->old = w->vm;
	} else {
		memset(&w->vm, 0, sizeof(w->vm));
		w->vm.arm = *id;
		w->vm.point = STORE_POINT_GATEWAY;
		snprintf(w->vm.location, sizeof(w->vm.location), "%s", api->settings.location);
		snprintf(w->vm.os_type, sizeof(w->vm.os_type), "Linux");
	}
	w->fault = API_FAULT_REQUEST;
	if ((r = vm_decode(req, &w->vm, &w->err)) < 0)
		return r;
	w->vm.arm = *id;
	return 0;
}

int
api_vm_put_check(const struct store_vm *vm, const struct store_vm *old, const char *text, enum api_fault *ret_fault,
		 struct core_error *err)
{
	*ret_fault = API_FAULT_REQUEST;
	if (vm->point == STORE_POINT_LOCAL && !old)
		return core_error_set(err, "InvalidEnforcement", "properties.enforcement",
				      "only jitgated's own host is a local VM; other VMs are enforced as 'gateway'");
	if (old && vm->point != old->point) {
		*ret_fault = API_FAULT_CONFLICT;
		return core_error_set(err, "EnforcementImmutable", "properties.enforcement",
				      "the enforcement point of '%s' is 'gateway' and cannot change", text);
	}
	if (vm->point == STORE_POINT_GATEWAY && vm->n_addrs == 0)
		return core_error_set(err, "MissingField", "properties.addresses", "a gateway VM needs at least one address");
	return vm_addresses_refused(vm, err);
}

/* Plan: past the body's own rules, no address of this host's, and no move out of its policy's location. */
static int
vm_put_plan(struct api *api, struct vm_write *w)
{
	const struct store_vm *vm = &w->vm;
	int64_t pid;
	size_t i;
	int r;

	if ((r = api_vm_put_check(vm, w->existed ? &w->old : NULL, w->text, &w->fault, &w->err)) < 0)
		return r;
	w->fault = API_FAULT_CONFLICT;
	for (i = 0; vm->point == STORE_POINT_GATEWAY && i < vm->n_addrs; i++) {
		char a[NET_ADDR_TEXT_MAX], local[ARM_ID_MAX + 1] = "";
		struct store_vm lv;

		if (!api_host_has_address(&vm->addrs[i]))
			continue;
		net_addr_format(&vm->addrs[i], a, sizeof(a));
		if (store_vm_get_by_id(api->store, api->local_vm_id, &lv) == 0)
			arm_vm_id_format(&lv.arm, local, sizeof(local));
		return core_error_set(&w->err, "AddressInUse", "properties.addresses",
				      "'%s' is an address of this host: it belongs to the virtual machine '%s' (jitgated's "
				      "own host); an address belongs to one VM",
				      a, local);
	}
	if (w->existed && strcasecmp(vm->location, w->old.location) &&
	    store_policy_of_vm(api->store, w->old.id, &pid) == 0)
		return core_error_set(&w->err, "VirtualMachineInPolicy", "location",
				      "'%s' is in a JIT policy of location '%s'; remove it from the policy before moving it",
				      w->text, w->old.location);
	return 0;
}

/* Apply: the VM in the store and the kernel moved to what the store now says, in one transaction. */
static int
vm_put_apply(struct api *api, struct vm_write *w)
{
	struct api_state st;
	int r;

	w->fault = API_FAULT_STORE;
	if ((r = store_begin(api->store)) < 0)
		return api_store_refused(api, r, &w->err, "cannot write");
	if ((r = store_vm_put(api->store, &w->vm, &w->vm_id, &w->created)) == -EADDRINUSE || r == -EPERM) {
		w->fault = API_FAULT_CONFLICT;
		if (r == -EPERM)
			core_error_set(&w->err, "EnforcementImmutable", "properties.enforcement",
				       "the enforcement point of '%s' cannot change", w->text);
		else
			address_owner_error(api, &w->vm, &w->err);
		store_rollback(api->store);
		return r;
	}
	if (r < 0)
		api_store_refused(api, r, &w->err, "cannot store the VM");
	else if (api->fw && (r = api_state_read(api, &st, &w->err)) == 0) {
		/* the store's rows read (a refusal there is the store's, as above); the rest is ours or the kernel's */
		w->fault = API_FAULT_INTERNAL;
		if ((r = api_state_build(api, &st, &w->err)) == 0) {
			api_kernel_start(api);
			r = api_kernel_timed(api, fw_set_state(api->fw, &st.fw, NULL, &w->err));
			api_state_free(&st);
		}
	}
	if (r == 0) {
		w->fault = API_FAULT_STORE;
		if ((r = store_commit(api->store)) < 0)
			api_store_refused(api, r, &w->err, "the store refused the VM");
	}
	if (r < 0) {
		store_rollback(api->store);
		if (api->fw)
			api_reconcile(api, NULL);
	}
	return r;
}

void
api_vm_put(struct api *api, const struct api_caller *c, const struct http_request *req, const struct arm_vm_id *id,
	   struct http_response *resp)
{
	struct vm_write w;
	int r;

	memset(&w, 0, sizeof(w));
	arm_vm_id_format(id, w.text, sizeof(w.text));
	if (!api_require(api, c, RBAC_VM_WRITE, w.text, resp))
		return;
	if ((r = vm_put_decode(api, req, id, &w)) < 0 || (r = vm_put_plan(api, &w)) < 0 ||
	    (r = vm_put_apply(api, &w)) < 0) {
		api_log(api, c, RBAC_VM_WRITE, w.text, "Failed", NULL, "%s: %s", w.err.code, w.err.message);
		api_error_record(resp, api_fault_status(w.fault, r), &w.err);
		return;
	}
	api_log(api, c, RBAC_VM_WRITE, w.text, "Succeeded", NULL, "%s the VM (%s, %zu address(es))",
		w.created ? "registered" : "updated", w.vm.point == STORE_POINT_GATEWAY ? "gateway" : "local",
		w.vm.n_addrs);
	store_vm_get_by_id(api->store, w.vm_id, &w.vm);
	api_json(resp, w.created ? 201 : 200, vm_render(api, &w.vm));
}

/* Delete the VM; an agent VM's agent credential is revoked with it, in one transaction. */
static int
vm_delete_with_agent(struct api *api, const struct store_vm *vm)
{
	int r;

	if (vm->point != STORE_POINT_AGENT)
		return store_vm_delete(api->store, vm->id);
	if ((r = store_begin(api->store)) < 0)
		return r;
	r = store_agent_revoke(api->store, vm->id, time_now_ns());
	if (r == 0 || r == -ENOENT)
		r = store_vm_delete(api->store, vm->id);
	if (r == 0)
		return store_commit(api->store);
	store_rollback(api->store);
	return r;
}

void
api_vm_delete(struct api *api, const struct api_caller *c, const struct http_request *req,
	      const struct arm_vm_id *id, struct http_response *resp)
{
	char text[ARM_ID_MAX + 1];
	struct store_vm vm;
	int64_t pid;
	int r;

	(void)req;
	arm_vm_id_format(id, text, sizeof(text));
	if (!api_require(api, c, RBAC_VM_DELETE, text, resp))
		return;
	r = store_vm_get(api->store, id, &vm);
	if (r == -ENOENT) {
		resp->status = 204;
		return;
	}
	if (r < 0) {
		api_store_error(api, resp, r, "cannot read the VM");
		return;
	}
	if (vm.point == STORE_POINT_LOCAL && vm.id == api->local_vm_id) {
		api_error(resp, 409, "LocalVirtualMachine", "",
			  "'%s' is jitgated's own host; it is registered at every start", text);
		return;
	}
	if (store_policy_of_vm(api->store, vm.id, &pid) == 0) {
		api_error(resp, 409, "VirtualMachineInPolicy", "",
			  "'%s' is in a JIT policy; remove it from the policy first", text);
		return;
	}
	r = vm_delete_with_agent(api, &vm);
	if (r == -ENOTEMPTY) {	/* put in a policy since the check above (another writer) */
		api_error(resp, 409, "VirtualMachineInPolicy", "", "cannot delete the VM: %s",
			  store_last_error(api->store));
		return;
	}
	if (r < 0) {
		api_store_error(api, resp, r, "cannot delete the VM");
		return;
	}
	if (vm.point == STORE_POINT_AGENT)
		api_watch_kick(api, vm.id);	/* its parked watch is answered (401) now */
	api_log(api, c, RBAC_VM_DELETE, text, "Succeeded", NULL, "removed the VM from the inventory%s",
		vm.point == STORE_POINT_AGENT ? " and revoked its agent's credential" : "");
	resp->status = 200;
}

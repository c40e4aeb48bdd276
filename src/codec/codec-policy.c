/* Policy bodies: the PUT body Azure clients send, and the policy as the API returns it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec.h"
#include "codec/codec-internal.h"
#include "core/duration.h"

#define POLICY_TYPE "Microsoft.Security/locations/jitNetworkAccessPolicies"

/* ---- decoding ---- */

static int
decode_policy_sources(json_t *obj, const char *base, struct policy_port *port, struct core_error *err)
{
	char target[ERROR_TARGET_MAX], item[ERROR_TARGET_MAX];
	json_t *one = member(obj, "allowedSourceAddressPrefix");
	json_t *list = member(obj, "allowedSourceAddressPrefixes");
	json_t *v;
	size_t k;
	int r;

	if (one != NULL && list != NULL)
		return core_error_set(err, "AmbiguousSourceAddressPrefix", base,
		    "Give either allowedSourceAddressPrefix or allowedSourceAddressPrefixes, not both.");
	if (one == NULL && list == NULL)
		return core_error_set(err, "MissingSourceAddressPrefix", base,
		    "allowedSourceAddressPrefix or allowedSourceAddressPrefixes is required (\"*\" allows any source).");
	if (one != NULL) {
		path_key(target, sizeof(target), base, "allowedSourceAddressPrefix");
		if (!json_is_string(one))
			return error_type(err, target, "a string");
		r = policy_port_sources_alloc(port, 1);
		if (r < 0)
			return r;
		port->sources_as_list = false;
		return source_from_json(one, target, &port->sources[0], err);
	}
	path_key(target, sizeof(target), base, "allowedSourceAddressPrefixes");
	if (!json_is_array(list))
		return error_type(err, target, "an array");
	if (json_array_size(list) > POLICY_SOURCES_MAX)
		return core_error_set(err, "TooManySourceAddressPrefixes", target,
		    "%s lists %zu prefixes; at most %d are allowed.", target, json_array_size(list), POLICY_SOURCES_MAX);
	r = policy_port_sources_alloc(port, json_array_size(list));
	if (r < 0)
		return r;
	port->sources_as_list = true;
	json_array_foreach(list, k, v) {
		path_index(item, sizeof(item), target, k);
		r = source_from_json(v, item, &port->sources[k], err);
		if (r < 0)
			return r;
	}
	return 0;
}

/*
 * jitgate's extension on a rule: "approval": {"approvalsRequired": N, "approverRole": "...", "approverScope": "..."};
 * the scope defaults to the VM's resource group. Ranges are policy_validate's.
 */
static int
decode_policy_approval(json_t *v, const char *base, const struct arm_vm_id *vm, struct policy_port *port,
		       struct core_error *err)
{
	char target[ERROR_TARGET_MAX], item[ERROR_TARGET_MAX];
	json_t *a, *n, *role, *scope;
	json_int_t k;
	int r;

	if ((r = get_member(v, base, "approval", JSON_OBJECT, false, &a, err)) < 0 || a == NULL)
		return r < 0 ? r : 0;
	path_key(target, sizeof(target), base, "approval");
	if ((port->approval = calloc(1, sizeof(*port->approval))) == NULL)
		return -ENOMEM;
	if ((r = get_member(a, target, "approvalsRequired", JSON_INTEGER, false, &n, err)) < 0 ||
	    (r = get_member(a, target, "approverRole", JSON_STRING, true, &role, err)) < 0 ||
	    (r = get_member(a, target, "approverScope", JSON_STRING, false, &scope, err)) < 0)
		return r;
	k = n ? json_integer_value(n) : 1;
	path_key(item, sizeof(item), target, "approvalsRequired");
	if (k < 1 || k > POLICY_APPROVALS_MAX)
		return core_error_set(err, "InvalidApproval", item, "approvalsRequired must be from 1 to %d",
				      POLICY_APPROVALS_MAX);
	port->approval->required = (unsigned)k;
	path_key(item, sizeof(item), target, "approverRole");
	if ((r = string_copy(role, port->approval->role, sizeof(port->approval->role), "InvalidApproval", item, err)) < 0)
		return r;
	path_key(item, sizeof(item), target, "approverScope");
	if (scope)
		return string_copy(scope, port->approval->scope, sizeof(port->approval->scope), "InvalidApproval", item,
				   err);
	snprintf(port->approval->scope, sizeof(port->approval->scope), "/subscriptions/%s/resourceGroups/%s",
		 vm->subscription, vm->resource_group);
	return 0;
}

static int
decode_policy_port(json_t *v, const char *base, const struct arm_vm_id *vm, struct policy_port *port,
		   struct core_error *err)
{
	char target[ERROR_TARGET_MAX];
	json_t *proto, *dur;
	int r;

	if (!json_is_object(v))
		return error_type(err, base, "an object");
	r = get_port(v, base, "number", &port->number, err);
	if (r < 0)
		return r;
	r = get_member(v, base, "protocol", JSON_STRING, true, &proto, err);
	if (r < 0)
		return r;
	path_key(target, sizeof(target), base, "protocol");
	if (net_proto_parse(json_string_value(proto), json_string_length(proto), &port->proto, err) < 0)
		return error_at(err, target);
	r = decode_policy_sources(v, base, port, err);
	if (r < 0)
		return r;
	r = get_member(v, base, "maxRequestAccessDuration", JSON_STRING, true, &dur, err);
	if (r < 0)
		return r;
	path_key(target, sizeof(target), base, "maxRequestAccessDuration");
	if (duration_parse_iso8601(json_string_value(dur), json_string_length(dur), &port->max_duration_ms, err) < 0)
		return error_at(err, target);
	/* kept as sent; the parser refuses what is longer than DURATION_TEXT_MAX, so it fits */
	r = string_copy(dur, port->max_duration_text, sizeof(port->max_duration_text), "InvalidDuration", target, err);
	if (r < 0)
		return r;
	/* gateway DNAT: a pinned public port (the server checks it against the VM's publicIpAddress) */
	if (member(v, "mappedPort") && (r = get_port(v, base, "mappedPort", &port->mapped_port, err)) < 0)
		return r;
	return decode_policy_approval(v, base, vm, port, err);
}

static int
decode_policy_vm(json_t *v, const char *base, struct policy_vm *vm, struct core_error *err)
{
	char target[ERROR_TARGET_MAX], item[ERROR_TARGET_MAX];
	json_t *id, *ports, *port, *pub = NULL;
	size_t j;
	int r;

	if (!json_is_object(v))
		return error_type(err, base, "an object");
	r = get_member(v, base, "id", JSON_STRING, true, &id, err);
	if (r < 0)
		return r;
	path_key(target, sizeof(target), base, "id");
	if (arm_vm_id_parse(json_string_value(id), json_string_length(id), &vm->id, err) < 0)
		return error_at(err, target);
	r = get_member(v, base, "publicIpAddress", JSON_STRING, false, &pub, err);
	if (r < 0)
		return r;
	path_key(target, sizeof(target), base, "publicIpAddress");
	/* Azure sends "" for a VM without one */
	if (pub && json_string_length(pub) &&
	    net_addr_parse(json_string_value(pub), json_string_length(pub), &vm->public_ip, err) < 0)
		return error_at(err, target);
	r = get_member(v, base, "ports", JSON_ARRAY, true, &ports, err);
	if (r < 0)
		return r;
	path_key(target, sizeof(target), base, "ports");
	if (json_array_size(ports) > POLICY_PORTS_MAX)
		return core_error_set(err, "TooManyPorts", target,
		    "Virtual machine %s has %zu port rules; at most %d are allowed.",
		    vm->id.name, json_array_size(ports), POLICY_PORTS_MAX);
	r = policy_vm_ports_alloc(vm, json_array_size(ports));
	if (r < 0)
		return r;
	json_array_foreach(ports, j, port) {
		path_index(item, sizeof(item), target, j);
		r = decode_policy_port(port, item, &vm->id, &vm->ports[j], err);
		if (r < 0)
			return r;
	}
	return 0;
}

int
codec_policy_decode(const char *body, size_t n, const struct arm_policy_id *id, struct policy **ret,
			struct core_error *err)
{
	char item[ERROR_TARGET_MAX];
	json_t *root = NULL, *loc, *kind, *props, *vms, *v;
	struct policy *p = NULL;
	size_t i;
	int r;

	r = body_load(body, n, &root, err);
	if (r < 0)
		goto out;
	p = policy_new();
	if (p == NULL) {
		r = -ENOMEM;
		goto out;
	}
	p->id = *id;

	r = get_member(root, "", "location", JSON_STRING, false, &loc, err);
	if (r < 0)
		goto out;
	if (loc != NULL && !arm_name_equal(json_string_value(loc), id->location)) {
		char q[ERROR_QUOTE_SIZE];

		r = core_error_set(err, "LocationMismatch", "location",
		    "The body's location '%s' differs from the location in the URL, '%s'.",
		    core_error_quote(json_string_value(loc), json_string_length(loc), q, sizeof(q)), id->location);
		goto out;
	}
	r = get_member(root, "", "kind", JSON_STRING, false, &kind, err);
	if (r < 0)
		goto out;
	if (kind != NULL) {
		r = string_copy(kind, p->kind, sizeof(p->kind), "InvalidKind", "kind", err);
		if (r < 0)
			goto out;
	}

	r = get_member(root, "", "properties", JSON_OBJECT, true, &props, err);
	if (r < 0)
		goto out;
	/* "requests" and "provisioningState" are ours to write, not the client's: ignored. */
	r = get_member(props, "properties", "virtualMachines", JSON_ARRAY, true, &vms, err);
	if (r < 0)
		goto out;
	if (json_array_size(vms) > POLICY_VMS_MAX) {
		r = core_error_set(err, "TooManyVirtualMachines", "properties.virtualMachines",
		    "The policy lists %zu virtual machines; at most %d are allowed.",
		    json_array_size(vms), POLICY_VMS_MAX);
		goto out;
	}
	r = policy_vms_alloc(p, json_array_size(vms));
	if (r < 0)
		goto out;
	json_array_foreach(vms, i, v) {
		path_index(item, sizeof(item), "properties.virtualMachines", i);
		r = decode_policy_vm(v, item, &p->vms[i], err);
		if (r < 0)
			goto out;
	}
	*ret = p;
	p = NULL;
	r = 0;
out:
	policy_free(p);
	json_decref(root);
	return r;
}

/* ---- encoding ---- */

static json_t *
encode_policy_port(const struct policy_port *port)
{
	char dur[DURATION_FORMAT_SIZE];
	const char *text;
	json_t *o = json_object(), *list, *ret = NULL;
	size_t k;
	int len, r;

	if (o == NULL)
		goto out;
	len = duration_format_iso8601(port->max_duration_ms, dur, sizeof(dur));
	if (len < 0)
		goto out;
	text = port->max_duration_text[0] != '\0' ? port->max_duration_text : dur;
	if (put(o, "number", json_integer(port->number)) < 0 ||
	    put(o, "protocol", json_string(net_proto_name(port->proto))) < 0)
		goto out;
	/* The field the client used; a model with other than one source needs the list whatever it says. */
	if (!port->sources_as_list && port->n_sources == 1) {
		if (put(o, "allowedSourceAddressPrefix", source_to_json(&port->sources[0])) < 0)
			goto out;
	} else {
		list = json_array();
		for (k = 0; list != NULL && k < port->n_sources; k++) {
			if (push(list, source_to_json(&port->sources[k])) < 0) {
				json_decref(list);
				list = NULL;
			}
		}
		r = put(o, "allowedSourceAddressPrefixes", list);
		if (r < 0)
			goto out;
	}
	if (put(o, "maxRequestAccessDuration", json_string(text)) < 0 ||
	    (port->mapped_port && put(o, "mappedPort", json_integer(port->mapped_port)) < 0))
		goto out;
	if (port->approval && put(o, "approval", json_pack("{s:i, s:s, s:s}", "approvalsRequired",
			(json_int_t)port->approval->required, "approverRole", port->approval->role,
			"approverScope", port->approval->scope)) < 0)
		goto out;
	ret = o;
	o = NULL;
out:
	json_decref(o);
	return ret;
}

static json_t *
encode_policy_vm(const struct policy_vm *vm)
{
	json_t *ports = json_array();
	size_t j;

	for (j = 0; ports != NULL && j < vm->n_ports; j++) {
		if (push(ports, encode_policy_port(&vm->ports[j])) < 0) {
			json_decref(ports);
			return NULL;
		}
	}
	json_t *o = ports == NULL ? NULL : vm_to_json(&vm->id, ports);
	char pub[NET_PREFIX_TEXT_MAX];

	if (o && vm->public_ip.family &&
	    (net_addr_format(&vm->public_ip, pub, sizeof(pub)) < 0 || put(o, "publicIpAddress", json_string(pub)) < 0)) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* {"virtualMachines":[...]} of p, with the server's "provisioningState" in its own view. NULL on ENOMEM. */
static json_t *
encode_policy_properties(const struct policy *p, bool server_view)
{
	json_t *props = json_object(), *vms = json_array();
	size_t i;
	int r;

	if (props == NULL || vms == NULL)
		goto fail;
	for (i = 0; i < p->n_vms; i++)
		if (push(vms, encode_policy_vm(&p->vms[i])) < 0)
			goto fail;
	r = put(props, "virtualMachines", vms);
	vms = NULL;
	if (r < 0 || (server_view && put(props, "provisioningState", json_string("Succeeded")) < 0))
		goto fail;
	return props;
fail:
	json_decref(vms);
	json_decref(props);
	return NULL;
}

json_t *
codec_policy_encode(const struct policy *p)
{
	char id[ARM_ID_MAX + 1];
	json_t *o = json_object();
	int len;

	if (o == NULL)
		return NULL;
	len = arm_policy_id_format(&p->id, id, sizeof(id));
	if (len < 0 ||
	    put(o, "id", json_stringn(id, (size_t)len)) < 0 ||
	    put(o, "name", string_field(p->id.name, sizeof(p->id.name))) < 0 ||
	    put(o, "type", json_string(POLICY_TYPE)) < 0 ||
	    put(o, "location", string_field(p->id.location, sizeof(p->id.location))) < 0 ||
	    put(o, "kind", p->kind[0] != '\0' ? string_field(p->kind, sizeof(p->kind)) : json_string(POLICY_KIND_DEFAULT)) < 0 ||
	    put(o, "properties", encode_policy_properties(p, true)) < 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

json_t *
codec_policy_body_encode(const struct policy *p)
{
	json_t *o = json_object();

	if (o == NULL)
		return NULL;
	if ((p->kind[0] != '\0' && put(o, "kind", string_field(p->kind, sizeof(p->kind))) < 0) ||
	    put(o, "location", string_field(p->id.location, sizeof(p->id.location))) < 0 ||
	    put(o, "properties", encode_policy_properties(p, false)) < 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

json_t *
codec_policy_port_encode(const struct policy_port *port)
{
	return encode_policy_port(port);
}

json_t *
codec_policy_vm_json(const struct arm_vm_id *id, json_t *ports)
{
	return vm_to_json(id, ports);
}

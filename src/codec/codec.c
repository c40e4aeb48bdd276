/* JSON bodies of the API: Azure's policy and initiate bodies, jitgate's revoke and VM bodies, and errors. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec.h"
#include "core/duration.h"
#include "core/timeutil.h"

#define POLICY_TYPE "Microsoft.Security/locations/jitNetworkAccessPolicies"

/* ---- paths and error records ---- */

/* Append s at buf[len] (buf has size bytes), cutting at the end; returns the new length. */
static size_t
path_put(char *buf, size_t size, size_t len, const char *s)
{
	size_t n = strlen(s);

	if (n > size - 1 - len)
		n = size - 1 - len;
	memcpy(buf + len, s, n);
	buf[len + n] = '\0';
	return len + n;
}

/* "base.key", or "key" when base is empty (initiate and revoke bodies have no "properties."). */
static void
path_key(char *buf, size_t size, const char *base, const char *key)
{
	size_t len = path_put(buf, size, 0, base);

	if (len > 0)
		len = path_put(buf, size, len, ".");
	path_put(buf, size, len, key);
}

/* "base[i]". */
static void
path_index(char *buf, size_t size, const char *base, size_t i)
{
	char idx[32];

	snprintf(idx, sizeof(idx), "[%zu]", i);
	path_put(buf, size, path_put(buf, size, 0, base), idx);
}

/* Point the error a core parser left (with no target) at the field it was given. */
static int
error_at(struct core_error *err, const char *target)
{
	if (err != NULL)
		snprintf(err->target, sizeof(err->target), "%s", target);
	return -EINVAL;
}

static int
error_type(struct core_error *err, const char *target, const char *what)
{
	if (target[0] == '\0')
		return core_error_set(err, "InvalidType", "", "The body must be %s.", what);
	return core_error_set(err, "InvalidType", target, "%s must be %s.", target, what);
}

static int
error_missing(struct core_error *err, const char *target)
{
	return core_error_set(err, "MissingField", target, "%s is required.", target);
}

/* Copy s into buf (of size bytes) with anything not printable ASCII as '?', so a message stays readable. */
static void
copy_printable(char *buf, size_t size, const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0' && i + 1 < size; i++) {
		unsigned char c = (unsigned char)s[i];

		buf[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	buf[i] = '\0';
}

/* ---- loading a body ---- */

/* Append s[0..n) to the path of `len` bytes, cut at ERROR_TARGET_MAX and made printable; returns the new length. */
static size_t
path_append(char *path, size_t len, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n && len + 1 < ERROR_TARGET_MAX; i++) {
		unsigned char c = (unsigned char)s[i];

		path[len++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	path[len] = '\0';
	return len;
}

/*
 * The limits jansson does not keep: nesting (v is at `depth`, the body itself at 1) and
 * string length (values and member names). Recursion stops at API_JSON_DEPTH_MAX + 1.
 * path (ERROR_TARGET_MAX bytes, `len` used) names v, for the error's target.
 */
static int
check_tree(json_t *v, unsigned depth, char *path, size_t len, struct core_error *err)
{
	const char *key;
	json_t *child;
	char idx[32];
	size_t i, sub;
	int r, k;

	switch (json_typeof(v)) {
	case JSON_STRING:
		if (json_string_length(v) > API_STRING_MAX)
			return core_error_set(err, "ValueTooLong", path, "%s is longer than %d bytes.",
			    len > 0 ? path : "A value", API_STRING_MAX);
		return 0;
	case JSON_OBJECT:
	case JSON_ARRAY:
		break;
	default:
		return 0;
	}
	if (depth > API_JSON_DEPTH_MAX)
		return core_error_set(err, "InvalidJson", "",
		    "The body nests arrays and objects more than %d levels deep.", API_JSON_DEPTH_MAX);
	if (json_is_array(v)) {
		json_array_foreach(v, i, child) {
			k = snprintf(idx, sizeof(idx), "[%zu]", i);
			sub = path_append(path, len, idx, k > 0 ? (size_t)k : 0);
			r = check_tree(child, depth + 1, path, sub, err);
			if (r < 0)
				return r;
		}
	} else {
		json_object_foreach(v, key, child) {
			size_t klen = strlen(key);

			path[len] = '\0';	/* the previous member's name goes */
			if (klen > API_STRING_MAX)
				return core_error_set(err, "ValueTooLong", path,
				    "A member name in %s is longer than %d bytes.",
				    len > 0 ? path : "the body", API_STRING_MAX);
			sub = len > 0 ? path_append(path, len, ".", 1) : 0;
			sub = path_append(path, sub, key, klen);
			r = check_tree(child, depth + 1, path, sub, err);
			if (r < 0)
				return r;
		}
	}
	path[len] = '\0';
	return 0;
}

/* Parse a body into a JSON object within our limits; *ret is the caller's to json_decref. */
static int
body_load(const char *body, size_t n, json_t **ret, struct core_error *err)
{
	char path[ERROR_TARGET_MAX], text[JSON_ERROR_TEXT_LENGTH];
	json_error_t jerr;
	json_t *root;
	int r;

	if (n > API_BODY_MAX)
		return core_error_set(err, "BodyTooLarge", "", "The body is larger than %d bytes.", API_BODY_MAX);
	/* jansson reads exactly n bytes; no NUL is needed or trusted. */
	root = json_loadb(n > 0 ? body : "", n, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		if (json_error_code(&jerr) == json_error_out_of_memory)
			return -ENOMEM;
		copy_printable(text, sizeof(text), jerr.text);
		return core_error_set(err, "InvalidJson", "", "The body is not valid JSON: %s (line %d, column %d).",
		    text, jerr.line, jerr.column);
	}
	if (!json_is_object(root)) {
		r = error_type(err, "", "a JSON object");
		goto out;
	}
	path[0] = '\0';
	r = check_tree(root, 1, path, 0, err);
	if (r < 0)
		goto out;
	*ret = root;
	root = NULL;
	r = 0;
out:
	json_decref(root);
	return r;
}

/* ---- typed members ---- */

/* The member `key` of obj; NULL when absent or null (some clients send null for an unset optional field). */
static json_t *
member(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	return json_is_null(v) ? NULL : v;
}

static const char *
type_words(json_type type)
{
	switch (type) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	default:
		return "true or false";
	}
}

/*
 * Member `key` of obj, of this type (JSON_TRUE stands for a boolean), in *ret.
 * 0 when present, 1 when absent and optional (*ret = NULL), else -EINVAL.
 */
static int
get_member(json_t *obj, const char *base, const char *key, json_type type, bool required, json_t **ret,
    struct core_error *err)
{
	char target[ERROR_TARGET_MAX];
	json_t *v = member(obj, key);
	bool ok;

	path_key(target, sizeof(target), base, key);
	if (v == NULL) {
		if (required)
			return error_missing(err, target);
		*ret = NULL;
		return 1;
	}
	ok = type == JSON_TRUE ? json_is_boolean(v) : json_typeof(v) == type;
	if (!ok)
		return error_type(err, target, type_words(type));
	*ret = v;
	return 0;
}

/* A port number, 1–65535, at `target`. */
static int
port_from_json(json_t *v, const char *target, uint16_t *ret, struct core_error *err)
{
	json_int_t x;

	if (!json_is_integer(v))
		return error_type(err, target, "an integer");
	x = json_integer_value(v);
	if (x < 1 || x > 65535)
		return core_error_set(err, "InvalidPort", target,
		    "%" JSON_INTEGER_FORMAT " is not a valid port: it must be a whole number from 1 to 65535.", x);
	*ret = (uint16_t)x;
	return 0;
}

/* Required member `key` of obj as a port number. */
static int
get_port(json_t *obj, const char *base, const char *key, uint16_t *ret, struct core_error *err)
{
	char target[ERROR_TARGET_MAX];
	json_t *v = member(obj, key);

	path_key(target, sizeof(target), base, key);
	if (v == NULL)
		return error_missing(err, target);
	return port_from_json(v, target, ret, err);
}

/* The "virtualMachines" array of an initiate or revoke body: 1..API_INITIATE_VMS_MAX entries. */
static int
get_request_vms(json_t *root, json_t **ret, struct core_error *err)
{
	json_t *vms;
	int r;

	r = get_member(root, "", "virtualMachines", JSON_ARRAY, true, &vms, err);
	if (r < 0)
		return r;
	if (json_array_size(vms) == 0)
		return core_error_set(err, "MissingVirtualMachines", "virtualMachines",
		    "The request names no virtual machine.");
	if (json_array_size(vms) > API_INITIATE_VMS_MAX)
		return core_error_set(err, "TooManyVirtualMachines", "virtualMachines",
		    "The request names %zu virtual machines; at most %d are allowed.",
		    json_array_size(vms), API_INITIATE_VMS_MAX);
	*ret = vms;
	return 0;
}

/* Entry `base` of a request's virtualMachines: an object with an "id" and 1..API_INITIATE_PORTS_MAX "ports". */
static int
get_request_vm(json_t *v, const char *base, struct arm_vm_id *ret_id, json_t **ret_ports, struct core_error *err)
{
	char target[ERROR_TARGET_MAX];
	json_t *id, *ports;
	int r;

	if (!json_is_object(v))
		return error_type(err, base, "an object");
	r = get_member(v, base, "id", JSON_STRING, true, &id, err);
	if (r < 0)
		return r;
	path_key(target, sizeof(target), base, "id");
	if (arm_vm_id_parse(json_string_value(id), json_string_length(id), ret_id, err) < 0)
		return error_at(err, target);
	r = get_member(v, base, "ports", JSON_ARRAY, true, &ports, err);
	if (r < 0)
		return r;
	path_key(target, sizeof(target), base, "ports");
	if (json_array_size(ports) == 0)
		return core_error_set(err, "MissingPorts", target, "Virtual machine %s: the request names no port.",
		    ret_id->name);
	if (json_array_size(ports) > API_INITIATE_PORTS_MAX)
		return core_error_set(err, "TooManyPorts", target,
		    "Virtual machine %s: the request names %zu ports; at most %d are allowed.",
		    ret_id->name, json_array_size(ports), API_INITIATE_PORTS_MAX);
	*ret_ports = ports;
	return 0;
}

/* What a request body's walk calls for each VM and for each of its ports (see request_vms_walk). */
struct request_walk {
	int (*vm)(void *ctx, size_t i, const struct arm_vm_id *id, size_t n_ports);
	int (*port)(void *ctx, size_t i, size_t j, json_t *port, const char *target, struct core_error *err);
};

/*
 * The one walk over a request body's virtualMachines[].ports[] (initiate and revoke): vms is
 * what get_request_vms returned. For VM i, w->vm(ctx, i, id, number of ports) comes first (it
 * keeps the id and makes room for the ports), then w->port(ctx, i, j, port, its path, err) for
 * each port j. Stops at the first negative return and returns it.
 */
static int
request_vms_walk(json_t *vms, const struct request_walk *w, void *ctx, struct core_error *err)
{
	char base[ERROR_TARGET_MAX], list[ERROR_TARGET_MAX], item[ERROR_TARGET_MAX];
	struct arm_vm_id id;
	json_t *v, *ports, *port;
	size_t i, j;
	int r;

	json_array_foreach(vms, i, v) {
		path_index(base, sizeof(base), "virtualMachines", i);
		r = get_request_vm(v, base, &id, &ports, err);
		if (r < 0)
			return r;
		r = w->vm(ctx, i, &id, json_array_size(ports));
		if (r < 0)
			return r;
		path_key(list, sizeof(list), base, "ports");
		json_array_foreach(ports, j, port) {
			path_index(item, sizeof(item), list, j);
			r = w->port(ctx, i, j, port, item, err);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

/* Copy the string v into buf (of size bytes): `code` at `target` when it does not fit with its NUL. */
static int
string_copy(json_t *v, char *buf, size_t size, const char *code, const char *target, struct core_error *err)
{
	size_t len = json_string_length(v);

	if (len >= size)
		return core_error_set(err, code, target, "%s is longer than %zu bytes.", target, size - 1);
	memcpy(buf, json_string_value(v), len);
	buf[len] = '\0';
	return 0;
}

/* ---- policies ---- */

/* One source prefix of a rule at `target`. */
static int
source_from_json(json_t *v, const char *target, struct net_source *ret, struct core_error *err)
{
	if (!json_is_string(v))
		return error_type(err, target, "a string");
	if (net_source_parse(json_string_value(v), json_string_length(v), ret, err) < 0)
		return error_at(err, target);
	return 0;
}

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

static int
decode_policy_port(json_t *v, const char *base, struct policy_port *port, struct core_error *err)
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
	return 0;
}

static int
decode_policy_vm(json_t *v, const char *base, struct policy_vm *vm, struct core_error *err)
{
	char target[ERROR_TARGET_MAX], item[ERROR_TARGET_MAX];
	json_t *id, *ports, *port;
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
		r = decode_policy_port(port, item, &vm->ports[j], err);
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

/*
 * obj[key] = v and arr += v. Both take v even when they fail (jansson's *_new
 * semantics), and a NULL v (a constructor that failed) makes them fail.
 */
static int
put(json_t *obj, const char *key, json_t *v)
{
	return json_object_set_new(obj, key, v) < 0 ? -ENOMEM : 0;
}

static int
push(json_t *arr, json_t *v)
{
	return json_array_append_new(arr, v) < 0 ? -ENOMEM : 0;
}

/* A NUL-terminated field of at most size bytes as a JSON string; NULL if it is not UTF-8. */
static json_t *
string_field(const char *s, size_t size)
{
	return json_stringn(s, strnlen(s, size));
}

static json_t *
source_to_json(const struct net_source *src)
{
	char buf[NET_PREFIX_TEXT_MAX];
	int len = net_source_format(src, buf, sizeof(buf));

	return len < 0 ? NULL : json_stringn(buf, (size_t)len);
}

static json_t *
vm_id_to_json(const struct arm_vm_id *id)
{
	char buf[ARM_ID_MAX + 1];
	int len = arm_vm_id_format(id, buf, sizeof(buf));

	return len < 0 ? NULL : json_stringn(buf, (size_t)len);
}


/* {"id": …, "ports": ports} for a VM of a policy or a request; takes ports. */
static json_t *
vm_to_json(const struct arm_vm_id *id, json_t *ports)
{
	json_t *o = json_object();

	if (o == NULL || put(o, "id", vm_id_to_json(id)) < 0) {
		json_decref(ports);
		json_decref(o);
		return NULL;
	}
	if (put(o, "ports", ports) < 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *
encode_policy_port(const struct policy_port *port)
{
	char dur[DURATION_FORMAT_SIZE];
	json_t *o = json_object(), *list, *ret = NULL;
	size_t k;
	int len, r;

	if (o == NULL)
		goto out;
	len = duration_format_iso8601(port->max_duration_ms, dur, sizeof(dur));
	if (len < 0)
		goto out;
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
	if (put(o, "maxRequestAccessDuration", json_stringn(dur, (size_t)len)) < 0)
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
	return ports == NULL ? NULL : vm_to_json(&vm->id, ports);
}

json_t *
codec_policy_encode(const struct policy *p)
{
	char id[ARM_ID_MAX + 1];
	json_t *o = json_object(), *props = NULL, *vms = NULL, *ret = NULL;
	size_t i;
	int len, r;

	if (o == NULL)
		goto out;
	len = arm_policy_id_format(&p->id, id, sizeof(id));
	if (len < 0)
		goto out;
	if (put(o, "id", json_stringn(id, (size_t)len)) < 0 ||
	    put(o, "name", string_field(p->id.name, sizeof(p->id.name))) < 0 ||
	    put(o, "type", json_string(POLICY_TYPE)) < 0 ||
	    put(o, "location", string_field(p->id.location, sizeof(p->id.location))) < 0)
		goto out;
	if (p->kind[0] != '\0' && put(o, "kind", string_field(p->kind, sizeof(p->kind))) < 0)
		goto out;
	vms = json_array();
	if (vms == NULL)
		goto out;
	for (i = 0; i < p->n_vms; i++)
		if (push(vms, encode_policy_vm(&p->vms[i])) < 0)
			goto out;
	props = json_object();
	if (props == NULL)
		goto out;
	r = put(props, "virtualMachines", vms);
	vms = NULL;
	if (r < 0 || put(props, "provisioningState", json_string("Succeeded")) < 0)
		goto out;
	r = put(o, "properties", props);
	props = NULL;
	if (r < 0)
		goto out;
	ret = o;
	o = NULL;
out:
	json_decref(vms);
	json_decref(props);
	json_decref(o);
	return ret;
}

/* ---- initiate ---- */

void
codec_initiate_free(struct initiate_body *b)
{
	size_t i;

	if (b == NULL)
		return;
	for (i = 0; i < b->n_vms; i++)
		free(b->vms[i].ports);
	free(b->vms);
	free(b);
}

static int
decode_initiate_port(json_t *v, const char *base, struct initiate_port *port, struct core_error *err)
{
	char target[ERROR_TARGET_MAX];
	json_t *end, *src;
	int r;

	if (!json_is_object(v))
		return error_type(err, base, "an object");
	r = get_port(v, base, "number", &port->number, err);
	if (r < 0)
		return r;
	r = get_member(v, base, "endTimeUtc", JSON_STRING, true, &end, err);
	if (r < 0)
		return r;
	path_key(target, sizeof(target), base, "endTimeUtc");
	if (time_parse_rfc3339(json_string_value(end), json_string_length(end), &port->end_ns, err) < 0)
		return error_at(err, target);
	r = get_member(v, base, "allowedSourceAddressPrefix", JSON_STRING, false, &src, err);
	if (r < 0)
		return r;
	port->has_source = src != NULL;
	if (src != NULL) {
		path_key(target, sizeof(target), base, "allowedSourceAddressPrefix");
		return source_from_json(src, target, &port->source, err);
	}
	return 0;
}

static int
initiate_vm_begin(void *ctx, size_t i, const struct arm_vm_id *id, size_t n_ports)
{
	struct initiate_body *b = ctx;
	struct initiate_vm *vm = &b->vms[i];

	vm->id = *id;
	vm->ports = calloc(n_ports, sizeof(*vm->ports));
	if (vm->ports == NULL)
		return -ENOMEM;
	/* Counted at once, so that codec_initiate_free sees every array allocated so far. */
	b->n_vms = i + 1;
	vm->n_ports = n_ports;
	return 0;
}

static int
initiate_port(void *ctx, size_t i, size_t j, json_t *port, const char *target, struct core_error *err)
{
	struct initiate_body *b = ctx;

	return decode_initiate_port(port, target, &b->vms[i].ports[j], err);
}

static const struct request_walk initiate_walk = {initiate_vm_begin, initiate_port};

int
codec_initiate_decode(const char *body, size_t n, struct initiate_body **ret, struct core_error *err)
{
	json_t *root = NULL, *vms, *just;
	struct initiate_body *b = NULL;
	int r;

	r = body_load(body, n, &root, err);
	if (r < 0)
		goto out;
	r = get_request_vms(root, &vms, err);
	if (r < 0)
		goto out;
	b = calloc(1, sizeof(*b));
	if (b == NULL || (b->vms = calloc(json_array_size(vms), sizeof(*b->vms))) == NULL) {
		r = -ENOMEM;
		goto out;
	}
	r = request_vms_walk(vms, &initiate_walk, b, err);
	if (r < 0)
		goto out;
	r = get_member(root, "", "justification", JSON_STRING, false, &just, err);
	if (r < 0)
		goto out;
	if (just != NULL) {
		r = string_copy(just, b->justification, sizeof(b->justification), "ValueTooLong", "justification", err);
		if (r < 0)
			goto out;
	}
	*ret = b;
	b = NULL;
	r = 0;
out:
	codec_initiate_free(b);
	json_decref(root);
	return r;
}

static json_t *
encode_initiate_port(const struct initiate_port *p)
{
	char end[TIME_FORMAT_SIZE];
	json_t *o = json_object();
	int len = time_format_rfc3339(p->end_ns, end, sizeof(end));

	if (o == NULL || len < 0 ||
	    put(o, "number", json_integer(p->number)) < 0 ||
	    put(o, "endTimeUtc", json_stringn(end, (size_t)len)) < 0 ||
	    (p->has_source && put(o, "allowedSourceAddressPrefix", source_to_json(&p->source)) < 0)) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *
encode_initiate_vm(const struct initiate_vm *vm)
{
	json_t *ports = json_array();
	size_t j;

	for (j = 0; ports != NULL && j < vm->n_ports; j++) {
		if (push(ports, encode_initiate_port(&vm->ports[j])) < 0) {
			json_decref(ports);
			return NULL;
		}
	}
	return ports == NULL ? NULL : vm_to_json(&vm->id, ports);
}

json_t *
codec_initiate_encode(const struct initiate_body *b)
{
	json_t *o = json_object(), *vms = json_array(), *ret = NULL;
	size_t i;
	int r;

	if (o == NULL || vms == NULL)
		goto out;
	for (i = 0; i < b->n_vms; i++)
		if (push(vms, encode_initiate_vm(&b->vms[i])) < 0)
			goto out;
	r = put(o, "virtualMachines", vms);
	vms = NULL;
	if (r < 0)
		goto out;
	if (b->justification[0] != '\0' &&
	    put(o, "justification", string_field(b->justification, sizeof(b->justification))) < 0)
		goto out;
	ret = o;
	o = NULL;
out:
	json_decref(vms);
	json_decref(o);
	return ret;
}

/* ---- revoke ---- */

void
codec_revoke_free(struct revoke_body *b)
{
	size_t i;

	if (b == NULL)
		return;
	for (i = 0; i < b->n_vms; i++)
		free(b->vms[i].ports);
	free(b->vms);
	free(b);
}

static int
revoke_vm_begin(void *ctx, size_t i, const struct arm_vm_id *id, size_t n_ports)
{
	struct revoke_body *b = ctx;
	struct revoke_vm *vm = &b->vms[i];

	vm->id = *id;
	vm->ports = calloc(n_ports, sizeof(*vm->ports));
	if (vm->ports == NULL)
		return -ENOMEM;
	b->n_vms = i + 1;
	vm->n_ports = n_ports;
	return 0;
}

static int
revoke_port(void *ctx, size_t i, size_t j, json_t *port, const char *target, struct core_error *err)
{
	struct revoke_body *b = ctx;

	if (!json_is_object(port))
		return error_type(err, target, "an object");
	return get_port(port, target, "number", &b->vms[i].ports[j], err);
}

static const struct request_walk revoke_walk = {revoke_vm_begin, revoke_port};

int
codec_revoke_decode(const char *body, size_t n, struct revoke_body **ret, struct core_error *err)
{
	json_t *root = NULL, *vms, *term;
	struct revoke_body *b = NULL;
	int r;

	r = body_load(body, n, &root, err);
	if (r < 0)
		goto out;
	r = get_request_vms(root, &vms, err);
	if (r < 0)
		goto out;
	b = calloc(1, sizeof(*b));
	if (b == NULL || (b->vms = calloc(json_array_size(vms), sizeof(*b->vms))) == NULL) {
		r = -ENOMEM;
		goto out;
	}
	r = request_vms_walk(vms, &revoke_walk, b, err);
	if (r < 0)
		goto out;
	r = get_member(root, "", "terminateSessions", JSON_TRUE, false, &term, err);
	if (r < 0)
		goto out;
	b->terminate_sessions = term != NULL && json_is_true(term);
	*ret = b;
	b = NULL;
	r = 0;
out:
	codec_revoke_free(b);
	json_decref(root);
	return r;
}

static json_t *
encode_revoke_vm(const struct revoke_vm *vm)
{
	json_t *ports = json_array(), *port;
	size_t j;

	for (j = 0; ports != NULL && j < vm->n_ports; j++) {
		port = json_object();
		if (port == NULL || put(port, "number", json_integer(vm->ports[j])) < 0) {
			json_decref(port);
			json_decref(ports);
			return NULL;
		}
		if (push(ports, port) < 0) {
			json_decref(ports);
			return NULL;
		}
	}
	return ports == NULL ? NULL : vm_to_json(&vm->id, ports);
}

json_t *
codec_revoke_encode(const struct revoke_body *b)
{
	json_t *o = json_object(), *vms = json_array(), *ret = NULL;
	size_t i;
	int r;

	if (o == NULL || vms == NULL)
		goto out;
	for (i = 0; i < b->n_vms; i++)
		if (push(vms, encode_revoke_vm(&b->vms[i])) < 0)
			goto out;
	r = put(o, "virtualMachines", vms);
	vms = NULL;
	if (r < 0 || put(o, "terminateSessions", json_boolean(b->terminate_sessions)) < 0)
		goto out;
	ret = o;
	o = NULL;
out:
	json_decref(vms);
	json_decref(o);
	return ret;
}

/* ---- VM inventory ---- */

/* ASCII case-insensitive: is s[0..n) the literal `lit`? */
static bool
equal_nocase(const char *s, size_t n, const char *lit)
{
	size_t i;

	if (strlen(lit) != n)
		return false;
	for (i = 0; i < n; i++) {
		char a = s[i], b = lit[i];

		if (a >= 'A' && a <= 'Z')
			a = (char)(a - 'A' + 'a');
		if (b >= 'A' && b <= 'Z')
			b = (char)(b - 'A' + 'a');
		if (a != b)
			return false;
	}
	return true;
}

static int
decode_vm_addresses(json_t *list, struct store_vm *vm, struct core_error *err)
{
	char target[ERROR_TARGET_MAX], q[ERROR_QUOTE_SIZE];
	json_t *v;
	size_t k, l;

	if (json_array_size(list) > API_ADDRS_MAX)
		return core_error_set(err, "TooManyAddresses", "properties.addresses",
		    "properties.addresses lists %zu addresses; at most %d are allowed.",
		    json_array_size(list), API_ADDRS_MAX);
	json_array_foreach(list, k, v) {
		path_index(target, sizeof(target), "properties.addresses", k);
		if (!json_is_string(v))
			return error_type(err, target, "a string");
		if (net_addr_parse(json_string_value(v), json_string_length(v), &vm->addrs[k], err) < 0)
			return error_at(err, target);
		/* The firewall keys elements by address: a repeat would be the same element twice. */
		for (l = 0; l < k; l++)
			if (net_addr_equal(&vm->addrs[l], &vm->addrs[k]))
				return core_error_set(err, "DuplicateAddress", target, "'%s' is listed twice.",
				    core_error_quote(json_string_value(v), json_string_length(v), q, sizeof(q)));
	}
	vm->n_addrs = json_array_size(list);
	return 0;
}

int
codec_vm_decode(const char *body, size_t n, struct store_vm *vm, struct core_error *err)
{
	char q[ERROR_QUOTE_SIZE];
	json_t *root = NULL, *loc, *props, *os, *point, *addrs;
	struct store_vm out = *vm;
	int r;

	r = body_load(body, n, &root, err);
	if (r < 0)
		goto out;
	r = get_member(root, "", "location", JSON_STRING, false, &loc, err);
	if (r < 0)
		goto out;
	if (loc != NULL) {
		r = arm_location_validate(json_string_value(loc), json_string_length(loc), err);
		if (r < 0) {
			error_at(err, "location");
			goto out;
		}
		memcpy(out.location, json_string_value(loc), json_string_length(loc));
		out.location[json_string_length(loc)] = '\0';
	}
	r = get_member(root, "", "properties", JSON_OBJECT, false, &props, err);
	if (r < 0)
		goto out;
	if (props != NULL) {
		r = get_member(props, "properties", "osType", JSON_STRING, false, &os, err);
		if (r < 0)
			goto out;
		if (os != NULL) {
			const char *s = json_string_value(os);
			size_t len = json_string_length(os);

			if (equal_nocase(s, len, "Linux")) {
				snprintf(out.os_type, sizeof(out.os_type), "Linux");
			} else if (equal_nocase(s, len, "Windows")) {
				snprintf(out.os_type, sizeof(out.os_type), "Windows");
			} else {
				r = core_error_set(err, "InvalidOsType", "properties.osType",
				    "'%s' is not an OS type: expected Linux or Windows.",
				    core_error_quote(s, len, q, sizeof(q)));
				goto out;
			}
		}
		r = get_member(props, "properties", "enforcement", JSON_STRING, false, &point, err);
		if (r < 0)
			goto out;
		if (point != NULL) {
			const char *s = json_string_value(point);
			size_t len = json_string_length(point);

			if (equal_nocase(s, len, "local")) {
				out.point = STORE_POINT_LOCAL;
			} else if (equal_nocase(s, len, "gateway")) {
				out.point = STORE_POINT_GATEWAY;
			} else {
				r = core_error_set(err, "InvalidEnforcement", "properties.enforcement",
				    "'%s' is not an enforcement point: expected local or gateway.",
				    core_error_quote(s, len, q, sizeof(q)));
				goto out;
			}
		}
		r = get_member(props, "properties", "addresses", JSON_ARRAY, false, &addrs, err);
		if (r < 0)
			goto out;
		if (addrs != NULL) {
			r = decode_vm_addresses(addrs, &out, err);
			if (r < 0)
				goto out;
		}
	}
	if (out.point == STORE_POINT_GATEWAY && out.n_addrs == 0) {
		r = core_error_set(err, "MissingField", "properties.addresses",
		    "A gateway virtual machine needs at least one address in properties.addresses.");
		goto out;
	}
	*vm = out;
	r = 0;
out:
	json_decref(root);
	return r;
}

json_t *
codec_vm_body_encode(const struct store_vm *vm)
{
	char buf[NET_ADDR_TEXT_MAX];
	json_t *o = json_object(), *props = NULL, *addrs = NULL, *ret = NULL;
	size_t k;
	int len, r;

	if (o == NULL)
		goto out;
	if (vm->location[0] != '\0' && put(o, "location", string_field(vm->location, sizeof(vm->location))) < 0)
		goto out;
	props = json_object();
	addrs = json_array();
	if (props == NULL || addrs == NULL)
		goto out;
	if (vm->os_type[0] != '\0' && put(props, "osType", string_field(vm->os_type, sizeof(vm->os_type))) < 0)
		goto out;
	if (put(props, "enforcement", json_string(vm->point == STORE_POINT_GATEWAY ? "gateway" : "local")) < 0)
		goto out;
	for (k = 0; k < vm->n_addrs && k < FW_VM_ADDRS_MAX; k++) {
		len = net_addr_format(&vm->addrs[k], buf, sizeof(buf));
		if (len < 0 || push(addrs, json_stringn(buf, (size_t)len)) < 0)
			goto out;
	}
	r = put(props, "addresses", addrs);
	addrs = NULL;
	if (r < 0)
		goto out;
	r = put(o, "properties", props);
	props = NULL;
	if (r < 0)
		goto out;
	ret = o;
	o = NULL;
out:
	json_decref(addrs);
	json_decref(props);
	json_decref(o);
	return ret;
}

/* ---- errors and output ---- */

/* Like string_field, but text that is not UTF-8 (a cut in the middle of a character) is made printable ASCII. */
static json_t *
text_field(const char *s, size_t size)
{
	char copy[ERROR_MESSAGE_MAX];
	json_t *v = string_field(s, size);
	size_t n = strnlen(s, size), i;

	if (v != NULL)
		return v;
	if (n >= sizeof(copy))
		n = sizeof(copy) - 1;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		copy[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	return json_stringn(copy, n);
}

json_t *
codec_error_encode(const struct core_error *err)
{
	json_t *o = json_object(), *e = json_object(), *ret = NULL;
	int r;

	if (o == NULL || e == NULL)
		goto out;
	if (put(e, "code", text_field(err->code, sizeof(err->code))) < 0 ||
	    put(e, "message", text_field(err->message, sizeof(err->message))) < 0)
		goto out;
	if (err->target[0] != '\0' && put(e, "target", text_field(err->target, sizeof(err->target))) < 0)
		goto out;
	if (put(e, "details", json_array()) < 0)
		goto out;
	r = put(o, "error", e);
	e = NULL;
	if (r < 0)
		goto out;
	ret = o;
	o = NULL;
out:
	json_decref(e);
	json_decref(o);
	return ret;
}

char *
codec_dump(const json_t *v, size_t *ret_len)
{
	char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);

	if (s != NULL && ret_len != NULL)
		*ret_len = strlen(s);
	return s;
}

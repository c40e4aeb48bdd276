/* The codec's shared half: loading a body within our limits, JSON paths and error records, typed members, the one
 * virtualMachines[].ports[] walker of request bodies, the small encoders every resource uses, and error bodies. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec.h"
#include "codec/codec-internal.h"

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
void
path_key(char *buf, size_t size, const char *base, const char *key)
{
	size_t len = path_put(buf, size, 0, base);

	if (len > 0)
		len = path_put(buf, size, len, ".");
	path_put(buf, size, len, key);
}

/* "base[i]". */
void
path_index(char *buf, size_t size, const char *base, size_t i)
{
	char idx[32];

	snprintf(idx, sizeof(idx), "[%zu]", i);
	path_put(buf, size, path_put(buf, size, 0, base), idx);
}

/* Point the error a core parser left (with no target) at the field it was given. */
int
error_at(struct core_error *err, const char *target)
{
	if (err != NULL)
		snprintf(err->target, sizeof(err->target), "%s", target);
	return -EINVAL;
}

int
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
int
body_load(const char *body, size_t n, json_t **ret, struct core_error *err)
{
	return body_load_max(body, n, API_BODY_MAX, ret, err);
}

int
body_load_max(const char *body, size_t n, size_t max, json_t **ret, struct core_error *err)
{
	char path[ERROR_TARGET_MAX], text[JSON_ERROR_TEXT_LENGTH];
	json_error_t jerr;
	json_t *root;
	int r;

	if (n > max)
		return core_error_set(err, "BodyTooLarge", "", "The body is larger than %zu bytes.", max);
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
int
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
int
get_port(json_t *obj, const char *base, const char *key, uint16_t *ret, struct core_error *err)
{
	char target[ERROR_TARGET_MAX];
	json_t *v = member(obj, key);

	path_key(target, sizeof(target), base, key);
	if (v == NULL)
		return error_missing(err, target);
	return port_from_json(v, target, ret, err);
}

/* One source prefix of a rule at `target`. */
int
source_from_json(json_t *v, const char *target, struct net_source *ret, struct core_error *err)
{
	if (!json_is_string(v))
		return error_type(err, target, "a string");
	if (net_source_parse(json_string_value(v), json_string_length(v), ret, err) < 0)
		return error_at(err, target);
	return 0;
}

/* ---- the virtualMachines[].ports[] of a request body ---- */

/* The "virtualMachines" array of an initiate or revoke body: 1..API_INITIATE_VMS_MAX entries. */
int
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

/*
 * The one walk over a request body's virtualMachines[].ports[] (initiate and revoke): vms is
 * what get_request_vms returned. For VM i, w->vm(ctx, i, id, number of ports) comes first (it
 * keeps the id and makes room for the ports), then w->port(ctx, i, j, port, its path, err) for
 * each port j. Stops at the first negative return and returns it.
 */
int
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

/* Copy s[0..len) into buf (of size bytes): `code` at `target` when it does not fit with its NUL. */
int
text_copy(const char *s, size_t len, char *buf, size_t size, const char *code, const char *target, struct core_error *err)
{
	if (len >= size)
		return core_error_set(err, code, target, "%s is longer than %zu bytes.", target, size - 1);
	memcpy(buf, s, len);
	buf[len] = '\0';
	return 0;
}

/* Copy the string v into buf (of size bytes): `code` at `target` when it does not fit with its NUL. */
int
string_copy(json_t *v, char *buf, size_t size, const char *code, const char *target, struct core_error *err)
{
	return text_copy(json_string_value(v), json_string_length(v), buf, size, code, target, err);
}

/* ---- encoding ---- */

json_t *
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
json_t *
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

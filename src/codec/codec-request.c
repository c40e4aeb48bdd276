/* Request bodies: Azure's initiate and jitgate's revoke, both walked by request_vms_walk. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec.h"
#include "codec/codec-internal.h"
#include "core/timeutil.h"

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

int
codec_initiate_justification_set(struct initiate_body *b, const char *s, size_t n, struct core_error *err)
{
	return text_copy(s, n, b->justification, sizeof(b->justification), "ValueTooLong", "justification", err);
}

int
codec_initiate_source_set(struct initiate_body *b, size_t i, size_t j, const char *s, size_t n, struct core_error *err)
{
	struct initiate_port *port = &b->vms[i].ports[j];
	char base[ERROR_TARGET_MAX], list[ERROR_TARGET_MAX], item[ERROR_TARGET_MAX], target[ERROR_TARGET_MAX];

	/* the path request_vms_walk and decode_initiate_port give the same field */
	path_index(base, sizeof(base), "virtualMachines", i);
	path_key(list, sizeof(list), base, "ports");
	path_index(item, sizeof(item), list, j);
	path_key(target, sizeof(target), item, "allowedSourceAddressPrefix");
	if (net_source_parse(s, n, &port->source, err) < 0)
		return error_at(err, target);
	port->has_source = true;
	return 0;
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

/* An empty body for a client, made by the decoder's own step for each VM (room for its ports). */
struct initiate_body *
codec_initiate_new(size_t n_vms, size_t n_ports)
{
	static const struct arm_vm_id none;
	struct initiate_body *b = calloc(1, sizeof(*b));
	size_t i;

	if (b == NULL || (n_vms && (b->vms = calloc(n_vms, sizeof(*b->vms))) == NULL))
		goto fail;
	for (i = 0; i < n_vms; i++)
		if (initiate_vm_begin(b, i, &none, n_ports) < 0)
			goto fail;
	return b;
fail:
	codec_initiate_free(b);
	return NULL;
}

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
		r = codec_initiate_justification_set(b, json_string_value(just), json_string_length(just), err);
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

/* An empty body for a client, made by the decoder's own step for each VM (room for its ports). */
struct revoke_body *
codec_revoke_new(size_t n_vms, size_t n_ports)
{
	static const struct arm_vm_id none;
	struct revoke_body *b = calloc(1, sizeof(*b));
	size_t i;

	if (b == NULL || (n_vms && (b->vms = calloc(n_vms, sizeof(*b->vms))) == NULL))
		goto fail;
	for (i = 0; i < n_vms; i++)
		if (revoke_vm_begin(b, i, &none, n_ports) < 0)
			goto fail;
	return b;
fail:
	codec_revoke_free(b);
	return NULL;
}

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

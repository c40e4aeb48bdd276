/* What the codec's files share and nothing else includes: codec.c's helpers, the request walker, small JSON builders. */
#ifndef JITGATE_CODEC_INTERNAL_H
#define JITGATE_CODEC_INTERNAL_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <jansson.h>

#include "core/armid.h"
#include "core/error.h"
#include "core/net.h"

/* Paths and error records (codec.c). */
void path_key(char *buf, size_t size, const char *base, const char *key);
void path_index(char *buf, size_t size, const char *base, size_t i);
int error_at(struct core_error *err, const char *target);
int error_type(struct core_error *err, const char *target, const char *what);

/* Loading a body and its typed members (codec.c). */
int body_load(const char *body, size_t n, json_t **ret, struct core_error *err);	/* at most API_BODY_MAX */
int body_load_max(const char *body, size_t n, size_t max, json_t **ret, struct core_error *err);
int get_member(json_t *obj, const char *base, const char *key, json_type type, bool required, json_t **ret,
    struct core_error *err);
int get_port(json_t *obj, const char *base, const char *key, uint16_t *ret, struct core_error *err);
int source_from_json(json_t *v, const char *target, struct net_source *ret, struct core_error *err);
int string_copy(json_t *v, char *buf, size_t size, const char *code, const char *target, struct core_error *err);
int text_copy(const char *s, size_t len, char *buf, size_t size, const char *code, const char *target,
    struct core_error *err);

/* What a request body's walk calls for each VM and for each of its ports (see request_vms_walk). */
struct request_walk {
	int (*vm)(void *ctx, size_t i, const struct arm_vm_id *id, size_t n_ports);
	int (*port)(void *ctx, size_t i, size_t j, json_t *port, const char *target, struct core_error *err);
};

/* The virtualMachines[].ports[] of an initiate or revoke body (codec.c). */
int get_request_vms(json_t *root, json_t **ret, struct core_error *err);
int request_vms_walk(json_t *vms, const struct request_walk *w, void *ctx, struct core_error *err);

/* Encoding (codec.c). */
json_t *source_to_json(const struct net_source *src);
json_t *vm_to_json(const struct arm_vm_id *id, json_t *ports);

/* The member `key` of obj; NULL when absent or null (some clients send null for an unset optional field). */
static inline json_t *
member(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	return json_is_null(v) ? NULL : v;
}

/*
 * obj[key] = v and arr += v. Both take v even when they fail (jansson's *_new
 * semantics), and a NULL v (a constructor that failed) makes them fail.
 */
static inline int
put(json_t *obj, const char *key, json_t *v)
{
	return json_object_set_new(obj, key, v) < 0 ? -ENOMEM : 0;
}

static inline int
push(json_t *arr, json_t *v)
{
	return json_array_append_new(arr, v) < 0 ? -ENOMEM : 0;
}

/* A NUL-terminated field of at most size bytes as a JSON string; NULL if it is not UTF-8. */
static inline json_t *
string_field(const char *s, size_t size)
{
	return json_stringn(s, strnlen(s, size));
}

#endif

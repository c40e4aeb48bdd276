/* VM inventory bodies (jitgate's extension): a VM's PUT body, decoded onto the fields a caller holds and encoded back. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec.h"
#include "codec/codec-internal.h"

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
decode_vm_addresses(json_t *list, struct codec_vm *vm, struct core_error *err)
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

/* location: optional; a valid Azure region name when given. */
static int
decode_vm_location(json_t *root, struct codec_vm *out, struct core_error *err)
{
	json_t *loc;
	int r;

	r = get_member(root, "", "location", JSON_STRING, false, &loc, err);
	if (r < 0 || loc == NULL)
		return r < 0 ? r : 0;
	r = arm_location_validate(json_string_value(loc), json_string_length(loc), err);
	if (r < 0) {
		error_at(err, "location");
		return r;
	}
	memcpy(out->location, json_string_value(loc), json_string_length(loc));
	out->location[json_string_length(loc)] = '\0';
	return 0;
}

/*
 * properties.KEY, optional: one of two words in any case (*ret = 0 or 1; -1 when absent), else
 * code with "'VALUE' is not WHAT: expected WORD0 or WORD1."
 */
static int
decode_vm_word(json_t *props, const char *key, const char *const words[2], const char *code, const char *what,
    int *ret, struct core_error *err)
{
	char q[ERROR_QUOTE_SIZE], target[ERROR_TARGET_MAX];
	const char *s;
	json_t *v;
	size_t len;
	int r, k;

	*ret = -1;
	r = get_member(props, "properties", key, JSON_STRING, false, &v, err);
	if (r < 0 || v == NULL)
		return r < 0 ? r : 0;
	s = json_string_value(v);
	len = json_string_length(v);
	for (k = 0; k < 2; k++)
		if (equal_nocase(s, len, words[k])) {
			*ret = k;
			return 0;
		}
	path_key(target, sizeof(target), "properties", key);
	return core_error_set(err, code, target, "'%s' is not %s: expected %s or %s.",
	    core_error_quote(s, len, q, sizeof(q)), what, words[0], words[1]);
}

/* properties.osType: Linux or Windows, in any case, written back in ours. */
static int
decode_vm_os_type(json_t *props, struct codec_vm *out, struct core_error *err)
{
	static const char *const words[2] = { "Linux", "Windows" };
	int r, k;

	r = decode_vm_word(props, "osType", words, "InvalidOsType", "an OS type", &k, err);
	if (r == 0 && k >= 0)
		snprintf(out->os_type, sizeof(out->os_type), "%s", words[k]);
	return r;
}

/* properties.enforcement: local or gateway, in any case. */
static int
decode_vm_enforcement(json_t *props, struct codec_vm *out, struct core_error *err)
{
	static const char *const words[2] = { "local", "gateway" };
	int r, k;

	r = decode_vm_word(props, "enforcement", words, "InvalidEnforcement", "an enforcement point", &k, err);
	if (r == 0 && k >= 0)
		out->point = k == 0 ? CODEC_POINT_LOCAL : CODEC_POINT_GATEWAY;
	return r;
}

/* properties: optional; osType, enforcement and addresses, each optional, in that order. */
static int
decode_vm_properties(json_t *root, struct codec_vm *out, struct core_error *err)
{
	json_t *props, *addrs;
	int r;

	r = get_member(root, "", "properties", JSON_OBJECT, false, &props, err);
	if (r < 0 || props == NULL)
		return r < 0 ? r : 0;
	if ((r = decode_vm_os_type(props, out, err)) < 0 || (r = decode_vm_enforcement(props, out, err)) < 0)
		return r;
	r = get_member(props, "properties", "addresses", JSON_ARRAY, false, &addrs, err);
	if (r < 0 || addrs == NULL)
		return r < 0 ? r : 0;
	return decode_vm_addresses(addrs, out, err);
}

int
codec_vm_decode(const char *body, size_t n, struct codec_vm *vm, struct core_error *err)
{
	json_t *root = NULL;
	struct codec_vm out = *vm;
	int r;

	r = body_load(body, n, &root, err);
	if (r < 0)
		goto out;
	if ((r = decode_vm_location(root, &out, err)) < 0 || (r = decode_vm_properties(root, &out, err)) < 0)
		goto out;
	if (out.point == CODEC_POINT_GATEWAY && out.n_addrs == 0) {
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
codec_vm_body_encode(const struct codec_vm *vm)
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
	if (put(props, "enforcement", json_string(vm->point == CODEC_POINT_GATEWAY ? "gateway" : "local")) < 0)
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

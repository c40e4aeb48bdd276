/* VMs by name and the read-modify-write of a VM's JIT policy, which enable, edit and disable share. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/parse.h"
#include "cli/resource.h"
#include "codec/codec.h"
#include "core/net.h"
#include "core/policy.h"
#include "core/timeutil.h"

void
cli_vm_clear(struct cli_vm *vm)
{
	json_decref(vm->json);
	memset(vm, 0, sizeof(*vm));
}

static int
vm_fill(struct cli *c, json_t *o, struct cli_vm *ret)
{
	const char *id = cli_json_str(o, "id", NULL);
	const json_t *jit = json_object_get(json_object_get(o, "properties"), "jit");

	memset(ret, 0, sizeof(*ret));
	if (!id || arm_vm_id_parse(id, strlen(id), &ret->arm, NULL) < 0)
		return cli_fail(c, CLI_EXIT_UNREACHABLE, "the server sent a VM without a valid id");
	snprintf(ret->id, sizeof(ret->id), "%s", id);
	snprintf(ret->location, sizeof(ret->location), "%s", cli_json_str(o, "location", CLI_DEFAULT_LOCATION));
	snprintf(ret->policy_id, sizeof(ret->policy_id), "%s", cli_json_str(jit, "policyId", ""));
	ret->json = json_incref(o);
	return 0;
}

int
cli_vm_resolve(struct cli *c, const char *name_or_id, struct cli_vm *ret)
{
	char path[ARM_ID_MAX + 64];
	json_t *list = NULL, *o = NULL, *hit = NULL;
	struct arm_vm_id arm;
	size_t i, hits = 0;
	int r;

	if ((r = cli_connect(c)) < 0)
		return r;
	if (name_or_id[0] == '/') {
		struct client_reply rep;

		if (arm_vm_id_parse(name_or_id, strlen(name_or_id), &arm, NULL) < 0)
			return cli_fail(c, CLI_EXIT_USAGE,
					"'%s' is not a VM id (/subscriptions/S/resourceGroups/RG/providers/"
					"Microsoft.Compute/virtualMachines/NAME) nor a VM name",
					name_or_id);
		arm_vm_id_format(&arm, path, sizeof(path));
		r = cli_call(c, "GET", path, NULL, NULL, NULL, NULL, &rep);
		if (r == -EREMOTE && rep.status == 404)
			cli_fail(c, CLI_EXIT_REFUSED, "no VM '%s' (see jitgate vm list)", name_or_id);
		else if (r == -EREMOTE)
			cli_report(c, &rep);
		if (r == 0)
			r = vm_fill(c, rep.json, ret);
		client_reply_clear(&rep);
		return r;
	}
	if (arm_vm_name_validate(name_or_id, strlen(name_or_id), NULL) < 0)
		return cli_fail(c, CLI_EXIT_USAGE, "'%s' is not a VM name (letters, digits, '.', '_', '-')", name_or_id);
	snprintf(path, sizeof(path), "/subscriptions/%s/providers/Microsoft.Compute/virtualMachines", c->client.subscription);
	if ((r = cli_list(c, path, NULL, &list)) < 0)
		return r;
	json_array_foreach(list, i, o) {
		if (arm_name_equal(cli_json_str(o, "name", ""), name_or_id)) {
			hits++;
			if (!hit)
				hit = o;
		}
	}
	if (hits == 0) {
		r = cli_fail(c, CLI_EXIT_REFUSED, "no VM named '%s' (see jitgate vm list)", name_or_id);
	} else if (hits > 1) {
		r = cli_fail(c, CLI_EXIT_USAGE, "'%s' names %zu VMs; give one of these ids:", name_or_id, hits);
		json_array_foreach(list, i, o)
			if (arm_name_equal(cli_json_str(o, "name", ""), name_or_id))
				cli_fprintf(stderr, "  %s\n", cli_json_str(o, "id", "?"));
	} else {
		r = vm_fill(c, hit, ret);
	}
	json_decref(list);
	return r;
}

const char *
cli_vm_address(const struct cli_vm *vm)
{
	const json_t *a = json_object_get(json_object_get(vm->json, "properties"), "addresses");

	return json_is_string(json_array_get(a, 0)) ? json_string_value(json_array_get(a, 0)) : NULL;
}

int
cli_policy_path(struct cli *c, const char *rg, const char *loc, const char *name, char *buf, size_t size)
{
	struct core_error err = { 0 };
	struct arm_policy_id id;

	if (arm_resource_group_validate(rg, strlen(rg), &err) < 0)
		return cli_fail(c, CLI_EXIT_USAGE, "--resource-group: %s", err.message);
	if (arm_location_validate(loc, strlen(loc), &err) < 0)
		return cli_fail(c, CLI_EXIT_USAGE, "--location: %s", err.message);
	if (arm_policy_name_validate(name, strlen(name), &err) < 0)
		return cli_fail(c, CLI_EXIT_USAGE, "policy name: %s", err.message);
	snprintf(id.subscription, sizeof(id.subscription), "%s", c->client.subscription);
	snprintf(id.resource_group, sizeof(id.resource_group), "%s", rg);
	snprintf(id.location, sizeof(id.location), "%s", loc);
	snprintf(id.name, sizeof(id.name), "%s", name);
	return arm_policy_id_format(&id, buf, size) < 0 ? cli_fail(c, CLI_EXIT_USAGE, "the policy id is too long") : 0;
}

json_t *
cli_policy_vm(json_t *policy, const char *vm_id, size_t *ret_index)
{
	return cli_vms_find(json_object_get(json_object_get(policy, "properties"), "virtualMachines"), vm_id, ret_index);
}

json_t *
cli_vms_find(json_t *vms, const char *vm_id, size_t *ret_index)
{
	json_t *v;
	struct arm_vm_id want, got;
	size_t i;

	if (arm_vm_id_parse(vm_id, strlen(vm_id), &want, NULL) < 0)
		return NULL;
	json_array_foreach(vms, i, v) {
		const char *id = cli_json_str(v, "id", "");

		if (arm_vm_id_parse(id, strlen(id), &got, NULL) == 0 && arm_vm_id_equal(&want, &got)) {
			if (ret_index)
				*ret_index = i;
			return v;
		}
	}
	return NULL;
}

int
cli_vm_rules(struct cli *c, const struct cli_vm *vm, json_t **ret_ports)
{
	json_t *policy = NULL, *entry, *ports;
	int r;

	if (!vm->policy_id[0])
		return cli_fail(c, CLI_EXIT_REFUSED, "JIT is not enabled on %s (an admin runs: jitgate enable %s)",
				vm->arm.name, vm->arm.name);
	if ((r = cli_get(c, vm->policy_id, NULL, &policy)) < 0)
		return r;
	entry = cli_policy_vm(policy, vm->id, NULL);
	ports = json_object_get(entry, "ports");
	if (!json_is_array(ports)) {
		r = cli_fail(c, CLI_EXIT_REFUSED, "%s is not in its policy %s any more", vm->arm.name, vm->policy_id);
		goto out;
	}
	*ret_ports = json_incref(ports);
out:
	json_decref(policy);
	return r;
}

json_t *
cli_rule_new(unsigned port, const char *proto, int64_t max_ms, const char *max_text, const char *const *sources,
	     size_t n_sources)
{
	struct net_source parsed[CLI_SOURCES_MAX];
	struct policy_port rule = { .number = (uint16_t)port, .max_duration_ms = max_ms, .sources = parsed };
	size_t i;

	/* the options parsed both already: the codec writes them as the server reads them */
	if (!proto)
		proto = "*";
	if (max_text)
		snprintf(rule.max_duration_text, sizeof(rule.max_duration_text), "%s", max_text);
	if (net_proto_parse(proto, strlen(proto), &rule.proto, NULL) < 0)
		return NULL;
	if (n_sources == 0 && net_source_parse("*", 1, &parsed[rule.n_sources++], NULL) < 0)
		return NULL;
	for (i = 0; i < n_sources && i < CLI_SOURCES_MAX; i++)
		if (net_source_parse(sources[i], strlen(sources[i]), &parsed[rule.n_sources++], NULL) < 0)
			return NULL;
	rule.sources_as_list = rule.n_sources > 1;
	return codec_policy_port_encode(&rule);
}

/*
 * The body to PUT back, by the codec: the policy the GET showed (`got`, its raw answer), read
 * as the server reads a PUT body and written as a client sends one (without the fields only
 * the server writes); or, when there is none, a new Basic policy with no VM.
 */
static int
policy_body(struct cli *c, const char *path, const struct client_reply *got, json_t **ret_body)
{
	struct arm_policy_id id;
	struct policy *p = NULL;
	struct core_error err;
	int r = 0;

	if (arm_policy_id_parse(path, strlen(path), &id, NULL) < 0)
		return cli_fail(c, CLI_EXIT_USAGE, "%s is not a policy id", path);
	if (!got) {
		p = policy_new();
		if (p) {
			p->id = id;
			snprintf(p->kind, sizeof(p->kind), "Basic");
		}
	} else if (codec_policy_decode(got->body, got->body_len, &id, &p, &err) < 0) {
		return cli_fail(c, CLI_EXIT_UNREACHABLE, "the server's policy %s cannot be read: %s: %s", path, err.code,
				err.message);
	}
	if (!p || !(*ret_body = codec_policy_body_encode(p)))
		r = cli_fail(c, CLI_EXIT_UNREACHABLE, "out of memory");
	policy_free(p);
	return r;
}

/* Before another try after a 412: a short random pause that grows, so that writers racing each other spread out. */
static void
backoff(int tries)
{
	struct timespec ts = { 0, 0 };
	uint32_t rnd = 0;

	if (getrandom(&rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		rnd = (uint32_t)time_now_ns();
	ts.tv_nsec = (long)((rnd % 50 + 10) * (tries + 1)) * 1000000L;	/* 10–60 ms, times the try */
	nanosleep(&ts, NULL);
}

int
cli_policy_update(struct cli *c, const struct cli_vm *vm, bool create, cli_policy_edit_fn edit, void *arg,
		  json_t **ret_policy)
{
	char path[ARM_ID_MAX + 1], etag[sizeof(((struct client_reply *)0)->etag)];
	struct client_reply rep;
	json_t *body = NULL;
	int tries, r = 0;

	memset(&rep, 0, sizeof(rep));
	if (vm->policy_id[0])
		snprintf(path, sizeof(path), "%s", vm->policy_id);
	else if (!create)
		return cli_fail(c, CLI_EXIT_REFUSED, "JIT is not enabled on %s (see jitgate enable)", vm->arm.name);
	else if ((r = cli_policy_path(c, vm->arm.resource_group, vm->location, CLI_DEFAULT_POLICY, path, sizeof(path))) < 0)
		return r;
	for (tries = 0; tries < CLI_RMW_TRIES; tries++) {
		bool fresh = false;

		r = cli_call(c, "GET", path, NULL, NULL, NULL, NULL, &rep);
		if (r == -EREMOTE && rep.status == 404 && create) {
			fresh = true;
		} else if (r == -EREMOTE && rep.status == 404) {
			r = cli_fail(c, CLI_EXIT_REFUSED, "the policy %s is gone", path);
			goto out;
		} else if (r == -EREMOTE) {
			cli_report(c, &rep);
			goto out;
		} else if (r < 0) {
			goto out;
		}
		r = policy_body(c, path, fresh ? NULL : &rep, &body);
		snprintf(etag, sizeof(etag), "%s", rep.etag);
		client_reply_clear(&rep);
		if (r < 0)
			goto out;
		if ((r = edit(c, vm, json_object_get(json_object_get(body, "properties"), "virtualMachines"), arg)) < 0)
			goto out;
		if (!fresh && !etag[0]) {
			r = cli_fail(c, CLI_EXIT_UNREACHABLE, "the server sent no ETag for %s; not writing blindly", path);
			goto out;
		}
		r = cli_call(c, "PUT", path, NULL, body, fresh ? NULL : etag, fresh ? "*" : NULL, &rep);
		json_decref(body);
		body = NULL;
		if (r == -EREMOTE && rep.status == 412) {
			client_reply_clear(&rep);
			backoff(tries);
			continue;
		}
		if (r == -EREMOTE)
			cli_report(c, &rep);
		if (r == 0 && ret_policy)
			*ret_policy = json_incref(rep.json);
		goto out;
	}
	r = cli_fail(c, CLI_EXIT_REFUSED, "the policy %s kept changing while we wrote it (%d tries); try again", path,
		     CLI_RMW_TRIES);
out:
	json_decref(body);
	client_reply_clear(&rep);
	return r;
}

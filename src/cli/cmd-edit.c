/* jitgate edit: change some of a VM's port rules inside its policy, leaving the rest and every other VM alone. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/resource.h"
#include "cli/commands.h"
#include "codec/codec.h"
#include "core/net.h"
#include "core/policy.h"
#include "core/duration.h"

const char cli_help_edit[] =
	"usage: jitgate edit VM [--port SPEC]... [--max DURATION] [--source CIDR|*]... [--remove-port N]...\n"
	"\n"
	"Changes the rules of a VM that has JIT on. With --port, the given ports' rules take the given\n"
	"--max and --source (a port it does not have yet is added, with 3h and * unless given); without\n"
	"--port, --max and --source apply to every port. --remove-port N drops port N's rules. Other VMs\n"
	"in the policy are never touched; a concurrent change is detected (If-Match) and the edit retried.\n"
	"\n"
	"Example:\n"
	"  jitgate edit vm1 --port 3389/tcp --max 1h --source 10.1.0.0/16 --remove-port 5985\n";

/* Does the rule `p` match port spec (number, proto or NULL)? */
static bool
rule_matches(const json_t *p, unsigned number, const char *proto)
{
	return json_integer_value(json_object_get(p, "number")) == (json_int_t)number &&
	       (!proto || !strcmp(cli_json_str(p, "protocol", "*"), proto));
}

/* The sources a rule keeps: the options' when given, else those the rule has (as the server wrote them). */
static int
rule_sources(const json_t *p, const struct cli_rule_opts *o, struct policy_port *rule)
{
	const json_t *list = json_object_get(p, "allowedSourceAddressPrefixes"), *v;
	const char *one = cli_json_str(p, "allowedSourceAddressPrefix", "*");
	size_t i;

	if (o->n_sources) {
		for (i = 0; i < o->n_sources && i < CLI_SOURCES_MAX; i++)
			if (net_source_parse(o->sources[i], strlen(o->sources[i]), &rule->sources[rule->n_sources++], NULL) < 0)
				return -EINVAL;
		rule->sources_as_list = o->n_sources > 1;
		return 0;
	}
	if (!json_is_array(list))
		return net_source_parse(one, strlen(one), &rule->sources[rule->n_sources++], NULL);
	json_array_foreach(list, i, v) {
		const char *s = json_string_value(v);

		if (!s || i >= CLI_SOURCES_MAX || net_source_parse(s, strlen(s), &rule->sources[rule->n_sources++], NULL) < 0)
			return -EINVAL;
	}
	rule->sources_as_list = true;
	return 0;
}

/*
 * The rule `p` with the options' protocol, maximum and sources, written again by the codec
 * (what the rule does not change stays as it was). -EINVAL when the server's rule cannot be read.
 */
static int
rule_update(json_t *p, const struct cli_rule_opts *o, const char *proto)
{
	struct net_source sources[CLI_SOURCES_MAX];
	struct policy_port rule = { .sources = sources };
	const char *text = proto ? proto : cli_json_str(p, "protocol", "*");
	json_int_t mapped = json_integer_value(json_object_get(p, "mappedPort"));
	json_t *updated;
	int r;

	rule.number = (uint16_t)json_integer_value(json_object_get(p, "number"));
	/* gateway DNAT: the rule keeps its public port (the server checks it again) */
	if (mapped > 0 && mapped <= 65535)
		rule.mapped_port = (uint16_t)mapped;
	if (net_proto_parse(text, strlen(text), &rule.proto, NULL) < 0)
		return -EINVAL;
	text = cli_json_str(p, "maxRequestAccessDuration", "");
	rule.max_duration_ms = o->max_ms;
	if (!o->max_ms && duration_parse_iso8601(text, strlen(text), &rule.max_duration_ms, NULL) < 0)
		return -EINVAL;
	/* an unchanged maximum goes back as the server shows it ("P1D"), not rewritten ("PT24H"); a new one as typed */
	if (!o->max_ms || o->max_text)
		snprintf(rule.max_duration_text, sizeof(rule.max_duration_text), "%s", o->max_ms ? o->max_text : text);
	if ((r = rule_sources(p, o, &rule)) < 0)
		return r;
	if (!(updated = codec_policy_port_encode(&rule)))
		return -ENOMEM;
	r = json_object_clear(p) < 0 || json_object_update(p, updated) < 0 ? -ENOMEM : 0;
	json_decref(updated);
	return r;
}

static int
rule_unreadable(struct cli *c, const struct cli_vm *vm, const json_t *p)
{
	return cli_fail(c, CLI_EXIT_UNREACHABLE, "the server's rule for port %lld of %s cannot be read",
			(long long)json_integer_value(json_object_get(p, "number")), vm->arm.name);
}

static int
edit_edit(struct cli *c, const struct cli_vm *vm, json_t *vms, void *arg)
{
	const struct cli_rule_opts *o = arg;
	json_t *entry = cli_vms_find(vms, vm->id, NULL), *ports, *p;
	size_t i, k;

	ports = json_object_get(entry, "ports");
	if (!json_is_array(ports))
		return cli_fail(c, CLI_EXIT_REFUSED, "%s is not in its policy any more (see jitgate enable)", vm->arm.name);
	for (k = 0; k < o->n_remove; k++) {
		bool found = false;

		for (i = json_array_size(ports); i-- > 0;)
			if (rule_matches(json_array_get(ports, i), o->remove[k], NULL)) {
				json_array_remove(ports, i);
				found = true;
			}
		if (!found)
			return cli_fail(c, CLI_EXIT_USAGE, "--remove-port: %s has no rule for port %u", vm->arm.name,
					o->remove[k]);
	}
	if (o->n_ports == 0) {
		json_array_foreach(ports, i, p)
			if (rule_update(p, o, NULL) < 0)
				return rule_unreadable(c, vm, p);
	}
	for (k = 0; k < o->n_ports; k++) {
		json_t *hit = NULL;

		/* the rule with this number and protocol, else the first with this number */
		json_array_foreach(ports, i, p)
			if (!hit && o->ports[k].proto && rule_matches(p, o->ports[k].number, o->ports[k].proto))
				hit = p;
		json_array_foreach(ports, i, p)
			if (!hit && rule_matches(p, o->ports[k].number, NULL))
				hit = p;
		if (hit && rule_update(hit, o, o->ports[k].proto) < 0)
			return rule_unreadable(c, vm, hit);
		else if (!hit)
			json_array_append_new(ports, cli_rule_new(o->ports[k].number, o->ports[k].proto,
								  o->max_ms ? o->max_ms : CLI_DEFAULT_MAX_MS,
								  o->max_ms ? o->max_text : NULL, o->sources, o->n_sources));
	}
	if (json_array_size(ports) == 0)
		return cli_fail(c, CLI_EXIT_USAGE, "that would leave %s no ports; use jitgate disable %s", vm->arm.name,
				vm->arm.name);
	return 0;
}

int
cmd_edit(struct cli *c, int argc, char **argv)
{
	struct cli_rule_opts o;
	struct cli_vm vm = { 0 };
	json_t *policy = NULL;
	bool help;
	int argi, r;
	size_t i;

	memset(&o, 0, sizeof(o));
	r = cli_options(c, argc, argv, "", cli_rule_options, cli_rule_option, &o, cli_help_edit, &argi, &help);
	if (r < 0 || help)
		return cli_exit(c, r);
	if (argc - argi != 1)
		return cli_exit(c, cli_fail(c, CLI_EXIT_USAGE, "give one VM (see --help)"));
	if (o.recommended)
		return cli_exit(c, cli_fail(c, CLI_EXIT_USAGE, "--recommended: only with jitgate enable"));
	if (!o.n_ports && !o.max_ms && !o.n_sources && !o.n_remove)
		return cli_exit(c, cli_fail(c, CLI_EXIT_USAGE, "nothing to change: give --port, --max, --source or --remove-port"));
	for (i = 0; o.n_sources > 1 && i < o.n_sources; i++)
		if (!strcmp(o.sources[i], "*"))
			return cli_exit(c, cli_fail(c, CLI_EXIT_USAGE, "--source: '*' cannot be combined with prefixes"));
	if ((r = cli_vm_resolve(c, argv[argi], &vm)) < 0)
		goto out;
	if ((r = cli_policy_update(c, &vm, false, edit_edit, &o, &policy)) < 0)
		goto out;
	if (c->output == CLI_OUT_TABLE)
		cli_printf("Rules of %s changed (policy %s):\n", vm.arm.name, cli_json_str(policy, "id", "?"));
	cli_rules_print(c, &vm, policy);
out:
	json_decref(policy);
	cli_vm_clear(&vm);
	return cli_exit(c, r);
}

/* jitgate enable: put a VM under JIT with its port rules, changing only that VM inside its policy. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/cli.h"
#include "cli/resource.h"
#include "cli/commands.h"
#include "codec/codec.h"
#include "core/duration.h"
#include "core/net.h"

const char cli_help_enable[] =
	"usage: jitgate enable VM [--port SPEC]... [--max DURATION] [--source CIDR|*]... [--recommended]\n"
	"\n"
	"Turns JIT on for VM: its ports close to new connections until someone requests them. SPEC is 22,\n"
	"22/tcp, 53/udp or 3389/* (no protocol: any). Without --port: the OS's default port (22 on Linux,\n"
	"3389 on Windows); --recommended: 22, 3389, 5985 and 5986. --max is the longest request (default 3h,\n"
	"at least 5m); --source limits where requests may come from (default *: anywhere). The VM's existing\n"
	"rules, if any, are replaced. Only this VM changes in its policy (ETag/If-Match, retried on a\n"
	"concurrent change); a VM in no policy goes into the policy 'default' of its resource group and\n"
	"location, which is created when missing.\n"
	"\n"
	"Example:\n"
	"  jitgate enable vm1 --port 22 --port 3389/tcp --max 2h --source 10.0.0.0/8\n";

/* The sources as the API takes them; "*" only alone. */
static int
sources_check(struct cli *c, const struct cli_rule_opts *o)
{
	size_t i;

	for (i = 0; o->n_sources > 1 && i < o->n_sources; i++)
		if (!strcmp(o->sources[i], "*"))
			return cli_fail(c, CLI_EXIT_USAGE, "--source: '*' (anywhere) cannot be combined with prefixes");
	return 0;
}

struct enable_ctx {
	const struct cli_rule_opts *o;
	bool replaced;
};

static int
enable_edit(struct cli *c, const struct cli_vm *vm, json_t *vms, void *arg)
{
	static const uint16_t recommended[] = { 22, 3389, 5985, 5986 };
	struct enable_ctx *e = arg;
	const struct cli_rule_opts *o = e->o;
	const char *os = cli_json_str(json_object_get(vm->json, "properties"), "osType", "Linux");
	int64_t max = o->max_ms ? o->max_ms : CLI_DEFAULT_MAX_MS;
	const char *words = o->max_ms ? o->max_text : NULL;
	json_t *ports = json_array(), *entry;
	size_t i, at = 0;

	if (o->n_ports == 0 && o->recommended)
		for (i = 0; i < sizeof(recommended) / sizeof(recommended[0]); i++)
			json_array_append_new(ports, cli_rule_new(recommended[i], "*", max, words, o->sources, o->n_sources));
	else if (o->n_ports == 0)
		json_array_append_new(ports, cli_rule_new(!strcasecmp(os, "Windows") ? 3389 : 22, "*", max, words, o->sources,
							  o->n_sources));
	for (i = 0; i < o->n_ports; i++)
		json_array_append_new(ports, cli_rule_new(o->ports[i].number, o->ports[i].proto, max, words, o->sources, o->n_sources));
	if (o->recommended && o->n_ports)
		for (i = 0; i < sizeof(recommended) / sizeof(recommended[0]); i++) {
			size_t k;
			bool have = false;

			for (k = 0; k < o->n_ports; k++)
				have = have || o->ports[k].number == recommended[i];
			if (!have)
				json_array_append_new(ports, cli_rule_new(recommended[i], "*", max, words, o->sources, o->n_sources));
		}
	entry = cli_vms_find(vms, vm->id, &at);
	e->replaced = entry != NULL;
	/* the VM's entry, new or in place of the old one, as the codec writes it */
	if (entry) {
		json_t *fresh = codec_policy_vm_json(&vm->arm, ports), *pub = json_object_get(entry, "publicIpAddress");

		/* gateway DNAT: the VM stays behind its public address (its rules get mapped ports again) */
		if (fresh && json_is_string(pub))
			json_object_set(fresh, "publicIpAddress", pub);
		json_array_set_new(vms, at, fresh);
	} else {
		json_array_append_new(vms, codec_policy_vm_json(&vm->arm, ports));
	}
	return 0;
}

int
cmd_enable(struct cli *c, int argc, char **argv)
{
	struct cli_rule_opts o;
	struct enable_ctx e = { &o, false };
	struct cli_vm vm = { 0 };
	json_t *policy = NULL;
	bool help;
	int argi, r;

	memset(&o, 0, sizeof(o));
	r = cli_options(c, argc, argv, "", cli_rule_options, cli_rule_option, &o, cli_help_enable, &argi, &help);
	if (r < 0 || help)
		return cli_exit(c, r);
	if (argc - argi != 1)
		return cli_exit(c, cli_fail(c, CLI_EXIT_USAGE, "give one VM (see --help)"));
	if (o.n_remove)
		return cli_exit(c, cli_fail(c, CLI_EXIT_USAGE, "--remove-port: only with jitgate edit"));
	if ((r = sources_check(c, &o)) < 0)
		return cli_exit(c, r);
	if ((r = cli_vm_resolve(c, argv[argi], &vm)) < 0)
		goto out;
	if ((r = cli_policy_update(c, &vm, true, enable_edit, &e, &policy)) < 0)
		goto out;
	if (c->output == CLI_OUT_TABLE)
		cli_printf("JIT %s on %s (policy %s); these ports are closed until requested:\n",
		       e.replaced ? "rules replaced" : "enabled", vm.arm.name, cli_json_str(policy, "id", "?"));
	cli_rules_print(c, &vm, policy);
out:
	json_decref(policy);
	cli_vm_clear(&vm);
	return cli_exit(c, r);
}

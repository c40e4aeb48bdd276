/* jitgate disable: take a VM out of its JIT policy (its ports open again); the policy is kept, even empty. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/resource.h"
#include "cli/commands.h"

const char cli_help_disable[] =
	"usage: jitgate disable VM\n"
	"\n"
	"Turns JIT off for VM: removes it from its policy, so its ports are no longer closed by jitgate and\n"
	"its live grants end. Other VMs in the policy are untouched. A policy left without VMs is kept\n"
	"(delete it with jitgate policy delete).\n"
	"\n"
	"Example:\n"
	"  jitgate disable vm1\n";

static int
disable_edit(struct cli *c, const struct cli_vm *vm, json_t *vms, void *arg)
{
	size_t i;

	(void)arg;
	if (!cli_vms_find(vms, vm->id, &i))
		return cli_fail(c, CLI_EXIT_REFUSED, "%s is not in its policy any more", vm->arm.name);
	json_array_remove(vms, i);
	return 0;
}

int
cmd_disable(struct cli *c, int argc, char **argv)
{
	struct cli_vm vm = { 0 };
	json_t *policy = NULL, *vms;
	bool help;
	int argi, r;

	r = cli_options(c, argc, argv, "", NULL, NULL, NULL, cli_help_disable, &argi, &help);
	if (r < 0 || help)
		return cli_exit(c, r);
	if (argc - argi != 1)
		return cli_exit(c, cli_fail(c, CLI_EXIT_USAGE, "give one VM (see --help)"));
	if ((r = cli_vm_resolve(c, argv[argi], &vm)) < 0)
		goto out;
	if (!vm.policy_id[0]) {
		r = cli_fail(c, CLI_EXIT_REFUSED, "JIT is not enabled on %s; nothing to disable", vm.arm.name);
		goto out;
	}
	if ((r = cli_policy_update(c, &vm, false, disable_edit, NULL, &policy)) < 0)
		goto out;
	vms = json_object_get(json_object_get(policy, "properties"), "virtualMachines");
	if (c->output == CLI_OUT_JSON) {
		cli_print_json(policy);
	} else if (c->output == CLI_OUT_QUIET) {
		cli_printf("%s\n", cli_json_str(policy, "id", ""));
	} else {
		cli_printf("JIT disabled on %s: removed from the policy %s\n", vm.arm.name, cli_json_str(policy, "id", "?"));
		if (json_array_size(vms) == 0)
			cli_printf("The policy has no VMs now; it is kept (remove it with: jitgate policy delete %s "
			       "--resource-group %s --location %s)\n",
			       cli_id_name(cli_json_str(policy, "id", "")), vm.arm.resource_group, vm.location);
	}
out:
	json_decref(policy);
	cli_vm_clear(&vm);
	return cli_exit(c, r);
}

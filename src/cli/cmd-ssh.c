/* jitgate ssh: request port 22 of a VM for my address, then become ssh to it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/parse.h"
#include "cli/resource.h"
#include "cli/commands.h"
#include "core/net.h"

#define SSH_ARGS_MAX	256

const char cli_help_ssh[] =
	"usage: jitgate ssh VM [--for DURATION] [--reason TEXT] [-- SSH ARGS...]\n"
	"\n"
	"Requests port 22 of VM for your address (for the rule's maximum unless --for), then runs ssh to\n"
	"the VM's first address with SSH ARGS after it (options, then a command).\n"
	"\n"
	"Example:\n"
	"  jitgate ssh vm1 -- -l admin -i ~/.ssh/id_ed25519 uptime\n";

#define OPT_FOR		5000
#define OPT_REASON	5001

static const struct option ssh_options[] = {
	{ "for", required_argument, NULL, OPT_FOR },
	{ "reason", required_argument, NULL, OPT_REASON },
	{ NULL, 0, NULL, 0 },
};

static int
ssh_option(struct cli *c, int opt, const char *arg, void *state)
{
	struct cli_initiate *in = state;

	if (opt == OPT_FOR) {
		if (cli_duration_parse(arg, &in->for_ms) < 0)
			return cli_fail(c, CLI_EXIT_USAGE, "--for: '%s' is not a duration (try 90m, 1h30m, PT3H)", arg);
		return 0;
	}
	if (opt == OPT_REASON) {
		in->reason = arg;
		return 0;
	}
	return -EINVAL;
}

int
cmd_ssh(struct cli *c, int argc, char **argv)
{
	static const uint16_t port22 = 22;
	struct cli_initiate in;
	struct cli_vm vm = { 0 };
	const char *addr, *args[SSH_ARGS_MAX + 5];
	char host[ARM_ID_MAX], port[8];
	unsigned to;
	struct net_addr na;
	bool help;
	int argi, r, i, n = 0;

	memset(&in, 0, sizeof(in));
	r = cli_options(c, argc, argv, "", ssh_options, ssh_option, &in, cli_help_ssh, &argi, &help);
	if (r < 0 || help)
		return cli_exit(c, r);
	if (argc - argi < 1)
		return cli_exit(c, cli_fail(c, CLI_EXIT_USAGE, "give a VM (see --help)"));
	if (argc - argi - 1 > SSH_ARGS_MAX)
		return cli_exit(c, cli_fail(c, CLI_EXIT_USAGE, "at most %d ssh arguments", SSH_ARGS_MAX));
	in.ports = &port22;
	in.n_ports = 1;
	if ((r = cli_vm_resolve(c, argv[argi], &vm)) < 0)
		goto out;
	addr = cli_vm_connect_to(&vm, 22, &to);
	if (!addr) {
		r = cli_fail(c, CLI_EXIT_REFUSED, "%s has no address to connect to", vm.arm.name);
		goto out;
	}
	/* the server's text becomes ssh's destination: an IP address only, never "-oProxyCommand=..." */
	if (net_addr_parse(addr, strlen(addr), &na, NULL) < 0) {
		r = cli_fail(c, CLI_EXIT_UNREACHABLE, "the server gave %s the address '%s', which is not an IP address",
			     vm.arm.name, addr);
		goto out;
	}
	snprintf(host, sizeof(host), "%s", addr);
	if ((r = cli_initiate(c, &vm, &in)) < 0)
		goto out;
	args[n++] = "ssh";
	if (to != 22) {	/* gateway DNAT: the mapped port of the gateway's public address */
		snprintf(port, sizeof(port), "%u", to);
		args[n++] = "-p";
		args[n++] = port;
	}
	args[n++] = host;
	for (i = argi + 1; i < argc; i++)
		args[n++] = argv[i];
	args[n] = NULL;
	cli_vm_clear(&vm);
	cli_free(c);
	fflush(stdout);
	fflush(stderr);
	execvp("ssh", (char *const *)args);
	r = cli_fail(c, CLI_EXIT_USAGE, "cannot run ssh: %s", strerror(errno));
out:
	cli_vm_clear(&vm);
	return cli_exit(c, r);
}

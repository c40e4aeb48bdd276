/* jitgate request: ask for a VM's ports to open for my address (or a prefix) until a time, and say how to connect. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/parse.h"
#include "cli/resource.h"
#include "cli/commands.h"
#include "core/duration.h"
#include "core/net.h"
#include "core/timeutil.h"

const char cli_help_request[] =
	"usage: jitgate request VM [--port N]... [--for DURATION | --until TIME] [--from CIDR] [--reason TEXT]\n"
	"                          [--no-wait]\n"
	"       jitgate request VM --extend DURATION [--port N]...\n"
	"\n"
	"Opens VM's ports for you. Defaults: every port of the VM's rules, each for its rule's maximum, from\n"
	"your own address as the server sees it (see jitgate whoami). --from asks for a prefix instead (it must\n"
	"lie inside the rule's allowed sources); --reason is recorded as the justification. Prints what\n"
	"opened, from where, until when (local time) and how to connect; -q prints the request id.\n"
	"A refusal prints the server's code and message and exits 1.\n"
	"On an agent VM the ports are open once its agent applied the grant: request waits for that (at most\n"
	"10 s) before it says \"open\"; an agent that is disconnected, revoked or too slow is named and the exit\n"
	"code is 5 (the request stays granted and applies when the agent is back). --no-wait: do not wait.\n"
	"A port whose rule needs approval waits (Pending) until its approvers decide (jitgate approvals).\n"
	"--extend: your open grants on the VM (or on --port) stay open DURATION longer, within the rule's\n"
	"maximum counted from when each opened; on a port that needs approval the extension waits for its\n"
	"approvers (jitgate approvals).\n"
	"\n"
	"Example:\n"
	"  jitgate request vm1 --port 22 --for 1h30m --reason 'kernel update'\n";

#define OPT_PORT	4000
#define OPT_FOR		4001
#define OPT_UNTIL	4002
#define OPT_FROM	4003
#define OPT_REASON	4004
#define OPT_NO_WAIT	4005
#define OPT_EXTEND	4006

struct request_opts {
	uint16_t ports[CLI_PORTS_MAX];
	size_t n_ports;
	struct cli_initiate in;
	int64_t extend_ms;
};

static const struct option request_options[] = {
	{ "port", required_argument, NULL, OPT_PORT },
	{ "for", required_argument, NULL, OPT_FOR },
	{ "until", required_argument, NULL, OPT_UNTIL },
	{ "from", required_argument, NULL, OPT_FROM },
	{ "reason", required_argument, NULL, OPT_REASON },
	{ "no-wait", no_argument, NULL, OPT_NO_WAIT },
	{ "extend", required_argument, NULL, OPT_EXTEND },
	{ NULL, 0, NULL, 0 },
};

static int
request_option(struct cli *c, int opt, const char *arg, void *state)
{
	struct request_opts *o = state;
	struct net_source src;
	uint16_t port;
	size_t i;

	switch (opt) {
	case OPT_PORT:
		if (net_port_parse(arg, strlen(arg), &port, NULL) < 0)
			return cli_fail(c, CLI_EXIT_USAGE, "--port: '%s' is not a port number (1-65535)", arg);
		for (i = 0; i < o->n_ports; i++)
			if (o->ports[i] == port)
				return cli_fail(c, CLI_EXIT_USAGE, "--port: %u is given twice", port);
		if (o->n_ports >= CLI_PORTS_MAX)
			return cli_fail(c, CLI_EXIT_USAGE, "--port: at most %d ports", CLI_PORTS_MAX);
		o->ports[o->n_ports++] = port;
		return 0;
	case OPT_FOR:
		if (cli_duration_parse(arg, &o->in.for_ms) < 0)
			return cli_fail(c, CLI_EXIT_USAGE, "--for: '%s' is not a duration (try 90m, 1h30m, PT3H)", arg);
		return 0;
	case OPT_UNTIL:
		if (cli_time_parse(arg, time_now_ns(), &o->in.until_ns) < 0)
			return cli_fail(c, CLI_EXIT_USAGE,
					"--until: '%s' is not a time (try 2025-03-01T14:00:00Z, '2025-03-01 15:00' or 15:00)",
					arg);
		return 0;
	case OPT_FROM:
		if (net_source_parse(arg, strlen(arg), &src, NULL) < 0)
			return cli_fail(c, CLI_EXIT_USAGE, "--from: '%s' is not an address, a CIDR prefix or *", arg);
		o->in.from = arg;
		return 0;
	case OPT_REASON:
		o->in.reason = arg;
		return 0;
	case OPT_NO_WAIT:
		o->in.no_wait = true;
		return 0;
	case OPT_EXTEND:
		if (cli_duration_parse(arg, &o->extend_ms) < 0 || o->extend_ms <= 0)
			return cli_fail(c, CLI_EXIT_USAGE, "--extend: '%s' is not a duration (try 30m, 1h, PT30M)", arg);
		return 0;
	}
	return -EINVAL;
}

int
cmd_request(struct cli *c, int argc, char **argv)
{
	struct request_opts o;
	struct cli_vm vm = { 0 };
	bool help;
	int argi, r;

	memset(&o, 0, sizeof(o));
	r = cli_options(c, argc, argv, "", request_options, request_option, &o, cli_help_request, &argi, &help);
	if (r < 0 || help)
		return cli_exit(c, r);
	if (argc - argi != 1)
		return cli_exit(c, cli_fail(c, CLI_EXIT_USAGE, "give one VM (see --help)"));
	if (o.in.for_ms && o.in.until_ns)
		return cli_exit(c, cli_fail(c, CLI_EXIT_USAGE, "--for and --until: give one of them"));
	if (o.in.until_ns && o.in.until_ns <= time_now_ns())
		return cli_exit(c, cli_fail(c, CLI_EXIT_USAGE, "--until: that time has passed"));
	o.in.ports = o.ports;
	o.in.n_ports = o.n_ports;
	o.in.print = true;
	if (o.extend_ms && (o.in.for_ms || o.in.until_ns || o.in.from || o.in.reason))
		return cli_exit(c, cli_fail(c, CLI_EXIT_USAGE, "--extend takes only --port"));
	if ((r = cli_vm_resolve(c, argv[argi], &vm)) < 0)
		goto out;
	if (o.extend_ms)
		r = cli_extend(c, &vm, &(struct cli_extend){ .ports = o.ports, .n_ports = o.n_ports, .by_ms = o.extend_ms });
	else
		r = cli_initiate(c, &vm, &o.in);
out:
	cli_vm_clear(&vm);
	return cli_exit(c, r);
}

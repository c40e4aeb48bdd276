/* jitgate, the command-line client of jitgated: the subcommand table, the usage printed from it, and main. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/commands.h"

#ifndef JITGATE_VERSION
#define JITGATE_VERSION "0.0.0"
#endif

/* The usage: this head, the command table (name, arguments, summary), then the tail. */
static const char usage_head[] =
	"usage: jitgate [GLOBAL OPTIONS] COMMAND [ARGS]\n"
	"\n"
	"Just-in-time network access from the command line: ask jitgated to open a port for your address.\n"
	"\n"
	"Commands:\n";

static const char usage_tail[] =
	"\n"
	"Global options (anywhere on the line):\n"
	"  --server URL         https://HOST:PORT of jitgated      (env JITGATE_SERVER, or the config)\n"
	"  --token TOKEN        bearer token                       (env JITGATE_TOKEN, or the config)\n"
	"  --ca FILE            CA certificate to verify the server (env JITGATE_CA, or the config)\n"
	"  --insecure           do not verify the server's certificate (unsafe)\n"
	"  --socket PATH        jitgated's unix socket (root on the server's host; default\n"
	"                       " CLIENT_UNIX_SOCKET_DEFAULT " when no server is configured)\n"
	"  --subscription ID    (env JITGATE_SUBSCRIPTION, or the config; else the server's own)\n"
	"  -o, --output table|json   human tables (default) or the API's JSON (times in UTC)\n"
	"  -q, --quiet          ids or names only, one a line\n"
	"  --version            jitgate's version\n"
	"\n"
	"Durations: 90m, 1h30m, 3h, 2d, 45s or ISO 8601 (PT3H). Times: RFC 3339 (2025-03-01T14:00:00Z)\n"
	"or local time (2025-03-01 14:00, 14:00). Times print in local time, in JSON in UTC.\n"
	"\n"
	"Exit codes:\n"
	"  0  done\n"
	"  1  refused by the server (a 4xx answer other than 401/403), or no such VM, policy or token\n"
	"  2  usage: a bad command line, or a VM name that matches VMs in several resource groups\n"
	"  3  cannot reach the server (connection or TLS failure), or the server failed (5xx)\n"
	"  4  not authenticated or not allowed (401, 403)\n"
	"  5  request/ssh on an agent VM: granted, but its agent did not apply it within 10 s (or is away)\n"
	"\n"
	"Example:\n"
	"  jitgate login --server https://gw.example.net:8443 --token jg_...\n"
	"  jitgate request vm1 --for 1h --reason patching\n"
	"\n"
	"See jitgate(1), and `jitgate help COMMAND`.\n";

static int
cmd_help(struct cli *c, int argc, char **argv);

static int
cmd_version(struct cli *c, int argc, char **argv)
{
	(void)c;
	(void)argc;
	(void)argv;
	cli_printf("jitgate %s\n", JITGATE_VERSION);
	return 0;
}

/* The subcommands, in the order the usage lists them; a command without a summary is not listed. */
static const struct command {
	const char *name;
	const char *args;		/* after the name in the usage */
	const char *summary;
	int (*run)(struct cli *c, int argc, char **argv);
	const char *help;		/* NULL: the usage */
} commands[] = {
	{ "vm", "list|show|add|remove", "the VMs jitgate protects, with their JIT status", cmd_vm, cli_help_vm },
	{ "enable", "VM", "turn JIT on for a VM (its ports close until requested)", cmd_enable, cli_help_enable },
	{ "edit", "VM", "change a VM's port rules", cmd_edit, cli_help_edit },
	{ "disable", "VM", "turn JIT off for a VM (its ports open again)", cmd_disable, cli_help_disable },
	{ "policy", "list|show|apply|delete", "whole JIT policies, in the API's JSON", cmd_policy, cli_help_policy },
	{ "request", "VM", "open the VM's ports for your address, for a while", cmd_request, cli_help_request },
	{ "ssh", "VM [-- SSH ARGS]", "request port 22, then run ssh", cmd_ssh, cli_help_ssh },
	{ "revoke", "VM", "close granted ports now", cmd_revoke, cli_help_revoke },
	{ "requests", "", "requests of the last 7 days", cmd_requests, cli_help_requests },
	{ "approvals", "", "requests that wait for approval", cmd_approvals, cli_help_approvals },
	{ "approve", "ID", "approve a waiting request", cmd_approve, cli_help_approve },
	{ "deny", "ID --reason TEXT", "deny a waiting request", cmd_deny, cli_help_deny },
	{ "log", "", "the activity log", cmd_log, cli_help_log },
	{ "token", "create|list|revoke", "API tokens (Owners)", cmd_token, cli_help_token },
	{ "agent", "token create|list|revoke", "join tokens for jitgate-agent hosts (Owners)", cmd_agent, cli_help_agent },
	{ "whoami", "", "who the server thinks you are, and your address as it sees it", cmd_whoami, cli_help_whoami },
	{ "login", "", "save server, token and CA in ~/.config/jitgate/config", cmd_login, cli_help_login },
	{ "logout", "", "forget the saved credential (and end a single sign-on session)", cmd_logout, cli_help_logout },
	{ "help", "[COMMAND]", "help on a command", cmd_help, NULL },
	{ "version", "", NULL, cmd_version, "usage: jitgate version\n" },
};

#define USAGE_NAME_WIDTH 24	/* the width of "name args" in the usage's command list */

static void
usage_print(FILE *f)
{
	char name[64], line[256];
	size_t i;

	cli_print_static(f, usage_head);
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (!commands[i].summary)
			continue;
		snprintf(name, sizeof(name), "%s%s%s", commands[i].name, commands[i].args[0] ? " " : "", commands[i].args);
		/* the table's own constant text: printed as it is */
		snprintf(line, sizeof(line), "  %-*s  %s\n", USAGE_NAME_WIDTH, name, commands[i].summary);
		cli_print_static(f, line);
	}
	cli_print_static(f, usage_tail);
}

static const struct command *
command_find(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

static int
cmd_help(struct cli *c, int argc, char **argv)
{
	const struct command *cmd;

	if (argc < 2) {
		usage_print(stdout);
		return 0;
	}
	cmd = command_find(argv[1]);
	if (!cmd)
		return cli_fail(c, CLI_EXIT_USAGE, "no command named '%s' (see jitgate --help)", argv[1]);
	if (cmd->help)
		cli_print_static(stdout, cmd->help);
	else
		usage_print(stdout);
	return 0;
}

/* The global options, the command from the table, and its exit code. */
int
main(int argc, char **argv)
{
	struct cli c;
	const struct command *cmd;
	char cmdname[64];
	int i, r, code;

	cli_init(&c);
	r = cli_global_options(&c, argc, argv, &i);
	if (r == CLI_GLOBAL_VERSION)
		return cmd_version(&c, 0, NULL);
	if (r == CLI_GLOBAL_HELP) {
		usage_print(stdout);
		return 0;
	}
	if (r < 0)
		goto usage;
	if (r == CLI_GLOBAL_NO_COMMAND) {
		usage_print(stderr);
		code = CLI_EXIT_USAGE;
		goto out;
	}
	cmd = command_find(argv[i]);
	if (!cmd) {
		cli_fail(&c, CLI_EXIT_USAGE, "no command named '%s' (see jitgate --help)", argv[i]);
		goto usage;
	}
	snprintf(cmdname, sizeof(cmdname), "jitgate %s", cmd->name);
	c.cmd = cmdname;
	if (client_global_init() < 0) {
		cli_fail(&c, CLI_EXIT_UNREACHABLE, "cannot initialise libcurl");
		code = CLI_EXIT_UNREACHABLE;
		goto out;
	}
	r = cmd->run(&c, argc - i, argv + i);
	code = r < 0 ? cli_exit(&c, r) : r;
	cli_free(&c);
	client_global_cleanup();
	goto out;
usage:
	code = CLI_EXIT_USAGE;
	cli_free(&c);
out:
	fflush(stdout);
	return code;
}

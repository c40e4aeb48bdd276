/* jitgate, the command-line client of jitgated: global options, the subcommand table, help and exit codes. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

#ifndef JITGATE_VERSION
#define JITGATE_VERSION "0.0.0"
#endif

#define OPT_SERVER	1000
#define OPT_TOKEN	1001
#define OPT_CA		1002
#define OPT_INSECURE	1003
#define OPT_SOCKET	1004
#define OPT_SUBSCRIPTION 1005
#define OPT_HELP	1006
#define OPT_OUTPUT	'o'
#define OPT_QUIET	'q'
#define OPTS_MAX	48

static const struct option global_opts[] = {
	{ "server", required_argument, NULL, OPT_SERVER },
	{ "token", required_argument, NULL, OPT_TOKEN },
	{ "ca", required_argument, NULL, OPT_CA },
	{ "insecure", no_argument, NULL, OPT_INSECURE },
	{ "socket", required_argument, NULL, OPT_SOCKET },
	{ "subscription", required_argument, NULL, OPT_SUBSCRIPTION },
	{ "output", required_argument, NULL, OPT_OUTPUT },
	{ "quiet", no_argument, NULL, OPT_QUIET },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

static const char usage_text[] =
	"usage: jitgate [GLOBAL OPTIONS] COMMAND [ARGS]\n"
	"\n"
	"Just-in-time network access from the command line: ask jitgated to open a port for your address.\n"
	"\n"
	"Commands:\n"
	"  vm list|show|add|remove   the VMs jitgate protects, with their JIT status\n"
	"  enable VM                 turn JIT on for a VM (its ports close until requested)\n"
	"  edit VM                   change a VM's port rules\n"
	"  disable VM                turn JIT off for a VM (its ports open again)\n"
	"  policy list|show|apply|delete   whole JIT policies, in the API's JSON\n"
	"  request VM                open the VM's ports for your address, for a while\n"
	"  ssh VM [-- SSH ARGS]      request port 22, then run ssh\n"
	"  revoke VM                 close granted ports now\n"
	"  requests                  requests of the last 7 days\n"
	"  log                       the activity log\n"
	"  token create|list|revoke  API tokens (Owners)\n"
	"  whoami                    who the server thinks you are, and your address as it sees it\n"
	"  login                     save server, token and CA in ~/.config/jitgate/config\n"
	"  help [COMMAND]            help on a command\n"
	"\n"
	"Global options (anywhere on the line):\n"
	"  --server URL         https://HOST:PORT of jitgated      (env JITGATE_SERVER, or the config)\n"
	"  --token TOKEN        bearer token                       (env JITGATE_TOKEN, or the config)\n"
	"  --ca FILE            CA certificate to verify the server (env JITGATE_CA, or the config)\n"
	"  --insecure           do not verify the server's certificate (unsafe)\n"
	"  --socket PATH        jitgated's unix socket (root on the server's host; default\n"
	"                       " CLI_UNIX_SOCKET_DEFAULT " when no server is configured)\n"
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
	"\n"
	"Example:\n"
	"  jitgate login --server https://gw.example.net:8443 --token jg_...\n"
	"  jitgate request vm1 --for 1h --reason patching\n"
	"\n"
	"See jitgate(1), and `jitgate help COMMAND`.\n";

int
cli_fail(struct cli *c, int code, const char *fmt, ...)
{
	va_list ap;

	/* one sanitised line: a server's message cannot add lines or escape sequences of its own */
	cli_fprintf(stderr, "%s: ", c->cmd);
	va_start(ap, fmt);
	cli_vfprintf(stderr, fmt, ap);
	va_end(ap);
	cli_print_static(stderr, "\n");
	if (!c->exit_code)
		c->exit_code = code;
	return -EINVAL;
}

int
cli_exit(struct cli *c, int r)
{
	if (r >= 0 && !c->exit_code)
		return CLI_EXIT_OK;
	return c->exit_code ? c->exit_code : CLI_EXIT_REFUSED;
}

static int
set_string(struct cli *c, char *dst, size_t size, const char *flag, const char *v)
{
	if (strlen(v) >= size)
		return cli_fail(c, CLI_EXIT_USAGE, "--%s: too long (at most %zu bytes)", flag, size - 1);
	memcpy(dst, v, strlen(v) + 1);
	return 0;
}

static int
global_option(struct cli *c, int opt, const char *arg)
{
	switch (opt) {
	case OPT_SERVER:
		return set_string(c, c->server, sizeof(c->server), "server", arg);
	case OPT_TOKEN:
		if (strlen(arg) > CLI_TOKEN_MAX)
			return cli_fail(c, CLI_EXIT_USAGE, "--token: too long");
		if (c->token) {
			explicit_bzero(c->token, strlen(c->token));
			free(c->token);
		}
		c->token = strdup(arg);
		return c->token ? 0 : -ENOMEM;
	case OPT_CA:
		return set_string(c, c->ca, sizeof(c->ca), "ca", arg);
	case OPT_INSECURE:
		c->insecure = true;
		return 0;
	case OPT_SOCKET:
		return set_string(c, c->socket_path, sizeof(c->socket_path), "socket", arg);
	case OPT_SUBSCRIPTION:
		if (arm_subscription_validate(arg, strlen(arg), NULL) < 0)
			return cli_fail(c, CLI_EXIT_USAGE, "--subscription: '%s' is not a subscription id (a GUID)", arg);
		return set_string(c, c->subscription, sizeof(c->subscription), "subscription", arg);
	case OPT_OUTPUT:
		if (!strcmp(arg, "json"))
			c->output = CLI_OUT_JSON;
		else if (!strcmp(arg, "table"))
			c->output = CLI_OUT_TABLE;
		else
			return cli_fail(c, CLI_EXIT_USAGE, "-o: '%s' is not an output format (table or json)", arg);
		return 0;
	case OPT_QUIET:
		c->output = CLI_OUT_QUIET;
		return 0;
	}
	return -EINVAL;
}

int
cli_options(struct cli *c, int argc, char **argv, const char *shortopts, const struct option *own, cli_opt_fn handle,
	    void *state, const char *help, int *ret_argi, bool *ret_help)
{
	struct option all[OPTS_MAX];
	char shorts[64];
	size_t n = 0, i;
	int opt, r;

	for (i = 0; own && own[i].name; i++)
		if (n < OPTS_MAX - 1)
			all[n++] = own[i];
	for (i = 0; global_opts[i].name; i++)
		if (n < OPTS_MAX - 1)
			all[n++] = global_opts[i];
	memset(&all[n], 0, sizeof(all[n]));
	snprintf(shorts, sizeof(shorts), ":o:q%s", shortopts ? shortopts : "");
	*ret_help = false;
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, shorts, all, NULL)) != -1) {
		if (opt == '?') {
			if (optopt)
				return cli_fail(c, CLI_EXIT_USAGE, "unknown option -%c (see --help)", optopt);
			return cli_fail(c, CLI_EXIT_USAGE, "unknown option '%s' (see --help)", argv[optind - 1]);
		}
		if (opt == ':')
			return cli_fail(c, CLI_EXIT_USAGE, "%s needs a value (see --help)", argv[optind - 1]);
		if (opt == OPT_HELP) {
			cli_print_static(stdout, help);
			*ret_help = true;
			return 0;
		}
		if ((opt >= OPT_SERVER && opt <= OPT_HELP) || opt == OPT_OUTPUT || opt == OPT_QUIET)
			r = global_option(c, opt, optarg);
		else
			r = handle ? handle(c, opt, optarg, state) : -EINVAL;
		if (r < 0)
			return r;
	}
	*ret_argi = optind;
	return 0;
}

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

static const struct command {
	const char *name;
	int (*run)(struct cli *c, int argc, char **argv);
	const char *help;
} commands[] = {
	{ "vm", cmd_vm, cli_help_vm },
	{ "enable", cmd_enable, cli_help_enable },
	{ "edit", cmd_edit, cli_help_edit },
	{ "disable", cmd_disable, cli_help_disable },
	{ "policy", cmd_policy, cli_help_policy },
	{ "request", cmd_request, cli_help_request },
	{ "ssh", cmd_ssh, cli_help_ssh },
	{ "revoke", cmd_revoke, cli_help_revoke },
	{ "requests", cmd_requests, cli_help_requests },
	{ "log", cmd_log, cli_help_log },
	{ "token", cmd_token, cli_help_token },
	{ "whoami", cmd_whoami, cli_help_whoami },
	{ "login", cmd_login, cli_help_login },
	{ "help", cmd_help, usage_text },
	{ "version", cmd_version, "usage: jitgate version\n" },
};

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
		cli_print_static(stdout, usage_text);
		return 0;
	}
	cmd = command_find(argv[1]);
	if (!cmd)
		return cli_fail(c, CLI_EXIT_USAGE, "no command named '%s' (see jitgate --help)", argv[1]);
	cli_print_static(stdout, cmd->help);
	return 0;
}

/*
 * Global options may come before the command: take them here, then hand the command
 * its own argv (from its name on), where they are accepted again.
 */
int
main(int argc, char **argv)
{
	struct cli c;
	const struct command *cmd;
	char cmdname[64];
	int i, r, code;

	memset(&c, 0, sizeof(c));
	c.cmd = "jitgate";
	for (i = 1; i < argc; i++) {
		const struct option *o;
		const char *a = argv[i], *v = NULL;
		size_t len;

		if (a[0] != '-' || !strcmp(a, "-") || !strcmp(a, "--"))
			break;
		if (!strcmp(a, "--version") || !strcmp(a, "-V"))
			return cmd_version(&c, 0, NULL);
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			cli_print_static(stdout, usage_text);
			return 0;
		}
		if (!strcmp(a, "-q")) {
			c.output = CLI_OUT_QUIET;
			continue;
		}
		if (!strncmp(a, "-o", 2)) {
			v = a[2] ? a + 2 : (i + 1 < argc ? argv[++i] : NULL);
			if (!v || global_option(&c, OPT_OUTPUT, v) < 0)
				goto usage;
			continue;
		}
		if (strncmp(a, "--", 2))
			goto unknown;
		len = strcspn(a + 2, "=");
		for (o = global_opts; o->name; o++)
			if (strlen(o->name) == len && !strncmp(o->name, a + 2, len))
				break;
		if (!o->name)
			goto unknown;
		if (o->has_arg == required_argument) {
			v = a[2 + len] == '=' ? a + 3 + len : (i + 1 < argc ? argv[++i] : NULL);
			if (!v) {
				cli_fail(&c, CLI_EXIT_USAGE, "--%s needs a value", o->name);
				goto usage;
			}
		}
		if (global_option(&c, o->val, v) < 0)
			goto usage;
	}
	if (i >= argc) {
		cli_print_static(stderr, usage_text);
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
	if (cli_http_global_init() < 0) {
		cli_fail(&c, CLI_EXIT_UNREACHABLE, "cannot initialise libcurl");
		code = CLI_EXIT_UNREACHABLE;
		goto out;
	}
	r = cmd->run(&c, argc - i, argv + i);
	code = r < 0 ? cli_exit(&c, r) : r;
	cli_free(&c);
	cli_http_global_cleanup();
	goto out;
unknown:
	cli_fail(&c, CLI_EXIT_USAGE, "unknown option '%s' before the command (see jitgate --help)", argv[i]);
usage:
	code = CLI_EXIT_USAGE;
	cli_free(&c);
out:
	fflush(stdout);
	return code;
}

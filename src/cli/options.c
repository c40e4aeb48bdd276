/* The options of the command line in one place: the global ones (before the command, or merged into each command's getopt). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

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
		return set_string(c, c->client.server, sizeof(c->client.server), "server", arg);
	case OPT_TOKEN:
		if (strlen(arg) > CLIENT_TOKEN_MAX)
			return cli_fail(c, CLI_EXIT_USAGE, "--token: too long");
		if (c->client.token) {
			explicit_bzero(c->client.token, strlen(c->client.token));
			free(c->client.token);
		}
		c->client.token = strdup(arg);
		return c->client.token ? 0 : -ENOMEM;
	case OPT_CA:
		return set_string(c, c->client.ca, sizeof(c->client.ca), "ca", arg);
	case OPT_INSECURE:
		c->client.insecure = true;
		return 0;
	case OPT_SOCKET:
		return set_string(c, c->client.socket_path, sizeof(c->client.socket_path), "socket", arg);
	case OPT_SUBSCRIPTION:
		if (arm_subscription_validate(arg, strlen(arg), NULL) < 0)
			return cli_fail(c, CLI_EXIT_USAGE, "--subscription: '%s' is not a subscription id (a GUID)", arg);
		return set_string(c, c->client.subscription, sizeof(c->client.subscription), "subscription", arg);
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

/*
 * Global options may come before the command: take them here, then hand the command
 * its own argv (from its name on), where they are accepted again.
 */
int
cli_global_options(struct cli *c, int argc, char **argv, int *ret_argi)
{
	int i;

	for (i = 1; i < argc; i++) {
		const struct option *o;
		const char *a = argv[i], *v = NULL;
		size_t len;

		if (a[0] != '-' || !strcmp(a, "-") || !strcmp(a, "--"))
			break;
		if (!strcmp(a, "--version") || !strcmp(a, "-V"))
			return CLI_GLOBAL_VERSION;
		if (!strcmp(a, "--help") || !strcmp(a, "-h"))
			return CLI_GLOBAL_HELP;
		if (!strcmp(a, "-q")) {
			c->output = CLI_OUT_QUIET;
			continue;
		}
		if (!strncmp(a, "-o", 2)) {
			v = a[2] ? a + 2 : (i + 1 < argc ? argv[++i] : NULL);
			if (!v || global_option(c, OPT_OUTPUT, v) < 0)
				return -EINVAL;
			continue;
		}
		if (strncmp(a, "--", 2))
			return cli_fail(c, CLI_EXIT_USAGE, "unknown option '%s' before the command (see jitgate --help)", a);
		len = strcspn(a + 2, "=");
		for (o = global_opts; o->name; o++)
			if (strlen(o->name) == len && !strncmp(o->name, a + 2, len))
				break;
		if (!o->name)
			return cli_fail(c, CLI_EXIT_USAGE, "unknown option '%s' before the command (see jitgate --help)", a);
		if (o->has_arg == required_argument) {
			v = a[2 + len] == '=' ? a + 3 + len : (i + 1 < argc ? argv[++i] : NULL);
			if (!v) {
				cli_fail(c, CLI_EXIT_USAGE, "--%s needs a value", o->name);
				return -EINVAL;
			}
		}
		if (global_option(c, o->val, v) < 0)
			return -EINVAL;
	}
	*ret_argi = i;
	return i >= argc ? CLI_GLOBAL_NO_COMMAND : CLI_GLOBAL_RUN;
}

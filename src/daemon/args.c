/* jitgated's command line: the usage text and the flags, shared by the server and its subcommands. */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "daemon/bootrules.h"
#include "daemon/config.h"
#include "daemon/daemon.h"
#include "daemon/log.h"

static const char usage[] =
	"usage: jitgated [--state-dir DIR] [--store postgresql://...] [--listen ADDR:PORT] [--subscription ID] [--resource-group RG]\n"
	"                [--location LOC] [--vm-name NAME] [--os-type Linux|Windows] [--config FILE]\n"
	"                [--tls-cert FILE --tls-key FILE] [--max-duration DUR] [--trusted-proxies CIDR,...]\n"
	"                [--unix-socket PATH] [--reconcile-interval DUR] [--user NAME | --single-process]\n"
	"                [--metrics-listen ADDR:PORT] [--single-replica] [--store-read postgresql://...]\n"
	"       jitgated token create --state-dir DIR --name NAME --role ROLE [--scope ID]\n"
	"       jitgated token create --join --state-dir DIR --resource-group RG [--uses N] [--expires DUR]\n"
	"       jitgated token list --state-dir DIR [--join]\n"
	"       jitgated token revoke --state-dir DIR NAME [--keep-grants] | --join ID\n"
	"       jitgated audit verify --state-dir DIR | --store URI [--head SEQ:HASH]\n"
	"       jitgated boot --state-dir DIR   (as root, before the network: protect what DIR/" BOOT_RULES_FILE " lists)\n"
	"\n"
	"Every flag is also a key of the config file, with '_' for '-' (state_dir = /var/lib/jitgate).\n"
	"Roles: Owner, SecurityAdmin, JitRequester, SecurityReader, Reader, or a [role NAME] of the config file.\n";

void
daemon_usage(FILE *f)
{
	fputs(usage, f);
}

static const struct option long_opts[] = {
	{ "state-dir", required_argument, NULL, 0 },	{ "listen", required_argument, NULL, 0 },
	{ "subscription", required_argument, NULL, 0 }, { "resource-group", required_argument, NULL, 0 },
	{ "location", required_argument, NULL, 0 },	{ "vm-name", required_argument, NULL, 0 },
	{ "os-type", required_argument, NULL, 0 },	{ "config", required_argument, NULL, 0 },
	{ "tls-cert", required_argument, NULL, 0 },	{ "tls-key", required_argument, NULL, 0 },
	{ "max-duration", required_argument, NULL, 0 }, { "trusted-proxies", required_argument, NULL, 0 },
	{ "unix-socket", required_argument, NULL, 0 },	{ "name", required_argument, NULL, 0 },
	{ "reconcile-interval", required_argument, NULL, 0 },	{ "user", required_argument, NULL, 0 },
	{ "role", required_argument, NULL, 0 },		{ "scope", required_argument, NULL, 0 },
	{ "keep-grants", no_argument, NULL, 0 },	{ "join", no_argument, NULL, 0 },
	{ "uses", required_argument, NULL, 0 },		{ "expires", required_argument, NULL, 0 },
	{ "single-process", no_argument, NULL, 0 },	{ "store", required_argument, NULL, 0 },
	{ "metrics-listen", required_argument, NULL, 0 },	{ "single-replica", no_argument, NULL, 0 },
	{ "head", required_argument, NULL, 0 },	{ "store-read", required_argument, NULL, 0 },
	{ "help", no_argument, NULL, 'h' },		{ NULL, 0, NULL, 0 },
};

static bool
is_token_flag(const char *name)
{
	return !strcmp(name, "name") || !strcmp(name, "role") || !strcmp(name, "scope") || !strcmp(name, "keep-grants") ||
	       !strcmp(name, "join") || !strcmp(name, "uses") || !strcmp(name, "expires") || !strcmp(name, "head");
}

/* Flags into cfg; --config is read first so that flags win over the file. */
int
parse_args(int argc, char **argv, struct config *cfg, struct cmdline *cl)
{
	struct core_error err = { 0 };
	int pass, c, idx;

	for (pass = 0; pass < 2; pass++) {
		optind = 1;
		while ((c = getopt_long(argc, argv, "h", long_opts, &idx)) != -1) {
			const char *name;
			char key[64];
			size_t i;

			if (c == 'h') {
				fputs(usage, stdout);
				exit(DAEMON_EXIT_OK);
			}
			if (c != 0) {
				fputs(usage, stderr);
				return DAEMON_EXIT_USAGE;
			}
			name = long_opts[idx].name;
			if (is_token_flag(name)) {
				if (!cl) {
					logmsg("--%s is a flag of `jitgated token` only", name);
					return DAEMON_EXIT_USAGE;
				}
				if (!strcmp(name, "name"))
					cl->name = optarg;
				else if (!strcmp(name, "role"))
					cl->role = optarg;
				else if (!strcmp(name, "scope"))
					cl->scope = optarg;
				else if (!strcmp(name, "join"))
					cl->join = true;
				else if (!strcmp(name, "uses"))
					cl->uses = optarg;
				else if (!strcmp(name, "expires"))
					cl->expires = optarg;
				else if (!strcmp(name, "head"))
					cl->head = optarg;
				else
					cl->keep_grants = true;
				continue;
			}
			/* the server's own flag, and a join token's group: `token create --join` wants it said */
			if (cl && !strcmp(name, "resource-group"))
				cl->resource_group = optarg;
			if ((pass == 0) != !strcmp(name, "config"))
				continue;
			snprintf(key, sizeof(key), "%s", name);
			for (i = 0; key[i]; i++)
				if (key[i] == '-')
					key[i] = '_';
			/* a flag without a value (--single-process) is a yes */
			if (config_set(cfg, key, optarg ? optarg : "yes", &err) < 0) {
				fail_err("bad flag", &err);
				return DAEMON_EXIT_USAGE;
			}
		}
		if (pass == 0 && cfg->config_file[0] && config_load_file(cfg, cfg->config_file, &err) < 0) {
			fail_err("config", &err);
			return DAEMON_EXIT_USAGE;
		}
	}
	return 0;
}

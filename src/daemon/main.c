/* jitgated's front door: the command line, the configuration, and the subcommands (the server, token, boot). */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "daemon/bootrules.h"
#include "daemon/config.h"
#include "daemon/daemon.h"
#include "daemon/instance.h"
#include "daemon/server.h"
#include "store/store.h"

static const char usage[] =
	"usage: jitgated [--state-dir DIR] [--listen ADDR:PORT] [--subscription ID] [--resource-group RG]\n"
	"                [--location LOC] [--vm-name NAME] [--os-type Linux|Windows] [--config FILE]\n"
	"                [--tls-cert FILE --tls-key FILE] [--max-duration DUR] [--trusted-proxies CIDR,...]\n"
	"                [--unix-socket PATH] [--reconcile-interval DUR] [--user NAME | --single-process]\n"
	"       jitgated token create --state-dir DIR --name NAME --role ROLE [--scope ID]\n"
	"       jitgated token list --state-dir DIR\n"
	"       jitgated token revoke --state-dir DIR NAME [--keep-grants]\n"
	"       jitgated boot --state-dir DIR   (as root, before the network: protect what DIR/" BOOT_RULES_FILE " lists)\n"
	"\n"
	"Every flag is also a key of the config file, with '_' for '-' (state_dir = /var/lib/jitgate).\n"
	"Roles: Owner, SecurityAdmin, JitRequester, SecurityReader, Reader, or a [role NAME] of the config file.\n";

void
logmsg(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("jitgated: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

void
fail_err(const char *what, const struct core_error *err)
{
	logmsg("%s: %s%s%s: %s", what, err->code, err->target[0] ? " at " : "", err->target, err->message);
}

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
	{ "keep-grants", no_argument, NULL, 0 },
	{ "single-process", no_argument, NULL, 0 },
	{ "help", no_argument, NULL, 'h' },		{ NULL, 0, NULL, 0 },
};

static bool
is_token_flag(const char *name)
{
	return !strcmp(name, "name") || !strcmp(name, "role") || !strcmp(name, "scope") || !strcmp(name, "keep-grants");
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
				else
					cl->keep_grants = true;
				continue;
			}
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

int
open_store(const struct config *cfg, struct store **ret)
{
	struct core_error err = { 0 };
	char path[CONFIG_PATH_MAX + 32];

	if (mkdir(cfg->state_dir, 0700) < 0 && errno != EEXIST) {
		logmsg("cannot create the state directory %s: %s", cfg->state_dir, strerror(errno));
		return -errno;
	}
	snprintf(path, sizeof(path), "%s/%s", cfg->state_dir, DB_NAME);
	if (store_open(path, ret, &err) < 0) {
		fail_err("cannot open the store", &err);
		return -EIO;
	}
	return 0;
}

/* `jitgated boot`: at boot (jitgate-boot.service), put the protection jitgated last had in place, with no grant. */
static int
cmd_boot(int argc, char **argv, struct config *cfg)
{
	struct core_error err = { 0 };
	int lock, r;

	if (parse_args(argc - 1, argv + 1, cfg, NULL))
		return DAEMON_EXIT_USAGE;
	/* not while a jitgated runs here (it keeps the table, grants included); and none starts until we are done */
	if ((lock = instance_lock_netns(0, &err)) < 0) {
		logmsg("boot: %s", err.message);
		return DAEMON_EXIT_FAILURE;
	}
	r = boot_rules_load(cfg->state_dir, &err);
	close(lock);
	if (r == 1) {
		logmsg("boot: no %s/%s (jitgated has never protected a port here): nothing to do", cfg->state_dir,
		       BOOT_RULES_FILE);
		return DAEMON_EXIT_OK;
	}
	if (r < 0) {
		fail_err("boot", &err);
		return DAEMON_EXIT_FAILURE;
	}
	logmsg("boot: table inet jitgate is in place with the ports listed in %s/%s protected and no grant",
	       cfg->state_dir, BOOT_RULES_FILE);
	return DAEMON_EXIT_OK;
}

/* A relative path (as given on the command line) made absolute against the directory we were started in. */
static int
path_absolute(char *path, size_t size, const char *what)
{
	char cwd[CONFIG_PATH_MAX], out[CONFIG_PATH_MAX];
	int n;

	if (!path[0] || path[0] == '/')
		return 0;
	if (!getcwd(cwd, sizeof(cwd))) {
		logmsg("%s: %s is relative and the current directory is unknown: %s", what, path, strerror(errno));
		return -errno;
	}
	n = snprintf(out, sizeof(out), "%s/%s", cwd, path);
	if (n < 0 || (size_t)n >= sizeof(out) || (size_t)n >= size) {
		logmsg("%s: %s/%s is too long", what, cwd, path);
		return -ENAMETOOLONG;
	}
	memcpy(path, out, (size_t)n + 1);
	return 0;
}

int
main(int argc, char **argv)
{
	struct config cfg;
	struct core_error err = { 0 };
	int r;

	umask(0077);	/* the store, its WAL and the TLS key are nobody else's */
	config_defaults(&cfg);
	if (argc > 1 && !strcmp(argv[1], "token"))
		return cmd_token(argc, argv, &cfg);
	if (argc > 1 && !strcmp(argv[1], "boot"))
		return cmd_boot(argc, argv, &cfg);
	if ((r = parse_args(argc, argv, &cfg, NULL)))
		return r;
	if (optind < argc) {
		fprintf(stderr, "jitgated: unexpected argument '%s'\n%s", argv[optind], usage);
		return DAEMON_EXIT_USAGE;
	}
	if (config_validate(&cfg, &err) < 0) {
		fail_err("configuration", &err);
		return DAEMON_EXIT_USAGE;
	}
	/* hold no directory busy (a mount, a deleted build tree): paths become absolute, then the server runs in / */
	if (path_absolute(cfg.state_dir, sizeof(cfg.state_dir), "state_dir") < 0 ||
	    path_absolute(cfg.tls_cert, sizeof(cfg.tls_cert), "tls_cert") < 0 ||
	    path_absolute(cfg.tls_key, sizeof(cfg.tls_key), "tls_key") < 0 ||
	    path_absolute(cfg.unix_socket, sizeof(cfg.unix_socket), "unix_socket") < 0)
		return DAEMON_EXIT_USAGE;
	if (chdir("/") < 0) {
		logmsg("cannot change to /: %s", strerror(errno));
		return DAEMON_EXIT_FAILURE;
	}
	return server_run(&cfg);
}

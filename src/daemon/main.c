/* jitgated's front door: the command line, the configuration, and the subcommands (the server, token, audit, boot). */
#include <errno.h>
#include <getopt.h>
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
#include "daemon/log.h"
#include "daemon/server.h"

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
		return token_run(argc, argv, &cfg);
	if (argc > 1 && !strcmp(argv[1], "audit"))
		return audit_run(argc, argv, &cfg);
	if (argc > 1 && !strcmp(argv[1], "boot"))
		return cmd_boot(argc, argv, &cfg);
	if ((r = parse_args(argc, argv, &cfg, NULL)))
		return r;
	if (optind < argc) {
		fprintf(stderr, "jitgated: unexpected argument '%s'\n", argv[optind]);
		daemon_usage(stderr);
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

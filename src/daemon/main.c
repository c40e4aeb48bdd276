/* jitgated: the JIT access server (HTTPS API, store, kernel enforcement, timers) and its offline token commands. */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <getopt.h>
#include <ifaddrs.h>
#include <malloc.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "api/api.h"
#include "core/limits.h"
#include "core/rbac.h"
#include "core/timeutil.h"
#include "daemon/bootrules.h"
#include "daemon/config.h"
#include "daemon/instance.h"
#include "daemon/privsep.h"
#include "daemon/sandbox.h"
#include "daemon/statedir.h"
#include "daemon/tls.h"
#include "fw/fw.h"
#include "http/http-limits.h"
#include "http/http.h"
#include "store/store-journal.h"
#include "store/store.h"

#define DB_NAME "jitgate.db"

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

static void logmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
logmsg(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("jitgated: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static int
fail_err(const char *what, const struct core_error *err)
{
	logmsg("%s: %s%s%s: %s", what, err->code, err->target[0] ? " at " : "", err->target, err->message);
	return 1;
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

struct cmdline {
	const char *name, *role, *scope;
	bool keep_grants;
};

/* Flags into cfg; --config is read first so that flags win over the file. */
static int
parse_args(int argc, char **argv, struct config *cfg, struct cmdline *cl)
{
	struct core_error err = { 0 };
	int pass, c, idx;

	for (pass = 0; pass < 2; pass++) {
		optind = 1;
		while ((c = getopt_long(argc, argv, "h", long_opts, &idx)) != -1) {
			char key[64];
			size_t i;

			if (c == 'h') {
				fputs(usage, stdout);
				exit(0);
			}
			if (c != 0) {
				fputs(usage, stderr);
				return 2;
			}
			if (!strcmp(long_opts[idx].name, "keep-grants")) {
				cl->keep_grants = true;
				continue;
			}
			if (!strcmp(long_opts[idx].name, "name") || !strcmp(long_opts[idx].name, "role") ||
			    !strcmp(long_opts[idx].name, "scope")) {
				*(!strcmp(long_opts[idx].name, "name")	 ? &cl->name
				  : !strcmp(long_opts[idx].name, "role") ? &cl->role
									 : &cl->scope) = optarg;
				continue;
			}
			if ((pass == 0) != !strcmp(long_opts[idx].name, "config"))
				continue;
			snprintf(key, sizeof(key), "%s", long_opts[idx].name);
			for (i = 0; key[i]; i++)
				if (key[i] == '-')
					key[i] = '_';
			/* a flag without a value (--single-process) is a yes */
			if (config_set(cfg, key, optarg ? optarg : "yes", &err) < 0)
				return fail_err("bad flag", &err) + 1;
		}
		if (pass == 0 && cfg->config_file[0] && config_load_file(cfg, cfg->config_file, &err) < 0)
			return fail_err("config", &err) + 1;
	}
	return 0;
}

static int
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

/*
 * Root running `jitgated token` on a state directory that privilege separation
 * gave to its user: become that user first, so that SQLite as root never opens
 * (or creates, or follows a symlink to) a file in a directory another user controls.
 */
static int
token_drop_to_owner(const struct config *cfg)
{
	struct core_error err = { 0 };
	struct sandbox_user u = { .name = "(state directory owner)" };
	struct stat st;

	if (geteuid() != 0 || stat(cfg->state_dir, &st) < 0 || st.st_uid == 0)
		return 0;
	u.uid = st.st_uid;
	u.gid = st.st_gid;
	if (sandbox_drop(&u, 0, &err) < 0) {
		logmsg("cannot become the owner (uid %u) of %s: %s", (unsigned)st.st_uid, cfg->state_dir, err.message);
		return -EPERM;
	}
	return 0;
}

/*
 * Revoke a token in the store and, unless keep_grants, end its holder's live grants (Revoked /
 * TokenRevoked) in the same transaction, as the API does. Returns how many grants it ended.
 */
static int
token_revoke_offline(struct store *st, const char *name, bool keep_grants)
{
	struct store_grant *g = NULL;
	char requestor[STORE_REQUESTOR_MAX + 1];
	int64_t now = (int64_t)time(NULL) * TIME_NS_PER_SEC;
	size_t n = 0, i;
	int r, ended = 0;

	snprintf(requestor, sizeof(requestor), "token:%s", name);
	if ((r = store_begin(st)) < 0)
		return r;
	if ((r = store_token_revoke(st, name, now)) < 0)
		goto out;
	if (!keep_grants && (r = store_grants_initiated(st, &g, &n)) < 0)
		goto out;
	for (i = 0; i < n; i++) {
		if (g[i].end_ns <= now || strcmp(g[i].requestor, requestor))
			continue;
		if ((r = store_grant_end(st, g[i].request_id, g[i].vm_id, g[i].port, STORE_REASON_TOKEN_REVOKED, now)) < 0)
			goto out;
		ended++;
	}
	r = store_commit(st);
out:
	if (store_in_transaction(st))
		store_rollback(st);
	free(g);
	return r < 0 ? r : ended;
}

static int
cmd_token(int argc, char **argv, struct config *cfg)
{
	struct cmdline cl = { 0 };
	struct store *st = NULL;
	const char *sub = argc > 2 ? argv[2] : "";
	int r = 2;

	if (strcmp(sub, "create") && strcmp(sub, "list") && strcmp(sub, "revoke")) {
		fputs(usage, stderr);
		return 2;
	}
	if (parse_args(argc - 2, argv + 2, cfg, &cl))
		return 2;
	if (token_drop_to_owner(cfg) < 0 || open_store(cfg, &st) < 0)
		return 1;
	if (!strcmp(sub, "create")) {
		struct store_token t;
		char secret[API_TOKEN_TEXT_MAX + 1];
		struct core_error err = { 0 };
		const struct rbac_role *role = cl.role ? rbac_role_builtin(cl.role) : NULL;

		memset(&t, 0, sizeof(t));
		if (!cl.name || !cl.role) {
			fputs("jitgated token create: --name and --role are required\n", stderr);
			goto out;
		}
		if (!role) {
			size_t i;

			for (i = 0; i < cfg->api.n_custom_roles && !role; i++)
				if (!strcasecmp(cfg->api.custom_roles[i].name, cl.role))
					role = &cfg->api.custom_roles[i];
		}
		if (!role) {
			fprintf(stderr, "jitgated token create: --role: no role named '%s'\n", cl.role);
			goto out;
		}
		if (strlen(cl.name) == 0 || strlen(cl.name) > STORE_TOKEN_NAME_MAX ||
		    strspn(cl.name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-@") != strlen(cl.name)) {
			fprintf(stderr, "jitgated token create: --name: 1 to %d of letters, digits and ._-@\n",
				STORE_TOKEN_NAME_MAX);
			goto out;
		}
		if (cl.scope && cl.scope[0] && arm_scope_validate(cl.scope, strlen(cl.scope), &err) < 0) {
			fprintf(stderr, "jitgated token create: --scope: %s: %s\n", err.code, err.message);
			goto out;
		}
		if (cl.scope && strlen(cl.scope) > STORE_SCOPE_MAX) {
			fprintf(stderr, "jitgated token create: --scope is too long\n");
			goto out;
		}
		snprintf(t.name, sizeof(t.name), "%s", cl.name);
		snprintf(t.role, sizeof(t.role), "%s", role->name);
		snprintf(t.scope, sizeof(t.scope), "%s", cl.scope ? cl.scope : "");
		t.created_ns = (int64_t)time(NULL) * TIME_NS_PER_SEC;
		if (api_token_generate(secret, sizeof(secret)) < 0 || api_token_hash(secret, strlen(secret), t.hash) < 0) {
			r = 1;
			goto out;
		}
		r = store_token_insert(st, &t);
		if (r == -EEXIST) {
			fprintf(stderr, "jitgated token create: --name: a token named '%s' exists already\n", cl.name);
			r = 1;
		} else if (r < 0) {
			fprintf(stderr, "jitgated token create: %s\n", store_last_error(st));
			r = 1;
		} else {
			printf("%s\n", secret);
			r = 0;
		}
		explicit_bzero(secret, sizeof(secret));
	} else if (!strcmp(sub, "list")) {
		struct store_token *v = NULL;
		size_t n = 0, i;

		if (store_token_list(st, &v, &n) < 0) {
			r = 1;
			goto out;
		}
		printf("%-24s %-16s %-8s %s\n", "NAME", "ROLE", "STATE", "SCOPE");
		for (i = 0; i < n; i++)
			printf("%-24s %-16s %-8s %s\n", v[i].name, v[i].role, v[i].revoked_ns ? "revoked" : "valid",
			       v[i].scope[0] ? v[i].scope : "/");
		free(v);
		r = 0;
	} else if (!strcmp(sub, "revoke")) {
		const char *name = optind + 2 < argc ? argv[optind + 2] : cl.name;

		if (!name) {
			fputs("jitgated token revoke: which token? (NAME)\n", stderr);
			goto out;
		}
		r = token_revoke_offline(st, name, cl.keep_grants);
		if (r == -ENOENT)
			fprintf(stderr, "jitgated token revoke: no valid token named '%s'\n", name);
		else if (r < 0)
			fprintf(stderr, "jitgated token revoke: %s\n", store_last_error(st));
		else if (r > 0)
			printf("revoked token '%s' and ended its %d live grant(s) in the store; a running jitgated closes "
			       "them in the kernel at its next reconcile (systemctl reload jitgated, or SIGHUP, for now)\n",
			       name, r);
		r = r < 0 ? 1 : 0;
	} else {
		fputs(usage, stderr);
	}
out:
	store_close(st);
	return r;
}

/* `jitgated boot`: at boot (jitgate-boot.service), put the protection jitgated last had in place, with no grant. */
static int
cmd_boot(int argc, char **argv, struct config *cfg)
{
	struct core_error err = { 0 };
	struct cmdline cl = { 0 };
	int lock, r;

	if (parse_args(argc - 1, argv + 1, cfg, &cl))
		return 2;
	/* not while a jitgated runs here (it keeps the table, grants included); and none starts until we are done */
	if ((lock = instance_lock_netns(0, &err)) < 0) {
		logmsg("boot: %s", err.message);
		return 1;
	}
	r = boot_rules_load(cfg->state_dir, &err);
	close(lock);
	if (r == 1) {
		logmsg("boot: no %s/%s (jitgated has never protected a port here): nothing to do", cfg->state_dir,
		       BOOT_RULES_FILE);
		return 0;
	}
	if (r < 0) {
		fail_err("boot", &err);
		return 1;
	}
	logmsg("boot: table inet jitgate is in place with the ports listed in %s/%s protected and no grant",
	       cfg->state_dir, BOOT_RULES_FILE);
	return 0;
}

struct boot_ctx {
	const struct config *cfg;
	char **last;
	struct core_error *err;
};

static int
boot_write_cb(void *ctx, const struct fw_state *st)
{
	struct boot_ctx *c = ctx;

	return boot_rules_write(c->cfg->state_dir, st, c->last, c->err);
}

/* The ports protected now, in the boot list, when a kernel change may have changed them (bootrules.h). */
static void
boot_refresh(struct api *api, const struct config *cfg, char **last)
{
	struct core_error err = { 0 };
	struct boot_ctx c = { cfg, last, &err };

	if (!api->state_loaded || !api->fw)
		return;
	if (api_state_with(api, boot_write_cb, &c, &err) < 0)
		fail_err("cannot keep the boot list of protected ports", &err);	/* tried again after the next pass */
	else
		api->state_loaded = false;
}

/* Register (or refresh) this host as the local VM, with the addresses it has now. */
static int
register_local_vm(struct store *st, const struct config *cfg, const char *unsupported, int64_t *ret_id)
{
	struct store_vm vm, *all = NULL;
	struct ifaddrs *ifa = NULL, *i;
	int64_t id, other;
	size_t n = 0, k;
	bool created;
	int r;

	memset(&vm, 0, sizeof(vm));
	snprintf(vm.arm.subscription, sizeof(vm.arm.subscription), "%s", cfg->api.subscription);
	snprintf(vm.arm.resource_group, sizeof(vm.arm.resource_group), "%s", cfg->resource_group);
	snprintf(vm.arm.name, sizeof(vm.arm.name), "%s", cfg->vm_name);
	snprintf(vm.location, sizeof(vm.location), "%s", cfg->api.location);
	snprintf(vm.os_type, sizeof(vm.os_type), "%s", cfg->os_type);
	snprintf(vm.unsupported_reason, sizeof(vm.unsupported_reason), "%.200s", unsupported ? unsupported : "");
	vm.point = STORE_POINT_LOCAL;
	if (getifaddrs(&ifa) == 0) {
		for (i = ifa; i && vm.n_addrs < FW_VM_ADDRS_MAX; i = i->ifa_next) {
			struct net_addr *a = &vm.addrs[vm.n_addrs];

			if (!i->ifa_addr || (i->ifa_flags & IFF_LOOPBACK))
				continue;
			memset(a, 0, sizeof(*a));
			if (i->ifa_addr->sa_family == AF_INET) {
				a->family = NET_INET;
				memcpy(a->bytes, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, 4);
			} else if (i->ifa_addr->sa_family == AF_INET6) {
				const uint8_t *b = ((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr.s6_addr;

				if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)
					continue;	/* link-local: not how anyone reaches a VM */
				a->family = NET_INET6;
				memcpy(a->bytes, b, 16);
			} else {
				continue;
			}
			vm.n_addrs++;
		}
		freeifaddrs(ifa);
	}
	if ((r = store_vm_put(st, &vm, &id, &created)) < 0) {
		if (r == -EPERM)	/* a gateway VM has this host's name: it never becomes the input hook's */
			logmsg("a gateway VM named '%s' exists in resource group '%s': delete it or set another vm_name",
			       cfg->vm_name, cfg->resource_group);
		return r;
	}
	/* a renamed host leaves its old local record behind: say so, and let an operator remove it */
	if (store_vm_list(st, &all, &n) == 0) {
		for (k = 0; k < n; k++) {
			if (all[k].point != STORE_POINT_LOCAL || all[k].id == id || all[k].unsupported_reason[0])
				continue;
			snprintf(all[k].unsupported_reason, sizeof(all[k].unsupported_reason),
				 "this host now runs as VM '%.64s'; this older record of it can be removed", cfg->vm_name);
			store_vm_put(st, &all[k], &other, &created);
		}
		free(all);
	}
	*ret_id = id;
	return 0;
}

/* Tell systemd (Type=notify) that we are ready: the kernel is reconciled and the API is listening. */
static void
notify_ready(void)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (!path || (path[0] != '/' && path[0] != '@') || strlen(path) >= sizeof(sa.sun_path))
		return;
	memcpy(sa.sun_path, path, strlen(path));
	if (path[0] == '@')
		sa.sun_path[0] = '\0';	/* abstract namespace */
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	if (sendto(fd, "READY=1", 7, 0, (struct sockaddr *)&sa,
		   (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path))) < 0)
		logmsg("cannot notify systemd: %s", strerror(errno));
	close(fd);
}

/*
 * Privilege separation (privsep.h) is the default: split (1) as root with the
 * user; run as one process (0) when not root (there is nothing to separate), or
 * as root when --single-process asks for it; refuse (-1) as root without a
 * usable user, as the code that parses HTTP would hold every capability.
 */
static int
choose_split(const struct config *cfg, struct sandbox_user *ret_user)
{
	struct core_error err = { 0 };
	const char *name = cfg->user[0] ? cfg->user : CONFIG_DEFAULT_USER;
	int r;

	if (geteuid() != 0) {
		logmsg("not started as root: running as one process, without privilege separation");
		return 0;
	}
	if (cfg->single_process) {
		logmsg("WARNING: --single-process: jitgated runs as ONE ROOT PROCESS WITHOUT PRIVILEGE SEPARATION (the "
		       "code that parses HTTP holds every capability)");
		return 0;
	}
	r = sandbox_user_lookup(name, ret_user, &err);
	if (r == -ENOENT) {
		logmsg("there is no user '%s' for privilege separation; create it (useradd --system --no-create-home "
		       "--shell /usr/sbin/nologin %s), name another with --user, or run as one root process with "
		       "--single-process (not recommended)",
		       name, name);
		return -1;
	}
	if (r < 0) {
		if (err.message[0])
			fail_err("--user", &err);
		else
			logmsg("--user: cannot look up '%s': %s", name, strerror(-r));
		return -1;
	}
	return 1;
}

/* Drop to the user, no capabilities, no_new_privs, the main process's seccomp list. */
static int
drop_main(const struct config *cfg, const struct sandbox_user *u)
{
	struct core_error err = { 0 };

	if (sandbox_drop(u, 0, &err) < 0 || sandbox_seccomp(SANDBOX_MAIN, &err) < 0)
		return fail_err("cannot drop privileges", &err), -EPERM;
	if (access(cfg->state_dir, R_OK | W_OK | X_OK) < 0) {
		logmsg("the state directory %s is not usable by user %s: %s (every directory above it must be "
		       "searchable by that user)", cfg->state_dir, u->name, strerror(errno));
		return -EACCES;
	}
	return 0;
}

/* A new helper from the supervisor: connect, and bring the kernel in line with the store through it. */
static void
helper_arrived(struct api *api, int fd, pid_t pid, bool *fw_down)
{
	struct core_error err = { 0 };
	struct fw *fw = NULL;

	if (fw_connect(fd, &fw, &err) < 0) {
		logmsg("firewall helper %d: %s", (int)pid, err.message);
		return;
	}
	fw_free(api->fw);
	api->fw = fw;
	api->fw_reason[0] = '\0';
	api->ready = true;
	*fw_down = false;
	if (api_reconcile(api, &err) < 0)
		fail_err("firewall helper restarted, but the reconcile failed", &err);
	else
		logmsg("firewall helper %d started; the kernel is in line with the store again", (int)pid);
}

#define CLOCK_CHECK_MS	1000	/* the loop wakes at least this often, to notice wall-clock jumps */
#define CLOCK_JUMP_NS	(1000LL * 1000 * 1000)	/* a jump this large or more means kernel timeouts are off */

/*
 * The connection table needs a descriptor per connection: raise the soft limit
 * on open files to the hard one (no privilege needed), and size the table to
 * what that allows, keeping DAEMON_FDS_RESERVED for the store, netlink and the rest.
 */
#define DAEMON_FDS_RESERVED	256
static unsigned
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return API_CONN_MAX;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= (rlim_t)API_CONN_MAX + DAEMON_FDS_RESERVED)
		return API_CONN_MAX;
	logmsg("the open-file limit is %llu: the connection table holds %llu instead of %d (raise LimitNOFILE)",
	       (unsigned long long)rl.rlim_cur,
	       rl.rlim_cur > 2 * DAEMON_FDS_RESERVED ? (unsigned long long)(rl.rlim_cur - DAEMON_FDS_RESERVED)
						     : (unsigned long long)DAEMON_FDS_RESERVED,
	       API_CONN_MAX);
	return rl.rlim_cur > 2 * DAEMON_FDS_RESERVED ? (unsigned)(rl.rlim_cur - DAEMON_FDS_RESERVED) : DAEMON_FDS_RESERVED;
}

static int64_t
mono_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * TIME_NS_PER_SEC + ts.tv_nsec;
}

static volatile sig_atomic_t stop_requested;

/* api->release_held: a group of initiates committed (or failed); send their answers. */
static void
release_held(void *ctx, const struct http_response *instead, size_t n)
{
	if (instead)
		logmsg("the store refused a group of %zu initiates; they were undone and answered %d", n, instead->status);
	http_server_release(ctx, instead);
}

static int
run_server(struct config *cfg)
{
	struct core_error err = { 0 };
	struct api *api = calloc(1, sizeof(*api));
	struct http_server *srv = NULL;
	struct fw_monitor *mon = NULL;
	struct privsep ps = { .supervisor = -1, .ctrl = -1 };
	struct sandbox_user user;
	struct http_config hc;
	char cert[CONFIG_PATH_MAX + 32], key[CONFIG_PATH_MAX + 32], fp[TLS_FINGERPRINT_TEXT_MAX], host[256] = "localhost";
	char listen_host[CONFIG_LISTEN_MAX], *boot_last = NULL;
	int64_t next_expiry = 0, next_reconcile, clock_offset;
	sigset_t mask;
	int sfd = -1, r = 1, n, lock_fd = -1, netns_fd = -1, split;
	bool fw_down = false;

	if (!api)
		return 1;
	api->settings = cfg->api;
	if ((split = choose_split(cfg, &user)) < 0)
		goto out;
	/* one jitgated per network namespace (the kernel table), whatever its state directory; then one per store */
	if ((netns_fd = instance_lock_netns(INSTANCE_WAIT_MS, &err)) < 0) {
		logmsg("%s", err.message);
		goto out;
	}
	if (mkdir(cfg->state_dir, 0700) < 0 && errno != EEXIST) {
		logmsg("cannot create the state directory %s: %s", cfg->state_dir, strerror(errno));
		goto out;
	}
	if ((lock_fd = instance_lock_state_dir(cfg->state_dir, &err)) < 0) {
		logmsg("%s", err.message);
		goto out;
	}
	/*
	 * the supervisor is forked before anything secret is in memory; a symlink planted in tls/ is refused first;
	 * it and its helpers hold the namespace's name too, so it stays taken while any jitgated process lives
	 */
	if (split && (statedir_give(cfg->state_dir, DB_NAME, &user, false, &err) < 0 ||
		      privsep_start(&user, netns_fd, &ps, &err) < 0)) {
		if (err.message[0])
			fail_err("privilege separation", &err);
		goto out;
	}
	gethostname(host, sizeof(host) - 1);
	snprintf(listen_host, sizeof(listen_host), "%s", cfg->listen[0] == '[' ? cfg->listen + 1 : cfg->listen);
	listen_host[strcspn(listen_host, cfg->listen[0] == '[' ? "]" : ":")] = '\0';
	if (!cfg->tls_cert[0]) {
		if (tls_ensure_self_signed(cfg->state_dir, listen_host, host, &err) < 0) {
			fail_err("TLS", &err);
			goto out;
		}
		snprintf(cert, sizeof(cert), "%s/tls/cert.pem", cfg->state_dir);
		snprintf(key, sizeof(key), "%s/tls/key.pem", cfg->state_dir);
	} else {
		snprintf(cert, sizeof(cert), "%s", cfg->tls_cert);
		snprintf(key, sizeof(key), "%s", cfg->tls_key);
	}
	if (tls_cert_fingerprint(cert, fp, sizeof(fp), &err) < 0) {
		fail_err("TLS certificate", &err);
		goto out;
	}
	if ((!strcmp(listen_host, "0.0.0.0") || !strcmp(listen_host, "::") || !listen_host[0]) &&
	    tls_cert_names_routable_address(cert, &err) == 0)
		logmsg("WARNING: listening on every address, but the certificate %s names none of this host's routable "
		       "addresses (it had none when the certificate was made): clients must reach it by a name it holds "
		       "or pin its fingerprint (jitgate login does); remove %s/tls to have a new one made, or give "
		       "--tls-cert", cert, cfg->state_dir);

	/* listen as root (a port below 1024, the root-only unix socket); nothing is accepted before the drop */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	memset(&hc, 0, sizeof(hc));
	hc.listen = cfg->listen;
	hc.cert_path = cert;
	hc.key_path = key;
	hc.unix_path = cfg->unix_socket[0] ? cfg->unix_socket : NULL;
	hc.body_max = API_BODY_MAX;
	hc.conn_timeout_s = API_CONN_TIMEOUT_S;
	hc.conn_max = raise_nofile();
	hc.header_memory = API_HEADER_MEMORY;
	hc.handler = api_handle;
	hc.ctx = api;
	if (sfd < 0 || http_server_start(&hc, &srv, &err) < 0) {
		fail_err("cannot start the HTTPS server", &err);
		goto out;
	}
	api->release_held = release_held;
	api->release_ctx = srv;
	/* root has read all it needs (the certificate and key are in memory): the state is the user's from here */
	if (split && statedir_give(cfg->state_dir, DB_NAME, &user, true, &err) < 0) {
		fail_err("privilege separation", &err);
		goto out;
	}
	if (split && drop_main(cfg, &user) < 0)
		goto out;
	if (open_store(cfg, &api->store) < 0)
		goto out;
	/* read here, as the sandboxed main process: grants made from now on also end on this boot's monotonic clock */
	if ((n = api_clock_start(api)) < 0 && !api->boot_id[0])
		logmsg("cannot read this boot's id (%s: %s): a grant's end is read on the wall clock only, so a wall "
		       "clock stepped back while jitgated is stopped can stretch it", API_BOOT_ID_PATH, strerror(-n));
	else if (n < 0)
		logmsg("cannot give the live grants of an earlier boot a monotonic end (%s): they go by the wall clock",
		       store_last_error(api->store));
	else if (n > 0)
		logmsg("%d live grant(s) of an earlier boot now also end on this boot's monotonic clock", n);
	{
		/* closes the store refused before a restart stay closed: read before the first reconcile */
		char jpath[CONFIG_PATH_MAX + 32];

		snprintf(jpath, sizeof(jpath), "%s/%s", cfg->state_dir, STORE_JOURNAL_NAME);
		if ((n = api_closing_open(api, jpath, &err)) < 0) {
			fail_err("cannot open the close journal (closing access must not depend on the disk)", &err);
			goto out;
		}
		if (n > 0) {
			logmsg("%d grant close(s) in the close journal are not in the store yet: kept closed", n);
			if ((n = api_closing_flush(api)) > 0)
				logmsg("recorded %d of them in the store now", n);
		}
	}

	if (split) {
		int fd;
		pid_t pid;

		n = privsep_helper_recv(&ps, PRIVSEP_FIRST_HELPER_MS, &fd, &pid);
		if (n < 0)
			core_error_set(&err, FW_ERR_UNAVAILABLE, "", "the firewall helper did not start");
		if (n < 0 || fw_connect(fd, &api->fw, &err) < 0)
			api->fw = NULL;
		else
			logmsg("privilege separation: this process runs as user %s without capabilities; firewall "
			       "helper %d keeps CAP_NET_ADMIN only", user.name, (int)pid);
	} else if (fw_new(&api->fw, &err) < 0) {
		api->fw = NULL;
	}
	if (!api->fw) {
		snprintf(api->fw_reason, sizeof(api->fw_reason), "%s", err.message);
		logmsg("the kernel firewall is not usable, every VM is Unsupported: %s", err.message);
	}
	if (register_local_vm(api->store, cfg, api->fw ? NULL : api->fw_reason, &api->local_vm_id) < 0) {
		logmsg("cannot register this host as a VM: %s", store_last_error(api->store));
		goto out;
	}
	if ((n = api_expire(api, api_now_ns(), &next_expiry)) > 0)
		logmsg("%d grant(s) ended while jitgated was down; marked Expired", n);
	/* watch before the first reconcile, so that no change made in between goes unseen (a helper watches itself) */
	if (api->fw && !split && fw_monitor_open(&mon, &err) < 0)
		logmsg("cannot watch the kernel table for tampering (periodic reconcile only): %s", err.message);
	if (api->fw && api_reconcile(api, &err) < 0) {
		fail_err("cannot bring the kernel in line with the store", &err);
		goto out;
	}
	api->ready = api->fw != NULL;	/* /healthz: 200 only when the kernel table is in place */
	boot_refresh(api, cfg, &boot_last);
	notify_ready();
	logmsg("listening on https://%s (certificate SHA-256 %s), state in %s, VM %s%s", cfg->listen, fp,
	       cfg->state_dir, cfg->vm_name, api->fw ? "" : " (UNSUPPORTED: no kernel enforcement)");
	fflush(stderr);
	/*
	 * Timers: end times are absolute wall-clock times, so the expiry timer runs on CLOCK_REALTIME
	 * (api_expire gives a grant's monotonic end as the wall-clock time it comes at);
	 * the reconcile interval is a duration, so it runs on CLOCK_MONOTONIC. The kernel's element
	 * timeouts are durations too: when the wall clock jumps, they no longer end at the grants' end
	 * times, so a jump (the difference between the two clocks moving) triggers a reconcile at once.
	 * The loop wakes at least every CLOCK_CHECK_MS to notice.
	 */
	next_reconcile = mono_now_ns() + (int64_t)cfg->reconcile_interval_s * TIME_NS_PER_SEC;
	clock_offset = api_now_ns() - mono_now_ns();

	while (!stop_requested) {
		struct pollfd p[5] = { { .fd = http_server_poll_fd(srv), .events = POLLIN }, { .fd = sfd, .events = POLLIN },
				       { .fd = mon ? fw_monitor_fd(mon) : -1, .events = POLLIN },
				       { .fd = api->fw && !fw_down ? fw_events_fd(api->fw) : -1, .events = POLLIN },
				       { .fd = ps.ctrl, .events = POLLIN } };
		int64_t now = api_now_ns(), mono = mono_now_ns(), offset, wait = next_reconcile - mono;
		int timeout = http_server_timeout_ms(srv), t;

		if (next_expiry && next_expiry - now < wait)
			wait = next_expiry - now;
		t = wait <= 0 ? 0 : (int)(wait / TIME_NS_PER_MS + 1);
		if (t > CLOCK_CHECK_MS)
			t = CLOCK_CHECK_MS;
		if (timeout < 0 || t < timeout)
			timeout = t;
		if (poll(p, 5, timeout) < 0 && errno != EINTR)
			break;
		if (p[3].revents) {
			struct fw_tamper tamper;

			if (fw_events_read(api->fw, &tamper) < 0) {
				fw_down = true;
				logmsg("the firewall helper is gone: no firewall change can be made until a new one starts; "
				       "the kernel keeps its table and drop rules (fail closed)");
			} else if (tamper.tampered) {
				logmsg("table inet jitgate was changed by %s (pid %d); restoring it",
				       tamper.name[0] ? tamper.name : "?", (int)tamper.pid);
				if (api_reconcile_after(api, &tamper, &err) < 0)
					fail_err("reconcile after tampering", &err);
			}
		}
		if (p[4].revents) {
			int fd;
			pid_t pid;

			n = privsep_helper_recv(&ps, 0, &fd, &pid);
			if (n == 0) {
				helper_arrived(api, fd, pid, &fw_down);
			} else if (n != -EAGAIN) {
				logmsg("the firewall supervisor is gone; stopping (the kernel keeps its table and drop "
				       "rules; restart jitgated)");
				goto out;
			}
		}
		if (p[2].revents & POLLIN) {
			struct fw_tamper tamper;

			if (fw_monitor_read(mon, &tamper) == 0 && tamper.tampered) {
				logmsg("table inet jitgate was changed by %s (pid %d); restoring it",
				       tamper.name[0] ? tamper.name : "?", (int)tamper.pid);
				if (api_reconcile_after(api, &tamper, &err) < 0)
					fail_err("reconcile after tampering", &err);
			}
		}
		if (p[1].revents & POLLIN) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
				if (si.ssi_signo == SIGHUP) {
					/* no settings are reloaded (restart for that); HUP means "look at the kernel now" */
					logmsg("SIGHUP: reconciling the kernel with the store now");
					if (api->fw && api_reconcile(api, &err) < 0)
						fail_err("reconcile", &err);
				} else {
					stop_requested = 1;
				}
			}
		}
		http_server_run(srv);
		api_batch_end(api);	/* the initiates of this pass commit together; their answers go out after */
		now = api_now_ns();
		mono = mono_now_ns();
		offset = now - mono;
		if (offset - clock_offset > CLOCK_JUMP_NS || clock_offset - offset > CLOCK_JUMP_NS) {
			logmsg("the wall clock jumped by %+.1f s; bringing kernel timeouts in line with the grants' end times",
			       (double)(offset - clock_offset) / TIME_NS_PER_SEC);
			next_reconcile = mono;	/* now */
		}
		clock_offset = offset;
		/* a grant made since the last look may end sooner than what we were waiting for */
		if (api->next_end_hint_ns && (!next_expiry || api->next_end_hint_ns < next_expiry))
			next_expiry = api->next_end_hint_ns;
		api->next_end_hint_ns = 0;
		/* closes the store refused, recorded as soon as it takes writes again (retried each second) */
		if (api_closing_pending(api) && (n = api_closing_flush(api)) > 0)
			logmsg("recorded %d grant close(s) the store had refused; the close journal is clear", n);
		boot_refresh(api, cfg, &boot_last);
		if ((next_expiry && now >= next_expiry) || mono >= next_reconcile)
			api_expire(api, now, &next_expiry);
		if (mono >= next_reconcile) {
			if (api->fw && !fw_down && api_reconcile(api, &err) < 0)
				fail_err("periodic reconcile", &err);
			malloc_trim(0);	/* a big reconcile's listing is freed; give the memory back */
			next_reconcile = mono_now_ns() + (int64_t)cfg->reconcile_interval_s * TIME_NS_PER_SEC;
		}
	}
	logmsg("stopping; the kernel keeps every live grant and ends each on time");
	r = 0;
out:
	http_server_stop(srv);
	fw_monitor_close(mon);
	if (sfd >= 0)
		close(sfd);
	if (lock_fd >= 0)
		close(lock_fd);
	if (netns_fd >= 0)
		close(netns_fd);
	fw_free(api->fw);
	privsep_stop(&ps);
	free(boot_last);
	api_caches_free(api);
	api_closing_free(api);
	store_close(api->store);
	free(api);
	return r;
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
	struct cmdline cl = { 0 };
	struct core_error err = { 0 };
	int r;

	umask(0077);	/* the store, its WAL and the TLS key are nobody else's */
	config_defaults(&cfg);
	if (argc > 1 && !strcmp(argv[1], "token"))
		return cmd_token(argc, argv, &cfg);
	if (argc > 1 && !strcmp(argv[1], "boot"))
		return cmd_boot(argc, argv, &cfg);
	if ((r = parse_args(argc, argv, &cfg, &cl)))
		return r;
	if (optind < argc) {
		fprintf(stderr, "jitgated: unexpected argument '%s'\n%s", argv[optind], usage);
		return 2;
	}
	if (config_validate(&cfg, &err) < 0)
		return fail_err("configuration", &err) + 1;
	/* hold no directory busy (a mount, a deleted build tree): paths become absolute, then the server runs in / */
	if (path_absolute(cfg.state_dir, sizeof(cfg.state_dir), "state_dir") < 0 ||
	    path_absolute(cfg.tls_cert, sizeof(cfg.tls_cert), "tls_cert") < 0 ||
	    path_absolute(cfg.tls_key, sizeof(cfg.tls_key), "tls_key") < 0 ||
	    path_absolute(cfg.unix_socket, sizeof(cfg.unix_socket), "unix_socket") < 0)
		return 2;
	if (chdir("/") < 0) {
		logmsg("cannot change to /: %s", strerror(errno));
		return 1;
	}
	return run_server(&cfg);
}

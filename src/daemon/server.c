/* jitgated's start-up: the ordered steps that set up a struct server, its teardown, and server_run(). */
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "api/api.h"
#include "core/limits.h"
#include "core/timeutil.h"
#include "daemon/bootrules.h"
#include "daemon/config.h"
#include "daemon/daemon.h"
#include "daemon/instance.h"
#include "daemon/landlock.h"
#include "daemon/log.h"
#include "daemon/privsep.h"
#include "daemon/retention.h"
#include "daemon/sandbox.h"
#include "daemon/server.h"
#include "daemon/statedir.h"
#include "daemon/tls.h"
#include "daemon/webhook.h"
#include "http/http-fetch.h"
#include "fw/fw.h"
#include "http/http-limits.h"
#include "http/http.h"
#include "store/store-journal.h"
#include "store/store.h"

/* PostgreSQL, several jitgated possible: enforcement through agents only (api-agents-only.c). */
static bool
server_agents_only(const struct config *cfg)
{
	return cfg->store[0] && !cfg->single_replica;
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

/*
 * Landlock (landlock.h): from here the main process writes only in its state directory. It has read its
 * config, certificate and key already (as root), so it keeps no right to them; it reads this boot's id;
 * as a PostgreSQL client, a webhook sender or single sign-on's client it reads /etc and /usr (resolver,
 * NSS, CA certificates), and each webhook's and [sso]'s ca_file. SQLite's temporary files
 * (big sorts) go to the state directory, the only place it may write.
 */
static int
confine_main(const struct config *cfg, const struct sandbox_user *u)
{
	struct core_error err = { 0 };
	struct landlock_paths p = { .state_dir = cfg->state_dir, .read = { API_BOOT_ID_PATH } };
	size_t i, n_read = 1;
	int abi;

	/* prune_export, wherever it is, was opened before (retention_export_open): its directory stays closed */
	if (cfg->store[0] || cfg->webhooks.n || cfg->api.oidc.issuer[0]) {
		p.read[n_read++] = "/etc";
		p.read[n_read++] = "/usr";
	}
	for (i = 0; i < cfg->webhooks.n && n_read < LANDLOCK_READ_MAX; i++)
		if (cfg->webhooks.hooks[i].ca_file[0])
			p.read[n_read++] = cfg->webhooks.hooks[i].ca_file;
	if (cfg->api.oidc.ca_file[0] && n_read < LANDLOCK_READ_MAX)
		p.read[n_read++] = cfg->api.oidc.ca_file;
#ifdef SANDBOX_SANITIZER
	p.read_exec[0] = "/";	/* the sanitizers' runtime reads /proc/self and runs llvm-symbolizer: reads only */
#endif
	if (setenv("SQLITE_TMPDIR", cfg->state_dir, 1) < 0)
		return -errno;
	abi = landlock_confine(&p, &err);
	if (abi < 0) {
		fail_err("cannot drop privileges", &err);
		return abi;
	}
	if (abi == 0)
		logmsg("Landlock: not available in this kernel (%s): user %s's file rights, seccomp and the unit's "
		       "ProtectSystem=strict confine this process instead", strerror(-landlock_abi()), u->name);
	else
		logmsg("Landlock (ABI %d): this process writes only in %s", abi, cfg->state_dir);
	return 0;
}

/*
 * Drop to the user, no capabilities, no_new_privs, Landlock, the main process's seccomp list (with PostgreSQL's
 * client calls, and the webhooks' HTTPS client calls, if need be): Landlock before seccomp, whose list has no Landlock call.
 */
static int
drop_main(struct server *s)
{
	const struct config *cfg = s->cfg;
	const struct sandbox_user *u = &s->user;
	struct core_error err = { 0 };

	if (sandbox_drop(u, 0, &err) < 0) {
		fail_err("cannot drop privileges", &err);
		return -EPERM;
	}
	/* as the user (its file rights, as the export had before), but before Landlock takes the directory away */
	retention_export_open(s);
	if (confine_main(cfg, u) < 0)
		return -EPERM;
	if (sandbox_seccomp_main(cfg->store[0] != '\0', cfg->webhooks.n > 0 || cfg->api.oidc.issuer[0] != '\0', &err) < 0) {
		fail_err("cannot drop privileges", &err);
		return -EPERM;
	}
	if (access(cfg->state_dir, R_OK | W_OK | X_OK) < 0) {
		logmsg("the state directory %s is not usable by user %s: %s (every directory above it must be "
		       "searchable by that user)", cfg->state_dir, u->name, strerror(errno));
		return -EACCES;
	}
	return 0;
}

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

/* api_set_release(): a group of initiates committed (or failed); send their answers. */
static void
release_held(void *ctx, const struct http_response *instead, size_t n)
{
	if (instead)
		/* (undone, unless the commit stood on a PostgreSQL primary whose synchronous standby never confirmed it) */
		logmsg("the store did not confirm a group of %zu initiates; they were answered %d, not 202", n,
		       instead->status);
	http_server_release(ctx, instead);
}

/* The host part of ADDR:PORT or [ADDR]:PORT. */
static void
listen_host_of(const char *listen, char *buf, size_t size)
{
	snprintf(buf, size, "%s", listen[0] == '[' ? listen + 1 : listen);
	buf[strcspn(buf, listen[0] == '[' ? "]" : ":")] = '\0';
}

/* One jitgated per network namespace and per state directory; and whether to split into processes. */
static int
setup_instance(struct server *s)
{
	const struct config *cfg = s->cfg;
	struct core_error err = { 0 };

	if ((s->split = choose_split(cfg, &s->user)) < 0)
		return -1;
	/* one jitgated per network namespace (the kernel table), whatever its state directory; then one per store */
	if ((s->netns_fd = instance_lock_netns(INSTANCE_WAIT_MS, &err)) < 0) {
		logmsg("%s", err.message);
		return -1;
	}
	if (mkdir(cfg->state_dir, 0700) < 0 && errno != EEXIST) {
		logmsg("cannot create the state directory %s: %s", cfg->state_dir, strerror(errno));
		return -1;
	}
	if ((s->lock_fd = instance_lock_state_dir(cfg->state_dir, &err)) < 0) {
		logmsg("%s", err.message);
		return -1;
	}
	return 0;
}

/* The firewall supervisor (privsep.h), when split. */
static int
setup_supervisor(struct server *s)
{
	const struct config *cfg = s->cfg;
	struct core_error err = { 0 };

	/*
	 * the supervisor is forked before anything secret is in memory; a symlink planted in tls/ is refused first;
	 * it and its helpers hold the namespace's name too, so it stays taken while any jitgated process lives
	 */
	if (s->split && (statedir_give(cfg->state_dir, DB_NAME, &s->user, false, &err) < 0 ||
			 (!server_agents_only(cfg) && privsep_start(&s->user, s->netns_fd, &s->ps, &err) < 0))) {
		if (err.message[0])
			fail_err("privilege separation", &err);
		return -1;
	}
	return 0;
}

/* The certificate and key the server listens with, and the certificate's fingerprint. */
struct server_tls {
	char cert[CONFIG_PATH_MAX + 32], key[CONFIG_PATH_MAX + 32], fp[TLS_FINGERPRINT_TEXT_MAX];
};

/* The certificate: given, or made (once) in the state directory for this host. */
static int
setup_tls(struct server *s, struct server_tls *t)
{
	const struct config *cfg = s->cfg;
	struct core_error err = { 0 };
	char host[256] = "localhost", listen_host[CONFIG_LISTEN_MAX];

	gethostname(host, sizeof(host) - 1);
	listen_host_of(cfg->listen, listen_host, sizeof(listen_host));
	if (!cfg->tls_cert[0]) {
		if (tls_ensure_self_signed(cfg->state_dir, listen_host, host, &err) < 0) {
			fail_err("TLS", &err);
			return -1;
		}
		snprintf(t->cert, sizeof(t->cert), "%s/tls/cert.pem", cfg->state_dir);
		snprintf(t->key, sizeof(t->key), "%s/tls/key.pem", cfg->state_dir);
	} else {
		snprintf(t->cert, sizeof(t->cert), "%s", cfg->tls_cert);
		snprintf(t->key, sizeof(t->key), "%s", cfg->tls_key);
	}
	if (tls_cert_fingerprint(t->cert, t->fp, sizeof(t->fp), &err) < 0) {
		fail_err("TLS certificate", &err);
		return -1;
	}
	if ((!strcmp(listen_host, "0.0.0.0") || !strcmp(listen_host, "::") || !listen_host[0]) &&
	    tls_cert_names_routable_address(t->cert, &err) == 0)
		logmsg("WARNING: listening on every address, but the certificate %s names none of this host's routable "
		       "addresses (it had none when the certificate was made): clients must reach it by a name it holds "
		       "or pin its fingerprint (jitgate login does); remove %s/tls to have a new one made, or give "
		       "--tls-cert", t->cert, cfg->state_dir);
	return 0;
}

/*
 * metrics_listen's plain-HTTP server: GET /metrics and nothing else, its own small connection table
 * (a flood of scrapes fills that, never the API's).
 */
static int
setup_metrics(struct server *s)
{
	struct core_error err = { 0 };
	struct http_config hc;

	if (!s->cfg->metrics_listen[0])
		return 0;
	memset(&hc, 0, sizeof(hc));
	hc.listen = s->cfg->metrics_listen;
	hc.plain = true;
	hc.body_max = 1;	/* a GET has none */
	hc.conn_max = SERVER_METRICS_CONN_MAX;
	hc.handler = api_metrics_handle_plain;
	hc.ctx = s->api;
	if (http_server_start(&hc, &s->metrics_srv, &err) < 0) {
		if (!strcmp(err.target, "listen"))	/* the HTTP layer's name for its address: here, this setting */
			snprintf(err.target, sizeof(err.target), "metrics_listen");
		fail_err("cannot start the metrics listener", &err);
		return -1;
	}
	return 0;
}

/* The signals the loop reads, and the HTTPS server, listening. */
static int
setup_listen(struct server *s, const struct server_tls *t)
{
	const struct config *cfg = s->cfg;
	struct core_error err = { 0 };
	struct http_config hc;
	sigset_t mask;

	/* listen as root (a port below 1024, the root-only unix socket); nothing is accepted before the drop */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	s->sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	memset(&hc, 0, sizeof(hc));
	hc.listen = cfg->listen;
	hc.cert_path = t->cert;
	hc.key_path = t->key;
	hc.unix_path = cfg->unix_socket[0] ? cfg->unix_socket : NULL;
	hc.body_max = API_BODY_MAX;
	hc.conn_timeout_s = API_CONN_TIMEOUT_S;
	hc.conn_max = raise_nofile();
	hc.header_memory = API_HEADER_MEMORY;
	hc.handler = api_handle;
	hc.ctx = s->api;
	if (s->sfd < 0 || http_server_start(&hc, &s->srv, &err) < 0) {
		fail_err("cannot start the HTTPS server", &err);
		return -1;
	}
	api_set_release(s->api, release_held, s->srv);
	if (http_library_unmeasured())
		logmsg("libmicrohttpd %s: the request head limit (%d bytes, then 431) was measured against %s; a request "
		       "whose head comes near it may be closed without an answer instead", http_library_unmeasured(),
		       HTTP_REQUEST_HEAD_MAX, HTTP_POOL_MEASURED_MHD);
	return setup_metrics(s);
}

static void
say_line(const char *line)
{
	logmsg("%s", line);
}

/* The privilege drop, then the store, this boot's clock and the close journal. */
static int
setup_store(struct server *s)
{
	const struct config *cfg = s->cfg;
	struct core_error err = { 0 };
	int n;

	/* root has read all it needs (the certificate and key are in memory): the state is the user's from here */
	if (s->split && statedir_give(cfg->state_dir, DB_NAME, &s->user, true, &err) < 0) {
		fail_err("privilege separation", &err);
		return -1;
	}
	/* libcurl for single sign-on sets itself up while it may still read what it needs */
	if (api_oidc_global_init(&cfg->api) < 0) {
		logmsg("single sign-on: cannot set up the HTTPS client");
		return -1;
	}
	if (s->split && drop_main(s) < 0)
		return -1;
	if (!s->split)
		retention_export_open(s);	/* split: done in drop_main, before Landlock */
	if (statedir_open_store(cfg, &s->store) < 0)
		return -1;
	api_set_store(s->api, s->store);
	/* one libcurl multi handle in the loop for every outbound call: webhook deliveries and the provider's */
	if ((cfg->webhooks.n || cfg->api.oidc.issuer[0]) && (n = http_fetcher_new(&s->fetcher)) < 0) {
		logmsg("cannot set up the outbound HTTPS client: %s", strerror(-n));
		return -1;
	}
	api_set_fetcher(s->api, s->fetcher, s->srv);
	/* before anything is logged: from here every event goes to the outbox with its activity entry */
	if (cfg->webhooks.n) {
		if ((n = webhooks_new(&cfg->webhooks, s->store, s->fetcher, &s->hooks)) < 0) {
			logmsg("cannot set up webhook delivery: %s", strerror(-n));
			return -1;
		}
		api_set_webhooks(s->api, cfg->webhooks.hooks, cfg->webhooks.n);
		logmsg("%zu webhook(s) configured; deliveries are signed and retried until delivered", cfg->webhooks.n);
	}
	/* read here, as the sandboxed main process: grants made from now on also end on this boot's monotonic clock */
	if ((n = api_clock_start(s->api)) < 0 && !api_boot_is_known(s->api))
		logmsg("cannot read this boot's id (%s: %s): a grant's end is read on the wall clock only, so a wall "
		       "clock stepped back while jitgated is stopped can stretch it", API_BOOT_ID_PATH, strerror(-n));
	else if (n < 0)
		logmsg("cannot give the live grants of an earlier boot a monotonic end (%s): they go by the wall clock",
		       store_last_error(s->store));
	else if (n > 0)
		logmsg("%d live grant(s) of an earlier boot now also end on this boot's monotonic clock", n);
	{
		/* closes the store refused before a restart stay closed: read before the first reconcile */
		char jpath[CONFIG_PATH_MAX + 32];

		snprintf(jpath, sizeof(jpath), "%s/%s", cfg->state_dir, STORE_JOURNAL_NAME);
		if ((n = api_closing_open(s->api, jpath, &err)) < 0) {
			fail_err("cannot open the close journal (closing access must not depend on the disk)", &err);
			return -1;
		}
		if (n > 0) {
			logmsg("%d grant close(s) in the close journal are not in the store yet: kept closed", n);
			if ((n = api_closing_flush(s->api)) > 0)
				logmsg("recorded %d of them in the store now", n);
		}
	}
	/* not fatal: what it adds guards later writes; the next start tries again */
	if ((n = api_dnat_backfill(s->api, say_line)) < 0)
		logmsg("gateway DNAT: cannot record older policies' mapped ports: %s", store_last_error(s->store));
	else if (n > 0)
		logmsg("gateway DNAT: recorded %d mapped port(s) of policies written before this version", n);
	return 0;
}

/*
 * On PostgreSQL without --single-replica (api-agents-only.c): no kernel table, no firewall helper and no VM
 * for this host, whose agent (if it runs one) owns `inet jitgate` here and joins under the host's name.
 */
static int
setup_agents_only(struct server *s)
{
	int n;

	api_set_fw(s->api, NULL, NULL);
	api_set_agents_only(s->api, true);
	logmsg("store on PostgreSQL: this jitgated enforces through jitgate-agent only (each protected host runs "
	       "one, this one's included); it keeps no kernel table and registers no local VM (--single-replica "
	       "if it is the database's only jitgated)");
	if ((n = api_agents_only_report(s->api, say_line)) < 0)
		logmsg("cannot list the VMs: %s", store_last_error(s->store));
	else if (n > 0)
		logmsg("%d local or gateway VM(s) in policies are Unsupported and not enforced: put agent VMs in "
		       "their place", n);
	if ((n = api_expire(s->api, time_now_ns(), &s->next_expiry)) > 0)
		logmsg("%d grant(s) ended while jitgated was down; marked Expired", n);
	api_set_ready(s->api, true);
	return 0;
}

/* The kernel firewall (through the first helper, or in process), this host's VM, expiry, the monitor, the first reconcile. */
static int
setup_fw(struct server *s)
{
	const struct config *cfg = s->cfg;
	struct core_error err = { 0 };
	int64_t local_vm_id;
	int n;

	if (server_agents_only(cfg))
		return setup_agents_only(s);
	/* a careless operator's second "only" replica: said at its start (the claim lives with this connection) */
	n = cfg->store[0] ? store_claim_sole(s->store) : 1;
	if (n == 0)
		logmsg("WARNING: single_replica, but another jitgated on this database says it is the only one too "
		       "(or this one's previous run, its connection not yet closed): both enforce local and gateway VMs, "
		       "each following its own writes; give single_replica to one");
	else if (n < 0)
		logmsg("cannot claim to be the database's only jitgated: %s", store_last_error(s->store));
	if (s->split) {
		int fd;
		pid_t pid;

		n = privsep_helper_recv(&s->ps, PRIVSEP_FIRST_HELPER_MS, &fd, &pid);
		if (n < 0)
			core_error_set(&err, FW_ERR_UNAVAILABLE, "", "the firewall helper did not start");
		if (n < 0 || fw_connect(fd, &s->fw, &err) < 0)
			s->fw = NULL;
		else
			logmsg("privilege separation: this process runs as user %s without capabilities; firewall "
			       "helper %d keeps CAP_NET_ADMIN only", s->user.name, (int)pid);
	} else if (fw_new(&s->fw, &err) < 0) {
		s->fw = NULL;
	}
	api_set_fw(s->api, s->fw, err.message);	/* the reason, when s->fw is NULL */
	if (!s->fw)
		logmsg("the kernel firewall is not usable, every VM is Unsupported: %s", err.message);
	if (register_local_vm(s->store, cfg, s->fw ? NULL : err.message, &local_vm_id) < 0) {
		logmsg("cannot register this host as a VM: %s", store_last_error(s->store));
		return -1;
	}
	api_set_local_vm(s->api, local_vm_id);
	if ((n = api_expire(s->api, time_now_ns(), &s->next_expiry)) > 0)
		logmsg("%d grant(s) ended while jitgated was down; marked Expired", n);
	/* watch before the first reconcile, so that no change made in between goes unseen (a helper watches itself) */
	if (s->fw && !s->split && fw_monitor_open(&s->mon, &err) < 0)
		logmsg("cannot watch the kernel table for tampering (periodic reconcile only): %s", err.message);
	if (s->fw && api_reconcile(s->api, &err) < 0) {
		fail_err("cannot bring the kernel in line with the store", &err);
		return -1;
	}
	api_set_ready(s->api, s->fw != NULL);	/* /healthz: 200 only when the kernel table is in place */
	return 0;
}

/*
 * Start-up, in an order that matters (each step says why): the locks; the supervisor, before
 * any secret is in memory; the certificate; listening, as root; the privilege drop and the
 * store; the firewall, the monitor before the first reconcile. Then systemd hears we are
 * ready. A failure has been logged, and leaves what is open so far to server_teardown().
 */
static int
server_setup(struct server *s)
{
	struct server_tls t;

	if (setup_instance(s) < 0 || setup_supervisor(s) < 0 || setup_tls(s, &t) < 0 || setup_listen(s, &t) < 0 ||
	    setup_store(s) < 0 || setup_fw(s) < 0)
		return -1;
	server_boot_refresh(s);
	notify_ready();
	logmsg("listening on https://%s (certificate SHA-256 %s), state in %s, VM %s%s", s->cfg->listen, t.fp,
	       s->cfg->state_dir, server_agents_only(s->cfg) ? "(none: agents only)" : s->cfg->vm_name,
	       s->fw || server_agents_only(s->cfg) ? "" : " (UNSUPPORTED: no kernel enforcement)");
	fflush(stderr);
	return 0;
}

static void
server_teardown(struct server *s)
{
	http_server_stop(s->srv);
	http_server_stop(s->metrics_srv);
	fw_monitor_close(s->mon);
	if (s->sfd >= 0)
		close(s->sfd);
	if (s->syslog_fd >= 0)
		close(s->syslog_fd);
	if (s->export_fd >= 0)
		close(s->export_fd);
	if (s->lock_fd >= 0)
		close(s->lock_fd);
	if (s->netns_fd >= 0)
		close(s->netns_fd);
	fw_free(s->fw);
	privsep_stop(&s->ps);
	free(s->boot_last);
	webhooks_free(s->hooks);
	api_free(s->api);
	http_fetcher_free(s->fetcher);	/* after its users ended their transfers */
	store_close(s->store);
}

int
server_run(const struct config *cfg)
{
	struct server s = {
		.cfg = cfg,
		.ps = { .supervisor = -1, .ctrl = -1 },
		.sfd = -1,
		.lock_fd = -1,
		.netns_fd = -1,
		.syslog_fd = -1,
		.export_fd = -1,
		.started_ns = time_now_ns(),
	};
	int r = DAEMON_EXIT_FAILURE;

	if (!(s.api = api_new(&cfg->api)))
		return DAEMON_EXIT_FAILURE;
	if (server_setup(&s) == 0 && server_loop(&s) == 0)
		r = DAEMON_EXIT_OK;
	server_teardown(&s);
	return r;
}

/* Dropping privileges: users, capabilities, no_new_privs and the seccomp allow-list of each jitgated process. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/netlink.h>
#include <pwd.h>
#include <sched.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "daemon/sandbox.h"

/*
 * The default action is SCMP_ACT_KILL_PROCESS. A call outside the list is
 * either an attacker at work or a code path we never measured; killing the
 * whole process is safe in both cases because the design fails closed: the
 * kernel keeps its table and drop rules, the supervisor restarts a helper, the
 * service manager restarts the daemon. ERRNO(EPERM) would instead let an
 * exploit probe the filter and carry on, and let our own code continue down
 * an error path that nobody has tested. The one exception is clone3, which
 * answers ENOSYS so that the C library falls back to clone (that is the
 * documented contract for filters that cannot inspect clone3's flags).
 *
 * The lists were measured with `strace -f -c` over tests/e2e/privsep.sh,
 * server.sh, tamper.sh and fw.sh (see the report in the commit), then kept to
 * what each process does after it dropped privileges: everything it opens
 * before (listening sockets, signalfd, epoll, the TLS material) is not here.
 */

/* Measuring a new list: build with -Dc_args=-DSANDBOX_DEFAULT_ACTION=SCMP_ACT_LOG and run under strace -ff. */
#ifndef SANDBOX_DEFAULT_ACTION
#define SANDBOX_DEFAULT_ACTION SCMP_ACT_KILL_PROCESS
#endif

struct rule {
	const char *name;
	int n_args;			/* conditions (all must hold) on the arguments below */
	unsigned arg[2];
	uint64_t mask[2];		/* 0: the argument equals value; else (argument & mask) == value */
	uint64_t value[2];
};

#define ANY(n)			{ n, 0, { 0 }, { 0 }, { 0 } }
#define ARG(n, a, v)		{ n, 1, { a }, { 0 }, { v } }
#define ARG2(n, a, v, b, w)	{ n, 2, { a, b }, { 0, 0 }, { v, w } }
#define MASKED(n, a, m, v)	{ n, 1, { a }, { m }, { v } }

/* openat() that can only read: no write access, no creating, no truncating, no O_TMPFILE. */
#define OPEN_WRITE_BITS	(O_ACCMODE | O_CREAT | O_TRUNC | O_APPEND | __O_TMPFILE)

/* Every process: memory, the clock, signals, poll, exiting, its log on stderr. */
static const struct rule common[] = {
	ANY("brk"), ANY("mmap"), ANY("munmap"), ANY("mremap"), ANY("mprotect"), ANY("madvise"),
	ANY("futex"),			/* glibc's locks (stdio, malloc) */
	ANY("clock_gettime"), ANY("clock_nanosleep"), ANY("nanosleep"), ANY("gettimeofday"),
	ANY("rt_sigprocmask"), ANY("rt_sigreturn"), ANY("restart_syscall"),
	ANY("getpid"), ANY("gettid"), ANY("getuid"), ANY("geteuid"), ANY("getgid"), ANY("getegid"),
	ANY("read"), ANY("write"), ANY("writev"), ANY("close"), ANY("fstat"), ANY("newfstatat"), ANY("lseek"),
	ANY("fcntl"),
	ANY("poll"), ANY("ppoll"),
	ANY("getrandom"),		/* GnuTLS, SQLite, token and session secrets */
	ANY("sysinfo"),			/* glibc's qsort() sizes its buffer by the memory there is */
	ANY("exit"), ANY("exit_group"),
};

/*
 * The main process (measured: 37 distinct calls). libmicrohttpd with GnuTLS
 * on the epoll set and listeners made before the drop; SQLite in the state
 * directory; getifaddrs() over a route netlink socket; sd_notify; the
 * signalfd; new helpers' sockets from the supervisor.
 */
static const struct rule main_list[] = {
	/* libmicrohttpd: accepting, reading and writing connections */
	ANY("epoll_wait"), ANY("epoll_pwait"), ANY("epoll_ctl"), ANY("accept4"),
	ANY("recvfrom"), ANY("sendto"), ANY("recvmsg"), ANY("sendmsg"), ANY("shutdown"),
	ANY("setsockopt"), ANY("getsockopt"), ANY("getsockname"), ANY("getpeername"),
	/* SQLite: the database, its WAL and shared-memory index in the state directory (created as needed) */
	ANY("openat"), ANY("pread64"), ANY("pwrite64"), ANY("fsync"), ANY("fdatasync"), ANY("ftruncate"),
	ANY("unlink"), ANY("access"), ANY("mkdir"), ANY("fchown"), ANY("getcwd"), ANY("readlink"),
	/* the boot list (bootrules.c): a temp file renamed over the old one */
	ANY("rename"), ANY("renameat"), ANY("renameat2"),
	/* getifaddrs() (this host's addresses) and gethostname(); sd_notify's datagram */
	ARG2("socket", 0, AF_NETLINK, 2, NETLINK_ROUTE), ANY("bind"), ANY("uname"),
	ARG2("socket", 0, AF_UNIX, 1, SOCK_DGRAM | SOCK_CLOEXEC),
	/* reaping the supervisor at the end */
	ANY("wait4"),
};

/*
 * The supervisor (measured: 13): forks helpers, hands their sockets over,
 * reaps them, and what a new helper does before its own, narrower filter.
 */
static const struct rule supervisor_list[] = {
	ANY("clone"), ANY("wait4"), ANY("kill"), ARG("socketpair", 0, AF_UNIX), ANY("sendmsg"),
	ANY("set_robust_list"),
	ANY("prctl"), ANY("seccomp"),	/* a new helper names itself and loads its list */
};

/*
 * The firewall helper (measured: 24). libnftables, libmnl and
 * libnetfilter_conntrack over netlink (netfilter for the table, conntrack and
 * the monitor; route for nftables' interface cache); files it reads at start
 * (/etc/iproute2 tables, /etc/protocols, NSS) opened read-only; its socket to main.
 */
static const struct rule helper_list[] = {
	ARG("socket", 0, AF_NETLINK), ANY("bind"), ANY("getsockname"), ANY("setsockopt"), ANY("getsockopt"),
	ANY("sendto"), ANY("sendmsg"), ANY("recvfrom"), ANY("recvmsg"), ANY("pselect6"), ANY("select"),
	MASKED("openat", 2, OPEN_WRITE_BITS, O_RDONLY),
};

/*
 * The main process with its store on PostgreSQL (store = postgresql://…), on top of the main list:
 * libpq connects (at start and again after a lost connection) over a unix socket or TCP, and for a
 * server given by name glibc's getaddrinfo reads /etc/hosts and asks DNS over UDP, as the agent's
 * does. Measured over a unix socket by tests/e2e/on-pg.sh agent.sh; the TCP and DNS calls are the
 * agent's, measured by agent-net.sh.
 */
static const struct rule main_pg_list[] = {
	/* any flags (SOCK_CLOEXEC, SOCK_NONBLOCK) in the type's high bits */
	{ "socket", 2, { 0, 1 }, { 0, 0xf }, { AF_UNIX, SOCK_STREAM } },
	{ "socket", 2, { 0, 1 }, { 0, 0xf }, { AF_INET, SOCK_STREAM } },
	{ "socket", 2, { 0, 1 }, { 0, 0xf }, { AF_INET6, SOCK_STREAM } },
	ANY("connect"),
	{ "socket", 2, { 0, 1 }, { 0, 0xf }, { AF_INET, SOCK_DGRAM } },
	{ "socket", 2, { 0, 1 }, { 0, 0xf }, { AF_INET6, SOCK_DGRAM } }, ANY("sendmmsg"),
	ARG("ioctl", 1, FIONREAD),
};

/*
 * The main process when it makes HTTPS calls, on top of the main list: webhook deliveries (a libcurl
 * multi handle) and single sign-on's calls to the identity provider at sign-in (discovery, keys, the
 * token endpoint): TCP (IPv4 and IPv6); for a host given by name libcurl's threaded resolver runs
 * glibc's getaddrinfo in a thread (/etc/hosts, DNS over UDP), as the agent's does (threads only,
 * never a process). Measured by tests/e2e/webhooks.sh and sso.sh, which run jitgated split (privsep).
 */
static const struct rule https_out_list[] = {
	{ "socket", 2, { 0, 1 }, { 0, 0xf }, { AF_INET, SOCK_STREAM } },
	{ "socket", 2, { 0, 1 }, { 0, 0xf }, { AF_INET6, SOCK_STREAM } },
	ANY("connect"),
	ARG("socketpair", 0, AF_UNIX),	/* the multi handle's wakeup pair, the resolver's */
	ANY("epoll_create1"),		/* the set of the deliveries' sockets the loop polls */
	MASKED("clone", 0, CLONE_THREAD, CLONE_THREAD), ANY("set_robust_list"), ANY("rseq"), ANY("rt_sigaction"),
	{ "socket", 2, { 0, 1 }, { 0, 0xf }, { AF_INET, SOCK_DGRAM } },
	{ "socket", 2, { 0, 1 }, { 0, 0xf }, { AF_INET6, SOCK_DGRAM } }, ANY("sendmmsg"),
	ARG("ioctl", 1, FIONREAD),
	ANY("getdents64"),		/* libcurl's GnuTLS reads its CA directory (/etc/ssl/certs) at each connection */
};

/*
 * jitgate-agent (src/agent), on top of the helper's list: its state directory
 * (state.json and the credential written as a temp file, fsync'd and renamed;
 * agent.conf read), /proc/net and /etc/os-release read, getifaddrs() and
 * gethostname(), and HTTPS to its servers over TCP (IPv4 and IPv6), with
 * what its transport (src/client/client-agent.c: GnuTLS, a resolver thread)
 * and glibc's getaddrinfo need for a server given by name; measured by
 * tests/e2e/agent-net.sh (a server by address, by /etc/hosts and by DNS over
 * UDP) and agent-local.sh.
 */
static const struct rule agent_list[] = {
	ANY("openat"), ANY("fsync"), ANY("fchmod"), ANY("renameat"), ANY("renameat2"), ANY("rename"),
	ANY("unlinkat"), ANY("unlink"), ANY("uname"),
	/* TCP only, whatever flags (SOCK_CLOEXEC, SOCK_NONBLOCK) ride in the type's high bits */
	{ "socket", 2, { 0, 1 }, { 0, 0xf }, { AF_INET, SOCK_STREAM } },
	{ "socket", 2, { 0, 1 }, { 0, 0xf }, { AF_INET6, SOCK_STREAM } },
	ANY("connect"), ANY("shutdown"), ANY("getpeername"),
	/* the resolver thread's wakeup pair (client-tls.c) */
	ARG("socketpair", 0, AF_UNIX),
	/* ... whose thread: threads only (CLONE_THREAD), never a new process */
	MASKED("clone", 0, CLONE_THREAD, CLONE_THREAD), ANY("set_robust_list"), ANY("rseq"), ANY("madvise"),
	ANY("rt_sigaction"),		/* measured: the resolver's thread set up by the C library */
	/* getaddrinfo: /etc/hosts, /etc/resolv.conf, nsswitch.conf (read above), DNS over UDP */
	{ "socket", 2, { 0, 1 }, { 0, 0xf }, { AF_INET, SOCK_DGRAM } },
	{ "socket", 2, { 0, 1 }, { 0, 0xf }, { AF_INET6, SOCK_DGRAM } }, ANY("sendmmsg"),
	ARG("ioctl", 1, FIONREAD),	/* the resolver sizes an answer before it reads it */
	/* state.floor written in place (agent-floor.c) */
	ANY("pwrite64"),
};

#ifdef SANDBOX_SANITIZER
/*
 * Sanitizer builds only (-Db_sanitize=address,undefined): LeakSanitizer at
 * exit clones a tracer that ptraces the process to stop it and reads
 * /proc/self; ASan and UBSan print reports. Never in a release build.
 */
static const struct rule sanitizer_list[] = {
	ANY("clone"), ANY("ptrace"), ANY("wait4"), ANY("waitid"), ANY("prctl"), ANY("sched_yield"),
	ANY("sigaltstack"), ANY("rt_sigaction"), ANY("open"), ANY("openat"), ANY("stat"), ANY("lstat"),
	ANY("readlink"), ANY("getdents"), ANY("getdents64"), ANY("tgkill"), ANY("kill"), ANY("sched_getaffinity"),
	ANY("getppid"), ANY("pipe"), ANY("pipe2"), ANY("dup"), ANY("dup2"), ANY("pread64"), ANY("set_robust_list"),
	ANY("rseq"), ANY("getrlimit"), ANY("prlimit64"), ANY("setrlimit"), ANY("process_vm_readv"), ANY("arch_prctl"),
	ANY("access"), ANY("uname"),
};
#endif

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

int
sandbox_user_lookup(const char *name, struct sandbox_user *ret, struct core_error *err)
{
	struct passwd pw, *res = NULL;
	char *buf = NULL;
	long size = sysconf(_SC_GETPW_R_SIZE_MAX);
	int r;

	if (strlen(name) == 0 || strlen(name) > SANDBOX_USER_MAX)
		return core_error_set(err, "InvalidConfig", "user", "a user name has 1 to %d characters",
				      SANDBOX_USER_MAX);
	if (size < 16384)
		size = 16384;
	if (!(buf = malloc((size_t)size)))
		return -ENOMEM;
	r = getpwnam_r(name, &pw, buf, (size_t)size, &res);
	if (r || !res) {
		r = r ? -r : -ENOENT;
		goto out;
	}
	if (pw.pw_uid == 0 || pw.pw_gid == 0) {
		r = core_error_set(err, "InvalidConfig", "user", "user '%s' is root or in group root; jitgated needs "
				   "an unprivileged user of its own", name);
		goto out;
	}
	memset(ret, 0, sizeof(*ret));
	memcpy(ret->name, name, strlen(name) + 1);
	ret->uid = pw.pw_uid;
	ret->gid = pw.pw_gid;
	r = 0;
out:
	free(buf);
	return r;
}

static int
fail(struct core_error *err, const char *what, int e)
{
	core_error_set(err, "PrivilegeDrop", "user", "%s: %s", what, strerror(e));
	return -e;
}

static int
caps_get(struct __user_cap_data_struct data[2])
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };

	return syscall(SYS_capget, &hdr, data) < 0 ? -errno : 0;
}

int
sandbox_drop(const struct sandbox_user *user, uint64_t keep, struct core_error *err)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];
	unsigned long cap;
	int e;

	/* the bounding set first: dropping from it needs CAP_SETPCAP, which goes next */
	for (cap = 0; cap <= 63; cap++) {
		if (keep & (1ULL << cap))
			continue;
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) {
			if (errno == EINVAL)
				break;	/* past the last capability this kernel knows */
			return fail(err, "cannot drop capabilities from the bounding set", errno);
		}
	}
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return fail(err, "cannot clear the ambient capabilities", errno);
	if (keep && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		return fail(err, "cannot keep capabilities across the user change", errno);
	if (setgroups(0, NULL) < 0)
		return fail(err, "cannot drop the supplementary groups", errno);
	if (setresgid(user->gid, user->gid, user->gid) < 0)
		return fail(err, "cannot change group", errno);
	if (setresuid(user->uid, user->uid, user->uid) < 0)
		return fail(err, "cannot change user", errno);
	if (keep && prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
		return fail(err, "cannot reset keep-capabilities", errno);
	memset(data, 0, sizeof(data));
	data[0].permitted = data[0].effective = (uint32_t)keep;
	data[1].permitted = data[1].effective = (uint32_t)(keep >> 32);
	if (syscall(SYS_capset, &hdr, data) < 0)
		return fail(err, "cannot set the capabilities", errno);
	/* trust nothing above: read back what the kernel says we hold */
	if ((e = caps_get(data)) < 0)
		return fail(err, "cannot read the capabilities back", -e);
	if (data[0].permitted != (uint32_t)keep || data[1].permitted != (uint32_t)(keep >> 32) ||
	    data[0].effective != (uint32_t)keep || data[1].effective != (uint32_t)(keep >> 32) ||
	    data[0].inheritable || data[1].inheritable)
		return fail(err, "capabilities are not what was asked for after the drop", EPERM);
	if (getuid() != user->uid || geteuid() != user->uid || getgid() != user->gid || getegid() != user->gid ||
	    setresuid(0, 0, 0) == 0)
		return fail(err, "the user change did not hold", EPERM);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return fail(err, "cannot set no_new_privs", errno);
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		return fail(err, "cannot make the process non-dumpable", errno);
	return 0;
}

static int
add_rules(scmp_filter_ctx ctx, const struct rule *rules, size_t n)
{
	size_t i;
	int r;

	for (i = 0; i < n; i++) {
		int nr = seccomp_syscall_resolve_name(rules[i].name);
		struct scmp_arg_cmp cmp[2];
		int a;

		if (nr == __NR_SCMP_ERROR)
			continue;	/* not a call on this architecture */
		for (a = 0; a < rules[i].n_args; a++)
			cmp[a] = rules[i].mask[a]
					 ? (struct scmp_arg_cmp){ rules[i].arg[a], SCMP_CMP_MASKED_EQ, rules[i].mask[a],
								  rules[i].value[a] }
					 : (struct scmp_arg_cmp){ rules[i].arg[a], SCMP_CMP_EQ, rules[i].value[a], 0 };
		r = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, nr, (unsigned)rules[i].n_args, cmp);
		/* the same call twice (in two groups) is fine; libseccomp refuses only conflicting actions */
		if (r < 0 && r != -EEXIST)
			return r;
	}
	return 0;
}

static int
seccomp_load_lists(enum sandbox_role role, bool https_out, struct core_error *err);

int
sandbox_seccomp(enum sandbox_role role, struct core_error *err)
{
	return seccomp_load_lists(role, false, err);
}

int
sandbox_seccomp_main(bool pg, bool https_out, struct core_error *err)
{
	return seccomp_load_lists(pg ? SANDBOX_MAIN_PG : SANDBOX_MAIN, https_out, err);
}

static int
seccomp_load_lists(enum sandbox_role role, bool https_out, struct core_error *err)
{
	const struct scmp_arg_cmp unix_socket = { 0, SCMP_CMP_EQ, AF_UNIX, 0 };
	const struct scmp_arg_cmp unix_stream[2] = { { 0, SCMP_CMP_EQ, AF_UNIX, 0 },
						     { 1, SCMP_CMP_MASKED_EQ, 0xf, SOCK_STREAM } };
	scmp_filter_ctx ctx = seccomp_init(SANDBOX_DEFAULT_ACTION);
	int r;

	if (!ctx)
		return core_error_set(err, "PrivilegeDrop", "", "seccomp: cannot make a filter"), -ENOMEM;
	r = add_rules(ctx, common, COUNT(common));
	if (r == 0 && (role == SANDBOX_MAIN || role == SANDBOX_MAIN_PG))
		r = add_rules(ctx, main_list, COUNT(main_list));
	if (r == 0 && role == SANDBOX_MAIN_PG)
		r = add_rules(ctx, main_pg_list, COUNT(main_pg_list));
	if (r == 0 && https_out)
		r = add_rules(ctx, https_out_list, COUNT(https_out_list));
	if (r == 0 && role == SANDBOX_FW_SUPERVISOR)
		r = add_rules(ctx, supervisor_list, COUNT(supervisor_list));
	/* the supervisor's list holds the helper's: its children inherit the filter, then narrow it */
	if (r == 0 && (role == SANDBOX_FW_HELPER || role == SANDBOX_FW_SUPERVISOR || role == SANDBOX_AGENT))
		r = add_rules(ctx, helper_list, COUNT(helper_list));
	if (r == 0 && role == SANDBOX_AGENT)
		r = add_rules(ctx, agent_list, COUNT(agent_list));
#ifdef SANDBOX_SANITIZER
	if (r == 0)
		r = add_rules(ctx, sanitizer_list, COUNT(sanitizer_list));
#endif
	/* the agent's getaddrinfo asks nscd over a unix socket first: "no", and it reads /etc/hosts and DNS itself */
	if (r == 0 && role == SANDBOX_AGENT)
		r = seccomp_rule_add_array(ctx, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(socket), 1, &unix_socket);
	/* the same for the HTTPS callers' resolver in main (with PostgreSQL, unix stream sockets are libpq's: allowed) */
	if (r == 0 && https_out && role == SANDBOX_MAIN)
		r = seccomp_rule_add_array(ctx, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(socket), 2, unix_stream);
	/* fork() may try clone3 first; ENOSYS sends the C library to clone */
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	if (r == 0)
		r = seccomp_load(ctx);
	seccomp_release(ctx);
	if (r < 0)
		return core_error_set(err, "PrivilegeDrop", "", "seccomp: cannot load the %s filter: %s",
				      role == SANDBOX_MAIN || role == SANDBOX_MAIN_PG ? "main" :
				      role == SANDBOX_FW_HELPER ? "helper" :
				      role == SANDBOX_AGENT ? "agent" : "supervisor",
				      strerror(-r)),
		       r;
	return 0;
}

/*
 * unitfilter: run a command under the sandbox a systemd unit would give it, without systemd as PID 1.
 * tests/e2e/sec-daemon.sh reads dist/jitgated.service, expands its SystemCallFilter= groups with
 * `systemd-analyze syscall-filter`, and passes what it found here:
 *
 *   unitfilter [--syscalls FILE] [--errno NAME] [--native] [--families "AF_UNIX AF_INET ..."]
 *              [--caps "CAP_NET_ADMIN ..."] [--no-new-privs] [--umask 0077] [--nofile N]
 *              [--proc-invisible] [--proc-subset-pid] [--mdwe] [--restrict-namespaces]
 *              [--read-only-root] [--rw DIR]... [--private-tmp] -- COMMAND ARGS...
 *
 * Each option does what systemd 252 does for the unit setting of the same meaning:
 * SystemCallFilter= (an allow-list: every call outside FILE kills the process, or fails with
 * SystemCallErrorNumber=; systemd adds @default to allow-lists, the caller puts it in FILE),
 * SystemCallArchitectures=native, RestrictAddressFamilies=, CapabilityBoundingSet=,
 * NoNewPrivileges=, UMask=, LimitNOFILE=, ProtectProc=invisible, ProcSubset=pid (a new mount
 * namespace with its own /proc), MemoryDenyWriteExecute=, RestrictNamespaces=yes and
 * ProtectSystem=strict with the state and runtime directories writable, PrivateTmp= (an empty
 * tmpfs on /tmp and /var/tmp; so the directories given with --rw must not be below them). The seccomp filters are
 * separate, stacked, as systemd installs them; the kernel applies the strictest answer.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/mount.h>
#include <sched.h>
#include <seccomp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define UF_RW_MAX	8
#define UF_LINE_MAX	128

static const char *const cap_names[] = {
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID",
	"CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
	"CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO",
	"CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
	"CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE",
	"CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
	"CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
};

static const struct {
	const char *name;
	int family;
} families[] = {
	{ "AF_UNIX", AF_UNIX }, { "AF_INET", AF_INET }, { "AF_INET6", AF_INET6 }, { "AF_NETLINK", AF_NETLINK },
	{ "AF_PACKET", AF_PACKET },
};

static void __attribute__((noreturn))
die(const char *what, int e)
{
	fprintf(stderr, "unitfilter: %s: %s\n", what, strerror(e));
	exit(125);
}

static bool
word_in(const char *list, const char *word)
{
	size_t n = strlen(word);
	const char *p = list;

	while ((p = strstr(p, word))) {
		if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
			return true;
		p += n;
	}
	return false;
}

/*
 * SystemCallFilter=: an allow-list from a file of names; the default action kills, or answers errno.
 * Read before the mounts (the file may be below /tmp), loaded last.
 */
static scmp_filter_ctx
make_syscall_filter(const char *file, int err_no, bool native)
{
	char line[UF_LINE_MAX];
	scmp_filter_ctx ctx = seccomp_init(err_no ? SCMP_ACT_ERRNO((unsigned)err_no) : SCMP_ACT_KILL_PROCESS);
	FILE *f = fopen(file, "r");
	int n = 0, r;

	if (!ctx || !f)
		die("syscall filter", errno ? errno : ENOMEM);
	/* SystemCallArchitectures=native: calls of another ABI are killed (libseccomp's filter holds only the native one) */
	if (native && (r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS)) < 0)
		die("badarch", -r);
	while (fgets(line, sizeof(line), f)) {
		int nr;

		line[strcspn(line, "\n")] = '\0';
		if (!line[0])
			continue;
		nr = seccomp_syscall_resolve_name(line);
		if (nr == __NR_SCMP_ERROR)
			continue;	/* a call of another architecture */
		if ((r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0)) < 0 && r != -EEXIST)
			die(line, -r);
		n++;
	}
	fclose(f);
	fprintf(stderr, "unitfilter: SystemCallFilter: %d calls allowed, others %s\n", n,
		err_no ? "fail with the errno" : "kill the process");
	return ctx;
}

/* RestrictAddressFamilies=: socket() of another family fails with EAFNOSUPPORT. */
static void
load_family_filter(const char *list)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	int fam, r;

	if (!ctx)
		die("family filter", ENOMEM);
	for (fam = 0; fam < AF_MAX; fam++) {
		size_t i;
		bool allowed = false;
		struct scmp_arg_cmp eq = { .arg = 0, .op = SCMP_CMP_EQ, .datum_a = (scmp_datum_t)fam };

		for (i = 0; i < sizeof(families) / sizeof(families[0]); i++)
			if (families[i].family == fam && word_in(list, families[i].name))
				allowed = true;
		if (!allowed && (r = seccomp_rule_add_array(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT), SCMP_SYS(socket), 1,
							    &eq)) < 0)
			die("family rule", -r);
	}
	/* designated fields, not SCMP_A0(): clang's -Wmissing-field-initializers rejects the macro's form */
	if ((r = seccomp_rule_add_array(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT), SCMP_SYS(socket), 1,
					&(struct scmp_arg_cmp){ .arg = 0, .op = SCMP_CMP_GE, .datum_a = AF_MAX })) < 0 ||
	    (r = seccomp_load(ctx)) < 0)
		die("family filter", -r);
	seccomp_release(ctx);
}

/* MemoryDenyWriteExecute= and RestrictNamespaces=yes, as systemd's seccomp-util.c builds them. */
static void
load_mdwe_ns_filter(bool mdwe, bool ns)
{
	static const unsigned long ns_flags[] = { CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC,
						  CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET, 0x00000080 /* NEWTIME */ };
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	size_t i;
	int r = 0;

	if (!ctx)
		die("mdwe filter", ENOMEM);
	if (mdwe) {
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(mmap), 1,
				     SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC | PROT_WRITE, PROT_EXEC | PROT_WRITE));
		if (r == 0)
			r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(mprotect), 1,
					     SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, PROT_EXEC));
		if (r == 0)
			r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(pkey_mprotect), 1,
					     SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, PROT_EXEC));
		if (r == 0)
			r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(shmat), 1,
					     SCMP_A2(SCMP_CMP_MASKED_EQ, SHM_EXEC, SHM_EXEC));
	}
	for (i = 0; ns && r == 0 && i < sizeof(ns_flags) / sizeof(ns_flags[0]); i++) {
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(unshare), 1,
				     SCMP_A0(SCMP_CMP_MASKED_EQ, ns_flags[i], ns_flags[i]));
		if (r == 0)
			r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
					     SCMP_A0(SCMP_CMP_MASKED_EQ, ns_flags[i], ns_flags[i]));
	}
	if (ns && r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(setns), 0);
	if (r == 0)
		r = seccomp_load(ctx);
	if (r < 0)
		die("mdwe/namespace filter", -r);
	seccomp_release(ctx);
}

int
main(int argc, char **argv)
{
	const char *syscalls = NULL, *fams = NULL, *caps = NULL, *rw[UF_RW_MAX];
	bool native = false, nnp = false, proc_inv = false, proc_pid = false, mdwe = false, ns = false, ro = false,
	     tmp = false;
	int err_no = 0, n_rw = 0, i;
	long umask_v = -1, nofile = 0;
	scmp_filter_ctx filter = NULL;
	int r;

	for (i = 1; i < argc && strcmp(argv[i], "--"); i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--syscalls") && v)
			syscalls = v, i++;
		else if (!strcmp(a, "--errno") && v) {
			if (v[0]) {
				/* SystemCallErrorNumber=NAME: the few names a unit would use */
				err_no = !strcmp(v, "EPERM") ? EPERM : !strcmp(v, "EACCES") ? EACCES
					: !strcmp(v, "ENOSYS") ? ENOSYS : -1;
				if (err_no < 0)
					die(v, EINVAL);
			}
			i++;
		} else if (!strcmp(a, "--families") && v)
			fams = v, i++;
		else if (!strcmp(a, "--caps") && v)
			caps = v, i++;
		else if (!strcmp(a, "--umask") && v)
			umask_v = strtol(v, NULL, 8), i++;
		else if (!strcmp(a, "--nofile") && v)
			nofile = strtol(v, NULL, 10), i++;
		else if (!strcmp(a, "--rw") && v && n_rw < UF_RW_MAX)
			rw[n_rw++] = v, i++;
		else if (!strcmp(a, "--native"))
			native = true;
		else if (!strcmp(a, "--no-new-privs"))
			nnp = true;
		else if (!strcmp(a, "--proc-invisible"))
			proc_inv = true;
		else if (!strcmp(a, "--proc-subset-pid"))
			proc_pid = true;
		else if (!strcmp(a, "--mdwe"))
			mdwe = true;
		else if (!strcmp(a, "--restrict-namespaces"))
			ns = true;
		else if (!strcmp(a, "--read-only-root"))
			ro = true;
		else if (!strcmp(a, "--private-tmp"))
			tmp = true;
		else {
			fprintf(stderr, "unitfilter: unknown option %s\n", a);
			return 125;
		}
	}
	if (i + 1 >= argc) {
		fputs("usage: unitfilter [OPTIONS] -- COMMAND ARGS...\n", stderr);
		return 125;
	}
	if (syscalls)
		filter = make_syscall_filter(syscalls, err_no, native);
	if (proc_inv || proc_pid || ro || tmp) {
		char opts[64];
		int k;

		if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
			die("mount namespace", errno);
		if (ro) {
			/* ProtectSystem=strict: everything read-only, then the unit's own directories writable again */
			struct mount_attr attr = { .attr_set = MOUNT_ATTR_RDONLY };

			if (syscall(SYS_mount_setattr, AT_FDCWD, "/", AT_RECURSIVE, &attr, sizeof(attr)) < 0)
				die("read-only /", errno);
			for (k = 0; k < n_rw; k++) {
				struct mount_attr w = { .attr_clr = MOUNT_ATTR_RDONLY };

				/* a bind mount of a read-only place is read-only too until told otherwise */
				if (mount(rw[k], rw[k], NULL, MS_BIND, NULL) < 0 ||
				    syscall(SYS_mount_setattr, AT_FDCWD, rw[k], 0, &w, sizeof(w)) < 0)
					die(rw[k], errno);
			}
		}
		if (tmp && (mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") < 0 ||
			    mount("tmpfs", "/var/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") < 0))
			die("PrivateTmp", errno);
		/* ProtectProc=invisible, ProcSubset=pid: a /proc of our own with those options */
		snprintf(opts, sizeof(opts), "%s%s%s", proc_inv ? "hidepid=invisible" : "", proc_inv && proc_pid ? "," : "",
			 proc_pid ? "subset=pid" : "");
		if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, opts) < 0)
			die("mount /proc", errno);
	}
	if (caps) {
		unsigned long c;

		for (c = 0; c <= CAP_LAST_CAP; c++) {
			if (c < sizeof(cap_names) / sizeof(cap_names[0]) && word_in(caps, cap_names[c]))
				continue;
			if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
				die("capability bounding set", errno);
		}
	}
	if (umask_v >= 0)
		umask((mode_t)umask_v);
	if (nofile > 0 && setrlimit(RLIMIT_NOFILE, &(struct rlimit){ (rlim_t)nofile, (rlim_t)nofile }) < 0)
		die("LimitNOFILE", errno);
	if (chdir("/") < 0)
		die("chdir", errno);
	if (nnp && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		die("no_new_privs", errno);
	if (fams)
		load_family_filter(fams);
	if (mdwe || ns)
		load_mdwe_ns_filter(mdwe, ns);
	if (filter && (r = seccomp_load(filter)) < 0)
		die("seccomp_load (syscall filter)", -r);
	execv(argv[i + 1], argv + i + 1);
	die(argv[i + 1], errno);
}

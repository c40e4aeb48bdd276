/* `jitgate-agent run`: drop privileges, enforce the saved state before any network, undo tampering, and watch. */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/agent-floor.h"
#include "agent/agent-host.h"
#include "agent/agent-state.h"
#include "daemon/sandbox.h"
#include "core/timeutil.h"

#define STATE_DIR_MODE	0700

/* The files `run` may find in its state directory, and hands to the agent's user with it. */
static const char *const statedir_files[] = { AGENT_CONF_FILE, AGENT_CREDENTIAL_FILE, AGENT_STATE_FILE, AGENT_FLOOR_FILE,
					       AGENT_STATE_VOID_FILE };

/*
 * Hand the state directory and its files to the agent's user, as root before
 * the drop: the files first (while root may still search the directory), the
 * directory last, its mode before its owner. Never through a symlink, never a
 * file that is not plain. A directory owned by someone else is refused.
 */
static int
statedir_give(const char *dir, const struct sandbox_user *u, struct core_error *err)
{
	struct stat st;
	size_t i;
	int dfd, r = 0;

	if (lstat(dir, &st) < 0) {
		r = -errno;
		core_error_set(err, "StateDirectory", "--state-dir", "%s: %s", dir, strerror(-r));
		return r;
	}
	if (!S_ISDIR(st.st_mode))
		return core_error_set(err, "StateDirectory", "--state-dir", "%s is not a directory (a symlink is not "
				      "followed)", dir);
	if (st.st_uid != 0 && st.st_uid != u->uid)
		return core_error_set(err, "StateDirectory", "--state-dir", "%s belongs to uid %u, neither root nor "
				      "%s", dir, (unsigned)st.st_uid, u->name);
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	/* already the user's 0700 directory, and root without CAP_DAC_OVERRIDE (the unit's): its files are the user's */
	if (dfd < 0 && errno == EACCES && st.st_uid == u->uid)
		return 0;
	if (dfd < 0) {
		r = -errno;
		core_error_set(err, "StateDirectory", "--state-dir", "%s: %s", dir, strerror(-r));
		return r;
	}
	for (i = 0; i < sizeof(statedir_files) / sizeof(statedir_files[0]); i++) {
		const char *f = statedir_files[i];

		if (fstatat(dfd, f, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno == ENOENT)
				continue;
			r = core_error_set(err, "StateDirectory", f, "%s/%s: %s", dir, f, strerror(errno));
			goto out;
		}
		if (!S_ISREG(st.st_mode)) {
			r = core_error_set(err, "StateDirectory", f, "%s/%s is not a plain file", dir, f);
			goto out;
		}
		if (fchownat(dfd, f, u->uid, u->gid, AT_SYMLINK_NOFOLLOW) < 0) {
			r = core_error_set(err, "StateDirectory", f, "cannot give %s/%s to %s: %s", dir, f, u->name,
					   strerror(errno));
			goto out;
		}
	}
	if (fchmod(dfd, STATE_DIR_MODE) < 0 || fchown(dfd, u->uid, u->gid) < 0)
		r = core_error_set(err, "StateDirectory", "--state-dir", "cannot give %s to %s: %s", dir, u->name,
				   strerror(errno));
out:
	close(dfd);
	return r;
}

/*
 * The sandbox, before anything is read from a file: root with the agent's
 * user becomes that user with CAP_NET_ADMIN alone; anyone else (already
 * unprivileged, given CAP_NET_ADMIN by the service manager) keeps who it is.
 * Both then get no_new_privs. The seccomp filter comes after the signalfd.
 */
static int
sandbox_enter(const struct agent_run_opts *o, struct core_error *err)
{
	struct sandbox_user u;
	int r;

	if (o->no_sandbox)
		return 0;
	if (geteuid() != 0) {
		if (o->user)
			return core_error_set(err, "InvalidUsage", "--user", "--user needs the agent to start as root");
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
			return core_error_set(err, "PrivilegeDrop", "", "cannot set no_new_privs: %s", strerror(errno));
		return 0;
	}
	r = sandbox_user_lookup(o->user ? o->user : AGENT_USER_DEFAULT, &u, err);
	if (r == -ENOENT)
		return core_error_set(err, "PrivilegeDrop", o->user ? "--user" : "",
				      "no user '%s' to run as: create it (useradd --system --no-create-home --shell "
				      "/usr/sbin/nologin %s), name another with --user, or give --no-sandbox (tests only)",
				      o->user ? o->user : AGENT_USER_DEFAULT, o->user ? o->user : AGENT_USER_DEFAULT);
	if (r < 0)
		return r;
	if ((r = statedir_give(o->state_dir, &u, err)) < 0)
		return r;
	return sandbox_drop(&u, 1ULL << CAP_NET_ADMIN, err);
}

static int
signals_open(struct core_error *err)
{
	sigset_t mask;
	int fd;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0 || (fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK)) < 0) {
		fd = -errno;
		core_error_set(err, "Signals", "", "signalfd: %s", strerror(-fd));
	}
	return fd;
}

/* agent.conf and state.json, before the kernel is touched: what cannot be read is refused whole. */
static int
load(struct agent *a, const char *dir, bool *voided, struct core_error *err)
{
	int r;

	a->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (a->dirfd < 0) {
		r = -errno;
		core_error_set(err, "StateDirectory", "--state-dir", "cannot open the state directory %s: %s", dir,
			       strerror(-r));
		return r;
	}
	if ((r = agent_conf_load(a->dirfd, &a->conf, err)) < 0)
		return r;
	/* while there is room: a state that cannot be saved later is recorded here in place (agent-floor.h) */
	if ((r = agent_floor_prepare(a->dirfd)) < 0)
		agent_log("cannot prepare %s/%s (%s): should a state not be saved, the older one is set aside instead",
			  dir, AGENT_FLOOR_FILE, strerror(-r));
	r = agent_state_load(a->dirfd, &a->state, &a->received_ms, voided, err);
	if (r == -ENOENT) {
		agent_log("no saved state in %s yet: the kernel keeps what it holds until the server sends one", dir);
		return 0;
	}
	return r;
}

int
agent_run(const struct agent_run_opts *o)
{
	struct agent a = { .dirfd = -1, .sfd = -1, .applied_revision = -1, .cut_revision = -1 };
	struct core_error err = { 0 };
	struct agent_status st;
	bool voided = false;
	int r, status = AGENT_EXIT_FAIL;

	if (sandbox_enter(o, &err) < 0) {
		agent_log("%s", err.message);
		goto out;
	}
	if ((a.sfd = signals_open(&err)) < 0 || (!o->no_sandbox && sandbox_seccomp(SANDBOX_AGENT, &err) < 0)) {
		agent_log("%s", err.message);
		goto out;
	}
	if (load(&a, o->state_dir, &voided, &err) < 0) {
		agent_log("%s%s%s; refusing to start, the kernel is left as it is", err.target[0] ? err.target : "",
			  err.target[0] ? ": " : "", err.message);
		goto out;
	}
	if (fw_new(&a.fw, &err) < 0) {
		agent_log("this kernel cannot hold jitgate's table: %s", err.message);
		goto out;
	}
	/* the saved state first, before any network: a restarted agent enforces at once */
	if (agent_apply(&a, &err) < 0) {
		agent_log("the saved state is refused (%s): %s; the kernel is left as it is", err.code, err.message);
		goto out;
	}
	/* what the saved state asked to cut was cut before it was saved */
	if (a.state)
		a.cut_revision = a.state->revision;
	if (a.state)
		agent_log("enforcing revision %lld of %s: %zu protected ports, %zu grants%s", (long long)a.state->revision,
			  a.conf.vm, a.state->n_ports, a.state->n_grants,
			  voided ? " (a newer state could not be saved: the saved grants are void until a server answers)" : "");
	/* voided: the watch asks for the whole state at once, not for what follows this revision */
	if (voided)
		a.applied_revision = -1;
	/* the status the watch will post, gathered once under the sandbox: the log shows what the server will see */
	agent_status_fill(&a, &st);
	agent_log("host: %zu addresses, %zu listening management or protected ports%s", st.n_addrs, st.n_listening,
		  st.n_listening ? " (report them: jitgate-agent facts)" : "");
	if (fw_monitor_open(&a.mon, &err) < 0)
		agent_log("no tamper monitor (%s): relying on the periodic reconcile", err.message);
	r = agent_watch_run(&a);
	if (r < 0) {
		agent_log("the watch failed: %s", strerror(-r));
		goto out;
	}
	agent_log("stopping; the kernel keeps every grant and ends each on time");
	status = AGENT_EXIT_OK;
out:
	fw_monitor_close(a.mon);
	fw_free(a.fw);
	codec_agent_state_free(a.state);
	if (a.sfd >= 0)
		close(a.sfd);
	if (a.dirfd >= 0)
		close(a.dirfd);
	return status;
}

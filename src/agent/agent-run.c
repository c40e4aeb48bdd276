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
#include "agent/agent-host.h"
#include "agent/agent-state.h"
#include "daemon/sandbox.h"
#include "core/timeutil.h"

#define STATE_DIR_MODE	0700

/* The files `run` may find in its state directory, and hands to the agent's user with it. */
static const char *const statedir_files[] = { AGENT_CONF_FILE, AGENT_CREDENTIAL_FILE, AGENT_STATE_FILE };

/* Make the kernel hold s (received at received_ms) in one batch; the kernel and the fw are unchanged on failure. */
static int
apply(struct agent *a, const struct agent_state *s, int64_t received_ms, struct core_error *err)
{
	struct agent_fw f = { 0 };
	struct fw_changes ch;
	int r;

	if ((r = agent_state_to_fw(s, a->conf.vm, received_ms, time_now_ms(), &f, err)) < 0)
		return r;
	/* the arrays are the fw's from here on, whatever it returns */
	r = fw_reconcile_take(a->fw, f.vms, f.n_vms, f.ports, f.n_ports, f.grants, f.n_grants, &ch, err);
	if (r < 0)
		return r;
	if (ch.added || ch.removed || ch.updated || ch.rebuilt)
		agent_log("revision %lld applied: %zu added, %zu removed, %zu updated, %zu kept%s",
			  (long long)s->revision, ch.added, ch.removed, ch.updated, ch.kept,
			  ch.rebuilt ? " (table rebuilt)" : "");
	return 0;
}

int
agent_apply(struct agent *a, struct core_error *err)
{
	int r;

	if (!a->state)
		return 0;	/* nothing saved yet: the kernel keeps what it has (a previous run's table, if any) */
	if ((r = apply(a, a->state, a->received_ms, err)) < 0)
		return r;
	a->applied_revision = a->state->revision;
	return 0;
}

int
agent_state_accept(struct agent *a, struct agent_state *s, int64_t received_ms, struct core_error *err)
{
	struct core_error e = { 0 };
	int r;

	if (!err)
		err = &e;
	if ((r = apply(a, s, received_ms, err)) < 0) {
		/* the last good state stays in force, and the status says why the new one did not */
		snprintf(a->last_error, sizeof(a->last_error), "revision %lld refused (%.40s): %.160s",
			 (long long)s->revision, err->code, err->message);
		codec_agent_state_free(s);
		return r;
	}
	codec_agent_state_free(a->state);
	a->state = s;
	a->received_ms = received_ms;
	a->applied_revision = s->revision;
	a->last_error[0] = '\0';
	return 0;
}

/* SIGHUP: state.json again (replaced by hand, or by the watch of another process); a bad one changes nothing. */
static void
state_reload(struct agent *a)
{
	struct core_error err = { 0 };
	struct agent_state *s = NULL;
	int64_t received;

	if (agent_state_load(a->dirfd, &s, &received, &err) < 0)
		snprintf(a->last_error, sizeof(a->last_error), "%s: %.200s", AGENT_STATE_FILE, err.message);
	else if (agent_state_accept(a, s, received, &err) == 0) {
		agent_log("SIGHUP: enforcing revision %lld of %s", (long long)a->state->revision, AGENT_STATE_FILE);
		return;
	}
	agent_log("SIGHUP: %s refused: %s; still enforcing revision %lld", AGENT_STATE_FILE, err.message,
		  (long long)a->applied_revision);
}

void
agent_status_fill(const struct agent *a, struct agent_status *ret)
{
	struct agent_status st;

	memset(&st, 0, sizeof(st));
	st.revision = a->applied_revision;
	snprintf(st.version, sizeof(st.version), "%s", AGENT_VERSION);
	agent_host_facts(a->state ? a->state->ports : NULL, a->state ? a->state->n_ports : 0, a->fw != NULL, &st);
	st.tamper_undone = a->tamper_undone;
	snprintf(st.error, sizeof(st.error), "%s", a->last_error);
	*ret = st;
}

void
agent_reconcile(struct agent *a, const char *why)
{
	struct core_error err = { 0 };

	if (agent_apply(a, &err) < 0)
		agent_log("%s: reconcile failed: %s (the kernel keeps what it holds)", why, err.message);
}

void
agent_on_monitor(struct agent *a)
{
	struct fw_tamper t = { 0 };

	if (fw_monitor_read(a->mon, &t) < 0 || !t.tampered)
		return;
	a->tamper_undone++;
	if (t.overflow)
		agent_log("table notifications were lost: reconciling in case they were tampering");
	else
		agent_log("table inet jitgate changed by %s (pid %d): undoing it", t.name[0] ? t.name : "?", (int)t.pid);
	agent_reconcile(a, "tampering");
}

void
agent_on_signal(struct agent *a)
{
	struct signalfd_siginfo si;

	if (read(a->sfd, &si, sizeof(si)) != (ssize_t)sizeof(si))
		return;
	if (si.ssi_signo == SIGHUP)
		state_reload(a);
	else
		a->stop = true;
}

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
load(struct agent *a, const char *dir, struct core_error *err)
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
	r = agent_state_load(a->dirfd, &a->state, &a->received_ms, err);
	if (r == -ENOENT) {
		agent_log("no saved state in %s yet: the kernel keeps what it holds until the server sends one", dir);
		return 0;
	}
	return r;
}

int
agent_run(const struct agent_run_opts *o)
{
	struct agent a = { .dirfd = -1, .sfd = -1, .applied_revision = -1 };
	struct core_error err = { 0 };
	struct agent_status st;
	int r, status = AGENT_EXIT_FAIL;

	if (sandbox_enter(o, &err) < 0) {
		agent_log("%s", err.message);
		goto out;
	}
	if ((a.sfd = signals_open(&err)) < 0 || (!o->no_sandbox && sandbox_seccomp(SANDBOX_AGENT, &err) < 0)) {
		agent_log("%s", err.message);
		goto out;
	}
	if (load(&a, o->state_dir, &err) < 0) {
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
	if (a.state)
		agent_log("enforcing revision %lld of %s: %zu protected ports, %zu grants", (long long)a.state->revision,
			  a.conf.vm, a.state->n_ports, a.state->n_grants);
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

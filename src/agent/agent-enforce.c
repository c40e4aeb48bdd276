/* What `run` does to the kernel and on its events: apply a state, accept a new one, SIGHUP, tampering, the status's facts. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/agent-host.h"
#include "agent/agent-state.h"
#include "core/timeutil.h"

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

/*
 * After s is applied (its revoked grants out of the table, so no new session of theirs gets in): end
 * the open sessions of the terminations made since cut_revision. A failure is logged and not retried:
 * the grants are closed all the same, and a later state must not cut sessions opened since.
 */
static void
sessions_cut(struct agent *a, const struct agent_state *s)
{
	struct core_error err = { 0 };
	struct fw_grant *v = NULL;
	size_t n = 0, killed = 0;
	int64_t after = a->cut_revision;

	if (s->revision <= after)
		return;
	a->cut_revision = s->revision;
	if (agent_terminations_due(s, after, &v, &n) < 0) {
		agent_log("revision %lld: out of memory: open sessions of revoked grants not ended", (long long)s->revision);
		return;
	}
	if (n && fw_sessions_kill(a->fw, v, n, &killed, &err) < 0)
		agent_log("revision %lld: %zu revoked grant(s) asked to end their sessions, which failed: %s",
			  (long long)s->revision, n, err.message);
	else if (n)
		agent_log("revision %lld: ended %zu open session(s) of %zu grant(s) revoked with terminateSessions",
			  (long long)s->revision, killed, n);
	free(v);
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
	sessions_cut(a, s);
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
	bool voided;

	if (agent_state_load(a->dirfd, &s, &received, &voided, &err) < 0)
		snprintf(a->last_error, sizeof(a->last_error), "%s: %.200s", AGENT_STATE_FILE, err.message);
	else if (agent_state_accept(a, s, received, &err) == 0) {
		agent_log("SIGHUP: enforcing revision %lld of %s%s", (long long)a->state->revision, AGENT_STATE_FILE,
			  voided ? " without its grants (a newer state could not be saved)" : "");
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

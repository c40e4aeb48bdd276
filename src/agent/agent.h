/* jitgate-agent's subcommands and the run loop's parts, shared by agent.c (the command line) and agent-run.c. */
#ifndef JITGATE_AGENT_AGENT_H
#define JITGATE_AGENT_AGENT_H

#include <stdbool.h>
#include <stdint.h>

#include "agent/agent-conf.h"
#include "codec/codec-agent.h"
#include "core/error.h"
#include "fw/fw.h"

#define AGENT_STATE_DIR_DEFAULT	"/var/lib/jitgate-agent"
#define AGENT_USER_DEFAULT	"jitgate-agent"
#define AGENT_VERSION		"0.1.0"

/* Exit statuses: systemd's unit does not restart on AGENT_EXIT_USAGE. */
#define AGENT_EXIT_OK		0
#define AGENT_EXIT_FAIL		1	/* no state directory, a refused state, no nftables, ... */
#define AGENT_EXIT_USAGE	2
#define AGENT_EXIT_REFUSED	3	/* join: the server refused the join token (401) */
#define AGENT_EXIT_CONFLICT	4	/* join: the name is taken, or this host's agent already joined (409) */

struct agent_run_opts {
	const char *state_dir;
	const char *user;	/* NULL: AGENT_USER_DEFAULT if it exists */
	bool no_sandbox;
};

/* What `run` holds. The network half adds its client and watch state here. */
struct agent {
	int dirfd;			/* the state directory */
	struct agent_conf conf;
	struct fw *fw;
	struct fw_monitor *mon;
	int sfd;			/* signalfd: SIGTERM, SIGINT (stop), SIGHUP (read state.json again) */
	struct agent_state *state;	/* the last good state (NULL: none yet) */
	int64_t received_ms;		/* when it was received, on the wall clock */
	int64_t applied_revision;	/* -1 before the first */
	/*
	 * The newest revision whose terminations were carried out (-1: none): those of a state applied
	 * later are cut only if newer, so neither a restart from state.json nor an older state.json
	 * given with SIGHUP cuts a session opened since. Never goes back.
	 */
	int64_t cut_revision;
	int64_t tamper_undone;		/* changes by others to our table, undone since start */
	char last_error[AGENT_REASON_MAX + 1];	/* the last state refused, for the status */
	bool stop;
};

void agent_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* What a status posts now: the host's facts, the revision applied, tampering undone, the last state refused. */
void agent_status_fill(const struct agent *a, struct agent_status *ret);

/* `jitgate-agent join ...` (agent-join.c): argv[0] is "join"; returns an AGENT_EXIT_* status. */
int agent_join_main(int argc, char **argv);

/* `jitgate-agent rotate` (agent-rotate.c): a new credential for this host; returns an AGENT_EXIT_* status. */
int agent_rotate_main(const char *state_dir);

/* `jitgate-agent run`: returns an AGENT_EXIT_* status. */
int agent_run(const struct agent_run_opts *o);

/* Make the kernel hold a's state (the saved or the last received one), in one batch. */
int agent_apply(struct agent *a, struct core_error *err);

/*
 * A new state (s, owned from here on, received at received_ms): applied in
 * one batch and made a's state, or refused whole (another VM's, one the fw
 * would refuse, one the kernel refused) with the last good state still in
 * force and the reason kept for the status (last_error). For the watch: it
 * saves the body with agent_state_save() once this returns 0.
 */
int agent_state_accept(struct agent *a, struct agent_state *s, int64_t received_ms, struct core_error *err);

/* The run loop's parts for the watch (agent-run.c): a reconcile (logged on failure), the monitor's and the signalfd's events. */
void agent_reconcile(struct agent *a, const char *why);
void agent_on_monitor(struct agent *a);
void agent_on_signal(struct agent *a);

/*
 * The watch: the seam where the network half plugs in (a long-poll on the
 * server, applying each new state with agent_apply() and saving it with
 * agent_state_save(), posting the status). Today it only keeps enforcing:
 * it waits on the signals and the tamper monitor, at most AGENT_TICK_MS at a
 * time, reconciles on tampering and every AGENT_RECONCILE_MS, and returns
 * on SIGTERM or SIGINT (0) or on a failure it cannot go on from (-errno).
 */
int agent_watch_run(struct agent *a);

#endif

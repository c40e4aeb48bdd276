/* jitgated's processes: the main process, the firewall supervisor, and the helper the supervisor keeps running. */
#ifndef JITGATE_DAEMON_PRIVSEP_H
#define JITGATE_DAEMON_PRIVSEP_H

#include <sys/types.h>

#include "core/error.h"
#include "daemon/sandbox.h"

/*
 * Started as root, jitgated splits (privsep_start) before it reads any input:
 *
 *   process            user      capabilities   does
 *   jitgated (main)    --user    none           HTTPS, JSON, store, timers
 *   jitgated-fwsup     --user    CAP_NET_ADMIN  starts helpers, hands their sockets to main, reaps them
 *   jitgated-fw        --user    CAP_NET_ADMIN  fw_helper_run(): fixed, checked messages -> nftables
 *
 * All three have no_new_privs and their own seccomp allow-list (sandbox.c).
 * The supervisor reads nothing from anyone: it only sends main one socket per
 * helper (SCM_RIGHTS on a SOCK_SEQPACKET pair) and waits. When a helper ends
 * (killed, or it refused a malformed message), main's calls fail and the kernel
 * keeps its table and drop rules (fail closed); the supervisor starts a new
 * helper after a bounded backoff and main reconciles it from the store.
 * When main goes away the supervisor sees EOF, and both it and its helper exit.
 */

#define PRIVSEP_RESTART_MIN_MS	100	/* first restart of a helper */
#define PRIVSEP_RESTART_MAX_MS	5000	/* the backoff doubles up to this */
#define PRIVSEP_HELPER_STABLE_S	10	/* a helper that lived this long restarts at the minimum again */
#define PRIVSEP_FIRST_HELPER_MS	10000	/* main waits this long for the first helper */

struct privsep {
	pid_t supervisor;
	int ctrl;		/* main's end: a helper's socket arrives here */
};

/*
 * Fork the supervisor (as root); it drops to `user` with CAP_NET_ADMIN only and starts the first helper.
 * keep_fd (or -1) stays open in the supervisor and every helper: the instance lock (instance.h), so that
 * it is held while any of the three processes lives.
 */
int privsep_start(const struct sandbox_user *user, int keep_fd, struct privsep *ret, struct core_error *err);

/*
 * Take the next helper's socket from the supervisor, waiting up to timeout_ms
 * (0: only if one is there). 0 and *ret_fd, *ret_pid; -EAGAIN if none came;
 * -EPIPE if the supervisor is gone.
 */
int privsep_helper_recv(struct privsep *ps, int timeout_ms, int *ret_fd, pid_t *ret_pid);

/* Close main's end (the supervisor and its helper exit) and reap the supervisor. */
void privsep_stop(struct privsep *ps);

#endif

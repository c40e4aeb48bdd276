/* One jitgated per network namespace (and per state directory): the locks that make a second one refuse to start. */
#ifndef JITGATE_DAEMON_INSTANCE_H
#define JITGATE_DAEMON_INSTANCE_H

#include "core/error.h"

/*
 * The kernel table `inet jitgate` is one per network namespace, whatever the
 * state directory: two servers would rewrite it against each other. The lock
 * is a listening unix socket bound to a fixed name in the abstract namespace
 * (INSTANCE_SOCKET_NAME). Abstract names belong to the network namespace, have
 * no file that could be deleted, and are released by the kernel only when the
 * last descriptor of the socket closes: privsep_start() hands the descriptor
 * to the supervisor, and so to every helper, so the name stays taken while any
 * jitgated process lives. Anyone in the namespace can bind a name: a local
 * process that takes it first keeps jitgated from starting (fail closed: the
 * boot ruleset holds), and the message names its pid and uid.
 */
#define INSTANCE_SOCKET_NAME	"jitgated"	/* shown as @jitgated by ss -xl */
#define INSTANCE_WAIT_MS	3000	/* a stopping jitgated's helper may hold the name this long (privsep.c) */

/*
 * Take this network namespace's name, waiting up to wait_ms for a jitgated that
 * is stopping. The socket's descriptor (close-on-exec) on success; -EBUSY with
 * err saying who holds it.
 */
int instance_lock_netns(int wait_ms, struct core_error *err);

/*
 * flock() the state directory itself (not a file in it that could be deleted):
 * one jitgated per store, across namespaces too. The directory's descriptor on
 * success; -EBUSY when another process holds it.
 */
int instance_lock_state_dir(const char *dir, struct core_error *err);

#endif

/* Retention and the audit head in jitgated's loop (retention.c). */
#ifndef JITGATE_DAEMON_RETENTION_H
#define JITGATE_DAEMON_RETENTION_H

struct server;

/*
 * After each pass: the chain's head to the log every audit_head_interval (when it moved), and one prune
 * batch of each kind every prune_interval, or again soon while batches come back full. Nothing here ends
 * or holds up a grant: a failure is logged and tried again at the next interval.
 */
void retention_tick(struct server *s);

/*
 * Open prune_export for appending, once, before Landlock: the main process keeps this descriptor and no
 * right to write in the file's directory. A failure is logged and kept: nothing is pruned until a restart.
 */
void retention_export_open(struct server *s);

#endif

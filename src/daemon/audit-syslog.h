/* The activity log's copy to syslog (audit-syslog.c). */
#ifndef JITGATE_DAEMON_AUDIT_SYSLOG_H
#define JITGATE_DAEMON_AUDIT_SYSLOG_H

struct server;

/*
 * After each pass (the loop passes at least once a second), at most every 200 ms: the activity entries
 * committed since the last look (from this jitgated's start on), each as one RFC 5424 datagram to the
 * socket audit_syslog names. A socket that refuses them is logged once and tried again from the same
 * entry; nothing else waits for it.
 */
void audit_syslog_tick(struct server *s);

#endif

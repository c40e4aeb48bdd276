/* jitgated's log: one line per event on stderr (the journal, under systemd), said once by the code that handles it. */
#ifndef JITGATE_DAEMON_LOG_H
#define JITGATE_DAEMON_LOG_H

#include "core/error.h"

/* "jitgated: " and the message, on stderr. */
void logmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Log a core_error record: "what: CODE at TARGET: message". */
void fail_err(const char *what, const struct core_error *err);

#endif

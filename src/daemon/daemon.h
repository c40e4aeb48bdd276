/* What the files of jitgated share: exit codes, logging, the command line and the store's file. */
#ifndef JITGATE_DAEMON_H
#define JITGATE_DAEMON_H

#include <stdbool.h>
#include <stdio.h>

#include "core/error.h"
#include "daemon/config.h"
#include "store/store.h"

#define DAEMON_EXIT_OK		0
#define DAEMON_EXIT_FAILURE	1	/* the server stopped on an error, or a command failed */
#define DAEMON_EXIT_USAGE	2	/* a bad command line, flag or configuration */

#define DB_NAME "jitgate.db"

/* "jitgated: " and the message, on stderr. */
void logmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Log a core_error record: "what: CODE at TARGET: message". */
void fail_err(const char *what, const struct core_error *err);

/* The usage text, on f. */
void daemon_usage(FILE *f);

/* The flags of `jitgated token` only; the server and `jitgated boot` refuse them. */
struct cmdline {
	const char *name, *role, *scope;
	bool keep_grants;
};

/*
 * Flags into cfg (and cl, for `jitgated token`; NULL: token flags are refused); --config is
 * read first so that flags win over the file. Returns 0, or DAEMON_EXIT_USAGE having said why.
 */
int parse_args(int argc, char **argv, struct config *cfg, struct cmdline *cl);

/* Open (creating the state directory if need be) the store in cfg's state directory; logs why not. */
int open_store(const struct config *cfg, struct store **ret);

/* `jitgated token create|list|revoke` (token.c); returns the exit code. */
int cmd_token(int argc, char **argv, struct config *cfg);

#endif

/* What the files of jitgated share: exit codes, the command line (args.c) and the store's file. */
#ifndef JITGATE_DAEMON_H
#define JITGATE_DAEMON_H

#include <stdbool.h>
#include <stdio.h>

#include "core/error.h"
#include "daemon/config.h"

#define DAEMON_EXIT_OK		0
#define DAEMON_EXIT_FAILURE	1	/* the server stopped on an error, or a command failed */
#define DAEMON_EXIT_USAGE	2	/* a bad command line, flag or configuration */

#define DB_NAME "jitgate.db"

/* The usage text, on f. */
void daemon_usage(FILE *f);

/* The flags of `jitgated token` only; the server and `jitgated boot` refuse them. */
struct cmdline {
	const char *name, *role, *scope;
	bool keep_grants;
	bool join;			/* --join: a join token rather than an API token */
	const char *resource_group;	/* --resource-group as given (also the server's flag), NULL if not */
	const char *uses, *expires;	/* a join token's --uses and --expires, as typed */
	const char *head;		/* `jitgated audit verify --head SEQ:HASH`: a head exported before */
};

/*
 * Flags into cfg (and cl, for `jitgated token`; NULL: token flags are refused); --config is
 * read first so that flags win over the file. Returns 0, or DAEMON_EXIT_USAGE having said why.
 */
int parse_args(int argc, char **argv, struct config *cfg, struct cmdline *cl);

/* Root working on a state directory another user owns becomes that user first (token.c; audit.c too). */
int token_drop_to_owner(const struct config *cfg);
/* `jitgated audit verify` (audit.c); returns the exit code (jitgated(8)). */
int audit_run(int argc, char **argv, struct config *cfg);

/* `jitgated token create|list|revoke` (token.c); returns the exit code. */
int token_run(int argc, char **argv, struct config *cfg);
/* The same with --join, for join tokens (token-join.c); each returns the exit code. */
struct store;
int token_join_create(struct store *st, const struct cmdline *cl, const struct config *cfg);
int token_join_list(struct store *st);
int token_join_revoke(struct store *st, const struct config *cfg, const char *id);

#endif

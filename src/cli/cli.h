/* The jitgate command-line client's one context: exit codes, errors, options, and the client's calls as the commands make them. */
#ifndef JITGATE_CLI_CLI_H
#define JITGATE_CLI_CLI_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <getopt.h>
#include <jansson.h>

#include "client/client.h"
#include "core/armid.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/limits.h"

/* Exit codes, as `jitgate --help` and jitgate(1) document them. */
#define CLI_EXIT_OK		0
#define CLI_EXIT_REFUSED	1	/* the server said no (4xx other than 401/403), or the thing is not there */
#define CLI_EXIT_USAGE		2	/* bad command line, or an ambiguous VM name */
#define CLI_EXIT_UNREACHABLE	3	/* no connection, TLS failure, or the server failed (5xx) */
#define CLI_EXIT_AUTH		4	/* 401 or 403 */
#define CLI_EXIT_NOT_APPLIED	5	/* granted, but the agent VM's agent did not apply it in time (or is away) */

/* Limits of the command line, in one place (the connection's are in client/client.h). */
#define CLI_RMW_TRIES		5	/* read-modify-write attempts of a policy on 412 */
#define CLI_PORTS_MAX		POLICY_PORTS_MAX
#define CLI_SOURCES_MAX		POLICY_SOURCES_MAX
#define CLI_ADDRS_MAX		FW_VM_ADDRS_MAX

#define CLI_DEFAULT_RG		"default"
#define CLI_DEFAULT_LOCATION	"local"
#define CLI_DEFAULT_POLICY	"default"
#define CLI_DEFAULT_MAX_MS	(3LL * 3600 * 1000)	/* enable without --max: 3 hours, as the portal */

enum cli_output {
	CLI_OUT_TABLE,
	CLI_OUT_JSON,
	CLI_OUT_QUIET,
};

/*
 * The one context of a run. It owns the client (its token is wiped in cli_free) and every
 * string it holds; commands borrow it.
 */
struct cli {
	const char *cmd;			/* "jitgate request", for messages */
	int exit_code;				/* set with the first error a helper prints */
	enum cli_output output;

	/* the connection: flags fill it, client_connect() the gaps from environment and config */
	struct client client;
};

/* ---- errors and the run (cli.c) ---- */

/* Print "jitgate CMD: message" to stderr and remember `code` as the exit code (the first one wins). Returns -EINVAL. */
int cli_fail(struct cli *c, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The exit code for a command's result: 0 when r >= 0, else what was recorded (1 when nothing was). */
int cli_exit(struct cli *c, int r);
/* Print a failure of the client (its message, or the server's refusal) and clear it. Returns r. */
int cli_client_fail(struct cli *c, struct client_error *err, int r);
/* An empty context whose client warns on stderr. */
void cli_init(struct cli *c);
void cli_free(struct cli *c);

/*
 * The client's calls, with failures printed and the exit code set (cli.c). cli_call returns
 * -EREMOTE on a status other than 2xx with *ret filled and nothing printed (cli_report() prints).
 */
int cli_connect(struct cli *c);
/* The server's GET /whoami answer, asked once per run; borrowed (owned by c). */
int cli_whoami(struct cli *c, json_t **ret);
int cli_call(struct cli *c, const char *method, const char *path, const char *query, const json_t *body,
	     const char *if_match, const char *if_none_match, struct client_reply *ret);
/* Print the server's refusal ("CODE: message (at target)") and set the exit code by status. Returns -EREMOTE. */
int cli_report(struct cli *c, const struct client_reply *r);
/*
 * A body the codec refused to build from the user's text, printed as the server's refusal of
 * the same text would be (exit 1: the server answers such a body 400). Returns -EINVAL.
 */
int cli_body_refused(struct cli *c, const struct core_error *err);
/* Wipe a secret ("token") from a reply: the string inside its JSON and the raw body. */
void cli_reply_wipe(struct client_reply *rep);
/* cli_call + cli_report; the parsed body in *ret_json (caller decrefs). */
int cli_get(struct cli *c, const char *path, const char *query, json_t **ret_json);
int cli_send(struct cli *c, const char *method, const char *path, const json_t *body, json_t **ret_json);
/* A list: follows nextLink and returns every item of every page. */
int cli_list(struct cli *c, const char *path, const char *query, json_t **ret_array);

/* ---- the server's certificate (cert.c) ---- */

#define CLI_FP_TEXT_SIZE	(32 * 3)	/* "AB:CD:..." of a SHA-256 and its NUL */
#define CLI_PEM_MAX		(64 * 1024)	/* a certificate file read for its fingerprint */
/* "AB:CD:..." of the SHA-256 of the (first) certificate's DER, as jitgated prints it: 0, -EINVAL or -EIO. */
int cli_cert_fingerprint(const char *pem, char *buf, size_t size);
/* The same for a PEM file: also -errno when it cannot be read, -EFBIG past CLI_PEM_MAX. */
int cli_cert_fingerprint_file(const char *path, char *buf, size_t size);

/* ---- options (options.c) ---- */

/*
 * A command's options, merged with the global ones (--server, --token, --ca, --insecure,
 * --socket, --subscription, -o, -q, --help). `handle` gets each of the command's own
 * options (getopt's return value and optarg) and returns 0 or a negative errno after
 * cli_fail(). On success *ret_argi is the index of the first positional argument
 * (getopt permutes them to the end). A --help prints `help` and sets *ret_help.
 */
typedef int (*cli_opt_fn)(struct cli *c, int opt, const char *arg, void *state);
int cli_options(struct cli *c, int argc, char **argv, const char *shortopts, const struct option *own, cli_opt_fn handle,
		void *state, const char *help, int *ret_argi, bool *ret_help);

/* What the global options before the command asked for. */
enum cli_global_result {
	CLI_GLOBAL_RUN,			/* run the command at *ret_argi */
	CLI_GLOBAL_VERSION,		/* --version, -V */
	CLI_GLOBAL_HELP,		/* --help, -h */
	CLI_GLOBAL_NO_COMMAND,		/* nothing after the options */
};
/* The global options before the command; a negative errno after cli_fail() on a bad one. */
int cli_global_options(struct cli *c, int argc, char **argv, int *ret_argi);

#include "cli/output.h"

/*
 * A list the API answered, printed as the output format says: -o json as the API's {"value": [...]}, -q the
 * member quiet_key of each item, a table otherwise, whose row for each item `row` fills (n cells; a cell may
 * point into the row's two scratch buffers). Takes the list (json_decref'd here).
 */
#define CLI_ROW_SCRATCH 64
typedef void (*cli_row_fn)(json_t *item, const char **cells, char scratch[2][CLI_ROW_SCRATCH]);
void cli_list_print(struct cli *c, json_t *list, const char *const *headers, size_t n, const char *quiet_key,
		    cli_row_fn row);

#endif

/* The jitgate command-line client's shared context, its HTTP calls, output helpers and parsers. */
#ifndef JITGATE_CLI_CLI_H
#define JITGATE_CLI_CLI_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <getopt.h>
#include <jansson.h>

#include "core/armid.h"
#include "core/buf.h"
#include "core/limits.h"

/* Exit codes, as `jitgate --help` and jitgate(1) document them. */
#define CLI_EXIT_OK		0
#define CLI_EXIT_REFUSED	1	/* the server said no (4xx other than 401/403), or the thing is not there */
#define CLI_EXIT_USAGE		2	/* bad command line, or an ambiguous VM name */
#define CLI_EXIT_UNREACHABLE	3	/* no connection, TLS failure, or the server failed (5xx) */
#define CLI_EXIT_AUTH		4	/* 401 or 403 */

/* Limits of the client, in one place. */
#define CLI_URL_MAX		1024	/* a server URL */
#define CLI_PATH_MAX		4096	/* a file path */
#define CLI_TOKEN_MAX		512	/* a bearer token */
#define CLI_BODY_MAX		((size_t)64 << 20)	/* an answer we are willing to hold */
#define CLI_PAGES_MAX		1000	/* nextLink pages followed in one list */
#define CLI_RMW_TRIES		5	/* read-modify-write attempts of a policy on 412 */
#define CLI_CONFIG_LINE_MAX	4096	/* one line of the config file */
#define CLI_CONNECT_TIMEOUT_S	10
#define CLI_TIMEOUT_S		60
#define CLI_PORTS_MAX		POLICY_PORTS_MAX
#define CLI_SOURCES_MAX		POLICY_SOURCES_MAX
#define CLI_ADDRS_MAX		FW_VM_ADDRS_MAX

#define CLI_API_VERSION		"2020-01-01"
#define CLI_SUBSCRIPTION_DEFAULT "00000000-0000-0000-0000-000000000000"
#define CLI_UNIX_SOCKET_DEFAULT	"/run/jitgate/jitgated.sock"
#define CLI_DEFAULT_RG		"default"
#define CLI_DEFAULT_LOCATION	"local"
#define CLI_DEFAULT_POLICY	"default"
#define CLI_DEFAULT_MAX_MS	(3LL * 3600 * 1000)	/* enable without --max: 3 hours, as the portal */

enum cli_output {
	CLI_OUT_TABLE,
	CLI_OUT_JSON,
	CLI_OUT_QUIET,
};

struct cli_http;

/*
 * The one context of a run. It owns the token (wiped in cli_free), the HTTP handle and
 * every string it holds; commands borrow it.
 */
struct cli {
	const char *cmd;			/* "jitgate request", for messages */
	int exit_code;				/* set with the first error a helper prints */
	enum cli_output output;

	/* from flags; environment and config fill the gaps in cli_connect() */
	char server[CLI_URL_MAX];
	char ca[CLI_PATH_MAX];
	char socket_path[CLI_PATH_MAX];
	char subscription[ARM_SUBSCRIPTION_MAX + 1];	/* empty until cli_connect() */
	char *token;				/* owned, wiped */
	bool insecure;
	bool connected;
	bool via_socket;

	struct cli_http *http;			/* owned */
	json_t *whoami;				/* owned: the server's GET /whoami, once asked */
};

/* The answer to one call. Owns json and body. */
struct cli_reply {
	long status;
	json_t *json;				/* the parsed body, or NULL */
	char *body;				/* the raw body, NUL-terminated */
	size_t body_len;
	char etag[128];
	char content_type[128];
};

void cli_reply_clear(struct cli_reply *r);

/* Print "jitgate CMD: message" to stderr and remember `code` as the exit code (the first one wins). Returns -EINVAL. */
int cli_fail(struct cli *c, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The exit code for a command's result: 0 when r >= 0, else what was recorded (1 when nothing was). */
int cli_exit(struct cli *c, int r);

/* ---- options (main.c) ---- */

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

/* ---- config (config.c) ---- */

struct cli_config {
	char server[CLI_URL_MAX];
	char ca[CLI_PATH_MAX];
	char subscription[ARM_SUBSCRIPTION_MAX + 1];
	char token[CLI_TOKEN_MAX + 1];		/* wiped by cli_config_clear */
};

/* $XDG_CONFIG_HOME/jitgate or ~/.config/jitgate (no trailing slash). */
int cli_config_dir(char *buf, size_t size);
/* Read the config file; -ENOENT when there is none. Unknown keys are refused with the line number. */
int cli_config_read(struct cli *c, struct cli_config *ret);
/* Write it atomically (temp file, 0600, rename), creating the directory 0700. */
int cli_config_write(struct cli *c, const struct cli_config *cfg);
/* The config directory `dir` (cli_config_dir) and its parent, 0700 when new. */
int cli_config_make_dir(struct cli *c, const char *dir);
void cli_config_clear(struct cli_config *cfg);

/* ---- HTTP (http.c, the only file that includes curl.h) ---- */

int cli_http_global_init(void);
void cli_http_global_cleanup(void);
void cli_free(struct cli *c);

/*
 * Settle server, token, CA and socket from flags, environment, config and the local socket,
 * and the subscription from --subscription, JITGATE_SUBSCRIPTION or the config (that of the
 * same server only); when none of them names one, from the server itself (GET /whoami).
 */
int cli_connect(struct cli *c);
/* The server's GET /whoami answer, asked once per run; borrowed (owned by c). */
int cli_whoami(struct cli *c, json_t **ret);

/*
 * One call. `path` starts with '/'; `query` (may be NULL) is already escaped and is
 * joined after api-version. Returns 0 on 2xx; -EREMOTE on another status, with
 * *ret filled and nothing printed (cli_report() prints); a negative errno after
 * printing when the server cannot be reached (exit code 3).
 */
int cli_call(struct cli *c, const char *method, const char *path, const char *query, const json_t *body,
	     const char *if_match, const char *if_none_match, struct cli_reply *ret);
/* Print the server's refusal ("CODE: message (at target)") and set the exit code by status. Returns -EREMOTE. */
int cli_report(struct cli *c, const struct cli_reply *r);
/* cli_call + cli_report; the parsed body in *ret_json (caller decrefs). */
int cli_get(struct cli *c, const char *path, const char *query, json_t **ret_json);
int cli_send(struct cli *c, const char *method, const char *path, const json_t *body, json_t **ret_json);
/* A list: follows nextLink and returns every item of every page. */
int cli_list(struct cli *c, const char *path, const char *query, json_t **ret_array);
/* Append "&key=value" (value escaped) to q. */
int cli_query_add(struct buf *q, const char *key, const char *value);

/*
 * The server certificate's PEM, by a handshake that does not verify it (login's trust-on-first-use).
 * *ret_pem is malloc'd.
 */
int cli_http_fetch_cert(struct cli *c, const char *url, char **ret_pem);

/* ---- output (output.c) ---- */

/*
 * Everything the client writes to stdout or stderr goes through output.c (the other files
 * cannot call stdio's printing functions: see the end of this header), so no server text
 * reaches a terminal unsanitised. cli_printf/cli_fprintf: the format's own text is the
 * client's and prints as it is; the output of every conversion (%s: server text as often as
 * not) goes through cli_text_escape() (cli/text.h), so one field cannot hold a newline, an
 * escape sequence, a C1 control or broken UTF-8: they print as \u00XX and U+FFFD.
 * 0, or a negative errno (nothing printed).
 */
int cli_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int cli_fprintf(FILE *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int cli_vfprintf(FILE *f, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* A whole document from the server (CSV, JSON text): sanitised the same way, keeping its lines and tabs. */
int cli_write_document(FILE *f, const char *s, size_t n);
/* The client's own constant text (help) as it is: never server text. */
void cli_print_static(FILE *f, const char *text);

struct table;

struct table *table_new(size_t ncols, const char *const *headers);
/* Add a row of ncols cells (NULL prints as "-"); the strings are copied. */
int table_add(struct table *t, const char *const *cells);
void table_print(const struct table *t, FILE *f);
void table_free(struct table *t);

/* Print JSON as the API sent it, indented; DEL and C1 controls inside strings as \u00XX escapes (same values). */
void cli_print_json(const json_t *v);
/* An RFC 3339 UTC time as local time ("2025-03-01 14:05:00 CET"); the input itself when it does not parse. */
void cli_time_local(const char *rfc3339, char *buf, size_t size);
void cli_time_local_ns(int64_t ns, char *buf, size_t size);
/* Object member as a string, or `dflt`. */
const char *cli_json_str(const json_t *o, const char *key, const char *dflt);
/* The last '/'-segment of an id. */
const char *cli_id_name(const char *id);

/* ---- parsers (parse.c) ---- */

/* "90m", "1h30m", "3h", "2d", "45s" or ISO 8601 ("PT3H"); -EINVAL. */
int cli_duration_parse(const char *s, int64_t *ret_ms);
/* RFC 3339, or local "YYYY-MM-DD HH:MM[:SS]", "YYYY-MM-DDTHH:MM[:SS]", "HH:MM" (next such time). */
int cli_time_parse(const char *s, int64_t now_ns, int64_t *ret_ns);
/* --since: a duration back from now, or a time. */
int cli_when_parse(const char *s, int64_t now_ns, int64_t *ret_ns);
/* "22", "22/tcp", "53/udp", or a port, a slash and "*" (any); *ret_proto is "TCP", "UDP", "*", or NULL when not given. */
int cli_port_parse(const char *s, uint16_t *ret_port, const char **ret_proto);
int64_t cli_now_ns(void);

/* ---- resources (resource.c) ---- */

/* A VM as the inventory shows it. Owns json. */
struct cli_vm {
	char id[ARM_ID_MAX + 1];
	struct arm_vm_id arm;
	char location[ARM_LOCATION_MAX + 1];
	char policy_id[ARM_ID_MAX + 1];		/* empty when not configured */
	json_t *json;
};

void cli_vm_clear(struct cli_vm *vm);
/* A VM by name (case-insensitive; ambiguous → exit 2) or full id; not found → exit 1. */
int cli_vm_resolve(struct cli *c, const char *name_or_id, struct cli_vm *ret);
/* The VM's first address, or NULL. */
const char *cli_vm_address(const struct cli_vm *vm);

/* The path of a policy: /subscriptions/S/resourceGroups/RG/providers/Microsoft.Security/locations/L/jitNetworkAccessPolicies/N */
int cli_policy_path(struct cli *c, const char *rg, const char *loc, const char *name, char *buf, size_t size);
/* The VM's entry in a policy body (properties.virtualMachines[i] with a matching id), or NULL; *ret_index if found. */
json_t *cli_policy_vm(json_t *policy, const char *vm_id, size_t *ret_index);
/* The same in a virtualMachines array. */
json_t *cli_vms_find(json_t *vms, const char *vm_id, size_t *ret_index);
/* The rules of the VM in the policy that holds it (GET); not configured → exit 1. *ret_ports is a new reference. */
int cli_vm_rules(struct cli *c, const struct cli_vm *vm, json_t **ret_ports);

/*
 * Read-modify-write of the VM's policy: GET with its ETag (or, when there is none and
 * `create`, a new policy "default" in the VM's resource group and location), `edit`
 * changes properties.virtualMachines, PUT with If-Match (If-None-Match: * when new);
 * a 412 starts over, at most CLI_RMW_TRIES times. The stored policy in *ret_policy.
 * edit returns 0, or a negative errno after cli_fail().
 */
typedef int (*cli_policy_edit_fn)(struct cli *c, const struct cli_vm *vm, json_t *vms, void *arg);
int cli_policy_update(struct cli *c, const struct cli_vm *vm, bool create, cli_policy_edit_fn edit, void *arg,
		      json_t **ret_policy);

/* A port rule as the API takes it. sources: NULL or empty → "*". */
json_t *cli_rule_new(unsigned port, const char *proto, int64_t max_ms, const char *const *sources, size_t n_sources);

/* Port-rule options shared by enable and edit (cmd-enable.c): --port, --max, --source, --recommended, --remove-port. */
struct cli_rule_opts {
	struct {
		uint16_t number;
		const char *proto;	/* NULL: not given */
	} ports[CLI_PORTS_MAX];
	size_t n_ports;
	int64_t max_ms;			/* 0: not given */
	const char *sources[CLI_SOURCES_MAX];
	size_t n_sources;
	bool recommended;
	uint16_t remove[CLI_PORTS_MAX];
	size_t n_remove;
};

extern const struct option cli_rule_options[];
int cli_rule_option(struct cli *c, int opt, const char *arg, void *state);
/* Print a VM's rules from a policy body as a table (or JSON, or the policy id with -q). */
void cli_rules_print(struct cli *c, const struct cli_vm *vm, json_t *policy);

/* ---- commands (cmd-*.c) ---- */

int cmd_vm(struct cli *c, int argc, char **argv);
int cmd_enable(struct cli *c, int argc, char **argv);
int cmd_disable(struct cli *c, int argc, char **argv);
int cmd_edit(struct cli *c, int argc, char **argv);
int cmd_policy(struct cli *c, int argc, char **argv);
int cmd_request(struct cli *c, int argc, char **argv);
int cmd_ssh(struct cli *c, int argc, char **argv);
int cmd_revoke(struct cli *c, int argc, char **argv);
int cmd_requests(struct cli *c, int argc, char **argv);
int cmd_log(struct cli *c, int argc, char **argv);
int cmd_token(struct cli *c, int argc, char **argv);
int cmd_whoami(struct cli *c, int argc, char **argv);
int cmd_login(struct cli *c, int argc, char **argv);

/* Shared by request and ssh: initiate the ports (NULL: all of the VM's rules) and report. */
struct cli_initiate {
	const uint16_t *ports;
	size_t n_ports;
	int64_t for_ms;			/* 0: the rule's maximum */
	int64_t until_ns;		/* 0: not given */
	const char *from;		/* NULL: my address */
	const char *reason;
	bool print;			/* print what opened */
};
int cli_initiate(struct cli *c, const struct cli_vm *vm, const struct cli_initiate *in);

/* Help texts, for `jitgate help COMMAND` and each command's --help. */
extern const char cli_help_vm[], cli_help_enable[], cli_help_disable[], cli_help_edit[], cli_help_policy[],
	cli_help_request[], cli_help_ssh[], cli_help_revoke[], cli_help_requests[], cli_help_log[], cli_help_token[],
	cli_help_whoami[], cli_help_login[];

/*
 * Only output.c (and config.c, which writes a file) may print with stdio; everywhere else
 * a call is a compile error, so that no path bypasses the sanitiser.
 */
#ifndef CLI_OUTPUT_SELF
#pragma GCC poison printf vprintf fprintf vfprintf dprintf puts fputs putchar fputc putc fwrite json_dumpf json_dumpfd perror
#endif

#endif

/* The HTTPS client of jitgated that the CLI (and next, the agent) links: connection settings, the config file, calls. */
#ifndef JITGATE_CLIENT_CLIENT_H
#define JITGATE_CLIENT_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "core/armid.h"
#include "core/buf.h"

/* Limits of the client, in one place. */
#define CLIENT_URL_MAX		1024	/* a server URL */
#define CLIENT_PATH_MAX		4096	/* a file path */
#define CLIENT_TOKEN_MAX	512	/* a bearer token */
#define CLIENT_BODY_MAX		((size_t)64 << 20)	/* an answer we are willing to hold */
#define CLIENT_PAGES_MAX	1000	/* nextLink pages followed in one list */
#define CLIENT_CONFIG_LINE_MAX	4096	/* one line of the config file */
#define CLIENT_CONNECT_TIMEOUT_S 10
#define CLIENT_TIMEOUT_S	60
#define CLIENT_ERROR_MAX	(3 * 4096)	/* one error message: room for a path, a config line and their words */

#define CLIENT_API_VERSION	"2020-01-01"
#define CLIENT_SUBSCRIPTION_DEFAULT "00000000-0000-0000-0000-000000000000"
#define CLIENT_UNIX_SOCKET_DEFAULT "/run/jitgate/jitgated.sock"

/* The answer to one call. Owns json and body. */
struct client_reply {
	long status;
	json_t *json;				/* the parsed body, or NULL */
	char *body;				/* the raw body, NUL-terminated */
	size_t body_len;
	char etag[128];
	char content_type[128];
};

void client_reply_clear(struct client_reply *r);

/* What the user has to change when a call fails: the CLI turns it into its exit code. */
enum client_error_kind {
	CLIENT_ERR_USAGE = 1,		/* a bad setting: flag, environment, config file */
	CLIENT_ERR_UNREACHABLE,		/* no connection, TLS failure, a server answer we cannot use */
	CLIENT_ERR_AUTH,		/* no token to send */
};

/*
 * A failure, as a value: the client prints nothing. Either `message` says what went wrong
 * (kind says whose it is), or the server refused (refused: the answer in `refusal`, owned).
 * Clear with client_error_clear().
 */
struct client_error {
	enum client_error_kind kind;
	char message[CLIENT_ERROR_MAX];		/* empty when nothing went wrong on our side */
	bool refused;
	struct client_reply refusal;
};

/* Record a failure; returns -EINVAL (client-error.c, with client_error_clear and client_reply_clear). */
int client_fail(struct client_error *err, enum client_error_kind kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void client_error_clear(struct client_error *err);

/* A warning the user should see although the call goes on (a config readable by others, --insecure). */
typedef void (*client_warn_fn)(void *arg, const char *message);

struct client_http;

/*
 * The connection settings and the handle. The caller fills what flags gave before
 * client_connect(); the environment, the config file and the local socket fill the gaps.
 * It owns the token (wiped in client_free), the HTTP handle and the whoami answer.
 */
struct client {
	char server[CLIENT_URL_MAX];
	char ca[CLIENT_PATH_MAX];
	char socket_path[CLIENT_PATH_MAX];
	char subscription[ARM_SUBSCRIPTION_MAX + 1];	/* empty until client_connect() */
	char *token;				/* owned, wiped */
	bool insecure;
	bool connected;
	bool via_socket;

	client_warn_fn warn;			/* may be NULL */
	void *warn_arg;

	struct client_http *http;		/* owned */
	json_t *whoami;				/* owned: the server's GET /whoami, once asked */
};

/* curl's global state, and the client's memory (client-http.c). */
int client_global_init(void);
void client_global_cleanup(void);
/* Wipe the token and free what the client owns; the struct may be connected again. */
void client_free(struct client *cl);

/* ---- settings and the config file (client-config.c) ---- */

struct client_config {
	char server[CLIENT_URL_MAX];
	char ca[CLIENT_PATH_MAX];
	char subscription[ARM_SUBSCRIPTION_MAX + 1];
	char token[CLIENT_TOKEN_MAX + 1];	/* wiped by client_config_clear */
};

/* $XDG_CONFIG_HOME/jitgate or ~/.config/jitgate (no trailing slash). */
int client_config_dir(char *buf, size_t size);
/* Read the config file; -ENOENT when there is none. Unknown keys are refused with the line number. */
int client_config_read(struct client *cl, struct client_config *ret, struct client_error *err);
/* Write it atomically (temp file, 0600, rename), creating the directory 0700. */
int client_config_write(const struct client_config *cfg, struct client_error *err);
/* The config directory `dir` (client_config_dir) and its parent, 0700 when new. */
int client_config_make_dir(const char *dir, struct client_error *err);
void client_config_clear(struct client_config *cfg);

/* ---- connecting and calling (client-call.c) ---- */

/*
 * Settle server, token, CA and socket from flags, environment, config and the local socket,
 * and the subscription from --subscription, JITGATE_SUBSCRIPTION or the config (that of the
 * same server only); when none of them names one, from the server itself (GET /whoami).
 */
int client_connect(struct client *cl, struct client_error *err);

/*
 * One call. `path` starts with '/'; `query` (may be NULL) is already escaped and is
 * joined after api-version. Returns 0 on 2xx; -EREMOTE on another status, with
 * *ret filled (err untouched); another negative errno with err filled when the server
 * cannot be reached.
 */
int client_call(struct client *cl, const char *method, const char *path, const char *query, const json_t *body,
		const char *if_match, const char *if_none_match, struct client_reply *ret, struct client_error *err);
/* client_call for a 2xx or an error: a refusal lands in err (refused). The parsed body in *ret_json (caller decrefs). */
int client_get(struct client *cl, const char *path, const char *query, json_t **ret_json, struct client_error *err);
int client_send(struct client *cl, const char *method, const char *path, const json_t *body, json_t **ret_json,
		struct client_error *err);
/* A list: follows nextLink and returns every item of every page. */
int client_list(struct client *cl, const char *path, const char *query, json_t **ret_array, struct client_error *err);
/* The server's GET /whoami answer, asked once per run; borrowed (owned by cl). */
int client_whoami(struct client *cl, json_t **ret, struct client_error *err);

/* ---- the transport (client-http.c, the only file that includes curl.h) ---- */

/* Append "&key=value" (value escaped) to q. */
int client_query_add(struct buf *q, const char *key, const char *value);

/*
 * The server certificate's PEM, by a handshake that does not verify it (login's trust-on-first-use).
 * *ret_pem is malloc'd.
 */
int client_fetch_cert(const char *url, char **ret_pem, struct client_error *err);

#endif

/* The run's context: errors and exit codes, and the client's calls with their failures printed. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

int
cli_fail(struct cli *c, int code, const char *fmt, ...)
{
	va_list ap;

	/* one sanitised line: a server's message cannot add lines or escape sequences of its own */
	cli_fprintf(stderr, "%s: ", c->cmd);
	va_start(ap, fmt);
	cli_vfprintf(stderr, fmt, ap);
	va_end(ap);
	cli_print_static(stderr, "\n");
	if (!c->exit_code)
		c->exit_code = code;
	return -EINVAL;
}

int
cli_exit(struct cli *c, int r)
{
	if (r >= 0 && !c->exit_code)
		return CLI_EXIT_OK;
	return c->exit_code ? c->exit_code : CLI_EXIT_REFUSED;
}

/* A client failure's exit code. */
static int
client_exit_code(enum client_error_kind kind)
{
	switch (kind) {
	case CLIENT_ERR_USAGE:
		return CLI_EXIT_USAGE;
	case CLIENT_ERR_AUTH:
		return CLI_EXIT_AUTH;
	case CLIENT_ERR_UNREACHABLE:
		break;
	}
	return CLI_EXIT_UNREACHABLE;
}

int
cli_client_fail(struct cli *c, struct client_error *err, int r)
{
	if (err->refused)
		cli_report(c, &err->refusal);
	else if (err->message[0])
		cli_fail(c, client_exit_code(err->kind), "%s", err->message);
	client_error_clear(err);
	return r;
}

/* The client's warnings, as the client printed them before it was a library. */
static void
client_warn(void *arg, const char *message)
{
	(void)arg;
	cli_fprintf(stderr, "jitgate: %s\n", message);
}

void
cli_init(struct cli *c)
{
	memset(c, 0, sizeof(*c));
	c->cmd = "jitgate";
	c->client.warn = client_warn;
}

void
cli_free(struct cli *c)
{
	client_free(&c->client);
}

int
cli_connect(struct cli *c)
{
	struct client_error err = { 0 };
	int r;

	r = client_connect(&c->client, &err);
	return r < 0 ? cli_client_fail(c, &err, r) : r;
}

int
cli_whoami(struct cli *c, json_t **ret)
{
	struct client_error err = { 0 };
	int r;

	r = client_whoami(&c->client, ret, &err);
	return r < 0 ? cli_client_fail(c, &err, r) : r;
}

int
cli_call(struct cli *c, const char *method, const char *path, const char *query, const json_t *body,
	 const char *if_match, const char *if_none_match, struct client_reply *ret)
{
	struct client_error err = { 0 };
	int r;

	r = client_call(&c->client, method, path, query, body, if_match, if_none_match, ret, &err);
	return r < 0 ? cli_client_fail(c, &err, r) : r;
}

/* A refusal as "CODE: message (at target)": the same line whether the server or the codec said it. */
static void
refusal_print(struct cli *c, int exit_code, const char *code, const char *msg, const char *target)
{
	cli_fail(c, exit_code, "%s: %s%s%s%s", code, msg, target[0] ? " (at " : "", target, target[0] ? ")" : "");
}

int
cli_body_refused(struct cli *c, const struct core_error *err)
{
	refusal_print(c, CLI_EXIT_REFUSED, err->code, err->message, err->target);
	return -EINVAL;
}

int
cli_report(struct cli *c, const struct client_reply *r)
{
	const json_t *e = r->json ? json_object_get(r->json, "error") : NULL;
	const char *code = cli_json_str(e, "code", NULL), *msg = cli_json_str(e, "message", NULL),
		   *target = cli_json_str(e, "target", "");
	int exit_code = r->status == 401 || r->status == 403 ? CLI_EXIT_AUTH
			: r->status >= 500			 ? CLI_EXIT_UNREACHABLE
								 : CLI_EXIT_REFUSED;

	if (code && msg)
		refusal_print(c, exit_code, code, msg, target);
	else
		cli_fail(c, exit_code, "the server answered HTTP %ld%s%.200s", r->status, r->body && r->body[0] ? ": " : "",
			 r->body ? r->body : "");
	if (r->status == 401)
		cli_fprintf(stderr, "%s: check the token (--token, JITGATE_TOKEN, or jitgate login)\n", c->cmd);
	return -EREMOTE;
}

int
cli_get(struct cli *c, const char *path, const char *query, json_t **ret_json)
{
	struct client_error err = { 0 };
	int r;

	r = client_get(&c->client, path, query, ret_json, &err);
	return r < 0 ? cli_client_fail(c, &err, r) : r;
}

int
cli_send(struct cli *c, const char *method, const char *path, const json_t *body, json_t **ret_json)
{
	struct client_error err = { 0 };
	int r;

	r = client_send(&c->client, method, path, body, ret_json, &err);
	return r < 0 ? cli_client_fail(c, &err, r) : r;
}

int
cli_list(struct cli *c, const char *path, const char *query, json_t **ret_array)
{
	struct client_error err = { 0 };
	int r;

	r = client_list(&c->client, path, query, ret_array, &err);
	return r < 0 ? cli_client_fail(c, &err, r) : r;
}

void
cli_reply_wipe(struct client_reply *rep)
{
	json_t *t = json_object_get(rep->json, "token");

	if (json_is_string(t))
		explicit_bzero((char *)json_string_value(t), json_string_length(t));
	if (rep->body)
		explicit_bzero(rep->body, rep->body_len);
}

void
cli_list_print(struct cli *c, json_t *list, const char *const *headers, size_t n, const char *quiet_key,
	       cli_row_fn row)
{
	struct table *tab = NULL;
	const char *cells[8];
	char scratch[2][CLI_ROW_SCRATCH];
	json_t *t;
	size_t i;

	if (c->output == CLI_OUT_JSON) {
		cli_print_list_json(list);
	} else if (c->output == CLI_OUT_QUIET) {
		json_array_foreach(list, i, t)
			cli_printf("%s\n", cli_json_str(t, quiet_key, ""));
	} else if (n <= sizeof(cells) / sizeof(cells[0])) {
		tab = table_new(n, headers);
		json_array_foreach(list, i, t) {
			row(t, cells, scratch);
			table_add(tab, cells);
		}
		table_print(tab, stdout);
	}
	table_free(tab);
	json_decref(list);
}

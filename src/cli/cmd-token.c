/* jitgate token: create, list and revoke API tokens (Owners); a new token's secret is printed once. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "codec/codec.h"

const char cli_help_token[] =
	"usage: jitgate token create NAME --role ROLE [--scope ID]\n"
	"       jitgate token list\n"
	"       jitgate token revoke NAME [--keep-grants]\n"
	"\n"
	"create prints the new token's secret, this once (-q: the secret alone); keep it like a password.\n"
	"Roles: Reader, SecurityReader, JitRequester, SecurityAdmin, Owner, or one from the server's config.\n"
	"--scope is a subscription, resource group or VM id (default: the whole subscription).\n"
	"Names are never reused. list shows name, role, scope, creation time and state, never secrets.\n"
	"revoke also closes the ports the token's holder opened (Revoked, TokenRevoked); --keep-grants\n"
	"leaves them open until they end.\n"
	"\n"
	"Example:\n"
	"  jitgate token create alice --role JitRequester \\\n"
	"    --scope /subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/web\n";

#define OPT_ROLE	9000
#define OPT_SCOPE	9001
#define OPT_KEEP_GRANTS	9002

struct token_opts {
	const char *role, *scope;
	bool keep_grants;
};

static const struct option token_options[] = {
	{ "role", required_argument, NULL, OPT_ROLE },
	{ "scope", required_argument, NULL, OPT_SCOPE },
	{ "keep-grants", no_argument, NULL, OPT_KEEP_GRANTS },
	{ NULL, 0, NULL, 0 },
};

static int
token_option(struct cli *c, int opt, const char *arg, void *state)
{
	struct token_opts *o = state;

	if (opt == OPT_ROLE) {
		o->role = arg;
	} else if (opt == OPT_SCOPE) {
		if (arg[0] != '/' || strncasecmp(arg, "/subscriptions/", 15))
			return cli_fail(c, CLI_EXIT_USAGE, "--scope: '%s' is not a resource id (/subscriptions/...)", arg);
		o->scope = arg;
	} else if (opt == OPT_KEEP_GRANTS) {
		o->keep_grants = true;
	} else {
		return -EINVAL;
	}
	return 0;
}

static int
token_path(struct cli *c, const char *name, char *buf, size_t size)
{
	size_t n = name ? strlen(name) : 0;
	int k;

	if (name && (n == 0 || n > 64 ||
		     strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-@") != n))
		return cli_fail(c, CLI_EXIT_USAGE, "'%s' is not a token name (letters, digits and ._-@)", name);
	k = snprintf(buf, size, "/subscriptions/%s/providers/Jitgate/tokens%s%s", c->client.subscription, name ? "/" : "",
		     name ? name : "");
	return k < 0 || (size_t)k >= size ? cli_fail(c, CLI_EXIT_USAGE, "the token name is too long") : 0;
}

static int
token_create(struct cli *c, const char *name, const struct token_opts *o)
{
	char path[ARM_ID_MAX + 64];
	struct client_reply rep = { 0 };
	json_t *body = NULL;
	int r;

	if (!o->role)
		return cli_fail(c, CLI_EXIT_USAGE, "--role is required (Reader, SecurityReader, JitRequester, SecurityAdmin, Owner)");
	if ((r = cli_connect(c)) < 0 || (r = token_path(c, name, path, sizeof(path))) < 0)
		return r;
	body = codec_token_body_encode(&(struct codec_token_body){ .role = o->role, .scope = o->scope });
	if (!body)
		return cli_fail(c, CLI_EXIT_USAGE, "cannot encode the request body");
	r = cli_call(c, "PUT", path, NULL, body, NULL, NULL, &rep);
	if (r == -EREMOTE)
		cli_report(c, &rep);
	if (r < 0)
		goto out;
	if (c->output == CLI_OUT_JSON) {
		cli_print_json(rep.json);
	} else if (c->output == CLI_OUT_QUIET) {
		cli_printf("%s\n", cli_json_str(rep.json, "token", ""));
	} else {
		cli_printf("Created token '%s' (role %s, scope %s). Its secret, shown this once:\n\n  %s\n\n",
		       cli_json_str(rep.json, "name", name), cli_json_str(rep.json, "role", o->role),
		       cli_json_str(rep.json, "scope", "/"), cli_json_str(rep.json, "token", "?"));
		cli_printf("Use it with: jitgate login --server %s --token <secret>\n", c->client.via_socket ? "https://HOST:PORT" : c->client.server);
	}
	fflush(stdout);
	cli_reply_wipe(&rep);
out:
	client_reply_clear(&rep);
	json_decref(body);
	return r;
}

static void
token_row(json_t *t, const char **cells, char scratch[2][CLI_ROW_SCRATCH])
{
	cli_time_local(cli_json_str(t, "createdUtc", NULL), scratch[0], CLI_ROW_SCRATCH);
	cells[0] = cli_json_str(t, "name", "");
	cells[1] = cli_json_str(t, "role", "");
	cells[2] = cli_json_str(t, "scope", "");
	cells[3] = scratch[0];
	cells[4] = cli_json_str(t, "state", "");
}

static int
token_list(struct cli *c)
{
	static const char *const headers[] = { "NAME", "ROLE", "SCOPE", "CREATED", "STATE" };
	char path[ARM_ID_MAX + 64];
	json_t *list = NULL;
	int r;

	if ((r = cli_connect(c)) < 0 || (r = token_path(c, NULL, path, sizeof(path))) < 0)
		return r;
	if ((r = cli_list(c, path, NULL, &list)) < 0)
		return r;
	cli_list_print(c, list, headers, 5, "name", token_row);
	return 0;
}

static int
token_revoke(struct cli *c, const char *name, const struct token_opts *o)
{
	char path[ARM_ID_MAX + 64];
	struct client_reply rep = { 0 };
	json_int_t closed;
	int r;

	if ((r = cli_connect(c)) < 0 || (r = token_path(c, name, path, sizeof(path))) < 0)
		return r;
	r = cli_call(c, "DELETE", path, o->keep_grants ? "keepGrants=true" : NULL, NULL, NULL, NULL, &rep);
	if (r == -EREMOTE && rep.status == 404)
		r = cli_fail(c, CLI_EXIT_REFUSED, "no valid token named '%s'", name);
	else if (r == -EREMOTE)
		cli_report(c, &rep);
	closed = json_integer_value(json_object_get(rep.json, "revokedPorts"));
	if (r == 0 && c->output == CLI_OUT_TABLE)
		cli_printf("Revoked token '%s'%s\n", name, o->keep_grants ? "; its open ports stay open until they end"
			: closed ? "; the ports it had opened are closed" : "");
	client_reply_clear(&rep);
	return r;
}

int
cmd_token(struct cli *c, int argc, char **argv)
{
	struct token_opts o = { 0 };
	const char *sub;
	bool help;
	int argi, r, npos;

	r = cli_options(c, argc, argv, "", token_options, token_option, &o, cli_help_token, &argi, &help);
	if (r < 0 || help)
		return cli_exit(c, r);
	npos = argc - argi;
	sub = npos > 0 ? argv[argi] : "list";
	if (!strcmp(sub, "list") || !strcmp(sub, "ls")) {
		if (npos > 1)
			return cli_exit(c, cli_fail(c, CLI_EXIT_USAGE, "token list takes no arguments"));
		return cli_exit(c, token_list(c));
	}
	if (!strcmp(sub, "create") || !strcmp(sub, "revoke")) {
		if (npos != 2)
			return cli_exit(c, cli_fail(c, CLI_EXIT_USAGE, "token %s takes one NAME (see --help)", sub));
		if (o.keep_grants && strcmp(sub, "revoke"))
			return cli_exit(c, cli_fail(c, CLI_EXIT_USAGE, "--keep-grants goes with token revoke"));
		return cli_exit(c, !strcmp(sub, "create") ? token_create(c, argv[argi + 1], &o)
							  : token_revoke(c, argv[argi + 1], &o));
	}
	return cli_exit(c, cli_fail(c, CLI_EXIT_USAGE, "no subcommand 'token %s' (create, list, revoke)", sub));
}

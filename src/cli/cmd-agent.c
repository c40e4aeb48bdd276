/*
 * jitgate agent: the join tokens hosts join the fleet with (token create|list|revoke; a secret is printed once),
 * and the agents that joined (list; revoke VM), for Owners.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "cli/output.h"
#include "cli/parse.h"
#include "cli/resource.h"
#include "codec/codec-join.h"

const char cli_help_agent[] =
	"usage: jitgate agent token create --resource-group RG [--uses N] [--expires DURATION]\n"
	"       jitgate agent token list\n"
	"       jitgate agent token revoke ID\n"
	"       jitgate agent list\n"
	"       jitgate agent revoke VM\n"
	"\n"
	"A join token lets jitgate-agent register hosts as VMs of one resource group, N times (default 1,\n"
	"at most 1000), until it expires (default 24h, at most 30d; 1h30m or PT1H30M). create prints the\n"
	"secret this once (-q: the secret alone) and the command to run on the host; the token is needed\n"
	"for joining only. list shows id, group, uses left, expiry and state, never a secret. revoke ID\n"
	"stops further joins; hosts that joined already keep their own credentials.\n"
	"agent list shows the hosts that joined: VM, group, Connected/Disconnected/Revoked, version, last\n"
	"contact. agent revoke VM revokes that VM's agent credential at once (its watch and status are\n"
	"refused from then on; the host keeps what it enforces); the host joins again with a new join token.\n"
	"Owners of the subscription manage every group's join tokens and agents, Owners of a resource group\n"
	"their own.\n"
	"\n"
	"Example:\n"
	"  jitgate agent token create --resource-group web --uses 3 --expires 2h\n";

#define OPT_RESOURCE_GROUP	12000
#define OPT_USES		12001
#define OPT_EXPIRES		12002

struct agent_opts {
	const char *resource_group;
	int64_t uses;		/* 0: not given */
	int64_t expires_ms;	/* 0: not given */
};

static const struct option agent_options[] = {
	{ "resource-group", required_argument, NULL, OPT_RESOURCE_GROUP },
	{ "uses", required_argument, NULL, OPT_USES },
	{ "expires", required_argument, NULL, OPT_EXPIRES },
	{ NULL, 0, NULL, 0 },
};

static int
agent_option(struct cli *c, int opt, const char *arg, void *state)
{
	struct agent_opts *o = state;
	char *end;
	long v;

	if (opt == OPT_RESOURCE_GROUP) {
		if (arm_resource_group_validate(arg, strlen(arg), NULL) < 0)
			return cli_fail(c, CLI_EXIT_USAGE, "--resource-group: '%s' is not a resource group name", arg);
		o->resource_group = arg;
	} else if (opt == OPT_USES) {
		errno = 0;
		v = strtol(arg, &end, 10);
		if (errno || end == arg || *end || v < 1 || v > JOIN_USES_MAX)
			return cli_fail(c, CLI_EXIT_USAGE, "--uses: '%s' is not a number from 1 to %d", arg, JOIN_USES_MAX);
		o->uses = v;
	} else if (opt == OPT_EXPIRES) {
		if (cli_duration_parse(arg, &o->expires_ms) < 0 || o->expires_ms < JOIN_EXPIRES_MIN_MS ||
		    o->expires_ms > JOIN_EXPIRES_MAX_MS)
			return cli_fail(c, CLI_EXIT_USAGE, "--expires: '%s' is not a duration from %lldm to %lldd (24h, 2d, PT6H)",
					arg, JOIN_EXPIRES_MIN_MS / 60000, JOIN_EXPIRES_MAX_MS / (24LL * 3600 * 1000));
	} else {
		return -EINVAL;
	}
	return 0;
}

/* .../providers/Jitgate/joinTokens[/ID] */
static int
join_path(struct cli *c, const char *id, char *buf, size_t size)
{
	size_t n = id ? strlen(id) : 0;
	int k;

	if (id && (n == 0 || n > JOIN_ID_MAX || strspn(id, "abcdefghijklmnopqrstuvwxyz0123456789-") != n))
		return cli_fail(c, CLI_EXIT_USAGE, "'%s' is not a join token id (jt-…, from agent token list)", id);
	k = snprintf(buf, size, "/subscriptions/%s/providers/Jitgate/joinTokens%s%s", c->client.subscription,
		     id ? "/" : "", id ? id : "");
	return k < 0 || (size_t)k >= size ? cli_fail(c, CLI_EXIT_USAGE, "the join token id is too long") : 0;
}

/* The line to run on the host: the server's URL and its certificate's fingerprint when this client knows them. */
static void
join_hint(struct cli *c, const char *secret)
{
	char fp[CLI_FP_TEXT_SIZE] = "";
	bool known_fp = c->client.ca[0] && cli_cert_fingerprint_file(c->client.ca, fp, sizeof(fp)) == 0;

	cli_printf("On the host to join, as root:\n\n  jitgate-agent join --server %s --token %s --ca-fingerprint %s\n\n",
		   c->client.via_socket || !c->client.server[0] ? "https://HOST:PORT" : c->client.server, secret,
		   known_fp ? fp : "SHA256");
	if (!known_fp)
		cli_printf("(SHA256: the fingerprint of the server's certificate, which jitgated logs when it starts.)\n");
}

static int
agent_token_create(struct cli *c, const struct agent_opts *o)
{
	struct join_ask ask = { .uses = o->uses ? o->uses : JOIN_USES_DEFAULT,
				.expires_ms = o->expires_ms ? o->expires_ms : JOIN_EXPIRES_DEFAULT_MS };
	char path[ARM_ID_MAX + 64], expires[64];
	struct client_reply rep = { 0 };
	json_t *body = NULL;
	int r;

	if (!o->resource_group)
		return cli_fail(c, CLI_EXIT_USAGE, "--resource-group is required: the group joining hosts go into");
	snprintf(ask.resource_group, sizeof(ask.resource_group), "%s", o->resource_group);
	if ((r = cli_connect(c)) < 0 || (r = join_path(c, NULL, path, sizeof(path))) < 0)
		return r;
	if (!(body = codec_join_ask_encode(&ask)))
		return cli_fail(c, CLI_EXIT_UNREACHABLE, "out of memory");
	r = cli_call(c, "POST", path, NULL, body, NULL, NULL, &rep);
	if (r == -EREMOTE)
		cli_report(c, &rep);
	if (r < 0)
		goto out;
	if (c->output == CLI_OUT_JSON) {
		cli_print_json(rep.json);
	} else if (c->output == CLI_OUT_QUIET) {
		cli_printf("%s\n", cli_json_str(rep.json, "token", ""));
	} else {
		cli_time_local(cli_json_str(rep.json, "expiresTimeUtc", NULL), expires, sizeof(expires));
		cli_printf("Created join token %s for resource group %s (%lld use(s), until %s).\n"
			   "Its secret, shown this once:\n\n  %s\n\n",
			   cli_json_str(rep.json, "id", "?"), cli_json_str(rep.json, "resourceGroup", o->resource_group),
			   (long long)json_integer_value(json_object_get(rep.json, "usesLeft")), expires,
			   cli_json_str(rep.json, "token", "?"));
		join_hint(c, cli_json_str(rep.json, "token", "?"));
	}
	fflush(stdout);
	cli_reply_wipe(&rep);
out:
	client_reply_clear(&rep);
	json_decref(body);
	return r;
}

static void
join_token_row(json_t *t, const char **cells, char scratch[2][CLI_ROW_SCRATCH])
{
	cli_time_local(cli_json_str(t, "expiresTimeUtc", NULL), scratch[0], CLI_ROW_SCRATCH);
	snprintf(scratch[1], CLI_ROW_SCRATCH, "%lld", (long long)json_integer_value(json_object_get(t, "usesLeft")));
	cells[0] = cli_json_str(t, "id", "");
	cells[1] = cli_json_str(t, "resourceGroup", "");
	cells[2] = scratch[1];
	cells[3] = scratch[0];
	cells[4] = cli_json_str(t, "state", "");
	cells[5] = cli_json_str(t, "createdBy", "");
}

static int
agent_token_list(struct cli *c)
{
	static const char *const headers[] = { "ID", "RESOURCE GROUP", "USES LEFT", "EXPIRES", "STATE", "CREATED BY" };
	char path[ARM_ID_MAX + 64];
	json_t *list = NULL;
	int r;

	if ((r = cli_connect(c)) < 0 || (r = join_path(c, NULL, path, sizeof(path))) < 0)
		return r;
	if ((r = cli_list(c, path, NULL, &list)) < 0)
		return r;
	cli_list_print(c, list, headers, 6, "id", join_token_row);
	return 0;
}

static int
agent_token_revoke(struct cli *c, const char *id)
{
	char path[ARM_ID_MAX + 64];
	struct client_reply rep = { 0 };
	int r;

	/* a bad id is a usage error before any server is asked; the path wants the subscription, after */
	if ((r = join_path(c, id, path, sizeof(path))) < 0 || (r = cli_connect(c)) < 0 ||
	    (r = join_path(c, id, path, sizeof(path))) < 0)
		return r;
	r = cli_call(c, "DELETE", path, NULL, NULL, NULL, NULL, &rep);
	if (r == -EREMOTE && rep.status == 404)
		r = cli_fail(c, CLI_EXIT_REFUSED, "no valid join token '%s'", id);
	else if (r == -EREMOTE)
		cli_report(c, &rep);
	if (r == 0 && c->output == CLI_OUT_JSON)
		cli_print_json(rep.json);
	else if (r == 0 && c->output == CLI_OUT_TABLE)
		cli_printf("Revoked join token %s (resource group %s): no more hosts join with it\n", id,
			   cli_json_str(rep.json, "resourceGroup", "?"));
	client_reply_clear(&rep);
	return r;
}

static void
agent_row(json_t *t, const char **cells, char scratch[2][CLI_ROW_SCRATCH])
{
	cli_time_local(cli_json_str(t, "lastSeenTimeUtc", NULL), scratch[0], CLI_ROW_SCRATCH);
	snprintf(scratch[1], CLI_ROW_SCRATCH, "%lld",
		 (long long)json_integer_value(json_object_get(t, "appliedRevision")));
	cells[0] = cli_json_str(t, "name", "");
	cells[1] = cli_json_str(t, "resourceGroup", "");
	cells[2] = cli_json_str(t, "state", "");
	cells[3] = cli_json_str(t, "version", "");
	cells[4] = scratch[0];
	cells[5] = json_object_get(t, "appliedRevision") ? scratch[1] : "";
}

static int
agent_list(struct cli *c)
{
	static const char *const headers[] = { "VM", "RESOURCE GROUP", "STATE", "VERSION", "LAST SEEN", "APPLIED" };
	char path[ARM_ID_MAX + 64];
	json_t *list = NULL;
	int r;

	if ((r = cli_connect(c)) < 0)
		return r;
	snprintf(path, sizeof(path), "/subscriptions/%s/providers/Jitgate/agents", c->client.subscription);
	if ((r = cli_list(c, path, NULL, &list)) < 0)
		return r;
	cli_list_print(c, list, headers, 6, "vm", agent_row);
	return 0;
}

static int
agent_revoke(struct cli *c, const char *name)
{
	char path[ARM_ID_MAX + 64];
	struct client_reply rep = { 0 };
	struct cli_vm vm = { 0 };
	int r;

	if ((r = cli_connect(c)) < 0 || (r = cli_vm_resolve(c, name, &vm)) < 0)
		return r;
	snprintf(path, sizeof(path), "/subscriptions/%s/resourceGroups/%s/providers/Jitgate/agents/%s",
		 vm.arm.subscription, vm.arm.resource_group, vm.arm.name);
	r = cli_call(c, "DELETE", path, NULL, NULL, NULL, NULL, &rep);
	if (r == -EREMOTE && rep.status == 404)
		r = cli_fail(c, CLI_EXIT_REFUSED, "%s has no agent with a valid credential", vm.arm.name);
	else if (r == -EREMOTE)
		cli_report(c, &rep);
	if (r == 0 && c->output == CLI_OUT_JSON)
		cli_print_json(rep.json);
	else if (r == 0 && c->output == CLI_OUT_TABLE)
		cli_printf("Revoked the agent of %s: its credential is refused from now on; the host joins again "
			   "with a new join token\n", vm.arm.name);
	client_reply_clear(&rep);
	cli_vm_clear(&vm);
	return r;
}

int
cmd_agent(struct cli *c, int argc, char **argv)
{
	struct agent_opts o = { 0 };
	const char *sub;
	bool help, shaped;
	int argi, r, npos;

	r = cli_options(c, argc, argv, "", agent_options, agent_option, &o, cli_help_agent, &argi, &help);
	if (r < 0 || help)
		return cli_exit(c, r);
	npos = argc - argi;
	if (npos >= 1 && strcmp(argv[argi], "token") && (o.resource_group || o.uses || o.expires_ms))
		return cli_exit(c, cli_fail(c, CLI_EXIT_USAGE, "--resource-group, --uses and --expires go with agent token create"));
	if (npos == 1 && (!strcmp(argv[argi], "list") || !strcmp(argv[argi], "ls")))
		return cli_exit(c, agent_list(c));
	if (npos >= 1 && !strcmp(argv[argi], "revoke"))
		return cli_exit(c, npos == 2 ? agent_revoke(c, argv[argi + 1])
					     : cli_fail(c, CLI_EXIT_USAGE, "agent revoke takes one VM (see agent list)"));
	if (npos < 1 || strcmp(argv[argi], "token"))
		return cli_exit(c, npos ? cli_fail(c, CLI_EXIT_USAGE, "no subcommand 'agent %s' (token, list, revoke)",
						   argv[argi])
					: cli_fail(c, CLI_EXIT_USAGE, "agent needs a subcommand: token create|list|revoke, "
								      "list, revoke VM"));
	sub = npos > 1 ? argv[argi + 1] : "list";
	shaped = o.resource_group || o.uses || o.expires_ms;
	if (shaped && strcmp(sub, "create"))
		return cli_exit(c, cli_fail(c, CLI_EXIT_USAGE, "--resource-group, --uses and --expires go with agent token create"));
	if (!strcmp(sub, "list") || !strcmp(sub, "ls")) {
		if (npos > 2)
			return cli_exit(c, cli_fail(c, CLI_EXIT_USAGE, "agent token list takes no arguments"));
		return cli_exit(c, agent_token_list(c));
	}
	if (!strcmp(sub, "create")) {
		if (npos != 2)
			return cli_exit(c, cli_fail(c, CLI_EXIT_USAGE, "agent token create takes no arguments (see --help)"));
		return cli_exit(c, agent_token_create(c, &o));
	}
	if (!strcmp(sub, "revoke")) {
		if (npos != 3)
			return cli_exit(c, cli_fail(c, CLI_EXIT_USAGE, "agent token revoke takes one ID (see agent token list)"));
		return cli_exit(c, agent_token_revoke(c, argv[argi + 2]));
	}
	return cli_exit(c, cli_fail(c, CLI_EXIT_USAGE, "no subcommand 'agent token %s' (create, list, revoke)", sub));
}

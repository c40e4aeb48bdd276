/* jitgate policy: whole JIT policies in the API's JSON (list, show, apply a file, delete). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/resource.h"
#include "cli/commands.h"

const char cli_help_policy[] =
	"usage: jitgate policy list [--resource-group RG] [--location LOC]\n"
	"       jitgate policy show [NAME] [--resource-group RG] [--location LOC]\n"
	"       jitgate policy apply -f FILE [NAME] [--resource-group RG] [--location LOC]\n"
	"       jitgate policy delete NAME [--resource-group RG] [--location LOC]\n"
	"\n"
	"A policy is addressed by resource group, location and name (defaults: default, local, default).\n"
	"show prints the policy as the API returns it; apply PUTs a file (- for stdin) as the API takes it,\n"
	"replacing the whole policy: its target is NAME and the flags, else the file's \"id\", else the\n"
	"file's \"name\" with the defaults. delete removes a policy and opens its VMs' ports again.\n"
	"list without flags shows every policy of the subscription; -q prints names.\n"
	"\n"
	"Example:\n"
	"  jitgate policy show > p.json && $EDITOR p.json && jitgate policy apply -f p.json\n";

#define OPT_RG		10000
#define OPT_LOCATION	10001
#define OPT_FILE	'f'
#define POLICY_FILE_MAX	(1 << 20)	/* the server's body limit */

struct policy_opts {
	const char *rg, *location, *file;
};

static const struct option policy_options[] = {
	{ "resource-group", required_argument, NULL, OPT_RG },
	{ "location", required_argument, NULL, OPT_LOCATION },
	{ "file", required_argument, NULL, OPT_FILE },
	{ NULL, 0, NULL, 0 },
};

static int
policy_option(struct cli *c, int opt, const char *arg, void *state)
{
	struct policy_opts *o = state;

	(void)c;
	if (opt == OPT_RG)
		o->rg = arg;
	else if (opt == OPT_LOCATION)
		o->location = arg;
	else if (opt == OPT_FILE)
		o->file = arg;
	else
		return -EINVAL;
	return 0;
}

static int
policy_list(struct cli *c, const struct policy_opts *o)
{
	static const char *const headers[] = { "NAME", "RESOURCE GROUP", "LOCATION", "VMS", "REQUESTS (7D)" };
	char path[ARM_ID_MAX + 64];
	json_t *list = NULL, *p;
	struct table *t = NULL;
	size_t i;
	int r, n;

	if ((r = cli_connect(c)) < 0)
		return r;
	if (o->rg && arm_resource_group_validate(o->rg, strlen(o->rg), NULL) < 0)
		return cli_fail(c, CLI_EXIT_USAGE, "--resource-group: '%s' is not a resource group name", o->rg);
	if (o->location && arm_location_validate(o->location, strlen(o->location), NULL) < 0)
		return cli_fail(c, CLI_EXIT_USAGE, "--location: '%s' is not a location", o->location);
	n = snprintf(path, sizeof(path), "/subscriptions/%s%s%s/providers/Microsoft.Security%s%s/jitNetworkAccessPolicies",
		     c->client.subscription, o->rg ? "/resourceGroups/" : "", o->rg ? o->rg : "", o->location ? "/locations/" : "",
		     o->location ? o->location : "");
	if (n < 0 || (size_t)n >= sizeof(path))
		return cli_fail(c, CLI_EXIT_USAGE, "the path is too long");
	if ((r = cli_list(c, path, NULL, &list)) < 0)
		return r;
	if (c->output == CLI_OUT_JSON) {
		cli_print_list_json(list);
		goto out;
	}
	t = table_new(5, headers);
	json_array_foreach(list, i, p) {
		struct arm_policy_id id;
		const char *text = cli_json_str(p, "id", ""), *cells[5];
		const json_t *props = json_object_get(p, "properties");
		char vms[16], reqs[16];

		if (c->output == CLI_OUT_QUIET) {
			cli_printf("%s\n", cli_json_str(p, "name", ""));
			continue;
		}
		memset(&id, 0, sizeof(id));
		arm_policy_id_parse(text, strlen(text), &id, NULL);
		snprintf(vms, sizeof(vms), "%zu", json_array_size(json_object_get(props, "virtualMachines")));
		snprintf(reqs, sizeof(reqs), "%zu", json_array_size(json_object_get(props, "requests")));
		cells[0] = cli_json_str(p, "name", "");
		cells[1] = id.resource_group;
		cells[2] = cli_json_str(p, "location", id.location);
		cells[3] = vms;
		cells[4] = reqs;
		table_add(t, cells);
	}
	if (c->output == CLI_OUT_TABLE)
		table_print(t, stdout);
out:
	table_free(t);
	json_decref(list);
	return 0;
}

static int
policy_show(struct cli *c, const struct policy_opts *o, const char *name)
{
	char path[ARM_ID_MAX + 1];
	json_t *p = NULL;
	int r;

	if ((r = cli_connect(c)) < 0)
		return r;
	if ((r = cli_policy_path(c, o->rg ? o->rg : CLI_DEFAULT_RG, o->location ? o->location : CLI_DEFAULT_LOCATION,
				 name ? name : CLI_DEFAULT_POLICY, path, sizeof(path))) < 0)
		return r;
	if ((r = cli_get(c, path, NULL, &p)) < 0)
		return r;
	if (c->output == CLI_OUT_QUIET)
		cli_printf("%s\n", cli_json_str(p, "id", ""));
	else
		cli_print_json(p);
	json_decref(p);
	return 0;
}

static json_t *
load_file(struct cli *c, const char *file)
{
	json_error_t jerr;
	json_t *v;
	FILE *f = strcmp(file, "-") ? fopen(file, "re") : stdin;
	char *data = NULL;
	size_t n;

	if (!f) {
		cli_fail(c, CLI_EXIT_USAGE, "-f: cannot read %s: %s", file, strerror(errno));
		return NULL;
	}
	data = malloc(POLICY_FILE_MAX + 1);
	n = data ? fread(data, 1, POLICY_FILE_MAX + 1, f) : 0;
	if (f != stdin)
		fclose(f);
	if (!data || n > POLICY_FILE_MAX) {
		free(data);
		cli_fail(c, CLI_EXIT_USAGE, "-f: %s is larger than %d bytes", file, POLICY_FILE_MAX);
		return NULL;
	}
	v = json_loadb(data, n, JSON_REJECT_DUPLICATES, &jerr);
	free(data);
	if (!json_is_object(v)) {
		json_decref(v);
		cli_fail(c, CLI_EXIT_USAGE, "-f: %s:%d:%d: not a JSON object: %s", file, jerr.line, jerr.column, jerr.text);
		return NULL;
	}
	return v;
}

static int
policy_apply(struct cli *c, const struct policy_opts *o, const char *name)
{
	char path[ARM_ID_MAX + 1];
	json_t *body = NULL, *out = NULL;
	struct arm_policy_id id;
	const char *fid;
	int r;

	if (!o->file)
		return cli_fail(c, CLI_EXIT_USAGE, "-f FILE is required");
	if (!(body = load_file(c, o->file)))
		return -EINVAL;
	if ((r = cli_connect(c)) < 0)
		goto out;
	fid = cli_json_str(body, "id", NULL);
	memset(&id, 0, sizeof(id));
	if (fid && arm_policy_id_parse(fid, strlen(fid), &id, NULL) < 0) {
		r = cli_fail(c, CLI_EXIT_USAGE, "-f: the file's \"id\" is not a JIT policy id");
		goto out;
	}
	if (!fid) {
		snprintf(id.resource_group, sizeof(id.resource_group), "%s", CLI_DEFAULT_RG);
		snprintf(id.location, sizeof(id.location), "%s", cli_json_str(body, "location", CLI_DEFAULT_LOCATION));
		snprintf(id.name, sizeof(id.name), "%s", cli_json_str(body, "name", CLI_DEFAULT_POLICY));
	}
	if ((r = cli_policy_path(c, o->rg ? o->rg : id.resource_group, o->location ? o->location : id.location,
				 name ? name : id.name, path, sizeof(path))) < 0)
		goto out;
	if ((r = cli_send(c, "PUT", path, body, &out)) < 0)
		goto out;
	if (c->output == CLI_OUT_JSON)
		cli_print_json(out);
	else if (c->output == CLI_OUT_QUIET)
		cli_printf("%s\n", cli_json_str(out, "id", path));
	else
		cli_printf("Applied the policy %s: %zu VM(s)\n", cli_json_str(out, "id", path),
		       json_array_size(json_object_get(json_object_get(out, "properties"), "virtualMachines")));
out:
	json_decref(out);
	json_decref(body);
	return r;
}

static int
policy_delete(struct cli *c, const struct policy_opts *o, const char *name)
{
	char path[ARM_ID_MAX + 1];
	struct client_reply rep = { 0 };
	int r;

	if ((r = cli_connect(c)) < 0)
		return r;
	if ((r = cli_policy_path(c, o->rg ? o->rg : CLI_DEFAULT_RG, o->location ? o->location : CLI_DEFAULT_LOCATION,
				 name, path, sizeof(path))) < 0)
		return r;
	r = cli_call(c, "DELETE", path, NULL, NULL, NULL, NULL, &rep);
	if (r == -EREMOTE)
		cli_report(c, &rep);
	else if (r == 0 && c->output == CLI_OUT_TABLE)
		cli_printf(rep.status == 204 ? "There was no policy %s; nothing deleted\n" : "Deleted the policy %s\n", path);
	client_reply_clear(&rep);
	return r;
}

int
cmd_policy(struct cli *c, int argc, char **argv)
{
	struct policy_opts o = { 0 };
	const char *sub, *name;
	bool help;
	int argi, r, npos;

	r = cli_options(c, argc, argv, "f:", policy_options, policy_option, &o, cli_help_policy, &argi, &help);
	if (r < 0 || help)
		return cli_exit(c, r);
	npos = argc - argi;
	sub = npos > 0 ? argv[argi] : "list";
	name = npos > 1 ? argv[argi + 1] : NULL;
	if (npos > 2)
		return cli_exit(c, cli_fail(c, CLI_EXIT_USAGE, "too many arguments (see --help)"));
	if (!strcmp(sub, "list") || !strcmp(sub, "ls"))
		return cli_exit(c, name ? cli_fail(c, CLI_EXIT_USAGE, "policy list takes no NAME") : policy_list(c, &o));
	if (!strcmp(sub, "show") || !strcmp(sub, "get"))
		return cli_exit(c, policy_show(c, &o, name));
	if (!strcmp(sub, "apply"))
		return cli_exit(c, policy_apply(c, &o, name));
	if (!strcmp(sub, "delete") || !strcmp(sub, "rm"))
		return cli_exit(c, name ? policy_delete(c, &o, name) : cli_fail(c, CLI_EXIT_USAGE, "policy delete needs a NAME"));
	return cli_exit(c, cli_fail(c, CLI_EXIT_USAGE, "no subcommand 'policy %s' (list, show, apply, delete)", sub));
}

/* jitgate vm: the VM inventory with each VM's JIT status (list, show), and gateway VMs (add, remove). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/cli.h"
#include "cli/resource.h"
#include "cli/commands.h"
#include "codec/codec.h"
#include "core/net.h"

const char cli_help_vm[] =
	"usage: jitgate vm list [--status configured|not-configured|unsupported] [--group RG] [--exposed]\n"
	"       jitgate vm show VM\n"
	"       jitgate vm add NAME --address ADDR [--address ADDR]... [--os Linux|Windows]\n"
	"                          [--resource-group RG] [--location LOC]\n"
	"       jitgate vm remove VM\n"
	"\n"
	"list: the VMs in three tabs, Configured, Not configured and Unsupported, with counts, and per VM its\n"
	"resource group, status, agent (agent VMs: connected, disconnected since T, revoked, never joined)\n"
	"and agent version, approved requests in the last 7 days, last access, last user and connection\n"
	"details (the reason, for unsupported ones). --group RG: that resource group only. -q prints names.\n"
	"--exposed: the agent VMs with a listening management port (22, 3389, 5985, 5986, or a port of their\n"
	"policy) that no JIT rule covers; jitgate enable VM --recommended puts one under JIT.\n"
	"show: one VM; an agent VM also with its agent's version, last contact, listening and exposed ports.\n"
	"add: a gateway VM, a machine behind this server whose traffic it routes (resource group 'default',\n"
	"location 'local' unless given); running add again updates it. remove: a VM in no policy.\n"
	"VM is a name (any resource group) or a full id.\n"
	"\n"
	"Example:\n"
	"  jitgate vm add db1 --address 10.0.0.5 --os Linux\n"
	"  jitgate vm list --status configured\n"
	"  jitgate vm list --exposed --group web\n";

#define OPT_STATUS	2000
#define OPT_ADDRESS	2001
#define OPT_OS		2002
#define OPT_RG		2003
#define OPT_LOCATION	2004
#define OPT_EXPOSED	2005
#define OPT_GROUP	2006

struct vm_opts {
	const char *status;			/* API spelling: Configured, NotConfigured, Unsupported */
	const char *addrs[CLI_ADDRS_MAX];
	size_t n_addrs;
	const char *os;
	const char *rg;
	const char *location;
	bool exposed;
};

static const struct option vm_options[] = {
	{ "status", required_argument, NULL, OPT_STATUS },
	{ "address", required_argument, NULL, OPT_ADDRESS },
	{ "os", required_argument, NULL, OPT_OS },
	{ "resource-group", required_argument, NULL, OPT_RG },
	{ "location", required_argument, NULL, OPT_LOCATION },
	{ "group", required_argument, NULL, OPT_GROUP },
	{ "exposed", no_argument, NULL, OPT_EXPOSED },
	{ NULL, 0, NULL, 0 },
};

static int
vm_option(struct cli *c, int opt, const char *arg, void *state)
{
	struct vm_opts *o = state;

	switch (opt) {
	case OPT_STATUS:
		if (!strcasecmp(arg, "configured"))
			o->status = "Configured";
		else if (!strcasecmp(arg, "not-configured") || !strcasecmp(arg, "notconfigured"))
			o->status = "NotConfigured";
		else if (!strcasecmp(arg, "unsupported"))
			o->status = "Unsupported";
		else
			return cli_fail(c, CLI_EXIT_USAGE, "--status: '%s' is not configured, not-configured or unsupported",
					arg);
		return 0;
	case OPT_ADDRESS: {
		struct net_addr a;

		if (net_addr_parse(arg, strlen(arg), &a, NULL) < 0)
			return cli_fail(c, CLI_EXIT_USAGE, "--address: '%s' is not an IPv4 or IPv6 address", arg);
		if (o->n_addrs >= CLI_ADDRS_MAX)
			return cli_fail(c, CLI_EXIT_USAGE, "--address: at most %d addresses", CLI_ADDRS_MAX);
		o->addrs[o->n_addrs++] = arg;
		return 0;
	}
	case OPT_OS:
		if (!strcasecmp(arg, "linux"))
			o->os = "Linux";
		else if (!strcasecmp(arg, "windows"))
			o->os = "Windows";
		else
			return cli_fail(c, CLI_EXIT_USAGE, "--os: '%s' is not Linux or Windows", arg);
		return 0;
	case OPT_RG:
	case OPT_GROUP:
		if (arm_resource_group_validate(arg, strlen(arg), NULL) < 0)
			return cli_fail(c, CLI_EXIT_USAGE, "--%s: '%s' is not a resource group name",
					opt == OPT_GROUP ? "group" : "resource-group", arg);
		o->rg = arg;
		return 0;
	case OPT_LOCATION:
		if (arm_location_validate(arg, strlen(arg), NULL) < 0)
			return cli_fail(c, CLI_EXIT_USAGE, "--location: '%s' is not a location (letters and digits)", arg);
		o->location = arg;
		return 0;
	case OPT_EXPOSED:
		o->exposed = true;
		return 0;
	}
	return -EINVAL;
}

/* "10.0.0.4:22/TCP, ..." from properties.jit.connectionDetails. */
static void
connection_text(const json_t *jit, char *buf, size_t size)
{
	const json_t *d, *conn = json_object_get(jit, "connectionDetails");
	size_t i, len = 0;

	buf[0] = '\0';
	json_array_foreach(conn, i, d) {
		const char *a = cli_json_str(d, "address", "?");
		int n = snprintf(buf + len, size - len, "%s%s%s%s:%lld/%s", len ? ", " : "", strchr(a, ':') ? "[" : "", a,
				 strchr(a, ':') ? "]" : "", (long long)json_integer_value(json_object_get(d, "port")),
				 cli_json_str(d, "protocol", "*"));

		if (n < 0 || (size_t)n >= size - len)
			break;
		len += (size_t)n;
	}
}

/* One VM's row of vm list. */
static void
vm_row(struct table *t, const json_t *vm)
{
	const json_t *props = json_object_get(vm, "properties"), *jit = json_object_get(props, "jit");
	char approved[24], last[64], conn[512], rg[ARM_RESOURCE_GROUP_MAX + 1] = "", agent[96];
	const char *id = cli_json_str(vm, "id", "");
	struct arm_vm_id arm;
	const char *cells[10];

	if (arm_vm_id_parse(id, strlen(id), &arm, NULL) == 0)
		snprintf(rg, sizeof(rg), "%s", arm.resource_group);
	snprintf(approved, sizeof(approved), "%lld",
		 (long long)json_integer_value(json_object_get(jit, "approvedRequestsLast7Days")));
	cli_time_local(cli_json_str(jit, "lastAccessTimeUtc", NULL), last, sizeof(last));
	connection_text(jit, conn, sizeof(conn));
	cli_vm_agent_text(vm, agent, sizeof(agent));
	cells[0] = cli_json_str(vm, "name", "");
	cells[1] = rg;
	cells[2] = cli_status_words(cli_json_str(jit, "status", ""));
	cells[3] = agent;
	cells[4] = cli_json_str(json_object_get(props, "agent"), "version", NULL);
	cells[5] = approved;
	cells[6] = last;
	cells[7] = cli_json_str(jit, "lastUser", NULL);
	cells[8] = conn;
	cells[9] = cli_json_str(jit, "reason", NULL);
	table_add(t, cells);
}

static int
vm_list(struct cli *c, const struct vm_opts *o)
{
	static const char *const headers[] = { "NAME", "RESOURCE GROUP", "STATUS", "AGENT", "VERSION", "APPROVED (7D)",
					       "LAST ACCESS", "LAST USER", "CONNECTION", "REASON" };
	char path[ARM_ID_MAX + 64];
	json_t *list = NULL, *vm, *shown = json_array();
	struct table *t = NULL;
	size_t counts[3] = { 0 }, i;
	int r;

	if ((r = cli_connect(c)) < 0)
		goto out;
	if (o->rg)
		snprintf(path, sizeof(path), "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Compute/virtualMachines",
			 c->client.subscription, o->rg);
	else
		snprintf(path, sizeof(path), "/subscriptions/%s/providers/Microsoft.Compute/virtualMachines",
			 c->client.subscription);
	if ((r = cli_list(c, path, NULL, &list)) < 0)
		goto out;
	json_array_foreach(list, i, vm) {
		const char *st = cli_json_str(json_object_get(json_object_get(vm, "properties"), "jit"), "status", "");

		counts[!strcmp(st, "Configured") ? 0 : !strcmp(st, "NotConfigured") ? 1 : 2]++;
		if (!o->status || !strcmp(o->status, st))
			json_array_append(shown, vm);
	}
	if (c->output == CLI_OUT_JSON) {
		cli_print_list_json(shown);
		goto out;
	}
	if (c->output == CLI_OUT_QUIET) {
		json_array_foreach(shown, i, vm)
			cli_printf("%s\n", cli_json_str(vm, "name", ""));
		goto out;
	}
	cli_printf("Configured (%zu)  Not configured (%zu)  Unsupported (%zu)\n\n", counts[0], counts[1], counts[2]);
	t = table_new(10, headers);
	json_array_foreach(shown, i, vm)
		vm_row(t, vm);
	table_print(t, stdout);
out:
	table_free(t);
	json_decref(shown);
	json_decref(list);
	return cli_exit(c, r);
}

static int
vm_show(struct cli *c, const char *name)
{
	struct cli_vm vm = { 0 };
	const json_t *props, *jit, *a;
	char last[64], conn[512], addrs[512] = "";
	size_t i, len = 0;
	int r;

	if ((r = cli_vm_resolve(c, name, &vm)) < 0)
		goto out;
	if (c->output == CLI_OUT_JSON) {
		cli_print_json(vm.json);
		goto out;
	}
	if (c->output == CLI_OUT_QUIET) {
		cli_printf("%s\n", vm.id);
		goto out;
	}
	props = json_object_get(vm.json, "properties");
	jit = json_object_get(props, "jit");
	json_array_foreach(json_object_get(props, "addresses"), i, a) {
		int n = snprintf(addrs + len, sizeof(addrs) - len, "%s%s", len ? ", " : "", json_string_value(a));

		if (n < 0 || (size_t)n >= sizeof(addrs) - len)
			break;
		len += (size_t)n;
	}
	cli_time_local(cli_json_str(jit, "lastAccessTimeUtc", NULL), last, sizeof(last));
	connection_text(jit, conn, sizeof(conn));
	cli_printf("Name:                %s\n", vm.arm.name);
	cli_printf("Id:                  %s\n", vm.id);
	cli_printf("Resource group:      %s\n", vm.arm.resource_group);
	cli_printf("Location:            %s\n", vm.location);
	cli_printf("OS:                  %s\n", cli_json_str(props, "osType", "-"));
	cli_printf("Enforcement:         %s\n", cli_json_str(props, "enforcement", "-"));
	cli_printf("Addresses:           %s\n", addrs[0] ? addrs : "-");
	cli_printf("JIT status:          %s\n", cli_status_words(cli_json_str(jit, "status", "-")));
	if (cli_json_str(jit, "reason", NULL))
		cli_printf("Reason:              %s\n", cli_json_str(jit, "reason", ""));
	cli_printf("Policy:              %s\n", cli_json_str(jit, "policyId", "-"));
	cli_printf("Approved (7 days):   %lld\n", (long long)json_integer_value(json_object_get(jit, "approvedRequestsLast7Days")));
	cli_printf("Last access:         %s\n", last);
	cli_printf("Last user:           %s\n", cli_json_str(jit, "lastUser", "-"));
	cli_printf("Connection details:  %s\n", conn[0] ? conn : "-");
	cli_vm_agent_show(c, &vm);
out:
	cli_vm_clear(&vm);
	return cli_exit(c, r);
}

/* The PUT body of a gateway VM (the codec's): its location, OS and addresses, which the options checked already. */
static int
vm_body(struct cli *c, const struct vm_opts *o, json_t **ret_body)
{
	const char *loc = o->location ? o->location : CLI_DEFAULT_LOCATION;
	struct codec_vm vm;
	size_t i;

	memset(&vm, 0, sizeof(vm));
	snprintf(vm.location, sizeof(vm.location), "%s", loc);
	snprintf(vm.os_type, sizeof(vm.os_type), "%s", o->os ? o->os : "Linux");
	vm.point = CODEC_POINT_GATEWAY;
	for (i = 0; i < o->n_addrs && i < API_ADDRS_MAX; i++)
		if (net_addr_parse(o->addrs[i], strlen(o->addrs[i]), &vm.addrs[vm.n_addrs++], NULL) < 0)
			return cli_fail(c, CLI_EXIT_USAGE, "--address: '%s' is not an IPv4 or IPv6 address", o->addrs[i]);
	if (!(*ret_body = codec_vm_body_encode(&vm)))
		return cli_fail(c, CLI_EXIT_UNREACHABLE, "out of memory");
	return 0;
}

static int
vm_add(struct cli *c, const char *name, const struct vm_opts *o)
{
	struct arm_vm_id arm;
	char path[ARM_ID_MAX + 1];
	json_t *body = NULL, *out = NULL;
	struct client_reply rep = { 0 };
	int r;

	if (arm_vm_name_validate(name, strlen(name), NULL) < 0)
		return cli_fail(c, CLI_EXIT_USAGE, "'%s' is not a VM name (1-64 of letters, digits, '.', '_', '-')", name);
	if (o->n_addrs == 0)
		return cli_fail(c, CLI_EXIT_USAGE, "--address: a gateway VM needs at least one address");
	if ((r = cli_connect(c)) < 0)
		return cli_exit(c, r);
	snprintf(arm.subscription, sizeof(arm.subscription), "%s", c->client.subscription);
	snprintf(arm.resource_group, sizeof(arm.resource_group), "%s", o->rg ? o->rg : CLI_DEFAULT_RG);
	snprintf(arm.name, sizeof(arm.name), "%s", name);
	arm_vm_id_format(&arm, path, sizeof(path));
	if ((r = vm_body(c, o, &body)) < 0)
		goto out;
	r = cli_call(c, "PUT", path, NULL, body, NULL, NULL, &rep);
	if (r == -EREMOTE)
		cli_report(c, &rep);
	if (r < 0)
		goto out;
	out = rep.json;
	if (c->output == CLI_OUT_JSON)
		cli_print_json(out);
	else if (c->output == CLI_OUT_QUIET)
		cli_printf("%s\n", name);
	else
		cli_printf("%s VM %s (%s)\n", rep.status == 201 ? "Added" : "Updated", name, path);
out:
	client_reply_clear(&rep);
	json_decref(body);
	return cli_exit(c, r);
}

static int
vm_remove(struct cli *c, const char *name)
{
	struct cli_vm vm = { 0 };
	int r;

	if ((r = cli_vm_resolve(c, name, &vm)) < 0)
		goto out;
	if ((r = cli_send(c, "DELETE", vm.id, NULL, NULL)) < 0)
		goto out;
	if (c->output != CLI_OUT_QUIET && c->output != CLI_OUT_JSON)
		cli_printf("Removed VM %s (%s)\n", vm.arm.name, vm.id);
out:
	cli_vm_clear(&vm);
	return cli_exit(c, r);
}

int
cmd_vm(struct cli *c, int argc, char **argv)
{
	struct vm_opts o = { 0 };
	const char *sub;
	bool help;
	int argi, r, npos;

	r = cli_options(c, argc, argv, "", vm_options, vm_option, &o, cli_help_vm, &argi, &help);
	if (r < 0 || help)
		return cli_exit(c, r);
	npos = argc - argi;
	sub = npos > 0 ? argv[argi] : "list";
	if (!strcmp(sub, "list") || !strcmp(sub, "ls")) {
		if (npos > 1)
			return cli_exit(c, cli_fail(c, CLI_EXIT_USAGE, "vm list takes no arguments (see --help)"));
		return o.exposed ? cli_vm_exposed_list(c, o.rg, o.status) : vm_list(c, &o);
	}
	if (!strcmp(sub, "show") || !strcmp(sub, "add") || !strcmp(sub, "remove") || !strcmp(sub, "rm")) {
		if (npos != 2)
			return cli_exit(c, cli_fail(c, CLI_EXIT_USAGE, "vm %s takes one VM (see --help)", sub));
		if (!strcmp(sub, "show"))
			return vm_show(c, argv[argi + 1]);
		if (!strcmp(sub, "add"))
			return vm_add(c, argv[argi + 1], &o);
		return vm_remove(c, argv[argi + 1]);
	}
	return cli_exit(c, cli_fail(c, CLI_EXIT_USAGE, "no subcommand 'vm %s' (list, show, add, remove)", sub));
}

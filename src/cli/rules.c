/* The port-rule options that enable and edit share (--port, --max, --source, --recommended, --remove-port), and a VM's rules as a table. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/parse.h"
#include "cli/resource.h"
#include "core/duration.h"
#include "core/net.h"

#define OPT_PORT	3000
#define OPT_MAX		3001
#define OPT_SOURCE	3002
#define OPT_RECOMMENDED	3003
#define OPT_REMOVE_PORT	3004

const struct option cli_rule_options[] = {
	{ "port", required_argument, NULL, OPT_PORT },
	{ "max", required_argument, NULL, OPT_MAX },
	{ "source", required_argument, NULL, OPT_SOURCE },
	{ "recommended", no_argument, NULL, OPT_RECOMMENDED },
	{ "remove-port", required_argument, NULL, OPT_REMOVE_PORT },
	{ NULL, 0, NULL, 0 },
};

int
cli_rule_option(struct cli *c, int opt, const char *arg, void *state)
{
	struct cli_rule_opts *o = state;
	struct net_source src;
	uint16_t port;
	const char *proto;
	size_t i;

	switch (opt) {
	case OPT_PORT:
		if (cli_port_parse(arg, &port, &proto) < 0)
			return cli_fail(c, CLI_EXIT_USAGE, "--port: '%s' is not a port (try 22, 22/tcp, 53/udp, 3389/*)", arg);
		if (o->n_ports >= CLI_PORTS_MAX)
			return cli_fail(c, CLI_EXIT_USAGE, "--port: at most %d ports", CLI_PORTS_MAX);
		for (i = 0; i < o->n_ports; i++)
			if (o->ports[i].number == port && (!proto || !o->ports[i].proto || !strcmp(proto, "*") ||
							   !strcmp(o->ports[i].proto, "*") || !strcmp(proto, o->ports[i].proto)))
				return cli_fail(c, CLI_EXIT_USAGE, "--port: %u is given twice", port);
		o->ports[o->n_ports].number = port;
		o->ports[o->n_ports].proto = proto;
		o->n_ports++;
		return 0;
	case OPT_MAX:
		if (cli_duration_parse(arg, &o->max_ms) < 0)
			return cli_fail(c, CLI_EXIT_USAGE, "--max: '%s' is not a duration (try 90m, 1h30m, PT3H)", arg);
		/* the policy then shows the words the user chose ("P1D", not "PT24H"), as the API keeps them */
		o->max_text = duration_parse_iso8601(arg, strlen(arg), &(int64_t){ 0 }, NULL) == 0 ? arg : NULL;
		return 0;
	case OPT_SOURCE:
		if (net_source_parse(arg, strlen(arg), &src, NULL) < 0)
			return cli_fail(c, CLI_EXIT_USAGE, "--source: '%s' is not an address, a CIDR prefix or *", arg);
		if (o->n_sources >= CLI_SOURCES_MAX)
			return cli_fail(c, CLI_EXIT_USAGE, "--source: at most %d sources", CLI_SOURCES_MAX);
		o->sources[o->n_sources++] = arg;
		return 0;
	case OPT_RECOMMENDED:
		o->recommended = true;
		return 0;
	case OPT_REMOVE_PORT:
		if (net_port_parse(arg, strlen(arg), &port, NULL) < 0)
			return cli_fail(c, CLI_EXIT_USAGE, "--remove-port: '%s' is not a port number", arg);
		if (o->n_remove >= CLI_PORTS_MAX)
			return cli_fail(c, CLI_EXIT_USAGE, "--remove-port: at most %d ports", CLI_PORTS_MAX);
		o->remove[o->n_remove++] = port;
		return 0;
	}
	return -EINVAL;
}

void
cli_rules_print(struct cli *c, const struct cli_vm *vm, json_t *policy)
{
	static const char *const headers[] = { "PORT", "PROTOCOL", "ALLOWED SOURCES", "MAX DURATION" };
	json_t *entry = cli_policy_vm(policy, vm->id, NULL), *p;
	struct table *t;
	size_t i;

	if (c->output == CLI_OUT_JSON) {
		cli_print_json(policy);
		return;
	}
	if (c->output == CLI_OUT_QUIET) {
		cli_printf("%s\n", cli_json_str(policy, "id", ""));
		return;
	}
	t = table_new(4, headers);
	json_array_foreach(json_object_get(entry, "ports"), i, p) {
		char num[16], srcs[512] = "";
		const json_t *list = json_object_get(p, "allowedSourceAddressPrefixes"), *s;
		const char *cells[4];
		size_t k, len = 0;

		snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(json_object_get(p, "number")));
		if (json_is_array(list)) {
			json_array_foreach(list, k, s) {
				int n = snprintf(srcs + len, sizeof(srcs) - len, "%s%s", len ? ", " : "", json_string_value(s));

				if (n < 0 || (size_t)n >= sizeof(srcs) - len)
					break;
				len += (size_t)n;
			}
		} else {
			snprintf(srcs, sizeof(srcs), "%s", cli_json_str(p, "allowedSourceAddressPrefix", "*"));
		}
		cells[0] = num;
		cells[1] = cli_json_str(p, "protocol", "*");
		cells[2] = srcs;
		cells[3] = cli_json_str(p, "maxRequestAccessDuration", "");
		table_add(t, cells);
	}
	table_print(t, stdout);
	table_free(t);
}

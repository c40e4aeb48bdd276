/* jitgate request: ask for a VM's ports to open for my address (or a prefix) until a time, and say how to connect. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/duration.h"
#include "core/net.h"
#include "core/timeutil.h"

const char cli_help_request[] =
	"usage: jitgate request VM [--port N]... [--for DURATION | --until TIME] [--from CIDR] [--reason TEXT]\n"
	"\n"
	"Opens VM's ports for you. Defaults: every port of the VM's rules, each for its rule's maximum, from\n"
	"your own address as the server sees it (see jitgate whoami). --from asks for a prefix instead (it must\n"
	"lie inside the rule's allowed sources); --reason is recorded as the justification. Prints what\n"
	"opened, from where, until when (local time) and how to connect; -q prints the request id.\n"
	"A refusal prints the server's code and message and exits 1.\n"
	"\n"
	"Example:\n"
	"  jitgate request vm1 --port 22 --for 1h30m --reason 'kernel update'\n";

#define OPT_PORT	4000
#define OPT_FOR		4001
#define OPT_UNTIL	4002
#define OPT_FROM	4003
#define OPT_REASON	4004

struct request_opts {
	uint16_t ports[CLI_PORTS_MAX];
	size_t n_ports;
	struct cli_initiate in;
};

static const struct option request_options[] = {
	{ "port", required_argument, NULL, OPT_PORT },
	{ "for", required_argument, NULL, OPT_FOR },
	{ "until", required_argument, NULL, OPT_UNTIL },
	{ "from", required_argument, NULL, OPT_FROM },
	{ "reason", required_argument, NULL, OPT_REASON },
	{ NULL, 0, NULL, 0 },
};

static int
request_option(struct cli *c, int opt, const char *arg, void *state)
{
	struct request_opts *o = state;
	struct net_source src;
	uint16_t port;
	size_t i;

	switch (opt) {
	case OPT_PORT:
		if (net_port_parse(arg, strlen(arg), &port, NULL) < 0)
			return cli_fail(c, CLI_EXIT_USAGE, "--port: '%s' is not a port number (1-65535)", arg);
		for (i = 0; i < o->n_ports; i++)
			if (o->ports[i] == port)
				return cli_fail(c, CLI_EXIT_USAGE, "--port: %u is given twice", port);
		if (o->n_ports >= CLI_PORTS_MAX)
			return cli_fail(c, CLI_EXIT_USAGE, "--port: at most %d ports", CLI_PORTS_MAX);
		o->ports[o->n_ports++] = port;
		return 0;
	case OPT_FOR:
		if (cli_duration_parse(arg, &o->in.for_ms) < 0)
			return cli_fail(c, CLI_EXIT_USAGE, "--for: '%s' is not a duration (try 90m, 1h30m, PT3H)", arg);
		return 0;
	case OPT_UNTIL:
		if (cli_time_parse(arg, cli_now_ns(), &o->in.until_ns) < 0)
			return cli_fail(c, CLI_EXIT_USAGE,
					"--until: '%s' is not a time (try 2025-03-01T14:00:00Z, '2025-03-01 15:00' or 15:00)",
					arg);
		return 0;
	case OPT_FROM:
		if (net_source_parse(arg, strlen(arg), &src, NULL) < 0)
			return cli_fail(c, CLI_EXIT_USAGE, "--from: '%s' is not an address, a CIDR prefix or *", arg);
		o->in.from = arg;
		return 0;
	case OPT_REASON:
		o->in.reason = arg;
		return 0;
	}
	return -EINVAL;
}

/* The longest maxRequestAccessDuration among the VM's rules for this port, or 0. */
static int64_t
rule_max_ms(const json_t *rules, unsigned port)
{
	const json_t *p;
	int64_t best = 0, ms;
	size_t i;

	json_array_foreach(rules, i, p) {
		const char *d = cli_json_str(p, "maxRequestAccessDuration", "");

		if (json_integer_value(json_object_get(p, "number")) == (json_int_t)port &&
		    duration_parse_iso8601(d, strlen(d), &ms, NULL) == 0 && ms > best)
			best = ms;
	}
	return best;
}

/* The VM's address for a port, from connectionDetails, else its first address. */
static const char *
connect_address(const struct cli_vm *vm, unsigned port)
{
	const json_t *d, *conn = json_object_get(json_object_get(json_object_get(vm->json, "properties"), "jit"),
						   "connectionDetails");
	size_t i;

	json_array_foreach(conn, i, d)
		if (json_integer_value(json_object_get(d, "port")) == (json_int_t)port && cli_json_str(d, "address", NULL))
			return cli_json_str(d, "address", NULL);
	return cli_vm_address(vm);
}

static void
initiate_print(struct cli *c, const struct cli_vm *vm, const json_t *reply)
{
	static const char *const headers[] = { "PORT", "FROM", "UNTIL", "CONNECT" };
	const json_t *v, *p;
	struct table *t = table_new(4, headers);
	size_t i, k;

	(void)c;
	cli_printf("Access to %s granted (request %s):\n", vm->arm.name, cli_json_str(reply, "id", "-"));
	json_array_foreach(json_object_get(reply, "virtualMachines"), i, v) {
		json_array_foreach(json_object_get(v, "ports"), k, p) {
			unsigned port = (unsigned)json_integer_value(json_object_get(p, "number"));
			const char *addr = connect_address(vm, port), *cells[4];
			char num[16], until[64], how[128];

			snprintf(num, sizeof(num), "%u", port);
			cli_time_local(cli_json_str(p, "endTimeUtc", NULL), until, sizeof(until));
			if (!addr)
				snprintf(how, sizeof(how), "-");
			else if (port == 22)
				snprintf(how, sizeof(how), "ssh %s", addr);
			else
				snprintf(how, sizeof(how), "%s%s%s:%u", strchr(addr, ':') ? "[" : "", addr,
					 strchr(addr, ':') ? "]" : "", port);
			cells[0] = num;
			cells[1] = cli_json_str(p, "allowedSourceAddressPrefix", "-");
			cells[2] = until;
			cells[3] = how;
			table_add(t, cells);
		}
	}
	table_print(t, stdout);
	table_free(t);
}

/*
 * Over the local unix socket the server sees no address to call "my IP". Someone
 * logged in over SSH has one, though: the SSH_CLIENT variable names it.
 */
static int
from_ssh_client(struct cli *c, char *buf, size_t size)
{
	const char *sc = getenv("SSH_CLIENT");
	size_t n = sc ? strcspn(sc, " ") : 0;

	if (!n || n >= size)
		return cli_fail(c, CLI_EXIT_USAGE,
				"--from: over the local socket the server cannot see your address; give --from ADDRESS "
				"(logged in over SSH, SSH_CLIENT would name it)");
	memcpy(buf, sc, n);
	buf[n] = '\0';
	return 0;
}

int
cli_initiate(struct cli *c, const struct cli_vm *vm, const struct cli_initiate *in)
{
	char ssh_from[64];
	const char *from = in->from;
	json_t *rules = NULL, *ports = json_array(), *body = NULL, *reply = NULL, *p;
	int64_t now = cli_now_ns();
	char path[ARM_ID_MAX + 16];
	uint16_t seen[CLI_PORTS_MAX];
	size_t n_seen = 0, i, k;
	int r;

	if (!from && c->via_socket) {
		if ((r = from_ssh_client(c, ssh_from, sizeof(ssh_from))) < 0)
			goto out;
		from = ssh_from;
	}
	if ((r = cli_vm_rules(c, vm, &rules)) < 0)
		goto out;
	if (in->n_ports) {
		for (i = 0; i < in->n_ports && i < CLI_PORTS_MAX; i++)
			seen[n_seen++] = in->ports[i];
	} else {
		json_array_foreach(rules, i, p) {
			uint16_t n = (uint16_t)json_integer_value(json_object_get(p, "number"));

			for (k = 0; k < n_seen && seen[k] != n; k++)
				;
			if (k == n_seen && n_seen < CLI_PORTS_MAX)
				seen[n_seen++] = n;
		}
	}
	if (n_seen == 0) {
		r = cli_fail(c, CLI_EXIT_REFUSED, "%s has no port rules", vm->arm.name);
		goto out;
	}
	for (i = 0; i < n_seen; i++) {
		int64_t ms = in->for_ms ? in->for_ms : rule_max_ms(rules, seen[i]), end;
		char t[TIME_FORMAT_SIZE];
		json_t *o;

		if (!ms)
			ms = CLI_DEFAULT_MAX_MS;	/* a port not in the rules: the server refuses it with its reason */
		end = in->until_ns ? in->until_ns : now + ms * TIME_NS_PER_MS;
		end -= end % TIME_NS_PER_SEC;
		if (time_format_rfc3339(end, t, sizeof(t)) < 0) {
			r = cli_fail(c, CLI_EXIT_USAGE, "the end time is out of range");
			goto out;
		}
		o = json_pack("{s:i, s:s}", "number", (json_int_t)seen[i], "endTimeUtc", t);
		if (from)
			json_object_set_new(o, "allowedSourceAddressPrefix", json_string(from));
		json_array_append_new(ports, o);
	}
	body = json_pack("{s:[{s:s, s:O}]}", "virtualMachines", "id", vm->id, "ports", ports);
	if (in->reason)
		json_object_set_new(body, "justification", json_string(in->reason));
	snprintf(path, sizeof(path), "%s/initiate", vm->policy_id);
	if ((r = cli_send(c, "POST", path, body, &reply)) < 0)
		goto out;
	if (!in->print) {
		const json_t *p0 = json_array_get(json_object_get(json_array_get(json_object_get(reply, "virtualMachines"), 0),
								  "ports"), 0);
		char until[64];

		cli_time_local(cli_json_str(p0, "endTimeUtc", NULL), until, sizeof(until));
		cli_fprintf(stderr, "%s: port %u of %s is open for %s until %s\n", c->cmd, seen[0], vm->arm.name,
			cli_json_str(p0, "allowedSourceAddressPrefix", "?"), until);
	} else if (c->output == CLI_OUT_JSON) {
		cli_print_json(reply);
	} else if (c->output == CLI_OUT_QUIET) {
		cli_printf("%s\n", cli_json_str(reply, "id", ""));
	} else {
		initiate_print(c, vm, reply);
	}
out:
	json_decref(reply);
	json_decref(body);
	json_decref(ports);
	json_decref(rules);
	return r;
}

int
cmd_request(struct cli *c, int argc, char **argv)
{
	struct request_opts o;
	struct cli_vm vm = { 0 };
	bool help;
	int argi, r;

	memset(&o, 0, sizeof(o));
	r = cli_options(c, argc, argv, "", request_options, request_option, &o, cli_help_request, &argi, &help);
	if (r < 0 || help)
		return cli_exit(c, r);
	if (argc - argi != 1)
		return cli_exit(c, cli_fail(c, CLI_EXIT_USAGE, "give one VM (see --help)"));
	if (o.in.for_ms && o.in.until_ns)
		return cli_exit(c, cli_fail(c, CLI_EXIT_USAGE, "--for and --until: give one of them"));
	if (o.in.until_ns && o.in.until_ns <= cli_now_ns())
		return cli_exit(c, cli_fail(c, CLI_EXIT_USAGE, "--until: that time has passed"));
	o.in.ports = o.ports;
	o.in.n_ports = o.n_ports;
	o.in.print = true;
	if ((r = cli_vm_resolve(c, argv[argi], &vm)) < 0)
		goto out;
	r = cli_initiate(c, &vm, &o.in);
out:
	cli_vm_clear(&vm);
	return cli_exit(c, r);
}

/* jitgate revoke: close granted ports of a VM now, optionally ending the sessions already open. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/resource.h"
#include "cli/commands.h"
#include "codec/codec.h"
#include "core/net.h"

const char cli_help_revoke[] =
	"usage: jitgate revoke VM [--port N]... [--kill-sessions]\n"
	"\n"
	"Closes the VM's granted ports at once (status Revoked, reason UserRequested): your own grants, or\n"
	"anyone's with the revoke permission (SecurityAdmin, Owner). Without --port: every port of the VM's\n"
	"rules. Open connections survive unless --kill-sessions.\n"
	"\n"
	"Example:\n"
	"  jitgate revoke vm1 --port 22 --kill-sessions\n";

#define OPT_PORT	6000
#define OPT_KILL	6001

struct revoke_opts {
	uint16_t ports[CLI_PORTS_MAX];
	size_t n_ports;
	bool kill;
};

static const struct option revoke_options[] = {
	{ "port", required_argument, NULL, OPT_PORT },
	{ "kill-sessions", no_argument, NULL, OPT_KILL },
	{ NULL, 0, NULL, 0 },
};

static int
revoke_option(struct cli *c, int opt, const char *arg, void *state)
{
	struct revoke_opts *o = state;
	uint16_t port;

	if (opt == OPT_KILL) {
		o->kill = true;
		return 0;
	}
	if (opt != OPT_PORT)
		return -EINVAL;
	if (net_port_parse(arg, strlen(arg), &port, NULL) < 0)
		return cli_fail(c, CLI_EXIT_USAGE, "--port: '%s' is not a port number (1-65535)", arg);
	if (o->n_ports >= CLI_PORTS_MAX)
		return cli_fail(c, CLI_EXIT_USAGE, "--port: at most %d ports", CLI_PORTS_MAX);
	o->ports[o->n_ports++] = port;
	return 0;
}

/* The revoke body (the codec's): the ports asked for, else each port of the VM's rules once. */
static int
revoke_body(struct cli *c, const struct cli_vm *vm, const struct revoke_opts *o, const json_t *rules, json_t **ret_body)
{
	struct revoke_body *b = codec_revoke_new(1, o->n_ports ? o->n_ports : json_array_size(rules));
	struct revoke_vm *v;
	const json_t *p;
	size_t n = 0, i, k;

	if (!b)
		return cli_fail(c, CLI_EXIT_UNREACHABLE, "out of memory");
	v = &b->vms[0];
	v->id = vm->arm;
	for (i = 0; i < o->n_ports; i++)
		v->ports[n++] = o->ports[i];
	if (!o->n_ports)
		json_array_foreach(rules, i, p) {
			uint16_t number = (uint16_t)json_integer_value(json_object_get(p, "number"));

			for (k = 0; k < n && v->ports[k] != number; k++)
				;
			if (k == n)
				v->ports[n++] = number;
		}
	v->n_ports = n;
	b->terminate_sessions = o->kill;
	*ret_body = codec_revoke_encode(b);
	codec_revoke_free(b);
	return *ret_body ? 0 : cli_fail(c, CLI_EXIT_UNREACHABLE, "out of memory");
}

int
cmd_revoke(struct cli *c, int argc, char **argv)
{
	struct revoke_opts o;
	struct cli_vm vm = { 0 };
	json_t *rules = NULL, *body = NULL, *reply = NULL;
	char path[ARM_ID_MAX + 16];
	bool help;
	int argi, r;

	memset(&o, 0, sizeof(o));
	r = cli_options(c, argc, argv, "", revoke_options, revoke_option, &o, cli_help_revoke, &argi, &help);
	if (r < 0 || help)
		goto out;
	if (argc - argi != 1) {
		r = cli_fail(c, CLI_EXIT_USAGE, "give one VM (see --help)");
		goto out;
	}
	if ((r = cli_vm_resolve(c, argv[argi], &vm)) < 0)
		goto out;
	if ((r = cli_vm_rules(c, &vm, &rules)) < 0)
		goto out;
	if ((r = revoke_body(c, &vm, &o, rules, &body)) < 0)
		goto out;
	snprintf(path, sizeof(path), "%s/revoke", vm.policy_id);
	if ((r = cli_send(c, "POST", path, body, &reply)) < 0)
		goto out;
	if (c->output == CLI_OUT_JSON)
		cli_print_json(reply);
	else if (c->output == CLI_OUT_TABLE)
		cli_printf("Revoked %lld grant(s) on %s%s%lld session(s) ended\n",
		       (long long)json_integer_value(json_object_get(reply, "revokedPorts")), vm.arm.name, "; ",
		       (long long)json_integer_value(json_object_get(reply, "terminatedSessions")));
	if (c->output == CLI_OUT_TABLE && json_is_true(json_object_get(reply, "recordPending")))
		cli_printf("The ports are closed; the server's disk refused to record it, so the record is pending\n");
out:
	json_decref(reply);
	json_decref(body);
	json_decref(rules);
	cli_vm_clear(&vm);
	return help ? 0 : cli_exit(c, r);
}

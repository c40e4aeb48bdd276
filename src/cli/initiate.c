/* Initiating access to a VM's ports and printing what opened: shared by jitgate request and jitgate ssh. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/parse.h"
#include "cli/resource.h"
#include "core/duration.h"
#include "core/timeutil.h"

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

	if (!from && c->client.via_socket) {
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

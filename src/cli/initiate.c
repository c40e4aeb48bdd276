/* Initiating access to a VM's ports and printing what opened: shared by jitgate request and jitgate ssh. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/parse.h"
#include "cli/resource.h"
#include "codec/codec.h"
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

const char *
cli_vm_connect_to(const struct cli_vm *vm, unsigned port, unsigned *ret_port)
{
	const json_t *d, *conn = json_object_get(json_object_get(json_object_get(vm->json, "properties"), "jit"),
						   "connectionDetails");
	size_t i;

	*ret_port = port;
	json_array_foreach(conn, i, d) {
		const json_t *vm_port = json_object_get(d, "vmPort");
		json_int_t p = json_integer_value(json_object_get(d, "port"));

		if (json_integer_value(vm_port ? vm_port : json_object_get(d, "port")) != (json_int_t)port ||
		    !cli_json_str(d, "address", NULL) || p < 1 || p > 65535)
			continue;
		*ret_port = (unsigned)p;
		return cli_json_str(d, "address", NULL);
	}
	return cli_vm_address(vm);
}

/* What an agent VM's agent did with the grant, for the heading: waited for (ms >= 0), not waited for, or not applied. */
struct initiate_applied {
	bool agent;			/* an agent VM */
	bool waited;			/* false: --no-wait */
	int64_t ms;			/* how long it took; -1: not applied */
};

static void
initiate_print(struct cli *c, const struct cli_vm *vm, const json_t *reply, const struct initiate_applied *ap)
{
	static const char *const headers[] = { "PORT", "FROM", "UNTIL", "CONNECT" };
	const json_t *v, *p;
	struct table *t = table_new(4, headers);
	size_t i, k;

	(void)c;
	if (!ap->agent)
		cli_printf("Access to %s granted (request %s):\n", vm->arm.name, cli_json_str(reply, "id", "-"));
	else if (!ap->waited)
		cli_printf("Access to %s granted (request %s; not waiting for its agent to apply it):\n", vm->arm.name,
			   cli_json_str(reply, "id", "-"));
	else if (ap->ms < 0)
		cli_printf("Access to %s granted (request %s) but NOT open yet: its agent has not applied it:\n",
			   vm->arm.name, cli_json_str(reply, "id", "-"));
	else
		cli_printf("Access to %s open (request %s; applied by its agent in %lld ms):\n", vm->arm.name,
			   cli_json_str(reply, "id", "-"), (long long)ap->ms);
	json_array_foreach(json_object_get(reply, "virtualMachines"), i, v) {
		json_array_foreach(json_object_get(v, "ports"), k, p) {
			unsigned port = (unsigned)json_integer_value(json_object_get(p, "number")), to;
			const char *addr = cli_vm_connect_to(vm, port, &to), *cells[4];
			char num[16], until[64], how[128];

			snprintf(num, sizeof(num), "%u", port);
			cli_time_local(cli_json_str(p, "endTimeUtc", NULL), until, sizeof(until));
			/* a port waiting for approval: its UNTIL is when the ask lapses */
			if (!strcmp(cli_json_str(p, "status", ""), "Pending"))
				snprintf(how, sizeof(how), "waits for approval (request lapses then)");
			else if (!addr)
				snprintf(how, sizeof(how), "-");
			else if (port == 22 && to == 22)
				snprintf(how, sizeof(how), "ssh %s", addr);
			else if (port == 22)	/* gateway DNAT: the gateway's public address and mapped port */
				snprintf(how, sizeof(how), "ssh -p %u %s", to, addr);
			else
				snprintf(how, sizeof(how), "%s%s%s:%u", strchr(addr, ':') ? "[" : "", addr,
					 strchr(addr, ':') ? "]" : "", to);
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

/* The ports to open: those asked for, else each port of the VM's rules once. Returns how many are in seen. */
static size_t
initiate_ports(const struct cli_initiate *in, const json_t *rules, uint16_t *seen)
{
	const json_t *p;
	size_t n_seen = 0, i, k;

	if (in->n_ports) {
		for (i = 0; i < in->n_ports && i < CLI_PORTS_MAX; i++)
			seen[n_seen++] = in->ports[i];
		return n_seen;
	}
	json_array_foreach(rules, i, p) {
		uint16_t n = (uint16_t)json_integer_value(json_object_get(p, "number"));

		for (k = 0; k < n_seen && seen[k] != n; k++)
			;
		if (k == n_seen && n_seen < CLI_PORTS_MAX)
			seen[n_seen++] = n;
	}
	return n_seen;
}

/* The ports to open in an initiate body (the codec's: it encodes what the server decodes). */
struct initiate_plan {
	const uint16_t *ports;
	size_t n_ports;
	const char *from;		/* NULL: my address */
	const json_t *rules;
	int64_t now_ns;			/* when the command started: the times count from it */
};

/*
 * Each port until --until, else now plus --for or its rule's maximum (whole seconds), from
 * `from`, with the reason as the justification. Text the codec refuses is reported as the
 * server would refuse it.
 */
static int
initiate_body(struct cli *c, const struct cli_vm *vm, const struct cli_initiate *in, const struct initiate_plan *plan,
	      json_t **ret_body)
{
	struct initiate_body *b = codec_initiate_new(1, plan->n_ports);
	struct core_error err;
	size_t i;
	int r = 0;

	if (!b)
		return cli_fail(c, CLI_EXIT_UNREACHABLE, "out of memory");
	b->vms[0].id = vm->arm;
	for (i = 0; i < plan->n_ports; i++) {
		int64_t ms = in->for_ms ? in->for_ms : rule_max_ms(plan->rules, plan->ports[i]), end;
		char t[TIME_FORMAT_SIZE];

		if (!ms)
			ms = CLI_DEFAULT_MAX_MS;	/* a port not in the rules: the server refuses it with its reason */
		end = in->until_ns ? in->until_ns : plan->now_ns + ms * TIME_NS_PER_MS;
		end -= end % TIME_NS_PER_SEC;
		if (time_format_rfc3339(end, t, sizeof(t)) < 0) {
			r = cli_fail(c, CLI_EXIT_USAGE, "the end time is out of range");
			goto out;
		}
		b->vms[0].ports[i].number = plan->ports[i];
		b->vms[0].ports[i].end_ns = end;
	}
	/* in the order the server checks them: each port's source, then the justification */
	for (i = 0; plan->from && i < plan->n_ports; i++)
		if (codec_initiate_source_set(b, 0, i, plan->from, strlen(plan->from), &err) < 0) {
			r = cli_body_refused(c, &err);
			goto out;
		}
	if (in->reason && codec_initiate_justification_set(b, in->reason, strlen(in->reason), &err) < 0) {
		r = cli_body_refused(c, &err);
		goto out;
	}
	if (!(*ret_body = codec_initiate_encode(b)))
		r = cli_fail(c, CLI_EXIT_USAGE, "cannot encode the request body");
out:
	codec_initiate_free(b);
	return r;
}

/* What opened: one line on stderr (ssh), the answer as JSON, its id, or a table. */
static void
initiate_report(struct cli *c, const struct cli_vm *vm, const struct cli_initiate *in, unsigned first_port,
		const json_t *reply, const struct initiate_applied *ap)
{
	if (!in->print) {
		if (ap->agent && ap->ms < 0)
			return;	/* nothing opened yet: the reason is printed already */
		const json_t *p0 = json_array_get(json_object_get(json_array_get(json_object_get(reply, "virtualMachines"), 0),
								  "ports"), 0);
		char until[64];

		cli_time_local(cli_json_str(p0, "endTimeUtc", NULL), until, sizeof(until));
		cli_fprintf(stderr, "%s: port %u of %s is open for %s until %s\n", c->cmd, first_port, vm->arm.name,
			cli_json_str(p0, "allowedSourceAddressPrefix", "?"), until);
	} else if (c->output == CLI_OUT_JSON) {
		cli_print_json(reply);
	} else if (c->output == CLI_OUT_QUIET) {
		cli_printf("%s\n", cli_json_str(reply, "id", ""));
	} else {
		initiate_print(c, vm, reply, ap);
	}
}

int
cli_initiate(struct cli *c, const struct cli_vm *vm, const struct cli_initiate *in)
{
	struct initiate_applied ap = { .agent = cli_vm_is_agent(vm), .waited = !in->no_wait };
	char ssh_from[64];
	json_t *rules = NULL, *body = NULL, *reply = NULL, *applied = NULL;
	char path[ARM_ID_MAX + 16];
	uint16_t seen[CLI_PORTS_MAX];
	struct initiate_plan plan = { .ports = seen, .from = in->from, .now_ns = time_now_ns() };
	int r;

	if (!plan.from && c->client.via_socket) {
		if ((r = from_ssh_client(c, ssh_from, sizeof(ssh_from))) < 0)
			goto out;
		plan.from = ssh_from;
	}
	if ((r = cli_vm_rules(c, vm, &rules)) < 0)
		goto out;
	plan.rules = rules;
	plan.n_ports = initiate_ports(in, rules, seen);
	if (plan.n_ports == 0) {
		r = cli_fail(c, CLI_EXIT_REFUSED, "%s has no port rules", vm->arm.name);
		goto out;
	}
	if ((r = initiate_body(c, vm, in, &plan, &body)) < 0)
		goto out;
	snprintf(path, sizeof(path), "%s/initiate", vm->policy_id);
	if ((r = cli_send(c, "POST", path, body, &reply)) < 0)
		goto out;
	if (ap.agent && ap.waited && (r = cli_request_wait_applied(c, vm, cli_json_str(reply, "id", ""), &applied,
								   &ap.ms)) < 0)
		ap.ms = -1;
	/* the request as the policy shows it once applied: its ports carry appliedTimeUtc */
	initiate_report(c, vm, in, seen[0], applied ? applied : reply, &ap);
out:
	json_decref(applied);
	json_decref(reply);
	json_decref(body);
	json_decref(rules);
	return r;
}

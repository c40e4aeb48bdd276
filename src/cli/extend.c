/* jitgate request VM --extend DURATION: move the end of my open grants on a VM later, by the policy's extend action. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/resource.h"
#include "codec/codec.h"
#include "core/timeutil.h"

/* Is this port asked for (none asked: every port)? */
static bool
port_wanted(const struct cli_extend *x, uint16_t port)
{
	size_t i;

	for (i = 0; i < x->n_ports; i++)
		if (x->ports[i] == port)
			return true;
	return x->n_ports == 0;
}

/* Fill b's ports: each port of vm I hold open, its latest end plus x->by_ms. Returns how many. */
static size_t
extend_plan(const struct cli_vm *vm, const json_t *pol, const char *me, const struct cli_extend *x,
	    struct initiate_body *b, int64_t now)
{
	const json_t *req, *v, *p;
	size_t i, k, l, n = 0, m;

	json_array_foreach(json_object_get(json_object_get(pol, "properties"), "requests"), i, req) {
		if (strcmp(cli_json_str(req, "requestor", ""), me))
			continue;
		json_array_foreach(json_object_get(req, "virtualMachines"), k, v) {
			const char *id = cli_json_str(v, "id", "");
			struct arm_vm_id got;

			if (arm_vm_id_parse(id, strlen(id), &got, NULL) < 0 || !arm_vm_id_equal(&got, &vm->arm))
				continue;
			json_array_foreach(json_object_get(v, "ports"), l, p) {
				const char *end = cli_json_str(p, "endTimeUtc", "");
				uint16_t port = (uint16_t)json_integer_value(json_object_get(p, "number"));
				int64_t end_ns;

				if (strcmp(cli_json_str(p, "status", ""), "Initiated") || !port_wanted(x, port) ||
				    time_parse_rfc3339(end, strlen(end), &end_ns, NULL) < 0 || end_ns <= now)
					continue;
				for (m = 0; m < n && b->vms[0].ports[m].number != port; m++)
					;
				if (m == n && n == b->vms[0].n_ports)
					continue;
				if (m == n)
					b->vms[0].ports[n++].number = port;
				if (end_ns + x->by_ms * TIME_NS_PER_MS > b->vms[0].ports[m].end_ns)
					b->vms[0].ports[m].end_ns = end_ns + x->by_ms * TIME_NS_PER_MS;
			}
		}
	}
	b->vms[0].n_ports = n;
	return n;
}

static void
extend_print(const struct cli_vm *vm, const struct initiate_body *b)
{
	size_t j;

	for (j = 0; j < b->vms[0].n_ports; j++) {
		char until[64];

		cli_time_local_ns(b->vms[0].ports[j].end_ns, until, sizeof(until));
		cli_printf("Port %u of %s extended until %s\n", b->vms[0].ports[j].number, vm->arm.name, until);
	}
}

int
cli_extend(struct cli *c, const struct cli_vm *vm, const struct cli_extend *x)
{
	struct initiate_body *b = codec_initiate_new(1, CLI_PORTS_MAX);
	json_t *who = NULL, *pol = NULL, *body = NULL, *reply = NULL;	/* who: borrowed from the client */
	char path[ARM_ID_MAX + 16];
	int r;

	if (!b) {
		r = cli_fail(c, CLI_EXIT_UNREACHABLE, "out of memory");
		goto out;
	}
	if (!vm->policy_id[0]) {
		r = cli_fail(c, CLI_EXIT_REFUSED, "%s is not configured for JIT access", vm->arm.name);
		goto out;
	}
	if ((r = cli_whoami(c, &who)) < 0 || (r = cli_get(c, vm->policy_id, NULL, &pol)) < 0)
		goto out;
	b->vms[0].id = vm->arm;
	if (!extend_plan(vm, pol, cli_json_str(who, "name", ""), x, b, time_now_ns())) {
		r = cli_fail(c, CLI_EXIT_REFUSED, "you hold no open grant on %s%s to extend", vm->arm.name,
			     x->n_ports ? " for those ports" : "");
		goto out;
	}
	if (!(body = codec_initiate_encode(b))) {
		r = cli_fail(c, CLI_EXIT_UNREACHABLE, "out of memory");
		goto out;
	}
	snprintf(path, sizeof(path), "%s/extend", vm->policy_id);
	if ((r = cli_send(c, "POST", path, body, &reply)) < 0)
		goto out;
	if (c->output == CLI_OUT_JSON)
		cli_print_json(reply);
	else if (c->output == CLI_OUT_TABLE && json_integer_value(json_object_get(reply, "pendingPorts")) > 0)
		cli_printf("%lld port(s) of %s extended; %lld need approval to be: request %s waits (see jitgate approvals)\n",
			   (long long)json_integer_value(json_object_get(reply, "extendedPorts")), vm->arm.name,
			   (long long)json_integer_value(json_object_get(reply, "pendingPorts")),
			   cli_json_str(reply, "requestId", "-"));
	else if (c->output == CLI_OUT_TABLE)
		extend_print(vm, b);
out:
	json_decref(reply);
	json_decref(body);
	json_decref(pol);
	codec_initiate_free(b);
	return r;
}

/* jitgate requests: the requests of the last 7 days and the live ones, from every policy the caller may read. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/resource.h"
#include "cli/commands.h"

const char cli_help_requests[] =
	"usage: jitgate requests [--active] [--vm VM]\n"
	"\n"
	"Lists requests (live ones and those of the last 7 days) with id, requestor, VM, port, source, end\n"
	"time and status. --active: only ports still open; --vm: one VM's. -q prints request ids.\n"
	"\n"
	"Example:\n"
	"  jitgate requests --active --vm vm1\n";

#define OPT_ACTIVE	7000
#define OPT_VM		7001

struct requests_opts {
	bool active;
	const char *vm;
};

static const struct option requests_options[] = {
	{ "active", no_argument, NULL, OPT_ACTIVE },
	{ "vm", required_argument, NULL, OPT_VM },
	{ NULL, 0, NULL, 0 },
};

static int
requests_option(struct cli *c, int opt, const char *arg, void *state)
{
	struct requests_opts *o = state;

	(void)c;
	if (opt == OPT_ACTIVE)
		o->active = true;
	else if (opt == OPT_VM)
		o->vm = arg;
	else
		return -EINVAL;
	return 0;
}

/* What the walk over every policy's requests keeps: the rows to show and, for JSON, the requests they come from. */
struct requests_walk {
	const struct requests_opts *o;
	struct arm_vm_id want;		/* --vm's, when given */
	struct table *t;
	json_t *out;			/* the requests kept, each with the VMs and ports shown */
};

/* One port of a request as a row of the table. */
static void
port_row(struct table *t, const json_t *req, const char *vm_id, const json_t *p)
{
	char num[16], until[64], status[96];
	const char *cells[7];

	snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(json_object_get(p, "number")));
	cli_time_local(cli_json_str(p, "endTimeUtc", NULL), until, sizeof(until));
	snprintf(status, sizeof(status), "%s/%s", cli_json_str(p, "status", "?"), cli_json_str(p, "statusReason", "?"));
	cells[0] = cli_json_str(req, "id", "");
	cells[1] = cli_json_str(req, "requestor", "");
	cells[2] = cli_id_name(vm_id);
	cells[3] = num;
	cells[4] = cli_json_str(p, "allowedSourceAddressPrefix", "");
	cells[5] = until;
	cells[6] = status;
	table_add(t, cells);
}

/* The ports of one VM of a request that the options keep, each added as a row; NULL when none is kept. */
static json_t *
vm_ports_kept(struct requests_walk *w, const json_t *req, const json_t *v)
{
	const char *id = cli_json_str(v, "id", "");
	struct arm_vm_id got;
	json_t *kports, *p;
	size_t l;

	if (w->o->vm && (arm_vm_id_parse(id, strlen(id), &got, NULL) < 0 || !arm_vm_id_equal(&w->want, &got)))
		return NULL;
	kports = json_array();
	json_array_foreach(json_object_get(v, "ports"), l, p) {
		if (w->o->active && strcmp(cli_json_str(p, "status", ""), "Initiated"))
			continue;
		json_array_append(kports, p);
		port_row(w->t, req, id, p);
	}
	if (!json_array_size(kports)) {
		json_decref(kports);
		return NULL;
	}
	return kports;
}

/* One request of a policy: its kept VMs and ports as rows, and the request (with only those, and its policy's id) in out. */
static void
request_walk(struct requests_walk *w, const json_t *pol, const json_t *req)
{
	json_t *kept = json_deep_copy(req), *kvms = json_array(), *v, *kports;
	size_t k;

	json_array_foreach(json_object_get(req, "virtualMachines"), k, v) {
		if ((kports = vm_ports_kept(w, req, v)))
			json_array_append_new(kvms, json_pack("{s:s, s:o}", "id", cli_json_str(v, "id", ""), "ports", kports));
	}
	if (json_array_size(kvms)) {
		json_object_set_new(kept, "virtualMachines", kvms);
		json_object_set_new(kept, "policyId", json_string(cli_json_str(pol, "id", "")));
		json_array_append_new(w->out, kept);
	} else {
		json_decref(kvms);
		json_decref(kept);
	}
}

static void
requests_print(struct cli *c, const struct requests_walk *w)
{
	json_t *req;
	size_t i;

	if (c->output == CLI_OUT_JSON) {
		cli_print_list_json(w->out);
	} else if (c->output == CLI_OUT_QUIET) {
		json_array_foreach(w->out, i, req)
			cli_printf("%s\n", cli_json_str(req, "id", ""));
	} else {
		table_print(w->t, stdout);
	}
}

int
cmd_requests(struct cli *c, int argc, char **argv)
{
	static const char *const headers[] = { "ID", "REQUESTOR", "VM", "PORT", "SOURCE", "UNTIL", "STATUS" };
	struct requests_opts o = { 0 };
	struct requests_walk w = { .o = &o };
	struct cli_vm vm = { 0 };
	json_t *pols = NULL, *pol, *req;
	char path[ARM_ID_MAX + 64];
	bool help;
	int argi, r;
	size_t i, j;

	w.out = json_array();
	r = cli_options(c, argc, argv, "", requests_options, requests_option, &o, cli_help_requests, &argi, &help);
	if (r < 0 || help)
		goto out;
	if (argc - argi) {
		r = cli_fail(c, CLI_EXIT_USAGE, "no arguments expected (see --help)");
		goto out;
	}
	if (o.vm) {
		if ((r = cli_vm_resolve(c, o.vm, &vm)) < 0)
			goto out;
		w.want = vm.arm;
	}
	if ((r = cli_connect(c)) < 0)
		goto out;
	snprintf(path, sizeof(path), "/subscriptions/%s/providers/Microsoft.Security/jitNetworkAccessPolicies",
		 c->client.subscription);
	if ((r = cli_list(c, path, NULL, &pols)) < 0)
		goto out;
	w.t = table_new(7, headers);
	json_array_foreach(pols, i, pol) {
		json_array_foreach(json_object_get(json_object_get(pol, "properties"), "requests"), j, req)
			request_walk(&w, pol, req);
	}
	requests_print(c, &w);
out:
	table_free(w.t);
	json_decref(w.out);
	json_decref(pols);
	cli_vm_clear(&vm);
	return help ? 0 : cli_exit(c, r);
}

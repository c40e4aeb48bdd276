/* jitgate approvals, approve and deny: the requests that wait for approval, and an approver's decision on one. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/resource.h"
#include "cli/commands.h"
#include "codec/codec.h"

const char cli_help_approvals[] =
	"usage: jitgate approvals\n"
	"\n"
	"Lists the requests that wait for approval and that you may see: id, requestor, the ports asked for,\n"
	"approvals so far and needed, when the request lapses (local time), and whether you may decide it.\n"
	"-q prints the request ids.\n"
	"\n"
	"Example:\n"
	"  jitgate approvals\n";

const char cli_help_approve[] =
	"usage: jitgate approve ID [--reason TEXT]\n"
	"\n"
	"Approves the waiting request ID (see jitgate approvals) as one of its approvers: a caller with the\n"
	"role the port's rule names, at its scope or above. Nobody approves their own request, and each\n"
	"approver counts once. With the last approval the ports open for the time asked for, from now.\n"
	"\n"
	"Example:\n"
	"  jitgate approve 3f1c0c3e-5b7e-4f7a-9d1e-0c2b6d1f9a10 --reason 'change 4711'\n";

const char cli_help_deny[] =
	"usage: jitgate deny ID --reason TEXT\n"
	"\n"
	"Denies the waiting request ID: its ports never open (Revoked, reason Denied). The reason is\n"
	"required; the requester sees it in the activity log.\n"
	"\n"
	"Example:\n"
	"  jitgate deny 3f1c0c3e-5b7e-4f7a-9d1e-0c2b6d1f9a10 --reason 'not during the freeze'\n";

#define OPT_REASON	8000

static const struct option decide_options[] = {
	{ "reason", required_argument, NULL, OPT_REASON },
	{ NULL, 0, NULL, 0 },
};

static int
decide_option(struct cli *c, int opt, const char *arg, void *state)
{
	(void)c;
	if (opt != OPT_REASON)
		return -EINVAL;
	*(const char **)state = arg;
	return 0;
}

/* "vm1:22,3389 vm2:22" for the ports of one waiting request */
static void
ports_text(const json_t *item, char *buf, size_t size)
{
	const json_t *v, *p;
	size_t i, k, used = 0;

	buf[0] = '\0';
	json_array_foreach(json_object_get(item, "virtualMachines"), i, v) {
		int n = snprintf(buf + used, size - used, "%s%s:", i ? " " : "", cli_id_name(cli_json_str(v, "id", "")));

		if (n < 0 || (size_t)n >= size - used)
			return;
		used += (size_t)n;
		json_array_foreach(json_object_get(v, "ports"), k, p) {
			n = snprintf(buf + used, size - used, "%s%lld", k ? "," : "",
				     (long long)json_integer_value(json_object_get(p, "number")));
			if (n < 0 || (size_t)n >= size - used)
				return;
			used += (size_t)n;
		}
	}
}

static void
approval_row(json_t *item, const char **cells, char scratch[2][CLI_ROW_SCRATCH])
{
	static char ports[CLI_ROW_SCRATCH], lapses[CLI_ROW_SCRATCH];

	ports_text(item, ports, sizeof(ports));
	snprintf(scratch[0], CLI_ROW_SCRATCH, "%lld/%lld", (long long)json_integer_value(json_object_get(item, "approvals")),
		 (long long)json_integer_value(json_object_get(item, "approvalsRequired")));
	cli_time_local(cli_json_str(item, "expiresTimeUtc", NULL), lapses, sizeof(lapses));
	cells[0] = cli_json_str(item, "requestId", "");
	cells[1] = cli_json_str(item, "requestor", "");
	cells[2] = ports;
	cells[3] = scratch[0];
	cells[4] = lapses;
	cells[5] = json_is_true(json_object_get(item, "canApprove")) ? "yes" : "no";
	cells[6] = cli_json_str(item, "justification", "");
}

static int
approvals_get(struct cli *c, json_t **ret)
{
	char path[ARM_ID_MAX + 64];
	int r;

	if ((r = cli_connect(c)) < 0)
		return r;
	snprintf(path, sizeof(path), "/subscriptions/%s/providers/Jitgate/approvals", c->client.subscription);
	return cli_list(c, path, NULL, ret);
}

int
cmd_approvals(struct cli *c, int argc, char **argv)
{
	static const char *const headers[] = { "ID", "REQUESTOR", "PORTS", "APPROVALS", "LAPSES", "YOU MAY", "REASON" };
	json_t *list = NULL;
	bool help;
	int argi, r;

	r = cli_options(c, argc, argv, "", NULL, NULL, NULL, cli_help_approvals, &argi, &help);
	if (r < 0 || help)
		return cli_exit(c, r);
	if (argc != argi)
		return cli_exit(c, cli_fail(c, CLI_EXIT_USAGE, "approvals takes no arguments (see --help)"));
	if ((r = approvals_get(c, &list)) < 0)
		return cli_exit(c, r);
	cli_list_print(c, list, headers, 7, "requestId", approval_row);
	return cli_exit(c, 0);
}

/* approve or deny ID: the request's policy from the list of waiting ones, then its action. */
static int
decide(struct cli *c, int argc, char **argv, const char *action, const char *help_text)
{
	struct approval_body b;
	const char *reason = NULL, *policy = NULL;
	json_t *list = NULL, *body = NULL, *reply = NULL, *item;
	char path[ARM_ID_MAX + 16];
	bool help, deny = !strcmp(action, "deny");
	size_t i;
	int argi, r;

	r = cli_options(c, argc, argv, "", decide_options, decide_option, &reason, help_text, &argi, &help);
	if (r < 0 || help)
		goto out;
	if (argc - argi != 1) {
		r = cli_fail(c, CLI_EXIT_USAGE, "give one request id (see jitgate approvals)");
		goto out;
	}
	if (deny && (!reason || !reason[0])) {
		r = cli_fail(c, CLI_EXIT_USAGE, "--reason: a denial needs a reason");
		goto out;
	}
	memset(&b, 0, sizeof(b));
	if (strlen(argv[argi]) >= sizeof(b.request_id) || (reason && strlen(reason) >= sizeof(b.reason))) {
		r = cli_fail(c, CLI_EXIT_USAGE, "%s is too long (request id %d, --reason %d bytes at most)",
			     strlen(argv[argi]) >= sizeof(b.request_id) ? "the request id" : "--reason",
			     API_APPROVAL_ID_MAX, API_APPROVAL_REASON_MAX);
		goto out;
	}
	snprintf(b.request_id, sizeof(b.request_id), "%s", argv[argi]);
	snprintf(b.reason, sizeof(b.reason), "%s", reason ? reason : "");
	if ((r = approvals_get(c, &list)) < 0)
		goto out;
	json_array_foreach(list, i, item)
		if (!strcmp(cli_json_str(item, "requestId", ""), b.request_id))
			policy = cli_json_str(item, "policy", NULL);
	if (!policy) {
		r = cli_fail(c, CLI_EXIT_REFUSED, "no request %s waits for approval (jitgate approvals lists them)",
			     b.request_id);
		goto out;
	}
	snprintf(path, sizeof(path), "%s/%s", policy, action);
	if (!(body = codec_approval_encode(&b))) {
		r = cli_fail(c, CLI_EXIT_UNREACHABLE, "out of memory");
		goto out;
	}
	if ((r = cli_send(c, "POST", path, body, &reply)) < 0)
		goto out;
	if (c->output == CLI_OUT_JSON)
		cli_print_json(reply);
	else if (c->output == CLI_OUT_TABLE && deny)
		cli_printf("Request %s denied\n", b.request_id);
	else if (c->output == CLI_OUT_TABLE)
		cli_printf("Request %s: approval %lld of %lld%s\n", b.request_id,
			   (long long)json_integer_value(json_object_get(reply, "approvals")),
			   (long long)json_integer_value(json_object_get(reply, "approvalsRequired")),
			   strcmp(cli_json_str(reply, "status", ""), "Approved") ? "; it waits for more" :
			   "; its ports are open now");
out:
	json_decref(reply);
	json_decref(body);
	json_decref(list);
	return help ? 0 : cli_exit(c, r);
}

int
cmd_approve(struct cli *c, int argc, char **argv)
{
	return decide(c, argc, argv, "approve", cli_help_approve);
}

int
cmd_deny(struct cli *c, int argc, char **argv)
{
	return decide(c, argc, argv, "deny", cli_help_deny);
}

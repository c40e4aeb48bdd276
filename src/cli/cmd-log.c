/* jitgate log: the activity log, filtered by VM, caller and time, as a table, JSON or CSV. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/parse.h"
#include "cli/commands.h"
#include "core/timeutil.h"

const char cli_help_log[] =
	"usage: jitgate log [--vm VM] [--caller WHO] [--since DURATION|TIME] [--until TIME] [--top N] [--csv]\n"
	"\n"
	"The activity log, newest first: every change, request (granted or refused, with the reason), expiry,\n"
	"revoke and failed sign-in. --vm takes a name or an id; --caller a caller as the log writes it\n"
	"(token:NAME, root); --since 1h means the last hour. --csv prints the server's CSV download.\n"
	"\n"
	"Example:\n"
	"  jitgate log --vm vm1 --since 24h\n"
	"  jitgate log --since 2025-03-01T00:00:00Z --csv > march.csv\n";

#define OPT_VM		8000
#define OPT_CALLER	8001
#define OPT_SINCE	8002
#define OPT_UNTIL	8003
#define OPT_CSV		8004
#define OPT_TOP		8005

struct log_opts {
	const char *vm, *caller, *top;
	int64_t since_ns, until_ns;
	bool csv;
};

static const struct option log_options[] = {
	{ "vm", required_argument, NULL, OPT_VM },
	{ "caller", required_argument, NULL, OPT_CALLER },
	{ "since", required_argument, NULL, OPT_SINCE },
	{ "until", required_argument, NULL, OPT_UNTIL },
	{ "csv", no_argument, NULL, OPT_CSV },
	{ "top", required_argument, NULL, OPT_TOP },
	{ NULL, 0, NULL, 0 },
};

static int
log_option(struct cli *c, int opt, const char *arg, void *state)
{
	struct log_opts *o = state;
	size_t n = arg ? strlen(arg) : 0;

	switch (opt) {
	case OPT_VM:
		o->vm = arg;
		return 0;
	case OPT_CALLER:
		o->caller = arg;
		return 0;
	case OPT_SINCE:
		if (cli_when_parse(arg, time_now_ns(), &o->since_ns) < 0)
			return cli_fail(c, CLI_EXIT_USAGE, "--since: '%s' is not a duration or a time (try 1h, 7d, "
							   "2025-03-01T00:00:00Z)", arg);
		return 0;
	case OPT_UNTIL:
		if (cli_when_parse(arg, time_now_ns(), &o->until_ns) < 0)
			return cli_fail(c, CLI_EXIT_USAGE, "--until: '%s' is not a time (try 2025-03-01T00:00:00Z)", arg);
		return 0;
	case OPT_CSV:
		o->csv = true;
		return 0;
	case OPT_TOP:
		if (n == 0 || n > 6 || strspn(arg, "0123456789") != n || arg[0] == '0')
			return cli_fail(c, CLI_EXIT_USAGE, "--top: '%s' is not a count", arg);
		o->top = arg;
		return 0;
	}
	return -EINVAL;
}

/* "Microsoft.Security/locations/jitNetworkAccessPolicies/initiate/action" → "initiate/action" */
static const char *
short_operation(const char *op)
{
	static const char prefix[] = "Microsoft.Security/locations/jitNetworkAccessPolicies/";

	return !strncmp(op, prefix, sizeof(prefix) - 1) && op[sizeof(prefix) - 1] ? op + sizeof(prefix) - 1 : op;
}

/* The filters as the activity log's query ("vm=...&since=..."): 0, or a negative errno when it does not fit. */
static int
log_query(const struct log_opts *o, struct buf *q)
{
	char when[TIME_FORMAT_SIZE];
	int r = 0;

	if (o->vm)
		r = r ?: client_query_add(q, "vm", o->vm);
	if (o->caller)
		r = r ?: client_query_add(q, "caller", o->caller);
	if (o->since_ns && time_format_rfc3339(o->since_ns, when, sizeof(when)) > 0)
		r = r ?: client_query_add(q, "since", when);
	if (o->until_ns && time_format_rfc3339(o->until_ns, when, sizeof(when)) > 0)
		r = r ?: client_query_add(q, "until", when);
	if (o->top)
		r = r ?: client_query_add(q, "$top", o->top);
	if (o->csv)
		r = r ?: client_query_add(q, "format", "csv");
	return r;
}

/* The entries as a table, or their ids with -q. */
static void
log_print(struct cli *c, const json_t *entries)
{
	static const char *const headers[] = { "TIME", "CALLER", "ADDRESS", "OPERATION", "RESOURCE", "STATUS", "DETAIL" };
	struct table *t = table_new(7, headers);
	json_t *e;
	size_t i;

	json_array_foreach(entries, i, e) {
		char time[64], id[24];
		const char *cells[7];

		if (c->output == CLI_OUT_QUIET) {
			snprintf(id, sizeof(id), "%lld", (long long)json_integer_value(json_object_get(e, "id")));
			cli_printf("%s\n", id);
			continue;
		}
		cli_time_local(cli_json_str(e, "timeUtc", NULL), time, sizeof(time));
		cells[0] = time;
		cells[1] = cli_json_str(e, "caller", "");
		cells[2] = cli_json_str(e, "callerAddress", "");
		cells[3] = short_operation(cli_json_str(e, "operation", ""));
		cells[4] = cli_id_name(cli_json_str(e, "resourceId", ""));
		cells[5] = cli_json_str(e, "status", "");
		cells[6] = cli_json_str(e, "detail", "");
		table_add(t, cells);
	}
	if (c->output != CLI_OUT_QUIET)
		table_print(t, stdout);
	table_free(t);
}

int
cmd_log(struct cli *c, int argc, char **argv)
{
	struct log_opts o = { 0 };
	struct buf q = { 0 };
	struct client_reply rep = { 0 };
	char path[ARM_ID_MAX + 64];
	bool help;
	int argi, r;

	r = cli_options(c, argc, argv, "", log_options, log_option, &o, cli_help_log, &argi, &help);
	if (r < 0 || help)
		goto out;
	if (argc - argi) {
		r = cli_fail(c, CLI_EXIT_USAGE, "no arguments expected (see --help)");
		goto out;
	}
	if ((r = cli_connect(c)) < 0)
		goto out;
	if ((r = log_query(&o, &q)) < 0) {
		r = cli_fail(c, CLI_EXIT_USAGE, "the query is too long");
		goto out;
	}
	snprintf(path, sizeof(path), "/subscriptions/%s/providers/Microsoft.Security/jitActivityLog", c->client.subscription);
	r = cli_call(c, "GET", path, q.data, NULL, NULL, NULL, &rep);
	if (r == -EREMOTE)
		cli_report(c, &rep);
	if (r < 0)
		goto out;
	if (o.csv)
		cli_write_document(stdout, rep.body, rep.body_len);
	else if (c->output == CLI_OUT_JSON)
		cli_print_json(rep.json);
	else
		log_print(c, json_object_get(rep.json, "value"));
out:
	client_reply_clear(&rep);
	buf_free(&q);
	return help ? 0 : cli_exit(c, r);
}

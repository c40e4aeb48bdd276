/* jitgate-agent's front door: the command line and its subcommands (run, show, facts, rotate). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/agent-host.h"
#include "agent/agent-state.h"
#include "client/client.h"
#include "codec/codec.h"
#include "core/timeutil.h"
#include "fw/fw.h"

#define OS_RELEASE_PATH	"/etc/os-release"
#define OS_RELEASE_FALLBACK "/usr/lib/os-release"	/* os-release(5): read when /etc has none */

static const char usage[] =
	"usage: jitgate-agent join --server URL [--server URL ...] --token JOIN (--ca FILE | --ca-fingerprint SHA256)\n"
	"                          [--name NAME] [--state-dir DIR] [--max-disconnected PT4H] [--force]\n"
	"       jitgate-agent run [--state-dir DIR] [--user NAME | --no-sandbox]\n"
	"       jitgate-agent show [--state-dir DIR]\n"
	"       jitgate-agent rotate [--state-dir DIR]\n"
	"       jitgate-agent facts [--state-dir DIR]\n"
	"       jitgate-agent --help | --version\n"
	"\n"
	"  join   register this host as a VM with a join token (--token - reads it from stdin); writes\n"
	"         DIR/agent.conf and DIR/credential\n"
	"         (0600) only when the server accepts (exit 3: token refused, 4: name taken or joined already)\n"
	"  run    enforce the saved state (DIR/state.json) at once, undo tampering with the table, and keep\n"
	"         enforcing until SIGTERM; as root it becomes NAME (default " AGENT_USER_DEFAULT ") with\n"
	"         CAP_NET_ADMIN alone, no_new_privs and a seccomp allow-list; watches the server for new states\n"
	"  show   print what the saved state enforces\n"
	"  rotate get a new credential from the server and end the old one (a running agent follows)\n"
	"  facts  print this host's status as the agent reports it (JSON)\n"
	"\n"
	"DIR defaults to " AGENT_STATE_DIR_DEFAULT ". See jitgate-agent(8).\n";

/* A message naming the option at fault, then the usage: exit status 2. */
static int bad_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
bad_usage(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("jitgate-agent: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	fputs(usage, stderr);
	va_end(ap);
	return AGENT_EXIT_USAGE;
}

enum { OPT_STATE_DIR = 1, OPT_USER, OPT_NO_SANDBOX };

/* The options of a subcommand: --state-dir for all, --user and --no-sandbox for run only. */
static int
options_parse(int argc, char **argv, bool for_run, struct agent_run_opts *o)
{
	static const struct option opts[] = {
		{ "state-dir", required_argument, NULL, OPT_STATE_DIR },
		{ "user", required_argument, NULL, OPT_USER },
		{ "no-sandbox", no_argument, NULL, OPT_NO_SANDBOX },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	o->state_dir = AGENT_STATE_DIR_DEFAULT;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+:", opts, NULL)) != -1) {
		switch (c) {
		case OPT_STATE_DIR:
			if (optarg[0] == '\0')
				return bad_usage("%s needs a directory", "--state-dir");
			o->state_dir = optarg;
			break;
		case OPT_USER:
		case OPT_NO_SANDBOX:
			if (!for_run)
				return bad_usage("%s is an option of run only", argv[optind - 1]);
			if (c == OPT_USER)
				o->user = optarg;
			else
				o->no_sandbox = true;
			break;
		case ':':
			return bad_usage("%s needs a value", argv[optind - 1]);
		default:
			return bad_usage("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return bad_usage("unexpected argument '%s'", argv[optind]);
	if (o->user && o->no_sandbox)
		return bad_usage("%s and --no-sandbox exclude each other", "--user");
	return 0;
}

static int
cmd_run(int argc, char **argv)
{
	struct agent_run_opts o = { 0 };
	int r;

	if ((r = options_parse(argc, argv, true, &o)) != 0)
		return r;
	return agent_run(&o);
}

static void
print_time(const char *label, int64_t ms, int64_t now)
{
	char t[TIME_FORMAT_SIZE];

	if (time_format_rfc3339(time_ms_to_ns(ms), t, sizeof(t)) < 0)
		snprintf(t, sizeof(t), "(out of range)");
	if (ms > now)
		printf("%s %s (in %lld s)", label, t, (long long)((ms - now + 999) / 1000));
	else
		printf("%s %s (ended)", label, t);
}

static int
cmd_show(int argc, char **argv)
{
	struct agent_run_opts o = { 0 };
	struct core_error err = { 0 };
	struct agent_conf conf;
	struct agent_state *s = NULL;
	struct agent_fw f = { 0 };
	int64_t received, now = time_now_ms();
	bool voided;
	size_t i;
	int dfd, r, status = AGENT_EXIT_FAIL;

	if ((r = options_parse(argc, argv, false, &o)) != 0)
		return r;
	if ((dfd = open(o.state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		agent_log("cannot open the state directory %s: %s", o.state_dir, strerror(errno));
		return AGENT_EXIT_FAIL;
	}
	if (agent_conf_load(dfd, &conf, &err) < 0) {
		agent_log("%s: %s", err.target, err.message);
		goto out;
	}
	printf("vm: %s\n", conf.vm);
	for (i = 0; i < conf.n_servers; i++)
		printf("server: %s\n", conf.servers[i]);
	if ((r = agent_state_load(dfd, &s, &received, &voided, &err)) == -ENOENT) {
		printf("no saved state: nothing is enforced by this agent yet\n");
		status = AGENT_EXIT_OK;
		goto out;
	}
	if (r < 0) {
		agent_log("%s: %s", err.target, err.message);
		goto out;
	}
	if (agent_state_to_fw(s, conf.vm, received, now, &f, &err) < 0) {
		agent_log("the saved state is refused (%s): %s", err.code, err.message);
		goto out;
	}
	printf("revision: %lld, ", (long long)s->revision);
	print_time("received", received, 0);
	printf("\nprotected:");
	for (i = 0; i < s->n_ports; i++)
		printf(" %s/%u", net_proto_name(s->ports[i].proto), s->ports[i].number);
	printf("%s\ngrants: %zu%s\n", s->n_ports ? "" : " none", s->n_grants,
	       voided ? " (a newer state could not be saved: the saved grants are void until a server answers)" : "");
	for (i = 0; i < f.n_grants; i++) {
		char src[NET_PREFIX_TEXT_MAX];

		net_source_format(&f.grants[i].source, src, sizeof(src));
		printf("  %s from %s to %s/%u, ", f.grants[i].request_id, src, net_proto_name(f.grants[i].proto),
		       f.grants[i].port);
		print_time("ends", f.grants[i].end_ms, now);
		putchar('\n');
	}
	status = AGENT_EXIT_OK;
out:
	agent_fw_free(&f);
	codec_agent_state_free(s);
	close(dfd);
	return status;
}

/* The status an agent posts, from this host as it is now and the saved state's ports. */
static int
cmd_facts(int argc, char **argv)
{
	struct agent_run_opts o = { 0 };
	struct agent a = { .dirfd = -1, .sfd = -1, .applied_revision = -1 };
	struct agent_status st;
	struct agent_os os;
	struct agent_join j;
	json_t *v;
	char *text, name[ARM_VM_NAME_MAX + 1];
	size_t n;
	int dfd, r;

	if ((r = options_parse(argc, argv, false, &o)) != 0)
		return r;
	/* the saved state's ports count as policy ports; no state is no extra ports */
	if ((dfd = open(o.state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		if (agent_state_load(dfd, &a.state, &a.received_ms, NULL, NULL) < 0)
			a.state = NULL;
		close(dfd);
	}
	agent_status_fill(&a, &st);
	codec_agent_state_free(a.state);
	if (agent_os_read(OS_RELEASE_PATH, &os) < 0 && agent_os_read(OS_RELEASE_FALLBACK, &os) < 0)
		memset(&os, 0, sizeof(os));
	if (agent_hostname_short(name, sizeof(name)) < 0)
		snprintf(name, sizeof(name), "unknown");
	memset(&j, 0, sizeof(j));
	snprintf(j.name, sizeof(j.name), "%s", name);
	snprintf(j.os_type, sizeof(j.os_type), "Linux");
	j.status = st;
	if (!(v = codec_agent_join_encode(&j)))
		return AGENT_EXIT_FAIL;
	/* os-release's words are not part of the wire's join; shown here for the operator */
	json_object_set_new(v, "osId", json_string(os.id));
	json_object_set_new(v, "osPrettyName", json_string(os.pretty_name));
	text = codec_dump(v, &n);
	json_decref(v);
	if (!text)
		return AGENT_EXIT_FAIL;
	printf("%s\n", text);
	free(text);
	return AGENT_EXIT_OK;
}

static int
cmd_rotate(int argc, char **argv)
{
	struct agent_run_opts o = { 0 };
	int r;

	if ((r = options_parse(argc, argv, false, &o)) != 0)
		return r;
	return agent_rotate_main(o.state_dir);
}

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
} commands[] = {
	{ "join", agent_join_main },
	{ "run", cmd_run },
	{ "show", cmd_show },
	{ "facts", cmd_facts },
	{ "rotate", cmd_rotate },
};

int
main(int argc, char **argv)
{
	size_t i;

	if (argc < 2)
		return bad_usage("%s", "a subcommand is needed");
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
		fputs(usage, stdout);
		return AGENT_EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("jitgate-agent %s\n", AGENT_VERSION);
		return AGENT_EXIT_OK;
	}
	/*
	 * The agent idles between a few batches a minute, and its resident size counts: the run loop lets
	 * libnftables' cache go when idle (AGENT_LEAN_IDLE_MS), and glibc's threshold is fixed (not raised by
	 * the first large free) so that the cache's tables come and go as their own mappings instead of
	 * leaving the heap's high-water mark.
	 */
	mallopt(M_MMAP_THRESHOLD, AGENT_MMAP_THRESHOLD);
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].fn(argc - 1, argv + 1);
	return bad_usage("unknown subcommand '%s'", argv[1]);
}

/* `jitgate-agent join`: register this host with jitgated by a join token; agent.conf and the credential only after a 201. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/agent-floor.h"
#include "agent/agent-host.h"
#include "agent/agent-net.h"
#include "agent/agent-state.h"
#include "client/client-agent.h"
#include "codec/codec.h"
#include "core/armid.h"
#include "core/duration.h"

#define STATE_DIR_MODE	0700
#define PLACEHOLDER_VM	"/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/join/providers/" \
			"Microsoft.Compute/virtualMachines/join"

struct join_opts {
	const char *servers[AGENT_SERVERS_MAX];
	size_t n_servers;
	const char *token, *ca, *fingerprint, *name, *state_dir, *max_disconnected;
	bool force;
};

static int
join_usage(const char *what, const char *arg)
{
	fprintf(stderr, "jitgate-agent: %s%s%s\nusage: jitgate-agent join --server URL [--server URL ...] --token JOIN "
		"(--ca FILE | --ca-fingerprint SHA256) [--name NAME] [--state-dir DIR] [--max-disconnected PT4H] "
		"[--force]\n", what, arg ? " " : "", arg ? arg : "");
	return AGENT_EXIT_USAGE;
}

static int
join_options(int argc, char **argv, struct join_opts *o)
{
	static const struct option opts[] = {
		{ "server", required_argument, NULL, 's' }, { "token", required_argument, NULL, 't' },
		{ "ca", required_argument, NULL, 'c' }, { "ca-fingerprint", required_argument, NULL, 'f' },
		{ "name", required_argument, NULL, 'n' }, { "state-dir", required_argument, NULL, 'd' },
		{ "max-disconnected", required_argument, NULL, 'm' }, { "force", no_argument, NULL, 'F' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	o->state_dir = AGENT_STATE_DIR_DEFAULT;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+:", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (o->n_servers >= AGENT_SERVERS_MAX)
				return join_usage("too many --server: at most", "8");
			o->servers[o->n_servers++] = optarg;
			break;
		case 't': o->token = optarg; break;
		case 'c': o->ca = optarg; break;
		case 'f': o->fingerprint = optarg; break;
		case 'n': o->name = optarg; break;
		case 'd': o->state_dir = optarg; break;
		case 'm': o->max_disconnected = optarg; break;
		case 'F': o->force = true; break;
		case ':': return join_usage("this option needs a value:", argv[optind - 1]);
		default: return join_usage("unknown option", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return join_usage("unexpected argument", argv[optind]);
	if (o->n_servers == 0 || !o->token)
		return join_usage("--server and --token are required", NULL);
	if (!o->ca == !o->fingerprint)
		return join_usage("give exactly one of --ca and --ca-fingerprint", NULL);
	return 0;
}

/* agent.conf as it will be, checked by its own parser before anything is sent (the VM is a placeholder until the 201). */
static int
conf_build(const struct join_opts *o, struct agent_conf *ret)
{
	struct core_error err = { 0 };
	struct buf b = { .max = AGENT_CONF_MAX };
	size_t i;
	int r = buf_printf(&b, "vm = %s\n", PLACEHOLDER_VM);

	for (i = 0; r == 0 && i < o->n_servers; i++)
		r = buf_printf(&b, "server = %s\n", o->servers[i]);
	if (r == 0)
		r = o->ca ? buf_printf(&b, "ca = %s\n", o->ca) : buf_printf(&b, "ca_fingerprint = %s\n", o->fingerprint);
	if (r == 0 && o->max_disconnected)
		r = buf_printf(&b, "max_disconnected = %s\n", o->max_disconnected);
	if (r == 0 && (r = agent_conf_parse(b.data, b.len, ret, &err)) < 0) {
		/* the parser's words name the setting; its line number means nothing here */
		fprintf(stderr, "jitgate-agent: join: %s\n", err.message);
		r = AGENT_EXIT_USAGE;
	} else if (r < 0) {
		fprintf(stderr, "jitgate-agent: join: the settings are too long\n");
		r = AGENT_EXIT_USAGE;
	}
	buf_free(&b);
	return r;
}

/* The join's body: this host's name, OS and facts; checked by the codec before it goes. */
static int
join_body(const struct join_opts *o, char **ret, size_t *ret_n)
{
	struct agent a = { .dirfd = -1, .sfd = -1, .applied_revision = -1 };
	struct core_error err = { 0 };
	struct agent_join j, back;
	json_t *v;

	memset(&j, 0, sizeof(j));
	if (o->name)
		snprintf(j.name, sizeof(j.name), "%s", o->name);
	else if (agent_hostname_short(j.name, sizeof(j.name)) < 0)
		return fprintf(stderr, "jitgate-agent: join: the host name is too long for a VM name: give --name\n"),
		       AGENT_EXIT_USAGE;
	if (arm_vm_name_validate(j.name, strlen(j.name), &err) < 0 || (o->name && strlen(o->name) > ARM_VM_NAME_MAX))
		return fprintf(stderr, "jitgate-agent: join: '%s' cannot name a VM: %s%s\n", j.name, err.message,
			       o->name ? "" : " (give --name)"),
		       AGENT_EXIT_USAGE;
	snprintf(j.os_type, sizeof(j.os_type), "Linux");
	agent_status_fill(&a, &j.status);
	if (!(v = codec_agent_join_encode(&j)) || !(*ret = codec_dump(v, ret_n)))
		return json_decref(v), AGENT_EXIT_FAIL;
	json_decref(v);
	if (codec_agent_join_decode(*ret, *ret_n, &back, &err) < 0) {
		fprintf(stderr, "jitgate-agent: join: this host's facts do not make a join (%s: %s)\n", err.target,
			err.message);
		free(*ret);
		return AGENT_EXIT_FAIL;
	}
	return 0;
}

/* The exit status and the words for a refusal: the server's code and message, always. */
static int
join_refused(const char *server, const struct client_reply *rep)
{
	char code[64], msg[512];
	int status = AGENT_EXIT_FAIL;
	const char *hint = "";

	client_reply_error(rep, code, sizeof(code), msg, sizeof(msg));
	if (rep->status == 401) {
		status = AGENT_EXIT_REFUSED;
		hint = " (ask an Owner for a new join token: jitgate agent token create)";
	} else if (rep->status == 409) {
		status = AGENT_EXIT_CONFLICT;
		hint = " (give another --name, or revoke the old agent first: jitgate agent revoke VM)";
	}
	fprintf(stderr, "jitgate-agent: join refused by %s: HTTP %ld %s: %s%s\n", server, rep->status,
		code[0] ? code : "-", msg[0] ? msg : "(no message)", hint);
	return status;
}

/* Post the join to each server in turn until one answers; the 201's body in *ret. */
static int
join_post(const struct agent_conf *conf, const struct join_opts *o, const char *body, size_t n,
	  struct agent_joined *ret)
{
	struct client_agent *ca = NULL;
	struct client_error err = { 0 };
	struct client_reply rep;
	struct core_error cerr = { 0 };
	char url[AGENT_URL_MAX + 64];
	size_t i;
	int r, status = AGENT_EXIT_FAIL;

	memset(&rep, 0, sizeof(rep));
	if (client_agent_new(conf->ca_file[0] ? conf->ca_file : NULL, conf->has_fingerprint ? conf->fingerprint : NULL,
			     &ca, &err) < 0) {
		fprintf(stderr, "jitgate-agent: join: %s\n", err.message);
		goto out;
	}
	for (i = 0; i < conf->n_servers; i++) {
		struct client_agent_call c = { "POST", url, o->token, body, n, AGENT_CALL_TIMEOUT_MS, AGENT_ERROR_BODY_MAX };

		agent_url_join(conf->servers[i], url, sizeof(url));
		client_error_clear(&err);
		client_reply_clear(&rep);
		r = client_agent_call(ca, conf->servers[i], &c, &rep, &err);
		if (r == -EPERM) {
			fprintf(stderr, "jitgate-agent: join: %s\n", err.message);
			goto out;
		}
		if (r < 0) {
			fprintf(stderr, "jitgate-agent: join: %s: %s%s\n", conf->servers[i], err.message,
				i + 1 < conf->n_servers ? "; trying the next server" : "");
			continue;
		}
		if (rep.status != 201) {
			status = join_refused(conf->servers[i], &rep);
			goto out;
		}
		if (codec_agent_joined_decode(rep.body, rep.body_len, ret, &cerr) < 0) {
			fprintf(stderr, "jitgate-agent: join: %s answered 201 with a body that is not a join's answer "
				"(%s: %s): nothing written\n", conf->servers[i], cerr.target, cerr.message);
			goto out;
		}
		status = AGENT_EXIT_OK;
		goto out;
	}
	fprintf(stderr, "jitgate-agent: join: no server could be reached: nothing written\n");
out:
	client_reply_clear(&rep);
	client_error_clear(&err);
	client_agent_free(ca);
	return status;
}

/* The state directory, made 0700 if missing; an existing agent.conf stops the join unless --force. */
static int
statedir_open(const struct join_opts *o)
{
	struct agent_conf old;
	int dfd;

	if (mkdir(o->state_dir, STATE_DIR_MODE) < 0 && errno != EEXIST)
		return fprintf(stderr, "jitgate-agent: join: cannot make %s: %s\n", o->state_dir, strerror(errno)), -1;
	dfd = open(o->state_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return fprintf(stderr, "jitgate-agent: join: cannot open %s: %s\n", o->state_dir, strerror(errno)), -1;
	if (!o->force && faccessat(dfd, AGENT_CONF_FILE, F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
		if (agent_conf_load(dfd, &old, NULL) == 0)
			fprintf(stderr, "jitgate-agent: join: this host already joined as %s (%s/%s); give --force to "
				"join again and replace it\n", old.vm, o->state_dir, AGENT_CONF_FILE);
		else
			fprintf(stderr, "jitgate-agent: join: %s/%s exists; give --force to replace it\n", o->state_dir,
				AGENT_CONF_FILE);
		close(dfd);
		return -1;
	}
	return dfd;
}

/* What an earlier join saved of its VM's state (agent-state.h, agent-floor.h). */
static const char *const old_states[] = { AGENT_STATE_FILE, AGENT_FLOOR_FILE, AGENT_STATE_VOID_FILE };

/* The credential first (harmless alone), agent.conf last: it is what says the host joined. */
static int
join_write(int dfd, const struct join_opts *o, struct agent_conf *conf, const struct agent_joined *j)
{
	struct core_error err = { 0 };

	snprintf(conf->vm, sizeof(conf->vm), "%s", j->vm);
	if (agent_credential_save(dfd, j->credential, &err) < 0 || agent_conf_save(dfd, conf, &err) < 0) {
		fprintf(stderr, "jitgate-agent: join: joined as %s but %s: %s\n", j->vm, err.target, err.message);
		return AGENT_EXIT_FAIL;
	}
	/* a state saved for the VM this host was before would be refused at start (and so would its floor) */
	for (size_t i = 0; i < sizeof(old_states) / sizeof(old_states[0]); i++)
		if (unlinkat(dfd, old_states[i], 0) < 0 && errno != ENOENT)
			fprintf(stderr, "jitgate-agent: join: cannot remove the old %s: %s\n", old_states[i], strerror(errno));
	printf("Joined as %s (revision %lld). Wrote %s/%s and %s/%s (0600).\nStart enforcing: systemctl enable --now "
	       "jitgate-agent\n", j->vm, (long long)j->revision, o->state_dir, AGENT_CONF_FILE, o->state_dir,
	       AGENT_CREDENTIAL_FILE);
	return AGENT_EXIT_OK;
}

/* --token -: the join token on stdin's first line, kept out of ps and the shell's history. */
static int
token_read_stdin(char *buf, size_t size)
{
	size_t n;

	if (!fgets(buf, (int)size, stdin))
		return fprintf(stderr, "jitgate-agent: join: --token -: no token on stdin\n"), AGENT_EXIT_USAGE;
	n = strcspn(buf, "\r\n");
	if (buf[n] == '\0' && n + 1 >= size)
		return fprintf(stderr, "jitgate-agent: join: --token -: the token is too long\n"), AGENT_EXIT_USAGE;
	buf[n] = '\0';
	if (n == 0)
		return fprintf(stderr, "jitgate-agent: join: --token -: the token is empty\n"), AGENT_EXIT_USAGE;
	return 0;
}

int
agent_join_main(int argc, char **argv)
{
	char token[CLIENT_TOKEN_MAX + 2];
	struct join_opts o;
	struct agent_conf *conf = calloc(1, sizeof(*conf));
	struct agent_joined j;
	char *body = NULL;
	size_t n = 0;
	int dfd = -1, r;

	memset(&o, 0, sizeof(o));
	memset(&j, 0, sizeof(j));
	if (!conf)
		return AGENT_EXIT_FAIL;
	if ((r = join_options(argc, argv, &o)) != 0)
		goto out;
	if (strcmp(o.token, "-") == 0) {
		if ((r = token_read_stdin(token, sizeof(token))) != 0)
			goto out;
		o.token = token;
	}
	if ((r = conf_build(&o, conf)) != 0 || (r = join_body(&o, &body, &n)) != 0)
		goto out;
	r = AGENT_EXIT_FAIL;
	if ((dfd = statedir_open(&o)) < 0)
		goto out;
	if ((r = join_post(conf, &o, body, n, &j)) == AGENT_EXIT_OK)
		r = join_write(dfd, &o, conf, &j);
out:
	explicit_bzero(token, sizeof(token));
	explicit_bzero(&j, sizeof(j));
	if (dfd >= 0)
		close(dfd);
	free(body);
	free(conf);
	return r;
}

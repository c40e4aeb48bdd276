/* `jitgate-agent rotate`: a new agent credential from the server, saved, then used once so that the old one ends. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/agent-net.h"
#include "client/client-agent.h"
#include "codec/codec.h"

/* Call `url` on each server in turn until one answers: 1 with *rep (any status), or 0 when none could be reached. */
static int
call_servers(struct client_agent *ca, const struct agent_conf *conf, const char *method, const char *token,
	     int (*url_of)(const struct agent_conf *conf, size_t i, char *buf, size_t size), struct client_reply *rep)
{
	char url[AGENT_URL_MAX + ARM_ID_MAX + 64];
	struct client_error err = { 0 };
	size_t i;
	int r;

	for (i = 0; i < conf->n_servers; i++) {
		struct client_agent_call c = { method, url, token, "{}", 2, AGENT_CALL_TIMEOUT_MS, AGENT_ERROR_BODY_MAX };

		if (!strcmp(method, "GET")) {
			c.body = NULL;
			c.body_len = 0;
		}
		if (url_of(conf, i, url, sizeof(url)) < 0)
			return fprintf(stderr, "jitgate-agent: rotate: the URL of %s is too long\n", conf->servers[i]), -1;
		client_reply_clear(rep);
		client_error_clear(&err);
		r = client_agent_call(ca, conf->servers[i], &c, rep, &err);
		if (r >= 0) {
			client_error_clear(&err);
			return 1;
		}
		fprintf(stderr, "jitgate-agent: rotate: %s: %s%s\n", conf->servers[i], err.message,
			r != -EPERM && i + 1 < conf->n_servers ? "; trying the next server" : "");
		if (r == -EPERM)
			break;
	}
	client_error_clear(&err);
	return 0;
}

static int
url_rotate(const struct agent_conf *conf, size_t i, char *buf, size_t size)
{
	return agent_url_rotate(conf->servers[i], conf->vm, buf, size);
}

static int
url_state(const struct agent_conf *conf, size_t i, char *buf, size_t size)
{
	return agent_url_state(conf->servers[i], conf->vm, -1, buf, size);
}

/* Saved (0600) and given to the state directory's owner: `run` reads it as the agent's user. */
static int
credential_keep(int dfd, const char *credential)
{
	struct core_error err = { 0 };
	struct stat st;

	if (agent_credential_save(dfd, credential, &err) < 0)
		return fprintf(stderr, "jitgate-agent: rotate: %s: %s\n", err.target, err.message), -1;
	if (fstat(dfd, &st) < 0 || fchownat(dfd, AGENT_CREDENTIAL_FILE, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0)
		return fprintf(stderr, "jitgate-agent: rotate: cannot give %s to the state directory's owner: %s\n",
			       AGENT_CREDENTIAL_FILE, strerror(errno)), -1;
	return 0;
}

/*
 * The server keeps the current credential working until the new one is first
 * used (store_agent_rotate): an answer lost, or a new credential that could not
 * be saved, leaves the current one in force. Once saved, one call with the new
 * one ends the old; a running agent then gets 401 and reads the file again.
 */
static int
rotate(int dfd, const char *dir, const struct agent_conf *conf, const char *token)
{
	struct client_agent *ca = NULL;
	struct client_error err = { 0 };
	struct client_reply rep;
	struct core_error cerr = { 0 };
	struct agent_joined j;
	char code[64], msg[256];
	int status = AGENT_EXIT_FAIL;

	memset(&rep, 0, sizeof(rep));
	memset(&j, 0, sizeof(j));
	if (client_agent_new(conf->ca_file[0] ? conf->ca_file : NULL, conf->has_fingerprint ? conf->fingerprint : NULL,
			     &ca, &err) < 0) {
		fprintf(stderr, "jitgate-agent: rotate: %s\n", err.message);
		goto out;
	}
	if (call_servers(ca, conf, "POST", token, url_rotate, &rep) <= 0)
		goto out;
	if (rep.status != 201) {
		client_reply_error(&rep, code, sizeof(code), msg, sizeof(msg));
		fprintf(stderr, "jitgate-agent: rotate refused: HTTP %ld %s: %s; the credential is unchanged\n", rep.status,
			code[0] ? code : "-", msg[0] ? msg : "(no message)");
		goto out;
	}
	if (codec_agent_joined_decode(rep.body, rep.body_len, &j, &cerr) < 0 || strcasecmp(j.vm, conf->vm)) {
		fprintf(stderr, "jitgate-agent: rotate: the answer is not a new credential for %s; the credential is "
			"unchanged\n", conf->vm);
		goto out;
	}
	if (credential_keep(dfd, j.credential) < 0) {
		fprintf(stderr, "jitgate-agent: rotate: the current credential stays in force\n");
		goto out;
	}
	if (call_servers(ca, conf, "GET", j.credential, url_state, &rep) <= 0 || rep.status != 200) {
		printf("Rotated and saved the new credential; the old one works until the agent first uses the new one "
		       "(at its next start, or its next 401)\n");
		status = AGENT_EXIT_OK;
		goto out;
	}
	printf("Rotated: %s/%s holds the new credential and the old one no longer works; a running agent switches "
	       "at its next call\n", dir, AGENT_CREDENTIAL_FILE);
	status = AGENT_EXIT_OK;
out:
	explicit_bzero(&j, sizeof(j));
	client_reply_clear(&rep);
	client_error_clear(&err);
	client_agent_free(ca);
	return status;
}

int
agent_rotate_main(const char *state_dir)
{
	struct core_error err = { 0 };
	struct agent_conf conf;
	char token[AGENT_CREDENTIAL_MAX + 1];
	int dfd, status = AGENT_EXIT_FAIL;

	if ((dfd = open(state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		fprintf(stderr, "jitgate-agent: rotate: cannot open the state directory %s: %s\n", state_dir,
			strerror(errno));
		return AGENT_EXIT_FAIL;
	}
	if (agent_conf_load(dfd, &conf, &err) < 0 || agent_credential_load(dfd, token, sizeof(token), &err) < 0)
		fprintf(stderr, "jitgate-agent: rotate: %s: %s\n", err.target, err.message);
	else
		status = rotate(dfd, state_dir, &conf, token);
	explicit_bzero(token, sizeof(token));
	close(dfd);
	return status;
}

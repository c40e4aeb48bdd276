/* jitgate login --sso and jitgate logout: single sign-on through jitgated (device authorization grant), and forgetting a login. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "cli/output.h"

#define SSO_BEARER_TEXT		"jgs_"		/* a single sign-on session's credential starts so (jitgated's SSO_BEARER_PREFIX) */
#define SSO_PLACEHOLDER		"jgs_pending"	/* sent while no credential exists: /oidc/device* read none */
#define SSO_POLL_MAX_S		900		/* the longest a login waits for the person, whatever the server says */
#define SSO_INTERVAL_MAX_S	60		/* the longest pause between two polls */

const char cli_help_logout[] =
	"usage: jitgate logout\n"
	"       jitgate logout --person NAME\n"
	"\n"
	"Forgets the saved credential (~/.config/jitgate/config keeps the server and CA). A single sign-on\n"
	"session (jitgate login --sso) is also ended on the server; an API token is not revoked (jitgate\n"
	"token revoke does that).\n"
	"With --person (Owners), ends every single sign-on session of that person on the server instead\n"
	"(NAME as the activity log shows it, e.g. alice@example.com): a changed role applies at their next\n"
	"sign-in, which this forces. Your own login is kept.\n";

#define OPT_PERSON	11100

static const struct option logout_options[] = {
	{ "person", required_argument, NULL, OPT_PERSON },
	{ NULL, 0, NULL, 0 },
};

static int
logout_option(struct cli *c, int opt, const char *arg, void *state)
{
	(void)c;
	if (opt != OPT_PERSON)
		return -EINVAL;
	*(const char **)state = arg;
	return 0;
}

/* jitgate logout --person NAME: DELETE …/providers/Jitgate/ssoSessions/NAME. */
static int
logout_person(struct cli *c, const char *person)
{
	char path[512];
	json_t *a = NULL;
	int r;

	if ((r = cli_connect(c)) < 0)
		return r;
	if ((size_t)snprintf(path, sizeof(path), "/subscriptions/%s/providers/Jitgate/ssoSessions/%s", c->client.subscription,
			     person) >= sizeof(path))
		return cli_fail(c, CLI_EXIT_USAGE, "--person: the name is too long");
	if ((r = cli_send(c, "DELETE", path, NULL, &a)) < 0)
		return r;
	cli_printf("Ended %lld single sign-on session(s) of %s\n", (long long)json_integer_value(json_object_get(a, "ended")),
		   json_string_value(json_object_get(a, "person")) ?: person);
	json_decref(a);
	return 0;
}

/* One call whose answer we read whatever its status; the reply's JSON (caller decrefs) or NULL after printing why. */
static json_t *
sso_call(struct cli *c, const char *path, json_t *body, long *ret_status)
{
	struct client_reply rep;
	json_t *j = NULL;
	int r = cli_call(c, "POST", path, NULL, body, NULL, NULL, &rep);

	if (r == 0 || r == -EREMOTE) {
		*ret_status = rep.status;
		if (r == 0 || rep.status == 202)
			j = json_deep_copy(rep.json);	/* the reply's own copy of a credential is wiped below */
		else
			cli_report(c, &rep);
	}
	cli_reply_wipe(&rep);
	client_reply_clear(&rep);
	return j;
}

/* Poll until the person approves (the credential, malloc'd) or the sign-in ends (NULL, printed). */
static char *
sso_poll(struct cli *c, const char *handle, long interval, long expires)
{
	json_t *body = json_pack("{s:s}", "handle", handle), *a;
	time_t end = time(NULL) + (expires < SSO_POLL_MAX_S ? expires : SSO_POLL_MAX_S);
	const char *tok;
	char *ret = NULL;
	long status = 0;

	while (body && time(NULL) < end) {
		sleep((unsigned)(interval < 1 ? 1 : interval > SSO_INTERVAL_MAX_S ? SSO_INTERVAL_MAX_S : interval));
		if (!(a = sso_call(c, "/oidc/device/poll", body, &status)))
			break;
		if (status == 202) {
			if (json_is_integer(json_object_get(a, "interval")))
				interval = (long)json_integer_value(json_object_get(a, "interval"));
			json_decref(a);
			continue;
		}
		tok = json_string_value(json_object_get(a, "token"));
		if (tok && !strncmp(tok, SSO_BEARER_TEXT, strlen(SSO_BEARER_TEXT)))
			ret = strdup(tok);
		else
			cli_fail(c, CLI_EXIT_UNREACHABLE, "the server's answer holds no session credential");
		if (tok)
			explicit_bzero((char *)tok, strlen(tok));
		json_decref(a);
		break;
	}
	if (!ret && time(NULL) >= end)
		cli_fail(c, CLI_EXIT_REFUSED, "the sign-in was not approved in time; run jitgate login --sso again");
	json_decref(body);
	return ret;
}

int
cli_login_sso(struct cli *c)
{
	char sub[sizeof(c->client.subscription)];
	json_t *a = NULL, *empty = json_object();
	const char *handle, *code, *uri, *complete;
	char *cred = NULL;
	long status = 0;
	int r = -EACCES;

	/* the device endpoints take no credential: connect with a placeholder and no whoami */
	memcpy(sub, c->client.subscription, sizeof(sub));
	if (!c->client.subscription[0])
		snprintf(c->client.subscription, sizeof(c->client.subscription), "%s", CLIENT_SUBSCRIPTION_DEFAULT);
	c->client.token = strdup(SSO_PLACEHOLDER);
	if (!c->client.token || !(a = sso_call(c, "/oidc/device", empty, &status)))
		goto out;
	handle = json_string_value(json_object_get(a, "handle"));
	code = json_string_value(json_object_get(a, "userCode"));
	uri = json_string_value(json_object_get(a, "verificationUri"));
	complete = json_string_value(json_object_get(a, "verificationUriComplete"));
	if (!handle || !code || !uri) {
		cli_fail(c, CLI_EXIT_UNREACHABLE, "the server's answer to /oidc/device is incomplete");
		goto out;
	}
	cli_fprintf(stderr, "To sign in, open %s and enter the code %s\n", uri, code);
	if (complete && strcmp(complete, uri))
		cli_fprintf(stderr, "(or open %s)\n", complete);
	cli_fprintf(stderr, "Waiting for the sign-in...\n");
	fflush(stderr);
	cred = sso_poll(c, handle, (long)json_integer_value(json_object_get(a, "interval")),
			(long)json_integer_value(json_object_get(a, "expiresIn")));
	if (!cred)
		goto out;
	/* from here on the session's credential is the login's token: connect again with it */
	client_free(&c->client);
	c->client.connected = false;
	c->client.token = cred;
	memcpy(c->client.subscription, sub, sizeof(sub));
	r = 0;
out:
	json_decref(a);
	json_decref(empty);
	return r;
}

int
cmd_logout(struct cli *c, int argc, char **argv)
{
	struct client_config cfg;
	struct client_error err = { 0 };
	struct client_reply rep;
	const char *person = NULL;
	bool help;
	int argi, r;

	memset(&cfg, 0, sizeof(cfg));
	r = cli_options(c, argc, argv, "", logout_options, logout_option, &person, cli_help_logout, &argi, &help);
	if (r < 0 || help)
		return cli_exit(c, r);
	if (argc - argi)
		return cli_exit(c, cli_fail(c, CLI_EXIT_USAGE, "no arguments expected (see --help)"));
	if (person)
		return cli_exit(c, logout_person(c, person));
	if ((r = client_config_read(&c->client, &cfg, &err)) < 0) {
		if (r == -ENOENT)
			r = cli_fail(c, CLI_EXIT_USAGE, "not logged in (no config)");
		else
			cli_client_fail(c, &err, r);
		goto out;
	}
	if (!strncmp(cfg.token, SSO_BEARER_TEXT, strlen(SSO_BEARER_TEXT))) {
		/* ended on the server too; an unreachable server still lets the config forget it */
		if (cli_call(c, "DELETE", "/oidc/session", NULL, NULL, NULL, NULL, &rep) == 0)
			cli_printf("Ended the single sign-on session on %s\n", cfg.server);
		client_reply_clear(&rep);
		c->exit_code = 0;
	}
	explicit_bzero(cfg.token, sizeof(cfg.token));
	if ((r = client_config_write(&cfg, &err)) < 0) {
		cli_client_fail(c, &err, r);
		goto out;
	}
	cli_printf("Logged out: the saved credential is gone\n");
out:
	client_config_clear(&cfg);
	return cli_exit(c, r);
}

/* Unit tests for src/client's settings (flags > environment > config file > socket), failures as records, and the agent transport's pure parts, without a server. */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"
#include "client/client.h"
#include "client/client-agent.h"

#define SUB "11111111-2222-3333-4444-555555555555"	/* given, so that connecting never asks the server */

static char home[64];

static void
config_write(const char *text)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/.config", home);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/.config/jitgate", home);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/.config/jitgate/config", home);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	chmod(path, 0600);
}

static int
setup(void **state)
{
	(void)state;
	snprintf(home, sizeof(home), "/tmp/test-client.XXXXXX");
	assert_non_null(mkdtemp(home));
	setenv("HOME", home, 1);
	unsetenv("XDG_CONFIG_HOME");
	unsetenv("JITGATE_SERVER");
	unsetenv("JITGATE_TOKEN");
	unsetenv("JITGATE_CA");
	unsetenv("JITGATE_SOCKET");
	unsetenv("JITGATE_SUBSCRIPTION");
	unsetenv("JITGATE_DEFAULT_SOCKET");
	config_write("server = https://cfg.example:8443\ntoken = jg_cfg\nca = /cfg/ca.pem\n");
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	assert_int_equal(test_rmtree(home), 0);
	return 0;
}

/* Connect with what `cl` holds (the flags); 0 or the negative errno, with err filled. */
static int
connect_as(struct client *cl, struct client_error *err)
{
	snprintf(cl->subscription, sizeof(cl->subscription), "%s", SUB);
	return client_connect(cl, err);
}

static void
test_config_fills_the_gaps(void **state)
{
	struct client cl = { 0 };
	struct client_error err = { 0 };

	(void)state;
	assert_int_equal(connect_as(&cl, &err), 0);
	assert_string_equal(cl.server, "https://cfg.example:8443");
	assert_string_equal(cl.token, "jg_cfg");
	assert_string_equal(cl.ca, "/cfg/ca.pem");
	assert_false(cl.via_socket);
	client_free(&cl);
}

static void
test_environment_beats_config(void **state)
{
	struct client cl = { 0 };
	struct client_error err = { 0 };

	(void)state;
	setenv("JITGATE_TOKEN", "jg_env", 1);
	setenv("JITGATE_CA", "/env/ca.pem", 1);
	assert_int_equal(connect_as(&cl, &err), 0);
	assert_string_equal(cl.server, "https://cfg.example:8443");
	assert_string_equal(cl.token, "jg_env");
	assert_string_equal(cl.ca, "/env/ca.pem");
	client_free(&cl);
	unsetenv("JITGATE_TOKEN");
	unsetenv("JITGATE_CA");
}

static void
test_flags_beat_environment(void **state)
{
	struct client cl = { 0 };
	struct client_error err = { 0 };

	(void)state;
	setenv("JITGATE_SERVER", "https://env.example", 1);
	setenv("JITGATE_TOKEN", "jg_env", 1);
	snprintf(cl.server, sizeof(cl.server), "https://flag.example/");
	cl.token = strdup("jg_flag");
	assert_int_equal(connect_as(&cl, &err), 0);
	assert_string_equal(cl.server, "https://flag.example");	/* trailing slash dropped */
	assert_string_equal(cl.token, "jg_flag");
	assert_string_equal(cl.ca, "");		/* the config's CA belongs to the config's server only */
	client_free(&cl);
	unsetenv("JITGATE_SERVER");
	unsetenv("JITGATE_TOKEN");
}

static void
test_other_server_never_gets_config_token(void **state)
{
	struct client cl = { 0 };
	struct client_error err = { 0 };

	(void)state;
	setenv("JITGATE_SERVER", "https://env.example", 1);
	assert_int_equal(connect_as(&cl, &err), -EINVAL);
	assert_int_equal(err.kind, CLIENT_ERR_AUTH);
	assert_non_null(strstr(err.message, "no token"));
	assert_false(err.refused);
	client_error_clear(&err);
	client_free(&cl);
	unsetenv("JITGATE_SERVER");
}

static void
test_socket_beats_servers(void **state)
{
	struct client cl = { 0 };
	struct client_error err = { 0 };

	(void)state;
	setenv("JITGATE_SOCKET", "/env.sock", 1);
	snprintf(cl.server, sizeof(cl.server), "https://flag.example");
	assert_int_equal(connect_as(&cl, &err), 0);
	assert_true(cl.via_socket);
	assert_string_equal(cl.socket_path, "/env.sock");
	assert_null(cl.token);			/* no config token over the socket */
	client_free(&cl);
	memset(&cl, 0, sizeof(cl));
	snprintf(cl.socket_path, sizeof(cl.socket_path), "/flag.sock");
	assert_int_equal(connect_as(&cl, &err), 0);
	assert_string_equal(cl.socket_path, "/flag.sock");
	client_free(&cl);
	unsetenv("JITGATE_SOCKET");
}

/* Root with nothing configured falls back to the default socket, looked for where JITGATE_DEFAULT_SOCKET says. */
static void
test_default_socket_only_if_it_exists(void **state)
{
	struct client cl = { 0 };
	struct client_error err = { 0 };
	char sock[128];
	FILE *f;

	(void)state;
	config_write("");
	snprintf(sock, sizeof(sock), "%s/default.sock", home);
	setenv("JITGATE_DEFAULT_SOCKET", sock, 1);
	assert_int_equal(connect_as(&cl, &err), -EINVAL);	/* none there: no server */
	assert_int_equal(err.kind, CLIENT_ERR_USAGE);
	client_free(&cl);
	memset(&cl, 0, sizeof(cl));
	f = fopen(sock, "w");
	assert_non_null(f);
	fclose(f);
	if (geteuid() == 0) {
		assert_int_equal(connect_as(&cl, &err), 0);
		assert_true(cl.via_socket);
		assert_string_equal(cl.socket_path, sock);
	} else {			/* only root falls back */
		assert_int_equal(connect_as(&cl, &err), -EINVAL);
	}
	client_free(&cl);
	unsetenv("JITGATE_DEFAULT_SOCKET");
}

static void
test_bad_settings_are_usage_errors(void **state)
{
	struct client cl = { 0 };
	struct client_error err = { 0 };

	(void)state;
	setenv("JITGATE_SUBSCRIPTION", "not-a-guid", 1);
	assert_int_equal(client_connect(&cl, &err), -EINVAL);
	assert_int_equal(err.kind, CLIENT_ERR_USAGE);
	assert_non_null(strstr(err.message, "JITGATE_SUBSCRIPTION"));
	client_error_clear(&err);
	client_free(&cl);
	unsetenv("JITGATE_SUBSCRIPTION");

	memset(&cl, 0, sizeof(cl));
	snprintf(cl.server, sizeof(cl.server), "http://flag.example");
	cl.token = strdup("x");
	assert_int_equal(connect_as(&cl, &err), -EINVAL);
	assert_int_equal(err.kind, CLIENT_ERR_USAGE);
	assert_non_null(strstr(err.message, "https://"));
	client_error_clear(&err);
	client_free(&cl);

	config_write("server = https://cfg.example:8443\nbogus = 1\n");
	memset(&cl, 0, sizeof(cl));
	assert_int_equal(connect_as(&cl, &err), -EINVAL);
	assert_int_equal(err.kind, CLIENT_ERR_USAGE);
	assert_non_null(strstr(err.message, ":2: unknown key 'bogus'"));
	client_error_clear(&err);
	client_free(&cl);
	config_write("server = https://cfg.example:8443\ntoken = jg_cfg\nca = /cfg/ca.pem\n");
}

static void
warn_count(void *arg, const char *message)
{
	(void)message;
	(*(int *)arg)++;
}

static void
test_warnings_go_to_the_caller(void **state)
{
	struct client cl = { 0 };
	struct client_error err = { 0 };
	char path[128];
	int warnings = 0;

	(void)state;
	snprintf(path, sizeof(path), "%s/.config/jitgate/config", home);
	chmod(path, 0644);
	cl.warn = warn_count;
	cl.warn_arg = &warnings;
	cl.insecure = true;
	assert_int_equal(connect_as(&cl, &err), 0);
	assert_int_equal(warnings, 2);		/* readable by others, and --insecure */
	client_free(&cl);
	chmod(path, 0600);
}

/* A certificate and its SHA-256 fingerprint as openssl x509 -fingerprint -sha256 prints it. */
static const char unit_pem[] =
	"-----BEGIN CERTIFICATE-----\n"
	"MIIBcjCCARmgAwIBAgIUCbFe2x7lwiF1DZNvTPb/qvkIvtcwCgYIKoZIzj0EAwIw\n"
	"DzENMAsGA1UEAwwEdW5pdDAeFw0yNjEyMDQyMTQ0NDVaFw0zNjEyMDEyMTQ0NDVa\n"
	"MA8xDTALBgNVBAMMBHVuaXQwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAARffAvw\n"
	"DgqqzTFkSiBGJeSgxCww0NpnIz1xaDZDQA52ss4lNxtTnl0nuFXR8NYuH1xr2oPX\n"
	"OuuWGz6AB9dVs5sIo1MwUTAdBgNVHQ4EFgQUikZvV+zW2vmiwerDikosve5537Mw\n"
	"HwYDVR0jBBgwFoAUikZvV+zW2vmiwerDikosve5537MwDwYDVR0TAQH/BAUwAwEB\n"
	"/zAKBggqhkjOPQQDAgNHADBEAiB6Ro4malQh+0MlY/jSEB4ewME4T+2H4IxpQkYS\n"
	"k7iwugIgKxAzVKJmhTdT/iXx4yrir0QhZtH8LMwsNBTzNXL2nAY=\n"
	"-----END CERTIFICATE-----\n";
static const uint8_t unit_fp[CLIENT_AGENT_FP_LEN] = {
	0x84, 0xD1, 0x3D, 0xFF, 0x5B, 0x89, 0x97, 0xCA, 0x09, 0xE1, 0x2E, 0xA5, 0x15, 0x9F, 0x4A, 0xEB,
	0x4D, 0x73, 0x2D, 0x36, 0xB8, 0x02, 0x5B, 0xC2, 0xEF, 0x88, 0x0B, 0xE7, 0x4E, 0xB4, 0x98, 0x6D,
};

static void
test_agent_cert_sha256(void **state)
{
	uint8_t fp[CLIENT_AGENT_FP_LEN];

	(void)state;
	assert_int_equal(client_cert_sha256(unit_pem, fp), 0);
	assert_memory_equal(fp, unit_fp, sizeof(fp));
	assert_int_equal(client_cert_sha256("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n", fp),
			 -EINVAL);
	assert_int_equal(client_cert_sha256("", fp), -EINVAL);
}

static void
test_agent_trust_and_errors(void **state)
{
	struct client_agent *ca = NULL;
	struct client_error err = { 0 };
	struct client_reply r = { 0 };
	char code[32], msg[64];

	(void)state;
	/* exactly one of a CA file and a fingerprint */
	assert_int_equal(client_agent_new(NULL, NULL, &ca, &err), -EINVAL);
	assert_int_equal(client_agent_new("/etc/ca.pem", unit_fp, &ca, &err), -EINVAL);
	assert_null(ca);
	/* a fingerprint: nothing is trusted until a handshake checked it; a CA file: trusted as given */
	assert_int_equal(client_agent_new(NULL, unit_fp, &ca, &err), 0);
	assert_false(client_agent_is_pinned(ca, "https://a:1"));
	assert_false(client_agent_busy(ca));
	client_agent_free(ca);
	assert_int_equal(client_agent_new("/etc/ca.pem", NULL, &ca, &err), 0);
	assert_true(client_agent_is_pinned(ca, "https://a:1"));
	client_agent_free(ca);
	/* the server's error record, or empty strings for what is not one */
	r.body = (char *)"{\"error\":{\"code\":\"JoinTokenUsedUp\",\"message\":\"no uses left\"}}";
	r.body_len = strlen(r.body);
	client_reply_error(&r, code, sizeof(code), msg, sizeof(msg));
	assert_string_equal(code, "JoinTokenUsedUp");
	assert_string_equal(msg, "no uses left");
	r.body = (char *)"<html>";
	r.body_len = 6;
	client_reply_error(&r, code, sizeof(code), msg, sizeof(msg));
	assert_string_equal(code, "");
	assert_string_equal(msg, "");
	client_error_clear(&err);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_fills_the_gaps),
		cmocka_unit_test(test_environment_beats_config),
		cmocka_unit_test(test_flags_beat_environment),
		cmocka_unit_test(test_other_server_never_gets_config_token),
		cmocka_unit_test(test_socket_beats_servers),
		cmocka_unit_test(test_default_socket_only_if_it_exists),
		cmocka_unit_test(test_bad_settings_are_usage_errors),
		cmocka_unit_test(test_warnings_go_to_the_caller),
		cmocka_unit_test(test_agent_cert_sha256),
		cmocka_unit_test(test_agent_trust_and_errors),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

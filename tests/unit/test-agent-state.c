/* Unit tests for jitgate-agent's state: conversion to the fw's state and its refusals, state.json, agent.conf, the credential. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/agent-conf.h"
#include "agent/agent-floor.h"
#include "agent/agent-state.h"
#include "core/timeutil.h"
#include "testutil.h"

#define VM1 "/subscriptions/20ff7fc3-e762-44dd-bd96-b71116dcdc23/resourceGroups/rg1/providers/Microsoft.Compute/virtualMachines/web1"
#define VM1_UPPER "/subscriptions/20ff7fc3-e762-44dd-bd96-b71116dcdc23/resourceGroups/RG1/providers/Microsoft.Compute/virtualMachines/WEB1"
#define VM2 "/subscriptions/20ff7fc3-e762-44dd-bd96-b71116dcdc23/resourceGroups/rg1/providers/Microsoft.Compute/virtualMachines/web2"
/* 2026-12-04T10:00:00Z */
#define T0_MS 1796378400000LL

static const char state_body[] =
	"{\"vm\":\"" VM1 "\",\"revision\":7,\"serverTimeUtc\":\"2026-12-04T10:00:00Z\","
	"\"ports\":[{\"number\":22,\"protocol\":\"TCP\"},{\"number\":3389,\"protocol\":\"*\"}],"
	"\"grants\":[{\"requestId\":\"r-1\",\"source\":\"10.0.0.0/24\",\"protocol\":\"TCP\",\"number\":22,"
	"\"endTimeUtc\":\"2026-12-04T11:00:00Z\",\"remainingMs\":3600000},"
	"{\"requestId\":\"r-2\",\"source\":\"*\",\"protocol\":\"UDP\",\"number\":3389,"
	"\"endTimeUtc\":\"2026-12-04T10:05:00.5Z\",\"remainingMs\":60000}]}";

static struct agent_state *
state_decode(void)
{
	struct agent_state *s = NULL;

	assert_int_equal(codec_agent_state_decode(state_body, sizeof(state_body) - 1, &s, NULL), 0);
	return s;
}

static void
test_to_fw(void **unused)
{
	struct agent_state *s = state_decode();
	struct agent_fw f = { 0 };
	struct core_error err;

	(void)unused;
	/* received 2 s after the server wrote it, converted 1 s later */
	assert_int_equal(agent_state_to_fw(s, VM1, T0_MS + 2000, T0_MS + 3000, &f, &err), 0);
	assert_int_equal(f.n_vms, 1);
	assert_int_equal(f.vms[0].id, AGENT_FW_VM);
	assert_int_equal(f.vms[0].point, FW_POINT_LOCAL);
	assert_int_equal(f.n_ports, 2);
	assert_int_equal(f.ports[1].proto, NET_PROTO_ANY);
	assert_int_equal(f.ports[1].port, 3389);
	assert_int_equal(f.ports[0].vm, AGENT_FW_VM);
	assert_int_equal(f.n_grants, 2);
	/* r-1: endTimeUtc (T0 + 1 h) is earlier than received + remainingMs (T0 + 2 s + 1 h) */
	assert_int_equal(f.grants[0].end_ms, T0_MS + 3600000);
	/* r-2: received + remainingMs (T0 + 62 s) is earlier than endTimeUtc (T0 + 300.5 s) */
	assert_int_equal(f.grants[1].end_ms, T0_MS + 62000);
	assert_true(f.grants[1].source.any);
	assert_string_equal(f.grants[1].request_id, "r-2");
	agent_fw_free(&f);
	agent_fw_free(&f);	/* reusable, and freeing twice is harmless */
	agent_fw_free(NULL);

	/* names compare case-insensitively, as ARM's do */
	assert_int_equal(agent_state_to_fw(s, VM1_UPPER, T0_MS, T0_MS, &f, &err), 0);
	agent_fw_free(&f);
	codec_agent_state_free(s);
}

static void
test_to_fw_refusals(void **unused)
{
	struct agent_state *s = state_decode();
	struct agent_fw f = { .n_vms = 42 };
	struct core_error err;

	(void)unused;
	assert_int_equal(agent_state_to_fw(s, VM2, T0_MS, T0_MS, &f, &err), -EINVAL);
	assert_error(&err, AGENT_ERR_WRONG_VM, "vm");
	assert_int_equal(f.n_vms, 42);	/* nothing written on failure */
	/* a broken VM id in agent.conf is named as such */
	assert_int_equal(agent_state_to_fw(s, "/subscriptions/x", T0_MS, T0_MS, &f, &err), -EINVAL);
	assert_non_null(strstr(err.target, "agent.conf"));
	/* what the fw would refuse: a bad request id, port 0, a bad protocol, a bad source (the codec never gives them) */
	memcpy(s->grants[0].request_id, "bad id!", 8);
	assert_int_equal(agent_state_to_fw(s, VM1, T0_MS, T0_MS, &f, &err), -EINVAL);
	assert_string_equal(err.code, AGENT_ERR_STATE);
	memcpy(s->grants[0].request_id, "r-1", 4);
	s->ports[0].number = 0;
	assert_int_equal(agent_state_to_fw(s, VM1, T0_MS, T0_MS, &f, &err), -EINVAL);
	assert_string_equal(err.code, AGENT_ERR_STATE);
	s->ports[0].number = 22;
	s->grants[1].proto = (enum net_proto)99;
	assert_int_equal(agent_state_to_fw(s, VM1, T0_MS, T0_MS, &f, &err), -EINVAL);
	assert_string_equal(err.code, AGENT_ERR_STATE);
	s->grants[1].proto = NET_PROTO_UDP;
	s->grants[0].source.prefix.len = 33;
	assert_int_equal(agent_state_to_fw(s, VM1, T0_MS, T0_MS, &f, &err), -EINVAL);
	assert_string_equal(err.code, AGENT_ERR_STATE);
	s->grants[0].source.prefix.len = 24;
	assert_int_equal(f.n_vms, 42);
	assert_int_equal(agent_state_to_fw(s, VM1, T0_MS, T0_MS, &f, &err), 0);
	agent_fw_free(&f);
	codec_agent_state_free(s);
}

static void
test_grant_end(void **unused)
{
	struct agent_grant g = { .end_ns = T0_MS * 1000000, .left_ms = 5000 };
	struct agent_state *s = state_decode();
	struct agent_fw f = { 0 };

	(void)unused;
	assert_int_equal(agent_grant_end_ms(&g, T0_MS - 10000), T0_MS - 5000);
	assert_int_equal(agent_grant_end_ms(&g, T0_MS - 1000), T0_MS);
	g.left_ms = 0;
	assert_int_equal(agent_grant_end_ms(&g, T0_MS - 1000), T0_MS - 1000);
	g.left_ms = INT64_MAX;	/* never from the codec: clamped, no overflow */
	assert_int_equal(agent_grant_end_ms(&g, INT64_MAX - 10), T0_MS);
	/* a clock stepped back since the state came: remainingMs counts from now, not from the future */
	assert_int_equal(agent_state_to_fw(s, VM1, T0_MS + 600000, T0_MS, &f, NULL), 0);
	assert_int_equal(f.grants[1].end_ms, T0_MS + 60000);
	agent_fw_free(&f);
	/* grants that have ended are not refused: the fw simply holds no element for them */
	assert_int_equal(agent_state_to_fw(s, VM1, T0_MS, T0_MS + 7200000, &f, NULL), 0);
	agent_fw_free(&f);
	codec_agent_state_free(s);
}

/*
 * The sessions to end are the terminations made after the revision the agent had applied: all of them
 * after none (-1), the newer after 8, none after the state's own (a restart from state.json cuts nothing).
 */
static void
test_terminations_due(void **unused)
{
	static const char body[] = "{\"vm\":\"" VM1 "\",\"revision\":9,\"serverTimeUtc\":\"2026-12-04T10:00:00Z\","
		"\"ports\":[{\"number\":22,\"protocol\":\"TCP\"}],\"terminations\":["
		"{\"requestId\":\"r-1\",\"source\":\"10.0.0.0/24\",\"protocol\":\"TCP\",\"number\":22,\"revision\":5},"
		"{\"requestId\":\"r-2\",\"source\":\"*\",\"protocol\":\"*\",\"number\":3389,\"revision\":9}]}";
	struct agent_state *s = NULL, *plain = state_decode();
	struct fw_grant *v = NULL;
	size_t n = 0;

	(void)unused;
	assert_int_equal(codec_agent_state_decode(body, sizeof(body) - 1, &s, NULL), 0);
	assert_int_equal(agent_terminations_due(s, -1, &v, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(v[0].vm, AGENT_FW_VM);
	assert_string_equal(v[0].request_id, "r-1");
	assert_int_equal(v[0].port, 22);
	assert_int_equal(v[0].proto, NET_PROTO_TCP);
	assert_int_equal(v[0].source.prefix.len, 24);
	assert_true(v[1].source.any);
	assert_int_equal(v[1].proto, NET_PROTO_ANY);
	free(v);
	assert_int_equal(agent_terminations_due(s, 8, &v, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].request_id, "r-2");
	free(v);
	assert_int_equal(agent_terminations_due(s, 9, &v, &n), 0);
	assert_int_equal(n, 0);
	assert_null(v);
	assert_int_equal(agent_terminations_due(plain, -1, &v, &n), 0);
	assert_int_equal(n, 0);
	codec_agent_state_free(s);
	codec_agent_state_free(plain);
}

static void
test_state_file(void **unused)
{
	struct buf b = { 0 };
	struct agent_state *s = NULL;
	struct core_error err;
	int64_t received = 0;
	char *copy;
	size_t n;

	(void)unused;
	assert_int_equal(agent_state_file_encode(state_body, sizeof(state_body) - 1, T0_MS + 1234, &b), 0);
	/* the body is kept byte for byte */
	assert_non_null(strstr(b.data, state_body));
	copy = test_copy_unterminated(b.data, &n);
	assert_int_equal(agent_state_file_decode(copy, n, &s, &received, &err), 0);
	free(copy);
	assert_int_equal(received, T0_MS + 1234);
	assert_int_equal(s->revision, 7);
	assert_int_equal(s->n_grants, 2);
	codec_agent_state_free(s);
	buf_free(&b);

	s = (struct agent_state *)1;
	assert_int_equal(agent_state_file_decode(S("{\"receivedTimeUtc\":\"x\""), &s, &received, &err), -EINVAL);
	assert_string_equal(err.code, AGENT_ERR_STATE);
	assert_int_equal(agent_state_file_decode(S("[]"), &s, &received, &err), -EINVAL);
	assert_int_equal(agent_state_file_decode(S("{\"state\":{}}"), &s, &received, &err), -EINVAL);
	assert_int_equal(agent_state_file_decode(S("{\"receivedTimeUtc\":\"soon\",\"state\":{}}"), &s, &received, &err),
			 -EINVAL);
	assert_string_equal(err.target, "receivedTimeUtc");
	/* the state itself goes through the codec: its refusals are named under "state" */
	assert_int_equal(agent_state_file_decode(S("{\"receivedTimeUtc\":\"2026-12-04T10:00:00Z\",\"state\":{}}"), &s,
						 &received, &err), -EINVAL);
	assert_int_equal(strncmp(err.target, "state", 5), 0);
	assert_ptr_equal(s, (struct agent_state *)1);
	assert_int_equal(received, T0_MS + 1234);
}

/* A throwaway state directory. */
static int
tmpdir(char *path, size_t size)
{
	int fd;

	snprintf(path, size, "/tmp/test-agent-state.XXXXXX");
	assert_non_null(mkdtemp(path));
	fd = open(path, O_RDONLY | O_DIRECTORY);
	assert_true(fd >= 0);
	return fd;
}

static void
rmdir_all(int dfd, const char *path)
{
	unlinkat(dfd, AGENT_STATE_FILE, 0);
	unlinkat(dfd, AGENT_CONF_FILE, 0);
	unlinkat(dfd, AGENT_CREDENTIAL_FILE, 0);
	unlinkat(dfd, AGENT_FLOOR_FILE, 0);
	unlinkat(dfd, AGENT_STATE_VOID_FILE, 0);
	close(dfd);
	rmdir(path);
}

static void
test_save_load(void **unused)
{
	char path[64], cred[AGENT_CREDENTIAL_MAX + 1];
	struct agent_state *s = NULL;
	struct core_error err;
	struct stat st;
	int64_t received;
	int dfd = tmpdir(path, sizeof(path));

	struct agent_state *d = state_decode();

	(void)unused;
	assert_int_equal(agent_state_load(dfd, &s, &received, NULL, &err), -ENOENT);
	assert_int_equal(agent_state_save(dfd, d, state_body, sizeof(state_body) - 1, T0_MS, &err), 0);
	codec_agent_state_free(d);
	assert_int_equal(fstatat(dfd, AGENT_STATE_FILE, &st, 0), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(faccessat(dfd, AGENT_STATE_FILE ".tmp", F_OK, 0), -1);	/* no temp file left */
	assert_int_equal(agent_state_load(dfd, &s, &received, NULL, &err), 0);
	assert_int_equal(received, T0_MS);
	codec_agent_state_free(s);
	/* a symlink is not followed */
	assert_int_equal(unlinkat(dfd, AGENT_STATE_FILE, 0), 0);
	assert_int_equal(symlinkat("/etc/passwd", dfd, AGENT_STATE_FILE), 0);
	assert_int_equal(agent_state_load(dfd, &s, &received, NULL, &err), -ELOOP);

	assert_int_equal(agent_credential_save(dfd, "jga_abcDEF-123_x", &err), 0);
	assert_int_equal(fstatat(dfd, AGENT_CREDENTIAL_FILE, &st, 0), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(agent_credential_load(dfd, cred, sizeof(cred), &err), 0);
	assert_string_equal(cred, "jga_abcDEF-123_x");
	assert_int_equal(fchmodat(dfd, AGENT_CREDENTIAL_FILE, 0640, 0), 0);
	assert_int_equal(agent_credential_load(dfd, cred, sizeof(cred), &err), -EPERM);
	assert_non_null(strstr(err.message, "chmod 600"));
	assert_int_equal(agent_credential_save(dfd, "has space", &err), -EINVAL);
	rmdir_all(dfd, path);
}

/* the saved state at restart with state.floor: set, newer, torn, cleared; and state.json set aside */
static void
test_floor(void **unused)
{
	char path[64], text[AGENT_FLOOR_FILE_SIZE];
	struct agent_state *s = NULL, *d = state_decode();
	struct core_error err;
	struct stat st;
	int64_t received;
	bool voided;
	int dfd = tmpdir(path, sizeof(path)), fd;

	(void)unused;
	assert_int_equal(agent_floor_set(dfd, d), -ENOENT);	/* not prepared: never created on the spot */
	assert_int_equal(agent_floor_prepare(dfd), 0);
	assert_int_equal(fstatat(dfd, AGENT_FLOOR_FILE, &st, 0), 0);
	assert_int_equal(st.st_size, AGENT_FLOOR_FILE_SIZE);
	assert_int_equal(agent_floor_read(dfd, &s, &err), 0);
	assert_null(s);
	/* revision 7 saved; then revision 8 (no grants left) could not be: the floor holds 8's ports */
	assert_int_equal(agent_state_save(dfd, d, state_body, sizeof(state_body) - 1, T0_MS, &err), 0);
	d->revision = 8;
	assert_int_equal(agent_floor_set(dfd, d), 0);
	assert_int_equal(fstatat(dfd, AGENT_FLOOR_FILE, &st, 0), 0);
	assert_int_equal(st.st_size, AGENT_FLOOR_FILE_SIZE);	/* rewritten in place, never grown */
	assert_int_equal(agent_state_load(dfd, &s, &received, &voided, &err), 0);
	assert_true(voided);
	assert_int_equal(s->revision, 8);
	assert_int_equal(s->n_ports, 2);
	assert_int_equal(s->n_grants, 0);
	codec_agent_state_free(s);
	/* a floor older than state.json (a crash after the save, before the clear) does not count */
	d->revision = 6;
	assert_int_equal(agent_floor_set(dfd, d), 0);
	assert_int_equal(agent_state_load(dfd, &s, &received, &voided, &err), 0);
	assert_false(voided);
	assert_int_equal(s->n_grants, 2);
	codec_agent_state_free(s);
	/* torn (a byte of its payload changed): state.json's grants are void */
	fd = openat(dfd, AGENT_FLOOR_FILE, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "X", 1, 20), 1);
	close(fd);
	fd = openat(dfd, AGENT_FLOOR_FILE, O_RDONLY);
	assert_int_equal(read(fd, text, sizeof(text)), sizeof(text));
	close(fd);
	assert_int_equal(agent_floor_decode(text, sizeof(text), &s, &err), -EINVAL);
	assert_non_null(strstr(err.message, "torn"));
	assert_int_equal(agent_state_load(dfd, &s, &received, &voided, &err), 0);
	assert_true(voided);
	assert_int_equal(s->revision, 7);
	assert_int_equal(s->n_grants, 0);
	codec_agent_state_free(s);
	/* a save that works clears the floor */
	d->revision = 7;
	assert_int_equal(agent_state_save(dfd, d, state_body, sizeof(state_body) - 1, T0_MS, &err), 0);
	assert_int_equal(agent_floor_read(dfd, &s, &err), 0);
	assert_null(s);
	/* state.json set aside (no floor could be set): read back without its grants */
	assert_int_equal(renameat(dfd, AGENT_STATE_FILE, dfd, AGENT_STATE_VOID_FILE), 0);
	assert_int_equal(agent_state_load(dfd, &s, &received, &voided, &err), 0);
	assert_true(voided);
	assert_int_equal(s->n_grants, 0);
	assert_int_equal(s->n_ports, 2);
	codec_agent_state_free(s);
	/* a file of another size is not written in place (it could need room) */
	assert_int_equal(unlinkat(dfd, AGENT_FLOOR_FILE, 0), 0);
	fd = openat(dfd, AGENT_FLOOR_FILE, O_WRONLY | O_CREAT, 0600);
	close(fd);
	assert_int_equal(agent_floor_prepare(dfd), -EINVAL);
	assert_int_equal(agent_floor_set(dfd, d), -EFBIG);
	assert_int_equal(agent_floor_decode(S("not a floor"), &s, &err), -EINVAL);
	codec_agent_state_free(d);
	rmdir_all(dfd, path);
}

static void
test_credential_parse(void **unused)
{
	char buf[AGENT_CREDENTIAL_MAX + 1], long_one[AGENT_CREDENTIAL_MAX + 2];

	(void)unused;
	assert_int_equal(agent_credential_parse(S("jga_x\n"), buf, sizeof(buf), NULL), 0);
	assert_string_equal(buf, "jga_x");
	assert_int_equal(agent_credential_parse(S(""), buf, sizeof(buf), NULL), -EINVAL);
	assert_int_equal(agent_credential_parse(S("\n"), buf, sizeof(buf), NULL), -EINVAL);
	assert_int_equal(agent_credential_parse(S("a\n\n"), buf, sizeof(buf), NULL), -EINVAL);
	assert_int_equal(agent_credential_parse(S("a\0b"), buf, sizeof(buf), NULL), -EINVAL);
	memset(long_one, 'a', sizeof(long_one));
	assert_int_equal(agent_credential_parse(long_one, AGENT_CREDENTIAL_MAX, buf, sizeof(buf), NULL), 0);
	assert_int_equal(agent_credential_parse(long_one, AGENT_CREDENTIAL_MAX + 1, buf, sizeof(buf), NULL), -EINVAL);
	assert_int_equal(agent_credential_parse(S("abc"), buf, 3, NULL), -EINVAL);
}

#define CONF_OK "vm = " VM1 "\nserver = https://jit1.example.net:8443\nca = /etc/jitgate-agent/ca.pem\n"
#define FP "3A:9F:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD"

static int
conf(const char *text, struct agent_conf *c, struct core_error *err)
{
	size_t n;
	char *copy = test_copy_unterminated(text, &n);
	int r = agent_conf_parse(copy, n, c, err);

	free(copy);
	return r;
}

static void
test_conf(void **unused)
{
	static struct agent_conf c, d;
	struct core_error err;
	struct buf b = { 0 };

	(void)unused;
	assert_int_equal(conf("# joined\n\n  " CONF_OK "server=https://jit2:443  \nmax_disconnected = PT4H\n", &c, &err), 0);
	assert_string_equal(c.vm, VM1);
	assert_int_equal(c.n_servers, 2);
	assert_string_equal(c.servers[1], "https://jit2:443");
	assert_string_equal(c.ca_file, "/etc/jitgate-agent/ca.pem");
	assert_false(c.has_fingerprint);
	assert_int_equal(c.max_disconnected_ms, 4 * 3600 * 1000);
	/* what format writes, parse reads back the same */
	assert_int_equal(agent_conf_format(&c, &b), 0);
	assert_int_equal(conf(b.data, &d, &err), 0);
	assert_memory_equal(&c, &d, sizeof(c));
	buf_free(&b);

	assert_int_equal(conf("vm = " VM1 "\nserver = https://a\nca_fingerprint = " FP "\n", &c, &err), 0);
	assert_true(c.has_fingerprint);
	assert_int_equal(c.fingerprint[0], 0x3a);
	assert_int_equal(c.fingerprint[31], 0xdd);
	assert_int_equal(agent_conf_format(&c, &b), 0);
	assert_int_equal(conf(b.data, &d, &err), 0);
	assert_memory_equal(&c, &d, sizeof(c));
	buf_free(&b);
}

static void
test_conf_refusals(void **unused)
{
	static const struct {
		const char *text;
		const char *target;
	} bad[] = {
		{ CONF_OK "vm = " VM1 "\n", "agent.conf:4" },			/* twice */
		{ CONF_OK "colour = blue\n", "agent.conf:4" },			/* unknown key */
		{ CONF_OK "server\n", "agent.conf:4" },				/* no '=' */
		{ CONF_OK "server =\n", "agent.conf:4" },			/* no value */
		{ CONF_OK " = x\n", "agent.conf:4" },				/* no key */
		{ "server = http://plain\n", "agent.conf:1" },			/* not https */
		{ "server = https://\n", "agent.conf:1" },			/* nothing after the scheme */
		{ "server = https://a b\n", "agent.conf:1" },			/* a space */
		{ "ca = relative.pem\n", "agent.conf:1" },
		{ "ca_fingerprint = 3A9F\n", "agent.conf:1" },			/* short */
		{ "ca_fingerprint = " FP ":00\n", "agent.conf:1" },		/* long */
		{ "ca_fingerprint = 3A::9F\n", "agent.conf:1" },
		{ "vm = /subscriptions/x\n", "agent.conf:1" },
		{ "max_disconnected = 4h\n", "agent.conf:1" },
		{ "vm = " VM1 "\nserver = https://a\n", "agent.conf" },		/* no CA */
		{ CONF_OK "ca_fingerprint = " FP "\n", "agent.conf" },	/* both CAs */
		{ "server = https://a\nca = /x\n", "agent.conf" },		/* no vm */
		{ "", "agent.conf" },
	};
	static struct agent_conf c;
	struct core_error err;
	char servers[16 * 32], big[AGENT_CONF_LINE_MAX + 16];
	size_t i, len = 0;

	(void)unused;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&c, 0x77, sizeof(c));
		assert_int_equal(conf(bad[i].text, &c, &err), -EINVAL);
		assert_error(&err, AGENT_ERR_CONF, bad[i].target);
		assert_int_equal(c.n_servers, 0x7777777777777777ULL);	/* nothing written */
	}
	for (i = 0; i <= AGENT_SERVERS_MAX; i++)
		len += (size_t)snprintf(servers + len, sizeof(servers) - len, "server = https://a\n");
	assert_int_equal(conf(servers, &c, &err), -EINVAL);
	assert_string_equal(err.target, "agent.conf:9");
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(conf(big, &c, &err), -EINVAL);
	assert_string_equal(err.target, "agent.conf:1");
	/* a bad value is quoted safely: control bytes become '?' */
	assert_int_equal(conf("ca = /x\x1b[31m\n", &c, &err), -EINVAL);
	assert_null(strchr(err.message, '\x1b'));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_to_fw),
		cmocka_unit_test(test_to_fw_refusals),
		cmocka_unit_test(test_grant_end),
		cmocka_unit_test(test_terminations_due),
		cmocka_unit_test(test_state_file),
		cmocka_unit_test(test_save_load),
		cmocka_unit_test(test_floor),
		cmocka_unit_test(test_credential_parse),
		cmocka_unit_test(test_conf),
		cmocka_unit_test(test_conf_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests for jitgate-agent's host parsers: os-release, /proc/net sockets, and the address list's rules. */
#include <errno.h>
#include <stdio.h>

#include "agent/agent-host.h"
#include "testutil.h"

static void
os_parse(const char *text, struct agent_os *os)
{
	size_t n;
	char *copy = test_copy_unterminated(text, &n);

	memset(os, 0x5a, sizeof(*os));
	agent_os_release_parse(copy, n, os);
	free(copy);
}

static void
test_os_release(void **unused)
{
	struct agent_os os;

	(void)unused;
	os_parse("PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nID=debian\n", &os);
	assert_string_equal(os.id, "debian");
	assert_string_equal(os.pretty_name, "Debian GNU/Linux 12 (bookworm)");
	/* single quotes, escapes in double quotes, comments, blanks, leading spaces, no final newline */
	os_parse("# comment\n\n  ID='ubuntu'\nPRETTY_NAME=\"say \\\"hi\\\" \\\\ \\$x\"", &os);
	assert_string_equal(os.id, "ubuntu");
	assert_string_equal(os.pretty_name, "say \"hi\" \\ $x");
	/* malformed lines are passed over: no '=', an unclosed quote, text after the quote, spaces unquoted */
	os_parse("ID\nID=\"open\nPRETTY_NAME=\"a\" b\nID=two words\nid=lower\n", &os);
	assert_string_equal(os.id, "");
	assert_string_equal(os.pretty_name, "");
	/* the last assignment wins; control bytes become '?'; an empty text gives empty fields */
	os_parse("ID=a\nID=b\nPRETTY_NAME=\"x\x01y\"\n", &os);
	assert_string_equal(os.id, "b");
	assert_string_equal(os.pretty_name, "x?y");
	os_parse("", &os);
	assert_string_equal(os.id, "");
}

static void
test_os_release_long(void **unused)
{
	char text[1024];
	struct agent_os os;

	(void)unused;
	memcpy(text, "ID=", 3);
	memset(text + 3, 'x', 600);
	text[603] = '\0';
	os_parse(text, &os);
	assert_int_equal(strlen(os.id), AGENT_OS_FIELD_MAX);
}

#define TCP_HEADER "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"

static const char tcp4[] = TCP_HEADER
	"   0: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0\n"
	"   1: 0100007F:0D3D 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2 1 0 100 0 0 10 0\n"
	"   2: 0200A8C0:0016 0300A8C0:D431 01 00000000:00000000 00:00000000 00000000     0        0 3 1 0 100 0 0 10 0\n"
	"   3: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4 1 0 100 0 0 10 0\n"
	"   4: 00000000:1F90 00000000:0000 0A\n";	/* a cut line: fields after the state are not needed */

static const char tcp6[] = TCP_HEADER
	"   0: 00000000000000000000000000000000:1761 00000000000000000000000000000000:0000 0A 00000000:00000000 00:0 0\n"
	"   1: 00000000000000000000000000000000:0016 00000000000000000000000000000000:0000 0A x\n";

static const char udp4[] = "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n"
	"  10: 00000000:0D3D 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 9 2 0 0\n"
	"  11: 00000000:0016 0400000A:0035 01 00000000:00000000 00:00000000 00000000     0        0 9 2 0 0\n";

static int
parse(const char *text, enum net_proto proto, const struct agent_port *want, size_t n_want, struct agent_port *out,
      size_t *n_out, size_t max)
{
	size_t n;
	char *copy = test_copy_unterminated(text, &n);
	int r = agent_proc_net_parse(copy, n, proto, want, n_want, out, n_out, max);

	free(copy);
	return r;
}

static void
test_proc_net(void **unused)
{
	const struct agent_port want[] = { { NET_PROTO_ANY, 22 }, { NET_PROTO_ANY, 3389 }, { NET_PROTO_ANY, 5985 },
					   { NET_PROTO_TCP, 8080 } };
	struct agent_port out[8];
	size_t n = 0;

	(void)unused;
	/* 22 and 8080 (twice: one entry) listen; 3389 listens on loopback (still a listener); 22 established is not */
	assert_int_equal(parse(tcp4, NET_PROTO_TCP, want, 4, out, &n, 8), 4);
	assert_int_equal(n, 3);
	assert_int_equal(out[0].number, 22);
	assert_int_equal(out[0].proto, NET_PROTO_TCP);
	assert_int_equal(out[1].number, 3389);
	assert_int_equal(out[2].number, 8080);
	/* tcp6 adds 5985 in order; 22 again is not repeated */
	assert_int_equal(parse(tcp6, NET_PROTO_TCP, want, 4, out, &n, 8), 2);
	assert_int_equal(n, 4);
	assert_int_equal(out[3].number, 8080);
	assert_int_equal(out[2].number, 5985);
	/* UDP: bound 3389 counts, a connected socket from port 22 does not; UDP 3389 sorts after TCP 3389 */
	assert_int_equal(parse(udp4, NET_PROTO_UDP, want, 4, out, &n, 8), 1);
	assert_int_equal(n, 5);
	assert_int_equal(out[2].number, 3389);
	assert_int_equal(out[2].proto, NET_PROTO_UDP);
	/* a TCP-only wanted port does not match UDP */
	n = 0;
	assert_int_equal(parse("  1: 00000000:1F90 00000000:0000 07\n", NET_PROTO_UDP, want, 4, out, &n, 8), 0);
	assert_int_equal(n, 0);
}

static void
test_proc_net_full_and_junk(void **unused)
{
	const struct agent_port want[] = { { NET_PROTO_ANY, 22 }, { NET_PROTO_ANY, 3389 } };
	struct agent_port out[1];
	size_t n = 0;

	(void)unused;
	assert_int_equal(parse(tcp4, NET_PROTO_TCP, want, 2, out, &n, 1), -E2BIG);
	assert_int_equal(n, 1);
	assert_int_equal(out[0].number, 22);
	n = 0;
	assert_int_equal(parse(tcp4, NET_PROTO_ANY, want, 2, out, &n, 1), -EINVAL);
	/* junk of every kind: short hex, missing colon, a 5-digit port, a 3-digit state, nothing */
	assert_int_equal(parse("0: 0000000:0016 00000000:0000 0A\n0 00000000:0016 00000000:0000 0A\n"
			       "0: 00000000:00016 00000000:0000 0A\n0: 00000000:0016 00000000:0000 0A0\n\n:\n",
			       NET_PROTO_TCP, want, 2, out, &n, 1), 0);
	assert_int_equal(n, 0);
}


static void
test_addrs(void **unused)
{
	const char *const kept[] = { "10.0.0.4", "192.0.2.1", "fd00::1", "2001:db8::5" };
	const char *const dropped[] = { "127.0.0.1", "169.254.1.1", "::1", "fe80::1", "224.0.0.1", "0.0.0.0", "::",
					"ff02::1", "255.255.255.255" };
	struct net_addr v[3], a;
	char text[NET_ADDR_TEXT_MAX];
	size_t n = 0, i;

	(void)unused;
	for (i = 0; i < sizeof(dropped) / sizeof(dropped[0]); i++) {
		a = test_addr(dropped[i]);
		assert_int_equal(agent_addrs_add(v, &n, 3, &a), 0);
	}
	assert_int_equal(n, 0);
	for (i = 0; i < sizeof(kept) / sizeof(kept[0]); i++) {
		a = test_addr(kept[i]);
		agent_addrs_add(v, &n, 3, &a);
	}
	/* full at 3: the greatest (fd00::1, after 2001:db8::5) made way; v4 before v6, each sorted */
	assert_int_equal(n, 3);
	net_addr_format(&v[0], text, sizeof(text));
	assert_string_equal(text, "10.0.0.4");
	net_addr_format(&v[2], text, sizeof(text));
	assert_string_equal(text, "2001:db8::5");
	a = test_addr("10.0.0.4");
	assert_int_equal(agent_addrs_add(v, &n, 3, &a), 0);	/* a duplicate */
	a = test_addr("1.2.3.4");
	assert_int_equal(agent_addrs_add(v, &n, 3, &a), 1);	/* smaller than all: in, the greatest out */
	net_addr_format(&v[0], text, sizeof(text));
	assert_string_equal(text, "1.2.3.4");
	net_addr_format(&v[2], text, sizeof(text));
	assert_string_equal(text, "192.0.2.1");
}

static void
test_readers(void **unused)
{
	struct net_addr v[API_ADDRS_MAX];
	struct agent_port out[AGENT_LISTENING_MAX];
	char name[ARM_VM_NAME_MAX + 1];
	size_t n = 99, i;

	(void)unused;
	/* whatever this host has, the readers keep their promises */
	assert_int_equal(agent_addrs_read(v, &n), 0);
	assert_true(n <= API_ADDRS_MAX);
	for (i = 0; i < n; i++)
		assert_null(net_addr_special_kind(&v[i]));
	assert_int_equal(agent_listening_read("/proc", NULL, 0, out, &n), 0);
	assert_true(n <= AGENT_LISTENING_MAX);
	assert_int_equal(agent_listening_read("/nonexistent", NULL, 0, out, &n), 0);
	assert_int_equal(n, 0);
	if (agent_hostname_short(name, sizeof(name)) == 0)
		assert_null(strchr(name, '.'));
	assert_int_equal(agent_hostname_short(name, 1), -ENAMETOOLONG);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_os_release),
		cmocka_unit_test(test_os_release_long),
		cmocka_unit_test(test_proc_net),
		cmocka_unit_test(test_proc_net_full_and_junk),
		cmocka_unit_test(test_addrs),
		cmocka_unit_test(test_readers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

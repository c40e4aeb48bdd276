/* Unit tests of src/core/dnat.c: which public ports are taken, the range allocator, and the dnat_ports setting. */
#include <errno.h>

#include "core/dnat.h"
#include "testutil.h"


static void
test_taken(void **state)
{
	struct dnat_taken t = { 0 };
	struct net_addr p = test_addr("10.0.0.1"), q = test_addr("10.0.0.2"), p6 = test_addr("fd00::1");

	(void)state;
	assert_true(dnat_port_is_free(&t, &p, NET_PROTO_TCP, 50000));
	assert_int_equal(dnat_take(&t, &p, NET_PROTO_TCP, 50000), 0);
	assert_false(dnat_port_is_free(&t, &p, NET_PROTO_TCP, 50000));
	assert_false(dnat_port_is_free(&t, &p, NET_PROTO_ANY, 50000));	/* "*" needs TCP too */
	assert_true(dnat_port_is_free(&t, &p, NET_PROTO_UDP, 50000));	/* another protocol: another key */
	assert_true(dnat_port_is_free(&t, &q, NET_PROTO_TCP, 50000));	/* another public address */
	assert_true(dnat_port_is_free(&t, &p6, NET_PROTO_TCP, 50000));
	assert_int_equal(dnat_take(&t, &q, NET_PROTO_ANY, 50001), 0);
	assert_false(dnat_port_is_free(&t, &q, NET_PROTO_UDP, 50001));	/* "*" takes both */
	assert_false(dnat_port_is_free(&t, &q, NET_PROTO_TCP, 50001));
	free(t.v);
}

static void
test_pick(void **state)
{
	struct dnat_taken t = { 0 };
	struct net_addr p = test_addr("10.0.0.1");
	uint16_t port = 0;

	(void)state;
	assert_int_equal(dnat_port_pick(&t, &p, NET_PROTO_TCP, 100, 102, 0, &port), 0);
	assert_int_equal(port, 100);	/* the lowest free */
	assert_int_equal(dnat_take(&t, &p, NET_PROTO_TCP, 100), 0);
	assert_int_equal(dnat_port_pick(&t, &p, NET_PROTO_TCP, 100, 102, 0, &port), 0);
	assert_int_equal(port, 101);
	assert_int_equal(dnat_port_pick(&t, &p, NET_PROTO_TCP, 100, 102, 102, &port), 0);
	assert_int_equal(port, 102);	/* the one it had, kept */
	assert_int_equal(dnat_port_pick(&t, &p, NET_PROTO_TCP, 100, 102, 100, &port), 0);
	assert_int_equal(port, 101);	/* the one it had is taken now */
	assert_int_equal(dnat_port_pick(&t, &p, NET_PROTO_TCP, 100, 102, 7, &port), 0);
	assert_int_equal(port, 101);	/* outside the range: not kept */
	assert_int_equal(dnat_take(&t, &p, NET_PROTO_UDP, 101), 0);
	assert_int_equal(dnat_port_pick(&t, &p, NET_PROTO_ANY, 100, 102, 0, &port), 0);
	assert_int_equal(port, 102);	/* "*" needs both protocols free */
	assert_int_equal(dnat_take(&t, &p, NET_PROTO_TCP, 101), 0);
	assert_int_equal(dnat_take(&t, &p, NET_PROTO_TCP, 102), 0);
	port = 9;
	assert_int_equal(dnat_port_pick(&t, &p, NET_PROTO_TCP, 100, 102, 0, &port), -ENOSPC);
	assert_int_equal(port, 9);	/* untouched on failure */
	assert_int_equal(dnat_port_pick(&t, &p, NET_PROTO_TCP, 103, 102, 0, &port), -EINVAL);
	assert_int_equal(dnat_port_pick(&t, &p, NET_PROTO_TCP, 0, 10, 0, &port), -EINVAL);
	/* the range's last port, 65535, is reached without the counter wrapping */
	assert_int_equal(dnat_port_pick(&t, &p, NET_PROTO_TCP, 65535, 65535, 0, &port), 0);
	assert_int_equal(port, 65535);
	assert_int_equal(dnat_take(&t, &p, NET_PROTO_TCP, 65535), 0);
	assert_int_equal(dnat_port_pick(&t, &p, NET_PROTO_TCP, 65535, 65535, 0, &port), -ENOSPC);
	free(t.v);
}

static void
test_range_parse(void **state)
{
	static const char *const bad[] = { "", "-", "50000", "50000-", "-50000", "0-10", "10-0", "2-1", "1-65536",
					   "a-b", "1 - 2", "1-2-3", "+1-2" };
	struct core_error err;
	uint16_t lo = 0, hi = 0;
	size_t i;

	(void)state;
	assert_int_equal(dnat_range_parse("50000-50999", 11, &lo, &hi, &err), 0);
	assert_int_equal(lo, 50000);
	assert_int_equal(hi, 50999);
	assert_int_equal(dnat_range_parse("7-7", 3, &lo, &hi, &err), 0);
	assert_int_equal(lo, 7);
	assert_int_equal(hi, 7);
	assert_int_equal(dnat_range_parse("1-2000", 3, &lo, &hi, &err), 0);	/* the length is the input's end */
	assert_int_equal(hi, 2);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		lo = hi = 1;
		memset(&err, 0, sizeof(err));
		if (dnat_range_parse(bad[i], strlen(bad[i]), &lo, &hi, &err) != -EINVAL)
			fail_msg("'%s' was taken", bad[i]);
		assert_string_equal(err.target, "dnat_ports");
		assert_int_equal(lo, 1);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_taken),
		cmocka_unit_test(test_pick),
		cmocka_unit_test(test_range_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests for fw's pure model (fw-model.c) and its deadlines (fw-deadline.c): which elements a state implies, how two element lists differ, and how clock steps bound ends. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "fw-testutil.h"
#include "fw/fw-deadline.h"
#include "fw/fw-model.h"

#define NOW 1000000000000LL

static char *
src_text(const struct fw_elem *e, char *buf, size_t size)
{
	assert_true(net_prefix_format(&e->src, buf, size) > 0);
	return buf;
}

static void
elems_of(const struct fw_vm *vms, size_t n_vms, const struct fw_grant *g, size_t n_g, struct fw_elem **ret,
	 size_t *ret_n)
{
	struct fw_state st = { vms, n_vms, NULL, 0, g, n_g };
	struct core_error err = { 0 };

	assert_int_equal(fw_state_elems(&st, NOW, ret, ret_n, &err), 0);
}

static void
test_same_key_keeps_latest_end(void **state)
{
	struct fw_vm vm = vm_local(1);
	struct fw_grant g[] = {
		grant("early", 1, "10.0.0.5", NET_PROTO_TCP, 22, NOW + 1000),
		grant("late", 1, "10.0.0.5", NET_PROTO_TCP, 22, NOW + 9000),
		grant("middle", 1, "10.0.0.5", NET_PROTO_TCP, 22, NOW + 5000),
	};
	struct fw_elem *e;
	size_t n;

	elems_of(&vm, 1, g, 3, &e, &n);
	assert_int_equal(n, 1);
	assert_int_equal(e[0].set, FW_SET_LOCAL_GRANT4);
	assert_int_equal(e[0].end_ms, NOW + 9000);
	assert_string_equal(e[0].comment, "late");
	free(e);
}

static void
test_any_protocol_and_source_expand(void **state)
{
	struct fw_vm vm = vm_local(1);
	struct fw_grant g = grant("r", 1, "*", NET_PROTO_ANY, 3389, NOW + 1000);
	struct fw_elem *e;
	size_t n, i, v4 = 0, v6 = 0, tcp = 0;
	char buf[64];

	elems_of(&vm, 1, &g, 1, &e, &n);
	assert_int_equal(n, 4);
	for (i = 0; i < n; i++) {
		assert_true(fw_set_is_interval(e[i].set));
		assert_int_equal(e[i].src.len, 0);
		v4 += e[i].set == FW_SET_LOCAL_GRANT4_NET;
		v6 += e[i].set == FW_SET_LOCAL_GRANT6_NET;
		tcp += e[i].proto == NET_PROTO_TCP;
	}
	assert_int_equal(v4, 2);
	assert_int_equal(v6, 2);
	assert_int_equal(tcp, 2);
	assert_string_equal(src_text(&e[0], buf, sizeof(buf)), "0.0.0.0/0");
	free(e);
}

static void
test_overlap_split_child_outlives_parent(void **state)
{
	struct fw_vm vm = vm_local(1);
	struct fw_grant g[] = {
		grant("wide", 1, "10.0.0.0/24", NET_PROTO_TCP, 22, NOW + 1000),
		grant("narrow", 1, "10.0.0.0/25", NET_PROTO_TCP, 22, NOW + 2000),
	};
	struct fw_elem *e;
	size_t n;
	char buf[64];

	elems_of(&vm, 1, g, 2, &e, &n);
	assert_int_equal(n, 2);
	assert_string_equal(src_text(&e[0], buf, sizeof(buf)), "10.0.0.0/25");
	assert_int_equal(e[0].end_ms, NOW + 2000);
	assert_string_equal(e[0].comment, "narrow");
	assert_string_equal(src_text(&e[1], buf, sizeof(buf)), "10.0.0.128/25");
	assert_int_equal(e[1].end_ms, NOW + 1000);
	assert_string_equal(e[1].comment, "wide");
	free(e);
}

static void
test_overlap_covered_child_dropped(void **state)
{
	struct fw_vm vm = vm_local(1);
	struct fw_grant g[] = {
		grant("narrow", 1, "10.0.0.64/26", NET_PROTO_TCP, 22, NOW + 1000),
		grant("wide", 1, "10.0.0.0/24", NET_PROTO_TCP, 22, NOW + 2000),
		grant("same", 1, "10.0.0.0/24", NET_PROTO_TCP, 22, NOW + 1500),
	};
	struct fw_elem *e;
	size_t n;
	char buf[64];

	elems_of(&vm, 1, g, 3, &e, &n);
	assert_int_equal(n, 1);
	assert_string_equal(src_text(&e[0], buf, sizeof(buf)), "10.0.0.0/24");
	assert_string_equal(e[0].comment, "wide");
	free(e);
}

static void
test_overlap_deep_split_is_disjoint_and_complete(void **state)
{
	struct fw_vm vm = vm_local(1);
	struct fw_grant g[] = {
		grant("outer", 1, "10.0.0.0/16", NET_PROTO_TCP, 22, NOW + 1000),
		grant("inner", 1, "10.0.5.0/24", NET_PROTO_TCP, 22, NOW + 2000),
		grant("innermost", 1, "10.0.5.7/32", NET_PROTO_TCP, 22, NOW + 3000),
		grant("v6", 1, "fd00::/64", NET_PROTO_TCP, 22, NOW + 3000),
	};
	struct fw_elem *e;
	size_t n, i;
	uint64_t covered = 0;

	elems_of(&vm, 1, g, 4, &e, &n);
	/* the /32 is a single address: it goes to the hash set, not the interval set */
	for (i = 0; i < n; i++) {
		if (e[i].set == FW_SET_LOCAL_GRANT4_NET) {
			assert_true(e[i].src.len >= 16 && e[i].src.len <= 24);
			covered += 1ull << (32 - e[i].src.len);
			if (e[i].src.len == 24 && e[i].src.addr.bytes[2] == 5)
				assert_string_equal(e[i].comment, "inner");
			else
				assert_string_equal(e[i].comment, "outer");
		}
	}
	assert_int_equal(covered, 1ull << 16);	/* pieces are disjoint and fill the /16 exactly */
	assert_int_equal(n, 9 + 1 + 1);		/* 8 siblings + the /24, the /32, the v6 /64 */
	free(e);
}

static void
test_gateway_per_address_and_family(void **state)
{
	struct fw_vm vms[] = { vm_gateway(2, "10.9.0.2", "fd00:9::2"), vm_gateway(3, "10.9.0.3", NULL) };
	struct fw_grant g[] = {
		grant("a", 2, "10.1.0.5", NET_PROTO_TCP, 22, NOW + 1000),
		grant("b", 2, "fd00:1::5", NET_PROTO_TCP, 22, NOW + 1000),
		grant("c", 3, "fd00:1::5", NET_PROTO_TCP, 22, NOW + 1000),	/* v4-only VM: nothing */
	};
	struct fw_port p = { .vm = 2, .proto = NET_PROTO_UDP, .port = 53 };
	struct fw_state st = { vms, 2, &p, 1, g, 3 };
	struct core_error err = { 0 };
	struct fw_elem *e;
	size_t n;
	char buf[64];

	assert_int_equal(fw_state_elems(&st, NOW, &e, &n, &err), 0);
	assert_int_equal(n, 4);
	assert_int_equal(e[0].set, FW_SET_GW_PROTECT4);
	assert_int_equal(e[1].set, FW_SET_GW_PROTECT6);
	assert_int_equal(e[2].set, FW_SET_GW_GRANT4);
	assert_int_equal(net_addr_format(&e[2].dst, buf, sizeof(buf)) > 0, 1);
	assert_string_equal(buf, "10.9.0.2");
	assert_int_equal(e[3].set, FW_SET_GW_GRANT6);
	free(e);
}


/* Gateway DNAT: a grant with a mapping adds its public address's element, for sources of that family only. */
static void
test_dnat_grant_elems(void **state)
{
	struct fw_vm vm = vm_gateway(2, "10.9.0.2", "fd00:9::2");
	struct fw_grant g[] = {
		grant("a", 2, "10.1.0.5", NET_PROTO_ANY, 22, NOW + 1000),
		grant("b", 2, "10.1.0.0/24", NET_PROTO_TCP, 22, NOW + 1000),
		grant("c", 2, "fd00:1::5", NET_PROTO_TCP, 22, NOW + 1000),	/* a v6 source, a v4 mapping: no DNAT */
	};
	struct fw_elem *e;
	size_t n, i, dnat = 0;
	char buf[64];

	for (i = 0; i < 3; i++) {
		g[i].dnat_addr = test_addr("192.0.2.1");
		g[i].dnat_port = 50022;
	}
	elems_of(&vm, 1, g, 3, &e, &n);
	for (i = 0; i < n; i++) {
		if (e[i].set != FW_SET_DNAT_GRANT4 && e[i].set != FW_SET_DNAT_GRANT4_NET)
			continue;
		dnat++;
		assert_int_equal(e[i].port, 50022);
		assert_true(net_addr_format(&e[i].dst, buf, sizeof(buf)) > 0);
		assert_string_equal(buf, "192.0.2.1");
		assert_int_equal(e[i].end_ms, NOW + 1000);
		assert_string_equal(src_text(&e[i], buf, sizeof(buf)), e[i].set == FW_SET_DNAT_GRANT4 ? "10.1.0.5" : "10.1.0.0/24");
	}
	assert_int_equal(dnat, 3);	/* a: TCP and UDP; b: TCP; c: none */
	free(e);
}

/* The nat chain's map: one entry per protocol of a mapped port, to the VM's address of the family; conflicts refused. */
static void
test_dnat_map(void **state)
{
	struct fw_vm vms[] = { vm_gateway(2, "10.9.0.2", "fd00:9::2"), vm_gateway(3, "10.9.0.3", NULL), vm_local(4) };
	struct fw_port p[] = {
		{ .vm = 2, .proto = NET_PROTO_ANY, .port = 22, .dnat_addr = test_addr("192.0.2.1"), .dnat_port = 50022 },
		{ .vm = 3, .proto = NET_PROTO_TCP, .port = 22, .dnat_addr = test_addr("192.0.2.1"), .dnat_port = 50023 },
		{ .vm = 2, .proto = NET_PROTO_TCP, .port = 3389, .dnat_addr = test_addr("fd00::1"), .dnat_port = 50022 },
		{ .vm = 2, .proto = NET_PROTO_TCP, .port = 80 },
	};
	struct fw_state st = { vms, 3, p, 4, NULL, 0 };
	struct core_error err = { 0 };
	struct fw_dnat *d = NULL;
	struct fw_elem *e = NULL;
	size_t n = 0;
	char buf[64];

	assert_int_equal(fw_state_dnat(&st, &d, &n, &err), 0);
	assert_int_equal(n, 4);	/* 22: TCP and UDP; vm3's 22; 3389 over IPv6 */
	assert_true(fw_dnat_equal(d, n, d, n));
	assert_true(net_addr_format(&d[3].to, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "fd00:9::2");
	assert_int_equal(d[3].port, 3389);
	assert_false(fw_dnat_equal(d, n, d, n - 1));
	free(d);
	/* one public address, protocol and port for two VM ports: refused whole */
	p[1].dnat_port = 50022;
	d = NULL;
	assert_int_equal(fw_state_dnat(&st, &d, &n, &err), -EINVAL);
	assert_string_equal(err.code, FW_ERR_INVALID);
	assert_null(d);
	/* a mapping of the other family than the VM has, or on a local VM: refused */
	p[1].dnat_port = 50023;
	p[1].dnat_addr = test_addr("fd00::1");
	assert_int_equal(fw_state_elems(&st, NOW, &e, &n, &err), -EINVAL);
	p[1].vm = 4;
	p[1].dnat_addr = test_addr("192.0.2.1");
	assert_int_equal(fw_state_elems(&st, NOW, &e, &n, &err), -EINVAL);
	assert_null(e);
}

static void
test_expired_grants_imply_nothing(void **state)
{
	struct fw_vm vm = vm_local(1);
	struct fw_grant g[] = {
		grant("over", 1, "10.0.0.5", NET_PROTO_TCP, 22, NOW),
		grant("past", 1, "10.0.0.0/8", NET_PROTO_TCP, 22, NOW - 5000),
	};
	struct fw_elem *e;
	size_t n;

	elems_of(&vm, 1, g, 2, &e, &n);
	assert_int_equal(n, 0);
	free(e);
}

static void
test_bad_states_are_refused(void **state)
{
	struct fw_vm vms[] = { vm_local(1), vm_local(1) };
	struct fw_grant g = grant("r", 9, "10.0.0.5", NET_PROTO_TCP, 22, NOW + 1000);
	struct fw_state st = { vms, 1, NULL, 0, &g, 1 };
	struct core_error err = { 0 };
	struct fw_elem *e = NULL;
	size_t n = 0;

	assert_int_equal(fw_state_elems(&st, NOW, &e, &n, &err), -EINVAL);
	assert_string_equal(err.code, FW_ERR_INVALID);
	assert_non_null(strstr(err.message, "no such VM"));

	g.vm = 1;
	memcpy(g.request_id, "bad\"id", 7);
	assert_int_equal(fw_state_elems(&st, NOW, &e, &n, &err), -EINVAL);
	assert_non_null(strstr(err.message, "(bad id)"));

	memcpy(g.request_id, "ok", 3);
	st.n_vms = 2;
	assert_int_equal(fw_state_elems(&st, NOW, &e, &n, &err), -EINVAL);
	assert_non_null(strstr(err.message, "listed twice"));

	st.n_vms = 1;
	g.end_ms = NOW + FW_TIMEOUT_MAX_MS + 1;
	assert_int_equal(fw_state_elems(&st, NOW, &e, &n, &err), -EINVAL);
	assert_null(e);
}

static void
test_request_id_rules(void **state)
{
	char long_id[FW_REQUEST_ID_MAX + 2];

	assert_true(fw_request_id_is_valid("4f1c-22:a.b_c"));
	assert_false(fw_request_id_is_valid(""));
	assert_false(fw_request_id_is_valid("a b"));
	assert_false(fw_request_id_is_valid("a\"b"));
	memset(long_id, 'a', sizeof(long_id) - 1);
	long_id[sizeof(long_id) - 1] = '\0';
	assert_false(fw_request_id_is_valid(long_id));
	long_id[FW_REQUEST_ID_MAX] = '\0';
	assert_true(fw_request_id_is_valid(long_id));
}

static struct fw_elem
elem(const char *src, int64_t end, const char *comment)
{
	struct fw_elem e = { .set = FW_SET_LOCAL_GRANT4, .proto = NET_PROTO_TCP, .port = 22, .end_ms = end };

	assert_int_equal(net_prefix_parse(src, strlen(src), &e.src, NULL), 0);
	memcpy(e.comment, comment, strlen(comment) + 1);
	return e;
}

static void
test_diff_kinds_and_slack(void **state)
{
	struct fw_elem have[] = {
		elem("10.0.0.1", NOW + 1000, "a"),	/* kept: within the kernel's whole-second slack */
		elem("10.0.0.2", NOW + 1000, "b"),	/* updated: end differs beyond the slack */
		elem("10.0.0.3", NOW + 1000, "c"),	/* removed */
		elem("10.0.0.5", NOW + 1000, "x"),	/* updated: other request id */
	};
	struct fw_elem want[] = {
		elem("10.0.0.1", NOW + 1000 + FW_EXPIRY_SLACK_MS, "a"),
		elem("10.0.0.2", NOW + 1000 + FW_EXPIRY_SLACK_MS + 1, "b"),
		elem("10.0.0.4", NOW + 1000, "d"),	/* added */
		elem("10.0.0.5", NOW + 1000, "y"),
	};
	struct fw_batch batch = { 0 };
	struct fw_changes ch = { 0 };

	assert_int_equal(fw_diff(have, 4, want, 4, true, &batch, &ch), 0);
	assert_int_equal(ch.kept, 1);
	assert_int_equal(ch.updated, 2);
	assert_int_equal(ch.removed, 1);
	assert_int_equal(ch.added, 1);
	assert_int_equal(batch.n_ops, 4);
	assert_int_equal(batch.ops[0].kind, FW_OP_UPDATE);
	assert_int_equal(batch.ops[1].kind, FW_OP_DELETE);
	assert_int_equal(batch.ops[2].kind, FW_OP_ADD);
	assert_int_equal(batch.ops[3].kind, FW_OP_UPDATE);
	fw_batch_free(&batch);

	/* between two desired states (not read from the kernel) ends must match exactly */
	memset(&ch, 0, sizeof(ch));
	assert_int_equal(fw_diff(have, 1, want, 1, false, &batch, &ch), 0);
	assert_int_equal(ch.updated, 1);
	fw_batch_free(&batch);
}

/*
 * Clock steps (issue 11): a grant's elements never get a timeout past the
 * monotonic moment it ends, noted when first seen. The wall clock stepping
 * back an hour does not stretch a 90-second grant; stepping forward ends it
 * early (fail closed).
 */
#define MONO 5000000LL	/* an arbitrary CLOCK_MONOTONIC reading, in ms */

static void
test_deadline_wall_clock_steps(void **state)
{
	struct fw_deadlines d;
	struct fw_grant g = grant("r", 1, "10.0.0.5", NET_PROTO_TCP, 22, NOW + 90000);
	struct fw_grant other = grant("q", 1, "10.0.0.5", NET_PROTO_TCP, 22, NOW + 90000);

	fw_deadlines_init(&d, 42);
	assert_int_equal(fw_deadlines_end(&d, &g, NOW, MONO), g.end_ms);	/* not noted: its own end */
	assert_int_equal(fw_deadlines_note(&d, &g, INT64_MAX, NOW, MONO), 0);
	assert_true(fw_deadlines_has(&d, &g));
	assert_false(fw_deadlines_has(&d, &other));
	/* no step: its own end, exactly */
	assert_int_equal(fw_deadlines_end(&d, &g, NOW + 10000, MONO + 10000), g.end_ms);
	/* 10 s later the wall clock is an hour behind: 80 s left, not an hour and 80 s */
	assert_int_equal(fw_deadlines_end(&d, &g, NOW - 3600000 + 10000, MONO + 10000), NOW - 3600000 + 90000);
	/* noting it again after the step changes nothing */
	assert_int_equal(fw_deadlines_note(&d, &g, INT64_MAX, NOW - 3600000 + 20000, MONO + 20000), 0);
	assert_int_equal(fw_deadlines_end(&d, &g, NOW - 3600000 + 20000, MONO + 20000), NOW - 3600000 + 90000);
	/* 45 s ahead: its own end, so 35 s left of 80: early, never late */
	assert_int_equal(fw_deadlines_end(&d, &g, NOW + 45000 + 10000, MONO + 10000), g.end_ms);
	/* a later end for the same identity (the policy lowered it) is read with the offset first seen */
	g.end_ms = NOW - 3600000 + 60000 + 20000;	/* "60 s from now" by the stepped-back clock, 20 s in */
	assert_int_equal(fw_deadlines_note(&d, &g, INT64_MAX, NOW - 3600000 + 20000, MONO + 20000), 0);
	assert_true(fw_deadlines_end(&d, &g, NOW - 3600000 + 20000, MONO + 20000) <= NOW - 3600000 + 90000);
	/* a state: a grant whose deadline has passed implies nothing, whatever its wall-clock end says */
	{
		struct fw_vm vm = vm_local(1);
		struct fw_state st = { &vm, 1, NULL, 0, &other, 1 };
		struct core_error err = { 0 };
		struct fw_elem *e;
		size_t n;

		assert_int_equal(fw_deadlines_note(&d, &other, INT64_MAX, NOW, MONO), 0);
		assert_int_equal(fw_state_elems_at(&st, NOW - 3600000 + 91000, &d, MONO + 91000, &e, &n, &err), 0);
		assert_int_equal(n, 0);
		free(e);
		assert_int_equal(fw_state_elems_at(&st, NOW - 3600000 + 30000, &d, MONO + 30000, &e, &n, &err), 0);
		assert_int_equal(n, 1);
		assert_int_equal(e[0].end_ms, NOW - 3600000 + 90000);	/* 60 s left, on either clock */
		free(e);
	}
	/* forgotten only when over on both clocks, and a while after */
	fw_deadlines_prune(&d, NOW + 100000, MONO + 100000);
	assert_true(fw_deadlines_has(&d, &other));
	fw_deadlines_prune(&d, NOW + 100000 + FW_DEADLINE_KEEP_MS, MONO + 100000 + FW_DEADLINE_KEEP_MS);
	assert_false(fw_deadlines_has(&d, &other));
	assert_false(fw_deadlines_has(&d, &g));
	fw_deadlines_free(&d);
}

/*
 * The caller's own monotonic bound (jitgated's store keeps each grant's monotonic end): after the
 * wall clock stepped back an hour, it hands the end the grant has left, by the stepped clock. That
 * is not counted twice (the grant is not cut an hour short), and a later end by the stepped clock
 * (a policy's "30 min from now") does not stretch it; an end moved later moves it by as much.
 */
static void
test_deadline_caller_bound(void **state)
{
	struct fw_deadlines d;
	struct fw_grant g = grant("r", 1, "10.0.0.5", NET_PROTO_TCP, 22, NOW + 90000);
	const int64_t back = NOW - 3600000;	/* the wall clock, an hour behind */

	fw_deadlines_init(&d, 9);
	assert_int_equal(fw_deadlines_note(&d, &g, INT64_MAX, NOW, MONO), 0);
	/* 10 s in, an hour back: the caller hands "80 s from now" by the stepped clock */
	g.end_ms = back + 10000 + 80000;
	assert_int_equal(fw_deadlines_note(&d, &g, INT64_MAX, back + 10000, MONO + 10000), 0);
	assert_int_equal(fw_deadlines_end(&d, &g, back + 10000, MONO + 10000), back + 90000);
	assert_int_equal(fw_deadlines_end(&d, &g, back + 20000, MONO + 20000), back + 90000);
	/* again, a few ms of rounding later: the same */
	g.end_ms = back + 20000 + 70000 - 2;
	assert_int_equal(fw_deadlines_note(&d, &g, INT64_MAX, back + 20000, MONO + 20000), 0);
	assert_true(fw_deadlines_end(&d, &g, back + 20000, MONO + 20000) >= back + 90000 - 2);
	assert_true(fw_deadlines_end(&d, &g, back + 20000, MONO + 20000) <= back + 90000);
	/* the end as stored again (another caller without the bound): nothing changes */
	g.end_ms = NOW + 90000;
	assert_int_equal(fw_deadlines_note(&d, &g, INT64_MAX, back + 30000, MONO + 30000), 0);
	assert_true(fw_deadlines_end(&d, &g, back + 30000, MONO + 30000) <= back + 90000);
	/* "30 min from now" by the stepped clock: still its 90 s */
	g.end_ms = back + 30000 + 1800000;
	assert_int_equal(fw_deadlines_note(&d, &g, INT64_MAX, back + 30000, MONO + 30000), 0);
	assert_true(fw_deadlines_end(&d, &g, back + 30000, MONO + 30000) <= back + 90000);
	fw_deadlines_free(&d);
	/* without a step, an end moved later is followed (fw_grant_add replaces by identity) */
	g.end_ms = NOW + 90000;
	fw_deadlines_init(&d, 9);
	assert_int_equal(fw_deadlines_note(&d, &g, INT64_MAX, NOW, MONO), 0);
	g.end_ms = NOW + 150000;
	assert_int_equal(fw_deadlines_note(&d, &g, INT64_MAX, NOW + 1000, MONO + 1000), 0);
	assert_int_equal(fw_deadlines_end(&d, &g, NOW + 1000, MONO + 1000), NOW + 150000);
	fw_deadlines_free(&d);
}

/* First sight with the kernel's element for it: clearly less time left there is the truth (a restart after a step back). */
static void
test_deadline_kernel_hint(void **state)
{
	struct fw_deadlines d;
	struct fw_grant g = grant("r", 1, "10.0.0.5", NET_PROTO_TCP, 22, NOW + 3660000);
	struct fw_grant h = grant("s", 1, "10.0.0.6", NET_PROTO_TCP, 22, NOW + 60000);

	fw_deadlines_init(&d, 7);
	assert_int_equal(fw_deadlines_note(&d, &g, NOW + 60000, NOW, MONO), 0);
	assert_int_equal(fw_deadlines_end(&d, &g, NOW + 1000, MONO + 1000), NOW + 60000);
	/* within the kernel's read-back slack: the grant's own end */
	assert_int_equal(fw_deadlines_note(&d, &h, NOW + 59000, NOW, MONO), 0);
	assert_int_equal(fw_deadlines_end(&d, &h, NOW + 1000, MONO + 1000), h.end_ms);
	/* a kernel element with more time left never lengthens a grant */
	fw_deadlines_free(&d);
	fw_deadlines_init(&d, 7);
	assert_int_equal(fw_deadlines_note(&d, &h, NOW + 3600000, NOW, MONO), 0);
	assert_int_equal(fw_deadlines_end(&d, &h, NOW + 1000, MONO + 1000), h.end_ms);
	fw_deadlines_free(&d);
}

/*
 * A fresh context (jitgated restarted after the wall clock stepped back an
 * hour) reconciling a grant whose kernel element has a minute left, while the
 * store's end is an hour and a minute away: the element keeps its minute.
 */

/*
 * A requester who supersedes one grant over and over (each initiate a new request id) must not
 * grow the deadline table: only the context's live grants keep theirs, rebuilt once the table
 * holds more than twice as many (plus FW_DEADLINES_SLACK).
 */
static void
test_deadlines_bounded_by_live(void **state)
{
	struct fw_deadlines d;
	struct fw_grant live = grant("r0", 1, "10.0.0.5", NET_PROTO_TCP, 22, NOW + 90000);
	struct fw_state st = { NULL, 0, NULL, 0, &live, 1 };
	size_t max_n = 0;
	int i;

	(void)state;
	fw_deadlines_init(&d, 42);
	for (i = 0; i < 20000; i++) {
		char id[16];

		snprintf(id, sizeof(id), "r%d", i);
		live = grant(id, 1, "10.0.0.5", NET_PROTO_TCP, 22, NOW + 90000);
		assert_int_equal(fw_deadlines_note(&d, &live, INT64_MAX, NOW + i, MONO + i), 0);
		fw_deadlines_retain(&d, &st, NOW + i, MONO + i);
		if (d.n > max_n)
			max_n = d.n;
	}
	assert_true(max_n <= 2 * 1 + FW_DEADLINES_SLACK + 1);
	assert_true(d.cap <= 4 * (2 + FW_DEADLINES_SLACK + 1));
	/* the live grant keeps its deadline through the rebuilds: after a step back it still ends on time */
	assert_true(fw_deadlines_has(&d, &live));
	assert_int_equal(fw_deadlines_end(&d, &live, NOW - 3600000 + 30000, MONO + 30000), NOW - 3600000 + 90000);
	/* superseded ones are gone */
	{
		struct fw_grant old = grant("r5", 1, "10.0.0.5", NET_PROTO_TCP, 22, NOW + 90000);

		assert_false(fw_deadlines_has(&d, &old));
	}
	fw_deadlines_free(&d);
}

/* Grant i of a table test: its own id and end, so that each entry's values can be told apart. */
static struct fw_grant
table_grant(int i, int64_t end)
{
	char id[24];

	snprintf(id, sizeof(id), "t%d", i);
	return grant(id, 1 + (uint64_t)(i % 7), "10.0.0.5", NET_PROTO_TCP, (uint16_t)(1 + i % 1000), end);
}

/* Does grant i hold the deadline it was noted with (end, read an hour after a step back)? */
static bool
table_holds(const struct fw_deadlines *d, int i, int64_t end)
{
	struct fw_grant g = table_grant(i, end);
	int64_t back = -3600000;

	return fw_deadlines_has(d, &g) && fw_deadlines_end(d, &g, NOW + back + 1000, MONO + 1000) == end + back;
}

/* Growth: 20,000 deadlines, the slots filed again at every doubling, each entry keeps its own values. */
static void
test_deadlines_grow(void **state)
{
	struct fw_deadlines d;
	int i, n = 20000;

	(void)state;
	fw_deadlines_init(&d, 3);
	for (i = 0; i < n; i++) {
		struct fw_grant g = table_grant(i, NOW + 60000 + 10 * i);

		assert_int_equal(fw_deadlines_note(&d, &g, INT64_MAX, NOW, MONO), 0);
	}
	assert_int_equal(d.n, (size_t)n);
	assert_true(d.cap >= 2 * d.n && (d.cap & (d.cap - 1)) == 0 && d.cap <= 4 * d.n + 64);
	assert_true(d.cap_v >= d.n && d.cap_v <= 2 * d.n + 64);
	for (i = 0; i < n; i++)
		assert_true(table_holds(&d, i, NOW + 60000 + 10 * i));
	assert_false(table_holds(&d, n, NOW + 60000 + 10 * n));
	fw_deadlines_free(&d);
}

/*
 * Eviction with collisions: small tables (many identities share a home slot, chains wrap
 * around the end) lose a pseudo-random share of their entries to fw_deadlines_prune; the
 * rest are still found with their own ends, the forgotten ones are gone, and they can be
 * noted again. Many seeds, so many layouts of the slots.
 */
static void
test_deadlines_evict(void **state)
{
	static const int sizes[] = { 20, 31, 500, 5000 };
	unsigned seed, sz;

	(void)state;
	for (sz = 0; sz < sizeof(sizes) / sizeof(sizes[0]); sz++)
		for (seed = 1; seed <= (sizes[sz] < 100 ? 300u : 10u); seed++) {
			int n = sizes[sz], i, kept = 0;
			int64_t later = 60000 + n + FW_DEADLINE_KEEP_MS + 1;
			struct fw_deadlines d;
			uint8_t spent[5000];

			fw_deadlines_init(&d, seed);
			for (i = 0; i < n; i++) {
				struct fw_grant g;

				spent[i] = ((unsigned)i * 2654435761u + seed * 40503u) % 100 < 70;
				g = table_grant(i, NOW + (spent[i] ? 60000 : 7200000) + i);
				assert_int_equal(fw_deadlines_note(&d, &g, INT64_MAX, NOW, MONO), 0);
				kept += !spent[i];
			}
			fw_deadlines_prune(&d, NOW + later, MONO + later);
			assert_int_equal(d.n, (size_t)kept);
			for (i = 0; i < n; i++) {
				struct fw_grant g = table_grant(i, 0);

				if (spent[i])
					assert_false(fw_deadlines_has(&d, &g));
				else
					assert_true(table_holds(&d, i, NOW + 7200000 + i));
			}
			/* the table shrank with its entries */
			assert_true(d.cap < 4 * (64 + 4 * d.n));
			assert_true(d.cap_v <= 64 || d.cap_v < 4 * d.n);
			for (i = 0; i < n; i++)
				if (spent[i]) {
					struct fw_grant g = table_grant(i, NOW + 60000 + i);

					assert_int_equal(fw_deadlines_note(&d, &g, INT64_MAX, NOW, MONO), 0);
				}
			assert_int_equal(d.n, (size_t)n);
			for (i = 0; i < n; i++)
				assert_true(table_holds(&d, i, NOW + (spent[i] ? 60000 : 7200000) + i));
			fw_deadlines_free(&d);
		}
}

/* fw_deadlines_retain sweeps in place: exactly the live grants' deadlines stay, each with its own end. */
static void
test_deadlines_retain_sweep(void **state)
{
	struct fw_deadlines d;
	struct fw_grant live[300];
	struct fw_state st = { NULL, 0, NULL, 0, live, 0 };
	int i, n = 3000;

	(void)state;
	fw_deadlines_init(&d, 11);
	for (i = 0; i < n; i++) {
		struct fw_grant g = table_grant(i, NOW + 60000 + i);

		assert_int_equal(fw_deadlines_note(&d, &g, INT64_MAX, NOW, MONO), 0);
		if (i % 10 == 3)
			live[st.n_grants++] = g;
	}
	fw_deadlines_retain(&d, &st, NOW, MONO);
	assert_int_equal(d.n, st.n_grants);
	for (i = 0; i < n; i++) {
		struct fw_grant g = table_grant(i, 0);

		if (i % 10 == 3)
			assert_true(table_holds(&d, i, NOW + 60000 + i));
		else
			assert_false(fw_deadlines_has(&d, &g));
	}
	fw_deadlines_free(&d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_key_keeps_latest_end),
		cmocka_unit_test(test_dnat_grant_elems),
		cmocka_unit_test(test_dnat_map),
		cmocka_unit_test(test_any_protocol_and_source_expand),
		cmocka_unit_test(test_overlap_split_child_outlives_parent),
		cmocka_unit_test(test_overlap_covered_child_dropped),
		cmocka_unit_test(test_overlap_deep_split_is_disjoint_and_complete),
		cmocka_unit_test(test_gateway_per_address_and_family),
		cmocka_unit_test(test_expired_grants_imply_nothing),
		cmocka_unit_test(test_bad_states_are_refused),
		cmocka_unit_test(test_request_id_rules),
		cmocka_unit_test(test_diff_kinds_and_slack),
		cmocka_unit_test(test_deadline_wall_clock_steps),
		cmocka_unit_test(test_deadline_kernel_hint),
		cmocka_unit_test(test_deadline_caller_bound),
		cmocka_unit_test(test_deadlines_bounded_by_live),
		cmocka_unit_test(test_deadlines_grow),
		cmocka_unit_test(test_deadlines_evict),
		cmocka_unit_test(test_deadlines_retain_sweep),
	};

	return cmocka_run_group_tests_name("fw", tests, NULL, NULL);
}

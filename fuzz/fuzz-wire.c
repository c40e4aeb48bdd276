/*
 * Fuzz target for the firewall helper's wire records (src/fw/fw-wire.h): what
 * a decoder accepts encodes back to the same bytes, and what an encoder makes
 * its decoder accepts; the reply and tamper checks never read past a record.
 */
#include <errno.h>

#include "fuzz-common.h"
#include "fw/fw-wire.h"

#define NOW_MS	1767225600000LL	/* 2026-01-01: the helper passes time_now_ms() */

/* A record filled from the input, zero where the input is short. */
static void
fill(void *rec, size_t size, const uint8_t *data, size_t n)
{
	memset(rec, 0, size);
	memcpy(rec, data, n < size ? n : size);
}

static void
check_vm(const uint8_t *data, size_t n)
{
	struct fw_wire_vm w, again;
	struct fw_vm v;
	struct core_error err;

	fill(&w, sizeof(w), data, n);
	if (fw_wire_vm_decode(&w, &v) < 0)
		return;
	fuzz_check(v.point == FW_POINT_LOCAL || v.point == FW_POINT_GATEWAY);
	fuzz_check(v.point == FW_POINT_LOCAL ? v.n_addrs == 0 : v.n_addrs >= 1 && v.n_addrs <= FW_VM_ADDRS_MAX);
	fuzz_check(fw_wire_vm_encode(&v, &again, &err) == 0);
	fuzz_check(memcmp(&w, &again, sizeof(w)) == 0);
}

static void
check_port(const uint8_t *data, size_t n)
{
	struct fw_wire_port w, again;
	struct fw_port p;
	struct core_error err;

	fill(&w, sizeof(w), data, n);
	if (fw_wire_port_decode(&w, &p) < 0)
		return;
	fuzz_check(p.port != 0);
	fuzz_check(fw_wire_port_encode(&p, &again, &err) == 0);
	fuzz_check(memcmp(&w, &again, sizeof(w)) == 0);
}

static void
check_grant(const uint8_t *data, size_t n, bool ref)
{
	struct fw_wire_grant w, again;
	struct fw_grant g;
	struct core_error err;

	fill(&w, sizeof(w), data, n);
	if (fw_wire_grant_decode(&w, ref, NOW_MS, &g) < 0)
		return;
	fuzz_check(g.port != 0 && fw_request_id_is_valid(g.request_id));
	fuzz_check(g.source.any || net_prefix_is_valid(&g.source.prefix));
	fuzz_check(g.end_ms <= NOW_MS + FW_TIMEOUT_MAX_MS + FW_WIRE_CLOCK_SLACK_MS);
	fuzz_check(fw_wire_grant_encode(&g, ref, NOW_MS, &again, &err) == 0);
	fuzz_check(memcmp(&w, &again, sizeof(w)) == 0);
}

/* The other way round: a grant built field by field from the input either encodes to what decodes to it, or is refused. */
static void
check_grant_encode(const uint8_t *data, size_t n, bool ref)
{
	struct fw_wire_grant w;
	struct fw_grant g, back;
	struct core_error err;
	uint8_t b[64];

	memset(b, 0, sizeof(b));
	memcpy(b, data, n < sizeof(b) ? n : sizeof(b));
	memset(&g, 0, sizeof(g));
	memcpy(&g.vm, b, 8);
	g.source.any = b[8] & 1;
	if (!g.source.any) {
		g.source.prefix.addr.family = b[9] & 1 ? NET_INET6 : NET_INET;
		g.source.prefix.len = b[10];
		memcpy(g.source.prefix.addr.bytes, b + 11, 16);
	}
	g.proto = b[27] % 3 == 0 ? NET_PROTO_ANY : b[27] % 3 == 1 ? NET_PROTO_TCP : NET_PROTO_UDP;
	memcpy(&g.port, b + 28, 2);
	memcpy(&g.end_ms, b + 30, 8);
	/* the id: the input's bytes from offset 38, up to a NUL or the field's size (so also one too long) */
	if (n > 38)
		memcpy(g.request_id, data + 38, n - 38 < sizeof(g.request_id) ? n - 38 : sizeof(g.request_id));
	if (fw_wire_grant_encode(&g, ref, NOW_MS, &w, &err) < 0) {
		fuzz_check_error(&err, FW_ERR_INVALID);
		return;
	}
	fuzz_check(fw_wire_grant_decode(&w, ref, NOW_MS, &back) == 0);
	fuzz_check(back.vm == g.vm && back.source.any == g.source.any && back.proto == g.proto && back.port == g.port &&
		   back.end_ms == g.end_ms && !strcmp(back.request_id, g.request_id));
	fuzz_check(g.source.any || net_prefix_equal(&back.source.prefix, &g.source.prefix));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy;

	if (size < 1)
		return 0;
	/* the record's bytes in an exactly sized block: ASan sees a read beyond them */
	copy = (uint8_t *)fuzz_copy(data + 1, size - 1);
	switch (data[0] % 7) {
	case 0:
		check_vm(copy, size - 1);
		break;
	case 1:
		check_port(copy, size - 1);
		break;
	case 2:
	case 3:
		check_grant(copy, size - 1, data[0] % 7 == 3);
		check_grant_encode(copy, size - 1, data[0] % 7 == 3);
		break;
	case 4:
	case 5: {
		struct fw_wire_reply r;
		struct fw_wire_tamper t;

		fill(&r, sizeof(r), copy, size - 1);
		if (fw_wire_reply_is_valid(&r)) {
			fuzz_check(r.status <= 0 && r.rebuilt <= 1);
			fuzz_check(strlen(r.err.code) < sizeof(r.err.code) && strlen(r.err.message) < sizeof(r.err.message));
		}
		fill(&t, sizeof(t), copy, size - 1);
		if (fw_wire_tamper_is_valid(&t))
			fuzz_check(strlen(t.name) < sizeof(t.name));
		break;
	}
	default:
		check_vm(copy, size - 1);
		check_port(copy, size - 1);
		break;
	}
	free(copy);
	return 0;
}

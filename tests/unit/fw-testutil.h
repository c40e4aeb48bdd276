/* Helpers shared by the fw unit tests (test-fw-model.c, test-fw.c): VMs and grants from text. */
#ifndef JITGATE_TESTS_FW_TESTUTIL_H
#define JITGATE_TESTS_FW_TESTUTIL_H

#include "testutil.h"
#include "fw/fw.h"

static inline struct fw_vm
vm_local(uint64_t id)
{
	return (struct fw_vm){ .id = id, .point = FW_POINT_LOCAL };
}

static inline struct fw_vm
vm_gateway(uint64_t id, const char *a, const char *b)
{
	struct fw_vm vm = { .id = id, .point = FW_POINT_GATEWAY };

	assert_int_equal(net_addr_parse(a, strlen(a), &vm.addrs[vm.n_addrs++], NULL), 0);
	if (b)
		assert_int_equal(net_addr_parse(b, strlen(b), &vm.addrs[vm.n_addrs++], NULL), 0);
	return vm;
}

static inline struct fw_grant
grant(const char *id, uint64_t vm, const char *src, enum net_proto proto, uint16_t port, int64_t end)
{
	struct fw_grant g = { .vm = vm, .proto = proto, .port = port, .end_ms = end };

	assert_int_equal(net_source_parse(src, strlen(src), &g.source, NULL), 0);
	assert_true(strlen(id) < sizeof(g.request_id));
	memcpy(g.request_id, id, strlen(id) + 1);
	return g;
}

#endif

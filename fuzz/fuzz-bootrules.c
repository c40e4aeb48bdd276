/* Fuzz target for the boot protection list (src/daemon/bootrules.c): what parses is well formed and formats back the same. */
#include "core/buf.h"
#include "daemon/bootrules.h"
#include "fuzz-common.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct core_error err = { 0 };
	struct boot_rules r = { 0 }, again = { 0 };
	struct buf b = { 0 };
	struct fw_state st;
	size_t i;

	if (boot_rules_parse((const char *)data, size, &r, &err) < 0) {
		if (err.code[0])
			fuzz_check_error(&err, "InvalidBootRules");
		return 0;
	}
	/* vms[0] is this host; every other VM is a gateway with one address; every port names a VM of the list */
	fuzz_check(r.n_vms >= 1 && r.vms[0].id == 1 && r.vms[0].point == FW_POINT_LOCAL);
	for (i = 1; i < r.n_vms; i++)
		fuzz_check(r.vms[i].point == FW_POINT_GATEWAY && r.vms[i].n_addrs == 1 && r.vms[i].id == i + 1);
	for (i = 0; i < r.n_ports; i++)
		fuzz_check(r.ports[i].vm >= 1 && r.ports[i].vm <= r.n_vms && r.ports[i].port != 0);
	/* what it formats parses again to the same ports */
	st = (struct fw_state){ r.vms, r.n_vms, r.ports, r.n_ports, NULL, 0 };
	fuzz_check(boot_rules_format(&st, &b) == 0);
	fuzz_check(boot_rules_parse(b.data, b.len, &again, &err) == 0);
	fuzz_check(again.n_ports == r.n_ports && again.n_vms == r.n_vms);
	for (i = 0; i < r.n_ports; i++)
		fuzz_check(again.ports[i].vm == r.ports[i].vm && again.ports[i].proto == r.ports[i].proto &&
			   again.ports[i].port == r.ports[i].port);
	boot_rules_free(&again);
	boot_rules_free(&r);
	buf_free(&b);
	return 0;
}

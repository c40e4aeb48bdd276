/* Fuzz target for the close journal's slot parser: parse, and what parses formats back to the same bytes. */
#include <errno.h>

#include "fuzz-common.h"
#include "store/store-journal.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct store_journal_entry e, again;
	uint8_t *slot = malloc(size ? size : 1), out[STORE_JOURNAL_SLOT_SIZE];
	int r;

	fuzz_check(slot != NULL);
	memcpy(slot, data, size);	/* a heap copy of the exact size: any read past it is caught */
	memset(&e, 0, sizeof(e));
	r = store_journal_slot_parse(slot, size, &e);
	fuzz_check(r == 0 || r == 1 || r == -EINVAL);
	if (r == 1) {
		fuzz_check(size >= STORE_JOURNAL_SLOT_SIZE);
		fuzz_check(e.kind == STORE_JOURNAL_END || e.kind == STORE_JOURNAL_TRUNCATE);
		fuzz_check(!e.terminate || e.kind == STORE_JOURNAL_END);
		fuzz_check(memchr(e.request_id, '\0', sizeof(e.request_id)) && e.request_id[0]);
		fuzz_check(memchr(e.caller, '\0', sizeof(e.caller)) != NULL);
		fuzz_check(store_journal_slot_format(&e, out, sizeof(out)) == 0);
		fuzz_check(store_journal_slot_parse(out, sizeof(out), &again) == 1);
		fuzz_check(again.kind == e.kind && again.reason == e.reason && again.vm_id == e.vm_id &&
			   again.port == e.port && again.at_ns == e.at_ns && !strcmp(again.request_id, e.request_id) &&
			   !strcmp(again.caller, e.caller) && again.terminate == e.terminate);
	}
	free(slot);
	return 0;
}

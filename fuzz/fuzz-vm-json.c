/* Fuzz target for VM inventory bodies: decode onto a new and a stored VM, encode, decode again to the same VM. */
#include <errno.h>

#include "codec/codec.h"
#include "fuzz-common.h"

static const char *const codes[] = {
	"InvalidJson", "InvalidType", "MissingField", "ValueTooLong", "InvalidLocation", "InvalidOsType",
	"InvalidEnforcement", "InvalidAddress", "DuplicateAddress", "TooManyAddresses",
};

static void
check_refusal(const struct core_error *err)
{
	size_t i, known = 0;

	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		known |= strcmp(err->code, codes[i]) == 0;
	if (!known)
		fprintf(stderr, "unexpected code %s\n", err->code);
	fuzz_check(known);
	fuzz_check_error(err, err->code);
	for (i = 0; err->target[i] != '\0'; i++)
		fuzz_check(err->target[i] >= 0x20 && err->target[i] < 0x7f);
}

/* What a decoded VM must look like, whatever the body said. */
static void
check_vm(const struct codec_vm *vm)
{
	size_t i;

	fuzz_check(memchr(vm->location, '\0', sizeof(vm->location)) != NULL);
	fuzz_check(vm->os_type[0] == '\0' || strcmp(vm->os_type, "Linux") == 0 || strcmp(vm->os_type, "Windows") == 0);
	fuzz_check(vm->point == CODEC_POINT_LOCAL || vm->point == CODEC_POINT_GATEWAY);
	fuzz_check(vm->n_addrs <= API_ADDRS_MAX);
	fuzz_check(vm->point != CODEC_POINT_GATEWAY || vm->n_addrs >= 1);
	for (i = 0; i < vm->n_addrs; i++)
		fuzz_check(vm->addrs[i].family == NET_INET || vm->addrs[i].family == NET_INET6);
}

static void
round_trip(const struct codec_vm *vm)
{
	struct codec_vm again;
	struct core_error err;
	json_t *enc;
	size_t n;
	char *s;

	enc = codec_vm_body_encode(vm);
	fuzz_check(enc != NULL);
	s = codec_dump(enc, &n);
	fuzz_check(s != NULL);
	json_decref(enc);
	memset(&again, 0, sizeof(again));
	fuzz_check(codec_vm_decode(s, n, &again, &err) == 0);
	fuzz_check(strcmp(again.location, vm->location) == 0);
	fuzz_check(strcmp(again.os_type, vm->os_type) == 0);
	fuzz_check(again.point == vm->point && again.n_addrs == vm->n_addrs);
	fuzz_check(memcmp(again.addrs, vm->addrs, vm->n_addrs * sizeof(vm->addrs[0])) == 0);
	free(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct codec_vm fresh, stored, before;
	struct core_error err;
	char *body = fuzz_copy(data, size);
	int r;

	memset(&fresh, 0, sizeof(fresh));
	r = codec_vm_decode(body, size, &fresh, &err);
	if (r < 0) {
		fuzz_check(r == -EINVAL);
		check_refusal(&err);
	} else {
		check_vm(&fresh);
		round_trip(&fresh);
	}

	/* Onto a stored gateway VM: absent fields keep their values; a refusal changes nothing. */
	memset(&stored, 0, sizeof(stored));
	snprintf(stored.location, sizeof(stored.location), "westeurope");
	snprintf(stored.os_type, sizeof(stored.os_type), "Linux");
	stored.point = CODEC_POINT_GATEWAY;
	stored.n_addrs = 1;
	fuzz_check(net_addr_parse("10.0.0.4", 8, &stored.addrs[0], NULL) == 0);
	before = stored;
	r = codec_vm_decode(body, size, &stored, &err);
	if (r < 0) {
		fuzz_check(r == -EINVAL);
		fuzz_check(memcmp(&stored, &before, sizeof(stored)) == 0);
	} else {
		check_vm(&stored);
		round_trip(&stored);
	}
	free(body);
	return 0;
}

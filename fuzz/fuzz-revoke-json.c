/* Fuzz target for revoke bodies: decode, encode, decode again to the same request. */
#include <errno.h>

#include "codec/codec.h"
#include "fuzz-common.h"

static const char *const codes[] = {
	"InvalidJson", "InvalidType", "MissingField", "ValueTooLong", "MissingVirtualMachines",
	"TooManyVirtualMachines", "MissingPorts", "TooManyPorts", "InvalidPort",
	"InvalidResourceId", "InvalidSubscriptionId", "InvalidResourceGroupName", "InvalidVirtualMachineName",
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

/* The same id as written (the structs may differ past each name's NUL). */
static bool
vm_id_same(const struct arm_vm_id *a, const struct arm_vm_id *b)
{
	return strcmp(a->subscription, b->subscription) == 0 && strcmp(a->resource_group, b->resource_group) == 0 &&
	    strcmp(a->name, b->name) == 0;
}

static bool
body_equal(const struct revoke_body *a, const struct revoke_body *b)
{
	size_t i;

	if (a->n_vms != b->n_vms || a->terminate_sessions != b->terminate_sessions)
		return false;
	for (i = 0; i < a->n_vms; i++) {
		const struct revoke_vm *va = &a->vms[i], *vb = &b->vms[i];

		if (!vm_id_same(&va->id, &vb->id) || va->n_ports != vb->n_ports ||
		    memcmp(va->ports, vb->ports, va->n_ports * sizeof(*va->ports)) != 0)
			return false;
	}
	return true;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct revoke_body *b = NULL, *again = NULL;
	struct core_error err;
	char *body = fuzz_copy(data, size), *s;
	size_t i, j, n;
	json_t *enc;
	int r;

	r = codec_revoke_decode(body, size, &b, &err);
	if (r < 0) {
		fuzz_check(r == -EINVAL && b == NULL);
		check_refusal(&err);
		free(body);
		return 0;
	}
	fuzz_check(r == 0 && b != NULL);
	fuzz_check(b->n_vms >= 1 && b->n_vms <= API_INITIATE_VMS_MAX);
	for (i = 0; i < b->n_vms; i++) {
		fuzz_check(b->vms[i].n_ports >= 1 && b->vms[i].n_ports <= API_INITIATE_PORTS_MAX);
		for (j = 0; j < b->vms[i].n_ports; j++)
			fuzz_check(b->vms[i].ports[j] >= 1);
	}

	enc = codec_revoke_encode(b);
	fuzz_check(enc != NULL);
	s = codec_dump(enc, &n);
	fuzz_check(s != NULL);
	json_decref(enc);
	r = codec_revoke_decode(s, n, &again, &err);
	fuzz_check(r == 0);
	fuzz_check(body_equal(b, again));

	free(s);
	codec_revoke_free(again);
	codec_revoke_free(b);
	free(body);
	return 0;
}

/* Fuzz target for initiate bodies: decode, encode as the CLI would, decode again to the same request. */
#include <errno.h>

#include "codec/codec.h"
#include "fuzz-common.h"

static const char *const codes[] = {
	"InvalidJson", "InvalidType", "MissingField", "ValueTooLong", "MissingVirtualMachines",
	"TooManyVirtualMachines", "MissingPorts", "TooManyPorts", "InvalidPort", "InvalidTimestamp", "InvalidPrefix",
	"InvalidResourceId", "InvalidSubscriptionId", "InvalidResourceGroupName", "InvalidVirtualMachineName",
};

static void
check_refusal(const struct core_error *err)
{
	size_t i, known = 0;
	json_t *j;

	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		known |= strcmp(err->code, codes[i]) == 0;
	if (!known)
		fprintf(stderr, "unexpected code %s\n", err->code);
	fuzz_check(known);
	fuzz_check_error(err, err->code);
	for (i = 0; err->target[i] != '\0'; i++)
		fuzz_check(err->target[i] >= 0x20 && err->target[i] < 0x7f);
	j = codec_error_encode(err);
	fuzz_check(j != NULL);
	json_decref(j);
}

/* The same id as written (the structs may differ past each name's NUL). */
static bool
vm_id_same(const struct arm_vm_id *a, const struct arm_vm_id *b)
{
	return strcmp(a->subscription, b->subscription) == 0 && strcmp(a->resource_group, b->resource_group) == 0 &&
	    strcmp(a->name, b->name) == 0;
}

static bool
body_equal(const struct initiate_body *a, const struct initiate_body *b)
{
	size_t i, j;

	if (a->n_vms != b->n_vms || strcmp(a->justification, b->justification) != 0)
		return false;
	for (i = 0; i < a->n_vms; i++) {
		const struct initiate_vm *va = &a->vms[i], *vb = &b->vms[i];

		if (!vm_id_same(&va->id, &vb->id) || va->n_ports != vb->n_ports)
			return false;
		for (j = 0; j < va->n_ports; j++) {
			const struct initiate_port *pa = &va->ports[j], *pb = &vb->ports[j];

			if (pa->number != pb->number || pa->end_ns != pb->end_ns || pa->has_source != pb->has_source)
				return false;
			if (pa->has_source && !net_source_equal(&pa->source, &pb->source))
				return false;
		}
	}
	return true;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct initiate_body *b = NULL, *again = NULL;
	struct core_error err;
	char *body = fuzz_copy(data, size), *s;
	size_t i, j, n;
	json_t *enc;
	int r;

	r = codec_initiate_decode(body, size, &b, &err);
	if (r < 0) {
		fuzz_check(r == -EINVAL && b == NULL);
		check_refusal(&err);
		free(body);
		return 0;
	}
	fuzz_check(r == 0 && b != NULL);
	fuzz_check(b->n_vms >= 1 && b->n_vms <= API_INITIATE_VMS_MAX);
	fuzz_check(memchr(b->justification, '\0', sizeof(b->justification)) != NULL);
	for (i = 0; i < b->n_vms; i++) {
		fuzz_check(b->vms[i].n_ports >= 1 && b->vms[i].n_ports <= API_INITIATE_PORTS_MAX);
		for (j = 0; j < b->vms[i].n_ports; j++)
			fuzz_check(b->vms[i].ports[j].number >= 1);
	}

	enc = codec_initiate_encode(b);
	fuzz_check(enc != NULL);
	s = codec_dump(enc, &n);
	fuzz_check(s != NULL);
	json_decref(enc);
	r = codec_initiate_decode(s, n, &again, &err);
	if (r < 0)
		fprintf(stderr, "re-decode failed: %s %s: %s\n%s\n", err.code, err.target, err.message, s);
	fuzz_check(r == 0);
	fuzz_check(body_equal(b, again));

	free(s);
	codec_initiate_free(again);
	codec_initiate_free(b);
	free(body);
	return 0;
}

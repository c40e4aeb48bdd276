/* Fuzz target for policy PUT bodies: decode, encode, decode the encoding again to the same policy. */
#include <errno.h>

#include "codec/codec.h"
#include "fuzz-common.h"

#define POLICY_ID "/subscriptions/20ff7fc3-e762-44dd-bd96-b71116dcdc23/resourceGroups/myRg1/providers/Microsoft.Security/locations/westeurope/jitNetworkAccessPolicies/default"

static const char *const codes[] = {
	"InvalidJson", "InvalidType", "MissingField", "ValueTooLong", "LocationMismatch", "InvalidKind",
	"TooManyVirtualMachines", "TooManyPorts", "TooManySourceAddressPrefixes", "AmbiguousSourceAddressPrefix",
	"MissingSourceAddressPrefix", "InvalidPort", "InvalidProtocol", "InvalidPrefix", "InvalidDuration",
	"InvalidResourceId", "InvalidSubscriptionId", "InvalidResourceGroupName", "InvalidVirtualMachineName",
	"InvalidAddress",	/* a publicIpAddress (gateway DNAT) that is no address */
	"InvalidApproval",
};

/* A refusal: a known code, printable words, and an error body that encodes. */
static void
check_refusal(const struct core_error *err)
{
	size_t i, known = 0;
	json_t *j;
	char *s;

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
	s = codec_dump(j, NULL);
	fuzz_check(s != NULL);
	free(s);
	json_decref(j);
}

/* The kind a policy answers with: what was sent, or Azure's default. */
static const char *
kind_answered(const struct policy *p)
{
	return p->kind[0] != '\0' ? p->kind : POLICY_KIND_DEFAULT;
}

static bool
policy_equal(const struct policy *a, const struct policy *b)
{
	size_t i, j, k;

	if (memcmp(&a->id, &b->id, sizeof(a->id)) != 0 || strcmp(kind_answered(a), kind_answered(b)) != 0 ||
	    a->n_vms != b->n_vms)
		return false;
	for (i = 0; i < a->n_vms; i++) {
		const struct policy_vm *va = &a->vms[i], *vb = &b->vms[i];

		if (strcmp(va->id.subscription, vb->id.subscription) != 0 ||
		    strcmp(va->id.resource_group, vb->id.resource_group) != 0 ||
		    strcmp(va->id.name, vb->id.name) != 0 || va->n_ports != vb->n_ports ||
		    !net_addr_equal(&va->public_ip, &vb->public_ip))
			return false;
		for (j = 0; j < va->n_ports; j++) {
			const struct policy_port *pa = &va->ports[j], *pb = &vb->ports[j];

			if (pa->number != pb->number || pa->proto != pb->proto ||
			    pa->sources_as_list != pb->sources_as_list || pa->n_sources != pb->n_sources ||
			    pa->max_duration_ms != pb->max_duration_ms ||
			    strcmp(pa->max_duration_text, pb->max_duration_text) != 0 ||	/* as sent, both times */
			    pa->mapped_port != pb->mapped_port || !pa->approval != !pb->approval)
				return false;
			if (pa->approval && (pa->approval->required != pb->approval->required ||
			    strcmp(pa->approval->role, pb->approval->role) || strcmp(pa->approval->scope, pb->approval->scope)))
				return false;
			for (k = 0; k < pa->n_sources; k++)
				if (!net_source_equal(&pa->sources[k], &pb->sources[k]))
					return false;
		}
	}
	return true;
}

/* Encode and serialise p; the text is the caller's. */
static char *
encode(const struct policy *p, size_t *ret_n)
{
	json_t *j = codec_policy_encode(p);
	char *s;

	fuzz_check(j != NULL);
	s = codec_dump(j, ret_n);
	fuzz_check(s != NULL);
	json_decref(j);
	return s;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct arm_policy_id id;
	static bool have_id;
	struct policy *p = NULL, *again = NULL;
	struct core_error err;
	char *body = fuzz_copy(data, size), *s1, *s2;
	size_t n1, n2;
	int r;

	if (!have_id) {
		fuzz_check(arm_policy_id_parse(POLICY_ID, strlen(POLICY_ID), &id, NULL) == 0);
		have_id = true;
	}
	r = codec_policy_decode(body, size, &id, &p, &err);
	if (r < 0) {
		fuzz_check(r == -EINVAL && p == NULL);
		check_refusal(&err);
		free(body);
		return 0;
	}
	fuzz_check(r == 0 && p != NULL);
	(void)policy_validate(p, 0, &err);

	s1 = encode(p, &n1);
	r = codec_policy_decode(s1, n1, &id, &again, &err);
	if (r < 0)
		fprintf(stderr, "re-decode failed: %s %s: %s\n%s\n", err.code, err.target, err.message, s1);
	fuzz_check(r == 0);
	fuzz_check(policy_equal(p, again));
	/* Encoding is a fixed point: the second encoding is byte for byte the first. */
	s2 = encode(again, &n2);
	fuzz_check(n1 == n2 && memcmp(s1, s2, n1) == 0);

	free(s1);
	free(s2);
	policy_free(again);
	policy_free(p);
	free(body);
	return 0;
}

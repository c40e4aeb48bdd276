/* JSON bodies of the Azure-compatible API: decode what clients send, encode what we return. */
#ifndef JITGATE_CODEC_H
#define JITGATE_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "codec/codec-limits.h"
#include "core/armid.h"
#include "core/error.h"
#include "core/limits.h"
#include "core/net.h"
#include "core/policy.h"

/*
 * Decoders take the raw body (pointer, length; no NUL needed), reject what is
 * not JSON (code "InvalidJson", message with line and column), duplicate keys,
 * nesting beyond API_JSON_DEPTH_MAX ("InvalidJson"), and wrong types
 * ("InvalidType", target = the Azure JSON path, e.g.
 * "properties.virtualMachines[0].ports[1].number", message "must be an
 * integer"). A required field that is absent is "MissingField" with its path.
 * Unknown fields are ignored, as ARM does. Values are checked with the core
 * parsers, whose codes come through with the target set to the field's path.
 * Semantic rules across fields (duplicates, bounds against the policy) are not
 * the codec's: policy_validate() and the initiate logic do them.
 * On failure nothing is written to ret and the return is -EINVAL (or -ENOMEM).
 */

/*
 * PUT body of a policy. `id` is the policy's id from the URL; it becomes
 * (*ret)->id. A "location" in the body that differs from id->location is
 * "LocationMismatch". "requests" in the body is ignored (only initiate makes
 * requests). "kind" is kept if given (at most 31 bytes); each maxRequestAccessDuration's text too.
 */
int codec_policy_decode(const char *body, size_t n, const struct arm_policy_id *id, struct policy **ret,
			struct core_error *err);

/*
 * The policy as the API returns it: {"id","name","type":"Microsoft.Security/locations/jitNetworkAccessPolicies",
 * "location","kind"?, "properties":{"virtualMachines":[{"id","ports":[{"number","protocol",
 * "allowedSourceAddressPrefix"|"allowedSourceAddressPrefixes","maxRequestAccessDuration"}]}],
 * "provisioningState":"Succeeded"}}. Sources are written in normalised form; durations as they
 * were sent (max_duration_text), else as duration_format_iso8601 writes them; "kind" as sent, else
 * POLICY_KIND_DEFAULT. The caller adds "properties.requests". NULL on ENOMEM.
 */
json_t *codec_policy_encode(const struct policy *p);
/*
 * The PUT body a client sends for p: {"kind"?, "location", "properties":{"virtualMachines":[...]}},
 * what codec_policy_decode reads; not the GET view (no id, name, type or provisioningState). NULL on ENOMEM.
 */
json_t *codec_policy_body_encode(const struct policy *p);
/* One port rule of a policy VM as codec_policy_encode writes it (a client's new rule, e.g. the CLI's enable). NULL on ENOMEM. */
json_t *codec_policy_port_encode(const struct policy_port *port);
/* A VM of a policy, {"id", "ports"}, around rules a client encoded with codec_policy_port_encode. Takes ports; NULL on ENOMEM. */
json_t *codec_policy_vm_json(const struct arm_vm_id *id, json_t *ports);

/* Initiate body: {virtualMachines:[{id, ports:[{number, endTimeUtc, allowedSourceAddressPrefix?}]}], justification?} */
struct initiate_port {
	uint16_t number;
	int64_t end_ns;
	bool has_source;
	struct net_source source;
};

struct initiate_vm {
	struct arm_vm_id id;
	size_t n_ports;
	struct initiate_port *ports;	/* owned */
};

struct initiate_body {
	size_t n_vms;
	struct initiate_vm *vms;	/* owned */
	char justification[API_JUSTIFICATION_MAX + 1];
};

/* virtualMachines: 1..API_INITIATE_VMS_MAX, ports 1..API_INITIATE_PORTS_MAX each ("TooManyVirtualMachines", "MissingPorts", ...). */
int codec_initiate_decode(const char *body, size_t n, struct initiate_body **ret, struct core_error *err);
void codec_initiate_free(struct initiate_body *b);
/* The body as a client sends it (the CLI's initiate); sources normalised, times as time_format_rfc3339 writes them. NULL on ENOMEM. */
json_t *codec_initiate_encode(const struct initiate_body *b);
/*
 * A body for a client to fill and encode: n_vms VMs of n_ports zeroed ports each (a client
 * may lower n_ports to what it filled). NULL on ENOMEM; free with codec_initiate_free().
 */
struct initiate_body *codec_initiate_new(size_t n_vms, size_t n_ports);
/* The justification from a client's text, refused as codec_initiate_decode refuses it ("ValueTooLong", "justification"). */
int codec_initiate_justification_set(struct initiate_body *b, const char *s, size_t n, struct core_error *err);
/* Port j of VM i's source from a client's text, refused as the decoder refuses it (net_source_parse's code, its path). */
int codec_initiate_source_set(struct initiate_body *b, size_t i, size_t j, const char *s, size_t n, struct core_error *err);

/* Revoke body (jitgate's extension): {virtualMachines:[{id, ports:[{number}]}], terminateSessions?: bool} */
struct revoke_vm {
	struct arm_vm_id id;
	size_t n_ports;
	uint16_t *ports;		/* owned */
};

struct revoke_body {
	size_t n_vms;
	struct revoke_vm *vms;		/* owned */
	bool terminate_sessions;
};

int codec_revoke_decode(const char *body, size_t n, struct revoke_body **ret, struct core_error *err);
void codec_revoke_free(struct revoke_body *b);
/* The body as a client sends it, "terminateSessions" always written. NULL on ENOMEM. */
json_t *codec_revoke_encode(const struct revoke_body *b);
/* As codec_initiate_new, for a revoke body: n_vms VMs of n_ports zeroed ports each. */
struct revoke_body *codec_revoke_new(size_t n_vms, size_t n_ports);

/* Where a VM's grants are enforced, as the VM body names it ("local" or "gateway"). */
enum codec_point {
	CODEC_POINT_LOCAL = 0,
	CODEC_POINT_GATEWAY = 1,
};

/* The fields of a VM that its PUT body carries (the API converts to and from its stored VM). */
struct codec_vm {
	char location[ARM_LOCATION_MAX + 1];
	char os_type[API_OS_TYPE_MAX];	/* "Linux" or "Windows", or empty */
	enum codec_point point;
	size_t n_addrs;
	struct net_addr addrs[API_ADDRS_MAX];
};

/*
 * VM inventory PUT body (jitgate's extension):
 * {"location"?, "properties":{"osType"?: "Linux"|"Windows", "enforcement"?: "local"|"gateway",
 *   "addresses"?: ["10.0.0.4", "fd00::4"]}}
 * Fills the fields of *vm that the body gives; absent fields keep what *vm holds,
 * so a caller may pass the stored VM's fields to update them.
 * A gateway VM needs 1..API_ADDRS_MAX addresses ("MissingField"/"TooManyAddresses"),
 * single addresses only ("InvalidAddress").
 */
int codec_vm_decode(const char *body, size_t n, struct codec_vm *vm, struct core_error *err);
/*
 * The PUT body that codec_vm_decode reads, from vm's location (if set), os_type (if set),
 * enforcement point and addresses (the CLI's "vm put"). Not the GET view, which adds
 * the id and properties.jit. NULL on ENOMEM.
 */
json_t *codec_vm_body_encode(const struct codec_vm *vm);

/*
 * Token PUT body (jitgate's extension): {"role", "scope"?}. The strings are borrowed and sent
 * as given: the server checks them (the role against its table, the scope as a resource id).
 */
struct codec_token_body {
	const char *role;
	const char *scope;		/* NULL: the caller's whole subscription */
};

/* The body as a client sends it (the CLI's token create). NULL on ENOMEM or text that is not UTF-8. */
json_t *codec_token_body_encode(const struct codec_token_body *t);

/* {"error":{"code","message","target","details":[]}} as Azure writes errors. NULL on ENOMEM. */
json_t *codec_error_encode(const struct core_error *err);

/* Serialise compactly into a malloc'd string (caller frees); NULL on ENOMEM. */
char *codec_dump(const json_t *v, size_t *ret_len);

/*
 * A policy's approve or deny body (jitgate): {"requestId": "...", "reason": "..."}; requestId is required
 * (non-empty, at most API_APPROVAL_ID_MAX bytes), reason optional (at most API_APPROVAL_REASON_MAX).
 * Codes: the body's, MissingProperty, InvalidType, ValueTooLong, InvalidRequestId.
 */
struct approval_body {
	char request_id[API_APPROVAL_ID_MAX + 1];
	char reason[API_APPROVAL_REASON_MAX + 1];
};
int codec_approval_decode(const char *body, size_t n, struct approval_body *ret, struct core_error *err);
/* The body as a client sends it (the CLI's approve and deny). NULL on ENOMEM. */
json_t *codec_approval_encode(const struct approval_body *b);

#endif

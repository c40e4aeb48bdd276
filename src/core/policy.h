/* The JIT network access policy model, its validation, and the look-ups that initiate needs. */
#ifndef JITGATE_CORE_POLICY_H
#define JITGATE_CORE_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "armid.h"
#include "error.h"
#include "limits.h"
#include "net.h"

/* The "kind" a policy answers with when its PUT sent none: what Azure answers. */
#define POLICY_KIND_DEFAULT	"Basic"

/*
 * Ownership: a struct policy owns its vms array, each policy_vm owns its ports array,
 * each policy_port owns its sources array; all are heap arrays from the *_alloc
 * functions below (or calloc), and policy_free releases the whole tree.
 */
/*
 * A rule's approval (jitgate's extension "approval" on a port rule): an initiate waits, Pending, until
 * `required` different people other than the requester approve; an approver is a caller whose role allows
 * every action `role` allows, with a scope that covers `scope`.
 */
struct policy_approval {
	unsigned required;		/* 1..POLICY_APPROVALS_MAX */
	char role[POLICY_APPROVER_ROLE_MAX + 1];
	char scope[ARM_ID_MAX + 1];	/* a subscription, resource group or VM id inside the policy's subscription */
};

struct policy_port {
	uint16_t number;
	enum net_proto proto;
	bool sources_as_list;	/* true: allowedSourceAddressPrefixes was used; false: allowedSourceAddressPrefix */
	size_t n_sources;
	struct net_source *sources;
	int64_t max_duration_ms;	/* maxRequestAccessDuration, what enforcement uses */
	/* maxRequestAccessDuration as the client wrote it ("P1D", "PT180M"), so that it comes back
	 * unchanged and desired-state tools see no drift; empty: written from max_duration_ms. */
	char max_duration_text[DURATION_TEXT_MAX + 1];
	/*
	 * Gateway DNAT (jitgate's extension "mappedPort" on a port rule): the port of
	 * the VM's publicIpAddress that leads to this one; 0 until the server pins or
	 * picks one (only a VM with a publicIpAddress has any).
	 */
	uint16_t mapped_port;
	struct policy_approval *approval;	/* owned; NULL: opens without approval */
};

struct policy_vm {
	struct arm_vm_id id;
	struct net_addr public_ip;	/* Azure's publicIpAddress: family 0 when none */
	size_t n_ports;
	struct policy_port *ports;
};

struct policy {
	struct arm_policy_id id;
	char kind[32];		/* Azure's free-form "kind", NUL-terminated; may be empty */
	size_t n_vms;
	struct policy_vm *vms;
};

/* A zeroed policy, or NULL when out of memory. */
struct policy *policy_new(void);
/* Frees p and everything it owns; NULL is fine. */
void policy_free(struct policy *p);

/*
 * Replace the array with n zeroed elements (freeing what was there). -E2BIG beyond
 * POLICY_VMS_MAX / POLICY_PORTS_MAX / POLICY_SOURCES_MAX, -ENOMEM; unchanged on failure.
 */
int policy_vms_alloc(struct policy *p, size_t n);
int policy_vm_ports_alloc(struct policy_vm *vm, size_t n);
int policy_port_sources_alloc(struct policy_port *port, size_t n);

/* A deep copy of src in *ret (to be freed with policy_free). -ENOMEM. */
int policy_copy(const struct policy *src, struct policy **ret);

/*
 * Is p a policy that may be stored? max_duration_ms is the deployment's cap on
 * maxRequestAccessDuration (≤ 0 means POLICY_DURATION_MAX_MS_DEFAULT). On failure
 * returns -EINVAL and err names the first fault, its target an Azure JSON path such as
 * "properties.virtualMachines[2].ports[0].maxRequestAccessDuration". Codes:
 * TooManyVirtualMachines, InvalidResourceId (and the name codes of armid.h),
 * VirtualMachineOutsidePolicyScope, DuplicateVirtualMachine, MissingPorts, TooManyPorts,
 * InvalidPort, InvalidProtocol, DuplicatePort, InvalidMaxRequestAccessDuration,
 * MissingSourceAddressPrefix, TooManySourceAddressPrefixes, InvalidSourceAddressPrefix,
 * DuplicateSourceAddressPrefix, InvalidKind, InvalidApproval. An empty list of VMs is valid.
 */
int policy_validate(const struct policy *p, int64_t max_duration_ms, struct core_error *err);

/* The VM with this id (compared case-insensitively) in *ret, or -ENOENT. */
int policy_find_vm(const struct policy *p, const struct arm_vm_id *id, const struct policy_vm **ret);

/*
 * An index of p's VMs sorted by id (arm_vm_id_compare, then position), for finding one in O(log n):
 * policy_vm_index gives a heap array of p->n_vms (free it; valid while p's VMs are unchanged), or NULL
 * when out of memory or p has none. policy_find_vm_indexed answers as policy_find_vm (the first of
 * equal ids), with a NULL index by scanning.
 */
struct policy_vm_ref {
	const struct arm_vm_id *id;
	size_t at;			/* its position in p->vms */
};
struct policy_vm_ref *policy_vm_index(const struct policy *p);
int policy_find_vm_indexed(const struct policy *p, const struct policy_vm_ref *index, const struct arm_vm_id *id,
    const struct policy_vm **ret);

/*
 * The rule that covers port `number` for protocol `proto` in *ret, or -ENOENT.
 * A rule for "*" covers TCP and UDP; a request for "*" is covered only by a "*" rule.
 */
int policy_find_port(const struct policy_vm *vm, uint16_t number, enum net_proto proto,
    const struct policy_port **ret);

/*
 * What the rules for port `number` allow together, for a request that names no protocol
 * (Azure's initiate body has none): TCP, UDP, or ANY when a "*" rule or both a TCP and a
 * UDP rule exist. -ENOENT when no rule has this number.
 */
int policy_port_protocols(const struct policy_vm *vm, uint16_t number, enum net_proto *ret);

/* May a request from `src` be granted under this rule (inside one of its allowed sources)? */
bool policy_port_allows_source(const struct policy_port *port, const struct net_source *src);

#endif

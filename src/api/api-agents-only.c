/* PostgreSQL without --single-replica: every protected host is an agent VM; local and gateway VMs are refused and reported. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "api/api-internal.h"

/*
 * Several jitgated share one PostgreSQL database, each with its own kernel table: two of them
 * holding one local or gateway VM would both enforce it, each following only the writes it makes
 * itself between reconciles. So on PostgreSQL the only enforcement point is an agent, one per host
 * (the replicas' own hosts included), and a replica keeps no kernel table at all: an agent on its
 * host owns `inet jitgate` there. --single-replica (one jitgated on the database) keeps the rest.
 */
void
api_set_agents_only(struct api *api, bool on)
{
	api->agents_only = on;
	if (on)
		snprintf(api->fw_reason, sizeof(api->fw_reason), "%s", API_AGENTS_ONLY_REASON);
}

int
api_agent_required(const char *target, const char *vmtext, enum store_point point, struct core_error *err)
{
	return core_error_set(err, "AgentRequired", target,
			      "the virtual machine '%s' is a %s VM: with its store on PostgreSQL, jitgated enforces only "
			      "through agents; run jitgate-agent on that host (jitgate-agent join) and put its agent VM "
			      "in the policy", vmtext, point == STORE_POINT_LOCAL ? "local" : "gateway"), -EINVAL;
}

/* VM id's row: among rows (as the caller read them), else read now; NULL if there is none. */
static const struct store_vm *
row_of(struct api *api, int64_t id, const struct store_vm *rows, size_t n_rows, struct store_vm *buf)
{
	size_t k;

	for (k = 0; k < n_rows; k++)
		if (rows[k].id == id)
			return &rows[k];
	return store_vm_get_by_id(api->store, id, buf) < 0 ? NULL : buf;
}

int
api_agents_only_check_vms(struct api *api, const int64_t *vm_ids, size_t n, const struct store_vm *rows, size_t n_rows,
			  struct core_error *err)
{
	const struct store_vm *vm;
	struct store_vm buf;
	size_t i;

	for (i = 0; api->agents_only && i < n; i++) {
		char target[64], vmtext[ARM_ID_MAX + 1];

		if (!vm_ids[i] || !(vm = row_of(api, vm_ids[i], rows, n_rows, &buf)) || vm->point == STORE_POINT_AGENT)
			continue;
		snprintf(target, sizeof(target), "virtualMachines[%zu].id", i);
		arm_vm_id_format(&vm->arm, vmtext, sizeof(vmtext));
		return api_agent_required(target, vmtext, vm->point, err);
	}
	return 0;
}

/* At start: each local or gateway VM a policy still holds is told to say() (its status says Unsupported); how many. */
int
api_agents_only_report(struct api *api, void (*say)(const char *line))
{
	struct store_vm *vms = NULL;
	size_t n = 0, i;
	int64_t policy;
	int r, found = 0;

	if (!api->agents_only)
		return 0;
	if ((r = store_vm_list(api->store, &vms, &n)) < 0)
		return r;
	for (i = 0; i < n; i++) {
		char vmtext[ARM_ID_MAX + 1], line[ARM_ID_MAX + ERROR_MESSAGE_MAX];

		if (vms[i].point == STORE_POINT_AGENT || store_policy_of_vm(api->store, vms[i].id, &policy) < 0)
			continue;
		arm_vm_id_format(&vms[i].arm, vmtext, sizeof(vmtext));
		snprintf(line, sizeof(line), "the %s VM %s is in a policy but is NOT ENFORCED: %s",
			 vms[i].point == STORE_POINT_LOCAL ? "local" : "gateway", vmtext, API_AGENTS_ONLY_REASON);
		say(line);
		found++;
	}
	free(vms);
	return found;
}

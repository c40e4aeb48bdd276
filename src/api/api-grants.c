/* What initiate, revoke and extend share: the policy they act on, the kernel's presence, a port's live grants, ending one, a new request's id. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>

#include "api/api-internal.h"
#include "core/buf.h"

int
api_policy_read(struct api *api, const struct arm_policy_id *id, const char *text, struct store_policy *ret,
		struct core_error *err)
{
	int r = store_policy_get(api->store, id, ret);

	if (r == -ENOENT)
		return core_error_set(err, "ResourceNotFound", "", "the JIT network access policy '%s' was not found",
				      text), -ENOENT;
	if (r < 0)
		api_store_fail(api, r, err, "cannot read the policy");	/* the record; the caller maps r */
	return r;
}

int
api_fw_check(const struct api *api, struct core_error *err)
{
	if (api->fw)
		return 0;
	return core_error_set(err, FW_ERR_UNAVAILABLE, "", "this host cannot enforce JIT access: %s", api->fw_reason),
	       -ENODEV;
}

int
api_fw_check_vms(struct api *api, const int64_t *vm_ids, size_t n, struct core_error *err)
{
	struct store_vm vm;
	size_t i;

	if (api->fw || api->agents_only)	/* agents only: a local VM's initiate is refused before (AgentRequired) */
		return 0;
	/* an agent VM's grants are its agent's to enforce: this host's kernel plays no part in them */
	for (i = 0; i < n; i++)
		if (vm_ids[i] && (store_vm_get_by_id(api->store, vm_ids[i], &vm) < 0 || vm.point != STORE_POINT_AGENT))
			return api_fw_check(api, err);
	return 0;
}

int
api_grants_live_on(struct api *api, int64_t vm_id, uint16_t port, const char *requestor, struct store_grant **ret,
		   size_t *ret_n, struct core_error *err)
{
	int r = store_grants_live_on(api->store, vm_id, port, requestor, ret, ret_n);

	if (r < 0)
		api_store_fail(api, r, err, "cannot read grants");
	return r < 0 ? r : 0;
}

int
api_grant_end(struct api *api, const struct store_grant *g, enum store_grant_reason reason, int64_t now,
	      struct core_error *err)
{
	int r = store_grant_end(api->store, g->request_id, g->vm_id, g->port, reason, now);

	if (r < 0)
		api_store_fail(api, r, err, "cannot close port %u of request %s", g->port, g->request_id);
	return r < 0 ? r : 0;
}

int
api_termination_add(struct api *api, const struct store_grant *g, int64_t now, struct core_error *err)
{
	int r = store_termination_add(api->store, g->request_id, g->vm_id, g->port, now);

	if (r < 0)
		api_store_fail(api, r, err, "cannot record the end of the sessions of port %u of request %s", g->port,
			       g->request_id);
	return r < 0 ? r : 0;
}

int
api_drops_add(struct api_drops *d, const struct store_grant *g, struct core_error *err)
{
	struct fw_grant *grown;

	if (!(grown = array_grow(d->v, &d->cap, d->n, sizeof(*d->v))))
		return core_error_set(err, "InternalError", "", "out of memory"), -ENOMEM;
	d->v = grown;
	api_grant_to_fw(g, &d->v[d->n++]);
	return 0;
}

size_t
api_fw_local_only(struct api *api, struct fw_grant *v, size_t n)
{
	return api_fw_local_only_known(api, v, n, NULL, 0);
}

/* Is the VM an agent VM? Known from the request's own reading of it, else read. */
static bool
is_agent_vm(struct api *api, int64_t id, const struct store_vm *known, size_t n_known)
{
	struct store_vm vm;
	size_t j;

	for (j = 0; j < n_known; j++)
		if (known[j].id == id)
			return known[j].point == STORE_POINT_AGENT;
	return store_vm_get_by_id(api->store, id, &vm) == 0 && vm.point == STORE_POINT_AGENT;
}

size_t
api_fw_local_only_known(struct api *api, struct fw_grant *v, size_t n, const struct store_vm *known, size_t n_known)
{
	int64_t last = 0;
	bool last_agent = false;
	size_t i, k = 0;

	for (i = 0; i < n; i++) {
		if ((int64_t)v[i].vm != last) {
			last = (int64_t)v[i].vm;
			last_agent = is_agent_vm(api, last, known, n_known);
		}
		if (!last_agent)
			v[k++] = v[i];
	}
	return k;
}

int
api_request_id_new(char *buf, size_t size)
{
	uint8_t b[16];

	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
		return -EIO;
	b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
	b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
	snprintf(buf, size, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2],
		 b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
	return 0;
}

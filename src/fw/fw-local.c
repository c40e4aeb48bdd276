/* The in-process fw context (fw_new): its making, its ops table, and the fw.h calls it answers through fw-local-state.c and fw-update.c. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "fw-conntrack.h"
#include "fw-local-internal.h"

static const struct fw_ops local_ops;

size_t
fw_grants_held(const struct fw *fw)
{
	return ((const struct fw_local *)fw)->grants.n;
}

int
fw_local_new(struct fw **ret, struct core_error *err)
{
	struct fw_local *fw = calloc(1, sizeof(*fw));
	int r;

	if (!fw)
		return -ENOMEM;
	r = fw_nft_open(&fw->nft, err);
	if (r < 0) {
		free(fw);
		return r;
	}
	/* without entropy the chains still work, they are just easier to unbalance on purpose */
	if (getrandom(&fw->grants.seed, sizeof(fw->grants.seed), GRND_NONBLOCK) != (ssize_t)sizeof(fw->grants.seed))
		fw->grants.seed = (uint64_t)time_now_ms();
	fw_deadlines_init(&fw->deadlines, fw->grants.seed);
	fw->base.ops = &local_ops;
	*ret = &fw->base;
	return 0;
}

/* No helper, so no tamper reports: the daemon watches the kernel itself (fw_monitor_open). */
static int
fw_local_events_fd(const struct fw *fw)
{
	return -1;
}

static int
fw_local_events_read(struct fw *fw, struct fw_tamper *ret)
{
	memset(ret, 0, sizeof(*ret));
	return 0;
}

static void
fw_local_free(struct fw *base)
{
	struct fw_local *fw = to_local(base);

	fw_nft_close(fw->nft);
	free(fw->vms);
	free(fw->ports);
	index_free(&fw->grants);
	fw_deadlines_free(&fw->deadlines);
	free(fw);
}

static int
fw_local_reconcile_take(struct fw *base, struct fw_vm *vms, size_t n_vms, struct fw_port *ports, size_t n_ports,
			struct fw_grant *grants, size_t n_grants, struct fw_changes *ret_changes,
			struct core_error *err)
{
	struct fw_local *fw = to_local(base);
	struct owned_state s = { vms, n_vms, ports, n_ports, grants, n_grants };
	int r;

	r = reconcile_owned(fw, &s, ret_changes, err);
	owned_state_free(&s);	/* nothing left when the context adopted them */
	return r;
}

static int
fw_local_reconcile(struct fw *base, const struct fw_state *desired, struct fw_changes *ret_changes,
		   struct core_error *err)
{
	struct fw_local *fw = to_local(base);
	struct owned_state s;
	int r;

	if ((r = owned_state_copy(&s, desired)) < 0)
		return r;
	r = reconcile_owned(fw, &s, ret_changes, err);
	owned_state_free(&s);
	return r;
}

static int
fw_local_set_state(struct fw *base, const struct fw_state *desired, struct fw_changes *ret_changes,
		   struct core_error *err)
{
	struct fw_local *fw = to_local(base);
	struct owned_state s;
	int r;

	if ((r = owned_state_copy(&s, desired)) < 0)
		return r;
	r = apply_owned(fw, &s, ret_changes, err);
	owned_state_free(&s);
	return r;
}

static int
fw_local_protect_set(struct fw *base, const struct fw_vm *vms, size_t n_vms, const struct fw_port *ports,
		     size_t n_ports, struct fw_changes *ret_changes, struct core_error *err)
{
	struct fw_local *fw = to_local(base);
	struct fw_state next = state_view(vms, n_vms, ports, n_ports, fw->grants.v, fw->grants.n);
	struct owned_state s;
	size_t i, k, n = 0;
	int r;

	if ((r = owned_state_copy(&s, &next)) < 0)
		return r;
	for (i = 0; i < s.n_grants; i++) {
		for (k = 0; k < n_vms; k++)
			if (vms[k].id == s.grants[i].vm)
				break;
		if (k < n_vms)
			s.grants[n++] = s.grants[i];
	}
	s.n_grants = n;
	r = apply_owned(fw, &s, ret_changes, err);
	owned_state_free(&s);
	return r;
}

/* The sessions the context's grants let in are matched against its own VMs. */
static int
fw_local_sessions_kill(struct fw *base, const struct fw_grant *grants, size_t n, size_t *ret_killed,
		       struct core_error *err)
{
	struct fw_local *fw = to_local(base);

	return fw_conntrack_kill(fw->vms, fw->n_vms, grants, n, ret_killed, err);
}

static int
fw_local_list(struct fw *base, struct fw_elem **ret, size_t *ret_n, struct core_error *err)
{
	struct fw_local *fw = to_local(base);
	bool ours;
	bool torn[FW_SET_COUNT] = { false };
	int r;

	r = fw_nft_list(fw->nft, time_now_ms(), ret, ret_n, &ours, err);
	if (r >= 0)
		*ret_n = fw_elems_unique(*ret, *ret_n, torn);
	return r;
}

static int64_t
fw_local_rest(struct fw *base, int64_t now_ms, int64_t idle_ms)
{
	return fw_nft_rest(to_local(base)->nft, now_ms, idle_ms);
}

static const struct fw_ops local_ops = {
	.reconcile = fw_local_reconcile,
	.reconcile_take = fw_local_reconcile_take,
	.set_state = fw_local_set_state,
	.protect_set = fw_local_protect_set,
	.grant_update = fw_local_grant_update,
	.sessions_kill = fw_local_sessions_kill,
	.list = fw_local_list,
	.events_fd = fw_local_events_fd,
	.events_read = fw_local_events_read,
	.rest = fw_local_rest,
	.free = fw_local_free,
};

/* The in-process context's whole-state moves: reconcile with the kernel's listing, apply a new state by diff, and the state helpers fw-update.c shares. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fw-local-internal.h"

void
owned_state_free(struct owned_state *s)
{
	free(s->vms);
	free(s->ports);
	free(s->grants);
	memset(s, 0, sizeof(*s));
}

static void *
dup_array(const void *src, size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);

	if (p && n)
		memcpy(p, src, n * size);
	return p;
}

int
owned_state_copy(struct owned_state *dst, const struct fw_state *src)
{
	memset(dst, 0, sizeof(*dst));
	dst->vms = dup_array(src->vms, src->n_vms, sizeof(*src->vms));
	dst->ports = dup_array(src->ports, src->n_ports, sizeof(*src->ports));
	dst->grants = dup_array(src->grants, src->n_grants, sizeof(*src->grants));
	if (!dst->vms || !dst->ports || !dst->grants) {
		owned_state_free(dst);
		return -ENOMEM;
	}
	dst->n_vms = src->n_vms;
	dst->n_ports = src->n_ports;
	dst->n_grants = src->n_grants;
	return 0;
}

struct fw_state
state_view(const struct fw_vm *vms, size_t n_vms, const struct fw_port *ports, size_t n_ports,
	   const struct fw_grant *grants, size_t n_grants)
{
	return (struct fw_state){ vms, n_vms, ports, n_ports, grants, n_grants };
}

/* The whole current state, every grant included (ended ones that linger imply nothing, see grant_has_ended). */
struct fw_state
fw_current(const struct fw_local *fw)
{
	return state_view(fw->vms, fw->n_vms, fw->ports, fw->n_ports, fw->grants.v, fw->grants.n);
}

/*
 * Take `s` as the context's state, dropping grants that have ended (the kernel
 * has dropped them too). `idx` comes from index_alloc() for s's grants and gets
 * the old index back, for the caller to free. Cannot fail: it runs after the
 * kernel took the batch.
 */
static void
fw_adopt(struct fw_local *fw, struct owned_state *s, struct grant_index *idx, int64_t now_ms)
{
	struct grant_index old = fw->grants;
	size_t i, n = 0;

	for (i = 0; i < s->n_grants; i++)
		if (!grant_has_ended(&s->grants[i], now_ms))
			s->grants[n++] = s->grants[i];
	index_take(idx, s->grants, n);
	fw->grants = *idx;
	*idx = old;
	free(fw->vms);
	free(fw->ports);
	fw->vms = s->vms;
	fw->n_vms = s->n_vms;
	fw->ports = s->ports;
	fw->n_ports = s->n_ports;
	memset(s, 0, sizeof(*s));
	fw->synced = true;
}

static bool
vm_equal(const struct fw_vm *a, const struct fw_vm *b)
{
	size_t i;

	if (a->id != b->id || a->point != b->point || a->n_addrs != b->n_addrs || a->n_addrs > FW_VM_ADDRS_MAX)
		return false;
	for (i = 0; i < a->n_addrs; i++)
		if (!net_addr_equal(&a->addrs[i], &b->addrs[i]))
			return false;
	return true;
}

static bool
grant_equal(const struct fw_grant *a, const struct fw_grant *b)
{
	return grant_same_identity(a, b) && a->end_ms == b->end_ms && net_source_equal(&a->source, &b->source) &&
	       a->dnat_port == b->dnat_port && !memcmp(&a->dnat_addr, &b->dnat_addr, sizeof(a->dnat_addr));
}

/*
 * Does the context hold exactly `s` already: the same VMs and protected ports in
 * the same order, and the same grants that have not ended, in any order (ended
 * ones it still holds imply nothing and do not count)? That is the usual
 * periodic reconcile, and then it needs no second copy of the grants.
 */
static bool
state_is_current(const struct fw_local *fw, const struct owned_state *s, int64_t now_ms)
{
	const struct grant_index *idx = &fw->grants;
	size_t i, live = 0, wanted = 0;
	uint8_t *seen = NULL;
	bool same = false;

	if (s->n_vms != fw->n_vms || s->n_ports != fw->n_ports)
		return false;
	for (i = 0; i < s->n_vms; i++)
		if (!vm_equal(&s->vms[i], &fw->vms[i]))
			return false;
	for (i = 0; i < s->n_ports; i++)
		if (s->ports[i].vm != fw->ports[i].vm || s->ports[i].proto != fw->ports[i].proto ||
		    s->ports[i].port != fw->ports[i].port || s->ports[i].dnat_port != fw->ports[i].dnat_port ||
		    memcmp(&s->ports[i].dnat_addr, &fw->ports[i].dnat_addr, sizeof(s->ports[i].dnat_addr)))
			return false;
	for (i = 0; i < idx->n; i++)
		live += !grant_has_ended(&idx->v[i], now_ms);
	for (i = 0; i < s->n_grants; i++)
		wanted += !grant_has_ended(&s->grants[i], now_ms);
	if (live != wanted || !(seen = calloc(idx->n ? idx->n : 1, 1)))
		return false;
	/* each wanted grant matches a held one of its own (the identity chain may hold repeats) */
	for (i = 0; i < s->n_grants; i++) {
		const struct fw_grant *g = &s->grants[i];
		uint32_t j;

		if (grant_has_ended(g, now_ms))
			continue;
		for (j = index_first(idx, CHAIN_IDENTITY, identity_hash(idx->seed, g)); j != GRANT_NONE;
		     j = idx->links[j].next[CHAIN_IDENTITY])
			if (!seen[j] && !grant_has_ended(&idx->v[j], now_ms) && grant_equal(&idx->v[j], g))
				break;
		if (j == GRANT_NONE)
			goto out;
		seen[j] = 1;
	}
	same = true;
out:
	free(seen);
	return same;
}

/*
 * Note the monotonic deadline of every grant of st the context has not seen
 * (all of them, after a restart). With a kernel listing, a grant whose element
 * is there with less time left keeps that (fw_deadlines_note).
 */
int
fw_note(struct fw_local *fw, const struct fw_state *st, const struct fw_elem *have, size_t n_have, int64_t now_ms,
	int64_t mono_ms)
{
	const struct fw_vm **sorted = NULL;
	struct elems scratch = { 0 };
	size_t i;
	int r = 0;

	if (have && n_have) {
		sorted = calloc(st->n_vms ? st->n_vms : 1, sizeof(*sorted));
		if (!sorted)
			return -ENOMEM;
		for (i = 0; i < st->n_vms; i++)
			sorted[i] = &st->vms[i];
		qsort(sorted, st->n_vms, sizeof(*sorted), vm_ptr_cmp);
	}
	for (i = 0; i < st->n_grants; i++) {
		const struct fw_grant *g = &st->grants[i];
		const struct fw_vm *vm;
		int64_t kernel_end = INT64_MAX;

		if (fw_deadlines_has(&fw->deadlines, g)) {
			if ((r = fw_deadlines_note(&fw->deadlines, g, INT64_MAX, now_ms, mono_ms)) < 0)
				goto out;
			continue;
		}
		if (grant_has_ended(g, now_ms))
			continue;	/* implies nothing; noted if it ever comes back with a later end */
		if (sorted && (vm = vm_find(sorted, st->n_vms, g->vm)) && state_check_vm(vm, NULL) == 0)
			kernel_end = grant_kernel_end(vm, g, have, n_have, &scratch);
		if ((r = fw_deadlines_note(&fw->deadlines, g, kernel_end, now_ms, mono_ms)) < 0)
			goto out;
	}
out:
	free(sorted);
	free(scratch.v);
	return r;
}

int
reconcile_owned(struct fw_local *fw, struct owned_state *s, struct fw_changes *ret_changes, struct core_error *err)
{
	struct fw_state st = state_view(s->vms, s->n_vms, s->ports, s->n_ports, s->grants, s->n_grants);
	struct fw_elem *want = NULL, *have = NULL;
	size_t n_want = 0, n_have = 0;
	struct fw_batch batch = { .ensure = true };
	struct fw_changes changes = { 0 };
	struct grant_index idx = { 0 };
	int64_t now = time_now_ms(), mono = time_mono_ms();
	bool ours = true, current;
	int r;

	/*
	 * When the context holds this state already, s is dropped at once and the
	 * context's own state is what the kernel is brought to: with 100,000 grants
	 * that is 11 MB less to hold while the kernel's listing is compared.
	 */
	current = state_is_current(fw, s, now);
	if (current) {
		owned_state_free(s);
		st = fw_current(fw);
	}
	/* a state with a bad VM is refused before the kernel is read (the elements are computed again below) */
	r = fw_state_elems(&st, now, &want, &n_want, err);
	if (r < 0 || (r = fw_state_dnat(&st, &batch.dnat, &batch.n_dnat, err)) < 0)
		goto out;
	free(want);
	want = NULL;
	if (!current && (r = index_alloc(&idx, s->n_grants, fw->grants.seed)) < 0)
		goto out;
	r = fw_nft_list(fw->nft, now, &have, &n_have, &ours, err);
	if (r == -ENOENT || (r == 0 && !ours)) {
		/* no table, or one we did not make: build it afresh, with everything, in the same batch */
		batch.rebuild = r == 0;
		changes.rebuilt = true;
		free(have);
		have = NULL;
		n_have = 0;
	} else if (r < 0) {
		goto out;
	}
	n_have = fw_elems_unique(have, n_have, batch.flush);
	n_have = have_drop_flushed(have, n_have, &batch, &changes);
	if ((r = fw_note(fw, &st, have, n_have, now, mono)) < 0)
		goto out;
	r = fw_state_elems_at(&st, now, &fw->deadlines, mono, &want, &n_want, err);
	if (r < 0)
		goto out;
	r = fw_diff(have, n_have, want, n_want, true, &batch, &changes);
	if (r < 0)
		goto out;
	r = fw_nft_apply(fw->nft, &batch, now, err);
	if (r < 0)
		goto out;
	if (current) {
		index_prune_ended(&fw->grants, now);
		fw->synced = true;
	} else {
		fw_adopt(fw, s, &idx, now);
	}
	fw_deadlines_prune(&fw->deadlines, now, mono);
	st = fw_current(fw);
	fw_deadlines_retain(&fw->deadlines, &st, now, mono);
	if (ret_changes)
		*ret_changes = changes;
out:
	fw_batch_free(&batch);
	index_free(&idx);
	free(want);
	free(have);
	return r;
}

/*
 * The batch that takes the kernel from the elements of `cur` to those of `next`, both
 * read through the context's deadlines (no listing: the context is in step with the
 * kernel). The two element lists are freed before the batch is sent.
 */
int
states_diff(const struct fw_local *fw, const struct fw_state *cur, const struct fw_state *next, int64_t now_ms,
	    int64_t mono_ms, struct fw_batch *batch, struct fw_changes *changes, struct core_error *err)
{
	struct fw_elem *old = NULL, *want = NULL;
	size_t n_old = 0, n_want = 0;
	int r;

	if ((r = fw_state_elems_at(next, now_ms, &fw->deadlines, mono_ms, &want, &n_want, err)) < 0 ||
	    (r = fw_state_elems_at(cur, now_ms, &fw->deadlines, mono_ms, &old, &n_old, err)) < 0)
		goto out;
	r = fw_diff(old, n_old, want, n_want, false, batch, changes);
out:
	free(old);
	free(want);
	return r;
}

/*
 * When the DNAT mappings change, the batch re-declares the rules with the new
 * map (rules hold no timers: the grant elements keep theirs).
 */
static int
dnat_diff(const struct fw_state *cur, const struct fw_state *next, struct fw_batch *batch, struct core_error *err)
{
	struct fw_dnat *old = NULL;
	size_t n_old = 0;
	int r;

	if ((r = fw_state_dnat(next, &batch->dnat, &batch->n_dnat, err)) < 0 ||
	    (r = fw_state_dnat(cur, &old, &n_old, NULL)) < 0)
		goto out;
	batch->ensure = !fw_dnat_equal(old, n_old, batch->dnat, batch->n_dnat);
out:
	free(old);
	return r;
}

/*
 * Move from the current state to the whole state `s`: diff the elements each
 * implies and send only the difference. If the kernel had drifted and refuses
 * the batch, reconcile against what it really holds instead. Grant changes
 * alone take the cheaper way, fw_grant_update().
 */
int
apply_owned(struct fw_local *fw, struct owned_state *s, struct fw_changes *ret_changes, struct core_error *err)
{
	struct fw_state cur = fw_current(fw);
	struct fw_state next = state_view(s->vms, s->n_vms, s->ports, s->n_ports, s->grants, s->n_grants);
	struct fw_batch batch = { 0 };
	struct fw_changes changes = { 0 };
	struct grant_index idx = { 0 };
	int64_t now = time_now_ms(), mono = time_mono_ms();
	int r;

	if (!fw->synced)
		return reconcile_owned(fw, s, ret_changes, err);
	/* noting the grants of a state refused below does no harm: a deadline only ever shortens */
	if ((r = fw_note(fw, &next, NULL, 0, now, mono)) < 0)
		goto out;
	if ((r = states_diff(fw, &cur, &next, now, mono, &batch, &changes, err)) < 0 ||
	    (r = dnat_diff(&cur, &next, &batch, err)) < 0)
		goto out;
	r = index_alloc(&idx, s->n_grants, fw->grants.seed);
	if (r < 0)
		goto out;
	if ((batch.n_ops || batch.ensure) && fw_nft_apply(fw->nft, &batch, now, NULL) < 0) {
		r = reconcile_owned(fw, s, &changes, err);
		goto out;
	}
	fw_adopt(fw, s, &idx, now);
	fw_deadlines_prune(&fw->deadlines, now, mono);
	cur = fw_current(fw);
	fw_deadlines_retain(&fw->deadlines, &cur, now, mono);
	changes.kept = 0;	/* only a reconcile looks at what was already there */
out:
	if (r >= 0 && ret_changes)
		*ret_changes = changes;
	fw_batch_free(&batch);
	index_free(&idx);
	return r;
}

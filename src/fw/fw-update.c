/*
 * fw_grant_update() for the in-process context: plan the update through the grant index, send only the
 * difference on the homes it touches, then commit it to the index (or reconcile when the kernel refused).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fw-local-internal.h"

static int
cmp_u32(const void *pa, const void *pb)
{
	return cmp_num(*(const uint32_t *)pa, *(const uint32_t *)pb);
}

static int
cmp_u32_desc(const void *pa, const void *pb)
{
	return cmp_u32(pb, pa);
}

/* Sort and drop repeats; returns how many are left. */
static size_t
sort_unique(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
	char *b = base;
	size_t i, k = 0;

	if (n == 0)
		return 0;
	qsort(base, n, size, cmp);
	for (i = 1; i < n; i++)
		if (cmp(b + k * size, b + i * size) && ++k != i)
			memcpy(b + k * size, b + i * size, size);
	return k + 1;
}

/*
 * What one fw_grant_update() touches, found through the index before anything
 * changes. An added grant replaces the grants of its identity, so added and
 * removed ones alike "drop" the grants of theirs (the doomed).
 */
struct grant_update {
	uint32_t *doomed;	/* indices of the grants dropped by identity; sorted, unique */
	size_t n_doomed;
	uint32_t *touched;	/* indices of every grant on the affected homes (the doomed among them) */
	struct fw_grant *cur;	/* those grants, as they are (cur[i] is v[touched[i]]) */
	size_t n_cur;
	struct fw_grant *next;	/* the same less the doomed, plus the added grants */
	size_t n_next;
};

static void
grant_update_free(struct grant_update *u)
{
	free(u->doomed);
	free(u->touched);
	free(u->cur);
	free(u->next);
	memset(u, 0, sizeof(*u));
}

/*
 * The grants filed on `homes` (sorted, unique, so each grant is met once).
 * Without u, only counts them; with u, fills u->touched, u->cur and u->next
 * (all but the doomed), which have room for them.
 */
static size_t
homes_walk(const struct grant_index *idx, const struct affect_key *homes, size_t n_homes, struct grant_update *u)
{
	size_t i, n = 0;
	uint32_t j;

	for (i = 0; i < n_homes; i++) {
		for (j = index_first(idx, CHAIN_HOME, home_hash(idx->seed, &homes[i])); j != GRANT_NONE;
		     j = idx->links[j].next[CHAIN_HOME]) {
			struct affect_key home = grant_home_of(&idx->v[j]);

			if (affect_cmp(&home, &homes[i]))
				continue;	/* another home on the same chain */
			n++;
			if (!u)
				continue;
			u->touched[u->n_cur] = j;
			u->cur[u->n_cur++] = idx->v[j];
			if (!bsearch(&j, u->doomed, u->n_doomed, sizeof(*u->doomed), cmp_u32))
				u->next[u->n_next++] = idx->v[j];
		}
	}
	return n;
}

/* Which grants an update touches, and what they are before and after (no change to the context). */
static int
update_plan(const struct fw_local *fw, const struct fw_grant *add, size_t n_add, const struct fw_grant *remove,
	    size_t n_remove, struct grant_update *u)
{
	const struct grant_index *idx = &fw->grants;
	struct affect_key *keys = NULL, *homes = NULL;
	size_t n_drop = n_add + n_remove, n_match = 0, n_keys = 0, n_homes = 0, n_touched, i;
	uint32_t j;
	int r = -ENOMEM;

	memset(u, 0, sizeof(*u));
	/* how many current grants the added and removed ones replace, to size the arrays */
	for (i = 0; i < n_drop; i++) {
		const struct fw_grant *d = i < n_add ? &add[i] : &remove[i - n_add];

		for (j = index_first(idx, CHAIN_IDENTITY, identity_hash(idx->seed, d)); j != GRANT_NONE;
		     j = idx->links[j].next[CHAIN_IDENTITY])
			n_match += grant_same_identity(&idx->v[j], d);
	}
	keys = calloc(2 * (n_drop + n_match) + 1, sizeof(*keys));
	u->doomed = calloc(n_match + 1, sizeof(*u->doomed));
	if (!keys || !u->doomed)
		goto out;
	/*
	 * The affect keys: those of every added and removed grant as given, and
	 * those of the grants they replace (one replaced by identity may have had
	 * another source, and its old elements must go).
	 */
	for (i = 0; i < n_drop; i++) {
		const struct fw_grant *d = i < n_add ? &add[i] : &remove[i - n_add];

		n_keys += affect_keys_of(d, keys + n_keys);
		for (j = index_first(idx, CHAIN_IDENTITY, identity_hash(idx->seed, d)); j != GRANT_NONE;
		     j = idx->links[j].next[CHAIN_IDENTITY]) {
			if (!grant_same_identity(&idx->v[j], d))
				continue;
			n_keys += affect_keys_of(&idx->v[j], keys + n_keys);
			u->doomed[u->n_doomed++] = j;
		}
	}
	u->n_doomed = sort_unique(u->doomed, u->n_doomed, sizeof(*u->doomed), cmp_u32);
	n_keys = sort_unique(keys, n_keys, sizeof(*keys), affect_cmp);

	/* the homes to visit: each key's own, and for an interval group the "any" home of its port */
	homes = calloc(2 * n_keys + 1, sizeof(*homes));
	if (!homes)
		goto out;
	for (i = 0; i < n_keys; i++) {
		homes[n_homes++] = keys[i];
		if (!keys[i].single && (keys[i].family == NET_INET || keys[i].family == NET_INET6)) {
			struct affect_key *any = &homes[n_homes++];

			memset(any, 0, sizeof(*any));
			any->vm = keys[i].vm;
			any->port = keys[i].port;
			any->any = 1;
		}
	}
	n_homes = sort_unique(homes, n_homes, sizeof(*homes), affect_cmp);

	/* every grant filed on those homes, once: the grants whose elements the update may change */
	n_touched = homes_walk(idx, homes, n_homes, NULL);
	u->touched = calloc(n_touched + 1, sizeof(*u->touched));
	u->cur = calloc(n_touched + 1, sizeof(*u->cur));
	u->next = calloc(n_touched + n_add + 1, sizeof(*u->next));
	if (!u->touched || !u->cur || !u->next)
		goto out;
	homes_walk(idx, homes, n_homes, u);
	if (n_add)
		memcpy(u->next + u->n_next, add, n_add * sizeof(*add));
	u->n_next += n_add;
	r = 0;
out:
	if (r < 0)
		grant_update_free(u);
	free(keys);
	free(homes);
	return r;
}

/*
 * The kernel took the update (or it changed nothing there): make the index
 * say what the kernel now holds. The doomed grants go, and so do the grants on
 * the touched homes that have ended, as fw_adopt() would drop them. Ended
 * grants on other homes stay until a whole-state call (fw_reconcile,
 * fw_set_state, fw_protect_set) prunes them: fw_state_elems() skips them
 * (grant_has_ended), so they imply no element and change no diff, and an
 * identity they hold is dropped like any other. Then the added grants that
 * have not ended are filed. Room was reserved beforehand: this cannot fail.
 */
static void
update_commit(struct fw_local *fw, struct grant_update *u, const struct fw_grant *add, size_t n_add, int64_t now_ms)
{
	struct grant_index *idx = &fw->grants;
	size_t i, n = 0;

	for (i = 0; i < u->n_cur; i++) {
		uint32_t j = u->touched[i];

		if (grant_has_ended(&idx->v[j], now_ms) ||
		    bsearch(&j, u->doomed, u->n_doomed, sizeof(*u->doomed), cmp_u32))
			u->touched[n++] = j;
	}
	/* highest index first: deleting moves the last grant, which is then never one still to delete */
	qsort(u->touched, n, sizeof(*u->touched), cmp_u32_desc);
	for (i = 0; i < n; i++)
		index_delete(idx, u->touched[i]);
	for (i = 0; i < n_add; i++)
		if (!grant_has_ended(&add[i], now_ms))
			index_insert(idx, &add[i]);
}

/* The kernel refused the update, or the context is not in step with it: reconcile to the whole state it leads to. */
static int
update_reconcile(struct fw_local *fw, const struct grant_update *u, const struct fw_grant *add, size_t n_add,
		 struct fw_changes *ret_changes, struct core_error *err)
{
	struct fw_state cur = fw_current(fw);
	struct owned_state s;
	size_t i, d = 0;
	int r;

	cur.n_grants = 0;
	if ((r = owned_state_copy(&s, &cur)) < 0)
		return r;
	free(s.grants);
	s.grants = calloc(fw->grants.n - u->n_doomed + n_add + 1, sizeof(*s.grants));
	if (!s.grants) {
		r = -ENOMEM;
		goto out;
	}
	for (i = 0; i < fw->grants.n; i++) {
		if (d < u->n_doomed && u->doomed[d] == i) {
			d++;
			continue;
		}
		s.grants[s.n_grants++] = fw->grants.v[i];
	}
	if (n_add)
		memcpy(s.grants + s.n_grants, add, n_add * sizeof(*add));
	s.n_grants += n_add;
	r = reconcile_owned(fw, &s, ret_changes, err);
out:
	owned_state_free(&s);
	return r;
}

/*
 * Only the grants on the homes the change touches are recomputed, before and
 * after, and only their difference is sent; its cost follows the grants
 * changed and those sharing their affect keys, not the grants live.
 */
int
fw_local_grant_update(struct fw *base, const struct fw_grant *add, size_t n_add, const struct fw_grant *remove,
		      size_t n_remove, struct fw_changes *ret_changes, struct core_error *err)
{
	struct fw_local *fw = to_local(base);
	struct grant_update u = { 0 };
	struct fw_state cur, next, added;
	struct fw_batch batch = { 0 };
	struct fw_changes changes = { 0 };
	int64_t now, mono;
	int r;

	r = update_plan(fw, add, n_add, remove, n_remove, &u);
	if (r < 0)
		goto out;
	if (!fw->synced) {
		r = update_reconcile(fw, &u, add, n_add, &changes, err);
		goto out;
	}
	now = time_now_ms();
	mono = time_mono_ms();
	/* VMs and ports do not change, so the ports' elements are left out: they would only cancel out */
	next = state_view(fw->vms, fw->n_vms, NULL, 0, u.next, u.n_next);
	cur = state_view(fw->vms, fw->n_vms, NULL, 0, u.cur, u.n_cur);
	added = state_view(fw->vms, fw->n_vms, NULL, 0, add, n_add);
	if ((r = fw_note(fw, &added, NULL, 0, now, mono)) < 0)
		goto out;
	if ((r = states_diff(fw, &cur, &next, now, mono, &batch, &changes, err)) < 0)
		goto out;
	r = index_reserve(&fw->grants, n_add);
	if (r < 0)
		goto out;
	if (batch.n_ops && fw_nft_apply(fw->nft, &batch, now, NULL) < 0) {
		r = update_reconcile(fw, &u, add, n_add, &changes, err);
		goto out;
	}
	update_commit(fw, &u, add, n_add, now);
	cur = fw_current(fw);
	fw_deadlines_retain(&fw->deadlines, &cur, now, mono);
	changes.kept = 0;	/* only a reconcile looks at what was already there */
out:
	if (r >= 0 && ret_changes)
		*ret_changes = changes;
	fw_batch_free(&batch);
	grant_update_free(&u);
	return r;
}

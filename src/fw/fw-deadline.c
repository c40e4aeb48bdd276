/* Monotonic deadlines: each grant lasts at most the time it was granted, measured on CLOCK_MONOTONIC, whatever the wall clock does. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fw-deadline.h"
#include "fw-model.h"

/*
 * Grants carry absolute wall-clock ends (endTimeUtc), and a kernel element is
 * given the time left until then. Were that recomputed after the wall clock
 * stepped back an hour, a 90-second grant would get an hour more. So the
 * context notes, the first time it sees a grant, the CLOCK_MONOTONIC moment it
 * ends (the kernel's element timers run on jiffies, which, like
 * CLOCK_MONOTONIC, stop during suspend), and never gives an element a timeout
 * past it. A forward step ends grants early instead: fail closed.
 *
 * The table is keyed by the grant's identity (vm, protocol, port, request id),
 * hashed under two secret seeds (128 bits, so that no one can plan two
 * identities onto one deadline), with open addressing and linear probing.
 */

static uint64_t
mix(uint64_t h, uint64_t w)
{
	h ^= w;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	return h ^ (h >> 29);
}

static void
identity_hashes(const struct fw_deadlines *d, const struct fw_grant *g, uint64_t ret[2])
{
	size_t len = strnlen(g->request_id, sizeof(g->request_id)), i, k;
	int s;

	for (s = 0; s < 2; s++) {
		uint64_t h = mix(d->seed[s], g->vm);

		h = mix(h, (uint64_t)g->proto << 16 | g->port);
		h = mix(h, len);
		for (i = 0; i < len; i += 8) {
			uint64_t w = 0;

			k = len - i < 8 ? len - i : 8;
			memcpy(&w, g->request_id + i, k);
			h = mix(h, w);
		}
		ret[s] = h;
	}
	ret[1] |= 1;	/* never {0, 0}: that marks an empty slot */
}

static struct fw_deadline *
slot_of(const struct fw_deadlines *d, const uint64_t h[2])
{
	size_t i = h[0] & (d->cap - 1);

	for (;; i = (i + 1) & (d->cap - 1)) {
		struct fw_deadline *e = &d->v[i];

		if ((e->h[0] == h[0] && e->h[1] == h[1]) || (e->h[0] == 0 && e->h[1] == 0))
			return e;
	}
}

void
fw_deadlines_init(struct fw_deadlines *d, uint64_t seed)
{
	memset(d, 0, sizeof(*d));
	d->seed[0] = mix(seed, 0x6a09e667f3bcc908ULL);
	d->seed[1] = mix(seed, 0xbb67ae8584caa73bULL);
}

void
fw_deadlines_free(struct fw_deadlines *d)
{
	free(d->v);
	d->v = NULL;
	d->cap = d->n = 0;
}

/* Room for `extra` more at a load of at most one half. */
static int
reserve(struct fw_deadlines *d, size_t extra)
{
	struct fw_deadline *old = d->v, *v;
	size_t cap = d->cap ? d->cap : 64, old_cap = d->cap, i;

	if (extra > SIZE_MAX / 4 - d->n)
		return -E2BIG;
	while (cap < 2 * (d->n + extra))
		cap *= 2;
	if (cap == d->cap)
		return 0;
	v = calloc(cap, sizeof(*v));
	if (!v)
		return -ENOMEM;
	d->v = v;
	d->cap = cap;
	for (i = 0; i < old_cap; i++)
		if (old[i].h[0] || old[i].h[1])
			*slot_of(d, old[i].h) = old[i];
	free(old);
	return 0;
}

int
fw_deadlines_note(struct fw_deadlines *d, const struct fw_grant *g, int64_t kernel_end_ms, int64_t now_ms,
		  int64_t mono_ms)
{
	struct fw_deadline *e;
	uint64_t h[2];
	int64_t left;
	int r;

	if ((r = reserve(d, 1)) < 0)
		return r;
	identity_hashes(d, g, h);
	e = slot_of(d, h);
	if (e->h[0] || e->h[1]) {
		/*
		 * Seen before. A new end is read two ways: by the clocks of now (a policy that lowered
		 * the maximum, or the caller's own monotonic bound after a step back: not to be counted
		 * twice), and by the offset first seen (an end moved later moves the deadline as much,
		 * whatever the wall clock did since). The deadline is the first, but never past the
		 * later of the second and the deadline it had: the same end read after the wall clock
		 * stepped back changes nothing.
		 */
		int64_t deadline = e->end_ms + e->shift_ms, by_now = mono_ms + (g->end_ms - now_ms),
			by_offset = g->end_ms + e->shift0_ms;

		if (by_offset > deadline)
			deadline = by_offset;
		if (by_now < deadline)
			deadline = by_now;
		e->end_ms = g->end_ms;
		e->shift_ms = deadline - g->end_ms;
		return 0;
	}
	/*
	 * First sight in this context: its ends are read with the offset between the clocks
	 * now. If the kernel already holds the grant's element (its key and request id) with
	 * clearly less time left, jitgated restarted after the wall clock stepped back: the
	 * element's own timer is the monotonic truth.
	 */
	left = g->end_ms - now_ms;
	if (kernel_end_ms < g->end_ms - FW_EXPIRY_SLACK_MS)
		left = kernel_end_ms - now_ms;
	e->h[0] = h[0];
	e->h[1] = h[1];
	e->end_ms = g->end_ms;
	e->shift_ms = e->shift0_ms = mono_ms + left - g->end_ms;
	d->n++;
	return 0;
}

bool
fw_deadlines_has(const struct fw_deadlines *d, const struct fw_grant *g)
{
	const struct fw_deadline *e;
	uint64_t h[2];

	if (!d->cap)
		return false;
	identity_hashes(d, g, h);
	e = slot_of(d, h);
	return e->h[0] || e->h[1];
}

int64_t
fw_deadlines_end(const struct fw_deadlines *d, const struct fw_grant *g, int64_t now_ms, int64_t mono_ms)
{
	const struct fw_deadline *e;
	uint64_t h[2];
	int64_t end;

	if (!d || !d->cap)
		return g->end_ms;
	identity_hashes(d, g, h);
	e = slot_of(d, h);
	if (!e->h[0] && !e->h[1])
		return g->end_ms;
	end = now_ms + (g->end_ms + e->shift_ms - mono_ms);
	/* both clocks read to the ms: without a step they agree but for rounding, and the grant keeps its own end */
	return end < g->end_ms - FW_CLOCK_SLACK_MS ? end : g->end_ms;
}

void
fw_deadlines_prune(struct fw_deadlines *d, int64_t now_ms, int64_t mono_ms)
{
	struct fw_deadline *old = d->v;
	size_t old_cap = d->cap, old_n = d->n, i, keep = 0;

	for (i = 0; i < old_cap; i++)
		keep += (old[i].h[0] || old[i].h[1]) && !fw_deadline_is_spent(&old[i], now_ms, mono_ms);
	if (keep == d->n)
		return;
	d->v = NULL;
	d->cap = d->n = 0;
	if (keep && reserve(d, keep) < 0) {
		d->v = old;	/* no memory for a smaller table: keep the old one, pruning is only housekeeping */
		d->cap = old_cap;
		d->n = old_n;
		return;
	}
	for (i = 0; i < old_cap; i++)
		if ((old[i].h[0] || old[i].h[1]) && !fw_deadline_is_spent(&old[i], now_ms, mono_ms)) {
			*slot_of(d, old[i].h) = old[i];
			d->n++;
		}
	free(old);
}

bool
fw_deadline_is_spent(const struct fw_deadline *e, int64_t now_ms, int64_t mono_ms)
{
	/*
	 * Forgotten only once over by both clocks, and a while after: until the store has
	 * marked the grant expired, a wall clock stepped back could make it look live again,
	 * and it would come back with a fresh deadline.
	 */
	return mono_ms > e->end_ms + e->shift_ms + FW_DEADLINE_KEEP_MS && now_ms > e->end_ms + FW_DEADLINE_KEEP_MS;
}

/*
 * Forget the deadlines of grants the context no longer holds (revoked, superseded), and
 * spent ones. Called after every change, it rebuilds the table only once it holds more
 * than twice the live grants (plus FW_DEADLINES_SLACK), so its O(live grants) cost is
 * paid once per that many changes: a requester superseding one grant over and over
 * cannot grow the table without bound. Housekeeping only: without memory for the new
 * table it keeps the old one.
 */
void
fw_deadlines_retain(struct fw_deadlines *d, const struct fw_state *live, int64_t now_ms, int64_t mono_ms)
{
	struct fw_deadlines kept = *d;
	size_t i;

	if (d->n <= 2 * live->n_grants + FW_DEADLINES_SLACK)
		return;
	kept.v = NULL;
	kept.cap = kept.n = 0;
	if (reserve(&kept, live->n_grants) < 0)
		return;
	for (i = 0; i < live->n_grants; i++) {
		const struct fw_deadline *e;
		struct fw_deadline *k;
		uint64_t h[2];

		identity_hashes(d, &live->grants[i], h);
		e = slot_of(d, h);
		if ((!e->h[0] && !e->h[1]) || fw_deadline_is_spent(e, now_ms, mono_ms))
			continue;
		k = slot_of(&kept, h);
		if (!k->h[0] && !k->h[1]) {
			*k = *e;
			kept.n++;
		}
	}
	free(d->v);
	*d = kept;
}

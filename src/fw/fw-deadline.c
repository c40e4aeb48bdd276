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
 * identities onto one deadline). The entries lie dense in one array; a slot
 * array at most half full (open addressing, linear probing on the first hash)
 * points into it. At 100,000 grants that is 4 MB of entries and 1 MB of slots,
 * where 40-byte slots at half load were 10.5 MB, and 15.7 MB while doubling.
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
}

static bool
hash_equal(const uint64_t a[2], const uint64_t b[2])
{
	return a[0] == b[0] && a[1] == b[1];
}

/* The slot of identity h: the one pointing at its entry, or the empty one where it would go. */
static size_t
slot_find(const struct fw_deadlines *d, const uint64_t h[2])
{
	size_t i = h[0] & (d->cap - 1);

	for (;; i = (i + 1) & (d->cap - 1))
		if (!d->slots[i] || hash_equal(d->v[d->slots[i] - 1].h, h))
			return i;
}

static struct fw_deadline *
entry_at(const struct fw_deadlines *d, size_t slot)
{
	return d->slots[slot] ? &d->v[d->slots[slot] - 1] : NULL;
}

static struct fw_deadline *
entry_of(const struct fw_deadlines *d, const uint64_t h[2])
{
	return d->cap ? entry_at(d, slot_find(d, h)) : NULL;
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
	free(d->slots);
	d->v = NULL;
	d->slots = NULL;
	d->cap = d->n = d->cap_v = 0;
}

/* File every entry again in `cap` fresh slots (a power of two, more than twice n). */
static int
slots_rebuild(struct fw_deadlines *d, size_t cap)
{
	uint32_t *slots = calloc(cap, sizeof(*slots));
	size_t k;

	if (!slots)
		return -ENOMEM;
	free(d->slots);
	d->slots = slots;
	d->cap = cap;
	for (k = 0; k < d->n; k++)
		d->slots[slot_find(d, d->v[k].h)] = (uint32_t)k + 1;
	return 0;
}

/* The slot count for n entries: at most half full, at least 64. */
static size_t
slots_for(size_t n)
{
	size_t cap = 64;

	while (cap < 2 * n)
		cap *= 2;
	return cap;
}

/* Room for `extra` more. Only the slots are filed again; the entries grow in place (realloc). */
static int
reserve(struct fw_deadlines *d, size_t extra)
{
	size_t need, cap_v;
	struct fw_deadline *v;
	int r;

	if (extra > FW_DEADLINES_MAX - d->n)
		return -E2BIG;
	need = d->n + extra;
	if (need > d->cap_v) {
		for (cap_v = d->cap_v ? d->cap_v : 64; cap_v < need; cap_v *= 2)
			;
		if (!(v = reallocarray(d->v, cap_v, sizeof(*v))))
			return -ENOMEM;
		d->v = v;
		d->cap_v = cap_v;
	}
	if (d->cap < 2 * need && (r = slots_rebuild(d, slots_for(need))) < 0)
		return r;
	return 0;
}

/*
 * Forget entry k: empty its slot, moving back the ones after it that probed past it
 * (no tombstones), then move the last entry into k's place.
 */
static void
forget(struct fw_deadlines *d, size_t k)
{
	size_t mask = d->cap - 1, i = slot_find(d, d->v[k].h), j = i, home;

	for (;;) {
		j = (j + 1) & mask;
		if (!d->slots[j])
			break;
		home = d->v[d->slots[j] - 1].h[0] & mask;
		/* j's entry may fill the hole at i unless its home lies cyclically in (i, j] */
		if (i <= j ? (home <= i || home > j) : (home <= i && home > j)) {
			d->slots[i] = d->slots[j];
			i = j;
		}
	}
	d->slots[i] = 0;
	if (k != --d->n) {
		d->v[k] = d->v[d->n];
		d->slots[slot_find(d, d->v[k].h)] = (uint32_t)k + 1;
	}
}

/* After forgetting many: smaller slots and entries, once they are four times too big. Housekeeping only. */
static void
shrink(struct fw_deadlines *d)
{
	size_t cap_v = d->n < 32 ? 64 : 2 * d->n;
	struct fw_deadline *v;

	if (d->cap > 64 && d->cap >= 4 * slots_for(d->n))
		(void)slots_rebuild(d, slots_for(d->n));
	if (d->cap_v > 64 && d->cap_v >= 4 * d->n && (v = reallocarray(d->v, cap_v, sizeof(*v)))) {
		d->v = v;
		d->cap_v = cap_v;
	}
}

int
fw_deadlines_note(struct fw_deadlines *d, const struct fw_grant *g, int64_t kernel_end_ms, int64_t now_ms,
		  int64_t mono_ms)
{
	struct fw_deadline *e;
	uint64_t h[2];
	int64_t left;
	size_t slot;
	int r;

	if ((r = reserve(d, 1)) < 0)
		return r;
	identity_hashes(d, g, h);
	slot = slot_find(d, h);
	if ((e = entry_at(d, slot))) {
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
	e = &d->v[d->n];
	e->h[0] = h[0];
	e->h[1] = h[1];
	e->end_ms = g->end_ms;
	e->shift_ms = e->shift0_ms = mono_ms + left - g->end_ms;
	d->slots[slot] = (uint32_t)++d->n;
	return 0;
}

bool
fw_deadlines_has(const struct fw_deadlines *d, const struct fw_grant *g)
{
	uint64_t h[2];

	if (!d->cap)
		return false;
	identity_hashes(d, g, h);
	return entry_of(d, h) != NULL;
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
	if (!(e = entry_of(d, h)))
		return g->end_ms;
	end = now_ms + (g->end_ms + e->shift_ms - mono_ms);
	/* both clocks read to the ms: without a step they agree but for rounding, and the grant keeps its own end */
	return end < g->end_ms - FW_CLOCK_SLACK_MS ? end : g->end_ms;
}

/* In place, from the last entry down: forget() moves the last entry, which has then been looked at already. */
void
fw_deadlines_prune(struct fw_deadlines *d, int64_t now_ms, int64_t mono_ms)
{
	size_t k, n = d->n;

	for (k = n; k-- > 0;)
		if (fw_deadline_is_spent(&d->v[k], now_ms, mono_ms))
			forget(d, k);
	if (d->n != n)
		shrink(d);
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
 * spent ones. Called after every change, it sweeps the table only once it holds more
 * than twice the live grants (plus FW_DEADLINES_SLACK), so its O(live grants) cost is
 * paid once per that many changes: a requester superseding one grant over and over
 * cannot grow the table without bound. The sweep is in place, with one bit an entry
 * for the ones to keep. Housekeeping only: without memory for the bits it keeps all.
 */
void
fw_deadlines_retain(struct fw_deadlines *d, const struct fw_state *live, int64_t now_ms, int64_t mono_ms)
{
	uint8_t *keep;
	size_t i, k;

	if (d->n <= 2 * live->n_grants + FW_DEADLINES_SLACK)
		return;
	if (!(keep = calloc(d->n / 8 + 1, 1)))
		return;
	for (i = 0; i < live->n_grants; i++) {
		const struct fw_deadline *e;
		uint64_t h[2];

		identity_hashes(d, &live->grants[i], h);
		if ((e = entry_of(d, h)) && !fw_deadline_is_spent(e, now_ms, mono_ms)) {
			k = (size_t)(e - d->v);
			keep[k / 8] |= (uint8_t)(1u << (k % 8));
		}
	}
	for (k = d->n; k-- > 0;)
		if (!(keep[k / 8] & (1u << (k % 8))))
			forget(d, k);
	free(keep);
	shrink(d);
}

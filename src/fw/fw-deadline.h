/* The table of monotonic deadlines a context keeps (fw-deadline.c). */
#ifndef JITGATE_FW_DEADLINE_H
#define JITGATE_FW_DEADLINE_H

#include "fw.h"

/*
 * Monotonic deadlines (fw-deadline.c): the CLOCK_MONOTONIC moment each grant
 * ends, noted when the context first sees it, so that no element is ever
 * given a timeout past it whatever the wall clock does.
 */
#define FW_CLOCK_SLACK_MS	100	/* the wall and monotonic clocks disagree by less: no step, rounding */
#define FW_DEADLINE_KEEP_MS	(10 * 60 * 1000)	/* a deadline outlives its grant's end by this (fw_deadline_is_spent) */
#define FW_DEADLINES_SLACK	1024	/* deadlines beyond twice the live grants before fw_deadlines_retain sweeps */
#define FW_DEADLINES_MAX	(UINT32_MAX / 4)	/* entries a table may hold: its slots are 32 bits */

struct fw_deadline {
	uint64_t h[2];		/* the grant's identity, hashed under two seeds */
	int64_t end_ms;		/* the wall-clock end it was last noted with */
	int64_t shift_ms;	/* an end E (wall clock) is E + shift_ms on CLOCK_MONOTONIC */
	int64_t shift0_ms;	/* shift_ms when first seen */
};

/*
 * Dense entries and an index of slots into them (open addressing, linear probing,
 * at most half full): 40 bytes an entry and 8 to 16 bytes of slots, instead of 40-byte
 * slots at half load. Growing re-files only the small slot array; forgetting an
 * entry moves the last one into its place, so pruning needs no second table.
 */
struct fw_deadlines {
	struct fw_deadline *v;	/* n entries, room for cap_v */
	uint32_t *slots;	/* cap slots (0 or a power of two): 0 empty, else 1 + an entry's index in v */
	size_t cap, n, cap_v;
	uint64_t seed[2];
};

void fw_deadlines_init(struct fw_deadlines *d, uint64_t seed);
void fw_deadlines_free(struct fw_deadlines *d);

/*
 * Note a grant at (now_ms wall, mono_ms monotonic). The first time, the
 * offset between the clocks is kept for its identity: its deadline is mono_ms +
 * its time left, or + the time the kernel's element for it has left
 * (kernel_end_ms, INT64_MAX if none) when that is clearly less. After that a
 * wall-clock step changes nothing: an end set later (or the same identity twice
 * with two ends) moves the deadline to what it leaves by the clocks of now, but
 * never past the later of the deadline it had and that end read by the offset
 * first seen.
 */
int fw_deadlines_note(struct fw_deadlines *d, const struct fw_grant *g, int64_t kernel_end_ms, int64_t now_ms,
		      int64_t mono_ms);

bool fw_deadlines_has(const struct fw_deadlines *d, const struct fw_grant *g);

/* The end a grant's elements get: its own end, or earlier if its deadline (when noted) comes first. */
int64_t fw_deadlines_end(const struct fw_deadlines *d, const struct fw_grant *g, int64_t now_ms, int64_t mono_ms);

/* Forget deadlines that are spent (fw_deadline_is_spent). */
void fw_deadlines_prune(struct fw_deadlines *d, int64_t now_ms, int64_t mono_ms);
bool fw_deadline_is_spent(const struct fw_deadline *e, int64_t now_ms, int64_t mono_ms);

/* Forget deadlines of grants not in live, and spent ones, once there are many (amortised O(1) per change). */
void fw_deadlines_retain(struct fw_deadlines *d, const struct fw_state *live, int64_t now_ms, int64_t mono_ms);

#endif

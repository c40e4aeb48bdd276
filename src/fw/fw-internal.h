/* Between fw.c (desired state and diffs, no netlink) and fw-nft.c (the kernel, through libnftables). */
#ifndef JITGATE_FW_INTERNAL_H
#define JITGATE_FW_INTERNAL_H

#include "fw.h"
#include "fw-wire.h"

/*
 * Kernel timeouts are given in ms and read back (fw_nft_list) as the ms left; the kernel's
 * timer runs in jiffies, so a read-back end is a few ms off the grant's.
 */
#define FW_EXPIRY_SLACK_MS	2000	/* a listed element "matches" if its end is this close */
#define FW_TIMEOUT_MIN_MS	1

/*
 * Monotonic deadlines (fw-deadline.c): the CLOCK_MONOTONIC moment each grant
 * ends, noted when the context first sees it, so that no element is ever
 * given a timeout past it whatever the wall clock does.
 */
#define FW_CLOCK_SLACK_MS	100	/* the wall and monotonic clocks disagree by less: no step, rounding */
#define FW_DEADLINE_KEEP_MS	(10 * 60 * 1000)	/* a deadline outlives its grant's end by this (fw_deadline_is_spent) */

struct fw_deadline {
	uint64_t h[2];		/* the grant's identity, hashed under two seeds; {0, 0}: an empty slot */
	int64_t end_ms;		/* the wall-clock end it was last noted with */
	int64_t shift_ms;	/* an end E (wall clock) is E + shift_ms on CLOCK_MONOTONIC */
	int64_t shift0_ms;	/* shift_ms when first seen */
};

struct fw_deadlines {
	struct fw_deadline *v;	/* cap slots (0 or a power of two), n of them used */
	size_t cap, n;
	uint64_t seed[2];
};

int64_t fw_mono_ms(void);
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

/*
 * fw_state_elems() with each grant ending at fw_deadlines_end() (d may be
 * NULL: their own ends), at wall time now_ms and monotonic time mono_ms.
 */
int fw_state_elems_at(const struct fw_state *st, int64_t now_ms, const struct fw_deadlines *d, int64_t mono_ms,
		      struct fw_elem **ret, size_t *ret_n, struct core_error *err);

enum fw_op_kind {
	FW_OP_ADD,	/* the key is not in the kernel: add it */
	FW_OP_UPDATE,	/* the key is there with another end or comment: replace it */
	FW_OP_DELETE,	/* the key is there and must go */
};

struct fw_op {
	enum fw_op_kind kind;
	struct fw_elem elem;
};

/* One atomic batch. */
struct fw_batch {
	bool ensure;		/* (re)declare table, sets and chains; flush and re-add our rules */
	bool rebuild;		/* delete the whole table first (it is foreign or broken) */
	bool flush[FW_SET_COUNT];	/* empty these sets first (their listing was torn), ops re-add what stays */
	struct fw_op *ops;
	size_t n_ops;
	size_t cap_ops;
};

struct fw_nft;

int fw_nft_open(struct fw_nft **ret, struct core_error *err);
void fw_nft_close(struct fw_nft *nft);

/*
 * Read table inet jitgate. -ENOENT when there is no table. *ret_ours is false
 * when the table exists but its sets or chains are not the ones we create (then
 * only a rebuild makes it right). Elements are returned sorted (fw_elem_cmp_key).
 */
int fw_nft_list(struct fw_nft *nft, int64_t now_ms, struct fw_elem **ret, size_t *ret_n, bool *ret_ours,
		struct core_error *err);

/* Send one batch; all or nothing. */
int fw_nft_apply(struct fw_nft *nft, const struct fw_batch *batch, int64_t now_ms, struct core_error *err);

/* Order by the kernel key (set, dst, src, proto, port); end and comment do not take part. */
int fw_elem_cmp_key(const void *a, const void *b);

/* Compute the elements a state implies at `now_ms`, sorted by key. Exposed for unit tests. */
int fw_state_elems(const struct fw_state *st, int64_t now_ms, struct fw_elem **ret, size_t *ret_n,
		   struct core_error *err);

/*
 * Drop repeated keys from a sorted listing, keeping the first; returns how many
 * are left, and sets ret_torn[s] for each set that had repeats. The kernel's
 * dump of a hash set that is being resized (it grows and shrinks in the
 * background after large loads) may report some elements twice and miss as
 * many others, so such a set's listing says nothing reliable: a reconcile
 * flushes it and re-adds what it should hold, in the same batch. (A batch that
 * deletes one key twice is refused whole: with 100,000 grants, reconciling
 * them away failed that way about every other time, with ENOBUFS from the
 * kernel's errors.)
 */
size_t fw_elems_unique(struct fw_elem *v, size_t n, bool ret_torn[FW_SET_COUNT]);

/* Diff `have` (what the kernel holds) against `want`, appending ops to batch; counts go to changes. */
int fw_diff(const struct fw_elem *have, size_t n_have, const struct fw_elem *want, size_t n_want,
	    bool have_from_kernel, struct fw_batch *batch, struct fw_changes *changes);

int fw_batch_push(struct fw_batch *batch, enum fw_op_kind kind, const struct fw_elem *e);
void fw_batch_free(struct fw_batch *batch);


const struct fw_vm *fw_vm_lookup(const struct fw *fw, uint64_t id);

/*
 * How many grants an fw_new() context holds, ended ones not yet pruned
 * included (fw_grant_update prunes only the keys it touches). For tests.
 */
size_t fw_grants_held(const struct fw *fw);

/*
 * The client of a firewall helper (fw-remote.c): fw_connect() contexts hold
 * one, and fw.c's public calls forward to it. fw_remote_open owns fd from the
 * start (closes it on failure). A call fails with -EPIPE and FW_ERR_UNAVAILABLE
 * once the helper is gone; nothing is retried, the caller's next context is a new helper.
 */
struct fw_remote;
int fw_remote_open(int fd, struct fw_remote **ret, struct core_error *err);
void fw_remote_close(struct fw_remote *r);
int fw_remote_call(struct fw_remote *r, enum fw_wire_op op, const struct fw_state *st, const struct fw_grant *refs,
		   size_t n_refs, struct fw_changes *ret_changes, size_t *ret_killed, struct core_error *err);
int fw_remote_events_fd(const struct fw_remote *r);
int fw_remote_events_read(struct fw_remote *r, struct fw_tamper *ret);
/* The helper a context forwards to, or NULL for one that speaks to the kernel itself. */
struct fw_remote *fw_remote_of(const struct fw *fw);

#endif

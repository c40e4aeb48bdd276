/* Desired firewall state, pure (no context, no netlink, no libnftables): set metadata (fw.h), element order, the elements a state implies, and diffs. */
#ifndef JITGATE_FW_MODEL_H
#define JITGATE_FW_MODEL_H

#include "fw.h"

/*
 * Kernel timeouts are given in ms and read back (fw_nft_list) as the ms left; the kernel's
 * timer runs in jiffies, so a read-back end is a few ms off the grant's.
 */
#define FW_EXPIRY_SLACK_MS	2000	/* a listed element "matches" if its end is this close */
#define FW_TIMEOUT_MIN_MS	1

struct fw_deadlines;	/* fw-deadline.h */

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

/*
 * One DNAT mapping of the nat chain's map: (pub, proto, mapped) -> (to, port).
 * The mapping alone opens nothing: the rule DNATs only what a timed element of
 * a dnat_grant set names (see doc/kernel.md).
 */
struct fw_dnat {
	struct net_addr pub;
	uint8_t proto;		/* NET_PROTO_TCP or NET_PROTO_UDP */
	uint16_t mapped;
	struct net_addr to;
	uint16_t port;
};

/*
 * The DNAT map a state implies, sorted by (pub, proto, mapped), in *ret (the
 * caller's to free; NULL when empty). FW_ERR_INVALID when two ports of the
 * state claim one public address, protocol and port.
 */
int fw_state_dnat(const struct fw_state *st, struct fw_dnat **ret, size_t *ret_n, struct core_error *err);

/* Do two sorted maps hold the same mappings? */
bool fw_dnat_equal(const struct fw_dnat *a, size_t n_a, const struct fw_dnat *b, size_t n_b);

/* One atomic batch. */
struct fw_batch {
	bool ensure;		/* (re)declare table, sets and chains; flush and re-add our rules */
	struct fw_dnat *dnat;	/* with ensure: the nat chain's map (owned; fw_batch_free frees it) */
	size_t n_dnat;
	bool rebuild;		/* delete the whole table first (it is foreign or broken) */
	bool flush[FW_SET_COUNT];	/* empty these sets first (their listing was torn), ops re-add what stays */
	struct fw_op *ops;
	size_t n_ops;
	size_t cap_ops;
};

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

static inline int
cmp_num(uint64_t a, uint64_t b)
{
	return a < b ? -1 : a > b;
}

/* A growable array of elements. */
struct elems {
	struct fw_elem *v;
	size_t n, cap;
};

int elems_push(struct elems *es, const struct fw_elem *e);

/* The VM with this id in `sorted` (n VMs, in vm_ptr_cmp order), or NULL. */
const struct fw_vm *vm_find(const struct fw_vm *const *sorted, size_t n, uint64_t id);
int vm_ptr_cmp(const void *pa, const void *pb);

/* 0 for a VM fw_state_elems() accepts; else FW_ERR_INVALID in err (which may be NULL). */
int state_check_vm(const struct fw_vm *vm, struct core_error *err);
bool grant_has_ended(const struct fw_grant *g, int64_t now_ms);
size_t have_drop_flushed(struct fw_elem *have, size_t n, const struct fw_batch *batch, struct fw_changes *changes);
int64_t grant_kernel_end(const struct fw_vm *vm, const struct fw_grant *g, const struct fw_elem *have, size_t n_have,
			 struct elems *scratch);

#endif

/* The context's grant index (fw-index.c): its grants in one array, threaded on two hash chains. */
#ifndef JITGATE_FW_INDEX_H
#define JITGATE_FW_INDEX_H

#include "fw-model.h"

/*
 * The context's grants. They sit in one dense array in no particular order,
 * which the whole-state paths (fw_current()) use as it is, and are threaded on
 * two hash chains so that fw_grant_update() costs what it changes rather than
 * what is live:
 *
 *   CHAIN_IDENTITY  by (vm, proto, port, request_id): the grants that an added
 *                   or removed one replaces (the same identity may be there
 *                   more than once, if a whole state said so);
 *   CHAIN_HOME      by home key (grant_home_of(): the grant's affect key, or
 *                   the "any" home of its port for a "*" source): the
 *                   grants an update must recompute along with the changed ones.
 *
 * Links are array indices, doubly linked, so removing a grant (and moving the
 * last one into its slot) is O(1).
 */
enum grant_chain {
	CHAIN_IDENTITY,
	CHAIN_HOME,
	CHAIN_COUNT,
};

#define GRANT_NONE UINT32_MAX	/* the end of a chain; an index holds fewer grants than this */

struct grant_link {
	uint32_t prev[CHAIN_COUNT];
	uint32_t next[CHAIN_COUNT];
};

struct grant_index {
	struct fw_grant *v;		/* [0, n): the grants (ended ones may linger, see update_commit) */
	struct grant_link *links;	/* links[i] threads v[i] on both chains */
	size_t n, cap;			/* v and links have room for cap */
	uint32_t *heads[CHAIN_COUNT];	/* n_heads chain heads per chain; GRANT_NONE when empty */
	size_t n_heads;			/* 0 (nothing allocated yet) or a power of two at least cap */
	uint64_t seed;			/* per context, so that chain collisions cannot be planned from outside */
};

/*
 * Which kernel elements a grant can touch: its port, and either its single
 * source address (a hash-set key of its own) or its family's interval group.
 * Two grants whose keys differ never share an element, so a change to some
 * grants needs only the grants with the same keys recomputed. The VM is left
 * out on purpose, like the protocol: grants of different VMs share kernel
 * elements (two local VMs share every key; two gateway VMs share the keys of
 * an address they both have), so revoking one must recompute the others on
 * the same key, or it would delete an element they still need, or leave it
 * with its own end instead of the latest (issue 11, items 7 and 8). A wider
 * set of grants is still right, just slower.
 */
struct affect_key {
	uint64_t vm;		/* always 0: see above */
	uint16_t port;
	uint8_t family;
	uint8_t single;
	uint8_t any;		/* never in an affect key: marks the home of "*" grants (grant_home_of) */
	struct net_addr addr;	/* single sources only */
};

int affect_cmp(const void *pa, const void *pb);
size_t affect_keys_of(const struct fw_grant *g, struct affect_key out[2]);
struct affect_key grant_home_of(const struct fw_grant *g);
bool grant_same_identity(const struct fw_grant *a, const struct fw_grant *b);
uint64_t identity_hash(uint64_t seed, const struct fw_grant *g);
uint64_t home_hash(uint64_t seed, const struct affect_key *k);
uint32_t index_first(const struct grant_index *idx, enum grant_chain c, uint64_t hash);
void index_delete(struct grant_index *idx, uint32_t i);
void index_insert(struct grant_index *idx, const struct fw_grant *g);
int index_reserve(struct grant_index *idx, size_t extra);
int index_alloc(struct grant_index *idx, size_t cap, uint64_t seed);
void index_take(struct grant_index *idx, struct fw_grant *v, size_t n);
void index_free(struct grant_index *idx);
void index_prune_ended(struct grant_index *idx, int64_t now_ms);

#endif

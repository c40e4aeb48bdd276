/* The context's grant index: a dense array of grants threaded on two hash chains (identity and home). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fw-index.h"

int
affect_cmp(const void *pa, const void *pb)
{
	const struct affect_key *a = pa, *b = pb;
	int r;

	if ((r = cmp_num(a->vm, b->vm)) || (r = cmp_num(a->port, b->port)) || (r = cmp_num(a->family, b->family)) ||
	    (r = cmp_num(a->single, b->single)) || (r = cmp_num(a->any, b->any)))
		return r;
	return memcmp(&a->addr, &b->addr, sizeof(a->addr));
}

/* The keys of one grant: one, or two for a "*" source (both families' interval groups). */
size_t
affect_keys_of(const struct fw_grant *g, struct affect_key out[2])
{
	memset(out, 0, 2 * sizeof(*out));
	out[0].port = out[1].port = g->port;
	if (g->source.any) {
		out[0].family = NET_INET;
		out[1].family = NET_INET6;
		return 2;
	}
	out[0].family = g->source.prefix.addr.family;
	out[0].single = net_prefix_is_single(&g->source.prefix);
	if (out[0].single)
		out[0].addr = g->source.prefix.addr;
	return 1;
}

/*
 * The one CHAIN_HOME chain a grant is filed on. A grant with one affect key
 * lives under it. A "*" grant has two (the v4 and v6 interval groups of its
 * port), so it lives under a home of its own, the "any" home of that port,
 * which update_plan() visits whenever either group is affected.
 * Every grant then has exactly one home, and the grants on the homes of a set
 * of affect keys are exactly the grants with one of those keys.
 */
struct affect_key
grant_home_of(const struct fw_grant *g)
{
	struct affect_key k[2];

	affect_keys_of(g, k);
	if (g->source.any) {
		k[0].family = 0;
		k[0].any = 1;
	}
	return k[0];
}

bool
grant_same_identity(const struct fw_grant *a, const struct fw_grant *b)
{
	return a->vm == b->vm && a->proto == b->proto && a->port == b->port &&
	       !strncmp(a->request_id, b->request_id, sizeof(a->request_id));
}

static uint64_t
hash_word(uint64_t h, uint64_t w)
{
	h ^= w;
	h *= 0xff51afd7ed558ccdULL;
	return h ^ (h >> 32);
}

static uint64_t
hash_bytes(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;

	h = hash_word(h, n);
	while (n) {
		uint64_t w = 0;
		size_t k = n < sizeof(w) ? n : sizeof(w);

		memcpy(&w, b, k);
		h = hash_word(h, w);
		b += k;
		n -= k;
	}
	return h;
}

/* What the index hashes for each chain: the fields that grant_same_identity() and affect_cmp() compare. */
uint64_t
identity_hash(uint64_t seed, const struct fw_grant *g)
{
	uint64_t h = hash_word(seed, g->vm);

	h = hash_word(h, (uint64_t)g->proto << 16 | g->port);
	return hash_bytes(h, g->request_id, strnlen(g->request_id, sizeof(g->request_id)));
}

uint64_t
home_hash(uint64_t seed, const struct affect_key *k)
{
	uint64_t h = hash_word(seed, k->vm);

	h = hash_word(h, (uint64_t)k->port | (uint64_t)k->family << 16 | (uint64_t)k->single << 24 |
				 (uint64_t)k->any << 32);
	return hash_bytes(h, &k->addr, sizeof(k->addr));
}

static uint64_t
grant_hash(const struct grant_index *idx, enum grant_chain c, const struct fw_grant *g)
{
	struct affect_key home;

	if (c == CHAIN_IDENTITY)
		return identity_hash(idx->seed, g);
	home = grant_home_of(g);
	return home_hash(idx->seed, &home);
}

/* The first grant on the chain for `hash` (follow links[].next[c]), or GRANT_NONE. */
uint32_t
index_first(const struct grant_index *idx, enum grant_chain c, uint64_t hash)
{
	return idx->n_heads ? idx->heads[c][hash & (idx->n_heads - 1)] : GRANT_NONE;
}

static uint32_t *
index_head_of(struct grant_index *idx, enum grant_chain c, const struct fw_grant *g)
{
	return &idx->heads[c][grant_hash(idx, c, g) & (idx->n_heads - 1)];
}

/* Put v[i] at the head of its chains. */
static void
index_link(struct grant_index *idx, uint32_t i)
{
	enum grant_chain c;

	for (c = 0; c < CHAIN_COUNT; c++) {
		uint32_t *head = index_head_of(idx, c, &idx->v[i]);

		idx->links[i].prev[c] = GRANT_NONE;
		idx->links[i].next[c] = *head;
		if (*head != GRANT_NONE)
			idx->links[*head].prev[c] = i;
		*head = i;
	}
}

static void
index_unlink(struct grant_index *idx, uint32_t i)
{
	enum grant_chain c;

	for (c = 0; c < CHAIN_COUNT; c++) {
		uint32_t prev = idx->links[i].prev[c], next = idx->links[i].next[c];

		if (prev != GRANT_NONE)
			idx->links[prev].next[c] = next;
		else
			*index_head_of(idx, c, &idx->v[i]) = next;
		if (next != GRANT_NONE)
			idx->links[next].prev[c] = prev;
	}
}

/* Move v[from] into the unlinked slot `to`, pointing its chains' neighbours (or heads) at the new slot. */
static void
index_move(struct grant_index *idx, uint32_t from, uint32_t to)
{
	enum grant_chain c;

	idx->v[to] = idx->v[from];
	idx->links[to] = idx->links[from];
	for (c = 0; c < CHAIN_COUNT; c++) {
		uint32_t prev = idx->links[to].prev[c], next = idx->links[to].next[c];

		if (prev != GRANT_NONE)
			idx->links[prev].next[c] = to;
		else
			*index_head_of(idx, c, &idx->v[to]) = to;
		if (next != GRANT_NONE)
			idx->links[next].prev[c] = to;
	}
}

/* Forget v[i]. The last grant moves into its slot, so only indices below i keep their meaning. */
void
index_delete(struct grant_index *idx, uint32_t i)
{
	index_unlink(idx, i);
	idx->n--;
	if (i != idx->n)
		index_move(idx, (uint32_t)idx->n, i);
}

/* File a copy of g. Room must have been made with index_reserve(), so this cannot fail. */
void
index_insert(struct grant_index *idx, const struct fw_grant *g)
{
	idx->v[idx->n] = *g;
	index_link(idx, (uint32_t)idx->n);
	idx->n++;
}

/* Chain heads for `cap` grants, all empty. */
static int
heads_alloc(size_t cap, uint32_t *ret[CHAIN_COUNT], size_t *ret_n)
{
	size_t n = 64;
	enum grant_chain c;

	while (n < cap)
		n *= 2;
	for (c = 0; c < CHAIN_COUNT; c++) {
		ret[c] = reallocarray(NULL, n, sizeof(*ret[c]));
		if (!ret[c]) {
			while (c-- > 0)
				free(ret[c]);
			return -ENOMEM;
		}
		memset(ret[c], 0xff, n * sizeof(*ret[c]));	/* GRANT_NONE */
	}
	*ret_n = n;
	return 0;
}

/*
 * Make room for `extra` more grants, so that inserting them after the kernel
 * took a batch cannot fail. Only memory changes, never what the index holds.
 */
int
index_reserve(struct grant_index *idx, size_t extra)
{
	uint32_t *heads[CHAIN_COUNT];
	size_t cap, n_heads, i;
	struct fw_grant *v;
	struct grant_link *links;
	enum grant_chain c;
	int r;

	if (extra <= idx->cap - idx->n)
		return 0;
	if (extra >= GRANT_NONE - idx->n)
		return -E2BIG;
	cap = idx->cap * 2 > idx->n + extra ? idx->cap * 2 : idx->n + extra;
	if (cap < 64)
		cap = 64;
	if (cap >= GRANT_NONE)
		cap = GRANT_NONE - 1;
	/* either array may grow without the other when one fails: harmless, cap stays what both hold */
	if (!(v = reallocarray(idx->v, cap, sizeof(*v))))
		return -ENOMEM;
	idx->v = v;
	if (!(links = reallocarray(idx->links, cap, sizeof(*links))))
		return -ENOMEM;
	idx->links = links;
	if (cap > idx->n_heads) {
		if ((r = heads_alloc(cap, heads, &n_heads)) < 0)
			return r;
		for (c = 0; c < CHAIN_COUNT; c++) {
			free(idx->heads[c]);
			idx->heads[c] = heads[c];
		}
		idx->n_heads = n_heads;
		for (i = 0; i < idx->n; i++)
			index_link(idx, (uint32_t)i);
	}
	idx->cap = cap;
	return 0;
}

/*
 * An empty index with links and heads for `cap` grants, whose array
 * index_take() hands over later: the part of adopting a whole state that can
 * fail, done before the kernel is asked.
 */
int
index_alloc(struct grant_index *idx, size_t cap, uint64_t seed)
{
	memset(idx, 0, sizeof(*idx));
	idx->seed = seed;
	if (cap >= GRANT_NONE)
		return -E2BIG;
	idx->links = calloc(cap ? cap : 1, sizeof(*idx->links));
	if (!idx->links || heads_alloc(cap, idx->heads, &idx->n_heads) < 0) {
		free(idx->links);
		memset(idx, 0, sizeof(*idx));
		return -ENOMEM;
	}
	idx->cap = cap;
	return 0;
}

/* File the grants of `v` (n of them, room for the cap given to index_alloc; the index owns it from here). */
void
index_take(struct grant_index *idx, struct fw_grant *v, size_t n)
{
	size_t i;

	idx->v = v;
	idx->n = n;
	for (i = 0; i < n; i++)
		index_link(idx, (uint32_t)i);
}

void
index_free(struct grant_index *idx)
{
	enum grant_chain c;

	free(idx->v);
	free(idx->links);
	for (c = 0; c < CHAIN_COUNT; c++)
		free(idx->heads[c]);
	memset(idx, 0, sizeof(*idx));
}

/* Forget the grants that have ended (after a reconcile that kept the context's state). */
void
index_prune_ended(struct grant_index *idx, int64_t now_ms)
{
	size_t i = idx->n;

	while (i-- > 0)	/* from the top: index_delete moves the last grant into the slot */
		if (grant_has_ended(&idx->v[i], now_ms))
			index_delete(idx, (uint32_t)i);
}

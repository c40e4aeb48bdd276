/* Desired firewall state: which kernel elements it implies, how they differ from what is there, and the public fw API. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "fw-internal.h"

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

struct fw {
	struct fw_nft *nft;
	struct fw_remote *remote;	/* fw_connect(): every call goes to the helper; nft and the state are unused */
	bool synced;		/* the kernel held exactly the state below after our last batch */
	struct fw_vm *vms;
	size_t n_vms;
	struct fw_port *ports;
	size_t n_ports;
	struct grant_index grants;
	struct fw_deadlines deadlines;	/* every grant's monotonic end (fw-deadline.c) */
};

static const struct {
	const char *name;
	bool grant, interval, dst;
	int family;
} set_info[FW_SET_COUNT] = {
	[FW_SET_LOCAL_PROTECT] = { "local_protect", false, false, false, 0 },
	[FW_SET_GW_PROTECT4] = { "gw_protect4", false, false, true, NET_INET },
	[FW_SET_GW_PROTECT6] = { "gw_protect6", false, false, true, NET_INET6 },
	[FW_SET_LOCAL_GRANT4] = { "local_grant4", true, false, false, NET_INET },
	[FW_SET_LOCAL_GRANT4_NET] = { "local_grant4_net", true, true, false, NET_INET },
	[FW_SET_LOCAL_GRANT6] = { "local_grant6", true, false, false, NET_INET6 },
	[FW_SET_LOCAL_GRANT6_NET] = { "local_grant6_net", true, true, false, NET_INET6 },
	[FW_SET_GW_GRANT4] = { "gw_grant4", true, false, true, NET_INET },
	[FW_SET_GW_GRANT4_NET] = { "gw_grant4_net", true, true, true, NET_INET },
	[FW_SET_GW_GRANT6] = { "gw_grant6", true, false, true, NET_INET6 },
	[FW_SET_GW_GRANT6_NET] = { "gw_grant6_net", true, true, true, NET_INET6 },
};

const char *
fw_set_name(enum fw_set set)
{
	return set < FW_SET_COUNT ? set_info[set].name : "?";
}

bool
fw_set_is_grant(enum fw_set set)
{
	return set < FW_SET_COUNT && set_info[set].grant;
}

bool
fw_set_is_interval(enum fw_set set)
{
	return set < FW_SET_COUNT && set_info[set].interval;
}

bool
fw_set_has_dst(enum fw_set set)
{
	return set < FW_SET_COUNT && set_info[set].dst;
}

int
fw_set_family(enum fw_set set)
{
	return set < FW_SET_COUNT ? set_info[set].family : 0;
}

bool
fw_request_id_is_valid(const char *id)
{
	size_t i;

	for (i = 0; id[i]; i++) {
		char c = id[i];

		if (i >= FW_REQUEST_ID_MAX)
			return false;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == ':' || c == '-'))
			return false;
	}
	return i > 0;
}

int64_t
fw_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
cmp_num(uint64_t a, uint64_t b)
{
	return a < b ? -1 : a > b;
}

/* Key order (set, dst, proto, port, src): the pieces of one interval group sit together. */
int
fw_elem_cmp_key(const void *pa, const void *pb)
{
	const struct fw_elem *a = pa, *b = pb;
	int r;

	if ((r = cmp_num(a->set, b->set)))
		return r;
	if ((r = memcmp(&a->dst, &b->dst, sizeof(a->dst))))
		return r;
	if ((r = cmp_num(a->proto, b->proto)))
		return r;
	if ((r = cmp_num(a->port, b->port)))
		return r;
	if ((r = memcmp(&a->src.addr, &b->src.addr, sizeof(a->src.addr))))
		return r;
	return cmp_num(a->src.len, b->src.len);
}

static bool
elem_same_group(const struct fw_elem *a, const struct fw_elem *b)
{
	return a->set == b->set && !memcmp(&a->dst, &b->dst, sizeof(a->dst)) && a->proto == b->proto &&
	       a->port == b->port;
}

/* Within a group: by address, shorter prefix first, then latest end first, so a covering grant precedes what it covers. */
static int
elem_cmp_cover(const void *pa, const void *pb)
{
	const struct fw_elem *a = pa, *b = pb;
	int r = fw_elem_cmp_key(a, b);

	if (r)
		return r;
	if (a->end_ms != b->end_ms)
		return a->end_ms > b->end_ms ? -1 : 1;
	return -strcmp(a->comment, b->comment);
}

/* A growable array of elements. */
struct elems {
	struct fw_elem *v;
	size_t n, cap;
};

static int
elems_push(struct elems *es, const struct fw_elem *e)
{
	if (es->n == es->cap) {
		size_t cap = es->cap ? es->cap * 2 : 64;
		struct fw_elem *v = reallocarray(es->v, cap, sizeof(*v));

		if (!v)
			return -ENOMEM;
		es->v = v;
		es->cap = cap;
	}
	es->v[es->n++] = *e;
	return 0;
}

static const struct fw_vm *
vm_find(const struct fw_vm *const *sorted, size_t n, uint64_t id)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (sorted[mid]->id == id)
			return sorted[mid];
		if (sorted[mid]->id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static int
vm_ptr_cmp(const void *pa, const void *pb)
{
	const struct fw_vm *a = *(const struct fw_vm *const *)pa, *b = *(const struct fw_vm *const *)pb;

	return cmp_num(a->id, b->id);
}

static bool
bit_get(const struct net_addr *a, unsigned i)
{
	return (a->bytes[i / 8] >> (7 - i % 8)) & 1;
}

static void
bit_set(struct net_addr *a, unsigned i)
{
	a->bytes[i / 8] |= (uint8_t)(1u << (7 - i % 8));
}

/*
 * Emit `region` minus the given (sorted, strictly inner, disjoint) prefixes,
 * as the fewest CIDR pieces, each carrying `tmpl`'s end and comment.
 */
static int
emit_minus(struct elems *out, const struct fw_elem *tmpl, struct net_prefix region, const struct fw_elem *const *inner,
	   size_t n)
{
	struct net_prefix half[2];
	size_t split = 0;
	int h, r;

	if (n == 0) {
		struct fw_elem e = *tmpl;

		e.src = region;
		return elems_push(out, &e);
	}
	if (n == 1 && inner[0]->src.len == region.len)
		return 0;	/* the child covers all of it */
	half[0] = half[1] = region;
	half[0].len = half[1].len = (uint8_t)(region.len + 1);
	bit_set(&half[1].addr, region.len);
	while (split < n && !bit_get(&inner[split]->src.addr, region.len))
		split++;
	for (h = 0; h < 2; h++) {
		r = h == 0 ? emit_minus(out, tmpl, half[0], inner, split)
			   : emit_minus(out, tmpl, half[1], inner + split, n - split);
		if (r < 0)
			return r;
	}
	return 0;
}

/*
 * Emit the node at v[*i] and its subtree (the following entries it contains),
 * advancing *i past them. Children outlive their parent (covered ones were
 * dropped), so the parent is cut around them.
 */
static int
emit_tree(struct elems *out, const struct fw_elem *v, size_t n, size_t *i)
{
	const struct fw_elem *node = &v[*i];
	const struct fw_elem **kids = NULL;
	size_t n_kids = 0, j = *i + 1;
	int r = 0;

	while (j < n && net_prefix_contains(&node->src, &v[j].src)) {
		const struct fw_elem **k = reallocarray(kids, n_kids + 1, sizeof(*k));

		if (!k) {
			r = -ENOMEM;
			goto out;
		}
		kids = k;
		kids[n_kids++] = &v[j];
		r = emit_tree(out, v, n, &j);
		if (r < 0)
			goto out;
	}
	r = emit_minus(out, node, node->src, kids, n_kids);
	*i = j;
out:
	free(kids);
	return r;
}

/* Turn the raw grants of one interval group into disjoint pieces, each ending at the latest covering end. */
static int
split_interval_group(struct elems *out, struct fw_elem *v, size_t n)
{
	struct fw_elem *keep;
	size_t *stack, depth = 0, n_keep = 0, i;
	int r = 0;

	qsort(v, n, sizeof(*v), elem_cmp_cover);
	keep = calloc(n, sizeof(*keep));
	stack = calloc(n, sizeof(*stack));
	if (!keep || !stack) {
		r = -ENOMEM;
		goto out;
	}
	/* stack holds indices into keep of the chain of prefixes containing the current one */
	for (i = 0; i < n; i++) {
		while (depth && !net_prefix_contains(&keep[stack[depth - 1]].src, &v[i].src))
			depth--;
		if (depth && keep[stack[depth - 1]].end_ms >= v[i].end_ms)
			continue;	/* an enclosing grant lasts at least as long */
		keep[n_keep] = v[i];
		stack[depth++] = n_keep++;
	}
	for (i = 0; i < n_keep;) {
		r = emit_tree(out, keep, n_keep, &i);
		if (r < 0)
			goto out;
	}
out:
	free(keep);
	free(stack);
	return r;
}

static int
push_grant_elems(struct elems *raw, const struct fw_vm *vm, const struct fw_grant *g, int64_t end_ms)
{
	struct net_prefix srcs[2];
	size_t n_srcs = 0, s, a;
	uint8_t protos[2];
	size_t n_protos = 0, p;
	int r;

	if (g->source.any) {
		memset(srcs, 0, sizeof(srcs));
		srcs[0].addr.family = NET_INET;
		srcs[1].addr.family = NET_INET6;
		n_srcs = 2;
	} else {
		srcs[n_srcs++] = g->source.prefix;
	}
	if (g->proto == NET_PROTO_ANY || g->proto == NET_PROTO_TCP)
		protos[n_protos++] = NET_PROTO_TCP;
	if (g->proto == NET_PROTO_ANY || g->proto == NET_PROTO_UDP)
		protos[n_protos++] = NET_PROTO_UDP;

	for (s = 0; s < n_srcs; s++) {
		bool v6 = srcs[s].addr.family == NET_INET6;
		bool single = net_prefix_is_single(&srcs[s]);

		for (p = 0; p < n_protos; p++) {
			struct fw_elem e = {
				.src = srcs[s],
				.proto = protos[p],
				.port = g->port,
				.end_ms = end_ms,
			};

			memcpy(e.comment, g->request_id, sizeof(e.comment));
			if (vm->point == FW_POINT_LOCAL) {
				e.set = v6 ? (single ? FW_SET_LOCAL_GRANT6 : FW_SET_LOCAL_GRANT6_NET)
					   : (single ? FW_SET_LOCAL_GRANT4 : FW_SET_LOCAL_GRANT4_NET);
				if ((r = elems_push(raw, &e)) < 0)
					return r;
				continue;
			}
			e.set = v6 ? (single ? FW_SET_GW_GRANT6 : FW_SET_GW_GRANT6_NET)
				   : (single ? FW_SET_GW_GRANT4 : FW_SET_GW_GRANT4_NET);
			for (a = 0; a < vm->n_addrs; a++) {
				if (vm->addrs[a].family != srcs[s].addr.family)
					continue;	/* a v6 source cannot reach a v4-only VM */
				e.dst = vm->addrs[a];
				if ((r = elems_push(raw, &e)) < 0)
					return r;
			}
		}
	}
	return 0;
}

static int
push_port_elems(struct elems *raw, const struct fw_vm *vm, const struct fw_port *pt)
{
	uint8_t protos[2];
	size_t n_protos = 0, p, a;
	int r;

	if (pt->proto == NET_PROTO_ANY || pt->proto == NET_PROTO_TCP)
		protos[n_protos++] = NET_PROTO_TCP;
	if (pt->proto == NET_PROTO_ANY || pt->proto == NET_PROTO_UDP)
		protos[n_protos++] = NET_PROTO_UDP;
	for (p = 0; p < n_protos; p++) {
		struct fw_elem e = { .proto = protos[p], .port = pt->port };

		if (vm->point == FW_POINT_LOCAL) {
			e.set = FW_SET_LOCAL_PROTECT;
			if ((r = elems_push(raw, &e)) < 0)
				return r;
			continue;
		}
		for (a = 0; a < vm->n_addrs; a++) {
			e.set = vm->addrs[a].family == NET_INET6 ? FW_SET_GW_PROTECT6 : FW_SET_GW_PROTECT4;
			e.dst = vm->addrs[a];
			if ((r = elems_push(raw, &e)) < 0)
				return r;
		}
	}
	return 0;
}

static int
state_check_vm(const struct fw_vm *vm, struct core_error *err)
{
	size_t a;

	if (vm->point != FW_POINT_LOCAL && vm->point != FW_POINT_GATEWAY)
		return core_error_set(err, FW_ERR_INVALID, "vm", "VM %llu has an unknown enforcement point",
				      (unsigned long long)vm->id);
	if (vm->point == FW_POINT_LOCAL)
		return 0;
	if (vm->n_addrs == 0 || vm->n_addrs > FW_VM_ADDRS_MAX)
		return core_error_set(err, FW_ERR_INVALID, "vm",
				      "gateway VM %llu needs 1 to %d addresses, has %zu",
				      (unsigned long long)vm->id, FW_VM_ADDRS_MAX, vm->n_addrs);
	for (a = 0; a < vm->n_addrs; a++)
		if (vm->addrs[a].family != NET_INET && vm->addrs[a].family != NET_INET6)
			return core_error_set(err, FW_ERR_INVALID, "vm", "gateway VM %llu has a bad address",
					      (unsigned long long)vm->id);
	return 0;
}

/*
 * A grant whose end is (about) now or past: it implies no kernel element, and
 * the context forgets it. fw_state_elems() skips such grants before looking at
 * anything but their validity, so a state with or without them gives the same
 * elements; that is what lets ended grants linger in the index (update_commit).
 */
static bool
grant_has_ended(const struct fw_grant *g, int64_t now_ms)
{
	return g->end_ms - now_ms < FW_TIMEOUT_MIN_MS;
}

static bool
proto_is_valid(enum net_proto p)
{
	return p == NET_PROTO_ANY || p == NET_PROTO_TCP || p == NET_PROTO_UDP;
}

int
fw_state_elems(const struct fw_state *st, int64_t now_ms, struct fw_elem **ret, size_t *ret_n,
	       struct core_error *err)
{
	return fw_state_elems_at(st, now_ms, NULL, 0, ret, ret_n, err);
}

int
fw_state_elems_at(const struct fw_state *st, int64_t now_ms, const struct fw_deadlines *d, int64_t mono_ms,
		  struct fw_elem **ret, size_t *ret_n, struct core_error *err)
{
	const struct fw_vm **sorted = NULL;
	struct elems raw = { 0 }, out = { 0 };
	size_t i, j;
	int64_t end;
	int r = 0;

	sorted = calloc(st->n_vms ? st->n_vms : 1, sizeof(*sorted));
	if (!sorted)
		return -ENOMEM;
	for (i = 0; i < st->n_vms; i++) {
		if ((r = state_check_vm(&st->vms[i], err)) < 0)
			goto out;
		sorted[i] = &st->vms[i];
	}
	qsort(sorted, st->n_vms, sizeof(*sorted), vm_ptr_cmp);
	for (i = 1; i < st->n_vms; i++)
		if (sorted[i]->id == sorted[i - 1]->id) {
			r = core_error_set(err, FW_ERR_INVALID, "vm", "VM %llu is listed twice",
					   (unsigned long long)sorted[i]->id);
			goto out;
		}

	for (i = 0; i < st->n_ports; i++) {
		const struct fw_port *pt = &st->ports[i];
		const struct fw_vm *vm = vm_find(sorted, st->n_vms, pt->vm);

		if (!vm || pt->port == 0 || !proto_is_valid(pt->proto)) {
			r = core_error_set(err, FW_ERR_INVALID, "port",
					   "protected port %u of VM %llu: %s", pt->port,
					   (unsigned long long)pt->vm, vm ? "bad port or protocol" : "no such VM");
			goto out;
		}
		if ((r = push_port_elems(&raw, vm, pt)) < 0)
			goto out;
	}
	for (i = 0; i < st->n_grants; i++) {
		const struct fw_grant *g = &st->grants[i];
		const struct fw_vm *vm = vm_find(sorted, st->n_vms, g->vm);

		if (!vm || g->port == 0 || !proto_is_valid(g->proto) || !fw_request_id_is_valid(g->request_id) ||
		    (!g->source.any && g->source.prefix.addr.family != NET_INET &&
		     g->source.prefix.addr.family != NET_INET6)) {
			r = core_error_set(err, FW_ERR_INVALID, "grant",
					   "grant %.64s for port %u of VM %llu: %s",
					   fw_request_id_is_valid(g->request_id) ? g->request_id : "(bad id)",
					   g->port, (unsigned long long)g->vm,
					   vm ? "bad port, protocol, source or request id" : "no such VM");
			goto out;
		}
		if (grant_has_ended(g, now_ms))
			continue;	/* already over: the kernel has closed it */
		if (g->end_ms - now_ms > FW_TIMEOUT_MAX_MS) {
			r = core_error_set(err, FW_ERR_INVALID, "grant", "grant %s ends too far in the future",
					   g->request_id);
			goto out;
		}
		end = fw_deadlines_end(d, g, now_ms, mono_ms);
		if (end - now_ms < FW_TIMEOUT_MIN_MS)
			continue;	/* over on the monotonic clock, whatever the wall clock says */
		if ((r = push_grant_elems(&raw, vm, g, end)) < 0)
			goto out;
	}

	if (raw.n)
		qsort(raw.v, raw.n, sizeof(*raw.v), elem_cmp_cover);
	for (i = 0; i < raw.n; i = j) {
		j = i + 1;
		if (fw_set_is_interval(raw.v[i].set)) {
			while (j < raw.n && elem_same_group(&raw.v[i], &raw.v[j]))
				j++;
			if ((r = split_interval_group(&out, raw.v + i, j - i)) < 0)
				goto out;
			continue;
		}
		/* identical keys: the first sorts with the latest end, which the kernel keeps */
		while (j < raw.n && !fw_elem_cmp_key(&raw.v[i], &raw.v[j]))
			j++;
		if ((r = elems_push(&out, &raw.v[i])) < 0)
			goto out;
	}
	if (out.n)
		qsort(out.v, out.n, sizeof(*out.v), fw_elem_cmp_key);
	*ret = out.v;
	*ret_n = out.n;
	out.v = NULL;
	r = 0;
out:
	free(sorted);
	free(raw.v);
	free(out.v);
	return r;
}

int
fw_batch_push(struct fw_batch *batch, enum fw_op_kind kind, const struct fw_elem *e)
{
	if (batch->n_ops == batch->cap_ops) {
		size_t cap = batch->cap_ops ? batch->cap_ops * 2 : 64;
		struct fw_op *ops = reallocarray(batch->ops, cap, sizeof(*ops));

		if (!ops)
			return -ENOMEM;
		batch->ops = ops;
		batch->cap_ops = cap;
	}
	batch->ops[batch->n_ops].kind = kind;
	batch->ops[batch->n_ops].elem = *e;
	batch->n_ops++;
	return 0;
}

void
fw_batch_free(struct fw_batch *batch)
{
	free(batch->ops);
	batch->ops = NULL;
	batch->n_ops = batch->cap_ops = 0;
}

static bool
elem_value_matches(const struct fw_elem *have, const struct fw_elem *want, bool have_from_kernel)
{
	int64_t d;

	if (!fw_set_is_grant(want->set))
		return true;
	if (strcmp(have->comment, want->comment))
		return false;
	d = have->end_ms - want->end_ms;
	if (have_from_kernel)
		return d <= FW_EXPIRY_SLACK_MS && d >= -FW_EXPIRY_SLACK_MS;
	return d == 0;
}

size_t
fw_elems_unique(struct fw_elem *v, size_t n, bool ret_torn[FW_SET_COUNT])
{
	size_t i, k = 0;

	for (i = 0; i < n; i++) {
		if (k && !fw_elem_cmp_key(&v[k - 1], &v[i])) {
			if (v[i].set < FW_SET_COUNT)
				ret_torn[v[i].set] = true;
			continue;
		}
		v[k++] = v[i];
	}
	return k;
}

/*
 * Take the torn sets' elements out of `have` (the batch flushes those sets, so
 * the diff re-adds all they should hold); they count as removed.
 */
static size_t
have_drop_flushed(struct fw_elem *have, size_t n, const struct fw_batch *batch, struct fw_changes *changes)
{
	size_t i, k = 0;

	for (i = 0; i < n; i++) {
		if (batch->flush[have[i].set]) {
			changes->removed++;
			continue;
		}
		have[k++] = have[i];
	}
	return k;
}

int
fw_diff(const struct fw_elem *have, size_t n_have, const struct fw_elem *want, size_t n_want,
	bool have_from_kernel, struct fw_batch *batch, struct fw_changes *changes)
{
	size_t i = 0, j = 0;
	int r = 0;

	while (i < n_have || j < n_want) {
		int c = i == n_have ? 1 : j == n_want ? -1 : fw_elem_cmp_key(&have[i], &want[j]);

		if (c < 0) {
			r = fw_batch_push(batch, FW_OP_DELETE, &have[i++]);
			changes->removed++;
		} else if (c > 0) {
			r = fw_batch_push(batch, FW_OP_ADD, &want[j++]);
			changes->added++;
		} else if (elem_value_matches(&have[i], &want[j], have_from_kernel)) {
			changes->kept++;
			i++, j++;
		} else {
			r = fw_batch_push(batch, FW_OP_UPDATE, &want[j]);
			changes->updated++;
			i++, j++;
		}
		if (r < 0)
			return r;
	}
	return 0;
}

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

static int
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
static size_t
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
static struct affect_key
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

static bool
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
static uint64_t
identity_hash(uint64_t seed, const struct fw_grant *g)
{
	uint64_t h = hash_word(seed, g->vm);

	h = hash_word(h, (uint64_t)g->proto << 16 | g->port);
	return hash_bytes(h, g->request_id, strnlen(g->request_id, sizeof(g->request_id)));
}

static uint64_t
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
static uint32_t
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
static void
index_delete(struct grant_index *idx, uint32_t i)
{
	index_unlink(idx, i);
	idx->n--;
	if (i != idx->n)
		index_move(idx, (uint32_t)idx->n, i);
}

/* File a copy of g. Room must have been made with index_reserve(), so this cannot fail. */
static void
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
static int
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
static int
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
static void
index_take(struct grant_index *idx, struct fw_grant *v, size_t n)
{
	size_t i;

	idx->v = v;
	idx->n = n;
	for (i = 0; i < n; i++)
		index_link(idx, (uint32_t)i);
}

static void
index_free(struct grant_index *idx)
{
	enum grant_chain c;

	free(idx->v);
	free(idx->links);
	for (c = 0; c < CHAIN_COUNT; c++)
		free(idx->heads[c]);
	memset(idx, 0, sizeof(*idx));
}

size_t
fw_grants_held(const struct fw *fw)
{
	return fw->grants.n;
}

int
fw_new(struct fw **ret, struct core_error *err)
{
	struct fw *fw = calloc(1, sizeof(*fw));
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
		fw->grants.seed = (uint64_t)fw_now_ms();
	fw_deadlines_init(&fw->deadlines, fw->grants.seed);
	*ret = fw;
	return 0;
}

int
fw_connect(int fd, struct fw **ret, struct core_error *err)
{
	struct fw *fw = calloc(1, sizeof(*fw));
	int r;

	if (!fw) {
		close(fd);
		return -ENOMEM;
	}
	r = fw_remote_open(fd, &fw->remote, err);
	if (r < 0) {
		free(fw);
		return r;
	}
	*ret = fw;
	return 0;
}

struct fw_remote *
fw_remote_of(const struct fw *fw)
{
	return fw->remote;
}

int
fw_events_fd(const struct fw *fw)
{
	return fw->remote ? fw_remote_events_fd(fw->remote) : -1;
}

int
fw_events_read(struct fw *fw, struct fw_tamper *ret)
{
	if (fw->remote)
		return fw_remote_events_read(fw->remote, ret);
	memset(ret, 0, sizeof(*ret));
	return 0;
}

void
fw_free(struct fw *fw)
{
	if (!fw)
		return;
	fw_remote_close(fw->remote);
	fw_nft_close(fw->nft);
	free(fw->vms);
	free(fw->ports);
	index_free(&fw->grants);
	fw_deadlines_free(&fw->deadlines);
	free(fw);
}

/* A state the context owns: copies of the caller's arrays. */
struct owned_state {
	struct fw_vm *vms;
	size_t n_vms;
	struct fw_port *ports;
	size_t n_ports;
	struct fw_grant *grants;
	size_t n_grants;
};

static void
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

static int
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

static struct fw_state
state_view(const struct fw_vm *vms, size_t n_vms, const struct fw_port *ports, size_t n_ports,
	   const struct fw_grant *grants, size_t n_grants)
{
	return (struct fw_state){ vms, n_vms, ports, n_ports, grants, n_grants };
}

/* The whole current state, every grant included (ended ones that linger imply nothing, see grant_has_ended). */
static struct fw_state
fw_current(const struct fw *fw)
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
fw_adopt(struct fw *fw, struct owned_state *s, struct grant_index *idx, int64_t now_ms)
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
	return grant_same_identity(a, b) && a->end_ms == b->end_ms && net_source_equal(&a->source, &b->source);
}

/*
 * Does the context hold exactly `s` already: the same VMs and protected ports in
 * the same order, and the same grants that have not ended, in any order (ended
 * ones it still holds imply nothing and do not count)? That is the usual
 * periodic reconcile, and then it needs no second copy of the grants.
 */
static bool
state_is_current(const struct fw *fw, const struct owned_state *s, int64_t now_ms)
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
		    s->ports[i].port != fw->ports[i].port)
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

/* Forget the grants that have ended (after a reconcile that kept the context's state). */
static void
index_prune_ended(struct grant_index *idx, int64_t now_ms)
{
	size_t i = idx->n;

	while (i-- > 0)	/* from the top: index_delete moves the last grant into the slot */
		if (grant_has_ended(&idx->v[i], now_ms))
			index_delete(idx, (uint32_t)i);
}

/*
 * When the kernel's listing holds g's element (its key, g's request id) with
 * less time left than g: the earliest such end, else INT64_MAX. Exact keys
 * only: a range cut into pieces around other grants' is not looked for.
 */
static int64_t
grant_kernel_end(const struct fw_vm *vm, const struct fw_grant *g, const struct fw_elem *have, size_t n_have,
		 struct elems *scratch)
{
	int64_t end = INT64_MAX;
	size_t i;

	scratch->n = 0;
	if (push_grant_elems(scratch, vm, g, g->end_ms) < 0)
		return INT64_MAX;	/* no memory: no hint, the grant's own end (and the clamp once noted) */
	for (i = 0; i < scratch->n; i++) {
		const struct fw_elem *e = bsearch(&scratch->v[i], have, n_have, sizeof(*have), fw_elem_cmp_key);

		if (e && !strcmp(e->comment, g->request_id) && e->end_ms < end)
			end = e->end_ms;
	}
	return end;
}

/*
 * Note the monotonic deadline of every grant of st the context has not seen
 * (all of them, after a restart). With a kernel listing, a grant whose element
 * is there with less time left keeps that (fw_deadlines_note).
 */
static int
fw_note(struct fw *fw, const struct fw_state *st, const struct fw_elem *have, size_t n_have, int64_t now_ms,
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

static int
reconcile_owned(struct fw *fw, struct owned_state *s, struct fw_changes *ret_changes, struct core_error *err)
{
	struct fw_state st = state_view(s->vms, s->n_vms, s->ports, s->n_ports, s->grants, s->n_grants);
	struct fw_elem *want = NULL, *have = NULL;
	size_t n_want = 0, n_have = 0;
	struct fw_batch batch = { .ensure = true };
	struct fw_changes changes = { 0 };
	struct grant_index idx = { 0 };
	int64_t now = fw_now_ms(), mono = fw_mono_ms();
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
	if (r < 0)
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
	if (ret_changes)
		*ret_changes = changes;
out:
	fw_batch_free(&batch);
	index_free(&idx);
	free(want);
	free(have);
	return r;
}

int
fw_reconcile_take(struct fw *fw, struct fw_vm *vms, size_t n_vms, struct fw_port *ports, size_t n_ports,
		  struct fw_grant *grants, size_t n_grants, struct fw_changes *ret_changes, struct core_error *err)
{
	struct owned_state s = { vms, n_vms, ports, n_ports, grants, n_grants };
	struct fw_state st = state_view(vms, n_vms, ports, n_ports, grants, n_grants);
	int r;

	if (fw->remote)
		r = fw_remote_call(fw->remote, FW_WIRE_OP_RECONCILE, &st, NULL, 0, ret_changes, NULL, err);
	else
		r = reconcile_owned(fw, &s, ret_changes, err);
	owned_state_free(&s);	/* nothing left when the context adopted them */
	return r;
}

int
fw_reconcile(struct fw *fw, const struct fw_state *desired, struct fw_changes *ret_changes, struct core_error *err)
{
	struct owned_state s;
	int r;

	if (fw->remote)
		return fw_remote_call(fw->remote, FW_WIRE_OP_RECONCILE, desired, NULL, 0, ret_changes, NULL, err);
	if ((r = owned_state_copy(&s, desired)) < 0)
		return r;
	r = reconcile_owned(fw, &s, ret_changes, err);
	owned_state_free(&s);
	return r;
}

/*
 * Move from the current state to the whole state `s`: diff the elements each
 * implies and send only the difference. If the kernel had drifted and refuses
 * the batch, reconcile against what it really holds instead. Grant changes
 * alone take the cheaper way, fw_grant_update().
 */
static int
apply_owned(struct fw *fw, struct owned_state *s, struct fw_changes *ret_changes, struct core_error *err)
{
	struct fw_state cur = fw_current(fw);
	struct fw_state next = state_view(s->vms, s->n_vms, s->ports, s->n_ports, s->grants, s->n_grants);
	struct fw_elem *old = NULL, *want = NULL;
	size_t n_old = 0, n_want = 0;
	struct fw_batch batch = { 0 };
	struct fw_changes changes = { 0 };
	struct grant_index idx = { 0 };
	int64_t now = fw_now_ms(), mono = fw_mono_ms();
	int r;

	if (!fw->synced)
		return reconcile_owned(fw, s, ret_changes, err);
	/* noting the grants of a state refused below does no harm: a deadline only ever shortens */
	if ((r = fw_note(fw, &next, NULL, 0, now, mono)) < 0)
		goto out;
	r = fw_state_elems_at(&next, now, &fw->deadlines, mono, &want, &n_want, err);
	if (r < 0)
		goto out;
	r = fw_state_elems_at(&cur, now, &fw->deadlines, mono, &old, &n_old, err);
	if (r < 0)
		goto out;
	r = fw_diff(old, n_old, want, n_want, false, &batch, &changes);
	if (r < 0)
		goto out;
	r = index_alloc(&idx, s->n_grants, fw->grants.seed);
	if (r < 0)
		goto out;
	if (batch.n_ops && fw_nft_apply(fw->nft, &batch, now, NULL) < 0) {
		r = reconcile_owned(fw, s, &changes, err);
		goto out;
	}
	fw_adopt(fw, s, &idx, now);
	fw_deadlines_prune(&fw->deadlines, now, mono);
	changes.kept = 0;	/* only a reconcile looks at what was already there */
out:
	if (r >= 0 && ret_changes)
		*ret_changes = changes;
	fw_batch_free(&batch);
	index_free(&idx);
	free(old);
	free(want);
	return r;
}

int
fw_set_state(struct fw *fw, const struct fw_state *desired, struct fw_changes *ret_changes, struct core_error *err)
{
	struct owned_state s;
	int r;

	if (fw->remote)
		return fw_remote_call(fw->remote, FW_WIRE_OP_SET_STATE, desired, NULL, 0, ret_changes, NULL, err);
	if ((r = owned_state_copy(&s, desired)) < 0)
		return r;
	r = apply_owned(fw, &s, ret_changes, err);
	owned_state_free(&s);
	return r;
}

int
fw_protect_set(struct fw *fw, const struct fw_vm *vms, size_t n_vms, const struct fw_port *ports, size_t n_ports,
	       struct fw_changes *ret_changes, struct core_error *err)
{
	struct fw_state next = state_view(vms, n_vms, ports, n_ports, fw->grants.v, fw->grants.n);
	struct owned_state s;
	size_t i, k, n = 0;
	int r;

	if (fw->remote) {
		next.n_grants = 0;
		return fw_remote_call(fw->remote, FW_WIRE_OP_PROTECT_SET, &next, NULL, 0, ret_changes, NULL, err);
	}
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
update_plan(const struct fw *fw, const struct fw_grant *add, size_t n_add, const struct fw_grant *remove,
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
update_commit(struct fw *fw, struct grant_update *u, const struct fw_grant *add, size_t n_add, int64_t now_ms)
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
update_reconcile(struct fw *fw, const struct grant_update *u, const struct fw_grant *add, size_t n_add,
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
fw_grant_update(struct fw *fw, const struct fw_grant *add, size_t n_add, const struct fw_grant *remove,
		size_t n_remove, struct fw_changes *ret_changes, struct core_error *err)
{
	struct grant_update u = { 0 };
	struct fw_state cur, next, added;
	struct fw_elem *old = NULL, *want = NULL;
	size_t n_old = 0, n_want = 0;
	struct fw_batch batch = { 0 };
	struct fw_changes changes = { 0 };
	int64_t now, mono;
	int r;

	if (fw->remote) {
		struct fw_state st = state_view(NULL, 0, NULL, 0, add, n_add);

		return fw_remote_call(fw->remote, FW_WIRE_OP_GRANT_UPDATE, &st, remove, n_remove, ret_changes, NULL,
				      err);
	}
	r = update_plan(fw, add, n_add, remove, n_remove, &u);
	if (r < 0)
		goto out;
	if (!fw->synced) {
		r = update_reconcile(fw, &u, add, n_add, &changes, err);
		goto out;
	}
	now = fw_now_ms();
	mono = fw_mono_ms();
	/* VMs and ports do not change, so the ports' elements are left out: they would only cancel out */
	next = state_view(fw->vms, fw->n_vms, NULL, 0, u.next, u.n_next);
	cur = state_view(fw->vms, fw->n_vms, NULL, 0, u.cur, u.n_cur);
	added = state_view(fw->vms, fw->n_vms, NULL, 0, add, n_add);
	if ((r = fw_note(fw, &added, NULL, 0, now, mono)) < 0)
		goto out;
	r = fw_state_elems_at(&next, now, &fw->deadlines, mono, &want, &n_want, err);
	if (r < 0)
		goto out;
	r = fw_state_elems_at(&cur, now, &fw->deadlines, mono, &old, &n_old, err);
	if (r < 0)
		goto out;
	r = fw_diff(old, n_old, want, n_want, false, &batch, &changes);
	if (r < 0)
		goto out;
	r = index_reserve(&fw->grants, n_add);
	if (r < 0)
		goto out;
	if (batch.n_ops && fw_nft_apply(fw->nft, &batch, now, NULL) < 0) {
		r = update_reconcile(fw, &u, add, n_add, &changes, err);
		goto out;
	}
	update_commit(fw, &u, add, n_add, now);
	changes.kept = 0;	/* only a reconcile looks at what was already there */
out:
	if (r >= 0 && ret_changes)
		*ret_changes = changes;
	fw_batch_free(&batch);
	grant_update_free(&u);
	free(old);
	free(want);
	return r;
}

int
fw_grant_add(struct fw *fw, const struct fw_grant *grants, size_t n, struct fw_changes *ret_changes,
	     struct core_error *err)
{
	return fw_grant_update(fw, grants, n, NULL, 0, ret_changes, err);
}

int
fw_grant_remove(struct fw *fw, const struct fw_grant *grants, size_t n, struct fw_changes *ret_changes,
		struct core_error *err)
{
	return fw_grant_update(fw, NULL, 0, grants, n, ret_changes, err);
}

/* The VM with this id in the context's state, for fw-conntrack.c. */
const struct fw_vm *
fw_vm_lookup(const struct fw *fw, uint64_t id)
{
	size_t i;

	for (i = 0; i < fw->n_vms; i++)
		if (fw->vms[i].id == id)
			return &fw->vms[i];
	return NULL;
}

int
fw_list(struct fw *fw, struct fw_elem **ret, size_t *ret_n, struct core_error *err)
{
	bool ours;
	bool torn[FW_SET_COUNT] = { false };
	int r;

	if (fw->remote)
		return core_error_set(err, FW_ERR_UNAVAILABLE, "", "the firewall helper does not list the table"),
		       -EOPNOTSUPP;
	r = fw_nft_list(fw->nft, fw_now_ms(), ret, ret_n, &ours, err);
	if (r >= 0)
		*ret_n = fw_elems_unique(*ret, *ret_n, torn);
	return r;
}

/* Desired firewall state, pure (no context, no netlink, no libnftables): set metadata, element order, the elements a state implies, and diffs. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fw-deadline.h"
#include "fw-model.h"

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
	[FW_SET_DNAT_GRANT4] = { "dnat_grant4", true, false, true, NET_INET },
	[FW_SET_DNAT_GRANT4_NET] = { "dnat_grant4_net", true, true, true, NET_INET },
	[FW_SET_DNAT_GRANT6] = { "dnat_grant6", true, false, true, NET_INET6 },
	[FW_SET_DNAT_GRANT6_NET] = { "dnat_grant6_net", true, true, true, NET_INET6 },
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

int
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

const struct fw_vm *
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

int
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
			/* the DNAT of the port's public address: the same source, end and request id */
			if (g->dnat_addr.family != srcs[s].addr.family)
				continue;
			e.set = v6 ? (single ? FW_SET_DNAT_GRANT6 : FW_SET_DNAT_GRANT6_NET)
				   : (single ? FW_SET_DNAT_GRANT4 : FW_SET_DNAT_GRANT4_NET);
			e.dst = g->dnat_addr;
			e.port = g->dnat_port;
			if ((r = elems_push(raw, &e)) < 0)
				return r;
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

int
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
bool
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

/* The state's VMs, checked, sorted by id for vm_find(); a VM listed twice is refused. */
static int
vms_sorted(const struct fw_state *st, const struct fw_vm ***ret, struct core_error *err)
{
	const struct fw_vm **sorted = calloc(st->n_vms ? st->n_vms : 1, sizeof(*sorted));
	size_t i;
	int r = 0;

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
	*ret = sorted;
	sorted = NULL;
out:
	free(sorted);
	return r;
}

static int
push_ports(struct elems *raw, const struct fw_state *st, const struct fw_vm **sorted, struct core_error *err)
{
	size_t i;
	int r;

	for (i = 0; i < st->n_ports; i++) {
		const struct fw_port *pt = &st->ports[i];
		const struct fw_vm *vm = vm_find(sorted, st->n_vms, pt->vm);

		if (!vm || pt->port == 0 || !proto_is_valid(pt->proto) || !fw_dnat_is_valid(vm, &pt->dnat_addr, pt->dnat_port))
			return core_error_set(err, FW_ERR_INVALID, "port",
					      "protected port %u of VM %llu: %s", pt->port,
					      (unsigned long long)pt->vm, vm ? "bad port or protocol" : "no such VM");
		if ((r = push_port_elems(raw, vm, pt)) < 0)
			return r;
	}
	return 0;
}

static int
push_grants(struct elems *raw, const struct fw_state *st, const struct fw_vm **sorted, int64_t now_ms,
	    const struct fw_deadlines *d, int64_t mono_ms, struct core_error *err)
{
	size_t i;
	int64_t end;
	int r;

	for (i = 0; i < st->n_grants; i++) {
		const struct fw_grant *g = &st->grants[i];
		const struct fw_vm *vm = vm_find(sorted, st->n_vms, g->vm);

		if (!vm || g->port == 0 || !proto_is_valid(g->proto) || !fw_request_id_is_valid(g->request_id) ||
		    (!g->source.any && g->source.prefix.addr.family != NET_INET &&
		     g->source.prefix.addr.family != NET_INET6) ||
		    !fw_dnat_is_valid(vm, &g->dnat_addr, g->dnat_port))
			return core_error_set(err, FW_ERR_INVALID, "grant",
					      "grant %.64s for port %u of VM %llu: %s",
					      fw_request_id_is_valid(g->request_id) ? g->request_id : "(bad id)",
					      g->port, (unsigned long long)g->vm,
					      vm ? "bad port, protocol, source or request id" : "no such VM");
		if (grant_has_ended(g, now_ms))
			continue;	/* already over: the kernel has closed it */
		if (g->end_ms - now_ms > FW_TIMEOUT_MAX_MS)
			return core_error_set(err, FW_ERR_INVALID, "grant", "grant %s ends too far in the future",
					      g->request_id);
		end = fw_deadlines_end(d, g, now_ms, mono_ms);
		if (end - now_ms < FW_TIMEOUT_MIN_MS)
			continue;	/* over on the monotonic clock, whatever the wall clock says */
		if ((r = push_grant_elems(raw, vm, g, end)) < 0)
			return r;
	}
	return 0;
}

/*
 * The raw elements (sorted here) as the kernel holds them: interval groups split, identical
 * keys once, sorted by key. In place: a key kept is written back over the group it came from,
 * and only the interval pieces (their number may grow) go to a second array, appended at the
 * end. So 100,000 single-address grants need one array of elements, not two.
 */
static int
merge_elems(struct elems *raw)
{
	struct elems pieces = { 0 };
	size_t i, j, w = 0;
	int r = 0;

	if (raw->n)
		qsort(raw->v, raw->n, sizeof(*raw->v), elem_cmp_cover);
	for (i = 0; i < raw->n; i = j) {
		j = i + 1;
		if (fw_set_is_interval(raw->v[i].set)) {
			while (j < raw->n && elem_same_group(&raw->v[i], &raw->v[j]))
				j++;
			if ((r = split_interval_group(&pieces, raw->v + i, j - i)) < 0)
				goto out;
			continue;
		}
		/* identical keys: the first sorts with the latest end, which the kernel keeps */
		while (j < raw->n && !fw_elem_cmp_key(&raw->v[i], &raw->v[j]))
			j++;
		raw->v[w++] = raw->v[i];	/* w <= i: every group kept so far had at least one element */
	}
	raw->n = w;
	for (i = 0; i < pieces.n; i++)
		if ((r = elems_push(raw, &pieces.v[i])) < 0)
			goto out;
	if (raw->n)
		qsort(raw->v, raw->n, sizeof(*raw->v), fw_elem_cmp_key);
out:
	free(pieces.v);
	return r;
}

int
fw_state_elems_at(const struct fw_state *st, int64_t now_ms, const struct fw_deadlines *d, int64_t mono_ms,
		  struct fw_elem **ret, size_t *ret_n, struct core_error *err)
{
	const struct fw_vm **sorted = NULL;
	struct elems raw = { 0 };
	int r;

	if ((r = vms_sorted(st, &sorted, err)) < 0 || (r = push_ports(&raw, st, sorted, err)) < 0 ||
	    (r = push_grants(&raw, st, sorted, now_ms, d, mono_ms, err)) < 0 || (r = merge_elems(&raw)) < 0)
		goto out;
	*ret = raw.v;
	*ret_n = raw.n;
	raw.v = NULL;
	r = 0;
out:
	free(sorted);
	free(raw.v);
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
	free(batch->dnat);
	batch->dnat = NULL;
	batch->n_dnat = 0;
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
size_t
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
 * When the kernel's listing holds g's element (its key, g's request id) with
 * less time left than g: the earliest such end, else INT64_MAX. Exact keys
 * only: a range cut into pieces around other grants' is not looked for.
 */
int64_t
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

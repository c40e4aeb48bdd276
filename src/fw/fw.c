/* Desired firewall state: which kernel elements it implies, how they differ from what is there, and the public fw API. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fw-internal.h"

struct fw {
	struct fw_nft *nft;
	struct fw_remote *remote;	/* fw_connect(): every call goes to the helper; nft and the state are unused */
	bool synced;		/* the kernel held exactly the state below after our last batch */
	struct fw_vm *vms;
	size_t n_vms;
	struct fw_port *ports;
	size_t n_ports;
	struct fw_grant *grants;
	size_t n_grants;
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
push_grant_elems(struct elems *raw, const struct fw_vm *vm, const struct fw_grant *g, int64_t now_ms)
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
				.end_ms = g->end_ms,
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
	(void)now_ms;
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

static bool
proto_is_valid(enum net_proto p)
{
	return p == NET_PROTO_ANY || p == NET_PROTO_TCP || p == NET_PROTO_UDP;
}

int
fw_state_elems(const struct fw_state *st, int64_t now_ms, struct fw_elem **ret, size_t *ret_n,
	       struct core_error *err)
{
	const struct fw_vm **sorted = NULL;
	struct elems raw = { 0 }, out = { 0 };
	size_t i, j;
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
		if (g->end_ms - now_ms < FW_TIMEOUT_MIN_MS)
			continue;	/* already over: the kernel has closed it */
		if (g->end_ms - now_ms > FW_TIMEOUT_MAX_MS) {
			r = core_error_set(err, FW_ERR_INVALID, "grant", "grant %s ends too far in the future",
					   g->request_id);
			goto out;
		}
		if ((r = push_grant_elems(&raw, vm, g, now_ms)) < 0)
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
	free(fw->grants);
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

static struct fw_state
fw_current(const struct fw *fw)
{
	return state_view(fw->vms, fw->n_vms, fw->ports, fw->n_ports, fw->grants, fw->n_grants);
}

/* Take `s` as the context's state, dropping grants that have ended (the kernel has dropped them too). */
static void
fw_adopt(struct fw *fw, struct owned_state *s, int64_t now_ms)
{
	size_t i, n = 0;

	for (i = 0; i < s->n_grants; i++)
		if (s->grants[i].end_ms - now_ms >= FW_TIMEOUT_MIN_MS)
			s->grants[n++] = s->grants[i];
	s->n_grants = n;
	free(fw->vms);
	free(fw->ports);
	free(fw->grants);
	fw->vms = s->vms;
	fw->n_vms = s->n_vms;
	fw->ports = s->ports;
	fw->n_ports = s->n_ports;
	fw->grants = s->grants;
	fw->n_grants = s->n_grants;
	memset(s, 0, sizeof(*s));
	fw->synced = true;
}

static int
reconcile_owned(struct fw *fw, struct owned_state *s, struct fw_changes *ret_changes, struct core_error *err)
{
	struct fw_state st = state_view(s->vms, s->n_vms, s->ports, s->n_ports, s->grants, s->n_grants);
	struct fw_elem *want = NULL, *have = NULL;
	size_t n_want = 0, n_have = 0;
	struct fw_batch batch = { .ensure = true };
	struct fw_changes changes = { 0 };
	int64_t now = fw_now_ms();
	bool ours = true;
	int r;

	r = fw_state_elems(&st, now, &want, &n_want, err);
	if (r < 0)
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
	r = fw_diff(have, n_have, want, n_want, true, &batch, &changes);
	if (r < 0)
		goto out;
	r = fw_nft_apply(fw->nft, &batch, now, err);
	if (r < 0)
		goto out;
	fw_adopt(fw, s, now);
	if (ret_changes)
		*ret_changes = changes;
out:
	fw_batch_free(&batch);
	free(want);
	free(have);
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
 * Which kernel elements a grant can touch: its VM and port, and either its
 * single source address (a hash-set key of its own) or its family's interval
 * group. Two grants whose keys differ never share an element, so a change to
 * some grants needs only the grants with the same keys recomputed. Protocol
 * is left out on purpose: a wider set of grants is still right, just slower.
 */
struct affect_key {
	uint64_t vm;
	uint16_t port;
	uint8_t family;
	uint8_t single;
	struct net_addr addr;	/* single sources only */
};

static int
affect_cmp(const void *pa, const void *pb)
{
	const struct affect_key *a = pa, *b = pb;
	int r;

	if ((r = cmp_num(a->vm, b->vm)) || (r = cmp_num(a->port, b->port)) || (r = cmp_num(a->family, b->family)) ||
	    (r = cmp_num(a->single, b->single)))
		return r;
	return memcmp(&a->addr, &b->addr, sizeof(a->addr));
}

/* The keys of one grant: one, or two for a "*" source (both families' interval groups). */
static size_t
affect_keys_of(const struct fw_grant *g, struct affect_key out[2])
{
	memset(out, 0, 2 * sizeof(*out));
	out[0].vm = out[1].vm = g->vm;
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

static bool
grant_is_affected(const struct fw_grant *g, const struct affect_key *keys, size_t n_keys)
{
	struct affect_key k[2];
	size_t i, n = affect_keys_of(g, k);

	for (i = 0; i < n; i++)
		if (bsearch(&k[i], keys, n_keys, sizeof(*keys), affect_cmp))
			return true;
	return false;
}

/* The grants of `all` that the keys select, into a new array (caller frees). */
static struct fw_grant *
grants_affected(const struct fw_grant *all, size_t n, const struct affect_key *keys, size_t n_keys, size_t *ret_n)
{
	struct fw_grant *v = calloc(n ? n : 1, sizeof(*v));
	size_t i, k = 0;

	if (!v)
		return NULL;
	for (i = 0; i < n; i++)
		if (grant_is_affected(&all[i], keys, n_keys))
			v[k++] = all[i];
	*ret_n = k;
	return v;
}

/*
 * Move from the current state to `s`: diff the elements each implies and send
 * only the difference. With `keys` (a sorted set; grants changed, VMs and
 * ports did not), only the grants those keys select are recomputed. If the
 * kernel had drifted and refuses the batch, reconcile against what it really
 * holds instead.
 */
static int
apply_owned(struct fw *fw, struct owned_state *s, const struct affect_key *keys, size_t n_keys,
	    struct fw_changes *ret_changes, struct core_error *err)
{
	struct fw_state cur = fw_current(fw);
	struct fw_state next = state_view(s->vms, s->n_vms, s->ports, s->n_ports, s->grants, s->n_grants);
	struct fw_grant *cur_sub = NULL, *next_sub = NULL;
	struct fw_elem *old = NULL, *want = NULL;
	size_t n_old = 0, n_want = 0;
	struct fw_batch batch = { 0 };
	struct fw_changes changes = { 0 };
	int64_t now = fw_now_ms();
	int r;

	if (!fw->synced)
		return reconcile_owned(fw, s, ret_changes, err);
	if (keys) {
		cur_sub = grants_affected(cur.grants, cur.n_grants, keys, n_keys, &cur.n_grants);
		next_sub = grants_affected(next.grants, next.n_grants, keys, n_keys, &next.n_grants);
		if (!cur_sub || !next_sub) {
			r = -ENOMEM;
			goto out;
		}
		cur.grants = cur_sub;
		next.grants = next_sub;
		cur.n_ports = next.n_ports = 0;	/* unchanged, so they would only cancel out */
	}
	r = fw_state_elems(&next, now, &want, &n_want, err);
	if (r < 0)
		goto out;
	r = fw_state_elems(&cur, now, &old, &n_old, err);
	if (r < 0)
		goto out;
	r = fw_diff(old, n_old, want, n_want, false, &batch, &changes);
	if (r < 0)
		goto out;
	if (batch.n_ops == 0) {
		fw_adopt(fw, s, now);
		goto done;
	}
	r = fw_nft_apply(fw->nft, &batch, now, NULL);
	if (r < 0) {
		r = reconcile_owned(fw, s, &changes, err);
		goto out;
	}
	fw_adopt(fw, s, now);
done:
	changes.kept = 0;	/* only a reconcile looks at what was already there */
out:
	if (r >= 0 && ret_changes)
		*ret_changes = changes;
	fw_batch_free(&batch);
	free(cur_sub);
	free(next_sub);
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
	r = apply_owned(fw, &s, NULL, 0, ret_changes, err);
	owned_state_free(&s);
	return r;
}

int
fw_protect_set(struct fw *fw, const struct fw_vm *vms, size_t n_vms, const struct fw_port *ports, size_t n_ports,
	       struct fw_changes *ret_changes, struct core_error *err)
{
	struct fw_state next = state_view(vms, n_vms, ports, n_ports, fw->grants, fw->n_grants);
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
	r = apply_owned(fw, &s, NULL, 0, ret_changes, err);
	owned_state_free(&s);
	return r;
}

static int
grant_cmp_identity(const void *pa, const void *pb)
{
	const struct fw_grant *a = pa, *b = pb;
	int r;

	if ((r = cmp_num(a->vm, b->vm)) || (r = cmp_num(a->proto, b->proto)) || (r = cmp_num(a->port, b->port)))
		return r;
	return strcmp(a->request_id, b->request_id);
}

/* The current grants less those matching any in `drop` by identity, with room for `extra` more. */
static int
grants_without(const struct fw *fw, const struct fw_grant *drop, size_t n_drop, size_t extra, struct owned_state *s)
{
	struct fw_state cur = fw_current(fw);
	struct fw_grant *sorted;
	size_t i, n = 0;
	int r;

	sorted = dup_array(drop, n_drop, sizeof(*drop));
	if (!sorted)
		return -ENOMEM;
	qsort(sorted, n_drop, sizeof(*sorted), grant_cmp_identity);
	if ((r = owned_state_copy(s, &cur)) < 0)
		goto out;
	if (extra) {
		struct fw_grant *g = reallocarray(s->grants, s->n_grants + extra, sizeof(*g));

		if (!g) {
			owned_state_free(s);
			r = -ENOMEM;
			goto out;
		}
		s->grants = g;
	}
	for (i = 0; i < s->n_grants; i++)
		if (!bsearch(&s->grants[i], sorted, n_drop, sizeof(*sorted), grant_cmp_identity))
			s->grants[n++] = s->grants[i];
	s->n_grants = n;
out:
	free(sorted);
	return r;
}

int
fw_grant_update(struct fw *fw, const struct fw_grant *add, size_t n_add, const struct fw_grant *remove,
		size_t n_remove, struct fw_changes *ret_changes, struct core_error *err)
{
	struct fw_grant *drop;
	struct affect_key *keys = NULL;
	struct owned_state s;
	size_t i, n_keys = 0, n_drop = n_add + n_remove;
	int r;

	if (fw->remote) {
		struct fw_state st = state_view(NULL, 0, NULL, 0, add, n_add);

		return fw_remote_call(fw->remote, FW_WIRE_OP_GRANT_UPDATE, &st, remove, n_remove, ret_changes, NULL,
				      err);
	}
	/* an added grant replaces one of the same identity, so it is dropped first like the removed ones */
	drop = calloc(n_drop ? n_drop : 1, sizeof(*drop));
	keys = calloc(n_drop ? 2 * n_drop : 1, sizeof(*keys));
	if (!drop || !keys) {
		r = -ENOMEM;
		goto out;
	}
	if (n_add)
		memcpy(drop, add, n_add * sizeof(*add));
	if (n_remove)
		memcpy(drop + n_add, remove, n_remove * sizeof(*remove));
	/* a grant replaced by identity may have had another source: its old keys count too */
	for (i = 0; i < n_drop; i++)
		n_keys += affect_keys_of(&drop[i], keys + n_keys);
	r = grants_without(fw, drop, n_drop, n_add, &s);
	if (r < 0)
		goto out;
	qsort(drop, n_drop, sizeof(*drop), grant_cmp_identity);
	for (i = 0; i < fw->n_grants; i++) {
		const struct fw_grant *d = bsearch(&fw->grants[i], drop, n_drop, sizeof(*drop), grant_cmp_identity);

		if (d && memcmp(&fw->grants[i].source, &d->source, sizeof(d->source))) {
			struct affect_key *more = reallocarray(keys, n_keys + 2, sizeof(*keys));

			if (!more) {
				owned_state_free(&s);
				r = -ENOMEM;
				goto out;
			}
			keys = more;
			n_keys += affect_keys_of(&fw->grants[i], keys + n_keys);
		}
	}
	qsort(keys, n_keys, sizeof(*keys), affect_cmp);
	if (n_add)
		memcpy(s.grants + s.n_grants, add, n_add * sizeof(*add));
	s.n_grants += n_add;
	r = apply_owned(fw, &s, keys, n_keys, ret_changes, err);
	owned_state_free(&s);
out:
	free(drop);
	free(keys);
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

	if (fw->remote)
		return core_error_set(err, FW_ERR_UNAVAILABLE, "", "the firewall helper does not list the table"),
		       -EOPNOTSUPP;
	return fw_nft_list(fw->nft, fw_now_ms(), ret, ret_n, &ours, err);
}

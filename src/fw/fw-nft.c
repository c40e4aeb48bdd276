/* The kernel side of fw: table inet jitgate through libnftables, the only file that speaks netlink. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <nftables/libnftables.h>

#include "core/buf.h"
#include "fw-internal.h"

#define FW_TABLE	"inet jitgate"
#define FW_PROBE_TABLE	"inet jitgate_probe"
#define FW_PRIORITY	-10	/* before the usual filter priority (0), so our drop is seen first */

static int fw_nft_probe(struct fw_nft *nft, struct core_error *err);

struct fw_nft {
	struct nft_ctx *ctx;
};

/* How each set is declared; the listing must show exactly these or the table is not ours. */
static const struct {
	const char *decl;	/* for "add set" */
	const char *types[4];	/* as JSON lists them */
	bool timeout, interval;
} set_decl[FW_SET_COUNT] = {
	[FW_SET_LOCAL_PROTECT] = { .decl = "type inet_proto . inet_service;", .types = { "inet_proto", "inet_service" } },
	[FW_SET_GW_PROTECT4] = { .decl = "type ipv4_addr . inet_proto . inet_service;",
				 .types = { "ipv4_addr", "inet_proto", "inet_service" } },
	[FW_SET_GW_PROTECT6] = { .decl = "type ipv6_addr . inet_proto . inet_service;",
				 .types = { "ipv6_addr", "inet_proto", "inet_service" } },
	[FW_SET_LOCAL_GRANT4] = { "type ipv4_addr . inet_proto . inet_service; flags timeout;",
				  { "ipv4_addr", "inet_proto", "inet_service" }, true, false },
	[FW_SET_LOCAL_GRANT4_NET] = { "type ipv4_addr . inet_proto . inet_service; flags interval,timeout;",
				      { "ipv4_addr", "inet_proto", "inet_service" }, true, true },
	[FW_SET_LOCAL_GRANT6] = { "type ipv6_addr . inet_proto . inet_service; flags timeout;",
				  { "ipv6_addr", "inet_proto", "inet_service" }, true, false },
	[FW_SET_LOCAL_GRANT6_NET] = { "type ipv6_addr . inet_proto . inet_service; flags interval,timeout;",
				      { "ipv6_addr", "inet_proto", "inet_service" }, true, true },
	[FW_SET_GW_GRANT4] = { "type ipv4_addr . ipv4_addr . inet_proto . inet_service; flags timeout;",
			       { "ipv4_addr", "ipv4_addr", "inet_proto", "inet_service" }, true, false },
	[FW_SET_GW_GRANT4_NET] = { "type ipv4_addr . ipv4_addr . inet_proto . inet_service; flags interval,timeout;",
				   { "ipv4_addr", "ipv4_addr", "inet_proto", "inet_service" }, true, true },
	[FW_SET_GW_GRANT6] = { "type ipv6_addr . ipv6_addr . inet_proto . inet_service; flags timeout;",
			       { "ipv6_addr", "ipv6_addr", "inet_proto", "inet_service" }, true, false },
	[FW_SET_GW_GRANT6_NET] = { "type ipv6_addr . ipv6_addr . inet_proto . inet_service; flags interval,timeout;",
				   { "ipv6_addr", "ipv6_addr", "inet_proto", "inet_service" }, true, true },
};

/*
 * The rules, in the order DESIGN.md gives: loopback and established traffic
 * first (open sessions outlive their grant), then grants, then the drop.
 * Only TCP and UDP are ever matched; everything else passes untouched.
 */
static const char *const rules_input[] = {
	"iif lo accept",
	"ct state established,related accept",
	"meta l4proto != { tcp, udp } accept",
	"ip saddr . meta l4proto . th dport @local_grant4 counter accept",
	"ip saddr . meta l4proto . th dport @local_grant4_net counter accept",
	"ip6 saddr . meta l4proto . th dport @local_grant6 counter accept",
	"ip6 saddr . meta l4proto . th dport @local_grant6_net counter accept",
	"meta l4proto . th dport @local_protect counter drop",
};

static const char *const rules_forward[] = {
	"ct state established,related accept",
	"meta l4proto != { tcp, udp } accept",
	"ip daddr . ip saddr . meta l4proto . th dport @gw_grant4 counter accept",
	"ip daddr . ip saddr . meta l4proto . th dport @gw_grant4_net counter accept",
	"ip6 daddr . ip6 saddr . meta l4proto . th dport @gw_grant6 counter accept",
	"ip6 daddr . ip6 saddr . meta l4proto . th dport @gw_grant6_net counter accept",
	"ip daddr . meta l4proto . th dport @gw_protect4 counter drop",
	"ip6 daddr . meta l4proto . th dport @gw_protect6 counter drop",
};

static const struct {
	const char *name, *hook;
} chains[] = {
	{ "input", "input" },
	{ "forward", "forward" },
};

/* Copy the first "Error: ..." line of libnftables' error output into err. */
static int
nft_error(struct fw_nft *nft, struct core_error *err, const char *code, const char *what)
{
	const char *text = nft_ctx_get_error_buffer(nft->ctx);
	const char *line = text ? strstr(text, "Error:") : NULL;
	size_t len;

	if (!line)
		line = text && *text ? text : "no reason given";
	len = strcspn(line, "\n");
	core_error_set(err, code, "", "%s: %.*s", what, (int)(len > 200 ? 200 : len), line);
	return strcmp(code, FW_ERR_UNAVAILABLE) ? -EIO : -EOPNOTSUPP;
}

int
fw_nft_open(struct fw_nft **ret, struct core_error *err)
{
	struct fw_nft *nft = calloc(1, sizeof(*nft));
	int r;

	if (!nft)
		return -ENOMEM;
	nft->ctx = nft_ctx_new(NFT_CTX_DEFAULT);
	if (!nft->ctx) {
		free(nft);
		return core_error_set(err, FW_ERR_UNAVAILABLE, "", "libnftables could not create a context"),
		       -EOPNOTSUPP;
	}
	if (nft_ctx_buffer_output(nft->ctx) || nft_ctx_buffer_error(nft->ctx)) {
		nft_ctx_free(nft->ctx);
		free(nft);
		return -ENOMEM;
	}
	r = fw_nft_probe(nft, err);
	if (r < 0) {
		fw_nft_close(nft);
		return r;
	}
	*ret = nft;
	return 0;
}

void
fw_nft_close(struct fw_nft *nft)
{
	if (!nft)
		return;
	nft_ctx_free(nft->ctx);
	free(nft);
}

/* Run a listing command with JSON output and parse it. */
static int
nft_list_json(struct fw_nft *nft, const char *cmd, json_t **ret, struct core_error *err)
{
	json_error_t jerr;
	json_t *root;
	int r;

	nft_ctx_output_set_flags(nft->ctx, NFT_CTX_OUTPUT_JSON);
	r = nft_run_cmd_from_buffer(nft->ctx, cmd);
	nft_ctx_output_set_flags(nft->ctx, 0);
	if (r != 0)
		return nft_error(nft, err, FW_ERR_UNAVAILABLE, "cannot read the nftables ruleset");
	root = json_loads(nft_ctx_get_output_buffer(nft->ctx), 0, &jerr);
	if (!root || !json_is_array(json_object_get(root, "nftables"))) {
		json_decref(root);
		core_error_set(err, FW_ERR_UNAVAILABLE, "", "libnftables gave a listing that is not JSON (%s)",
			       jerr.text);
		return -EIO;
	}
	*ret = root;
	return 0;
}

static int
set_by_name(const char *name)
{
	int s;

	for (s = 0; s < FW_SET_COUNT; s++)
		if (!strcmp(name, fw_set_name(s)))
			return s;
	return -1;
}

static bool
set_is_declared_right(int s, json_t *set)
{
	json_t *type = json_object_get(set, "type"), *flags = json_object_get(set, "flags"), *v;
	bool timeout = false, interval = false;
	size_t i, n = 0;

	while (n < 4 && set_decl[s].types[n])
		n++;
	if (!json_is_array(type) || json_array_size(type) != n)
		return false;
	for (i = 0; i < n; i++)
		if (!json_is_string(json_array_get(type, i)) ||
		    strcmp(json_string_value(json_array_get(type, i)), set_decl[s].types[i]))
			return false;
	if (flags && !json_is_array(flags))
		return false;
	json_array_foreach(flags, i, v) {
		const char *f = json_string_value(v);

		if (f && !strcmp(f, "timeout"))
			timeout = true;
		else if (f && !strcmp(f, "interval"))
			interval = true;
		else
			return false;
	}
	return timeout == set_decl[s].timeout && interval == set_decl[s].interval;
}

static bool
chain_is_declared_right(json_t *chain)
{
	const char *name = json_string_value(json_object_get(chain, "name"));
	const char *hook = json_string_value(json_object_get(chain, "hook"));
	const char *type = json_string_value(json_object_get(chain, "type"));
	const char *policy = json_string_value(json_object_get(chain, "policy"));
	json_t *prio = json_object_get(chain, "prio");
	size_t c;

	for (c = 0; c < sizeof(chains) / sizeof(chains[0]); c++)
		if (name && !strcmp(name, chains[c].name))
			return hook && !strcmp(hook, chains[c].hook) && type && !strcmp(type, "filter") &&
			       policy && !strcmp(policy, "accept") && json_is_integer(prio) &&
			       json_integer_value(prio) == FW_PRIORITY;
	return false;
}

static bool
parse_addr_field(json_t *v, int family, struct net_prefix *ret)
{
	const char *s;
	struct net_prefix p;
	json_t *len;

	if (json_is_string(v)) {
		s = json_string_value(v);
		if (net_prefix_parse(s, strlen(s), &p, NULL) < 0 || !net_prefix_is_single(&p))
			return false;
	} else if (json_is_object(v) && json_is_object(json_object_get(v, "prefix"))) {
		json_t *pre = json_object_get(v, "prefix");
		char text[NET_PREFIX_TEXT_MAX];
		int n;

		s = json_string_value(json_object_get(pre, "addr"));
		len = json_object_get(pre, "len");
		if (!s || !json_is_integer(len))
			return false;
		n = snprintf(text, sizeof(text), "%s/%" JSON_INTEGER_FORMAT, s, json_integer_value(len));
		if (n < 0 || (size_t)n >= sizeof(text) || net_prefix_parse(text, (size_t)n, &p, NULL) < 0)
			return false;
	} else {
		return false;	/* a range that is no prefix: never ours */
	}
	if (p.addr.family != family)
		return false;
	*ret = p;
	return true;
}

static bool
parse_proto_field(json_t *v, uint8_t *ret)
{
	const char *s = json_string_value(v);

	if (s && !strcmp(s, "tcp"))
		*ret = NET_PROTO_TCP;
	else if (s && !strcmp(s, "udp"))
		*ret = NET_PROTO_UDP;
	else if (json_is_integer(v) && (json_integer_value(v) == NET_PROTO_TCP || json_integer_value(v) == NET_PROTO_UDP))
		*ret = (uint8_t)json_integer_value(v);
	else
		return false;
	return true;
}

static bool
parse_port_field(json_t *v, uint16_t *ret)
{
	if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 65535)
		return false;
	*ret = (uint16_t)json_integer_value(v);
	return true;
}

/* One listed element into *e; false if it is nothing we would have written. */
static bool
parse_elem(int s, json_t *item, int64_t now_ms, struct fw_elem *e)
{
	json_t *el = json_object_get(item, "elem"), *val, *concat, *v;
	int family = fw_set_family(s);
	size_t i = 0, want = fw_set_is_grant(s) + fw_set_has_dst(s) + 2;
	const char *comment;

	memset(e, 0, sizeof(*e));
	e->set = s;
	val = el ? json_object_get(el, "val") : item;
	concat = json_object_get(val, "concat");
	if (!json_is_array(concat) || json_array_size(concat) != want)
		return false;
	if (fw_set_has_dst(s)) {
		struct net_prefix d;

		if (!parse_addr_field(json_array_get(concat, i++), family, &d))
			return false;
		e->dst = d.addr;
	}
	if (fw_set_is_grant(s)) {
		if (!parse_addr_field(json_array_get(concat, i++), family, &e->src))
			return false;
		if (!fw_set_is_interval(s) && !net_prefix_is_single(&e->src))
			return false;
	}
	if (!parse_proto_field(json_array_get(concat, i++), &e->proto) ||
	    !parse_port_field(json_array_get(concat, i++), &e->port))
		return false;
	if (!fw_set_is_grant(s))
		return true;
	/* a grant without a timeout never ends: mark it so that reconcile replaces it */
	e->end_ms = INT64_MAX;
	v = el ? json_object_get(el, "expires") : NULL;
	if (!v && el)
		v = json_object_get(el, "timeout");
	if (json_is_integer(v))
		e->end_ms = now_ms + json_integer_value(v) * 1000;
	comment = el ? json_string_value(json_object_get(el, "comment")) : NULL;
	if (comment && strlen(comment) <= FW_REQUEST_ID_MAX)
		memcpy(e->comment, comment, strlen(comment) + 1);
	return true;
}

struct list_acc {
	struct fw_elem *v;
	size_t n, cap;
};

static int
list_push(struct list_acc *acc, const struct fw_elem *e)
{
	if (acc->n == acc->cap) {
		size_t cap = acc->cap ? acc->cap * 2 : 64;
		struct fw_elem *v = reallocarray(acc->v, cap, sizeof(*v));

		if (!v)
			return -ENOMEM;
		acc->v = v;
		acc->cap = cap;
	}
	acc->v[acc->n++] = *e;
	return 0;
}

static bool
table_exists(json_t *root)
{
	json_t *item;
	size_t i;

	json_array_foreach(json_object_get(root, "nftables"), i, item) {
		json_t *t = json_object_get(item, "table");
		const char *fam = json_string_value(json_object_get(t, "family"));
		const char *name = json_string_value(json_object_get(t, "name"));

		if (fam && name && !strcmp(fam, "inet") && !strcmp(name, "jitgate"))
			return true;
	}
	return false;
}

int
fw_nft_list(struct fw_nft *nft, int64_t now_ms, struct fw_elem **ret, size_t *ret_n, bool *ret_ours,
	    struct core_error *err)
{
	json_t *root = NULL, *item;
	struct list_acc acc = { 0 };
	bool seen[FW_SET_COUNT] = { false };
	size_t n_chains = 0, i, k;
	bool ours = true;
	int r, s;

	r = nft_list_json(nft, "list tables inet", &root, err);
	if (r < 0)
		return r;
	if (!table_exists(root)) {
		r = -ENOENT;
		goto out;
	}
	json_decref(root);
	root = NULL;
	r = nft_list_json(nft, "list table " FW_TABLE, &root, err);
	if (r < 0)
		goto out;

	json_array_foreach(json_object_get(root, "nftables"), i, item) {
		const char *kind = json_object_iter_key(json_object_iter(item));
		json_t *obj = json_object_get(item, kind ? kind : "");
		json_t *el;

		if (!kind || !strcmp(kind, "metainfo") || !strcmp(kind, "table") || !strcmp(kind, "rule"))
			continue;
		if (!strcmp(kind, "chain")) {
			n_chains++;
			if (!chain_is_declared_right(obj))
				ours = false;
			continue;
		}
		if (strcmp(kind, "set")) {
			ours = false;	/* maps, counters, flowtables: not ours */
			continue;
		}
		s = set_by_name(json_string_value(json_object_get(obj, "name")) ?: "");
		if (s < 0 || !set_is_declared_right(s, obj)) {
			ours = false;
			continue;
		}
		seen[s] = true;
		json_array_foreach(json_object_get(obj, "elem"), k, el) {
			struct fw_elem e;

			if (!parse_elem(s, el, now_ms, &e)) {
				ours = false;	/* an element we could not have written */
				continue;
			}
			if ((r = list_push(&acc, &e)) < 0)
				goto out;
		}
	}
	for (s = 0; s < FW_SET_COUNT; s++)
		if (!seen[s])
			ours = false;
	if (n_chains != sizeof(chains) / sizeof(chains[0]))
		ours = false;
	if (acc.n)
		qsort(acc.v, acc.n, sizeof(*acc.v), fw_elem_cmp_key);
	*ret = acc.v;
	*ret_n = acc.n;
	*ret_ours = ours;
	acc.v = NULL;
	r = 0;
out:
	free(acc.v);
	json_decref(root);
	return r;
}

static int
put_elem_key(struct buf *b, const struct fw_elem *e)
{
	char text[NET_PREFIX_TEXT_MAX];
	int r;

	if (fw_set_has_dst(e->set)) {
		if (net_addr_format(&e->dst, text, sizeof(text)) < 0)
			return -EINVAL;
		if ((r = buf_printf(b, "%s . ", text)) < 0)
			return r;
	}
	if (fw_set_is_grant(e->set)) {
		if (net_prefix_format(&e->src, text, sizeof(text)) < 0)
			return -EINVAL;
		/* the hash sets hold single addresses; the interval sets want the prefix spelled out */
		if ((r = buf_printf(b, fw_set_is_interval(e->set) && net_prefix_is_single(&e->src) ? "%s/%u . " : "%s . ",
				    text, net_addr_bits(&e->src.addr))) < 0)
			return r;
	}
	return buf_printf(b, "%s . %u", e->proto == NET_PROTO_UDP ? "udp" : "tcp", e->port);
}

static int
put_elem_full(struct buf *b, const struct fw_elem *e, int64_t now_ms)
{
	int64_t timeout;
	int r;

	if ((r = put_elem_key(b, e)) < 0 || !fw_set_is_grant(e->set))
		return r;
	timeout = e->end_ms - now_ms;
	if (timeout < FW_TIMEOUT_MIN_MS)
		timeout = FW_TIMEOUT_MIN_MS;
	if (timeout > FW_TIMEOUT_MAX_MS)
		timeout = FW_TIMEOUT_MAX_MS;
	return buf_printf(b, " timeout %" PRId64 "ms comment \"%s\"", timeout, e->comment);
}

enum pass {
	PASS_TOUCH,	/* "add" the keys we will delete, so a delete never fails on one the kernel expired already */
	PASS_DELETE,
	PASS_ADD,
};

static bool
op_in_pass(enum fw_op_kind kind, enum pass pass)
{
	switch (pass) {
	case PASS_TOUCH:
	case PASS_DELETE:
		return kind == FW_OP_UPDATE || kind == FW_OP_DELETE;
	case PASS_ADD:
		return kind == FW_OP_UPDATE || kind == FW_OP_ADD;
	}
	return false;
}

/* One "add/delete element" command per set and pass, FW_BATCH_ELEMS_MAX elements a line. */
static int
put_ops(struct buf *b, const struct fw_batch *batch, enum pass pass, int64_t now_ms)
{
	int s, r;

	for (s = 0; s < FW_SET_COUNT; s++) {
		size_t i, on_line = 0;

		for (i = 0; i < batch->n_ops; i++) {
			const struct fw_op *op = &batch->ops[i];

			if (op->elem.set != (enum fw_set)s || !op_in_pass(op->kind, pass))
				continue;
			if (on_line == 0)
				r = buf_printf(b, "%s element " FW_TABLE " %s { ", pass == PASS_DELETE ? "delete" : "add",
					       fw_set_name(s));
			else
				r = buf_append(b, ", ", 2);
			if (r < 0)
				return r;
			r = pass == PASS_ADD ? put_elem_full(b, &op->elem, now_ms) : put_elem_key(b, &op->elem);
			if (r < 0)
				return r;
			if (++on_line == FW_BATCH_ELEMS_MAX) {
				if ((r = buf_append(b, " }\n", 3)) < 0)
					return r;
				on_line = 0;
			}
		}
		if (on_line && (r = buf_append(b, " }\n", 3)) < 0)
			return r;
	}
	return 0;
}

/* Declare `table` with our sets and chains, and (re)load our rules into the chains. */
static int
put_structure(struct buf *b, const char *table, bool rebuild)
{
	size_t c, i;
	int s, r;

	if (rebuild && (r = buf_printf(b, "delete table %s\n", table)) < 0)
		return r;
	if ((r = buf_printf(b, "add table %s\n", table)) < 0)
		return r;
	for (s = 0; s < FW_SET_COUNT; s++)
		if ((r = buf_printf(b, "add set %s %s { %s }\n", table, fw_set_name(s), set_decl[s].decl)) < 0)
			return r;
	for (c = 0; c < sizeof(chains) / sizeof(chains[0]); c++) {
		const char *const *rules = c == 0 ? rules_input : rules_forward;
		size_t n = c == 0 ? sizeof(rules_input) / sizeof(*rules_input)
				  : sizeof(rules_forward) / sizeof(*rules_forward);

		r = buf_printf(b,
			       "add chain %s %s { type filter hook %s priority %d; policy accept; }\n"
			       "flush chain %s %s\n",
			       table, chains[c].name, chains[c].hook, FW_PRIORITY, table, chains[c].name);
		if (r < 0)
			return r;
		for (i = 0; i < n; i++)
			if ((r = buf_printf(b, "add rule %s %s %s\n", table, chains[c].name, rules[i])) < 0)
				return r;
	}
	return 0;
}

/*
 * Can this kernel hold our table at all? Declare a copy under another name and
 * delete it in the same batch: the kernel checks every part, and nothing stays.
 */
static int
fw_nft_probe(struct fw_nft *nft, struct core_error *err)
{
	struct buf b = { 0 };
	int r;

	if ((r = put_structure(&b, FW_PROBE_TABLE, false)) < 0 ||
	    (r = buf_printf(&b, "delete table " FW_PROBE_TABLE "\n")) < 0)
		goto out;
	nft_ctx_get_error_buffer(nft->ctx);
	if (nft_run_cmd_from_buffer(nft->ctx, b.data) != 0)
		r = nft_error(nft, err, FW_ERR_UNAVAILABLE, "this kernel cannot hold jitgate's nftables table");
out:
	buf_free(&b);
	return r;
}

int
fw_nft_apply(struct fw_nft *nft, const struct fw_batch *batch, int64_t now_ms, struct core_error *err)
{
	struct buf b = { 0 };
	int r;

	if (batch->ensure && (r = put_structure(&b, FW_TABLE, batch->rebuild)) < 0)
		goto out;
	if ((r = put_ops(&b, batch, PASS_TOUCH, now_ms)) < 0 || (r = put_ops(&b, batch, PASS_DELETE, now_ms)) < 0 ||
	    (r = put_ops(&b, batch, PASS_ADD, now_ms)) < 0)
		goto out;
	if (b.len == 0)
		goto out;
	nft_ctx_get_error_buffer(nft->ctx);	/* drop any earlier error text */
	if (nft_run_cmd_from_buffer(nft->ctx, b.data) != 0)
		r = nft_error(nft, err, FW_ERR_REJECTED, "the kernel refused the change, nothing was applied");
out:
	buf_free(&b);
	return r;
}

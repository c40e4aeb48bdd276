/*
 * The kernel side of fw: table inet jitgate, changed through libnftables (one
 * atomic batch of nft commands). fw-nft-list.c reads it back.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nftables/libnftables.h>

#include "core/buf.h"
#include "core/timeutil.h"
#include "fw-nft-internal.h"

#define FW_PROBE_TABLE	"inet jitgate_probe"

static int fw_nft_probe(struct fw_nft *nft, struct core_error *err);

struct fw_nft {
	struct nft_ctx *ctx;	/* NULL once fw_nft_rest() let it go, until the next batch */
	int64_t used_ms;	/* when a batch last used ctx (monotonic) */
};

/* How each set is declared; fw_nft_list() checks the kernel's sets against the same layout (key_layout_of). */
static const char *const set_decl[FW_SET_COUNT] = {
	[FW_SET_LOCAL_PROTECT] = "type inet_proto . inet_service;",
	[FW_SET_GW_PROTECT4] = "type ipv4_addr . inet_proto . inet_service;",
	[FW_SET_GW_PROTECT6] = "type ipv6_addr . inet_proto . inet_service;",
	[FW_SET_LOCAL_GRANT4] = "type ipv4_addr . inet_proto . inet_service; flags timeout;",
	[FW_SET_LOCAL_GRANT4_NET] = "type ipv4_addr . inet_proto . inet_service; flags interval,timeout;",
	[FW_SET_LOCAL_GRANT6] = "type ipv6_addr . inet_proto . inet_service; flags timeout;",
	[FW_SET_LOCAL_GRANT6_NET] = "type ipv6_addr . inet_proto . inet_service; flags interval,timeout;",
	[FW_SET_GW_GRANT4] = "type ipv4_addr . ipv4_addr . inet_proto . inet_service; flags timeout;",
	[FW_SET_GW_GRANT4_NET] = "type ipv4_addr . ipv4_addr . inet_proto . inet_service; flags interval,timeout;",
	[FW_SET_GW_GRANT6] = "type ipv6_addr . ipv6_addr . inet_proto . inet_service; flags timeout;",
	[FW_SET_GW_GRANT6_NET] = "type ipv6_addr . ipv6_addr . inet_proto . inet_service; flags interval,timeout;",
	[FW_SET_DNAT_GRANT4] = "type ipv4_addr . ipv4_addr . inet_proto . inet_service; flags timeout;",
	[FW_SET_DNAT_GRANT4_NET] = "type ipv4_addr . ipv4_addr . inet_proto . inet_service; flags interval,timeout;",
	[FW_SET_DNAT_GRANT6] = "type ipv6_addr . ipv6_addr . inet_proto . inet_service; flags timeout;",
	[FW_SET_DNAT_GRANT6_NET] = "type ipv6_addr . ipv6_addr . inet_proto . inet_service; flags interval,timeout;",
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

/*
 * Gateway DNAT: a packet to a public address and mapped port whose source a
 * timed dnat_grant element names is DNATed through the map of the mappings
 * (put_dnat_rules); nothing else is touched. Once DNATed it meets the forward
 * chain's grant for the VM itself like any routed packet.
 */
static const char *const dnat_match[FW_NET_FAMILIES][2] = {
	{ "ip daddr . ip saddr . meta l4proto . th dport @dnat_grant4", "ip daddr . ip saddr . meta l4proto . th dport @dnat_grant4_net" },
	{ "ip6 daddr . ip6 saddr . meta l4proto . th dport @dnat_grant6", "ip6 daddr . ip6 saddr . meta l4proto . th dport @dnat_grant6_net" },
};

const struct fw_nft_chain fw_nft_chains[FW_NFT_CHAINS] = {
	{ "input", "input", "filter", FW_PRIORITY },
	{ "forward", "forward", "filter", FW_PRIORITY },
	{ "prerouting", "prerouting", "nat", FW_NAT_PRIORITY },
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

/* The libnftables context for the next batch, unless one is held. */
static int
ctx_get(struct fw_nft *nft, struct core_error *err)
{
	if (nft->ctx)
		return 0;
	nft->ctx = nft_ctx_new(NFT_CTX_DEFAULT);
	if (!nft->ctx)
		return core_error_set(err, FW_ERR_UNAVAILABLE, "", "libnftables could not create a context"),
		       -EOPNOTSUPP;
	if (nft_ctx_buffer_output(nft->ctx) || nft_ctx_buffer_error(nft->ctx)) {
		nft_ctx_free(nft->ctx);
		nft->ctx = NULL;
		return -ENOMEM;
	}
	return 0;
}

/* After a batch (and its error text read): the context is kept for the next one, its idle time counted from now. */
static void
ctx_done(struct fw_nft *nft)
{
	nft->used_ms = time_mono_ms();
}

int64_t
fw_nft_rest(struct fw_nft *nft, int64_t now_ms, int64_t idle_ms)
{
	if (!nft || !nft->ctx)
		return INT64_MAX;
	if (now_ms - nft->used_ms < idle_ms)
		return nft->used_ms + idle_ms;
	nft_ctx_free(nft->ctx);
	nft->ctx = NULL;
	return INT64_MAX;
}

int
fw_nft_open(struct fw_nft **ret, struct core_error *err)
{
	struct fw_nft *nft = calloc(1, sizeof(*nft));
	int r;

	if (!nft)
		return -ENOMEM;
	if ((r = ctx_get(nft, err)) < 0) {
		free(nft);
		return r;
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
	if (nft->ctx)
		nft_ctx_free(nft->ctx);
	free(nft);
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

/* The map of one family's mappings, "{ pub . tcp . 50022 : 10.1.0.4 . 22, ... }"; 0 with nothing written if none. */
static int
put_dnat_map(struct buf *b, const struct fw_dnat *v, size_t n, uint8_t family)
{
	char pub[NET_PREFIX_TEXT_MAX], to[NET_PREFIX_TEXT_MAX];
	size_t i, k = 0;
	int r;

	for (i = 0; i < n; i++) {
		if (v[i].pub.family != family)
			continue;
		if (net_addr_format(&v[i].pub, pub, sizeof(pub)) < 0 || net_addr_format(&v[i].to, to, sizeof(to)) < 0)
			return -EINVAL;
		if ((r = buf_printf(b, "%s%s . %s . %u : %s . %u", k ? ", " : "{ ", pub,
				    v[i].proto == NET_PROTO_UDP ? "udp" : "tcp", v[i].mapped, to, v[i].port)) < 0)
			return r;
		k++;
	}
	return k ? buf_append(b, " }", 2) : 0;
}

/* The nat chain's rules: per family with mappings, one for single sources and one for prefixes (an empty map cannot be written). */
static int
put_dnat_rules(struct buf *b, const char *table, const struct fw_dnat *v, size_t n)
{
	struct buf map = { 0 };
	size_t f, k;
	int r = 0;

	for (f = 0; f < FW_NET_FAMILIES; f++) {
		map.len = 0;
		if ((r = put_dnat_map(&map, v, n, f == 0 ? NET_INET : NET_INET6)) < 0)
			goto out;
		if (map.len == 0)
			continue;
		for (k = 0; k < 2; k++)
			if ((r = buf_printf(b, "add rule %s prerouting %s counter dnat %s to %s daddr . meta l4proto . th dport map %.*s\n",
					    table, dnat_match[f][k], f == 0 ? "ip" : "ip6", f == 0 ? "ip" : "ip6",
					    (int)map.len, map.data)) < 0)
				goto out;
	}
out:
	buf_free(&map);
	return r;
}

/* Declare `table` with our sets and chains, and (re)load our rules (and DNAT map) into the chains. */
static int
put_structure(struct buf *b, const char *table, bool rebuild, const struct fw_dnat *dnat, size_t n_dnat)
{
	size_t c, i;
	int s, r;

	if (rebuild && (r = buf_printf(b, "delete table %s\n", table)) < 0)
		return r;
	if ((r = buf_printf(b, "add table %s\n", table)) < 0)
		return r;
	for (s = 0; s < FW_SET_COUNT; s++)
		if ((r = buf_printf(b, "add set %s %s { %s }\n", table, fw_set_name(s), set_decl[s])) < 0)
			return r;
	for (c = 0; c < FW_NFT_CHAINS; c++) {
		const char *const *rules = c == 0 ? rules_input : rules_forward;
		size_t n = c == 0 ? sizeof(rules_input) / sizeof(*rules_input)
			 : c == 1 ? sizeof(rules_forward) / sizeof(*rules_forward) : 0;

		r = buf_printf(b,
			       "add chain %s %s { type %s hook %s priority %d; policy accept; }\n"
			       "flush chain %s %s\n",
			       table, fw_nft_chains[c].name, fw_nft_chains[c].type, fw_nft_chains[c].hook,
			       fw_nft_chains[c].priority, table, fw_nft_chains[c].name);
		if (r < 0)
			return r;
		for (i = 0; i < n; i++)
			if ((r = buf_printf(b, "add rule %s %s %s\n", table, fw_nft_chains[c].name, rules[i])) < 0)
				return r;
	}
	return put_dnat_rules(b, table, dnat, n_dnat);
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

	if ((r = put_structure(&b, FW_PROBE_TABLE, false, NULL, 0)) < 0 ||
	    (r = buf_printf(&b, "delete table " FW_PROBE_TABLE "\n")) < 0)
		goto out;
	nft_ctx_get_error_buffer(nft->ctx);
	if (nft_run_cmd_from_buffer(nft->ctx, b.data) != 0)
		r = nft_error(nft, err, FW_ERR_UNAVAILABLE, "this kernel cannot hold jitgate's nftables table");
	ctx_done(nft);
out:
	buf_free(&b);
	return r;
}

int
fw_nft_apply(struct fw_nft *nft, const struct fw_batch *batch, int64_t now_ms, struct core_error *err)
{
	struct buf b = { 0 };
	int r, s;

	if (batch->ensure && (r = put_structure(&b, FW_TABLE, batch->rebuild, batch->dnat, batch->n_dnat)) < 0)
		goto out;
	for (s = 0; s < FW_SET_COUNT; s++)
		if (batch->flush[s] && (r = buf_printf(&b, "flush set " FW_TABLE " %s\n", fw_set_name(s))) < 0)
			goto out;
	if ((r = put_ops(&b, batch, PASS_TOUCH, now_ms)) < 0 || (r = put_ops(&b, batch, PASS_DELETE, now_ms)) < 0 ||
	    (r = put_ops(&b, batch, PASS_ADD, now_ms)) < 0)
		goto out;
	if (b.len == 0 || (r = ctx_get(nft, err)) < 0)
		goto out;
	nft_ctx_get_error_buffer(nft->ctx);	/* drop any earlier error text */
	if (nft_run_cmd_from_buffer(nft->ctx, b.data) != 0)
		r = nft_error(nft, err, FW_ERR_REJECTED, "the kernel refused the change, nothing was applied");
	ctx_done(nft);
out:
	buf_free(&b);
	return r;
}

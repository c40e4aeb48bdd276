/* Reading table inet jitgate back for fw-nft.c's context: libnftnl over one netlink socket, streamed. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/gen.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include "core/buf.h"
#include "fw-nft-internal.h"

#define FW_LIST_BUF_SIZE	(64 * 1024)	/* netlink receive buffer for reading the table (a dump message fits) */
#define FW_LIST_ATTEMPTS	3		/* reads of the table while others keep changing the ruleset */
#define FW_LIST_TORN_WAIT_MS	100		/* before reading again a set whose dump came out torn */

/*
 * ---- Reading the table back: libnftnl over one netlink socket, streamed ----
 *
 * libnftables would build its whole cache of the table to list it (with
 * 100,000 grants: seconds and hundreds of MB, terse output or not). So the
 * table, its chains, its sets and each set's elements are dumped with
 * libnftnl, one netlink message at a time, and each element goes straight
 * into a struct fw_elem: memory is the result array and one receive buffer.
 */

/* nftables' datatype ids (its datatype.h): a set's key type is their concatenation, 6 bits each. */
#define NFT_TYPE_IPADDR		7
#define NFT_TYPE_IP6ADDR	8
#define NFT_TYPE_INET_PROTOCOL	12
#define NFT_TYPE_INET_SERVICE	13
#define NFT_TYPE_BITS		6
#define NFT_REG32_BYTES		4	/* every field of a concatenated key is padded to this */

/* Field sizes of a set's key, in the order of the key (dst address, src address, protocol, port). */
struct key_layout {
	size_t n;
	uint32_t type[4];
	size_t len[4];		/* bytes of each field before padding */
	size_t off[4];		/* where each starts in the key */
	size_t total;		/* padded, as the kernel keeps it */
};

static void
key_layout_of(int s, struct key_layout *k)
{
	int family = fw_set_family(s);
	uint32_t addr_type = family == NET_INET6 ? NFT_TYPE_IP6ADDR : NFT_TYPE_IPADDR;
	size_t addr_len = family == NET_INET6 ? 16 : 4, i;

	memset(k, 0, sizeof(*k));
	if (fw_set_has_dst(s)) {
		k->type[k->n] = addr_type;
		k->len[k->n++] = addr_len;
	}
	if (fw_set_is_grant(s)) {
		k->type[k->n] = addr_type;
		k->len[k->n++] = addr_len;
	}
	k->type[k->n] = NFT_TYPE_INET_PROTOCOL;
	k->len[k->n++] = 1;
	k->type[k->n] = NFT_TYPE_INET_SERVICE;
	k->len[k->n++] = 2;
	for (i = 0; i < k->n; i++) {
		k->off[i] = k->total;
		k->total += (k->len[i] + NFT_REG32_BYTES - 1) / NFT_REG32_BYTES * NFT_REG32_BYTES;
	}
}

struct list_acc {
	struct fw_elem *v;
	size_t n, cap;
	int64_t now_ms;
	bool ours;			/* false once anything is not what we create */
	bool seen[FW_SET_COUNT];	/* sets found, declared as we declare them */
	size_t n_chains;		/* ours, declared right */
	int set;			/* the set whose elements are being read */
	struct key_layout key;		/* ... and its key */
	int err;			/* -ENOMEM from a callback */
};

static int
list_push(struct list_acc *acc, const struct fw_elem *e)
{
	struct fw_elem *v = array_grow(acc->v, &acc->cap, acc->n, sizeof(*v));

	if (!v)
		return -ENOMEM;
	acc->v = v;
	acc->v[acc->n++] = *e;
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

/* One netlink dump (or get with an ack): send the request built in buf, hand every answer to cb. */
static int
nl_run(struct mnl_socket *nl, char *buf, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	uint32_t seq = nlh->nlmsg_seq, portid = mnl_socket_get_portid(nl);
	ssize_t n;
	int rc;

	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	do {
		n = mnl_socket_recvfrom(nl, buf, FW_LIST_BUF_SIZE);
		if (n < 0)
			return -errno;
		rc = mnl_cb_run(buf, (size_t)n, seq, portid, cb, data);
	} while (rc > MNL_CB_STOP);
	return rc < 0 ? -errno : 0;
}

/*
 * Some dumps (chains, on many kernels) list every table of the family, not just
 * the one asked for: each message is checked for our table's name, which every
 * nf_tables object message carries in its attribute 1.
 */
_Static_assert((int)NFTA_CHAIN_TABLE == (int)NFTA_TABLE_NAME && (int)NFTA_SET_TABLE == (int)NFTA_TABLE_NAME &&
		       (int)NFTA_SET_ELEM_LIST_TABLE == (int)NFTA_TABLE_NAME &&
		       (int)NFTA_OBJ_TABLE == (int)NFTA_TABLE_NAME && (int)NFTA_FLOWTABLE_TABLE == (int)NFTA_TABLE_NAME,
	       "attribute 1 names the table in every object message");

static int
table_attr_cb(const struct nlattr *a, void *data)
{
	const char **name = data;

	if (mnl_attr_get_type(a) == NFTA_TABLE_NAME && mnl_attr_validate(a, MNL_TYPE_NUL_STRING) >= 0)
		*name = mnl_attr_get_str(a);
	return MNL_CB_OK;
}

static bool
in_our_table(const struct nlmsghdr *nlh)
{
	const char *name = NULL;

	mnl_attr_parse(nlh, sizeof(struct nfgenmsg), table_attr_cb, &name);
	return name && !strcmp(name, FW_TABLE_NAME);
}

static int
table_cb(const struct nlmsghdr *nlh, void *data)
{
	struct list_acc *acc = data;
	struct nftnl_table *t = nftnl_table_alloc();

	if (!t)
		return acc->err = -ENOMEM, MNL_CB_ERROR;
	/* a dormant table (or any flag we never set) does nothing: someone switched it off */
	if (nftnl_table_nlmsg_parse(nlh, t) < 0 || nftnl_table_get_u32(t, NFTNL_TABLE_FLAGS) != 0)
		acc->ours = false;
	nftnl_table_free(t);
	return MNL_CB_OK;
}

static int
chain_cb(const struct nlmsghdr *nlh, void *data)
{
	static const uint32_t hooks[FW_NFT_CHAINS] = { NF_INET_LOCAL_IN, NF_INET_FORWARD, NF_INET_PRE_ROUTING };	/* fw_nft_chains[] order */
	struct list_acc *acc = data;
	struct nftnl_chain *c;
	const char *name, *type;
	size_t i;

	if (!in_our_table(nlh))
		return MNL_CB_OK;	/* another table's chain */
	if (!(c = nftnl_chain_alloc()))
		return acc->err = -ENOMEM, MNL_CB_ERROR;
	if (nftnl_chain_nlmsg_parse(nlh, c) < 0)
		goto not_ours;
	name = nftnl_chain_get_str(c, NFTNL_CHAIN_NAME);
	type = nftnl_chain_get_str(c, NFTNL_CHAIN_TYPE);
	for (i = 0; i < sizeof(fw_nft_chains) / sizeof(fw_nft_chains[0]); i++)
		if (name && !strcmp(name, fw_nft_chains[i].name))
			break;
	if (i == sizeof(fw_nft_chains) / sizeof(fw_nft_chains[0]) || !nftnl_chain_is_set(c, NFTNL_CHAIN_HOOKNUM) ||
	    nftnl_chain_get_u32(c, NFTNL_CHAIN_HOOKNUM) != hooks[i] || !type || strcmp(type, fw_nft_chains[i].type) ||
	    nftnl_chain_get_s32(c, NFTNL_CHAIN_PRIO) != fw_nft_chains[i].priority ||
	    nftnl_chain_get_u32(c, NFTNL_CHAIN_POLICY) != NF_ACCEPT)
		goto not_ours;
	acc->n_chains++;
	nftnl_chain_free(c);
	return MNL_CB_OK;
not_ours:
	acc->ours = false;
	nftnl_chain_free(c);
	return MNL_CB_OK;
}

static int
set_cb(const struct nlmsghdr *nlh, void *data)
{
	struct list_acc *acc = data;
	struct nftnl_set *set;
	struct key_layout k;
	uint32_t flags, want_flags, type = 0;
	const char *name;
	size_t i;
	int s;

	if (!in_our_table(nlh))
		return MNL_CB_OK;
	if (!(set = nftnl_set_alloc()))
		return acc->err = -ENOMEM, MNL_CB_ERROR;
	if (nftnl_set_nlmsg_parse(nlh, set) < 0)
		goto not_ours;
	flags = nftnl_set_get_u32(set, NFTNL_SET_FLAGS);
	if (flags & NFT_SET_ANONYMOUS)
		goto done;	/* the inline "{ tcp, udp }" of our own rules */
	name = nftnl_set_get_str(set, NFTNL_SET_NAME);
	if (!name || (s = set_by_name(name)) < 0)
		goto not_ours;
	key_layout_of(s, &k);
	for (i = 0; i < k.n; i++)
		type = type << NFT_TYPE_BITS | k.type[i];
	want_flags = (fw_set_is_grant(s) ? NFT_SET_TIMEOUT : 0) |
		     (fw_set_is_interval(s) ? NFT_SET_INTERVAL | NFT_SET_CONCAT : 0);
	if ((flags & ~NFT_SET_CONCAT) != (want_flags & ~NFT_SET_CONCAT) ||
	    nftnl_set_get_u32(set, NFTNL_SET_KEY_TYPE) != type || nftnl_set_get_u32(set, NFTNL_SET_KEY_LEN) != k.total)
		goto not_ours;
	acc->seen[s] = true;
	goto done;
not_ours:
	acc->ours = false;
done:
	nftnl_set_free(set);
	return MNL_CB_OK;
}

/* Any object or flowtable in our table is something we never make. */
static int
foreign_cb(const struct nlmsghdr *nlh, void *data)
{
	struct list_acc *acc = data;

	if (in_our_table(nlh))
		acc->ours = false;
	return MNL_CB_OK;
}

/* [lo, hi] as one prefix, if it is exactly one. */
static bool
range_prefix(int family, const uint8_t *lo, const uint8_t *hi, struct net_prefix *ret)
{
	size_t bytes = family == NET_INET6 ? 16 : 4, i, len = 0;
	bool host = false;

	memset(ret, 0, sizeof(*ret));
	ret->addr.family = (uint8_t)family;
	memcpy(ret->addr.bytes, lo, bytes);
	for (i = 0; i < bytes * 8; i++) {
		unsigned a = lo[i / 8] >> (7 - i % 8) & 1, b = hi[i / 8] >> (7 - i % 8) & 1;

		if (!host && a == b) {
			len++;
			continue;
		}
		host = true;	/* from here on: lo all 0, hi all 1 */
		if (a != 0 || b != 1)
			return false;
	}
	ret->len = (uint8_t)len;
	return true;
}

static int
comment_cb(const struct nftnl_udata *attr, void *data)
{
	const char *v = nftnl_udata_get(attr);
	size_t n = nftnl_udata_len(attr);
	char *comment = data;

	/* the kernel keeps what we wrote: the request id and its NUL */
	if (nftnl_udata_type(attr) == NFTNL_UDATA_SET_ELEM_COMMENT && n >= 1 && n <= FW_REQUEST_ID_MAX + 1 &&
	    v[n - 1] == '\0' && strlen(v) == n - 1)
		memcpy(comment, v, n);
	return MNL_CB_OK;
}

/* One kernel element into *e; false if it is nothing we would have written. */
static bool
parse_elem(const struct list_acc *acc, struct nftnl_set_elem *ne, struct fw_elem *e)
{
	const struct key_layout *k = &acc->key;
	int s = acc->set, family = fw_set_family(s);
	const uint8_t *key, *end = NULL, *f;
	uint32_t len = 0, end_len = 0, udata_len = 0;
	const void *udata;
	size_t i = 0;

	memset(e, 0, sizeof(*e));
	e->set = s;
	key = nftnl_set_elem_get(ne, NFTNL_SET_ELEM_KEY, &len);
	if (!key || len != k->total)
		return false;
	if (nftnl_set_elem_is_set(ne, NFTNL_SET_ELEM_FLAGS) && nftnl_set_elem_get_u32(ne, NFTNL_SET_ELEM_FLAGS) != 0)
		return false;	/* an interval end of a set layout we never use */
	if (fw_set_is_interval(s)) {
		end = nftnl_set_elem_get(ne, NFTNL_SET_ELEM_KEY_END, &end_len);
		if (!end || end_len != k->total)
			return false;
		/* only the source is a range; every other field is one value */
		for (i = 0; i < k->n; i++)
			if (i != (size_t)fw_set_has_dst(s) && memcmp(key + k->off[i], end + k->off[i], k->len[i]))
				return false;
		i = 0;
	}
	if (fw_set_has_dst(s)) {
		e->dst.family = (uint8_t)family;
		memcpy(e->dst.bytes, key + k->off[i++], k->len[0]);
	}
	if (fw_set_is_grant(s)) {
		if (end) {
			if (!range_prefix(family, key + k->off[i], end + k->off[i], &e->src))
				return false;
		} else {
			e->src.addr.family = (uint8_t)family;
			memcpy(e->src.addr.bytes, key + k->off[i], k->len[i]);
			e->src.len = (uint8_t)(k->len[i] * 8);
		}
		i++;
	}
	e->proto = key[k->off[i++]];
	if (e->proto != NET_PROTO_TCP && e->proto != NET_PROTO_UDP)
		return false;
	f = key + k->off[i];
	e->port = (uint16_t)(f[0] << 8 | f[1]);
	if (e->port == 0)
		return false;
	if (!fw_set_is_grant(s))
		return true;
	/* a grant without a timeout never ends: mark it so that reconcile replaces it */
	e->end_ms = INT64_MAX;
	if (nftnl_set_elem_is_set(ne, NFTNL_SET_ELEM_EXPIRATION))
		e->end_ms = acc->now_ms + (int64_t)nftnl_set_elem_get_u64(ne, NFTNL_SET_ELEM_EXPIRATION);
	else if (nftnl_set_elem_is_set(ne, NFTNL_SET_ELEM_TIMEOUT))
		e->end_ms = acc->now_ms + (int64_t)nftnl_set_elem_get_u64(ne, NFTNL_SET_ELEM_TIMEOUT);
	udata = nftnl_set_elem_get(ne, NFTNL_SET_ELEM_USERDATA, &udata_len);
	if (udata)
		nftnl_udata_parse(udata, udata_len, comment_cb, e->comment);
	return true;
}

static int
elem_one(struct nftnl_set_elem *ne, void *data)
{
	struct list_acc *acc = data;
	struct fw_elem e;

	if (!parse_elem(acc, ne, &e)) {
		acc->ours = false;	/* an element we could not have written */
		return 0;
	}
	if ((acc->err = list_push(acc, &e)) < 0)
		return -1;
	return 0;
}

/* One message of a set's elements: parsed into a throwaway set, converted, freed. */
static int
elems_cb(const struct nlmsghdr *nlh, void *data)
{
	struct list_acc *acc = data;
	struct nftnl_set *set;
	int r = MNL_CB_OK;

	if (!in_our_table(nlh))
		return MNL_CB_OK;
	if (!(set = nftnl_set_alloc()))
		return acc->err = -ENOMEM, MNL_CB_ERROR;
	if (nftnl_set_elems_nlmsg_parse(nlh, set) < 0)
		acc->ours = false;
	else if (nftnl_set_elem_foreach(set, elem_one, acc) < 0)
		r = MNL_CB_ERROR;
	nftnl_set_free(set);
	return r;
}

/* A request for table inet jitgate's `what` (a dump unless it is the table itself). */
static struct nlmsghdr *
list_request(char *buf, uint16_t type, uint32_t seq, const char *set_name)
{
	struct nlmsghdr *nlh;
	uint16_t flags = type == NFT_MSG_GETTABLE ? NLM_F_ACK : NLM_F_DUMP;

	nlh = nftnl_nlmsg_build_hdr(buf, type, NFPROTO_INET, flags, seq);
	if (type == NFT_MSG_GETTABLE || type == NFT_MSG_GETCHAIN || type == NFT_MSG_GETOBJ ||
	    type == NFT_MSG_GETFLOWTABLE) {
		/* these dumps take the table from the same attribute the table's get does */
		mnl_attr_put_strz(nlh, NFTA_TABLE_NAME, FW_TABLE_NAME);
	} else {
		struct nftnl_set *set = nftnl_set_alloc();

		if (!set)
			return NULL;
		nftnl_set_set_str(set, NFTNL_SET_TABLE, FW_TABLE_NAME);
		if (set_name)
			nftnl_set_set_str(set, NFTNL_SET_NAME, set_name);
		if (type == NFT_MSG_GETSETELEM)
			nftnl_set_elems_nlmsg_build_payload(nlh, set);
		else
			nftnl_set_nlmsg_build_payload(nlh, set);
		nftnl_set_free(set);
	}
	return nlh;
}

/* The ruleset's generation: it moves with every committed change, so equal ids around a listing mean one snapshot. */
static int
gen_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nftnl_gen *g = nftnl_gen_alloc();
	uint32_t *id = data;

	if (!g) {
		errno = ENOMEM;
		return MNL_CB_ERROR;
	}
	if (nftnl_gen_nlmsg_parse(nlh, g) == 0)
		*id = nftnl_gen_get_u32(g, NFTNL_GEN_ID);
	nftnl_gen_free(g);
	return MNL_CB_OK;
}

static int
read_gen(struct mnl_socket *nl, char *buf, uint32_t seq, uint32_t *ret)
{
	struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETGEN, AF_UNSPEC, NLM_F_ACK, seq);

	return nl_run(nl, buf, nlh, gen_cb, ret);
}

/*
 * One dump into acc. -ENOENT for the table itself means there is none; later on
 * it means something vanished mid-read, which counts as a change (-EINTR), as
 * does the kernel's own flag that the table changed during a dump.
 */
static int
list_step(struct mnl_socket *nl, char *buf, uint32_t seq, uint16_t type, const char *set_name, mnl_cb_t cb,
	  struct list_acc *acc, struct core_error *err)
{
	struct nlmsghdr *nlh = list_request(buf, type, seq, set_name);
	int r;

	if (!nlh)
		return -ENOMEM;
	r = nl_run(nl, buf, nlh, cb, acc);
	if (r < 0 && acc->err)
		r = acc->err;
	if (r == -ENOENT && type != NFT_MSG_GETTABLE)
		r = -EINTR;
	if (r < 0 && r != -ENOENT && r != -EINTR && r != -ENOMEM)
		core_error_set(err, FW_ERR_UNAVAILABLE, "", "cannot read %s%s of table %s: %s",
			       set_name ? "the elements of set " : "the sets and chains", set_name ? set_name : "", FW_TABLE,
			       strerror(-r));
	return r;
}

/* One read of the whole table into acc: the table, its chains and sets, foreign objects, then each set's elements. */
static int
list_once(struct mnl_socket *nl, char *buf, uint32_t *seq, struct list_acc *acc, struct core_error *err)
{
	static const struct {
		uint16_t type;
		mnl_cb_t cb;
	} steps[] = {
		{ NFT_MSG_GETTABLE, table_cb }, { NFT_MSG_GETCHAIN, chain_cb }, { NFT_MSG_GETSET, set_cb },
		{ NFT_MSG_GETOBJ, foreign_cb }, { NFT_MSG_GETFLOWTABLE, foreign_cb },
	};
	size_t i;
	int r, s;

	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
		if ((r = list_step(nl, buf, ++*seq, steps[i].type, NULL, steps[i].cb, acc, err)) < 0)
			return r;
	for (s = 0; s < FW_SET_COUNT; s++) {
		if (!acc->seen[s]) {
			acc->ours = false;	/* one of our sets is missing or declared otherwise */
			continue;
		}
		acc->set = s;
		key_layout_of(s, &acc->key);
		if ((r = list_step(nl, buf, ++*seq, NFT_MSG_GETSETELEM, fw_set_name(s), elems_cb, acc, err)) < 0)
			return r;
	}
	if (acc->n_chains != sizeof(fw_nft_chains) / sizeof(fw_nft_chains[0]))
		acc->ours = false;
	return 0;
}

/* Does a sorted listing hold a key twice? */
static bool
list_has_repeats(const struct fw_elem *v, size_t n)
{
	size_t i;

	for (i = 1; i < n; i++)
		if (!fw_elem_cmp_key(&v[i - 1], &v[i]))
			return true;
	return false;
}

int
fw_nft_list(struct fw_nft *nft, int64_t now_ms, struct fw_elem **ret, size_t *ret_n, bool *ret_ours,
	    struct core_error *err)
{
	struct list_acc acc = { 0 };
	struct mnl_socket *nl = NULL;
	uint32_t seq = (uint32_t)now_ms, gen0 = 0, gen1 = 0;
	char *buf = NULL;
	int r = -EINTR, attempt;

	(void)nft;
	buf = malloc(FW_LIST_BUF_SIZE);
	nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
	if (!buf || !nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		r = buf ? -errno : -ENOMEM;
		core_error_set(err, FW_ERR_UNAVAILABLE, "", "cannot open a netlink socket to read the table: %s",
			       strerror(-r));
		goto out;
	}
	/*
	 * Several dumps make one listing: read again when the ruleset changed meanwhile (its
	 * generation moved). Any change counts, also to other tables; after the last try the
	 * listing is used as it is, since the batch built from it is atomic and the tamper
	 * monitor reports later changes to our table.
	 */
	for (attempt = 0; attempt < FW_LIST_ATTEMPTS && r == -EINTR; attempt++) {
		free(acc.v);
		memset(&acc, 0, sizeof(acc));
		acc.now_ms = now_ms;
		acc.ours = true;
		if ((r = read_gen(nl, buf, ++seq, &gen0)) < 0 || (r = list_once(nl, buf, &seq, &acc, err)) < 0 ||
		    (r = read_gen(nl, buf, ++seq, &gen1)) < 0)
			continue;
		if (acc.n)
			qsort(acc.v, acc.n, sizeof(*acc.v), fw_elem_cmp_key);
		if (gen0 != gen1 && attempt + 1 < FW_LIST_ATTEMPTS)
			r = -EINTR;
		/*
		 * A set's elements come in several dump messages, each resuming by position in
		 * the set's hash table; when the table is resized in between (it grows and
		 * shrinks in the background after large loads), the positions move, and some
		 * elements come twice while as many others are missed. Repeats show it: read
		 * again once the resize is likely over. After the last try the caller treats
		 * the sets with repeats as unknown (fw_elems_unique).
		 */
		if (r == 0 && attempt + 1 < FW_LIST_ATTEMPTS && list_has_repeats(acc.v, acc.n)) {
			struct timespec ts = { 0, FW_LIST_TORN_WAIT_MS * 1000000L };

			nanosleep(&ts, NULL);
			r = -EINTR;
		}
	}
	if (r == -EINTR)
		core_error_set(err, FW_ERR_UNAVAILABLE, "", "table %s changed during each of %d reads",
			       FW_TABLE, FW_LIST_ATTEMPTS);
	if (r < 0)
		goto out;
	*ret = acc.v;
	*ret_n = acc.n;
	*ret_ours = acc.ours;
	acc.v = NULL;
out:
	if (nl)
		mnl_socket_close(nl);
	free(buf);
	free(acc.v);
	return r;
}

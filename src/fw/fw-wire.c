/* Checking conversions between fw.h's structs and the helper's wire records (fw-wire.h), shared by both ends. */
#include <errno.h>
#include <string.h>

#include "fw-wire.h"

static bool
bytes_are_zero(const void *p, size_t n)
{
	const uint8_t *b = p;
	size_t i;

	for (i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

static bool
proto_is_valid(unsigned p)
{
	return p == NET_PROTO_ANY || p == NET_PROTO_TCP || p == NET_PROTO_UDP;
}

/* A whole address: a known family, IPv4 with bytes 4..15 zero. */
static bool
addr_is_valid(const struct net_addr *a)
{
	if (a->family == NET_INET6)
		return true;
	return a->family == NET_INET && bytes_are_zero(a->bytes + 4, 12);
}

static int
vm_check(const struct fw_wire_vm *w)
{
	size_t i;

	if (!bytes_are_zero(w->pad, sizeof(w->pad)))
		return -EINVAL;
	if (w->point == FW_POINT_LOCAL) {
		if (w->n_addrs != 0)
			return -EINVAL;
	} else if (w->point != FW_POINT_GATEWAY || w->n_addrs < 1 || w->n_addrs > FW_VM_ADDRS_MAX) {
		return -EINVAL;
	}
	for (i = 0; i < FW_VM_ADDRS_MAX; i++) {
		struct net_addr a = { .family = w->addrs[i].family };

		memcpy(a.bytes, w->addrs[i].bytes, sizeof(a.bytes));
		if (i >= w->n_addrs ? !bytes_are_zero(&w->addrs[i], sizeof(w->addrs[i])) : !addr_is_valid(&a))
			return -EINVAL;
	}
	return 0;
}

int
fw_wire_vm_encode(const struct fw_vm *v, struct fw_wire_vm *ret, struct core_error *err)
{
	size_t i, n = v->point == FW_POINT_GATEWAY ? v->n_addrs : 0;

	memset(ret, 0, sizeof(*ret));
	ret->id = v->id;
	ret->point = (uint8_t)v->point;
	if (v->point != FW_POINT_LOCAL && v->point != FW_POINT_GATEWAY)
		ret->point = 0xff;
	ret->n_addrs = (uint8_t)(n > FW_VM_ADDRS_MAX ? 0 : n);
	for (i = 0; i < ret->n_addrs; i++) {
		ret->addrs[i].family = v->addrs[i].family;
		memcpy(ret->addrs[i].bytes, v->addrs[i].bytes, sizeof(ret->addrs[i].bytes));
	}
	if (vm_check(ret) < 0)
		return core_error_set(err, FW_ERR_INVALID, "vm", "VM %llu: bad enforcement point or addresses",
				      (unsigned long long)v->id);
	return 0;
}

int
fw_wire_vm_decode(const struct fw_wire_vm *w, struct fw_vm *ret)
{
	size_t i;

	if (vm_check(w) < 0)
		return -EINVAL;
	memset(ret, 0, sizeof(*ret));
	ret->id = w->id;
	ret->point = w->point == FW_POINT_GATEWAY ? FW_POINT_GATEWAY : FW_POINT_LOCAL;
	ret->n_addrs = w->n_addrs;
	for (i = 0; i < w->n_addrs; i++) {
		ret->addrs[i].family = w->addrs[i].family;
		memcpy(ret->addrs[i].bytes, w->addrs[i].bytes, sizeof(ret->addrs[i].bytes));
	}
	return 0;
}

/* A DNAT mapping on the wire: none (all zero), or a family, a port and an address with no bytes beyond it. */
static bool
dnat_is_valid(uint8_t family, uint16_t port, const uint8_t addr[16])
{
	if (family == 0)
		return port == 0 && bytes_are_zero(addr, 16);
	if (family == NET_INET)
		return port != 0 && bytes_are_zero(addr + 4, 12);
	return family == NET_INET6 && port != 0;
}

static void
dnat_decode(uint8_t family, uint16_t port, const uint8_t addr[16], struct net_addr *ret_addr, uint16_t *ret_port)
{
	memset(ret_addr, 0, sizeof(*ret_addr));
	ret_addr->family = family;
	memcpy(ret_addr->bytes, addr, sizeof(ret_addr->bytes));
	*ret_port = port;
}

static int
port_check(const struct fw_wire_port *w)
{
	if (!bytes_are_zero(w->pad2, sizeof(w->pad2)) || !proto_is_valid(w->proto) || w->port == 0 ||
	    !dnat_is_valid(w->dnat_family, w->dnat_port, w->dnat_addr))
		return -EINVAL;
	return 0;
}

int
fw_wire_port_encode(const struct fw_port *p, struct fw_wire_port *ret, struct core_error *err)
{
	memset(ret, 0, sizeof(*ret));
	ret->vm = p->vm;
	ret->proto = proto_is_valid(p->proto) ? (uint8_t)p->proto : 0xff;
	ret->port = p->port;
	ret->dnat_family = p->dnat_addr.family;
	ret->dnat_port = p->dnat_port;
	memcpy(ret->dnat_addr, p->dnat_addr.bytes, sizeof(ret->dnat_addr));
	if (port_check(ret) < 0)
		return core_error_set(err, FW_ERR_INVALID, "port", "protected port %u of VM %llu: bad port or protocol",
				      p->port, (unsigned long long)p->vm);
	return 0;
}

int
fw_wire_port_decode(const struct fw_wire_port *w, struct fw_port *ret)
{
	if (port_check(w) < 0)
		return -EINVAL;
	memset(ret, 0, sizeof(*ret));
	ret->vm = w->vm;
	ret->proto = (enum net_proto)w->proto;
	ret->port = w->port;
	dnat_decode(w->dnat_family, w->dnat_port, w->dnat_addr, &ret->dnat_addr, &ret->dnat_port);
	return 0;
}

static int
grant_check(const struct fw_wire_grant *w, bool ref, int64_t now_ms)
{
	const void *nul = memchr(w->request_id, '\0', sizeof(w->request_id));
	size_t len;

	if (w->pad || !bytes_are_zero(w->pad2, sizeof(w->pad2)) || !bytes_are_zero(w->pad3, sizeof(w->pad3)) ||
	    !dnat_is_valid(w->dnat_family, w->dnat_port, w->dnat_addr))
		return -EINVAL;
	if (!proto_is_valid(w->proto) || w->port == 0 || w->any > 1)
		return -EINVAL;
	if (w->any) {
		if (w->family || w->prefix_len || !bytes_are_zero(w->addr, sizeof(w->addr)))
			return -EINVAL;
	} else {
		struct net_prefix p = { .addr.family = w->family, .len = w->prefix_len };

		memcpy(p.addr.bytes, w->addr, sizeof(p.addr.bytes));
		if (!net_prefix_is_valid(&p))
			return -EINVAL;
	}
	/* both bounds keep end - now far from overflow in fw-model.c's arithmetic */
	if (w->end_ms > now_ms + FW_TIMEOUT_MAX_MS + FW_WIRE_CLOCK_SLACK_MS)
		return -EINVAL;
	if (ref ? w->end_ms < 0 : w->end_ms < now_ms - FW_WIRE_PAST_MS)
		return -EINVAL;
	if (!nul)
		return -EINVAL;
	len = (size_t)((const char *)nul - w->request_id);
	if (!bytes_are_zero(w->request_id + len, sizeof(w->request_id) - len) || !fw_request_id_is_valid(w->request_id))
		return -EINVAL;
	return 0;
}

int
fw_wire_grant_encode(const struct fw_grant *g, bool ref, int64_t now_ms, struct fw_wire_grant *ret,
		     struct core_error *err)
{
	size_t len = strnlen(g->request_id, sizeof(g->request_id));

	memset(ret, 0, sizeof(*ret));
	ret->vm = g->vm;
	ret->any = g->source.any ? 1 : 0;
	if (!g->source.any) {
		ret->family = g->source.prefix.addr.family;
		ret->prefix_len = g->source.prefix.len;
		memcpy(ret->addr, g->source.prefix.addr.bytes, sizeof(ret->addr));
	}
	ret->proto = proto_is_valid(g->proto) ? (uint8_t)g->proto : 0xff;
	ret->port = g->port;
	ret->end_ms = g->end_ms;
	ret->dnat_family = g->dnat_addr.family;
	ret->dnat_port = g->dnat_port;
	memcpy(ret->dnat_addr, g->dnat_addr.bytes, sizeof(ret->dnat_addr));
	if (len < sizeof(ret->request_id))
		memcpy(ret->request_id, g->request_id, len);
	else
		ret->request_id[0] = '\0';
	if (grant_check(ret, ref, now_ms) < 0)
		return core_error_set(err, FW_ERR_INVALID, "grant",
				      "grant %.64s for port %u of VM %llu: bad port, protocol, source, end time or request id",
				      ret->request_id[0] && fw_request_id_is_valid(ret->request_id) ? ret->request_id : "(bad id)",
				      g->port, (unsigned long long)g->vm);
	return 0;
}

int
fw_wire_grant_decode(const struct fw_wire_grant *w, bool ref, int64_t now_ms, struct fw_grant *ret)
{
	if (grant_check(w, ref, now_ms) < 0)
		return -EINVAL;
	memset(ret, 0, sizeof(*ret));
	ret->vm = w->vm;
	ret->source.any = w->any;
	if (!w->any) {
		ret->source.prefix.addr.family = w->family;
		ret->source.prefix.len = w->prefix_len;
		memcpy(ret->source.prefix.addr.bytes, w->addr, sizeof(w->addr));
	}
	ret->proto = (enum net_proto)w->proto;
	ret->port = w->port;
	ret->end_ms = w->end_ms;
	memcpy(ret->request_id, w->request_id, sizeof(ret->request_id));
	dnat_decode(w->dnat_family, w->dnat_port, w->dnat_addr, &ret->dnat_addr, &ret->dnat_port);
	return 0;
}

static bool
string_is_terminated(const char *s, size_t size)
{
	return memchr(s, '\0', size) != NULL;
}

bool
fw_wire_reply_is_valid(const struct fw_wire_reply *w)
{
	return w->status <= 0 && w->rebuilt <= 1 && bytes_are_zero(w->pad, sizeof(w->pad)) &&
	       string_is_terminated(w->err.code, sizeof(w->err.code)) &&
	       string_is_terminated(w->err.target, sizeof(w->err.target)) &&
	       string_is_terminated(w->err.message, sizeof(w->err.message));
}

bool
fw_wire_tamper_is_valid(const struct fw_wire_tamper *w)
{
	return w->tampered <= 1 && w->overflow <= 1 && bytes_are_zero(w->pad, sizeof(w->pad)) &&
	       string_is_terminated(w->name, sizeof(w->name));
}

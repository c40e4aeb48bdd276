/* fw_connect()'s context, the client end of the firewall helper: fw.h's calls sent as fw-wire.h messages, and the helper's tamper reports. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "fw-internal.h"
#include "fw-wire.h"

struct fw_remote {
	struct fw base;		/* first: the struct fw * that fw.c hands back is this context */
	int fd;
	bool dead;			/* the helper is gone or broke the protocol: every call fails */
	uint64_t seq;			/* of the last transfer */
	bool has_tamper;		/* a report that arrived while we waited for a reply */
	struct fw_tamper tamper;
	uint8_t *buf;			/* FW_WIRE_MSG_MAX */
};

static const struct fw_ops remote_ops;

static struct fw_remote *
to_remote(struct fw *fw)
{
	return (struct fw_remote *)fw;
}

static void fw_remote_close(struct fw_remote *r);

static int
gone(struct fw_remote *r, struct core_error *err)
{
	if (!r->dead && r->fd >= 0)
		shutdown(r->fd, SHUT_RDWR);	/* a helper that is alive but misbehaving sees EOF and exits */
	r->dead = true;
	return core_error_set(err, FW_ERR_UNAVAILABLE, "",
			      "the firewall helper is not running (it is being restarted); nothing was changed"),
	       -EPIPE;
}

static void
tamper_merge(struct fw_remote *r, const struct fw_wire_tamper *w)
{
	if (!w->tampered)
		return;
	r->tamper.tampered = true;
	r->tamper.overflow = r->tamper.overflow || w->overflow;
	r->tamper.pid = w->pid;
	memcpy(r->tamper.name, w->name, sizeof(r->tamper.name));
	r->has_tamper = true;
}

/*
 * Receive one message into r->buf. Returns its type, 0 when nothing waits
 * (nonblocking only), or -EPIPE when the helper is gone or sent something malformed.
 */
static int
recv_msg(struct fw_remote *r, bool block, struct fw_wire_hdr *ret_hdr)
{
	struct iovec iov = { r->buf, FW_WIRE_MSG_MAX };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (r->dead)
		return -EPIPE;
	if (block) {
		struct pollfd p = { .fd = r->fd, .events = POLLIN };
		int k;

		do
			k = poll(&p, 1, FW_WIRE_REPLY_TIMEOUT_MS);
		while (k < 0 && errno == EINTR);
		if (k <= 0)
			return -EPIPE;
	}
	do
		n = recvmsg(r->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return block ? -EPIPE : 0;
	if (n <= 0 || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || (size_t)n < sizeof(*ret_hdr))
		return -EPIPE;
	memcpy(ret_hdr, r->buf, sizeof(*ret_hdr));
	if (ret_hdr->len != (size_t)n - sizeof(*ret_hdr))
		return -EPIPE;
	if (ret_hdr->type == FW_WIRE_TAMPER) {
		struct fw_wire_tamper t;

		if (ret_hdr->len != sizeof(t))
			return -EPIPE;
		memcpy(&t, r->buf + sizeof(*ret_hdr), sizeof(t));
		if (!fw_wire_tamper_is_valid(&t))
			return -EPIPE;
		tamper_merge(r, &t);
	}
	return (int)ret_hdr->type;
}

/* Wait for a HELLO or REPLY with this seq; tamper reports on the way are kept for fw_remote_events_read. */
static int
recv_reply(struct fw_remote *r, uint32_t type, uint64_t seq, struct fw_wire_reply *ret)
{
	struct fw_wire_hdr h;
	int t;

	for (;;) {
		t = recv_msg(r, true, &h);
		if (t < 0)
			return t;
		if (t == FW_WIRE_TAMPER)
			continue;
		if ((uint32_t)t != type || h.seq != seq || h.len != sizeof(*ret))
			return -EPIPE;
		memcpy(ret, r->buf + sizeof(h), sizeof(*ret));
		return fw_wire_reply_is_valid(ret) ? 0 : -EPIPE;
	}
}

static int
send_msg(struct fw_remote *r, uint32_t type, const void *payload, size_t len)
{
	struct fw_wire_hdr h = { .type = type, .len = (uint32_t)len, .seq = r->seq };
	ssize_t n;

	memcpy(r->buf, &h, sizeof(h));
	if (len)
		memcpy(r->buf + sizeof(h), payload, len);
	do
		n = send(r->fd, r->buf, sizeof(h) + len, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n == (ssize_t)(sizeof(h) + len) ? 0 : -EPIPE;
}

int
fw_remote_open(int fd, struct fw **ret, struct core_error *err)
{
	struct fw_remote *r = calloc(1, sizeof(*r));
	struct timeval tv = { .tv_sec = FW_WIRE_REPLY_TIMEOUT_MS / 1000 };
	struct fw_wire_reply hello;
	int e;

	if (!r || !(r->buf = malloc(FW_WIRE_MSG_MAX))) {
		free(r);
		close(fd);
		return -ENOMEM;
	}
	r->fd = fd;
	/* a helper that stops reading must not hang the daemon: sends give up too */
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	e = recv_reply(r, FW_WIRE_HELLO, 0, &hello);
	if (e < 0) {
		gone(r, err);
		core_error_set(err, FW_ERR_UNAVAILABLE, "", "the firewall helper did not start");
		fw_remote_close(r);
		return -EPIPE;
	}
	if (hello.status < 0) {
		if (err)
			*err = hello.err;
		fw_remote_close(r);
		return hello.status;
	}
	r->base.ops = &remote_ops;
	*ret = &r->base;
	return 0;
}

static void
fw_remote_close(struct fw_remote *r)
{
	if (!r)
		return;
	if (r->fd >= 0)
		close(r->fd);
	free(r->buf);
	free(r);
}

static void
fw_remote_free(struct fw *fw)
{
	fw_remote_close(to_remote(fw));
}

static int
fw_remote_events_fd(const struct fw *fw)
{
	return ((const struct fw_remote *)fw)->fd;
}

static int
fw_remote_events_read(struct fw *fw, struct fw_tamper *ret)
{
	struct fw_remote *r = to_remote(fw);
	struct fw_wire_hdr h;
	int t;

	while ((t = recv_msg(r, false, &h)) > 0)
		if (t != FW_WIRE_TAMPER) {
			t = -EPIPE;	/* nothing else may arrive unasked */
			break;
		}
	memset(ret, 0, sizeof(*ret));
	if (r->has_tamper)
		*ret = r->tamper;
	r->has_tamper = false;
	memset(&r->tamper, 0, sizeof(r->tamper));
	if (t < 0) {
		gone(r, NULL);
		return -EPIPE;
	}
	return 0;
}

/* Send n records of `size` bytes, encoded by `enc`, in chunks of at most `per` records. */
static int
send_records(struct fw_remote *r, uint32_t type, const void *items, size_t n, size_t item_size, size_t size,
	     size_t per, int (*enc)(const void *item, void *out, int64_t now, struct core_error *err), int64_t now,
	     struct core_error *err)
{
	uint8_t *chunk = malloc(per * size);
	size_t i = 0, k;
	int e = 0;

	if (!chunk)
		return -ENOMEM;
	while (i < n) {
		size_t m = n - i < per ? n - i : per;

		for (k = 0; k < m; k++)
			if ((e = enc((const uint8_t *)items + (i + k) * item_size, chunk + k * size, now, err)) < 0)
				goto out;
		if ((e = send_msg(r, type, chunk, m * size)) < 0)
			goto out;
		i += m;
	}
out:
	free(chunk);
	return e;
}

static int
enc_vm(const void *item, void *out, int64_t now, struct core_error *err)
{
	return fw_wire_vm_encode(item, out, err);
}

static int
enc_port(const void *item, void *out, int64_t now, struct core_error *err)
{
	return fw_wire_port_encode(item, out, err);
}

static int
enc_grant(const void *item, void *out, int64_t now, struct core_error *err)
{
	return fw_wire_grant_encode(item, false, now, out, err);
}

static int
enc_ref(const void *item, void *out, int64_t now, struct core_error *err)
{
	return fw_wire_grant_encode(item, true, now, out, err);
}

/* Check every record before the first byte goes out: a transfer is never abandoned halfway for a bad record. */
static int
check_all(const struct fw_state *st, const struct fw_grant *refs, size_t n_refs, int64_t now, struct core_error *err)
{
	union {
		struct fw_wire_vm vm;
		struct fw_wire_port port;
		struct fw_wire_grant grant;
	} w;
	size_t i;
	int e;

	if (st->n_vms > FW_WIRE_VMS_MAX || st->n_ports > FW_WIRE_PORTS_MAX || st->n_grants > FW_WIRE_GRANTS_MAX ||
	    n_refs > FW_WIRE_GRANTS_MAX)
		return core_error_set(err, FW_ERR_INVALID, "", "more VMs, ports or grants than the firewall helper takes"),
		       -E2BIG;
	for (i = 0; i < st->n_vms; i++)
		if ((e = fw_wire_vm_encode(&st->vms[i], &w.vm, err)) < 0)
			return e;
	for (i = 0; i < st->n_ports; i++)
		if ((e = fw_wire_port_encode(&st->ports[i], &w.port, err)) < 0)
			return e;
	for (i = 0; i < st->n_grants; i++)
		if ((e = fw_wire_grant_encode(&st->grants[i], false, now, &w.grant, err)) < 0)
			return e;
	for (i = 0; i < n_refs; i++)
		if ((e = fw_wire_grant_encode(&refs[i], true, now, &w.grant, err)) < 0)
			return e;
	return 0;
}

static int
fw_remote_call(struct fw_remote *r, enum fw_wire_op op, const struct fw_state *st, const struct fw_grant *refs,
	       size_t n_refs, struct fw_changes *ret_changes, size_t *ret_killed, struct core_error *err)
{
	struct fw_wire_begin b = { .op = op, .n_vms = st->n_vms, .n_ports = st->n_ports, .n_grants = st->n_grants,
				   .n_refs = n_refs };
	struct fw_wire_reply rep;
	int64_t now = time_now_ms();
	int e;

	if (r->dead)
		return gone(r, err);
	if ((e = check_all(st, refs, n_refs, now, err)) < 0)
		return e;
	r->seq++;
	if (send_msg(r, FW_WIRE_BEGIN, &b, sizeof(b)) < 0 ||
	    send_records(r, FW_WIRE_VMS, st->vms, st->n_vms, sizeof(*st->vms), sizeof(struct fw_wire_vm),
			 FW_WIRE_CHUNK_VMS, enc_vm, now, err) < 0 ||
	    send_records(r, FW_WIRE_PORTS, st->ports, st->n_ports, sizeof(*st->ports), sizeof(struct fw_wire_port),
			 FW_WIRE_CHUNK_PORTS, enc_port, now, err) < 0 ||
	    send_records(r, FW_WIRE_GRANTS, st->grants, st->n_grants, sizeof(*st->grants),
			 sizeof(struct fw_wire_grant), FW_WIRE_CHUNK_GRANTS, enc_grant, now, err) < 0 ||
	    send_records(r, FW_WIRE_REFS, refs, n_refs, sizeof(*refs), sizeof(struct fw_wire_grant),
			 FW_WIRE_CHUNK_GRANTS, enc_ref, now, err) < 0 ||
	    send_msg(r, FW_WIRE_COMMIT, NULL, 0) < 0 || recv_reply(r, FW_WIRE_REPLY, r->seq, &rep) < 0)
		return gone(r, err);	/* half a transfer cannot be taken back: the helper must start afresh */
	if (rep.status < 0) {
		if (err)
			*err = rep.err;
		return rep.status;
	}
	if (ret_changes)
		*ret_changes = (struct fw_changes){ .added = rep.added, .removed = rep.removed, .updated = rep.updated,
						    .kept = rep.kept, .rebuilt = rep.rebuilt };
	if (ret_killed)
		*ret_killed = rep.killed;
	return 0;
}

static int
fw_remote_reconcile(struct fw *fw, const struct fw_state *desired, struct fw_changes *ret_changes,
		    struct core_error *err)
{
	return fw_remote_call(to_remote(fw), FW_WIRE_OP_RECONCILE, desired, NULL, 0, ret_changes, NULL, err);
}

/* The helper gets a copy, so the arrays are freed here, as fw_reconcile_take() promises. */
static int
fw_remote_reconcile_take(struct fw *fw, struct fw_vm *vms, size_t n_vms, struct fw_port *ports, size_t n_ports,
			 struct fw_grant *grants, size_t n_grants, struct fw_changes *ret_changes,
			 struct core_error *err)
{
	struct fw_state st = { vms, n_vms, ports, n_ports, grants, n_grants };
	int r;

	r = fw_remote_call(to_remote(fw), FW_WIRE_OP_RECONCILE, &st, NULL, 0, ret_changes, NULL, err);
	free(vms);
	free(ports);
	free(grants);
	return r;
}

static int
fw_remote_set_state(struct fw *fw, const struct fw_state *desired, struct fw_changes *ret_changes,
		    struct core_error *err)
{
	return fw_remote_call(to_remote(fw), FW_WIRE_OP_SET_STATE, desired, NULL, 0, ret_changes, NULL, err);
}

/* The helper keeps its own grants (those of VMs still named): only the VMs and ports go. */
static int
fw_remote_protect_set(struct fw *fw, const struct fw_vm *vms, size_t n_vms, const struct fw_port *ports,
		      size_t n_ports, struct fw_changes *ret_changes, struct core_error *err)
{
	struct fw_state next = { vms, n_vms, ports, n_ports, NULL, 0 };

	return fw_remote_call(to_remote(fw), FW_WIRE_OP_PROTECT_SET, &next, NULL, 0, ret_changes, NULL, err);
}

static int
fw_remote_grant_update(struct fw *fw, const struct fw_grant *add, size_t n_add, const struct fw_grant *remove,
		       size_t n_remove, struct fw_changes *ret_changes, struct core_error *err)
{
	struct fw_state st = { NULL, 0, NULL, 0, add, n_add };

	return fw_remote_call(to_remote(fw), FW_WIRE_OP_GRANT_UPDATE, &st, remove, n_remove, ret_changes, NULL, err);
}

static int
fw_remote_sessions_kill(struct fw *fw, const struct fw_grant *grants, size_t n, size_t *ret_killed,
			struct core_error *err)
{
	struct fw_state none = { 0 };

	return fw_remote_call(to_remote(fw), FW_WIRE_OP_SESSIONS_KILL, &none, grants, n, NULL, ret_killed, err);
}

static int
fw_remote_list(struct fw *fw, struct fw_elem **ret, size_t *ret_n, struct core_error *err)
{
	return core_error_set(err, FW_ERR_UNAVAILABLE, "", "the firewall helper does not list the table"),
	       -EOPNOTSUPP;
}

static const struct fw_ops remote_ops = {
	.reconcile = fw_remote_reconcile,
	.reconcile_take = fw_remote_reconcile_take,
	.set_state = fw_remote_set_state,
	.protect_set = fw_remote_protect_set,
	.grant_update = fw_remote_grant_update,
	.sessions_kill = fw_remote_sessions_kill,
	.list = fw_remote_list,
	.events_fd = fw_remote_events_fd,
	.events_read = fw_remote_events_read,
	.free = fw_remote_free,
};

/* The firewall helper's loop: takes fw-wire.h transfers from the daemon, checks every byte, and applies them. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fw-model.h"
#include "fw-wire.h"

#define HELPER_TAMPER_RETRY_MS 100	/* a tamper report the client's queue had no room for is sent again */

/* One transfer being received: BEGIN's promises and the records so far. */
struct transfer {
	bool open;
	uint64_t seq;
	struct fw_wire_begin begin;
	uint32_t section;		/* the chunk type being received; VMS..REFS, never backwards */
	struct fw_vm *vms;
	struct fw_port *ports;
	struct fw_grant *grants, *refs;
	size_t n_vms, n_ports, n_grants, n_refs;
};

struct helper {
	int fd;
	struct fw *fw;
	struct fw_monitor *mon;
	uint64_t last_seq;
	struct transfer t;
	bool tamper_pending;
	struct fw_tamper tamper;
	uint8_t *buf;
};

static void
transfer_reset(struct transfer *t)
{
	free(t->vms);
	free(t->ports);
	free(t->grants);
	free(t->refs);
	memset(t, 0, sizeof(*t));
}

static int
send_msg(struct helper *h, uint32_t type, uint64_t seq, const void *payload, size_t len, int flags)
{
	struct fw_wire_hdr hdr = { .type = type, .len = (uint32_t)len, .seq = seq };
	uint8_t msg[sizeof(hdr) + sizeof(struct fw_wire_reply)];
	ssize_t n;

	memcpy(msg, &hdr, sizeof(hdr));
	memcpy(msg + sizeof(hdr), payload, len);
	do
		n = send(h->fd, msg, sizeof(hdr) + len, MSG_NOSIGNAL | flags);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return n == (ssize_t)(sizeof(hdr) + len) ? 0 : -EIO;
}

static int
send_reply(struct helper *h, uint32_t type, uint64_t seq, int status, const struct fw_changes *ch, size_t killed,
	   const struct core_error *err)
{
	struct fw_wire_reply rep;

	memset(&rep, 0, sizeof(rep));
	rep.status = status < 0 ? status : 0;
	if (ch) {
		rep.added = ch->added;
		rep.removed = ch->removed;
		rep.updated = ch->updated;
		rep.kept = ch->kept;
		rep.rebuilt = ch->rebuilt ? 1 : 0;
	}
	rep.killed = killed;
	if (status < 0) {
		/* copied field by field, cut and terminated: the client checks that every string ends */
		snprintf(rep.err.code, sizeof(rep.err.code), "%s", err->code);
		snprintf(rep.err.target, sizeof(rep.err.target), "%s", err->target);
		snprintf(rep.err.message, sizeof(rep.err.message), "%s", err->message);
	}
	return send_msg(h, type, seq, &rep, sizeof(rep), 0);
}

/* Try to pass the pending tamper report on; a full queue leaves it pending, merged with later ones. */
static int
flush_tamper(struct helper *h)
{
	struct fw_wire_tamper w;
	int r;

	if (!h->tamper_pending)
		return 0;
	memset(&w, 0, sizeof(w));
	w.tampered = 1;
	w.overflow = h->tamper.overflow ? 1 : 0;
	w.pid = (int32_t)h->tamper.pid;
	snprintf(w.name, sizeof(w.name), "%s", h->tamper.name);
	r = send_msg(h, FW_WIRE_TAMPER, 0, &w, sizeof(w), MSG_DONTWAIT);
	if (r == -EAGAIN || r == -EWOULDBLOCK)
		return 0;
	if (r < 0)
		return r;
	h->tamper_pending = false;
	memset(&h->tamper, 0, sizeof(h->tamper));
	return 0;
}

static int
on_monitor(struct helper *h)
{
	struct fw_tamper t;

	if (fw_monitor_read(h->mon, &t) < 0 || !t.tampered)
		return 0;
	h->tamper.tampered = true;
	h->tamper.overflow = h->tamper.overflow || t.overflow;
	h->tamper.pid = t.pid;
	memcpy(h->tamper.name, t.name, sizeof(h->tamper.name));
	h->tamper_pending = true;
	return flush_tamper(h);
}

/* Which of BEGIN's counts an operation may use: bit 0 vms, 1 ports, 2 grants, 3 refs. */
static unsigned
op_sections(uint32_t op)
{
	switch (op) {
	case FW_WIRE_OP_RECONCILE:
	case FW_WIRE_OP_SET_STATE:
		return 1 | 2 | 4;
	case FW_WIRE_OP_PROTECT_SET:
		return 1 | 2;
	case FW_WIRE_OP_GRANT_UPDATE:
		return 4 | 8;
	case FW_WIRE_OP_SESSIONS_KILL:
		return 8;
	default:
		return 0;
	}
}

static int
on_begin(struct helper *h, const struct fw_wire_hdr *hdr, const uint8_t *p)
{
	struct transfer *t = &h->t;
	const struct fw_wire_begin *b = &t->begin;
	unsigned sec;

	if (t->open || hdr->len != sizeof(*b) || hdr->seq != h->last_seq + 1)
		return -EBADMSG;
	memcpy(&t->begin, p, sizeof(t->begin));
	sec = op_sections(b->op);
	if (!sec || b->pad || b->n_vms > FW_WIRE_VMS_MAX || b->n_ports > FW_WIRE_PORTS_MAX ||
	    b->n_grants > FW_WIRE_GRANTS_MAX || b->n_refs > FW_WIRE_GRANTS_MAX)
		return -EBADMSG;
	if ((!(sec & 1) && b->n_vms) || (!(sec & 2) && b->n_ports) || (!(sec & 4) && b->n_grants) ||
	    (!(sec & 8) && b->n_refs))
		return -EBADMSG;
	t->open = true;
	t->seq = hdr->seq;
	t->section = FW_WIRE_VMS;
	/* room for everything promised, allocated only as records arrive */
	return 0;
}

/* Grow *v (of n records) by k more of `size` bytes; the promised total bounds it. */
static int
grow(void **v, size_t n, size_t k, size_t size)
{
	void *nv = reallocarray(*v, n + k, size);

	if (!nv)
		return -ENOMEM;
	*v = nv;
	return 0;
}

static int
on_chunk(struct helper *h, const struct fw_wire_hdr *hdr, const uint8_t *p)
{
	struct transfer *t = &h->t;
	size_t size, k, i, *n, total;
	int64_t now = time_now_ms();
	int r;

	if (!t->open || hdr->seq != t->seq || hdr->type < t->section)
		return -EBADMSG;
	/* a section is left only once it is complete */
	if ((t->n_vms != t->begin.n_vms && hdr->type > FW_WIRE_VMS) ||
	    (t->n_ports != t->begin.n_ports && hdr->type > FW_WIRE_PORTS) ||
	    (t->n_grants != t->begin.n_grants && hdr->type > FW_WIRE_GRANTS))
		return -EBADMSG;
	t->section = hdr->type;
	switch (hdr->type) {
	case FW_WIRE_VMS:
		size = sizeof(struct fw_wire_vm), n = &t->n_vms, total = t->begin.n_vms;
		break;
	case FW_WIRE_PORTS:
		size = sizeof(struct fw_wire_port), n = &t->n_ports, total = t->begin.n_ports;
		break;
	case FW_WIRE_GRANTS:
		size = sizeof(struct fw_wire_grant), n = &t->n_grants, total = t->begin.n_grants;
		break;
	default:
		size = sizeof(struct fw_wire_grant), n = &t->n_refs, total = t->begin.n_refs;
		break;
	}
	if (hdr->len == 0 || hdr->len % size)
		return -EBADMSG;
	k = hdr->len / size;
	if (k > total - *n)
		return -EBADMSG;
	for (i = 0; i < k; i++) {
		const uint8_t *rec = p + i * size;

		switch (hdr->type) {
		case FW_WIRE_VMS: {
			struct fw_wire_vm w;

			memcpy(&w, rec, sizeof(w));
			if ((i == 0 && (r = grow((void **)&t->vms, *n, k, sizeof(*t->vms))) < 0))
				return r;
			if (fw_wire_vm_decode(&w, &t->vms[*n + i]) < 0)
				return -EBADMSG;
			break;
		}
		case FW_WIRE_PORTS: {
			struct fw_wire_port w;

			memcpy(&w, rec, sizeof(w));
			if ((i == 0 && (r = grow((void **)&t->ports, *n, k, sizeof(*t->ports))) < 0))
				return r;
			if (fw_wire_port_decode(&w, &t->ports[*n + i]) < 0)
				return -EBADMSG;
			break;
		}
		default: {
			struct fw_wire_grant w;
			bool ref = hdr->type == FW_WIRE_REFS;
			struct fw_grant **v = ref ? &t->refs : &t->grants;

			memcpy(&w, rec, sizeof(w));
			if ((i == 0 && (r = grow((void **)v, *n, k, sizeof(**v))) < 0))
				return r;
			if (fw_wire_grant_decode(&w, ref, now, &(*v)[*n + i]) < 0)
				return -EBADMSG;
			break;
		}
		}
	}
	*n += k;
	return 0;
}

static int
on_commit(struct helper *h, const struct fw_wire_hdr *hdr)
{
	struct transfer *t = &h->t;
	struct fw_state st = { t->vms, t->n_vms, t->ports, t->n_ports, t->grants, t->n_grants };
	struct fw_changes ch = { 0 };
	struct core_error err;
	size_t killed = 0;
	int r;

	if (!t->open || hdr->seq != t->seq || hdr->len != 0 || t->n_vms != t->begin.n_vms ||
	    t->n_ports != t->begin.n_ports || t->n_grants != t->begin.n_grants || t->n_refs != t->begin.n_refs)
		return -EBADMSG;
	memset(&err, 0, sizeof(err));
	switch (t->begin.op) {
	case FW_WIRE_OP_RECONCILE:
		r = fw_reconcile(h->fw, &st, &ch, &err);
		break;
	case FW_WIRE_OP_SET_STATE:
		r = fw_set_state(h->fw, &st, &ch, &err);
		break;
	case FW_WIRE_OP_PROTECT_SET:
		r = fw_protect_set(h->fw, t->vms, t->n_vms, t->ports, t->n_ports, &ch, &err);
		break;
	case FW_WIRE_OP_GRANT_UPDATE:
		r = fw_grant_update(h->fw, t->grants, t->n_grants, t->refs, t->n_refs, &ch, &err);
		break;
	default:
		r = fw_sessions_kill(h->fw, t->refs, t->n_refs, &killed, &err);
		break;
	}
	h->last_seq = t->seq;
	transfer_reset(t);
	return send_reply(h, FW_WIRE_REPLY, h->last_seq, r, &ch, killed, &err) < 0 ? -EIO : 0;
}

/* One message from the client: 1 when it closed the socket, -EBADMSG when malformed, -EIO, or 0. */
static int
on_input(struct helper *h)
{
	struct iovec iov = { h->buf, FW_WIRE_MSG_MAX };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct fw_wire_hdr hdr;
	ssize_t n;

	/* no control buffer: a message carrying file descriptors arrives with MSG_CTRUNC, and the kernel closes them */
	do
		n = recvmsg(h->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -EIO;
	if (n == 0)
		return 1;
	if ((mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || (size_t)n < sizeof(hdr))
		return -EBADMSG;
	memcpy(&hdr, h->buf, sizeof(hdr));
	if (hdr.len != (size_t)n - sizeof(hdr))
		return -EBADMSG;
	switch (hdr.type) {
	case FW_WIRE_BEGIN:
		return on_begin(h, &hdr, h->buf + sizeof(hdr));
	case FW_WIRE_VMS:
	case FW_WIRE_PORTS:
	case FW_WIRE_GRANTS:
	case FW_WIRE_REFS:
		return on_chunk(h, &hdr, h->buf + sizeof(hdr));
	case FW_WIRE_COMMIT:
		return on_commit(h, &hdr);
	default:
		return -EBADMSG;
	}
}

int
fw_helper_run(int fd)
{
	struct helper h;
	struct core_error err, merr;
	int r, status = FW_HELPER_EXIT_OK;

	memset(&h, 0, sizeof(h));
	memset(&err, 0, sizeof(err));
	memset(&merr, 0, sizeof(merr));
	h.fd = fd;
	h.buf = malloc(FW_WIRE_MSG_MAX);
	if (!h.buf)
		return FW_HELPER_EXIT_NOMEM;
	r = fw_new(&h.fw, &err);
	/* the monitor comes before the greeting, so that the client's first reconcile misses nothing */
	if (r == 0 && fw_monitor_open(&h.mon, &merr) < 0) {
		fprintf(stderr, "jitgated: firewall helper: cannot watch the kernel table for tampering (periodic "
				"reconcile only): %s\n", merr.message);
		h.mon = NULL;
	}
	if (send_reply(&h, FW_WIRE_HELLO, 0, r, NULL, 0, &err) < 0) {
		status = FW_HELPER_EXIT_IO;
		goto out;
	}
	if (r < 0) {
		status = FW_HELPER_EXIT_UNAVAILABLE;
		goto out;
	}
	for (;;) {
		/* the monitor is read only between transfers, so that a report never waits behind a reply */
		struct pollfd p[2] = { { .fd = h.fd, .events = POLLIN },
				       { .fd = h.mon && !h.t.open ? fw_monitor_fd(h.mon) : -1, .events = POLLIN } };

		if (poll(p, 2, h.tamper_pending ? HELPER_TAMPER_RETRY_MS : -1) < 0) {
			if (errno == EINTR)
				continue;
			status = FW_HELPER_EXIT_IO;
			break;
		}
		if (p[1].revents & POLLIN)
			r = on_monitor(&h);
		else
			r = flush_tamper(&h);
		if (r < 0) {
			status = FW_HELPER_EXIT_IO;
			break;
		}
		if (!(p[0].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		r = on_input(&h);
		if (r == 1) {
			status = FW_HELPER_EXIT_OK;
			break;
		}
		if (r == -EBADMSG) {
			status = FW_HELPER_EXIT_MALFORMED;
			break;
		}
		if (r == -ENOMEM) {
			status = FW_HELPER_EXIT_NOMEM;
			break;
		}
		if (r < 0) {
			status = FW_HELPER_EXIT_IO;
			break;
		}
	}
out:
	transfer_reset(&h.t);
	fw_monitor_close(h.mon);
	fw_free(h.fw);
	free(h.buf);
	return status;
}

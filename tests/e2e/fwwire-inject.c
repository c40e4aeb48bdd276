/* Test tool: forks a firewall helper on its own socketpair, sends it malformed messages, and checks it exits and the kernel is untouched. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fw/fw-wire.h"
#include "fw/fw.h"

/*
 * Usage: fwwire-inject   (as root, in a throwaway network namespace)
 *
 * For each case: fork a helper exactly as jitgated's supervisor does
 * (fw_helper_run on one end of a SOCK_SEQPACKET pair), give it a valid state
 * (one local VM, TCP 22 and UDP 53 protected), snapshot `nft list table inet
 * jitgate`, send the case's bytes, then check that the helper exited with
 * FW_HELPER_EXIT_MALFORMED and the snapshot is byte-identical. A control case
 * sends a valid grant and checks that the helper stays and the table changes,
 * so that the comparison is known to see a change. Prints "ok"/"FAIL" lines;
 * exits non-zero if any case failed. Nothing here is reachable from a network.
 */

#define SNAPSHOT_MAX (1024 * 1024)

static uint64_t seq;

static int
send_raw(int fd, const void *buf, size_t len)
{
	return send(fd, buf, len, MSG_NOSIGNAL) == (ssize_t)len ? 0 : -1;
}

/* A header and payload, with the header's len as given (normally the payload's). */
static int
send_msg_len(int fd, uint32_t type, uint64_t s, const void *payload, size_t len, uint32_t hdr_len)
{
	static uint8_t buf[FW_WIRE_MSG_MAX * 2];
	struct fw_wire_hdr h = { .type = type, .len = hdr_len, .seq = s };

	memcpy(buf, &h, sizeof(h));
	if (len)
		memcpy(buf + sizeof(h), payload, len);
	return send_raw(fd, buf, sizeof(h) + len);
}

static int
send_msg(int fd, uint32_t type, const void *payload, size_t len)
{
	return send_msg_len(fd, type, seq, payload, len, (uint32_t)len);
}

static int
send_begin(int fd, uint32_t op, uint64_t vms, uint64_t ports, uint64_t grants, uint64_t refs)
{
	struct fw_wire_begin b = { .op = op, .n_vms = vms, .n_ports = ports, .n_grants = grants, .n_refs = refs };

	seq++;
	return send_msg(fd, FW_WIRE_BEGIN, &b, sizeof(b));
}

static int
recv_reply(int fd, struct fw_wire_reply *ret)
{
	uint8_t buf[sizeof(struct fw_wire_hdr) + sizeof(*ret)];
	ssize_t n;

	do {
		struct fw_wire_hdr h;

		n = recv(fd, buf, sizeof(buf), 0);
		if (n < (ssize_t)sizeof(h))
			return -1;
		memcpy(&h, buf, sizeof(h));
		if (h.type == FW_WIRE_TAMPER)
			continue;
		if (n != (ssize_t)sizeof(buf))
			return -1;
		memcpy(ret, buf + sizeof(h), sizeof(*ret));
		return 0;
	} while (1);
}

static struct fw_wire_vm
local_vm(void)
{
	struct fw_wire_vm v;

	memset(&v, 0, sizeof(v));
	v.id = 1;
	v.point = FW_POINT_LOCAL;
	return v;
}

static struct fw_wire_grant
good_grant(void)
{
	struct fw_wire_grant g;

	memset(&g, 0, sizeof(g));
	g.vm = 1;
	g.family = NET_INET;
	g.prefix_len = 32;
	g.addr[0] = 10, g.addr[1] = 99, g.addr[2] = 0, g.addr[3] = 7;
	g.proto = NET_PROTO_TCP;
	g.port = 22;
	g.end_ms = time_now_ms() + 3600 * 1000;
	snprintf(g.request_id, sizeof(g.request_id), "inject-1");
	return g;
}

/* The valid starting state: VM 1 (local), TCP 22 and UDP 53 protected, no grant. */
static int
setup(int fd)
{
	struct fw_wire_vm v = local_vm();
	struct fw_wire_port p[2];
	struct fw_wire_reply rep;

	memset(p, 0, sizeof(p));
	p[0].vm = p[1].vm = 1;
	p[0].proto = NET_PROTO_TCP, p[0].port = 22;
	p[1].proto = NET_PROTO_UDP, p[1].port = 53;
	if (send_begin(fd, FW_WIRE_OP_RECONCILE, 1, 2, 0, 0) < 0 || send_msg(fd, FW_WIRE_VMS, &v, sizeof(v)) < 0 ||
	    send_msg(fd, FW_WIRE_PORTS, p, sizeof(p)) < 0 || send_msg(fd, FW_WIRE_COMMIT, NULL, 0) < 0 ||
	    recv_reply(fd, &rep) < 0 || rep.status < 0)
		return -1;
	return 0;
}

/* A grant update carrying one grant record, as given. */
static int
send_grant(int fd, const struct fw_wire_grant *g)
{
	if (send_begin(fd, FW_WIRE_OP_GRANT_UPDATE, 0, 0, 1, 0) < 0 || send_msg(fd, FW_WIRE_GRANTS, g, sizeof(*g)) < 0)
		return -1;
	return send_msg(fd, FW_WIRE_COMMIT, NULL, 0);
}

static int
c_family(int fd)
{
	struct fw_wire_grant g = good_grant();

	g.family = 5;
	return send_grant(fd, &g);
}

static int
c_hostbits(int fd)
{
	struct fw_wire_grant g = good_grant();

	g.prefix_len = 24;	/* 10.99.0.7/24: host bits set */
	return send_grant(fd, &g);
}

static int
c_prefixlen(int fd)
{
	struct fw_wire_grant g = good_grant();

	g.prefix_len = 33;
	return send_grant(fd, &g);
}

static int
c_v4tail(int fd)
{
	struct fw_wire_grant g = good_grant();

	g.addr[15] = 1;		/* IPv4 with bytes beyond the fourth */
	return send_grant(fd, &g);
}

static int
c_port0(int fd)
{
	struct fw_wire_grant g = good_grant();

	g.port = 0;
	return send_grant(fd, &g);
}

static int
c_proto(int fd)
{
	struct fw_wire_grant g = good_grant();

	g.proto = 1;		/* ICMP */
	return send_grant(fd, &g);
}

static int
c_any_with_addr(int fd)
{
	struct fw_wire_grant g = good_grant();

	g.any = 1;		/* "*" must carry no address */
	return send_grant(fd, &g);
}

static int
c_reqid_nonul(int fd)
{
	struct fw_wire_grant g = good_grant();

	memset(g.request_id, 'a', sizeof(g.request_id));
	return send_grant(fd, &g);
}

static int
c_reqid_chars(int fd)
{
	struct fw_wire_grant g = good_grant();

	memcpy(g.request_id, "a\"; flush", 9);
	return send_grant(fd, &g);
}

static int
c_reqid_tail(int fd)
{
	struct fw_wire_grant g = good_grant();

	g.request_id[40] = 'x';	/* after the NUL */
	return send_grant(fd, &g);
}

/* Gateway DNAT fields: a mapping is all zero, or a family, a port and an address of that family only. */
static int
c_dnat_family(int fd)
{
	struct fw_wire_grant g = good_grant();

	g.dnat_family = 7;
	g.dnat_port = 50022;
	return send_grant(fd, &g);
}

static int
c_dnat_port0(int fd)
{
	struct fw_wire_grant g = good_grant();

	g.dnat_family = NET_INET;
	g.dnat_addr[0] = 192;
	return send_grant(fd, &g);
}

static int
c_dnat_stray(int fd)
{
	struct fw_wire_grant g = good_grant();

	g.dnat_port = 50022;	/* a port without a family */
	return send_grant(fd, &g);
}

static int
c_dnat_v4tail(int fd)
{
	struct fw_wire_grant g = good_grant();

	g.dnat_family = NET_INET;
	g.dnat_port = 50022;
	g.dnat_addr[12] = 1;
	return send_grant(fd, &g);
}

static int
c_dnat_pad(int fd)
{
	struct fw_wire_grant g = good_grant();

	g.pad3[5] = 1;
	return send_grant(fd, &g);
}

static int
c_reqid_empty(int fd)
{
	struct fw_wire_grant g = good_grant();

	memset(g.request_id, 0, sizeof(g.request_id));
	return send_grant(fd, &g);
}

static int
c_end_far(int fd)
{
	struct fw_wire_grant g = good_grant();

	g.end_ms = time_now_ms() + FW_TIMEOUT_MAX_MS + 2 * FW_WIRE_CLOCK_SLACK_MS;
	return send_grant(fd, &g);
}

static int
c_end_past(int fd)
{
	struct fw_wire_grant g = good_grant();

	g.end_ms = INT64_MIN;
	return send_grant(fd, &g);
}

static int
c_pad(int fd)
{
	struct fw_wire_grant g = good_grant();

	g.pad2[3] = 1;
	return send_grant(fd, &g);
}

static int
c_count(int fd)
{
	return send_begin(fd, FW_WIRE_OP_GRANT_UPDATE, 0, 0, FW_WIRE_GRANTS_MAX + 1, 0);
}

static int
c_op_counts(int fd)
{
	return send_begin(fd, FW_WIRE_OP_GRANT_UPDATE, 1, 0, 1, 0);	/* a grant update carries no VMs */
}

static int
c_op(int fd)
{
	return send_begin(fd, 77, 0, 0, 0, 0);
}

static int
c_chunk_size(int fd)
{
	struct fw_wire_grant g = good_grant();

	if (send_begin(fd, FW_WIRE_OP_GRANT_UPDATE, 0, 0, 1, 0) < 0)
		return -1;
	return send_msg(fd, FW_WIRE_GRANTS, &g, sizeof(g) - 1);
}

static int
c_total_over(int fd)
{
	struct fw_wire_grant g[2] = { good_grant(), good_grant() };

	snprintf(g[1].request_id, sizeof(g[1].request_id), "inject-2");
	if (send_begin(fd, FW_WIRE_OP_GRANT_UPDATE, 0, 0, 1, 0) < 0)
		return -1;
	return send_msg(fd, FW_WIRE_GRANTS, g, sizeof(g));
}

static int
c_commit_early(int fd)
{
	struct fw_wire_grant g = good_grant();

	if (send_begin(fd, FW_WIRE_OP_GRANT_UPDATE, 0, 0, 2, 0) < 0 || send_msg(fd, FW_WIRE_GRANTS, &g, sizeof(g)) < 0)
		return -1;
	return send_msg(fd, FW_WIRE_COMMIT, NULL, 0);
}

static int
c_order(int fd)
{
	struct fw_wire_port p;
	struct fw_wire_vm v = local_vm();

	memset(&p, 0, sizeof(p));
	p.vm = 1, p.proto = NET_PROTO_TCP, p.port = 80;
	if (send_begin(fd, FW_WIRE_OP_SET_STATE, 1, 1, 0, 0) < 0 || send_msg(fd, FW_WIRE_PORTS, &p, sizeof(p)) < 0)
		return -1;
	return send_msg(fd, FW_WIRE_VMS, &v, sizeof(v));
}

static int
c_vm_addrs(int fd)
{
	struct fw_wire_vm v = local_vm();

	v.point = FW_POINT_GATEWAY;	/* a gateway VM without addresses */
	if (send_begin(fd, FW_WIRE_OP_SET_STATE, 1, 0, 0, 0) < 0)
		return -1;
	return send_msg(fd, FW_WIRE_VMS, &v, sizeof(v));
}

static int
c_seq(int fd)
{
	struct fw_wire_begin b = { .op = FW_WIRE_OP_GRANT_UPDATE, .n_grants = 1 };

	return send_msg_len(fd, FW_WIRE_BEGIN, seq + 5, &b, sizeof(b), sizeof(b));
}

static int
c_seq_chunk(int fd)
{
	struct fw_wire_grant g = good_grant();

	if (send_begin(fd, FW_WIRE_OP_GRANT_UPDATE, 0, 0, 1, 0) < 0)
		return -1;
	return send_msg_len(fd, FW_WIRE_GRANTS, seq + 1, &g, sizeof(g), sizeof(g));
}

static int
c_type(int fd)
{
	return send_msg(fd, 99, NULL, 0);
}

static int
c_reply_type(int fd)
{
	struct fw_wire_reply r;

	memset(&r, 0, sizeof(r));
	return send_msg(fd, FW_WIRE_REPLY, &r, sizeof(r));	/* only the helper sends these */
}

static int
c_short(int fd)
{
	return send_raw(fd, "\x02\0\0\0\0\0\0\0", 8);
}

static int
c_len(int fd)
{
	struct fw_wire_begin b = { .op = FW_WIRE_OP_GRANT_UPDATE, .n_grants = 1 };

	return send_msg_len(fd, FW_WIRE_BEGIN, seq + 1, &b, sizeof(b), sizeof(b) + 8);
}

static int
c_oversize(int fd)
{
	static uint8_t big[FW_WIRE_MSG_MAX + 64];
	struct fw_wire_grant g = good_grant();
	size_t i, n = (sizeof(big) - sizeof(struct fw_wire_hdr)) / sizeof(g);

	if (send_begin(fd, FW_WIRE_OP_GRANT_UPDATE, 0, 0, n, 0) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		snprintf(g.request_id, sizeof(g.request_id), "r%zu", i);
		memcpy(big + i * sizeof(g), &g, sizeof(g));
	}
	return send_msg(fd, FW_WIRE_GRANTS, big, n * sizeof(g));
}

static int
c_fds(int fd)
{
	struct fw_wire_begin b = { .op = FW_WIRE_OP_GRANT_UPDATE, .n_grants = 1 };
	uint8_t buf[sizeof(struct fw_wire_hdr) + sizeof(b)];
	struct fw_wire_hdr h = { .type = FW_WIRE_BEGIN, .len = sizeof(b), .seq = ++seq };
	struct iovec iov = { buf, sizeof(buf) };
	union {
		char c[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.c, .msg_controllen = sizeof(u.c) };
	struct cmsghdr *c;
	int passed = STDIN_FILENO;

	memset(&u, 0, sizeof(u));
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), &b, sizeof(b));
	c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &passed, sizeof(passed));
	return sendmsg(fd, &mh, MSG_NOSIGNAL) == (ssize_t)sizeof(buf) ? 0 : -1;
}

static const struct {
	const char *name;
	int (*send)(int fd);
} cases[] = {
	{ "grant with an unknown address family", c_family },
	{ "grant prefix with host bits set", c_hostbits },
	{ "grant prefix longer than its family", c_prefixlen },
	{ "IPv4 grant address with bytes beyond the fourth", c_v4tail },
	{ "grant for port 0", c_port0 },
	{ "grant for protocol ICMP", c_proto },
	{ "'*' grant that carries an address", c_any_with_addr },
	{ "request id without a NUL", c_reqid_nonul },
	{ "request id with quotes and blanks", c_reqid_chars },
	{ "request id with bytes after its NUL", c_reqid_tail },
	{ "empty request id", c_reqid_empty },
	{ "DNAT mapping with an unknown family", c_dnat_family },
	{ "DNAT mapping without a port", c_dnat_port0 },
	{ "DNAT port without a mapping", c_dnat_stray },
	{ "IPv4 DNAT address with bytes beyond the fourth", c_dnat_v4tail },
	{ "non-zero padding after the DNAT fields", c_dnat_pad },
	{ "end time past now + FW_TIMEOUT_MAX_MS", c_end_far },
	{ "end time INT64_MIN", c_end_past },
	{ "non-zero padding", c_pad },
	{ "BEGIN count over the limit", c_count },
	{ "BEGIN count the operation does not use", c_op_counts },
	{ "BEGIN with an unknown operation", c_op },
	{ "chunk not a whole number of records", c_chunk_size },
	{ "chunk with more records than BEGIN promised", c_total_over },
	{ "COMMIT before every record arrived", c_commit_early },
	{ "records out of order (ports before VMs)", c_order },
	{ "gateway VM without addresses", c_vm_addrs },
	{ "BEGIN out of sequence", c_seq },
	{ "chunk with another transfer's seq", c_seq_chunk },
	{ "unknown message type", c_type },
	{ "a REPLY sent to the helper", c_reply_type },
	{ "message shorter than a header", c_short },
	{ "header length not the message's", c_len },
	{ "message over 64 KiB", c_oversize },
	{ "message carrying a file descriptor", c_fds },
};

/* `nft list table inet jitgate` into buf (fork and exec, no shell). Returns the length or -1. */
static ssize_t
snapshot(char *buf, size_t size)
{
	int p[2], status;
	size_t n = 0;
	pid_t pid;

	if (pipe(p) < 0)
		return -1;
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		dup2(p[1], STDOUT_FILENO);
		close(p[0]);
		close(p[1]);
		execlp("nft", "nft", "list", "table", "inet", "jitgate", (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	for (;;) {
		ssize_t k = read(p[0], buf + n, size - n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		n += (size_t)k;
		if (n == size)
			break;
	}
	close(p[0]);
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return -1;
	return (ssize_t)n;
}

/* Fork a helper as the supervisor does; its socket in *ret_fd, after its greeting. */
static pid_t
helper_start(int *ret_fd)
{
	struct fw_wire_reply hello;
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	fflush(stdout);	/* or the child's exit() prints our buffer again */
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		close(sv[0]);
		exit(fw_helper_run(sv[1]));
	}
	close(sv[1]);
	seq = 0;
	if (recv_reply(sv[0], &hello) < 0 || hello.status < 0) {
		fprintf(stderr, "fwwire-inject: the helper did not start: %s\n", hello.err.message);
		close(sv[0]);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return -1;
	}
	*ret_fd = sv[0];
	return pid;
}

/* Wait up to 2 s for the helper to end; its status, or -1 if it did not. */
static int
helper_wait(pid_t pid)
{
	int i, status;

	for (i = 0; i < 200; i++) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		nanosleep(&(struct timespec){ 0, 10 * 1000000 }, NULL);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return -1;
}

static char before[SNAPSHOT_MAX], after[SNAPSHOT_MAX];

int
main(void)
{
	size_t i, failed = 0;
	ssize_t nb, na;
	int fd, st;
	pid_t pid;

	signal(SIGPIPE, SIG_IGN);
	/* control: a valid grant changes the table and the helper stays */
	if ((pid = helper_start(&fd)) < 0 || setup(fd) < 0 || (nb = snapshot(before, sizeof(before))) < 0) {
		fprintf(stderr, "fwwire-inject: cannot set up (root, nftables?)\n");
		return 1;
	}
	{
		struct fw_wire_grant g = good_grant();
		struct fw_wire_reply rep;
		bool ok = send_grant(fd, &g) == 0 && recv_reply(fd, &rep) == 0 && rep.status == 0 &&
			  (na = snapshot(after, sizeof(after))) >= 0 && (na != nb || memcmp(before, after, (size_t)nb));

		printf("  %s control: a valid grant is applied and changes the table\n", ok ? "ok  " : "FAIL");
		failed += !ok;
		close(fd);
		st = helper_wait(pid);
		printf("  %s control: the helper exits 0 when its client closes the socket (%d)\n",
		       st == FW_HELPER_EXIT_OK ? "ok  " : "FAIL", st);
		failed += st != FW_HELPER_EXIT_OK;
	}
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool same;

		if ((pid = helper_start(&fd)) < 0 || setup(fd) < 0 || (nb = snapshot(before, sizeof(before))) < 0) {
			printf("  FAIL %s: set-up\n", cases[i].name);
			failed++;
			continue;
		}
		cases[i].send(fd);	/* the helper may hang up halfway: what counts is below */
		st = helper_wait(pid);
		na = snapshot(after, sizeof(after));
		same = na == nb && !memcmp(before, after, (size_t)nb);
		close(fd);
		if (st == FW_HELPER_EXIT_MALFORMED && same) {
			printf("  ok   %s: helper exited %d, table unchanged (%zd bytes)\n", cases[i].name, st, nb);
		} else {
			printf("  FAIL %s: helper exit %d (want %d), table %s\n", cases[i].name, st,
			       FW_HELPER_EXIT_MALFORMED, same ? "unchanged" : "CHANGED");
			failed++;
		}
	}
	printf("fwwire-inject: %zu cases, %zu failed\n", sizeof(cases) / sizeof(cases[0]) + 2, failed);
	return failed ? 1 : 0;
}

/* Watching for changes to table inet jitgate that someone else made, from nftables' netlink notifications. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>

#include "fw-model.h"

#define FW_MONITOR_BUF	(256 * 1024)	/* one read of notifications */
#define FW_TABLE_NAME	"jitgate"

/*
 * The kernel announces every nftables transaction on the NFNLGRP_NFTABLES
 * group: one message per object changed, then NFT_MSG_NEWGEN naming the
 * process that committed it. For every object message the first attribute
 * (type 1) is the table's name, whatever the object: NFTA_TABLE_NAME,
 * NFTA_CHAIN_TABLE, NFTA_RULE_TABLE, NFTA_SET_TABLE, NFTA_SET_ELEM_LIST_TABLE.
 * So a transaction touched our table if one of its messages is for family
 * inet and names "jitgate"; it was someone else's if NEWGEN's pid is not in
 * our list of own pids. Elements that time out are removed by the kernel's
 * garbage collector outside any transaction: they never count.
 */
struct fw_monitor {
	int fd;
	bool touched;			/* the transaction being read touched our table */
	pid_t own[FW_MONITOR_OWN_MAX];
	size_t n_own;
	uint8_t *buf;
};

int
fw_monitor_open(struct fw_monitor **ret, struct core_error *err)
{
	struct fw_monitor *m = calloc(1, sizeof(*m));
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	int group = NFNLGRP_NFTABLES, size = 4 * 1024 * 1024;

	if (!m)
		return -ENOMEM;
	m->buf = malloc(FW_MONITOR_BUF);
	m->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_NETFILTER);
	if (!m->buf || m->fd < 0 || bind(m->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    setsockopt(m->fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &group, sizeof(group)) < 0) {
		int e = errno ? errno : ENOMEM;

		core_error_set(err, FW_ERR_UNAVAILABLE, "", "cannot watch nftables for changes: %s", strerror(e));
		fw_monitor_close(m);
		return -e;
	}
	/* a burst of someone's changes must not overflow us; if it does, we notice (ENOBUFS) and reconcile */
	setsockopt(m->fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	m->own[m->n_own++] = getpid();
	*ret = m;
	return 0;
}

void
fw_monitor_close(struct fw_monitor *m)
{
	if (!m)
		return;
	if (m->fd >= 0)
		close(m->fd);
	free(m->buf);
	free(m);
}

int
fw_monitor_fd(const struct fw_monitor *m)
{
	return m->fd;
}

int
fw_monitor_add_own_pid(struct fw_monitor *m, pid_t pid)
{
	if (m->n_own == FW_MONITOR_OWN_MAX)
		return -E2BIG;
	m->own[m->n_own++] = pid;
	return 0;
}

static bool
pid_is_own(const struct fw_monitor *m, pid_t pid)
{
	size_t i;

	for (i = 0; i < m->n_own; i++)
		if (m->own[i] == pid)
			return true;
	return false;
}

/* The first attribute of type `type` after the nfgenmsg header, or NULL. */
static const struct nlattr *
attr_find(const struct nlmsghdr *nlh, uint16_t type)
{
	size_t off = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(struct nfgenmsg));
	size_t end = nlh->nlmsg_len;

	while (off + NLA_HDRLEN <= end) {
		const struct nlattr *a = (const struct nlattr *)((const uint8_t *)nlh + off);

		if (a->nla_len < NLA_HDRLEN || off + a->nla_len > end)
			return NULL;
		if ((a->nla_type & NLA_TYPE_MASK) == type)
			return a;
		off += NLA_ALIGN(a->nla_len);
	}
	return NULL;
}

static void
on_message(struct fw_monitor *m, const struct nlmsghdr *nlh, struct fw_tamper *t)
{
	const struct nfgenmsg *g = (const struct nfgenmsg *)NLMSG_DATA(nlh);
	const struct nlattr *a;
	unsigned msg;

	if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_NFTABLES ||
	    nlh->nlmsg_len < NLMSG_HDRLEN + sizeof(struct nfgenmsg))
		return;
	msg = NFNL_MSG_TYPE(nlh->nlmsg_type);
	if (msg == NFT_MSG_NEWGEN) {
		const struct nlattr *pid = attr_find(nlh, NFTA_GEN_PROC_PID);
		const struct nlattr *name = attr_find(nlh, NFTA_GEN_PROC_NAME);
		pid_t p = 0;

		if (pid && pid->nla_len >= NLA_HDRLEN + 4) {
			uint32_t v;

			memcpy(&v, (const uint8_t *)pid + NLA_HDRLEN, 4);
			p = (pid_t)ntohl(v);
		}
		if (m->touched && !pid_is_own(m, p)) {
			t->tampered = true;
			t->pid = p;
			t->name[0] = '\0';
			if (name && name->nla_len > NLA_HDRLEN) {
				size_t len = name->nla_len - NLA_HDRLEN;

				if (len >= sizeof(t->name))
					len = sizeof(t->name) - 1;
				memcpy(t->name, (const uint8_t *)name + NLA_HDRLEN, len);
				t->name[len] = '\0';
				t->name[strcspn(t->name, "\n")] = '\0';
			}
		}
		m->touched = false;
		return;
	}
	if (g->nfgen_family != NFPROTO_INET)
		return;
	switch (msg) {
	case NFT_MSG_NEWTABLE:
	case NFT_MSG_DELTABLE:
	case NFT_MSG_NEWCHAIN:
	case NFT_MSG_DELCHAIN:
	case NFT_MSG_NEWRULE:
	case NFT_MSG_DELRULE:
	case NFT_MSG_NEWSET:
	case NFT_MSG_DELSET:
	case NFT_MSG_NEWSETELEM:
	case NFT_MSG_DELSETELEM:
	case NFT_MSG_NEWOBJ:
	case NFT_MSG_DELOBJ:
	case NFT_MSG_NEWFLOWTABLE:
	case NFT_MSG_DELFLOWTABLE:
		break;
	default:
		return;
	}
	a = attr_find(nlh, 1);
	if (a && a->nla_len >= NLA_HDRLEN + sizeof(FW_TABLE_NAME) &&
	    !memcmp((const uint8_t *)a + NLA_HDRLEN, FW_TABLE_NAME, sizeof(FW_TABLE_NAME)))
		m->touched = true;
}

int
fw_monitor_read(struct fw_monitor *m, struct fw_tamper *ret)
{
	struct fw_tamper t = { 0 };

	for (;;) {
		ssize_t n = recv(m->fd, m->buf, FW_MONITOR_BUF, 0);
		const struct nlmsghdr *nlh;
		size_t left;

		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			if (errno == ENOBUFS) {
				/* we missed notifications: we cannot know, so we must look */
				t.tampered = true;
				t.overflow = true;
				continue;
			}
			return -errno;
		}
		left = (size_t)n;
		for (nlh = (const struct nlmsghdr *)m->buf; NLMSG_OK(nlh, left); nlh = NLMSG_NEXT(nlh, left))
			on_message(m, nlh, &t);
	}
	*ret = t;
	return 0;
}

/* The boot protection list (bootrules.h): written by jitgated, read and applied by `jitgated boot`. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/net.h"
#include "daemon/bootrules.h"

#define BOOT_RULES_GW_ADDRS_MAX	4096	/* distinct gateway addresses in one list */
#define BOOT_RULES_HEADER \
	"# jitgate: the ports jitgated protects, rewritten by it whenever they change.\n" \
	"# At boot, before the network, jitgate-boot.service ('jitgated boot') puts\n" \
	"# them in table inet jitgate, with no grant. Do not edit.\n"

static const char *
proto_word(enum net_proto p)
{
	return p == NET_PROTO_TCP ? "tcp" : p == NET_PROTO_UDP ? "udp" : "any";
}

int
boot_rules_format(const struct fw_state *st, struct buf *out)
{
	size_t i, j, a;
	int r;

	if ((r = buf_append(out, BOOT_RULES_HEADER, strlen(BOOT_RULES_HEADER))) < 0)
		return r;
	for (i = 0; i < st->n_ports; i++) {
		const struct fw_port *p = &st->ports[i];
		const struct fw_vm *vm = NULL;

		for (j = 0; j < st->n_vms && !vm; j++)
			if (st->vms[j].id == p->vm)
				vm = &st->vms[j];
		if (!vm)
			continue;
		if (vm->point == FW_POINT_LOCAL) {
			if ((r = buf_printf(out, "local %s %u\n", proto_word(p->proto), p->port)) < 0)
				return r;
			continue;
		}
		for (a = 0; a < vm->n_addrs && a < FW_VM_ADDRS_MAX; a++) {
			char text[NET_PREFIX_TEXT_MAX];

			if (net_addr_format(&vm->addrs[a], text, sizeof(text)) < 0)
				return -EINVAL;
			if ((r = buf_printf(out, "gw %s %s %u\n", text, proto_word(p->proto), p->port)) < 0)
				return r;
		}
	}
	return 0;
}

void
boot_rules_free(struct boot_rules *r)
{
	if (!r)
		return;
	free(r->vms);
	free(r->ports);
	memset(r, 0, sizeof(*r));
}

/* The next space-separated field of [*p, end); advances past it and one space. */
static bool
next_field(const char **p, const char *end, const char **ret, size_t *ret_len)
{
	const char *s = *p, *e = s;

	while (e < end && *e != ' ')
		e++;
	if (e == s)
		return false;
	*ret = s;
	*ret_len = (size_t)(e - s);
	*p = e < end ? e + 1 : e;
	return true;
}

static bool
word_is(const char *s, size_t n, const char *w)
{
	return n == strlen(w) && !memcmp(s, w, n);
}

/* One line (without its newline) into r; false if it is not one of the two forms. */
static int
parse_line(const char *s, size_t n, struct boot_rules *r, size_t *cap_vms, size_t *cap_ports)
{
	const char *p = s, *end = s + n, *f;
	struct fw_port port = { .vm = 1 };
	size_t len, i;
	unsigned v = 0;

	if (!next_field(&p, end, &f, &len))
		return -EINVAL;
	if (word_is(f, len, "gw")) {
		struct net_addr addr;

		if (!next_field(&p, end, &f, &len) || net_addr_parse(f, len, &addr, NULL) < 0)
			return -EINVAL;
		for (i = 1; i < r->n_vms; i++)
			if (net_addr_equal(&r->vms[i].addrs[0], &addr))
				break;
		if (i == r->n_vms) {
			struct fw_vm *nv;

			if (r->n_vms > BOOT_RULES_GW_ADDRS_MAX)
				return -E2BIG;
			if (!(nv = array_grow(r->vms, cap_vms, r->n_vms, sizeof(*nv))))
				return -ENOMEM;
			r->vms = nv;
			memset(&nv[i], 0, sizeof(nv[i]));
			nv[i].id = (uint64_t)i + 1;
			nv[i].point = FW_POINT_GATEWAY;
			nv[i].n_addrs = 1;
			nv[i].addrs[0] = addr;
			r->n_vms++;
		}
		port.vm = r->vms[i].id;
	} else if (!word_is(f, len, "local")) {
		return -EINVAL;
	}
	if (!next_field(&p, end, &f, &len))
		return -EINVAL;
	if (word_is(f, len, "tcp"))
		port.proto = NET_PROTO_TCP;
	else if (word_is(f, len, "udp"))
		port.proto = NET_PROTO_UDP;
	else if (word_is(f, len, "any"))
		port.proto = NET_PROTO_ANY;
	else
		return -EINVAL;
	if (!next_field(&p, end, &f, &len) || len > 5 || p != end)
		return -EINVAL;
	for (i = 0; i < len; i++) {
		if (f[i] < '0' || f[i] > '9')
			return -EINVAL;
		v = v * 10 + (unsigned)(f[i] - '0');
	}
	if (v == 0 || v > 65535)
		return -EINVAL;
	port.port = (uint16_t)v;
	{
		struct fw_port *np = array_grow(r->ports, cap_ports, r->n_ports, sizeof(*np));

		if (!np)
			return -ENOMEM;
		r->ports = np;
		r->ports[r->n_ports++] = port;
	}
	return 0;
}

int
boot_rules_parse(const char *text, size_t len, struct boot_rules *ret, struct core_error *err)
{
	struct boot_rules r = { 0 };
	size_t cap_vms = 0, cap_ports = 0, line = 0, off = 0;
	int e = 0;

	if (len > BOOT_RULES_SIZE_MAX)
		return core_error_set(err, "InvalidBootRules", "", "the list is larger than %zu bytes", BOOT_RULES_SIZE_MAX);
	/* vms[0]: this host */
	if (!(r.vms = array_grow(NULL, &cap_vms, 0, sizeof(*r.vms))))
		return -ENOMEM;
	memset(&r.vms[0], 0, sizeof(r.vms[0]));
	r.vms[0].id = 1;
	r.vms[0].point = FW_POINT_LOCAL;
	r.n_vms = 1;
	while (off < len) {
		const char *nl = memchr(text + off, '\n', len - off);
		size_t n = nl ? (size_t)(nl - (text + off)) : len - off;

		line++;
		if (n > BOOT_RULES_LINE_MAX)
			e = -EINVAL;
		else if (n > 0 && text[off] != '#') {
			if (r.n_ports >= BOOT_RULES_LINES_MAX)
				e = -E2BIG;
			else
				e = parse_line(text + off, n, &r, &cap_vms, &cap_ports);
		}
		if (e < 0)
			break;
		off += n + (nl ? 1 : 0);
	}
	if (e < 0) {
		boot_rules_free(&r);
		if (e == -ENOMEM)
			return e;
		return core_error_set(err, "InvalidBootRules", "", "line %zu: %s", line,
				      e == -E2BIG ? "too many protected ports or addresses"
						  : "not 'local PROTO PORT' or 'gw ADDRESS PROTO PORT'");
	}
	*ret = r;
	return 0;
}

static int
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int
boot_rules_write(const char *state_dir, const struct fw_state *st, char **last, struct core_error *err)
{
	struct buf b = { 0 };
	char path[PATH_MAX], tmp[PATH_MAX + 16];
	int fd = -1, dfd = -1, r;

	if ((r = boot_rules_format(st, &b)) < 0) {
		core_error_set(err, "BootRules", "", "cannot list the protected ports: %s", strerror(-r));
		goto out;
	}
	if (*last && !strcmp(*last, b.data)) {
		r = 0;
		goto out;
	}
	snprintf(path, sizeof(path), "%s/%s", state_dir, BOOT_RULES_FILE);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		r = -errno;
	else if ((r = write_all(fd, b.data, b.len)) == 0 && fsync(fd) < 0)
		r = -errno;
	if (fd >= 0 && close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0) {
		core_error_set(err, "BootRules", "", "cannot write %s: %s", path, strerror(-r));
		unlink(tmp);
		goto out;
	}
	dfd = open(state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	free(*last);
	*last = b.data;
	b.data = NULL;
	r = 1;
out:
	buf_free(&b);
	return r;
}

int
boot_rules_load(const char *state_dir, struct core_error *err)
{
	struct boot_rules br = { 0 };
	struct fw_state st = { 0 };
	struct fw_changes ch = { 0 };
	struct fw *fw = NULL;
	struct stat sb;
	char path[PATH_MAX], *text = NULL;
	ssize_t got;
	size_t len = 0;
	int fd, r;

	snprintf(path, sizeof(path), "%s/%s", state_dir, BOOT_RULES_FILE);
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return 1;
	if (fd < 0)
		return core_error_set(err, "BootRules", "", "cannot open %s: %s", path, strerror(errno)), -errno;
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) || (size_t)sb.st_size > BOOT_RULES_SIZE_MAX) {
		r = core_error_set(err, "BootRules", "", "%s is not a plain file of at most %zu bytes", path,
				   BOOT_RULES_SIZE_MAX);
		goto out;
	}
	if (!(text = malloc((size_t)sb.st_size + 1))) {
		r = -ENOMEM;
		goto out;
	}
	while (len < (size_t)sb.st_size && (got = read(fd, text + len, (size_t)sb.st_size - len)) > 0)
		len += (size_t)got;
	if ((r = boot_rules_parse(text, len, &br, err)) < 0)
		goto out;
	st = (struct fw_state){ br.vms, br.n_vms, br.ports, br.n_ports, NULL, 0 };
	if ((r = fw_new(&fw, err)) < 0 || (r = fw_reconcile(fw, &st, &ch, err)) < 0)
		goto out;
	r = 0;
out:
	fw_free(fw);
	boot_rules_free(&br);
	free(text);
	close(fd);
	return r;
}

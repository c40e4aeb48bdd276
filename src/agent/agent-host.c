/* The host's facts: os-release and /proc/net parsers (pure), and the readers of addresses, name and kernel support. */
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent/agent-file.h"
#include "agent/agent-host.h"
#include "fw/fw.h"

#define TCP_STATE_LISTEN	0x0a	/* include/net/tcp_states.h */
#define UDP_STATE_BOUND		0x07	/* TCP_CLOSE: a UDP socket with no peer */
#define PROC_NET_PORT_DIGITS	4	/* hex digits of a port in /proc/net */
#define PROC_NET_V4_DIGITS	8	/* hex digits of an IPv4 address */
#define PROC_NET_V6_DIGITS	32

/* ---- os-release ---- */

static bool
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* Copy a value, anything but printable ASCII as '?', cut to the field. */
static void
field_put(char *dst, size_t size, const char *v, size_t n)
{
	size_t i;

	if (n > size - 1)
		n = size - 1;
	for (i = 0; i < n; i++)
		dst[i] = v[i] >= 0x20 && v[i] < 0x7f ? v[i] : '?';
	dst[n] = '\0';
}

/*
 * One value starting at s[0..n) (the rest of the line): unquoted, or quoted
 * with ' or " (with \ escapes in "). Writes the unescaped text to out (up to
 * AGENT_OS_FIELD_MAX, the rest dropped). False if the line is malformed.
 */
static bool
value_parse(const char *s, size_t n, char *out, size_t *ret_len)
{
	char q = n ? s[0] : 0;
	size_t i = 0, len = 0;

	if (q != '"' && q != '\'') {
		while (n > 0 && is_space(s[n - 1]))
			n--;
		for (i = 0; i < n; i++) {
			if (is_space(s[i]) || s[i] == '"' || s[i] == '\'' || s[i] == '\\')
				return false;	/* shell would need quoting: not a valid value */
			if (len < AGENT_OS_FIELD_MAX)
				out[len++] = s[i];
		}
		*ret_len = len;
		return true;
	}
	for (i = 1; i < n && s[i] != q; i++) {
		char c = s[i];

		if (q == '"' && c == '\\') {
			if (i + 1 >= n)
				return false;
			c = s[++i];
		}
		if (len < AGENT_OS_FIELD_MAX)
			out[len++] = c;
	}
	if (i >= n)
		return false;	/* no closing quote */
	for (i++; i < n; i++)
		if (!is_space(s[i]))
			return false;
	*ret_len = len;
	return true;
}

void
agent_os_release_parse(const char *s, size_t n, struct agent_os *ret)
{
	struct agent_os os;
	size_t pos = 0;

	memset(&os, 0, sizeof(os));
	while (pos < n) {
		const char *line = s + pos, *nl = memchr(line, '\n', n - pos);
		size_t len = nl ? (size_t)(nl - line) : n - pos, k = 0, vlen;
		char value[AGENT_OS_FIELD_MAX];

		pos += len + (nl ? 1 : 0);
		while (k < len && is_space(line[k]))
			k++;
		line += k;
		len -= k;
		for (k = 0; k < len && ((line[k] >= 'A' && line[k] <= 'Z') || (line[k] >= '0' && line[k] <= '9') ||
					line[k] == '_'); k++)
			;
		if (k == 0 || k >= len || line[k] != '=')
			continue;	/* a comment, a blank or a malformed line */
		if (!value_parse(line + k + 1, len - k - 1, value, &vlen))
			continue;
		if (k == 2 && memcmp(line, "ID", 2) == 0)
			field_put(os.id, sizeof(os.id), value, vlen);
		else if (k == 11 && memcmp(line, "PRETTY_NAME", 11) == 0)
			field_put(os.pretty_name, sizeof(os.pretty_name), value, vlen);
	}
	*ret = os;
}

/* ---- /proc/net ---- */

static int
hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Hex digits s[*i..) up to a non-digit: how many, their value (the low 32 bits) in *ret. */
static size_t
hex_run(const char *s, size_t n, size_t *i, uint32_t *ret)
{
	size_t start = *i;
	uint32_t v = 0;

	while (*i < n && hex_digit(s[*i]) >= 0)
		v = (v << 4) | (uint32_t)hex_digit(s[(*i)++]);
	*ret = v;
	return *i - start;
}

static void
skip_spaces(const char *s, size_t n, size_t *i)
{
	while (*i < n && (s[*i] == ' ' || s[*i] == '\t'))
		(*i)++;
}

/* "ADDR:PORT", the address 8 or 32 hex digits, the port 4. */
static bool
endpoint_parse(const char *s, size_t n, size_t *i, uint16_t *ret_port)
{
	size_t digits;
	uint32_t v;

	digits = hex_run(s, n, i, &v);
	if ((digits != PROC_NET_V4_DIGITS && digits != PROC_NET_V6_DIGITS) || *i >= n || s[*i] != ':')
		return false;
	(*i)++;
	if (hex_run(s, n, i, &v) != PROC_NET_PORT_DIGITS)
		return false;
	*ret_port = (uint16_t)v;
	return true;
}

/* "  12: LOCAL REMOTE ST ...": the local port and the state; false for the header or a malformed line. */
static bool
socket_line_parse(const char *s, size_t n, uint16_t *ret_port, unsigned *ret_state)
{
	size_t i = 0;
	uint16_t port, rport;
	uint32_t v;

	skip_spaces(s, n, &i);
	while (i < n && s[i] >= '0' && s[i] <= '9')
		i++;
	if (i == 0 || i >= n || s[i] != ':')
		return false;
	i++;
	skip_spaces(s, n, &i);
	if (!endpoint_parse(s, n, &i, &port))
		return false;
	skip_spaces(s, n, &i);
	if (!endpoint_parse(s, n, &i, &rport))
		return false;
	skip_spaces(s, n, &i);
	if (hex_run(s, n, &i, &v) != 2 || (i < n && s[i] != ' ' && s[i] != '\t'))
		return false;
	*ret_port = port;
	*ret_state = v;
	return true;
}

static bool
port_is_wanted(const struct agent_port *want, size_t n_want, enum net_proto proto, uint16_t port)
{
	size_t i;

	for (i = 0; i < n_want; i++)
		if (want[i].number == port && (want[i].proto == NET_PROTO_ANY || want[i].proto == proto))
			return true;
	return false;
}

static int
port_cmp(const struct agent_port *a, uint16_t number, enum net_proto proto)
{
	if (a->number != number)
		return a->number < number ? -1 : 1;
	if (a->proto != proto)
		return a->proto < proto ? -1 : 1;
	return 0;
}

static int
port_insert(struct agent_port *out, size_t *n_out, size_t max, enum net_proto proto, uint16_t number)
{
	size_t at = 0;
	int c = 1;

	while (at < *n_out && (c = port_cmp(&out[at], number, proto)) < 0)
		at++;
	if (at < *n_out && c == 0)
		return 0;
	if (*n_out >= max)
		return -E2BIG;
	memmove(&out[at + 1], &out[at], (*n_out - at) * sizeof(*out));
	out[at].proto = proto;
	out[at].number = number;
	(*n_out)++;
	return 0;
}

int
agent_proc_net_parse(const char *s, size_t n, enum net_proto proto, const struct agent_port *want, size_t n_want,
		     struct agent_port *out, size_t *n_out, size_t max)
{
	unsigned wanted_state = proto == NET_PROTO_TCP ? TCP_STATE_LISTEN : UDP_STATE_BOUND;
	size_t pos = 0;
	int seen = 0, r;

	if (proto != NET_PROTO_TCP && proto != NET_PROTO_UDP)
		return -EINVAL;
	while (pos < n) {
		const char *line = s + pos, *nl = memchr(line, '\n', n - pos);
		size_t len = nl ? (size_t)(nl - line) : n - pos;
		uint16_t port;
		unsigned state;

		pos += len + (nl ? 1 : 0);
		if (!socket_line_parse(line, len, &port, &state) || state != wanted_state ||
		    !port_is_wanted(want, n_want, proto, port))
			continue;
		if ((r = port_insert(out, n_out, max, proto, port)) < 0)
			return r;
		seen++;
	}
	return seen;
}

/* ---- addresses ---- */

static int
addr_cmp(const struct net_addr *a, const struct net_addr *b)
{
	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	return memcmp(a->bytes, b->bytes, sizeof(a->bytes));
}

int
agent_addrs_add(struct net_addr *v, size_t *n, size_t max, const struct net_addr *a)
{
	size_t at = 0;
	int c = 1;

	if ((a->family != NET_INET && a->family != NET_INET6) || net_addr_special_kind(a) || max == 0)
		return 0;
	while (at < *n && (c = addr_cmp(&v[at], a)) < 0)
		at++;
	if (at < *n && c == 0)
		return 0;
	if (*n >= max) {
		if (at >= max)
			return 0;	/* greater than everything kept */
		(*n)--;		/* the greatest makes way */
	}
	memmove(&v[at + 1], &v[at], (*n - at) * sizeof(*v));
	v[at] = *a;
	(*n)++;
	return 1;
}

int
agent_addrs_read(struct net_addr *ret, size_t *ret_n)
{
	struct ifaddrs *ifs = NULL, *i;
	size_t n = 0;

	if (getifaddrs(&ifs) < 0)
		return -errno;
	for (i = ifs; i; i = i->ifa_next) {
		struct net_addr a = { 0 };

		if (!i->ifa_addr)
			continue;
		if (i->ifa_addr->sa_family == AF_INET) {
			a.family = NET_INET;
			memcpy(a.bytes, &((const struct sockaddr_in *)(const void *)i->ifa_addr)->sin_addr, 4);
		} else if (i->ifa_addr->sa_family == AF_INET6) {
			a.family = NET_INET6;
			memcpy(a.bytes, &((const struct sockaddr_in6 *)(const void *)i->ifa_addr)->sin6_addr, 16);
			net_addr_unmap_v4(&a);
		} else {
			continue;
		}
		agent_addrs_add(ret, &n, API_ADDRS_MAX, &a);
	}
	freeifaddrs(ifs);
	*ret_n = n;
	return 0;
}

/* ---- name, OS, kernel, sockets ---- */

int
agent_hostname_short(char *buf, size_t size)
{
	char name[AGENT_HOSTNAME_MAX + 1];
	size_t n;

	if (gethostname(name, sizeof(name)) < 0)
		return -errno;
	name[sizeof(name) - 1] = '\0';
	n = strcspn(name, ".");
	if (n == 0)
		return -ENOENT;
	if (n >= size)
		return -ENAMETOOLONG;
	memcpy(buf, name, n);
	buf[n] = '\0';
	return 0;
}

int
agent_os_read(const char *path, struct agent_os *ret)
{
	char *text = NULL;
	size_t n;
	int r;

	if ((r = agent_file_read(AT_FDCWD, path, AGENT_OS_RELEASE_MAX, &text, &n)) < 0)
		return r;
	agent_os_release_parse(text, n, ret);
	free(text);
	return 0;
}

bool
agent_kernel_probe(char *reason, size_t size)
{
	struct core_error err = { 0 };
	struct fw *fw = NULL;

	if (fw_new(&fw, &err) < 0) {
		snprintf(reason, size, "%s", err.message[0] ? err.message : "nftables is not usable on this host");
		return false;
	}
	fw_free(fw);
	if (size)
		reason[0] = '\0';
	return true;
}

int
agent_listening_read(const char *proc, const struct agent_port *ports, size_t n_ports, struct agent_port *ret,
		     size_t *ret_n)
{
	static const uint16_t management[AGENT_MANAGEMENT_PORTS_N] = AGENT_MANAGEMENT_PORTS;
	static const struct {
		const char *name;
		enum net_proto proto;
	} files[] = {
		{ "net/tcp", NET_PROTO_TCP }, { "net/tcp6", NET_PROTO_TCP },
		{ "net/udp", NET_PROTO_UDP }, { "net/udp6", NET_PROTO_UDP },
	};
	struct agent_port want[AGENT_MANAGEMENT_PORTS_N + AGENT_PORTS_MAX];
	size_t n_want = 0, n = 0, i;
	int r = 0;

	for (i = 0; i < AGENT_MANAGEMENT_PORTS_N; i++)
		want[n_want++] = (struct agent_port){ NET_PROTO_ANY, management[i] };
	for (i = 0; i < n_ports && n_want < sizeof(want) / sizeof(want[0]); i++)
		want[n_want++] = ports[i];
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		char path[AGENT_PATH_MAX], *text = NULL;
		size_t len;
		int w = snprintf(path, sizeof(path), "%s/%s", proc, files[i].name);

		if (w < 0 || (size_t)w >= sizeof(path))
			return -ENAMETOOLONG;
		/* no IPv6, or no /proc in a sandbox: nothing listens there that we could see */
		if (agent_file_read(AT_FDCWD, path, AGENT_PROC_NET_MAX, &text, &len) < 0)
			continue;
		r = agent_proc_net_parse(text, len, files[i].proto, want, n_want, ret, &n, AGENT_LISTENING_MAX);
		free(text);
		if (r == -E2BIG)
			break;	/* a full list is still a true one */
	}
	*ret_n = n;
	return 0;
}

void
agent_host_facts(const struct agent_port *ports, size_t n_ports, bool known_supported, struct agent_status *st)
{
	st->supported = known_supported || agent_kernel_probe(st->reason, sizeof(st->reason));
	if (known_supported)
		st->reason[0] = '\0';
	/* a fact that cannot be read is reported empty rather than failing the whole status */
	if (agent_addrs_read(st->addrs, &st->n_addrs) < 0)
		st->n_addrs = 0;
	if (agent_listening_read("/proc", ports, n_ports, st->listening, &st->n_listening) < 0)
		st->n_listening = 0;
}

/* The host's facts for a join or a status: its name, OS, addresses, listening management ports, kernel support. */
#ifndef JITGATE_AGENT_HOST_H
#define JITGATE_AGENT_HOST_H

#include <stdbool.h>
#include <stddef.h>

#include "agent/agent-limits.h"
#include "codec/codec-agent.h"
#include "core/error.h"
#include "core/net.h"

/*
 * The parsers here are pure (pointer, length; no NUL trusted; nothing written
 * to ret on failure) and fuzzed (fuzz/fuzz-agent-host.c); the readers around
 * them are the only code that touches /etc, /proc or the kernel.
 */

/* The ports every agent reports when something listens on them: SSH, RDP, WinRM over HTTP and HTTPS. */
#define AGENT_MANAGEMENT_PORTS	{ 22, 3389, 5985, 5986 }
#define AGENT_MANAGEMENT_PORTS_N 4

/* What /etc/os-release says (empty strings where it says nothing); printable ASCII only. */
struct agent_os {
	char id[AGENT_OS_FIELD_MAX + 1];	/* "debian", "ubuntu", ... */
	char pretty_name[AGENT_OS_FIELD_MAX + 1];	/* "Debian GNU/Linux 12 (bookworm)" */
};

/*
 * Parse os-release(5) text: KEY=VALUE lines, values bare or in single or double
 * quotes (backslash escapes inside double quotes), '#' comments. Unknown keys
 * and malformed lines are passed over, as the format asks. Never fails.
 */
void agent_os_release_parse(const char *s, size_t n, struct agent_os *ret);

/*
 * Add the sockets of one /proc/net/{tcp,tcp6,udp,udp6} text that listen on a
 * port of `want` (NET_PROTO_ANY there matches both) to `out` (*n_out of
 * `max` used; kept sorted by number then protocol, each once). TCP counts in
 * state 0A (LISTEN); UDP in state 07 (bound, not connected). The header line
 * and lines that do not parse are passed over (a new kernel may add columns).
 * Returns how many matching sockets it saw; -E2BIG when a new port would not
 * fit (the ports added before it stay).
 */
int agent_proc_net_parse(const char *s, size_t n, enum net_proto proto, const struct agent_port *want, size_t n_want,
			 struct agent_port *out, size_t *n_out, size_t max);

/*
 * Add `a` to the sorted, duplicate-free list v (*n of max used) if it is a
 * global unicast address: not unspecified, loopback, link-local, multicast or
 * broadcast. When the list is full, the greatest address makes way, so the
 * result does not depend on the order addresses come in. Returns 1 if added,
 * 0 if not.
 */
int agent_addrs_add(struct net_addr *v, size_t *n, size_t max, const struct net_addr *a);

/* This host's addresses (getifaddrs), as above: at most API_ADDRS_MAX, sorted. */
int agent_addrs_read(struct net_addr *ret, size_t *ret_n);

/* The short host name (up to the first '.'), as the VM's default name. -ENAMETOOLONG if it does not fit. */
int agent_hostname_short(char *buf, size_t size);

/* /etc/os-release read and parsed (root may point it elsewhere for tests). -errno when unreadable. */
int agent_os_read(const char *path, struct agent_os *ret);

/* Can this kernel hold the table? Creates and frees an fw context; reason (the fw's message) when not. */
bool agent_kernel_probe(char *reason, size_t size);

/*
 * The listening sockets on the management ports and `ports` (the state's
 * protected ports; may be NULL with 0), read from /proc/net under `proc`
 * ("/proc" but for tests). Files that cannot be read are passed over.
 */
int agent_listening_read(const char *proc, const struct agent_port *ports, size_t n_ports, struct agent_port *ret,
			 size_t *ret_n);

/*
 * The host's part of a status: kernel support (probed only when `supported`
 * is not already known: pass true from an agent that holds an fw context),
 * addresses and listening sockets (the management ports and `ports`).
 */
void agent_host_facts(const struct agent_port *ports, size_t n_ports, bool known_supported, struct agent_status *st);

#endif

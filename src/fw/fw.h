/* The enforcement interface: the only door through which jitgate changes the kernel firewall. */
#ifndef JITGATE_FW_H
#define JITGATE_FW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/error.h"
#include "core/limits.h"
#include "core/net.h"
#include "core/timeutil.h"	/* time_now_ms(): the clock end times are measured against */

/*
 * What the kernel holds (table `inet jitgate`, see doc/kernel.md):
 *
 *   protected (VM, protocol, port)       -> new connections dropped
 *   grant (VM, source, protocol, port)   -> new connections accepted until the
 *                                           element's own kernel timeout ends
 *   established/related                  -> accepted, so open sessions outlive a grant
 *
 * A VM is either this host (FW_POINT_LOCAL: the input hook, every address the
 * host has now or later) or a machine routed through it (FW_POINT_GATEWAY: the
 * forward hook, matched by the VM's addresses).
 *
 * The fw context keeps the desired state it last applied (VMs, protected
 * ports, grants). Every call that changes it computes the kernel elements that
 * state implies, and sends the difference as ONE netlink batch: either all of
 * it takes effect or none. If the kernel is not what the context expected (an
 * element deleted by hand, the table flushed), the call falls back to a full
 * reconcile in one batch. A failed call leaves both the kernel and the context
 * as they were.
 *
 * Several grants may map to the same kernel key (the same person asking twice,
 * two people behind one address): the kernel holds one element ending at the
 * latest of their end times, commented with that grant's request id.
 * Overlapping CIDR grants are split into disjoint prefixes, each ending at the
 * latest end of the grants that cover it.
 */

enum fw_point {
	FW_POINT_LOCAL = 0,
	FW_POINT_GATEWAY = 1,
};

struct fw_vm {
	uint64_t id;			/* the caller's key for the VM */
	enum fw_point point;
	size_t n_addrs;			/* gateway: 1..FW_VM_ADDRS_MAX; local: ignored */
	struct net_addr addrs[FW_VM_ADDRS_MAX];
};

/* A protected (VM, protocol, port); NET_PROTO_ANY protects TCP and UDP. */
struct fw_port {
	uint64_t vm;
	enum net_proto proto;
	uint16_t port;
	/*
	 * Gateway DNAT: when dnat_addr.family is set (NET_INET or NET_INET6), the
	 * port is also reachable as dnat_addr:dnat_port (an address of this host),
	 * DNATed to the VM's first address of that family. Only for a grant that
	 * carries the same mapping; see struct fw_grant.
	 */
	struct net_addr dnat_addr;
	uint16_t dnat_port;
};

/*
 * An open window: `source` may reach `port` of `vm` until `end_ms` (Unix
 * time in milliseconds, UTC). A grant is identified by (request_id, vm,
 * proto, port); adding one with the same identity replaces it. A source of
 * "*" opens the port to every IPv4 and IPv6 address. A grant whose end has
 * passed is simply absent.
 *
 * A grant also never outlasts the time it had left when the context first saw
 * it, measured on CLOCK_MONOTONIC: a wall clock stepped back does not stretch
 * it (a step forward ends it early). A fresh context takes the time left of a
 * kernel element it finds with the grant's key and request id, when that is
 * shorter, so a restart does not stretch it either. The same grant given again
 * with another end gets the time that end leaves now, but never more than the
 * later of the deadline it had and that end read as when first seen: a caller
 * may hand its own (monotonic) bound after a step back without it counting twice.
 */
struct fw_grant {
	uint64_t vm;
	struct net_source source;
	enum net_proto proto;
	uint16_t port;
	int64_t end_ms;
	char request_id[FW_REQUEST_ID_MAX + 1];	/* [A-Za-z0-9._:-], 1..FW_REQUEST_ID_MAX */
	/*
	 * Gateway DNAT (the port's mapping, as in struct fw_port): the source may
	 * also open dnat_addr:dnat_port until the end, DNATed to the VM. Sources of
	 * the other family get no DNAT element. Not part of the identity.
	 */
	struct net_addr dnat_addr;
	uint16_t dnat_port;
};

/* A whole desired state, for fw_reconcile(). Arrays are the caller's. */
struct fw_state {
	const struct fw_vm *vms;
	size_t n_vms;
	const struct fw_port *ports;
	size_t n_ports;
	const struct fw_grant *grants;
	size_t n_grants;
};

/* The kernel's sets, by role. Names as in `nft list table inet jitgate`. */
enum fw_set {
	FW_SET_LOCAL_PROTECT,	/* proto . port */
	FW_SET_GW_PROTECT4,	/* daddr . proto . port */
	FW_SET_GW_PROTECT6,
	FW_SET_LOCAL_GRANT4,	/* saddr . proto . port, single sources (hash) */
	FW_SET_LOCAL_GRANT4_NET,	/* saddr range . proto . port (interval) */
	FW_SET_LOCAL_GRANT6,
	FW_SET_LOCAL_GRANT6_NET,
	FW_SET_GW_GRANT4,	/* daddr . saddr . proto . port */
	FW_SET_GW_GRANT4_NET,
	FW_SET_GW_GRANT6,
	FW_SET_GW_GRANT6_NET,
	FW_SET_DNAT_GRANT4,	/* public daddr . saddr . proto . mapped port: DNAT these (nat prerouting) */
	FW_SET_DNAT_GRANT4_NET,
	FW_SET_DNAT_GRANT6,
	FW_SET_DNAT_GRANT6_NET,
	FW_SET_COUNT,
};

/* One kernel element, as fw_list() reads it back or as a state implies it. */
struct fw_elem {
	enum fw_set set;
	struct net_addr dst;		/* gateway sets only; zero otherwise */
	struct net_prefix src;		/* grant sets only; zero otherwise */
	uint8_t proto;			/* NET_PROTO_TCP or NET_PROTO_UDP, never ANY */
	uint16_t port;
	int64_t end_ms;			/* grant sets: absolute end; the kernel reports whole seconds */
	char comment[FW_REQUEST_ID_MAX + 1];	/* grant sets: the request id */
};

/* What one call changed in the kernel. */
struct fw_changes {
	size_t added;		/* elements that were not there */
	size_t removed;		/* elements that should not have been there */
	size_t updated;		/* elements re-added with another end time or request id */
	size_t kept;		/* elements already right (reconcile only) */
	bool rebuilt;		/* the table was missing or foreign and was created afresh */
};

/* Error codes put in struct core_error by this module. */
#define FW_ERR_UNAVAILABLE	"FirewallUnavailable"	/* no nftables, or the kernel lacks a feature */
#define FW_ERR_REJECTED		"FirewallRejected"	/* the kernel refused a batch; nothing changed */
#define FW_ERR_INVALID		"InvalidFirewallState"	/* bad input: unknown VM, bad request id, ... */

struct fw;

/* A context bound to the caller's network namespace. */
int fw_new(struct fw **ret, struct core_error *err);
/*
 * A context keeps libnftables' context between batches: its cache (four 8192-bucket hash tables
 * per table, ~0.5 MB) makes a batch that follows another at once about 5 ms quicker. fw_rest()
 * lets it go once no batch used it for idle_ms (now_ms: time_mono_ms()); the next batch, a revoke
 * as any other, makes a new one. Returns when to call again (monotonic ms), INT64_MAX when
 * nothing is held (also a helper's context). jitgate-agent calls it from its loop; jitgated never.
 */
int64_t fw_rest(struct fw *fw, int64_t now_ms, int64_t idle_ms);
void fw_free(struct fw *fw);

/*
 * Make the kernel hold exactly `desired` (creating the table, sets and chains
 * if they are missing or not ours, restoring rules someone flushed), in one
 * batch. Elements already right are left alone, so their timers keep running.
 * Fails with FW_ERR_UNAVAILABLE when the kernel cannot hold the table at all;
 * err->message then says why, for the VM's Unsupported reason.
 */
int fw_reconcile(struct fw *fw, const struct fw_state *desired, struct fw_changes *ret_changes,
		 struct core_error *err);

/*
 * fw_reconcile() with the caller's arrays taken over rather than copied (a state
 * of 100,000 grants is 11 MB): vms, ports and grants must come from malloc (NULL
 * with a count of 0 is fine) and are the context's from the call on, whatever it
 * returns. The caller must neither use nor free them afterwards.
 */
int fw_reconcile_take(struct fw *fw, struct fw_vm *vms, size_t n_vms, struct fw_port *ports, size_t n_ports,
		      struct fw_grant *grants, size_t n_grants, struct fw_changes *ret_changes, struct core_error *err);

/*
 * Move to `desired` by sending only what differs from the state this context
 * last applied (no read-back of the kernel; it falls back to fw_reconcile if the
 * kernel refuses). For policy changes, where the caller rebuilds the whole state.
 */
int fw_set_state(struct fw *fw, const struct fw_state *desired, struct fw_changes *ret_changes, struct core_error *err);

/* Replace the VMs and protected ports; grants of VMs that are gone are dropped too. */
int fw_protect_set(struct fw *fw, const struct fw_vm *vms, size_t n_vms, const struct fw_port *ports,
		   size_t n_ports, struct fw_changes *ret_changes, struct core_error *err);

/* Add (or replace, by identity) grants, all or none. */
int fw_grant_add(struct fw *fw, const struct fw_grant *grants, size_t n, struct fw_changes *ret_changes,
		 struct core_error *err);

/*
 * Add `add` and remove `remove` (by identity) in one batch: a newer request
 * superseding an older one never leaves a moment with both or neither.
 */
int fw_grant_update(struct fw *fw, const struct fw_grant *add, size_t n_add, const struct fw_grant *remove,
		    size_t n_remove, struct fw_changes *ret_changes, struct core_error *err);

/*
 * End the open sessions these grants let in: delete the conntrack entries of
 * connections from the grant's source to its port (and, for a gateway VM, to
 * its addresses), so established traffic is no longer accepted. Call after the
 * grants are removed, or a new packet would just open the session again.
 */
int fw_sessions_kill(struct fw *fw, const struct fw_grant *grants, size_t n, size_t *ret_killed,
		     struct core_error *err);

/* Remove grants by identity (request_id, vm, proto, port; other fields ignored). Unknown ones are ignored. */
int fw_grant_remove(struct fw *fw, const struct fw_grant *grants, size_t n, struct fw_changes *ret_changes,
		    struct core_error *err);

/*
 * Read what the kernel holds in table `inet jitgate`: every element of every
 * set, sorted. *ret is the caller's to free(). -ENOENT if there is no table.
 */
int fw_list(struct fw *fw, struct fw_elem **ret, size_t *ret_n, struct core_error *err);

const char *fw_set_name(enum fw_set set);
bool fw_set_is_grant(enum fw_set set);
bool fw_set_is_interval(enum fw_set set);
bool fw_set_has_dst(enum fw_set set);
int fw_set_family(enum fw_set set);	/* NET_INET, NET_INET6, or 0 for FW_SET_LOCAL_PROTECT */

/*
 * Watching for tampering: a netlink listener that reports when a transaction
 * by another process changed table inet jitgate (elements added or deleted,
 * chains flushed, the table deleted, `nft flush ruleset`). The caller polls
 * fw_monitor_fd() for input, calls fw_monitor_read(), and reconciles when
 * told. Kernel expiry of elements is not a transaction and is not reported.
 */
#define FW_MONITOR_OWN_MAX 4	/* our own processes (the firewall helper, later) */

struct fw_tamper {
	bool tampered;		/* someone else changed our table */
	bool overflow;		/* notifications were lost, so assume so */
	pid_t pid;		/* who, as the kernel names the committing process */
	char name[64];
};

struct fw_monitor;
int fw_monitor_open(struct fw_monitor **ret, struct core_error *err);
void fw_monitor_close(struct fw_monitor *m);
int fw_monitor_fd(const struct fw_monitor *m);
/* Changes by this pid are ours too (this process is always ours). */
int fw_monitor_add_own_pid(struct fw_monitor *m, pid_t pid);
/* Read every pending notification (never blocks). */
int fw_monitor_read(struct fw_monitor *m, struct fw_tamper *ret);

/*
 * Privilege separation: the kernel work can run in a helper process that keeps
 * only CAP_NET_ADMIN (see src/daemon/privsep.c). The helper runs
 * fw_helper_run() on one end of a SOCK_SEQPACKET socketpair; the daemon calls
 * fw_connect() on the other and uses the context it gets like one from
 * fw_new(): every call above is sent to the helper as fixed, checked messages
 * (src/fw/fw-wire.h) and answered there by an fw_new() context. fw_list() is
 * not served (-EOPNOTSUPP). When the helper is gone, every call fails with
 * -EPIPE and FW_ERR_UNAVAILABLE, and the kernel keeps what it holds: the
 * caller connects to a new helper and reconciles.
 */

/* Wait for the helper's greeting on fd (owned from here on, closed on failure); its fw_new() error if it had one. */
int fw_connect(int fd, struct fw **ret, struct core_error *err);

/*
 * The helper's tamper reports (it runs the fw_monitor): poll fw_events_fd()
 * (-1 for an fw_new() context, which has none) and call fw_events_read(), which
 * never blocks. -EPIPE: the helper is gone (EOF, or it broke the protocol).
 */
int fw_events_fd(const struct fw *fw);
int fw_events_read(struct fw *fw, struct fw_tamper *ret);

/*
 * The helper's side: fw_new() and fw_monitor_open(), greet the client, then
 * apply what it sends until it closes fd. Exits (returns) on any malformed
 * message without touching the kernel. Returns an FW_HELPER_EXIT_* status
 * for the process's exit.
 */
#define FW_HELPER_EXIT_OK		0	/* the client closed the socket */
#define FW_HELPER_EXIT_NOMEM		2
#define FW_HELPER_EXIT_MALFORMED	3	/* a message broke the protocol */
#define FW_HELPER_EXIT_IO		4	/* the socket failed */
#define FW_HELPER_EXIT_UNAVAILABLE	69	/* the kernel cannot hold the table: no use restarting */
int fw_helper_run(int fd);

/*
 * Is (addr, port) a DNAT mapping `vm` may carry (struct fw_port, struct fw_grant): none (family 0,
 * port 0), or a gateway VM's with an address of that family? A state with one that is not is refused.
 */
bool fw_dnat_is_valid(const struct fw_vm *vm, const struct net_addr *addr, uint16_t port);

/* Is `id` a valid request id for an element comment? */
bool fw_request_id_is_valid(const char *id);

#endif

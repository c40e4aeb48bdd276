/* The messages between jitgated and its firewall helper: fixed, typed records on a SOCK_SEQPACKET socketpair. */
#ifndef JITGATE_FW_WIRE_H
#define JITGATE_FW_WIRE_H

#include <stdbool.h>
#include <stdint.h>

#include "fw.h"

/*
 * One message is one SEQPACKET record: a header, then `len` bytes of payload.
 * Both sides are the same binary on the same host, so integers travel in host
 * order; every record has a fixed size with explicit padding, and padding must
 * be zero (so no byte of a record is ever left to interpretation).
 *
 *   helper -> client   HELLO   once, at start: fw_new()'s outcome (a REPLY payload)
 *   client -> helper   BEGIN   {op, counts}; then chunks of records in this order:
 *                      VMS*    struct fw_wire_vm[]
 *                      PORTS*  struct fw_wire_port[]
 *                      GRANTS* struct fw_wire_grant[]   grants to hold (state, or added)
 *                      REFS*   struct fw_wire_grant[]   grants named (removed, or sessions to end)
 *                      COMMIT  (no payload) once every count of BEGIN has arrived
 *   helper -> client   REPLY   {status, changes, killed, error}, same seq as BEGIN
 *   helper -> client   TAMPER  what its fw_monitor saw, whenever it sees it (seq 0)
 *
 * Every message of one transfer carries BEGIN's seq, which counts up by one
 * from 1. The helper checks each field again (the client checks the same before
 * sending) and exits on anything malformed: it never guesses what was meant.
 */

#define FW_WIRE_MSG_MAX		(64 * 1024)	/* one message, header included */
#define FW_WIRE_VMS_MAX		65536		/* VMs in one transfer */
#define FW_WIRE_PORTS_MAX	(1024 * 1024)	/* protected ports in one transfer */
#define FW_WIRE_GRANTS_MAX	(1024 * 1024)	/* grants (or refs) in one transfer */
#define FW_WIRE_CLOCK_SLACK_MS	(60 * 1000)	/* an end may pass now + FW_TIMEOUT_MAX_MS by this */
#define FW_WIRE_PAST_MS		(24LL * 3600 * 1000)	/* a grant to hold may have ended this long ago (it is skipped) */
#define FW_WIRE_REPLY_TIMEOUT_MS (120 * 1000)	/* the client gives up on a helper that does not answer */

enum fw_wire_type {
	FW_WIRE_HELLO = 1,
	FW_WIRE_BEGIN = 2,
	FW_WIRE_VMS = 3,
	FW_WIRE_PORTS = 4,
	FW_WIRE_GRANTS = 5,
	FW_WIRE_REFS = 6,
	FW_WIRE_COMMIT = 7,
	FW_WIRE_REPLY = 8,
	FW_WIRE_TAMPER = 9,
};

/* What a transfer asks for, and which of BEGIN's counts it may use. */
enum fw_wire_op {
	FW_WIRE_OP_RECONCILE = 1,	/* vms, ports, grants */
	FW_WIRE_OP_SET_STATE = 2,	/* vms, ports, grants */
	FW_WIRE_OP_PROTECT_SET = 3,	/* vms, ports */
	FW_WIRE_OP_GRANT_UPDATE = 4,	/* grants (added), refs (removed) */
	FW_WIRE_OP_SESSIONS_KILL = 5,	/* refs */
};

struct fw_wire_hdr {
	uint32_t type;		/* enum fw_wire_type */
	uint32_t len;		/* payload bytes after this header */
	uint64_t seq;
};

struct fw_wire_addr {
	uint8_t family;		/* 0 (unused slot), NET_INET or NET_INET6 */
	uint8_t bytes[16];	/* IPv4: bytes 0..3, the rest zero */
};

struct fw_wire_vm {
	uint64_t id;
	uint8_t point;		/* enum fw_point */
	uint8_t n_addrs;	/* gateway: 1..FW_VM_ADDRS_MAX; local: 0 */
	uint8_t pad[6];
	struct fw_wire_addr addrs[FW_VM_ADDRS_MAX];	/* unused slots all zero */
};

struct fw_wire_port {
	uint64_t vm;
	uint8_t proto;		/* NET_PROTO_ANY, _TCP or _UDP */
	uint8_t dnat_family;	/* 0 (no DNAT: dnat_port and dnat_addr zero), NET_INET or NET_INET6 */
	uint16_t port;		/* 1..65535 */
	uint16_t dnat_port;	/* 1..65535 with a dnat_family */
	uint8_t pad2[2];
	uint8_t dnat_addr[16];	/* IPv4: bytes 0..3, the rest zero */
};

struct fw_wire_grant {
	uint64_t vm;
	uint8_t any;		/* 1: every address ("*"); family, prefix_len and addr are then zero */
	uint8_t family;
	uint8_t prefix_len;	/* within the family; host bits beyond it zero */
	uint8_t proto;
	uint16_t port;
	uint8_t dnat_family;	/* as in struct fw_wire_port */
	uint8_t pad;
	int64_t end_ms;
	uint8_t addr[16];
	char request_id[FW_REQUEST_ID_MAX + 1];	/* NUL-terminated, zero after the NUL */
	uint8_t pad2[7];
	uint8_t dnat_addr[16];
	uint16_t dnat_port;
	uint8_t pad3[6];
};

struct fw_wire_begin {
	uint32_t op;		/* enum fw_wire_op */
	uint32_t pad;
	uint64_t n_vms, n_ports, n_grants, n_refs;
};

/* HELLO and REPLY. */
struct fw_wire_reply {
	int32_t status;		/* 0 or a negative errno */
	uint8_t rebuilt;
	uint8_t pad[3];
	uint64_t added, removed, updated, kept;
	uint64_t killed;	/* sessions ended (SESSIONS_KILL) */
	struct core_error err;	/* NUL-terminated strings when status < 0; all zero otherwise */
};

struct fw_wire_tamper {
	uint8_t tampered;
	uint8_t overflow;
	uint8_t pad[2];
	int32_t pid;
	char name[64];		/* NUL-terminated */
};

_Static_assert(sizeof(struct fw_wire_hdr) == 16, "fw_wire_hdr has no hidden padding");
_Static_assert(sizeof(struct fw_wire_addr) == 17, "fw_wire_addr is packed by nature");
_Static_assert(sizeof(struct fw_wire_vm) == 16 + 17 * FW_VM_ADDRS_MAX, "fw_wire_vm has no hidden padding");
_Static_assert(sizeof(struct fw_wire_port) == 32, "fw_wire_port has no hidden padding");
_Static_assert(sizeof(struct fw_wire_grant) == 136, "fw_wire_grant has no hidden padding");
_Static_assert(sizeof(struct fw_wire_begin) == 40, "fw_wire_begin has no hidden padding");

/* Records per chunk message. */
#define FW_WIRE_CHUNK_VMS	((FW_WIRE_MSG_MAX - sizeof(struct fw_wire_hdr)) / sizeof(struct fw_wire_vm))
#define FW_WIRE_CHUNK_PORTS	((FW_WIRE_MSG_MAX - sizeof(struct fw_wire_hdr)) / sizeof(struct fw_wire_port))
#define FW_WIRE_CHUNK_GRANTS	((FW_WIRE_MSG_MAX - sizeof(struct fw_wire_hdr)) / sizeof(struct fw_wire_grant))

/*
 * Conversions between fw.h's structs and wire records. The encoders check what
 * they encode by the same rules as the decoders, so a well-behaved client never
 * sends what would make the helper exit; they fail with FW_ERR_INVALID instead.
 * `now_ms` bounds end times: grants held end within [now - FW_WIRE_PAST_MS,
 * now + FW_TIMEOUT_MAX_MS + FW_WIRE_CLOCK_SLACK_MS]; refs within [0, the same upper bound].
 */
int fw_wire_vm_encode(const struct fw_vm *v, struct fw_wire_vm *ret, struct core_error *err);
int fw_wire_vm_decode(const struct fw_wire_vm *w, struct fw_vm *ret);
int fw_wire_port_encode(const struct fw_port *p, struct fw_wire_port *ret, struct core_error *err);
int fw_wire_port_decode(const struct fw_wire_port *w, struct fw_port *ret);
int fw_wire_grant_encode(const struct fw_grant *g, bool ref, int64_t now_ms, struct fw_wire_grant *ret,
			 struct core_error *err);
int fw_wire_grant_decode(const struct fw_wire_grant *w, bool ref, int64_t now_ms, struct fw_grant *ret);
/* A reply or tamper record as received: NUL-terminated strings, zero padding. */
bool fw_wire_reply_is_valid(const struct fw_wire_reply *w);
bool fw_wire_tamper_is_valid(const struct fw_wire_tamper *w);

#endif

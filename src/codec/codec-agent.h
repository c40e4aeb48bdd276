/* The agent protocol's JSON bodies: join, the VM's desired state (the watch's answer) and the agent's status. */
#ifndef JITGATE_CODEC_AGENT_H
#define JITGATE_CODEC_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "codec/codec-limits.h"
#include "core/error.h"
#include "core/limits.h"
#include "core/net.h"

/*
 * jitgate-agent speaks to jitgated over HTTPS with these bodies (jitgate's own
 * protocol, not Azure's). The server encodes the state and decodes join and
 * status; the agent does the reverse. Both sides decode with the rules of
 * codec.h (InvalidJson, InvalidType, MissingField with the field's path; unknown
 * fields ignored; nothing written to ret on failure). The agent treats a state
 * it cannot decode as hostile: it keeps enforcing its last good one.
 */

/* A protected port of the agent's VM: closed in its kernel unless a grant opens it. */
struct agent_port {
	enum net_proto proto;
	uint16_t number;
};

/*
 * A live grant. It ends at the earlier of end_ns (wall clock, UTC) and
 * left_ms after the agent receives it: an agent whose clock is behind the
 * server's, or a state that was slow to arrive, never stretches a grant.
 */
struct agent_grant {
	char request_id[FW_REQUEST_ID_MAX + 1];	/* [A-Za-z0-9._:-], 1..FW_REQUEST_ID_MAX */
	struct net_source source;
	enum net_proto proto;
	uint16_t port;
	int64_t end_ns;
	int64_t left_ms;	/* 0..FW_TIMEOUT_MAX_MS */
};

/*
 * A revoke with terminateSessions of one of the VM's grants, made at `revision` (the VM's revision
 * after the revoke's transaction): the agent deletes the conntrack entries of the sessions it let in
 * (from source to port) once, when it applies a state newer than what it had when the revoke was made.
 */
struct agent_termination {
	char request_id[FW_REQUEST_ID_MAX + 1];
	struct net_source source;
	enum net_proto proto;
	uint16_t port;
	int64_t revision;	/* 1..the state's revision */
};

/*
 * A VM's whole desired state at one revision:
 * {"vm": ARM id, "revision": N, "serverTimeUtc": T,
 *  "ports": [{"number": 22, "protocol": "TCP"|"UDP"|"*"}],
 *  "grants": [{"requestId", "source": "10.0.0.0/24"|"*", "protocol", "number", "endTimeUtc", "remainingMs"}],
 *  "terminations": [{"requestId", "source", "protocol", "number", "revision"}]}
 * Ports: at most AGENT_PORTS_MAX, no (protocol, number) twice ("DuplicatePort");
 * grants: at most AGENT_GRANTS_MAX; terminations (optional: absent is none): at most
 * AGENT_TERMINATIONS_MAX, none with a revision above the state's.
 */
struct agent_state {
	char vm[ARM_ID_MAX + 1];
	int64_t revision;	/* 0..INT64_MAX; grows with every write that touches the VM */
	int64_t server_ns;	/* the server's clock when it wrote the state (for reports of skew) */
	size_t n_ports;
	struct agent_port *ports;	/* owned */
	size_t n_grants;
	struct agent_grant *grants;	/* owned */
	size_t n_terminations;
	struct agent_termination *terminations;	/* owned */
};

int codec_agent_state_decode(const char *body, size_t n, struct agent_state **ret, struct core_error *err);
json_t *codec_agent_state_encode(const struct agent_state *s);
void codec_agent_state_free(struct agent_state *s);

/*
 * What an agent reports (POST of its status, and the body of a join):
 * {"revision": N (the last state it applied; -1: none yet), "version": "…",
 *  "kernel": {"supported": bool, "reason": "…"}, "addresses": ["10.0.0.4", …],
 *  "listening": [{"number", "protocol"}] (management and policy ports with a listening socket),
 *  "tamperUndone": N (changes to its kernel table it undid since it started), "error": "…" (the last
 *  state it refused, empty if none)}
 */
struct agent_status {
	int64_t revision;
	char version[AGENT_VERSION_MAX + 1];
	bool supported;
	char reason[AGENT_REASON_MAX + 1];
	size_t n_addrs;
	struct net_addr addrs[API_ADDRS_MAX];
	size_t n_listening;
	struct agent_port listening[AGENT_LISTENING_MAX];
	int64_t tamper_undone;
	char error[AGENT_REASON_MAX + 1];
};

int codec_agent_status_decode(const char *body, size_t n, struct agent_status *ret, struct core_error *err);
json_t *codec_agent_status_encode(const struct agent_status *s);

/*
 * A join: the status fields plus {"name": VM name (ARM rules), "osType": "Linux"|"Windows"}.
 * Its answer: {"vm": ARM id, "credential": the agent's secret, "revision": N}.
 */
struct agent_join {
	char name[ARM_VM_NAME_MAX + 1];
	char os_type[API_OS_TYPE_MAX];
	struct agent_status status;
};

struct agent_joined {
	char vm[ARM_ID_MAX + 1];
	char credential[AGENT_CREDENTIAL_MAX + 1];
	int64_t revision;
};

int codec_agent_join_decode(const char *body, size_t n, struct agent_join *ret, struct core_error *err);
json_t *codec_agent_join_encode(const struct agent_join *j);
int codec_agent_joined_decode(const char *body, size_t n, struct agent_joined *ret, struct core_error *err);
json_t *codec_agent_joined_encode(const struct agent_joined *j);

#endif

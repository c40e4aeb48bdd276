/* A VM's desired state as the agent holds it: conversion to the fw's state, and state.json in the state directory. */
#ifndef JITGATE_AGENT_STATE_H
#define JITGATE_AGENT_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codec/codec-agent.h"
#include "core/buf.h"
#include "core/error.h"
#include "fw/fw.h"

#define AGENT_STATE_FILE	"state.json"
#define AGENT_STATE_VOID_FILE	"state.json.void"	/* an older state.json set aside: its grants are void */
#define AGENT_FW_VM		1	/* the fw's key for the one VM an agent enforces: its own host */

/* Error codes of this module (struct core_error). */
#define AGENT_ERR_WRONG_VM	"WrongVirtualMachine"	/* a state for another VM than the one joined */
#define AGENT_ERR_STATE		"InvalidAgentState"	/* state.json or a state the fw would refuse */

/* The fw's desired state for one agent state: arrays from malloc, for fw_reconcile_take(). */
struct agent_fw {
	struct fw_vm *vms;
	size_t n_vms;
	struct fw_port *ports;
	size_t n_ports;
	struct fw_grant *grants;
	size_t n_grants;
};

void agent_fw_free(struct agent_fw *f);	/* frees the arrays (NULL-safe); the struct may be reused */

/*
 * When a grant ends, in Unix ms: the earlier of its endTimeUtc and remainingMs
 * after the state was received (received_ms, the agent's wall clock then).
 */
int64_t agent_grant_end_ms(const struct agent_grant *g, int64_t received_ms);

/*
 * Convert s, received at received_ms, into the fw's state for this host (one
 * FW_POINT_LOCAL VM): its protected ports and its grants, each ending at
 * agent_grant_end_ms(). Refuses (AGENT_ERR_WRONG_VM) a state whose vm is not
 * `vm` (compared as ARM ids: names case-insensitive), and (AGENT_ERR_STATE)
 * one the fw would refuse, judged at now_ms by the fw's own model without
 * touching the kernel. Pure. On failure nothing is written to ret.
 */
int agent_state_to_fw(const struct agent_state *s, const char *vm, int64_t received_ms, int64_t now_ms,
		      struct agent_fw *ret, struct core_error *err);

/*
 * The sessions to end when s is applied by an agent that had applied up to revision `after`: each
 * termination made after it, in the fw's form (a grant of this host's VM whose sessions end;
 * fw_sessions_kill()). *ret from malloc (NULL when none). Pure. -ENOMEM.
 */
int agent_terminations_due(const struct agent_state *s, int64_t after, struct fw_grant **ret, size_t *ret_n);

/*
 * state.json: {"receivedTimeUtc": T, "state": BODY} with BODY the state's
 * JSON as it was received (bytes unchanged) and T the agent's clock then.
 * encode appends it to out; decode (pure, fuzzed) gives the decoded state
 * (codec_agent_state_decode's rules) and the time.
 */
int agent_state_file_encode(const char *body, size_t n, int64_t received_ms, struct buf *out);
int agent_state_file_decode(const char *text, size_t n, struct agent_state **ret, int64_t *ret_received_ms,
			    struct core_error *err);

/*
 * Write state.json in dirfd atomically (0600); body (s as received) must
 * already have decoded. When that fails (a full disk), make sure a restart
 * cannot enforce the older state.json's grants: state.floor is set to s's
 * ports (agent-floor.h), or else state.json is renamed to
 * AGENT_STATE_VOID_FILE. err says which; the return is the write's failure.
 */
int agent_state_save(int dirfd, const struct agent_state *s, const char *body, size_t n, int64_t received_ms,
		     struct core_error *err);

/*
 * The saved state a (re)start enforces: state.json (or AGENT_STATE_VOID_FILE
 * when there is none), unless state.floor is set to a higher revision (then
 * that: ports, no grants) or is torn (then state.json without its grants).
 * *ret_voided (may be NULL) says the grants were dropped so: the server must
 * send the whole state again. -ENOENT (err set) when nothing is saved.
 */
int agent_state_load(int dirfd, struct agent_state **ret, int64_t *ret_received_ms, bool *ret_voided,
		     struct core_error *err);

#endif

/* The pure parts of the agent's network half: retry schedule, server rotation, the disconnected deadline, request URLs. */
#ifndef JITGATE_AGENT_NET_H
#define JITGATE_AGENT_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/agent-limits.h"
#include "core/buf.h"
#include "codec/codec-agent.h"

/* A random source: a uniform 64-bit value each call (tests inject their own). */
typedef uint64_t (*agent_rand_fn)(void *arg);

/*
 * Exponential backoff with full jitter: the n-th retry in a row (n = *attempt,
 * from 0) waits a uniform time in [AGENT_BACKOFF_MIN_MS, min(AGENT_BACKOFF_MAX_MS,
 * AGENT_BACKOFF_MIN_MS * 2^n)], so that a fleet cut off at once does not come back
 * in step. Increments *attempt (which a success sets back to 0).
 */
int64_t agent_backoff_next_ms(unsigned *attempt, agent_rand_fn rnd, void *arg);

/* The server to try after server `cur` failed, of n (round robin). */
size_t agent_server_next(size_t cur, size_t n);

/*
 * Has max_disconnected passed since the last successful answer (monotonic
 * ms)? max_ms 0 means never.
 */
bool agent_disconnected_expired(int64_t last_ok_ms, int64_t max_ms, int64_t now_ms);

/*
 * The last contact with a server, for max_disconnected: now while a poll
 * started at poll_started_ms is within the server's hold (AGENT_SERVER_HOLD_MS
 * + AGENT_HOLD_SLACK_MS: a server that holds a watch is not silent), else the
 * last successful answer.
 */
int64_t agent_contact_ms(int64_t last_ok_ms, bool polling, int64_t poll_started_ms, int64_t now_ms);

/* When it will (INT64_MAX: never). */
int64_t agent_disconnected_deadline(int64_t last_ok_ms, int64_t max_ms);

/*
 * The URLs of the agent endpoints (doc/agent-protocol.md), the server's
 * trailing '/' dropped: server + "/agent/v1/join", server + "/agent/v1" + vm +
 * "/state?since=N" (N = since; -1 asks for an answer at once) and server +
 * "/agent/v1" + vm + "/status". The vm must be an ARM id (characters a URL
 * carries as they are); -ENAMETOOLONG when the URL does not fit in size.
 */
int agent_url_join(const char *server, char *buf, size_t size);
int agent_url_state(const char *server, const char *vm, int64_t since, char *buf, size_t size);
int agent_url_status(const char *server, const char *vm, char *buf, size_t size);
int agent_url_rotate(const char *server, const char *vm, char *buf, size_t size);	/* ... + "/rotate" */

/*
 * What the watch does with an answer to the long poll (status, and the body
 * when 200), decided without I/O: AGENT_ANSWER_STATE (decode and apply it),
 * AGENT_ANSWER_REVOKED (401: stop asking, keep enforcing), AGENT_ANSWER_RETRY
 * (5xx, 429, or another status: back off and try the next server).
 */
enum agent_answer { AGENT_ANSWER_STATE, AGENT_ANSWER_REVOKED, AGENT_ANSWER_RETRY };
enum agent_answer agent_answer_kind(long status);

/*
 * The state with no grants: s's VM, revision and protected ports (what
 * max_disconnected leaves in force). *ret is the caller's to free.
 */
int agent_state_without_grants(const struct agent_state *s, struct agent_state **ret);

/* The status body to post: codec_agent_status_encode's JSON appended to out. */
int agent_status_body(const struct agent_status *st, struct buf *out);

#endif

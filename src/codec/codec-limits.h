/* Limits the wire format keeps on a decoded body, named in one place (see also core/limits.h). */
#ifndef JITGATE_CODEC_LIMITS_H
#define JITGATE_CODEC_LIMITS_H

#include "core/limits.h"

#define API_JSON_DEPTH_MAX	32		/* nesting of arrays and objects in a request body */
#define API_STRING_MAX		4096		/* any one JSON string in a request body */
#define API_INITIATE_VMS_MAX	POLICY_VMS_MAX	/* VMs in one initiate or revoke body */
#define API_INITIATE_PORTS_MAX	POLICY_PORTS_MAX	/* ports per VM in one initiate or revoke body */
#define API_ADDRS_MAX		FW_VM_ADDRS_MAX	/* addresses of one VM in an inventory PUT */
#define API_APPROVAL_REASON_MAX	256		/* why an approver approved or denied (the activity log keeps it) */
#define API_APPROVAL_ID_MAX	64		/* a request's id in an approval body (a store id, STORE_ID_MAX) */
#define API_JUSTIFICATION_MAX	1024		/* an initiate body's justification (src/api asserts it fits the store's) */
#define API_OS_TYPE_MAX		16		/* "Linux" or "Windows" with its NUL, in struct codec_vm */


/* The agent protocol (codec-agent.h). */
#define AGENT_PORTS_MAX		POLICY_PORTS_MAX	/* protected ports in one VM's state */
#define AGENT_GRANTS_MAX	16384		/* live grants in one VM's state: more is refused, the last good state stays */
#define AGENT_STATE_BODY_MAX	(4 * 1024 * 1024)	/* a state's JSON as the agent reads it (16,384 grants fit) */
#define AGENT_VERSION_MAX	63		/* an agent's version string */
#define AGENT_REASON_MAX	255		/* why a kernel is unsupported, or the last error, as an agent reports it */
#define AGENT_LISTENING_MAX	64		/* listening management ports in one status */
#define AGENT_CREDENTIAL_MAX	127		/* an agent credential's text */
#define AGENT_WATCH_WAIT_MS	(30 * 1000)	/* how long the server holds a watch when nothing changes */
/*
 * Revokes with terminateSessions a state carries (the newest), and how long each is carried: an agent
 * cut off longer, or through more of them, misses the oldest (doc/agent-protocol.md, "Terminations").
 */
#define AGENT_TERMINATIONS_MAX	256
#define AGENT_TERMINATION_KEEP_MS (24LL * 60 * 60 * 1000)

#endif

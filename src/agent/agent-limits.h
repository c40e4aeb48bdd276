/* Every limit jitgate-agent keeps on its host and its files, named in one place (the wire's are in codec/codec-limits.h). */
#ifndef JITGATE_AGENT_LIMITS_H
#define JITGATE_AGENT_LIMITS_H

#include "codec/codec-limits.h"

/* The host's facts (agent-host.c). */
#define AGENT_OS_RELEASE_MAX	(64 * 1024)	/* bytes of /etc/os-release read */
#define AGENT_OS_FIELD_MAX	127		/* ID and PRETTY_NAME as kept (longer values are cut) */
#define AGENT_PROC_NET_MAX	(64 * 1024 * 1024)	/* bytes of one /proc/net/{tcp,udp}[6]: ~400,000 sockets */
#define AGENT_HOSTNAME_MAX	255		/* gethostname(), as POSIX's HOST_NAME_MAX */

/* The state directory (agent-state.c). */
#define AGENT_STATE_FILE_MAX	(AGENT_STATE_BODY_MAX + 4096)	/* state.json: the body plus its envelope */
/* state.floor (agent-floor.c), preallocated: a state without grants (64 ports of ~36 bytes, a VM id) and a header */
#define AGENT_FLOOR_FILE_SIZE	(16 * 1024)
#define AGENT_CONF_MAX		(16 * 1024)	/* bytes of agent.conf */
#define AGENT_CONF_LINE_MAX	1024		/* one line of agent.conf */
#define AGENT_SERVERS_MAX	8		/* server URLs tried in turn */
#define AGENT_URL_MAX		512		/* one server URL */
#define AGENT_PATH_MAX		1024		/* the CA file's path, the state directory's */
#define AGENT_FINGERPRINT_LEN	32		/* a SHA-256 certificate fingerprint, in bytes */
#define AGENT_CREDENTIAL_FILE_MAX (AGENT_CREDENTIAL_MAX + 2)	/* the credential and a newline */

/* The run loop (agent.c). */
#define AGENT_TICK_MS		1000		/* the loop wakes at least this often (signals and the monitor wake it sooner) */
#define AGENT_RECONCILE_MS	(60 * 1000)	/* a full reconcile with the kernel this often, tampered or not */

/* The network (agent-net.c, agent-watch.c, agent-join.c). */
#define AGENT_SERVER_HOLD_MS	(30 * 1000)	/* how long the server holds a watch (its AGENT_WATCH_WAIT_MS) */
#define AGENT_HOLD_SLACK_MS	(5 * 1000)	/* ... and the slack a held poll gets before it counts as silence */
#define AGENT_WATCH_TIMEOUT_MS	(45 * 1000)	/* one long poll: above the server's 30 s hold */
#define AGENT_CALL_TIMEOUT_MS	(15 * 1000)	/* a join or a status post */
#define AGENT_STATUS_EVERY_S	60		/* a status at least this often, applied or not */
#define AGENT_STATUS_THROTTLED_MS (15 * 1000)	/* a status answered 429 (the VM's budget): posted again after this, watching meanwhile */
#define AGENT_BACKOFF_MIN_MS	500		/* the first retry after a failure waits 0.5 s to ... */
#define AGENT_BACKOFF_MAX_MS	(60 * 1000)	/* ... twice as long each time, up to a minute (full jitter within) */
#define AGENT_REVOKED_RETRY_MS	(5 * 60 * 1000)	/* a revoked credential (401): ask again this seldom */
#define AGENT_ERROR_BODY_MAX	(64 * 1024)	/* a join's or a status's answer (an error body) */
#define AGENT_INSTANCE_BYTES	16		/* the random id of one run (?instance=, hex): two agents sharing a credential show */

/* Memory (agent.c, agent-watch.c): the resident size is a target (issue 13, bench/RESULTS.md). */
#define AGENT_LEAN_IDLE_MS	1000		/* libnftables' context (its cache, ~0.5-1 MB resident) is freed after this
						 * long with no batch: freeing it after every batch cost ~5 ms on a batch
						 * that follows another at once (a grant right after a revoke, a reconcile) */
#define AGENT_MMAP_THRESHOLD	(128 * 1024)	/* malloc maps blocks this large on their own, given back when freed:
						 * libnftables' cache tables (128 KB each) leave no hole in the heap */
#endif

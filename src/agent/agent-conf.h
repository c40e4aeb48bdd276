/* agent.conf (servers, CA, the VM joined) and the credential file in the agent's state directory. */
#ifndef JITGATE_AGENT_CONF_H
#define JITGATE_AGENT_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/agent-limits.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/limits.h"

#define AGENT_CONF_FILE		"agent.conf"
#define AGENT_CREDENTIAL_FILE	"credential"
#define AGENT_ERR_CONF		"InvalidAgentConfig"

/*
 * agent.conf, written by `jitgate-agent join`, one `key = value` a line,
 * '#' comments, blank lines allowed:
 *
 *   server = https://jit1.example.net:8443     (1..AGENT_SERVERS_MAX, tried in turn)
 *   ca = /etc/jitgate-agent/ca.pem              (an absolute path) or
 *   ca_fingerprint = 3A:9F:...                  (SHA-256 of the server's certificate, 64 hex digits, ':' optional)
 *   vm = /subscriptions/S/resourceGroups/RG/providers/Microsoft.Compute/virtualMachines/NAME
 *   max_disconnected = PT4H                    (optional, ISO 8601: end every grant after this long without a server)
 *
 * Every key but server at most once; exactly one of ca and ca_fingerprint.
 */
struct agent_conf {
	size_t n_servers;
	char servers[AGENT_SERVERS_MAX][AGENT_URL_MAX + 1];
	char ca_file[AGENT_PATH_MAX + 1];	/* empty when a fingerprint is given */
	bool has_fingerprint;
	uint8_t fingerprint[AGENT_FINGERPRINT_LEN];
	char vm[ARM_ID_MAX + 1];
	int64_t max_disconnected_ms;	/* 0: never */
};

/* Parse (pure, fuzzed). Errors name the line: target "agent.conf:N". Nothing written to ret on failure. */
int agent_conf_parse(const char *s, size_t n, struct agent_conf *ret, struct core_error *err);
/* The text agent_conf_parse() reads back to the same struct, appended to out. */
int agent_conf_format(const struct agent_conf *c, struct buf *out);

/* Read agent.conf from dirfd. -ENOENT (err says "not joined") when there is none. */
int agent_conf_load(int dirfd, struct agent_conf *ret, struct core_error *err);
int agent_conf_save(int dirfd, const struct agent_conf *c, struct core_error *err);

/*
 * The credential: one line of [A-Za-z0-9_-], 1..AGENT_CREDENTIAL_MAX. The file
 * must be a plain file no one else may read (mode 0600 or stricter); it is
 * written so. buf holds AGENT_CREDENTIAL_MAX + 1 bytes; the caller wipes it.
 */
int agent_credential_parse(const char *s, size_t n, char *buf, size_t size, struct core_error *err);
int agent_credential_load(int dirfd, char *buf, size_t size, struct core_error *err);
int agent_credential_save(int dirfd, const char *credential, struct core_error *err);

#endif

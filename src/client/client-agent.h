/* The agent's transport to jitgated (no libcurl): a server certificate pinned by SHA-256, calls driven from the caller's poll loop, capped answers. */
#ifndef JITGATE_CLIENT_CLIENT_AGENT_H
#define JITGATE_CLIENT_CLIENT_AGENT_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client/client.h"

#define CLIENT_AGENT_FP_LEN	32		/* a SHA-256 certificate fingerprint, in bytes */
#define CLIENT_AGENT_PEM_MAX	(64 * 1024)	/* one certificate's PEM as the handshake shows it */
#define CLIENT_AGENT_CONNECT_MS	10000		/* TCP and TLS handshake, each call */

/*
 * One transfer at a time: HTTP/1.1 over one TLS connection (GnuTLS), kept
 * alive between calls to the same server, whose socket the caller's loop
 * polls beside its own fds (client_agent_wait), so that no call blocks past
 * its own bounded wait (a name is resolved on a thread). Trust is either a CA
 * file or a pinned server certificate: the pin is checked by a handshake that
 * sends nothing (client_agent_start_pin), and the certificate that matched
 * becomes the only trust anchor of the calls that follow (held in memory).
 * Every call checks the chain to its anchor and the host's name or address in
 * the certificate. Owns its connection, the pinned certificate and the request
 * (the token in it, wiped).
 */
struct client_agent;

struct client_agent_call {
	const char *method;	/* "GET" or "POST" */
	const char *url;	/* the whole URL: server and target */
	const char *token;	/* sent as Authorization: Bearer; may be NULL */
	const char *body;	/* JSON; NULL for none */
	size_t body_len;
	long timeout_ms;	/* the whole call, the handshake included */
	size_t max_body;	/* a longer answer fails the call with -EFBIG */
};

/* ca_file (an absolute path) or fingerprint (CLIENT_AGENT_FP_LEN bytes): exactly one. */
int client_agent_new(const char *ca_file, const uint8_t *fingerprint, struct client_agent **ret,
		     struct client_error *err);
void client_agent_free(struct client_agent *ca);

/* Has the pin been checked against `server` (always true with a CA file)? Forgotten by client_agent_unpin. */
bool client_agent_is_pinned(const struct client_agent *ca, const char *server);
void client_agent_unpin(struct client_agent *ca);

/* Start the handshake with `server` (https://host[:port]) that checks the pin; completes in client_agent_done. */
int client_agent_start_pin(struct client_agent *ca, const char *server, struct client_error *err);
/* Start a call (the caller checked the pin first). */
int client_agent_start(struct client_agent *ca, const struct client_agent_call *c, struct client_error *err);
bool client_agent_busy(const struct client_agent *ca);
/* Abandon the transfer in flight, if any. */
void client_agent_cancel(struct client_agent *ca);

/*
 * Wait up to timeout_ms for the transfer's socket or one of `extra` (their
 * revents are set; at most 8), then drive the transfer. -errno only when poll fails.
 */
int client_agent_wait(struct client_agent *ca, struct pollfd *extra, unsigned n_extra, int timeout_ms);

/*
 * The transfer's outcome: 0 while it runs; 1 when it finished (*ret holds any
 * HTTP status and the body; nothing for a pin that matched); -EFBIG when the
 * answer passed max_body; -EPERM when no certificate of the server matches
 * the pin; -EHOSTUNREACH when the server could not be reached or TLS failed
 * (err says why).
 */
int client_agent_done(struct client_agent *ca, struct client_reply *ret, struct client_error *err);

/* A whole call, pin included, waiting on nothing else: for `jitgate-agent join`. Returns as client_agent_done. */
int client_agent_call(struct client_agent *ca, const char *server, const struct client_agent_call *c,
		      struct client_reply *ret, struct client_error *err);

/* The SHA-256 of a PEM certificate's DER. */
int client_cert_sha256(const char *pem, uint8_t out[CLIENT_AGENT_FP_LEN]);

/* The server's {"error": {"code", "message"}} of a refusal, or empty strings. */
void client_reply_error(const struct client_reply *r, char *code, size_t code_size, char *message, size_t msg_size);

#endif

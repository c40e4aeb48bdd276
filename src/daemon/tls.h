/* TLS material for jitgated: a self-signed certificate made at first start, and its fingerprint. */
#ifndef JITGATE_DAEMON_TLS_H
#define JITGATE_DAEMON_TLS_H

#include <stddef.h>

#include "core/error.h"

#define TLS_FINGERPRINT_TEXT_MAX 96	/* "AB:CD:..." for SHA-256, with NUL */
#define TLS_CERT_DAYS 825		/* validity of the generated certificate */

/*
 * Make DIR/tls/cert.pem and DIR/tls/key.pem (directory 0700, files 0600) unless
 * both exist. The certificate is self-signed (ECDSA P-256), its subjectAltName
 * names `listen_host` (an IP address or DNS name) and `hostname` as DNS, plus
 * 127.0.0.1, ::1 and localhost, and, when listen_host is a wildcard ("0.0.0.0",
 * "::"), every address this host has at the time (not loopback or link-local); it can serve as its own CA for clients
 * (basicConstraints CA:TRUE, keyCertSign). Writes are atomic (temp file, rename).
 */
int tls_ensure_self_signed(const char *state_dir, const char *listen_host, const char *hostname,
			   struct core_error *err);

/*
 * Does the certificate's subjectAltName hold an IP address a client elsewhere
 * could reach (not loopback, link-local or unspecified)? 1 yes, 0 no, negative
 * errno if it cannot be read. Listening on a wildcard, the generated
 * certificate names the addresses the host had when it was made.
 */
int tls_cert_names_routable_address(const char *cert_path, struct core_error *err);

/* SHA-256 of the first certificate in a PEM file, as colon-separated upper-case hex. */
int tls_cert_fingerprint(const char *cert_path, char *buf, size_t size, struct core_error *err);

#endif

/* What one webhook delivery carries: its body in the hook's format and its HMAC-SHA256 signature. */
#ifndef JITGATE_DAEMON_WEBHOOK_BODY_H
#define JITGATE_DAEMON_WEBHOOK_BODY_H

#include <stddef.h>

#include "core/webhook.h"
#include "store/store-webhooks.h"

#define WEBHOOK_SIG_PREFIX	"sha256="
#define WEBHOOK_SIG_SIZE	(sizeof(WEBHOOK_SIG_PREFIX) - 1 + 64 + 1)	/* "sha256=" + hex of 32 bytes + NUL */

/*
 * The body of delivery d in format f, compact JSON: {"id", "event", "time", "activity": {...}} or
 * {"text": "..."}. *ret is the caller's (free()). At most a few KiB: every field has a store limit.
 */
int webhook_body_render(enum webhook_format f, const struct store_delivery *d, char **ret, size_t *ret_len);

/*
 * "sha256=" and the lower-case hex of HMAC-SHA256(secret, timestamp "." body): the value of
 * X-Jitgate-Signature. timestamp is the decimal Unix time sent as X-Jitgate-Timestamp.
 */
int webhook_sign(const char *secret, const char *timestamp, const char *body, size_t n, char out[WEBHOOK_SIG_SIZE]);

#endif

/* Join tokens as an Owner asks for them and as the API shows them (jitgate's extension; doc/api.md, "Join tokens"). */
#ifndef JITGATE_CODEC_JOIN_H
#define JITGATE_CODEC_JOIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "codec/codec-limits.h"
#include "core/error.h"
#include "core/limits.h"

/*
 * POST .../providers/Jitgate/joinTokens:
 * {"resourceGroup": "rg1", "uses"?: 1..JOIN_USES_MAX, "expiresIn"?: ISO 8601 duration}.
 * Decoded with codec.h's rules (InvalidJson, InvalidType, MissingField; unknown fields ignored;
 * nothing written to ret on failure). A resource group that breaks ARM's naming rules keeps the
 * validator's code; uses out of range and an expiry outside JOIN_EXPIRES_MIN_MS..JOIN_EXPIRES_MAX_MS
 * are InvalidValue; each error's target is the field's name.
 */
struct join_ask {
	char resource_group[ARM_RESOURCE_GROUP_MAX + 1];
	int64_t uses;		/* JOIN_USES_DEFAULT when absent */
	int64_t expires_ms;	/* JOIN_EXPIRES_DEFAULT_MS when absent */
};

int codec_join_ask_decode(const char *body, size_t n, struct join_ask *ret, struct core_error *err);
/* The body the CLI sends. NULL on ENOMEM. */
json_t *codec_join_ask_encode(const struct join_ask *a);

/*
 * A join token as created, listed or revoked: {"id", "resourceGroup", "usesLeft", "expiresTimeUtc",
 * "createdTimeUtc", "createdBy", "state": "Valid"|"Revoked"|"Expired"|"UsedUp", "revokedTimeUtc"?}.
 * The secret is never in it: the create answer adds "token" itself, once. NULL on ENOMEM.
 */
struct join_token_view {
	char id[JOIN_ID_MAX + 1];
	char resource_group[ARM_RESOURCE_GROUP_MAX + 1];
	int64_t uses_left;
	int64_t expires_ns;
	int64_t created_ns;
	char created_by[JOIN_CREATED_BY_MAX + 1];
	int64_t revoked_ns;	/* 0 while not revoked */
};

/* Its state at now_ns: revoked first, then used up, then expired. */
const char *codec_join_token_state(const struct join_token_view *t, int64_t now_ns);
json_t *codec_join_token_encode(const struct join_token_view *t, int64_t now_ns);

#endif

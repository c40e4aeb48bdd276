/* Token credentials (API and join tokens): a new secret, the hash stored for it, and ending the portal sessions made from it. */
#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "api/api-internal.h"

int
api_token_generate(char *buf, size_t size)
{
	return api_secret_generate(API_TOKEN_PREFIX, buf, size);
}

int
api_secret_generate(const char *prefix, char *buf, size_t size)
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	uint8_t raw[API_TOKEN_BYTES];
	size_t i, n = strlen(prefix);

	if (size < n + sizeof(raw) + 1)
		return -ENOSPC;
	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
		return -EIO;
	memcpy(buf, prefix, n);
	/* 6 bits per character from each byte: 48 bytes of entropy-bearing input give 288 bits > 256 */
	for (i = 0; i < sizeof(raw); i++)
		buf[n + i] = alphabet[raw[i] & 63];
	buf[n + sizeof(raw)] = '\0';
	explicit_bzero(raw, sizeof(raw));
	return (int)(n + sizeof(raw));
}

int
api_join_id_generate(char *buf, size_t size)
{
	static const char hex[] = "0123456789abcdef";
	uint8_t raw[JOIN_ID_HEX / 2];
	size_t i;

	if (size < JOIN_ID_MAX + 1)
		return -ENOSPC;
	/* public, so not a secret: 48 bits only keep two tokens from sharing an id (the store refuses a repeat) */
	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
		return -EIO;
	memcpy(buf, "jt-", 3);
	for (i = 0; i < sizeof(raw); i++) {
		buf[3 + 2 * i] = hex[raw[i] >> 4];
		buf[3 + 2 * i + 1] = hex[raw[i] & 15];
	}
	buf[JOIN_ID_MAX] = '\0';
	return JOIN_ID_MAX;
}

int
api_join_token_insert(struct store *st, struct store_join_token *t)
{
	int r = -EEXIST, tries;

	for (tries = 0; r == -EEXIST && tries < API_JOIN_ID_TRIES; tries++)
		if ((r = api_join_id_generate(t->id, sizeof(t->id))) >= 0)
			r = store_join_token_insert(st, t);
	return r;
}

int
api_token_hash(const char *token, size_t len, uint8_t hash[STORE_TOKEN_HASH_LEN])
{
	return gnutls_hash_fast(GNUTLS_DIG_SHA256, token, len, hash) == 0 ? 0 : -EIO;
}


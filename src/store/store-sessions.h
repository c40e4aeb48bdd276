/* Sign-in sessions kept in the store, so that every replica sharing it accepts, and ends, the same ones. */
#ifndef JITGATE_STORE_SESSIONS_H
#define JITGATE_STORE_SESSIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

#define STORE_SESSION_ASSIGN_MAX	8	/* role + scope assignments one session holds (a person's map lines) */

/*
 * A portal session (a cookie) or a CLI's single sign-on session (a bearer). Only the hash of its
 * secret is kept. key_hash: the token it was made from (checked on every use, so that revoking the
 * token ends it), or for single sign-on the person's (sso), whose name, provider subject and roles
 * as mapped at sign-in are kept with it.
 */
struct store_session {
	uint8_t id_hash[STORE_TOKEN_HASH_LEN];
	uint8_t key_hash[STORE_TOKEN_HASH_LEN];
	bool sso;
	char person[STORE_REQUESTOR_MAX + 1];	/* "user:alice@example.com"; '' for a token's */
	char subject[STORE_SUBJECT_MAX + 1];
	size_t n_assign;
	struct {
		char role[STORE_ROLE_MAX + 1];
		char scope[STORE_SCOPE_MAX + 1];
	} assign[STORE_SESSION_ASSIGN_MAX];
	int64_t created_ns;
	int64_t expires_ns;
};

/* The limits store_session_insert keeps: sessions of one key (token or person), and of all keys together. */
struct store_session_limits {
	size_t per_key;
	size_t total;
};

/*
 * Record a new session, in one transaction: first the key's oldest go until it holds per_key - 1,
 * then, if the table holds `total`, the expired go, then the sessions of tokens revoked since, then the
 * oldest session of the key holding the most, one at a time, until there is room. -EINVAL: a text
 * holds a tab or a line break (or is too long), or too many assignments.
 */
int store_session_insert(struct store *st, const struct store_session *s, const struct store_session_limits *lim,
			 int64_t now_ns);
/* The session with this hash that has not expired by now_ns, or -ENOENT. */
int store_session_find(struct store *st, const uint8_t id_hash[STORE_TOKEN_HASH_LEN], int64_t now_ns,
		       struct store_session *ret);
/* End one session: 1, or 0 when there was none (another replica ended it, or it expired and was pruned). */
int store_session_end(struct store *st, const uint8_t id_hash[STORE_TOKEN_HASH_LEN]);
/* End every session made from this key (a token just revoked). */
int store_sessions_end_key(struct store *st, const uint8_t key_hash[STORE_TOKEN_HASH_LEN]);
/* The single sign-on sessions of person ("user:…", any case): their id hashes and ends, at most max; how many. */
int store_sessions_of_person(struct store *st, const char *person, uint8_t (*ret_ids)[STORE_TOKEN_HASH_LEN],
			     int64_t *ret_expires, size_t max);
/* End every single sign-on session of person (any case). */
int store_sessions_end_person(struct store *st, const char *person);
/* Delete at most max sessions that expired by now_ns; how many. */
int store_sessions_prune(struct store *st, int64_t now_ns, size_t max);

#endif

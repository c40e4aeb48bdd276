/* Sign-in sessions in the store: every replica reads the same rows, and a sign-out the store refuses still holds here. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api-internal.h"
#include "core/timeutil.h"
#include "store/store-sessions.h"

/*
 * Sessions live in the store (store-sessions.h), so that a session made on one replica is accepted
 * by all, and ended on all at once: each use reads its row, as each use of a token reads the
 * token's (no replica caches either, so nothing waits on a cache or an announcement to forget one).
 *
 * Ending one never waits on the disk: when the store refuses the delete (a full disk, PostgreSQL
 * unreachable), the session's hash goes into api->sessions.ended, checked before every lookup, so
 * it is refused here at once; api_sessions_tick() records the delete once the store takes it, and
 * only then do the other replicas refuse it too. While the store cannot be read, no replica accepts
 * any session (503), so none of them accepts the ended one meanwhile; on SQLite there is one replica.
 */

#define SESSIONS_RETRY_NS	(1000LL * 1000 * 1000)	/* a store that refused a sign-out is asked again after this long */
#define SESSIONS_PRUNE_NS	(5LL * 1000 * 1000 * 1000)	/* expired sessions are pruned this often... */
#define SESSIONS_PRUNE_BATCH	256	/* ...at most this many at a time (sooner again while there are more) */

_Static_assert(API_CALLER_ASSIGNMENTS_MAX <= STORE_SESSION_ASSIGN_MAX, "a session holds a person's assignments");
_Static_assert(API_CALLER_MAX <= STORE_REQUESTOR_MAX, "a session holds a person's name");

static bool
ended_here(const struct api *api, const uint8_t id_hash[STORE_TOKEN_HASH_LEN])
{
	size_t i;

	for (i = 0; i < api->sessions.n_ended; i++)
		if (!memcmp(api->sessions.ended[i].id_hash, id_hash, STORE_TOKEN_HASH_LEN))
			return true;
	return false;
}

static void
ended_drop(struct api *api, size_t i)
{
	api->sessions.ended[i] = api->sessions.ended[--api->sessions.n_ended];
}

/*
 * Refuse this session here until the store records its end. The list holds as many as the store
 * holds sessions; should it be full all the same (rows ended elsewhere while this store refused),
 * the one ending soonest gives way.
 */
static void
ended_add(struct api *api, const uint8_t id_hash[STORE_TOKEN_HASH_LEN], int64_t expires_ns)
{
	size_t i, at = api->sessions.n_ended;

	if (ended_here(api, id_hash))
		return;
	if (at == API_SESSIONS_MAX) {
		at = 0;
		for (i = 1; i < API_SESSIONS_MAX; i++)
			if (api->sessions.ended[i].expires_ns < api->sessions.ended[at].expires_ns)
				at = i;
	} else {
		api->sessions.n_ended++;
	}
	memcpy(api->sessions.ended[at].id_hash, id_hash, STORE_TOKEN_HASH_LEN);
	api->sessions.ended[at].expires_ns = expires_ns;
	api->sessions.retry_ns = time_mono_ns() + SESSIONS_RETRY_NS;
}

int
api_session_end(struct api *api, const uint8_t id_hash[STORE_TOKEN_HASH_LEN], int64_t expires_ns)
{
	int r = store_session_end(api->store, id_hash);

	if (r < 0)
		ended_add(api, id_hash, expires_ns);
	return r;
}

void
api_sessions_end_token(struct api *api, const uint8_t token_hash[STORE_TOKEN_HASH_LEN])
{
	/* if the store refuses this, the sessions are refused anyway: each use finds their token revoked */
	(void)store_sessions_end_key(api->store, token_hash);
}

int
api_session_record(struct api *api, const struct api_session *s)
{
	const struct store_session_limits lim = { .per_key = API_SESSIONS_PER_TOKEN_MAX, .total = API_SESSIONS_MAX };
	struct store_session row;
	size_t i;
	int r;

	memset(&row, 0, sizeof(row));
	memcpy(row.id_hash, s->id_hash, sizeof(row.id_hash));
	memcpy(row.key_hash, s->token_hash, sizeof(row.key_hash));
	row.sso = s->sso;
	snprintf(row.person, sizeof(row.person), "%s", s->person);
	snprintf(row.subject, sizeof(row.subject), "%s", s->subject);
	for (i = 0; i < s->n_assign && i < API_CALLER_ASSIGNMENTS_MAX; i++) {
		snprintf(row.assign[i].role, sizeof(row.assign[i].role), "%s", s->assign[i].role);
		snprintf(row.assign[i].scope, sizeof(row.assign[i].scope), "%s", s->assign[i].scope);
	}
	row.n_assign = i;
	row.created_ns = s->created_ns;
	row.expires_ns = s->expires_ns;
	r = store_session_insert(api->store, &row, &lim, time_now_ns());
	explicit_bzero(&row, sizeof(row));
	return r;
}

int
api_session_lookup(struct api *api, const uint8_t id_hash[STORE_TOKEN_HASH_LEN], struct api_session *ret)
{
	struct store_session row;
	size_t i;
	int r;

	if (ended_here(api, id_hash))
		return -ENOENT;
	if ((r = store_session_find(api->store, id_hash, time_now_ns(), &row)) < 0)
		return r;
	memset(ret, 0, sizeof(*ret));
	memcpy(ret->id_hash, row.id_hash, sizeof(ret->id_hash));
	memcpy(ret->token_hash, row.key_hash, sizeof(ret->token_hash));
	ret->sso = row.sso;
	snprintf(ret->person, sizeof(ret->person), "%s", row.person);
	snprintf(ret->subject, sizeof(ret->subject), "%s", row.subject);
	for (i = 0; i < row.n_assign && i < API_CALLER_ASSIGNMENTS_MAX; i++) {
		snprintf(ret->assign[i].role, sizeof(ret->assign[i].role), "%s", row.assign[i].role);
		snprintf(ret->assign[i].scope, sizeof(ret->assign[i].scope), "%s", row.assign[i].scope);
	}
	ret->n_assign = i;
	ret->created_ns = row.created_ns;
	ret->expires_ns = row.expires_ns;
	return 0;
}

/* Record the sign-outs the store refused; how many it took. Those past their end need no record. */
static int
ended_flush(struct api *api, int64_t mono)
{
	int64_t now = time_now_ns();
	size_t i = 0;
	int n = 0;

	if (!api->sessions.n_ended || mono < api->sessions.retry_ns)
		return 0;
	while (i < api->sessions.n_ended) {
		if (api->sessions.ended[i].expires_ns <= now) {
			ended_drop(api, i);
			continue;
		}
		if (store_session_end(api->store, api->sessions.ended[i].id_hash) < 0) {
			api->sessions.retry_ns = mono + SESSIONS_RETRY_NS;
			break;
		}
		ended_drop(api, i);
		n++;
	}
	return n;
}

int
api_sessions_tick(struct api *api)
{
	int64_t mono = time_mono_ns();
	int n = ended_flush(api, mono), pruned;

	/* every replica prunes: a DELETE of what expired is the same whoever runs it */
	if (mono >= api->sessions.prune_ns) {
		pruned = store_sessions_prune(api->store, time_now_ns(), SESSIONS_PRUNE_BATCH);
		api->sessions.prune_ns = mono + (pruned == SESSIONS_PRUNE_BATCH ? 0 : SESSIONS_PRUNE_NS);
	}
	return n;
}

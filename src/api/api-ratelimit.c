/* Rate limits on failed authentication, per caller address, in a fixed-size table (see api-ratelimit.h). */
#include <string.h>

#include "api/api-ratelimit.h"
#include "core/timeutil.h"

#define WINDOW_NS ((int64_t)RATELIMIT_AUTH_WINDOW_S * TIME_NS_PER_SEC)

static void
key_of(const struct net_addr *a, struct net_addr *ret)
{
	memset(ret, 0, sizeof(*ret));
	ret->family = a->family;
	if (a->family == NET_INET6)
		memcpy(ret->bytes, a->bytes, 8);	/* the /64 */
	else if (a->family == NET_INET)
		memcpy(ret->bytes, a->bytes, 4);
}

static bool
window_is_over(const struct ratelimit_slot *s, int64_t now_ns)
{
	return !s->window_start_ns || now_ns >= s->window_start_ns + WINDOW_NS || now_ns < s->window_start_ns;
}

/* The slot for key: its own, else a free or ended one, else the one whose window began first. */
static struct ratelimit_slot *
slot_for(struct ratelimit *rl, const struct net_addr *key, int64_t now_ns)
{
	struct ratelimit_slot *spare = NULL, *oldest = NULL;
	size_t i;

	for (i = 0; i < RATELIMIT_SLOTS; i++) {
		struct ratelimit_slot *s = &rl->slots[i];

		if (s->window_start_ns && !memcmp(&s->key, key, sizeof(*key)))
			return s;
		if (!spare && window_is_over(s, now_ns))
			spare = s;
		if (!oldest || s->window_start_ns < oldest->window_start_ns)
			oldest = s;
	}
	return spare ? spare : oldest;
}

int
ratelimit_auth_failed(struct ratelimit *rl, const struct net_addr *addr, int64_t now_ns, bool *ret_first_throttle)
{
	struct net_addr key;
	struct ratelimit_slot *s;
	int64_t left;

	if (ret_first_throttle)
		*ret_first_throttle = false;
	key_of(addr, &key);
	s = slot_for(rl, &key, now_ns);
	if (memcmp(&s->key, &key, sizeof(key)) || window_is_over(s, now_ns)) {
		memset(s, 0, sizeof(*s));
		s->key = key;
		s->window_start_ns = now_ns > 0 ? now_ns : 1;
	}
	if (s->failures < RATELIMIT_AUTH_FAILURES) {
		s->failures++;
		return 0;
	}
	if (!s->logged && ret_first_throttle)
		*ret_first_throttle = true;
	s->logged = true;
	left = s->window_start_ns + WINDOW_NS - now_ns;
	return (int)((left + TIME_NS_PER_SEC - 1) / TIME_NS_PER_SEC);
}

enum ratelimit_row
ratelimit_log_take(struct ratelimit *rl, int64_t now_ns)
{
	struct ratelimit_slot w = { .window_start_ns = rl->rows_window_start_ns };

	if (window_is_over(&w, now_ns)) {
		rl->rows_window_start_ns = now_ns > 0 ? now_ns : 1;
		rl->rows = 0;
		rl->rows_capped = false;
	}
	if (rl->rows < RATELIMIT_LOG_ROWS) {
		rl->rows++;
		return RATELIMIT_ROW_WRITE;
	}
	if (rl->rows_capped)
		return RATELIMIT_ROW_NONE;
	rl->rows_capped = true;
	return RATELIMIT_ROW_CAPPED;
}

enum ratelimit_row
ratelimit_log_failure(struct ratelimit *rl, const struct net_addr *addr, int64_t now_ns, uint32_t *ret_unrowed)
{
	struct net_addr key;
	struct ratelimit_slot *s;
	enum ratelimit_row row;

	key_of(addr, &key);
	s = slot_for(rl, &key, now_ns);
	if (memcmp(&s->key, &key, sizeof(key)) || !s->window_start_ns) {
		memset(s, 0, sizeof(*s));
		s->key = key;
		s->window_start_ns = now_ns > 0 ? now_ns : 1;
	} else if (window_is_over(s, now_ns)) {
		/* same address, new window: its unrowed count carries over into the next row */
		s->window_start_ns = now_ns > 0 ? now_ns : 1;
		s->logged = false;
	}
	if (s->logged) {
		s->failures++;
		return RATELIMIT_ROW_NONE;
	}
	row = ratelimit_log_take(rl, now_ns);
	if (row != RATELIMIT_ROW_WRITE) {
		/* the table-wide budget is spent: this address gets its row in a later window */
		s->failures++;
		return row;
	}
	*ret_unrowed = s->failures;
	s->failures = 0;
	s->logged = true;
	return RATELIMIT_ROW_WRITE;
}

struct ratelimit *
api_ratelimit_log(void)
{
	static struct ratelimit table;

	return &table;
}

struct ratelimit *
api_ratelimit_auth(void)
{
	/* struct api (api.h) has no room for it; jitgated runs one API, on one thread */
	static struct ratelimit table;

	return &table;
}

/* Per-caller-address limits on failed authentication: a small fixed table, no I/O, no logging (the caller logs). */
#ifndef JITGATE_API_RATELIMIT_H
#define JITGATE_API_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

#include "core/net.h"

/*
 * A caller address may fail authentication RATELIMIT_AUTH_FAILURES times in a
 * window of RATELIMIT_AUTH_WINDOW_S seconds that starts at its first failure;
 * every further failure in that window is answered 429 with Retry-After until
 * the window ends. Only failures count: a valid token always passes, so that
 * people behind the same NAT as a guesser are not locked out (tokens carry 288
 * random bits, so a guesser learns nothing useful from the difference).
 * IPv6 callers are keyed by their /64, which one host usually owns whole.
 * When every slot is busy the slot with the oldest window is reused.
 */
#define RATELIMIT_AUTH_FAILURES	10
#define RATELIMIT_AUTH_WINDOW_S	60
#define RATELIMIT_SLOTS		1024
/*
 * Failed authentications write activity rows, and nobody without a token may
 * make jitgated write without bound: an address gets at most one "Failed" row
 * per window (carrying how many of its failures went unrowed before it) and one
 * "Throttled" row, and all addresses together at most RATELIMIT_LOG_ROWS rows
 * per window, then one row saying the rest are counted only.
 */
#define RATELIMIT_LOG_ROWS	256

struct ratelimit_slot {
	struct net_addr key;		/* the address (IPv6: its /64) */
	int64_t window_start_ns;	/* 0: free slot */
	uint32_t failures;		/* in this window */
	bool logged;			/* the throttling of this window was logged */
};

struct ratelimit {
	struct ratelimit_slot slots[RATELIMIT_SLOTS];
	int64_t rows_window_start_ns;	/* the table-wide row budget's window (ratelimit_log_*) */
	uint32_t rows;			/* rows granted in it */
	bool rows_capped;		/* the cap's own row was granted in it */
};

/* What to write for one failure (ratelimit_log_*). */
enum ratelimit_row {
	RATELIMIT_ROW_NONE,		/* count it only */
	RATELIMIT_ROW_WRITE,		/* write its row */
	RATELIMIT_ROW_CAPPED,		/* write one row saying the table-wide budget is spent for this window */
};

/*
 * One failed authentication by addr at now_ns. Returns 0 when it is within the
 * limit (answer 401 as usual) and otherwise the seconds (>= 1) until the window
 * ends (answer 429 with that Retry-After). *ret_first_throttle (may be NULL) is
 * set true once per window, on the first refusal, so that the caller logs it once.
 */
int ratelimit_auth_failed(struct ratelimit *rl, const struct net_addr *addr, int64_t now_ns, bool *ret_first_throttle);

/*
 * One failed authentication by addr, for the activity log (a table of its own,
 * not the budget's): ROW_WRITE for the first failure of addr's window, with
 * *ret_unrowed the failures of addr that got no row since its last one (they
 * are carried in this row's detail); ROW_NONE for the rest of the window.
 */
enum ratelimit_row ratelimit_log_failure(struct ratelimit *rl, const struct net_addr *addr, int64_t now_ns,
					 uint32_t *ret_unrowed);
/* May a row be written now (the table-wide budget)? For rows not keyed by address, such as "Throttled". */
enum ratelimit_row ratelimit_log_take(struct ratelimit *rl, int64_t now_ns);

/* The tables jitgated's API uses (one API per process, driven from one thread). */
struct ratelimit *api_ratelimit_auth(void);
struct ratelimit *api_ratelimit_log(void);

#endif

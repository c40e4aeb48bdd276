/* The store's webhook outbox: events waiting for delivery, written with their activity entries, and each hook's state. */
#ifndef JITGATE_STORE_WEBHOOKS_H
#define JITGATE_STORE_WEBHOOKS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/webhook.h"
#include "store/store.h"

/*
 * Undelivered events one hook may have waiting. Past it, a new event for that hook is not queued
 * but counted (store_hook_state.dropped): the activity entry and the access change it records are
 * written all the same, so a receiver that is down never blocks nor bloats jitgated.
 */
#define STORE_OUTBOX_MAX	10000
#define STORE_EVENT_ID_LEN	32	/* hex characters of an event's id (128 random bits) */
#define STORE_HOOK_ERROR_MAX	255

/* A hook the activity log feeds, and the events it takes (bits of enum webhook_event). */
struct store_outbox_route {
	char hook[WEBHOOK_NAME_MAX + 1];
	uint32_t events;
};

/*
 * From now on each activity entry that is an event (webhook_event_of) is queued, in the entry's own
 * transaction, for each route that takes it: one event id shared by all hooks. The routes are copied.
 */
int store_outbox_routes_set(struct store *st, const struct store_outbox_route *routes, size_t n);
/* Did an append queue an event since the last call? (so that the deliverer looks at once) */
bool store_outbox_added_take(struct store *st);

/* The oldest undelivered event of a hook, with its activity entry. */
struct store_delivery {
	int64_t id;		/* the outbox row: each hook's order */
	char event_id[STORE_EVENT_ID_LEN + 1];
	char event[WEBHOOK_EVENT_NAME_MAX + 1];
	int64_t attempts, next_ns, lease_ns;
	struct store_activity activity;
};

/* -ENOENT: nothing waits for this hook. */
int store_outbox_head(struct store *st, const char *hook, struct store_delivery *ret);
/*
 * Take row id for delivery until lease_until_ns, if it is due (next_ns <= now) and nobody holds it
 * (lease_ns <= now): -ENOENT otherwise. On PostgreSQL one conditional UPDATE, so of several
 * replicas exactly one takes it; a replica that dies with it lets the lease run out.
 */
int store_outbox_claim(struct store *st, int64_t id, int64_t now_ns, int64_t lease_until_ns);
/* Delivered: hook's row id goes (-ENOENT: already gone). */
int store_outbox_delivered(struct store *st, const char *hook, int64_t id);
/* Not delivered: tried `attempts` times, next not before next_ns; the lease is given back. */
int store_outbox_retry(struct store *st, int64_t id, int64_t attempts, int64_t next_ns);
/* How many events wait for this hook (a counter kept with the rows, recounted by store_outbox_routes_set). */
int store_outbox_count(struct store *st, const char *hook, int64_t *ret);

struct store_hook_state {
	bool failing;		/* the hook crossed the failing threshold and has not delivered since */
	int64_t failures;	/* failed attempts in a row */
	char last_error[STORE_HOOK_ERROR_MAX + 1];
	int64_t last_ok_ns, last_fail_ns;
	int64_t dropped;	/* events not queued because its outbox was full */
};

/* All zero for a hook with no row yet. */
int store_hook_state_get(struct store *st, const char *hook, struct store_hook_state *ret);
/* Everything but dropped, which only appends count. */
int store_hook_state_put(struct store *st, const char *hook, const struct store_hook_state *s);

#endif

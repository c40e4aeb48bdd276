/* Webhook delivery: the outbox's events sent to each configured hook, asynchronously, from jitgated's loop. */
#ifndef JITGATE_DAEMON_WEBHOOK_H
#define JITGATE_DAEMON_WEBHOOK_H

#include <stddef.h>
#include <stdint.h>

#include "core/webhook.h"

struct store;
struct http_fetcher;

/* Limits of one delivery: a slow or huge-answering receiver cannot stall or bloat jitgated. */
#define WEBHOOK_TIMEOUT_MS		10000	/* one attempt, connect to last byte of the answer */
#define WEBHOOK_CONNECT_TIMEOUT_MS	5000
#define WEBHOOK_ANSWER_MAX		4096	/* bytes of a receiver's answer read; more cuts the transfer */
#define WEBHOOK_BACKOFF_MIN_MS		1000	/* the first retry; each next one waits twice as long ... */
#define WEBHOOK_BACKOFF_MAX_MS		(5 * 60 * 1000)	/* ... up to this (webhook_backoff_max sets it lower) */
#define WEBHOOK_FAILING_AFTER		3	/* failed attempts in a row that make a hook "failing" */
#define WEBHOOK_LEASE_MS		(WEBHOOK_TIMEOUT_MS + 5000)	/* a claimed event another replica leaves alone */
#define WEBHOOK_CHECK_MS		1000	/* the outbox is looked at this often with no news (other replicas' events) */

struct webhook_config {
	struct webhook_hook hooks[WEBHOOK_HOOKS_MAX];
	size_t n;
	int64_t backoff_max_ms;	/* 0: WEBHOOK_BACKOFF_MAX_MS */
};

struct webhooks;

/*
 * The hooks of cfg (kept by pointer: it outlives w), feeding from st's outbox, delivered through the loop's
 * fetcher (which outlives w, and whose runs report the deliveries that ended). NULL cfg->n: nothing to do.
 */
int webhooks_new(const struct webhook_config *cfg, struct store *st, struct http_fetcher *fetcher,
		 struct webhooks **ret);
void webhooks_free(struct webhooks *w);
/* One pass, after http_fetcher_run: settle the deliveries that ended, start due ones. Never blocks. */
void webhooks_run(struct webhooks *w);
/* How long the loop may sleep for the outbox's sake (a retry due, ended deliveries to settle); -1: no limit. */
int webhooks_timeout_ms(const struct webhooks *w);

#endif

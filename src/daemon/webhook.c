/*
 * Webhook delivery (webhook.h): transfers on the loop's shared fetcher (http-fetch.h), one delivery in
 * flight per hook, in outbox order.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/timeutil.h"
#include "daemon/log.h"
#include "daemon/webhook-body.h"
#include "daemon/webhook.h"
#include "http/http-fetch.h"
#include "store/store-webhooks.h"

#define WEBHOOK_OP	"Jitgate/webhooks/deliver"	/* activity rows of a hook that starts or stops failing */

/* One hook: its settings and its delivery in flight, if any. */
struct hook_run {
	const struct webhook_hook *cfg;
	char origin[WEBHOOK_URL_MAX + 1];	/* scheme://host[:port]: what logs show (the path may hold a key) */
	struct webhooks *w;
	struct http_fetch t;		/* t.easy NULL: idle */
	struct curl_slist *headers;
	char *body;
	struct store_delivery d;
};

struct webhooks {
	const struct webhook_config *cfg;
	struct store *st;
	struct http_fetcher *fetcher;	/* the loop's, shared with single sign-on */
	struct hook_run *h;
	size_t n;
	int64_t next_look_ns;		/* wall clock: the outbox is looked at again then (0: now) */
	struct hook_run *done[WEBHOOK_HOOKS_MAX];	/* deliveries ended since the last webhooks_run */
	CURLcode codes[WEBHOOK_HOOKS_MAX];
	size_t n_done;
};

int
webhooks_new(const struct webhook_config *cfg, struct store *st, struct http_fetcher *fetcher, struct webhooks **ret)
{
	struct store_outbox_route routes[WEBHOOK_HOOKS_MAX];
	struct webhooks *w;
	size_t i;
	int r = -ENOMEM;

	if (!(w = calloc(1, sizeof(*w))))
		return -ENOMEM;
	w->cfg = cfg;
	w->st = st;
	w->n = cfg->n;
	w->fetcher = fetcher;
	if (!(w->h = calloc(cfg->n ? cfg->n : 1, sizeof(*w->h))))
		goto fail;
	for (i = 0; i < cfg->n; i++) {
		w->h[i].w = w;
		w->h[i].cfg = &cfg->hooks[i];
		webhook_url_origin(cfg->hooks[i].url, w->h[i].origin, sizeof(w->h[i].origin));
		snprintf(routes[i].hook, sizeof(routes[i].hook), "%s", cfg->hooks[i].name);
		routes[i].events = cfg->hooks[i].events ? cfg->hooks[i].events : WEBHOOK_EVENTS_ALL;
	}
	if ((r = store_outbox_routes_set(st, routes, cfg->n)) < 0)
		goto fail;
	*ret = w;
	return 0;
fail:
	webhooks_free(w);
	return r;
}

static void
hook_end_transfer(struct webhooks *w, struct hook_run *h)
{
	if (!h->t.easy)
		return;
	http_fetch_end(w->fetcher, &h->t);
	curl_slist_free_all(h->headers);
	free(h->body);
	h->headers = NULL;
	h->body = NULL;
}

void
webhooks_free(struct webhooks *w)
{
	size_t i;

	if (!w)
		return;
	for (i = 0; w->h && i < w->n; i++)
		hook_end_transfer(w, &w->h[i]);	/* its lease runs out: delivered again after a restart */
	if (w->st)
		store_outbox_routes_set(w->st, NULL, 0);
	free(w->h);
	free(w);
}

/* A delivery ended (http_fetcher_run): settled at the next webhooks_run, with the others of that pass. */
static void
on_done(void *ctx, struct http_fetch *t, CURLcode code)
{
	struct hook_run *h = ctx;
	struct webhooks *w = h->w;

	(void)t;
	if (w->n_done < WEBHOOK_HOOKS_MAX) {	/* one delivery in flight per hook: never more */
		w->done[w->n_done] = h;
		w->codes[w->n_done++] = code;
	}
}

static int
add_header(struct curl_slist **list, const char *name, const char *value)
{
	char line[256];
	struct curl_slist *l;

	snprintf(line, sizeof(line), "%s: %s", name, value);
	if (!(l = curl_slist_append(*list, line)))
		return -ENOMEM;
	*list = l;
	return 0;
}

/* The signed headers of h's delivery (doc/operator.md "Notifications"). */
static int
hook_headers(struct hook_run *h, size_t body_len)
{
	char ts[32], sig[WEBHOOK_SIG_SIZE], attempt[32];
	int r;

	snprintf(ts, sizeof(ts), "%lld", (long long)(time_now_ns() / TIME_NS_PER_SEC));
	snprintf(attempt, sizeof(attempt), "%" PRId64, h->d.attempts + 1);
	if ((r = webhook_sign(h->cfg->secret, ts, h->body, body_len, sig)) < 0)
		return r;
	if ((r = add_header(&h->headers, "Content-Type", "application/json")) < 0 ||
	    (r = add_header(&h->headers, "User-Agent", "jitgated-webhook")) < 0 ||
	    (r = add_header(&h->headers, "X-Jitgate-Event", h->d.event)) < 0 ||
	    (r = add_header(&h->headers, "X-Jitgate-Event-Id", h->d.event_id)) < 0 ||
	    (r = add_header(&h->headers, "X-Jitgate-Hook", h->cfg->name)) < 0 ||
	    (r = add_header(&h->headers, "X-Jitgate-Attempt", attempt)) < 0 ||
	    (r = add_header(&h->headers, "X-Jitgate-Timestamp", ts)) < 0 ||
	    (r = add_header(&h->headers, "X-Jitgate-Signature", sig)) < 0)
		return r;
	/* no "Expect: 100-continue" round trip */
	if (!(h->headers = curl_slist_append(h->headers, "Expect:")))
		return -ENOMEM;
	return 0;
}

/*
 * The transfer: http-fetch.h's hardened handle (no redirects: a receiver cannot send the event, or us,
 * elsewhere; the url's own scheme only, an http:// url being the operator's choice; certificates
 * verified; every wait bounded; the answer read only to be thrown away, and only so much of it), and
 * the POST of the signed event.
 */
static int
hook_easy_setup(struct hook_run *h, size_t body_len)
{
	static const struct http_fetch_limits lim = { WEBHOOK_TIMEOUT_MS, WEBHOOK_CONNECT_TIMEOUT_MS, WEBHOOK_ANSWER_MAX,
						      false };
	CURLcode c = CURLE_OK;
	CURL *e;
	int r;

	if ((r = http_fetch_init(&h->t, h->cfg->url, h->cfg->ca_file, true, &lim, on_done, h)) < 0)
		return r;
	e = h->t.easy;
	c |= curl_easy_setopt(e, CURLOPT_POST, 1L);
	c |= curl_easy_setopt(e, CURLOPT_POSTFIELDS, h->body);
	c |= curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
	c |= curl_easy_setopt(e, CURLOPT_HTTPHEADER, h->headers);
	return c == CURLE_OK ? 0 : -EINVAL;
}

/* Start delivering h->d. On failure nothing is in flight and the lease runs out. */
static int
hook_start(struct webhooks *w, struct hook_run *h)
{
	size_t len = 0;
	int r;

	if ((r = webhook_body_render(h->cfg->format, &h->d, &h->body, &len)) < 0)
		return r;
	if ((r = hook_headers(h, len)) < 0 || (r = hook_easy_setup(h, len)) < 0 ||
	    (r = http_fetch_start(w->fetcher, &h->t)) < 0) {
		hook_end_transfer(w, h);
		curl_slist_free_all(h->headers);	/* when the easy handle was never made */
		free(h->body);
		h->headers = NULL;
		h->body = NULL;
		return r;
	}
	return 0;
}

/* A hook starts or stops failing: one activity entry (not one per retry), and the log. */
static void
hook_log(struct webhooks *w, struct hook_run *h, const char *status, const char *detail)
{
	struct store_activity a;

	memset(&a, 0, sizeof(a));
	a.time_ns = time_now_ns();
	snprintf(a.caller, sizeof(a.caller), "jitgated");
	snprintf(a.operation, sizeof(a.operation), "%s", WEBHOOK_OP);
	snprintf(a.resource_id, sizeof(a.resource_id), "/jitgate/webhooks/%s", h->cfg->name);
	snprintf(a.status, sizeof(a.status), "%s", status);
	snprintf(a.detail, sizeof(a.detail), "%s", detail);
	if (store_activity_append(w->st, &a) < 0)
		logmsg("webhook %s: cannot log to the activity log: %s", h->cfg->name, store_last_error(w->st));
	logmsg("%s", detail);
}

/* The wait before attempt n + 1: WEBHOOK_BACKOFF_MIN_MS doubled n - 1 times, at most max_ms. */
static int64_t
backoff_ms(int64_t attempts, int64_t max_ms)
{
	int64_t wait_ms = WEBHOOK_BACKOFF_MIN_MS;

	while (--attempts > 0 && wait_ms < max_ms)
		wait_ms *= 2;
	return wait_ms > max_ms ? max_ms : wait_ms;
}

/* The delivery of h ended: done, or tried again later with a longer wait. */
static void
hook_settle(struct webhooks *w, struct hook_run *h, CURLcode c)
{
	struct store_hook_state hs;
	int64_t now = time_now_ns(), waiting = 0, wait_ms;
	long status = http_fetch_status(&h->t);
	char why[STORE_HOOK_ERROR_MAX + 1], detail[STORE_DETAIL_MAX];
	bool ok;
	int r;

	/* an answer cut at WEBHOOK_ANSWER_MAX after a 2xx status was still received; a redirect is not followed: failed */
	ok = status >= 200 && status < 300 && (c == CURLE_OK || c == CURLE_WRITE_ERROR);
	if (status && !ok)
		snprintf(why, sizeof(why), "HTTP status %ld", status);
	else
		http_fetch_error(&h->t, c, why, sizeof(why));
	hook_end_transfer(w, h);
	if (store_hook_state_get(w->st, h->cfg->name, &hs) < 0)
		memset(&hs, 0, sizeof(hs));
	if (ok) {
		if ((r = store_outbox_delivered(w->st, h->cfg->name, h->d.id)) < 0 && r != -ENOENT)
			logmsg("webhook %s: cannot mark event %s delivered: %s", h->cfg->name, h->d.event_id,
			       store_last_error(w->st));
		if (hs.failing) {
			store_outbox_count(w->st, h->cfg->name, &waiting);
			snprintf(detail, sizeof(detail), "webhook %s (%.200s) delivers again after: %s; %" PRId64
				 " event(s) waiting", h->cfg->name, h->origin, hs.last_error, waiting);
			hook_log(w, h, "Recovered", detail);
		}
		hs.failing = false;
		hs.failures = 0;
		hs.last_ok_ns = now;
	} else {
		wait_ms = backoff_ms(h->d.attempts + 1, w->cfg->backoff_max_ms ? w->cfg->backoff_max_ms
										: WEBHOOK_BACKOFF_MAX_MS);
		if (store_outbox_retry(w->st, h->d.id, h->d.attempts + 1, now + wait_ms * TIME_NS_PER_MS) < 0)
			logmsg("webhook %s: cannot record a failed attempt: %s", h->cfg->name, store_last_error(w->st));
		hs.failures++;
		hs.last_fail_ns = now;
		snprintf(hs.last_error, sizeof(hs.last_error), "%s", why);
		if (!hs.failing && hs.failures >= WEBHOOK_FAILING_AFTER) {
			hs.failing = true;
			store_outbox_count(w->st, h->cfg->name, &waiting);
			snprintf(detail, sizeof(detail), "webhook %s (%.200s) is failing: %s; retried with backoff, %" PRId64
				 " event(s) waiting", h->cfg->name, h->origin, why, waiting);
			hook_log(w, h, "Failing", detail);
		}
	}
	if (store_hook_state_put(w->st, h->cfg->name, &hs) < 0)
		logmsg("webhook %s: cannot record its state: %s", h->cfg->name, store_last_error(w->st));
}

/* The oldest event of an idle hook, if due and not held by another replica: take it (hook_start sends it). */
static bool
hook_claim(struct webhooks *w, struct hook_run *h, int64_t now)
{
	int64_t due;

	if (h->t.easy || store_outbox_head(w->st, h->cfg->name, &h->d) < 0)
		return false;
	due = h->d.next_ns > h->d.lease_ns ? h->d.next_ns : h->d.lease_ns;
	if (due > now) {
		if (due < w->next_look_ns)
			w->next_look_ns = due;
		return false;
	}
	return store_outbox_claim(w->st, h->d.id, now, now + WEBHOOK_LEASE_MS * TIME_NS_PER_MS) == 0;
}

/*
 * The store's side of a pass, in one transaction (one commit, not one per delivery, so that a
 * stream of deliveries costs the API little): the finished deliveries settled, and the next
 * event of each idle hook taken. Sets claimed[i] for the hooks to start.
 */
static void
run_store(struct webhooks *w, struct hook_run **done, const CURLcode *codes, size_t n_done, bool *claimed)
{
	bool tx = store_begin(w->st) == 0;	/* without one, each write commits on its own */
	int64_t now;
	size_t i;

	for (i = 0; i < n_done; i++)
		hook_settle(w, done[i], codes[i]);
	now = time_now_ns();
	w->next_look_ns = now + WEBHOOK_CHECK_MS * TIME_NS_PER_MS;
	for (i = 0; i < w->n; i++)
		claimed[i] = hook_claim(w, &w->h[i], now);
	if (tx && store_commit(w->st) < 0) {
		logmsg("webhooks: the store refused a commit (%s); the deliveries are tried again", store_last_error(w->st));
		memset(claimed, 0, w->n * sizeof(*claimed));
	}
}

void
webhooks_run(struct webhooks *w)
{
	bool claimed[WEBHOOK_HOOKS_MAX] = { false };
	size_t i, n_done;
	bool look;
	int r;

	if (!w || !w->n || store_in_transaction(w->st))
		return;
	/* a settled hook's next event may go at once; others' new events too; and due retries */
	look = w->n_done || store_outbox_added_take(w->st) || !w->next_look_ns || time_now_ns() >= w->next_look_ns;
	if (!look)
		return;
	n_done = w->n_done;
	w->n_done = 0;
	run_store(w, w->done, w->codes, n_done, claimed);
	for (i = 0; i < w->n; i++)
		if (claimed[i] && (r = hook_start(w, &w->h[i])) < 0)
			logmsg("webhook %s: cannot start delivering event %s: %s", w->h[i].cfg->name, w->h[i].d.event_id,
			       strerror(-r));
}

int
webhooks_timeout_ms(const struct webhooks *w)
{
	int64_t d;

	if (!w || !w->n)
		return -1;
	if (w->n_done)
		return 0;
	d = w->next_look_ns - time_now_ns();
	return d <= 0 ? 0 : (int)(d / TIME_NS_PER_MS + 1);
}

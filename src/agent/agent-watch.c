/* The watch: a long poll on the VM's state over HTTPS, applying and saving each new state, posting the status, retrying. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/agent-net.h"
#include "agent/agent-state.h"
#include "client/client-agent.h"
#include "codec/codec.h"
#include "core/timeutil.h"

#define URL_SIZE	(AGENT_URL_MAX + ARM_ID_MAX + 64)

enum watch_op { OP_NONE, OP_PIN, OP_POLL, OP_STATUS };

struct watch {
	struct agent *a;
	struct client_agent *ca;
	char token[AGENT_CREDENTIAL_MAX + 1];	/* wiped */
	char instance[2 * AGENT_INSTANCE_BYTES + 1];	/* this run's random id, sent with every call (hex) */
	size_t server;			/* the server in use, of a->conf.servers */
	unsigned attempt;		/* failures in a row (the backoff's exponent) */
	unsigned failures;		/* ... and their count for the log */
	enum watch_op op;
	int64_t since;			/* the revision the next poll asks past */
	int64_t next_try, last_ok, next_status, next_reconcile;	/* monotonic ms */
	int64_t status_after;		/* no status before this (a 429), the watch goes on meanwhile */
	int64_t poll_started;		/* when the poll in flight started */
	int64_t rest_at;		/* when libnftables' context goes, idle (fw_rest; INT64_MAX: none held) */
	/*
	 * A status is owed (a state applied or refused, tampering undone) while
	 * status_owed != status_posted. A status in flight carries status_sent;
	 * what becomes owed meanwhile is posted after it, not lost with it.
	 */
	uint64_t status_owed, status_sent, status_posted;
	bool revoked;			/* the server said 401: asking again only every AGENT_REVOKED_RETRY_MS */
	bool ended;			/* max_disconnected ended the grants */
	struct buf status;		/* the status body in flight */
};

static void
status_owe(struct watch *w)
{
	w->status_owed++;
}

static bool
status_due(const struct watch *w)
{
	return w->status_owed != w->status_posted;
}

static uint64_t
random_u64(void *arg)
{
	uint64_t v = 0;

	(void)arg;
	if (getrandom(&v, sizeof(v), 0) != (ssize_t)sizeof(v))
		v = (uint64_t)time_mono_ns();
	return v;
}

/* This run's id: the server tells two agents that share one credential (a copied state directory) apart by it. */
static void
instance_make(struct watch *w)
{
	static const char hex[] = "0123456789abcdef";
	uint8_t b[AGENT_INSTANCE_BYTES];
	size_t i;

	for (i = 0; i < sizeof(b); i += sizeof(uint64_t)) {
		uint64_t v = random_u64(NULL);

		memcpy(b + i, &v, sizeof(b) - i < sizeof(v) ? sizeof(b) - i : sizeof(v));
	}
	for (i = 0; i < sizeof(b); i++) {
		w->instance[2 * i] = hex[b[i] >> 4];
		w->instance[2 * i + 1] = hex[b[i] & 0xf];
	}
	w->instance[2 * sizeof(b)] = '\0';
}

/* url (from agent_url_state or agent_url_status) with this run's ?instance= (or &instance=) */
static int
url_instance(const struct watch *w, char *url, size_t size)
{
	size_t n = strlen(url);
	int k = snprintf(url + n, size - n, "%cinstance=%s", strchr(url, '?') ? '&' : '?', w->instance);

	return k < 0 || (size_t)k >= size - n ? -ENAMETOOLONG : 0;
}

static const char *
server_of(const struct watch *w)
{
	return w->a->conf.servers[w->server];
}

/* A failed call (or an answer we cannot use): the next server, after the backoff. */
static void
retry_later(struct watch *w, const char *what)
{
	int64_t delay = agent_backoff_next_ms(&w->attempt, random_u64, NULL);
	const char *from = server_of(w);

	w->failures++;
	w->server = agent_server_next(w->server, w->a->conf.n_servers);
	/* the first failure and then every power of two: a long outage does not fill the journal */
	if ((w->failures & (w->failures - 1)) == 0)
		agent_log("%s: %s; failure %u in a row, next try in %lld ms on %s (still enforcing revision %lld)",
			  from, what, w->failures, (long long)delay, server_of(w), (long long)w->a->applied_revision);
	w->next_try = time_mono_ms() + delay;
}

/* A successful answer: the disconnected clock and the backoff start again. */
static void
answered(struct watch *w)
{
	if (w->failures)
		agent_log("%s answered after %u failures", server_of(w), w->failures);
	if (w->revoked)
		agent_log("%s accepts the credential again", server_of(w));
	w->failures = w->attempt = 0;
	w->revoked = false;
	w->last_ok = time_mono_ms();
	w->next_try = w->last_ok;
}

static int
start_status(struct watch *w, char *url, struct client_error *err)
{
	struct agent_status st;
	struct client_agent_call c = { "POST", url, w->token, NULL, 0, AGENT_CALL_TIMEOUT_MS, AGENT_ERROR_BODY_MAX };
	int r;

	agent_status_fill(w->a, &st);
	buf_free(&w->status);
	if ((r = agent_url_status(server_of(w), w->a->conf.vm, url, URL_SIZE)) < 0 || (r = url_instance(w, url, URL_SIZE)) < 0 ||
	    (r = agent_status_body(&st, &w->status)) < 0)
		return client_fail(err, CLIENT_ERR_USAGE, "cannot build the status: %s", strerror(-r)), r;
	c.body = w->status.data;
	c.body_len = w->status.len;
	w->op = OP_STATUS;
	w->status_sent = w->status_owed;
	return client_agent_start(w->ca, &c, err);
}

/*
 * The monitor's event: tampering undone is reported at once, not after the
 * held poll (up to AGENT_WATCH_WAIT_MS) or AGENT_STATUS_EVERY_S: the poll is
 * dropped for the status, and the next poll asks from the same revision.
 */
static void
tamper_report(struct watch *w)
{
	int64_t before = w->a->tamper_undone;

	agent_on_monitor(w->a);
	if (w->a->tamper_undone == before || w->revoked)
		return;
	status_owe(w);
	if (w->op == OP_POLL) {
		client_agent_cancel(w->ca);
		w->op = OP_NONE;
		w->next_try = time_mono_ms();
	}
}

/* The next transfer: the pin's handshake first, then a due status, else the long poll. */
static void
start_next(struct watch *w)
{
	struct client_agent_call c = { "GET", NULL, w->token, NULL, 0, AGENT_WATCH_TIMEOUT_MS, AGENT_STATE_BODY_MAX };
	struct client_error err = { 0 };
	char url[URL_SIZE];
	int64_t now = time_mono_ms();
	int r;

	if (!client_agent_is_pinned(w->ca, server_of(w))) {
		w->op = OP_PIN;
		r = client_agent_start_pin(w->ca, server_of(w), &err);
	} else if (!w->revoked && now >= w->status_after && (status_due(w) || now + AGENT_SERVER_HOLD_MS > w->next_status)) {
		r = start_status(w, url, &err);
	} else {
		w->op = OP_POLL;
		w->poll_started = now;
		r = agent_url_state(server_of(w), w->a->conf.vm, w->since, url, sizeof(url));
		r = r < 0 ? r : url_instance(w, url, sizeof(url));
		c.url = url;
		r = r < 0 ? client_fail(&err, CLIENT_ERR_USAGE, "the state's URL is too long") : client_agent_start(w->ca, &c, &err);
	}
	if (r < 0) {
		w->op = OP_NONE;
		retry_later(w, err.message);
	}
	client_error_clear(&err);
}

/* A state from the server: applied and saved, or refused with the last good one in force (and said in the status). */
static void
on_state(struct watch *w, const char *body, size_t n)
{
	struct core_error err = { 0 };
	struct agent_state *s = NULL;
	int64_t received = time_now_ms();

	if (codec_agent_state_decode(body, n, &s, &err) < 0) {
		snprintf(w->a->last_error, sizeof(w->a->last_error), "a state refused (%.40s): %.180s", err.code,
			 err.message);
		agent_log("%s: %s; still enforcing revision %lld", server_of(w), w->a->last_error,
			  (long long)w->a->applied_revision);
		status_owe(w);
		/* the same body would come back at once: wait as after a failure, on the same server */
		w->next_try = time_mono_ms() + agent_backoff_next_ms(&w->attempt, random_u64, NULL);
		return;
	}
	if (s->revision == w->a->applied_revision && !w->ended) {
		codec_agent_state_free(s);	/* the hold ended with nothing new */
		return;
	}
	w->since = s->revision;
	if (agent_state_accept(w->a, s, received, &err) < 0) {
		agent_log("%s: %s; still enforcing revision %lld", server_of(w), w->a->last_error,
			  (long long)w->a->applied_revision);
		status_owe(w);
		return;
	}
	w->ended = false;
	status_owe(w);
	agent_log("enforcing revision %lld from %s: %zu protected ports, %zu grants", (long long)w->a->state->revision,
		  server_of(w), w->a->state->n_ports, w->a->state->n_grants);
	if (agent_state_save(w->a->dirfd, w->a->state, body, n, received, &err) < 0)
		agent_log("%s", err.message);
}

/* `jitgate-agent rotate` saved a new credential and ended this one: the file holds what to use now. */
static bool
credential_rotated(struct watch *w)
{
	char fresh[sizeof(w->token)];
	bool moved = false;

	if (agent_credential_load(w->a->dirfd, fresh, sizeof(fresh), NULL) == 0 && strcmp(fresh, w->token)) {
		memcpy(w->token, fresh, sizeof(w->token));
		moved = true;
	}
	explicit_bzero(fresh, sizeof(fresh));
	return moved;
}

static void
on_revoked(struct watch *w, const struct client_reply *rep)
{
	char code[64], msg[256];

	if (credential_rotated(w)) {
		agent_log("%s refused the credential: %s holds a rotated one, using it from now on", server_of(w),
			  AGENT_CREDENTIAL_FILE);
		w->next_try = time_mono_ms();
		return;
	}
	client_reply_error(rep, code, sizeof(code), msg, sizeof(msg));
	if (!w->revoked)
		agent_log("%s refused the credential (401 %s: %s): revoked or unknown. Enforcing revision %lld as it is "
			  "(ports stay closed, grants end on time); asking again every %d s", server_of(w),
			  code[0] ? code : "-", msg, (long long)w->a->applied_revision, AGENT_REVOKED_RETRY_MS / 1000);
	w->revoked = true;
	w->next_try = time_mono_ms() + AGENT_REVOKED_RETRY_MS;
}

/* An answer that is not what the call asks for: the server's words, then the next server. */
static void
on_refused(struct watch *w, const struct client_reply *rep)
{
	char code[64], msg[256], what[400];

	client_reply_error(rep, code, sizeof(code), msg, sizeof(msg));
	snprintf(what, sizeof(what), "HTTP %ld %s%s%s", rep->status, code, code[0] ? ": " : "", msg);
	retry_later(w, what);
}

static void
on_status_refused(struct watch *w, const struct client_reply *rep)
{
	char code[64], msg[256];

	client_reply_error(rep, code, sizeof(code), msg, sizeof(msg));
	agent_log("%s refused the status (HTTP %ld %s: %s); watching on, the next status in %d s", server_of(w),
		  rep->status, code[0] ? code : "-", msg, AGENT_STATUS_EVERY_S);
}

static void
on_done(struct watch *w, int r, const struct client_reply *rep, const struct client_error *err)
{
	enum watch_op op = w->op;

	w->op = OP_NONE;
	if (r == -EFBIG && op == OP_POLL) {
		snprintf(w->a->last_error, sizeof(w->a->last_error), "a state refused: larger than %d bytes",
			 AGENT_STATE_BODY_MAX);
		agent_log("%s: %s; still enforcing revision %lld", server_of(w), w->a->last_error,
			  (long long)w->a->applied_revision);
		status_owe(w);
		w->next_try = time_mono_ms() + agent_backoff_next_ms(&w->attempt, random_u64, NULL);
	} else if (r < 0) {
		if (r == -EPERM || op == OP_PIN)
			client_agent_unpin(w->ca);
		retry_later(w, err->message);
	} else if (op == OP_PIN) {
		w->next_try = time_mono_ms();
	} else if (rep->status == 401) {
		on_revoked(w, rep);
	} else if (op == OP_STATUS && rep->status == 429) {
		/* the server's budget of this VM's statuses is spent: a revocation must not wait for it, so watch on */
		answered(w);
		w->status_after = w->last_ok + AGENT_STATUS_THROTTLED_MS;
		agent_log("%s: the status is throttled (429); watching on, the status again in %d s", server_of(w),
			  AGENT_STATUS_THROTTLED_MS / 1000);
	} else if (op == OP_STATUS && rep->status >= 400 && rep->status < 500 && rep->status != 408) {
		/* the server read it and will not take it: asking again would stop the watch for good */
		answered(w);
		w->status_posted = w->status_sent;
		w->next_status = w->last_ok + AGENT_STATUS_EVERY_S * 1000LL;
		on_status_refused(w, rep);
	} else if (op == OP_STATUS && rep->status >= 200 && rep->status < 300) {
		answered(w);
		w->status_posted = w->status_sent;
		w->next_status = w->last_ok + AGENT_STATUS_EVERY_S * 1000LL;
	} else if (op == OP_POLL && agent_answer_kind(rep->status) == AGENT_ANSWER_STATE) {
		answered(w);
		on_state(w, rep->body, rep->body_len);
	} else {
		on_refused(w, rep);
	}
}

/* max_disconnected passed: every grant ends now, the protected ports stay closed. */
static void
grants_end(struct watch *w)
{
	struct agent *a = w->a;
	struct core_error err = { 0 };
	struct agent_state *s = NULL;
	size_t had = a->state ? a->state->n_grants : 0;
	json_t *v = NULL;
	char *text = NULL;
	size_t n;

	w->ended = true;
	w->since = -1;	/* back in touch: the whole state at once, grants included */
	if (!a->state || had == 0 || agent_state_without_grants(a->state, &s) < 0)
		return;
	if (!(v = codec_agent_state_encode(s)) || !(text = codec_dump(v, &n)))
		goto out;
	if (agent_state_accept(a, s, a->received_ms, &err) < 0) {
		s = NULL;
		agent_log("max_disconnected: cannot end the grants: %s", err.message);
		goto out;
	}
	s = NULL;
	agent_log("no answer from any server for max_disconnected (%lld s): ended all %zu grants; the %zu protected "
		  "ports stay closed until a server answers", (long long)(a->conf.max_disconnected_ms / 1000), had,
		  a->state->n_ports);
	if (agent_state_save(a->dirfd, a->state, text, n, a->received_ms, &err) < 0)
		agent_log("%s", err.message);
out:
	codec_agent_state_free(s);
	json_decref(v);
	free(text);
}

/* How long the loop may sleep: the tick, the next try, the reconcile, the idle context's end, the disconnected deadline. */
static int
wait_ms(const struct watch *w, int64_t now)
{
	int64_t t = AGENT_TICK_MS, d;

	if (w->op == OP_NONE && w->next_try - now < t)
		t = w->next_try - now;
	if (w->next_reconcile - now < t)
		t = w->next_reconcile - now;
	if (w->rest_at - now < t)
		t = w->rest_at - now;
	d = agent_disconnected_deadline(agent_contact_ms(w->last_ok, w->op == OP_POLL, w->poll_started, now),
					w->a->conf.max_disconnected_ms);
	if (!w->ended && d - now < t)
		t = d - now;
	return t < 0 ? 0 : (int)t;
}

static int
watch_step(struct watch *w)
{
	struct pollfd p[2] = { { w->a->sfd, POLLIN, 0 }, { w->a->mon ? fw_monitor_fd(w->a->mon) : -1, POLLIN, 0 } };
	struct client_error err = { 0 };
	struct client_reply rep;
	int64_t now = time_mono_ms();
	int r;

	if (w->op == OP_NONE && now >= w->next_try)
		start_next(w);
	if ((r = client_agent_wait(w->ca, p, p[1].fd >= 0 ? 2 : 1, wait_ms(w, time_mono_ms()))) < 0)
		return r;
	if (p[0].revents & POLLIN)
		agent_on_signal(w->a);
	if (p[1].fd >= 0 && (p[1].revents & (POLLIN | POLLERR)))
		tamper_report(w);
	memset(&rep, 0, sizeof(rep));
	if (w->op != OP_NONE && (r = client_agent_done(w->ca, &rep, &err)) != 0)
		on_done(w, r, &rep, &err);
	client_reply_clear(&rep);
	client_error_clear(&err);
	now = time_mono_ms();
	if (!w->ended && agent_disconnected_expired(agent_contact_ms(w->last_ok, w->op == OP_POLL, w->poll_started, now),
						      w->a->conf.max_disconnected_ms, now))
		grants_end(w);
	/* the kernel ends grants by itself; this catches what the monitor cannot see (a lost socket) */
	if (now >= w->next_reconcile) {
		agent_reconcile(w->a, "periodic");
		w->next_reconcile = now + AGENT_RECONCILE_MS;
	}
	/* after the step's batches: a batch soon after reuses the context, an idle agent gives it back */
	w->rest_at = fw_rest(w->a->fw, time_mono_ms(), AGENT_LEAN_IDLE_MS);
	return 0;
}

int
agent_watch_run(struct agent *a)
{
	struct watch w = { .a = a, .op = OP_NONE, .since = a->applied_revision, .status_owed = 1 };
	struct core_error cerr = { 0 };
	struct client_error err = { 0 };
	int r = 0;

	instance_make(&w);
	w.last_ok = w.next_try = w.next_status = time_mono_ms();
	w.next_reconcile = w.last_ok + AGENT_RECONCILE_MS;
	w.rest_at = w.last_ok;	/* the first step looks (the saved state was applied just before) */
	if (agent_credential_load(a->dirfd, w.token, sizeof(w.token), &cerr) < 0) {
		agent_log("%s: %s; enforcing the saved state without a server", cerr.target, cerr.message);
		w.next_try = INT64_MAX;
	}
	if (client_agent_new(a->conf.ca_file[0] ? a->conf.ca_file : NULL,
			     a->conf.has_fingerprint ? a->conf.fingerprint : NULL, &w.ca, &err) < 0) {
		agent_log("%s", err.message);
		r = -EIO;
		goto out;
	}
	agent_log("watching %s on %s%s as instance %s", a->conf.vm, server_of(&w),
		  a->conf.n_servers > 1 ? " (and the others in turn)" : "", w.instance);
	while (!a->stop && (r = watch_step(&w)) == 0)
		;
out:
	client_agent_free(w.ca);
	client_error_clear(&err);
	buf_free(&w.status);
	explicit_bzero(w.token, sizeof(w.token));
	return r;
}

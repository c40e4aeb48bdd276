/* jitgated's event loop: a table of event sources, each with its handler, and the timers after each pass. */
#include <errno.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "api/api.h"
#include "core/timeutil.h"
#include "daemon/audit-syslog.h"
#include "daemon/bootrules.h"
#include "daemon/log.h"
#include "daemon/privsep.h"
#include "daemon/retention.h"
#include "daemon/server.h"
#include "daemon/webhook.h"
#include "fw/fw.h"
#include "http/http-fetch.h"
#include "http/http.h"
#include "store/store.h"

#define CLOCK_CHECK_MS	1000	/* the loop wakes at least this often, to notice wall-clock jumps */
#define CLOCK_JUMP_NS	(1000LL * 1000 * 1000)	/* a jump this large or more means kernel timeouts are off */

struct boot_ctx {
	const struct config *cfg;
	char **last;
	struct core_error *err;
};

static int
boot_write_cb(void *ctx, const struct fw_state *st)
{
	struct boot_ctx *c = ctx;

	return boot_rules_write(c->cfg->state_dir, st, c->last, c->err);
}

/*
 * The ports protected now, in the boot list, when a kernel change may have changed them (bootrules.h):
 * after each pass (on_timers), and once by start-up before the loop (server.c).
 */
void
server_boot_refresh(struct server *s)
{
	struct core_error err = { 0 };
	struct boot_ctx c = { s->cfg, &s->boot_last, &err };

	if (!api_state_loaded(s->api) || !s->fw)
		return;
	if (api_state_with(s->api, boot_write_cb, &c, &err) < 0)
		fail_err("cannot keep the boot list of protected ports", &err);	/* tried again after the next pass */
	else
		api_state_loaded_clear(s->api);
}

/* Someone else changed table inet jitgate (seen by the monitor or by the helper): put it back. */
static void
on_tamper(struct server *s, const struct fw_tamper *tamper)
{
	struct core_error err = { 0 };

	logmsg("table inet jitgate was changed by %s (pid %d); restoring it", tamper->name[0] ? tamper->name : "?",
	       (int)tamper->pid);
	if (api_reconcile_after(s->api, tamper, &err) < 0)
		fail_err("reconcile after tampering", &err);
}

/* The firewall helper's events: tampering it saw, or (on a read error or hang-up) that it is gone. */
static int
on_fw_events(struct server *s)
{
	struct fw_tamper tamper;

	if (fw_events_read(s->fw, &tamper) < 0) {
		s->fw_down = true;
		logmsg("the firewall helper is gone: no firewall change can be made until a new one starts; "
		       "the kernel keeps its table and drop rules (fail closed)");
	} else if (tamper.tampered) {
		on_tamper(s, &tamper);
	}
	return 0;
}

/* The single process's own netlink monitor. */
static int
on_monitor(struct server *s)
{
	struct fw_tamper tamper;

	if (fw_monitor_read(s->mon, &tamper) == 0 && tamper.tampered)
		on_tamper(s, &tamper);
	return 0;
}

/* A new helper from the supervisor: connect, and bring the kernel in line with the store through it. */
static void
helper_arrived(struct server *s, int fd, pid_t pid)
{
	struct core_error err = { 0 };
	struct fw *fw = NULL;

	if (fw_connect(fd, &fw, &err) < 0) {
		logmsg("firewall helper %d: %s", (int)pid, err.message);
		return;
	}
	fw_free(s->fw);
	s->fw = fw;
	api_set_fw(s->api, fw, NULL);
	api_set_ready(s->api, true);
	s->fw_down = false;
	if (api_reconcile(s->api, &err) < 0)
		fail_err("firewall helper restarted, but the reconcile failed", &err);
	else
		logmsg("firewall helper %d started; the kernel is in line with the store again", (int)pid);
}

/* The supervisor's control socket: a new helper, or (the supervisor gone) the end of the server. */
static int
on_helper(struct server *s)
{
	int fd, n;
	pid_t pid;

	n = privsep_helper_recv(&s->ps, 0, &fd, &pid);
	if (n == 0) {
		helper_arrived(s, fd, pid);
	} else if (n != -EAGAIN) {
		logmsg("the firewall supervisor is gone; stopping (the kernel keeps its table and drop "
		       "rules; restart jitgated)");
		return -EPIPE;
	}
	return 0;
}

static int
on_signal(struct server *s)
{
	struct core_error err = { 0 };
	struct signalfd_siginfo si;

	if (read(s->sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			/* no settings are reloaded (restart for that); HUP means "look at the kernel now" */
			logmsg("SIGHUP: reconciling the kernel with the store now");
			if (s->fw && api_reconcile(s->api, &err) < 0)
				fail_err("reconcile", &err);
		} else {
			s->stop = true;
		}
	}
	return 0;
}

static int
http_fd(const struct server *s)
{
	return http_server_poll_fd(s->srv);
}

static int
metrics_fd(const struct server *s)
{
	return s->metrics_srv ? http_server_poll_fd(s->metrics_srv) : -1;
}

static int
fw_events_fd_of(const struct server *s)
{
	return s->fw && !s->fw_down ? fw_events_fd(s->fw) : -1;
}

static int
helper_fd(const struct server *s)
{
	return s->ps.ctrl;
}

static int
monitor_fd(const struct server *s)
{
	return s->mon ? fw_monitor_fd(s->mon) : -1;
}

static int
signal_fd(const struct server *s)
{
	return s->sfd;
}

/* Other replicas' writes (PostgreSQL; -1 on SQLite, whose one writer is this process): store.h. */
static int
store_changes_fd_of(const struct server *s)
{
	return s->store ? store_changes_fd(s->store) : -1;
}

/*
 * Take the announcements of other replicas' writes: store_generation() moves (the caches keyed on it
 * drop what they kept) and, as the pass goes on, api_watches_wake() reads the revisions they gave
 * and wakes the parked watches of those VMs. Also called before each poll, for what libpq collected
 * while answering other calls: true when there was any (then the loop does not sleep).
 */
static bool
store_changes_taken(struct server *s)
{
	int64_t rev;

	return s->store && store_changes_take(s->store, &rev) > 0;
}

static int
fetcher_fd_of(const struct server *s)
{
	return http_fetcher_fd(s->fetcher);
}

/*
 * Outbound calls: a receiver or the provider answered, a connection is ready to send, or libcurl's
 * timer is due. A sign-in step whose call ended is woken (its handler runs again in this pass's
 * http_server_run); ended deliveries are settled by webhooks_run at the end of the pass.
 */
static int
on_fetcher(struct server *s)
{
	http_fetcher_run(s->fetcher);
	return 0;
}

static int
on_store_changes(struct server *s)
{
	store_changes_taken(s);
	return 0;	/* a lost connection is made again at the next call; its announcements are read then */
}

/*
 * The event sources, looked at in this order after each poll. A source's descriptor is asked
 * for on every pass (-1: not now), as the helper and the firewall come and go. The HTTP
 * server's has no handler: http_server_run() looks at every connection after the handlers.
 */
static const struct loop_source {
	int (*fd)(const struct server *s);
	short wake;			/* the revents that call the handler */
	int (*handler)(struct server *s);	/* negative: the server cannot go on */
} sources[] = {
	{ http_fd, 0, NULL },
	{ metrics_fd, 0, NULL },	/* metrics_listen: run after the pass's group commit, below */
	{ fw_events_fd_of, ~0, on_fw_events },	/* any event: a hang-up is the helper gone */
	{ helper_fd, ~0, on_helper },
	{ monitor_fd, POLLIN, on_monitor },
	{ signal_fd, POLLIN, on_signal },
	{ store_changes_fd_of, ~0, on_store_changes },	/* before HTTP: the caches see other replicas' writes */
	{ fetcher_fd_of, POLLIN, on_fetcher },	/* outbound calls' sockets (an epoll set) */
};
#define N_SOURCES (sizeof(sources) / sizeof(sources[0]))

/* How long poll() may sleep: until the next expiry or reconcile, at most CLOCK_CHECK_MS, or sooner for HTTP. */
static int
loop_timeout_ms(const struct server *s)
{
	int64_t now = time_now_ns(), mono = time_mono_ns(), wait = s->next_reconcile - mono;
	int timeout = http_server_timeout_ms(s->srv), t;

	if (s->next_expiry && s->next_expiry - now < wait)
		wait = s->next_expiry - now;
	if (s->next_prune - mono < wait)
		wait = s->next_prune - mono;
	t = wait <= 0 ? 0 : (int)(wait / TIME_NS_PER_MS + 1);
	if (t > CLOCK_CHECK_MS)
		t = CLOCK_CHECK_MS;
	if (timeout < 0 || t < timeout)
		timeout = t;
	t = webhooks_timeout_ms(s->hooks);	/* the next delivery due */
	if (t >= 0 && t < timeout)
		timeout = t;
	t = http_fetcher_timeout_ms(s->fetcher);	/* libcurl's timer: a call's timeout, or one to start */
	if (t >= 0 && t < timeout)
		timeout = t;
	/* a group commit waiting for the writers' lock another replica holds tries again soon */
	if (api_batch_waiting(s->api) && (timeout < 0 || timeout > API_BATCH_LOCK_RETRY_MS))
		timeout = API_BATCH_LOCK_RETRY_MS;
	return timeout;
}

/*
 * After each pass: clock jumps, grants that end sooner, journalled closes, the boot list, expiry and reconcile.
 * Replicas (several jitgated on one PostgreSQL database) each run all of these; none needs a
 * pg_advisory_lock, as each is idempotent SQL or touches only this host:
 *   - expiry (api_expire): idempotent SQL. A grant ends by an UPDATE … WHERE status = Initiated under the
 *     write lock every PostgreSQL write transaction takes, so of two replicas one ends it and logs
 *     "Expired", the other changes no row (-ENOENT) and logs nothing. A grant made on another replica
 *     is ended by that one at its end time, or here at the next reconcile interval if it is gone (the
 *     agents close the port at its end time themselves: this is bookkeeping).
 *   - journalled closes (api_closing_flush): the closes this replica's store refused, from its own close
 *     journal; recorded by the same conditional UPDATE, so a grant another replica ended is skipped.
 *   - the boot list and the reconcile: this host's kernel only.
 *   - sessions (api_sessions_tick): expired ones are pruned by an idempotent DELETE; the sign-outs it
 *     records are those this replica's store refused.
 */
static void
on_timers(struct server *s)
{
	const struct config *cfg = s->cfg;
	struct core_error err = { 0 };
	int64_t now, mono, offset, hint;
	int n;

	now = time_now_ns();
	mono = time_mono_ns();
	offset = now - mono;
	if (offset - s->clock_offset > CLOCK_JUMP_NS || s->clock_offset - offset > CLOCK_JUMP_NS) {
		logmsg("the wall clock jumped by %+.1f s; bringing kernel timeouts in line with the grants' end times",
		       (double)(offset - s->clock_offset) / TIME_NS_PER_SEC);
		s->next_reconcile = mono;	/* now */
	}
	s->clock_offset = offset;
	/* a grant made since the last look may end sooner than what we were waiting for */
	hint = api_end_hint_take(s->api);
	if (hint && (!s->next_expiry || hint < s->next_expiry))
		s->next_expiry = hint;
	/* closes the store refused, recorded as soon as it takes writes again (retried each second) */
	if (api_closing_pending(s->api) && (n = api_closing_flush(s->api)) > 0)
		logmsg("recorded %d grant close(s) the store had refused; the close journal is clear", n);
	/* sign-outs the store refused (refused here meanwhile), and expired sessions pruned */
	if ((n = api_sessions_tick(s->api)) > 0)
		logmsg("recorded %d sign-out(s) the store had refused; the other replicas refuse them now", n);
	server_boot_refresh(s);
	if ((s->next_expiry && now >= s->next_expiry) || mono >= s->next_reconcile)
		api_expire(s->api, now, &s->next_expiry);
	if (mono >= s->next_reconcile) {
		if (s->fw && !s->fw_down && api_reconcile(s->api, &err) < 0)
			fail_err("periodic reconcile", &err);
		malloc_trim(0);	/* a big reconcile's listing is freed; give the memory back */
		s->next_reconcile = time_mono_ns() + (int64_t)cfg->reconcile_interval_s * TIME_NS_PER_SEC;
	}
	retention_tick(s);	/* after expiry: pruning never holds up a close */
	audit_syslog_tick(s);
}

int
server_loop(struct server *s)
{
	/*
	 * Timers: end times are absolute wall-clock times, so the expiry timer runs on CLOCK_REALTIME
	 * (api_expire gives a grant's monotonic end as the wall-clock time it comes at);
	 * the reconcile interval is a duration, so it runs on CLOCK_MONOTONIC. The kernel's element
	 * timeouts are durations too: when the wall clock jumps, they no longer end at the grants' end
	 * times, so a jump (the difference between the two clocks moving) triggers a reconcile at once.
	 * The loop wakes at least every CLOCK_CHECK_MS to notice.
	 */
	s->next_reconcile = time_mono_ns() + (int64_t)s->cfg->reconcile_interval_s * TIME_NS_PER_SEC;
	s->clock_offset = time_now_ns() - time_mono_ns();

	while (!s->stop) {
		struct pollfd p[N_SOURCES];
		char alert[512];
		size_t i;

		bool pending = store_changes_taken(s);

		for (i = 0; i < N_SOURCES; i++)
			p[i] = (struct pollfd){ .fd = sources[i].fd(s), .events = POLLIN };
		if (poll(p, N_SOURCES, pending ? 0 : loop_timeout_ms(s)) < 0 && errno != EINTR)
			break;
		for (i = 0; i < N_SOURCES; i++)
			if (sources[i].handler && (p[i].revents & sources[i].wake) && sources[i].handler(s) < 0)
				return -1;
		http_server_run(s->srv);
		api_batch_end(s->api);	/* the initiates of this pass commit together; their answers go out after */
		if (s->metrics_srv)
			http_server_run(s->metrics_srv);
		api_watches_wake(s->api, s->srv);	/* the agents' watches of the VMs this pass changed */
		if (api_alert_take(s->api, alert, sizeof(alert)) > 0)
			logmsg("%s", alert);
		on_timers(s);
		http_fetcher_run(s->fetcher);	/* libcurl's timer: calls started in this pass connect, or time out */
		webhooks_run(s->hooks);	/* after the answers and the timers: their events are committed */
	}
	/* a group commit that was waiting for another replica's writers' lock is written now, not dropped */
	api_batch_commit(s->api);
	logmsg("stopping; the kernel keeps every live grant and ends each on time");
	return 0;
}

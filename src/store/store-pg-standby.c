/* Reads served by a PostgreSQL standby (store_read) while the primary's connection is failing: a second, read-only connection, made lazily, bounded in time. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "core/timeutil.h"
#include "store-pg.h"

/*
 * While there is no primary (a failover in progress, or none at all), every request of jitgated fails,
 * reads included: each one looks its token up in the store. With store_read set, a read made outside a
 * write transaction that the primary's connection failed fast (refused, reset, or inside its reconnect
 * pause) runs on this connection instead, if the server there has applied everything it received.
 * doc/store-backends.md, "Reads from a standby", says what that guarantees and what not.
 *
 * jitgated serves every request on one thread, which must never wait past the HTTP server's 5 s for a
 * connection's first request (API_CONN_UNAUTH_TIMEOUT_S). So the standby is asked only after a failure
 * of the primary that took less than STORE_PG_STANDBY_AFTER_MS (a silent primary has used the time up:
 * that read answers 503 as before, the next ones, inside the primary's reconnect pause, may go to the
 * standby); connecting, and each read, are bounded by their own deadlines with libpq's non-blocking
 * calls; after a failure the standby is not asked for STORE_PG_STANDBY_PAUSE_MS. A dead or silent
 * standby so costs the thread at most STORE_PG_STANDBY_CONNECT_MS + STORE_PG_STANDBY_READ_MS in each
 * such pause, on top of the primary's own ~4 s in the worst case spread over two pauses (the limits:
 * store-pg.h).
 */

/*
 * Served only by a server that has applied all the WAL it received (else its answer may be older than
 * what it already knows: the replay is behind, or paused), or by one that is no longer a standby (it
 * was promoted: its answers are the new primary's). A standby that never received WAL by streaming
 * (NULL) is not fresh.
 */
#define STORE_PG_STANDBY_FRESH_SQL \
	"SELECT NOT pg_is_in_recovery() OR coalesce(pg_last_wal_replay_lsn() >= pg_last_wal_receive_lsn(), false)"

/*
 * The session: UTC as the primary's; read-only whatever the server is; a statement the server works on
 * past the read's deadline is cancelled there too.
 */
#define STORE_PG_STANDBY_SESSION_SQL \
	"SELECT set_config('TimeZone', 'UTC', false), set_config('default_transaction_read_only', 'on', false), " \
	"set_config('statement_timeout', '%d', false)"

/* What a standby server may be, unless the URI says (target_session_attrs): a standby first, else whatever answers. */
#define STORE_PG_STANDBY_TARGET		"prefer-standby"

struct store_pg_standby {
	char *uri;			/* the operator's libpq URI (never logged: it may hold a password) */
	PGconn *conn;			/* NULL until a read needs it, and again after a failure */
	int64_t retry_ns;		/* CLOCK_MONOTONIC: not asked before (STORE_PG_STANDBY_PAUSE_MS after a failure) */
	char why[STORE_ERROR_MAX];	/* why the last read was not served, for the primary's error message */
};

/* libpq's words on one line: its messages end in, and may hold, newlines. */
static void
sb_note(struct store_pg_standby *sb, const char *what, const char *msg)
{
	char *p;

	snprintf(sb->why, sizeof(sb->why), "%s%s%s", what, msg && *msg ? ": " : "", msg ? msg : "");
	for (p = sb->why; (p = strpbrk(p, "\r\n"));)
		*p = ' ';
}

/* The connection failed or timed out: drop it, and ask the standby again only after the pause. */
static void
sb_drop(struct store_pg_standby *sb)
{
	PQfinish(sb->conn);
	sb->conn = NULL;
	sb->retry_ns = time_mono_ns() + (int64_t)STORE_PG_STANDBY_PAUSE_MS * 1000000;
}

/* Wait until the socket is ready for what the caller wants (POLLIN / POLLOUT), up to deadline: 0, or -ETIMEDOUT. */
static int
sb_wait(PGconn *c, short events, int64_t deadline)
{
	struct pollfd p = { .fd = PQsocket(c), .events = events };
	int64_t left;
	int n;

	for (;;) {
		left = deadline - time_mono_ns();
		if (left <= 0 || p.fd < 0)
			return -ETIMEDOUT;
		n = poll(&p, 1, (int)((left + 999999) / 1000000));
		if (n > 0)
			return 0;
		if (n == 0)
			return -ETIMEDOUT;
		if (errno != EINTR)
			return -errno;
	}
}

/*
 * Read the results of what was sent, up to deadline: n queries (a pipeline's, each ending with a NULL, then its
 * sync), or one command. The first result of query i goes to ret[i] (for the caller to clear), the rest are dropped.
 */
static int
sb_results(PGconn *c, int64_t deadline, PGresult **ret, int n)
{
	PGresult *res;
	int i = 0, r;

	for (;;) {
		while (PQisBusy(c)) {
			if ((r = sb_wait(c, POLLIN, deadline)) < 0)
				return r;
			if (!PQconsumeInput(c))
				return -EIO;
		}
		res = PQgetResult(c);
		if (!res) {
			/* a pipeline's queries each end with a NULL; its sync result comes last */
			if (!PQpipelineStatus(c) || ++i > n)
				return 0;
			continue;
		}
		if (PQresultStatus(res) == PGRES_PIPELINE_SYNC) {
			PQclear(res);
			return 0;
		}
		if (i < n && !ret[i])
			ret[i] = res;
		else
			PQclear(res);
	}
}

/* Send what libpq holds, up to deadline. */
static int
sb_flush(PGconn *c, int64_t deadline)
{
	int n, r;

	while ((n = PQflush(c)) == 1)
		if ((r = sb_wait(c, POLLOUT | POLLIN, deadline)) < 0 || !PQconsumeInput(c))
			return r < 0 ? r : -EIO;
	return n == 0 ? 0 : -EIO;
}

/* Connect (non-blocking: libpq's connect_timeout is whole seconds, at least 2) and set the session up. */
static int
sb_connect(struct store_pg_standby *sb)
{
	const char *const keys[] = { "target_session_attrs", "keepalives", "keepalives_idle", "keepalives_interval",
		"keepalives_count", "tcp_user_timeout", "dbname", NULL };
	const char *const values[] = { STORE_PG_STANDBY_TARGET, "1", STORE_PG_KEEPALIVE_IDLE_S,
		STORE_PG_KEEPALIVE_INTERVAL_S, STORE_PG_KEEPALIVE_COUNT, STORE_PG_TCP_USER_TIMEOUT_MS, sb->uri, NULL };
	int64_t deadline = time_mono_ns() + (int64_t)STORE_PG_STANDBY_CONNECT_MS * 1000000;
	PostgresPollingStatusType s = PGRES_POLLING_WRITING;
	PGresult *res = NULL;
	char sql[160];
	int w = 0, r = -EAGAIN;

	/* the URI's keywords come later and win over ours */
	sb->conn = PQconnectStartParams(keys, values, 1);
	if (!sb->conn || PQstatus(sb->conn) == CONNECTION_BAD) {
		sb_note(sb, "cannot connect to the standby", sb->conn ? PQerrorMessage(sb->conn) : "out of memory");
		goto out;
	}
	while (s != PGRES_POLLING_OK && s != PGRES_POLLING_FAILED && w == 0) {
		if (s == PGRES_POLLING_READING || s == PGRES_POLLING_WRITING)
			w = sb_wait(sb->conn, s == PGRES_POLLING_READING ? POLLIN : POLLOUT, deadline);
		if (w == 0)
			s = PQconnectPoll(sb->conn);
	}
	if (s != PGRES_POLLING_OK) {
		sb_note(sb, w < 0 ? "connecting to the standby timed out" : "cannot connect to the standby",
		    w < 0 ? NULL : PQerrorMessage(sb->conn));
		goto out;
	}
	snprintf(sql, sizeof(sql), STORE_PG_STANDBY_SESSION_SQL, STORE_PG_STANDBY_READ_MS);
	/* from here on no send waits without a deadline (the socket's buffer full: PQflush says so, sb_flush waits) */
	PQsetnonblocking(sb->conn, 1);
	/* one statement (one result), not three commands */
	if (!PQsendQuery(sb->conn, sql) || (w = sb_flush(sb->conn, deadline)) < 0 ||
	    (w = sb_results(sb->conn, deadline, &res, 1)) < 0 || PQresultStatus(res) != PGRES_TUPLES_OK) {
		sb_note(sb, w == -ETIMEDOUT ? "setting the standby's session up timed out" : "cannot set the standby's session up",
		    res ? PQresultErrorMessage(res) : PQerrorMessage(sb->conn));
		goto out;
	}
	r = 0;
out:
	PQclear(res);
	if (r < 0)
		sb_drop(sb);
	return r;
}

/*
 * Is the connection still there? A standby that restarted or was stopped since it last served closed
 * it: reading without waiting finds the end (and makes the connection bad), so a new one is made now
 * rather than the read failing on the old one.
 */
static bool
sb_alive(struct store_pg_standby *sb)
{
	return sb->conn && PQconsumeInput(sb->conn) && PQstatus(sb->conn) == CONNECTION_OK;
}

/* The freshness check and the statement in one pipeline, one round trip: the statement's result, or NULL. */
static PGresult *
sb_query(struct store_pg_standby *sb, const struct store_pg_read *rd)
{
	int64_t deadline = time_mono_ns() + (int64_t)STORE_PG_STANDBY_READ_MS * 1000000;
	PGresult *res[2] = { NULL, NULL }, *mine = NULL;
	PGconn *c = sb->conn;
	int r = -EIO;

	if (PQenterPipelineMode(c) && PQsendQueryParams(c, STORE_PG_STANDBY_FRESH_SQL, 0, NULL, NULL, NULL, NULL, 0) &&
	    PQsendQueryParams(c, rd->sql, rd->n_params, rd->types, rd->values, rd->lengths, rd->formats, 1) &&
	    PQpipelineSync(c) && (r = sb_flush(c, deadline)) == 0)
		r = sb_results(c, deadline, res, 2);
	if (r < 0 || !PQexitPipelineMode(c)) {
		sb_note(sb, r == -ETIMEDOUT ? "the standby did not answer in time" : "the standby's connection failed",
		    r == -ETIMEDOUT ? NULL : PQerrorMessage(c));
		sb_drop(sb);
		goto out;
	}
	if (PQresultStatus(res[0]) != PGRES_TUPLES_OK || PQntuples(res[0]) != 1)
		sb_note(sb, "the standby's freshness is unknown", PQresultErrorMessage(res[0]));
	else if (strcmp(PQgetvalue(res[0], 0, 0), "t") != 0)
		sb_note(sb, "the standby has not applied all it received (replay behind or paused)", NULL);
	else if (PQresultStatus(res[1]) != PGRES_TUPLES_OK)
		sb_note(sb, "the standby refused the read", PQresultErrorMessage(res[1]));
	else {
		mine = res[1];
		res[1] = NULL;
	}
out:
	PQclear(res[0]);
	PQclear(res[1]);
	return mine;
}

/* Put s at buf[at], cut to what fits: where it ends. */
static size_t
sb_put(char *buf, size_t size, size_t at, const char *s)
{
	size_t m = strlen(s);

	if (at + 1 >= size)
		return at;
	m = m < size - at - 1 ? m : size - at - 1;
	memcpy(buf + at, s, m);
	buf[at + m] = '\0';
	return at + m;
}

/* Not served from the standby: its reason goes first in the error the caller gets, the primary's after. */
static PGresult *
sb_not(struct store_pg *pg, const char *why)
{
	char primary[sizeof(pg->message)];
	size_t n;

	if (!why || !why[0])
		return NULL;
	memcpy(primary, pg->message, sizeof(primary));
	/* at most half for the standby's: the primary's words must show too */
	n = sb_put(pg->message, sizeof(pg->message) / 2, 0, why);
	n = sb_put(pg->message, sizeof(pg->message), n, "; the primary: ");
	sb_put(pg->message, sizeof(pg->message), n, primary);
	return NULL;
}

PGresult *
store_pg_standby_read(struct store *st, const struct store_pg_read *rd, int64_t failed_after_ns)
{
	struct store_pg *pg = st->engine;
	struct store_pg_standby *sb = pg->standby;
	PGresult *res;

	/* a live primary's answer stands, and so does a failure that left no time; FOR UPDATE is a writer's read */
	if (!sb || PQstatus(pg->conn) == CONNECTION_OK || strstr(rd->sql, " FOR UPDATE"))
		return NULL;
	if (failed_after_ns > (int64_t)STORE_PG_STANDBY_AFTER_MS * 1000000)
		return sb_not(pg, "the standby was not asked (the primary took the time)");
	if (sb->retry_ns && time_mono_ns() < sb->retry_ns)
		return sb_not(pg, sb->why);	/* it failed a moment ago */
	sb->retry_ns = 0;
	if (!sb_alive(sb)) {
		PQfinish(sb->conn);
		sb->conn = NULL;
		if (sb_connect(sb) < 0)
			return sb_not(pg, sb->why);
	}
	if (!(res = sb_query(sb, rd)))
		return sb_not(pg, sb->why);
	/*
	 * An answer from elsewhere: nothing kept on store_generation() (the policy GET cache) may outlive it,
	 * as announcements of other replicas' writes do not come over this connection. The primary's
	 * failure is not the caller's.
	 */
	pg->foreign++;
	pg->config++;
	pg->errno_pending = 0;
	sb->why[0] = '\0';
	return res;
}

void
store_pg_standby_close(struct store *st)
{
	struct store_pg *pg = st->engine;

	if (!pg || !pg->standby)
		return;
	PQfinish(pg->standby->conn);
	free(pg->standby->uri);
	free(pg->standby);
	pg->standby = NULL;
}

int
store_pg_standby_set(struct store *st, const char *uri, struct core_error *err)
{
	struct store_pg *pg = st->engine;
	struct store_pg_standby *sb;
	PQconninfoOption *opts;
	char *msg = NULL;

	/*
	 * The URI may hold a password (user:secret@host, or password=): libpq's words are repeated only if
	 * they quote no such part of it.
	 */
	opts = PQconninfoParse(uri, &msg);
	if (!opts) {
		core_error_set(err, "InvalidConfig", "store_read", "store_read is not a URI libpq takes: %s",
		    !msg ? "out of memory" : strchr(msg, '@') || strstr(msg, "password") ? "(its words quote the URI)" : msg);
		for (char *p = err ? err->message : NULL; p && (p = strpbrk(p, "\r\n"));)
			*p = ' ';
		PQfreemem(msg);
		return -EINVAL;
	}
	PQconninfoFree(opts);
	sb = calloc(1, sizeof(*sb));
	if (sb)
		sb->uri = strdup(uri);
	if (!sb || !sb->uri) {
		free(sb);
		return core_error_set(err, "StoreOpenFailed", NULL, "out of memory");
	}
	store_pg_standby_close(st);
	pg->standby = sb;
	return 0;
}

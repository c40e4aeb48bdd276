/* Private to the PostgreSQL engine's files: its connection state and what store-pg.c and store-open-pg.c share. */
#ifndef JITGATE_STORE_PG_H
#define JITGATE_STORE_PG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "store-internal.h"

#define STORE_PG_MIGRATE_LOCK_TEXT	"1785295981"	/* 0x6a69746d, "jitm": held while one replica migrates the schema */

/*
 * A connection attempt, at open and each time again after the server dropped one, waits at most this
 * long (libpq's connect_timeout, per host of a multi-host URI); a URI with its own connect_timeout wins.
 */
#define STORE_PG_CONNECT_TIMEOUT_S	"2"

/*
 * A server that vanishes over TCP (a host powered off, a partition: no RST, no FIN) must not hold a
 * request, nor the one thread that serves them all, for the kernel's default of minutes. Data sent and
 * not acknowledged fails the connection after STORE_PG_TCP_USER_TIMEOUT_MS; a connection with nothing
 * in flight (waiting on an answer, or idle, listening) is probed after STORE_PG_KEEPALIVE_IDLE_S of
 * silence, every STORE_PG_KEEPALIVE_INTERVAL_S, and dropped after STORE_PG_KEEPALIVE_COUNT unanswered
 * probe (1 + 1 x 1 = 2 s). The call meets a lost connection (-EBUSY, an answer of 503) and the next
 * one connects again, to whichever host of a multi-host URI is the primary then. The URI's own
 * keywords win over these. A request may meet a lost connection and one attempt to connect again
 * (STORE_PG_CONNECT_TIMEOUT_S): together kept under the HTTP server's 5 s for a connection to be
 * answered before it counts as idle (API_CONN_UNAUTH_TIMEOUT_S), or the thread held that long closes
 * the connections waiting unanswered (tests/e2e/failover.sh step 3 saw it with 3 s + 2 s).
 */
#define STORE_PG_TCP_USER_TIMEOUT_MS	"2000"
#define STORE_PG_KEEPALIVE_IDLE_S	"1"
#define STORE_PG_KEEPALIVE_INTERVAL_S	"1"
#define STORE_PG_KEEPALIVE_COUNT	"1"
/*
 * After a failed attempt to connect again, the store's calls fail at once (-EBUSY, the attempt's words)
 * for this long before the next attempt: jitgated serves every request on one thread, and a host that
 * times out would otherwise cost each store call of each request STORE_PG_CONNECT_TIMEOUT_S. So the
 * thread waits on a vanished database at most a connect timeout in every such period, and service
 * resumes at most this long after the database is back.
 */
#define STORE_PG_RECONNECT_PAUSE_MS	2000

/*
 * A statement the server works on longer than this is cancelled by the server (57014, -EIO): longer
 * than the write lock's wait (STORE_BUSY_TIMEOUT_MS) so that one answers -EBUSY first. Migrations run
 * without it: they take as long as the data they move.
 */
#define STORE_PG_STATEMENT_TIMEOUT_MS	15000

#define STORE_PG_CHANNEL	"jitgate_fleet"	/* NOTIFY channel of VM revisions: payload "VM:REVISION" */
/* NOTIFY channel of every committed write (migration 8): payload the table's name, once per transaction */
#define STORE_PG_WRITES_CHANNEL	"jitgate_write"
/* what a listening session runs, at store_changes_fd's first call and again after each reconnect */
#define STORE_PG_LISTEN_SQL	"LISTEN " STORE_PG_CHANNEL "; LISTEN " STORE_PG_WRITES_CHANNEL

/*
 * Savepoint commands (SAVEPOINT x, RELEASE x) held back inside a transaction and sent with the next
 * statement, in one round trip (store-pg-pipe.c). The store nests at most a mark, an operation and a
 * statement's own savepoint between two statements; the rest is room. Longer texts are sent at once.
 */
#define STORE_PG_DEFERRED_MAX	8
#define STORE_PG_DEFERRED_LEN	48

/* st->engine of a PostgreSQL store. */
struct store_pg {
	PGconn *conn;
	int errno_pending;		/* the failure the last step kept for db_ops.fail, 0: none */
	char message[STORE_ERROR_MAX];	/* and its words */
	unsigned n_prepared;		/* names the next prepared statement */
	unsigned epoch;			/* moves each time the connection is made again */
	int64_t retry_ns;		/* CLOCK_MONOTONIC: no attempt to connect again before (STORE_PG_RECONNECT_PAUSE_MS) */
	char retry_message[STORE_ERROR_MAX];	/* the failed attempt's words, given until then */
	bool listening;			/* to STORE_PG_CHANNEL: store_changes_fd was asked */
	bool session_unset;		/* the connection's session set-up failed: connect again before using it */
	bool tx_was_open;		/* a transaction was open when the connection was last seen working */
	bool tx_lost;			/* it was lost with the connection: pg_lost_transaction (store-pg.c) */
	bool warned;			/* a plain WARNING came since the statement began (store_pg_open's receiver) */
	int64_t changes;		/* rows the last write changed */
	int64_t last_id;		/* the id the last INSERT … RETURNING id made */
	uint64_t total_changes;		/* rows ever changed through this connection */
	/*
	 * Other sessions' committed writes seen (announcements from another backend, and each reconnect,
	 * whose lost announcements may have been any write): added to store_generation(), so every cache
	 * keyed on it (the policy GET cache) sees other replicas' writes.
	 */
	uint64_t foreign;
	unsigned foreign_epoch;		/* the connection whose announcements `foreign` counts */
	char deferred[STORE_PG_DEFERRED_MAX][STORE_PG_DEFERRED_LEN];	/* savepoint commands not sent yet */
	int n_deferred;
};

/* A prepared statement's name and parameters, as PQsendQueryPrepared takes them. */
struct store_pg_query {
	const char *name;
	int n_params;
	const char *const *values;
	const int *lengths;
	const int *formats;
};

extern const struct db_ops store_pg_ops;

/* A column as an integer (bool, int2, int4 or int8 in binary); NULL reads 0. */
int64_t store_pg_column_int64(struct db_stmt *s, int i);

/* store-pg-pipe.c. Keep sql (a SAVEPOINT or RELEASE inside a transaction) for the next round trip: true if kept. */
bool store_pg_defer(struct store *st, const char *sql);
/* Forget what was kept: the transaction is gone (a reconnect) or about to be (ROLLBACK). */
void store_pg_drop_deferred(struct store *st);
/* The text of command sql with what was kept ahead of it ("SAVEPOINT a; sql"), which is then no longer kept. */
int store_pg_command_text(struct store *st, const char *sql, char *buf, size_t size);
/*
 * Run a prepared statement in one pipeline behind what was kept, and when guarded under its own
 * savepoint (SAVEPOINT db_stmt, it, RELEASE db_stmt): its result (the caller clears it). NULL when
 * another query of the pipeline failed (its result in *ret_failed, for the caller to read and clear)
 * or the connection did (*ret_failed NULL).
 */
PGresult *store_pg_pipeline(struct store *st, const struct store_pg_query *qy, bool guarded, PGresult **ret_failed);

/*
 * store-pg-pipe.c. DB_OK, or DB_FAIL (-EBUSY, kept) once for the first statement meant for a transaction
 * after the connection was lost inside one.
 */
int store_pg_lost_transaction(struct store *st);

/* Set up a new connection's session (store-pg.c): -errno, the error kept. */
int store_pg_session(struct store *st);
/* Is where a libpq URI (postgresql:// or postgres://)? */
bool store_pg_is_uri(const char *where);
int store_pg_open(const char *uri, bool readonly, struct store **ret, struct core_error *err);

#endif

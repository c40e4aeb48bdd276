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
 * Reads from a standby (store_read, store-pg-standby.c) while the primary's connection fails: asked only
 * after a failure of the primary that took less than STORE_PG_STANDBY_AFTER_MS (else the time is used
 * up: jitgated's one thread stays under the HTTP server's 5 s); connecting there (every host of its URI,
 * and the session's setup) within STORE_PG_STANDBY_CONNECT_MS, each read (its freshness check in the same
 * round trip) within STORE_PG_STANDBY_READ_MS, past which the connection is dropped; after a failure of
 * either the standby is not asked for STORE_PG_STANDBY_PAUSE_MS.
 */
#define STORE_PG_STANDBY_AFTER_MS	500
#define STORE_PG_STANDBY_CONNECT_MS	1000
#define STORE_PG_STANDBY_READ_MS	1000
#define STORE_PG_STANDBY_PAUSE_MS	2000

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
/*
 * The payload on STORE_PG_WRITES_CHANNEL of a write to what a replica keeps between requests (migration 16):
 * policies, their VMs, and a VM's own columns (not its revision, which every grant moves). Sent beside
 * "written", which every write announces.
 */
#define STORE_PG_CONFIG_PAYLOAD	"config"
#define STORE_PG_LISTEN_SQL	"LISTEN " STORE_PG_CHANNEL "; LISTEN " STORE_PG_WRITES_CHANNEL

/*
 * Savepoint commands (SAVEPOINT x, RELEASE x) held back inside a transaction and sent with the next
 * statement, in one round trip (store-pg-pipe.c); inside a mark, writes whose result no caller reads
 * too (an initiate's request, grants and log entries). An initiate holds its mark's SAVEPOINT, then
 * one request, a grant and a log entry per port; past the room, a statement goes at once, with what
 * was held. Longer texts are sent at once.
 */
#define STORE_PG_DEFERRED_MAX	32
#define STORE_PG_DEFERRED_LEN	48
#define STORE_PG_NAME_LEN	16	/* a prepared statement's name ("s" and its number) */
#define STORE_PG_PARAMS_MAX	16	/* the most parameters one statement has (?13 in ST_GRANT_INSERT) */

/* One command or write held for the next round trip. */
struct store_pg_held {
	char text[STORE_PG_DEFERRED_LEN];	/* a savepoint command; "" for a prepared write: */
	char name[STORE_PG_NAME_LEN];
	int n_params;
	const char *values[STORE_PG_PARAMS_MAX];	/* into blob: copies of the caller's, which it reuses */
	int lengths[STORE_PG_PARAMS_MAX];
	int formats[STORE_PG_PARAMS_MAX];
	char *blob;
};

struct store_pg_standby;

/* st->engine of a PostgreSQL store. */
struct store_pg {
	PGconn *conn;
	struct store_pg_standby *standby;	/* store_read (store-pg-standby.c); NULL: none */
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
	/*
	 * store_config_generation(): announcements of writes to what a replica may keep between requests
	 * (STORE_PG_CONFIG_PAYLOAD: policies, their VMs, the VMs' own columns), this session's own and
	 * others', and each reconnect or answer from the standby (whose announcements do not come here)
	 */
	uint64_t config;
	int taken;			/* announcements received and not yet taken (store_changes_take) */
	int64_t taken_revision;		/* the highest VM revision among them */
	struct store_pg_held deferred[STORE_PG_DEFERRED_MAX];	/* commands and writes not sent yet */
	int n_deferred;
	int n_held_writes;		/* of them, writes: a command after them goes in their pipeline */
	/* the activity chain's head the last BEGIN read with the writers' lock (begun_chain_head), not taken yet */
	bool begun_head;
	int64_t begun_head_seq;
	uint8_t begun_head_hash[32];	/* STORE_AUDIT_HASH_LEN */
};

/* A prepared statement's name and parameters, as PQsendQueryPrepared takes them; or a command's text. */
struct store_pg_query {
	const char *text;		/* a command without parameters (name NULL), its result in text */
	const char *name;
	int n_params;
	const char *const *values;
	const int *lengths;
	const int *formats;
};

extern const struct db_ops store_pg_ops;

/* A column as an integer (bool, int2, int4 or int8 in binary); NULL reads 0. */
int64_t store_pg_column_int64(struct db_stmt *s, int i);

/* store-pg-text.c. Is the word w at p (followed by a non-identifier character)? */
bool store_pg_word_at(const char *p, const char *w);
/*
 * ?N becomes $N and "INDEXED BY name" (SQLite's planner hint) goes, outside quotes; *named gets a bit
 * per parameter the text names, *ret_n the highest. The text only shrinks, so out has strlen(sql) + 1.
 */
int store_pg_rewrite(const char *sql, char *out, uint32_t *named, int *ret_n);
bool store_pg_ends_with(const char *s, const char *tail);
/* Does the text begin with one of the words that change rows? */
bool store_pg_is_write(const char *sql);

/* store-pg-pipe.c. Keep sql (a SAVEPOINT or RELEASE inside a transaction) for the next round trip: true if kept. */
bool store_pg_defer(struct store *st, const char *sql);
/*
 * Keep write q (a prepared INSERT whose result no caller reads, inside a mark) for the next round trip,
 * its parameters copied: true if kept. Should it fail there, the statement sent with it fails with its
 * error, inside the same mark (a mark's keep sends what is held: store_pg_defer keeps no savepoint
 * command behind a held write), and the mark is undone whole (store.h).
 */
bool store_pg_hold_write(struct store *st, const struct store_pg_query *q);
/* Forget the writes kept (all after the last savepoint command kept): their mark is being undone. */
void store_pg_drop_held_writes(struct store *st);
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
 * store-pg-pipe.c. A BEGIN's result res: a write transaction's keeps the chain's head it read, for the hook
 * below; ST_BEGIN_TRY's without a row found the writers' lock held: its transaction is ended, DB_FAIL
 * with -EAGAIN kept. Else DB_DONE.
 */
int store_pg_begun(struct store_pg *pg, const PGresult *res);
/* db_ops.begun_chain_head: that head, once. */
int store_pg_begun_chain_head(struct store *st, int64_t *ret_seq, uint8_t *ret_hash);

/*
 * store-pg-pipe.c. DB_OK, or DB_FAIL (-EBUSY, kept) once for the first statement meant for a transaction
 * after the connection was lost inside one.
 */
int store_pg_lost_transaction(struct store *st);

/* A read as the standby runs it: its rewritten text, unprepared, with the statement's parameters. */
struct store_pg_read {
	const char *sql;
	int n_params;
	const Oid *types;
	const char *const *values;
	const int *lengths;
	const int *formats;
};

/*
 * store-pg-standby.c. The result of a read that the primary's connection failed failed_after_ns into the
 * call, from the standby (store_read) if there is one, the primary's connection is down, the standby may
 * be asked now and it has applied all it received; else NULL, the standby's reason added to the
 * primary's error kept.
 */
PGresult *store_pg_standby_read(struct store *st, const struct store_pg_read *rd, int64_t failed_after_ns);
void store_pg_standby_close(struct store *st);
/* Read from the server(s) of uri while the primary's connection fails (store_read_standby, store.h). */
int store_pg_standby_set(struct store *st, const char *uri, struct core_error *err);

/* single_replica's claim (store-pg-claim.c): 1 claimed, 0 another connection holds it, or -errno. */
int store_pg_claim_sole(struct store *st);

/* store-pg-notify.c: db_ops.changes_take and db_ops.config_generation */
int store_pg_changes_take(struct store *st, int64_t *ret_revision);
bool store_pg_config_generation(struct store *st, uint64_t *ret);

/* Set up a new connection's session (store-pg.c): -errno, the error kept. */
int store_pg_session(struct store *st);
/* Is where a libpq URI (postgresql:// or postgres://)? */
bool store_pg_is_uri(const char *where);
int store_pg_open(const char *uri, bool readonly, struct store **ret, struct core_error *err);

#endif

/* PostgreSQL's round trips inside a transaction: savepoint commands held back and sent in one pipeline with the next statement. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libpq-fe.h>

#include "core/hex.h"
#include "store-pg.h"

/*
 * Inside a transaction the store brackets nearly everything in savepoints: each initiate of a group
 * commit (store_mark, store_mark_keep), each operation that may run inside a caller's transaction
 * (op_begin, op_end), each write (db_stmt, so a failed write undoes itself as on SQLite). Each of
 * those commands sent on its own costs a round trip to the server, and jitgated serves every request
 * on one thread, so round trips are its rate on PostgreSQL. A SAVEPOINT or RELEASE changes no row
 * and fails only on a connection that is gone or a savepoint that does not exist (which the store's
 * strictly nested marks never ask for), so 0, the answer the caller is given, is the one it would get:
 * the command is kept (store_pg_defer) and goes ahead of the next statement in its pipeline, or ahead
 * of the next command in its text. If one of them fails after all, that statement fails with its
 * error, and the transaction with it, as the connection's loss would have failed it anyway.
 */

static bool
is_savepoint_command(const char *sql)
{
	const char *name;

	if (!strncasecmp(sql, "SAVEPOINT ", 10))
		name = sql + 10;
	else if (!strncasecmp(sql, "RELEASE ", 8))
		name = sql + 8;
	else
		return false;
	/* one command naming one savepoint: no ';', no second word ("RELEASE SAVEPOINT x" is sent as it is) */
	return *name && !strpbrk(name, "; ") && strlen(sql) < STORE_PG_DEFERRED_LEN;
}

static bool
can_keep(struct store_pg *pg)
{
	return pg->n_deferred < STORE_PG_DEFERRED_MAX && PQstatus(pg->conn) == CONNECTION_OK &&
	       PQtransactionStatus(pg->conn) == PQTRANS_INTRANS;
}

bool
store_pg_defer(struct store *st, const char *sql)
{
	struct store_pg *pg = st->engine;

	/* behind a held write, a savepoint command goes now, with it: a mark's keep learns if its writes failed */
	if (pg->n_held_writes || !can_keep(pg) || !is_savepoint_command(sql))
		return false;
	snprintf(pg->deferred[pg->n_deferred].text, STORE_PG_DEFERRED_LEN, "%s", sql);
	pg->deferred[pg->n_deferred++].blob = NULL;
	return true;
}

bool
store_pg_hold_write(struct store *st, const struct store_pg_query *q)
{
	struct store_pg *pg = st->engine;
	struct store_pg_held *h;
	size_t size = 0, at = 0, n;
	int i;

	if (!can_keep(pg) || !q->name || q->n_params > STORE_PG_PARAMS_MAX || strlen(q->name) >= STORE_PG_NAME_LEN)
		return false;
	for (i = 0; i < q->n_params; i++)
		if (q->values[i])
			size += q->formats[i] ? (size_t)q->lengths[i] : strlen(q->values[i]) + 1;
	h = &pg->deferred[pg->n_deferred];
	if (!(h->blob = malloc(size ? size : 1)))
		return false;
	h->text[0] = '\0';
	snprintf(h->name, sizeof(h->name), "%s", q->name);
	h->n_params = q->n_params;
	for (i = 0; i < q->n_params; i++) {
		h->lengths[i] = q->lengths[i];
		h->formats[i] = q->formats[i];
		h->values[i] = NULL;
		if (!q->values[i])
			continue;
		n = q->formats[i] ? (size_t)q->lengths[i] : strlen(q->values[i]) + 1;
		memcpy(h->blob + at, q->values[i], n);
		h->values[i] = h->blob + at;
		at += n;
	}
	pg->n_deferred++;
	pg->n_held_writes++;
	return true;
}

void
store_pg_drop_held_writes(struct store *st)
{
	struct store_pg *pg = st->engine;
	int i, first = pg->n_deferred;

	for (i = pg->n_deferred - 1; i >= 0 && !pg->deferred[i].text[0]; i--)
		first = i;
	for (i = first; i < pg->n_deferred; i++)
		free(pg->deferred[i].blob);
	pg->n_deferred = first;
	pg->n_held_writes = 0;
}

void
store_pg_drop_deferred(struct store *st)
{
	struct store_pg *pg = st->engine;
	int i;

	for (i = 0; i < pg->n_deferred; i++)
		free(pg->deferred[i].blob);
	pg->n_deferred = pg->n_held_writes = 0;
}

int
store_pg_command_text(struct store *st, const char *sql, char *buf, size_t size)
{
	struct store_pg *pg = st->engine;
	size_t used = 0;
	int i, n;

	if (pg->n_held_writes)
		return -EINVAL;	/* only savepoint commands go as text (pg_command pipelines the rest) */
	for (i = 0; i < pg->n_deferred; i++) {
		n = snprintf(buf + used, size - used, "%s; ", pg->deferred[i].text);
		if (n < 0 || (size_t)n >= size - used)
			return -E2BIG;
		used += (size_t)n;
	}
	n = snprintf(buf + used, size - used, "%s", sql);
	if (n < 0 || (size_t)n >= size - used)
		return -E2BIG;
	pg->n_deferred = 0;
	return 0;
}

/*
 * Read the results of n queries sent in pipeline mode and of the sync after them. The result of query
 * `mine` is given to the caller in *ret_mine (NULL if none came); the first failure of any other in
 * *ret_failed (a query after a failed one is aborted, not failed). Bounded: a lost connection ends it.
 */
static void
pipe_read(PGconn *c, int n, int mine, PGresult **ret_mine, PGresult **ret_failed)
{
	PGresult *res;
	int q = 0;

	*ret_mine = NULL;
	while (q <= n) {
		if (!(res = PQgetResult(c))) {
			q++;	/* each query's results end with a NULL; after the n-th, the sync is next */
			continue;
		}
		if (PQresultStatus(res) == PGRES_PIPELINE_SYNC) {
			PQclear(res);
			break;
		}
		if (q == mine && !*ret_mine) {
			*ret_mine = res;
			continue;
		}
		if (PQresultStatus(res) == PGRES_FATAL_ERROR && !*ret_failed) {
			*ret_failed = res;
			continue;
		}
		PQclear(res);
	}
}

/* One query of the simple text, no parameters, counted in *n. */
static bool
send_text(PGconn *c, const char *sql, int *n)
{
	(*n)++;
	return PQsendQueryParams(c, sql, 0, NULL, NULL, NULL, NULL, 0) == 1;
}

/* One command or write that was held, counted in *n. */
static bool
send_held(PGconn *c, const struct store_pg_held *h, int *n)
{
	if (h->text[0])
		return send_text(c, h->text, n);
	(*n)++;
	return PQsendQueryPrepared(c, h->name, h->n_params, h->values, h->lengths, h->formats, 1) == 1;
}

PGresult *
store_pg_pipeline(struct store *st, const struct store_pg_query *qy, bool guarded, PGresult **ret_failed)
{
	struct store_pg *pg = st->engine;
	PGconn *c = pg->conn;
	PGresult *mine = NULL;
	int i, n = 0, at;
	bool ok;

	*ret_failed = NULL;
	if (!PQenterPipelineMode(c)) {
		store_pg_drop_deferred(st);
		return NULL;
	}
	for (i = 0, ok = true; ok && i < pg->n_deferred; i++)
		ok = send_held(c, &pg->deferred[i], &n);
	store_pg_drop_deferred(st);	/* libpq copied what it sent */
	if (ok && guarded)
		ok = send_text(c, "SAVEPOINT db_stmt", &n);
	at = n++;
	if (qy->text)
		ok = ok && PQsendQueryParams(c, qy->text, 0, NULL, NULL, NULL, NULL, 0) == 1;
	else
		ok = ok && PQsendQueryPrepared(c, qy->name, qy->n_params, qy->values, qy->lengths, qy->formats, 1) == 1;
	if (ok && guarded)
		ok = send_text(c, "RELEASE db_stmt", &n);
	ok = ok && PQpipelineSync(c) == 1;
	if (ok)
		pipe_read(c, n, at, &mine, ret_failed);
	PQexitPipelineMode(c);
	if (*ret_failed) {
		PQclear(mine);
		mine = NULL;
	}
	return mine;
}

/*
 * A statement meant for a transaction (a write, a savepoint, its release) that comes first after the
 * connection was lost inside one: the transaction's writes are gone, and on the new connection the
 * statement would run on its own (committed alone, or refused as outside a transaction: a 500). It
 * fails as the lost connection's (-EBUSY, a 503); the caller ends what it had. Once: a BEGIN, or this,
 * ends the lost transaction.
 */
int
store_pg_lost_transaction(struct store *st)
{
	struct store_pg *pg = st->engine;

	if (!pg->tx_lost)
		return DB_OK;
	pg->tx_lost = false;
	pg->errno_pending = -EBUSY;
	snprintf(pg->message, sizeof(pg->message), "the connection was lost inside a transaction (connected again)");
	return DB_FAIL;
}

/*
 * A write transaction's BEGIN (ST_BEGIN) ends by reading the activity chain's head once the writers'
 * lock is had: its one row (head_seq, head_hash in bytea's hex text) kept for begun_chain_head.
 */
static void
keep_begun_head(struct store_pg *pg, const PGresult *res)
{
	const char *seq, *hex;
	int i, hi, lo;

	pg->begun_head = false;
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 || PQnfields(res) != 2)
		return;
	seq = PQgetvalue(res, 0, 0);
	hex = PQgetvalue(res, 0, 1);
	if (strncmp(hex, "\\x", 2) || strlen(hex) != 2 + 2 * sizeof(pg->begun_head_hash))
		return;
	for (i = 0; i < (int)sizeof(pg->begun_head_hash); i++) {
		if ((hi = hex_value(hex[2 + 2 * i])) < 0 || (lo = hex_value(hex[3 + 2 * i])) < 0)
			return;
		pg->begun_head_hash[i] = (uint8_t)(hi << 4 | lo);
	}
	pg->begun_head_seq = strtoll(seq, NULL, 10);
	pg->begun_head = true;
}

int
store_pg_begun(struct store_pg *pg, const PGresult *res)
{
	keep_begun_head(pg, res);
	/* writers_lock_try (ST_BEGIN_TRY) gave no row: another transaction holds the writers' lock */
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 0) {
		PQclear(PQexec(pg->conn, "ROLLBACK"));
		pg->errno_pending = -EAGAIN;
		snprintf(pg->message, sizeof(pg->message), "another write transaction holds the writers' lock");
		return DB_FAIL;
	}
	return DB_DONE;
}

int
store_pg_begun_chain_head(struct store *st, int64_t *ret_seq, uint8_t *ret_hash)
{
	struct store_pg *pg = st->engine;

	if (!pg->begun_head || PQtransactionStatus(pg->conn) != PQTRANS_INTRANS)
		return 0;
	pg->begun_head = false;
	*ret_seq = pg->begun_head_seq;
	memcpy(ret_hash, pg->begun_head_hash, sizeof(pg->begun_head_hash));
	return 1;
}

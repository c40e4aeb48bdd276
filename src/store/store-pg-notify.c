/*
 * PostgreSQL's announcements, as a store takes them: the VM revisions an agent's watch waits for
 * (store_changes_take), and the writes to what a replica keeps between requests (store_config_generation).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "store/store-internal.h"
#include "store/store-pg.h"

/*
 * Count every announcement libpq has received into pg (it also collects them while it reads any answer,
 * a commit's included, where this session's own come): those another session made move store_generation();
 * so does a new connection, whose predecessor's announcements are lost, and it moves the config generation.
 */
static int
notifies_drain(struct store *st)
{
	struct store_pg *pg = st->engine;
	int64_t vm, rev;
	PGnotify *n;
	int self;

	/* a connection gone: the next statement finds it so and connects again (store-pg.c) */
	if (PQstatus(pg->conn) == CONNECTION_OK && !PQconsumeInput(pg->conn))
		return set_error(st, -EBUSY, "%s", PQerrorMessage(pg->conn));
	if (pg->foreign_epoch != pg->epoch) {
		pg->foreign_epoch = pg->epoch;
		pg->foreign++;
		pg->config++;
	}
	self = PQbackendPID(pg->conn);
	while ((n = PQnotifies(pg->conn)) != NULL) {
		if (n->be_pid != self)
			pg->foreign++;
		if (!strcmp(n->relname, STORE_PG_CHANNEL) && sscanf(n->extra, "%" SCNd64 ":%" SCNd64, &vm, &rev) == 2 &&
		    rev > pg->taken_revision)
			pg->taken_revision = rev;
		if (!strcmp(n->relname, STORE_PG_WRITES_CHANNEL) && !strcmp(n->extra, STORE_PG_CONFIG_PAYLOAD))
			pg->config++;
		if (pg->taken < INT32_MAX)
			pg->taken++;
		PQfreemem(n);
	}
	return 0;
}

/* What arrived since the last take: how many announcements, and the highest revision among them. */
int
store_pg_changes_take(struct store *st, int64_t *ret_revision)
{
	struct store_pg *pg = st->engine;
	int r = notifies_drain(st);

	if (r < 0)
		return r;
	r = pg->taken;
	*ret_revision = pg->taken_revision;
	pg->taken = 0;
	pg->taken_revision = 0;
	return r;
}

/*
 * Trusted only while this session listens (store_changes_fd was asked) on a working connection: else
 * false, and the caller keeps nothing. A commit's answer carries this session's own announcements, so a
 * write this replica committed has moved the generation when store_commit returns.
 */
bool
store_pg_config_generation(struct store *st, uint64_t *ret)
{
	struct store_pg *pg = st->engine;

	if (!pg->listening || PQstatus(pg->conn) != CONNECTION_OK || notifies_drain(st) < 0)
		return false;
	*ret = pg->config;
	return true;
}

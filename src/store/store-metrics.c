/* The store's side of /metrics: counts read in one statement, cheap enough to run once a second. */
#include <errno.h>

#include "store-internal.h"

int
store_counts_read(struct store *st, struct store_counts *ret)
{
	struct db_stmt *s = NULL;
	int r, rc;

	r = stmt_get(st, ST_METRICS_COUNTS, &s);
	if (r < 0)
		return r;
	rc = db_step(s);
	if (rc == DB_ROW) {
		ret->live_grants = db_column_int64(s, 0);
		ret->agents = db_column_int64(s, 1);
		ret->webhooks_waiting = db_column_int64(s, 2);
		ret->webhooks_dropped = db_column_int64(s, 3);
		ret->webhooks_failing = db_column_int64(s, 4);
		r = 0;
	} else {
		r = rc == DB_DONE ? set_error(st, -EIO, "the counts gave no row") : sql_fail(st, rc);
	}
	stmt_done(s);
	return r;
}

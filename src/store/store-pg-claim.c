/* PostgreSQL's single_replica claim (db_ops.claim_sole): a session advisory lock that lives with the connection. */
#include <errno.h>
#include <stdint.h>

#include "store-pg.h"

/* "jitg" + 1, beside the writers' transaction lock (ST_BEGIN): held until this connection closes */
#define PG_SOLE_CLAIM_SQL	"SELECT CASE WHEN pg_try_advisory_lock(1785295976) THEN 1 ELSE 0 END"

int
store_pg_claim_sole(struct store *st)
{
	struct db_stmt *s = NULL;
	int rc, r;

	if ((r = db_prepare(st, PG_SOLE_CLAIM_SQL, &s)) < 0)
		return r;
	rc = db_step(s);
	r = rc == DB_ROW ? db_column_int64(s, 0) == 1 : sql_fail(st, rc);
	st->ops->finalize(s);
	return r;
}

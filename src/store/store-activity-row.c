/* An activity entry read from a row: shared by the activity log's queries and the webhook outbox (no circle between them). */
#include <string.h>

#include "store-internal.h"

int
activity_from_cols(struct store *st, struct db_stmt *s, int k, struct store_activity *a)
{
	int r;

	memset(a, 0, sizeof(*a));
	a->id = db_column_int64(s, k);
	a->time_ns = db_column_int64(s, k + 1);
	if ((r = col_text(st, s, k + 2, a->caller, sizeof(a->caller), "activity")) < 0 ||
	    (r = col_text(st, s, k + 3, a->caller_addr, sizeof(a->caller_addr), "activity")) < 0 ||
	    (r = col_text(st, s, k + 4, a->operation, sizeof(a->operation), "activity")) < 0 ||
	    (r = col_text(st, s, k + 5, a->resource_id, sizeof(a->resource_id), "activity")) < 0 ||
	    (r = col_text(st, s, k + 6, a->status, sizeof(a->status), "activity")) < 0 ||
	    (r = col_text(st, s, k + 7, a->detail, sizeof(a->detail), "activity")) < 0 ||
	    (r = col_text(st, s, k + 8, a->justification, sizeof(a->justification), "activity")) < 0 ||
	    (r = col_text(st, s, k + 9, a->correlation_id, sizeof(a->correlation_id), "activity")) < 0)
		return r;
	return 0;
}

/* The schema's version, written once for every engine: bring it up migration by migration, or check it for a read-only open. */
#include <errno.h>
#include <stdint.h>

#include "store-internal.h"

/* Bring the schema to STORE_SCHEMA_VERSION, one migration per transaction; refuse a database from a newer jitgate. */
int
store_schema_migrate(struct store *st, const struct store_schema *sc, struct core_error *err)
{
	int64_t version;
	int r;

	for (;;) {
		r = sc->begin(st);
		if (r < 0)
			goto fail;
		/* Read inside the write lock: another process may have migrated since we looked. */
		r = sc->version(st, &version);
		if (r < 0)
			goto fail;
		if (version > STORE_SCHEMA_VERSION) {
			store_rollback(st);
			core_error_set(err, "StoreSchemaTooNew", NULL,
			    "the database has schema version %lld but this jitgate knows only up to %d; "
			    "use a newer jitgate", (long long)version, STORE_SCHEMA_VERSION);
			return set_error(st, -EIO, "database schema version %lld is newer than this build (%d)",
			    (long long)version, STORE_SCHEMA_VERSION);
		}
		if (version == STORE_SCHEMA_VERSION) {
			r = run_cached(st, ST_COMMIT);
			if (r < 0)
				goto fail;
			return 0;
		}
		r = sc->exec(st, sc->migrations[version]);
		if (r < 0)
			goto fail;
		r = sc->set_version(st, version + 1);
		if (r < 0)
			goto fail;
		r = run_cached(st, ST_COMMIT);
		if (r < 0)
			goto fail;
	}
fail:
	store_rollback(st);
	core_error_set(err, "StoreMigrationFailed", NULL, "cannot bring the database schema up to version %d: %s",
	    STORE_SCHEMA_VERSION, st->error);
	return r;
}

/* A read-only store can only read a database whose schema is exactly ours. */
int
store_schema_check(struct store *st, const struct store_schema *sc, struct core_error *err)
{
	int64_t version;
	int r;

	r = sc->version(st, &version);
	if (r < 0) {
		core_error_set(err, "StoreOpenFailed", NULL, "cannot read the database: %s", st->error);
		return r;
	}
	if (version != STORE_SCHEMA_VERSION) {
		core_error_set(err, version > STORE_SCHEMA_VERSION ? "StoreSchemaTooNew" : "StoreSchemaOld", NULL,
		    "the database has schema version %lld, this jitgate reads only version %d%s", (long long)version,
		    STORE_SCHEMA_VERSION,
		    version > STORE_SCHEMA_VERSION ? "; use a newer jitgate" : "; open it read-write once");
		return set_error(st, -EIO, "database schema version %lld, expected %d", (long long)version,
		    STORE_SCHEMA_VERSION);
	}
	return 0;
}

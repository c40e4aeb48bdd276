/* Unit tests of the activity log's chain: the canonical form (golden, computed apart in Python), the chain, verify's findings, pruning, concurrent writers (SQLite; PostgreSQL in the suite pg). */
#include <errno.h>
#include <stdbool.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include "store/store-audit.h"
#include "store/store.h"
#include "testutil.h"

/*
 * The documented form's SHA-256 for the entry below at place 1 after the zero hash, and of the same
 * entry (time + 1) at place 2 after it: from hashlib over the bytes doc/operator.md describes.
 */
#define GOLDEN_1 "75012ba9a5d0a9e2c956597cf0f0024b0b7a94ddc776e65a8a3965bb8a04b705"
#define GOLDEN_2 "9e69f96232dd363fa619aa2da430379af8eae537a5e56fb4e287499dc295c378"
/* The same in form 2, with caller_subject "00u1abc" (and, SUBJECT_EMPTY, with it "") */
#define GOLDEN_V2_1 "f89a26ae44d9037a3fea1dfd923688eb2210bf3cc53ed18eec25f9658061dad8"
#define GOLDEN_V2_2 "533da1d363922cb15a8e1f0f37cdbbf3280ac0cfc351ae11129c76a136fe7c84"
#define GOLDEN_V2_SUBJECT_EMPTY "ef1ecd31e58c1d89ba9a32a64d5683dbfadeb7a36337899e3ed2b61047895b51"

static void
entry(struct store_activity *a, int64_t time_ns)
{
	memset(a, 0, sizeof(*a));
	a->time_ns = time_ns;
	snprintf(a->caller, sizeof(a->caller), "token:alice");
	snprintf(a->caller_addr, sizeof(a->caller_addr), "10.0.0.1");
	snprintf(a->operation, sizeof(a->operation), "Microsoft.Security/locations/jitNetworkAccessPolicies/initiate/action");
	snprintf(a->resource_id, sizeof(a->resource_id), "/subscriptions/x");
	snprintf(a->status, sizeof(a->status), "Succeeded");
	snprintf(a->justification, sizeof(a->justification), "why");
	snprintf(a->correlation_id, sizeof(a->correlation_id), "c-1");
}

static void
hex(const uint8_t *h, char out[65])
{
	size_t i;

	for (i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", h[i]);
}

static void
test_canonical_golden(void **state)
{
	uint8_t zero[32] = { 0 }, h1[32], h2[32], buf[STORE_AUDIT_CANONICAL_MAX];
	struct store_activity a;
	char text[65];

	(void)state;
	entry(&a, 1700000000123456789LL);
	/* form 1 leaves the subject out: the same bytes whatever it is */
	snprintf(a.caller_subject, sizeof(a.caller_subject), "00u1abc");
	assert_int_equal(store_audit_canonical(STORE_AUDIT_FORM_V1, zero, 1, &a, buf, sizeof(buf)), 216);
	assert_memory_equal(buf, "jitgate-audit-v1\n", 17);
	assert_int_equal(store_audit_canonical(STORE_AUDIT_FORM_V1, zero, 1, &a, buf, 215), 0);	/* too small */
	assert_int_equal(store_audit_hash(STORE_AUDIT_FORM_V1, zero, 1, &a, h1), 0);
	hex(h1, text);
	assert_string_equal(text, GOLDEN_1);
	a.time_ns++;
	assert_int_equal(store_audit_hash(STORE_AUDIT_FORM_V1, h1, 2, &a, h2), 0);
	hex(h2, text);
	assert_string_equal(text, GOLDEN_2);
	assert_int_equal(store_audit_canonical(0, zero, 1, &a, buf, sizeof(buf)), 0);	/* no such form */
	assert_int_equal(store_audit_canonical(3, zero, 1, &a, buf, sizeof(buf)), 0);
}

/* Form 2: form 1's bytes under its own tag, then caller_subject. */
static void
test_canonical_v2_golden(void **state)
{
	uint8_t zero[32] = { 0 }, h1[32], h2[32], buf[STORE_AUDIT_CANONICAL_MAX];
	struct store_activity a;
	char text[65];

	(void)state;
	entry(&a, 1700000000123456789LL);
	snprintf(a.caller_subject, sizeof(a.caller_subject), "00u1abc");
	assert_int_equal(store_audit_canonical(STORE_AUDIT_FORM_V2, zero, 1, &a, buf, sizeof(buf)), 227);
	assert_memory_equal(buf, "jitgate-audit-v2\n", 17);
	assert_memory_equal(buf + 216, "\0\0\0\x07" "00u1abc", 11);
	assert_int_equal(store_audit_canonical(STORE_AUDIT_FORM_V2, zero, 1, &a, buf, 226), 0);
	assert_int_equal(store_audit_hash(STORE_AUDIT_FORM_V2, zero, 1, &a, h1), 0);
	hex(h1, text);
	assert_string_equal(text, GOLDEN_V2_1);
	a.time_ns++;
	assert_int_equal(store_audit_hash(STORE_AUDIT_FORM_V2, h1, 2, &a, h2), 0);
	hex(h2, text);
	assert_string_equal(text, GOLDEN_V2_2);
	/* no subject is still a field (its length, 0): never form 1's hash */
	a.time_ns--;
	a.caller_subject[0] = '\0';
	assert_int_equal(store_audit_hash(STORE_AUDIT_FORM_V2, zero, 1, &a, h1), 0);
	hex(h1, text);
	assert_string_equal(text, GOLDEN_V2_SUBJECT_EMPTY);
	assert_string_not_equal(text, GOLDEN_1);
}

/* Lengths before each string: moving a byte from one field to the next changes the hash. */
static void
test_canonical_unambiguous(void **state)
{
	uint8_t zero[32] = { 0 }, h1[32], h2[32];
	struct store_activity a;

	(void)state;
	entry(&a, 1);
	snprintf(a.caller, sizeof(a.caller), "ab");
	snprintf(a.caller_addr, sizeof(a.caller_addr), "c");
	assert_int_equal(store_audit_hash(STORE_AUDIT_FORM, zero, 1, &a, h1), 0);
	snprintf(a.caller, sizeof(a.caller), "a");
	snprintf(a.caller_addr, sizeof(a.caller_addr), "bc");
	assert_int_equal(store_audit_hash(STORE_AUDIT_FORM, zero, 1, &a, h2), 0);
	assert_memory_not_equal(h1, h2, 32);
	/* the place and the previous hash count too */
	assert_int_equal(store_audit_hash(STORE_AUDIT_FORM, zero, 2, &a, h1), 0);
	assert_memory_not_equal(h1, h2, 32);
	zero[31] = 1;
	assert_int_equal(store_audit_hash(STORE_AUDIT_FORM, zero, 1, &a, h1), 0);
	assert_memory_not_equal(h1, h2, 32);
}

struct fixture {
	char dir[64], path[96];
	struct store *st;
};

static const char *pg_uri;	/* JITGATE_TEST_PG (meson suite pg): the store is PostgreSQL's, not a file */
#define SQLITE_ONLY() do { if (pg_uri) skip(); } while (0)

static const char *
where(const struct fixture *f)
{
	return pg_uri ? pg_uri : f->path;
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct core_error err = { 0 };

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/jitgate-test-audit-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/db", f->dir);
	if (pg_uri) {
		/* a fresh schema for each test */
		PGconn *c = PQconnectdb(pg_uri);
		PGresult *res = PQexec(c, "SET client_min_messages = warning; DROP SCHEMA public CASCADE; CREATE SCHEMA public");

		assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
		PQclear(res);
		PQfinish(c);
	}
	assert_int_equal(store_open(where(f), &f->st, &err), 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	store_close(f->st);
	test_rmtree(f->dir);
	free(f);
	return 0;
}

static void
raw_exec(const char *path, const char *sql)
{
	sqlite3 *db;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

static void
append_n(struct store *st, int n, int64_t t0)
{
	struct store_activity a;
	int i;

	for (i = 0; i < n; i++) {
		entry(&a, t0 + i);
		snprintf(a.correlation_id, sizeof(a.correlation_id), "c-%d", i + 1);
		assert_int_equal(store_activity_append(st, &a), 0);
	}
}

static void
verify(struct store *st, struct store_audit_result *res)
{
	assert_int_equal(store_audit_verify(st, 0, res), 0);
}

static void
test_chain_intact(void **state)
{
	struct fixture *f = *state;
	struct store_audit_result res;

	verify(f->st, &res);	/* empty: intact */
	assert_int_equal(res.fault, STORE_AUDIT_INTACT);
	assert_int_equal(res.checked, 0);
	append_n(f->st, 5, 1000);
	/* in one transaction as well (group commit): the head moves with each entry */
	assert_int_equal(store_begin(f->st), 0);
	append_n(f->st, 3, 2000);
	assert_int_equal(store_commit(f->st), 0);
	/* a rolled-back entry leaves no hole */
	assert_int_equal(store_begin(f->st), 0);
	append_n(f->st, 1, 3000);
	store_rollback(f->st);
	append_n(f->st, 1, 4000);
	verify(f->st, &res);
	assert_int_equal(res.fault, STORE_AUDIT_INTACT);
	assert_int_equal(res.checked, 9);
	assert_int_equal(res.chain.head_seq, 9);
	assert_int_equal(res.chain.anchor_seq, 0);
}

static void
test_chain_faults(void **state)
{
	struct fixture *f = *state;
	struct store_audit_result res;

	SQLITE_ONLY();
	append_n(f->st, 6, 1000);
	raw_exec(f->path, "UPDATE activity SET caller = 'token:mallory' WHERE id = 3");
	verify(f->st, &res);
	assert_int_equal(res.fault, STORE_AUDIT_CHANGED);
	assert_int_equal(res.id, 3);
	assert_int_equal(res.checked, 2);
	raw_exec(f->path, "UPDATE activity SET caller = 'token:alice' WHERE id = 3");
	verify(f->st, &res);
	assert_int_equal(res.fault, STORE_AUDIT_INTACT);

	raw_exec(f->path, "CREATE TABLE keep AS SELECT * FROM activity WHERE id = 4; DELETE FROM activity WHERE id = 4");
	verify(f->st, &res);
	assert_int_equal(res.fault, STORE_AUDIT_REMOVED);
	assert_int_equal(res.id, 5);
	assert_int_equal(res.seq, 4);
	assert_int_equal(res.missing, 1);
	raw_exec(f->path, "INSERT INTO activity SELECT * FROM keep; DROP TABLE keep");

	/* a copy of entry 2 replayed at the end, and a row without chain fields */
	raw_exec(f->path, "INSERT INTO activity (time_ns, caller, caller_addr, operation, resource_id, status, detail, "
	    "justification, correlation_id, seq, hash) SELECT time_ns, caller, caller_addr, operation, resource_id, "
	    "status, detail, justification, correlation_id, seq, hash FROM activity WHERE id = 2");
	verify(f->st, &res);
	assert_int_equal(res.fault, STORE_AUDIT_INSERTED);
	assert_int_equal(res.id, 7);
	raw_exec(f->path, "UPDATE activity SET seq = NULL, hash = NULL WHERE id = 7");
	verify(f->st, &res);
	assert_int_equal(res.fault, STORE_AUDIT_INSERTED);
	assert_int_equal(res.id, 7);
	raw_exec(f->path, "DELETE FROM activity WHERE id = 7");

	/* the newest entry gone: the head record says there was one */
	raw_exec(f->path, "DELETE FROM activity WHERE id = 6");
	verify(f->st, &res);
	assert_int_equal(res.fault, STORE_AUDIT_REMOVED);
	assert_int_equal(res.id, 0);
	assert_int_equal(res.good_id, 5);
	assert_int_equal(res.missing, 1);
}

struct exported {
	size_t n;
	int64_t last_id;
	int fail;
};

static int
export_cb(void *ctx, const struct store_audit_entry *v, size_t n)
{
	struct exported *e = ctx;

	if (e->fail)
		return e->fail;
	e->n += n;
	e->last_id = v[n - 1].a.id;
	return 0;
}

static void
test_prune_keeps_chain(void **state)
{
	struct fixture *f = *state;
	struct store_audit_result res;
	struct exported ex = { 0 };

	SQLITE_ONLY();
	append_n(f->st, 10, 1000);	/* times 1000..1009 */
	assert_int_equal(store_activity_prune(f->st, 1007, 0, NULL, NULL), -EINVAL);
	ex.fail = -ENOSPC;	/* the export failed: nothing deleted */
	assert_int_equal(store_activity_prune(f->st, 1007, 3, export_cb, &ex), -ENOSPC);
	verify(f->st, &res);
	assert_int_equal(res.checked, 10);
	ex.fail = 0;
	assert_int_equal(store_activity_prune(f->st, 1007, 3, export_cb, &ex), 3);
	assert_int_equal(store_activity_prune(f->st, 1007, 3, export_cb, &ex), 3);
	assert_int_equal(store_activity_prune(f->st, 1007, 3, export_cb, &ex), 1);	/* 1006; 1007 is not older */
	assert_int_equal(store_activity_prune(f->st, 1007, 3, export_cb, &ex), 0);
	assert_int_equal(ex.n, 7);
	assert_int_equal(ex.last_id, 7);
	verify(f->st, &res);
	assert_int_equal(res.fault, STORE_AUDIT_INTACT);
	assert_int_equal(res.checked, 3);
	assert_int_equal(res.chain.anchor_id, 7);
	assert_int_equal(res.chain.anchor_seq, 7);
	append_n(f->st, 2, 5000);
	verify(f->st, &res);
	assert_int_equal(res.fault, STORE_AUDIT_INTACT);
	assert_int_equal(res.chain.head_seq, 12);
	/* deleting the oldest entry left is seen: the anchor does not lead to it */
	raw_exec(f->path, "DELETE FROM activity WHERE id = 8");
	verify(f->st, &res);
	assert_int_equal(res.fault, STORE_AUDIT_REMOVED);
	assert_int_equal(res.id, 9);
}

/* Entries written before the chain (a database from before migration 9) sit below the anchor and are pruned without moving it. */
static void
test_prune_before_chain(void **state)
{
	struct fixture *f = *state;
	struct store_audit_result res;

	SQLITE_ONLY();
	append_n(f->st, 2, 1000);
	raw_exec(f->path, "UPDATE activity SET seq = NULL, hash = NULL; UPDATE audit_chain SET anchor_id = 2, "
	    "anchor_seq = 0, anchor_hash = zeroblob(32), head_seq = 0, head_hash = zeroblob(32)");
	append_n(f->st, 2, 2000);
	verify(f->st, &res);
	assert_int_equal(res.fault, STORE_AUDIT_INTACT);
	assert_int_equal(res.checked, 2);
	assert_int_equal(store_activity_prune(f->st, 1500, 10, NULL, NULL), 2);
	verify(f->st, &res);
	assert_int_equal(res.fault, STORE_AUDIT_INTACT);
	assert_int_equal(res.chain.anchor_id, 2);
	assert_int_equal(res.checked, 2);
}

/*
 * A database from before the chain (the schema before its migration, entries without seq or hash) migrates:
 * the chain starts after its newest entry (the anchor), which verification leaves alone, and new entries
 * chain from there. The chain's migration is the fifth from last: the webhooks' outbox, single sign-on's
 * subjects, approvals and shared sessions come after it, and are undone first.
 */
static void
test_migration_chain_start(void **state)
{
	struct fixture *f = *state;
	struct core_error err = { 0 };
	struct store_audit_result res;
	char sql[64];
	sqlite3 *db;
	sqlite3_stmt *s;
	int version;

	SQLITE_ONLY();
	append_n(f->st, 3, 1000);
	store_close(f->st);
	f->st = NULL;
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	version = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	/* 16 changed only indexes of grants; 15 nothing on SQLite */
	raw_exec(f->path, TEST_UNDO_MIGRATION_16);
	raw_exec(f->path, "DROP TABLE dnat_ports");	/* 14 */
	raw_exec(f->path, "DROP TABLE sessions");	/* 13 */
	raw_exec(f->path, "DROP TABLE pending; DROP TABLE approvals; ALTER TABLE grants DROP COLUMN opened_ns");
	raw_exec(f->path, "ALTER TABLE activity DROP COLUMN caller_subject; ALTER TABLE requests DROP COLUMN requestor_subject; "
	    "DROP TABLE webhook_outbox; DROP TABLE webhook_hooks");
	raw_exec(f->path, "DROP TRIGGER activity_chained; DROP TABLE audit_chain; DROP INDEX requests_start; "
	    "ALTER TABLE activity DROP COLUMN seq; ALTER TABLE activity DROP COLUMN hash");
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", version - 8);
	raw_exec(f->path, sql);
	assert_int_equal(store_open(f->path, &f->st, &err), 0);
	verify(f->st, &res);
	assert_int_equal(res.fault, STORE_AUDIT_INTACT);
	assert_int_equal(res.chain.anchor_id, 3);
	assert_int_equal(res.chain.head_seq, 0);
	assert_int_equal(res.checked, 0);
	append_n(f->st, 2, 2000);
	verify(f->st, &res);
	assert_int_equal(res.fault, STORE_AUDIT_INTACT);
	assert_int_equal(res.checked, 2);
	assert_int_equal(res.chain.head_seq, 2);
	/* the old entries are outside the chain: an edit there is not seen (documented), one after it is */
	raw_exec(f->path, "UPDATE activity SET caller = 'x' WHERE id = 2");
	verify(f->st, &res);
	assert_int_equal(res.fault, STORE_AUDIT_INTACT);
	raw_exec(f->path, "UPDATE activity SET caller = 'x' WHERE id = 5");
	verify(f->st, &res);
	assert_int_equal(res.fault, STORE_AUDIT_CHANGED);
	assert_int_equal(res.id, 5);
}

/* SQL on the fixture's store, whichever engine it is. */
static void
any_exec(struct fixture *f, const char *sql)
{
	PGconn *c;
	PGresult *res;

	if (!pg_uri) {
		raw_exec(f->path, sql);
		return;
	}
	c = PQconnectdb(pg_uri);
	res = PQexec(c, sql);
	assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
	PQclear(res);
	PQfinish(c);
}

/* Entry id's hash (id 0: the chain's head) set to h, as the engine spells a blob. */
static void
set_hash(struct fixture *f, int64_t id, const uint8_t h[32])
{
	char text[65], lit[96], sql[256];

	hex(h, text);
	if (pg_uri)
		snprintf(lit, sizeof(lit), "decode('%s', 'hex')", text);
	else
		snprintf(lit, sizeof(lit), "X'%s'", text);
	if (id)
		snprintf(sql, sizeof(sql), "UPDATE activity SET hash = %s WHERE id = %lld", lit, (long long)id);
	else
		snprintf(sql, sizeof(sql), "UPDATE audit_chain SET head_hash = %s", lit);
	any_exec(f, sql);
}

/*
 * A chain that an older jitgated began (form 1) and this one carries on (form 2) verifies; a changed
 * caller_subject is found in a form 2 entry, and (documented) not in a form 1 entry, which never held it.
 */
static void
test_chain_v1_then_v2(void **state)
{
	struct fixture *f = *state;
	struct store_audit_result res;
	struct store_audit_entry *v = NULL;
	uint8_t prev[32] = { 0 };
	struct store_activity a;
	size_t n, i;
	int k;

	/* three entries as an older jitgated wrote them: hashed in form 1, the head moved along */
	for (k = 0; k < 3; k++) {
		entry(&a, 1000 + k);
		snprintf(a.caller_subject, sizeof(a.caller_subject), "sub-%d", k + 1);
		assert_int_equal(store_activity_append(f->st, &a), 0);
	}
	assert_int_equal(store_audit_entries_after(f->st, 0, 10, &v, &n), 0);
	assert_int_equal(n, 3);
	for (i = 0; i < n; i++) {
		assert_string_equal(v[i].a.caller_subject, i == 0 ? "sub-1" : i == 1 ? "sub-2" : "sub-3");
		assert_int_equal(store_audit_hash(STORE_AUDIT_FORM_V1, prev, v[i].seq, &v[i].a, prev), 0);
		set_hash(f, v[i].a.id, prev);
	}
	set_hash(f, 0, prev);
	free(v);
	verify(f->st, &res);
	assert_int_equal(res.fault, STORE_AUDIT_INTACT);
	assert_int_equal(res.forms[0], 3);
	assert_int_equal(res.forms[1], 0);
	/* this version carries on in form 2 */
	for (k = 0; k < 3; k++) {
		entry(&a, 2000 + k);
		snprintf(a.caller_subject, sizeof(a.caller_subject), "sub-%d", k + 4);
		assert_int_equal(store_activity_append(f->st, &a), 0);
	}
	verify(f->st, &res);
	assert_int_equal(res.fault, STORE_AUDIT_INTACT);
	assert_int_equal(res.checked, 6);
	assert_int_equal(res.forms[0], 3);
	assert_int_equal(res.forms[1], 3);
	any_exec(f, "UPDATE activity SET caller_subject = 'sub-x' WHERE id = 5");
	verify(f->st, &res);
	assert_int_equal(res.fault, STORE_AUDIT_CHANGED);
	assert_int_equal(res.id, 5);
	assert_int_equal(res.checked, 4);
	any_exec(f, "UPDATE activity SET caller_subject = 'sub-5' WHERE id = 5");
	any_exec(f, "UPDATE activity SET caller_subject = '' WHERE id = 6");
	verify(f->st, &res);
	assert_int_equal(res.fault, STORE_AUDIT_CHANGED);
	assert_int_equal(res.id, 6);
	any_exec(f, "UPDATE activity SET caller_subject = 'sub-6' WHERE id = 6");
	any_exec(f, "UPDATE activity SET caller_subject = 'sub-x' WHERE id = 2");
	verify(f->st, &res);
	assert_int_equal(res.fault, STORE_AUDIT_INTACT);
}

#define CONCURRENT_WRITERS	3	/* processes appending at once, as replicas do on PostgreSQL */
#define CONCURRENT_ENTRIES	60	/* entries each appends: half alone, half in transactions of 5 */

/* One writer process: its own connection, appending; 0 on success. */
static int
writer(const char *at)
{
	struct core_error err = { 0 };
	struct store *st = NULL;
	struct store_activity a;
	int i, r = 0;

	if (store_open(at, &st, &err) < 0)
		return 1;
	for (i = 0; i < CONCURRENT_ENTRIES && r >= 0; i++) {
		bool group = i >= CONCURRENT_ENTRIES / 2;

		entry(&a, 1000 + i);
		if (group && i % 5 == 0)
			r = store_begin(st);
		if (r >= 0)
			r = store_activity_append(st, &a);
		if (r >= 0 && group && i % 5 == 4)
			r = store_commit(st);
	}
	store_close(st);
	return r < 0;
}

/* The pruner beside them: everything older than t 1030, in batches of 7, again and again. */
static int
pruner(const char *at)
{
	struct core_error err = { 0 };
	struct store *st = NULL;
	int i, r = 0;

	if (store_open(at, &st, &err) < 0)
		return 1;
	for (i = 0; i < 40 && r >= 0; i++) {
		r = store_activity_prune(st, 1030, 7, NULL, NULL);
		usleep(2000);
	}
	store_close(st);
	return r < 0;
}

/* Several processes append (and one prunes) at once: the chain stays one line, with no place taken twice. */
static void
test_concurrent_appends(void **state)
{
	struct fixture *f = *state;
	struct store_audit_result res;
	pid_t pid[CONCURRENT_WRITERS + 1];
	int i, status;

	for (i = 0; i <= CONCURRENT_WRITERS; i++) {
		pid[i] = fork();
		assert_true(pid[i] >= 0);
		if (pid[i] == 0)
			_exit(i < CONCURRENT_WRITERS ? writer(where(f)) : pruner(where(f)));
	}
	for (i = 0; i <= CONCURRENT_WRITERS; i++) {
		assert_int_equal(waitpid(pid[i], &status, 0), pid[i]);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	verify(f->st, &res);
	assert_int_equal(res.fault, STORE_AUDIT_INTACT);
	assert_int_equal(res.chain.head_seq, CONCURRENT_WRITERS * CONCURRENT_ENTRIES);
	assert_int_equal(res.chain.anchor_seq + res.checked, CONCURRENT_WRITERS * CONCURRENT_ENTRIES);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_canonical_golden),
		cmocka_unit_test(test_canonical_unambiguous),
		cmocka_unit_test(test_canonical_v2_golden),
		cmocka_unit_test_setup_teardown(test_chain_intact, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chain_faults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chain_v1_then_v2, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prune_keeps_chain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prune_before_chain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migration_chain_start, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_appends, setup, teardown),
	};

	pg_uri = getenv("JITGATE_TEST_PG");
	return cmocka_run_group_tests(tests, NULL, NULL);
}

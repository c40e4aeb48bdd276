/*
 * Unit tests for the store: each test gets a fresh SQLite file in a throwaway directory or, with
 * JITGATE_TEST_PG set (tests/pg.sh, meson suite pg), a fresh schema in that PostgreSQL database.
 */
#include <errno.h>
#include <ftw.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include "core/rbac.h"
#include "store/store-internal.h"	/* STORE_SCHEMA_VERSION */
#include "store/store-audit.h"
#include "store/store.h"
#include "store/store-sessions.h"
#include "store/store-webhooks.h"
#include "testutil.h"

#define SUB	"00000000-0000-0000-0000-000000000000"
#define T0	1700000000000000000LL	/* a fixed "now" */
#define MIN	(60LL * 1000000000LL)

static char tmpdir[] = "/tmp/jitgate-test-store-XXXXXX";
static unsigned n_dbs;
static const char *pg_uri;	/* JITGATE_TEST_PG: the tests run on PostgreSQL */

/* A test of what only SQLite has (its file, pragmas, its way of migrating): skipped on PostgreSQL. */
#define SQLITE_ONLY() do { if (pg_uri) skip(); } while (0)

struct fixture {
	char path[256];
	struct store *st;
};

/* ---- helpers ---- */

static void
copy(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);

	assert_true(n < size);
	memcpy(dst, src, n + 1);
}
#define COPY(dst, src) copy((dst), sizeof(dst), (src))

static struct arm_vm_id
vm_arm(const char *rg, const char *name)
{
	struct arm_vm_id a;

	memset(&a, 0, sizeof(a));
	COPY(a.subscription, SUB);
	COPY(a.resource_group, rg);
	COPY(a.name, name);
	return a;
}

static struct arm_policy_id
policy_arm(const char *rg, const char *loc, const char *name)
{
	struct arm_policy_id a;

	memset(&a, 0, sizeof(a));
	COPY(a.subscription, SUB);
	COPY(a.resource_group, rg);
	COPY(a.location, loc);
	COPY(a.name, name);
	return a;
}

static struct store_vm
make_vm(const char *rg, const char *name, const char *addr1, const char *addr2)
{
	struct store_vm vm;

	memset(&vm, 0, sizeof(vm));
	vm.arm = vm_arm(rg, name);
	COPY(vm.location, "westeurope");
	COPY(vm.os_type, "Linux");
	vm.point = STORE_POINT_GATEWAY;
	vm.created_ns = T0;
	if (addr1)
		assert_int_equal(net_addr_parse(addr1, strlen(addr1), &vm.addrs[vm.n_addrs++], NULL), 0);
	if (addr2)
		assert_int_equal(net_addr_parse(addr2, strlen(addr2), &vm.addrs[vm.n_addrs++], NULL), 0);
	return vm;
}

static int64_t
put_vm(struct store *st, const char *rg, const char *name)
{
	static unsigned n;
	char addr[NET_ADDR_TEXT_MAX];
	struct store_vm vm;
	int64_t id = 0;

	/* an address belongs to one VM: each gets its own */
	n++;
	snprintf(addr, sizeof(addr), "10.%u.%u.%u", (n >> 16) & 255, (n >> 8) & 255, n & 255);
	vm = make_vm(rg, name, addr, NULL);

	assert_int_equal(store_vm_put(st, &vm, &id, NULL), 0);
	assert_true(id > 0);
	return id;
}

/* An agent VM (point 2): the only kind whose revision moves. */
static int64_t
put_agent_vm(struct store *st, const char *rg, const char *name)
{
	struct store_vm vm = make_vm(rg, name, "10.99.0.1", NULL);
	int64_t id = 0;

	vm.point = STORE_POINT_AGENT;
	assert_int_equal(store_vm_put(st, &vm, &id, NULL), 0);
	assert_true(id > 0);
	return id;
}

static int64_t
put_policy(struct store *st, const char *name, const char *json, const int64_t *vms, size_t n, int64_t now)
{
	struct arm_policy_id arm = policy_arm("rg1", "westeurope", name);
	int64_t id = 0;

	assert_int_equal(store_policy_put(st, &arm, json, vms, n, now, &id, NULL), 0);
	return id;
}

static struct store_grant
make_grant(int64_t vm_id, uint16_t port, const char *src, int64_t end)
{
	struct store_grant g;

	memset(&g, 0, sizeof(g));
	g.vm_id = vm_id;
	g.port = port;
	g.proto = NET_PROTO_TCP;
	assert_int_equal(net_source_parse(src, strlen(src), &g.source, NULL), 0);
	g.end_ns = end;
	g.status = STORE_GRANT_INITIATED;
	return g;
}

static void
make_request(struct store_request *req, const char *id, int64_t policy_id, const char *who, int64_t start,
	     struct store_grant *grants, size_t n)
{
	memset(req, 0, sizeof(*req));
	COPY(req->id, id);
	req->policy_id = policy_id;
	COPY(req->requestor, who);
	COPY(req->requestor_addr, "198.51.100.7");
	req->start_ns = start;
	COPY(req->justification, "maintenance");
	req->grants = grants;
	req->n_grants = n;
}

static void
pg_notice_drop(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

/* One SQL text on PostgreSQL behind the store's back; its first value as an integer when want_row. */
static int64_t
pg_raw(const char *uri, const char *sql, bool want_row)
{
	PGconn *c = PQconnectdb(uri);
	PGresult *res;
	int64_t v = 0;

	assert_int_equal(PQstatus(c), CONNECTION_OK);
	PQsetNoticeProcessor(c, pg_notice_drop, NULL);
	res = PQexec(c, sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
		fail_msg("%s: %s", sql, PQresultErrorMessage(res));
	if (want_row) {
		assert_int_equal(PQntuples(res), 1);
		v = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	}
	PQclear(res);
	PQfinish(c);
	return v;
}

/* Run one SQL statement on the database behind the store's back. */
static void
raw_exec(const char *path, const char *sql)
{
	sqlite3 *db = NULL;

	if (pg_uri) {
		pg_raw(path, sql, false);
		return;
	}

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

static int64_t
raw_int(const char *path, const char *sql)
{
	sqlite3_stmt *s = NULL;
	sqlite3 *db = NULL;
	int64_t v;

	if (pg_uri)
		return pg_raw(path, sql, true);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return v;
}

/* Take a database at the current schema back to 5 (what migrations 16 to 6 added), to test the migrations before them again. */
static void
undo_migration_6(const char *path)
{
	/* 16 (the live grants' indexes) first; 15 changed nothing on SQLite; then 14 (DNAT's mapped ports), 13 (shared sessions) */
	raw_exec(path, TEST_UNDO_MIGRATION_16);
	raw_exec(path, "DROP TABLE dnat_ports");
	raw_exec(path, "DROP TABLE sessions");
	/* then 12 (approvals), then 11 (single sign-on's subjects), then 10 (webhooks) */
	raw_exec(path, "DROP TABLE pending; DROP TABLE approvals; ALTER TABLE grants DROP COLUMN opened_ns");
	raw_exec(path, "ALTER TABLE activity DROP COLUMN caller_subject; ALTER TABLE requests DROP COLUMN requestor_subject");
	raw_exec(path, "DROP TABLE webhook_outbox; DROP TABLE webhook_hooks");
	/* then 9 (the activity log's chain) */
	raw_exec(path, "DROP TRIGGER activity_chained; DROP TABLE audit_chain; DROP INDEX requests_start; "
	    "ALTER TABLE activity DROP COLUMN seq; "
	    "ALTER TABLE activity DROP COLUMN hash");
	raw_exec(path, "DROP TABLE terminations");
	raw_exec(path, "DROP TRIGGER grant_added; DROP TRIGGER grant_changed; DROP TRIGGER policy_vm_added; "
	    "DROP TRIGGER policy_vm_removed; DROP TRIGGER policy_changed; DROP TRIGGER vm_changed; "
	    "DROP TABLE agents; DROP TABLE join_tokens; DROP INDEX grants_unapplied; DROP INDEX vms_revision; "
	    "DROP TABLE fleet_revision; "
	    "ALTER TABLE grants DROP COLUMN revision; ALTER TABLE grants DROP COLUMN applied_ns; "
	    "ALTER TABLE vms DROP COLUMN revision");
}

static size_t
count_policies(struct store *st)
{
	struct store_policy *v = NULL;
	size_t n = 0;

	assert_int_equal(store_policy_list(st, &v, &n), 0);
	store_policies_free(v, n);
	return n;
}

/* ---- fixtures ---- */

static int
group_setup(void **state)
{
	(void)state;
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int
group_teardown(void **state)
{
	(void)state;
	return test_rmtree(tmpdir);
}

static int
setup(void **state)
{
	struct core_error err = { 0 };
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/t%u.db", tmpdir, n_dbs++);
	if (pg_uri) {
		/* a fresh schema: what the last test made goes, the collation nocase with it */
		snprintf(f->path, sizeof(f->path), "%s", pg_uri);
		pg_raw(pg_uri, "DROP SCHEMA public CASCADE; CREATE SCHEMA public", false);
	}
	if (store_open(f->path, &f->st, &err) < 0) {
		fprintf(stderr, "store_open: %s: %s\n", err.code, err.message);
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	store_close(f->st);
	free(f);
	return 0;
}

/* ---- open and migrations ---- */

static void
test_open_reopen(void **state)
{
	struct fixture *f = *state;
	struct core_error err = { 0 };
	struct arm_vm_id arm = vm_arm("rg1", "vm1");
	struct store_vm got;
	struct store *st = NULL;
	int64_t id, version;
	char sql[64];

	SQLITE_ONLY();

	id = put_vm(f->st, "rg1", "vm1");
	store_close(f->st);
	f->st = NULL;

	version = raw_int(f->path, "PRAGMA user_version");
	assert_true(version >= 1);
	{
		/* Bytes 18 and 19 of the header are 2 in a WAL database. */
		unsigned char hdr[20];
		FILE *fp = fopen(f->path, "rb");

		assert_non_null(fp);
		assert_int_equal(fread(hdr, 1, sizeof(hdr), fp), sizeof(hdr));
		fclose(fp);
		assert_int_equal(hdr[18], 2);
		assert_int_equal(hdr[19], 2);
	}

	/* Reopening migrates nothing and keeps the data. */
	assert_int_equal(store_open(f->path, &f->st, &err), 0);
	assert_int_equal(store_vm_get(f->st, &arm, &got), 0);
	assert_int_equal(got.id, id);
	store_close(f->st);
	f->st = NULL;
	assert_int_equal(raw_int(f->path, "PRAGMA user_version"), version);

	/* A database from a newer jitgate is refused, and left alone. */
	version = raw_int(f->path, "PRAGMA user_version");
	assert_true(version >= 2);
	raw_exec(f->path, "PRAGMA user_version = 999");
	assert_int_equal(store_open(f->path, &st, &err), -EIO);
	assert_null(st);
	assert_string_equal(err.code, "StoreSchemaTooNew");
	assert_true(strstr(err.message, "999") != NULL);
	assert_int_equal(raw_int(f->path, "PRAGMA user_version"), 999);
	assert_int_equal(store_open_readonly(f->path, &st, &err), -EIO);
	assert_string_equal(err.code, "StoreSchemaTooNew");

	snprintf(sql, sizeof(sql), "PRAGMA user_version = %lld", (long long)version);	/* back, for the teardown */
	raw_exec(f->path, sql);
	assert_int_equal(store_open(f->path, &f->st, &err), 0);
}

/* PostgreSQL's side of test_open_reopen: its version table, and a schema from a newer jitgate refused. */
static void
test_open_reopen_pg(void **state)
{
	struct fixture *f = *state;
	struct core_error err = { 0 };
	struct arm_vm_id arm = vm_arm("rg1", "vm1");
	struct store_vm got;
	struct store *st = NULL;
	struct pollfd pfd = { .events = POLLIN };
	int64_t id, rev;
	uint64_t gen;
	char sql[64];

	if (!pg_uri)
		skip();
	id = put_vm(f->st, "rg1", "vm1");
	store_close(f->st);
	f->st = NULL;
	assert_int_equal(raw_int(f->path, "SELECT n FROM schema_version"), STORE_SCHEMA_VERSION);

	/* Reopening migrates nothing and keeps the data; two stores on one database see each other's writes. */
	assert_int_equal(store_open(f->path, &f->st, &err), 0);
	assert_int_equal(store_open(f->path, &st, &err), 0);
	assert_int_equal(store_vm_get(f->st, &arm, &got), 0);
	assert_int_equal(got.id, id);
	/* the other store's write is announced (migration 8) and moves this one's generation: its caches see it */
	gen = store_generation(f->st);
	pfd.fd = store_changes_fd(f->st);
	assert_true(pfd.fd >= 0);
	put_vm(st, "rg1", "vm2");
	assert_int_equal(poll(&pfd, 1, 5000), 1);	/* a bound, not a timing: delivered at the writer's commit */
	assert_true(store_changes_take(f->st, &rev) >= 1);
	assert_true(store_generation(f->st) > gen);
	arm = vm_arm("RG1", "VM2");	/* names compare case-insensitively, as on SQLite */
	assert_int_equal(store_vm_get(f->st, &arm, &got), 0);
	store_close(st);
	st = NULL;
	store_close(f->st);
	f->st = NULL;
	assert_int_equal(raw_int(f->path, "SELECT n FROM schema_version"), STORE_SCHEMA_VERSION);

	raw_exec(f->path, "UPDATE schema_version SET n = 999");
	assert_int_equal(store_open(f->path, &st, &err), -EIO);
	assert_null(st);
	assert_string_equal(err.code, "StoreSchemaTooNew");
	assert_true(strstr(err.message, "999") != NULL);
	assert_int_equal(raw_int(f->path, "SELECT n FROM schema_version"), 999);
	assert_int_equal(store_open_readonly(f->path, &st, &err), -EIO);
	assert_string_equal(err.code, "StoreSchemaTooNew");

	snprintf(sql, sizeof(sql), "UPDATE schema_version SET n = %d", STORE_SCHEMA_VERSION);
	raw_exec(f->path, sql);	/* back, for the teardown */
	assert_int_equal(store_open(f->path, &f->st, &err), 0);
}

/*
 * store_read (store-pg-standby.c): refused on SQLite and for a URI libpq does not take (its password never
 * repeated). On PostgreSQL, the store's session ended by the server (pg_terminate_backend): the next read
 * meets the lost connection and is answered by the store_read server (here the same one: not in recovery,
 * so up to date), by a statement never prepared before; a standby that cannot be reached leaves the
 * primary's -EBUSY with both reasons; the next call connects to the primary again.
 */
static void
test_read_standby(void **state)
{
	struct fixture *f = *state;
	struct core_error err = { 0 };
	struct arm_vm_id arm = vm_arm("rg1", "vm1");
	struct store_vm got;
	struct store *st = NULL;
	char uri[512], bad[512];
	uint64_t gen;
	int64_t id;

	if (!pg_uri) {
		assert_int_equal(store_read_standby(f->st, "postgresql:///jitgate", &err), -EINVAL);
		assert_string_equal(err.target, "store_read");
		return;
	}
	assert_int_equal(store_read_standby(f->st, "postgresql://u:s3cret@h/db?nosuchkey=1", &err), -EINVAL);
	assert_string_equal(err.target, "store_read");
	assert_non_null(strstr(err.message, "nosuchkey"));
	assert_null(strstr(err.message, "s3cret"));

	/* a store of its own, named so that the server can end its session alone */
	snprintf(uri, sizeof(uri), "%s%capplication_name=jg_standby_test", f->path, strchr(f->path, '?') ? '&' : '?');
	assert_int_equal(store_open(uri, &st, &err), 0);
	assert_int_equal(store_read_standby(st, f->path, &err), 0);
	id = put_vm(st, "rg1", "vm1");
	gen = store_generation(st);
	pg_raw(f->path, "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE application_name = 'jg_standby_test'", false);
	assert_int_equal(store_vm_get(st, &arm, &got), 0);
	assert_int_equal(got.id, id);
	assert_true(store_generation(st) > gen);	/* nothing cached may outlive an answer from elsewhere */
	put_vm(st, "rg1", "vm2");	/* a write: the primary, connected again */
	store_close(st);
	st = NULL;

	snprintf(bad, sizeof(bad), "postgresql:///jitgate?host=/nonexistent/jitgate-test&user=jitgate");
	assert_int_equal(store_open(uri, &st, &err), 0);
	assert_int_equal(store_read_standby(st, bad, &err), 0);
	assert_int_equal(store_vm_get(st, &arm, &got), 0);
	pg_raw(f->path, "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE application_name = 'jg_standby_test'", false);
	assert_int_equal(store_vm_get(st, &arm, &got), -EBUSY);
	assert_non_null(strstr(store_last_error(st), "cannot connect to the standby"));
	assert_non_null(strstr(store_last_error(st), "the primary:"));
	assert_int_equal(store_vm_get(st, &arm, &got), 0);
	assert_int_equal(got.id, id);
	store_close(st);
}

static void
test_open_errors(void **state)
{
	struct core_error err = { 0 };
	struct store *st = NULL;
	char path[300];

	(void)state;
	snprintf(path, sizeof(path), "%s/no/such/dir/x.db", tmpdir);
	assert_true(store_open(path, &st, &err) < 0);
	assert_null(st);
	assert_string_equal(err.code, "StoreOpenFailed");

	/* A file that is not a database. */
	snprintf(path, sizeof(path), "%s/garbage.db", tmpdir);
	{
		FILE *fp = fopen(path, "w");

		assert_non_null(fp);
		for (int i = 0; i < 200; i++)
			fputs("this is not an SQLite database\n", fp);
		fclose(fp);
	}
	assert_true(store_open(path, &st, &err) < 0);
	assert_null(st);
	assert_string_equal(store_last_error(NULL), "no store");

	/* A PostgreSQL URI with no server behind it: refused at once, and the answer says why. */
	snprintf(path, sizeof(path), "postgresql:///jitgate?host=%s/no-such-socket-dir", tmpdir);
	assert_int_equal(store_open(path, &st, &err), -ECONNREFUSED);
	assert_null(st);
	assert_string_equal(err.code, "StoreOpenFailed");
	assert_non_null(strstr(err.message, "PostgreSQL"));
}

/* ---- VMs ---- */

static void
test_vm_crud(void **state)
{
	struct fixture *f = *state;
	struct store_vm vm = make_vm("rg1", "vm1", "192.0.2.10", "2001:db8::10");
	struct arm_vm_id lookup = vm_arm("RG1", "VM1");
	struct store_vm got, *list = NULL;
	int64_t id = 0, id2 = 0;
	bool created = false;
	size_t n = 0;

	assert_int_equal(store_vm_put(f->st, &vm, &id, &created), 0);
	assert_true(created);
	assert_true(id > 0);

	/* Case-insensitive lookup; everything comes back as stored. */
	assert_int_equal(store_vm_get(f->st, &lookup, &got), 0);
	assert_int_equal(got.id, id);
	assert_string_equal(got.arm.name, "vm1");
	assert_string_equal(got.arm.resource_group, "rg1");
	assert_string_equal(got.location, "westeurope");
	assert_string_equal(got.os_type, "Linux");
	assert_int_equal(got.point, STORE_POINT_GATEWAY);
	assert_int_equal(got.n_addrs, 2);
	assert_true(net_addr_equal(&got.addrs[0], &vm.addrs[0]));
	assert_true(net_addr_equal(&got.addrs[1], &vm.addrs[1]));
	assert_string_equal(got.unsupported_reason, "");
	assert_int_equal(got.created_ns, T0);

	/* Update through a differently cased id: same row, new casing, created_ns kept. */
	vm.arm = vm_arm("RG1", "Vm1");
	vm.n_addrs = 1;
	vm.created_ns = T0 + 5;
	COPY(vm.unsupported_reason, "nftables missing");
	assert_int_equal(store_vm_put(f->st, &vm, &id2, &created), 0);
	assert_false(created);
	assert_int_equal(id2, id);
	assert_int_equal(store_vm_get_by_id(f->st, id, &got), 0);
	assert_string_equal(got.arm.name, "Vm1");
	assert_string_equal(got.arm.resource_group, "RG1");
	assert_int_equal(got.point, STORE_POINT_GATEWAY);
	assert_int_equal(got.n_addrs, 1);
	assert_string_equal(got.unsupported_reason, "nftables missing");
	assert_int_equal(got.created_ns, T0);

	/* The enforcement point is fixed at creation: a gateway VM never becomes local (issue 11). */
	vm.point = STORE_POINT_LOCAL;
	vm.n_addrs = 0;
	assert_int_equal(store_vm_put(f->st, &vm, &id2, &created), -EPERM);
	assert_int_equal(store_vm_get_by_id(f->st, id, &got), 0);
	assert_int_equal(got.point, STORE_POINT_GATEWAY);
	assert_int_equal(got.n_addrs, 1);
	vm.point = STORE_POINT_GATEWAY;
	vm.n_addrs = 1;

	/* List order: resource group, then name, case-insensitively. */
	put_vm(f->st, "rg0", "zeta");
	put_vm(f->st, "rg1", "alpha");
	put_vm(f->st, "Rg1", "Zulu");
	assert_int_equal(store_vm_list(f->st, &list, &n), 0);
	assert_int_equal(n, 4);
	assert_string_equal(list[0].arm.name, "zeta");
	assert_string_equal(list[1].arm.name, "alpha");
	assert_string_equal(list[2].arm.name, "Vm1");
	assert_string_equal(list[3].arm.name, "Zulu");
	free(list);

	/* Delete. */
	assert_int_equal(store_vm_delete(f->st, id), 0);
	assert_int_equal(store_vm_get(f->st, &lookup, &got), -ENOENT);
	assert_int_equal(store_vm_get_by_id(f->st, id, &got), -ENOENT);
	assert_int_equal(store_vm_delete(f->st, id), -ENOENT);
	assert_true(store_last_error(f->st)[0] != '\0');

	/* A deleted VM's id is never handed out again (grants and fw keys refer to it). */
	vm.arm = vm_arm("rg1", "vm1");
	assert_int_equal(store_vm_put(f->st, &vm, &id2, &created), 0);
	assert_true(created);
	assert_true(id2 > id);

	/* Bad input. */
	vm.point = STORE_POINT_GATEWAY;
	vm.n_addrs = FW_VM_ADDRS_MAX + 1;
	assert_int_equal(store_vm_put(f->st, &vm, &id2, &created), -EINVAL);
	vm.n_addrs = 0;
	memset(vm.arm.name, 'x', sizeof(vm.arm.name));	/* unterminated */
	assert_int_equal(store_vm_put(f->st, &vm, &id2, &created), -EINVAL);
}

/* An address belongs to one VM, checked in the write transaction (issue 11). */
static void
test_vm_addresses_unique(void **state)
{
	struct fixture *f = *state;
	struct store_vm a = make_vm("rg1", "a", "192.0.2.1", "2001:db8::1");
	struct store_vm b = make_vm("rg1", "b", "192.0.2.2", "2001:db8::1");
	struct store_vm host = make_vm("rg1", "host", "198.51.100.7", NULL);
	struct store_vm c = make_vm("rg2", "c", "198.51.100.7", NULL);
	struct store_vm got, *list = NULL;
	int64_t id_a = 0, id_b = 0, id = 0;
	size_t n = 0;

	assert_int_equal(store_vm_put(f->st, &a, &id_a, NULL), 0);
	/* b shares a's IPv6 address: refused, nothing written */
	assert_int_equal(store_vm_put(f->st, &b, &id_b, NULL), -EADDRINUSE);
	assert_non_null(strstr(store_last_error(f->st), "2001:db8::1"));
	assert_int_equal(store_vm_get(f->st, &b.arm, &got), -ENOENT);
	b.n_addrs = 1;
	assert_int_equal(store_vm_put(f->st, &b, &id_b, NULL), 0);
	/* an update that takes another VM's address is refused and leaves the row as it was */
	b.addrs[1] = a.addrs[0];
	b.n_addrs = 2;
	assert_int_equal(store_vm_put(f->st, &b, &id, NULL), -EADDRINUSE);
	assert_int_equal(store_vm_get_by_id(f->st, id_b, &got), 0);
	assert_int_equal(got.n_addrs, 1);
	/* a VM keeps its own addresses on an update */
	assert_int_equal(store_vm_put(f->st, &a, &id, NULL), 0);
	assert_int_equal(id, id_a);

	/* the local VM (jitgated's registration) has the host's addresses; no gateway VM may take one */
	host.point = STORE_POINT_LOCAL;
	assert_int_equal(store_vm_put(f->st, &host, &id, NULL), 0);
	assert_int_equal(store_vm_put(f->st, &c, &id, NULL), -EADDRINUSE);

	/* inside one transaction the check sees what the transaction wrote */
	assert_int_equal(store_begin(f->st), 0);
	c.addrs[0] = b.addrs[0];
	c.addrs[0].bytes[3] = 99;	/* 192.0.2.99 */
	assert_int_equal(store_vm_put(f->st, &c, &id, NULL), 0);
	b.arm = vm_arm("rg2", "d");
	b.addrs[0] = c.addrs[0];
	b.n_addrs = 1;
	assert_int_equal(store_vm_put(f->st, &b, &id, NULL), -EADDRINUSE);
	assert_int_equal(store_commit(f->st), 0);
	assert_int_equal(store_vm_list(f->st, &list, &n), 0);
	assert_int_equal(n, 4);	/* a, b, host, c */
	free(list);
}

static void
test_vm_delete_busy(void **state)
{
	struct fixture *f = *state;
	int64_t vm = put_vm(f->st, "rg1", "vm1");
	int64_t pol = put_policy(f->st, "default", "{}", &vm, 1, T0);
	struct store_vm got;

	assert_int_equal(store_vm_delete(f->st, vm), -ENOTEMPTY);
	assert_int_equal(store_vm_get_by_id(f->st, vm, &got), 0);
	assert_int_equal(store_policy_delete(f->st, pol), 0);
	assert_int_equal(store_vm_delete(f->st, vm), 0);
}

/* ---- policies ---- */

static void
test_policy_put(void **state)
{
	struct fixture *f = *state;
	int64_t vm1 = put_vm(f->st, "rg1", "vm1"), vm2 = put_vm(f->st, "rg1", "vm2");
	int64_t both[] = { vm1, vm2 };
	struct arm_policy_id arm = policy_arm("rg1", "westeurope", "default");
	struct arm_policy_id arm2 = policy_arm("RG1", "WestEurope", "Default");
	struct store_policy p, *list = NULL;
	int64_t id = 0, id2 = 0, owner = 0;
	bool created = false;
	size_t n = 0;

	assert_int_equal(store_policy_put(f->st, &arm, "{\"v\":1}", both, 2, T0, &id, &created), 0);
	assert_true(created);
	assert_int_equal(store_policy_of_vm(f->st, vm1, &owner), 0);
	assert_int_equal(owner, id);
	assert_int_equal(store_policy_of_vm(f->st, vm2, &owner), 0);
	assert_int_equal(owner, id);

	/* Update with other casing: same id, new json and casing, created_ns kept, links replaced. */
	assert_int_equal(store_policy_put(f->st, &arm2, "{\"v\":2}", &vm2, 1, T0 + MIN, &id2, &created), 0);
	assert_false(created);
	assert_int_equal(id2, id);
	assert_int_equal(store_policy_get(f->st, &arm, &p), 0);
	assert_int_equal(p.id, id);
	assert_string_equal(p.json, "{\"v\":2}");
	assert_string_equal(p.arm.resource_group, "RG1");
	assert_string_equal(p.arm.location, "WestEurope");
	assert_string_equal(p.arm.name, "Default");
	assert_int_equal(p.created_ns, T0);
	assert_int_equal(p.updated_ns, T0 + MIN);
	store_policy_clear(&p);
	assert_null(p.json);
	store_policy_clear(&p);	/* twice is fine */
	assert_int_equal(store_policy_of_vm(f->st, vm1, &owner), -ENOENT);
	assert_int_equal(store_policy_of_vm(f->st, vm2, &owner), 0);

	/* Get by id, list order, unknown ids. */
	assert_int_equal(store_policy_get_by_id(f->st, id, &p), 0);
	assert_string_equal(p.arm.name, "Default");
	store_policy_clear(&p);
	put_policy(f->st, "aaa", "{}", NULL, 0, T0);
	assert_int_equal(store_policy_list(f->st, &list, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(list[0].arm.name, "aaa");
	assert_string_equal(list[1].arm.name, "Default");
	store_policies_free(list, n);
	store_policies_free(NULL, 0);
	arm.name[0] = 'X';
	assert_int_equal(store_policy_get(f->st, &arm, &p), -ENOENT);
	assert_int_equal(store_policy_get_by_id(f->st, 9999, &p), -ENOENT);

	/* A VM listed twice is linked once; an unknown VM is refused. */
	both[1] = vm1;
	assert_int_equal(store_policy_put(f->st, &arm2, "{}", both, 2, T0, &id2, NULL), 0);
	both[1] = 9999;
	assert_int_equal(store_policy_put(f->st, &arm2, "{}", both, 2, T0, &id2, NULL), -ENOENT);
}

static void
test_policy_conflict(void **state)
{
	struct fixture *f = *state;
	int64_t vm1 = put_vm(f->st, "rg1", "vm1"), vm2 = put_vm(f->st, "rg1", "vm2"), vm3 = put_vm(f->st, "rg1", "vm3");
	int64_t p1 = put_policy(f->st, "p1", "{\"p\":1}", &vm1, 1, T0);
	int64_t p2 = put_policy(f->st, "p2", "{\"p\":2}", &vm2, 1, T0);
	int64_t want[] = { vm3, vm1 };
	struct arm_policy_id arm2 = policy_arm("rg1", "westeurope", "p2");
	struct arm_policy_id arm3 = policy_arm("rg1", "westeurope", "p3");
	struct store_policy p;
	int64_t owner = 0, id = -1;
	bool created = true;

	/* p2 may not take vm1 from p1: nothing changes, outputs untouched. */
	assert_int_equal(store_policy_put(f->st, &arm2, "{\"p\":\"new\"}", want, 2, T0 + MIN, &id, &created), -EEXIST);
	assert_int_equal(id, -1);
	assert_true(created);
	assert_true(strstr(store_last_error(f->st), "already in policy") != NULL);
	assert_int_equal(store_policy_get(f->st, &arm2, &p), 0);
	assert_string_equal(p.json, "{\"p\":2}");
	assert_int_equal(p.updated_ns, T0);
	store_policy_clear(&p);
	assert_int_equal(store_policy_of_vm(f->st, vm1, &owner), 0);
	assert_int_equal(owner, p1);
	assert_int_equal(store_policy_of_vm(f->st, vm2, &owner), 0);
	assert_int_equal(owner, p2);
	assert_int_equal(store_policy_of_vm(f->st, vm3, &owner), -ENOENT);

	/* Nor may a new policy: it is not created. */
	assert_int_equal(store_policy_put(f->st, &arm3, "{}", &vm1, 1, T0, &id, &created), -EEXIST);
	assert_int_equal(store_policy_get(f->st, &arm3, &p), -ENOENT);
	assert_int_equal(count_policies(f->st), 2);
}

/* Gateway DNAT's mapped ports: one public address, protocol and port to one policy; "*" takes TCP and UDP. */
static void
test_dnat_ports_unique(void **state)
{
	struct fixture *f = *state;
	int64_t vm1 = put_vm(f->st, "rg1", "vm1"), vm2 = put_vm(f->st, "rg1", "vm2");
	int64_t p1 = put_policy(f->st, "p1", "{}", &vm1, 1, T0), p2 = put_policy(f->st, "p2", "{}", &vm2, 1, T0);
	struct store_dnat_port a[2], b[2];
	struct core_error err = { 0 };

	memset(a, 0, sizeof(a));
	assert_int_equal(net_addr_parse("10.9.0.1", 8, &a[0].pub, &err), 0);
	a[1].pub = a[0].pub;
	a[0].proto = NET_PROTO_TCP, a[0].port = 50000;
	a[1].proto = NET_PROTO_ANY, a[1].port = 50001;
	b[0] = a[0], b[1] = a[1];
	b[1].proto = NET_PROTO_UDP;
	assert_int_equal(store_begin(f->st), 0);
	assert_int_equal(store_dnat_ports_set(f->st, p1, a, 2), 0);
	assert_int_equal(store_dnat_ports_set(f->st, p1, a, 2), 0);	/* the same again: its own ports, replaced */
	/* p2 may take neither 50000/TCP nor the UDP half of p1's "*" rule on 50001; it keeps what it had */
	assert_int_equal(store_dnat_ports_set(f->st, p2, &b[1], 1), -EEXIST);
	b[0].port = 50002;
	assert_int_equal(store_dnat_ports_set(f->st, p2, b, 1), 0);
	b[0].port = 50000;
	assert_int_equal(store_dnat_ports_set(f->st, p2, b, 1), -EEXIST);
	assert_true(store_in_transaction(f->st));
	b[0].port = 50003;	/* 50002 is still p2's: a failed set changed nothing */
	b[1].port = 50002;
	b[1].proto = NET_PROTO_TCP;
	assert_int_equal(store_dnat_ports_set(f->st, p1, &b[1], 1), -EEXIST);
	/* the same port on another address, or UDP where p1 has TCP only, is free */
	assert_int_equal(net_addr_parse("10.9.0.2", 8, &b[0].pub, &err), 0);
	b[0].port = 50000;
	assert_int_equal(store_dnat_ports_set(f->st, p2, b, 1), 0);
	assert_int_equal(store_commit(f->st), 0);
	/* a deleted policy frees its ports */
	assert_int_equal(store_policy_delete(f->st, p1), 0);
	b[1] = a[1];
	assert_int_equal(store_begin(f->st), 0);
	assert_int_equal(store_dnat_ports_set(f->st, p2, &b[1], 1), 0);
	b[1].port = 0;
	assert_int_equal(store_dnat_ports_set(f->st, p2, &b[1], 1), -EINVAL);
	assert_int_equal(store_commit(f->st), 0);
}

/* single_replica's claim: on PostgreSQL one connection holds it until it closes; SQLite's one process always has it. */
static void
test_claim_sole(void **state)
{
	struct fixture *f = *state;
	struct core_error err = { 0 };
	struct store *other = NULL;
	int i, r = 0;

	assert_int_equal(store_claim_sole(f->st), 1);
	assert_int_equal(store_claim_sole(f->st), 1);	/* its own again */
	if (!pg_uri)
		return;
	assert_int_equal(store_open(f->path, &other, &err), 0);
	assert_int_equal(store_claim_sole(other), 0);
	store_close(f->st);
	f->st = NULL;
	/* the first connection gone, the claim is free once its server process has ended (asynchronous: ≤ 5 s) */
	for (i = 0; i < 500 && (r = store_claim_sole(other)) == 0; i++)
		usleep(10000);
	store_close(other);
	assert_int_equal(r, 1);
	assert_int_equal(store_open(f->path, &f->st, &err), 0);
}

static void
test_policy_delete_cascade(void **state)
{
	struct fixture *f = *state;
	int64_t vms[] = { put_vm(f->st, "rg1", "vm1"), put_vm(f->st, "rg1", "vm2") };
	int64_t pol = put_policy(f->st, "default", "{}", vms, 2, T0);
	struct store_grant g = make_grant(vms[0], 22, "192.0.2.1", T0 + MIN);
	struct store_request req, *reqs = NULL;
	int64_t owner;
	size_t n = 0;

	make_request(&req, "req-1", pol, "token:alice", T0, &g, 1);
	assert_int_equal(store_request_insert(f->st, &req), 0);
	assert_int_equal(store_policy_delete(f->st, pol), 0);
	assert_int_equal(store_policy_of_vm(f->st, vms[0], &owner), -ENOENT);
	assert_int_equal(store_policy_of_vm(f->st, vms[1], &owner), -ENOENT);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM policy_vms"), 0);
	assert_int_equal(store_policy_delete(f->st, pol), -ENOENT);
	assert_int_equal(count_policies(f->st), 0);

	/* Requests stay, for history. */
	assert_int_equal(store_requests_of_policy(f->st, pol, 0, 0, &reqs, &n), 0);
	assert_int_equal(n, 1);
	store_requests_free(reqs, n);

	/* The VMs are free to join another policy. */
	put_policy(f->st, "other", "{}", vms, 2, T0);
}

/* ---- requests and grants ---- */

static void
test_requests(void **state)
{
	struct fixture *f = *state;
	int64_t vm1 = put_vm(f->st, "rg1", "vm1"), vm2 = put_vm(f->st, "rg1", "vm2");
	int64_t both[] = { vm1, vm2 };
	int64_t pol = put_policy(f->st, "default", "{}", both, 2, T0);
	int64_t other = put_policy(f->st, "other", "{}", NULL, 0, T0);
	int64_t week = 7 * 24 * 60 * MIN;
	struct store_grant g_old[] = {	/* deliberately not in (vm, port) order */
		make_grant(vm2, 22, "*", T0 + 60 * MIN),
		make_grant(vm1, 3389, "10.0.0.0/8", T0 + 60 * MIN),
		make_grant(vm1, 22, "2001:db8::/32", T0 + 60 * MIN),
	};
	struct store_grant g_stale[] = { make_grant(vm1, 22, "192.0.2.5", T0 - week) };
	struct store_grant g_new[] = { make_grant(vm1, 22, "192.0.2.6", T0 + 2 * MIN) };
	struct store_grant g_other[] = { make_grant(vm2, 22, "192.0.2.7", T0 + 2 * MIN) };
	struct store_grant g_dup[] = { make_grant(vm1, 22, "192.0.2.8", T0), make_grant(vm1, 22, "192.0.2.8", T0) };
	struct store_request req, *reqs = NULL;
	struct store_grant *live = NULL;
	size_t n = 0, i;

	g_old[0].proto = NET_PROTO_ANY;
	g_old[1].proto = NET_PROTO_UDP;
	/* Old but still live; old and over; recent; another policy's. */
	make_request(&req, "req-old", pol, "token:alice", T0 - 2 * week, g_old, 3);
	assert_int_equal(store_request_insert(f->st, &req), 0);
	make_request(&req, "req-stale", pol, "token:bob", T0 - 2 * week + 1, g_stale, 1);
	assert_int_equal(store_request_insert(f->st, &req), 0);
	make_request(&req, "req-new", pol, "token:carol", T0, g_new, 1);
	assert_int_equal(store_request_insert(f->st, &req), 0);
	make_request(&req, "req-other", other, "token:dave", T0, g_other, 1);
	assert_int_equal(store_request_insert(f->st, &req), 0);

	/* Duplicates are refused whole. */
	make_request(&req, "req-new", pol, "token:carol", T0, g_new, 1);
	assert_int_equal(store_request_insert(f->st, &req), -EEXIST);
	make_request(&req, "req-dup", pol, "token:carol", T0, g_dup, 2);
	assert_int_equal(store_request_insert(f->st, &req), -EEXIST);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM requests WHERE id = 'req-dup'"), 0);
	/* Bad grants are refused before SQL. */
	g_dup[0].port = 0;
	make_request(&req, "req-bad", pol, "token:carol", T0, g_dup, 1);
	assert_int_equal(store_request_insert(f->st, &req), -EINVAL);

	/* End the stale one; ending again or a wrong key finds nothing. */
	assert_int_equal(store_grant_end(f->st, "req-stale", vm1, 22, STORE_REASON_EXPIRED, T0 - week), 0);
	assert_int_equal(store_grant_end(f->st, "req-stale", vm1, 22, STORE_REASON_EXPIRED, T0), -ENOENT);
	assert_int_equal(store_grant_end(f->st, "req-old", vm1, 23, STORE_REASON_USER_REQUESTED, T0), -ENOENT);
	assert_int_equal(store_grant_end(f->st, "nope", vm1, 22, STORE_REASON_USER_REQUESTED, T0), -ENOENT);
	/* One of req-old's three ends too; the request stays live through the other two. */
	assert_int_equal(store_grant_end(f->st, "req-old", vm2, 22, STORE_REASON_NEWER_REQUEST, T0 - 1), 0);

	/* Initiated grants: everything not ended, with requestor and policy filled, soonest end first. */
	assert_int_equal(store_grants_initiated(f->st, &live, &n), 0);
	assert_int_equal(n, 4);
	for (i = 0; i < n; i++) {
		assert_int_equal(live[i].status, STORE_GRANT_INITIATED);
		assert_int_equal(live[i].ended_ns, 0);
		if (strcmp(live[i].request_id, "req-other") == 0) {
			assert_string_equal(live[i].requestor, "token:dave");
			assert_int_equal(live[i].policy_id, other);
		} else if (strcmp(live[i].request_id, "req-new") == 0) {
			assert_string_equal(live[i].requestor, "token:carol");
			assert_int_equal(live[i].policy_id, pol);
			assert_int_equal(live[i].end_ns, T0 + 2 * MIN);
		} else {
			assert_string_equal(live[i].request_id, "req-old");
			assert_string_equal(live[i].requestor, "token:alice");
		}
		if (i > 0)
			assert_true(live[i - 1].end_ns <= live[i].end_ns);
	}
	free(live);

	/* The policy's requests of the last week, plus older ones still live; oldest first. */
	assert_int_equal(store_requests_of_policy(f->st, pol, T0 - week, 0, &reqs, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(reqs[0].id, "req-old");
	assert_string_equal(reqs[0].requestor, "token:alice");
	assert_string_equal(reqs[0].requestor_addr, "198.51.100.7");
	assert_string_equal(reqs[0].justification, "maintenance");
	assert_int_equal(reqs[0].start_ns, T0 - 2 * week);
	assert_int_equal(reqs[0].policy_id, pol);
	assert_int_equal(reqs[0].n_grants, 3);
	/* Grants by VM, then port. */
	assert_int_equal(reqs[0].grants[0].vm_id, vm1);
	assert_int_equal(reqs[0].grants[0].port, 22);
	assert_int_equal(reqs[0].grants[0].proto, NET_PROTO_TCP);
	assert_true(net_source_equal(&reqs[0].grants[0].source, &g_old[2].source));
	assert_int_equal(reqs[0].grants[1].vm_id, vm1);
	assert_int_equal(reqs[0].grants[1].port, 3389);
	assert_int_equal(reqs[0].grants[1].proto, NET_PROTO_UDP);
	assert_true(net_source_equal(&reqs[0].grants[1].source, &g_old[1].source));
	assert_int_equal(reqs[0].grants[2].vm_id, vm2);
	assert_true(reqs[0].grants[2].source.any);
	assert_int_equal(reqs[0].grants[2].proto, NET_PROTO_ANY);
	assert_int_equal(reqs[0].grants[2].status, STORE_GRANT_REVOKED);
	assert_int_equal(reqs[0].grants[2].reason, STORE_REASON_NEWER_REQUEST);
	assert_int_equal(reqs[0].grants[2].ended_ns, T0 - 1);
	assert_string_equal(reqs[0].grants[2].request_id, "req-old");
	assert_string_equal(reqs[1].id, "req-new");
	assert_int_equal(reqs[1].n_grants, 1);
	store_requests_free(reqs, n);

	/* A window far enough back takes in the stale one too; once req-old is over, it drops out. */
	assert_int_equal(store_requests_of_policy(f->st, pol, 0, 0, &reqs, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(reqs[1].id, "req-stale");
	store_requests_free(reqs, n);
	/*
	 * A limit caps only the ended requests: every live one is always listed, however many newer
	 * ones there are (issue 11: req-old, live, was cut by a limit of 2), still oldest first.
	 */
	assert_int_equal(store_requests_of_policy(f->st, pol, 0, 2, &reqs, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(reqs[0].id, "req-old");
	assert_string_equal(reqs[1].id, "req-stale");
	assert_string_equal(reqs[2].id, "req-new");
	store_requests_free(reqs, n);
	assert_int_equal(store_requests_of_policy(f->st, pol, 0, 1, &reqs, &n), 0);
	assert_int_equal(n, 3);
	store_requests_free(reqs, n);
	assert_int_equal(store_grant_end(f->st, "req-old", vm1, 22, STORE_REASON_EXPIRED, T0), 0);
	assert_int_equal(store_grant_end(f->st, "req-old", vm1, 3389, STORE_REASON_EXPIRED, T0), 0);
	/* now req-old and req-stale are over: a limit of 1 keeps the newer of them, and the live req-new */
	assert_int_equal(store_requests_of_policy(f->st, pol, 0, 1, &reqs, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(reqs[0].id, "req-stale");
	assert_string_equal(reqs[1].id, "req-new");
	store_requests_free(reqs, n);
	assert_int_equal(store_requests_of_policy(f->st, pol, 0, 0, &reqs, &n), 0);
	assert_int_equal(n, 3);
	store_requests_free(reqs, n);
	assert_int_equal(store_requests_of_policy(f->st, pol, T0 - week, 0, &reqs, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(reqs[0].id, "req-new");
	store_requests_free(reqs, n);
	assert_int_equal(store_requests_of_policy(f->st, 9999, 0, 0, &reqs, &n), 0);
	assert_int_equal(n, 0);
	store_requests_free(reqs, n);
	store_requests_free(NULL, 0);
}

static void
test_vm_usage(void **state)
{
	struct fixture *f = *state;
	int64_t vm1 = put_vm(f->st, "rg1", "vm1"), vm2 = put_vm(f->st, "rg1", "vm2");
	int64_t pol = put_policy(f->st, "default", "{}", &vm1, 1, T0);
	struct store_grant g1[] = { make_grant(vm1, 22, "192.0.2.1", T0), make_grant(vm1, 3389, "192.0.2.1", T0) };
	struct store_grant g2[] = { make_grant(vm1, 22, "192.0.2.2", T0) };
	struct store_grant g3[] = { make_grant(vm2, 22, "192.0.2.3", T0) };
	struct store_vm_usage u;
	struct store_request req;

	assert_int_equal(store_vm_usage(f->st, vm1, 0, &u), 0);
	assert_int_equal(u.approved_since, 0);
	assert_int_equal(u.last_access_ns, 0);
	assert_string_equal(u.last_user, "");

	make_request(&req, "r1", pol, "token:alice", T0 - 10 * MIN, g1, 2);
	assert_int_equal(store_request_insert(f->st, &req), 0);
	make_request(&req, "r2", pol, "token:bob", T0 - 5 * MIN, g2, 1);
	assert_int_equal(store_request_insert(f->st, &req), 0);
	make_request(&req, "r3", pol, "token:carol", T0, g3, 1);	/* another VM: does not count */
	assert_int_equal(store_request_insert(f->st, &req), 0);
	assert_int_equal(store_grant_end(f->st, "r2", vm1, 22, STORE_REASON_USER_REQUESTED, T0), 0);

	/* Two ports of one request count once; revoked grants still count as approved. */
	assert_int_equal(store_vm_usage(f->st, vm1, T0 - 60 * MIN, &u), 0);
	assert_int_equal(u.approved_since, 2);
	assert_int_equal(u.last_access_ns, T0 - 5 * MIN);
	assert_string_equal(u.last_user, "token:bob");
	assert_int_equal(store_vm_usage(f->st, vm1, T0 - 5 * MIN, &u), 0);
	assert_int_equal(u.approved_since, 1);
	assert_int_equal(store_vm_usage(f->st, vm1, T0, &u), 0);
	assert_int_equal(u.approved_since, 0);
	assert_int_equal(u.last_access_ns, T0 - 5 * MIN);	/* the last access is not windowed */
	assert_int_equal(store_vm_usage(f->st, vm2, 0, &u), 0);
	assert_int_equal(u.approved_since, 1);
	assert_string_equal(u.last_user, "token:carol");
}

/* ---- activity ---- */

static int64_t
log_one(struct store *st, int64_t t, const char *caller, const char *op, const char *resource)
{
	struct store_activity a;

	memset(&a, 0, sizeof(a));
	a.time_ns = t;
	COPY(a.caller, caller);
	COPY(a.caller_addr, "192.0.2.1");
	COPY(a.operation, op);
	COPY(a.resource_id, resource);
	COPY(a.status, "Succeeded");
	COPY(a.detail, "ok");
	COPY(a.correlation_id, "c-1");
	assert_int_equal(store_activity_append(st, &a), 0);
	assert_true(a.id > 0);
	return a.id;
}

static size_t
query(struct store *st, const struct store_activity_filter *flt, struct store_activity **ret)
{
	struct store_activity *v = NULL;
	size_t n = 0;

	assert_int_equal(store_activity_query(st, flt, &v, &n), 0);
	*ret = v;
	return n;
}

#define RG_A	"/subscriptions/" SUB "/resourceGroups/rg_1"
#define RG_B	"/subscriptions/" SUB "/resourceGroups/rgX1"
#define INIT	"Microsoft.Security/locations/jitNetworkAccessPolicies/initiate/action"
#define WRITE	"Microsoft.Security/locations/jitNetworkAccessPolicies/write"

static void
test_activity(void **state)
{
	struct fixture *f = *state;
	struct store_activity_filter flt;
	struct store_activity *v = NULL;
	int64_t ids[6];
	size_t n;

	ids[0] = log_one(f->st, T0 + 0, "token:alice", INIT, RG_A "/providers/Microsoft.Compute/virtualMachines/vm1");
	ids[1] = log_one(f->st, T0 + 1, "token:bob", WRITE, RG_B "/providers/Microsoft.Compute/virtualMachines/vm1");
	ids[2] = log_one(f->st, T0 + 2, "token:alice", WRITE, RG_A "/providers/Microsoft.Security/x");
	ids[3] = log_one(f->st, T0 + 3, "token:carol", INIT, "/subscriptions/" SUB "/resourceGroups/100%");
	ids[4] = log_one(f->st, T0 + 4, "token:alice", INIT, RG_B);
	ids[5] = log_one(f->st, T0 + 5, "Token:Alice", INIT, RG_A);
	for (n = 1; n < 6; n++)
		assert_true(ids[n] > ids[n - 1]);

	/* Everything, newest first, with every field back. */
	memset(&flt, 0, sizeof(flt));
	n = query(f->st, &flt, &v);
	assert_int_equal(n, 6);
	assert_int_equal(v[0].id, ids[5]);
	assert_int_equal(v[5].id, ids[0]);
	assert_int_equal(v[5].time_ns, T0);
	assert_string_equal(v[5].caller_addr, "192.0.2.1");
	assert_string_equal(v[5].status, "Succeeded");
	assert_string_equal(v[5].detail, "ok");
	assert_string_equal(v[5].correlation_id, "c-1");
	assert_string_equal(v[5].justification, "");
	free(v);

	/* Time window: [since, until). */
	flt.since_ns = T0 + 1;
	flt.until_ns = T0 + 4;
	n = query(f->st, &flt, &v);
	assert_int_equal(n, 3);
	assert_int_equal(v[0].id, ids[3]);
	assert_int_equal(v[2].id, ids[1]);
	free(v);

	/* Caller: exact, case and all. */
	memset(&flt, 0, sizeof(flt));
	flt.caller = "token:alice";
	n = query(f->st, &flt, &v);
	assert_int_equal(n, 3);
	assert_int_equal(v[0].id, ids[4]);
	free(v);

	/* Operation: exact. */
	memset(&flt, 0, sizeof(flt));
	flt.operation = WRITE;
	n = query(f->st, &flt, &v);
	assert_int_equal(n, 2);
	assert_int_equal(v[0].id, ids[2]);
	assert_int_equal(v[1].id, ids[1]);
	free(v);

	/* Resource prefix: case-insensitive; '_' and '%' are themselves, not wildcards. */
	memset(&flt, 0, sizeof(flt));
	flt.resource_prefix = "/SUBSCRIPTIONS/" SUB "/resourcegroups/RG_1";
	n = query(f->st, &flt, &v);
	assert_int_equal(n, 3);
	assert_int_equal(v[0].id, ids[5]);
	assert_int_equal(v[1].id, ids[2]);
	assert_int_equal(v[2].id, ids[0]);
	free(v);
	flt.resource_prefix = "/subscriptions/" SUB "/resourceGroups/%";
	n = query(f->st, &flt, &v);
	assert_int_equal(n, 0);
	free(v);
	flt.resource_prefix = "/subscriptions/" SUB "/resourceGroups/100%";
	n = query(f->st, &flt, &v);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].id, ids[3]);
	free(v);
	flt.resource_prefix = "";
	n = query(f->st, &flt, &v);
	assert_int_equal(n, 6);
	free(v);

	/* Filters combine. */
	memset(&flt, 0, sizeof(flt));
	flt.caller = "token:alice";
	flt.operation = INIT;
	flt.resource_prefix = RG_A;
	n = query(f->st, &flt, &v);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].id, ids[0]);
	free(v);

	/* Paging: limit, then before_id from the last row seen. */
	memset(&flt, 0, sizeof(flt));
	flt.limit = 4;
	n = query(f->st, &flt, &v);
	assert_int_equal(n, 4);
	flt.before_id = v[3].id;
	free(v);
	n = query(f->st, &flt, &v);
	assert_int_equal(n, 2);
	assert_int_equal(v[0].id, ids[1]);
	assert_int_equal(v[1].id, ids[0]);
	flt.before_id = v[1].id;
	free(v);
	n = query(f->st, &flt, &v);
	assert_int_equal(n, 0);
	free(v);
	memset(&flt, 0, sizeof(flt));
	flt.limit = STORE_QUERY_LIMIT_MAX + 5;	/* clamped, not refused */
	n = query(f->st, &flt, &v);
	assert_int_equal(n, 6);
	free(v);
}

/* ---- tokens ---- */

static struct store_token
make_token(const char *name, uint8_t fill)
{
	struct store_token t;

	memset(&t, 0, sizeof(t));
	COPY(t.name, name);
	COPY(t.role, "Owner");
	COPY(t.scope, "/subscriptions/" SUB);
	memset(t.hash, fill, sizeof(t.hash));
	t.created_ns = T0;
	return t;
}

static struct store_session
make_session(uint8_t id, uint8_t key, int64_t created_ns)
{
	struct store_session s;

	memset(&s, 0, sizeof(s));
	memset(s.id_hash, id, sizeof(s.id_hash));
	memset(s.key_hash, key, sizeof(s.key_hash));
	s.created_ns = created_ns;
	s.expires_ns = created_ns + 60 * MIN;
	return s;
}

/* Sessions: found by hash until they expire or end; one key's and the table's limits; a person's; pruning. */
static void
test_sessions(void **state)
{
	struct fixture *f = *state;
	const struct store_session_limits lim = { .per_key = 2, .total = 4 };
	struct store_session a = make_session(1, 0xaa, T0), got;
	struct store_token tok = make_token("alice", 0xaa);
	uint8_t ids[4][STORE_TOKEN_HASH_LEN];
	int64_t ends[4];
	int i;

	a.sso = true;
	COPY(a.person, "user:Alice@example.com");
	COPY(a.subject, "alice-sub");
	a.n_assign = 2;
	COPY(a.assign[0].role, "JitRequester");
	COPY(a.assign[0].scope, "/subscriptions/" SUB);
	COPY(a.assign[1].role, "Reader");
	COPY(a.assign[1].scope, "");
	assert_int_equal(store_session_insert(f->st, &a, &lim, T0), 0);
	assert_int_equal(store_session_find(f->st, a.id_hash, T0 + 1, &got), 0);
	assert_true(got.sso);
	assert_memory_equal(got.key_hash, a.key_hash, STORE_TOKEN_HASH_LEN);
	assert_string_equal(got.person, "user:Alice@example.com");
	assert_string_equal(got.subject, "alice-sub");
	assert_int_equal(got.n_assign, 2);
	assert_string_equal(got.assign[0].role, "JitRequester");
	assert_string_equal(got.assign[0].scope, "/subscriptions/" SUB);
	assert_string_equal(got.assign[1].role, "Reader");
	assert_string_equal(got.assign[1].scope, "");
	assert_int_equal(got.expires_ns, a.expires_ns);
	/* expired: not found, whether pruned yet or not */
	assert_int_equal(store_session_find(f->st, a.id_hash, a.expires_ns, &got), -ENOENT);
	/* a text the row cannot hold is refused, nothing written */
	got = make_session(9, 0x99, T0);
	got.n_assign = 1;
	COPY(got.assign[0].role, "Bad\trole");
	assert_int_equal(store_session_insert(f->st, &got, &lim, T0), -EINVAL);
	assert_int_equal(store_session_find(f->st, got.id_hash, T0, &got), -ENOENT);

	/* a person's, by name in any case; ended together */
	assert_int_equal(store_sessions_of_person(f->st, "user:alice@EXAMPLE.com", ids, ends, 4), 1);
	assert_memory_equal(ids[0], a.id_hash, STORE_TOKEN_HASH_LEN);
	assert_int_equal(ends[0], a.expires_ns);
	assert_int_equal(store_sessions_end_person(f->st, "user:ALICE@example.com"), 0);
	assert_int_equal(store_session_find(f->st, a.id_hash, T0 + 1, &got), -ENOENT);

	/* one key holds at most per_key: a third sign-in ends its oldest */
	for (i = 0; i < 3; i++) {
		a = make_session((uint8_t)(10 + i), 0xaa, T0 + i);
		assert_int_equal(store_session_insert(f->st, &a, &lim, T0 + i), 0);
	}
	a = make_session(10, 0xaa, T0);
	assert_int_equal(store_session_find(f->st, a.id_hash, T0 + 5, &got), -ENOENT);
	a = make_session(11, 0xaa, T0);
	assert_int_equal(store_session_find(f->st, a.id_hash, T0 + 5, &got), 0);
	assert_int_equal(store_session_end(f->st, a.id_hash), 1);
	assert_int_equal(store_session_end(f->st, a.id_hash), 0);	/* ended already */

	/* a full table: first the sessions of tokens no longer valid go (0xaa has no token: 12 goes)... */
	assert_int_equal(store_token_insert(f->st, &tok), 0);
	tok = make_token("bob", 0xbb);
	assert_int_equal(store_token_insert(f->st, &tok), 0);
	tok = make_token("carol", 0xcc);
	assert_int_equal(store_token_insert(f->st, &tok), 0);
	assert_int_equal(store_token_revoke(f->st, "alice", T0 + 1), 0);
	for (i = 0; i < 2; i++) {
		a = make_session((uint8_t)(20 + i), 0xbb, T0 + 10 + i);
		assert_int_equal(store_session_insert(f->st, &a, &lim, T0 + 10), 0);
	}
	a = make_session(30, 0xcc, T0 + 20);
	assert_int_equal(store_session_insert(f->st, &a, &lim, T0 + 20), 0);
	a = make_session(31, 0xcc, T0 + 21);
	assert_int_equal(store_session_insert(f->st, &a, &lim, T0 + 21), 0);
	a = make_session(12, 0xaa, T0);
	assert_int_equal(store_session_find(f->st, a.id_hash, T0 + 22, &got), -ENOENT);
	/* ...then the oldest of the key holding the most (a tie: bob's, whose oldest is older) */
	a = make_session(32, 0xdd, T0 + 22);
	assert_int_equal(store_session_insert(f->st, &a, &lim, T0 + 22), 0);
	a = make_session(20, 0xbb, T0);
	assert_int_equal(store_session_find(f->st, a.id_hash, T0 + 23, &got), -ENOENT);
	a = make_session(21, 0xbb, T0);
	assert_int_equal(store_session_find(f->st, a.id_hash, T0 + 23, &got), 0);
	a = make_session(30, 0xcc, T0);
	assert_int_equal(store_session_find(f->st, a.id_hash, T0 + 23, &got), 0);

	/* a token's sessions end with it; pruning takes the expired, at most max at a time */
	assert_int_equal(store_sessions_end_key(f->st, a.key_hash), 0);
	assert_int_equal(store_session_find(f->st, a.id_hash, T0 + 23, &got), -ENOENT);
	assert_int_equal(store_sessions_prune(f->st, T0 + 23, 10), 0);
	assert_int_equal(store_sessions_prune(f->st, T0 + 61 * MIN, 1), 1);
	assert_int_equal(store_sessions_prune(f->st, T0 + 61 * MIN, 10), 1);
	assert_int_equal(store_sessions_prune(f->st, T0 + 61 * MIN, 10), 0);
}

static void
test_tokens(void **state)
{
	struct fixture *f = *state;
	struct store_token a = make_token("alice", 0xaa), b = make_token("bob", 0xbb), got, *list = NULL;
	size_t n = 0;

	b.hash[0] = 0;	/* the hash is binary: a NUL in it is just a byte */
	assert_int_equal(store_token_insert(f->st, &a), 0);
	assert_int_equal(store_token_insert(f->st, &b), 0);

	assert_int_equal(store_token_find(f->st, b.hash, &got), 0);
	assert_string_equal(got.name, "bob");
	assert_string_equal(got.role, "Owner");
	assert_string_equal(got.scope, "/subscriptions/" SUB);
	assert_memory_equal(got.hash, b.hash, STORE_TOKEN_HASH_LEN);
	assert_int_equal(got.created_ns, T0);
	assert_int_equal(got.revoked_ns, 0);
	{
		uint8_t h[STORE_TOKEN_HASH_LEN];

		memcpy(h, b.hash, sizeof(h));
		h[31] ^= 1;
		assert_int_equal(store_token_find(f->st, h, &got), -ENOENT);
	}

	/* Same name (in any case), or same hash: refused. */
	a.hash[0] = 1;
	assert_int_equal(store_token_insert(f->st, &a), -EEXIST);
	a = make_token("ALICE", 0x11);
	assert_int_equal(store_token_insert(f->st, &a), -EEXIST);
	a = make_token("carol", 0xaa);
	assert_int_equal(store_token_insert(f->st, &a), -EEXIST);

	/* Revoke: gone from find, kept in the list, its name still taken. */
	assert_int_equal(store_token_revoke(f->st, "alice", T0 + 1), 0);
	a = make_token("alice", 0xaa);
	assert_int_equal(store_token_find(f->st, a.hash, &got), -ENOENT);
	assert_int_equal(store_token_revoke(f->st, "alice", T0 + 2), -ENOENT);
	assert_int_equal(store_token_revoke(f->st, "nobody", T0 + 2), -ENOENT);
	assert_int_equal(store_token_insert(f->st, &a), -EEXIST);
	assert_int_equal(store_token_list(f->st, &list, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(list[0].name, "alice");
	assert_int_equal(list[0].revoked_ns, T0 + 1);
	assert_string_equal(list[1].name, "bob");
	assert_int_equal(list[1].revoked_ns, 0);
	free(list);
}

/* ---- transactions ---- */

static void
test_transaction(void **state)
{
	struct fixture *f = *state;
	struct arm_vm_id arm = vm_arm("rg1", "vm1");
	struct store_activity_filter flt;
	struct store_activity *v = NULL;
	struct store_vm got;
	struct store_token t = make_token("alice", 1);
	int64_t vm;
	size_t n;

	assert_int_equal(store_begin(f->st), 0);
	assert_int_equal(store_begin(f->st), -EALREADY);
	vm = put_vm(f->st, "rg1", "vm1");
	put_policy(f->st, "default", "{}", &vm, 1, T0);
	log_one(f->st, T0, "token:alice", INIT, RG_A);
	assert_int_equal(store_token_insert(f->st, &t), 0);
	assert_int_equal(store_vm_get(f->st, &arm, &got), 0);	/* visible inside */
	store_rollback(f->st);
	store_rollback(f->st);	/* nothing open: a no-op */

	assert_int_equal(store_vm_get(f->st, &arm, &got), -ENOENT);
	assert_int_equal(count_policies(f->st), 0);
	memset(&flt, 0, sizeof(flt));
	n = query(f->st, &flt, &v);
	assert_int_equal(n, 0);
	free(v);
	assert_int_equal(store_token_find(f->st, t.hash, &t), -ENOENT);
	assert_int_equal(store_commit(f->st), -EINVAL);

	/* Commit keeps it. */
	assert_int_equal(store_begin(f->st), 0);
	put_vm(f->st, "rg1", "vm1");
	assert_int_equal(store_commit(f->st), 0);
	assert_int_equal(store_vm_get(f->st, &arm, &got), 0);
}

/* A failing multi-statement write inside store_begin undoes only itself. */
static void
test_savepoint_in_transaction(void **state)
{
	struct fixture *f = *state;
	int64_t vm1 = put_vm(f->st, "rg1", "vm1");
	int64_t both[2];
	struct arm_policy_id arm = policy_arm("rg1", "westeurope", "second");
	struct arm_vm_id arm2 = vm_arm("rg1", "vm2");
	struct store_policy p;
	struct store_vm got;
	int64_t id;

	put_policy(f->st, "first", "{}", &vm1, 1, T0);
	assert_int_equal(store_begin(f->st), 0);
	both[0] = put_vm(f->st, "rg1", "vm2");
	both[1] = vm1;
	assert_int_equal(store_policy_put(f->st, &arm, "{}", both, 2, T0, &id, NULL), -EEXIST);
	assert_int_equal(store_policy_get(f->st, &arm, &p), -ENOENT);
	assert_int_equal(store_policy_put(f->st, &arm, "{}", both, 1, T0, &id, NULL), 0);
	assert_int_equal(store_commit(f->st), 0);
	assert_int_equal(store_vm_get(f->st, &arm2, &got), 0);
	assert_int_equal(store_policy_get(f->st, &arm, &p), 0);
	store_policy_clear(&p);
}

/* One statement refused inside store_begin (a duplicate) undoes only itself: the transaction goes on. */
static void
test_failed_statement_in_transaction(void **state)
{
	struct fixture *f = *state;
	struct store_token a = make_token("alice", 1), dup = make_token("ALICE", 2), b = make_token("bob", 3);
	struct store_token *v = NULL;
	size_t n = 0;

	assert_int_equal(store_begin(f->st), 0);
	assert_int_equal(store_token_insert(f->st, &a), 0);
	assert_int_equal(store_token_insert(f->st, &dup), -EEXIST);	/* names are case-insensitive */
	assert_true(store_in_transaction(f->st));
	assert_int_equal(store_token_insert(f->st, &b), 0);
	assert_int_equal(store_commit(f->st), 0);
	assert_int_equal(store_token_list(f->st, &v, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(v[0].name, "alice");
	assert_string_equal(v[1].name, "bob");
	free(v);
}

/*
 * A mark is all or nothing (store.h): a call inside it that fails makes its keep fail with that
 * call's error, even after later calls worked; undone, it leaves none of its writes and the
 * transaction goes on. Marks nest: an inner mark undone leaves the outer one to be kept.
 */
static void
test_mark_all_or_nothing(void **state)
{
	struct fixture *f = *state;
	struct store_token a = make_token("alice", 1), dup = make_token("ALICE", 2), b = make_token("bob", 3),
			   c = make_token("carol", 4), d = make_token("dave", 5);
	struct store_token *v = NULL;
	size_t n = 0;
	int rc;

	assert_int_equal(store_begin(f->st), 0);
	assert_int_equal(store_token_insert(f->st, &a), 0);
	assert_int_equal(store_mark(f->st), 0);
	assert_int_equal(store_token_insert(f->st, &b), 0);
	assert_int_equal(store_token_insert(f->st, &dup), -EEXIST);
	/* later writes in it: refused on PostgreSQL (the failure aborted its transaction until undone), done on SQLite */
	rc = store_token_insert(f->st, &c);
	assert_true(pg_uri ? rc < 0 : rc == 0);
	assert_int_equal(store_mark_keep(f->st), -EEXIST);
	store_mark_undo(f->st);
	assert_true(store_in_transaction(f->st));
	/* nested: the inner one fails and is undone, the outer one is kept */
	assert_int_equal(store_mark(f->st), 0);
	assert_int_equal(store_token_insert(f->st, &d), 0);
	assert_int_equal(store_mark(f->st), 0);
	assert_int_equal(store_token_insert(f->st, &dup), -EEXIST);
	assert_int_equal(store_mark_keep(f->st), -EEXIST);
	store_mark_undo(f->st);
	assert_int_equal(store_mark_keep(f->st), 0);
	assert_int_equal(store_commit(f->st), 0);
	assert_int_equal(store_token_list(f->st, &v, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(v[0].name, "alice");
	assert_string_equal(v[1].name, "dave");
	free(v);
}

/*
 * Writes inside a mark that PostgreSQL holds for the next round trip (an initiate's request, grants and
 * log entry): a read in the mark sees them; a duplicate among them fails the mark's keep with -EEXIST
 * and, undone, leaves nothing of the mark; a mark undone before they were sent leaves nothing either;
 * the marks kept around them commit. The same on SQLite, where nothing is held.
 */
static void
test_mark_held_writes(void **state)
{
	struct fixture *f = *state;
	int64_t vm = put_vm(f->st, "rg1", "vm1");
	int64_t pol = put_policy(f->st, "default", "{}", &vm, 1, T0);
	struct store_grant g1 = make_grant(vm, 22, "192.0.2.1", T0 + MIN), g2 = make_grant(vm, 23, "192.0.2.1", T0 + MIN);
	struct store_request r1, r2, dup, r3, *reqs = NULL;
	struct store_grant *live = NULL;
	struct store_activity a;
	size_t n = 0;

	make_request(&r1, "req-1", pol, "token:alice", T0, &g1, 1);
	make_request(&r2, "req-2", pol, "token:alice", T0 + 1, &g2, 1);
	make_request(&dup, "req-1", pol, "token:alice", T0 + 2, &g2, 1);
	make_request(&r3, "req-3", pol, "token:alice", T0 + 3, &g2, 1);
	memset(&a, 0, sizeof(a));
	COPY(a.caller, "token:alice");
	COPY(a.operation, "initiate");
	COPY(a.status, "Succeeded");
	a.time_ns = T0;

	assert_int_equal(store_begin(f->st), 0);
	/* kept: a request, its grant and a log entry; a read inside the mark sees the grant */
	assert_int_equal(store_mark(f->st), 0);
	assert_int_equal(store_request_insert(f->st, &r1), 0);
	assert_int_equal(store_activity_append(f->st, &a), 0);
	assert_int_equal(a.id, 0);	/* inside a mark, not read back */
	assert_int_equal(store_grants_live_on(f->st, vm, 22, NULL, &live, &n), 0);
	assert_int_equal(n, 1);
	free(live);
	assert_int_equal(store_mark_keep(f->st), 0);
	/* refused: the duplicate request id fails at the keep at the latest, and the mark goes whole */
	assert_int_equal(store_mark(f->st), 0);
	assert_int_equal(store_request_insert(f->st, &r2), 0);
	assert_int_equal(store_activity_append(f->st, &a), 0);
	/* PostgreSQL holds it (0 now, its failure comes with the keep); SQLite refuses it at once */
	(void)store_request_insert(f->st, &dup);
	assert_int_equal(store_mark_keep(f->st), -EEXIST);
	store_mark_undo(f->st);
	assert_true(store_in_transaction(f->st));
	/* undone before anything was sent */
	assert_int_equal(store_mark(f->st), 0);
	assert_int_equal(store_request_insert(f->st, &r3), 0);
	store_mark_undo(f->st);
	assert_int_equal(store_commit(f->st), 0);

	assert_int_equal(store_requests_of_policy(f->st, pol, 0, 0, &reqs, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(reqs[0].id, "req-1");
	store_requests_free(reqs, n);
	assert_int_equal(store_grants_live_on(f->st, vm, 23, NULL, &live, &n), 0);
	assert_int_equal(n, 0);
	free(live);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM activity WHERE operation = 'initiate'"), 1);
}

/*
 * An initiate's supersede written without its rows (store_grants_supersede_held), as for an agent's VM: in a
 * mark it ends the requestor's earlier grant on the port and not the new one inserted after it (held in
 * order on PostgreSQL); a mark undone leaves the earlier grant live; outside a transaction it runs at once.
 */
static void
test_supersede_held(void **state)
{
	struct fixture *f = *state;
	int64_t vm = put_agent_vm(f->st, "rg1", "agent1");
	int64_t pol = put_policy(f->st, "default", "{}", &vm, 1, T0);
	struct store_grant g1 = make_grant(vm, 22, "192.0.2.1", T0 + MIN), g2 = make_grant(vm, 22, "192.0.2.2", T0 + MIN);
	struct store_request r1, r2, r3;
	struct store_grant *live = NULL;
	size_t n = 0;

	make_request(&r1, "req-h1", pol, "token:alice", T0, &g1, 1);
	make_request(&r2, "req-h2", pol, "token:alice", T0 + 1, &g2, 1);
	make_request(&r3, "req-h3", pol, "token:alice", T0 + 2, &g2, 1);
	assert_int_equal(store_request_insert(f->st, &r1), 0);

	/* undone: the earlier grant stays live, the new one is gone */
	assert_int_equal(store_begin(f->st), 0);
	assert_int_equal(store_mark(f->st), 0);
	assert_int_equal(store_grants_supersede_held(f->st, "token:alice", vm, 22, STORE_REASON_NEWER_REQUEST, T0 + 1), 0);
	assert_int_equal(store_request_insert(f->st, &r2), 0);
	store_mark_undo(f->st);
	/* kept: the earlier grant ends, the new one inserted after the supersede is live */
	assert_int_equal(store_mark(f->st), 0);
	assert_int_equal(store_grants_supersede_held(f->st, "token:alice", vm, 22, STORE_REASON_NEWER_REQUEST, T0 + 2), 0);
	assert_int_equal(store_request_insert(f->st, &r3), 0);
	assert_int_equal(store_mark_keep(f->st), 0);
	assert_int_equal(store_commit(f->st), 0);
	assert_int_equal(store_grants_live_on(f->st, vm, 22, "token:alice", &live, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(live[0].request_id, "req-h3");
	free(live);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM grants WHERE request_id = 'req-h1' AND status = 1 "
				 "AND reason = 3 AND ended_ns = 1700000000000000002"), 1);	/* T0 + 2 */
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM requests WHERE id = 'req-h2'"), 0);

	/* on its own, and refusing a reason that is none */
	assert_int_equal(store_grants_supersede_held(f->st, "token:alice", vm, 22, STORE_REASON_NEWER_REQUEST, T0 + 3), 0);
	assert_int_equal(store_grants_live_on(f->st, vm, 22, NULL, &live, &n), 0);
	assert_int_equal(n, 0);
	free(live);
	assert_int_equal(store_grants_supersede_held(f->st, "token:alice", vm, 22, STORE_REASON_NONE, T0 + 3), -EINVAL);
}

#define HELD_OVERFLOW_GRANTS	40	/* more writes in one mark than PostgreSQL holds (STORE_PG_DEFERRED_MAX, 32) */

/*
 * A mark whose writes outgrow what PostgreSQL holds for the next round trip: the rest go at once, in
 * order, and all are kept; a duplicate among the last ones still fails the keep and leaves none.
 */
static void
test_mark_held_overflow(void **state)
{
	struct fixture *f = *state;
	int64_t vm = put_vm(f->st, "rg1", "vm1");
	int64_t pol = put_policy(f->st, "default", "{}", &vm, 1, T0);
	struct store_grant g[HELD_OVERFLOW_GRANTS];
	struct store_request r, dup, *reqs = NULL;
	struct store_grant *live = NULL;
	size_t n = 0, i;

	for (i = 0; i < HELD_OVERFLOW_GRANTS; i++)
		g[i] = make_grant(vm, (uint16_t)(1000 + i), "192.0.2.1", T0 + MIN);
	make_request(&r, "req-big", pol, "token:alice", T0, g, HELD_OVERFLOW_GRANTS);
	assert_int_equal(store_begin(f->st), 0);
	assert_int_equal(store_mark(f->st), 0);
	assert_int_equal(store_request_insert(f->st, &r), 0);
	assert_int_equal(store_mark_keep(f->st), 0);
	/* the second mark: the same many grants, and the last one a duplicate of the first mark's */
	make_request(&dup, "req-big2", pol, "token:alice", T0 + 1, g, HELD_OVERFLOW_GRANTS);
	assert_int_equal(store_mark(f->st), 0);
	(void)store_request_insert(f->st, &dup);	/* its grants' keys differ (request id): all fine ... */
	assert_int_equal(store_mark_keep(f->st), 0);
	assert_int_equal(store_mark(f->st), 0);
	(void)store_request_insert(f->st, &r);	/* ... this one repeats req-big: refused, whenever it is sent */
	assert_int_equal(store_mark_keep(f->st), -EEXIST);
	store_mark_undo(f->st);
	assert_int_equal(store_commit(f->st), 0);
	assert_int_equal(store_requests_of_policy(f->st, pol, 0, 0, &reqs, &n), 0);
	assert_int_equal(n, 2);
	store_requests_free(reqs, n);
	assert_int_equal(store_grants_live_on(f->st, vm, 1000 + HELD_OVERFLOW_GRANTS - 1, NULL, &live, &n), 0);
	assert_int_equal(n, 2);
	free(live);
}

/*
 * An initiate's request decided on the policy as read (policy_read_ns): stored while the policy is
 * as read; on PostgreSQL refused (-EBUSY, the API's 503: try again) once another writer changed it,
 * inside a mark too (held, it fails the keep); SQLite's one writer never meets that, and stores it.
 * Every write of a policy moves its updated_ns, even one in the same nanosecond.
 */
static void
test_request_as_read(void **state)
{
	struct fixture *f = *state;
	int64_t vm = put_vm(f->st, "rg1", "vm1");
	int64_t pol = put_policy(f->st, "default", "{\"v\":1}", &vm, 1, T0);
	struct arm_policy_id arm = policy_arm("rg1", "westeurope", "default");
	struct store_grant g1 = make_grant(vm, 22, "192.0.2.1", T0 + MIN), g2 = make_grant(vm, 23, "192.0.2.1", T0 + MIN);
	struct store_grant g3 = make_grant(vm, 24, "192.0.2.1", T0 + MIN), g4 = make_grant(vm, 25, "192.0.2.1", T0 + MIN);
	struct store_token t = make_token("alice", 1);
	struct store_request r1, r2, r3, r4, *reqs = NULL;
	struct store_policy p;
	size_t n = 0;
	int rc;

	make_request(&r1, "req-1", pol, "token:alice", T0, &g1, 1);
	r1.policy_read_ns = T0;
	assert_int_equal(store_request_insert(f->st, &r1), 0);

	/* written again, in the same nanosecond: its updated_ns still moves */
	put_policy(f->st, "default", "{\"v\":2}", &vm, 1, T0);
	assert_int_equal(store_policy_get(f->st, &arm, &p), 0);
	assert_true(p.updated_ns > T0);
	free(p.json);

	make_request(&r2, "req-2", pol, "token:alice", T0 + 1, &g2, 1);
	r2.policy_read_ns = T0;	/* decided on the policy before that write */
	assert_int_equal(store_begin(f->st), 0);
	assert_int_equal(store_mark(f->st), 0);
	if (pg_uri) {
		(void)store_request_insert(f->st, &r2);	/* held: its refusal comes with the keep */
		assert_int_equal(store_mark_keep(f->st), -EBUSY);
		assert_non_null(strstr(store_last_error(f->st), "the policy changed"));
		store_mark_undo(f->st);
	} else {
		assert_int_equal(store_request_insert(f->st, &r2), 0);
		assert_int_equal(store_mark_keep(f->st), 0);
	}
	assert_int_equal(store_commit(f->st), 0);
	assert_int_equal(store_requests_of_policy(f->st, pol, 0, 0, &reqs, &n), 0);
	assert_int_equal(n, pg_uri ? 1 : 2);
	store_requests_free(reqs, n);

	/* the policy as read, but the requestor's token revoked since: refused on PostgreSQL too */
	assert_int_equal(store_token_insert(f->st, &t), 0);
	make_request(&r3, "req-3", pol, "token:alice", T0 + 2, &g3, 1);
	assert_int_equal(store_policy_get(f->st, &arm, &p), 0);
	r3.policy_read_ns = p.updated_ns;
	free(p.json);
	assert_int_equal(store_token_revoke(f->st, "alice", T0 + 3), 0);
	rc = store_request_insert(f->st, &r3);	/* on its own: not held */
	assert_int_equal(rc, pg_uri ? -EBUSY : 0);
	if (pg_uri)
		assert_non_null(strstr(store_last_error(f->st), "the token was revoked"));
	/* another requestor (not a token) is not asked about tokens */
	make_request(&r4, "req-4", pol, "alice@example.org", T0 + 4, &g4, 1);
	r4.policy_read_ns = r3.policy_read_ns;
	assert_int_equal(store_request_insert(f->st, &r4), 0);

	/* the same question for an extend or an approval, on both engines */
	assert_int_equal(store_policy_as_read(f->st, pol, r3.policy_read_ns, "alice@example.org"), 0);
	assert_int_equal(store_policy_as_read(f->st, pol, r3.policy_read_ns, NULL), 0);
	assert_int_equal(store_policy_as_read(f->st, pol, r3.policy_read_ns, "token:alice"), -EBUSY);
	assert_non_null(strstr(store_last_error(f->st), "the token was revoked"));
	assert_int_equal(store_policy_as_read(f->st, pol, r3.policy_read_ns, "token:ALICE"), -EBUSY);	/* names fold case */
	assert_int_equal(store_policy_as_read(f->st, pol, r3.policy_read_ns - 1, NULL), -EBUSY);
	assert_non_null(strstr(store_last_error(f->st), "the policy changed"));
	assert_int_equal(store_policy_as_read(f->st, pol + 100, r3.policy_read_ns, NULL), -EBUSY);	/* deleted */
}

/*
 * PostgreSQL only: the server drops the connection (a restart, a failover). The call that meets it
 * answers -EBUSY (the API's 503: try again); the next call connects again and works, prepared
 * statements and all. A transaction cut off is gone: its commit fails, nothing of it stays.
 */
static void
test_connection_lost_pg(void **state)
{
	struct fixture *f = *state;
	struct store_token a = make_token("alice", 1), b = make_token("bob", 2), found;
	const char *kill = "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
	    "WHERE pid <> pg_backend_pid() AND datname = current_database() AND backend_type = 'client backend'";
	int64_t vm;

	if (!pg_uri)
		skip();
	vm = put_vm(f->st, "rg1", "vm1");
	assert_int_equal(store_token_insert(f->st, &a), 0);
	assert_int_equal(raw_int(f->path, kill), 1);
	assert_int_equal(store_token_find(f->st, a.hash, &found), -EBUSY);
	assert_int_equal(store_token_find(f->st, a.hash, &found), 0);
	assert_string_equal(found.name, "alice");

	assert_int_equal(store_begin(f->st), 0);
	assert_int_equal(store_token_insert(f->st, &b), 0);
	assert_int_equal(raw_int(f->path, kill), 1);
	assert_int_equal(store_vm_delete(f->st, vm), -EBUSY);
	assert_true(store_commit(f->st) < 0);
	assert_false(store_in_transaction(f->st));
	assert_int_equal(store_token_find(f->st, b.hash, &found), -ENOENT);
	assert_int_equal(store_begin(f->st), 0);
	assert_int_equal(store_token_insert(f->st, &b), 0);
	assert_int_equal(store_commit(f->st), 0);
	assert_int_equal(store_token_find(f->st, b.hash, &found), 0);
}

/*
 * PostgreSQL only: two stores on one database (two replicas) write one transaction at a time, as
 * SQLite's writers do; the second waits for the lock at most the busy timeout, then -EBUSY.
 */
static void
test_one_writer_pg(void **state)
{
	struct fixture *f = *state;
	struct core_error err = { 0 };
	struct store *b = NULL;

	if (!pg_uri)
		skip();
	assert_int_equal(store_open(f->path, &b, &err), 0);
	assert_int_equal(store_begin(f->st), 0);
	assert_int_equal(store_begin(b), -EBUSY);
	assert_false(store_in_transaction(b));
	assert_int_equal(store_commit(f->st), 0);
	assert_int_equal(store_begin(b), 0);
	put_vm(b, "rg1", "vm1");
	assert_int_equal(store_commit(b), 0);
	store_close(b);
}

/*
 * store_begin_try: the writers' lock held by another store's transaction is -EAGAIN at once, with
 * nothing begun; once that one commits, the try begins, and its first log entry follows the other's
 * on the chain (the head read with the lock). SQLite: always begins.
 */
static void
test_begin_try(void **state)
{
	struct fixture *f = *state;
	struct core_error err = { 0 };
	struct store_audit_result res;
	struct store_activity a;
	struct store *b = NULL;

	memset(&a, 0, sizeof(a));
	COPY(a.caller, "token:alice");
	COPY(a.operation, "initiate");
	COPY(a.status, "Succeeded");
	a.time_ns = T0;
	if (!pg_uri) {
		assert_int_equal(store_begin_try(f->st), 0);
		assert_int_equal(store_activity_append(f->st, &a), 0);
		assert_int_equal(store_commit(f->st), 0);
		return;
	}
	assert_int_equal(store_open(f->path, &b, &err), 0);
	assert_int_equal(store_begin(f->st), 0);
	assert_int_equal(store_begin_try(b), -EAGAIN);
	assert_false(store_in_transaction(b));
	assert_int_equal(store_activity_append(f->st, &a), 0);
	assert_int_equal(store_commit(f->st), 0);
	assert_int_equal(store_begin_try(b), 0);
	assert_true(store_in_transaction(b));
	assert_int_equal(store_activity_append(b, &a), 0);
	assert_int_equal(store_activity_append(b, &a), 0);
	assert_int_equal(store_commit(b), 0);
	assert_int_equal(store_begin_try(f->st), 0);
	assert_int_equal(store_activity_append(f->st, &a), 0);
	assert_int_equal(store_commit(f->st), 0);
	assert_int_equal(store_audit_verify(b, 0, &res), 0);
	assert_int_equal(res.fault, STORE_AUDIT_INTACT);
	assert_int_equal(res.chain.head_seq, 4);
	store_close(b);
}

#define CHANGES_WAIT_MS	5000	/* the longest a test waits for an announcement that must come */

/* Does b's store hear of a change within ms (poll on its descriptor)? Takes what came: the highest revision. */
static int64_t
changes_heard(struct store *b, int ms)
{
	struct pollfd p = { .fd = store_changes_fd(b), .events = POLLIN };
	int64_t rev = 0;
	int n;

	assert_true(p.fd >= 0);
	n = store_changes_take(b, &rev);
	if (n == 0 && poll(&p, 1, ms) == 1)
		n = store_changes_take(b, &rev);
	assert_true(n >= 0);
	return n > 0 ? rev : 0;
}

/*
 * A revision given on one store is announced to the others (replicas' watches) when it commits, and
 * only then; a rolled back one never. SQLite announces nothing: its one writer is this process.
 */
static void
test_changes(void **state)
{
	struct fixture *f = *state;
	struct core_error err = { 0 };
	struct store *b = NULL;
	struct store_request req;
	struct store_grant g;
	int64_t vm, pid, rev;

	vm = put_agent_vm(f->st, "rg1", "agent1");
	if (!pg_uri) {
		assert_int_equal(store_changes_fd(f->st), -1);
		assert_int_equal(store_changes_take(f->st, &rev), 0);
		assert_int_equal(rev, 0);
		return;
	}
	assert_int_equal(store_open(f->path, &b, &err), 0);
	changes_heard(b, 0);	/* nothing before it listened counts */

	pid = put_policy(f->st, "p1", "{}", &vm, 1, T0);
	assert_int_equal(store_vm_revision(f->st, vm, &rev), 0);
	assert_int_equal(changes_heard(b, CHANGES_WAIT_MS), rev);

	/* a grant in a transaction: heard at its commit, not before */
	g = make_grant(vm, 22, "198.51.100.7", T0 + MIN);
	make_request(&req, "req-n1", pid, "token:alice", T0, &g, 1);
	assert_int_equal(store_begin(f->st), 0);
	assert_int_equal(store_request_insert(f->st, &req), 0);
	assert_int_equal(changes_heard(b, 200), 0);
	assert_int_equal(store_commit(f->st), 0);
	assert_int_equal(store_vm_revision(f->st, vm, &rev), 0);
	assert_int_equal(changes_heard(b, CHANGES_WAIT_MS), rev);

	/* one rolled back: never */
	make_request(&req, "req-n2", pid, "token:alice", T0, &g, 1);
	assert_int_equal(store_begin(f->st), 0);
	assert_int_equal(store_request_insert(f->st, &req), 0);
	store_rollback(f->st);
	assert_int_equal(changes_heard(b, 200), 0);
	store_close(b);
}

/* Does b's config generation move from g within ms (taking what comes on its descriptor meanwhile)? */
static bool
config_moved(struct store *b, uint64_t g, int ms)
{
	int waited;

	for (waited = 0; waited <= ms; waited += 50) {
		struct pollfd p = { .fd = store_changes_fd(b), .events = POLLIN };
		uint64_t now = g;

		assert_true(store_config_generation(b, &now));
		if (now != g)
			return true;
		poll(&p, 1, 50);
	}
	return false;
}

/*
 * What a replica keeps between requests (api-read-cache.c) stands until a policy, a policy's VMs or a VM's own
 * columns are written: by this store, at once when its commit returns; by another, once announced. A grant,
 * which moves a VM's revision, leaves it. SQLite keeps nothing: it is read each time.
 */
static void
test_config_generation(void **state)
{
	struct fixture *f = *state;
	struct core_error err = { 0 };
	struct store *b = NULL;
	struct store_request req;
	struct store_grant g;
	uint64_t g0 = 0, g1 = 0;
	int64_t vm, pid;

	vm = put_agent_vm(f->st, "rg1", "agent1");
	if (!pg_uri) {
		assert_false(store_config_generation(f->st, &g0));
		return;
	}
	assert_int_equal(store_open(f->path, &b, &err), 0);
	assert_false(store_config_generation(b, &g0));	/* not listening: nothing it kept could be told stale */
	changes_heard(b, 0);
	assert_true(store_config_generation(b, &g0));
	assert_true(store_config_generation(b, &g1));
	assert_true(g1 == g0);

	/* another store's policy: moves once announced */
	pid = put_policy(f->st, "p1", "{}", &vm, 1, T0);
	assert_true(config_moved(b, g0, CHANGES_WAIT_MS));
	assert_true(store_config_generation(b, &g0));

	/* another store's grant: heard (the VM's revision), and what is kept stands */
	g = make_grant(vm, 22, "198.51.100.7", T0 + MIN);
	make_request(&req, "req-c1", pid, "token:alice", T0, &g, 1);
	assert_int_equal(store_request_insert(f->st, &req), 0);
	assert_true(changes_heard(b, CHANGES_WAIT_MS) > 0);
	assert_false(config_moved(b, g0, 200));

	/* another store's VM: moves */
	put_vm(f->st, "rg1", "vm-other");
	assert_true(config_moved(b, g0, CHANGES_WAIT_MS));
	assert_true(store_config_generation(b, &g0));

	/* its own VM: moved when the write returns, nothing waited for */
	put_vm(b, "rg1", "vm-own");
	assert_true(store_config_generation(b, &g1));
	assert_true(g1 != g0);
	store_close(b);
}

/* ---- integrity, read-only, corruption ---- */

static void
test_integrity(void **state)
{
	struct fixture *f = *state;
	int64_t vm = put_vm(f->st, "rg1", "vm1");

	put_policy(f->st, "default", "{}", &vm, 1, T0);
	assert_int_equal(store_check_integrity(f->st), 0);
}

/*
 * Root ignores file modes, so a chmod 0444 would prove nothing here: the
 * read-only case opens the database read-only instead.
 */
static void
test_readonly(void **state)
{
	struct fixture *f = *state;
	struct core_error err = { 0 };
	struct store_vm vm = make_vm("rg1", "vm2", NULL, NULL);
	struct store_token t = make_token("alice", 1);
	struct arm_vm_id arm = vm_arm("rg1", "vm1");
	struct store_activity a;
	struct store_vm got, *list = NULL;
	struct store *ro = NULL;
	int64_t id = -1, vm1;
	size_t n = 0;

	vm1 = put_vm(f->st, "rg1", "vm1");
	store_close(f->st);
	f->st = NULL;

	assert_int_equal(store_open_readonly(f->path, &ro, &err), 0);
	assert_int_equal(store_vm_get(ro, &arm, &got), 0);
	assert_int_equal(store_vm_list(ro, &list, &n), 0);
	assert_int_equal(n, 1);
	free(list);
	assert_int_equal(store_check_integrity(ro), 0);

	assert_int_equal(store_vm_put(ro, &vm, &id, NULL), -EROFS);
	assert_int_equal(id, -1);
	assert_true(store_last_error(ro)[0] != '\0');
	assert_int_equal(store_token_insert(ro, &t), -EROFS);
	memset(&a, 0, sizeof(a));
	assert_int_equal(store_activity_append(ro, &a), -EROFS);
	assert_int_equal(store_vm_delete(ro, vm1), -EROFS);
	assert_int_equal(store_begin(ro), 0);	/* a read transaction is fine */
	assert_int_equal(store_vm_get(ro, &arm, &got), 0);
	store_rollback(ro);
	store_close(ro);

	/* A read-only open neither creates nor migrates. */
	{
		char path[300];

		snprintf(path, sizeof(path), "%s/absent.db", tmpdir);
		assert_true(store_open_readonly(path, &ro, &err) < 0);
		assert_int_equal(access(path, F_OK), -1);
	}
	assert_int_equal(store_open(f->path, &f->st, &err), 0);
}

/* Text in the file longer than its field, or not parsable, is corruption: -EIO, never an overflow. */
/* SQL for a text of n times 'x', in the dialect of the database under test (the buffer is reused). */
static const char *
xs(int n)
{
	static char buf[64];

	snprintf(buf, sizeof(buf), pg_uri ? "repeat('x', %d)" : "printf('%%.*c', %d, 'x')", n);
	return buf;
}

static void
test_corrupt(void **state)
{
	struct fixture *f = *state;
	int64_t vm = put_vm(f->st, "rg1", "vm1");
	struct store_vm got, *list = NULL;
	struct store_token t = make_token("alice", 1), *tl = NULL;
	struct arm_policy_id pa = policy_arm("rg1", "westeurope", "a"), pb = policy_arm("rg1", "westeurope", "b");
	struct store_policy *pl = NULL;
	int64_t pid = 0;
	size_t n = 0;
	char sql[256];

	assert_int_equal(store_token_insert(f->st, &t), 0);
	snprintf(sql, sizeof(sql), "UPDATE vms SET name = %s WHERE id = %lld", xs(ARM_VM_NAME_MAX + 1), (long long)vm);
	raw_exec(f->path, sql);
	assert_int_equal(store_vm_get_by_id(f->st, vm, &got), -EIO);
	assert_true(strstr(store_last_error(f->st), "vms.name") != NULL);
	assert_int_equal(store_vm_list(f->st, &list, &n), -EIO);
	assert_null(list);

	/* Exactly the field's size still fits. */
	snprintf(sql, sizeof(sql), "UPDATE vms SET name = %s WHERE id = %lld", xs(ARM_VM_NAME_MAX), (long long)vm);
	raw_exec(f->path, sql);
	assert_int_equal(store_vm_get_by_id(f->st, vm, &got), 0);
	assert_int_equal(strlen(got.arm.name), ARM_VM_NAME_MAX);

	raw_exec(f->path, "UPDATE vms SET addrs = '192.0.2.1 not-an-address'");
	assert_int_equal(store_vm_get_by_id(f->st, vm, &got), -EIO);
	raw_exec(f->path, "UPDATE vms SET addrs = '1.1.1.1 1.1.1.2 1.1.1.3 1.1.1.4 1.1.1.5 1.1.1.6 1.1.1.7 1.1.1.8 "
	    "1.1.1.9 1.1.1.10 1.1.1.11 1.1.1.12 1.1.1.13 1.1.1.14 1.1.1.15 1.1.1.16 1.1.1.17'");
	assert_int_equal(store_vm_get_by_id(f->st, vm, &got), -EIO);

	/* A hash of the wrong length (the CHECK constraint is bypassed by dropping it via a new table). */
	if (pg_uri)
		raw_exec(f->path, "ALTER TABLE tokens DROP CONSTRAINT tokens_hash_check; UPDATE tokens SET hash = '\\x0102'");
	else
		raw_exec(f->path, "PRAGMA foreign_keys = OFF; CREATE TABLE t2 AS SELECT * FROM tokens; DROP TABLE tokens; "
		    "ALTER TABLE t2 RENAME TO tokens; UPDATE tokens SET hash = x'0102'");
	assert_int_equal(store_token_list(f->st, &tl, &n), -EIO);
	assert_null(tl);

	/* A list that meets a corrupt row after good ones returns none of them and leaks none (the asan build checks). */
	assert_int_equal(store_policy_put(f->st, &pa, "{}", NULL, 0, T0, NULL, NULL), 0);
	assert_int_equal(store_policy_put(f->st, &pb, "{}", NULL, 0, T0, &pid, NULL), 0);
	snprintf(sql, sizeof(sql), "UPDATE policies SET name = %s WHERE id = %lld", xs(ARM_POLICY_NAME_MAX + 1),
	    (long long)pid);
	raw_exec(f->path, sql);
	assert_int_equal(store_policy_list(f->st, &pl, &n), -EIO);
	assert_null(pl);
	assert_true(strstr(store_last_error(f->st), "policies.name") != NULL);
}

struct walk {
	size_t n, stop_after;
	int64_t ends[8];
};

static int
walk_one(void *ctx, const struct store_grant *g)
{
	struct walk *w = ctx;

	if (w->n < 8)
		w->ends[w->n] = g->end_ns;
	w->n++;
	return w->stop_after && w->n >= w->stop_after ? -ECANCELED : 0;
}

/* The expiry timer's queries: due grants, the next end, and one requestor's live grants. */
static void
test_grants_due_and_next(void **state)
{
	struct fixture *f = *state;
	struct store_vm vm = make_vm("rg1", "vm-due", NULL, NULL);
	struct store_request req;
	struct store_grant g[3], *v = NULL;
	int64_t vm_id, next = -1;
	size_t n = 0, i;
	bool created;

	assert_int_equal(store_vm_put(f->st, &vm, &vm_id, &created), 0);
	memset(&req, 0, sizeof(req));
	snprintf(req.id, sizeof(req.id), "req-due");
	snprintf(req.requestor, sizeof(req.requestor), "token:due");
	req.start_ns = 1000;
	memset(g, 0, sizeof(g));
	for (i = 0; i < 3; i++) {
		g[i].vm_id = vm_id;
		g[i].port = (uint16_t)(22 + i);
		g[i].proto = NET_PROTO_TCP;
		g[i].source.any = true;
		g[i].end_ns = 100 * (int64_t)(i + 1);	/* 100, 200, 300 */
	}
	req.grants = g;
	req.n_grants = 3;
	assert_int_equal(store_request_insert(f->st, &req), 0);

	assert_int_equal(store_grants_due(f->st, 200, NULL, 0, &v, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(v[0].end_ns, 100);
	assert_int_equal(v[1].end_ns, 200);
	free(v);
	assert_int_equal(store_grant_next_end(f->st, 200, &next), 0);
	assert_int_equal(next, 300);
	assert_int_equal(store_grant_next_end(f->st, 300, &next), 0);
	assert_int_equal(next, 0);

	/* an ended grant is neither due nor next */
	assert_int_equal(store_grant_end(f->st, "req-due", vm_id, 24, STORE_REASON_EXPIRED, 300), 0);
	assert_int_equal(store_grant_next_end(f->st, 200, &next), 0);
	assert_int_equal(next, 0);

	/* one requestor's live grant on one port: 23 is live, 24 ended, another VM or requestor has none */
	assert_int_equal(store_grants_live_on(f->st, vm_id, 23, "token:due", &v, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].end_ns, 200);
	assert_string_equal(v[0].request_id, "req-due");
	free(v);
	assert_int_equal(store_grants_live_on(f->st, vm_id, 24, "token:due", &v, &n), 0);
	assert_int_equal(n, 0);
	free(v);
	assert_int_equal(store_grants_live_on(f->st, vm_id + 1, 23, "token:due", &v, &n), 0);
	assert_int_equal(n, 0);
	free(v);

	/* the live grants on one port: 22 (end 100) is live; 24 was ended above */
	assert_int_equal(store_grants_live_on(f->st, vm_id, 22, NULL, &v, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].end_ns, 100);
	assert_string_equal(v[0].requestor, "token:due");
	free(v);
	assert_int_equal(store_grants_live_on(f->st, vm_id, 24, NULL, &v, &n), 0);
	assert_int_equal(n, 0);
	free(v);

	/* the live walk: Initiated and ending after the given time, soonest first; a negative return stops it */
	{
		struct walk w = { 0 };

		assert_int_equal(store_grants_live_each(f->st, 100, walk_one, &w), 0);
		assert_int_equal(w.n, 1);	/* 200 (300 is ended, 100 is not after 100) */
		assert_int_equal(w.ends[0], 200);
		w.n = 0;
		assert_int_equal(store_grants_live_each(f->st, 0, walk_one, &w), 0);
		assert_int_equal(w.n, 2);
		assert_int_equal(w.ends[0], 100);
		assert_int_equal(w.ends[1], 200);
		w.n = 0;
		w.stop_after = 1;
		assert_int_equal(store_grants_live_each(f->st, 0, walk_one, &w), -ECANCELED);
		assert_int_equal(w.n, 1);
	}
	assert_int_equal(store_grants_live_on(f->st, vm_id, 23, "token:nobody", &v, &n), 0);
	assert_int_equal(n, 0);
	free(v);

	/* supersede: another requestor, VM or port ends nothing; the requestor's live grant on 23 ends once */
	assert_int_equal(store_grants_supersede(f->st, "token:nobody", vm_id, 23, STORE_REASON_NEWER_REQUEST, 150, &v, &n), 0);
	assert_int_equal(n, 0);
	free(v);
	assert_int_equal(store_grants_supersede(f->st, "token:due", vm_id + 1, 23, STORE_REASON_NEWER_REQUEST, 150, &v, &n), 0);
	assert_int_equal(n, 0);
	free(v);
	assert_int_equal(store_grants_supersede(f->st, "token:due", vm_id, 24, STORE_REASON_NEWER_REQUEST, 150, &v, &n), 0);
	assert_int_equal(n, 0);	/* ended above */
	free(v);
	assert_int_equal(store_grants_supersede(f->st, "token:due", vm_id, 23, STORE_REASON_NEWER_REQUEST, 150, &v, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].request_id, "req-due");
	assert_int_equal(v[0].port, 23);
	assert_int_equal(v[0].end_ns, 200);
	assert_int_equal(v[0].proto, NET_PROTO_TCP);
	assert_true(v[0].source.any);
	assert_string_equal(v[0].requestor, "token:due");
	assert_int_equal(v[0].status, STORE_GRANT_REVOKED);
	assert_int_equal(v[0].ended_ns, 150);
	assert_int_equal(v[0].reason, STORE_REASON_NEWER_REQUEST);
	free(v);
	assert_int_equal(store_grants_live_on(f->st, vm_id, 23, NULL, &v, &n), 0);
	assert_int_equal(n, 0);
	free(v);
	assert_int_equal(store_grants_supersede(f->st, "token:due", vm_id, 23, STORE_REASON_NEWER_REQUEST, 150, &v, &n), 0);
	assert_int_equal(n, 0);
	free(v);
	assert_int_equal(store_grants_supersede(f->st, "token:due", vm_id, 23, STORE_REASON_NONE, 150, &v, &n), -EINVAL);
}

/*
 * Migration 3 on a database written by a jitgate with schema 2: grants gain their
 * request's requestor, so the supersede look-up still finds the live ones.
 */
static void
test_migration_3_from_2(void **state)
{
	struct fixture *f = *state;
	struct core_error err = { 0 };
	struct store_vm vm = make_vm("rg1", "vm-mig", NULL, NULL);
	struct store_request req;
	struct store_grant g[2], *v = NULL;
	int64_t vm_id;
	size_t n = 0;
	bool created;

	SQLITE_ONLY();

	assert_int_equal(store_vm_put(f->st, &vm, &vm_id, &created), 0);
	memset(&req, 0, sizeof(req));
	snprintf(req.id, sizeof(req.id), "req-mig");
	snprintf(req.requestor, sizeof(req.requestor), "token:old");
	memset(g, 0, sizeof(g));
	g[0].vm_id = g[1].vm_id = vm_id;
	g[0].port = 22;
	g[1].port = 3389;
	g[0].proto = g[1].proto = NET_PROTO_TCP;
	g[0].source.any = g[1].source.any = true;
	g[0].end_ns = g[1].end_ns = 5000;
	req.grants = g;
	req.n_grants = 2;
	assert_int_equal(store_request_insert(f->st, &req), 0);
	assert_int_equal(store_grant_end(f->st, "req-mig", vm_id, 3389, STORE_REASON_USER_REQUESTED, 10), 0);
	store_close(f->st);
	f->st = NULL;

	/* back to schema 2: no requestor column on grants, no index of live grants by requestor */
	undo_migration_6(f->path);
	raw_exec(f->path, "DROP INDEX grants_live_requestor");
	raw_exec(f->path, "DROP INDEX grants_live_vm_port");
	raw_exec(f->path, "ALTER TABLE grants DROP COLUMN requestor");
	raw_exec(f->path, "PRAGMA user_version = 2");

	assert_int_equal(store_open(f->path, &f->st, &err), 0);
	assert_int_equal(raw_int(f->path, "PRAGMA user_version"), STORE_SCHEMA_VERSION);	/* and on through the newest */
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM grants WHERE requestor = 'token:old'"), 2);
	assert_int_equal(store_grants_live_on(f->st, vm_id, 22, "token:old", &v, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].port, 22);
	assert_string_equal(v[0].requestor, "token:old");
	free(v);
	assert_int_equal(store_grants_live_on(f->st, vm_id, 3389, "token:old", &v, &n), 0);
	assert_int_equal(n, 0);	/* revoked before the migration */
	free(v);
}

/* A grant's end moves earlier only (a lowered maximum); the reasons added in migration 4 round-trip. */
static void
test_grant_truncate_and_reasons(void **state)
{
	struct fixture *f = *state;
	struct store_vm vm = make_vm("rg1", "vm-cut", NULL, NULL);
	struct store_request req;
	struct store_grant g[3], *v = NULL;
	struct store_request *reqs_out = NULL;
	int64_t vm_id;
	size_t n = 0, i;
	bool created;

	assert_int_equal(store_vm_put(f->st, &vm, &vm_id, &created), 0);
	memset(g, 0, sizeof(g));
	for (i = 0; i < 3; i++) {
		g[i].vm_id = vm_id;
		g[i].port = (uint16_t)(22 + i);
		g[i].proto = NET_PROTO_TCP;
		g[i].source.any = true;
		g[i].end_ns = T0 + 60 * MIN;
	}
	make_request(&req, "req-cut", 1, "token:alice", T0, g, 3);
	assert_int_equal(store_request_insert(f->st, &req), 0);

	assert_int_equal(store_grant_truncate(f->st, "req-cut", vm_id, 22, T0 + 10 * MIN, NULL, 0), 0);
	/* never later, never the same, never an unknown or ended grant */
	assert_int_equal(store_grant_truncate(f->st, "req-cut", vm_id, 22, T0 + 20 * MIN, NULL, 0), -ENOENT);
	assert_int_equal(store_grant_truncate(f->st, "req-cut", vm_id, 22, T0 + 10 * MIN, NULL, 0), -ENOENT);
	assert_int_equal(store_grant_truncate(f->st, "nope", vm_id, 22, T0, NULL, 0), -ENOENT);
	assert_int_equal(store_grant_end(f->st, "req-cut", vm_id, 23, STORE_REASON_TOKEN_REVOKED, T0 + MIN), 0);
	assert_int_equal(store_grant_end(f->st, "req-cut", vm_id, 24, STORE_REASON_POLICY_CHANGED, T0 + MIN), 0);
	assert_int_equal(store_grant_truncate(f->st, "req-cut", vm_id, 23, T0, NULL, 0), -ENOENT);
	assert_int_equal(store_grant_end(f->st, "req-cut", vm_id, 22, (enum store_grant_reason)(STORE_REASON_LAST + 1),
					 T0), -EINVAL);

	assert_int_equal(store_requests_of_policy(f->st, 1, 0, 0, &reqs_out, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(reqs_out[0].n_grants, 3);
	v = reqs_out[0].grants;
	assert_int_equal(v[0].status, STORE_GRANT_INITIATED);
	assert_true(v[0].end_ns == T0 + 10 * MIN);
	assert_int_equal(v[1].status, STORE_GRANT_REVOKED);
	assert_int_equal(v[1].reason, STORE_REASON_TOKEN_REVOKED);
	assert_true(v[1].end_ns == T0 + 60 * MIN);
	assert_int_equal(v[2].reason, STORE_REASON_POLICY_CHANGED);
	store_requests_free(reqs_out, n);
}

/*
 * Issue 11, clock steps: a grant keeps the boot it was made in and its monotonic end. Within that
 * boot it is due once either end has passed; a truncation moves the monotonic end earlier only,
 * and only in its own boot; grants of another boot (or of none) are adopted at start.
 */
#define BOOT_A	"6f1c2a9e-0b7d-4f43-9a55-1c7e2d3b4a5f"
#define BOOT_B	"0d3e4f5a-6b7c-4d8e-9fa0-b1c2d3e4f5a6"
#define MONO	(5000LL * 1000000000LL)

static void
test_grants_monotonic_end(void **state)
{
	struct fixture *f = *state;
	struct store_vm vm = make_vm("rg1", "vm-mono", NULL, NULL);
	struct store_request req;
	struct store_grant g[4], *v = NULL;
	int64_t vm_id, next;
	size_t n = 0, i;
	bool created;

	assert_int_equal(store_vm_put(f->st, &vm, &vm_id, &created), 0);
	memset(g, 0, sizeof(g));
	for (i = 0; i < 4; i++) {
		g[i].vm_id = vm_id;
		g[i].port = (uint16_t)(22 + i);
		g[i].proto = NET_PROTO_TCP;
		g[i].source.any = true;
		g[i].end_ns = T0 + 15 * 1000000000LL;	/* 15 s from T0 */
	}
	/* 22 and 23 made in boot A at MONO, 24 in boot B, 25 before migration 5 (no boot) */
	snprintf(g[0].boot_id, sizeof(g[0].boot_id), BOOT_A);
	snprintf(g[1].boot_id, sizeof(g[1].boot_id), BOOT_A);
	snprintf(g[2].boot_id, sizeof(g[2].boot_id), BOOT_B);
	g[0].mono_end_ns = g[1].mono_end_ns = g[2].mono_end_ns = MONO + 15 * 1000000000LL;
	g[1].mono_end_ns = MONO + 30 * 1000000000LL;	/* 23: a later monotonic end (say, a step forward) */
	make_request(&req, "req-mono", 1, "token:m", T0, g, 4);
	/* a boot without a monotonic end, or a monotonic end without a boot, is refused */
	g[3].mono_end_ns = 7;
	assert_int_equal(store_request_insert(f->st, &req), -EINVAL);
	g[3].mono_end_ns = 0;
	assert_int_equal(store_request_insert(f->st, &req), 0);

	/* they round-trip */
	assert_int_equal(store_grants_live_on(f->st, vm_id, 22, NULL, &v, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].boot_id, BOOT_A);
	assert_true(v[0].mono_end_ns == MONO + 15 * 1000000000LL);
	free(v);
	assert_int_equal(store_grants_live_on(f->st, vm_id, 25, NULL, &v, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].boot_id, "");
	assert_true(v[0].mono_end_ns == 0);
	free(v);

	/* an hour back by the wall clock, 16 s in by the monotonic one, in boot A: 22 is due, nothing else */
	assert_int_equal(store_grants_due(f->st, T0 - 60 * MIN + 16 * 1000000000LL, BOOT_A, MONO + 16 * 1000000000LL,
					  &v, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].port, 22);
	free(v);
	/* in another boot, or with the boot unknown, only the wall clock counts */
	assert_int_equal(store_grants_due(f->st, T0 - 60 * MIN, "", MONO + 3600 * 1000000000LL, &v, &n), 0);
	assert_int_equal(n, 0);
	free(v);
	assert_int_equal(store_grants_due(f->st, T0 - 60 * MIN, NULL, MONO + 3600 * 1000000000LL, &v, &n), 0);
	assert_int_equal(n, 0);
	free(v);
	assert_int_equal(store_grants_due(f->st, T0 + 15 * 1000000000LL, NULL, 0, &v, &n), 0);
	assert_int_equal(n, 4);
	free(v);
	/* the next monotonic end in boot A */
	assert_int_equal(store_grant_next_mono_end(f->st, BOOT_A, MONO, &next), 0);
	assert_true(next == MONO + 15 * 1000000000LL);
	assert_int_equal(store_grant_next_mono_end(f->st, BOOT_A, MONO + 15 * 1000000000LL, &next), 0);
	assert_true(next == MONO + 30 * 1000000000LL);
	assert_int_equal(store_grant_next_mono_end(f->st, "", MONO, &next), 0);
	assert_true(next == 0);

	/* truncation: 23's monotonic end moves earlier, never later, and only in its boot */
	assert_int_equal(store_grant_truncate(f->st, "req-mono", vm_id, 23, T0 + 10 * 1000000000LL, BOOT_A,
					      MONO + 10 * 1000000000LL), 0);
	assert_int_equal(store_grant_truncate(f->st, "req-mono", vm_id, 22, T0 + 10 * 1000000000LL, BOOT_A,
					      MONO + 3600 * 1000000000LL), 0);
	assert_int_equal(store_grant_truncate(f->st, "req-mono", vm_id, 24, T0 + 10 * 1000000000LL, BOOT_A,
					      MONO + 1 * 1000000000LL), 0);
	assert_int_equal(store_grants_live_on(f->st, vm_id, 23, NULL, &v, &n), 0);
	assert_true(v[0].end_ns == T0 + 10 * 1000000000LL && v[0].mono_end_ns == MONO + 10 * 1000000000LL);
	free(v);
	assert_int_equal(store_grants_live_on(f->st, vm_id, 22, NULL, &v, &n), 0);
	assert_true(v[0].end_ns == T0 + 10 * 1000000000LL && v[0].mono_end_ns == MONO + 15 * 1000000000LL);
	free(v);
	/* an end already past (a close journal replayed late) is still a monotonic end, never "not known" */
	assert_int_equal(store_grant_truncate(f->st, "req-mono", vm_id, 22, T0 + 9 * 1000000000LL, BOOT_A, -5), 0);
	assert_int_equal(store_grants_live_on(f->st, vm_id, 22, NULL, &v, &n), 0);
	assert_true(v[0].mono_end_ns == 1);
	free(v);
	assert_int_equal(store_grants_live_on(f->st, vm_id, 24, NULL, &v, &n), 0);
	assert_true(v[0].mono_end_ns == MONO + 15 * 1000000000LL);	/* boot B's clock: untouched */
	assert_string_equal(v[0].boot_id, BOOT_B);
	free(v);

	/* a start in boot B, 8 s before the wall-clock end (23 ended): live grants of other boots get B's clock */
	assert_int_equal(store_grant_end(f->st, "req-mono", vm_id, 23, STORE_REASON_USER_REQUESTED, T0), 0);
	/* 22 (of boot A) and 25 (of none) */
	assert_int_equal(store_grants_adopt_boot(f->st, BOOT_B, T0 + 7 * 1000000000LL, 1000), 2);
	assert_int_equal(store_grants_live_on(f->st, vm_id, 25, NULL, &v, &n), 0);
	assert_string_equal(v[0].boot_id, BOOT_B);
	assert_true(v[0].mono_end_ns == 1000 + 8 * 1000000000LL);
	free(v);
	assert_int_equal(store_grants_live_on(f->st, vm_id, 24, NULL, &v, &n), 0);
	assert_true(v[0].mono_end_ns == MONO + 15 * 1000000000LL);	/* already of boot B: as it was */
	free(v);
	assert_int_equal(store_grants_adopt_boot(f->st, BOOT_B, T0 + 7 * 1000000000LL, 1000), 0);
	assert_int_equal(store_grants_adopt_boot(f->st, "", T0, 1000), -EINVAL);
}

/*
 * Migration 5 on a database of schema 4: grants stored before have no boot and no monotonic
 * end, and are due by the wall clock alone.
 */
static void
test_migration_5_from_4(void **state)
{
	struct fixture *f = *state;
	struct core_error err = { 0 };
	struct store_vm vm = make_vm("rg1", "vm-mig5", NULL, NULL);
	struct store_request req;
	struct store_grant g, *v = NULL;
	int64_t vm_id;
	size_t n = 0;
	bool created;

	SQLITE_ONLY();

	assert_int_equal(store_vm_put(f->st, &vm, &vm_id, &created), 0);
	memset(&g, 0, sizeof(g));
	g.vm_id = vm_id;
	g.port = 22;
	g.proto = NET_PROTO_TCP;
	g.source.any = true;
	g.end_ns = T0;
	make_request(&req, "req-mig5", 1, "token:old", T0 - MIN, &g, 1);
	assert_int_equal(store_request_insert(f->st, &req), 0);
	store_close(f->st);
	f->st = NULL;

	undo_migration_6(f->path);
	raw_exec(f->path, "DROP INDEX grants_live_mono_end");
	raw_exec(f->path, "ALTER TABLE grants DROP COLUMN mono_end_ns");
	raw_exec(f->path, "ALTER TABLE grants DROP COLUMN boot");
	raw_exec(f->path, "PRAGMA user_version = 4");

	assert_int_equal(store_open(f->path, &f->st, &err), 0);
	assert_int_equal(raw_int(f->path, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM grants WHERE boot = '' AND mono_end_ns = 0"), 1);
	assert_int_equal(store_grants_due(f->st, T0 - 1, BOOT_A, INT64_MAX, &v, &n), 0);
	assert_int_equal(n, 0);
	free(v);
	assert_int_equal(store_grants_due(f->st, T0, BOOT_A, 0, &v, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].boot_id, "");
	free(v);
}

/* store_generation() moves on every write and every undo, and not on reads. */
static void
test_generation(void **state)
{
	struct fixture *f = *state;
	struct arm_vm_id arm = vm_arm("rg1", "vm-gen"), arm2 = vm_arm("rg1", "vm-gen2");
	struct store_token *tl = NULL;
	struct store_vm got;
	uint64_t g0, g1, g2, g3;
	size_t n = 0;

	put_vm(f->st, "rg1", "vm-gen");
	g0 = store_generation(f->st);
	assert_int_equal(store_vm_get(f->st, &arm, &got), 0);
	assert_int_equal(store_token_list(f->st, &tl, &n), 0);
	free(tl);
	assert_true(store_generation(f->st) == g0);

	put_vm(f->st, "rg1", "vm-gen1");
	g1 = store_generation(f->st);
	assert_true(g1 > g0);

	/* a write inside a transaction counts at once, and its rollback counts again */
	assert_int_equal(store_begin(f->st), 0);
	put_vm(f->st, "rg1", "vm-gen2");
	g2 = store_generation(f->st);
	assert_true(g2 > g1);
	store_rollback(f->st);
	g3 = store_generation(f->st);
	assert_true(g3 > g2);
	assert_int_equal(store_vm_get(f->st, &arm2, &got), -ENOENT);
}

/* ---- the fleet: revisions, join tokens, agents ---- */

static int64_t
revision(struct store *st, int64_t vm_id)
{
	int64_t rev = -1;

	assert_int_equal(store_vm_revision(st, vm_id, &rev), 0);
	return rev;
}

/*
 * Every write that touches an agent VM moves its revision up, in the write's own transaction; others' writes
 * do not, and the revisions of local and gateway VMs (never watched) stay 0.
 */
static void
test_vm_revision(void **state)
{
	struct fixture *f = *state;
	struct arm_policy_id parm = policy_arm("rg1", "westeurope", "p-rev");
	int64_t a = put_agent_vm(f->st, "rg1", "vm-rev-a"), b = put_agent_vm(f->st, "rg1", "vm-rev-b"), pid;
	int64_t gw = put_vm(f->st, "rg1", "vm-rev-gw"), all[3] = { a, b, gw };
	struct store_grant g = make_grant(a, 22, "10.0.0.1", T0 + 60 * MIN);
	struct store_vm_change *ch = NULL;
	struct store_request req;
	struct store_vm vm;
	int64_t ra, rb, rev, fleet, mark;
	size_t n = 0;

	assert_int_equal(revision(f->st, a), 0);
	assert_int_equal(store_fleet_revision(f->st, &fleet), 0);
	assert_int_equal(fleet, 0);
	assert_int_equal(store_vm_revision(f->st, 999999, &rev), -ENOENT);
	assert_int_equal(store_policy_put(f->st, &parm, "{\"v\":1}", all, 3, T0, &pid, NULL), 0);
	ra = revision(f->st, a);
	assert_true(ra > 0);				/* joined a policy */
	assert_int_equal(store_policy_put(f->st, &parm, "{\"v\":2}", all, 3, T0, &pid, NULL), 0);
	assert_true(revision(f->st, a) > ra);		/* the policy's rules changed */
	ra = revision(f->st, a);
	rb = revision(f->st, b);
	assert_int_equal(store_fleet_revision(f->st, &mark), 0);
	assert_true(mark >= ra && mark >= rb);

	make_request(&req, "req-rev", pid, "token:alice", T0, &g, 1);
	assert_int_equal(store_request_insert(f->st, &req), 0);
	assert_true(revision(f->st, a) > ra);
	assert_int_equal(revision(f->st, b), rb);	/* not touched */
	ra = revision(f->st, a);
	assert_int_equal(raw_int(f->path, "SELECT revision FROM grants WHERE request_id = 'req-rev'"), ra);
	/* what changed since the mark: a alone, at its new revision */
	assert_int_equal(store_vms_changed(f->st, mark, &ch, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(ch[0].vm_id, a);
	assert_int_equal(ch[0].revision, ra);
	free(ch);

	assert_int_equal(store_grant_truncate(f->st, "req-rev", a, 22, T0 + 30 * MIN, "", 0), 0);
	assert_true(revision(f->st, a) > ra);
	ra = revision(f->st, a);
	assert_int_equal(store_grant_end(f->st, "req-rev", a, 22, STORE_REASON_USER_REQUESTED, T0 + MIN), 0);
	assert_true(revision(f->st, a) > ra);
	ra = revision(f->st, a);

	/* a rolled-back write leaves the revision where it was */
	assert_int_equal(store_begin(f->st), 0);
	assert_int_equal(store_vm_get_by_id(f->st, a, &vm), 0);
	COPY(vm.os_type, "Windows");
	assert_int_equal(store_vm_put(f->st, &vm, &rev, NULL), 0);
	assert_true(revision(f->st, a) > ra);
	store_rollback(f->st);
	assert_int_equal(revision(f->st, a), ra);

	/* a deleted VM takes no revision back: the next change is still above every one seen */
	assert_int_equal(store_policy_delete(f->st, pid), 0);
	assert_true(revision(f->st, a) > ra);		/* left its policy */
	assert_true(revision(f->st, b) > rb);
	assert_int_equal(store_fleet_revision(f->st, &mark), 0);
	assert_int_equal(store_vm_delete(f->st, b), 0);
	assert_int_equal(store_vm_get_by_id(f->st, a, &vm), 0);
	COPY(vm.os_type, "Windows");
	assert_int_equal(store_vm_put(f->st, &vm, &rev, NULL), 0);
	assert_int_equal(revision(f->st, a), mark + 1);
	assert_int_equal(revision(f->st, gw), 0);	/* through all of it */
}

/*
 * A revoke with terminateSessions of an agent VM's grant is kept with the VM's revision after the revoke
 * (in the revoke's transaction: a rollback keeps none); another VM's is not kept; the newest
 * STORE_TERMINATIONS_MAX within STORE_TERMINATION_KEEP_NS are read back; a deleted VM takes its own along.
 */
static void
test_terminations(void **state)
{
	struct fixture *f = *state;
	int64_t a = put_agent_vm(f->st, "rg1", "vm-term-a"), gw = put_vm(f->st, "rg1", "vm-term-gw"), all[2] = { a, gw };
	size_t many = STORE_TERMINATIONS_MAX + 1, n = 0, i;
	struct store_grant *g = calloc(many + 1, sizeof(*g));
	struct store_termination *t = NULL;
	struct store_request req;
	int64_t pid, ra;

	assert_non_null(g);
	pid = put_policy(f->st, "p-term", "{}", all, 2, T0);
	for (i = 0; i < many; i++)
		g[i] = make_grant(a, (uint16_t)(1000 + i), "10.0.0.0/24", T0 + 60 * MIN);
	g[many] = make_grant(gw, 22, "10.0.0.1", T0 + 60 * MIN);
	make_request(&req, "req-term", pid, "token:alice", T0, g, many + 1);
	assert_int_equal(store_request_insert(f->st, &req), 0);

	assert_int_equal(store_begin(f->st), 0);
	assert_int_equal(store_grant_end(f->st, "req-term", a, 1000, STORE_REASON_USER_REQUESTED, T0 + MIN), 0);
	assert_int_equal(store_termination_add(f->st, "req-term", a, 1000, T0 + MIN), 1);
	assert_int_equal(store_commit(f->st), 0);
	ra = revision(f->st, a);
	assert_int_equal(store_terminations_of_vm(f->st, a, T0 + MIN, &t, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(t[0].request_id, "req-term");
	assert_int_equal(t[0].port, 1000);
	assert_int_equal(t[0].proto, NET_PROTO_TCP);
	assert_int_equal(t[0].source.prefix.len, 24);
	assert_int_equal(t[0].revision, ra);	/* the revision the revoke moved the VM to */
	free(t);

	/* a gateway VM has no agent: nothing kept; nor for a grant that is not there */
	assert_int_equal(store_grant_end(f->st, "req-term", gw, 22, STORE_REASON_USER_REQUESTED, T0 + MIN), 0);
	assert_int_equal(store_termination_add(f->st, "req-term", gw, 22, T0 + MIN), 0);
	assert_int_equal(store_termination_add(f->st, "req-none", a, 1000, T0 + MIN), 0);
	assert_int_equal(store_terminations_of_vm(f->st, gw, T0 + MIN, &t, &n), 0);
	assert_int_equal(n, 0);
	free(t);
	assert_int_equal(store_termination_add(f->st, "req-term", a, 0, T0 + MIN), -EINVAL);

	/* rolled back with the revoke */
	assert_int_equal(store_begin(f->st), 0);
	assert_int_equal(store_grant_end(f->st, "req-term", a, 1001, STORE_REASON_USER_REQUESTED, T0 + MIN), 0);
	assert_int_equal(store_termination_add(f->st, "req-term", a, 1001, T0 + MIN), 1);
	store_rollback(f->st);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM terminations"), 1);

	/* past the keep, it is no longer read */
	assert_int_equal(store_terminations_of_vm(f->st, a, T0 + MIN + STORE_TERMINATION_KEEP_NS + 1, &t, &n), 0);
	assert_int_equal(n, 0);
	free(t);

	/* one more than the count: the oldest goes */
	for (i = 1; i < many; i++) {
		assert_int_equal(store_grant_end(f->st, "req-term", a, (uint16_t)(1000 + i), STORE_REASON_USER_REQUESTED,
						 T0 + 2 * MIN), 0);
		assert_int_equal(store_termination_add(f->st, "req-term", a, (uint16_t)(1000 + i), T0 + 2 * MIN), 1);
	}
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM terminations"), STORE_TERMINATIONS_MAX);
	assert_int_equal(store_terminations_of_vm(f->st, a, T0 + 2 * MIN, &t, &n), 0);
	assert_int_equal(n, STORE_TERMINATIONS_MAX);
	assert_int_equal(t[0].port, 1001);	/* oldest first, 1000 forgotten */
	assert_int_equal(t[n - 1].port, 1000 + STORE_TERMINATIONS_MAX);
	assert_true(t[0].revision < t[n - 1].revision);
	free(t);

	assert_int_equal(store_policy_delete(f->st, pid), 0);
	assert_int_equal(store_vm_delete(f->st, a), 0);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM terminations"), 0);
	free(g);
}

static struct store_join_token
make_join(const char *id, uint8_t seed, int64_t uses, int64_t expires)
{
	struct store_join_token t;

	memset(&t, 0, sizeof(t));
	COPY(t.id, id);
	memset(t.hash, seed, sizeof(t.hash));
	COPY(t.subscription, SUB);
	COPY(t.resource_group, "rg-fleet");
	t.uses_left = uses;
	t.expires_ns = expires;
	t.created_ns = T0;
	COPY(t.created_by, "token:owner");
	return t;
}

/* A join token is spent one use at a time; used up, expired, revoked and unknown ones are told apart. */
static void
test_join_tokens(void **state)
{
	struct fixture *f = *state;
	struct store_join_token t = make_join("j1", 1, 2, T0 + 60 * MIN), got, *v = NULL;
	uint8_t unknown[STORE_TOKEN_HASH_LEN];
	size_t n = 0;

	assert_int_equal(store_join_token_insert(f->st, &t), 0);
	assert_int_equal(store_join_token_insert(f->st, &t), -EEXIST);
	t = make_join("j0", 2, 0, T0 + MIN);
	assert_int_equal(store_join_token_insert(f->st, &t), -EINVAL);	/* no uses: refused */
	t = make_join("j1", 1, 2, T0 + 60 * MIN);

	assert_int_equal(store_join_token_use(f->st, t.hash, T0, &got), 0);
	assert_string_equal(got.id, "j1");
	assert_string_equal(got.resource_group, "rg-fleet");
	assert_int_equal(store_join_token_use(f->st, t.hash, T0, &got), 0);
	assert_int_equal(store_join_token_use(f->st, t.hash, T0, &got), -EDQUOT);
	assert_int_equal(store_join_token_list(f->st, &v, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].uses_left, 0);
	free(v);

	t = make_join("j2", 3, 5, T0 + MIN);
	assert_int_equal(store_join_token_insert(f->st, &t), 0);
	assert_int_equal(store_join_token_use(f->st, t.hash, T0 + MIN, &got), -EKEYEXPIRED);
	assert_int_equal(store_join_token_revoke(f->st, "j2", T0), 0);
	assert_int_equal(store_join_token_revoke(f->st, "j2", T0), -ENOENT);
	assert_int_equal(store_join_token_use(f->st, t.hash, T0, &got), -EKEYREVOKED);
	memset(unknown, 9, sizeof(unknown));
	assert_int_equal(store_join_token_use(f->st, unknown, T0, &got), -ENOENT);
	assert_int_equal(raw_int(f->path, "SELECT uses_left FROM join_tokens WHERE id = 'j2'"), 5);	/* nothing spent */
}

/* One valid agent per VM; revoke, re-join, rotation; a report marks grants applied up to its revision. */
static void
test_agents(void **state)
{
	struct fixture *f = *state;
	int64_t vm = put_agent_vm(f->st, "rg1", "vm-agent"), rev;
	uint8_t h1[STORE_TOKEN_HASH_LEN], h2[STORE_TOKEN_HASH_LEN], h3[STORE_TOKEN_HASH_LEN];
	struct store_grant g[2] = { make_grant(vm, 22, "10.0.0.1", T0 + 60 * MIN),
				    make_grant(vm, 3389, "10.0.0.1", T0 + 60 * MIN) };
	struct store_agent_report rep;
	struct store_request req;
	struct store_agent a, *v = NULL;
	size_t n = 0;

	memset(h1, 1, sizeof(h1));
	memset(h2, 2, sizeof(h2));
	memset(h3, 3, sizeof(h3));
	assert_int_equal(store_agent_join(f->st, vm, h1, "j1", T0), 0);
	assert_int_equal(store_agent_join(f->st, vm, h2, "j1", T0), -EEXIST);	/* no takeover */
	assert_int_equal(store_agent_find(f->st, h2, &a), -ENOENT);
	assert_int_equal(store_agent_find(f->st, h1, &a), 0);
	assert_int_equal(a.vm_id, vm);
	assert_int_equal(a.report.applied_revision, -1);
	assert_int_equal(a.seen_ns, 0);

	/* rotation: the old credential works until the new one is used, then never again */
	assert_int_equal(store_agent_rotate(f->st, vm, h2), 0);
	assert_int_equal(store_agent_find(f->st, h1, &a), 0);
	assert_true(a.has_prev);
	assert_int_equal(store_agent_find(f->st, h2, &a), 0);
	assert_false(a.has_prev);
	assert_int_equal(store_agent_find(f->st, h1, &a), -ENOENT);

	/* a report acknowledges revisions: grants made at or before it are applied, later ones not yet */
	make_request(&req, "req-ag1", 1, "token:alice", T0, &g[0], 1);
	assert_int_equal(store_request_insert(f->st, &req), 0);
	rev = revision(f->st, vm);
	make_request(&req, "req-ag2", 1, "token:alice", T0, &g[1], 1);
	assert_int_equal(store_request_insert(f->st, &req), 0);
	memset(&rep, 0, sizeof(rep));
	rep.applied_revision = rev;
	COPY(rep.version, "0.9.0");
	rep.supported = true;
	COPY(rep.listening, "TCP/22");
	rep.tamper_undone = 2;
	assert_int_equal(store_agent_report(f->st, vm, &rep, T0 + MIN), 0);
	assert_int_equal(raw_int(f->path, "SELECT applied_ns FROM grants WHERE request_id = 'req-ag1'"), T0 + MIN);
	assert_int_equal(raw_int(f->path, "SELECT applied_ns FROM grants WHERE request_id = 'req-ag2'"), 0);
	assert_int_equal(revision(f->st, vm), rev + 1);	/* acknowledging is no change to watch */
	rep.applied_revision = rev + 1;
	assert_int_equal(store_agent_report(f->st, vm, &rep, T0 + 2 * MIN), 0);
	assert_int_equal(raw_int(f->path, "SELECT applied_ns FROM grants WHERE request_id = 'req-ag1'"), T0 + MIN);
	assert_int_equal(raw_int(f->path, "SELECT applied_ns FROM grants WHERE request_id = 'req-ag2'"), T0 + 2 * MIN);
	assert_int_equal(store_agent_get(f->st, vm, &a), 0);
	assert_int_equal(a.seen_ns, T0 + 2 * MIN);
	assert_string_equal(a.report.version, "0.9.0");
	assert_string_equal(a.report.listening, "TCP/22");
	assert_int_equal(a.report.tamper_undone, 2);

	/* revoked: found (the caller refuses it), no reports, and a new join may replace it */
	assert_int_equal(store_agent_revoke(f->st, vm, T0 + 3 * MIN), 0);
	assert_int_equal(store_agent_revoke(f->st, vm, T0 + 3 * MIN), -ENOENT);
	assert_int_equal(store_agent_rotate(f->st, vm, h1), -ENOENT);
	assert_int_equal(store_agent_find(f->st, h2, &a), 0);
	assert_int_equal(a.revoked_ns, T0 + 3 * MIN);
	assert_int_equal(store_agent_report(f->st, vm, &rep, T0 + 4 * MIN), -ENOENT);
	assert_int_equal(store_agent_join(f->st, vm, h3, "j2", T0 + 5 * MIN), 0);
	assert_int_equal(store_agent_find(f->st, h2, &a), -ENOENT);
	assert_int_equal(store_agent_list(f->st, &v, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].join_token, "j2");
	assert_int_equal(v[0].revoked_ns, 0);
	free(v);
}

/* Migration 6 keeps every VM's id, its policy links and the AUTOINCREMENT high-water mark. */
static void
test_migration_6_from_5(void **state)
{
	struct fixture *f = *state;
	struct core_error err = { 0 };
	int64_t a = put_vm(f->st, "rg1", "vm-m6a"), b = put_vm(f->st, "rg1", "vm-m6b"), pid, c, owner;

	SQLITE_ONLY();

	pid = put_policy(f->st, "p-m6", "{}", &a, 1, T0);
	assert_int_equal(store_vm_delete(f->st, b), 0);	/* the highest id, gone */
	store_close(f->st);
	f->st = NULL;
	undo_migration_6(f->path);
	raw_exec(f->path, "PRAGMA user_version = 5");

	assert_int_equal(store_open(f->path, &f->st, &err), 0);
	assert_int_equal(raw_int(f->path, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
	assert_int_equal(store_policy_of_vm(f->st, a, &owner), 0);
	assert_int_equal(owner, pid);
	assert_int_equal(revision(f->st, a), 0);
	c = put_vm(f->st, "rg1", "vm-m6c");
	assert_true(c > b);				/* b's id is not handed out again */
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM sqlite_master WHERE name = 'vms_new' OR "
	    "name = 'policy_vms_kept'"), 0);
	assert_int_equal(store_check_integrity(f->st), 0);
}

/* An activity entry of this operation and status, appended. */
static void
append_entry(struct store *st, const char *operation, const char *status, const char *detail)
{
	struct store_activity a;

	memset(&a, 0, sizeof(a));
	a.time_ns = T0;
	snprintf(a.caller, sizeof(a.caller), "token:alice");
	snprintf(a.operation, sizeof(a.operation), "%s", operation);
	snprintf(a.status, sizeof(a.status), "%s", status);
	snprintf(a.detail, sizeof(a.detail), "%s", detail);
	assert_int_equal(store_activity_append(st, &a), 0);
}

/*
 * The webhook outbox: an entry that is an event is queued, in its own transaction, for each hook
 * that takes it (one event id for all); a rollback takes it back; one claim wins; a full outbox
 * counts instead of queueing, and the entry is still written.
 */
static void
test_webhook_outbox(void **state)
{
	struct fixture *f = *state;
	const struct store_outbox_route routes[] = { { "a", 1u << WEBHOOK_EV_OPENED }, { "b", WEBHOOK_EVENTS_ALL } };
	struct store_delivery da, db, d2;
	struct store_hook_state hs;
	char sql[512];
	int64_t n = 0;

	append_entry(f->st, RBAC_POLICY_INITIATE, "Succeeded", "before any route");
	assert_int_equal(store_outbox_routes_set(f->st, routes, 2), 0);
	assert_int_equal(store_outbox_head(f->st, "a", &da), -ENOENT);
	append_entry(f->st, RBAC_POLICY_INITIATE, "Failed", "no event");
	append_entry(f->st, RBAC_POLICY_INITIATE, "Succeeded", "opened 1");
	append_entry(f->st, "Expire", "Expired", "expired 1");
	assert_true(store_outbox_added_take(f->st));
	assert_false(store_outbox_added_take(f->st));
	assert_int_equal(store_outbox_count(f->st, "a", &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(store_outbox_count(f->st, "b", &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(store_outbox_head(f->st, "a", &da), 0);
	assert_int_equal(store_outbox_head(f->st, "b", &db), 0);
	assert_string_equal(da.event, "opened");
	assert_string_equal(da.activity.detail, "opened 1");
	assert_string_equal(da.event_id, db.event_id);
	assert_int_equal(strlen(da.event_id), STORE_EVENT_ID_LEN);
	assert_int_equal(da.activity.id, db.activity.id);

	/* an entry undone with its transaction takes its event along */
	assert_int_equal(store_begin(f->st), 0);
	append_entry(f->st, RBAC_POLICY_INITIATE, "Succeeded", "undone");
	store_rollback(f->st);
	assert_int_equal(store_outbox_count(f->st, "a", &n), 0);
	assert_int_equal(n, 1);

	/* one claim wins until its lease ends; a retry waits until next_ns; delivered goes */
	assert_int_equal(store_outbox_claim(f->st, da.id, T0, T0 + 100), 0);
	assert_int_equal(store_outbox_claim(f->st, da.id, T0 + 50, T0 + 150), -ENOENT);
	assert_int_equal(store_outbox_retry(f->st, da.id, 1, T0 + 1000), 0);
	assert_int_equal(store_outbox_claim(f->st, da.id, T0 + 500, T0 + 600), -ENOENT);
	assert_int_equal(store_outbox_head(f->st, "a", &d2), 0);
	assert_int_equal(d2.attempts, 1);
	assert_int_equal(d2.next_ns, T0 + 1000);
	assert_int_equal(store_outbox_claim(f->st, da.id, T0 + 1000, T0 + 1100), 0);
	assert_int_equal(store_outbox_delivered(f->st, "a", da.id), 0);
	assert_int_equal(store_outbox_head(f->st, "a", &d2), -ENOENT);
	assert_int_equal(store_outbox_head(f->st, "b", &d2), 0);
	assert_int_equal(d2.id, db.id);			/* b keeps its own copy, first in its order */

	/* a hook's state */
	assert_int_equal(store_hook_state_get(f->st, "a", &hs), 0);
	assert_false(hs.failing);
	hs.failing = true;
	hs.failures = 3;
	snprintf(hs.last_error, sizeof(hs.last_error), "HTTP status 503");
	assert_int_equal(store_hook_state_put(f->st, "a", &hs), 0);
	memset(&hs, 0, sizeof(hs));
	assert_int_equal(store_hook_state_get(f->st, "a", &hs), 0);
	assert_true(hs.failing);
	assert_int_equal(hs.failures, 3);
	assert_string_equal(hs.last_error, "HTTP status 503");

	/*
	 * full: b holds STORE_OUTBOX_MAX (rows added behind the store's back, then counted again as at
	 * start), the next event for b is dropped (counted), a still gets it
	 */
	snprintf(sql, sizeof(sql), "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < %d) "
		 "INSERT INTO webhook_outbox (hook, event_id, event, activity_id) SELECT 'b', 'fill', 'tampering undone', "
		 "%lld FROM c", STORE_OUTBOX_MAX - 2, (long long)db.activity.id);
	if (pg_uri)
		pg_raw(pg_uri, sql, false);
	else
		raw_exec(f->path, sql);
	assert_int_equal(store_outbox_count(f->st, "b", &n), 0);
	assert_int_equal(n, 2);				/* the counter, not a scan */
	assert_int_equal(store_outbox_routes_set(f->st, routes, 2), 0);
	assert_int_equal(store_outbox_count(f->st, "b", &n), 0);
	assert_int_equal(n, STORE_OUTBOX_MAX);
	append_entry(f->st, RBAC_POLICY_INITIATE, "Succeeded", "opened when b is full");
	assert_int_equal(store_outbox_count(f->st, "b", &n), 0);
	assert_int_equal(n, STORE_OUTBOX_MAX);
	assert_int_equal(store_outbox_count(f->st, "a", &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(store_hook_state_get(f->st, "b", &hs), 0);
	assert_int_equal(hs.dropped, 1);
	assert_true(hs.failing == false);

	/* no routes: nothing more is queued */
	assert_int_equal(store_outbox_routes_set(f->st, NULL, 0), 0);
	append_entry(f->st, RBAC_POLICY_INITIATE, "Succeeded", "after");
	assert_int_equal(store_outbox_count(f->st, "a", &n), 0);
	assert_int_equal(n, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_reopen_pg, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_standby, setup, teardown),
		cmocka_unit_test(test_open_errors),
		cmocka_unit_test_setup_teardown(test_vm_addresses_unique, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vm_crud, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vm_delete_busy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_policy_put, setup, teardown),
		cmocka_unit_test_setup_teardown(test_policy_conflict, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dnat_ports_unique, setup, teardown),
		cmocka_unit_test_setup_teardown(test_claim_sole, setup, teardown),
		cmocka_unit_test_setup_teardown(test_policy_delete_cascade, setup, teardown),
		cmocka_unit_test_setup_teardown(test_requests, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vm_usage, setup, teardown),
		cmocka_unit_test_setup_teardown(test_activity, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tokens, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sessions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transaction, setup, teardown),
		cmocka_unit_test_setup_teardown(test_savepoint_in_transaction, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_statement_in_transaction, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mark_all_or_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mark_held_writes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_supersede_held, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mark_held_overflow, setup, teardown),
		cmocka_unit_test_setup_teardown(test_request_as_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_connection_lost_pg, setup, teardown),
		cmocka_unit_test_setup_teardown(test_one_writer_pg, setup, teardown),
		cmocka_unit_test_setup_teardown(test_begin_try, setup, teardown),
		cmocka_unit_test_setup_teardown(test_changes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_config_generation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_integrity, setup, teardown),
		cmocka_unit_test_setup_teardown(test_readonly, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_grants_due_and_next, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migration_3_from_2, setup, teardown),
		cmocka_unit_test_setup_teardown(test_grant_truncate_and_reasons, setup, teardown),
		cmocka_unit_test_setup_teardown(test_generation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_grants_monotonic_end, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migration_5_from_4, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vm_revision, setup, teardown),
		cmocka_unit_test_setup_teardown(test_terminations, setup, teardown),
		cmocka_unit_test_setup_teardown(test_join_tokens, setup, teardown),
		cmocka_unit_test_setup_teardown(test_agents, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migration_6_from_5, setup, teardown),
		cmocka_unit_test_setup_teardown(test_webhook_outbox, setup, teardown),
	};

	pg_uri = getenv("JITGATE_TEST_PG");
	if (pg_uri && !*pg_uri)
		pg_uri = NULL;
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

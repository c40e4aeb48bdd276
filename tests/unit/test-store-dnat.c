/*
 * Gateway DNAT's mapped ports of policies written before the store kept them (migration 14): jitgated's start puts
 * the missing dnat_ports rows back (api_dnat_backfill), says a port two policies map, and two replicas starting at
 * once add each row once. On a fresh SQLite file, or with JITGATE_TEST_PG set (tests/pg.sh, suite pg) on PostgreSQL.
 */
#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <sqlite3.h>

#include "api/api-internal.h"
#include "codec/codec.h"
#include "core/timeutil.h"
#include "testutil.h"

#define SUBID	"00000000-0000-0000-0000-000000000000"
#define RG1	"/subscriptions/" SUBID "/resourceGroups/rg1"
#define POLS	RG1 "/providers/Microsoft.Security/locations/local/jitNetworkAccessPolicies/"
#define VMS	RG1 "/providers/Microsoft.Compute/virtualMachines/"
#define PUB	"10.9.0.1"
/* one VM of a policy, public address PUB, with the given port rules */
#define BODY(vm, ports) "{\"properties\": {\"virtualMachines\": [{\"id\": \"" VMS vm "\", \"publicIpAddress\": \"" PUB \
	"\", \"ports\": [" ports "]}]}}"
#define RULE(number, proto, mapped) "{\"number\": " #number ", \"protocol\": \"" proto "\", " \
	"\"allowedSourceAddressPrefix\": \"*\", \"maxRequestAccessDuration\": \"PT3H\", \"mappedPort\": " #mapped "}"

struct world {
	char dir[64], db[256];
	struct store *store;
	struct api *api;
	int64_t gw1, gw2, gw3;
};

static const char *pg_uri;	/* JITGATE_TEST_PG: the tests run on PostgreSQL */
static char said[4096];		/* what the backfill said, lines joined */
static unsigned n_said;

static void
say(const char *line)
{
	size_t len = strlen(said);

	snprintf(said + len, sizeof(said) - len, "%s\n", line);
	n_said++;
}

static void
pg_notice_drop(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

/* One SQL text behind the store's back; its first value as an integer when want_row. */
static int64_t
raw(const struct world *w, const char *sql, bool want_row)
{
	int64_t v = 0;

	if (pg_uri) {
		PGconn *c = PQconnectdb(pg_uri);
		PGresult *res;

		assert_int_equal(PQstatus(c), CONNECTION_OK);
		PQsetNoticeProcessor(c, pg_notice_drop, NULL);
		res = PQexec(c, sql);
		if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
			fail_msg("%s: %s", sql, PQresultErrorMessage(res));
		if (want_row)
			v = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		PQclear(res);
		PQfinish(c);
	} else {
		sqlite3_stmt *s = NULL;
		sqlite3 *db = NULL;

		assert_int_equal(sqlite3_open(w->db, &db), SQLITE_OK);
		assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
		assert_int_equal(sqlite3_step(s), want_row ? SQLITE_ROW : SQLITE_DONE);
		v = want_row ? sqlite3_column_int64(s, 0) : 0;
		sqlite3_finalize(s);
		sqlite3_close(db);
	}
	return v;
}

/* The dnat_ports rows of policy `name` (NULL: all). */
static int64_t
rows(const struct world *w, const char *name)
{
	char sql[256];

	if (!name)
		return raw(w, "SELECT count(*) FROM dnat_ports", true);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM dnat_ports d JOIN policies p ON p.id = d.policy_id "
		 "WHERE p.name = '%s'", name);
	return raw(w, sql, true);
}

static struct api *
api_on(struct store *st)
{
	struct api_settings settings;
	struct api *api;

	memset(&settings, 0, sizeof(settings));
	snprintf(settings.subscription, sizeof(settings.subscription), SUBID);
	settings.max_duration_ms = POLICY_DURATION_MAX_MS_DEFAULT;
	assert_non_null(api = api_new(&settings));
	api_set_store(api, st);
	api_set_fw(api, NULL, "the test has no kernel firewall");
	return api;
}

static void
world_open(struct world *w)
{
	struct core_error err = { 0 };

	if (store_open(w->db, &w->store, &err) < 0)
		fail_msg("store_open: %s: %s", err.code, err.message);
	w->api = api_on(w->store);
}

static void
world_close(struct world *w)
{
	api_free(w->api);
	store_close(w->store);
	w->api = NULL;
	w->store = NULL;
}

static int64_t
gateway_vm(struct world *w, const char *name, const char *addr)
{
	struct store_vm vm;
	int64_t id;

	memset(&vm, 0, sizeof(vm));
	snprintf(vm.arm.subscription, sizeof(vm.arm.subscription), SUBID);
	snprintf(vm.arm.resource_group, sizeof(vm.arm.resource_group), "rg1");
	snprintf(vm.arm.name, sizeof(vm.arm.name), "%s", name);
	snprintf(vm.location, sizeof(vm.location), "local");
	snprintf(vm.os_type, sizeof(vm.os_type), "Linux");
	vm.point = STORE_POINT_GATEWAY;
	vm.n_addrs = 1;
	assert_int_equal(net_addr_parse(addr, strlen(addr), &vm.addrs[0], NULL), 0);
	assert_int_equal(store_vm_put(w->store, &vm, &id, NULL), 0);
	return id;
}

/*
 * Policy `name` with this body, holding vm, stored as its PUT stores it; with rows, its mapped ports recorded as a
 * PUT since migration 14 records them (without: as a PUT before it left them).
 */
static int64_t
policy_store(struct world *w, const char *name, const char *body, int64_t vm, bool with_rows)
{
	struct core_error err = { 0 };
	struct arm_policy_id pid;
	struct policy *p = NULL;
	char id_text[256], *text;
	int64_t id;
	bool created;
	json_t *j;

	snprintf(id_text, sizeof(id_text), POLS "%s", name);
	assert_int_equal(arm_policy_id_parse(id_text, strlen(id_text), &pid, NULL), 0);
	assert_int_equal(codec_policy_decode(body, strlen(body), &pid, &p, NULL), 0);
	assert_non_null(j = codec_policy_encode(p));
	assert_non_null(text = codec_dump(j, NULL));
	assert_int_equal(store_begin(w->store), 0);
	assert_int_equal(store_policy_put(w->store, &pid, text, &vm, 1, time_now_ns(), &id, &created), 0);
	if (with_rows && api_dnat_store(w->api, p, id, &err) < 0)
		fail_msg("api_dnat_store: %s: %s", err.code, err.message);
	assert_int_equal(store_commit(w->store), 0);
	free(text);
	json_decref(j);
	policy_free(p);
	return id;
}

static int
setup(void **state)
{
	struct world *w = calloc(1, sizeof(*w));

	assert_non_null(w);
	snprintf(w->dir, sizeof(w->dir), "/tmp/test-store-dnat-XXXXXX");
	assert_non_null(mkdtemp(w->dir));
	snprintf(w->db, sizeof(w->db), "%s/jitgate.db", w->dir);
	if (pg_uri) {
		/* a fresh schema: what the last test made goes */
		snprintf(w->db, sizeof(w->db), "%s", pg_uri);
		raw(w, "DROP SCHEMA public CASCADE; CREATE SCHEMA public", false);
	}
	world_open(w);
	w->gw1 = gateway_vm(w, "gw1", "192.0.2.11");
	w->gw2 = gateway_vm(w, "gw2", "192.0.2.12");
	w->gw3 = gateway_vm(w, "gw3", "192.0.2.13");
	said[0] = '\0';
	n_said = 0;
	*state = w;
	return 0;
}

static int
teardown(void **state)
{
	struct world *w = *state;

	world_close(w);
	test_rmtree(w->dir);
	free(w);
	return 0;
}

/* Rows deleted behind the store's back (a store of before migration 14) are back after a start, once. */
static void
test_backfill(void **state)
{
	struct world *w = *state;
	struct store_dnat_port taken = { .proto = NET_PROTO_UDP, .port = 50089 };
	int64_t p2;

	policy_store(w, "p1", BODY("gw1", RULE(22, "TCP", 50022) ", " RULE(3389, "*", 50089)), w->gw1, true);
	p2 = policy_store(w, "p2", BODY("gw2", RULE(80, "TCP", 50080)), w->gw2, true);
	policy_store(w, "p3", "{\"properties\": {\"virtualMachines\": [{\"id\": \"" VMS "gw3\", \"ports\": ["
		     "{\"number\": 22, \"protocol\": \"TCP\", \"allowedSourceAddressPrefix\": \"*\", "
		     "\"maxRequestAccessDuration\": \"PT3H\"}]}]}}", w->gw3, true);	/* no publicIpAddress: no row */
	assert_int_equal(rows(w, "p1"), 3);	/* "*": TCP and UDP */
	assert_int_equal(rows(w, "p2"), 1);
	world_close(w);
	raw(w, "DELETE FROM dnat_ports", false);
	assert_int_equal(rows(w, NULL), 0);

	world_open(w);
	assert_int_equal(api_dnat_backfill(w->api, say), 4);
	assert_int_equal(rows(w, "p1"), 3);
	assert_int_equal(rows(w, "p2"), 1);
	assert_int_equal(rows(w, "p3"), 0);
	assert_false(store_in_transaction(w->store));
	/* the next start finds them all */
	world_close(w);
	world_open(w);
	assert_int_equal(api_dnat_backfill(w->api, say), 0);
	assert_int_equal(rows(w, NULL), 4);
	assert_int_equal(n_said, 0);
	/* and they guard again: another policy cannot take p1's UDP 50089 */
	assert_int_equal(net_addr_parse(S(PUB), &taken.pub, NULL), 0);
	assert_int_equal(store_begin(w->store), 0);
	assert_int_equal(store_dnat_ports_set(w->store, p2, &taken, 1), -EEXIST);
	store_rollback(w->store);
}

/*
 * Two old policies that map one port (written before the rows refused it): said, naming both and the port; the
 * older keeps it; the newer gets none of its rows (not its free port either); the start goes on, and says it again
 * at each start while it lasts.
 */
static void
test_backfill_clash(void **state)
{
	struct world *w = *state;

	policy_store(w, "old", BODY("gw1", RULE(22, "TCP", 50022)), w->gw1, false);
	policy_store(w, "new", BODY("gw2", RULE(22, "*", 50022) ", " RULE(80, "TCP", 50100)), w->gw2, false);
	policy_store(w, "other", BODY("gw3", RULE(22, "TCP", 50200)), w->gw3, false);
	assert_int_equal(api_dnat_backfill(w->api, say), 2);
	assert_int_equal(rows(w, "old"), 1);
	assert_int_equal(rows(w, "new"), 0);
	assert_int_equal(rows(w, "other"), 1);
	assert_false(store_in_transaction(w->store));
	assert_int_equal(n_said, 1);
	assert_non_null(strstr(said, "gateway DNAT: CONFLICT: policy " POLS "new maps " PUB " port 50022 (*), which the "
			      "older policy " POLS "old maps too"));
	assert_int_equal(api_dnat_backfill(w->api, say), 0);
	assert_int_equal(n_said, 2);
	assert_int_equal(rows(w, NULL), 2);
}

struct racer {
	struct world w;
	int added;
};

static void *
race(void *arg)
{
	struct racer *r = arg;

	r->added = api_dnat_backfill(r->w.api, say);
	return NULL;
}

/* Two replicas starting at once (two connections, two threads): each row added once, neither fails. */
static void
test_backfill_two_at_once(void **state)
{
	struct world *w = *state;
	struct racer r[2];
	pthread_t t[2];
	int i, round;

	policy_store(w, "p1", BODY("gw1", RULE(22, "TCP", 50022) ", " RULE(3389, "*", 50089)), w->gw1, false);
	policy_store(w, "p2", BODY("gw2", RULE(80, "TCP", 50080)), w->gw2, false);
	for (round = 0; round < 3; round++) {
		raw(w, "DELETE FROM dnat_ports", false);
		for (i = 0; i < 2; i++) {
			memset(&r[i], 0, sizeof(r[i]));
			snprintf(r[i].w.db, sizeof(r[i].w.db), "%s", w->db);
			world_open(&r[i].w);
		}
		for (i = 0; i < 2; i++)
			assert_int_equal(pthread_create(&t[i], NULL, race, &r[i]), 0);
		for (i = 0; i < 2; i++)
			assert_int_equal(pthread_join(t[i], NULL), 0);
		for (i = 0; i < 2; i++)
			world_close(&r[i].w);
		if (r[0].added < 0 || r[1].added < 0 || r[0].added + r[1].added != 4)
			fail_msg("round %d: the two starts added %d and %d rows (4 in all expected)", round, r[0].added,
				 r[1].added);
		assert_int_equal(rows(w, NULL), 4);
	}
	assert_int_equal(n_said, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_backfill, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backfill_clash, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backfill_two_at_once, setup, teardown),
	};

	pg_uri = getenv("JITGATE_TEST_PG");
	if (pg_uri && !*pg_uri)
		pg_uri = NULL;
	return cmocka_run_group_tests(tests, NULL, NULL);
}

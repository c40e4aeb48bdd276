/*
 * Initiate and revoke on a policy the store cannot give: both answer api_store_fail's mapping (503 for a
 * busy store, not a blanket 500), and a stored policy that does not decode keeps the decoder's words.
 */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <unistd.h>

#include <sqlite3.h>

#include "api/api-internal.h"
#include "testutil.h"

#define SUB	"/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg1/providers"
#define POL	SUB "/Microsoft.Security/locations/local/jitNetworkAccessPolicies/default"
#define VM1	SUB "/Microsoft.Compute/virtualMachines/gw1"
#define INITIATE_BODY "{\"virtualMachines\": [{\"id\": \"" VM1 "\", \"ports\": [{\"number\": 22, " \
	"\"endTimeUtc\": \"2099-01-01T00:00:00Z\", \"allowedSourceAddressPrefix\": \"10.0.0.5\"}]}]}"
#define REVOKE_BODY "{\"virtualMachines\": [{\"id\": \"" VM1 "\", \"ports\": [{\"number\": 22}]}]}"

/*
 * The store's answer to reading a policy, when set (the executable links with --wrap=store_policy_get).
 * A read of a WAL database cannot be made busy from outside for real: every connection to it holds a
 * shared lock, so no other one can take the exclusive lock that would block readers. The other
 * failures below are real (a broken row, a policy that does not decode).
 */
static int policy_get_fails;

int __real_store_policy_get(struct store *st, const struct arm_policy_id *arm, struct store_policy *ret);
int __wrap_store_policy_get(struct store *st, const struct arm_policy_id *arm, struct store_policy *ret);

int
__wrap_store_policy_get(struct store *st, const struct arm_policy_id *arm, struct store_policy *ret)
{
	if (policy_get_fails)
		return policy_get_fails;
	return __real_store_policy_get(st, arm, ret);
}

struct world {
	char dir[64], db[96];
	struct store *store;
	struct api *api;
	struct api_caller root;
	struct arm_policy_id pid;
};

static int
setup(void **state)
{
	struct api_settings settings;
	struct world *w = calloc(1, sizeof(*w));

	assert_non_null(w);
	snprintf(w->dir, sizeof(w->dir), "/tmp/test-api-policy-read-XXXXXX");
	assert_non_null(mkdtemp(w->dir));
	snprintf(w->db, sizeof(w->db), "%s/jitgate.db", w->dir);
	assert_int_equal(store_open(w->db, &w->store, NULL), 0);
	memset(&settings, 0, sizeof(settings));
	settings.max_duration_ms = POLICY_DURATION_MAX_MS_DEFAULT;
	assert_non_null(w->api = api_new(&settings));
	api_set_store(w->api, w->store);
	api_set_fw(w->api, NULL, "the test has no kernel firewall");
	snprintf(w->root.name, sizeof(w->root.name), "root");
	w->root.n_assign = 1;
	w->root.assign[0].role = rbac_role_builtin("Owner");
	assert_int_equal(arm_policy_id_parse(POL, strlen(POL), &w->pid, NULL), 0);
	*state = w;
	return 0;
}

static int
teardown(void **state)
{
	struct world *w = *state;

	api_free(w->api);
	store_close(w->store);
	test_rmtree(w->dir);
	free(w);
	return 0;
}

/* POST body to initiate (or revoke); the answer's status and error record. */
static int
post(struct world *w, bool initiate, const char *body, struct core_error *ret)
{
	struct http_request req;
	struct http_response resp;
	json_t *j, *e;
	int status;

	memset(&req, 0, sizeof(req));
	memset(&resp, 0, sizeof(resp));
	req.method = "POST";
	req.body = body;
	req.body_len = strlen(body);
	if (initiate)
		api_policy_initiate(w->api, &w->root, &req, &w->pid, &resp);
	else
		api_policy_revoke(w->api, &w->root, &req, &w->pid, &resp);
	api_batch_end(w->api);
	status = resp.status;
	memset(ret, 0, sizeof(*ret));
	j = json_loadb(resp.body, resp.body_len, 0, NULL);
	if ((e = json_object_get(j, "error"))) {
		snprintf(ret->code, sizeof(ret->code), "%s", json_string_value(json_object_get(e, "code")));
		snprintf(ret->target, sizeof(ret->target), "%s", json_string_value(json_object_get(e, "target")) ?: "");
		snprintf(ret->message, sizeof(ret->message), "%s", json_string_value(json_object_get(e, "message")));
	}
	json_decref(j);
	free(resp.body);
	return status;
}

static void
test_busy_store(void **state)
{
	struct world *w = *state;
	struct core_error err;

	/* a store busy with another process (SQLITE_BUSY past the busy timeout) */
	policy_get_fails = -EBUSY;
	assert_int_equal(post(w, true, INITIATE_BODY, &err), 503);
	assert_string_equal(err.code, "StoreError");
	assert_non_null(strstr(err.message, "cannot read the policy: "));
	assert_int_equal(post(w, false, REVOKE_BODY, &err), 503);
	assert_string_equal(err.code, "StoreError");
	assert_non_null(strstr(err.message, "cannot read the policy: "));
	policy_get_fails = 0;
}

/* A policy row the store cannot read (its json is not text): the store's fault, 500 from both. */
static void
test_broken_row(void **state)
{
	struct world *w = *state;
	struct core_error err;
	sqlite3 *db = NULL;
	int64_t id;
	bool created;

	assert_int_equal(store_policy_put(w->store, &w->pid, "{}", NULL, 0, 1, &id, &created), 0);
	assert_int_equal(sqlite3_open(w->db, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "UPDATE policies SET json = zeroblob(4)", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(post(w, true, INITIATE_BODY, &err), 500);
	assert_string_equal(err.code, "StoreError");
	assert_int_equal(post(w, false, REVOKE_BODY, &err), 500);
	assert_string_equal(err.code, "StoreError");
}

static void
test_policy_does_not_decode(void **state)
{
	struct world *w = *state;
	struct core_error err;
	int64_t id;
	bool created;

	/* stored, but not a policy the codec reads back */
	assert_int_equal(store_policy_put(w->store, &w->pid, "{}", NULL, 0, 1, &id, &created), 0);
	assert_int_equal(post(w, true, INITIATE_BODY, &err), 500);
	assert_string_equal(err.code, "StoreError");
	assert_string_equal(err.target, "");
	assert_string_equal(err.message, "cannot read the policy: properties is required. at properties");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_busy_store, setup, teardown),
		cmocka_unit_test_setup_teardown(test_broken_row, setup, teardown),
		cmocka_unit_test_setup_teardown(test_policy_does_not_decode, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

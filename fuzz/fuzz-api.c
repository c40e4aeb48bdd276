/*
 * Fuzz target for the API's front door: api_handle() with a request decoded by
 * http-fake.c (method, path and query, headers, body), a real SQLite store in a
 * tmpfs directory and no firewall (fw NULL: VMs are Unsupported, no kernel is touched).
 */
#include <errno.h>
#include <ftw.h>
#include <glob.h>
#include <signal.h>
#include <stdbool.h>
#include <unistd.h>

#include "api/api-internal.h"
#include "codec/codec.h"
#include "core/timeutil.h"
#include "fuzz-common.h"
#include "http-fake.h"
#include "../tests/gunzip.h"

#define SUB		"00000000-0000-0000-0000-000000000000"
#define RG		"fuzzRg"
#define POLICY_ID	"/subscriptions/" SUB "/resourceGroups/" RG "/providers/Microsoft.Security/locations/local/jitNetworkAccessPolicies/default"
#define GW_ID		"/subscriptions/" SUB "/resourceGroups/" RG "/providers/Microsoft.Compute/virtualMachines/gw1"
#define REQUEST_ID	"0b9a3c1e-5f2d-4e8a-9c7b-1d2e3f405162"
#define REBUILD_EVERY	5000	/* runs between fresh stores, so that the activity log and the tables stay small */

/*
 * Fixed secrets, so that seed inputs authenticate: tokens as api_token_generate
 * makes them ("jg_" and 48 characters of its alphabet), a portal session's
 * cookie id and CSRF token (64 hex digits each). The seeds in fuzz/corpus/fuzz-api hold them.
 */
static const struct {
	const char *name, *secret, *role, *scope;
} tokens[] = {
	{ "owner", "jg_fuzzOwner000000000000000000000000000000000000000", "Owner", "" },
	{ "req", "jg_fuzzRequester00000000000000000000000000000000000", "JitRequester", "/subscriptions/" SUB "/resourceGroups/" RG },
	{ "reader", "jg_fuzzReader00000000000000000000000000000000000000", "Reader", "" },
	{ "audit", "jg_fuzzAuditor0000000000000000000000000000000000000", "Auditor", "" },
};
#define SESSION_ID	"5e55105e55105e55105e55105e55105e55105e55105e55105e55105e55105e55"
/* derived from the id (api-session.c): SHA-256 of "jitgate csrf\n" and the id, in hex */
#define SESSION_CSRF	"b5ca172a2c88c6d327f83e18a135be13130d4967f448d121bc6d692dec4131f2"

static struct api api;
static struct http_response *held_resp;	/* the answer a group commit may replace */

/* api.release_held: a held initiate's answer stands, or the failed commit's replaces it */
static void
release_held(void *ctx, const struct http_response *instead, size_t n)
{
	(void)ctx;
	fuzz_check(n == 1 && held_resp && held_resp->hold);
	held_resp->hold = false;
	if (instead) {
		free(held_resp->body);
		held_resp->body = instead->body_len ? malloc(instead->body_len) : NULL;
		fuzz_check(!instead->body_len || held_resp->body);
		if (instead->body_len)
			memcpy(held_resp->body, instead->body, instead->body_len);
		held_resp->body_len = instead->body_len;
		held_resp->status = instead->status;
	}
}
static const char *base = "/dev/shm";	/* tmpfs, so that SQLite's syncs cost nothing; /tmp without it */
static char dir[64];	/* BASE/fuzz-api-PID-XXXXXX */
static char db[sizeof(dir) + 16];
static struct api_session session;
static unsigned long runs;

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void
remove_dir(void)
{
	nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

/* A crash ends the process without atexit: the next run removes what dead fuzzers left behind. */
static void
remove_stale_dirs(void)
{
	char path[sizeof(dir)], pattern[sizeof(dir)];
	glob_t g;
	size_t i;

	snprintf(pattern, sizeof(pattern), "%s/fuzz-api-*-*", base);
	if (glob(pattern, 0, NULL, &g) != 0)
		return;
	for (i = 0; i < g.gl_pathc; i++) {
		long pid = strtol(g.gl_pathv[i] + strlen(base) + strlen("/fuzz-api-"), NULL, 10);

		if (pid > 0 && kill((pid_t)pid, 0) < 0 && errno == ESRCH && strlen(g.gl_pathv[i]) < sizeof(path)) {
			snprintf(path, sizeof(path), "%s", g.gl_pathv[i]);
			nftw(path, rm_one, 8, FTW_DEPTH | FTW_PHYS);
		}
	}
	globfree(&g);
}

static int64_t
put_vm(const char *name, enum store_point point, const char *addr, const char *unsupported)
{
	struct store_vm vm;
	int64_t id;
	bool created;

	memset(&vm, 0, sizeof(vm));
	snprintf(vm.arm.subscription, sizeof(vm.arm.subscription), SUB);
	snprintf(vm.arm.resource_group, sizeof(vm.arm.resource_group), RG);
	snprintf(vm.arm.name, sizeof(vm.arm.name), "%s", name);
	snprintf(vm.location, sizeof(vm.location), "local");
	snprintf(vm.os_type, sizeof(vm.os_type), "Linux");
	snprintf(vm.unsupported_reason, sizeof(vm.unsupported_reason), "%s", unsupported);
	vm.point = point;
	if (addr) {
		fuzz_check(net_addr_parse(addr, strlen(addr), &vm.addrs[0], NULL) == 0);
		vm.n_addrs = 1;
	}
	fuzz_check(store_vm_put(api.store, &vm, &id, &created) == 0);
	return id;
}

/* A policy on the gateway VM and one live request on it: what GET, initiate and revoke find. */
static void
put_policy(int64_t gw)
{
	static const char body[] = "{\"kind\": \"Basic\", \"properties\": {\"virtualMachines\": [{\"id\": \"" GW_ID "\", "
		"\"ports\": [{\"number\": 22, \"protocol\": \"TCP\", \"allowedSourceAddressPrefix\": \"*\", "
		"\"maxRequestAccessDuration\": \"PT3H\"}]}]}}";
	struct arm_policy_id id;
	struct policy *p = NULL;
	struct store_request r;
	struct store_grant g;
	int64_t pid, now = time_now_ns();
	bool created;
	json_t *j;
	char *text;

	fuzz_check(arm_policy_id_parse(POLICY_ID, strlen(POLICY_ID), &id, NULL) == 0);
	fuzz_check(codec_policy_decode(body, strlen(body), &id, &p, NULL) == 0);
	fuzz_check((j = codec_policy_encode(p)) != NULL);
	fuzz_check((text = codec_dump(j, NULL)) != NULL);
	fuzz_check(store_policy_put(api.store, &id, text, &gw, 1, now, &pid, &created) == 0);
	free(text);
	json_decref(j);
	policy_free(p);

	memset(&g, 0, sizeof(g));
	snprintf(g.request_id, sizeof(g.request_id), REQUEST_ID);
	g.vm_id = gw;
	g.port = 22;
	g.proto = NET_PROTO_TCP;
	g.source.any = true;
	g.end_ns = now + 20LL * 3600 * TIME_NS_PER_SEC;
	g.status = STORE_GRANT_INITIATED;
	snprintf(g.requestor, sizeof(g.requestor), "token:owner");
	g.policy_id = pid;
	memset(&r, 0, sizeof(r));
	snprintf(r.id, sizeof(r.id), REQUEST_ID);
	r.policy_id = pid;
	snprintf(r.requestor, sizeof(r.requestor), "token:owner");
	snprintf(r.requestor_addr, sizeof(r.requestor_addr), "192.0.2.7");
	r.start_ns = now;
	snprintf(r.justification, sizeof(r.justification), "seeded by the fuzzer");
	r.n_grants = 1;
	r.grants = &g;
	fuzz_check(store_request_insert(api.store, &r) == 0);
}

/* A new store in a new directory: tokens, this host's VM, a gateway VM, a policy and a request. */
static void
build_world(void)
{
	struct core_error err;
	size_t i;

	if (api.store) {
		api_caches_free(&api);	/* they hold what the old store said */
		api_closing_free(&api);
		store_close(api.store);
		api.store = NULL;
		remove_dir();
	}
	snprintf(dir, sizeof(dir), "%s/fuzz-api-%ld-XXXXXX", base, (long)getpid());
	fuzz_check(mkdtemp(dir) != NULL);
	snprintf(db, sizeof(db), "%s/jitgate.db", dir);
	if (store_open(db, &api.store, &err) < 0) {
		fprintf(stderr, "store_open: %s\n", err.message);
		abort();
	}
	for (i = 0; i < sizeof(tokens) / sizeof(tokens[0]); i++) {
		struct store_token t;

		memset(&t, 0, sizeof(t));
		snprintf(t.name, sizeof(t.name), "%s", tokens[i].name);
		snprintf(t.role, sizeof(t.role), "%s", tokens[i].role);
		snprintf(t.scope, sizeof(t.scope), "%s", tokens[i].scope);
		t.created_ns = time_now_ns();
		fuzz_check(api_token_hash(tokens[i].secret, strlen(tokens[i].secret), t.hash) == 0);
		fuzz_check(store_token_insert(api.store, &t) == 0);
	}
	api.local_vm_id = put_vm("fuzzhost", STORE_POINT_LOCAL, NULL, api.fw_reason);
	put_policy(put_vm("gw1", STORE_POINT_GATEWAY, "192.0.2.10", ""));
}

/* Did a DELETE take away what the seeds rely on (a token, the gateway VM, the policy)? */
static bool
world_is_whole(void)
{
	struct arm_policy_id pid;
	struct arm_vm_id vid;
	struct store_policy sp;
	struct store_token t;
	struct store_vm vm;
	uint8_t hash[STORE_TOKEN_HASH_LEN];
	size_t i;

	for (i = 0; i < sizeof(tokens) / sizeof(tokens[0]); i++) {
		fuzz_check(api_token_hash(tokens[i].secret, strlen(tokens[i].secret), hash) == 0);
		if (store_token_find(api.store, hash, &t) < 0)
			return false;
	}
	fuzz_check(arm_vm_id_parse(GW_ID, strlen(GW_ID), &vid, NULL) == 0);
	fuzz_check(arm_policy_id_parse(POLICY_ID, strlen(POLICY_ID), &pid, NULL) == 0);
	if (store_vm_get(api.store, &vid, &vm) < 0 || store_policy_get(api.store, &pid, &sp) < 0)
		return false;
	store_policy_clear(&sp);
	return true;
}

static void
setup(void)
{
	static const char *const proxies[] = { "10.0.0.0/8", "::1/128" };
	struct core_error err;
	char secret[API_TOKEN_TEXT_MAX + 1];
	size_t i;

	/* the fixed secrets have the shape of real ones */
	fuzz_check(api_token_generate(secret, sizeof(secret)) > 0);
	for (i = 0; i < sizeof(tokens) / sizeof(tokens[0]); i++)
		fuzz_check(strlen(tokens[i].secret) == strlen(secret) && !strncmp(tokens[i].secret, API_TOKEN_PREFIX, 3));

	snprintf(api.settings.subscription, sizeof(api.settings.subscription), SUB);
	snprintf(api.settings.location, sizeof(api.settings.location), "local");
	api.settings.max_duration_ms = POLICY_DURATION_MAX_MS_DEFAULT;
	for (i = 0; i < 2; i++)
		fuzz_check(net_prefix_parse(proxies[i], strlen(proxies[i]), &api.settings.trusted_proxies[i], NULL) == 0);
	api.settings.n_trusted_proxies = 2;
	if (rbac_role_custom("Auditor", "Microsoft.Security/*/read, Microsoft.Compute/virtualMachines/read",
			     "Jitgate/*", &api.settings.custom_roles[0], &err) < 0) {
		fprintf(stderr, "rbac_role_custom: %s\n", err.message);
		abort();
	}
	api.settings.n_custom_roles = 1;
	api.fw = NULL;
	api.release_held = release_held;
	snprintf(api.fw_reason, sizeof(api.fw_reason), "the fuzzer has no kernel firewall");
	if (access(base, W_OK) != 0)
		base = "/tmp";
	remove_stale_dirs();
	build_world();
	atexit(remove_dir);

	fuzz_check(api_token_hash(SESSION_ID, strlen(SESSION_ID), session.id_hash) == 0);
	fuzz_check(api_token_hash(tokens[0].secret, strlen(tokens[0].secret), session.token_hash) == 0);
	snprintf(session.csrf, sizeof(session.csrf), SESSION_CSRF);
	session.created_ns = time_now_ns();
	session.expires_ns = session.created_ns + 30LL * 24 * 3600 * TIME_NS_PER_SEC;
}

static void
check_response(const struct http_request *req, const struct http_response *resp)
{
	const char *ce;
	char *body = resp->body;
	size_t i, body_len = resp->body_len;
	bool empty_ok;

	if (resp->status < 100 || resp->status > 599)
		fprintf(stderr, "status %d for %s %s\n", resp->status, req->method, req->path);
	fuzz_check(resp->status >= 100 && resp->status <= 599);
	fuzz_check(resp->n_headers <= HTTP_HEADERS_OUT_MAX);
	for (i = 0; i < resp->n_headers; i++)
		fuzz_check(!strpbrk(resp->headers[i].name, "\r\n:") && !strpbrk(resp->headers[i].value, "\r\n"));
	/*
	 * Every answer has a body but 204 and a DELETE's 200 (ARM's, empty): a JSON
	 * value that failed to build (text that is not UTF-8) would leave it empty.
	 */
	empty_ok = resp->status == 204 || (resp->status == 200 && !strcmp(req->method, "DELETE"));
	if (!resp->body && !empty_ok)
		fprintf(stderr, "status %d without a body for %s %s\n", resp->status, req->method, req->path);
	fuzz_check(resp->body || empty_ok);
	if (!resp->body)
		return;
	ce = http_response_header_get(resp, "Content-Encoding");
	fuzz_check(!ce || !strcmp(ce, "gzip"));
	fuzz_check(!ce || !resp->secret);	/* a token's length never depends on what else is in the body */
	if (ce) {
		/* only what the client said it takes, and a whole gzip member */
		fuzz_check(http_accepts_gzip(http_request_header(req, "Accept-Encoding")));
		fuzz_check((body = test_gunzip(resp->body, resp->body_len, API_RENDER_CACHE_BODY_MAX + 1, &body_len)) != NULL);
	}
	if (!resp->content_type || strstr(resp->content_type, "json")) {
		json_error_t jerr;
		json_t *j = json_loadb(body, body_len, JSON_DECODE_ANY, &jerr);

		if (!j)
			fprintf(stderr, "%d body is not JSON (%s): %.*s\n", resp->status, jerr.text, (int)body_len, body);
		fuzz_check(j != NULL);
		/* an error body is Azure's {"error": {"code", "message"}} */
		if (resp->status >= 400 && json_is_object(j) && json_object_get(j, "error"))
			fuzz_check(json_is_string(json_object_get(json_object_get(j, "error"), "code")));
		json_decref(j);
	}
	if (body != resp->body)
		free(body);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready, verbose;
	struct http_request req;
	struct http_response resp;
	struct api_session found;

	if (!ready) {
		setup();
		ready = true;
		verbose = getenv("FUZZ_API_VERBOSE") != NULL;
	}
	/* The fixed session comes back every run (a sign-out or a revoked token ends it) */
	api.sessions.n_ended = 0;
	if (api_session_lookup(&api, session.id_hash, &found) == -ENOENT)
		fuzz_check(api_session_record(&api, &session) == 0);

	http_fake_parse(data, size, &req);
	memset(&resp, 0, sizeof(resp));
	api_handle(&api, &req, &resp);
	/* as http-request.c does with a held answer: the handler fills the held copy in at the pass's end */
	if (resp.hold && resp.held_at)
		*resp.held_at = &resp;
	held_resp = &resp;
	api_batch_end(&api);	/* as the daemon does after each pass: commit a held initiate */
	held_resp = NULL;
	if (!resp.hold)	/* as http-server.c does before sending */
		http_response_encode(&resp, http_request_header(&req, "Accept-Encoding"));
	if (verbose)	/* FUZZ_API_VERBOSE=1: what each input got, for writing seeds */
		fprintf(stderr, "%s %s -> %d %.*s\n", req.method, req.path, resp.status,
			resp.body ? (int)(resp.body_len < 200 ? resp.body_len : 200) : 0, resp.body ? resp.body : "");
	check_response(&req, &resp);
	free(resp.body);

	if (++runs % REBUILD_EVERY == 0 || (!strcmp(req.method, "DELETE") && resp.status < 300 && !world_is_whole()))
		build_world();
	http_fake_free(&req);
	return 0;
}

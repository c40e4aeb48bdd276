/*
 * The API's routing pinned as a golden matrix: (method, path) pairs through api_handle over
 * fuzz/http-fake.c and a real SQLite store, each answer as "status code target message",
 * compared with api-routes.golden (run with --write PATH to record it again).
 */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/api-internal.h"
#include "codec/codec.h"
#include "../../fuzz/http-fake.h"
#include "core/timeutil.h"

#define SUB	"00000000-0000-0000-0000-000000000000"
#define S	"/subscriptions/" SUB
#define AV	"?api-version=" API_VERSION_CURRENT
#define SEC	"/providers/Microsoft.Security"
#define CMP	"/providers/Microsoft.Compute"
#define POL	S "/resourceGroups/rg1" SEC "/locations/local/jitNetworkAccessPolicies/default"
#define VM	S "/resourceGroups/rg1" CMP "/virtualMachines/gw1"
#define VM2	S "/resourceGroups/rg1" CMP "/virtualMachines/gw2"	/* in no policy */
#define VM2_BODY "{\"location\": \"local\", \"properties\": {\"addresses\": [\"192.0.2.11\"]}}"
#define VM_BODY	"{\"location\": \"local\", \"properties\": {\"addresses\": [\"192.0.2.10\"]}}"
#define POL_BODY "{\"kind\": \"Basic\", \"properties\": {\"virtualMachines\": [{\"id\": \"" VM "\", \"ports\": " \
		"[{\"number\": 22, \"protocol\": \"TCP\", \"allowedSourceAddressPrefix\": \"*\", " \
		"\"maxRequestAccessDuration\": \"PT3H\"}]}]}}"

/* Who asks: root on the unix socket (Owner, no token), an anonymous TCP client, or one with a Reader's token. */
enum who { ROOT, ANON, READER };
#define READER_SECRET	"jg_routesReader000000000000000000000000000000000000"

static const struct probe {
	enum who who;
	const char *method;	/* one of http-fake.c's methods */
	const char *target;	/* path and query */
	const char *body;	/* NULL: none */
} probes[] = {
	/* the world the rest look at: a VM and a policy on it (without a firewall the policy's PUT is refused,
	 * so main() stores it after these two) */
	{ ROOT, "PUT", VM AV, VM_BODY },
	{ ROOT, "PUT", POL AV, POL_BODY },
#define SEEDED 2

	/* the front door */
	{ ANON, "GET", "/healthz", NULL },
	{ ANON, "POST", "/healthz", NULL },
	{ ANON, "GET", "/healthz/", NULL },
	{ ANON, "GET", "/session", NULL },
	{ ANON, "PUT", "/session", NULL },
	{ ANON, "PATCH", "/session", NULL },
	{ ROOT, "GET", "/whoami", NULL },
	{ ROOT, "POST", "/whoami", NULL },
	{ ROOT, "GET", "/providers/whoami", NULL },
	{ ROOT, "GET", "/Providers/WhoAmI", NULL },
	{ ANON, "GET", "/whoami", NULL },
	{ ANON, "GET", "/index.html", NULL },
	{ ANON, "POST", "/index.html", NULL },
	{ ANON, "GET", "/nosuchfile.js", NULL },
	{ ROOT, "GET", "/subscriptions", NULL },
	{ ROOT, "GET", "/subscriptions" AV, NULL },
	{ ROOT, "GET", "/other/" SUB AV, NULL },
	{ ROOT, "GET", S, NULL },
	{ ROOT, "GET", S AV, NULL },
	{ ROOT, "GET", "/subscriptions/11111111-1111-1111-1111-111111111111" SEC "/jitNetworkAccessPolicies" AV, NULL },
	{ ROOT, "GET", "/SUBSCRIPTIONS/" SUB SEC "/jitNetworkAccessPolicies" AV, NULL },
	{ ROOT, "GET", S "/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p" AV, NULL },
	{ ROOT, "GET", S "/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q" AV, NULL },

	/* api-version before authentication, authentication before routing */
	{ ROOT, "GET", S SEC "/jitNetworkAccessPolicies", NULL },
	{ ROOT, "GET", S SEC "/jitNetworkAccessPolicies?api-version=2019-01-01", NULL },
	{ ROOT, "GET", S SEC "/jitNetworkAccessPolicies?api-version=" API_VERSION_PREVIEW, NULL },
	{ ANON, "GET", S SEC "/jitNetworkAccessPolicies", NULL },
	{ ANON, "GET", S SEC "/jitNetworkAccessPolicies" AV, NULL },
	{ ANON, "GET", S "/nowhere" AV, NULL },
	{ ANON, "PATCH", POL AV, NULL },

	/* a method check comes before the role's, and an unknown path before both */
	{ READER, "GET", S SEC "/jitNetworkAccessPolicies" AV, NULL },
	{ READER, "PUT", S SEC "/jitNetworkAccessPolicies" AV, NULL },
	{ READER, "GET", POL AV, NULL },
	{ READER, "PUT", POL AV, NULL },
	{ READER, "DELETE", POL AV, NULL },
	{ READER, "PATCH", POL AV, NULL },
	{ READER, "POST", POL "/initiate" AV, "{}" },
	{ READER, "POST", POL "/frobnicate" AV, NULL },
	{ READER, "GET", POL "/initiate" AV, NULL },
	{ READER, "PUT", VM AV, NULL },
	{ READER, "GET", S "/providers/Jitgate/tokens" AV, NULL },
	{ READER, "GET", S "/providers/Jitgate/tokens/t1" AV, NULL },
	{ READER, "DELETE", S "/providers/Jitgate/tokens/t1" AV, NULL },
	{ READER, "GET", S "/nowhere" AV, NULL },
	{ READER, "GET", "/whoami", NULL },

	/* the four policy lists */
	{ ROOT, "GET", S SEC "/jitNetworkAccessPolicies" AV, NULL },
	{ ROOT, "PUT", S SEC "/jitNetworkAccessPolicies" AV, NULL },
	{ ROOT, "DELETE", S SEC "/jitNetworkAccessPolicies" AV, NULL },
	{ ROOT, "GET", S SEC "/jitNetworkAccessPolicies/" AV, NULL },
	{ ROOT, "GET", S "/Providers/microsoft.security/JITNETWORKACCESSPOLICIES" AV, NULL },
	{ ROOT, "GET", S SEC "/locations/local/jitNetworkAccessPolicies" AV, NULL },
	{ ROOT, "GET", S SEC "/locations/LOCAL/jitNetworkAccessPolicies" AV, NULL },
	{ ROOT, "GET", S SEC "/locations/elsewhere/jitNetworkAccessPolicies" AV, NULL },
	{ ROOT, "POST", S SEC "/locations/local/jitNetworkAccessPolicies" AV, NULL },
	{ ROOT, "GET", S "/resourceGroups/rg1" SEC "/jitNetworkAccessPolicies" AV, NULL },
	{ ROOT, "GET", S "/resourceGroups/RG1" SEC "/jitNetworkAccessPolicies" AV, NULL },
	{ ROOT, "GET", S "/resourcegroups/rg1" SEC "/jitNetworkAccessPolicies" AV, NULL },
	{ ROOT, "GET", S "/resourceGroups/rg2" SEC "/jitNetworkAccessPolicies" AV, NULL },
	{ ROOT, "PUT", S "/resourceGroups/rg1" SEC "/jitNetworkAccessPolicies" AV, NULL },
	{ ROOT, "GET", S "/resourceGroups/rg1" SEC "/locations/local/jitNetworkAccessPolicies" AV, NULL },
	{ ROOT, "GET", S "/resourceGroups/Rg1" SEC "/locations/Local/jitNetworkAccessPolicies" AV, NULL },
	{ ROOT, "GET", S "/resourceGroups/rg1" SEC "/locations/local/jitNetworkAccessPolicies/" AV, NULL },
	{ ROOT, "DELETE", S "/resourceGroups/rg1" SEC "/locations/local/jitNetworkAccessPolicies" AV, NULL },
	{ ROOT, "GET", S "/resourceGroups/rg1" SEC "/locations/local" AV, NULL },
	{ ROOT, "GET", S "/resourceGroups/rg1" SEC AV, NULL },
	{ ROOT, "GET", S "/resourceGroups/rg1" AV, NULL },

	/* one policy */
	{ ROOT, "GET", POL AV, NULL },
	{ ROOT, "get", POL AV, NULL },
	{ ROOT, "HEAD", POL AV, NULL },
	{ ROOT, "GET", POL "/" AV, NULL },
	{ ROOT, "GET", S "/resourceGroups/RG1" SEC "/locations/local/jitNetworkAccessPolicies/default" AV, NULL },
	{ ROOT, "GET", S "/resourceGroups/rg1" SEC "/locations/LOCAL/jitNetworkAccessPolicies/DEFAULT" AV, NULL },
	{ ROOT, "GET", S "/RESOURCEGROUPS/rg1/PROVIDERS/MICROSOFT.SECURITY/LOCATIONS/local/JITNETWORKACCESSPOLICIES/default" AV,
	  NULL },
	{ ROOT, "GET", S "/resourceGroups/rg1" SEC "/locations/local/jitNetworkAccessPolicies/other" AV, NULL },
	{ ROOT, "GET", S "/resourceGroups/rg1" SEC "/locations/local/jitNetworkAccessPolicies/bad%20name" AV, NULL },
	{ ROOT, "GET", S "/resourceGroups/bad$rg" SEC "/locations/local/jitNetworkAccessPolicies/default" AV, NULL },
	{ ROOT, "GET", S "/resourceGroups/rg1" SEC "/locations/bad$loc/jitNetworkAccessPolicies/default" AV, NULL },
	{ ROOT, "PUT", S "/resourceGroups/rg1" SEC "/locations/local/jitNetworkAccessPolicies/other" AV, NULL },
	{ ROOT, "PUT", POL AV, "{" },
	{ ROOT, "DELETE", S "/resourceGroups/rg1" SEC "/locations/local/jitNetworkAccessPolicies/other" AV, NULL },
	{ ROOT, "POST", POL AV, NULL },
	{ ROOT, "PATCH", POL AV, NULL },
	{ ROOT, "OPTIONS", POL AV, NULL },
	{ ROOT, "GET", S "/resourceGroups/rg1" SEC "/jitNetworkAccessPolicies/default" AV, NULL },
	{ ROOT, "GET", S SEC "/locations/local/jitNetworkAccessPolicies/default" AV, NULL },

	/* actions on a policy */
	{ ROOT, "POST", POL "/initiate" AV, NULL },
	{ ROOT, "POST", POL "/Initiate" AV, NULL },
	{ ROOT, "POST", POL "/INITIATE" AV, "{}" },
	{ ROOT, "POST", POL "/revoke" AV, NULL },
	{ ROOT, "POST", POL "/Revoke" AV, "{}" },
	{ ROOT, "POST", POL "/initiate/" AV, NULL },
	{ ROOT, "POST", POL "/frobnicate" AV, NULL },
	{ ROOT, "POST", POL "/initiate" AV "x", NULL },
	{ ROOT, "GET", POL "/initiate" AV, NULL },
	{ ROOT, "PUT", POL "/revoke" AV, NULL },
	{ ROOT, "GET", POL "/frobnicate" AV, NULL },
	{ ROOT, "DELETE", POL "/frobnicate" AV, NULL },
	{ ROOT, "POST", S "/resourceGroups/rg1" SEC "/locations/local/jitNetworkAccessPolicies/other/initiate" AV, NULL },
	{ ROOT, "POST", S "/resourceGroups/rg1" SEC "/locations/local/jitNetworkAccessPolicies/bad%20name/initiate" AV,
	  NULL },
	{ ROOT, "POST", S "/resourceGroups/rg1" SEC "/locations/local/jitNetworkAccessPolicies/bad%20name/frobnicate" AV,
	  NULL },
	{ ROOT, "GET", S "/resourceGroups/rg1" SEC "/locations/local/jitNetworkAccessPolicies/bad%20name/frobnicate" AV,
	  NULL },
	{ ROOT, "POST", POL "/initiate/more" AV, NULL },
	{ ANON, "POST", POL "/initiate" AV, NULL },
	{ ANON, "POST", POL "/frobnicate" AV, NULL },
	{ ROOT, "POST", POL "/initiate", NULL },

	/* VMs */
	{ ROOT, "GET", S CMP "/virtualMachines" AV, NULL },
	{ ROOT, "POST", S CMP "/virtualMachines" AV, NULL },
	{ ROOT, "GET", S CMP "/virtualMachines/" AV, NULL },
	{ ROOT, "GET", S "/providers/microsoft.compute/VIRTUALMACHINES" AV, NULL },
	{ ROOT, "GET", S "/resourceGroups/rg1" CMP "/virtualMachines" AV, NULL },
	{ ROOT, "GET", S "/resourceGroups/RG1" CMP "/virtualMachines" AV, NULL },
	{ ROOT, "GET", S "/resourceGroups/rg2" CMP "/virtualMachines" AV, NULL },
	{ ROOT, "DELETE", S "/resourceGroups/rg1" CMP "/virtualMachines" AV, NULL },
	{ ROOT, "GET", VM AV, NULL },
	{ ROOT, "GET", VM "/" AV, NULL },
	{ ROOT, "GET", S "/resourceGroups/RG1" CMP "/virtualMachines/GW1" AV, NULL },
	{ ROOT, "GET", S "/resourceGroups/rg1" CMP "/virtualMachines/nosuch" AV, NULL },
	{ ROOT, "GET", S "/resourceGroups/rg1" CMP "/virtualMachines/bad%20name" AV, NULL },
	{ ROOT, "PUT", S "/resourceGroups/rg1" CMP "/virtualMachines/bad%20name" AV, NULL },
	{ ROOT, "PUT", VM AV, "{" },
	{ ROOT, "DELETE", S "/resourceGroups/rg1" CMP "/virtualMachines/nosuch" AV, NULL },
	{ ROOT, "POST", VM AV, NULL },
	{ ROOT, "PATCH", VM AV, NULL },
	{ ROOT, "POST", VM "/start" AV, NULL },
	{ ROOT, "GET", S CMP "/virtualMachines/gw1" AV, NULL },
	{ ROOT, "GET", S "/resourceGroups/rg1" CMP "/virtualMachines/gw1/extensions/x" AV, NULL },

	/* tokens */
	{ ROOT, "GET", S "/providers/Jitgate/tokens" AV, NULL },
	{ ROOT, "GET", S "/providers/jitgate/TOKENS" AV, NULL },
	{ ROOT, "GET", S "/providers/Jitgate/tokens/" AV, NULL },
	{ ROOT, "POST", S "/providers/Jitgate/tokens" AV, NULL },
	{ ROOT, "PUT", S "/providers/Jitgate/tokens" AV, NULL },
	{ ROOT, "GET", S "/providers/Jitgate/tokens/t1" AV, NULL },
	{ ROOT, "PUT", S "/providers/Jitgate/tokens/bad%20name" AV, NULL },
	{ ROOT, "PUT", S "/providers/Jitgate/tokens/t1" AV, "{" },
	{ ROOT, "DELETE", S "/providers/Jitgate/tokens/nosuch" AV, NULL },
	{ ROOT, "POST", S "/providers/Jitgate/tokens/t1" AV, NULL },
	{ ROOT, "GET", S "/resourceGroups/rg1/providers/Jitgate/tokens" AV, NULL },
	{ ROOT, "GET", S "/providers/Jitgate/tokens/t1/x" AV, NULL },

	/* join tokens */
#define JT	S "/providers/Jitgate/joinTokens"
	{ ROOT, "GET", JT AV, NULL },
	{ ROOT, "GET", S "/providers/jitgate/JOINTOKENS" AV, NULL },
	{ ROOT, "POST", JT AV, "{\"resourceGroup\": \"rg1\"}" },
	{ ROOT, "POST", JT AV, "{\"resourceGroup\": \"rg1\", \"uses\": 1000, \"expiresIn\": \"P30D\"}" },
	{ ROOT, "POST", JT AV, NULL },
	{ ROOT, "POST", JT AV, "{" },
	{ ROOT, "POST", JT AV, "[]" },
	{ ROOT, "POST", JT AV, "{}" },
	{ ROOT, "POST", JT AV, "{\"resourceGroup\": 1}" },
	{ ROOT, "POST", JT AV, "{\"resourceGroup\": \"bad$rg\"}" },
	{ ROOT, "POST", JT AV, "{\"resourceGroup\": \"rg1\", \"uses\": 0}" },
	{ ROOT, "POST", JT AV, "{\"resourceGroup\": \"rg1\", \"uses\": 1001}" },
	{ ROOT, "POST", JT AV, "{\"resourceGroup\": \"rg1\", \"uses\": \"1\"}" },
	{ ROOT, "POST", JT AV, "{\"resourceGroup\": \"rg1\", \"expiresIn\": \"P31D\"}" },
	{ ROOT, "POST", JT AV, "{\"resourceGroup\": \"rg1\", \"expiresIn\": \"24h\"}" },
	{ ROOT, "PUT", JT AV, NULL },
	{ ROOT, "DELETE", JT AV, NULL },
	{ ROOT, "GET", JT "/" AV, NULL },
	{ ROOT, "GET", JT "/jt-000000000000" AV, NULL },
	{ ROOT, "DELETE", JT "/jt-000000000000" AV, NULL },
	{ ROOT, "DELETE", JT "/jt-000000000000/x" AV, NULL },
	{ ROOT, "GET", S "/resourceGroups/rg1/providers/Jitgate/joinTokens" AV, NULL },
	{ READER, "GET", JT AV, NULL },
	{ READER, "POST", JT AV, "{\"resourceGroup\": \"rg1\"}" },
	{ READER, "POST", JT AV, "{" },
	{ READER, "DELETE", JT "/jt-000000000000" AV, NULL },
	{ ANON, "GET", JT AV, NULL },
	{ ANON, "POST", JT AV, "{\"resourceGroup\": \"rg1\"}" },

	/* agents, as Owners manage them; and the agent protocol, which takes no API token and no root */
#define AG	S "/providers/Jitgate/agents"
#define AGRG	S "/resourceGroups/rg1/providers/Jitgate/agents"
	{ ROOT, "GET", AG AV, NULL },
	{ ROOT, "DELETE", AG AV, NULL },
	{ ROOT, "DELETE", AGRG "/gw1" AV, NULL },
	{ ROOT, "DELETE", AGRG "/bad%20name" AV, NULL },
	{ ROOT, "GET", AGRG "/gw1" AV, NULL },
	{ READER, "GET", AG AV, NULL },
	{ READER, "DELETE", AGRG "/gw1" AV, NULL },
	{ ANON, "GET", AG AV, NULL },
	/* exposed management ports: a list under the subscription and a resource group; only GET */
#define EX	S "/providers/Jitgate/exposedManagementPorts"
	{ ROOT, "GET", EX AV, NULL },
	{ ROOT, "GET", S "/resourceGroups/rg1/providers/Jitgate/exposedManagementPorts" AV, NULL },
	{ ROOT, "GET", S "/resourceGroups/rg1/providers/jitgate/EXPOSEDMANAGEMENTPORTS" AV, NULL },
	{ ROOT, "GET", EX AV "&port=22", NULL },
	{ ROOT, "GET", EX AV "&port=0", NULL },
	{ ROOT, "GET", EX AV "&port=65536", NULL },
	{ ROOT, "GET", EX AV "&port=ssh", NULL },
	{ ROOT, "GET", EX AV "&$skipToken=x", NULL },
	{ ROOT, "GET", EX AV "&$skipToken=5", NULL },
	{ ROOT, "GET", EX, NULL },
	{ ROOT, "POST", EX AV, NULL },
	{ ROOT, "DELETE", EX AV, NULL },
	{ ROOT, "GET", EX "/gw1" AV, NULL },
	{ READER, "GET", EX AV, NULL },
	{ ANON, "GET", EX AV, NULL },
	{ ROOT, "POST", "/agent/v1/join", "{}" },
	{ ROOT, "GET", "/agent/v1/join", NULL },
	{ READER, "POST", "/agent/v1/join", "{}" },
	{ ANON, "POST", "/agent/v1/join", "{}" },
	{ ROOT, "GET", "/agent/v1" VM "/state", NULL },
	{ READER, "GET", "/agent/v1" VM "/state?since=3", NULL },
	{ ROOT, "POST", "/agent/v1" VM "/state", NULL },
	{ ROOT, "PUT", "/agent/v1" VM "/status", NULL },
	{ READER, "POST", "/agent/v1" VM "/status", "{}" },
	{ ROOT, "GET", "/agent/v1/nothing", NULL },
	{ ROOT, "GET", "/agent/v1/subscriptions/x/state", NULL },
	{ ROOT, "PUT", VM AV, "{\"location\": \"local\", \"properties\": {\"enforcement\": \"agent\"}}" },

	/* the activity log */
	{ ROOT, "GET", S SEC "/jitActivityLog" AV, NULL },
	{ ROOT, "GET", S "/providers/microsoft.security/JitActivityLog" AV, NULL },
	{ ROOT, "GET", S SEC "/jitActivityLog/" AV, NULL },
	{ ROOT, "DELETE", S SEC "/jitActivityLog" AV, NULL },
	{ ROOT, "GET", S "/resourceGroups/rg1" SEC "/jitActivityLog" AV, NULL },
	{ ROOT, "GET", S SEC "/jitActivityLog/x" AV, NULL },

	/* unknown paths */
	{ ROOT, "GET", S "/providers/Microsoft.Network/networkSecurityGroups" AV, NULL },
	{ ROOT, "GET", S "/providers/Jitgate" AV, NULL },
	{ ROOT, "GET", S SEC AV, NULL },
	{ ROOT, "PUT", S SEC "/pricings" AV, NULL },
	{ ROOT, "GET", S "/resourceGroups" AV, NULL },
	{ ROOT, "GET", "/subscriptions//" SUB SEC "/jitNetworkAccessPolicies" AV, NULL },
	{ ROOT, "GET", "//subscriptions/" SUB SEC "/jitNetworkAccessPolicies" AV, NULL },

	/* what was PUT goes away last: DELETE answers */
	{ ROOT, "DELETE", POL AV, NULL },
	{ ROOT, "GET", POL AV, NULL },
	{ ROOT, "DELETE", VM AV, NULL },
	{ ROOT, "GET", VM AV, NULL },
};

/*
 * The store refusing where no request can make it refuse: faults injected at the API's calls into the
 * store (the program links with --wrap for these functions), one probe each, after the table above.
 */
enum fault {
	FAULT_NONE,
	FAULT_READ_FULL,	/* store_vm_list: -ENOSPC (a VM PUT's state read, inside its transaction; with a firewall) */
	FAULT_DELETE_BUSY,	/* store_vm_delete: -EBUSY (SQLITE_BUSY) */
};

static const struct fault_probe {
	struct probe p;
	enum fault fault;
} fault_probes[] = {
	{ { ROOT, "PUT", VM2 AV, VM2_BODY }, FAULT_READ_FULL },
	{ { ROOT, "PUT", VM2 AV, VM2_BODY }, FAULT_NONE },
	{ { ROOT, "DELETE", VM2 AV, NULL }, FAULT_DELETE_BUSY },
};

static enum fault fault_now;

int __real_store_vm_list(struct store *st, struct store_vm **ret, size_t *ret_n);
int __wrap_store_vm_list(struct store *st, struct store_vm **ret, size_t *ret_n);
int __real_store_vm_delete(struct store *st, int64_t id);
int __wrap_store_vm_delete(struct store *st, int64_t id);

int
__wrap_store_vm_list(struct store *st, struct store_vm **ret, size_t *ret_n)
{
	return fault_now == FAULT_READ_FULL ? -ENOSPC : __real_store_vm_list(st, ret, ret_n);
}

int
__wrap_store_vm_delete(struct store *st, int64_t id)
{
	return fault_now == FAULT_DELETE_BUSY ? -EBUSY : __real_store_vm_delete(st, id);
}

static const char *const methods[] = { "GET", "PUT", "POST", "DELETE", "PATCH", "HEAD", "OPTIONS", "get" };

static struct api api;
static char dir[] = "/tmp/test-api-routes-XXXXXX";

static void
release_held(void *ctx, const struct http_response *instead, size_t n)
{
	(void)ctx;
	(void)instead;
	(void)n;
}

/* The policy of POL_BODY, stored as its PUT would have stored it. */
static int
policy_seed(void)
{
	struct arm_policy_id pid;
	struct arm_vm_id vid;
	struct store_vm vm;
	struct policy *p = NULL;
	json_t *j = NULL;
	char *text = NULL;
	int64_t id;
	bool created;
	int r = -EINVAL;

	if (arm_vm_id_parse(VM, strlen(VM), &vid, NULL) == 0 && store_vm_get(api.store, &vid, &vm) == 0 &&
	    arm_policy_id_parse(POL, strlen(POL), &pid, NULL) == 0 &&
	    codec_policy_decode(POL_BODY, strlen(POL_BODY), &pid, &p, NULL) == 0 && (j = codec_policy_encode(p)) &&
	    (text = codec_dump(j, NULL)))
		r = store_policy_put(api.store, &pid, text, &vm.id, 1, time_now_ns(), &id, &created);
	free(text);
	json_decref(j);
	policy_free(p);
	return r;
}

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* One line: the request, then "status code target message" for an error body, the status alone otherwise. */
static void
probe_run(const struct probe *p, FILE *out)
{
	char buf[4096];
	struct http_request req;
	struct http_response resp;
	size_t n = 0, m, len;
	json_t *j, *e;

	for (m = 0; strcmp(methods[m], p->method); m++)
		;
	buf[n++] = (char)(m | (p->who == ROOT ? 8 | 16 : 2 << 4));
	len = strlen(p->target);
	memcpy(buf + n, p->target, len + 1);
	n += len + 1;
	n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%s",
			      p->who == READER ? "Authorization: Bearer " READER_SECRET "\n" : "",
			      p->body ? "Content-Type: application/json" : "") + 1;
	if (p->body) {
		memcpy(buf + n, p->body, strlen(p->body));
		n += strlen(p->body);
	}
	if (http_fake_parse((const uint8_t *)buf, n, &req) < 0)
		abort();
	memset(&resp, 0, sizeof(resp));
	api_handle(&api, &req, &resp);
	api_batch_end(&api);
	fprintf(out, "%s %s %s%s -> %d", p->who == ROOT ? "root" : p->who == ANON ? "anon" : "reader", p->method,
		p->target, p->body ? " +body" : "", resp.status);
	j = resp.body && resp.status >= 400 ? json_loadb(resp.body, resp.body_len, 0, NULL) : NULL;
	e = json_object_get(j, "error");
	if (e)
		fprintf(out, " %s [%s] %s", json_string_value(json_object_get(e, "code")),
			json_string_value(json_object_get(e, "target")) ? json_string_value(json_object_get(e, "target")) : "",
			json_string_value(json_object_get(e, "message")));
	fputc('\n', out);
	json_decref(j);
	free(resp.body);
	http_fake_free(&req);
}

int
main(int argc, char **argv)
{
	const char *golden = argc == 2 ? argv[1] : argc == 3 ? argv[2] : NULL;
	bool write = argc == 3 && !strcmp(argv[1], "--write");
	char db[sizeof(dir) + 16], *got = NULL, *want = NULL;
	size_t got_len = 0, i;
	struct core_error err;
	struct store_token t;
	FILE *out, *in;
	long want_len;
	int rc = 1;

	if (!golden) {
		fprintf(stderr, "usage: %s [--write] GOLDEN\n", argv[0]);
		return 2;
	}
	if (!mkdtemp(dir))
		return 1;
	snprintf(db, sizeof(db), "%s/jitgate.db", dir);
	if (store_open(db, &api.store, &err) < 0) {
		fprintf(stderr, "store_open: %s\n", err.message);
		goto out;
	}
	memset(&t, 0, sizeof(t));
	snprintf(t.name, sizeof(t.name), "reader");
	snprintf(t.role, sizeof(t.role), "Reader");
	if (api_token_hash(READER_SECRET, strlen(READER_SECRET), t.hash) < 0 || store_token_insert(api.store, &t) < 0)
		goto out;
	snprintf(api.settings.subscription, sizeof(api.settings.subscription), SUB);
	snprintf(api.settings.location, sizeof(api.settings.location), "local");
	api.settings.max_duration_ms = POLICY_DURATION_MAX_MS_DEFAULT;
	api.release_held = release_held;
	snprintf(api.fw_reason, sizeof(api.fw_reason), "the test has no kernel firewall");

	out = open_memstream(&got, &got_len);
	if (!out)
		goto out;
	for (i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		if (i == SEEDED && policy_seed() < 0) {
			fprintf(stderr, "cannot store the policy\n");
			fclose(out);
			goto out;
		}
		probe_run(&probes[i], out);
	}
	for (i = 0; i < sizeof(fault_probes) / sizeof(fault_probes[0]); i++) {
		static char kernel;	/* never called: the injected fault comes first */

		fault_now = fault_probes[i].fault;
		/* a state read happens only with a firewall */
		api.fw = fault_now == FAULT_READ_FULL ? (struct fw *)(void *)&kernel : NULL;
		probe_run(&fault_probes[i].p, out);
		fault_now = FAULT_NONE;
		api.fw = NULL;
	}
	fclose(out);

	if (write) {
		out = fopen(golden, "w");
		rc = !out || fwrite(got, 1, got_len, out) != got_len;
		if (out)
			fclose(out);
		goto out;
	}
	in = fopen(golden, "r");
	if (!in || fseek(in, 0, SEEK_END) < 0 || (want_len = ftell(in)) < 0 || fseek(in, 0, SEEK_SET) < 0 ||
	    !(want = malloc((size_t)want_len + 1)) || fread(want, 1, (size_t)want_len, in) != (size_t)want_len) {
		fprintf(stderr, "cannot read %s\n", golden);
		if (in)
			fclose(in);
		goto out;
	}
	fclose(in);
	want[want_len] = '\0';
	rc = (size_t)want_len != got_len || memcmp(want, got, got_len);
	if (rc) {
		/* the first line that differs, then everything this run answered */
		const char *a = want, *b = got;

		while (*a && *a == *b) {
			const char *na = strchr(a, '\n'), *nb = strchr(b, '\n');

			if (!na || !nb || na - a != nb - b || memcmp(a, b, (size_t)(na - a)))
				break;
			a = na + 1;
			b = nb + 1;
		}
		fprintf(stderr, "the routing matrix changed:\nwant: %.*s\ngot:  %.*s\n\nthis run:\n%s",
			(int)strcspn(a, "\n"), a, (int)strcspn(b, "\n"), b, got);
	}
out:
	free(got);
	free(want);
	api_caches_free(&api);
	api_closing_free(&api);
	store_close(api.store);
	nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	return rc;
}

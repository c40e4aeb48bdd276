/* The agent protocol's front door (doc/agent-protocol.md): /agent/v1 paths, their credentials, join and status. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/api-internal.h"
#include "codec/codec-agent.h"
#include "core/timeutil.h"

#define AGENT_SUFFIX_STATE	"/state"
#define AGENT_SUFFIX_STATUS	"/status"
#define AGENT_SUFFIX_ROTATE	"/rotate"
#define AGENT_OP_ROTATE		"Jitgate/agents/rotate"	/* activity rows of a credential rotation */

_Static_assert(API_TOKEN_BYTES + sizeof(API_AGENT_PREFIX) - 1 <= API_TOKEN_TEXT_MAX, "an agent secret's text");
_Static_assert(API_TOKEN_TEXT_MAX <= AGENT_CREDENTIAL_MAX, "the joined answer cannot hold a credential");
_Static_assert(AGENT_VERSION_MAX <= STORE_VERSION_MAX, "an agent's version does not fit the store");
_Static_assert(AGENT_REASON_MAX < STORE_REASON_MAX, "an agent's reason does not fit the store");

#define INSTANCE_CHARS	"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"

/* ?instance=: which of possibly several agents holding this credential calls (api_watch_instance); 400 when malformed. */
static int
agent_instance_note(struct api *api, struct api_caller *c, const struct http_request *req, const struct store_vm *vm,
		    struct http_response *resp)
{
	const char *inst = http_request_query(req, "instance");
	char text[ARM_ID_MAX + 1];
	size_t n;

	if (!inst)
		return 0;	/* an agent from before instance ids */
	n = strlen(inst);
	if (n == 0 || n > API_AGENT_INSTANCE_MAX || strspn(inst, INSTANCE_CHARS) != n)
		return api_error(resp, 400, "InvalidInstance", "instance",
				 "instance must be 1 to %d letters, digits, '-' or '_'", API_AGENT_INSTANCE_MAX), -EINVAL;
	/* a watch back from its park was counted when it came: a dead agent's last watch is not a live agent */
	if (req->unparked || api_watch_instance(api, vm->id, inst) == 0)
		return 0;
	arm_vm_id_format(&vm->arm, text, sizeof(text));
	api_log(api, c, AGENT_OP_AUTH, text, "Failed", NULL, "%s", API_AGENT_SHARED_TEXT);
	api_watch_alert(api, "agent VM %s: %s", text, API_AGENT_SHARED_TEXT);
	return 0;
}

/*
 * The agent calling for VM `vm`: 0 with *ret, or 401 (unknown or revoked credential) or 403 (another
 * VM's credential) in resp; both counted against the address's failure budget (429 past it).
 */
static int
agent_authenticate(struct api *api, struct api_caller *c, const struct http_request *req, const struct store_vm *vm,
		   struct store_agent *ret, struct http_response *resp)
{
	uint8_t hash[STORE_TOKEN_HASH_LEN];
	char text[ARM_ID_MAX + 1], what[96];
	int r;

	if (api_agent_bearer(api, c, req, API_AGENT_PREFIX, hash, resp) < 0)
		return -EACCES;
	r = store_agent_find(api->store, hash, ret);
	explicit_bzero(hash, sizeof(hash));
	if (r < 0 && r != -ENOENT) {
		api_store_error(api, resp, r, "cannot read agents");
		return r;
	}
	if (r == -ENOENT || ret->revoked_ns) {
		api_error(resp, 401, "AuthenticationFailed", "", "authentication failed: the agent credential is %s",
			  r == -ENOENT ? "not valid" : "revoked");
		api_auth_failed(api, c, AGENT_OP_AUTH, req->path, true,
				r == -ENOENT ? "unknown agent credential" : "revoked agent credential", resp);
		return -EACCES;
	}
	snprintf(c->name, sizeof(c->name), "agent:%lld", (long long)ret->vm_id);
	if (ret->vm_id != vm->id) {
		arm_vm_id_format(&vm->arm, text, sizeof(text));
		api_error(resp, 403, "AuthorizationFailed", "",
			  "an agent credential is good only for its own VM's endpoints, not for '%s'", text);
		/*
		 * A holder of a good credential must not grow the activity log without
		 * bound either: the failure budget of its address (one row per window,
		 * then 429), as for a failed authentication.
		 */
		snprintf(what, sizeof(what), "the agent of VM %lld used its credential on another VM's path",
			 (long long)ret->vm_id);
		api_auth_failed(api, c, AGENT_OP_AUTH, text, true, what, resp);
		return -EACCES;
	}
	return agent_instance_note(api, c, req, vm, resp);
}

static void
agent_report_of(const struct agent_status *s, struct store_agent_report *ret)
{
	memset(ret, 0, sizeof(*ret));
	ret->applied_revision = s->revision;
	snprintf(ret->version, sizeof(ret->version), "%s", s->version);
	ret->supported = s->supported;
	snprintf(ret->reason, sizeof(ret->reason), "%s", s->reason);
	api_agent_listening_text(s, ret->listening, sizeof(ret->listening));
	ret->tamper_undone = s->tamper_undone;
	snprintf(ret->last_error, sizeof(ret->last_error), "%s", s->error);
}

/* Does the agent report addresses other than the VM's (compared as addresses, whole list)? */
static bool
addresses_differ(const struct store_vm *vm, const struct agent_status *s)
{
	size_t n = s->n_addrs < FW_VM_ADDRS_MAX ? s->n_addrs : FW_VM_ADDRS_MAX, i;

	for (i = 0; n == vm->n_addrs && i < n && net_addr_equal(&vm->addrs[i], &s->addrs[i]); i++)
		;
	return !(n == vm->n_addrs && i == n);
}

/* The VM's addresses as its agent reports them, when they changed: written (which moves its revision). */
static int
agent_addresses_keep(struct api *api, struct store_vm *vm, const struct agent_status *s)
{
	size_t n = s->n_addrs < FW_VM_ADDRS_MAX ? s->n_addrs : FW_VM_ADDRS_MAX;

	/* any write of the VM moves its revision, which would wake its watch for nothing */
	if (!addresses_differ(vm, s))
		return 0;
	vm->n_addrs = n;
	memcpy(vm->addrs, s->addrs, n * sizeof(s->addrs[0]));
	return store_vm_put(api->store, vm, NULL, NULL);
}

static bool
report_equal(const struct store_agent_report *a, const struct store_agent_report *b)
{
	return a->applied_revision == b->applied_revision && a->supported == b->supported &&
	       a->tamper_undone == b->tamper_undone && !strcmp(a->version, b->version) &&
	       !strcmp(a->reason, b->reason) && !strcmp(a->listening, b->listening) &&
	       !strcmp(a->last_error, b->last_error);
}

/* 429 with Retry-After: the VM's budget of status changes and rotations is spent for retry_s more seconds. */
static void
budget_spent(struct http_response *resp, int retry_s)
{
	char ra[16];

	snprintf(ra, sizeof(ra), "%d", retry_s);
	http_response_header(resp, "Retry-After", ra);
	api_error(resp, 429, "TooManyRequests", "", "more than %d changed statuses of this VM within %d s; retry after %d s",
		  API_AGENT_STATUS_CHANGES_MAX, API_AGENT_STATUS_WINDOW_S, retry_s);
}

/* What a status would write (api-limits.h, API_AGENT_SEEN_WRITE_NS): nothing, its last contact, or a change. */
enum status_write { STATUS_WRITE_NONE, STATUS_WRITE_SEEN, STATUS_WRITE_APPLIED, STATUS_WRITE_CHANGE };

static enum status_write
status_write_of(struct api *api, const struct store_agent *a, const struct store_agent_report *rep,
		const struct store_vm *vm, const struct agent_status *s)
{
	int64_t rev;

	if (report_equal(&a->report, rep) && !addresses_differ(vm, s))
		return time_now_ns() - a->seen_ns >= API_AGENT_SEEN_WRITE_NS ? STATUS_WRITE_SEEN : STATUS_WRITE_NONE;
	/*
	 * A revision newly applied, up to the VM's own: moved only by those who may change the VM. Not with
	 * new addresses, whose write moves the revision again: two agents sharing a credential on hosts with
	 * different addresses would otherwise wake each other without end.
	 */
	if (rep->applied_revision > a->report.applied_revision && !addresses_differ(vm, s) &&
	    store_vm_revision(api->store, vm->id, &rev) == 0 && rep->applied_revision <= rev)
		return STATUS_WRITE_APPLIED;
	return STATUS_WRITE_CHANGE;
}

/* The report and the addresses in one transaction; -ENOENT when the agent was revoked since it authenticated. */
static int
agent_status_write(struct api *api, struct store_vm *vm, const struct store_agent_report *rep,
		   const struct agent_status *s)
{
	int r;

	if ((r = store_begin(api->store)) < 0)
		return r;
	r = store_agent_report(api->store, vm->id, rep, time_now_ns());
	if (r == 0)
		r = agent_addresses_keep(api, vm, s);
	if (r == 0)
		r = store_commit(api->store);
	else
		store_rollback(api->store);
	return r;
}

/* POST /agent/v1{VM}/status: keep what the agent reports (what changed), mark the grants it applied; 204. */
static void
agent_status_post(struct api *api, struct api_caller *c, const struct http_request *req, struct store_vm *vm,
		  struct http_response *resp)
{
	struct core_error err = { 0 };
	struct store_agent_report rep;
	struct agent_status s;
	struct store_agent a;
	enum status_write w;
	int r, retry;

	if (agent_authenticate(api, c, req, vm, &a, resp) < 0)
		return;
	resp->authenticated = true;
	if (codec_agent_status_decode(req->body, req->body_len, &s, &err) < 0) {
		api_error_record(resp, 400, &err);
		return;
	}
	agent_report_of(&s, &rep);
	w = status_write_of(api, &a, &rep, vm, &s);
	if (w == STATUS_WRITE_CHANGE && (retry = api_watch_status_change(api, vm->id)) > 0) {
		budget_spent(resp, retry);
		return;
	}
	r = w == STATUS_WRITE_NONE ? 0 : agent_status_write(api, vm, &rep, &s);
	if (r == -ENOENT) {	/* revoked since it authenticated */
		api_error(resp, 401, "AuthenticationFailed", "", "authentication failed: the agent credential is revoked");
		return;
	}
	if (r < 0) {
		api_store_error(api, resp, r, "cannot keep the agent's status");
		return;
	}
	api_watch_contact(api, vm->id);
	resp->status = 204;
}

/*
 * POST /agent/v1{VM}/rotate: a new credential for the calling agent, answered once (201, the join's
 * answer). The current one keeps working until the new one is first used (store_agent_rotate), so an
 * answer lost on the way costs nothing. Each counts against the VM's status budget (a write each).
 */
static void
agent_rotate_post(struct api *api, struct api_caller *c, const struct http_request *req, struct store_vm *vm,
		  struct http_response *resp)
{
	struct agent_joined out = { 0 };
	uint8_t hash[STORE_TOKEN_HASH_LEN] = { 0 };
	struct store_agent a;
	int r, retry;

	if (agent_authenticate(api, c, req, vm, &a, resp) < 0)
		return;
	resp->authenticated = true;
	if ((retry = api_watch_status_change(api, vm->id)) > 0) {
		budget_spent(resp, retry);
		return;
	}
	arm_vm_id_format(&vm->arm, out.vm, sizeof(out.vm));
	if (api_secret_generate(API_AGENT_PREFIX, out.credential, sizeof(out.credential)) < 0 ||
	    api_token_hash(out.credential, strlen(out.credential), hash) < 0) {
		api_error(resp, 500, "InternalError", "", "cannot make a credential");
		goto out;
	}
	if ((r = store_begin(api->store)) < 0) {
		api_store_error(api, resp, r, "cannot write");
		goto out;
	}
	if ((r = store_agent_rotate(api->store, vm->id, hash)) == 0) {
		api_log(api, c, AGENT_OP_ROTATE, out.vm, "Succeeded", NULL, "the agent rotated its credential (the "
			"current one works until the new one is first used)");
		r = store_commit(api->store);
	} else {
		store_rollback(api->store);
	}
	if (r == -ENOENT) {	/* revoked since it authenticated */
		api_error(resp, 401, "AuthenticationFailed", "", "authentication failed: the agent credential is revoked");
		goto out;
	}
	if (r < 0) {
		api_store_error(api, resp, r, "cannot rotate the credential");
		goto out;
	}
	if (store_vm_revision(api->store, vm->id, &out.revision) < 0)
		out.revision = 0;
	resp->secret = true;
	api_json(resp, 201, codec_agent_joined_encode(&out));
out:
	explicit_bzero(hash, sizeof(hash));
	explicit_bzero(&out, sizeof(out));
}

/* The VM named by an agent path "/agent/v1{VM}{suffix}": 0, or 404 in resp. */
static int
agent_path_vm(struct api *api, const struct http_request *req, size_t suffix_len, struct store_vm *ret,
	      struct http_response *resp)
{
	const char *id = req->path + strlen(API_AGENT_ROOT);
	size_t n = strlen(id) - suffix_len;
	struct core_error err = { 0 };
	struct arm_vm_id arm;
	int r;

	if (arm_vm_id_parse(id, n, &arm, &err) < 0) {
		api_error(resp, 404, "NotFound", "", "there is no agent endpoint at %.200s", req->path);
		return -ENOENT;
	}
	r = store_vm_get(api->store, &arm, ret);
	if (r == -ENOENT) {
		/* the same answer whoever asks: no agent learns which VMs exist */
		memset(ret, 0, sizeof(*ret));
		ret->arm = arm;
		ret->id = -1;
		return 0;
	}
	if (r < 0) {
		api_store_error(api, resp, r, "cannot read the VM");
		return r;
	}
	return 0;
}

static bool
ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n > k && !strcasecmp(s + n - k, suffix);
}

void
api_agent_handle(struct api *api, struct api_caller *c, const struct http_request *req, struct http_response *resp)
{
	bool is_state = ends_with(req->path, AGENT_SUFFIX_STATE), is_status = ends_with(req->path, AGENT_SUFFIX_STATUS);
	bool is_rotate = ends_with(req->path, AGENT_SUFFIX_ROTATE);
	const char *method = is_state ? "GET" : "POST";
	struct store_agent a;
	struct store_vm vm;

	/* a watch back from its park is no longer parked, whatever it is answered now */
	if (req->unparked)
		api_watch_unparked(api, (int64_t)req->park_key);
	if (!strcasecmp(req->path, API_AGENT_ROOT "/join")) {
		if (strcmp(req->method, "POST"))
			api_error(resp, 405, "MethodNotAllowed", "", "%s is not allowed on %.200s", req->method, req->path);
		else
			api_agent_join(api, c, req, resp);
		return;
	}
	if (!is_state && !is_status && !is_rotate) {
		api_error(resp, 404, "NotFound", "", "there is no agent endpoint at %.200s", req->path);
		return;
	}
	if (agent_path_vm(api, req, strlen(is_state ? AGENT_SUFFIX_STATE : is_status ? AGENT_SUFFIX_STATUS :
					   AGENT_SUFFIX_ROTATE), &vm, resp) < 0)
		return;
	if (strcmp(req->method, method)) {
		api_error(resp, 405, "MethodNotAllowed", "", "%s is not allowed on %.200s", req->method, req->path);
		return;
	}
	if (is_status || is_rotate) {
		(is_status ? agent_status_post : agent_rotate_post)(api, c, req, &vm, resp);
		return;
	}
	/* (a watch back from its park is authenticated again: its agent revoked meanwhile, 401) */
	if (agent_authenticate(api, c, req, &vm, &a, resp) < 0)
		return;
	resp->authenticated = true;
	api_agent_state_get(api, req, &vm, resp);
}

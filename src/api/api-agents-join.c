/*
 * POST /agent/v1/join: a join token registers its host as an agent VM and gets the agent its own credential;
 * and the bearer check every agent endpoint starts with.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/api-internal.h"
#include "codec/codec-agent.h"
#include "core/timeutil.h"

#define AGENT_OP_JOIN	"Jitgate/agents/join"	/* activity rows of a join */


int
api_agent_bearer(struct api *api, const struct api_caller *c, const struct http_request *req, const char *prefix,
	     uint8_t hash[STORE_TOKEN_HASH_LEN], struct http_response *resp)
{
	const char *auth = http_request_header(req, "Authorization"), *secret;
	size_t n;

	if (!auth || strncasecmp(auth, "Bearer ", 7)) {
		api_error(resp, 401, "AuthenticationFailed", "",
			  "authentication failed: send 'Authorization: Bearer <%s…>'", prefix);
		api_auth_failed(api, c, AGENT_OP_AUTH, req->path, false, "no bearer credential", resp);
		return -EACCES;
	}
	for (secret = auth + 7; *secret == ' '; secret++)
		;
	n = strlen(secret);
	if (strncmp(secret, prefix, strlen(prefix)) || n > API_TOKEN_TEXT_MAX ||
	    api_token_hash(secret, n, hash) < 0) {
		api_error(resp, 401, "AuthenticationFailed", "",
			  "authentication failed: this endpoint takes only %s (API tokens and sessions are not accepted "
			  "here)",
			  !strcmp(prefix, API_JOIN_TOKEN_PREFIX) ? "a join token (jgj_…)" : "an agent credential (jga_…)");
		api_auth_failed(api, c, AGENT_OP_AUTH, req->path, true, "not an agent credential", resp);
		return -EACCES;
	}
	return 0;
}

/* A join on its way from the request to the answer. */
struct join {
	struct agent_join body;
	struct store_join_token jt;
	struct store_vm vm;
	char text[ARM_ID_MAX + 1];	/* the VM's id */
	char secret[API_TOKEN_TEXT_MAX + 1];
	uint8_t hash[STORE_TOKEN_HASH_LEN];
	int64_t now;
	int status;			/* of a refusal */
	struct core_error err;
};

/* Spend one use of the join token: 0, or -errno with status and err (401s, logged and counted as failures). */
static int
join_token_spend(struct api *api, struct api_caller *c, const struct http_request *req, struct join *j,
		 const uint8_t hash[STORE_TOKEN_HASH_LEN])
{
	int r = store_join_token_use(api->store, hash, j->now, &j->jt);

	j->status = 401;
	switch (r) {
	case 0:
		snprintf(c->name, sizeof(c->name), "join:%s", j->jt.id);
		return 0;
	case -ENOENT:
		core_error_set(&j->err, "AuthenticationFailed", "", "authentication failed: the join token is not valid");
		break;
	case -EKEYREVOKED:
		core_error_set(&j->err, "JoinTokenRevoked", "", "the join token was revoked; ask an Owner for a new one");
		break;
	case -EKEYEXPIRED:
		core_error_set(&j->err, "JoinTokenExpired", "", "the join token has expired; ask an Owner for a new one");
		break;
	case -EDQUOT:
		core_error_set(&j->err, "JoinTokenUsedUp", "", "the join token has no uses left; ask an Owner for a new one");
		break;
	default:
		j->status = api_store_fail(api, r, &j->err, "cannot read join tokens");
		return r;
	}
	return r;
}

/* The VM the join registers, in the token's resource group: refused when the name is another host's. */
static int
join_vm(struct api *api, struct join *j)
{
	struct core_error perr = { 0 };
	struct store_agent a;
	size_t n;
	int len, r;

	len = snprintf(j->text, sizeof(j->text), "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Compute/"
		       "virtualMachines/%s", j->jt.subscription, j->jt.resource_group, j->body.name);
	memset(&j->vm, 0, sizeof(j->vm));
	j->status = 400;
	if (len < 0 || (size_t)len >= sizeof(j->text) || arm_vm_id_parse(j->text, (size_t)len, &j->vm.arm, &perr) < 0)
		return core_error_set(&j->err, perr.code[0] ? perr.code : "InvalidName", "name",
				      "the name cannot name a VM: %s", perr.message), -EINVAL;
	r = store_vm_get(api->store, &j->vm.arm, &j->vm);
	j->status = 409;
	if (r == 0 && j->vm.point != STORE_POINT_AGENT)
		return core_error_set(&j->err, "VirtualMachineExists", "name",
				      "'%s' is a VM enforced by jitgated itself; an agent cannot join as it", j->text),
		       -EEXIST;
	if (r == 0 && store_agent_get(api->store, j->vm.id, &a) == 0 && !a.revoked_ns)
		return core_error_set(&j->err, "AgentAlreadyJoined", "name",
				      "'%s' has an agent already; revoke it (jitgate agent revoke) before joining again",
				      j->text), -EEXIST;
	if (r < 0 && r != -ENOENT) {
		j->status = api_store_fail(api, r, &j->err, "cannot read the VM");
		return r;
	}
	if (r == -ENOENT) {
		snprintf(j->vm.location, sizeof(j->vm.location), "%s", api->settings.location);
		j->vm.point = STORE_POINT_AGENT;
	}
	snprintf(j->vm.os_type, sizeof(j->vm.os_type), "%s", j->body.os_type);
	n = j->body.status.n_addrs < FW_VM_ADDRS_MAX ? j->body.status.n_addrs : FW_VM_ADDRS_MAX;
	j->vm.n_addrs = n;
	memcpy(j->vm.addrs, j->body.status.addrs, n * sizeof(j->vm.addrs[0]));
	if ((r = store_vm_put(api->store, &j->vm, &j->vm.id, NULL)) < 0)
		j->status = api_store_fail(api, r, &j->err, "cannot register the VM");
	return r;
}

void
api_agent_listening_text(const struct agent_status *s, char *buf, size_t size)
{
	size_t i, len = 0;

	buf[0] = '\0';
	for (i = 0; i < s->n_listening; i++) {
		int n = snprintf(buf + len, size - len, "%s%s/%u", len ? " " : "", net_proto_name(s->listening[i].proto),
				 s->listening[i].number);

		if (n < 0 || (size_t)n >= size - len) {
			buf[len] = '\0';	/* what fits, whole entries only */
			return;
		}
		len += (size_t)n;
	}
}

/* The agent's credential, and what it reported in its join. */
static int
join_agent(struct api *api, struct join *j)
{
	struct store_agent_report rep;
	int r;

	j->status = 500;
	if (api_secret_generate(API_AGENT_PREFIX, j->secret, sizeof(j->secret)) < 0 ||
	    api_token_hash(j->secret, strlen(j->secret), j->hash) < 0)
		return core_error_set(&j->err, "InternalError", "", "cannot make a credential"), -EIO;
	r = store_agent_join(api->store, j->vm.id, j->hash, j->jt.id, j->now);
	if (r == -EEXIST) {
		j->status = 409;
		return core_error_set(&j->err, "AgentAlreadyJoined", "name", "'%s' has an agent already", j->text), r;
	}
	memset(&rep, 0, sizeof(rep));
	rep.applied_revision = -1;
	snprintf(rep.version, sizeof(rep.version), "%s", j->body.status.version);
	rep.supported = j->body.status.supported;
	snprintf(rep.reason, sizeof(rep.reason), "%s", j->body.status.reason);
	/* what listens is known from the join on: the exposed-ports list need not wait for the first status */
	api_agent_listening_text(&j->body.status, rep.listening, sizeof(rep.listening));
	if (r == 0)
		r = store_agent_report(api->store, j->vm.id, &rep, j->now);
	if (r < 0)
		j->status = api_store_fail(api, r, &j->err, "cannot record the agent");
	return r;
}

static void
join_answer(struct api *api, struct api_caller *c, struct join *j, struct http_response *resp)
{
	struct agent_joined out = { 0 };

	snprintf(out.vm, sizeof(out.vm), "%s", j->text);
	snprintf(out.credential, sizeof(out.credential), "%s", j->secret);
	if (store_vm_revision(api->store, j->vm.id, &out.revision) < 0)
		out.revision = 0;
	resp->secret = true;
	api_json(resp, 201, codec_agent_joined_encode(&out));
	explicit_bzero(&out, sizeof(out));
}

void
api_agent_join(struct api *api, struct api_caller *c, const struct http_request *req, struct http_response *resp)
{
	struct join *j = calloc(1, sizeof(*j));
	uint8_t hash[STORE_TOKEN_HASH_LEN];
	int r;

	if (!j) {
		api_error(resp, 500, "InternalError", "", "out of memory");
		return;
	}
	j->now = time_now_ns();
	if (api_agent_bearer(api, c, req, API_JOIN_TOKEN_PREFIX, hash, resp) < 0)
		goto out;
	if (codec_agent_join_decode(req->body, req->body_len, &j->body, &j->err) < 0) {
		api_error_record(resp, 400, &j->err);
		goto out;
	}
	if ((r = store_begin(api->store)) < 0) {
		api_store_error(api, resp, r, "cannot write");
		goto out;
	}
	if ((r = join_token_spend(api, c, req, j, hash)) < 0 || (r = join_vm(api, j)) < 0 ||
	    (r = join_agent(api, j)) < 0) {
		store_rollback(api->store);
		api_error_record(resp, j->status, &j->err);
		if (j->status == 401)
			api_auth_failed(api, c, AGENT_OP_JOIN, req->path, true, j->err.message, resp);
		else if (j->status == 409)	/* spends no use: budgeted as a failure, or a token could log without bound */
			api_auth_failed(api, c, AGENT_OP_JOIN, j->text, true, j->err.message, resp);
		goto out;
	}
	api_log(api, c, AGENT_OP_JOIN, j->text, "Succeeded", NULL, "a host joined as agent VM %s with join token %s",
		j->vm.arm.name, j->jt.id);
	if ((r = store_commit(api->store)) < 0) {
		api_store_error(api, resp, r, "the store refused the join");
		goto out;
	}
	resp->authenticated = true;
	join_answer(api, c, j, resp);
out:
	explicit_bzero(hash, sizeof(hash));
	explicit_bzero(j, sizeof(*j));
	free(j);
}

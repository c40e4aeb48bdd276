/* Agents over the API (jitgate's extension): Owners list the joined agents and revoke one's credential. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api-internal.h"
#include "core/timeutil.h"

#define AGENT_OP_REVOKE	"Jitgate/agents/delete"	/* activity rows of a revoke */

/*
 * Who may list and revoke agents is who may manage join tokens (Jitgate/tokens/read and write), at the scope
 * of the agent VM's resource group. `rg` NULL asks about the role alone (a list, narrowed afterwards).
 */
static bool
agents_may(const struct api *api, const struct api_caller *c, const char *action, const char *rg)
{
	char scope[ARM_ID_MAX + 1];

	if (!rbac_any_allows(c->assign, c->n_assign, action, NULL))
		return false;
	if (!rg)
		return true;
	snprintf(scope, sizeof(scope), "/subscriptions/%s/resourceGroups/%s", api->settings.subscription, rg);
	return rbac_any_allows(c->assign, c->n_assign, action, scope);
}

static json_t *
agent_item(struct api *api, const struct store_vm *vm, const struct store_agent *a)
{
	char id[ARM_ID_MAX + 1], why[STORE_REASON_MAX], t[TIME_FORMAT_SIZE];
	json_t *o = api_agent_render(api, vm, why, sizeof(why));

	arm_vm_id_format(&vm->arm, id, sizeof(id));
	if (!o)
		return NULL;
	json_object_set_new(o, "vm", json_string(id));
	json_object_set_new(o, "name", json_string(vm->arm.name));
	json_object_set_new(o, "resourceGroup", json_string(vm->arm.resource_group));
	json_object_set_new(o, "joinToken", json_string(a->join_token));
	if (a->joined_ns && time_format_azure(a->joined_ns, t, sizeof(t)) > 0)
		json_object_set_new(o, "joinedTimeUtc", json_string(t));
	return o;
}

/* GET /subscriptions/{s}/providers/Jitgate/agents: every agent (revoked ones too) the caller may manage. */
void
api_agents_list(struct api *api, const struct api_caller *c, const struct http_request *req,
		struct http_response *resp)
{
	struct store_agent *v = NULL;
	size_t n = 0, i;
	json_t *items;
	int r;

	if (!agents_may(api, c, RBAC_TOKEN_READ, NULL)) {
		api_require(api, c, RBAC_TOKEN_READ, req->path, resp);
		return;
	}
	if ((r = store_agent_list(api->store, &v, &n)) < 0) {
		api_store_error(api, resp, r, "cannot read agents");
		return;
	}
	items = json_array();
	for (i = 0; items && i < n; i++) {
		struct store_vm vm;

		if (store_vm_get_by_id(api->store, v[i].vm_id, &vm) < 0 ||
		    !agents_may(api, c, RBAC_TOKEN_READ, vm.arm.resource_group))
			continue;
		json_array_append_new(items, agent_item(api, &vm, &v[i]));
	}
	free(v);
	api_list_respond(req, items, resp);
}

/*
 * DELETE /subscriptions/{s}/resourceGroups/{rg}/providers/Jitgate/agents/{vm name}: the agent's credential
 * is revoked (its watch and status are 401 from now on; the VM stays, its ports closed on the host as
 * the agent last had them). 200 with the agent; 404 AgentNotFound when the VM has no valid agent.
 */
void
api_agent_revoke(struct api *api, const struct api_caller *c, const struct http_request *req,
		 const struct arm_vm_id *id, struct http_response *resp)
{
	char text[ARM_ID_MAX + 1];
	struct store_agent a;
	struct store_vm vm;
	int r;

	arm_vm_id_format(id, text, sizeof(text));
	if (!agents_may(api, c, RBAC_TOKEN_WRITE, id->resource_group)) {
		api_require(api, c, RBAC_TOKEN_WRITE, text, resp);
		return;
	}
	r = store_vm_get(api->store, id, &vm);
	if (r == 0)
		r = store_agent_revoke(api->store, vm.id, time_now_ns());
	if (r == -ENOENT) {
		api_error(resp, 404, "AgentNotFound", "", "'%s' has no agent with a valid credential", text);
		return;
	}
	if (r < 0 || (r = store_agent_get(api->store, vm.id, &a)) < 0) {
		api_store_error(api, resp, r, "cannot revoke the agent");
		return;
	}
	api_watch_kick(api, vm.id);
	api_log(api, c, AGENT_OP_REVOKE, text, "Succeeded", NULL,
		"revoked the credential of the agent that joined with %s", a.join_token);
	api_json(resp, 200, agent_item(api, &vm, &a));
}

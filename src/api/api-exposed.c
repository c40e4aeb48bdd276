/* Exposed management ports (jitgate's extension): agent VMs with a listening management port that no JIT rule covers. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/api-internal.h"
#include "codec/codec-limits.h"
#include "core/timeutil.h"

/*
 * The ports one VM's report can name: its agent reports at most AGENT_LISTENING_MAX, and the store
 * keeps what of them fits in STORE_LISTENING_MAX characters.
 */
#define EXPOSED_PORTS_MAX	AGENT_LISTENING_MAX

struct exposed_port {
	uint16_t number;
	enum net_proto proto;
};

/*
 * The ports of an agent's stored report ("TCP/22 UDP/3389"), in its order; an entry that does not
 * parse is skipped (the store holds what the agent codec accepted, so none should).
 */
static size_t
listening_parse(const char *text, struct exposed_port *ret, size_t max)
{
	const char *p = text;
	size_t n = 0;

	while (*p && n < max) {
		size_t len = strcspn(p, " "), slash;

		slash = strcspn(p, "/");
		if (len && slash < len &&
		    net_proto_parse(p, slash, &ret[n].proto, NULL) == 0 &&
		    net_port_parse(p + slash + 1, len - slash - 1, &ret[n].number, NULL) == 0)
			n++;
		p += len;
		while (*p == ' ')
			p++;
	}
	return n;
}

/* Does a rule of pv (its VM's entry in its policy) cover this listening port? A rule of protocol "*" covers both. */
static bool
port_is_covered(const struct policy_vm *pv, const struct exposed_port *lp)
{
	size_t i;

	for (i = 0; pv && i < pv->n_ports; i++)
		if (pv->ports[i].number == lp->number &&
		    (pv->ports[i].proto == NET_PROTO_ANY || pv->ports[i].proto == lp->proto))
			return true;
	return false;
}

/*
 * The VM's listening ports that its policy (if any) does not cover, into ports (a JSON array);
 * *ret_configured says whether it is in a policy. `only`: just that port number (0: any).
 */
static int
uncovered_ports(struct api *api, const struct store_vm *vm, const char *listening, uint16_t only, json_t *ports,
		bool *ret_configured)
{
	struct exposed_port lp[EXPOSED_PORTS_MAX];
	const struct policy_vm *pv = NULL;
	struct store_policy sp = { 0 };
	struct policy *p = NULL;
	size_t n = listening_parse(listening, lp, EXPOSED_PORTS_MAX), i;
	int64_t pid;
	int r = 0;

	*ret_configured = false;
	if (n == 0)
		return 0;
	r = store_policy_of_vm(api->store, vm->id, &pid);
	if (r == 0) {
		*ret_configured = true;
		/* pv (NULL: not in it) points into the cache's copy or p, without copying a 1,000-VM policy */
		if ((r = store_policy_get_by_id(api->store, pid, &sp)) < 0 ||
		    (r = api_policy_stored_vm(api, &sp, &vm->arm, &pv, &p, NULL)) < 0)
			goto out;
	} else if (r != -ENOENT) {
		goto out;
	}
	r = 0;
	for (i = 0; i < n; i++)
		if ((!only || lp[i].number == only) && !port_is_covered(pv, &lp[i]))
			json_array_append_new(ports, json_pack("{s:i, s:s}", "number", (json_int_t)lp[i].number, "protocol",
							      net_proto_name(lp[i].proto)));
out:
	policy_free(p);
	store_policy_clear(&sp);
	return r;
}

/*
 * One VM's entry, or NULL in *ret when it exposes nothing: an agent VM whose valid agent reported a
 * listening port that no rule covers. A revoked agent's last report is not trusted (the host may have
 * been rebuilt); a disconnected one's is, with its time for the reader to judge.
 */
static int
exposed_render(struct api *api, const struct store_vm *vm, uint16_t only, json_t **ret)
{
	char id[ARM_ID_MAX + 1], t[TIME_FORMAT_SIZE];
	json_t *ports = NULL, *o = NULL;
	struct store_agent a;
	bool configured;
	int r;

	*ret = NULL;
	if (vm->point != STORE_POINT_AGENT)
		return 0;
	if ((r = store_agent_get(api->store, vm->id, &a)) == -ENOENT || (r == 0 && a.revoked_ns))
		return 0;
	if (r < 0)
		return r;
	ports = json_array();
	if ((r = uncovered_ports(api, vm, a.report.listening, only, ports, &configured)) < 0 ||
	    json_array_size(ports) == 0)
		goto out;
	arm_vm_id_format(&vm->arm, id, sizeof(id));
	o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:O}", "id", id, "name", vm->arm.name, "resourceGroup",
		      vm->arm.resource_group, "osType", vm->os_type, "jitStatus",
		      !a.report.supported || vm->unsupported_reason[0] ? "Unsupported"
		      : configured				  ? "Configured"
								  : "NotConfigured",
		      "ports", ports);
	if (o && a.seen_ns && time_format_azure(a.seen_ns, t, sizeof(t)) > 0)
		json_object_set_new(o, "reportedTimeUtc", json_string(t));
	*ret = o;
out:
	json_decref(ports);
	return r;
}

/* ?port=N: 0 and the number (0 when absent), or a 400 naming the parameter. */
static int
port_filter(const struct http_request *req, uint16_t *ret, struct http_response *resp)
{
	const char *s = http_request_query(req, "port");

	*ret = 0;
	if (s && net_port_parse(s, strlen(s), ret, NULL) < 0) {
		api_error(resp, 400, "InvalidPortFilter", "port", "port must be a port number (1-65535), not '%.32s'", s);
		return -EINVAL;
	}
	return 0;
}

void
api_exposed_list(struct api *api, const struct api_caller *c, const struct http_request *req,
		 const struct api_list_scope *ls, struct http_response *resp)
{
	struct store_vm *vms = NULL;
	size_t n = 0, i;
	json_t *items = NULL, *o;
	uint16_t only;
	int r;

	if (!rbac_any_allows(c->assign, c->n_assign, RBAC_VM_READ, NULL)) {
		api_require(api, c, RBAC_VM_READ, req->path, resp);
		return;
	}
	if (port_filter(req, &only, resp) < 0)
		return;
	if ((r = api_vms_readable(api, c, ls, &vms, &n)) < 0) {
		api_store_error(api, resp, r, "cannot read VMs");
		return;
	}
	items = json_array();
	for (i = 0; i < n; i++) {
		if ((r = exposed_render(api, &vms[i], only, &o)) < 0) {
			json_decref(items);
			free(vms);
			api_store_error(api, resp, r, "cannot read the agents' reports");
			return;
		}
		if (o)
			json_array_append_new(items, o);
	}
	free(vms);
	api_list_respond(req, items, resp);
}

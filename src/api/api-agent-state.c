/* The agent's watch: GET /agent/v1{VM}/state?since=N answers the VM's whole desired state, or parks until it moves. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api-internal.h"
#include "codec/codec-agent.h"
#include "core/timeutil.h"
#include "http/http-limits.h"

/* ?since: absent is -1 (answer at once); else a decimal integer from -1 to INT64_MAX. */
static int
since_parse(const char *q, int64_t *ret, struct core_error *err)
{
	int64_t v = 0;
	size_t i = 0;
	bool neg;

	*ret = -1;
	if (q == NULL)
		return 0;
	neg = q[0] == '-';
	i = neg;
	if (q[i] == '\0' || strlen(q) > 20)
		goto bad;
	for (; q[i]; i++) {
		if (q[i] < '0' || q[i] > '9' || v > (INT64_MAX - (q[i] - '0')) / 10)
			goto bad;
		v = v * 10 + (q[i] - '0');
	}
	if (neg && v != 1)
		goto bad;
	*ret = neg ? -1 : v;
	return 0;
bad:
	return core_error_set(err, "InvalidSince", "since",
			      "since must be a revision: an integer from -1 to %lld", (long long)INT64_MAX), -EINVAL;
}

/* The VM's protected ports, from its policy (none when it is in none). */
static int
state_ports(struct api *api, const struct store_vm *vm, struct agent_state *s, struct core_error *err)
{
	const struct policy_vm *pv;
	struct store_policy sp;
	struct policy *p = NULL;
	int64_t pid;
	size_t i;
	int r;

	r = store_policy_of_vm(api->store, vm->id, &pid);
	if (r == -ENOENT)
		return 0;
	if (r < 0 || (r = store_policy_get_by_id(api->store, pid, &sp)) < 0)
		return api_store_fail(api, r, err, "cannot read the VM's policy"), r;
	/* found in the cache's decoded copy: a 1,000-VM policy is neither copied nor scanned for each watch */
	r = api_policy_stored_vm(api, &sp, &vm->arm, &pv, &p, err);
	store_policy_clear(&sp);
	if (r < 0)
		return r;
	if (pv && pv->n_ports) {
		if (!(s->ports = calloc(pv->n_ports, sizeof(*s->ports)))) {
			policy_free(p);
			return core_error_set(err, "InternalError", "", "out of memory"), -ENOMEM;
		}
		for (i = 0; i < pv->n_ports && i < AGENT_PORTS_MAX; i++)
			s->ports[s->n_ports++] = (struct agent_port){ pv->ports[i].proto, pv->ports[i].number };
	}
	policy_free(p);
	return 0;
}

/* The live grants on one port, as the kernel should hold them now (api_grant_live_end_ns), appended to s. */
static int
state_grants_on(struct api *api, const struct store_vm *vm, uint16_t port, int64_t now, int64_t mono,
		struct agent_state *s, size_t *cap, struct core_error *err)
{
	struct store_grant *g = NULL;
	size_t n = 0, i;
	int r;

	if ((r = api_grants_live_on(api, vm->id, port, NULL, &g, &n, err)) < 0)
		return r;
	for (i = 0; i < n && s->n_grants < AGENT_GRANTS_MAX; i++) {
		int64_t end = api_grant_live_end_ns(api, &g[i], now, mono), left;
		struct agent_grant *a;

		if (end == 0)
			continue;
		if (s->n_grants == *cap) {
			size_t c = *cap ? *cap * 2 : 16;

			if (!(a = realloc(s->grants, c * sizeof(*a)))) {
				free(g);
				return core_error_set(err, "InternalError", "", "out of memory"), -ENOMEM;
			}
			s->grants = a;
			*cap = c;
		}
		a = &s->grants[s->n_grants++];
		memset(a, 0, sizeof(*a));
		snprintf(a->request_id, sizeof(a->request_id), "%s", g[i].request_id);
		a->source = g[i].source;
		a->proto = g[i].proto;
		a->port = g[i].port;
		a->end_ns = end;
		left = (end - now) / TIME_NS_PER_MS;
		a->left_ms = left > FW_TIMEOUT_MAX_MS ? FW_TIMEOUT_MAX_MS : left;
	}
	free(g);
	return 0;
}

/* The revokes with terminateSessions of the VM's grants the agent may not have seen yet (store_terminations_of_vm). */
static int
state_terminations(struct api *api, const struct store_vm *vm, int64_t now, struct agent_state *s,
		   struct core_error *err)
{
	struct store_termination *t = NULL;
	size_t n = 0, i;
	int r;

	_Static_assert(STORE_TERMINATIONS_MAX <= AGENT_TERMINATIONS_MAX, "a state carries every termination kept");
	if ((r = store_terminations_of_vm(api->store, vm->id, now, &t, &n)) < 0)
		return api_store_fail(api, r, err, "cannot read the VM's terminations"), r;
	if (n && !(s->terminations = calloc(n, sizeof(*s->terminations)))) {
		free(t);
		return core_error_set(err, "InternalError", "", "out of memory"), -ENOMEM;
	}
	for (i = 0; i < n; i++) {
		struct agent_termination *a = &s->terminations[s->n_terminations];

		/* a revision above the state's cannot be read in the state's transaction; never sent */
		if (t[i].revision < 1 || t[i].revision > s->revision)
			continue;
		snprintf(a->request_id, sizeof(a->request_id), "%s", t[i].request_id);
		a->source = t[i].source;
		a->proto = t[i].proto;
		a->port = t[i].port;
		a->revision = t[i].revision;
		s->n_terminations++;
	}
	free(t);
	return 0;
}

/* The VM's whole state at revision rev: its policy's ports, every live grant on them, recent terminations. */
static int
state_build(struct api *api, const struct store_vm *vm, int64_t rev, struct agent_state *s, struct core_error *err)
{
	int64_t now = time_now_ns(), mono = time_mono_ns();
	size_t cap = 0, i, j;
	int r;

	memset(s, 0, sizeof(*s));
	arm_vm_id_format(&vm->arm, s->vm, sizeof(s->vm));
	s->revision = rev;
	s->server_ns = now;
	if ((r = state_ports(api, vm, s, err)) < 0)
		return r;
	for (i = 0; i < s->n_ports; i++) {
		for (j = 0; j < i && s->ports[j].number != s->ports[i].number; j++)
			;
		if (j < i)
			continue;	/* one number for TCP and UDP: its grants are read once */
		if ((r = state_grants_on(api, vm, s->ports[i].number, now, mono, s, &cap, err)) < 0)
			return r;
	}
	return state_terminations(api, vm, now, s, err);
}

static int64_t
watch_wait_ms(const struct api *api)
{
	return api->settings.agent_watch_wait_ms > 0 ? api->settings.agent_watch_wait_ms : AGENT_WATCH_WAIT_MS;
}

void
api_agent_state_get(struct api *api, const struct http_request *req, const struct store_vm *vm,
		    struct http_response *resp)
{
	struct core_error err = { 0 };
	struct agent_state s = { 0 };
	int64_t since, rev;
	int r;

	if (since_parse(http_request_query(req, "since"), &since, &err) < 0) {
		api_error_record(resp, 400, &err);
		return;
	}
	if ((r = store_vm_revision(api->store, vm->id, &rev)) < 0) {
		api_store_error(api, resp, r, "cannot read the VM's revision");
		return;
	}
	/* nothing newer than what the agent has: hold the watch until the VM changes or the wait is over */
	if (since >= 0 && rev <= since && !req->park_expired) {
		if (api_watches_full(api)) {
			api_error(resp, 503, "TooManyWatches", "", "the server holds as many watches as it can (%d)",
				  HTTP_PARKED_MAX);
			return;
		}
		if (api_watch_parked(api, vm->id) == 0) {
			resp->park = true;
			resp->park_key = (uint64_t)vm->id;
			resp->park_until_ms = time_mono_ms() + watch_wait_ms(api);
			return;
		}
	}
	api_watch_contact(api, vm->id);
	if ((r = state_build(api, vm, rev, &s, &err)) < 0) {
		api_error_record(resp, r == -ENOMEM ? 500 : api_store_status(r), &err);
		goto out;
	}
	api_json(resp, 200, codec_agent_state_encode(&s));
out:
	free(s.ports);
	free(s.grants);
	free(s.terminations);
}

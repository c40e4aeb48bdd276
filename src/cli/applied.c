/* Waiting for an agent VM's agent to apply a granted request (appliedTimeUtc on its ports) before the CLI says "open". */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/resource.h"
#include "core/timeutil.h"

/*
 * How long jitgate request and ssh wait for an agent to apply a grant. Its watch is answered
 * within about 50 ms of the initiate and it applies in a few ms more; 10 s covers a busy server
 * and an agent reconnecting between two watches, and is short enough to wait for at a prompt.
 */
#define CLI_APPLY_WAIT_MS	10000
#define CLI_APPLY_POLL_MS	100	/* between two reads of the request */

bool
cli_vm_is_agent(const struct cli_vm *vm)
{
	const char *e = cli_json_str(json_object_get(vm->json, "properties"), "enforcement", "");

	return !strcmp(e, "agent");
}

/* The request `id` in a policy body, or NULL. */
static const json_t *
request_find(const json_t *policy, const char *id)
{
	const json_t *r;
	size_t i;

	json_array_foreach(json_object_get(json_object_get(policy, "properties"), "requests"), i, r)
		if (!strcasecmp(cli_json_str(r, "id", ""), id))
			return r;
	return NULL;
}

/* Does every port of every VM of the request carry appliedTimeUtc (and is there one)? */
static bool
request_is_applied(const json_t *req)
{
	const json_t *v, *p;
	size_t i, k, n = 0;

	json_array_foreach(json_object_get(req, "virtualMachines"), i, v)
		json_array_foreach(json_object_get(v, "ports"), k, p) {
			if (!cli_json_str(p, "appliedTimeUtc", NULL))
				return false;
			n++;
		}
	return n > 0;
}

/*
 * How long after the request its agent applied it, by the server's clock: the latest appliedTimeUtc of
 * its ports less its startTimeUtc (the CLI's polls would only bound it to CLI_APPLY_POLL_MS). -1 if unknown.
 */
static int64_t
request_applied_ms(const json_t *req)
{
	const char *start = cli_json_str(req, "startTimeUtc", ""), *at;
	int64_t start_ns, at_ns, last = 0;
	const json_t *v, *p;
	size_t i, k;

	if (time_parse_rfc3339(start, strlen(start), &start_ns, NULL) < 0)
		return -1;
	json_array_foreach(json_object_get(req, "virtualMachines"), i, v)
		json_array_foreach(json_object_get(v, "ports"), k, p) {
			at = cli_json_str(p, "appliedTimeUtc", "");
			if (time_parse_rfc3339(at, strlen(at), &at_ns, NULL) < 0)
				return -1;
			if (at_ns > last)
				last = at_ns;
		}
	return last >= start_ns ? (last - start_ns) / TIME_NS_PER_MS : -1;
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/*
 * Why the grant did not apply: the VM's agent as the inventory sees it now (disconnected since T,
 * revoked, ...), or "did not apply it within" the limit. Exit CLI_EXIT_NOT_APPLIED.
 */
static int
not_applied(struct cli *c, const struct cli_vm *vm, const char *request_id, bool waited)
{
	json_t *now = NULL;
	const json_t *agent;
	const char *state;
	char since[64];
	int r;

	agent = json_object_get(json_object_get(vm->json, "properties"), "agent");
	if (waited && (r = cli_get(c, vm->id, NULL, &now)) == 0)
		agent = json_object_get(json_object_get(now, "properties"), "agent");
	state = cli_json_str(agent, "state", "");
	cli_time_local(cli_json_str(agent, "disconnectedSince", NULL), since, sizeof(since));
	if (!strcmp(state, "Disconnected"))
		r = cli_fail(c, CLI_EXIT_NOT_APPLIED,
			     "request %s is granted, but the agent of %s is disconnected (since %s): the host's ports stay "
			     "closed until it reconnects and applies it (jitgate vm show %s)",
			     request_id, vm->arm.name, since, vm->arm.name);
	else if (!strcmp(state, "Revoked") || !strcmp(state, "NeverJoined"))
		r = cli_fail(c, CLI_EXIT_NOT_APPLIED, "request %s is granted, but %s has no agent to apply it (%s)",
			     request_id, vm->arm.name, !strcmp(state, "Revoked") ? "its agent was revoked" : "no agent joined");
	else
		r = cli_fail(c, CLI_EXIT_NOT_APPLIED,
			     "request %s is granted, but the agent of %s did not apply it within %d s; it may still "
			     "(jitgate vm show %s)",
			     request_id, vm->arm.name, CLI_APPLY_WAIT_MS / 1000, vm->arm.name);
	json_decref(now);
	return r;
}

int
cli_request_wait_applied(struct cli *c, const struct cli_vm *vm, const char *request_id, json_t **ret_request,
			 int64_t *ret_applied_ms)
{
	const json_t *agent = json_object_get(json_object_get(vm->json, "properties"), "agent");
	int64_t t0 = time_now_ns(), deadline = t0 + (int64_t)CLI_APPLY_WAIT_MS * TIME_NS_PER_MS;
	json_t *policy = NULL;
	const json_t *req;
	int r;

	/* an agent already known to be away is not waited for: it would only add 10 s to the same answer */
	if (json_is_false(json_object_get(agent, "connected")))
		return not_applied(c, vm, request_id, false);
	for (;;) {
		if ((r = cli_get(c, vm->policy_id, NULL, &policy)) < 0)
			return r;
		if ((req = request_find(policy, request_id)) && request_is_applied(req)) {
			*ret_request = json_incref((json_t *)req);
			if ((*ret_applied_ms = request_applied_ms(req)) < 0)
				*ret_applied_ms = (time_now_ns() - t0) / TIME_NS_PER_MS;
			json_decref(policy);
			return 0;
		}
		json_decref(policy);
		policy = NULL;
		if (time_now_ns() >= deadline)
			return not_applied(c, vm, request_id, true);
		sleep_ms(CLI_APPLY_POLL_MS);
	}
}

/* The agent half of jitgate vm: an agent VM's agent in list and show, and the VMs with exposed management ports (--exposed). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/cli.h"
#include "cli/resource.h"

void
cli_vm_agent_text(const json_t *vm, char *buf, size_t size)
{
	const json_t *props = json_object_get(vm, "properties"), *agent = json_object_get(props, "agent");
	const char *state = cli_json_str(agent, "state", "");
	char since[64];

	if (strcmp(cli_json_str(props, "enforcement", ""), "agent")) {
		snprintf(buf, size, "-");
	} else if (!strcmp(state, "Connected")) {
		snprintf(buf, size, "connected");
	} else if (!strcmp(state, "Disconnected")) {
		cli_time_local(cli_json_str(agent, "disconnectedSince", NULL), since, sizeof(since));
		snprintf(buf, size, "disconnected since %s", since);
	} else if (!strcmp(state, "Revoked")) {
		snprintf(buf, size, "revoked");
	} else if (!strcmp(state, "NeverJoined")) {
		snprintf(buf, size, "never joined");
	} else {
		snprintf(buf, size, "%s", state[0] ? state : "-");
	}
	/* two agents on one credential is the operator's to act on: list marks it, show says what to do */
	if (json_object_get(agent, "sharedCredential")) {
		size_t len = strlen(buf);

		snprintf(buf + len, size - len, ", credential shared");
	}
}

/* The exposed-ports list's path, under the resource group rg when given. */
static void
exposed_path(struct cli *c, const char *rg, char *buf, size_t size)
{
	if (rg)
		snprintf(buf, size, "/subscriptions/%s/resourceGroups/%s/providers/Jitgate/exposedManagementPorts",
			 c->client.subscription, rg);
	else
		snprintf(buf, size, "/subscriptions/%s/providers/Jitgate/exposedManagementPorts", c->client.subscription);
}

/* "3389/TCP, 5985/TCP" from an exposed entry's ports. */
static void
ports_text(const json_t *entry, char *buf, size_t size)
{
	const json_t *p;
	size_t i, len = 0;

	buf[0] = '\0';
	json_array_foreach(json_object_get(entry, "ports"), i, p) {
		int n = snprintf(buf + len, size - len, "%s%lld/%s", len ? ", " : "",
				 (long long)json_integer_value(json_object_get(p, "number")), cli_json_str(p, "protocol", "*"));

		if (n < 0 || (size_t)n >= size - len)
			break;
		len += (size_t)n;
	}
}

const char *
cli_status_words(const char *s)
{
	return !strcmp(s, "NotConfigured") ? "Not configured" : s;
}

/* The agent lines of jitgate vm show, after the rest. */
void
cli_vm_agent_show(struct cli *c, const struct cli_vm *vm)
{
	const json_t *agent = json_object_get(json_object_get(vm->json, "properties"), "agent"), *e;
	char state[128], seen[64], joined[64], path[ARM_ID_MAX + 64], ports[512] = "";
	json_t *list = NULL;
	size_t i;

	if (!cli_vm_is_agent(vm))
		return;
	cli_vm_agent_text(vm->json, state, sizeof(state));
	cli_time_local(cli_json_str(agent, "lastSeenTimeUtc", NULL), seen, sizeof(seen));
	cli_time_local(cli_json_str(agent, "joinedTimeUtc", NULL), joined, sizeof(joined));
	cli_printf("Agent:               %s\n", state);
	if (!strcmp(cli_json_str(agent, "state", ""), "Revoked")) {
		cli_time_local(cli_json_str(agent, "revokedTimeUtc", NULL), seen, sizeof(seen));
		cli_printf("Agent revoked:       %s (join the host again with a new join token)\n", seen);
		return;
	}
	if (!strcmp(cli_json_str(agent, "state", ""), "NeverJoined"))
		return;
	cli_printf("Agent version:       %s\n", cli_json_str(agent, "version", "-"));
	cli_printf("Applied revision:    %lld\n", (long long)json_integer_value(json_object_get(agent, "appliedRevision")));
	cli_printf("Agent last seen:     %s\n", seen);
	cli_printf("Agent joined:        %s\n", joined);
	cli_printf("Kernel supported:    %s\n", json_is_true(json_object_get(agent, "kernelSupported")) ? "yes" : "no");
	cli_printf("Listening:           %s\n", cli_json_str(agent, "listening", "-"));
	/* what of it no rule covers: the server decides (the same list as vm list --exposed) */
	exposed_path(c, vm->arm.resource_group, path, sizeof(path));
	if (cli_list(c, path, NULL, &list) == 0)
		json_array_foreach(list, i, e)
			if (!strcasecmp(cli_json_str(e, "id", ""), vm->id))
				ports_text(e, ports, sizeof(ports));
	json_decref(list);
	if (ports[0])
		cli_printf("Exposed ports:       %s (no JIT rule; jitgate enable %s --recommended)\n", ports, vm->arm.name);
	else
		cli_printf("Exposed ports:       -\n");
	cli_printf("Tampering undone:    %lld\n", (long long)json_integer_value(json_object_get(agent, "tamperUndone")));
	if (cli_json_str(agent, "lastError", NULL))
		cli_printf("Agent error:         %s\n", cli_json_str(agent, "lastError", ""));
	if ((e = json_object_get(agent, "sharedCredential"))) {
		cli_time_local(cli_json_str(e, "detectedTimeUtc", NULL), seen, sizeof(seen));
		cli_printf("Shared credential:   %s (detected %s)\n", cli_json_str(e, "message", "-"), seen);
	}
}

int
cli_vm_exposed_list(struct cli *c, const char *rg, const char *status)
{
	static const char *const headers[] = { "NAME", "RESOURCE GROUP", "JIT STATUS", "EXPOSED PORTS", "REPORTED" };
	char path[ARM_ID_MAX + 64];
	json_t *list = NULL, *shown = json_array(), *e;
	struct table *t = NULL;
	size_t i;
	int r;

	if ((r = cli_connect(c)) < 0)
		goto out;
	exposed_path(c, rg, path, sizeof(path));
	if ((r = cli_list(c, path, NULL, &list)) < 0)
		goto out;
	json_array_foreach(list, i, e)
		if (!status || !strcmp(status, cli_json_str(e, "jitStatus", "")))
			json_array_append(shown, e);
	if (c->output == CLI_OUT_JSON) {
		cli_print_list_json(shown);
		goto out;
	}
	if (c->output == CLI_OUT_QUIET) {
		json_array_foreach(shown, i, e)
			cli_printf("%s\n", cli_json_str(e, "name", ""));
		goto out;
	}
	if (json_array_size(shown) == 0) {
		cli_printf("No VM has a listening management port without a JIT rule.\n");
		goto out;
	}
	t = table_new(5, headers);
	json_array_foreach(shown, i, e) {
		char ports[512], when[64];
		const char *cells[5];

		ports_text(e, ports, sizeof(ports));
		cli_time_local(cli_json_str(e, "reportedTimeUtc", NULL), when, sizeof(when));
		cells[0] = cli_json_str(e, "name", "");
		cells[1] = cli_json_str(e, "resourceGroup", "");
		cells[2] = cli_status_words(cli_json_str(e, "jitStatus", ""));
		cells[3] = ports;
		cells[4] = when;
		table_add(t, cells);
	}
	table_print(t, stdout);
	cli_printf("\nTo put one under JIT with the recommended ports (22, 3389, 5985, 5986): jitgate enable VM --recommended\n");
out:
	table_free(t);
	json_decref(shown);
	json_decref(list);
	return cli_exit(c, r);
}

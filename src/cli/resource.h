/* VMs and policies as the commands handle them (resource.c), the shared port-rule options (rules.c) and initiate (initiate.c). */
#ifndef JITGATE_CLI_RESOURCE_H
#define JITGATE_CLI_RESOURCE_H

#include "cli/cli.h"

/* ---- resources (resource.c) ---- */

/* A VM as the inventory shows it. Owns json. */
struct cli_vm {
	char id[ARM_ID_MAX + 1];
	struct arm_vm_id arm;
	char location[ARM_LOCATION_MAX + 1];
	char policy_id[ARM_ID_MAX + 1];		/* empty when not configured */
	json_t *json;
};

void cli_vm_clear(struct cli_vm *vm);
/* A VM by name (case-insensitive; ambiguous → exit 2) or full id; not found → exit 1. */
int cli_vm_resolve(struct cli *c, const char *name_or_id, struct cli_vm *ret);
/* The VM's first address, or NULL. */
const char *cli_vm_address(const struct cli_vm *vm);
/*
 * Where to connect for the VM's port `port`: the address (and, in *ret_port, the port) of its
 * connectionDetails entry for that port: the gateway's publicIpAddress and mappedPort when the VM
 * is reached through gateway DNAT ("vmPort" names the VM's port), else one of its addresses with
 * `port` itself; with no entry, its first address. NULL when it has none.
 */
const char *cli_vm_connect_to(const struct cli_vm *vm, unsigned port, unsigned *ret_port);

/* The path of a policy: /subscriptions/S/resourceGroups/RG/providers/Microsoft.Security/locations/L/jitNetworkAccessPolicies/N */
int cli_policy_path(struct cli *c, const char *rg, const char *loc, const char *name, char *buf, size_t size);
/* The VM's entry in a policy body (properties.virtualMachines[i] with a matching id), or NULL; *ret_index if found. */
json_t *cli_policy_vm(json_t *policy, const char *vm_id, size_t *ret_index);
/* The same in a virtualMachines array. */
json_t *cli_vms_find(json_t *vms, const char *vm_id, size_t *ret_index);
/* The rules of the VM in the policy that holds it (GET); not configured → exit 1. *ret_ports is a new reference. */
int cli_vm_rules(struct cli *c, const struct cli_vm *vm, json_t **ret_ports);

/*
 * Read-modify-write of the VM's policy: GET with its ETag (or, when there is none and
 * `create`, a new policy "default" in the VM's resource group and location), `edit`
 * changes properties.virtualMachines, PUT with If-Match (If-None-Match: * when new);
 * a 412 starts over, at most CLI_RMW_TRIES times. The stored policy in *ret_policy.
 * edit returns 0, or a negative errno after cli_fail().
 */
typedef int (*cli_policy_edit_fn)(struct cli *c, const struct cli_vm *vm, json_t *vms, void *arg);
int cli_policy_update(struct cli *c, const struct cli_vm *vm, bool create, cli_policy_edit_fn edit, void *arg,
		      json_t **ret_policy);

/* A port rule as the API takes it. max_text: max_ms as the user wrote it (sent so), or NULL. sources: NULL or empty → "*". */
json_t *cli_rule_new(unsigned port, const char *proto, int64_t max_ms, const char *max_text, const char *const *sources,
		     size_t n_sources);

/* Port-rule options shared by enable and edit (rules.c): --port, --max, --source, --recommended, --remove-port. */
struct cli_rule_opts {
	struct {
		uint16_t number;
		const char *proto;	/* NULL: not given */
	} ports[CLI_PORTS_MAX];
	size_t n_ports;
	int64_t max_ms;			/* 0: not given */
	const char *max_text;		/* --max when it is ISO 8601 as the API reads it ("P1D"): sent as typed; else NULL */
	const char *sources[CLI_SOURCES_MAX];
	size_t n_sources;
	bool recommended;
	uint16_t remove[CLI_PORTS_MAX];
	size_t n_remove;
};

extern const struct option cli_rule_options[];
int cli_rule_option(struct cli *c, int opt, const char *arg, void *state);
/* Print a VM's rules from a policy body as a table (or JSON, or the policy id with -q). */
void cli_rules_print(struct cli *c, const struct cli_vm *vm, json_t *policy);

/* ---- initiate (initiate.c) ---- */

/* Shared by request and ssh: initiate the ports (NULL: all of the VM's rules) and report. */
struct cli_initiate {
	const uint16_t *ports;
	size_t n_ports;
	int64_t for_ms;			/* 0: the rule's maximum */
	int64_t until_ns;		/* 0: not given */
	const char *from;		/* NULL: my address */
	const char *reason;
	bool print;			/* print what opened */
	bool no_wait;			/* an agent VM: do not wait for its agent to apply the grant */
};
int cli_initiate(struct cli *c, const struct cli_vm *vm, const struct cli_initiate *in);

/* request --extend (extend.c): my open grants on vm's ports (none given: all of them), each end moved by_ms later. */
struct cli_extend {
	const uint16_t *ports;
	size_t n_ports;
	int64_t by_ms;
};
int cli_extend(struct cli *c, const struct cli_vm *vm, const struct cli_extend *x);

/* ---- agent VMs in jitgate vm (vm-agent.c) ---- */

/* A JIT status as the tabs name it: "Not configured" for NotConfigured, the others as they are. */
const char *cli_status_words(const char *status);
/* A VM's agent in a word or three: connected, disconnected since T, revoked, never joined; "-" if not an agent VM. */
void cli_vm_agent_text(const json_t *vm, char *buf, size_t size);
/* The agent lines of jitgate vm show (nothing for other VMs), its exposed ports read from the server. */
void cli_vm_agent_show(struct cli *c, const struct cli_vm *vm);
/* jitgate vm list --exposed [--group RG] [--status S]: the exposedManagementPorts list; returns the exit code. */
int cli_vm_exposed_list(struct cli *c, const char *rg, const char *status);

/* ---- an agent applying a grant (applied.c) ---- */

/* Is the VM enforced by its own jitgate-agent (properties.enforcement "agent")? */
bool cli_vm_is_agent(const struct cli_vm *vm);
/*
 * Wait (at most CLI_APPLY_WAIT_MS) until every port of request `request_id` on the agent VM carries
 * appliedTimeUtc: 0 with the request as the policy shows it (*ret_request, a new reference) and how long
 * after the request its agent applied it (by the server's clock). An agent known to be disconnected is not
 * waited for. Otherwise a message saying why (agent disconnected since T, revoked, or too slow) and exit
 * CLI_EXIT_NOT_APPLIED, or a failed read's.
 */
int cli_request_wait_applied(struct cli *c, const struct cli_vm *vm, const char *request_id, json_t **ret_request,
			     int64_t *ret_applied_ms);

#endif

// What the portal knows: who is signed in, what they may do, the VMs and the policies.
import { apiList, parseVmId, sameId } from "./api.js";
import { timeMs } from "./format.js";

export const state = {
	me: null, // {name, role, scope, address, assignments?: [{role, scope}] (single sign-on)}
	sub: "",
	caps: { configure: false, request: false, revokeAny: false, activity: false },
	vms: [],
	policies: [],
	loadedAt: 0,
	byVm: new Map(), // lower-cased VM id → {vm, policy, entry, hay, status, exposed}: built once per load, not per row
};

// The management ports whose listening socket, with no JIT, makes a VM "exposed" (issue 13, item 5).
export const MANAGEMENT_PORTS = [22, 3389, 5985, 5986];

export const DEFAULT_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000";

// What a role may do, so that buttons it cannot use are not offered. Custom roles: offer, the server decides.
export function capsFor(role) {
	switch (role) {
	case "Reader":
	case "SecurityReader":
		return { configure: false, request: false, revokeAny: false, activity: true };
	case "JitRequester":
		return { configure: false, request: true, revokeAny: false, activity: false };
	default: // Owner, SecurityAdmin, custom roles
		return { configure: true, request: true, revokeAny: true, activity: true };
	}
}

// Every role the person holds (single sign-on may give several; any one of them allows): what any allows is offered.
export function rolesOf(me) {
	return me.assignments?.length ? [...new Set(me.assignments.map((a) => a.role))] : [me.role];
}

export function setMe(me) {
	state.me = me;
	const m = /^\/subscriptions\/([^/]+)/i.exec(me.scope || "");
	state.sub = me.subscriptionId || (m ? m[1] : DEFAULT_SUBSCRIPTION);
	const caps = rolesOf(me).map(capsFor);
	state.caps = Object.fromEntries(Object.keys(caps[0]).map((k) => [k, caps.some((c) => c[k])]));
}

export async function loadAll() {
	const sub = state.sub;
	const [vms, policies] = await Promise.all([
		apiList(`/subscriptions/${sub}/providers/Microsoft.Compute/virtualMachines`),
		apiList(`/subscriptions/${sub}/providers/Microsoft.Security/jitNetworkAccessPolicies`),
	]);
	state.vms = vms;
	state.policies = policies;
	state.loadedAt = Date.now();
	index();
}

// What each row, search and timeline asks of a VM, computed once: with 1,000 VMs and a policy of 500, looking
// each up by scanning would cost a pass over every policy per row.
function index() {
	const by = new Map();
	for (const vm of state.vms) {
		const j = vm.properties?.jit || {};
		const a = vm.properties?.agent;
		const hay = [vm.name, vmRg(vm), vm.location, vm.properties?.osType, ...(vm.properties?.addresses || []), j.lastUser, j.reason,
			a?.version, a ? agentWord(a) : ""].join(" ").toLowerCase();
		const status = j.status || "NotConfigured";
		by.set(vm.id.toLowerCase(), { vm, policy: null, entry: null, hay, status, exposed: status === "NotConfigured" ? exposedPorts(vm) : [] });
	}
	for (const p of state.policies)
		for (const v of p.properties?.virtualMachines || []) {
			const e = by.get(String(v.id).toLowerCase());
			if (e && !e.policy) Object.assign(e, { policy: p, entry: v });
			else if (!e) by.set(String(v.id).toLowerCase(), { vm: null, policy: p, entry: v });
		}
	state.byVm = by;
}

// "connected", "disconnected", "revoked", "never joined": words a search finds an agent VM by
export function agentWord(a) {
	return { Connected: "connected", Disconnected: "disconnected", Revoked: "agent revoked", NeverJoined: "never joined" }[a.state] || "";
}

// The management ports an agent reports listening ("TCP/22 UDP/3389" → ["TCP/22", "UDP/3389"]).
export function exposedPorts(vm) {
	const text = vm.properties?.agent?.listening || "";
	return text.split(/\s+/).filter((t) => {
		const m = /^[A-Za-z*]+\/(\d+)$/.exec(t);
		return m && MANAGEMENT_PORTS.includes(Number(m[1]));
	});
}

export const vmRg = (vm) => parseVmId(vm.id)?.rg || "";
export const vmInfo = (id) => state.byVm.get(String(id || "").toLowerCase());
export const vmById = (id) => vmInfo(id)?.vm || undefined;
export const policyById = (id) => state.policies.find((p) => sameId(p.id, id));

// The policy that holds a VM and the VM's entry in it (ports with max durations and allowed sources).
export function policyOfVm(vm) {
	const e = vmInfo(vm.id);
	return e?.policy ? { policy: e.policy, entry: e.entry } : null;
}

// Every port grant of the last 7 days: {vmId, port, protocol, source, start, end, status, reason, requestor, justification, live}
export function allGrants(now = Date.now()) {
	const out = [];
	for (const p of state.policies)
		for (const r of p.properties?.requests || [])
			for (const v of r.virtualMachines || [])
				for (const port of v.ports || []) {
					const end = timeMs(port.endTimeUtc);
					const start = timeMs(r.startTimeUtc);
					// when a revoked grant really closed: jitgate's endedTimeUtc, where the server gives it
					const endedAt = timeMs(port.endedTimeUtc || port.revokedTimeUtc || "");
					out.push({
						policyId: p.id, requestId: r.id, vmId: v.id, port: port.number, source: port.allowedSourceAddressPrefix || (port.allowedSourceAddressPrefixes || []).join(", "),
						start, end, ended: Number.isFinite(endedAt) ? endedAt : undefined, status: port.status, reason: port.statusReason, requestor: r.requestor || "", justification: r.justification || "",
						live: port.status === "Initiated" && end > now, applied: port.appliedTimeUtc || "",
					});
				}
	return out;
}

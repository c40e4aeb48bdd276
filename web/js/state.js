// What the portal knows: who is signed in, what they may do, the VMs and the policies.
import { apiList, parseVmId, sameId } from "./api.js";

export const state = {
	me: null, // {name, role, scope, address}
	sub: "",
	caps: { configure: false, request: false, revokeAny: false, activity: false },
	vms: [],
	policies: [],
	loadedAt: 0,
};

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

export function setMe(me) {
	state.me = me;
	const m = /^\/subscriptions\/([^/]+)/i.exec(me.scope || "");
	state.sub = me.subscriptionId || (m ? m[1] : DEFAULT_SUBSCRIPTION);
	state.caps = capsFor(me.role);
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
}

export const vmRg = (vm) => parseVmId(vm.id)?.rg || "";
export const vmById = (id) => state.vms.find((v) => sameId(v.id, id));
export const policyById = (id) => state.policies.find((p) => sameId(p.id, id));

// The policy that holds a VM and the VM's entry in it (ports with max durations and allowed sources).
export function policyOfVm(vm) {
	for (const p of state.policies)
		for (const v of p.properties?.virtualMachines || [])
			if (sameId(v.id, vm.id)) return { policy: p, entry: v };
	return null;
}

// Every port grant of the last 7 days: {vmId, port, protocol, source, start, end, status, reason, requestor, justification, live}
export function allGrants(now = Date.now()) {
	const out = [];
	for (const p of state.policies)
		for (const r of p.properties?.requests || [])
			for (const v of r.virtualMachines || [])
				for (const port of v.ports || []) {
					const end = Date.parse(port.endTimeUtc);
					const start = Date.parse(r.startTimeUtc);
					// when a revoked grant really closed: jitgate's endedTimeUtc, where the server gives it
					const endedAt = Date.parse(port.endedTimeUtc || port.revokedTimeUtc || "");
					out.push({
						policyId: p.id, requestId: r.id, vmId: v.id, port: port.number, source: port.allowedSourceAddressPrefix || (port.allowedSourceAddressPrefixes || []).join(", "),
						start, end, ended: Number.isFinite(endedAt) ? endedAt : undefined, status: port.status, reason: port.statusReason, requestor: r.requestor || "", justification: r.justification || "",
						live: port.status === "Initiated" && end > now,
					});
				}
	return out;
}

// Agent VMs in the portal: how their agent is (connected, since when not, version, unsupported, revoked), and
// waiting after a request until the agent has applied it (the request's ports carry appliedTimeUtc).
import { api, sameId } from "./api.js";
import { vmById } from "./state.js";
import { h } from "./ui.js";
import { fmtTime, relTime } from "./format.js";

export const APPLY_WAIT_MS = 10000; /* how long "opening…" waits for an agent to apply a grant before saying it has not */
const APPLY_POLL_MS = 500; /* between two reads of the request's policy while waiting */

export const isAgentVm = (vm) => vm?.properties?.enforcement === "agent";

// "since 3 min ago" (words + how long ago), the exact time on hover
function ago(iso, words = "") {
	return iso ? h("time", { datetime: iso, title: fmtTime(iso) }, `${words}${relTime(iso)}`) : "";
}

// The "Enforced by" cell: this host, a gateway, or the VM's agent and how it is. Why an agent's kernel cannot
// hold the table is its VM's reason for being Unsupported (the Unsupported tab's Reason column).
export function enforcedBy(vm) {
	const p = vm.properties || {};
	if (!isAgentVm(vm)) return p.enforcement === "local" ? "this host" : "gateway";
	const a = p.agent || {};
	let state;
	if (a.state === "Connected") state = h("span", { class: "agent-state ag-connected" }, "connected");
	else if (a.state === "Disconnected") state = h("span", { class: "agent-state ag-disconnected" }, "disconnected ", ago(a.disconnectedSince, "since "));
	else if (a.state === "Revoked") state = h("span", { class: "agent-state ag-revoked" }, "revoked ", ago(a.revokedTimeUtc));
	else state = h("span", { class: "agent-state ag-neverjoined" }, "never joined");
	const facts = [];
	if (a.lastSeenTimeUtc) facts.push(`last heard from ${fmtTime(a.lastSeenTimeUtc)}`);
	if (a.appliedRevision !== undefined) facts.push(`applied revision ${a.appliedRevision}`);
	if (a.tamperUndone) facts.push(`undid tampering ${a.tamperUndone} time(s)`);
	if (a.lastError) facts.push(`last error: ${a.lastError}`);
	return h("span", { class: "agent", title: facts.join("; ") || null, dataset: { agent: a.state || "" } },
		"agent: ", state,
		a.version ? h("span", { class: "sub" }, ` version ${a.version}`) : null,
		a.lastError ? h("span", { class: "sub agent-error" }, ` Last error: ${a.lastError}`) : null);
}

// A live grant's state on an agent VM: "open" once applied, "opening…" while the portal waits, else why not.
const waiting = new Set();
const key = (requestId, vmId, port) => `${requestId}|${String(vmId).toLowerCase()}|${port}`;

export function grantState(g) {
	const vm = vmById(g.vmId);
	if (!isAgentVm(vm)) return null;
	if (g.applied) return h("span", { class: "grant-state st-open", title: `applied by its agent ${fmtTime(g.applied)}` }, "open");
	if (waiting.has(key(g.requestId, g.vmId, g.port))) return h("span", { class: "grant-state st-opening" }, "opening…");
	const a = vm.properties.agent || {};
	if (!a.connected) return h("span", { class: "grant-state st-notapplied" }, "not open yet: its agent is ", a.state === "Revoked" ? "revoked" : "disconnected");
	return h("span", { class: "grant-state st-notapplied" }, "not applied yet by its agent");
}

// These ports on VMs whose agent is connected show "opening…" from now on (before the reload that first lists
// them) until waitApplied ends.
const connected = (p) => Boolean(vmById(p.vmId)?.properties?.agent?.connected);
export function markOpening(list) {
	for (const p of list.filter(connected)) waiting.add(key(p.requestId, p.vmId, p.port));
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Wait (at most APPLY_WAIT_MS) until the agents of these {policyId, requestId, vmId, name, port} have applied
// them. A disconnected agent is not waited for. rerender() shows the "opening…" states as they change.
// → {applied, disconnected, late}: lists of the same entries.
export async function waitApplied(list, rerender) {
	const disconnected = list.filter((p) => !connected(p));
	let left = list.filter(connected);
	const applied = [];
	markOpening(left);
	rerender();
	const deadline = Date.now() + APPLY_WAIT_MS;
	try {
		while (left.length && Date.now() < deadline) {
			await sleep(APPLY_POLL_MS);
			for (const policyId of new Set(left.map((p) => p.policyId))) {
				let pol;
				try {
					pol = (await api("GET", policyId)).body;
				} catch {
					continue; /* the next round asks again, until the deadline */
				}
				for (const p of left.filter((x) => x.policyId === policyId)) {
					const r = (pol?.properties?.requests || []).find((x) => x.id === p.requestId);
					const v = (r?.virtualMachines || []).find((x) => sameId(x.id, p.vmId));
					if ((v?.ports || []).some((x) => x.number === p.port && x.appliedTimeUtc)) applied.push(p);
				}
			}
			left = left.filter((p) => !applied.includes(p));
		}
	} finally {
		for (const p of list) waiting.delete(key(p.requestId, p.vmId, p.port));
	}
	return { applied, disconnected, late: left };
}

// What to tell after waitApplied: a sentence for the toast, and one for the error box (or "").
export function appliedWords({ applied, disconnected, late }) {
	const names = (l) => l.map((p) => `${p.name} port ${p.port}`).join(", ");
	const problems = [];
	for (const p of disconnected) {
		const a = vmById(p.vmId)?.properties?.agent || {};
		const since = a.disconnectedSince ? ` since ${fmtTime(a.disconnectedSince)}` : "";
		problems.push(a.state === "Revoked"
			? `${p.name} port ${p.port} is not open: the VM's agent was revoked, so nothing applies the grant until the host joins again.`
			: `${p.name} port ${p.port} is not open yet: the VM's agent is disconnected${since}. The grant is kept; the port opens when the agent is back, if the grant has not ended by then.`);
	}
	if (late.length)
		problems.push(`${names(late)}: the agent has not applied the grant within ${APPLY_WAIT_MS / 1000} s, so the port may not be open yet. It shows "open" here once the agent applies it.`);
	return { done: applied.length ? `Open: ${names(applied)}.` : "", problem: problems.join(" ") };
}

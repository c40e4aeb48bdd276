// The approvals page (#/approvals): requests that wait for approval, Approve and Deny (with a reason) where the
// signed-in caller may decide, and the count in the header's badge.
import { api } from "./api.js";
import { state } from "./state.js";
import { $, h, clear, announce, showError } from "./ui.js";
import { fmtTime, humanDuration, parseDuration, who } from "./format.js";

let waiting = [];

const path = () => `/subscriptions/${state.sub}/providers/Jitgate/approvals`;

// The badge: how many waiting requests this caller may decide (hidden at 0).
function badge() {
	const n = waiting.filter((r) => r.canApprove).length;
	const b = $("#approvals-badge");
	b.textContent = String(n);
	b.hidden = n === 0;
	b.setAttribute("aria-label", `${n} waiting for your approval`);
}

export async function refresh() {
	try {
		waiting = (await api("GET", path())).body?.value || [];
	} catch {
		waiting = [];
	}
	badge();
	return waiting;
}

function portsText(r) {
	return (r.virtualMachines || []).map((v) => {
		const name = String(v.id).split("/").pop();
		return `${name} port ${(v.ports || []).map((p) => p.extends ? `${p.number} to stay open until ${fmtTime(p.endTimeUtc)}` :
			`${p.number} for ${humanDuration(parseDuration(p.duration) || 0)} from ${p.allowedSourceAddressPrefix}`).join(", ")}`;
	}).join("; ");
}

async function decide(r, action, reasonInput, btn) {
	const reason = reasonInput.value.trim();
	if (action === "deny" && !reason) {
		reasonInput.setCustomValidity("A denial needs a reason.");
		reasonInput.reportValidity();
		reasonInput.focus();
		return;
	}
	reasonInput.setCustomValidity("");
	btn.disabled = true;
	try {
		const res = await api("POST", `${r.policy}/${action}`, { body: { requestId: r.requestId, ...(reason ? { reason } : {}) } });
		const s = res.body?.status;
		announce(action === "deny" ? `Denied ${who(r.requestor)}'s request.` :
			s === "Approved" ? `Approved: ${who(r.requestor)}'s ports are open now.` :
			`Approval ${res.body?.approvals} of ${res.body?.approvalsRequired} recorded; it waits for more.`);
		await show();
	} catch (err) {
		showError($("#approvals-error"), err, `Cannot ${action} ${who(r.requestor)}'s request: `);
		btn.disabled = false;
	}
}

function item(r) {
	const reason = h("input", { type: "text", class: "approval-reason", maxlength: "256", placeholder: "Reason (required to deny)",
		"aria-label": `Reason for ${who(r.requestor)}'s request` });
	const mine = r.requestor === state.me.name;
	return h("li", { class: "approval", dataset: { request: r.requestId } },
		h("div", { class: "approval-main" },
			h("span", { class: "grant-title" }, who(r.requestor), " asks for ", portsText(r)),
			h("span", { class: "muted" }, r.justification ? `“${r.justification}” — ` : "", `asked ${fmtTime(r.startTimeUtc)}, lapses ${fmtTime(r.expiresTimeUtc)}`),
			h("span", { class: "approval-count" }, `${r.approvals} of ${r.approvalsRequired} approvals`)),
		r.canApprove ? h("div", { class: "approval-side" }, reason,
			h("button", { type: "button", class: "primary", "aria-label": `Approve ${who(r.requestor)}'s request`,
				onclick: (e) => decide(r, "approve", reason, e.currentTarget) }, "Approve"),
			h("button", { type: "button", class: "danger", "aria-label": `Deny ${who(r.requestor)}'s request`,
				onclick: (e) => decide(r, "deny", reason, e.currentTarget) }, "Deny")) :
			h("div", { class: "approval-side muted" }, mine ? "Your request: someone else approves it" : "Not yours to decide"));
}

export async function show() {
	$("#approvals-error").hidden = true;
	try {
		waiting = (await api("GET", path())).body?.value || [];
	} catch (err) {
		showError($("#approvals-error"), err, "Cannot list the requests waiting for approval: ");
		waiting = [];
	}
	badge();
	$("#approvals-empty").hidden = waiting.length > 0;
	clear($("#approvals-list"), waiting.map(item));
}

export function init() {
	$("#approvals-refresh").addEventListener("click", () => show());
}

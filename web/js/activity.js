// The activity log: for everything or one VM, filtered by time range, caller and operation; CSV download.
import { api, withVersion, sameId } from "./api.js";
import { state, loadAll } from "./state.js";
import { $, h, clear, showError } from "./ui.js";
import { fmtTimeSec, who } from "./format.js";

const OPS = {
	"Microsoft.Security/locations/jitNetworkAccessPolicies/initiate/action": "Request access",
	"Microsoft.Security/locations/jitNetworkAccessPolicies/revoke/action": "Revoke",
	"Microsoft.Security/locations/jitNetworkAccessPolicies/write": "Configure policy",
	"Microsoft.Security/locations/jitNetworkAccessPolicies/delete": "Delete policy",
	"Microsoft.Compute/virtualMachines/write": "Register VM",
	"Microsoft.Compute/virtualMachines/delete": "Remove VM",
	"Jitgate/tokens/write": "Token change",
	Expire: "Expire",
	Revoke: "Revoke",
	SignIn: "Sign in",
	SignOut: "Sign out",
	Authenticate: "Authentication",
	Reconcile: "Reconcile",
};
const opName = (op) => OPS[op] || op;

function logPath() {
	return `/subscriptions/${state.sub}/providers/Microsoft.Security/jitActivityLog`;
}

// datetime-local value → RFC 3339 UTC
const toUtc = (v) => (v ? new Date(v).toISOString().replace(/\.\d{3}Z$/, "Z") : "");

function filters() {
	const range = $("#f-range").value;
	const q = { vm: $("#f-vm").value, caller: $("#f-caller").value.trim(), operation: $("#f-op").value };
	if (range === "custom") {
		q.since = toUtc($("#f-since").value);
		q.until = toUtc($("#f-until").value);
	} else q.since = range;
	return q;
}

function syncRange() {
	const custom = $("#f-range").value === "custom";
	$("#f-since-field").hidden = $("#f-until-field").hidden = !custom;
}

export function init() {
	$("#f-range").addEventListener("change", syncRange);
	$("#activity-filters").addEventListener("submit", (e) => {
		e.preventDefault();
		load();
	});
	$("#activity-filters").addEventListener("reset", () => setTimeout(() => {
		syncRange();
		load();
	}));
	for (const id of ["#f-vm", "#f-op"]) $(id).addEventListener("change", () => load());
}

export async function show(vmId) {
	if (!state.vms.length) {
		try {
			await loadAll();
		} catch {
			/* the VM list is only for the filter */
		}
	}
	const sel = $("#f-vm");
	const cur = vmId;
	clear(sel, h("option", { value: "" }, "All VMs"),
		state.vms.slice().sort((a, b) => a.name.localeCompare(b.name)).map((v) => h("option", { value: v.id }, v.name)));
	const match = state.vms.find((v) => sameId(v.id, cur));
	sel.value = match ? match.id : "";
	$("#activity-title").textContent = match ? `Activity log: ${match.name}` : "Activity log";
	syncRange();
	await load();
	$("#activity-page").dataset.loaded = String(Date.now());
}

async function load() {
	const q = filters();
	const csv = $("#csv-link");
	csv.href = withVersion(logPath(), { ...q, format: "csv" });
	const box = $("#activity-error");
	const tbody = $("#activity-table tbody");
	let rows;
	try {
		rows = (await api("GET", logPath(), { query: { ...q, $top: 500 } })).body?.value || [];
		showError(box, null);
	} catch (err) {
		showError(box, err, "Cannot read the log: ");
		clear(tbody);
		$("#activity-summary").textContent = "";
		return;
	}
	const vmName = $("#f-vm").selectedOptions[0]?.textContent;
	$("#activity-title").textContent = $("#f-vm").value ? `Activity log: ${vmName}` : "Activity log";
	$("#activity-summary").textContent = `${rows.length} entr${rows.length === 1 ? "y" : "ies"}${$("#f-vm").value ? ` for ${vmName}` : ""}, newest first${rows.length === 500 ? " (the first 500; download the CSV for all)" : ""}.`;
	const callers = new Set(rows.map((r) => r.caller).filter(Boolean));
	clear($("#f-callers"), [...callers].sort().map((c) => h("option", { value: c })));
	clear(tbody, rows.map((r) => {
		const short = (r.resourceId || "").split("/").slice(-1)[0] || r.resourceId;
		return h("tr", { dataset: { op: r.operation, status: r.status } },
			h("td", { "data-label": "Time" }, h("time", { datetime: r.timeUtc }, fmtTimeSec(r.timeUtc))),
			h("td", { "data-label": "Caller" }, who(r.caller) || "—"),
			h("td", { "data-label": "From" }, r.callerAddress || "—"),
			h("td", { "data-label": "Operation" }, opName(r.operation)),
			h("td", { "data-label": "Resource", title: r.resourceId }, short || "—"),
			h("td", { "data-label": "Status" }, h("span", { class: `status st-${String(r.status).toLowerCase()}` }, r.status)),
			h("td", { "data-label": "Detail", class: "detail" }, r.detail, r.justification ? h("span", { class: "sub" }, ` Justification: ${r.justification}`) : ""));
	}));
}

// Enable, edit and disable JIT: the port table dialog, and the read-modify-write of the policy
// ("default" in the VM's resource group and location) with If-Match, so other VMs in the policy are kept.
import { api, parseVmId, policyPath, sameId } from "./api.js";
import { policyOfVm } from "./state.js";
import { $, $$, h, clear, openDialog, closeDialog, setFieldError, clearFieldErrors, showError } from "./ui.js";
import { parseDuration, isoDuration, shortDuration } from "./format.js";

export const RECOMMENDED = [
	{ number: 22, protocol: "TCP", sources: "*", max: "3h", note: "SSH" },
	{ number: 3389, protocol: "TCP", sources: "*", max: "3h", note: "RDP" },
	{ number: 5985, protocol: "TCP", sources: "*", max: "3h", note: "WinRM" },
	{ number: 5986, protocol: "TCP", sources: "*", max: "3h", note: "WinRM over TLS" },
];

let ctx = null; // {vms, editing, onDone}
let rowSeq = 0;

export function pathForVm(vm) {
	const pid = vm.properties?.jit?.policyId || policyOfVm(vm)?.policy.id;
	if (pid) return pid;
	const id = parseVmId(vm.id);
	return policyPath(id.sub, id.rg, vm.location || "local");
}

function portRow(p) {
	const n = ++rowSeq;
	const num = h("input", { type: "number", min: "1", max: "65535", step: "1", inputmode: "numeric", value: p.number ?? "", "aria-label": `Port number (row ${n})`, class: "in-port", name: "number" });
	const proto = h("select", { "aria-label": `Protocol of the port in row ${n}`, class: "in-proto", name: "protocol" },
		h("option", { value: "TCP" }, "TCP"), h("option", { value: "UDP" }, "UDP"), h("option", { value: "*" }, "Any"));
	proto.value = p.protocol || "TCP";
	const src = h("input", { type: "text", value: p.sources ?? "*", "aria-label": `Allowed source addresses of the port in row ${n}: * for any, or addresses and ranges separated by commas`, class: "in-src", name: "allowedSourceAddressPrefix", spellcheck: "false" });
	const max = h("input", { type: "text", value: p.max ?? "3h", "aria-label": `Maximum request time of the port in row ${n}, like 3h or 90m`, class: "in-max", name: "maxRequestAccessDuration", spellcheck: "false" });
	const tr = h("tr", { class: "port-row" },
		h("td", { "data-label": "Port" }, h("div", { class: "field" }, num, p.note ? h("span", { class: "sub" }, p.note) : null)),
		h("td", { "data-label": "Protocol" }, h("div", { class: "field" }, proto)),
		h("td", { "data-label": "Allowed sources" }, h("div", { class: "field" }, src)),
		h("td", { "data-label": "Max request time" }, h("div", { class: "field" }, max)),
		h("td", { class: "col-menu" }));
	const rm = h("button", { type: "button", class: "quiet icon", "aria-label": `Remove the port in row ${n}`, title: "Remove this port" }, "✕");
	rm.addEventListener("click", () => {
		const next = tr.nextElementSibling || tr.previousElementSibling;
		tr.remove();
		($("input", next || $("#policy-dialog")) || $("#add-port"))?.focus();
	});
	tr.lastElementChild.append(rm);
	return tr;
}

function fromPolicyPort(p) {
	const sources = p.allowedSourceAddressPrefixes?.length ? p.allowedSourceAddressPrefixes.join(", ") : p.allowedSourceAddressPrefix || "*";
	const ms = parseDuration(p.maxRequestAccessDuration);
	return { number: p.number, protocol: p.protocol || "TCP", sources, max: ms ? shortDuration(ms) : p.maxRequestAccessDuration };
}

let wired = false;
function wire() {
	if (wired) return;
	wired = true;
	const dlg = $("#policy-dialog");
	$("#add-port").addEventListener("click", () => {
		const tr = portRow({ number: "", protocol: "TCP", sources: "*", max: "3h" });
		$("#port-table tbody").append(tr);
		$("input", tr).focus();
	});
	$("#recommended-ports").addEventListener("click", () => {
		clear($("#port-table tbody"), RECOMMENDED.map(portRow));
		$("#port-table tbody input").focus();
	});
	for (const b of $$(".dialog-close, .dialog-cancel", dlg)) b.addEventListener("click", () => closeDialog(dlg));
	$("#policy-form").addEventListener("submit", onSave);
}

export function openPolicyDialog(vms, opener, onDone, editing) {
	wire();
	ctx = { vms, editing, onDone };
	const dlg = $("#policy-dialog");
	const names = vms.map((v) => v.name).join(", ");
	$("#policy-title").textContent = editing ? `Edit JIT ports of ${names}` : vms.length > 1 ? `Enable JIT on ${vms.length} VMs` : `Enable JIT on ${names}`;
	$("#policy-vms").textContent = editing ? "Changes apply as soon as you save; grants the new rules no longer allow are closed." : `VMs: ${names}. The recommended ports are filled in: save to accept them, or change them first.`;
	showError($("#policy-error"), null);
	clearFieldErrors(dlg);
	const entry = editing ? policyOfVm(vms[0])?.entry : null;
	const rows = entry?.ports?.length ? entry.ports.map(fromPolicyPort) : RECOMMENDED;
	clear($("#port-table tbody"), rows.map(portRow));
	$("#policy-save").textContent = editing ? "Save" : "Save and enable";
	openDialog(dlg, opener, "#policy-save");
}

// The rows as policy ports; field errors for what cannot be read. null when something is wrong.
function readPorts() {
	let okAll = true;
	const ports = [];
	for (const tr of $$("#port-table tbody tr")) {
		const num = $(".in-port", tr), proto = $(".in-proto", tr), src = $(".in-src", tr), max = $(".in-max", tr);
		const n = Number(num.value);
		if (!Number.isInteger(n) || n < 1 || n > 65535) { setFieldError(num, "A port is a whole number from 1 to 65535."); okAll = false; }
		const ms = parseDuration(max.value);
		if (ms === null) { setFieldError(max, "Write a time like 3h, 90m, 1h30m or PT3H."); okAll = false; }
		const list = src.value.split(/[\s,]+/).filter(Boolean);
		if (!list.length) { setFieldError(src, "Give * for any source, or addresses and ranges."); okAll = false; }
		const port = { number: n, protocol: proto.value, maxRequestAccessDuration: ms === null ? "" : isoDuration(ms) };
		if (list.length === 1) port.allowedSourceAddressPrefix = list[0];
		else port.allowedSourceAddressPrefixes = list;
		ports.push(port);
	}
	return okAll ? ports : null;
}

// Read-modify-write of one policy: VMs in `entries` replace theirs, the others are kept. Retries once on 412.
export async function writePolicy(path, entries, removeIds = []) {
	for (let attempt = 0; ; attempt++) {
		let cur = null, etag = null;
		try {
			const r = await api("GET", path);
			cur = r.body;
			etag = r.etag;
		} catch (e) {
			if (e.status !== 404) throw e;
		}
		const replaced = (id) => entries.some((e) => sameId(e.id, id)) || removeIds.some((r) => sameId(r, id));
		const kept = (cur?.properties?.virtualMachines || []).filter((v) => !replaced(v.id)).map((v) => {
			const o = { id: v.id, ports: v.ports };
			if (v.publicIpAddress) o.publicIpAddress = v.publicIpAddress;
			return o;
		});
		const vms = [...kept, ...entries];
		try {
			if (!vms.length) {
				if (cur) await api("DELETE", path, { headers: etag ? { "If-Match": etag } : {} });
				return { kept: 0 };
			}
			const body = { kind: cur?.kind || "Basic", properties: { virtualMachines: vms } };
			if (cur?.location) body.location = cur.location;
			await api("PUT", path, { body, headers: etag ? { "If-Match": etag } : { "If-None-Match": "*" } });
			return { kept: kept.length };
		} catch (e) {
			if (e.status === 412 && attempt < 2) continue;
			e.keptCount = kept.length;
			throw e;
		}
	}
}

// The one-click Enable JIT of the Not configured tab: the recommended ports, as the dialog would save them.
export async function enableRecommended(vms) {
	const ports = RECOMMENDED.map((r) => ({ number: r.number, protocol: r.protocol, allowedSourceAddressPrefix: r.sources, maxRequestAccessDuration: isoDuration(parseDuration(r.max)) }));
	const byPath = new Map();
	for (const vm of vms) {
		const p = pathForVm(vm);
		if (!byPath.has(p)) byPath.set(p, []);
		byPath.get(p).push({ id: vm.id, ports: ports.map((x) => ({ ...x })) });
	}
	for (const [path, entries] of byPath) await writePolicy(path, entries);
}

export async function disableJit(vm) {
	await writePolicy(pathForVm(vm), [], [vm.id]);
}

// Put an API error next to the field it names: "properties.virtualMachines[2].ports[1].maxRequestAccessDuration".
function placeError(err, keptCount) {
	const t = err.target || "";
	const rows = $$("#port-table tbody tr");
	const vmIdx = /virtualMachines\[(\d+)\]/.exec(t);
	if (vmIdx && Number(vmIdx[1]) < keptCount) return false; // about another VM of the policy
	let row = null;
	const pi = /ports\[(\d+)\]/.exec(t);
	if (pi) row = rows[Number(pi[1])];
	if (!row) {
		const m = /port (\d+)/.exec(err.message || "");
		if (m) row = rows.find((r) => $(".in-port", r).value === m[1]);
	}
	if (!row) return false;
	const field = t.replace(/.*\./, "").replace(/\[\d+\]$/, "");
	const cls = { number: ".in-port", protocol: ".in-proto", allowedSourceAddressPrefix: ".in-src", allowedSourceAddressPrefixes: ".in-src", maxRequestAccessDuration: ".in-max" }[field] || ".in-port";
	const el = $(cls, row);
	setFieldError(el, err.message);
	el.focus();
	return true;
}

async function onSave(e) {
	e.preventDefault();
	const dlg = $("#policy-dialog");
	clearFieldErrors(dlg);
	showError($("#policy-error"), null);
	const ports = readPorts();
	if (!ports) {
		$("[aria-invalid=true]", dlg)?.focus();
		return;
	}
	if (!ports.length) {
		showError($("#policy-error"), { message: "Add at least one port, or use Disable JIT from the VM's menu." }, "Nothing to save: ");
		return;
	}
	const byPath = new Map();
	for (const vm of ctx.vms) {
		const p = pathForVm(vm);
		if (!byPath.has(p)) byPath.set(p, []);
		byPath.get(p).push({ id: vm.id, ports: ports.map((x) => ({ ...x })) });
	}
	const btn = $("#policy-save");
	btn.disabled = true;
	const done = [];
	try {
		for (const [path, entries] of byPath) {
			try {
				await writePolicy(path, entries);
				done.push(...entries);
			} catch (err) {
				const names = entries.map((x) => parseVmId(x.id)?.name).join(", ");
				const placed = placeError(err, err.keptCount ?? 0);
				showError($("#policy-error"), err, done.length ? `Saved for some VMs, but not for ${names}: ` : `Not saved (${names}): `);
				if (!placed) $("#policy-error").focus?.();
				if (done.length) ctx.onDone?.();
				return;
			}
		}
		closeDialog(dlg);
		const names = ctx.vms.map((v) => v.name).join(", ");
		await ctx.onDone?.(ctx.editing ? `Saved the JIT ports of ${names}.` : `JIT is enabled on ${names}.`);
	} finally {
		btn.disabled = false;
	}
}


// Request access: pick VMs' ports, the source (my IP or a range), a time per port up to its maximum and a
// justification; "Open ports" initiates one request per policy. API errors go next to the field they name.
import { api } from "./api.js";
import { state, policyOfVm } from "./state.js";
import { $, $$, h, clear, openDialog, closeDialog, setFieldError, clearFieldErrors, showError, newId } from "./ui.js";
import { parseDuration, humanDuration, shortDuration, fmtTime } from "./format.js";

const DEFAULT_MS = 3 * 3600e3;
let ctx = null; // {vms, onDone, rows: [{vm, policyId, port, box, time}]}
let wired = false;

function wire() {
	if (wired) return;
	wired = true;
	const dlg = $("#request-dialog");
	for (const b of $$(".dialog-close, .dialog-cancel", dlg)) b.addEventListener("click", () => closeDialog(dlg));
	const sync = () => {
		const range = $("#source-range").checked;
		$("#source-prefix").disabled = !range;
		if (range) $("#source-prefix").focus();
	};
	$("#source-me").addEventListener("change", sync);
	$("#source-range").addEventListener("change", sync);
	$("#request-form").addEventListener("submit", onOpen);
}

function sourcesText(p) {
	const list = p.allowedSourceAddressPrefixes?.length ? p.allowedSourceAddressPrefixes : [p.allowedSourceAddressPrefix || "*"];
	return list.map((x) => (x === "*" ? "any address" : x)).join(", ");
}

export function openRequestDialog(vms, opener, onDone) {
	wire();
	const dlg = $("#request-dialog");
	ctx = { vms, onDone, rows: [] };
	$("#request-myip").textContent = state.me.address || "unknown";
	$("#request-title").textContent = vms.length > 1 ? `Request access to ${vms.length} VMs` : `Request access to ${vms[0].name}`;
	showError($("#request-error"), null);
	clearFieldErrors(dlg);
	$("#source-me").checked = true;
	$("#source-prefix").disabled = true;
	$("#source-prefix").value = "";
	$("#justification").value = "";
	clear($("#request-vms"), vms.map((vm) => vmBlock(vm)));
	openDialog(dlg, opener, ".req-port-box");
}

function vmBlock(vm) {
	const pe = policyOfVm(vm);
	const ports = pe?.entry.ports || [];
	const addrs = (vm.properties?.addresses || []).join(", ");
	const fs = h("fieldset", { class: "req-vm", dataset: { vm: vm.name } },
		h("legend", {}, vm.name, addrs ? h("span", { class: "sub" }, ` ${addrs}`) : ""));
	const agent = vm.properties?.enforcement === "agent" ? vm.properties.agent || {} : null;
	if (agent && !agent.connected)
		fs.append(h("p", { class: "note agent-note" }, agent.state === "Revoked"
			? "Its agent was revoked: a grant is recorded but nothing opens the port until the host joins again."
			: `Its agent is disconnected${agent.disconnectedSince ? ` since ${fmtTime(agent.disconnectedSince)}` : ""}: the port opens when it is back.`));
	if (!pe || !ports.length) {
		fs.append(h("p", { class: "muted" }, "This VM has no JIT ports."));
		return fs;
	}
	const list = h("ul", { class: "plain req-ports" });
	for (const p of ports) {
		const maxMs = parseDuration(p.maxRequestAccessDuration) || DEFAULT_MS;
		const boxId = newId("port"), timeId = newId("time"), hintId = newId("hint");
		const proto = p.protocol && p.protocol !== "TCP" ? `/${p.protocol === "*" ? "any" : p.protocol}` : "";
		const box = h("input", { type: "checkbox", id: boxId, class: "req-port-box", checked: ports.length === 1 });
		const time = h("input", { type: "text", id: timeId, class: "req-time", value: shortDuration(Math.min(DEFAULT_MS, maxMs)), "aria-describedby": hintId, spellcheck: "false", disabled: !box.checked, name: "time" });
		box.addEventListener("change", () => (time.disabled = !box.checked));
		list.append(h("li", { class: "req-port", dataset: { port: String(p.number) } },
			h("div", { class: "field check" }, box, h("label", { for: boxId }, `Port ${p.number}${proto}`)),
			h("div", { class: "field" },
				h("label", { for: timeId }, `Time for port ${p.number}`),
				time,
				h("p", { class: "help", id: hintId }, `Up to ${humanDuration(maxMs)}; allowed from ${sourcesText(p)}.`))));
		ctx.rows.push({ vm, policyId: pe.policy.id, port: p.number, box, time });
	}
	fs.append(list);
	return fs;
}

function fieldFor(err, sent) {
	const t = err.target || "";
	if (t === "justification") return $("#justification");
	const vi = /virtualMachines\[(\d+)\]/.exec(t);
	const pi = /ports\[(\d+)\]/.exec(t);
	const vmEntry = vi ? sent[Number(vi[1])] : null;
	if (!vmEntry) return null;
	if (!pi) return $(".req-port-box", vmEntry.rows[0].box.closest("fieldset"));
	const row = vmEntry.rows[Number(pi[1])];
	if (!row) return null;
	if (t.endsWith(".endTimeUtc")) return row.time;
	if (t.endsWith(".allowedSourceAddressPrefix")) return $("#source-range").checked ? $("#source-prefix") : $("#source-me");
	return row.box;
}

async function onOpen(e) {
	e.preventDefault();
	const dlg = $("#request-dialog");
	clearFieldErrors(dlg);
	showError($("#request-error"), null);
	const chosen = ctx.rows.filter((r) => r.box.checked);
	if (!chosen.length) {
		setFieldError(ctx.rows[0]?.box || $("#request-vms"), "Choose at least one port to open.");
		(ctx.rows[0]?.box)?.focus();
		return;
	}
	let ok = true;
	for (const r of chosen) {
		const ms = parseDuration(r.time.value);
		if (ms === null || ms <= 0) {
			setFieldError(r.time, "Write a time like 3h, 90m or 1h30m.");
			ok = false;
		}
		r.ms = ms;
	}
	const range = $("#source-range").checked;
	const prefix = $("#source-prefix").value.trim();
	if (range && !prefix) {
		setFieldError($("#source-prefix"), "Give an address (10.0.0.5) or a range (10.0.0.0/24).");
		ok = false;
	}
	if (!ok) {
		$("[aria-invalid=true]", dlg)?.focus();
		return;
	}
	const justification = $("#justification").value.trim();
	// one initiate per policy; remember which row each body entry came from
	const byPolicy = new Map();
	for (const r of chosen) {
		if (!byPolicy.has(r.policyId)) byPolicy.set(r.policyId, new Map());
		const m = byPolicy.get(r.policyId);
		if (!m.has(r.vm.id)) m.set(r.vm.id, []);
		m.get(r.vm.id).push(r);
	}
	const btn = $("#request-open");
	btn.disabled = true;
	const opened = [];
	const pending = []; // ports on agent VMs: "open" once their agent has applied them (agents.js)
	try {
		for (const [policyId, vmMap] of byPolicy) {
			const sent = [...vmMap].map(([id, rows]) => ({ id, rows }));
			const now = Date.now();
			const body = {
				virtualMachines: sent.map((s) => ({
					id: s.id,
					ports: s.rows.map((r) => {
						const p = { number: r.port, endTimeUtc: new Date(now + r.ms).toISOString().replace(/\.\d{3}Z$/, "Z") };
						if (range) p.allowedSourceAddressPrefix = prefix;
						return p;
					}),
				})),
			};
			if (justification) body.justification = justification;
			try {
				const resp = await api("POST", `${policyId}/initiate`, { body });
				for (const s of sent)
					for (const r of s.rows) {
						opened.push(`${r.vm.name} port ${r.port}`);
						if (r.vm.properties?.enforcement === "agent")
							pending.push({ policyId, requestId: resp.body?.id, vmId: s.id, name: r.vm.name, port: r.port });
					}
			} catch (err) {
				const field = fieldFor(err, sent);
				if (field) {
					setFieldError(field, err.message);
					field.focus();
				}
				showError($("#request-error"), err, opened.length ? `Opened ${opened.join(", ")}, but the rest was refused: ` : "Not opened: ");
				if (opened.length) ctx.onDone?.();
				return;
			}
		}
		closeDialog(dlg);
		const from = range ? prefix : "your IP " + (state.me.address || "");
		await ctx.onDone?.(pending.length ? `Granted ${opened.join(", ")} from ${from}; opening… (waiting for the agent to apply it).`
			: `Opened ${opened.join(", ")} from ${from}.`, pending);
		const g = $("#grants-title");
		g?.focus();
	} finally {
		btn.disabled = false;
	}
}

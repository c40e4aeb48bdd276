// The "Just-in-time VM access" page: three tabs of VMs, search and sort, open ports with countdowns, timelines.
// At fleet scale (1,000 VMs) a tab shows one page of rows, only the tab on screen is rendered, and timelines
// are drawn as they come into view (timeline.js).
import { api, parseVmId } from "./api.js";
import { state, loadAll, vmRg, vmById, vmInfo, policyOfVm, allGrants } from "./state.js";
import { $, h, clear, announce, wireTabs, menuButton, confirmDialog, showError } from "./ui.js";
import { countdown, countdownWords, fmtTime, relTime, timeMs, who } from "./format.js";
import { openPolicyDialog, disableJit, enableRecommended } from "./policy.js";
import { openRequestDialog } from "./request.js";
import { renderTimelines, timelineOf } from "./timeline.js";
import { enforcedBy, grantState, markOpening, waitApplied, appliedWords } from "./agents.js";

export const PAGE_ROWS = 50; /* rows of a tab shown at once: 1,000 rendered rows made each keystroke of a search take 0.8 s */
const TIMELINE_DELAY_MS = 120; /* after a keystroke in the search, the timelines follow once typing pauses */

const selected = { configured: new Set(), notconfigured: new Set() };
// each tab's status and the page of it shown; its row builder is in ROWS
const tables = {
	configured: { status: "Configured", page: 0 },
	notconfigured: { status: "NotConfigured", page: 0 },
	unsupported: { status: "Unsupported", page: 0 },
};
let timelineTimer = null;
let tabs;
let ticker = null;
let poller = null;
let resizeTimer = null;

export function init() {
	tabs = wireTabs($("#vm-tabs"), () => {
		renderTable(currentTab());
		updateSelectionButtons();
	});
	const refilter = () => {
		for (const t of Object.values(tables)) t.page = 0;
		render(false);
		clearTimeout(timelineTimer);
		timelineTimer = setTimeout(() => drawTimelines({ reset: true }), TIMELINE_DELAY_MS);
	};
	$("#vm-search").addEventListener("input", refilter);
	$("#vm-sort").addEventListener("change", refilter);
	$("#exposed-only").addEventListener("change", refilter);
	for (const which of Object.keys(tables)) {
		const pager = $(`#panel-${which} .pager`);
		$(".pager-prev", pager).addEventListener("click", () => turnPage(which, -1));
		$(".pager-next", pager).addEventListener("click", () => turnPage(which, 1));
	}
	$("#refresh").addEventListener("click", () => reload(true));
	$("#timeline-span").addEventListener("change", () => drawTimelines());
	$("#request-selected").addEventListener("click", (e) => {
		const list = [...selected.configured].map(vmById).filter(Boolean);
		if (list.length) openRequestDialog(list, e.currentTarget, afterChange);
	});
	$("#enable-selected").addEventListener("click", (e) => {
		const list = [...selected.notconfigured].map(vmById).filter(Boolean);
		if (list.length) openPolicyDialog(list, e.currentTarget, afterChange, false);
	});
	for (const which of ["configured", "notconfigured"]) {
		$(`#table-${which} .select-all`).addEventListener("change", (e) => {
			const on = e.currentTarget.checked;
			for (const box of document.querySelectorAll(`#table-${which} tbody input[type=checkbox]`)) {
				box.checked = on;
				box.dispatchEvent(new Event("change"));
			}
		});
	}
	window.addEventListener("resize", () => {
		clearTimeout(resizeTimer);
		resizeTimer = setTimeout(() => !$("#vms-page").hidden && drawTimelines(), 150);
	});
}

// Someone is in the middle of something (a menu or dialog open, the page away): background reloads wait.
const busy = () => document.hidden || $("#vms-page").hidden || document.querySelector("dialog[open]") || document.querySelector(".menu:not([hidden])");

export async function show() {
	await reload(false);
	if (!ticker) ticker = setInterval(tick, 1000);
	if (!poller)
		poller = setInterval(() => {
			if (!busy()) reload(false, true);
		}, 30000);
}

export function stop() {
	clearInterval(ticker);
	clearInterval(poller);
	ticker = poller = null;
}

// After a change: reload and say what happened. After a request on agent VMs (pending: its ports there), the
// page goes on while their agents apply it: "opening…", then "open", or why not (followApplied).
export async function afterChange(message, pending = []) {
	markOpening(pending);
	await reload(false);
	if (message) announce(message, "success");
	if (pending.length) followApplied(pending);
}

async function followApplied(pending) {
	const outcome = await waitApplied(pending, renderGrants);
	if (outcome.applied.length) await reload(false); /* their appliedTimeUtc; else nothing changed but the wait */
	else renderGrants();
	const words = appliedWords(outcome);
	if (words.problem) showError($("#vms-error"), { message: words.problem }, "Not open yet: ");
	if (words.done || words.problem) announce(words.done || words.problem, words.problem ? "error" : "success");
}

// background: a refresh nobody asked for, which must not replace the rows under an open menu or dialog
// (the one that opened while the data loaded included); the next tick or poll tries again.
async function reload(announceIt, background = false) {
	const box = $("#vms-error");
	try {
		await loadAll();
		showError(box, null);
	} catch (err) {
		showError(box, err, "Cannot load the VMs: ");
		return;
	}
	if (background && busy()) return;
	const ids = new Set(state.vms.map((v) => v.id));
	for (const s of Object.values(selected)) for (const id of [...s]) if (!ids.has(id)) s.delete(id);
	render();
	if (announceIt) announce("Refreshed.");
}

function matches(vm, words) {
	const hay = vmInfo(vm.id)?.hay || "";
	return words.every((w) => hay.includes(w));
}

function sorter(key) {
	const desc = key.startsWith("-");
	const k = key.replace(/^-/, "");
	const val = (vm) => {
		const j = vm.properties?.jit || {};
		if (k === "rg") return vmRg(vm).toLowerCase() + "/" + vm.name.toLowerCase();
		if (k === "last") return j.lastAccessTimeUtc ? timeMs(j.lastAccessTimeUtc) : 0;
		if (k === "approved") return j.approvedRequestsLast7Days || 0;
		return vm.name.toLowerCase();
	};
	return (a, b) => {
		const x = val(a), y = val(b);
		const c = x < y ? -1 : x > y ? 1 : 0;
		return (desc ? -c : c) || a.name.localeCompare(b.name);
	};
}

// a status this portal does not know is shown as Not configured
const tabStatus = (e) => (e.status === "Configured" || e.status === "Unsupported" ? e.status : "NotConfigured");
const currentTab = () => tabs.selected().id.replace(/^tab-/, "");
const searchWords = () => $("#vm-search").value.trim().toLowerCase().split(/\s+/).filter(Boolean);

// A tab's VMs as the search, the sort and (Not configured) "only exposed" leave them. Exposed VMs come first there.
function listOf(which) {
	const words = searchWords();
	const status = tables[which].status;
	const exposedOnly = which === "notconfigured" && $("#exposed-only").checked;
	const list = state.vms.filter((v) => {
		const e = vmInfo(v.id);
		return tabStatus(e) === status && (!exposedOnly || e.exposed.length > 0) && matches(v, words);
	});
	const sort = sorter($("#vm-sort").value);
	if (which !== "notconfigured") return list.sort(sort);
	return list.sort((a, b) => (vmInfo(b.id).exposed.length > 0) - (vmInfo(a.id).exposed.length > 0) || sort(a, b));
}

// Re-rendering replaces the rows: keep keyboard focus on the same control (found again by its label).
function render(withTimelines = true) {
	const a = document.activeElement;
	const label = a && a !== document.body && $("#vms-page").contains(a) ? a.getAttribute("aria-label") : null;
	const box = label ? a.closest("[id]") : null;
	renderAll(withTimelines);
	if (label && !document.contains(a)) {
		const again = [...(box && document.contains(box) ? box : $("#vms-page")).querySelectorAll("[aria-label]")].find((e) => e.getAttribute("aria-label") === label);
		(again || $("#grants-title")).focus();
	}
}

function renderAll(withTimelines) {
	const counts = { Configured: 0, NotConfigured: 0, Unsupported: 0 };
	let exposed = 0;
	for (const e of state.byVm.values()) {
		if (!e.vm) continue;
		counts[tabStatus(e)]++;
		if (e.exposed.length) exposed++;
	}
	$("#count-configured").textContent = counts.Configured;
	$("#count-notconfigured").textContent = counts.NotConfigured;
	$("#count-unsupported").textContent = counts.Unsupported;
	$("#count-exposed").textContent = exposed;
	$("#exposed-note").hidden = exposed === 0;
	$("#configured-help").textContent = state.caps.request
		? "VMs whose ports JIT protects. Select VMs to request access."
		: "VMs whose ports JIT protects.";
	renderTable(currentTab());
	$("#request-selected").hidden = !state.caps.request;
	$("#enable-selected").hidden = !state.caps.configure;
	for (const c of document.querySelectorAll(".col-select")) c.hidden = false;
	$("#table-configured .col-select").hidden = !state.caps.request;
	$("#table-notconfigured .col-select").hidden = !state.caps.configure;
	updateSelectionButtons();
	renderGrants();
	if (withTimelines) {
		clearTimeout(timelineTimer);
		drawTimelines();
	}
	$("#vms-page").dataset.loaded = String(state.loadedAt);
}

// the timelines of the VMs the search leaves
function drawTimelines({ reset = false, want = null } = {}) {
	const words = searchWords();
	renderTimelines($("#timelines"), { match: words.length ? (vm) => matches(vm, words) : null, reset, want });
}

const ROWS = { configured: configuredRow, notconfigured: notConfiguredRow, unsupported: unsupportedRow };

// One tab's table: its current page of rows, the pager, the empty note. The other tabs are rendered when shown.
function renderTable(which) {
	const t = tables[which];
	const list = listOf(which);
	const total = Number($(`#count-${which}`).textContent);
	const pages = Math.max(1, Math.ceil(list.length / PAGE_ROWS));
	t.page = Math.min(t.page, pages - 1);
	const from = t.page * PAGE_ROWS;
	const shown = list.slice(from, from + PAGE_ROWS);
	const panel = $("#panel-" + which);
	clear($("tbody", panel), shown.map((vm) => ROWS[which](vm)));
	const empty = $(".empty", panel);
	empty.hidden = list.length > 0;
	empty.textContent = total ? "No VMs match the search." : which === "configured" ? "No VM is configured for JIT yet." : "There are none.";
	const pager = $(".pager", panel);
	pager.hidden = list.length <= PAGE_ROWS;
	$(".pager-where", pager).textContent = `${from + 1}–${from + shown.length} of ${list.length}`;
	$(".pager-prev", pager).disabled = t.page === 0;
	$(".pager-next", pager).disabled = t.page >= pages - 1;
}

function turnPage(which, step) {
	tables[which].page += step;
	renderTable(which);
	updateSelectionButtons();
	const b = $(`#panel-${which} .pager-${step < 0 ? "prev" : "next"}`);
	if (b.disabled) $(`#panel-${which} .pager-${step < 0 ? "next" : "prev"}`).focus();
}

const cell = (label, ...content) => h("td", { "data-label": label }, ...content);

function selectBox(which, vm) {
	const box = h("input", { type: "checkbox", "aria-label": `Select ${vm.name}`, checked: selected[which].has(vm.id) });
	box.addEventListener("change", () => {
		if (box.checked) selected[which].add(vm.id);
		else selected[which].delete(vm.id);
		box.closest("tr").classList.toggle("is-selected", box.checked);
		updateSelectionButtons();
	});
	return h("td", { class: "col-select" }, box);
}

function connectionDetails(vm) {
	const byAddr = new Map();
	for (const c of vm.properties?.jit?.connectionDetails || []) {
		if (!byAddr.has(c.address)) byAddr.set(c.address, []);
		byAddr.get(c.address).push(c.protocol && c.protocol !== "TCP" ? `${c.port}/${c.protocol === "*" ? "any" : c.protocol}` : String(c.port));
	}
	if (!byAddr.size) return "—";
	return h("ul", { class: "plain conn" }, [...byAddr].map(([a, ports]) => h("li", {}, h("code", {}, a), " ports ", ports.join(", "))));
}

function lastAccess(j) {
	if (!j.lastAccessTimeUtc) return h("span", { class: "muted" }, "Never");
	return h("time", { datetime: j.lastAccessTimeUtc, title: fmtTime(j.lastAccessTimeUtc) }, relTime(j.lastAccessTimeUtc));
}

function vmMenu(vm, configured) {
	const items = [];
	if (configured && state.caps.request) items.push({ label: "Request access", action: (b) => openRequestDialog([vm], b, afterChange) });
	if (configured && state.caps.configure) items.push({ label: "Edit ports", action: (b) => openPolicyDialog([vm], b, afterChange, true) });
	if (!configured && state.caps.configure) items.push({ label: "Enable JIT", action: (b) => openPolicyDialog([vm], b, afterChange, false) });
	if (state.caps.activity) items.push({ label: "Activity log", action: () => (location.hash = "#/activity/" + encodeURIComponent(vm.id)) });
	if (configured) items.push({ label: "Access timeline", action: () => focusTimeline(vm) });
	if (configured && state.caps.configure)
		items.push({ label: "Disable JIT", danger: true, action: (b) => onDisable(vm, b) });
	return items.length ? menuButton(`Actions for ${vm.name}`, items) : "";
}

function nameCell(vm) {
	return cell("Name", h("span", { class: "vm-name" }, vm.name), h("span", { class: "sub" }, vm.properties?.osType || ""));
}

function configuredRow(vm) {
	const j = vm.properties?.jit || {};
	return h("tr", { class: selected.configured.has(vm.id) ? "is-selected" : "", dataset: { vm: vm.name } },
		state.caps.request ? selectBox("configured", vm) : null,
		nameCell(vm),
		cell("Resource group", vmRg(vm)),
		cell("Approved (7 days)", String(j.approvedRequestsLast7Days ?? 0)),
		cell("Last access", lastAccess(j)),
		cell("Connection details", connectionDetails(vm)),
		cell("Last user", j.lastUser ? who(j.lastUser) : h("span", { class: "muted" }, "—")),
		cell("Enforced by", enforcedBy(vm)),
		h("td", { class: "col-menu" }, vmMenu(vm, true)));
}

function notConfiguredRow(vm) {
	const p = vm.properties || {};
	return h("tr", { class: selected.notconfigured.has(vm.id) ? "is-selected" : "", dataset: { vm: vm.name } },
		state.caps.configure ? selectBox("notconfigured", vm) : null,
		nameCell(vm),
		cell("Resource group", vmRg(vm)),
		cell("OS", p.osType || ""),
		cell("Addresses", (p.addresses || []).join(", ") || "—"),
		cell("Enforced by", enforcedBy(vm)),
		cell("Management ports", exposure(vm)),
		h("td", { class: "col-menu" }, vmMenu(vm, false)));
}

// Listening management ports with no JIT (what the VM's agent reports), and the one-click Enable JIT.
function exposure(vm) {
	const ports = vmInfo(vm.id)?.exposed || [];
	if (!ports.length)
		return h("span", { class: "muted" }, vm.properties?.enforcement === "agent" ? "none listening" : "not known (no agent)");
	return [h("span", { class: "exposed" }, "Exposed: ", ports.join(", ")),
		state.caps.configure
			? h("button", { type: "button", class: "primary small enable-now", "aria-label": `Enable JIT on ${vm.name} with the recommended ports`, onclick: (e) => onEnableNow(vm, e.currentTarget) }, "Enable JIT")
			: null];
}

async function onEnableNow(vm, btn) {
	btn.disabled = true;
	btn.textContent = "Enabling…";
	try {
		await enableRecommended([vm]);
		await afterChange(`JIT is enabled on ${vm.name}: ports 22, 3389, 5985 and 5986 are closed until someone asks.`);
	} catch (err) {
		showError($("#vms-error"), err, `Cannot enable JIT on ${vm.name}: `);
		btn.disabled = false;
		btn.textContent = "Enable JIT";
	}
}

function unsupportedRow(vm) {
	return h("tr", { dataset: { vm: vm.name } }, nameCell(vm), cell("Resource group", vmRg(vm)), cell("Enforced by", enforcedBy(vm)),
		cell("Reason", vm.properties?.jit?.reason || "unknown"));
}

function updateSelectionButtons() {
	const n = selected.configured.size, m = selected.notconfigured.size;
	for (const which of ["configured", "notconfigured"]) {
		const boxes = [...document.querySelectorAll(`#table-${which} tbody input[type=checkbox]`)];
		const on = boxes.filter((b) => b.checked).length;
		const all = $(`#table-${which} .select-all`);
		all.checked = boxes.length > 0 && on === boxes.length;
		all.indeterminate = on > 0 && on < boxes.length;
		all.disabled = boxes.length === 0;
	}
	const rq = $("#request-selected"), en = $("#enable-selected");
	rq.disabled = n === 0;
	rq.textContent = n > 1 ? `Request access to ${n} VMs` : "Request access";
	en.disabled = m === 0;
	en.textContent = m > 1 ? `Enable JIT on ${m} VMs` : "Enable JIT";
}

async function onDisable(vm, opener) {
	const ok = await confirmDialog({
		title: `Disable JIT on ${vm.name}?`,
		body: "Its ports are no longer protected: they open to everyone, and open grants end.",
		confirm: "Disable JIT", danger: true, opener,
	});
	if (!ok) return;
	try {
		await disableJit(vm);
		await afterChange(`JIT is disabled on ${vm.name}.`);
	} catch (err) {
		showError($("#vms-error"), err, `Cannot disable JIT on ${vm.name}: `);
		$("#vms-error").scrollIntoView({ block: "nearest" });
	}
}

function focusTimeline(vm) {
	const el = timelineOf(vm, (want) => drawTimelines({ want }));
	if (el) {
		el.scrollIntoView({ block: "center" });
		el.focus();
	}
}

// Open ports: connection details, a live countdown and a revoke button per grant.
function renderGrants() {
	const now = Date.now();
	const live = allGrants(now).filter((g) => g.live).sort((a, b) => a.end - b.end);
	$("#grants-empty").hidden = live.length > 0;
	const list = $("#grants-list");
	clear(list, live.map((g) => {
		const vm = vmById(g.vmId);
		const name = vm?.name || parseVmId(g.vmId)?.name || g.vmId;
		const mine = g.requestor === state.me.name;
		const canRevoke = state.caps.revokeAny || (state.caps.request && mine);
		// gateway DNAT: the gateway's publicIpAddress and the port mapped to this one, else the VM's own addresses
		const mapped = (vm?.properties?.jit?.connectionDetails || []).find((c) => c.vmPort === g.port);
		const targets = mapped ? [[mapped.address, mapped.port]] : (vm?.properties?.addresses || []).map((a) => [a, g.port]);
		const rule = (policyOfVm(vm || { id: g.vmId })?.entry.ports || []).find((p) => p.number === g.port);
		const proto = rule?.protocol || "TCP";
		const canExtend = canRevoke && !rule?.approval;	/* a port that needs approval is asked for again instead */
		const cd = h("span", { class: "countdown", "data-end": String(g.end), role: "timer", "aria-label": countdownWords(g.end - now) }, countdown(g.end - now));
		return h("li", { class: "grant", dataset: { vm: name, port: String(g.port) } },
			h("div", { class: "grant-main" },
				h("span", { class: "grant-title" }, name, " port ", String(g.port), proto !== "TCP" ? `/${proto === "*" ? "any" : proto}` : "", " ", grantState(g)),
				h("span", { class: "grant-conn" }, "Connect to ", targets.length ? targets.map(([a, p], i) => [i ? " or " : "", h("code", {}, a.includes(":") ? `[${a}]:${p}` : `${a}:${p}`)]) : "the VM", " from ", h("code", {}, g.source || "?")),
				h("span", { class: "grant-who muted" }, mine ? "You" : who(g.requestor), g.justification ? ` — “${g.justification}”` : "", ", until ", fmtTime(new Date(g.end).toISOString()))),
			h("div", { class: "grant-side" },
				cd,
				canExtend ? h("button", { type: "button", class: "quiet", "aria-label": `Extend ${name} port ${g.port} by 30 minutes`, onclick: (e) => onExtend(g, name, e.currentTarget) }, "+30 min") : null,
				canRevoke ? h("button", { type: "button", class: "danger", "aria-label": `Revoke ${name} port ${g.port}`, onclick: (e) => onRevoke(g, name, e.currentTarget) }, "Revoke") : null));
	}));
}

function tick() {
	const now = Date.now();
	let expired = false;
	for (const el of document.querySelectorAll(".countdown[data-end]")) {
		const left = Number(el.dataset.end) - now;
		el.textContent = countdown(left);
		if (Math.floor(left / 1000) % 60 === 0) el.setAttribute("aria-label", countdownWords(left));
		if (left <= 0) expired = true;
	}
	if (expired && !tick.busy) {
		tick.busy = true;
		setTimeout(() => reload(false, true).finally(() => (tick.busy = false)), 1500);
	}
}

// Extend: the grant's end 30 minutes later, within its rule's maximum from when it opened (the server says if not).
const EXTEND_MS = 30 * 60 * 1000;
async function onExtend(g, name, btn) {
	btn.disabled = true;
	try {
		await api("POST", `${g.policyId}/extend`, {
			body: { virtualMachines: [{ id: g.vmId, ports: [{ number: g.port, endTimeUtc: new Date(g.end + EXTEND_MS).toISOString() }] }] },
		});
		await afterChange(`Extended ${name} port ${g.port} by 30 minutes.`);
	} catch (err) {
		showError($("#vms-error"), err, `Cannot extend ${name} port ${g.port}: `);
		btn.disabled = false;
	}
}

async function onRevoke(g, name, btn) {
	const ok = await confirmDialog({
		title: `Revoke access to ${name} port ${g.port}?`,
		body: "The port closes now for new connections; connections already open are ended too.",
		confirm: "Revoke", danger: true, opener: btn,
	});
	if (!ok) return;
	try {
		const r = await api("POST", `${g.policyId}/revoke`, {
			body: { virtualMachines: [{ id: g.vmId, ports: [{ number: g.port }] }], terminateSessions: true },
		});
		await afterChange(`Revoked ${name} port ${g.port} (${r.body?.revokedPorts ?? 0} grant(s) closed).`);
		$("#grants-title").focus?.();
	} catch (err) {
		showError($("#vms-error"), err, `Cannot revoke ${name} port ${g.port}: `);
	}
}

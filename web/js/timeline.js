// The picture: per VM, a timeline of the last 7 days' access windows (who, from where, how long), as SVG.
import { state, policyOfVm, allGrants } from "./state.js";
import { h, clear } from "./ui.js";
import { fmtTime, humanDuration, who } from "./format.js";

const DAY = 86400e3;
const LANE = 28, BAR = 16, TOP = 8, AXIS = 26;

function colourIndex(name, names) {
	const i = names.indexOf(name);
	return i < 0 ? 0 : i % 8;
}

function statusWords(g) {
	if (g.live) return "open now";
	if (g.reason === "Expired") return "expired";
	if (g.reason === "NewerRequestInitiated") return "replaced by a newer request";
	if (g.reason === "TokenRevoked") return "revoked (its token was revoked)";
	if (g.reason === "PolicyChanged") return "revoked (the policy no longer allows it)";
	if (g.status === "Revoked") return `revoked (${g.reason === "UserRequested" ? "closed early" : g.reason || "closed"})`;
	return (g.status || "").toLowerCase();
}

const SPANS = { P7D: 7 * DAY, P1D: DAY, PT3H: 3 * 3600e3 };
const STEPS = [15 * 60e3, 30 * 60e3, 3600e3, 3 * 3600e3, 6 * 3600e3, 12 * 3600e3, DAY];

// Timelines are drawn for what is on screen (issue 13: 500 configured VMs made 500 SVGs per refresh): each VM
// gets a placeholder of its final height, and is drawn when it comes within DRAW_AHEAD_PX of the viewport.
const DRAW_AHEAD_PX = 800; /* about one screen ahead, so that scrolling shows drawn timelines, not blanks */
const TIMELINES_SHOWN = 20; /* timelines listed at first (and per "Show more"): those with access windows come first */
let shown = TIMELINES_SHOWN;
let observer = null;
let pending = new Map(); // placeholder element → () => its drawn timeline

function drawNow(el) {
	const draw = pending.get(el);
	if (!draw) return;
	pending.delete(el);
	observer?.unobserve(el);
	el.replaceWith(draw());
}

// renderTimelines(root, {match, reset, want}): the timelines of the VMs match(vm) keeps (all when no match),
// those with access windows first, TIMELINES_SHOWN at a time; reset: as many as at first; want: a VM to include.
export function renderTimelines(root, opts = {}) {
	const { match, reset, want } = opts;
	if (reset) shown = TIMELINES_SHOWN;
	const spanKey = document.getElementById("timeline-span")?.value || "P7D";
	const now = Date.now();
	const span = SPANS[spanKey] || SPANS.P7D;
	const t0 = now - span;
	const grants = allGrants(now).filter((g) => (g.ended ?? g.end) > t0 || g.live);
	// the axis runs to the end of the latest open grant, so that what is still to come shows too
	const t1 = Math.max(now, ...grants.filter((g) => g.live).map((g) => Math.min(g.end, now + span / 3)));
	const names = [...new Set(grants.map((g) => g.requestor))].sort();
	const byVm = new Map();
	for (const g of grants) {
		const k = g.vmId.toLowerCase();
		if (!byVm.has(k)) byVm.set(k, []);
		byVm.get(k).push(g);
	}
	const all = state.vms.filter((v) => v.properties?.jit?.status === "Configured" || byVm.has(v.id.toLowerCase()));
	const had = (v) => byVm.has(v.id.toLowerCase());
	const list = all.filter((v) => !match || match(v)).sort((a, b) => had(b) - had(a) || a.name.localeCompare(b.name));
	if (want) shown = Math.max(shown, list.findIndex((v) => v.id === want.id) + 1);
	const vms = list.slice(0, shown);
	const width = Math.max(300, Math.floor(root.clientWidth || root.parentElement?.clientWidth || 800));
	observer?.disconnect();
	pending = new Map();
	if (!vms.length) {
		clear(root, h("p", { class: "muted" }, all.length ? "No VM matches the search." : "No VM is configured for JIT yet."));
		return;
	}
	const ctx = { now, t0, t1, width, span };
	const blocks = vms.map((vm) => {
		const mine = byVm.get(vm.id.toLowerCase()) || [];
		const ports = portsOf(vm, mine);
		const el = placeholder(vm, mine.length, ctx, ports.length);
		pending.set(el, () => vmTimeline(vm, mine, names, ports, ctx));
		return el;
	});
	const legend = names.length
		? h("ul", { class: "legend plain", "aria-label": "Who" }, names.map((n) => h("li", {}, h("span", { class: `swatch c${colourIndex(n, names)}`, "aria-hidden": "true" }), n === state.me.name ? `${who(n)} (you)` : who(n))))
		: null;
	const rest = list.length - vms.length;
	const more = rest > 0
		? h("button", { type: "button", class: "quiet timelines-more", onclick: () => {
			shown += TIMELINES_SHOWN;
			renderTimelines(root, { match });
			root.querySelectorAll(".timeline")[vms.length]?.focus();
		} }, `Show ${Math.min(rest, TIMELINES_SHOWN)} more (${rest} not shown)`)
		: null;
	clear(root, legend, blocks, more);
	// what is on screen now is drawn at once (no blank frame); the rest when it scrolls into view
	const limit = window.innerHeight + DRAW_AHEAD_PX;
	for (const el of blocks) {
		const r = el.getBoundingClientRect();
		if (r.bottom > -DRAW_AHEAD_PX && r.top < limit) drawNow(el);
	}
	if (!pending.size) return;
	observer = new IntersectionObserver((entries) => {
		for (const e of entries) if (e.isIntersecting) drawNow(e.target);
	}, { rootMargin: `${DRAW_AHEAD_PX}px 0px` });
	for (const el of pending.keys()) observer.observe(el);
}

// A VM's timeline before it is drawn: its heading and an empty box of the drawn one's size. focus() (the row
// menu's "Access timeline") draws it first.
function placeholder(vm, n, { width }, lanes) {
	const height = TOP + Math.max(1, lanes) * LANE + AXIS;
	const el = h("div", { class: "timeline", id: `timeline-${vm.name}`, tabindex: "-1", "aria-labelledby": `timeline-h-${vm.name}`, dataset: { pending: "1" } },
		heading(vm, n),
		h("div", { class: "timeline-scroll" }, h("svg:svg", { viewBox: `0 0 ${width} ${height}`, width: String(width), height: String(height), class: "timeline-svg", "aria-hidden": "true" })));
	return el;
}

// the timeline element of a VM, listed and drawn if it was not yet
export function timelineOf(vm, redraw) {
	if (!document.getElementById("timeline-" + vm.name)) redraw(vm);
	const el = document.getElementById("timeline-" + vm.name);
	if (el && pending.has(el)) drawNow(el);
	return document.getElementById("timeline-" + vm.name);
}

const heading = (vm, n) => h("h3", { id: `timeline-h-${vm.name}` }, vm.name, h("span", { class: "sub" }, ` ${n} access window${n === 1 ? "" : "s"}`));

const portsOf = (vm, grants) => [...new Set([...(policyOfVm(vm)?.entry.ports || []).map((p) => p.number), ...grants.map((g) => g.port)])].sort((a, b) => a - b);

function ticks(t0, t1, plotW) {
	const step = STEPS.find((s) => ((t1 - t0) / s) * 64 <= plotW) || DAY;
	const d = new Date(t0);
	if (step >= DAY) d.setHours(24, 0, 0, 0);
	else {
		d.setMinutes(0, 0, 0);
		while (d.getTime() < t0 || (d.getHours() * 3600e3 + d.getMinutes() * 60e3) % step) d.setTime(d.getTime() + Math.min(step, 15 * 60e3));
	}
	const out = [];
	for (let t = d.getTime(); t < t1; t += step) out.push(t);
	return { list: out, step };
}

function vmTimeline(vm, grants, names, ports, { now, t0, t1, width, span }) {
	const narrow = width < 560;
	const left = narrow ? 44 : 84;
	const right = 10;
	const plotW = width - left - right;
	const x = (t) => left + ((Math.min(Math.max(t, t0), t1) - t0) / (t1 - t0)) * plotW;
	const lanes = Math.max(1, ports.length);
	const height = TOP + lanes * LANE + AXIS;
	const spanWords = span >= 7 * DAY ? "the last 7 days" : span >= DAY ? "the last 24 hours" : "the last 3 hours";
	const svg = h("svg:svg", { viewBox: `0 0 ${width} ${height}`, width: String(width), height: String(height), class: "timeline-svg", role: "group", "aria-label": `Access to ${vm.name} in ${spanWords}` });

	// grid and labels
	const grid = h("svg:g", { class: "grid", "aria-hidden": "true" });
	const { list, step } = ticks(t0, t1, plotW);
	const day = new Intl.DateTimeFormat(undefined, narrow ? { month: "numeric", day: "numeric" } : { weekday: "short", day: "numeric", month: "short" });
	const hour = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
	for (const t of list) {
		const xx = x(t);
		const midnight = new Date(t).getHours() === 0 && new Date(t).getMinutes() === 0;
		grid.append(h("svg:line", { x1: xx, x2: xx, y1: TOP - 4, y2: TOP + lanes * LANE, class: midnight ? "gridline day" : "gridline" }));
		if (xx < width - 58) grid.append(h("svg:text", { x: xx + 3, y: TOP + lanes * LANE + 16, class: "tick" }, step >= DAY || (midnight && !narrow) ? day.format(new Date(t)) : hour.format(new Date(t))));
	}
	svg.append(grid);

	// lanes: one per port
	ports.forEach((p, i) => {
		const y = TOP + i * LANE;
		svg.append(h("svg:rect", { x: left, y: y + 2, width: plotW, height: LANE - 4, class: "lane", "aria-hidden": "true" }));
		svg.append(h("svg:text", { x: left - 8, y: y + LANE / 2 + 4, class: "lane-label", "text-anchor": "end", "aria-hidden": "true" }, narrow ? String(p) : `port ${p}`));
	});
	if (t1 > now) svg.append(h("svg:rect", { x: x(now), y: TOP, width: x(t1) - x(now), height: lanes * LANE, class: "future", "aria-hidden": "true" }));
	svg.append(h("svg:line", { x1: x(now), x2: x(now), y1: TOP - 4, y2: TOP + lanes * LANE, class: "nowline", "aria-hidden": "true" }));

	// the access windows
	const items = [];
	for (const g of grants.sort((a, b) => a.start - b.start)) {
		const lane = ports.indexOf(g.port);
		const stop = g.live ? g.end : Math.min(g.ended ?? g.end, now);
		const x1 = x(g.start), x2 = Math.max(x1 + 4, x(stop));
		const y = TOP + lane * LANE + (LANE - BAR) / 2;
		// a grant revoked before its end: without the server's endedTimeUtc only the time asked for is known
		const unknownEnd = g.status === "Revoked" && g.reason !== "Expired" && g.ended === undefined;
		const howLong = unknownEnd ? `asked for ${humanDuration(g.end - g.start)}` : `for ${humanDuration(stop - g.start)}`;
		const text = `${who(g.requestor)} from ${g.source}, port ${g.port}, ${fmtTime(new Date(g.start).toISOString())} ${howLong}, ${statusWords(g)}${g.justification ? `: “${g.justification}”` : ""}`;
		const cls = ["bar", `c${colourIndex(g.requestor, names)}`, g.live ? "live" : "", g.status === "Revoked" && g.reason !== "Expired" ? "revoked" : ""].filter(Boolean).join(" ");
		const bar = h("svg:g", { class: cls, tabindex: "0", role: "img", "aria-label": text },
			h("svg:title", {}, text),
			h("svg:rect", { x: x1, y, width: x2 - x1, height: BAR, rx: 3 }));
		svg.append(bar);
		items.push(h("li", {}, text));
	}
	if (!grants.length)
		svg.append(h("svg:text", { x: left + plotW / 2, y: TOP + (lanes * LANE) / 2 + 4, "text-anchor": "middle", class: "none" }, `no access in ${spanWords}`));

	return h("div", { class: "timeline", id: `timeline-${vm.name}`, tabindex: "-1", "aria-labelledby": `timeline-h-${vm.name}` },
		heading(vm, grants.length),
		h("div", { class: "timeline-scroll" }, svg),
		items.length ? h("details", { class: "timeline-list" }, h("summary", {}, `The ${items.length} window${items.length === 1 ? "" : "s"} as a list`), h("ul", {}, items)) : null);
}

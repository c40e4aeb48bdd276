// DOM helpers: elements, dialogs with focus management, row menus, tabs, messages.

// h("button", {class: "x", onclick: fn, "aria-label": "..."}, "text", child...) → element. Text is never parsed as HTML.
export function h(tag, attrs = {}, ...children) {
	const svg = tag.startsWith("svg:");
	const el = svg ? document.createElementNS("http://www.w3.org/2000/svg", tag.slice(4)) : document.createElement(tag);
	for (const [k, v] of Object.entries(attrs || {})) {
		if (v === undefined || v === null || v === false) continue;
		if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
		else if (k === "class") el.setAttribute("class", Array.isArray(v) ? v.filter(Boolean).join(" ") : v);
		else if (k === "dataset") Object.assign(el.dataset, v);
		else if (k === "checked" || k === "value" || k === "selected" || k === "disabled" || k === "hidden") el[k] = v;
		else el.setAttribute(k, v === true ? "" : String(v));
	}
	append(el, children);
	return el;
}
function append(el, children) {
	for (const c of children.flat(Infinity)) {
		if (c === null || c === undefined || c === false) continue;
		el.append(c instanceof Node ? c : document.createTextNode(String(c)));
	}
}
export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];
export function clear(el, ...children) {
	el.replaceChildren();
	append(el, children);
	return el;
}

let uid = 0;
export const newId = (p = "id") => `${p}-${++uid}`;

// Screen-reader announcements (and a visible toast).
export function announce(text, kind = "info") {
	const live = $("#status");
	live.textContent = "";
	setTimeout(() => (live.textContent = text), 30);
	const toast = $("#toast");
	toast.textContent = text;
	toast.className = `toast ${kind}`;
	toast.hidden = false;
	clearTimeout(announce.t);
	announce.t = setTimeout(() => (toast.hidden = true), 6000);
}

// Dialogs: showModal traps focus; we focus the first field, and on close the opener has the focus again.
// The browser itself gives it back as the dialog closes; the close event comes a task later, when a quick user
// may already have moved on (Enter on the opener has opened its menu), so the handler only mends lost focus:
// if a refresh replaced the opener meanwhile, its replacement (same aria-label, or same id) gets the focus.
function refind(o) {
	if (!o || document.contains(o)) return o;
	const label = o.getAttribute?.("aria-label");
	if (label) return [...document.querySelectorAll("[aria-label]")].find((e) => e.getAttribute("aria-label") === label && e.getClientRects().length);
	return o.id ? document.getElementById(o.id) : null;
}

export function openDialog(dlg, opener, focusSel) {
	dlg._opener = opener || document.activeElement;
	if (!dlg.open) dlg.showModal();
	const first = (focusSel && $(focusSel, dlg)) || $("[autofocus]", dlg) ||
		$("input:not([type=hidden]):not([disabled]), select, textarea, button:not(.dialog-close)", dlg);
	first?.focus();
	if (!dlg._wired) {
		dlg._wired = true;
		dlg.addEventListener("close", () => {
			const opener = dlg._opener;
			dlg._opener = null;
			const a = document.activeElement;
			if (a && a !== document.body && !dlg.contains(a)) return; // focus is where the user has put it
			(refind(opener) || document.getElementById("main")).focus();
		});
	}
}
export function closeDialog(dlg) {
	if (dlg.open) dlg.close();
}

// A confirmation dialog; resolves true or false.
export function confirmDialog({ title, body, confirm = "OK", danger = false, opener }) {
	const dlg = $("#confirm-dialog");
	clear($("#confirm-title", dlg), title);
	clear($("#confirm-body", dlg), body);
	const ok = $("#confirm-ok", dlg);
	ok.textContent = confirm;
	ok.className = danger ? "danger" : "primary";
	return new Promise((resolve) => {
		const done = (v) => {
			dlg.removeEventListener("close", onClose);
			ok.removeEventListener("click", onOk);
			resolve(v);
		};
		const onOk = () => {
			dlg.returnValue = "ok";
			dlg.close();
		};
		const onClose = () => done(dlg.returnValue === "ok");
		dlg.returnValue = "";
		ok.addEventListener("click", onOk);
		dlg.addEventListener("close", onClose);
		openDialog(dlg, opener, "#confirm-cancel");
	});
}

// A row menu: a button that opens a list of actions; arrow keys move, Escape closes, focus returns to the button.
export function menuButton(label, items) {
	const id = newId("menu");
	const btn = h("button", { type: "button", class: "menu-button", "aria-haspopup": "menu", "aria-expanded": "false", "aria-controls": id, "aria-label": label, title: label }, "⋯");
	const menu = h("ul", { role: "menu", id, class: "menu", hidden: true, "aria-label": label });
	const entries = items.filter(Boolean).map((it) => {
		const b = h("button", { type: "button", role: "menuitem", tabindex: "-1", class: it.danger ? "danger-text" : "" }, it.label);
		b.addEventListener("click", () => {
			close(true); // focus on the menu button first: a dialog the action opens gives it back there
			it.action(btn);
		});
		menu.append(h("li", { role: "none" }, b));
		return b;
	});
	const wrap = h("div", { class: "menu-wrap" }, btn, menu);
	function open(focusLast) {
		closeAllMenus();
		menu.hidden = false;
		btn.setAttribute("aria-expanded", "true");
		(focusLast ? entries[entries.length - 1] : entries[0])?.focus();
		document.addEventListener("pointerdown", outside, true);
	}
	function close(refocus = true) {
		if (menu.hidden) return;
		menu.hidden = true;
		btn.setAttribute("aria-expanded", "false");
		document.removeEventListener("pointerdown", outside, true);
		if (refocus) btn.focus();
	}
	const outside = (e) => {
		if (!wrap.contains(e.target)) close(false);
	};
	wrap._close = close;
	btn.addEventListener("click", () => (menu.hidden ? open() : close()));
	btn.addEventListener("keydown", (e) => {
		if (e.key === "ArrowDown" || e.key === "ArrowUp") {
			e.preventDefault();
			open(e.key === "ArrowUp");
		}
	});
	menu.addEventListener("keydown", (e) => {
		const i = entries.indexOf(document.activeElement);
		const go = (j) => entries[(j + entries.length) % entries.length].focus();
		if (e.key === "ArrowDown") go(i + 1);
		else if (e.key === "ArrowUp") go(i - 1);
		else if (e.key === "Home") go(0);
		else if (e.key === "End") go(entries.length - 1);
		else if (e.key === "Escape") close();
		else if (e.key === "Tab") close(false);
		else return;
		e.preventDefault();
	});
	return wrap;
}
export function closeAllMenus() {
	for (const w of $$(".menu-wrap")) w._close?.(false);
}

// Tabs: role=tablist/tab/tabpanel, aria-selected, roving tabindex, arrow keys, Home/End.
export function wireTabs(tablist, onChange) {
	const tabs = $$("[role=tab]", tablist);
	const select = (tab, focus) => {
		for (const t of tabs) {
			const on = t === tab;
			t.setAttribute("aria-selected", String(on));
			t.tabIndex = on ? 0 : -1;
			document.getElementById(t.getAttribute("aria-controls")).hidden = !on;
		}
		if (focus) tab.focus();
		onChange?.(tab);
	};
	for (const t of tabs) {
		t.addEventListener("click", () => select(t, false));
		t.addEventListener("keydown", (e) => {
			const i = tabs.indexOf(t);
			let j = null;
			if (e.key === "ArrowRight") j = (i + 1) % tabs.length;
			else if (e.key === "ArrowLeft") j = (i - 1 + tabs.length) % tabs.length;
			else if (e.key === "Home") j = 0;
			else if (e.key === "End") j = tabs.length - 1;
			if (j === null) return;
			e.preventDefault();
			select(tabs[j], true);
		});
	}
	return { select: (tab) => select(tab, false), selected: () => tabs.find((t) => t.getAttribute("aria-selected") === "true") };
}

// Field errors: the message goes next to the field, which gets aria-invalid and aria-describedby.
export function setFieldError(field, message) {
	if (!field) return false;
	const holder = field.closest(".field") || field.parentElement;
	let msg = holder.querySelector(":scope > .field-error");
	if (!msg) {
		msg = h("p", { class: "field-error", id: newId("err") });
		holder.append(msg);
	}
	msg.textContent = message;
	field.setAttribute("aria-invalid", "true");
	const d = (field.getAttribute("aria-describedby") || "").split(" ").filter(Boolean);
	if (!d.includes(msg.id)) field.setAttribute("aria-describedby", [...d, msg.id].join(" "));
	return true;
}
export function clearFieldErrors(root) {
	for (const m of $$(".field-error", root)) {
		for (const f of $$(`[aria-describedby~="${m.id}"]`, root)) {
			f.removeAttribute("aria-invalid");
			f.setAttribute("aria-describedby", f.getAttribute("aria-describedby").split(" ").filter((x) => x !== m.id).join(" "));
		}
		m.remove();
	}
}

// An error box (role=alert) with the API's message and, when there is one, the field it concerns.
export function showError(box, err, prefix = "") {
	if (!err) {
		box.hidden = true;
		box.replaceChildren();
		return;
	}
	box.hidden = false;
	clear(box,
		h("strong", {}, prefix || "The server refused this: "),
		err.message || String(err),
		err.target ? h("span", { class: "error-target" }, ` (field: ${err.target})`) : "",
		err.code ? h("span", { class: "error-code" }, ` [${err.code}]`) : "");
}

// The portal: sign-in, the header, and the pages (#/vms, #/approvals and #/activity).
import { api, csrf, setSignedOutHandler } from "./api.js";
import { state, setMe, rolesOf } from "./state.js";
import { $, announce, clearFieldErrors, setFieldError } from "./ui.js";
import * as vms from "./vms.js";
import * as activity from "./activity.js";
import * as approvals from "./approvals.js";

const pages = ["signin-page", "vms-page", "approvals-page", "activity-page"];
function showPage(id) {
	$("#loading").hidden = true;
	for (const p of pages) $("#" + p).hidden = p !== id;
	$("#nav").hidden = $("#me").hidden = id === "signin-page";
	for (const a of document.querySelectorAll("#nav a")) {
		const on = a.getAttribute("href") === "#/" + id.replace("-page", "");
		if (on) a.setAttribute("aria-current", "page");
		else a.removeAttribute("aria-current");
	}
}

function signinPage(note) {
	showPage("signin-page");
	const n = $("#signin-note");
	n.hidden = !note;
	n.textContent = note || "";
	$("#signin-token").focus();
	document.title = "Sign in — jitgate";
}

function fillHeader() {
	const me = state.me;
	$("#me-name").textContent = me.name.replace(/^token:/, "");
	$("#me-role").textContent = rolesOf(me).join(", ");
	$("#me-ip").textContent = me.address || "unknown";
	$("#nav-activity").hidden = !state.caps.activity;
}

async function route() {
	if (!state.me) return;
	const hash = location.hash || "#/vms";
	const [, page, arg] = /^#\/([a-z]+)(?:\/(.*))?$/.exec(hash) || [];
	if (page === "approvals") {
		showPage("approvals-page");
		document.title = "Approvals — jitgate";
		await approvals.show();
	} else if (page === "activity" && state.caps.activity) {
		showPage("activity-page");
		document.title = "Activity log — jitgate";
		await activity.show(arg ? decodeURIComponent(arg) : "");
	} else {
		showPage("vms-page");
		document.title = "Just-in-time VM access — jitgate";
		await vms.show();
	}
}

async function start(me) {
	setMe(me);
	fillHeader();
	approvals.refresh();	/* the badge */
	await route();
}

async function boot() {
	setSignedOutHandler(() => {
		state.me = null;
		csrf.clear();
		signinPage("Your session has ended. Sign in again.");
	});
	vms.init();
	activity.init();
	approvals.init();
	$("#signin-form").addEventListener("submit", onSignIn);
	$("#sso-signin").addEventListener("click", onSsoSignIn);
	ssoOffer();
	$("#signout").addEventListener("click", onSignOut);
	window.addEventListener("hashchange", () => {
		route();
		$("#main").focus({ preventScroll: true });
	});
	// The cookie is HttpOnly, so this tab knows it is signed in by the CSRF token it keeps (sessionStorage).
	// A new tab has none: it asks GET /session for it (where the server offers that), else it signs in again.
	if (!csrf.get()) {
		try {
			const s = (await api("GET", "/session", { noSignOut: true })).body;
			if (s?.csrfToken) csrf.set(s.csrfToken);
		} catch {
			/* no session, or a server without GET /session */
		}
		if (!csrf.get()) return signinPage();
	}
	let me;
	try {
		me = (await api("GET", "/whoami", { noSignOut: true })).body;
	} catch {
		csrf.clear();
		return signinPage("Your session has ended. Sign in again.");
	}
	await start(me);
}

async function onSignIn(e) {
	e.preventDefault();
	const input = $("#signin-token");
	const form = $("#signin-form");
	clearFieldErrors(form);
	const token = input.value.trim();
	if (!token) return setFieldError(input, "Enter your token."), input.focus();
	const btn = $("#signin-submit");
	btn.disabled = true;
	try {
		const r = await api("POST", "/session", { body: { token }, noSignOut: true });
		input.value = "";
		csrf.set(r.body.csrfToken);
		$("#signin-note").hidden = true;
		const me = (await api("GET", "/whoami")).body;
		await start({ ...me, ...r.body, address: me.address });
		announce(`Signed in as ${me.name.replace(/^token:/, "")} (${rolesOf(me).join(", ")}).`);
		$("#main").focus();
	} catch (err) {
		setFieldError(input, err.message || String(err));
		input.focus();
	} finally {
		btn.disabled = false;
	}
}

// Single sign-on, where the server has it: a button that sends the browser to the identity provider.
async function ssoOffer() {
	try {
		const c = (await api("GET", "/oidc/config", { noSignOut: true })).body;
		if (!c?.enabled) return;
		$("#sso-signin").textContent = `Sign in with ${c.name}`;
		$("#sso").hidden = false;
	} catch {
		/* a server without single sign-on */
	}
}

async function onSsoSignIn() {
	const btn = $("#sso-signin");
	btn.disabled = true;
	try {
		const r = await api("POST", "/oidc/start", { noSignOut: true });
		location.assign(r.body.authorizeUrl);
	} catch (err) {
		const n = $("#signin-note");
		n.textContent = err.message || String(err);
		n.hidden = false;
		btn.disabled = false;
	}
}

async function onSignOut() {
	try {
		await api("DELETE", "/session", { noSignOut: true });
	} catch {
		/* the cookie is cleared either way */
	}
	csrf.clear();
	state.me = null;
	vms.stop();
	signinPage("You have signed out.");
}

boot();

// The API client: same-origin fetch with the session cookie, the CSRF header on writes, errors as ApiError.
export const API_VERSION = "2020-01-01";
const CSRF_KEY = "jitgate.csrf";

export class ApiError extends Error {
	constructor(status, code, message, target) {
		super(message || `the server answered ${status}`);
		this.status = status;
		this.code = code || `Http${status}`;
		this.target = target || "";
	}
}

export const csrf = {
	get: () => sessionStorage.getItem(CSRF_KEY),
	set: (t) => sessionStorage.setItem(CSRF_KEY, t),
	clear: () => sessionStorage.removeItem(CSRF_KEY),
};

let onSignedOut = () => {};
export function setSignedOutHandler(fn) {
	onSignedOut = fn;
}

// withVersion("/subscriptions/...", {a: 1}) → the path with ?api-version=...&a=1 (empty values left out)
export function withVersion(path, query = {}) {
	const q = new URLSearchParams();
	if (path.startsWith("/subscriptions/")) q.set("api-version", API_VERSION);
	for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
	const s = q.toString();
	return s ? `${path}?${s}` : path;
}

// api(method, path, {body, query, headers}) → {status, body, etag}; throws ApiError on 4xx/5xx.
export async function api(method, path, opts = {}) {
	const headers = { Accept: "application/json", ...(opts.headers || {}) };
	if (method !== "GET" && method !== "HEAD") {
		const t = csrf.get();
		if (t) headers["X-CSRF-Token"] = t;
	}
	let body;
	if (opts.body !== undefined) {
		headers["Content-Type"] = "application/json";
		body = JSON.stringify(opts.body);
	}
	let resp;
	try {
		resp = await fetch(withVersion(path, opts.query), { method, headers, body, credentials: "same-origin", cache: "no-store" });
	} catch (e) {
		throw new ApiError(0, "NetworkError", "cannot reach jitgated: " + (e?.message || e));
	}
	const text = await resp.text();
	let json = null;
	if (text) {
		try {
			json = JSON.parse(text);
		} catch {
			json = null;
		}
	}
	if (!resp.ok) {
		const e = json?.error || {};
		const err = new ApiError(resp.status, e.code, e.message || `${method} ${path}: HTTP ${resp.status}`, e.target);
		if (resp.status === 401 && !opts.noSignOut) onSignedOut(err);
		throw err;
	}
	return { status: resp.status, body: json, etag: resp.headers.get("ETag") };
}

// Every item of a list, following nextLink.
export async function apiList(path, query) {
	const out = [];
	let r = await api("GET", path, { query });
	for (let guard = 0; ; guard++) {
		out.push(...(r.body?.value || []));
		const next = r.body?.nextLink;
		if (!next || guard > 1000) break;
		const u = new URL(next, location.href);
		const q = Object.fromEntries(u.searchParams);
		delete q["api-version"];
		r = await api("GET", u.pathname, { query: q });
	}
	return out;
}

// ARM ids
export function parseVmId(id) {
	const m = /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.Compute\/virtualMachines\/([^/]+)$/i.exec(id || "");
	return m ? { sub: m[1], rg: m[2], name: m[3] } : null;
}
export const policyPath = (sub, rg, loc, name = "default") =>
	`/subscriptions/${sub}/resourceGroups/${rg}/providers/Microsoft.Security/locations/${loc}/jitNetworkAccessPolicies/${name}`;
export const sameId = (a, b) => typeof a === "string" && typeof b === "string" && a.toLowerCase() === b.toLowerCase();

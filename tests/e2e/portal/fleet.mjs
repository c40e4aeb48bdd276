// The fleet for the portal's test: agent VMs registered for real through jitgated's API (a join token with
// many uses, POST /agent/v1/join, POST /agent/v1{VM}/status with the credential each join returned), as
// tests/e2e/agent-api.sh does with curl, but over a few keep-alive connections so that 1,000 joins are quick.
import { readFileSync } from "node:fs";
import https from "node:https";

export const AV = "api-version=2020-01-01";
const PARALLEL = 4; /* joins in flight at once: jitgated's store takes them one by one anyway */

export function client(baseUrl, certFile) {
	const agent = new https.Agent({ ca: readFileSync(certFile), keepAlive: true, maxSockets: PARALLEL });
	const base = new URL(baseUrl);
	// call(method, path, token, body) → {status, json}
	return (method, path, token, body) => new Promise((resolve, reject) => {
		const data = body === undefined ? null : Buffer.from(JSON.stringify(body));
		const headers = { Accept: "application/json" };
		if (token) headers.Authorization = `Bearer ${token}`;
		if (data) Object.assign(headers, { "Content-Type": "application/json", "Content-Length": data.length });
		const req = https.request({ agent, host: base.hostname, port: base.port, method, path, headers, timeout: 20000 }, (res) => {
			const chunks = [];
			res.on("data", (c) => chunks.push(c));
			res.on("end", () => {
				const text = Buffer.concat(chunks).toString("utf8");
				let json = null;
				try {
					json = text ? JSON.parse(text) : null;
				} catch {
					json = { text };
				}
				resolve({ status: res.statusCode, json });
			});
		});
		req.on("timeout", () => req.destroy(new Error(`${method} ${path}: no answer in 20 s`)));
		req.on("error", reject);
		if (data) req.write(data);
		req.end();
	});
}

// what an agent says about its host (the join's and the status's common fields)
export function report({ revision = -1, supported = true, reason, listening = [] } = {}) {
	const kernel = supported ? { supported: true } : { supported: false, reason };
	return { revision, version: "e2e-2.0", kernel, addresses: ["192.0.2.50"], listening: listening.map((p) => ({ number: p, protocol: "TCP" })) };
}

async function expectStatus(r, want, what) {
	if (!(Array.isArray(want) ? want : [want]).includes(r.status)) throw new Error(`${what}: HTTP ${r.status} ${JSON.stringify(r.json).slice(0, 300)}`);
	return r.json;
}

// Join n agent VMs named name(i) (i = 1..n) into resource group rg; spec(i) gives each one's report.
// Returns {NAME: {id, credential}}.
export async function joinFleet(call, { sub, rg, ownerToken, n, name, spec }) {
	const jt = await expectStatus(await call("POST", `/subscriptions/${sub}/providers/Jitgate/joinTokens?${AV}`, ownerToken,
		{ resourceGroup: rg, uses: n }), 201, "create a join token");
	const out = {};
	let next = 1;
	const worker = async () => {
		while (next <= n) {
			const i = next++;
			const j = await expectStatus(await call("POST", "/agent/v1/join", jt.token,
				{ name: name(i), osType: "Linux", ...report(spec(i)) }), 201, `join ${name(i)}`);
			out[name(i)] = { id: j.vm, credential: j.credential };
		}
	};
	await Promise.all(Array.from({ length: PARALLEL }, worker));
	return out;
}

// Every agent of the fleet but those skip() names posts its status (in parallel, as agents would).
export async function reportFleet(call, fleet, spec, skip) {
	const names = Object.keys(fleet).filter((n) => !skip(n));
	let next = 0;
	const worker = async () => {
		while (next < names.length) {
			const n = names[next++];
			await postStatus(call, fleet[n], spec(n));
		}
	};
	await Promise.all(Array.from({ length: PARALLEL }, worker));
	return names.length;
}

// An agent's status post (its credential, its own VM): 204.
export async function postStatus(call, vm, spec) {
	await expectStatus(await call("POST", `/agent/v1${vm.id}/status`, vm.credential, report(spec)), 204, `status of ${vm.id}`);
}

// The agent's side of a watch, without waiting: its VM's state now (revision and grants).
export async function agentState(call, vm) {
	return expectStatus(await call("GET", `/agent/v1${vm.id}/state?since=-1`, vm.credential), 200, `state of ${vm.id}`);
}

export { expectStatus };

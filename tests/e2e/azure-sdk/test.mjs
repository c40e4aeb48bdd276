// jitgate end-to-end test: the official Azure JS SDK (@azure/arm-security) against a real jitgated.
// Run by tests/e2e/azure-sdk.sh inside the client namespace. Prints one line per step,
// "ok <what>" or "FAIL <what>: <reason>", and exits non-zero when any step failed.
// Every HTTP exchange the SDK makes is appended to $JG_REQLOG as "METHOD URL -> STATUS".
//
// Environment: JG_URL (https://ADDR:PORT), JG_TOKEN, JG_SUB, JG_RG, JG_LOC, JG_VM_ID,
// JG_VM_ADDR, JG_PORT and JG_PORT2 (protected ports with listeners), JG_SRC_ADDR (this process's address)
// inside JG_SRC_NET, JG_REQLOG; NODE_EXTRA_CA_CERTS for TLS; JG_TOKEN2, a SecurityAdmin's (an approver).
import { appendFileSync, readFileSync } from "node:fs";
import https from "node:https";
import net from "node:net";
import { SecurityCenter } from "@azure/arm-security";

const env = (k, d) => {
	const v = process.env[k] ?? d;
	if (v === undefined) {
		console.log(`FAIL environment: ${k} is not set`);
		process.exit(2);
	}
	return v;
};
const URL_ = env("JG_URL"), TOKEN = env("JG_TOKEN"), SUB = env("JG_SUB"), RG = env("JG_RG"), LOC = env("JG_LOC");
const VM_ID = env("JG_VM_ID"), VM_ADDR = env("JG_VM_ADDR"), PORT = Number(env("JG_PORT", "22"));
const PORT2 = Number(env("JG_PORT2", "3389")), SRC_ADDR = env("JG_SRC_ADDR"), SRC_NET = env("JG_SRC_NET");
const REQLOG = process.env.JG_REQLOG;
const NAME = "default";
const POLICY_ID = `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Security/locations/${LOC}/jitNetworkAccessPolicies/${NAME}`;
const PAGING_RG = "sdkpaging";
const PAGING_N = 103; // more than one page (the server pages at 100)

let failed = 0;
const ok = (what) => console.log(`ok ${what}`);
const fail = (what, why) => {
	failed++;
	console.log(`FAIL ${what}: ${String(why).replace(/\s+/g, " ").slice(0, 600)}`);
};
const errText = (e) =>
	e?.statusCode !== undefined
		? `HTTP ${e.statusCode} ${e.code ?? ""} ${e.message ?? ""} (request ${e.request?.method} ${e.request?.url})`
		: e?.stack ?? String(e);

// step(what, fn): fn throws (or returns a string) to fail; its return value otherwise is kept.
async function step(what, fn) {
	try {
		const r = await fn();
		ok(what);
		return r;
	} catch (e) {
		fail(what, errText(e));
		return undefined;
	}
}
function expect(cond, msg) {
	if (!cond) throw new Error(msg);
}
const eqi = (a, b) => typeof a === "string" && typeof b === "string" && a.toLowerCase() === b.toLowerCase();

// the credential: a TokenCredential handing out the jitgate token
const credential = (token) => ({
	getToken: async () => ({ token, expiresOnTimestamp: Date.now() + 3600e3 }),
});

// a pipeline policy that logs every exchange
const logPolicy = {
	name: "jitgateRequestLog",
	async sendRequest(request, next) {
		let status = "no response";
		try {
			const res = await next(request);
			status = res.status;
			return res;
		} catch (e) {
			status = e?.response?.status ?? e?.statusCode ?? `error ${e?.code ?? e}`;
			throw e;
		} finally {
			if (REQLOG) appendFileSync(REQLOG, `${request.method} ${request.url} -> ${status}\n`);
		}
	},
};

function client(token = TOKEN) {
	// v5 builds request URLs from "$host" and the pipeline's base from "endpoint"; set both
	const c = new SecurityCenter(credential(token), SUB, { endpoint: URL_, $host: URL_ });
	c.pipeline.addPolicy(logPolicy, { afterPhase: "Retry" }); // every attempt, as sent
	return c;
}

// A TCP connection from this process to the protected port: true when it opens within ms.
function tcpOpens(ms = 700, port = PORT) {
	return new Promise((resolve) => {
		const s = net.connect({ host: VM_ADDR, port });
		const done = (v) => {
			clearTimeout(t);
			s.destroy();
			resolve(v);
		};
		const t = setTimeout(() => done(false), ms);
		s.once("connect", () => done(true));
		s.once("error", () => done(false));
	});
}

async function collect(iter) {
	const out = [];
	for await (const x of iter) out.push(x);
	return out;
}

function checkPolicy(p, what) {
	expect(p, `${what}: no body`);
	expect(eqi(p.id, POLICY_ID), `${what}: id is ${p.id}, want ${POLICY_ID}`);
	expect(p.name === NAME, `${what}: name is ${p.name}`);
	expect(p.type === "Microsoft.Security/locations/jitNetworkAccessPolicies", `${what}: type is ${p.type}`);
	expect(eqi(p.location, LOC), `${what}: location is ${p.location}`);
	expect(p.provisioningState === "Succeeded", `${what}: provisioningState is ${p.provisioningState}`);
	expect(Array.isArray(p.virtualMachines) && p.virtualMachines.length === 1, `${what}: virtualMachines ${JSON.stringify(p.virtualMachines)}`);
	const vm = p.virtualMachines[0];
	expect(eqi(vm.id, VM_ID), `${what}: VM id is ${vm.id}`);
	const port = vm.ports?.find((x) => x.number === PORT);
	expect(port, `${what}: port ${PORT} missing: ${JSON.stringify(vm.ports)}`);
	expect(port.protocol === "TCP", `${what}: protocol is ${port.protocol}`);
	expect(port.maxRequestAccessDuration === "PT3H", `${what}: maxRequestAccessDuration is ${port.maxRequestAccessDuration}`);
	expect(port.allowedSourceAddressPrefix === "*", `${what}: allowedSourceAddressPrefix is ${port.allowedSourceAddressPrefix}`);
	const p2 = vm.ports?.find((x) => x.number === PORT2);
	expect(p2, `${what}: port ${PORT2} missing: ${JSON.stringify(vm.ports)}`);
	expect(p2.protocol === "*", `${what}: port ${PORT2} protocol is ${p2.protocol}`);
	expect(p2.maxRequestAccessDuration === "PT1H", `${what}: port ${PORT2} maxRequestAccessDuration is ${p2.maxRequestAccessDuration}`);
	expect(JSON.stringify(p2.allowedSourceAddressPrefixes) === JSON.stringify([SRC_NET]) && p2.allowedSourceAddressPrefix === undefined,
		`${what}: port ${PORT2} sources are ${p2.allowedSourceAddressPrefix} / ${JSON.stringify(p2.allowedSourceAddressPrefixes)}`);
	expect(Array.isArray(p.requests), `${what}: requests is not an array: ${JSON.stringify(p.requests)}`);
	return p;
}

// With JG_TLS_NEGATIVE=1 (run without NODE_EXTRA_CA_CERTS): the SDK must refuse the self-signed certificate.
if (process.env.JG_TLS_NEGATIVE === "1") {
	await step("without jitgated's CA the SDK refuses the connection (TLS verification is on)", async () => {
		try {
			await client().jitNetworkAccessPolicies.get(RG, LOC, NAME);
		} catch (e) {
			const c = e?.code ?? e?.cause?.code ?? "";
			expect(/CERT|SELF_SIGNED|UNABLE_TO_VERIFY/.test(String(c)) || /certificate/i.test(String(e?.message)), `got ${errText(e)} (${c})`);
			return;
		}
		throw new Error("it succeeded without the CA");
	});
	process.exit(failed ? 1 : 0);
}

const sc = client();
const jit = sc.jitNetworkAccessPolicies;
const body = {
	kind: "Basic",
	virtualMachines: [
		{
			id: VM_ID,
			ports: [
				{ number: PORT, protocol: "TCP", allowedSourceAddressPrefix: "*", maxRequestAccessDuration: "PT3H" },
				{ number: PORT2, protocol: "*", allowedSourceAddressPrefixes: [SRC_NET], maxRequestAccessDuration: "PT1H" },
			],
		},
	],
};

// 0. the port is open before jitgate protects it (so "closed" later means jitgate closed it)
await step(`before any policy, a TCP connection to ${VM_ADDR}:${PORT} opens`, async () =>
	expect(await tcpOpens(), "it did not open"));

// 1. createOrUpdate
await step("createOrUpdate returns the stored policy (id, name, type, location, provisioningState, ports)", async () =>
	checkPolicy(await jit.createOrUpdate(RG, LOC, NAME, body), "createOrUpdate"));
await step(`after createOrUpdate, a TCP connection to ${PORT} no longer opens`, async () =>
	expect(!(await tcpOpens()), "it opened"));
await step(`after createOrUpdate, a TCP connection to ${PORT2} no longer opens`, async () =>
	expect(!(await tcpOpens(700, PORT2)), "it opened"));

// 2. get
await step("get returns the policy (and x-ms-request-id, the echoed x-ms-client-request-id)", async () => {
	let res;
	const p = checkPolicy(await jit.get(RG, LOC, NAME, { onResponse: (r) => (res = r) }), "get");
	expect(res?.headers.get("x-ms-request-id"), "no x-ms-request-id header");
	const sent = res?.request.headers.get("x-ms-client-request-id");
	expect(sent && res.headers.get("x-ms-client-request-id") === sent, `x-ms-client-request-id sent ${sent}, got ${res?.headers.get("x-ms-client-request-id")}`);
	expect(p.kind === "Basic", `kind is ${p.kind}`);
	expect(p.requests.length === 0, `requests before any initiate: ${JSON.stringify(p.requests)}`);
});

// 3. the four lists, and one that must be empty for each filter
const listed = (arr, what) => {
	const mine = arr.filter((p) => eqi(p.id, POLICY_ID));
	expect(mine.length === 1, `${what}: our policy is listed ${mine.length} times in ${JSON.stringify(arr.map((p) => p.id))}`);
	checkPolicy(mine[0], what);
};
await step("list (subscription) includes the policy", async () => listed(await collect(jit.list()), "list"));
await step("listByRegion includes the policy", async () => listed(await collect(jit.listByRegion(LOC)), "listByRegion"));
await step("listByResourceGroup includes the policy", async () =>
	listed(await collect(jit.listByResourceGroup(RG)), "listByResourceGroup"));
await step("listByResourceGroupAndRegion includes the policy", async () =>
	listed(await collect(jit.listByResourceGroupAndRegion(RG, LOC)), "listByResourceGroupAndRegion"));
await step("listByRegion of another location is empty", async () => {
	const a = await collect(jit.listByRegion("elsewhere"));
	expect(a.length === 0, `got ${a.length}`);
});
await step("listByResourceGroup of another group is empty", async () => {
	const a = await collect(jit.listByResourceGroup("othergroup"));
	expect(a.length === 0, `got ${a.length}`);
});

// 4. initiate: wrong requests are refused with the error the SDK can read; a right one opens the port
await step("initiate for a port outside the policy is a RestError 400 PortNotInPolicy", async () => {
	try {
		await jit.initiate(RG, LOC, NAME, {
			virtualMachines: [{ id: VM_ID, ports: [{ number: 5985, endTimeUtc: new Date(Date.now() + 600e3) }] }],
		});
	} catch (e) {
		expect(e.statusCode === 400 && e.code === "PortNotInPolicy", `got ${errText(e)}`);
		return;
	}
	throw new Error("it succeeded");
});
// expectRefused(what, initiate body, status, code)
const expectRefused = (what, b, status, code) =>
	step(what, async () => {
		try {
			await jit.initiate(RG, LOC, NAME, b);
		} catch (e) {
			expect(e.statusCode === status && e.code === code, `got ${errText(e)}`);
			return;
		}
		throw new Error("it succeeded");
	});
await expectRefused(`initiate of ${PORT2} from a source outside ${SRC_NET} is a RestError 400 SourceAddressNotAllowed`,
	{ virtualMachines: [{ id: VM_ID, ports: [{ number: PORT2, endTimeUtc: new Date(Date.now() + 600e3), allowedSourceAddressPrefix: "192.0.2.0/24" }] }] },
	400, "SourceAddressNotAllowed");
await expectRefused(`initiate of ${PORT2} beyond its PT1H maximum is a RestError 400 EndTimeTooLate`,
	{ virtualMachines: [{ id: VM_ID, ports: [{ number: PORT2, endTimeUtc: new Date(Date.now() + 2 * 3600e3), allowedSourceAddressPrefix: SRC_ADDR }] }] },
	400, "EndTimeTooLate");
await expectRefused("initiate with an end time in the past is a RestError 400 EndTimeInPast",
	{ virtualMachines: [{ id: VM_ID, ports: [{ number: PORT, endTimeUtc: new Date(Date.now() - 60e3) }] }] },
	400, "EndTimeInPast");
await step(`still closed after the refused initiates`, async () =>
	expect(!(await tcpOpens()) && !(await tcpOpens(700, PORT2)), "a port opened"));

const end = new Date(Date.now() + 3600e3);
end.setMilliseconds(0);
const req = await step("initiate (source omitted: the caller's address) returns 202 with the request", async () => {
	const r = await jit.initiate(RG, LOC, NAME, {
		virtualMachines: [{ id: VM_ID, ports: [{ number: PORT, endTimeUtc: end }] }],
		justification: "azure-sdk e2e",
	});
	expect(r && Array.isArray(r.virtualMachines) && r.virtualMachines.length === 1, `body ${JSON.stringify(r)}`);
	const vm = r.virtualMachines[0];
	expect(eqi(vm.id, VM_ID), `VM id ${vm.id}`);
	const p = vm.ports?.[0];
	expect(p && p.number === PORT, `ports ${JSON.stringify(vm.ports)}`);
	expect(p.status === "Initiated", `status ${p.status}`);
	expect(p.statusReason === "UserRequested", `statusReason ${p.statusReason}`);
	expect(p.endTimeUtc instanceof Date && p.endTimeUtc.getTime() === end.getTime(), `endTimeUtc ${p.endTimeUtc}, want ${end.toISOString()}`);
	expect(typeof p.allowedSourceAddressPrefix === "string" && p.allowedSourceAddressPrefix.length > 0, `allowedSourceAddressPrefix ${p.allowedSourceAddressPrefix}`);
	expect(r.startTimeUtc instanceof Date && !isNaN(r.startTimeUtc) && Math.abs(r.startTimeUtc - Date.now()) < 60e3, `startTimeUtc ${r.startTimeUtc}`);
	expect(typeof r.requestor === "string" && r.requestor.length > 0, `requestor ${r.requestor}`);
	expect(r.justification === "azure-sdk e2e", `justification ${r.justification}`);
	return r;
});
await step(`after initiate, a TCP connection from this process to ${VM_ADDR}:${PORT} opens`, async () =>
	expect(await tcpOpens(1500), "it did not open"));

await step(`${PORT2} stays closed (only ${PORT} was asked for)`, async () =>
	expect(!(await tcpOpens(700, PORT2)), "it opened"));
await step(`initiate of ${PORT2} with allowedSourceAddressPrefix ${SRC_ADDR} (inside ${SRC_NET}) returns 202`, async () => {
	const r = await jit.initiate(RG, LOC, NAME, {
		virtualMachines: [{ id: VM_ID, ports: [{ number: PORT2, endTimeUtc: new Date(Date.now() + 1800e3), allowedSourceAddressPrefix: SRC_ADDR }] }],
	});
	const p = r?.virtualMachines?.[0]?.ports?.[0];
	expect(p?.number === PORT2 && p.status === "Initiated", `body ${JSON.stringify(r)}`);
	expect(p.allowedSourceAddressPrefix === SRC_ADDR, `allowedSourceAddressPrefix ${p.allowedSourceAddressPrefix}, asked ${SRC_ADDR}`);
});
await step(`after that initiate, a TCP connection to ${PORT2} opens`, async () =>
	expect(await tcpOpens(1500, PORT2), "it did not open"));
const end2 = new Date(Date.now() + 2 * 3600e3);
end2.setMilliseconds(0);
await step(`a second initiate of ${PORT} by the same caller returns 202 (it supersedes the first)`, async () => {
	const r = await jit.initiate(RG, LOC, NAME, { virtualMachines: [{ id: VM_ID, ports: [{ number: PORT, endTimeUtc: end2 }] }] });
	const p = r?.virtualMachines?.[0]?.ports?.[0];
	expect(p?.status === "Initiated" && p.endTimeUtc?.getTime() === end2.getTime(), `body ${JSON.stringify(r)}`);
});
await step(`${PORT} still opens after the supersede`, async () => expect(await tcpOpens(1500), "it did not open"));

let afterInit;
await step("get after the initiates lists 3 requests: the superseded one Revoked/NewerRequestInitiated, the others Initiated", async () => {
	afterInit = checkPolicy(await jit.get(RG, LOC, NAME), "get");
	expect(afterInit.requests.length === 3, `want 3 requests: ${JSON.stringify(afterInit.requests)}`);
	const ports = afterInit.requests.flatMap((r) => r.virtualMachines?.[0]?.ports ?? []);
	const first = ports.find((p) => p.number === PORT && p.endTimeUtc?.getTime() === end.getTime());
	const second = ports.find((p) => p.number === PORT && p.endTimeUtc?.getTime() === end2.getTime());
	const other = ports.find((p) => p.number === PORT2);
	expect(first?.status === "Revoked" && first.statusReason === "NewerRequestInitiated", `first request's port: ${JSON.stringify(first)}`);
	expect(second?.status === "Initiated" && second.statusReason === "UserRequested", `second request's port: ${JSON.stringify(second)}`);
	expect(other?.status === "Initiated", `the ${PORT2} request's port: ${JSON.stringify(other)}`);
	for (const r of afterInit.requests) {
		expect(r.requestor === req?.requestor, `requestor ${r.requestor}, initiate said ${req?.requestor}`);
		expect(r.startTimeUtc instanceof Date && !isNaN(r.startTimeUtc), `startTimeUtc ${r.startTimeUtc}`);
	}
});

// 5. the usual read-modify-write: PUT back what get returned (requests and all); the grant stays
await step("createOrUpdate with the object get returned (requests included) succeeds", async () => {
	expect(afterInit, "no policy from get");
	checkPolicy(await jit.createOrUpdate(RG, LOC, NAME, afterInit), "createOrUpdate round trip");
});
await step("the grants survive that round trip (connections still open)", async () =>
	expect((await tcpOpens(1500)) && (await tcpOpens(1500, PORT2)), "one did not open"));

// 6. errors reach the SDK as RestErrors with code and status
await step("get of a missing policy is a RestError 404 ResourceNotFound", async () => {
	try {
		await jit.get(RG, LOC, "nosuchpolicy");
	} catch (e) {
		expect(e.statusCode === 404 && e.code === "ResourceNotFound", `got ${errText(e)}`);
		return;
	}
	throw new Error("it succeeded");
});
await step("a wrong token is a RestError 401 AuthenticationFailed", async () => {
	try {
		await client("jg_not-a-valid-token").jitNetworkAccessPolicies.get(RG, LOC, NAME);
	} catch (e) {
		expect(e.statusCode === 401 && e.code === "AuthenticationFailed", `got ${errText(e)}`);
		return;
	}
	throw new Error("it succeeded");
});

// 6b. approvals (jitgate's extension): a rule with "approval" (set through the raw API: the SDK's model has no such
// member), one request Pending and one approved; the SDK parses the initiate's 202 and the policy as it reads them
function raw(method, path, token, bodyObj) {
	return new Promise((resolve, reject) => {
		const data = bodyObj === undefined ? undefined : JSON.stringify(bodyObj);
		const u = new URL(`${URL_}${path}${path.includes("?") ? "&" : "?"}api-version=2020-01-01`);
		const r = https.request(u, {
			method, ca: readFileSync(process.env.NODE_EXTRA_CA_CERTS),
			headers: { Authorization: `Bearer ${token}`, ...(data ? { "Content-Type": "application/json" } : {}) },
		}, (res) => {
			let b = "";
			res.on("data", (d) => (b += d));
			res.on("end", () => resolve({ status: res.statusCode, body: b ? JSON.parse(b) : null }));
		});
		r.on("error", reject);
		if (data) r.write(data);
		r.end();
	});
}
const TOKEN2 = env("JG_TOKEN2");
await step(`a PUT (raw API) gives ${PORT2} an approval rule: 1 approval by a SecurityAdmin`, async () => {
	const b = { kind: body.kind, properties: { virtualMachines: structuredClone(body.virtualMachines) } };
	b.properties.virtualMachines[0].ports.find((x) => x.number === PORT2).approval = { approvalsRequired: 1, approverRole: "SecurityAdmin" };
	const r = await raw("PUT", POLICY_ID, TOKEN, b);
	expect(r.status === 200, `status ${r.status} ${JSON.stringify(r.body)}`);
});
const pend = [];
for (const i of [0, 1])
	await step(`initiate of ${PORT2} (approval rule) returns 202 the SDK parses, with the port Pending (${i + 1} of 2)`, async () => {
		const r = await jit.initiate(RG, LOC, NAME, {
			virtualMachines: [{ id: VM_ID, ports: [{ number: PORT2, endTimeUtc: new Date(Date.now() + 600e3), allowedSourceAddressPrefix: SRC_ADDR }] }],
			justification: "azure-sdk approvals",
		});
		const p = r?.virtualMachines?.[0]?.ports?.[0];
		expect(p?.number === PORT2 && p.status === "Pending" && p.statusReason === "AwaitingApproval", `body ${JSON.stringify(r)}`);
		expect(p.endTimeUtc instanceof Date && !isNaN(p.endTimeUtc), `endTimeUtc ${p.endTimeUtc}`);
		pend.push(r.id);
	});
await step("a SecurityAdmin approves the second one (raw API)", async () => {
	const r = await raw("POST", `${POLICY_ID}/approve`, TOKEN2, { requestId: pend[1], reason: "sdk e2e" });
	expect(r.status === 200 && r.body?.status === "Approved", `status ${r.status} ${JSON.stringify(r.body)}`);
});
await step("get parses a policy holding a Pending and an approved request", async () => {
	const p = await jit.get(RG, LOC, NAME);
	expect(Array.isArray(p.requests), `requests ${JSON.stringify(p.requests)}`);
	const ports = p.requests.filter((r) => r.justification === "azure-sdk approvals").map((r) => r.virtualMachines?.[0]?.ports?.[0]);
	expect(ports.length === 2, `want 2 approval requests: ${JSON.stringify(p.requests)}`);
	expect(ports.some((x) => x.status === "Pending") && ports.some((x) => x.status === "Initiated"), `ports ${JSON.stringify(ports)}`);
	expect(ports.every((x) => x.endTimeUtc instanceof Date && !isNaN(x.endTimeUtc)), `end times ${JSON.stringify(ports)}`);
});
await step("list (subscription) parses it too", async () => listed(await collect(jit.list()), "list"));

// 7. paging: more policies than one page, followed through nextLink by the SDK
let made = 0;
await step(`createOrUpdate of ${PAGING_N} empty policies in group ${PAGING_RG}`, async () => {
	for (let i = 0; i < PAGING_N; i++) {
		await jit.createOrUpdate(PAGING_RG, LOC, `p${i}`, { kind: "Basic", virtualMachines: [] });
		made++;
	}
});
await step(`listByResourceGroup follows nextLink and yields all ${PAGING_N} policies`, async () => {
	const pages = [];
	for await (const page of jit.listByResourceGroup(PAGING_RG).byPage()) pages.push(page.length);
	const total = pages.reduce((a, b) => a + b, 0);
	expect(pages.length >= 2, `one page only (${JSON.stringify(pages)})`);
	expect(total === PAGING_N, `pages ${JSON.stringify(pages)}, total ${total}`);
	const names = new Set((await collect(jit.listByResourceGroup(PAGING_RG))).map((p) => p.name));
	expect(names.size === PAGING_N, `${names.size} distinct names`);
});
await step("list (subscription) follows nextLink and includes our policy and the paging ones", async () => {
	const all = await collect(jit.list());
	expect(all.length === PAGING_N + 1, `got ${all.length}`);
	listed(all, "list");
});
await step(`delete of the ${PAGING_N} paging policies`, async () => {
	for (let i = 0; i < made; i++) await jit.delete(PAGING_RG, LOC, `p${i}`);
	const a = await collect(jit.listByResourceGroup(PAGING_RG));
	expect(a.length === 0, `${a.length} left`);
});

// 8. delete
await step("delete of the policy succeeds (200)", async () => {
	let status;
	await jit.delete(RG, LOC, NAME, { onResponse: (r) => (status = r.status) });
	expect(status === 200, `status ${status}`);
});
await step("delete again succeeds (204: it no longer exists)", async () => {
	let status;
	await jit.delete(RG, LOC, NAME, { onResponse: (r) => (status = r.status) });
	expect(status === 204, `status ${status}`);
});
await step("get after delete is a RestError 404", async () => {
	try {
		await jit.get(RG, LOC, NAME);
	} catch (e) {
		expect(e.statusCode === 404, `got ${errText(e)}`);
		return;
	}
	throw new Error("it succeeded");
});
await step("list after delete no longer has it", async () => {
	const a = await collect(jit.list());
	expect(!a.some((p) => eqi(p.id, POLICY_ID)), `still listed`);
});
await step(`after delete the ports are unprotected again (connections open)`, async () =>
	expect((await tcpOpens()) && (await tcpOpens(700, PORT2)), "one did not open"));

process.exit(failed ? 1 : 0);

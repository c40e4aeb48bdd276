// tests/e2e/sso.sh's browser: Debian's Chromium (playwright-core) signs in to jitgate's portal through a real
// OpenID provider. One phase per run (argv[2]), as sso.sh starts, spoils, rotates and stops the provider between:
//   down     the provider is not up: the portal's single sign-on button says so; a token still signs in
//   signin   alice (JitRequester) and bob (SecurityAdmin) sign in; what each may do; carol (no mapping) refused;
//            a replayed callback (state used once) refused
//   bad-MODE the provider spoils the ID token (MODE aud, exp, sig): refused, naming the check
//   rotated  the provider signs with a new key (unknown kid): accepted after jitgated refetches the JWKS
//   device   approve the user code sso.sh got from `jitgate login --sso` (JG_DEVICE_URL)
//   several  dave's two groups map to JitRequester on resource group A (JG_RG) and SecurityAdmin on B (JG_RG_B):
//            he holds both, and each allows only at its own scope; eve, whom nine lines match, is refused
import { writeFileSync } from "node:fs";
import { chromium } from "playwright-core";
import { env, tally, ok, fail, step, expect, launchChromium } from "../browser.mjs";

const URL_ = env("JG_URL"), SUB = env("JG_SUB"), RG = env("JG_RG"), LOC = env("JG_LOC");
const POLICY = `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Security/locations/${LOC}/jitNetworkAccessPolicies/default`;
const VM = `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Compute/virtualMachines/vm1`;
const phase = process.argv[2];

const browser = await launchChromium(chromium, [env("JG_CERT"), env("JG_IDP_CERT")]);

async function newPage() {
	const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
	const page = await context.newPage();
	page.setDefaultTimeout(8000);
	return page;
}

// The portal's fetch, from inside the signed-in page (its cookie, its CSRF token from GET /session).
async function call(page, method, path, body) {
	return page.evaluate(
		async ([method, path, body]) => {
			const s = await (await fetch("/session", { cache: "no-store" })).json();
			const r = await fetch(path + (path.includes("?") ? "&" : "?") + "api-version=2020-01-01", {
				method,
				headers: { "Content-Type": "application/json", "X-CSRF-Token": s.csrfToken || "" },
				body: body ? JSON.stringify(body) : undefined,
			});
			return { status: r.status, text: await r.text() };
		},
		[method, path, body],
	);
}

// Click "Sign in with Test IdP", log in at the provider as `user`, consent; resolves where the browser ends.
async function ssoSignIn(page, user, callbacks) {
	page.on("request", (r) => r.url().includes("/oidc/callback") && callbacks?.push(r.url()));
	await page.goto(URL_ + "/");
	await page.locator("#sso-signin").click();
	await page.waitForURL((u) => u.href.startsWith(env("JG_IDP")));
	await page.locator('input[name="login"]').fill(user);
	await page.locator('input[name="password"]').fill("any");
	await page.locator("button[type=submit]").click();
	await page.locator("button[type=submit]", { hasText: "Continue" }).click();
	try {
		await page.waitForURL((u) => u.href.startsWith(URL_));
	} catch (e) {
		throw new Error(`still at ${page.url()}: ${(await page.locator("body").textContent()).slice(0, 300)}`);
	}
	await page.waitForLoadState("load");
}

async function signedInAs(page, name, role) {
	try {
		await page.locator("#vms-page").waitFor({ state: "visible" });
	} catch (e) {
		throw new Error(`not signed in at ${page.url()}: ${(await page.locator("body").textContent()).slice(0, 300)}`);
	}
	const me = JSON.parse((await call(page, "GET", "/whoami")).text);
	expect(me.name === name && me.role === role, `whoami says ${me.name} ${me.role}`);
}

const policyBody = {
	kind: "Basic",
	properties: { virtualMachines: [{ id: VM, ports: [{ number: 22, protocol: "*", allowedSourceAddressPrefix: "*", maxRequestAccessDuration: "PT3H" }] }] },
};

async function refusedPage(page, re) {
	const h = await page.locator("h1").textContent();
	const why = await page.locator("#reason").textContent();
	expect(h === "Sign-in refused" && re.test(why), `page says ${h}: ${why}`);
	return why;
}

if (phase === "down") {
	const page = await newPage();
	await step("provider down: the portal's button says single sign-on is unavailable", async () => {
		await page.goto(URL_ + "/");
		await page.locator("#sso-signin").click();
		await page.locator("#signin-note").waitFor({ state: "visible" });
		const t = await page.locator("#signin-note").textContent();
		expect(/single sign-on is unavailable: cannot reach the identity provider/.test(t), t);
	});
	await step("provider down: a token still signs in to the portal", async () => {
		await page.locator("#signin-token").fill(env("JG_TOKEN_OWNER"));
		await page.locator("#signin-submit").click();
		await page.locator("#vms-page").waitFor({ state: "visible" });
	});
}

if (phase === "signin") {
	const alice = await newPage();
	const callbacks = [];
	await step("alice signs in with the provider and is user:alice@example.com, JitRequester", async () => {
		await ssoSignIn(alice, "alice", callbacks);
		await signedInAs(alice, "user:alice@example.com", "JitRequester");
	});
	await step("the session cookie is HttpOnly, Secure, SameSite=Strict and ends within max_session (1 h)", async () => {
		const c = (await alice.context().cookies()).find((c) => c.name === "jg_session");
		expect(c && c.httpOnly && c.secure && c.sameSite === "Strict", JSON.stringify(c));
		expect(!(await alice.context().cookies()).some((c) => c.name === "jg_oidc"), "the sign-in's jg_oidc cookie is left");
		expect(c.expires * 1000 - Date.now() <= 3600 * 1000 + 5000, `expires ${c.expires}`);
	});
	await step("alice (JitRequester) may not write the JIT policy: 403", async () => {
		const r = await call(alice, "PUT", POLICY, policyBody);
		expect(r.status === 403 && /AuthorizationFailed/.test(r.text), `${r.status} ${r.text}`);
	});
	const bob = await newPage();
	await step("bob signs in and is user:bob@example.com, SecurityAdmin (his first mapping; JitRequester too)", async () => {
		await ssoSignIn(bob, "bob");
		await signedInAs(bob, "user:bob@example.com", "SecurityAdmin");
	});
	await step("bob (SecurityAdmin) writes the JIT policy", async () => {
		const r = await call(bob, "PUT", POLICY, policyBody);
		expect(r.status === 200 || r.status === 201, `${r.status} ${r.text}`);
	});
	await step("alice (JitRequester) requests access; the request names her", async () => {
		const r = await call(alice, "POST", POLICY + "/initiate", {
			virtualMachines: [{ id: VM, ports: [{ number: 22, endTimeUtc: new Date(Date.now() + 600e3).toISOString() }] }],
			justification: "sso e2e",
		});
		expect(r.status === 202 && r.text.includes("user:alice@example.com"), `${r.status} ${r.text}`);
	});
	await step("a replayed callback (the same state again) is refused: state is used once", async () => {
		expect(callbacks.length === 1, `${callbacks.length} callbacks seen`);
		await alice.goto(callbacks[0]);
		await refusedPage(alice, /already used/);
	});
	// JG_COOKIE_OUT: bob's portal session id, for sso.sh to show another replica (tests/e2e/on-pg.sh sso.sh)
	if (process.env.JG_COOKIE_OUT)
		writeFileSync(process.env.JG_COOKIE_OUT, (await bob.context().cookies()).find((c) => c.name === "jg_session")?.value ?? "");
	const carol = await newPage();
	await step("carol (no mapped group, another domain) is refused with a page that says why", async () => {
		await ssoSignIn(carol, "carol");
		await refusedPage(carol, /carol@elsewhere\.test .* given no role in jitgate/);
		expect(!(await carol.context().cookies()).some((c) => c.name === "jg_session"), "a session cookie was set");
	});
}

const bad = {
	"bad-aud": /not meant for this client/,
	"bad-exp": /has expired/,
	"bad-sig": /signature does not verify/,
	"bad-kid": /no key with this kid \(refreshed less than 30 s ago\)/,
};
if (bad[phase]) {
	const page = await newPage();
	await step(`a spoilt ID token (${phase.slice(4)}) is refused, naming the check`, async () => {
		await ssoSignIn(page, "alice");
		await refusedPage(page, bad[phase]);
		expect(!(await page.context().cookies()).some((c) => c.name === "jg_session"), "a session cookie was set");
	});
}

if (phase === "rotated") {
	const page = await newPage();
	await step("after the provider's key rotation (a new kid) alice still signs in: jitgated refetched the JWKS", async () => {
		await ssoSignIn(page, "alice");
		await signedInAs(page, "user:alice@example.com", "JitRequester");
	});
}

if (phase === "several") {
	const SCOPE_A = `/subscriptions/${SUB}/resourceGroups/${RG}`, SCOPE_B = `/subscriptions/${SUB}/resourceGroups/${env("JG_RG_B")}`;
	const POLICY_B = `${SCOPE_B}/providers/Microsoft.Security/locations/${LOC}/jitNetworkAccessPolicies/default`;
	const VM_B = `${SCOPE_B}/providers/Microsoft.Compute/virtualMachines/vm2`;
	const dave = await newPage();
	await step("dave (groups team-a, team-b) signs in: user:dave@example.com, JitRequester first", async () => {
		await ssoSignIn(dave, "dave");
		await signedInAs(dave, "user:dave@example.com", "JitRequester");
	});
	await step("whoami lists both of dave's assignments, in the config's order", async () => {
		const me = JSON.parse((await call(dave, "GET", "/whoami")).text);
		const want = [{ role: "JitRequester", scope: SCOPE_A }, { role: "SecurityAdmin", scope: SCOPE_B }];
		expect(JSON.stringify(me.assignments) === JSON.stringify(want), JSON.stringify(me));
	});
	await step("the portal's header names both roles", async () => {
		const t = await dave.locator("#me-role").textContent();
		expect(t === "JitRequester, SecurityAdmin", t);
	});
	await step("dave writes a JIT policy on B (SecurityAdmin there)", async () => {
		const body = { kind: "Basic", properties: { virtualMachines: [{ id: VM_B, ports: policyBody.properties.virtualMachines[0].ports }] } };
		const r = await call(dave, "PUT", POLICY_B, body);
		expect(r.status === 200 || r.status === 201, `${r.status} ${r.text}`);
	});
	await step("dave may not write the policy on A (JitRequester there; SecurityAdmin only on B): 403, exact body", async () => {
		const r = await call(dave, "PUT", POLICY, policyBody);
		const want = JSON.stringify({ error: { code: "AuthorizationFailed", message: `the client 'user:dave@example.com' with role ` +
			`'JitRequester' at scope '${SCOPE_A}' and role 'SecurityAdmin' at scope '${SCOPE_B}' does not have authorization ` +
			`to perform action 'Microsoft.Security/locations/jitNetworkAccessPolicies/write' over scope '${POLICY}'`, details: [] } });
		expect(r.status === 403 && r.text === want, `${r.status} ${r.text}`);
	});
	await step("dave requests access on A (JitRequester there); the request names him", async () => {
		const r = await call(dave, "POST", POLICY + "/initiate", {
			virtualMachines: [{ id: VM, ports: [{ number: 22, endTimeUtc: new Date(Date.now() + 600e3).toISOString() }] }],
			justification: "sso e2e, several assignments",
		});
		expect(r.status === 202 && r.text.includes("user:dave@example.com"), `${r.status} ${r.text}`);
	});
	const eve = await newPage();
	await step("eve, whom nine map lines match (more than 8), is refused with a page that says why", async () => {
		await ssoSignIn(eve, "eve");
		await refusedPage(eve, /eve@example\.com matches 9 map lines of \[sso\], more than the 8 one person may hold/);
		expect(!(await eve.context().cookies()).some((c) => c.name === "jg_session"), "a session cookie was set");
	});
}

if (phase === "device") {
	const page = await newPage();
	await step("bob approves the CLI's user code at the provider", async () => {
		await page.goto(env("JG_DEVICE_URL"));
		// the provider's pages: the code (prefilled), the confirmation, the login, the consent; any order
		for (let i = 0; i < 8; i++) {
			const body = await page.locator("body").textContent();
			if (/success/i.test(body)) return;
			if (await page.locator('input[name="login"]').count()) {
				await page.locator('input[name="login"]').fill("bob");
				await page.locator('input[name="password"]').fill("any");
				await page.locator("button[type=submit]").first().click();
			} else {
				await page.locator("button[type=submit]:not([name=abort])").first().click();
			}
			await page.waitForLoadState("load");
		}
		throw new Error(`no success page: ${(await page.locator("body").textContent()).slice(0, 300)}`);
	});
}

await browser.close();
process.exit(tally.failed ? 1 : 0);

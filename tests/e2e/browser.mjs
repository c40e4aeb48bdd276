// Shared by the browser tests (portal/test.mjs, sso/test.mjs): the "ok"/"FAIL" lines their shell scripts tally,
// and Debian's Chromium launched trusting exactly the given certificates' keys (TLS is never switched off).
import { readFileSync } from "node:fs";
import { createHash, X509Certificate } from "node:crypto";

export const env = (k) => {
	const v = process.env[k];
	if (!v) {
		console.log(`FAIL environment: ${k} is not set`);
		process.exit(2);
	}
	return v;
};

export const tally = { failed: 0 };
export const ok = (what) => console.log(`ok ${what}`);
export const fail = (what, why) => {
	tally.failed++;
	console.log(`FAIL ${what}: ${String(why?.message ?? why).split("\n").slice(0, 3).join(" ").replace(/\s+/g, " ").slice(0, 500)}`);
};
export async function step(what, fn) {
	try {
		const r = await fn();
		ok(what);
		return r;
	} catch (e) {
		fail(what, e);
		return undefined;
	}
}
export function expect(cond, msg) {
	if (!cond) throw new Error(msg);
}

// the SHA-256 of a PEM certificate's public key, as --ignore-certificate-errors-spki-list takes it
const spki = (f) =>
	createHash("sha256").update(new X509Certificate(readFileSync(f)).publicKey.export({ type: "spki", format: "der" })).digest("base64");

// JG_CHROMIUM through playwright-core's `chromium` (the caller's: each test has its own node_modules), accepting
// exactly the keys of certFiles; chromium.launch() gives it a fresh, empty user-data dir
export function launchChromium(chromium, certFiles) {
	return chromium.launch({
		executablePath: env("JG_CHROMIUM"),
		headless: true,
		args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
			"--disable-component-update", "--disable-sync", `--ignore-certificate-errors-spki-list=${certFiles.map(spki).join(",")}`],
		timeout: 30000,
	});
}

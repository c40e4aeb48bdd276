// The OpenID provider of tests/e2e/sso.sh: the certified npm oidc-provider over HTTPS, three users, and a
// switch (MODE_FILE) that spoils the next ID tokens it answers, so that jitgated's checks are tried on them.
// SIGUSR1 rotates the signing key: from then on a second provider answers, whose JWKS holds only key k2.
//   env: ISSUER, HOST, PORT, TLS_CERT, TLS_KEY, REDIRECT, MODE_FILE
// Modes (the file's content): "" honest; "aud" another audience; "exp" expired; "sig" a spoilt signature;
// "kid" signed by a key the JWKS never shows (kid "rogue").
import crypto from "node:crypto";
import fs from "node:fs";
import https from "node:https";
import Provider from "oidc-provider";
import * as jose from "jose";

const env = process.env;
const users = {
	alice: { email: "alice@example.com", groups: ["jit-users"] },
	bob: { email: "bob@example.com", groups: ["sec-admins", "jit-users"] },
	carol: { email: "carol@elsewhere.test", groups: ["contractors"] },
	dave: { email: "dave@example.com", groups: ["team-a", "team-b"] },
	eve: { email: "eve@example.com", groups: ["many-1", "many-2", "many-3", "many-4", "many-5", "many-6", "many-7", "many-8", "many-9"] },
};

const newKey = (kid) => ({
	...crypto.generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ format: "jwk" }),
	kid,
	alg: "RS256",
	use: "sig",
});

function makeProvider(jwk) {
const provider = new Provider(env.ISSUER, {
	clients: [
		{
			client_id: "jitgate",
			client_secret: "jitgate-test-secret",
			redirect_uris: [env.REDIRECT],
			grant_types: ["authorization_code", "urn:ietf:params:oauth:grant-type:device_code"],
			response_types: ["code"],
			token_endpoint_auth_method: "client_secret_basic",
		},
	],
	jwks: { keys: [jwk] },
	findAccount: async (ctx, id) =>
		users[id] && {
			accountId: id,
			claims: async () => ({ sub: `sub-${id}`, email: users[id].email, email_verified: true, groups: users[id].groups }),
		},
	claims: { openid: ["sub"], email: ["email", "email_verified"], groups: ["groups"] },
	scopes: ["openid", "email", "groups"],
	features: { devInteractions: { enabled: true }, deviceFlow: { enabled: true } },
	pkce: { required: () => true },
	conformIdTokenClaims: false,	// the claims go in the ID token, as jitgate reads them (Keycloak's mappers do the same)
	cookies: { keys: ["sso-e2e-cookie-key"] },
});
provider.proxy = false;

// Spoil the ID token of a token response as MODE_FILE says, signed again with the real key where the
// claims change (so only the check under test can refuse it).
provider.use(async (ctx, next) => {
	await next();
	if (ctx.path !== "/token" || ctx.status !== 200 || !ctx.body?.id_token) return;
	let mode = "";
	try {
		mode = fs.readFileSync(env.MODE_FILE, "utf8").trim();
	} catch {
		/* no file: honest */
	}
	if (!mode) return;
	const [h, p, s] = ctx.body.id_token.split(".");
	const claims = JSON.parse(Buffer.from(p, "base64url"));
	const rogue = mode === "kid" && newKey("rogue");
	const key = await jose.importJWK(rogue || jwk, "RS256");
	if (mode === "sig") {
		ctx.body = { ...ctx.body, id_token: `${h}.${p}.${s.slice(0, 10)}${s[10] === "A" ? "B" : "A"}${s.slice(11)}` };
		return;
	}
	if (mode === "aud") claims.aud = "another-client";
	if (mode === "exp") Object.assign(claims, { iat: claims.iat - 7200, exp: claims.iat - 3600 });
	const tok = await new jose.SignJWT(claims).setProtectedHeader({ alg: "RS256", kid: (rogue || jwk).kid, typ: "JWT" }).sign(key);
	ctx.body = { ...ctx.body, id_token: tok };
});

return provider;
}

let handler = makeProvider(newKey("k1")).callback();
const rotated = makeProvider(newKey("k2")).callback();
const server = https.createServer({ cert: fs.readFileSync(env.TLS_CERT), key: fs.readFileSync(env.TLS_KEY) }, (req, res) =>
	handler(req, res),
);
server.listen(Number(env.PORT), env.HOST, () => console.log(`provider listening on ${env.ISSUER} (kid k1)`));
process.on("SIGUSR1", () => {
	handler = rotated;
	console.log("provider rotated its signing key to kid k2");
});
process.on("SIGTERM", () => {
	server.closeAllConnections();
	server.close(() => process.exit(0));
});

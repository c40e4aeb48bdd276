#!/usr/bin/env bash
# The whole test suite (make check): two builds, unit tests, end-to-end tests, fuzz smoke. Exits non-zero on any failure.
set -u
cd "$(dirname "$0")/.."
: "${FUZZ_SECONDS:=30}"
failed=()
passed=0

step() { # NAME CMD...
	local name=$1; shift
	echo "=== $name"
	if "$@"; then passed=$((passed + 1)); else failed+=("$name"); echo "=== FAILED: $name"; fi
}

build_plain() {
	[[ -f build/build.ninja ]] || meson setup build -Dwerror=true >/dev/null || return 1
	ninja -C build
}
build_asan() {
	[[ -f build-asan/build.ninja ]] || meson setup build-asan -Dwerror=true -Db_sanitize=address,undefined \
		-Db_lundef=false -Dc_args=-fno-sanitize-recover=all >/dev/null || return 1
	ninja -C build-asan
}
unit() { meson test -C "$1" --suite unit --print-errorlogs; }
pg() { meson test -C "$1" --suite pg --print-errorlogs; }	# the store's tests on a throwaway PostgreSQL
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

step "banned functions" scripts/check-banned.sh
step "build (-Werror)" build_plain
step "build (address + undefined sanitizers)" build_asan
step "code shape: no circle of files, no long file or function" scripts/check-shape.sh build
step "unit tests" unit build
step "unit tests under sanitizers" unit build-asan
step "store unit tests on PostgreSQL" pg build
step "store unit tests on PostgreSQL, sanitizer build" pg build-asan
if [[ $(id -u) == 0 ]]; then
	step "e2e: firewall in namespaces" tests/e2e/fw.sh build
	step "e2e: firewall in namespaces, sanitizer build" tests/e2e/fw.sh build-asan
	step "e2e: jitgated API in namespaces" tests/e2e/server.sh build
	step "e2e: jitgated API in namespaces, sanitizer build" tests/e2e/server.sh build-asan
	step "e2e: jitgated API in namespaces, store on PostgreSQL" tests/e2e/on-pg.sh server.sh build
	step "e2e: gateway DNAT: publicIpAddress and mapped ports, kernel timeouts, restart, bad input (issue 15)" tests/e2e/dnat.sh build
	step "e2e: approvals and extend (issue 16): ask, approve, deny, lapse, extend, real TCP" tests/e2e/approvals.sh build
	step "e2e: approvals and extend, sanitizer build" tests/e2e/approvals.sh build-asan
	step "e2e: approvals and extend, store on PostgreSQL" tests/e2e/on-pg.sh approvals.sh build
	step "e2e: tampering with the kernel table is undone" tests/e2e/tamper.sh build
	step "e2e: /metrics (promtool, who may read it, values moving, metrics_listen)" tests/e2e/metrics.sh build
	step "e2e: /metrics, store on PostgreSQL" tests/e2e/on-pg.sh metrics.sh build
	step "e2e: webhooks (signed, retried until delivered, in order, across a kill; slow and hostile receivers)" tests/e2e/webhooks.sh build
	step "e2e: webhooks, store on PostgreSQL" tests/e2e/on-pg.sh webhooks.sh build
	step "e2e: jitgate-agent's host half (saved state, tampering, kill, restart, refusals)" tests/e2e/agent-local.sh build
	step "e2e: jitgate-agent's host half, sanitizer build" tests/e2e/agent-local.sh build-asan
	step "e2e: jitgate-agent on a full disk: a state it cannot save never lets a restart reopen an older grant" tests/e2e/agent-disk.sh build
	step "e2e: jitgate-agent's network half against an HTTPS responder (join, watch, backoff, max_disconnected, hostile states)" tests/e2e/agent-net.sh build
	step "e2e: jitgate-agent's network half, sanitizer build" tests/e2e/agent-net.sh build-asan
	step "e2e: jitgate-agent against hostile and slow servers (a trickled head, an endless chunked body, a head past HTTP1_HEAD_MAX, silence after TLS, no TLS) listed before jitgated; a server name whose DNS never answers" tests/e2e/agent-hostile.sh build
	step "e2e: jitgate-agent against hostile and slow servers, sanitizer build" tests/e2e/agent-hostile.sh build-asan
	step "e2e: privilege separation" tests/e2e/privsep.sh build
	step "e2e: official Azure JS SDK against jitgated" tests/e2e/azure-sdk.sh build
	step "e2e: the web portal in Chromium" tests/e2e/portal.sh build
	step "e2e: single sign-on with a real OpenID provider" tests/e2e/sso.sh build
	step "e2e: single sign-on, store on PostgreSQL, sessions shared with a second replica" tests/e2e/on-pg.sh sso.sh build
	step "e2e: single sign-on against a provider that never answers: the API is not held, exact 503s" tests/e2e/sso-slow.sh build
	step "e2e: the jitgate CLI" tests/e2e/cli.sh build
	step "e2e: SIGKILL under load: store, kernel and connections agree" tests/e2e/crash.sh build
	step "e2e: a full or read-only state directory" tests/e2e/disk.sh build
	step "e2e: wall-clock jumps" tests/e2e/clock.sh build
	step "e2e: load and hostile clients (LOAD_SECONDS=${LOAD_SECONDS:-20})" tests/e2e/load.sh build
	step "e2e: the CLI against a hostile server, a non-default subscription, failed logins" tests/e2e/sec-cli.sh build
	step "e2e: closing access never depends on the disk (revoke, token revoke, policy changes)" tests/e2e/sec-close.sh build
	step "e2e: token minting, sessions, failure budget, proxies, connection table" tests/e2e/sec-auth.sh build
	step "e2e: shared kernel keys and 100,000-grant reconciles (issue 11)" tests/e2e/sec-fw.sh build
	step "e2e: API holes of issue 11 (enforcement, addresses, %00, live requests, JSON bodies)" tests/e2e/sec-api.sh build
	step "e2e: join tokens: Owners create, list and revoke them (API, CLI, offline); secrets shown once" tests/e2e/join-tokens.sh build
	step "e2e: the agent protocol's server half: join, the watch that parks and wakes, status, credentials" tests/e2e/agent-api.sh build
	step "e2e: the agent protocol's server half, store on PostgreSQL" tests/e2e/on-pg.sh agent-api.sh build
	step "e2e: the fleet for real: jitgated and three jitgate-agent hosts (join, enable, request, revoke, supersede, server and agent killed, tampering, a link down)" tests/e2e/agent.sh build
	step "e2e: the fleet for real, sanitizer build" tests/e2e/agent.sh build-asan
	step "e2e: the fleet for real, store on PostgreSQL" tests/e2e/on-pg.sh agent.sh build
	step "e2e: two jitgated replicas on one PostgreSQL, agents on each" tests/e2e/on-pg.sh replicas.sh build
	step "e2e: the connection to PostgreSQL lost again during its session set-up: 503, never 500, service resumes" tests/e2e/on-pg.sh pg-session.sh build
	step "e2e: sign-in sessions shared by two replicas on one PostgreSQL (sign-out, token revoke, forged, expired, a refused store)" tests/e2e/on-pg.sh sessions.sh build
	step "e2e: PostgreSQL's primary killed under load (pg_auto_failover): every 202 kept, 503s between, back within 15 s" tests/e2e/failover.sh build
	step "e2e: reads from a PostgreSQL standby while there is no primary (store_read): writes 503, a lagging or silent standby refused, promotion" tests/e2e/standby-reads.sh build
	step "e2e: on PostgreSQL only agents enforce (AgentRequired, an agent on a replica's host, an extend applied by it, approvals racing on two replicas)" tests/e2e/on-pg.sh agents-only.sh build
	step "e2e: two replicas giving gateway DNAT's mapped ports at once: none given twice" tests/e2e/on-pg.sh dnat-race.sh build
	step "e2e: the activity log's hash chain (jitgated audit verify names an edited, deleted, inserted row) and retention" tests/e2e/audit.sh build
	step "e2e: the activity log's chain and retention, store on PostgreSQL" tests/e2e/on-pg.sh audit.sh build
	step "e2e: one jitgated per namespace, the unit's sandbox, boot protection, TLS and HTTP strictness" tests/e2e/sec-daemon.sh build
	step "e2e: the Debian package: make deb, lintian, apt-get install, the installed jitgated (privilege separation, Landlock) and CLI, purge" tests/e2e/deb.sh build
	step "make demo" scripts/demo.sh build
else
	failed+=("e2e (needs root: network namespaces and nftables)")
fi
step "fuzz smoke (${FUZZ_SECONDS}s per target)" env FUZZ_SECONDS="$FUZZ_SECONDS" scripts/fuzz.sh

echo
echo "check: ${passed} passed, ${#failed[@]} failed"
for f in "${failed[@]}"; do echo "  failed: $f"; done
(( ${#failed[@]} == 0 ))

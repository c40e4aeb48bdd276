#!/usr/bin/env bash
# End-to-end: jitgated's connection to PostgreSQL lost, and the new one lost again during its session set-up (the
# first moments of a failover: a server that accepts and goes away). Every answer meanwhile is 200 or 503 with
# Retry-After, never a 500; then service resumes by itself. The store reaches PostgreSQL through pg-cut-proxy.py,
# a relay on a unix socket that loses connections on cue.
# Usage: tests/e2e/on-pg.sh pg-session.sh [BUILD_DIR]   (as root; python3, curl)
set -u
here=$(cd "$(dirname "$0")" && pwd)
BUILD=${1:-$here/../../build}
JITGATED=${JITGATED:-$BUILD/src/daemon/jitgated}
. "$here/lib.sh"

[[ -n ${JITGATE_TEST_PG-} ]] || { echo "pg-session.sh: run it as tests/e2e/on-pg.sh pg-session.sh"; exit 1; }
[[ $(id -u) == 0 ]] || { echo "pg-session.sh: needs root (network namespaces)"; exit 1; }
for t in python3 curl; do command -v $t >/dev/null || { echo "pg-session.sh: needs $t"; exit 1; }; done
TRIES=50		# requests after the cut, 0.1 s apart: the reconnect pause (STORE_PG_RECONNECT_PAUSE_MS) is far shorter

PGD=$(sed 's/.*host=\([^&]*\).*/\1/' <<<"$JITGATE_TEST_PG")
PX=$E2E_TMP/px CTL=$E2E_TMP/px.cue PXLOG=$E2E_TMP/px.log
mkdir -p "$PX" && : >"$CTL" && : >"$PXLOG"
python3 "$here/pg-cut-proxy.py" "$PX" "$PGD" "$CTL" "$PXLOG" >"$E2E_TMP/px.out" 2>&1 &
E2E_PIDS+=($!)
for ((i = 0; i < 250; i++)); do grep -q listening "$E2E_TMP/px.out" && break; sleep 0.02; done
check "the relay listens" grep -q listening "$E2E_TMP/px.out"
export JITGATE_TEST_PG="postgresql:///jitgate?host=$PX&user=jitgate"	# every jitgated below: through the relay

NS=$(ns_new pgs) || exit 1
STATE=$E2E_TMP/state
check "jitgated starts, its store through the relay" jitgated_start "$NS" "$NS" "$STATE" 127.0.0.1:8443 "$E2E_TMP/jitgated.log"
TOKEN=$("$JITGATED" token create --state-dir "$STATE" --name owner --role Owner 2>>"$E2E_TMP/token.err")
VMS=/subscriptions/00000000-0000-0000-0000-000000000000/providers/Microsoft.Compute/virtualMachines?api-version=2020-01-01
req() { # a GET of the VMs (the token looked up in the store); "CODE RETRY-AFTER ERROR-CODE MESSAGE"
	local code ra
	code=$(ip netns exec "$NS" curl -sS --max-time 10 --cacert "$STATE/tls/cert.pem" -o "$E2E_TMP/body" -D "$E2E_TMP/hdr" \
		-w '%{http_code}' -H "Authorization: Bearer $TOKEN" "https://127.0.0.1:8443$VMS" 2>/dev/null)
	ra=$(tr -d '\r' <"$E2E_TMP/hdr" | awk -F': ' 'tolower($1) == "retry-after" { print $2 }')
	echo "$code ${ra:--} $(python3 -c 'import json, sys; e = json.load(sys.stdin).get("error", {}); print(e.get("code", "-"), e.get("message", "")[:150])' <"$E2E_TMP/body" 2>/dev/null)"
}
r=$(req)
check "a GET through the relay: 200 ($r)" test "${r%% *}" = 200

echo "1. the connection lost, and the next one lost at its session's first query"
echo cut >"$CTL"
cut_old() { grep -q 'relayed connection' "$PXLOG"; }
eventually_within "the relay closed jitgated's connection" 5 cut_old
: >"$E2E_TMP/answers"
for ((i = 0; i < TRIES; i++)); do
	r=$(req)
	echo "$r" >>"$E2E_TMP/answers"
	[[ ${r%% *} == 200 ]] && grep -q 'first query' "$PXLOG" && break
	sleep 0.1
done
echo "  answers: $(cut -c1-200 "$E2E_TMP/answers" | tr '\n' ';')"
check "the relay lost a new connection at its first query (jitgated's session set-up)" grep -q 'first query' "$PXLOG"
check "no answer was a 500 ($(grep -c '^500' "$E2E_TMP/answers"): $(grep '^500' "$E2E_TMP/answers" | head -1 | cut -c1-160))" \
	test "$(grep -c '^500' "$E2E_TMP/answers")" = 0
check "every other answer a 503 with Retry-After" test "$(awk '$1 != 200 && !($1 == 503 && $2 != "-")' "$E2E_TMP/answers" | wc -l)" = 0
check "some were 503s: the losses were met ($(grep -c '^503' "$E2E_TMP/answers"))" test "$(grep -c '^503' "$E2E_TMP/answers")" -gt 0
check "service resumed by itself: the last answer 200 ($(tail -1 "$E2E_TMP/answers" | cut -c1-40))" test "$(tail -1 "$E2E_TMP/answers" | cut -d' ' -f1)" = 200
r=$(req)
check "and the next: 200 ($r)" test "${r%% *}" = 200
check "jitgated still runs" kill -0 "$JITGATED_PID"
(( E2E_FAIL )) && { echo "--- jitgated.log"; tail -15 "$E2E_TMP/jitgated.log"; echo "--- relay"; cat "$PXLOG" "$E2E_TMP/px.out"; }
e2e_summary

#!/usr/bin/env bash
# End-to-end: jitgate-agent pointed at a hostile or slow server (tests/e2e/evilsrv, one per hostile way) listed
# before a real jitgated. Each agent got its state from jitgated first; restarted with the hostile server first in
# its list, it must end the hostile call by a named limit, keep enforcing its last good state in the kernel
# meanwhile (a grant open until its end, closed ports closed: real TCP connects), then move to jitgated and apply
# a grant made there meanwhile. Five agents run side by side, so the whole takes one call's timeout, not five.
#
#   server (jitgated on S:8443; evilsrv on S:9441..9445, showing jitgated's certificate) ─┐
#   host1..host5 (listeners on 22, 2222, 3389; jitgate-agent as its own user) ────────────┼── bridge
#   client (A, B) ────────────────────────────────────────────────────────────────────────┘
#
#   host1 trickle     the answer's head one byte a second       ends by AGENT_CALL_TIMEOUT_MS (15 s)
#   host2 nochunkend  a chunked body that never ends            ends by AGENT_CALL_TIMEOUT_MS
#   host3 bighead     a head one byte past HTTP1_HEAD_MAX        refused at once
#   host4 silent      TLS, the request read, then nothing        ends by AGENT_CALL_TIMEOUT_MS
#   host5 notls       TCP accepted, then not even a TLS hello    ends by CLIENT_AGENT_CONNECT_MS (10 s)
#   host6 dns         its one server by a name that only a silent DNS server (agent-dns.py silent) is asked for:
#                     each try gives up after CLIENT_AGENT_CONNECT_MS while its resolver thread goes on; the next
#                     try waits for that thread, so the agent holds one resolver thread, not one more per try
#
# Usage: tests/e2e/agent-hostile.sh [BUILD_DIR]   (as root; needs curl, jq, openssl)
set -u
here=$(cd "$(dirname "$0")" && pwd)
BUILD=${1:-$here/../../build}
. "$here/lib.sh"
e2e_binaries "$BUILD"
EVILSRV=$BUILD/tests/e2e/evilsrv
RESOLVECAP=$BUILD/tests/e2e/resolvecap
e2e_require agent-hostile.sh - "JITGATED JG AGENT NETPROBE EVILSRV RESOLVECAP" curl jq openssl || exit 1
USR=jitgate-agent-t
e2e_user "$USR" || exit 1
chmod 0711 "$E2E_TMP"	# the agents' user must reach their state directories below it

HOSTS=(1 2 3 4 5) ALL=(1 2 3 4 5 6)	# host6: its server by a name only a silent DNS server is asked for
declare -A MODE=([1]=trickle [2]=nochunkend [3]=bighead [4]=silent [5]=notls [6]=dns)
BR=$(ns_new br) && SV=$(ns_new sv) && CL=$(ns_new cl) || exit 1
declare -A NS IP
for k in "${ALL[@]}"; do NS[$k]=$(ns_new "h$k") || exit 1; done
ip -n "$BR" link add br0 type bridge && ip -n "$BR" link set br0 up || exit 1
NET=10.233.0
S=$NET.1 A=$NET.21 B=$NET.22
bridge_plug "$BR" "$SV" e0 psv $S && bridge_plug "$BR" "$CL" e0 pcl $A $B || exit 1
for k in "${ALL[@]}"; do
	IP[$k]=$NET.$((10 + k))
	bridge_plug "$BR" "${NS[$k]}" e0 "ph$k" "${IP[$k]}" && listen "${NS[$k]}" 22 2222 3389 || exit 1
done

STATE=$E2E_TMP/state
SUB=00000000-0000-0000-0000-000000000000
CMP=/subscriptions/$SUB/resourceGroups/rg1/providers/Microsoft.Compute/virtualMachines
POL=/subscriptions/$SUB/resourceGroups/rg1/providers/Microsoft.Security/locations/local/jitNetworkAccessPolicies/default
AV=api-version=2020-01-01
vm() { echo "$CMP/host$1"; }
check "jitgated is healthy" jitgated_start "$SV" "$CL" "$STATE" "$S:8443" "$E2E_TMP/jitgated.log" --vm-name gw
T_OWNER=$("$JITGATED" token create --name owner --role Owner --state-dir "$STATE")
FP=$(openssl x509 -in "$STATE/tls/cert.pem" -noout -fingerprint -sha256 | cut -d= -f2)
# api METHOD PATH [BODY]: the API as the owner from A; sets $code
api() {
	local args=(-sS --max-time 10 --interface $A --cacert "$STATE/tls/cert.pem" -o "$E2E_TMP/resp" -w '%{http_code}'
		-X "$1" -H "Authorization: Bearer $T_OWNER")
	[[ -n ${3-} ]] && args+=(-H 'Content-Type: application/json' --data-binary "$3")
	code=$(ip netns exec "$CL" curl "${args[@]}" "https://$S:8443$2" 2>"$E2E_TMP/curl.err")
}
jg() {
	ip netns exec "$CL" env -i PATH="$PATH" HOME="$E2E_TMP" TZ=UTC JITGATE_SERVER="https://$S:8443" \
		JITGATE_TOKEN="$T_OWNER" JITGATE_CA="$STATE/tls/cert.pem" "$JG" "$@" </dev/null >"$E2E_TMP/out" 2>"$E2E_TMP/err"
	rc=$?
	out=$(<"$E2E_TMP/out")
}
# the hostile servers show jitgated's certificate: the pin matches, so the agent sends them its calls
# host6's resolver: a DNS server that never answers, asked with glibc's longest waits (30 s, then 60 s: 90 s a name)
mkdir -p "/etc/netns/${NS[6]}"
trap 'e2e_cleanup; rm -rf "$E2E_TMP" "/etc/netns/${NS[6]}"; true' EXIT
printf 'nameserver %s\noptions timeout:30 attempts:2\n' $S >"/etc/netns/${NS[6]}/resolv.conf"
ip netns exec "$SV" python3 "$here/agent-dns.py" $S $S "$E2E_TMP/dns.log" silent >"$E2E_TMP/dns.out" 2>&1 &
E2E_PIDS+=($!)
for k in "${HOSTS[@]}"; do
	mkdir -p "$E2E_TMP/evil$k/tls" && cp "$STATE/tls/cert.pem" "$STATE/tls/key.pem" "$E2E_TMP/evil$k/tls/" || exit 1
	ip netns exec "$SV" "$EVILSRV" "$E2E_TMP/evil$k" $S $((9440 + k)) 120 "${MODE[$k]}" >"$E2E_TMP/evil$k.out" 2>&1 &
	E2E_PIDS+=($!)
done
declare -A AST ALOG APID
agent_run() { # K: start host K's agent, no wait
	: >>"${ALOG[$1]}"
	ip netns exec "${NS[$1]}" "$AGENT" run --state-dir "${AST[$1]}" --user "$USR" >>"${ALOG[$1]}" 2>&1 &
	APID[$1]=$!
	E2E_PIDS+=(${APID[$1]})
}
# allowed K PORT: A reaches host K's PORT; never_granted K: B is refused on 22 and A on 3389
allowed() { can "$CL" $A "${IP[$1]}" "$2"; }
never_granted() { cannot "$CL" $B "${IP[$1]}" 22 && cannot "$CL" $A "${IP[$1]}" 3389; }
# grant_all PORT SECONDS: A granted PORT on every host (an initiate each, 202 expected)
grant_all() {
	local k
	for k in "${ALL[@]}"; do
		api POST "$POL/initiate?$AV" "$(fleet_initiate_body $k "$1" $A "$2")"
		[[ $code == 202 ]] || notok "initiate $1 on host$k ($code: $(cat "$E2E_TMP/resp"))"
	done
}

echo "1. five hosts join jitgated (by its pinned fingerprint), JIT on 22, 2222 and 3389; A granted 22 for an hour"
jg -q agent token create --resource-group rg1 --uses ${#ALL[@]}
JT=$out
for k in "${ALL[@]}"; do
	AST[$k]=$E2E_TMP/agent$k ALOG[$k]=$E2E_TMP/agent$k.log
	mkdir -m 0700 "${AST[$k]}"
	ip netns exec "${NS[$k]}" "$AGENT" join --server "https://$S:8443" --token "$JT" --ca-fingerprint "$FP" \
		--name "host$k" --state-dir "${AST[$k]}" >"$E2E_TMP/join.$k" 2>&1 || { notok "host$k joins: $(cat "$E2E_TMP/join.$k")"; }
	agent_run $k
done
for k in "${ALL[@]}"; do
	check "host$k's agent enforces jitgated's state" agent_wait_enforcing "${ALOG[$k]}" "${APID[$k]}"
	jg enable host$k --port 22 --port 2222 --port 3389 --max 3h
	[[ $rc == 0 ]] || notok "jitgate enable host$k (rc $rc: $(cat "$E2E_TMP/err"))"
done
grant_all 22 3600
for k in "${ALL[@]}"; do
	eventually_within "host$k: A reaches 22" 5 allowed $k 22
done

echo "2. a short grant (2222, ending ~10 s from now); the agents restarted with the hostile server listed first"
end_s=$(( $(date +%s) + 10 ))
grant_all 2222 10
for k in "${ALL[@]}"; do
	eventually_within "host$k: A reaches 2222" 5 allowed $k 2222
done
for k in "${ALL[@]}"; do kill -TERM "${APID[$k]}"; done
for k in "${ALL[@]}"; do
	wait "${APID[$k]}"
	if ((k == 6)); then
		sed -i "s|^server = .*|server = https://slow.jit.test:8443|" "${AST[$k]}/agent.conf"
	else
		sed -i "s|^server = .*|server = https://$S:$((9440 + k))\nserver = https://$S:8443|" "${AST[$k]}/agent.conf"
	fi
	: >"${ALOG[$k]}"
done
T0=$(now_ms)
for k in "${ALL[@]}"; do agent_run $k; done
# host6's agent's threads (/proc/PID/task), sampled every 0.2 s for at most 40 s
for ((i = 0; i < 200; i++)); do ls "/proc/${APID[6]}/task" 2>/dev/null | wc -l; sleep 0.2; done >"$E2E_TMP/tasks6" &
E2E_PIDS+=($!)
for k in "${ALL[@]}"; do
	check "host$k (${MODE[$k]}): the saved state is enforced at once" agent_wait_enforcing "${ALOG[$k]}" "${APID[$k]}"
done

echo "3. while the hostile calls run: the last good state holds"
sleep_until $(( T0 + 3000 ))
for k in "${ALL[@]}"; do
	check "host$k (${MODE[$k]}): A still reaches 22 (granted for an hour)" allowed $k 22
	check "host$k: A still reaches 2222 (its grant not yet ended)" allowed $k 2222
	check "host$k: B is refused on 22, A on 3389 (never granted)" never_granted $k
done
for k in 1 2 4; do
	check "host$k (${MODE[$k]}): the hostile server read the agent's request" grep -q "request read" "$E2E_TMP/evil$k/evil.log"
done
echo "   a grant of 3389 to A made on jitgated meanwhile"
grant_all 3389 3600
sleep_until $(( end_s * 1000 + 600 ))
for k in "${ALL[@]}"; do
	check "host$k (${MODE[$k]}): 2222 is refused after its grant's end ($(( end_s * 1000 - T0 )) ms after the restart)" \
		cannot "$CL" $A "${IP[$k]}" 2222
	check "host$k: A still reaches 22" allowed $k 22
done
for k in 1 2 4; do
	check "host$k (${MODE[$k]}): the hostile call was still in flight then ($(( $(now_ms) - T0 )) ms)" \
		bash -c '! grep -q "failure 1 in a row" "$1"' _ "${ALOG[$k]}"
done

echo "4. each call ended by its limit; the agent moved to jitgated and applied the grant made there"
for k in "${HOSTS[@]}"; do
	eventually_within "host$k (${MODE[$k]}): A reaches 3389 (granted on jitgated)" 25 allowed $k 3389
done
echo "   all five within $(( $(now_ms) - T0 )) ms of the restart"
why() { # K: the failure the agent logged for its hostile server
	case ${MODE[$1]} in
	bighead) echo "https://$S:$((9440 + $1)): $S sent an answer whose head passes our limits (HTTP1_HEAD_MAX $((64 * 1024)) bytes" ;;
	notls) echo "https://$S:$((9440 + $1)): connecting to $S port $((9440 + $1)) timed out after 10000 ms" ;;
	*) echo "https://$S:$((9440 + $1)): no whole answer from $S within 15000 ms" ;;
	esac
}
for k in "${HOSTS[@]}"; do
	check "host$k (${MODE[$k]}): the agent logged '$(why $k | cut -d' ' -f2-)'; next server jitgated" \
		bash -c 'grep -F "$1" "$2" | grep -q "failure 1 in a row, next try in [0-9]* ms on https://$3:8443"' _ "$(why $k)" "${ALOG[$k]}" $S
	check "host$k: ... and then enforced jitgated's new revision" grep -q "enforcing revision [0-9]* from https://$S:8443" "${ALOG[$k]}"
	check "host$k: B still refused on 22" cannot "$CL" $B "${IP[$k]}" 22
	check "host$k: A still reaches 22" allowed $k 22
	check "host$k: the agent is still running" kill -0 "${APID[$k]}"
done
for k in 1 2 4; do
	s=$(sed -n 's/.*client gone after (s) \([0-9]*\).*/\1/p; s/.*stopped after (s) \([0-9]*\).*/\1/p' "$E2E_TMP/evil$k/evil.log" | head -1)
	check "host$k (${MODE[$k]}): the agent closed the connection after ${s:-?} s (AGENT_CALL_TIMEOUT_MS: 15 s)" \
		test "${s:-0}" -ge 14 -a "${s:-99}" -le 17
done
s=$(sed -n 's/.*client gone after (s) \([0-9]*\).*/\1/p' "$E2E_TMP/evil5/evil.log" | head -1)
check "host5 (notls): the agent closed the connection after ${s:-?} s (CLIENT_AGENT_CONNECT_MS: 10 s)" \
	test "${s:-0}" -ge 9 -a "${s:-99}" -le 12

echo "5. host6: its server's name never resolves; the agent keeps trying with one resolver thread, and enforcing"
sleep_until $(( T0 + 24000 ))
check "host6: a try gave up waiting for the name, said so" \
	grep -q "https://slow.jit.test:8443: no address for slow.jit.test within 10000 ms; its resolution goes on" "${ALOG[6]}"
check "host6: ... and the agent kept trying: a second failure logged" grep -q "failure 2 in a row" "${ALOG[6]}"
check "host6: the silent DNS server was asked for the name" grep -q "^slow.jit.test " "$E2E_TMP/dns.log"
max=$(sort -n "$E2E_TMP/tasks6" | tail -1) samples=$(grep -c . "$E2E_TMP/tasks6")
# the main thread and one resolver thread: without the sharing, one more thread per try (4 by now)
check "host6: at most 2 threads all along ($max at most, $samples samples over $(( ($(now_ms) - T0) / 1000 )) s)" \
	test "${max:-99}" -le 2 -a "$samples" -ge 50
check "host6: the agent is still running" kill -0 "${APID[6]}"
check "host6: A still reaches 22 (the last good state)" allowed 6 22
check "host6: B is refused on 22, A on 3389 (granted on jitgated, which the agent cannot reach)" never_granted 6
check "host6: 2222 stays refused after its end" cannot "$CL" $A "${IP[6]}" 2222
out=$(ip netns exec "${NS[6]}" "$RESOLVECAP" cap.jit.test 2>&1); rc=$?
check "the resolver's cap with DNS silent: $out" test $rc = 0
if [[ $E2E_FAIL != 0 ]]; then
	for k in "${ALL[@]}"; do echo "--- host$k's agent log"; tail -15 "${ALOG[$k]}"; cat "$E2E_TMP/evil$k/evil.log" 2>/dev/null; done
fi
e2e_summary

#!/usr/bin/env bash
# End-to-end: the fleet for real. jitgated and three jitgate-agent hosts talk the agent protocol over real TLS;
# every open and close is seen with real TCP connects from a client with two addresses.
#
#   server (jitgated on S:8443) ─┐
#   host1 (22, 3389) ────────────┤
#   host2 (22) ──────────────────┼── bridge (its own namespace)
#   host3 (22) ──────────────────┤
#   client (A, B) ───────────────┘
#
# Each agent runs as root dropping to the user jitgate-agent-t (CAP_NET_ADMIN alone, seccomp), as agent-local.sh.
# jitgated runs privilege-separated (its API process as jitgate-t) with agent_watch_wait = PT5S (a shorter idle poll; the wake on a change does not depend on it).
# Its state directory is a 16 MiB tmpfs, filled in step 13 so that the store refuses writes (the close journal;
# on PostgreSQL, whose data is elsewhere, step 13 revokes with a store that records it: tests/e2e/on-pg.sh).
# Usage: tests/e2e/agent.sh [BUILD_DIR]   (as root; needs curl, jq, openssl, setpriv)
set -u
here=$(cd "$(dirname "$0")" && pwd)
BUILD=${1:-$here/../../build}
JITGATED=${JITGATED:-$BUILD/src/daemon/jitgated}	# on-pg.sh gives one whose store is PostgreSQL
JG=$BUILD/src/cli/jitgate
AGENT=$BUILD/src/agent/jitgate-agent
NETPROBE=$BUILD/tests/e2e/netprobe
. "$here/lib.sh"

[[ $(id -u) == 0 ]] || { echo "agent.sh: needs root (network namespaces, nftables)"; exit 1; }
[[ -x $JITGATED && -x $JG && -x $AGENT && -x $NETPROBE ]] || { echo "agent.sh: build first"; exit 1; }
for t in curl jq openssl setpriv; do command -v $t >/dev/null || { echo "agent.sh: needs $t"; exit 1; }; done
USR=jitgate-agent-t
e2e_user "$USR" || exit 1
JITGATED_USER=jitgate-t	# jitgated privilege-separated, as in production
e2e_user "$JITGATED_USER" || exit 1
chmod 0711 "$E2E_TMP"	# the agents' user must reach their state directories below it

BR=$(ns_new br) && SV=$(ns_new sv) && CL=$(ns_new cl) || exit 1
H1=$(ns_new h1) && H2=$(ns_new h2) && H3=$(ns_new h3) || exit 1
ip -n "$BR" link add br0 type bridge && ip -n "$BR" link set br0 up || exit 1
NET=10.241.0
S=$NET.1 A=$NET.21 B=$NET.22
declare -A NS=([1]=$H1 [2]=$H2 [3]=$H3) IP=([1]=$NET.11 [2]=$NET.12 [3]=$NET.13)
plug() { # NS IF PORT ADDR...
	local n=$1 i=$2 p=$3; shift 3
	link_new "$n" "$i" "$BR" "$p" && ip -n "$BR" link set "$p" master br0 || return 1
	local a; for a in "$@"; do addr_add "$n" "$i" "$a/24"; done
}
plug "$SV" e0 psv $S && plug "$CL" e0 pcl $A $B || exit 1
for k in 1 2 3; do plug "${NS[$k]}" e0 "ph$k" "${IP[$k]}" || exit 1; done
listen "$H1" 22 3389 && listen "$H2" 22 && listen "$H3" 22 || exit 1

STATE=$E2E_TMP/state
# jitgated's state directory on a small tmpfs, to fill it in step 13 (a store that refuses writes)
mkdir -m 0700 "$STATE" && mount -t tmpfs -o size=16m,mode=0700 jitgate-e2e-agent "$STATE" || exit 1
trap 'e2e_cleanup; mountpoint -q "$STATE" && { umount "$STATE" 2>/dev/null || umount -l "$STATE"; }; rm -rf "$E2E_TMP"' EXIT
SUB=00000000-0000-0000-0000-000000000000
CMP=/subscriptions/$SUB/resourceGroups/rg1/providers/Microsoft.Compute/virtualMachines
POL=/subscriptions/$SUB/resourceGroups/rg1/providers/Microsoft.Security/locations/local/jitNetworkAccessPolicies/default
AV=api-version=2020-01-01
SRVLOG=$E2E_TMP/jitgated.log
printf 'agent_watch_wait = PT5S\n' >"$E2E_TMP/jitgated.conf"
srv_pid=
srv_start() {
	jitgated_start "$SV" "$CL" "$STATE" "$S:8443" "$SRVLOG" --vm-name gw --config "$E2E_TMP/jitgated.conf"
	local rc=$?
	srv_pid=$JITGATED_PID
	return $rc
}
T_OWNER=$("$JITGATED" token create --name owner --role Owner --state-dir "$STATE")
# api METHOD PATH [BODY]: the API as the owner from A; sets $code and $R
api() {
	local args=(-sS --max-time 10 --interface $A --cacert "$STATE/tls/cert.pem" -o "$E2E_TMP/resp" -w '%{http_code}'
		-X "$1" -H "Authorization: Bearer ${TOK:-$T_OWNER}")
	[[ -n ${3-} ]] && args+=(-H 'Content-Type: application/json' --data-binary "$3")
	code=$(ip netns exec "$CL" curl "${args[@]}" "https://$S:8443$2" 2>"$E2E_TMP/curl.err")
	R=$(cat "$E2E_TMP/resp" 2>/dev/null)
}
j() { jq -r "$@" <<<"$R" 2>/dev/null; }
# jg ARGS...: the CLI from the client (its address A as the server sees it); sets rc, out, err
HOMEDIR=$E2E_TMP/home
mkdir -p "$HOMEDIR"
jg() {
	ip netns exec "$CL" env -i PATH="$PATH" HOME="$HOMEDIR" TZ=UTC JITGATE_SERVER="https://$S:8443" \
		JITGATE_TOKEN="$T_OWNER" JITGATE_CA="$STATE/tls/cert.pem" "$JG" "$@" </dev/null >"$E2E_TMP/out" 2>"$E2E_TMP/err"
	rc=$?
	out=$(<"$E2E_TMP/out")
	err=$(<"$E2E_TMP/err")
}
# agents: state directory, log and pid per host
declare -A AST ALOG APID
for k in 1 2 3; do AST[$k]=$E2E_TMP/agent$k; ALOG[$k]=$E2E_TMP/agent$k.log; mkdir -m 0700 "${AST[$k]}"; done
agent_join() { # K TOKEN FINGERPRINT: join host K; output in $E2E_TMP/join.K
	ip netns exec "${NS[$1]}" "$AGENT" join --server "https://$S:8443" --token "$2" --ca-fingerprint "$3" \
		--name "host$1" --state-dir "${AST[$1]}" >"$E2E_TMP/join.$1" 2>&1
}
agent_run() { # K: start host K's agent; wait (≤ 5 s) until it enforces a state
	: >>"${ALOG[$1]}"
	local mark; mark=$(grep -c 'enforcing revision' "${ALOG[$1]}")
	ip netns exec "${NS[$1]}" "$AGENT" run --state-dir "${AST[$1]}" --user "$USR" >>"${ALOG[$1]}" 2>&1 &
	APID[$1]=$!
	E2E_PIDS+=(${APID[$1]})
	agent_wait_enforcing "${ALOG[$1]}" "${APID[$1]}" "$mark"
}
vm() { echo "$CMP/host$1"; }
# port_state REQUEST_ID: the request's first port's status/reason
port_state() { api GET "$POL?$AV"; j ".properties.requests[] | select(.id == \"$1\") | .virtualMachines[0].ports[0] | \"\(.status)/\(.statusReason)\""; }
applied_at() { api GET "$POL?$AV"; j ".properties.requests[] | select(.id == \"$1\") | .virtualMachines[0].ports[0].appliedTimeUtc // empty"; }
has_applied() { [[ -n $(applied_at "$1") ]]; }
vm_agent() { api GET "$(vm "$1")?$AV"; j "$2"; }

check "jitgated is healthy" srv_start
FP=$(openssl x509 -in "$STATE/tls/cert.pem" -noout -fingerprint -sha256 | cut -d= -f2)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=other \
	-keyout "$E2E_TMP/okey.pem" -out "$E2E_TMP/other.pem" 2>/dev/null || exit 1
BADFP=$(openssl x509 -in "$E2E_TMP/other.pem" -noout -fingerprint -sha256 | cut -d= -f2)

echo "1. join: a join token from the CLI, three hosts by the pinned fingerprint; each bad join"
jg -q agent token create --resource-group rg1 --uses 3
JT=$out
check "jitgate agent token create --uses 3 (rc $rc)" bash -c '[[ $1 == 0 && $2 == jgj_* ]]' _ "$rc" "$JT"
agent_join 1 "$JT" "$BADFP"; rc=$?
check "a wrong --ca-fingerprint: exit 1, the mismatch named, nothing written (exit $rc)" bash -c '(( $1 == 1 )) &&
	grep -q "does not match the pinned fingerprint" "$2" && ! test -e "$3/agent.conf"' _ $rc "$E2E_TMP/join.1" "${AST[1]}"
for k in 1 2 3; do
	agent_join $k "$JT" "$FP"; rc=$?
	check "host$k joins (exit $rc: $(tail -1 "$E2E_TMP/join.$k" | cut -c1-80))" test $rc = 0
done
mkdir -m 0700 "$E2E_TMP/agent4"
ip netns exec "$H3" "$AGENT" join --server "https://$S:8443" --token "$JT" --ca-fingerprint "$FP" --name host4 \
	--state-dir "$E2E_TMP/agent4" >"$E2E_TMP/join.4" 2>&1; rc=$?
check "a fourth join with the used-up token: exit 3 JoinTokenUsedUp (exit $rc)" bash -c '(( $1 == 3 )) &&
	grep -q JoinTokenUsedUp "$2" && ! test -e "$3/agent.conf"' _ $rc "$E2E_TMP/join.4" "$E2E_TMP/agent4"
for k in 1 2 3; do
	check "host$k's agent starts and enforces the server's state" agent_run $k
done
check "the agents run as $USR with a seccomp filter" bash -c 'for p; do
	[[ $(ps -o user= -p $p | tr -d " ") == jitgate-agent-t ]] && grep -q "^Seccomp:[[:space:]]*2" /proc/$p/status || exit 1; done' \
	_ "${APID[1]}" "${APID[2]}" "${APID[3]}"

exposed_now() { jg -q vm list --exposed; [[ $rc == 0 && $(echo $out) == "$1" ]]; }
eventually_within "jitgate vm list --exposed: the three hosts' real listeners, no JIT yet" 5 exposed_now "host1 host2 host3"
jg -o json vm list --exposed
exposed_ports() { jq -r '[.value[] | "\(.name) \([.ports[] | "\(.number)/\(.protocol)"] | sort | join("+"))"] | join(",")' <<<"$out"; }
# (netprobe listens on TCP and UDP)
check "host1 exposes 22 and 3389, the others 22, TCP and UDP ($(exposed_ports))" test "$(exposed_ports)" = \
	"host1 22/TCP+22/UDP+3389/TCP+3389/UDP,host2 22/TCP+22/UDP,host3 22/TCP+22/UDP"
echo "2. enable JIT on the agent VMs through the CLI; the inventory"
jg enable host1 --port 22 --port 3389/tcp --max 3h
check "jitgate enable host1 --port 22 --port 3389/tcp (rc $rc: $err)" test $rc = 0
for k in 2 3; do jg enable host$k --port 22 --max 3h; check "jitgate enable host$k (rc $rc: $err)" test $rc = 0; done
for k in 1 2 3; do
	eventually_within "host$k: B is refused on 22 (the agent applied the policy)" 5 cannot "$CL" $B "${IP[$k]}" 22
done
check "A is refused on host1's 22 before a request" cannot "$CL" $A "${IP[1]}" 22
check "A is refused on host1's 3389 before a request" cannot "$CL" $A "${IP[1]}" 3389
jg -o json vm list
check "the inventory: three agent VMs, Connected, their version" test "$(jq -r '[.value[] | select(.properties.enforcement == "agent")
	| "\(.name) \(.properties.agent.state) \(.properties.agent.version != null)"] | sort | join(",")' <<<"$out")" = \
	"host1 Connected true,host2 Connected true,host3 Connected true"
echo "  inventory: $(jq -c '[.value[] | select(.properties.enforcement == "agent") | {name, state: .properties.agent.state, version: .properties.agent.version, jit: .properties.jit.status}]' <<<"$out")"
api GET "$(vm 1)?$AV"
check "the exposed-port list: host1's agent reports its listeners on 22 and 3389 ($(j .properties.agent.listening))" \
	bash -c '[[ $1 == *TCP/22* && $1 == *TCP/3389* ]]' _ "$(j .properties.agent.listening)"
jg agent list
check "jitgate agent list names the three, Connected" test "$(grep -c Connected <<<"$out")" = 3
jg -o json vm list --exposed
check "under JIT (22 for any protocol, 3389/tcp) only host1's 3389/UDP is still exposed ($(exposed_ports))" \
	test "$(exposed_ports)" = "host1 3389/UDP"

echo "3. jitgate request: open only from the granted source; appliedTimeUtc once the agent applied it"
jg -q request host1 --port 22 --for 1h
REQ1=$out
check "jitgate request host1 --port 22 (rc $rc: $err)" test $rc = 0
check "it returned once the agent applied it: A reaches host1's 22 at once" can "$CL" $A "${IP[1]}" 22
jg request host1 --port 3389 --for 1m
echo "  jitgate request host1 --port 3389 says: $(tr '\n' '|' <<<"$out")"
applied_ms=$(sed -n 's/.*applied by its agent in \([0-9]*\) ms.*/\1/p' <<<"$out")
echo "  jitgate request: the agent applied the grant ${applied_ms:-?} ms after the request was made (by the server's clock: appliedTimeUtc less startTimeUtc)"
check "jitgate request on an agent VM says 'open' with the agent's time (rc $rc)" \
	bash -c '[[ $1 == 0 && $2 == *"Access to host1 open (request "*"; applied by its agent in "* ]]' _ "$rc" "$out"
check "... and right then A reaches host1's 3389" can "$CL" $A "${IP[1]}" 3389
jg revoke host1 --port 3389
check "B (the client's other address) is still refused" cannot "$CL" $B "${IP[1]}" 22
check "A is still refused on host2 (another VM)" cannot "$CL" $A "${IP[2]}" 22
check "A is still refused on host1's 3389 (another port)" cannot "$CL" $A "${IP[1]}" 3389
sleep 1.1	# a policy GET is cached for at most 1 s
eventually_within "the request shows appliedTimeUtc ($(applied_at "$REQ1"))" 5 has_applied "$REQ1"
jg -o json requests
check "jitgate -o json requests shows it too" bash -c 'jq -e --arg id "$2" "[.. | objects | select(.id? == \$id)] |
	[.. | .appliedTimeUtc? // empty] | length > 0" <<<"$1" >/dev/null' _ "$out" "$REQ1"

echo "4. initiate → first TCP connect on an agent host, 20 tries (host2)"
lats=() after=()
for ((n = 0; n < 20; n++)); do
	t0=$(now_ms)
	api POST "$POL/initiate?$AV" "$(fleet_initiate_body 2 22 $A 3600)"
	[[ $code == 202 ]] || { notok "initiate $n answered $code"; break; }
	t202=$(now_ms)
	for ((i = 0; i < 500; i++)); do
		# a try every few ms (5 ms for the SYN-ACK, and the start of netprobe): the figure's resolution
		ip netns exec "$CL" "$NETPROBE" connect -s $A "${IP[2]}" 22 5 && break
	done
	t1=$(now_ms)
	lats+=($(( t1 - t0 )))
	after+=($(( t1 - t202 )))
	api POST "$POL/revoke?$AV" "$(fleet_revoke_body 2 22)"
	for ((i = 0; i < 100; i++)); do cannot "$CL" $A "${IP[2]}" 22 && break; done
done
sorted=($(printf '%s\n' "${lats[@]}" | sort -n))
cnt=${#sorted[@]}
p50=${sorted[$(( cnt / 2 ))]} p99=${sorted[$(( cnt - 1 ))]}
echo "  initiate → first successful connect on host2 over $cnt tries: p50 ${p50} ms, p99 ${p99} ms (all: ${lats[*]})"
sorted=($(printf '%s\n' "${after[@]}" | sort -n))
echo "  ... of which after the 202 came back (curl's TLS and the call excluded): p50 ${sorted[$(( cnt / 2 ))]} ms, p99 ${sorted[$(( cnt - 1 ))]} ms"
check "20 tries measured, each connect within 5 s (p99 $p99 ms)" test "$cnt" = 20 -a "$p99" -lt 5000

echo "5. a short grant closes on time"
t0=$(now_ms)
api POST "$POL/initiate?$AV" "$(fleet_initiate_body 3 22 $A 4)"
check "initiate on host3 for ~4 s ($code)" test "$code" = 202
eventually_within "A reaches host3's 22" 3 can "$CL" $A "${IP[3]}" 22
end_s=$(( t0 / 1000 + 4 ))
sleep_until $(( end_s * 1000 + 400 ))
check "after its end A is refused on host3" cannot "$CL" $A "${IP[3]}" 22

echo "6. revoke: without terminateSessions an open session lives on; with it, the agent host cuts it; supersede"
# hold_start MS [SRC K]: SRC (A) opens a session to host K's (2) 22 and, MS later, needs an echo on it (netprobe
# hold); $hold is its pid
hold_start() {
	ip netns exec "$CL" "$NETPROBE" hold -s "${2:-$A}" "${IP[${3:-2}]}" 22 "$1" >"$E2E_TMP/hold" 2>&1 &
	hold=$!
	E2E_PIDS+=($hold)
	local i
	for ((i = 0; i < 300; i++)); do grep -q connected "$E2E_TMP/hold" && return 0; sleep 0.01; done
	return 1
}
# revoke_held TERMINATE: A granted host2's 22, a session held open, then a revoke (terminateSessions TERMINATE)
revoke_held() {
	api POST "$POL/initiate?$AV" "$(fleet_initiate_body 2 22 $A 3600)"
	eventually_within "A reaches host2's 22" 3 can "$CL" $A "${IP[2]}" 22
	check "A holds a session open on host2's 22" hold_start 2500
	api POST "$POL/revoke?$AV" "$(fleet_revoke_body 2 22 "$1")"
	check "revoke with terminateSessions $1 ($code, terminatedSessions $(j .terminatedSessions) on jitgated's host)" \
		test "$code" = 200
	eventually_within "A is refused on host2 after the revoke" 3 cannot "$CL" $A "${IP[2]}" 22
}
revoke_held false
wait $hold; rc=$?
check "A's open session lives on: a revoke without terminateSessions ends no session (exit $rc)" test $rc = 0
cuts=$(grep -c 'open session(s) of' "${ALOG[2]}")
check "... and host2's agent cut nothing" test "$cuts" = 0
revoke_held true
wait $hold; rc=$?
check "A's open session is cut on the agent host: its data after the revoke has no answer (exit $rc: $(tail -1 "$E2E_TMP/hold"))" \
	test $rc = 1
check "host2's agent says so: $(grep -o 'ended [0-9]* open session(s) of [0-9]* grant(s)' "${ALOG[2]}" | tail -1)" \
	grep -q 'ended [1-9][0-9]* open session(s) of 1 grant(s) revoked with terminateSessions' "${ALOG[2]}"
check "host2's agent is alive under its seccomp filter after the cut" kill -0 "${APID[2]}"
TOK=$(cat "${AST[2]}/credential") api GET "/agent/v1$(vm 2)/state?since=-1"
check "host2's state carries the termination ($code: $(j -c '.terminations'))" \
	bash -c 'jq -e --arg a "$2" "[.terminations[] | select(.source == \$a and .number == 22 and
		.revision <= $3 and (.requestId | length) > 0)] | length == 1" <<<"$1" >/dev/null' _ "$R" "$A" "$(j .revision)"

# a restart enforces state.json (which carries that termination): a session opened since must not be cut by
# it, neither at start nor when the next state (which still carries it) comes
api POST "$POL/initiate?$AV" "$(fleet_initiate_body 2 22 $A 3600)"
eventually_within "A reaches host2's 22 (a new grant)" 3 can "$CL" $A "${IP[2]}" 22
check "A holds a new session open on host2's 22" hold_start 4000
kill -TERM "${APID[2]}"; wait "${APID[2]}" 2>/dev/null
check "host2's agent restarted from its saved state" agent_run 2
api POST "$POL/initiate?$AV" "$(fleet_initiate_body 2 22 $B 3600)"
check "a new request from B moves host2's revision ($code)" test "$code" = 202
eventually_within "... host2's agent applied it (B reaches 22)" 3 can "$CL" $B "${IP[2]}" 22
wait $hold; rc=$?
check "A's session opened after the termination survives the restart and the next state (exit $rc)" test $rc = 0
api POST "$POL/revoke?$AV" "$(fleet_revoke_body 2 22 false)"
eventually_within "host2's 22 closed again" 3 cannot "$CL" $B "${IP[2]}" 22
api POST "$POL/initiate?$AV" "$(fleet_initiate_body 3 22 $A 3600)"
OLD=$(j .id)
eventually_within "A reaches host3's 22" 3 can "$CL" $A "${IP[3]}" 22
api POST "$POL/initiate?$AV" "$(fleet_initiate_body 3 22 $B 3600)"
check "a second request for host3's 22, from B ($code)" test "$code" = 202
NEW=$(j .id)
eventually_within "B reaches host3's 22" 3 can "$CL" $B "${IP[3]}" 22
eventually_within "A's superseded grant is closed on host3" 3 cannot "$CL" $A "${IP[3]}" 22
sleep 1.1
st=$(port_state "$OLD")
check "the older request shows Revoked/NewerRequestInitiated, as Azure says superseded ($st)" test "$st" = Revoked/NewerRequestInitiated
# an agent VM's supersede is written without its rows (held for the keep on PostgreSQL): the log tells of it from
# the live grant the requestor had on the port when the request came
api GET "/subscriptions/$SUB/providers/Microsoft.Security/jitActivityLog?$AV&\$top=200"
superseded() { j --arg id "$1" '[.value[] | tostring | select(contains("request " + $id + "; superseded an earlier request"))] | length'; }
check "the log says the second request superseded an earlier one, the first did not ($(superseded "$NEW") $(superseded "$OLD"))" \
	test "$(superseded "$NEW") $(superseded "$OLD")" = "1 0"

echo "7. a policy change removing a port"
jg -q request host1 --port 3389 --for 1h
eventually_within "A reaches host1's 3389 (granted)" 3 can "$CL" $A "${IP[1]}" 3389
check "B is refused on host1's 3389" cannot "$CL" $B "${IP[1]}" 3389
jg edit host1 --remove-port 3389
check "jitgate edit host1 --remove-port 3389 (rc $rc: $err)" test $rc = 0
no_3389() { ! ip netns exec "$H1" nft list table inet jitgate 2>/dev/null | grep -q 3389; }
eventually_within "host1's kernel table no longer names 3389 (its rule and A's grant are gone)" 3 no_3389
check "3389 is no JIT port any more: B reaches it like any unprotected port" can "$CL" $B "${IP[1]}" 3389
check "host1's 22 is still protected (B refused)" cannot "$CL" $B "${IP[1]}" 22

echo "8. jitgated killed: ports stay closed, a live grant still ends on time; restarted, the agents catch up"
api POST "$POL/initiate?$AV" "$(fleet_initiate_body 2 22 $A 6)"
t0=$(now_ms)
eventually_within "A reaches host2's 22 (a 6 s grant)" 3 can "$CL" $A "${IP[2]}" 22
api POST "$POL/initiate?$AV" "$(fleet_initiate_body 3 22 $A 3600)"
eventually_within "A reaches host3's 22 (an hour's grant)" 3 can "$CL" $A "${IP[3]}" 22
kill -KILL "$srv_pid"; wait "$srv_pid" 2>/dev/null
check "jitgated is gone: B still refused on host1's 22" cannot "$CL" $B "${IP[1]}" 22
check "... B still refused on host2's 22" cannot "$CL" $B "${IP[2]}" 22
sleep_until $(( (t0 / 1000 + 6) * 1000 + 500 ))
check "... host2's grant ended on time in the agent's kernel: A refused" cannot "$CL" $A "${IP[2]}" 22
check "... host3's grant still open" can "$CL" $A "${IP[3]}" 22
check "jitgated restarted" srv_start
ip -n "$H3" link set e0 down
api POST "$POL/revoke?$AV" "$(fleet_revoke_body 3 22)"
check "host3 cut off (link down); its grant revoked ($code)" test "$code" = 200
# --no-wait: the agent reconnects on its backoff, which may take longer than the CLI waits
jg -q request host1 --port 22 --for 1h --from $B/32 --no-wait
REQB=$out
check "a new request on host1 from B/32 after the restart, --no-wait (rc $rc: $err)" test $rc = 0
eventually_within "host1's agent reconnected and applied it: B reaches 22" 15 can "$CL" $B "${IP[1]}" 22
ip -n "$H3" link set e0 up
# a poll held when the link went down has its answer only at TCP's next retransmit or when the agent gives it up
# (AGENT_WATCH_TIMEOUT_MS, 45 s after it started); a failed connect, at the next try of the backoff
t0=$(now_ms)
eventually_within "host3 back: the revocation made while it was cut off applies (A refused)" 50 cannot "$CL" $A "${IP[3]}" 22
echo "  host3 enforced the revocation $(( $(now_ms) - t0 )) ms after its link came back"
api GET "$CMP?$AV"
eventually_within "the inventory shows the three Connected again" 15 bash -c '
	[[ $("$@" | jq -r "[.value[] | select(.properties.enforcement == \"agent\") | .properties.agent.state] | join(\",\")") == \
		Connected,Connected,Connected ]]' _ ip netns exec "$CL" curl -s --interface $A --cacert "$STATE/tls/cert.pem" \
	-H "Authorization: Bearer $T_OWNER" "https://$S:8443$CMP?$AV"

echo "9. an agent killed with SIGKILL and restarted enforces its saved state before the server answers"
kill -KILL "${APID[1]}"; wait "${APID[1]}" 2>/dev/null
t0=$(now_ms)
# B's grant renewed (it supersedes B's own, so B stays granted when the agent is back): nobody applies it now
jg -q request host1 --port 22 --for 1h --from $B/32
t1=$(now_ms)
REQB=$out	# the grant whose revoke step 13 records from the close journal
echo "  jitgate request with host1's agent dead: exit $rc after $(( t1 - t0 )) ms: $err"
check "jitgate request with its agent killed: exit 5 after the 10 s wait, the agent named (rc $rc)" \
	bash -c '[[ $1 == 5 && $2 == *"the agent of host1 did not apply it within 10 s"* ]] && (( $3 >= 10000 && $3 < 15000 ))' \
	_ "$rc" "$err" $(( t1 - t0 ))
ip -n "$H1" link set e0 down
ip netns exec "$H1" nft delete table inet jitgate
check "host1 with no table (as after a reboot)" bash -c '! ip netns exec "$1" nft list table inet jitgate >/dev/null 2>&1' _ "$H1"
check "restarted, cut off from jitgated: it enforces" agent_run 1
check "... its saved state: the table is back with B's grant" bash -c 'ip netns exec "$1" nft list table inet jitgate | grep -q "$2"' _ "$H1" $B
ip -n "$H1" link set e0 up
check "... A refused on host1's 22" cannot "$CL" $A "${IP[1]}" 22
check "... B (granted) reaches it" can "$CL" $B "${IP[1]}" 22

echo "10. tampering on an agent host is undone and reported"
before=$(vm_agent 2 '.properties.agent.tamperUndone // 0')
ip netns exec "$H2" nft flush table inet jitgate
eventually_within "after nft flush table inet jitgate on host2, B is refused again" 3 cannot "$CL" $B "${IP[2]}" 22
tamper_seen() { (( $(vm_agent 2 '.properties.agent.tamperUndone // 0') > before )); }
eventually_within "the inventory's tamperUndone for host2 grew (from $before) within 3 s, a held poll not awaited" 3 tamper_seen

echo "11. a credential of host1 used for host2's state: 403"
CRED1=$(cat "${AST[1]}/credential")
TOK=$CRED1 api GET "/agent/v1$(vm 2)/state?since=-1"
check "host1's credential on host2's watch → 403 AuthorizationFailed (got $code $(j .error.code))" \
	test "$code $(j .error.code)" = "403 AuthorizationFailed"
TOK=$CRED1 api GET "/agent/v1$(vm 1)/state?since=-1"
check "... and on its own: 200" test "$code" = 200

echo "12. idle agents do not spin: packets from host2 to jitgated over 6 s"
ip netns exec "$SV" nft add table ip e2ecount
ip netns exec "$SV" nft add chain ip e2ecount in '{ type filter hook input priority 0; }'
ip netns exec "$SV" nft add rule ip e2ecount in ip saddr "${IP[2]}" tcp dport 8443 counter
sleep 6
pk=$(ip netns exec "$SV" nft list chain ip e2ecount in | grep -o 'packets [0-9]*' | cut -d' ' -f2)
echo "  host2 sent $pk packets to jitgated in 6 s idle (agent_watch_wait PT5S)"
check "a poll or two, not a loop (1 ≤ $pk packets ≤ 60)" test "${pk:-0}" -ge 1 -a "${pk:-999}" -le 60

echo "13. a revoke with terminateSessions the store cannot record (a full disk) on an agent VM: the close journal, then the record"
if [[ -n ${JITGATE_TEST_PG-} ]]; then
	# PostgreSQL's data is not in jitgated's state directory: filling that disk leaves the store writable
	echo "  skipped on PostgreSQL: a full state directory does not make this store refuse writes; B's grant is revoked with terminateSessions while the store records it"
	check "B reaches host1's 22 (its grant of step 9)" can "$CL" $B "${IP[1]}" 22
	check "B holds a session open on host1's 22 (it sends again 9 s later)" hold_start 9000 $B 1
	api POST "$POL/revoke?$AV" "$(fleet_revoke_body 1 22 true)"
	check "revoke with terminateSessions answers 200, recorded at once ($code $(j .recordPending))" \
		test "$code $(j .recordPending)" = "200 false"
	eventually_within "host1's agent closes 22 for B" 10 cannot "$CL" $B "${IP[1]}" 22
	wait $hold; rc=$?
	check "B's open session is cut on host1 (exit $rc: $(tail -1 "$E2E_TMP/hold"))" test $rc = 1
	st=$(port_state "$REQB")
	check "the request is recorded Revoked/UserRequested ($st)" test "$st" = Revoked/UserRequested
else
	fill() { dd if=/dev/zero of="$STATE/filler" bs=64k status=none 2>/dev/null; dd if=/dev/zero of="$STATE/filler2" bs=4k status=none 2>/dev/null; }
	check "B reaches host1's 22 (its grant of step 8)" can "$CL" $B "${IP[1]}" 22
	rev0=$(vm_agent 1 '.properties.agent.appliedRevision // empty')
	check "B holds a session open on host1's 22 (it sends again 9 s later)" hold_start 9000 $B 1
	# the WAL keeps the room of pages it had, which later writes take before the disk refuses them: how much
	# depends on history, so empty it first (a checkpoint that truncates it; jitgated is idle), then fill the disk
	for ((i = 0; i < 20; i++)); do
		[[ $(sqlite3 "$STATE/jitgate.db" "PRAGMA wal_checkpoint(TRUNCATE)" 2>/dev/null) == 0\|* ]] && break
		sleep 0.1
	done
	fill
	# whatever room is left, writes take until the disk refuses (bounded)
	for ((i = 0; i < 50; i++)); do api POST "$POL/initiate?$AV" "$(fleet_initiate_body 2 22 $A 60)"; [[ $code == 503 ]] && break; done
	check "the disk is full: an initiate is refused with 503 (after $i that took the WAL's room: $(j .error.code) $(j .error.message | cut -c1-160))" test "$code" = 503
	api POST "$POL/revoke?$AV" "$(fleet_revoke_body 1 22 true)"
	check "the disk is full: revoke with terminateSessions answers 200 with recordPending ($code $(j .recordPending))" test "$code $(j .recordPending)" = "200 true"
	# the VM's revision lives in the store, which refuses the write: nothing tells the agent until it is recorded
	sleep 1.5
	check "known gap: while the record is pending, host1's agent still holds the grant (B reaches 22)" \
		can "$CL" $B "${IP[1]}" 22
	rm -f "$STATE/filler" "$STATE/filler2"
	t0=$(now_ms)
	eventually_within "room again: the journal's close is recorded, which moves host1's revision; its agent closes 22 for B" \
		10 cannot "$CL" $B "${IP[1]}" 22
	echo "  host1 closed B's grant $(( $(now_ms) - t0 )) ms after the disk had room"
	wait $hold; rc=$?
	check "B's open session is cut on host1 too: the journal kept terminateSessions (exit $rc: $(tail -1 "$E2E_TMP/hold"))" \
		test $rc = 1
	check "host1's agent says so: $(grep -o 'ended [0-9]* open session(s) of [0-9]* grant(s)' "${ALOG[1]}" | tail -1)" \
		grep -q 'ended [1-9][0-9]* open session(s) of 1 grant(s) revoked with terminateSessions' "${ALOG[1]}"
	sleep 1.1
	st=$(port_state "$REQB")
	check "the request is recorded Revoked/UserRequested ($st)" test "$st" = Revoked/UserRequested
	applied_above() { (( $(vm_agent 1 '.properties.agent.appliedRevision // 0') > ${rev0:-0} )); }
	eventually_within "host1's agent acknowledged a revision above the one before the revoke ($rev0)" 5 applied_above
fi
echo "14. jitgated without a kernel firewall of its own: initiate, revoke and policy writes on agent VMs work; on a gateway VM, 503"
# a gateway VM in the same policy, made while jitgated has its firewall (a policy write naming it needs it)
jg vm add gw2 --resource-group rg1 --address $NET.99
check "jitgate vm add gw2 (a gateway VM; rc $rc: $err)" test $rc = 0
jg enable gw2 --port 22 --max 3h
check "jitgate enable gw2 --port 22 (rc $rc: $err)" test $rc = 0
# host2 leaves that policy: below it goes into one of agent VMs only
jg disable host2
check "jitgate disable host2 (rc $rc: $err)" test $rc = 0
listen "$H2" 3389 || exit 1
kill -TERM "$srv_pid"; wait "$srv_pid" 2>/dev/null
# as root without CAP_NET_ADMIN (bounding set): nftables refuses it, so jitgated runs with no kernel table
ip netns exec "$SV" setpriv --bounding-set -net_admin --inh-caps -net_admin "$JITGATED" --single-process \
	--state-dir "$STATE" --listen "$S:8443" --vm-name gw --config "$E2E_TMP/jitgated.conf" >>"$SRVLOG" 2>&1 &
srv_pid=$!
E2E_PIDS+=($srv_pid)
no_fw() { api GET /healthz; [[ $code == 503 && $(j .error.code) == FirewallUnavailable ]]; }
eventually_within "jitgated is back without its firewall (/healthz: 503 FirewallUnavailable)" 10 no_fw
api POST "$POL/initiate?$AV" "$(fleet_initiate_body 1 22 $A 3600)"
check "initiate on host1 (an agent VM) without jitgated's firewall: 202 ($code $(j .error.message))" test "$code" = 202
eventually_within "host1's agent reconnected and applied it: A reaches host1's 22" 20 can "$CL" $A "${IP[1]}" 22
check "A holds a session open on host1's 22" hold_start 3000 $A 1
api POST "$POL/revoke?$AV" "$(fleet_revoke_body 1 22 true)"
check "revoke with terminateSessions on host1 without jitgated's firewall: 200 ($code $(j .error.message))" \
	test "$code" = 200
eventually_within "A is refused on host1's 22" 3 cannot "$CL" $A "${IP[1]}" 22
wait $hold; rc=$?
check "... and A's open session is cut on host1 (exit $rc)" test $rc = 1
both=$(fleet_initiate_body 1 22 $A 3600 | jq -c --arg id "$CMP/gw2" '.virtualMachines += [.virtualMachines[0] | .id = $id]')
api POST "$POL/initiate?$AV" "$both"
check "an initiate naming host1 and the gateway VM gw2 is refused whole: 503 FirewallUnavailable ($code $(j .error.code))" \
	test "$code $(j .error.code)" = "503 FirewallUnavailable"
check "... nothing of it applied: A still refused on host1's 22" cannot "$CL" $A "${IP[1]}" 22
api POST "$POL/revoke?$AV" "$(printf '{"virtualMachines":[{"id":"%s/gw2","ports":[{"number":22}]}]}' "$CMP")"
check "a revoke naming gw2: 503 FirewallUnavailable ($code $(j .error.code))" test "$code $(j .error.code)" = "503 FirewallUnavailable"
# policy writes: the policy 'default' names gw2, so an edit of host1 there needs this host's firewall
jg edit host1 --port 3389
check "jitgate edit host1 --port 3389 (its policy names gw2) fails: 503 ($rc: $err)" \
	bash -c '(( $1 != 0 )) && grep -q "cannot enforce JIT access" <<<"$2"' _ $rc "$err"
api GET "$POL?$AV"
check "... the stored policy is unchanged: host1 has no rule for 3389" \
	test "$(j --arg id "$CMP/host1" '[.properties.virtualMachines[] | select(.id == $id) | .ports[] | select(.number == 3389)] | length')" = 0
check "... and host1's agent leaves 3389 open (B reaches it)" can "$CL" $B "${IP[1]}" 3389
# taking gw2 out needs this host's kernel as much as putting it in: the rest are agent VMs, still 503
api PUT "$POL?$AV" "$(j --arg id "$CMP/gw2" -c '{properties: {virtualMachines: [.properties.virtualMachines[] | select(.id != $id)]}}')"
check "a policy PUT dropping gw2 (the VMs left are agent VMs) is refused whole: 503 FirewallUnavailable ($code $(j .error.code))" \
	test "$code $(j .error.code)" = "503 FirewallUnavailable"
api GET "$POL?$AV"
check "... the stored policy still names gw2" \
	test "$(j --arg id "$CMP/gw2" '[.properties.virtualMachines[] | select(.id == $id)] | length')" = 1
FLEET=${POL%/default}/fleet
host2_22=$(j --arg id "$CMP/host2" '{properties: {virtualMachines: [.properties.virtualMachines[0] | .id = $id
	| .ports = [.ports[] | select(.number == 22)]]}}')
api PUT "$FLEET?$AV" "$(jq -c --arg id "$CMP/gw2" '.properties.virtualMachines += [.properties.virtualMachines[0] | .id = $id]' <<<"$host2_22")"
check "a policy PUT naming host2 and the gateway VM gw2 is refused whole: 503 FirewallUnavailable ($code $(j .error.code))" \
	test "$code $(j .error.code)" = "503 FirewallUnavailable"
api GET "$FLEET?$AV"
check "... no policy 'fleet' was stored ($code)" test "$code" = 404
check "... and host2's 22 stays open (B reaches it)" can "$CL" $B "${IP[2]}" 22
api PUT "$FLEET?$AV" "$host2_22"
check "a policy PUT naming only host2 (an agent VM) works without jitgated's firewall ($code $(j .error.message))" \
	test "$code" = 200 -o "$code" = 201
eventually_within "host2's agent closes its newly protected 22: B refused" 5 cannot "$CL" $B "${IP[2]}" 22
jg edit host2 --port 3389
check "jitgate edit host2 --port 3389 (policy 'fleet', agent VMs only; rc $rc: $err)" test $rc = 0
eventually_within "host2's agent closes 3389: B refused" 5 cannot "$CL" $B "${IP[2]}" 3389
jg edit host2 --remove-port 3389
check "jitgate edit host2 --remove-port 3389 (rc $rc: $err)" test $rc = 0
eventually_within "host2's agent opens 3389 again: B reaches it" 5 can "$CL" $B "${IP[2]}" 3389
api DELETE "$FLEET?$AV"
check "DELETE of the policy 'fleet' (agent VMs only) works without jitgated's firewall ($code $(j .error.message))" \
	test "$code" = 200
eventually_within "host2's 22 is unprotected again: B reaches it" 5 can "$CL" $B "${IP[2]}" 22
api DELETE "$POL?$AV"
check "a DELETE of the policy 'default' (it names gw2): 503 FirewallUnavailable ($code $(j .error.code))" \
	test "$code $(j .error.code)" = "503 FirewallUnavailable"

echo "15. jitgate-agent rotate: a new credential over the protocol; the old one ends, the running agent follows"
CRED1=$(cat "${AST[1]}/credential")
ip netns exec "$H1" "$AGENT" rotate --state-dir "${AST[1]}" >"$E2E_TMP/rotate" 2>&1; rc=$?
check "rotate exits 0 and says the old credential no longer works (exit $rc: $(head -c 200 "$E2E_TMP/rotate"))" \
	bash -c '(( $1 == 0 )) && grep -q "the old one no longer works" "$2"' _ $rc "$E2E_TMP/rotate"
CRED1N=$(cat "${AST[1]}/credential")
check "the credential file holds a new jga_ credential, 0600, owned by the agent's user" \
	bash -c '[[ $1 != "$2" && $1 =~ ^jga_ && $(stat -c "%a %U" "$3") == "600 $4" ]]' _ "$CRED1N" "$CRED1" "${AST[1]}/credential" "$USR"
TOK=$CRED1 api GET "/agent/v1$(vm 1)/state?since=-1"
check "the old credential → 401 AuthenticationFailed (got $code $(j .error.code))" test "$code $(j .error.code)" = "401 AuthenticationFailed"
TOK=$CRED1N api GET "/agent/v1$(vm 1)/state?since=-1"
check "the new one → 200 ($code)" test "$code" = 200
api POST "$POL/initiate?$AV" "$(fleet_initiate_body 1 22 $A 60)"
check "initiate on host1 for A ($code)" test "$code" = 202
eventually_within "the running agent (it held the old credential) applies it: A reaches host1's 22" 10 can "$CL" $A "${IP[1]}" 22
check "... its log says it took the rotated credential" grep -q "holds a rotated one, using it from now on" "${ALOG[1]}"
api GET "/subscriptions/$SUB/providers/Microsoft.Security/jitActivityLog?$AV&\$top=200"
check "the activity log has the rotation (Jitgate/agents/rotate, Succeeded)" \
	test "$(j '[.value[] | select(tostring | test("Jitgate/agents/rotate")) | select(tostring | test("Succeeded"))] | length')" -ge 1
refuse "no credential in jitgated's log" grep -qF -e "$CRED1N" -e "$CRED1" "$SRVLOG"

echo "16. a copied state directory: a second host running with host1's credential is noticed"
H4=$(ns_new h4) && plug "$H4" e0 ph4 $NET.14 || exit 1
cp -a "${AST[1]}" "$E2E_TMP/clone"
rev0=$(vm_agent 1 .properties.agent.appliedRevision)
ip netns exec "$H4" "$AGENT" run --state-dir "$E2E_TMP/clone" --user "$USR" >"$E2E_TMP/clone.log" 2>&1 &
clone_pid=$!
E2E_PIDS+=($clone_pid)
t0=$(now_ms)
shared() { [[ -n $(vm_agent 1 '.properties.agent.sharedCredential.message // empty') ]]; }
eventually_within "host1's inventory shows agent.sharedCredential" 30 shared
echo "  two agents on one credential were noticed $(( $(now_ms) - t0 )) ms after the second started"
check "jitgated's log names host1 once" bash -c '[[ $(grep -c "agent VM .*/host1: two agents use" "$1") == 1 ]]' _ "$SRVLOG"
sleep 10
api GET "$POL?$AV"
rev1=$(vm_agent 1 .properties.agent.appliedRevision)
echo "  host1's applied revision went from $rev0 to $rev1 with the two agents (each reports its own addresses) over ~$(( ($(now_ms) - t0) / 1000 )) s"
check "their fight over host1's addresses is bounded by the status budget (≤ 25 revisions, got $(( rev1 - rev0 )))" \
	test $(( rev1 - rev0 )) -le 25
check "A still reaches host1's 22 (its grant from step 15)" can "$CL" $A "${IP[1]}" 22
api POST "$POL/revoke?$AV" "$(fleet_revoke_body 1 22)"
check "revoke A's grant on host1 ($code)" test "$code" = 200
eventually_within "with its statuses throttled (429), host1's agent still applies the revoke: A refused within 5 s" 5 \
	cannot "$CL" $A "${IP[1]}" 22
check "host1's agent logged the throttling and watched on" grep -q "the status is throttled (429); watching on" "${ALOG[1]}"
kill -TERM $clone_pid; wait $clone_pid 2>/dev/null

for k in 1 2 3; do
	kill -TERM "${APID[$k]}" 2>/dev/null; wait "${APID[$k]}" 2>/dev/null; rc=$?
	check "host$k's agent stops cleanly on SIGTERM (exit $rc)" test $rc = 0
done
refuse "no sanitizer report in the logs" grep -qs Sanitizer "$SRVLOG" "${ALOG[@]}"
[[ $E2E_FAIL == 0 ]] || { for k in 1 2 3; do echo "--- agent $k"; tail -15 "${ALOG[$k]}"; done; echo "--- jitgated"; tail -20 "$SRVLOG"; }
e2e_summary

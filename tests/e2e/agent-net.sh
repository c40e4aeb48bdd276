#!/usr/bin/env bash
# End-to-end: jitgate-agent's network half against a small HTTPS responder (tests/e2e/agent-responder.py). The
# responder is NOT jitgated: it answers the agent protocol's paths with fixed bodies this script writes, to run the
# agent's client for real (TLS, the pinned fingerprint, a name from /etc/hosts, the long poll, backoff, size caps)
# under its seccomp list. The real server's side is covered by the fleet e2e once branch srv lands.
#
#   client (A, B) ──veth── agent host (listener on 22; jitgate-agent run as its own user) ──veth── responder (S)
#
# Usage: tests/e2e/agent-net.sh [BUILD_DIR]   (as root; creates the system user jitgate-agent-t if missing)
set -u
here=$(cd "$(dirname "$0")" && pwd)
BUILD=${1:-$here/../../build}
AGENT=$BUILD/src/agent/jitgate-agent
NETPROBE=$BUILD/tests/e2e/netprobe
BODY=$BUILD/tests/e2e/agentbody
. "$here/lib.sh"

[[ $(id -u) == 0 ]] || { echo "agent-net.sh: needs root (network namespaces, nftables)"; exit 1; }
[[ -x $AGENT && -x $NETPROBE && -x $BODY ]] || { echo "agent-net.sh: build first ($AGENT)"; exit 1; }
USR=jitgate-agent-t
e2e_user "$USR" || exit 1
AG=$(ns_new nag) && CL=$(ns_new ncl) && SV=$(ns_new nsv) || exit 1
trap 'e2e_cleanup; rm -rf "$E2E_TMP" "/etc/netns/$AG"; true' EXIT
chmod 0711 "$E2E_TMP"
link_new "$AG" h0 "$CL" c0 && link_new "$AG" h1 "$SV" s0 || exit 1
V=10.215.0.1 A=10.215.0.2 B=10.215.0.3 H=10.216.0.1 S=10.216.0.9
addr_add "$AG" h0 $V/24; addr_add "$CL" c0 $A/24; addr_add "$CL" c0 $B/24
addr_add "$AG" h1 $H/24; addr_add "$SV" s0 $S/24
listen "$AG" 22 || exit 1
# the server by name, as an operator gives it: ip netns exec mounts this over /etc/hosts in the agent's namespace
mkdir -p "/etc/netns/$AG"
printf '127.0.0.1 localhost\n%s jit.test\n' $S >"/etc/netns/$AG/hosts"
# ... and one only DNS knows: getaddrinfo over UDP to a tiny answerer in the responder's namespace
printf 'nameserver %s\n' $S >"/etc/netns/$AG/resolv.conf"

R=$E2E_TMP/resp
mkdir "$R"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=jit.test \
	-addext "subjectAltName=DNS:jit.test,DNS:dns.jit.test,IP:$S" -keyout "$R/key.pem" -out "$R/cert.pem" 2>/dev/null || exit 1
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=other \
	-keyout "$R/okey.pem" -out "$R/other.pem" 2>/dev/null || exit 1
FP=$(openssl x509 -in "$R/cert.pem" -noout -fingerprint -sha256 | cut -d= -f2)
BADFP=$(openssl x509 -in "$R/other.pem" -noout -fingerprint -sha256 | cut -d= -f2)
HOLD_MS=20000
resp_pid=
resp_start $HOLD_MS || { echo "the responder did not start: $(cat "$E2E_TMP/resp.out")"; exit 1; }
ip netns exec "$SV" python3 "$here/agent-dns.py" $S $S "$R/dns.log" >"$E2E_TMP/dns.out" 2>&1 &
E2E_PIDS+=($!)

VMID=/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg1/providers/Microsoft.Compute/virtualMachines/host1
OTHER=/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg1/providers/Microsoft.Compute/virtualMachines/host2
STATE=$E2E_TMP/state
LOG=$E2E_TMP/agent.log
TOKEN=jgj_testtoken0123456789
CRED=jga_credential0123456789abcdef
grant() { agent_grant "$1" "$2" $(( $(now_ms) + $3 )) "$3"; }	# ID SOURCE MS: ending MS from now
# serve VM REVISION GRANT...: the state the responder answers from now on, as the codec encodes it
serve() {
	local vm=$1 rev=$2 g; shift 2
	g=$(IFS=,; echo "$*")
	printf '{"vm":"%s","revision":%d,"serverTimeUtc":"%s","ports":[{"number":22,"protocol":"TCP"}],"grants":[%s]}' \
		"$vm" "$rev" "$(iso_ms "$(now_ms)")" "$g" | "$BODY" state >"$R/state.body" || echo "agentbody refused a state" >&2
	echo "$rev" >"$R/state.rev.tmp" && mv "$R/state.rev.tmp" "$R/state.rev"
}
serve_raw() { cat >"$R/state.body"; echo "$1" >"$R/state.rev.tmp" && mv "$R/state.rev.tmp" "$R/state.rev"; }
join() { ip netns exec "$AG" "$AGENT" join --state-dir "$STATE" "$@"; }
requests() { local n; n=$(grep -c "$1" "$R/requests.log" 2>/dev/null); echo "${n:-0}"; }

echo "1. join: refusals write nothing and say the server's words"
join --server https://jit.test:8443 --token $TOKEN --ca-fingerprint "$BADFP" >"$E2E_TMP/out" 2>&1; rc=$?
check "a wrong --ca-fingerprint: exit 1 naming the mismatch (exit $rc)" \
	bash -c '(( $1 == 1 )) && grep -q "does not match the pinned fingerprint" "$2"' _ $rc "$E2E_TMP/out"
check "... and nothing reached the server (no request logged)" test "$(requests .)" = 0
check "... and no agent.conf or credential" bash -c '! test -e "$1/agent.conf" && ! test -e "$1/credential"' _ "$STATE"
printf '401' >"$R/join.code"
printf '{"error":{"code":"JoinTokenUsedUp","message":"The join token has no uses left."}}' >"$R/join.body"
join --server https://jit.test:8443 --token $TOKEN --ca-fingerprint "$FP" >"$E2E_TMP/out" 2>&1; rc=$?
check "a used-up token: exit 3 with the server's code and message (exit $rc)" bash -c '(( $1 == 3 )) &&
	grep -q "JoinTokenUsedUp: The join token has no uses left" "$2"' _ $rc "$E2E_TMP/out"
check "... sent as a bearer token" grep -q "POST /agent/v1/join Bearer $TOKEN" "$R/requests.log"
check "... and nothing written" bash -c '! test -e "$1/agent.conf" && ! test -e "$1/credential"' _ "$STATE"
printf '409' >"$R/join.code"
printf '{"error":{"code":"VirtualMachineExists","message":"A VM host1 exists that is not an agent VM."}}' >"$R/join.body"
echo "${TOKEN}2" | join --server https://jit.test:8443 --token - --ca "$R/cert.pem" >"$E2E_TMP/out" 2>&1; rc=$?
check "a name taken (--ca FILE, --token - on stdin): exit 4 with VirtualMachineExists (exit $rc)" bash -c '(( $1 == 4 )) &&
	grep -q "VirtualMachineExists: A VM host1 exists" "$2"' _ $rc "$E2E_TMP/out"
check "... the token from stdin was sent" grep -q "POST /agent/v1/join Bearer ${TOKEN}2 " "$R/requests.log"
check "... nothing written" bash -c '! test -e "$1/agent.conf"' _ "$STATE"
join --server http://jit.test:8443 --token $TOKEN --ca-fingerprint "$FP" >"$E2E_TMP/out" 2>&1; rc=$?
check "an http:// server is refused before anything is sent (exit $rc)" bash -c '(( $1 == 2 )) && grep -q https "$2"' _ $rc "$E2E_TMP/out"

echo "2. join: a 201 writes agent.conf and the credential (0600); the first server down, the second by name"
echo "   (a third, dns.jit.test, only DNS knows)"
printf '201' >"$R/join.code"
printf '{"vm":"%s","credential":"%s","revision":0}' "$VMID" $CRED | "$BODY" joined >"$R/join.body"
join --server https://$H:8444 --server https://jit.test:8443 --server https://dns.jit.test:8443 --token $TOKEN --ca-fingerprint "$FP" --name host1 \
	--max-disconnected PT10S >"$E2E_TMP/out" 2>&1; rc=$?
check "join exits 0 and names the VM (exit $rc: $(tail -1 "$E2E_TMP/out"))" bash -c '(( $1 == 0 )) && grep -q "Joined as $2" "$3"' \
	_ $rc "$VMID" "$E2E_TMP/out"
check "agent.conf holds the VM, both servers, the fingerprint and max_disconnected" bash -c 'c=$1/agent.conf;
	grep -q "^vm = $2" $c && grep -q "^server = https://jit.test:8443" $c && grep -q "^ca_fingerprint = $3" $c &&
	grep -q "^max_disconnected = PT10S" $c' _ "$STATE" "$VMID" "$FP"
check "the credential is the server's, mode 0600" bash -c '[[ $(cat $1/credential) == $2 && $(stat -c %a $1/credential) == 600 ]]' \
	_ "$STATE" $CRED
check "the join body named host1 and reported the host's facts" grep -q '"name":"host1".*"osType":"Linux"' "$R/join.log"
join --server https://jit.test:8443 --token $TOKEN --ca-fingerprint "$FP" >"$E2E_TMP/out" 2>&1; rc=$?
check "joining again without --force: exit 1, agent.conf kept (exit $rc)" bash -c '(( $1 == 1 )) && grep -q -- --force "$2" &&
	grep -q "^vm = $3" "$4/agent.conf"' _ $rc "$E2E_TMP/out" "$VMID" "$STATE"

echo "3. run: the state served over HTTPS is enforced, under the sandbox"
: >"$R/requests.log"
serve "$VMID" 1 "$(grant g1 $A 120000)"
ip netns exec "$AG" "$AGENT" run --state-dir "$STATE" --user "$USR" >"$LOG" 2>&1 &
agent_pid=$!
E2E_PIDS+=($agent_pid)
eventually_within "B is refused on 22 (the state came)" 10 cannot "$CL" $B $V 22
check "A (granted) reaches 22" can "$CL" $A $V 22
check "the agent runs with a seccomp filter" grep -q "^Seccomp:[[:space:]]*2" /proc/$agent_pid/status
check "state.json holds revision 1" grep -q '"revision":1' "$STATE/state.json"
eventually_within "a status with revision 1 was posted" 5 grep -q '"revision":1' "$R/status.log"
check "the watch sends the agent credential" grep -q "GET /agent/v1$VMID/state?since=.* Bearer $CRED" "$R/requests.log"

echo "4. a new state reaches the held watch at once"
echo 400 >"$R/status.code"
serve "$VMID" 2 "$(grant g2 $B 120000)"
eventually_within "B reaches 22 with revision 2" 5 can "$CL" $B $V 22
check "A is refused again" cannot "$CL" $A $V 22
eventually_within "the status says revision 2" 5 grep -q '"revision":2' "$R/status.log"
eventually_within "a status refused with 400 is logged with the server's words, not retried" 5 \
	grep -q 'refused the status (HTTP 400 InvalidRequestContent: test refusal); watching on' "$LOG"
rm -f "$R/status.code"
ip netns exec "$AG" nft flush table inet jitgate
eventually_within "tampering while a poll is held is undone: A refused again" 3 cannot "$CL" $A $V 22
check "... B still reaches 22" can "$CL" $B $V 22
eventually_within "... and reported within 2 s, the 20 s poll dropped for the status (tamperUndone 1)" 2 \
	grep -q '"tamperUndone":1' "$R/status.log"

echo 3000 >"$R/status.delay_ms"
ip netns exec "$AG" nft flush table inet jitgate
eventually_within "tampering again: a status with tamperUndone 2 is posted (its answer held 3 s)" 2 \
	grep -q '"tamperUndone":2' "$R/status.log"
ip netns exec "$AG" nft flush table inet jitgate
eventually_within "tampering while that status is in flight is undone: A refused" 3 cannot "$CL" $A $V 22
rm -f "$R/status.delay_ms"
eventually_within "... and posted after the held answer, not lost with it (tamperUndone 3)" 6 \
	grep -q '"tamperUndone":3' "$R/status.log"

kill -HUP $agent_pid
eventually_within "SIGHUP while a poll is held: state.json read again" 3 grep -q 'SIGHUP: enforcing revision 2' "$LOG"

echo "5. hostile states are refused; the last good one stays"
printf '{"vm":' | serve_raw 3
eventually_within "bad JSON: logged as refused" 5 grep -q 'a state refused (InvalidJson' "$LOG"
serve "$OTHER" 4 "$(grant g4 $A 120000)"
eventually_within "another VM's state: refused" 5 grep -q 'revision 4 refused' "$LOG"
head -c $(( 10 * 1024 * 1024 )) /dev/zero | tr '\0' ' ' | serve_raw 5
eventually_within "a 10 MB state: refused as too large" 8 grep -q 'larger than' "$LOG"
check "B still reaches 22 (revision 2)" can "$CL" $B $V 22
check "A is still refused" cannot "$CL" $A $V 22
eventually_within "the next status reports the refusal in error" 8 grep -q '"revision":2.*"error":"a state refused' "$R/status.log"
check "the agent is still running" kill -0 $agent_pid

echo "6. the server failing: backoff over both servers, ports stay closed; max_disconnected (10 s) ends the grants"
serve "$VMID" 6 "$(grant g6 $A 120000)"
eventually_within "revision 6: A reaches 22" 10 can "$CL" $A $V 22
echo 503 >"$R/state.code"
: >"$R/requests.log"
t0=$(now_ms)
sleep 6.5
n=$(requests "GET ")
# backoff from 0.5 s doubling over three servers, one of them closed: a handful of polls, not hundreds
check "503s: retried with backoff, not in a loop ($n polls on this server by either name in 6.5 s: 1..6)" \
	test "$n" -ge 1 -a "$n" -le 6
check "... turning to the next server after each failure" \
	grep -Eq "failure [12] in a row, next try in [0-9]* ms on https://dns.jit.test:8443" "$LOG"
check "... a poll by the name only DNS knows, under the sandbox (UDP to the resolver)" \
	bash -c 'grep -q "^dns.jit.test 1" "$1" && grep -q "GET .* host=dns.jit.test:8443" "$2"' _ "$R/dns.log" "$R/requests.log"
check "... and the agent is still running" kill -0 $agent_pid
check "A still reaches 22 before max_disconnected" can "$CL" $A $V 22
check "B is still refused" cannot "$CL" $B $V 22
resp_stop
sleep_until $(( t0 + 10500 ))
eventually_within "after max_disconnected A is refused: its grant ended" 3 cannot "$CL" $A $V 22
check "B is still refused: the port stays protected" cannot "$CL" $B $V 22
check "the agent said so" grep -q 'ended all 1 grants' "$LOG"
check "the agent logged the failures" grep -q 'failure 1 in a row' "$LOG"
rm -f "$R/state.code"
resp_start $HOLD_MS || notok "the responder restarts"
eventually_within "the server back: the grant is enforced again" 15 can "$CL" $A $V 22

echo "7. a revoked credential (401): the agent keeps enforcing and says so once"
echo 401 >"$R/state.code"
serve "$VMID" 7 "$(grant g7 $B 120000)"
eventually_within "401 logged" 40 grep -q 'refused the credential (401' "$LOG"
check "A still reaches 22" can "$CL" $A $V 22
check "B still refused" cannot "$CL" $B $V 22
check "logged once" test "$(grep -c 'refused the credential' "$LOG")" = 1
kill -TERM $agent_pid; wait $agent_pid; rc=$?
check "SIGTERM: exit 0 (exit $rc)" test $rc = 0

echo "8. restarted: the saved state at once, the server's new one next; SIGTERM while a poll is held"
rm -f "$R/state.code"
: >"$LOG"
ip netns exec "$AG" "$AGENT" run --state-dir "$STATE" --user "$USR" >"$LOG" 2>&1 &
agent_pid=$!
E2E_PIDS+=($agent_pid)
eventually_within "revision 7 from the server: B reaches 22" 10 can "$CL" $B $V 22
check "A is refused" cannot "$CL" $A $V 22
check "the saved revision 6 was enforced first" grep -q 'enforcing revision 6 of' "$LOG"
eventually_within "the status says revision 7" 5 grep -q '"revision":7' "$R/status.log"
sleep 11
check "a poll held (20 s) longer than max_disconnected (10 s) is not silence: B still reaches 22" can "$CL" $B $V 22
t0=$(now_ms)
kill -TERM $agent_pid; wait $agent_pid; rc=$?
check "SIGTERM with a poll held: exit 0 within 1 s (exit $rc, $(( $(now_ms) - t0 )) ms)" \
	test $rc = 0 -a $(( $(now_ms) - t0 )) -lt 1000
[[ $E2E_FAIL == 0 ]] || { echo "--- agent log"; tail -40 "$LOG"; }
e2e_summary

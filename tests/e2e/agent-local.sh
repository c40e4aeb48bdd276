#!/usr/bin/env bash
# End-to-end: jitgate-agent's host half with no server. It enforces a state.json written by hand at once, undoes
# tampering, ends grants on time (also the earlier remainingMs, and with the agent killed), enforces its saved
# state again at restart, and refuses a corrupt state or one for another VM without touching the kernel.
#
#   client (A, B) ──veth── agent host (listener on 22 and 3389; jitgate-agent run as its own user)
#
# Usage: tests/e2e/agent-local.sh [BUILD_DIR]   (as root; creates the system user jitgate-agent-t if missing,
# and removes it at the end only if it created it)
set -u
here=$(cd "$(dirname "$0")" && pwd)
BUILD=${1:-$here/../../build}
AGENT=$BUILD/src/agent/jitgate-agent
NETPROBE=$BUILD/tests/e2e/netprobe
. "$here/lib.sh"

[[ $(id -u) == 0 ]] || { echo "agent-local.sh: needs root (network namespaces, nftables)"; exit 1; }
[[ -x $AGENT && -x $NETPROBE ]] || { echo "agent-local.sh: build first ($AGENT)"; exit 1; }
USR=jitgate-agent-t
e2e_user "$USR" || exit 1
chmod 0711 "$E2E_TMP"	# the agent's user must reach its state directory below it

AG=$(ns_new agh) && CL=$(ns_new acl) || exit 1
link_new "$AG" h0 "$CL" c0 || exit 1
V=10.214.0.1 A=10.214.0.2 B=10.214.0.3 V6=fd00:214::1 A6=fd00:214::2
addr_add "$AG" h0 $V/24; addr_add "$AG" h0 $V6/64
addr_add "$CL" c0 $A/24; addr_add "$CL" c0 $B/24; addr_add "$CL" c0 $A6/64
listen "$AG" 22 3389 || exit 1

STATE=$E2E_TMP/state
mkdir -m 0700 "$STATE"
VMID=/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg1/providers/Microsoft.Compute/virtualMachines/host1
OTHER=/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg1/providers/Microsoft.Compute/virtualMachines/host2
LOG=$E2E_TMP/agent.log
agent_pid=

# grant REQUEST_ID SOURCE END_MS REMAINING_MS: one grant of TCP 22, as the server writes it
grant() { agent_grant "$@"; }
# state_write VM REVISION GRANT...: state.json as the agent saves it, received now, protecting TCP 22
state_write() {
	local vm=$1 rev=$2 now g
	shift 2
	now=$(now_ms)
	g=$(IFS=,; echo "$*")
	printf '{"receivedTimeUtc":"%s","state":{"vm":"%s","revision":%d,"serverTimeUtc":"%s","ports":[{"number":22,"protocol":"TCP"}],"grants":[%s]}}\n' \
		"$(iso_ms "$now")" "$vm" "$rev" "$(iso_ms "$now")" "$g" >"$STATE/state.json"
	chmod 0600 "$STATE/state.json"
}
# agent_start: run the agent in the host's namespace as $USR; wait (≤ 5 s) until it enforces the saved state
agent_start() {
	: >"$LOG"
	ip netns exec "$AG" "$AGENT" run --state-dir "$STATE" --user "$USR" >"$LOG" 2>&1 &
	agent_pid=$!
	E2E_PIDS+=($agent_pid)
	agent_wait_enforcing "$LOG" "$agent_pid"
}
# agent_exit: wait (≤ 5 s) for the agent to exit; its status in agent_rc (not in $(...): wait needs this shell)
agent_exit() {
	local i
	for ((i = 0; i < 500; i++)); do
		kill -0 "$agent_pid" 2>/dev/null || break
		sleep 0.01
	done
	wait "$agent_pid" 2>/dev/null
	agent_rc=$?
}
# eventually "description" CMD...: CMD passes within 3 s
eventually() { local what=$1; shift; eventually_within "$what" 3 "$@"; }
nft_ag() { ip netns exec "$AG" nft "$@"; }
cat >"$STATE/agent.conf" <<CONF
# written by hand for the test: no server answers there
vm = $VMID
server = https://10.214.0.9:8443
ca_fingerprint = $(printf '%064d' 0)
CONF
chmod 0600 "$STATE/agent.conf"

echo "1. the command line"
check "--help exits 0 and names run" bash -c '"$1" --help | grep -q "jitgate-agent run"' _ "$AGENT"
"$AGENT" run --bogus >"$E2E_TMP/usage" 2>&1; rc=$?
check "an unknown option exits 2 and names it (exit $rc)" bash -c '(( $1 == 2 )) && grep -q -- --bogus "$2"' _ $rc "$E2E_TMP/usage"
"$AGENT" run --user x --no-sandbox >"$E2E_TMP/usage" 2>&1; rc=$?
check "--user with --no-sandbox exits 2 naming --user (exit $rc)" bash -c '(( $1 == 2 )) && grep -q -- --user "$2"' _ $rc "$E2E_TMP/usage"
ip netns exec "$AG" "$AGENT" run --state-dir "$STATE" --user no-such-user-jg >"$E2E_TMP/nouser" 2>&1; rc=$?
check "--user with a missing user exits 1 naming --user's user and useradd (exit $rc)" \
	bash -c '(( $1 == 1 )) && grep -q no-such-user-jg "$2" && grep -q useradd "$2"' _ $rc "$E2E_TMP/nouser"
if ! id -u jitgate-agent >/dev/null 2>&1; then
	ip netns exec "$AG" "$AGENT" run --state-dir "$STATE" >"$E2E_TMP/nodefault" 2>&1; rc=$?
	check "root, no user jitgate-agent and no --user: refuses (exit $rc) naming useradd and --no-sandbox" \
		bash -c '(( $1 == 1 )) && grep -q useradd "$2" && grep -q -- --no-sandbox "$2"' _ $rc "$E2E_TMP/nodefault"
fi
ip netns exec "$AG" "$AGENT" run --state-dir "$E2E_TMP/nowhere" --user "$USR" >"$E2E_TMP/nodir" 2>&1; rc=$?
check "a missing state directory exits 1 naming it (exit $rc)" bash -c '(( $1 == 1 )) && grep -q nowhere "$2"' _ $rc "$E2E_TMP/nodir"

echo "2. the saved state is enforced at start: port 22 closed but for the granted source"
check "before the agent: B reaches 22" can "$CL" $B $V 22
t0=$(now_ms)
end1=$(( t0 + 6000 ))
state_write "$VMID" 1 "$(grant g1 $A $end1 6000)"
agent_start || { notok "the agent starts and enforces state.json: $(cat "$LOG")"; e2e_summary; exit 1; }
ok "the agent starts and enforces state.json ($(( $(now_ms) - t0 )) ms)"
check "A (granted) reaches 22" can "$CL" $A $V 22
check "B is refused on 22" cannot "$CL" $B $V 22
check "A6 (another address of the granted client) is refused on 22" cannot "$CL" $A6 $V6 22
check "B reaches unprotected 3389" can "$CL" $B $V 3389
check "the agent runs as $USR" test "$(ps -o user= -p "$agent_pid" | tr -d ' ')" = "$USR"
check "with CAP_NET_ADMIN alone" grep -q '^CapEff:[[:space:]]*0000000000001000$' /proc/$agent_pid/status
check "and no_new_privs and a seccomp filter" bash -c 'grep -q "^NoNewPrivs:[[:space:]]*1" $1 && grep -q "^Seccomp:[[:space:]]*2" $1' \
	_ /proc/$agent_pid/status
ip netns exec "$AG" "$AGENT" facts --state-dir "$STATE" >"$E2E_TMP/facts" 2>&1
# netprobe listens on TCP and UDP alike; nothing listens on 5985
check "facts lists the TCP and UDP listeners on 22 and 3389, sorted, and nothing else" \
	bash -c 'grep -q "\"listening\":\[{\"number\":22,\"protocol\":\"TCP\"},{\"number\":22,\"protocol\":\"UDP\"},{\"number\":3389,\"protocol\":\"TCP\"},{\"number\":3389,\"protocol\":\"UDP\"}\]" "$1"' _ "$E2E_TMP/facts"
check "facts lists the host's addresses, not loopback or link-local" \
	bash -c 'grep -q "\"addresses\":\[\"10.214.0.1\",\"fd00:214::1\"\]" "$1"' _ "$E2E_TMP/facts"
check "run reported the host under its sandbox (2 addresses, 4 listening ports)" \
	grep -q 'host: 2 addresses, 4 listening' "$LOG"
check "show prints the grant" bash -c '"$1" show --state-dir "$2" | grep -q "g1 from $3 to TCP/22"' _ "$AGENT" "$STATE" $A

echo "3. tampering is undone"
nft_ag flush table inet jitgate
eventually "after 'nft flush table inet jitgate', B is refused again" cannot "$CL" $B $V 22
check "A still reaches 22" can "$CL" $A $V 22
nft_ag delete table inet jitgate
eventually "after 'nft delete table inet jitgate', B is refused again" cannot "$CL" $B $V 22
check "the agent logged the tampering" grep -q 'changed by' "$LOG"
check "the agent is still running (its seccomp list holds)" kill -0 "$agent_pid"

echo "4. the grant ends on time"
sleep_until $(( end1 + 300 ))
check "after its end A is refused on 22" cannot "$CL" $A $V 22

echo "5. SIGTERM stops the agent cleanly; remainingMs shorter than endTimeUtc wins"
kill -TERM "$agent_pid"
agent_exit
check "SIGTERM: exit 0 (got $agent_rc)" test "$agent_rc" = 0
check "and said so" grep -q 'stopping; the kernel keeps' "$LOG"
check "the port stays closed with the agent stopped" cannot "$CL" $B $V 22
t0=$(now_ms)
end2=$(( t0 + 3000 ))
state_write "$VMID" 2 "$(grant g2 $A $(( t0 + 60000 )) 3000)"
agent_start || notok "restart: $(cat "$LOG")"
check "A reaches 22 with g2" can "$CL" $A $V 22
check "show says g2 ends within 3 s" bash -c '"$1" show --state-dir "$2" | grep -Eq "g2 .*\(in [1-3] s\)"' _ "$AGENT" "$STATE"
sleep_until $(( end2 + 300 ))
check "after remainingMs (not endTimeUtc, a minute later) A is refused" cannot "$CL" $A $V 22

echo "6. the agent killed: grants still end on time, ports stay closed"
kill -TERM "$agent_pid"; agent_exit
t0=$(now_ms)
end3=$(( t0 + 4000 ))
state_write "$VMID" 3 "$(grant g3 $A $end3 4000)"
agent_start || notok "restart: $(cat "$LOG")"
check "A reaches 22 with g3" can "$CL" $A $V 22
kill -KILL "$agent_pid" 2>/dev/null; agent_exit 2>/dev/null
check "agent killed: A still reaches 22 before the end" can "$CL" $A $V 22
check "agent killed: B is still refused" cannot "$CL" $B $V 22
sleep_until $(( end3 + 300 ))
check "agent killed: after the end A is refused (the kernel's timeout)" cannot "$CL" $A $V 22

echo "7. restarted, the saved state is enforced before any server answers"
nft_ag delete table inet jitgate	# as after a reboot: nothing in the kernel
check "no table: B reaches 22" can "$CL" $B $V 22
state_write "$VMID" 4 "$(grant g4 $B $(( $(now_ms) + 30000 )) 30000)"
agent_start || notok "restart: $(cat "$LOG")"
check "B (granted in the saved state) reaches 22" can "$CL" $B $V 22
check "A is refused on 22" cannot "$CL" $A $V 22

echo "7b. SIGHUP reads state.json again; a bad one leaves the last good state in force"
cp "$STATE/state.json" "$E2E_TMP/good.json"
printf '{"receivedTimeUtc":"2026-12-04T10:00:00Z","state":[]}' >"$STATE/state.json"
kill -HUP "$agent_pid"
eventually "a corrupt state.json on SIGHUP is refused (logged)" grep -q 'SIGHUP: state.json refused' "$LOG"
check "the agent keeps running" kill -0 "$agent_pid"
check "B's grant from the last good state is still open" can "$CL" $B $V 22
check "A is still refused" cannot "$CL" $A $V 22
state_write "$OTHER" 9 "$(grant g9 $A $(( $(now_ms) + 30000 )) 30000)"
kill -HUP "$agent_pid"
eventually "another VM's state on SIGHUP is refused" grep -q 'another virtual machine' "$LOG"
check "A (granted only there) is still refused" cannot "$CL" $A $V 22
state_write "$VMID" 10 "$(grant g10 $A $(( $(now_ms) + 30000 )) 30000)"
kill -HUP "$agent_pid"
eventually "a good state on SIGHUP is enforced: A reaches 22" can "$CL" $A $V 22
check "and B's grant, absent from it, is closed" cannot "$CL" $B $V 22
kill -TERM "$agent_pid"; agent_exit

echo "8. a corrupt state.json or one for another VM is refused; the kernel is left as it is"
printf '{"receivedTimeUtc":"2026-12-04T10:00:00Z","state":{"vm":' >"$STATE/state.json"
ip netns exec "$AG" timeout 5 "$AGENT" run --state-dir "$STATE" --user "$USR" >"$E2E_TMP/corrupt" 2>&1; rc=$?
check "a corrupt state.json: exit 1 naming state.json (exit $rc: $(tail -1 "$E2E_TMP/corrupt"))" \
	bash -c '(( $1 == 1 )) && grep -q "state.json" "$2"' _ $rc "$E2E_TMP/corrupt"
check "the kernel keeps what it held: A's grant still open" can "$CL" $A $V 22
check "the kernel keeps what it held: B still refused" cannot "$CL" $B $V 22
state_write "$OTHER" 5 "$(grant g5 $B $(( $(now_ms) + 30000 )) 30000)"
ip netns exec "$AG" timeout 5 "$AGENT" run --state-dir "$STATE" --user "$USR" >"$E2E_TMP/other" 2>&1; rc=$?
check "a state for another VM: exit 1 saying so (exit $rc)" \
	bash -c '(( $1 == 1 )) && grep -q "another virtual machine" "$2"' _ $rc "$E2E_TMP/other"
check "B (granted only by the other VM's state) is still refused" cannot "$CL" $B $V 22
rm -f "$STATE/agent.conf"
state_write "$VMID" 6
ip netns exec "$AG" timeout 5 "$AGENT" run --state-dir "$STATE" --user "$USR" >"$E2E_TMP/nojoin" 2>&1; rc=$?
check "no agent.conf: exit 1 saying the host has not joined (exit $rc)" \
	bash -c '(( $1 == 1 )) && grep -q "has not joined" "$2"' _ $rc "$E2E_TMP/nojoin"

e2e_summary

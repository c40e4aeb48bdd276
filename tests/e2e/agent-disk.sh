#!/usr/bin/env bash
# End-to-end: jitgate-agent's state directory on a full file system (a small tmpfs). A state that cannot be saved
# (a grant revoked) must never let a restart enforce the older state.json, which would reopen the revoked grant
# until a server answers: state.floor (preallocated, rewritten in place) voids it, and without a floor the older
# state.json is set aside. Once there is room, saving works again and clears the floor.
#
#   client (A, B) ──veth── agent host (listener on 22; jitgate-agent, state dir on a tmpfs) ──veth── responder (S)
#
# The responder (tests/e2e/agent-responder.py) answers the agent protocol with the states this script writes.
# Usage: tests/e2e/agent-disk.sh [BUILD_DIR]   (as root; creates the system user jitgate-agent-t if missing)
set -u
here=$(cd "$(dirname "$0")" && pwd)
BUILD=${1:-$here/../../build}
AGENT=$BUILD/src/agent/jitgate-agent
NETPROBE=$BUILD/tests/e2e/netprobe
BODY=$BUILD/tests/e2e/agentbody
. "$here/lib.sh"

: "${DISK_KB:=1024}"	# the tmpfs under the state directory

[[ $(id -u) == 0 ]] || { echo "agent-disk.sh: needs root (network namespaces, nftables, mount)"; exit 1; }
[[ -x $AGENT && -x $NETPROBE && -x $BODY ]] || { echo "agent-disk.sh: build first ($AGENT)"; exit 1; }
USR=jitgate-agent-t
e2e_user "$USR" || exit 1
chmod 0711 "$E2E_TMP"
MNT=$E2E_TMP/disk
mkdir -p "$MNT"
mount -t tmpfs -o size=${DISK_KB}k,mode=0711 jitgate-e2e-agentdisk "$MNT" || { echo "agent-disk.sh: cannot mount a tmpfs"; exit 1; }
# the agent first (it holds files there), then the mount, then the temp dir
trap 'e2e_cleanup; mountpoint -q "$MNT" && { umount "$MNT" 2>/dev/null || umount -l "$MNT"; }; rm -rf "$E2E_TMP"' EXIT

AG=$(ns_new dag) && CL=$(ns_new dcl) && SV=$(ns_new dsv) || exit 1
link_new "$AG" h0 "$CL" c0 && link_new "$AG" h1 "$SV" s0 || exit 1
V=10.217.0.1 A=10.217.0.2 B=10.217.0.3 H=10.218.0.1 S=10.218.0.9
addr_add "$AG" h0 $V/24; addr_add "$CL" c0 $A/24; addr_add "$CL" c0 $B/24
addr_add "$AG" h1 $H/24; addr_add "$SV" s0 $S/24
listen "$AG" 22 || exit 1

R=$E2E_TMP/resp
mkdir "$R"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=jit.test \
	-addext "subjectAltName=IP:$S" -keyout "$R/key.pem" -out "$R/cert.pem" 2>/dev/null || exit 1
FP=$(openssl x509 -in "$R/cert.pem" -noout -fingerprint -sha256 | cut -d= -f2)
resp_pid=

VMID=/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg1/providers/Microsoft.Compute/virtualMachines/host1
STATE=$MNT/state
LOG=$E2E_TMP/agent.log
grant() { agent_grant "$1" "$2" $(( $(now_ms) + $3 )) "$3"; }	# ID SOURCE MS: ending MS from now
# serve REVISION GRANT...: the state the responder answers from now on (TCP 22 protected)
serve() {
	local rev=$1 g; shift
	g=$(IFS=,; echo "$*")
	printf '{"vm":"%s","revision":%d,"serverTimeUtc":"%s","ports":[{"number":22,"protocol":"TCP"}],"grants":[%s]}' \
		"$VMID" "$rev" "$(iso_ms "$(now_ms)")" "$g" | "$BODY" state >"$R/state.body" || echo "agentbody refused a state" >&2
	echo "$rev" >"$R/state.rev.tmp" && mv "$R/state.rev.tmp" "$R/state.rev"
}
agent_pid=
# agent_start: run the agent as $USR; wait (≤ 5 s) until it enforces a state (saved or served)
agent_start() {
	: >"$LOG"
	ip netns exec "$AG" "$AGENT" run --state-dir "$STATE" --user "$USR" >"$LOG" 2>&1 &
	agent_pid=$!
	E2E_PIDS+=($agent_pid)
	agent_wait_enforcing "$LOG" "$agent_pid"
}
agent_stop() { kill -TERM "$agent_pid" 2>/dev/null; wait "$agent_pid" 2>/dev/null; }
saved_rev() { sed -n 's/.*"revision":\([0-9]*\).*/\1/p' "$STATE/state.json" 2>/dev/null; }
fill() { dd if=/dev/zero of="$MNT/filler" bs=4k status=none 2>/dev/null; true; }	# stops at ENOSPC (the tmpfs's size)
floor_len() { od -An -tu4 -j8 -N4 "$STATE/state.floor" 2>/dev/null | tr -d ' '; }	# the floor's payload length (0: unset)

mkdir -m 0700 "$STATE"
cat >"$STATE/agent.conf" <<CONF
vm = $VMID
server = https://$S:8443
ca_fingerprint = $FP
CONF
echo jga_credential0123456789abcdef >"$STATE/credential"
chmod 0600 "$STATE/agent.conf" "$STATE/credential"
resp_start 20000 || { echo "the responder did not start: $(cat "$E2E_TMP/resp.out")"; exit 1; }

echo "1. a state with a grant for A is enforced and saved; state.floor is preallocated while there is room"
serve 1 "$(grant g1 $A 300000)"
agent_start || { notok "the agent starts: $(cat "$LOG")"; e2e_summary; exit 1; }
eventually_within "A (granted) reaches 22" 10 can "$CL" $A $V 22
check "B is refused on 22" cannot "$CL" $B $V 22
eventually_within "state.json holds revision 1" 5 test "$(saved_rev)" = 1
check "state.floor is preallocated: 16384 bytes, unset" \
	bash -c '[[ $(stat -c %s "$1/state.floor") == 16384 && $(od -An -tu4 -j8 -N4 "$1/state.floor" | tr -d " ") == 0 ]]' _ "$STATE"

echo "2. the disk fills up; A's grant is revoked (revision 2): enforced at once, but it cannot be saved"
fill
echo "     $(df -k --output=used,avail "$MNT" | tail -1 | awk '{print "used " $1 " KiB, available " $2 " KiB"}')"
serve 2
eventually_within "A is refused at once (revision 2 applied)" 10 cannot "$CL" $A $V 22
eventually_within "the agent logged that state.json could not be written (no space) and state.floor took it" 5 \
	grep -q 'cannot write state.json (No space left on device); a restart enforces this revision.s ports with no grants' "$LOG"
check "state.json still holds revision 1, A's grant (the disk is really full)" test "$(saved_rev)" = 1
check "state.floor is set (its length $(floor_len) > 0), still 16384 bytes" \
	bash -c '(( $(od -An -tu4 -j8 -N4 "$1/state.floor" | tr -d " ") > 0 )) && [[ $(stat -c %s "$1/state.floor") == 16384 ]]' _ "$STATE"

echo "3. restarted with no server: the older state.json's grant is not reopened"
agent_stop
resp_stop
agent_start || notok "restart: $(cat "$LOG")"
check "the agent says the saved grants are void" grep -q 'a newer state could not be saved: the saved grants are void' "$LOG"
check "A (granted only in the older state.json) is refused on 22" cannot "$CL" $A $V 22
check "B is refused on 22" cannot "$CL" $B $V 22
check "show says so too" bash -c '"$1" show --state-dir "$2" | grep -q "grants: 0 (a newer state could not be saved"' \
	_ "$AGENT" "$STATE"
agent_stop
ip netns exec "$AG" nft delete table inet jitgate	# as after a reboot: nothing in the kernel
check "no table: A reaches 22" can "$CL" $A $V 22
agent_start || notok "restart after a 'reboot': $(cat "$LOG")"
check "after a reboot too: A is refused (port 22 protected, no grant)" cannot "$CL" $A $V 22
check "... and B" cannot "$CL" $B $V 22

echo "4. room again: the server's whole state is asked for at once, saved, and the floor unset"
rm -f "$MNT/filler"
: >"$R/requests.log"
serve 3 "$(grant g3 $B 300000)"
resp_start 20000 || notok "the responder restarts"
eventually_within "B (granted in revision 3) reaches 22" 60 can "$CL" $B $V 22
check "the first poll asked for the whole state (since=-1)" grep -q 'state?since=-1&instance=[0-9a-f]\{32\} ' "$R/requests.log"
eventually_within "state.json holds revision 3" 5 test "$(saved_rev)" = 3
check "state.floor is unset again (length $(floor_len))" test "$(floor_len)" = 0
agent_stop
resp_stop
agent_start || notok "restart: $(cat "$LOG")"
check "restarted with no server: B's grant from state.json is enforced (the unset floor voids nothing)" can "$CL" $B $V 22
check "A is refused" cannot "$CL" $A $V 22

echo "5. no state.floor (removed) and a full disk: the older state.json is set aside instead"
rm -f "$STATE/state.floor"
fill
serve 4
resp_start 20000 || notok "the responder restarts"
eventually_within "B is refused at once (revision 4 applied)" 60 cannot "$CL" $B $V 22
eventually_within "the agent logged that the older state was set aside" 5 grep -q 'the older state is set aside (state.json.void)' "$LOG"
check "state.json.void holds revision 3; no state.json" \
	bash -c '! test -e "$1/state.json" && grep -q "\"revision\":3" "$1/state.json.void"' _ "$STATE"
agent_stop
resp_stop
agent_start || notok "restart: $(cat "$LOG")"
check "restarted with no server: B (granted only in the set-aside state) is refused" cannot "$CL" $B $V 22
check "the agent logged that it could not prepare state.floor on the full disk" grep -q 'cannot prepare .*state.floor' "$LOG"
agent_stop
rm -f "$MNT/filler"

e2e_summary

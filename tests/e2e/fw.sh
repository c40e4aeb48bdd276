#!/usr/bin/env bash
# End-to-end test of src/fw against the real kernel: namespaces as VM, client and gateway; real TCP and UDP.
#
#   client (A, B, C) ──veth── vm       local enforcement: fw runs in "vm" (input hook)
#   client (A, B)    ──veth── gw ──veth── vm2   gateway enforcement: fw runs in "gw" (forward hook)
#
# Usage: tests/e2e/fw.sh [BUILD_DIR]   (as root)
set -u
here=$(cd "$(dirname "$0")" && pwd)
BUILD=${1:-$here/../../build}
FWTOOL=$BUILD/tests/e2e/fwtool
NETPROBE=$BUILD/tests/e2e/netprobe
. "$here/lib.sh"

[[ $(id -u) == 0 ]] || { echo "fw.sh: needs root (network namespaces, nftables)"; exit 1; }
[[ -x $FWTOOL && -x $NETPROBE ]] || { echo "fw.sh: build first ($FWTOOL)"; exit 1; }

VM=$(ns_new vm) && CL=$(ns_new cl) && GW=$(ns_new gw) && VM2=$(ns_new vm2) || exit 1
link_new "$VM" v0 "$CL" c0 && link_new "$CL" c1 "$GW" g0 && link_new "$GW" g1 "$VM2" w0 || exit 1
addr_add "$VM" v0 10.201.0.1/24; addr_add "$VM" v0 fd00:201::1/64
A=10.201.0.2 B=10.201.0.3 C=10.201.0.10   # A and B lie in 10.201.0.0/30, C outside
A6=fd00:201::2 B6=fd00:201::3 C6=fd00:201::1:10   # A6 and B6 in fd00:201::/112, C6 outside
for a in $A/24 $B/24 $C/24 $A6/64 $B6/64 $C6/64; do addr_add "$CL" c0 "$a"; done
GA=10.202.0.2 GB=10.202.0.3 GA6=fd00:202::2 GB6=fd00:202::3
for a in $GA/24 $GB/24 $GA6/64 $GB6/64; do addr_add "$CL" c1 "$a"; done
addr_add "$GW" g0 10.202.0.1/24; addr_add "$GW" g0 fd00:202::1/64
addr_add "$GW" g1 10.203.0.1/24; addr_add "$GW" g1 fd00:203::1/64
addr_add "$VM2" w0 10.203.0.2/24; addr_add "$VM2" w0 fd00:203::2/64
ip -n "$CL" route add 10.203.0.0/24 via 10.202.0.1
ip -n "$CL" -6 route add fd00:203::/64 via fd00:202::1
ip -n "$VM2" route add default via 10.203.0.1
ip -n "$VM2" -6 route add default via fd00:203::1
ip netns exec "$GW" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
V=10.201.0.1 V6=fd00:201::1 W=10.203.0.2 W6=fd00:203::2
listen "$VM" 22 3389 || exit 1
listen "$VM2" 22 3389 || exit 1

fw_vm() { ip netns exec "$VM" "$FWTOOL" "$@"; }
fw_gw() { ip netns exec "$GW" "$FWTOOL" "$@"; }
LOCAL=('vm 1 local' 'port 1 TCP 22' 'port 1 * 5000')
GATE=("vm 2 gateway $W,$W6" 'port 2 TCP 22')
listen "$VM" 5000 || exit 1

echo "1. protected ports refuse new connections; unprotected ones work"
check "before jitgate: A reaches 22" can "$CL" $A $V 22
fw_vm "${LOCAL[@]}" sync >/dev/null || { notok "fw sync"; exit 1; }
check "A is refused on 22" cannot "$CL" $A $V 22
check "B is refused on 22" cannot "$CL" $B $V 22
check "A6 is refused on 22 (IPv6)" cannot "$CL" $A6 $V6 22
check "A reaches unprotected 3389" can "$CL" $A $V 3389
check "B reaches unprotected 3389 (IPv6)" can "$CL" $B6 $V6 3389
check "UDP to a '*' port is refused" cannot_udp "$CL" $A $V 5000

echo "2. a grant opens the port for its source only, at once"
t0=$(now_ms)
end=$(( t0 + 4000 ))
fw_vm "${LOCAL[@]}" sync "add r1 1 $A TCP 22 @$end" >/dev/null || notok "fw add"
check "A reaches 22 right after the grant" can "$CL" $A $V 22
echo "     (grant call to first connection: $(( $(now_ms) - t0 )) ms, including fwtool start-up)"
check "B is still refused on 22" cannot "$CL" $B $V 22
check "A6 (another family) is still refused" cannot "$CL" $A6 $V6 22
check "a TCP 22 grant does not open the other protected port" cannot "$CL" $A $V 5000

echo "3. the kernel ends the grant on time with no process running; open sessions survive"
held="$E2E_TMP/held"
ip netns exec "$CL" "$NETPROBE" hold -s $A $V 22 $(( end - $(now_ms) + 1500 )) >"$held" 2>&1 &
hold_pid=$!
E2E_PIDS+=($hold_pid)
sleep 0.2
check "a session opened during the grant" grep -q connected "$held"
sleep_until $(( end + 300 ))
check "after the end time A is refused again" cannot "$CL" $A $V 22
wait $hold_pid; rc=$?
check "the session opened before the end still answers after it" test $rc = 0
fw_vm list | grep -q local_grant4 && notok "expired element still listed" || ok "the expired element is gone from the listing"

echo "3b. ending open sessions on revoke"
end=$(( $(now_ms) + 30000 ))
fw_vm "${LOCAL[@]}" sync "add k1 1 $A TCP 22 @$end" >/dev/null || notok "fw add k1"
ip netns exec "$CL" "$NETPROBE" hold -s $A $V 22 1000 >"$held" 2>&1 &
hold_pid=$!
E2E_PIDS+=($hold_pid)
ip netns exec "$CL" "$NETPROBE" hold -s $B $V 3389 1000 >"$held.other" 2>&1 &
other_pid=$!
E2E_PIDS+=($other_pid)
sleep 0.3
out=$(fw_vm "${LOCAL[@]}" "grant k1 1 $A TCP 22 @$end" sync "remove k1 1 TCP 22" "kill k1 1 $A TCP 22 +1")
check "revoke with session kill deleted A's conntrack entry ($(tail -1 <<<"$out"))" grep -q 'kill: [1-9]' <<<"$out"
wait $hold_pid; rc=$?
check "A's open session died" test $rc = 1
wait $other_pid; rc=$?
check "another session (B to unprotected 3389) is untouched" test $rc = 0

echo "3c. libnftables' context: kept after a batch, let go once idle (fw_rest); a revoke works the same either way"
end=$(( $(now_ms) + 30000 ))
out=$(fw_vm "${LOCAL[@]}" sync "add i1 1 $A TCP 22 @$end" "rest 60000" "rest 0" "rest 0")
check "after a batch the context is held while younger than the idle time" grep -q '^rest: held, [0-9]* ms to go' <<<"$out"
check "... and let go once idle that long: nothing held after" test "$(grep -c '^rest: nothing held' <<<"$out")" = 2
check "A reaches 22 with the grant" can "$CL" $A $V 22
out=$(fw_vm "${LOCAL[@]}" "grant i1 1 $A TCP 22 @$end" sync "rest 0" "rest 0" "remove i1 1 TCP 22" "rest 60000")
check "a revoke after the context was let go makes a new one ($(tr '\n' ' ' <<<"$out"))" \
	grep -q '^remove: added=0 removed=1' <<<"$out"
check "... which it holds afterwards" grep -q '^rest: held' <<<"$out"
check "A is refused after that revoke" cannot "$CL" $A $V 22
out=$(fw_vm "${LOCAL[@]}" sync "add i2 1 $A TCP 22 @$end" "remove i2 1 TCP 22")
check "a revoke right after a grant reuses the held context ($(tail -1 <<<"$out"))" grep -q '^remove: added=0 removed=1' <<<"$out"
check "A is refused after that revoke too" cannot "$CL" $A $V 22

echo "4. CIDR grants, IPv6, and '*' protocol"
end=$(( $(now_ms) + 20000 ))
fw_vm "${LOCAL[@]}" sync "add r2 1 10.201.0.0/30 TCP 22 @$end" "add r3 1 fd00:201::/112 TCP 22 @$end" \
	"add r4 1 $A * 5000 @$end" "add r5 1 $B6 TCP 22 @$end" >/dev/null || notok "fw add cidr"
check "A inside 10.201.0.0/30 reaches 22" can "$CL" $A $V 22
check "B inside 10.201.0.0/30 reaches 22" can "$CL" $B $V 22
check "C outside 10.201.0.0/30 is refused" cannot "$CL" $C $V 22
check "A6 inside fd00:201::/112 reaches 22" can "$CL" $A6 $V6 22
check "B6 inside fd00:201::/112 reaches 22" can "$CL" $B6 $V6 22
check "C6 outside fd00:201::/112 is refused" cannot "$CL" $C6 $V6 22
check "'*' grant opens TCP 5000 for A" can "$CL" $A $V 5000
check "'*' grant opens UDP 5000 for A" can_udp "$CL" $A $V 5000
check "'*' grant does not open UDP 5000 for B" cannot_udp "$CL" $B $V 5000
fw_vm "${LOCAL[@]}" "grant r2 1 10.201.0.0/30 TCP 22 @$end" "grant r3 1 fd00:201::/112 TCP 22 @$end" \
	"grant r4 1 $A * 5000 @$end" "grant r5 1 $B6 TCP 22 @$end" sync "remove r2 1 TCP 22" >/dev/null ||
	notok "fw remove"
check "after removing the CIDR grant, B is refused" cannot "$CL" $B $V 22
check "the IPv6 grants are untouched by that removal" can "$CL" $B6 $V6 22

echo "5. gateway mode: the VM behind the gateway"
check "before jitgate: A reaches vm2:22 through the gateway" can "$CL" $GA $W 22
fw_gw "${GATE[@]}" sync >/dev/null || notok "fw gw sync"
check "A is refused on vm2:22" cannot "$CL" $GA $W 22
check "B is refused on vm2:22" cannot "$CL" $GB $W 22
check "A6 is refused on vm2:22 (IPv6)" cannot "$CL" $GA6 $W6 22
check "A reaches vm2's unprotected 3389" can "$CL" $GA $W 3389
end=$(( $(now_ms) + 3000 ))
fw_gw "${GATE[@]}" sync "add g1 2 $GA TCP 22 @$end" "add g2 2 $GA6 TCP 22 @$end" >/dev/null || notok "fw gw add"
check "the grant opens vm2:22 for A" can "$CL" $GA $W 22
check "the grant opens vm2:22 for A6" can "$CL" $GA6 $W6 22
check "B is still refused on vm2:22" cannot "$CL" $GB $W 22
check "B6 is still refused on vm2:22" cannot "$CL" $GB6 $W6 22
ip netns exec "$CL" "$NETPROBE" hold -s $GA $W 22 $(( end - $(now_ms) + 1500 )) >"$held" 2>&1 &
hold_pid=$!
E2E_PIDS+=($hold_pid)
sleep_until $(( end + 300 ))
check "after the end A is refused on vm2:22" cannot "$CL" $GA $W 22
wait $hold_pid; rc=$?
check "A's session to vm2 opened before the end still answers" test $rc = 0
check "the gateway's forward rules do not touch the local input path" cannot "$CL" $GA 10.202.0.1 22

echo "6. reconcile restores exactly the desired state after tampering"
end=$(( $(now_ms) + 60000 ))
STATE=("${LOCAL[@]}" "grant t1 1 $A TCP 22 @$end" "grant t2 1 10.201.0.8/29 TCP 22 @$end" "grant t3 1 $A6 TCP 22 @$end")
fw_vm "${STATE[@]}" sync >/dev/null || notok "fw sync state"
want=$(fw_vm list | awk '{$6=""; print}')
nft_vm() { ip netns exec "$VM" nft "$@"; }
nft_vm delete element inet jitgate local_grant4 "{ $A . tcp . 22 }"
nft_vm add element inet jitgate local_grant4 "{ $B . tcp . 22 timeout 1h comment \"intruder\" }"
nft_vm delete element inet jitgate local_protect "{ tcp . 22 }"
check "tampering took effect: B got in" can "$CL" $B $V 22
out=$(fw_vm "${STATE[@]}" sync)
check "reconcile reports 2 added, 1 removed, rest kept ($out)" \
	grep -q 'added=2 removed=1 updated=0 kept=[1-9]' <<<"$out"
check "the kernel holds exactly the desired elements again" test "$(fw_vm list | awk '{$6=""; print}')" = "$want"
check "B is refused again" cannot "$CL" $B $V 22
check "A reaches 22 again" can "$CL" $A $V 22
check "C, inside the /29 grant, reaches 22" can "$CL" $C $V 22
nft_vm flush chain inet jitgate input
check "flushing our chain opened the port" can "$CL" $B $V 22
out=$(fw_vm "${STATE[@]}" sync)
check "reconcile restores the flushed rules" cannot "$CL" $B $V 22
nft_vm delete table inet jitgate
out=$(fw_vm "${STATE[@]}" sync)
check "a deleted table is rebuilt ($out)" grep -q 'rebuilt=1' <<<"$out"
check "and holds the desired elements" test "$(fw_vm list | awk '{$6=""; print}')" = "$want"
# another inet table next to ours (Debian's own nftables.conf has one) is none of our business
nft_vm -f - <<'NFT'
table inet filter {
	set allowed { type ipv4_addr . inet_service; flags interval,timeout; elements = { 10.9.0.0/16 . 22 timeout 1h } }
	counter hits { }
	chain input { type filter hook input priority 0; policy accept; }
	chain forward { type filter hook forward priority 0; policy accept; }
	chain mine { }
}
NFT
out=$(fw_vm "${STATE[@]}" sync)
check "another inet table leaves ours alone: nothing rebuilt, all kept ($out)" \
	grep -q 'added=0 removed=0 updated=0 kept=[1-9][0-9]* rebuilt=0' <<<"$out"
nft_vm delete table inet filter
# another program changing the ruleset all the while (a generation per change) does not stop a reconcile:
# the listing is read again, and after its last try used as it is
( for ((i = 0; i < 300; i++)); do nft_vm add table inet churn && nft_vm delete table inet churn; done ) &
churn=$!
for ((i = 0; i < 10; i++)); do out=$(fw_vm "${STATE[@]}" sync) || break; done
kill $churn 2>/dev/null
wait $churn 2>/dev/null
check "reconciles while the ruleset keeps changing elsewhere keep everything ($out)" \
	grep -q 'added=0 removed=0 updated=0 kept=[1-9][0-9]* rebuilt=0' <<<"$out"
# an element no grant could have made (a range that is no prefix) makes the table not ours: rebuilt
nft_vm add element inet jitgate local_grant4_net "{ 10.201.0.1-10.201.0.5 . tcp . 22 timeout 1h comment \"x\" }"
out=$(fw_vm "${STATE[@]}" sync)
check "an element that is no prefix gets the table rebuilt ($out)" grep -q 'rebuilt=1' <<<"$out"
check "and it holds the desired elements" test "$(fw_vm list | awk '{$6=""; print}')" = "$want"
nft_vm add map inet jitgate intruder "{ type ipv4_addr : verdict; }"
out=$(fw_vm "${STATE[@]}" sync)
check "a table with foreign objects is rebuilt as ours ($out)" grep -q 'rebuilt=1' <<<"$out"
check "kernel timeouts follow the grants' absolute end time across reconciles" \
	awk -v e=$(( (end - $(now_ms)) / 1000 )) '$2=="-" && $3=="'$A'" {d=$6-e; if (d<-2||d>2) exit 1}' <(fw_vm list)
nft_vm add element inet jitgate local_grant4 "{ $B . tcp . 22 timeout 1h comment \"intruder\" }"
out=$(fw_vm "${STATE[@]}" sync "add t9 1 $C6 TCP 22 +60000" list)
check "a grant added over a drifted kernel falls back to reconcile" \
	bash -c "grep -q ' $C6 tcp 22 .* t9' <<<\"\$1\" && ! grep -q intruder <<<\"\$1\"" _ "$out"

echo "7. bad input and missing privileges give clear errors and change nothing"
before=$(fw_vm list | awk '{$6=""; print}')
err=$(fw_vm "${STATE[@]}" "grant x 7 $A TCP 22 +60000" sync 2>&1 >/dev/null)
check "a grant for an unknown VM is refused by name ($err)" grep -q 'InvalidFirewallState.*no such VM' <<<"$err"
check "and the kernel is unchanged" test "$(fw_vm list | awk '{$6=""; print}')" = "$before"
err=$(fw_vm "${STATE[@]}" "grant x 1 $A TCP 22 +$((400 * 86400000))" sync 2>&1 >/dev/null)
check "a grant beyond the longest timeout is refused ($err)" grep -q 'too far in the future' <<<"$err"
err=$(ip netns exec "$VM" setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
	"$FWTOOL" "${STATE[@]}" sync 2>&1 >/dev/null)
check "without CAP_NET_ADMIN fw reports FirewallUnavailable with the reason ($err)" \
	grep -q 'FirewallUnavailable.*Operation not permitted' <<<"$err"
check "and the kernel is unchanged" test "$(fw_vm list | awk '{$6=""; print}')" = "$before"

e2e_summary

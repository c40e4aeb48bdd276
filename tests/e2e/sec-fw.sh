#!/usr/bin/env bash
# End-to-end, issue 11 (src/fw): grants of different VMs on one kernel key, and reconciling 100,000 grants away.
#
#   client (A, B) ──veth── vm       two local VMs (as after a vm_name change): fw runs in "vm" (input hook)
#   client (GA)   ──veth── gw ──veth── vm2   two gateway VMs with one address: fw runs in "gw" (forward hook)
#
# Usage: tests/e2e/sec-fw.sh [BUILD_DIR]   (as root)
set -u
here=$(cd "$(dirname "$0")" && pwd)
BUILD=${1:-$here/../../build}
FWTOOL=$BUILD/tests/e2e/fwtool
NETPROBE=$BUILD/tests/e2e/netprobe
FWBENCH=$BUILD/bench/fw-bench
. "$here/lib.sh"

[[ $(id -u) == 0 ]] || { echo "sec-fw.sh: needs root (network namespaces, nftables)"; exit 1; }
[[ -x $FWTOOL && -x $NETPROBE && -x $FWBENCH ]] || { echo "sec-fw.sh: build first ($FWTOOL, $FWBENCH)"; exit 1; }

VM=$(ns_new svm) && CL=$(ns_new scl) && GW=$(ns_new sgw) && VM2=$(ns_new svm2) || exit 1
link_new "$VM" v0 "$CL" c0 && link_new "$CL" c1 "$GW" g0 && link_new "$GW" g1 "$VM2" w0 || exit 1
addr_add "$VM" v0 10.221.0.1/24
A=10.221.0.2 B=10.221.0.3 C=10.221.0.10
Z=10.128.0.20	# one of fw-bench's granted addresses (10.128.0.16 + i)
for a in $A/24 $B/24 $C/24 $Z/9; do addr_add "$CL" c0 "$a"; done
addr_add "$VM" v0 10.128.0.1/9
GA=10.222.0.2
addr_add "$CL" c1 $GA/24
addr_add "$GW" g0 10.222.0.1/24
addr_add "$GW" g1 10.223.0.1/24
addr_add "$VM2" w0 10.223.0.2/24
ip -n "$CL" route add 10.223.0.0/24 via 10.222.0.1
ip -n "$VM2" route add default via 10.223.0.1
ip netns exec "$GW" sysctl -qw net.ipv4.ip_forward=1
V=10.221.0.1 W=10.223.0.2
listen "$VM" 22 || exit 1
listen "$VM2" 22 || exit 1

fw_vm() { ip netns exec "$VM" "$FWTOOL" "$@"; }
fw_gw() { ip netns exec "$GW" "$FWTOOL" "$@"; }
# left LISTING SRC: the seconds the element for SRC has left, from fwtool's list output (or "none")
left() { awk -v s="$2" '$3 == s && $1 ~ /grant/ { print $6; f = 1; exit } END { if (!f) print "none" }' <<<"$1" | tr -d s; }
near() { [[ $1 != none ]] && (( $1 - $2 <= $3 && $2 - $1 <= $3 )); }	# near GOT WANT TOLERANCE

echo "1. two local VMs (a vm_name change) share every kernel key"
LOCAL=('vm 1 local' 'vm 2 local' 'port 1 TCP 22' 'port 2 TCP 22')
fw_vm "${LOCAL[@]}" sync >/dev/null || { notok "fw sync"; exit 1; }
check "A is refused on 22" cannot "$CL" $A $V 22
out=$(fw_vm "${LOCAL[@]}" sync "add old 1 $A TCP 22 +30000" "add new 2 $A TCP 22 +90000" list)
check "the earlier end first, then the later: the element ends at the later ($(left "$out" $A) s)" \
	near "$(left "$out" $A)" 90 2
out=$(fw_vm "${LOCAL[@]}" sync "add new 2 $A TCP 22 +90000" "add old 1 $A TCP 22 +30000" list)
check "the later end first, then the earlier: still the later ($(left "$out" $A) s)" near "$(left "$out" $A)" 90 2
out=$(fw_vm "${LOCAL[@]}" sync "add old 1 $A TCP 22 +30000" "add new 2 $A TCP 22 +90000" "remove new 2 TCP 22" list)
check "revoking the later grant shortens the element to the earlier's end ($(left "$out" $A) s)" \
	near "$(left "$out" $A)" 30 2
check "and A, still granted by the other VM's grant, connects" can "$CL" $A $V 22
out=$(fw_vm "${LOCAL[@]}" sync "add old 1 $A TCP 22 +30000" "add new 2 $A TCP 22 +90000" "remove old 1 TCP 22" list)
check "revoking the earlier grant keeps the element at the later end ($(left "$out" $A) s)" \
	near "$(left "$out" $A)" 90 2
check "and A connects" can "$CL" $A $V 22
fw_vm "${LOCAL[@]}" sync "add old 1 $A TCP 22 +30000" "add new 2 $A TCP 22 +90000" "remove old 1 TCP 22" \
	"remove new 2 TCP 22" >/dev/null
check "revoking both removes it: A is refused" cannot "$CL" $A $V 22
# ranges of the two VMs in one interval group: revoking the wider one keeps the narrower open
fw_vm "${LOCAL[@]}" sync "add wide 1 10.221.0.0/24 TCP 22 +60000" "add narrow 2 10.221.0.0/30 TCP 22 +30000" \
	"remove wide 1 TCP 22" >/dev/null
check "ranges: after revoking VM 1's /24, A (in VM 2's /30) connects" can "$CL" $A $V 22
check "ranges: and C (outside the /30) is refused" cannot "$CL" $C $V 22

echo "2. two gateway VMs with one address share its keys"
GATE=("vm 3 gateway $W" "vm 4 gateway 10.223.0.9,$W" 'port 3 TCP 22' 'port 4 TCP 22')
fw_gw "${GATE[@]}" sync >/dev/null || notok "fw gw sync"
check "GA is refused on vm2:22" cannot "$CL" $GA $W 22
out=$(fw_gw "${GATE[@]}" sync "add g3 3 $GA TCP 22 +30000" "add g4 4 $GA TCP 22 +90000" "remove g4 4 TCP 22" list)
l=$(awk -v s=$GA -v d=$W '$2 == d && $3 == s { print $6 }' <<<"$out" | tr -d s)
check "revoking VM 4's grant leaves the element for VM 3's, ending at its end (${l:-none} s)" near "${l:-none}" 30 2
check "and GA connects to vm2:22 through the gateway" can "$CL" $GA $W 22
fw_gw "${GATE[@]}" sync "add g3 3 $GA TCP 22 +30000" "add g4 4 $GA TCP 22 +90000" "remove g4 4 TCP 22" \
	"remove g3 3 TCP 22" >/dev/null
check "revoking both closes it" cannot "$CL" $GA $W 22

echo "3. 100,000 grants loaded and reconciled away, 5 times over (fw-bench: load, reconcile to empty, reload)"
for ((round = 1; round <= 5; round++)); do
	# fw-bench: reconcile to one grant (removing the last round's 100,000), add 100,000 in batches, reconcile to
	# one grant from a fresh context, reconcile all 100,000 back (it fails unless every one was gone)
	out=$(ip netns exec "$VM" "$FWBENCH" 100000 1000 single 10.221.0.3 0 2>&1)
	check "round $round: load / reconcile to empty / load again (${out:0:120})" grep -q '^100000 single' <<<"$out"
done
check "a client at a granted address connects" can "$CL" $Z 10.128.0.1 22
out=$(fw_vm 'vm 1 local' 'port 1 TCP 22' sync)
check "a last reconcile removes all 100,000 ($out)" grep -q 'removed=100001' <<<"$out"
check "the table holds no grant" test "$(fw_vm list | grep -c grant)" = 0
check "and the client is refused" cannot "$CL" $Z 10.128.0.1 22

e2e_summary

#!/usr/bin/env bash
# make bench: new TCP connections per second through gateway DNAT (issue 15) with 0, 1,000 and 10,000 live DNAT
# grants, as a ratio to 0 in the same run. Prints; never fails on a number.
# Usage: bench/dnat-bench.sh [BUILD_DIR]   (as root)
set -u
here=$(cd "$(dirname "$0")" && pwd)
BUILD=${1:-$here/../build}
BENCH=$BUILD/bench/dnat-bench
NETPROBE=$BUILD/tests/e2e/netprobe
ROUNDS=${ROUNDS:-5}	# one-second samples per figure, taken in turn with 0 and with N grants
. "$here/../tests/e2e/lib.sh"

[[ $(id -u) == 0 ]] || { echo "dnat-bench: needs root"; exit 1; }
GW=$(ns_new bdgw) && CL=$(ns_new bdcl) && VM=$(ns_new bdvm) || exit 1
link_new "$CL" c0 "$GW" g0 && link_new "$VM" v0 "$GW" g1 || exit 1
PUB=10.214.0.1 C=10.214.0.2 W=10.215.0.2
addr_add "$GW" g0 $PUB/24; addr_add "$GW" g1 10.215.0.1/24
addr_add "$CL" c0 $C/24; addr_add "$VM" v0 $W/24
ip -n "$VM" route add default via 10.215.0.1
ip netns exec "$GW" sysctl -qw net.ipv4.ip_forward=1 || exit 1
# tens of thousands of connections a second, each reset at once: with the default 10 s in CLOSE the gateway's
# conntrack table (nf_conntrack_max, 262144 here) fills and drops new connections whatever the grants, so the
# figures would measure that; 1 s keeps it far from full
ip netns exec "$GW" sysctl -qw net.netfilter.nf_conntrack_tcp_timeout_close=1 || exit 1
listen "$VM" 22 || exit 1

rate() { ip netns exec "$CL" "$NETPROBE" rate -s $C $PUB 50022 1 || echo 0; }
median() { tr ' ' '\n' | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
load() { ip netns exec "$GW" "$BENCH" "$1" $PUB $W $C >/dev/null; }

echo "gateway DNAT benchmark: $(uname -r), $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ)"
echo "conn/s = new TCP connections per second from a granted client to PUBLIC:50022, DNATed to the VM's port 22"
echo "through the gateway (nat prerouting map + forward hook), with that many other live DNAT grants (single"
echo "addresses spread over 64 other mapped ports of the VM), against 0 other grants: medians of $ROUNDS one-second"
echo "samples taken in turn (0, N, 0, N, ...), so that the drift of a shared machine hits both (ratio)."
echo
printf '%-8s %9s %9s %6s\n' grants conn0/s conn/s ratio
for n in 0 1000 10000; do
	a=() b=()
	for ((k = 0; k < ROUNDS; k++)); do
		load 0 || exit 1
		a+=("$(rate)")
		load "$n" || { echo "load $n failed"; continue 2; }
		b+=("$(rate)")
	done
	r0=$(echo "${a[@]}" | median) rn=$(echo "${b[@]}" | median)
	ratio=$(awk -v a="$rn" -v b="$r0" 'BEGIN { printf (b > 0 ? "%.2f" : "-"), a / b }')
	printf '%-8s %9s %9s %6s\n' "$n" "$r0" "$rn" "$ratio"
done

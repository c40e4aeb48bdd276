#!/usr/bin/env bash
# make bench: kernel grant load and packet-path figures for src/fw, in throwaway namespaces. Prints; never fails on a number.
# Usage: bench/fw-bench.sh [BUILD_DIR]   (as root)
set -u
here=$(cd "$(dirname "$0")" && pwd)
BUILD=${1:-$here/../build}
BENCH=$BUILD/bench/fw-bench
NETPROBE=$BUILD/tests/e2e/netprobe
RATE_SECONDS=${RATE_SECONDS:-3}
UPDATES=${UPDATES:-200}
. "$here/../tests/e2e/lib.sh"

[[ $(id -u) == 0 ]] || { echo "fw-bench: needs root"; exit 1; }
VM=$(ns_new bvm) && CL=$(ns_new bcl) || exit 1
link_new "$VM" v0 "$CL" c0 || exit 1
addr_add "$VM" v0 10.210.0.1/24
addr_add "$CL" c0 10.210.0.2/24
listen "$VM" 22 || exit 1

rate() { ip netns exec "$CL" "$NETPROBE" rate -s 10.210.0.2 10.210.0.1 22 "$RATE_SECONDS"; }
load() { ip netns exec "$VM" "$BENCH" "$1" 1000 "$2" 10.210.0.2 "$UPDATES"; }

echo "fw benchmark: $(uname -r), $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ)"
echo "Grants are single addresses (hash set) or /30 ranges (interval set) for TCP 22 of the local VM."
echo "add = fw_grant_add in batches of 1000; reconcile = fresh context, kernel holding none of them;"
echo "noop = a reconcile with nothing to change; upd_ms = one fw_grant_update (1 add + 1 remove) with that"
echo "many grants live, mean and p99 over ${UPDATES} calls; conn/s = new TCP connections per second from a granted"
echo "address with that many other live grants, against 0 grants measured just before (ratio)."
echo
printf '%-8s %-7s %9s %11s %8s %12s %11s %9s %9s %6s\n' grants kind add_s reconcile_s noop_s upd_mean_ms upd_p99_ms \
	conn0/s conn/s ratio
for spec in 1000:single 10000:single 100000:single 1000:cidr 10000:cidr; do
	n=${spec%%:*} kind=${spec##*:}
	load 0 single >/dev/null || exit 1
	r0=$(rate) || r0=0
	out=$(load "$n" "$kind") || { echo "load $n $kind failed"; continue; }
	read -r _ _ t_add t_rec t_noop u_mean u_p99 <<<"$out"
	rn=$(rate) || rn=0
	ratio=$(awk -v a="$rn" -v b="$r0" 'BEGIN { printf (b > 0 ? "%.2f" : "-"), a / b }')
	printf '%-8s %-7s %9s %11s %8s %12s %11s %9s %9s %6s\n' "$n" "$kind" "$t_add" "$t_rec" "$t_noop" "$u_mean" "$u_p99" \
		"$r0" "$rn" "$ratio"
done

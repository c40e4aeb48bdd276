#!/usr/bin/env bash
# End-to-end: someone changes table inet jitgate behind jitgated's back; within one second the table is
# restored and the port behaves as the store says again, checked with real connections.
# Usage: tests/e2e/tamper.sh [BUILD_DIR]   (as root)
set -u
here=$(cd "$(dirname "$0")" && pwd)
BUILD=${1:-$here/../../build}
JITGATED=$BUILD/src/daemon/jitgated
NETPROBE=$BUILD/tests/e2e/netprobe
. "$here/lib.sh"

[[ $(id -u) == 0 ]] || { echo "tamper.sh: needs root"; exit 1; }
VM=$(ns_new tvm) && CL=$(ns_new tcl) || exit 1
link_new "$VM" v0 "$CL" c0 || exit 1
addr_add "$VM" v0 10.212.0.1/24
A=10.212.0.2 B=10.212.0.3 V=10.212.0.1
addr_add "$CL" c0 $A/24
addr_add "$CL" c0 $B/24
listen "$VM" 22 3389 || exit 1

STATE=$E2E_TMP/state
TOKEN=$("$JITGATED" token create --state-dir "$STATE" --name admin --role Owner) || exit 1
ip netns exec "$VM" "$JITGATED" --single-process --state-dir "$STATE" --listen $V:8443 --vm-name vm1 >"$E2E_TMP/jitgated.log" 2>&1 &
E2E_PIDS+=($!)
S=/subscriptions/00000000-0000-0000-0000-000000000000
P=$S/resourceGroups/default/providers/Microsoft.Security/locations/local/jitNetworkAccessPolicies/default
VMID=$S/resourceGroups/default/providers/Microsoft.Compute/virtualMachines/vm1
api() { ip netns exec "$CL" curl -sS --cacert "$STATE/tls/cert.pem" -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' "$@"; }
for ((i = 0; i < 100; i++)); do
	[[ $(api -o /dev/null -w '%{http_code}' https://$V:8443/healthz 2>/dev/null) == 200 ]] && break
	sleep 0.05
done
nft_vm() { ip netns exec "$VM" nft "$@"; }

api -X PUT "https://$V:8443$P?api-version=2020-01-01" -d '{"properties":{"virtualMachines":[{"id":"'$VMID'",
	"ports":[{"number":22,"protocol":"TCP","allowedSourceAddressPrefix":"*","maxRequestAccessDuration":"PT1H"}]}]}}' >/dev/null
end=$(date -u -d '+10 min' +%FT%TZ)
api -X POST "https://$V:8443$P/initiate?api-version=2020-01-01" -d '{"virtualMachines":[{"id":"'$VMID'",
	"ports":[{"number":22,"endTimeUtc":"'$end'","allowedSourceAddressPrefix":"'$A'"}]}]}' >/dev/null
check "set-up: A reaches 22 with its grant" can "$CL" $A $V 22
check "set-up: B is refused" cannot "$CL" $B $V 22

# After tampering, poll (≤ 1 s) until the behaviour is right again; report how long it took.
restored_within() { # DESCRIPTION CHECK...
	local what=$1 t0 i; shift
	t0=$(now_ms)
	for ((i = 0; i < 20; i++)); do
		if "$@"; then
			local d=$(( $(now_ms) - t0 ))
			if (( d <= 1000 )); then ok "$what (restored after ${d} ms)"; else notok "$what (after ${d} ms)"; fi
			return
		fi
		sleep 0.05
	done
	notok "$what (not restored within 1 s)"
}
right_again() { cannot "$CL" $B $V 22 && can "$CL" $A $V 22; }

nft_vm add element inet jitgate local_grant4 "{ $B . tcp . 22 timeout 1h comment \"intruder\" }"
restored_within "a stray grant added by hand is removed; B refused, A still in" right_again
nft_vm delete element inet jitgate local_grant4 "{ $A . tcp . 22 }"
restored_within "a deleted grant element is put back; A in again" right_again
nft_vm delete element inet jitgate local_protect "{ tcp . 22 }"
restored_within "a deleted protected-port element is put back; B refused again" right_again
nft_vm flush chain inet jitgate input
restored_within "a flushed chain gets its rules back" right_again
nft_vm delete table inet jitgate
restored_within "a deleted table is rebuilt" right_again
nft_vm flush ruleset
restored_within "'nft flush ruleset' is undone for our table" right_again

log=$(api "https://$V:8443$S/providers/Microsoft.Security/jitActivityLog?api-version=2020-01-01&operation=Tamper")
n=$(jq '.value | length' <<<"$log")
check "each tampering is in the activity log as Tamper, naming nft ($n entries)" \
	bash -c '(( $1 >= 6 )) && grep -q "by nft" <<<"$2"' _ "$n" "$log"
check "jitgated's own changes are not reported as tampering" \
	bash -c '! grep -q "by jitgated" <<<"$1"' _ "$log"
e2e_summary

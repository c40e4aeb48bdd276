#!/usr/bin/env bash
# End-to-end: gateway DNAT (issue 15), the Azure Firewall case. jitgated runs on a gateway with a public
# address; two VMs (and an IPv6-only third) sit on a private network behind it with listeners on 22 and 3389
# that report who connected. A grant on a VM port of a policy VM with publicIpAddress opens its mappedPort on
# the public address for the granted source only, DNATed to the VM, and the kernel ends it on time even with
# jitgated dead; revoke with terminateSessions cuts the NATed session; a restart restores the mappings
# exactly; every bad input is refused naming the field, with nothing changed in the store or the kernel.
#
#   client (A, B; A6)  ──veth──  gw (10.231.0.1, fd00:231::1: public; jitgated)  ──bridge──  vm1, vm2, vm3
#
# Usage: tests/e2e/dnat.sh [BUILD_DIR]   (as root; needs curl, jq, nft)
set -u
here=$(cd "$(dirname "$0")" && pwd)
BUILD=${1:-$here/../../build}
JITGATED=${JITGATED:-$BUILD/src/daemon/jitgated}
NETPROBE=$BUILD/tests/e2e/netprobe
. "$here/lib.sh"

[[ $(id -u) == 0 ]] || { echo "dnat.sh: needs root (network namespaces, nftables)"; exit 1; }
[[ -x $JITGATED && -x $NETPROBE ]] || { echo "dnat.sh: build first ($JITGATED)"; exit 1; }
for t in curl jq nft; do command -v $t >/dev/null || { echo "dnat.sh: needs $t (scripts/deps.sh)"; exit 1; }; done

JITGATED_USER=jitgate-dnat-t	# privilege-separated, as in production: the mappings cross the helper's wire
e2e_user "$JITGATED_USER" || exit 1
chmod 0711 "$E2E_TMP"

GW=$(ns_new dgw) && CL=$(ns_new dcl) && V1=$(ns_new dv1) && V2=$(ns_new dv2) && V3=$(ns_new dv3) || exit 1
link_new "$CL" c0 "$GW" g0 || exit 1
ip -n "$GW" link add br0 type bridge && ip -n "$GW" link set br0 up || exit 1
for v in 1 2 3; do
	n=V$v
	link_new "${!n}" e0 "$GW" p$v && ip -n "$GW" link set p$v master br0 || exit 1
done
P=10.231.0.1 P6=fd00:231::1 A=10.231.0.10 B=10.231.0.11 A6=fd00:231::10
W1=10.232.0.2 W2=10.232.0.3 W1_6=fd00:232::2 W3_6=fd00:232::4
addr_add "$GW" g0 $P/24; addr_add "$GW" g0 $P6/64
addr_add "$GW" br0 10.232.0.1/24; addr_add "$GW" br0 fd00:232::1/64
for a in $A/24 $B/24 $A6/64; do addr_add "$CL" c0 $a; done
addr_add "$V1" e0 $W1/24; addr_add "$V1" e0 $W1_6/64; addr_add "$V2" e0 $W2/24; addr_add "$V3" e0 $W3_6/64
for v in "$V1" "$V2"; do ip -n "$v" route add default via 10.232.0.1; done
for v in "$V1" "$V3"; do ip -n "$v" -6 route add default via fd00:232::1; done
ip netns exec "$GW" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 || exit 1
ns_settle "$GW"; ns_settle "$CL"
for v in 1 2 3; do n=V$v; listen "${!n}" -r 22 3389 || exit 1; done
L1=$E2E_TMP/listen.$V1 L2=$E2E_TMP/listen.$V2 L3=$E2E_TMP/listen.$V3

STATE=$E2E_TMP/state
SUB=00000000-0000-0000-0000-000000000000
RG=/subscriptions/$SUB/resourceGroups/default
VMID=$RG/providers/Microsoft.Compute/virtualMachines
POL=$RG/providers/Microsoft.Security/locations/local/jitNetworkAccessPolicies/default
POL2=$RG/providers/Microsoft.Security/locations/local/jitNetworkAccessPolicies/other
AV=api-version=2020-01-01
SRVLOG=$E2E_TMP/jitgated.log
RANGE=50100-50103	# 4 ports: vm1 takes 2, vm2 1 (its 22 is pinned outside), vm4 the last
token() { "$JITGATED" token "$@" --state-dir "$STATE"; }
T_ADMIN=$(token create --name admin --role Owner) && T_REQ=$(token create --name req --role JitRequester) &&
	T_VM2=$(token create --name vm2only --role JitRequester --scope "$VMID/vm2") || exit 1
printf 'dnat_ports = %s\n' $RANGE >"$E2E_TMP/jitgated.conf"
start() { jitgated_start "$GW" "$CL" "$STATE" $P:8443 "$SRVLOG" --vm-name gw --config "$E2E_TMP/jitgated.conf"; }
start || { notok "set-up: jitgated answers /healthz"; cat "$SRVLOG"; e2e_summary; exit 1; }

call() { # TOKEN METHOD PATH [BODY]: sets code and R
	local tok=$1 m=$2 p=$3 body=${4-}
	local args=(-sS --max-time 5 --cacert "$STATE/tls/cert.pem" -o "$E2E_TMP/resp" -w '%{http_code}' -X "$m")
	[[ -n $tok ]] && args+=(-H "Authorization: Bearer $tok")
	[[ -n $body ]] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
	code=$(ip netns exec "$CL" curl "${args[@]}" "https://$P:8443$p" 2>"$E2E_TMP/curl.err")
	R=$(cat "$E2E_TMP/resp" 2>/dev/null)
}
j() { jq -r "$@" <<<"$R" 2>/dev/null; }
expect() { # STATUS [CODE] WHAT
	local st=$1 ec= what=${!#} got
	(( $# == 3 )) && ec=$2
	got="$code${ec:+ $(j '.error.code // empty')}"
	check "$what → $st${ec:+ $ec} (got $got)" test "$got" = "$st${ec:+ $ec}"
}
expect_target() { check "  … the error names $1 ($(j .error.target))" test "$(j .error.target)" = "$1"; }
iso() { date -u -d "@$(( $1 / 1000 )).$(printf %03d $(( $1 % 1000 )))" +%Y-%m-%dT%H:%M:%S.%3NZ; }
gwvm() { # NAME ADDR...: a gateway VM in the inventory
	local n=$1 addrs; shift
	addrs=$(printf '"%s",' "$@")
	call "$T_ADMIN" PUT "$VMID/$n?$AV" "{\"location\":\"local\",\"properties\":{\"enforcement\":\"gateway\",\"addresses\":[${addrs%,}]}}"
}
rule() { printf '{"number":%s,"protocol":"TCP","allowedSourceAddressPrefix":"*","maxRequestAccessDuration":"PT1H"%s}' "$1" "${2:+,\"mappedPort\":$2}"; }
pvm() { # NAME PUBLIC RULE... : a policy VM
	local n=$1 pub=$2 rules; shift 2
	rules=$(printf '%s,' "$@")
	printf '{"id":"%s"%s,"ports":[%s]}' "$VMID/$n" "${pub:+,\"publicIpAddress\":\"$pub\"}" "${rules%,}"
}
policy() { printf '{"kind":"Basic","properties":{"virtualMachines":[%s]}}' "$(IFS=,; echo "$*")"; }
initiate() { # TOKEN VM PORT ENDMS SOURCE [POLICY]
	call "$1" POST "${6:-$POL}/initiate?$AV" \
		"$(printf '{"virtualMachines":[{"id":"%s","ports":[{"number":%s,"endTimeUtc":"%s","allowedSourceAddressPrefix":"%s"}]}]}' \
		"$VMID/$2" "$3" "$(iso "$4")" "$5")"
}
revoke() { # TOKEN VM PORT TERMINATE
	call "$1" POST "$POL/revoke?$AV" \
		"$(printf '{"virtualMachines":[{"id":"%s","ports":[{"number":%s}]}],"terminateSessions":%s}' "$VMID/$2" "$3" "$4")"
}
# kernel: table inet jitgate without timers and counters, for "nothing changed" and "restored exactly"
kernel() { ip netns exec "$GW" nft list table inet jitgate | sed -E 's/ (timeout|expires) [0-9dhms.]+//g; s/counter packets [0-9]+ bytes [0-9]+/counter/'; }
dnat_elems() { ip netns exec "$GW" nft -j list set inet jitgate "$1" | jq -c '[.nftables[].set.elem // empty | .[] | (.elem.val // .) | tostring] | sort'; }
# reached LOG SRC PORT: the VM's listener saw a TCP connection from SRC (its real address) to PORT
reached() {
	local i
	for ((i = 0; i < 20; i++)); do grep -q "^from $2 to $3\$" "$1" && return 0; sleep 0.05; done
	return 1
}
hold() { # SRC ADDR PORT MS OUT: a session in the background, its pid in HOLD
	ip netns exec "$CL" "$NETPROBE" hold -s "$1" "$2" "$3" "$4" >"$5" 2>&1 &
	HOLD=$!
	E2E_PIDS+=($HOLD)
}

echo "1. the policy: publicIpAddress stored and returned, mapped ports pinned or picked from dnat_ports"
for v in "vm1 $W1 $W1_6" "vm2 $W2" "vm3 $W3_6" "vm4 10.232.0.5"; do
	gwvm $v
	expect 201 "gateway VM ${v%% *} in the inventory"
done
call "$T_ADMIN" PUT "$POL?$AV" "$(policy "$(pvm vm1 $P "$(rule 22)" "$(rule 3389)")" \
	"$(pvm vm2 $P "$(rule 22 52222)" "$(rule 3389)")" "$(pvm vm3 $P6 "$(rule 22)")")"
expect 200 "PUT a policy with publicIpAddress on vm1, vm2 (v4) and vm3 (v6)"
maps='[.properties.virtualMachines[] | "\(.publicIpAddress) \([.ports[] | "\(.number):\(.mappedPort)"] | join(","))"] | join(" ")'
check "GET-able answer: $(j "$maps")" test "$(j "$maps")" = "$P 22:50100,3389:50101 $P 22:52222,3389:50102 $P6 22:50100"
call "$T_ADMIN" GET "$POL?$AV"
body=$(jq -c '{kind, properties: {virtualMachines: .properties.virtualMachines}}' <<<"$R")
call "$T_ADMIN" PUT "$POL?$AV" "$body"
expect 200 "GET → PUT round trip"
check "  … keeps publicIpAddress and every mappedPort" test "$(j "$maps")" = "$P 22:50100,3389:50101 $P 22:52222,3389:50102 $P6 22:50100"
K0=$(kernel)

echo "2. before a request the mapped ports refuse; the VMs' own addresses are shut"
for pt in 50100 50101 50102 52222; do check "A cannot open $P:$pt" cannot "$CL" $A $P $pt; done
check "A6 cannot open [$P6]:50100" cannot "$CL" $A6 $P6 50100

echo "3. a grant on vm1:22 opens $P:50100 for A only, to vm1:22, with A's own address"
end=$(( $(now_ms) + 5000 ))
initiate "$T_REQ" vm1 22 $end $A
expect 202 "initiate vm1:22 from A"
check "the request's port carries mappedPort 50100 ($(j '.virtualMachines[0].ports[0].mappedPort'))" \
	test "$(j '.virtualMachines[0].ports[0].mappedPort')" = 50100
check "A opens $P:50100" can "$CL" $A $P 50100
check "  … and vm1's listener on 22 saw A's real address" reached "$L1" $A 22
check "B (not granted) cannot open $P:50100" cannot "$CL" $B $P 50100
check "A cannot open vm1's other mapped port 50101 (3389)" cannot "$CL" $A $P 50101
check "A cannot open vm2's mapped port 52222" cannot "$CL" $A $P 52222
check "A6 cannot open [$P6]:50100 (vm3's, not granted)" cannot "$CL" $A6 $P6 50100
refuse "nothing reached vm2" grep -q '^from' "$L2"
call "$T_ADMIN" GET "$POL?$AV"
check "GET shows the request's mappedPort" test "$(j '.properties.requests[0].virtualMachines[0].ports[0].mappedPort')" = 50100

echo "4. two VMs on one public address: vm2:22 through its pinned 52222"
initiate "$T_REQ" vm2 22 $(( $(now_ms) + 30000 )) $A
expect 202 "initiate vm2:22 from A"
check "A opens $P:52222" can "$CL" $A $P 52222
check "  … which reached vm2:22 from A" reached "$L2" $A 22
check "A still opens $P:50100 (vm1)" can "$CL" $A $P 50100

echo "5. on time: new connections fail, the established one lives on"
hold $A $P 50100 $(( end - $(now_ms) + 1500 )) "$E2E_TMP/held"
sleep 0.3
check "a session to $P:50100 is open" grep -q connected "$E2E_TMP/held"
sleep_until $(( end + 300 ))
check "after the end A cannot open $P:50100" cannot "$CL" $A $P 50100
wait $HOLD; rc=$?
check "the session opened before the end still answers" test $rc = 0

echo "6. revoke with terminateSessions cuts the DNATed session (conntrack, NAT entry included)"
hold $A $P 52222 3000 "$E2E_TMP/held2"
sleep 0.3
check "a session to $P:52222 is open" grep -q connected "$E2E_TMP/held2"
revoke "$T_REQ" vm2 22 true
check "revoke vm2:22 with terminateSessions ($R)" test "$code $(j '.terminatedSessions >= 1')" = "200 true"
wait $HOLD; rc=$?
check "the DNATed session died" test $rc != 0
check "A cannot open $P:52222 any more" cannot "$CL" $A $P 52222

echo "7. IPv6 (DNAT66): vm3:22 through [$P6]:50100"
initiate "$T_REQ" vm3 22 $(( $(now_ms) + 60000 )) $A6
expect 202 "initiate vm3:22 from A6"
check "A6 opens [$P6]:50100" can "$CL" $A6 $P6 50100
check "  … which reached vm3:22 from A6" reached "$L3" $A6 22
check "A (IPv4) still cannot open $P:50100 (vm1's grant ended)" cannot "$CL" $A $P 50100

echo "8. jitgated killed: the kernel still ends the mapping on time"
end=$(( $(now_ms) + 3000 ))
initiate "$T_REQ" vm1 3389 $end $A
expect 202 "initiate vm1:3389 from A (3 s)"
kill -9 $JITGATED_PID; wait $JITGATED_PID 2>/dev/null
check "with jitgated dead, A opens $P:50101" can "$CL" $A $P 50101
check "  … to vm1:3389" reached "$L1" $A 3389
sleep_until $(( end + 300 ))
check "after the end, with jitgated still dead, A cannot open $P:50101" cannot "$CL" $A $P 50101

echo "9. restart and reconcile restore the live mappings exactly"
start || notok "jitgated starts again"
initiate "$T_REQ" vm1 22 $(( $(now_ms) + 60000 )) $A
expect 202 "initiate vm1:22 from A (60 s)"
before4=$(dnat_elems dnat_grant4) before6=$(dnat_elems dnat_grant6)
kill -9 $JITGATED_PID; wait $JITGATED_PID 2>/dev/null
ip netns exec "$GW" nft delete table inet jitgate
check "with the table gone, A cannot open $P:50100 (no DNAT)" cannot "$CL" $A $P 50100
start || notok "jitgated restarts"
check "after the restart A opens $P:50100 again" can "$CL" $A $P 50100
check "after the restart A6 opens [$P6]:50100 again" can "$CL" $A6 $P6 50100
check "dnat_grant6 holds exactly what it held ($before6)" test "$(dnat_elems dnat_grant6)" = "$before6"
check "dnat_grant4 holds exactly what it held ($before4)" test "$(dnat_elems dnat_grant4)" = "$before4"
check "A (expired) still cannot open $P:50101" cannot "$CL" $A $P 50101
ip netns exec "$GW" nft flush chain inet jitgate prerouting
eventually_within "someone flushes the nat chain: jitgated's tamper monitor puts the DNAT back (≤ 5 s)" 5 \
	can "$CL" $A $P 50100
K1=$(kernel)

echo "10. bad input: refused naming the field, nothing changed in the store or the kernel"
call "$T_ADMIN" GET "$POL?$AV"; S0=$(j -c .properties.virtualMachines)
bad() { # STATUS CODE TARGET WHAT BODY [PATH]
	call "$T_ADMIN" PUT "${6:-$POL}?$AV" "$5"
	expect "$1" "$2" "$4"
	expect_target "$3"
}
unchanged() {
	call "$T_ADMIN" GET "$POL?$AV"
	check "  … the stored policy is unchanged" test "$(j -c .properties.virtualMachines)" = "$S0"
	call "$T_ADMIN" GET "$POL2?$AV"
	check "  … no policy 'other' was made" test "$code" = 404
	check "  … the kernel table is unchanged" test "$(kernel)" = "$K1"
}
bad 400 InvalidPublicIpAddress "properties.virtualMachines[0].publicIpAddress" \
	"publicIpAddress that is not an address of the gateway" "$(policy "$(pvm vm1 10.231.0.99 "$(rule 22)")")"
unchanged
bad 400 PublicIpAddressNotAllowed "properties.virtualMachines[0].publicIpAddress" \
	"publicIpAddress on the local VM" "$(policy "$(pvm gw $P "$(rule 22)")")"
unchanged
bad 400 InvalidPublicIpAddress "properties.virtualMachines[0].publicIpAddress" \
	"an IPv6 publicIpAddress for vm2, which has no IPv6 address" "$(policy "$(pvm vm2 $P6 "$(rule 22)")")"
unchanged
bad 400 InvalidAddress "properties.virtualMachines[0].publicIpAddress" \
	"a publicIpAddress that is no address" "$(policy "$(pvm vm1 not-an-ip "$(rule 22)")")"
unchanged
bad 400 MappedPortInUse "properties.virtualMachines[0].ports[0].mappedPort" \
	"a pinned port that another policy's VM has on that address" "$(policy "$(pvm vm4 $P "$(rule 22 50100)")")" "$POL2"
unchanged
bad 400 MappedPortInUse "properties.virtualMachines[1].ports[0].mappedPort" \
	"two VM ports of one policy pinned to one public port" \
	"$(policy "$(pvm vm1 $P "$(rule 22 52222)")" "$(pvm vm2 $P "$(rule 22 52222)")")"
unchanged
bad 400 MappedPortRangeExhausted "properties.virtualMachines[0].ports[1].mappedPort" \
	"a VM with 2 ports and 1 free in the range ($RANGE)" "$(policy "$(pvm vm4 $P "$(rule 22)" "$(rule 3389)")")" "$POL2"
unchanged
bad 400 MappedPortWithoutPublicIp "properties.virtualMachines[0].ports[0].mappedPort" \
	"mappedPort on a VM without publicIpAddress" "$(policy "$(pvm vm4 "" "$(rule 22 50103)")")" "$POL2"
unchanged
bad 400 InvalidPort "properties.virtualMachines[0].ports[0].mappedPort" \
	"mappedPort 70000" "$(policy "$(pvm vm4 $P "$(rule 22 70000)")")" "$POL2"
unchanged
call "$T_REQ" PUT "$POL2?$AV" "$(policy "$(pvm vm4 $P "$(rule 22 50103)")")"
expect 403 "a JitRequester's PUT of a policy with a mapping"
call "" PUT "$POL2?$AV" "$(policy "$(pvm vm4 $P "$(rule 22 50103)")")"
expect 401 "an unauthenticated PUT"
unchanged
initiate "$T_VM2" vm1 22 $(( $(now_ms) + 5000 )) $B
expect 403 "a requester scoped to vm2 asks for vm1's mapped port"
check "  … B cannot open $P:50100" cannot "$CL" $B $P 50100
call "$T_ADMIN" PUT "$POL2?$AV" "$(policy "$(pvm vm4 $P "$(rule 22)")")"
expect 200 "vm4 gets the last free port of the range"
check "  … 50103 ($(j '.properties.virtualMachines[0].ports[0].mappedPort'))" \
	test "$(j '.properties.virtualMachines[0].ports[0].mappedPort')" = 50103

echo "11. connection details: the inventory, jitgate request's CONNECT column, jitgate ssh"
call "$T_ADMIN" GET "$VMID/vm1?$AV"
conn='[.properties.jit.connectionDetails[] | "\(.address):\(.port)/\(.protocol)>\(.vmPort)"] | join(" ")'
check "vm1's connectionDetails give $P:mappedPort ($(j "$conn"))" test "$(j "$conn")" = "$P:50100/TCP>22 $P:50101/TCP>3389"
call "$T_ADMIN" GET "$VMID/vm3?$AV"
check "vm3's give [$P6]:50100 ($(j "$conn"))" test "$(j "$conn")" = "$P6:50100/TCP>22"
JG=$BUILD/src/cli/jitgate
jg() { # ARGS...: the CLI in the client namespace as the requester; sets rc and out
	out=$(ip netns exec "$CL" env -i PATH="$PATH" HOME="$E2E_TMP" TZ=UTC JITGATE_SERVER="https://$P:8443" \
		JITGATE_TOKEN="${JGT:-$T_REQ}" JITGATE_CA="$STATE/tls/cert.pem" timeout 5 "$JG" "$@" </dev/null 2>&1)
	rc=$?
}
jg request vm1 --port 3389 --for 5m --from $A
check "jitgate request vm1 --port 3389 (exit $rc)" test $rc = 0
check "  … its CONNECT column says $P:50101 ($(grep -o "$P:[0-9]*" <<<"$out"))" grep -q "$P:50101\$" <<<"$out"
check "  … and that works for A, to vm1:3389" can "$CL" $A $P 50101
n1=$(grep -c '^from' "$L1")
jg ssh vm1 -- -o BatchMode=yes -o ConnectTimeout=3 -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null true
# the listener echoes ssh's own handshake back, so ssh waits until `timeout` ends it: what counts is where it went
check "jitgate ssh vm1 requested 22 and ran ssh -p 50100 $P, which reached vm1:22 from A (the listener is no sshd)" \
	eval '(( $(grep -c "^from $A to 22\$" "$L1") > 0 && $(grep -c "^from" "$L1") > n1 ))'
check "  … and printed what it opened" grep -q "port 22 of vm1 is open for $A" <<<"$out"

echo "12. a careless operator: vm1 loses its IPv4 address under its IPv4 publicIpAddress"
gwvm vm1 $W1_6
expect 200 "PUT vm1 with only its IPv6 address"
initiate "$T_REQ" vm2 22 $(( $(now_ms) + 30000 )) $A
expect 202 "the kernel still takes other grants: initiate vm2:22 from A"
check "  … A opens $P:52222 (vm2's mapping is untouched)" can "$CL" $A $P 52222
check "  … vm1's mappings are out of the kernel, nothing DNATs to an address it no longer has" \
	test -z "$(kernel | grep -F "$W1 . 22")"
gwvm vm1 $W1 $W1_6
expect 200 "PUT vm1 with its IPv4 address again"
check "  … vm1's mapping is back ($P . tcp . 50100 : $W1 . 22)" grep -qF "$P . tcp . 50100 : $W1 . 22" <<<"$(kernel)"

echo "13. revoking A's grant on the gateway's own port 22 (terminateSessions) leaves A's DNATed session to vm1:22"
call "$T_ADMIN" PUT "$POL2?$AV" "$(policy "$(pvm vm4 $P "$(rule 22)")" "$(pvm gw "" "$(rule 22)")")"
expect 200 "the local VM's port 22 in policy 'other'"
initiate "$T_REQ" gw 22 $(( $(now_ms) + 30000 )) $A "$POL2"
expect 202 "initiate gw:22 (the local VM) from A"
initiate "$T_REQ" vm1 22 $(( $(now_ms) + 30000 )) $A
expect 202 "initiate vm1:22 from A"
hold $A $P 50100 2500 "$E2E_TMP/held3"
sleep 0.3
check "a DNATed session to vm1:22 is open" grep -q connected "$E2E_TMP/held3"
call "$T_REQ" POST "$POL2/revoke?$AV" \
	"$(printf '{"virtualMachines":[{"id":"%s","ports":[{"number":22}]}],"terminateSessions":true}' "$VMID/gw")"
check "revoke gw:22 with terminateSessions ($R)" test "$code $(j .revokedPorts)" = "200 1"
wait $HOLD; rc=$?
check "  … the DNATed session to vm1:22 lives on (another VM's grant)" test $rc = 0

echo "14. the CLI's read-modify-write keeps the mapping: jitgate edit and enable"
JGT=$T_ADMIN
jg edit vm2 --port 22/tcp --max 2h
check "jitgate edit vm2 --port 22/tcp --max 2h (exit $rc)" test $rc = 0
call "$T_ADMIN" GET "$POL?$AV"
check "  … vm2 keeps $P and its pinned 52222 ($(j "$maps"))" test "$(j "$maps")" = "$P 22:50100,3389:50101 $P 22:52222,3389:50102 $P6 22:50100"
jg enable vm2 --port 22/tcp --port 3389/tcp
check "jitgate enable vm2 --port 22/tcp --port 3389/tcp, replacing its rules (exit $rc)" test $rc = 0
call "$T_ADMIN" GET "$POL?$AV"
check "  … vm2 stays behind $P, each rule with the port it had, 52222 too ($(j "$maps"))" \
	test "$(j "$maps")" = "$P 22:50100,3389:50101 $P 22:52222,3389:50102 $P6 22:50100"

grep -q "AddressSanitizer\|runtime error" "$SRVLOG" && notok "jitgated reported a sanitizer error"
e2e_summary

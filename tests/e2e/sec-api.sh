#!/usr/bin/env bash
# End-to-end: the API holes of issue 11, against the real jitgated in a namespace, with real TCP.
#
#   client (A, X) ──veth── host (jitgated on V:8443, listeners on 22 and 3389)
#
# 1. A VM's enforcement point cannot change by PUT, the local VM is jitgated's alone, a VM in a policy
#    keeps its location; a grant on a gateway VM never opens the host's own port.
# 2. An address belongs to one VM; unspecified, loopback, multicast, link-local addresses are refused.
# 3. %00 and other control characters in the target are a 400 (not a truncated resource name).
# 4. A policy's GET lists every live request, however many newer ones there are.
# 5. A write's body must be application/json (415).
# 6. An IPv4-mapped source (::ffff:a.b.c.d) is granted as IPv4 and opens for that address.
# 7. maxRequestAccessDuration is required, as doc/api.md now says.
# Usage: tests/e2e/sec-api.sh [BUILD_DIR]   (as root; needs curl and jq)
set -u
here=$(cd "$(dirname "$0")" && pwd)
BUILD=${1:-$here/../../build}
JITGATED=$BUILD/src/daemon/jitgated
NETPROBE=$BUILD/tests/e2e/netprobe
. "$here/lib.sh"

[[ $(id -u) == 0 ]] || { echo "sec-api.sh: needs root (network namespaces, nftables)"; exit 1; }
[[ -x $JITGATED && -x $NETPROBE ]] || { echo "sec-api.sh: build first ($JITGATED)"; exit 1; }
command -v curl >/dev/null && command -v jq >/dev/null || { echo "sec-api.sh: needs curl and jq"; exit 1; }

VM=$(ns_new host) && CL=$(ns_new cl) || exit 1
link_new "$VM" v0 "$CL" c0 || exit 1
V=10.232.0.1 A=10.232.0.2 X=10.232.0.40 V6=fd00:232::1
addr_add "$VM" v0 $V/24; addr_add "$VM" v0 $V6/64
addr_add "$CL" c0 $A/24; addr_add "$CL" c0 $X/24
listen "$VM" 22 3389 || exit 1

STATE=$E2E_TMP/state
SUB=00000000-0000-0000-0000-000000000000
RG=/subscriptions/$SUB/resourceGroups/default
HOSTID=$RG/providers/Microsoft.Compute/virtualMachines/host1
GW1=$RG/providers/Microsoft.Compute/virtualMachines/gw1
POL=$RG/providers/Microsoft.Security/locations/local/jitNetworkAccessPolicies/default
AV=api-version=2020-01-01
SRVLOG=$E2E_TMP/jitgated.log

token() { "$JITGATED" token "$@" --state-dir "$STATE"; }
# call TOKEN METHOD PATH [BODY [CURL_ARGS...]]: sets $code and $R; from $SRC (default A); JSON body.
SRC=$A
call() {
	local tok=$1 m=$2 p=$3 body=${4-}
	local args=(-sS --max-time 5 --cacert "$STATE/tls/cert.pem" --interface "$SRC" -o "$E2E_TMP/resp"
		-w '%{http_code}' -X "$m")
	shift 3; (( $# )) && shift
	[[ -n $tok ]] && args+=(-H "Authorization: Bearer $tok")
	[[ -n $body ]] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
	code=$(ip netns exec "$CL" curl "${args[@]}" "$@" "https://$V:8443$p" 2>"$E2E_TMP/curl.err")
	R=$(cat "$E2E_TMP/resp" 2>/dev/null)
}
j() { jq -r "$@" <<<"$R" 2>/dev/null; }
# expect STATUS [ERRORCODE [TARGET]] DESCRIPTION: the last call answered that (error code, error target).
expect() {
	local st=$1 ec= tg= what=${!#}
	(( $# >= 3 )) && ec=$2
	(( $# >= 4 )) && tg=$3
	local got="$code${ec:+ $(j '.error.code // empty')}${tg:+ $(j '.error.target // empty')}"
	check "$what → $st${ec:+ $ec}${tg:+ $tg} (got $got)" test "$got" = "$st${ec:+ $ec}${tg:+ $tg}"
}
iso() { date -u -d "@$(( $1 / 1000 ))" +%Y-%m-%dT%H:%M:%SZ; }
vm_body() { # ENFORCEMENT ADDRESSES_JSON [LOCATION]
	printf '{"location":"%s","properties":{"enforcement":"%s","osType":"Linux","addresses":%s}}' "${3:-local}" "$1" "$2"
}

T_OWNER=$(token create --name owner --role Owner)
T_GWREQ=$(token create --name gwreq --role JitRequester --scope "$GW1")
T_REQ1=$(token create --name req1 --role JitRequester)
T_REQ2=$(token create --name req2 --role JitRequester)
ip netns exec "$VM" "$JITGATED" --single-process --state-dir "$STATE" --listen "$V:8443" --vm-name host1 >>"$SRVLOG" 2>&1 &
SRV=$!
E2E_PIDS+=($SRV)
check "jitgated is healthy" e2e_wait_healthy "$CL" "$STATE/tls/cert.pem" "https://$V:8443" "$SRV"

echo "1. enforcement points: fixed at creation; the local VM is jitgated's own"
call "$T_OWNER" PUT "$GW1?$AV" "$(vm_body gateway '["10.233.0.5"]')"
expect 201 "PUT a gateway VM gw1"
# host1 (this host): 22 only from A; gw1: 22 from anywhere; host1 3389 from anywhere (for 6)
call "$T_OWNER" PUT "$POL?$AV" '{"properties":{"virtualMachines":[
	{"id":"'$HOSTID'","ports":[{"number":22,"protocol":"TCP","allowedSourceAddressPrefix":"'$A'","maxRequestAccessDuration":"PT1H"},
		{"number":3389,"protocol":"TCP","allowedSourceAddressPrefix":"*","maxRequestAccessDuration":"PT1H"}]},
	{"id":"'$GW1'","ports":[{"number":22,"protocol":"TCP","allowedSourceAddressPrefix":"*","maxRequestAccessDuration":"PT1H"}]}]}}'
expect 200 "PUT the policy (host1 22 from A only, gw1 22 from any)"
check "X cannot reach the host's port 22" cannot "$CL" $X $V 22
call "$T_OWNER" PUT "$GW1?$AV" "$(vm_body local '[]')"
expect 409 EnforcementImmutable properties.enforcement "gw1 updated to enforcement local"
call "$T_OWNER" PUT "$GW1?$AV" "$(vm_body Local '["10.233.0.5"]')"
expect 409 EnforcementImmutable properties.enforcement "gw1 updated to 'Local' with its address"
call "$T_OWNER" GET "$GW1?$AV"
check "gw1 is still a gateway VM ($(j .properties.enforcement))" test "$(j .properties.enforcement)" = gateway
# the attack: a requester scoped to gw1 alone asks for gw1:22 from X, which host1's rule refuses
SRC=$X
call "$T_GWREQ" POST "$POL/initiate?$AV" '{"virtualMachines":[{"id":"'$GW1'","ports":[{"number":22,"endTimeUtc":"'$(iso $(( $(now_ms) + 600000 )))'"}]}]}'
SRC=$A
expect 202 "the gw1-scoped requester opens gw1:22 for X"
check "… and X still cannot reach the host's own port 22 (the grant is on the forward hook)" cannot "$CL" $X $V 22
check "the kernel has X in a grant set, and not in the input hook's (local_grant4)" bash -c \
	'ip netns exec "$1" nft list table inet jitgate | grep -q "$2 \. " &&
	 ! ip netns exec "$1" nft list set inet jitgate local_grant4 | grep -q "$2 \. "' _ "$VM" "$X"
call "$T_OWNER" PUT "$HOSTID?$AV" "$(vm_body gateway '["10.233.0.6"]')"
expect 409 LocalVirtualMachine properties.enforcement "the local VM updated to gateway"
call "$T_OWNER" PUT "$HOSTID?$AV" '{"properties":{"osType":"Windows"}}'
expect 409 LocalVirtualMachine "the local VM's osType changed by PUT"
call "$T_OWNER" GET "$HOSTID?$AV"
check "host1 is still local, Linux ($(j '.properties.enforcement + " " + .properties.osType'))" \
	test "$(j '.properties.enforcement + " " + .properties.osType')" = "local Linux"
check "A cannot reach port 22 without a grant (host1 still enforces)" cannot "$CL" $A $V 22
call "$T_OWNER" PUT "$RG/providers/Microsoft.Compute/virtualMachines/new1?$AV" "$(vm_body local '[]')"
expect 400 InvalidEnforcement properties.enforcement "a new VM with enforcement local"
call "$T_OWNER" PUT "$GW1?$AV" "$(vm_body gateway '["10.233.0.5"]' westeurope)"
expect 409 VirtualMachineInPolicy location "gw1 moved to another location while in a policy"
call "$T_OWNER" GET "$GW1?$AV"
check "gw1 stays in location local ($(j .location))" test "$(j .location)" = local
call "$T_OWNER" PUT "$GW1?$AV" "$(vm_body gateway '["10.233.0.5","fd00:233::5"]')"
expect 200 "gw1 updated with its own address and a new one"

echo "2. an address belongs to one VM; special addresses are refused"
GW2=$RG/providers/Microsoft.Compute/virtualMachines/gw2
call "$T_OWNER" PUT "$GW2?$AV" "$(vm_body gateway '["10.233.0.9","fd00:233::5"]')"
expect 409 AddressInUse properties.addresses "gw2 with gw1's IPv6 address"
check "  … the error names gw1" bash -c 'grep -qi "virtualMachines/gw1" <<<"$1"' _ "$(j .error.message)"
call "$T_OWNER" PUT "$GW2?$AV" "$(vm_body gateway '["::ffff:10.233.0.5"]')"
expect 409 AddressInUse properties.addresses "gw2 with gw1's address written IPv4-mapped"
call "$T_OWNER" PUT "$GW2?$AV" "$(vm_body gateway "[\"$V\"]")"
expect 409 AddressInUse properties.addresses "gw2 with the host's own address"
check "  … the error names the local VM host1" bash -c 'grep -qi "virtualMachines/host1" <<<"$1"' _ "$(j .error.message)"
ip -n "$VM" addr add 10.232.1.1/24 dev v0	# an address the host gained after jitgated started
call "$T_OWNER" PUT "$GW2?$AV" "$(vm_body gateway '["10.232.1.1"]')"
expect 409 AddressInUse properties.addresses "gw2 with an address the host gained since it started"
check "  … the error names the local VM host1" bash -c 'grep -qi "virtualMachines/host1" <<<"$1"' _ "$(j .error.message)"
call "$T_OWNER" GET "$GW2?$AV"
expect 404 ResourceNotFound "gw2 was not created"
for a in 0.0.0.0 :: 127.0.0.1 ::1 224.0.0.1 ff02::1 169.254.1.1 fe80::1 255.255.255.255 0.1.2.3; do
	call "$T_OWNER" PUT "$GW2?$AV" "$(vm_body gateway "[\"10.233.0.9\",\"$a\"]")"
	expect 400 InvalidAddress properties.addresses "gw2 with $a"
done
# two PUTs at once for different VMs with the same address: exactly one wins
racers=()
for n in 3 4; do
	ip netns exec "$CL" curl -sS --max-time 5 --cacert "$STATE/tls/cert.pem" -o /dev/null -w '%{http_code}\n' -X PUT \
		-H "Authorization: Bearer $T_OWNER" -H 'Content-Type: application/json' \
		--data-binary "$(vm_body gateway '["10.233.0.77"]')" \
		"https://$V:8443$RG/providers/Microsoft.Compute/virtualMachines/gw$n?$AV" >"$E2E_TMP/race.$n" 2>&1 &
	racers+=($!)
done
wait "${racers[@]}"
check "two concurrent PUTs of one address: one 201, one 409 (got $(cat "$E2E_TMP/race.3" "$E2E_TMP/race.4" | sort | tr '\n' ' '))" \
	test "$(cat "$E2E_TMP/race.3" "$E2E_TMP/race.4" | sort | tr '\n' ' ')" = "201 409 "

echo "3. control characters in the path"
call "$T_OWNER" GET "$POL%00x?$AV"
expect 400 InvalidRequestTarget "GET the policy with %00 after its name"
call "$T_OWNER" PUT "$RG/providers/Microsoft.Compute/virtualMachines/gw5%00evil?$AV" "$(vm_body gateway '["10.233.0.55"]')"
expect 400 InvalidRequestTarget "PUT a VM named gw5%00evil"
call "$T_OWNER" GET "$RG/providers/Microsoft.Compute/virtualMachines/gw5?$AV"
expect 404 ResourceNotFound "… and no VM gw5 was made"
for e in %01 %0a %1F %7f; do
	call "$T_OWNER" GET "$RG/providers/Microsoft.Compute/virtualMachines/gw1$e?$AV"
	expect 400 InvalidRequestTarget "GET a VM name ending in $e"
done
call "$T_OWNER" DELETE "$GW1%00?$AV"
expect 400 InvalidRequestTarget "DELETE gw1%00"

echo "4. a policy's GET lists every live request"
call "$T_REQ1" POST "$POL/initiate?$AV" '{"virtualMachines":[{"id":"'$HOSTID'","ports":[{"number":22,"endTimeUtc":"'$(iso $(( $(now_ms) + 1200000 )))'","allowedSourceAddressPrefix":"'$A'"}]}]}'
expect 202 "req1 opens 22 for A"
LIVE=$(j .id)
check "A reaches 22" can "$CL" $A $V 22
# 210 newer requests by req2, each superseding the one before: 209 ended, 1 live (one connection)
body='{"virtualMachines":[{"id":"'$HOSTID'","ports":[{"number":3389,"endTimeUtc":"'$(iso $(( $(now_ms) + 1200000 )))'","allowedSourceAddressPrefix":"10.232.0.99"}]}]}'
urls=()
for ((i = 0; i < 210; i++)); do urls+=(-o /dev/null "https://$V:8443$POL/initiate?$AV"); done
ip netns exec "$CL" timeout 60 curl -sS --max-time 50 --cacert "$STATE/tls/cert.pem" -w '%{http_code}\n' \
	-X POST -H "Authorization: Bearer $T_REQ2" -H 'Content-Type: application/json' --data-binary "$body" \
	"${urls[@]}" >"$E2E_TMP/many" 2>&1
check "210 newer initiates by req2 answered 202 ($(grep -c '^202$' "$E2E_TMP/many"))" test "$(grep -c '^202$' "$E2E_TMP/many")" = 210
call "$T_OWNER" GET "$POL?$AV"
check "the GET still lists req1's live request ${LIVE:0:8}" \
	test "$(j --arg id "$LIVE" '[.properties.requests[] | select(.id == $id)] | length')" = 1
live=$(j '[.properties.requests[] | select(any(.virtualMachines[].ports[]; .status == "Initiated"))] | length')
ended=$(j '[.properties.requests[] | select(all(.virtualMachines[].ports[]; .status != "Initiated"))] | length')
# live: req1's, gwreq's on gw1 (section 1) and req2's latest
check "every live request is listed (3), and the ended ones are capped at 200 (got $live live, $ended ended)" \
	test "$live $ended" = "3 200"
check "A still reaches 22 (req1's grant is live)" can "$CL" $A $V 22

echo "5. a body must be application/json"
GW6=$RG/providers/Microsoft.Compute/virtualMachines/gw6
call "$T_OWNER" PUT "$GW6?$AV" "" -H 'Content-Type: text/plain' --data-binary "$(vm_body gateway '["10.233.0.66"]')"
expect 415 UnsupportedMediaType Content-Type "PUT a VM as text/plain"
call "$T_OWNER" PUT "$GW6?$AV" "" --data-binary "$(vm_body gateway '["10.233.0.66"]')"
expect 415 UnsupportedMediaType Content-Type "PUT a VM as curl's default form type"
call "$T_OWNER" PUT "$GW6?$AV" "" -H 'Content-Type:' --data-binary "$(vm_body gateway '["10.233.0.66"]')"
expect 415 UnsupportedMediaType Content-Type "PUT a VM without a Content-Type"
call "$T_OWNER" GET "$GW6?$AV"
expect 404 ResourceNotFound "… none of them made gw6"
call "$T_REQ1" POST "$POL/initiate?$AV" "" -H 'Content-Type: application/x-www-form-urlencoded' --data-binary '{"virtualMachines":[]}'
expect 415 UnsupportedMediaType Content-Type "initiate as a form"
call "$T_OWNER" PUT "$GW6?$AV" "" -H 'Content-Type: Application/JSON; charset=utf-8' --data-binary "$(vm_body gateway '["10.233.0.66"]')"
expect 201 "PUT a VM as 'Application/JSON; charset=utf-8'"

echo "6. an IPv4-mapped source is an IPv4 grant"
SRC=$X
check "X cannot reach 3389 before" cannot "$CL" $X $V 3389
call "$T_REQ1" POST "$POL/initiate?$AV" '{"virtualMachines":[{"id":"'$HOSTID'","ports":[{"number":3389,"endTimeUtc":"'$(iso $(( $(now_ms) + 600000 )))'","allowedSourceAddressPrefix":"::ffff:'$X'"}]}]}'
SRC=$A
expect 202 "initiate 3389 for ::ffff:$X under a '*' rule"
check "the request shows the source as $X ($(j '.virtualMachines[0].ports[0].allowedSourceAddressPrefix'))" \
	test "$(j '.virtualMachines[0].ports[0].allowedSourceAddressPrefix')" = "$X"
check "X reaches 3389" can "$CL" $X $V 3389
check "the kernel holds it as an IPv4 element of the input hook's set" bash -c \
	'ip netns exec "$1" nft list set inet jitgate local_grant4 | grep -q "$2 \. tcp \. 3389"' _ "$VM" "$X"

echo "7. maxRequestAccessDuration is required (there is no default)"
call "$T_OWNER" PUT "$POL?$AV" '{"properties":{"virtualMachines":[{"id":"'$HOSTID'","ports":[{"number":22,"protocol":"TCP","allowedSourceAddressPrefix":"*"}]}]}}'
expect 400 MissingField "properties.virtualMachines[0].ports[0].maxRequestAccessDuration" "a rule without maxRequestAccessDuration"

kill "$SRV" 2>/dev/null; wait "$SRV" 2>/dev/null
e2e_summary

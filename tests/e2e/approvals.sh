#!/usr/bin/env bash
# End-to-end test of approvals and extend: a port rule that needs approval, its requester, its approvers, real TCP.
#
#   client (A: the requester, B: another address the rule allows, M: the approvers) ──veth── vm (jitgated, 22, 3389)
#
# Port 22 needs two approvals by a SecurityAdmin of resource group "default"; 3389 opens at once.
# Usage: tests/e2e/approvals.sh [BUILD_DIR]   (as root; needs curl and jq)
set -u
here=$(cd "$(dirname "$0")" && pwd)
BUILD=${1:-$here/../../build}
JITGATED=${JITGATED:-$BUILD/src/daemon/jitgated}
JITGATE=$BUILD/src/cli/jitgate
NETPROBE=$BUILD/tests/e2e/netprobe
. "$here/lib.sh"

[[ $(id -u) == 0 ]] || { echo "approvals.sh: needs root (network namespaces, nftables)"; exit 1; }
[[ -x $JITGATED && -x $NETPROBE ]] || { echo "approvals.sh: build first ($JITGATED)"; exit 1; }
command -v curl >/dev/null && command -v jq >/dev/null || { echo "approvals.sh: needs curl and jq (scripts/deps.sh)"; exit 1; }

VM=$(ns_new apvm) && CL=$(ns_new apcl) || exit 1
link_new "$VM" v0 "$CL" c0 || exit 1
V=10.211.0.1 A=10.211.0.2 B=10.211.0.3 M=10.211.0.9
addr_add "$VM" v0 $V/24
for a in $A/24 $B/24 $M/24; do addr_add "$CL" c0 "$a"; done
listen "$VM" 22 3389 || exit 1

STATE=$E2E_TMP/state
SUB=00000000-0000-0000-0000-000000000000
RG=/subscriptions/$SUB/resourceGroups/default
VMID=$RG/providers/Microsoft.Compute/virtualMachines/vm1
POL=$RG/providers/Microsoft.Security/locations/local/jitNetworkAccessPolicies/default
APPROVALS=/subscriptions/$SUB/providers/Jitgate/approvals
LOG=/subscriptions/$SUB/providers/Microsoft.Security/jitActivityLog
AV=api-version=2020-01-01
TIMEOUT_S=5	# approval_timeout below: how long a port waits for approval
printf 'approval_timeout = PT%sS\n' $TIMEOUT_S >"$E2E_TMP/jitgated.conf"

token() { "$JITGATED" token "$@" --state-dir "$STATE"; }
# call [-i ADDR] TOKEN METHOD PATH [BODY]: sets $code and $R (from ADDR; default M).
call() {
	local src=$M
	[[ $1 == -i ]] && { src=$2; shift 2; }
	local tok=$1 m=$2 p=$3 body=${4-}
	local args=(-sS --max-time 5 --cacert "$STATE/tls/cert.pem" --interface "$src" -o "$E2E_TMP/resp" -w '%{http_code}' -X "$m")
	[[ -n $tok ]] && args+=(-H "Authorization: Bearer $tok")
	[[ -n $body ]] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
	code=$(ip netns exec "$CL" curl "${args[@]}" "https://$V:8443$p" 2>"$E2E_TMP/curl.err")
	R=$(cat "$E2E_TMP/resp" 2>/dev/null)
}
j() { jq -r "$@" <<<"$R" 2>/dev/null; }
# answered STATUS JSON: the last call answered STATUS with exactly this body (compact JSON).
answered() { [[ "$code $(jq -c . <<<"$R" 2>/dev/null)" == "$1 $2" ]] || { echo "     (got $code $R)"; return 1; }; }
err_body() { printf '{"error":{"code":"%s","message":"%s","target":"%s","details":[]}}' "$1" "$2" "$3"; }

# ask PORTS_JSON: alice asks from A; the request's id in $RID. PORTS_JSON: '{"number":22,"endTimeUtc":...},...'
ask() {
	call -i $A "$T_ALICE" POST "$POL/initiate?$AV" \
		"{\"virtualMachines\":[{\"id\":\"$VMID\",\"ports\":[$1]}],\"justification\":\"deploy hotfix\"}"
	RID=$(j .id)
}
port() { printf '{"number":%s,"endTimeUtc":"%s"}' "$1" "$(iso_ms "$2")"; }
decide() { call "$1" POST "$POL/$2?$AV" "{\"requestId\":\"$3\"${4:+,\"reason\":\"$4\"}}"; }
# state RID PORT: "STATUS/REASON" of that port of that request, as the policy's GET shows it.
state() {
	call "$T_ADMIN" GET "$POL?$AV"
	j --arg id "$1" --argjson p "$2" '.properties.requests[] | select(.id == $id) | .virtualMachines[0].ports[] |
		select(.number == $p) | "\(.status)/\(.statusReason)"'
}
state_is() { [[ $(state "$1" "$2") == "$3" ]]; }
end_of() { # RID PORT: that port's endTimeUtc in ms
	call "$T_ADMIN" GET "$POL?$AV"
	date -d "$(j --arg id "$1" --argjson p "$2" '.properties.requests[] | select(.id == $id) | .virtualMachines[0].ports[] |
		select(.number == $p) | .endTimeUtc')" +%s%3N
}
approvals_rows() { store_read "$STATE" "SELECT count(*) FROM approvals"; }
nft_grants() { ip netns exec "$VM" nft list table inet jitgate | grep -c 'comment' ; }

echo "1. a policy with an approval rule"
T_ADMIN=$(token create --name admin --role Owner)
T_ALICE=$(token create --name alice --role JitRequester)
T_BOB=$(token create --name bob --role SecurityAdmin --scope "$RG")
T_CAROL=$(token create --name carol --role SecurityAdmin)
T_DAVE=$(token create --name dave --role SecurityAdmin --scope "/subscriptions/$SUB/resourceGroups/other")
T_ERIN=$(token create --name erin --role JitRequester)
jitgated_start "$VM" "$CL" "$STATE" "$V:8443" "$E2E_TMP/jitgated.log" --vm-name vm1 --config "$E2E_TMP/jitgated.conf" ||
	{ notok "jitgated starts"; e2e_summary; exit 1; }
policy() { # the policy with port 22's approval member as given
	printf '{"properties":{"virtualMachines":[{"id":"%s","ports":[
	{"number":22,"protocol":"TCP","allowedSourceAddressPrefix":"10.211.0.0/28","maxRequestAccessDuration":"PT5M"%s},
	{"number":3389,"protocol":"TCP","allowedSourceAddressPrefix":"10.211.0.0/28","maxRequestAccessDuration":"PT5M"}]}]}}' \
		"$VMID" "${1:+,\"approval\":$1}"
}
call "$T_ADMIN" PUT "$POL?$AV" "$(policy '{"approvalsRequired":0,"approverRole":"SecurityAdmin"}')"
check "approvalsRequired 0 is refused, naming it" answered 400 "$(err_body InvalidApproval \
	"approvalsRequired must be from 1 to 10" "properties.virtualMachines[0].ports[0].approval.approvalsRequired")"
call "$T_ADMIN" PUT "$POL?$AV" "$(policy '{"approvalsRequired":1,"approverRole":"Wizard"}')"
check "an unknown approverRole is refused, naming it" answered 400 "$(err_body InvalidApproval \
	"there is no role 'Wizard' (built-in or configured)" "properties.virtualMachines[0].ports[0].approval.approverRole")"
call "$T_ADMIN" PUT "$POL?$AV" "$(policy '{"approvalsRequired":1,"approverRole":"SecurityAdmin","approverScope":"/subscriptions/11111111-1111-1111-1111-111111111111"}')"
check "an approverScope outside the subscription is refused" test "$code $(j .error.code) $(j .error.target)" = \
	"400 InvalidApproval properties.virtualMachines[0].ports[0].approval.approverScope"
check "  … and nothing was stored" test "$(store_read "$STATE" "SELECT count(*) FROM policies")" = 0
call "$T_ADMIN" PUT "$POL?$AV" "$(policy '{"approvalsRequired":2,"approverRole":"SecurityAdmin"}')"
check "PUT with approval (2 by SecurityAdmin) → 200" test "$code" = 200
check "  … the rule shows it, scoped to the VM's resource group by default" test \
	"$(j -c '.properties.virtualMachines[0].ports[0].approval')" = \
	"{\"approvalsRequired\":2,\"approverRole\":\"SecurityAdmin\",\"approverScope\":\"$RG\"}"
check "A is refused on 22 and 3389" bash -c "! ip netns exec $CL $NETPROBE connect -s $A $V 22 400 && ! ip netns exec $CL $NETPROBE connect -s $A $V 3389 400"

echo "2. alice asks for 22: it waits, closed"
T0=$(now_ms)
ask "$(port 22 $((T0 + 6000)))"
ASKED=$(( $(now_ms) - T0 ))	# the time asked for is counted from when jitgated read the ask: 6 s less up to this
check "initiate → 202 with port 22 Pending/AwaitingApproval" test "$code $(j -r '.virtualMachines[0].ports[0] | "\(.status)/\(.statusReason)"')" = "202 Pending/AwaitingApproval"
R1=$RID
check "A cannot reach 22 (real TCP connect refused)" cannot "$CL" $A $V 22
check "the kernel holds no grant" test "$(nft_grants)" = 0
check "the policy's GET shows it Pending" state_is "$R1" 22 Pending/AwaitingApproval

echo "3. who may approve"
decide "$T_ALICE" approve "$R1"
check "alice approving her own request → 403 SelfApprovalNotAllowed" answered 403 "$(err_body SelfApprovalNotAllowed \
	"token:alice asked for request '$R1': a requester cannot approve their own request" requestId)"
decide "$T_DAVE" approve "$R1"
check "dave (SecurityAdmin of another resource group) → 403 NotAnApprover" answered 403 "$(err_body NotAnApprover \
	"deciding on port 22 of $VMID needs the role SecurityAdmin at $RG (or a scope above it)" requestId)"
decide "$T_ERIN" approve "$R1"
check "erin (JitRequester) → 403 NotAnApprover" test "$code $(j .error.code)" = "403 NotAnApprover"
decide "" approve "$R1"
check "no token → 401" test "$code" = 401
decide "$T_BOB" approve "no-such-request"
check "an unknown request → 404 RequestNotFound" answered 404 "$(err_body RequestNotFound \
	"no request 'no-such-request' that asked for approval in the policy '$POL'" requestId)"
call "$T_BOB" POST "$POL/approve?$AV" '{"reason":"x"}'
check "no requestId → 400 naming it" test "$code $(j .error.target)" = "400 requestId"
check "  … none of these recorded an approval" test "$(approvals_rows)" = 0
decide "$T_BOB" approve "$R1" "looks right"
check "bob approves → 200, 1 of 2, still Pending" answered 200 "{\"requestId\":\"$R1\",\"status\":\"Pending\",\"approvals\":1,\"approvalsRequired\":2}"
decide "$T_BOB" approve "$R1"
check "bob again → 409 AlreadyApproved" answered 409 "$(err_body AlreadyApproved \
	"token:bob approved request '$R1' already: each approver counts once" requestId)"
check "A still cannot reach 22" cannot "$CL" $A $V 22
call "$T_CAROL" GET "$APPROVALS?$AV"
check "carol's approvals list: the request, 1 of 2, she may approve" test \
	"$(j -c '[.value[] | {requestId, requestor, approvals, approvalsRequired, canApprove, justification}]')" = \
	"[{\"requestId\":\"$R1\",\"requestor\":\"token:alice\",\"approvals\":1,\"approvalsRequired\":2,\"canApprove\":true,\"justification\":\"deploy hotfix\"}]"
call "$T_ALICE" GET "$APPROVALS?$AV"
check "alice's list shows her request, not hers to approve" test "$(j -c '[.value[] | [.requestId, .canApprove]]')" = "[[\"$R1\",false]]"
call "$T_DAVE" GET "$APPROVALS?$AV"
check "dave (another resource group) sees nothing" test "$code $(j -c .value)" = "200 []"

echo "4. the last approval opens it, for the requester's source only, for the time asked from then"
TA=$(now_ms)
decide "$T_CAROL" approve "$R1" "approved in standup"
TB=$(now_ms)
check "carol approves → 200 Approved (2 of 2)" answered 200 "{\"requestId\":\"$R1\",\"status\":\"Approved\",\"approvals\":2,\"approvalsRequired\":2}"
check "A reaches 22" can "$CL" $A $V 22
check "B (inside the rule, not the requester's) cannot" cannot "$CL" $B $V 22
check "the policy shows it Initiated" state_is "$R1" 22 Initiated/UserRequested
END1=$(end_of "$R1" 22)
check "it ends the time asked for after the approval, not after the ask ($((END1 - TA)) ms after)" \
	test $((END1 - TA)) -ge $((6000 - ASKED)) -a $((END1 - TB)) -le 6000
decide "$T_BOB" approve "$R1"
check "approving it again → 409 RequestNotPending" test "$code $(j .error.code)" = "409 RequestNotPending"

echo "5. denied, and a request left to lapse"
ask "$(port 22 $(($(now_ms) + 60000)))"
R2=$RID
TX=$(now_ms)
ask "$(port 22 $(($(now_ms) + 60000)))"
R3=$RID	# nobody decides: it lapses after approval_timeout
decide "$T_BOB" deny "$R2"
check "deny without a reason → 400 MissingReason" answered 400 "$(err_body MissingReason \
	"a denial needs a reason, for the requester and the log" reason)"
decide "$T_ALICE" deny "$R2" "mine"
check "alice (not an approver) cannot deny → 403" test "$code $(j .error.code)" = "403 NotAnApprover"
decide "$T_BOB" deny "$R2" "not during the freeze"
check "bob denies with a reason → 200 Denied" test "$code $(j .status)" = "200 Denied"
check "the policy shows it Revoked/Denied" state_is "$R2" 22 Revoked/Denied
decide "$T_CAROL" approve "$R2"
check "approving a denied request → 409 RequestNotPending" test "$code $(j .error.code)" = "409 RequestNotPending"

echo "6. a mixed request: 3389 opens at once, 22 waits"
T6=$(now_ms)
ask "$(port 22 $((T6 + 60000))),$(port 3389 $((T6 + 3000)))"
R4=$RID
check "202: 22 Pending, 3389 Initiated" test "$code $(j -c '[.virtualMachines[0].ports[] | [.number, .status]]')" = \
	"202 [[22,\"Pending\"],[3389,\"Initiated\"]]"
check "A reaches 3389 at once" can "$CL" $A $V 3389
check "B cannot reach 3389" cannot "$CL" $B $V 3389

echo "7. extend 3389 (its rule needs no approval)"
extend() { # TOKEN PORT ENDMS [ADDR]
	call -i "${4:-$A}" "$1" POST "$POL/extend?$AV" "{\"virtualMachines\":[{\"id\":\"$VMID\",\"ports\":[$(port "$2" "$3")]}]}"
}
OLD=$(end_of "$R4" 3389)
extend "$T_ALICE" 3389 $((T6 + 8000))
check "alice extends 3389 to +8 s → 200, 1 port" answered 200 '{"extendedPorts":1}'
check "  … the policy shows the new end" test "$(end_of "$R4" 3389)" = "$(date -d "$(iso_ms $((T6 + 8000)))" +%s%3N)"
extend "$T_ALICE" 3389 $((T6 + 7 * 60000))
check "past the rule's maximum from when it opened → 400 EndTimeTooLate" test "$code $(j .error.code) $(j .error.target)" = \
	"400 EndTimeTooLate virtualMachines[0].ports[0].endTimeUtc"
extend "$T_ALICE" 3389 $((T6 + 5000))
check "an earlier end → 400 EndTimeNotLater" test "$code $(j .error.code)" = "400 EndTimeNotLater"
extend "$T_ERIN" 3389 $((T6 + 9000))
check "erin holds no grant on 3389 → 404 NoLiveGrant" test "$code $(j .error.code)" = "404 NoLiveGrant"
sleep_until $((OLD + 1000))
check "a second past the old end A still connects to 3389" can "$CL" $A $V 3389
extend "$T_ADMIN" 3389 $((T6 + 10000))
check "an Owner extends alice's grant → 200" test "$code $(j .extendedPorts)" = "200 1"

echo "8. the pending request lapses"
sleep_until $((TX + TIMEOUT_S * 1000))
eventually_within "the lapsed request shows Revoked/ApprovalExpired" 3 state_is "$R3" 22 Revoked/ApprovalExpired
decide "$T_BOB" approve "$R3"
check "approving it now → 409 RequestNotPending" test "$code $(j .error.code)" = "409 RequestNotPending"
check "A still cannot reach 22 through it (R1 ended)" true

echo "9. every grant closes at its end"
sleep_until $((END1 + 300))
check "22 closed after its end (approved request)" cannot "$CL" $A $V 22
sleep_until $((T6 + 10000 + 300))
check "3389 closed after its extended end" cannot "$CL" $A $V 3389
check "the kernel holds no grant" test "$(nft_grants)" = 0

echo "10. every step in the activity log, with who and why"
call "$T_ADMIN" GET "$LOG?$AV&\$top=200"
row() { j --arg s "$1" --arg c "$2" '[.value[] | select(.status == $s and .caller == $c)] | length'; }
check "asked: Pending by token:alice" test "$(row Pending token:alice)" -ge 3
check "approved: Approved by token:bob (1 of 2)" test "$(row Approved token:bob)" = 1
check "opened: Opened by token:carol" test "$(row Opened token:carol)" = 1
check "  … with carol's reason" test "$(j '[.value[] | select(.status == "Opened")][0].justification')" = "approved in standup"
check "denied: Denied by token:bob, with his reason" test \
	"$(j '[.value[] | select(.status == "Denied")][0] | "\(.caller) \(.justification)"')" = "token:bob not during the freeze"
check "lapsed: Expired by jitgated (operation ApprovalExpire), naming the request" test \
	"$(j --arg r "$R3" '[.value[] | select(.operation == "ApprovalExpire" and .caller == "jitgated" and .status == "Expired" and (.detail | contains($r)))] | length')" = 1
check "extended: Extended by alice and by admin" test "$(row Extended token:alice) $(row Extended token:admin)" = "1 1"
check "refusals: the self-approval, Failed" test \
	"$(j '[.value[] | select(.caller == "token:alice" and .status == "Failed" and (.detail | test("SelfApprovalNotAllowed")))] | length')" = 1

echo "11. the CLI: request, approvals, approve, deny, request --extend"
H=$E2E_TMP/home; mkdir -p "$H"
# jg TOKEN ARGS...: the CLI in the client namespace (its address there is A); sets rc, out, err.
jg() {
	local tok=$1; shift
	ip netns exec "$CL" env -i PATH="$PATH" HOME="$H" TZ=UTC JITGATE_SERVER="https://$V:8443" JITGATE_TOKEN="$tok" \
		JITGATE_CA="$STATE/tls/cert.pem" "$JITGATE" "$@" </dev/null >"$E2E_TMP/out" 2>"$E2E_TMP/err"
	rc=$?
	out=$(<"$E2E_TMP/out")
	err=$(<"$E2E_TMP/err")
}
said() { [[ $rc == "$1" ]] && grep -qE -- "$2" <<<"$out$err" || { echo "     (exit $rc: $out$err)" | head -40; return 1; }; }
jg "$T_ALICE" request vm1 --port 22 --for 1m --reason "cli ask"
check "jitgate request on the approval port says it waits" said 0 "waits for approval"
CR=$(grep -oE '[0-9a-f]{8}-[0-9a-f-]{27}' <<<"$out" | head -1)
jg "$T_BOB" approvals
check "jitgate approvals (bob) lists it, 0/2, his to decide" said 0 "$CR +token:alice +vm1:22 +0/2 .* yes"
jg "$T_ALICE" approve "$CR"
check "jitgate approve of her own request → exit 4, the server's code" said 4 SelfApprovalNotAllowed
jg "$T_BOB" approve "$CR" --reason "ok by me"
check "jitgate approve (bob) → approval 1 of 2" said 0 "approval 1 of 2; it waits for more"
jg "$T_CAROL" approve "$CR"
check "jitgate approve (carol) → open" said 0 "approval 2 of 2; its ports are open now"
check "  … A reaches 22" can "$CL" $A $V 22
jg "$T_BOB" approve "$CR"
check "approving it again → exit 1, it waits no more" said 1 "no request $CR waits for approval"
jg "$T_ALICE" request vm1 --port 22 --for 1m
CR2=$(grep -oE '[0-9a-f]{8}-[0-9a-f-]{27}' <<<"$out" | head -1)
jg "$T_BOB" deny "$CR2"
check "jitgate deny without --reason → exit 2" said 2 "a denial needs a reason"
jg "$T_BOB" deny "$CR2" --reason "freeze"
check "jitgate deny --reason → denied" said 0 "Request $CR2 denied"
check "  … the policy shows it Revoked/Denied" state_is "$CR2" 22 Revoked/Denied
jg "$T_ALICE" request vm1 --port 3389 --for 1m
CR3=$(grep -oE '[0-9a-f]{8}-[0-9a-f-]{27}' <<<"$out" | head -1)
E0=$(end_of "$CR3" 3389)
jg "$T_ALICE" request vm1 --port 3389 --extend 2m
check "jitgate request --extend 2m → extended" said 0 "Port 3389 of vm1 extended until"
check "  … its end moved 2 minutes" test $(( $(end_of "$CR3" 3389) - E0 )) = 120000
jg "$T_ALICE" request vm1 --port 3389 --extend 10m
check "past the rule's maximum → exit 1, EndTimeTooLate" said 1 EndTimeTooLate
jg "$T_ALICE" request vm1 --port 22 --extend 1m
check "extending the approval port asks its approvers" said 0 "0 port\\(s\\) of vm1 extended; 1 need approval to be: request [0-9a-f-]+ waits"
jg "$T_ERIN" request vm1 --port 3389 --extend 1m
check "erin holds nothing to extend → exit 1" said 1 "you hold no open grant on vm1"

echo "12. an agent VM: extend moves the end its agent is told (desired state with absolute end times)"
JT=/subscriptions/$SUB/providers/Jitgate/joinTokens
call "$T_ADMIN" POST "$JT?$AV" '{"resourceGroup":"fleet","uses":1}'
JTS=$(j .token)
call "$JTS" POST /agent/v1/join '{"name":"agent1","osType":"Linux","revision":-1,"version":"e2e-1.0","kernel":{"supported":true},"addresses":["192.0.2.61"],"listening":[]}'
check "an agent joins as agent1 (201)" test "$code" = 201
AVM=$(j .vm) CRED=$(j .credential)
POL2=/subscriptions/$SUB/resourceGroups/fleet/providers/Microsoft.Security/locations/local/jitNetworkAccessPolicies/default
call "$T_ADMIN" PUT "$POL2?$AV" "{\"properties\":{\"virtualMachines\":[{\"id\":\"$AVM\",\"ports\":[{\"number\":22,\"protocol\":\"TCP\",\"allowedSourceAddressPrefix\":\"*\",\"maxRequestAccessDuration\":\"PT5M\"}]}]}}"
check "a policy on agent1's port 22 (200)" test "$code" = 200
T12=$(now_ms)
call -i $A "$T_ALICE" POST "$POL2/initiate?$AV" "{\"virtualMachines\":[{\"id\":\"$AVM\",\"ports\":[$(port 22 $((T12 + 60000)))]}]}"
check "alice asks agent1's 22 for a minute (202)" test "$code" = 202
agent_end() { call "$CRED" GET "/agent/v1$AVM/state?since=-1"; date -d "$(j '.grants[0].endTimeUtc')" +%s%3N; }
REV1=$(call "$CRED" GET "/agent/v1$AVM/state?since=-1"; j .revision)
check "its agent is told that end" test "$(agent_end)" = "$(date -d "$(iso_ms $((T12 + 60000)))" +%s%3N)"
call -i $A "$T_ALICE" POST "$POL2/extend?$AV" "{\"virtualMachines\":[{\"id\":\"$AVM\",\"ports\":[$(port 22 $((T12 + 120000)))]}]}"
check "alice extends it by a minute (200)" test "$code $(j .extendedPorts)" = "200 1"
check "its agent is told the new end, at a newer revision" test \
	"$(agent_end) $(( $(call "$CRED" GET "/agent/v1$AVM/state?since=-1"; j .revision) > REV1 ))" = "$(date -d "$(iso_ms $((T12 + 120000)))" +%s%3N) 1"

echo "13. extending a port that needs approval: its approvers decide, then one kernel update"
call "$T_ADMIN" POST "$POL/revoke?$AV" "{\"virtualMachines\":[{\"id\":\"$VMID\",\"ports\":[{\"number\":22}]}]}"
check "22's earlier grants are revoked first (so what opens below is this request's)" test "$code" = 200
check "  … A cannot reach 22" cannot "$CL" $A $V 22
T13=$(now_ms)
ask "$(port 22 $((T13 + 4000)))"
R6=$RID
decide "$T_BOB" approve "$R6" && decide "$T_CAROL" approve "$R6"
check "R6 approved and open" test "$code $(j .status)" = "200 Approved"
END6=$(end_of "$R6" 22)
NEW6=$((END6 + 5000))
extend "$T_ALICE" 22 $NEW6
X=$(j .requestId)
check "alice's extend of 22 → 202, it waits for approval" test "$code $(j .extendedPorts) $(j .pendingPorts)" = "202 0 1"
check "  … the grant's end is unchanged so far" test "$(end_of "$R6" 22)" = "$END6"
decide "$T_ALICE" approve "$X"
check "alice cannot approve her own extension → 403 SelfApprovalNotAllowed" test "$code $(j .error.code)" = "403 SelfApprovalNotAllowed"
decide "$T_BOB" approve "$X" "ok"
check "bob approves it: 1 of 2" test "$code $(j .status) $(j .approvals)" = "200 Pending 1"
decide "$T_CAROL" approve "$X" "fine"
check "carol approves it: the grant now ends where alice asked" test "$code $(j .status) $(end_of "$R6" 22)" = \
	"200 Approved $(date -d "$(iso_ms $NEW6)" +%s%3N)"
sleep_until $((END6 + 1000))
check "a second past the old end A still connects to 22" can "$CL" $A $V 22
sleep_until $((NEW6 + 300))
check "22 closed after the approved end" cannot "$CL" $A $V 22
call "$T_ADMIN" GET "$LOG?$AV&\$top=50"
check "the log: Extended by token:carol, approving request $X" test \
	"$(j --arg x "$X" '[.value[] | select(.status == "Extended" and .caller == "token:carol" and (.detail | contains($x)))] | length')" = 1

echo "14. jitgated stops cleanly"
kill -TERM "$JITGATED_PID"
for ((i = 0; i < 50; i++)); do kill -0 "$JITGATED_PID" 2>/dev/null || break; sleep 0.1; done
check "jitgated exits on SIGTERM within 5 s" bash -c '! kill -0 "$1" 2>/dev/null' _ "$JITGATED_PID"
check "  … and its log holds no sanitizer report (a sanitizer build)" bash -c '! grep -q Sanitizer "$1"' _ "$E2E_TMP/jitgated.log"

e2e_summary

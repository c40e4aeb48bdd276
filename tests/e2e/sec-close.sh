#!/usr/bin/env bash
# End-to-end: closing access never depends on the disk, and every way of taking access away closes what it
# should, in the store and in the kernel, with real TCP connections:
#   (1) revoking a token ends its holder's live grants (Revoked / TokenRevoked) unless ?keepGrants=true;
#   (2) lowering a rule's maxRequestAccessDuration cuts longer live grants short (store and kernel timeout);
#   (3) narrowing a rule's sources, removing a port or a VM from a policy, deleting a policy end the grants
#       no longer allowed (Revoked / PolicyChanged);
#   (4) on a full disk a revoke still closes the port (200, recordPending), a reconcile and a restart do not
#       open it again, and once there is room the store records it Revoked;
#   (5) on a full disk a policy write that narrows sources is refused (503) but closes what it would have
#       ended, and the store records that later; so does a token revoke.
# Usage: tests/e2e/sec-close.sh [BUILD_DIR]   (as root; needs curl, jq)
set -u
here=$(cd "$(dirname "$0")" && pwd)
BUILD=${1:-$here/../../build}
JITGATED=$BUILD/src/daemon/jitgated
NETPROBE=$BUILD/tests/e2e/netprobe
. "$here/lib.sh"

[[ $(id -u) == 0 ]] || { echo "sec-close.sh: needs root"; exit 1; }
for t in curl jq; do command -v $t >/dev/null || { echo "sec-close.sh: needs $t (scripts/deps.sh)"; exit 1; }; done
MNT=$E2E_TMP/disk
mkdir -p "$MNT"
mount -t tmpfs -o size=16m,mode=0700 jitgate-e2e-close "$MNT" || { echo "sec-close.sh: cannot mount a tmpfs"; exit 1; }
trap 'e2e_cleanup; mountpoint -q "$MNT" && { umount "$MNT" 2>/dev/null || umount -l "$MNT"; }; rm -rf "$E2E_TMP"' EXIT

VM=$(ns_new cvm) && CL=$(ns_new ccl) || exit 1
link_new "$VM" v0 "$CL" c0 || exit 1
V=10.215.0.1
addr_add "$VM" v0 $V/24
for ((i = 2; i <= 12; i++)); do addr_add "$CL" c0 10.215.0.$i/24; done
listen "$VM" 22 3389 || exit 1

STATE=$MNT/state
TOKEN=$("$JITGATED" token create --state-dir "$STATE" --name admin --role Owner) || exit 1
ALICE=$("$JITGATED" token create --state-dir "$STATE" --name alice --role JitRequester) || exit 1
BOB=$("$JITGATED" token create --state-dir "$STATE" --name bob --role JitRequester) || exit 1
CAROL=$("$JITGATED" token create --state-dir "$STATE" --name carol --role JitRequester) || exit 1
DAVE=$("$JITGATED" token create --state-dir "$STATE" --name dave --role JitRequester) || exit 1
ERIN=$("$JITGATED" token create --state-dir "$STATE" --name erin --role JitRequester) || exit 1
FRANK=$("$JITGATED" token create --state-dir "$STATE" --name frank --role JitRequester) || exit 1
JGCLI=$BUILD/src/cli/jitgate
start_jitgated() {
	ip netns exec "$VM" "$JITGATED" --single-process --state-dir "$STATE" --listen $V:8443 --vm-name vm1 >>"$E2E_TMP/jitgated.log" 2>&1 &
	JG=$!
	E2E_PIDS+=($JG)
}
stop_jitgated() { # SIGTERM, ≤ 5 s
	local i
	kill -TERM $JG 2>/dev/null
	for ((i = 0; i < 50; i++)); do kill -0 $JG 2>/dev/null || break; sleep 0.1; done
	wait $JG 2>/dev/null
}
S=/subscriptions/00000000-0000-0000-0000-000000000000
P=$S/resourceGroups/default/providers/Microsoft.Security/locations/local/jitNetworkAccessPolicies/default
VMID=$S/resourceGroups/default/providers/Microsoft.Compute/virtualMachines/vm1
Q=api-version=2020-01-01
CODE= BODY=
# call [-t TOKEN] METHOD PATH [BODY]: sets CODE and BODY
call() {
	local tok=$TOKEN
	[[ $1 == -t ]] && { tok=$2; shift 2; }
	local args=(-sS --max-time 10 --cacert "$STATE/tls/cert.pem" -H "Authorization: Bearer $tok" -X "$1"
		-o "$E2E_TMP/body" -w '%{http_code}')
	[[ $# -ge 3 ]] && args+=(-H 'Content-Type: application/json' -d "$3")
	CODE=$(ip netns exec "$CL" curl "${args[@]}" "https://$V:8443$2" 2>"$E2E_TMP/curl.err")
	BODY=$(cat "$E2E_TMP/body" 2>/dev/null)
}
wait_healthy() {
	local i
	for ((i = 0; i < 100; i++)); do
		call GET /healthz
		[[ $CODE == 200 ]] && return 0
		sleep 0.05
	done
	return 1
}
start_jitgated
wait_healthy || { notok "set-up: jitgated answers /healthz"; e2e_summary; exit 1; }

rule() { # PORT SOURCE MAX
	echo '{"number":'$1',"protocol":"TCP","allowedSourceAddressPrefix":"'$2'","maxRequestAccessDuration":"'$3'"}'
}
policy_body() { # RULE_JSON,...
	echo '{"properties":{"virtualMachines":[{"id":"'$VMID'","ports":['"$1"']}]}}'
}
# initiate [-t TOKEN] PORT SRC MINUTES: sets RID (the request id)
initiate() {
	local t=(); [[ $1 == -t ]] && { t=(-t "$2"); shift 2; }
	call "${t[@]}" POST "$P/initiate?$Q" '{"virtualMachines":[{"id":"'$VMID'","ports":[{"number":'$1',"endTimeUtc":"'$(date -u -d "+$3 min" +%FT%TZ)'","allowedSourceAddressPrefix":"'$2'"}]}],"justification":"close test"}'
	RID=$(jq -r .id <<<"$BODY" 2>/dev/null)
}
# grant_of RID: the request's first port as GET policy shows it (status, statusReason, endTimeUtc, recordPending)
grant_of() {
	call GET "$P?$Q"
	jq -c --arg id "$1" '.properties.requests[] | select(.id == $id) | .virtualMachines[0].ports[0] |
		{status, statusReason, endTimeUtc, recordPending}' <<<"$BODY" 2>/dev/null
}
# kernel_left RID: seconds the kernel element of this request has left, or "none"
kernel_left() {
	ip netns exec "$VM" nft -j list table inet jitgate 2>/dev/null | jq -r --arg id "$1" '[.nftables[] |
		select(.set and (.set.name | test("grant"))) | .set.elem[]? | .elem | select(.comment == $id) | .expires] |
		if length == 0 then "none" else max end'
}
revoke_body() { # PORT
	echo '{"virtualMachines":[{"id":"'$VMID'","ports":[{"number":'$1'}]}]}'
}
ALL=10.215.0.0/24
call PUT "$P?$Q" "$(policy_body "$(rule 22 $ALL PT1H),$(rule 3389 $ALL PT1H)")"
check "set-up: policy PUT ($CODE)" test "$CODE" = 200

echo "  .. (1) revoking a token ends its live grants, unless asked to keep them"
initiate -t "$ALICE" 22 10.215.0.2 30; R_ALICE=$RID
check "alice's initiate ($CODE)" test "$CODE" = 202
check "10.215.0.2 reaches 22 (alice's grant)" can "$CL" 10.215.0.2 $V 22
initiate -t "$BOB" 22 10.215.0.3 30; R_BOB=$RID
check "bob's initiate ($CODE)" test "$CODE" = 202
call DELETE "$S/providers/Jitgate/tokens/bob?$Q&keepGrants=perhaps"
check "keepGrants=perhaps is a 400 ($CODE $(jq -r .error.code <<<"$BODY" 2>/dev/null))" test "$CODE" = 400
call DELETE "$S/providers/Jitgate/tokens/alice?$Q"
check "revoke alice's token: 200 ($CODE $BODY)" test "$CODE" = 200
check "alice's port was counted closed ($(jq -c .revokedPorts <<<"$BODY" 2>/dev/null))" test "$(jq .revokedPorts <<<"$BODY")" = 1
check "10.215.0.2 no longer reaches 22" cannot "$CL" 10.215.0.2 $V 22
g=$(grant_of "$R_ALICE")
check "alice's grant is Revoked / TokenRevoked in the store ($g)" test "$(jq -r '.status + "/" + .statusReason' <<<"$g")" = Revoked/TokenRevoked
check "alice's kernel element is gone ($(kernel_left "$R_ALICE"))" test "$(kernel_left "$R_ALICE")" = none
call DELETE "$S/providers/Jitgate/tokens/bob?$Q&keepGrants=true"
check "revoke bob's token keeping its grants: 200 ($CODE $BODY)" test "$CODE" = 200
check "10.215.0.3 still reaches 22 (bob's grant kept)" can "$CL" 10.215.0.3 $V 22
g=$(grant_of "$R_BOB")
check "bob's grant is still Initiated ($g)" test "$(jq -r .status <<<"$g")" = Initiated
call -t "$ALICE" GET "$P?$Q"
check "alice's token is refused now ($CODE)" test "$CODE" = 401
# the CLI: jitgate token revoke [--keep-grants]
jg() { ip netns exec "$CL" env -i PATH="$PATH" HOME="$E2E_TMP" JITGATE_SERVER="https://$V:8443" JITGATE_TOKEN="$TOKEN" \
	JITGATE_CA="$STATE/tls/cert.pem" "$JGCLI" "$@" >"$E2E_TMP/cli.out" 2>&1; }
initiate -t "$ERIN" 3389 10.215.0.10 30; R_ERIN=$RID
initiate -t "$FRANK" 22 10.215.0.12 30; R_FRANK=$RID
check "jitgate token revoke erin --keep-grants" jg token revoke erin --keep-grants
check "  keeps erin's grant (10.215.0.10 reaches 3389)" can "$CL" 10.215.0.10 $V 3389
check "jitgate token revoke frank ($(cat "$E2E_TMP/cli.out"))" jg token revoke frank
check "  closes frank's grant (10.215.0.12 no longer reaches 22)" cannot "$CL" 10.215.0.12 $V 22
check "  Revoked / TokenRevoked" test "$(jq -r '.status + "/" + .statusReason' <<<"$(grant_of "$R_FRANK")")" = Revoked/TokenRevoked
# offline, on the state directory of the running server: the store ends the grants, a reconcile closes them
initiate -t "$DAVE" 22 10.215.0.11 30; R_DAVE=$RID
check "dave's initiate ($CODE)" test "$CODE" = 202
out=$("$JITGATED" token revoke --state-dir "$STATE" dave 2>&1)
check "jitgated token revoke dave (offline): $out" test -n "$out"
check "  ended dave's grant in the store (Revoked / TokenRevoked)" \
	test "$(jq -r '.status + "/" + .statusReason' <<<"$(grant_of "$R_DAVE")")" = Revoked/TokenRevoked
kill -HUP $JG; sleep 0.5
check "  and after a reconcile (SIGHUP) 10.215.0.11 no longer reaches 22" cannot "$CL" 10.215.0.11 $V 22

echo "  .. (2) lowering maxRequestAccessDuration cuts longer live grants short"
initiate 3389 10.215.0.4 50; R_LONG=$RID
check "a 50-minute grant on 3389 ($CODE)" test "$CODE" = 202
left=$(kernel_left "$R_LONG")
check "its kernel element has ~50 min left ($left s)" test "$left" != none -a "${left:-0}" -gt 2900
call PUT "$P?$Q" "$(policy_body "$(rule 22 $ALL PT1H),$(rule 3389 $ALL PT10M)")"
check "policy PUT lowering 3389's maximum to PT10M ($CODE)" test "$CODE" = 200
g=$(grant_of "$R_LONG") limit=$(( $(date +%s) + 600 + 2 ))
end=$(date -d "$(jq -r .endTimeUtc <<<"$g")" +%s 2>/dev/null || echo 0)
check "the grant is still Initiated, now ending within 10 min ($g)" \
	test "$(jq -r .status <<<"$g")" = Initiated -a "$end" -le "$limit" -a "$end" -gt $((limit - 60))
left=$(kernel_left "$R_LONG")
check "its kernel element now has at most 10 min left ($left s)" test "$left" != none -a "${left:-9999}" -le 601
check "10.215.0.4 still reaches 3389 (cut short, not closed)" can "$CL" 10.215.0.4 $V 3389

echo "  .. (3) a policy write that no longer allows a grant ends it"
initiate 22 10.215.0.5 30; R_NARROW=$RID
check "a grant on 22 for 10.215.0.5 ($CODE)" test "$CODE" = 202
call PUT "$P?$Q" "$(policy_body "$(rule 22 10.215.0.0/29 PT1H),$(rule 3389 $ALL PT10M)")"
check "policy PUT narrowing 22's sources to 10.215.0.0/29 ($CODE)" test "$CODE" = 200
check "10.215.0.5 (inside /29) still reaches 22" can "$CL" 10.215.0.5 $V 22
call PUT "$P?$Q" "$(policy_body "$(rule 22 10.215.0.0/30 PT1H),$(rule 3389 $ALL PT10M)")"
check "policy PUT narrowing 22's sources to 10.215.0.0/30 ($CODE)" test "$CODE" = 200
check "10.215.0.5 (outside /30) no longer reaches 22" cannot "$CL" 10.215.0.5 $V 22
g=$(grant_of "$R_NARROW")
check "its grant is Revoked / PolicyChanged ($g)" test "$(jq -r '.status + "/" + .statusReason' <<<"$g")" = Revoked/PolicyChanged
check "its kernel element is gone" test "$(kernel_left "$R_NARROW")" = none
call PUT "$P?$Q" "$(policy_body "$(rule 22 10.215.0.0/30 PT1H)")"
check "policy PUT removing port 3389 ($CODE)" test "$CODE" = 200
g=$(grant_of "$R_LONG")
check "the 3389 grant is Revoked / PolicyChanged ($g)" test "$(jq -r '.status + "/" + .statusReason' <<<"$g")" = Revoked/PolicyChanged
check "its kernel element is gone" test "$(kernel_left "$R_LONG")" = none
call PUT "$P?$Q" "$(policy_body "$(rule 22 $ALL PT1H),$(rule 3389 $ALL PT1H)")"
initiate 3389 10.215.0.6 30; R_VM=$RID
check "a grant on 3389 for 10.215.0.6 ($CODE)" test "$CODE" = 202
call PUT "$P?$Q" '{"properties":{"virtualMachines":[]}}'
check "policy PUT removing the VM ($CODE)" test "$CODE" = 200
g=$(grant_of "$R_VM")
check "the VM's grants are Revoked / PolicyChanged ($g)" test "$(jq -r '.status + "/" + .statusReason' <<<"$g")" = Revoked/PolicyChanged
check "bob's kept grant went with them" test "$(jq -r .status <<<"$(grant_of "$R_BOB")")" = Revoked
check "their kernel elements are gone" test "$(kernel_left "$R_VM")$(kernel_left "$R_BOB")" = nonenone
call PUT "$P?$Q" "$(policy_body "$(rule 22 $ALL PT1H),$(rule 3389 $ALL PT1H)")"
initiate 22 10.215.0.7 30; R_DEL=$RID
call DELETE "$P?$Q"
check "policy DELETE ($CODE)" test "$CODE" = 200
check "the deleted policy's grant left the kernel" test "$(kernel_left "$R_DEL")" = none
call PUT "$P?$Q" "$(policy_body "$(rule 22 $ALL PT1H),$(rule 3389 $ALL PT1H)")"
check "policy PUT again ($CODE)" test "$CODE" = 200

fill() { dd if=/dev/zero of="$MNT/filler" bs=64k status=none 2>/dev/null; dd if=/dev/zero of="$MNT/filler2" bs=4k status=none 2>/dev/null; }
unfill() { rm -f "$MNT/filler" "$MNT/filler2"; }
# wait_for CMD...: up to 5 s
wait_for() { local i; for ((i = 0; i < 50; i++)); do "$@" && return 0; sleep 0.1; done; return 1; }

echo "  .. (4) a revoke on a full disk closes the port, and a restart does not open it again"
initiate 22 10.215.0.8 30; R_FULL=$RID
check "a grant on 22 for 10.215.0.8 ($CODE)" test "$CODE" = 202
initiate -t "$CAROL" 3389 10.215.0.9 30; R_KEEP=$RID
check "carol's grant on 3389 for 10.215.0.9 ($CODE)" test "$CODE" = 202
check "10.215.0.8 reaches 22" can "$CL" 10.215.0.8 $V 22
fill
echo "     $(df -k --output=used,avail "$MNT" | tail -1 | awk '{print "used " $1 " KiB, available " $2 " KiB"}')"
initiate 22 10.215.0.10 30
check "the disk is full: an initiate is refused with 503 ($CODE)" test "$CODE" = 503
call POST "$P/revoke?$Q" "$(revoke_body 22)"
echo "     POST revoke -> $CODE $BODY"
check "revoke on a full disk answers 200 ($CODE)" test "$CODE" = 200
check "  and says the record is pending" test "$(jq -r .recordPending <<<"$BODY" 2>/dev/null)" = true
check "10.215.0.8 no longer reaches 22" cannot "$CL" 10.215.0.8 $V 22
g=$(grant_of "$R_FULL")
check "GET shows it Revoked, record pending ($g)" test "$(jq -r '.status + "/" + (.recordPending | tostring)' <<<"$g")" = Revoked/true
kill -HUP $JG; sleep 0.5
check "a reconcile (SIGHUP) does not open it again" cannot "$CL" 10.215.0.8 $V 22
check "carol's grant on 3389 is untouched (10.215.0.9 reaches 3389)" can "$CL" 10.215.0.9 $V 3389
stop_jitgated
start_jitgated
sleep 1
check "10.215.0.8 still cannot reach 22 after a restart attempt on the full disk" cannot "$CL" 10.215.0.8 $V 22
stop_jitgated
unfill
start_jitgated
check "jitgated starts again once there is room" wait_healthy
check "10.215.0.8 still cannot reach 22 after the restart (the close journal was read)" cannot "$CL" 10.215.0.8 $V 22
g=$(grant_of "$R_FULL")
check "the store has recorded it: Revoked / UserRequested, nothing pending ($g)" \
	test "$(jq -r '.status + "/" + .statusReason + "/" + (.recordPending | tostring)' <<<"$g")" = Revoked/UserRequested/null
check "the kernel element is gone" test "$(kernel_left "$R_FULL")" = none
call GET "$S/providers/Microsoft.Security/jitActivityLog?$Q&\$top=50"
check "the activity log says it was closed while the store refused writes" \
	bash -c 'jq -e --arg id "$1" "[.value[] | select((.detail // .properties.detail // \"\" | tostring) | test(\"request \" + \$id + \" was closed at .* refused writes\"))] | length > 0" <<<"$2" >/dev/null' _ "$R_FULL" "$BODY"
check "carol's grant survived all that (10.215.0.9 reaches 3389)" can "$CL" 10.215.0.9 $V 3389

echo "  .. (5) on a full disk a narrowing policy write and a token revoke close what they would end"
initiate 22 10.215.0.11 30; R_P=$RID
check "a grant on 22 for 10.215.0.11 ($CODE)" test "$CODE" = 202
check "10.215.0.11 reaches 22" can "$CL" 10.215.0.11 $V 22
fill
call PUT "$P?$Q" "$(policy_body "$(rule 22 10.215.0.0/29 PT1H),$(rule 3389 $ALL PT1H)")"
echo "     PUT policy -> $CODE $(jq -r .error.message <<<"$BODY" 2>/dev/null)"
check "the narrowing PUT is refused with 503 ($CODE)" test "$CODE" = 503
check "  and says the grant it ends was closed all the same" \
	bash -c '[[ $(jq -r .error.message <<<"$1") == *"closed in the kernel all the same"* ]]' _ "$BODY"
check "10.215.0.11 (outside /29) no longer reaches 22" cannot "$CL" 10.215.0.11 $V 22
call DELETE "$S/providers/Jitgate/tokens/carol?$Q"
echo "     DELETE token -> $CODE $(jq -r .error.message <<<"$BODY" 2>/dev/null)"
check "revoking carol's token on a full disk is refused with 503 ($CODE)" test "$CODE" = 503
check "  but carol's grant is closed (10.215.0.9 no longer reaches 3389)" cannot "$CL" 10.215.0.9 $V 3389
kill -HUP $JG; sleep 0.5
check "a reconcile does not open them again" \
	bash -c '! ip netns exec "$1" "$2" connect -s 10.215.0.11 "$3" 22 400 && ! ip netns exec "$1" "$2" connect -s 10.215.0.9 "$3" 3389 400' \
	_ "$CL" "$NETPROBE" $V
unfill
recorded() { [[ $(jq -r '.status + "/" + .statusReason + "/" + (.recordPending | tostring)' <<<"$(grant_of "$1")") == Revoked/$2/null ]]; }
check "once there is room the store records the policy's close (Revoked / PolicyChanged)" wait_for recorded "$R_P" PolicyChanged
check "and the token's (Revoked / TokenRevoked)" wait_for recorded "$R_KEEP" TokenRevoked
call GET "$P?$Q"
check "the policy itself is as it was (22 still allows $ALL)" \
	test "$(jq -r '.properties.virtualMachines[0].ports[0].allowedSourceAddressPrefix' <<<"$BODY")" = $ALL
call -t "$CAROL" GET "$P?$Q"
check "carol's token is still valid (its revoke was refused: $CODE)" test "$CODE" = 200
check "jitgated ran throughout" kill -0 $JG
e2e_summary

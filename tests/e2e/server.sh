#!/usr/bin/env bash
# End-to-end test of jitgated: the real server in a namespace, its HTTPS API driven with curl, access checked with real TCP.
#
#   client (M, A, B, C, X; A6, B6) ──veth── vm (jitgated on V:8443, listeners on 22, 3389, 5985)
#
# M is the admin's workstation, A B C lie inside the policy's 10.210.0.0/28, X outside it.
# Usage: tests/e2e/server.sh [BUILD_DIR]   (as root; needs curl and jq)
set -u
here=$(cd "$(dirname "$0")" && pwd)
BUILD=${1:-$here/../../build}
JITGATED=${JITGATED:-$BUILD/src/daemon/jitgated}	# on-pg.sh gives one whose store is PostgreSQL
NETPROBE=$BUILD/tests/e2e/netprobe
. "$here/lib.sh"

[[ $(id -u) == 0 ]] || { echo "server.sh: needs root (network namespaces, nftables)"; exit 1; }
[[ -x $JITGATED && -x $NETPROBE ]] || { echo "server.sh: build first ($JITGATED)"; exit 1; }
command -v curl >/dev/null && command -v jq >/dev/null || { echo "server.sh: needs curl and jq (scripts/deps.sh)"; exit 1; }

VM=$(ns_new vm) && CL=$(ns_new cl) || exit 1
link_new "$VM" v0 "$CL" c0 || exit 1
V=10.210.0.1 V6=fd00:210::1
M=10.210.0.9 A=10.210.0.2 B=10.210.0.3 C=10.210.0.4 X=10.210.0.40
A6=fd00:210::2 B6=fd00:210::3
addr_add "$VM" v0 $V/24; addr_add "$VM" v0 $V6/64
for a in $M/24 $A/24 $B/24 $C/24 $X/24 $A6/64 $B6/64; do addr_add "$CL" c0 "$a"; done
listen "$VM" 22 3389 5985 || exit 1

STATE=$E2E_TMP/state
SUB=00000000-0000-0000-0000-000000000000
VMID=/subscriptions/$SUB/resourceGroups/default/providers/Microsoft.Compute/virtualMachines/vm1
POL=/subscriptions/$SUB/resourceGroups/default/providers/Microsoft.Security/locations/local/jitNetworkAccessPolicies/default
POLS=/subscriptions/$SUB/providers/Microsoft.Security/jitNetworkAccessPolicies
VMS=/subscriptions/$SUB/providers/Microsoft.Compute/virtualMachines
LOG=/subscriptions/$SUB/providers/Microsoft.Security/jitActivityLog
AV=api-version=2020-01-01
SRVLOG=$E2E_TMP/jitgated.log

# ---- helpers ----

token() { "$JITGATED" token "$@" --state-dir "$STATE"; }

# call TOKEN METHOD PATH [BODY [CURL_ARGS...]]: sets $code (HTTP status) and $R (body); from $SRC (default M).
SRC=$M
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
errcode() { j '.error.code // empty'; }

# expect STATUS [ERRORCODE] DESCRIPTION: the last call answered STATUS (and that error code).
expect() {
	local st=$1 ec= what=${!#}
	(( $# == 3 )) && ec=$2
	local got="$code${ec:+ $(errcode)}"
	check "$what → $st${ec:+ $ec} (got $got)" test "$got" = "$st${ec:+ $ec}"
}
is_token() { [[ $1 =~ ^jg_[A-Za-z0-9_-]{40,}$ ]]; }

iso() { # UNIXMS → RFC 3339 UTC with milliseconds
	date -u -d "@$(( $1 / 1000 )).$(printf %03d $(( $1 % 1000 )))" +%Y-%m-%dT%H:%M:%S.%3NZ
}

# initiate_body PORT ENDMS [SOURCE]: one port of vm1; no SOURCE means "my IP".
initiate_body() {
	printf '{"virtualMachines":[{"id":"%s","ports":[{"number":%s,"endTimeUtc":"%s"%s}]}],"justification":"e2e"}' \
		"$VMID" "$1" "$(iso "$2")" "${3:+,\"allowedSourceAddressPrefix\":\"$3\"}"
}
initiate() { call "$1" POST "$POL/initiate?$AV" "$(initiate_body "$2" "$3" "${4-}")"; }
revoke_body() { printf '{"virtualMachines":[{"id":"%s","ports":[{"number":%s}]}]%s}' "$VMID" "$1" "${2:+,\"terminateSessions\":$2}"; }

# port_state REQUEST_ID: "STATUS/REASON" of that request's first port in the policy as GET shows it.
port_state() {
	call "$T_ADMIN" GET "$POL?$AV"
	j --arg id "$1" '.properties.requests[] | select(.id == $id) | .virtualMachines[0].ports[0] | "\(.status)/\(.statusReason)"'
}
# port_state_is REQUEST_ID WANT [SECONDS]: polls (bounded) until the port shows WANT.
port_state_is() {
	local i n=$(( ${3:-0} * 10 ))
	for ((i = 0; i <= n; i++)); do
		[[ $(port_state "$1") == "$2" ]] && return 0
		(( i < n )) && sleep 0.1
	done
	echo "     (request $1 shows '$(port_state "$1")', wanted '$2')"
	return 1
}

start_server() {
	ip netns exec "$VM" "$JITGATED" --single-process --state-dir "$STATE" --listen "$V:8443" --vm-name vm1 >>"$SRVLOG" 2>&1 &
	SRV=$!
	E2E_PIDS+=($SRV)
	local i
	for ((i = 0; i < 100; i++)); do
		[[ -f $STATE/tls/cert.pem ]] && [[ $(ip netns exec "$CL" curl -s --max-time 1 --cacert "$STATE/tls/cert.pem" \
			-o /dev/null -w '%{http_code}' "https://$V:8443/healthz") == 200 ]] && return 0
		kill -0 "$SRV" 2>/dev/null || break
		sleep 0.05
	done
	echo "jitgated did not become healthy: $(tail -5 "$SRVLOG")" >&2
	return 1
}
# stop_server SIGNAL: signal jitgated and wait (≤ 5 s) until it is gone; its exit status in $SRV_RC.
# (stderr off: bash would report "Killed" for -9, which is the point)
stop_server() {
	local i
	{
		kill -"$1" "$SRV"
		for ((i = 0; i < 50; i++)); do
			kill -0 "$SRV" || break
			sleep 0.1
		done
		kill -0 "$SRV" && { kill -9 "$SRV"; notok "jitgated ignored SIG$1 for 5 s" >&3; }
		wait "$SRV"
		SRV_RC=$?
	} 3>&1 2>/dev/null
}

nft_rules() { ip netns exec "$VM" nft list table inet jitgate 2>&1 | sed -E 's/ (timeout|expires) [0-9hmsd]+//g'; }
# snapshot: what a failed write must leave alone (the policy as GET shows it, and the kernel table).
snapshot() {
	local c=$code r=$R
	call "$T_ADMIN" GET "$POL?$AV"
	jq -S . <<<"$R"
	nft_rules
	code=$c R=$r
}
unchanged() { check "  … and nothing changed (policy and nft table)" test "$(snapshot)" = "$BEFORE"; }

hold() { # hold SRC PORT MS OUTFILE: a session in the background; its pid in $HOLD
	ip netns exec "$CL" "$NETPROBE" hold -s "$1" $V "$2" "$3" >"$4" 2>&1 &
	HOLD=$!
	E2E_PIDS+=($HOLD)
}

POLICY_BODY=$(printf '{"kind":"Basic","properties":{"virtualMachines":[{"id":"%s","ports":[
	{"number":22,"protocol":"TCP","allowedSourceAddressPrefixes":["10.210.0.0/28","fd00:210::/64"],"maxRequestAccessDuration":"PT1H"},
	{"number":5985,"protocol":"*","allowedSourceAddressPrefix":"*","maxRequestAccessDuration":"PT5M"}]}]}}' "$VMID")

echo "1. tokens: created offline, listed, revoked"
T_ADMIN=$(token create --name admin --role SecurityAdmin 2>"$E2E_TMP/err")
check "token create prints only the token" is_token "$T_ADMIN"
T_OWNER=$(token create --name owner --role Owner)
T_READER=$(token create --name reader --role Reader)
T_SREADER=$(token create --name sreader --role SecurityReader)
T_REQ1=$(token create --name req1 --role JitRequester)
T_REQ2=$(token create --name req2 --role JitRequester)
T_REQ3=$(token create --name req3 --role JitRequester)
T_REQVM=$(token create --name reqvm --role JitRequester --scope "$VMID")
T_REQRG=$(token create --name reqrg --role JitRequester --scope "/subscriptions/$SUB/resourceGroups/other")
T_GONE=$(token create --name gone --role Reader)
check "nine more tokens, all distinct" test "$(printf '%s\n' "$T_OWNER" "$T_READER" "$T_SREADER" "$T_REQ1" \
	"$T_REQ2" "$T_REQ3" "$T_REQVM" "$T_REQRG" "$T_GONE" "$T_ADMIN" | sort -u | grep -cxE 'jg_[A-Za-z0-9_-]{40,}')" = 10
out=$(token create --name admin --role Reader 2>&1); rc=$?
check "a duplicate name is refused, naming --name ($out)" test $rc != 0 -a -n "$(grep -- '--name' <<<"$out")"
out=$(token create --name nobody --role Wizard 2>&1); rc=$?
check "an unknown role is refused ($out)" test $rc != 0 -a -n "$(grep -- '--role' <<<"$out")"
check "  … and prints no token" bash -c '! grep -q jg_ <<<"$1"' _ "$out"
out=$(token list)
check "token list shows reqvm with its role and VM scope" grep -qE "^reqvm +JitRequester +valid +$VMID\$" <<<"$out"
check "token list shows no secret" bash -c '! grep -q jg_ <<<"$1"' _ "$out"

start_server || { notok "jitgated starts and /healthz answers 200"; e2e_summary; exit 1; }
ok "jitgated starts and /healthz answers 200 (certificate verified)"
call "$T_GONE" GET "/whoami"
check "a fresh token works (whoami: $(j .name) $(j .role))" test "$code $(j .name)" = "200 token:gone"
token revoke gone >/dev/null
check "token list shows the revoked token as revoked" grep -qE '^gone +Reader +revoked' <<<"$(token list)"
call "$T_GONE" GET "$POL?$AV"
expect 401 AuthenticationFailed "a revoked token"
out=$(token revoke nosuch 2>&1); rc=$?
check "revoking an unknown token fails ($out)" test $rc != 0

echo "2. a policy protects vm1's port 22"
check "before the policy: A reaches 22" can "$CL" $A $V 22
call "$T_ADMIN" PUT "$POL?$AV" "$POLICY_BODY"
expect 200 "PUT policy"
check "PUT answers the policy: id, name, type, location, Succeeded" test \
	"$(j '[.id, .name, .type, .location, .properties.provisioningState] | join(" ")')" = \
	"$POL default Microsoft.Security/locations/jitNetworkAccessPolicies local Succeeded"
check "  … with its ports" test "$(j '[.properties.virtualMachines[0].ports[].number] | join(",")')" = "22,5985"
check "A is refused on 22" cannot "$CL" $A $V 22
check "B is refused on 22" cannot "$CL" $B $V 22
check "A6 is refused on 22 (IPv6)" cannot "$CL" $A6 $V6 22
check "A still reaches unprotected 3389" can "$CL" $A $V 3389
check "B6 still reaches unprotected 3389" can "$CL" $B6 $V6 3389
call "$T_READER" GET "$POL?$AV"
check "GET policy answers the same policy" test "$code $(j .properties.provisioningState)" = "200 Succeeded"
call "$T_READER" GET "${POL/resourceGroups\/default/resourceGroups/DEFAULT}?api-version=2015-06-01-preview"
check "GET with the resource group in capitals and the preview api-version ($code)" test "$code $(j .id)" = "200 $POL"
for p in "$POLS" "/subscriptions/$SUB/providers/Microsoft.Security/locations/local/jitNetworkAccessPolicies" \
	"/subscriptions/$SUB/resourceGroups/default/providers/Microsoft.Security/jitNetworkAccessPolicies" \
	"/subscriptions/$SUB/resourceGroups/default/providers/Microsoft.Security/locations/local/jitNetworkAccessPolicies"; do
	call "$T_READER" GET "$p?$AV"
	check "list ${p#/subscriptions/$SUB} holds the policy" test "$code $(j '[.value[].id] | join(" ")')" = "200 $POL"
done
for p in "/subscriptions/$SUB/providers/Microsoft.Security/locations/elsewhere/jitNetworkAccessPolicies" \
	"/subscriptions/$SUB/resourceGroups/other/providers/Microsoft.Security/jitNetworkAccessPolicies"; do
	call "$T_READER" GET "$p?$AV"
	check "list ${p#/subscriptions/$SUB} is empty" test "$code $(j '.value | length')" = "200 0"
done

echo "3. initiate: an explicit source, 'my IP', and expiry"
end=$(( $(now_ms) + 6000 ))
initiate "$T_REQ1" 22 $end $A
expect 202 "initiate for A"
RA=$(j .id)
check "the request answers Initiated for A" test \
	"$(j '.virtualMachines[0].ports[0] | "\(.status) \(.allowedSourceAddressPrefix)"')" = "Initiated $A"
check "A reaches 22 at once" can "$CL" $A $V 22
check "B is still refused" cannot "$CL" $B $V 22
SRC=$B initiate "$T_REQ2" 22 $end
expect 202 "initiate with no source, sent from B ('my IP')"
RB=$(j .id)
check "the request's source is B's address ($(j '.virtualMachines[0].ports[0].allowedSourceAddressPrefix'))" \
	test "$(j '.virtualMachines[0].ports[0].allowedSourceAddressPrefix')" = "$B"
check "B reaches 22" can "$CL" $B $V 22
check "C (same subnet, not asked for) is refused" cannot "$CL" $C $V 22
initiate "$T_REQ3" 22 $end $A6
expect 202 "initiate for A6 (IPv6)"
check "A6 reaches 22 over IPv6" can "$CL" $A6 $V6 22
check "B6 is refused over IPv6" cannot "$CL" $B6 $V6 22
SRC=$X initiate "$T_REQ3" 22 $end
expect 400 SourceAddressNotAllowed "'my IP' from X, outside the allowed 10.210.0.0/28"
initiate "$T_REQ3" 22 $end '*'
expect 400 SourceAddressNotAllowed "source '*' on a port whose rule lists prefixes"
initiate "$T_REQ3" 5985 $end '*'
expect 202 "source '*' on 5985, whose rule allows '*'"
check "  … B reaches 5985" can "$CL" $B $V 5985
check "  … B6 reaches 5985 (IPv6)" can "$CL" $B6 $V6 5985
check "  … the '*' grant on 5985 does not open 22 for C" cannot "$CL" $C $V 22
sleep_until $(( end + 200 ))
check "after the end time A is refused" cannot "$CL" $A $V 22
check "after the end time B is refused" cannot "$CL" $B $V 22
check "A's request shows Revoked/Expired (≤ 2 s)" port_state_is "$RA" Revoked/Expired 2
check "B's request shows Revoked/Expired" port_state_is "$RB" Revoked/Expired 1
call "$T_ADMIN" GET "$LOG?$AV&operation=Expire"
check "the activity log has Expire entries for them" test \
	"$(j --arg a "$RA" --arg b "$RB" '[.value[] | select(.operation == "Expire" and .status == "Expired" and
	(.detail | contains($a) or contains($b)))] | length')" = 2

echo "4. a newer request by the same requestor supersedes the older one; others' are untouched"
end=$(( $(now_ms) + 120000 ))
initiate "$T_REQ1" 22 $end $A; R1=$(j .id)
initiate "$T_REQ2" 22 $end $B; R2=$(j .id)
check "A (req1's first grant) reaches 22" can "$CL" $A $V 22
check "B (req2's grant) reaches 22" can "$CL" $B $V 22
initiate "$T_REQ1" 22 $end $C
expect 202 "req1 initiates again on port 22, now for C"
R1b=$(j .id)
check "the first request shows Revoked/NewerRequestInitiated" port_state_is "$R1" Revoked/NewerRequestInitiated
check "the second shows Initiated/UserRequested" port_state_is "$R1b" Initiated/UserRequested
check "req2's request is untouched (Initiated)" port_state_is "$R2" Initiated/UserRequested
check "A (superseded) is refused at once" cannot "$CL" $A $V 22
check "C (the newer grant) reaches 22" can "$CL" $C $V 22
check "B (req2's grant) still reaches 22" can "$CL" $B $V 22

echo "5. revoke: closes new connections, optionally ends sessions; only admins revoke others' grants"
initiate "$T_REQ1" 22 $end $A; R5=$(j .id)
hold $A 22 1500 "$E2E_TMP/hold1"
sleep 0.3
call "$T_REQ1" POST "$POL/revoke?$AV" "$(revoke_body 22)"
check "req1 revokes its own grant on 22 ($R)" test "$code $(j .revokedPorts)" = "200 1"
check "A is refused after the revoke" cannot "$CL" $A $V 22
check "C (req1's older grant, superseded) is refused too" cannot "$CL" $C $V 22
wait $HOLD; rc=$?
check "without terminateSessions A's open session lives on" test $rc = 0
check "the request shows Revoked/UserRequested" port_state_is "$R5" Revoked/UserRequested
initiate "$T_REQ1" 22 $end $A
hold $A 22 1500 "$E2E_TMP/hold2"
sleep 0.3
check "a session from A is open" grep -q connected "$E2E_TMP/hold2"
call "$T_REQ1" POST "$POL/revoke?$AV" "$(revoke_body 22 true)"
check "revoke with terminateSessions:true ($R)" test "$code $(j .revokedPorts) $(j '.terminatedSessions >= 1')" = "200 1 true"
wait $HOLD; rc=$?
check "A's open session died" test $rc != 0
call "$T_REQ1" POST "$POL/revoke?$AV" "$(revoke_body 22)"
check "a JitRequester's revoke does not touch req2's grant ($R)" test "$code $(j .revokedPorts)" = "200 0"
check "  … B still reaches 22" can "$CL" $B $V 22
denied() { call "$T_ADMIN" GET "$LOG?$AV&caller=token:$1"; j '[.value[] | select(.status == "Denied")] | length'; }
d0=$(denied reader)
call "$T_READER" POST "$POL/revoke?$AV" "$(revoke_body 22)"
expect 403 AuthorizationFailed "a Reader cannot revoke"
check "  … and the refusal is in the activity log (Denied entries for reader: $d0 → $(denied reader))" \
	test "$(denied reader)" = $(( d0 + 1 ))
d1=$(denied reader)
call "$T_READER" POST "$POL/initiate?$AV" "$(initiate_body 22 $(( $(now_ms) + 60000 )) $B)"
expect 403 AuthorizationFailed "a Reader cannot initiate"
check "  … and that refusal is in the activity log (Denied entries for reader: $d1 → $(denied reader))" \
	test "$(denied reader)" = $(( d1 + 1 ))
call "$T_ADMIN" POST "$POL/revoke?$AV" "$(revoke_body 22)"
check "a SecurityAdmin revokes req2's grant ($R)" test "$code $(j .revokedPorts)" = "200 1"
check "  … B is refused" cannot "$CL" $B $V 22
check "  … req2's request shows Revoked/UserRequested" port_state_is "$R2" Revoked/UserRequested

echo "6. restarts: the kernel keeps grants while jitgated is down and ends them on time"
endA=$(( $(now_ms) + 9000 ))
initiate "$T_REQ1" 22 $endA $A; R6=$(j .id)
stop_server TERM
check "SIGTERM stopped jitgated cleanly (exit $SRV_RC)" test "$SRV_RC" = 0
check "with jitgated down, A still reaches 22" can "$CL" $A $V 22
check "  … and B is still refused" cannot "$CL" $B $V 22
start_server; check "jitgated starts again" test $? = 0
check "after the restart A reaches 22" can "$CL" $A $V 22
endC=$(( $(now_ms) + 3000 ))
initiate "$T_REQ3" 22 $endC $C; R6c=$(j .id)
expect 202 "a short grant for C"
stop_server KILL
check "C reaches 22 with jitgated killed (-9)" can "$CL" $C $V 22
sleep_until $(( endC + 200 ))
check "the kernel closed C's grant on time with jitgated dead" cannot "$CL" $C $V 22
check "A's longer grant is still open" can "$CL" $A $V 22
start_server; check "jitgated starts after kill -9" test $? = 0
check "C's request shows Revoked/Expired after the restart" port_state_is "$R6c" Revoked/Expired
check "A's request is still Initiated" port_state_is "$R6" Initiated/UserRequested
sleep_until $(( endA + 200 ))
check "A's grant ended on time after the restarts" cannot "$CL" $A $V 22
check "A's request shows Revoked/Expired (≤ 2 s)" port_state_is "$R6" Revoked/Expired 2

echo "7. bad input: exact status and error code; a failed write changes nothing"
BEFORE=$(snapshot)
call "$T_ADMIN" GET "$POL"
expect 400 MissingApiVersionParameter "no api-version"
check "  … in Azure's error shape: code, message, target, details" \
	test "$(j '.error | (.message | length > 0) and .target == "api-version" and .details == []')" = true
call "$T_ADMIN" GET "$POL?api-version=2099-01-01"
expect 400 InvalidApiVersionParameter "unknown api-version"
call "" GET "$POL?$AV"
expect 401 AuthenticationFailed "no token"
call "jg_notavalidtokenatall" GET "$POL?$AV"
expect 401 AuthenticationFailed "a bad token"
call "$T_ADMIN" PUT "$POL?$AV" '{"properties": {"virtualMachines": ['
expect 400 InvalidJson "PUT with invalid JSON"
unchanged
call "$T_ADMIN" PUT "$POL?$AV" '{"properties": {"virtualMachines": "vm1"}}'
expect 400 InvalidType "PUT with virtualMachines a string"
check "  … the error's target is properties.virtualMachines ($(j .error.target))" \
	test "$(j .error.target)" = properties.virtualMachines
unchanged
head -c $(( 1024 * 1024 + 100 )) /dev/zero | tr '\0' ' ' >"$E2E_TMP/big"
call "$T_ADMIN" PUT "$POL?$AV" "@$E2E_TMP/big"
expect 413 RequestBodyTooLarge "PUT with a body over 1 MiB"
unchanged
# the largest legitimate requests pass the small per-connection pool (API_HEADER_MEMORY, 5 KB): a body is copied out
# as it arrives, so the same policy padded to exactly 1 MiB is taken whole
{ printf '%s' "$POLICY_BODY"; head -c $(( 1024 * 1024 - ${#POLICY_BODY} )) /dev/zero | tr '\0' ' '; } >"$E2E_TMP/big"
call "$T_ADMIN" PUT "$POL?$AV" "@$E2E_TMP/big"
check "PUT of the policy padded to exactly 1 MiB ($(stat -c %s "$E2E_TMP/big") bytes) → 200 (got $code)" test "$code" = 200
unchanged
# a browser's head at a provider's sign-in callback: its usual headers, the portal's cookie and a 1.5 KB code
BROWSER=(-H "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	-H "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8"
	-H 'sec-ch-ua: "Chromium";v="131", "Not_A Brand";v="24"' -H "sec-ch-ua-mobile: ?0" -H 'sec-ch-ua-platform: "Linux"'
	-H "Sec-Fetch-Site: cross-site" -H "Sec-Fetch-Mode: navigate" -H "Sec-Fetch-User: ?1" -H "Sec-Fetch-Dest: document"
	-H "Referer: https://login.example.com/" -H "Accept-Language: en-US,en;q=0.9" -H "Upgrade-Insecure-Requests: 1"
	-H "Cookie: jitgate_session=$(printf '%064d' 0); other=$(printf '%0200d' 0)")
call "$T_ADMIN" GET "/whoami?code=$(head -c 1500 /dev/zero | tr '\0' c)&state=$(printf '%043d' 0)" "" "${BROWSER[@]}"
check "a browser-sized head with a 1.5 KB authorization code in the query is served (got $code)" test "$code" = 200
# a head past HTTP_REQUEST_HEAD_MAX (4 KiB, as libmicrohttpd keeps it) is refused before any handler, with a clear
# error (one that leaves libmicrohttpd less than the ~300 bytes of that answer, from about 4.7 KiB, is closed unanswered)
call "$T_ADMIN" GET "/whoami" "" -H "X-Pad: $(head -c 3900 /dev/zero | tr '\0' p)"
expect 431 RequestHeadersTooLarge "a 3.9 KB header line"
check "  … its message names the limit ($(j .error.message))" \
	test "$(j .error.message)" = "the request line and headers are larger than 4096 bytes (cookies count twice)"
call "$T_ADMIN" GET "/whoami" "" -H "Cookie: a=$(head -c 1900 /dev/zero | tr '\0' c)"
expect 431 RequestHeadersTooLarge "a 1.9 KB Cookie header (counted twice)"
call "$T_ADMIN" GET "/whoami" "" -H "X-Pad: $(head -c 40000 /dev/zero | tr '\0' p)"
check "a 40 KB header line is refused by libmicrohttpd (431) or the connection closed, never served (got $code)" \
	test "$code" = 431 -o "$code" = 000
call "$T_ADMIN" GET "/whoami"
check "  … and the next request is served (got $code)" test "$code" = 200
initiate "$T_REQ1" 22 $(( $(now_ms) + 7200000 )) $A
expect 400 EndTimeTooLate "initiate 2 h ahead on a PT1H port"
check "  … the target names the end time ($(j .error.target))" test "$(j .error.target)" = "virtualMachines[0].ports[0].endTimeUtc"
unchanged
initiate "$T_REQ1" 22 $(( $(now_ms) - 10000 )) $A
expect 400 EndTimeInPast "initiate with the end in the past"
unchanged
initiate "$T_REQ1" 3389 $(( $(now_ms) + 60000 )) $A
expect 400 PortNotInPolicy "initiate for port 3389, not in the policy"
unchanged
initiate "$T_REQ1" 22 $(( $(now_ms) + 60000 )) 10.99.0.0/24
expect 400 SourceAddressNotAllowed "initiate for 10.99.0.0/24, outside the allowed prefixes"
unchanged
initiate "$T_REQ1" 22 $(( $(now_ms) + 60000 )) 10.210.0.0/24
expect 400 SourceAddressNotAllowed "initiate for 10.210.0.0/24, wider than the allowed /28"
unchanged
call "$T_ADMIN" PUT "$POL?$AV" "${POLICY_BODY//virtualMachines\/vm1/virtualMachines/nosuchvm}"
expect 400 VirtualMachineNotFound "PUT naming an unknown VM"
unchanged
call "$T_ADMIN" PUT "$POL?$AV" "${POLICY_BODY//PT1H/PT1M}"
expect 400 InvalidMaxRequestAccessDuration "PUT with maxRequestAccessDuration PT1M"
unchanged
call "$T_ADMIN" PUT "${POL%/default}/second?$AV" "$POLICY_BODY"
expect 400 VirtualMachineInAnotherPolicy "PUT a second policy holding vm1"
unchanged
call "$T_ADMIN" PUT "${POL/locations\/local/locations/elsewhere}?$AV" "$POLICY_BODY"
expect 400 LocationMismatch "PUT a policy in another location holding vm1"
unchanged
call "$T_REQ1" POST "$POL/initiate?$AV" "$(printf '{"virtualMachines":[{"id":"%s","ports":[{"number":22,"endTimeUtc":"%s"},{"number":22,"endTimeUtc":"%s"}]}]}' \
	"$VMID" "$(iso $(( $(now_ms) + 60000 )))" "$(iso $(( $(now_ms) + 60000 )))")"
expect 400 DuplicatePort "initiate naming port 22 twice"
unchanged
call "$T_ADMIN" GET "/subscriptions/$SUB/providers/Microsoft.Security/noSuchThing?$AV"
expect 404 NotFound "an unknown path"
call "$T_ADMIN" GET "/nothing/here"
expect 404 NotFound "a path outside /subscriptions"
call "$T_ADMIN" GET "/subscriptions/11111111-1111-1111-1111-111111111111/providers/Microsoft.Security/jitNetworkAccessPolicies?$AV"
expect 404 SubscriptionNotFound "another subscription"
check "after all of that A is still refused on 22" cannot "$CL" $A $V 22

echo "8. roles and scopes"
ROLES=(reader sreader req1 admin owner reqvm reqrg)
declare -A TOK=([reader]=$T_READER [sreader]=$T_SREADER [req1]=$T_REQ1 [admin]=$T_ADMIN [owner]=$T_OWNER
	[reqvm]=$T_REQVM [reqrg]=$T_REQRG)
echo "     roles: Reader SecurityReader JitRequester SecurityAdmin Owner JitRequester@vm1 JitRequester@rg:other"
# matrix NAME "STATUS per role" METHOD PATH [BODY]: each role's status; 403s must say AuthorizationFailed
matrix() {
	local what=$1 want=($2) m=$3 p=$4 body=${5-} got=() i
	for ((i = 0; i < ${#ROLES[@]}; i++)); do
		call "${TOK[${ROLES[i]}]}" "$m" "$p" "$body"
		[[ $code == 403 && $(errcode) != AuthorizationFailed ]] && code="403($(errcode))"
		got+=("$code")
	done
	check "$what: ${want[*]} (got ${got[*]})" test "${got[*]}" = "${want[*]}"
}
matrix "GET policy" "200 200 200 200 200 200 403" GET "$POL?$AV"
matrix "list policies" "200 200 200 200 200 200 200" GET "$POLS?$AV"
matrix "PUT policy" "403 403 403 200 200 403 403" PUT "$POL?$AV" "$POLICY_BODY"
matrix "DELETE (another, absent) policy" "403 403 403 204 204 403 403" DELETE "${POL%/default}/other?$AV"
matrix "initiate" "403 403 202 202 202 202 403" POST "$POL/initiate?$AV" "$(initiate_body 22 $(( $(now_ms) + 60000 )) $C)"
matrix "GET VM list" "200 200 200 200 200 200 200" GET "$VMS?$AV"
matrix "GET vm1" "200 200 200 200 200 200 403" GET "$VMID?$AV"
matrix "activity log" "200 200 403 200 200 403 403" GET "$LOG?$AV"
seen=()
for r in "${ROLES[@]}"; do
	call "${TOK[$r]}" GET "$POLS?$AV"
	seen+=("$(j --arg p "$POL" '[.value[] | select(.id == $p)] | length')")
done
check "the policy in each role's list: 1 1 1 1 1 1 0 (got ${seen[*]})" test "${seen[*]}" = "1 1 1 1 1 1 0"
seen=()
for r in "${ROLES[@]}"; do
	call "${TOK[$r]}" GET "$VMS?$AV"
	seen+=("$(j --arg v "$VMID" '[.value[] | select(.id == $v)] | length')")
done
check "vm1 in each role's VM list: 1 1 1 1 1 1 0 (got ${seen[*]})" test "${seen[*]}" = "1 1 1 1 1 1 0"
check "the role matrix's grants opened 22 for C" can "$CL" $C $V 22

echo "11a. VM inventory while configured"
call "$T_READER" GET "$VMS?$AV"
vm1=$(j --arg v "$VMID" '.value[] | select(.id == $v) | .properties.jit')
check "vm1 is Configured ($(jq -c '{status, approvedRequestsLast7Days, lastUser}' <<<"$vm1"))" \
	test "$(jq -r '.status' <<<"$vm1")" = Configured
check "  … with approvedRequestsLast7Days ≥ 1 and a lastUser" \
	test "$(jq -r '(.approvedRequestsLast7Days >= 1) and (.lastUser | startswith("token:"))' <<<"$vm1")" = true
check "  … and connection details for $V port 22" \
	test "$(jq -r --arg v $V '[.connectionDetails[] | select(.address == $v and .port == 22)] | length' <<<"$vm1")" = 1

echo "9. DELETE policy unprotects its ports"
call "$T_ADMIN" DELETE "$POL?$AV"
expect 200 "DELETE policy"
check "A reaches 22 again" can "$CL" $A $V 22
check "B reaches 22 again" can "$CL" $B $V 22
check "B6 reaches 22 again (IPv6)" can "$CL" $B6 $V6 22
call "$T_ADMIN" DELETE "$POL?$AV"
expect 204 "DELETE again"
call "$T_READER" GET "$POL?$AV"
expect 404 ResourceNotFound "GET the deleted policy"
check "nft holds no protected port" bash -c '! ip netns exec "$1" nft list set inet jitgate local_protect 2>/dev/null | grep -q "tcp . 22"' _ "$VM"

echo "11b. VM inventory after the delete; a gateway VM"
call "$T_READER" GET "$VMID?$AV"
check "vm1 is NotConfigured ($code $(j .properties.jit.status))" test "$code $(j .properties.jit.status)" = "200 NotConfigured"
GWID=/subscriptions/$SUB/resourceGroups/default/providers/Microsoft.Compute/virtualMachines/gw1
call "$T_OWNER" PUT "$GWID?$AV" '{"location":"local","properties":{"enforcement":"gateway","osType":"Windows","addresses":["10.220.0.2","fd00:220::2"]}}'
expect 201 "PUT a gateway VM"
check "  … answered with its addresses and enforcement" test \
	"$(j '[.properties.enforcement, (.properties.addresses | join(","))] | join(" ")')" = "gateway 10.220.0.2,fd00:220::2"
call "$T_READER" GET "$VMS?$AV"
check "the VM list holds vm1 and gw1" test "$(j '[.value[].name] | sort | join(",")')" = "gw1,vm1"
call "$T_REQ1" PUT "$GWID?$AV" '{"properties":{"enforcement":"gateway","addresses":["10.220.0.3"]}}'
expect 403 AuthorizationFailed "a JitRequester cannot PUT a VM"
call "$T_ADMIN" PUT "$GWID?$AV" '{"properties":{"enforcement":"gateway","addresses":["10.220.0.3"]}}'
expect 403 AuthorizationFailed "a SecurityAdmin cannot PUT a VM either (Compute: read only)"
call "$T_OWNER" DELETE "$GWID?$AV"
expect 200 "DELETE the gateway VM"
call "$T_OWNER" DELETE "$GWID?$AV"
expect 204 "DELETE it again"
call "$T_OWNER" DELETE "$VMID?$AV"
expect 409 LocalVirtualMachine "DELETE jitgated's own VM"

echo "10. the activity log, as JSON and as CSV, with filters"
call "$T_ADMIN" GET "$LOG?$AV"
all=$(j '.value | length')
INIT_OP=Microsoft.Security/locations/jitNetworkAccessPolicies/initiate/action
REV_OP=Microsoft.Security/locations/jitNetworkAccessPolicies/revoke/action
n_init=$(j --arg o $INIT_OP '[.value[] | select(.operation == $o and .status == "Succeeded")] | length')
n_rev=$(j --arg o $REV_OP '[.value[] | select(.operation == $o and .status == "Revoked")] | length')
n_exp=$(j '[.value[] | select(.operation == "Expire")] | length')
n_den=$(j --arg o $INIT_OP '[.value[] | select(.operation == $o and .status == "Denied")] | length')
# initiates: 4 in 3, 3 in 4, 2 in 5, 2 in 6, 4 in 8; revokes: 1+1+1 in 5 (req1 twice, admin once);
# expiries: A, B, A6, '*' in 3, C and A in 6
N_INIT=15 N_REV=3 N_EXP=6
check "JSON: $all entries; initiates $N_INIT (got $n_init), revokes $N_REV (got $n_rev), expiries $N_EXP (got $n_exp)" \
	test "$n_init $n_rev $n_exp" = "$N_INIT $N_REV $N_EXP"
# (a refused revoke is logged under the initiate action it lacks; section 5 checks that one on its own)
check "JSON: denied initiates are logged (≥ 1 by reader in 5, 3 in the role matrix; got $n_den)" test "$n_den" -ge 4
check "JSON: every entry has time, caller, operation, status" \
	test "$(j '[.value[] | select(.timeUtc and .caller and .operation and .status)] | length')" = "$all"
csv=$(ip netns exec "$CL" curl -sS --max-time 5 --cacert "$STATE/tls/cert.pem" -H "Authorization: Bearer $T_ADMIN" \
	"https://$V:8443$LOG?$AV&format=csv" | tr -d '\r')
check "CSV: the header row" test "$(head -1 <<<"$csv")" = \
	"time,caller,caller_address,operation,resource_id,status,detail,justification,correlation_id"
check "CSV: one row per JSON entry ($(( $(wc -l <<<"$csv") - 1 )) vs $all)" test $(( $(wc -l <<<"$csv") - 1 )) = "$all"
check "CSV: the initiate rows" test "$(grep -c "\"$INIT_OP\",\"[^\"]*\",\"Succeeded\"" <<<"$csv")" = $N_INIT
check "CSV: the Expire rows" test "$(grep -c '"Expire","[^"]*","Expired"' <<<"$csv")" = $N_EXP
call "$T_ADMIN" GET "$LOG?$AV&caller=token:req1"
check "caller=token:req1 narrows to req1's entries ($(j '.value | length') of $all)" \
	test "$(j '(.value | length) > 0 and (.value | length) < '"$all"' and all(.value[]; .caller == "token:req1")')" = true
call "$T_ADMIN" GET "$LOG?$AV&vm=vm1"
n_vm1=$(j '.value | length')
check "vm=vm1 narrows to vm1's entries ($n_vm1 of $all)" \
	test "$(j '(.value | length) > 0 and (.value | length) < '"$all"' and all(.value[]; .resourceId | contains("/virtualMachines/vm1"))')" = true
call "$T_ADMIN" GET "$LOG?$AV&vm=$VMID"
check "vm=VM_ID gives the same entries as vm=vm1 ($(j '.value | length'))" test "$(j '.value | length')" = "$n_vm1"
call "$T_ADMIN" GET "$LOG?$AV&vm=vm1&\$top=3"
check "vm=vm1&\$top=3 gives vm1's 3 latest entries (got $(j '.value | length'))" \
	test "$(j '[.value[] | select(.resourceId == "'"$VMID"'")] | length')" = 3
call "$T_OWNER" PUT "${VMID}0?$AV" '{"properties":{"enforcement":"gateway","addresses":["10.220.0.10"]}}'
expect 201 "PUT a gateway VM named vm10"
call "$T_ADMIN" GET "$LOG?$AV&vm=vm1"
check "vm=vm1 leaves out vm10's entries (got $(j '[.value[] | select(.resourceId | endswith("/vm10"))] | length'))" \
	test "$(j '[.value[] | select(.resourceId | endswith("/vm10"))] | length')" = 0
call "$T_ADMIN" GET "$LOG?$AV&vm=$VMID"
check "vm=VM_ID leaves out vm10's entries (got $(j '[.value[] | select(.resourceId | endswith("/vm10"))] | length'))" \
	test "$(j '[.value[] | select(.resourceId | endswith("/vm10"))] | length')" = 0
call "$T_OWNER" DELETE "${VMID}0?$AV"
call "$T_ADMIN" GET "$LOG?$AV&vm=$VMID&caller=token:req2"
check "vm=ID and caller= together: req2's 2 initiates on vm1 (got $(j '[.value[] | .operation] | join(" ")'))" \
	test "$(j --arg o $INIT_OP '[.value[] | select(.operation == $o)] | length')" = 2
csv=$(ip netns exec "$CL" curl -sS --max-time 5 --cacert "$STATE/tls/cert.pem" -H "Authorization: Bearer $T_ADMIN" \
	"https://$V:8443$LOG?$AV&format=csv&caller=token:req2" | tr -d '\r')
check "CSV with caller=token:req2: only req2's rows ($(( $(wc -l <<<"$csv") - 1 )))" \
	test "$(tail -n +2 <<<"$csv" | grep -c '^"[^"]*","token:req2",')" = $(( $(wc -l <<<"$csv") - 1 )) -a "$(wc -l <<<"$csv")" -gt 1

echo "12. a VM-scoped reader sees only its VMs of a policy; one server per state dir; SIGHUP reconciles"
GW2=/subscriptions/$SUB/resourceGroups/default/providers/Microsoft.Compute/virtualMachines/gw2
call "$T_OWNER" PUT "$GW2?$AV" '{"location":"local","properties":{"enforcement":"gateway","addresses":["10.221.0.2"]}}'
expect 201 "PUT a gateway VM gw2"
TWO='{"properties":{"virtualMachines":[{"id":"'$VMID'","ports":[{"number":22,"protocol":"TCP","allowedSourceAddressPrefix":"*","maxRequestAccessDuration":"PT1H"}]},{"id":"'$GW2'","ports":[{"number":3389,"protocol":"TCP","allowedSourceAddressPrefix":"*","maxRequestAccessDuration":"PT1H"}]}]}}'
call "$T_OWNER" PUT "$POL?$AV" "$TWO"
expect 200 "PUT a policy holding vm1 and gw2"
call "$T_OWNER" POST "$POL/initiate?$AV" '{"virtualMachines":[{"id":"'$GW2'","ports":[{"number":3389,"endTimeUtc":"'$(iso $(( $(now_ms) + 60000 )))'","allowedSourceAddressPrefix":"10.9.9.9"}]}],"justification":"secret-gw2"}'
expect 202 "the owner opens gw2:3389"
call "$T_REQVM" GET "$POL?$AV"
only=$(j '[.properties.virtualMachines[].id | split("/") | last] | join(",")')
check "a JitRequester scoped to vm1 sees only vm1's rules (got $only)" test "$only" = vm1
check "  … and not gw2's request nor its justification" bash -c '! grep -q "secret-gw2\|gw2" <<<"$1"' _ "$R"
call "$T_OWNER" GET "$POL?$AV"
both=$(j '"\(.properties.virtualMachines | length) \(.properties.requests | length)"')
check "the owner sees both VMs and the request (got $both)" test "$both" = "2 1"
# a policy's GET is rendered once per role and scope (api-cache.c): the same role at a narrower scope
# right after must not get the wider body
vms_seen() { j '[.properties.virtualMachines[].id | split("/") | last] | join(",")'; }
call "$T_REQ1" GET "$POL?$AV"
check "a JitRequester scoped to the subscription sees both VMs (got $(vms_seen))" test "$(vms_seen)" = vm1,gw2
call "$T_REQVM" GET "$POL?$AV"
check "  … and the one scoped to vm1, asking right after, still sees only vm1 (got $(vms_seen))" test "$(vms_seen)" = vm1
call "$T_OWNER" POST "$POL/revoke?$AV" '{"virtualMachines":[{"id":"'$GW2'","ports":[{"number":3389}]}]}'
expect 200 "revoke gw2:3389"
call "$T_OWNER" GET "$POL?$AV"
check "a revoked port says when it was closed (endedTimeUtc: $(j '.properties.requests[0].virtualMachines[0].ports[0].endedTimeUtc'))" \
	bash -c '[[ $1 == 20*Z ]]' _ "$(j '.properties.requests[0].virtualMachines[0].ports[0].endedTimeUtc')"
call "$T_OWNER" GET "$LOG?$AV&vm=gw2"
check "gw2's own log shows the policy write that configured it" \
	test "$(j '[.value[] | select(.detail | startswith("JIT configured on this VM: ports 3389/TCP"))] | length')" = 1
call "$T_READER" GET "/whoami"
check "whoami names the subscription ($(j .subscriptionId))" test "$(j .subscriptionId)" = "$SUB"
err=$(ip netns exec "$VM" timeout 5 "$JITGATED" --single-process --state-dir "$STATE" --listen "$V:8444" --vm-name vm1 2>&1)
check "a second jitgated on the same state directory refuses to start ($(tail -1 <<<"$err"))" \
	grep -q "another jitgated is running" <<<"$err"
kill -HUP "$SRV"
sleep 0.3
check "SIGHUP does not stop jitgated; it reconciles" bash -c 'kill -0 $1 && grep -q SIGHUP "$2"' _ "$SRV" "$SRVLOG"

# ---- large answers go gzip-compressed to a client that takes it (HTTP_GZIP_MIN), the policy GET from its cache ----
gz_get() { # gz_get PATH OUT [HEADER]: the owner's GET, the body as it came (not inflated); headers in $E2E_TMP/gz.h
	ip netns exec "$CL" curl -sS --max-time 5 --cacert "$STATE/tls/cert.pem" -H "Authorization: Bearer $T_OWNER" \
		-H "${3:-Accept-Encoding: gzip}" -D "$E2E_TMP/gz.h" -o "$2" "https://$V:8443$1" 2>"$E2E_TMP/curl.err"
}
hdr() { tr -d '\r' <"$1" | awk -v h="$2" 'index(tolower($0), tolower(h) ": ") == 1 { print substr($0, length(h) + 3) }'; }
call "$T_OWNER" GET "$POL?$AV" "" -D "$E2E_TMP/id.h"
cp "$E2E_TMP/resp" "$E2E_TMP/plain.json"
plain_etag=$(hdr "$E2E_TMP/id.h" ETag)
check "a GET without Accept-Encoding: as it is ($(stat -c %s "$E2E_TMP/plain.json") bytes), Vary: $(hdr "$E2E_TMP/id.h" Vary)" \
	test -z "$(hdr "$E2E_TMP/id.h" Content-Encoding)" -a "$(hdr "$E2E_TMP/id.h" Vary)" = Accept-Encoding \
	-a "$(stat -c %s "$E2E_TMP/plain.json")" -ge 1024
for i in 1 2; do	# the first from the rendered body kept for the owner, the second from its kept gzip form
	gz_get "$POL?$AV" "$E2E_TMP/policy.gz"
	check "a GET with Accept-Encoding: gzip ($i): Content-Encoding gzip, $(stat -c %s "$E2E_TMP/policy.gz") bytes" \
		test "$(hdr "$E2E_TMP/gz.h" Content-Encoding)" = gzip -a "$(hdr "$E2E_TMP/gz.h" Vary)" = Accept-Encoding \
		-a "$(stat -c %s "$E2E_TMP/policy.gz")" -lt "$(stat -c %s "$E2E_TMP/plain.json")"
	check "  … that inflates to exactly the plain body" bash -c 'gzip -dc <"$1" | cmp -s - "$2"' _ "$E2E_TMP/policy.gz" "$E2E_TMP/plain.json"
	check "  … with the same version, as a weak ETag ($(hdr "$E2E_TMP/gz.h" ETag) for $plain_etag)" \
		test "$(hdr "$E2E_TMP/gz.h" ETag)" = "W/$plain_etag"
done
gz_get "$POL?$AV" "$E2E_TMP/policy.gz" "Accept-Encoding: gzip;q=0, *"
check "gzip;q=0 refuses it: the plain body" bash -c 'test -z "$(tr -d "\r" <"$1" | grep -i "^content-encoding")" && cmp -s "$2" "$3"' \
	_ "$E2E_TMP/gz.h" "$E2E_TMP/policy.gz" "$E2E_TMP/plain.json"
gz_get "$LOG?$AV&format=csv" "$E2E_TMP/log.csv.gz"
check "the activity log's CSV comes compressed too, and inflates to RFC 4180 rows" bash -c \
	'test "$(tr -d "\r" <"$1" | grep -i "^content-encoding" | cut -d" " -f2)" = gzip && gzip -dc <"$2" | head -1 | grep -q "^time,caller,"' \
	_ "$E2E_TMP/gz.h" "$E2E_TMP/log.csv.gz"
put_body=$(jq -c '{kind, properties: {virtualMachines: .properties.virtualMachines}}' "$E2E_TMP/plain.json")
call "$T_OWNER" PUT "$POL?$AV" "$put_body" -H "If-Match: W/$plain_etag"
expect 200 "a PUT with If-Match: the weak ETag of a compressed GET (the same version)"
call "$T_OWNER" PUT "$POL?$AV" "$put_body" -H "If-Match: W/$plain_etag"
expect 412 PreconditionFailed "  … and the same again, now that the policy changed"

echo "13. the wire as Azure answers: kind \"Basic\", times with exactly 7 fraction digits, durations as they were sent"
WIRE_VMS='[{"id":"'$VMID'","ports":[{"number":22,"protocol":"TCP","allowedSourceAddressPrefix":"*","maxRequestAccessDuration":"P1D"},{"number":3389,"protocol":"TCP","allowedSourceAddressPrefix":"*","maxRequestAccessDuration":"PT3H"},{"number":5985,"protocol":"*","allowedSourceAddressPrefix":"*","maxRequestAccessDuration":"PT180M"}]}]'
WIRE_WANT='{"id":"'$POL'","name":"default","type":"Microsoft.Security/locations/jitNetworkAccessPolicies","location":"local","kind":"Basic","properties":{"virtualMachines":'$WIRE_VMS',"provisioningState":"Succeeded"}}'
wire() { j -c "${1:-.} | del(.properties.requests)"; }
call "$T_OWNER" PUT "$POL?$AV" '{"properties":{"virtualMachines":'"$WIRE_VMS"'}}'
expect 200 "PUT a policy with no kind and durations P1D, PT3H, PT180M"
check "the PUT answers exactly: kind \"Basic\", each duration as it was sent ($(wire))" test "$(wire)" = "$WIRE_WANT"
call "$T_READER" GET "$POL?$AV"
check "  … and so does a GET" test "$(wire)" = "$WIRE_WANT"
call "$T_READER" GET "$POLS?$AV"
check "  … and the subscription's list" test "$(wire '.value[0]')" = "$WIRE_WANT"
call "$T_READER" GET "$POL?$AV"
call "$T_OWNER" PUT "$POL?$AV" "$(j -c '{kind, properties: {virtualMachines: .properties.virtualMachines}}')"
check "the GET's body PUT back changes nothing (no drift for desired-state tools)" test "$code $(wire)" = "200 $WIRE_WANT"
call "$T_OWNER" PUT "$POL?$AV" '{"kind":"Custom","properties":{"virtualMachines":'"$WIRE_VMS"'}}'
check "a kind that was sent is kept as sent (got $(j .kind))" test "$code $(j .kind)" = "200 Custom"
call "$T_OWNER" PUT "$POL?$AV" '{"properties":{"virtualMachines":'"$WIRE_VMS"'}}'
check "  … and one PUT without a kind answers \"Basic\" again" test "$code $(wire)" = "200 $WIRE_WANT"
BEFORE=$(snapshot)
call "$T_OWNER" PUT "$POL?$AV" '{"properties":{"virtualMachines":'"${WIRE_VMS/PT180M/pt180m}"'}}'
check "a duration that is not ISO 8601 as Azure takes it (pt180m) is refused: exact error body" test "$code $(j -c .)" = \
	'400 {"error":{"code":"InvalidDuration","message":"'"'"'pt180m'"'"' is not a valid duration: the designators P, T, W, D, H, M and S must be upper-case","target":"properties.virtualMachines[0].ports[2].maxRequestAccessDuration","details":[]}}'
unchanged
# enforcement uses the value: PT180M is 3 hours, and the refusal speaks the policy's words
call "$T_REQ1" POST "$POL/initiate?$AV" "$(initiate_body 5985 $(( $(now_ms) + (180 + 5) * 60000 )) $A)"
check "a request past PT180M is refused, naming PT180M ($(j .error.message))" bash -c \
	'[[ $1 == "400 EndTimeTooLate" && $2 =~ ^"port 5985 may be opened for at most PT180M, so endTimeUtc may be at most "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{7}Z$ ]]' \
	_ "$code $(errcode)" "$(j .error.message)"
wend=$(date -u -d "@$(( $(now_ms) / 1000 + 170 * 60 ))" +%Y-%m-%dT%H:%M:%S)
call "$T_REQ1" POST "$POL/initiate?$AV" '{"virtualMachines":[{"id":"'$VMID'","ports":[{"number":5985,"endTimeUtc":"'$wend'.123456789Z","allowedSourceAddressPrefix":"'$A'"}]}],"justification":"wire"}'
expect 202 "a request within PT180M, its endTimeUtc with 9 fraction digits"
check "  … answers endTimeUtc in 7 digits, the same instant cut to 100 ns ($(j '.virtualMachines[0].ports[0].endTimeUtc'))" \
	test "$(j '.virtualMachines[0].ports[0].endTimeUtc')" = "$wend.1234567Z"
check "  … and startTimeUtc in 7 digits ($(j .startTimeUtc))" bash -c '[[ $1 =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{7}Z$ ]]' _ "$(j .startTimeUtc)"
check "  … and A reaches 5985" can "$CL" $A $V 5985
# every time the API writes, wherever it is: 7 digits (.NET's round-trip form; its readers and PowerShell's refuse 9)
times7() { # times7 WHAT: every *TimeUtc / timeUtc string of the last answer has 7 fraction digits (and there is one)
	local all bad
	all=$(j '[.. | objects | to_entries[] | select((.key | test("[tT]imeUtc$")) and (.value | type) == "string") | .value] | length')
	bad=$(j '[.. | objects | to_entries[] | select((.key | test("[tT]imeUtc$")) and (.value | type) == "string") | .value
		| select(test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}[.][0-9]{7}Z$") | not)] | join(" ")')
	check "$1: all ${all:-0} times have exactly 7 fraction digits${bad:+ (not: $bad)}" test "$code" = 200 -a "${all:-0}" -gt 0 -a -z "$bad"
}
call "$T_OWNER" GET "$POL?$AV"; times7 "the policy's requests (startTimeUtc, endTimeUtc, endedTimeUtc)"
call "$T_ADMIN" GET "$LOG?$AV"; times7 "the activity log (timeUtc)"
call "$T_OWNER" GET "$VMS?$AV"; times7 "the VM inventory (lastAccessTimeUtc)"
csv=$(ip netns exec "$CL" curl -sS --max-time 5 --cacert "$STATE/tls/cert.pem" -H "Authorization: Bearer $T_ADMIN" \
	"https://$V:8443$LOG?$AV&format=csv" | tr -d '\r')
check "the activity log's CSV: every row's time has 7 fraction digits ($(( $(wc -l <<<"$csv") - 1 )) rows)" test \
	"$(tail -n +2 <<<"$csv" | grep -cvE '^"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{7}Z",')" = 0 -a "$(wc -l <<<"$csv")" -gt 1

check "jitgated is still running" kill -0 "$SRV"
e2e_summary

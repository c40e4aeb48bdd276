#!/usr/bin/env bash
# End-to-end: join tokens managed by Owners, against the real jitgated in a namespace (issue 13, "Joining").
#
#   client (A) ──veth── host (jitgated on V:8443)
#
# 1. An Owner creates join tokens over the API (curl) and the CLI; the secret is shown once and never
#    again: not in a list, not in a revoke's answer, not in the activity log, not in jitgated's log.
# 2. List and revoke; a second revoke is a 404.
# 3. JitRequester and Reader tokens are refused (403) for create, list and revoke; an Owner of one
#    resource group manages that group's join tokens only.
# 4. Bad bodies: each refusal's code and target; uses out of range; an expiry beyond 30 days.
# 5. jitgated stopped: `jitgated token create --join` on its state directory; the token is in the
#    API's list once it is back.
# Usage: tests/e2e/join-tokens.sh [BUILD_DIR]   (as root; needs curl and jq)
set -u
here=$(cd "$(dirname "$0")" && pwd)
BUILD=${1:-$here/../../build}
JITGATED=$BUILD/src/daemon/jitgated
JG=$BUILD/src/cli/jitgate
NETPROBE=$BUILD/tests/e2e/netprobe
. "$here/lib.sh"

[[ $(id -u) == 0 ]] || { echo "join-tokens.sh: needs root (network namespaces, nftables)"; exit 1; }
[[ -x $JITGATED && -x $JG ]] || { echo "join-tokens.sh: build first ($JITGATED, $JG)"; exit 1; }
command -v curl >/dev/null && command -v jq >/dev/null || { echo "join-tokens.sh: needs curl and jq"; exit 1; }

VM=$(ns_new host) && CL=$(ns_new cl) || exit 1
link_new "$VM" v0 "$CL" c0 || exit 1
V=10.236.0.1 A=10.236.0.2
addr_add "$VM" v0 $V/24
addr_add "$CL" c0 $A/24

STATE=$E2E_TMP/state
SUB=00000000-0000-0000-0000-000000000000
JT=/subscriptions/$SUB/providers/Jitgate/joinTokens
LOG=/subscriptions/$SUB/providers/Microsoft.Security/jitActivityLog
AV=api-version=2020-01-01
SRVLOG=$E2E_TMP/jitgated.log
SECRETS=()	# every join secret shown: none may appear anywhere afterwards

token() { "$JITGATED" token "$@" --state-dir "$STATE"; }
start_server() {
	ip netns exec "$VM" "$JITGATED" --single-process --state-dir "$STATE" --listen "$V:8443" --vm-name host1 \
		>>"$SRVLOG" 2>&1 &
	SRV=$!
	E2E_PIDS+=($SRV)
	e2e_wait_healthy "$CL" "$STATE/tls/cert.pem" "https://$V:8443" "$SRV"
}
stop_server() {
	kill "$SRV" 2>/dev/null
	wait "$SRV" 2>/dev/null
}
# call TOKEN METHOD PATH [BODY]: sets $code and $R.
call() {
	local tok=$1 m=$2 p=$3 body=${4-}
	local args=(-sS --max-time 5 --cacert "$STATE/tls/cert.pem" -o "$E2E_TMP/resp" -w '%{http_code}' -X "$m")
	[[ -n $tok ]] && args+=(-H "Authorization: Bearer $tok")
	[[ -n $body ]] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
	code=$(ip netns exec "$CL" curl "${args[@]}" "https://$V:8443$p" 2>"$E2E_TMP/curl.err")
	R=$(cat "$E2E_TMP/resp" 2>/dev/null)
}
j() { jq -r "$@" <<<"$R" 2>/dev/null; }
# expect STATUS [ERRORCODE [TARGET]] DESCRIPTION: the last call answered that.
expect() {
	local st=$1 ec= tg= what=${!#}
	(( $# >= 3 )) && ec=$2
	(( $# >= 4 )) && tg=$3
	local got="$code${ec:+ $(j '.error.code // empty')}${tg:+ $(j '.error.target // empty')}"
	check "$what → $st${ec:+ $ec}${tg:+ $tg} (got $got)" test "$got" = "$st${ec:+ $ec}${tg:+ $tg}"
}
H=$E2E_TMP/home
mkdir -p "$H"
# jg TOKEN ARGS...: the CLI in the client namespace; sets rc, out, err.
jg() {
	local tok=$1
	shift
	ip netns exec "$CL" env -i PATH="$PATH" HOME="$H" TZ=UTC JITGATE_SERVER="https://$V:8443" JITGATE_TOKEN="$tok" \
		JITGATE_CA="$STATE/tls/cert.pem" "$JG" "$@" </dev/null >"$E2E_TMP/out" 2>"$E2E_TMP/err"
	rc=$?
	out=$(<"$E2E_TMP/out")
	err=$(<"$E2E_TMP/err")
}
# nowhere SECRET WHAT: the secret is in none of the places it must never be (WHAT names the moment).
nowhere() {
	local s=$1 what=$2
	call "$T_OWNER" GET "$JT?$AV"
	refuse "$what: not in the list" grep -qF -- "$s" <<<"$R"
	call "$T_OWNER" GET "$LOG?$AV&\$top=1000"
	refuse "$what: not in the activity log" grep -qF -- "$s" <<<"$R"
	refuse "$what: not in jitgated's log" grep -qF -- "$s" "$SRVLOG"
}

T_OWNER=$(token create --name owner --role Owner)
T_REQ=$(token create --name req --role JitRequester)
T_READ=$(token create --name reader --role Reader)
T_RG1=$(token create --name rg1owner --role Owner --scope "/subscriptions/$SUB/resourceGroups/rg1")
check "jitgated is healthy" start_server

echo "1. create over the API and the CLI; the secret is shown once"
call "$T_OWNER" POST "$JT?$AV" '{"resourceGroup":"rg1"}'
expect 201 "POST a join token for rg1 (defaults)"
ID1=$(j .id) S1=$(j .token)
SECRETS+=("$S1")
check "its id is jt- and 12 hex digits ($ID1)" grep -qE '^jt-[0-9a-f]{12}$' <<<"$ID1"
check "its secret starts with jgj_" grep -qE '^jgj_[A-Za-z0-9_-]{48}$' <<<"$S1"
check "one use by default ($(j .usesLeft))" test "$(j .usesLeft)" = 1
exp=$(date -d "$(j .expiresTimeUtc)" +%s 2>/dev/null || echo 0)
check "it expires in 24 h by default" test $(( exp - $(date +%s) )) -gt 86000 -a $(( exp - $(date +%s) )) -le 86400
check "createdBy is the caller ($(j .createdBy))" test "$(j .createdBy)" = token:owner
check "resourceGroup is rg1" test "$(j .resourceGroup)" = rg1
call "$T_OWNER" POST "$JT?$AV" '{"resourceGroup":"rg2","uses":5,"expiresIn":"PT2H"}'
expect 201 "POST a join token for rg2, 5 uses, PT2H"
ID2=$(j .id)
SECRETS+=("$(j .token)")
check "5 uses" test "$(j .usesLeft)" = 5
exp=$(date -d "$(j .expiresTimeUtc)" +%s 2>/dev/null || echo 0)
check "expires in 2 h" test $(( exp - $(date +%s) )) -gt 7000 -a $(( exp - $(date +%s) )) -le 7200

jg "$T_OWNER" agent token create --resource-group rg1 --uses 3 --expires 2h
check "CLI: agent token create exits 0 (rc $rc: $err)" test "$rc" = 0
S3=$(grep -o 'jgj_[A-Za-z0-9_-]*' <<<"$out" | head -n 1)
SECRETS+=("$S3")
ID3=$(grep -oE 'jt-[0-9a-f]{12}' <<<"$out" | head -n 1)
check "CLI: it prints the secret" test -n "$S3"
fp=$(openssl x509 -in "$STATE/tls/cert.pem" -noout -fingerprint -sha256 2>/dev/null | sed 's/.*=//')
check "CLI: it prints the join line with the server and the certificate's fingerprint" \
	grep -qF -- "jitgate-agent join --server https://$V:8443 --token $S3 --ca-fingerprint $fp" <<<"$out"
jg "$T_OWNER" -q agent token create --resource-group rg1
check "CLI: -q prints the secret alone" grep -qxE 'jgj_[A-Za-z0-9_-]{48}' <<<"$out"
SECRETS+=("$out")
jg "$T_OWNER" agent token create --resource-group rg1 --uses 0
check "CLI: --uses 0 is a usage error naming --uses (exit $rc)" test "$rc" = 2 -a -n "$(grep -- --uses <<<"$err")"
jg "$T_OWNER" agent token create --resource-group rg1 --expires 31d
check "CLI: --expires 31d is a usage error naming --expires (exit $rc)" test "$rc" = 2 -a -n "$(grep -- --expires <<<"$err")"
jg "$T_OWNER" agent token create
check "CLI: no --resource-group is a usage error (exit $rc)" test "$rc" = 2 -a -n "$(grep -- --resource-group <<<"$err")"

echo "2. list and revoke"
call "$T_OWNER" GET "$JT?$AV"
expect 200 "GET the join tokens"
check "four tokens listed ($(j '.value | length'))" test "$(j '.value | length')" = 4
check "no secret in the list" test "$(j '[.value[] | select(has("token"))] | length')" = 0
check "all Valid" test "$(j '[.value[] | select(.state == "Valid")] | length')" = 4
jg "$T_OWNER" agent token list
check "CLI: agent token list shows $ID1 and $ID3 (rc $rc)" bash -c '[[ $1 == 0 ]] && grep -q "$2" <<<"$4" && grep -q "$3" <<<"$4"' _ "$rc" "$ID1" "$ID3" "$out"
jg "$T_OWNER" -o json agent token list
check "CLI: -o json lists the four, without secrets" \
	test "$(jq -r '"\(.value | length) \([.value[] | select(has("token"))] | length)"' <<<"$out" 2>/dev/null)" = "4 0"
call "$T_OWNER" DELETE "$JT/$ID1?$AV"
expect 200 "DELETE $ID1"
check "the answer says Revoked" test "$(j .state)" = Revoked
check "no secret in the answer" test "$(j 'has("token")')" = false
call "$T_OWNER" DELETE "$JT/$ID1?$AV"
expect 404 ResourceNotFound "DELETE $ID1 again"
call "$T_OWNER" DELETE "$JT/jt-000000000000?$AV"
expect 404 ResourceNotFound "DELETE an unknown id"
jg "$T_OWNER" agent token revoke "$ID3"
check "CLI: agent token revoke $ID3 (rc $rc)" test "$rc" = 0
jg "$T_OWNER" agent token revoke "$ID3"
check "CLI: a second revoke exits 1 (rc $rc: $err)" test "$rc" = 1
call "$T_OWNER" GET "$JT?$AV"
check "the list shows $ID1 Revoked" test "$(j --arg id "$ID1" '.value[] | select(.id == $id) | .state')" = Revoked
call "$T_OWNER" GET "$LOG?$AV&\$top=1000"
check "the activity log has the four creates" \
	test "$(j '[.value[] | select(.operation == "Jitgate/joinTokens/write" and .status == "Succeeded")] | length')" -ge 4
check "the activity log names $ID1's revoke" grep -q "Jitgate/joinTokens/delete" <<<"$R"

echo "3. who may"
for who in req reader; do
	[[ $who == req ]] && tok=$T_REQ || tok=$T_READ
	call "$tok" POST "$JT?$AV" '{"resourceGroup":"rg1"}'
	expect 403 AuthorizationFailed "$who: create"
	call "$tok" GET "$JT?$AV"
	expect 403 AuthorizationFailed "$who: list"
	call "$tok" DELETE "$JT/$ID2?$AV"
	expect 403 AuthorizationFailed "$who: revoke"
	jg "$tok" agent token list
	check "CLI as $who: list exits 4 (rc $rc)" test "$rc" = 4
done
call "$T_RG1" POST "$JT?$AV" '{"resourceGroup":"rg1"}'
expect 201 "rg1's Owner: create for rg1"
IDR=$(j .id)
SECRETS+=("$(j .token)")
call "$T_RG1" POST "$JT?$AV" '{"resourceGroup":"RG1"}'
expect 201 "rg1's Owner: create for RG1 (names are case-insensitive)"
SECRETS+=("$(j .token)")
call "$T_RG1" POST "$JT?$AV" '{"resourceGroup":"rg2"}'
expect 403 AuthorizationFailed "rg1's Owner: create for rg2"
call "$T_RG1" GET "$JT?$AV"
expect 200 "rg1's Owner: list"
check "it sees rg1's tokens only ($(j '[.value[].resourceGroup] | unique | join(",")'))" \
	test "$(j '[.value[].resourceGroup | ascii_downcase] | unique | join(",")')" = rg1
call "$T_RG1" DELETE "$JT/$ID2?$AV"
expect 403 AuthorizationFailed "rg1's Owner: revoke rg2's token"
call "$T_RG1" DELETE "$JT/$IDR?$AV"
expect 200 "rg1's Owner: revoke its own"
call "$T_OWNER" GET "$LOG?$AV&\$top=1000"
check "the refusals are in the activity log" test "$(j '[.value[] | select(.status == "Denied")] | length')" -ge 7

echo "4. bad bodies"
call "$T_OWNER" POST "$JT?$AV" '{'
expect 400 InvalidJson "" "a body that is not JSON"
call "$T_OWNER" POST "$JT?$AV" '{}'
expect 400 MissingField resourceGroup "no resourceGroup"
call "$T_OWNER" POST "$JT?$AV" '{"resourceGroup":7}'
expect 400 InvalidType resourceGroup "a number for resourceGroup"
call "$T_OWNER" POST "$JT?$AV" '{"resourceGroup":"bad$rg"}'
expect 400 InvalidResourceGroupName resourceGroup "a bad group name"
call "$T_OWNER" POST "$JT?$AV" '{"resourceGroup":"rg1","uses":"2"}'
expect 400 InvalidType uses "a string for uses"
call "$T_OWNER" POST "$JT?$AV" '{"resourceGroup":"rg1","uses":0}'
expect 400 InvalidValue uses "uses 0"
call "$T_OWNER" POST "$JT?$AV" '{"resourceGroup":"rg1","uses":1001}'
expect 400 InvalidValue uses "uses 1001"
call "$T_OWNER" POST "$JT?$AV" '{"resourceGroup":"rg1","expiresIn":"P31D"}'
expect 400 InvalidValue expiresIn "expiresIn P31D"
call "$T_OWNER" POST "$JT?$AV" '{"resourceGroup":"rg1","expiresIn":"24h"}'
expect 400 InvalidDuration expiresIn "expiresIn 24h (not ISO 8601)"
call "$T_OWNER" POST "$JT?$AV" '{"resourceGroup":"rg1","expiresIn":3600}'
expect 400 InvalidType expiresIn "a number for expiresIn"
call "$T_OWNER" POST "$JT?$AV" '{"resourceGroup":"rg1","uses":1000,"expiresIn":"P30D"}'
expect 201 "the limits themselves: 1000 uses, P30D"
SECRETS+=("$(j .token)")

echo "5. offline, with jitgated stopped"
stop_server
S5=$(token create --join --resource-group rg3 --uses 2 --expires 1h 2>"$E2E_TMP/off.err")
check "jitgated token create --join prints a secret" grep -qxE 'jgj_[A-Za-z0-9_-]{48}' <<<"$S5"
SECRETS+=("$S5")
ID5=$(grep -oE 'jt-[0-9a-f]{12}' "$E2E_TMP/off.err" | head -n 1)
check "and names its id on stderr ($ID5)" test -n "$ID5"
token create --join --uses 2 >/dev/null 2>&1
check "without --resource-group it is a usage error" test $? = 2
check "jitgated token list --join shows it" bash -c 'grep -q "$1" <<<"$2"' _ "$ID5" "$(token list --join)"
refuse "jitgated token list (API tokens) does not" bash -c 'grep -q "jt-" <<<"$1"' _ "$(token list)"
token revoke --join jt-000000000000 >/dev/null 2>&1
check "jitgated token revoke --join of an unknown id fails" test $? = 1
check "jitgated is healthy again" start_server
call "$T_OWNER" GET "$JT?$AV"
check "the API lists $ID5 for rg3 with 2 uses" \
	test "$(j --arg id "$ID5" '.value[] | select(.id == $id) | "\(.resourceGroup) \(.usesLeft) \(.createdBy)"')" = "rg3 2 jitgated"

echo "6. no secret anywhere"
for s in "${SECRETS[@]}"; do
	[[ -n $s ]] && nowhere "$s" "${s:0:8}…"
done

stop_server
e2e_summary

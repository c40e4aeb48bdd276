#!/usr/bin/env bash
# End-to-end: sign-in sessions shared by two jitgated replicas on one PostgreSQL database. A portal session made
# on A is accepted on B; a sign-out, a token revoke or a session's end on A is refused on B at once; forged,
# modified and expired sessions are refused; a sign-out the store refuses holds on A and reaches B once recorded.
#
#   replica A (jitgated, RA:8443) ──veth── client (C) ──veth── replica B (jitgated, RB:8443)
#   (no local VM on either: no replica enforces a host here)
#
# Usage: tests/e2e/on-pg.sh sessions.sh [BUILD_DIR]   (as root; needs curl, jq, psql)
set -u
here=$(cd "$(dirname "$0")" && pwd)
BUILD=${1:-$here/../../build}
JITGATED=${JITGATED:-$BUILD/src/daemon/jitgated}
. "$here/lib.sh"

[[ -n ${JITGATE_TEST_PG-} ]] || { echo "sessions.sh: run it as tests/e2e/on-pg.sh sessions.sh (replicas share a PostgreSQL)"; exit 1; }
[[ $(id -u) == 0 ]] || { echo "sessions.sh: needs root (network namespaces)"; exit 1; }
[[ -x $JITGATED ]] || { echo "sessions.sh: build first"; exit 1; }
for t in curl jq psql; do command -v $t >/dev/null || { echo "sessions.sh: needs $t"; exit 1; }; done

RA_NS=$(ns_new sra) && RB_NS=$(ns_new srb) && CL=$(ns_new scl) || exit 1
link_new "$RA_NS" e0 "$CL" ea && link_new "$RB_NS" e0 "$CL" eb || exit 1
RA=10.246.1.1 RB=10.246.2.1
addr_add "$RA_NS" e0 $RA/24 && addr_add "$CL" ea 10.246.1.2/24 || exit 1
addr_add "$RB_NS" e0 $RB/24 && addr_add "$CL" eb 10.246.2.2/24 || exit 1
declare -A RNS=([A]=$RA_NS [B]=$RB_NS) RIP=([A]=$RA [B]=$RB) RPID
replica_start() { # A|B: each with its own state directory (its certificate); no local VM (sessions need none)
	mkdir -p -m 0700 "$E2E_TMP/state$1"
	jitgated_start "${RNS[$1]}" "$CL" "$E2E_TMP/state$1" "${RIP[$1]}:8443" "$E2E_TMP/jitgated$1.log"
	RPID[$1]=$JITGATED_PID
}
SUB=00000000-0000-0000-0000-000000000000
AV=api-version=2020-01-01
TOKENS=/subscriptions/$SUB/providers/Jitgate/tokens
# api A|B METHOD PATH [BODY] [CURL ARGS...]: one call from the client, as the cookie $COOKIE (with $CSRF) when set,
# else as the bearer $TOK (the owner's by default); sets $code, $R and $HDR
api() {
	local r=$1 m=$2 p=$3 body=${4-}
	shift 4 2>/dev/null || shift $#
	local args=(-sS --max-time 10 --cacert "$E2E_TMP/state$r/tls/cert.pem" -o "$E2E_TMP/resp" -D "$E2E_TMP/hdr"
		-w '%{http_code}' -X "$m")
	if [[ -n ${NOAUTH-} ]]; then
		:
	elif [[ -n ${COOKIE-} ]]; then
		args+=(-H "Cookie: jg_session=$COOKIE")
		[[ -n ${CSRF-} ]] && args+=(-H "X-CSRF-Token: $CSRF")
	else
		args+=(-H "Authorization: Bearer ${TOK:-$T_OWNER}")
	fi
	[[ -n $body ]] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
	code=$(ip netns exec "$CL" curl "${args[@]}" "$@" "https://${RIP[$r]}:8443$p" 2>"$E2E_TMP/curl.err")
	R=$(cat "$E2E_TMP/resp" 2>/dev/null)
	HDR=$(cat "$E2E_TMP/hdr" 2>/dev/null)
}
j() { jq -r "$@" <<<"$R" 2>/dev/null; }
signin() { # A|B TOKEN: a portal sign-in; sets SID (the cookie's session id) and SCSRF
	NOAUTH=1 api "$1" POST /session "{\"token\":\"$2\"}"
	SID=$(grep -io '^set-cookie: jg_session=[0-9a-f]*' <<<"$HDR" | sed 's/.*=//')
	SCSRF=$(j .csrfToken)
}
rows() { store_read "" "SELECT count(*) FROM sessions${1:+ WHERE $1}"; }
no_rows() { [[ $(rows) == 0 ]]; }
ENDED='{"error":{"code":"AuthenticationFailed","message":"authentication failed: send '\''Authorization: Bearer <token>'\''","details":[]}}'
NOTIN='{"error":{"code":"AuthenticationFailed","message":"not signed in","details":[]}}'

echo "0. two replicas on one database"
check "replica A is healthy" replica_start A
check "replica B is healthy" replica_start B
T_OWNER=$("$JITGATED" token create --name owner --role Owner --state-dir "$E2E_TMP/stateA")
T_REQ=$("$JITGATED" token create --name requester --role JitRequester --state-dir "$E2E_TMP/stateA")
check "two tokens made (owner, requester)" bash -c '[[ $1 == jg_* && $2 == jg_* ]]' _ "$T_OWNER" "$T_REQ"

echo "1. a portal session made on A is accepted on B"
signin A "$T_REQ"
check "sign-in on A: 201, a session cookie and a CSRF token ($code)" \
	bash -c '[[ $1 == 201 && ${#2} == 64 && ${#3} == 64 ]]' _ "$code" "$SID" "$SCSRF"
n_hash=$(rows "id_hash = sha256(convert_to('$SID', 'UTF8'))")
n_text=$(rows "encode(id_hash, 'hex') IN ('$SID', '$SCSRF') OR position('$SID' IN person || subject || assignments) > 0 OR position('$SCSRF' IN person || subject || assignments) > 0")
check "the store keeps the session's hash ($n_hash row), not its id nor its CSRF token ($n_text rows)" test "$n_hash $n_text" = "1 0"
COOKIE=$SID api B GET /session
check "GET /session on B with A's cookie: 200, token:requester, the same CSRF token ($code $(j .name))" \
	bash -c '[[ $1 == 200 && $2 == token:requester && $3 == "$4" ]]' _ "$code" "$(j .name)" "$(j .csrfToken)" "$SCSRF"
COOKIE=$SID api B GET "/subscriptions/$SUB/providers/Microsoft.Compute/virtualMachines?$AV"
check "a read on B with A's cookie: 200 ($code)" test "$code" = 200
COOKIE=$SID api B DELETE "$TOKENS/nobody?$AV"
check "a write on B with A's cookie but no CSRF token: 403 CsrfTokenInvalid ($code $(j .error.code))" \
	test "$code $(j .error.code)" = "403 CsrfTokenInvalid"
COOKIE=$SID CSRF=$SCSRF api B DELETE "$TOKENS/nobody?$AV"
check "the same write with A's CSRF token passes the check on B (a requester may not revoke: $code $(j .error.code))" \
	test "$code $(j .error.code)" = "403 AuthorizationFailed"

# a figure, not a check: what reading the session's row on every request costs, beside a token's one read
many() { # A|B N AUTH_HEADER: N GET /whoami over one connection; prints the milliseconds and the 200s
	seq "$2" | sed "s|.*|url = \"https://${RIP[$1]}:8443/whoami\"\noutput = \"/dev/null\"|" >"$E2E_TMP/many.cfg"
	local t0=$(now_ms)
	ip netns exec "$CL" curl -sS --max-time 60 --cacert "$E2E_TMP/state$1/tls/cert.pem" -H "$3" -w '%{http_code}\n' \
		-K "$E2E_TMP/many.cfg" >"$E2E_TMP/many.codes" 2>/dev/null
	echo "$(( $(now_ms) - t0 )) ms, $(grep -c '^200$' "$E2E_TMP/many.codes") of $2 answered 200"
}
echo "       figure: 1,000 GET /whoami on B over one connection, with A's session cookie: $(many B 1000 "Cookie: jg_session=$SID")"
echo "       figure: the same with the requester's bearer token:                          $(many B 1000 "Authorization: Bearer $T_REQ")"

echo "2. sign-out on A: refused on B at once"
COOKIE=$SID api A DELETE /session
check "sign-out on A without the CSRF token: 403, the session lives ($code)" test "$code" = 403
COOKIE=$SID CSRF=$SCSRF api A DELETE /session
check "sign-out on A: 204 ($code)" test "$code" = 204
COOKIE=$SID api B GET "/subscriptions/$SUB/providers/Microsoft.Compute/virtualMachines?$AV"
check "B refuses the signed-out cookie at once: 401 $ENDED ($code $R)" test "$code $R" = "401 $ENDED"
COOKIE=$SID api B GET /session
check "GET /session on B: 401 $NOTIN ($code)" test "$code $R" = "401 $NOTIN"
check "the session's row is gone" test "$(rows)" = 0

echo "3. revoking the token on A ends its sessions on B"
signin A "$T_REQ"
S1=$SID
COOKIE=$S1 api B GET /session
check "a new session of the requester's token, accepted on B ($code)" test "$code" = 200
api A DELETE "$TOKENS/requester?$AV"
check "the owner revokes the requester's token on A ($code)" test "$code" = 200
COOKIE=$S1 api B GET "/subscriptions/$SUB/providers/Microsoft.Compute/virtualMachines?$AV"
check "B refuses the revoked token's session at once: 401 ($code $R)" test "$code $R" = "401 $ENDED"
check "its row is gone" test "$(rows)" = 0

echo "4. forged, modified and expired sessions"
T_R2=$("$JITGATED" token create --name requester2 --role JitRequester --state-dir "$E2E_TMP/stateA")
signin A "$T_R2"
S2=$SID C2=$SCSRF
flip=$(printf '%x' $(( (16#${S2:63:1} + 1) % 16 )))
for bad in "${S2:0:63}$flip" "$(printf '%064d' 0)" "${S2:0:62}" "${S2}00" "${S2^^}" "../$S2"; do
	COOKIE=$bad api B GET /session
	check "B refuses a forged or modified cookie ${bad:0:12}…(${#bad}): 401 $NOTIN ($code)" test "$code $R" = "401 $NOTIN"
done
COOKIE=$S2 api B GET /session
check "the genuine cookie is still accepted ($code)" test "$code" = 200
store_sql "" "UPDATE sessions SET expires_ns = 1"
COOKIE=$S2 api B GET /session
check "an expired session is refused on B: 401 ($code)" test "$code $R" = "401 $NOTIN"
COOKIE=$S2 api A GET "/subscriptions/$SUB/providers/Microsoft.Compute/virtualMachines?$AV"
check "and on A: 401 ($code)" test "$code $R" = "401 $ENDED"
eventually_within "the expired session is pruned within 7 s (replicas prune every 5 s)" 7 no_rows

echo "5. limits: one token holds at most 8 sessions"
for i in $(seq 1 9); do signin $([[ $((i % 2)) == 0 ]] && echo A || echo B) "$T_R2"; eval "L$i=\$SID"; done
COOKIE=$L1 api A GET /session
check "the 9th sign-in of one token (on either replica) ends its oldest: 401 ($code)" test "$code" = 401
COOKIE=$L2 api A GET /session
check "the 2nd is still accepted ($code); the token holds $(rows) sessions" bash -c '[[ $1 == 200 && $2 == 8 ]]' _ "$code" "$(rows)"

echo "6. the store refuses a sign-out (a full disk, as PostgreSQL says it): refused on A at once, on B once recorded"
signin A "$T_R2"
S3=$SID C3=$SCSRF
store_sql "" "CREATE FUNCTION sessions_full() RETURNS trigger LANGUAGE plpgsql AS \$\$ BEGIN RAISE EXCEPTION 'no room (test)' USING ERRCODE = 'disk_full'; END \$\$; CREATE TRIGGER sessions_full BEFORE DELETE ON sessions FOR EACH ROW EXECUTE FUNCTION sessions_full()"
COOKIE=$S3 CSRF=$C3 api A DELETE /session
check "sign-out on A while the store refuses: 503 StoreError saying so, with Retry-After ($code $(j .error.message | cut -c1-60))" bash -c \
	'[[ $1 == 503 && $(jq -r .error.code <<<"$2") == StoreError && $(jq -r .error.message <<<"$2") == "signed out on this server, but the store cannot record it for the other replicas yet (it is retried every second): "* ]] && grep -qi "^retry-after:" <<<"$3"' _ "$code" "$R" "$HDR"
COOKIE=$S3 api A GET /session
check "A refuses the session at once: 401 ($code)" test "$code $R" = "401 $NOTIN"
COOKIE=$S3 api B GET /session
echo "       B meanwhile (its row is still in the store): $code"
T_R3=$("$JITGATED" token create --name requester3 --role JitRequester --state-dir "$E2E_TMP/stateA")
signin A "$T_R3"
S4=$SID
api A DELETE "$TOKENS/requester3?$AV"
check "a token revoked on A while its sessions cannot be deleted: 200 ($code)" test "$code" = 200
COOKIE=$S4 api B GET /session
check "B refuses that token's session all the same (its token is revoked): 401 ($code)" test "$code $R" = "401 $NOTIN"
store_sql "" "DROP TRIGGER sessions_full ON sessions; DROP FUNCTION sessions_full()"
eventually_within "once the store takes writes again, A records the sign-out within 3 s, and B refuses it" 3 bash -c \
	'[[ $(ip netns exec "$1" curl -sS --max-time 5 --cacert "$2" -o /dev/null -w "%{http_code}" -H "Cookie: jg_session=$3" "$4/session") == 401 ]]' \
	_ "$CL" "$E2E_TMP/stateB/tls/cert.pem" "$S3" "https://$RB:8443"
check "A's log says it recorded the sign-out" grep -q "recorded 1 sign-out(s) the store had refused" "$E2E_TMP/jitgatedA.log"

echo "7. sessions outlive a restart (they are in the store)"
T_R4=$("$JITGATED" token create --name requester4 --role JitRequester --state-dir "$E2E_TMP/stateA")
signin A "$T_R4"
S5=$SID
kill -TERM "${RPID[A]}"
for ((i = 0; i < 50; i++)); do kill -0 "${RPID[A]}" 2>/dev/null || break; sleep 0.1; done
check "replica A restarts" replica_start A
COOKIE=$S5 api A GET /session
check "the session made before the restart is accepted by the new A ($code $(j .name))" test "$code $(j .name)" = "200 token:requester4"

check "both replicas still run" bash -c 'kill -0 $1 && kill -0 $2' _ "${RPID[A]}" "${RPID[B]}"
if ((E2E_FAIL)) || [[ -n ${E2E_VERBOSE:-} ]]; then
	for r in A B; do echo "  replica $r's log:"; tail -n 15 "$E2E_TMP/jitgated$r.log" | sed 's/^/    /'; done
fi
e2e_summary

#!/usr/bin/env bash
# End-to-end test of who may do what before and around authentication (issue 11): token minting, portal
# sessions, the failure budget and its activity rows, X-Forwarded-For behind a trusted proxy, and the
# connection table under idle hostile clients over IPv4 and IPv6.
#
#   client (L, L6: honest; A1-A5: IPv4 attackers; A61-A65: five addresses of one IPv6 /64; P: trusted proxy;
#           G: a token guesser)
#      ──veth──  vm (jitgated on [::]:8443, dual stack)
#
# Usage: tests/e2e/sec-auth.sh [BUILD_DIR]   (as root; needs curl and jq)
set -u
here=$(cd "$(dirname "$0")" && pwd)
BUILD=${1:-$here/../../build}
JITGATED=$BUILD/src/daemon/jitgated
NETPROBE=$BUILD/tests/e2e/netprobe
HOSTILE=$BUILD/tests/e2e/hostile
. "$here/lib.sh"

[[ $(id -u) == 0 ]] || { echo "sec-auth.sh: needs root (network namespaces, nftables)"; exit 1; }
[[ -x $JITGATED && -x $HOSTILE ]] || { echo "sec-auth.sh: build first ($JITGATED)"; exit 1; }
command -v curl >/dev/null && command -v jq >/dev/null || { echo "sec-auth.sh: needs curl and jq (scripts/deps.sh)"; exit 1; }

VM=$(ns_new vm) && CL=$(ns_new cl) || exit 1
link_new "$VM" v0 "$CL" c0 || exit 1
V=10.216.0.1 V6=fd00:216::1 V6B=fd00:216:1::1
L=10.216.0.2 L6=fd00:216:1::2 P=10.216.0.50 G=10.216.0.60 G2=10.216.0.61 RB=10.216.0.70
A4=(10.216.0.11 10.216.0.12 10.216.0.13 10.216.0.14 10.216.0.15)
A6=(fd00:216::a1 fd00:216::a2 fd00:216::a3 fd00:216::a4 fd00:216::a5)
addr_add "$VM" v0 $V/24; addr_add "$VM" v0 $V6/64; addr_add "$VM" v0 $V6B/64
for a in $L/24 $P/24 $G/24 $G2/24 $RB/24 "${A4[@]/%//24}" $L6/64 "${A6[@]/%//64}"; do addr_add "$CL" c0 "$a"; done
ns_settle "$CL"; ns_settle "$VM"

STATE=$E2E_TMP/state
CONF=$E2E_TMP/jitgated.conf
SUB=00000000-0000-0000-0000-000000000000
RGID=/subscriptions/$SUB/resourceGroups/default
VMID=$RGID/providers/Microsoft.Compute/virtualMachines/vm1
POL=$RGID/providers/Microsoft.Security/locations/local/jitNetworkAccessPolicies/default
TOKENS=/subscriptions/$SUB/providers/Jitgate/tokens
LOG=/subscriptions/$SUB/providers/Microsoft.Security/jitActivityLog
AV=api-version=2020-01-01
SRVLOG=$E2E_TMP/jitgated.log
cat >"$CONF" <<EOF
trusted_proxies = $P/32
# may read and manage tokens, nothing else
[role Minter]
actions = Jitgate/tokens/*, */read
EOF

token() { "$JITGATED" token "$@" --config "$CONF" --state-dir "$STATE"; }

# call TOKEN METHOD PATH [BODY [CURL_ARGS...]]: sets $code and $R; from $SRC (default L). The generated
# certificate names localhost, not a wildcard listen address: connect there by name.
SRC=$L
call() {
	local tok=$1 m=$2 p=$3 body=${4-} host=$V
	[[ $SRC == *:* ]] && host="[$V6B]"
	local args=(-sS --max-time 5 --cacert "$STATE/tls/cert.pem" --interface "$SRC" -o "$E2E_TMP/resp"
		--connect-to "localhost:8443:$host:8443" -w '%{http_code}' -X "$m")
	shift 3; (( $# )) && shift
	[[ -n $tok ]] && args+=(-H "Authorization: Bearer $tok")
	[[ -n $body ]] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
	code=$(ip netns exec "$CL" curl "${args[@]}" "$@" "https://localhost:8443$p" 2>"$E2E_TMP/curl.err")
	R=$(cat "$E2E_TMP/resp" 2>/dev/null)
}
j() { jq -r "$@" <<<"$R" 2>/dev/null; }
expect() { # STATUS [ERRORCODE] DESCRIPTION
	local st=$1 ec= what=${!#}
	(( $# == 3 )) && ec=$2
	local got="$code${ec:+ $(j '.error.code // empty')}"
	check "$what → $st${ec:+ $ec} (got $got)" test "$got" = "$st${ec:+ $ec}"
}
healthy_from() { # SRC: /healthz answers 200 from that address
	local SRC=$1
	call "" GET /healthz
	[[ $code == 200 ]]
}
start_server() {
	ip netns exec "$VM" "$JITGATED" --single-process --config "$CONF" --state-dir "$STATE" --listen "[::]:8443" --vm-name vm1 \
		>>"$SRVLOG" 2>&1 &
	SRV=$!
	E2E_PIDS+=($SRV)
	local i
	for ((i = 0; i < 100; i++)); do
		[[ -f $STATE/tls/cert.pem ]] && healthy_from "$L" && return 0
		kill -0 "$SRV" 2>/dev/null || break
		sleep 0.05
	done
	echo "jitgated did not become healthy: $(tail -5 "$SRVLOG")" >&2
	return 1
}

echo "1. token minting: a caller hands out only what it holds"
printf '[role Typo]\nactions = Microsoft.Security/locations/jitNetworkAccessPolicy/read\n' >"$E2E_TMP/bad.conf"
"$JITGATED" token create --config "$E2E_TMP/bad.conf" --state-dir "$E2E_TMP/bad" --name x --role Typo \
	>/dev/null 2>"$E2E_TMP/bad.err"
check "a role with an unknown action is refused at load, naming it ($(head -c 160 "$E2E_TMP/bad.err"))" \
	grep -q "matches none of jitgate's actions" "$E2E_TMP/bad.err"
T_OWNER=$(token create --name owner --role Owner)
T_MINTER=$(token create --name minter --role Minter)
T_RGMINTER=$(token create --name rgminter --role Minter --scope "$RGID")
T_SUBMINTER=$(token create --name subminter --role Minter --scope "/subscriptions/$SUB")
T_READER=$(token create --name reader --role Reader)
token create --name victim --role Owner >/dev/null
refuse "jitgated token create refuses a scope that is no resource id" \
	token create --name offline-bad --role Reader --scope "/subscriptions/$SUB/nonsense"
[[ $T_OWNER == jg_* && $T_MINTER == jg_* && $T_RGMINTER == jg_* ]] || { notok "tokens created offline"; e2e_summary; exit 1; }
start_server || { e2e_summary; exit 1; }

call "$T_MINTER" PUT "$TOKENS/minted-owner?$AV" '{"role":"Owner"}'
expect 403 AuthorizationFailed "a Minter (tokens/*, */read) creating an Owner token"
check "  the refusal names the action beyond the caller ($(j .error.message | head -c 120))" \
	grep -q "allows '" <<<"$(j .error.message)"
call "$T_MINTER" PUT "$TOKENS/minted-req?$AV" '{"role":"JitRequester"}'
expect 403 AuthorizationFailed "a Minter creating a JitRequester token (initiate is beyond it)"
call "$T_MINTER" PUT "$TOKENS/minted-reader?$AV" '{"role":"Reader"}'
expect 201 "a Minter creating a Reader token (within its own actions)"
call "$T_MINTER" PUT "$TOKENS/minted-minter?$AV" '{"role":"Minter"}'
expect 201 "a Minter creating a Minter token (its own role)"
call "$T_RGMINTER" PUT "$TOKENS/rg-vm?$AV" "{\"role\":\"Reader\",\"scope\":\"$VMID\"}"
expect 403 AuthorizationFailed "a Minter scoped to a resource group (tokens are a subscription's)"
call "$T_SUBMINTER" PUT "$TOKENS/sub-root?$AV" '{"role":"Reader"}'
expect 403 AuthorizationFailed "a Minter scoped to the subscription creating a token at '/'"
check "  the refusal names the scope" test "$(j .error.target)" = scope
call "$T_SUBMINTER" PUT "$TOKENS/sub-rg?$AV" "{\"role\":\"Reader\",\"scope\":\"$RGID\"}"
expect 201 "  ... at a resource group inside it"
call "$T_OWNER" PUT "$TOKENS/bad-scope?$AV" "{\"role\":\"Reader\",\"scope\":\"/subscriptions/$SUB/whatever\"}"
expect 400 InvalidScope "a token scope that is no resource id"
check "  the error names the field" test "$(j .error.target)" = scope
call "$T_OWNER" PUT "$TOKENS/bad-rg?$AV" "{\"role\":\"Reader\",\"scope\":\"/subscriptions/$SUB/resourceGroups/a%2Fb?\"}"
expect 400 "a token scope with a bad resource group name"
check "  the error names the field" test "$(j .error.target)" = scope
call "$T_MINTER" DELETE "$TOKENS/victim?$AV"
expect 403 AuthorizationFailed "a Minter revoking an Owner's token"
call "$T_MINTER" DELETE "$TOKENS/victim?$AV&keepGrants=true"
expect 403 AuthorizationFailed "  ... with keepGrants=true (keeping grants widens nothing)"
call "$T_SUBMINTER" DELETE "$TOKENS/minted-reader?$AV"
expect 403 AuthorizationFailed "a subscription-scoped Minter revoking a token at '/'"
call "$T_MINTER" DELETE "$TOKENS/minted-reader?$AV"
expect 200 "a Minter revoking the Reader token it made"
call "$T_OWNER" GET "/whoami?$AV"
expect 200 "the Owner's token still works"

echo "2. portal sessions: no token can crowd out the others"
COOKIES=$E2E_TMP/cookies
signin() { # TOKEN [JAR]: POST /session (sets $code; the cookie goes to JAR)
	local SRC=${SRC}
	call "" POST /session "{\"token\":\"$1\"}" -c "${2:-/dev/null}"
}
signin "$T_READER" "$COOKIES.first"
expect 201 "a Reader signs in"
# 299 more sign-ins with the same token over one connection (one curl)
urls() { # N PATH: a curl config of N requests to PATH, each answer thrown away
	seq "$1" | sed "s|.*|url = \"https://localhost:8443$2\"\noutput = \"/dev/null\"|"
}
urls 299 /session >"$E2E_TMP/many.cfg"
ip netns exec "$CL" curl -sS --max-time 60 --cacert "$STATE/tls/cert.pem" --interface "$L" \
	--connect-to "localhost:8443:$V:8443" -X POST -H 'Content-Type: application/json' \
	--data-binary "{\"token\":\"$T_READER\"}" -w '%{http_code}\n' -K "$E2E_TMP/many.cfg" \
	>"$E2E_TMP/many.codes" 2>/dev/null
check "300 sign-ins with one token all succeed ($(sort "$E2E_TMP/many.codes" | uniq -c | tr -s ' \n' ' '))" \
	test "$(grep -c '^201$' "$E2E_TMP/many.codes")" = 299
signin "$T_OWNER" "$COOKIES.owner"
expect 201 "then the Owner still signs in (the table is not the Reader's)"
call "" GET /session "" -b "$COOKIES.first"
expect 401 "the Reader's first session ended: one token holds at most 8"
call "" GET /session "" -b "$COOKIES.owner"
expect 200 "the Owner's session works"
T_GONE=$(token create --name gone --role Reader)
signin "$T_GONE" "$COOKIES.gone"
call "" GET "/whoami" "" -b "$COOKIES.gone"
expect 200 "a session of a token about to be revoked works"
call "$T_OWNER" DELETE "$TOKENS/gone?$AV"
expect 200 "the Owner revokes that token"
call "" GET "/whoami" "" -b "$COOKIES.gone"
check "its session was ended at the revoke, not merely refused ($code: $(j .error.message))" \
	grep -q "send 'Authorization: Bearer" <<<"$(j .error.message)"

echo "3. sign-in failures share the per-address budget and its 429"
SRC=$G codes=""
for i in $(seq 10); do signin "jg_wrong$i"; codes+=" $code"; done
check "10 wrong sign-ins → 401 each (${codes# })" test "${codes# }" = "$(printf '401 %.0s' $(seq 10) | sed 's/ $//')"
signin "jg_wrong11"
expect 429 TooManyRequests "the 11th wrong sign-in from that address"
call "jg_wrong12" GET "/whoami"
expect 429 TooManyRequests "  and a wrong bearer token from it: the same budget"
signin "$T_MINTER"
expect 201 "  a valid token still signs in from it"
SRC=$G2
call "jg_wrong" GET "/whoami"
expect 401 "another address has its own budget"

echo "4. unauthenticated traffic cannot make jitgated write without bound"
SRC=$RB
urls 1000 /whoami >"$E2E_TMP/whoami.cfg"
urls 1000 /session >"$E2E_TMP/session.cfg"
bad() { # NAME CFG CURL_ARGS...: 1,000 requests over one connection, their statuses in NAME.codes
	local name=$1 cfg=$2; shift 2
	ip netns exec "$CL" curl -sS --max-time 60 --cacert "$STATE/tls/cert.pem" --interface "$RB" \
		--connect-to "localhost:8443:$V:8443" -w '%{http_code}\n' -K "$E2E_TMP/$cfg.cfg" "$@" \
		>"$E2E_TMP/$name.codes" 2>"$E2E_TMP/$name.err"
}
t0=$(now_ms)
bad noauth whoami
bad badauth whoami -H "Authorization: Bearer jg_guess"
bad badsignin session -X POST -H 'Content-Type: application/json' --data-binary '{"token":"jg_guess"}'
echo "     3,000 bad requests in $(( $(now_ms) - t0 )) ms: $(cat "$E2E_TMP"/{noauth,badauth,badsignin}.codes | sort | uniq -c | tr -s ' \n' ' ')"
SRC=$L
call "$T_OWNER" GET "$LOG?$AV&\$top=10000"
rows=$(j --arg a "$RB" '[.value[] | select(.callerAddress == $a)] | length')
check "3,000 bad requests from one address made at most 3 activity rows (made $rows)" test "${rows:-9999}" -le 3
check "  and at least one (failures are still recorded)" test "${rows:-0}" -ge 1
echo "     $(j --arg a "$RB" '[.value[] | select(.callerAddress == $a) | "\(.status): \(.detail)"] | join(" | ")' | head -c 400)"

echo "5. X-Forwarded-For behind a trusted proxy"
SRC=$P
call "$T_OWNER" GET /whoami "" -H "X-Forwarded-For: 10.216.0.77" -H "X-Forwarded-For: 10.216.0.88"
check "two header lines are one list and its last element is the caller (got $(j .address))" test "$(j .address)" = 10.216.0.88
call "$T_OWNER" GET /whoami "" -H "X-Forwarded-For: 1.2.3.4, 10.216.0.99:5555"
check "a port after the last hop is allowed (got $(j .address))" test "$(j .address)" = 10.216.0.99
call "$T_OWNER" GET /whoami "" -H "X-Forwarded-For: 10.216.0.77, [fd00:216::99]:443"
check "  and a bracketed IPv6 with a port (got $(j .address))" test "$(j .address)" = fd00:216::99
call "$T_OWNER" GET /whoami "" -H "X-Forwarded-For: 10.216.0.77, not-an-address"
check "an unparsable last element leaves the address unknown, never the proxy's (got $(j .address))" \
	test "$(j .address)" = unknown
# (10 lines of 10 hops: 100 one-address lines would pass the request head's HTTP_REQUEST_HEAD_MAX, a 431)
XFF=(); for _ in $(seq 10); do XFF+=(-H "X-Forwarded-For: $(printf '10.216.0.77, %.0s' {1..9})10.216.0.77"); done
call "$T_OWNER" GET /whoami "" "${XFF[@]}"
check "10 X-Forwarded-For lines of 10 hops, joined past API_FORWARDED_FOR_MAX, leave the address unknown ($code $(j .address))" \
	test "$code" = 200 -a "$(j .address)" = unknown
XFF=(); for _ in $(seq 1000); do XFF+=(-H "X-Forwarded-For: 10.216.0.77"); done
call "$T_OWNER" GET /whoami "" "${XFF[@]}"
check "1,000 X-Forwarded-For lines (past the header memory) are refused, never read as a caller (got $code)" \
	test "$code" = 431
call "$T_OWNER" GET /whoami "" -H "X-Forwarded-For: 10.216.0.88"
check "  and the next request through the proxy is read as usual (got $(j .address))" test "$(j .address)" = 10.216.0.88
call "$T_OWNER" PUT "$POL?$AV" "$(printf '{"kind":"Basic","properties":{"virtualMachines":[{"id":"%s","ports":[
	{"number":22,"protocol":"TCP","allowedSourceAddressPrefix":"*","maxRequestAccessDuration":"PT1H"}]}]}}' "$VMID")"
[[ $code == 200 || $code == 201 ]] || notok "policy PUT ($code $R)"
end=$(date -u -d '+10 minutes' +%Y-%m-%dT%H:%M:%SZ)
INIT=$(printf '{"virtualMachines":[{"id":"%s","ports":[{"number":22,"endTimeUtc":"%s"}]}],"justification":"e2e"}' "$VMID" "$end")
call "$T_OWNER" POST "$POL/initiate?$AV" "$INIT" -H "X-Forwarded-For: garbage"
expect 400 MissingSourceAddressPrefix "an initiate for 'my IP' through the proxy with an unparsable X-Forwarded-For"
call "$T_OWNER" POST "$POL/initiate?$AV" "$INIT"
expect 400 MissingSourceAddressPrefix "  and with none"
call "$T_OWNER" POST "$POL/initiate?$AV" "$INIT" -H "X-Forwarded-For: 10.216.0.1" -H "X-Forwarded-For: 10.216.0.123"
[[ $code == 202 || $code == 200 ]] && src=$(j '.virtualMachines[0].ports[0].allowedSourceAddressPrefix') || src="($code $(j .error.message))"
check "  with two lines the grant is for the last hop (got $src)" test "$src" = 10.216.0.123

echo "6. a few sources cannot take the connection table"
SRC=$L
HOLD_S=9
attack() { # SRC... : 300 idle TCP connections from each, held HOLD_S s, in parallel
	local s dst
	for s in "$@"; do
		dst=$V; [[ $s == *:* ]] && dst=$V6
		ip netns exec "$CL" "$HOSTILE" idle "$dst" 8443 300 $HOLD_S "$s" >"$E2E_TMP/idle.$s" 2>"$E2E_TMP/idle.$s.err" &
		E2E_PIDS+=($!)
		ATTACKERS+=($!)
	done
}
field() { sed -n "s/.*\b$2=\([^ ]*\).*/\1/p" "$E2E_TMP/idle.$1"; }
# keepalive TOKEN: a TLS connection from L asks /whoami (with TOKEN, or none), idles 8 s, then asks again on
# the same connection; prints the second status, or "closed"
keepalive() {
	ip netns exec "$CL" python3 - "$V" "$L" "$STATE/tls/cert.pem" "$1" <<'PY'
import socket, ssl, sys, time
dst, src, ca, tok = sys.argv[1:5]
ctx = ssl.create_default_context(cafile=ca)
s = ctx.wrap_socket(socket.create_connection((dst, 8443), timeout=5, source_address=(src, 0)), server_hostname="localhost")
req = "GET /whoami HTTP/1.1\r\nHost: localhost\r\n" + ("Authorization: Bearer %s\r\n" % tok if tok else "") + "\r\n"
def ask():
    s.sendall(req.encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            return "closed"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    n = int([l.split(b":")[1] for l in head.split(b"\r\n") if l.lower().startswith(b"content-length")][0])
    while len(body) < n:
        chunk = s.recv(65536)
        if not chunk:
            return "closed"
        body += chunk
    return head.split(b" ")[1].decode()
try:
    first = ask()
    time.sleep(8)
    print(first, ask())
except (OSError, ssl.SSLError):
    print("closed")
PY
}
keepalive "$T_OWNER" >"$E2E_TMP/keep.auth" 2>&1 &
E2E_PIDS+=($!); KEEP1=$!
keepalive "" >"$E2E_TMP/keep.none" 2>&1 &
E2E_PIDS+=($!); KEEP2=$!
ATTACKERS=()
attack "${A4[@]}" "${A6[@]}"
sleep 2
check "while 5 IPv4 addresses and 5 addresses of one IPv6 /64 hold 3,000 idle connections, an IPv4 client is served" \
	healthy_from "$L"
check "  and an IPv6 client of another /64" healthy_from "$L6"
call "$T_OWNER" GET "/whoami?$AV"
expect 200 "  and an authenticated request"
wait "${ATTACKERS[@]}" 2>/dev/null
wait $KEEP1 $KEEP2 2>/dev/null
check "an authenticated connection idle for 8 s is still open, through the attack ($(cat "$E2E_TMP/keep.auth"))" \
	test "$(cat "$E2E_TMP/keep.auth")" = "200 200"
check "  an unauthenticated one is closed by then ($(cat "$E2E_TMP/keep.none"))" \
	grep -q "closed" "$E2E_TMP/keep.none"
held6=0
for s in "${A6[@]}"; do held6=$(( held6 + 300 - $(field "$s" ended_under_3s) )); done
check "the IPv6 /64 got at most 128 connections in all, its five addresses together (got $held6)" test "$held6" -le 128
held4="" over=0
for s in "${A4[@]}"; do
	h=$(( 300 - $(field "$s" ended_under_3s) ))
	held4+="$h "
	(( h <= 128 )) || over=1
done
check "each IPv4 source got at most 128 connections (got ${held4% })" test $over = 0
last=$(field "${A4[0]}" last_end_s) open=$(field "${A4[0]}" open_at_end)
check "idle unauthenticated connections are closed after about 5 s, not 30 (last closed at ${last} s, $open open at ${HOLD_S} s)" \
	test "$open" = 0
echo "     ${A4[0]}: $(cat "$E2E_TMP/idle.${A4[0]}")"
echo "     ${A6[0]}: $(cat "$E2E_TMP/idle.${A6[0]}")"

kill -0 "$SRV" 2>/dev/null || notok "jitgated is still running"
e2e_summary

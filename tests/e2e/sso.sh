#!/usr/bin/env bash
# End-to-end test of single sign-on (OpenID Connect): a real provider (npm oidc-provider, HTTPS, three users),
# the real jitgated (privilege-separated, so the main process's seccomp list for HTTPS out is what runs), and
# Debian's Chromium driven by playwright-core through the portal's authorization code flow (tests/e2e/sso/test.mjs).
#
#   client (node + chromium, 10.231.0.2) ──veth── vm (jitgated :8443, provider :9443, both on 10.231.0.1)
#
# Usage: tests/e2e/sso.sh [BUILD_DIR]   (as root; needs node, npm, chromium, openssl; the npm registry the first time)
#        tests/e2e/on-pg.sh sso.sh [BUILD_DIR]   the store on PostgreSQL, and a second replica (B) sharing it:
#        the sessions made on A are accepted on B, and refused on B once they end on A
set -u
here=$(cd "$(dirname "$0")" && pwd)
BUILD=$(cd "${1:-$here/../../build}" 2>/dev/null && pwd) || { echo "sso.sh: no build directory ${1:-}"; exit 1; }
JITGATED=${JITGATED:-$BUILD/src/daemon/jitgated}	# tests/e2e/on-pg.sh gives one with --store
JITGATE=$BUILD/src/cli/jitgate
DIR=$here/sso
. "$here/lib.sh"
. "$DIR/setup.sh"

[[ -x $JITGATED && -x $JITGATE ]] || { echo "sso.sh: build first ($JITGATED)"; exit 1; }
browser_test_setup sso.sh "$DIR" "oidc-provider playwright-core" curl openssl "$STORE_CLI" || exit 1

SUB=00000000-0000-0000-0000-000000000000 RG=default RGB=groupb LOC=local
VMADDR=10.231.0.1 CLADDR=10.231.0.2 API_PORT=8443 IDP_PORT=9443
JG=https://$VMADDR:$API_PORT IDP=https://$VMADDR:$IDP_PORT
sso_net sso $VMADDR $CLADDR || exit 1	# E2E_TMP passable: the provider's certificate is below it too
mkdir -p "$E2E_TMP/idp"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=sso-e2e-idp \
	-addext "subjectAltName=IP:$VMADDR" -keyout "$E2E_TMP/idp/key.pem" -out "$E2E_TMP/idp/cert.pem" 2>/dev/null ||
	{ echo "sso.sh: openssl cannot make the provider's certificate"; exit 1; }
chmod 0755 "$E2E_TMP/idp" && chmod 0644 "$E2E_TMP/idp/cert.pem"
MODE=$E2E_TMP/idp/mode
: >"$MODE"

sso_conf "Test IdP"
cat >>"$E2E_TMP/jitgated.conf" <<EOF
scopes = openid email groups
ca_file = $E2E_TMP/idp/cert.pem
max_session = PT1H
map = group:sec-admins SecurityAdmin /subscriptions/$SUB
map = group:jit-users JitRequester /subscriptions/$SUB
map = group:team-a JitRequester /subscriptions/$SUB/resourceGroups/$RG
map = group:team-b SecurityAdmin /subscriptions/$SUB/resourceGroups/$RGB
EOF
# eve's nine groups match nine lines: one more than a person may hold (API_CALLER_ASSIGNMENTS_MAX)
for i in 1 2 3 4 5 6 7 8 9; do echo "map = group:many-$i Reader /subscriptions/$SUB"; done >>"$E2E_TMP/jitgated.conf"
sso_start owner Owner $VMADDR:$API_PORT $RG || { e2e_summary; exit 1; }
OWNER=$SSO_TOKEN

IDP_PID=
provider_start() { # the provider in the VM namespace, signing with key k1 (SIGUSR1: k2)
	local i try
	# node has been seen to hang before listening on a loaded machine (its threads all waiting): such a start is
	# ended and tried again, at most 3 times 20 s
	for ((try = 0; try < 3; try++)); do
		ip netns exec "$VM" env ISSUER=$IDP HOST=$VMADDR PORT=$IDP_PORT TLS_CERT="$E2E_TMP/idp/cert.pem" \
			TLS_KEY="$E2E_TMP/idp/key.pem" REDIRECT=$JG/oidc/callback MODE_FILE="$MODE" \
			node "$DIR/provider.mjs" >>"$E2E_TMP/idp.log" 2>&1 </dev/null &
		IDP_PID=$!
		E2E_PIDS+=($IDP_PID)
		for ((i = 0; i < 1000; i++)); do
			ip netns exec "$CL" curl -sf --max-time 1 --cacert "$E2E_TMP/idp/cert.pem" -o /dev/null \
				"$IDP/.well-known/openid-configuration" && return 0
			kill -0 $IDP_PID 2>/dev/null || break
			sleep 0.02
		done
		echo "sso.sh: the provider did not answer (try $((try + 1)) of 3)"
		provider_stop
	done
	return 1
}
provider_stop() {
	kill $IDP_PID 2>/dev/null
	wait $IDP_PID 2>/dev/null
	echo "(provider $IDP_PID stopped: $?)" >>"$E2E_TMP/idp.log"
}

ns_settle "$CL" || echo "sso.sh: IPv6 addresses in the client namespace are still tentative after 5 s"
PROFILE=$E2E_TMP/home
mkdir -p "$PROFILE"
browser() { # PHASE [VAR=VALUE...]: test.mjs's phase in the client namespace; its ok/FAIL lines tallied here
	local phase=$1 line rc
	shift
	ip netns exec "$CL" env -u NODE_EXTRA_CA_CERTS HOME="$PROFILE" XDG_CONFIG_HOME="$PROFILE/.config" \
		XDG_CACHE_HOME="$PROFILE/.cache" JG_URL=$JG JG_IDP=$IDP JG_CERT="$STATE/tls/cert.pem" \
		JG_IDP_CERT="$E2E_TMP/idp/cert.pem" JG_CHROMIUM="$CHROMIUM" JG_TOKEN_OWNER="$OWNER" JG_SUB=$SUB JG_RG=$RG \
		JG_LOC=$LOC JG_MY_IP=$CLADDR "$@" timeout 120 node "$DIR/test.mjs" "$phase" >"$E2E_TMP/node.out" 2>"$E2E_TMP/node.err"
	rc=$?
	while IFS= read -r line; do
		case "$line" in
		"ok "*) ok "${line#ok }" ;;
		"FAIL "*) notok "${line#FAIL }" ;;
		*) printf '       %s\n' "$line" ;;
		esac
	done <"$E2E_TMP/node.out"
	check "browser phase $phase exits 0 (rc=$rc)" test $rc = 0
	((rc)) && sed 's/^/    node: /' "$E2E_TMP/node.err" | tail -n 20
}

# 1. the provider is down: a clear answer, and a token still signs in
browser down
code=$(ip netns exec "$CL" curl -sS --max-time 10 --cacert "$STATE/tls/cert.pem" -o "$E2E_TMP/start.json" -w '%{http_code}' \
	-X POST "$JG/oidc/start")
check "provider down: POST /oidc/start is 503 ProviderUnavailable, saying a token still signs in (HTTP $code)" \
	bash -c '[[ $1 == 503 ]] && grep -q "ProviderUnavailable" "$2" && grep -q "a jitgate token still signs in" "$2"' _ "$code" "$E2E_TMP/start.json"

# 2. the provider is up: sign-ins, roles, refusals
provider_start
check "the provider starts (kid k1)" test $? = 0
# jitgated answers at once for 10 s after the provider failed (OIDC_DOWN_RETRY_S), then asks it again
for ((i = 0; i < 150; i++)); do
	code=$(ip netns exec "$CL" curl -sS --max-time 10 --cacert "$STATE/tls/cert.pem" -o /dev/null -w '%{http_code}' \
		-X POST "$JG/oidc/start")
	[[ $code == 200 ]] && break
	sleep 0.1
done
check "the provider back: POST /oidc/start answers 200 again within 15 s (HTTP $code)" test "$code" = 200
browser signin JG_COOKIE_OUT="$E2E_TMP/bob.cookie"
has() { [[ -n $(store_read "$STATE" "$1") ]]; }
check "the activity log names alice and keeps her provider subject" has \
	"SELECT 1 FROM activity WHERE caller = 'user:alice@example.com' AND caller_subject = 'alice' AND operation = 'SignIn' AND status = 'Succeeded'"
check "alice's request names her and keeps her provider subject" has \
	"SELECT 1 FROM requests WHERE requestor = 'user:alice@example.com' AND requestor_subject = 'alice'"
check "the activity log records carol's refusal with the reason" has \
	"SELECT 1 FROM activity WHERE operation = 'SignIn' AND status = 'Denied' AND detail LIKE '%NoRoleMapped%carol@elsewhere.test%'"

# several map lines match dave (team-a, team-b): he holds both, each only at its own scope (test.mjs, several)
code=$(ip netns exec "$CL" curl -sS --max-time 10 --cacert "$STATE/tls/cert.pem" -o "$E2E_TMP/vm2.json" -w '%{http_code}' \
	-X PUT -H "Authorization: Bearer $OWNER" -H "Content-Type: application/json" \
	-d '{"location":"'$LOC'","properties":{"enforcement":"gateway","osType":"Linux","addresses":["10.231.5.2"]}}' \
	"$JG/subscriptions/$SUB/resourceGroups/$RGB/providers/Microsoft.Compute/virtualMachines/vm2?api-version=2020-01-01")
check "the owner adds vm2 (a gateway VM) in resource group $RGB for dave's policy (HTTP $code)" bash -c '[[ $1 == 20[01] ]]' _ "$code"
browser several JG_RG_B=$RGB

# On PostgreSQL (tests/e2e/on-pg.sh sso.sh): replica B shares the database, in a namespace of its own, protecting
# no host of its own (no --vm-name). Sessions made on A, in the browser or by the CLI, are accepted on B, and refused on B once they end on A.
B_URL=
if [[ -n ${JITGATE_TEST_PG-} ]]; then
	VMB=$(ns_new ssovmb) || exit 1
	link_new "$VMB" v0 "$CL" c1 || exit 1
	addr_add "$VMB" v0 10.231.1.1/24
	addr_add "$CL" c1 10.231.1.2/24
	B_URL=https://10.231.1.1:$API_PORT
	mkdir -p -m 0700 "$E2E_TMP/stateB"
	A_PID=$JITGATED_PID
	JITGATED_USER= jitgated_start "$VMB" "$CL" "$E2E_TMP/stateB" 10.231.1.1:$API_PORT "$E2E_TMP/jitgatedB.log" \
		--subscription $SUB --resource-group $RG --location $LOC --config "$E2E_TMP/jitgated.conf"
	check "replica B starts on the same database" test $? = 0
	B_PID=$JITGATED_PID JITGATED_PID=$A_PID
fi
on_b() { # EXPECTED_CODE WHAT CURL_ARGS...: a call on replica B (PostgreSQL only) answers EXPECTED_CODE; its body in $E2E_TMP/b.json
	[[ -n $B_URL ]] || return 0
	local want=$1 what=$2 code
	shift 2
	code=$(ip netns exec "$CL" curl -sS --max-time 5 --cacert "$E2E_TMP/stateB/tls/cert.pem" -o "$E2E_TMP/b.json" \
		-w '%{http_code}' "$@")
	check "replica B: $what: $want (HTTP $code $(head -c 160 "$E2E_TMP/b.json"))" test "$code" = "$want"
}
ENDED_SSO='{"error":{"code":"AuthenticationFailed","message":"the single sign-on session has ended; sign in again (jitgate login --sso)","details":[]}}'
BOB_COOKIE=$(cat "$E2E_TMP/bob.cookie" 2>/dev/null)
on_b 200 "bob's portal session, made in the browser on A, is accepted (GET /session)" -H "Cookie: jg_session=$BOB_COOKIE" "$B_URL/session"
[[ -n $B_URL ]] && check "replica B names him user:bob@example.com" grep -q '"name": *"user:bob@example.com"' "$E2E_TMP/b.json"

# 3. the CLI: jitgate login --sso (device grant brokered by jitgated), approved in the browser by bob
CLIHOME=$E2E_TMP/clihome
mkdir -p "$CLIHOME"
cli_sso_login() { # jitgate login --sso in the client namespace, approved by bob in the browser; its exit status in rc
	: >"$E2E_TMP/login.err"
	ip netns exec "$CL" env -u XDG_CONFIG_HOME HOME="$CLIHOME" timeout 90 "$JITGATE" login --sso --server $JG \
		--ca "$STATE/tls/cert.pem" >"$E2E_TMP/login.out" 2>"$E2E_TMP/login.err" &
	LOGIN_PID=$!
	E2E_PIDS+=($LOGIN_PID)
	for ((i = 0; i < 1000; i++)); do grep -q 'enter the code' "$E2E_TMP/login.err" && break; sleep 0.02; done
	check "jitgate login --sso prints the provider's URL and a user code" grep -q "To sign in, open $IDP/.* and enter the code" "$E2E_TMP/login.err"
	DEVICE_URL=$(grep -o "(or open [^)]*)" "$E2E_TMP/login.err" | sed 's/^(or open //; s/)$//')
	browser device JG_DEVICE_URL="$DEVICE_URL"
	wait $LOGIN_PID
	rc=$?
}
cli_sso_login
check "jitgate login --sso ends once bob approved (exit $rc), logged in as bob (SecurityAdmin)" \
	bash -c '(( $1 == 0 )) && grep -q "as user:bob@example.com (SecurityAdmin)" "$2"' _ $rc "$E2E_TMP/login.out"
CRED=$(grep -o 'jgs_[0-9a-f]*' "$CLIHOME/.config/jitgate/config")
check "the config keeps a jitgate session credential, not the provider's tokens" \
	bash -c '[[ $1 == jgs_* ]] && ! grep -q "eyJ" "$2"' _ "$CRED" "$CLIHOME/.config/jitgate/config"
on_b 200 "bob's CLI session, made on A, is accepted (whoami)" -H "Authorization: Bearer $CRED" "$B_URL/whoami"
out=$(ip netns exec "$CL" env -u XDG_CONFIG_HOME HOME="$CLIHOME" "$JITGATE" whoami 2>&1)
check "jitgate whoami with it: user:bob@example.com, SecurityAdmin and JitRequester, each at its scope" bash -c \
	'[[ $1 == *user:bob@example.com* ]] && grep -qx "Role: *SecurityAdmin at /subscriptions/$2" <<<"$1" &&
	 grep -qx "Role: *JitRequester at /subscriptions/$2" <<<"$1"' _ "$out" $SUB
out=$(ip netns exec "$CL" env -u XDG_CONFIG_HOME HOME="$CLIHOME" "$JITGATE" logout 2>&1)
check "jitgate logout ends the session on the server and forgets it ($out)" \
	bash -c '[[ $1 == *"Ended the single sign-on session"* ]] && ! grep -q jgs_ "$2"' _ "$out" "$CLIHOME/.config/jitgate/config"
code=$(ip netns exec "$CL" curl -sS --max-time 5 --cacert "$STATE/tls/cert.pem" -o /dev/null -w '%{http_code}' \
	-H "Authorization: Bearer $CRED" "$JG/whoami")
check "the ended credential is refused: 401 (HTTP $code)" test "$code" = 401
on_b 401 "the CLI session ended on A is refused at once" -H "Authorization: Bearer $CRED" "$B_URL/whoami"
[[ -n $B_URL ]] && check "with the body $ENDED_SSO" test "$(cat "$E2E_TMP/b.json")" = "$ENDED_SSO"

# an administrator ends a person's sessions (API + CLI); who may not, may not
cli_sso_login
CRED=$(grep -o 'jgs_[0-9a-f]*' "$CLIHOME/.config/jitgate/config")
code=$(ip netns exec "$CL" curl -sS --max-time 5 --cacert "$STATE/tls/cert.pem" -o "$E2E_TMP/end.json" -w '%{http_code}' -X DELETE \
	-H "Authorization: Bearer $CRED" "$JG/subscriptions/$SUB/providers/Jitgate/ssoSessions/alice@example.com?api-version=2020-01-01")
check "bob (SecurityAdmin) may not end alice's sessions: 403 AuthorizationFailed (HTTP $code)" \
	bash -c '[[ $1 == 403 ]] && grep -q AuthorizationFailed "$2"' _ "$code" "$E2E_TMP/end.json"
out=$(ip netns exec "$CL" env -u XDG_CONFIG_HOME HOME="$E2E_TMP" JITGATE_TOKEN="$OWNER" "$JITGATE" --server $JG --ca "$STATE/tls/cert.pem" \
	logout --person bob@example.com 2>&1)
check "the owner ends bob's sessions, his portal one and his CLI one: jitgate logout --person ($out)" bash -c '[[ $1 == "Ended 2 single sign-on session(s) of user:bob@example.com" ]]' _ "$out"
code=$(ip netns exec "$CL" curl -sS --max-time 5 --cacert "$STATE/tls/cert.pem" -o /dev/null -w '%{http_code}' \
	-H "Authorization: Bearer $CRED" "$JG/whoami")
check "bob's CLI session is over: 401 (HTTP $code)" test "$code" = 401
on_b 401 "bob's CLI session, ended on A by the owner, is refused at once" -H "Authorization: Bearer $CRED" "$B_URL/whoami"
on_b 401 "and so is his portal session (GET /session)" -H "Cookie: jg_session=$BOB_COOKIE" "$B_URL/session"

# 4. spoilt ID tokens, each refused by its check
for m in aud exp sig; do
	echo "$m" >"$MODE"
	browser bad-$m
done
: >"$MODE"

# 5. key rotation: the provider signs with a new key; jitgated has k1 cached and sees kid k2
kill -USR1 $IDP_PID
for ((i = 0; i < 500; i++)); do grep -q 'rotated' "$E2E_TMP/idp.log" && break; sleep 0.01; done
check "the provider rotates its signing key (kid k2)" grep -q 'rotated its signing key' "$E2E_TMP/idp.log"
browser rotated
# another unknown kid right after that refresh: refused without asking the provider again (at most one refresh per 30 s)
echo kid >"$MODE"
browser bad-kid
: >"$MODE"

# 6. an unauthenticated flood of sign-in steps (each may start a call to the provider): beyond
# OIDC_STEPS_PER_S (20) in a second they are answered 429 at once, and a token's call is served meanwhile
sleep 1.1	# a fresh second's budget
# One client process sends the 60 starts one after another on one kept-alive TLS connection: they reach the
# server within a few milliseconds each, however loaded the machine is (60 processes, each with its own TLS
# handshake, once spread over several seconds here, so the budget was rightly spent anew each second).
flood_args=()
for i in $(seq 1 60); do flood_args+=(-o "$E2E_TMP/flood.$i.json" "$JG/oidc/start"); done
f0=$(now_ms)
ip netns exec "$CL" curl -sS --max-time 20 --cacert "$STATE/tls/cert.pem" -X POST \
	-w '%{http_code} %{filename_effective}\n' "${flood_args[@]}" >"$E2E_TMP/flood.codes" 2>/dev/null &
flood=$!
t0=$(now_ms)
code=$(ip netns exec "$CL" curl -sS --max-time 10 --cacert "$STATE/tls/cert.pem" -o /dev/null -w '%{http_code}' \
	-H "Authorization: Bearer $OWNER" "$JG/whoami")
t1=$(now_ms)
wait "$flood"
f1=$(now_ms)
n429=$(grep -c '^429 ' "$E2E_TMP/flood.codes")
n200=$(grep -c '^200 ' "$E2E_TMP/flood.codes")
# the budget is per clock second: a flood that lasted T ms touched at most T/1000 + 2 of them
spanned=$(( (f1 - f0) / 1000 + 2 ))
check "60 sign-in starts from an unauthenticated client in $(( f1 - f0 )) ms: at most 20 served per second, the rest 429 ($n200 served, $n429 refused, $spanned seconds touched)" \
	test "$n200" -le $(( 20 * spanned )) -a $(( n200 + n429 )) -eq 60 -a "$n429" -ge 1
f=$(awk '$1 == 429 { print $2; exit }' "$E2E_TMP/flood.codes")
check "the 429's body says why" bash -c '[[ $(jq -r ".error.code + \"|\" + .error.message" "$1") == "TooManyRequests|more than 20 single sign-on steps in one second on this server; retry after 1 s" ]]' _ "$f"
check "a token's call during the flood is served: 200 ($code, $(( t1 - t0 )) ms)" test "$code" = 200
sleep 1.1
code=$(ip netns exec "$CL" curl -sS --max-time 10 --cacert "$STATE/tls/cert.pem" -o /dev/null -w '%{http_code}' -X POST "$JG/oidc/start")
check "the next second, sign-in starts are served again (HTTP $code)" test "$code" = 200

provider_stop
check "jitgated is still running (its seccomp list let it reach the provider)" kill -0 "$JITGATED_PID"
[[ -n $B_URL ]] && check "replica B is still running" kill -0 "$B_PID"
if ((E2E_FAIL)) || [[ -n ${E2E_VERBOSE:-} ]]; then
	echo "  jitgated's log:"
	sed 's/^/    /' "$E2E_TMP/jitgated.log" | tail -n 20
	echo "  jitgate login --sso said:"
	sed 's/^/    /' "$E2E_TMP/login.err" "$E2E_TMP/login.out" 2>/dev/null | tail -n 10
	echo "  sign-ins in the activity log:"
	store_read "$STATE" "SELECT caller, status, detail FROM activity WHERE operation IN ('SignIn', 'SignOut')" | sed 's/^/    /'
	echo "  provider's log:"
	grep -vE '^oidc-provider (WARNING|NOTICE)' "$E2E_TMP/idp.log" | sed 's/^/    /' | tail -n 20
fi
e2e_summary

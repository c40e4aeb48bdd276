#!/usr/bin/env bash
# End-to-end test of the CLI's own defences (issue 11):
#   1. a hostile HTTPS server (evilsrv) answers with escape sequences, C1 controls and broken UTF-8 in every
#      field, error and document: nothing the CLI prints may hold a byte a terminal acts on;
#   2. a jitgated whose subscription is not the default: the CLI takes it from /whoami, login stores it;
#   3. a login that fails (bad token) leaves no pinned certificate and no config change.
# Everything runs on loopback inside one throwaway network namespace.
# Usage: tests/e2e/sec-cli.sh [BUILD_DIR]   (as root; needs jq and iconv)
set -u
here=$(cd "$(dirname "$0")" && pwd)
BUILD=${1:-$here/../../build}
JITGATED=$BUILD/src/daemon/jitgated
JG=$BUILD/src/cli/jitgate
EVILSRV=$BUILD/tests/e2e/evilsrv
. "$here/lib.sh"

[[ $(id -u) == 0 ]] || { echo "sec-cli.sh: needs root (network namespaces, nftables)"; exit 1; }
[[ -x $JITGATED && -x $JG && -x $EVILSRV ]] || { echo "sec-cli.sh: build first ($EVILSRV)"; exit 1; }
command -v jq >/dev/null && command -v iconv >/dev/null || { echo "sec-cli.sh: needs jq and iconv"; exit 1; }

NS=$(ns_new seccli) || exit 1
L=127.0.0.1 EPORT=8443 JPORT=8444
EV=$E2E_TMP/evil H=$E2E_TMP/home TMPD=$E2E_TMP/tmp
mkdir -p "$EV" "$H" "$TMPD"

# ---- helpers ----
JENV=()
# jg ARGS...: the CLI in the namespace with a clean environment plus JENV; sets rc, out, err.
jg() {
	ip netns exec "$NS" env -i PATH="$PATH" HOME="$H" TMPDIR="$TMPD" TZ=UTC "${JENV[@]}" "$JG" "$@" \
		<"${JG_STDIN:-/dev/null}" >"$E2E_TMP/out" 2>"$E2E_TMP/err"
	rc=$?
	out=$(<"$E2E_TMP/out")
	err=$(<"$E2E_TMP/err")
}
# t WANT_RC DESCRIPTION ARGS...: run jitgate ARGS; passes when it exits WANT_RC.
t() {
	local want=$1 what=$2
	shift 2
	jg "$@"
	if [[ $rc == "$want" ]]; then
		ok "$what (exit $rc)"
	else
		notok "$what: exit $rc, wanted $want"
		printf '%s\n%s\n' "$out" "$err" | head -n 8 | sed 's/^/      /'
	fi
}
has() {
	if grep -qF -- "$1" <<<"$out$err"; then ok "$2"; else notok "$2 (no '$1' in: $(head -c 300 <<<"$out$err"))"; fi
}
# inert FILE [crlf]: FILE holds no C0 control but newline and tab (and, for a CSV, CR before LF), no DEL, no C1
# (U+0080-U+009F as UTF-8), and is well-formed UTF-8.
inert() {
	local text
	if [[ ${2:-} == crlf ]]; then text=$(sed 's/\r$//' "$1"); else text=$(<"$1"); fi
	! LC_ALL=C grep -aqP '[\x00-\x08\x0b-\x1f\x7f]|\xc2[\x80-\x9f]' <<<"$text" &&
		iconv -f UTF-8 -t UTF-8 <<<"$text" >/dev/null 2>&1
}
# safe DESCRIPTION [crlf]: the last command's stdout and stderr are both inert.
safe() {
	if inert "$E2E_TMP/out" "${2:-}" && inert "$E2E_TMP/err" "${2:-}"; then
		ok "$1"
	else
		notok "$1: a terminal would act on this:"
		cat "$E2E_TMP/out" "$E2E_TMP/err" | od -c | head -n 6 | sed 's/^/      /'
	fi
}
# unforged DESCRIPTION: no line of the output starts with the text a field tried to put on a line of its own.
unforged() {
	if grep -q '^Access granted' <<<"$out$err"; then notok "$1: a field started a line of its own"; else ok "$1"; fi
}

echo "-- a hostile server: escape sequences, C1 controls and broken UTF-8 in everything it sends"
ESC=$'\e' C1=$'\xc2\x9b' BAD=$'\xff\xfe\x9b'
answer() { # NAME STATUS CONTENT-TYPE: the body on stdin
	{ printf '%s %s\n' "$2" "$3"; cat; } >"$EV/$1"
}
printf 'ok' | answer healthz 200 text/plain
# JSON carries C0 controls as \u escapes (raw ones are not JSON), DEL and C1 also raw
printf '{"name":"evil\\u001b]0;pwned\\u0007","role":"Owner\\u001b[2J\\u001b[H","scope":"/\x7f%s","address":"10.0.0.1\\r\\nAccess granted to everyone","subscriptionId":"00000000-0000-0000-0000-000000000000"}' \
	"$C1" | answer whoami 200 application/json
VMID=/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/default/providers/Microsoft.Compute/virtualMachines/vm1
POLID=/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/default/providers/Microsoft.Security/locations/local/jitNetworkAccessPolicies/evilpol
printf '{"value":[{"id":"%s","name":"vm1","location":"local\\u001b[5m","properties":{"osType":"Linux\\u001b[31m","enforcement":"gateway\\u0007","addresses":["10.0.0.5\\u001b[1A"],"jit":{"status":"Unsupported","reason":"x\\u001b]2;title\\u0007\\nAccess granted","policyId":"p\\u001bc","lastUser":"%s2J","connections":[]}}},{"id":"%s","name":"vm2","location":"local","properties":{"osType":"Linux","enforcement":"gateway","addresses":["-oProxyCommand=touch %s"],"jit":{"status":"Configured","policyId":"%s"}}}]}' \
	"$VMID" "$C1" "${VMID%1}2" "$E2E_TMP/pwned" "$POLID" | answer virtualMachines 200 application/json
# vm2's policy opens 22, and the initiate succeeds: all that stands between the server's "address" and ssh's argv
printf '{"id":"%s","name":"evilpol","location":"local","properties":{"virtualMachines":[{"id":"%s","ports":[{"number":22,"protocol":"*","allowedSourceAddressPrefix":"*","maxRequestAccessDuration":"PT3H"}]}]}}' \
	"$POLID" "${VMID%1}2" | answer evilpol 200 application/json
printf '{"id":"r1","virtualMachines":[{"id":"%s","ports":[{"number":22,"endTimeUtc":"2099-01-01T00:00:00Z","allowedSourceAddressPrefix":"127.0.0.1","status":"Initiated"}]}]}' \
	"${VMID%1}2" | answer initiate 202 application/json
printf '{"error":{"code":"Bad\\u001b[2J","message":"no\\r\\nAccess granted\\u001b]0;x\\u0007","target":"%s"}}' "$C1" |
	answer jitNetworkAccessPolicies 400 application/json
printf 'raw %s[2J and %s, then\nAccess granted' "$ESC" "$BAD" | answer tokens 500 text/plain
printf 'time,caller,detail\r\n"2025-01-01T00:00:00Z","evil%s]0;t%s","%s[2J%s%s"\r\n' "$ESC" $'\a' "$ESC" "$C1" "$BAD" |
	answer jitActivityLog 200 text/csv
bg "$NS" "$EVILSRV" "$EV" $L $EPORT 300
for ((i = 0; i < 200; i++)); do [[ -f $EV/tls/cert.pem ]] && grep -q listening "$E2E_TMP"/bg.* 2>/dev/null && break; sleep 0.02; done
JENV=(JITGATE_SERVER="https://$L:$EPORT" JITGATE_TOKEN=jg_anything JITGATE_CA="$EV/tls/cert.pem")

t 0 "whoami" whoami
safe "whoami: no raw escape or C1 reaches the terminal"
has 'evil\u001b]0;pwned\u0007' "... the escapes show as \\u00XX"
has '/\u007f\u009b' "... DEL and C1 too"
unforged "whoami: a field cannot start a line of its own"
t 0 "whoami -q" whoami -q
safe "whoami -q: inert"
unforged "whoami -q: a field cannot start a line of its own"
t 0 "whoami -o json" whoami -o json
safe "whoami -o json: inert"
check "... still valid JSON with the server's exact values (C0, DEL, C1 as \\u escapes)" \
	test "$(jq -r '.name + "|" + .scope' <<<"$out")" = "evil${ESC}]0;pwned"$'\a'"|/"$'\x7f'"$C1"
t 0 "vm list" vm list
safe "vm list (table cells): inert"
unforged "vm list: a cell cannot start a line of its own"
t 0 "vm list -q" vm list -q
safe "vm list -q: inert"
t 0 "vm show vm1" vm show vm1
safe "vm show (key/value lines): inert"
has 'Linux\u001b[31m' "... the OS shows its escape"
unforged "vm show: a field cannot start a line of its own"
t 0 "vm show vm1 -o json" vm show vm1 -o json
safe "vm show -o json: inert"
check "... valid JSON, values kept" test "$(jq -r .properties.jit.lastUser <<<"$out")" = "${C1}2J"
t 1 "policy list: the server refuses with a hostile error" policy list
safe "an error's code, message and target: inert"
has 'Bad\u001b[2J' "... the code shows its escape"
unforged "an error message cannot start a line of its own"
t 3 "token list: a 5xx with a raw text body" token list
safe "a raw error body: inert"
has $'\xef\xbf\xbd' "... broken UTF-8 shows as U+FFFD"
t 0 "log --csv" log --csv
safe "log --csv: inert, but for its CRLF line ends" crlf
check "... keeps its two CSV lines" test "$(wc -l <"$E2E_TMP/out")" = 2
t 3 "ssh to a VM whose address is an ssh option → refused" ssh vm2 -- -o BatchMode=yes true
check "... and ssh never ran the server's ProxyCommand" test ! -e "$E2E_TMP/pwned"
JENV=()
rm -rf "$H/.config"
echo yes >"$E2E_TMP/yes"
JG_STDIN=$E2E_TMP/yes t 0 "login to the hostile server (trusting its certificate)" login --server "https://$L:$EPORT" --token jg_anything
safe "login: inert"
unforged "login: a field cannot start a line of its own"

echo "-- a subscription that is not the default"
SUB=11111111-2222-3333-4444-555555555555 OTHER=99999999-2222-3333-4444-555555555555
STATE=$E2E_TMP/state SRVLOG=$E2E_TMP/jitgated.log
mkdir -p "$STATE"
OWNER=$("$JITGATED" token create --state-dir "$STATE" --name owner --role Owner 2>/dev/null | grep -o 'jg_[A-Za-z0-9_-]*' | head -n 1)
[[ -n $OWNER ]] || { notok "jitgated token create"; e2e_summary; exit 1; }
ip netns exec "$NS" "$JITGATED" --single-process --state-dir "$STATE" --listen "$L:$JPORT" --vm-name vm1 --subscription "$SUB" \
	--unix-socket "$E2E_TMP/jitgated.sock" >>"$SRVLOG" 2>&1 &
SRV=$!
E2E_PIDS+=($SRV)
e2e_wait_healthy "$NS" "$STATE/tls/cert.pem" "https://$L:$JPORT" "$SRV" ||
	{ notok "set-up: jitgated answers /healthz: $(tail -3 "$SRVLOG")"; e2e_summary; exit 1; }
CERT=$STATE/tls/cert.pem
rm -rf "$H/.config"
FLAGS=(--server "https://$L:$JPORT" --token "$OWNER" --ca "$CERT")
t 0 "vm list with server, token and CA but no --subscription" "${FLAGS[@]}" vm list
has "vm1" "... lists the server's VM"
t 0 "vm add (a PUT under the server's subscription)" "${FLAGS[@]}" vm add gw1 --address 10.99.0.5
has "/subscriptions/$SUB/" "... at the server's subscription"
t 0 "whoami shows the subscription" "${FLAGS[@]}" whoami
has "$SUB" "... it is $SUB"
t 1 "an explicit --subscription still wins (and this server has no such one)" "${FLAGS[@]}" --subscription "$OTHER" vm list
has "SubscriptionNotFound" "... the server says so"
t 2 "login --subscription that is not the server's → refused" login "${FLAGS[@]}" --subscription "$OTHER"
check "... nothing saved" test ! -e "$H/.config/jitgate/config"
t 0 "login (no --subscription)" login "${FLAGS[@]}"
check "... the config holds the server's subscription" grep -qx "subscription = $SUB" "$H/.config/jitgate/config"
t 0 "after login, vm list needs no flags" vm list
has "gw1" "... and lists the VMs"

echo "-- a login that fails saves nothing"
FP=$(grep -o 'SHA-256 [0-9A-F:]*' "$SRVLOG" | head -n 1 | cut -d' ' -f2)
check "jitgated logged its fingerprint" test -n "$FP"
rm -rf "$H/.config"
t 4 "login --fingerprint (right) with a bad token → 4" login --server "https://$L:$JPORT" --token jg_bad --fingerprint "$FP"
check "... no pinned certificate and no config (nothing under ~/.config)" test -z "$(find "$H" -mindepth 1 -type f)"
check "... and no staged copy left in TMPDIR" test -z "$(ls -A "$TMPD")"
t 0 "login --fingerprint with the right token" login --server "https://$L:$JPORT" --token "$OWNER" --fingerprint "$FP"
PIN=$(grep '^ca = ' "$H/.config/jitgate/config" | cut -d' ' -f3)
check "... the config names the pinned certificate, which is the server's" cmp -s "$PIN" "$CERT"
check "... one pinned certificate" test "$(find "$H/.config/jitgate" -name 'server-*.pem' | wc -l)" = 1
t 0 "... and commands use it" whoami
snapshot() { (cd "$H" && find . -type f | sort | xargs sha256sum); }
before=$(snapshot)
# the hostile server now refuses every token, after its certificate was trusted
printf '{"error":{"code":"AuthenticationFailed","message":"no"}}' | answer whoami 401 application/json
JG_STDIN=$E2E_TMP/yes t 4 "login to another server (its certificate trusted) with a token it refuses → 4" \
	login --server "https://$L:$EPORT" --token jg_bad
check "... the config and the pinned certificate are as they were" test "$(snapshot)" = "$before"
t 0 "... and the old login still works" whoami
has "token:owner" "... as the old token"
t 3 "login to the other server with a CA it does not match → 3" login --server "https://$L:$EPORT" --token jg_bad --ca "$CERT"
check "... nothing changed either" test "$(snapshot)" = "$before"

e2e_summary

#!/usr/bin/env bash
# End-to-end test of the web portal: Debian's Chromium, driven by playwright-core (no browser download),
# against a real jitgated. TLS is pinned: Chromium trusts exactly jitgated's key (its SPKI hash).
#
#   client (node + chromium, "My IP" 10.215.0.2) ──veth── vm (jitgated --vm-name vm1, netprobe on 22 and 3389)
#
# A second VM, "gateway1", is registered through the API so that there is a Not configured VM to select.
# Then 1,000 agent VMs join through the API (resource group "fleet"; test.mjs makes the joins and status posts
# an agent would): the portal's load, search and tab-switch times with them are printed ("fleet figure").
# Screenshots of every page at 1280 and 390 px wide go to BUILD/screenshots/.
#
# Usage: tests/e2e/portal.sh [BUILD_DIR]   (as root; needs node, npm, chromium, sqlite3; the npm registry the first time)
#        PORTAL_HOLD=1 keeps jitgated running after the test (for a look by hand) until Enter is pressed.
#        PORTAL_CPU_THROTTLE=N runs each page's main thread N times slower (a slow machine's timing).
set -u
here=$(cd "$(dirname "$0")" && pwd)
BUILD=$(cd "${1:-$here/../../build}" 2>/dev/null && pwd) || { echo "portal.sh: no build directory ${1:-}"; exit 1; }
JITGATED=$BUILD/src/daemon/jitgated
NETPROBE=$BUILD/tests/e2e/netprobe
DIR=$here/portal
. "$here/lib.sh"

[[ -x $JITGATED && -x $NETPROBE ]] || { echo "portal.sh: build first ($JITGATED)"; exit 1; }
browser_test_setup portal.sh "$DIR" playwright-core curl sqlite3 || exit 1
echo "portal.sh: playwright-core $(node -p "require('$DIR/node_modules/playwright-core/package.json').version"), $("$CHROMIUM" --version 2>/dev/null | head -n 1), node $(node -v)"

# the CSP (script-src 'self', style-src 'self') allows no inline script, style or handler, nor eval: none in web/
WEB=$here/../../web
refuse "web/: no inline <script> body, style attribute or on* handler in the HTML" \
	grep -nEi '<script>|<script[^>]*>[^<]|style=|<style|[[:space:]]on[a-z]+=' "$WEB"/*.html
refuse "web/: no eval, new Function, innerHTML or style attribute set from JS" \
	grep -nE 'eval\(|new Function|innerHTML|outerHTML *=|insertAdjacentHTML|setAttribute\("style"|document\.write' -r "$WEB/js"

SUB=00000000-0000-0000-0000-000000000000 RG=default LOC=local
VMADDR=10.215.0.1 CLADDR=10.215.0.2 GWADDR=10.215.1.5 API_PORT=8443
VM=$(ns_new vm) && CL=$(ns_new cl) || exit 1
link_new "$VM" v0 "$CL" c0 || exit 1
addr_add "$VM" v0 $VMADDR/24
addr_add "$CL" c0 $CLADDR/24
listen "$VM" 22 3389 || exit 1

STATE=$E2E_TMP/state
mkdir -p "$STATE"
declare -A TOK
for spec in owner:Owner reader:Reader requester:JitRequester; do
	TOK[${spec%%:*}]=$("$JITGATED" token create --state-dir "$STATE" --name "${spec%%:*}" --role "${spec#*:}" \
		2>"$E2E_TMP/token.err" | grep -o 'jg_[A-Za-z0-9_-]*' | head -n 1)
	[[ -n ${TOK[${spec%%:*}]} ]] || { notok "jitgated token create ${spec} ($(cat "$E2E_TMP/token.err"))"; e2e_summary; exit 1; }
done

ip netns exec "$VM" "$JITGATED" --single-process --state-dir "$STATE" --listen $VMADDR:$API_PORT --vm-name vm1 \
	--subscription $SUB --resource-group $RG --location $LOC >"$E2E_TMP/jitgated.log" 2>&1 &
E2E_PIDS+=($!)
up=0
for ((i = 0; i < 500; i++)); do
	grep -q 'listening on' "$E2E_TMP/jitgated.log" 2>/dev/null && { up=1; break; }
	kill -0 "${E2E_PIDS[-1]}" 2>/dev/null || break
	sleep 0.01
done
check "jitgated starts and listens on $VMADDR:$API_PORT" test $up = 1
((up)) || { sed 's/^/    /' "$E2E_TMP/jitgated.log"; e2e_summary; exit 1; }

# the second VM: a gateway VM known by its address, not configured for JIT
code=$(ip netns exec "$CL" curl -sS --max-time 5 --cacert "$STATE/tls/cert.pem" -o "$E2E_TMP/vm.json" -w '%{http_code}' \
	-X PUT -H "Authorization: Bearer ${TOK[owner]}" -H 'Content-Type: application/json' \
	-d '{"location":"'$LOC'","properties":{"osType":"Linux","enforcement":"gateway","addresses":["'$GWADDR'"]}}' \
	"https://$VMADDR:$API_PORT/subscriptions/$SUB/resourceGroups/$RG/providers/Microsoft.Compute/virtualMachines/gateway1?api-version=2020-01-01" 2>&1)
check "register the gateway VM gateway1 (HTTP $code)" test "$code" = 201

SHOTS=$BUILD/screenshots
mkdir -p "$SHOTS"
rm -f "$SHOTS"/portal-*.png
PROFILE=$E2E_TMP/home
mkdir -p "$PROFILE"
t0=$(date +%s%N)
ns_settle "$CL" || echo "portal.sh: IPv6 addresses in the client namespace are still tentative after 5 s"
echo "node test.mjs in the client namespace, Chromium inside it (after $(( ($(date +%s%N) - t0) / 1000000 )) ms for IPv6 address detection to end):"
ip netns exec "$CL" env -u NODE_EXTRA_CA_CERTS HOME="$PROFILE" XDG_CONFIG_HOME="$PROFILE/.config" XDG_CACHE_HOME="$PROFILE/.cache" \
	JG_URL="https://$VMADDR:$API_PORT" JG_CERT="$STATE/tls/cert.pem" JG_CHROMIUM="$CHROMIUM" \
	JG_TOKEN_OWNER="${TOK[owner]}" JG_TOKEN_READER="${TOK[reader]}" JG_TOKEN_REQUESTER="${TOK[requester]}" \
	JG_SUB=$SUB JG_RG=$RG JG_LOC=$LOC JG_VM_ADDR=$VMADDR JG_MY_IP=$CLADDR JG_SHOTS="$SHOTS" JG_TMP="$E2E_TMP" JG_DB="$STATE/jitgate.db" \
	timeout 300 node "$DIR/test.mjs" >"$E2E_TMP/node.out" 2>"$E2E_TMP/node.err"
rc=$?
steps=0
while IFS= read -r line; do
	case "$line" in
	"ok "*) ok "${line#ok }"; steps=$((steps + 1)) ;;
	"FAIL "*) notok "${line#FAIL }"; steps=$((steps + 1)) ;;
	*) printf '       %s\n' "$line" ;;
	esac
done <"$E2E_TMP/node.out"
check "node ran $steps step(s) and exited 0 (rc=$rc)" test $rc = 0 -a $steps -gt 0
echo "  screenshots: $(ls "$SHOTS"/portal-*.png 2>/dev/null | wc -l) in $SHOTS"
if ((E2E_FAIL)) || [[ -n ${E2E_VERBOSE:-} ]]; then
	[[ -s $E2E_TMP/node.err ]] && { echo "  node stderr:"; sed 's/^/    /' "$E2E_TMP/node.err" | tail -n 40; }
	echo "  jitgated's log:"
	sed 's/^/    /' "$E2E_TMP/jitgated.log" | tail -n 20
fi
if [[ -n ${PORTAL_HOLD:-} ]]; then
	echo "portal.sh: jitgated is at https://$VMADDR:$API_PORT in namespace $CL; owner token ${TOK[owner]}"
	read -r _ || sleep "${PORTAL_HOLD}"
fi
e2e_summary

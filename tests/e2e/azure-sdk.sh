#!/usr/bin/env bash
# End-to-end test of jitgated's Azure-compatible API with the official Azure JS SDK (@azure/arm-security):
# createOrUpdate, get, the four lists (with paging), initiate, delete, and a real TCP connection that
# initiate opens; and (issue 16) initiate's 202 and a policy holding Pending and approved requests. TLS is verified against jitgated's self-signed certificate.
#
#   client (node) ──veth── vm (jitgated --vm-name vm1, netprobe on 22 and 3389)
#
# Usage: tests/e2e/azure-sdk.sh [BUILD_DIR]   (as root; needs node and npm, and the npm registry the first time)
set -u
here=$(cd "$(dirname "$0")" && pwd)
BUILD=${1:-$here/../../build}
JITGATED=$BUILD/src/daemon/jitgated
NETPROBE=$BUILD/tests/e2e/netprobe
SDK=$here/azure-sdk
. "$here/lib.sh"

[[ $(id -u) == 0 ]] || { echo "azure-sdk.sh: needs root (network namespaces, nftables)"; exit 1; }
[[ -x $JITGATED && -x $NETPROBE ]] || { echo "azure-sdk.sh: build first ($JITGATED)"; exit 1; }
command -v node >/dev/null && command -v npm >/dev/null ||
	{ echo "azure-sdk.sh: node and npm are needed (scripts/deps.sh installs them)"; exit 1; }

if [[ ! -d $SDK/node_modules/@azure/arm-security ]]; then
	echo "azure-sdk.sh: installing the Azure SDK (npm ci in tests/e2e/azure-sdk)"
	if ! (cd "$SDK" && npm ci --no-audit --no-fund >"$E2E_TMP/npm.log" 2>&1); then
		echo "azure-sdk.sh: npm ci failed; is the npm registry reachable? Last lines of its output:"
		tail -n 15 "$E2E_TMP/npm.log" | sed 's/^/    /'
		exit 1
	fi
fi
echo "azure-sdk.sh: @azure/arm-security $(node -p "require('$SDK/node_modules/@azure/arm-security/package.json').version"), node $(node -v)"

SUB=00000000-0000-0000-0000-000000000000 RG=default LOC=local
VMADDR=10.211.0.1 CLADDR=10.211.0.2 API_PORT=8443
VM=$(ns_new vm) && CL=$(ns_new cl) || exit 1
link_new "$VM" v0 "$CL" c0 || exit 1
addr_add "$VM" v0 $VMADDR/24
addr_add "$CL" c0 $CLADDR/24
listen "$VM" 22 3389 || exit 1

STATE=$E2E_TMP/state
mkdir -p "$STATE"
TOKEN=$("$JITGATED" token create --state-dir "$STATE" --name sdk --role Owner 2>"$E2E_TMP/token.err" | grep -o 'jg_[A-Za-z0-9_-]*' | head -n 1)
[[ -n $TOKEN ]] || { notok "jitgated token create ($(cat "$E2E_TMP/token.err"))"; e2e_summary; exit 1; }
TOKEN2=$("$JITGATED" token create --state-dir "$STATE" --name approver --role SecurityAdmin 2>>"$E2E_TMP/token.err")

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

echo "node test.mjs in the client namespace:"
REQLOG=$E2E_TMP/requests.log
: >"$REQLOG"
run_node() { # ENV=VALUE...: test.mjs in the client namespace, stdout to node.out
	ip netns exec "$CL" env -u NODE_EXTRA_CA_CERTS JG_URL="https://$VMADDR:$API_PORT" JG_TOKEN="$TOKEN" JG_TOKEN2="$TOKEN2" \
		JG_SUB=$SUB JG_RG=$RG JG_LOC=$LOC JG_VM_ADDR=$VMADDR JG_PORT=22 JG_PORT2=3389 \
		JG_SRC_ADDR=$CLADDR JG_SRC_NET=10.211.0.0/28 JG_REQLOG="$REQLOG" \
		JG_VM_ID="/subscriptions/$SUB/resourceGroups/$RG/providers/Microsoft.Compute/virtualMachines/vm1" \
		"$@" node "$SDK/test.mjs" >"$E2E_TMP/node.out" 2>>"$E2E_TMP/node.err"
}
convert() { # node.out's "ok X" / "FAIL X: why" lines into this script's tally; then one check on the exit code
	local rc=$1 line steps=0
	while IFS= read -r line; do
		case "$line" in
		"ok "*) ok "${line#ok }"; steps=$((steps + 1)) ;;
		"FAIL "*) notok "${line#FAIL }"; steps=$((steps + 1)) ;;
		*) printf '       %s\n' "$line" ;;
		esac
	done <"$E2E_TMP/node.out"
	check "$2: node ran $steps step(s) and exited 0 (rc=$rc)" test $rc = 0 -a $steps -gt 0
}
run_node JG_TLS_NEGATIVE=1
convert $? "TLS check"
: >"$REQLOG"
run_node NODE_EXTRA_CA_CERTS="$STATE/tls/cert.pem"
convert $? "SDK test"
if ((E2E_FAIL)) || [[ -n ${E2E_VERBOSE:-} ]]; then
	[[ -s $E2E_TMP/node.err ]] && { echo "  node stderr:"; sed 's/^/    /' "$E2E_TMP/node.err" | tail -n 30; }
	echo "  the SDK's requests (method url -> status), repeated paging PUT/DELETE lines left out:"
	grep -v 'sdkpaging/providers/Microsoft.Security/locations/[^/]*/jitNetworkAccessPolicies/p[0-9]' "$REQLOG" |
		sed 's/^/    /'
	echo "  jitgated's log:"
	sed 's/^/    /' "$E2E_TMP/jitgated.log" | tail -n 20
fi
e2e_summary

#!/usr/bin/env bash
# make run: build, then start jitgated in the foreground with its embedded defaults:
# state (SQLite store, self-signed TLS) in ./var, listening on 127.0.0.1:8443, protecting this host.
# Nothing is locked until someone enables a policy. Ctrl-C stops it; the kernel keeps live grants.
set -eu
cd "$(dirname "$0")/.."
STATE=${STATE:-$PWD/var}
LISTEN=${LISTEN:-127.0.0.1:8443}
J=build/src/daemon/jitgated
mkdir -p "$STATE"
chmod 0700 "$STATE"

if [[ $(id -u) != 0 ]]; then
	echo "make run: not root, so jitgated cannot program the kernel firewall; every VM will be Unsupported." >&2
fi
vm=$(hostname -s 2>/dev/null || echo localhost)
if ! "$J" token list --state-dir "$STATE" | tail -n +2 | grep -q .; then
	token=$("$J" token create --state-dir "$STATE" --name owner --role Owner)
	S=00000000-0000-0000-0000-000000000000
	base="https://$LISTEN/subscriptions/$S"
	cat <<MSG

  jitgate is starting for the first time. Your Owner token (shown once, keep it safe):

    export JITGATE_TOKEN=$token

  API: https://$LISTEN  (TLS certificate: $STATE/tls/cert.pem)

  Three things to try, in another terminal:

  1. See this host as a VM and its JIT status:
     curl --cacert $STATE/tls/cert.pem -H "Authorization: Bearer \$JITGATE_TOKEN" \\
       "$base/providers/Microsoft.Compute/virtualMachines?api-version=2020-01-01"

  2. Enable JIT on SSH (port 22 closes for new connections; 3 hours at most per request):
     curl --cacert $STATE/tls/cert.pem -H "Authorization: Bearer \$JITGATE_TOKEN" -X PUT \\
       "$base/resourceGroups/default/providers/Microsoft.Security/locations/local/jitNetworkAccessPolicies/default?api-version=2020-01-01" \\
       -d '{"properties":{"virtualMachines":[{"id":"/subscriptions/$S/resourceGroups/default/providers/Microsoft.Compute/virtualMachines/$vm","ports":[{"number":22,"protocol":"TCP","allowedSourceAddressPrefix":"*","maxRequestAccessDuration":"PT3H"}]}]}}'

  3. Open it for your own address for one hour:
     curl --cacert $STATE/tls/cert.pem -H "Authorization: Bearer \$JITGATE_TOKEN" -X POST \\
       "$base/resourceGroups/default/providers/Microsoft.Security/locations/local/jitNetworkAccessPolicies/default/initiate?api-version=2020-01-01" \\
       -d '{"virtualMachines":[{"id":"/subscriptions/$S/resourceGroups/default/providers/Microsoft.Compute/virtualMachines/$vm","ports":[{"number":22,"endTimeUtc":"'\$(date -u -d +1hour +%FT%TZ)'"}]}],"justification":"trying jitgate"}'

MSG
fi
sock=()
if [[ $(id -u) == 0 ]]; then
	# root on this host may use the CLI without a token, over this socket (peer credentials)
	mkdir -p /run/jitgate && chmod 0700 /run/jitgate
	sock=(--unix-socket /run/jitgate/jitgated.sock)
fi
exec "$J" --state-dir "$STATE" --listen "$LISTEN" --vm-name "$vm" "${sock[@]}"

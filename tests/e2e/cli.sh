#!/usr/bin/env bash
# End-to-end test of the jitgate CLI: every command against the real jitgated, with its exit codes, and real TCP and ssh.
#
#   client (A: the CLI's address, X: another) ──veth── vm (jitgated on V:8443, sshd on 22, listeners on 3389, 5985)
#
# Exit codes the CLI documents: 0 ok, 1 refused by the server or no such VM, 2 usage or an ambiguous VM name,
# 3 server unreachable / TLS / 5xx, 4 authentication (401, 403).
# Usage: tests/e2e/cli.sh [BUILD_DIR]   (as root; needs jq, ssh and sshd)
set -u
here=$(cd "$(dirname "$0")" && pwd)
BUILD=${1:-$here/../../build}
JITGATED=$BUILD/src/daemon/jitgated
JG=$BUILD/src/cli/jitgate
NETPROBE=$BUILD/tests/e2e/netprobe
SSHD=/usr/sbin/sshd
. "$here/lib.sh"

[[ $(id -u) == 0 ]] || { echo "cli.sh: needs root (network namespaces, nftables)"; exit 1; }
[[ -x $JITGATED && -x $JG && -x $NETPROBE ]] || { echo "cli.sh: build first ($JG)"; exit 1; }
command -v jq >/dev/null && command -v ssh >/dev/null && [[ -x $SSHD ]] ||
	{ echo "cli.sh: needs jq, ssh and sshd (scripts/deps.sh)"; exit 1; }

# The CLI's default socket (root, nothing configured) is looked for in our own folder, never the host's
# /run/jitgate/jitgated.sock. To show that, a stale socket file stands there while we run, unless the host
# has a /run/jitgate of its own (then we leave it alone).
DEFSOCK=$E2E_TMP/default.sock MADE_RUN=0
if [[ ! -e /run/jitgate ]]; then
	mkdir -m 0700 /run/jitgate && MADE_RUN=1
	python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' /run/jitgate/jitgated.sock
	trap 'e2e_cleanup; rm -rf "$E2E_TMP"; (( MADE_RUN )) && rm -rf /run/jitgate' EXIT
fi
VM=$(ns_new vm) && CL=$(ns_new cl) || exit 1
link_new "$VM" v0 "$CL" c0 || exit 1
V=10.212.0.1 A=10.212.0.2 X=10.212.0.40
addr_add "$VM" v0 $V/24
addr_add "$CL" c0 $A/24
addr_add "$CL" c0 $X/24
listen "$VM" 3389 5985 || exit 1

SUB=00000000-0000-0000-0000-000000000000
VMID=/subscriptions/$SUB/resourceGroups/default/providers/Microsoft.Compute/virtualMachines/vm1
STATE=$E2E_TMP/state SOCK=$E2E_TMP/jitgated.sock SRVLOG=$E2E_TMP/jitgated.log
mkdir -p "$STATE"

# ---- sshd in the VM namespace, with throwaway keys ----
SSHDIR=$E2E_TMP/ssh
mkdir -p "$SSHDIR"
ssh-keygen -q -t ed25519 -N '' -f "$SSHDIR/host_key" && ssh-keygen -q -t ed25519 -N '' -f "$SSHDIR/client_key" || exit 1
cp "$SSHDIR/client_key.pub" "$SSHDIR/authorized_keys"
cat >"$SSHDIR/sshd_config" <<EOF
Port 22
ListenAddress $V
HostKey $SSHDIR/host_key
AuthorizedKeysFile $SSHDIR/authorized_keys
PidFile none
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
EOF
mkdir -p /run/sshd	# sshd's privilege separation directory
bg "$VM" "$SSHD" -D -e -f "$SSHDIR/sshd_config"
for ((i = 0; i < 200; i++)); do
	ip netns exec "$VM" "$NETPROBE" connect "$V" 22 200 2>/dev/null && break
	sleep 0.02
done
SSHOPTS=(-i "$SSHDIR/client_key" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes -o LogLevel=ERROR)

# ---- jitgated ----
token() { "$JITGATED" token "$@" --state-dir "$STATE"; }
OWNER=$(token create --name owner --role Owner 2>/dev/null | grep -o 'jg_[A-Za-z0-9_-]*' | head -n 1)
[[ -n $OWNER ]] || { notok "jitgated token create"; e2e_summary; exit 1; }
start_server() {
	ip netns exec "$VM" "$JITGATED" --single-process --state-dir "$STATE" --listen "$V:8443" --vm-name vm1 --unix-socket "$SOCK" \
		>>"$SRVLOG" 2>&1 &
	SRV=$!
	E2E_PIDS+=($SRV)
	for ((i = 0; i < 100; i++)); do
		[[ -f $STATE/tls/cert.pem ]] && [[ $(ip netns exec "$CL" curl -s --max-time 1 --cacert "$STATE/tls/cert.pem" \
			-o /dev/null -w '%{http_code}' "https://$V:8443/healthz") == 200 ]] && return 0
		kill -0 "$SRV" 2>/dev/null || break
		sleep 0.05
	done
	echo "jitgated did not become healthy: $(tail -5 "$SRVLOG")" >&2
	return 1
}
start_server || { notok "jitgated starts"; e2e_summary; exit 1; }
ok "jitgated starts on $V:8443 with sshd on :22"

# ---- helpers ----
H=$E2E_TMP/home
mkdir -p "$H"
JENV=(JITGATE_SERVER="https://$V:8443" JITGATE_TOKEN="$OWNER" JITGATE_CA="$STATE/tls/cert.pem")
# jg ARGS...: the CLI in the client namespace with a clean environment plus JENV; sets rc, out, err.
jg() {
	ip netns exec "$CL" env -i PATH="$PATH" HOME="$H" TZ=UTC JITGATE_DEFAULT_SOCKET="$DEFSOCK" "${JENV[@]}" "$JG" "$@" \
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
# has TEXT DESCRIPTION: the last command's stdout or stderr contains TEXT.
has() {
	if grep -qF -- "$1" <<<"$out$err"; then ok "$2"; else notok "$2 (no '$1' in: $(head -c 300 <<<"$out$err"))"; fi
}
lacks() {
	if grep -qF -- "$1" <<<"$out$err"; then notok "$2 ('$1' is there)"; else ok "$2"; fi
}
jout() { jq -r "$@" <<<"$out" 2>/dev/null; }

echo "-- usage, help and exit codes"
t 0 "--version" --version
has "jitgate 0.1" "--version prints the version"
t 0 "--help" --help
has "Exit codes" "--help documents the exit codes"
for c in vm enable edit disable policy request ssh revoke requests log token whoami login; do
	jg $c --help
	if [[ $rc == 0 ]] && grep -q '^usage: jitgate' <<<"$out" && grep -q 'Example' <<<"$out"; then :; else
		notok "jitgate $c --help has usage and an example (exit $rc)"; continue
	fi
	jg help $c
	[[ $rc == 0 && -n $out ]] || notok "jitgate help $c"
done
ok "every command's --help (and jitgate help COMMAND) has usage and an example"
t 2 "no command" 
t 2 "an unknown command" frobnicate
t 2 "an unknown option" request vm1 --bogus
t 2 "a bad duration" request vm1 --for 5x
has "jitgate request: --for: '5x' is not a duration (try 90m, 1h30m, PT3H)" "the message names the flag and the value"
t 2 "a bad port spec" enable vm1 --port 22/icmp
has "--port" "the message names --port"
t 2 "a bad --until" request vm1 --until tomorrowish
t 2 "--for and --until together" request vm1 --for 1h --until 23:59
t 2 "a bad --source" enable vm1 --source 10.0.0.0/33
t 2 "a bad -o" vm list -o yaml
t 2 "a bad --since" log --since yesterday
t 2 "a VM name that is not a name" request 'a b'

echo "-- connection settings"
JENV=(JITGATE_SERVER="https://$V:8443" JITGATE_TOKEN="$OWNER")
t 3 "no CA for a self-signed server → TLS failure" whoami
has "TLS" "the message says TLS and how to fix it"
t 0 "--insecure works" whoami --insecure
has "WARNING" "--insecure warns loudly"
JENV=(JITGATE_SERVER="https://$V:8443" JITGATE_TOKEN=jg_notatoken JITGATE_CA="$STATE/tls/cert.pem")
t 4 "a bad token → 4" whoami
has "AuthenticationFailed" "the server's code is printed"
JENV=(JITGATE_SERVER="https://$V:8443" JITGATE_CA="$STATE/tls/cert.pem")
t 4 "no token at all → 4" whoami
JENV=()
t 2 "no server configured → 2" whoami
has "no server:" "... says there is no server"
if (( MADE_RUN )); then
	[[ -S /run/jitgate/jitgated.sock ]] && ok "... while a stale /run/jitgate/jitgated.sock stands" ||
		notok "a stale /run/jitgate/jitgated.sock stands"
fi
JENV=(JITGATE_DEFAULT_SOCKET="$SOCK")
t 0 "root falls back to the default socket (JITGATE_DEFAULT_SOCKET) when no server is configured" whoami
has "root" "... the caller is root on the socket"
JENV=()
t 2 "an http:// server is refused (tokens never travel in clear)" --server "http://$V:8443" --token x whoami
t 0 "flags instead of the environment" --server "https://$V:8443" --token "$OWNER" --ca "$STATE/tls/cert.pem" whoami
t 0 "root on the unix socket needs no token" --socket "$SOCK" whoami
has "root" "the socket caller is root"
has "Owner" "... with the Owner role"
JENV=(JITGATE_SERVER="https://$V:8443" JITGATE_TOKEN="$OWNER" JITGATE_CA="$STATE/tls/cert.pem")
t 0 "whoami" whoami
has "token:owner" "whoami shows the token's name"
t 0 "whoami -q prints my address" whoami -q
check "... which is the client's address $A (got '$out')" test "$out" = "$A"
t 0 "whoami -o json" whoami -o json
check "... is the API's JSON" test "$(jout .role)" = Owner

echo "-- VM inventory"
t 0 "vm list" vm list
has "Configured (0)  Not configured (1)  Unsupported (0)" "vm list shows the three tabs with counts"
has "vm1" "vm list shows vm1"
t 0 "vm add gw1 (a gateway VM)" vm add gw1 --address 10.99.0.5 --os Windows
has "Added VM gw1" "vm add says added"
t 0 "vm add gw2" vm add gw2 --address 10.99.0.6 --address fd00:99::6
t 0 "vm add gw1 in another resource group" vm add gw1 --address 10.99.1.5 --resource-group other
t 2 "vm add without --address" vm add gw3
t 2 "vm show of a name in two resource groups is ambiguous → 2" vm show gw1
has "/resourceGroups/other/" "the message lists the ids"
t 0 "vm show by full id" vm show "/subscriptions/$SUB/resourceGroups/other/providers/Microsoft.Compute/virtualMachines/gw1"
t 0 "vm remove by full id" vm remove "/subscriptions/$SUB/resourceGroups/other/providers/Microsoft.Compute/virtualMachines/gw1"
t 0 "vm show gw1 (now unique, any case)" vm show GW1
has "Windows" "vm show shows the OS"
t 1 "an unknown VM → 1" vm show nosuchvm
has "no VM named 'nosuchvm'" "the message names the VM"
t 0 "vm list -q" vm list -q
check "... prints the names" test "$(sort <<<"$out" | tr '\n' ' ')" = "gw1 gw2 vm1 "
t 0 "vm list -o json" vm list -o json
check "... is the API's JSON (3 VMs)" test "$(jout '.value | length')" = 3

echo "-- enable, edit, disable"
check "before enable: $A reaches $V:3389" can "$CL" $A $V 3389
t 0 "enable vm1 --port 22 --port 3389/tcp --max 1h" enable vm1 --port 22 --port 3389/tcp --max 1h
has "JIT enabled on vm1" "enable says enabled"
has "PT1H" "enable shows the rules"
check "after enable: $A cannot reach $V:3389" cannot "$CL" $A $V 3389
if ip netns exec "$CL" timeout 5 ssh "${SSHOPTS[@]}" -o ConnectTimeout=2 "$V" true 2>/dev/null; then
	notok "plain ssh fails before a request"; else ok "plain ssh fails before a request"; fi
t 0 "vm list --status configured" vm list --status configured
has "Configured (1)  Not configured (2)" "the counts moved"
has "$V:22/*" "connection details are shown"
check "vm list: no agent for the local VM (the AGENT column says -)" grep -qE '^vm1 +[^ ]+ +Configured +- ' <<<"$out"
t 0 "vm list --exposed without agents" vm list --exposed
has "No VM has a listening management port without a JIT rule." "vm list --exposed: no agent VM, nothing exposed"
t 2 "vm list --group with a bad name → 2" vm list --group 'no way'
has "--group: 'no way' is not a resource group name" "... the option is named"
t 0 "vm list --group default" vm list --group default -q
check "... the VMs of resource group default ($(echo $(sort <<<"$out")))" test "$(echo $(sort <<<"$out"))" = "gw1 gw2 vm1"
t 0 "vm list --group other (its gw1 was removed)" vm list --group other -q
check "... none ('$out')" test -z "$out"
# gw1 (Windows: default port 3389) and gw2 (--recommended) enabled at the same time, into the same policy
jg_bg() { ip netns exec "$CL" env -i PATH="$PATH" HOME="$H" "${JENV[@]}" "$JG" "$@" >/dev/null 2>>"$E2E_TMP/err.bg"; }
jg_bg enable gw1 --max 2h & p1=$!
jg_bg enable gw2 --recommended --source 10.212.0.0/24 & p2=$!
wait $p1; r1=$?
wait $p2; r2=$?
check "enable gw1 and gw2 at the same time: both succeed (If-Match read-modify-write, retried on 412)" test "$r1$r2" = 00
t 0 "policy show" policy show
check "... the policy holds vm1, gw1 and gw2 (enable never drops other VMs)" \
	test "$(jout '[.properties.virtualMachines[].id | split("/")[-1]] | sort | join(",")')" = gw1,gw2,vm1
check "... gw1 got 3389 for 2h" test "$(jout '.properties.virtualMachines[] | select(.id | endswith("/gw1")) | .ports[0] | "\(.number) \(.maxRequestAccessDuration)"')" = "3389 PT2H"
check "... gw2 got 22, 3389, 5985, 5986 from 10.212.0.0/24" \
	test "$(jout '.properties.virtualMachines[] | select(.id | endswith("/gw2")) | [.ports[] | "\(.number)@\(.allowedSourceAddressPrefix)"] | join(",")')" = \
	"22@10.212.0.0/24,3389@10.212.0.0/24,5985@10.212.0.0/24,5986@10.212.0.0/24"
t 0 "edit vm1 --port 3389 --max 30m --source 10.212.0.0/24 --port 5985" edit vm1 --port 3389 --max 30m --source 10.212.0.0/24 --port 5985
t 0 "policy show" policy show
check "... vm1's 3389 now 30m from 10.212.0.0/24, 22 untouched, 5985 added" \
	test "$(jout '.properties.virtualMachines[] | select(.id | endswith("/vm1")) | [.ports[] | "\(.number)/\(.protocol)/\(.maxRequestAccessDuration)/\(.allowedSourceAddressPrefix)"] | join(",")')" = \
	"22/*/PT1H/*,3389/TCP/PT30M/10.212.0.0/24,5985/*/PT30M/10.212.0.0/24"
# a maximum comes back as it was written (P1D stays P1D), and an edit that leaves it alone leaves its words too
printf '%s\n' "$out" >"$E2E_TMP/before-p1d.json"
jq '(.properties.virtualMachines[] | select(.id | endswith("/vm1")) | .ports[] | select(.number == 22) | .maxRequestAccessDuration) = "P1D"' \
	<<<"$out" >"$E2E_TMP/p1d.json"
t 0 "policy apply -f a policy whose vm1 port 22 allows P1D" policy apply -f "$E2E_TMP/p1d.json"
t 0 "edit vm1 --port 22 --source 10.212.0.0/24 (its maximum untouched)" edit vm1 --port 22 --source 10.212.0.0/24
has "P1D" "... the rules it prints show P1D as written, not PT24H"
lacks "PT24H" "... and nowhere PT24H"
t 0 "policy show" policy show
check "... vm1's 22 keeps P1D, now from 10.212.0.0/24 (got $(jout '.properties.virtualMachines[] | select(.id | endswith("/vm1")) | .ports[0] | "\(.maxRequestAccessDuration) \(.allowedSourceAddressPrefix)"'))" \
	test "$(jout '.properties.virtualMachines[] | select(.id | endswith("/vm1")) | .ports[0] | "\(.number) \(.maxRequestAccessDuration) \(.allowedSourceAddressPrefix)"')" = "22 P1D 10.212.0.0/24"
t 0 "edit vm1 --port 22 --max PT1440M (ISO 8601 as the API reads it)" edit vm1 --port 22 --max PT1440M
has "PT1440M" "... the rules show PT1440M as typed"
t 0 "edit vm1 --port 22 --max 1d (the CLI's own words)" edit vm1 --port 22 --max 1d
has "PT24H" "... the rules show the API's form of it, PT24H"
t 0 "policy apply -f the policy as it was" policy apply -f "$E2E_TMP/before-p1d.json"
t 0 "edit vm1 --remove-port 5985" edit vm1 --remove-port 5985
t 2 "edit vm1 --remove-port 5985 again (no such rule) → 2" edit vm1 --remove-port 5985
t 2 "edit with nothing to change → 2" edit vm1
t 1 "edit an unknown VM → 1" edit nosuchvm --max 1h
t 1 "enable with a max beyond the server's 24h → refused, 1" enable gw2 --max 25h
has "InvalidMaxRequestAccessDuration" "the server's code is printed"

echo "-- request, real connections, ssh"
t 0 "request vm1 --port 3389 --for 10m --reason e2e" request vm1 --port 3389 --for 10m --reason e2e
has "$A" "request says from where (my address)"
has "$V:3389" "request says how to connect"
has "UTC" "request prints the end in local time"
has "Access to vm1 granted (request " "request on a local VM says granted, as before (no agent to wait for)"
lacks "agent" "... and says nothing of an agent"
check "after request: $A reaches $V:3389" can "$CL" $A $V 3389
check "... but $X (another address of the same client) does not" cannot "$CL" $X $V 3389
check "... and 22 (not requested) stays closed" cannot "$CL" $A $V 22
t 1 "request beyond the rule's maximum → refused, 1" request vm1 --port 3389 --for 2h
has "EndTimeTooLate" "the server's code is printed"
t 1 "request a port that is not in the rules → 1" request vm1 --port 9999
has "PortNotInPolicy" "... with PortNotInPolicy"
t 1 "request --from outside the allowed sources → 1" request vm1 --port 3389 --from 10.9.0.0/24
has "SourceAddressNotAllowed" "... with SourceAddressNotAllowed"
t 1 "request a VM without JIT → 1" request vm1-nope
t 0 "request -q prints the request id" request vm1 --port 22 --for 5m -q
t 0 "request --no-wait on a local VM is the same request" request vm1 --port 22 --for 5m --no-wait
has "Access to vm1 granted (request " "... granted, as without it"
check "... an id" test -n "$out"
t 0 "request -o json" request vm1 --port 22 --for 5m -o json
check "... times in UTC in JSON" grep -q 'Z"' "$E2E_TMP/out"
t 0 "jitgate ssh vm1 -- ... true (requests 22, then runs ssh)" ssh vm1 -- "${SSHOPTS[@]}" true
has "port 22 of vm1 is open for $A" "ssh says what it opened"
SAVED=("${JENV[@]}")
JENV=()
t 2 "over the root socket without --from or SSH_CLIENT, request asks for --from" --socket "$SOCK" request vm1 --port 22
has "SSH_CLIENT" "... and says how"
JENV=(SSH_CLIENT="$X 50022 22")
t 0 "over the root socket, SSH_CLIENT names my address" --socket "$SOCK" request vm1 --port 22 --for 5m
check "... so $X now reaches $V:22" can "$CL" $X $V 22
JENV=("${SAVED[@]}")
t 0 "requests --active" requests --active
has "3389" "requests lists the 3389 grant"
has "token:owner" "... with the requestor"
t 0 "requests --vm vm1 -q" requests --vm vm1 -q
check "... prints request ids" test "$(wc -l <<<"$out")" -ge 3

echo "-- tokens and roles"
t 0 "token create alice --role JitRequester" token create alice --role JitRequester --scope "$VMID"
ALICE=$(grep -o 'jg_[A-Za-z0-9_-]*' <<<"$out" | head -n 1)
check "... prints the secret once" test -n "$ALICE"
t 1 "token create alice again → refused, 1" token create alice --role Reader
has "TokenExists" "... with TokenExists"
t 2 "token create without --role → 2" token create bob
t 0 "token list" token list
has "JitRequester" "token list shows alice's role"
lacks "$ALICE" "token list never shows a secret"
JENV=(JITGATE_SERVER="https://$V:8443" JITGATE_TOKEN="$ALICE" JITGATE_CA="$STATE/tls/cert.pem")
t 0 "alice requests 22 on vm1" request vm1 --port 22 --for 5m
t 1 "alice's scope (vm1) hides gw1 → no such VM, 1" enable gw1
t 4 "alice may not change vm1's rules (403) → 4" edit vm1 --max 2h
has "AuthorizationFailed" "... with AuthorizationFailed"
t 4 "alice may not list tokens → 4" token list
t 0 "alice revokes her own grant" revoke vm1 --port 22
JENV=(JITGATE_SERVER="https://$V:8443" JITGATE_TOKEN="$OWNER" JITGATE_CA="$STATE/tls/cert.pem")
t 0 "token revoke alice" token revoke alice
t 1 "token revoke alice again → 1" token revoke alice
JENV=(JITGATE_SERVER="https://$V:8443" JITGATE_TOKEN="$ALICE" JITGATE_CA="$STATE/tls/cert.pem")
t 4 "a revoked token → 4" whoami
JENV=(JITGATE_SERVER="https://$V:8443" JITGATE_TOKEN="$OWNER" JITGATE_CA="$STATE/tls/cert.pem")

echo "-- revoke, log"
t 0 "revoke vm1 --port 3389 --kill-sessions" revoke vm1 --port 3389 --kill-sessions
has "Revoked 1 grant" "revoke says how many"
check "after revoke: $A cannot reach $V:3389" cannot "$CL" $A $V 3389
t 0 "requests (all, with the revoked one)" requests --vm vm1
has "Revoked/UserRequested" "the revoked port shows Revoked/UserRequested"
t 0 "log --vm vm1 --since 1h" log --vm vm1 --since 1h
has "initiate/action" "the log shows the requests"
t 0 "log --since 1h" log --since 1h
has "EndTimeTooLate" "the log shows the refusal with its reason"
t 0 "log --caller token:alice" log --caller token:alice -o json
check "... only alice's entries" test "$(jout '[.value[].caller] | unique | join(",")')" = token:alice
t 0 "log --csv" log --csv --since 1h
check "... is CSV with a header row" test "$(head -n 1 <<<"$out" | tr -d '\r')" = \
	"time,caller,caller_address,operation,resource_id,status,detail,justification,correlation_id"
t 0 "log --until a time in the past" log --until 2000-01-01T00:00:00Z -o json
check "... is empty" test "$(jout '.value | length')" = 0

echo "-- policy files, disable"
t 0 "policy list" policy list
has "default" "policy list shows the policy"
t 0 "policy show > file" policy show
printf '%s\n' "$out" >"$E2E_TMP/policy.json"
t 0 "disable gw1" disable gw1
t 0 "disable gw2" disable gw2
t 0 "disable vm1 (the last VM)" disable vm1
has "kept" "disable says the empty policy is kept"
check "after disable: $A reaches $V:3389 again" can "$CL" $A $V 3389
t 1 "disable vm1 again → 1" disable vm1
t 0 "policy apply -f the saved file" policy apply -f "$E2E_TMP/policy.json"
has "3 VM(s)" "apply says how many VMs"
check "after apply: $A cannot reach $V:3389" cannot "$CL" $A $V 3389
printf '{"properties":{"virtualMachines":[{"id":"%s","ports":[{"number":22,"protocol":"TCP","maxRequestAccessDuration":"PT1H"}]}]}}' \
	"$VMID" >"$E2E_TMP/bad.json"
t 1 "policy apply of a policy the server refuses → 1" policy apply -f "$E2E_TMP/bad.json" p2
has "MissingSourceAddressPrefix" "... with the server's code"
echo '{"properties":' >"$E2E_TMP/broken.json"
t 2 "policy apply of broken JSON → 2" policy apply -f "$E2E_TMP/broken.json"
t 0 "policy delete default" policy delete default
check "after delete: $A reaches $V:3389" can "$CL" $A $V 3389
t 0 "policy delete default again (nothing there) → 0" policy delete default
has "nothing deleted" "... and says so"
t 1 "policy show of a missing policy → 1" policy show default
t 0 "vm remove gw2" vm remove gw2
t 1 "vm remove of the local VM → refused, 1" vm remove vm1

echo "-- login"
JENV=()
H=$E2E_TMP/home-login
mkdir -p "$H"
echo no >"$E2E_TMP/no"; echo yes >"$E2E_TMP/yes"
JG_STDIN=$E2E_TMP/no t 3 "login, answering no to the fingerprint → 3" login --server "https://$V:8443" --token "$OWNER"
check "... nothing saved" test ! -e "$H/.config/jitgate/config"
FP=$(grep -o 'SHA-256 [0-9A-F:]*' "$SRVLOG" | head -n 1 | cut -d' ' -f2)
JG_STDIN=$E2E_TMP/yes t 0 "login, answering yes" login --server "https://$V:8443" --token "$OWNER"
has "$FP" "login showed the same fingerprint that jitgated logged"
check "... config written with mode 0600" test "$(stat -c %a "$H/.config/jitgate/config")" = 600
check "... the server's certificate pinned (the config's ca)" cmp -s "$(grep "^ca = " "$H/.config/jitgate/config" | cut -d" " -f3)" "$STATE/tls/cert.pem"
t 0 "after login, commands need no flags" whoami
has "token:owner" "... and use the saved token"
t 3 "login --fingerprint with a wrong fingerprint → 3" login --server "https://$V:8443" --token "$OWNER" --fingerprint AA:BB
t 0 "login --fingerprint (matching)" login --server "https://$V:8443" --token "$OWNER" --fingerprint "$FP"
t 0 "login --ca" login --server "https://$V:8443" --token "$OWNER" --ca "$STATE/tls/cert.pem"
t 4 "login with a bad token → 4, nothing changed" login --server "https://$V:8443" --token jg_bad --ca "$STATE/tls/cert.pem"
t 0 "... the old config still works" whoami
t 4 "a --server other than the config's never gets the config's token → 4" --server "https://$A:9" whoami

echo "-- precedence: flags > environment > config file > socket"
JENV=(JITGATE_TOKEN=jg_notatoken)
t 4 "the environment's token beats the config's → 4" whoami
t 0 "a --token flag beats the environment's" --token "$OWNER" whoami
JENV=(JITGATE_CA=/nonexistent/ca.pem)
t 3 "the environment's CA beats the config's → 3" whoami
t 0 "a --ca flag beats the environment's" --ca "$STATE/tls/cert.pem" whoami
JENV=(JITGATE_SERVER="https://$A:9")
t 4 "the environment's server beats the config's, which keeps its token → 4" whoami
t 0 "a --server flag beats the environment's (the config's server: its token and CA)" --server "https://$V:8443" whoami
JENV=(JITGATE_SUBSCRIPTION=not-a-guid)
t 2 "a bad JITGATE_SUBSCRIPTION → 2" whoami
t 0 "a --subscription flag beats the environment's" --subscription 00000000-0000-0000-0000-000000000000 whoami
t 2 "a bad --subscription → 2" --subscription not-a-guid whoami
JENV=(JITGATE_SOCKET="$SOCK")
t 0 "JITGATE_SOCKET beats the config's server" whoami
has "root" "... the caller is root on the socket"
t 0 "JITGATE_SOCKET beats a --server flag too" --server "https://$V:8443" whoami
has "root" "... the caller is root on the socket"
t 3 "a --socket flag beats JITGATE_SOCKET (a missing socket → 3)" --socket /nonexistent.sock whoami
JENV=()
t 0 "a --socket flag beats the config's server" --socket "$SOCK" whoami
has "root" "... the caller is root on the socket"
cp "$H/.config/jitgate/config" "$E2E_TMP/config.saved"
echo "bogus = 1" >>"$H/.config/jitgate/config"
t 2 "an unknown key in the config → 2" whoami
has "unknown key 'bogus'" "... named with its line"
printf 'server %s\n' "https://$V:8443" >"$H/.config/jitgate/config"
t 2 "a config line without '=' → 2" whoami
cp "$E2E_TMP/config.saved" "$H/.config/jitgate/config"
chmod 644 "$H/.config/jitgate/config"
t 0 "a config readable by others still works" whoami
has "readable by others" "... with a warning"
chmod 600 "$H/.config/jitgate/config"
t 0 "the flags and no config: 0" --server "https://$V:8443" --token "$OWNER" --ca "$STATE/tls/cert.pem" whoami
JENV=(JITGATE_SERVER="http://$V:8443" JITGATE_TOKEN=x)
t 2 "an http:// JITGATE_SERVER is refused → 2" whoami
JENV=()
t 1 "a missing token → 1" token revoke no-such-token
t 2 "help on an unknown command → 2" help frobnicate
t 2 "a global option without its value → 2" --server
t 2 "an unknown global option before the command → 2" --bogus whoami

echo "-- server down"
kill "$SRV"
wait "$SRV" 2>/dev/null
t 3 "whoami with jitgated stopped → 3" whoami
has "cannot reach" "... says it cannot reach the server"

e2e_summary

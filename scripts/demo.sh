#!/usr/bin/env bash
# make demo: the whole jitgate story in throwaway network namespaces (never this host's own firewall),
# narrated step by step. Cleans up on exit or Ctrl-C. About 40 seconds.
set -u
here=$(cd "$(dirname "$0")" && pwd)
BUILD=${1:-$here/../build}
JITGATED=$BUILD/jitgated
JG=$BUILD/jitgate
NETPROBE=$BUILD/tests/e2e/netprobe
GRANT_SECONDS=${GRANT_SECONDS:-12}
. "$here/../tests/e2e/lib.sh"

[[ $(id -u) == 0 ]] || { echo "make demo: needs root (it creates network namespaces)"; exit 1; }
for f in "$JITGATED" "$JG" "$NETPROBE"; do [[ -x $f ]] || { echo "make demo: build first ($f)"; exit 1; }; done

bold() { printf '\n\033[1m%s\033[0m\n' "$*"; }
say() { printf '  %s\n' "$*"; }
run() { printf '  \033[2m$ %s\033[0m\n' "$*"; }
fail() { printf '\n  DEMO FAILED: %s\n' "$*"; exit 1; }

bold "1. Two machines: a VM with an SSH-like service on port 22, and your laptop"
VM=$(ns_new demo-vm) && CL=$(ns_new demo-laptop) || exit 1
link_new "$VM" v0 "$CL" c0 || exit 1
V=10.230.0.1 ME=10.230.0.2 OTHER=10.230.0.3
addr_add "$VM" v0 $V/24
addr_add "$CL" c0 $ME/24
addr_add "$CL" c0 $OTHER/24
listen "$VM" 22 || exit 1
say "vm1 is $V (namespace $VM); your laptop is $ME, and $OTHER stands for somebody else."

bold "2. jitgated runs on vm1; an Owner token is made for you"
STATE=$E2E_TMP/state
TOKEN=$("$JITGATED" token create --state-dir "$STATE" --name you --role Owner) || fail "token create"
run "jitgated token create --state-dir $STATE --name you --role Owner"
ip netns exec "$VM" "$JITGATED" --single-process --state-dir "$STATE" --listen $V:8443 --vm-name vm1 >"$E2E_TMP/jitgated.log" 2>&1 &
E2E_PIDS+=($!)
for ((i = 0; i < 100; i++)); do
	[[ -f $STATE/tls/cert.pem ]] && ip netns exec "$CL" curl -s --cacert "$STATE/tls/cert.pem" -o /dev/null \
		"https://$V:8443/healthz" && break
	sleep 0.05
done
say "$(head -1 "$E2E_TMP/jitgated.log")"
jg() { # the CLI on your laptop
	run "jitgate $*"
	ip netns exec "$CL" env JITGATE_SERVER="https://$V:8443" JITGATE_TOKEN="$TOKEN" JITGATE_CA="$STATE/tls/cert.pem" \
		HOME="$E2E_TMP" TZ=UTC "$JG" "$@" 2>&1 | sed 's/^/    /'
	return "${PIPESTATUS[0]}"
}
try() { # try SRC: a real TCP connection to vm1:22
	if ip netns exec "$CL" "$NETPROBE" connect -s "$1" $V 22 700; then say "ssh $V from $1: connected"; return 0; fi
	say "ssh $V from $1: no answer (the kernel drops it)"
	return 1
}
jg vm list || fail "vm list"

bold "3. Before JIT, port 22 is open to anyone"
try $ME || fail "port 22 should be open"

bold "4. Enable JIT on vm1: port 22, at most 3 hours per request, any source"
jg enable vm1 || fail "enable"
try $ME && fail "port 22 should be closed"
try $OTHER && fail "port 22 should be closed"

bold "5. Ask for access from your own address, for ${GRANT_SECONDS} seconds"
jg request vm1 --for "${GRANT_SECONDS}s" --reason "demo" || fail "request"
try $ME || fail "your address should get in"
try $OTHER && fail "only your address should get in"

bold "6. The kernel closes it on time (jitgated could be down; the element carries its own timeout)"
run "nft list set inet jitgate local_grant4   # on vm1"
ip netns exec "$VM" nft list set inet jitgate local_grant4 | grep -E 'elements|timeout' | sed 's/^/    /'
say "waiting ${GRANT_SECONDS} seconds ..."
sleep "$GRANT_SECONDS"
sleep 1
try $ME && fail "the grant should have ended"

bold "7. The activity log: every step, as a table and as CSV"
jg log --since 10m || fail "log"
jg log --since 10m --csv | head -4
say "..."

bold "Done. Everything above ran in namespaces that are removed now."

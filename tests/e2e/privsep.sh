#!/usr/bin/env bash
# End-to-end: jitgated started as root splits into an unprivileged main process and a firewall helper that keeps
# only CAP_NET_ADMIN; the whole flow works through the split; a malformed message ends a helper without touching
# the kernel; a killed helper leaves the system closed and comes back; started as non-root it runs unsplit.
# Usage: tests/e2e/privsep.sh [BUILD_DIR]   (as root; creates the system user jitgate-test if missing, and removes
# it at the end only if it created it)
set -u
here=$(cd "$(dirname "$0")" && pwd)
BUILD=${1:-$here/../../build}
JITGATED=$BUILD/src/daemon/jitgated
NETPROBE=$BUILD/tests/e2e/netprobe
INJECT=$BUILD/tests/e2e/fwwire-inject
. "$here/lib.sh"

[[ $(id -u) == 0 ]] || { echo "privsep.sh: needs root"; exit 1; }
[[ -x $JITGATED && -x $INJECT ]] || { echo "privsep.sh: build first ($JITGATED)"; exit 1; }
USR=jitgate-test
made_user=0
if ! id -u "$USR" >/dev/null 2>&1; then
	useradd --system --no-create-home --shell /usr/sbin/nologin "$USR" || exit 1
	made_user=1
fi
trap 'e2e_cleanup; rm -rf "$E2E_TMP"; (( made_user )) && userdel "$USR" 2>/dev/null; true' EXIT
UID_T=$(id -u "$USR")
chmod 0711 "$E2E_TMP"	# the unprivileged user must reach the state directory below it

VM=$(ns_new pvm) && CL=$(ns_new pcl) && INJ=$(ns_new pinj) || exit 1
link_new "$VM" v0 "$CL" c0 || exit 1
V=10.213.0.1 A=10.213.0.2 B=10.213.0.3
addr_add "$VM" v0 $V/24
addr_add "$CL" c0 $A/24
addr_add "$CL" c0 $B/24
listen "$VM" 22 || exit 1

STATE=$E2E_TMP/state
SOCK=$E2E_TMP/jitgated.sock
TOKEN=$("$JITGATED" token create --state-dir "$STATE" --name admin --role Owner) || exit 1
# port 443: binding below 1024 must happen before the drop
ip netns exec "$VM" "$JITGATED" --state-dir "$STATE" --listen $V:443 --vm-name vm1 --user "$USR" \
	--unix-socket "$SOCK" >"$E2E_TMP/jitgated.log" 2>&1 &
E2E_PIDS+=($!)
S=/subscriptions/00000000-0000-0000-0000-000000000000
P=$S/resourceGroups/default/providers/Microsoft.Security/locations/local/jitNetworkAccessPolicies/default
VMID=$S/resourceGroups/default/providers/Microsoft.Compute/virtualMachines/vm1
AV=api-version=2020-01-01
api() { ip netns exec "$CL" curl -sS --max-time 10 --cacert "$STATE/tls/cert.pem" -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' "$@"; }
healthy() { [[ $(api -o /dev/null -w '%{http_code}' https://$V/healthz 2>/dev/null) == 200 ]]; }
for ((i = 0; i < 100; i++)); do healthy && break; sleep 0.05; done
check "jitgated answers on https://$V:443 (a port below 1024, bound before the drop)" healthy

iso() { date -u -d "@$(( $1 / 1000 )).$(printf %03d $(( $1 % 1000 )))" +%Y-%m-%dT%H:%M:%S.%3NZ; }
initiate() { # SOURCE ENDMS → HTTP status
	api -o "$E2E_TMP/initiate.json" -w '%{http_code}' -X POST "https://$V$P/initiate?$AV" \
		-d '{"virtualMachines":[{"id":"'$VMID'","ports":[{"number":22,"endTimeUtc":"'"$(iso "$2")"'",
		"allowedSourceAddressPrefix":"'$1'"}]}],"justification":"privsep"}'
}

# --- (1) who holds what, from /proc
field() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
uids() { awk '$1 == "Uid:" { print $2, $3, $4, $5 }' "/proc/$1/status"; }
children() { cat /proc/"$1"/task/*/children 2>/dev/null; }
MAIN=$(ip netns exec "$VM" ss -ltnpH "sport = :443" | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2)
SUP=$(children "$MAIN" | tr ' ' '\n' | grep . | head -1)
HELPER=$(children "$SUP" | tr ' ' '\n' | grep . | head -1)
echo "  main $MAIN ($(cat /proc/$MAIN/comm)), supervisor ${SUP:-?} ($(cat /proc/$SUP/comm 2>/dev/null)), helper ${HELPER:-?} ($(cat /proc/$HELPER/comm 2>/dev/null))"
for f in CapInh CapPrm CapEff CapBnd CapAmb NoNewPrivs Seccomp; do
	printf '    %-10s main %s  supervisor %s  helper %s\n' $f "$(field $MAIN $f)" "$(field $SUP $f)" "$(field $HELPER $f)"
done
zero=0000000000000000 netadmin=0000000000001000
check "the process listening on 443 has no capability (CapEff, CapPrm, CapInh, CapBnd, CapAmb all 0)" \
	test "$(field $MAIN CapEff)$(field $MAIN CapPrm)$(field $MAIN CapInh)$(field $MAIN CapBnd)$(field $MAIN CapAmb)" \
	= "$zero$zero$zero$zero$zero"
check "… and NoNewPrivs 1, Seccomp 2 (filter)" test "$(field $MAIN NoNewPrivs)/$(field $MAIN Seccomp)" = "1/2"
check "… and runs as $USR (uid $UID_T: real, effective, saved, fs)" test "$(uids $MAIN)" = "$UID_T $UID_T $UID_T $UID_T"
check "the helper ($(cat /proc/$HELPER/comm 2>/dev/null)) holds CAP_NET_ADMIN only (CapEff = CapPrm = CapBnd = $netadmin)" \
	test "$(field $HELPER CapEff)/$(field $HELPER CapPrm)/$(field $HELPER CapBnd)" = "$netadmin/$netadmin/$netadmin"
check "… nothing inheritable or ambient" test "$(field $HELPER CapInh)$(field $HELPER CapAmb)" = "$zero$zero"
check "… NoNewPrivs 1, Seccomp 2, uid $UID_T" \
	test "$(field $HELPER NoNewPrivs)/$(field $HELPER Seccomp)/$(uids $HELPER)" = "1/2/$UID_T $UID_T $UID_T $UID_T"
check "the supervisor holds CAP_NET_ADMIN only, NoNewPrivs 1, Seccomp 2, uid $UID_T" \
	test "$(field $SUP CapEff)/$(field $SUP CapPrm)/$(field $SUP CapBnd)/$(field $SUP NoNewPrivs)/$(field $SUP Seccomp)/$(uids $SUP)" \
	= "$netadmin/$netadmin/$netadmin/1/2/$UID_T $UID_T $UID_T $UID_T"
check "the unix socket is root's, mode 600 (bound before the drop)" test "$(stat -c '%u %a' "$SOCK")" = "0 600"
check "the state directory, tls/ and the store belong to $USR" \
	test "$(stat -c %u "$STATE" "$STATE/tls" "$STATE/tls/key.pem" "$STATE/jitgate.db" | sort -u)" = "$UID_T"
check "root on the unix socket is still served" \
	bash -c '[[ $(curl -sS --unix-socket "$1" -o /dev/null -w "%{http_code}" "http://x$2/providers/Microsoft.Compute/virtualMachines?api-version=2020-01-01") == 200 ]]' _ "$SOCK" "$S"

# --- (2) the flow through the split
code=$(api -o /dev/null -w '%{http_code}' -X PUT "https://$V$P?$AV" -d '{"properties":{"virtualMachines":[{"id":"'$VMID'",
	"ports":[{"number":22,"protocol":"TCP","allowedSourceAddressPrefix":"*","maxRequestAccessDuration":"PT1H"}]}]}}')
check "PUT policy → 200/201 (got $code)" test "$code" = 200 -o "$code" = 201
check "A is refused on 22 once the policy is in place" cannot "$CL" $A $V 22
end=$(( $(now_ms) + 4000 ))
code=$(initiate $A $end)
check "initiate for A, 4 s → 202 (got $code)" test "$code" = 202
check "A reaches 22 (a real TCP connection)" can "$CL" $A $V 22
check "B is still refused" cannot "$CL" $B $V 22
sleep_until $(( end + 300 ))
check "after the end time A is refused again (the kernel's own timeout)" cannot "$CL" $A $V 22
code=$(initiate $A $(( $(now_ms) + 600000 )))
check "initiate for A, 10 min → 202 (got $code)" test "$code" = 202
check "A reaches 22 again" can "$CL" $A $V 22
# issue 11, clock jumps: the sandboxed main process reads this boot's id, and the grant records it beside its end
if command -v sqlite3 >/dev/null; then
	boot=$(sqlite3 -readonly "file:$STATE/jitgate.db?mode=ro" "SELECT boot FROM grants WHERE status = 0 LIMIT 1" 2>&1)
	check "the grant records this boot ($boot), read by the unprivileged, sandboxed main process" \
		test "$boot" = "$(cat /proc/sys/kernel/random/boot_id)"
fi

T2=$("$JITGATED" token create --state-dir "$STATE" --name reader2 --role Reader)
check "root's 'jitgated token create' on the running daemon's state works, as the directory's owner" \
	bash -c '[[ $(ip netns exec "$1" curl -sS --cacert "$2/tls/cert.pem" -H "Authorization: Bearer $3" -o /dev/null \
	-w "%{http_code}" "https://$4$5/providers/Microsoft.Compute/virtualMachines?api-version=2020-01-01") == 200 ]]' _ "$CL" "$STATE" "$T2" "$V" "$S"
check "… and leaves no root-owned file in the state directory" test -z "$(find "$STATE" -uid 0)"

# --- (3) malformed messages end a helper, and the kernel is untouched
out=$(ip netns exec "$INJ" "$INJECT" 2>&1)
n_ok=$(grep -c '^  ok' <<<"$out"); n_fail=$(grep -c '^  FAIL' <<<"$out")
grep '^  FAIL' <<<"$out" | sed 's/^/    /'
check "fwwire-inject: every malformed message makes the helper exit 3 with nft list table byte-identical ($n_ok ok, $n_fail failed)" \
	test "$n_fail" = 0 -a "$n_ok" -ge 30

# and through the daemon: the helper killed (its supervisor held still, so the gap lasts), then restarted
table_before=$(ip netns exec "$VM" nft list table inet jitgate | grep -v expires)
kill -STOP "$SUP"
kill -9 "$HELPER"
for ((i = 0; i < 40; i++)); do grep -q "firewall helper is gone" "$E2E_TMP/jitgated.log" && break; sleep 0.05; done
check "jitgated notices the helper is gone" grep -q "firewall helper is gone" "$E2E_TMP/jitgated.log"
check "during the gap the kernel keeps its table (nothing flushed)" \
	test "$(ip netns exec "$VM" nft list table inet jitgate | grep -v expires)" = "$table_before"
check "during the gap B is refused (fail closed)" cannot "$CL" $B $V 22
check "during the gap A's grant still holds" can "$CL" $A $V 22
code=$(initiate $B $(( $(now_ms) + 600000 )))
check "during the gap an initiate for B fails (got $code: $(jq -r .error.code "$E2E_TMP/initiate.json" 2>/dev/null))" \
	test "$code" -ge 500
check "… and B stays refused" cannot "$CL" $B $V 22
kill -CONT "$SUP"
NEWHELPER=
for ((i = 0; i < 100; i++)); do
	NEWHELPER=$(children "$SUP" | tr ' ' '\n' | grep . | head -1)
	[[ -n $NEWHELPER && $NEWHELPER != "$HELPER" ]] && grep -q "firewall helper $NEWHELPER started" "$E2E_TMP/jitgated.log" && break
	sleep 0.05
done
check "the supervisor starts a new helper ($NEWHELPER) and jitgated reconciles through it" \
	grep -q "firewall helper $NEWHELPER started" "$E2E_TMP/jitgated.log"
check "… which holds CAP_NET_ADMIN only, NoNewPrivs 1, Seccomp 2" \
	test "$(field $NEWHELPER CapEff)/$(field $NEWHELPER CapPrm)/$(field $NEWHELPER NoNewPrivs)/$(field $NEWHELPER Seccomp)" \
	= "$netadmin/$netadmin/1/2"
check "A's grant still works after the restart" can "$CL" $A $V 22
check "B is still refused" cannot "$CL" $B $V 22
code=$(initiate $B $(( $(now_ms) + 600000 )))
check "initiate for B through the new helper → 202 (got $code)" test "$code" = 202
check "B reaches 22 now" can "$CL" $B $V 22
check "… and A, whose request B's superseded (same caller, same port), is refused" cannot "$CL" $A $V 22
nft_vm() { ip netns exec "$VM" nft "$@"; }
nft_vm add element inet jitgate local_grant4 "{ 10.213.0.9 . tcp . 22 timeout 1h comment \"intruder\" }"
for ((i = 0; i < 40; i++)); do ! nft_vm list set inet jitgate local_grant4 | grep -q 10.213.0.9 && break; sleep 0.05; done
check "the new helper's monitor still reports tampering, and jitgated undoes it" \
	bash -c '! ip netns exec "$1" nft list set inet jitgate local_grant4 | grep -q 10.213.0.9' _ "$VM"
kill -TERM "$MAIN"
for ((i = 0; i < 100; i++)); do [[ -d /proc/$MAIN || -d /proc/$SUP ]] || break; sleep 0.05; done
check "SIGTERM ends main, supervisor and helper" bash -c '! [[ -d /proc/$1 || -d /proc/$2 || -d /proc/$3 ]]' _ "$MAIN" "$SUP" "$NEWHELPER"
check "… and the kernel keeps the live grant (B, whose request superseded A's, still reaches 22)" can "$CL" $B $V 22
# the HTTP process (user $USR by then) cannot remove root's socket from root's directory: it stays, unanswered
check "the root unix socket is left behind after the drop (the next start replaces it, below)" \
	test "$(stat -c '%F %u' "$SOCK" 2>/dev/null)" = "socket 0"
check "no process was killed by its seccomp filter (no SIGSYS)" bash -c '! grep -q "signal 31" "$1"' _ "$E2E_TMP/jitgated.log"
check "no sanitizer report from any of the three (sanitizer builds)" \
	bash -c '! grep -E -q "ERROR: (Address|Leak)Sanitizer|runtime error:" "$1"' _ "$E2E_TMP/jitgated.log"

# --- (3b) Landlock (issue 18): the main process writes only in its state directory. Its state directory is given
# as a symlink; once it runs, the symlink is turned to another directory that user $USR owns (so file rights allow
# the write) and a policy change makes it rewrite its boot list there: the kernel must refuse (EACCES), and nothing
# may appear outside. The store's files are hard-linked beside, so SQLite (open descriptors) carries on unaware.
# That other directory also holds its prune_export, opened once before Landlock: its directory gives no write right.
ll_abi=$(landlock_abi)
LLNS=$(ns_new pll) || exit 1
LLREAL=$E2E_TMP/ll-real LLOUT=$E2E_TMP/ll-out LLDIR=$E2E_TMP/ll-state
mkdir -m 0700 "$LLREAL" "$LLOUT" && chown "$USR:" "$LLREAL" "$LLOUT" && ln -s "$LLREAL" "$LLDIR" || exit 1
LLTOKEN=$("$JITGATED" token create --state-dir "$LLDIR" --name admin --role Owner) || exit 1
echo "prune_export = $LLOUT/pruned.jsonl" >"$E2E_TMP/ll.conf"
ip netns exec "$LLNS" "$JITGATED" --state-dir "$LLDIR" --listen 127.0.0.1:8447 --vm-name vm1 --user "$USR" \
	--unix-socket "$SOCK" --config "$E2E_TMP/ll.conf" >"$E2E_TMP/ll.log" 2>&1 &
E2E_PIDS+=($!)
LLPID=$!
llapi() { ip netns exec "$LLNS" curl -sS --max-time 10 --cacert "$LLREAL/tls/cert.pem" -H "Authorization: Bearer $LLTOKEN" \
	-H 'Content-Type: application/json' -o /dev/null -w '%{http_code}' "$@"; }
llput() { # PORT → HTTP status of a PUT of the policy protecting that port
	llapi -X PUT "https://127.0.0.1:8447$P?$AV" -d '{"properties":{"virtualMachines":[{"id":"'$VMID'",
	"ports":[{"number":'$1',"protocol":"TCP","allowedSourceAddressPrefix":"*","maxRequestAccessDuration":"PT1H"}]}]}}'
}
for ((i = 0; i < 100; i++)); do grep -q listening "$E2E_TMP/ll.log" && break; sleep 0.05; done
check "the next start replaced the stale socket left behind: root is answered on it" \
	bash -c '[[ $(curl -sS --max-time 10 --unix-socket "$1" -o /dev/null -w "%{http_code}" http://x/whoami) == 200 ]]' _ "$SOCK"
if (( ll_abi > 0 )); then
	check "the kernel has Landlock (ABI $ll_abi) and jitgated says the main process writes only in its state directory" \
		grep -q "Landlock (ABI $ll_abi): this process writes only in $LLDIR" "$E2E_TMP/ll.log"
	code=$(llput 22)
	for ((i = 0; i < 100; i++)); do grep -q '^local tcp 22$' "$LLREAL/boot-protect" 2>/dev/null && break; sleep 0.05; done
	check "PUT policy (port 22) → $code; the boot list in the state directory names port 22 (writes there work)" \
		grep -q '^local tcp 22$' "$LLREAL/boot-protect"
	for f in "$LLREAL"/*; do [[ -f $f && $f != *boot-protect* ]] && ln "$f" "$LLOUT/"; done
	ln -sfn "$LLOUT" "$LLDIR"
	code=$(llput 23)
	for ((i = 0; i < 100; i++)); do grep -q 'boot list.*Permission denied' "$E2E_TMP/ll.log" && break; sleep 0.05; done
	check "PUT policy (port 23) → $code, its state directory now leading elsewhere: the boot list write is refused (EACCES)" \
		grep -q "cannot write $LLDIR/boot-protect: Permission denied" "$E2E_TMP/ll.log"
	check "… and nothing was written outside (no boot-protect, no temp file in $LLOUT)" \
		bash -c '! ls "$1" | grep -q boot-protect' _ "$LLOUT"
	check "… though $LLOUT holds its prune_export, opened at start (the file only, not its directory)" \
		test -f "$LLOUT/pruned.jsonl"
	check "… and the main process lives on, answering" test "$(llapi "https://127.0.0.1:8447/healthz")" = 200
	ln -sfn "$LLREAL" "$LLDIR"
else
	check "no Landlock in this kernel ($ll_abi): jitgated says so in one line and runs" \
		bash -c '[[ $(grep -c "Landlock: not available" "$1") == 1 ]] && grep -q listening "$1"' _ "$E2E_TMP/ll.log"
fi
kill -TERM "$LLPID"
wait "$LLPID" 2>/dev/null

# --- (4) a user that does not exist, and a start as non-root
# in the injector's namespace, so that these daemons never touch the VM's table
ip netns exec "$INJ" "$JITGATED" --state-dir "$E2E_TMP/s2" --listen 127.0.0.1:8444 --user no-such-user-jg >"$E2E_TMP/nouser.log" 2>&1
rc=$?
check "--user with a missing user fails (exit $rc) naming --user and useradd" \
	bash -c '(( $1 != 0 )) && grep -q -- "--user" "$2" && grep -q useradd "$2"' _ $rc "$E2E_TMP/nouser.log"
if ! id -u jitgate >/dev/null 2>&1; then
	ip netns exec "$INJ" timeout 5 "$JITGATED" --state-dir "$E2E_TMP/s3" --listen 127.0.0.1:8445 >"$E2E_TMP/nodefault.log" 2>&1
	rc=$?
	check "no user 'jitgate' and no --user: root refuses to start (exit $rc) naming useradd and --single-process" \
		bash -c '(( $1 == 1 )) && grep -q useradd "$2" && grep -q -- "--single-process" "$2"' _ $rc "$E2E_TMP/nodefault.log"
	ip netns exec "$INJ" timeout 2 "$JITGATED" --single-process --state-dir "$E2E_TMP/s3" --listen 127.0.0.1:8445 \
		>"$E2E_TMP/single.log" 2>&1
	check "… and with --single-process runs unsplit, with a loud warning" \
		bash -c 'grep -q "WITHOUT PRIVILEGE SEPARATION" "$1" && grep -q listening "$1"' _ "$E2E_TMP/single.log"
fi
mkdir -m 0700 "$E2E_TMP/s4" && chown "$USR:" "$E2E_TMP/s4"
ip netns exec "$INJ" setpriv --reuid="$USR" --regid="$USR" --clear-groups "$JITGATED" --state-dir "$E2E_TMP/s4" \
	--listen 127.0.0.1:8446 >"$E2E_TMP/nonroot.log" 2>&1 &
E2E_PIDS+=($!)
NR=$!
for ((i = 0; i < 100; i++)); do grep -q listening "$E2E_TMP/nonroot.log" && break; sleep 0.05; done
check "started as $USR it runs (listening)" grep -q listening "$E2E_TMP/nonroot.log"
check "… says once that it runs without privilege separation" \
	test "$(grep -c 'not started as root: running as one process' "$E2E_TMP/nonroot.log")" = 1
check "… as one process (no supervisor, no helper)" bash -c 'kill -0 "$1" && test -z "$2"' _ $NR "$(children $NR | tr -d ' \n')"
e2e_summary

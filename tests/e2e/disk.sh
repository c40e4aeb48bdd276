#!/usr/bin/env bash
# End-to-end: jitgated's state directory fills up, then turns read-only. Writes (policy PUT, initiate) are refused
# with 503 and a JSON error, reads keep working, a refused write leaves nothing behind (no kernel element, the
# policy as it was), a sign-out still ends its session at once, and once the disk has room again writes work
# without a restart (and the sign-out is recorded).
# Linux refuses to remount a file system read-only while a process has files on it open for writing (EBUSY), so
# the read-only case is the one that happens in the field: ext4 (on a loop device) with errors=remount-ro hits an
# error and the kernel turns it read-only under jitgated's feet. That cannot be undone without unmounting, so the
# recovery there is: stop jitgated, fsck, mount, start; the store must come back intact.
# Usage: tests/e2e/disk.sh [BUILD_DIR]   (as root; needs curl, jq, sqlite3, mkfs.ext4, losetup)
set -u
here=$(cd "$(dirname "$0")" && pwd)
BUILD=${1:-$here/../../build}
JITGATED=$BUILD/src/daemon/jitgated
NETPROBE=$BUILD/tests/e2e/netprobe
. "$here/lib.sh"

: "${DISK_MB:=16}"	# the tmpfs under the state directory

[[ $(id -u) == 0 ]] || { echo "disk.sh: needs root"; exit 1; }
for t in curl jq sqlite3; do command -v $t >/dev/null || { echo "disk.sh: needs $t (scripts/deps.sh)"; exit 1; }; done
command -v mkfs.ext4 >/dev/null && command -v losetup >/dev/null || { echo "disk.sh: needs mkfs.ext4 and losetup"; exit 1; }
MNT=$E2E_TMP/disk EXT=$E2E_TMP/ext4
mkdir -p "$MNT" "$EXT"
mount -t tmpfs -o size=${DISK_MB}m,mode=0700 jitgate-e2e-disk "$MNT" || { echo "disk.sh: cannot mount a tmpfs"; exit 1; }
# jitgated first (it holds files there), then the mounts (the loop device goes with its mount), then the temp dir
trap 'e2e_cleanup; for m in "$MNT" "$EXT"; do mountpoint -q "$m" && { umount "$m" 2>/dev/null || umount -l "$m"; }; done
	rm -rf "$E2E_TMP"' EXIT

VM=$(ns_new dvm) && CL=$(ns_new dcl) || exit 1
link_new "$VM" v0 "$CL" c0 || exit 1
V=10.214.0.1 A=10.214.0.2
addr_add "$VM" v0 $V/24
addr_add "$CL" c0 $A/24
for ((i = 0; i < 8; i++)); do addr_add "$CL" c0 10.214.0.$((10 + i))/24; done
listen "$VM" 22 3389 || exit 1

STATE=$MNT/state
TOKEN=$("$JITGATED" token create --state-dir "$STATE" --name admin --role Owner) || exit 1
start_jitgated() {
	ip netns exec "$VM" "$JITGATED" --single-process --state-dir "$STATE" --listen $V:8443 --vm-name vm1 >>"$E2E_TMP/jitgated.log" 2>&1 &
	JG=$!
	E2E_PIDS+=($JG)
}
stop_jitgated() { # SIGTERM, ≤ 5 s
	local i
	kill -TERM $JG 2>/dev/null
	for ((i = 0; i < 50; i++)); do kill -0 $JG 2>/dev/null || break; sleep 0.1; done
	wait $JG 2>/dev/null
}
start_jitgated
S=/subscriptions/00000000-0000-0000-0000-000000000000
P=$S/resourceGroups/default/providers/Microsoft.Security/locations/local/jitNetworkAccessPolicies/default
VMID=$S/resourceGroups/default/providers/Microsoft.Compute/virtualMachines/vm1
Q=api-version=2020-01-01
CODE= BODY=
# call METHOD PATH [BODY]: sets CODE and BODY
call() {
	local args=(-sS --max-time 10 --cacert "$STATE/tls/cert.pem" -H "Authorization: Bearer $TOKEN" -X "$1"
		-o "$E2E_TMP/body" -w '%{http_code}')
	[[ $# -ge 3 ]] && args+=(-H 'Content-Type: application/json' -d "$3")
	CODE=$(ip netns exec "$CL" curl "${args[@]}" "https://$V:8443$2" 2>"$E2E_TMP/curl.err")
	BODY=$(cat "$E2E_TMP/body" 2>/dev/null)
}
wait_healthy() {
	local i
	for ((i = 0; i < 100; i++)); do
		call GET /healthz
		[[ $CODE == 200 ]] && return 0
		sleep 0.05
	done
	return 1
}
wait_healthy
nft_grants() { # the grant elements (key and request id; not the time left), sorted
	ip netns exec "$VM" nft -j list table inet jitgate |
		jq -c '[.nftables[] | select(.set and (.set.name | test("grant"))) | .set.elem[]? | .elem |
			{key: (.val.concat // .val), id: .comment}] | sort_by(.id)'
}
policy_body() { # PORTS_JSON
	echo '{"properties":{"virtualMachines":[{"id":"'$VMID'","ports":'"$1"'}]}}'
}
PORTS1='[{"number":22,"protocol":"TCP","allowedSourceAddressPrefix":"10.214.0.0/24","maxRequestAccessDuration":"PT1H"}]'
PORTS2='[{"number":22,"protocol":"TCP","allowedSourceAddressPrefix":"10.214.0.0/24","maxRequestAccessDuration":"PT1H"},
	{"number":3389,"protocol":"TCP","allowedSourceAddressPrefix":"10.214.0.0/24","maxRequestAccessDuration":"PT1H"}]'
initiate_body() { # SRC
	echo '{"virtualMachines":[{"id":"'$VMID'","ports":[{"number":22,"endTimeUtc":"'$(date -u -d '+10 min' +%FT%TZ)'",
		"allowedSourceAddressPrefix":"'$1'"}]}],"justification":"disk test"}'
}
call PUT "$P?$Q" "$(policy_body "$PORTS1")"
check "set-up: policy PUT ($CODE)" test "$CODE" = 201 -o "$CODE" = 200
call POST "$P/initiate?$Q" "$(initiate_body $A)"
check "set-up: initiate for $A ($CODE)" test "$CODE" = 202
check "set-up: $A reaches 22" can "$CL" $A $V 22
LIVE=$A	# the newest grant (a newer one by the same caller supersedes it)

# refused_cleanly WHAT SRC: with the disk refusing writes, a policy PUT and an initiate are refused with 503 and a
# JSON error, leave the policy and the kernel as they were, and reads still answer.
refused_cleanly() {
	local what=$1 src=$2 before_pol before_nft after_pol after_nft code_put code_init err_put err_init n
	call GET "$P?$Q"
	before_pol=$(jq -c '{etag, vms: .properties.virtualMachines, n: (.properties.requests | length)}' <<<"$BODY")
	before_nft=$(nft_grants)
	call PUT "$P?$Q" "$(policy_body "$PORTS2")"
	code_put=$CODE err_put=$(jq -r '"\(.error.code): \(.error.message)"' <<<"$BODY" 2>/dev/null)
	echo "     PUT policy -> $code_put $err_put"
	check "$what: policy PUT is refused with 503 ($code_put)" test "$code_put" = 503
	check "$what: the refusal is a JSON error naming the store ($err_put)" \
		bash -c '[[ $1 =~ ^(StoreError|StoreUnavailable|StoreFull|StoreReadOnly|InsufficientStorage|ServiceUnavailable)[A-Za-z]*:\ . ]]' _ "$err_put"
	call POST "$P/initiate?$Q" "$(initiate_body "$src")"
	code_init=$CODE err_init=$(jq -r '"\(.error.code): \(.error.message)"' <<<"$BODY" 2>/dev/null)
	echo "     POST initiate -> $code_init $err_init"
	check "$what: initiate is refused with 503 ($code_init)" test "$code_init" = 503
	check "$what: the refusal is a JSON error naming the store ($err_init)" \
		bash -c '[[ $1 =~ ^(StoreError|StoreUnavailable|StoreFull|StoreReadOnly|InsufficientStorage|ServiceUnavailable)[A-Za-z]*:\ . ]]' _ "$err_init"
	# a burst of 8 at once: initiates that arrive together share one commit (group commit); it fails, so each
	# is refused, and nothing of any of them (nor of the supersedes among them) is left in the store or kernel
	local k codes= pids=()
	for ((k = 0; k < 8; k++)); do
		ip netns exec "$CL" curl -sS --max-time 10 --cacert "$STATE/tls/cert.pem" -H "Authorization: Bearer $TOKEN" \
			-H 'Content-Type: application/json' -d "$(initiate_body 10.214.0.$((10 + k)))" -o /dev/null \
			-w '%{http_code}' -X POST "https://$V:8443$P/initiate?$Q" >"$E2E_TMP/burst.$k" 2>/dev/null &
		pids+=($!)
	done
	wait "${pids[@]}"	# each curl gives up after 10 s
	for ((k = 0; k < 8; k++)); do codes+="$(cat "$E2E_TMP/burst.$k" 2>/dev/null) "; done
	check "$what: 8 initiates at once are each refused with 503 ($codes)" test "$codes" = "$(printf '503 %.0s' {1..8})"
	after_nft=$(nft_grants)
	check "$what: the kernel's grants are as before (no element for $src)" test "$after_nft" = "$before_nft"
	check "$what: $src is refused on 22" cannot "$CL" "$src" $V 22
	call GET "$P?$Q"
	check "$what: GET policy answers 200 ($CODE)" test "$CODE" = 200
	after_pol=$(jq -c '{etag, vms: .properties.virtualMachines, n: (.properties.requests | length)}' <<<"$BODY" 2>/dev/null)
	check "$what: the policy is as before (etag, ports, requests)" test "$after_pol" = "$before_pol"
	call GET "$S/providers/Microsoft.Compute/virtualMachines?$Q"
	n=$(jq '.value | length' <<<"$BODY" 2>/dev/null)
	check "$what: GET VM list answers 200 ($CODE, $n VMs)" test "$CODE" = 200 -a "${n:-0}" -ge 1
	call GET "$S/providers/Microsoft.Security/jitActivityLog?$Q&\$top=5"
	check "$what: GET activity log answers 200 ($CODE)" test "$CODE" = 200
	check "$what: the earlier grant still works ($LIVE reaches 22)" can "$CL" $LIVE $V 22
	check "$what: jitgated is still running" kill -0 $JG
}
# works_again WHAT SRC: writes succeed without a restart
works_again() {
	local what=$1 src=$2
	call PUT "$P?$Q" "$(policy_body "$PORTS2")"
	check "$what: policy PUT works again without a restart ($CODE)" test "$CODE" = 200
	call POST "$P/initiate?$Q" "$(initiate_body "$src")"
	check "$what: initiate works again ($CODE)" test "$CODE" = 202
	check "$what: $src reaches 22" can "$CL" "$src" $V 22
	LIVE=$src
	call PUT "$P?$Q" "$(policy_body "$PORTS1")"
	check "$what: and the policy goes back ($CODE)" test "$CODE" = 200
}

echo "  .. (a) the state directory's file system is full"
# a portal session to sign out of on the full disk; the WAL is emptied first, so that the sign-out meets the full disk
ip netns exec "$CL" curl -sS --max-time 10 --cacert "$STATE/tls/cert.pem" -H 'Content-Type: application/json' \
	-d "{\"token\":\"$TOKEN\"}" -D "$E2E_TMP/signin.hdr" -o "$E2E_TMP/signin.json" "https://$V:8443/session"
SID=$(grep -io '^set-cookie: jg_session=[0-9a-f]*' "$E2E_TMP/signin.hdr" | sed 's/.*=//')
SCSRF=$(jq -r .csrfToken "$E2E_TMP/signin.json")
sqlite3 "$STATE/jitgate.db" "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null
dd if=/dev/zero of="$MNT/filler" bs=64k status=none 2>/dev/null	# stops at ENOSPC: bounded by the tmpfs size
echo "     $(df -k --output=used,avail "$MNT" | tail -1 | awk '{print "used " $1 " KiB, available " $2 " KiB"}')"
session() { # METHOD [CURL ARGS...]: /session with the cookie; sets CODE and BODY
	local m=$1; shift
	CODE=$(ip netns exec "$CL" curl -sS --max-time 10 --cacert "$STATE/tls/cert.pem" -H "Cookie: jg_session=$SID" \
		-X "$m" -o "$E2E_TMP/body" -D "$E2E_TMP/hdr" -w '%{http_code}' "$@" "https://$V:8443/session" 2>/dev/null)
	BODY=$(cat "$E2E_TMP/body" 2>/dev/null)
}
session DELETE -H "X-CSRF-Token: $SCSRF"
check "disk full: a sign-out the store cannot record is 503 StoreError with Retry-After ($CODE $(jq -r .error.code <<<"$BODY"))" \
	bash -c '[[ $1 == 503 && $(jq -r .error.code <<<"$2") == StoreError ]] && grep -qi "^retry-after:" "$3"' _ "$CODE" "$BODY" "$E2E_TMP/hdr"
session GET
check "disk full: the session is refused at once all the same: 401 ($CODE)" test "$CODE" = 401
refused_cleanly "disk full" 10.214.0.10
rm -f "$MNT/filler"
works_again "room again" 10.214.0.11
eventually_within "room again: the sign-out is recorded within 3 s (jitgated's log says so)" 3 \
	grep -q "recorded 1 sign-out(s) the store had refused" "$E2E_TMP/jitgated.log"
check "room again: the session's row is gone from the store" \
	test "$(sqlite3 -readonly "file:$STATE/jitgate.db?mode=ro" "SELECT count(*) FROM sessions")" = 0

echo "  .. (b) the state directory's file system turns read-only"
if mount -o remount,ro "$MNT" 2>/dev/null; then
	echo "     note: the tmpfs went read-only although jitgated has its database open"
	mount -o remount,rw "$MNT"
else
	echo "     note: 'mount -o remount,ro' is refused while jitgated has its database open for writing (EBUSY)"
fi
stop_jitgated
truncate -s 32M "$E2E_TMP/ext4.img" && mkfs.ext4 -q -F "$E2E_TMP/ext4.img" &&
	mount -o loop,errors=remount-ro "$E2E_TMP/ext4.img" "$EXT" && cp -a "$STATE" "$EXT/state" && sync -f "$EXT/state" ||
	{ notok "set-up: ext4 on a loop device"; e2e_summary; exit 1; }
STATE=$EXT/state
start_jitgated
check "set-up: jitgated starts on ext4" wait_healthy
check "set-up: the grant is still there ($LIVE reaches 22)" can "$CL" $LIVE $V 22
dev=$(basename "$(findmnt -no SOURCE "$EXT")")
echo 1 >"/sys/fs/ext4/$dev/trigger_fs_error" 2>/dev/null || notok "trigger an ext4 error on $dev"
sleep 0.2
check "the ext4 file system is read-only now ($(findmnt -no OPTIONS "$EXT" | tr , '\n' | grep -E '^(ro|emergency_ro)$' | xargs))" \
	bash -c '! touch "$1/probe" 2>/dev/null' _ "$EXT"
refused_cleanly "read-only" 10.214.0.12
# recovery: stop, unmount, fsck, mount, start
stop_jitgated
umount "$EXT" || notok "unmount the read-only ext4"
# the dying jitgated's mount namespace may hold the superblock a moment longer (seconds on a loaded machine): wait
# (≤ 20 s) until the loop device is gone, or the next mount would get the same read-only superblock back
for ((i = 0; i < 200; i++)); do [[ -z $(losetup -j "$E2E_TMP/ext4.img") ]] && break; sleep 0.1; done
[[ -z $(losetup -j "$E2E_TMP/ext4.img") ]] || echo "     note: the loop device is still attached after 20 s: $(losetup -j "$E2E_TMP/ext4.img")"
e2fsck -fy "$E2E_TMP/ext4.img" >/dev/null 2>&1
mount -o loop,errors=remount-ro "$E2E_TMP/ext4.img" "$EXT" && touch "$EXT/probe" ||
	notok "remount the repaired ext4"
integrity=$(sqlite3 -readonly "file:$STATE/jitgate.db?mode=ro" 'PRAGMA integrity_check' 2>&1)
check "the store survived the read-only time (integrity_check: $integrity)" test "$integrity" = ok
start_jitgated
check "jitgated starts again on the repaired file system" wait_healthy
works_again "writable again (after a restart)" 10.214.0.13

echo "     jitgated's own log on the way: $(grep -ciE 'full|read-only|readonly|disk' "$E2E_TMP/jitgated.log") lines about the disk"
check "jitgated ran throughout" kill -0 $JG
e2e_summary

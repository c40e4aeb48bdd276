#!/usr/bin/env bash
# End-to-end fault test: 8 clients send 2,000 initiates while jitgated is killed with SIGKILL at random moments and
# restarted at once. Afterwards every 202 is in the store, live ones are in the kernel with the right remaining time,
# the kernel holds nothing the store does not, real connections are refused one second after their grant's end,
# and the database passes its integrity check.
# Usage: tests/e2e/crash.sh [BUILD_DIR]   (as root; needs curl, jq, sqlite3)
set -u
here=$(cd "$(dirname "$0")" && pwd)
BUILD=${1:-$here/../../build}
JITGATED=$BUILD/src/daemon/jitgated
NETPROBE=$BUILD/tests/e2e/netprobe
LOADGEN=$BUILD/tests/e2e/loadgen
. "$here/lib.sh"

: "${CRASH_REQUESTS:=2000}"	# initiates in total
: "${CRASH_CLIENTS:=8}"		# concurrent clients, one token each
: "${CRASH_RESTARTS_MAX:=60}"	# SIGKILL + restart cycles at most
: "${CRASH_REAL:=5}"		# grants checked with real connections at their end
: "${CRASH_JITGATED_ARGS:=--single-process}"	# flags for jitgated, e.g. "--user nobody" for privilege separation
: "${CRASH_RATE:=80}"		# initiates per second in all (paced, so that the load spans many kills: 2,000 in ~25 s)
PORT0=20000 NPORTS=32		# the policy's ports; request k asks for PORT0 + k % NPORTS

[[ $(id -u) == 0 ]] || { echo "crash.sh: needs root"; exit 1; }
for t in curl jq sqlite3; do command -v $t >/dev/null || { echo "crash.sh: needs $t (scripts/deps.sh)"; exit 1; }; done
[[ -x $LOADGEN ]] || { echo "crash.sh: no $LOADGEN (build first)"; exit 1; }
VM=$(ns_new cvm) && CL=$(ns_new ccl) || exit 1
link_new "$VM" v0 "$CL" c0 || exit 1
V=10.213.0.1
addr_add "$VM" v0 $V/24
addr_add "$CL" c0 10.213.0.2/24
ip -n "$VM" route add 10.64.0.0/10 dev v0	# the grants' sources live in the client namespace (a few really)
for ((p = PORT0; p < PORT0 + NPORTS; p += 16)); do	# netprobe listens on 16 ports at most
	listen "$VM" $(seq $p $((p + 15))) || exit 1
done

STATE=$E2E_TMP/state
[[ $CRASH_JITGATED_ARGS == *--user* ]] && chmod 711 "$E2E_TMP"	# the unprivileged half must reach its state
TOKEN=$("$JITGATED" token create --state-dir "$STATE" --name admin --role Owner) || exit 1
for ((i = 0; i < CRASH_CLIENTS; i++)); do
	"$JITGATED" token create --state-dir "$STATE" --name "client$i" --role JitRequester || exit 1
done >"$E2E_TMP/tokens"
chmod 600 "$E2E_TMP/tokens"
JG=
start_jitgated() {
	ip netns exec "$VM" "$JITGATED" --state-dir "$STATE" --listen $V:8443 --vm-name vm1 ${CRASH_JITGATED_ARGS:-} \
		>>"$E2E_TMP/jitgated.log" 2>&1 &
	JG=$!
	E2E_PIDS+=($JG)
}
S=/subscriptions/00000000-0000-0000-0000-000000000000
P=$S/resourceGroups/default/providers/Microsoft.Security/locations/local/jitNetworkAccessPolicies/default
VMID=$S/resourceGroups/default/providers/Microsoft.Compute/virtualMachines/vm1
Q=api-version=2020-01-01
api() { ip netns exec "$CL" curl -sS --max-time 10 --cacert "$STATE/tls/cert.pem" -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' "$@"; }
wait_healthy() { # ≤ 10 s
	local i
	for ((i = 0; i < 200; i++)); do
		[[ $(api -o /dev/null -w '%{http_code}' https://$V:8443/healthz 2>/dev/null) == 200 ]] && return 0
		sleep 0.05
	done
	return 1
}
start_jitgated
wait_healthy || { echo "crash.sh: jitgated did not start: $(tail -5 "$E2E_TMP/jitgated.log")"; exit 1; }
ports=$(seq $PORT0 $((PORT0 + NPORTS - 1)) | jq -cs 'map({number: ., protocol: "TCP",
	allowedSourceAddressPrefix: "10.64.0.0/10", maxRequestAccessDuration: "PT1H"})')
code=$(api -o /dev/null -w '%{http_code}' -X PUT "https://$V:8443$P?$Q" \
	-d '{"properties":{"virtualMachines":[{"id":"'$VMID'","ports":'"$ports"'}]}}')
check "set-up: policy with $NPORTS ports for sources in 10.64.0.0/10 (PUT $code)" test "$code" = 200 -o "$code" = 201

# --- the load, and the killer ---
echo "  .. $CRASH_REQUESTS initiates from $CRASH_CLIENTS clients at $CRASH_RATE/s; SIGKILL every 0.3-2.3 s (at most $CRASH_RESTARTS_MAX times)"
ip netns exec "$CL" env LOADGEN_RATE=$CRASH_RATE "$LOADGEN" "https://$V:8443$P/initiate?$Q" "$STATE/tls/cert.pem" "$E2E_TMP/tokens" \
	"$CRASH_REQUESTS" "$CRASH_CLIENTS" "$VMID" $PORT0 $NPORTS 3 40 >"$E2E_TMP/load.jsonl" 2>"$E2E_TMP/load.err" &
LG=$!
E2E_PIDS+=($LG)
t_load=$(now_ms)
restarts=0 down_ms=0
while kill -0 $LG 2>/dev/null && (( restarts < CRASH_RESTARTS_MAX )); do
	sleep "$(printf '%d.%03d' $((RANDOM % 2)) $((RANDOM % 1000)))"	# 0-2 s, and ~0.3 s to restart: every 0.3-2.3 s
	kill -0 $LG 2>/dev/null || break
	kill -KILL $JG 2>/dev/null
	wait $JG 2>/dev/null
	t=$(now_ms)
	start_jitgated
	restarts=$((restarts + 1))
	wait_healthy || { notok "jitgated came back after SIGKILL #$restarts"; tail -3 "$E2E_TMP/jitgated.log" | sed 's/^/     /'; break; }
	down_ms=$((down_ms + $(now_ms) - t))
done
for ((i = 0; i < 600; i++)); do kill -0 $LG 2>/dev/null || break; sleep 0.1; done	# ≤ 60 s more
if kill -0 $LG 2>/dev/null; then notok "the clients finished (still running 60 s after the last restart)"; kill $LG; fi
wait $LG 2>/dev/null
load_s=$(( ($(now_ms) - t_load) / 1000 ))
kill -0 $JG 2>/dev/null || start_jitgated
wait_healthy || { notok "jitgated runs after the test"; e2e_summary; exit 1; }
sleep 1	# settled: the start-up reconcile and expiry are done

jq -cs '.' "$E2E_TMP/load.jsonl" >"$E2E_TMP/load.json" 2>/dev/null || echo '[]' >"$E2E_TMP/load.json"
read -r n_lines n_202 n_none n_other no_answer busy < <(jq -r '[length, (map(select(.code == 202)) | length),
	(map(select(.code == 0)) | length), (map(select(.code != 202 and .code != 0)) | length),
	(map(.no_answer) | add // 0), (map(.busy) | add // 0)] | @tsv' "$E2E_TMP/load.json")
echo "  .. ${load_s} s: $restarts restarts (down $(( restarts ? down_ms / restarts : 0 )) ms each on average)," \
	"$n_202 answered 202, $n_other other answers, $n_none never answered; $no_answer tries found it down, $busy got 503"
jq -r 'map(select(.code != 202 and .code != 0)) | group_by(.code)[] | "     answer \(.[0].code) x\(length): \(.[0].body.error.code // "-") \(.[0].body.error.message // "" | .[0:120])"' \
	"$E2E_TMP/load.json"
check "every request got an answer ($n_lines lines, $n_none without an answer)" \
	test "$n_lines" = "$CRASH_REQUESTS" -a "$n_none" = 0
check "every answer was 202 ($n_other were not)" test "$n_other" = 0
check "jitgated was killed and restarted at least 10 times ($restarts)" test "$restarts" -ge 10

# --- the invariants ---
now_s=$(date +%s)
api "https://$V:8443$P?$Q" >"$E2E_TMP/policy.json"
ip netns exec "$VM" nft -j list table inet jitgate >"$E2E_TMP/nft.json"
# the store itself, read-only (a policy's GET shows only its newest requests): each request has one port
sqlite3 -readonly "file:$STATE/jitgate.db?mode=ro" "SELECT json_group_array(json_object('id', r.id,
	'start', strftime('%Y-%m-%dT%H:%M:%fZ', r.start_ns / 1e9, 'unixepoch'),
	'end', strftime('%Y-%m-%dT%H:%M:%SZ', g.end_ns / 1000000000, 'unixepoch'),
	'status', CASE g.status WHEN 0 THEN 'Initiated' ELSE 'Revoked' END, 'reason', g.reason,
	'src', g.source, 'port', g.port)) FROM requests r JOIN grants g ON g.request_id = r.id" \
	>"$E2E_TMP/store.json"
jq -c '[.nftables[] | select(.set and (.set.name | test("grant"))) | .set.elem[]? | .elem |
	{id: .comment, expires, key: (.val.concat // .val)}]' "$E2E_TMP/nft.json" >"$E2E_TMP/kernel.json"
# (the API writes 7 fraction digits, as Azure; the store's end above and jq's fromdateiso8601 take whole seconds)
jq -c '[.[] | select(.code == 202) | {id: .body.id, end: (.body.virtualMachines[0].ports[0].endTimeUtc | sub("[.][0-9]+Z$"; "Z")), src, port}]' \
	"$E2E_TMP/load.json" >"$E2E_TMP/ok.json"
n_store=$(jq length "$E2E_TMP/store.json")
n_kernel=$(jq length "$E2E_TMP/kernel.json")
live=$(jq --argjson now "$now_s" '[.[] | select(.status == "Initiated" and (.end | fromdateiso8601) > $now + 2)] | length' \
	"$E2E_TMP/store.json")
echo "  .. store: $n_store requests, $live Initiated and ending later than 2 s from now; kernel: $n_kernel grant elements"

# every 202 is in the store, with the end time it was given
missing=$(jq -r --slurpfile st "$E2E_TMP/store.json" '($st[0] | map({(.id): .}) | add // {}) as $m |
	[.[] | select($m[.id] == null or $m[.id].end != .end) | .id] | "\(length) \(.[0:5] | join(" "))"' "$E2E_TMP/ok.json")
check "every request answered 202 is in the store with its end time ($n_202 checked; missing: ${missing% *})" \
	test "${missing%% *}" = 0
# every live 202 grant is in the kernel, with end − now ± 2 s left
bad=$(jq -r --slurpfile st "$E2E_TMP/store.json" --slurpfile k "$E2E_TMP/kernel.json" --argjson now "$now_s" '
	($st[0] | map({(.id): .}) | add // {}) as $m | ($k[0] | map({(.id): .}) | add // {}) as $km |
	[.[] | select($m[.id].status == "Initiated" and (.end | fromdateiso8601) > $now + 2) |
	 . as $g | ($km[.id]) as $e | select($e == null or ((($g.end | fromdateiso8601) - $now) - $e.expires | fabs) > 2) |
	 "\(.id)=\(if $e == null then "absent" else "\($e.expires)s, want \(($g.end | fromdateiso8601) - $now)s" end)"] |
	"\(length) \(.[0:3] | join(" "))"' "$E2E_TMP/ok.json")
n_live_ok=$(jq --slurpfile st "$E2E_TMP/store.json" --argjson now "$now_s" '($st[0] | map({(.id): .}) | add // {}) as $m |
	[.[] | select($m[.id].status == "Initiated" and (.end | fromdateiso8601) > $now + 2)] | length' "$E2E_TMP/ok.json")
check "every live 202 grant is in the kernel with end - now ±2 s left ($n_live_ok checked; wrong: ${bad#* })" \
	test "${bad%% *}" = 0
# the kernel holds nothing the store does not
stray=$(jq -r --slurpfile st "$E2E_TMP/store.json" '($st[0] | map({(.id): .}) | add // {}) as $m |
	[.[] | select($m[.id].status != "Initiated") | "\(.id)=\($m[.id].status // "no row")"] | "\(length) \(.[0:3] | join(" "))"' \
	"$E2E_TMP/kernel.json")
check "every kernel element's request id is in the store and Initiated ($n_kernel elements; stray: ${stray#* })" \
	test "${stray%% *}" = 0
# also the requests whose 202 was lost to a kill (the client retried): every live store grant is in the kernel
absent=$(jq -r --slurpfile k "$E2E_TMP/kernel.json" --argjson now "$now_s" '($k[0] | map({(.id): .}) | add // {}) as $km |
	[.[] | select(.status == "Initiated" and (.end | fromdateiso8601) > $now + 2 and $km[.id] == null) | .id] |
	"\(length) \(.[0:3] | join(" "))"' "$E2E_TMP/store.json")
check "every live grant of the store is in the kernel ($live; absent: ${absent#* })" test "${absent%% *}" = 0
# ended grants are not Initiated any more
overdue=$(jq --argjson now "$now_s" '[.[] | select(.status == "Initiated" and (.end | fromdateiso8601) < $now - 2)] | length' \
	"$E2E_TMP/store.json")
check "no grant is still Initiated 2 s after its end ($overdue are)" test "$overdue" = 0
integrity=$(sqlite3 -readonly "file:$STATE/jitgate.db?mode=ro" 'PRAGMA integrity_check' 2>&1)
check "PRAGMA integrity_check = ok ($integrity)" test "$integrity" = ok
n_db=$(sqlite3 -readonly "file:$STATE/jitgate.db?mode=ro" 'SELECT count(*) FROM requests' 2>&1)
# every live request (as the GET saw it), and the newest 200 of the ended ones (issue 11)
n_api_live=$(jq '[.properties.requests[] | select(any(.virtualMachines[].ports[]; .status == "Initiated"))] | length' \
	"$E2E_TMP/policy.json")
n_api_ended=$(jq '[.properties.requests[] | select(all(.virtualMachines[].ports[]; .status != "Initiated"))] | length' \
	"$E2E_TMP/policy.json")
want_ended=$(( n_db - n_api_live < 200 ? n_db - n_api_live : 200 ))
check "the policy's GET shows every live request and the newest ended ones, at most 200 ($n_api_live live, $n_api_ended ended of $n_db in the store)" \
	test "$n_api_ended" = "$want_ended"
# a request still live in the store (read after the GET) was live at the GET: it is listed
unlisted=$(jq -n --slurpfile p "$E2E_TMP/policy.json" --slurpfile s "$E2E_TMP/store.json" \
	'($p[0].properties.requests | map({key: .id, value: 1}) | from_entries) as $shown |
	 [$s[0][] | select(.status == "Initiated" and $shown[.id] == null)] | length')
check "every request live in the store is in the policy's GET ($unlisted are not)" test "$unlisted" = 0
fk=$(sqlite3 -readonly "file:$STATE/jitgate.db?mode=ro" 'PRAGMA foreign_key_check' 2>&1 | wc -l)
check "PRAGMA foreign_key_check finds nothing ($fk rows)" test "$fk" = 0

# --- real connections: a few live grants (ends 4 s apart), from their own source addresses, before and after their end ---
now_s=$(date +%s)
mapfile -t real < <(jq -r --slurpfile st "$E2E_TMP/store.json" --argjson now "$now_s" --argjson n "$CRASH_REAL" '
	($st[0] | map({(.id): .}) | add // {}) as $m |
	[.[] | select($m[.id].status == "Initiated" and (.end | fromdateiso8601) > $now + 5)] | sort_by(.end) |
	reduce .[] as $g ([]; if length < $n and (length == 0 or ($g.end | fromdateiso8601) >= (.[-1].end | fromdateiso8601) + 4)
		then . + [$g] else . end) | .[] |
	"\(.end | fromdateiso8601) \(.src) \(.port) \(.id)"' "$E2E_TMP/ok.json")
for g in "${real[@]}"; do
	read -r end src port id <<<"$g"
	addr_add "$CL" c0 "$src/32"
done
check "real connections: $CRASH_REAL live grants to try (${#real[@]})" test "${#real[@]}" -ge 3
for g in "${real[@]}"; do
	read -r end src port id <<<"$g"
	sleep_until $(( end * 1000 - 2000 ))
	check "$src reaches port $port 2 s before its end (request ${id:0:8})" can "$CL" "$src" $V "$port"
	sleep_until $(( end * 1000 + 1000 ))
	check "$src is refused on port $port 1 s after its end" cannot "$CL" "$src" $V "$port"
done
refuse "jitgated logged no store corruption" grep -qiE "malformed|corrupt" "$E2E_TMP/jitgated.log"
e2e_summary

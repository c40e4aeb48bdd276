#!/usr/bin/env bash
# End-to-end load and hostile clients: wrk at 64 connections on GET of the policy and on initiate, with no errors,
# flat resident memory and no fd growth; the per-address limit on failed authentication; then slow-header,
# slow-body, idle and oversized-header clients while another client's GET /healthz must answer within 100 ms.
# Usage: tests/e2e/load.sh [BUILD_DIR]   (as root; needs curl, jq, wrk)
# LOAD_SECONDS (default 20) is each wrk run's length; the full run of the issue is LOAD_SECONDS=60.
set -u
here=$(cd "$(dirname "$0")" && pwd)
BUILD=${1:-$here/../../build}
JITGATED=$BUILD/src/daemon/jitgated
NETPROBE=$BUILD/tests/e2e/netprobe
HOSTILE=$BUILD/tests/e2e/hostile
. "$here/lib.sh"

: "${LOAD_SECONDS:=20}"		# per wrk run
: "${LOAD_CONNS:=64}"		# wrk connections
: "${PROBE_SAMPLES:=10}"	# /healthz samples per attack
PROBE_MAX_MS=100
SLOW_SECONDS=8			# slow clients trickle this long while the probe measures

[[ $(id -u) == 0 ]] || { echo "load.sh: needs root"; exit 1; }
for t in curl jq wrk; do command -v $t >/dev/null || { echo "load.sh: needs $t (scripts/deps.sh)"; exit 1; }; done
[[ -x $HOSTILE ]] || { echo "load.sh: no $HOSTILE (build first)"; exit 1; }
(( LOAD_SECONDS < 60 )) && echo "  note: wrk runs ${LOAD_SECONDS} s each (LOAD_SECONDS); the issue's full run is LOAD_SECONDS=60"
VM=$(ns_new lvm) && CL=$(ns_new lcl) || exit 1
link_new "$VM" v0 "$CL" c0 || exit 1
V=10.216.0.1
W=10.216.0.2		# wrk and the hostile clients
PR=10.216.0.3		# the probe
C1=10.216.0.4 C2=10.216.0.5	# the rate-limit callers
addr_add "$VM" v0 $V/24
for a in $W $PR $C1 $C2; do addr_add "$CL" c0 $a/24; done
ip -n "$VM" route add 10.128.0.0/9 dev v0
(( $(ulimit -n) >= 4096 )) || ulimit -n 4096 2>/dev/null || ulimit -n "$(ulimit -Hn)"	# 1,000 idle connections need fds

STATE=$E2E_TMP/state
TOKEN=$("$JITGATED" token create --state-dir "$STATE" --name admin --role Owner) || exit 1
RTOKEN=$("$JITGATED" token create --state-dir "$STATE" --name requester --role JitRequester) || exit 1
ip netns exec "$VM" "$JITGATED" --single-process --state-dir "$STATE" --listen $V:8443 --vm-name vm1 >"$E2E_TMP/jitgated.log" 2>&1 &
JG=$!
E2E_PIDS+=($JG)
S=/subscriptions/00000000-0000-0000-0000-000000000000
P=$S/resourceGroups/default/providers/Microsoft.Security/locations/local/jitNetworkAccessPolicies/default
VMID=$S/resourceGroups/default/providers/Microsoft.Compute/virtualMachines/vm1
Q=api-version=2020-01-01
api() { ip netns exec "$CL" curl -sS --max-time 10 --cacert "$STATE/tls/cert.pem" -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' "$@"; }
for ((i = 0; i < 100; i++)); do
	[[ $(api -o /dev/null -w '%{http_code}' https://$V:8443/healthz 2>/dev/null) == 200 ]] && break
	sleep 0.05
done
code=$(api -o /dev/null -w '%{http_code}' -X PUT "https://$V:8443$P?$Q" -d '{"properties":{"virtualMachines":[{"id":"'$VMID'",
	"ports":[{"number":22,"protocol":"TCP","allowedSourceAddressPrefix":"10.128.0.0/9","maxRequestAccessDuration":"PT1H"}]}]}}')
check "set-up: policy for GET ($code)" test "$code" = 200 -o "$code" = 201
# initiates go to a second policy (a gateway VM's): GET of a policy renders all its requests of the last 7 days,
# so the GET run measures a policy whose size does not change under it
P2=$S/resourceGroups/default/providers/Microsoft.Security/locations/local/jitNetworkAccessPolicies/load
VM2=$S/resourceGroups/default/providers/Microsoft.Compute/virtualMachines/vm2
code=$(api -o /dev/null -w '%{http_code}' -X PUT "https://$V:8443$VM2?$Q" \
	-d '{"location":"local","properties":{"osType":"Linux","enforcement":"gateway","addresses":["10.216.1.1"]}}')
code2=$(api -o /dev/null -w '%{http_code}' -X PUT "https://$V:8443$P2?$Q" -d '{"properties":{"virtualMachines":[{"id":"'$VM2'",
	"ports":[{"number":22,"protocol":"TCP","allowedSourceAddressPrefix":"10.128.0.0/9","maxRequestAccessDuration":"PT1H"}]}]}}')
check "set-up: a gateway VM and a policy for initiate ($code, $code2)" test "$code2" = 200 -o "$code2" = 201

rss_kb() { awk '/^VmRSS:/ {print $2}' /proc/$JG/status 2>/dev/null; }
fds() { ls /proc/$JG/fd 2>/dev/null | wc -l; }
# wrk's initiate: a POST with a body and the requester's token; a distinct source per request (counter per thread)
cat >"$E2E_TMP/initiate.lua" <<'EOF'
local n, id = 0, 0
local tid = 0
function setup(thread) thread:set("tid", tid); tid = tid + 1 end
function init(args) id = tid or 0 end
request = function()
	n = n + 1
	local src = string.format("10.%d.%d.%d", 128 + id, math.floor(n / 256) % 256, n % 256)
	local body = string.format('{"virtualMachines":[{"id":"%s","ports":[{"number":22,"endTimeUtc":"%s",' ..
		'"allowedSourceAddressPrefix":"%s"}]}],"justification":"load"}', os.getenv("VM2"),
		os.date("!%Y-%m-%dT%H:%M:%SZ", os.time() + 600), src)
	return wrk.format("POST", nil, { ["Authorization"] = "Bearer " .. os.getenv("RTOKEN"),
		["Content-Type"] = "application/json" }, body)
end
EOF
# wrk_run NAME SECONDS [wrk args...] URL: runs wrk from $W, leaves its output in $E2E_TMP/wrk.NAME
wrk_run() {
	local name=$1 secs=$2; shift 2
	ip netns exec "$CL" env VM2="$VM2" RTOKEN="$RTOKEN" timeout $((secs + 30)) \
		wrk -t2 -c"$LOAD_CONNS" -d"${secs}s" --timeout 5s --latency "$@" >"$E2E_TMP/wrk.$name" 2>&1
}
wrk_field() { # NAME: "requests/s non2xx socket_errors p99"
	awk '/^Requests\/sec:/ {rps = $2} /Non-2xx or 3xx responses:/ {n = $NF}
		/Socket errors:/ {gsub(",", ""); s = $4 + $6 + $8 + $10} /^ +99%/ {p99 = $2}
		END {printf "%s %d %d %s\n", rps ? rps : 0, n, s, p99 ? p99 : "-"}' "$E2E_TMP/wrk.$1"
}
GET_URL="https://$V:8443$P?$Q"
INIT_URL="https://$V:8443$P2/initiate?$Q"

# --- load ---
fd0=$(fds)
wrk_run warm-get 3 -H "Authorization: Bearer $TOKEN" "$GET_URL"
wrk_run warm-post 3 -s "$E2E_TMP/initiate.lua" "$INIT_URL"
rss0=$(rss_kb)
echo "  .. after warm-up: VmRSS ${rss0} KiB, $fd0 fds at start"
( for ((i = 0; i < LOAD_SECONDS + 2; i++)); do rss_kb; sleep 2; done >"$E2E_TMP/rss" ) &
E2E_PIDS+=($!)
sampler=$!
wrk_run get "$LOAD_SECONDS" -H "Authorization: Bearer $TOKEN" "$GET_URL"
wrk_run post "$LOAD_SECONDS" -s "$E2E_TMP/initiate.lua" "$INIT_URL"
kill $sampler 2>/dev/null; wait $sampler 2>/dev/null
rss1=$(rss_kb)
read -r rps non2xx sock p99 <<<"$(wrk_field get)"
echo "  .. GET policy: $rps req/s, p99 $p99, non-2xx $non2xx, socket errors $sock"
check "GET policy under load: no non-2xx answers ($non2xx)" test "$non2xx" = 0
check "GET policy under load: no socket errors ($sock)" test "$sock" = 0
check "GET policy under load: requests were served ($rps/s)" bash -c '[[ ${1%%.*} -gt 0 ]]' _ "$rps"
read -r rps non2xx sock p99 <<<"$(wrk_field post)"
echo "  .. initiate: $rps req/s, p99 $p99, non-2xx $non2xx, socket errors $sock"
check "initiate under load: every answer 202 (non-2xx: $non2xx)" test "$non2xx" = 0
check "initiate under load: no socket errors ($sock)" test "$sock" = 0
check "initiate under load: requests were served ($rps/s)" bash -c '[[ ${1%%.*} -gt 0 ]]' _ "$rps"
echo "  .. VmRSS every 2 s (KiB): $(tr '\n' ' ' <"$E2E_TMP/rss")-> $rss1 at the end"
# SQLite's page cache may still be filling after a short warm-up: it is bounded (2 MiB by default), so it is
# allowed for on top of the 10%; a leak grows past any bound with the run's length.
check "resident memory is flat: last $rss1 KiB within +10% (+ the store's 2 MiB page cache) of $rss0 KiB after warm-up" \
	bash -c '(( $1 * 100 <= $2 * 110 + 2048 * 100 ))' _ "$rss1" "$rss0"
for ((i = 0; i < 50; i++)); do (( $(fds) <= fd0 )) && break; sleep 0.1; done	# wrk's connections close
fd1=$(fds)
check "no fd growth ($fd0 before the load, $fd1 after)" test "$fd1" -le "$fd0"
n_req=$(api "https://$V:8443$P2?$Q" -o "$E2E_TMP/p2.json" -w '%{time_total} %{size_download}')
echo "  .. the initiate policy now holds $(jq '.properties.requests | length' "$E2E_TMP/p2.json") requests;" \
	"one GET of it took ${n_req% *} s for ${n_req#* } bytes"
check "GET of a policy holding the load's requests answers within 1 s (${n_req% *} s)" \
	bash -c '(( $(awk -v t="$1" "BEGIN {print int(t * 1000)}") <= 1000 ))' _ "${n_req% *}"

# --- failed authentication is limited per address ---
bad() { # SRC: the status of a GET with a wrong token from SRC
	ip netns exec "$CL" curl -sS --max-time 5 --cacert "$STATE/tls/cert.pem" --interface "$1" -o "$E2E_TMP/rl.body" \
		-D "$E2E_TMP/rl.head" -w '%{http_code}' -H "Authorization: Bearer jg_not-a-valid-token-$RANDOM" "$GET_URL"
}
codes=()
for ((i = 1; i <= 11; i++)); do codes+=("$(bad $C1)"); done
echo "  .. 11 bad tokens from $C1: ${codes[*]}"
check "the first 10 bad tokens from one address get 401" test "${codes[*]:0:10}" = "$(printf '401 %.0s' {1..10} | xargs)"
check "the 11th gets 429 ($(jq -r .error.code "$E2E_TMP/rl.body" 2>/dev/null))" \
	test "${codes[10]}/$(jq -r .error.code "$E2E_TMP/rl.body" 2>/dev/null)" = 429/TooManyRequests
ra=$(awk 'tolower($1) == "retry-after:" {print $2 + 0}' "$E2E_TMP/rl.head")
check "with Retry-After until the window passes (${ra:-none} s)" bash -c '(( ${1:-0} >= 1 && ${1:-0} <= 60 ))' _ "$ra"
good=$(ip netns exec "$CL" curl -sS --max-time 5 --cacert "$STATE/tls/cert.pem" --interface $C1 -o /dev/null -w '%{http_code}' \
	-H "Authorization: Bearer $TOKEN" "$GET_URL")
check "a valid token from the same address still passes (the limit counts failures; $good)" test "$good" = 200
check "another address is not affected ($(bad $C2))" test "$(bad $C2)" = 401
n=$(api "https://$V:8443$S/providers/Microsoft.Security/jitActivityLog?$Q" |
	jq '[.value[] | select(.operation == "Authenticate" and .status == "Throttled")] | length')
bad $C1 >/dev/null
n2=$(api "https://$V:8443$S/providers/Microsoft.Security/jitActivityLog?$Q" |
	jq '[.value[] | select(.operation == "Authenticate" and .status == "Throttled")] | length')
check "the throttling is logged once per window ($n, then $n2 after another refusal)" test "$n/$n2" = 1/1

# --- hostile clients, while a probe measures /healthz ---
# probe NAME: PROBE_SAMPLES GETs of /healthz from $PR, 0.3 s apart; passes when every one answers 200 within 100 ms
probe() {
	local name=$1 i t code times=() bad=0 p50 max
	for ((i = 0; i < PROBE_SAMPLES; i++)); do
		read -r code t < <(ip netns exec "$CL" curl -s --max-time 2 --cacert "$STATE/tls/cert.pem" --interface $PR \
			-o /dev/null -w '%{http_code} %{time_total}\n' "https://$V:8443/healthz")
		t=$(awk -v t="${t:-2}" 'BEGIN {printf "%d", t * 1000}')
		[[ $code == 200 ]] || t=9999
		times+=("$t")
		(( t > PROBE_MAX_MS )) && bad=$((bad + 1))
		sleep 0.3
	done
	p50=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}')
	max=$(printf '%s\n' "${times[@]}" | sort -n | tail -1)
	check "$name: /healthz answers within ${PROBE_MAX_MS} ms (p50 $p50 ms, max $max ms; ms: ${times[*]})" test "$bad" = 0
}
# attack MODE COUNT SECONDS: hostile clients from $W in the background; their summary goes to $E2E_TMP/hostile.MODE
attack() {
	ip netns exec "$CL" "$HOSTILE" "$1" $V 8443 "$2" "$3" >"$E2E_TMP/hostile.$1" 2>"$E2E_TMP/hostile.$1.err" &
	ATTACKER=$!
	E2E_PIDS+=($ATTACKER)
}
field() { sed -n "s/.*\b$2=\([^ ]*\).*/\1/p" "$E2E_TMP/hostile.$1"; }
probe "no attack"

attack slowheader 50 $SLOW_SECONDS
sleep 2
probe "50 slow-header clients"
wait $ATTACKER
echo "     $(cat "$E2E_TMP/hostile.slowheader")"
# A trickling client is not idle, so libmicrohttpd's idle timeout does not end it; what bounds such
# clients is the per-source connection limit (API_CONN_PER_SOURCE_MAX), and the probe above shows the
# others are still served. So this reports what happened rather than asserting an end.

attack slowbody 50 $SLOW_SECONDS
sleep 2
probe "50 slow-body clients"
wait $ATTACKER
echo "     $(cat "$E2E_TMP/hostile.slowbody")"
# A trickling client is not idle, so libmicrohttpd's idle timeout does not end it; what bounds such
# clients is the per-source connection limit (API_CONN_PER_SOURCE_MAX), and the probe above shows the
# others are still served. So this reports what happened rather than asserting an end.

attack idle 1000 10
for ((i = 0; i < 50; i++)); do grep -q "connections open" "$E2E_TMP/hostile.idle.err" && break; sleep 0.1; done
echo "     $(cat "$E2E_TMP/hostile.idle.err")"
probe "1,000 idle TCP connections"
wait $ATTACKER
echo "     $(cat "$E2E_TMP/hostile.idle")"

attack bigheader 200 10
sleep 0.5
probe "64 KiB headers"
wait $ATTACKER
echo "     $(cat "$E2E_TMP/hostile.bigheader")"
check "64 KiB headers are refused (431/413 or closed), never served ($(field bigheader status_other) served)" \
	test "$(field bigheader status_other)" = 0 -a "$(field bigheader sent)" -gt 0

# not hostile, just big: GETs of the policy that holds the load's requests, 4 at a time, for ~5 s
( for ((i = 0; i < 8; i++)); do
	for ((j = 0; j < 4; j++)); do api -o /dev/null --max-time 20 "https://$V:8443$P2?$Q" & done
	wait
done ) >/dev/null 2>&1 &
heavy=$!
E2E_PIDS+=($heavy)
sleep 0.5
probe "4 GETs at a time of the policy with the load's requests"
kill $heavy 2>/dev/null; wait $heavy 2>/dev/null

for ((i = 0; i < 100; i++)); do (( $(fds) <= fd0 )) && break; sleep 0.1; done
fd2=$(fds)
check "no fd growth after the hostile clients ($fd0 at start, $fd2 now)" test "$fd2" -le "$fd0"
check "jitgated survived it all" kill -0 $JG
echo "     VmRSS at the end: $(rss_kb) KiB"
e2e_summary

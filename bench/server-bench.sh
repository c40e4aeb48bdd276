#!/usr/bin/env bash
# make bench: jitgated's HTTPS API under load (initiate latency, initiate and GET rates, memory with 100k grants),
# in a throwaway namespace. Prints; never fails on a number.
# Usage: bench/server-bench.sh [BUILD_DIR]   (as root)
# Knobs: RATE_SECONDS (10), THREADS (16), LAT_COUNT (1000), LOAD_GRANTS (100000), LOAD_SECONDS (600),
#        LOAD_THREADS (4), PERF=1 (perf record -g of jitgated in each phase; top symbols printed at the end),
#        WRAP="valgrind --tool=massif ..." (run jitgated under it; the wrapper must pass SIGTERM on, strace does not),
#        KEEP_STATE=DIR (a backup of the store there),
#        WEBHOOKS=N (N webhooks taking every event, to a receiver in the namespace: what notifications cost)
set -u
here=$(cd "$(dirname "$0")" && pwd)
BUILD=${1:-$here/../build}
BENCH=$BUILD/bench/server-bench
JITGATED=${JITGATED:-$BUILD/src/daemon/jitgated}	# e.g. one whose store is PostgreSQL (tests/e2e/on-pg.sh)
RATE_SECONDS=${RATE_SECONDS:-10}
THREADS=${THREADS:-16}
LAT_COUNT=${LAT_COUNT:-1000}
LOAD_GRANTS=${LOAD_GRANTS:-100000}
LOAD_SECONDS=${LOAD_SECONDS:-600}
LOAD_THREADS=${LOAD_THREADS:-4}
PORTS=64	# rules per VM in the policy: 22 and 1001..1063
LOAD_VMS=16	# this host and 15 gateway VMs for the load
. "$here/../tests/e2e/lib.sh"

[[ $(id -u) == 0 ]] || { echo "server-bench: needs root"; exit 1; }
[[ -x $BENCH && -x $JITGATED ]] || { echo "server-bench: build first ($BENCH, $JITGATED)"; exit 1; }
NS=$(ns_new bsrv) || exit 1
STATE=$E2E_TMP/state
LOG=$E2E_TMP/jitgated.log
TOKENS=$E2E_TMP/tokens
ADDR=127.0.0.1:8443
URL=https://$ADDR

# Tokens: one per client thread, then enough for the load: each (token, VM, rule) holds one grant, since a
# requestor's new grant on a VM's port supersedes their earlier one there.
per_token=$((LOAD_VMS * PORTS))
n_load_tokens=$(( (LOAD_GRANTS + per_token - 1) / per_token ))
n_tokens=$((THREADS + n_load_tokens))
for ((i = 0; i < n_tokens; i++)); do
	timeout 10 "$JITGATED" token create --state-dir "$STATE" --name "bench$i" --role Owner >>"$TOKENS" ||
		{ echo "server-bench: token create failed"; exit 1; }
done

WEBHOOK_ARGS=()
if (( ${WEBHOOKS:-0} > 0 )); then
	ip netns exec "$NS" python3 "$here/../tests/e2e/webhook-receiver.py" 127.0.0.1 8090 "$E2E_TMP/received.jsonl" \
		>"$E2E_TMP/receiver.out" 2>&1 &
	E2E_PIDS+=($!)
	for ((i = 1; i <= WEBHOOKS; i++)); do
		printf '[webhook h%d]\nurl = http://127.0.0.1:8090/h%d\nsecret = bench-secret-0123456789\n' $i $i
	done >"$E2E_TMP/webhooks.conf"
	WEBHOOK_ARGS=(--config "$E2E_TMP/webhooks.conf")
fi
start_jitgated() {	# sets PID; waits (<= 60 s) for its "listening" line: the store is open and the kernel reconciled
	: >"$LOG"
	ip netns exec "$NS" ${WRAP:-} "$JITGATED" --single-process --state-dir "$STATE" --listen "$ADDR" --vm-name benchvm \
		"${WEBHOOK_ARGS[@]}" >"$LOG" 2>&1 &
	PID=$!
	E2E_PIDS+=($PID)
	for ((i = 0; i < 3000; i++)); do	# 60 s: WRAP may be slow to start
		grep -q listening "$LOG" 2>/dev/null && return 0
		kill -0 "$PID" 2>/dev/null || break
		sleep 0.02
	done
	echo "server-bench: jitgated did not start: $(cat "$LOG")"
	exit 1
}
start_jitgated
CA=$STATE/tls/cert.pem
# healthz: one GET /healthz (answered only once the single-threaded server is free again)
healthz() { timeout 120 ip netns exec "$NS" curl -sS -o /dev/null --cacert "$CA" "$URL/healthz"; }

# bench TIMEOUT MODE ARGS: one server-bench run; appends jitgated's CPU use over it (100% = one core busy)
bench() {
	local c0 c1 t0 t1 out
	c0=$(cpu_ticks) t0=$(date +%s%N)
	out=$(timeout "$1" ip netns exec "$NS" "$BENCH" "$URL" "$CA" "$TOKENS" "${@:2}") || return 1
	c1=$(cpu_ticks) t1=$(date +%s%N)
	echo "$out jitgated_cpu=$(awk -v c=$((c1 - c0)) -v t=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" \
		'BEGIN { printf "%.0f%%", (t > 0 ? 100 * c / hz / (t / 1e9) : 0) }')"
}
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$PID/stat" 2>/dev/null || echo 0; }
# field KEY LINE: the value of KEY=... in a key=value line
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<" $2"; }
status_kb() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$PID/status" 2>/dev/null; }
mb() { awk -v k="$1" 'BEGIN { printf (k == "" ? "-" : "%.1f"), k / 1024 }'; }
meets() { awk -v a="$1" -v b="$3" -v op="$2" 'BEGIN {
	if (a == "" || a == "-") { print "?"; exit }
	print ((op == "<" ? a + 0 < b + 0 : a + 0 >= b + 0) ? "yes" : "NO") }'; }
PERF_PHASES=()
perf_on() {	# perf_on PHASE: sample jitgated until perf_off (PERF=1 only; costs a few per cent)
	[[ ${PERF:-0} == 1 ]] && command -v perf >/dev/null || return 0
	perf record --call-graph dwarf,8192 -F 200 -p "$PID" -o "$E2E_TMP/perf.$1" >/dev/null 2>&1 &
	PERF_PID=$!
	E2E_PIDS+=($PERF_PID)
	PERF_PHASES+=("$1")
}
perf_off() {
	[[ -n ${PERF_PID:-} ]] || return 0
	kill -INT "$PERF_PID"
	wait "$PERF_PID" 2>/dev/null
	PERF_PID=
}
perf_show() {
	local ph
	for ph in "${PERF_PHASES[@]}"; do
		echo
		echo "perf, jitgated during '$ph': top symbols by self time, then by inclusive time"
		perf report -i "$E2E_TMP/perf.$ph" --no-children --stdio --sort dso,symbol 2>/dev/null |
			grep -E '^ +[0-9.]+%' | head -12
		echo "  --"
		perf report -i "$E2E_TMP/perf.$ph" --children --stdio --sort symbol -g none 2>/dev/null |
			grep -E '^ +[0-9.]+%' | head -25
	done
}
live_kernel() {	# grant elements in the kernel's sets (bounded)
	timeout 60 ip netns exec "$NS" nft list table inet jitgate 2>/dev/null | grep -o ' expires ' | wc -l
}

echo "server benchmark: $(uname -r), $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ), jitgated pid $PID ($(cat /proc/$PID/comm 2>/dev/null))"
(( ${WEBHOOKS:-0} > 0 )) && echo "webhooks: $WEBHOOKS, every event, to a receiver on the namespace's loopback"
echo "store: $([[ -n ${JITGATE_TEST_PG-} ]] && echo "PostgreSQL 15 on this machine (unix socket, fsync $([[ ${PG_DURABLE:-0} == 1 ]] && echo on || echo off))" || echo "SQLite (WAL, synchronous=FULL)")"
echo "One jitgated in a throwaway namespace, clients on its loopback over TLS (verified against its certificate),"
echo "HTTP/1.1 keep-alive, one connection per client. Latency = request sent -> response received (libcurl"
echo "total - pretransfer); a 202 means the store committed and the kernel applied the grant."
echo

out=$(bench 60 setup benchvm 1 "$PORTS") || { echo "server-bench: setup failed"; exit 1; }
echo "policy: this host (benchvm), $PORTS TCP rules (22, 1001..1063), any source, PT3H"

perf_on get-empty
g0=$(bench $((RATE_SECONDS + 30)) get "$THREADS" "$RATE_SECONDS")
perf_off
echo "GET policy, $THREADS clients, ${RATE_SECONDS}s, policy with no requests yet:  $g0"

perf_on latency
lat=$(bench 300 latency "$LAT_COUNT" "$THREADS" "$PORTS" 1)
perf_off
echo "initiate latency, $LAT_COUNT sequential on one connection, 1 grant each from a distinct source;"
echo "  requests cycle over $PORTS rules x $THREADS tokens, so none supersedes another and grants accumulate"
echo "  (0 -> $LAT_COUNT live):  $lat"

perf_on initiate-rate
ini=$(bench $((RATE_SECONDS + 60)) initiate "$THREADS" "$RATE_SECONDS" "$PORTS")
perf_off
echo "initiate rate, $THREADS clients (token each, cycling its $PORTS rules, distinct sources: ~$((THREADS * PORTS))"
echo "  live grants, then each new one supersedes that client's earlier grant on the port):  $ini"

# A policy's GET lists every live request (about 2,000 now) and the newest 200 ended ones. The figure
# is for a policy listing 200 requests (100 KB of JSON): end the live grants first, one revoke of every rule.
ports_json='{"number":22}'
for ((p = 1001; p < 1000 + PORTS; p++)); do ports_json+=",{\"number\":$p}"; done
S=/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/default/providers
rv=$(timeout 120 ip netns exec "$NS" curl -sS --cacert "$CA" -X POST -H "Authorization: Bearer $(head -n 1 "$TOKENS")" \
	-H 'Content-Type: application/json' \
	--data-binary '{"virtualMachines":[{"id":"'$S'/Microsoft.Compute/virtualMachines/benchvm","ports":['"$ports_json"']}]}' \
	"$URL$S/Microsoft.Security/locations/local/jitNetworkAccessPolicies/default/revoke?api-version=2020-01-01")
echo "revoked the live grants before the next GETs: $rv"
perf_on get-full
g1=$(bench $((RATE_SECONDS + 60)) get "$THREADS" $(( (RATE_SECONDS + 1) / 2 )))
perf_off
echo "GET policy again, now listing its 200 newest (ended) requests of the last 7 days:  $g1"
perf_on get-full-gzip
g2=$(BENCH_GZIP=1 bench $((RATE_SECONDS + 60)) get "$THREADS" $(( (RATE_SECONDS + 1) / 2 )))
perf_off
echo "  the same, clients sending Accept-Encoding: gzip (the body kept compressed; the clients inflate):  $g2"

rss0=$(status_kb VmRSS) hwm0=$(status_kb VmHWM)
out=$(bench 120 setup benchvm "$LOAD_VMS" "$PORTS") || { echo "server-bench: setup of $LOAD_VMS VMs failed"; exit 1; }
echo "policy now: this host and $((LOAD_VMS - 1)) gateway VMs, $PORTS rules each ($(field policy_bytes "$out") bytes of JSON)"
perf_on load
load=$(bench $((LOAD_SECONDS + 60)) load "$LOAD_GRANTS" "$LOAD_VMS" "$PORTS" "$LOAD_THREADS" "$THREADS" "$LOAD_SECONDS")
perf_off
rss=$(status_kb VmRSS) hwm=$(status_kb VmHWM)
echo "load: $LOAD_GRANTS grants, $PORTS per initiate (one VM, all its rules), $LOAD_THREADS clients:  $load"
echo "  jitgated RSS before the load ${rss0:-?} kB (peak ${hwm0:-?} kB); after: VmRSS $rss kB, VmHWM $hwm kB"
echo "  grant elements in the kernel: $(live_kernel)"
perf_on latency-loaded
lat2=$(bench 120 latency 200 "$THREADS" "$PORTS" 3)
perf_off
echo "initiate latency with the load live, 200 sequential (each supersedes one earlier grant):  $lat2"

# a full reconcile with the load live (SIGHUP: read the kernel table back, compare, repair), then a restart
t0=$(date +%s%N)
kill -HUP "$PID"
sleep 0.1
healthz
t1=$(date +%s%N)
hwm_rec=$(status_kb VmHWM) rss_rec=$(status_kb VmRSS)
echo "reconcile (SIGHUP) with the load live: $(awk -v t=$((t1 - t0)) 'BEGIN { printf "%.2f", t / 1e9 }') s;" \
	"VmRSS $rss_rec kB, VmHWM $hwm_rec kB"
kill -TERM "$PID"
for ((i = 0; i < 300; i++)); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
t0=$(date +%s%N)
start_jitgated
healthz
t1=$(date +%s%N)
hwm_rst=$(status_kb VmHWM) rss_rst=$(status_kb VmRSS)
echo "restart with the load live (open the store, reconcile $(live_kernel) kernel elements):" \
	"ready in $(awk -v t=$((t1 - t0)) 'BEGIN { printf "%.2f", t / 1e9 }') s; VmRSS $rss_rst kB, VmHWM $hwm_rst kB"

(( ${WEBHOOKS:-0} > 0 )) && echo "webhook deliveries received: $(wc -l <"$E2E_TMP/received.jsonl" 2>/dev/null || echo 0); waiting:" \
	"$(sqlite3 -readonly "file:$STATE/jitgate.db?mode=ro" 'SELECT sum(waiting) FROM webhook_hooks' 2>/dev/null)"
echo
printf '%-44s %-16s %-12s %s\n' figure target measured met
row() { printf '%-44s %-16s %-12s %s\n' "$1" "$2" "$3" "$4"; }
v=$(field p99_ms "$lat"); row "initiate p99, sequential (ms)" "< 10" "${v:--}" "$(meets "$v" '<' 10)"
v=$(field p99_ms "$lat2"); row "initiate p99 with ${LOAD_GRANTS} grants live (ms)" "< 10" "${v:--}" "$(meets "$v" '<' 10)"
v=$(field per_s "$ini"); row "initiates/s, $THREADS clients" ">= 1000" "${v:--}" "$(meets "$v" '>=' 1000)"
v=$(field per_s "$g0"); row "GETs/s, $THREADS clients (empty policy)" ">= 10000" "${v:--}" "$(meets "$v" '>=' 10000)"
v=$(field per_s "$g1"); row "GETs/s, $THREADS clients (after initiates)" ">= 10000" "${v:--}" "$(meets "$v" '>=' 10000)"
v=$(field per_s "$g2"); row "GETs/s, $THREADS clients (after initiates, gzip)" ">= 10000" "${v:--}" "$(meets "$v" '>=' 10000)"
v=$(mb "$hwm"); row "peak RSS (VmHWM) with ${LOAD_GRANTS} grants (MB)" "< 64" "$v" "$(meets "$v" '<' 64)"
v=$(mb "$rss"); row "RSS (VmRSS) with ${LOAD_GRANTS} grants (MB)" "< 64" "$v" "$(meets "$v" '<' 64)"
v=$(mb "$hwm_rec"); row "peak RSS through a reconcile (MB)" "< 64" "$v" "$(meets "$v" '<' 64)"
v=$(mb "$hwm_rst"); row "peak RSS after a restart with them (MB)" "< 64" "$v" "$(meets "$v" '<' 64)"
row "load time for ${LOAD_GRANTS} grants (s)" "-" "$(field seconds "$load")" "-"
perf_show
if [[ -n ${KEEP_STATE:-} ]]; then
	mkdir -p "$KEEP_STATE" && cp -r "$STATE/tls" "$KEEP_STATE/" &&
		timeout 120 sqlite3 "$STATE/jitgate.db" ".backup '$KEEP_STATE/jitgate.db'" && echo "store kept in $KEEP_STATE"
fi
exit 0

#!/usr/bin/env bash
# make bench: the fleet (issue 13) — one real jitgate-agent plus up to 1,000 agents' watches held by agentload, against
# one jitgated, in throwaway namespaces: initiate → first TCP connect on the agent host, the fan-out of a policy
# change, jitgated's memory per connected agent, the agent's RSS (right after a batch, and at rest: the agent frees
# libnftables' context once idle for AGENT_LEAN_IDLE_MS). Prints; never fails on a number.
#
#   server (jitgated, S:8443) ─┐
#   host1 (jitgate-agent, 22) ─┤
#   client (A, B, P1..P64) ────┼── bridge (its own namespace), 10.243.0.0/16
#   load (agentload, L1..L10) ─┘
#
# Usage: bench/fleet-bench.sh [BUILD_DIR]   (as root; needs curl, openssl)
# Knobs: LAT_COUNT (50 initiates per level, LAT_GAP_MS (200) apart, then as many back to back), FANOUTS (3 policy changes per fan-out level), LEVELS ("1 100 1000"),
#        PERF=1 (perf record -g of jitgated through the 1,000-agent latency and fan-out; top symbols printed),
#        AGENT_SMAPS=FILE (a copy of the agent's /proc/PID/smaps at the end, to see where its RSS goes)
set -u
here=$(cd "$(dirname "$0")" && pwd)
BUILD=${1:-$here/../build}
JITGATED=$BUILD/src/daemon/jitgated
AGENT=$BUILD/src/agent/jitgate-agent
LOADTOOL=$BUILD/bench/agentload
NETPROBE=$BUILD/tests/e2e/netprobe
LAT_COUNT=${LAT_COUNT:-50}
LAT_GAP_MS=${LAT_GAP_MS:-200}
FANOUTS=${FANOUTS:-3}
LEVELS=${LEVELS:-1 100 1000}
LOAD_N=1000	# hosts agentload joins (a join token's JOIN_USES_MAX; a policy's POLICY_VMS_MAX)
N_LOAD_ADDRS=10	# agentload's source addresses: API_CONN_PER_SOURCE_MAX (128) connections each at most
# The client's sources, one per initiate in turn: an address granted again within about a second of its grant's
# removal stays closed for about a second more (see the README), which would measure that instead of the fleet.
N_PROBE_ADDRS=64
. "$here/../tests/e2e/lib.sh"

[[ $(id -u) == 0 ]] || { echo "fleet-bench: needs root"; exit 1; }
for x in "$JITGATED" "$AGENT" "$LOADTOOL" "$NETPROBE"; do [[ -x $x ]] || { echo "fleet-bench: build first ($x)"; exit 1; }; done
for t in curl openssl; do command -v $t >/dev/null || { echo "fleet-bench: needs $t"; exit 1; }; done
USR=jitgate-agent-t
e2e_user "$USR" || exit 1
chmod 0711 "$E2E_TMP"	# the agent's user must reach its state directory below it

BR=$(ns_new fbr) && SV=$(ns_new fsv) && H1=$(ns_new fh1) && CL=$(ns_new fcl) && LD=$(ns_new fld) || exit 1
ip -n "$BR" link add br0 type bridge && ip -n "$BR" link set br0 up || exit 1
S=10.243.0.1 H=10.243.0.11 A=10.243.0.21 B=10.243.0.22
LADDRS=()
for ((i = 1; i <= N_LOAD_ADDRS; i++)); do LADDRS+=(10.243.1.$i); done
PADDRS=()
for ((i = 1; i <= N_PROBE_ADDRS; i++)); do PADDRS+=(10.243.2.$i); done
plug() { # NS IF PORT ADDR...
	local n=$1 i=$2 p=$3; shift 3
	link_new "$n" "$i" "$BR" "$p" && ip -n "$BR" link set "$p" master br0 || return 1
	local a; for a in "$@"; do addr_add "$n" "$i" "$a/16"; done
}
plug "$SV" e0 psv $S && plug "$H1" e0 ph1 $H && plug "$CL" e0 pcl $A $B "${PADDRS[@]}" && plug "$LD" e0 pld "${LADDRS[@]}" || exit 1
listen "$H1" 22 || exit 1

STATE=$E2E_TMP/state
SUB=00000000-0000-0000-0000-000000000000
RG=/subscriptions/$SUB/resourceGroups
POL_BENCH=$RG/bench/providers/Microsoft.Security/locations/local/jitNetworkAccessPolicies/default
POL_FLEET=$RG/fleet/providers/Microsoft.Security/locations/local/jitNetworkAccessPolicies/default
AV=api-version=2020-01-01
SRVLOG=$E2E_TMP/jitgated.log
CA=$STATE/tls/cert.pem
T_OWNER=$("$JITGATED" token create --name owner --role Owner --state-dir "$STATE" 2>/dev/null) || exit 1
JT_HOST=$("$JITGATED" token create --join --resource-group bench --state-dir "$STATE" 2>/dev/null) || exit 1
JT_LOAD=$("$JITGATED" token create --join --resource-group fleet --uses $LOAD_N --state-dir "$STATE" 2>/dev/null) || exit 1
jitgated_start "$SV" "$CL" "$STATE" "$S:8443" "$SRVLOG" --vm-name gw ||
	{ echo "fleet-bench: jitgated did not start: $(tail -3 "$SRVLOG")"; exit 1; }
SRV=$JITGATED_PID
FP=$(openssl x509 -in "$CA" -noout -fingerprint -sha256 | cut -d= -f2)

# api METHOD PATH [BODYFILE]: the API as the owner from the client's A; prints the HTTP status
api() {
	local args=(-sS --max-time 60 --interface $A --cacert "$CA" -o "$E2E_TMP/resp" -w '%{http_code}' -X "$1"
		-H "Authorization: Bearer $T_OWNER")
	[[ -n ${3-} ]] && args+=(-H 'Content-Type: application/json' --data-binary "@$3")
	ip netns exec "$CL" curl "${args[@]}" "https://$S:8443$2?$AV"
}
status_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status" 2>/dev/null; }
pss_kb() { awk '$1 == "Pss:" { print $2 }' "/proc/$1/smaps_rollup" 2>/dev/null; }
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<" $2"; }

# the real agent on host1
AST=$E2E_TMP/agent
ALOG=$E2E_TMP/agent.log
mkdir -m 0700 "$AST"
ip netns exec "$H1" "$AGENT" join --server "https://$S:8443" --token "$JT_HOST" --ca-fingerprint "$FP" --name host1 \
	--state-dir "$AST" >"$E2E_TMP/join.out" 2>&1 || { echo "fleet-bench: join failed: $(cat "$E2E_TMP/join.out")"; exit 1; }
ip netns exec "$H1" "$AGENT" run --state-dir "$AST" --user "$USR" >"$ALOG" 2>&1 &
APID=$!
E2E_PIDS+=($APID)
VM_HOST=$RG/bench/providers/Microsoft.Compute/virtualMachines/host1

# agentload's hosts: joined through the API like agents, one credential each
t0=$(now_ms)
timeout 600 ip netns exec "$LD" "$LOADTOOL" "https://$S:8443" "$CA" join "$JT_LOAD" $LOAD_N load "${LADDRS[0]}" \
	>"$E2E_TMP/creds" || { echo "fleet-bench: agentload join failed"; exit 1; }
t1=$(now_ms)
join_ms=$((t1 - t0))

# the policies: host1's 22 (rg bench), and port 22 of the 1,000 load hosts (rg fleet); a fan-out flips the latter to 2222
rule() { printf '{"number":%d,"protocol":"TCP","allowedSourceAddressPrefix":"*","maxRequestAccessDuration":"PT3H"}' "$1"; }
policy_file() { # FILE PORT VMID...
	local f=$1 p=$2 sep=
	shift 2
	{
		printf '{"kind":"Basic","properties":{"virtualMachines":['
		for v; do printf '%s{"id":"%s","ports":[%s]}' "$sep" "$v" "$(rule "$p")"; sep=,; done
		printf ']}}'
	} >"$f"
}
policy_file "$E2E_TMP/pol.bench" 22 "$VM_HOST"
mapfile -t LVMS < <(awk '{ print $1 }' "$E2E_TMP/creds")
policy_file "$E2E_TMP/pol.fleet.22" 22 "${LVMS[@]}"
policy_file "$E2E_TMP/pol.fleet.2222" 2222 "${LVMS[@]}"
code=$(api PUT "$POL_BENCH" "$E2E_TMP/pol.bench")
[[ $code == 20? ]] || { echo "fleet-bench: PUT of host1's policy: $code $(cat "$E2E_TMP/resp")"; exit 1; }
code=$(api PUT "$POL_FLEET" "$E2E_TMP/pol.fleet.22")
[[ $code == 20? ]] || { echo "fleet-bench: PUT of the fleet policy: $code $(cat "$E2E_TMP/resp")"; exit 1; }
for ((i = 0; i < 500; i++)); do	# the agent enforces host1's policy: B's connect is dropped
	grep -q 'enforcing revision.* 1 protected port' "$ALOG" && break
	sleep 0.02
done
grep -q 'enforcing revision.* 1 protected port' "$ALOG" || { echo "fleet-bench: the agent did not apply its policy: $(tail -3 "$ALOG")"; exit 1; }
refuse_ok() { ! ip netns exec "$CL" "$NETPROBE" connect -s $B $H 22 400; }
refuse_ok || { echo "fleet-bench: host1's 22 is open before any request"; exit 1; }

# agentload's watches, driven over a pipe
coproc LOAD { exec ip netns exec "$LD" "$LOADTOOL" "https://$S:8443" "$CA" watch "$E2E_TMP/creds" "${LADDRS[@]}" 2>"$E2E_TMP/load.err"; }
E2E_PIDS+=($LOAD_PID)
# load_cmd LINE PREFIX SECONDS: send a command, print agentload's answer line starting with PREFIX (≤ SECONDS)
load_cmd() {
	local line
	echo "$1" >&"${LOAD[1]}"
	while IFS= read -r -t "$3" line <&"${LOAD[0]}"; do
		[[ $line == "$2"* ]] && { echo "$line"; return 0; }
	done
	echo "fleet-bench: no answer to '$1' from agentload: $(tail -3 "$E2E_TMP/load.err")" >&2
	return 1
}
IFS= read -r -t 30 line <&"${LOAD[0]}" && [[ $line == ready* ]] || { echo "fleet-bench: agentload did not start"; exit 1; }
hold() { load_cmd "hold $1" held 120 >/dev/null && sleep 2; }	# 2 s: the last re-polls reach the server and park

PERF_PID=
perf_on() {
	[[ ${PERF:-0} == 1 ]] && command -v perf >/dev/null || return 0
	perf record --call-graph dwarf,8192 -F 200 -p "$SRV" -o "$E2E_TMP/perf.data" >/dev/null 2>&1 &
	PERF_PID=$!
	E2E_PIDS+=($PERF_PID)
}
perf_off() { [[ -n $PERF_PID ]] && kill -INT "$PERF_PID" && wait "$PERF_PID" 2>/dev/null; PERF_PID=; }
latency() { AGENTLOAD_GAP_MS=$1 timeout 600 ip netns exec "$CL" "$LOADTOOL" "https://$S:8443" "$CA" latency "$T_OWNER" "$POL_BENCH" \
	"$VM_HOST" $H 22 "$LAT_COUNT" $A "${PADDRS[@]}" 2>>"$E2E_TMP/latency.err"; }
# The agent logs each state it takes ("enforcing revision ..."): wait until none came for $1 s (bounded), so its
# last batch is at least that old.
agent_quiet() {
	local n m t0=$SECONDS
	n=$(grep -c 'revision' "$ALOG")
	while ((SECONDS - t0 < 60)); do
		sleep "$1"
		m=$(grep -c 'revision' "$ALOG")
		[[ $m == "$n" ]] && return 0
		n=$m
	done
	return 1
}
IDLE_MS=$(awk '$2 == "AGENT_LEAN_IDLE_MS" { print $3 }' "$here/../src/agent/agent-limits.h")
FLIP=2222
fanout() {
	load_cmd "fanout $T_OWNER $POL_FLEET $E2E_TMP/pol.fleet.$FLIP" fanout 60
	[[ $FLIP == 2222 ]] && FLIP=22 || FLIP=2222
}

echo "fleet benchmark: $(uname -r), $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ), jitgated pid $SRV (--single-process)"
echo "One jitgated; one real jitgate-agent on host1 (its own namespace, a listener on 22); agentload joined $LOAD_N"
echo "hosts through POST /agent/v1/join (${join_ms} ms in all) and holds their watches as the agent does (HTTPS"
echo "long polls from $N_LOAD_ADDRS source addresses, polled again at once when answered). Latency = initiate sent (kept-alive"
echo "HTTPS from the client namespace, opened by a first initiate not counted) -> first TCP connect from the granted"
echo "source to host1:22 that opens; a"
echo "connect is started every 1 ms (a dropped SYN would wait a second to be sent again); each initiate from the next"
echo "of $((N_PROBE_ADDRS + 1)) sources, superseding the one before. Fan-out = the fleet policy's PUT sent -> every held watch answered with a newer revision."
echo

declare -A LAT LATB FAN
rss0= pss0=
for lv in $LEVELS; do
	# the baseline: after the first latency run (its grants and caches are not the watches' cost), no load yet
	[[ -z $rss0 ]] && ((lv > 1)) && { rss0=$(status_kb "$SRV" VmRSS) pss0=$(pss_kb "$SRV"); }
	hold $((lv - 1)) || exit 1
	[[ $lv == "${LEVELS##* }" ]] && { rss1=$(status_kb "$SRV" VmRSS) pss1=$(pss_kb "$SRV"); perf_on; }
	LAT[$lv]=$(latency "$LAT_GAP_MS")
	LATB[$lv]=$(latency 0)
	# its last initiate's grant was the agent's batch a few ms ago: libnftables' context is still held
	[[ $lv == "${LEVELS##* }" ]] && { brss=$(status_kb "$APID" VmRSS) banon=$(status_kb "$APID" RssAnon); }
	echo "$lv agents connected (host1's agent and $((lv - 1)) held by agentload): initiate -> connect"
	echo "  ${LAT_GAP_MS} ms apart: ${LAT[$lv]}"
	echo "  back to back: ${LATB[$lv]}"
	if ((lv > 1)); then
		hold "$lv" || exit 1
		for ((k = 0; k < FANOUTS; k++)); do
			out=$(fanout) || exit 1
			FAN[$lv]+="$out"$'\n'
			echo "  policy change to $lv watchers: $out"
		done
	fi
done
perf_off
rss2=$(status_kb "$SRV" VmRSS) hwm2=$(status_kb "$SRV" VmHWM)
# at rest: no batch for more than AGENT_LEAN_IDLE_MS, so the agent has let libnftables' context go
quiet_s=$(awk -v ms="${IDLE_MS:-1000}" 'BEGIN { printf "%.1f", ms / 1000 + 0.5 }')
agent_quiet "$quiet_s" || echo "fleet-bench: the agent kept taking states for 60 s; its figures below are not at rest"
arss=$(status_kb "$APID" VmRSS) ahwm=$(status_kb "$APID" VmHWM)
acpu=$(awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$APID/stat" 2>/dev/null)
[[ -n ${AGENT_SMAPS:-} ]] && cp "/proc/$APID/smaps" "$AGENT_SMAPS"
aanon=$(status_kb "$APID" RssAnon) afile=$(status_kb "$APID" RssFile) apss=$(pss_kb "$APID")
load_errors=$(load_cmd quit quit 10 2>/dev/null)
last=${LEVELS##* }
per_kb() { awk -v a="$1" -v b="$2" -v n="$3" 'BEGIN { if (a == "" || b == "" || n <= 1) print "-"; else printf "%.1f", (b - a) / (n - 1) }'; }
echo
echo "jitgated with host1's agent alone: VmRSS $rss0 kB, Pss $pss0 kB; with $last agents connected (before the"
echo "  latency run): VmRSS $rss1 kB, Pss $pss1 kB; at the end: VmRSS $rss2 kB, VmHWM $hwm2 kB"
echo "host1's jitgate-agent (pid $APID), right after its last batch (the last back-to-back initiate's grant): VmRSS"
echo "  $brss kB (RssAnon $banon kB); at rest (no batch for ${quiet_s} s, above AGENT_LEAN_IDLE_MS ${IDLE_MS:-?} ms): VmRSS"
echo "  $arss kB (RssAnon $aanon kB, RssFile $afile kB: its libraries' pages, shared with every other process that"
echo "  maps them), Pss $apss kB; VmHWM $ahwm kB (its peak over the run); CPU over the run ${acpu:-?} s"
echo "agentload's watch calls that failed (each polled again after 1 s): $(field errors "${load_errors:-}")$(
	[[ -s $E2E_TMP/load.err ]] && printf '; the first:\n%s' "$(head -5 "$E2E_TMP/load.err" | cut -c1-400)")"
[[ -s $E2E_TMP/latency.err ]] && echo "latency errors: $(head -3 "$E2E_TMP/latency.err")"

meets() { awk -v a="$1" -v b="$3" -v op="$2" 'BEGIN { if (a == "" || a == "-" || a ~ />/) { print "NO"; exit }
	print ((op == "<=" ? a + 0 <= b + 0 : a + 0 >= b + 0) ? "yes" : "NO") }'; }
worst() { awk -v k="$1" '{ for (i = 1; i <= NF; i++) if (index($i, k "=") == 1) { v = substr($i, length(k) + 2);
	if (v ~ />/) { print v; exit } if (v + 0 > m) m = v + 0 } } END { if (m != "") print m }' <<<"$2" | tail -1; }
echo
printf '%-52s %-10s %-14s %s\n' figure target measured met
row() { printf '%-52s %-10s %-14s %s\n' "$1" "$2" "$3" "$4"; }
for lv in $LEVELS; do
	v=$(field p50_ms "${LAT[$lv]}"); row "initiate -> connect p50, $lv agents (ms)" "-" "${v:--}" "-"
	v=$(field p99_ms "${LAT[$lv]}"); row "initiate -> connect p99, $lv agents (ms)" "<= 20" "${v:--}" "$(meets "$v" '<=' 20)"
	v=$(field p50_ms "${LATB[$lv]}"); row "  the same back to back: p50 (ms)" "-" "${v:--}" "-"
	v=$(field p99_ms "${LATB[$lv]}"); row "  the same back to back: p99 (ms)" "<= 20" "${v:--}" "$(meets "$v" '<=' 20)"
done
for lv in $LEVELS; do
	((lv > 1)) || continue
	v=$(worst all_ms "${FAN[$lv]:-}"); row "all $lv watchers updated, worst of $FANOUTS (ms)" "<= 1000" "${v:--}" "$(meets "$v" '<=' 1000)"
done
v=$(per_kb "$rss0" "$rss1" "$last"); row "jitgated VmRSS per connected agent (KB)" "<= 16" "$v" "$(meets "$v" '<=' 16)"
v=$(per_kb "$pss0" "$pss1" "$last"); row "jitgated Pss per connected agent (KB)" "<= 16" "$v" "$(meets "$v" '<=' 16)"
v=$(awk -v k="$arss" 'BEGIN { printf "%.1f", k / 1024 }'); row "jitgate-agent VmRSS at rest (MB)" "<= 8" "$v" "$(meets "$v" '<=' 8)"
v=$(awk -v k="$brss" 'BEGIN { printf "%.1f", k / 1024 }'); row "jitgate-agent VmRSS right after a batch (MB)" "-" "$v" "-"
v=$(awk -v k="$ahwm" 'BEGIN { printf "%.1f", k / 1024 }'); row "jitgate-agent VmHWM, peak over the run (MB)" "-" "$v" "-"
v=$(awk -v k="$aanon" 'BEGIN { printf "%.1f", k / 1024 }'); row "jitgate-agent RssAnon at rest (MB, its own memory)" "-" "$v" "-"
v=$(awk -v k="$apss" 'BEGIN { printf "%.1f", k / 1024 }'); row "jitgate-agent Pss at rest (MB)" "-" "$v" "-"
if [[ ${PERF:-0} == 1 ]] && [[ -f $E2E_TMP/perf.data ]]; then
	echo
	echo "perf, jitgated with $last agents connected: top symbols by self time"
	perf report -i "$E2E_TMP/perf.data" --no-children --stdio --sort dso,symbol 2>/dev/null | grep -E '^ +[0-9.]+%' | head -20
fi
exit 0

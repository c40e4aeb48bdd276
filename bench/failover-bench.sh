#!/usr/bin/env bash
# make bench (issue 14): how long initiates go without a 202 when PostgreSQL's primary dies under load. pg_auto_failover
# on this machine (monitor, primary, secondary: tests/e2e/pgaf.sh, as tests/e2e/failover.sh), two jitgated on the
# multi-host URI (target_session_attrs=read-write), CLIENTS initiate loops (half starting on each replica), the primary
# killed (KILL, its pg_autoctl and postgres) while commits wait for the standby. Prints, per kill: the kill to the
# first 202 of a request sent after it, the longest gap between two 202s, the answers by code (503s; anything else,
# a 500 or no answer within REQUEST_MAX_S, is a fault) and whether every 202's request is in the store afterwards.
# Writes its section of bench/RESULTS.md. Never fails on a number; exits 1 if a 202 was lost, or an answer was neither
# 202 nor 503, or none came (a hang).
#
#   replica A (jitgated, RA:8443)     ─┐
#   replica B (jitgated, RB:8443)     ─┼── bridge ── db: monitor, node 1, node 2 (pg_autoctl, 10.246.0.5)
#   clients (C: one source each)      ─┘
#
# After a kill the dead node is started again (it rejoins as the secondary, pg_rewind) and, with KILLS > 1, the next
# kill waits for synchronous replication again.
# Usage: bench/failover-bench.sh [BUILD_DIR]   (as root; postgresql-15-auto-failover, curl, jq, openssl, psql)
# Knobs: KILLS (2), CLIENTS (16), LOAD_S (4: seconds of load before each kill), AFTER_S (3: load kept after the
#        first 202), RESULTS (bench/RESULTS.md; "" writes nothing), KEEP=DIR (the logs and answers copied there)
set -u
here=$(cd "$(dirname "$0")" && pwd)
BUILD=$(cd "${1:-$here/../build}" && pwd) || exit 1
JITGATED=$BUILD/src/daemon/jitgated
BENCH=$BUILD/bench/server-bench
KILLS=${KILLS:-2}
CLIENTS=${CLIENTS:-16}
LOAD_S=${LOAD_S:-4}
AFTER_S=${AFTER_S:-3}
RESULTS=${RESULTS-$here/RESULTS.md}
REQUEST_MAX_S=20	# curl's --max-time: an answer that never came within this is a hang
RESUME_WAIT_S=60	# how long a kill waits for the first 202 before calling it never
UP_TIMEOUT_S=90		# monitor + primary + secondary up, on a loaded 2-core machine
REJOIN_S=120		# the killed node back as a synchronous secondary (pg_rewind, catching up)
. "$here/../tests/e2e/lib.sh"

[[ $(id -u) == 0 ]] || { echo "failover-bench: needs root"; exit 1; }
[[ -x $JITGATED && -x $BENCH ]] || { echo "failover-bench: build first ($JITGATED, $BENCH)"; exit 1; }
command -v pg_autoctl >/dev/null || { echo "failover-bench: needs pg_autoctl (scripts/deps.sh: postgresql-15-auto-failover)"; exit 1; }
for t in curl jq openssl psql; do command -v $t >/dev/null || { echo "failover-bench: needs $t"; exit 1; }; done
((CLIENTS >= 2 && CLIENTS <= 100)) || { echo "failover-bench: CLIENTS between 2 and 100"; exit 1; }
T_START=$(date +%s)
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)

BR=$(ns_new fbr) && DB=$(ns_new fdb) && RA_NS=$(ns_new fra) && RB_NS=$(ns_new frb) && CL=$(ns_new fcl) || exit 1
ip -n "$BR" link add br0 type bridge && ip -n "$BR" link set br0 up || exit 1
NET=10.246.0
RA=$NET.1 RB=$NET.2 DBA=$NET.5
SRC=(); for ((k = 0; k < CLIENTS; k++)); do SRC+=($NET.$((100 + k))); done
bridge_plug "$BR" "$RA_NS" e0 pra $RA && bridge_plug "$BR" "$RB_NS" e0 prb $RB && bridge_plug "$BR" "$DB" e0 pdb $DBA &&
	bridge_plug "$BR" "$CL" e0 pcl "${SRC[@]}" || exit 1
. "$here/../tests/e2e/pgaf.sh"

echo "failover benchmark: $(uname -r), $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ), load average $LOAD0"
echo "pg_auto_failover on $DBA: monitor :$P0, node 1 :$((P0 + 1)), node 2 :$((P0 + 2))"
pga_up $UP_TIMEOUT_S || { echo "failover-bench: pg_auto_failover did not come up"; exit 1; }
replica_cert $RA $RB || exit 1
printf 'tls_cert = %s\ntls_key = %s\n' "$CERT" "$KEY" >"$E2E_TMP/jitgated.conf"
declare -A RNS=([A]=$RA_NS [B]=$RB_NS) RIP=([A]=$RA [B]=$RB)
pga_replica_start A && pga_replica_start B || { echo "failover-bench: a replica did not start: $(tail -3 "$E2E_TMP"/jitgated?.log)"; exit 1; }
for ((k = 0; k < CLIENTS; k++)); do pga_token "c$k" >"$E2E_TMP/token.$k" || exit 1; done
cat "$E2E_TMP"/token.[0-9]* >"$E2E_TMP/tokens"
# the VM: an agent VM (every protected host is one on PostgreSQL), joined as an agent does; no agent runs, its grants
# wait in the store; a policy of its port 22 (server-bench setup: any source, PT3H)
jt=$(ip netns exec "$RA_NS" "$JITGATED" token create --join --resource-group default --state-dir "$E2E_TMP/stateA" \
	--store "$URI" 2>>"$E2E_TMP/token.err") || { echo "failover-bench: join token: $(tail -2 "$E2E_TMP/token.err")"; exit 1; }
timeout 60 ip netns exec "$CL" "$BUILD/bench/agentload" "https://$RA:8443" "$CERT" join "$jt" 1 fagent "${SRC[0]}" \
	>/dev/null || { echo "failover-bench: agent join failed"; exit 1; }
BENCH_VM=fagent0 timeout 60 ip netns exec "$CL" "$BENCH" "https://$RA:8443" "$CERT" "$E2E_TMP/tokens" setup fagent0 1 1 \
	>/dev/null || { echo "failover-bench: policy setup failed"; exit 1; }
SUB=00000000-0000-0000-0000-000000000000
POL=/subscriptions/$SUB/resourceGroups/default/providers/Microsoft.Security/locations/local/jitNetworkAccessPolicies/default
VM=/subscriptions/$SUB/resourceGroups/default/providers/Microsoft.Compute/virtualMachines/fagent0
AV=api-version=2020-01-01
echo "two jitgated on $URI; $CLIENTS clients, one initiate at a time each (curl), half starting on each replica"
echo

# the first 202 answered to a request sent after epoch ms $1, in ms from it ("" while there is none)
first_202() { cat "$E2E_TMP/$2".[0-9]* | awk -v k="$1" '$3 == 202 && $1 > k && (m == "" || $2 < m) { m = $2 } END { if (m != "") print m - k }'; }
ROWS=() BROKEN=0
declare -A KEPT
# one_kill N: load, kill the primary, load until the first 202 after it and AFTER_S more; a row of figures
one_kill() {
	local n=$1 ph=k$1 primary kill_ms resumed all gap n202 n503 nra others hung missing slowest promoted
	pga_in_sync || { echo "kill $n: waiting for synchronous replication ($(pga_both))"; eventually_within "synchronous replication on" $REJOIN_S pga_in_sync || return 1; }
	pga_load_start $ph A B split
	sleep "$LOAD_S"
	# the kill only while commits wait for the standby (failover.sh says why): else a crash may lose commits
	if ! pga_in_sync; then
		echo "kill $n: waiting for synchronous replication again under load ($(pga_both))"
		eventually_within "synchronous replication on before the kill" 30 pga_in_sync || { pga_load_stop; return 1; }
		sleep 0.5
	fi
	primary=$(pga_primary)
	kill_ms=$(now_ms)
	pga_kill "$primary"
	resumed=
	for ((i = 0; i < RESUME_WAIT_S * 10; i++)); do
		resumed=$(first_202 "$kill_ms" $ph)
		[[ -n $resumed ]] && break
		sleep 0.1
	done
	sleep "$AFTER_S"
	pga_load_stop
	all=$E2E_TMP/$ph.all
	cat "$E2E_TMP/$ph".[0-9]* | sort -n -k2 >"$all"
	n202=$(awk '$3 == 202' "$all" | wc -l) n503=$(awk '$3 == 503' "$all" | wc -l)
	nra=$(awk '$3 == 503 && $4 == 1' "$all" | wc -l)
	others=$(awk '$3 != 202 && $3 != 503 && $3 != "000" { print $3, $5 }' "$all" | sort | uniq -c | awk '{ printf "%s%d x %s %s", s, $1, $2, $3; s = ", " }')
	hung=$(awk '$3 == "000"' "$all" | wc -l)
	slowest=$(awk '{ d = $2 - $1; if (d > m) m = d } END { print m + 0 }' "$all")
	# the longest stretch without a 202 answer (202s in the order answered), and where it began from the kill
	gap=$(awk -v k="$kill_ms" '$3 == 202 { if (p != "" && $2 - p > g) { g = $2 - p; at = p - k } p = $2 } END { printf "%d %+d", g, at }' "$all")
	# when the monitor saw the other node reach wait_primary (promoted, taking writes), from the kill
	promoted=$(pga_events "$kill_ms" | awk -F'|' -v k="$kill_ms" -v d="$primary" '$2 != d && $3 == "wait_primary" { print $1 - k; exit }')
	awk '$3 == 202 { print $5 }' "$all" | sort -u >"$E2E_TMP/$ph.ids"
	pga_sql "SELECT id FROM requests" | sort -u >"$E2E_TMP/$ph.store"
	missing=$(comm -23 "$E2E_TMP/$ph.ids" "$E2E_TMP/$ph.store" | wc -l)
	cat "$E2E_TMP/odd-$ph".[0-9]* 2>/dev/null | sort -n | awk -v k="$kill_ms" '{ $1 = sprintf("%+d ms:", $1 - k); $2 = ""; print "  not 202 nor 503, asked at " $0 }'
	echo "kill $n ($primary): first 202 ${resumed:-never} ms after the kill; longest gap between 202s ${gap% *} ms (from ${gap#* } ms);" \
		"$(wc -l <"$all") answers: $n202 x 202, $n503 x 503 ($nra with Retry-After), others: ${others:-none}, none within ${REQUEST_MAX_S} s: $hung;" \
		"slowest $slowest ms; monitor: secondary promoted at ${promoted:-?} ms; 202s not in the store: $missing of $n202"
	if ((missing || hung)) || [[ -n $others || -z $resumed ]]; then BROKEN=1; fi
	local s
	s=$(awk -v v="$resumed" 'BEGIN { if (v == "") print "never"; else printf "%.2f", v / 1000 }')
	ROWS+=("| $n | $s | $(awk -v v="${gap% *}" 'BEGIN { printf "%.2f", v / 1000 }') | ${promoted:+$(awk -v v="$promoted" 'BEGIN { printf "%.2f", v / 1000 }')} | $n202 | $n503 ($nra) | ${others:-0} | $hung | $slowest | $([[ $missing == 0 ]] && echo "yes, $n202" || echo "NO: $missing missing") |")
	# the dead node back, as the secondary, for the next kill
	((n < KILLS)) && pga_run "$primary"
	return 0
}
for ((n = 1; n <= KILLS; n++)); do one_kill $n || { echo "failover-bench: kill $n could not be measured"; BROKEN=1; break; }; done
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)
[[ -n ${KEEP:-} ]] && mkdir -p "$KEEP" && cp "$E2E_TMP"/*.log "$E2E_TMP"/*.all "$E2E_TMP"/odd-* "$KEEP/" 2>/dev/null

table() {
	echo "| kill | kill → first 202 (s) | longest gap between 202s (s) | monitor: secondary promoted (s) | 202 | 503 (with Retry-After) | other answers | no answer in ${REQUEST_MAX_S} s | slowest answer (ms) | every 202 in the store |"
	echo "|---|---|---|---|---|---|---|---|---|---|"
	printf '%s\n' "${ROWS[@]}"
}
echo
TABLE=$(table)
echo "$TABLE"
echo
echo "load average (1, 5, 15 min): $LOAD0 at the start, $LOAD1 at the end; $(( $(date +%s) - T_START )) s"

# RESULTS.md: this section between its markers, below compare.sh's keep marker and before replica-bench's section
# (which stays last: replica-bench.sh rewrites from its marker to the end)
if [[ -n $RESULTS && ${#ROWS[@]} -gt 0 ]]; then
	KEEP_MARK='<!-- other benchmarks below: kept by bench/compare.sh -->'
	{
		echo "<!-- failover-bench -->"
		echo "# PostgreSQL primary failover under initiate load"
		echo
		echo "Written by bench/failover-bench.sh (\`make bench\`); every run replaces this section. pg_auto_failover on this"
		echo "machine (monitor, primary, secondary; health checks shortened to about 2 s, as tests/e2e/failover.sh), two"
		echo "jitgated on the multi-host URI, $CLIENTS clients each sending one initiate at a time (curl, a new TLS connection"
		echo "each; half start on each replica), the primary killed (KILL) $LOAD_S s into the load while commits wait for"
		echo "the standby; the killed node then rejoins before the next kill. \"kill → first 202\": to the first 202 answered"
		echo "to a request sent after the kill; the longest gap is between two 202s in the order answered."
		echo
		echo "- Date: $(date -u +%Y-%m-%dT%H:%M:%SZ); machine: $(nproc) cores, $(uname -r); load average (1, 5, 15 min)"
		echo "  $LOAD0 at the start, $LOAD1 at the end; jitgate $(git -C "$here/.." describe --always --dirty 2>/dev/null)"
		echo
		echo "$TABLE"
		echo "<!-- failover-bench end -->"
	} >"$E2E_TMP/section"
	touch "$RESULTS"
	awk -v sec="$E2E_TMP/section" -v km="$KEEP_MARK" '
		function put() { if (!done) { if (!kept) print km "\n"; while ((getline l < sec) > 0) print l; print ""; done = 1 } }
		eat { eat = 0; if ($0 == "") next }
		$0 == "<!-- failover-bench -->" { skip = 1; next }
		skip { if ($0 == "<!-- failover-bench end -->") { skip = 0; eat = 1 } next }
		$0 == km { kept = 1 }
		$0 == "<!-- replica-bench -->" { put() }
		{ print }
		END { put() }' "$RESULTS" >"$RESULTS.tmp" && mv "$RESULTS.tmp" "$RESULTS" && echo "written to $RESULTS"
fi
exit $BROKEN

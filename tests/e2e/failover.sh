#!/usr/bin/env bash
# End-to-end: PostgreSQL's primary killed under load, pg_auto_failover promoting the secondary, two jitgated on a
# multi-host URI. Every 202 survives, the answers in between are 503 with Retry-After, service resumes by itself.
# First (1a) a connection lost in the middle of a group commit (a trigger on the primary ends A's session at the
# second initiate of one transaction): the initiates answered earlier in that transaction are gone, so their held
# answers must be 503s, never 202s (the lost 202 of issue 14: a later batch's commit used to send them as 202s).
# The primary is killed only while commits wait for the standby: primary/primary, secondary/secondary,
# synchronous_standby_names set and the standby sync or quorum in pg_stat_replication, checked at the load's start
# and again before the kill (with 0.5 s of load between). In wait_primary pg_auto_failover replicates
# asynchronously to keep taking writes, and a crash then may lose acknowledged commits: the database's trade-off,
# which no client of it can undo (doc/operator.md), not what this test is about.
# Then the replica host1's agent watches is killed under the same load (clients and the agent move to the other),
# and the primary vanishes over TCP for the survivor (its packets dropped): B answers 503 within the store's named limits, never hangs, and recovers.
#
#   replica A (jitgated, RA:8443)                                ─┐
#   replica B (jitgated, RB:8443)                                ─┤
#   host1 (22; a real jitgate-agent listing A, then B)           ─┼── bridge ── db: monitor, node 1, node 2
#   client (C: 16 initiate loops, each its own token and source) ─┘       (pg_autoctl, 10.245.0.5, 3 ports)
#
# The replicas reach the database through postgresql://…@db:P1,db:P2/jitgate?target_session_attrs=read-write:
# libpq tries both hosts and keeps the one that takes writes. The monitor's health checks are shortened (seconds,
# not pg_auto_failover's default 20 s + 30 s) so that a failover fits the 15 s this test allows it.
# Usage: tests/e2e/failover.sh [BUILD_DIR]   (as root; postgresql-15-auto-failover, curl, jq, openssl, psql)
#        FAILOVER_LOAD_S=N: seconds of load before the kill (default 4)
set -u
here=$(cd "$(dirname "$0")" && pwd)
BUILD=${1:-$here/../../build}
JITGATED=${JITGATED:-$BUILD/src/daemon/jitgated}
JG=$BUILD/src/cli/jitgate
AGENT=$BUILD/src/agent/jitgate-agent
NETPROBE=$BUILD/tests/e2e/netprobe
. "$here/lib.sh"

[[ $(id -u) == 0 ]] || { echo "failover.sh: needs root (network namespaces, nftables)"; exit 1; }
[[ -x $JITGATED && -x $JG && -x $AGENT && -x $NETPROBE ]] || { echo "failover.sh: build first"; exit 1; }
command -v pg_autoctl >/dev/null || { echo "failover.sh: needs pg_autoctl (scripts/deps.sh: postgresql-15-auto-failover)"; exit 1; }
for t in curl jq openssl psql; do command -v $t >/dev/null || { echo "failover.sh: needs $t"; exit 1; }; done
CLIENTS=16
LOAD_S=${FAILOVER_LOAD_S:-4}
RESUME_MAX_S=15		# the issue's bound on the unavailability
REQUEST_MAX_S=20	# curl's --max-time: a request that takes this long is a hang
SLOW_S=8		# no answer may take longer (the store's named limits: TCP 5 s, connect 2 s a host)
UP_TIMEOUT_S=90		# monitor + primary + secondary up, on a loaded 2-core machine

BR=$(ns_new br) && DB=$(ns_new db) && RA_NS=$(ns_new ra) && RB_NS=$(ns_new rb) && CL=$(ns_new cl) && H1=$(ns_new h1) || exit 1
ip -n "$BR" link add br0 type bridge && ip -n "$BR" link set br0 up || exit 1
NET=10.245.0
RA=$NET.1 RB=$NET.2 DBA=$NET.5 H1A=$NET.11
plug() { # NS IF PORT ADDR...
	local n=$1 i=$2 p=$3; shift 3
	link_new "$n" "$i" "$BR" "$p" && ip -n "$BR" link set "$p" master br0 || return 1
	local a; for a in "$@"; do addr_add "$n" "$i" "$a/24"; done
}
SRC=(); for ((k = 0; k < CLIENTS; k++)); do SRC+=($NET.$((100 + k))); done
plug "$RA_NS" e0 pra $RA && plug "$RB_NS" e0 prb $RB && plug "$DB" e0 pdb $DBA && plug "$CL" e0 pcl "${SRC[@]}" || exit 1
plug "$H1" e0 ph1 $H1A && listen "$H1" 22 || exit 1

. "$here/pgaf.sh"	# pg_auto_failover: the monitor and two nodes in $DB, the replicas, the initiate loops

echo "0. pg_auto_failover on $DBA: monitor :$P0, node 1 :$((P0 + 1)), node 2 :$((P0 + 2)); two jitgated on a multi-host URI"
t0=$(now_ms)
pga_up $UP_TIMEOUT_S
sql() { pga_sql "$@"; }

replica_cert $RA $RB || exit 1
printf 'agent_watch_wait = PT25S\ntls_cert = %s\ntls_key = %s\n' "$CERT" "$KEY" >"$E2E_TMP/jitgated.conf"
declare -A RNS=([A]=$RA_NS [B]=$RB_NS) RIP=([A]=$RA [B]=$RB)
check "replica A is healthy (store: the multi-host URI)" pga_replica_start A
check "replica B is healthy" pga_replica_start B
tok() { pga_token "$@"; }
T_OWNER=$(tok owner)
jg() { # ARGS...: the CLI against A as the owner; sets rc, out
	out=$(ip netns exec "$CL" env -i PATH="$PATH" HOME="$E2E_TMP" TZ=UTC JITGATE_SERVER="https://$RA:8443" \
		JITGATE_TOKEN="$T_OWNER" JITGATE_CA="$CERT" "$JG" "$@" </dev/null 2>&1)
	rc=$?
}
USR=jitgate-agent-t
e2e_user "$USR" || exit 1
chmod 0711 "$E2E_TMP"	# the agent's user must reach its state directory below it
AST=$E2E_TMP/agent1 ALOG=$E2E_TMP/agent1.log
mkdir -m 0700 "$AST"
jg -q agent token create --resource-group rg1
ip netns exec "$H1" "$AGENT" join --server "https://$RA:8443" --server "https://$RB:8443" --token "$out" \
	--ca-fingerprint "$FP" --name host1 --state-dir "$AST" >"$E2E_TMP/join.out" 2>&1
rc=$?
check "host1's agent joins on A, listing A then B (rc $rc)" test $rc = 0
ip netns exec "$H1" "$AGENT" run --state-dir "$AST" --user "$USR" >>"$ALOG" 2>&1 &
APID=$!
E2E_PIDS+=($APID)
agent_enforces() { grep -q 'enforcing revision' "$ALOG"; }
eventually_within "host1's agent enforces the server's state" 5 agent_enforces
jg enable host1 --port 22 --max 3h
check "jitgate enable host1 --port 22 on A (rc $rc: $out)" test $rc = 0
eventually_within "host1's 22 is closed to the clients" 5 cannot "$CL" "${SRC[0]}" $H1A 22
for ((k = 0; k < CLIENTS; k++)); do tok "c$k" >"$E2E_TMP/token.$k" || exit 1; done
check "$CLIENTS client tokens" test "$(cat "$E2E_TMP"/token.* | grep -c .)" = $CLIENTS

SUB=00000000-0000-0000-0000-000000000000
POL=/subscriptions/$SUB/resourceGroups/rg1/providers/Microsoft.Security/locations/local/jitNetworkAccessPolicies/default
VM=/subscriptions/$SUB/resourceGroups/rg1/providers/Microsoft.Compute/virtualMachines/host1
AV=api-version=2020-01-01
# the load: pga_load_start / pga_load_stop (tests/e2e/pgaf.sh, one tests/e2e/initiate-loop.sh per client)
load_start() { pga_load_start "$@"; }
load_stop() { pga_load_stop; }
# load_kept PHASE: every 202 of the phase is in the store; each client's last is a live grant that host1 enforces
load_kept() {
	local k last n202 missing live_ok=0 open_ok=0
	cat "$E2E_TMP/$1".[0-9]* >"$E2E_TMP/$1.all"
	n202=$(awk '$3 == 202' "$E2E_TMP/$1.all" | wc -l)
	awk '$3 == 202 { print $5 }' "$E2E_TMP/$1.all" | sort -u >"$E2E_TMP/$1.ids"
	check "every 202 carried its own request id ($n202)" test "$(grep -c -v '^-$\|^null$\|^$' "$E2E_TMP/$1.ids")" = "$n202"
	sql "SELECT id FROM requests" | sort -u >"$E2E_TMP/$1.store"
	missing=$(comm -23 "$E2E_TMP/$1.ids" "$E2E_TMP/$1.store" | wc -l)
	comm -23 "$E2E_TMP/$1.ids" "$E2E_TMP/$1.store" | while read -r id; do
		awk -v id="$id" -v k="$kill_ms" '$5 == id { printf "    missing %s: asked %+d ms, answered 202 %+d ms from the kill\n", id, $1 - k, $2 - k }' "$E2E_TMP/$1.all"
	done
	check "every request answered 202 is in the store ($missing of $n202 missing)" test "$missing" = 0
	for ((k = 0; k < CLIENTS; k++)); do
		last=$(awk '$3 == 202 { id = $5 } END { print id }' "$E2E_TMP/$1.$k")
		[[ -n $last && $(sql "SELECT count(*) FROM grants WHERE request_id = '$last' AND status = 0") == 1 ]] &&
			live_ok=$((live_ok + 1))
	done
	check "each client's last 202 is a live grant in the store ($live_ok of $CLIENTS)" test $live_ok = $CLIENTS
	for ((k = 0; k < CLIENTS; k++)); do can "$CL" "${SRC[$k]}" $H1A 22 && open_ok=$((open_ok + 1)); done
	check "and enforced: each client's source reaches host1's 22 ($open_ok of $CLIENTS)" test $open_ok = $CLIENTS
}

echo "1a. a batch lost mid-pass: the primary ends A's connection at the second initiate of one transaction (once)"
# a pass's initiates share one transaction (group commit); the first is held for its 202, the second meets the
# lost connection: the batch is gone, so is the first's request, which must not be answered 202 by a later commit
sql "CREATE SEQUENCE jg_fault; CREATE FUNCTION jg_fault() RETURNS trigger LANGUAGE plpgsql AS \$\$
BEGIN
	IF set_config('jg.n', (coalesce(nullif(current_setting('jg.n', true), ''), '0')::int + 1)::text, true)::int >= 2 THEN
		IF nextval('jg_fault') = 1 THEN
			PERFORM pg_terminate_backend(pg_backend_pid());
		END IF;
	END IF;
	RETURN NEW;
END \$\$; CREATE TRIGGER jg_fault AFTER INSERT ON requests FOR EACH ROW EXECUTE FUNCTION jg_fault()" >/dev/null
check "the fault is armed on the primary" test "$(sql "SELECT count(*) FROM pg_trigger WHERE tgname = 'jg_fault'")" = 1
kill_ms=$(now_ms)
load_start p0 A B
fired() { [[ $(sql "SELECT is_called FROM jg_fault") == t ]]; }
eventually_within "a transaction of two initiates or more met it: A's connection ended" 20 fired
fired_ms=$(now_ms)
# and the load goes on until each client had a 202 asked for after it (a loaded machine serves some slowly)
each_after() { local k; for ((k = 0; k < CLIENTS; k++)); do awk -v f="$fired_ms" '$3 == 202 && $1 > f { n++ } END { exit !n }' "$E2E_TMP/p0.$k" || return 1; done; }
eventually_within "then every client had a 202" 30 each_after
load_stop
sql "DROP TRIGGER jg_fault ON requests; DROP FUNCTION jg_fault(); DROP SEQUENCE jg_fault" >/dev/null
cat "$E2E_TMP"/p0.[0-9]* >"$E2E_TMP/p0.all"
echo "  answers: $(awk '{ n[$3 == 202 ? 202 : $3 " " $5]++ } END { for (c in n) printf "%d x %s, ", n[c], c }' "$E2E_TMP/p0.all")"
check "every answer is a 202 or a 503 with Retry-After ($(awk '$3 != 202 && ($3 != 503 || $4 != 1) { print $3, $5 }' "$E2E_TMP/p0.all" | sort | uniq -c | tr '\n' ' '))" \
	test "$(awk '$3 != 202 && ($3 != 503 || $4 != 1)' "$E2E_TMP/p0.all" | wc -l)" = 0
load_kept p0

echo "1b. a commit whose wait for the standby is cancelled: PostgreSQL keeps it on the primary alone and only warns"
pport=$(( P0 + $(pga_both | grep -o 'n[12] primary/primary' | cut -c2) ))
sport=$(( pport == P0 + 1 ? P0 + 2 : P0 + 1 ))
wr=$(psql_at $sport jitgate "SELECT pid FROM pg_stat_wal_receiver")
check "the standby's WAL receiver (pid ${wr:-?}) stopped (SIGSTOP): commits on the primary wait for it" kill -STOP "${wr:-0}"
end1b=$(date -u -d "@$(( $(date +%s) + 600 ))" +%Y-%m-%dT%H:%M:%SZ)
ip netns exec "$CL" curl -sS --max-time $REQUEST_MAX_S --interface "${SRC[0]}" --cacert "$CERT" -o "$E2E_TMP/1b.body" \
	-D "$E2E_TMP/1b.hdr" -w '%{http_code}' -H "Authorization: Bearer $(<"$E2E_TMP/token.0")" -H 'Content-Type: application/json' \
	--data-binary "{\"virtualMachines\":[{\"id\":\"$VM\",\"ports\":[{\"number\":22,\"endTimeUtc\":\"$end1b\",\"allowedSourceAddressPrefix\":\"${SRC[0]}\"}]}],\"justification\":\"sync-cancelled\"}" \
	"https://$RA:8443$POL/initiate?$AV" >"$E2E_TMP/1b.code" 2>/dev/null &
cpid=$!
# every commit that waits is cancelled (as statement_timeout or an operator's pg_cancel_backend would), until A answers
cancelled=0
for ((i = 0; i < 100; i++)); do
	kill -0 $cpid 2>/dev/null || break
	n=$(psql_at $pport jitgate "SELECT count(pg_cancel_backend(pid)) FROM pg_stat_activity WHERE wait_event = 'SyncRep'")
	cancelled=$(( cancelled + ${n:-0} ))
	sleep 0.1
done
wait $cpid
kill -CONT "${wr:-0}"
code=$(<"$E2E_TMP/1b.code")
ra=$(tr -d '\r' <"$E2E_TMP/1b.hdr" | awk -F': ' 'tolower($1) == "retry-after" { print $2 }')
kept=$(psql_at $pport jitgate "SELECT count(*) FROM requests WHERE justification = 'sync-cancelled'")
echo "  $cancelled commit wait(s) cancelled; the request is on the primary ($kept row), not known on the standby"
check "A answers it 503 with Retry-After, not 202 ($code $(jq -r .error.code <"$E2E_TMP/1b.body" 2>/dev/null), Retry-After: ${ra:-none})" \
	bash -c '[[ $1 == 503 && -n $2 ]]' _ "$code" "$ra"
check "and the WAL receiver runs again" kill -CONT "${wr:-0}"

echo "1. $CLIENTS clients initiate on A; the primary is killed ($LOAD_S s in); pg_auto_failover promotes the secondary"
eventually_within "synchronous replication on at the load's start ($(pga_both))" 30 pga_in_sync
load_ms=$(now_ms)
load_start p1 A B
sleep "$LOAD_S"
# the kill only while commits wait for the standby: under load pg_auto_failover may judge the secondary unhealthy
# and put the primary in wait_primary (asynchronous: a crash then loses what the standby had not received, the
# database's own trade-off, doc/operator.md); the kill waits for synchronous replication, and 0.5 s of commits
# that waited for the standby, which then holds every earlier commit too (WAL is replicated in order)
async=$(pga_events "$load_ms" | awk -F'|' '$4 == "wait_primary" || $4 == "catchingup"' | wc -l)
eventually_within "synchronous replication on before the kill ($(pga_both); $async state changes to wait_primary or catchingup during the load)" 30 pga_in_sync
sleep 0.5
primary=$(pga_states | grep -o 'n[12]=primary' | cut -d= -f1)
check "the primary is node ${primary:-?}" test -n "$primary"
check "and still, just before the kill: $(pga_both)$(pga_sync $((P0 + ${primary#n})))" pga_in_sync
kill_ms=$(now_ms)
pga_kill "$primary"
echo "  killed $primary (its pg_autoctl and postgres) at +$(( kill_ms - t0 )) ms"
# resumed: a 202 answered to a request that started after the first 503
resumed_ms() {
	cat "$E2E_TMP"/p1.[0-9]* | awk -v k="$kill_ms" '$3 == 503 && $1 >= k && (f == "" || $1 < f) { f = $1 }
		{ r[NR] = $0 } END { if (f == "") exit 1; m = ""; for (i in r) { split(r[i], a, " ");
		if (a[3] == 202 && a[1] > f && (m == "" || a[2] < m)) m = a[2] } if (m == "") exit 1; print m - k }'
}
resumed() { resumed_ms >/dev/null; }
eventually_within "initiates answer 202 again by themselves (checked up to 40 s)" 40 resumed
gap=$(resumed_ms)
sleep 2
load_stop
echo "  service resumed ${gap:-never} ms after the kill (target <= $((RESUME_MAX_S * 1000)) ms); now: $(pga_states)"
check "service resumed within $RESUME_MAX_S s (${gap:-never} ms)" bash -c '[[ -n $1 ]] && (( $1 <= $2 * 1000 ))' _ "${gap:-}" $RESUME_MAX_S
ALL=$E2E_TMP/p1.all
cat "$E2E_TMP"/p1.[0-9]* >"$ALL"
n_all=$(wc -l <"$ALL") n202=$(awk '$3 == 202' "$ALL" | wc -l) n503=$(awk '$3 == 503' "$ALL" | wc -l)
others=$(awk '$3 != 202 && $3 != 503 { print $3, $5 }' "$ALL" | sort | uniq -c | tr '\n' ' ')
slowest=$(awk '{ d = $2 - $1; if (d > m) m = d } END { print m + 0 }' "$ALL")
echo "  $n_all answers: $n202 x 202, $n503 x 503, others: ${others:-none}; slowest $slowest ms"
# the others' bodies (initiate-loop.sh keeps them), ms from the kill: what a 500 said
cat "$E2E_TMP"/odd-p1.[0-9]* 2>/dev/null | sort -n | head -5 | awk -v k="$kill_ms" '{ $1 = sprintf("%+d ms:", $1 - k); $2 = ""; print "    " $0 }'
check "every answer is a 202 or a 503 (others: ${others:-none})" test -z "$others"
check "some were 503s while there was no primary ($n503)" test "$n503" -gt 0
check "every 503 carries Retry-After ($(awk '$3 == 503 && $4 != 1 { print $5 }' "$ALL" | sort | uniq -c | tr '\n' ' '))" \
	test "$(awk '$3 == 503 && $4 != 1' "$ALL" | wc -l)" = 0
check "no answer took longer than $SLOW_S s (slowest $slowest ms: no hang)" test "$slowest" -lt $((SLOW_S * 1000))
echo "  the monitor's state changes from the load's start to service resumed (ms from the kill):"
pga_events "$load_ms" | awk -F'|' -v k="$kill_ms" -v g="${gap:-0}" '$1 <= k + g { printf "    %+6d %s %s/%s: %s\n", $1 - k, $2, $3, $4, substr($5, 1, 110) }'
load_kept p1
check "both replicas still run" kill -0 "${RPID[A]}" "${RPID[B]}"
T= ; code=$(ip netns exec "$CL" curl -sS --max-time 10 --cacert "$CERT" -o /dev/null -w '%{http_code}' \
	-H "Authorization: Bearer $T_OWNER" "https://$RB:8443$POL?$AV")
check "replica B, idle through the failover, serves the policy: 200 ($code)" test "$code" = 200

# the agent watches A, the first server it lists, unless a 503 from A during the database's failover moved it on:
# the replica it watches now is the one killed (X), the other (Y) the one it must reach
last_from() { grep -o 'from https://[0-9.]*:8443' "$ALOG" | tail -1; }
X=A Y=B
[[ $(last_from) == "from https://$RB:8443" ]] && X=B Y=A
echo "2. $CLIENTS clients initiate on $X (then $Y); replica $X, which host1's agent watches, is killed ($LOAD_S s in): the agent moves to $Y"
[[ $X == B ]] && echo "  (host1's agent moved to B during the database's failover: A answered its watch 503)"
check "host1's agent watches $X ($(last_from))" test "$(last_from)" = "from https://${RIP[$X]}:8443"
mark=$(wc -l <"$ALOG")
load_start p2 $X $Y
sleep "$LOAD_S"
kill_ms=$(now_ms)
kill -KILL "${RPID[$X]}"; wait "${RPID[$X]}" 2>/dev/null
on_y() { tail -n +$((mark + 1)) "$ALOG" | grep -q "from https://${RIP[$Y]}:8443"; }
eventually_within "host1's agent enforces what $Y sends within 5 s" 5 on_y
echo "  $X killed -> host1's agent enforcing $Y's state: $(( $(now_ms) - kill_ms )) ms (polled every 0.1 s)"
sleep 2
load_stop
ALL=$E2E_TMP/p2.all
cat "$E2E_TMP"/p2.[0-9]* >"$ALL"
n_all=$(wc -l <"$ALL") n202=$(awk '$3 == 202' "$ALL" | wc -l) nb=$(awk '$3 == 202 && $6 == 1' "$ALL" | wc -l)
others=$(awk '$3 != 202 && $3 != "000" { print $3, $5 }' "$ALL" | sort | uniq -c | tr '\n' ' ')
lost=$(awk '$3 == "000"' "$ALL" | wc -l)
echo "  $n_all answers: $n202 x 202 ($nb from $Y), $lost never came ($X gone; that client then asks $Y), others: ${others:-none}"
check "every answer is a 202, from $X or $Y (others: ${others:-none})" test -z "$others"
check "at most one answer per client lost with $X ($lost)" test "$lost" -le $CLIENTS
check "the clients went on on $Y: 202s from $Y ($nb)" test "$nb" -gt 0
load_kept p2
check "replica $Y and host1's agent still run" kill -0 "${RPID[$Y]}" "$APID"

echo "3. the primary vanishes over TCP for $Y (its packets dropped: no refusal, no reset): 503 within $SLOW_S s, not a hang"
cur_port=$(sql "SELECT inet_server_port()")	# the node the multi-host URI reaches: the one that takes writes
cur=n$(( cur_port - P0 ))
dropping() { # add|delete: Y's packets to the primary's port dropped in the database's namespace
	if [[ $1 == add ]]; then
		ip netns exec "$DB" nft -f - <<<"table inet jgdrop { chain in { type filter hook input priority 0; ip saddr ${RIP[$Y]} tcp dport $cur_port drop; }; }"
	else
		ip netns exec "$DB" nft delete table inet jgdrop
	fi
}
api_b() { # METHOD PATH [BODY]: Y's API as the client 0; sets code, ms, ra
	local args=(-sS --max-time $REQUEST_MAX_S --interface "${SRC[0]}" --cacert "$CERT" -o /dev/null -D "$E2E_TMP/hdr" -w '%{http_code}'
		-X "$1" -H "Authorization: Bearer $(<"$E2E_TMP/token.0")")
	[[ -n ${3-} ]] && args+=(-H 'Content-Type: application/json' --data-binary "$3")
	local t0; t0=$(now_ms)
	code=$(ip netns exec "$CL" curl "${args[@]}" "https://${RIP[$Y]}:8443$2" 2>"$E2E_TMP/curl.err")
	ms=$(( $(now_ms) - t0 ))
	ra=$(tr -d '\r' <"$E2E_TMP/hdr" | awk -F': ' 'tolower($1) == "retry-after" { print $2 }')
}
body3() {
	printf '{"virtualMachines":[{"id":"%s","ports":[{"number":22,"endTimeUtc":"%s","allowedSourceAddressPrefix":"%s"}]}],"justification":"e2e"}' \
		"$VM" "$(date -u -d "@$(( $(date +%s) + 600 ))" +%Y-%m-%dT%H:%M:%SZ)" "${SRC[0]}"
}
check "the primary is $cur (:$cur_port); $Y's packets to it are dropped" dropping add
api_b POST "$POL/initiate?$AV" "$(body3)"
check "an initiate on $Y: 503 with Retry-After in $ms ms, not a hang ($code, Retry-After: ${ra:-none} $(head -c 100 "$E2E_TMP/curl.err"))" \
	bash -c '[[ $1 == 503 && -n $2 ]] && (( $3 < $4 * 1000 ))' _ "$code" "$ra" "$ms" $SLOW_S
api_b POST "$POL/initiate?$AV" "$(body3)"
check "the next one too, in $ms ms (no new attempt to connect for STORE_PG_RECONNECT_PAUSE_MS) ($code)" \
	bash -c '[[ $1 == 503 ]] && (( $2 < $3 * 1000 ))' _ "$code" "$ms" $SLOW_S
check "the packets flow again" dropping delete
b_serves() { api_b POST "$POL/initiate?$AV" "$(body3)"; [[ $code == 202 ]]; }
t0=$(now_ms)
eventually_within "$Y answers an initiate 202 again by itself within 15 s" 15 b_serves
echo "  $Y's initiates: 202 again $(( $(now_ms) - t0 )) ms after the packets flowed"
eventually_within "and host1 (its agent on $Y) opens 22 to client 0" 5 can "$CL" "${SRC[0]}" $H1A 22
check "replica $Y still runs" kill -0 "${RPID[$Y]}"

(( E2E_FAIL )) && for f in jitgatedA jitgatedB agent1; do echo "--- $f.log"; tail -15 "$E2E_TMP/$f.log"; done
(( E2E_FAIL )) && { echo "--- states"; pga_state; tail -5 "$E2E_TMP/psql.err" 2>/dev/null; }
e2e_summary

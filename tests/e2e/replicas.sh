#!/usr/bin/env bash
# End-to-end: two jitgated replicas on one PostgreSQL database, real jitgate-agents watching one replica each.
# What one replica writes, the other's agents and caches see at once (LISTEN/NOTIFY, doc/store-backends.md).
# Then the database is stopped and started under both (503 with Retry-After, never a hang; recovery by itself),
# and replica B is killed (its agent moves to A).
#
#   replica A (jitgated on RA:8443) ─┐
#   replica B (jitgated on RB:8443) ─┤
#   host1 (22; its agent watches B) ─┼── bridge (its own namespace)
#   host2 (22; its agent watches A) ─┤
#   client (C) ──────────────────────┘
#
# Both replicas serve one certificate naming both addresses (an operator's replica set behind one CA), so an
# agent's pinned fingerprint holds for either; each has its own state directory. Neither registers a local VM nor
# keeps a kernel table: on PostgreSQL every protected host is an agent VM (agents-only.sh tests the refusals).
# agent_watch_wait = PT25S: a watch is answered within the step's few seconds only if a change woke it.
# Usage: tests/e2e/on-pg.sh replicas.sh [BUILD_DIR]   (as root; needs curl, jq, openssl, psql)
#        REPLICAS_LAT_COUNT=N: samples of the propagation figure (default 40)
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
e2e_binaries "${1:-$here/../../build}"
e2e_require replicas.sh pg "JITGATED JG AGENT NETPROBE LOADTOOL" curl jq openssl psql || exit 1
export JITGATE_TEST_PG_SINGLE=	# several replicas: agents only
USR=jitgate-agent-t
e2e_user "$USR" || exit 1
chmod 0711 "$E2E_TMP"	# the agents' user must reach their state directories below it
LAT_COUNT=${REPLICAS_LAT_COUNT:-40}

NET=10.244.0
C=$NET.21 C2=$NET.22
replica_net r $NET.1 $NET.2 $C $C2 || exit 1
H1=$(ns_new h1) && H2=$(ns_new h2) || exit 1
declare -A NS=([1]=$H1 [2]=$H2) IP=([1]=$NET.11 [2]=$NET.12) LAT
for k in 1 2; do replica_plug "${NS[$k]}" e0 "ph$k" "${IP[$k]}" && listen "${NS[$k]}" 22 || exit 1; done

# one certificate for the replica set, naming both addresses
replica_conf 'agent_watch_wait = PT25S' || exit 1
SUB=00000000-0000-0000-0000-000000000000
CMP=/subscriptions/$SUB/resourceGroups/rg1/providers/Microsoft.Compute/virtualMachines
POL=/subscriptions/$SUB/resourceGroups/rg1/providers/Microsoft.Security/locations/local/jitNetworkAccessPolicies/default
TOKENS=/subscriptions/$SUB/providers/Jitgate/tokens
AV=api-version=2020-01-01
api() { replica_api "$@"; }	# A|B METHOD PATH [BODY]: as $TOK (default the owner) from C; sets $code and $R
j() { jq -r "$@" <<<"$R" 2>/dev/null; }
jg() { replica_jg "$@"; }	# A|B ARGS...: the CLI against one replica; sets rc, out, err
declare -A AST ALOG APID
for k in 1 2; do AST[$k]=$E2E_TMP/agent$k; ALOG[$k]=$E2E_TMP/agent$k.log; mkdir -m 0700 "${AST[$k]}"; done
agent_join() { # K FIRST SECOND TOKEN: join host K listing replica FIRST, then SECOND
	ip netns exec "${NS[$1]}" "$AGENT" join --server "https://${RIP[$2]}:8443" --server "https://${RIP[$3]}:8443" \
		--token "$4" --ca-fingerprint "$FP" --name "host$1" --state-dir "${AST[$1]}" >"$E2E_TMP/join.$1" 2>&1
}
agent_run() { # K: start host K's agent; wait (≤ 5 s) until it enforces a state
	: >>"${ALOG[$1]}"
	ip netns exec "${NS[$1]}" "$AGENT" run --state-dir "${AST[$1]}" --user "$USR" >>"${ALOG[$1]}" 2>&1 &
	APID[$1]=$!
	E2E_PIDS+=(${APID[$1]})
	agent_wait_enforcing "${ALOG[$1]}" "${APID[$1]}"
}
vm() { echo "$CMP/host$1"; }

echo "0. two replicas on one database ($(psql -X -A -t "$JITGATE_TEST_PG" -c 'SHOW server_version' 2>/dev/null))"
check "replica A is healthy" replica_start A
check "replica B is healthy" replica_start B
T_OWNER=$("$JITGATED" token create --name owner --role Owner --state-dir "$E2E_TMP/stateA")
api B GET "/subscriptions/$SUB/providers/Microsoft.Compute/virtualMachines?$AV"
check "the owner's token, made through A's state directory, works on B: the VMs, none yet (agents only: no local VM) ($code $(j -c '[.value[].name]'))" \
	test "$code $(j '.value | length')" = "200 0"

echo "1. agents: host1 joins through B and watches B, host2 joins through A and watches A"
jg A -q agent token create --resource-group rg1 --uses 2
JT=$out
check "a join token made on A (rc $rc)" bash -c '[[ $1 == 0 && $2 == jgj_* ]]' _ "$rc" "$JT"
agent_join 1 B A "$JT"; rc=$?
check "host1 joins on B with A's join token (exit $rc: $(tail -1 "$E2E_TMP/join.1" | cut -c1-80))" test $rc = 0
agent_join 2 A B "$JT"; rc=$?
check "host2 joins on A (exit $rc)" test $rc = 0
for k in 1 2; do check "host$k's agent starts and enforces the server's state" agent_run $k; done
for k in 1 2; do jg A enable host$k --port 22 --max 3h; check "jitgate enable host$k on A (rc $rc: $err)" test $rc = 0; done
for k in 1 2; do
	eventually_within "host$k: C is refused on 22 (the policy PUT on A reached host$k's agent)" 5 cannot "$CL" $C "${IP[$k]}" 22
done
check "host1's agent watches B, host2's watches A (the first server each lists)" bash -c \
	'grep -q "$1" "$3" && ! grep -q "trying the next\|failures" "$3" && grep -q "$2" "$4"' _ "$RB:8443" "$RA:8443" \
	"${ALOG[1]}" "${ALOG[2]}"

echo "2. a grant made on A opens host1, whose agent watches B; a revoke on B closes host2, whose agent watches A"
t0=$(now_ms)
api A POST "$POL/initiate?$AV" "$(fleet_initiate_body 1 22 $C 600)"
check "initiate host1:22 on A: 202 ($code)" test "$code" = 202
eventually_within "C reaches host1's 22 (agent on B)" 5 can "$CL" $C "${IP[1]}" 22
echo "  A's 202 -> host1 open: $(( $(now_ms) - t0 )) ms (one sample, the probe's own delay included)"
api B POST "$POL/initiate?$AV" "$(fleet_initiate_body 2 22 $C 600)"
check "initiate host2:22 on B: 202 ($code)" test "$code" = 202
eventually_within "C reaches host2's 22 (agent on A)" 5 can "$CL" $C "${IP[2]}" 22
api B POST "$POL/revoke?$AV" "$(fleet_revoke_body 2 22)"
check "revoke host2:22 on B: 200 ($code $(j -c .))" test "$code" = 200
eventually_within "C is refused on host2's 22 again (agent on A)" 5 cannot "$CL" $C "${IP[2]}" 22
check "host1's grant is untouched: C still reaches host1's 22" can "$CL" $C "${IP[1]}" 22

echo "2b. a policy written on B after an initiate on A read it: A's initiate is refused (503, try again), not decided on the old policy"
# The writers' lock held from psql, so that B's policy write queues first, then A's initiate reads the policy (max 3 h)
# and queues behind it: B writes max 1 h, then A would write a 2 h grant decided on the 3 h policy.
LOCKED=$E2E_TMP/locked
# race_policy_write CALL...: the writers' lock held from psql (3 s), B's `enable host1 --max 1h` queued for it
# first, then CALL on A, which reads the policy (max 3 h) at once and queues behind B's write
race_policy_write() {
	local lock_pid enable_pid
	psql -X -q "$JITGATE_TEST_PG" -c "BEGIN; SELECT pg_advisory_xact_lock(1785295975); SELECT pg_sleep(3); COMMIT;" >"$LOCKED" 2>&1 &
	lock_pid=$!
	sleep 0.5
	( jg B enable host1 --port 22 --max 1h; echo "$rc" >"$E2E_TMP/enable.rc" ) &
	enable_pid=$!
	sleep 0.7
	"$@"
	wait "$lock_pid" "$enable_pid"
	check "jitgate enable host1 --max 1h on B, queued first: done (rc $(cat "$E2E_TMP/enable.rc"))" test "$(cat "$E2E_TMP/enable.rc")" = 0
}
race_policy_write api A POST "$POL/initiate?$AV" "$(fleet_initiate_body 1 22 $C2 7200)"
check "A's initiate of 2 h, read under the 3 h policy: 503 with Retry-After ($code $(j .error.message | cut -c1-90))" \
	bash -c '[[ $1 == 503 ]] && grep -qi "^retry-after:" "$2"' _ "$code" "$E2E_TMP/hdr"
check "  … no grant of it in the store: C2 cannot reach host1's 22" cannot "$CL" $C2 "${IP[1]}" 22
api A POST "$POL/initiate?$AV" "$(fleet_initiate_body 1 22 $C2 7200)"
check "sent again, it is decided on the policy now (max 1 h): 400 ($code $(j .error.code))" test "$code" = 400
jg A enable host1 --port 22 --max 3h
check "host1's rule back to 3 h (rc $rc)" test "$rc" = 0

echo "2c. the same for an extend: planned on A under the 3 h policy, B writes 1 h first: 503, then 400 on the new policy"
api A POST "$POL/initiate?$AV" "$(fleet_initiate_body 1 22 $C2 1800)"
check "initiate host1:22 for C2, 30 min, on A: 202 ($code)" test "$code" = 202
extend_body() { # SECONDS
	printf '{"virtualMachines":[{"id":"%s","ports":[{"number":22,"endTimeUtc":"%s"}]}]}' "$(vm 1)" \
		"$(date -u -d "@$(( $(date +%s) + $1 ))" +%Y-%m-%dT%H:%M:%SZ)"
}
extend_2h() { SRC=$C2 api A POST "$POL/extend?$AV" "$(extend_body 7200)"; }
race_policy_write extend_2h
check "A's extend to 2 h, planned under the 3 h policy: 503 with Retry-After ($code $(j .error.message | cut -c1-90))" \
	bash -c '[[ $1 == 503 ]] && grep -qi "^retry-after:" "$2"' _ "$code" "$E2E_TMP/hdr"
SRC=$C2 api A POST "$POL/extend?$AV" "$(extend_body 7200)"
check "sent again, it is planned on the policy now (max 1 h): 400 ($code $(j .error.code))" test "$code" = 400
jg A enable host1 --port 22 --max 3h
check "host1's rule back to 3 h (rc $rc)" test "$rc" = 0

echo "3. caches: B's policy GET (cached) shows A's change at once; a token revoked on A is refused on B at once"
api B GET "$POL?$AV"; api B GET "$POL?$AV"	# the second is served from B's render cache
ports_before=$(j '[.properties.virtualMachines[] | select(.id | endswith("/host2")) | .ports[].number] | join(",")')
jg A enable host2 --port 22 --port 2222 --max 3h
check "jitgate enable host2 --port 22 --port 2222 on A (rc $rc: $err)" test $rc = 0
api B GET "$POL?$AV"
check "B's very next GET shows host2's new port (before: $ports_before; now: $(j '[.properties.virtualMachines[] | select(.id | endswith("/host2")) | .ports[].number] | join(",")'))" \
	test "$(j '[.properties.virtualMachines[] | select(.id | endswith("/host2")) | .ports[].number] | join(",")')" = 22,2222
T_READ=$("$JITGATED" token create --name reader --role Reader --state-dir "$E2E_TMP/stateB")
TOK=$T_READ api B GET "$POL?$AV"
check "a reader's token works on B: 200 ($code)" test "$code" = 200
TOK=$T_READ api A GET "$POL?$AV"
check "... and on A: 200 ($code)" test "$code" = 200
api A DELETE "$TOKENS/reader?$AV"
check "the owner revokes it on A: 200 ($code)" test "$code" = 200
TOK=$T_READ api B GET "$POL?$AV"
check "B refuses it at the very next request: 401 ($code $(j -r .error.code))" test "$code" = 401
TOK=$T_READ api A GET "$POL?$AV"
check "... as A does: 401 ($code)" test "$code" = 401

echo "4. propagation: initiate on one replica -> first TCP connect open on host1 (its agent watches B), $LAT_COUNT samples each"
api B POST "$POL/revoke?$AV" "$(fleet_revoke_body 1 22)"
check "revoke host1:22 on B first (the probe starts from a closed port): 200 ($code)" test "$code" = 200
eventually_within "C is refused on host1's 22" 5 cannot "$CL" $C "${IP[1]}" 22
lat() { # A|B: agentload's probe through that replica (sources C and C2 in turn: each grant supersedes the one before)
	timeout 300 ip netns exec "$CL" "$LOADTOOL" "https://${RIP[$1]}:8443" "$CERT" latency "$T_OWNER" "$POL" "$(vm 1)" \
		"${IP[1]}" 22 "$LAT_COUNT" $C $C2 2>>"$E2E_TMP/lat.err"
}
field() { grep -o " $1=[0-9.]*" <<<"$2" | cut -d= -f2; }
for r in A B; do
	line=$(lat $r)
	check "$LAT_COUNT samples through $r, none failed ($line)" bash -c '[[ $(grep -o "n=[0-9]*" <<<"$1") == "n=$2" &&
		$1 == *" failed=0 "* ]]' _ "$line" "$LAT_COUNT"
	LAT[$r]=$line
done
echo "  propagation (write on A -> host1's agent on B enforcing it -> TCP open): p50 $(field p50_ms "${LAT[A]}") ms," \
	"p99 $(field p99_ms "${LAT[A]}") ms (target p99 <= 100 ms)"
echo "  same replica (write on B, the agent's own): p50 $(field p50_ms "${LAT[B]}") ms, p99 $(field p99_ms "${LAT[B]}") ms"
[[ -s $E2E_TMP/lat.err ]] && echo "  agentload: $(head -3 "$E2E_TMP/lat.err")"

echo "5. an agent revoked on B while its watch is parked on A: A answers that watch 401 at once"
jg B agent revoke host2
check "jitgate agent revoke host2 on B (rc $rc: $err)" test $rc = 0
eventually_within "host2's agent is refused by A within 3 s (its watch waits up to 25 s unless woken)" 3 \
	grep -q "https://$RA:8443 refused the credential (401" "${ALOG[2]}"

echo "5b. PostgreSQL refuses to record a revoke, a policy write or a token revoke (SQLSTATE 53100 disk_full, as a full disk answers a write): 503, nothing half-applied"
api A POST "$POL/initiate?$AV" "$(fleet_initiate_body 1 22 $C 600)"
check "initiate host1:22 for C on A: 202 ($code)" test "$code" = 202
RID=$(j .id)
eventually_within "C reaches host1's 22 (agent on B)" 5 can "$CL" $C "${IP[1]}" 22
T5=$("$JITGATED" token create --name t5b --role Owner --state-dir "$E2E_TMP/stateA")
TOK=$T5 api A POST "$POL/initiate?$AV" "$(fleet_initiate_body 1 22 $C2 600)"
check "initiate host1:22 for C2 on A with the token t5b: 202 ($code)" test "$code" = 202
RID2=$(j .id)
# the refusal a full disk gives (a table that cannot grow: ERROR 53100; a full WAL makes the server restart
# instead, a lost connection, which answers 503 too), for ending grants only: reads and other writes go on
store_sql "" "CREATE FUNCTION jg_disk_full() RETURNS trigger LANGUAGE plpgsql AS \$\$ BEGIN
	RAISE EXCEPTION 'could not extend file: No space left on device' USING ERRCODE = 'disk_full'; END \$\$;
	CREATE TRIGGER jg_disk_full BEFORE UPDATE ON grants FOR EACH ROW EXECUTE FUNCTION jg_disk_full()"
live() { store_read "" "SELECT count(*) FROM grants WHERE request_id = '$RID' AND status = 0"; }
for r in B A; do
	api $r POST "$POL/revoke?$AV" "$(fleet_revoke_body 1 22 true)"
	ra=$(tr -d '\r' <"$E2E_TMP/hdr" | awk -F': ' 'tolower($1) == "retry-after" { print $2 }')
	check "revoke host1:22 on $r: 503 with Retry-After, the store's refusal ($code $(j -r .error.code), Retry-After: ${ra:-none}: $(j -r .error.message | cut -c1-120))" \
		bash -c '[[ $1 == 503 && -n $2 && $3 == StoreError && $4 == *"No space left"* ]]' _ "$code" "$ra" "$(j -r .error.code)" "$(j -r .error.message)"
	check "  no recordPending answer, no revokedPorts ($(j -c '{recordPending, revokedPorts}'))" test "$(j '.recordPending // .revokedPorts // "none"')" = none
done
# a policy write that would end the grant (host1 out of the policy): refused whole too, no close kept for later
jg B disable host1
check "jitgate disable host1 on B: refused, the store's 503 (rc $rc: $(cut -c1-160 <<<"$err"))" \
	bash -c '[[ $1 != 0 && $2 == *StoreError* && $2 != *"closed"* ]]' _ "$rc" "$err"
# a token revoke that would end t5b's grant: refused whole, the token still valid
api A DELETE "$TOKENS/t5b?$AV"
check "revoking the token t5b on A: 503, the store's refusal ($code $(j -r .error.code))" test "$code $(j -r .error.code)" = "503 StoreError"
TOK=$T5 api B GET "$POL?$AV"
check "  t5b still works on B: 200 ($code)" test "$code" = 200
live2() { store_read "" "SELECT count(*) FROM grants WHERE request_id = '$RID2' AND status = 0"; }
check "nothing half-applied: C's grant still live in the store ($(live))" test "$(live)" = 1
check "  and C2's, t5b's ($(live2))" test "$(live2)" = 1
api B GET "$POL?$AV"
st=$(j --arg id "$RID" '.properties.requests[] | select(.id == $id) | .virtualMachines[0].ports[0] | .status + "/" + (.recordPending | tostring)')
check "  and so on B's policy GET: Initiated, nothing pending ($st)" test "$st" = Initiated/null
sleep 1.5	# past api-closing.c's retry (1 s): no replica kept the close to record later
check "  and on host1: C still reaches 22" can "$CL" $C "${IP[1]}" 22
store_sql "" "DROP TRIGGER jg_disk_full ON grants; DROP FUNCTION jg_disk_full()"
sleep 1.2
check "  nor later, once the store takes writes again: still live ($(live), $(live2))" test "$(live) $(live2)" = "1 1"
api B GET "$POL?$AV"
check "  and host1 still in the policy ($(j -c '[.properties.virtualMachines[].id | split("/") | last]'))" \
	test "$(j '[.properties.virtualMachines[].id | select(endswith("/host1"))] | length')" = 1
api B POST "$POL/revoke?$AV" "$(fleet_revoke_body 1 22)"
check "the operator's revoke again on B: 200, recorded ($code $(j -c '{revokedPorts, recordPending}'))" \
	test "$code $(j .recordPending)" = "200 false"
eventually_within "C is refused on host1's 22 (agent on B)" 5 cannot "$CL" $C "${IP[1]}" 22
api A DELETE "$TOKENS/t5b?$AV"
check "revoking the token t5b again on A: 200 ($code)" test "$code" = 200

echo "6. the database stops: a write answers 503 with Retry-After at once, never hangs; it restarts: service resumes by itself"
PGD=$(sed 's/.*host=\([^&]*\).*/\1/' <<<"$JITGATE_TEST_PG")
pg_ctl_as() { runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_ctl -D "$PGD/data" "$@" >>"$E2E_TMP/pgctl.log" 2>&1; }
check "the throwaway PostgreSQL stops (pg_ctl -m fast)" pg_ctl_as -m fast -w -t 10 stop
t0=$(now_ms)
api A POST "$POL/initiate?$AV" "$(fleet_initiate_body 1 22 $C 600)"
ms=$(( $(now_ms) - t0 ))
ra=$(tr -d '\r' <"$E2E_TMP/hdr" | awk -F': ' 'tolower($1) == "retry-after" { print $2 }')
check "an initiate on A while it is down: 503 with Retry-After in $ms ms ($code $(j -r .error.code), Retry-After: ${ra:-none})" \
	bash -c '[[ $1 == 503 && -n $2 ]] && (( $3 < 5000 ))' _ "$code" "$ra" "$ms"
TOK= api B POST "$POL/revoke?$AV" "$(fleet_revoke_body 1 22)"
check "a revoke on B while it is down: 503 with Retry-After ($code)" bash -c '[[ $1 == 503 ]] && grep -qi "^retry-after: " "$2"' _ \
	"$code" "$E2E_TMP/hdr"
check "both replicas still run" kill -0 "${RPID[A]}" "${RPID[B]}"
check "the throwaway PostgreSQL starts again" pg_ctl_as -l "$PGD/server.log" -w -t 30 \
	-o "-c listen_addresses='' -k $PGD -c fsync=off -c synchronous_commit=off -c full_page_writes=off" start
recovered() { api A GET "$POL?$AV"; [[ $code == 200 ]]; }
t0=$(now_ms)
eventually_within "A answers again by itself within 15 s" 15 recovered
echo "  A answered 200 again $(( $(now_ms) - t0 )) ms after the database was back"
api A POST "$POL/revoke?$AV" "$(fleet_revoke_body 1 22)"
check "a revoke of host1:22 on A after the restart: 200 ($code)" test "$code" = 200
for src in $C $C2; do eventually_within "$src is refused on host1's 22 (agent on B or, if it moved, A)" 5 cannot "$CL" $src "${IP[1]}" 22; done
api A POST "$POL/initiate?$AV" "$(fleet_initiate_body 1 22 $C 600)"
check "an initiate on A after the restart: 202 ($code)" test "$code" = 202
eventually_within "C reaches host1's 22 again" 5 can "$CL" $C "${IP[1]}" 22

check "both replicas still run, neither logged a store failure" bash -c 'kill -0 "$1" "$2" && ! grep -i "store.*fail\|cannot" "$3" "$4"' _ \
	"${RPID[A]}" "${RPID[B]}" "$E2E_TMP/jitgatedA.log" "$E2E_TMP/jitgatedB.log"

echo "7. replica B killed: host1's agent, which watched B, moves to A; A's grants reach it"
kill -KILL "${RPID[B]}"; wait "${RPID[B]}" 2>/dev/null
t0=$(now_ms)
api A POST "$POL/revoke?$AV" "$(fleet_revoke_body 1 22)"
check "a revoke of host1:22 on A with B dead: 200 ($code)" test "$code" = 200
eventually_within "C is refused on host1's 22 within 10 s (the agent reached A)" 10 cannot "$CL" $C "${IP[1]}" 22
echo "  B killed -> host1 closed through A: $(( $(now_ms) - t0 )) ms (the agent's retry backoff included)"
check "host1's agent now enforces what A sends" grep -q "from https://$RA:8443" "${ALOG[1]}"
api A POST "$POL/initiate?$AV" "$(fleet_initiate_body 1 22 $C2 600)"
check "an initiate on A: 202 ($code)" test "$code" = 202
eventually_within "C2 reaches host1's 22 (its agent now on A)" 5 can "$CL" $C2 "${IP[1]}" 22
check "replica A and host1's agent still run" kill -0 "${RPID[A]}" "${APID[1]}"

echo "8. the activity log both replicas appended to is one unbroken hash chain"
out=$(timeout 30 "$JITGATED" audit verify --store "$JITGATE_TEST_PG" 2>&1)
check "jitgated audit verify on the shared database: intact ($(head -c 120 <<<"$out"))" grep -q "^audit verify: intact:" <<<"$out"
(( E2E_FAIL )) && for f in jitgatedA jitgatedB agent1 agent2; do echo "--- $f.log"; tail -15 "$E2E_TMP/$f.log"; done
e2e_summary

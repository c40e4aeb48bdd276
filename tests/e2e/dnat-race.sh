#!/usr/bin/env bash
# End-to-end: two jitgated on one PostgreSQL give gateway DNAT's mapped ports at the same moment; none is given twice.
#
#   replica A (API on 10.233.1.1; public address 10.233.0.1) ─┐
#   replica B (API on 10.233.1.2; public address 10.233.0.1) ─┼── bridge ── client
#
# DNAT needs gateway VMs, which on PostgreSQL only a jitgated started with --single-replica takes: here both are
# (the careless operator: two replicas each told it is the database's only one), each on a host with the same public
# address. RACE_PAIRS pairs of policy PUTs, all at once: in each pair A and B pin the same mapped port for their own
# VM; exactly one wins, the other gets the MappedPortInUse 400 body. Then RACE_PAIRS pairs that let jitgated pick:
# every picked port differs. The store's dnat_ports key (migration "DNAT's mapped ports, unique") agrees. Last, the
# rows emptied (a store written before that migration) and both replicas started at once: each row comes back once.
# Usage: tests/e2e/on-pg.sh dnat-race.sh [BUILD_DIR]   (as root; needs curl, jq, openssl, psql)
#        RACE_PAIRS=N (default 20)
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
e2e_binaries "${1:-$here/../../build}"
e2e_require dnat-race.sh pg JITGATED curl jq openssl psql || exit 1
export JITGATE_TEST_PG_SINGLE=1	# both replicas: --single-replica (DNAT's gateway VMs need it)
PAIRS=${RACE_PAIRS:-20}

C=10.233.1.21 PUB=10.233.0.1
replica_net dr 10.233.1.1 10.233.1.2 $C || exit 1
for n in "$RA_NS" "$RB_NS"; do
	ip -n "$n" link add pub0 type veth peer name pub1 && ip -n "$n" link set pub0 up && ip -n "$n" link set pub1 up && addr_add "$n" pub0 $PUB/32 || exit 1
done

replica_conf 'dnat_ports = 51000-51999' || exit 1
for r in A B; do check "replica $r starts (--single-replica)" replica_start $r --vm-name "rep$r"; done
T=$("$JITGATED" token create --name owner --role Owner --state-dir "$E2E_TMP/stateA")
SUB=00000000-0000-0000-0000-000000000000
RG=/subscriptions/$SUB/resourceGroups/default
CMP=$RG/providers/Microsoft.Compute/virtualMachines
PLOC=$RG/providers/Microsoft.Security/locations/local/jitNetworkAccessPolicies
AV=api-version=2020-01-01
put() { # A|B PATH BODY OUT: a PUT as the owner; the status, then the body, in OUT
	ip netns exec "$CL" curl -sS --max-time 20 --interface $C --cacert "$CERT" -o "$4" -w '%{http_code}' -X PUT \
		-H "Authorization: Bearer $T" -H 'Content-Type: application/json' --data-binary "$3" \
		"https://${RIP[$1]}:8443$2?$AV" >"$4.code" 2>>"$E2E_TMP/curl.err"
}
policy() { # VM [MAPPED_PORT]
	printf '{"properties":{"virtualMachines":[{"id":"%s","publicIpAddress":"%s","ports":[{"number":22,"protocol":"TCP","allowedSourceAddressPrefix":"*","maxRequestAccessDuration":"PT1H"%s}]}]}}' \
		"$CMP/$1" $PUB "${2:+,\"mappedPort\":$2}"
}

echo "1. gateway VMs: a$PAIRS and b$PAIRS on A and B (each pair one pinned race), c and d for the picks"
bad=0
for ((k = 1; k <= PAIRS; k++)); do
	for x in a:A:1 b:B:2 c:A:3 d:B:4; do
		IFS=: read -r name r net <<<"$x"
		put "$r" "$CMP/$name$k" "{\"location\":\"local\",\"properties\":{\"osType\":\"Linux\",\"enforcement\":\"gateway\",\"addresses\":[\"10.234.$net.$k\"]}}" \
			"$E2E_TMP/vm"
		[[ $(<"$E2E_TMP/vm.code") == 201 ]] || { bad=$((bad + 1)); echo "     ($name$k: $(<"$E2E_TMP/vm.code") $(<"$E2E_TMP/vm"))"; }
	done
done
check "$((4 * PAIRS)) gateway VMs registered (201 each; $bad not)" test $bad = 0

race() { # VM_A VM_B [PORT_BASE]: PAIRS pairs of PUTs at once: policy pVM_Ak of VM VM_Ak on A, pVM_Bk on B (pinning
	# mapped port PORT_BASE+k when given); the answers in E2E_TMP/pVM_Ak and pVM_Bk
	local k pids=()
	for ((k = 1; k <= PAIRS; k++)); do
		put A "$PLOC/p$1$k" "$(policy "$1$k" ${3:+$(($3 + k))})" "$E2E_TMP/p$1$k" & pids+=($!)
		put B "$PLOC/p$2$k" "$(policy "$2$k" ${3:+$(($3 + k))})" "$E2E_TMP/p$2$k" & pids+=($!)
	done
	wait "${pids[@]}"
}

echo "2. $PAIRS pairs at once: A and B each pin mapped port 51000+k for their own VM"
race a b 51000
won=0 lost=0 odd=()
for ((k = 1; k <= PAIRS; k++)); do
	ca=$(<"$E2E_TMP/pa$k.code") cb=$(<"$E2E_TMP/pb$k.code")
	if [[ "$ca $cb" == "200 400" ]]; then loser=$E2E_TMP/pb$k; elif [[ "$ca $cb" == "400 200" ]]; then loser=$E2E_TMP/pa$k;
	else odd+=("pair $k: $ca $cb"); continue; fi
	want=$(jq -cn --arg m "port $((51000 + k)) of $PUB is already mapped to another VM port" \
		'{error:{code:"MappedPortInUse",message:$m,target:"properties.virtualMachines[0].ports[0].mappedPort",details:[]}}')
	if [[ $(jq -c . "$loser") == "$want" ]]; then won=$((won + 1)); else odd+=("pair $k: $(<"$loser")"); fi
	[[ $ca == 200 ]] && lost=$((lost + 1))
done
check "each pair: exactly one 200, the other 400 with MappedPortInUse's body ($won of $PAIRS; A won $lost) ${odd[*]:0:3}" \
	test $won = $PAIRS
rows() { store_read "$E2E_TMP/stateA" "SELECT $1 FROM dnat_ports"; }
check "the store holds each pinned port once ($(rows 'count(*)') rows, $(rows 'count(DISTINCT port)') ports)" \
	test "$(rows 'count(*)') $(rows 'count(DISTINCT port)')" = "$PAIRS $PAIRS"
check "... and no losing policy was stored ($(store_read "$E2E_TMP/stateA" "SELECT count(*) FROM policies"))" \
	test "$(store_read "$E2E_TMP/stateA" "SELECT count(*) FROM policies")" = $PAIRS

echo "3. $PAIRS pairs at once that let jitgated pick: no port picked twice"
race c d
codes=$(for ((k = 1; k <= PAIRS; k++)); do echo "$(<"$E2E_TMP/pc$k.code") $(<"$E2E_TMP/pd$k.code")"; done | tr ' ' '\n' | sort | uniq -c | tr -s ' \n' ' ')
check "every pick answered 200 ($codes)" test "$codes" = " $((2 * PAIRS)) 200 "
picked=$(for ((k = 1; k <= PAIRS; k++)); do jq '.properties.virtualMachines[0].ports[0].mappedPort' "$E2E_TMP/pc$k" "$E2E_TMP/pd$k"; done | sort -u | wc -l)
check "$((2 * PAIRS)) different ports picked ($picked)" test "$picked" = $((2 * PAIRS))
check "the store's table agrees ($(rows 'count(*)') rows, $(rows 'count(DISTINCT port)') ports)" \
	test "$(rows 'count(*)') $(rows 'count(DISTINCT port)')" = "$((3 * PAIRS)) $((3 * PAIRS))"

check "B, the second to say it is the database's only jitgated, warns at its start; A does not" bash -c \
	'grep -q "WARNING: single_replica, but another jitgated on this database says it is the only one too" "$2" &&
	! grep -q "says it is the only one" "$1"' _ "$E2E_TMP/jitgatedA.log" "$E2E_TMP/jitgatedB.log"

echo "4. a store written before dnat_ports (rows emptied behind its back): A and B start again at the same moment"
for r in A B; do kill "${RPID[$r]}"; done
for r in A B; do
	for ((i = 0; i < 200; i++)); do kill -0 "${RPID[$r]}" 2>/dev/null || break; sleep 0.05; done
done
store_sql "$E2E_TMP/stateA" "DELETE FROM dnat_ports"
check "... the rows are gone ($(rows 'count(*)'))" test "$(rows 'count(*)')" = 0
for r in A B; do
	ip netns exec "${RNS[$r]}" "$JITGATED" --single-process --state-dir "$E2E_TMP/state$r" --listen "${RIP[$r]}:8443" \
		--vm-name "rep$r" --config "$E2E_TMP/jitgated.conf" >>"$E2E_TMP/jitgated$r.log" 2>&1 &
	RPID[$r]=$!
	E2E_PIDS+=(${RPID[$r]})
done
for r in A B; do
	check "replica $r starts again" e2e_wait_healthy "$CL" "$CERT" "https://${RIP[$r]}:8443" "${RPID[$r]}"
done
check "each policy's mapped port is a row again, once ($(rows 'count(*)') rows, $(rows 'count(DISTINCT port)') ports)" \
	test "$(rows 'count(*)') $(rows 'count(DISTINCT port)')" = "$((3 * PAIRS)) $((3 * PAIRS))"
# rows whose policy's stored mapping names their port
held() { store_read "$E2E_TMP/stateA" "SELECT count(*) FROM dnat_ports d JOIN policies p ON p.id = d.policy_id WHERE p.json LIKE ('%\"mappedPort\":' || d.port || '%')"; }
check "... each held by the policy that maps it ($(held) of $((3 * PAIRS)))" test "$(held)" = $((3 * PAIRS))
check "both replicas still run" kill -0 "${RPID[A]}" "${RPID[B]}"
(( E2E_FAIL )) && for f in jitgatedA jitgatedB; do echo "--- $f.log"; tail -8 "$E2E_TMP/$f.log"; done
e2e_summary

#!/usr/bin/env bash
# End-to-end: on PostgreSQL every protected host is an agent VM (issue 14), and what two replicas racing must not break.
#
#   replica A (jitgated on RA:8443; later also jitgate-agent "repA" on this same host, 22 and 2222 listening) ─┐
#   replica B (jitgated on RB:8443) ───────────────────────────────────────────────────────────────────────────┼─ bridge
#   client (C, the requester; M, the approvers) ───────────────────────────────────────────────────────────────┘
#
# 0. A alone with --single-replica protects its own host (local VM repA); it stops. 1. A and B start without it
# (agents only): repA's policy is reported (log, Unsupported), never enforced, and initiates on it are refused;
# neither replica has a kernel table. 2. Policies naming a local or gateway VM are refused whole (exact body, the
# CLI's message, store and kernels unchanged). 3. The replica's own host runs an agent (the operator guide's three
# commands) and is protected through it. 4. An extend applied by that agent (the kernel element's timeout moves;
# TCP after the old end and not after the new one). 5. Approvals racing on A and B (1 and 2 required).
# Usage: tests/e2e/on-pg.sh agents-only.sh [BUILD_DIR]   (as root; needs curl, jq, openssl, psql)
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
e2e_binaries "${1:-$here/../../build}"
e2e_require agents-only.sh pg "JITGATED JG AGENT NETPROBE" curl jq openssl psql || exit 1
export JITGATE_TEST_PG_SINGLE=	# several replicas: agents only (step 0 asks for --single-replica itself)
USR=jitgate-agent-t
e2e_user "$USR" || exit 1
chmod 0711 "$E2E_TMP"	# the agent's user must reach its state directory below it

NET=10.245.0
C=$NET.21 M=$NET.29
replica_net ao $NET.1 $NET.2 $C $M || exit 1
listen "$RA_NS" 22 2222 || exit 1
replica_conf 'agent_watch_wait = PT25S' || exit 1
ao_start() { local r=$1; shift; replica_start "$r" --vm-name "rep$r" --resource-group rg1 "$@"; }	# A|B [FLAGS...]
SUB=00000000-0000-0000-0000-000000000000
RG=/subscriptions/$SUB/resourceGroups/rg1
CMP=$RG/providers/Microsoft.Compute/virtualMachines
PLOC=$RG/providers/Microsoft.Security/locations/local/jitNetworkAccessPolicies
POL=$PLOC/default OLDPOL=$PLOC/old GWPOL=$PLOC/gw
LOG=/subscriptions/$SUB/providers/Microsoft.Security/jitActivityLog
AV=api-version=2020-01-01
api() { replica_api "$@"; }	# A|B METHOD PATH [BODY], as $TOK from $SRC
j() { jq -r "$@" <<<"$R" 2>/dev/null; }
answered() { [[ "$code $(jq -c . <<<"$R" 2>/dev/null)" == "$1 $2" ]] || { echo "     (got $code $R)"; return 1; }; }
err_body() { jq -cn --arg c "$1" --arg m "$2" --arg t "$3" '{error:{code:$c,message:$m,target:$t,details:[]}}'; }
jg() { replica_jg "$@"; }	# A|B ARGS...: the CLI against one replica as the owner; sets rc, out, err
rule() { # NUMBER [APPROVAL_JSON]
	printf '{"number":%d,"protocol":"TCP","allowedSourceAddressPrefix":"*","maxRequestAccessDuration":"PT1H"%s}' "$1" \
		"${2:+,\"approval\":$2}"
}
policy_body() { # VM RULES...: a policy of one VM
	local vm=$1; shift
	local IFS=,
	printf '{"properties":{"virtualMachines":[{"id":"%s","ports":[%s]}]}}' "$CMP/$vm" "$*"
}
initiate_body() { # VM PORT SOURCE END_MS
	printf '{"virtualMachines":[{"id":"%s","ports":[{"number":%d,"endTimeUtc":"%s","allowedSourceAddressPrefix":"%s"}]}],"justification":"e2e"}' \
		"$CMP/$1" "$2" "$(iso_ms "$4")" "$3"
}
tables() { ip netns exec "$1" nft list tables 2>&1 | tr '\n' ' '; }
store_state() { store_read "$E2E_TMP/stateA" "SELECT (SELECT count(*) FROM policies) || ' ' || (SELECT coalesce(string_agg(name || ':' || md5(json), ',' ORDER BY name), '') FROM policies) || ' ' || (SELECT count(*) FROM requests)"; }
REASON='with its store on PostgreSQL, jitgated enforces only through agents: run jitgate-agent on this host and put its agent VM in the policy (doc/operator.md, "One enforcer per host")'
required() { # VMTEXT KIND: the AgentRequired message
	printf "the virtual machine '%s' is a %s VM: with its store on PostgreSQL, jitgated enforces only through agents; run jitgate-agent on that host (jitgate-agent join) and put its agent VM in the policy" "$1" "$2"
}

echo "0. replica A alone, --single-replica: it protects its own host (local VM repA) as on SQLite"
check "A starts with --single-replica" ao_start A --single-replica
T_OWNER=$("$JITGATED" token create --name owner --role Owner --state-dir "$E2E_TMP/stateA")
api A PUT "$OLDPOL?$AV" "$(policy_body repA "$(rule 22)")"
check "a policy on repA (local): 200 ($code $(j -c .error))" test "$code" = 200
check "C is refused on A's 22: A's own kernel enforces it" cannot "$CL" $C $RA 22
replica_stop A

echo "1. A and B without --single-replica: agents only; repA's old policy is reported, not enforced"
check "A starts (healthy: no kernel table is needed)" ao_start A
check "B starts" ao_start B
check "A's log names repA's policy as NOT ENFORCED" grep -q "the local VM $CMP/repA is in a policy but is NOT ENFORCED: $REASON" \
	"$E2E_TMP/jitgatedA.log"
check "... and counts it" grep -q "1 local or gateway VM(s) in policies are Unsupported and not enforced" "$E2E_TMP/jitgatedA.log"
check "B keeps no kernel table (nft list tables: '$(tables "$RB_NS")')" test -z "$(tables "$RB_NS")"
api B GET "$CMP/repA?$AV"
check "repA's status on B: Unsupported, with the reason ($code $(j .properties.jit.status))" \
	test "$code|$(j .properties.jit.status)|$(j .properties.jit.reason)" = "200|Unsupported|$REASON"
api B GET "/subscriptions/$SUB/providers/Microsoft.Compute/virtualMachines?$AV"
check "no replica registered a local VM for itself: the inventory holds only the old repA ($(j -c '[.value[].name]'))" \
	test "$(j -c '[.value[].name]')" = '["repA"]'
api B POST "$OLDPOL/initiate?$AV" "$(initiate_body repA 22 $C $(( $(now_ms) + 60000 )))"
check "an initiate on repA's old policy: 400 AgentRequired, exact body" answered 400 \
	"$(err_body AgentRequired "$(required "$CMP/repA" local)" "virtualMachines[0].id")"
check "... no request was stored" test "$(store_read "$E2E_TMP/stateA" "SELECT count(*) FROM requests")" = 0

echo "2. a policy naming a local or gateway VM is refused whole: exact body, the CLI's message, nothing changed"
api B PUT "$CMP/gw1?$AV" '{"location":"local","properties":{"osType":"Linux","enforcement":"gateway","addresses":["10.245.0.50"]}}'
check "a gateway VM gw1 registers (inventory only): 201 ($code)" test "$code" = 201
before=$(store_state) kb=$(tables "$RB_NS") ka=$(tables "$RA_NS")
api B PUT "$GWPOL?$AV" "$(policy_body gw1 "$(rule 22)")"
check "PUT a policy on gw1: 400 AgentRequired naming the VM, exact body" answered 400 \
	"$(err_body AgentRequired "$(required "$CMP/gw1" gateway)" "properties.virtualMachines[0].id")"
api A PUT "$OLDPOL?$AV" "$(policy_body repA "$(rule 22)" "$(rule 2222)")"
check "rewriting repA's old policy on A: 400 AgentRequired ($code $(j .error.code) $(j .error.target))" \
	test "$code $(j .error.code) $(j .error.target)" = "400 AgentRequired properties.virtualMachines[0].id"
jg A enable gw1 --port 22 --max 1h
check "jitgate enable gw1: exit 1 and the server's message, naming the field ($rc: $err)" test "$rc|$err" = \
	"1|jitgate enable: AgentRequired: $(required "$CMP/gw1" gateway) (at properties.virtualMachines[0].id)"
check "the store is unchanged (policies and requests: $(store_state))" test "$(store_state)" = "$before"
check "neither replica's namespace has a kernel table now" test "$(tables "$RB_NS")|$(tables "$RA_NS")" = "$kb|$ka"
check "... A's namespace holds only what the stopped single replica left (inet jitgate: '$ka')" test "$ka" = "table inet jitgate "

echo "3. the replica's own host runs jitgate-agent (the operator guide's three commands) and is protected through it"
api B DELETE "$OLDPOL?$AV"
check "the old policy of repA is deleted (no kernel involved): 200 ($code)" test "$code" = 200
api B DELETE "$CMP/repA?$AV"
check "... and the old local VM record: 200 ($code $(j -c .error))" test "$code" = 200
jg B -q agent token create --resource-group rg1
JT=$out
check "1/3 jitgate agent token create (rc $rc)" bash -c '[[ $1 == 0 && $2 == jgj_* ]]' _ "$rc" "$JT"
AST=$E2E_TMP/agent ALOG=$E2E_TMP/agent.log
mkdir -m 0700 "$AST"; : >"$ALOG"
ip netns exec "$RA_NS" "$AGENT" join --server "https://$RA:8443" --server "https://$RB:8443" --token "$JT" \
	--ca-fingerprint "$FP" --name repA --state-dir "$AST" >"$E2E_TMP/join" 2>&1; rc=$?
check "2/3 jitgate-agent join on A's host, as repA (exit $rc: $(tail -1 "$E2E_TMP/join" | cut -c1-80))" test $rc = 0
ip netns exec "$RA_NS" "$AGENT" run --state-dir "$AST" --user "$USR" >>"$ALOG" 2>&1 &
APID=$!
E2E_PIDS+=($APID)
check "3/3 jitgate-agent run: it enforces the server's state" agent_wait_enforcing "$ALOG" "$APID"
check "the agent took over the table the single replica left: C reaches A's 22 (nothing protects it yet)" can "$CL" $C $RA 22
api B PUT "$PLOC/mixed?$AV" "{\"properties\":{\"virtualMachines\":[{\"id\":\"$CMP/repA\",\"ports\":[$(rule 22)]},{\"id\":\"$CMP/gw1\",\"ports\":[$(rule 22)]}]}}"
check "a policy of repA (agent) and gw1 (gateway) is refused whole: 400 naming gw1 ($code $(j .error.target))" \
	test "$code $(j .error.code) $(j .error.target)" = "400 AgentRequired properties.virtualMachines[1].id"
sleep 0.5
check "... nothing of it applied: C still reaches A's 22" can "$CL" $C $RA 22
jg B enable repA --port 22 --port 2222 --max 1h
check "jitgate enable repA --port 22 --port 2222 (rc $rc: $err)" test $rc = 0
eventually_within "C is refused on A's 22 (the agent on A's host enforces it)" 5 cannot "$CL" $C $RA 22
api A GET "$POL?$AV"
check "A's API still answers on its host, 8443 not being in the policy: 200 ($code)" test "$code" = 200
api A GET "$CMP/repA?$AV"
check "repA is an agent VM, Configured ($(j .properties.enforcement) $(j .properties.jit.status))" \
	test "$(j .properties.enforcement) $(j .properties.jit.status)" = "agent Configured"

echo "4. an extend applied by the agent: the kernel element's timeout moves; TCP after the old end, not after the new"
T0=$(now_ms)
api B POST "$POL/initiate?$AV" "$(initiate_body repA 22 $C $((T0 + 6000)))"
check "initiate repA:22 for C, 6 s: 202 ($code)" test "$code" = 202
eventually_within "C reaches A's 22" 5 can "$CL" $C $RA 22
expires() { # the seconds left on the kernel element of C on 22 in A's namespace
	ip netns exec "$RA_NS" nft list table inet jitgate 2>/dev/null | tr ',{}' '\n\n\n' |
		grep -E "^ *${C//./\\.} \. (tcp|6) \. 22 " | grep -o 'expires [0-9hms]*' | head -1 | sed 's/expires //' |
		awk '{ s = 0; if (match($0, /[0-9]+m([0-9]|$)/)) s += substr($0, RSTART, RLENGTH) * 60;
			if (match($0, /[0-9]+s/)) s += substr($0, RSTART, RLENGTH - 1); print s }'
}
e1=$(expires)
check "the kernel element expires within 6 s (${e1:-none} s)" bash -c '[[ -n $1 ]] && (( $1 <= 6 ))' _ "$e1"
api A POST "$POL/extend?$AV" "{\"virtualMachines\":[{\"id\":\"$CMP/repA\",\"ports\":[{\"number\":22,\"endTimeUtc\":\"$(iso_ms $((T0 + 14000)))\"}]}]}"
check "extend to 14 s on A: 200, 1 port ($code $R)" answered 200 '{"extendedPorts":1}'
moved() { local e; e=$(expires); [[ -n $e ]] && (( e >= 9 )); }
eventually_within "the agent moved the kernel element's timeout (expires $(expires) s, then ≥ 9 s)" 5 moved
echo "  nft after the extend: expires $(expires) s"
sleep_until $((T0 + 7500))
check "1.5 s past the old end, C still connects to A's 22" can "$CL" $C $RA 22
sleep_until $((T0 + 14800))
check "0.8 s past the new end, C cannot" cannot "$CL" $C $RA 22

echo "5. approvals racing on A and B"
T_BOB=$("$JITGATED" token create --name bob --role SecurityAdmin --state-dir "$E2E_TMP/stateA")
T_CAROL=$("$JITGATED" token create --name carol --role SecurityAdmin --state-dir "$E2E_TMP/stateA")
T_ALICE=$("$JITGATED" token create --name alice --role JitRequester --state-dir "$E2E_TMP/stateA")
ROUNDS=6
race() { # N_REQUIRED ROUND: alice asks for 2222; bob on A and carol on B approve at once; their answers in $E2E_TMP/dec.*
	TOK=$T_ALICE api A POST "$POL/initiate?$AV" "$(initiate_body repA 2222 $C $(( $(now_ms) + 30000 )))"
	RID=$(j -r .id)
	[[ $code == 202 ]] || { echo "     (initiate: $code $R)"; return 1; }
	local body="{\"requestId\":\"$RID\"}" pids=()
	for who in A:$T_BOB B:$T_CAROL; do
		ip netns exec "$CL" curl -sS --max-time 10 --interface $M --cacert "$CERT" -o "$E2E_TMP/dec.${who%%:*}" \
			-w '%{http_code}' -X POST -H "Authorization: Bearer ${who#*:}" -H 'Content-Type: application/json' \
			--data-binary "$body" "https://${RIP[${who%%:*}]}:8443$POL/approve?$AV" >"$E2E_TMP/dec.${who%%:*}.code" &
		pids+=($!)
	done
	wait "${pids[@]}"
}
outcome() { # the two answers, sorted: "CODE STATUS/APPROVALS" each
	local r
	for r in A B; do echo "$(<"$E2E_TMP/dec.$r.code") $(jq -r '"\(.status // .error.code)/\(.approvals // "-")"' "$E2E_TMP/dec.$r")"; done | sort | tr '\n' ' '
}
grants_of() { store_read "$E2E_TMP/stateA" "SELECT count(*) FROM grants WHERE request_id = '$1'"; }
log_rows() { # RID STATUS: activity rows of that status naming the request
	api B GET "$LOG?$AV&\$top=500"
	j --arg r "$1" --arg s "$2" '[.value[] | select(.status == $s and ((.detail // "") + (.resourceId // "") | contains($r)))] | length'
}
for need in 1 2; do
	api B PUT "$POL?$AV" "$(policy_body repA "$(rule 22)" "$(rule 2222 "{\"approvalsRequired\":$need,\"approverRole\":\"SecurityAdmin\"}")")"
	check "policy: 2222 needs $need approval(s) by a SecurityAdmin: 200 ($code $(j -c .error))" test "$code" = 200
	good=0 bad=()
	for ((k = 1; k <= ROUNDS; k++)); do
		race $need $k || { bad+=("round $k: no request"); continue; }
		o=$(outcome)
		if (( need == 1 )); then want="200 Approved/1 409 RequestNotPending/- "; else want="200 Approved/2 200 Pending/1 "; fi
		g=$(grants_of "$RID") op=$(log_rows "$RID" Opened) ap=$(log_rows "$RID" Approved)
		if [[ $o == "$want" && $g == 1 && $op == 1 && $ap == "$need" ]]; then good=$((good + 1)); else
			bad+=("round $k: answers '$o' grants $g Opened $op Approved $ap"); fi
		TOK=$T_ALICE api B POST "$POL/revoke?$AV" "{\"virtualMachines\":[{\"id\":\"$CMP/repA\",\"ports\":[{\"number\":2222}]}]}"
	done
	check "approvalsRequired $need, approvals on A and B at once, $ROUNDS rounds: each opens once (one grant, one Opened row, $need Approved) (${bad[*]:-all $good good})" \
		test "$good" = $ROUNDS
done
TOK=$T_ALICE api A POST "$POL/initiate?$AV" "$(initiate_body repA 2222 $C $(( $(now_ms) + 30000 )))"
RID=$(j -r .id)
TOK=$T_BOB api A POST "$POL/approve?$AV" "{\"requestId\":\"$RID\"}"
TOK=$T_CAROL api B POST "$POL/approve?$AV" "{\"requestId\":\"$RID\"}"
check "an approved request (2 of 2, on A then B): 200 Approved ($code $(j .status))" test "$code $(j .status)" = "200 Approved"
eventually_within "C reaches A's 2222 through the agent" 5 can "$CL" $C $RA 2222

check "both replicas and the agent still run" kill -0 "${RPID[A]}" "${RPID[B]}" "$APID"
(( E2E_FAIL )) && for f in jitgatedA jitgatedB agent; do echo "--- $f.log"; tail -15 "$E2E_TMP/$f.log"; done
e2e_summary

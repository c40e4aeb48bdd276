#!/usr/bin/env bash
# End-to-end: the server half of the agent protocol (doc/agent-protocol.md), driven with curl over real TCP.
#
#   client (A, A2, A3, A4, A5) ──veth── host (jitgated on V:8443, agent_watch_wait = PT3S)
#
# 1. Join with a join token; each bad join (used up, expired, revoked, unknown, an API token, a bad body,
#    a name taken by a gateway VM, a name held by a live agent) gets its exact code; a refused join spends no use.
# 2. The VM is in the inventory with enforcement agent and an agent object; a VM PUT cannot make or change one.
# 3. A policy enabled on it through the API; the watch: since=-1 answers at once with the ports; since=current
#    parks and is answered within 1 s of an initiate made by another client (latency printed); nothing
#    changing, it parks for agent_watch_wait (20 parked at once: each answered at its deadline, + 2 s at most);
#    the state holds the grant with remainingMs ≤ its duration.
# 4. Status: 204, and the request's port shows appliedTimeUtc (absent before).
# 4b. exposedManagementPorts: the agent VMs with a listening port no rule covers, per resource group and port;
#    a Reader of another group sees none, a Reader of one VM that VM alone; bad parameters name themselves;
#    a revoked agent's report is not listed.
# 4c. Unchanged statuses write nothing (the agent's seen_ns stays); changes past the VM's budget (20 a minute)
#    are 429; a newly applied revision is not.
# 4d. Two instance ids taking turns on one credential: inventory sharedCredential, one activity row, one log line.
# 5. Credentials where they do not belong: A's on B's path 403 (logged); an API token on /agent/v1 401; an agent
#    credential on the Azure API 401; failed agent authentications are rate-limited (429). A good credential on
#    another VM's path and a join refused with 409 (which spends no use) are budgeted the same way: a loop of
#    them gets 429 after 10 and adds at most 2 activity rows.
# 5b. Rotation: POST /agent/v1{VM}/rotate gives a new credential; the old works until the new is used; a loop of
#    rotations is 429 within the VM's budget.
# 6. jitgate agent list / revoke VM: the revoked agent's parked watch and its status get 401.
# 6b. jitgate vm list/show with agent columns (connected, disconnected since T, revoked, version), --group,
#    --status, --exposed (an out-of-scope Reader sees nothing); enable --recommended; jitgate request waits for
#    the agent's acknowledgement (open), says when it is disconnected (exit 5 at once) or too slow (exit 5 after 10 s).
# 7. 200 watches from one client at once: API_CONN_PER_SOURCE_MAX (128) park, the rest are refused at connect,
#    another source is still served, and one change wakes all 128 (the fan-out time is printed).
# 8. jitgated stopped while watches are parked: each gets a 503, not a hang.
# Usage: tests/e2e/agent-api.sh [BUILD_DIR]   (as root; needs curl, jq and sqlite3, or psql under on-pg.sh)
set -u
here=$(cd "$(dirname "$0")" && pwd)
BUILD=${1:-$here/../../build}
JITGATED=${JITGATED:-$BUILD/src/daemon/jitgated}	# on-pg.sh gives one whose store is PostgreSQL
JG=$BUILD/src/cli/jitgate
. "$here/lib.sh"

[[ $(id -u) == 0 ]] || { echo "agent-api.sh: needs root (network namespaces, nftables)"; exit 1; }
[[ -x $JITGATED && -x $JG ]] || { echo "agent-api.sh: build first ($JITGATED, $JG)"; exit 1; }
for t in curl jq $STORE_CLI; do command -v $t >/dev/null || { echo "agent-api.sh: needs $t"; exit 1; }; done

HOST=$(ns_new host) && CL=$(ns_new cl) || exit 1
link_new "$HOST" v0 "$CL" c0 || exit 1
V=10.237.0.1 A=10.237.0.2 A2=10.237.0.3 A3=10.237.0.4 A4=10.237.0.5 A5=10.237.0.6 A6=10.237.0.7 A7=10.237.0.8
addr_add "$HOST" v0 $V/24
for a in $A $A2 $A3 $A4 $A5 $A6 $A7; do addr_add "$CL" c0 $a/24; done

STATE=$E2E_TMP/state
SUB=00000000-0000-0000-0000-000000000000
JT=/subscriptions/$SUB/providers/Jitgate/joinTokens
AGENTS=/subscriptions/$SUB/providers/Jitgate/agents
CMP=/subscriptions/$SUB/resourceGroups/rg1/providers/Microsoft.Compute/virtualMachines
POL=/subscriptions/$SUB/resourceGroups/rg1/providers/Microsoft.Security/locations/local/jitNetworkAccessPolicies/fleet
LOG=/subscriptions/$SUB/providers/Microsoft.Security/jitActivityLog
AV=api-version=2020-01-01
SRVLOG=$E2E_TMP/jitgated.log
WAIT_S=3	# agent_watch_wait below
printf 'agent_watch_wait = PT%sS\n' $WAIT_S >"$E2E_TMP/jitgated.conf"

token() { "$JITGATED" token "$@" --state-dir "$STATE"; }
start_server() {
	jitgated_start "$HOST" "$CL" "$STATE" "$V:8443" "$SRVLOG" --vm-name host1 --config "$E2E_TMP/jitgated.conf"
	local rc=$?
	SRV=$JITGATED_PID
	return $rc
}
# call [-i ADDR] TOKEN METHOD PATH [BODY]: sets $code and $R (from source ADDR; default A).
call() {
	local src=$A
	[[ $1 == -i ]] && { src=$2; shift 2; }
	local tok=$1 m=$2 p=$3 body=${4-}
	local args=(-sS --max-time 10 --interface "$src" --cacert "$STATE/tls/cert.pem" -o "$E2E_TMP/resp"
		-w '%{http_code}' -X "$m")
	[[ -n $tok ]] && args+=(-H "Authorization: Bearer $tok")
	[[ -n $body ]] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
	code=$(ip netns exec "$CL" curl "${args[@]}" "https://$V:8443$p" 2>"$E2E_TMP/curl.err")
	R=$(cat "$E2E_TMP/resp" 2>/dev/null)
}
j() { jq -r "$@" <<<"$R" 2>/dev/null; }
# rows_like TEXT: activity rows whose JSON holds TEXT
rows_like() { call "$T_OWNER" GET "$LOG?$AV&\$top=1000"; j "[.value[] | select(tostring | test(\"$1\"))] | length"; }
# expect STATUS [ERRORCODE] DESCRIPTION: the last call answered that.
expect() {
	local st=$1 ec= what=${!#}
	(( $# >= 3 )) && ec=$2
	local got="$code${ec:+ $(j '.error.code // empty')}"
	check "$what → $st${ec:+ $ec} (got $got)" test "$got" = "$st${ec:+ $ec}"
}
# watch_bg NAME CRED VMPATH SINCE [ADDR]: a watch in the background; its answer in $E2E_TMP/w.NAME.{code,body,ms}.
watch_bg() {
	local n=$1 cred=$2 vm=$3 since=$4 src=${5:-$A}
	(
		t0=$(now_ms)
		ip netns exec "$CL" curl -sS --max-time 40 --interface "$src" --cacert "$STATE/tls/cert.pem" \
			-H "Authorization: Bearer $cred" -o "$E2E_TMP/w.$n.body" -w '%{http_code}' \
			"https://$V:8443/agent/v1$vm/state?since=$since" >"$E2E_TMP/w.$n.code" 2>/dev/null
		t1=$(now_ms)
		echo $(( t1 - t0 )) >"$E2E_TMP/w.$n.ms"
		echo "$t1" >"$E2E_TMP/w.$n.end"
	) &
	WPID=$!
}
join_body() { # NAME [ADDRESS]
	printf '{"name":"%s","osType":"Linux","revision":-1,"version":"e2e-1.0","kernel":{"supported":true},"addresses":["%s"],"listening":[{"number":22,"protocol":"TCP"}]}' \
		"$1" "${2:-192.0.2.50}"
}
status_body() { # REVISION
	printf '{"revision":%s,"version":"e2e-1.0","kernel":{"supported":true},"addresses":["192.0.2.50"],"listening":[{"number":22,"protocol":"TCP"},{"number":3389,"protocol":"TCP"}],"tamperUndone":2}' "$1"
}
join_token() { # [USES]: a join token for rg1; sets JTID and JTS
	call "$T_OWNER" POST "$JT?$AV" "{\"resourceGroup\":\"rg1\",\"uses\":${1:-1}}"
	JTID=$(j .id) JTS=$(j .token)
}

T_OWNER=$(token create --name owner --role Owner)
T_REQ=$(token create --name req --role JitRequester)
T_RG2=$(token create --name rg2reader --role Reader --scope "/subscriptions/$SUB/resourceGroups/rg2")
T_HOSTA=$(token create --name hostareader --role Reader --scope "$CMP/hosta")
check "jitgated is healthy" start_server

echo "1. join, and each bad join"
join_token 3
JT3=$JTS JT3ID=$JTID
call "" POST /agent/v1/join "$(join_body hosta 192.0.2.51)"
expect 401 AuthenticationFailed "join without a token"
call "$JT3" POST /agent/v1/join "$(join_body hosta 192.0.2.51)"
expect 201 "join hosta with a join token"
VMA=$(j .vm) CRED_A=$(j .credential) REV_A=$(j .revision)
check "the VM id is rg1's hosta ($VMA)" test "$VMA" = "$CMP/hosta"
check "the credential is jga_ and 48 characters" grep -qE '^jga_[A-Za-z0-9_-]{48}$' <<<"$CRED_A"
check "a revision came with it ($REV_A)" test "$REV_A" -ge 0
call "$JT3" POST /agent/v1/join "$(join_body hostb 192.0.2.52)"
expect 201 "join hostb with the same token (uses 3)"
VMB=$(j .vm) CRED_B=$(j .credential)
call "$T_OWNER" PUT "$CMP/gw1?$AV" '{"location":"local","properties":{"addresses":["192.0.2.60"]}}'
expect 201 "a gateway VM gw1"
call "$JT3" POST /agent/v1/join "$(join_body gw1)"
expect 409 VirtualMachineExists "join as gw1 (a gateway VM)"
call "$JT3" POST /agent/v1/join "$(join_body hosta)"
expect 409 AgentAlreadyJoined "join as hosta again (its agent is live)"
call "$JT3" POST /agent/v1/join '{"name":"hostz"}'
expect 400 MissingField "join with a body without revision"
call "$T_OWNER" GET "$JT?$AV"
check "the refused joins spent no use ($(j ".value[] | select(.id == \"$JT3ID\") | .usesLeft") left)" \
	test "$(j ".value[] | select(.id == \"$JT3ID\") | .usesLeft")" = 1
# the bad tokens from A2, under the failure budget of 10 per address
join_token 1
call -i $A2 "$JTS" POST /agent/v1/join "$(join_body hostc)"
expect 201 "join hostc with a one-use token"
VMC=$(j .vm) CRED_C=$(j .credential)
call -i $A2 "$JTS" POST /agent/v1/join "$(join_body hostd)"
expect 401 JoinTokenUsedUp "join again with it"
join_token 1
store_sql "$STATE" "UPDATE join_tokens SET expires_ns = 1 WHERE id = '$JTID'"
call -i $A2 "$JTS" POST /agent/v1/join "$(join_body hostd)"
expect 401 JoinTokenExpired "join with an expired token"
join_token 1
call "$T_OWNER" DELETE "$JT/$JTID?$AV"
call -i $A2 "$JTS" POST /agent/v1/join "$(join_body hostd)"
expect 401 JoinTokenRevoked "join with a revoked token"
call -i $A2 "jgj_nosuchtoken000000000000000000000000000000000000" POST /agent/v1/join "$(join_body hostd)"
expect 401 AuthenticationFailed "join with an unknown token"
call -i $A2 "$T_OWNER" POST /agent/v1/join "$(join_body hostd)"
expect 401 AuthenticationFailed "join with an API token"
call "$T_OWNER" GET "$CMP/hostd?$AV"
expect 404 "no hostd was made by the refused joins"

echo "2. the agent VM in the inventory"
call "$T_OWNER" GET "$CMP/hosta?$AV"
expect 200 "GET hosta"
check "enforcement agent" test "$(j .properties.enforcement)" = agent
check "agent: Connected, version e2e-1.0, appliedRevision -1" \
	test "$(j '"\(.properties.agent.state) \(.properties.agent.version) \(.properties.agent.appliedRevision)"')" = \
	"Connected e2e-1.0 -1"
check "its address is the one it reported" test "$(j '.properties.addresses[0]')" = 192.0.2.51
check "NotConfigured yet" test "$(j .properties.jit.status)" = NotConfigured
call "$T_OWNER" PUT "$CMP/hosta?$AV" '{"location":"local","properties":{"addresses":["192.0.2.99"]}}'
expect 409 AgentVirtualMachine "a VM PUT on an agent VM"
call "$T_OWNER" PUT "$CMP/hoste?$AV" '{"location":"local","properties":{"enforcement":"agent","addresses":["192.0.2.98"]}}'
expect 409 AgentVirtualMachine "a VM PUT that asks for an agent VM"

echo "3. a policy on it, and the watch"
pol='{"kind":"Basic","properties":{"virtualMachines":[{"id":"%s","ports":[{"number":22,"protocol":"TCP","allowedSourceAddressPrefix":"*","maxRequestAccessDuration":"PT3H"}]},{"id":"%s","ports":[{"number":3389,"protocol":"TCP","allowedSourceAddressPrefix":"*","maxRequestAccessDuration":"PT3H"}]}]}}'
call "$T_OWNER" PUT "$POL?$AV" "$(printf "$pol" "$VMA" "$VMB")"
expect 200 "PUT a policy with hosta (22) and hostb (3389)"
t0=$(now_ms)
call -i $A5 "$CRED_A" GET "/agent/v1$VMA/state?since=-1"
t1=$(now_ms)
expect 200 "watch since=-1"
check "answered at once ($(( t1 - t0 )) ms)" test $(( t1 - t0 )) -lt 1000
check "it is hosta's state" test "$(j .vm)" = "$VMA"
check "with port 22/TCP" test "$(j '.ports | map("\(.number)/\(.protocol)") | join(",")')" = 22/TCP
check "no grants yet" test "$(j '.grants | length')" = 0
REV=$(j .revision)
call -i $A5 "$CRED_A" GET "/agent/v1$VMA/state"
expect 200 "watch without since answers at once too"
call -i $A5 "$CRED_A" GET "/agent/v1$VMA/state?since=x1"
expect 400 InvalidSince "since=x1"
call -i $A5 "$CRED_A" GET "/agent/v1$VMA/state?since=-2"
expect 400 InvalidSince "since=-2"
call -i $A5 "$CRED_A" GET "/agent/v1$VMA/state?since=99999999999999999999"
expect 400 InvalidSince "since beyond INT64_MAX"

watch_bg park "$CRED_A" "$VMA" "$REV" $A5
sleep 0.5
end=$(( $(date +%s) + 3600 ))
body=$(printf '{"virtualMachines":[{"id":"%s","ports":[{"number":22,"endTimeUtc":"%s","allowedSourceAddressPrefix":"%s"}]}],"justification":"e2e"}' \
	"$VMA" "$(date -u -d @$end +%Y-%m-%dT%H:%M:%SZ)" $A)
ti=$(now_ms)
call "$T_REQ" POST "$POL/initiate?$AV" "$body"
expect 202 "initiate on hosta (another client)"
REQ_ID=$(j .id)
wait $WPID
R=$(cat "$E2E_TMP/w.park.body")
code=$(cat "$E2E_TMP/w.park.code")
expect 200 "the parked watch is answered"
lat=$(( $(cat "$E2E_TMP/w.park.end") - ti ))
echo "  wake latency: the watch had its answer ${lat} ms after the initiate was sent (held $(cat "$E2E_TMP/w.park.ms") ms in all)"
check "within 1 s of the initiate (${lat} ms)" test "$lat" -lt 1000
check "with a newer revision ($(j .revision) > $REV)" test "$(j .revision)" -gt "$REV"
check "and the grant from $A on 22" test "$(j '.grants | map("\(.source) \(.number) \(.requestId)") | join(",")')" = "$A/32 22 $REQ_ID" -o \
	"$(j '.grants | map("\(.source) \(.number) \(.requestId)") | join(",")')" = "$A 22 $REQ_ID"
left=$(j '.grants[0].remainingMs')
check "remainingMs ($left) ≤ the requested hour" test "$left" -le 3600000 -a "$left" -gt 3500000
REV2=$(j .revision)

t0=$(now_ms)
call -i $A5 "$CRED_A" GET "/agent/v1$VMA/state?since=$REV2"
t1=$(now_ms)
expect 200 "a watch at the current revision, nothing changing"
echo "  an idle watch was held $(( t1 - t0 )) ms (agent_watch_wait PT${WAIT_S}S)"
check "held for the wait ($(( t1 - t0 )) ms)" test $(( t1 - t0 )) -ge $(( WAIT_S * 1000 - 100 )) -a $(( t1 - t0 )) -lt $(( WAIT_S * 1000 + 1500 ))
check "then answered with the same revision" test "$(j .revision)" = "$REV2"
# many parked at once, nothing changing: each is answered at its own deadline, none held past it
NPARK=20
pids=()
for i in $(seq 1 $NPARK); do watch_bg "idle$i" "$CRED_A" "$VMA" "$REV2" $A5; pids+=($WPID); done
wait "${pids[@]}"
late=0 early=0 worst=0
for i in $(seq 1 $NPARK); do
	ms=$(cat "$E2E_TMP/w.idle$i.ms")
	[[ $(cat "$E2E_TMP/w.idle$i.code") == 200 ]] || late=$((late + 1))
	(( ms > worst )) && worst=$ms
	(( ms > WAIT_S * 1000 + 2000 )) && late=$((late + 1))
	(( ms < WAIT_S * 1000 - 100 )) && early=$((early + 1))
done
check "$NPARK watches parked at once were each answered 200 within the wait + 2 s (slowest $worst ms; $late late, $early early)" \
	test "$late $early" = "0 0"

echo "4. status, and appliedTimeUtc"
applied() { call "$T_OWNER" GET "$POL?$AV"; j ".properties.requests[] | select(.id == \"$REQ_ID\") | .virtualMachines[0].ports[0].appliedTimeUtc // empty"; }
check "no appliedTimeUtc before the agent says so" test -z "$(applied)"
call -i $A5 "$CRED_A" POST "/agent/v1$VMA/status" "$(status_body "$REV2")"
expect 204 "status with revision $REV2"
call -i $A5 "$CRED_A" POST "/agent/v1$VMA/status" '{"revision":"x"}'
expect 400 InvalidType "a status that does not decode"
sleep 1.1	# a policy GET is cached for at most 1 s
at=$(applied)
check "appliedTimeUtc on the request's port ($at)" test -n "$at"
call "$T_OWNER" GET "$CMP/hosta?$AV"
check "the inventory shows appliedRevision $REV2 and the listening ports" \
	test "$(j '"\(.properties.agent.appliedRevision) \(.properties.agent.listening)"')" = "$REV2 TCP/22 TCP/3389"

echo "4b. exposed management ports: listening, and no JIT rule on them"
EX=/subscriptions/$SUB/providers/Jitgate/exposedManagementPorts
EXRG=/subscriptions/$SUB/resourceGroups/rg1/providers/Jitgate/exposedManagementPorts
exposed() { j '[.value[] | "\(.name):\(.jitStatus):\(.ports | map("\(.number)/\(.protocol)") | join(","))"] | sort | join(" ")'; }
call "$T_OWNER" GET "$EX?$AV"
expect 200 "GET exposedManagementPorts"
# hosta listens on 22 and 3389 and its policy covers 22; hostb joined listening on 22, its rule is 3389;
# hostc joined listening on 22 and is in no policy; gw1 and host1 have no agent
check "hosta 3389, hostb 22, hostc 22 (got: $(exposed))" test "$(exposed)" = \
	"hosta:Configured:3389/TCP hostb:Configured:22/TCP hostc:NotConfigured:22/TCP"
check "an entry has id, resourceGroup, osType and reportedTimeUtc" test \
	"$(j '.value[] | select(.name == "hosta") | "\(.id) \(.resourceGroup) \(.osType) \(.reportedTimeUtc | test("^20[0-9-]+T[0-9:.]+Z$"))"')" = \
	"$VMA rg1 Linux true"
check "no nextLink under a page" test "$(j '.nextLink // "none"')" = none
call "$T_OWNER" GET "$EX?$AV&port=22"
check "?port=22: hostb and hostc (got: $(exposed))" test "$(exposed)" = "hostb:Configured:22/TCP hostc:NotConfigured:22/TCP"
call "$T_OWNER" GET "$EXRG?$AV"
check "under resource group rg1: the same three" test "$(j '.value | length')" = 3
call "$T_OWNER" GET "/subscriptions/$SUB/resourceGroups/rg2/providers/Jitgate/exposedManagementPorts?$AV"
check "under resource group rg2: none ($code, $(j '.value | length'))" test "$code $(j '.value | length')" = "200 0"
call "$T_OWNER" GET "$EX?$AV&\$skipToken=1"
check "\$skipToken=1: the last two" test "$(j '.value | length')" = 2
call "$T_RG2" GET "$EX?$AV"
check "a Reader of rg2 sees nothing of rg1 ($code, $(j '.value | length') entries)" test "$code $(j '.value | length')" = "200 0"
call "$T_HOSTA" GET "$EX?$AV"
check "a Reader of hosta alone sees hosta alone (got: $(exposed))" test "$(exposed)" = "hosta:Configured:3389/TCP"
call "" GET "$EX?$AV"
expect 401 AuthenticationFailed "exposedManagementPorts without a token"
call -i $A3 "$CRED_A" GET "$EX?$AV"	# from A3: a failed authentication spends its source's budget
expect 401 AuthenticationFailed "exposedManagementPorts with an agent credential"
call "$T_OWNER" GET "$EX?$AV&port=0"
expect 400 InvalidPortFilter "?port=0"
check "the error names the parameter port" test "$(j .error.target)" = port
call "$T_OWNER" GET "$EX?$AV&port=ssh"
expect 400 InvalidPortFilter "?port=ssh"
call "$T_OWNER" GET "$EX?$AV&\$skipToken=9"
expect 400 InvalidSkipToken "\$skipToken past the end"
call "$T_OWNER" GET "$EX"
expect 400 MissingApiVersionParameter "no api-version"
call "$T_OWNER" POST "$EX?$AV" '{}'
expect 405 MethodNotAllowed "POST on the list"

echo "4c. a status writes only what changed; changes beyond the VM's budget are 429"
# agent_row COLUMNS: hosta's agent row as the store has it (read-only, beside the running jitgated)
agent_row() { store_read "$STATE" \
	"SELECT $1 FROM agents WHERE vm_id = (SELECT id FROM vms WHERE name = 'hosta' COLLATE NOCASE)"; }
seen0=$(agent_row seen_ns)
codes=
for k in $(seq 1 20); do call -i $A5 "$CRED_A" POST "/agent/v1$VMA/status" "$(status_body "$REV2")"; codes+="$code "; done
check "20 unchanged statuses in a row: each 204 ($codes)" test "$codes" = "$(printf '204 %.0s' {1..20})"
check "... and none of them wrote the store (the agent's seen_ns is still $seen0)" test "$(agent_row seen_ns)" = "$seen0"
call "$T_OWNER" GET "$CMP/hosta?$AV"
check "... while the inventory still shows hosta Connected" test "$(j .properties.agent.state)" = Connected
codes=
for k in $(seq 1 25); do
	call -i $A5 "$CRED_A" POST "/agent/v1$VMA/status" "$(status_body $((REV2 - 1)) | sed "s/\"tamperUndone\":2/\"tamperUndone\":$((100 + k))/")"
	codes+="$code "
done
# the status of step 4 moved hosta's addresses (192.0.2.51 → .50): the first change of this window
check "25 statuses each changing something: 19 × 204 (20 changes with step 4's), then 429 ($codes)" \
	test "$codes" = "$(printf '204 %.0s' {1..19})$(printf '429 %.0s' {1..6})"
check "the 429's body names the budget ($(j .error.code): $(j .error.message))" \
	bash -c '[[ $1 == TooManyRequests && $2 =~ ^more\ than\ 20\ changed\ statuses\ of\ this\ VM\ within\ 60\ s\;\ retry\ after\ [0-9]+\ s$ ]]' \
	_ "$(j .error.code)" "$(j .error.message)"
check "the store holds the 20th change (tamperUndone $(agent_row tamper_undone))" test "$(agent_row tamper_undone)" = 119
call -i $A5 "$CRED_A" POST "/agent/v1$VMA/status" "$(status_body "$REV2")"
expect 204 "past the budget, a newly applied revision (up to the VM's) is still written"
check "... it is in the store ($(agent_row applied_revision))" test "$(agent_row applied_revision)" = "$REV2"

# jg ARGS...: the CLI from the client; sets rc, out, err
H=$E2E_TMP/home
mkdir -p "$H"
jg() {
	ip netns exec "$CL" env -i PATH="$PATH" HOME="$H" TZ=UTC JITGATE_SERVER="https://$V:8443" JITGATE_TOKEN="${JG_TOKEN:-$T_OWNER}" \
		JITGATE_CA="$STATE/tls/cert.pem" "$JG" "$@" </dev/null >"$E2E_TMP/out" 2>"$E2E_TMP/err"
	rc=$?
	out=$(<"$E2E_TMP/out")
	err=$(<"$E2E_TMP/err")
}
echo "4d. two agents sharing one credential (a copied state directory, a cloned image) are noticed"
SHARED="two agents use this VM's credential (a copied state directory or a cloned VM image): revoke it (jitgate agent revoke VM) and join each host anew"
st_inst() { call -i $A5 "$CRED_A" POST "/agent/v1$VMA/status?instance=$1" "$(status_body "$REV2")"; }
shared() { call "$T_OWNER" GET "$CMP/hosta?$AV"; j '.properties.agent.sharedCredential.message // empty'; }
rows0=$(rows_like "two agents use")
st_inst 0a1b2c
expect 204 "a status from instance 0a1b2c"
st_inst 9f8e7d
expect 204 "... then from 9f8e7d (as after a restart)"
st_inst 9f8e7d
check "a restart is not two agents: no sharedCredential in the inventory" test -z "$(shared)"
refuse "... no log line" grep -q "two agents use" "$SRVLOG"
st_inst 0a1b2c
expect 204 "0a1b2c comes back while 9f8e7d is live"
check "the inventory says so: agent.sharedCredential.message" test "$(shared)" = "$SHARED"
call "$T_OWNER" GET "$CMP/hosta?$AV"
check "... with detectedTimeUtc ($(j '.properties.agent.sharedCredential.detectedTimeUtc'))" \
	bash -c '[[ $1 =~ ^20[0-9-]+T[0-9:.]+Z$ ]]' _ "$(j '.properties.agent.sharedCredential.detectedTimeUtc')"
jg vm show hosta
check "jitgate vm show hosta prints it: Shared credential: the message (detected …) (rc $rc)" \
	bash -c '[[ $1 == 0 ]] && grep -qF "Shared credential:   $2 (detected 20" <<<"$3"' _ $rc "$SHARED" "$out"
jg vm list
check "jitgate vm list marks hosta: credential shared (rc $rc)" \
	bash -c '[[ $1 == 0 ]] && grep "^hosta " <<<"$2" | grep -q "credential shared"' _ $rc "$out"
for k in $(seq 1 10); do
	st_inst 9f8e7d
	call -i $A5 "$CRED_A" GET "/agent/v1$VMA/state?since=-1&instance=0a1b2c"
done
check "20 more calls taking turns (statuses and watches): still 200 and 204 ($code)" test "$code" = 200
check "one activity row for all of it ($(( $(rows_like "two agents use") - rows0 )))" \
	test $(( $(rows_like "two agents use") - rows0 )) = 1
eventually_within "one line in jitgated's log naming the VM" 2 \
	bash -c '[[ $(grep -c "agent VM .*/hosta: two agents use" "$1") == 1 ]]' _ "$SRVLOG"
call -i $A5 "$CRED_A" GET "/agent/v1$VMA/state?since=-1&instance=no%21"
expect 400 InvalidInstance "a malformed instance"
check "... its body names the field ($(j .error.target): $(j .error.message))" \
	test "$(j .error.target): $(j .error.message)" = "instance: instance must be 1 to 64 letters, digits, '-' or '_'"

echo "5. credentials where they do not belong"
call -i $A5 "$CRED_A" GET "/agent/v1$VMB/state?since=-1"
expect 403 AuthorizationFailed "hosta's credential on hostb's watch"
call -i $A5 "$CRED_A" POST "/agent/v1$VMB/status" "$(status_body 1)"
expect 403 AuthorizationFailed "hosta's credential on hostb's status"
call "$T_OWNER" GET "$LOG?$AV&\$top=50"
check "the activity log has the refusal" \
	test "$(j '[.value[] | select(.status == "Denied" and (.resourceId // .vm // "" | tostring | test("hostb")))] | length')" -ge 1 -o \
	"$(grep -c 'used its credential on another VM' <<<"$R")" -ge 1
call -i $A3 "$T_OWNER" GET "/agent/v1$VMA/state?since=-1"
expect 401 AuthenticationFailed "an API token on the watch"
call -i $A3 "$CRED_A" GET "$CMP?$AV"
expect 401 AuthenticationFailed "an agent credential on the Azure API"
call -i $A3 "$JT3" GET "$CMP?$AV"
expect 401 AuthenticationFailed "a join token on the Azure API"
for i in $(seq 1 10); do call -i $A4 "jga_wrong$i" GET "/agent/v1$VMA/state?since=-1"; done
expect 401 AuthenticationFailed "the tenth unknown agent credential from one address"
call -i $A4 "jga_wrong11" GET "/agent/v1$VMA/state?since=-1"
expect 429 TooManyRequests "the eleventh: rate-limited like any failed authentication"
# budgeted WHAT TEXT CODE CALL...: CALL 25 times from one address: 10 answered CODE, then 429 with the budget's
# exact body; at most 2 more activity rows holding TEXT (one Failed, one Throttled)
budgeted() {
	local what=$1 text=$2 want=$3 before after codes= k msg; shift 3
	before=$(rows_like "$text")
	for k in $(seq 1 25); do "$@"; codes+="$code "; done
	msg=$(j .error.message)
	after=$(rows_like "$text")
	check "$what: 10 × $want, then 429 ($codes)" \
		test "$codes" = "$(printf "$want %.0s" {1..10})$(printf '429 %.0s' {1..15})"
	check "$what: the 429's body is the failure budget's ($(j .error.code): $msg)" \
		bash -c '[[ $1 == TooManyRequests && $2 =~ ^more\ than\ 10\ failed\ authentications\ from\ $3\ within\ 60\ s\;\ retry\ after\ [0-9]+\ s$ ]]' \
		_ "$(j .error.code)" "$msg" "$3"
	check "$what: 25 refusals added $(( after - before )) activity rows (at most 2)" test $(( after - before )) -le 2 -a $(( after - before )) -ge 1
}
budgeted "hosta's credential on hostb's status, from one address" "used its credential on another VM" 403 \
	call -i $A6 "$CRED_A" POST "/agent/v1$VMB/status" "$(status_body 1)"
call -i $A6 "$CRED_A" POST "/agent/v1$VMA/status" "$(status_body "$REV2")"
expect 204 "... while hosta's own status from that address still passes"
budgeted "a join refused with 409 (hosta is live), from one address" "hosta" 409 \
	call -i $A7 "$JT3" POST /agent/v1/join "$(join_body hosta)"

echo "5b. credential rotation over the protocol (POST /agent/v1{VM}/rotate)"
call -i $A5 "$CRED_C" GET "/agent/v1$VMC/rotate"
expect 405 MethodNotAllowed "GET on rotate"
call -i $A5 "$CRED_A" POST "/agent/v1$VMC/rotate" '{}'
expect 403 AuthorizationFailed "hosta's credential rotating hostc's"
call -i $A5 "$CRED_C" POST "/agent/v1$VMC/rotate" '{}'
expect 201 "hostc rotates its credential"
NEW_C=$(j .credential)
check "the answer is the join's: hostc's VM id and a new jga_ credential" \
	bash -c '[[ $1 == "$2" && $3 =~ ^jga_[A-Za-z0-9_-]{48}$ && $3 != "$4" ]]' _ "$(j .vm)" "$VMC" "$NEW_C" "$CRED_C"
call -i $A5 "$CRED_C" GET "/agent/v1$VMC/state?since=-1"
expect 200 "the old credential still works until the new one is used"
call -i $A5 "$NEW_C" GET "/agent/v1$VMC/state?since=-1"
expect 200 "the new one works"
call -i $A5 "$CRED_C" GET "/agent/v1$VMC/state?since=-1"
expect 401 AuthenticationFailed "once the new one was used, the old one is refused"
CRED_C=$NEW_C
refuse "the new credential is not in jitgated's log" grep -qF -- "$NEW_C" "$SRVLOG"
# a stolen credential looping on rotate: each one writes the store and a row, so the VM's budget bounds them
rot0=$(rows_like "Jitgate/agents/rotate")
codes=
for k in $(seq 1 25); do call -i $A5 "$CRED_C" POST "/agent/v1$VMC/rotate" '{}'; codes+="$code "; done
check "25 rotations in a row: 201s, then 429 to the end ($codes)" bash -c '[[ $1 =~ ^(201\ )+(429\ )+$ ]]' _ "$codes"
check "... the 429 says TooManyRequests ($(j .error.code))" test "$(j .error.code)" = TooManyRequests
check "... at most 20 rotation rows in the activity log ($(( $(rows_like "Jitgate/agents/rotate") - rot0 )))" \
	test $(( $(rows_like "Jitgate/agents/rotate") - rot0 )) -le 20
call -i $A5 "$CRED_C" GET "/agent/v1$VMC/state?since=-1"
expect 200 "hostc's credential still works: rotations never used end nothing"

echo "6. jitgate agent list and revoke"
jg agent list
check "agent list shows hosta, hostb, hostc (rc $rc)" bash -c '[[ $1 == 0 ]] && grep -q hosta <<<"$2" && grep -q hostb <<<"$2" && grep -q hostc <<<"$2"' _ "$rc" "$out"
call -i $A3 "$CRED_B" GET "/agent/v1$VMB/state?since=-1"
REVB=$(j .revision)
watch_bg revoked "$CRED_B" "$VMB" "$REVB" $A3
sleep 0.5
jg agent revoke hostb
check "agent revoke hostb exits 0 (rc $rc: $err)" test "$rc" = 0
wait $WPID
check "hostb's parked watch got 401 within 1 s ($(cat "$E2E_TMP/w.revoked.code"), $(cat "$E2E_TMP/w.revoked.ms") ms)" \
	test "$(cat "$E2E_TMP/w.revoked.code")" = 401 -a "$(cat "$E2E_TMP/w.revoked.ms")" -lt 1500
call -i $A3 "$CRED_B" POST "/agent/v1$VMB/status" "$(status_body 1)"
expect 401 AuthenticationFailed "hostb's status after the revoke"
jg -o json agent list
check "agent list says hostb is Revoked" test "$(jq -r '.value[] | select(.name == "hostb") | .state' <<<"$out")" = Revoked
jg agent revoke hostb
check "a second revoke is refused (exit $rc)" test "$rc" = 1
call "$T_OWNER" GET "$CMP/hostb?$AV"
check "hostb is Unsupported, its agent revoked" test "$(j .properties.jit.status) $(j .properties.agent.state)" = "Unsupported Revoked"
call "$T_OWNER" GET "/subscriptions/$SUB/providers/Jitgate/exposedManagementPorts?$AV"
check "a revoked agent's last report is not listed (got: $(exposed))" test "$(exposed)" = \
	"hosta:Configured:3389/TCP hostc:NotConfigured:22/TCP"
jg vm list
check "jitgate vm list: hostb Unsupported, its agent revoked ($(grep hostb <<<"$out"))" grep -qE '^hostb +rg1 +Unsupported +revoked ' <<<"$out"
jg vm show hostb
check "jitgate vm show hostb: its agent revoked, and when" bash -c 'grep -q "^Agent: *revoked$" <<<"$1" && grep -q "^Agent revoked: *20" <<<"$1"' _ "$out"
call "$JT3" POST /agent/v1/join "$(join_body hostb)"
expect 201 "hostb joins again (its agent was revoked) with the token's last use"

call -i $A3 "$CRED_C" GET "/agent/v1$VMC/state?since=-1"
watch_bg deleted "$CRED_C" "$VMC" "$(j .revision)" $A3
sleep 0.5
call "$T_OWNER" DELETE "$CMP/hostc?$AV"
expect 200 "DELETE the agent VM hostc"
wait $WPID
check "its parked watch got 401 at once ($(cat "$E2E_TMP/w.deleted.code"), $(cat "$E2E_TMP/w.deleted.ms") ms)" \
	test "$(cat "$E2E_TMP/w.deleted.code")" = 401 -a "$(cat "$E2E_TMP/w.deleted.ms")" -lt 1500
call -i $A3 "$CRED_C" POST "/agent/v1$VMC/status" "$(status_body 1)"
expect 401 AuthenticationFailed "hostc's credential was revoked with its VM"

echo "6b. jitgate vm with agent VMs; --group, --status, --exposed; enable --recommended; request waits for the agent"
join_token 1
call "$JTS" POST /agent/v1/join "$(join_body hostd 192.0.2.54)"
expect 201 "join hostd"
# hostd joined two hours ago and was never heard from since: disconnected
old=$(( ($(date +%s) - 7200) * 1000000000 ))
store_sql "$STATE" "UPDATE agents SET joined_ns = $old, seen_ns = $old WHERE vm_id = (SELECT id FROM vms WHERE name = 'hostd')"
jg vm list
# hosta is still marked for 4d's two instances (API_AGENT_SHARED_SHOW_NS: 10 minutes; this script takes under one)
check "vm list: hosta connected (credential shared), its agent's version ($(grep hosta <<<"$out"))" \
	grep -qE '^hosta +rg1 +Configured +connected, credential shared +e2e-1.0 ' <<<"$out"
check "vm list: hostd disconnected since two hours ago ($(grep hostd <<<"$out"))" \
	grep -qE "^hostd +rg1 +Not configured +disconnected since $(date -u -d @$(( $(date +%s) - 7200 )) +%Y-%m-%d) " <<<"$out"
check "vm list: gw1, a gateway VM, has no agent" grep -qE '^gw1 +rg1 +[A-Za-z ]+ +- ' <<<"$out"
jg vm show hostd
check "vm show hostd: disconnected since" grep -q '^Agent: *disconnected since 20' <<<"$out"
jg vm show hosta
check "vm show hosta: version, listening, exposed 3389 with the command to fix it" bash -c '
	grep -q "^Agent version: *e2e-1.0$" <<<"$1" && grep -q "^Listening: *TCP/22 TCP/3389$" <<<"$1" &&
	grep -q "^Exposed ports: *3389/TCP (no JIT rule; jitgate enable hosta --recommended)$" <<<"$1"' _ "$out"
jg -q vm list --group rg1
check "vm list --group rg1: its four VMs ($(tr '\n' ' ' <<<"$out"))" test "$(sort <<<"$out" | tr '\n' ' ')" = "gw1 hosta hostb hostd "
jg vm list --group rg2
check "vm list --group rg2: none (rc $rc)" bash -c '[[ $1 == 0 && $2 == "Configured (0)  Not configured (0)  Unsupported (0)"* ]]' _ "$rc" "$out"
jg vm list --group 'bad!'
check "vm list --group 'bad!': exit 2, the option named ($err)" bash -c '[[ $1 == 2 && $2 == *"--group: '"'bad!'"' is not a resource group name"* ]]' _ "$rc" "$err"
jg vm list --status nope
check "vm list --status nope: exit 2, the option named ($err)" bash -c '[[ $1 == 2 && $2 == *"--status: '"'nope'"'"* ]]' _ "$rc" "$err"
jg -q vm list --exposed
check "vm list --exposed: hosta, hostb, hostd ($(echo $out))" test "$(echo $out)" = "hosta hostb hostd"
jg vm list --exposed
check "vm list --exposed (table): hostd's 22, and how to enable JIT" bash -c 'grep -qE "^hostd +rg1 +Not configured +22/TCP +20" <<<"$1" &&
	grep -q "jitgate enable VM --recommended" <<<"$1"' _ "$out"
jg -q vm list --exposed --status not-configured
check "vm list --exposed --status not-configured: hostd ($out)" test "$out" = hostd
jg vm list --exposed --group rg2
check "vm list --exposed --group rg2: none (rc $rc: $out)" bash -c '[[ $1 == 0 && $2 == "No VM has"* ]]' _ "$rc" "$out"
JG_TOKEN=$T_RG2 jg -q vm list --exposed
check "a Reader of rg2: vm list --exposed shows nothing (rc $rc, '$out')" test "$rc:$out" = "0:"
JG_TOKEN=$T_HOSTA jg -q vm list --exposed
check "a Reader of hosta alone: hosta alone (rc $rc, '$out')" test "$rc:$out" = "0:hosta"
jg enable hostd --recommended
check "jitgate enable hostd --recommended (rc $rc: $err)" test "$rc" = 0
jg -q vm list --exposed
check "hostd is no longer exposed ($(echo $out))" test "$(echo $out)" = "hosta hostb"
jg vm show hostd
check "vm show hostd: no exposed port" grep -q '^Exposed ports: *-$' <<<"$out"

t0=$(now_ms)
jg request hostd --port 22 --for 1h
t1=$(now_ms)
check "request on hostd, whose agent is disconnected: exit 5 at once ($(( t1 - t0 )) ms), said so ($err)" \
	bash -c '[[ $1 == 5 && $2 == *"the agent of hostd is disconnected (since 20"* ]] && (( $3 < 5000 ))' _ "$rc" "$err" $(( t1 - t0 ))
check "... the grant is still printed, not as open" grep -q "^Access to hostd granted (request .*) but NOT open yet" <<<"$out"
jg request hosta --port 22 --for 1h --no-wait
check "request hosta --no-wait: exit 0, not waiting (rc $rc)" bash -c '[[ $1 == 0 && $2 == *"not waiting for its agent to apply it"* ]]' _ "$rc" "$out"
call -i $A5 "$CRED_A" GET "/agent/v1$VMA/state?since=-1"
REV0=$(j .revision)
( jg request hosta --port 22 --for 30m; echo "$rc" >"$E2E_TMP/bg.rc"; cp "$E2E_TMP/out" "$E2E_TMP/bg.out" ) &
BG=$!
for ((k = 0; k < 50; k++)); do	# the request made: the state's revision moves
	call -i $A5 "$CRED_A" GET "/agent/v1$VMA/state?since=-1"
	(( $(j .revision) > REV0 )) && break
	sleep 0.1
done
sleep 0.3
call -i $A5 "$CRED_A" POST "/agent/v1$VMA/status" "$(status_body "$(j .revision)")"
expect 204 "the (simulated) agent of hosta acknowledges the new revision"
wait $BG
check "request hosta waited for it: exit 0, 'open', applied in N ms ($(head -1 "$E2E_TMP/bg.out"))" bash -c '
	[[ $(cat "$1/bg.rc") == 0 ]] && grep -q "^Access to hosta open (request .*; applied by its agent in [0-9]* ms):" "$1/bg.out"' _ "$E2E_TMP"
t0=$(now_ms)
jg request hosta --port 22 --for 20m
t1=$(now_ms)
check "request hosta that its agent never acknowledges: exit 5 after the 10 s wait ($(( t1 - t0 )) ms): $err" \
	bash -c '[[ $1 == 5 && $2 == *"the agent of hosta did not apply it within 10 s"* ]] && (( $3 >= 10000 && $3 < 14000 ))' \
	_ "$rc" "$err" $(( t1 - t0 ))

echo "7. 200 watches from one client at once (jitgated again, with the 30 s wait)"
kill -TERM "$SRV"
wait "$SRV" 2>/dev/null
check "jitgated stopped cleanly (exit $?)" test $? = 0
WAIT_S=30
printf 'agent_watch_wait = PT%sS\n' $WAIT_S >"$E2E_TMP/jitgated.conf"
check "jitgated is healthy again" start_server
call -i $A5 "$CRED_A" GET "/agent/v1$VMA/state?since=-1"
REVA=$(j .revision)
pids=()
for i in $(seq 1 200); do watch_bg "many$i" "$CRED_A" "$VMA" "$REVA" $A5; pids+=($WPID); done
# once all 200 have connected or been refused, count the connections the server holds from A5
for ((k = 0; k < 100; k++)); do
	sleep 0.2
	refused=$(grep -lx 000 "$E2E_TMP"/w.many*.code 2>/dev/null | wc -l)
	(( refused >= 72 )) && break
done
sleep 0.5
held=$(ip netns exec "$HOST" ss -Htn state established "( sport = :8443 and dst $A5 )" | wc -l)
echo "  200 watches from one address: $held connections held at once, $refused refused at connect"
check "API_CONN_PER_SOURCE_MAX (128) connections are held, no more ($held)" test "$held" = 128
check "the other 72 were refused at connect ($refused)" test "$refused" = 72
t0=$(now_ms)
call -i $A "$T_OWNER" GET "$CMP/hosta?$AV"
t1=$(now_ms)
expect 200 "another source is served while they wait"
# not held behind the parked watches (they wait 30 s); the bound is loose because CI machines are shared
check "at once, not after the parked watches' wait ($(( t1 - t0 )) ms)" test $(( t1 - t0 )) -lt 5000
ti=$(now_ms)
call "$T_REQ" POST "$POL/initiate?$AV" "$body"
expect 202 "initiate on hosta again"
wait "${pids[@]}"
answered=0 last=0
for i in $(seq 1 200); do
	[[ $(cat "$E2E_TMP/w.many$i.code" 2>/dev/null) == 200 ]] || continue
	answered=$((answered + 1))
	e=$(cat "$E2E_TMP/w.many$i.end")
	(( e > last )) && last=$e
done
echo "  fan-out: all $answered parked watches had the new state $(( last - ti )) ms after the initiate was sent"
check "the 128 parked watches were all answered with the change" test "$answered" = 128
# woken by the change, not by the end of their 30 s wait: 128 curl processes on a shared, loaded machine can
# take over a second to be scheduled, so the figure is printed above and the bound is well under the wait
check "all woken by the change, well before their 30 s wait ($(( last - ti )) ms)" test $(( last - ti )) -lt 10000

echo "8. jitgated stopped while watches are parked"
call -i $A5 "$CRED_A" GET "/agent/v1$VMA/state?since=-1"
REVA=$(j .revision)
pids=()
for i in 1 2 3; do watch_bg "stop$i" "$CRED_A" "$VMA" "$REVA" $A5; pids+=($WPID); done
sleep 0.7
kill -TERM "$SRV"
wait "${pids[@]}"
for i in 1 2 3; do
	check "watch $i got 503 ServiceUnavailable in $(cat "$E2E_TMP/w.stop$i.ms") ms" \
		test "$(cat "$E2E_TMP/w.stop$i.code") $(jq -r .error.code "$E2E_TMP/w.stop$i.body" 2>/dev/null)" = \
		"503 ServiceUnavailable" -a "$(cat "$E2E_TMP/w.stop$i.ms")" -lt $(( WAIT_S * 1000 ))
done
wait "$SRV" 2>/dev/null
src=$?
check "jitgated exited cleanly (exit $src)" test "$src" = 0
refuse "no sanitizer report in jitgated's log" grep -q "Sanitizer" "$SRVLOG"
refuse "no credential in jitgated's log" grep -qF -- "$CRED_A" "$SRVLOG"

e2e_summary

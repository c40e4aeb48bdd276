#!/usr/bin/env bash
# End-to-end: GET /metrics, on the API with a token and on metrics_listen without one.
#
#   client CL (A) ──veth── host VM (jitgated on V:8443, metrics_listen 127.0.0.1:9469 inside VM)
#
# 1. promtool check metrics accepts the page (both ways of reading it); the operator guide's scrape
#    configuration and alert rules pass promtool check config / check rules, and each rule fires on the
#    series it is for and not on quiet ones (promtool test rules).
# 2. Who may read it: no token 401, a JitRequester 403, a Reader scoped to a resource group 403 (exact
#    bodies); Owner, Reader, SecurityReader and a custom role with only Jitgate/metrics/read 200.
#    metrics_listen serves GET /metrics alone: another path 404, another method 405 (exact bodies).
# 3. Values move as the test acts: an initiate moves requests, live grants, the group commit and the
#    kernel apply histogram; a refusal moves its code's counter; tampering undone moves the tamper and
#    drift counters; SIGHUP moves the reconcile runs; an agent joining and calling moves agents
#    joined / connected.
# 4. The page never holds a VM name, a resource group or a client address.
# 5. A careless operator: metrics_listen on a taken port, without a port, or equal to listen: jitgated stops
#    with a message naming the setting.
# 6. A flood of scrapes (4 clients, 2 s) leaves the API answering: its slowest /whoami is printed and must
#    stay under 1 s; scrapes per second are printed.
# Usage: tests/e2e/metrics.sh [BUILD_DIR]   (as root; needs curl, jq, promtool)
set -u
here=$(cd "$(dirname "$0")" && pwd)
BUILD=${1:-$here/../../build}
JITGATED=${JITGATED:-$BUILD/src/daemon/jitgated}
NETPROBE=$BUILD/tests/e2e/netprobe
. "$here/lib.sh"

[[ $(id -u) == 0 ]] || { echo "metrics.sh: needs root (network namespaces, nftables)"; exit 1; }
[[ -x $JITGATED ]] || { echo "metrics.sh: build first ($JITGATED)"; exit 1; }
for t in curl jq promtool nft; do command -v $t >/dev/null || { echo "metrics.sh: needs $t"; exit 1; }; done

VM=$(ns_new mvm) && CL=$(ns_new mcl) || exit 1
link_new "$VM" v0 "$CL" c0 || exit 1
V=10.214.0.1 A=10.214.0.2
addr_add "$VM" v0 $V/24
addr_add "$CL" c0 $A/24
listen "$VM" 22 || exit 1

JITGATED_USER=jitgate-m	# privilege-separated, as in production: the listener is the unprivileged process's
e2e_user "$JITGATED_USER" || exit 1
chmod 0711 "$E2E_TMP"	# that user must reach its state directory below it
STATE=$E2E_TMP/state
SUB=00000000-0000-0000-0000-000000000000
S=/subscriptions/$SUB
P=$S/resourceGroups/default/providers/Microsoft.Security/locations/local/jitNetworkAccessPolicies/default
VMID=$S/resourceGroups/default/providers/Microsoft.Compute/virtualMachines/metricsvm1
AV=api-version=2020-01-01
INITIATE_OP='POST /subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Security/locations/{loc}/jitNetworkAccessPolicies/{name}/initiate'
cat >"$E2E_TMP/jitgated.conf" <<'EOF'
[role MetricsReader]
actions = Jitgate/metrics/read
EOF
token() { "$JITGATED" token create --state-dir "$STATE" --config "$E2E_TMP/jitgated.conf" "$@"; }
T_OWNER=$(token --name owner --role Owner) || exit 1
T_READER=$(token --name reader --role Reader)
T_SECREADER=$(token --name secreader --role SecurityReader)
T_REQ=$(token --name req --role JitRequester)
T_RG=$(token --name rgreader --role Reader --scope "$S/resourceGroups/default")
T_PROM=$(token --name prometheus --role MetricsReader)

jitgated_start "$VM" "$CL" "$STATE" "$V:8443" "$E2E_TMP/jitgated.log" --vm-name metricsvm1 \
	--metrics-listen 127.0.0.1:9469 --config "$E2E_TMP/jitgated.conf" || { cat "$E2E_TMP/jitgated.log"; exit 1; }
SRV=$JITGATED_PID

# call TOKEN METHOD PATH [BODY]: sets $code, $R (body) and $ctype, from A over TLS.
call() {
	local args=(-sS --max-time 10 --cacert "$STATE/tls/cert.pem" -o "$E2E_TMP/resp" -w '%{http_code} %{content_type}' -X "$2")
	[[ -n $1 ]] && args+=(-H "Authorization: Bearer $1")
	[[ -n ${4-} ]] && args+=(-H 'Content-Type: application/json' --data-binary "$4")
	read -r code ctype < <(ip netns exec "$CL" curl "${args[@]}" "https://$V:8443$3" 2>/dev/null)
	R=$(cat "$E2E_TMP/resp" 2>/dev/null)
}
# plain METHOD PATH: the same on metrics_listen, from inside the host (it listens on loopback).
plain() {
	read -r code ctype < <(ip netns exec "$VM" curl -sS --max-time 10 -o "$E2E_TMP/resp" -w '%{http_code} %{content_type}' \
		-X "$1" "http://127.0.0.1:9469$2" 2>/dev/null)
	R=$(cat "$E2E_TMP/resp" 2>/dev/null)
}
expect() { # STATUS BODY DESCRIPTION: the last answer, exactly
	check "$3 → $1 (got $code)" test "$code" = "$1"
	check "$3: the body is exactly $2" test "$R" = "$2"
}
page() { plain GET /metrics; [[ $code == 200 ]] && printf '%s\n' "$R"; }
# value SERIES: the value of one sample line (SERIES as written, labels included), or "absent".
value() { page | awk -v s="$1" 'substr($0, 1, length(s) + 1) == s " " { print $NF; f = 1 } END { if (!f) print "absent" }'; }
# moves_to SERIES WANT DESCRIPTION: the sample reaches WANT within 3 s (the store's counts refresh each second).
moves_to() {
	local i got
	for ((i = 0; i < 30; i++)); do
		got=$(value "$1")
		[[ $got == "$2" ]] && { ok "$3 ($1 = $got)"; return 0; }
		sleep 0.1
	done
	notok "$3 ($1 = $got, wanted $2)"
}

# grows SERIES BEFORE DESCRIPTION: the sample goes above BEFORE within 3 s.
grows() {
	local i got
	for ((i = 0; i < 30; i++)); do
		got=$(value "$1")
		[[ $got != absent ]] && (( got > $2 )) && { ok "$3 ($1: $2 → $got)"; return 0; }
		sleep 0.1
	done
	notok "$3 ($1 = $got, not above $2)"
}

echo "1. the page, as promtool reads it"
plain GET /metrics
check "metrics_listen answers 200 text/plain; version=0.0.4 (got $code $ctype)" \
	test "$code $ctype" = "200 text/plain; version=0.0.4; charset=utf-8"
check "promtool check metrics accepts metrics_listen's page" bash -c 'promtool check metrics <<<"$1"' _ "$R"
call "$T_OWNER" GET /metrics
check "the API's /metrics answers an Owner 200 text/plain (got $code $ctype)" \
	test "$code $ctype" = "200 text/plain; version=0.0.4; charset=utf-8"
check "promtool check metrics accepts the API's page" bash -c 'promtool check metrics <<<"$1"' _ "$R"
check "build info names the version" grep -qE '^jitgate_build_info\{version="[0-9]+\.[0-9]+\.[0-9]+"\} 1$' <<<"$R"
# the operator guide's blocks, each the fenced block after its marker comment
doc_block() { awk -v m="$1" 'index($0, m) { f = 1; next } f && /^```yaml/ { p = 1; next } p && /^```/ { exit } p' \
	"$here/../../doc/operator.md"; }
doc_block "metrics-alert-rules:" >"$E2E_TMP/jitgate-rules.yml"
doc_block "metrics-scrape-config:" | sed "s|/etc/prometheus/jitgate-rules.yml|$E2E_TMP/jitgate-rules.yml|;
	s|/etc/prometheus/jitgate-token|$E2E_TMP/prom-token|; s|/etc/prometheus/jitgate-cert.pem|$STATE/tls/cert.pem|" \
	>"$E2E_TMP/prometheus.yml"
printf '%s' "$T_PROM" >"$E2E_TMP/prom-token"
check "promtool check rules accepts the guide's three alert rules" \
	bash -c 'promtool check rules "$1" | grep -q "SUCCESS: 3 rules found"' _ "$E2E_TMP/jitgate-rules.yml"
# each rule fires on the series it is for, and not on a quiet one (promtool test rules)
cat >"$E2E_TMP/rules-test.yml" <<'EOF'
rule_files: [jitgate-rules.yml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'jitgate_store_up{job="jitgate",instance="a"}'
        values: '1 1 0 0 0 0 0'
      - series: 'up{job="jitgate",instance="a"}'
        values: '1x7'
      - series: 'jitgate_store_up{job="jitgate",instance="b"}'
        values: '1x7'
      - series: 'up{job="jitgate",instance="b"}'
        values: '1x7'
      - series: 'jitgate_kernel_tamper_events_total{job="jitgate",instance="a"}'
        values: '0 0 0 1 1 1 1'
      - series: 'jitgate_kernel_tamper_events_total{job="jitgate",instance="b"}'
        values: '0x7'
      - series: 'jitgate_api_refusals_total{job="jitgate",instance="a",code="AuthenticationFailed"}'
        values: '0+180x15'
      - series: 'jitgate_api_refusals_total{job="jitgate",instance="b",code="AuthenticationFailed"}'
        values: '0+30x15'
      - series: 'jitgate_api_refusals_total{job="jitgate",instance="b",code="AuthorizationFailed"}'
        values: '0+600x15'
    alert_rule_test:
      - eval_time: 6m
        alertname: JitgateStoreDown
        exp_alerts:
          - exp_labels: {severity: critical, job: jitgate, instance: a}
            exp_annotations:
              summary: "jitgated on a cannot reach its store (or is down)"
      - eval_time: 1m
        alertname: JitgateStoreDown
        exp_alerts: []
      - eval_time: 4m
        alertname: JitgateFirewallTampered
        exp_alerts:
          - exp_labels: {severity: warning, job: jitgate, instance: a}
            exp_annotations:
              summary: "table inet jitgate on a was changed outside jitgated; see the activity log, operation Tamper"
      - eval_time: 12m
        alertname: JitgateAuthenticationFailures
        exp_alerts:
          - exp_labels: {severity: warning, instance: a}
            exp_annotations:
              summary: "more than one failed authentication a second on a"
EOF
check "promtool test rules: each alert fires on its series (store down, tampering, failed sign-ins), not on quiet ones" \
	bash -c 'promtool test rules "$1" >"$1.out" 2>&1 || { cat "$1.out"; exit 1; }' _ "$E2E_TMP/rules-test.yml"
check "promtool check config accepts the guide's scrape configuration" \
	bash -c 'promtool check config "$1" >"$1.out" 2>&1 || { cat "$1.out"; exit 1; }' _ "$E2E_TMP/prometheus.yml"

echo "2. who may read it"
call "" GET /metrics
expect 401 '{"error":{"code":"AuthenticationFailed","message":"authentication failed: send '"'"'Authorization: Bearer <token>'"'"'","details":[]}}' \
	"no token"
call "not-a-token" GET /metrics
expect 401 '{"error":{"code":"AuthenticationFailed","message":"authentication failed: the token is not valid","details":[]}}' \
	"an unknown token"
call "$T_REQ" GET /metrics
expect 403 '{"error":{"code":"AuthorizationFailed","message":"the client '"'"'token:req'"'"' with role '"'"'JitRequester'"'"' at scope '"'"'/'"'"' does not have authorization to perform action '"'"'Jitgate/metrics/read'"'"' over scope '"'"'/subscriptions/'$SUB"'"'","details":[]}}' \
	"a JitRequester"
call "$T_RG" GET /metrics
expect 403 '{"error":{"code":"AuthorizationFailed","message":"the client '"'"'token:rgreader'"'"' with role '"'"'Reader'"'"' at scope '"'"'/subscriptions/'$SUB'/resourceGroups/default'"'"' does not have authorization to perform action '"'"'Jitgate/metrics/read'"'"' over scope '"'"'/subscriptions/'$SUB"'"'","details":[]}}' \
	"a Reader of one resource group (the page counts for all of them)"
for t in READER SECREADER PROM; do
	tok=T_$t
	call "${!tok}" GET /metrics
	check "a ${t,,} token reads the page (got $code)" test "$code" = 200
done
call "$T_OWNER" POST /metrics
expect 405 '{"error":{"code":"MethodNotAllowed","message":"POST is not allowed on /metrics","details":[]}}' "POST /metrics on the API"
plain GET /whoami
expect 404 '{"error":{"code":"NotFound","message":"only GET /metrics is served here","details":[]}}' "metrics_listen, another path"
plain GET "$S/providers/Jitgate/tokens?$AV"
expect 404 '{"error":{"code":"NotFound","message":"only GET /metrics is served here","details":[]}}' "metrics_listen, an API path"
plain DELETE /metrics
expect 405 '{"error":{"code":"MethodNotAllowed","message":"DELETE is not allowed on /metrics","details":[]}}' "metrics_listen, DELETE"
refuse "metrics_listen is not reachable from the client's namespace (loopback only)" \
	ip netns exec "$CL" curl -s --max-time 1 -o /dev/null "http://$V:9469/metrics"
refuse "the API is not served without TLS on the API's port" \
	ip netns exec "$CL" curl -s --max-time 2 -o /dev/null "http://$V:8443/metrics"

echo "3. values move as the test acts"
moves_to jitgate_grants_live 0 "no grant yet"
moves_to jitgate_agents_joined 0 "no agent yet"
refusals_before=$(value 'jitgate_api_refusals_total{code="MissingApiVersionParameter"}')
call "$T_OWNER" GET "$S/providers/Microsoft.Security/jitNetworkAccessPolicies"
check "a call without api-version is refused (got $code)" test "$code" = 400
moves_to 'jitgate_api_refusals_total{code="MissingApiVersionParameter"}' \
	$(( ${refusals_before/absent/0} + 1 )) "the refusal counts under its code"
call "$T_OWNER" PUT "$P?$AV" '{"properties":{"virtualMachines":[{"id":"'$VMID'","ports":[{"number":22,"protocol":"TCP",
	"allowedSourceAddressPrefix":"*","maxRequestAccessDuration":"PT1H"}]}]}}'
check "a policy protects port 22 (got $code)" test "$code" = 200
end=$(date -u -d '+10 min' +%FT%TZ)
call "$T_OWNER" POST "$P/initiate?$AV" '{"virtualMachines":[{"id":"'$VMID'","ports":[{"number":22,"endTimeUtc":"'$end'","allowedSourceAddressPrefix":"'$A'"}]}]}'
check "an initiate is granted (got $code)" test "$code" = 202
check "A reaches port 22 with its grant" can "$CL" $A $V 22
moves_to "jitgate_api_requests_total{operation=\"$INITIATE_OP\",result=\"success\"}" 1 "the initiate counts as a success"
moves_to jitgate_grants_live 1 "live grants moved"
moves_to jitgate_initiate_group_commit_size_count 1 "one group commit"
check "the kernel apply histogram holds the initiate's change" \
	test "$(value jitgate_kernel_apply_duration_seconds_count)" -ge 2
call "$T_OWNER" POST "$P/initiate?$AV" '{"virtualMachines":[{"id":"'$VMID'","ports":[{"number":23,"endTimeUtc":"'$end'","allowedSourceAddressPrefix":"'$A'"}]}]}'
check "an initiate of a port the policy lacks is refused (got $code)" test "$code" = 400
moves_to "jitgate_api_requests_total{operation=\"$INITIATE_OP\",result=\"refused\"}" 1 "the refused initiate counts as refused"

tamper_before=$(value jitgate_kernel_tamper_events_total)
ip netns exec "$VM" nft delete element inet jitgate local_grant4 "{ $A . tcp . 22 }"
moves_to jitgate_kernel_tamper_events_total $(( tamper_before + 1 )) "a deleted grant element, undone, counts as tampering"
check "the element put back counts as drift added" test "$(value 'jitgate_kernel_drift_elements_total{change="added"}')" -ge 1
check "A reaches port 22 again" can "$CL" $A $V 22
runs_before=$(value 'jitgate_reconcile_runs_total{result="ok"}')
kill -HUP "$SRV"
grows 'jitgate_reconcile_runs_total{result="ok"}' "$runs_before" "SIGHUP reconciles: a run more"
check "the reconcile histogram counts every run" \
	test "$(value jitgate_reconcile_duration_seconds_count)" = "$(( $(value 'jitgate_reconcile_runs_total{result="ok"}') + $(value 'jitgate_reconcile_runs_total{result="failed"}') ))"

call "$T_OWNER" POST "$S/providers/Jitgate/joinTokens?$AV" '{"resourceGroup":"rg1","uses":1}'
JTS=$(jq -r .token <<<"$R")
call "$JTS" POST /agent/v1/join '{"name":"metricsagent1","osType":"Linux","revision":-1,"version":"e2e-1.0","kernel":{"supported":true},"addresses":["192.0.2.50"],"listening":[]}'
check "an agent joins (got $code)" test "$code" = 201
CRED=$(jq -r .credential <<<"$R") AVM=$(jq -r .vm <<<"$R")
moves_to jitgate_agents_joined 1 "agents joined moved"
call "$CRED" GET "/agent/v1$AVM/state?since=-1"
check "the agent reads its state (got $code)" test "$code" = 200
moves_to jitgate_agents_connected 1 "agents connected moved"

echo "4. nothing names a VM, a group or an address"
pg=$(page)
for word in metricsvm1 metricsagent1 rg1 "$A" "$V" owner prometheus; do
	refuse "the page does not hold '$word'" grep -qF -- "$word" <<<"$pg"
done
check "every operation label is a route pattern or a fixed name" \
	bash -c 'grep -o "operation=\"[^\"]*\"" <<<"$1" | sort -u | grep -vE "operation=\"(none|GET /whoami|GET /healthz|/session|GET portal|/agent/v1|GET /metrics|(GET|PUT|POST|DELETE) /subscriptions/[A-Za-z{}/.]*)\"" | grep -q . && exit 1 || exit 0' _ "$pg"

echo "5. a careless operator"
# start_err ARGS...: jitgated in a namespace of its own, where 127.0.0.1:9469 is taken; its exit code and last line
NS2=$(ns_new mx) || exit 1
listen "$NS2" 9469 || exit 1	# a netprobe listener holds the port
start_err() {
	ip netns exec "$NS2" timeout 10 "$JITGATED" --single-process --state-dir "$E2E_TMP/state2" --listen 127.0.0.1:8443 \
		--vm-name other "$@" >"$E2E_TMP/start.err" 2>&1
	echo "$? $(tail -1 "$E2E_TMP/start.err")"
}
check "metrics_listen on a taken port: jitgated stops, naming the setting" test "$(start_err --metrics-listen 127.0.0.1:9469)" = \
	"1 jitgated: cannot start the metrics listener: HttpStartFailed at metrics_listen: cannot serve HTTP on 127.0.0.1:9469: Failed to bind to port 0: Address already in use"
check "metrics_listen without a port: a usage error naming it" test "$(start_err --metrics-listen localhost)" = \
	"2 jitgated: configuration: InvalidConfig at metrics_listen: metrics_listen is ADDRESS:PORT, not 'localhost'"
check "metrics_listen equal to listen: refused (the API is never plain HTTP)" \
	test "$(start_err --metrics-listen 127.0.0.1:8443)" = \
	"2 jitgated: configuration: InvalidConfig at metrics_listen: metrics_listen must differ from listen: the API is never served without TLS"

echo "6. a flood of scrapes"
flood_end=$(( $(now_ms) + 2000 ))
flooders=()
for k in 1 2 3 4; do
	( n=0; while (( $(now_ms) < flood_end )); do
		ip netns exec "$VM" curl -s --max-time 2 http://127.0.0.1:9469/metrics http://127.0.0.1:9469/metrics \
			http://127.0.0.1:9469/metrics http://127.0.0.1:9469/metrics >/dev/null && n=$((n + 4))
	done; echo $n >"$E2E_TMP/flood.$k" ) &
	E2E_PIDS+=($!)
	flooders+=($!)
done
worst=0
while (( $(now_ms) < flood_end )); do
	t=$(ip netns exec "$CL" curl -s --max-time 5 --cacert "$STATE/tls/cert.pem" -H "Authorization: Bearer $T_OWNER" \
		-o /dev/null -w '%{time_total}' "https://$V:8443/whoami")
	ms=$(awk -v t="$t" 'BEGIN { printf "%d", t * 1000 }')
	(( ms > worst )) && worst=$ms
done
wait "${flooders[@]}"
total=$(cat "$E2E_TMP"/flood.* | awk '{ s += $1 } END { print s + 0 }')
echo "  figure: $total scrapes in 2 s ($(( total / 2 ))/s) from 4 clients; the API's slowest /whoami meanwhile: $worst ms"
check "the API answered within 1 s during the flood (slowest $worst ms)" test "$worst" -lt 1000
check "jitgated is still healthy" kill -0 "$SRV"
e2e_summary

#!/usr/bin/env bash
# End-to-end: webhook notifications. Receivers in their own namespace record what jitgated sends; the test
# checks signatures, formats and filters, a receiver down then up (every event once per id, in order per
# request), jitgated killed with deliveries pending (they arrive after the restart), a slow and a huge-answering
# receiver (the API answers at once, jitgated stays well), HTTPS verified with the configured CA, the failing
# state (one activity entry, the API list), config mistakes refused naming the field, and no secret in the log.
# Usage: tests/e2e/webhooks.sh [BUILD_DIR]   (as root)
set -u
here=$(cd "$(dirname "$0")" && pwd)
BUILD=${1:-$here/../../build}
JITGATED=${JITGATED:-$BUILD/src/daemon/jitgated}	# on-pg.sh gives one whose store is PostgreSQL
NETPROBE=$BUILD/tests/e2e/netprobe
RECEIVER=$here/webhook-receiver.py
. "$here/lib.sh"

[[ $(id -u) == 0 ]] || { echo "webhooks.sh: needs root (network namespaces, nftables)"; exit 1; }
[[ -x $JITGATED && -x $NETPROBE ]] || { echo "webhooks.sh: build first ($JITGATED)"; exit 1; }
command -v curl >/dev/null && command -v jq >/dev/null && command -v openssl >/dev/null ||
	{ echo "webhooks.sh: needs curl, jq and openssl (scripts/deps.sh)"; exit 1; }

VM=$(ns_new whvm) && CL=$(ns_new whcl) && RX=$(ns_new whrx) || exit 1
link_new "$VM" v0 "$CL" c0 || exit 1
link_new "$VM" v1 "$RX" r0 || exit 1
V=10.246.0.1 A=10.246.0.2 VR=10.246.1.1 RA=10.246.1.2
addr_add "$VM" v0 $V/24; addr_add "$CL" c0 $A/24
addr_add "$VM" v1 $VR/24; addr_add "$RX" r0 $RA/24
listen "$VM" 22 || exit 1
# the chat receiver by name, as an operator gives it: ip netns exec mounts this over /etc/hosts for jitgated
trap 'e2e_cleanup; rm -rf "$E2E_TMP" "/etc/netns/$VM"; true' EXIT
mkdir -p "/etc/netns/$VM"
printf '127.0.0.1 localhost\n%s receiver.test\n' $RA >"/etc/netns/$VM/hosts"
JITGATED_USER=jitgate-t	# privilege-separated, as in production: the main process's seccomp list with webhooks
e2e_user "$JITGATED_USER" || exit 1
chmod 711 "$E2E_TMP"	# the user reads the CA file below and writes its state directory

STATE=$E2E_TMP/state
SUB=00000000-0000-0000-0000-000000000000
VMID=/subscriptions/$SUB/resourceGroups/default/providers/Microsoft.Compute/virtualMachines/vm1
POL=/subscriptions/$SUB/resourceGroups/default/providers/Microsoft.Security/locations/local/jitNetworkAccessPolicies/default
LOG=/subscriptions/$SUB/providers/Microsoft.Security/jitActivityLog
HOOKS=/subscriptions/$SUB/providers/Jitgate/webhooks
AV=api-version=2020-01-01
SRVLOG=$E2E_TMP/jitgated.log
SECRET=whsec-$RANDOM$RANDOM-0123456789abcdef
CHAT_SECRET=chat-$RANDOM$RANDOM-fedcba9876543210
PATHKEY=T0ps3cr3tPathKey$RANDOM	# a chat service's URL carries its key in the path: never shown

# the receivers' TLS certificate, for 10.246.1.2, and the CA file the "tls" hook trusts
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=$RA -addext "subjectAltName=IP:$RA" \
	-keyout "$E2E_TMP/rx.key" -out "$E2E_TMP/rx.pem" 2>/dev/null || exit 1
chmod 644 "$E2E_TMP/rx.pem"

CONF=$E2E_TMP/jitgated.conf
cat >"$CONF" <<CONF
vm_name = vm1
webhook_backoff_max = PT2S
[webhook rx]
url = http://$RA:8080/hook/$PATHKEY
events = opened, revoked, expired
secret = $SECRET
[webhook chat]
url = http://receiver.test:8081/chat
format = text
events = all
secret = $CHAT_SECRET
[webhook tls]
url = https://$RA:8443/h
events = opened
ca_file = $E2E_TMP/rx.pem
secret = $SECRET
[webhook tlsbad]
url = https://$RA:8443/h
events = opened
secret = $SECRET
[webhook redir307]
url = http://$RA:8082/r
events = opened
secret = $SECRET
[webhook redir302]
url = http://$RA:8084/r
events = opened
secret = $SECRET
CONF

# receiver NAME PORT ARGS...: start one (its pid in RXPID_NAME), records in $E2E_TMP/NAME.jsonl
declare -A RXPID
rx_start() {
	local name=$1 port=$2 i; shift 2
	ip netns exec "$RX" python3 "$RECEIVER" 0.0.0.0 "$port" "$E2E_TMP/$name.jsonl" "$@" >"$E2E_TMP/$name.out" 2>&1 &
	RXPID[$name]=$!
	E2E_PIDS+=($!)
	for ((i = 0; i < 100; i++)); do grep -q listening "$E2E_TMP/$name.out" 2>/dev/null && return 0; sleep 0.05; done
	echo "receiver $name did not start: $(cat "$E2E_TMP/$name.out")" >&2
	return 1
}
rx_stop() { kill "${RXPID[$1]}" 2>/dev/null; wait "${RXPID[$1]}" 2>/dev/null; }
rx_count() { [[ -f $E2E_TMP/$1.jsonl ]] && wc -l <"$E2E_TMP/$1.jsonl" || echo 0; }

rx_start rx 8080 || exit 1
rx_start chat 8081 || exit 1
rx_start tls 8443 --cert "$E2E_TMP/rx.pem" --key "$E2E_TMP/rx.key" || exit 1
# receivers that redirect to another internal address, where a listener records anything that arrives
rx_start redir307 8082 --status 307 --location "http://$RA:8083/stolen" || exit 1
rx_start redir302 8084 --status 302 --location "http://$RA:8083/stolen" || exit 1
rx_start stolen 8083 || exit 1

token() { "$JITGATED" token "$@" --state-dir "$STATE"; }
T_OWNER=$(token create --name owner --role Owner) || exit 1
T_REQ=$(token create --name req --role JitRequester) || exit 1

call() { # TOKEN METHOD PATH [BODY]: the answer in R, the status in code
	kill -0 "$JITGATED_PID" 2>/dev/null || { echo "jitgated is gone: $(tail -3 "$SRVLOG")" >&2; code=000 R=; return 1; }
	local args=(-sS --max-time 5 --cacert "$STATE/tls/cert.pem" -o "$E2E_TMP/resp" -w '%{http_code}' -X "$2")
	[[ -n $1 ]] && args+=(-H "Authorization: Bearer $1")
	[[ -n ${4-} ]] && args+=(-H 'Content-Type: application/json' --data-binary "$4")
	code=$(ip netns exec "$CL" curl "${args[@]}" "https://$V:8443$3$([[ $3 == *\?* ]] && echo '&' || echo '?')$AV" 2>/dev/null)
	R=$(cat "$E2E_TMP/resp" 2>/dev/null)
}
initiate() { # SECONDS: a request for port 22 from A; its id in REQ
	local end
	end=$(date -u -d "+$1 sec" +%FT%TZ)
	call "$T_OWNER" POST "$POL/initiate" '{"virtualMachines":[{"id":"'$VMID'","ports":[{"number":22,"endTimeUtc":"'$end'","allowedSourceAddressPrefix":"'$A'"}]}]}'
	REQ=$(jq -r '.id // empty' <<<"$R" | sed 's|.*/||')
}
revoke() {
	call "$T_OWNER" POST "$POL/revoke" '{"virtualMachines":[{"id":"'$VMID'","ports":[{"number":22}]}]}'
}
hook_field() { call "$T_OWNER" GET "$HOOKS"; jq -r --arg n "$1" '.value[] | select(.name == $n) | '"$2" <<<"$R"; }
hook_is() { [[ $(hook_field "$1" .state) == "$2" ]]; }
rx_at_least() { (( $(rx_count "$1") >= $2 )); }

# ---- config mistakes: refused at start, naming the field; the secret is never repeated ----
bad_conf() { # DESCRIPTION EXPECTED-TARGET CONFIG-LINES
	printf '%s\n' "$3" >"$E2E_TMP/bad.conf"
	local out
	out=$(ip netns exec "$VM" "$JITGATED" --single-process --config "$E2E_TMP/bad.conf" --state-dir "$E2E_TMP/badstate" \
		--listen $V:8444 2>&1)
	if [[ $? != 0 && $out == *"$2"* && $out != *"$SECRET"* ]]; then ok "$1"; else notok "$1: $out"; fi
}
bad_conf "a webhook without a secret is refused" "webhook.x.secret" $'[webhook x]\nurl = http://10.0.0.1/'
bad_conf "a webhook secret too short is refused, not repeated" "webhook.x.secret" $'[webhook x]\nurl = http://10.0.0.1/\nsecret = short'
bad_conf "a webhook url that is not http(s) is refused" "webhook.x.url" $'[webhook x]\nurl = file:///etc/passwd\nsecret = '"$SECRET"
bad_conf "a webhook url with user:password@ is refused" "webhook.x.url" $'[webhook x]\nurl = http://a:b@10.0.0.1/\nsecret = '"$SECRET"
bad_conf "an unknown webhook event is refused" "webhook.x.events" $'[webhook x]\nurl = http://10.0.0.1/\nevents = opened, explode\nsecret = '"$SECRET"
bad_conf "an unknown webhook key is refused" "webhook.x.colour" $'[webhook x]\nurl = http://10.0.0.1/\ncolour = red\nsecret = '"$SECRET"
bad_conf "a webhook name with a blank is refused" "webhook" $'[webhook a b]\nurl = http://10.0.0.1/\nsecret = '"$SECRET"
bad_conf "webhook_backoff_max out of range is refused" "webhook_backoff_max" $'webhook_backoff_max = PT2H'

jitgated_start "$VM" "$CL" "$STATE" $V:8443 "$SRVLOG" --config "$CONF" || { cat "$SRVLOG"; exit 1; }
call "$T_OWNER" PUT "$POL" '{"properties":{"virtualMachines":[{"id":"'$VMID'","ports":[{"number":22,"protocol":"TCP","allowedSourceAddressPrefix":"*","maxRequestAccessDuration":"PT1H"}]}]}}'
check "set-up: a policy on port 22 ($code)" test "$code" = 200

# ---- one event: signed, both formats, filters ----
T_SENT=$(now_ms)
initiate 600
REQ1=$REQ
T_ANSWER=$(now_ms)
check "an initiate is answered ($code)" test "$code" = 202
eventually_within "the 'opened' event reaches the json hook" 5 rx_at_least rx 1
rec=$(head -1 "$E2E_TMP/rx.jsonl")
echo "  figure: the first event reached the receiver $(( $(jq -r '.time * 1000 | floor' <<<"$rec") - T_SENT )) ms after the initiate was sent (its answer, through curl and jq: $((T_ANSWER - T_SENT)) ms)"
body=$(jq -r .body <<<"$rec")
check "it is generic JSON: event opened, its id, the activity entry naming the request" \
	bash -c '[[ $(jq -r .event <<<"$1") == opened && $(jq -r .id <<<"$1") == $(jq -r ".headers[\"x-jitgate-event-id\"]" <<<"$2") &&
		$(jq -r .activity.detail <<<"$1") == *"request $3"* && $(jq -r .activity.resourceId <<<"$1") == *vm1 ]]' _ "$body" "$rec" "$REQ1"
# verify HMAC-SHA256(secret, timestamp "." body) as a receiver would
verify() { # SECRET RECORD-FILE: every record's signature is right and its timestamp within 5 minutes
	python3 - "$1" "$2" <<'PY'
import hashlib, hmac, json, sys, time
secret, path = sys.argv[1].encode(), sys.argv[2]
n = 0
for line in open(path):
    r = json.loads(line); h = r["headers"]
    want = "sha256=" + hmac.new(secret, (h["x-jitgate-timestamp"] + "." + r["body"]).encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(want, h["x-jitgate-signature"]) or abs(time.time() - int(h["x-jitgate-timestamp"])) > 300:
        sys.exit(1)
    n += 1
sys.exit(0 if n else 1)
PY
}
check "the signature verifies with the hook's secret" verify "$SECRET" "$E2E_TMP/rx.jsonl"
refuse "the signature does not verify with another secret" verify "$CHAT_SECRET" "$E2E_TMP/rx.jsonl"
eventually_within "the text hook (a receiver by name, resolved under the sandbox) gets {\"text\": ...} for a chat" 5 bash -c \
	"[[ \$(head -1 '$E2E_TMP/chat.jsonl' 2>/dev/null | jq -r .body | jq -r .text) == '[jitgate] opened: vm1: opened port 22'* ]]"
chat_ok() { [[ $(head -1 "$E2E_TMP/chat.jsonl" | jq -r .body | jq -c keys) == '["text"]' ]] && verify "$CHAT_SECRET" "$E2E_TMP/chat.jsonl"; }
check "the text hook's body has only text, signed with its own secret" chat_ok
eventually_within "HTTPS with the configured CA file delivers" 5 rx_at_least tls 1
eventually_within "HTTPS to a certificate no CA vouches for fails; the hook turns Failing (API)" 10 hook_is tlsbad Failing
hook_field tlsbad .lastError >"$E2E_TMP/tlsbad.err"
check "its last error names the certificate ($(cat "$E2E_TMP/tlsbad.err"))" grep -qi "certificate\|SSL\|TLS" "$E2E_TMP/tlsbad.err"
# a receiver answering with a redirect: never followed; the delivery failed and is retried
attempts_seen() { [[ $(jq -r '.headers["x-jitgate-attempt"]' "$E2E_TMP/$1.jsonl" 2>/dev/null | sort -n | tail -1) -ge $2 ]]; }
for st in 307 302; do
	eventually_within "a receiver answering $st to another internal address: the delivery fails, is retried; the hook turns Failing (API)" 10 \
		hook_is redir$st Failing
	check "its last error is the status, the redirect not followed ($(hook_field redir$st .lastError))" \
		test "$(hook_field redir$st .lastError)" = "HTTP status $st"
	check "it was retried: attempt 2 or more reached the receiver ($(rx_count redir$st) attempts)" attempts_seen redir$st 2
done
check "the address the redirects name got nothing ($(rx_count stolen) requests)" test "$(rx_count stolen)" = 0

# ---- the API list: admins only; no secret, no URL path ----
call "$T_OWNER" GET "$HOOKS"
check "GET webhooks lists the 6 hooks for an Owner ($code)" bash -c '[[ $1 == 200 && $(jq ".value | length" <<<"$2") == 6 ]]' _ "$code" "$R"
origin_only() {
	[[ $(jq -r '.value[] | select(.name == "rx") | .url' <<<"$R") == "http://$RA:8080" && $R != *"$PATHKEY"* &&
		$R != *"$SECRET"* && $R != *"$CHAT_SECRET"* ]]
}
check "it shows the receiver's origin, never the URL's path nor a secret" origin_only
call "$T_REQ" GET "$HOOKS"
check "a JitRequester may not list webhooks (403)" test "$code" = 403
call "" GET "$HOOKS"
check "nor may an unauthenticated client (401)" test "$code" = 401

# ---- the receiver down, then up: every event once per id, in order per request ----
revoke
eventually_within "the revoke reaches the receiver" 5 rx_at_least rx 2
rx_stop rx
for i in 1 2 3; do
	initiate 600; eval "DOWN_REQ$i=$REQ"
	revoke
done
eventually_within "with the receiver down, the hook turns Failing after 3 attempts" 10 hook_is rx Failing
check "its 6 events wait in the outbox (API: waiting $(hook_field rx .waiting))" test "$(hook_field rx .waiting)" = 6
# /metrics shows the same backlog: the sum of every hook's waiting events, and the hooks failing now
metric() { call "$T_OWNER" GET /metrics; awk -v m="$1" '$1 == m { print $2 }' <<<"$R"; }
backlog_agrees() {
	call "$T_OWNER" GET "$HOOKS"
	local want failing
	want=$(jq '[.value[].waiting] | add' <<<"$R") failing=$(jq '[.value[] | select(.state == "Failing")] | length' <<<"$R")
	[[ $(metric jitgate_webhook_events_waiting) == "$want" && $(metric jitgate_webhooks_failing) == "$failing" ]]
}
eventually_within "/metrics: jitgate_webhook_events_waiting and jitgate_webhooks_failing agree with the API (rx failing, 6 waiting)" 3 \
	backlog_agrees
check "/metrics: jitgate_webhook_events_waiting counts rx's 6 ($(metric jitgate_webhook_events_waiting))" \
	test "$(metric jitgate_webhook_events_waiting)" -ge 6
sleep 3	# more retries: still one activity entry
call "$T_OWNER" GET "$LOG?operation=Jitgate/webhooks/deliver"
entries() { jq --arg id "/jitgate/webhooks/$1" --arg st "$2" '[.value[] | select(.resourceId == $id and .status == $st)] | length' <<<"$R"; }
check "the activity log says once that rx is failing, however many retries ($(hook_field rx .failures) failures)" \
	test "$(entries rx Failing)" = 1
T_BACK=$(now_ms)
rx_start rx 8080 || exit 1
eventually_within "the receiver back: the 6 waiting events arrive (within the backoff of 2 s)" 8 \
	rx_at_least rx 8
echo "  figure: the 6 waiting events arrived $(( $(tail -1 "$E2E_TMP/rx.jsonl" | jq -r '.time * 1000 | floor') - T_BACK )) ms after the receiver came back (the last $(( $(tail -1 "$E2E_TMP/rx.jsonl" | jq -r '.time * 1000 | floor') - $(sed -n 3p "$E2E_TMP/rx.jsonl" | jq -r '.time * 1000 | floor') )) ms after the first)"
sleep 1
ids=$(jq -r '.headers["x-jitgate-event-id"]' "$E2E_TMP/rx.jsonl")
check "every event arrived exactly once per event id ($(wc -l <"$E2E_TMP/rx.jsonl") deliveries)" \
	bash -c '[[ $(sort <<<"$1" | uniq -d | wc -l) == 0 && $(wc -l <<<"$1") == 8 ]]' _ "$ids"
in_order() { # REQUEST: its opened arrived before its revoked
	local o r
	o=$(jq -r '.body' "$E2E_TMP/rx.jsonl" | grep -n "request $1" | grep '"event":"opened"' | cut -d: -f1)
	r=$(jq -r '.body' "$E2E_TMP/rx.jsonl" | grep -n "request $1" | grep '"event":"revoked"' | cut -d: -f1)
	[[ -n $o && -n $r ]] && (( o < r ))
}
all_in_order() { local q; for q in "$@"; do in_order "$q" || return 1; done; }
check "in order per request: each opened before its revoked" all_in_order "$DOWN_REQ1" "$DOWN_REQ2" "$DOWN_REQ3"
check "the delivery order is the outbox's: activity ids ascending" \
	bash -c 'jq -r ".body" "$1" | jq -s "[.[].activity.id] | . == sort" | grep -q true' _ "$E2E_TMP/rx.jsonl"
check "the hook is Ok again, nothing waiting" bash -c '[[ $1 == Ok && $2 == 0 ]]' _ "$(hook_field rx .state)" "$(hook_field rx .waiting)"
call "$T_OWNER" GET "$LOG?operation=Jitgate/webhooks/deliver"
check "the activity log says rx recovered, once" test "$(entries rx Recovered)" = 1

# ---- jitgated killed with deliveries pending: they arrive after the restart ----
rx_stop rx
before=$(rx_count rx)
initiate 600; KILL_REQ=$REQ
revoke
sleep 0.5
kill -9 "$JITGATED_PID"; wait "$JITGATED_PID" 2>/dev/null
check "killed with 2 events undelivered (store: $(store_read "$STATE" "SELECT count(*) FROM webhook_outbox WHERE hook = 'rx'"))" \
	test "$(store_read "$STATE" "SELECT count(*) FROM webhook_outbox WHERE hook = 'rx'")" = 2
rx_start rx 8080 || exit 1
jitgated_start "$VM" "$CL" "$STATE" $V:8443 "$SRVLOG" --config "$CONF" || { tail "$SRVLOG"; exit 1; }
eventually_within "after the restart both arrive" 10 rx_at_least rx $((before + 2))
sleep 1
no_dup_ids() { [[ $(jq -r '.headers["x-jitgate-event-id"]' "$E2E_TMP/rx.jsonl" | sort | uniq -d | wc -l) == 0 ]]; }
once_in_order() { no_dup_ids && in_order "$1"; }
check "each once, opened before revoked" once_in_order "$KILL_REQ"

# ---- a slow receiver never delays the API; a huge answer is cut ----
rx_stop rx
rx_start rx 8080 --delay 4 || exit 1
before=$(rx_count rx)
t0=$(now_ms); initiate 600; t1=$(now_ms)
check "with the receiver answering after 4 s, an initiate is answered in $((t1 - t0)) ms (< 1000)" \
	bash -c '[[ $1 == 202 ]] && (( $2 < 1000 ))' _ "$code" $((t1 - t0))
t0=$(now_ms); revoke; t1=$(now_ms)
check "and a revoke in $((t1 - t0)) ms (< 1000)" bash -c '[[ $1 == 202 || $1 == 200 ]] && (( $2 < 1000 ))' _ "$code" $((t1 - t0))
t0=$(now_ms); call "$T_OWNER" GET "$POL"; t1=$(now_ms)
check "a read meanwhile in $((t1 - t0)) ms (< 1000)" bash -c '[[ $1 == 200 ]] && (( $2 < 1000 ))' _ "$code" $((t1 - t0))
outbox_empty() { [[ $(store_read "$STATE" "SELECT count(*) FROM webhook_outbox WHERE hook = '$1'") == 0 ]]; }
delivered_all() { rx_at_least rx "$1" && outbox_empty rx; }
# the receiver records before it sleeps: stopped before its answer, the event would rightly be sent again
eventually_within "the slow receiver still gets both (one at a time, in order) and answers" 15 delivered_all $((before + 2))
rx_stop rx
rx_start rx 8080 --answer-bytes 200000000 || exit 1
rss0=$(awk '/VmRSS/ {print $2}' /proc/$JITGATED_PID/status)
before=$(rx_count rx)
initiate 600
eventually_within "a receiver answering 200 MB: the event is delivered (2xx), the answer cut" 10 delivered_all $((before + 1))
rss1=$(awk '/VmRSS/ {print $2}' /proc/$JITGATED_PID/status)
check "jitgated's memory did not grow by the answer (RSS ${rss0} kB -> ${rss1} kB)" test $((rss1 - rss0)) -lt 20000
revoke
eventually_within "the revoke's event too" 10 delivered_all $((before + 2))

# ---- expiry and tampering reach the hooks that take them ----
rx_stop rx
rx_start rx 8080 || exit 1
before=$(rx_count rx)
initiate 2
eventually_within "an expiry is an 'expired' event" 10 bash -c "jq -r .body '$E2E_TMP/rx.jsonl' | grep -q '\"event\":\"expired\".*request $REQ'"
ip netns exec "$VM" nft flush chain inet jitgate input
eventually_within "tampering undone reaches the hook that takes all events" 5 bash -c \
	"jq -r .body '$E2E_TMP/chat.jsonl' | jq -r .text | grep -q '^\[jitgate\] tampering undone'"
check "but not the hook whose events leave it out" bash -c "! jq -r .body '$E2E_TMP/rx.jsonl' | grep -q 'tampering undone'"

# ---- two replicas on one PostgreSQL database: each event is sent by one of them ----
if [[ -n ${JITGATE_TEST_PG-} ]]; then
	VM2=$(ns_new whvm2) || exit 1
	link_new "$VM2" v2 "$RX" r1 || exit 1
	addr_add "$VM2" v2 10.246.2.1/24; addr_add "$RX" r1 10.246.2.2/24
	cat >"$E2E_TMP/replica2.conf" <<CONF
vm_name = vm2
webhook_backoff_max = PT2S
[webhook rx]
url = http://10.246.2.2:8080/hook/$PATHKEY
events = opened, revoked, expired
secret = $SECRET
CONF
	A_PID=$JITGATED_PID
	jitgated_start "$VM2" "$VM2" "$E2E_TMP/state2" 127.0.0.1:8443 "$E2E_TMP/jitgated2.log" --config "$E2E_TMP/replica2.conf" ||
		{ tail "$E2E_TMP/jitgated2.log"; exit 1; }
	B_PID=$JITGATED_PID JITGATED_PID=$A_PID
	rx_stop rx
	before=$(rx_count rx)
	for i in 1 2 3 4 5; do initiate 600; revoke; done
	sleep 4	# both replicas try and back off on the same rows
	rx_start rx 8080 || exit 1
	eventually_within "two replicas, receiver back: the 10 events arrive" 10 rx_at_least rx $((before + 10))
	sleep 2
	check "each exactly once ($(( $(rx_count rx) - before )) deliveries; by replica A $(tail -n +$((before + 1)) "$E2E_TMP/rx.jsonl" | grep -c '"peer": "10.246.1.1"'), B $(tail -n +$((before + 1)) "$E2E_TMP/rx.jsonl" | grep -c '"peer": "10.246.2.1"'))" \
		bash -c '(( $(tail -n +$(($2 + 1)) "$1" | wc -l) == 10 )) && [[ $(tail -n +$(($2 + 1)) "$1" | jq -r ".headers[\"x-jitgate-event-id\"]" | sort | uniq -d | wc -l) == 0 ]]' _ "$E2E_TMP/rx.jsonl" "$before"
	check "and in the order they were logged" \
		bash -c 'tail -n +$(($2 + 1)) "$1" | jq -r ".body" | jq -s "[.[].activity.id] | . == sort" | grep -q true' _ "$E2E_TMP/rx.jsonl" "$before"
	kill "$B_PID"; wait "$B_PID" 2>/dev/null
	check "replica B logged no secret" bash -c '! grep -qF -e "$1" -e "$2" "$3"' _ "$SECRET" "$PATHKEY" "$E2E_TMP/jitgated2.log"
fi

dups() { jq -r '.headers["x-jitgate-event-id"] + " " + .headers["x-jitgate-attempt"] + " " + (.body | fromjson | .event)' "$E2E_TMP/rx.jsonl" | sort | awk '{ if ($1 == last) print prev " / " $0; last = $1; prev = $0 }'; }
check "over the whole run, no event delivered twice to rx$(dups | head -3 | sed 's/^/: /')" test -z "$(dups)"

# ---- secrets never logged ----
check "no secret and no URL path in jitgated's log" bash -c '! grep -qF -e "$1" -e "$2" -e "$3" "$4"' _ "$SECRET" "$CHAT_SECRET" "$PATHKEY" "$SRVLOG"
check "the log says when a hook fails, by name and origin" grep -q "webhook tlsbad (https://$RA:8443) is failing" "$SRVLOG"
# a slow receiver holds a delivery in flight while jitgated stops: it stops at once, the event stays for the next start
rx_stop rx
rx_start rx 8080 --delay 8 || exit 1
initiate 600
sleep 0.5
t0=$(now_ms)
kill -TERM "$JITGATED_PID"; wait "$JITGATED_PID"; rc=$?
t1=$(now_ms)
check "jitgated stops in $((t1 - t0)) ms with a delivery in flight (exit $rc), no sanitizer report" \
	bash -c '[[ $1 == 0 ]] && (( $2 < 3000 )) && ! grep -q Sanitizer "$3"' _ "$rc" $((t1 - t0)) "$SRVLOG"
e2e_summary

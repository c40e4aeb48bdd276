#!/usr/bin/env bash
# End-to-end: the activity log's hash chain and retention (issue 18, items 2 and 3). jitgated writes entries through
# the real API; with jitgated stopped, an edited, a deleted and an inserted row each make `jitgated audit verify`
# fail (exit 3) and name the row; a forger who writes every later hash again is caught by a head the log exported
# before (--head); the hashes match the documented canonical form computed apart (audit-chain.py). Then tiny
# retention (PT2S, batches of 5, every second) under a steady load: entries and ended requests are pruned, exported
# first to the JSON-lines file, a live grant's request stays and its port stays open, the chain still verifies, and
# the store stays within a bound over many cycles (SQLite: page count flat).
# Usage: tests/e2e/audit.sh [BUILD_DIR]   (as root; needs curl, jq, python3 and sqlite3 or psql)
#        tests/e2e/on-pg.sh audit.sh BUILD_DIR   (the same on PostgreSQL)
set -u
here=$(cd "$(dirname "$0")" && pwd)
BUILD=${1:-$here/../../build}
JITGATED=${JITGATED:-$BUILD/src/daemon/jitgated}
NETPROBE=$BUILD/tests/e2e/netprobe
CHAIN=$here/audit-chain.py
. "$here/lib.sh"

[[ $(id -u) == 0 ]] || { echo "audit.sh: needs root"; exit 1; }
for c in curl jq python3 $STORE_CLI; do
	command -v $c >/dev/null || { echo "audit.sh: needs $c (scripts/deps.sh)"; exit 1; }
done
VM=$(ns_new avm) && CL=$(ns_new acl) || exit 1
link_new "$VM" v0 "$CL" c0 || exit 1
V=10.218.0.1 A=10.218.0.2
addr_add "$VM" v0 $V/24
addr_add "$CL" c0 $A/24
listen "$VM" 22 3389 || exit 1

STATE=$E2E_TMP/state
LOG=$E2E_TMP/jitgated.log
EXPORT=$STATE/pruned.jsonl
TOKEN=$("$JITGATED" token create --state-dir "$STATE" --name admin --role Owner) || exit 1
S=/subscriptions/00000000-0000-0000-0000-000000000000
P=$S/resourceGroups/default/providers/Microsoft.Security/locations/local/jitNetworkAccessPolicies/default
VMID=$S/resourceGroups/default/providers/Microsoft.Compute/virtualMachines/vm1
Q=api-version=2020-01-01
api() { ip netns exec "$CL" curl -sS --max-time 10 --cacert "$STATE/tls/cert.pem" -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' "$@"; }
start() { jitgated_start "$VM" "$CL" "$STATE" $V:8443 "$LOG" --vm-name vm1 "$@"; }
stop() { # SIGTERM, ≤ 5 s
	local i
	kill -TERM $JITGATED_PID 2>/dev/null
	for ((i = 0; i < 50; i++)); do kill -0 $JITGATED_PID 2>/dev/null || break; sleep 0.1; done
	wait $JITGATED_PID 2>/dev/null
}
initiate() { # SECONDS [PORT]: one grant of PORT (22) to A, ending that many seconds from now
	api -o /dev/null -w '%{http_code}' -X POST "https://$V:8443$P/initiate?$Q" -d '{"virtualMachines":[{"id":"'$VMID'",
		"ports":[{"number":'${2:-22}',"endTimeUtc":"'$(date -u -d "+$1 sec" +%FT%TZ)'","allowedSourceAddressPrefix":"'$A'"}]}],
		"justification":"audit e2e"}'
}
POLICY='{"properties":{"virtualMachines":[{"id":"'$VMID'","ports":[{"number":22,"protocol":"TCP","allowedSourceAddressPrefix":"*",
	"maxRequestAccessDuration":"PT1H"},{"number":3389,"protocol":"TCP","allowedSourceAddressPrefix":"*","maxRequestAccessDuration":"PT1H"}]}]}}'
HEX="hex(hash)"
[[ -n ${JITGATE_TEST_PG-} ]] && HEX="upper(encode(hash, 'hex'))"
VERIFY_OUT=$E2E_TMP/verify.out
verify() { "$JITGATED" audit verify --state-dir "$STATE" "$@" >"$VERIFY_OUT" 2>&1; }
verify_says() { # EXIT PATTERN [ARGS...]: verify exits EXIT and prints PATTERN
	local want=$1 pat=$2 rc; shift 2
	verify "$@"; rc=$?
	(( rc == want )) && grep -qE -- "$pat" "$VERIFY_OUT" || { echo "    exit $rc: $(cat "$VERIFY_OUT")"; return 1; }
}
OVERRIDE=
[[ -n ${JITGATE_TEST_PG-} ]] && OVERRIDE="OVERRIDING SYSTEM VALUE"	# PostgreSQL's identity ids are its own
count() { store_read "$STATE" "SELECT count(*) FROM $1"; }

# a syslog socket that keeps each datagram as one line (audit_syslog)
SYSLOG_SOCK=$E2E_TMP/syslog.sock SYSLOG_OUT=$E2E_TMP/syslog.out
python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind(sys.argv[1])
out = open(sys.argv[2], "a", encoding="utf-8")
while True:
    out.write(s.recv(65536).decode("utf-8", "replace").replace("\n", " ") + "\n"); out.flush()' "$SYSLOG_SOCK" "$SYSLOG_OUT" &
E2E_PIDS+=($!)
for ((i = 0; i < 50; i++)); do [[ -S $SYSLOG_SOCK ]] && break; sleep 0.05; done
chmod 666 "$SYSLOG_SOCK"

# --- 1. entries through the real API; the chain while jitgated runs; each entry to syslog too ---
cat >"$E2E_TMP/keep.conf" <<EOF
retain_activity = never
retain_requests = never
audit_head_interval = PT1S
audit_syslog = $SYSLOG_SOCK
EOF
start --config "$E2E_TMP/keep.conf" || { notok "jitgated starts"; cat "$LOG"; exit 1; }
api -o /dev/null -X PUT "https://$V:8443$P?$Q" -d "$POLICY"
for i in 1 2 3 4 5 6; do initiate 600 >/dev/null; done
api -o /dev/null -X POST "https://$V:8443$P/initiate?$Q" -d '{"virtualMachines":[{"id":"'$VMID'","ports":[{"number":23,
	"endTimeUtc":"'$(date -u -d '+60 sec' +%FT%TZ)'"}]}]}'	# refused (port 23 is not in the policy): logged too
N=$(count activity)
check "set-up: the API wrote $N activity entries" test "$N" -ge 8
check "verify beside the running jitgated: intact, $N entries (exit 0)" verify_says 0 "intact: $N entries from sequence 1 to $N"
eventually_within "the log exports the chain's head (audit head SEQ:HASH)" 3 grep -qE "audit head $N:[0-9a-f]{64}" "$LOG"
HEAD=$(grep -oE "audit head $N:[0-9a-f]{64}" "$LOG" | tail -1 | cut -d' ' -f3)
# the hash entry 5 had, as a head exported when the log was 5 entries long would have said
HEAD5=5:$(store_read "$STATE" "SELECT lower($HEX) FROM activity WHERE id = 5")
chain_says() { # PATTERN ARGS...: audit-chain.py ARGS succeeds and prints PATTERN
	local pat=$1 out; shift
	out=$(python3 "$CHAIN" "$@") && grep -qE -- "$pat" <<<"$out" || { echo "    $out"; return 1; }
}
check "every stored hash is the SHA-256 of the documented canonical form 2 (computed apart)" \
	chain_says "$N entries \(0 in form 1, $N in form 2\)" check "$STATE"
eventually_within "audit_syslog: one RFC 5424 message per entry, in order, with seq, hash and fields as stored" 3 \
	python3 "$CHAIN" syslog "$STATE" "$SYSLOG_OUT"
stop

# --- 2. tampering with jitgated stopped: each names the row ---
K=3
store_sql "$STATE" "UPDATE activity SET caller = 'token:mallory' WHERE id = $K"
check "an edited entry: verify exits 3 and names entry id $K as changed" \
	verify_says 3 "entry id $K \(sequence $K\) was changed"
store_sql "$STATE" "UPDATE activity SET caller = 'token:admin' WHERE id = $K"
check "  … put back: intact again" verify_says 0 "intact: $N entries"
SUBJ=$(store_read "$STATE" "SELECT caller_subject FROM activity WHERE id = $K")
store_sql "$STATE" "UPDATE activity SET caller_subject = 'sso-mallory' WHERE id = $K"
check "an edited single sign-on subject (caller_subject, canonical form 2): entry id $K named as changed" \
	verify_says 3 "entry id $K \(sequence $K\) was changed"
store_sql "$STATE" "UPDATE activity SET caller_subject = '$SUBJ' WHERE id = $K"
store_sql "$STATE" "UPDATE activity SET time_ns = time_ns + 1 WHERE id = 5"
check "an entry's time moved by one nanosecond: entry id 5 changed" verify_says 3 "entry id 5 \(sequence 5\) was changed"
store_sql "$STATE" "UPDATE activity SET time_ns = time_ns - 1 WHERE id = 5"

store_sql "$STATE" "CREATE TABLE keep AS SELECT * FROM activity WHERE id = 4"
store_sql "$STATE" "DELETE FROM activity WHERE id = 4"
check "a deleted entry: verify exits 3 and names the gap (sequence 4, between entry ids 3 and 5)" \
	verify_says 3 "1 entry was removed between entry id 3 and entry id 5 \(sequence 4\)"
store_sql "$STATE" "INSERT INTO activity $OVERRIDE SELECT * FROM keep"
store_sql "$STATE" "DROP TABLE keep"
check "  … put back: intact again" verify_says 0 "intact: $N entries"

store_sql "$STATE" "INSERT INTO activity (time_ns, caller, caller_addr, operation, resource_id, status, detail,
	justification, correlation_id, seq, hash) SELECT time_ns, 'token:mallory', caller_addr, operation, resource_id,
	status, detail, justification, correlation_id, seq, hash FROM activity WHERE id = 2"
NEW=$(store_read "$STATE" "SELECT max(id) FROM activity")
check "an inserted entry (a replay of entry 2's chain fields): verify exits 3 and names entry id $NEW as inserted" \
	verify_says 3 "entry id $NEW was inserted"
store_sql "$STATE" "DELETE FROM activity WHERE id = $NEW"
store_sql "$STATE" "INSERT INTO activity (time_ns, caller, caller_addr, operation, resource_id, status, detail,
	justification, correlation_id) VALUES (1, 'token:mallory', '', 'x', '/', 'Succeeded', '', '', '')"
NEW=$(store_read "$STATE" "SELECT max(id) FROM activity")
check "an inserted entry without chain fields: entry id $NEW named as inserted" verify_says 3 "entry id $NEW was inserted"
store_sql "$STATE" "DELETE FROM activity WHERE id = $NEW"
store_sql "$STATE" "DELETE FROM activity WHERE id = $N"
check "the newest entry deleted: the head record names what is missing" \
	verify_says 3 "the newest 1 entry was removed after entry id $((N - 1))"
refuse "  … and verify does not call that intact" verify_says 0 "intact"

# a careful forger: entry 2 changed and every later hash and the head written again (the head is gone with
# the deleted newest entry, so the forger ends the chain at N - 1 and the head must say so)
store_sql "$STATE" "UPDATE audit_chain SET head_seq = $((N - 1))"
python3 "$CHAIN" rewrite "$STATE" 2 >/dev/null
check "a whole rewrite (hashes recomputed) passes the stored chain alone" verify_says 0 "intact: $((N - 1)) entries"
check "  … but not the head the log exported before: exit 3, removed at the end" \
	verify_says 3 "beyond the chain's head" --head "$HEAD"
check "  … nor an older head (entry 5's hash before the rewrite): written again up to there" \
	verify_says 3 "entry at sequence 5 does not have the exported hash" --head "$HEAD5"
check "  … while a head from before the rewritten entry still matches (1)" \
	verify_says 0 "exported head 1 matches" --head "1:$(store_read "$STATE" "SELECT lower($HEX) FROM activity WHERE id = 1")"
# a chain an older jitgated began (form 1, entries 1 to 3) and this one carried on (form 2)
python3 "$CHAIN" downgrade "$STATE" 3 >/dev/null
spans() { verify_says 0 "intact: $((N - 1)) entries" && verify_says 0 "3 of them in canonical form 1 .*, $((N - 4)) in form 2"; }
check "a chain of form 1 entries then form 2 entries verifies: intact, $((N - 1)) entries, 3 in form 1" spans
check "  … and so it does computed apart" chain_says "\(3 in form 1, $((N - 4)) in form 2\)" check "$STATE"
SUBJ=$(store_read "$STATE" "SELECT caller_subject FROM activity WHERE id = 5")
store_sql "$STATE" "UPDATE activity SET caller_subject = 'sso-mallory' WHERE id = 5"
check "  … an edited subject in a form 2 entry after them: entry id 5 named as changed" \
	verify_says 3 "entry id 5 \(sequence 5\) was changed"
store_sql "$STATE" "UPDATE activity SET caller_subject = '$SUBJ' WHERE id = 5"
store_sql "$STATE" "UPDATE activity SET caller_subject = 'sso-mallory' WHERE id = 2"
check "  … in a form 1 entry it is not seen (form 1 never held it; documented)" verify_says 0 "intact: $((N - 1)) entries"
check "verify --head refuses a malformed head (exit 2)" verify_says 2 "--head is SEQ:HASH" --head "12:abc"
check "verify refuses a stray argument (exit 2)" verify_says 2 "unexpected argument" extra
check "verify refuses a token flag (exit 2)" verify_says 2 "only --state-dir, --store, --config and --head" --role Owner
if [[ -z ${JITGATE_TEST_PG-} ]]; then
	check "verify of a store that is not there: exit 1, and nothing made" \
		bash -c '"$1" audit verify --state-dir "$2" >/dev/null 2>&1; (( $? == 1 )) && [[ ! -e $2 ]]' _ "$JITGATED" "$E2E_TMP/none"
fi

# --- 3. retention: a fresh store, tiny retention, a steady load over many cycles; jitgated privilege-separated
# (its sandboxed main process writes the export), as in production ---
JITGATED_USER=jitgate-t
e2e_user "$JITGATED_USER" || exit 1
chmod 711 "$E2E_TMP"	# the user reaches its state directory in it
rm -rf "$STATE"
[[ -n ${JITGATE_TEST_PG-} ]] && psql -X -q "$JITGATE_TEST_PG" -c "DROP SCHEMA public CASCADE; CREATE SCHEMA public" 2>/dev/null
TOKEN=$("$JITGATED" token create --state-dir "$STATE" --name admin --role Owner) || exit 1
cat >"$E2E_TMP/prune.conf" <<EOF
retain_activity = PT2S
retain_requests = PT2S
prune_batch = 5
prune_interval = PT1S
prune_export = $EXPORT
audit_head_interval = PT1S
audit_syslog = $SYSLOG_SOCK
EOF
: >"$SYSLOG_OUT"
PRE=$(store_read "$STATE" "SELECT head_seq FROM audit_chain")	# written before jitgated started: not sent (none)
: >"$LOG"
start --config "$E2E_TMP/prune.conf" || { notok "jitgated starts with retention"; cat "$LOG"; exit 1; }
api -o /dev/null -X PUT "https://$V:8443$P?$Q" -d "$POLICY"
LIVE=$(initiate 600 3389 >/dev/null; store_read "$STATE" "SELECT id FROM requests")
pages() { store_read "$STATE" "PRAGMA page_count"; }
t_end=$(( $(now_ms) + 14000 )) made=1 mid=
while (( $(now_ms) < t_end )); do
	# a grant of 1 s: it expires (one more entry), its request ends, and both age out 2 s later
	[[ $(initiate 1) == 202 ]] && made=$((made + 1))
	(( $(now_ms) > t_end - 9000 )) && [[ -z $mid ]] && [[ -z ${JITGATE_TEST_PG-} ]] && mid=$(pages)
	sleep 0.1
done
sleep 4	# two retention periods and more: what the load left ages out
ACT=$(count activity) REQ=$(count requests)
LEFT_OLD=$(store_read "$STATE" "SELECT count(*) FROM activity WHERE time_ns < ($(date +%s%N) - 3500000000)")
check "$made requests made over 14 s; activity pruned to $ACT entries, none older than retention + interval" \
	test "$ACT" -le 60 -a "$LEFT_OLD" -eq 0
check "ended requests pruned with their grants ($REQ requests left)" test "$REQ" -le 5
check "the live grant's request is kept (its grant has not ended)" \
	test "$(store_read "$STATE" "SELECT count(*) FROM requests WHERE id = '$LIVE'")" = 1
check "  … and its port is still open to A" can "$CL" $A $V 3389
if [[ -z ${JITGATE_TEST_PG-} ]]; then
	end=$(pages)
	echo "    figures: SQLite pages after 5 s of load $mid, after 14 s and more $end (4 KiB each)"
	check "disk use flat: the store's pages grew at most 25 % (+8) from 5 s to 18 s ($mid → $end)" \
		test "$end" -le $(( mid + mid / 4 + 8 ))
fi
EXP_ACT=$(grep -c '"kind":"activity"' "$EXPORT")
EXP_REQ=$(grep -c '"kind":"request"' "$EXPORT")
HEADSEQ=$(store_read "$STATE" "SELECT head_seq FROM audit_chain")
check "every pruned entry is in the export file once ($EXP_ACT exported + $ACT kept = places 1..$HEADSEQ)" \
	test $((EXP_ACT + ACT)) -eq "$HEADSEQ" -a "$(jq -r 'select(.kind == "activity") | .seq' "$EXPORT" | sort -un | wc -l)" -eq "$EXP_ACT"
check "the export holds the pruned requests with their grants ($EXP_REQ)" \
	bash -c 'jq -e "select(.kind == \"request\") | .grants[0].port == 22" "$1" >/dev/null && (( $2 >= '"$made"' - 6 ))' _ "$EXPORT" "$EXP_REQ"
check "exported entries carry their place, hash and single sign-on subject (seq, hash, callerSubject)" \
	bash -c 'v=$(jq "select(.kind == \"activity\") | (.seq | type) == \"number\" and (.hash | length) == 64 and
		(.callerSubject | type) == \"string\"" "$1") && grep -q true <<<"$v" && ! grep -q false <<<"$v"' _ "$EXPORT"
check "verify after pruning: intact, from the anchor on" verify_says 0 "intact: .* \(anchor: entry id [1-9]"
check "the stored hashes still match the canonical form after pruning" python3 "$CHAIN" check "$STATE"
refuse "pruning logged no failure" grep -q "not pruned" "$LOG"
check "the sandboxed main process sent every entry it wrote to syslog too ($(wc -l <"$SYSLOG_OUT") messages = $HEADSEQ - $PRE entries)" \
	test "$(wc -l <"$SYSLOG_OUT")" -eq $((HEADSEQ - PRE))
# the export is opened once, before Landlock (which leaves its directory closed): renamed away (rotation
# without copytruncate), nothing more is pruned, nor written to the old file or a new one, until a restart
mv "$EXPORT" "$EXPORT.1"
SIZE=$(stat -c %s "$EXPORT.1") BEFORE=$(count activity)
initiate 1 >/dev/null
eventually_within "the export renamed away: pruning stops, logged with what to do (restart)" 6 \
	grep -q "not pruned: $EXPORT is no longer the file jitgated opened at start (renamed or removed); restart" "$LOG"
check "  … nothing was written to the renamed file, nor a new one made ($SIZE bytes)" \
	bash -c '[[ $(stat -c %s "$1.1") == "$2" && ! -e $1 ]]' _ "$EXPORT" "$SIZE"
check "  … nor deleted (activity $BEFORE → $(count activity))" test "$(count activity)" -ge "$BEFORE"
stop
mv "$EXPORT.1" "$EXPORT"

# --- 4. a careless operator: an export file that cannot be written. Nothing is deleted (the export comes first),
# the failure is logged, and access still closes on time ---
BEFORE=$(count activity)
sed -i "s|^prune_export = .*|prune_export = $STATE/no-such-dir/pruned.jsonl|" "$E2E_TMP/prune.conf"
: >"$LOG"
start --config "$E2E_TMP/prune.conf" || { notok "jitgated starts with an unwritable export"; cat "$LOG"; exit 1; }
initiate 3 22 >/dev/null	# endTimeUtc in whole seconds: 2 to 3 s from now
check "set-up: a grant of ~3 s opens port 22" can "$CL" $A $V 22
check "the export that cannot be opened at start is logged, naming the file and the reason" \
	grep -q "retention: cannot open prune_export $STATE/no-such-dir/pruned.jsonl: No such file or directory" "$LOG"
eventually_within "  … and each batch it holds back too" 6 \
	grep -q "retention: activity entries not pruned: cannot write $STATE/no-such-dir/pruned.jsonl: No such file or directory (opened at start only" "$LOG"
eventually_within "  … and the grant still closes on time: A is refused on 22" 4 cannot "$CL" $A $V 22
check "nothing was deleted without its export (activity only grew: $BEFORE → $(count activity))" \
	test "$(count activity)" -gt "$BEFORE"
stop
check "the chain is intact after the refused batches" verify_says 0 "intact"
e2e_summary

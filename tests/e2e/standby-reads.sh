#!/usr/bin/env bash
# End-to-end: jitgated on PostgreSQL with a streaming standby named by store_read (doc/store-backends.md, "Reads
# from a standby"). While there is no primary, reads are served from the standby (a policy GET, the VM list; a bad
# or revoked token still refused), writes answer 503 with Retry-After at once; the primary back, or the standby
# promoted, writes resume without a restart of jitgated. A standby that has not applied all it received (its
# replay paused) is not read from: 503, as without it.
#
#   client (M) ──veth── vm (jitgated on V:8443, --single-replica; listener on 22)
#                         │ unix sockets
#                         ├── primary  (tests/pg.sh, PG_DIR)          synchronous_standby_names = '*'
#                         └── standby  (pg_basebackup -R, PG_DIR/standby, streaming from the primary)
#
# The store is the multi-host URI host=PRIMARY,STANDBY&target_session_attrs=read-write (so that the promoted standby
# is found); store_read is the same two hosts (jitgated prefers a standby among them: prefer-standby).
# Usage: tests/e2e/standby-reads.sh [BUILD_DIR]   (as root; postgresql-15, curl, jq, psql)
set -u
here=$(cd "$(dirname "$0")" && pwd)
BUILD=${1:-$here/../../build}
. "$here/lib.sh"
. "$here/../pg.sh"
e2e_binaries "$BUILD"
e2e_require standby-reads.sh - "JITGATED NETPROBE" curl jq psql || exit 1
WRITE_503_MAX_MS=4500	# a write while there is no primary answers 503 within this: the store's named limits, under
			# the HTTP server's 5 s (API_CONN_UNAUTH_TIMEOUT_S); in practice at once (the reconnect pause)
SILENT_MAX_MS=2500	# a silent standby: the primary's fast failure, then STORE_PG_STANDBY_READ_MS (1 s)
RESUME_MAX_S=10		# after the primary is back or the standby promoted: STORE_PG_RECONNECT_PAUSE_MS and a retry

PG_OPTS="-c synchronous_commit=on" pg_start || { echo "standby-reads.sh: cannot start PostgreSQL"; exit 1; }
# both servers go with the namespaces and the temporary folder, also on failure (pg_start set a trap of its own);
# a standby stopped by step 1b is let go on first, or it could not stop
STOPPED=
trap '[[ -n $STOPPED ]] && kill -CONT $STOPPED; pg_stop; e2e_cleanup; rm -rf "$E2E_TMP"' EXIT
PRIMARY=$PG_DIR
pg_standby_start || { echo "standby-reads.sh: cannot start the standby"; exit 1; }
STANDBY=$PG_STANDBY_HOST
as_pg() { runuser -u postgres -- "$PG_BIN/$1" "${@:2}"; }
sql_at() { psql -X -A -t -q -v ON_ERROR_STOP=1 "postgresql:///jitgate?host=$1&user=jitgate" -c "$2" 2>>"$E2E_TMP/psql.err"; }
primary_stop() { as_pg pg_ctl -D "$PRIMARY/data" -m immediate -w -t 10 stop >/dev/null 2>&1; }
primary_start() { as_pg pg_ctl -D "$PRIMARY/data" -l "$PRIMARY/server.log" -w -t 30 restart >/dev/null 2>&1; }
# the primary streams to the standby, which counts for synchronous commits
in_sync() { [[ $(sql_at "$PRIMARY" "SELECT sync_state FROM pg_stat_replication WHERE state = 'streaming'") == sync ]]; }
STORE="postgresql:///jitgate?host=$PRIMARY,$STANDBY&user=jitgate&target_session_attrs=read-write"
STORE_READ="postgresql:///jitgate?host=$PRIMARY,$STANDBY&user=jitgate"

VM=$(ns_new vm) && CL=$(ns_new cl) || exit 1
link_new "$VM" v0 "$CL" c0 || exit 1
V=10.238.0.1 M=10.238.0.9
addr_add "$VM" v0 $V/24 && addr_add "$CL" c0 $M/24 || exit 1
listen "$VM" 22 || exit 1

STATE=$E2E_TMP/state
SUB=00000000-0000-0000-0000-000000000000
VMID=/subscriptions/$SUB/resourceGroups/default/providers/Microsoft.Compute/virtualMachines/vm1
POL=/subscriptions/$SUB/resourceGroups/default/providers/Microsoft.Security/locations/local/jitNetworkAccessPolicies/default
VMS=/subscriptions/$SUB/providers/Microsoft.Compute/virtualMachines
AV=api-version=2020-01-01
SRVLOG=$E2E_TMP/jitgated.log
POLICY_BODY=$(printf '{"properties":{"virtualMachines":[{"id":"%s","ports":[{"number":22,"protocol":"TCP","allowedSourceAddressPrefix":"%s","maxRequestAccessDuration":"PT1H"}]}]}}' "$VMID" "$M")

token() { "$JITGATED" token "$@" --state-dir "$STATE" --store "$STORE"; }
# call TOKEN METHOD PATH [BODY]: sets $code, $R (body), $ms (how long it took) and $retry (Retry-After)
call() {
	local args=(-sS --max-time 10 --cacert "$STATE/tls/cert.pem" --interface "$M" -o "$E2E_TMP/resp" -D "$E2E_TMP/hdr"
		-w '%{http_code} %{time_total}' -X "$2")
	[[ -n $1 ]] && args+=(-H "Authorization: Bearer $1")
	[[ -n ${4-} ]] && args+=(-H 'Content-Type: application/json' --data-binary "$4")
	local out; out=$(ip netns exec "$CL" curl "${args[@]}" "https://$V:8443$3" 2>"$E2E_TMP/curl.err")
	code=${out% *}
	ms=$(awk '{ printf "%d", $2 * 1000 }' <<<"$out")
	R=$(cat "$E2E_TMP/resp" 2>/dev/null)
	retry=$(tr -d '\r' <"$E2E_TMP/hdr" 2>/dev/null | awk -F': ' 'tolower($1) == "retry-after" { print $2 }')
}
j() { jq -r "$@" <<<"$R" 2>/dev/null; }
initiate_body() {
	printf '{"virtualMachines":[{"id":"%s","ports":[{"number":22,"endTimeUtc":"%s","allowedSourceAddressPrefix":"%s"}]}],"justification":"e2e"}' \
		"$VMID" "$(date -u -d "@$(( $(date +%s) + 600 ))" +%Y-%m-%dT%H:%M:%SZ)" "$M"
}
# a write refused while there is no primary: 503, Retry-After, within WRITE_503_MAX_MS
write_refused() { [[ $code == 503 && -n $retry ]] && (( ms <= WRITE_503_MAX_MS )); }
initiate_ok() { call "$T_REQ" POST "$POL/initiate?$AV" "$(initiate_body)"; [[ $code == 202 ]]; }

echo "0. a primary and its streaming standby (synchronous), jitgated on both"
streaming() { [[ -n $(sql_at "$PRIMARY" "SELECT 1 FROM pg_stat_replication WHERE state = 'streaming'") ]]; }
eventually_within "the standby streams from the primary" 10 streaming
sql_at "$PRIMARY" "ALTER SYSTEM SET synchronous_standby_names = '*'" && sql_at "$PRIMARY" "SELECT pg_reload_conf()" >/dev/null
eventually_within "commits wait for the standby (sync_state sync)" 10 in_sync
out=$("$JITGATED" --single-process --state-dir "$E2E_TMP/bad" --store-read "$STORE_READ" 2>&1 </dev/null); rc=$?
check "a careless operator: store_read without store (SQLite) is refused, naming store_read (exit $rc: $out)" \
	bash -c '[[ $1 != 0 && $2 == *store_read* && $2 == *"store = postgresql://"* ]]' _ "$rc" "$out"
out=$("$JITGATED" --single-process --state-dir "$E2E_TMP/bad" --store "$STORE" --store-read "mysql://db/x" 2>&1 </dev/null); rc=$?
check "store_read that is not a postgresql:// URI is refused, naming store_read (exit $rc: $out)" \
	bash -c '[[ $1 != 0 && $2 == *store_read* && $2 == *postgresql://* ]]' _ "$rc" "$out"
out=$("$JITGATED" --single-process --state-dir "$E2E_TMP/bad" --store "$STORE" --store-read \
	"postgresql://u:s3cret@db/x?nosuchkey=1" 2>&1 </dev/null); rc=$?
check "store_read that libpq does not take is refused, naming store_read, not repeating the password (exit $rc: $out)" \
	bash -c '[[ $1 != 0 && $2 == *store_read* && $2 == *nosuchkey* && $2 != *s3cret* ]]' _ "$rc" "$out"
T_ADMIN=$(token create --name admin --role SecurityAdmin)
T_READ=$(token create --name reader --role Reader)
T_REQ=$(token create --name req --role JitRequester)
T_GONE=$(token create --name gone --role Reader)
T_LATE=$(token create --name late --role Reader)
check "five tokens made on the primary" test "$(printf '%s\n' "$T_ADMIN" "$T_READ" "$T_REQ" "$T_GONE" "$T_LATE" | grep -c '^jg_')" = 5
# privilege-separated, as in production: the standby's connection lives in the sandboxed main process (seccomp)
JITGATED_USER=jitgate-sb-t
e2e_user "$JITGATED_USER" || exit 1
chmod 0711 "$E2E_TMP"	# its user must reach the state directory below it
if ! jitgated_start "$VM" "$CL" "$STATE" "$V:8443" "$SRVLOG" --single-replica --vm-name vm1 --store "$STORE" \
	--store-read "$STORE_READ"; then
	notok "jitgated starts, privilege-separated: $(tail -3 "$SRVLOG")"
	e2e_summary
	exit 1
fi
ok "jitgated starts, privilege-separated (store: both hosts, read-write; store_read: both hosts)"
SRV=$JITGATED_PID
call "$T_ADMIN" PUT "$POL?$AV" "$POLICY_BODY"
check "PUT the policy: 200 ($code)" test "$code" = 200
check "initiate on the primary: 202" initiate_ok
check "C reaches vm1's 22 through the grant" can "$CL" $M $V 22
call "$T_READ" GET "$POL?$AV"
POLICY_BEFORE=$(j -c '.properties.virtualMachines')
check "the policy GET on the primary: 200 ($code)" test "$code" = 200
token revoke gone >/dev/null
call "$T_GONE" GET "$POL?$AV"
check "token 'gone' revoked on the primary (a synchronous commit: on the standby too): 401 ($code)" test "$code" = 401

echo "1. the primary stops (no failover): reads from the standby, writes 503 at once"
primary_stop
check "the primary is down" bash -c '! "$1/pg_isready" -q -h "$2"' _ "$PG_BIN" "$PRIMARY"
call "$T_READ" GET "$POL?$AV"
check "the policy GET: 200 from the standby ($code, $ms ms)" test "$code" = 200
check "  … the same policy as on the primary" test "$(j -c '.properties.virtualMachines')" = "$POLICY_BEFORE"
check "  … with the grant made on the primary ($(j -r '.properties.requests | length') request)" \
	test "$(j -r '.properties.requests | length')" = 1
call "$T_READ" GET "$VMS?$AV"
check "the VM list: 200 from the standby, vm1 in it ($code $(j -c '[.value[].name]'))" test "$code $(j -r '.value[0].name')" = "200 vm1"
call "$T_ADMIN" GET "/subscriptions/$SUB/providers/Microsoft.Security/jitActivityLog?$AV"
check "the activity log: 200 from the standby, the initiate in it ($code $(j -r '[.value[].operation] | join(",")' | cut -c1-60))" \
	bash -c '[[ $1 == 200 && $2 == *nitiate* ]]' _ "$code" "$(j -r '[.value[].operation] | join(",")')"
call "$T_READ" GET "$POL?$AV"
check "a second policy GET: 200 ($code, $ms ms)" test "$code" = 200
call "$T_REQ" POST "$POL/initiate?$AV" "$(initiate_body)"
check "an initiate: 503 with Retry-After $retry, in $ms ms (at most $WRITE_503_MAX_MS)" write_refused
call "$T_ADMIN" PUT "$POL?$AV" "$POLICY_BODY"
check "a policy PUT: 503 with Retry-After $retry, in $ms ms" write_refused
check "  … its error is the store's (StoreError: $(j -r .error.code))" test "$(j -r .error.code)" = StoreError
call "jg_$(head -c 30 /dev/urandom | base64 | tr -d '/+=' | head -c 43)" GET "$POL?$AV"
check "a bad token: 401, not 503 (the standby says it is unknown) ($code $(j -r .error.code))" test "$code" = 401
call "" GET "$POL?$AV"
check "no token: 401 ($code)" test "$code" = 401
call "$T_GONE" GET "$POL?$AV"
check "the token revoked on the primary before it stopped (replicated): 401 from the standby ($code)" test "$code" = 401
call "$T_READ" GET "$POL?$AV"
check "the policy GET still 200 after those ($code, $ms ms)" test "$code" = 200
check "C still reaches vm1's 22 (the grant enforced stays)" can "$CL" $M $V 22

echo "1b. a standby that does not answer (its processes stopped): 503s, each within the named limits, never a hang"
STOPPED="$(head -1 "$STANDBY/data/postmaster.pid") $(ps -o pid= --ppid "$(head -1 "$STANDBY/data/postmaster.pid")")"
kill -STOP $STOPPED
call "$T_READ" GET "$POL?$AV"
check "the policy GET: 503 with Retry-After in $ms ms (the standby's read deadline, 1 s; at most $SILENT_MAX_MS)" \
	bash -c '[[ $1 == 503 && -n $2 ]] && (( $3 <= $4 ))' _ "$code" "$retry" "$ms" "$SILENT_MAX_MS"
check "  … saying the standby did not answer in time" bash -c 'grep -q "the standby did not answer in time" <<<"$1"' _ \
	"$(j -r .error.message)"
for i in 1 2; do
	call "$T_READ" GET "$POL?$AV"
	# the standby in its pause; the primary's URI lists the silent standby too: its reconnect may take its 2 s
	check "another: 503 in $ms ms, at most $WRITE_503_MAX_MS ($(j -r .error.message | cut -c1-60)…)" \
		bash -c '[[ $1 == 503 ]] && (( $2 <= $3 ))' _ "$code" "$ms" "$WRITE_503_MAX_MS"
done
kill -CONT $STOPPED
STOPPED=
served() { call "$T_READ" GET "$POL?$AV"; [[ $code == 200 ]]; }
eventually_within "the standby answers again: reads served (after its 2 s pause)" 5 served

echo "2. the primary back: writes resume by themselves"
primary_start
check "the primary is up again" "$PG_BIN/pg_isready" -q -h "$PRIMARY"
eventually_within "an initiate answers 202 again, jitgated not restarted" $RESUME_MAX_S initiate_ok
eventually_within "the standby streams again, synchronous" 10 in_sync

echo "3. abuse: a standby that lags (WAL replay paused) is not read from"
sql_at "$STANDBY" "SELECT pg_wal_replay_pause()" >/dev/null
token revoke late >/dev/null
lagging() { [[ $(sql_at "$STANDBY" "SELECT pg_last_wal_receive_lsn() > pg_last_wal_replay_lsn()") == t ]]; }
eventually_within "token 'late' revoked on the primary: received by the standby, not applied (replay paused)" 5 lagging
primary_stop
call "$T_READ" GET "$POL?$AV"
check "the policy GET: 503 with Retry-After $retry, not an answer older than the standby knows ($code, $ms ms)" \
	test "$code ${retry:-none}" = "503 2"
echo "    (its message: $(j -r .error.message))"
check "  … the standby's reason given" \
	bash -c 'grep -q "not applied all it received" <<<"$1"' _ "$(j -r .error.message)"
call "$T_LATE" GET "$POL?$AV"
check "token 'late' (its revoke received, not applied): 503, never 200 ($code)" test "$code" = 503
sql_at "$STANDBY" "SELECT pg_wal_replay_resume()" >/dev/null
caught_up() { [[ $(sql_at "$STANDBY" "SELECT pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn()") == t ]]; }
eventually_within "replay resumed: the standby applies what it received" 5 caught_up
call "$T_READ" GET "$POL?$AV"
check "the policy GET: 200 again from the standby ($code)" test "$code" = 200
call "$T_LATE" GET "$POL?$AV"
check "token 'late', its revoke applied now: 401 ($code)" test "$code" = 401

echo "4. the standby promoted: writes resume on it, jitgated not restarted"
as_pg pg_ctl -D "$STANDBY/data" -w -t 30 promote >/dev/null 2>&1
check "the standby is promoted (pg_is_in_recovery false)" test "$(sql_at "$STANDBY" 'SELECT pg_is_in_recovery()')" = f
t0=$(now_ms)
eventually_within "an initiate answers 202 (on the promoted standby)" $RESUME_MAX_S initiate_ok
echo "  writes back $(( $(now_ms) - t0 )) ms after the promotion"
call "$T_ADMIN" PUT "$POL?$AV" "$POLICY_BODY"
check "a policy PUT: 200 ($code)" test "$code" = 200
check "the three requests answered 202 are in the promoted standby's store" \
	test "$(sql_at "$STANDBY" "SELECT count(*) FROM requests")" = 3
check "jitgated is the one started at step 0 (pid $SRV)" kill -0 $SRV

e2e_summary

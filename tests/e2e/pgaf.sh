# pg_auto_failover on this machine for the failover test and benchmark (tests/e2e/failover.sh, bench/failover-bench.sh):
# a monitor, a primary and a secondary in one namespace, jitgated replicas on a multi-host URI, initiate loops.
# Source it after lib.sh, with DB (the database's namespace) and DBA (its address) set. It replaces lib.sh's EXIT
# trap with one that also kills the nodes (each pg_autoctl in its own process group, with its postgres).
#
# The monitor's health checks are shortened (seconds, not pg_auto_failover's default 20 s + 30 s) so that a
# failover takes a few seconds; commits wait for the standby (synchronous replication) once pga_in_sync holds.

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
PGA_PGIDS=()
PGA_DIR=$(mktemp -d /tmp/jitgate-pgaf.XXXXXX) || exit 1
pga_cleanup() {
	local g f i
	# a node killed while it rejoins may still be writing for a moment (its postgres' children): again, 2 s at most
	for ((i = 0; i < 10; i++)); do
		for g in "${PGA_PGIDS[@]}"; do kill -KILL -- "-$g" 2>/dev/null; done
		for f in "$PGA_DIR"/*/postmaster.pid; do [[ -f $f ]] && kill -KILL "$(head -1 "$f")" 2>/dev/null; done
		# a postgres killed leaves its socket and lock in /var/run/postgresql: those of this test's data go
		for f in /var/run/postgresql/.s.PGSQL.*.lock; do
			[[ -f $f && $(sed -n 2p "$f" 2>/dev/null) == "$PGA_DIR"/* ]] && rm -f "$f" "${f%.lock}"
		done
		rm -rf "$PGA_DIR" 2>/dev/null && break
		sleep 0.2
	done
}
trap 'pga_cleanup; e2e_cleanup; rm -rf "$E2E_TMP"' EXIT
chown postgres: "$PGA_DIR" && chmod 755 "$PGA_DIR" || exit 1

# pg_autoctl as postgres in the db namespace, its configuration under PGA_DIR (not postgres's home); UTF-8 (jitgate's
# schema makes an ICU collation, which needs a UTF8 database)
P0=$((20000 + RANDOM % 20000))	# the unix sockets go to /var/run/postgresql: ports no other test uses
MONITOR="postgres://autoctl_node@$DBA:$P0/pg_auto_failover?sslmode=disable"
# what jitgated is given: libpq tries both nodes and keeps the one that takes writes
URI="postgresql://postgres@$DBA:$((P0 + 1)),$DBA:$((P0 + 2))/jitgate?target_session_attrs=read-write"
as_pg() {
	ip netns exec "$DB" runuser -u postgres -- env -i PATH="$PG_BIN:/usr/bin:/bin" HOME="$PGA_DIR" \
		XDG_CONFIG_HOME="$PGA_DIR/config" XDG_DATA_HOME="$PGA_DIR/share" XDG_RUNTIME_DIR="$PGA_DIR/run" \
		PG_CONFIG="$PG_BIN/pg_config" LC_ALL=C.UTF-8 "$@"
}
declare -A PGA_GROUP
pga_run() { # NODE: pg_autoctl run, in a process group of its own (killed whole: the node and its postgres)
	rm -f "$PGA_DIR/$1.pgid"	# a node started again: its new group, not the killed one's
	setsid bash -c 'echo $$ >"$1/$2.pgid"; shift 2; exec "$@"' _ "$PGA_DIR" "$1" \
		ip netns exec "$DB" runuser -u postgres -- env -i PATH="$PG_BIN:/usr/bin:/bin" HOME="$PGA_DIR" \
		XDG_CONFIG_HOME="$PGA_DIR/config" XDG_DATA_HOME="$PGA_DIR/share" XDG_RUNTIME_DIR="$PGA_DIR/run" \
		PG_CONFIG="$PG_BIN/pg_config" LC_ALL=C.UTF-8 pg_autoctl run --pgdata "$PGA_DIR/$1" >>"$E2E_TMP/$1.log" 2>&1 &
	disown	# killed on purpose: no "Killed" notice from bash
	local i
	for ((i = 0; i < 100; i++)); do [[ -s $PGA_DIR/$1.pgid ]] && break; sleep 0.02; done
	PGA_GROUP[$1]=$(<"$PGA_DIR/$1.pgid")
	PGA_PGIDS+=(${PGA_GROUP[$1]})
}
# pga_kill NODE: the node's pg_autoctl and postgres killed (KILL), as a crashed host
pga_kill() {
	local f
	kill -KILL -- "-${PGA_GROUP[$1]}"
	for f in "$PGA_DIR/$1/postmaster.pid"; do [[ -f $f ]] && kill -KILL "$(head -1 "$f")" 2>/dev/null; done
}
psql_at() { ip netns exec "$DB" runuser -u postgres -- psql -X -A -t -q -h /var/run/postgresql -p "$1" -d "$2" -c "$3" 2>>"$E2E_TMP/psql.err"; }
pga_state() { as_pg pg_autoctl show state --pgdata "$PGA_DIR/mon" 2>/dev/null; }
# the reported states of node 1 and node 2, "n1=primary n2=secondary"
pga_states() { pga_state | awk -F'|' '$1 ~ /n[12]/ { gsub(/ /, "", $1); gsub(/ /, "", $6); printf "%s=%s ", $1, $6 }'; }
pga_settled() { local s; s=$(pga_states); [[ $s == *=primary* && $s == *=secondary* ]]; }
# the node reported primary: n1 or n2 (empty when none is)
pga_primary() { pga_states | grep -o 'n[12]=primary' | cut -d= -f1; }
# the monitor's state changes since epoch ms $1: "MS|node|reported|assigned|why", oldest first
pga_events() {
	psql_at $P0 pg_auto_failover "SELECT (extract(epoch FROM eventtime) * 1000)::bigint, nodename, reportedstate, goalstate,
		description FROM pgautofailover.event WHERE eventtime >= to_timestamp(${1:-0} / 1000.0) ORDER BY eventid"
}
# what the primary (port $1) makes commits wait for: "names=… standbys=app:sync_state,…"
pga_sync() {
	echo "names='$(psql_at "$1" jitgate 'SHOW synchronous_standby_names')'" \
		"standbys=$(psql_at "$1" jitgate "SELECT string_agg(application_name || ':' || sync_state, ',') FROM pg_stat_replication")"
}
# each node's reported/assigned state: "n1 primary/primary n2 secondary/secondary"
pga_both() { pga_state | awk -F'|' '$1 ~ /n[12]/ { gsub(/ /, ""); printf "%s %s/%s ", $1, $6, $7 }'; }
# commits wait for the standby: the primary primary/primary, the other secondary/secondary (not wait_primary: there
# pg_auto_failover turns synchronous replication off to keep taking writes), synchronous_standby_names set on the
# primary and its standby counted in it (pg_stat_replication sync_state sync or quorum)
pga_in_sync() {
	local b p; b=$(pga_both)
	[[ $b =~ n([12])\ primary/primary && $b == *" secondary/secondary"* ]] || return 1
	p=$(( P0 + BASH_REMATCH[1] ))
	[[ -n $(psql_at $p jitgate 'SHOW synchronous_standby_names') ]] &&
		[[ $(psql_at $p jitgate "SELECT count(*) FROM pg_stat_replication WHERE sync_state IN ('sync', 'quorum')") -ge 1 ]]
}
pga_up_port() { ip netns exec "$DB" "$PG_BIN/pg_isready" -q -h $DBA -p "$1"; }
# pga_up UP_TIMEOUT_S: the monitor (health checks shortened), node 1 and node 2 (database jitgate), until a primary and
# a secondary replicate synchronously; each step a check. Fails if any step did.
pga_up() {
	local fail0=$E2E_FAIL t0 kv v i
	t0=$(now_ms)
	as_pg pg_autoctl create monitor --pgdata "$PGA_DIR/mon" --pgport $P0 --hostname $DBA --auth trust --no-ssl \
		>"$E2E_TMP/mon.create.log" 2>&1
	check "the monitor is created" test $? = 0
	pga_run mon
	eventually_within "the monitor answers" 20 pga_up_port $P0
	# failure detected in ~2 s (not 20 s), the old primary not waited for to demote (it is dead) past 2 s
	for kv in health_check_period=1000 health_check_timeout=1000 health_check_max_retries=1 health_check_retry_delay=500 \
		node_considered_unhealthy_timeout=2000 primary_demote_timeout=2000; do
		psql_at $P0 pg_auto_failover "ALTER SYSTEM SET pgautofailover.${kv%=*} = ${kv#*=}" >/dev/null
	done
	psql_at $P0 pg_auto_failover "SELECT pg_reload_conf()" >/dev/null
	sleep 0.5
	v=$(psql_at $P0 pg_auto_failover 'SHOW pgautofailover.node_considered_unhealthy_timeout')
	check "the monitor's health checks shortened (node_considered_unhealthy_timeout $v)" test "$v" = 2s
	for i in 1 2; do
		as_pg pg_autoctl create postgres --pgdata "$PGA_DIR/n$i" --pgport $((P0 + i)) --hostname $DBA --name n$i \
			--auth trust --no-ssl --pg-hba-lan --monitor "$MONITOR" --dbname jitgate >"$E2E_TMP/n$i.create.log" 2>&1
		check "node $i is created" test $? = 0
		pga_run n$i
		[[ $i == 1 ]] && eventually_within "node 1 answers" 30 pga_up_port $((P0 + 1))
	done
	eventually_within "a primary and a secondary within $1 s ($(pga_states))" "$1" pga_settled
	echo "  up in $(( $(now_ms) - t0 )) ms: $(pga_states)"
	eventually_within "commits wait for the secondary: synchronous replication on ($(pga_sync $((P0 + 1))))" 30 pga_in_sync
	(( E2E_FAIL == fail0 ))
}
# pga_sql SQL: on the primary, through the multi-host URI
pga_sql() { ip netns exec "$DB" psql -X -A -t -q "$URI" -c "$1" 2>>"$E2E_TMP/psql.err"; }

# --- jitgated replicas on the URI, and initiate loops against them ---
# Set before use: JITGATED, RNS and RIP (associative: replica letter -> namespace, address), CL (the clients'
# namespace), CERT, E2E_TMP/jitgated.conf; for the loops also CLIENTS, SRC (one source each), POL, AV, VM,
# REQUEST_MAX_S.
declare -A RPID
pga_replica_start() { # A|B
	mkdir -p -m 0700 "$E2E_TMP/state$1"
	ip netns exec "${RNS[$1]}" "$JITGATED" --single-process --state-dir "$E2E_TMP/state$1" --listen "${RIP[$1]}:8443" \
		--vm-name "rep$1" --config "$E2E_TMP/jitgated.conf" --store "$URI" >>"$E2E_TMP/jitgated$1.log" 2>&1 &
	RPID[$1]=$!
	E2E_PIDS+=(${RPID[$1]})
	e2e_wait_healthy "$CL" "$CERT" "https://${RIP[$1]}:8443" "${RPID[$1]}"
}
# pga_token NAME: an Owner token, made offline through replica A's state directory
pga_token() { ip netns exec "${RNS[A]}" "$JITGATED" token create --name "$1" --role Owner --state-dir "$E2E_TMP/stateA" --store "$URI"; }
# pga_load_start PHASE FIRST SECOND [split]: CLIENTS initiate loops (tests/e2e/initiate-loop.sh, client k with the
# token in $E2E_TMP/token.k), on replica FIRST, then SECOND after an answer that never came; "split": the odd clients
# start on SECOND. Answers in $E2E_TMP/PHASE.K. pga_load_stop ends them (each after its request in flight).
PGA_STOP=$E2E_TMP/stop
declare -a PGA_LPID
pga_load_start() {
	local k a b
	rm -f "$PGA_STOP"
	for ((k = 0; k < CLIENTS; k++)); do
		a=$2 b=$3
		[[ ${4-} == split ]] && (( k % 2 )) && a=$3 b=$2
		: >"$E2E_TMP/$1.$k"
		ip netns exec "$CL" bash "$E2E_DIR/initiate-loop.sh" $k "${SRC[$k]}" "https://${RIP[$a]}:8443$POL/initiate?$AV" \
			"https://${RIP[$b]}:8443$POL/initiate?$AV" "$CERT" "$VM" "$PGA_STOP" $REQUEST_MAX_S "$E2E_TMP/$1.$k" \
			"$E2E_TMP/token.$k" &
		PGA_LPID[$k]=$!
		E2E_PIDS+=(${PGA_LPID[$k]})
	done
}
pga_load_stop() { local k; touch "$PGA_STOP"; for ((k = 0; k < CLIENTS; k++)); do wait "${PGA_LPID[$k]}" 2>/dev/null; done; }

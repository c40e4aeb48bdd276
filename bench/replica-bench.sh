#!/usr/bin/env bash
# make bench (issue 14): initiates/s and initiate p99 on SQLite (one jitgated) and on PostgreSQL with one and two
# replicas, in one run, the same workload each time; then how soon a grant made on replica A answers an agent's
# watch held on replica B (propagation); and policy GETs/s for each case, before its initiates (the policy's 64 rules,
# no requests yet: the cached answer). Prints a table and writes it to bench/RESULTS.md (its own section).
# Never fails on a number.
#
#   replica A (jitgated, RA:8443) ─┐
#   replica B (jitgated, RB:8443) ─┼── bridge (its own namespace), 10.247.0.0/24
#   clients (server-bench, C) ─────┘
#
# The VM the initiates are for is an agent VM (joined through the API as an agent does; no agent runs: its grants
# wait in the store for its watch), as every protected host is in PostgreSQL mode: no replica's kernel takes part,
# and it is the same on SQLite. Each replica has its own local VM (repA, repB) and state directory; both serve one
# certificate naming both addresses. Each case starts on an empty database (PostgreSQL: a new one on one
# throwaway server, tests/pg.sh, commits synced to disk: fsync and synchronous_commit on).
#
# Usage: bench/replica-bench.sh [BUILD_DIR]   (as root; needs curl, openssl, PostgreSQL 15)
# Knobs: RATE_SECONDS (10), GET_SECONDS (3; 0: no GETs), THREADS (16 clients, spread over the replicas), PROP_COUNT (200 samples),
#        ROUNDS (3: every case once a round, the order reversed each round; the table gives medians),
#        ONLY_CASES ("sq pg1 pg2", with BEFORE "sq pg1 pg1b pg2 pg2b": which cases),
#        BEFORE=DIR: a second build (e.g. of main) measured on PostgreSQL in the same run, case by case, for
#        before/after ratios; RESULTS (bench/RESULTS.md; "" writes nothing)
set -u
here=$(cd "$(dirname "$0")" && pwd)
BUILD=$(cd "${1:-$here/../build}" && pwd) || exit 1
RATE_SECONDS=${RATE_SECONDS:-10}
GET_SECONDS=${GET_SECONDS:-3}	# short: a GET is answered from the replica's cache, its rate settles in a second
THREADS=${THREADS:-16}
PROP_COUNT=${PROP_COUNT:-200}
ROUNDS=${ROUNDS:-3}
RESULTS=${RESULTS-$here/RESULTS.md}
PORTS=64	# rules of the VM in the policy: 22 and 1001..1063 (server-bench setup)
. "$here/../tests/e2e/lib.sh"
. "$here/../tests/pg.sh"

builds=("$BUILD")
[[ -n ${BEFORE:-} ]] && { BEFORE=$(cd "$BEFORE" && pwd) || exit 1; builds+=("$BEFORE"); }
for b in "${builds[@]}"; do
	JITGATED=$b/src/daemon/jitgated e2e_require replica-bench - JITGATED || exit 1
done
# the clients are this build's whichever jitgated they measure
e2e_binaries "$BUILD"
BENCH=$BUILD/bench/server-bench
e2e_require replica-bench - "BENCH LOADTOOL" curl openssl || exit 1

T_START=$(date +%s)
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
export PG_DURABLE=1
pg_start || exit 1
trap 'e2e_cleanup; pg_stop' EXIT	# pg_start's trap replaced lib.sh's: both, in this order

C=10.247.0.21
replica_net rb 10.247.0.1 10.247.0.2 $C || exit 1
replica_conf || exit 1
SUB=00000000-0000-0000-0000-000000000000
POLICY=/subscriptions/$SUB/resourceGroups/default/providers/Microsoft.Security/locations/local/jitNetworkAccessPolicies/default
AGENT_VM=bagent0	# agentload join names its hosts PREFIX0...

N_DB=0 N_CASE=0
# start_case NAME BUILD STORE REPLICAS: a fresh store (STORE: sqlite, or pg: a new database), its tokens, the
# replicas, the agent VM and the policy. Sets TOKENS, CRED (the agent VM's id and credential), BASES.
start_case() {
	local name=$1 b=$2 store=$3 n=$4 dir r i st jt
	N_CASE=$((N_CASE + 1))
	dir=$E2E_TMP/case$N_CASE
	local jg=$b/src/daemon/jitgated storeargs=()
	mkdir -p "$dir"
	if [[ $store == pg ]]; then
		N_DB=$((N_DB + 1))
		"${PG_USER_RUN[@]}" "$PG_BIN/createdb" -h "$PG_DIR" -U jitgate "bench$N_DB" || return 1
		storeargs=(--store "postgresql:///bench$N_DB?host=$PG_DIR&user=jitgate")
	fi
	TOKENS=$dir/tokens
	for ((i = 0; i < THREADS; i++)); do
		timeout 20 "$jg" token create --state-dir "$dir/stateA" --name "bench$i" --role Owner "${storeargs[@]}" \
			>>"$TOKENS" 2>>"$dir/token.err" || { echo "replica-bench: token create: $(tail -2 "$dir/token.err")"; return 1; }
	done
	jt=$(timeout 20 "$jg" token create --join --resource-group default --state-dir "$dir/stateA" "${storeargs[@]}" 2>>"$dir/token.err") ||
		{ echo "replica-bench: join token: $(tail -2 "$dir/token.err")"; return 1; }
	BASES=
	for r in A B; do
		[[ $r == B && $n == 1 ]] && break
		JITGATED=$jg REPLICA_DIR=$dir replica_spawn $r --vm-name "rep$r" "${storeargs[@]}" || return 1
		for ((i = 0; i < 1500; i++)); do	# 30 s
			grep -q listening "$dir/jitgated$r.log" 2>/dev/null && break
			kill -0 "${RPID[$r]}" 2>/dev/null || break
			sleep 0.02
		done
		grep -q listening "$dir/jitgated$r.log" ||
			{ echo "replica-bench: $name replica $r did not start: $(tail -3 "$dir/jitgated$r.log")"; return 1; }
		BASES+=${BASES:+,}https://${RIP[$r]}:8443
	done
	timeout 60 ip netns exec "$CL" "$LOADTOOL" "https://$RA:8443" "$CERT" join "$jt" 1 bagent $C >"$dir/creds" ||
		{ echo "replica-bench: $name: agent join failed"; return 1; }
	read -r -a CRED <"$dir/creds"
	st=$(timeout 60 ip netns exec "$CL" "$BENCH" "https://$RA:8443" "$CERT" "$TOKENS" setup "$AGENT_VM" 1 $PORTS) ||
		{ echo "replica-bench: $name: setup failed"; return 1; }
}
stop_case() {
	local r
	for r in "${!RPID[@]}"; do kill -TERM "${RPID[$r]}" 2>/dev/null; done
	for r in "${!RPID[@]}"; do wait "${RPID[$r]}" 2>/dev/null; done
	RPID=()
}
wal_syncs() { psql -X -A -t -h "$PG_DIR" -U jitgate -d postgres -c 'SELECT wal_sync FROM pg_stat_wal' 2>/dev/null; }
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<" $2"; }
gets() { BENCH_VM=$AGENT_VM timeout $((GET_SECONDS + 60)) ip netns exec "$CL" "$BENCH" "$BASES" "$CERT" "$TOKENS" get "$THREADS" "$GET_SECONDS"; }
rate() { BENCH_VM=$AGENT_VM timeout $((RATE_SECONDS + 60)) ip netns exec "$CL" "$BENCH" "$BASES" "$CERT" "$TOKENS" initiate "$THREADS" "$RATE_SECONDS" $PORTS; }

declare -A OUT PROP GETS
# run_case KEY ROUND NAME BUILD STORE REPLICAS [prop]: one case, its figures in OUT[KEY.ROUND] (PROP[KEY.ROUND],
# GETS[KEY.ROUND])
run_case() {
	local k=$1.$2
	shift
	if start_case "$2" "$3" "$4" "$5"; then
		local s0= s1=
		if ((GET_SECONDS > 0)); then
			GETS[$k]=$(gets)
			echo "$2: policy GETs: ${GETS[$k]}"
		fi
		[[ $4 == pg ]] && s0=$(wal_syncs)
		OUT[$k]=$(rate)
		[[ $4 == pg ]] && s1=$(wal_syncs)
		# PostgreSQL: WAL syncs during the run, about one per group commit
		[[ -n $s0 && -n $s1 ]] && OUT[$k]+=" wal_syncs=$((s1 - s0)) per_sync=$(awk -v a="$(field ok "${OUT[$k]}")" -v b=$((s1 - s0)) 'BEGIN { if (b > 0) printf "%.1f", a / b }')"
		echo "$2: ${OUT[$k]}"
		if [[ ${6:-} == prop ]]; then
			PROP[$k]=$(timeout $((PROP_COUNT + 60)) ip netns exec "$CL" "$LOADTOOL" "https://$RA:8443" "$CERT" propagate \
				"$(head -n 1 "$TOKENS")" "$POLICY" "${CRED[0]}" "${CRED[1]}" "https://$RB:8443" "$PROP_COUNT" $C)
			echo "  propagation, initiate on A -> watch on B answered: ${PROP[$k]}"
		fi
	fi
	stop_case
}

echo "replica benchmark: $(uname -r), $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ), load average $LOAD0"
echo "$THREADS clients, ${RATE_SECONDS} s each, one kept-alive HTTPS connection per client (spread over the replicas),"
echo "each cycling the agent VM's $PORTS rules from its own sources; a 202 means the store committed (synced)."
echo "PostgreSQL 15 on this machine, unix socket, fsync and synchronous_commit on; $(git -C "$here/.." describe --always --dirty 2>/dev/null)"
[[ -n ${BEFORE:-} ]] && echo "before: $BEFORE ($(git -C "$BEFORE" describe --always 2>/dev/null || echo "a build"))"
echo
CASES=(sq pg1 pg2)
[[ -n ${BEFORE:-} ]] && CASES=(sq pg1 pg1b pg2 pg2b)
[[ -n ${ONLY_CASES:-} ]] && read -r -a CASES <<<"$ONLY_CASES"
one_case() { # KEY ROUND
	case $1 in
	sq) run_case sq "$2" "SQLite, one jitgated" "$BUILD" sqlite 1 ;;
	pg1) run_case pg1 "$2" "PostgreSQL, one replica" "$BUILD" pg 1 ;;
	pg1b) run_case pg1b "$2" "PostgreSQL, one replica (before)" "$BEFORE" pg 1 ;;
	pg2) run_case pg2 "$2" "PostgreSQL, two replicas" "$BUILD" pg 2 prop ;;
	pg2b) run_case pg2b "$2" "PostgreSQL, two replicas (before)" "$BEFORE" pg 2 prop ;;
	esac
}
for ((round = 1; round <= ROUNDS; round++)); do
	echo "round $round of $ROUNDS (load average $(cut -d' ' -f1 /proc/loadavg))"
	if ((round % 2)); then order=("${CASES[@]}"); else order=(); for k in "${CASES[@]}"; do order=("$k" "${order[@]}"); done; fi
	for k in "${order[@]}"; do one_case "$k" "$round"; done
done
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)

# median KEY FIELD ARRAY-NAME: the median over the rounds of FIELD in the lines of KEY.1 .. KEY.ROUNDS
median() {
	local -n a=$3
	local r
	for ((r = 1; r <= ROUNDS; r++)); do field "$2" "${a[$1.$r]:-}"; done |
		grep -E '^[0-9.]+$' | sort -g | awk '{ v[++n] = $1 } END { if (n) print (n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2) }'
}
each() { # KEY FIELD ARRAY-NAME: the rounds' values, " / " between
	local -n a=$3
	local r out=
	for ((r = 1; r <= ROUNDS; r++)); do out+="${out:+ / }$(field "$2" "${a[$1.$r]:-}")"; done
	echo "$out"
}
for k in "${CASES[@]}"; do
	fails=0
	for ((r = 1; r <= ROUNDS; r++)); do fails=$((fails + $(field fail "${OUT[$k.$r]:-}" | grep -E '^[0-9]+$' || echo 0))); done
	OUT[$k]="per_s=$(median "$k" per_s OUT) p50_ms=$(median "$k" p50_ms OUT) p99_ms=$(median "$k" p99_ms OUT) fail=$fails rounds=$(each "$k" per_s OUT | tr -d ' ') per_sync=$(median "$k" per_sync OUT)"
	gfails=0
	for ((r = 1; r <= ROUNDS; r++)); do gfails=$((gfails + $(field fail "${GETS[$k.$r]:-}" | grep -E '^[0-9]+$' || echo 0))); done
	[[ -n ${GETS[$k.1]:-} ]] && GETS[$k]="per_s=$(median "$k" per_s GETS) p99_ms=$(median "$k" p99_ms GETS) rounds=$(each "$k" per_s GETS | tr -d ' ')$( ((gfails)) && echo "(${gfails}_failed)")"
	[[ -n ${PROP[$k.1]:-} ]] && PROP[$k]="p50_ms=$(median "$k" p50_ms PROP) p99_ms=$(median "$k" p99_ms PROP) rounds_p99=$(each "$k" p99_ms PROP | tr -d ' ')"
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "-"; else printf "%.2f", a / b }'; }
meets() { awk -v a="$1" -v b="$3" -v op="$2" 'BEGIN { if (a == "") { print "?"; exit }
	print ((op == "<=" ? a + 0 <= b + 0 : a + 0 >= b + 0) ? "yes" : "NO") }'; }
table() {
	local k label
	echo "| case | initiates/s | p50 ms | p99 ms | failed | initiates/s of each round | initiates per WAL sync | policy GETs/s | GET p99 ms | GETs/s of each round |"
	echo "|---|---|---|---|---|---|---|---|---|---|"
	for k in sq pg1 pg1b pg2 pg2b; do
		[[ -n ${OUT[$k]:-} ]] || continue
		case $k in
		sq) label="SQLite, one jitgated" ;; pg1) label="PostgreSQL, one replica" ;; pg2) label="PostgreSQL, two replicas" ;;
		pg1b) label="PostgreSQL, one replica, before" ;; pg2b) label="PostgreSQL, two replicas, before" ;;
		esac
		echo "| $label | $(field per_s "${OUT[$k]}") | $(field p50_ms "${OUT[$k]}") | $(field p99_ms "${OUT[$k]}") | $(field fail "${OUT[$k]}") | $(field rounds "${OUT[$k]}") | $(field per_sync "${OUT[$k]}") | $(field per_s "${GETS[$k]:-}") | $(field p99_ms "${GETS[$k]:-}") | $(field rounds "${GETS[$k]:-}" | tr _ " ") |"
	done
	echo
	echo "| figure | target | measured | met |"
	echo "|---|---|---|---|"
	v=$(field per_s "${OUT[pg2]:-}"); echo "| initiates/s across two replicas | >= 1500 | ${v:--} | $(meets "$v" '>=' 1500) |"
	v=$(field p99_ms "${OUT[pg2]:-}"); echo "| initiate p99 across two replicas (ms) | <= 20 | ${v:--} | $(meets "$v" '<=' 20) |"
	v=$(field p50_ms "${PROP[pg2]:-}"); echo "| propagation p50, initiate on A -> watch on B (ms) | - | ${v:--} | - |"
	v=$(field p99_ms "${PROP[pg2]:-}"); echo "| propagation p99 (ms; each round: $(field rounds_p99 "${PROP[pg2]:-}")) | <= 100 | ${v:--} | $(meets "$v" '<=' 100) |"
	v=$(field per_s "${GETS[pg2]:-}"); echo "| policy GETs/s across two replicas, $THREADS clients | >= 10000 | ${v:--} | $(meets "$v" '>=' 10000) |"
	echo "| initiates/s, PostgreSQL two replicas / SQLite | - | $(ratio "$(field per_s "${OUT[pg2]:-}")" "$(field per_s "${OUT[sq]:-}")") | - |"
	echo "| initiates/s, PostgreSQL one replica / SQLite | - | $(ratio "$(field per_s "${OUT[pg1]:-}")" "$(field per_s "${OUT[sq]:-}")") | - |"
	if [[ -n ${BEFORE:-} ]]; then
		echo "| initiates/s after / before, one replica | - | $(ratio "$(field per_s "${OUT[pg1]:-}")" "$(field per_s "${OUT[pg1b]:-}")") | - |"
		echo "| initiates/s after / before, two replicas | - | $(ratio "$(field per_s "${OUT[pg2]:-}")" "$(field per_s "${OUT[pg2b]:-}")") | - |"
		echo "| propagation p99 after / before | - | $(ratio "$(field p99_ms "${PROP[pg2]:-}")" "$(field p99_ms "${PROP[pg2b]:-}")") | - |"
	fi
}
echo
TABLE=$(table)
echo "$TABLE"
echo
echo "load average (1, 5, 15 min): $LOAD0 at the start, $LOAD1 at the end; $(( $(date +%s) - T_START )) s"

if [[ -n $RESULTS ]]; then
	{
		[[ -f $RESULTS ]] && sed '/^<!-- replica-bench -->$/,$d' "$RESULTS"
		echo "<!-- replica-bench -->"
		echo "# jitgate on SQLite and on PostgreSQL replicas"
		echo
		echo "Written by bench/replica-bench.sh (\`make bench\`); every run replaces this section, and"
		echo "\`make bench-compare\` keeps it. One run of $ROUNDS rounds, each case once a round (the order reversed"
		echo "every other round, so that the shared machine's drift hits all cases); the figures are the rounds' medians."
		echo "The same workload for every case: $THREADS clients for"
		echo "$RATE_SECONDS s each, one kept-alive HTTPS connection per client (over two replicas: half on each), each"
		echo "initiate one port of an agent VM from its own source; a 202 means the store committed, synced to disk"
		echo "(SQLite WAL synchronous=FULL; PostgreSQL 15 fsync and synchronous_commit on, unix socket). Propagation:"
		echo "$PROP_COUNT initiates on replica A, each timed to the answer of an agent's watch held on replica B."
		echo "Initiates per WAL sync (PostgreSQL's pg_stat_wal): about the group commit's size."
		echo "Policy GETs: the same $THREADS clients (and connections' spread) for $GET_SECONDS s before each case's initiates,"
		echo "GETs of the policy (its $PORTS rules, no requests yet: the answer each replica caches); 200 counted."
		echo
		echo "- Date: $(date -u +%Y-%m-%dT%H:%M:%SZ); machine: $(nproc) cores, $(uname -r); load average (1, 5, 15 min)"
		echo "  $LOAD0 at the start, $LOAD1 at the end (the machine is shared: compare ratios of one run)"
		echo "- jitgate $(git -C "$here/.." describe --always --dirty 2>/dev/null)${BEFORE:+; before: $BEFORE}"
		echo
		echo "$TABLE"
	} >"$RESULTS.tmp" && mv "$RESULTS.tmp" "$RESULTS" && echo "written to $RESULTS"
fi
exit 0

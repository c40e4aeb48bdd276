# Shared helpers for jitgate's end-to-end tests: throwaway namespaces, real connections, a tally.
# Source it; it sets a trap that removes every namespace and process the test made, also on failure.

set -u
E2E_ID=$(( $$ % 100000 ))
E2E_NS=()
E2E_PIDS=()
E2E_PASS=0
E2E_FAIL=0
E2E_T0=$(date +%s)
E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)	# tests/e2e, for the helpers it holds

e2e_cleanup() {
	local p n
	for p in "${E2E_PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${E2E_PIDS[@]}"; do wait "$p" 2>/dev/null; done
	for n in "${E2E_NS[@]}"; do ip netns del "$n" 2>/dev/null; done
	for n in "${E2E_USERS[@]}"; do userdel "$n" 2>/dev/null; done
	# ns_new usually runs in $(...), a subshell whose E2E_NS+= never reaches us: also go by our prefix
	for n in $(ip netns list 2>/dev/null | awk -v p="jg${E2E_ID}-" 'index($1, p) == 1 {print $1}'); do
		ip netns del "$n" 2>/dev/null
	done
	return 0
}
trap e2e_cleanup EXIT
trap 'exit 130' INT TERM

# ns NAME: create namespace jg<id>-NAME with loopback up; echo its full name.
ns_new() {
	local n="jg${E2E_ID}-$1"
	ip netns add "$n" || return 1
	E2E_NS+=("$n")
	ip -n "$n" link set lo up
	echo "$n"
}

# ns_settle NS: wait (up to 5 s) until no IPv6 address in NS is still tentative. A new link's
# link-local address passes duplicate address detection a second or two after the link comes up;
# a program that watches the network and starts before that sees the change (Chromium aborts its
# requests in flight with ERR_NETWORK_CHANGED).
ns_settle() {
	local i
	for ((i = 0; i < 500; i++)); do
		[[ -z $(ip -n "$1" -6 addr show tentative 2>/dev/null) ]] && return 0
		sleep 0.01
	done
	return 1
}

# link NS_A IF_A NS_B IF_B: a veth pair between two namespaces, both ends up.
link_new() {
	ip link add "$2" netns "$1" type veth peer name "$4" netns "$3" || return 1
	ip -n "$1" link set "$2" up
	ip -n "$3" link set "$4" up
}

addr_add() { # NS IF ADDR/LEN (IPv6 without duplicate address detection, so it is usable at once)
	case "$3" in
	*:*) ip -n "$1" addr add "$3" dev "$2" nodad ;;
	*) ip -n "$1" addr add "$3" dev "$2" ;;
	esac
}

# bg NS CMD...: run in the background inside NS; remembered for cleanup. Output to $E2E_LOG_DIR/bg.<pid>.
bg() {
	local n=$1; shift
	ip netns exec "$n" "$@" >"$E2E_TMP/bg.$BASHPID.$RANDOM" 2>&1 &
	E2E_PIDS+=($!)
}

# listen NS PORT...: start a netprobe echo listener and wait (≤ 3 s) until it listens.
listen() {
	local n=$1; shift
	local out="$E2E_TMP/listen.$n"
	ip netns exec "$n" "$NETPROBE" listen "$@" >"$out" 2>&1 &
	E2E_PIDS+=($!)
	local i
	for ((i = 0; i < 300; i++)); do
		grep -q listening "$out" 2>/dev/null && return 0
		sleep 0.01
	done
	echo "listener in $n did not start: $(cat "$out")" >&2
	return 1
}

now_ms() { date +%s%3N; }

# landlock_abi: the kernel's Landlock ABI version (landlock_create_ruleset(NULL, 0, VERSION), syscall 444), or < 0.
landlock_abi() { python3 -c 'import ctypes; print(ctypes.CDLL(None, use_errno=True).syscall(444, None, 0, 1))'; }

ok() { E2E_PASS=$((E2E_PASS + 1)); printf '  ok   %s\n' "$1"; }
notok() { E2E_FAIL=$((E2E_FAIL + 1)); printf '  FAIL %s\n' "$1"; }

# check "description" CMD...: passes when CMD exits 0.
check() {
	local what=$1; shift
	if "$@"; then ok "$what"; else notok "$what"; fi
}

# refuse "description" CMD...: passes when CMD exits non-zero.
refuse() {
	local what=$1; shift
	if "$@"; then notok "$what"; else ok "$what"; fi
}

# can NS SRC ADDR PORT: a TCP connection from SRC opens (within 1 s)
can() { ip netns exec "$1" "$NETPROBE" connect -s "$2" "$3" "$4" 1000; }
# cannot NS SRC ADDR PORT: it does not open within 400 ms (dropped packets never answer)
cannot() { ! ip netns exec "$1" "$NETPROBE" connect -s "$2" "$3" "$4" 400; }
can_udp() { ip netns exec "$1" "$NETPROBE" udp -s "$2" "$3" "$4" 1000; }
cannot_udp() { ! ip netns exec "$1" "$NETPROBE" udp -s "$2" "$3" "$4" 400; }

# e2e_wait_healthy NS CACERT URL [PID]: wait (up to 10 s) until URL/healthz answers 200 from NS, trusting
# CACERT (once jitgated has written it); gives up at once when PID has exited. Fails unless it answered.
e2e_wait_healthy() {
	local i
	for ((i = 0; i < 200; i++)); do
		[[ -f $2 ]] && [[ $(ip netns exec "$1" curl -s --max-time 1 --cacert "$2" -o /dev/null -w '%{http_code}' \
			"$3/healthz") == 200 ]] && return 0
		[[ -n ${4-} ]] && ! kill -0 "$4" 2>/dev/null && return 1
		sleep 0.05
	done
	return 1
}

# sleep_until UNIXMS: sleep until that wall-clock time.
sleep_until() {
	local d=$(( $1 - $(now_ms) ))
	(( d > 0 )) && sleep "$(printf '%d.%03d' $((d / 1000)) $((d % 1000)))"
	return 0
}

e2e_summary() {
	echo "$(basename "$0"): $E2E_PASS passed, $E2E_FAIL failed ($(( $(date +%s) - E2E_T0 )) s)"
	(( E2E_FAIL == 0 ))
}

E2E_TMP=$(mktemp -d)
trap 'e2e_cleanup; rm -rf "$E2E_TMP"' EXIT

# eventually_within "description" SECONDS CMD...: passes when CMD passes within SECONDS (tried every 0.1 s).
eventually_within() {
	local what=$1 n=$(( $2 * 10 )) i; shift 2
	for ((i = 0; i < n; i++)); do "$@" && { ok "$what"; return 0; }; sleep 0.1; done
	notok "$what"
	return 1
}

# iso_ms UNIXMS: that time as RFC 3339 UTC with milliseconds.
iso_ms() { date -u -d "@$(( $1 / 1000 )).$(printf '%03d' $(( $1 % 1000 )))" +%Y-%m-%dT%H:%M:%S.%3NZ; }

# the client store_sql and store_read run (a script checks it is there)
STORE_CLI=sqlite3
[[ -n ${JITGATE_TEST_PG-} ]] && STORE_CLI=psql

# store_sql STATE SQL: run SQL on jitgated's store behind its back: the SQLite file in STATE, or the
# PostgreSQL database of JITGATE_TEST_PG when the script runs under tests/e2e/on-pg.sh.
store_sql() {
	if [[ -n ${JITGATE_TEST_PG-} ]]; then
		psql -X -q -v ON_ERROR_STOP=1 "$JITGATE_TEST_PG" -c "$2" >/dev/null
	else
		sqlite3 "$1/jitgate.db" "$2"
	fi
}

# store_read STATE SQL: what SQL selects from jitgated's store, one row a line, columns separated by |
# (read-only beside the running jitgated on SQLite; psql's unaligned tuples on PostgreSQL, as store_sql).
store_read() {
	if [[ -n ${JITGATE_TEST_PG-} ]]; then
		psql -X -q -A -t -v ON_ERROR_STOP=1 "$JITGATE_TEST_PG" -c "$2"
	else
		sqlite3 -readonly "file:$1/jitgate.db?mode=ro" "$2"
	fi
}

# e2e_user NAME: a system user for a daemon to drop to (jitgate-agent's, jitgated's); made when missing, and then
# removed by the cleanup.
E2E_USERS=()
e2e_user() {
	id -u "$1" >/dev/null 2>&1 && return 0
	useradd --system --no-create-home --shell /usr/sbin/nologin "$1" || return 1
	E2E_USERS+=("$1")
}

# jitgated_start NS CLIENT_NS STATE HOST:PORT LOG ARGS...: $JITGATED in NS (privilege-separated as the user
# $JITGATED_USER when set, else --single-process), its output appended to LOG; waits until it answers /healthz
# from CLIENT_NS (e2e_wait_healthy). Its pid in JITGATED_PID.
jitgated_start() {
	local n=$1 cl=$2 st=$3 at=$4 log=$5 mode=(--single-process)
	shift 5
	[[ -n ${JITGATED_USER-} ]] && mode=(--user "$JITGATED_USER")
	ip netns exec "$n" "$JITGATED" "${mode[@]}" --state-dir "$st" --listen "$at" "$@" >>"$log" 2>&1 &
	JITGATED_PID=$!
	E2E_PIDS+=($JITGATED_PID)
	e2e_wait_healthy "$cl" "$st/tls/cert.pem" "https://$at" "$JITGATED_PID"
}

# browser_test_setup NAME DIR "MODULES" TOOLS...: what a browser test (portal.sh, sso.sh) needs: root, node and
# npm, Debian's Chromium ($CHROMIUM, /usr/bin/chromium by default), TOOLS, and the npm MODULES in DIR (npm ci the
# first time, from DIR's package-lock.json; it downloads no browser). Says what is missing and fails.
browser_test_setup() {
	local name=$1 dir=$2 modules=$3 t m missing=
	shift 3
	CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
	[[ $(id -u) == 0 ]] || { echo "$name: needs root (network namespaces)"; return 1; }
	command -v node >/dev/null && command -v npm >/dev/null ||
		{ echo "$name: node and npm are needed (scripts/deps.sh installs them)"; return 1; }
	[[ -x $CHROMIUM ]] || { echo "$name: $CHROMIUM is missing (scripts/deps.sh installs Debian's chromium)"; return 1; }
	for t in "$@"; do command -v "$t" >/dev/null || { echo "$name: needs $t (scripts/deps.sh)"; return 1; }; done
	for m in $modules; do [[ -d $dir/node_modules/$m ]] || missing=1; done
	[[ -z $missing ]] && return 0
	echo "$name: installing $modules (npm ci in ${dir#"$E2E_DIR"/}; it downloads no browser)"
	if ! (cd "$dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund >"$E2E_TMP/npm.log" 2>&1); then
		echo "$name: npm ci failed; is the npm registry reachable? Last lines of its output:"
		tail -n 15 "$E2E_TMP/npm.log" | sed 's/^/    /'
		return 1
	fi
}

# --- jitgate-agent helpers shared by agent-local.sh, agent-disk.sh, agent-net.sh, agent.sh and replicas.sh ---

# agent_wait_enforcing LOG PID [MARK]: wait (≤ 5 s) until LOG says "enforcing revision" more than MARK (default 0)
# times; fails at once if PID exits first.
agent_wait_enforcing() {
	local i mark=${3:-0}
	for ((i = 0; i < 500; i++)); do
		(( $(grep -c 'enforcing revision' "$1") > mark )) && return 0
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.01
	done
	return 1
}

# agent_grant REQUEST_ID SOURCE END_MS REMAINING_MS: one grant of TCP 22 in a state, as the server writes it
agent_grant() { printf '{"requestId":"%s","source":"%s","protocol":"TCP","number":22,"endTimeUtc":"%s","remainingMs":%d}' \
	"$1" "$2" "$(iso_ms "$3")" "$4"; }

# resp_start HOLD_MS: agent-responder.py (an HTTPS stand-in for jitgated's agent paths) on $S:8443 in namespace
# $SV, serving the files of $R with $R/cert.pem; waits (≤ 6 s) until it listens. resp_stop ends it.
resp_start() {
	: >"$E2E_TMP/resp.out"
	ip netns exec "$SV" python3 "$E2E_DIR/agent-responder.py" "$S" 8443 "$R/cert.pem" "$R/key.pem" "$R" "$1" \
		>"$E2E_TMP/resp.out" 2>&1 &
	resp_pid=$!
	E2E_PIDS+=($resp_pid)
	local i
	for ((i = 0; i < 300; i++)); do grep -q listening "$E2E_TMP/resp.out" && return 0; sleep 0.02; done
	return 1
}
resp_stop() { kill "$resp_pid" 2>/dev/null; wait "$resp_pid" 2>/dev/null; }

# --- several replicas on one bridge (replicas.sh, agents-only.sh, dnat-race.sh) ---

# bridge_plug BR NS IF PORT ADDR...: a veth from NS (named IF there) to bridge br0 of namespace BR (PORT), ADDR/24 each
bridge_plug() {
	local b=$1 n=$2 i=$3 p=$4; shift 4
	link_new "$n" "$i" "$b" "$p" && ip -n "$b" link set "$p" master br0 || return 1
	local a; for a in "$@"; do addr_add "$n" "$i" "$a/24"; done
}
# replica_cert ADDR...: one certificate naming every replica's address (agents pin one fingerprint for the set);
# sets CERT, KEY (0600) and FP, its SHA-256 fingerprint
replica_cert() {
	local san=() a
	for a in "$@"; do san+=("IP:$a"); done
	CERT=$E2E_TMP/cert.pem KEY=$E2E_TMP/key.pem
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=jitgate-replicas \
		-addext "subjectAltName=$(IFS=,; echo "${san[*]}")" -keyout "$KEY" -out "$CERT" 2>/dev/null || return 1
	chmod 0600 "$KEY"
	FP=$(openssl x509 -in "$CERT" -noout -fingerprint -sha256 | cut -d= -f2)
}

# The Azure bodies of the fleet scripts (agent.sh, replicas.sh); each defines vm K → host K's ARM id.
fleet_initiate_body() { # K PORT SOURCE SECONDS
	printf '{"virtualMachines":[{"id":"%s","ports":[{"number":%d,"endTimeUtc":"%s","allowedSourceAddressPrefix":"%s"}]}],"justification":"e2e"}' \
		"$(vm "$1")" "$2" "$(date -u -d "@$(( $(date +%s) + $4 ))" +%Y-%m-%dT%H:%M:%SZ)" "$3"
}
fleet_revoke_body() { # K PORT [TERMINATE]
	printf '{"virtualMachines":[{"id":"%s","ports":[{"number":%d}]}],"terminateSessions":%s}' "$(vm "$1")" "$2" "${3:-false}"
}

# --- the set-up the replica scripts share (agents-only.sh, dnat-race.sh, failover.sh, replicas.sh, bench/replica-bench.sh) ---

# e2e_binaries BUILD: BUILD's programs: JITGATED (kept when set: tests/e2e/on-pg.sh gives its wrapper), JG (the CLI),
# AGENT, NETPROBE and LOADTOOL (bench/agentload)
e2e_binaries() {
	JITGATED=${JITGATED:-$1/src/daemon/jitgated}
	JG=$1/src/cli/jitgate
	AGENT=$1/src/agent/jitgate-agent
	NETPROBE=$1/tests/e2e/netprobe
	LOADTOOL=$1/bench/agentload
}

# e2e_require NAME pg|- "PROGRAMS" TOOL...: says what NAME is missing and fails: a PostgreSQL from tests/e2e/on-pg.sh
# (pg), root, the programs named by the variables PROGRAMS ("JITGATED JG"), each TOOL on PATH
e2e_require() {
	local name=$1 pg=$2 progs=$3 v t
	shift 3
	[[ $pg != pg || -n ${JITGATE_TEST_PG-} ]] ||
		{ echo "$name: run it as tests/e2e/on-pg.sh $name (replicas share a PostgreSQL)"; return 1; }
	[[ $(id -u) == 0 ]] || { echo "$name: needs root (network namespaces, nftables)"; return 1; }
	for v in $progs; do [[ -x ${!v} ]] || { echo "$name: build first (${!v})"; return 1; }; done
	for t in "$@"; do command -v "$t" >/dev/null || { echo "$name: needs $t"; return 1; }; done
}

# replica_net PREFIX ADDR_A ADDR_B CLIENT_ADDR...: namespaces BR (a bridge br0), RA_NS and RB_NS (replicas A and B at
# RA=ADDR_A and RB=ADDR_B) and CL (the client, CLIENT_ADDR...), named PREFIX br, ra, rb, cl, each plugged to br0;
# RNS and RIP map A and B to their namespace and address, RPID (replica_start) to their jitgated
replica_net() {
	local p=$1
	RA=$2 RB=$3
	shift 3
	BR=$(ns_new "${p}br") && RA_NS=$(ns_new "${p}ra") && RB_NS=$(ns_new "${p}rb") && CL=$(ns_new "${p}cl") || return 1
	ip -n "$BR" link add br0 type bridge && ip -n "$BR" link set br0 up || return 1
	replica_plug "$RA_NS" e0 pra "$RA" && replica_plug "$RB_NS" e0 prb "$RB" && replica_plug "$CL" e0 pcl "$@" || return 1
	declare -gA RNS=([A]=$RA_NS [B]=$RB_NS) RIP=([A]=$RA [B]=$RB) RPID=()
}
replica_plug() { bridge_plug "$BR" "$@"; }	# NS IF PORT ADDR...: one more namespace on replica_net's bridge

# replica_conf [LINE...]: the replica set's certificate (replica_cert of RA and RB) and CONF, a jitgated.conf
# serving it, with LINE... (e.g. "agent_watch_wait = PT25S") after it
replica_conf() {
	replica_cert "$RA" "$RB" || return 1
	CONF=$E2E_TMP/jitgated.conf
	{ printf 'tls_cert = %s\ntls_key = %s\n' "$CERT" "$KEY"; printf '%s\n' "$@"; } >"$CONF"
}

# replica_spawn A|B [ARGS...]: $JITGATED as replica A or B in its namespace on its address's 8443, with CONF and
# ARGS, its state directory REPLICA_DIR/stateA (REPLICA_DIR: E2E_TMP unless set), its output appended to
# REPLICA_DIR/jitgatedA.log; its pid in RPID. replica_start also waits until it answers /healthz (e2e_wait_healthy
# from CL, trusting CERT: the set's own, not the state directory's).
replica_spawn() {
	local r=$1 d=${REPLICA_DIR:-$E2E_TMP}
	shift
	mkdir -p -m 0700 "$d/state$r" || return 1
	ip netns exec "${RNS[$r]}" "$JITGATED" --single-process --state-dir "$d/state$r" --listen "${RIP[$r]}:8443" \
		--config "$CONF" "$@" >>"$d/jitgated$r.log" 2>&1 &
	RPID[$r]=$!
	E2E_PIDS+=(${RPID[$r]})
}
replica_start() {
	replica_spawn "$@" && e2e_wait_healthy "$CL" "$CERT" "https://${RIP[$1]}:8443" "${RPID[$1]}"
}
replica_stop() { kill "${RPID[$1]}" 2>/dev/null; wait "${RPID[$1]}" 2>/dev/null; return 0; }	# A|B

# replica_api A|B METHOD PATH [BODY]: one replica's API from CL as $TOK (default T_OWNER), from the source $SRC (default
# C); the status in code, the body in R, the headers in E2E_TMP/hdr
replica_api() {
	local args=(-sS --max-time 10 --interface "${SRC:-$C}" --cacert "$CERT" -o "$E2E_TMP/resp" -D "$E2E_TMP/hdr"
		-w '%{http_code}' -X "$2" -H "Authorization: Bearer ${TOK:-$T_OWNER}")
	[[ -n ${4-} ]] && args+=(-H 'Content-Type: application/json' --data-binary "$4")
	code=$(ip netns exec "$CL" curl "${args[@]}" "https://${RIP[$1]}:8443$3" 2>"$E2E_TMP/curl.err")
	R=$(cat "$E2E_TMP/resp" 2>/dev/null)
}

# replica_jg A|B ARGS...: the CLI from CL against one replica as T_OWNER (its HOME E2E_TMP/home); sets rc, out, err
replica_jg() {
	local r=$1
	shift
	mkdir -p "$E2E_TMP/home"
	ip netns exec "$CL" env -i PATH="$PATH" HOME="$E2E_TMP/home" TZ=UTC JITGATE_SERVER="https://${RIP[$r]}:8443" \
		JITGATE_TOKEN="$T_OWNER" JITGATE_CA="$CERT" "$JG" "$@" </dev/null >"$E2E_TMP/out" 2>"$E2E_TMP/err"
	rc=$?
	out=$(<"$E2E_TMP/out")
	err=$(<"$E2E_TMP/err")
}

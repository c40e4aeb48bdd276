#!/usr/bin/env bash
# make bench-compare: jitgate against fwknop (fwknopd 2.6.10 with its iptables backend), what people would otherwise
# install, guarding the same port of the same VM namespace in the same run, the workloads alternated between them.
# Prints one table and writes it, with the machine, the date and the commands, to bench/RESULTS.md. Never fails on a number.
# Usage: bench/compare.sh [BUILD_DIR]   (as root; installs fwknop-server fwknop-client iptables when they are missing)
# Knobs: OPEN_COUNT (200), RATE_SECONDS (60), RATE_THREADS (16), CONN_SAMPLES (5), EXPIRY_COUNT (100),
#        JIT_POOL (10000 tokens and addresses), FWK_POOL (4000 SPA packets), RESULTS (bench/RESULTS.md),
#        PHASES ("open rate pkt exp rst"), KEEP=DIR (the daemons' logs are copied there)
set -u
here=$(cd "$(dirname "$0")" && pwd)
BUILD=$(cd "${1:-$here/../build}" && pwd)
CMP=$BUILD/bench/compare-bench
JITGATED=$BUILD/src/daemon/jitgated
NETPROBE=$BUILD/tests/e2e/netprobe
OPEN_COUNT=${OPEN_COUNT:-200}
RATE_SECONDS=${RATE_SECONDS:-60}
RATE_THREADS=${RATE_THREADS:-16}
CONN_SAMPLES=${CONN_SAMPLES:-5}
EXPIRY_COUNT=${EXPIRY_COUNT:-100}
JIT_POOL=${JIT_POOL:-10000}
FWK_POOL=${FWK_POOL:-4000}
RESULTS=${RESULTS:-$here/RESULTS.md}
PHASES=${PHASES:-open rate pkt exp rst}	# a subset for trying things out; the table leaves the others empty
ROUNDS=4		# time to open: requests in this many alternating rounds
SPA_PORT=62201
V4=10.213.0.1 V6=fd00:213::1

[[ $(id -u) == 0 ]] || { echo "bench-compare: needs root"; exit 1; }
[[ -x $CMP && -x $JITGATED && -x $NETPROBE ]] || { echo "bench-compare: build first ($CMP, $JITGATED)"; exit 1; }

# fwknop as Debian ships it; nothing else on the host changes (the daemon is not started by the package).
need=()
command -v fwknopd >/dev/null || need+=(fwknop-server)
command -v fwknop >/dev/null || need+=(fwknop-client)
command -v iptables-nft >/dev/null || need+=(iptables)
if ((${#need[@]})); then
	echo "bench-compare: installing ${need[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y --no-install-recommends "${need[@]}" >/dev/null ||
		{ apt-get update >/dev/null && apt-get install -y --no-install-recommends "${need[@]}" >/dev/null; } ||
		{ echo "bench-compare: could not install ${need[*]}"; exit 1; }
fi

. "$here/../tests/e2e/lib.sh"
T_START=$(date +%s)
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
DPID=	# the daemon now running: a process group of its own (setsid), so that kill reaches all of it
CUR=	# which: jit, or fwk:VARIANT
cmp_cleanup() {
	[[ -n $DPID ]] && kill -KILL -- -"$DPID" 2>/dev/null && wait "$DPID" 2>/dev/null
	[[ -n ${KEEP:-} ]] && mkdir -p "$KEEP" && cp "$E2E_TMP"/*.log "$E2E_TMP"/fwknop/log.* "$KEEP/" 2>/dev/null
	e2e_cleanup
	rm -rf "$E2E_TMP"
}
trap cmp_cleanup EXIT

VM=$(ns_new cvm) && CL=$(ns_new ccl) || exit 1
link_new "$VM" v0 "$CL" c0 || exit 1
addr_add "$VM" v0 $V4/24 && addr_add "$VM" v0 $V6/64 && addr_add "$CL" c0 10.213.0.2/24 && addr_add "$CL" c0 fd00:213::2/64 ||
	exit 1
# Clients: one address each, on the client's loopback, routed through its one veth address (a single ARP entry).
ip -n "$VM" route add 10.214.0.0/16 via 10.213.0.2 && ip -n "$VM" route add fd00:214::/64 via fd00:213::2 || exit 1
addr() { awk -v f="$1" -v n="$2" -v p="${3:-10.214}" 'BEGIN { for (i = f; i < f + n; i++) printf "%s.%d.%d\n", p, int(i / 250), i % 250 + 1 }'; }
# Address ranges (index into 10.214.0.0/16): each request gets a fresh address, so no grant is ever reused.
OPEN_BASE=0 RATE_BASE=1000 PKT_BASE=20000 EXP_BASE=20100 RST_BASE=21000 ADDRS=22000
RATE_FWK_BASE=$((RATE_BASE + JIT_POOL)) RATE_UDP_BASE=$((RATE_BASE + JIT_POOL + FWK_POOL))
((RATE_UDP_BASE + FWK_POOL <= 60000)) || { echo "bench-compare: JIT_POOL + 2 FWK_POOL must stay under 40000"; exit 1; }
(( ADDRS < RATE_UDP_BASE + FWK_POOL )) && ADDRS=$((RATE_UDP_BASE + FWK_POOL))
{ addr 0 "$ADDRS" | sed 's|.*|addr add &/32 dev lo|'; for ((i = 1; i <= 40; i++)); do echo "addr add fd00:214::$i/128 dev lo nodad"; done; } |
	ip -n "$CL" -batch - || exit 1
listen "$VM" 22 || exit 1

# ---- jitgate: state, its own certificate for both addresses (ECDSA P-256, like the one jitgated makes), a policy ----
STATE=$E2E_TMP/state
S=/subscriptions/00000000-0000-0000-0000-000000000000
P=$S/resourceGroups/default/providers/Microsoft.Security/locations/local/jitNetworkAccessPolicies/default
VMID=$S/resourceGroups/default/providers/Microsoft.Compute/virtualMachines/vm1
CERT=$E2E_TMP/cert.pem KEY=$E2E_TMP/key.pem
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$KEY" -out "$CERT" -days 2 \
	-subj /CN=jitgate-bench -addext "subjectAltName=IP:$V4,IP:$V6" 2>/dev/null || { echo "bench-compare: openssl failed"; exit 1; }
ADMIN=$("$JITGATED" token create --state-dir "$STATE" --name admin --role Owner) || exit 1
JIT4="-j https://$V4:8443$P,$CERT,$VMID -v $V4 -p 22"
JIT6="-j https://[$V6]:8443$P,$CERT,$VMID -v $V6 -p 22"
# jitgated refuses a body that is not declared JSON (415), and a refused set-up must stop the run, not measure nothing.
api() { ip netns exec "$CL" curl -sS --fail-with-body --cacert "$CERT" -H "Authorization: Bearer $ADMIN" \
	-H 'Content-Type: application/json' "$@"; }
jit_start() {
	setsid ip netns exec "$VM" "$JITGATED" --single-process --state-dir "$STATE" --listen "[::]:8443" --tls-cert "$CERT" \
		--tls-key "$KEY" --vm-name vm1 >>"$E2E_TMP/jitgated.log" 2>&1 &
	DPID=$!
	local i
	for ((i = 0; i < 200; i++)); do
		[[ $(api -o /dev/null -w '%{http_code}' "https://$V4:8443/healthz" 2>/dev/null) == 200 ]] && return 0
		kill -0 "$DPID" 2>/dev/null || break
		sleep 0.05
	done
	echo "bench-compare: jitgated did not start: $(tail -n 3 "$E2E_TMP/jitgated.log")" >&2
	return 1
}
jit_revoke_all() {	# every grant on port 22, anyone's (the admin is Owner)
	api -o /dev/null -X POST "https://$V4:8443$P/revoke?api-version=2020-01-01" \
		-d '{"virtualMachines":[{"id":"'"$VMID"'","ports":[{"number":22}]}]}'
}
# jit_jobs FROM COUNT [TOKEN0]: "ADDR TOKEN" lines, a requester (token) per address
jit_jobs() { paste -d' ' <(addr "$1" "$2") <(sed -n "$((${3:-0} + 1)),$((${3:-0} + $2))p" "$E2E_TMP/tokens"); }

# ---- fwknop: keys, access.conf, one fwknopd.conf per variant (everything else at the shipped defaults) ----
FWK=$E2E_TMP/fwknop
mkdir -p "$FWK/home" && chmod 700 "$FWK"
keys=$(HOME=$FWK/home fwknop --key-gen) || { echo "bench-compare: fwknop --key-gen failed"; exit 1; }
KB=$(sed -n 's/^KEY_BASE64: *//p' <<<"$keys") HB=$(sed -n 's/^HMAC_KEY_BASE64: *//p' <<<"$keys")
printf 'SOURCE ANY\nKEY_BASE64 %s\nHMAC_KEY_BASE64 %s\nFW_ACCESS_TIMEOUT 30\nMAX_FW_TIMEOUT 3600\n' "$KB" "$HB" >"$FWK/access.conf"
fwk_conf() {	# VARIANT -> the lines that differ from the shipped fwknopd.conf
	printf 'PCAP_INTF v0;\nFWKNOP_RUN_DIR %s;\n' "$FWK"
	case $1 in
	loop1ms) echo 'PCAP_LOOP_SLEEP 1000;' ;;
	udp) echo 'ENABLE_UDP_SERVER Y;' ;;
	noflush) printf 'FLUSH_IPT_AT_INIT N;\nFLUSH_IPT_AT_EXIT N;\n' ;;
	esac
}
for v in default loop1ms udp noflush; do fwk_conf $v >"$FWK/fwknopd-$v.conf"; done
chmod 600 "$FWK"/*.conf
FWK_STARTS=0
fwk_base_rules() {	# the firewall an fwknop user keeps: sessions stay, the guarded port is closed (IPv4 and IPv6)
	local t
	for t in iptables ip6tables; do
		ip netns exec "$VM" $t -A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT &&
			ip netns exec "$VM" $t -A INPUT -p tcp --dport 22 -j DROP || return 1
	done
}
fwk_start() {	# VARIANT
	local log=$FWK/log.$((++FWK_STARTS)).$1 i
	rm -f "$FWK/fwknopd.pid"
	setsid ip netns exec "$VM" fwknopd -f -c "$FWK/fwknopd-$1.conf" -a "$FWK/access.conf" -p "$FWK/fwknopd.pid" \
		-d "$FWK/digest.cache" >"$log" 2>&1 &
	DPID=$!
	for ((i = 0; i < 200; i++)); do
		grep -q -e 'main event loop' -e 'Kicking off UDP server' "$log" 2>/dev/null && return 0
		kill -0 "$DPID" 2>/dev/null || break
		sleep 0.05
	done
	echo "bench-compare: fwknopd did not start: $(tail -n 3 "$log")" >&2
	return 1
}
fwk_client() { HOME=$FWK/home fwknop --no-rc-file --no-save-args -A tcp/22 -D $V4 --key-base64-rijndael "$KB" \
	--key-base64-hmac "$HB" --use-hmac "$@"; }
spa_part() {	# FROM COUNT FW_TIMEOUT: "ADDR PAYLOAD" lines; -T builds the packet without sending it
	local a p
	for a in $(addr "$1" "$2"); do
		p=$(fwk_client -a "$a" -f "$3" -T -v 2>/dev/null | awk '/^ Final SPA Data:/ { print $4; exit }')
		[[ -n $p ]] && echo "$a $p"
	done
}
gen_spa() {	# FROM COUNT FW_TIMEOUT: two generators in parallel (built just before use: fwknopd refuses them after 120 s)
	local half=$((($2 + 1) / 2)) pid
	spa_part "$1" "$half" "$3" >"$FWK/spa.a" &
	pid=$!
	spa_part $(($1 + half)) $(($2 - half)) "$3" >"$FWK/spa.b"
	wait "$pid"
	cat "$FWK/spa.a" "$FWK/spa.b"
}
fwk_exp() {	# the end fwknopd wrote into each rule's comment: "ADDR END_MS"
	ip netns exec "$VM" iptables -S FWKNOP_INPUT 2>/dev/null |
		sed -n 's|.*-s \([0-9.]*\)/32 .*_exp_\([0-9]*\).*|\1 \2000|p'
}

# ---- switching: one daemon at a time owns the port; the other's kernel state is gone ----
daemon_stop() {	# [SIGNAL]
	[[ -n $DPID ]] || return 0
	local i
	kill -"${1:-TERM}" -- -"$DPID" 2>/dev/null
	for ((i = 0; i < 300; i++)); do kill -0 "$DPID" 2>/dev/null || break; sleep 0.1; done
	kill -KILL -- -"$DPID" 2>/dev/null
	wait "$DPID" 2>/dev/null
	DPID= CUR=
}
fw_clear() {
	local t
	for t in "inet jitgate" "ip filter" "ip6 filter"; do ip netns exec "$VM" nft delete table $t 2>/dev/null; done
	return 0
}
use() {	# jit | fwk VARIANT
	local want=$1${2:+:$2}
	[[ $CUR == "$want" && -n $DPID ]] && return 0
	daemon_stop
	fw_clear
	if [[ $1 == jit ]]; then jit_start; else fwk_base_rules && fwk_start "$2"; fi || return 1
	CUR=$want
}
run() { timeout "$1" ip netns exec "$CL" "$CMP" "${@:2}"; }	# TIMEOUT ARGS...: the helper, bounded, as a client

# ---- numbers ----
pct() { sort -n | awk -v q="$1" '{ v[NR] = $1 } END { if (!NR) { print "-"; exit }
	i = int(q * NR); if (i < q * NR) i++; if (i < 1) i = 1; printf "%.1f", v[i] }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a !~ /^[0-9.]+$/ || b !~ /^[0-9.]+$/ || b == 0) { print "-"; exit }
	r = a / b; printf (r < 0.095 ? "%.2g" : r < 9.95 ? "%.2f" : "%.0f"), r }'; }
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<" $2"; }
samples() { awk '$2 != "fail" { print $2 }' "$1" 2>/dev/null; }
fails() { awk '$2 == "fail"' "$1" 2>/dev/null | wc -l; }
note() { echo "  $*" >&2; }
want() { [[ " $PHASES " == *" $1 "* ]]; }

echo "bench-compare: $(uname -r), $(nproc) cores, $(date -u +%FT%TZ); jitgate $(git -C "$here/.." describe --always --dirty 2>/dev/null)," \
	"$(fwknopd --version 2>&1 | head -n 1), $(iptables -V)" >&2
T0=$(date +%s)
fwk_base_rules && fwk_start default || exit 1	# fwknopd can run here at all
daemon_stop
fw_clear
use jit || exit 1
api -o /dev/null -X PUT "https://$V4:8443$P?api-version=2020-01-01" -d '{"properties":{"virtualMachines":[{"id":"'"$VMID"'",
	"ports":[{"number":22,"protocol":"TCP","allowedSourceAddressPrefix":"*","maxRequestAccessDuration":"PT3H"}]}]}}' ||
	{ echo "bench-compare: the policy could not be made"; exit 1; }
seq 0 $((JIT_POOL - 1)) | sed 's/^/u/' | BENCH_TOKEN=$ADMIN run 600 $JIT4 tokens >"$E2E_TMP/tokens" ||
	{ echo "bench-compare: token creation failed"; exit 1; }
note "set-up: $ADDRS client addresses, $JIT_POOL tokens ($(( $(date +%s) - T0 )) s)"

# ---- 1. time to open: request sent -> first TCP connection that opens; rounds alternate the order ----
CONFIGS=(jit fwk:default fwk:loop1ms fwk:udp)
per=$((OPEN_COUNT / ROUNDS))
open_part() {	# CONFIG_INDEX ROUND
	local c=${CONFIGS[$1]} from=$((OPEN_BASE + $1 * OPEN_COUNT + $2 * per))
	if [[ $c == jit ]]; then
		use jit && jit_jobs "$from" "$per" $(($2 * per)) | run 300 $JIT4 -d 30 open >>"$E2E_TMP/open.jit"
	else
		use fwk "${c#fwk:}" && gen_spa "$from" "$per" 30 | run 300 -f $SPA_PORT -v $V4 -p 22 open >>"$E2E_TMP/open.${c#fwk:}"
	fi
}
want open && for ((r = 0; r < ROUNDS; r++)); do
	if ((r % 2 == 0)); then order="0 1 2 3"; else order="3 2 1 0"; fi
	for c in $order; do open_part "$c" "$r"; done
done
note "time to open: $ROUNDS rounds of $per per configuration ($(( $(date +%s) - T0 )) s)"
# IPv6: jitgate over IPv6 from IPv6 clients; fwknop's client refuses an IPv6 -a, so its packet carries -s ("use the
# packet's source") and goes over IPv6: does anything open?
want open && use jit && paste -d' ' <(for i in $(seq 1 20); do echo "fd00:214::$i"; done) <(sed -n 1,20p "$E2E_TMP/tokens") |
	run 120 $JIT6 -d 30 open >"$E2E_TMP/open6.jit"
v6_client_err=$(fwk_client -a fd00:214::21 -f 30 -T 2>&1 | head -n 1)
want open && use fwk default && p6=$(HOME=$FWK/home fwknop --no-rc-file --no-save-args -A tcp/22 -s -D $V6 --key-base64-rijndael "$KB" \
	--key-base64-hmac "$HB" --use-hmac -f 30 -T -v 2>/dev/null | awk '/^ Final SPA Data:/ { print $4; exit }') &&
	echo "fd00:214::22 $p6" | run 30 -f $SPA_PORT -v $V6 -p 22 open >"$E2E_TMP/open6.fwk"
v6_rules=$(ip netns exec "$VM" ip6tables -S 2>/dev/null | grep -c FWKNOP)

# ---- 2. sustained grant rate: distinct addresses, each verified by a connection, until an error or the time limit ----
want rate && use jit && jit_jobs $RATE_BASE "$JIT_POOL" | run $((RATE_SECONDS + 120)) $JIT4 -d 600 -t "$RATE_THREADS" -s "$RATE_SECONDS" rate \
	>"$E2E_TMP/rate.jit"
want rate && jit_revoke_all
want rate && use fwk default && gen_spa $RATE_FWK_BASE "$FWK_POOL" 600 >"$FWK/rate.jobs" &&
	run $((RATE_SECONDS + 120)) -f $SPA_PORT -v $V4 -p 22 -t "$RATE_THREADS" -s "$RATE_SECONDS" rate <"$FWK/rate.jobs" >"$E2E_TMP/rate.default"
rate_rules_default=$(ip netns exec "$VM" iptables -S FWKNOP_INPUT 2>/dev/null | grep -c _exp_)
want rate && use fwk udp && gen_spa $RATE_UDP_BASE "$FWK_POOL" 600 >"$FWK/rate.jobs" &&
	run $((RATE_SECONDS + 120)) -f $SPA_PORT -v $V4 -p 22 -t "$RATE_THREADS" -s "$RATE_SECONDS" rate <"$FWK/rate.jobs" >"$E2E_TMP/rate.udp"
note "grant rate ($(( $(date +%s) - T0 )) s)"

# ---- 3. packet path: new connections per second from a granted address with 0, 1,000 and 10,000 other grants ----
# jitgate: the others are grants of other requesters (set elements); fwknop: rules in FWKNOP_INPUT written in the exact form
# fwknopd writes them, above the measured client's rule (fwknopd appends, so the newest grant is last).
# conn ADDR: the best of CONN_SAMPLES one-second samples (other work on the machine only ever lowers the figure)
conn() {
	local i best=0 r
	for ((i = 0; i < CONN_SAMPLES; i++)); do
		r=$(ip netns exec "$CL" "$NETPROBE" rate -s "$1" $V4 22 1 2>/dev/null) || r=0
		((r > best)) && best=$r
	done
	echo "$best"
}
fill_rules() {	# FROM COUNT
	local e=$(( $(date +%s) + 1800 ))
	{ echo '*filter'; addr "$1" "$2" 10.215 | sed "s|.*|-I FWKNOP_INPUT 1 -s &/32 -p tcp -m tcp --dport 22 -m comment --comment _exp_$e -j ACCEPT|"
	  echo COMMIT; } | ip netns exec "$VM" iptables-restore --noflush
}
jit_fill() { jit_jobs "$1" "$2" "$1" | sed 's/^10\.214\./10.215./' | run 600 $JIT4 -d 1800 -t 4 -s 600 fill >/dev/null; }
jit_grant() { echo "$1 $ADMIN" | run 60 $JIT4 -d 1800 open >/dev/null; }	# the measured client's own grant
pkt_round() {	# SYSTEM ROUND: "conn/s with 0, 1,000, 10,000 others" and the grants live at 10,000
	local m r0 r1 r10 i=$((PKT_BASE + 2 * $2))
	[[ $1 == fwk ]] && i=$((i + 1))
	m=$(addr "$i" 1)
	if [[ $1 == jit && $2 == 0 ]]; then
		use jit && jit_revoke_all && jit_grant "$m" || return
		r0=$(conn "$m")
		jit_fill 0 1000
		r1=$(conn "$m")
		jit_fill 1000 9000
		r10=$(conn "$m")
		live=$(ip netns exec "$VM" nft list set inet jitgate local_grant4 | grep -o 'expires' | wc -l)
	elif [[ $1 == jit ]]; then
		# the other way round, from the 10,000 of round 0 (jitgated restores them at start): the API makes
		# grants far more slowly than iptables-restore writes rules
		use jit && jit_grant "$m" || return
		live=$(ip netns exec "$VM" nft list set inet jitgate local_grant4 | grep -o 'expires' | wc -l)
		r10=$(conn "$m")
		jit_revoke_all && jit_grant "$m" || return
		r0=$(conn "$m")
		jit_fill 0 1000
		r1=$(conn "$m")
	else
		use fwk default && gen_spa "$i" 1 1800 | run 60 -f $SPA_PORT -v $V4 -p 22 open >/dev/null || return
		r0=$(conn "$m")
		fill_rules 0 1000
		r1=$(conn "$m")
		fill_rules 1000 9000
		r10=$(conn "$m")
		live=$(ip netns exec "$VM" iptables -S FWKNOP_INPUT | grep -c _exp_)
	fi
	echo "$r0 $r1 $r10 $live" >>"$E2E_TMP/pkt.$1"
}
want pkt && { pkt_round jit 0; pkt_round fwk 0; pkt_round fwk 1; pkt_round jit 1; }
note "packet path ($(( $(date +%s) - T0 )) s)"

# ---- 4. expiry: grants with known ends; from each end to the first refused connection ----
# jitgate: ends 8 s + 110 ms steps ahead, to the millisecond; fwknop: an 8 s timeout in the SPA (-f 8), requests 1 by 1, and
# the end it writes into the rule (_exp_, whole seconds) is the end measured from.
exp_part() {	# CONFIG ROUND COUNT
	local from=$((EXP_BASE + 200 * $2)) t0
	case $1 in default) from=$((from + 50)) ;; udp) from=$((from + 100)) ;; esac
	if [[ $1 == jit ]]; then
		use jit && jit_revoke_all || return
		t0=$(date +%s%3N)
		jit_jobs "$from" "$3" | awk -v t="$t0" '{ printf "%s %s %.0f\n", $1, $2, t + 8000 + 110 * (NR - 1) }' >"$E2E_TMP/exp.jobs"
		run 60 $JIT4 open <"$E2E_TMP/exp.jobs" >/dev/null
		awk '{ print $1, $3 }' "$E2E_TMP/exp.jobs" | run 120 $JIT4 expiry >>"$E2E_TMP/exp.jit"
	else
		use fwk "$1" && gen_spa "$from" "$3" 8 | run 60 -f $SPA_PORT -v $V4 -p 22 open >/dev/null || return
		fwk_exp | grep -F -f <(addr "$from" "$3" | sed 's/$/ /') | run 120 -f $SPA_PORT -v $V4 -p 22 expiry >>"$E2E_TMP/exp.$1"
	fi
}
epr=$((EXPIRY_COUNT / 2))
want exp && { exp_part jit 0 $epr; exp_part default 0 $epr; exp_part udp 0 $epr; exp_part default 1 $epr; exp_part jit 1 $epr; }
note "expiry ($(( $(date +%s) - T0 )) s)"

# ---- 5. restart: 100 live grants, the daemon restarted (TERM, start); then 100 more, the daemon killed (KILL) ----
rst_case() {	# jit | default | noflush   -> "working-after-restart ended-on-time-after-kill"
	local from=$((RST_BASE + 200 * $2)) jobs t_end alive ended
	if [[ $1 == jit ]]; then
		use jit && jit_revoke_all || return
		jit_jobs "$from" 100 | run 120 $JIT4 -d 600 -t 16 -s 60 rate >/dev/null
		daemon_stop TERM
		jit_start || return
		alive=$(addr "$from" 100 | run 30 $JIT4 count)
		jit_jobs $((from + 100)) 100 100 | run 120 $JIT4 -d 15 -t 16 -s 60 rate >/dev/null
	else
		use fwk "$1" || return
		gen_spa "$from" 100 600 | run 120 -f $SPA_PORT -v $V4 -p 22 -t 16 -s 60 rate >/dev/null
		daemon_stop TERM
		fwk_start "$1" || return
		CUR=fwk:$1
		alive=$(addr "$from" 100 | run 30 -f $SPA_PORT -v $V4 -p 22 count)
		gen_spa $((from + 100)) 100 15 >"$FWK/rst.jobs"
		run 120 -f $SPA_PORT -v $V4 -p 22 -t 16 -s 60 rate <"$FWK/rst.jobs" >/dev/null
	fi
	t_end=$(( $(date +%s%3N) + 15000 + 2000 ))	# every end is at most 15 s from now; judge 2 s after the last
	daemon_stop KILL
	sleep_until "$t_end"
	ended=$(addr $((from + 100)) 100 | run 30 $JIT4 count)
	echo "$(field open "$alive") $(field refused "$ended")" >"$E2E_TMP/rst.$1"
}
want rst && { rst_case jit 0; rst_case default 1; rst_case noflush 2; }
daemon_stop
fw_clear
note "restart ($(( $(date +%s) - T0 )) s)"

# ---- the table ----
ROWS=()
row() { ROWS+=("| $1 | $2 | $3 | $4 |"); }
ms() { awk -v v="$1" 'BEGIN { if (v == "-" || v == "") print "-"; else printf "%.1f ms", v }'; }
open_cell() {	# FILE: "p50 / p99 ms"
	echo "$(samples "$1" | pct 0.5) / $(samples "$1" | pct 0.99) ms$( (( $(fails "$1") )) && echo ", $(fails "$1") never opened")"
}
j50=$(samples "$E2E_TMP/open.jit" | pct 0.5) j99=$(samples "$E2E_TMP/open.jit" | pct 0.99)
f50=$(samples "$E2E_TMP/open.default" | pct 0.5) f99=$(samples "$E2E_TMP/open.default" | pct 0.99)
row "1. Time to open, p50 (request sent → first TCP connection; $(samples "$E2E_TMP/open.jit" | wc -l) + $(samples "$E2E_TMP/open.default" | wc -l) requests) ↓" \
	"$(ms "$j50")" "$(ms "$f50")" "$(ratio "$j50" "$f50")"
row "1. Time to open, p99 ↓" "$(ms "$j99")" "$(ms "$f99")" "$(ratio "$j99" "$f99")"
for v in loop1ms udp; do
	v50=$(samples "$E2E_TMP/open.$v" | pct 0.5) v99=$(samples "$E2E_TMP/open.$v" | pct 0.99)
	case $v in
	loop1ms) what="fwknop tuned: PCAP_LOOP_SLEEP 1000 µs (default 100000)" ;;
	udp) what="fwknop tuned: ENABLE_UDP_SERVER Y (no libpcap)" ;;
	esac
	row "1. Time to open, p50 / p99, $what ↓" "$j50 / $j99 ms" "$(open_cell "$E2E_TMP/open.$v")" \
		"$(ratio "$j50" "$v50") / $(ratio "$j99" "$v99")"
done
j6=$(samples "$E2E_TMP/open6.jit" | pct 0.5)
if [[ -n $(samples "$E2E_TMP/open6.fwk") ]]; then
	f6cell="$(samples "$E2E_TMP/open6.fwk" | pct 0.5) ms"
else
	f6cell="cannot: the client refuses an IPv6 -a (\"$v6_client_err\"); an SPA sent over IPv6 with -s opened nothing in 5 s ($v6_rules ip6tables rules)"
fi
row "1. Time to open over IPv6, p50 ($(samples "$E2E_TMP/open6.jit" | wc -l) requests) ↓" "$(ms "$j6")" "$f6cell" "-"
rate_cell() { [[ -s $1 ]] || { echo "error"; return; }
	echo "$(field per_s "$(cat "$1")")/s ($(field grants "$(cat "$1")") in $(field seconds "$(cat "$1")") s, stop: $(field stop "$(cat "$1")"))"; }
rj=$(field per_s "$(cat "$E2E_TMP/rate.jit" 2>/dev/null)")
row "2. Sustained grant rate, $RATE_THREADS clients, each grant from its own address and verified by a connection ↑" \
	"$(rate_cell "$E2E_TMP/rate.jit")" "$(rate_cell "$E2E_TMP/rate.default")" \
	"$(ratio "$rj" "$(field per_s "$(cat "$E2E_TMP/rate.default" 2>/dev/null)")")"
row "2. Sustained grant rate, fwknop tuned: ENABLE_UDP_SERVER Y ↑" "$(rate_cell "$E2E_TMP/rate.jit")" \
	"$(rate_cell "$E2E_TMP/rate.udp")" "$(ratio "$rj" "$(field per_s "$(cat "$E2E_TMP/rate.udp" 2>/dev/null)")")"
pkt_avg() { awk -v k="$2" '{ s += $k; n++ } END { if (n) printf "%.0f", s / n; else print "-" }' "$1" 2>/dev/null; }
pkt_ratio() { awk -v k="$2" '$1 > 0 { s += $k / $1; n++ } END { if (n) printf "%.2f", s / n; else print "-" }' "$1" 2>/dev/null; }
pj0=$(pkt_avg "$E2E_TMP/pkt.jit" 1) pf0=$(pkt_avg "$E2E_TMP/pkt.fwk" 1)
row "3. New TCP connections/s from a granted address, 0 other grants (mean of 2 rounds, best of $CONN_SAMPLES × 1 s each) ↑" \
	"$pj0/s" "$pf0/s" "$(ratio "$pj0" "$pf0")"
for k in 2:1,000 3:10,000; do
	pj=$(pkt_ratio "$E2E_TMP/pkt.jit" "${k%%:*}") pf=$(pkt_ratio "$E2E_TMP/pkt.fwk" "${k%%:*}")
	row "3. … with ${k#*:} other live grants, as a ratio to 0 grants ↑" "$pj" "$pf" "$(ratio "$pj" "$pf")"
done
e50=$(samples "$E2E_TMP/exp.jit" | pct 0.5) e99=$(samples "$E2E_TMP/exp.jit" | pct 0.99)
g50=$(samples "$E2E_TMP/exp.default" | pct 0.5) g99=$(samples "$E2E_TMP/exp.default" | pct 0.99)
exp_n() { echo "$(samples "$1" | wc -l)$( (( $(fails "$1") )) && echo ", $(fails "$1") never closed")"; }
row "4. Expiry: grant's end → first refused connection, p50 ($(exp_n "$E2E_TMP/exp.jit") + $(exp_n "$E2E_TMP/exp.default") grants) ↓" \
	"$(ms "$e50")" "$(ms "$g50")" "$(ratio "$e50" "$g50")"
row "4. Expiry, p99 ↓" "$(ms "$e99")" "$(ms "$g99")" "$(ratio "$e99" "$g99")"
u50=$(samples "$E2E_TMP/exp.udp" | pct 0.5) u99=$(samples "$E2E_TMP/exp.udp" | pct 0.99)
row "4. Expiry, p50 / p99, fwknop tuned: ENABLE_UDP_SERVER Y ($(exp_n "$E2E_TMP/exp.udp") grants) ↓" "$e50 / $e99 ms" \
	"$u50 / $u99 ms" "$(ratio "$e50" "$u50") / $(ratio "$e99" "$u99")"
rst() { awk -v k="$2" '{ print $k }' "$E2E_TMP/rst.$1" 2>/dev/null; }
row "5. Restart (TERM, start again): of 100 live grants, still working ↑" "$(rst jit 1)" "$(rst default 1)" "-"
row "5. Restart, fwknop with FLUSH_IPT_AT_INIT N and FLUSH_IPT_AT_EXIT N ↑" "$(rst jit 1)" "$(rst noflush 1)" "-"
row "5. Daemon killed (KILL): of 100 grants of 15 s, refused 2 s after their end ↑" "$(rst jit 2)" "$(rst default 2)" "-"
row "5. Daemon killed, fwknop with FLUSH_IPT_AT_INIT N and FLUSH_IPT_AT_EXIT N ↑" "$(rst jit 2)" "$(rst noflush 2)" "-"

table() {
	echo "| metric | jitgate | fwknop | ratio jitgate/fwknop |"
	echo "|---|---|---|---|"
	printf '%s\n' "${ROWS[@]}"
}
echo
table
live_j=$(awk '{ print $4 }' "$E2E_TMP/pkt.jit" 2>/dev/null | tail -n 1)
live_f=$(awk '{ print $4 }' "$E2E_TMP/pkt.fwk" 2>/dev/null | tail -n 1)

# ---- RESULTS.md: replaced whole on every run, but for replica-bench.sh's section at its end ----
cpu=$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -n 1)
os=$(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME")
{
cat <<EOF
# jitgate against fwknop

Written by \`make bench-compare\` (bench/compare.sh); every run replaces this file. Both daemons guard TCP port 22
of the same VM namespace, one at a time, in the same run on the same machine; the workloads alternate between them so
that drift of the machine hits both. ↓: lower is better, ↑: higher is better. The ratio is jitgate's figure divided
by fwknop's.

- Date: $(date -u +%FT%TZ), $(( $(date +%s) - T_START )) s
- Machine: $cpu, $(nproc) cores, $(free -g | awk '/^Mem:/ { print $2 }') GB, $os, Linux $(uname -r); load average (1, 5, 15 min) $LOAD_START at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end (other work on the machine); this run's niceness $(nice)
- jitgate $(git -C "$here/.." describe --always --dirty 2>/dev/null) ($(git -C "$here/.." log -1 --format=%cs 2>/dev/null)); $(fwknopd --version 2>&1 | head -n 1) (Debian $(dpkg-query -W -f '${Version}' fwknop-server 2>/dev/null)), libpcap $(dpkg-query -W -f '${Version}' libpcap0.8 2>/dev/null), $(iptables -V), nft $(nft -v | awk '{ print $2 }')

$(table)

## How each row is measured, and how fair it is

1. **Time to open.** A fresh client address per request. jitgate: a new TLS connection from that address and an
   initiate for "my own address" (a requester token per address), timed from before the connection; fwknop: the SPA
   datagram (built beforehand with \`fwknop -T\`) sent from that address, timed from the send. Then a TCP connection is
   tried every 1 ms until one opens. $OPEN_COUNT requests each, in $ROUNDS rounds whose order alternates. fwknopd as shipped
   sniffs with libpcap; its capture is opened with a 100 ms buffer timeout, which sets its floor, so
   PCAP_LOOP_SLEEP barely matters; with ENABLE_UDP_SERVER it reads the SPA from a socket and only its \`iptables\`
   calls remain. jitgate's figure includes a TLS handshake that fwknop's single datagram does not need.
   IPv6: jitgate measured like IPv4; fwknop 2.6.10 has no IPv6 (client and server), which the row checks rather
   than assumes.
2. **Sustained grant rate.** $RATE_THREADS concurrent clients, each grant for a fresh address, from that address, counted only
   when a connection from it opens (tried at 2, 4, 8 … 50 ms intervals); stops at the first grant that does not
   open within 10 s, at ${RATE_SECONDS} s, or when the pool runs out ($JIT_POOL addresses for jitgate, $FWK_POOL SPA packets for fwknop). Grants
   accumulate: jitgate, one requester per address (a requester's newer grant for a port would replace the older);
   fwknop, one rule per address ($rate_rules_default rules in its chain at the end of its run). fwknopd runs 4 to 5 \`iptables\`
   processes per grant, two of which read its whole chain, so it slows down as grants accumulate. The clients share
   the machine: jitgate's make a TLS connection per grant, fwknop's send a datagram built beforehand.
3. **Packet path.** \`netprobe rate\`: new TCP connections per second (connect, RST) from one granted address, the best
   of $CONN_SAMPLES one-second samples, with 0, 1,000 and 10,000 other live grants, as a ratio to 0 in the same round; two rounds
   per system, J F F J (jitgate's second round goes 10,000, 0, 1,000, since its API makes grants far more slowly than
   \`iptables-restore\` writes rules). jitgate: the
   others are real grants of other requesters made through the API (elements of one hash set; $live_j grant elements at
   10,000). fwknop: the others are rules in FWKNOP_INPUT written with \`iptables-restore\` in exactly the form fwknopd
   writes them (\`-s A/32 -p tcp -m tcp --dport 22 -m comment --comment _exp_T -j ACCEPT\`; $live_f rules at 10,000), above
   the measured client's own rule, which fwknopd made from its SPA: fwknopd appends, so the newest grant is last,
   and since its jump sits at the top of INPUT every packet that is not from an earlier granted address (established
   sessions included) walks the chain this far. Making 10,000 fwknop grants by SPA would take longer than this whole
   run at the rate of row 2. fwknopd keeps running during the measurement, as deployed: every 20 loops it lists its chain.
4. **Expiry.** jitgate: ends 8 s ahead in 110 ms steps, given to the millisecond; fwknop: an 8 s timeout in each SPA
   (\`-f 8\`), requests one after the other, and the end is the one fwknopd writes into the rule (\`_exp_\`, whole
   seconds: the grant already ends up to 1 s before the requested 8 s are over, which this row does not count
   against it). From 300 ms before each end a connection is tried every 1 ms; an attempt that has not opened in
   200 ms is refused; the first refused attempt after the last one that opened marks the end (20 refusals in a
   row confirm it). fwknopd removes a rule when its loop next looks (every 100 ms, or after a 500 ms select timeout
   in UDP server mode) with one \`iptables -L\` and one \`iptables -D\` per rule.
5. **Restart and kill.** 100 grants from 100 addresses (verified open), the daemon stopped with TERM and started again
   with the same configuration, then each address tried. Then 100 more grants of 15 s, the daemon killed with KILL and
   not restarted, and each address tried 2 s after the last end. fwknopd's defaults flush its chain at exit and at
   start; with both flushes off the rules survive a restart, but only its running loop ever removes a rule.

## The commands

\`\`\`sh
make bench-compare            # = bench/compare.sh build, as root
# VM namespace: veth v0 $V4/24 and $V6/64; client namespace: the clients' addresses on lo, routed via its veth.
# The guarded port: netprobe listen 22 in the VM namespace.

# jitgate
jitgated --state-dir STATE --listen '[::]:8443' --tls-cert cert.pem --tls-key key.pem --vm-name vm1
PUT  $P?api-version=2020-01-01  (port 22, TCP, allowedSourceAddressPrefix "*", PT3H)
POST $P/initiate?api-version=2020-01-01  {"virtualMachines":[{"id":"$VMID","ports":[{"number":22,"endTimeUtc":"…"}]}]}
bench/compare-bench (open | rate | fill | expiry | count | tokens), see bench/compare-bench.c

# fwknop (in the VM namespace, one variant at a time)
iptables  -A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT;  iptables  -A INPUT -p tcp --dport 22 -j DROP
ip6tables -A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT;  ip6tables -A INPUT -p tcp --dport 22 -j DROP
fwknopd -f -c fwknopd.conf -a access.conf -p fwknopd.pid -d digest.cache
fwknop --no-rc-file --no-save-args -A tcp/22 -a CLIENT -D $V4 --key-base64-rijndael KEY --key-base64-hmac HMAC_KEY \\
    --use-hmac -f SECONDS -T -v     # the "Final SPA Data" is then sent from CLIENT to UDP $V4:$SPA_PORT
\`\`\`

access.conf (keys from \`fwknop --key-gen\`, new every run):

\`\`\`
SOURCE ANY
KEY_BASE64 KEY
HMAC_KEY_BASE64 HMAC_KEY
FW_ACCESS_TIMEOUT 30
MAX_FW_TIMEOUT 3600
\`\`\`

fwknopd.conf, everything else as shipped (PCAP_LOOP_SLEEP 100000 µs, PCAP_DISPATCH_COUNT and RULES_CHECK_THRESHOLD at
their defaults, FLUSH_IPT_AT_INIT/EXIT Y, ENABLE_IPT_FORWARDING N):

\`\`\`
PCAP_INTF v0;
FWKNOP_RUN_DIR <temporary directory>;
# variants: PCAP_LOOP_SLEEP 1000;  |  ENABLE_UDP_SERVER Y;  |  FLUSH_IPT_AT_INIT N; FLUSH_IPT_AT_EXIT N;
\`\`\`
EOF
# bench/replica-bench.sh's section (from its marker to the end) is its own: kept as it is
if [[ -f $RESULTS ]]; then sed -n '/^<!-- replica-bench -->$/,$p' "$RESULTS" | sed '1s/^/\n/'; fi
} >"$RESULTS.tmp" && mv "$RESULTS.tmp" "$RESULTS"
echo
echo "bench-compare: $(( $(date +%s) - T_START )) s; written to $RESULTS"
exit 0

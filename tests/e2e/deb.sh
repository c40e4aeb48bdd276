#!/usr/bin/env bash
# End-to-end: make deb builds the jitgate package (lintian clean), apt-get installs it on this machine, the installed
# jitgated starts the way its unit says (privilege separation, Landlock) in a namespace made here, and the installed
# CLI whoamis, enables and requests against it (a real TCP connection through the grant); purged at the end.
#
#   cl (A, B) ──veth── vm (the installed jitgated on 127.0.0.1:8443 and /run/jitgate/jitgated.sock; a listener on 22)
#
# Usage: tests/e2e/deb.sh [BUILD_DIR]   (as root; BUILD_DIR only for the test tools: netprobe)
# Refuses to run where jitgate is installed already or /var/lib/jitgate exists: a purge would remove that state.
set -u
here=$(cd "$(dirname "$0")" && pwd)
BUILD=${1:-$here/../../build}
NETPROBE=$BUILD/tests/e2e/netprobe
. "$here/lib.sh"

[[ $(id -u) == 0 ]] || { echo "deb.sh: needs root (apt-get, namespaces, nftables)"; exit 1; }
[[ -x $NETPROBE ]] || { echo "deb.sh: build first ($NETPROBE)"; exit 1; }
command -v dpkg-buildpackage >/dev/null && command -v dh >/dev/null && command -v lintian >/dev/null ||
	{ echo "deb.sh: needs debhelper and lintian (scripts/deps.sh)"; exit 1; }
if dpkg-query -W -f='${Status}' jitgate 2>/dev/null | grep -q installed || [[ -e /var/lib/jitgate ]]; then
	echo "deb.sh: the jitgate package or /var/lib/jitgate is already here; this test installs and purges both" >&2
	exit 1
fi

UNIT=/lib/systemd/system/jitgated.service
made_run=0
purge() {
	if dpkg-query -W jitgate >/dev/null 2>&1; then
		DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq jitgate >"$E2E_TMP/purge.log" 2>&1 ||
			dpkg --purge jitgate >>"$E2E_TMP/purge.log" 2>&1
	fi
	(( made_run )) && rm -rf /run/jitgate
	return 0
}
trap 'e2e_cleanup; purge; rm -rf "$E2E_TMP"' EXIT
had_user=0
id -u jitgate >/dev/null 2>&1 && had_user=1

# --- (1) build and check
t0=$(date +%s)
DEB=$("$here/../../scripts/deb.sh" "$E2E_TMP/deb" 2>"$E2E_TMP/lintian.log" | tail -1)
rc=$?
grep -v -e '^running with root privileges' "$E2E_TMP/lintian.log" | sed 's/^/    /'
check "make deb builds $(basename "${DEB:-none}") in $(( $(date +%s) - t0 )) s, lintian clean (overrides explained)" \
	test "$rc" = 0 -a -f "${DEB:-/nonexistent}"
[[ -f ${DEB:-} ]] || { e2e_summary; exit 1; }
list=$(dpkg-deb -c "$DEB" | awk '{print $6}')
for f in ./usr/sbin/jitgated ./usr/bin/jitgate ./usr/sbin/jitgate-agent ./etc/jitgate/jitgated.conf \
	./lib/systemd/system/jitgated.service ./lib/systemd/system/jitgate-boot.service \
	./lib/systemd/system/jitgate-agent.service ./usr/share/man/man8/jitgated.8.gz ./usr/share/man/man1/jitgate.1.gz \
	./usr/share/man/man5/jitgated.conf.5.gz ./usr/share/man/man8/jitgate-agent.8.gz \
	./usr/share/bash-completion/completions/jitgate ./usr/lib/modules-load.d/jitgate.conf; do
	grep -qx "$f" <<<"$list" || notok "the package holds $f"
done
check "the package holds the three programs, three units, the config, four man pages, completion, modules list" \
	test "$E2E_FAIL" = 0

# --- (2) install
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$DEB" >"$E2E_TMP/install.log" 2>&1
rc=$?
check "apt-get install $(basename "$DEB") → $rc" test "$rc" = 0
(( rc == 0 )) || { tail -20 "$E2E_TMP/install.log"; e2e_summary; exit 1; }
check "/etc/jitgate/jitgated.conf is a conffile, root's, mode 600" \
	bash -c 'dpkg-query -W -f="\${Conffiles}" jitgate | grep -q " /etc/jitgate/jitgated.conf " &&
	[[ $(stat -c "%U %a" /etc/jitgate/jitgated.conf) == "root 600" ]]'
juid=$(id -u jitgate 2>/dev/null)
check "the system user jitgate exists (uid ${juid:-none}, a system uid; shell nologin), and jitgate-agent" \
	bash -c '(( $1 > 0 && $1 < 1000 )) && [[ $(getent passwd jitgate | cut -d: -f7) == /usr/sbin/nologin ]] &&
	id -u jitgate-agent >/dev/null' _ "${juid:-0}"
check "/var/lib/jitgate exists, root's, mode 700 (jitgated hands it to jitgate)" \
	test "$(stat -c '%U %a' /var/lib/jitgate)" = "root 700"
check "man -w finds jitgated(8), and the units name the installed binaries" \
	bash -c 'man -w jitgated >/dev/null 2>&1 && ! grep -q /usr/local /lib/systemd/system/jitgate*.service'
check "no unit is enabled by the installation (a server or an agent host chooses)" \
	bash -c '! ls /etc/systemd/system/*.wants/jitgate* >/dev/null 2>&1'

# --- (3) start it the way the unit does. systemd is PID 1 on an operator's host, not in a CI container, and a
# unit would put jitgated in the host's network namespace: so the unit's ExecStart runs in a namespace made here,
# as root, after what StateDirectory=/RuntimeDirectory= do (tests/e2e/sec-daemon.sh applies the unit's sandbox).
echo "  PID 1 is $(ps -o comm= -p 1); the unit's ExecStart runs in a namespace of this test"
VM=$(ns_new dvm) && CL=$(ns_new dcl) || exit 1
link_new "$VM" v0 "$CL" c0 || exit 1
V=10.214.0.1 A=10.214.0.2 B=10.214.0.3
addr_add "$VM" v0 $V/24
addr_add "$CL" c0 $A/24
addr_add "$CL" c0 $B/24
listen "$VM" 22 || exit 1
[[ -d /run/jitgate ]] || { mkdir -m 0700 /run/jitgate && made_run=1; }
read -r -a CMD <<<"$(sed -n 's/^ExecStart=//p' "$UNIT" | tail -1)"
echo "  ExecStart: ${CMD[*]}"
OWNER=$(/usr/sbin/jitgated token create --state-dir /var/lib/jitgate --name owner --role Owner 2>/dev/null |
	grep -o 'jg_[A-Za-z0-9_-]*' | head -1)
check "the installed jitgated makes an Owner token in /var/lib/jitgate" test -n "$OWNER"
ip netns exec "$VM" "${CMD[@]}" >"$E2E_TMP/jitgated.log" 2>&1 &
E2E_PIDS+=($!)
for ((i = 0; i < 200; i++)); do grep -q "listening on" "$E2E_TMP/jitgated.log" && break; sleep 0.05; done
check "the installed jitgated starts with the unit's command line (listening)" grep -q "listening on" "$E2E_TMP/jitgated.log"
MAIN=$(ip netns exec "$VM" ss -ltnpH "sport = :8443" | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2)
field() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status" 2>/dev/null; }
check "privilege separation: the main process ($MAIN) runs as jitgate, no capability, no_new_privs, seccomp" \
	test "$(field "$MAIN" Uid | head -1)/$(field "$MAIN" CapEff)/$(field "$MAIN" NoNewPrivs)/$(field "$MAIN" Seccomp)" \
	= "$juid/0000000000000000/1/2"
check "… its firewall helper keeps CAP_NET_ADMIN (the log says so)" \
	grep -q "privilege separation: this process runs as user jitgate without capabilities" "$E2E_TMP/jitgated.log"
if grep -q "Landlock (ABI" "$E2E_TMP/jitgated.log"; then
	check "… and Landlock confines it to /var/lib/jitgate" \
		grep -q "Landlock (ABI [0-9]*): this process writes only in /var/lib/jitgate" "$E2E_TMP/jitgated.log"
else
	check "… no Landlock in this kernel: one line says so" grep -q "Landlock: not available" "$E2E_TMP/jitgated.log"
fi
check "the state directory is jitgate's now" test "$(stat -c %U /var/lib/jitgate /var/lib/jitgate/jitgate.db | sort -u)" = jitgate

# --- (4) the installed CLI against it: root over the unix socket, the Owner token over HTTPS
JG=/usr/bin/jitgate
vm=$("$JG" -q vm list 2>"$E2E_TMP/cli.err" | head -1)
check "root: jitgate vm list over /run/jitgate/jitgated.sock names this host's VM (${vm:-none})" test -n "$vm"
HENV=(JITGATE_SERVER=https://127.0.0.1:8443 JITGATE_TOKEN="$OWNER" JITGATE_CA=/var/lib/jitgate/tls/cert.pem)
who=$(ip netns exec "$VM" env "${HENV[@]}" "$JG" whoami 2>&1)
check "jitgate whoami over HTTPS with the Owner token names owner and Owner" \
	bash -c 'grep -q owner <<<"$1" && grep -q Owner <<<"$1"' _ "$who"
ip netns exec "$VM" env "${HENV[@]}" "$JG" enable "$vm" --port 22 --max 1h >"$E2E_TMP/enable.out" 2>&1
check "jitgate enable $vm --port 22 → 0" test $? = 0
check "A is refused on 22 now (the kernel table is in place)" cannot "$CL" $A $V 22
ip netns exec "$VM" env "${HENV[@]}" "$JG" request "$vm" --port 22 --for 10m --from $A/32 --reason deb.sh \
	>"$E2E_TMP/request.out" 2>&1
check "jitgate request $vm --port 22 --from $A/32 → 0" test $? = 0
check "A reaches 22 (a real TCP connection through the grant)" can "$CL" $A $V 22
check "B is still refused" cannot "$CL" $B $V 22
check "no process was killed by its seccomp filter, no refusal at start" \
	bash -c '! grep -q -e "signal 31" -e "cannot drop privileges" "$1"' _ "$E2E_TMP/jitgated.log"
kill -TERM "$MAIN"
for ((i = 0; i < 100; i++)); do [[ -d /proc/$MAIN ]] || break; sleep 0.05; done
check "SIGTERM ends it" test ! -d "/proc/$MAIN"

# --- (5) purge
purge
check "apt-get purge removes the programs, the config and /var/lib/jitgate" \
	bash -c '! dpkg-query -W jitgate >/dev/null 2>&1 && [[ ! -e /usr/sbin/jitgated && ! -e /etc/jitgate && ! -e /var/lib/jitgate ]]'
if (( had_user )); then
	check "… and leaves the jitgate user that was here before it" id -u jitgate
else
	check "… and the users it made" bash -c '! id -u jitgate && ! id -u jitgate-agent' 2>/dev/null
fi
e2e_summary

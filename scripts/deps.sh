#!/usr/bin/env bash
# Installs the Debian 12 packages that jitgate's build, tests, fuzzers and benchmarks need (idempotent).
# Usage: scripts/deps.sh [--if-missing]   (--if-missing: do nothing when everything is installed already)
set -eu

PKGS=(
	build-essential meson ninja-build pkg-config clang libclang-rt-14-dev
	libnftables-dev libnftnl-dev libmnl-dev nftables libjansson-dev libcmocka-dev
	libsqlite3-dev zlib1g-dev libmicrohttpd-dev libgnutls28-dev libcurl4-gnutls-dev libinih-dev libjose-dev
	libnetfilter-conntrack-dev libseccomp-dev iproute2 util-linux conntrack curl jq openssh-server openssh-client
	postgresql-15 libpq-dev # the PostgreSQL store and its throwaway test server (tests/pg.sh)
	postgresql-15-auto-failover # tests/e2e/failover.sh: monitor, primary and secondary (pg_autoctl)
	sqlite3 wrk # the fault and load tests (tests/e2e/crash.sh, load.sh)
	prometheus # promtool: tests/e2e/metrics.sh checks the /metrics page and the operator guide's alert rules
	systemd openssl # tests/e2e/sec-daemon.sh: systemd-analyze expands the unit's syscall groups; openssl s_client
	chromium # the portal's e2e test drives it (playwright-core, no browser download)
	debhelper lintian # make deb and tests/e2e/deb.sh: the Debian package (dpkg-buildpackage), checked by lintian
	nodejs $(command -v npm >/dev/null || echo npm) # npm: only where no nodejs already brings it (NodeSource's conflicts with it)
)

missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [[ ${1:-} == --if-missing && ${#missing[@]} == 0 ]]; then
	exit 0
fi
if [[ $(id -u) != 0 ]]; then
	echo "deps: installing ${missing[*]:-packages} needs root (apt-get)" >&2
	exit 1
fi
echo "deps: apt-get update and install: ${missing[*]:-(all present; refreshing)}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${PKGS[@]}" >/dev/null
echo "deps: done"

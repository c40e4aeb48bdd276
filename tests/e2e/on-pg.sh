#!/usr/bin/env bash
# Run one end-to-end script with jitgated's store on a throwaway PostgreSQL (tests/pg.sh) instead of SQLite.
# Usage: tests/e2e/on-pg.sh SCRIPT [BUILD_DIR]   e.g. tests/e2e/on-pg.sh server.sh build   (as root, as SCRIPT)
#        PG_DURABLE=1 tests/e2e/on-pg.sh bench/server-bench.sh build   (the benchmark, commits synced to disk)
# SCRIPT takes JITGATED from the environment; to reach the store behind jitgated's back it uses store_sql (lib.sh).
set -u
here=$(cd "$(dirname "$0")" && pwd)
script=${1:?usage: tests/e2e/on-pg.sh SCRIPT [BUILD_DIR]}
BUILD=$(cd "${2:-$here/../../build}" && pwd) || exit 1
[[ -x $BUILD/src/daemon/jitgated ]] || { echo "on-pg.sh: build first ($BUILD/src/daemon/jitgated)"; exit 1; }

# every jitgated the script starts (servers, token commands) gets --store, and --single-replica: the suites written
# for one jitgated protect its own host; a script of several replicas (agents only) exports JITGATE_TEST_PG_SINGLE=
wrap=$(mktemp -d /tmp/jitgate-on-pg.XXXXXX) || exit 1
trap 'rm -rf "$wrap"' EXIT
export JITGATE_TEST_PG_SINGLE=${JITGATE_TEST_PG_SINGLE-1}
printf '#!/bin/sh\nexec "%s" "$@" --store "$JITGATE_TEST_PG" ${JITGATE_TEST_PG_SINGLE:+--single-replica}\n' \
	"$BUILD/src/daemon/jitgated" >"$wrap/jitgated"
chmod 755 "$wrap" "$wrap/jitgated"
# a bare name is one of tests/e2e; a path (bench/server-bench.sh) is taken as it is
[[ $script == */* ]] || script=$here/$script
JITGATED=$wrap/jitgated "$here/../pg.sh" "$script" "$BUILD"

#!/usr/bin/env bash
# make bench: the activity log's chain and retention, on SQLite (a temporary file) and on a throwaway durable
# PostgreSQL: append cost, verify speed, how long one prune batch of 500 holds the write lock. Prints; never fails
# on a number.
# Usage: bench/audit-bench.sh [BUILD_DIR]   Knob: N (100000) entries
set -u
here=$(cd "$(dirname "$0")" && pwd)
BUILD=${1:-$here/../build}
[[ -x $BUILD/bench/audit-bench ]] || { echo "audit-bench: build first ($BUILD/bench/audit-bench)"; exit 1; }
dir=$(mktemp -d /tmp/jitgate-audit-bench.XXXXXX) || exit 1
trap 'rm -rf "$dir"' EXIT
echo "== SQLite (WAL, synchronous FULL) in $dir"
"$BUILD/bench/audit-bench" "$dir/jitgate.db" "${N:-100000}"
echo "== PostgreSQL (fsync on)"
PG_DURABLE=1 "$here/../tests/pg.sh" sh -c '"$1" "$JITGATE_TEST_PG" "$2"' sh "$BUILD/bench/audit-bench" "${N:-100000}"

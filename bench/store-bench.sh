#!/usr/bin/env bash
# make bench: the store on a throwaway PostgreSQL (durable: fsync on): how soon a grant committed through one
# store is heard by another, as one replica's watch hears another's write. Prints; never fails on a number.
# Usage: bench/store-bench.sh [BUILD_DIR]   Knob: N (1000) grants
set -u
here=$(cd "$(dirname "$0")" && pwd)
BUILD=${1:-$here/../build}
[[ -x $BUILD/bench/store-bench ]] || { echo "store-bench: build first ($BUILD/bench/store-bench)"; exit 1; }
PG_DURABLE=1 "$here/../tests/pg.sh" sh -c '"$1" "$JITGATE_TEST_PG" "$2"' sh "$BUILD/bench/store-bench" "${N:-1000}"

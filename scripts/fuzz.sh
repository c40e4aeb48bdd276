#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (address + undefined sanitizers) and runs each for FUZZ_SECONDS.
set -eu
cd "$(dirname "$0")/.."
: "${FUZZ_SECONDS:=15}"
scripts/deps.sh --if-missing
if [[ ! -f build-fuzz/build.ninja ]]; then
	CC=clang meson setup build-fuzz -Dfuzz=true -Dtests=false -Dwerror=true >/dev/null
fi
ninja -C build-fuzz >/dev/null
fuzz/run.sh build-fuzz "$FUZZ_SECONDS"

#!/usr/bin/env bash
# The API end-to-end suite (server.sh) with jitgated's store on a throwaway PostgreSQL (tests/pg.sh) instead of SQLite.
# Usage: tests/e2e/server-pg.sh [BUILD_DIR]   (as root, as server.sh)
set -u
here=$(cd "$(dirname "$0")" && pwd)
BUILD=$(cd "${1:-$here/../../build}" && pwd) || exit 1
[[ -x $BUILD/src/daemon/jitgated ]] || { echo "server-pg.sh: build first ($BUILD/src/daemon/jitgated)"; exit 1; }

# every jitgated that server.sh starts (the server, token commands, the second instance) gets --store
wrap=$(mktemp -d /tmp/jitgate-server-pg.XXXXXX) || exit 1
trap 'rm -rf "$wrap"' EXIT
printf '#!/bin/sh\nexec "%s" "$@" --store "$JITGATE_TEST_PG"\n' "$BUILD/src/daemon/jitgated" >"$wrap/jitgated"
chmod 755 "$wrap" "$wrap/jitgated"
JITGATED=$wrap/jitgated "$here/../pg.sh" "$here/server.sh" "$BUILD"

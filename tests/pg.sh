#!/usr/bin/env bash
# A throwaway PostgreSQL for tests: initdb into a temporary folder, a unix socket there (no TCP), gone on exit.
#
# Run a command with it:   tests/pg.sh COMMAND [ARGS...]
#   COMMAND sees JITGATE_TEST_PG, a libpq URI of an empty database (postgresql:///jitgate?host=DIR);
#   the server is stopped and its folder removed when COMMAND ends, fails or the script is killed.
# Or source it:            . tests/pg.sh; pg_start; ...   (pg_start sets an EXIT trap that calls pg_stop;
#   a script with its own EXIT trap calls pg_stop from it instead)
#
# PG_DURABLE=1: fsync and synchronous commits on (for benchmarks; tests run without them).
# PG_OPTS: more -c options for the server (e.g. to load pg_stat_statements while measuring).
# Debian's postgresql-15 (scripts/deps.sh). The server runs as the unprivileged user postgres when
# started by root (initdb refuses root), else as the caller.

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
PG_START_TIMEOUT_S=30	# a cold initdb + start on a loaded 2-core machine takes ~3 s
PG_DIR=
PG_USER_RUN=()

pg_stop() {
	if [[ -n $PG_DIR && -d $PG_DIR ]]; then
		if [[ -f $PG_DIR/data/postmaster.pid ]]; then
			"${PG_USER_RUN[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate -w -t 10 stop >/dev/null 2>&1
		fi
		rm -rf "$PG_DIR"
	fi
	PG_DIR=
	return 0
}

pg_start() {
	local db=${1:-jitgate}

	[[ -x $PG_BIN/initdb ]] || { echo "pg: no $PG_BIN/initdb (scripts/deps.sh installs postgresql-15)" >&2; return 1; }
	PG_DIR=$(mktemp -d /tmp/jitgate-pg.XXXXXX) || return 1
	trap pg_stop EXIT
	trap 'exit 130' INT TERM
	if [[ $(id -u) == 0 ]]; then
		chown postgres: "$PG_DIR"
		PG_USER_RUN=(runuser -u postgres --)
	fi
	"${PG_USER_RUN[@]}" "$PG_BIN/initdb" -D "$PG_DIR/data" -U jitgate -A trust -E UTF8 --locale=C.UTF-8 \
		--no-sync >"$PG_DIR/initdb.log" 2>&1 || { cat "$PG_DIR/initdb.log" >&2; return 1; }
	# listen_addresses='' : the unix socket in PG_DIR only; fsync off: a test database need not survive a
	# crash, unless PG_DURABLE=1 (benchmarks: a commit waits for the disk, as SQLite's synchronous=FULL)
	local durable="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
	[[ ${PG_DURABLE:-0} == 1 ]] && durable=
	# PG_OPTS: more server options, for a benchmark's measurements (e.g. pg_stat_statements)
	durable+=" ${PG_OPTS:-}"
	"${PG_USER_RUN[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t "$PG_START_TIMEOUT_S" \
		-o "-c listen_addresses='' -k $PG_DIR $durable" \
		start >/dev/null || { cat "$PG_DIR/server.log" >&2; return 1; }
	"${PG_USER_RUN[@]}" "$PG_BIN/createdb" -h "$PG_DIR" -U jitgate "$db" || return 1
	# the socket folder must be reachable by the test, which may not run as postgres
	chmod 755 "$PG_DIR"
	export JITGATE_TEST_PG="postgresql:///$db?host=$PG_DIR&user=jitgate"
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
	set -u
	if [[ $# == 0 ]]; then
		echo "usage: tests/pg.sh COMMAND [ARGS...]" >&2
		exit 2
	fi
	pg_start || exit 1
	"$@"
	rc=$?
	pg_stop
	exit $rc
fi

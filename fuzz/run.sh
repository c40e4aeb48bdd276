#!/usr/bin/env bash
# Runs every fuzz target in build dir DIR for SECONDS each on its corpus; exits non-zero on any finding.
set -u
if [[ $# -ne 2 ]]; then
	echo "usage: fuzz/run.sh BUILD_DIR SECONDS" >&2
	exit 2
fi
dir=$1
seconds=$2
here=$(cd "$(dirname "$0")" && pwd)
targets=(fuzz-time fuzz-duration fuzz-net fuzz-armid fuzz-policy-json fuzz-initiate-json fuzz-revoke-json fuzz-approval-json fuzz-vm-json fuzz-agent-json
	fuzz-join-json fuzz-config fuzz-api fuzz-metrics fuzz-wire fuzz-clitext fuzz-journal fuzz-bootrules fuzz-agent-host fuzz-agent-conf fuzz-oidc fuzz-http1)
# Options of one target: whole HTTP requests stay short, so that the store each one writes to stays fast.
declare -A options=([fuzz-api]="-max_len=2048")
failed=()

for t in "${targets[@]}"; do
	bin=$dir/fuzz/$t
	if [[ ! -x $bin ]]; then
		echo "fuzz/run.sh: $bin is missing (configure with -Dfuzz=true)" >&2
		failed+=("$t (missing)")
		continue
	fi
	corpus=$here/corpus/$t
	# New inputs go to a scratch directory so that the committed seeds stay small;
	# findings (crash-*, leak-*, timeout-*) land in the corpus directory, which .gitignore covers.
	work=$(mktemp -d)
	echo "=== $t: ${seconds}s"
	log=$work/log
	# shellcheck disable=SC2086 # options are words
	"$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 ${options[$t]:-} \
		-artifact_prefix="$corpus/" "$work" "$corpus" >"$log" 2>&1
	rc=$?
	grep -E '^(#[0-9]+ +DONE|stat::number_of_executed_units|stat::new_units_added)' "$log" || true
	if [[ $rc -ne 0 ]]; then
		tail -n 40 "$log" >&2
		failed+=("$t")
	fi
	rm -rf "$work"
done
if [[ ${#failed[@]} -ne 0 ]]; then
	echo "fuzz/run.sh: findings in: ${failed[*]}" >&2
	exit 1
fi
echo "fuzz/run.sh: no findings"

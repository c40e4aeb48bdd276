#!/usr/bin/env bash
# The code's shape, checked (STYLE.md, issue 12): no circle of files in src/, no C file in src/ over
# FILE_MAX lines, no function over FUNC_MAX lines unless scripts/long-functions.allow names it with a reason.
# Usage: scripts/check-shape.sh BUILD_DIR   (the object files of a build draw the file graph)
set -eu
cd "$(dirname "$0")/.."
build=${1:-build}
FILE_MAX=800
FUNC_MAX=80
fail=0

if ! scripts/file-graph.py "$build"; then
	echo "check-shape: src/ has a circle of files (above): move what both sides use into a third file" >&2
	fail=1
fi

while read -r n f; do
	[[ $f == total ]] && continue
	if ((n > FILE_MAX)); then
		echo "check-shape: $f has $n lines (at most $FILE_MAX): split it by concern" >&2
		fail=1
	fi
done < <(find src -name '*.c' -print0 | xargs -0 wc -l)

allow=scripts/long-functions.allow
while read -r n where name; do
	if ! grep -qE "^$name[[:space:]]" "$allow" 2>/dev/null; then
		echo "check-shape: $name ($where) has $n lines (at most $FUNC_MAX): split it into named steps, or say why in $allow" >&2
		fail=1
	fi
done < <(scripts/long-functions.sh "$FUNC_MAX")

if ((fail == 0)); then
	echo "check-shape: no circle of files, no file over $FILE_MAX lines, no function over $FUNC_MAX lines unlisted"
fi
exit "$fail"

#!/usr/bin/env bash
# Fails if any C source uses a function that STYLE.md bans (unbounded or shell-spawning).
set -eu
cd "$(dirname "$0")/.."
hits=$(grep -nE '\b(sprintf|vsprintf|strcpy|strcat|atoi|atol|system|popen|gets)\s*\(' \
	$(git ls-files '*.c' '*.h' 2>/dev/null; find src tests fuzz bench -name '*.[ch]' 2>/dev/null) 2>/dev/null \
	| grep -vE '(snprintf|vsnprintf)\s*\(' | sort -u || true)
if [[ -n $hits ]]; then
	echo "banned functions used:"; echo "$hits"; exit 1
fi
echo "check-banned: no banned functions"

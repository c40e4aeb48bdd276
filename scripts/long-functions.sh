#!/usr/bin/env bash
# Lists every function in src/ longer than MAX lines (default 80), longest first: a report, never a failure.
#
# Relies on STYLE.md's layout of a definition: the return type on its own line, the name at the start of the
# next (`^name(`), the body's `{` and `}` alone in column 0. A length counts the lines from the name's to the
# closing brace's. Prototypes (a `;` before any `{`) are skipped.
set -eu
cd "$(dirname "$0")/.."
max="${1:-80}"

find src -name '*.c' -print0 | sort -z | xargs -0 awk -v max="$max" '
FNR == 1 { name = ""; inbody = 0; prev = "" }
{
	if (inbody) {
		if ($0 ~ /^}/) {
			len = FNR - start + 1
			if (len > max)
				printf "%5d %s:%d %s\n", len, FILENAME, start, name
			inbody = 0
			name = ""
		}
		prev = $0
		next
	}
	if (name == "" && $0 ~ /^[a-z_][a-z0-9_]*\(/ && prev ~ /^[a-z_]/ && prev !~ /[;{}]$/ && prev !~ /^#/) {
		name = $0
		sub(/\(.*/, "", name)
		start = FNR
	}
	if (name != "") {
		if ($0 ~ /^{/)
			inbody = 1
		else if ($0 ~ /;[[:space:]]*$/ && $0 !~ /^[[:space:]]/ || $0 ~ /\);[[:space:]]*$/)
			name = ""
	}
	prev = $0
}' | sort -k1,1nr -k2
exit 0

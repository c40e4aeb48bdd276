#!/usr/bin/env bash
# Builds the jitgate Debian package (make deb) from a copy of this tree in build-deb/, so the tree stays clean; runs lintian.
# Usage: scripts/deb.sh [OUT_DIR]   (default build-deb; prints the path of the .deb on its last line)
set -eu
cd "$(dirname "$0")/.."
OUT=${1:-build-deb}
version=$(dpkg-parsechangelog -S Version)
src=$OUT/jitgate-$version

rm -rf "$src" && mkdir -p "$src"
# the files git knows (tracked and new, not ignored); a tree outside git: everything but builds and local state
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	git ls-files -z -c -o --exclude-standard | xargs -0 -I{} find {} -maxdepth 0 -type f -print0 |
		tar --null -T - -cf - | tar -xf - -C "$src"
else
	tar --exclude='./build*' --exclude=./var --exclude=node_modules -cf - . | tar -xf - -C "$src"
fi
(cd "$src" && nice -n 10 dpkg-buildpackage -us -uc -b >../build.log 2>&1) || {
	tail -40 "$OUT/build.log" >&2
	echo "deb: dpkg-buildpackage failed (whole log: $OUT/build.log)" >&2
	exit 1
}
deb=$(ls "$OUT"/jitgate_"${version}"_*.deb)
# lintian: clean, but for the tags debian/jitgate.lintian-overrides explains (it is installed with the package)
if command -v lintian >/dev/null; then
	lintian --fail-on error,warning --info "$OUT"/jitgate_"${version}"_*.changes
fi
echo "$deb"

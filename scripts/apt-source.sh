#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
#
# apt-source.sh -- unpack the Debian source of PACKAGE, the version that is
# installed (else the candidate), into DIR, and print the source tree's path.
#
#   scripts/apt-source.sh PACKAGE DIR
#
# Debian's source packages need a deb-src entry: the first time, a copy of
# the machine's Debian apt entry is added as
# /etc/apt/sources.list.d/pmemlease-deb-src.sources (or .list), and apt's
# lists are updated; dpkg-dev (dpkg-source) is installed if missing.  Needs
# root (or sudo) for those steps only.  Used to build against a tool's own
# source: fio's external engine (tests/bench/fio), SQLite's testfixture
# (tests/sqlite/suite).
set -eu

[ $# -eq 2 ] || { sed -n '3,14p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
pkg=$1
mkdir -p "$2"
dir=$(cd "$2" && pwd)

if [ "$(id -u)" -eq 0 ]; then as_root=; elif command -v sudo >/dev/null 2>&1; then as_root=sudo; else as_root=; fi

# an unpacked tree from an earlier run: debian/changelog names the version
ver=$(dpkg-query -W -f '${Version}' "$pkg" 2>/dev/null || true)
for d in "$dir"/*/; do
	[ -f "$d/debian/changelog" ] || continue
	if [ -z "$ver" ] || head -n 1 "$d/debian/changelog" | grep -q "($ver)"; then
		echo "${d%/}"
		exit 0
	fi
done

srcfile=/etc/apt/sources.list.d/pmemlease-deb-src.sources
if ! grep -rqs '^Types:.*deb-src\|^deb-src ' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null; then
	if [ -f /etc/apt/sources.list.d/debian.sources ]; then
		echo "apt-source.sh: adding $srcfile (deb-src copy of debian.sources)" >&2
		sed 's/^Types:.*/Types: deb-src/' /etc/apt/sources.list.d/debian.sources |
			$as_root tee "$srcfile" >/dev/null
	elif grep -qs '^deb .*debian' /etc/apt/sources.list; then
		echo "apt-source.sh: adding deb-src lines to ${srcfile%.sources}.list" >&2
		grep '^deb .*debian' /etc/apt/sources.list | sed 's/^deb /deb-src /' |
			$as_root tee "${srcfile%.sources}.list" >/dev/null
	else
		echo "apt-source.sh: no Debian apt entry to copy as deb-src" >&2
		exit 1
	fi
	$as_root env DEBIAN_FRONTEND=noninteractive apt-get update >&2
fi
command -v dpkg-source >/dev/null 2>&1 ||
	$as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends dpkg-dev >&2
echo "apt-source.sh: apt-get source $pkg${ver:+=$ver} into $dir" >&2
(cd "$dir" && apt-get source ${ver:+"$pkg=$ver"} >&2) ||
	(cd "$dir" && apt-get source "$pkg" >&2)
for d in "$dir"/*/; do
	[ -f "$d/debian/changelog" ] && { echo "${d%/}"; exit 0; }
done
echo "apt-source.sh: no source tree of $pkg in $dir" >&2
exit 1

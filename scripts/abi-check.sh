#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# abi-check.sh -- the exported symbols of the built libraries only grow.
#
#   scripts/abi-check.sh ABI-DIR LIBRARY...            check
#   scripts/abi-check.sh --update ABI-DIR LIBRARY...   record (at a release)
#
# ABI-DIR holds one list per soname, ABI-DIR/<soname>.symbols, written at
# the last release: one "name@version kind" line per exported symbol
# (kind: func or object; version empty for an unversioned symbol).  A
# LIBRARY fails the check when
#   - its soname has no list (a new soname is an ABI break, or a new
#     library whose list must be committed),
#   - a listed symbol is gone, or has changed version or kind,
#   - a new symbol was put in a version node that a release already has:
#     new symbols go in a new node of the version script, so that a program
#     built against the new release is refused by the old library at load
#     time instead of failing at its first call.
# New symbols in a new node (or unversioned, for the intercept, which must
# not version the C library's names it stands in for) are reported and pass.
set -euo pipefail

update=0
if [ "${1:-}" = --update ]; then
	update=1
	shift
fi
[ $# -ge 2 ] || { echo "usage: $0 [--update] ABI-DIR LIBRARY..." >&2; exit 2; }
abidir=$1
shift

# name@version kind, sorted, for every symbol LIBRARY defines and exports
exports() {
	nm -D --defined-only "$1" | awk '
		$2 == "A" { next }                 # the version nodes themselves
		{
			kind = ($2 ~ /^[TtWwi]$/) ? "func" : "object"
			name = $3; sub(/@@?/, "@", name)
			if (name !~ /@/) name = name "@"
			print name, kind
		}' | LC_ALL=C sort
}

status=0
for lib in "$@"; do
	soname=$(readelf -d "$lib" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
	if [ -z "$soname" ]; then
		echo "abi-check: $lib: no soname" >&2
		status=1
		continue
	fi
	list=$abidir/$soname.symbols
	now=$(exports "$lib")
	if [ "$update" = 1 ]; then
		printf '%s\n' "$now" >"$list"
		echo "abi-check: recorded $(wc -l <"$list") symbols of $soname in $list"
		continue
	fi
	if [ ! -f "$list" ]; then
		echo "abi-check: FAIL $soname: no $list -- a new soname breaks every program linked against the old one; a new library needs its list committed (--update)" >&2
		status=1
		continue
	fi

	gone=$(LC_ALL=C comm -23 "$list" <(printf '%s\n' "$now"))
	added=$(LC_ALL=C comm -13 "$list" <(printf '%s\n' "$now"))
	released=$(sed -n 's/^[^@]*@\([^ ]\+\) .*/\1/p' "$list" | sort -u)
	if [ -n "$gone" ]; then
		echo "abi-check: FAIL $soname: removed or changed since the release:" >&2
		sed 's/^/  /' <<<"$gone" >&2
		status=1
	fi
	while read -r sym kind; do
		[ -n "$sym" ] || continue
		ver=${sym#*@}
		if [ -n "$ver" ] && grep -qxF "$ver" <<<"$released"; then
			echo "abi-check: FAIL $soname: $sym ($kind) added to the released node $ver: give it a new node in the version script" >&2
			status=1
		else
			echo "abi-check: $soname: added $sym ($kind)"
		fi
	done <<<"$added"
	[ $status -eq 0 ] &&
		echo "abi-check: $soname: $(wc -l <"$list") released symbols all present"
done
exit $status

#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# check-manpages.sh SOURCE-DIR MAN-DIR -- every public function has a manual
# page, and every page renders cleanly.
#
#   - each function declared in include/pmemlease*.h, and each symbol the
#     version scripts export (but the C library's names the intercept
#     stands in for), has MAN-DIR/man3/<name>.3: its page, or a link page
#     to the page of its family;
#   - each page (sections 1, 3, 7) renders with groff -ww without a
#     warning, and each link page names a page that exists;
#   - each function's page shows its prototype in the SYNOPSIS: the
#     function's name followed by "(".
# Exit 77 (SKIPPED) when scdoc did not build the pages or groff is missing.
set -uo pipefail
src=$1
man=$2

[ -d "$man/man3" ] || { echo "check-manpages: SKIPPED: no $man/man3 (scdoc not installed when configured)"; exit 77; }
command -v groff >/dev/null || { echo "check-manpages: SKIPPED: groff is not installed"; exit 77; }

fails=0
fail() { echo "check-manpages: FAIL: $*"; fails=$((fails + 1)); }

# the public functions: from the headers' declarations and the maps' exports
funcs=$( {
	sed -n 's/^[a-z].*[ *]\(pml_[a-z0-9_]*\)(.*/\1/p' "$src"/include/pmemlease*.h
	sed -n 's/^[[:space:]]*\(pml_[a-z0-9_]*\|sqlite3_[a-z0-9_]*\);$/\1/p' \
		$(find "$src/lib" -name '*.map')
} | sort -u)
n=$(wc -w <<<"$funcs")
[ "$n" -gt 50 ] || fail "found only $n public functions: the scan is broken"

for f in $funcs; do
	page=$man/man3/$f.3
	if [ ! -f "$page" ]; then
		fail "$f has no manual page (add it to the NAME line of its family's doc/man3/*.3.scd)"
		continue
	fi
	target=$page
	if so=$(sed -n '1s/^\.so //p' "$page") && [ -n "$so" ]; then
		target=$man/$so
		[ -f "$target" ] || { fail "$f.3 links to $so, which does not exist"; continue; }
	fi
	# the SYNOPSIS of the page shows the function's prototype
	awk '/^\.SH "?SYNOPSIS/ {s=1; next} /^\.SH/ {s=0} s' "$target" |
		grep -q "$f(" || fail "$f: no prototype in the SYNOPSIS of $(basename "$target")"
done

pages=0
for page in "$man"/man[137]/*; do
	grep -q '^\.so ' "$page" && continue
	pages=$((pages + 1))
	warn=$(groff -man -Tutf8 -ww -z "$page" 2>&1)
	[ -z "$warn" ] || fail "$(basename "$page") renders with warnings: $warn"
done

echo "check-manpages: $n public functions, $pages pages, $(find "$man/man3" -type f | wc -l) entries in section 3"
[ $fails -eq 0 ] || { echo "check-manpages: $fails failure(s)"; exit 1; }
echo "check-manpages: every public function has a page; every page renders cleanly"

#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
#
# run-suite.sh -- a subset of SQLite's own tests (Debian's sqlite3 source,
# the installed version), with the VFS "pmemlease" as the default VFS.
#
#   tests/sqlite/suite/run-suite.sh BUILD_DIR [--baseline] [TEST...]
#
# Builds the testfixture if needed (build-testfixture.sh), then runs each
# test file (default: the list in tests.txt) in a fresh directory of its
# own under BUILD_DIR/sqlite-suite, with a private PMEMLEASE_RUNTIME_DIR
# and PMEMLEASE_SQLITE_GROW=4096 (the region takes in every unit the
# database grows by, so the tests' small databases live in the mapping,
# not in the unix VFS's tail).  Each file runs with the same file under
# SQLite's own unix VFS as the default first -- the baseline: what fails
# there (as root, some permission tests do) is SQLite's or this machine's,
# and must fail the same way with pmemlease.  --baseline runs the
# baseline only.  A file passes if its error count with pmemlease is 0,
# or no larger than the baseline's and the failing test names are the
# same.  Prints one line per file and a summary; exits 1 on any failure.
set -u

here=$(cd "$(dirname "$0")" && pwd)
[ $# -ge 1 ] || { sed -n '3,22p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
build=$(cd "$1" && pwd)
shift
baseline_only=0
if [ "${1:-}" = --baseline ]; then baseline_only=1; shift; fi

tf=$("$here/build-testfixture.sh" "$build") || exit 1
src=$(dirname "$(dirname "$tf")")/sqlite-src
src=$(ls -d "$build"/sqlite-src/*/ | head -n 1)
src=${src%/}
tests=${*:-$(grep -v '^#' "$here/tests.txt" | awk '{print $1}' | grep .)}
work=$build/sqlite-suite
rm -rf "$work"
mkdir -p "$work"

# run FILE VFS -> work/VFS/FILE/out.txt; prints "errors tests seconds"
run() {
	d=$work/$2/$1
	mkdir -p "$d"
	t0=$(date +%s)
	(cd "$d" && PML_TESTFIXTURE_VFS=$2 PMEMLEASE_SQLITE_GROW=4096 \
		PMEMLEASE_RUNTIME_DIR=$d/run timeout 600 "$tf" \
		"$src/test/$1.test" >out.txt 2>&1)
	rc=$?
	t1=$(date +%s)
	line=$(grep -E '^[0-9]+ errors out of [0-9]+ tests' "$d/out.txt" | tail -n 1)
	if [ -z "$line" ]; then
		echo "crash $rc $((t1 - t0))"
	else
		echo "$(echo "$line" | awk '{print $1, $5}') $((t1 - t0))"
	fi
}

failed_names() {
	grep -E '^! [^ ]+ expected:' "$work/$2/$1/out.txt" 2>/dev/null |
		awk '{print $2}' | sort -u
}

pass=0
fail=0
printf '%-22s %-22s %-22s %s\n' "test file" "unix VFS (baseline)" "pmemlease" "verdict"
for t in $tests; do
	[ -f "$src/test/$t.test" ] || { echo "$t: no such test file"; fail=$((fail + 1)); continue; }
	b=$(run "$t" unix)
	if [ "$baseline_only" = 1 ]; then
		printf '%-22s %-22s\n' "$t" "$b"
		continue
	fi
	p=$(run "$t" pmemlease)
	be=$(echo "$b" | awk '{print $1}')
	pe=$(echo "$p" | awk '{print $1}')
	verdict=FAIL
	if [ "$pe" = 0 ]; then
		verdict=ok
	elif [ "$pe" != crash ] && [ "$be" != crash ] && [ "$pe" -le "$be" ] &&
	     [ "$(failed_names "$t" pmemlease)" = "$(failed_names "$t" unix)" ]; then
		verdict="ok (the baseline's failures: $(failed_names "$t" unix | tr '\n' ' '))"
	fi
	printf '%-22s %-22s %-22s %s\n' "$t" "$b" "$p" "$verdict"
	case "$verdict" in
	ok*) pass=$((pass + 1)) ;;
	*) fail=$((fail + 1))
	   echo "  see $work/pmemlease/$t/out.txt" ;;
	esac
done
echo "sqlite-suite: $pass files passed, $fail failed (errors, tests, seconds per VFS)"
[ "$fail" = 0 ]

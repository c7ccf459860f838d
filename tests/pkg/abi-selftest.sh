#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# abi-selftest.sh CHECKER -- scripts/abi-check.sh says no to each way a
# library can break its released ABI, and yes to growth in a new node.
# Builds a tiny libfoo.so.1 in a few versions with the C compiler.
set -uo pipefail
checker=$1
cc=${CC:-cc}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fails=0

# build VERSION-SCRIPT C-SOURCE [SONAME] -> $dir/lib.so
build() {
	printf '%s\n' "$1" >"$dir/map"
	printf '%s\n' "$2" >"$dir/foo.c"
	"$cc" -shared -fPIC -o "$dir/lib.so" -Wl,-soname,"${3:-libfoo.so.1}" \
		-Wl,--version-script="$dir/map" "$dir/foo.c" || exit 1
}
# expect VERDICT(pass|fail) WHAT [GREP]: run the checker against the release
expect() {
	local out rc
	out=$("$checker" "$dir/abi" "$dir/lib.so" 2>&1)
	rc=$?
	if { [ "$1" = pass ] && [ $rc -ne 0 ]; } ||
	   { [ "$1" = fail ] && [ $rc -eq 0 ]; } ||
	   { [ -n "${3:-}" ] && ! grep -q -- "$3" <<<"$out"; }; then
		echo "abi-selftest: WRONG: $2: expected $1 (exit $rc)${3:+ saying '$3'}:"
		sed 's/^/    /' <<<"$out"
		fails=$((fails + 1))
	else
		echo "abi-selftest: ok: $2 -> $1"
	fi
}

v1_map='FOO_1 { global: foo_a; foo_b; foo_obj; local: *; };'
v1_src='int foo_obj; int foo_a(void) { return 1; } int foo_b(void) { return 2; }'
mkdir "$dir/abi"
build "$v1_map" "$v1_src"
"$checker" --update "$dir/abi" "$dir/lib.so" >/dev/null || exit 1

expect pass "the release itself"
build "$v1_map FOO_2 { global: foo_c; } FOO_1;" "$v1_src int foo_c(void) { return 3; }"
expect pass "a function added in a new node" "added foo_c@FOO_2"
build 'FOO_1 { global: foo_a; foo_obj; local: *; };' "$v1_src"
expect fail "a function removed" "foo_b@FOO_1"
build 'FOO_1 { global: foo_a; foo_b; foo_c; foo_obj; local: *; };' "$v1_src int foo_c(void) { return 3; }"
expect fail "a function added to the released node" "added to the released node FOO_1"
build 'FOO_2 { global: foo_a; foo_b; foo_obj; local: *; };' "$v1_src"
expect fail "the released node renamed" "removed or changed"
build "$v1_map" 'int foo_a; int foo_obj; int foo_b(void) { return 2; }'
expect fail "a function turned into an object" "foo_a@FOO_1 func"
build "$v1_map" "$v1_src" libfoo.so.2
expect fail "a new soname" "no $dir/abi/libfoo.so.2.symbols"

[ $fails -eq 0 ] || { echo "abi-selftest: $fails verdict(s) wrong"; exit 1; }
echo "abi-selftest: every verdict right"

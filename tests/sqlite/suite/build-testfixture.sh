#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
#
# build-testfixture.sh -- build SQLite's test harness (testfixture: tclsh
# with SQLite's test commands) from Debian's sqlite3 source, of the version
# installed, with the VFS "pmemlease" compiled in as the default VFS.
#
#   tests/sqlite/suite/build-testfixture.sh BUILD_DIR
#
# BUILD_DIR is a CMake build directory of pmemlease (lib/libpmemlease.so).
# The source goes to BUILD_DIR/sqlite-src (scripts/apt-source.sh), the
# build to BUILD_DIR/sqlite-testfixture; nothing of SQLite's is committed.
# lib/sqlite/vfs.c is compiled into the program (its SQLite is compiled in,
# so the extension cannot be loaded into it), and SQLITE_EXTRA_INIT calls
# pml_sqlite_register(1) in every sqlite3_initialize().  Prints the
# testfixture's path.  Needs tcl-dev.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../../.." && pwd)
[ $# -eq 1 ] || { sed -n '3,17p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
build=$(cd "$1" && pwd)
[ -f "$build/lib/libpmemlease.so" ] || {
	echo "build-testfixture.sh: no $build/lib/libpmemlease.so" >&2; exit 1; }

src=$("$top/scripts/apt-source.sh" sqlite3 "$build/sqlite-src")
out=$build/sqlite-testfixture
mkdir -p "$out"
tf=$out/testfixture
vfs="$top/lib/sqlite/vfs.c $here/testfixture_init.c"

# rebuilt when the VFS changes
if [ -x "$tf" ] && [ -z "$(find $vfs "$top/include/pmemlease_sqlite.h" \
		-newer "$tf" 2>/dev/null)" ]; then
	echo "$tf"
	exit 0
fi
tcl=/usr/lib/tcl8.6
[ -f "$tcl/tclConfig.sh" ] || tcl=$(dirname "$(ls /usr/lib/*/tcl8.6/tclConfig.sh 2>/dev/null | head -n 1)")
[ -f "$tcl/tclConfig.sh" ] || { echo "build-testfixture.sh: no tclConfig.sh (apt-get install tcl-dev)" >&2; exit 1; }

cd "$out"
if [ ! -f Makefile ]; then
	echo "build-testfixture.sh: configuring SQLite $(cat "$src/VERSION") in $out" >&2
	"$src/configure" --with-tcl="$tcl" --disable-shared >configure.log 2>&1 || {
		tail -n 20 configure.log >&2; exit 1; }
fi
cflags="-O2 -I$top/include"
for f in $vfs; do
	gcc $cflags -DSQLITE_CORE -I. -c "$f" -o "$(basename "${f%.c}").o"
done
echo "build-testfixture.sh: make testfixture (a few minutes)" >&2
rm -f testfixture
make -j"$(nproc)" testfixture \
	OPTS="-DSQLITE_EXTRA_INIT=pml_testfixture_init" \
	TLIBS="$out/vfs.o $out/testfixture_init.o -L$build/lib -Wl,-rpath,$build/lib -lpmemlease -lpthread -lm -lz -ldl" \
	>make.log 2>&1 || { tail -n 30 make.log >&2; exit 1; }
echo "$tf"

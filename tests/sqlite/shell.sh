#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
#
# shell.sh LIBDIR WORKDIR -- the sqlite3 shell loads libpmemlease_sqlite
# and runs a database through the VFS "pmemlease": a URI with vfs=, and
# PMEMLEASE_SQLITE_DEFAULT=1 (Debian's sqlite3 3.40 has no `.open --vfs`).
# The database is then read back by a plain sqlite3, which must agree.
set -eu
libdir=$1
work=$2/shell
if ! command -v sqlite3 >/dev/null 2>&1; then
	echo "SKIPPED: no sqlite3 shell (Debian package sqlite3)"
	exit 77
fi
rm -rf "$work"
mkdir -p "$work"
db=$work/shell.db
export LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

out=$(sqlite3 :memory: \
	".load libpmemlease_sqlite" \
	".open file:$db?vfs=pmemlease" \
	".vfsname" \
	"PRAGMA journal_mode=WAL;" \
	"CREATE TABLE t(a INTEGER PRIMARY KEY, b BLOB);" \
	"INSERT INTO t(b) SELECT randomblob(200) FROM generate_series(1, 20000);" \
	"DELETE FROM t WHERE a % 2 = 0;" \
	"VACUUM;" \
	"PRAGMA integrity_check;" \
	"SELECT count(*) FROM t;")
echo "$out"
want="pmemlease
wal
ok
10000"
[ "$out" = "$want" ] || { echo "FAIL: the shell said the above, not: $want"; exit 1; }

# the default VFS after .load, by the environment; journal mode DELETE
out=$(PMEMLEASE_SQLITE_DEFAULT=1 sqlite3 :memory: \
	".load libpmemlease_sqlite" \
	".open $db" \
	".vfsname" \
	"PRAGMA journal_mode=DELETE;" \
	"UPDATE t SET b = zeroblob(10) WHERE a % 3 = 0;" \
	"PRAGMA integrity_check;" \
	"SELECT count(*), sum(length(b)) FROM t;")
echo "$out"
[ "$(echo "$out" | head -1)" = pmemlease ] || { echo "FAIL: not the default VFS"; exit 1; }

# plain sqlite3, the unix VFS, on the same file: the same database
plain=$(sqlite3 "$db" "PRAGMA integrity_check;" "SELECT count(*), sum(length(b)) FROM t;")
echo "$plain"
[ "$plain" = "$(echo "$out" | tail -2)" ] || { echo "FAIL: the unix VFS reads another database"; exit 1; }
echo "PASS"

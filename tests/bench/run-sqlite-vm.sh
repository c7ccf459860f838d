#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
#
# run-sqlite-vm.sh -- pml-sqlite-bench on real DAX: in the QEMU guest of the
# real-DAX tier (tests/vm), on files of its ext4 and xfs mounted -o
# dax=always, where the VFS "pmemlease" bypasses the page cache and the
# unix VFS's mmap_size does not.
#
#   tests/bench/run-sqlite-vm.sh [--build DIR] [--out DIR] [--rows N]
#                                [--reps N]
#
#   --build DIR   a pmemlease build dir with pml-sqlite-bench built
#                 (default: build-bench)
#   --out DIR     the guest run's directory (default: DIR/sqlite-vm)
#   --rows N      rows of the workload (default 20000: TCG is slow)
#   --reps N      repetitions (default 3)
#
# The guest is emulated by TCG: its figures are ratios between the two VFSes
# on the same media in the same boot, not the speed of pmem.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
build=$top/build-bench
out=
rows=20000
reps=3

while [ $# -gt 0 ]; do
	case "$1" in
	--build) build=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	--rows) rows=$2; shift 2 ;;
	--reps) reps=$2; shift 2 ;;
	-h|--help) sed -n '3,/^set -eu/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0 ;;
	*) echo "run-sqlite-vm.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
	esac
done
build=$(cd "$build" && pwd)
out=${out:-$build/sqlite-vm}
bench=$build/tests/bench/pml-sqlite-bench
[ -x "$bench" ] || { echo "run-sqlite-vm.sh: build $bench first" >&2; exit 1; }

# NAME BINARY TARGETS PHASES TIMEOUT FILES COMMAND (tests/vm/CMakeLists.txt)
mkdir -p "$out"
cat >"$out/manifest.txt" <<EOM
sqlite $bench ext4,xfs 1 1800 - \$PMLVM_BIN -d \$PMLVM_DIR -n $rows -r $reps
EOM

rc=0
sh "$top/tests/vm/run-vm.sh" --manifest "$out/manifest.txt" --out "$out" \
	--boot-timeout 3600 || rc=$?
[ "$rc" = 77 ] && { echo "run-sqlite-vm.sh: SKIPPED: the guest cannot run" \
	"here (see $out/status)" >&2; exit 77; }
for t in ext4 xfs; do
	res=$(cat "$out/results/sqlite/$t/phase1.result" 2>/dev/null || echo missing)
	echo
	echo "### pml-sqlite-bench in the guest: $t-dax ($res)"
	grep -v '^#' "$out/results/sqlite/$t/phase1.log" 2>/dev/null |
		grep '^|' || { echo "no results: $out/results/sqlite/$t/phase1.log"; rc=1; }
done
exit "$rc"

#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
#
# run-fio-vm.sh -- run-fio.sh on real DAX: in the QEMU guest of the real-DAX
# tier (tests/vm), on /dev/dax0.0 and on files of its ext4 and xfs mounted
# -o dax=always, then the tables here on the host.
#
#   tests/bench/fio/run-fio-vm.sh [--build DIR] [--out DIR] [--runtime S]
#                                 [--repeat N]
#
#   --build DIR     pmemlease build dir (default: build-fio); the engine is
#                   (re)built there with build-engine.sh
#   --out DIR       the guest run's directory (default: DIR/fio-vm); the
#                   JSON of target T is in DIR/results/fio/T/files/fio
#   --runtime S     runtime= of every job (default 3: the guest is emulated
#                   by TCG, so its figures are ratios between engines on the
#                   same media in the same boot, not the speed of pmem)
#   --repeat N      as run-fio.sh (default 3)
#
# The guest (tests/vm/run-vm.sh) gets fio, its libraries, the job files,
# run-fio.sh and the engine; one boot runs the three targets in turn.  The
# devdax target is the whole device: run it on its own, not beside the VM
# tests, which keep data in slots of the same device.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../../.." && pwd)
build=$top/build-fio
out=
runtime=3
repeat=3

while [ $# -gt 0 ]; do
	case "$1" in
	--build) build=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	--runtime) runtime=$2; shift 2 ;;
	--repeat) repeat=$2; shift 2 ;;
	-h|--help) sed -n '3,/^set -eu/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0 ;;
	*) echo "run-fio-vm.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
	esac
done
out=${out:-$build/fio-vm}

fio=$(command -v fio) || { echo "run-fio-vm.sh: no fio (apt-get install fio)" >&2; exit 1; }
engine=$("$here/build-engine.sh" "$build")
files=$fio,$here/run-fio.sh,$here/libpmem.fio,$here/dev-dax.fio,$engine

# NAME BINARY TARGETS PHASES TIMEOUT FILES COMMAND (tests/vm/CMakeLists.txt)
mkdir -p "$out"
run="sh $here/run-fio.sh --engine $engine --runtime $runtime --repeat $repeat --out \$PMLVM_OUTDIR/fio"
cat >"$out/manifest.txt" <<EOF
fio $fio devdax 1 900 $files $run --target \$PMLVM_DEVDAX
fio $fio ext4 1 900 $files $run --size 134217728 --target \$PMLVM_DIR/fio.dat
fio $fio xfs 1 900 $files $run --size 134217728 --target \$PMLVM_DIR/fio.dat
EOF

rc=0
sh "$top/tests/vm/run-vm.sh" --manifest "$out/manifest.txt" --out "$out" \
	--boot-timeout 1800 || rc=$?
[ "$rc" = 77 ] && { echo "run-fio-vm.sh: SKIPPED: the guest cannot run here" \
	"(see $out/status)" >&2; exit 77; }
for t in devdax ext4 xfs; do
	res=$(cat "$out/results/fio/$t/phase1.result" 2>/dev/null || echo missing)
	echo
	echo "### fio in the guest: $t ($res)"
	echo
	if [ -d "$out/results/fio/$t/files/fio" ]; then
		sh "$here/run-fio.sh" --report "$out/results/fio/$t/files/fio"
	else
		echo "no results; the log: $out/results/fio/$t/phase1.log"
		rc=1
	fi
done
exit "$rc"

#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
#
# run-bench.sh -- every figure of the README's benchmark section, in one
# command: pml-bench, fio through leases beside fio's own engines on a plain
# file, the same in the QEMU guest on devdax, ext4-dax and xfs-dax, SQLite
# through the VFS "pmemlease" against the unix VFS (plain file, and ext4-dax
# and xfs-dax in the guest), and the plots.
#
#   tests/bench/run-bench.sh [--out DIR] [--no-fio] [--no-vm]
#                            [-- PML-BENCH-OPTIONS]
#
#   --out DIR   where everything goes (default build-bench/bench-results):
#               results.md (all the tables), results.csv, *.dat, *.png,
#               fio/ and fio-vm/ (fio's JSON and effective job files)
#   --no-fio    pml-bench and the plots only
#   --no-vm     no guest run (the machine cannot run QEMU, or no time)
#
# pml-bench runs from build-bench/ (RelWithDebInfo); the fio engine is
# built in build-fio/ against the source of the installed fio
# (fio/build-engine.sh).  Data files go to $PML_BENCH_DIR (default
# /var/tmp: a disk filesystem that punches holes, not tmpfs).  The machine
# is shared and noisy: compare the ratios within one run, never figures
# across runs.  Plots need gnuplot (Debian: gnuplot-nox); without it the
# tables are still written.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
build="$top/build-bench"
out="$build/bench-results"
fio=1
vm=1
while [ $# -gt 0 ]; do
	case "$1" in
	--out) out=$2; shift 2 ;;
	--no-fio) fio=0; shift ;;
	--no-vm) vm=0; shift ;;
	--) shift; break ;;
	-h|--help) sed -n '3,/^set -eu/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0 ;;
	*) echo "run-bench.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
	esac
done
mkdir -p "$out"
out=$(cd "$out" && pwd)

cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" --target pml-bench -j "$(nproc)" >/dev/null

data="${PML_BENCH_DIR:-/var/tmp}/pml-bench.$$"
mkdir -p "$data"
# a private runtime directory: never meet another run's (or a real
# system's) lease state
export PMEMLEASE_RUNTIME_DIR="$data/run"
mkdir -p "$PMEMLEASE_RUNTIME_DIR"
trap 'rm -rf "$data"' EXIT INT TERM

"$build/tests/bench/pml-bench" -d "$data" -o "$out" "$@"

if [ "$fio" = 1 ]; then
	cmake -S "$top" -B "$top/build-fio" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
		>/dev/null
	cmake --build "$top/build-fio" --target pmemlease -j "$(nproc)" \
		>/dev/null
	rm -rf "$out/fio"
	{
		echo
		echo "## fio through leases, plain file"
		echo
		"$here/fio/run-fio.sh" --build "$top/build-fio" --runtime 5 \
			--size 512m --repeat 3 --target "$data/fio.dat" \
			--out "$out/fio" 2>"$out/fio.log"
	} | tee -a "$out/results.md"
	if [ "$vm" = 1 ]; then
		{
			echo
			echo "## fio through leases, real DAX in the QEMU guest"
			"$here/fio/run-fio-vm.sh" --build "$top/build-fio" \
				--out "$out/fio-vm" 2>"$out/fio-vm.log" ||
				echo "(the guest run failed: $out/fio-vm.log)"
		} | tee -a "$out/results.md"
	fi
fi

# SQLite through the VFS "pmemlease" against the unix VFS with mmap_size
cmake --build "$build" --target pml-sqlite-bench -j "$(nproc)" >/dev/null
{
	echo
	echo "## SQLite: the VFS pmemlease against the unix VFS, plain file"
	for mode in WAL DELETE; do
		"$build/tests/bench/pml-sqlite-bench" -d "$data" -n 50000 \
			-r 5 -j "$mode" | grep -v '^#'
	done
} | tee -a "$out/results.md"
if [ "$vm" = 1 ]; then
	{
		echo
		echo "## SQLite on real DAX in the QEMU guest"
		"$here/run-sqlite-vm.sh" --build "$build" \
			--out "$out/sqlite-vm" 2>"$out/sqlite-vm.log" ||
			echo "(the guest run failed: $out/sqlite-vm.log)"
	} | tee -a "$out/results.md"
fi

if ! command -v gnuplot >/dev/null 2>&1; then
	echo "run-bench.sh: no gnuplot (apt-get install gnuplot-nox): no plots" >&2
	exit 0
fi
cd "$out"
gnuplot <<'GP'
set terminal pngcairo size 800,500 noenhanced
set grid
set key top left

set output 'threads.png'
set title 'acquire+put (PIN 4 KiB) per thread, CPU time'
set xlabel 'threads (2 cores: 8 and 64 oversubscribed)'
set ylabel 'ns per acquire+put'
set logscale x 2
set yrange [0:*]
plot 'threads.dat' u 1:2 w lp t 'lease', '' u 1:3 w lp t 'floor (slot + fence)', \
     '' u 1:4 w lp t 'one shared atomic'
unset logscale

set output 'punch-vs-leases.png'
set title '2 MiB punch and the barrier alone, with live leases elsewhere'
set xlabel 'live leases elsewhere in the region (+1)'
set ylabel 'us (median; punch: min-max)'
set logscale x 10
set logscale y 10
set yrange [*:*]
plot 'punch-vs-leases.dat' u ($1+1):2:3:4 w yerrorlines t 'punch', \
     '' u ($1+1):5 w lp t 'barrier alone (pml_region_break)'
unset logscale

set output 'datapath.png'
set title 'copy into a region: persisted (msync on a plain file) and no flush'
set xlabel 'copy size (KiB)'
set ylabel 'ns per copy'
set logscale xy
plot 'datapath.dat' i 0 u 1:2 w lp t 'pml_region_memcpy', '' i 0 u 1:3 w lp t 'pmem2 memcpy_fn', \
     '' i 0 u 1:4 w lp t 'plain memcpy', \
     '' i 1 u 1:2 w lp t 'pml_region_memcpy, NOFLUSH', '' i 1 u 1:3 w lp t 'pmem2, NOFLUSH'
GP
echo "run-bench.sh: results in $out (results.md, results.csv, *.png)"

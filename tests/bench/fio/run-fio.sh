#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
#
# run-fio.sh -- fio through pmemlease leases versus fio's own libpmem and
# dev-dax engines, on the same job files, side by side.
#
#   tests/bench/fio/run-fio.sh [options]
#
#   --build DIR      pmemlease build dir (default: build-fio of this tree);
#                    the engine is (re)built there with build-engine.sh
#   --engine SO      use this pmemlease_fio.so, build nothing (the guest)
#   --target PATH    file or /dev/daxN.M to run on
#                    (default: /tmp/pmlfio-bench/data, a plain file)
#   --jobs "A B"     job files of this directory (default: "libpmem dev-dax"
#                    on a file, "dev-dax" on a device: fio's libpmem engine
#                    cannot run on a device, nor its dev-dax engine with
#                    direct=1, which libpmem.fio sets)
#   --runtime S      override runtime= of the job files (default: theirs,
#                    300 s and 30 s)
#   --size SIZE      override size= (libpmem.fio: 10g); also the size a
#                    missing target file is made (default 10g), which
#                    dev-dax.fio (no size= of its own) then runs over
#   --repeat N       run every (job, engine) N times, interleaved, who goes
#                    first rotating; the table shows medians, and ratios
#                    as medians of each repeat's own ratio (default 1)
#   --out DIR        keep the JSON outputs and effective job files here
#                    (default: a new /tmp/pmlfio-bench/run.XXXX)
#   --report DIR     print the table of an earlier --out DIR and exit
#                    (e.g. on the host for a run made in the QEMU guest,
#                    which has no python3)
#
# Engines run on every job: the baseline -- libpmem on a file, dev-dax on
# a devdax target -- then the external engine with pml_lease=pin (a PIN per
# I/O: the figure that counts) and pml_lease=none (the same region mapping
# and libpmem2 copy with no lease: splits the lease's cost from libpmem2's).
#
# The job files are copies of fio's examples with ioengine/filename taken
# from the environment.  Overrides applied to the effective copies (written
# to --out, with the list printed): --runtime/--size if given, and
# disable_clat=0 + clat_percentiles=1 so that latency is measured at all
# (the examples disable it; it costs every engine the same two clock reads).
#
# On a plain file (no DAX) libpmem refuses a non-pmem mapping and libpmem2
# would persist with msync: both are told to treat the file as pmem --
# PMEM_IS_PMEM_FORCE=1 for libpmem, PMEM2_FORCE_GRANULARITY=CACHE_LINE for
# libpmem2 -- so both flush cache lines the same way.  On DAX neither is set.
#
# In the QEMU guest (tests/vm): copy fio, this directory, the engine and its
# libraries in, then e.g.
#   run-fio.sh --engine /path/pmemlease_fio.so --target /dev/dax0.0 \
#              --runtime 10 --out /results/fio-devdax
#   run-fio.sh --engine /path/pmemlease_fio.so --target /pmlvm/xfs/fio.dat \
#              --size 256m --runtime 10 --out /results/fio-xfs
# and on the host: run-fio.sh --report DIR.
#
# The 5% target (fio through leases within 5% of fio's libpmem engine) is
# printed, never asserted: the exit status is 0 whenever fio ran.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../../.." && pwd)

build=$top/build-fio
engine=
target=/tmp/pmlfio-bench/data
jobs=
runtime=
size=
repeat=1
out=
report=

while [ $# -gt 0 ]; do
	case "$1" in
	--build) build=$2; shift 2 ;;
	--engine) engine=$2; shift 2 ;;
	--target) target=$2; shift 2 ;;
	--jobs) jobs=$2; shift 2 ;;
	--runtime) runtime=$2; shift 2 ;;
	--size) size=$2; shift 2 ;;
	--repeat) repeat=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	--report) report=$2; shift 2 ;;
	-h|--help) sed -n '3,/^set -eu/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0 ;;
	*) echo "run-fio.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
	esac
done

print_report() {
	if ! command -v python3 >/dev/null 2>&1; then
		echo "run-fio.sh: no python3 here; the JSON is in $1:" \
			"run 'run-fio.sh --report $1' where python3 is" >&2
		return 0
	fi
	python3 "$here/fio-report.py" "$1"
}

if [ -n "$report" ]; then
	print_report "$report"
	exit 0
fi

command -v fio >/dev/null 2>&1 || {
	echo "run-fio.sh: no fio (apt-get install fio)" >&2; exit 1; }

if [ -z "$engine" ]; then
	engine=$("$here/build-engine.sh" "$build")
fi
[ -f "$engine" ] || { echo "run-fio.sh: no engine $engine" >&2; exit 1; }
engine=$(cd "$(dirname "$engine")" && pwd)/$(basename "$engine")

# what the target is: devdax, fsdax (a DAX mount) or plain
if [ -c "$target" ]; then
	kind=devdax
else
	mkdir -p "$(dirname "$target")"
	mnt=$(df -P "$(dirname "$target")" | awk 'NR == 2 { print $6 }')
	if awk -v m="$mnt" '$2 == m && $4 ~ /(^|,)dax/ { f = 1 } END { exit !f }' /proc/mounts; then
		kind=fsdax
	else
		kind=plain
	fi
	# dev-dax.fio has no size= of its own: it runs over the whole file,
	# which is made --size (10g) if missing; libpmem.fio's size= grows it
	[ -f "$target" ] || truncate -s "${size:-10g}" "$target"
fi

if [ -z "$out" ]; then
	mkdir -p /tmp/pmlfio-bench
	out=$(mktemp -d /tmp/pmlfio-bench/run.XXXX)
fi
mkdir -p "$out"

# fio's libpmem engine on a file, its dev-dax engine on a device
baselines=libpmem
[ "$kind" = devdax ] && baselines=dev-dax
if [ -z "$jobs" ]; then
	jobs="libpmem dev-dax"
	[ "$kind" = devdax ] && jobs=dev-dax
fi
force_pmem=
force_pmem2=
if [ "$kind" = plain ]; then
	force_pmem="PMEM_IS_PMEM_FORCE=1"
	force_pmem2="PMEM2_FORCE_GRANULARITY=CACHE_LINE"
fi

{
	echo "target: $target ($kind)"
	echo "engine: $engine"
	echo "fio: $(fio --version)"
	echo "overrides: disable_clat=0 clat_percentiles=1${runtime:+ runtime=$runtime}${size:+ size=$size}"
	[ "$kind" = plain ] && echo "environment: libpmem $force_pmem; pmemlease $force_pmem2"
	echo "repeat: $repeat"
} | tee "$out/run-info.txt" >&2

# effective job file: the copy with the overrides (and pml_lease for ours)
effective() { # job lease
	sed -e 's/^disable_clat=.*/disable_clat=0/' \
	    -e 's/^clat_percentiles=.*/clat_percentiles=1/' \
	    ${runtime:+-e "s/^runtime=.*/runtime=$runtime/"} \
	    ${size:+-e "s/^size=.*/size=$size/"} \
	    ${2:+-e "s/^\[global\]\$/[global]\npml_lease=$2/"} \
	    "$here/$1.fio"
}

i=1
while [ "$i" -le "$repeat" ]; do
	for job in $jobs; do
		# who runs first rotates: no engine always gets a fresh machine
		engines="$baselines pmemlease-pin pmemlease-none"
		r=0
		while [ "$r" -lt $(((i - 1) % $(echo $engines | wc -w))) ]; do
			engines="${engines#* } ${engines%% *}"
			r=$((r + 1))
		done
		for eng in $engines; do
			case "$eng" in
			pmemlease-*)
				lease=${eng#pmemlease-}
				ioengine=external:$engine
				env=$force_pmem2 ;;
			*)
				lease=
				ioengine=$eng
				env=$force_pmem ;;
			esac
			jf=$out/$job.$eng.fio
			effective "$job" "$lease" >"$jf"
			echo "run-fio.sh: [$i/$repeat] $job.fio with $eng" >&2
			# shellcheck disable=SC2086 # env is one word or none
			if ! env $env PMLFIO_ENGINE="$ioengine" \
				PMLFIO_FILENAME="$target" \
				fio --output-format=json \
				--output="$out/$job.$eng.r$i.json" "$jf" \
				2>"$out/$job.$eng.r$i.err"; then
				echo "run-fio.sh: fio failed, see $out/$job.$eng.r$i.err" >&2
				cat "$out/$job.$eng.r$i.err" >&2
			fi
		done
	done
	i=$((i + 1))
done

echo "run-fio.sh: outputs in $out" >&2
print_report "$out"

#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# test-all.sh -- install what is missing, build, and run every test:
#
#   build/       the normal build: every test, the real-DAX VM tier included
#                (ctest label `vm`)
#   build-asan/  -DPML_SANITIZE=address (ASan + UBSan): every test but `vm`
#   build-tsan/  -DPML_SANITIZE=thread (TSan): every test but `vm`
#
# Exits non-zero if anything fails to install, configure or build, if any
# test fails, or if any test is skipped (a skipped test has not passed; set
# PML_ALLOW_SKIP=1 to accept skips, e.g. on a machine that cannot run QEMU).
# The last line is the summary: "test-all: N passed, N failed[, N skipped]".
#
# Environment:
#   PML_SKIP_DEPS=1     do not run scripts/install-deps.sh
#   PML_BUILDS="..."    a subset of: normal asan tsan (default: all three)
#   PML_CTEST_JOBS=N    ctest parallelism (default 1: the suite has timing
#                       tests, and the machine has 2 cores)
#   PML_ALLOW_SKIP=1    skipped tests do not fail the run
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1

builds=${PML_BUILDS:-normal asan tsan}
jobs=${PML_CTEST_JOBS:-1}
ncpu=$(nproc 2>/dev/null || echo 2)
logdir="$top/build-logs"
mkdir -p "$logdir"

total_pass=0
total_fail=0
total_skip=0
summary=()

note() { printf '\n=== test-all: %s\n' "$*"; }

# ------------------------------------------------------------ dependencies
note "installing dependencies"
if ! sh "$top/scripts/install-deps.sh"; then
	note "installing dependencies FAILED"
	echo "test-all: 0 passed, 1 failed"
	exit 1
fi

# ------------------------------------------------------------ TSan and ASLR
#
# TSan (gcc 12's libtsan2) knows a fixed set of address ranges for the
# program's memory.  Kernels that randomise mmap with more bits than it
# expects (vm.mmap_rnd_bits above 28, the default on recent distribution
# kernels) place libraries outside those ranges at random, and the program
# dies at start with "FATAL: ThreadSanitizer: unexpected memory mapping".
# Running without address randomisation avoids it: setarch -R, inherited by
# every test ctest starts.  Where setarch -R is refused (a seccomp policy
# can forbid personality()), lower mmap_rnd_bits for the run instead.
tsan_wrap=()
restore_rnd_bits=
prepare_tsan() {
	local arch
	arch=$(uname -m)
	if setarch "$arch" -R true 2>/dev/null; then
		tsan_wrap=(setarch "$arch" -R)
		echo "test-all: TSan tests run under 'setarch $arch -R' (no ASLR)"
		return
	fi
	local bits
	bits=$(cat /proc/sys/vm/mmap_rnd_bits 2>/dev/null || echo 0)
	# /proc rather than sysctl(8): procps is not on a minimal Debian
	if [ "$bits" -gt 28 ] && [ "$(id -u)" -eq 0 ] &&
	   echo 28 2>/dev/null >/proc/sys/vm/mmap_rnd_bits; then
		restore_rnd_bits=$bits
		echo "test-all: setarch -R refused; vm.mmap_rnd_bits $bits -> 28 for the TSan run"
		return
	fi
	echo "test-all: setarch -R refused and mmap_rnd_bits is $bits; TSan runs as is"
}
restore_tsan() {
	if [ -n "$restore_rnd_bits" ]; then
		echo "$restore_rnd_bits" >/proc/sys/vm/mmap_rnd_bits
		restore_rnd_bits=
	fi
}
trap restore_tsan EXIT

# ------------------------------------------------------------ one build
#
# run_build NAME DIR CTEST-LABEL-ARGS -- CMAKE-ARGS...
run_build() {
	local name=$1 dir=$2 label_args=$3
	shift 4
	local log="$logdir/$name.log"
	local -a wrap=()

	note "$name: configure $dir $*"
	if ! cmake -S "$top" -B "$top/$dir" -DBUILD_TESTING=ON "$@"; then
		summary+=("$name: configure FAILED")
		total_fail=$((total_fail + 1))
		return
	fi
	note "$name: build"
	if ! cmake --build "$top/$dir" --parallel "$ncpu"; then
		summary+=("$name: build FAILED")
		total_fail=$((total_fail + 1))
		return
	fi

	if [ "$name" = tsan ]; then
		prepare_tsan
		wrap=("${tsan_wrap[@]}")
	fi
	note "$name: ctest $label_args (log: $log)"
	# shellcheck disable=SC2086 # label_args is "-LE ..." or empty
	(cd "$top/$dir" && "${wrap[@]}" ctest --output-on-failure --no-tests=error \
		-j "$jobs" $label_args) 2>&1 | tee "$log"
	local rc=${PIPESTATUS[0]}
	[ "$name" = tsan ] && restore_tsan

	# ctest's own closing line: "NN% tests passed, F tests failed out of T"
	local line passed=0 failed=0 total=0 skipped
	line=$(grep -E '^[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -n 1)
	if [ -n "$line" ]; then
		failed=$(sed -E 's/.* ([0-9]+) tests? failed out of.*/\1/' <<<"$line")
		total=$(sed -E 's/.* out of ([0-9]+).*/\1/' <<<"$line")
	fi
	skipped=$(grep -cE '^[[:space:]]*[0-9]+ - .* \((Skipped|Not Run|Disabled)\)$' "$log")
	passed=$((total - failed - skipped))
	[ "$passed" -lt 0 ] && passed=0

	total_pass=$((total_pass + passed))
	total_fail=$((total_fail + failed))
	total_skip=$((total_skip + skipped))
	local verdict=ok
	if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then
		# ctest failed without a failing test: no tests, a crash, a timeout
		total_fail=$((total_fail + 1))
		verdict="ctest exit $rc"
	elif [ "$failed" -ne 0 ]; then
		verdict=FAILED
	elif [ "$skipped" -ne 0 ]; then
		verdict="SKIPPED TESTS"
	fi
	summary+=("$name: $passed passed, $failed failed, $skipped skipped of $total ($verdict)")
}

for b in $builds; do
	case "$b" in
	normal) run_build normal build "" -- ;;
	asan)   run_build asan build-asan "-LE vm" -- -DPML_SANITIZE=address ;;
	tsan)   run_build tsan build-tsan "-LE vm" -- -DPML_SANITIZE=thread ;;
	*)      echo "test-all: unknown build '$b' in PML_BUILDS" >&2
		total_fail=$((total_fail + 1)) ;;
	esac
done

note "summary"
for s in "${summary[@]}"; do
	echo "  $s"
done
if [ "$total_skip" -ne 0 ]; then
	if [ "${PML_ALLOW_SKIP:-0}" = 1 ]; then
		echo "  $total_skip test(s) SKIPPED (accepted: PML_ALLOW_SKIP=1)"
	else
		echo "  $total_skip test(s) SKIPPED: a skipped test has not passed" \
		     "(PML_ALLOW_SKIP=1 accepts skips)"
	fi
fi

status=0
if [ "$total_fail" -ne 0 ]; then
	status=1
elif [ "$total_skip" -ne 0 ] && [ "${PML_ALLOW_SKIP:-0}" != 1 ]; then
	status=1
fi
if [ "$total_skip" -ne 0 ]; then
	echo "test-all: $total_pass passed, $total_fail failed, $total_skip skipped"
else
	echo "test-all: $total_pass passed, $total_fail failed"
fi
exit $status

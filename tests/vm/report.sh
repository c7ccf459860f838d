#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
#
# report.sh -- the ctest verdict of one guest test on one target, read from
# what run-vm.sh (the vm.boot fixture) collected.
#
# usage: report.sh OUT NAME TARGET PHASES
#
# Prints the test's log of every phase and exits 0 (every phase passed),
# 77 (skipped: phase 1 skipped, or the tier could not run here) or 1 (a
# phase failed, did not run, or left no result).
set -u

[ $# -eq 4 ] || { echo "usage: $0 OUT NAME TARGET PHASES" >&2; exit 2; }
OUT=$1 NAME=$2 TARGET=$3 PHASES=$4

if [ ! -r "$OUT/status" ]; then
	echo "FAIL: no run of the VM tier in $OUT (the vm.boot fixture did not run;"
	echo "      run the tier with: ctest -L vm)"
	exit 1
fi
status=$(cat "$OUT/status")
case "$status" in
SKIP*)
	echo "SKIPPED: ${status#SKIP }"
	exit 77 ;;
esac

verdict=PASS
p=1
while [ "$p" -le "$PHASES" ]; do
	dir=$OUT/results/$NAME/$TARGET
	res=$(cat "$dir/phase$p.result" 2>/dev/null || echo "MISSING")
	echo "==== $NAME on $TARGET, phase $p of $PHASES: $res"
	if [ -r "$dir/phase$p.log" ]; then
		cat "$dir/phase$p.log"
		echo "==== (log: $dir/phase$p.log)"
	fi
	case "$res" in
	PASS*)	;;
	SKIP*)	if [ "$p" -eq 1 ]; then
			verdict=SKIP
			break
		fi
		# a later phase cannot skip what phase 1 already started
		verdict=FAIL ;;
	NOTRUN*)
		verdict=FAIL ;;
	MISSING)
		echo "no result for phase $p; the run's status: $status"
		verdict=FAIL ;;
	*)	verdict=FAIL ;;
	esac
	p=$((p + 1))
done

case $verdict in
PASS)	exit 0 ;;
SKIP)
	why=$(grep -h '^SKIP: ' "$OUT/results/$NAME/$TARGET/phase1.log" \
		2>/dev/null | head -n 3 | tr '\n' ' ')
	echo "SKIPPED: $NAME on $TARGET: ${why:-the test exited 77}"
	exit 77 ;;
*)
	echo "FAILED: $NAME on $TARGET; guest consoles: $OUT/console-boot*.log"
	exit 1 ;;
esac

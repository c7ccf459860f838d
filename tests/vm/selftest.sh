#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
#
# selftest.sh -- check that the VM tier reports failures as failures.
#
# usage: selftest.sh --manifest FILE --out DIR
#
# FILE lists guest programs that misbehave on purpose (guest/selftest.c).
# Runs the tier three times and checks the verdicts report.sh gives:
#   1. a normal run: a pass passes, an assertion / a SIGBUS / a hang (the
#      in-guest timeout) / a failed phase 2 / a failed phase 1 all fail,
#      a skip skips, data kept across the reboot is found; a program whose
#      regions are not on DAX, or that opens none, fails (the kind check);
#      and a guest that dies before /init (a fake first QEMU start) is
#      booted again;
#   2. a guest killed by the per-boot timeout: run-vm.sh fails, says "hung",
#      keeps the console log, and no test passes;
#   3. no QEMU: everything skips, nothing passes.
# Exit 0 when every check holds, 1 otherwise, 77 when QEMU or the guest
# kernel is missing here (the tier cannot run at all).
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
MANIFEST=
OUT=
while [ $# -gt 0 ]; do
	case "$1" in
	--manifest)	MANIFEST=$2; shift 2 ;;
	--out)		OUT=$2; shift 2 ;;
	*)		echo "usage: $0 --manifest FILE --out DIR" >&2; exit 2 ;;
	esac
done
[ -n "$MANIFEST" ] && [ -n "$OUT" ] ||
	{ echo "usage: $0 --manifest FILE --out DIR" >&2; exit 2; }
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

passed=0
failed=0
check() {	# check WHAT CONDITION-RESULT(0/1)
	if [ "$2" -eq 0 ]; then
		echo "selftest: ok:     $1"
		passed=$((passed + 1))
	else
		echo "selftest: WRONG:  $1"
		failed=$((failed + 1))
	fi
}

# expect OUT NAME TARGET PHASES RC [TEXT] -- report.sh exits RC, and the
# result files mention TEXT
expect() {
	out=$1 name=$2 target=$3 phases=$4 want=$5 text=${6:-}
	sh "$HERE/report.sh" "$out" "$name" "$target" "$phases" \
		>"$OUT/report.$name.$target.txt" 2>&1
	rc=$?
	ok=0
	[ "$rc" -eq "$want" ] || ok=1
	if [ -n "$text" ] && ! cat "$out/results/$name/$target"/*.result \
			2>/dev/null | grep -q "$text"; then
		ok=1
	fi
	what="$name on $target: report.sh exits $want"
	[ -n "$text" ] && what="$what, result says '$text'"
	check "$what (got $rc)" $ok
}

# ------------------------------------------------------------ 1. normal
# Through a QEMU wrapper whose first start "dies" at once, as a guest that
# panics before /init would: run-vm.sh must retry that boot once.
QEMU=${PMLVM_QEMU:-$(command -v qemu-system-x86_64 || true)}
if [ -z "$QEMU" ] || [ ! -x "$QEMU" ]; then
	echo "SKIPPED: qemu-system-x86_64 not found" \
	     "(run tests/vm/install-deps.sh as root)"
	exit 77
fi
rm -f "$OUT/qemu-starts"
cat >"$OUT/qemu-once-dead" <<EOF
#!/bin/sh
echo started >>"$OUT/qemu-starts"
[ \$(wc -l <"$OUT/qemu-starts") -eq 1 ] && exit 0
exec "$QEMU" "\$@"
EOF
chmod +x "$OUT/qemu-once-dead"
PMLVM_QEMU=$OUT/qemu-once-dead sh "$HERE/run-vm.sh" \
	--manifest "$MANIFEST" --out "$OUT/normal" | tee "$OUT/normal.txt"
if grep -q "run-vm: SKIPPED" "$OUT/normal.txt"; then
	echo "SKIPPED: $(cut -d' ' -f2- "$OUT/normal/status")"
	exit 77
fi
[ "$(cat "$OUT/normal/status" 2>/dev/null)" = OK ]
check "a run whose tests misbehave completes (status OK)" $?
grep -q "boot 1 died before /init started; trying it again" "$OUT/normal.txt" &&
	[ -e "$OUT/normal/console-boot1.attempt1.log" ]
check "a guest dead before /init is retried once, its log kept" $?
N=$OUT/normal
expect "$N" st_pass ext4 1 0 PASS
expect "$N" st_fail devdax 1 1 "FAIL exit status 1"
expect "$N" st_sigbus ext4 1 1 "FAIL killed by signal 7"
expect "$N" st_hang xfs 1 1 "FAIL timeout"
expect "$N" st_skip devdax 1 77 SKIP
expect "$N" st_phase ext4 2 0 PASS
expect "$N" st_phase xfs 2 0 PASS
expect "$N" st_phase_bad ext4 2 1 "FAIL exit status 1"
expect "$N" st_p1_fail devdax 2 1 "NOTRUN"
# programs (pml_add_vm_program): the kind check fails them off DAX
expect "$N" st_prog ext4 1 0 PASS
expect "$N" st_prog xfs 1 0 PASS
expect "$N" st_prog_plain ext4 1 1 "FAIL exit status 97"
expect "$N" st_prog_plain devdax 1 1 "FAIL exit status 97"
expect "$N" st_prog_none xfs 1 1 "FAIL exit status 97"
grep -q "opened as a plain region, not fsdax" \
	"$N/results/st_prog_plain/ext4/phase1.log" 2>/dev/null
check "a program's plain region on ext4 is named as such" $?
grep -q "opened no region" "$N/results/st_prog_none/xfs/phase1.log" \
	2>/dev/null
check "a program that opened no region is told so" $?

# ------------------------------------------------------------ 2. a hang
# 3 s is far too short to boot: the guest is killed as if it hung.
PMLVM_BOOT_TIMEOUT=3 sh "$HERE/run-vm.sh" --manifest "$MANIFEST" \
	--out "$OUT/hang" >"$OUT/hang.txt" 2>&1
rc=$?
[ $rc -eq 1 ]
check "a hung guest fails the run (run-vm.sh exits 1, got $rc)" $?
grep -q "hung" "$OUT/hang/status" 2>/dev/null
check "the status names the hang: $(cat "$OUT/hang/status" 2>/dev/null)" $?
grep -q "console log: $OUT/hang/console-boot1.log" "$OUT/hang.txt"
check "the console log's path is printed" $?
[ -s "$OUT/hang/console-boot1.log" ]
check "the console log is kept and not empty" $?
expect "$OUT/hang" st_pass ext4 1 1

# ------------------------------------------------------------ 3. no QEMU
PMLVM_QEMU=/nonexistent/qemu-system-x86_64 sh "$HERE/run-vm.sh" \
	--manifest "$MANIFEST" --out "$OUT/noqemu" >"$OUT/noqemu.txt" 2>&1
rc=$?
[ $rc -eq 77 ]
check "no QEMU: run-vm.sh exits 77 (got $rc)" $?
grep -q "SKIPPED: qemu-system-x86_64 not found" "$OUT/noqemu.txt"
check "no QEMU: it says SKIPPED and why" $?
expect "$OUT/noqemu" st_pass ext4 1 77
grep -q "^SKIPPED: " "$OUT/report.st_pass.ext4.txt"
check "no QEMU: each test says SKIPPED" $?

echo "selftest: $passed passed, $failed failed"
if [ $failed -eq 0 ]; then
	# the media images are 100+ MB of sparse files: keep only the logs
	rm -f "$OUT"/*/nvdimm-*.img "$OUT"/*/*.cpio "$OUT"/*/scratch.img
	exit 0
fi
echo "selftest: the runs are kept in $OUT"
exit 1

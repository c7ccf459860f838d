#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
#
# run-vm.sh -- run the guest tests of a manifest in a QEMU guest that has
# real NVDIMMs, and collect their results.
#
# usage: run-vm.sh --manifest FILE --out DIR [--boot-timeout SECONDS]
#                  [--machine nvdimm|cxl]
#
# The guest: the packaged Debian kernel, a busybox initramfs built here (the
# guest tests and their shared libraries, ndctl, daxctl, cxl, mkfs.ext4,
# mkfs.xfs, the nvdimm/dax/cxl/ext4/xfs modules, guest-init.sh as /init), a
# scratch virtio disk for tests that need a real block device, a results
# virtio disk, and the persistent memory of the machine:
#   nvdimm (default)  three NVDIMMs backed by sparse files in DIR (devdax,
#                     fsdax+ext4, fsdax+xfs), on a pc machine;
#   cxl               one emulated CXL type-3 pmem device (256 MiB, with its
#                     label storage area) behind a CXL host bridge and root
#                     port, on a q35 machine (../shared/notes/cxl-in-qemu.md):
#                     the guest assembles a CXL region and a devdax
#                     namespace on it.
# The guest is booted once per phase (the largest PHASES of the manifest);
# every boot sees the memory files of the boot before, unchanged.
#
# Out, in DIR:
#   status                 OK | FAIL <why> | SKIP <why>
#   results/NAME/TARGET/phaseN.log     everything the test printed
#   results/NAME/TARGET/phaseN.result  PASS | SKIP | FAIL <why> | NOTRUN <why>
#   console-bootN.log      the whole serial console of boot N
#   nvdimm-*.img or cxl-*.img, scratch.img, results.img, initramfs.cpio
#                          (kept for debugging; sparse)
#
# Exit status: 0 every boot ran to its end (a failing guest TEST is reported
# through its result file, not here); 1 a harness failure (a hung or crashed
# guest, a set-up failure in the guest, a missing binary); 77 the tier cannot
# run on this machine (no QEMU, no guest kernel): SKIP, never a pass;
# 2 usage.
#
# Environment:
#   PMLVM_BOOT_TIMEOUT  seconds one boot may take before the guest is killed
#                       and the run fails (default: --boot-timeout, or 240)
#   PMLVM_SHELL=before|after|fail
#                       interactive: an init shell on this terminal before the
#                       tests, after them, or when the set-up fails; no
#                       timeout.  Ctrl-A x quits QEMU.
#   PMLVM_REUSE=1       keep existing memory image files (namespaces and
#                       filesystems are then found, not made)
#   PMLVM_KERNEL        the vmlinuz to boot (its modules must be in
#                       ../lib/modules/VERSION beside its boot/ directory, or
#                       in /lib/modules/VERSION for /boot/vmlinuz-VERSION)
#   PMLVM_KERNEL_ROOT   where install-deps.sh unpacked kernels
#                       (default /opt/pmemlease-vm/kernel)
#   PMLVM_QEMU          the qemu-system-x86_64 binary
#   PMLVM_ONLY          comma-separated test names: run only these
#   PMLVM_TCG_THREAD    single (default) or multi: QEMU's TCG threading

set -eu

SELF_DIR=$(cd "$(dirname "$0")" && pwd)
MANIFEST=
OUT=
BOOT_TIMEOUT=240
MACHINE=nvdimm
while [ $# -gt 0 ]; do
	case "$1" in
	--manifest)	MANIFEST=$2; shift 2 ;;
	--manifest=*)	MANIFEST=${1#*=}; shift ;;
	--out)		OUT=$2; shift 2 ;;
	--out=*)	OUT=${1#*=}; shift ;;
	--boot-timeout)	BOOT_TIMEOUT=$2; shift 2 ;;
	--boot-timeout=*) BOOT_TIMEOUT=${1#*=}; shift ;;
	--machine)	MACHINE=$2; shift 2 ;;
	--machine=*)	MACHINE=${1#*=}; shift ;;
	*)		echo "usage: $0 --manifest FILE --out DIR" \
			"[--boot-timeout S] [--machine nvdimm|cxl]" >&2
			exit 2 ;;
	esac
done
[ -n "$MANIFEST" ] && [ -n "$OUT" ] ||
	{ echo "usage: $0 --manifest FILE --out DIR" >&2; exit 2; }
case "$MACHINE" in
nvdimm|cxl) ;;
*)	echo "run-vm.sh: --machine must be nvdimm or cxl" >&2; exit 2 ;;
esac

# the environment wins over --boot-timeout: a developer's quick override
BOOT_TIMEOUT=${PMLVM_BOOT_TIMEOUT:-$BOOT_TIMEOUT}
KERNEL_ROOT=${PMLVM_KERNEL_ROOT:-/opt/pmemlease-vm/kernel}
NVDIMM_SIZE=512M
CXL_SIZE=256M
# One host thread runs all guest CPUs (round robin) unless told otherwise:
# with multi-threaded TCG, QEMU 7.2 lets a vCPU run a stale translation of
# kernel text another vCPU just patched (static keys, text_poke_bp), and the
# guest dies early in boot of "Oops: int3" in roughly one boot of ten.
# Single-threaded TCG keeps 2 guest CPUs (SMP kernel, IPIs, TLB shootdowns)
# without that race.
TCG_THREAD=${PMLVM_TCG_THREAD:-single}
T0=$(date +%s)

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
# Never let results of an earlier run be read as this run's.
rm -rf "$OUT/results" "$OUT/status" "$OUT"/console-boot*.log
mkdir -p "$OUT/results"

say() { echo "run-vm: $*"; }
elapsed() { echo "$(($(date +%s) - T0))s"; }

# The three ways out.  The status file is what report.sh reads.
skip() {
	echo "SKIP $*" >"$OUT/status"
	say "SKIPPED: $*"
	exit 77
}
fail() {
	echo "FAIL $*" >"$OUT/status"
	say "FAILED: $*"
	exit 1
}

# ------------------------------------------------------ what this host has
# Missing host pieces make the tier SKIP (loudly), not fail: a developer
# machine without QEMU can still run the rest of ctest.
QEMU=${PMLVM_QEMU:-$(command -v qemu-system-x86_64 || true)}
[ -n "$QEMU" ] && [ -x "$QEMU" ] ||
	skip "qemu-system-x86_64 not found (run tests/vm/install-deps.sh as root)"

# find_kernel -- print "VMLINUZ MODULES_DIR" of the newest usable kernel.
find_kernel() {
	if [ -n "${PMLVM_KERNEL:-}" ]; then
		set -- "$PMLVM_KERNEL"
	else
		# Newest version first (the 6.12 series beats 6.1 when both
		# exist), sorting on the version in the file name.  Kernel
		# paths hold no spaces: split the list on them.
		# shellcheck disable=SC2046
		set -- $(for k in "$KERNEL_ROOT"/*/boot/vmlinuz-* /boot/vmlinuz-*; do
				[ -e "$k" ] && echo "${k##*/vmlinuz-} $k"
			done | sort -V -r -k1,1 | cut -d' ' -f2)
	fi
	for k in "$@"; do
		[ -r "$k" ] || continue
		ver=${k##*/vmlinuz-}
		case "$k" in
		/boot/*) mods=/lib/modules/$ver ;;
		*)	 mods=$(dirname "$(dirname "$k")")/lib/modules/$ver ;;
		esac
		if [ -d "$mods/kernel/drivers/nvdimm" ] &&
		   { [ "$MACHINE" != cxl ] || [ -d "$mods/kernel/drivers/cxl" ]; }; then
			echo "$k $mods"
			return 0
		fi
	done
	return 1
}
kinfo=$(find_kernel) ||
	skip "no guest kernel with nvdimm modules (looked in $KERNEL_ROOT" \
	     "and /boot; run tests/vm/install-deps.sh as root, or set" \
	     "PMLVM_KERNEL)"
VMLINUZ=${kinfo% *}
MODDIR=${kinfo#* }
KVER=${MODDIR##*/}

need_tool() {
	command -v "$1" >/dev/null 2>&1 ||
		skip "$1 not found on the host (run tests/vm/install-deps.sh as root)"
}
for t in busybox ndctl daxctl mkfs.ext4 mkfs.xfs blkid depmod modinfo \
	 cpio xz ldd cmp; do
	need_tool "$t"
done
[ "$MACHINE" = cxl ] && need_tool cxl
BUSYBOX=$(command -v busybox)
# The guest init needs these applets; Debian's dynamic "busybox" package
# lacks some of them, busybox-static has all.
for a in cttyhack setsid timeout modprobe poweroff tar dmesg; do
	"$BUSYBOX" --list | grep -qx "$a" ||
		skip "$BUSYBOX has no '$a' applet (install busybox-static)"
done

[ -r "$MANIFEST" ] || fail "no manifest $MANIFEST (configure with cmake first)"

# ---------------------------------------------------------------- manifest
# NAME BINARY TARGETS PHASES TIMEOUT [FILES COMMAND...] per line (see
# tests/vm/CMakeLists.txt); PMLVM_ONLY filters by name.
mkdir -p "$OUT/work"
: >"$OUT/work/manifest"
BOOTS=0
while read -r name bin targets phases tmo files cmd; do
	case "$name" in ''|'#'*) continue ;; esac
	if [ -n "${PMLVM_ONLY:-}" ]; then
		case ",$PMLVM_ONLY," in *",$name,"*) ;; *) continue ;; esac
	fi
	[ -x "$bin" ] || fail "guest test $name: $bin not built (cmake --build first)"
	for f in $(echo "${files:--}" | tr ',' ' '); do
		[ "$f" = - ] || [ -e "$f" ] ||
			fail "guest test $name: $f not built (cmake --build first)"
	done
	echo "$name $bin $targets $phases $tmo ${files:--} $cmd" \
		>>"$OUT/work/manifest"
	[ "$phases" -gt "$BOOTS" ] && BOOTS=$phases
done <"$MANIFEST"
[ "$BOOTS" -gt 0 ] || fail "the manifest $MANIFEST names no test"

# --------------------------------------------------------------- initramfs
ROOT=$OUT/work/root
rm -rf "$ROOT"
mkdir -p "$ROOT/bin" "$ROOT/usr/bin" "$ROOT/etc" "$ROOT/pmlvm/tests" \
	 "$ROOT/proc" "$ROOT/sys" "$ROOT/dev" "$ROOT/tmp" \
	 "$ROOT/lib/modules/$KVER"
# Host tools are copied flat into /usr/bin; keep the sbin paths that the
# kernel (modprobe_path=/sbin/modprobe) and scripts expect.
ln -s bin "$ROOT/sbin"
ln -s bin "$ROOT/usr/sbin"

# copy_libs BINARY -- copy the shared libraries BINARY loads (and the dynamic
# loader) into the guest at the very paths ldd resolved them to.  Same paths
# means no ld.so.cache, no LD_LIBRARY_PATH: the build tree's RUNPATH
# (libpmemlease.so in the build directory) just works in the guest.
copy_libs() {
	ldd "$1" 2>/dev/null |
		sed -n 's/.*=> \(\/[^ ]*\) .*/\1/p; s/^[[:space:]]*\(\/[^ ]*\) .*/\1/p' |
	while read -r lib; do
		[ -e "$ROOT$lib" ] && continue
		mkdir -p "$ROOT$(dirname "$lib")"
		cp -L "$lib" "$ROOT$lib"
	done
}
# copy_exec BINARY DEST -- the binary and its libraries.
copy_exec() {
	mkdir -p "$ROOT$(dirname "$2")"
	cp -L "$1" "$ROOT$2"
	copy_libs "$1"
}

cp -L "$BUSYBOX" "$ROOT/bin/busybox"
copy_libs "$BUSYBOX"	# nothing when static, which it should be
for a in $("$BUSYBOX" --list); do
	[ -e "$ROOT/bin/$a" ] || ln -s busybox "$ROOT/bin/$a"
done
for t in ndctl daxctl mkfs.ext4 mkfs.xfs blkid; do
	copy_exec "$(command -v "$t")" "/usr/bin/$t"
done
[ "$MACHINE" = cxl ] && copy_exec "$(command -v cxl)" /usr/bin/cxl
# Optional tools, handy in the debug shell and for later tests (xfs_io for
# fallocate/statx/fiemap by hand, filefrag to see a DAX file's extents).
for t in xfs_io filefrag; do
	p=$(command -v "$t" 2>/dev/null) && copy_exec "$p" "/usr/bin/$t"
done
# mke2fs takes its defaults (the ext4 feature set) from here.
[ -r /etc/mke2fs.conf ] && cp /etc/mke2fs.conf "$ROOT/etc/"
echo "root:x:0:0:root:/:/bin/sh" >"$ROOT/etc/passwd"
echo "root:x:0:" >"$ROOT/etc/group"

# The guest tests and the manifest as the guest sees it: NAME BINARY
# TARGETS PHASES TIMEOUT [COMMAND...], BINARY in /pmlvm/tests.  The FILES
# a command needs go in at their host paths.
: >"$ROOT/pmlvm/manifest"
while read -r name bin targets phases tmo files cmd; do
	gbin=/pmlvm/tests/${bin##*/}
	if [ -e "$ROOT$gbin" ]; then
		cmp -s "$bin" "$ROOT$gbin" ||
			fail "two different guest binaries are named ${bin##*/}"
	else
		copy_exec "$bin" "$gbin"
	fi
	for f in $(echo "$files" | tr ',' ' '); do
		[ "$f" = - ] || [ -e "$ROOT$f" ] || copy_exec "$f" "$f"
	done
	echo "$name $gbin $targets $phases $tmo $cmd" >>"$ROOT/pmlvm/manifest"
done <"$OUT/work/manifest"
cp "$SELF_DIR/guest-init.sh" "$ROOT/init"
chmod 0755 "$ROOT/init"

# Kernel modules: the ones init loads plus their dependencies, read from
# each module's own "depends" field (a kernel unpacked by install-deps.sh has
# no modules.dep).  Decompressed, because busybox modprobe does not read
# .ko.xz, then indexed with depmod.  Not `modprobe --show-depends`: ndctl's
# modprobe.d "install libnvdimm" rule hides libnvdimm from it.
find "$MODDIR/kernel" -name '*.ko*' >"$OUT/work/allmods"
mod_path() {
	# module names treat - and _ alike
	n=$(echo "$1" | tr '-' '_')
	awk -v n="$n" '{ b = $0; sub(/.*\//, "", b); sub(/\.ko.*/, "", b);
		gsub(/-/, "_", b); if (b == n) { print; exit } }' "$OUT/work/allmods"
}
add_module() {
	p=$(mod_path "$1")
	[ -n "$p" ] || fail "kernel module $1 not found in $MODDIR"
	rel=${p#"$MODDIR"/}
	rel=${rel%.xz}
	rel=${rel%.zst}
	rel=${rel%.gz}
	[ -e "$ROOT/lib/modules/$KVER/$rel" ] && return 0
	mkdir -p "$ROOT/lib/modules/$KVER/$(dirname "$rel")"
	case "$p" in
	*.xz)	xz -dc "$p" >"$ROOT/lib/modules/$KVER/$rel" ;;
	*.zst)	zstd -dcq "$p" >"$ROOT/lib/modules/$KVER/$rel" ;;
	*.gz)	gzip -dc "$p" >"$ROOT/lib/modules/$KVER/$rel" ;;
	*)	cp "$p" "$ROOT/lib/modules/$KVER/$rel" ;;
	esac
	for d in $(modinfo -F depends "$p" | tr ',' ' '); do
		add_module "$d"
	done
}
for m in virtio_blk libnvdimm nd_btt nd_pmem dax_pmem device_dax \
	 crc32c_generic ext4 xfs nfit; do
	add_module "$m"
done
if [ "$MACHINE" = cxl ]; then
	for m in cxl_acpi cxl_pci cxl_mem cxl_pmem dax_cxl; do
		add_module "$m"
	done
fi
for f in modules.builtin modules.builtin.modinfo modules.order; do
	[ -e "$MODDIR/$f" ] && cp "$MODDIR/$f" "$ROOT/lib/modules/$KVER/"
done
depmod -b "$ROOT" "$KVER" || fail "depmod -b $ROOT $KVER failed"

# Uncompressed: QEMU hands it over through fw_cfg DMA in no time, while
# gunzip under TCG costs seconds every boot.
(cd "$ROOT" && find . | cpio -o -H newc --quiet) >"$OUT/initramfs.cpio" ||
	fail "cpio of the initramfs failed"
rm -rf "$ROOT"	# the archive holds it all; `cpio -t <initramfs.cpio` lists it
say "initramfs $(du -h "$OUT/initramfs.cpio" | cut -f1) built" \
    "($(elapsed)); kernel $VMLINUZ"

# ------------------------------------------------------------------ images
# Sparse files: 3 x 512 MiB costs only what the guest writes.  Fresh ones
# every run, unless PMLVM_REUSE=1: boot 1 then finds the old namespaces.
# fresh_image NAME SIZE
fresh_image() {
	if [ "${PMLVM_REUSE:-0}" != 1 ] || [ ! -e "$OUT/$1.img" ]; then
		rm -f "$OUT/$1.img"
		truncate -s "$2" "$OUT/$1.img"
	fi
}
if [ "$MACHINE" = cxl ]; then
	fresh_image cxl-pmem "$CXL_SIZE"
	fresh_image cxl-lsa 1M
else
	for t in devdax ext4 xfs; do
		fresh_image "nvdimm-$t" "$NVDIMM_SIZE"
	done
fi
rm -f "$OUT/scratch.img" "$OUT/results.img"
truncate -s 64M "$OUT/scratch.img"
truncate -s 64M "$OUT/results.img"

# ------------------------------------------------------------------- boots
RUNID=$(od -An -N8 -tx8 /dev/urandom | tr -d ' \n')
BOOT=1
while [ "$BOOT" -le "$BOOTS" ]; do
	console=$OUT/console-boot$BOOT.log
	append="console=ttyS0 panic=-1 mitigations=off"
	append="$append pmlvm.boot=$BOOT pmlvm.runid=$RUNID pmlvm.machine=$MACHINE"
	[ -n "${PMLVM_SHELL:-}" ] && append="$append pmlvm.shell=$PMLVM_SHELL"

	# -cpu max: TCG offers CLFLUSHOPT and CLWB, so libpmem2 flushes as on
	#   real pmem hardware rather than falling back to CLFLUSH.
	# -accel tcg: KVM cannot run here (nested); thread=single: see
	#   TCG_THREAD above.
	# -no-reboot + panic=-1: a panic ends QEMU at once instead of at the
	#   timeout.
	set -- -accel "tcg,thread=$TCG_THREAD" -smp 2 -nodefaults -no-reboot \
		-display none -kernel "$VMLINUZ" -initrd "$OUT/initramfs.cpio"
	diskbus=
	if [ "$MACHINE" = cxl ]; then
		# the disks on the root bus: only bridges plug into pxb-cxl
		diskbus=,bus=pcie.0
		# q35 with a CXL host bridge (pxb-cxl), a root port and a
		#   type-3 device whose persistent memory and label storage
		#   area are files here (share=on: guest stores land in them);
		#   a 4 GiB fixed memory window for the region.
		# -hypervisor: without it the region commit fails ("Failed to
		#   synchronize CPU cache state"); pci=nomsi: without it
		#   cxl_pci finds no interrupt for the event log and no memdev
		#   appears (cxl-in-qemu.md).
		set -- "$@" -cpu max,-hypervisor -machine q35,cxl=on \
			-m 2G,slots=4,maxmem=8G \
			-append "$append pci=nomsi" \
			-device pxb-cxl,bus_nr=12,bus=pcie.0,id=cxl.1 \
			-device cxl-rp,port=0,bus=cxl.1,id=rp0,chassis=0,slot=2 \
			-object "memory-backend-file,id=cxlmem0,share=on,mem-path=$OUT/cxl-pmem.img,size=$CXL_SIZE" \
			-object "memory-backend-file,id=cxllsa0,share=on,mem-path=$OUT/cxl-lsa.img,size=1M" \
			-device cxl-type3,bus=rp0,memdev=cxlmem0,lsa=cxllsa0,id=cxl-pmem0 \
			-M cxl-fmw.0.targets.0=cxl.1,cxl-fmw.0.size=4G
	else
		# -machine pc,nvdimm=on: the NFIT table; the memory backends
		#   are the NVDIMMs' media: share=on so guest stores land in the
		#   host files.  align=2M: the namespaces are 2 MiB-aligned for
		#   devdax PMD faults.
		set -- "$@" -cpu max -machine pc,nvdimm=on \
			-m 1G,slots=4,maxmem=4G -append "$append"
		i=0
		for t in devdax ext4 xfs; do
			mem="memory-backend-file,id=mem$i,share=on"
			mem="$mem,mem-path=$OUT/nvdimm-$t.img"
			mem="$mem,size=$NVDIMM_SIZE,align=2M"
			set -- "$@" -object "$mem" -device "nvdimm,memdev=mem$i,id=nv$i"
			i=$((i + 1))
		done
	fi
	set -- "$@" \
		-drive "file=$OUT/scratch.img,if=none,id=scratch,format=raw" \
		-device "virtio-blk-pci,drive=scratch,serial=pmlscratch$diskbus" \
		-drive "file=$OUT/results.img,if=none,id=results,format=raw" \
		-device "virtio-blk-pci,drive=results,serial=pmlresults$diskbus"

	attempt=1
	while :; do
		say "boot $BOOT/$BOOTS (timeout ${BOOT_TIMEOUT}s);" \
		    "console: $console"
		bstart=$(date +%s)
		rc=0
		if [ -n "${PMLVM_SHELL:-}" ]; then
			# Interactive: the console and the QEMU monitor on
			# this terminal, multiplexed (Ctrl-A c switches,
			# Ctrl-A x quits).
			"$QEMU" "$@" \
				-chardev "stdio,id=con,mux=on,signal=off,logfile=$console" \
				-serial chardev:con -mon chardev=con,mode=readline ||
				rc=$?
			break
		fi
		# Batch: the console goes to stdout (ctest -V shows it live)
		# and to the log file; stdin is /dev/null so QEMU never waits
		# on a terminal.  timeout kills a hung guest; -k makes sure.
		timeout -k 10 "$BOOT_TIMEOUT" "$QEMU" "$@" \
			-chardev "stdio,id=con,signal=off,logfile=$console" \
			-serial chardev:con -monitor none </dev/null || rc=$?
		# A guest that died before /init started ran nothing of ours
		# and touched neither the NVDIMMs nor the results disk: that
		# is the emulator or the packaged kernel, not the library.
		# Try such a boot once more, keeping the first console log.
		if [ $rc -eq 0 ] && [ $attempt -eq 1 ] &&
		   ! grep -qs "PMLVM: .* boot $BOOT of run" "$console"; then
			# (QEMU may have died before it made the log)
			touch "$console"
			mv "$console" "$OUT/console-boot$BOOT.attempt1.log"
			say "boot $BOOT died before /init started; trying it" \
			    "again (first console: $OUT/console-boot$BOOT.attempt1.log)"
			attempt=2
			continue
		fi
		break
	done
	bsecs=$(($(date +%s) - bstart))

	# Whatever the guest managed to store, even from a boot that hung.
	rm -rf "$OUT/results"
	mkdir -p "$OUT/results"
	tar -xf "$OUT/results.img" -C "$OUT/results" 2>/dev/null || true

	if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
		fail "boot $BOOT hung: killed after ${BOOT_TIMEOUT}s" \
		     "(PMLVM_BOOT_TIMEOUT); console log: $console"
	fi
	[ $rc -eq 0 ] ||
		fail "QEMU exited with status $rc on boot $BOOT;" \
		     "console log: $console"
	done_file=$OUT/results/boot$BOOT.done
	if [ ! -e "$done_file" ]; then
		# a set-up failure before the results disk was found
		# is only on the console
		fatal=$(grep -o "PMLVM: .*FATAL: .*" "$console" | head -n 1)
		[ -n "$fatal" ] && fail "boot $BOOT: $fatal; console log: $console"
		fail "boot $BOOT ended before the guest finished (kernel" \
		     "panic? PID 1 died?); console log: $console"
	fi
	if [ "$(cat "$done_file")" != ok ]; then
		fail "boot $BOOT: $(cat "$done_file"); console log: $console"
	fi
	say "boot $BOOT done in ${bsecs}s"
	BOOT=$((BOOT + 1))
done

# ------------------------------------------------------------------ report
say "results ($(elapsed) in all), logs under $OUT/results:"
while read -r name bin targets phases tmo rest; do
	for t in $(echo "$targets" | tr ',' ' '); do
		p=1
		while [ $p -le "$phases" ]; do
			r=$(cat "$OUT/results/$name/$t/phase$p.result" 2>/dev/null ||
				echo "MISSING")
			echo "PMLVM-RESULT $name $t phase$p $r"
			p=$((p + 1))
		done
	done
done <"$OUT/work/manifest"
echo OK >"$OUT/status"
exit 0

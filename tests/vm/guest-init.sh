#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
#
# guest-init.sh -- /init (PID 1) of the real-DAX test guest.
#
# Runs under busybox sh inside the initramfs that run-vm.sh builds.  It:
#   1. mounts proc/sys/dev, loads the NVDIMM, DAX, CXL, ext4, xfs, virtio
#      modules;
#   2. makes (boot 1) or finds (every boot) the pmem targets.  On the
#      nvdimm machine, three:
#        region0: devdax namespace       /dev/daxN.M                (devdax)
#        region1: fsdax namespace, ext4  /pmlvm/ext4, -o dax=always (ext4)
#        region2: fsdax namespace, xfs   /pmlvm/xfs,  -o dax=always (xfs)
#      On the cxl machine, one: a CXL region on the type-3 device, and a
#      devdax namespace on it (devdax; see pmlvm_cxl_namespace).
#      Everything the guest owns lives under /pmlvm, so that no mount hides
#      a host path the copied binaries need (a build tree in /tmp, say).
#   3. runs every guest test of /pmlvm/manifest against each target it
#      declares, for the phase that equals this boot's number;
#   4. stores each result and log on the "results" virtio disk (a plain tar
#      archive written over the raw disk after every test, so a later hang
#      loses nothing already done) and echoes PMLVM-RESULT lines on the
#      console;
#   5. powers off WITHOUT unmounting or syncing the DAX filesystems: the next
#      boot sees them as after a power cut, and what a test persisted must
#      have survived by its own means.
#
# Kernel command line parameters (set by run-vm.sh):
#   pmlvm.boot=N     boot number, 1-based; tests run their phase N
#   pmlvm.runid=HEX  random per run, same for every boot of the run; tests
#                    derive their data patterns from it so a stale image can
#                    never pass a phase-2 check
#   pmlvm.machine=nvdimm|cxl
#                    which persistent memory the guest has (run-vm.sh)
#   pmlvm.shell=before|after|fail
#                    drop to an interactive shell on the console before the
#                    tests, after them, or only if the set-up fails
#
# On boot 1 a missing namespace or filesystem is created; on boot N > 1 it
# must already exist (the persistence tests need the same media), and its
# absence is a harness failure, never a silent re-format.

PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH
umask 022

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
# Nothing else is mounted over the root: it is already a writable tmpfs,
# and the host's library paths (a build tree under /tmp, say) live in it.
mkdir -p /dev/pts /tmp /run /pmlvm/ext4 /pmlvm/xfs /pmlvm/results
mount -t devpts devpts /dev/pts

BOOT=1
RUNID=0
SHELL_AT=
MACHINE=nvdimm
for arg in $(cat /proc/cmdline); do
	case "$arg" in
	pmlvm.boot=*)	BOOT=${arg#pmlvm.boot=} ;;
	pmlvm.runid=*)	RUNID=${arg#pmlvm.runid=} ;;
	pmlvm.shell=*)	SHELL_AT=${arg#pmlvm.shell=} ;;
	pmlvm.machine=*) MACHINE=${arg#pmlvm.machine=} ;;
	esac
done

log() {
	echo "PMLVM: [$(cut -d' ' -f1 /proc/uptime)s] $*"
}

# An interactive shell on the serial console.  cttyhack gives it the console
# as controlling tty so Ctrl-C and job control work.
debug_shell() {
	log "debug shell ($1): 'pmlvm_test NAME TARGET [PHASE]' runs a test" \
	    "(/pmlvm/manifest lists them); exit the shell to go on"
	# a login shell reads /etc/profile: the tests' environment
	echo '[ -r /pmlvm/env.sh ] && . /pmlvm/env.sh' >/etc/profile
	setsid cttyhack sh -l
}

# The results disk: a raw virtio disk whose serial run-vm.sh set to
# "pmlresults".  Find it by serial, not by name: vda/vdb order is the PCI
# probe order, which nothing promises.
find_disk() {
	for d in /sys/block/vd*; do
		[ -e "$d/serial" ] || continue
		if [ "$(cat "$d/serial")" = "$1" ]; then
			echo "/dev/${d##*/}"
			return 0
		fi
	done
	return 1
}

# Write /pmlvm/results over the raw results disk.  It is a tar archive, so
# the host reads it with plain `tar -x`; the end-of-archive blocks make
# whatever older, longer archive lies behind it invisible.  fsync of that
# disk alone (busybox `sync FILE`), never a global sync: the DAX filesystems
# must not be flushed behind the tests' backs.
save_results() {
	[ -n "$RESULTS_DEV" ] || return 0
	tar -cf "$RESULTS_DEV" -C /pmlvm/results . && sync "$RESULTS_DEV"
}

finish() {
	log "boot $BOOT: $1"
	echo "$1" >"/pmlvm/results/boot$BOOT.done"
	save_results
	if [ "$SHELL_AT" = after ] ||
	   { [ "$SHELL_AT" = fail ] && [ "$1" != ok ]; }; then
		debug_shell "after the tests"
	fi
	log "powering off"
	poweroff -f
	sleep 10
}

# A set-up failure: record it where the host looks and stop.
die() {
	log "FATAL: $*"
	echo "FATAL: $*" >>"/pmlvm/results/boot$BOOT.setup.log"
	dmesg | tail -n 40
	finish "setup-failed: $*"
}

log "boot $BOOT of run $RUNID: $(uname -r), $(nproc) cpus"
# what libpmem2 will flush with (and copy with) in this guest
log "cpu flags: $(grep -o -w -E 'clflush|clflushopt|clwb|avx|avx512f' \
	/proc/cpuinfo | sort -u | tr '\n' ' ')"
# No udev/mdev in the guest: devtmpfs makes the device nodes, and modules
# are loaded by name below, not on uevents.

# ---------------------------------------------------------------- modules
# Order: the disk driver first (to find the results disk early), then the
# nvdimm drivers, nfit last so the regions it registers meet their drivers
# already loaded.  crc32c_generic: ext4 and xfs need the crc32c crypto
# algorithm, and the module only shows up as a soft dependency.
for m in virtio_blk libnvdimm nd_btt nd_pmem dax_pmem device_dax \
	 crc32c_generic ext4 xfs nfit; do
	modprobe "$m" || die "modprobe $m failed"
done
if [ "$MACHINE" = cxl ]; then
	for m in cxl_acpi cxl_pci cxl_mem cxl_pmem dax_cxl; do
		modprobe "$m" || die "modprobe $m failed"
	done
fi
log "modules loaded"

RESULTS_DEV=$(find_disk pmlresults) || RESULTS_DEV=
SCRATCH_DEV=$(find_disk pmlscratch) || SCRATCH_DEV=
[ -n "$RESULTS_DEV" ] || die "no results disk (virtio serial pmlresults)"
# On boot N > 1 carry on the archive of the earlier boots.
if [ "$BOOT" -gt 1 ]; then
	tar -xf "$RESULTS_DEV" -C /pmlvm/results ||
		die "cannot read the results of the earlier boots from $RESULTS_DEV"
fi

# appears PATH -- PATH exists, or comes within 10 s (devices probe
# asynchronously, slowly under TCG)
appears() {
	n=0
	while [ ! -e "$1" ] && [ $n -lt 100 ]; do
		sleep 0.1
		n=$((n + 1))
	done
	[ -e "$1" ]
}

# ---------------------------------------------------------------- cxl
# The CXL machine's namespace is made by a function the removal tests call
# again to bring the device back: /pmlvm/cxl.sh, sourced by /pmlvm/env.sh.
cat >/pmlvm/cxl.sh <<'EOF'
# pmlvm_cxl_namespace -- make the CXL machine's devdax namespace, and print
# its dax device.  The CXL region is assembled when there is none (every
# boot: Linux 6.12 assembles none from the labels) and enabled when it was
# disabled.  The nd region the kernel makes on it refuses to enable with
# the namespace labels of an earlier region (the label storage area
# survives the reboot; cxl-in-qemu.md), so the labels are zeroed and
# initialised, and a namespace of the same mode, size and alignment is
# made again -- at the same place on the device, so its data is what the
# last boot, or the last disable, left there (the persist test checks it).
pmlvm_cxl_namespace() {
	if [ ! -e /sys/bus/cxl/devices/region0 ]; then
		cxl create-region -m -d decoder0.0 -w 1 -t pmem mem0 \
			>/tmp/cxl.out 2>&1 || { cat /tmp/cxl.out; return 1; }
	elif [ ! -e /sys/bus/cxl/devices/region0/driver ]; then
		cxl enable-region region0 >/tmp/cxl.out 2>&1 ||
			{ cat /tmp/cxl.out; return 1; }
	fi
	res=$(cat /sys/bus/cxl/devices/region0/resource)
	ndr=
	for r in /sys/bus/nd/devices/region*; do
		[ "$(cat "$r/resource" 2>/dev/null)" = "$res" ] && ndr=${r##*/}
	done
	[ -n "$ndr" ] || { echo "no nd region at $res for region0"; return 1; }
	{ ndctl disable-region "$ndr" && ndctl zero-labels all &&
	  ndctl init-labels all && ndctl enable-region "$ndr" &&
	  ndctl create-namespace -r "$ndr" -m devdax -a 2M; } \
		>/tmp/ndctl.out 2>&1 || { cat /tmp/ndctl.out; return 1; }
	dev=$(sed -n 's/.*"chardev":"\([^"]*\)".*/\1/p' /tmp/ndctl.out | head -n 1)
	[ -n "$dev" ] && [ -c "/dev/$dev" ] ||
		{ cat /tmp/ndctl.out; echo "no dax device"; return 1; }
	echo "/dev/$dev"
}
EOF
. /pmlvm/cxl.sh

setup_cxl() {
	appears /sys/bus/cxl/devices/mem0 ||
		die "no CXL memdev mem0 (is the guest started with a cxl-type3 device?)"
	DAXDEV=$(pmlvm_cxl_namespace) ||
		die "the CXL region and its devdax namespace: $DAXDEV"
	PMEM_EXT4=
	PMEM_XFS=
	log "CXL region0 on mem0, devdax $DAXDEV"
}

setup_nvdimm() {
	# ------------------------------------------------------------- namespaces
	# Regions appear when nfit has parsed the NFIT; give them a moment under TCG.
	appears /sys/bus/nd/devices/region2 ||
		die "fewer than 3 nvdimm regions (is the guest started with 3 NVDIMMs?)"

	# ns_field NAMESPACE FIELD -- one field of `ndctl list -n NAMESPACE`.
	# ndctl prints one JSON object per namespace, fields "name":value.
	ns_field() {
		ndctl list -n "$1" 2>/dev/null |
			sed -n "s/.*\"$2\":\"*\([^\",}]*\)\"*.*/\1/p" | head -n 1
	}

	# ensure_ns NAMESPACE MODE -- leave NAMESPACE in MODE (devdax or fsdax).
	# The namespaces are label-less ("legacy"): the region cannot be split, so the
	# whole namespace is reconfigured in place (-f -e).  -a 2M: the default 16 MiB
	# alignment does not fit; 2 MiB gives PMD mappings on devdax.
	ensure_ns() {
		mode=$(ns_field "$1" mode)
		if [ "$mode" = "$2" ]; then
			log "$1 is $2 already (kept)"
			return 0
		fi
		if [ "$BOOT" -gt 1 ]; then
			die "$1 is '$mode', not $2, on boot $BOOT: the namespace did not persist"
		fi
		log "$1 is '$mode': making it $2"
		ndctl create-namespace -f -e "$1" -m "$2" -a 2M >/tmp/ndctl.out 2>&1 ||
			{ cat /tmp/ndctl.out; die "ndctl create-namespace -e $1 -m $2 failed"; }
	}

	ensure_ns namespace0.0 devdax
	ensure_ns namespace1.0 fsdax
	ensure_ns namespace2.0 fsdax

	DAXDEV=/dev/$(ns_field namespace0.0 chardev)
	PMEM_EXT4=/dev/$(ns_field namespace1.0 blockdev)
	PMEM_XFS=/dev/$(ns_field namespace2.0 blockdev)
	[ -c "$DAXDEV" ] || die "devdax character device '$DAXDEV' missing"
	[ -b "$PMEM_EXT4" ] || die "fsdax block device '$PMEM_EXT4' missing"
	[ -b "$PMEM_XFS" ] || die "fsdax block device '$PMEM_XFS' missing"
	log "namespaces: devdax $DAXDEV, ext4 on $PMEM_EXT4, xfs on $PMEM_XFS"

	# ------------------------------------------------------------ filesystems
	# ensure_fs DEV TYPE MOUNTPOINT -- mount a DAX filesystem, making it first
	# when the device holds none (boot 1 only).
	#   ext4 -b 4096: mke2fs picks 1 KiB blocks for a device under 512 MiB,
	#        and DAX needs the block size to equal the page size.
	#   xfs -m reflink=0: reflink and DAX do not go together.
	ensure_fs() {
		have=$(blkid -o value -s TYPE "$1" 2>/dev/null)
		if [ "$have" = "$2" ]; then
			log "$1 holds $2 already (kept)"
		elif [ "$BOOT" -gt 1 ]; then
			die "$1 holds '$have', not $2, on boot $BOOT: the filesystem did not persist"
		else
			log "making $2 on $1"
			case "$2" in
			ext4)	mkfs.ext4 -q -F -b 4096 -E nodiscard "$1" ;;
			xfs)	mkfs.xfs -q -f -m reflink=0 -K "$1" ;;
			esac >/tmp/mkfs.out 2>&1 ||
				{ cat /tmp/mkfs.out; die "mkfs $2 on $1 failed"; }
		fi
		mount -t "$2" -o dax=always "$1" "$3" ||
			die "mount -t $2 -o dax=always $1 $3 failed"
		# dax=always must show in /proc/mounts.  6.12 refuses the mount when
		# DAX cannot be used (ext4 with 1 KiB blocks: "unsupported blocksize
		# for DAX"); this catches a kernel that mounts without it instead.
		grep -q " $3 $2 .*dax" /proc/mounts ||
			die "$3 is mounted without dax: $(grep " $3 " /proc/mounts)"
	}

	ensure_fs "$PMEM_EXT4" ext4 /pmlvm/ext4
	ensure_fs "$PMEM_XFS" xfs /pmlvm/xfs
	log "filesystems mounted with dax=always"
}

if [ "$MACHINE" = cxl ]; then
	setup_cxl
else
	setup_nvdimm
fi
echo ok >"/pmlvm/results/boot$BOOT.setup"
save_results

# The environment of the tests, in /pmlvm/env.sh so that the debug shell
# gets it too:  . /pmlvm/env.sh; pmlvm_test persist xfs 1
cat >/pmlvm/env.sh <<EOF
export PMLVM_BOOT=$BOOT PMLVM_RUN_ID=$RUNID
export PMLVM_DEVDAX=$DAXDEV
export PMLVM_PMEM_EXT4=$PMEM_EXT4 PMLVM_PMEM_XFS=$PMEM_XFS
export PMLVM_BLOCKDEV=$SCRATCH_DEV
export PMLVM_MACHINE=$MACHINE
EOF
cat >>/pmlvm/env.sh <<'EOF'
# the CXL machine's namespace maker (pmlvm_cxl_namespace)
. /pmlvm/cxl.sh

# set_target TEST TARGET INDEX -- export the per-test variables:
#   PMLVM_TEST     the test's name (as in pml_add_vm_test)
#   PMLVM_TARGET   devdax | ext4 | xfs
#   PMLVM_DIR      a directory the test owns: on the DAX filesystem for ext4
#                  and xfs (kept across boots), in the guest's RAM
#                  (/pmlvm/scratch) for devdax
#   PMLVM_MOUNT    the DAX mount point (fsdax targets)
#   PMLVM_PMEMDEV  the pmem block device under the filesystem (fsdax)
#   PMLVM_OUTDIR   (set by run_one) files left here come back to the host
#                  in results/NAME/TARGET/files/
#   PMLVM_SLOT_OFFSET, PMLVM_SLOT_SIZE
#                  the test's own 16 MiB of the shared devdax device (INDEX
#                  is the test's line in the manifest); a test writes nowhere
#                  else on it, so tests cannot clobber what another persisted
#                  for its next phase
set_target() {
	export PMLVM_TEST=$1 PMLVM_TARGET=$2
	export PMLVM_SLOT_SIZE=$((16 << 20))
	export PMLVM_SLOT_OFFSET=$(($3 * PMLVM_SLOT_SIZE))
	case "$2" in
	devdax)	export PMLVM_DIR=/pmlvm/scratch/$1 PMLVM_MOUNT= PMLVM_PMEMDEV= ;;
	ext4)	export PMLVM_DIR=/pmlvm/ext4/$1 PMLVM_MOUNT=/pmlvm/ext4 \
			PMLVM_PMEMDEV=$PMLVM_PMEM_EXT4 ;;
	xfs)	export PMLVM_DIR=/pmlvm/xfs/$1 PMLVM_MOUNT=/pmlvm/xfs \
			PMLVM_PMEMDEV=$PMLVM_PMEM_XFS ;;
	*)	return 1 ;;
	esac
	mkdir -p "$PMLVM_DIR"
}

# test_command TARGET PHASE [COMMAND] -- the command line of a test, to
# eval in its environment with PMLVM_BIN set to its binary: its own COMMAND
# from the manifest (a program added with pml_add_vm_program), else the
# pmlvm test's own
test_command() {
	if [ -n "${3:-}" ]; then
		echo "$3"
	else
		echo "\"\$PMLVM_BIN\" --target=$1 --phase=$2"
	fi
}

# pmlvm_test NAME TARGET [PHASE] -- run a guest test by hand (debug shell):
# in the foreground, no timeout, output on the console.
pmlvm_test() {
	_i=0
	while read -r _n _b _t _p _o _c; do
		# (a name may have one line per target: uring_dma)
		if [ "$_n" = "$1" ] && case ",$_t," in *",$2,"*) ;; *) false ;; esac
		then
			set_target "$1" "$2" "$_i" ||
				{ echo "bad target $2"; return 2; }
			(cd "$PMLVM_DIR" &&
				export PMLVM_BIN="$_b" PMLVM_PHASE="${3:-1}" &&
				eval "$(test_command "$2" "${3:-1}" "$_c")")
			echo "exit status $?"
			return
		fi
		_i=$((_i + 1))
	done </pmlvm/manifest
	echo "no test $1 on $2 in /pmlvm/manifest"
	return 2
}
EOF
. /pmlvm/env.sh

[ "$SHELL_AT" = before ] && debug_shell "before the tests"

# ------------------------------------------------------------------ tests
# Kernel messages that mean the kernel itself went wrong during a test.
SPLAT='BUG:|WARNING:|Oops|general protection fault|Call Trace:|kernel BUG'

# run_one NAME BIN TARGET PHASE TIMEOUT INDEX COMMAND -- run one test,
# record it (COMMAND: the manifest's, or empty).
run_one() {
	name=$1 bin=$2 target=$3 phase=$4 tmo=$5 idx=$6 tcmd=$7
	rdir=/pmlvm/results/$name/$target
	mkdir -p "$rdir"
	rlog=$rdir/phase$phase.log
	rres=$rdir/phase$phase.result

	# A later phase runs only on what the earlier one left: if it did
	# not pass, there is nothing meaningful to verify.
	if [ "$phase" -gt 1 ]; then
		prev=$(cat "$rdir/phase$((phase - 1)).result" 2>/dev/null)
		case "$prev" in
		PASS*)	;;
		*)	echo "NOTRUN phase $((phase - 1)) was: ${prev:-missing}" >"$rres"
			echo "PMLVM-RESULT $name $target $phase NOTRUN"
			save_results
			return ;;
		esac
	fi

	if ! set_target "$name" "$target" "$idx"; then
		echo "FAIL unknown target '$target'" >"$rres"
		echo "PMLVM-RESULT $name $target $phase FAIL"
		save_results
		return
	fi
	# files a test leaves here come back with its log (a benchmark's data)
	export PMLVM_OUTDIR=$rdir/files
	log "run $name --target=$target --phase=$phase"
	dmesg -c >/dev/null
	start=$(cut -d. -f1 /proc/uptime)
	# busybox timeout execs the test in its own process and kills it from
	# a child; the shell then sees 128+9.  The result names the timeout
	# when the time ran out, so a crash is not mistaken for a hang.
	runcmd=$(test_command "$target" "$phase" "$tcmd")
	echo "+ $runcmd" >"$rlog"
	(cd "$PMLVM_DIR" && export PMLVM_BIN="$bin" PMLVM_PHASE="$phase" &&
		eval "exec timeout -s KILL $tmo $runcmd") >>"$rlog" 2>&1 </dev/null
	rc=$?
	secs=$(($(cut -d. -f1 /proc/uptime) - start))
	kmsg=$(dmesg -c)
	if [ -n "$kmsg" ]; then
		printf '\n---- kernel messages during the test ----\n%s\n' \
			"$kmsg" >>"$rlog"
	fi

	case $rc in
	0)	res=PASS ;;
	77)	res=SKIP ;;
	137)	if [ "$secs" -ge "$tmo" ]; then
			res="FAIL timeout after ${tmo}s"
		else
			res="FAIL killed by signal 9"
		fi ;;
	*)	# 128+N: signal N (1-64); above, an exit status (exit(-1))
		if [ $rc -gt 128 ] && [ $rc -le 192 ]; then
			res="FAIL killed by signal $((rc - 128))"
		else
			res="FAIL exit status $rc"
		fi ;;
	esac
	if [ "${res%% *}" != FAIL ] && echo "$kmsg" | grep -Eq "$SPLAT"; then
		res="FAIL the kernel logged a warning or oops (see its messages)"
	fi
	echo "$res (${secs}s)" >"$rres"
	echo "PMLVM-RESULT $name $target $phase ${res%% *}"
	[ "${res%% *}" = FAIL ] && tail -n 30 "$rlog" | sed 's/^/    | /'
	save_results
}

# The manifest (written by CMake, copied in by run-vm.sh), one test a line:
#   NAME BINARY TARGETS(comma-separated) PHASES TIMEOUT_SECONDS [COMMAND...]
idx=0
while read -r name bin targets phases tmo cmd; do
	case "$name" in ''|'#'*) continue ;; esac
	if [ "$BOOT" -le "$phases" ]; then
		for t in $(echo "$targets" | tr ',' ' '); do
			run_one "$name" "$bin" "$t" "$BOOT" "$tmo" "$idx" "$cmd"
		done
	fi
	idx=$((idx + 1))
done </pmlvm/manifest

finish ok

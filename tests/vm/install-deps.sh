#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
#
# install-deps.sh -- install what the real-DAX VM tier (tests/vm) needs.
#
# Everything comes from Debian's own packages:
#   qemu-system-x86   the emulator that gives the guest real NVDIMMs
#   busybox-static    /init and every shell tool inside the guest
#   ndctl, daxctl     namespace and CXL region set-up in the guest (ndctl
#                     brings the cxl tool), and their libraries, which
#                     libpmem2 links against
#   xfsprogs,
#   e2fsprogs         mkfs.xfs / mkfs.ext4 run inside the guest
#   kmod              depmod, to index the guest kernel's modules
#   xz-utils          the 6.12 kernel ships its modules as .ko.xz
#   cpio              packs the initramfs
#   libpmem2-dev, libdaxctl-dev, libndctl-dev, libcxl-dev, liburing-dev,
#   libcmocka-dev
#                     what the library and the guest tests build against
#
# The guest kernel is NOT installed into the host's /boot.  Installing a
# linux-image package runs initramfs-tools and pulls udev/systemd upgrades
# into the host just to get a file we only want to read.  Instead the .deb
# is fetched with `apt-get download` and unpacked (dpkg-deb -x) into
# $PMLVM_KERNEL_ROOT (default /opt/pmemlease-vm/kernel): vmlinuz in
# boot/, modules in lib/modules/<version>/.  The runner looks there first and
# falls back to an installed /boot/vmlinuz-*.
#
# Safe to run again: apt-get skips what is installed, and the kernel is only
# unpacked when its version directory is missing.
set -eu

export DEBIAN_FRONTEND=noninteractive
KROOT=${PMLVM_KERNEL_ROOT:-/opt/pmemlease-vm/kernel}

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps.sh: must run as root (apt-get install)" >&2
	exit 1
fi

# A fresh machine may have no package lists at all (CI runs `apt-get update`
# in .ci/run, but this script must also work alone).
if ! ls /var/lib/apt/lists/*_Packages >/dev/null 2>&1; then
	apt-get update
fi

# --no-install-recommends: qemu-system-x86 recommends a GUI stack, ovmf,
# and more we never use; the tier boots -nographic with SeaBIOS.
apt-get install -y --no-install-recommends \
	qemu-system-x86 busybox-static ndctl daxctl xfsprogs e2fsprogs \
	kmod xz-utils cpio \
	libpmem2-dev libdaxctl-dev libndctl-dev libcxl-dev liburing-dev \
	libcmocka-dev \
	pkg-config

# Pick the guest kernel: the 6.12 series (newer DAX code: memory-failure on
# dax pages, block-device removal in xfs) when the archive has it, else the
# default metapackage.  The metapackage only depends on the real image
# package (linux-image-<version>-amd64); resolve that name.
meta=
for m in linux-image-6.12-amd64 linux-image-amd64; do
	if apt-cache show "$m" >/dev/null 2>&1; then
		meta=$m
		break
	fi
done
if [ -z "$meta" ]; then
	echo "install-deps.sh: neither linux-image-6.12-amd64 nor" \
	     "linux-image-amd64 is in the apt lists" >&2
	exit 1
fi
image=$(apt-cache depends "$meta" |
	sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' |
	head -n 1)
if [ -z "$image" ]; then
	echo "install-deps.sh: cannot resolve the image package of $meta" >&2
	exit 1
fi
# linux-image-6.12.117+deb12-amd64 -> 6.12.117+deb12-amd64 (the uname -r)
kver=${image#linux-image-}

if [ -e "$KROOT/$kver/boot/vmlinuz-$kver" ] &&
   [ -d "$KROOT/$kver/lib/modules/$kver" ]; then
	echo "install-deps.sh: guest kernel $kver already in $KROOT/$kver"
else
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	# apt-get download writes into the current directory and, as root,
	# warns that the _apt sandbox user cannot write there: run it in a
	# directory _apt can write to.
	chmod 0777 "$tmp"
	(cd "$tmp" && apt-get download "$image")
	rm -rf "$KROOT/.part-$kver"
	mkdir -p "$KROOT/.part-$kver"
	dpkg-deb -x "$tmp"/"$image"_*.deb "$KROOT/.part-$kver"
	# Debian installs vmlinuz 0600; the runner may build as another user.
	chmod 0644 "$KROOT/.part-$kver/boot/vmlinuz-$kver"
	rm -rf "${KROOT:?}/$kver"
	mv "$KROOT/.part-$kver" "$KROOT/$kver"
	echo "install-deps.sh: guest kernel $kver unpacked into $KROOT/$kver"
fi

# An unpacked kernel takes ~115 MB: drop those the archive has moved past
# (only directories that are unpacked kernels: VERSION/boot/vmlinuz-VERSION).
for d in "$KROOT"/*; do
	[ "$d" != "$KROOT/$kver" ] && [ -e "$d/boot/vmlinuz-${d##*/}" ] ||
		continue
	echo "install-deps.sh: removing the older guest kernel $d"
	rm -rf "$d"
done

echo "install-deps.sh: done"

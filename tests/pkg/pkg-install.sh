#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# pkg-install.sh SOURCE-DIR WORK-DIR -- the Debian packages, built and used
# the way a user gets them, without this build tree:
#
#   1. a clean Debian root (debootstrap --variant=minbase, kept as a tarball
#      in WORK-DIR between runs) installs the source's build dependencies
#      with `apt-get build-dep ./`, and builds the packages there with
#      `dpkg-buildpackage -us -uc -b` -- so debian/control declares all it
#      needs;
#   2. lintian checks them: no error, no warning that debian/*lintian-
#      overrides does not explain;
#   3. a second clean root installs the core packages alone: jemalloc and
#      SQLite must not come with them; `pmemlease demo` runs from /usr/bin,
#      the manual pages are there, and tests/pkg/consumer/lease.c builds
#      with `pkg-config --cflags --libs pmemlease` and runs;
#   4. the add-on packages go in; heap.c, sqlite.c and intercept.c build
#      with their pkg-config files and run; the sqlite3 shell loads the VFS
#      from the runtime package; CMake's find_package(pmemlease COMPONENTS
#      heap sqlite intercept) builds all four programs, which run;
#   5. purging every package leaves none of their files behind.
#
# Needs root (chroot, mount), debootstrap and lintian (scripts/install-deps.sh
# installs them) and the Debian mirror: PML_DEBIAN_MIRROR (default
# http://deb.debian.org/debian), suite PML_DEBIAN_SUITE (default bookworm).
# Exit 77 (SKIPPED) only when not root or a tool is missing.
set -euo pipefail

src=$(cd "$1" && pwd)
work=$2
mirror=${PML_DEBIAN_MIRROR:-http://deb.debian.org/debian}
suite=${PML_DEBIAN_SUITE:-bookworm}

say() { printf 'pkg-install: %s\n' "$*"; }
skip() { say "SKIPPED: $*"; exit 77; }

[ "$(id -u)" -eq 0 ] || skip "needs root (debootstrap, chroot)"
for t in debootstrap lintian chroot; do
	command -v "$t" >/dev/null || skip "$t is not installed (scripts/install-deps.sh)"
done

mkdir -p "$work"
work=$(cd "$work" && pwd)
tarball=$work/$suite-minbase.tar
root=
cleanup() {
	if [ -n "$root" ]; then
		umount -l "$root/proc" 2>/dev/null || true
		rm -rf "$root"
	fi
}
trap cleanup EXIT

# new_root: a fresh copy of the clean root in $root, /proc mounted
new_root() {
	cleanup
	if [ ! -f "$tarball" ]; then
		say "debootstrap $suite from $mirror (once; kept in $tarball)"
		local boot=$work/debootstrap
		rm -rf "$boot"
		debootstrap --variant=minbase "$suite" "$boot" "$mirror" \
			>"$work/debootstrap.log" 2>&1 ||
			{ tail -n 20 "$work/debootstrap.log"; say "FAIL: debootstrap"; exit 1; }
		tar -C "$boot" -cf "$tarball.new" . && mv "$tarball.new" "$tarball"
		rm -rf "$boot"
	fi
	root=$(mktemp -d "$work/root.XXXXXX")
	tar -C "$root" -xf "$tarball"
	mount -t proc proc "$root/proc"
	cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
	in_root apt-get -q update >/dev/null
}
in_root() {
	chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
		LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"
}
# apt_install PACKAGE|DEB-GLOB...: a glob names the packages of the build
apt_install() {
	local a args=()
	for a in "$@"; do
		case "$a" in
		*.deb) args+=("$(cd "$root" && echo $a)") ;;
		*) args+=("$a") ;;
		esac
	done
	set -- "${args[@]}"
	in_root apt-get -q -y --no-install-recommends install "$@" >"$work/apt.log" 2>&1 ||
		{ tail -n 30 "$work/apt.log"; say "FAIL: apt-get install $*"; exit 1; }
}
fail() { say "FAIL: $*"; exit 1; }

# ------------------------------------------------------------ 1. build
new_root
say "copying the source into a clean root"
mkdir -p "$root/build/src"
if git -C "$src" rev-parse --git-dir >/dev/null 2>&1; then
	(cd "$src" && git ls-files -z --cached --others --exclude-standard |
		grep -zv '^build' | tar --null -cf - -T -) | tar -C "$root/build/src" -xf -
else
	tar -C "$src" --exclude='./build*' -cf - . | tar -C "$root/build/src" -xf -
fi
say "apt-get build-dep ./ (what debian/control declares, nothing else)"
in_root sh -c 'cd /build/src && apt-get -q -y --no-install-recommends build-dep ./' \
	>"$work/build-dep.log" 2>&1 ||
	{ tail -n 30 "$work/build-dep.log"; fail "apt-get build-dep"; }
say "dpkg-buildpackage -us -uc -b"
in_root sh -c 'cd /build/src && dpkg-buildpackage -us -uc -b' >"$work/build.log" 2>&1 ||
	{ tail -n 40 "$work/build.log"; fail "dpkg-buildpackage (log: $work/build.log)"; }
rm -rf "$work/debs"
mkdir -p "$work/debs"
cp "$root"/build/*.deb "$root"/build/*.changes "$root"/build/*.buildinfo "$work/debs/"
ls "$work/debs"

# ------------------------------------------------------------ 2. lintian
say "lintian"
rc=0
lintian --display-info --fail-on error,warning "$work"/debs/*.changes \
	>"$work/lintian.log" 2>&1 || rc=$?
grep -v 'running with root privileges' "$work/lintian.log" || true
[ "$rc" -eq 0 ] || fail "lintian reports an error or an unexplained warning"
say "lintian: no error, no warning"

# ------------------------------------------------------------ 3. the core
new_root
mkdir -p "$root/debs" "$root/consumer"
cp "$work"/debs/*.deb "$root/debs/"
cp "$src"/tests/pkg/consumer/* "$root/consumer/"
say "installing libpmemlease0, libpmemlease-dev and pmemlease"
apt_install ./debs/libpmemlease0_*.deb ./debs/libpmemlease-dev_*.deb \
	./debs/pmemlease_*.deb
for p in libjemalloc2 libsqlite3-0; do
	if in_root dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q installed; then
		fail "installing the core pulled in $p"
	fi
done
say "the core pulls in neither jemalloc nor SQLite"
in_root pmemlease --version
in_root sh -c 'cd /tmp && pmemlease demo' >"$work/demo.log" 2>&1 ||
	{ tail -n 20 "$work/demo.log"; fail "pmemlease demo from the package"; }
tail -n 1 "$work/demo.log"
for page in man1/pmemlease.1 man1/daxctl-lease.1 man7/libpmemlease.7 \
	    man3/pml_region_open.3 man3/pml_lease_acquire.3 man3/pml_region_punch.3; do
	[ -f "$root/usr/share/man/$page.gz" ] || fail "no manual page $page"
done
say "manual pages installed"

apt_install gcc libc6-dev pkg-config
in_root sh -c 'cd /consumer && cc -Wall -Wextra -Werror -o lease lease.c $(pkg-config --cflags --libs pmemlease)' ||
	fail "lease.c with pkg-config pmemlease"
in_root /consumer/lease /tmp/lease.dat || fail "lease (pkg-config build)"

# ------------------------------------------------------------ 4. add-ons
say "installing the add-on packages"
apt_install ./debs/libpmemlease-heap0_*.deb ./debs/libpmemlease-heap-dev_*.deb \
	./debs/libpmemlease-sqlite0_*.deb ./debs/libpmemlease-sqlite-dev_*.deb \
	./debs/libpmemlease-intercept0_*.deb ./debs/libpmemlease-intercept-dev_*.deb \
	sqlite3 cmake make
in_root sh -c 'cd /consumer &&
	cc -Wall -Wextra -Werror -o heap heap.c $(pkg-config --cflags --libs pmemlease-heap) &&
	cc -Wall -Wextra -Werror -o sqlite sqlite.c $(pkg-config --cflags --libs pmemlease-sqlite sqlite3) &&
	cc -Wall -Wextra -Werror -o intercept intercept.c $(pkg-config --cflags --libs pmemlease-intercept pmemlease)' ||
	fail "the add-on programs with pkg-config"
for t in heap sqlite intercept; do
	in_root "/consumer/$t" "/tmp/$t.dat" || fail "$t (pkg-config build)"
done
multiarch=$(in_root dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null ||
	    in_root gcc -print-multiarch)
out=$(in_root sqlite3 :memory: \
	".load /usr/lib/$multiarch/libpmemlease_sqlite.so.0" \
	".open file:/tmp/shell.db?vfs=pmemlease" \
	"CREATE TABLE t(x); INSERT INTO t VALUES (42);" \
	"SELECT x FROM t;" ".vfsname") || fail "the sqlite3 shell loading the VFS"
case "$out" in
*42*pmemlease*) say "the sqlite3 shell loads the VFS: $(echo $out)" ;;
*) fail "the sqlite3 shell said: $out" ;;
esac

say "CMake: find_package(pmemlease COMPONENTS heap sqlite intercept)"
in_root sh -c 'cmake -S /consumer -B /consumer/build >/dev/null &&
	cmake --build /consumer/build >/dev/null' || fail "the CMake consumer project"
for t in lease heap sqlite intercept; do
	in_root "/consumer/build/$t" "/tmp/cmake-$t.dat" || fail "$t (CMake build)"
done

# ------------------------------------------------------------ 5. purge
pkgs=$(cd "$work/debs" && ls ./*.deb | grep -v dbgsym | sed 's|^\./||; s/_.*//')
# shellcheck disable=SC2086
in_root apt-get -q -y purge $pkgs >"$work/purge.log" 2>&1 || fail "purge"
left=$(cd "$root" && ls -d usr/lib/*/libpmemlease* usr/include/pmemlease* \
	usr/bin/pmemlease usr/bin/daxctl-lease usr/lib/*/cmake/pmemlease \
	usr/share/man/man3/pml_* 2>/dev/null || true)
[ -z "$left" ] || fail "left after purge: $left"
say "purged without a trace"
say "PASS"

#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
#
# install-deps.sh -- install, from Debian's packages, what pmemlease needs to
# build and test.
#
#   scripts/install-deps.sh          the build, the tests and the real-DAX
#                                    VM tier (tests/vm/install-deps.sh)
#   scripts/install-deps.sh --core   only what building the library, the
#                                    command and the unit tests needs
#
# Runs apt-get as root, through sudo when called as another user.  Safe to
# run again: apt-get skips what is installed.  PML_SKIP_DEPS=1 skips it all
# (an offline developer who knows the machine is ready).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")

core_only=0
case "${1:-}" in
	--core) core_only=1 ;;
	"") ;;
	-h|--help)
		sed -n '3,14p' "$0" | sed 's/^# \{0,1\}//'
		exit 0 ;;
	*)
		echo "install-deps.sh: unknown argument '$1' (try --help)" >&2
		exit 2 ;;
esac

if [ "${PML_SKIP_DEPS:-0}" = 1 ]; then
	echo "install-deps.sh: PML_SKIP_DEPS=1, installing nothing"
	exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
	as_root=
elif command -v sudo >/dev/null 2>&1; then
	as_root=sudo
else
	echo "install-deps.sh: run as root, or install sudo" >&2
	exit 1
fi

# build-essential brings gcc's sanitizer runtimes (libasan, libubsan,
# libtsan) through libgcc-12-dev; util-linux has setarch, which the TSan
# build may need (scripts/test-all.sh says why); strace counts the system
# calls of the lease fast path where perf cannot (tests/multiproc).
# fio, dpkg-dev and python3 are for tests/bench/fio (fio itself, dpkg-source
# for `apt-get source fio`, whose headers its external engine is built
# against, and the script that tabulates fio's JSON); gnuplot-nox draws the
# benchmark's plots (tests/bench/run-bench.sh).  coreutils' truncate(1),
# util-linux's fallocate(1) and the sqlite3 shell run under the intercept
# (tests/multiproc/test_mp_intercept.c).  libsqlite3-dev builds the SQLite
# VFS (lib/sqlite); tcl-dev, SQLite's testfixture from Debian's sqlite3
# source (tests/sqlite/suite, which fetches the source itself).
# libjemalloc-dev builds the heap on a region (lib/heap); libmemkind-dev is
# its benchmark's baseline (tests/bench/pml-heap-bench.c).  scdoc builds
# the manual pages, and groff checks that they render (tests/doc);
# debootstrap and lintian are for tests/pkg/pkg-install.sh (the Debian
# packages, built and installed in clean roots).
packages="build-essential cmake pkg-config
	libpmem2-dev libdaxctl-dev libndctl-dev libcxl-dev
	libcmocka-dev libjson-c-dev liburing-dev
	util-linux strace
	fio dpkg-dev python3 gnuplot-nox
	coreutils sqlite3 libsqlite3-dev tcl-dev
	libjemalloc-dev libmemkind-dev
	scdoc groff-base debootstrap lintian"

echo "install-deps.sh: apt-get update"
$as_root env DEBIAN_FRONTEND=noninteractive apt-get update
# shellcheck disable=SC2086 # the list is meant to split into words
$as_root env DEBIAN_FRONTEND=noninteractive \
	apt-get install -y --no-install-recommends $packages

if [ "$core_only" = 0 ] && [ -f "$top/tests/vm/install-deps.sh" ]; then
	echo "install-deps.sh: the real-DAX VM tier's dependencies"
	$as_root sh "$top/tests/vm/install-deps.sh"
fi
echo "install-deps.sh: done"

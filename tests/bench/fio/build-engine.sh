#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
#
# build-engine.sh -- build the pmemlease fio external ioengine.
#
#   tests/bench/fio/build-engine.sh BUILD_DIR [OUT.so]
#
# BUILD_DIR is a CMake build directory of pmemlease (it must hold
# lib/libpmemlease.so).  The engine is compiled against the headers of the
# fio source of the *same version* as the installed fio binary (an external
# engine uses fio's internal structs: struct thread_data, struct io_u, ...;
# no binary package ships those headers).  The source is unpacked into
# BUILD_DIR/fio-src/ by scripts/apt-source.sh.
# fio's ./configure runs once there for config-host.h.
#
# Default output: BUILD_DIR/tests/bench/fio/pmemlease_fio.so.  Prints its path.
# Needs root (or sudo) for the apt steps, the first time only.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../../.." && pwd)

if [ $# -lt 1 ]; then
	sed -n '3,17p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
fi
build=$(cd "$1" && pwd)
out=${2:-$build/tests/bench/fio/pmemlease_fio.so}
lib=$build/lib/libpmemlease.so
[ -f "$lib" ] || { echo "build-engine.sh: no $lib (build pmemlease first)" >&2; exit 1; }

if [ "$(id -u)" -eq 0 ]; then as_root=; elif command -v sudo >/dev/null 2>&1; then as_root=sudo; else as_root=; fi

if ! command -v fio >/dev/null 2>&1; then
	echo "build-engine.sh: installing fio" >&2
	$as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends fio >&2
fi

cache=$build/fio-src
src=$("$top/scripts/apt-source.sh" fio "$cache")
[ -f "$src/fio.h" ] || { echo "build-engine.sh: no fio.h in $src" >&2; exit 1; }
src=${src%/}
# Debian's debian/rules runs ./configure --disable-native --prefix=/usr
# --enable-gfio --enable-libnbd: the last two need GTK and libnbd and only
# add fio's GUI and the nbd engine; nothing in the structs an engine uses
# depends on them (the CONFIG_ switches in io_u.h's union sit at the end of
# struct io_u, which fio allocates, not the engine).
if [ ! -f "$src/config-host.h" ]; then
	echo "build-engine.sh: running fio's ./configure in $src" >&2
	(cd "$src" && ./configure --disable-native --prefix=/usr >"$cache/configure.log" 2>&1) || {
		echo "build-engine.sh: fio's configure failed, see $cache/configure.log" >&2; exit 1; }
fi

mkdir -p "$(dirname "$out")"
# fio's own Makefile compiles with -D_GNU_SOURCE -D_LARGEFILE_SOURCE
# -D_FILE_OFFSET_BITS=64 -include config-host.h; the structs must match.
${CC:-cc} -O2 -g -fPIC -shared -std=gnu99 -Wall -Wextra -Werror \
	-Wno-unused-parameter \
	-D_GNU_SOURCE -D_LARGEFILE_SOURCE -D_FILE_OFFSET_BITS=64 \
	-include "$src/config-host.h" -I"$src" -I"$top/include" \
	-o "$out" "$here/pmemlease_fio.c" \
	-L"$build/lib" -Wl,-rpath,"$build/lib" -lpmemlease
echo "$out"

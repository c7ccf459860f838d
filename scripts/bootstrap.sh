#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
#
# bootstrap.sh -- the shortest way from a fresh clone to `pmemlease demo`:
# install the build dependencies, then configure and build build/.
#
#   ./scripts/bootstrap.sh && build/tools/pmemlease demo
#
# It leaves out the real-DAX VM tier's dependencies (QEMU and a guest
# kernel): scripts/test-all.sh installs those.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

sh scripts/install-deps.sh --core
cmake -S . -B build
cmake --build build --parallel "$(nproc)" --target pmemlease-cli
echo "bootstrap.sh: built $top/build/tools/pmemlease"

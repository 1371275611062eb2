#!/usr/bin/env bash
# Pack a CUDA build for a GPU machine that has no compilers' inputs (gtest, CLI11, ...): the
# executables (stripped), ctest's files, and FlashMLA's comparison binary when given, in a few
# tens of MB instead of the build folder's ~100. ctest's files name absolute paths of this
# machine; scripts/gpu_check.sh rewrites them to the GPU machine's checkout (SOURCE_ROOT says
# which they name):
#
#   scripts/make_carry.sh <build dir> <carry dir> [flashmla_compare binary]
#   (on the GPU machine, in the checkout's root, <carry dir> carried)
#   SNAPMLA_BUILD_DIR=<carry dir> scripts/gpu_check.sh
#
# The carry dir must lie inside the checkout (the device sends the checkout and what it carries).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="$(cd "${1:?usage: $0 <build dir> <carry dir> [flashmla_compare]}" && pwd)"
carry="${2:?usage: $0 <build dir> <carry dir> [flashmla_compare]}"
flashmla="${3:-}"
rm -rf "$carry"
mkdir -p "$carry"
carry="$(cd "$carry" && pwd)"
cd "$build"
# Executables and ctest's files, in the build's layout; not the CPU tests' executables (the GPU
# check runs `ctest -L gpu`, and the carry must stay under the device's 64 MiB).
find . -path ./CMakeFiles -prune -o -type f \( -perm -u+x -o -name CTestTestfile.cmake \) -print |
  grep -v '/CMakeFiles/' | grep -v '^./tests/cpu/snapmla\.test\.cpu\.' | while read -r f; do
    mkdir -p "$carry/$(dirname "$f")"
    cp "$f" "$carry/$f"
  done
find "$carry" -type f -perm -u+x -exec strip --strip-debug {} + 2>/dev/null || true
# ctest's files name the build dir; point them at the carry dir's path on this machine, so that
# the one rewrite of the source root on the GPU machine fixes both.
find "$carry" -name CTestTestfile.cmake -exec sed -i "s#$build#$carry#g" {} +
echo "$root" >"$carry/SOURCE_ROOT"
if [ -n "$flashmla" ]; then
  mkdir -p "$carry/flashmla"
  cp "$flashmla" "$carry/flashmla/flashmla_compare"
fi
size_mb=$(du -sm "$carry" | cut -f1)
echo "make_carry: $carry, ${size_mb} MB"
if [ "$size_mb" -ge 64 ]; then
  echo "make_carry: over the GPU machine's 64 MiB for what a call carries; leave out what the run does not need" >&2
  exit 1
fi

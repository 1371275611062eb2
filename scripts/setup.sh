#!/usr/bin/env bash
# One command on a fresh machine: install what is missing, build, run the main job.
#   scripts/setup.sh            install + build + run `snapmla` (the default demo)
#   scripts/setup.sh --deps     install only (used by scripts/test.sh)
# Idempotent: installed packages and an existing build are reused.
set -euo pipefail
cd "$(dirname "$0")/.."

need_pkgs=()
for pkg in cmake ninja-build g++ libgtest-dev libgmock-dev libcli11-dev libfmt-dev \
           nlohmann-json3-dev ccache python3-pip; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need_pkgs+=("$pkg")
done
if ((${#need_pkgs[@]})); then
  echo "setup: installing ${need_pkgs[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
fi

# CUTLASS/CuTe 4.2 headers, from the Python package, into an ignored project-local folder.
CUTLASS_INC=.deps/cutlass/cutlass_library/source/include
if [ ! -f "$CUTLASS_INC/cute/tensor.hpp" ]; then
  echo "setup: installing CUTLASS 4.2 headers into .deps/cutlass"
  python3 -m pip install -q --no-deps --no-compile --target .deps/cutlass nvidia-cutlass==4.2.0.0
fi

[ "${1:-}" = "--deps" ] && exit 0

cmake --preset default >/dev/null
cmake --build --preset default
./build/snapmla

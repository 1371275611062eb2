#!/usr/bin/env bash
# Builds everything (CUDA kernels too where nvcc exists) and runs the tests.
# GPU tests report "skipped" where no GPU is found. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --deps
cmake --preset default >/dev/null
cmake --build --preset default
ctest --preset default

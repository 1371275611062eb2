#!/usr/bin/env bash
# Where a decode kernel's time goes, by role file: Nsight Compute's warp-stall samples of one
# launch, attributed through the -lineinfo of the build to the file of each role (load, QK,
# softmax, PV, epilogue, ...; scripts/profile_roles.py). Needs a GPU, ncu, cuobjdump, nvdisasm.
#
# Usage: scripts/profile_roles.sh [SHAPE] [KERNEL] [KERNEL_FILE]
#   SHAPE        bench shape BxS_QxH_QxS_K (default 128x1x128x8192)
#   KERNEL       part of the kernel's name (default decode_wgmma_kernel; the 16-row narrow
#                kernel: decode_narrow_kernel, with KERNEL_FILE decode_narrow/kernel.cuh)
#   KERNEL_FILE  default decode_wgmma/kernel.cuh
# Environment: SNAPMLA_BUILD_DIR (default build), OUT (default /tmp/snapmla-profile): the ncu
# table, the SASS and the report (roles.txt) are written there. NCU_CACHE_CONTROL (default all:
# ncu flushes the caches before the launch, code included, as the bench's L2 flush does; none:
# the launch finds what the warm-up left in L2).
set -euo pipefail
cd "$(dirname "$0")/.."
SHAPE=${1:-128x1x128x8192}
KERNEL=${2:-decode_wgmma_kernel}
KERNEL_FILE=${3:-decode_wgmma/kernel.cuh}
BUILD=${SNAPMLA_BUILD_DIR:-build}
OUT=${OUT:-/tmp/snapmla-profile}
CUDA_BIN=$(dirname "$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)")
NCU=$(command -v ncu || echo "$CUDA_BIN/ncu")
CUOBJDUMP=$(command -v cuobjdump || echo "$CUDA_BIN/cuobjdump")
NVDISASM=$(command -v nvdisasm || echo "$CUDA_BIN/nvdisasm")
BIN=$(realpath "$BUILD/snapmla")
mkdir -p "$OUT"

# One launch after a warm-up (--launch-skip 1), clocks as the GPU runs them.
"$NCU" --clock-control none --cache-control "${NCU_CACHE_CONTROL:-all}" --section SourceCounters --section WarpStateStats -k "regex:$KERNEL" \
  --launch-skip 1 --launch-count 1 --page source --csv --print-source sass \
  "$BIN" bench --shapes "$SHAPE" --reps 2 --warmup 1 --no-graphs >"$OUT/source.csv" 2>"$OUT/ncu.log"

# The cubins holding the kernel (one a .cu file; a kernel may have several instantiations),
# disassembled with their inline chains; profile_roles.py picks the instantiation that ran.
CUBINS=$(mktemp -d)
(cd "$CUBINS" && "$CUOBJDUMP" -xelf all "$BIN" >/dev/null)
: >"$OUT/kernel.sass"
for cubin in "$CUBINS"/*.cubin; do
  if "$NVDISASM" -c -gi "$cubin" >"$CUBINS/one.sass" 2>/dev/null && grep -q "^\.text\..*$KERNEL" "$CUBINS/one.sass"; then
    cat "$CUBINS/one.sass" >>"$OUT/kernel.sass"
  fi
done
rm -rf "$CUBINS"
[ -s "$OUT/kernel.sass" ] || { echo "profile_roles: no cubin in $BUILD/snapmla holds $KERNEL" >&2; exit 1; }

python3 scripts/profile_roles.py --ncu "$OUT/source.csv" --sass "$OUT/kernel.sass" --kernel "$KERNEL" \
  --kernel-file "$KERNEL_FILE" --lines 15 | tee "$OUT/roles.txt"

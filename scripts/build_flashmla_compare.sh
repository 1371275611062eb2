#!/usr/bin/env bash
# Build bench/external/flashmla_compare.cu against a FlashMLA checkout, so that FlashMLA's BF16
# dense decode can be timed in the same run as `snapmla bench` (same GPU, same timing rules).
# FlashMLA is not part of this repository: pass the path of a checkout (github.com/deepseek-ai/
# FlashMLA; built and measured at 9241ae3). Its sm90 dense decode, combine and scheduler-metadata
# sources are compiled with the project's CUTLASS headers (scripts/setup.sh installs them) and the
# flags of FlashMLA's setup.py that concern sm_90a.
#
#   scripts/build_flashmla_compare.sh <flashmla checkout> [output dir, default build-flashmla]
# The binary is <output dir>/flashmla_compare; run it on the GPU machine with the bench's shapes
# (scripts/gpu_check.sh does when it finds it).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
src="${1:?usage: $0 <flashmla checkout> [output dir]}"
out="${2:-$root/build-flashmla}"
csrc="$src/csrc"
for f in sm90/decode/dense/instantiations/bf16.cu smxx/decode/combine/combine.cu \
         smxx/decode/get_decoding_sched_meta/get_decoding_sched_meta.cu params.h; do
  [[ -f "$csrc/$f" ]] || { echo "build_flashmla_compare: $csrc/$f not found; is $src a FlashMLA checkout?" >&2; exit 2; }
done
cutlass="${SNAPMLA_CUTLASS_SOURCE:-$root/.deps/cutlass/cutlass_library/source}"  # CUTLASS root (include/, tools/)
[[ -d "$cutlass/include/cute" ]] || { echo "build_flashmla_compare: no CUTLASS under $cutlass; run scripts/setup.sh first" >&2; exit 2; }
mkdir -p "$out"
flags=(-O3 -std=c++20 -DNDEBUG -D_USE_MATH_DEFINES -DFLASH_MLA_DISABLE_FP16 -Wno-deprecated-declarations
       -U__CUDA_NO_HALF_OPERATORS__ -U__CUDA_NO_HALF_CONVERSIONS__ -U__CUDA_NO_HALF2_OPERATORS__
       -U__CUDA_NO_BFLOAT16_CONVERSIONS__ --expt-relaxed-constexpr --expt-extended-lambda --use_fast_math
       -gencode arch=compute_90a,code=sm_90a
       -I"$csrc" -I"$csrc/kerutils/include" -I"$csrc/sm90" -I"$cutlass/include" -I"$cutlass/tools/util/include")
objs=()
pids=()
for f in sm90/decode/dense/instantiations/bf16.cu smxx/decode/combine/combine.cu \
         smxx/decode/get_decoding_sched_meta/get_decoding_sched_meta.cu; do
  o="$out/$(basename "$f" .cu).o"
  nvcc "${flags[@]}" -c "$csrc/$f" -o "$o" & pids+=($!)
  objs+=("$o")
done
for p in "${pids[@]}"; do wait "$p"; done
nvcc "${flags[@]}" "$root/bench/external/flashmla_compare.cu" "${objs[@]}" -lcuda -o "$out/flashmla_compare"
echo "built $out/flashmla_compare"

// Step 3 of a block: online softmax and the P operand (docs/numerics.md). One warp per row,
// lane l owns tokens l and l + 32. For a row that sees n > 0 tokens of the block:
//   m_new = max(m, max_t x),  alpha = exp2(m - m_new),  p = exp2(x - m_new)
//   l = l * alpha + sum_t p          (unquantized p, summed in token order like the reference)
//   FP8:  P' = p * s[t], (mult, unmult) = pv_scale_from_max(max P'), P = e4m3(P' * mult)
//   BF16: P = bf16(p), unmult = 1
// A row that sees no token of the block keeps its state (alpha = 1, unmult = 0, P = 0).
// P is 0 for every masked token, and PV never multiplies a masked token's V (see pv.cuh).
#pragma once

#include "common/codecs.h"
#include "common/quant_rules.h"
#include "kernels/common/cuda_utils.cuh"
#include "kernels/sm90/decode_fp8/components/shared_storage.cuh"

namespace snapmla::kernels::decode {

inline constexpr int kTokensPerLane = kTokensPerBlock / kWarpSize;  // 2

// Tokens of block `block` that a row with `visible` tokens sees.
__device__ __forceinline__ int tokens_in_block(int visible, int block) {
  const int n = visible - block * kTokensPerBlock;
  return n < 0 ? 0 : (n > kTokensPerBlock ? kTokensPerBlock : n);
}

// nan_sticky_max (common/quant_rules.h) of P' values, which are +0, positive or NaN (p >= +0 and
// the cache's scales s[t] >= +0): on those, the float order is the order of the bit patterns as
// unsigned integers, and every NaN pattern is above +inf, so one integer max does it.
__device__ __forceinline__ float nonneg_nan_sticky_max(float a, float b) {
  return __uint_as_float(max(__float_as_uint(a), __float_as_uint(b)));
}

template <class Format>
__device__ __forceinline__ void softmax_and_p(SharedStorage<Format>& sm, const PageStage<Format>& st, int block) {
  const int warp = threadIdx.x / kWarpSize, lane = threadIdx.x % kWarpSize;
  const float inf = __int_as_float(0x7f800000);
#pragma unroll
  for (int k = 0; k < kRowsPerWarp; ++k) {
    const int row = warp * kRowsPerWarp + k;
    const int n = tokens_in_block(sm.visible[row], block);
    if (n == 0) {
#pragma unroll
      for (int e = 0; e < kTokensPerLane; ++e) sm.p[lane + kWarpSize * e][row] = 0.0f;
      if (lane == 0) { sm.alpha[row] = 1.0f; sm.unmult[row] = 0.0f; }
      continue;
    }
    float x[kTokensPerLane];
    float block_max = -inf;
#pragma unroll
    for (int e = 0; e < kTokensPerLane; ++e) {
      const int t = lane + kWarpSize * e;
      x[e] = t < n ? sm.x[row][t] : -inf;
      block_max = fmaxf(block_max, x[e]);  // fmax like std::fmax: exact in any order
    }
    block_max = warp_reduce(block_max, [](float a, float b) { return fmaxf(a, b); });
    const float m_old = sm.m[row];
    const float m_new = fmaxf(m_old, block_max);
    const float alpha = exp2f(m_old - m_new);  // 0 on the first block (m_old = -inf)

    float p[kTokensPerLane], pv[kTokensPerLane];
    float pv_max = 0.0f;
#pragma unroll
    for (int e = 0; e < kTokensPerLane; ++e) {
      const int t = lane + kWarpSize * e;
      p[e] = t < n ? exp2f(x[e] - m_new) : 0.0f;
      if constexpr (Format::kFp8) pv[e] = __fmul_rn(p[e], st.scale[t < n ? t : 0]);
      else pv[e] = p[e];
      if (t < n) pv_max = nan_sticky_max(pv_max, pv[e]);
      sm.x[row][t] = p[e];  // for the in-order sum below
    }
    float unmult = 1.0f;
    if constexpr (Format::kFp8) {
      pv_max = warp_reduce(pv_max, [](float a, float b) { return nan_sticky_max(a, b); });
      const PvScale scale = pv_scale_from_max(pv_max);
      unmult = scale.unmult;
#pragma unroll
      for (int e = 0; e < kTokensPerLane; ++e) {
        const int t = lane + kWarpSize * e;
        sm.p[t][row] = t < n ? round_to_e4m3(__fmul_rn(pv[e], scale.mult)) : 0.0f;
      }
    } else {
#pragma unroll
      for (int e = 0; e < kTokensPerLane; ++e) {
        const int t = lane + kWarpSize * e;
        sm.p[t][row] = t < n ? round_to_bf16(pv[e]) : 0.0f;
      }
    }
    __syncwarp();
    if (lane == 0) {
      float p_sum = 0.0f;
      for (int t = 0; t < n; ++t) p_sum = __fadd_rn(p_sum, sm.x[row][t]);
      sm.l[row] = __fadd_rn(__fmul_rn(sm.l[row], alpha), p_sum);
      sm.m[row] = m_new;
      sm.alpha[row] = alpha;
      sm.unmult[row] = unmult;
    }
    __syncwarp();
  }
}

}  // namespace snapmla::kernels::decode

// Step 3: online softmax and the quantized P of one block, on S^T (docs/numerics.md; the same
// arithmetic as decode_tc/components/softmax_p.cuh). Thread (w, g, t) holds tokens 16 w + g + 8 i
// (i = 0, 1) of the kCols / 4 query rows ("columns") col(c) = 8 (c / 2) + 2 t + c % 2. A row's
// 64 tokens are spread over the 8 lanes g of each warp (shuffles) and the 4 warps (shared
// memory, a CTA barrier). Per row that sees n > 0 tokens:
//   x = (acc * row_factor) * s[t];  m_new = max(m, max_t x);  alpha = exp2(m - m_new)
//   p = exp2(x - m_new);  l = l * alpha + sum_t p;  P' = p * s[t]
//   (mult, unmult) = pv_scale_from_max(max_t P');  P8 = e4m3(P' * mult)
// Masked tokens get P8 = 0; a row that sees no token of the block keeps its state (alpha = 1,
// unmult = 0). P8 goes to shared memory (SW64, PV's B operand) in the PV k order (config.h).
#pragma once

#include <cstdint>

#include "common/quant_rules.h"
#include "kernels/common/cuda_utils.cuh"
#include "kernels/sm90/decode_fp8/components/softmax.cuh"
#include "kernels/sm90/decode_narrow/components/shared_storage.cuh"
#include "kernels/sm90/decode_tc/components/warp_mma.cuh"
#include "kernels/sm90/decode_wgmma/components/wgmma_ops.cuh"

namespace snapmla::kernels::decode_narrow {

using decode::nonneg_nan_sticky_max;
using decode::tokens_in_block;

template <int kCols>
inline constexpr int kColsPerThread = kCols / 4;

__device__ __forceinline__ int col_of(int c, int t) { return 8 * (c / 2) + 2 * t + c % 2; }
// Accumulator register of column c, token slot i (m64nN layout: d[4 j + 2 i + e]).
__host__ __device__ constexpr int acc_reg(int c, int i) { return 4 * (c / 2) + 2 * i + c % 2; }

template <int kCols>
struct RowState {
  float m[kColsPerThread<kCols>];  // running max (log2 units)
  float l[kColsPerThread<kCols>];  // running sum of unquantized p
};

// A segment's constants of the thread's rows, kept in registers.
template <int kCols>
struct RowConsts {
  int visible[kColsPerThread<kCols>];    // tokens the row sees (0: padding row)
  float factor[kColsPerThread<kCols>];   // q_scale * scale_log2
};
template <int kCols>
__device__ __forceinline__ RowConsts<kCols> row_consts(const NarrowStorage<kCols>& sm) {
  const int t = threadIdx.x % 4;
  RowConsts<kCols> rc;
#pragma unroll
  for (int c = 0; c < kColsPerThread<kCols>; ++c) {
    rc.visible[c] = sm.visible[col_of(c, t)];
    rc.factor[c] = sm.row_factor[col_of(c, t)];
  }
  return rc;
}

template <int kCols>
struct BlockStep {
  float alpha[kColsPerThread<kCols>];   // rescale of O
  float unmult[kColsPerThread<kCols>];  // P8 scale inverse
};

// Reduction over the 8 lanes g that share t (lane bits 2..4).
template <class Op>
__device__ __forceinline__ float reduce_over_g(float v, Op op) {
  return lane_reduce<4, 32>(v, op);
}

__device__ __forceinline__ float4 load_float4(const float* p) { return *reinterpret_cast<const float4*>(p); }

template <int kCols>
__device__ __forceinline__ BlockStep<kCols> softmax_and_p(NarrowStorage<kCols>& sm, const PageStage& st, int block,
                                                          const RowConsts<kCols>& rc, const float (&acc)[kCols / 2],
                                                          RowState<kCols>& state) {
  constexpr int kC = kColsPerThread<kCols>;
  static_assert(kWarps == 4, "the exchange reads the 4 warps' values of a row as one float4");
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, g = lane / 4, t = lane % 4;
  const float inf = __int_as_float(0x7f800000);
  int tok[2];
  float s[2];
#pragma unroll
  for (int i = 0; i < 2; ++i) {
    tok[i] = 16 * warp + g + 8 * i;
    s[i] = st.scale[tok[i]];
  }
  int n[kC];
#pragma unroll
  for (int c = 0; c < kC; ++c) n[c] = tokens_in_block(rc.visible[c], block);

  // Scores and the block max of each row.
  float x[kC][2], block_max[kC];
#pragma unroll
  for (int c = 0; c < kC; ++c) {
    block_max[c] = -inf;
#pragma unroll
    for (int i = 0; i < 2; ++i) {
      x[c][i] = __fmul_rn(__fmul_rn(acc[acc_reg(c, i)], rc.factor[c]), s[i]);
      if (tok[i] < n[c]) block_max[c] = fmaxf(block_max[c], x[c][i]);  // fmax: NaN-ignoring like the reference
    }
    block_max[c] = reduce_over_g(block_max[c], [](float a, float b) { return fmaxf(a, b); });
    if (g == 0) sm.red_max[col_of(c, t)][warp] = block_max[c];
  }
  __syncthreads();

  // p, P' and the partial sums of each row.
  float m_new[kC], pv[kC][2], pv_max[kC], p_sum[kC];
#pragma unroll
  for (int c = 0; c < kC; ++c) {
    const float4 bm = load_float4(sm.red_max[col_of(c, t)]);
    m_new[c] = fmaxf(state.m[c], fmaxf(fmaxf(bm.x, bm.y), fmaxf(bm.z, bm.w)));
    pv_max[c] = 0.0f;
    p_sum[c] = 0.0f;
#pragma unroll
    for (int i = 0; i < 2; ++i) {
      const bool seen = tok[i] < n[c];
      const float p = seen ? exp2f(x[c][i] - m_new[c]) : 0.0f;
      pv[c][i] = seen ? __fmul_rn(p, s[i]) : 0.0f;
      pv_max[c] = nonneg_nan_sticky_max(pv_max[c], pv[c][i]);  // an unseen token adds +0
      p_sum[c] = __fadd_rn(p_sum[c], p);
    }
    pv_max[c] = reduce_over_g(pv_max[c], nonneg_nan_sticky_max);
    p_sum[c] = reduce_over_g(p_sum[c], [](float a, float b) { return __fadd_rn(a, b); });
    if (g == 0) {
      sm.red_pmax[col_of(c, t)][warp] = pv_max[c];
      sm.red_sum[col_of(c, t)][warp] = p_sum[c];
    }
  }
  __syncthreads();

  // The P8 scale of each row: two divisions, computed by one lane group g per column (lane
  // (g, t) for column g % kC of t) and passed on by shuffles.
  PvScale own;
  {
    const int c = g % kC;
    const float4 pm = load_float4(sm.red_pmax[col_of(c, t)]);
    own = pv_scale_from_max(nonneg_nan_sticky_max(nonneg_nan_sticky_max(pm.x, pm.y), nonneg_nan_sticky_max(pm.z, pm.w)));
  }

  // Row state, P8. Lanes g and g ^ 1 hold adjacent P8 bytes (config.h): they swap codes and the
  // even one stores the pair of token slot 0, the odd one that of slot 1.
  BlockStep<kCols> step;
#pragma unroll
  for (int c = 0; c < kC; ++c) {
    const int col = col_of(c, t);
    const float mult_c = __shfl_sync(0xffffffffu, own.mult, 4 * c + t);
    const float unmult_c = __shfl_sync(0xffffffffu, own.unmult, 4 * c + t);
    float mult = 0.0f;
    step.alpha[c] = 1.0f;
    step.unmult[c] = 0.0f;
    if (n[c] > 0) {
      const float4 sums = load_float4(sm.red_sum[col]);
      const float sum = __fadd_rn(__fadd_rn(__fadd_rn(sums.x, sums.y), sums.z), sums.w);
      step.alpha[c] = exp2f(state.m[c] - m_new[c]);  // 0 on the first block (m = -inf)
      step.unmult[c] = unmult_c;
      mult = mult_c;
      state.l[c] = __fadd_rn(__fmul_rn(state.l[c], step.alpha[c]), sum);
      state.m[c] = m_new[c];
    }
    const float lo = tok[0] < n[c] ? __fmul_rn(pv[c][0], mult) : 0.0f;
    const float hi = tok[1] < n[c] ? __fmul_rn(pv[c][1], mult) : 0.0f;
    const std::uint32_t mine = decode_tc::e4m3x2_from_float(lo, hi);  // byte i: token slot i
    const std::uint32_t other = __shfl_xor_sync(0xffffffffu, mine, 4);
    const int even_g = g & ~1;
    const int slot = g & 1;
    const std::uint32_t pair = slot == 0 ? __byte_perm(mine, other, 0x0040) : __byte_perm(other, mine, 0x0051);
    const int k = p8_k_of_token(16 * warp + even_g + 8 * slot);
    *reinterpret_cast<std::uint16_t*>(&sm.p8[decode_wgmma::sw64_offset(col, k)]) = static_cast<std::uint16_t>(pair);
  }
  decode_wgmma::fence_view_async_shared();  // P8: generic writes, wgmma reads
  __syncthreads();
  return step;
}

}  // namespace snapmla::kernels::decode_narrow

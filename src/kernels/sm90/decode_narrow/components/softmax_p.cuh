// Step 3: online softmax and the quantized P of one block, on S^T (docs/numerics.md; the same
// arithmetic as decode_tc/components/softmax_p.cuh). Thread (w, g, t) holds tokens 16 w + g + 8 i
// (i = 0, 1) of the kCols / 4 query rows ("columns") col(c) = 8 (c / 2) + 2 t + c % 2. A row's
// 64 tokens are spread over the 8 lanes g of each warp (shuffles) and the 4 warps (shared
// memory, a CTA barrier). Per row that sees n > 0 tokens:
//   x = (acc * row_factor) * s[t];  m_new = max(m, max_t x);  alpha = exp2(m - m_new)
//   p = exp2(x - m_new);  l = l * alpha + sum_t p;  P' = p * s[t]
//   (mult, unmult) = pv_scale_from_max(max_t P');  P8 = e4m3(P' * mult)
// One exchange between the warps per block: the block's largest P' is exp2(max_t y - m_new)
// with y = x + log2 s[t] (P' = exp2(x - m_new) s[t]), so max_t x and max_t y are reduced
// together, before m_new is known. It is the emulation's max_t P' up to the rounding of
// exp2 / log2 (a few ulps of the P8 scale, docs/numerics.md). The row sum l needs no exchange
// per block: every thread keeps the part of l from its own tokens (alpha is the row's) and the
// parts are added once, at the end of the segment (finish_row_sums).
// Masked tokens get P8 = 0; a row that sees no token of the block keeps its state (alpha = 1,
// unmult = 0). P8 goes to shared memory (SW64, PV's B operand) in the PV k order (config.h).
#pragma once

#include <cstdint>

#include "common/quant_rules.h"
#include "kernels/common/cuda_utils.cuh"
#include "kernels/sm90/decode_fp8/components/softmax.cuh"
#include "kernels/sm90/decode_narrow/components/load.cuh"
#include "kernels/sm90/decode_narrow/components/shared_storage.cuh"
#include "kernels/sm90/decode_tc/components/warp_mma.cuh"
#include "kernels/sm90/decode_wgmma/components/wgmma_ops.cuh"

namespace snapmla::kernels::decode_narrow {

using decode::tokens_in_block;

template <int kCols>
inline constexpr int kColsPerThread = kCols / 4;

__device__ __forceinline__ int col_of(int c, int t) { return 8 * (c / 2) + 2 * t + c % 2; }
// Accumulator register of column c, token slot i (m64nN layout: d[4 j + 2 i + e]).
__host__ __device__ constexpr int acc_reg(int c, int i) { return 4 * (c / 2) + 2 * i + c % 2; }
// And back: the column of accumulator register k (of S^T, or of an O^T dim tile: same layout).
__host__ __device__ constexpr int col_of_reg(int k) { return 2 * (k / 4) + k % 2; }
static_assert(col_of_reg(acc_reg(3, 1)) == 3);

template <int kCols>
struct RowState {
  float m[kColsPerThread<kCols>];  // running max (log2 units)
  float l[kColsPerThread<kCols>];  // running sum of unquantized p: this thread's tokens' part until
                                   // finish_row_sums adds the parts
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

// a if pick_a else b, as one selp: written with ?: on v[j] / v[j + half], ptxas turned the
// array into local memory indexed by the lane's bit.
__device__ __forceinline__ float select(bool pick_a, float a, float b) {
  float r;
  asm("{\n .reg .pred p;\n setp.ne.u32 p, %3, 0;\n selp.f32 %0, %1, %2, p;\n}"
      : "=f"(r)
      : "f"(a), "f"(b), "r"(static_cast<unsigned>(pick_a)));
  return r;
}

// One halving step at lane distance kMask: values [0, kHalf) and [kHalf, 2 kHalf) in, the half
// this lane keeps (combined with the partner's copy of it) in [0, kHalf) out.
template <int kMask, int kHalf, class Op>
__device__ __forceinline__ void halve_over_lanes(float* v, Op op) {
  const bool upper = (threadIdx.x & kMask) != 0;  // this lane keeps the upper half
#pragma unroll
  for (int j = 0; j < kHalf; ++j) {
    const float send = select(upper, v[j], v[j + kHalf]);
    const float keep = select(upper, v[j + kHalf], v[j]);
    v[j] = op(keep, __shfl_xor_sync(0xffffffffu, send, kMask));
  }
}

// Reduce-scatter over the 8 lanes g that share t (lane bits 2..4): v[0 .. N) in, and lane g
// keeps the reductions of values g * N / 8 + j in v[j], j < N / 8. Each of the three halving
// steps sends the half that the partner keeps: 7 N / 8 shuffles in all instead of 3 N.
template <int N, class Op>
__device__ __forceinline__ void reduce_scatter_over_g(float (&v)[N], Op op) {
  static_assert(N % 8 == 0, "N values over 8 lanes");
  halve_over_lanes<16, N / 2>(v, op);
  halve_over_lanes<8, N / 4>(v, op);
  halve_over_lanes<4, N / 8>(v, op);
}

// pv_scale_from_max with the fast division: the max comes from exp2 / log2 here, so an ulp of
// the quotient is within what it already differs from the emulation's.
__device__ __forceinline__ PvScale pv_scale_from_max_fast(float p_scaled_max) {
  const float m = pv_scale_max(p_scaled_max);
  return {__fdividef(kE4M3Max, m), m * (1.0f / kE4M3Max)};
}

__device__ __forceinline__ float load_max4(const float* p) {
  const float4 v = *reinterpret_cast<const float4*>(p);
  return fmaxf(fmaxf(v.x, v.y), fmaxf(v.z, v.w));
}

template <int kCols>
__device__ __forceinline__ BlockStep<kCols> softmax_and_p(NarrowStorage<kCols>& sm, const PageView& page, int block,
                                                          const RowConsts<kCols>& rc, const float (&acc)[kCols / 2],
                                                          RowState<kCols>& state) {
  constexpr int kC = kColsPerThread<kCols>;
  static_assert(kWarps == 4, "the exchange reads the 4 warps' values of a row as one float4");
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, g = lane / 4, t = lane % 4;
  const float inf = __int_as_float(0x7f800000);
  int tok[2];
  float s[2], log2_s[2];
#pragma unroll
  for (int i = 0; i < 2; ++i) {
    tok[i] = 16 * warp + g + 8 * i;
    s[i] = page.scale[tok[i]];
    log2_s[i] = __log2f(s[i]);
  }
  int n[kC];
#pragma unroll
  for (int c = 0; c < kC; ++c) n[c] = tokens_in_block(rc.visible[c], block);

  // Scores, and per row the block's max of x and of y = x + log2 s (v[2 c], v[2 c + 1]).
  float x[kC][2], v[2 * kC];
#pragma unroll
  for (int c = 0; c < kC; ++c) {
    v[2 * c] = -inf;
    v[2 * c + 1] = -inf;
#pragma unroll
    for (int i = 0; i < 2; ++i) {
      x[c][i] = __fmul_rn(__fmul_rn(acc[acc_reg(c, i)], rc.factor[c]), s[i]);
      if (tok[i] < n[c]) {  // fmax: NaN-ignoring like the reference
        v[2 * c] = fmaxf(v[2 * c], x[c][i]);
        v[2 * c + 1] = fmaxf(v[2 * c + 1], __fadd_rn(x[c][i], log2_s[i]));
      }
    }
  }
  reduce_scatter_over_g(v, [](float a, float b) { return fmaxf(a, b); });
#pragma unroll
  for (int j = 0; j < kC / 4; ++j) {
    const int idx = g * (kC / 4) + j;  // value idx = 2 c + kind
    sm.red[col_of(idx / 2, t)][idx % 2][warp] = v[j];
  }
  __syncthreads();

  // Row state and P8. Lanes g and g ^ 1 hold adjacent P8 bytes (config.h): they swap codes and
  // the even one stores the pair of token slot 0, the odd one that of slot 1.
  BlockStep<kCols> step;
#pragma unroll
  for (int c = 0; c < kC; ++c) {
    // Without branches, so that the columns interleave; a row that sees no token of the block
    // selects its old state (the values computed for it are then unused, NaN included).
    const int col = col_of(c, t);
    const bool sees = n[c] > 0;
    const float m_new = fmaxf(state.m[c], load_max4(sm.red[col][0]));
    const PvScale scale = pv_scale_from_max_fast(exp2_ftz(load_max4(sm.red[col][1]) - m_new));
    const float alpha = exp2_ftz(state.m[c] - m_new);  // 0 on the first block (m = -inf)
    float p[2];
#pragma unroll
    for (int i = 0; i < 2; ++i) p[i] = tok[i] < n[c] ? exp2_ftz(x[c][i] - m_new) : 0.0f;
    const float mult = sees ? scale.mult : 0.0f;
    step.alpha[c] = sees ? alpha : 1.0f;
    step.unmult[c] = sees ? scale.unmult : 0.0f;
    // this thread's part
    state.l[c] = sees ? __fadd_rn(__fmul_rn(state.l[c], alpha), __fadd_rn(p[0], p[1])) : state.l[c];
    state.m[c] = sees ? m_new : state.m[c];
    // P' * mult; exactly 0 for a masked token (whose s may be the NaN poison of a page tail)
    const float lo = tok[0] < n[c] ? __fmul_rn(__fmul_rn(p[0], s[0]), mult) : 0.0f;
    const float hi = tok[1] < n[c] ? __fmul_rn(__fmul_rn(p[1], s[1]), mult) : 0.0f;
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

// At the end of a segment: state.l becomes the row sum over the threads' parts (8 lanes g, 4
// warps). Ends with a barrier, after which sm.red is free again.
template <int kCols>
__device__ __forceinline__ void finish_row_sums(NarrowStorage<kCols>& sm, RowState<kCols>& state) {
  constexpr int kC = kColsPerThread<kCols>;
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, g = lane / 4, t = lane % 4;
  float v[2 * kC];  // the reduce-scatter wants 2 kC values: the odd ones are unused
#pragma unroll
  for (int c = 0; c < kC; ++c) {
    v[2 * c] = state.l[c];
    v[2 * c + 1] = 0.0f;
  }
  reduce_scatter_over_g(v, [](float a, float b) { return __fadd_rn(a, b); });
#pragma unroll
  for (int j = 0; j < kC / 4; ++j) {
    const int idx = g * (kC / 4) + j;
    if (idx % 2 == 0) sm.red[col_of(idx / 2, t)][0][warp] = v[j];
  }
  __syncthreads();
#pragma unroll
  for (int c = 0; c < kC; ++c) {
    const float4 parts = *reinterpret_cast<const float4*>(sm.red[col_of(c, t)][0]);
    state.l[c] = __fadd_rn(__fadd_rn(__fadd_rn(parts.x, parts.y), parts.z), parts.w);
  }
  __syncthreads();
}

}  // namespace snapmla::kernels::decode_narrow

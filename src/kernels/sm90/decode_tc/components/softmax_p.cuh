// Step 3: online softmax and the quantized P of one block (docs/numerics.md), on the score
// fragments. Thread (g, t) of warp (row group, split) holds rows g and g + 8 of the group and
// tokens split * kQkTokensPerWarp + 8 * nt + 2t + {0, 1}; rows are reduced over the quad
// (shuffles) and over the group's splits (shared memory + the row group's named barrier). Per row that sees n > 0 tokens:
//   x = (acc * row_factor) * s[t];  m_new = max(m, max_t x);  alpha = exp2(m - m_new)
//   p = exp2(x - m_new);  l = l * alpha + sum_t p          (unquantized p)
//   P' = p * s[t];  (mult, unmult) = pv_scale_from_max(max_t P');  P8 = e4m3(P' * mult)
// BF16 (FlashMLA's arithmetic): x = acc * scale_log2 (row_factor), P = bf16(p), unmult = 1.
// Masked tokens get P8 = 0 without touching their score. A row that sees no token of the block
// keeps its state (alpha = 1, unmult = 0, P8 = 0). All splits compute the same row state.
// kWholeBlock: the caller knows that every row of the tile sees all 64 tokens of the block (no
// padding row, no causal or length edge), so no token test is compiled in; the common case.
//
// P8 is stored in natural token order where T::kP8NaturalOrder (the wgmma kernel, whose V^T
// needs no permutation), else in the k order of the mma.sync PV B operand (pv.cuh): within each group of 16 tokens,
// token 8a + 2c + e (a, e in {0, 1}, c in 0..3) sits at byte 4c + 2a + e. The bf16 P of the BF16
// kernel is stored in natural token order (2 bytes a token).
#pragma once

#include <cstdint>

#include "common/quant_rules.h"
#include "kernels/common/cuda_utils.cuh"
#include "kernels/sm90/decode_fp8/components/softmax.cuh"
#include "kernels/sm90/decode_tc/components/qk.cuh"

namespace snapmla::kernels::decode_tc {

using decode::nonneg_nan_sticky_max;
using decode::tokens_in_block;

inline constexpr int kRowsPerThread = 2;  // g and g + 8 of the row group

struct RowState {
  float m[kRowsPerThread];  // running max (log2 units)
  float l[kRowsPerThread];  // running sum of unquantized p
};

// What a segment's row state becomes (ref::finish_row): 1 / l and the log2 LSE, or an empty row
// (saw nothing: out 0, lse +inf / partial lse -inf).
struct RowFinish {
  bool empty;
  float inv_l;
  float lse2;
};
__device__ __forceinline__ RowFinish finish_row(float m, float l) {
  const float inf = __int_as_float(0x7f800000);
  const bool empty = l == 0.0f && m == -inf;
  return {empty, empty ? 0.0f : __fdiv_rn(1.0f, l), empty ? -inf : m + log2f(l)};
}
__device__ __forceinline__ RowFinish finish_row(const RowState& state, int i) { return finish_row(state.m[i], state.l[i]); }

struct BlockStep {
  float alpha[kRowsPerThread];   // rescale of O
  float unmult[kRowsPerThread];  // P8 scale inverse
  int n[kRowsPerThread];         // tokens of the block each row sees
};

// Byte of token `tok` (0..63) in a row of p8: the PV k order (see above).
__device__ __forceinline__ int p8_byte_of_token(int tok) {
  const int group = tok / 16, in = tok % 16;
  return group * 16 + 4 * ((in % 8) / 2) + 2 * (in / 8) + (in % 2);
}

// Reductions over the quad (the 4 lanes t of a row).
__device__ __forceinline__ float quad_max(float v) {
  return lane_reduce<1, 4>(v, [](float a, float b) { return fmaxf(a, b); });
}
__device__ __forceinline__ float quad_nonneg_nan_max(float v) { return lane_reduce<1, 4>(v, nonneg_nan_sticky_max); }
__device__ __forceinline__ float quad_sum(float v) {
  return lane_reduce<1, 4>(v, [](float a, float b) { return __fadd_rn(a, b); });
}

// T: the tiling (rows, splits, tokens and n-tiles of a warp, P8 order, T::kSlots: the row slots
// g, g + 8 a thread computes, 1 where the g + 8 rows are all padding); Smem / St: any shared
// storage and page stage with the members used below (the wgmma kernel shares this step).
template <class T, bool kWholeBlock = false, class Smem, class St>
__device__ __forceinline__ BlockStep softmax_and_p(Smem& sm, const St& st, int block, int row_group, int split,
                                                   const ScoreFragment<T>& acc, RowState& state) {
  const int lane = threadIdx.x % kWarpThreads, g = lane / 4, t = lane % 4;
  const float inf = __int_as_float(0x7f800000);
  const int barrier = kFirstGroupBarrier + row_group;
  constexpr bool kFp8 = T::Fmt::kFp8;
  int row[T::kSlots];
  BlockStep step{{1.0f, 1.0f}, {0.0f, 0.0f}, {0, 0}};
#pragma unroll
  for (int i = 0; i < T::kSlots; ++i) {
    row[i] = row_group * kMmaM + g + 8 * i;
    step.n[i] = kWholeBlock ? kTokensPerBlock : tokens_in_block(sm.visible[row[i]], block);
  }
  // Whether row slot i sees token tok. The whole-block form is written without n at all: with
  // n = 64 in both forms, the compiler merged them back into the masked one.
  const auto sees = [&](int i, int tok) { return kWholeBlock || tok < step.n[i]; };

  // Scores and the block max of each row.
  float x[T::kSlots][T::kQkNTiles][2];
  float block_max[T::kSlots];
#pragma unroll
  for (int i = 0; i < T::kSlots; ++i) block_max[i] = -inf;
#pragma unroll
  for (int nt = 0; nt < T::kQkNTiles; ++nt)
#pragma unroll
    for (int e = 0; e < 2; ++e) {
      const int tok = split * T::kQkTokensPerWarp + nt * kMmaN + 2 * t + e;
#pragma unroll
      for (int i = 0; i < T::kSlots; ++i) {
        x[i][nt][e] = __fmul_rn(acc[nt][2 * i + e], sm.row_factor[row[i]]);
        if constexpr (kFp8) x[i][nt][e] = __fmul_rn(x[i][nt][e], st.scale[tok]);  // BF16: s[t] = 1
        if (sees(i, tok)) block_max[i] = fmaxf(block_max[i], x[i][nt][e]);  // fmax: NaN-ignoring like the reference
      }
    }
#pragma unroll
  for (int i = 0; i < T::kSlots; ++i) {
    block_max[i] = quad_max(block_max[i]);
    if (t == 0) sm.red_max[split][row[i]] = block_max[i];
  }
  group_barrier(barrier, T::kGroupThreads);

  // p, P' and the partial sums of each row.
  float m_new[T::kSlots], pv[T::kSlots][T::kQkNTiles][2], pv_max[T::kSlots], p_sum[T::kSlots];
#pragma unroll
  for (int i = 0; i < T::kSlots; ++i) {
    float bm = sm.red_max[0][row[i]];
#pragma unroll
    for (int k = 1; k < T::kSplits; ++k) bm = fmaxf(bm, sm.red_max[k][row[i]]);
    m_new[i] = fmaxf(state.m[i], bm);
    pv_max[i] = 0.0f;
    p_sum[i] = 0.0f;
#pragma unroll
    for (int nt = 0; nt < T::kQkNTiles; ++nt)
#pragma unroll
      for (int e = 0; e < 2; ++e) {
        const int tok = split * T::kQkTokensPerWarp + nt * kMmaN + 2 * t + e;
        const bool seen = sees(i, tok);
        const float p = seen ? exp2_ftz(x[i][nt][e] - m_new[i]) : 0.0f;
        if constexpr (kFp8) {
          pv[i][nt][e] = seen ? __fmul_rn(p, st.scale[tok]) : 0.0f;
          pv_max[i] = nonneg_nan_sticky_max(pv_max[i], pv[i][nt][e]);  // an unseen token adds +0
        } else {
          pv[i][nt][e] = p;  // 0 for masked tokens
        }
        p_sum[i] = __fadd_rn(p_sum[i], p);
      }
    if constexpr (kFp8) pv_max[i] = quad_nonneg_nan_max(pv_max[i]);
    p_sum[i] = quad_sum(p_sum[i]);
    if (t == 0) {
      if constexpr (kFp8) sm.red_pmax[split][row[i]] = pv_max[i];
      sm.red_sum[split][row[i]] = p_sum[i];
    }
  }
  group_barrier(barrier, T::kGroupThreads);

  // The P8 scales (pv_scale_from_max): of the quad's four lanes, lane t divides for slot
  // (t / 2) % kSlots, mult where t is even, unmult where odd, and the quad shares the quotients.
  float scale_mult[T::kSlots], scale_unmult[T::kSlots];
  if constexpr (kFp8) {
    float pmax[T::kSlots];
#pragma unroll
    for (int i = 0; i < T::kSlots; ++i) {
      pmax[i] = sm.red_pmax[0][row[i]];
#pragma unroll
      for (int k = 1; k < T::kSplits; ++k) pmax[i] = nonneg_nan_sticky_max(pmax[i], sm.red_pmax[k][row[i]]);
    }
    const float m = pv_scale_max((t / 2) % T::kSlots == 0 ? pmax[0] : pmax[T::kSlots - 1]);
    const float quotient = t % 2 == 0 ? __fdiv_rn(kE4M3Max, m) : __fdiv_rn(m, kE4M3Max);
    const int quad = lane & ~3;
#pragma unroll
    for (int i = 0; i < T::kSlots; ++i) {
      scale_mult[i] = __shfl_sync(kFullMask, quotient, quad + 2 * i);
      scale_unmult[i] = __shfl_sync(kFullMask, quotient, quad + 2 * i + 1);
    }
  }

  // Row state, P8.
#pragma unroll
  for (int i = 0; i < T::kSlots; ++i) {
    float mult = 0.0f;
    step.alpha[i] = 1.0f;
    step.unmult[i] = 0.0f;
    if (kWholeBlock || step.n[i] > 0) {
      float sum = sm.red_sum[0][row[i]];
#pragma unroll
      for (int k = 1; k < T::kSplits; ++k) sum = __fadd_rn(sum, sm.red_sum[k][row[i]]);
      step.alpha[i] = exp2_ftz(state.m[i] - m_new[i]);  // 0 on the first block (m = -inf)
      if constexpr (kFp8) {
        step.unmult[i] = scale_unmult[i];
        mult = scale_mult[i];
      } else {
        step.unmult[i] = 1.0f;
      }
      state.l[i] = __fadd_rn(__fmul_rn(state.l[i], step.alpha[i]), sum);
      state.m[i] = m_new[i];
    }
#pragma unroll
    for (int nt = 0; nt < T::kQkNTiles; ++nt) {
      const int tok = split * T::kQkTokensPerWarp + nt * kMmaN + 2 * t;
      if constexpr (kFp8) {
        const float lo = sees(i, tok) ? __fmul_rn(pv[i][nt][0], mult) : 0.0f;
        const float hi = sees(i, tok + 1) ? __fmul_rn(pv[i][nt][1], mult) : 0.0f;
        const int byte = T::kP8NaturalOrder ? tok : p8_byte_of_token(tok);
        *reinterpret_cast<std::uint16_t*>(&sm.p8[row[i]][byte]) = e4m3x2_from_float(lo, hi);
      } else {
        const float lo = sees(i, tok) ? pv[i][nt][0] : 0.0f;
        const float hi = sees(i, tok + 1) ? pv[i][nt][1] : 0.0f;
        *reinterpret_cast<std::uint32_t*>(&sm.p8[row[i]][2 * tok]) = bf16x2_from_float(lo, hi);
      }
    }
  }
  return step;
}

}  // namespace snapmla::kernels::decode_tc

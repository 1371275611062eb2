// Step 3 of the 64-row kernel: online softmax and P8 of one block, with one exchange between
// the two warpgroups (each holds 32 of the block's 64 tokens of a row: its "split" s).
// The arithmetic is decode_tc's softmax step (docs/numerics.md), reordered so that everything a
// split needs from the other is exchanged once. Before the exchange each split works relative
// to its own block max bm_s (rows g, g + 8 of the warp, tokens t of the split):
//   x_t = (acc * row_factor) * s[t],  bm_s = max_t x_t
//   q_t = exp2(x_t - bm_s),  P'_t = q_t * s[t],  pm_s = max_t P'_t,  sum_s = sum_t q_t
// and publishes (bm_s, pm_s, sum_s). After it, with m_new = max(m, bm_0, bm_1) and
// c_s = exp2(bm_s - m_new), both splits compute the same row state:
//   alpha = exp2(m - m_new),  l = l * alpha + (sum_0 c_0 + sum_1 c_1)
//   pmax = max(pm_0 c_0, pm_1 c_1),  (mult, unmult) = pv_scale_from_max(pmax)
//   P8_t = e4m3(P'_t * (c_s * mult))
// Since q_t c_s = exp2(x_t - m_new) = p_t, this is the emulation's P' = p s[t] and its block
// sums up to fp32 rounding (a few ulps in P' * mult, ~1e-7 in l); the tests' bounds cover it
// (tests/common/tolerances.h). decode_tc's step exchanges twice (the max, then P' max and sum).
// A row that sees no token of the block keeps its state (alpha = 1, unmult = 0, P8 = 0).
// kWholeBlock: every row of the tile sees all 64 tokens (no token test compiled in).
#pragma once

#include <cstdint>

#include "common/quant_rules.h"
#include "kernels/common/cuda_utils.cuh"
#include "kernels/sm90/decode_tc/components/softmax_p.cuh"
#include "kernels/sm90/decode_wgmma/components/shared_storage.cuh"

namespace snapmla::kernels::decode_wgmma {

using decode_tc::BlockStep;
using decode_tc::kRowsPerThread;
using decode_tc::RowState;

template <class T, bool kWholeBlock = false>
__device__ __forceinline__ BlockStep softmax_one_exchange(SharedStorage& sm, const PageStage& st, int block,
                                                          int row_group, int split,
                                                          const decode_tc::ScoreFragment<T>& acc, RowState& state) {
  static_assert(T::kSplits == 2 && T::kSlots == kRowsPerThread && T::kP8NaturalOrder);
  const int lane = threadIdx.x % kWarpThreads, g = lane / 4, t = lane % 4;
  const float inf = __int_as_float(0x7f800000);
  int row[kRowsPerThread];
  BlockStep step{{1.0f, 1.0f}, {0.0f, 0.0f}, {0, 0}};
#pragma unroll
  for (int i = 0; i < kRowsPerThread; ++i) {
    row[i] = row_group * 16 + g + 8 * i;
    step.n[i] = kWholeBlock ? kTokensPerBlock : decode_tc::tokens_in_block(sm.visible[row[i]], block);
  }
  const auto sees = [&](int i, int tok) { return kWholeBlock || tok < step.n[i]; };
  const auto token = [&](int nt, int e) { return split * T::kQkTokensPerWarp + nt * 8 + 2 * t + e; };

  // Scores and this split's block max of each row (fmax: NaN-ignoring, like the reference).
  float x[kRowsPerThread][T::kQkNTiles][2], bm[kRowsPerThread];
#pragma unroll
  for (int i = 0; i < kRowsPerThread; ++i) bm[i] = -inf;
#pragma unroll
  for (int nt = 0; nt < T::kQkNTiles; ++nt)
#pragma unroll
    for (int e = 0; e < 2; ++e)
#pragma unroll
      for (int i = 0; i < kRowsPerThread; ++i) {
        x[i][nt][e] = __fmul_rn(__fmul_rn(acc[nt][2 * i + e], sm.row_factor[row[i]]), st.scale[token(nt, e)]);
        if (sees(i, token(nt, e))) bm[i] = fmaxf(bm[i], x[i][nt][e]);
      }
  // q, P' (kept in x) and this split's P' max and sum of q, published with bm.
#pragma unroll
  for (int i = 0; i < kRowsPerThread; ++i) {
    bm[i] = decode_tc::quad_max(bm[i]);
    float pm = 0.0f, sum = 0.0f;
#pragma unroll
    for (int nt = 0; nt < T::kQkNTiles; ++nt)
#pragma unroll
      for (int e = 0; e < 2; ++e) {
        const int tok = token(nt, e);
        // Masked after the product: the s[t] of a page tail is the NaN poison.
        const float q = sees(i, tok) ? exp2_ftz(x[i][nt][e] - bm[i]) : 0.0f;
        x[i][nt][e] = sees(i, tok) ? __fmul_rn(q, st.scale[tok]) : 0.0f;
        pm = decode::nonneg_nan_sticky_max(pm, x[i][nt][e]);
        sum = __fadd_rn(sum, q);
      }
    pm = decode_tc::quad_nonneg_nan_max(pm);
    sum = decode_tc::quad_sum(sum);
    if (t == 0) {
      sm.red_max[split][row[i]] = bm[i];
      sm.red_pmax[split][row[i]] = pm;
      sm.red_sum[split][row[i]] = sum;
    }
  }
  decode_tc::group_barrier(decode_tc::kFirstGroupBarrier + row_group, T::kGroupThreads);

  // The row state (the same in both splits: same values, same order) and the P8 scales. Of
  // the quad's four lanes, lane t divides for slot (t / 2) % 2, mult where t is even, unmult
  // where odd, and the quad shares the quotients.
  float own_c[kRowsPerThread], pmax[kRowsPerThread];
#pragma unroll
  for (int i = 0; i < kRowsPerThread; ++i) {
    const float bm0 = sm.red_max[0][row[i]], bm1 = sm.red_max[1][row[i]];
    const float m_new = fmaxf(state.m[i], fmaxf(bm0, bm1));
    // exp2(-inf - m_new) = 0 for a split that saw nothing of the row.
    const float c0 = exp2_ftz(bm0 - m_new), c1 = exp2_ftz(bm1 - m_new);
    own_c[i] = split == 0 ? c0 : c1;
    pmax[i] = decode::nonneg_nan_sticky_max(__fmul_rn(sm.red_pmax[0][row[i]], c0),
                                            __fmul_rn(sm.red_pmax[1][row[i]], c1));
    if (kWholeBlock || step.n[i] > 0) {
      const float sum = __fadd_rn(__fmul_rn(sm.red_sum[0][row[i]], c0), __fmul_rn(sm.red_sum[1][row[i]], c1));
      step.alpha[i] = exp2_ftz(state.m[i] - m_new);  // 0 on the first block (m = -inf)
      state.l[i] = __fadd_rn(__fmul_rn(state.l[i], step.alpha[i]), sum);
      state.m[i] = m_new;
    }
  }
  const float m = pv_scale_max((t / 2) % 2 == 0 ? pmax[0] : pmax[1]);
  const float quotient = t % 2 == 0 ? __fdiv_rn(kE4M3Max, m) : __fdiv_rn(m, kE4M3Max);
  const int quad = lane & ~3;
#pragma unroll
  for (int i = 0; i < kRowsPerThread; ++i) {
    const float mult = __shfl_sync(0xffffffffu, quotient, quad + 2 * i);
    const float unmult = __shfl_sync(0xffffffffu, quotient, quad + 2 * i + 1);
    const bool any = kWholeBlock || step.n[i] > 0;
    step.unmult[i] = any ? unmult : 0.0f;
    const float scale = any ? __fmul_rn(own_c[i], mult) : 0.0f;
#pragma unroll
    for (int nt = 0; nt < T::kQkNTiles; ++nt) {
      const int tok = token(nt, 0);
      const float lo = sees(i, tok) ? __fmul_rn(x[i][nt][0], scale) : 0.0f;
      const float hi = sees(i, tok + 1) ? __fmul_rn(x[i][nt][1], scale) : 0.0f;
      *reinterpret_cast<std::uint16_t*>(&sm.p8[row[i]][tok]) = decode_tc::e4m3x2_from_float(lo, hi);
    }
  }
  return step;
}

}  // namespace snapmla::kernels::decode_wgmma

// Step 3 of the 64-row kernel: online softmax and P8 of one block, computed by the warpgroup
// that owns the block (all 64 tokens of its rows: no exchange inside the block), and the same
// block's row update as the other warpgroup derives it from the owner's exchange slot.
// The arithmetic is the emulation's (docs/numerics.md), per row that sees n > 0 tokens:
//   x = (acc * row_factor) * s[t];  m_new = max(m, max_t x);  alpha = exp2(m - m_new)
//   p = exp2(x - m_new);  l = l * alpha + sum_t p          (unquantized p)
//   P' = p * s[t];  (mult, unmult) = pv_scale_from_max(max_t P');  P8 = e4m3(P' * mult)
// A row that sees no token of the block keeps its state (alpha = 1, unmult = 0, P8 = 0).
//
// The owner publishes the block's P8 (in PV's B layout) and, per row, its block max, alpha,
// unmult and sum in its exchange slot, and per warp whether any of its rows has alpha != 1
// (its rescale votes). PV reads P8, alpha and unmult for its 16 query rows a
// thread; both warpgroups fold the slot's row values into their row state (fold_row_state) in
// block order, so they hold the same (m, l) throughout: warpgroup 1 needs m for its softmax,
// warpgroup 0 publishes the final state for the epilogue.
// kWholeBlock: every row of the tile sees all 64 tokens (no token test compiled in).
#pragma once

#include <cstdint>

#include "common/quant_rules.h"
#include "kernels/common/cuda_utils.cuh"
#include "kernels/sm90/decode_tc/components/softmax_p.cuh"
#include "kernels/sm90/decode_wgmma/components/qk.cuh"

namespace snapmla::kernels::decode_wgmma {

using decode_tc::kRowsPerThread;
using decode_tc::RowState;

__device__ __forceinline__ int fold_row(int warp, int i) { return 16 * warp + (threadIdx.x % kWarpThreads) / 4 + 8 * i; }

// The owner's softmax of block `block` (acc: its two halves of scores), relative to m_prev (the
// running max after the previous block). Writes P8, block max, alpha, unmult and sum to `slot`
// and the warp's rescale vote to `votes`; after_max() runs once the block max is written
// (warpgroup 0 signals warpgroup 1 there).
template <bool kWholeBlock, class AfterMax>
__device__ __forceinline__ void softmax_own_block(const SharedStorage& sm, ExchangeSlot& slot, RescaleVotes& votes,
                                                  const PageStage& st,
                                                  int block, int warp, const float (&m_prev)[kRowsPerThread],
                                                  const ScoreAcc (&acc)[kQkHalves], AfterMax&& after_max) {
  const int lane = threadIdx.x % kWarpThreads, t = lane % 4;
  const float inf = __int_as_float(0x7f800000);
  int row[kRowsPerThread], n[kRowsPerThread];
#pragma unroll
  for (int i = 0; i < kRowsPerThread; ++i) {
    row[i] = fold_row(warp, i);
    n[i] = kWholeBlock ? kTokensPerBlock : decode_tc::tokens_in_block(sm.visible[row[i]], block);
  }
  // Written without n in the whole-block form: with n = 64 the compiler merged the two forms
  // back into the masked one (docs/perf.md, v20).
  const auto sees = [&](int i, int tok) { return kWholeBlock || tok < n[i]; };
  const auto token = [&](int h, int nt, int e) { return h * kQkHalfTokens + nt * 8 + 2 * t + e; };

  // The scales of the thread's tokens, read as pairs (tokens 2 t and 2 t + 1 of each n-tile are
  // adjacent): half the loads of one a token. Read again after after_max(), whose arrival orders
  // memory, rather than held across it.
  const auto scales = [&](int h, int nt) { return *reinterpret_cast<const float2*>(&st.scale[token(h, nt, 0)]); };
  const auto scale_of = [](const float2& sc, int e) { return e == 0 ? sc.x : sc.y; };

  // Scores and the block max of each row (fmax: NaN-ignoring, like the reference).
  float x[kRowsPerThread][kQkHalves][kQkNTiles][2], bm[kRowsPerThread];
#pragma unroll
  for (int i = 0; i < kRowsPerThread; ++i) bm[i] = -inf;
#pragma unroll
  for (int h = 0; h < kQkHalves; ++h)
#pragma unroll
    for (int nt = 0; nt < kQkNTiles; ++nt) {
      const float2 sc = scales(h, nt);
#pragma unroll
      for (int e = 0; e < 2; ++e)
#pragma unroll
        for (int i = 0; i < kRowsPerThread; ++i) {
          const int tok = token(h, nt, e);
          x[i][h][nt][e] = __fmul_rn(__fmul_rn(acc[h][nt][2 * i + e], sm.row_factor[row[i]]), scale_of(sc, e));
          if (sees(i, tok)) bm[i] = fmaxf(bm[i], x[i][h][nt][e]);
        }
    }
#pragma unroll
  for (int i = 0; i < kRowsPerThread; ++i) {
    bm[i] = decode_tc::quad_max(bm[i]);
    if (t == 0) slot.block_max[row[i]] = bm[i];
  }
  after_max();

  // p, P' (kept in x), the P' max and the sum of p.
  float pmax[kRowsPerThread], sum[kRowsPerThread];
#pragma unroll
  for (int i = 0; i < kRowsPerThread; ++i) {
    const float m_new = fmaxf(m_prev[i], bm[i]);
    float pm = 0.0f, s = 0.0f;
#pragma unroll
    for (int h = 0; h < kQkHalves; ++h)
#pragma unroll
      for (int nt = 0; nt < kQkNTiles; ++nt) {
        const float2 sc = scales(h, nt);
#pragma unroll
        for (int e = 0; e < 2; ++e) {
          const int tok = token(h, nt, e);
          // Masked after the product: the s[t] of a page tail is the NaN poison.
          const float p = sees(i, tok) ? exp2_ftz(x[i][h][nt][e] - m_new) : 0.0f;
          x[i][h][nt][e] = sees(i, tok) ? __fmul_rn(p, scale_of(sc, e)) : 0.0f;
          pm = decode::nonneg_nan_sticky_max(pm, x[i][h][nt][e]);  // an unseen token adds +0
          s = __fadd_rn(s, p);
        }
      }
    pmax[i] = decode_tc::quad_nonneg_nan_max(pm);
    sum[i] = decode_tc::quad_sum(s);
  }
  // The P8 scales (pv_scale_from_max): of the quad's four lanes, lane t divides for row slot
  // (t / 2) % 2, mult where t is even, unmult where odd, and the quad shares the quotients.
  const float m = pv_scale_max((t / 2) % 2 == 0 ? pmax[0] : pmax[1]);
  const float quotient = t % 2 == 0 ? __fdiv_rn(kE4M3Max, m) : __fdiv_rn(m, kE4M3Max);
  const int quad = lane & ~3;
  float alpha[kRowsPerThread];
#pragma unroll
  for (int i = 0; i < kRowsPerThread; ++i) {
    const float mult_any = __shfl_sync(0xffffffffu, quotient, quad + 2 * i);
    const float unmult_any = __shfl_sync(0xffffffffu, quotient, quad + 2 * i + 1);
    const bool any = kWholeBlock || n[i] > 0;
    const float mult = any ? mult_any : 0.0f;
    // n-tiles nt and nt + 1 (nt even) land in adjacent byte pairs of P8 (decode_narrow::
    // p8_k_of_token: token 8 a + 2 t + e of 16 at byte 4 t + 2 a + e): one 32-bit store.
    const auto p8_pair = [&](int h, int nt) {
      const int tok = token(h, nt, 0);
      const float lo = sees(i, tok) ? __fmul_rn(x[i][h][nt][0], mult) : 0.0f;
      const float hi = sees(i, tok + 1) ? __fmul_rn(x[i][h][nt][1], mult) : 0.0f;
      return static_cast<std::uint32_t>(decode_tc::e4m3x2_from_float(lo, hi));
    };
#pragma unroll
    for (int h = 0; h < kQkHalves; ++h)
#pragma unroll
      for (int nt = 0; nt < kQkNTiles; nt += 2)
        *reinterpret_cast<std::uint32_t*>(&slot.p8[p8_offset(row[i], token(h, nt, 0))]) =
            p8_pair(h, nt) | (p8_pair(h, nt + 1) << 16);
    // 0 on the first block (m = -inf)
    alpha[i] = any ? exp2_ftz(m_prev[i] - fmaxf(m_prev[i], bm[i])) : 1.0f;
    if (t == 0) {
      slot.alpha[row[i]] = alpha[i];
      slot.unmult[row[i]] = any ? unmult_any : 0.0f;
      slot.sum[row[i]] = sum[i];
    }
  }
  // Whether O must be rescaled for this block (some row's max grew): one word a warp, so that
  // PV reads four words instead of its 16 rows' alpha and a vote over them (pv.cuh).
  const bool rescales = __any_sync(0xffffffffu, alpha[0] != 1.0f || alpha[1] != 1.0f);
  if (lane == 0) votes[warp] = rescales;
}

// The running max after the owner's block, from its slot (warpgroup 1 needs it before its own
// block's softmax: block max m_new = max(m, block max) is the owner's m_new exactly).
__device__ __forceinline__ void max_after_slot(const ExchangeSlot& slot, int warp, const RowState& state,
                                               float (&m)[kRowsPerThread]) {
#pragma unroll
  for (int i = 0; i < kRowsPerThread; ++i) m[i] = fmaxf(state.m[i], slot.block_max[fold_row(warp, i)]);
}

// The row state after block `block` of its owner's slot (both warpgroups, every block, in
// block order): l = l * alpha + sum, m = max(m, block max) where the row sees the block.
template <bool kWholeBlock>
__device__ __forceinline__ void fold_row_state(const SharedStorage& sm, const ExchangeSlot& slot, int block, int warp,
                                               RowState& state) {
#pragma unroll
  for (int i = 0; i < kRowsPerThread; ++i) {
    const int row = fold_row(warp, i);
    if (kWholeBlock || decode_tc::tokens_in_block(sm.visible[row], block) > 0) {
      state.l[i] = __fadd_rn(__fmul_rn(state.l[i], slot.alpha[row]), slot.sum[row]);
      state.m[i] = fmaxf(state.m[i], slot.block_max[row]);
    }
  }
}

}  // namespace snapmla::kernels::decode_wgmma

// Step 2, by the warpgroup that owns the page: raw scores of the tile's 64 rows x the page's 64
// tokens,
//   acc = q_nope8 . kv8[t] (16 wgmma m64n64k32 e4m3) + q_rope . k_rope[t] (4 wgmma m64n64k16 bf16)
// A and B are SW128 K-major tiles: k-step ks of column block kb starts kb * rows * 128 +
// (ks % 4) * 32 bytes in. The accumulator holds 8 n-tiles of 8 tokens (wgmma_ops.cuh's
// fragment order), kept as two halves of 4 n-tiles (acc[h][nt]: tokens 32 h + 8 nt + ...).
//
// Two-level accumulation: Hopper's FP8 tensor-core accumulator keeps fewer bits than fp32 (the
// products of an instruction are aligned to the largest and truncated, the incoming accumulator
// with them), so a chain of 16 e4m3 k-steps drifts from the emulation's fp32 dot product (LSE
// errors of 1-2e-2 when chained, see docs/perf.md). Every kKStepsPerPromotion e4m3 k-steps
// therefore start from zero in one of kQkBlockStaging staging accumulators (the first ones in acc
// itself) and are added into acc in fp32 while the next ones run; the bf16 RoPE chain (full fp32
// accumulation) is staged once.
#pragma once

#include <cstdint>

#include "kernels/sm90/decode_wgmma/components/shared_storage.cuh"
#include "kernels/sm90/decode_wgmma/components/wgmma_ops.cuh"

namespace snapmla::kernels::decode_wgmma {

inline constexpr int kQkNTiles = kQkHalfTokens / 8;  // 4
inline constexpr int kQkRegs = 4 * kQkNTiles;                // 16
using ScoreAcc = float[kQkNTiles][4];

// The whole page in one pass of m64n64 (Q read once a page) with two staging accumulators:
// S 32 + staging 64 registers beside O's 128. One staging accumulator (every group waiting for
// its wgmma) took ~1.6x as long (docs/perf.md, the seesaw: ssB against ssC); two halves of 32
// tokens read Q twice. Every warp promotes, a warp of padding rows too: its scores are never
// used, and skipping the adds would cost a branch per group.
inline constexpr int kQkBlockRegs = 2 * kQkRegs;  // 32
inline constexpr int kQkBlockStaging = 2;
__device__ __forceinline__ void compute_scores(const SharedStorage& sm, const PageStage& st,
                                               ScoreAcc (&acc)[kQkHalves]) {
  float(&d)[kQkBlockRegs] = reinterpret_cast<float(&)[kQkBlockRegs]>(acc);  // j = 4 h + nt: acc[h][nt]
  float part[kQkBlockStaging][kQkBlockRegs];
#pragma unroll
  for (int i = 0; i < kQkBlockRegs; ++i) {
    d[i] = 0.0f;
#pragma unroll
    for (int b = 0; b < kQkBlockStaging; ++b) part[b][i] = 0.0f;
  }
  const std::uint64_t a_content = sw128_desc(smem_u32(sm.q_content));
  const std::uint64_t b_content = sw128_desc(smem_u32(st.content));
  const std::uint64_t a_rope = sw128_desc(smem_u32(sm.q_rope));
  const std::uint64_t b_rope = sw128_desc(smem_u32(st.rope));
  const auto content = [&](int k, float(&s)[kQkBlockRegs], bool accumulate) {
    qk_content_block(advance_desc(a_content, sw128_offset(kRowsPerCta, 0, k)),
                     advance_desc(b_content, sw128_offset(kTokensPerBlock, 0, k)), s, accumulate);
  };
  const auto rope = [&](int k, float(&s)[kQkBlockRegs], bool accumulate) {
    qk_rope_block(advance_desc(a_rope, k), advance_desc(b_rope, k), s, accumulate);
  };
  const auto issue = [&](int grp, float(&stage)[kQkBlockRegs]) {
    issue_qk_group<kKStepsPerPromotion>(grp, stage, content, rope);
  };
  staged_groups<kQkGroups<kKStepsPerPromotion>, kQkBlockStaging>(d, part, issue, [](int) {},
                                            [&](float(&stage)[kQkBlockRegs]) { add_promoted(d, stage); });
}

}  // namespace snapmla::kernels::decode_wgmma

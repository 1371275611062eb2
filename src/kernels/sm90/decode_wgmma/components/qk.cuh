// Step 2: raw scores of the tile's 64 rows x the warpgroup's 32 tokens of the page,
//   acc = q_nope8 . kv8[t] (16 wgmma m64n32k32 e4m3) + q_rope . k_rope[t] (4 wgmma m64n32k16 bf16)
// A and B are SW128 K-major tiles: k-step ks of column block kb starts kb * rows * 128 +
// (ks % 4) * 32 bytes in, the warpgroup's tokens 32 rows (four 8-row atoms) down the K tiles.
// The accumulator is decode_tc's ScoreFragment (4 n-tiles of 8 tokens), which its softmax step
// consumes.
//
// Two-level accumulation: Hopper's FP8 tensor-core accumulator keeps fewer bits than fp32 (the
// products of an instruction are aligned to the largest and truncated, the incoming accumulator
// with them), so a chain of 16 e4m3 k-steps drifts from the emulation's fp32 dot product (LSE
// errors of 1-2e-2 when chained, see docs/perf.md). Every kKStepsPerPromotion e4m3 k-steps
// therefore start from zero in one of kQkStaging staging accumulators and are added into acc in
// fp32 while the next ones run; the bf16 RoPE chain (full fp32 accumulation) is staged once.
#pragma once

#include <cstdint>

#include "kernels/sm90/decode_wgmma/components/shared_storage.cuh"
#include "kernels/sm90/decode_wgmma/components/wgmma_ops.cuh"

namespace snapmla::kernels::decode_wgmma {

inline constexpr int kQkNTiles = kQkTokensPerWarpgroup / 8;  // 4
inline constexpr int kQkRegs = 4 * kQkNTiles;                // 16
inline constexpr int kQkStaging = 2;                         // groups in flight (3 measured no faster, and spilled)
using ScoreAcc = float[kQkNTiles][4];

// Every warp promotes, a warp of padding rows too: its scores are never used, and skipping the
// adds would cost a branch per group.
__device__ __forceinline__ void compute_scores(const SharedStorage& sm, const PageStage& st, int wg, ScoreAcc& acc) {
  float(&d)[kQkRegs] = reinterpret_cast<float(&)[kQkRegs]>(acc);
  float part[kQkStaging][kQkRegs];
#pragma unroll
  for (int i = 0; i < kQkRegs; ++i) {
    d[i] = 0.0f;
#pragma unroll
    for (int b = 0; b < kQkStaging; ++b) part[b][i] = 0.0f;
  }
  // Base descriptors, once per page; each k-step advances them by a constant.
  const int token_row = wg * kQkTokensPerWarpgroup;
  const std::uint64_t a_content = sw128_desc(smem_u32(sm.q_content));
  const std::uint64_t b_content = sw128_desc(smem_u32(st.content) + token_row * kSw128RowBytes);
  const std::uint64_t a_rope = sw128_desc(smem_u32(sm.q_rope));
  const std::uint64_t b_rope = sw128_desc(smem_u32(st.rope) + token_row * kSw128RowBytes);
  const auto content = [&](int k, float(&s)[kQkRegs], bool accumulate) {
    qk_content(advance_desc(a_content, sw128_offset(kRowsPerCta, 0, k)),
               advance_desc(b_content, sw128_offset(kTokensPerBlock, 0, k)), s, accumulate);
  };
  const auto rope = [&](int k, float(&s)[kQkRegs], bool accumulate) {
    qk_rope(advance_desc(a_rope, k), advance_desc(b_rope, k), s, accumulate);
  };
  const auto issue = [&](int grp, float(&stage)[kQkRegs]) { issue_qk_group(grp, stage, content, rope); };
  staged_groups<kQkGroups, kQkStaging>(part, issue, [](int) {}, [&](float(&stage)[kQkRegs]) { add_promoted(d, stage); });
}

}  // namespace snapmla::kernels::decode_wgmma

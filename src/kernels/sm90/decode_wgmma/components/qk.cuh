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
// errors of 1-2e-2 when chained, see docs/perf.md). Each e4m3 k-step therefore starts from zero
// in one of two staging accumulators and is added into acc in fp32 while the next one runs; the
// bf16 RoPE chain (full fp32 accumulation) is staged once.
#pragma once

#include <cstdint>

#include "kernels/sm90/decode_wgmma/components/shared_storage.cuh"
#include "kernels/sm90/decode_wgmma/components/wgmma_ops.cuh"

namespace snapmla::kernels::decode_wgmma {

inline constexpr int kQkNTiles = kQkTokensPerWarpgroup / 8;  // 4
inline constexpr int kQkRegs = 4 * kQkNTiles;                // 16
using ScoreAcc = float[kQkNTiles][4];

__device__ __forceinline__ void add_staged(float (&d)[kQkRegs], float (&part)[kQkRegs]) {
  fence_operands(part);
#pragma unroll
  for (int i = 0; i < kQkRegs; ++i) d[i] = __fadd_rn(d[i], part[i]);
}

// `between(grp)` runs after group grp is issued, while the tensor cores work (the V^T pieces).
template <class Between>
__device__ __forceinline__ void compute_scores(const SharedStorage& sm, const PageStage& st, int wg, ScoreAcc& acc,
                                               Between&& between) {
  float(&d)[kQkRegs] = reinterpret_cast<float(&)[kQkRegs]>(acc);
  float part[2][kQkRegs];
#pragma unroll
  for (int i = 0; i < kQkRegs; ++i) { d[i] = 0.0f; part[0][i] = 0.0f; part[1][i] = 0.0f; }
  const int token_row = wg * kQkTokensPerWarpgroup;
  const std::uint32_t q_content = smem_u32(sm.q_content), q_rope = smem_u32(sm.q_rope);
  const std::uint32_t k_content = smem_u32(st.content) + token_row * kSw128RowBytes;
  const std::uint32_t k_rope = smem_u32(st.rope) + token_row * kSw128RowBytes;
  constexpr int kStepsPerBlock = kSw128RowBytes / kContentKStepBytes;  // 4
  constexpr int kGroups = kContentKSteps + 1;                          // + the RoPE chain
#pragma unroll
  for (int grp = 0; grp < kGroups; ++grp) {
    float(&stage)[kQkRegs] = part[grp % 2];
    fence_operands(stage);
    cute::warpgroup_arrive();
    if (grp < kContentKSteps) {
      const int kb = grp / kStepsPerBlock, k_byte = (grp % kStepsPerBlock) * kContentKStepBytes;
      qk_content(sw128_desc(q_content + kb * kRowsPerCta * kSw128RowBytes + k_byte),
                 sw128_desc(k_content + kb * kTokensPerBlock * kSw128RowBytes + k_byte), stage, false);
    } else {
#pragma unroll
      for (int ks = 0; ks < kRopeKSteps; ++ks)
        qk_rope(sw128_desc(q_rope + ks * kRopeKStepBytes), sw128_desc(k_rope + ks * kRopeKStepBytes), stage, ks > 0);
    }
    cute::warpgroup_commit_batch();
    between(grp);
    if (grp > 0) {
      cute::warpgroup_wait<1>();  // the previous group is done; this one runs on
      add_staged(d, part[(grp + 1) % 2]);
    }
  }
  cute::warpgroup_wait<0>();
  add_staged(d, part[(kGroups + 1) % 2]);
}

}  // namespace snapmla::kernels::decode_wgmma

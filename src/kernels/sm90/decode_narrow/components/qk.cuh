// Step 2: S^T[64 tokens, kCols rows] of one page, A = the page (SW128, 64 token rows), B = Q
// (SW128, kCols rows). As in the wgmma kernel (its qk.cuh says why), the e4m3 k-steps are
// promoted to fp32: every kKStepsPerPromotion of them start from zero in one of kQkStaging
// staging accumulators and are added into the fp32 scores while the next ones run; the bf16
// RoPE chain is staged once.
#pragma once

#include <cstdint>

#include "kernels/sm90/decode_narrow/components/mma.cuh"
#include "kernels/sm90/decode_narrow/components/shared_storage.cuh"

namespace snapmla::kernels::decode_narrow {

using decode_wgmma::kContentKStepBytes;
using decode_wgmma::kContentKSteps;
using decode_wgmma::kRopeKStepBytes;
using decode_wgmma::kRopeKSteps;

template <int kCols>
inline constexpr int kQkStaging = kCols == 16 ? 4 : 2;  // tensor-core groups in flight
using decode_wgmma::kKStepsPerPromotion;  // decode_wgmma/config.h says why 1

template <int kCols>
__device__ __forceinline__ void compute_scores(const NarrowStorage<kCols>& sm, const PageStage& st,
                                               float (&acc)[kCols / 2]) {
  constexpr int kRegs = kCols / 2, kStaging = kQkStaging<kCols>;
  float part[kStaging][kRegs];
#pragma unroll
  for (int i = 0; i < kRegs; ++i) {
    acc[i] = 0.0f;
#pragma unroll
    for (int b = 0; b < kStaging; ++b) part[b][i] = 0.0f;
  }
  // Base descriptors, once per page; each k-step advances them by a constant.
  const std::uint64_t k_content = sw128_desc(smem_u32(st.content)), k_rope = sw128_desc(smem_u32(st.rope));
  const std::uint64_t q_content = sw128_desc(smem_u32(sm.q_content)), q_rope = sw128_desc(smem_u32(sm.q_rope));
  constexpr int kContentGroups = kContentKSteps / kKStepsPerPromotion;
  constexpr int kGroups = kContentGroups + 1;  // + the RoPE chain
  const auto issue = [&](int grp, float(&stage)[kRegs]) {
    if (grp < kContentGroups) {
#pragma unroll
      for (int kk = 0; kk < kKStepsPerPromotion; ++kk) {
        const int k = (grp * kKStepsPerPromotion + kk) * kContentKStepBytes;  // the k-step's first byte
        qk_content<kCols>(advance_desc(k_content, decode_wgmma::sw128_offset(kTokensPerBlock, 0, k)),
                          advance_desc(q_content, decode_wgmma::sw128_offset(kCols, 0, k)), stage, kk > 0);
      }
    } else {
#pragma unroll
      for (int ks = 0; ks < kRopeKSteps; ++ks)
        qk_rope<kCols>(advance_desc(k_rope, ks * kRopeKStepBytes), advance_desc(q_rope, ks * kRopeKStepBytes), stage,
                       ks > 0);
    }
  };
  decode_wgmma::staged_groups<kGroups, kStaging>(part, issue, [](int) {},
                                                 [&](const float(&stage)[kRegs]) { decode_wgmma::add_promoted(acc, stage); });
}

}  // namespace snapmla::kernels::decode_narrow

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

template <int kCols>
inline constexpr int kQkStaging = kCols == 16 ? 4 : 2;  // tensor-core groups in flight

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
  const decode_wgmma::QkDescriptors desc{sw128_desc(smem_u32(st.content)), sw128_desc(smem_u32(sm.q_content)),
                                         sw128_desc(smem_u32(st.rope)), sw128_desc(smem_u32(sm.q_rope))};
  const auto content = [](std::uint64_t a, std::uint64_t b, float(&s)[kRegs], bool accumulate) {
    qk_content<kCols>(a, b, s, accumulate);
  };
  const auto rope = [](std::uint64_t a, std::uint64_t b, float(&s)[kRegs], bool accumulate) {
    qk_rope<kCols>(a, b, s, accumulate);
  };
  const auto issue = [&](int grp, float(&stage)[kRegs]) {
    decode_wgmma::issue_qk_group<kTokensPerBlock, kCols>(grp, desc, stage, content, rope);
  };
  decode_wgmma::staged_groups<decode_wgmma::kQkGroups, kStaging>(
      part, issue, [](int) {}, [&](const float(&stage)[kRegs]) { decode_wgmma::add_promoted(acc, stage); });
}

}  // namespace snapmla::kernels::decode_narrow

// Step 2: S^T[64 tokens, kCols rows] of one page, A = the page (SW128, 64 token rows, content
// in its lo and hi parts, load.cuh), B = Q (SW128, kCols rows). As in the wgmma kernel (its
// qk.cuh says why), the e4m3 k-steps are promoted to fp32: every kSteps of them (one at 16
// rows, two at 32: decode_wgmma::qk_ksteps_per_promotion) start from zero in one of kQkStaging
// staging accumulators (the first ones in the scores themselves) and are added into the fp32
// scores while the next ones run; the bf16 RoPE chain is staged once.
#pragma once

#include <cstdint>

#include "kernels/sm90/decode_narrow/components/load.cuh"
#include "kernels/sm90/decode_narrow/components/mma.cuh"
#include "kernels/sm90/decode_narrow/components/shared_storage.cuh"

namespace snapmla::kernels::decode_narrow {

template <int kCols>
inline constexpr int kQkStaging = kCols == 16 ? 4 : 2;  // tensor-core groups in flight

// `before_hi()` runs after the k-steps of the page's lo part are issued and before any that
// read its hi part (the split ring waits for hi there).
template <int kCols, class BeforeHi>
__device__ __forceinline__ void compute_scores(const NarrowStorage<kCols>& sm, const PageView& page,
                                               float (&acc)[kCols / 2], BeforeHi&& before_hi) {
  constexpr int kRegs = kCols / 2, kStaging = kQkStaging<kCols>;
  constexpr int kSteps = decode_wgmma::qk_ksteps_per_promotion(kCols);
  constexpr int kLoGroups =
      kLoBytes / kTokensPerBlock / decode_wgmma::kContentKStepBytes / kSteps;  // groups whose k-steps read lo
  float part[kStaging][kRegs];
#pragma unroll
  for (int i = 0; i < kRegs; ++i) {
    acc[i] = 0.0f;
#pragma unroll
    for (int b = 0; b < kStaging; ++b) part[b][i] = 0.0f;
  }
  // Base descriptors, once per page; each k-step advances them by a constant.
  const std::uint64_t a_lo = sw128_desc(smem_u32(page.lo)), a_hi = sw128_desc(smem_u32(page.hi));
  const std::uint64_t b_content = sw128_desc(smem_u32(sm.q_content));
  const std::uint64_t a_rope = sw128_desc(smem_u32(page.rope)), b_rope = sw128_desc(smem_u32(sm.q_rope));
  constexpr int kLoK = kLoBlocks * decode_wgmma::kSw128RowBytes;  // the lo part's bytes of a row
  const auto content = [&](int k, float(&s)[kRegs], bool accumulate) {
    const std::uint64_t a = k < kLoK ? advance_desc(a_lo, decode_wgmma::sw128_offset(kTokensPerBlock, 0, k))
                                     : advance_desc(a_hi, decode_wgmma::sw128_offset(kTokensPerBlock, 0, k - kLoK));
    qk_content<kCols>(a, advance_desc(b_content, decode_wgmma::sw128_offset(kCols, 0, k)), s, accumulate);
  };
  const auto rope = [&](int k, float(&s)[kRegs], bool accumulate) {
    qk_rope<kCols>(advance_desc(a_rope, k), advance_desc(b_rope, k), s, accumulate);
  };
  const auto issue = [&](int grp, float(&stage)[kRegs]) {
    decode_wgmma::issue_qk_group<kSteps>(grp, stage, content, rope);
  };
  decode_wgmma::staged_groups<decode_wgmma::kQkGroups<kSteps>, kStaging>(
      acc, part, issue,
      [&](int grp) {
        if (grp == kLoGroups - 1) before_hi();
      },
      [&](const float(&stage)[kRegs]) { decode_wgmma::add_promoted(acc, stage); });
}

}  // namespace snapmla::kernels::decode_narrow

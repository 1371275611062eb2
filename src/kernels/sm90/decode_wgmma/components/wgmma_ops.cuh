// The warpgroup MMAs of the kernel, on CuTe's sm90 atoms (cute/arch/mma_sm90_gmma.hpp):
//   qk_content_block  m64n64k32 e4m3 x e4m3 -> f32, A and B from shared memory (SS)
//   qk_rope_block     m64n64k16 bf16 x bf16 -> f32, SS, both K-major
//   pv_step           m64n64k32 e4m3 x e4m3 -> f32, A (V^T) from registers, B (P8^T) from shared (RS)
// and the shared-memory matrix descriptors of the K-major swizzled tiles (config.h).
//
// Accumulator fragments (every m64nN wgmma): warp w of the warpgroup, lane (g = lane / 4,
// t = lane % 4) holds d[4 j + 2 i + e] = row 16 w + g + 8 i, column 8 j + 2 t + e.
#pragma once

#include <cstdint>

#include <cute/arch/mma_sm90_desc.hpp>
#include <cute/arch/mma_sm90_gmma.hpp>

#include "kernels/sm90/decode_wgmma/config.h"

namespace snapmla::kernels::decode_wgmma {

namespace gmma = cute::SM90::GMMA;

// Descriptor of a K-major tile at shared address `addr` (1024-aligned tile, plus the offset of
// the slab and k-step the MMA reads): start address and SBO in 16-byte units, LBO 1 (unused by
// the swizzled K-major layouts), layout type 1 = SW128, 2 = SW64.
__device__ __forceinline__ std::uint64_t kmajor_desc(std::uint32_t addr, int atom_bytes, int layout_type) {
  cute::GmmaDescriptor d;
  d.bitfield.start_address_ = static_cast<std::uint16_t>(addr >> 4);
  d.bitfield.leading_byte_offset_ = 1;
  d.bitfield.stride_byte_offset_ = static_cast<std::uint16_t>(atom_bytes >> 4);
  d.bitfield.base_offset_ = 0;
  d.bitfield.layout_type_ = static_cast<std::uint8_t>(layout_type);
  return d.desc_;
}
__device__ __forceinline__ std::uint64_t sw128_desc(std::uint32_t addr) { return kmajor_desc(addr, kSw128AtomBytes, 1); }
__device__ __forceinline__ std::uint64_t sw64_desc(std::uint32_t addr) { return kmajor_desc(addr, kSw64AtomBytes, 2); }

// The descriptor of the tile `bytes` further on (a multiple of 16): one 32-bit add to the start
// address field (bits 0..13, 16-byte units), which cannot carry out for a shared address below
// 256 KB. Built once per page from a base descriptor, each k-step's descriptor costs one
// uniform add instead of a rebuild.
__device__ __forceinline__ std::uint64_t advance_desc(std::uint64_t desc, std::uint32_t bytes) {
  const std::uint32_t lo = static_cast<std::uint32_t>(desc) + (bytes >> 4);
  return (desc & 0xffffffff00000000ull) | lo;
}

// The warpgroup index made warp-uniform for the compiler (a shuffle from lane 0), so that
// addresses and descriptors derived from it live in uniform registers.
__device__ __forceinline__ int warpgroup_index() {
  return __shfl_sync(0xffffffffu, static_cast<int>(threadIdx.x) / kWarpgroupThreads, 0);
}

__device__ __forceinline__ std::uint32_t smem_u32(const void* p) {
  return static_cast<std::uint32_t>(__cvta_generic_to_shared(p));
}

// Generic-proxy shared-memory writes (st.shared, cp.async) made visible to wgmma (async proxy).
__device__ __forceinline__ void fence_view_async_shared() {
  asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
}

template <int N>
__device__ __forceinline__ void fence_operands(float (&d)[N]) {
#pragma unroll
  for (int i = 0; i < N; ++i) cute::warpgroup_fence_operand(d[i]);
}

// Two-level accumulation of QK (the qk.cuh of both wgmma kernels): kGroups tensor-core groups.
// Group 0 goes straight into the destination d; group grp > 0 into staging accumulator
// grp % kStaging (issue(grp, accumulator) issues its wgmmas), kStaging - 1 groups in flight,
// and each finished one goes to promote(stage), the fp32 adds into d. after_issue(grp) runs
// while the tensor cores work on group grp. (Staged too, group 0 cost 0 + x adds: 32 FADDs a
// thread a page in the 64-row kernel.)
template <int kGroups, int kStaging, int kRegs, class Issue, class AfterIssue, class Promote>
__device__ __forceinline__ void staged_groups(float (&d)[kRegs], float (&part)[kStaging][kRegs], Issue&& issue,
                                              AfterIssue&& after_issue, Promote&& promote) {
  static_assert(kStaging >= 1, "at least one staging accumulator");
  const auto accumulator = [&](int grp) -> float(&)[kRegs] { return grp == 0 ? d : part[grp % kStaging]; };
#pragma unroll
  for (int grp = 0; grp < kGroups; ++grp) {
    float(&stage)[kRegs] = accumulator(grp);
    fence_operands(stage);
    cute::warpgroup_arrive();
    issue(grp, stage);
    cute::warpgroup_commit_batch();
    after_issue(grp);
    if (grp >= kStaging - 1) {
      cute::warpgroup_wait<kStaging - 1>();  // group grp - (kStaging - 1) is done; the later ones run on
      const int done_grp = grp - (kStaging - 1);
      float(&done)[kRegs] = accumulator(done_grp);
      fence_operands(done);
      if (done_grp > 0) promote(done);
    }
  }
  cute::warpgroup_wait<0>();
#pragma unroll
  for (int grp = kGroups - (kStaging - 1); grp < kGroups; ++grp) {
    float(&done)[kRegs] = accumulator(grp);
    fence_operands(done);
    if (grp > 0) promote(done);
  }
}

// QK's groups for a promotion every kStepsPerPromotion e4m3 k-steps: the content groups, then
// the RoPE chain.
template <int kStepsPerPromotion>
inline constexpr int kQkContentGroups = kContentKSteps / kStepsPerPromotion;
template <int kStepsPerPromotion>
inline constexpr int kQkGroups = kQkContentGroups<kStepsPerPromotion> + 1;

// Issues QK group grp of staged_groups (the qk.cuh of both wgmma kernels): kStepsPerPromotion
// e4m3 content k-steps, content(k, stage, accumulate), or after them the bf16 RoPE chain,
// rope(k, stage, accumulate); k is the k-step's first byte in a row of the operands, from which
// each kernel derives its descriptors (their tiles differ: which operand is the page, and
// whether the page's content is split, decode_narrow/components/load.cuh).
template <int kStepsPerPromotion, int kRegs, class Content, class Rope>
__device__ __forceinline__ void issue_qk_group(int grp, float (&stage)[kRegs], Content&& content, Rope&& rope) {
  static_assert(kContentKSteps % kStepsPerPromotion == 0);
  if (grp < kQkContentGroups<kStepsPerPromotion>) {
#pragma unroll
    for (int kk = 0; kk < kStepsPerPromotion; ++kk)
      content((grp * kStepsPerPromotion + kk) * kContentKStepBytes, stage, kk > 0);
  } else {
#pragma unroll
    for (int ks = 0; ks < kRopeKSteps; ++ks) rope(ks * kRopeKStepBytes, stage, ks > 0);
  }
}

// The fp32 promotion of a finished staging accumulator: d += part, element by element.
template <int N>
__device__ __forceinline__ void add_promoted(float (&d)[N], const float (&part)[N]) {
#pragma unroll
  for (int i = 0; i < N; ++i) d[i] = __fadd_rn(d[i], part[i]);
}

__device__ __forceinline__ gmma::ScaleOut scale_out(bool accumulate) {
  return accumulate ? gmma::ScaleOut::One : gmma::ScaleOut::Zero;
}

// S[32 values] (+)= Q x K^T over the whole 64-token page (m64n64), e4m3 / bf16 k-steps.
#define SNAPMLA_D32(d)                                                                                              \
  d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7], d[8], d[9], d[10], d[11], d[12], d[13], d[14], d[15], d[16], d[17], \
      d[18], d[19], d[20], d[21], d[22], d[23], d[24], d[25], d[26], d[27], d[28], d[29], d[30], d[31]
__device__ __forceinline__ void qk_content_block(std::uint64_t a, std::uint64_t b, float (&d)[32], bool accumulate) {
  gmma::MMA_64x64x32_F32E4M3E4M3_SS_TN<>::fma(a, b, SNAPMLA_D32(d), scale_out(accumulate));
}
__device__ __forceinline__ void qk_rope_block(std::uint64_t a, std::uint64_t b, float (&d)[32], bool accumulate) {
  gmma::MMA_64x64x16_F32BF16BF16_SS<gmma::Major::K, gmma::Major::K>::fma(a, b, SNAPMLA_D32(d), scale_out(accumulate));
}
#undef SNAPMLA_D32

// C[32 values] (+)= A(a, registers) x B(desc b), one e4m3 k-step of 32; accumulate = false
// starts from zero (PV: A = V^T's fragments, B = P8^T).
__device__ __forceinline__ void pv_step(const std::uint32_t (&a)[4], std::uint64_t b, float (&d)[32],
                                        bool accumulate) {
  gmma::MMA_64x64x32_F32E4M3E4M3_RS_TN<>::fma(
      a[0], a[1], a[2], a[3], b, d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7], d[8], d[9], d[10], d[11], d[12],
      d[13], d[14], d[15], d[16], d[17], d[18], d[19], d[20], d[21], d[22], d[23], d[24], d[25], d[26], d[27], d[28],
      d[29], d[30], d[31], scale_out(accumulate));
}

}  // namespace snapmla::kernels::decode_wgmma

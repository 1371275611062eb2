// Step 4: O = O * alpha + unmult * P8 @ V for the warp's 16 rows and its output dims (256 wide, 64 narrow)
// (mma.sync m16n8k32 e4m3, k = tokens). The MMA wants V k-major (tokens contiguous per dim) but
// the page is token-major, so V is read with ldmatrix.x4.trans as b16 pairs: for 32 tokens
// (4 matrices of 8) x 16 dims, thread (g, t) receives from matrix a the bytes
//   (token 2t, dim 2g), (token 2t, dim 2g + 1), (token 2t + 1, dim 2g), (token 2t + 1, dim 2g + 1)
// and two byte permutes per register pair give the B fragments of two n-tiles: the even dims
// (2g) and the odd dims (2g + 1), each with the 4 tokens {2t, 2t + 1, 8 + 2t, 9 + 2t} (+ 16 for
// b1). That k order is the order P8 is stored in (softmax_p.cuh), so the MMA pairs each P8 with
// its own token. In the C fragments, columns 2t, 2t + 1 of the even tile and the odd tile are
// the 4 consecutive dims 16 D + 4t + {0, 1, 2, 3}.
//
// Masked tokens: P8 = 0 for them, and B bytes of tokens past the rows' visible count are zeroed
// in registers, so the NaN poison of page tails never meets a multiplication. All real rows of a
// warp see the same tokens (launch condition, kernel.cuh), padding rows have P8 = 0 and are
// never written.
//
// BF16 (mma.sync m16n8k16 bf16, k = 16 tokens): ldmatrix.x4.trans of 16 tokens x 16 dims gives,
// as they are, the B fragments of two n-tiles (dims 16 D + 0..7 and 16 D + 8..15; b0 = tokens
// 2t, 2t + 1, b1 = 8 + 2t, 9 + 2t), matching P stored in natural token order. The thread's 4 C
// values of a block are then the dims 16 D + {2t, 2t + 1, 8 + 2t, 9 + 2t} (pv_dim_offset).
#pragma once

#include <cstdint>

#include "kernels/common/block_fold.cuh"
#include "kernels/sm90/decode_tc/components/softmax_p.cuh"

namespace snapmla::kernels::decode_tc {

template <class T>
using OutputFragment = float[T::kPvDimBlocks][kRowsPerThread][kPvDimsPerThread];

inline constexpr std::uint32_t kEvenBytes = 0x6420;  // __byte_perm selector: bytes 0, 2 of each word
inline constexpr std::uint32_t kOddBytes = 0x7531;   // bytes 1, 3 of each word

// Dim (within a 16-dim block) of the thread's k-th C value (k < kPvDimsPerThread), lane t of a quad.
template <class F>
__device__ __forceinline__ int pv_dim_offset(int t, int k) {
  if constexpr (F::kFp8) return kPvDimsPerThread * t + k;
  else return 8 * (k / 2) + 2 * t + (k % 2);
}

// Half-word mask of the BF16 B register `reg` (0: b0, 1: b1) of k-step ks: keep tokens < n.
__device__ __forceinline__ std::uint32_t token_mask_bf16(int ks, int reg, int t, int n) {
  const int tok = ks * kMmaKBf16 + 8 * reg + 2 * t;
  return (tok < n ? 0xffffu : 0u) | (tok + 1 < n ? 0xffff0000u : 0u);
}

// Byte mask of the B register `reg` (0: b0, 1: b1) of k-step ks: keep tokens < n.
__device__ __forceinline__ std::uint32_t token_mask(int ks, int reg, int t, int n) {
  std::uint32_t mask = 0;
#pragma unroll
  for (int j = 0; j < 4; ++j) {
    const int tok = ks * kMmaKFp8 + 16 * reg + 2 * t + (j & 1) + 8 * (j >> 1);
    if (tok < n) mask |= 0xffu << (8 * j);
  }
  return mask;
}

// BF16 PV (see above).
template <class T>
__device__ __forceinline__ void accumulate_pv_bf16(const SharedStorage<T>& sm, const Stage<T>& st, int row_group,
                                                   int split, const BlockStep& step, int n, OutputFragment<T>& o) {
  constexpr int kSteps = T::kPvKSteps;  // 4
  const int lane = threadIdx.x % kWarpThreads, t = lane % 4;
  const int k_steps = (n + kMmaKBf16 - 1) / kMmaKBf16;

  std::uint32_t a[kSteps][4];
  std::uint32_t mask[kSteps][2];
  const std::uint32_t a_base = smem_addr(&sm.p8[row_group * kMmaM + lane_a_row(lane)][lane_a_byte(lane)]);
#pragma unroll
  for (int ks = 0; ks < kSteps; ++ks) {
    if (ks < k_steps) ldsm_x4(a_base + ks * kMmaKBytes, a[ks]);
#pragma unroll
    for (int r = 0; r < 2; ++r) mask[ks][r] = n >= kTokensPerBlock ? ~0u : token_mask_bf16(ks, r, t, n);
  }

  // ldmatrix.x4.trans: matrix q = lane / 8 is (tokens 8 (q % 2) + 0..7, dims 8 (q / 2) + 0..7),
  // lane supplies token (lane & 7) + 8 ((lane >> 3) & 1) at dim byte 16 (lane >> 4).
  const std::uint32_t b_base = smem_addr(&st.content[(lane & 7) + 8 * ((lane >> 3) & 1)]
                                                    [2 * split * T::kPvDimsPerWarp + kLdsmRowBytes * (lane >> 4)]);
  constexpr int kDimBlockBytes = 2 * kPvDimBlock;
#pragma unroll
  for (int d = 0; d < T::kPvDimBlocks; ++d) {
    float lo[4] = {0.0f, 0.0f, 0.0f, 0.0f}, hi[4] = {0.0f, 0.0f, 0.0f, 0.0f};
#pragma unroll
    for (int ks = 0; ks < kSteps; ++ks) {
      if (ks >= k_steps) break;
      std::uint32_t r[4];
      ldsm_x4_trans(b_base + ks * kMmaKBf16 * T::kQContentRowBytes + d * kDimBlockBytes, r);
      mma_bf16(lo, a[ks], r[0] & mask[ks][0], r[1] & mask[ks][1]);
      mma_bf16(hi, a[ks], r[2] & mask[ks][0], r[3] & mask[ks][1]);
    }
#pragma unroll
    for (int i = 0; i < kRowsPerThread; ++i) {
      if (step.n[i] == 0) continue;  // the reference leaves the state untouched
      const float c[kPvDimsPerThread] = {lo[2 * i], lo[2 * i + 1], hi[2 * i], hi[2 * i + 1]};
#pragma unroll
      for (int k = 0; k < kPvDimsPerThread; ++k)
        o[d][i][k] = fold_block(o[d][i][k], step.alpha[i], step.unmult[i], c[k]);
    }
  }
}

template <class T>
__device__ __forceinline__ void accumulate_pv(const SharedStorage<T>& sm, const Stage<T>& st, int row_group, int split,
                                              const BlockStep& step, OutputFragment<T>& o) {
  const int lane = threadIdx.x % kWarpThreads, t = lane % 4;
  // Tokens any row of the warp sees (all real rows see the same; padding rows see 0).
  const int n = __reduce_max_sync(kFullMask, max(step.n[0], step.n[1]));
  if (n == 0) return;  // O unchanged
  if constexpr (!T::Fmt::kFp8) {
    accumulate_pv_bf16(sm, st, row_group, split, step, n, o);
    return;
  } else {
  constexpr int kPvKSteps = T::kPvKSteps;
  const int k_steps = n > kMmaKFp8 ? kPvKSteps : 1;

  std::uint32_t a[kPvKSteps][4];
  std::uint32_t mask[kPvKSteps][2];
  const std::uint32_t a_base = smem_addr(&sm.p8[row_group * kMmaM + lane_a_row(lane)][lane_a_byte(lane)]);
#pragma unroll
  for (int ks = 0; ks < kPvKSteps; ++ks) {
    if (ks < k_steps) ldsm_x4(a_base + ks * kMmaKBytes, a[ks]);
#pragma unroll
    for (int r = 0; r < 2; ++r) mask[ks][r] = n >= kTokensPerBlock ? ~0u : token_mask(ks, r, t, n);
  }

  // ldmatrix.x4.trans: lane supplies row (token) `lane` of the k-step's 32 tokens.
  const std::uint32_t b_base = smem_addr(&st.content[lane][split * T::kPvDimsPerWarp]);
#pragma unroll
  for (int d = 0; d < T::kPvDimBlocks; ++d) {
    float even[4] = {0.0f, 0.0f, 0.0f, 0.0f}, odd[4] = {0.0f, 0.0f, 0.0f, 0.0f};
#pragma unroll
    for (int ks = 0; ks < kPvKSteps; ++ks) {
      if (ks >= k_steps) break;
      std::uint32_t r[4];
      ldsm_x4_trans(b_base + ks * kMmaKFp8 * T::kQContentRowBytes + d * kPvDimBlock, r);
      const std::uint32_t b0e = __byte_perm(r[0], r[1], kEvenBytes) & mask[ks][0];
      const std::uint32_t b0o = __byte_perm(r[0], r[1], kOddBytes) & mask[ks][0];
      const std::uint32_t b1e = __byte_perm(r[2], r[3], kEvenBytes) & mask[ks][1];
      const std::uint32_t b1o = __byte_perm(r[2], r[3], kOddBytes) & mask[ks][1];
      mma_e4m3(even, a[ks], b0e, b1e);
      mma_e4m3(odd, a[ks], b0o, b1o);
    }
#pragma unroll
    for (int i = 0; i < kRowsPerThread; ++i) {
      if (step.n[i] == 0) continue;  // the reference leaves the state untouched
      const float c[kPvDimsPerThread] = {even[2 * i], odd[2 * i], even[2 * i + 1], odd[2 * i + 1]};
#pragma unroll
      for (int k = 0; k < kPvDimsPerThread; ++k)
        o[d][i][k] = fold_block(o[d][i][k], step.alpha[i], step.unmult[i], c[k]);
    }
  }
  }
}

}  // namespace snapmla::kernels::decode_tc

// Step 4: O^T = O^T * alpha + unmult * (V^T @ P8^T) over the 8 dim tiles of 64. A = V^T comes
// from registers: per k-step (32 tokens), ldmatrix.x4.trans reads the warp's 16-dim chunk of
// token rows 0..31 from the page (lane l gives the address of token row l; 16-bit transposes of
// byte pairs) and two byte permutes (selectors 0x6420 / 0x7531) split each dim pair, which gives
// the fragment order of config.h. B = P8^T (SW64). Each tile's block product starts from zero
// and is folded into O in fp32 as the emulation does (two-level accumulation); tile m + 1 runs
// on the tensor cores while tile m is folded.
//
// Tokens at or past n_hi (the most any row sees in this page) are zeroed in the fragments: P8 is
// zero there and the NaN poison of page tails must not reach the product (0 x NaN). Tokens in
// [n_lo, n_hi) are seen by some rows only (causal s_q > 1): their e4m3 NaN codes are zeroed, so
// a NaN token cannot reach a row that does not see it (decode_wgmma/components/e4m3_nans.cuh
// says why the rows that see it still come out NaN).
#pragma once

#include <cstdint>

#include "kernels/common/block_fold.cuh"
#include "kernels/sm90/decode_narrow/components/mma.cuh"
#include "kernels/sm90/decode_narrow/components/softmax_p.cuh"
#include "kernels/sm90/decode_tc/components/warp_mma.cuh"
#include "kernels/sm90/decode_wgmma/components/e4m3_nans.cuh"

namespace snapmla::kernels::decode_narrow {

template <int kCols>
using OutputAcc = float[kDimTiles][kCols / 2];  // o[m][4 j + 2 i + e]: dim pv_out_dim(m, w, g, i), row 8 j + 2 t + e

// Byte masks for the fragments of a tail page: byte b of registers 2 h, 2 h + 1 of k-step ks
// holds token 32 ks + pv_a_token(t, 2 h, b).
struct FragmentMasks {
  std::uint32_t keep[kPvKSteps][2];      // 0xff for tokens < n_hi
  std::uint32_t sanitize[kPvKSteps][2];  // 0x80 for tokens >= n_lo (NaN codes zeroed)
};

__device__ __forceinline__ FragmentMasks fragment_masks(int t, int n_lo, int n_hi) {
  FragmentMasks f;
#pragma unroll
  for (int ks = 0; ks < kPvKSteps; ++ks)
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      f.keep[ks][h] = 0u;
      f.sanitize[ks][h] = 0u;
#pragma unroll
      for (int b = 0; b < 4; ++b) {
        const int tok = 32 * ks + pv_a_token(t, 2 * h, b);
        if (tok < n_hi) f.keep[ks][h] |= 0xffu << (8 * b);
        if (tok >= n_lo) f.sanitize[ks][h] |= 0x80u << (8 * b);
      }
    }
  return f;
}

__device__ __forceinline__ std::uint32_t mask_fragment(std::uint32_t w, std::uint32_t keep, std::uint32_t sanitize) {
  return decode_wgmma::zero_e4m3_nans(w, sanitize) & keep;
}

// The A fragments of one e4m3 k-step of V^T from its ldmatrix.trans words r: two byte permutes
// a register pair (dims 2 g and 2 g + 1), masked on a partial page (kTail), and fenced for the
// wgmma that reads them. Shared with the 64-row kernel's PV (decode_wgmma/components/pv.cuh).
template <bool kTail>
__device__ __forceinline__ void v_fragments(const std::uint32_t (&r)[4], const FragmentMasks& masks, int ks,
                                            std::uint32_t (&frag)[4]) {
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    frag[2 * h] = __byte_perm(r[2 * h], r[2 * h + 1], 0x6420);      // dim 2 g
    frag[2 * h + 1] = __byte_perm(r[2 * h], r[2 * h + 1], 0x7531);  // dim 2 g + 1
    if constexpr (kTail) {
      frag[2 * h] = mask_fragment(frag[2 * h], masks.keep[ks][h], masks.sanitize[ks][h]);
      frag[2 * h + 1] = mask_fragment(frag[2 * h + 1], masks.keep[ks][h], masks.sanitize[ks][h]);
    }
  }
#pragma unroll
  for (int k = 0; k < 4; ++k) cute::warpgroup_fence_operand(frag[k]);
}

// kTail: the page has tokens that some row does not see (n_lo < 64), whose fragments are masked.
template <int kCols, bool kTail, class AfterHi>
__device__ __forceinline__ void accumulate_pv_block(const NarrowStorage<kCols>& sm, const PageView& page, int n_lo,
                                                    int n_hi, const BlockStep<kCols>& step, OutputAcc<kCols>& o,
                                                    AfterHi&& after_hi) {
  constexpr int kRegs = kCols / 2;
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, t = lane % 4;
  // ldmatrix row address of lane l: token row l of the k-step, 16-byte chunk 4 m + warp of the
  // SW128 page (column block m / 2, chunk (4 (m % 2) + warp) ^ (l % 8) in the 128-byte row).
  const std::uint32_t lo_base = smem_u32(page.lo) + lane * decode_wgmma::kSw128RowBytes;
  const std::uint32_t hi_base = smem_u32(page.hi) + lane * decode_wgmma::kSw128RowBytes;
  std::uint32_t swizzled[2];
#pragma unroll
  for (int v = 0; v < 2; ++v) swizzled[v] = ((4 * v + warp) ^ (lane % 8)) * kChunkBytes;
  FragmentMasks masks{};
  if constexpr (kTail) masks = fragment_masks(t, n_lo, n_hi);

  // ldmatrix of tile m + 2 is issued while tile m is folded, so that its latency is hidden by
  // the time tile m + 2 is permuted and multiplied.
  std::uint32_t raw[2][kPvKSteps][4], a[2][kPvKSteps][4];
  float part[2][kRegs];
  const std::uint32_t p8 = smem_u32(sm.p8);
  // The dim tiles in the order they run: the hi part's (4..7) first, so that the split ring
  // can reload hi while the lo tiles run; position i runs tile_at(i).
  constexpr int kHiTiles = kDimTiles - 2 * kLoBlocks;
  const auto tile_at = [](int i) { return (i + 2 * kLoBlocks) % kDimTiles; };
  const auto load_raw = [&](int i) {
    const int m = tile_at(i), block = m / 2;  // the 128-byte column block of the tile's dims
    constexpr int kBlockBytes = kTokensPerBlock * decode_wgmma::kSw128RowBytes;
    const std::uint32_t base = block < kLoBlocks ? lo_base + block * kBlockBytes : hi_base + (block - kLoBlocks) * kBlockBytes;
#pragma unroll
    for (int ks = 0; ks < kPvKSteps; ++ks)
      decode_tc::ldsm_x4_trans(base + ks * 32 * decode_wgmma::kSw128RowBytes + swizzled[m % 2], raw[i % 2][ks]);
  };
  const auto issue = [&](int i) {
    std::uint32_t(&frag)[kPvKSteps][4] = a[i % 2];
#pragma unroll
    for (int ks = 0; ks < kPvKSteps; ++ks) v_fragments<kTail>(raw[i % 2][ks], masks, ks, frag[ks]);
    float(&d)[kRegs] = part[i % 2];
    fence_operands(d);
    cute::warpgroup_arrive();
#pragma unroll
    for (int ks = 0; ks < kPvKSteps; ++ks) pv_step<kCols>(frag[ks], sw64_desc(p8 + ks * 32), d, ks > 0);
    cute::warpgroup_commit_batch();
  };
  // fold_block(o, alpha, unmult, c) is fma(unmult, c, o * alpha): the O * alpha half runs here,
  // once, under a warp-uniform branch (O * 1 is O exactly, and no row of the warp rescales in
  // most blocks), and the fold below is the single fma. Written as a select inside the fold,
  // both forms were issued, predicated, for every register.
  const auto rescale_o = [&] {
    bool rescales = false;
#pragma unroll
    for (int c = 0; c < kColsPerThread<kCols>; ++c) rescales |= step.alpha[c] != 1.0f;
    if (__any_sync(0xffffffffu, rescales)) {
#pragma unroll
      for (int m = 0; m < kDimTiles; ++m)
#pragma unroll
        for (int k = 0; k < kRegs; ++k) o[m][k] = __fmul_rn(o[m][k], step.alpha[col_of_reg(k)]);
    }
  };
  load_raw(0);
  issue(0);
  load_raw(1);
  rescale_o();  // while tile 0 runs on the tensor cores
#pragma unroll
  for (int i = 0; i < kDimTiles; ++i) {
    if (i + 1 < kDimTiles) issue(i + 1);
    if (i + 1 == kHiTiles - 1) after_hi();  // the hi tiles' ldmatrix results are all consumed
    if (i + 2 < kDimTiles) load_raw(i + 2);
    if (i + 1 < kDimTiles) {
      cute::warpgroup_wait<1>();
    } else {
      cute::warpgroup_wait<0>();
    }
    const int m = tile_at(i);
    float(&d)[kRegs] = part[i % 2];
    fence_operands(d);
#pragma unroll
    for (int k = 0; k < kRegs; ++k) {
      const int c = col_of_reg(k);
      o[m][k] = fold_block_unscaled(o[m][k], step.unmult[c], d[k]);  // o is already o * alpha
    }
  }
}

// The masking is chosen once a block (n_lo is CTA-uniform), not once a fragment: a branch
// around each fragment's masks cost 32 branches a page where no token is masked.
// `after_hi()` runs once every thread's reads of the page's hi content are done (the split
// ring reloads hi there, after a CTA barrier).
template <int kCols, class AfterHi>
__device__ __forceinline__ void accumulate_pv(const NarrowStorage<kCols>& sm, const PageView& page, int n_lo,
                                              int n_hi, const BlockStep<kCols>& step, OutputAcc<kCols>& o,
                                              AfterHi&& after_hi) {
  if (n_lo < kTokensPerBlock) {
    accumulate_pv_block<kCols, true>(sm, page, n_lo, n_hi, step, o, after_hi);
  } else {
    accumulate_pv_block<kCols, false>(sm, page, n_lo, n_hi, step, o, after_hi);
  }
}

}  // namespace snapmla::kernels::decode_narrow

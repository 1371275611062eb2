// Step 4: O^T = O^T * alpha + unmult * (V^T @ P8^T) for the warpgroup's 256 dims (4 dim tiles
// of 64) and the tile's 64 query rows: the narrow kernel's PV form with 64 rows in N
// (decode_narrow/components/pv.cuh, whose fragment maps it uses):
//   A = V^T from registers: per dim tile and 32-token k-step, ldmatrix.trans of the page's token
//       rows (the warp's 16-byte chunk of dims) and two byte permutes;
//   B = P8^T from the block owner's exchange slot: SW64, 64 query rows x 64 tokens in the PV k
//       order (decode_narrow::p8_k_of_token), written so by the owner's softmax.
// No V^T in shared memory and no transposer. Thread (w, g, t) of warpgroup s holds
// o[i][4 j + 2 r + e] = dim decode_narrow::pv_out_dim(4 s + i, w, g, r), query row 8 j + 2 t + e:
// 16 query rows, whose alpha and unmult come from the slot. Each tile's block product starts
// from zero and is folded into O in fp32 as the emulation does (two-level accumulation); tile
// i + 1 runs on the tensor cores while tile i is folded.
// Tokens at or past n_hi are zeroed in the fragments and NaN codes of tokens in [n_lo, n_hi)
// are zeroed (decode_narrow/components/pv.cuh says why).
#pragma once

#include <cstdint>

#include "kernels/common/block_fold.cuh"
#include "kernels/sm90/decode_narrow/components/pv.cuh"
#include "kernels/sm90/decode_wgmma/components/e4m3_nans.cuh"
#include "kernels/sm90/decode_narrow/config.h"
#include "kernels/sm90/decode_tc/components/warp_mma.cuh"
#include "kernels/sm90/decode_wgmma/components/shared_storage.cuh"
#include "kernels/sm90/decode_wgmma/components/wgmma_ops.cuh"

namespace snapmla::kernels::decode_wgmma {

using OutputAcc = float[kPvChunks][kPvChunkRegs];

template <bool kTail, class UnderFirstTiles>
__device__ __forceinline__ void accumulate_pv_block(const ExchangeSlot& slot, const RescaleVotes& rescale_votes,
                                                    const PageStage& st, int wg, int n_lo,
                                                    int n_hi, OutputAcc& o, UnderFirstTiles&& under_first_tiles) {
  const int lane = threadIdx.x % kWarpThreads, warp = (threadIdx.x / kWarpThreads) % 4, t = lane % 4;
  // ldmatrix row address of lane l: token row l of the k-step, 16-byte chunk 4 (m % 2) + warp of
  // the 128-byte row of column block m / 2 (SW128: chunk c of row r sits at c ^ (r % 8)).
  const std::uint32_t page = smem_u32(st.content) + lane * kSw128RowBytes;
  std::uint32_t swizzled[2];
#pragma unroll
  for (int v = 0; v < 2; ++v) swizzled[v] = ((4 * v + warp) ^ (lane % 8)) * kChunkBytes;
  decode_narrow::FragmentMasks masks{};
  if constexpr (kTail) masks = decode_narrow::fragment_masks(t, n_lo, n_hi);

  // Whether the block rescales O at all (the owner warps' votes, softmax.cuh), read before the
  // first tile is issued. The rows' alpha are read only where it does: read and tested in every
  // block, they cost ~150 cycles a block (bench/micro/pv_page.cu, docs/perf.md session 25).
  const int4 votes = *reinterpret_cast<const int4*>(rescale_votes);

  // One raw buffer: issue(i) turns it into the A fragments before load_raw(i + 1) refills it.
  std::uint32_t raw[kPvKSteps][4], a[kPvKSteps][4];
  float part[2][kPvChunkRegs];
  const std::uint32_t p8 = smem_u32(slot.p8);
  const auto load_raw = [&](int i) {
    // Dim tile m = 4 wg + i: column block m / 2 = 2 wg + i / 2, chunk half m % 2 = i % 2 (a
    // constant after unrolling; m % 2 would index swizzled[] at run time, in local memory).
    const int block = 2 * wg + i / 2;
    const std::uint32_t base = page + block * (kTokensPerBlock * kSw128RowBytes) + swizzled[i % 2];
#pragma unroll
    for (int ks = 0; ks < kPvKSteps; ++ks) decode_tc::ldsm_x4_trans(base + ks * 32 * kSw128RowBytes, raw[ks]);
  };
  const auto issue = [&](int i) {
#pragma unroll
    for (int ks = 0; ks < kPvKSteps; ++ks) decode_narrow::v_fragments<kTail>(raw[ks], masks, ks, a[ks]);
    float(&d)[kPvChunkRegs] = part[i % 2];
    fence_operands(d);
    cute::warpgroup_arrive();
#pragma unroll
    for (int ks = 0; ks < kPvKSteps; ++ks) pv_step(a[ks], sw64_desc(p8 + ks * 32), d, ks > 0);
    cute::warpgroup_commit_batch();
  };
  // O * alpha once, under a CTA-uniform branch (O * 1 is O exactly, and in most blocks no row
  // rescales), so that the fold below is a single fma (kernels/common/block_fold.cuh).
  const auto rescale_o = [&] {
    if ((votes.x | votes.y | votes.z | votes.w) != 0) {
      float2 alpha[kPvChunkRegs / 4];
#pragma unroll
      for (int j = 0; j < kPvChunkRegs / 4; ++j) alpha[j] = *reinterpret_cast<const float2*>(&slot.alpha[8 * j + 2 * t]);
#pragma unroll
      for (int i = 0; i < kPvChunks; ++i)
#pragma unroll
        for (int k = 0; k < kPvChunkRegs; ++k)
          o[i][k] = __fmul_rn(o[i][k], k % 2 == 0 ? alpha[k / 4].x : alpha[k / 4].y);
    }
  };
  load_raw(0);
  issue(0);
  load_raw(1);
  rescale_o();  // while tile 0 runs on the tensor cores
#pragma unroll
  for (int i = 0; i < kPvChunks; ++i) {
    if (i + 1 < kPvChunks) issue(i + 1);
    if (i + 2 < kPvChunks) load_raw(i + 2);
    if (i == 0) under_first_tiles();  // tiles 0 and 1 are on the tensor cores
    if (i + 1 < kPvChunks) {
      cute::warpgroup_wait<1>();
    } else {
      cute::warpgroup_wait<0>();
    }
    float(&d)[kPvChunkRegs] = part[i % 2];
    fence_operands(d);
#pragma unroll
    for (int j = 0; j < kPvChunkRegs / 4; ++j) {
      const float2 unmult = *reinterpret_cast<const float2*>(&slot.unmult[8 * j + 2 * t]);
#pragma unroll
      for (int q = 0; q < 4; ++q) {
        const int k = 4 * j + q;
        o[i][k] = fold_block_unscaled(o[i][k], q % 2 == 0 ? unmult.x : unmult.y, d[k]);  // o is already o * alpha
      }
    }
  }
}

// One block: P8 and the rows' alpha / unmult from its owner's slot, V from its page. The masking
// is chosen once a block (n_lo is CTA-uniform), not once a fragment. under_first_tiles() runs
// once the first two tiles are on the tensor cores: the caller's row-state fold, whose
// shared-memory reads stood exposed before PV (~150 cycles a block in clock stamps; moved here,
// 1-3 % faster at h_q >= 64, docs/perf.md v44).
template <class UnderFirstTiles>
__device__ __forceinline__ void accumulate_pv(const ExchangeSlot& slot, const RescaleVotes& votes, const PageStage& st,
                                              int wg, int n_lo,
                                              int n_hi, OutputAcc& o, UnderFirstTiles&& under_first_tiles) {
  if (n_lo < kTokensPerBlock) {
    accumulate_pv_block<true>(slot, votes, st, wg, n_lo, n_hi, o, under_first_tiles);
  } else {
    accumulate_pv_block<false>(slot, votes, st, wg, n_lo, n_hi, o, under_first_tiles);
  }
}

}  // namespace snapmla::kernels::decode_wgmma

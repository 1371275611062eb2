// Step 4: O = O * alpha + unmult * (P8 @ V) for the tile's 64 rows and the warpgroup's 256
// dims, in four 64-dim chunks. A = P8 (e4m3, natural token order in shared memory) is read
// once per block into the m64n32k32 A fragments with ldmatrix (rows 16 w + 0..15 per warp);
// B = V^T (SW64, transpose_v.cuh). Each chunk's block product starts from zero and is folded
// into O in fp32 as the emulation does (two-level accumulation: the tensor core sums 64 tokens,
// O sums blocks with fold_block, kernels/common/block_fold.cuh).
#pragma once

#include <cstdint>

#include "kernels/common/block_fold.cuh"
#include "kernels/sm90/decode_tc/components/softmax_p.cuh"
#include "kernels/sm90/decode_tc/components/warp_mma.cuh"
#include "kernels/sm90/decode_wgmma/components/shared_storage.cuh"
#include "kernels/sm90/decode_wgmma/components/wgmma_ops.cuh"

namespace snapmla::kernels::decode_wgmma {

using decode_tc::BlockStep;
using decode_tc::kRowsPerThread;
using OutputAcc = float[kPvChunks][kPvChunkRegs];  // o[c][4 j + 2 i + e]: row 16 w + g + 8 i, dim 64 c + 8 j + 2 t + e

// `live`: the warp holds real query rows; a warp of padding rows feeds zeros to the warpgroup's
// MMAs and folds nothing.
__device__ __forceinline__ void accumulate_pv(const SharedStorage& sm, int wg, bool live, const BlockStep& step,
                                              OutputAcc& o) {
  const int lane = threadIdx.x % kWarpThreads, warp = (threadIdx.x / kWarpThreads) % 4;
  std::uint32_t a[kPvKSteps][4];
  const std::uint32_t a_base =
      smem_u32(&sm.p8[16 * warp + decode_tc::lane_a_row(lane)][decode_tc::lane_a_byte(lane)]);
#pragma unroll
  for (int ks = 0; ks < kPvKSteps; ++ks) {
    if (live) {
      decode_tc::ldsm_x4(a_base + ks * 32, a[ks]);
    } else {
      a[ks][0] = a[ks][1] = a[ks][2] = a[ks][3] = 0u;
    }
#pragma unroll
    for (int r = 0; r < 4; ++r) cute::warpgroup_fence_operand(a[ks][r]);
  }
  const std::uint64_t vt = sw64_desc(smem_u32(sm.vt) + wg * kPvDimsPerWarpgroup * kSw64RowBytes);
  // Chunk c + 1 runs on the tensor cores while chunk c is folded into O.
  float part[2][kPvChunkRegs];
  const auto issue = [&](int c) {
    float(&d)[kPvChunkRegs] = part[c % 2];
    fence_operands(d);
    cute::warpgroup_arrive();
#pragma unroll
    for (int ks = 0; ks < kPvKSteps; ++ks)
      pv_step(a[ks], advance_desc(vt, c * kPvChunkDims * kSw64RowBytes + ks * 32), d, ks > 0);
    cute::warpgroup_commit_batch();
  };
  // A row that sees nothing of the block has alpha = 1 and unmult = 0, and its block product is
  // finite (P8 = 0, V^T has no NaN where some row does not look), so the fold leaves it as it is,
  // as the reference does. O * 1 is O exactly: when no row of the warp rescales, skip it.
  const bool rescale = __any_sync(0xffffffffu, step.alpha[0] != 1.0f || step.alpha[1] != 1.0f);
#pragma unroll
  for (int k = 0; k < kPvChunkRegs; ++k) { part[0][k] = 0.0f; part[1][k] = 0.0f; }
  issue(0);
#pragma unroll
  for (int c = 0; c < kPvChunks; ++c) {
    if (c + 1 < kPvChunks) {
      issue(c + 1);
      cute::warpgroup_wait<1>();
    } else {
      cute::warpgroup_wait<0>();
    }
    float(&d)[kPvChunkRegs] = part[c % 2];
    fence_operands(d);
    if (!live) continue;
    if (rescale) {
#pragma unroll
      for (int k = 0; k < kPvChunkRegs; ++k) {
        const int i = (k / 2) % 2;
        o[c][k] = fold_block(o[c][k], step.alpha[i], step.unmult[i], d[k]);
      }
    } else {
#pragma unroll
      for (int k = 0; k < kPvChunkRegs; ++k) o[c][k] = fold_block_unscaled(o[c][k], step.unmult[(k / 2) % 2], d[k]);
    }
  }
}

}  // namespace snapmla::kernels::decode_wgmma

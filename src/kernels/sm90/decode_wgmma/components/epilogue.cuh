// Step 5, at the end of a segment: O / l and the LSE, with the semantics of the other decode
// kernels (ref::finish_row): a request with one split writes out (bf16) and lse (natural log,
// +inf for a row that saw nothing, with out = 0); a split of a longer request writes partial_o
// (fp32, O / l) and partial_lse (log2, -inf if empty, with partial_o = 0). Thread (w, g, t) of
// warpgroup s owns rows 16 w + g + {0, 8} and dims 256 s + 64 c + 8 j + 2 t + {0, 1}.
#pragma once

#include <cstdint>

#include "common/codecs.h"
#include "common/quant_rules.h"
#include "kernels/params.h"
#include "kernels/sm90/decode_wgmma/components/pv.cuh"

namespace snapmla::kernels::decode_wgmma {

__device__ __forceinline__ void write_segment(const DecodeParams& p, int b, int row0, int wg, int split, bool single,
                                              const decode_tc::RowState& state, const OutputAcc& o) {
  const int rows = p.s_q * p.h_q;
  const int lane = threadIdx.x % kWarpThreads, warp = (threadIdx.x / kWarpThreads) % 4, g = lane / 4, t = lane % 4;
#pragma unroll
  for (int i = 0; i < kRowsPerThread; ++i) {
    const int row = row0 + 16 * warp + g + 8 * i;
    if (row >= rows) continue;
    const auto [empty, inv_l, lse2] = decode_tc::finish_row(state, i);
    // / and %, not query_row (one division): with query_row here and in merge_splits, ptxas laid
    // out this kernel's block loop differently and the large calls lost 1-2 % (docs/perf.md, v33).
    const long long iq = row / p.h_q, h = row % p.h_q;
    const bool lse_writer = wg == 0 && t == 0;
    const long long slot = static_cast<long long>(split) * rows + row;
    std::uint16_t* out = p.out + b * p.out_stride[0] + iq * p.out_stride[1] + h * p.out_stride[2];
    float* partial = p.partial_o + slot * kDimLatent;
#pragma unroll
    for (int c = 0; c < kPvChunks; ++c)
#pragma unroll
      for (int j = 0; j < kPvChunkDims / 8; ++j) {
        const int dim = wg * kPvDimsPerWarpgroup + c * kPvChunkDims + 8 * j + 2 * t;
        const float v0 = empty ? 0.0f : __fmul_rn(o[c][4 * j + 2 * i], inv_l);
        const float v1 = empty ? 0.0f : __fmul_rn(o[c][4 * j + 2 * i + 1], inv_l);
        if (single) {
          *reinterpret_cast<std::uint32_t*>(out + dim) = bf16_from_float(v0) | (std::uint32_t(bf16_from_float(v1)) << 16);
        } else {
          *reinterpret_cast<float2*>(partial + dim) = make_float2(v0, v1);
        }
      }
    if (lse_writer) {
      if (single) p.lse[b * p.lse_stride[0] + h * p.lse_stride[1] + iq * p.lse_stride[2]] = reported_lse(lse2);
      else p.partial_lse[slot] = lse2;
    }
  }
}

}  // namespace snapmla::kernels::decode_wgmma

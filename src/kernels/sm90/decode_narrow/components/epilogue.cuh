// Step 5, at the end of a segment: O / l and the LSE with the semantics of the other decode
// kernels (ref::finish_row, decode_wgmma/components/epilogue.cuh): a request with one split
// writes out (bf16) and lse; a split of a longer request writes partial_o (fp32) and
// partial_lse. Thread (w, g, t) holds, for its rows row0 + col(c), the dim pairs
// pv_out_dim(m, w, g, 0..1) of every dim tile m: one 4-byte (bf16) or 8-byte (fp32) store each.
#pragma once

#include <cstdint>

#include "common/codecs.h"
#include "common/quant_rules.h"
#include "kernels/params.h"
#include "kernels/sm90/decode_narrow/components/pv.cuh"
#include "kernels/sm90/decode_tc/components/softmax_p.cuh"

namespace snapmla::kernels::decode_narrow {

template <int kCols>
__device__ __forceinline__ void write_segment(const DecodeParams& p, int b, int row0, int split, bool single,
                                              const RowState<kCols>& state, const OutputAcc<kCols>& o) {
  const int rows = p.s_q * p.h_q;
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, g = lane / 4, t = lane % 4;
#pragma unroll
  for (int c = 0; c < kColsPerThread<kCols>; ++c) {
    const int row = row0 + col_of(c, t);
    if (row >= rows) continue;
    const auto [empty, inv_l, lse2] = decode_tc::finish_row(state.m[c], state.l[c]);
    const long long iq = row / p.h_q, h = row % p.h_q;
    const long long slot = static_cast<long long>(split) * rows + row;
    std::uint16_t* out = p.out + b * p.out_stride[0] + iq * p.out_stride[1] + h * p.out_stride[2];
    float* partial = p.partial_o + slot * kDimLatent;
#pragma unroll
    for (int m = 0; m < kDimTiles; ++m) {
      const int dim = pv_out_dim(m, warp, g, 0);
      const float v0 = empty ? 0.0f : __fmul_rn(o[m][acc_reg(c, 0)], inv_l);
      const float v1 = empty ? 0.0f : __fmul_rn(o[m][acc_reg(c, 1)], inv_l);
      if (single) {
        *reinterpret_cast<std::uint32_t*>(out + dim) = bf16_from_float(v0) | (std::uint32_t(bf16_from_float(v1)) << 16);
      } else {
        *reinterpret_cast<float2*>(partial + dim) = make_float2(v0, v1);
      }
    }
    if (warp == 0 && g == 0) {  // one writer per row
      if (single) p.lse[b * p.lse_stride[0] + h * p.lse_stride[1] + iq * p.lse_stride[2]] = reported_lse(lse2);
      else p.partial_lse[slot] = lse2;
    }
  }
}

}  // namespace snapmla::kernels::decode_narrow

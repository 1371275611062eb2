// Step 5, at the end of a segment: O / l and the LSE, with the semantics of decode_fp8's
// epilogue (ref::finish_row). A request with one split writes out (bf16) and lse (natural log,
// +inf for a row that saw nothing, with out = 0); a split of a longer request writes partial_o
// (fp32, O / l) and partial_lse (log2, -inf if empty, with partial_o = 0).
// Thread (g, t) of warp (row group, split) owns rows g, g + 8 of its group and, per 16-dim block
// D of its split's dims, the dims 16 D + 4t + {0..3} (FP8) or 16 D + {2t, 2t + 1, 8 + 2t, 9 + 2t}
// (BF16), see pv_dim_offset.
#pragma once

#include <cstdint>

#include "common/codecs.h"
#include "common/quant_rules.h"
#include "kernels/params.h"
#include "kernels/sm90/decode_tc/components/pv.cuh"

namespace snapmla::kernels::decode_tc {

template <class T>
__device__ __forceinline__ void write_segment(const DecodeParams& p, int b, int row0, int row_group, int dim_split,
                                              int split, bool single, const RowState& state,
                                              const OutputFragment<T>& o) {
  const int rows = p.s_q * p.h_q;
  const int lane = threadIdx.x % kWarpThreads, g = lane / 4, t = lane % 4;
#pragma unroll
  for (int i = 0; i < kRowsPerThread; ++i) {
    const int row = row0 + row_group * kMmaM + g + 8 * i;
    if (row >= rows) continue;
    const auto [empty, inv_l, lse2] = decode_tc::finish_row(state, i);
    const QueryRow q = query_row(row, p.h_q);
    const long long iq = q.i, h = q.h;
    const bool lse_writer = dim_split == 0 && t == 0;
    if (single) {
      std::uint16_t* dst = p.out + b * p.out_stride[0] + iq * p.out_stride[1] + h * p.out_stride[2];
#pragma unroll
      for (int d = 0; d < T::kPvDimBlocks; ++d) {
        std::uint16_t v[kPvDimsPerThread];
#pragma unroll
        for (int k = 0; k < kPvDimsPerThread; ++k) v[k] = bf16_from_float(empty ? 0.0f : __fmul_rn(o[d][i][k], inv_l));
        const int d0 = dim_split * T::kPvDimsPerWarp + d * kPvDimBlock;
        const std::uint32_t w0 = v[0] | (std::uint32_t(v[1]) << 16), w1 = v[2] | (std::uint32_t(v[3]) << 16);
        if constexpr (T::Fmt::kFp8) {
          *reinterpret_cast<uint2*>(dst + d0 + pv_dim_offset<typename T::Fmt>(t, 0)) = make_uint2(w0, w1);
        } else {
          *reinterpret_cast<std::uint32_t*>(dst + d0 + pv_dim_offset<typename T::Fmt>(t, 0)) = w0;
          *reinterpret_cast<std::uint32_t*>(dst + d0 + pv_dim_offset<typename T::Fmt>(t, 2)) = w1;
        }
      }
      if (lse_writer) p.lse[b * p.lse_stride[0] + h * p.lse_stride[1] + iq * p.lse_stride[2]] = reported_lse(lse2);
    } else {
      const long long slot = static_cast<long long>(split) * rows + row;
      float* dst = p.partial_o + slot * kDimLatent;
#pragma unroll
      for (int d = 0; d < T::kPvDimBlocks; ++d) {
        float v[kPvDimsPerThread];
#pragma unroll
        for (int k = 0; k < kPvDimsPerThread; ++k) v[k] = empty ? 0.0f : __fmul_rn(o[d][i][k], inv_l);
        const int d0 = dim_split * T::kPvDimsPerWarp + d * kPvDimBlock;
        if constexpr (T::Fmt::kFp8) {
          *reinterpret_cast<float4*>(dst + d0 + pv_dim_offset<typename T::Fmt>(t, 0)) = make_float4(v[0], v[1], v[2], v[3]);
        } else {
          *reinterpret_cast<float2*>(dst + d0 + pv_dim_offset<typename T::Fmt>(t, 0)) = make_float2(v[0], v[1]);
          *reinterpret_cast<float2*>(dst + d0 + pv_dim_offset<typename T::Fmt>(t, 2)) = make_float2(v[2], v[3]);
        }
      }
      if (lse_writer) p.partial_lse[slot] = lse2;
    }
  }
}

}  // namespace snapmla::kernels::decode_tc

// Step 5, at the end of a segment: O / l and the LSE (ref::finish_row). A request with one
// split writes out (bf16) and lse (natural log, +inf for a row that saw nothing, with out = 0);
// a split of a longer request writes partial_o (fp32) and partial_lse (log2, -inf if empty).
#pragma once

#include <cstdint>

#include "common/codecs.h"
#include "common/quant_rules.h"
#include "kernels/params.h"
#include "kernels/sm90/decode_fp8/components/pv.cuh"

namespace snapmla::kernels::decode {

template <class Format>
__device__ __forceinline__ void write_segment(const DecodeParams& p, const SharedStorage<Format>& sm, int b,
                                              int row0, int split, bool single, int dim_group, int row_group,
                                              const OutputFragment& o) {
  const int rows = p.s_q * p.h_q;
  const float inf = __int_as_float(0x7f800000);
  const int d0 = dim_group * kDimsPerThread;
#pragma unroll
  for (int r = 0; r < kRowsPerThread; ++r) {
    const int j = row_group * kRowsPerThread + r, row = row0 + j;
    if (row >= rows) continue;
    const float m = sm.m[j], l = sm.l[j];
    const bool empty = l == 0.0f && m == -inf;
    const float inv_l = empty ? 0.0f : __fdiv_rn(1.0f, l);
    const float lse2 = empty ? -inf : m + log2f(l);
    float out[kDimsPerThread];
#pragma unroll
    for (int d = 0; d < kDimsPerThread; ++d) out[d] = empty ? 0.0f : __fmul_rn(o[r][d], inv_l);
    const long long i = row / p.h_q, h = row % p.h_q;
    if (single) {
      std::uint16_t* dst = p.out + b * p.out_stride[0] + i * p.out_stride[1] + h * p.out_stride[2] + d0;
#pragma unroll
      for (int d = 0; d < kDimsPerThread; ++d) dst[d] = bf16_from_float(out[d]);
      if (dim_group == 0) p.lse[b * p.lse_stride[0] + h * p.lse_stride[1] + i * p.lse_stride[2]] = reported_lse(lse2);
    } else {
      const long long slot = static_cast<long long>(split) * rows + row;
      float4* dst = reinterpret_cast<float4*>(p.partial_o + slot * kDimLatent + d0);
#pragma unroll
      for (int d = 0; d < kDimsPerThread; d += 4) dst[d / 4] = make_float4(out[d], out[d + 1], out[d + 2], out[d + 3]);
      if (dim_group == 0) p.partial_lse[slot] = lse2;
    }
  }
}

}  // namespace snapmla::kernels::decode

// Step 4 of a block: O = O * alpha + unmult * sum_t P[t] * V[t] for the thread's rows and its
// kDimsPerThread output dims. Tokens are summed in increasing order (like the reference); the
// products P * V of e4m3 (or bf16) values are exact. Tokens every row of the thread sees run
// unconditionally; the few tokens only some rows see (causal tails) are added per row, so a
// masked token's V is never multiplied (NaN in V cannot leak through 0 * NaN).
#pragma once

#include <cstdint>

#include "kernels/common/block_fold.cuh"
#include "kernels/sm90/decode_fp8/components/convert.cuh"
#include "kernels/sm90/decode_fp8/components/shared_storage.cuh"
#include "kernels/sm90/decode_fp8/components/softmax.cuh"

namespace snapmla::kernels::decode {

using OutputFragment = float[kRowsPerThread][kDimsPerThread];

template <class Format>
__device__ __forceinline__ void load_v(const PageStage<Format>& st, int t, int dim_group, float (&v)[kDimsPerThread]) {
  const std::uint8_t* src = &st.content[t][dim_group * Format::kPvBytesPerThread];
  if constexpr (Format::kFp8) {
    const uint2 raw = *reinterpret_cast<const uint2*>(src);
    const std::uint32_t words[2] = {raw.x, raw.y};
    words_to_float<true, 2>(words, v);
  } else {
    const uint4 raw = *reinterpret_cast<const uint4*>(src);
    const std::uint32_t words[4] = {raw.x, raw.y, raw.z, raw.w};
    words_to_float<false, 4>(words, v);
  }
}

template <class Format>
__device__ __forceinline__ void accumulate_pv(const SharedStorage<Format>& sm, const PageStage<Format>& st,
                                              int block, int dim_group, int row_group, OutputFragment& o) {
  const int row_base = row_group * kRowsPerThread;
  int n_row[kRowsPerThread];
  int n_all = kTokensPerBlock, n_any = 0;
#pragma unroll
  for (int r = 0; r < kRowsPerThread; ++r) {
    n_row[r] = tokens_in_block(sm.visible[row_base + r], block);
    if (n_row[r] > 0) { n_all = min(n_all, n_row[r]); n_any = max(n_any, n_row[r]); }
  }
  if (n_any == 0) return;  // no row of this thread sees the block: O unchanged

  float acc[kRowsPerThread][kDimsPerThread] = {};
  float v[kDimsPerThread];
  for (int t = 0; t < n_all; ++t) {
    load_v(st, t, dim_group, v);
    const float4 pt = *reinterpret_cast<const float4*>(&sm.p[t][row_base]);
    const float pr[kRowsPerThread] = {pt.x, pt.y, pt.z, pt.w};
#pragma unroll
    for (int r = 0; r < kRowsPerThread; ++r)
#pragma unroll
      for (int d = 0; d < kDimsPerThread; ++d) acc[r][d] = fmaf(pr[r], v[d], acc[r][d]);
  }
  for (int t = n_all; t < n_any; ++t) {
    load_v(st, t, dim_group, v);
#pragma unroll
    for (int r = 0; r < kRowsPerThread; ++r) {
      if (t >= n_row[r]) continue;
      const float pr = sm.p[t][row_base + r];
#pragma unroll
      for (int d = 0; d < kDimsPerThread; ++d) acc[r][d] = fmaf(pr, v[d], acc[r][d]);
    }
  }
#pragma unroll
  for (int r = 0; r < kRowsPerThread; ++r) {
    if (n_row[r] == 0) continue;  // the reference leaves the state untouched
    const float alpha = sm.alpha[row_base + r], unmult = sm.unmult[row_base + r];
#pragma unroll
    for (int d = 0; d < kDimsPerThread; ++d)
      o[r][d] = fold_block(o[r][d], alpha, unmult, acc[r][d]);
  }
}

}  // namespace snapmla::kernels::decode

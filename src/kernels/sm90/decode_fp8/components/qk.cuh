// Step 2 of a block: scores. Thread (token t, row group) computes, for its kRowsPerThread rows,
//   acc = qc . kv (512, fp32) + qr . kr (64, fp32)       (products of e4m3/bf16 values are exact)
//   x   = (acc * row_factor) * s[t]                      (FP8; BF16: acc * scale_log2)
// Each dot product uses kDotPartials interleaved partial sums and the fixed tree of
// ref::dot_f32, so the scores equal the CPU emulation's bit for bit.
#pragma once

#include <cstdint>

#include "kernels/sm90/decode_fp8/components/convert.cuh"
#include "kernels/sm90/decode_fp8/components/shared_storage.cuh"

namespace snapmla::kernels::decode {

__device__ __forceinline__ float partials_tree(const float (&s)[kDotPartials]) {
  return ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
}

// Accumulates one 16-byte chunk of one token (values [d0, d0 + n)) into the partials of the
// thread's rows. Element e of the chunk goes to partial (d0 + e) % 8, in increasing order.
template <bool kFp8Values, int kValues>
__device__ __forceinline__ void dot_chunk(const std::uint8_t* chunk, const float (*q)[kDimQK], int row_base,
                                          int d0, float (&part)[kRowsPerThread][kDotPartials]) {
  const uint4 raw = *reinterpret_cast<const uint4*>(chunk);
  const std::uint32_t words[4] = {raw.x, raw.y, raw.z, raw.w};
  float kv[kValues];
  words_to_float<kFp8Values, 4>(words, kv);
#pragma unroll
  for (int r = 0; r < kRowsPerThread; ++r) {
    const float* qr = &q[row_base + r][d0];
#pragma unroll
    for (int e = 0; e < kValues; ++e) part[r][e % kDotPartials] = fmaf(qr[e], kv[e], part[r][e % kDotPartials]);
  }
}

template <class Format>
__device__ __forceinline__ void compute_scores(SharedStorage<Format>& sm, const PageStage<Format>& st, int t,
                                               int row_group, int n_any) {
  if (t >= n_any) return;  // masked for every row of the tile: never read
  const int row_base = row_group * kRowsPerThread;
  float part[kRowsPerThread][kDotPartials];
  float content_dot[kRowsPerThread];

  // c_kv . q_nope
#pragma unroll
  for (int r = 0; r < kRowsPerThread; ++r)
#pragma unroll
    for (int k = 0; k < kDotPartials; ++k) part[r][k] = 0.0f;
#pragma unroll 4
  for (int c = 0; c < Format::kContentBytes / kChunkBytes; ++c)
    dot_chunk<Format::kFp8, Format::kContentPerChunk>(&st.content[t][c * kChunkBytes], sm.q, row_base,
                                                      c * Format::kContentPerChunk, part);
#pragma unroll
  for (int r = 0; r < kRowsPerThread; ++r) {
    content_dot[r] = partials_tree(part[r]);
#pragma unroll
    for (int k = 0; k < kDotPartials; ++k) part[r][k] = 0.0f;
  }

  // k_rope . q_rope (bf16, same accumulator precision)
  constexpr int kRopePerChunk = kChunkBytes / 2;
#pragma unroll
  for (int c = 0; c < kRopeBytes / kChunkBytes; ++c)
    dot_chunk<false, kRopePerChunk>(&st.rope[t][c * kChunkBytes], sm.q, row_base, kDimLatent + c * kRopePerChunk,
                                    part);

#pragma unroll
  for (int r = 0; r < kRowsPerThread; ++r) {
    const int row = row_base + r;
    const float acc = __fadd_rn(content_dot[r], partials_tree(part[r]));
    float x = __fmul_rn(acc, sm.row_factor[row]);
    if constexpr (Format::kFp8) x = __fmul_rn(x, st.scale[t]);
    sm.x[row][t] = x;
  }
}

}  // namespace snapmla::kernels::decode

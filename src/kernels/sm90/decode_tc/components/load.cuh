// Step 1: stage one cache page (the page loader of decode_fp8 / decode_bf16, reused as is:
// cp.async 16-byte chunks of the whole page, NaN fill for a page id outside the cache), and, at
// the start of a segment, the tile's query rows (16-byte loads of the e4m3 content and the bf16
// RoPE slice, or of the bf16 row of 576; padding rows are zero) and the per-row state.
#pragma once

#include <cstdint>

#include "kernels/params.h"
#include "kernels/sm90/decode_fp8/components/load.cuh"
#include "kernels/sm90/decode_tc/components/shared_storage.cuh"

namespace snapmla::kernels::decode_tc {

using decode::cp_async_commit;
using decode::cp_async_wait;

template <class T>
__device__ __forceinline__ void issue_page_load(const DecodeParams& p, int page, Stage<T>& st) {
  decode::issue_page_load<typename T::Fmt::Cache>(p, page, st);
}

template <class T>
__device__ __forceinline__ void load_query_tile(const DecodeParams& p, int b, int row0, int length,
                                                SharedStorage<T>& sm) {
  const int rows = p.s_q * p.h_q;
  constexpr bool kFp8 = T::Fmt::kFp8;
  constexpr int kContentChunks = (T::kQContentRowBytes - kRowPadBytes) / kChunkBytes;  // 32 (FP8), 64 (BF16)
  constexpr int kRopeChunks = kRopeBytes / kChunkBytes;                               // 8 per row
  constexpr int kRowChunks = kContentChunks + kRopeChunks;
  // cp.async, so that every chunk is in flight at once (plain loads stored to shared memory
  // took one global latency per loop trip).
  decode::for_each_query_chunk<T::kRowsPerCta, kThreads, kRowChunks>(
      row0, rows, p.h_q, [&](int j, int c, long long i, long long h, bool valid) {
        const void* src;
        if constexpr (!kFp8) {  // one bf16 row of 576: content then RoPE, 8 values a chunk
          src = p.q_bf16 + b * p.q_bf16_stride[0] + i * p.q_bf16_stride[1] + h * p.q_bf16_stride[2] +
                c * (kChunkBytes / 2);
        } else if (c < kContentChunks) {
          src = p.q_nope + b * p.q_nope_stride[0] + i * p.q_nope_stride[1] + h * p.q_nope_stride[2] + c * kChunkBytes;
        } else {
          src = p.q_rope + b * p.q_rope_stride[0] + i * p.q_rope_stride[1] + h * p.q_rope_stride[2] +
                (c - kContentChunks) * (kChunkBytes / 2);
        }
        void* dst = c < kContentChunks ? static_cast<void*>(&sm.q_content[j][c * kChunkBytes])
                                       : static_cast<void*>(&sm.q_rope[j][(c - kContentChunks) * kChunkBytes]);
        decode::cp_async_16_or_zero(dst, src, valid);
      });
  cp_async_commit();
  if (threadIdx.x < T::kRowsPerCta) {
    const int j = threadIdx.x;
    const decode::RowSetup r = decode::row_setup<kFp8>(p, b, row0 + j, length);
    sm.row_factor[j] = r.factor;
    sm.visible[j] = r.visible;
  }
  if (threadIdx.x == 0) sm.max_visible = decode::tile_visible(length, p.s_q, p.h_q, p.causal, row0, T::kRowsPerCta).max_visible;
  cp_async_wait<0>();  // the rows (and the first page, committed before them); the caller's barrier publishes them
}

}  // namespace snapmla::kernels::decode_tc

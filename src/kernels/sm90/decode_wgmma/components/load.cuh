// Step 1: stage a cache page (cp.async, 16-byte chunks, into the SW128 tiles of config.h:
// consecutive threads read consecutive global chunks, and the 8 chunks of a 128-byte row land
// on 8 distinct bank groups), and, at the start of a segment, the tile's query rows and per-row
// state. A page id outside the cache is never dereferenced: its stage is filled with NaN, so
// the rows that see it come out NaN (as in the other decode kernels).
#pragma once

#include <cstdint>

#include "kernels/params.h"
#include "kernels/sm90/decode_fp8/components/load.cuh"
#include "kernels/sm90/decode_wgmma/components/shared_storage.cuh"

namespace snapmla::kernels::decode_wgmma {

using decode::cp_async_16;
using decode::cp_async_commit;
using decode::cp_async_wait;

inline constexpr int kContentChunksPerRow = kDimLatent / kChunkBytes;  // 32
inline constexpr int kRopeChunksPerRow = 2 * kDimRope / kChunkBytes;   // 8

__device__ __forceinline__ void fill_stage_nan(PageStage& st) {
  auto* content = reinterpret_cast<std::uint32_t*>(st.content);
  auto* rope = reinterpret_cast<std::uint32_t*>(st.rope);
  for (int k = threadIdx.x; k < int(sizeof(st.content) / 4); k += kThreads) content[k] = decode::kNanWordE4m3;
  for (int k = threadIdx.x; k < int(sizeof(st.rope) / 4); k += kThreads) rope[k] = decode::kNanWordBf16;
  for (int k = threadIdx.x; k < kTokensPerBlock; k += kThreads) st.scale[k] = __uint_as_float(decode::kNanWordF32);
}

// Thread tid copies chunks k = tid + 256 i of the page: for the content (32 chunks a token) that
// is token tid / 32 + 8 i, chunk tid % 32, so its row % 8 and hence its swizzled column are the
// same for every i: one shared offset, stepped by 8 rows (1024 bytes) per i. Likewise for RoPE
// (8 chunks a token: token tid / 8 + 32 i, stepped by 4096 bytes). Computed once per CTA.
struct PageLoadOffsets {
  int content;  // smem byte offset of the thread's first content chunk
  int rope;     // and of its first RoPE chunk
};
inline constexpr int kContentChunksPerThread = kTokensPerBlock * kContentChunksPerRow / kThreads;  // 8
inline constexpr int kRopeChunksPerThread = kTokensPerBlock * kRopeChunksPerRow / kThreads;        // 2
inline constexpr int kScaleChunks = kTokensPerBlock * 4 / kChunkBytes;                            // 16
static_assert(kThreads % kContentChunksPerRow == 0 && kThreads % kRopeChunksPerRow == 0);

__device__ __forceinline__ PageLoadOffsets page_load_offsets() {
  const int tid = threadIdx.x;
  return {sw128_offset(kTokensPerBlock, tid / kContentChunksPerRow, (tid % kContentChunksPerRow) * kChunkBytes),
          sw128_offset(kTokensPerBlock, tid / kRopeChunksPerRow, (tid % kRopeChunksPerRow) * kChunkBytes)};
}

// Issues the copies of physical page `page` into `st` (the caller commits the group).
__device__ __forceinline__ void issue_page_load(const DecodeParams& p, int page, PageStage& st,
                                                const PageLoadOffsets& off) {
  if (page < 0 || page >= p.fp8_cache.num_pages) return fill_stage_nan(st);
  const long long token0 = static_cast<long long>(page) * kTokensPerBlock;
  const std::uint8_t* content = p.fp8_cache.kv_fp8 + token0 * kDimLatent + threadIdx.x * kChunkBytes;
#pragma unroll
  for (int i = 0; i < kContentChunksPerThread; ++i)
    cp_async_16(&st.content[off.content + i * (kThreads / kContentChunksPerRow) * kSw128RowBytes],
                content + i * kThreads * kChunkBytes);
  const auto* rope =
      reinterpret_cast<const std::uint8_t*>(p.fp8_cache.kv_rope + token0 * kDimRope) + threadIdx.x * kChunkBytes;
#pragma unroll
  for (int i = 0; i < kRopeChunksPerThread; ++i)
    cp_async_16(&st.rope[off.rope + i * (kThreads / kRopeChunksPerRow) * kSw128RowBytes], rope + i * kThreads * kChunkBytes);
  const auto* scale = reinterpret_cast<const std::uint8_t*>(p.fp8_cache.kv_scale + token0);
  if (threadIdx.x < kScaleChunks)
    cp_async_16(reinterpret_cast<std::uint8_t*>(st.scale) + threadIdx.x * kChunkBytes, scale + threadIdx.x * kChunkBytes);
}

// The tile's query rows (padding rows are zero) and per-row state of request b, at their tile
// rows (config.h: compact tiles spread 32 rows over the slot-0 rows).
template <bool kCompact>
__device__ __forceinline__ void load_query_tile(const DecodeParams& p, int b, int row0, int length,
                                                SharedStorage& sm) {
  const int rows = p.s_q * p.h_q;
  const auto query_row = [&](int tile_row) {  // request row of a tile row, or rows (padding)
    const int q = query_row_of(kCompact, tile_row);
    return q < 0 ? rows : row0 + q;
  };
  constexpr int kRowChunks = kContentChunksPerRow + kRopeChunksPerRow;  // 40
  for (int k = threadIdx.x; k < kRowsPerCta * kRowChunks; k += kThreads) {
    const int j = k / kRowChunks, c = k % kRowChunks, row = query_row(j);
    uint4 v = make_uint4(0, 0, 0, 0);
    if (row < rows) {
      const long long i = row / p.h_q, h = row % p.h_q;
      if (c < kContentChunksPerRow) {
        v = *reinterpret_cast<const uint4*>(p.q_nope + b * p.q_nope_stride[0] + i * p.q_nope_stride[1] +
                                            h * p.q_nope_stride[2] + c * kChunkBytes);
      } else {
        v = *reinterpret_cast<const uint4*>(p.q_rope + b * p.q_rope_stride[0] + i * p.q_rope_stride[1] +
                                            h * p.q_rope_stride[2] + (c - kContentChunksPerRow) * (kChunkBytes / 2));
      }
    }
    std::uint8_t* dst = c < kContentChunksPerRow
                            ? &sm.q_content[sw128_offset(kRowsPerCta, j, c * kChunkBytes)]
                            : &sm.q_rope[sw128_offset(kRowsPerCta, j, (c - kContentChunksPerRow) * kChunkBytes)];
    *reinterpret_cast<uint4*>(dst) = v;
  }
  if (threadIdx.x < kRowsPerCta) {
    const int j = threadIdx.x, row = query_row(j);
    float factor = 0.0f;
    int visible = 0;
    if (row < rows) {
      const long long i = row / p.h_q, h = row % p.h_q;
      factor = __fmul_rn(p.q_scale[b * p.q_scale_stride[0] + i * p.q_scale_stride[1] + h * p.q_scale_stride[2]],
                         p.scale_log2);
      visible = max(visible_tokens(length, p.s_q, static_cast<int>(i), p.causal), 0);
    }
    sm.row_factor[j] = factor;
    sm.visible[j] = visible;
  }
  if (threadIdx.x == 0) {
    int max_visible = 0, min_visible = length;
    for (int j = 0; j < kRowsPerCta && row0 + j < rows; ++j) {  // the tile's request rows
      const int v = max(visible_tokens(length, p.s_q, (row0 + j) / p.h_q, p.causal), 0);
      max_visible = max(max_visible, v);
      min_visible = min(min_visible, v);
    }
    sm.max_visible = max_visible;
    sm.min_visible = min(min_visible, max_visible);
  }
}

}  // namespace snapmla::kernels::decode_wgmma

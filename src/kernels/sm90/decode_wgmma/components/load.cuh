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
inline constexpr int kScaleChunks = kTokensPerBlock * 4 / kChunkBytes;  // 16

template <int kLoaderThreads = kThreads>
__device__ __forceinline__ void fill_stage_nan(PageStage& st) {
  auto* content = reinterpret_cast<std::uint32_t*>(st.content);
  auto* rope = reinterpret_cast<std::uint32_t*>(st.rope);
  const int tid = threadIdx.x;  // the CTA has kLoaderThreads threads
  for (int k = tid; k < int(sizeof(st.content) / 4); k += kLoaderThreads) content[k] = decode::kNanWordE4m3;
  for (int k = tid; k < int(sizeof(st.rope) / 4); k += kLoaderThreads) rope[k] = decode::kNanWordBf16;
  for (int k = tid; k < kTokensPerBlock; k += kLoaderThreads) st.scale[k] = __uint_as_float(decode::kNanWordF32);
}

// Thread tid of the CTA's kLoaderThreads (256: the wgmma kernel, 128: the narrow kernel) copies chunks
// k = tid + kLoaderThreads i of the page: for the content (32 chunks a token) that is token
// tid / 32 + (kLoaderThreads / 32) i, chunk tid % 32. With 256 threads the token steps by 8 rows,
// so its row % 8, hence its swizzled column, is the same for every i: one shared offset stepped
// by 1024 bytes; with 128 threads it steps by 4 rows and alternates between two offsets. Likewise
// for RoPE (8 chunks a token: token tid / 8 + (kLoaderThreads / 8) i, a multiple of 8 rows).
// Computed once per CTA.
template <int kLoaderThreads = kThreads>
struct PageLoadPlan {
  static constexpr int kContentRowsPerPass = kLoaderThreads / kContentChunksPerRow;  // 8 or 4
  static constexpr int kContentOffsets = kContentRowsPerPass >= 8 ? 1 : 8 / kContentRowsPerPass;
  static constexpr int kContentChunksPerThread = kTokensPerBlock * kContentChunksPerRow / kLoaderThreads;
  static constexpr int kRopeRowsPerPass = kLoaderThreads / kRopeChunksPerRow;
  static constexpr int kRopeChunksPerThread = kTokensPerBlock * kRopeChunksPerRow / kLoaderThreads;
  static_assert(kContentRowsPerPass * kContentOffsets == 8 && kRopeRowsPerPass % 8 == 0);
  static_assert(kLoaderThreads % kContentChunksPerRow == 0 && kLoaderThreads >= kTokensPerBlock * 4 / kChunkBytes);

  int content[kContentOffsets];  // smem byte offsets of the thread's first content chunks
  int rope;                      // and of its first RoPE chunk

  __device__ __forceinline__ PageLoadPlan() {
    const int tid = threadIdx.x;  // the CTA has kLoaderThreads threads
#pragma unroll
    for (int v = 0; v < kContentOffsets; ++v)
      content[v] = sw128_offset(kTokensPerBlock, tid / kContentChunksPerRow + v * kContentRowsPerPass,
                                (tid % kContentChunksPerRow) * kChunkBytes);
    rope = sw128_offset(kTokensPerBlock, tid / kRopeChunksPerRow, (tid % kRopeChunksPerRow) * kChunkBytes);
  }

  // Issues the copies of physical page `page` into `st` (the caller commits the group).
  __device__ __forceinline__ void issue(const DecodeParams& p, int page, PageStage& st) const {
    if (page < 0 || page >= p.fp8_cache.num_pages) return fill_stage_nan<kLoaderThreads>(st);
    const int tid = threadIdx.x;  // the CTA has kLoaderThreads threads
    const long long token0 = static_cast<long long>(page) * kTokensPerBlock;
    const std::uint8_t* src = p.fp8_cache.kv_fp8 + token0 * kDimLatent + tid * kChunkBytes;
#pragma unroll
    for (int i = 0; i < kContentChunksPerThread; ++i)
      cp_async_16(&st.content[content[i % kContentOffsets] + (i / kContentOffsets) * kSw128AtomBytes],
                  src + i * kLoaderThreads * kChunkBytes);
    const auto* rope_src =
        reinterpret_cast<const std::uint8_t*>(p.fp8_cache.kv_rope + token0 * kDimRope) + tid * kChunkBytes;
#pragma unroll
    for (int i = 0; i < kRopeChunksPerThread; ++i)
      cp_async_16(&st.rope[rope + i * kRopeRowsPerPass * kSw128RowBytes], rope_src + i * kLoaderThreads * kChunkBytes);
    const auto* scale = reinterpret_cast<const std::uint8_t*>(p.fp8_cache.kv_scale + token0);
    if (tid < kScaleChunks)
      cp_async_16(reinterpret_cast<std::uint8_t*>(st.scale) + tid * kChunkBytes, scale + tid * kChunkBytes);
  }
};
using PageLoadOffsets = PageLoadPlan<>;

__device__ __forceinline__ PageLoadOffsets page_load_offsets() { return PageLoadOffsets(); }

__device__ __forceinline__ void issue_page_load(const DecodeParams& p, int page, PageStage& st,
                                                const PageLoadOffsets& off) {
  off.issue(p, page, st);
}

// The tile's query rows (padding rows are zero) and per-row state of request b, at their tile
// rows: tile row j holds request row row0 + query_row_of_tile(j), or padding where that is < 0
// (the wgmma and narrow kernels keep them in order). Smem: any storage with q_content / q_rope (SW128 tiles of kTileRows rows),
// row_factor, visible, max_visible and min_visible; the CTA has kLoaderThreads threads.
template <int kTileRows, int kLoaderThreads, class Smem, class TileRowMap>
__device__ __forceinline__ void load_query_rows(const DecodeParams& p, int b, int row0, int length, Smem& sm,
                                                TileRowMap query_row_of_tile) {
  const int rows = p.s_q * p.h_q;
  const auto query_row = [&](int tile_row) {  // request row of a tile row, or rows (padding)
    const int q = query_row_of_tile(tile_row);
    return q < 0 ? rows : row0 + q;
  };
  constexpr int kRowChunks = kContentChunksPerRow + kRopeChunksPerRow;  // 40
  for (int k = threadIdx.x; k < kTileRows * kRowChunks; k += kLoaderThreads) {
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
                            ? &sm.q_content[sw128_offset(kTileRows, j, c * kChunkBytes)]
                            : &sm.q_rope[sw128_offset(kTileRows, j, (c - kContentChunksPerRow) * kChunkBytes)];
    *reinterpret_cast<uint4*>(dst) = v;
  }
  if (threadIdx.x < kTileRows) {
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
    for (int j = 0; j < kTileRows && row0 + j < rows; ++j) {  // the tile's request rows
      const int v = max(visible_tokens(length, p.s_q, (row0 + j) / p.h_q, p.causal), 0);
      max_visible = max(max_visible, v);
      min_visible = min(min_visible, v);
    }
    sm.max_visible = max_visible;
    sm.min_visible = min(min_visible, max_visible);
  }
}

__device__ __forceinline__ void load_query_tile(const DecodeParams& p, int b, int row0, int length,
                                                SharedStorage& sm) {
  load_query_rows<kRowsPerCta, kThreads>(p, b, row0, length, sm, [](int tile_row) { return tile_row; });
}

}  // namespace snapmla::kernels::decode_wgmma

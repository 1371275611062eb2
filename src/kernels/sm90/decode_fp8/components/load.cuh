// Step 1 of a block: stage one cache page in shared memory (cp.async, 16-byte chunks, the whole
// page so that each warp's loads are contiguous; only the tokens a row sees are ever used, the
// poisoned tail is never read into arithmetic). A page id outside the cache is never
// dereferenced: its stage is filled with NaN, so the rows that see it come out NaN.
// Also: the query rows of the tile at the start of a segment.
#pragma once

#include <cstdint>

#include "common/codecs.h"
#include "kernels/params.h"
#include "kernels/sm90/decode_bf16/config.h"
#include "kernels/sm90/decode_fp8/components/shared_storage.cuh"

namespace snapmla::kernels::decode {

__device__ __forceinline__ void cp_async_16(void* smem, const void* gmem) {
  const unsigned dst = static_cast<unsigned>(__cvta_generic_to_shared(smem));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(dst), "l"(gmem) : "memory");
}
// As cp_async_16, but copies nothing and writes 16 zero bytes when !valid (padding rows);
// `gmem` must still be a valid address.
__device__ __forceinline__ void cp_async_16_or_zero(void* smem, const void* gmem, bool valid) {
  const unsigned dst = static_cast<unsigned>(__cvta_generic_to_shared(smem));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(gmem), "r"(valid ? 16 : 0) : "memory");
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }
template <int kPending>
__device__ __forceinline__ void cp_async_wait() { asm volatile("cp.async.wait_group %0;\n" ::"n"(kPending) : "memory"); }

inline constexpr std::uint32_t kNanWordE4m3 = 0x7f7f7f7fu;  // four e4m3 NaNs
inline constexpr std::uint32_t kNanWordBf16 = 0x7fff7fffu;  // two bf16 NaNs
inline constexpr std::uint32_t kNanWordF32 = 0x7fc00000u;

// Fills a stage with NaN (a page id outside the cache).
template <class Format>
__device__ __forceinline__ void fill_stage_nan(PageStage<Format>& st) {
  constexpr int kContentWords = sizeof(st.content) / 4, kRopeWords = sizeof(st.rope) / 4;
  auto* content = reinterpret_cast<std::uint32_t*>(st.content);
  auto* rope = reinterpret_cast<std::uint32_t*>(st.rope);
  for (int k = threadIdx.x; k < kContentWords; k += kThreads) content[k] = Format::kFp8 ? kNanWordE4m3 : kNanWordBf16;
  for (int k = threadIdx.x; k < kRopeWords; k += kThreads) rope[k] = kNanWordBf16;
  for (int k = threadIdx.x; k < kTokensPerBlock; k += kThreads) st.scale[k] = __uint_as_float(kNanWordF32);
}

// Issues the copies of physical page `page` into `st` (the caller commits the group).
template <class Format>
__device__ __forceinline__ void issue_page_load(const DecodeParams& p, int page, PageStage<Format>& st) {
  if constexpr (Format::kFp8) {
    if (page < 0 || page >= p.fp8_cache.num_pages) return fill_stage_nan(st);
    const long long token0 = static_cast<long long>(page) * kTokensPerBlock;
    constexpr int kContentChunks = kDimLatent / kChunkBytes;  // per token
    const std::uint8_t* content = p.fp8_cache.kv_fp8 + token0 * kDimLatent;
    for (int k = threadIdx.x; k < kTokensPerBlock * kContentChunks; k += kThreads) {
      const int t = k / kContentChunks, c = k % kContentChunks;
      cp_async_16(&st.content[t][c * kChunkBytes], content + static_cast<long long>(k) * kChunkBytes);
    }
    constexpr int kRopeChunks = kRopeBytes / kChunkBytes;
    const auto* rope = reinterpret_cast<const std::uint8_t*>(p.fp8_cache.kv_rope + token0 * kDimRope);
    for (int k = threadIdx.x; k < kTokensPerBlock * kRopeChunks; k += kThreads) {
      const int t = k / kRopeChunks, c = k % kRopeChunks;
      cp_async_16(&st.rope[t][c * kChunkBytes], rope + static_cast<long long>(k) * kChunkBytes);
    }
    constexpr int kScaleChunks = kTokensPerBlock * 4 / kChunkBytes;
    const auto* scale = reinterpret_cast<const std::uint8_t*>(p.fp8_cache.kv_scale + token0);
    for (int k = threadIdx.x; k < kScaleChunks; k += kThreads)
      cp_async_16(reinterpret_cast<std::uint8_t*>(st.scale) + k * kChunkBytes, scale + k * kChunkBytes);
  } else {
    if (page < 0 || page >= p.num_pages_bf16) return fill_stage_nan(st);
    constexpr int kTokenChunks = Format::kTokenBytes / kChunkBytes;  // 72: 64 content + 8 rope
    constexpr int kContentChunks = Format::kContentBytes / kChunkBytes;
    const auto* kv = reinterpret_cast<const std::uint8_t*>(p.kv_bf16) +
                     static_cast<long long>(page) * kTokensPerBlock * Format::kTokenBytes;
    for (int k = threadIdx.x; k < kTokensPerBlock * kTokenChunks; k += kThreads) {
      const int t = k / kTokenChunks, c = k % kTokenChunks;
      void* dst = c < kContentChunks ? static_cast<void*>(&st.content[t][c * kChunkBytes])
                                     : static_cast<void*>(&st.rope[t][(c - kContentChunks) * kChunkBytes]);
      cp_async_16(dst, kv + static_cast<long long>(k) * kChunkBytes);
    }
  }
}

// fn(j, c, i, h, valid) for every 16-byte chunk c < kRowChunks of the tile's query rows
// j < kTileRows (row = row0 + j = i * h_q + h; valid: row < rows, else a padding row with
// i = h = 0), by kLoaderThreads threads. Each thread keeps one row, so the division by the
// runtime h_q runs once a thread: a chunk-strided loop divided twice a chunk (a 64-row tile:
// 10 trips of two software divisions a thread, ~1,400 instructions a warp at every segment
// start; docs/perf.md, v33).
template <int kTileRows, int kLoaderThreads, int kRowChunks, class Fn>
__device__ __forceinline__ void for_each_query_chunk(int row0, int rows, int h_q, Fn&& fn) {
  static_assert(kLoaderThreads % kTileRows == 0, "whole rows a thread group");
  constexpr int kThreadsPerRow = kLoaderThreads / kTileRows;
  const int j = threadIdx.x / kThreadsPerRow, row = row0 + j;
  const bool valid = row < rows;
  const QueryRow q = valid ? query_row(row, h_q) : QueryRow{0, 0};
#pragma unroll
  for (int c = threadIdx.x % kThreadsPerRow; c < kRowChunks; c += kThreadsPerRow) fn(j, c, q.i, q.h, valid);
}

// The state a query row starts a segment from (the CPU reference's row setup): its score factor,
// q_scale * scale_log2 (FP8) or scale_log2 (BF16), and the tokens it sees. Padding rows (row >=
// s_q * h_q): factor 0, visible 0. Shared by the loaders of every decode kernel.
struct RowSetup {
  float factor;
  int visible;
};
template <bool kFp8>
__device__ __forceinline__ RowSetup row_setup(const DecodeParams& p, int b, int row, int length) {
  RowSetup r{0.0f, 0};
  if (row < p.s_q * p.h_q) {
    const long long i = row / p.h_q, h = row % p.h_q;
    if constexpr (kFp8)
      r.factor = __fmul_rn(p.q_scale[b * p.q_scale_stride[0] + i * p.q_scale_stride[1] + h * p.q_scale_stride[2]],
                           p.scale_log2);
    else
      r.factor = p.scale_log2;
    r.visible = visible_tokens(length, p.s_q, static_cast<int>(i), p.causal);
    if (r.visible < 0) r.visible = 0;
  }
  return r;
}

// Loads the tile's query rows of request `b` as floats and sets up the per-row state.
// Rows past s_q * h_q are invalid: zero query, visible = 0.
template <class Format>
__device__ __forceinline__ void load_query_tile(const DecodeParams& p, int b, int row0, int length,
                                                SharedStorage<Format>& sm) {
  const int rows = p.s_q * p.h_q;
  for (int k = threadIdx.x; k < kRowsPerCta * kDimQK; k += kThreads) {
    const int j = k / kDimQK, d = k % kDimQK, row = row0 + j;
    float v = 0.0f;
    if (row < rows) {
      const long long i = row / p.h_q, h = row % p.h_q;
      if constexpr (Format::kFp8) {
        v = d < kDimLatent
                ? e4m3_to_float(p.q_nope[b * p.q_nope_stride[0] + i * p.q_nope_stride[1] + h * p.q_nope_stride[2] + d])
                : bf16_to_float(p.q_rope[b * p.q_rope_stride[0] + i * p.q_rope_stride[1] + h * p.q_rope_stride[2] +
                                         (d - kDimLatent)]);
      } else {
        v = bf16_to_float(p.q_bf16[b * p.q_bf16_stride[0] + i * p.q_bf16_stride[1] + h * p.q_bf16_stride[2] + d]);
      }
    }
    sm.q[j][d] = v;
  }
  if (threadIdx.x < kRowsPerCta) {
    const int j = threadIdx.x;
    const RowSetup r = row_setup<Format::kFp8>(p, b, row0 + j, length);
    sm.row_factor[j] = r.factor;
    sm.visible[j] = r.visible;
    sm.m[j] = -__int_as_float(0x7f800000);
    sm.l[j] = 0.0f;
  }
  if (threadIdx.x == 0) sm.max_visible = tile_visible(length, p.s_q, p.h_q, p.causal, row0, kRowsPerCta).max_visible;
}

}  // namespace snapmla::kernels::decode

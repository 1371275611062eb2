// Loads by the threads of the wgmma and narrow kernels (the pages themselves come by TMA,
// tma_load.cuh): the NaN fill of a stage whose page id is outside the cache (never
// dereferenced; the rows that see it come out NaN, as in the other decode kernels), and, at
// the start of a segment, the tile's query rows and per-row state.
#pragma once

#include <cstdint>

#include "kernels/params.h"
#include "kernels/sm90/decode_fp8/components/load.cuh"
#include "kernels/sm90/decode_wgmma/components/shared_storage.cuh"

namespace snapmla::kernels::decode_wgmma {

inline constexpr int kContentChunksPerRow = kDimLatent / kChunkBytes;  // 32
inline constexpr int kRopeChunksPerRow = 2 * kDimRope / kChunkBytes;   // 8

// `bytes` / 4 copies of `word` from dst, by kLoaderThreads threads; `tid` is this thread's
// index among them (threadIdx.x where the whole CTA loads).
template <int kLoaderThreads>
__device__ __forceinline__ void fill_words(void* dst, int bytes, std::uint32_t word, int tid = threadIdx.x) {
  auto* w = static_cast<std::uint32_t*>(dst);
  for (int k = tid; k < bytes / 4; k += kLoaderThreads) w[k] = word;
}

template <int kLoaderThreads>
__device__ __forceinline__ void fill_stage_nan(PageStage& st, int tid) {
  fill_words<kLoaderThreads>(st.content, sizeof(st.content), decode::kNanWordE4m3, tid);
  fill_words<kLoaderThreads>(st.rope, sizeof(st.rope), decode::kNanWordBf16, tid);
  fill_words<kLoaderThreads>(st.scale, sizeof(st.scale), decode::kNanWordF32, tid);
}

// The tile's query rows row0 .. row0 + kTileRows - 1 of request b (rows past s_q * h_q are zero
// padding) and their per-row state. Smem: any storage with q_content / q_rope (SW128 tiles of
// kTileRows rows), row_factor, visible, max_visible and min_visible; the CTA has
// kLoaderThreads threads.
// kRowPerThread: each thread keeps one row (decode::for_each_query_chunk); false: the chunks
// are strided over the threads and each chunk divides by h_q. The 32-row narrow kernel keeps
// the strided form: with the other, ptxas laid out its block loop differently (20 more
// instructions at 253 registers) and 128x1x32x8192 took 2 % longer (docs/perf.md, v33).
template <int kTileRows, int kLoaderThreads, bool kRowPerThread, class Smem>
__device__ __forceinline__ void load_query_rows(const DecodeParams& p, int b, int row0, int length, Smem& sm) {
  const int rows = p.s_q * p.h_q;
  constexpr int kRowChunks = kContentChunksPerRow + kRopeChunksPerRow;  // 40
  // cp.async, so that every chunk is in flight at once: plain loads stored to shared memory
  // took one global latency per loop trip (5-10 trips, several microseconds a segment).
  const auto copy = [&](int j, int c, long long i, long long h, bool valid) {
    if (c < kContentChunksPerRow) {
      decode::cp_async_16_or_zero(&sm.q_content[sw128_offset(kTileRows, j, c * kChunkBytes)],
                                  p.q_nope + b * p.q_nope_stride[0] + i * p.q_nope_stride[1] +
                                      h * p.q_nope_stride[2] + c * kChunkBytes,
                                  valid);
    } else {
      decode::cp_async_16_or_zero(
          &sm.q_rope[sw128_offset(kTileRows, j, (c - kContentChunksPerRow) * kChunkBytes)],
          p.q_rope + b * p.q_rope_stride[0] + i * p.q_rope_stride[1] + h * p.q_rope_stride[2] +
              (c - kContentChunksPerRow) * (kChunkBytes / 2),
          valid);
    }
  };
  if constexpr (kRowPerThread) {
    decode::for_each_query_chunk<kTileRows, kLoaderThreads, kRowChunks>(row0, rows, p.h_q, copy);
  } else {
    for (int k = threadIdx.x; k < kTileRows * kRowChunks; k += kLoaderThreads) {
      const int j = k / kRowChunks, c = k % kRowChunks, row = row0 + j;
      const bool valid = row < rows;
      copy(j, c, valid ? row / p.h_q : 0, valid ? row % p.h_q : 0, valid);
    }
  }
  decode::cp_async_commit();
  if (threadIdx.x < kTileRows) {
    const int j = threadIdx.x;
    const decode::RowSetup r = decode::row_setup<true>(p, b, row0 + j, length);
    sm.row_factor[j] = r.factor;
    sm.visible[j] = r.visible;
  }
  if (threadIdx.x == 0) {
    const decode::TileVisible v = decode::tile_visible(length, p.s_q, p.h_q, p.causal, row0, kTileRows);
    sm.max_visible = v.max_visible;
    sm.min_visible = v.min_visible;
  }
  decode::cp_async_wait<0>();  // the caller's fence and barrier publish the rows
}

__device__ __forceinline__ void load_query_tile(const DecodeParams& p, int b, int row0, int length,
                                                SharedStorage& sm) {
  load_query_rows<kRowsPerCta, kThreads, true>(p, b, row0, length, sm);
}

}  // namespace snapmla::kernels::decode_wgmma

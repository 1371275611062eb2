// Step 1 of the narrow kernel: where a page's bytes live and how they get there.
//
// Two CTAs per SM (kCtasPerSm = 2) load whole pages into two PageStages (decode_wgmma's
// tma_load.cuh). Three CTAs per SM have room for 1.5 pages each, so a page is loaded in two
// parts into a ring of split stages ("split ring"):
//   lo  content column blocks 0, 1 (dims 0..255: QK k-steps 0..7, PV dim tiles 0..3)   16 KB
//   hi  content column blocks 2, 3, the RoPE block and the scales                      24.25 KB
// with two lo slots and one hi slot. Page j + 1's lo is issued when block j starts (into the
// slot page j - 1 used) and its hi as soon as block j's PV has read its own hi, halfway through
// PV (pv.cuh runs the hi dim tiles first); QK of page j + 1 starts on lo while hi lands. So
// some of a page is in flight all the time, instead of the whole page being loaded after PV.
// The hi slot is the content's upper half of a PageStage, the lo slot 0 its lower half, so
// the same storage also holds whole pages.
#pragma once

#include <cstdint>

#include "kernels/sm90/decode_fp8/components/load.cuh"
#include "kernels/sm90/decode_narrow/config.h"
#include "kernels/sm90/decode_wgmma/components/tma_load.cuh"

namespace snapmla::kernels::decode_narrow {

using decode_wgmma::kContentBoxBytes;
using decode_wgmma::PageMaps;
using decode_wgmma::PageStage;

static_assert(kLoBytes == kLoBlocks * kContentBoxBytes);
inline constexpr std::uint32_t kHiBytes = decode_wgmma::kPageBytes - kLoBytes;

// A page as the steps read it: content dims 0..255 at lo and 256..511 at hi (SW128, 64 rows
// per 128-byte column block), RoPE and scales.
struct PageView {
  const std::uint8_t* lo;
  const std::uint8_t* hi;
  const std::uint8_t* rope;
  const float* scale;
};
__device__ __forceinline__ PageView whole_page(const PageStage& st) {
  return {st.content, st.content + kLoBytes, st.rope, st.scale};
}

__device__ __forceinline__ bool page_in_cache(const DecodeParams& p, int page) {
  return page >= 0 && page < p.fp8_cache.num_pages;
}

// Page `page`'s lo part into `lo` (every thread calls; thread 0 issues). A page id outside the
// cache is never dereferenced: the part is filled with NaN, as issue_page does.
template <int kLoaderThreads>
__device__ __forceinline__ void issue_page_lo(const DecodeParams& p, const PageMaps& maps, int page, std::uint8_t* lo,
                                              std::uint64_t* full) {
  if (!page_in_cache(p, page)) {
    decode_wgmma::fill_words<kLoaderThreads>(lo, kLoBytes, decode::kNanWordE4m3);
    decode_wgmma::fence_view_async_shared();  // the NaN words: wgmma reads them after a later barrier
    if (threadIdx.x == 0) cutlass::arch::ClusterBarrier::arrive(full);
    return;
  }
  if (threadIdx.x != 0) return;
  decode_wgmma::fence_view_async_shared();  // the slot's last generic reads (ldmatrix) before these writes
  cutlass::arch::ClusterTransactionBarrier::arrive_and_expect_tx(full, kLoBytes);
  const std::uint64_t hint = static_cast<std::uint64_t>(cute::TMA::CacheHintSm90::EVICT_FIRST);  // read once
  const int token0 = page * kTokensPerBlock;
#pragma unroll
  for (int c = 0; c < kLoBlocks; ++c)
    cute::SM90_TMA_LOAD_2D::copy(&maps.content, full, hint, lo + c * kContentBoxBytes,
                                 c * decode_wgmma::kSw128RowBytes, token0);
}

// Page `page`'s hi part into stage `st` (its content's upper half, RoPE and scales).
template <int kLoaderThreads>
__device__ __forceinline__ void issue_page_hi(const DecodeParams& p, const PageMaps& maps, int page, PageStage& st,
                                              std::uint64_t* full) {
  std::uint8_t* hi = st.content + kLoBytes;
  if (!page_in_cache(p, page)) {
    decode_wgmma::fill_words<kLoaderThreads>(hi, sizeof(st.content) - kLoBytes, decode::kNanWordE4m3);
    decode_wgmma::fill_words<kLoaderThreads>(st.rope, sizeof(st.rope), decode::kNanWordBf16);
    decode_wgmma::fill_words<kLoaderThreads>(st.scale, sizeof(st.scale), decode::kNanWordF32);
    decode_wgmma::fence_view_async_shared();  // as in issue_page_lo
    if (threadIdx.x == 0) cutlass::arch::ClusterBarrier::arrive(full);
    return;
  }
  if (threadIdx.x != 0) return;
  decode_wgmma::fence_view_async_shared();
  cutlass::arch::ClusterTransactionBarrier::arrive_and_expect_tx(full, kHiBytes);
  const std::uint64_t hint = static_cast<std::uint64_t>(cute::TMA::CacheHintSm90::EVICT_FIRST);
  const int token0 = page * kTokensPerBlock;
#pragma unroll
  for (int c = kLoBlocks; c < decode_wgmma::kContentBlocks; ++c)
    cute::SM90_TMA_LOAD_2D::copy(&maps.content, full, hint, hi + (c - kLoBlocks) * kContentBoxBytes,
                                 c * decode_wgmma::kSw128RowBytes, token0);
  cute::SM90_TMA_LOAD_2D::copy(&maps.rope, full, hint, st.rope, 0, token0);
  cute::SM90_BULK_COPY_G2S::copy(p.fp8_cache.kv_scale + token0, full, st.scale, 4 * kTokensPerBlock);
}

}  // namespace snapmla::kernels::decode_narrow

// Step 1: a cache page into a stage by TMA. Thread 0 arms the stage's mbarrier with the page's
// bytes and issues five tensor copies (the four 128-byte column blocks of the content and the
// RoPE block: boxes of 64 tokens x 128 bytes with the 128-byte swizzle, which is the SW128 tile
// layout of config.h) and one bulk copy of the 64 scales; every thread then waits on the
// mbarrier's phase. One instruction stream per page instead of 21 cp.async a thread.
// A page id outside the cache is never dereferenced: every thread fills the stage with NaN
// (decode_wgmma/components/load.cuh) and thread 0 completes the phase with a plain arrive.
#pragma once

#include <cstdint>

#include <cuda.h>
#include <cute/arch/copy_sm90_desc.hpp>
#include <cute/arch/copy_sm90_tma.hpp>
#include <cutlass/arch/barrier.h>

#include "kernels/params.h"
#include "kernels/sm90/decode_narrow/config.h"
#include "kernels/sm90/decode_wgmma/components/load.cuh"

namespace snapmla::kernels::decode_narrow {

inline constexpr int kContentBoxBytes = kTokensPerBlock * decode_wgmma::kSw128RowBytes;  // 8 KB
inline constexpr std::uint32_t kPageBytes =
    kDimLatent * kTokensPerBlock + 2 * kDimRope * kTokensPerBlock + 4 * kTokensPerBlock;  // 41216

// The two tensor maps (host side: kernel.cuh): the content plane as uint8 [tokens][512] and the
// RoPE plane as uint8 [tokens][128], both read in boxes of 64 tokens x 128 bytes, SWIZZLE_128B.
struct PageMaps {
  CUtensorMap content;
  CUtensorMap rope;
};

__device__ __forceinline__ void init_page_barriers(std::uint64_t* full, int stages) {
  if (threadIdx.x == 0) {
    for (int s = 0; s < stages; ++s) cutlass::arch::ClusterBarrier::init(&full[s], 1);
    cutlass::arch::fence_barrier_init();
  }
}

template <int kLoaderThreads>
__device__ __forceinline__ void issue_page(const DecodeParams& p, const PageMaps& maps, int page, decode_wgmma::PageStage& st,
                                           std::uint64_t* full) {
  if (page < 0 || page >= p.fp8_cache.num_pages) {
    decode_wgmma::fill_stage_nan<kLoaderThreads>(st);
    if (threadIdx.x == 0) cutlass::arch::ClusterBarrier::arrive(full);
    return;
  }
  if (threadIdx.x != 0) return;
  // The stage was last read by the previous block (ldmatrix, generic proxy); order those reads
  // before the async-proxy writes.
  decode_wgmma::fence_view_async_shared();
  cutlass::arch::ClusterTransactionBarrier::arrive_and_expect_tx(full, kPageBytes);
  const std::uint64_t hint = static_cast<std::uint64_t>(cute::TMA::CacheHintSm90::EVICT_FIRST);  // read once
  const int token0 = page * kTokensPerBlock;
#pragma unroll
  for (int c = 0; c < decode_wgmma::kContentBlocks; ++c)
    cute::SM90_TMA_LOAD_2D::copy(&maps.content, full, hint, st.content + c * kContentBoxBytes,
                                 c * decode_wgmma::kSw128RowBytes, token0);
  cute::SM90_TMA_LOAD_2D::copy(&maps.rope, full, hint, st.rope, 0, token0);
  cute::SM90_BULK_COPY_G2S::copy(p.fp8_cache.kv_scale + token0, full, st.scale, 4 * kTokensPerBlock);
}

__device__ __forceinline__ void wait_page(std::uint64_t* full, std::uint32_t& phases, int stage) {
  cutlass::arch::ClusterBarrier::wait(&full[stage], (phases >> stage) & 1u);
  phases ^= 1u << stage;
}

}  // namespace snapmla::kernels::decode_narrow

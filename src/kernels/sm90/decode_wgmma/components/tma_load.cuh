// Step 1 of the wgmma and narrow kernels: a cache page into a stage by TMA. Thread 0 arms the
// stage's mbarrier with the page's bytes and issues five tensor copies (the four 128-byte column blocks of the content and the
// RoPE block: boxes of 64 tokens x 128 bytes with the 128-byte swizzle, which is the SW128 tile
// layout of config.h) and one bulk copy of the 64 scales; every thread then waits on the
// mbarrier's phase. One thread's instructions a page instead of 10-21 cp.async a thread.
// A page id outside the cache is never dereferenced: every thread fills the stage with NaN
// (load.cuh) and thread 0 completes the phase with a plain arrive.
#pragma once

#include <cstdint>
#include <cstdio>

#include <cuda.h>
#include <cudaTypedefs.h>
#include <cute/arch/copy_sm90_desc.hpp>
#include <cute/arch/copy_sm90_tma.hpp>
#include <cutlass/arch/barrier.h>

#include "kernels/common/cuda_utils.cuh"
#include "kernels/params.h"
#include "kernels/sm90/decode_wgmma/components/load.cuh"
#include "kernels/sm90/decode_wgmma/components/wgmma_ops.cuh"

namespace snapmla::kernels::decode_wgmma {

inline constexpr int kContentBoxBytes = kTokensPerBlock * kSw128RowBytes;  // 8 KB
inline constexpr std::uint32_t kPageBytes =
    kDimLatent * kTokensPerBlock + 2 * kDimRope * kTokensPerBlock + 4 * kTokensPerBlock;  // 41216

// The two tensor maps (make_page_maps): the content plane as uint8 [tokens][512] and the
// RoPE plane as uint8 [tokens][128], both read in boxes of 64 tokens x 128 bytes, SWIZZLE_128B.
// L2 promotion 128 B, the box's row: 256 B also fetched the row's half in the next column
// block, which a separate box reads later; at 64x1x16x131072 (narrow kernel, H200) 256 B took
// 1312 us and 128 B 1286 us (docs/perf.md, v28).
struct PageMaps {
  CUtensorMap content;
  CUtensorMap rope;
};

// The tensor maps of the cache planes (below), encoded through the driver entry point the
// runtime hands out (no link against libcuda). They depend only on the two plane addresses and
// the page count, which an engine keeps for its whole run, so each host thread encodes them
// again only when one of those changes, not on every decode call.
inline PageMaps make_page_maps(const DecodeParams& p) {
  struct Key {
    const void* content;
    const void* rope;
    int pages;
  };
  thread_local Key cached_key{nullptr, nullptr, -1};
  thread_local PageMaps cached;
  const Key key{p.fp8_cache.kv_fp8, p.fp8_cache.kv_rope, p.fp8_cache.num_pages};
  if (key.content == cached_key.content && key.rope == cached_key.rope && key.pages == cached_key.pages)
    return cached;
  static const auto encode = [] {
    void* fn = nullptr;
    cudaDriverEntryPointQueryResult found{};
    cuda_check(cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &fn, 12000, cudaEnableDefault, &found),
               "cudaGetDriverEntryPointByVersion(cuTensorMapEncodeTiled)");
    if (found != cudaDriverEntryPointSuccess || fn == nullptr)
      throw Error(ErrorCode::kCudaError, "the CUDA driver has no cuTensorMapEncodeTiled");
    return reinterpret_cast<PFN_cuTensorMapEncodeTiled_v12000>(fn);
  }();
  const cuuint64_t tokens = static_cast<cuuint64_t>(p.fp8_cache.num_pages) * kTokensPerBlock;
  const auto make = [&](const void* base, cuuint64_t row_bytes, const char* what) {
    CUtensorMap map;
    const cuuint64_t dims[2] = {row_bytes, tokens};
    const cuuint64_t strides[1] = {row_bytes};
    const cuuint32_t box[2] = {kSw128RowBytes, kTokensPerBlock};
    const cuuint32_t element_strides[2] = {1, 1};
    const CUresult r = encode(&map, CU_TENSOR_MAP_DATA_TYPE_UINT8, 2, const_cast<void*>(base), dims, strides, box,
                              element_strides, CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B,
                              CU_TENSOR_MAP_L2_PROMOTION_L2_128B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
    if (r != CUDA_SUCCESS) {
      char message[96];
      std::snprintf(message, sizeof(message), "cuTensorMapEncodeTiled failed for %s: CUresult %d", what,
                    static_cast<int>(r));
      throw Error(ErrorCode::kCudaError, message);
    }
    return map;
  };
  cached = {make(p.fp8_cache.kv_fp8, kDimLatent, "kv_fp8"), make(p.fp8_cache.kv_rope, 2 * kDimRope, "kv_rope")};
  cached_key = key;  // only once both encoded
  return cached;
}

__device__ __forceinline__ void init_page_barriers(std::uint64_t* full, int stages) {
  if (threadIdx.x == 0) {
    for (int s = 0; s < stages; ++s) cutlass::arch::ClusterBarrier::init(&full[s], 1);
    cutlass::arch::fence_barrier_init();
  }
}

// Page `page` into stage st by kLoaderThreads threads (`tid`: this thread's index among them):
// one thread issues the TMA copies; a page id outside the cache is filled with NaN by all of
// them. `after_fill` runs on every loader thread after its NaN words are written and fenced,
// before the page counts as landed: nothing where the readers' own barrier orders the fill
// (every loader is a reader), the loaders' barrier where they are a producer warpgroup.
template <int kLoaderThreads, class AfterFill>
__device__ __forceinline__ void issue_page(const DecodeParams& p, const PageMaps& maps, int page, PageStage& st,
                                           std::uint64_t* full, int tid, AfterFill&& after_fill) {
  if (page < 0 || page >= p.fp8_cache.num_pages) {
    fill_stage_nan<kLoaderThreads>(st, tid);
    // Each thread fences its own NaN words: wgmma (the async proxy) reads them after a later
    // barrier, so the blocks that wait for a TMA-filled page need no fence.
    fence_view_async_shared();
    after_fill();
    if (tid == 0) cutlass::arch::ClusterBarrier::arrive(full);
    return;
  }
  if (tid != 0) return;
  // The stage was last read by the previous block (ldmatrix, generic proxy); order those reads
  // before the async-proxy writes.
  fence_view_async_shared();
  cutlass::arch::ClusterTransactionBarrier::arrive_and_expect_tx(full, kPageBytes);
  const std::uint64_t hint = static_cast<std::uint64_t>(cute::TMA::CacheHintSm90::EVICT_FIRST);  // read once
  const int token0 = page * kTokensPerBlock;
#pragma unroll
  for (int c = 0; c < kContentBlocks; ++c)
    cute::SM90_TMA_LOAD_2D::copy(&maps.content, full, hint, st.content + c * kContentBoxBytes,
                                 c * kSw128RowBytes, token0);
  cute::SM90_TMA_LOAD_2D::copy(&maps.rope, full, hint, st.rope, 0, token0);
  cute::SM90_BULK_COPY_G2S::copy(p.fp8_cache.kv_scale + token0, full, st.scale, 4 * kTokensPerBlock);
}

// issue_page by every thread of the CTA (kLoaderThreads of them), all of which read the page.
template <int kLoaderThreads>
__device__ __forceinline__ void issue_page(const DecodeParams& p, const PageMaps& maps, int page, PageStage& st,
                                           std::uint64_t* full) {
  issue_page<kLoaderThreads>(p, maps, page, st, full, static_cast<int>(threadIdx.x), [] {});
}

// Waits for the phase of mbarrier `barrier` whose parity is bit `bit` of `phases`, and flips it.
__device__ __forceinline__ void wait_phase(std::uint64_t* barrier, std::uint32_t& phases, int bit) {
  cutlass::arch::ClusterBarrier::wait(barrier, (phases >> bit) & 1u);
  phases ^= 1u << bit;
}

// Stage `stage`'s barrier of the array `full`, its parity in bit `stage` of `phases`.
__device__ __forceinline__ void wait_page(std::uint64_t* full, std::uint32_t& phases, int stage) {
  wait_phase(&full[stage], phases, stage);
}

}  // namespace snapmla::kernels::decode_wgmma

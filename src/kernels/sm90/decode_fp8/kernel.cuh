// The split-KV decode kernel (FP8 and BF16 share it; Format picks the cache layout and the P
// rule). A simple SIMT kernel: fp32 FMA dot products on pages staged in shared memory.
//
// Grid: (schedule part, tile of kRowsPerCta query rows). Each CTA reads its PartRange from the
// workspace (written by the plan kernel, no host round trip) and walks its segments exactly as
// the CPU reference does (src/reference/decode.cpp segments_of). For each segment:
//   load the tile's query rows, then for every 64-token block in increasing order:
//     1. load     stage the page in shared memory (cp.async, next page prefetched)
//     2. QK       scores x[row][t]                                (components/qk.cuh)
//     3. softmax  online max/sum, quantized P, alpha, unmult      (components/softmax.cuh)
//     4. PV       O = O * alpha + unmult * P @ V                  (components/pv.cuh)
//   5. epilogue   out/lse or partial_o/partial_lse                (components/epilogue.cuh)
#pragma once

#include <cstdint>

#include "kernels/common/cuda_utils.cuh"
#include "kernels/sm90/decode_fp8/components/epilogue.cuh"
#include "kernels/sm90/decode_fp8/components/load.cuh"
#include "kernels/sm90/decode_fp8/components/pv.cuh"
#include "kernels/sm90/decode_fp8/components/qk.cuh"
#include "kernels/sm90/decode_fp8/components/softmax.cuh"
#include "kernels/sm90/decode_fp8/kernel.h"
#include "sched/schedule.h"

namespace snapmla::kernels::decode {

template <class Format>
__device__ __forceinline__ void process_segment(const DecodeParams& p, SharedStorage<Format>& sm, int b,
                                                int block_begin, int block_end, int split) {
  const int row0 = blockIdx.y * kRowsPerCta;
  const int lane64 = threadIdx.x % kTokenLanes;  // QK: token; PV: dim group
  const int row_group = threadIdx.x / kTokenLanes;
  const int length = p.lengths[b];
  const std::int32_t* table = p.block_table + b * p.block_table_stride;

  if (block_begin < block_end) issue_page_load(p, table[block_begin], sm.stage[0]);
  cp_async_commit();
  load_query_tile(p, b, row0, length, sm);
  __syncthreads();

  float o[kRowsPerThread][kDimsPerThread] = {};
  for (int blk = block_begin; blk < block_end; ++blk) {
    const int s = (blk - block_begin) % kStages;
    // 1. load: prefetch the next page into the other stage, wait for this one.
    if (blk + 1 < block_end) {
      issue_page_load(p, table[blk + 1], sm.stage[(s + 1) % kStages]);
      cp_async_commit();
      cp_async_wait<1>();
    } else {
      cp_async_wait<0>();
    }
    __syncthreads();
    const PageStage<Format>& st = sm.stage[s];
    const int n_any = tokens_in_block(sm.max_visible, blk);
    if (n_any > 0) {
      compute_scores(sm, st, lane64, row_group, n_any);  // 2. QK
      __syncthreads();
      softmax_and_p(sm, st, blk);                        // 3. softmax and P
      __syncthreads();
      accumulate_pv(sm, st, blk, lane64, row_group, o);  // 4. PV
    }
    __syncthreads();  // the stage, x and p are reused by the next block
  }
  cp_async_wait<0>();

  const bool single = p.split_begin[b + 1] - p.split_begin[b] == 1;
  write_segment(p, sm, b, row0, split, single, lane64, row_group, o);  // 5. epilogue
  __syncthreads();  // m, l and q are reset by the next segment
}

template <class Format>
__global__ void __launch_bounds__(kThreads, 1) decode_kernel(const DecodeParams p) {
  extern __shared__ __align__(16) unsigned char smem_raw[];
  auto& sm = *reinterpret_cast<SharedStorage<Format>*>(smem_raw);
  const sched::PartRange part = static_cast<const sched::PartRange*>(p.parts)[blockIdx.x];
  sched::for_each_segment(part, p.batch, p.lengths, [&](int r, int begin, int end, int split) {
    process_segment(p, sm, r, begin, end, split);
  });
}

template <class Format>
void launch_decode(const DecodeParams& params, StreamHandle stream, const char* name) {
  if (params.batch <= 0 || params.num_parts <= 0) return;
  const int rows = params.s_q * params.h_q;
  if (rows <= 0) return;
  // cp.async copies 16-byte chunks: the cache planes must be 16-byte aligned.
  const auto misaligned = [](const void* ptr) { return (reinterpret_cast<std::uintptr_t>(ptr) % kChunkBytes) != 0; };
  if (Format::kFp8 ? (misaligned(params.fp8_cache.kv_fp8) || misaligned(params.fp8_cache.kv_rope) ||
                      misaligned(params.fp8_cache.kv_scale))
                   : misaligned(params.kv_bf16))
    throw Error(ErrorCode::kInvalidArgument, std::string(name) + ": cache planes must be 16-byte aligned");

  constexpr int kSmemBytes = sizeof(SharedStorage<Format>);
  set_max_dynamic_smem<decode_kernel<Format>>(kSmemBytes, name);
  const dim3 grid(params.num_parts, ceil_div(rows, kRowsPerCta));
  decode_kernel<Format><<<grid, kThreads, kSmemBytes, to_stream(stream)>>>(params);
  check_launch(name);
}

}  // namespace snapmla::kernels::decode

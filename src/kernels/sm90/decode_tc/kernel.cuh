// The tensor-core split-KV decode kernel, FP8 (SnapMLA arithmetic, docs/numerics.md) and BF16
// (FlashMLA's arithmetic): one kernel template, the format in the tiling (config.h: Fp8Tc /
// Bf16Tc select the content MMA, the P conversion, the page layout and the V fragment load).
//
// Grid: (schedule part, tile of query rows); 256 threads = 8 warps. Each CTA reads its
// PartRange from the workspace and walks its segments exactly as decode_fp8 (and the CPU
// reference) does. Two tilings (config.h): wide = 64 rows, 4 row groups of 2 warps (32 tokens /
// 256 dims a warp); narrow (s_q * h_q <= 16) = 16 rows, 1 row group of 8 warps (8 tokens / 64
// dims a warp). The warps of a row group run on different SM sub-partitions and meet at named
// barrier 1 + row group.
//
// Pipeline of one segment: load the query tile, then per 64-token block (one page):
//   1. load     cp.async the next page into the other stage, wait for this one  (components/load.cuh)
//   2. QK       16 rows x 32 (8) tokens a warp: mma.sync e4m3 (content) + bf16 (RoPE) (qk.cuh)
//   3. softmax  online max / sum and P8 = e4m3(P' * mult), splits exchanged in smem  (softmax_p.cuh)
//   4. PV       16 rows x 256 (64) dims a warp: mma.sync e4m3, V via ldmatrix.trans  (pv.cuh)
//   5. epilogue out/lse or partial_o/partial_lse                                     (epilogue.cuh)
// O lives in registers (128 fp32 a thread wide, 32 narrow). Pages are double-buffered (kStages = 2), so the load
// of page k + 1 overlaps the math of page k; one __syncthreads a block frees the stage.
//
// Shared memory (components/shared_storage.cuh): 2 pages x 43264 B + Q tile 43008 B + P8 5120 B
// + reductions ~1.8 KB = ~136 KB, one CTA per SM (narrow: ~100 KB).
// BF16: pages of 76032 B; the wide tiling has 32 rows (2 row groups of 4 warps: 16 tokens / 128
// dims a warp), 2 pages + Q 37888 B + P 4608 B + ~1.8 KB = ~196 KB (narrow: ~175 KB).
#pragma once

#include <cstdint>

#include "kernels/common/alignment.h"
#include "kernels/common/cuda_utils.cuh"
#include "kernels/sm90/decode_tc/components/epilogue.cuh"
#include "kernels/sm90/decode_tc/components/load.cuh"
#include "kernels/sm90/decode_tc/components/pv.cuh"
#include "kernels/sm90/decode_tc/components/qk.cuh"
#include "kernels/sm90/decode_tc/components/softmax_p.cuh"
#include "kernels/sm90/decode_tc/kernel.h"
#include "sched/schedule.h"

namespace snapmla::kernels::decode_tc {

// `ring` is the stage the segment's first page goes to; the ring of page stages runs on across
// the segments of a part, so a segment's first load never targets the stage the previous
// segment's last PV read (racecheck reported WAR hazards there when every segment restarted at
// stage 0, although two CTA barriers separate the two).
template <class T>
__device__ __forceinline__ void process_segment(const DecodeParams& p, SharedStorage<T>& sm, int b, int block_begin,
                                                int block_end, int split, int& ring) {
  const int row0 = blockIdx.y * T::kRowsPerCta;
  const int warp = threadIdx.x / kWarpThreads;
  const int row_group = warp / T::kSplits, wsplit = warp % T::kSplits;
  const int length = p.lengths[b];
  const std::int32_t* table = p.block_table + b * p.block_table_stride;
  // Row groups made only of padding rows do no math (both warps of a group agree).
  const bool active = row0 + row_group * kMmaM < p.s_q * p.h_q;

  if (block_begin < block_end) issue_page_load<T>(p, table[block_begin], sm.stage[ring]);
  cp_async_commit();
  load_query_tile(p, b, row0, length, sm);
  __syncthreads();

  const float inf = __int_as_float(0x7f800000);
  RowState state;
#pragma unroll
  for (int i = 0; i < kRowsPerThread; ++i) { state.m[i] = -inf; state.l[i] = 0.0f; }
  OutputFragment<T> o;
#pragma unroll
  for (int d = 0; d < T::kPvDimBlocks; ++d)
#pragma unroll
    for (int i = 0; i < kRowsPerThread; ++i)
#pragma unroll
      for (int k = 0; k < kPvDimsPerThread; ++k) o[d][i][k] = 0.0f;

  for (int blk = block_begin; blk < block_end; ++blk) {
    const int s = (ring + blk - block_begin) % kStages;
    if (blk + 1 < block_end) {
      issue_page_load<T>(p, table[blk + 1], sm.stage[(s + 1) % kStages]);
      cp_async_commit();
      cp_async_wait<1>();
    } else {
      cp_async_wait<0>();
    }
    __syncthreads();
    const Stage<T>& st = sm.stage[s];
    if (active && tokens_in_block(sm.max_visible, blk) > 0) {  // CTA-uniform but for `active`
      ScoreFragment<T> acc;
      compute_scores(sm, st, row_group, wsplit, acc);                                 // 2. QK
      const BlockStep step = softmax_and_p<T>(sm, st, blk, row_group, wsplit, acc, state);  // 3. softmax, P8
      group_barrier(kFirstGroupBarrier + row_group, T::kGroupThreads);                // P8 of all splits
      accumulate_pv(sm, st, row_group, wsplit, step, o);                              // 4. PV
    }
    __syncthreads();  // the stage and p8 are reused by the next blocks
  }
  cp_async_wait<0>();
  ring = (ring + block_end - block_begin) % kStages;

  const bool single = p.split_begin[b + 1] - p.split_begin[b] == 1;
  if (active) write_segment<T>(p, b, row0, row_group, wsplit, split, single, state, o);  // 5. epilogue
  __syncthreads();  // q and the row state are reset by the next segment
}

template <class T>
__global__ void __launch_bounds__(kThreads, 1) decode_tc_kernel(const DecodeParams p) {
  extern __shared__ __align__(16) unsigned char smem_raw[];
  auto& sm = *reinterpret_cast<SharedStorage<T>*>(smem_raw);
  const sched::PartRange part = static_cast<const sched::PartRange*>(p.parts)[blockIdx.x];
  int ring = 0;
  sched::for_each_segment(part, p.batch, p.lengths, [&](int r, int begin, int end, int split) {
    process_segment(p, sm, r, begin, end, split, ring);
  });
}

template <class F>
bool supports(const DecodeParams& p) {
  // Every real row of a 16-row MMA tile must see the same tokens (pv.cuh masks V per warp).
  if (p.causal && p.s_q > 1 && p.h_q % kMmaM != 0) return false;
  if constexpr (F::kFp8) {
    static_assert(kChunkBytes == 16, "the loads fp8_inputs_16b_aligned checks");
    if (!fp8_inputs_16b_aligned(p)) return false;
  } else {
    // The bf16 cache and query rows: 16-byte loads (2-byte elements).
    if (!aligned_to(p.kv_bf16, kChunkBytes) || !aligned_to(p.q_bf16, kChunkBytes)) return false;
    for (int k = 0; k < 3; ++k)
      if (p.q_bf16_stride[k] % (kChunkBytes / 2) != 0) return false;
  }
  // out: 4 bf16 (8 bytes) per store (FP8; BF16 stores 2 x 4 bytes, same check).
  constexpr int kOutStoreElems = kPvDimsPerThread;
  if (!aligned_to(p.out, kOutStoreElems * sizeof(std::uint16_t))) return false;
  for (int k = 0; k < 3; ++k)
    if (p.out_stride[k] % kOutStoreElems != 0) return false;
  return true;
}

template <class T>
void launch_tiling(const DecodeParams& params, StreamHandle stream, const char* name) {
  const int rows = params.s_q * params.h_q;
  constexpr int kSmemBytes = sizeof(SharedStorage<T>);
  static_assert(kSmemBytes <= 227 * 1024, "more shared memory than one Hopper CTA can have");
  set_max_dynamic_smem<decode_tc_kernel<T>>(kSmemBytes, name);
  const dim3 grid(params.num_parts, ceil_div(rows, T::kRowsPerCta));
  decode_tc_kernel<T><<<grid, kThreads, kSmemBytes, to_stream(stream)>>>(params);
  check_launch(name);
}

template <class F>
bool launch(const DecodeParams& params, StreamHandle stream) {
  const char* name = F::kFp8 ? "decode_fp8_tc kernel launch" : "decode_bf16_tc kernel launch";
  if (!supports<F>(params)) return false;
  if (params.batch <= 0 || params.num_parts <= 0) return true;
  const int rows = params.s_q * params.h_q;
  if (rows <= 0) return true;
  if constexpr (F::kFp8) {
    if (rows <= kNarrowMaxRows) launch_tiling<NarrowTiling>(params, stream, name);
    else launch_tiling<WideTiling>(params, stream, name);
  } else {
    if (rows <= kNarrowMaxRows) launch_tiling<Bf16NarrowTiling>(params, stream, name);
    else launch_tiling<Bf16WideTiling>(params, stream, name);
  }
  return true;
}

}  // namespace snapmla::kernels::decode_tc

// The narrow FP8 split-KV decode kernel for s_q * h_q <= 32 query rows, and for small calls of
// any row count in 16-row groups (SnapMLA arithmetic, docs/numerics.md): the rows sit in the
// wgmma N dimension (config.h), so no tensor-core work, softmax or fold is spent on padding
// rows, and V^T never goes through shared memory.
//
// Grid: row groups x schedule parts, groups fastest (config.h, row_groups: 16 rows a CTA, any
// row count; the 32-row kernel serves up to 32 rows in one group); 128 threads = one warpgroup;
// two CTAs per SM of two page stages, or at 16 rows, when the grid has 3 CTAs per SM (config.h),
// three CTAs of the split page ring (load.cuh), so one CTA's tensor-core work overlaps the
// others' softmax. Each CTA reads its PartRange and walks its segments exactly as the other
// decode kernels (and the CPU reference) do. Per 64-token block (one page):
//   1. load      wait for page blk, then TMA page blk + 1 into the other stage; split ring:
//                page blk + 1's lo part now, its hi part halfway through PV       (load.cuh)
//   2. QK        S^T = K Q^T, e4m3 + bf16 wgmma, promoted to fp32 every 1 or 2
//                k-steps (16 or 32 rows, decode_wgmma/config.h)                  (qk.cuh)
//   3. softmax   online max over the 4 warps (one exchange), P8^T to shared memory
//                                                                              (softmax_p.cuh)
//   4. PV        O^T += V^T P8^T, V^T fragments from the page by ldmatrix       (pv.cuh)
//   5. epilogue  out/lse or partial_o/partial_lse                              (epilogue.cuh)
#pragma once

#include <cstdint>

#include "kernels/common/cuda_utils.cuh"
#include "kernels/sm90/decode_narrow/components/epilogue.cuh"
#include "kernels/sm90/decode_narrow/components/load.cuh"
#include "kernels/sm90/decode_narrow/components/pv.cuh"
#include "kernels/sm90/decode_narrow/components/qk.cuh"
#include "kernels/sm90/decode_narrow/components/softmax_p.cuh"
#include "kernels/sm90/decode_narrow/kernel.h"
#include "kernels/sm90/decode_wgmma/components/tma_load.cuh"
#include "sched/schedule.h"

namespace snapmla::kernels::decode_narrow {

using decode_wgmma::fence_view_async_shared;
using decode_wgmma::issue_page;
using decode_wgmma::make_page_maps;
using decode_wgmma::PageMaps;
using decode_wgmma::wait_page;

// The CTA's first query row (grid: row groups x parts, groups fastest). Worked out where it is
// used, not kept in a register across the block loop.
template <int kCols>
__device__ __forceinline__ int first_row(const DecodeParams& p) {
  return static_cast<int>(blockIdx.x % groups_a_part(kCols, p.s_q * p.h_q)) * kCols;
}

// `ring`: the stage (two stages) or lo slot (split ring) of the segment's first page, and
// `phases` the mbarrier phases; both run on across the segments of a part.
template <int kCols, int kStages>
__device__ __forceinline__ void process_segment(const DecodeParams& p, const PageMaps& maps,
                                                NarrowCtaStorage<kCols, kStages>& sm,
                                                int b, int block_begin, int block_end, int split, int& ring,
                                                std::uint32_t& phases) {
  constexpr bool kSplitRing = kStages == 1;
  constexpr int kHiSlot = 2;  // the split ring's hi mbarrier (page_full[0..1]: the lo slots)
  const auto lo_slot = [&](int slot) -> std::uint8_t* {
    if constexpr (kSplitRing) {
      return slot == 0 ? sm.stage[0].content : sm.lo_spare;
    } else {
      return sm.stage[slot].content;
    }
  };
  const int length = p.lengths[b];
  const std::int32_t* table = p.block_table + b * p.block_table_stride;
  if (block_begin < block_end) {
    const int first = table[block_begin];
    if constexpr (kSplitRing) {
      issue_page_lo<kThreads>(p, maps, first, lo_slot(ring), &sm.page_full[ring]);
      issue_page_hi<kThreads>(p, maps, first, sm.stage[0], &sm.page_full[kHiSlot]);
    } else {
      issue_page<kThreads>(p, maps, first, sm.stage[ring], &sm.page_full[ring]);
    }
  }
  // One row a thread at 16 rows; the strided loader at 32 (decode_wgmma/components/load.cuh).
  decode_wgmma::load_query_rows<kCols, kThreads, kCols == 16>(p, b, first_row<kCols>(p), length, sm);
  fence_view_async_shared();  // q tiles (and NaN-filled parts): generic writes, wgmma reads
  __syncthreads();
  // 16 rows: the row constants stay in registers for the segment; 32 rows: re-read every block
  // (registers are short there).
  constexpr bool kRowConstsInRegisters = kCols == 16;
  RowConsts<kCols> rc;
  if constexpr (kRowConstsInRegisters) rc = row_consts(sm);
  // The page id of the block after the current one is read a block ahead, so that issuing its
  // copies does not wait for a global load.
  int next_page = block_begin + 1 < block_end ? table[block_begin + 1] : 0;
  const int max_visible = sm.max_visible, min_visible = sm.min_visible;  // CTA-uniform

  const float inf = __int_as_float(0x7f800000);
  RowState<kCols> state;
#pragma unroll
  for (int c = 0; c < kColsPerThread<kCols>; ++c) { state.m[c] = -inf; state.l[c] = 0.0f; }
  OutputAcc<kCols> o;
#pragma unroll
  for (int m = 0; m < kDimTiles; ++m)
#pragma unroll
    for (int k = 0; k < kCols / 2; ++k) o[m][k] = 0.0f;

  for (int blk = block_begin; blk < block_end; ++blk) {
    const bool more = blk + 1 < block_end;
    const int s = (ring + blk - block_begin) % (kSplitRing ? 2 : kStages);  // stage, or lo slot
    // Page blk (its lo part in the split ring) has landed (TMA, or NaN words that issue_page
    // fenced).
    wait_page(sm.page_full, phases, s);
    // Every warp is past block blk - 1, so its stage (lo slot) is free again.
    __syncthreads();
    if (more) {
      if constexpr (kSplitRing) {
        issue_page_lo<kThreads>(p, maps, next_page, lo_slot(s ^ 1), &sm.page_full[s ^ 1]);
      } else {
        issue_page<kThreads>(p, maps, next_page, sm.stage[(s + 1) % kStages], &sm.page_full[(s + 1) % kStages]);
      }
    }
    const PageView page = [&] {
      if constexpr (kSplitRing) {
        return PageView{lo_slot(s), sm.stage[0].content + kLoBytes, sm.stage[0].rope, sm.stage[0].scale};
      } else {
        return whole_page(sm.stage[s]);
      }
    }();
    // Split ring: the hi part of page blk, waited for halfway through QK, and that of page
    // blk + 1, issued halfway through PV once every warp has read this one's.
    const auto wait_hi = [&] {
      if constexpr (kSplitRing) wait_page(sm.page_full, phases, kHiSlot);
    };
    const auto reload_hi = [&] {
      if constexpr (kSplitRing) {
        if (more) {
          __syncthreads();
          issue_page_hi<kThreads>(p, maps, next_page, sm.stage[0], &sm.page_full[kHiSlot]);
        }
      }
    };
    const int n_hi = tokens_in_block(max_visible, blk);
    if (n_hi > 0) {
      float acc[kCols / 2];
      compute_scores<kCols>(sm, page, acc, wait_hi);                                       // 2. QK
      if constexpr (!kRowConstsInRegisters) rc = row_consts(sm);
      const BlockStep<kCols> step = softmax_and_p<kCols>(sm, page, blk, rc, acc, state);      // 3.
      accumulate_pv<kCols>(sm, page, tokens_in_block(min_visible, blk), n_hi, step, o, reload_hi);  // 4. PV
    } else {
      wait_hi();
      reload_hi();
    }
    if (blk + 2 < block_end) next_page = table[blk + 2];
  }
  ring = (ring + block_end - block_begin) % (kSplitRing ? 2 : kStages);

  finish_row_sums<kCols>(sm, state);
  const bool single = p.split_begin[b + 1] - p.split_begin[b] == 1;
  write_segment<kCols>(p, b, first_row<kCols>(p), split, single, state, o);  // 5. epilogue
  __syncthreads();  // q and the row state are reset by the next segment
}

template <int kCols, int kCtasPerSm>
__global__ void __launch_bounds__(kThreads, kCtasPerSm) decode_narrow_kernel(const DecodeParams p,
                                                                             const __grid_constant__ PageMaps maps) {
  constexpr int kStages = stages_for(kCtasPerSm);
  extern __shared__ __align__(16) unsigned char smem_raw[];
  // wgmma tiles need 1024-aligned shared addresses; the launch asks for kTileAlign bytes extra.
  const std::uint32_t pad = (kTileAlign - smem_u32(smem_raw) % kTileAlign) % kTileAlign;
  auto& sm = *reinterpret_cast<NarrowCtaStorage<kCols, kStages>*>(smem_raw + pad);
  const sched::PartRange part = static_cast<const sched::PartRange*>(p.parts)[blockIdx.x / groups_a_part(kCols, p.s_q * p.h_q)];
  decode_wgmma::init_page_barriers(sm.page_full, kStages == 1 ? 3 : kStages);  // split ring: 2 lo + hi
  __syncthreads();
  int ring = 0;
  std::uint32_t phases = 0;
  sched::for_each_segment(part, p.batch, p.lengths, [&](int r, int begin, int end, int split) {
    process_segment<kCols, kStages>(p, maps, sm, r, begin, end, split, ring, phases);
  });
}

// The caller (the wgmma kernel's launch) has checked alignment, tma_reads_cache, and at 32 rows
// a CTA that s_q * h_q <= 32.
template <int kCols, int kCtasPerSm>
void launch_cols(const DecodeParams& params, StreamHandle stream) {
  const char* name = "decode_fp8_narrow kernel launch";
  const PageMaps maps = make_page_maps(params);
  constexpr int kBytes = kSmemBytes<kCols, kCtasPerSm>;
  set_max_dynamic_smem<decode_narrow_kernel<kCols, kCtasPerSm>>(kBytes, name);
  const long long grid = static_cast<long long>(groups_a_part(kCols, params.s_q * params.h_q)) * params.num_parts;
  if (grid > 0x7fffffff) cuda_check(cudaErrorInvalidConfiguration, name);  // a grid's x limit
  decode_narrow_kernel<kCols, kCtasPerSm><<<static_cast<unsigned>(grid), kThreads, kBytes, to_stream(stream)>>>(params, maps);
  check_launch(name);
}

}  // namespace snapmla::kernels::decode_narrow

// The producer warpgroup of the 64-row kernel. Warpgroup 2 (threads 256..383) issues the page
// copies and transposes each page's content into vt, so that the two consumer warpgroups run
// QK, the softmax and PV without the transposer on their critical path (docs/perf.md, v37:
// 8-9 % faster at h_q >= 64 than the transposer run between the QK groups).
//
// Handshakes, all mbarriers (phase parities tracked by each waiter):
//   page_full[s]    TMA (or the producer's NaN fill) -> consumers and producer
//   stage_empty[s]  8 consumer warps (after their softmax) + the producer (after its V^T reads)
//                   -> the producer, before it loads another page into stage s
//   vt_full         the producer (V^T of the block written and fenced) -> consumers, before PV
//   vt_empty        8 consumer warps (PV's wgmma done) -> the producer, before the next V^T
// Per block blk (stage s): the producer waits page_full[s] and vt_empty, transposes, fences,
// arrives vt_full and stage_empty[s], then waits stage_empty of block blk - 1's stage and loads
// page blk + 2 there. A block no row sees (n_hi = 0) has no V^T and no PV, on both sides.
// scripts/producer_handshake_sim.py models this handshake (random interleavings: deadlock, waits
// a phase late, overwrites); CTest runs it.
#pragma once

#include <cstdint>

#include "kernels/sm90/decode_wgmma/components/tma_load.cuh"
#include "kernels/sm90/decode_wgmma/components/transpose_v.cuh"
#include "kernels/sm90/decode_tc/components/warp_mma.cuh"
#include "cutlass/arch/reg_reconfig.h"
#include "sched/schedule.h"

namespace snapmla::kernels::decode_wgmma {

inline constexpr int kProducerThreads = kWarpgroupThreads;            // warpgroup 2
inline constexpr int kCtaThreads = kThreads + kProducerThreads;       // 384
inline constexpr int kConsumerBarrier = 5;                            // the softmax's group barriers are 1..4
inline constexpr int kProducerBarrier = 6;
inline constexpr int kConsumerWarps = kThreads / kWarpThreads;        // 8
// setmaxnreg draws on the CTA's own pool, the 168 x 384 = 64,512 registers of the launch
// (__launch_bounds__(384, 1)): 2 x 224 + 56 = 504 = 3 x 168. More (224 / 64 was tried) and
// setmaxnreg.inc waits forever for registers nobody releases: the kernel hung. The consumers
// fit in 216 too, but 224 measured 1.5-3 % faster at h_q >= 64 (docs/perf.md, v39).
inline constexpr int kConsumerRegisters = 224;
inline constexpr int kProducerRegisters = 56;
// Pages in flight ahead of the one being transposed: block blk's loop step loads page
// blk + kPagesAhead into the stage of block blk + kPagesAhead - kStages, after blk's V^T.
// 3 (the stage of blk itself, once the consumers' softmax is done with it) and 2 issued before
// the transpose both measured slower (docs/perf.md, v37).
inline constexpr int kPagesAhead = 2;
static_assert(kPagesAhead >= 1 && kPagesAhead <= kStages, "a stage is loaded once its block's readers are done");
static_assert(2 * kConsumerRegisters + kProducerRegisters <= 3 * (65536 / kCtaThreads / 8 * 8),
              "setmaxnreg: the warpgroups' registers must fit in the launch's allocation");

__device__ __forceinline__ void consumer_sync() { decode_tc::group_barrier(kConsumerBarrier, kThreads); }
__device__ __forceinline__ void producer_sync() { decode_tc::group_barrier(kProducerBarrier, kProducerThreads); }

__device__ __forceinline__ void init_producer_barriers(SharedStorage& sm) {
  if (threadIdx.x == 0) {
    for (int s = 0; s < kStages; ++s) {
      cutlass::arch::ClusterBarrier::init(&sm.page_full[s], 1);
      cutlass::arch::ClusterBarrier::init(&sm.stage_empty[s], kConsumerWarps + 1);
    }
    cutlass::arch::ClusterBarrier::init(&sm.vt_full, 1);
    cutlass::arch::ClusterBarrier::init(&sm.vt_empty, kConsumerWarps);
    cutlass::arch::fence_barrier_init();
  }
}

// The producer's walk over the CTA's part: the same segments, in the same order, as the
// consumers (sched::for_each_segment).
__device__ __forceinline__ void run_producer(const DecodeParams& p, const PageMaps& maps, SharedStorage& sm,
                                             const sched::PartRange& part) {
  const int ptid = static_cast<int>(threadIdx.x) - kThreads;
  const int pwarp = ptid / kWarpThreads;
  const int row0 = blockIdx.y * kRowsPerCta;
  std::uint32_t full_phases = 0;
  std::uint32_t empty_phases = (1u << kStages) - 1;  // every stage starts empty (the phase before the first)
  std::uint32_t vt_phase = 1;                         // vt starts empty
  int ring = 0;
  sched::for_each_segment(part, p.batch, p.lengths, [&](int b, int block_begin, int block_end, int) {
    const int length = p.lengths[b];
    const std::int32_t* table = p.block_table + b * p.block_table_stride;
    const decode::TileVisible visible = decode::tile_visible(length, p.s_q, p.h_q, p.causal, row0, kRowsPerCta);
    const auto load = [&](int blk) {
      const int st = (ring + blk - block_begin) % kStages;
      wait_page(sm.stage_empty, empty_phases, st);  // the stage's readers of its last page are done
      issue_page<kProducerThreads>(p, maps, table[blk], sm.stage[st], &sm.page_full[st], ptid, producer_sync);
    };
#pragma unroll
    for (int k = 0; k < kPagesAhead; ++k)
      if (block_begin + k < block_end) load(block_begin + k);
    for (int blk = block_begin; blk < block_end; ++blk) {
      const int s = (ring + blk - block_begin) % kStages;
      const int n_hi = decode_tc::tokens_in_block(visible.max_visible, blk);
      wait_page(sm.page_full, full_phases, s);  // consumed even where no row sees the block
      if (n_hi > 0) {
        cutlass::arch::ClusterBarrier::wait(&sm.vt_empty, vt_phase);
        vt_phase ^= 1u;
        const bool whole = visible.min_visible >= (blk + 1) * kTokensPerBlock;
        const int n_lo = decode_tc::tokens_in_block(visible.min_visible, blk);
#pragma unroll
        for (int v = 0; v < 2; ++v) {  // the units of transpose_map.h's warps pwarp and pwarp + 4
          VTransposer vt(sm.stage[s], sm, whole, n_lo, n_hi, pwarp + 4 * v);
          vt.start();
#pragma unroll
          for (int k = 0; k < kTransposePieces; ++k) vt.piece(k);
        }
        fence_view_async_shared();  // V^T: generic writes, the consumers' wgmma reads
        producer_sync();            // and every producer thread is done reading the page
        if (ptid == 0) cutlass::arch::ClusterBarrier::arrive(&sm.vt_full);
      }
      if (ptid == 0) cutlass::arch::ClusterBarrier::arrive(&sm.stage_empty[s]);
      // Page blk + 2 into the stage block blk - 1 used, once this block's V^T is handed over.
      if (blk + kPagesAhead < block_end) load(blk + kPagesAhead);
    }
    ring = (ring + block_end - block_begin) % kStages;
  });
}

}  // namespace snapmla::kernels::decode_wgmma

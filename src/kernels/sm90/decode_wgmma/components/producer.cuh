// The producer warpgroup of the 64-row kernel: warpgroup 2 (threads 256..383) issues the page
// copies (one thread; all of them for a NaN fill), running up to kStages pages ahead of the
// consumers, so that a page's load is never held up by the consumers' phase.
//
// Handshakes, mbarriers (phase parities tracked by each waiter):
//   page_full[s]    TMA (or the producer's NaN fill) -> both consumer warpgroups
//   stage_empty[s]  8 consumer warps (after their PV of the page) -> the producer, before it
//                   loads another page into stage s
#pragma once

#include <cstdint>

#include "kernels/sm90/decode_wgmma/components/tma_load.cuh"
#include "kernels/sm90/decode_tc/components/warp_mma.cuh"
#include "cutlass/arch/reg_reconfig.h"
#include "sched/schedule.h"

namespace snapmla::kernels::decode_wgmma {

inline constexpr int kProducerThreads = kWarpgroupThreads;            // warpgroup 2
inline constexpr int kCtaThreads = kThreads + kProducerThreads;       // 384
inline constexpr int kConsumerBarrier = 5;
inline constexpr int kProducerBarrier = 6;
inline constexpr int kConsumerWarps = kThreads / kWarpThreads;        // 8
// setmaxnreg draws on the CTA's own pool, the 168 x 384 = 64,512 registers of the launch
// (__launch_bounds__(384, 1)): 2 x 240 + 24 = 504 = 3 x 168. More and setmaxnreg.inc waits
// forever for registers nobody releases (docs/perf.md, v37: 224 / 64 hung).
inline constexpr int kConsumerRegisters = 240;
inline constexpr int kProducerRegisters = 24;
static_assert(2 * kConsumerRegisters + kProducerRegisters <= 3 * (65536 / kCtaThreads / 8 * 8),
              "setmaxnreg: the warpgroups' registers must fit in the launch's allocation");

__device__ __forceinline__ void consumer_sync() { decode_tc::group_barrier(kConsumerBarrier, kThreads); }
__device__ __forceinline__ void producer_sync() { decode_tc::group_barrier(kProducerBarrier, kProducerThreads); }

__device__ __forceinline__ void init_producer_barriers(SharedStorage& sm) {
  if (threadIdx.x == 0) {
    for (int s = 0; s < kStages; ++s) {
      cutlass::arch::ClusterBarrier::init(&sm.page_full[s], 1);
      cutlass::arch::ClusterBarrier::init(&sm.stage_empty[s], kConsumerWarps);
    }
    cutlass::arch::fence_barrier_init();
  }
}

// The producer's walk over the CTA's part: the same segments, in the same order, as the
// consumers (sched::for_each_segment); every page of a segment is loaded, also those no row of
// the tile sees (their stage is handed back without being read).
__device__ __forceinline__ void run_producer(const DecodeParams& p, const PageMaps& maps, SharedStorage& sm,
                                             const sched::PartRange& part) {
  const int ptid = static_cast<int>(threadIdx.x) - kThreads;
  std::uint32_t empty_phases = (1u << kStages) - 1;  // every stage starts empty (the phase before the first)
  int ring = 0;
  sched::for_each_segment(part, p.batch, p.lengths, [&](int b, int block_begin, int block_end, int) {
    const std::int32_t* table = p.block_table + b * p.block_table_stride;
    for (int blk = block_begin; blk < block_end; ++blk) {
      const int s = (ring + blk - block_begin) % kStages;
      wait_page(sm.stage_empty, empty_phases, s);  // the consumers' PV of the stage's last page is done
      issue_page<kProducerThreads>(p, maps, table[blk], sm.stage[s], &sm.page_full[s], ptid, producer_sync);
    }
    ring = (ring + block_end - block_begin) % kStages;
  });
}

}  // namespace snapmla::kernels::decode_wgmma

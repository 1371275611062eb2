// The hand-offs between the two consumer warpgroups of the 64-row kernel (kernel.cuh), on
// mbarriers in shared memory (SharedStorage::max_ready, slot_full, slot_free):
//   max_ready       warpgroup 0 has written its block's row maxima to its slot; warpgroup 1
//                   needs them for its own block's m_prev (the running max before its block)
//   slot_full[s]    warpgroup s has written its exchange slot (P8, block max, alpha, unmult,
//                   sum) and fenced P8 for the other warpgroup's wgmma
//   slot_free[s]    the other warpgroup's PV of that block is done with slot s
// Each is arrived at by every thread of one warpgroup (each arrival releases that thread's own
// shared-memory accesses; a warp leader's arrival after __syncwarp was enough for the hardware
// but not for racecheck, which flagged the other lanes' writes) and waited for by every thread
// of the other.
// A slot is rewritten only after slot_free, so no barrier runs more than one phase ahead of its
// waiter. The waiters' parities live in one word (HandoffPhases), slot_free's starting at 1:
// the phase before the first counts as complete, so the first write of a slot does not wait.
// scripts/seesaw_handoff_sim.py models these hand-offs with the producer's page_full /
// stage_empty (random interleavings: deadlock, waits two phases late, overwrites); CTest runs it.
#pragma once

#include <cstdint>

#include <cutlass/arch/barrier.h>

#include "kernels/sm90/decode_wgmma/components/shared_storage.cuh"
#include "kernels/sm90/decode_wgmma/components/tma_load.cuh"

namespace snapmla::kernels::decode_wgmma {

inline constexpr int kHandoffArrivals = kWarpgroupThreads;

struct HandoffPhases {
  static constexpr int kMaxReadyBit = 0;
  static constexpr int kSlotFullBit = 1;  // + slot
  static constexpr int kSlotFreeBit = 3;  // + slot
  std::uint32_t bits = (1u << kSlotFreeBit) | (1u << (kSlotFreeBit + 1));
};

__device__ __forceinline__ void init_handoff_barriers(SharedStorage& sm) {
  if (threadIdx.x == 0) {
    cutlass::arch::ClusterBarrier::init(&sm.max_ready, kHandoffArrivals);
    for (int s = 0; s < kWarpgroups; ++s) {
      cutlass::arch::ClusterBarrier::init(&sm.slot_full[s], kHandoffArrivals);
      cutlass::arch::ClusterBarrier::init(&sm.slot_free[s], kHandoffArrivals);
    }
    cutlass::arch::fence_barrier_init();
  }
}

// This thread's arrival: its shared-memory accesses before it are released.
__device__ __forceinline__ void handoff_arrive(std::uint64_t* barrier) { cutlass::arch::ClusterBarrier::arrive(barrier); }

__device__ __forceinline__ void wait_max_ready(SharedStorage& sm, HandoffPhases& ph) {
  wait_phase(&sm.max_ready, ph.bits, HandoffPhases::kMaxReadyBit);
}
__device__ __forceinline__ void wait_slot_full(SharedStorage& sm, HandoffPhases& ph, int slot) {
  wait_phase(&sm.slot_full[slot], ph.bits, HandoffPhases::kSlotFullBit + slot);
}
__device__ __forceinline__ void wait_slot_free(SharedStorage& sm, HandoffPhases& ph, int slot) {
  wait_phase(&sm.slot_free[slot], ph.bits, HandoffPhases::kSlotFreeBit + slot);
}

}  // namespace snapmla::kernels::decode_wgmma

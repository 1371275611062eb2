// The wgmma FP8 split-KV decode kernel for 64-row tiles (SnapMLA arithmetic, docs/numerics.md):
// FP8 wgmma for the content QK^T and for PV, BF16 wgmma for the RoPE slice into the same
// accumulator, PV in the narrow kernel's form O^T = V^T P8^T with V^T's fragments read from the
// page (no transposed copy).
//
// Grid: (schedule part, tile of 64 query rows); 384 threads = 2 consumer warpgroups (config.h)
// and a producer warpgroup (components/producer.cuh; setmaxnreg 240 / 24). Each CTA reads its
// PartRange from the workspace and walks its segments exactly as the other decode kernels (and
// the CPU reference) do. The consumer warpgroups take the blocks (pages) of a segment in turns
// of two, warpgroup s owning block turn + s (FlashMLA's "seesaw"):
//   1. load       the producer: TMA of every page of the part, up to 4 stages ahead, each stage
//                 reloaded once both warpgroups' PV of its page is done (tma_load.cuh)
//   2. QK         the owner: 64 rows x 64 tokens, one pass of e4m3 + bf16 wgmma m64n64 (qk.cuh)
//   3. softmax    the owner, over the whole block: online max / sum, P8 = e4m3(P' * mult) into
//                 its exchange slot with the rows' block max, alpha, unmult and sum
//                 (softmax.cuh; the hand-offs between the warpgroups: handoff.cuh)
//   4. PV         both warpgroups, for both blocks of the turn in block order: 256 dims x 64
//                 rows each, P8^T from the owner's slot, V from the block's page (pv.cuh)
//   5. epilogue   out/lse or partial_o/partial_lse through shared memory (epilogue.cuh);
//                 the last split of a request of a few splits merges them (common/merge_splits.cuh)
// Warpgroup 1 needs warpgroup 0's row maxima of the turn for its own softmax and waits for them
// after its QK, so the two QKs run at once. O lives in registers (128 fp32 a thread). One CTA
// per SM (~218 KB of shared memory). launch() serves s_q * h_q <= 32 rows, and small calls of
// any row count, with the narrow kernel instead (src/kernels/sm90/decode_narrow; route_for).
#pragma once

#include <cstdint>

#include "kernels/common/alignment.h"
#include "kernels/common/cuda_utils.cuh"
#include "kernels/common/merge_splits.cuh"
#include "kernels/launch.h"
#include "kernels/sm90/decode_wgmma/components/epilogue.cuh"
#include "kernels/sm90/decode_wgmma/components/handoff.cuh"
#include "kernels/sm90/decode_wgmma/components/load.cuh"
#include "kernels/sm90/decode_wgmma/components/producer.cuh"
#include "kernels/sm90/decode_wgmma/components/tma_load.cuh"
#include "kernels/sm90/decode_wgmma/components/pv.cuh"
#include "kernels/sm90/decode_wgmma/components/qk.cuh"
#include "kernels/sm90/decode_wgmma/components/softmax.cuh"
#include "kernels/sm90/decode_narrow/config.h"
#include "kernels/sm90/decode_narrow/kernel.h"
#include "kernels/sm90/decode_wgmma/kernel.h"
#include "sched/schedule.h"

namespace snapmla::kernels::decode_wgmma {

// A consumer warpgroup's own barrier (its 128 threads): between the owner's softmax and its PV
// (the PV's B operand is every warp's P8 rows), and before it rewrites its slot. Ids 1..4 are
// free, 5 and 6 are kConsumerBarrier and kProducerBarrier.
inline constexpr int kOwnSlotReady = 7;  // + warpgroup
__device__ __forceinline__ void own_slot_barrier(int wg) { decode_tc::group_barrier(kOwnSlotReady + wg, kWarpgroupThreads); }

// `ring`: the stage of the segment's first page; `phases`: the stages' page_full parities;
// `handoff`: the warpgroup hand-offs' parities (components/handoff.cuh). They run on across the
// segments of a part.
// Returns whether this CTA merges request b's splits (it wrote the last).
__device__ __forceinline__ bool process_segment(const DecodeParams& p, SharedStorage& sm, int b, int block_begin,
                                                int block_end, int split, int& ring, std::uint32_t& phases,
                                                HandoffPhases& handoff) {
  const int row0 = blockIdx.y * kRowsPerCta;
  const int wg = warpgroup_index(), warp = (threadIdx.x / kWarpThreads) % 4;
  // Warps whose rows are all padding (s_q * h_q < 64) skip the softmax and the row state.
  const bool live = row0 + 16 * warp < p.s_q * p.h_q;
  const bool no_padding_rows = row0 + kRowsPerCta <= p.s_q * p.h_q;  // CTA-uniform
  const bool warp_leader = threadIdx.x % kWarpThreads == 0;
  const int length = p.lengths[b];
  // Read now, used in the epilogue: loaded there, it kept the epilogue waiting ~1,000 cycles.
  const int splits = p.split_begin[b + 1] - p.split_begin[b];

  load_query_tile(p, b, row0, length, sm);
  fence_view_async_shared();  // q tiles: generic writes, wgmma reads
  consumer_sync();

  const float inf = __int_as_float(0x7f800000);
  RowState state;
#pragma unroll
  for (int i = 0; i < kRowsPerThread; ++i) { state.m[i] = -inf; state.l[i] = 0.0f; }
  OutputAcc o;
#pragma unroll
  for (int c = 0; c < kPvChunks; ++c)
#pragma unroll
    for (int k = 0; k < kPvChunkRegs; ++k) o[c][k] = 0.0f;

  // CTA-uniform, read once: read from shared memory a block, each read's latency stood exposed
  // before PV (ncu of v40.1).
  const int max_visible = sm.max_visible, min_visible = sm.min_visible;
  // Blocks at or past visible_end are seen by no row of the tile (a causal tail): no QK or PV,
  // their stage is only handed back.
  const int visible_end = min(block_end, (max_visible + kTokensPerBlock - 1) / kTokensPerBlock);
  const auto stage_of = [&](int blk) { return (ring + blk - block_begin) % kStages; };
  // Every real row sees the whole page. Tested on min_visible itself: written as n_lo == 64 on
  // the clamped n_lo, ptxas 13.0 made it the predicate output of the clamping VIMNMX.RELU, and
  // the tests failed as if it were true on partial pages (docs/perf.md, v20).
  const auto whole_block = [&](int blk) { return no_padding_rows && min_visible >= (blk + 1) * kTokensPerBlock; };

  // Turns of two blocks: warpgroup 0 owns `turn`, warpgroup 1 owns turn + 1.
  for (int turn = block_begin; turn < block_end; turn += kWarpgroups) {
    const int own = turn + wg;
    float m_prev[kRowsPerThread] = {state.m[0], state.m[1]};  // the running max before `own`
    // Warpgroup 1 takes warpgroup 0's row maxima of `turn` after its own QK: waiting before it
    // serialises the two QKs (9-15 % slower, docs/perf.md).
    const auto take_max = [&] {
      if (wg == 1 && turn < visible_end) {
        wait_max_ready(sm, handoff);
        if (live) max_after_slot(sm.slot[0], warp, state, m_prev);
      }
    };
    if (own >= visible_end) {
      take_max();
      // A turn with a page for warpgroup 0 only (a segment's odd last page): warpgroup 1 passes
      // its own barrier as often as the owner does. The hardware does not need it; racecheck
      // (CUDA 13.0) does: unbalanced, it reported every warpgroup 0 write -> consumer_sync ->
      // warpgroup 1 read as a hazard, as if it paired the warpgroups' consumer_sync arrivals by
      // how many barriers each had passed; balanced, none (docs/perf.md, v40).
      if (turn < visible_end) {
        own_slot_barrier(wg);
        own_slot_barrier(wg);
      }
    }
    if (own < visible_end) {
      // 2. QK of the own block
      const int s = stage_of(own);
      wait_page(sm.page_full, phases, s);
      const PageStage& st = sm.stage[s];
      ScoreAcc acc[kQkHalves];
      compute_scores(sm, st, acc);
      take_max();
      // 3. softmax into the slot, once the other warpgroup is done with its previous contents
      wait_slot_free(sm, handoff, wg);
      // and this warpgroup's own warps are done with it too (their PV of the last own block read
      // its alpha and unmult): racecheck reported those reads against these writes.
      own_slot_barrier(wg);
      const auto max_ready = [&] {
        if (wg == 0) handoff_arrive(&sm.max_ready);
      };
      if (whole_block(own)) {
        softmax_own_block<true>(sm, sm.slot[wg], sm.rescale_votes[wg], st, own, warp, m_prev, acc, max_ready);
      } else if (live) {
        softmax_own_block<false>(sm, sm.slot[wg], sm.rescale_votes[wg], st, own, warp, m_prev, acc, max_ready);
      } else {
        max_ready();
      }
      fence_view_async_shared();  // P8: generic writes, both warpgroups' wgmma read it
      handoff_arrive(&sm.slot_full[wg]);
      own_slot_barrier(wg);  // this warpgroup's PV reads every warp's rows
    }

    // 4. PV of both blocks, in block order; a page no row sees is only handed back.
#pragma unroll
    for (int k = 0; k < kWarpgroups; ++k) {
      const int blk = turn + k;
      if (blk >= block_end) break;
      const int s = stage_of(blk);
      if (blk >= visible_end) {
        // Handed back once it has landed: released earlier, the stage's next phase could complete
        // before the producer has waited for this one, and its parity wait would then hang
        // (scripts/seesaw_handoff_sim.py found it).
        wait_page(sm.page_full, phases, s);
        if (warp_leader) cutlass::arch::ClusterBarrier::arrive(&sm.stage_empty[s]);
        continue;
      }
      if (k != wg) {
        wait_slot_full(sm, handoff, k);
        wait_page(sm.page_full, phases, s);  // passed already by the owner; keeps this warpgroup's parities
      }
      const int n_hi = decode_tc::tokens_in_block(max_visible, blk), n_lo = decode_tc::tokens_in_block(min_visible, blk);
      accumulate_pv(sm.slot[k], sm.rescale_votes[k], sm.stage[s], wg, n_lo, n_hi, o, [&] {
        if (whole_block(blk)) fold_row_state<true>(sm, sm.slot[k], blk, warp, state);
        else if (live) fold_row_state<false>(sm, sm.slot[k], blk, warp, state);
      });
      // The warp's ldmatrix reads of the page and its wgmma reads of the slot are done.
      __syncwarp();
      if (warp_leader) cutlass::arch::ClusterBarrier::arrive(&sm.stage_empty[s]);
      if (k != wg) handoff_arrive(&sm.slot_free[k]);
    }
  }
  ring = (ring + block_end - block_begin) % kStages;

  // 5. epilogue: the rows' 1 / l and LSE through shared memory to PV's layout
  publish_finish(sm, wg, state);
  consumer_sync();
  write_segment(p, sm, b, row0, wg, split, splits == 1, o);
  consumer_sync();  // q and the row state are reset by the next segment
  // The CTA that writes the last split of the request's row tile merges them after its
  // segment loop.
  static_assert(kRowsPerCta == sched::kMergeTileRows, "one arrival counter per row tile");
  return merges_in_kernel(p, splits) && arrive_split(p, b, blockIdx.y, splits, consumer_sync, sm.merge_last);
}

__global__ void __launch_bounds__(kCtaThreads, 1) decode_wgmma_kernel(const DecodeParams p,
                                                                      const __grid_constant__ PageMaps maps) {
  extern __shared__ __align__(16) unsigned char smem_raw[];
  // wgmma tiles need 1024-aligned shared addresses; the launch asks for kTileAlign bytes extra.
  const std::uint32_t pad = (kTileAlign - smem_u32(smem_raw) % kTileAlign) % kTileAlign;
  auto& sm = *reinterpret_cast<SharedStorage*>(smem_raw + pad);
  const sched::PartRange part = static_cast<const sched::PartRange*>(p.parts)[blockIdx.x];
  init_producer_barriers(sm);
  init_handoff_barriers(sm);
  // Rows nobody writes (warps of padding rows): P8 zero, alpha 1 (PV's fold leaves them alone).
  if (threadIdx.x < kThreads)
    for (int k = threadIdx.x; k < kWarpgroups * kRowsPerCta; k += kThreads) {
      ExchangeSlot& slot = sm.slot[k / kRowsPerCta];
      const int r = k % kRowsPerCta;
      for (int c = 0; c < kTokensPerBlock / 4; ++c) reinterpret_cast<std::uint32_t*>(slot.p8)[r * kTokensPerBlock / 4 + c] = 0u;
      slot.block_max[r] = -__int_as_float(0x7f800000);
      slot.alpha[r] = 1.0f;
      slot.unmult[r] = 0.0f;
      slot.sum[r] = 0.0f;
      if (r % 16 == 0) sm.rescale_votes[k / kRowsPerCta][r / 16] = 0;
    }
  __syncthreads();  // the barriers are initialised, the slots are set
  if (threadIdx.x >= kThreads) {  // warpgroup 2: the producer (components/producer.cuh)
    cutlass::arch::warpgroup_reg_dealloc<kProducerRegisters>();
    run_producer(p, maps, sm, part);
    return;
  }
  cutlass::arch::warpgroup_reg_alloc<kConsumerRegisters>();
  int ring = 0;
  std::uint32_t phases = 0;
  HandoffPhases handoff;
  PendingMerges merges;
  sched::for_each_segment(part, p.batch, p.lengths, [&](int r, int begin, int end, int split) {
    if (process_segment(p, sm, r, begin, end, split, ring, phases, handoff)) merges.add(r);
  });
  merges.run([&](int r) { merge_splits<kThreads, kRowsPerCta, 4>(MergeArgs(p), r, blockIdx.y * kRowsPerCta); });
}

inline bool supports(const DecodeParams& p) {
  static_assert(kChunkBytes == 16, "the loads fp8_inputs_16b_aligned checks");
  if (!fp8_inputs_16b_aligned(p) || !tma_reads_cache(p)) return false;
  // out: 2 bf16 (4 bytes) per store.
  if (!aligned_to(p.out, 4)) return false;
  for (int k = 0; k < 3; ++k)
    if (p.out_stride[k] % 2 != 0) return false;
  return true;
}

inline void launch_tiles(const DecodeParams& params, StreamHandle stream, const char* name) {
  const int rows = params.s_q * params.h_q;
  set_max_dynamic_smem<decode_wgmma_kernel>(kSmemBytes, name);
  const dim3 grid(params.num_parts, ceil_div(rows, kRowsPerCta));
  decode_wgmma_kernel<<<grid, kCtaThreads, kSmemBytes, to_stream(stream)>>>(params, make_page_maps(params));
  check_launch(name);
}

// The kernel that serves `params` (kAuto resolved): the narrow kernel in row groups for small
// calls (decode_narrow/config.h), the narrow kernel's one CTA per part up to 32 rows, the
// 64-row kernel above.
inline WgmmaRoute route_for(const DecodeParams& params, int sms) {
  const int rows = params.s_q * params.h_q;
  if (decode_narrow::small_call_in_row_groups(rows, params.batch, params.max_pages, sms, params.num_parts))
    return WgmmaRoute::kNarrow16;
  switch (decode_narrow::cols_for_rows(rows)) {
    case 16: return WgmmaRoute::kNarrow16;
    case 32: return WgmmaRoute::kNarrow32;
    default: return WgmmaRoute::kTiles64;
  }
}

inline WgmmaRoute resolve(const DecodeParams& params, WgmmaRoute route, int sms) {
  return route == WgmmaRoute::kAuto ? route_for(params, sms) : route;
}

// 0 where the route does not serve `params` (nothing launched); else the largest split count of
// the requests the launched kernel merged itself: only the 64-row kernel merges (up to
// sched::kMaxInKernelMergeSplits, with arrival counters), the others leave every split request
// to the combine (1).
inline int launch(const DecodeParams& params, StreamHandle stream, WgmmaRoute route) {
  const char* name = "decode_fp8_wgmma kernel launch";
  if (!supports(params)) return 0;
  const int rows = params.s_q * params.h_q;
  if (route == WgmmaRoute::kNarrow32 && rows > decode_narrow::kMaxCols) return 0;
  if (params.batch <= 0 || params.num_parts <= 0 || rows <= 0) return 1;
  const int sms = current_device_sm_count(name);
  const WgmmaRoute chosen = resolve(params, route, sms);
  switch (chosen) {
    case WgmmaRoute::kNarrow16: {
      // The narrow kernel (rows in the wgmma N dimension, src/kernels/sm90/decode_narrow).
      using decode_narrow::kGroupCols;
      const long long ctas = static_cast<long long>(decode_narrow::groups_a_part(kGroupCols, rows)) * params.num_parts;
      if (decode_narrow::narrow_ctas_per_sm(kGroupCols, ctas, sms) == 3)
        launch_decode_fp8_narrow16x3(params, stream);
      else
        launch_decode_fp8_narrow16(params, stream);
      break;
    }
    case WgmmaRoute::kNarrow32: launch_decode_fp8_narrow32(params, stream); break;
    default: launch_tiles(params, stream, name);
  }
  return chosen == WgmmaRoute::kTiles64 && params.split_done != nullptr ? sched::kMaxInKernelMergeSplits : 1;
}

}  // namespace snapmla::kernels::decode_wgmma

// The wgmma FP8 split-KV decode kernel (SnapMLA arithmetic, docs/numerics.md): FP8 wgmma for
// the content QK^T and for PV, BF16 wgmma for the RoPE slice into the same accumulator, V
// transposed in shared memory for the K-major FP8 B operand.
//
// Grid: (schedule part, tile of 64 query rows); 384 threads = 2 consumer warpgroups (config.h)
// and a producer warpgroup (components/producer.cuh; setmaxnreg 224 / 56). Each CTA reads its
// PartRange from the workspace and walks its segments exactly as the other decode kernels (and
// the CPU reference) do. Per 64-token block (one page):
//   1. load       the producer: TMA page blk + 2 into the stage block blk - 1 freed (3 stages),
//                 then V^T of page blk into vt (transpose_v.cuh), mbarrier handshakes
//   2. QK         each consumer warpgroup: 64 rows x 32 tokens, e4m3 + bf16 wgmma (qk.cuh)
//   3. softmax    online max / sum, P8 = e4m3(P' * mult); the two warpgroups exchange their
//                 row max / P' max / sum once per warp pair (softmax.cuh)
//   4. PV         each warpgroup: 64 rows x 256 dims, P8 from registers      (pv.cuh)
//   5. epilogue   out/lse or partial_o/partial_lse                          (epilogue.cuh);
//                 the last split of a request of a few splits merges them (common/merge_splits.cuh)
// O lives in registers (128 fp32 a thread). One CTA per SM (~207 KB of shared memory).
// launch() serves s_q * h_q <= 32 rows with the narrow kernel instead (src/kernels/sm90/decode_narrow).
#pragma once

#include <cstdint>

#include "kernels/common/alignment.h"
#include "kernels/common/cuda_utils.cuh"
#include "kernels/common/merge_splits.cuh"
#include "kernels/launch.h"
#include "kernels/sm90/decode_wgmma/components/epilogue.cuh"
#include "kernels/sm90/decode_wgmma/components/load.cuh"
#include "kernels/sm90/decode_wgmma/components/producer.cuh"
#include "kernels/sm90/decode_wgmma/components/tma_load.cuh"
#include "kernels/sm90/decode_wgmma/components/pv.cuh"
#include "kernels/sm90/decode_wgmma/components/qk.cuh"
#include "kernels/sm90/decode_wgmma/components/softmax.cuh"
#include "kernels/sm90/decode_wgmma/components/transpose_v.cuh"
#include "kernels/sm90/decode_narrow/config.h"
#include "kernels/sm90/decode_narrow/kernel.h"
#include "kernels/sm90/decode_wgmma/kernel.h"
#include "sched/schedule.h"

namespace snapmla::kernels::decode_wgmma {

// The geometry decode_tc's softmax step expects (its Tiling): 4 row groups of 16 rows (the
// warps of a warpgroup), 2 splits of 32 tokens (the warpgroups), P8 in natural token order,
// two row slots a thread.
struct SoftmaxTiling {
  struct Fmt {
    static constexpr bool kFp8 = true;
  };
  static constexpr int kRowsPerCta = decode_wgmma::kRowsPerCta;
  static constexpr int kSplits = kWarpgroups;
  static constexpr int kGroupThreads = kSplits * kWarpThreads;
  static constexpr int kQkTokensPerWarp = kQkTokensPerWarpgroup;
  static constexpr int kQkNTiles = decode_wgmma::kQkNTiles;
  static constexpr bool kP8NaturalOrder = true;
  static constexpr int kSlots = 2;
};

// `ring`: the stage of the segment's first page, `phases` the stages' mbarrier phases and
// `vt_phase` vt_full's; they run on across the segments of a part.
// Returns whether this CTA merges request b's splits (it wrote the last).
__device__ __forceinline__ bool process_segment(const DecodeParams& p, SharedStorage& sm, int b, int block_begin,
                                                int block_end, int split, int& ring, std::uint32_t& phases,
                                                std::uint32_t& vt_phase) {
  const int row0 = blockIdx.y * kRowsPerCta;
  const int wg = warpgroup_index(), warp = (threadIdx.x / kWarpThreads) % 4;
  // Warps whose rows are all padding (s_q * h_q < 64) only take part in the MMAs.
  const bool live = row0 + 16 * warp < p.s_q * p.h_q;
  const bool no_padding_rows = row0 + kRowsPerCta <= p.s_q * p.h_q;  // CTA-uniform
  const int length = p.lengths[b];

  load_query_tile(p, b, row0, length, sm);
  fence_view_async_shared();  // q tiles: generic writes, wgmma reads
  consumer_sync();

  const float inf = __int_as_float(0x7f800000);
  decode_tc::RowState state;
#pragma unroll
  for (int i = 0; i < kRowsPerThread; ++i) { state.m[i] = -inf; state.l[i] = 0.0f; }
  OutputAcc o;
#pragma unroll
  for (int c = 0; c < kPvChunks; ++c)
#pragma unroll
    for (int k = 0; k < kPvChunkRegs; ++k) o[c][k] = 0.0f;

  for (int blk = block_begin; blk < block_end; ++blk) {
    const int s = (ring + blk - block_begin) % kStages;
    wait_page(sm.page_full, phases, s);  // page blk has landed (TMA, or NaN words the producer fenced)
    // Every consumer warp is past block blk - 1, so p8 and the softmax exchange are free again.
    consumer_sync();
    const PageStage& st = sm.stage[s];
    const bool warp_leader = threadIdx.x % kWarpThreads == 0;
    const int n_hi = decode_tc::tokens_in_block(sm.max_visible, blk);  // CTA-uniform
    if (n_hi > 0) {
      // 2. QK
      // Every real row sees the whole page. Tested on min_visible itself: written as n_lo == 64
      // on the clamped n_lo, ptxas 13.0 made it the predicate output of the clamping
      // VIMNMX.RELU, and the tests failed as if it were true on partial pages (docs/perf.md, v20).
      const bool whole = sm.min_visible >= (blk + 1) * kTokensPerBlock;
      ScoreAcc acc;
      compute_scores(sm, st, wg, acc);
      // 3. softmax; without the token tests where every row sees the whole block (CTA-uniform)
      BlockStep step{{1.0f, 1.0f}, {0.0f, 0.0f}, {0, 0}};
      if (whole && no_padding_rows)
        step = softmax_one_exchange<SoftmaxTiling, true>(sm, st, blk, warp, wg, acc, state);
      else if (live)
        step = softmax_one_exchange<SoftmaxTiling>(sm, st, blk, warp, wg, acc, state);
      // The warp is done with the page (the softmax reads its scales); __syncwarp orders every
      // lane's reads before the leader's arrival (racecheck flagged it when the producer reused
      // the stage right after).
      __syncwarp();
      if (warp_leader) cutlass::arch::ClusterBarrier::arrive(&sm.stage_empty[s]);
      cutlass::arch::ClusterBarrier::wait(&sm.vt_full, vt_phase);  // the producer's V^T of the page
      vt_phase ^= 1u;
      consumer_sync();  // the P8 of both warpgroups complete (generic writes, ldmatrix reads)
      accumulate_pv(sm, wg, live, step, o);                                                           // 4. PV
      if (warp_leader) cutlass::arch::ClusterBarrier::arrive(&sm.vt_empty);  // its wgmma have read V^T
    } else if (warp_leader) {
      cutlass::arch::ClusterBarrier::arrive(&sm.stage_empty[s]);
    }
  }
  ring = (ring + block_end - block_begin) % kStages;

  const int splits = p.split_begin[b + 1] - p.split_begin[b];
  write_segment(p, b, row0, wg, split, splits == 1, state, o);  // 5. epilogue
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
  // P8 rows nobody writes (warps of padding rows) feed the PV MMA as zeros.
  if (threadIdx.x < kThreads)
    for (int k = threadIdx.x; k < int(sizeof(sm.p8) / 4); k += kThreads) reinterpret_cast<std::uint32_t*>(sm.p8)[k] = 0u;
  __syncthreads();  // the barriers are initialised, p8 is zero
  if (threadIdx.x >= kThreads) {  // warpgroup 2: the producer (components/producer.cuh)
    cutlass::arch::warpgroup_reg_dealloc<kProducerRegisters>();
    run_producer(p, maps, sm, part);
    return;
  }
  cutlass::arch::warpgroup_reg_alloc<kConsumerRegisters>();
  int ring = 0;
  std::uint32_t phases = 0, vt_phase = 0;
  PendingMerges merges;
  sched::for_each_segment(part, p.batch, p.lengths, [&](int r, int begin, int end, int split) {
    if (process_segment(p, sm, r, begin, end, split, ring, phases, vt_phase)) merges.add(r);
  });
  merges.run([&](int r) { merge_splits<kThreads, kRowsPerCta, 4>(p, r, blockIdx.y * kRowsPerCta); });
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

inline int merged_up_to(const DecodeParams& params) {
  const bool tiles = decode_narrow::cols_for_rows(params.s_q * params.h_q) == 0;  // the 64-row kernel
  return tiles && params.split_done != nullptr ? sched::kMaxInKernelMergeSplits : 1;
}

inline bool launch(const DecodeParams& params, StreamHandle stream) {
  const char* name = "decode_fp8_wgmma kernel launch";
  if (!supports(params)) return false;
  const int rows = params.s_q * params.h_q;
  if (params.batch <= 0 || params.num_parts <= 0 || rows <= 0) return true;
  // Up to 32 rows: the narrow kernel (rows in the wgmma N dimension, src/kernels/sm90/decode_narrow).
  switch (decode_narrow::cols_for_rows(rows)) {
    case 16:
      if (decode_narrow::narrow_ctas_per_sm(rows, params.num_parts, current_device_sm_count(name)) == 3)
        launch_decode_fp8_narrow16x3(params, stream);
      else
        launch_decode_fp8_narrow16(params, stream);
      break;
    case 32: launch_decode_fp8_narrow32(params, stream); break;
    default: launch_tiles(params, stream, name);
  }
  return true;
}

}  // namespace snapmla::kernels::decode_wgmma

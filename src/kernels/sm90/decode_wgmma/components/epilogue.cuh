// Step 5, at the end of a segment: O / l and the LSE, with the semantics of the other decode
// kernels (ref::finish_row): a request with one split writes out (bf16) and lse (natural log,
// +inf for a row that saw nothing, with out = 0); a split of a longer request writes partial_o
// (fp32, O / l) and partial_lse (log2, -inf if empty, with partial_o = 0).
// The row state lives with the softmax's rows (16 w + g + {0, 8}), O^T with PV's 16 query rows
// a thread (pv.cuh): publish_finish puts 1 / l and the LSE of every row in shared memory, and
// after a barrier write_segment scales O^T and writes it out through shared memory.
#pragma once

#include <cstddef>
#include <cstdint>

#include "common/codecs.h"
#include "common/quant_rules.h"
#include "kernels/params.h"
#include "kernels/sm90/decode_wgmma/components/producer.cuh"
#include "kernels/sm90/decode_wgmma/components/pv.cuh"
#include "kernels/sm90/decode_wgmma/components/softmax.cuh"

namespace snapmla::kernels::decode_wgmma {

// Warpgroup 0's quad leaders publish their two rows (both warpgroups hold the same state).
__device__ __forceinline__ void publish_finish(SharedStorage& sm, int wg, const decode_tc::RowState& state) {
  const int lane = threadIdx.x % kWarpThreads, warp = (threadIdx.x / kWarpThreads) % 4;
  if (wg != 0 || lane % 4 != 0) return;
#pragma unroll
  for (int i = 0; i < kRowsPerThread; ++i) {
    const int r = 16 * warp + lane / 4 + 8 * i;
    const auto [empty, inv_l, lse2] = decode_tc::finish_row(state, i);
    sm.finish_inv_l[r] = inv_l;
    sm.finish_lse2[r] = lse2;  // -inf exactly for an empty row
  }
}

// The output rows go out through shared memory, one dim tile of each warpgroup a round: O^T's
// fragments hold 16 rows x 2 dims a thread, and stored from there each 128-byte line of a row
// was written half by one warp and half by another; the partial_o stores of a split took ~3x
// as long as the 64-row kernel's before (docs/perf.md, the seesaw). Staged, every warp writes
// whole lines. The staging area is the query tile's (QK is done for the segment); its rows are
// padded to 132 floats so that the fragments' float2 stores are free of bank conflicts.
inline constexpr int kOutRowFloats = 2 * kPvChunkDims + 4;  // one dim tile of each warpgroup
static_assert(offsetof(SharedStorage, q_rope) == offsetof(SharedStorage, q_content) + sizeof(SharedStorage::q_content) &&
                  kRowsPerCta * kOutRowFloats * sizeof(float) <= sizeof(SharedStorage::q_content) + sizeof(SharedStorage::q_rope),
              "the output staging fits in the query tile");

// After publish_finish and a barrier; every consumer thread. Consumes o (its tiles rotate).
__device__ __forceinline__ void write_segment(const DecodeParams& p, SharedStorage& sm, int b, int row0, int wg,
                                              int split, bool single, OutputAcc& o) {
  const int rows = p.s_q * p.h_q;
  const int lane = threadIdx.x % kWarpThreads, warp = (threadIdx.x / kWarpThreads) % 4, g = lane / 4, t = lane % 4;
  auto* staged = reinterpret_cast<float(*)[kOutRowFloats]>(sm.q_content);
  // The thread's 16 query rows c: row decode_narrow::col_of(c, t), its two dims in registers
  // acc_reg(c, 0) and acc_reg(c, 1) (the narrow kernel's O^T fragment layout, which PV shares).
  constexpr int kRowRegs = kPvChunkRegs / 2;
  const auto row_of_pair = [&](int c) { return decode_narrow::col_of(c, t); };

  // 1 / l of the thread's rows, read once before the rounds, all loads in flight together (in
  // the rounds, no load could move above the staging stores before it, which might alias it).
  float inv_l[kRowRegs];
  std::uint32_t empty_rows = 0;
#pragma unroll
  for (int c = 0; c < kRowRegs; ++c) {
    const int r = row_of_pair(c);
    inv_l[c] = sm.finish_inv_l[r];
    if (sm.finish_lse2[r] == -__int_as_float(0x7f800000)) empty_rows |= 1u << c;
  }

  // Out: a warp instruction writes a row's two 64-dim pieces (dims 64 i and 256 + 64 i); the
  // thread's rows are cta_warp + 8 j, its float4 the same in every round.
  constexpr int kPieceFloat4s = kPvChunkDims / 4;                                   // 16
  constexpr int kOutRows = kRowsPerCta * kWarpgroups * kPieceFloat4s / kThreads;  // 8 rows a thread
  static_assert(kWarpgroups * kPieceFloat4s == kWarpThreads && kOutRows * kConsumerWarps == kRowsPerCta,
                "a warp instruction is one row's two pieces");
  const int cta_warp = threadIdx.x / kWarpThreads, piece = lane / kPieceFloat4s, f = lane % kPieceFloat4s;

  // The rounds run as a loop, not unrolled, tile 0 of o taking the next tile each round: this
  // code runs once a segment, and at b = 1 fetching it cold cost more than running it (clock
  // stamps: ~12,000 cycles unrolled, with or without the global stores; docs/perf.md, v40).
#pragma unroll 1
  for (int i = 0; i < kPvChunks; ++i) {
    // O^T tile i of each warpgroup, divided by l, into the staging rows.
#pragma unroll
    for (int c = 0; c < kRowRegs; ++c) {
      const bool empty = (empty_rows >> c) & 1u;
      const float v0 = empty ? 0.0f : __fmul_rn(o[0][decode_narrow::acc_reg(c, 0)], inv_l[c]);  // dim 2 g
      const float v1 = empty ? 0.0f : __fmul_rn(o[0][decode_narrow::acc_reg(c, 1)], inv_l[c]);  // dim 2 g + 1
      *reinterpret_cast<float2*>(&staged[row_of_pair(c)][wg * kPvChunkDims + decode_narrow::pv_out_dim(0, warp, g, 0)]) =
          make_float2(v0, v1);
    }
#pragma unroll
    for (int m = 0; m + 1 < kPvChunks; ++m)
#pragma unroll
      for (int k = 0; k < kPvChunkRegs; ++k) o[m][k] = o[m + 1][k];
    consumer_sync();
    // The thread's 8 loads first, then its 8 stores: one after the other, a load and its store
    // took ~1,150 cycles a round (clock stamps, docs/perf.md, v40.1).
    float4 v[kOutRows];
#pragma unroll
    for (int j = 0; j < kOutRows; ++j)
      v[j] = *reinterpret_cast<const float4*>(&staged[cta_warp + kConsumerWarps * j][piece * kPvChunkDims + 4 * f]);
#pragma unroll
    for (int j = 0; j < kOutRows; ++j) {
      const int row = row0 + cta_warp + kConsumerWarps * j;
      if (row >= rows) break;
      const int dim = piece * kPvDimsPerWarpgroup + i * kPvChunkDims + 4 * f;
      // / and %, not query_row (one division): with query_row here and in merge_splits, ptxas laid
      // out this kernel's block loop differently and the large calls lost 1-2 % (docs/perf.md, v33).
      const long long iq = row / p.h_q, h = row % p.h_q;
      if (single) {
        std::uint16_t* out = p.out + b * p.out_stride[0] + iq * p.out_stride[1] + h * p.out_stride[2] + dim;
        const uint2 packed{bf16_from_float(v[j].x) | (std::uint32_t(bf16_from_float(v[j].y)) << 16),
                           bf16_from_float(v[j].z) | (std::uint32_t(bf16_from_float(v[j].w)) << 16)};
        *reinterpret_cast<uint2*>(out) = packed;
      } else {
        *reinterpret_cast<float4*>(p.partial_o + (static_cast<long long>(split) * rows + row) * kDimLatent + dim) = v[j];
      }
    }
    consumer_sync();
  }
  if (threadIdx.x < kRowsPerCta && row0 + static_cast<int>(threadIdx.x) < rows) {  // one LSE writer a row
    const int r = threadIdx.x, row = row0 + r;
    const long long iq = row / p.h_q, h = row % p.h_q;
    const float lse2 = sm.finish_lse2[r];
    if (single) p.lse[b * p.lse_stride[0] + h * p.lse_stride[1] + iq * p.lse_stride[2]] = reported_lse(lse2);
    else p.partial_lse[static_cast<long long>(split) * rows + row] = lse2;
  }
}

}  // namespace snapmla::kernels::decode_wgmma

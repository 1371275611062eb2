// Tiling and shared-memory layouts of the wgmma FP8 decode kernel (kernel.cuh).
//
// One CTA = one schedule part x one tile of 64 query rows (row = i_q * h_q + h), 256 consumer
// threads = two warpgroups (and a producer warpgroup that issues the page copies,
// components/producer.cuh). The consumer warpgroups take a segment's blocks in turns (the
// seesaw of kernel.cuh): warpgroup s owns blocks block_begin + s, + s + 2, ... For its own
// block, warp w (0..3 in the group), lane (g, t):
//   QK  S[64 rows, 64 tokens] = wgmma m64n64k32 e4m3 (content, 16 k-steps)
//       + wgmma m64n64k16 bf16 (RoPE, 4 k-steps); the thread holds rows 16 w + g, 16 w + g + 8,
//       tokens 32 h + 8 j + 2 t + {0, 1} (h: the accumulator's two halves, j < 4)
//   softmax over the whole block; P8 and the block's row scalars go to the warpgroup's
//       exchange slot in shared memory (softmax.cuh)
// and for every block, its own and the other warpgroup's, in block order:
//   PV  O^T[dims 256 s .. 256 s + 255, 64 rows] += V^T (registers: ldmatrix.trans of the page)
//       x P8^T (the owner's slot, shared), four dim tiles of wgmma m64n64k32 e4m3 (2 k-steps of
//       32 tokens each), the narrow kernel's PV form (decode_narrow/config.h)
//
// Shared-memory operands are in the canonical K-major layouts of wgmma:
//   SW128  rows of 128 bytes, 8-row atoms of 1024 bytes, 16-byte chunk c of row r stored at
//          chunk c ^ (r % 8); a tile of R rows x 512 bytes is four 128-byte column blocks of
//          R x 128 bytes (Q content, K content, Q RoPE and K RoPE (one block each)).
//   SW64   rows of 64 bytes, 8-row atoms of 512 bytes, chunk c of row r at c ^ ((r / 2) % 4)
//          (P8^T: 64 query rows x 64 tokens).
// The swizzle is applied by the hardware to address bits, so every tile starts 1024-aligned.
#pragma once

#include <cstdint>

#include "common/host_device.h"
#include "kernels/sm90/decode_fp8/config.h"
#include "snapmla/cache.h"

namespace snapmla::kernels::decode_wgmma {

using decode::kChunkBytes;
using decode::kTokensPerBlock;
using decode::visible_tokens;

inline constexpr int kRowsPerCta = 64;              // one wgmma M
inline constexpr int kWarpgroups = 2;
inline constexpr int kWarpgroupThreads = 128;
inline constexpr int kThreads = kWarpgroups * kWarpgroupThreads;  // 256 consumers
inline constexpr int kWarpThreads = 32;
// Cache pages staged: the two blocks of a turn (one a warpgroup) are in use at once, the
// producer loads the next turn's two meanwhile.
inline constexpr int kStages = 4;

// QK's accumulator, 8 n-tiles of 8 tokens, kept as two halves of 32 tokens.
inline constexpr int kQkHalfTokens = 32;
inline constexpr int kQkHalves = kTokensPerBlock / kQkHalfTokens;  // 2
inline constexpr int kContentKStepBytes = 32;       // e4m3 k-step: 32 values
inline constexpr int kRopeKStepBytes = 32;          // bf16 k-step: 16 values
inline constexpr int kContentKSteps = kDimLatent / kContentKStepBytes;       // 16
inline constexpr int kRopeKSteps = 2 * kDimRope / kRopeKStepBytes;           // 4
// e4m3 k-steps chained in the tensor core before each fp32 promotion of QK (two-level
// accumulation), by query rows a CTA; the one rule for the 64-row kernel (qk.cuh) and the
// narrow kernels (decode_narrow/components/qk.cuh). Two from 32 rows: 6-8 % faster at every
// 64-row shape, 3-4 % at 32 rows with b = 128, with the error against the float64 truth the
// emulation's at 8K, 32K and 128K tokens; the LSE's deviation from the emulation roughly
// doubles (median 8.6e-4 -> 1.5e-3 over 30 fresh seeds), inside the bound that sweep gives
// (tests/common/tolerances.h). One at 16 rows: that kernel streams the cache at the copy roof's
// pace (and serves the small calls in row groups), two measured no faster, so it keeps the
// closer agreement with the emulation (docs/perf.md, session 26).
SNAPMLA_HD constexpr int qk_ksteps_per_promotion(int rows_per_cta) { return rows_per_cta >= 32 ? 2 : 1; }
inline constexpr int kKStepsPerPromotion = qk_ksteps_per_promotion(kRowsPerCta);
// PV: each warpgroup owns 256 output dims, computed in chunks (dim tiles) of 64 (wgmma M) so
// that one chunk's block product (V^T x P8^T, fp32) fits beside O before it is folded in.
inline constexpr int kPvDimsPerWarpgroup = kDimLatent / kWarpgroups;          // 256
inline constexpr int kPvChunkDims = 64;
inline constexpr int kPvChunks = kPvDimsPerWarpgroup / kPvChunkDims;          // 4
inline constexpr int kPvKSteps = kTokensPerBlock / 32;                        // 2
inline constexpr int kPvChunkRegs = kPvChunkDims * kRowsPerCta / kWarpgroupThreads;  // 32

// Layout sizes.
inline constexpr int kSw128RowBytes = 128;
inline constexpr int kSw128AtomBytes = 8 * kSw128RowBytes;   // 1024: the SBO of SW128 tiles
inline constexpr int kSw64RowBytes = 64;
inline constexpr int kSw64AtomBytes = 8 * kSw64RowBytes;     // 512: the SBO of SW64 tiles
inline constexpr int kContentBlocks = kDimLatent / kSw128RowBytes;  // 4 column blocks of 128 B

// Byte offset of (row r, byte k) in an SW128 K-major tile of `rows` rows (k < 512).
SNAPMLA_HD constexpr int sw128_offset(int rows, int r, int k) {
  return (k / kSw128RowBytes) * rows * kSw128RowBytes + r * kSw128RowBytes +
         ((((k % kSw128RowBytes) / kChunkBytes) ^ (r % 8)) * kChunkBytes) + k % kChunkBytes;
}
// Byte offset of (row n, byte k) in an SW64 K-major tile (k < 64).
SNAPMLA_HD constexpr int sw64_offset(int n, int k) {
  return n * kSw64RowBytes + ((((k / kChunkBytes) ^ ((n / 2) % 4))) * kChunkBytes) + k % kChunkBytes;
}

static_assert(kRowsPerCta == 4 * 16, "a warpgroup's wgmma M is 4 warps x 16 rows");
static_assert(kContentBlocks * kSw128RowBytes == kDimLatent && 2 * kDimRope == kSw128RowBytes);
static_assert(kPvChunks * kPvChunkDims == kPvDimsPerWarpgroup);

}  // namespace snapmla::kernels::decode_wgmma

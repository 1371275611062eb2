// Tiling of the tensor-core FP8 decode kernel (kernel.cuh) and the fragment geometry of the
// warp-level MMAs it uses (mma.sync m16n8k32 e4m3 for the content GEMMs, m16n8k16 bf16 for the
// RoPE slice, both into fp32 accumulators).
//
// One CTA = one schedule part x one tile of kRowsPerCta query rows (row = i_q * h_q + h).
// Warp w = (row group w / kSplits, split w % kSplits):
//   QK  the warp's 16 rows x its share of the 64 tokens of a page
//   PV  the warp's 16 rows x its share of the 512 output dims, over all 64 tokens
// The warps of a row group sit on different SM sub-partitions and exchange row max / sum
// through shared memory with a named barrier of their own.
#pragma once

#include <cstdint>

#include "kernels/sm90/decode_bf16/config.h"
#include "kernels/sm90/decode_fp8/config.h"
#include "snapmla/cache.h"

namespace snapmla::kernels::decode_tc {

using decode::kChunkBytes;
using decode::kRopeBytes;
using decode::kRopeRowBytes;
using decode::kRowPadBytes;
using decode::kStages;
using decode::kTokensPerBlock;
using decode::visible_tokens;

// MMA shapes.
inline constexpr int kMmaM = 16;                 // rows of one MMA
inline constexpr int kMmaN = 8;                  // columns of one MMA
inline constexpr int kMmaKFp8 = 32;              // e4m3 values along k (32 bytes)
inline constexpr int kMmaKBf16 = 16;             // bf16 values along k (32 bytes)
inline constexpr int kMmaKBytes = 32;            // bytes of one k-step, both kinds
inline constexpr int kLdsmRowBytes = 16;         // one row of an ldmatrix 8x8 b16 matrix

// CTA tiling: 8 warps; a CTA holds kRowGroups 16-row MMA tiles, and the kSplits warps of a row
// group split the page's tokens (QK) and the output dims (PV) between them.
inline constexpr int kWarps = 8;
inline constexpr int kWarpThreads = 32;
inline constexpr int kThreads = kWarps * kWarpThreads;               // 256
inline constexpr int kFirstGroupBarrier = 1;                         // barrier 0 is __syncthreads
inline constexpr int kRopeKSteps = kDimRope / kMmaKBf16;             // 4
// PV: the B operand (V, k = tokens) is read with ldmatrix.trans from the token-major page.
// FP8: one x4 load gives 32 tokens x 16 dims, split by byte permutes into an "even dims" and an
// "odd dims" n-tile. BF16: one x4 load gives 16 tokens x 16 dims = the B fragments of two
// n-tiles (dims 0..7 and 8..15 of the block) as they are.
inline constexpr int kPvDimBlock = 16;                               // dims of one ldmatrix.x4.trans
inline constexpr int kPvDimsPerThread = 4;                           // dims per block and row

// The two cache formats as the tensor-core kernel sees them (the content MMA, the P operand,
// the page layout of decode_fp8 / decode_bf16).
struct Fp8Tc {
  using Cache = decode::Fp8Format;                                     // three planes
  static constexpr bool kFp8 = true;
  static constexpr int kContentKSteps = kDimLatent / kMmaKFp8;         // 16 (m16n8k32 e4m3)
  static constexpr int kQContentRowBytes = kDimLatent + kRowPadBytes;  // 528
  static constexpr int kPElemBytes = 1;                                // P8 = e4m3
  static constexpr int kPvKTokens = kMmaKFp8;                          // tokens of one PV k-step: 32
};
struct Bf16Tc {
  using Cache = decode::Bf16Format;                                        // one [64, 576] plane
  static constexpr bool kFp8 = false;
  static constexpr int kContentKSteps = kDimLatent / kMmaKBf16;            // 32 (m16n8k16 bf16)
  static constexpr int kQContentRowBytes = 2 * kDimLatent + kRowPadBytes;  // 1040
  static constexpr int kPElemBytes = 2;                                    // P = bf16(p)
  static constexpr int kPvKTokens = kMmaKBf16;                             // 16
};

template <int kGroups, class F>
struct Tiling {
  using Fmt = F;
  static constexpr int kRowGroups = kGroups;
  static constexpr int kRowsPerCta = kRowGroups * kMmaM;
  static constexpr int kSplits = kWarps / kRowGroups;                    // warps of one row group
  static constexpr int kGroupThreads = kSplits * kWarpThreads;           // its named-barrier size
  static constexpr int kQkTokensPerWarp = kTokensPerBlock / kSplits;     // QK: tokens of one warp
  static constexpr int kQkNTiles = kQkTokensPerWarp / kMmaN;
  static constexpr int kPvDimsPerWarp = kDimLatent / kSplits;            // PV: dims of one warp
  static constexpr int kPvDimBlocks = kPvDimsPerWarp / kPvDimBlock;
  static constexpr int kPvKSteps = kTokensPerBlock / F::kPvKTokens;      // 2 (FP8), 4 (BF16)
  static constexpr bool kP8NaturalOrder = false;                         // FP8 P8 in the PV k order
  static constexpr int kSlots = 2;                                       // rows g and g + 8 of a thread
  // Shared-memory rows (padded by kRowPadBytes: 8 consecutive rows of an ldmatrix hit 8
  // different 16-byte bank groups).
  static constexpr int kQContentRowBytes = F::kQContentRowBytes;
  static constexpr int kPRowBytes = kTokensPerBlock * F::kPElemBytes + kRowPadBytes;  // 80 / 144
  static_assert(kWarps % kRowGroups == 0 && kQkNTiles >= 1 && kPvDimBlocks >= 1);
  static_assert(F::Cache::kContentRowBytes == kQContentRowBytes);
};
// FP8, 64 rows, 2 warps a row group (16 rows x 32 tokens, 16 rows x 256 dims): the default.
using WideTiling = Tiling<4, Fp8Tc>;
// 16 rows, 8 warps a row group (16 rows x 8 tokens, 16 rows x 64 dims): s_q * h_q <= 16, where the
// wide tiling would leave 6 of 8 warps idle.
using NarrowTiling = Tiling<1, Fp8Tc>;
// BF16: a page is 64 x 1040 + 64 x 144 B = 74 KB in shared memory, so two stages and a 64-row
// bf16 query tile (75 KB) do not fit in 227 KB; the BF16 kernel uses 32 rows, 4 warps a row
// group (16 rows x 16 tokens, 16 rows x 128 dims): ~196 KB.
using Bf16WideTiling = Tiling<2, Bf16Tc>;
using Bf16NarrowTiling = Tiling<1, Bf16Tc>;
inline constexpr int kNarrowMaxRows = NarrowTiling::kRowsPerCta;
inline constexpr int kQRopeRowBytes = kRopeRowBytes;                 // 144

static_assert(kThreads == decode::kThreads, "the page loader of decode_fp8 strides by its kThreads");
static_assert(kMmaKFp8 == 4 * 8, "one k-step of FP8 PV = the 4 matrices (8 tokens each) of an ldmatrix.x4");

}  // namespace snapmla::kernels::decode_tc

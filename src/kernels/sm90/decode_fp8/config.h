// Tiling of the split-KV decode kernels (FP8 and BF16 share one kernel template, see
// kernel.cuh) and the FP8 cache format as the kernel sees it.
//
// One CTA = one schedule part x one tile of kRowsPerCta query rows (row = i_q * h_q + h).
// Threads are arranged as kRowGroups groups of kTokenLanes threads:
//   QK   thread (token t = tid % 64, row group) computes the scores of its kRowsPerThread rows
//   PV   thread (dim group g = tid % 64, row group) owns kDimsPerThread output dims of its rows
// so every K/V byte staged in shared memory is reused by all rows of the tile.
#pragma once

#include <cstdint>

#include "common/host_device.h"
#include "snapmla/cache.h"

namespace snapmla::kernels::decode {

inline constexpr int kTokensPerBlock = kPageSize;        // one cache page per online-softmax step
inline constexpr int kRowsPerCta = 16;                   // query rows of one CTA
inline constexpr int kRowsPerThread = 4;                 // rows each thread computes
inline constexpr int kRowGroups = kRowsPerCta / kRowsPerThread;  // 4
inline constexpr int kTokenLanes = kTokensPerBlock;      // threads per row group (one per token)
inline constexpr int kThreads = kRowGroups * kTokenLanes;        // 256
inline constexpr int kWarps = kThreads / 32;                     // 8
inline constexpr int kRowsPerWarp = kRowsPerCta / kWarps;        // softmax: 2 rows a warp
inline constexpr int kDimsPerThread = kDimLatent / kTokenLanes;  // PV: 8 output dims a thread
inline constexpr int kStages = 2;                        // cache pages in flight (cp.async ring)
inline constexpr int kChunkBytes = 16;                   // one cp.async / vector load
inline constexpr int kRowPadBytes = 16;                  // smem row padding: conflict-free 16 B loads
inline constexpr int kDotPartials = 8;                   // interleaved partial sums of a dot product
                                                         // (the order of ref::dot_f32)
inline constexpr int kRopeBytes = kDimRope * 2;          // bf16 k_rope of one token
inline constexpr int kRopeRowBytes = kRopeBytes + kRowPadBytes;

static_assert(kThreads == kRowGroups * kTokenLanes && kRowsPerCta % kWarps == 0);
static_assert(kDimsPerThread * kTokenLanes == kDimLatent);

// The FP8 cache (three planes) as the kernel reads it.
struct Fp8Format {
  static constexpr bool kFp8 = true;
  static constexpr int kContentBytes = kDimLatent;            // e4m3, one byte a value
  static constexpr int kContentRowBytes = kContentBytes + kRowPadBytes;
  static constexpr int kContentPerChunk = kChunkBytes;        // 16 values per 16-byte chunk
  static constexpr int kPvBytesPerThread = kDimsPerThread;    // 8 e4m3 values
};

// Tokens query token i of a request sees: ref::visible_tokens (src/reference/reference.h).
SNAPMLA_HD int visible_tokens(int length, int s_q, int i, bool causal) {
  if (!causal) return length;
  const int n = length - s_q + 1 + i;
  return n < 0 ? 0 : n;
}

// The tokens seen by the query rows row0 .. min(row0 + tile_rows, s_q * h_q) - 1 of a request
// (row = i * h_q + h, row0 < s_q * h_q), each clamped at 0 as row_setup does: visible_tokens
// does not decrease with i, so the tile's first row sees the fewest and its last row the most
// (tests/cpu/test_kernel_routing.cpp checks this against every row).
struct TileVisible {
  int min_visible, max_visible;
};
SNAPMLA_HD TileVisible tile_visible(int length, int s_q, int h_q, bool causal, int row0, int tile_rows) {
  const int rows = s_q * h_q;
  const int last = (row0 + tile_rows < rows ? row0 + tile_rows : rows) - 1;
  const int first_sees = visible_tokens(length, s_q, row0 / h_q, causal);
  const int last_sees = visible_tokens(length, s_q, last / h_q, causal);
  return {first_sees < 0 ? 0 : first_sees, last_sees < 0 ? 0 : last_sees};
}

}  // namespace snapmla::kernels::decode

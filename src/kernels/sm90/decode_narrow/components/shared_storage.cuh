// Shared memory of one narrow decode CTA (kCols = 32, two stages: about 109 KB, two CTAs per SM;
// kCols = 16, the split ring: about 71 KB, three CTAs per SM):
//   stage[]    cache pages in the wgmma layouts of the wgmma kernel (PageStage)     2 or 1 x 41 KB
//   lo_spare   (one stage) the split ring's second lo slot, load.cuh                      16 KB
//   q_content  the kCols query rows, e4m3, SW128 (QK's B operand)                   kCols x 512 B
//   q_rope     their bf16 RoPE slices, SW128                                         kCols x 128 B
//   p8         the block's quantized P^T, SW64: row = query row, 64 tokens in the
//              PV k order (config.h), PV's B operand                                  kCols x 64 B
//   red        per-warp max of x and of y = x + log2 s of each query row (softmax_p.cuh)
//   row_factor, visible, max_visible, min_visible: per-row state (load_query_rows)
#pragma once

#include <cstdint>

#include "kernels/sm90/decode_narrow/config.h"
#include "kernels/sm90/decode_wgmma/components/shared_storage.cuh"

namespace snapmla::kernels::decode_narrow {

using decode_wgmma::kTileAlign;
using decode_wgmma::PageStage;

// What the steps (qk, softmax_p, pv, epilogue) use: the query rows, P8 and the row state.
template <int kCols>
struct NarrowStorage {
  alignas(kTileAlign) std::uint8_t q_content[kCols * kDimLatent];
  alignas(kTileAlign) std::uint8_t q_rope[kCols * 2 * kDimRope];
  alignas(kTileAlign) std::uint8_t p8[kCols * kTokensPerBlock];
  alignas(16) float red[kCols][2][kWarps];  // [row][max x, max y][warp]: 4 values, one float4
  float row_factor[kCols];  // q_scale * scale_log2
  int visible[kCols];       // tokens each row sees (0: padding row)
  int max_visible;          // over the real rows
  int min_visible;
};

// The whole CTA: the above plus the page stages the kernel loop (kernel.cuh) fills and walks.
template <int kCols, int kStages>
struct NarrowCtaStorage : NarrowStorage<kCols> {
  PageStage stage[kStages];
  alignas(8) std::uint64_t page_full[kStages];  // mbarrier of each stage: its page has landed
};
// One stage (three CTAs per SM): the split ring of load.cuh. Lo slot 0 is the stage's content
// lower half, lo slot 1 lo_spare, the hi slot the rest of the stage.
template <int kCols>
struct NarrowCtaStorage<kCols, 1> : NarrowStorage<kCols> {
  PageStage stage[1];
  alignas(kTileAlign) std::uint8_t lo_spare[kLoBytes];
  alignas(8) std::uint64_t page_full[3];  // mbarriers: lo slot 0, lo slot 1, hi slot
};

template <int kCols, int kCtasPerSm>
inline constexpr int kSmemBytes = sizeof(NarrowCtaStorage<kCols, stages_for(kCtasPerSm)>) + kTileAlign;  // + room to align the base
static_assert(3 * (kSmemBytes<16, 3> + 1024) <= 228 * 1024, "three 16-row CTAs of the split ring must fit one SM");
static_assert(2 * (kSmemBytes<32, 2> + 1024) <= 228 * 1024, "two 32-row CTAs of two stages must fit one SM");

}  // namespace snapmla::kernels::decode_narrow

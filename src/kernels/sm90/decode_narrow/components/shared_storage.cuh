// Shared memory of one narrow decode CTA (kCols = 32: about 109 KB, two CTAs per SM):
//   stage[2]   cache pages in the wgmma layouts of the wgmma kernel (PageStage)     2 x 41 KB
//   q_content  the kCols query rows, e4m3, SW128 (QK's B operand)                   kCols x 512 B
//   q_rope     their bf16 RoPE slices, SW128                                         kCols x 128 B
//   p8         the block's quantized P^T, SW64: row = query row, 64 tokens in the
//              PV k order (config.h), PV's B operand                                  kCols x 64 B
//   red_*      per-warp partial max / P' max / sum of each query row (softmax_p.cuh)
//   row_factor, visible, max_visible, min_visible: per-row state (load_query_rows)
#pragma once

#include <cstdint>

#include "kernels/sm90/decode_narrow/config.h"
#include "kernels/sm90/decode_wgmma/components/shared_storage.cuh"

namespace snapmla::kernels::decode_narrow {

using decode_wgmma::kTileAlign;
using decode_wgmma::PageStage;

template <int kCols>
struct NarrowStorage {
  PageStage stage[kStages];
  alignas(kTileAlign) std::uint8_t q_content[kCols * kDimLatent];
  alignas(kTileAlign) std::uint8_t q_rope[kCols * 2 * kDimRope];
  alignas(kTileAlign) std::uint8_t p8[kCols * kTokensPerBlock];
  alignas(16) float red_max[kCols][kWarps];  // [row][warp]: a row's 4 values are one float4
  alignas(16) float red_pmax[kCols][kWarps];
  alignas(16) float red_sum[kCols][kWarps];
  float row_factor[kCols];  // q_scale * scale_log2
  int visible[kCols];       // tokens each row sees (0: padding row)
  int max_visible;          // over the real rows
  int min_visible;
  alignas(8) std::uint64_t page_full[kStages];  // mbarrier of each stage: its page has landed (load.cuh)
};

template <int kCols>
inline constexpr int kSmemBytes = sizeof(NarrowStorage<kCols>) + kTileAlign;  // + room to align the base
static_assert(kCtasPerSm * (kSmemBytes<kMaxCols> + 1024) <= 228 * 1024, "two CTAs must fit one SM");

}  // namespace snapmla::kernels::decode_narrow

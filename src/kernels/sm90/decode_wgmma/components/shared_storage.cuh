// Shared memory of one wgmma decode CTA, about 207 KB (one CTA per SM):
//   stage[3]   cache pages in the wgmma layouts: content SW128 64 x 512 B (32 KB), RoPE SW128
//              64 x 128 B (8 KB), scales 64 x f32; padded to 1024-byte multiples   3 x 41 KB
//   q_content  the tile's 64 query rows, e4m3, SW128                                   32 KB
//   q_rope     their bf16 RoPE slices, SW128                                            8 KB
//   vt         V^T of the current page, SW64 512 dims x 64 tokens (PV's B operand)     32 KB
//   p8         the block's quantized P, 64 rows x 64 tokens (+16 B pad), natural order  5 KB
//   red_*, row_factor, visible: the softmax exchange and per-row state (decode_tc's)
// Every wgmma tile is 1024-aligned (the swizzle is applied to address bits); the kernel rounds
// the dynamic shared-memory base up to 1024.
#pragma once

#include <cstdint>

#include "kernels/sm90/decode_wgmma/config.h"

namespace snapmla::kernels::decode_wgmma {

inline constexpr int kTileAlign = 1024;
inline constexpr int kPRowBytes = kTokensPerBlock + 16;  // padded: ldmatrix rows hit distinct bank groups

struct alignas(kTileAlign) PageStage {
  alignas(kTileAlign) std::uint8_t content[kTokensPerBlock * kDimLatent];  // SW128, 64 rows
  alignas(kTileAlign) std::uint8_t rope[kTokensPerBlock * 2 * kDimRope];   // SW128, 64 rows, bf16
  alignas(16) float scale[kTokensPerBlock];                                // s[t]
};

// The softmax step of decode_tc (its softmax_p.cuh) reads these members by name.
struct SharedStorage {
  PageStage stage[kStages];
  alignas(kTileAlign) std::uint8_t q_content[kRowsPerCta * kDimLatent];  // SW128
  alignas(kTileAlign) std::uint8_t q_rope[kRowsPerCta * 2 * kDimRope];   // SW128, bf16
  alignas(kTileAlign) std::uint8_t vt[kDimLatent * kTokensPerBlock];     // SW64, V^T
  alignas(16) std::uint8_t p8[kRowsPerCta][kPRowBytes];
  float red_max[kWarpgroups][kRowsPerCta];   // max score of each warpgroup's tokens
  float red_pmax[kWarpgroups][kRowsPerCta];  // max P'
  float red_sum[kWarpgroups][kRowsPerCta];   // sum of p
  float row_factor[kRowsPerCta];             // q_scale * scale_log2
  int visible[kRowsPerCta];                  // tokens each row sees (0: padding row)
  int max_visible;                           // over the tile's real rows
  int min_visible;                           // over the tile's real rows
  alignas(8) std::uint64_t page_full[kStages];  // mbarrier of each stage: its page has landed (tma_load.cuh)
  std::uint64_t stage_empty[kStages];  // every reader of the stage's page is done (8 consumer warps + the producer)
  std::uint64_t vt_full;               // the producer has written (and fenced) the page's V^T
  std::uint64_t vt_empty;              // every consumer warp's PV is done with V^T
  int merge_last;                      // arrive_split's answer, for the consumer threads
};

inline constexpr int kSmemBytes = sizeof(SharedStorage) + kTileAlign;  // + room to align the base
static_assert(kSmemBytes <= 227 * 1024, "more shared memory than one Hopper CTA can have");

}  // namespace snapmla::kernels::decode_wgmma

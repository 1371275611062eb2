// Shared memory of one wgmma decode CTA, about 218 KB (one CTA per SM):
//   stage[4]   cache pages in the wgmma layouts: content SW128 64 x 512 B (32 KB), RoPE SW128
//              64 x 128 B (8 KB), scales 64 x f32; padded to 1024-byte multiples   4 x 41 KB
//   q_content  the tile's 64 query rows, e4m3, SW128                                   32 KB
//   q_rope     their bf16 RoPE slices, SW128                                            8 KB
//   slot[2]    each consumer warpgroup's hand-off of its own block: P8^T, SW64, 64 query rows
//              x 64 tokens in the PV k order (PV's B operand), and the rows' block max, alpha,
//              unmult and sum                                                      2 x 5 KB
//   rescale_votes[2]  beside each slot, per warp of its owner: does some row rescale O
//   finish_*, row_factor, visible: per-row state of the tile
// Every wgmma tile is 1024-aligned (the swizzle is applied to address bits); the kernel rounds
// the dynamic shared-memory base up to 1024.
#pragma once

#include <cstdint>

#include "kernels/sm90/decode_narrow/config.h"
#include "kernels/sm90/decode_wgmma/config.h"

namespace snapmla::kernels::decode_wgmma {

inline constexpr int kTileAlign = 1024;

struct alignas(kTileAlign) PageStage {
  alignas(kTileAlign) std::uint8_t content[kTokensPerBlock * kDimLatent];  // SW128, 64 rows
  alignas(kTileAlign) std::uint8_t rope[kTokensPerBlock * 2 * kDimRope];   // SW128, 64 rows, bf16
  alignas(16) float scale[kTokensPerBlock];                                // s[t]
};

// Where the owner's softmax puts P8 of (query row, token): PV's B tile (pv.cuh).
SNAPMLA_HD constexpr int p8_offset(int row, int tok) { return sw64_offset(row, decode_narrow::p8_k_of_token(tok)); }

// What the warpgroup that owns a block hands the other for its PV of that block
// (softmax.cuh writes it; handoff.cuh's mbarriers and kernel.cuh's warpgroup barriers
// order it).
struct alignas(kTileAlign) ExchangeSlot {
  alignas(kTileAlign) std::uint8_t p8[kRowsPerCta * kTokensPerBlock];  // SW64, P8^T (pv.cuh)
  float block_max[kRowsPerCta];         // max_t x over the tokens each row sees (-inf: none)
  alignas(16) float alpha[kRowsPerCta];   // O rescale (1 where the row sees nothing)
  alignas(16) float unmult[kRowsPerCta];  // P8 scale inverse (0 where the row sees nothing)
  float sum[kRowsPerCta];               // sum_t p
};

// Beside each slot (a slot's size is a multiple of its 1024-byte alignment, which four more
// words would cost a whole 1024): per warp of the owner (16 rows), whether some row's alpha is
// not 1. Written and read under the slot's hand-offs.
using RescaleVotes = int[kRowsPerCta / 16];

struct SharedStorage {
  PageStage stage[kStages];
  alignas(kTileAlign) std::uint8_t q_content[kRowsPerCta * kDimLatent];  // SW128
  alignas(kTileAlign) std::uint8_t q_rope[kRowsPerCta * 2 * kDimRope];   // SW128, bf16
  ExchangeSlot slot[kWarpgroups];
  alignas(16) RescaleVotes rescale_votes[kWarpgroups];  // slot s's
  float finish_inv_l[kRowsPerCta];  // 1 / l at the segment's end (epilogue.cuh)
  float finish_lse2[kRowsPerCta];   // log2 LSE (-inf: empty row)
  float row_factor[kRowsPerCta];             // q_scale * scale_log2
  int visible[kRowsPerCta];                  // tokens each row sees (0: padding row)
  int max_visible;                           // over the tile's real rows
  int min_visible;                           // over the tile's real rows
  alignas(8) std::uint64_t page_full[kStages];  // mbarrier of each stage: its page has landed (tma_load.cuh)
  std::uint64_t stage_empty[kStages];  // every consumer warp's PV is done with the stage's page
  std::uint64_t max_ready;             // the consumer warpgroups' hand-offs (handoff.cuh)
  std::uint64_t slot_full[kWarpgroups];
  std::uint64_t slot_free[kWarpgroups];
  int merge_last;                      // arrive_split's answer, for the consumer threads
};

inline constexpr int kSmemBytes = sizeof(SharedStorage) + kTileAlign;  // + room to align the base
static_assert(kSmemBytes <= 227 * 1024, "more shared memory than one Hopper CTA can have");

}  // namespace snapmla::kernels::decode_wgmma

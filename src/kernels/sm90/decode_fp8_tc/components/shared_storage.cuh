// Shared memory of one tensor-core decode CTA (about 136 KB for the wide tiling):
//   stage[2]    cache pages, the layout of decode_fp8 (token-major, rows padded): 2 x 43264 B
//   q_content   the tile's query rows (64 wide), e4m3, padded rows                   33792 B
//   q_rope      the tile's 64 query rows, bf16 RoPE slice, padded rows         9216 B
//   p8          the block's quantized P (e4m3), tokens in the PV k order       5120 B
//   red_*       row max / P' max / p sum of each split, exchanged per row group  1536 B
#pragma once

#include <cstdint>

#include "kernels/sm90/decode_fp8/components/shared_storage.cuh"
#include "kernels/sm90/decode_fp8_tc/config.h"

namespace snapmla::kernels::decode_tc {

using Stage = decode::PageStage<Format>;

template <class T>
struct SharedStorage {
  Stage stage[kStages];
  alignas(16) std::uint8_t q_content[T::kRowsPerCta][kQContentRowBytes];
  alignas(16) std::uint8_t q_rope[T::kRowsPerCta][kQRopeRowBytes];
  alignas(16) std::uint8_t p8[T::kRowsPerCta][kPRowBytes];
  float red_max[T::kSplits][T::kRowsPerCta];   // max score of the split's visible tokens
  float red_pmax[T::kSplits][T::kRowsPerCta];  // max P' of the split's visible tokens
  float red_sum[T::kSplits][T::kRowsPerCta];   // sum of the split's p
  float row_factor[T::kRowsPerCta];         // q_scale * scale_log2
  int visible[T::kRowsPerCta];              // tokens each row sees (0: padding row)
  int max_visible;                       // over the tile's rows
};

}  // namespace snapmla::kernels::decode_tc

// Shared memory of one tensor-core decode CTA. FP8 wide tiling (64 rows), about 136 KB:
//   stage[2]    cache pages, the layout of decode_fp8 (token-major, rows padded): 2 x 43264 B
//   q_content   the tile's query rows (64 wide), e4m3, padded rows                   33792 B
//   q_rope      the tile's 64 query rows, bf16 RoPE slice, padded rows         9216 B
//   p8          the block's quantized P (e4m3), tokens in the PV k order       5120 B
//   red_*       row max / P' max / p sum of each split, exchanged per row group  1536 B
// BF16 wide tiling (32 rows), about 196 KB: stage[2] 2 x 76032 B (bf16 content rows of 1040 B),
// q_content 32 x 1040 B, q_rope 32 x 144 B, p8 (bf16 P, natural token order) 32 x 144 B,
// red_* 1536 B.
#pragma once

#include <cstdint>

#include "kernels/sm90/decode_fp8/components/shared_storage.cuh"
#include "kernels/sm90/decode_tc/config.h"

namespace snapmla::kernels::decode_tc {

template <class T>
using Stage = decode::PageStage<typename T::Fmt::Cache>;

template <class T>
struct SharedStorage {
  Stage<T> stage[kStages];
  alignas(16) std::uint8_t q_content[T::kRowsPerCta][T::kQContentRowBytes];
  alignas(16) std::uint8_t q_rope[T::kRowsPerCta][kQRopeRowBytes];
  alignas(16) std::uint8_t p8[T::kRowsPerCta][T::kPRowBytes];  // P8 (FP8) or bf16 P (BF16)
  float red_max[T::kSplits][T::kRowsPerCta];   // max score of the split's visible tokens
  float red_pmax[T::kSplits][T::kRowsPerCta];  // max P' of the split's visible tokens
  float red_sum[T::kSplits][T::kRowsPerCta];   // sum of the split's p
  float row_factor[T::kRowsPerCta];         // q_scale * scale_log2 (FP8), scale_log2 (BF16)
  int visible[T::kRowsPerCta];              // tokens each row sees (0: padding row)
  int max_visible;                       // over the tile's rows
};

}  // namespace snapmla::kernels::decode_tc

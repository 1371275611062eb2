// Shared memory of one decode CTA: a ring of kStages cache pages, the tile's query rows as
// floats, the block's scores and quantized probabilities, and the per-row softmax state.
#pragma once

#include <cstdint>

#include "kernels/sm90/decode_fp8/config.h"

namespace snapmla::kernels::decode {

template <class Format>
struct PageStage {
  // Content rows padded by kRowPadBytes so that 16-byte loads of 8 consecutive tokens hit 8
  // different bank groups (QK reads one token per thread).
  alignas(16) std::uint8_t content[kTokensPerBlock][Format::kContentRowBytes];
  alignas(16) std::uint8_t rope[kTokensPerBlock][kRopeRowBytes];  // bf16 k_rope (/ s[t] for FP8)
  alignas(16) float scale[kTokensPerBlock];                        // s[t] (FP8 only)
};

template <class Format>
struct SharedStorage {
  PageStage<Format> stage[kStages];
  alignas(16) float q[kRowsPerCta][kDimQK];            // query rows as the GEMMs see them
  alignas(16) float x[kRowsPerCta][kTokensPerBlock];   // scores (log2 units), then p
  alignas(16) float p[kTokensPerBlock][kRowsPerCta];   // PV operand: P8 (or bf16 P) as floats
  float row_factor[kRowsPerCta];                       // q_scale * scale_log2 (FP8), scale_log2 (BF16)
  float m[kRowsPerCta];                                // running max (log2 units)
  float l[kRowsPerCta];                                // running sum of unquantized p
  float alpha[kRowsPerCta];                            // this block's rescale of O
  float unmult[kRowsPerCta];                           // this block's P scale inverse
  int visible[kRowsPerCta];                            // tokens each row sees (0: invalid row)
  int max_visible;                                     // over the tile's rows
};

}  // namespace snapmla::kernels::decode

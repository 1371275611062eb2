// snapmla/cache.h - the paged KV cache formats and the MLA dimensions.
//
// One latent row per token and layer: [c_kv (512) | k_rope (64)], paged in 64-token pages that a
// block table maps to physical page ids. Two formats:
//
//   Bf16Cache   kv        [pages, 64, 576]  bfloat16        1152 bytes a token
//   Fp8Cache    kv_fp8    [pages, 64, 512]  float8 e4m3     c_kv / s[t], round-to-nearest-even, saturating
//               kv_scale  [pages, 64]       float32         s[t] = max(amax|c_kv[t]|, kAmaxFloor) / 448
//               kv_rope   [pages, 64, 64]   bfloat16        k_rope / s[t] ("scale-domain alignment")
//                                                            644 bytes a token
// Each plane must be contiguous (page stride = 64 * row size).
#pragma once

#include "snapmla/tensor.h"

namespace snapmla {

inline constexpr int kPageSize = 64;     // tokens per cache page
inline constexpr int kDimLatent = 512;   // c_kv, also d_v
inline constexpr int kDimRope = 64;      // k_rope / q_rope
inline constexpr int kDimQK = kDimLatent + kDimRope;  // 576
inline constexpr float kE4M3Max = 448.0f;
// Scale floor: an all-zero row gets s = kAmaxFloor / 448, so it stays zero and never divides by
// zero; k_rope / s stays finite for any |k_rope| < 1e30 * s.
inline constexpr float kAmaxFloor = 1e-6f;

inline constexpr int kBytesPerTokenBf16 = 2 * kDimQK;                       // 1152
inline constexpr int kBytesPerTokenFp8 = kDimLatent + 4 + 2 * kDimRope;     // 644

struct Bf16Cache {
  TensorView kv;  // [pages, 64, 576] bf16
};

struct Fp8Cache {
  TensorView kv_fp8;    // [pages, 64, 512] e4m3
  TensorView kv_scale;  // [pages, 64] f32
  TensorView kv_rope;   // [pages, 64, 64] bf16, already divided by kv_scale
};

}  // namespace snapmla

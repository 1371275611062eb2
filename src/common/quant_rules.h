// The quantization rules of the SnapMLA format, shared by the CPU reference and the kernels so
// both compute the same bits. docs/numerics.md explains each rule.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>

#include "common/codecs.h"
#include "common/host_device.h"
#include "snapmla/cache.h"

namespace snapmla {

// max(|a|, |b|) that keeps NaN: once a NaN is seen it wins, in any reduction order.
SNAPMLA_HD float nan_sticky_max(float a, float b) { return (a != a || a > b) ? a : b; }

// NaN for +-Inf and NaN, 0 for finite values: folds the RoPE part's finiteness into the amax
// reduction (RoPE values do not set the scale, but a non-finite one must poison the row).
SNAPMLA_HD float nonfinite_as_nan(float x) { return (x - x == 0.0f) ? 0.0f : bits_float(0x7fc00000u); }

// Per-row scale from the row's amax: nan_sticky_max over |content| (Inf included) and over
// nonfinite_as_nan(rope).
// Finite: s = max(amax, kAmaxFloor) / 448, an IEEE single division (the kernels use __fdiv_rn).
// NaN or Inf anywhere in the row: s = NaN, so every quantized value of the row becomes NaN and
// the attention output that uses it is NaN, never a plausible number.
SNAPMLA_HD float scale_from_amax(float amax) {
  if (!(amax <= 3.402823466e38f)) return bits_float(0x7fc00000u);
  return (amax > kAmaxFloor ? amax : kAmaxFloor) / kE4M3Max;
}

// The PV probability scale of one (row, 64-token block). P'[t] = p[t] * s[t] is multiplied by
// mult = 448 / max_t P'[t] before the e4m3 conversion, so the block's largest contribution lands
// on 448 exactly (no rounding on the token that dominates the row) and small kv scales cannot
// underflow P' (the scale follows the data, not a fixed bound). unmult = max / 448 undoes it on
// the PV GEMM result. Both are single IEEE divisions (the kernels use __fdiv_rn). A maximum
// below 2^-100 (or zero: every p underflowed) is treated as 2^-100, keeping both finite.
struct PvScale {
  float mult;    // applied to P' before e4m3 conversion
  float unmult;  // applied to the PV GEMM result
};

// The maximum the scale is taken from: p_scaled_max, raised to the floor (NaN stays NaN).
SNAPMLA_HD float pv_scale_max(float p_scaled_max) {
  const float kFloor = 7.888609052210118e-31f;  // 2^-100
  return p_scaled_max > kFloor ? p_scaled_max : (p_scaled_max != p_scaled_max ? p_scaled_max : kFloor);
}

SNAPMLA_HD PvScale pv_scale_from_max(float p_scaled_max) {
  const float m = pv_scale_max(p_scaled_max);
  return {kE4M3Max / m, m / kE4M3Max};
}

inline constexpr float kLog2e = 1.4426950408889634f;
inline constexpr float kLn2 = 0.6931471805599453f;

// The LSE an output row reports (natural log) from its log2 LSE; a row that saw nothing
// (log2 LSE -inf) reports +inf.
SNAPMLA_HD float reported_lse(float lse2) {
  const float inf = std::numeric_limits<float>::infinity();
  return lse2 == -inf ? inf : lse2 * kLn2;
}

// softmax_scale * log2(e), the factor that puts scores in log2 units; 0 means 1/sqrt(576).
inline float softmax_scale_log2(float softmax_scale) {
  const float scale = softmax_scale > 0.0f ? softmax_scale : 1.0f / std::sqrt(static_cast<float>(kDimQK));
  return scale * kLog2e;
}

}  // namespace snapmla

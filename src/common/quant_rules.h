// The quantization rules of the SnapMLA format, shared by the CPU reference and the kernels so
// both compute the same bits. docs/numerics.md explains each rule.
#pragma once

#include <cstdint>

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

// The PV probability scale of one (row, 64-token block). P'[t] = p[t] * s[t] is multiplied by a
// power of two chosen from the block's largest P' so that it lands in [128, 256): a multiply by
// a power of two is exact, so the only rounding is the e4m3 conversion itself, and small kv
// scales cannot underflow P' (the scale follows the data, not a fixed bound). The exponent is
// clamped so that both the multiplier and its inverse stay finite and normal.
struct PvScale {
  float mult;    // applied to P' before e4m3 conversion
  float unmult;  // 1 / mult, applied to the PV GEMM result
};

SNAPMLA_HD PvScale pv_scale_from_max(float p_scaled_max) {
  int k = static_cast<int>((float_bits(p_scaled_max) >> 23) & 0xffu) - 127;  // floor(log2) of normals
  int shift = 7 - k;  // p_max * 2^shift in [128, 256)
  if (shift > 100) shift = 100;
  if (shift < -100) shift = -100;
  return {bits_float(static_cast<std::uint32_t>(127 + shift) << 23),
          bits_float(static_cast<std::uint32_t>(127 - shift) << 23)};
}

inline constexpr float kLog2e = 1.4426950408889634f;
inline constexpr float kLn2 = 0.6931471805599453f;

}  // namespace snapmla

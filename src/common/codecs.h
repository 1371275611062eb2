// e4m3 and bf16 codecs, bit-identical to the CUDA conversions the kernels use:
//   float -> e4m3: cvt.rn.satfinite.e4m3x2.f32 (round to nearest even, |x| > 448 -> +-448,
//                  NaN -> 0x7F whatever its sign (as the hardware does), +-Inf -> +-448)
//   float -> bf16: cvt.rn.bf16.f32 (round to nearest even, subnormals kept, NaN -> 0x7FFF)
// Written with integer arithmetic on the float's bits so that it needs no FP environment and
// gives the same answer on any host. tests/cpu/test_codecs.cpp checks these against an
// independent nearest-value search; tests/gpu/test_codecs_gpu.cu against the hardware.
#pragma once

#include <cstdint>
#include <cstring>

#include "common/host_device.h"

namespace snapmla {

SNAPMLA_HD std::uint32_t float_bits(float x) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(x);
#else
  std::uint32_t u;
  std::memcpy(&u, &x, sizeof u);
  return u;
#endif
}

SNAPMLA_HD float bits_float(std::uint32_t u) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  float x;
  std::memcpy(&x, &u, sizeof x);
  return x;
#endif
}

// ---- bfloat16 --------------------------------------------------------------------------------

SNAPMLA_HD std::uint16_t bf16_from_float(float x) {
  const std::uint32_t u = float_bits(x);
  if ((u & 0x7fffffffu) > 0x7f800000u) return 0x7fff;  // NaN -> canonical NaN
  const std::uint32_t rounding_bias = 0x7fffu + ((u >> 16) & 1u);  // ties to even
  return static_cast<std::uint16_t>((u + rounding_bias) >> 16);
}

SNAPMLA_HD float bf16_to_float(std::uint16_t h) { return bits_float(std::uint32_t(h) << 16); }

SNAPMLA_HD float round_to_bf16(float x) { return bf16_to_float(bf16_from_float(x)); }

// ---- float8 e4m3 (fn: no infinities, 0x7F / 0xFF are NaN, max finite 448) -------------------

SNAPMLA_HD std::uint8_t e4m3_from_float(float x) {
  const std::uint32_t u = float_bits(x);
  const std::uint8_t sign = static_cast<std::uint8_t>((u >> 24) & 0x80u);
  const std::uint32_t mag = u & 0x7fffffffu;
  if (mag > 0x7f800000u) return 0x7f;            // NaN (the hardware drops its sign)
  if (mag >= 0x43e00000u) return sign | 0x7e;    // |x| >= 448 (and Inf): saturate to 448
  const int exp = static_cast<int>(mag >> 23) - 127;
  if (exp < -6) {
    // Subnormal range of e4m3: value = m * 2^-9, m in [0, 8]; m == 8 is the smallest normal,
    // whose encoding 0x08 follows on naturally. Round the 24-bit significand to m, ties to even.
    if (exp < -11) return sign;  // below half of 2^-9 (and exactly 2^-10 ties to 0)
    const std::uint32_t sig = (mag & 0x7fffffu) | 0x800000u;  // 1.f * 2^23
    const int shift = 23 - 9 - exp;                            // value * 2^9 = sig >> shift
    const std::uint32_t m = sig >> shift;
    const std::uint32_t rest = sig & ((1u << shift) - 1u);
    const std::uint32_t half = 1u << (shift - 1);
    const std::uint32_t up = (rest > half || (rest == half && (m & 1u))) ? 1u : 0u;
    return sign | static_cast<std::uint8_t>(m + up);
  }
  // Normal: keep 3 of the 23 mantissa bits, ties to even; a carry bumps the exponent.
  std::uint32_t e = static_cast<std::uint32_t>(exp + 7);
  std::uint32_t m = (mag >> 20) & 7u;
  const std::uint32_t rest = mag & 0xfffffu;
  if (rest > 0x80000u || (rest == 0x80000u && (m & 1u))) {
    if (++m == 8) { m = 0; ++e; }
  }
  if (e > 15 || (e == 15 && m == 7)) return sign | 0x7e;  // rounded past 448: saturate
  return sign | static_cast<std::uint8_t>((e << 3) | m);
}

SNAPMLA_HD float e4m3_to_float(std::uint8_t v) {
  const std::uint32_t sign = std::uint32_t(v & 0x80u) << 24;
  const std::uint32_t e = (v >> 3) & 15u;
  const std::uint32_t m = v & 7u;
  if (e == 15 && m == 7) return bits_float(sign | 0x7fc00000u);  // NaN
  if (e == 0) {
    // m * 2^-9, exact in float
    const float mag = static_cast<float>(m) * 0.001953125f;
    return sign ? -mag : mag;
  }
  return bits_float(sign | ((e + 120u) << 23) | (m << 20));
}

SNAPMLA_HD float round_to_e4m3(float x) { return e4m3_to_float(e4m3_from_float(x)); }

}  // namespace snapmla

// e4m3 and bf16 codecs against independent nearest-value searches.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "common/codecs.h"

namespace snapmla {
namespace {

float from_bits(std::uint32_t u) { float f; std::memcpy(&f, &u, 4); return f; }
std::uint32_t to_bits(float f) { std::uint32_t u; std::memcpy(&u, &f, 4); return u; }

// Value of a non-negative e4m3 code, from the format's definition.
double e4m3_value(int code) {
  const int e = (code >> 3) & 15, m = code & 7;
  return e == 0 ? m * std::ldexp(1.0, -9) : (1.0 + m / 8.0) * std::ldexp(1.0, e - 7);
}

// Independent encoder: search all finite codes for the nearest, ties to the even code.
std::uint8_t e4m3_nearest(float x) {
  const std::uint8_t sign = std::signbit(x) ? 0x80 : 0x00;
  if (std::isnan(x)) return 0x7f;  // the hardware's NaN code, sign dropped
  const double a = std::fabs(double(x));
  if (a >= 448.0) return sign | 0x7e;  // saturating (also Inf)
  int best = 0;
  double best_err = a;
  for (int c = 1; c <= 0x7e; ++c) {
    const double err = std::fabs(e4m3_value(c) - a);
    if (err < best_err || (err == best_err && (c & 1) == 0 && (best & 1) == 1)) {
      best = c;
      best_err = err;
    }
  }
  return sign | std::uint8_t(best);
}

// Independent bf16 encoder: compare the two neighbouring bf16 values, ties to even.
std::uint16_t bf16_nearest(float x) {
  if (std::isnan(x)) return 0x7fff;
  const std::uint32_t u = to_bits(x);
  const std::uint16_t lo = std::uint16_t(u >> 16);  // toward zero
  const std::uint16_t hi = std::uint16_t(lo + 1);   // away from zero
  auto value = [](std::uint16_t h) {
    if ((h & 0x7f80) == 0x7f80) return std::copysign(std::ldexp(1.0, 128), double(from_bits(std::uint32_t(h) << 16)));
    return double(from_bits(std::uint32_t(h) << 16));
  };
  if (std::isinf(x)) return lo;
  const double d_lo = std::fabs(double(x) - value(lo)), d_hi = std::fabs(value(hi) - double(x));
  if (d_lo < d_hi) return lo;
  if (d_hi < d_lo) return hi;
  return (lo & 1) ? hi : lo;
}

TEST(E4m3, EveryCodeRoundTrips) {
  for (int c = 0; c < 256; ++c) {
    const float v = e4m3_to_float(std::uint8_t(c));
    if ((c & 0x7f) == 0x7f) {
      EXPECT_TRUE(std::isnan(v)) << c;
      continue;
    }
    EXPECT_EQ(double(std::fabs(v)), e4m3_value(c & 0x7f)) << c;
    EXPECT_EQ(e4m3_from_float(v), (c == 0x80) ? 0x80 : c) << "code " << c;
  }
}

TEST(E4m3, BoundariesTiesAndSpecials) {
  EXPECT_EQ(e4m3_from_float(448.0f), 0x7e);
  EXPECT_EQ(e4m3_from_float(449.0f), 0x7e);
  EXPECT_EQ(e4m3_from_float(464.0f), 0x7e);
  EXPECT_EQ(e4m3_from_float(1e30f), 0x7e);
  EXPECT_EQ(e4m3_from_float(-1e30f), 0xfe);
  EXPECT_EQ(e4m3_from_float(std::numeric_limits<float>::infinity()), 0x7e);
  EXPECT_EQ(e4m3_from_float(-std::numeric_limits<float>::infinity()), 0xfe);
  EXPECT_EQ(e4m3_from_float(std::nanf("")), 0x7f);
  EXPECT_EQ(e4m3_from_float(-std::nanf("")), 0x7f);
  EXPECT_EQ(e4m3_from_float(0.0f), 0x00);
  EXPECT_EQ(e4m3_from_float(-0.0f), 0x80);
  // smallest subnormal 2^-9, half of it ties to zero (even), a bit more rounds up
  EXPECT_EQ(e4m3_from_float(std::ldexp(1.0f, -9)), 0x01);
  EXPECT_EQ(e4m3_from_float(std::ldexp(1.0f, -10)), 0x00);
  EXPECT_EQ(e4m3_from_float(std::nextafter(std::ldexp(1.0f, -10), 1.0f)), 0x01);
  EXPECT_EQ(e4m3_from_float(1.5f * std::ldexp(1.0f, -9)), 0x02);  // tie 1.5 -> 2 (even)
  EXPECT_EQ(e4m3_from_float(2.5f * std::ldexp(1.0f, -9)), 0x02);  // tie 2.5 -> 2 (even)
  EXPECT_EQ(e4m3_from_float(7.5f * std::ldexp(1.0f, -9)), 0x08);  // rounds into the smallest normal
  EXPECT_EQ(e4m3_from_float(1.0625f), 0x38);  // tie between 1.0 and 1.125 -> 1.0 (even)
  EXPECT_EQ(e4m3_from_float(1.1875f), 0x3a);  // tie between 1.125 and 1.25 -> 1.25 (even)
  EXPECT_EQ(e4m3_from_float(std::ldexp(1.0f, -130)), 0x00);  // float subnormal input
}

TEST(E4m3, DenseSweepMatchesNearestSearch) {
  // Every 997th float32 bit pattern (4.3 million values, both signs, all exponents), plus the
  // neighbours of every midpoint between adjacent codes.
  std::vector<float> inputs;
  for (std::uint64_t u = 0; u <= 0xffffffffull; u += 997) inputs.push_back(from_bits(std::uint32_t(u)));
  for (int c = 0; c < 0x7e; ++c) {
    const float mid = float((e4m3_value(c) + e4m3_value(c + 1)) / 2);
    for (float v : {mid, std::nextafter(mid, 0.0f), std::nextafter(mid, 1e9f)}) {
      inputs.push_back(v);
      inputs.push_back(-v);
    }
  }
  std::int64_t mismatches = 0;
  for (float x : inputs) {
    const double a = std::fabs(double(x));
    if (!std::isnan(x) && a > 1e-4 && a < 448.0) {
      if (e4m3_from_float(x) != e4m3_nearest(x) && ++mismatches < 10)
        ADD_FAILURE() << "x = " << x << ": got " << int(e4m3_from_float(x)) << ", nearest " << int(e4m3_nearest(x));
    } else {
      // outside the interesting range a cheap check is enough: zero, saturation or NaN
      if (e4m3_from_float(x) != e4m3_nearest(x) && ++mismatches < 10)
        ADD_FAILURE() << "x = " << x;
    }
  }
  EXPECT_EQ(mismatches, 0);
}

TEST(Bf16, DenseSweepMatchesNeighbourComparison) {
  std::int64_t mismatches = 0;
  for (std::uint64_t u = 0; u <= 0xffffffffull; u += 101) {
    const float x = from_bits(std::uint32_t(u));
    if (bf16_from_float(x) != bf16_nearest(x) && ++mismatches < 10)
      ADD_FAILURE() << "bits 0x" << std::hex << u << ": got " << bf16_from_float(x) << ", nearest " << bf16_nearest(x);
  }
  EXPECT_EQ(mismatches, 0);
}

TEST(Bf16, Specials) {
  EXPECT_EQ(bf16_from_float(std::nanf("")), 0x7fff);
  EXPECT_EQ(bf16_from_float(std::numeric_limits<float>::infinity()), 0x7f80);
  EXPECT_EQ(bf16_from_float(-std::numeric_limits<float>::infinity()), 0xff80);
  EXPECT_EQ(bf16_from_float(std::numeric_limits<float>::max()), 0x7f80);  // rounds up to Inf
  EXPECT_EQ(bf16_from_float(1.0f + std::ldexp(1.0f, -8)), 0x3f80);       // tie -> even
  EXPECT_EQ(bf16_from_float(1.0f + 3 * std::ldexp(1.0f, -8)), 0x3f82);   // tie -> even
  EXPECT_EQ(bf16_from_float(std::ldexp(1.0f, -140)), std::uint16_t(to_bits(std::ldexp(1.0f, -140)) >> 16));
  EXPECT_EQ(bf16_to_float(0x3f80), 1.0f);
}

}  // namespace
}  // namespace snapmla

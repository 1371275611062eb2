// The cache format's quantizers: error bounds, zero rows, huge values, NaN and Inf, and the
// public quantize_query / append_kv / fetch_dequant on CPU views.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "common/codecs.h"
#include "common/quant_rules.h"
#include "reference/reference.h"
#include "snapmla/error.h"
#include "snapmla/ops.h"
#include "synth/mla_data.h"

namespace snapmla {
namespace {

struct Quantized {
  std::uint8_t content[kDimLatent];
  std::uint16_t rope[kDimRope];
  float scale;
};

Quantized quantize(const std::vector<float>& row) {
  Quantized q;
  ref::quantize_row(row.data(), q.content, &q.scale, q.rope);
  return q;
}

std::vector<float> heavy_row(std::mt19937_64& rng, float magnitude) {
  std::normal_distribution<float> n(0.0f, 1.0f);
  std::student_t_distribution<float> t(3.0f);
  std::vector<float> row(kDimQK);
  for (int d = 0; d < kDimLatent; ++d) row[d] = round_to_bf16(magnitude * n(rng) * (d % 61 == 0 ? 8.0f : 1.0f));
  for (int j = 0; j < kDimRope; ++j) row[kDimLatent + j] = round_to_bf16(std::fmin(1000.0f, std::fmax(-1000.0f, 30.0f * t(rng))));
  return row;
}

TEST(QuantizeRow, RoundTripErrorWithinFormatBounds) {
  std::mt19937_64 rng(7);
  for (float magnitude : {1e-5f, 1e-2f, 1.0f, 10.0f, 3e3f}) {
    for (int rep = 0; rep < 50; ++rep) {
      const std::vector<float> row = heavy_row(rng, magnitude);
      const Quantized q = quantize(row);
      float amax = 0;
      for (int d = 0; d < kDimLatent; ++d) amax = std::fmax(amax, std::fabs(row[d]));
      ASSERT_EQ(q.scale, std::fmax(amax, kAmaxFloor) / 448.0f);
      for (int d = 0; d < kDimLatent; ++d) {
        const float back = e4m3_to_float(q.content[d]) * q.scale;
        // relative 2^-4 in the normal range, absolute half a subnormal step below it
        const float bound = std::fabs(row[d]) * 0.0625f + q.scale * std::ldexp(1.0f, -10);
        ASSERT_LE(std::fabs(back - row[d]), bound * 1.0001f) << "d=" << d << " magnitude=" << magnitude;
      }
      for (int j = 0; j < kDimRope; ++j) {
        const float back = bf16_to_float(q.rope[j]) * q.scale;
        ASSERT_LE(std::fabs(back - row[kDimLatent + j]), std::fabs(row[kDimLatent + j]) * 0.0079f + 1e-30f);
      }
      // the largest content value maps to exactly 448
      int hit = 0;
      for (int d = 0; d < kDimLatent; ++d) hit += (q.content[d] & 0x7f) == 0x7e;
      if (amax > kAmaxFloor) {
        ASSERT_GE(hit, 1);
      }
    }
  }
}

TEST(QuantizeRow, AllZeroRowStaysZero) {
  const Quantized q = quantize(std::vector<float>(kDimQK, 0.0f));
  EXPECT_EQ(q.scale, kAmaxFloor / 448.0f);
  EXPECT_TRUE(std::isfinite(q.scale));
  for (auto c : q.content) EXPECT_EQ(c & 0x7f, 0);
  for (auto r : q.rope) EXPECT_EQ(r & 0x7fff, 0);
}

TEST(QuantizeRow, ZeroContentWithRopeStaysFinite) {
  std::vector<float> row(kDimQK, 0.0f);
  for (int j = 0; j < kDimRope; ++j) row[kDimLatent + j] = 1000.0f;
  const Quantized q = quantize(row);
  for (auto r : q.rope) EXPECT_TRUE(std::isfinite(bf16_to_float(r)));
  EXPECT_NEAR(bf16_to_float(q.rope[0]) * q.scale, 1000.0f, 4.0f);
}

TEST(QuantizeRow, HugeValuesScaleWithoutOverflow) {
  std::vector<float> row(kDimQK, 1e30f);
  row[3] = -3e38f;
  const Quantized q = quantize(row);
  EXPECT_TRUE(std::isfinite(q.scale));
  EXPECT_EQ(q.content[3], 0xfe);  // -448
  for (int d = 0; d < kDimLatent; ++d) EXPECT_NE(q.content[d] & 0x7f, 0x7f);
}

TEST(QuantizeRow, NonFiniteInputPoisonsTheRow) {
  for (int where : {0, 511, 512, 575}) {
    for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                      -std::numeric_limits<float>::infinity()}) {
      std::vector<float> row(kDimQK, 1.0f);
      row[where] = bad;
      const Quantized q = quantize(row);
      EXPECT_TRUE(std::isnan(q.scale)) << where;
      for (auto c : q.content) EXPECT_EQ(c & 0x7f, 0x7f) << where;
      for (auto r : q.rope) EXPECT_TRUE(std::isnan(bf16_to_float(r))) << where;
    }
  }
}

TEST(PvScale, LargestContributionLandsOn448) {
  for (float m : {1e-25f, 1e-9f, 0.003f, 1.0f, 1.7f, 300.0f, 1e20f}) {
    const PvScale s = pv_scale_from_max(m);
    EXPECT_EQ(e4m3_from_float(m * s.mult), 0x7e) << m;  // exactly 448 after rounding
    EXPECT_NEAR(s.mult * s.unmult, 1.0f, 1e-6f);
  }
  for (float m : {0.0f, 1e-38f, 1e-44f}) {  // below the floor: finite, no NaN
    const PvScale s = pv_scale_from_max(m);
    EXPECT_TRUE(std::isfinite(s.mult) && std::isfinite(s.unmult)) << m;
  }
  EXPECT_TRUE(std::isnan(pv_scale_from_max(NAN).mult));
}

TEST(PublicOps, QuantizeQueryAppendFetchOnCpu) {
  synth::ProblemOptions opt;
  opt.batch = 2;
  opt.s_q = 2;
  opt.h_q = 3;
  opt.length = 100;
  opt.seed = 11;
  const ref::HostProblem pb = synth::make_problem(opt);
  synth::HostTensors t(pb);

  synth::HostFp8Query q(pb.batch, pb.s_q, pb.h_q);
  quantize_query(t.q_view(), q.view());
  for (int r = 0; r < pb.batch * pb.s_q * pb.h_q; ++r) {
    std::vector<float> row(kDimQK);
    for (int d = 0; d < kDimQK; ++d) row[d] = bf16_to_float(t.q[r * kDimQK + d]);
    const Quantized expect = quantize(row);
    ASSERT_EQ(q.q_scale[r], expect.scale);
    for (int d = 0; d < kDimLatent; ++d) ASSERT_EQ(q.q_nope[r * kDimLatent + d], expect.content[d]);
    for (int j = 0; j < kDimRope; ++j) ASSERT_EQ(q.q_rope[r * kDimRope + j], expect.rope[j]);
  }

  synth::HostFp8Cache cache(pb.num_pages);
  append_kv(t.new_kv_view(), t.slots_view(), cache.view());
  std::vector<std::uint16_t> back(t.slots.size() * kDimQK);
  fetch_dequant(cache.view(), t.slots_view(),
                TensorView::contiguous(back.data(), DType::kBFloat16, {std::int64_t(t.slots.size()), kDimQK}));
  for (std::size_t n = 0; n < t.slots.size(); ++n) {
    const int slot = t.slots[n];
    const float s = cache.kv_scale[slot];
    for (int d = 0; d < kDimQK; ++d) {
      const float orig = bf16_to_float(t.new_kv[n * kDimQK + d]);
      const float got = bf16_to_float(back[n * kDimQK + d]);
      const float tol = d < kDimLatent ? std::fabs(orig) * 0.07f + s * 0.002f : std::fabs(orig) * 0.016f + 1e-6f;
      ASSERT_LE(std::fabs(got - orig), tol) << "row " << n << " dim " << d;
    }
  }
}

}  // namespace
}  // namespace snapmla

// The synthetic MLA data generator (src/synth/mla_data.h): determinism, value ranges, page
// layout, poisoning, and the properties the accuracy ablation relies on (heavy-tailed RoPE, a
// RoPE score term comparable to the content term, attention sinks).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <set>

#include "common/codecs.h"
#include "snapmla/error.h"
#include "synth/mla_data.h"

namespace snapmla::synth {
namespace {

ProblemOptions small(Distribution dist = Distribution::kRealistic) {
  ProblemOptions o;
  o.batch = 3;
  o.s_q = 2;
  o.h_q = 8;
  o.lengths = {4096, 0, 700};
  o.dist = dist;
  o.seed = 7;
  o.threads = 2;
  return o;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (float_bits(a[i]) != float_bits(b[i])) return false;
  return true;
}

const float* token_row(const ref::HostProblem& p, int r, int t) {
  const int page = p.block_table[std::size_t(r) * p.max_pages + t / kPageSize];
  return p.cache.data() + (std::size_t(page) * kPageSize + t % kPageSize) * kDimQK;
}

TEST(Synth, DeterministicAndThreadIndependent) {
  ProblemOptions o = small();
  const auto a = make_problem(o);
  o.threads = 1;
  const auto b = make_problem(o);
  EXPECT_TRUE(same_bits(a.q, b.q));
  EXPECT_TRUE(same_bits(a.cache, b.cache));
  EXPECT_EQ(a.block_table, b.block_table);
  o.seed = 8;
  const auto c = make_problem(o);
  EXPECT_FALSE(same_bits(a.cache, c.cache));
  EXPECT_FALSE(same_bits(a.q, c.q));
}

TEST(Synth, ShapesAndDefaults) {
  const auto p = make_problem(small());
  EXPECT_EQ(p.batch, 3);
  EXPECT_EQ(p.s_q, 2);
  EXPECT_EQ(p.h_q, 8);
  EXPECT_EQ(p.lengths, (std::vector<std::int32_t>{4096, 0, 700}));
  EXPECT_FLOAT_EQ(p.softmax_scale, 1.0f / std::sqrt(576.0f));
  EXPECT_EQ(p.max_pages, 64);
  EXPECT_EQ(p.q.size(), std::size_t(3) * 2 * 8 * kDimQK);
  EXPECT_EQ(p.cache.size(), std::size_t(p.num_pages) * kPageSize * kDimQK);
  ProblemOptions o = small();
  o.softmax_scale = 0.25f;
  EXPECT_EQ(make_problem(o).softmax_scale, 0.25f);
}

TEST(Synth, ValuesAreBf16) {
  for (auto dist : {Distribution::kRealistic, Distribution::kGaussian, Distribution::kUniform}) {
    const auto p = make_problem(small(dist));
    for (float v : p.q) ASSERT_EQ(float_bits(round_to_bf16(v)), float_bits(v));
    for (float v : p.cache) ASSERT_EQ(float_bits(round_to_bf16(v)), float_bits(v));
  }
}

TEST(Synth, PageLayoutIsAPermutationWithUnusedPages) {
  const auto p = make_problem(small());
  const int used = 64 + 0 + 11;
  EXPECT_GT(p.num_pages, used);
  std::set<int> seen;
  for (int r = 0; r < p.batch; ++r) {
    const int nb = (p.lengths[r] + kPageSize - 1) / kPageSize;
    for (int blk = 0; blk < p.max_pages; ++blk) {
      const int page = p.block_table[std::size_t(r) * p.max_pages + blk];
      ASSERT_GE(page, 0);
      ASSERT_LT(page, p.num_pages);
      if (blk < nb) {
        EXPECT_TRUE(seen.insert(page).second) << "page used twice";
      }
    }
  }
  EXPECT_EQ(static_cast<int>(seen.size()), used);
  // Not the identity mapping.
  bool permuted = false;
  for (int blk = 0; blk < 64; ++blk) permuted |= p.block_table[blk] != blk;
  EXPECT_TRUE(permuted);
  ProblemOptions o = small();
  o.extra_pages = 0;
  EXPECT_EQ(make_problem(o).num_pages, used);
}

TEST(Synth, PoisonedTailsAndUnusedPages) {
  ProblemOptions o = small();
  o.poison_unused = true;
  const auto p = make_problem(o);
  std::vector<char> used(p.num_pages, 0);
  for (int r = 0; r < p.batch; ++r) {
    for (int t = 0; t < p.lengths[r]; ++t) {
      const float* row = token_row(p, r, t);
      for (int d = 0; d < kDimQK; ++d) ASSERT_TRUE(std::isfinite(row[d]));
    }
    const int nb = (p.lengths[r] + kPageSize - 1) / kPageSize;
    for (int blk = 0; blk < nb; ++blk) used[p.block_table[std::size_t(r) * p.max_pages + blk]] = 1;
    for (int t = p.lengths[r]; t < nb * kPageSize; ++t) EXPECT_TRUE(std::isnan(token_row(p, r, t)[0]));
  }
  for (int page = 0; page < p.num_pages; ++page)
    if (!used[page]) {
      EXPECT_TRUE(std::isnan(p.cache[std::size_t(page) * kPageSize * kDimQK + 5]));
    }
  // Without poisoning they are zeros.
  const auto z = make_problem(small());
  EXPECT_EQ(token_row(z, 2, 700)[0], 0.0f);
}

TEST(Synth, RealisticRanges) {
  ProblemOptions o = small();
  o.lengths = {8192, 8192, 700};
  const auto p = make_problem(o);
  double content_max = 0, rope_max = 0;
  std::int64_t content_n = 0, content_over10 = 0;
  double low_pair = 0, high_pair = 0;
  std::vector<double> token_amax;
  for (int r = 0; r < p.batch; ++r)
    for (int t = 0; t < p.lengths[r]; ++t) {
      const float* row = token_row(p, r, t);
      double amax = 0;
      for (int d = 0; d < kDimLatent; ++d) {
        amax = std::max(amax, double(std::fabs(row[d])));
        ++content_n;
        content_over10 += std::fabs(row[d]) > 10.0f;
      }
      token_amax.push_back(amax);
      content_max = std::max(content_max, amax);
      for (int d = kDimLatent; d < kDimQK; ++d) rope_max = std::max(rope_max, double(std::fabs(row[d])));
      low_pair += std::fabs(row[kDimLatent]) + std::fabs(row[kDimLatent + 1]);
      high_pair += std::fabs(row[kDimQK - 2]) + std::fabs(row[kDimQK - 1]);
    }
  EXPECT_LE(content_max, kContentClip);
  EXPECT_LT(double(content_over10) / content_n, 1e-3);  // "roughly within +-10"
  EXPECT_LE(rope_max, kRopeClip);
  EXPECT_GT(rope_max, 300.0);            // heavy tails
  EXPECT_GT(high_pair, 20.0 * low_pair); // magnitudes grow across channel pairs
  // Per-token magnitude spread: the 95th percentile amax is well above the 5th.
  std::sort(token_amax.begin(), token_amax.end());
  EXPECT_GT(token_amax[token_amax.size() * 95 / 100], 2.0 * token_amax[token_amax.size() * 5 / 100]);
}

// Scores of one query row against the tokens of request r (scaled by softmax_scale).
void scores(const ref::HostProblem& p, int r, int row_in_request, std::vector<double>& content,
            std::vector<double>& rope) {
  const float* q = p.q.data() + (std::size_t(r) * p.s_q * p.h_q + row_in_request) * kDimQK;
  content.assign(p.lengths[r], 0.0);
  rope.assign(p.lengths[r], 0.0);
  for (int t = 0; t < p.lengths[r]; ++t) {
    const float* k = token_row(p, r, t);
    double c = 0, e = 0;
    for (int d = 0; d < kDimLatent; ++d) c += double(q[d]) * k[d];
    for (int d = kDimLatent; d < kDimQK; ++d) e += double(q[d]) * k[d];
    content[t] = c * p.softmax_scale;
    rope[t] = e * p.softmax_scale;
  }
}

double stddev(const std::vector<double>& v) {
  double m = 0, s = 0;
  for (double x : v) m += x;
  m /= v.size();
  for (double x : v) s += (x - m) * (x - m);
  return std::sqrt(s / v.size());
}

TEST(Synth, RopeTermComparableAndSinksAttract) {
  ProblemOptions o = small();
  o.s_q = 1;
  o.lengths = {8192, 64, 1};
  const auto p = make_problem(o);
  double sink_mass = 0, top_mass = 0;
  for (int h = 0; h < p.h_q; ++h) {
    std::vector<double> c, e;
    scores(p, 0, h, c, e);
    const double ratio = stddev(e) / stddev(c);
    EXPECT_GT(ratio, 0.2) << "head " << h;
    EXPECT_LT(ratio, 5.0) << "head " << h;
    // Softmax over the request.
    std::vector<double> s(c.size());
    double m = -1e300;
    for (std::size_t t = 0; t < s.size(); ++t) m = std::max(m, s[t] = c[t] + e[t]);
    double z = 0;
    for (double& x : s) z += (x = std::exp(x - m));
    for (double& x : s) x /= z;
    sink_mass += s[0];
    std::sort(s.begin(), s.end(), std::greater<>());
    top_mass += s[0] + s[1] + s[2] + s[3] + s[4] + s[5] + s[6] + s[7];
  }
  // Token 0 and the few random sinks attract most of the attention: on average token 0 alone
  // takes over 10 % (1000x the uniform share of 1/8192), the 8 most attended tokens over 30 %.
  EXPECT_GT(sink_mass / p.h_q, 0.1);
  EXPECT_GT(top_mass / p.h_q, 0.3);
}

TEST(Synth, SimpleDistributions) {
  const auto u = make_problem(small(Distribution::kUniform));
  for (float v : u.cache) ASSERT_LE(std::fabs(v), 1.0f);
  for (float v : u.q) ASSERT_LE(std::fabs(v), 1.0f);
  const auto g = make_problem(small(Distribution::kGaussian));
  double s2 = 0;
  std::int64_t n = 0;
  for (int t = 0; t < 4096; ++t) {
    const float* row = token_row(g, 0, t);
    for (int d = 0; d < kDimQK; ++d, ++n) s2 += double(row[d]) * row[d];
  }
  EXPECT_NEAR(s2 / n, 1.0, 0.02);
}

TEST(Synth, Validation) {
  ProblemOptions o = small();
  o.lengths = {1, 2};
  EXPECT_THROW(make_problem(o), Error);
  o = small();
  o.lengths = {1, -2, 3};
  EXPECT_THROW(make_problem(o), Error);
  o = small();
  o.h_q = 0;
  EXPECT_THROW(make_problem(o), Error);
  o = small();
  o.batch = 0;
  EXPECT_THROW(make_problem(o), Error);
  o = small();
  o.softmax_scale = -1.0f;
  EXPECT_THROW(make_problem(o), Error);
  EXPECT_THROW(parse_distribution("cauchy"), Error);
  EXPECT_EQ(parse_distribution("gaussian"), Distribution::kGaussian);
  EXPECT_STREQ(to_string(Distribution::kRealistic), "realistic");
}

TEST(Synth, HostTensorsMatchTheProblem) {
  const auto p = make_problem(small());
  HostTensors ht(p);
  EXPECT_EQ(ht.slots.size(), std::size_t(4096 + 700));
  EXPECT_EQ(ht.new_kv.size(), ht.slots.size() * kDimQK);
  // Row i of new_kv is the cache row at slot i.
  for (std::size_t i = 0; i < ht.slots.size(); i += 97)
    for (int d = 0; d < kDimQK; ++d)
      ASSERT_EQ(bf16_to_float(ht.new_kv[i * kDimQK + d]),
                p.cache[std::size_t(ht.slots[i]) * kDimQK + d]);
  EXPECT_EQ(ht.q_view().shape_string(), "[3, 2, 8, 576]");
  EXPECT_EQ(ht.bf16_cache_view().size(0), p.num_pages);
}

}  // namespace
}  // namespace snapmla::synth

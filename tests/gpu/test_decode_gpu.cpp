// decode_fp8 and decode_bf16 on the GPU against the CPU emulation (same public API on CPU views,
// same schedule) and, loosely, against the float64 truth, over the coverage grid:
//   h_q in {1, 3, 16, 32, 63, 64, 128} x s_q in {1, 2, 4} x causal off/on (short mixed lengths)
//   lengths {0, 1, 63, 64, 65, 4096, 32768} and one > 100K (small b and h_q, split-KV + combine)
//   b in {1, 7, 64, 128} with mixed lengths including zeros (short, to bound the CPU cost)
// Realistic synthetic data (src/synth), block tables as random permutations with unused pages,
// NaN in unused pages, page tails and every cache slot not appended, garbage block-table
// entries past each request's pages, outputs poisoned with NaN before the run.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "common/cpu_decode.h"
#include "common/tolerances.h"
#include "gpu/gpu_decode.h"
#include "reference/reference.h"

namespace snapmla {
namespace {

using testing::Path;

using Case = testing::DecodeCase;
using testing::path_name;

void run_case(const Case& c, std::uint64_t seed) {
  const ref::HostProblem problem = testing::make_problem(c, seed);
  const int hint = c.tell_max_pages ? problem.max_pages : 0;
  const int parts = c.parts > 0 ? c.parts
                    : hint > 0  ? default_num_sm_parts(Device::cuda(0), c.s_q, c.h_q, c.batch, hint)
                                : default_num_sm_parts(Device::cuda(0), c.s_q, c.h_q);
  if (hint > 0 && c.parts == 0) {
    EXPECT_NE(parts, default_num_sm_parts(Device::cuda(0), c.s_q, c.h_q, c.batch))
        << "the case should be one that the block table's width plans differently";
  }
  ref::HostResult truth;
  if (c.truth) truth = ref::attention_truth(problem);
  for (Path path : {Path::kFp8, Path::kBf16}) {
    SCOPED_TRACE(c.name + " " + path_name(path));
    const testing::CpuDecodeResult cpu = testing::cpu_decode(problem, path, parts);
    testing::GpuDecode gpu_run(problem, parts, hint);
    gpu_run.step(path);
    const testing::CpuDecodeResult gpu = gpu_run.result();
    const testing::Agreement a = testing::agreement(gpu, cpu);
    std::printf("%-34s %-4s parts %3d | vs emulation: rel_l2 %.2e max_abs %.2e lse %.2e identical %6.2f%%",
                c.name.c_str(), path_name(path).c_str(), parts, a.rel_l2, a.max_abs, a.lse_max_abs,
                100.0 * a.identical);
    EXPECT_EQ(a.mismatched_specials, 0) << "NaN/Inf (or unwritten outputs) where the emulation has none";
    EXPECT_LE(a.rel_l2, testing::api_out_bound(path));
    EXPECT_LE(a.lse_max_abs, testing::api_lse_bound(path));
    if (c.truth) {
      const ref::ErrorMetrics g = ref::compare(gpu.host(), truth);
      const ref::ErrorMetrics e = ref::compare(cpu.host(), truth);
      std::printf(" | vs truth: gpu %.2e emu %.2e lse gpu %.2e emu %.2e", g.rel_l2, e.rel_l2, g.lse_max_abs,
                  e.lse_max_abs);
      EXPECT_EQ(g.non_finite, 0);
      EXPECT_LE(g.rel_l2, path == Path::kFp8 ? testing::kFp8VsTruthRelL2 : testing::kBf16VsTruthRelL2);
      EXPECT_LE(g.rel_l2, e.rel_l2 + testing::kGpuVsTruthSlack);
      EXPECT_LE(g.lse_max_abs, e.lse_max_abs + std::max(testing::kGpuVsTruthSlack, testing::api_lse_bound(path)));
      if (path == Path::kBf16) {
        EXPECT_LE(g.lse_max_abs, testing::kBf16VsTruthLseAbs);
      }
    }
    std::printf("\n");
  }
}

std::vector<Case> head_grid() {
  std::vector<Case> cases;
  for (int h : {1, 3, 16, 32, 63, 64, 128})
    for (int s_q : {1, 2, 4})
      for (bool causal : {false, true}) {
        if (s_q == 1 && causal) continue;  // identical to non-causal
        std::string name = "h";  // appended: "h" + std::to_string(h) trips GCC 12's -Wrestrict
        name += std::to_string(h);
        name += " sq";
        name += std::to_string(s_q);
        if (causal) name += " causal";
        cases.push_back({name, 3, s_q, h, {0, 70, 200}, causal, 0});
      }
  return cases;
}

class DecodeGrid : public ::testing::TestWithParam<Case> {};

TEST_P(DecodeGrid, MatchesEmulationAndTruth) { run_case(GetParam(), 1234); }

INSTANTIATE_TEST_SUITE_P(Heads, DecodeGrid, ::testing::ValuesIn(head_grid()),
                         [](const auto& info) { return "case" + std::to_string(info.index); });

INSTANTIATE_TEST_SUITE_P(
    Lengths, DecodeGrid,
    ::testing::Values(
        Case{"lengths 0..32768 sq1", 7, 1, 16, {0, 1, 63, 64, 65, 4096, 32768}, false, 0},
        Case{"lengths 0..32768 sq2 causal", 7, 2, 16, {0, 1, 63, 64, 65, 4096, 32768}, true, 0},
        Case{"lengths tiny causal sq4 h3", 5, 4, 3, {0, 1, 2, 3, 5}, true, 0},
        Case{"length 131137 sq2 causal h16", 1, 2, 16, {131137}, true, 0},
        Case{"length 131137 sq1 h3 4 parts", 1, 1, 3, {131137}, false, 4},
        Case{"lengths 4096 h128 132 parts", 2, 1, 128, {4096, 4097}, false, 132}),
    [](const auto& info) { return "case" + std::to_string(info.index); });

// A few long requests, the block table's width told to the planner: the parts and the route of
// the narrow kernel's row groups (decode_narrow/config.h, long_table_row_groups) at 32, 64 and
// 128 rows. Sized to qualify on 114-SM cards too.
INSTANTIATE_TEST_SUITE_P(
    LongTables, DecodeGrid,
    ::testing::Values(Case{"b1 h128 4100 row-group parts", 1, 1, 128, {4100}, false, 0, true, true},
                      Case{"b2 h64 row-group parts", 2, 1, 64, {2500, 4000}, false, 0, true, true},
                      Case{"b3 h32 row-group parts", 3, 1, 32, {0, 5000, 12000}, false, 0, true, true},
                      Case{"b2 sq2 h64 causal row-group parts", 2, 2, 64, {2100, 2500}, true, 0, true, true}),
    [](const auto& info) { return "case" + std::to_string(info.index); });

std::vector<int> mixed_lengths(int b, int max_len) {
  std::vector<int> v(b);
  for (int r = 0; r < b; ++r) v[r] = (r % 5 == 0) ? 0 : (r * 7919) % (max_len + 1);
  return v;
}

INSTANTIATE_TEST_SUITE_P(
    Batches, DecodeGrid,
    ::testing::Values(Case{"b1 h128 sq1", 1, 1, 128, {1000}, false, 0},
                      Case{"b7 h64 sq2 causal", 7, 2, 64, mixed_lengths(7, 700), true, 0},
                      Case{"b64 h16 sq4 causal", 64, 4, 16, mixed_lengths(64, 300), true, 0},
                      Case{"b128 h128 sq1", 128, 1, 128, mixed_lengths(128, 200), false, 0},
                      Case{"b128 h16 sq2 causal 7 parts", 128, 2, 16, mixed_lengths(128, 300), true, 7}),
    [](const auto& info) { return "case" + std::to_string(info.index); });

// A NaN token makes exactly the rows that see it NaN (causal: only later query tokens see the
// last token), and nothing else.
TEST(DecodeGpu, NanTokenReachesOnlyRowsThatSeeIt) {
  const Case c{"nan token", 2, 4, 16, {130, 64}, true, 0};
  ref::HostProblem problem = testing::make_problem(c, 99);
  // Last token of request 0: seen by query token 3 only.
  const int last = c.lengths[0] - 1;
  const int page = problem.block_table[0 * problem.max_pages + last / kPageSize];
  problem.cache[(std::size_t(page) * kPageSize + last % kPageSize) * kDimQK + 5] = std::nanf("");
  const int parts = default_num_sm_parts(Device::cuda(0), c.s_q, c.h_q);
  for (Path path : {Path::kFp8, Path::kBf16}) {
    const auto cpu = testing::cpu_decode(problem, path, parts);
    testing::GpuDecode run(problem, parts);
    run.step(path);
    const auto gpu = run.result();
    const auto a = testing::agreement(gpu, cpu);
    EXPECT_EQ(a.mismatched_specials, 0) << path_name(path);
    EXPECT_LE(a.rel_l2, testing::api_out_bound(path));
    for (int i = 0; i < c.s_q; ++i)
      for (int h = 0; h < c.h_q; ++h) {
        const float lse = gpu.lse[(0 * c.h_q + h) * c.s_q + i];
        EXPECT_EQ(std::isnan(lse), i == 3) << path_name(path) << " i " << i << " h " << h;
      }
  }
}

}  // namespace
}  // namespace snapmla

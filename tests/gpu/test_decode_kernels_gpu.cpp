// The fast decode kernels, launched directly on the parameters the API fills
// (api/kernel_params.h): the mma.sync tensor-core kernel (src/kernels/sm90/decode_tc, FP8 and
// BF16) and the wgmma FP8 kernel (src/kernels/sm90/decode_wgmma), each against the CPU emulation (the public API on CPU views,
// same schedule), the SIMT kernel of the same path on the same inputs, and, loosely, the
// float64 truth. Coverage: h_q in {3, 16, 32, 64, 128}, s_q 1, 2 (causal) and 4, lengths {0, 1,
// 63, 64, 65, 4096} and mixed lengths with zeros, single-split and split-KV schedules, NaN in
// unused pages, page tails and unwritten cache slots, garbage block-table entries past each
// request's pages, outputs and partial buffers poisoned with NaN before the run. Plus: a NaN
// token reaches only the rows that see it; the shapes the kernel does not serve are refused.
// Speed is measured by `snapmla bench` (SNAPMLA_DECODE_KERNEL selects the kernel family).
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "api/kernel_params.h"
#include "common/cpu_decode.h"
#include "common/tolerances.h"
#include "gpu/gpu_decode.h"
#include "kernels/launch.h"
#include "kernels/sm90/decode_tc/kernel.h"
#include "kernels/sm90/decode_wgmma/kernel.h"
#include "reference/reference.h"

namespace snapmla {
namespace {

using testing::Path;
using testing::path_name;
using Case = testing::DecodeCase;

// The DecodeParams the API builds for this problem and path (GpuDecode::step ran the API).
kernels::DecodeParams kernel_params(const testing::GpuDecode& g, Path path) {
  kernels::DecodeParams p = api::decode_params(g.args(), g.shape, g.options());
  if (path == Path::kFp8) {
    api::set_fp8_inputs(p, g.fp8_query(), g.fp8_cache());
  } else {
    api::set_bf16_inputs(p, g.q_view(), g.bf16_cache());
  }
  return p;
}

// The kernel under test: mma.sync tensor cores (FP8 and BF16) or wgmma (FP8).
enum class Kernel { kTc, kWgmma };
std::string kernel_name(Kernel k) { return k == Kernel::kTc ? "tc" : "wgmma"; }

bool kernel_supports(const kernels::DecodeParams& p, Path path, Kernel k = Kernel::kTc) {
  if (k == Kernel::kWgmma) return path == Path::kFp8 && kernels::decode_fp8_wgmma_supports(p);
  return path == Path::kFp8 ? kernels::decode_fp8_tc_supports(p) : kernels::decode_bf16_tc_supports(p);
}
// Launches the kernel under test; returns what it leaves to the combine as launch_combine's
// merged_up_to (the wgmma kernels may merge some split requests themselves), or 0 where it
// refused the call.
int launch_kernel(const kernels::DecodeParams& p, Path path, Kernel k = Kernel::kTc) {
  if (k == Kernel::kWgmma) return path == Path::kFp8 ? kernels::launch_decode_fp8_wgmma(p, nullptr) : 0;
  const bool launched = path == Path::kFp8 ? kernels::launch_decode_fp8_tc(p, nullptr) : kernels::launch_decode_bf16_tc(p, nullptr);
  return launched ? 1 : 0;  // the mma.sync kernels merge no split request themselves
}
// The bounds against the emulation of the kernel under test (tests/common/tolerances.h).
double out_bound(Kernel k) { return k == Kernel::kWgmma ? testing::kWgmmaVsEmulationRelL2 : testing::kGpuVsEmulationRelL2; }
double lse_bound(Kernel k) { return k == Kernel::kWgmma ? testing::kWgmmaVsEmulationLseAbs : testing::kGpuVsEmulationLseAbs; }
// A wgmma route forced, then the combine for the split requests it left (its return value,
// merged_up_to). Returns that value: 0 where the route refused the call (nothing launched).
int launch_wgmma_route_and_combine(const kernels::DecodeParams& p, kernels::WgmmaRoute route) {
  const int merged_up_to = kernels::launch_decode_fp8_wgmma(p, nullptr, route);
  if (merged_up_to > 0) kernels::launch_combine(p, nullptr, merged_up_to);
  return merged_up_to;
}
void launch_simt(const kernels::DecodeParams& p, Path path) {
  if (path == Path::kFp8) {
    kernels::launch_decode_fp8_simt(p, nullptr);
  } else {
    kernels::launch_decode_bf16_simt(p, nullptr);
  }
}

// NaN in the outputs and in the partial buffers of the workspace (every value the split kernel
// and combine must write).
void poison_outputs(testing::GpuDecode& g) {
  g.out.poison_nan();
  g.lse.poison_nan();
  g.poison_partials();
}

// Prepares the inputs through the public API (quantize_query, append_kv, plan, decode), then
// runs the SIMT kernel and the kernel under test (+ combine each) on the same inputs and
// workspace. Returns {kernel under test, simt}.
std::pair<testing::CpuDecodeResult, testing::CpuDecodeResult> run_kernel_and_simt(testing::GpuDecode& g, Path path,
                                                                              Kernel k = Kernel::kTc) {
  g.step(path);
  poison_outputs(g);
  const kernels::DecodeParams p = kernel_params(g, path);
  launch_simt(p, path);
  kernels::launch_combine(p, nullptr);
  const testing::CpuDecodeResult simt = g.result();
  poison_outputs(g);
  EXPECT_TRUE(kernel_supports(p, path, k));
  const int merged_up_to = launch_kernel(p, path, k);
  EXPECT_GT(merged_up_to, 0);
  if (merged_up_to > 0) kernels::launch_combine(p, nullptr, merged_up_to);
  return {g.result(), simt};
}

void run_case(const Case& c, Path path, std::uint64_t seed, Kernel k = Kernel::kTc) {
  SCOPED_TRACE(c.name + " " + path_name(path) + " " + kernel_name(k));
  const ref::HostProblem problem = testing::make_problem(c, seed);
  const int parts = c.parts > 0 ? c.parts : default_num_sm_parts(Device::cuda(0), c.s_q, c.h_q);
  if (k == Kernel::kTc && c.causal && c.s_q > 1 && c.h_q % 16 != 0) {
    GTEST_SKIP() << "the mma.sync kernel does not serve mixed visibility in a 16-row tile (see RefusesMixedVisibilityTilesAndMisalignment)";
  }
  const testing::CpuDecodeResult cpu = testing::cpu_decode(problem, path, parts);
  testing::GpuDecode g(problem, parts);
  const auto [tc, simt] = run_kernel_and_simt(g, path, k);
  const testing::Agreement a = testing::agreement(tc, cpu);
  const testing::Agreement s = testing::agreement(simt, cpu);
  const testing::Agreement ts = testing::agreement(tc, simt);
  std::printf("%-5s %-4s %-30s parts %3d | TC vs emulation: rel_l2 %.2e max_abs %.2e lse %.2e identical %6.2f%% | "
              "SIMT vs emulation: rel_l2 %.2e lse %.2e | TC vs SIMT: rel_l2 %.2e lse %.2e",
              kernel_name(k).c_str(), path_name(path).c_str(), c.name.c_str(), parts, a.rel_l2, a.max_abs, a.lse_max_abs,
              100.0 * a.identical, s.rel_l2, s.lse_max_abs, ts.rel_l2, ts.lse_max_abs);
  EXPECT_EQ(a.mismatched_specials, 0) << "NaN/Inf (or unwritten outputs) where the emulation has none";
  EXPECT_LE(a.rel_l2, out_bound(k));
  EXPECT_LE(a.lse_max_abs, lse_bound(k));
  EXPECT_EQ(ts.mismatched_specials, 0);
  EXPECT_LE(ts.rel_l2, out_bound(k));
  EXPECT_LE(ts.lse_max_abs, lse_bound(k));
  if (c.truth) {
    const ref::HostResult truth = ref::attention_truth(problem);
    const ref::ErrorMetrics gt = ref::compare(tc.host(), truth);
    const ref::ErrorMetrics et = ref::compare(cpu.host(), truth);
    std::printf(" | vs truth: TC %.2e emu %.2e lse %.2e", gt.rel_l2, et.rel_l2, gt.lse_max_abs);
    EXPECT_EQ(gt.non_finite, 0);
    EXPECT_LE(gt.rel_l2, path == Path::kFp8 ? testing::kFp8VsTruthRelL2 : testing::kBf16VsTruthRelL2);
    EXPECT_LE(gt.rel_l2, et.rel_l2 + testing::kGpuVsTruthSlack);
    if (path == Path::kBf16) {
      EXPECT_LE(gt.lse_max_abs, testing::kBf16VsTruthLseAbs);
    }
  }
  std::printf("\n");
}

std::vector<int> mixed_lengths(int b, int max_len) {
  std::vector<int> v(b);
  for (int r = 0; r < b; ++r) v[r] = (r % 5 == 0) ? 0 : (r * 7919) % (max_len + 1);
  return v;
}

std::vector<Case> grid() {
  std::vector<Case> cases;
  const std::vector<int> edge = {0, 1, 63, 64, 65, 4096};
  for (int h : {16, 32, 64, 128}) {
    std::string hs = "h";  // appended: "h" + std::to_string(h) trips GCC 12's -Wrestrict
    hs += std::to_string(h);
    cases.push_back({hs + " sq1 edge lengths", 6, 1, h, edge, false, 0});
    cases.push_back({hs + " sq2 causal edge lengths", 6, 2, h, edge, true, 0});
    cases.push_back({hs + " sq1 edge 1 part", 6, 1, h, edge, false, 1});
    cases.push_back({hs + " sq2 causal mixed 5 parts", 16, 2, h, mixed_lengths(16, 700), true, 5});
  }
  cases.push_back({"h3 sq1 mixed (padding rows)", 9, 1, 3, mixed_lengths(9, 300), false, 0});
  cases.push_back({"h3 sq4 non-causal", 3, 4, 3, {0, 70, 200}, false, 0});
  cases.push_back({"h3 sq2 causal (mixed visibility)", 4, 2, 3, {0, 1, 64, 130}, true, 0});
  cases.push_back({"h20 sq4 causal 3 parts", 4, 4, 20, {65, 129, 300, 2}, true, 3});
  cases.push_back({"h16 sq4 causal tiny", 5, 4, 16, {0, 1, 2, 3, 5}, true, 0});
  cases.push_back({"h64 sq4 causal", 3, 4, 64, {0, 70, 200}, true, 0});
  cases.push_back({"b128 h16 sq1 mixed", 128, 1, 16, mixed_lengths(128, 300), false, 0});
  cases.push_back({"b1 h16 length 33000", 1, 1, 16, {33000}, false, 0, false});
  return cases;
}

class DecodeTcGrid : public ::testing::TestWithParam<Case> {};

TEST_P(DecodeTcGrid, Fp8MatchesEmulationSimtAndTruth) { run_case(GetParam(), Path::kFp8, 4321); }
TEST_P(DecodeTcGrid, Bf16MatchesEmulationSimtAndTruth) { run_case(GetParam(), Path::kBf16, 4321); }
TEST_P(DecodeTcGrid, WgmmaFp8MatchesEmulationSimtAndTruth) { run_case(GetParam(), Path::kFp8, 4321, Kernel::kWgmma); }

// Every kernel launch_decode_fp8_wgmma can route to, forced on the same inputs (the automatic
// route picks by row count and call size, so a grid case alone would test one of them): the
// 16-row narrow kernel in row groups (the small calls' route at any row count), the 32-row one
// (up to 32 rows; refused above), and the 64-row kernel with its in-kernel merges, each with
// the combine for what the launch says it left (its merged_up_to).
TEST_P(DecodeTcGrid, WgmmaFp8EveryRouteMatchesEmulation) {
  const Case& c = GetParam();
  SCOPED_TRACE(c.name);
  const ref::HostProblem problem = testing::make_problem(c, 8765);
  const int parts = c.parts > 0 ? c.parts : default_num_sm_parts(Device::cuda(0), c.s_q, c.h_q);
  const testing::CpuDecodeResult cpu = testing::cpu_decode(problem, Path::kFp8, parts);
  testing::GpuDecode g(problem, parts);
  g.step(Path::kFp8);
  const kernels::DecodeParams p = kernel_params(g, Path::kFp8);
  using kernels::WgmmaRoute;
  for (const auto& [route, name] : {std::pair{WgmmaRoute::kNarrow16, "narrow16"}, std::pair{WgmmaRoute::kNarrow32, "narrow32"},
                                    std::pair{WgmmaRoute::kTiles64, "tiles64"}}) {
    SCOPED_TRACE(name);
    poison_outputs(g);
    if (route == WgmmaRoute::kNarrow32 && c.s_q * c.h_q > 32) {
      EXPECT_EQ(launch_wgmma_route_and_combine(p, route), 0);
      continue;
    }
    ASSERT_GT(launch_wgmma_route_and_combine(p, route), 0);
    const testing::Agreement a = testing::agreement(g.result(), cpu);
    std::printf("route %-8s %-30s parts %3d | vs emulation: rel_l2 %.2e max_abs %.2e lse %.2e\n", name, c.name.c_str(),
                parts, a.rel_l2, a.max_abs, a.lse_max_abs);
    EXPECT_EQ(a.mismatched_specials, 0) << "NaN/Inf (or unwritten outputs) where the emulation has none";
    EXPECT_LE(a.rel_l2, testing::kWgmmaVsEmulationRelL2);
    EXPECT_LE(a.lse_max_abs, testing::kWgmmaVsEmulationLseAbs);
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, DecodeTcGrid, ::testing::ValuesIn(grid()),
                         [](const auto& info) { return "case" + std::to_string(info.index); });

// A NaN token makes exactly the rows that see it NaN (causal: only the last query token sees the
// last token), and nothing else.
TEST(DecodeTcGpu, NanTokenReachesOnlyRowsThatSeeIt) {
  // s_q 4 x 16 heads: a full 64-row tile; s_q 2 x 16 heads: the narrow kernel (32 rows) on wgmma.
  for (const int s_q : {4, 2}) {
    const Case c{"nan token", 2, s_q, 16, {130, 64}, true, 0};
    ref::HostProblem problem = testing::make_problem(c, 99);
    const int last = c.lengths[0] - 1;
    const int page = problem.block_table[0 * problem.max_pages + last / kPageSize];
    problem.cache[(std::size_t(page) * kPageSize + last % kPageSize) * kDimQK + 5] = std::nanf("");
    const int parts = default_num_sm_parts(Device::cuda(0), c.s_q, c.h_q);
    for (const auto& [path, k] : {std::pair{Path::kFp8, Kernel::kTc}, std::pair{Path::kBf16, Kernel::kTc},
                                  std::pair{Path::kFp8, Kernel::kWgmma}}) {
      const std::string what = path_name(path) + " " + kernel_name(k) + " s_q " + std::to_string(s_q);
      const auto cpu = testing::cpu_decode(problem, path, parts);
      testing::GpuDecode g(problem, parts);
      const auto [tc, simt] = run_kernel_and_simt(g, path, k);
      const auto a = testing::agreement(tc, cpu);
      EXPECT_EQ(a.mismatched_specials, 0) << what;
      EXPECT_LE(a.rel_l2, out_bound(k)) << what;
      for (int i = 0; i < c.s_q; ++i)
        for (int h = 0; h < c.h_q; ++h) {
          const float lse = tc.lse[(0 * c.h_q + h) * c.s_q + i];
          EXPECT_EQ(std::isnan(lse), i == s_q - 1) << what << " i " << i << " h " << h;
        }
    }
  }
}

// Causal s_q > 1 with h_q not a multiple of 16 mixes visibilities inside one MMA row tile;
// misaligned query or cache rows cannot take the 16-byte loads.
TEST(DecodeTcGpu, RefusesMixedVisibilityTilesAndMisalignment) {
  const Case c{"refused", 2, 2, 3, {70, 10}, true, 0};
  testing::GpuDecode g(testing::make_problem(c, 5), 4);
  for (Path path : {Path::kFp8, Path::kBf16}) {
    SCOPED_TRACE(path_name(path));
    kernels::DecodeParams p = kernel_params(g, path);
    EXPECT_FALSE(kernel_supports(p, path));
    EXPECT_EQ(launch_kernel(p, path), 0);
    p.causal = false;
    EXPECT_TRUE(kernel_supports(p, path));
    p.causal = true;
    p.h_q = 16;
    EXPECT_TRUE(kernel_supports(p, path));
    p = kernel_params(g, path);
    p.causal = false;
    if (path == Path::kFp8) {
      p.q_nope_stride[2] = kDimLatent + 1;  // rows not 16-byte aligned
    } else {
      p.q_bf16_stride[2] = kDimQK + 1;
    }
    EXPECT_FALSE(kernel_supports(p, path));
    p = kernel_params(g, path);
    p.causal = false;
    if (path == Path::kFp8) {
      p.fp8_cache.kv_rope = g.kv_rope.get() + 1;
    } else {
      p.kv_bf16 = g.kv_bf16.get() + 1;
    }
    EXPECT_FALSE(kernel_supports(p, path));
  }
}

// The wgmma kernel serves mixed visibility (its V^T is masked per tile, P8 per row), but not
// misaligned query, cache or output rows, nor the BF16 path.
TEST(DecodeWgmmaGpu, ServesMixedVisibilityRefusesMisalignment) {
  const Case c{"mixed", 2, 2, 3, {70, 10}, true, 0};
  testing::GpuDecode g(testing::make_problem(c, 5), 4);
  kernels::DecodeParams p = kernel_params(g, Path::kFp8);
  EXPECT_TRUE(kernel_supports(p, Path::kFp8, Kernel::kWgmma));
  p.q_nope_stride[2] = kDimLatent + 1;
  EXPECT_FALSE(kernel_supports(p, Path::kFp8, Kernel::kWgmma));
  p = kernel_params(g, Path::kFp8);
  p.fp8_cache.kv_rope = g.kv_rope.get() + 1;
  EXPECT_FALSE(kernel_supports(p, Path::kFp8, Kernel::kWgmma));
  p = kernel_params(g, Path::kFp8);
  p.out_stride[2] = kDimLatent + 1;
  EXPECT_FALSE(kernel_supports(p, Path::kFp8, Kernel::kWgmma));
  EXPECT_EQ(launch_kernel(p, Path::kFp8, Kernel::kWgmma), 0);
  EXPECT_FALSE(kernel_supports(kernel_params(g, Path::kBf16), Path::kBf16, Kernel::kWgmma));
}

// Two-level accumulation: the wgmma kernels' error against the float64 truth must not grow with
// the context faster than the emulation's. At 8K, 32K and 128K tokens (one request, split over
// the device's parts), each kernel forced on its rows: the 16-row narrow kernel (16 heads), the
// 32-row one (32 heads) and the 64-row kernel (64 heads; on its own, a b = 1 call would take the
// narrow kernel in row groups). Each stays within the slack of the emulation's error.
TEST(DecodeWgmmaGpu, ErrorAgainstTruthTracksEmulationOverContext) {
  using kernels::WgmmaRoute;
  struct Route {
    int h_q;
    WgmmaRoute route;
    const char* name;
  };
  for (const Route r : {Route{16, WgmmaRoute::kNarrow16, "narrow16"}, Route{32, WgmmaRoute::kNarrow32, "narrow32"},
                        Route{64, WgmmaRoute::kTiles64, "tiles64"}}) {
    for (int length : {8192, 32768, 131072}) {
      const Case c{"context " + std::to_string(length), 1, 1, r.h_q, {length}, false, 0};
      SCOPED_TRACE(c.name + " " + r.name);
      const ref::HostProblem problem = testing::make_problem(c, 2024);
      const int parts = default_num_sm_parts(Device::cuda(0), c.s_q, c.h_q);
      const testing::CpuDecodeResult cpu = testing::cpu_decode(problem, Path::kFp8, parts);
      testing::GpuDecode g(problem, parts);
      g.step(Path::kFp8);
      poison_outputs(g);
      const kernels::DecodeParams p = kernel_params(g, Path::kFp8);
      ASSERT_GT(launch_wgmma_route_and_combine(p, r.route), 0);
      const testing::CpuDecodeResult gpu = g.result();
      const ref::HostResult truth = ref::attention_truth(problem);
      const ref::ErrorMetrics gt = ref::compare(gpu.host(), truth);
      const ref::ErrorMetrics et = ref::compare(cpu.host(), truth);
      const testing::Agreement a = testing::agreement(gpu, cpu);
      std::printf("wgmma %-8s %-14s vs truth: rel_l2 gpu %.4e emu %.4e | lse gpu %.4e emu %.4e | vs emulation: "
                  "rel_l2 %.2e lse %.2e\n",
                  r.name, c.name.c_str(), gt.rel_l2, et.rel_l2, gt.lse_max_abs, et.lse_max_abs, a.rel_l2, a.lse_max_abs);
      EXPECT_EQ(gt.non_finite, 0);
      EXPECT_EQ(a.mismatched_specials, 0);
      EXPECT_LE(std::abs(gt.rel_l2 - et.rel_l2), testing::kGpuVsTruthSlack);
      EXPECT_LE(gt.lse_max_abs, et.lse_max_abs + testing::kWgmmaVsEmulationLseAbs);
      EXPECT_LE(a.rel_l2, testing::kWgmmaVsEmulationRelL2);
      EXPECT_LE(a.lse_max_abs, testing::kWgmmaVsEmulationLseAbs);
    }
  }
}

}  // namespace
}  // namespace snapmla

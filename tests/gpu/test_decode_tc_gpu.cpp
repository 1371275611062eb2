// The tensor-core FP8 decode kernel (src/kernels/sm90/decode_tc) called directly through
// kernels::launch_decode_fp8_tc, against the CPU emulation (the public API on CPU views, same
// schedule), the SIMT kernel (launch_decode_fp8_simt) and, loosely, the
// float64 truth. Coverage: h_q in {3, 16, 32, 64, 128}, s_q 1 and 2 causal, lengths {0, 1, 63,
// 64, 65, 4096} and mixed lengths with zeros, single-split and split-KV schedules, NaN in unused
// pages, page tails and unwritten cache slots, garbage block-table entries past each request's
// pages, outputs and partial buffers poisoned with NaN before the run. Plus: a NaN token reaches
// only the rows that see it; the shapes the kernel does not serve are refused.
// The BF16 instantiation of the same kernel (kernels::launch_decode_bf16_tc, FlashMLA's
// arithmetic) gets the same coverage against the BF16 emulation, the BF16 SIMT kernel
// (launch_decode_bf16_simt) and the truth (DecodeBf16TcGrid, DecodeBf16TcGpu).
// With SNAPMLA_TC_TIMING=1 it also times the TC kernel against the SIMT kernel.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "common/cpu_decode.h"
#include "common/tolerances.h"
#include "gpu/gpu_decode.h"
#include "kernels/launch.h"
#include "kernels/sm90/decode_tc/kernel.h"
#include "reference/reference.h"
#include "sched/schedule.h"

namespace snapmla {
namespace {

using testing::Path;

struct Case {
  std::string name;
  int batch, s_q, h_q;
  std::vector<int> lengths;
  bool causal;
  int parts;  // 0: the device default
  bool truth = true;
};

ref::HostProblem make(const Case& c, std::uint64_t seed) {
  synth::ProblemOptions o;
  o.batch = c.batch;
  o.s_q = c.s_q;
  o.h_q = c.h_q;
  o.lengths = c.lengths;
  o.causal = c.causal;
  o.seed = seed;
  o.poison_unused = true;
  return synth::make_problem(o);
}

template <typename T>
void copy_strides3(const TensorView& v, T (&dst)[3]) {
  for (int k = 0; k < 3; ++k) dst[k] = v.stride[k];
}

// DecodeParams of a GpuDecode's FP8 problem (what src/api/ops.cpp fills for decode_fp8).
kernels::DecodeParams fp8_params(const testing::GpuDecode& g) {
  const ref::HostProblem& pr = g.problem;
  kernels::DecodeParams p{};
  p.batch = pr.batch;
  p.s_q = pr.s_q;
  p.h_q = pr.h_q;
  p.causal = pr.causal;
  const float scale = pr.softmax_scale > 0.0f ? pr.softmax_scale : 1.0f / std::sqrt(float(kDimQK));
  p.scale_log2 = scale * 1.4426950408889634f;
  const Fp8Query q = g.fp8_query();
  p.q_nope = q.q_nope.ptr<const std::uint8_t>();
  copy_strides3(q.q_nope, p.q_nope_stride);
  p.q_scale = q.q_scale.ptr<const float>();
  copy_strides3(q.q_scale, p.q_scale_stride);
  p.q_rope = q.q_rope.ptr<const std::uint16_t>();
  copy_strides3(q.q_rope, p.q_rope_stride);
  p.fp8_cache = {pr.num_pages, g.kv_fp8.get(), g.kv_scale.get(), g.kv_rope.get()};
  const DecodeArgs args = g.args();
  p.block_table = args.block_table.ptr<const std::int32_t>();
  p.block_table_stride = args.block_table.stride[0];
  p.max_pages = static_cast<int>(args.block_table.shape[1]);
  p.lengths = args.lengths.ptr<const std::int32_t>();
  p.out = args.out.ptr<std::uint16_t>();
  copy_strides3(args.out, p.out_stride);
  p.lse = args.lse.ptr<float>();
  copy_strides3(args.lse, p.lse_stride);
  const auto layout = sched::workspace_layout(pr.batch, pr.s_q, pr.h_q, g.shape.num_sm_parts);
  auto* base = static_cast<char*>(args.workspace.data);
  p.num_parts = g.shape.num_sm_parts;
  p.parts = base + layout.parts_offset;
  p.split_begin = reinterpret_cast<const std::int32_t*>(base + layout.split_begin_offset);
  p.partial_lse = reinterpret_cast<float*>(base + layout.partial_lse_offset);
  p.partial_o = reinterpret_cast<float*>(base + layout.partial_o_offset);
  return p;
}

// NaN in the outputs and in the partial buffers of the workspace (every value the TC kernel
// and combine must write).
void poison_outputs(testing::GpuDecode& g) {
  g.out.poison_nan();
  g.lse.poison_nan();
  const auto layout = sched::workspace_layout(g.problem.batch, g.problem.s_q, g.problem.h_q, g.shape.num_sm_parts);
  SNAPMLA_CUDA_OK(cudaMemset(g.workspace.get() + layout.partial_lse_offset, 0xff,
                             layout.total_bytes - layout.partial_lse_offset));
}

// Prepares the inputs through the public API (quantize_query, append_kv, plan, decode_fp8), then
// runs the SIMT kernel and the TC kernel (+ combine each) on the same inputs and workspace.
// Returns {tc, simt}.
std::pair<testing::CpuDecodeResult, testing::CpuDecodeResult> run_tc_and_simt(testing::GpuDecode& g) {
  g.step(Path::kFp8);
  poison_outputs(g);
  const kernels::DecodeParams p = fp8_params(g);
  kernels::launch_decode_fp8_simt(p, nullptr);
  kernels::launch_combine(p, nullptr);
  const testing::CpuDecodeResult simt = g.result();
  poison_outputs(g);
  EXPECT_TRUE(kernels::decode_fp8_tc_supports(p));
  EXPECT_TRUE(kernels::launch_decode_fp8_tc(p, nullptr));
  kernels::launch_combine(p, nullptr);
  return {g.result(), simt};
}

// DecodeParams of a GpuDecode's BF16 problem (what src/api/ops.cpp fills for decode_bf16; the FP8
// fields stay filled and unused).
kernels::DecodeParams bf16_params(const testing::GpuDecode& g) {
  kernels::DecodeParams p = fp8_params(g);
  const TensorView q = g.q_view();
  p.q_bf16 = q.ptr<const std::uint16_t>();
  copy_strides3(q, p.q_bf16_stride);
  p.kv_bf16 = g.kv_bf16.get();
  p.num_pages_bf16 = g.problem.num_pages;
  return p;
}

// The BF16 twin of run_tc_and_simt: plan + decode_bf16 through the public API, then the BF16
// SIMT kernel and the BF16 TC kernel (+ combine each) on the same inputs. Returns {tc, simt}.
std::pair<testing::CpuDecodeResult, testing::CpuDecodeResult> run_bf16_tc_and_simt(testing::GpuDecode& g) {
  g.step(Path::kBf16);
  poison_outputs(g);
  const kernels::DecodeParams p = bf16_params(g);
  kernels::launch_decode_bf16_simt(p, nullptr);
  kernels::launch_combine(p, nullptr);
  const testing::CpuDecodeResult simt = g.result();
  poison_outputs(g);
  EXPECT_TRUE(kernels::decode_bf16_tc_supports(p));
  EXPECT_TRUE(kernels::launch_decode_bf16_tc(p, nullptr));
  kernels::launch_combine(p, nullptr);
  return {g.result(), simt};
}

void run_bf16_case(const Case& c, std::uint64_t seed) {
  SCOPED_TRACE(c.name);
  const ref::HostProblem problem = make(c, seed);
  const int parts = c.parts > 0 ? c.parts : default_num_sm_parts(Device::cuda(0), c.s_q, c.h_q);
  const testing::CpuDecodeResult cpu = testing::cpu_decode(problem, Path::kBf16, parts);
  testing::GpuDecode g(problem, parts);
  const auto [tc, simt] = run_bf16_tc_and_simt(g);
  const testing::Agreement a = testing::agreement(tc, cpu);
  const testing::Agreement s = testing::agreement(simt, cpu);
  const testing::Agreement ts = testing::agreement(tc, simt);
  std::printf("BF16 %-30s parts %3d | TC vs emulation: rel_l2 %.2e max_abs %.2e lse %.2e identical %6.2f%% | "
              "SIMT vs emulation: rel_l2 %.2e lse %.2e | TC vs SIMT: rel_l2 %.2e lse %.2e",
              c.name.c_str(), parts, a.rel_l2, a.max_abs, a.lse_max_abs, 100.0 * a.identical, s.rel_l2,
              s.lse_max_abs, ts.rel_l2, ts.lse_max_abs);
  EXPECT_EQ(a.mismatched_specials, 0) << "NaN/Inf (or unwritten outputs) where the emulation has none";
  EXPECT_LE(a.rel_l2, testing::kGpuVsEmulationRelL2);
  EXPECT_LE(a.lse_max_abs, testing::kGpuVsEmulationLseAbs);
  EXPECT_EQ(ts.mismatched_specials, 0);
  EXPECT_LE(ts.rel_l2, testing::kGpuVsEmulationRelL2);
  EXPECT_LE(ts.lse_max_abs, testing::kGpuVsEmulationLseAbs);
  if (c.truth) {
    const ref::HostResult truth = ref::attention_truth(problem);
    const ref::ErrorMetrics gt = ref::compare(tc.host(), truth);
    const ref::ErrorMetrics et = ref::compare(cpu.host(), truth);
    std::printf(" | vs truth: TC %.2e emu %.2e lse %.2e", gt.rel_l2, et.rel_l2, gt.lse_max_abs);
    EXPECT_EQ(gt.non_finite, 0);
    EXPECT_LE(gt.rel_l2, testing::kBf16VsTruthRelL2);
    EXPECT_LE(gt.lse_max_abs, testing::kBf16VsTruthLseAbs);
    EXPECT_LE(gt.rel_l2, et.rel_l2 + testing::kGpuVsTruthSlack);
  }
  std::printf("\n");
}

void run_case(const Case& c, std::uint64_t seed) {
  SCOPED_TRACE(c.name);
  const ref::HostProblem problem = make(c, seed);
  const int parts = c.parts > 0 ? c.parts : default_num_sm_parts(Device::cuda(0), c.s_q, c.h_q);
  const testing::CpuDecodeResult cpu = testing::cpu_decode(problem, Path::kFp8, parts);
  testing::GpuDecode g(problem, parts);
  const auto [tc, simt] = run_tc_and_simt(g);
  const testing::Agreement a = testing::agreement(tc, cpu);
  const testing::Agreement s = testing::agreement(simt, cpu);
  std::printf("%-30s parts %3d | TC vs emulation: rel_l2 %.2e max_abs %.2e lse %.2e identical %6.2f%% | "
              "SIMT vs emulation: rel_l2 %.2e lse %.2e",
              c.name.c_str(), parts, a.rel_l2, a.max_abs, a.lse_max_abs, 100.0 * a.identical, s.rel_l2,
              s.lse_max_abs);
  EXPECT_EQ(a.mismatched_specials, 0) << "NaN/Inf (or unwritten outputs) where the emulation has none";
  EXPECT_LE(a.rel_l2, testing::kGpuVsEmulationRelL2);
  EXPECT_LE(a.lse_max_abs, testing::kGpuVsEmulationLseAbs);
  if (c.truth) {
    const ref::HostResult truth = ref::attention_truth(problem);
    const ref::ErrorMetrics gt = ref::compare(tc.host(), truth);
    const ref::ErrorMetrics et = ref::compare(cpu.host(), truth);
    std::printf(" | vs truth: TC %.2e emu %.2e lse %.2e", gt.rel_l2, et.rel_l2, gt.lse_max_abs);
    EXPECT_EQ(gt.non_finite, 0);
    EXPECT_LE(gt.rel_l2, testing::kFp8VsTruthRelL2);
    EXPECT_LE(gt.rel_l2, et.rel_l2 + testing::kGpuVsTruthSlack);
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
    const std::string hs = "h" + std::to_string(h);
    cases.push_back({hs + " sq1 edge lengths", 6, 1, h, edge, false, 0});
    cases.push_back({hs + " sq2 causal edge lengths", 6, 2, h, edge, true, 0});
    cases.push_back({hs + " sq1 edge 1 part", 6, 1, h, edge, false, 1});
    cases.push_back({hs + " sq2 causal mixed 5 parts", 16, 2, h, mixed_lengths(16, 700), true, 5});
  }
  cases.push_back({"h3 sq1 mixed (padding rows)", 9, 1, 3, mixed_lengths(9, 300), false, 0});
  cases.push_back({"h3 sq4 non-causal", 3, 4, 3, {0, 70, 200}, false, 0});
  cases.push_back({"h16 sq4 causal tiny", 5, 4, 16, {0, 1, 2, 3, 5}, true, 0});
  cases.push_back({"h64 sq4 causal", 3, 4, 64, {0, 70, 200}, true, 0});
  cases.push_back({"b128 h16 sq1 mixed", 128, 1, 16, mixed_lengths(128, 300), false, 0});
  cases.push_back({"b1 h16 length 33000", 1, 1, 16, {33000}, false, 0, false});
  return cases;
}

class DecodeTcGrid : public ::testing::TestWithParam<Case> {};

TEST_P(DecodeTcGrid, MatchesEmulationAndTruth) { run_case(GetParam(), 4321); }

INSTANTIATE_TEST_SUITE_P(Shapes, DecodeTcGrid, ::testing::ValuesIn(grid()),
                         [](const auto& info) { return "case" + std::to_string(info.index); });

class DecodeBf16TcGrid : public ::testing::TestWithParam<Case> {};

TEST_P(DecodeBf16TcGrid, MatchesEmulationSimtAndTruth) { run_bf16_case(GetParam(), 4321); }

INSTANTIATE_TEST_SUITE_P(Shapes, DecodeBf16TcGrid, ::testing::ValuesIn(grid()),
                         [](const auto& info) { return "case" + std::to_string(info.index); });

TEST(DecodeBf16TcGpu, NanTokenReachesOnlyRowsThatSeeIt) {
  const Case c{"nan token", 2, 4, 16, {130, 64}, true, 0};
  ref::HostProblem problem = make(c, 99);
  const int last = c.lengths[0] - 1;
  const int page = problem.block_table[0 * problem.max_pages + last / kPageSize];
  problem.cache[(std::size_t(page) * kPageSize + last % kPageSize) * kDimQK + 5] = std::nanf("");
  const int parts = default_num_sm_parts(Device::cuda(0), c.s_q, c.h_q);
  const auto cpu = testing::cpu_decode(problem, Path::kBf16, parts);
  testing::GpuDecode g(problem, parts);
  const auto [tc, simt] = run_bf16_tc_and_simt(g);
  const auto a = testing::agreement(tc, cpu);
  EXPECT_EQ(a.mismatched_specials, 0);
  EXPECT_LE(a.rel_l2, testing::kGpuVsEmulationRelL2);
  for (int i = 0; i < c.s_q; ++i)
    for (int h = 0; h < c.h_q; ++h) {
      const float lse = tc.lse[(0 * c.h_q + h) * c.s_q + i];
      EXPECT_EQ(std::isnan(lse), i == 3) << "i " << i << " h " << h;
    }
}

TEST(DecodeBf16TcGpu, RefusesMixedVisibilityTilesAndMisalignment) {
  const Case c{"refused", 2, 2, 3, {70, 10}, true, 0};
  testing::GpuDecode g(make(c, 5), 4);
  kernels::DecodeParams p = bf16_params(g);
  EXPECT_FALSE(kernels::decode_bf16_tc_supports(p));
  EXPECT_FALSE(kernels::launch_decode_bf16_tc(p, nullptr));
  p.causal = false;
  EXPECT_TRUE(kernels::decode_bf16_tc_supports(p));
  p.q_bf16_stride[2] = kDimQK + 1;  // rows not 16-byte aligned
  EXPECT_FALSE(kernels::decode_bf16_tc_supports(p));
  p.q_bf16_stride[2] = kDimQK;
  p.kv_bf16 = g.kv_bf16.get() + 1;
  EXPECT_FALSE(kernels::decode_bf16_tc_supports(p));
}

// A NaN token makes exactly the rows that see it NaN (causal: only the last query token sees the
// last token), and nothing else.
TEST(DecodeTcGpu, NanTokenReachesOnlyRowsThatSeeIt) {
  const Case c{"nan token", 2, 4, 16, {130, 64}, true, 0};
  ref::HostProblem problem = make(c, 99);
  const int last = c.lengths[0] - 1;
  const int page = problem.block_table[0 * problem.max_pages + last / kPageSize];
  problem.cache[(std::size_t(page) * kPageSize + last % kPageSize) * kDimQK + 5] = std::nanf("");
  const int parts = default_num_sm_parts(Device::cuda(0), c.s_q, c.h_q);
  const auto cpu = testing::cpu_decode(problem, Path::kFp8, parts);
  testing::GpuDecode g(problem, parts);
  const auto [tc, simt] = run_tc_and_simt(g);
  const auto a = testing::agreement(tc, cpu);
  EXPECT_EQ(a.mismatched_specials, 0);
  EXPECT_LE(a.rel_l2, testing::kGpuVsEmulationRelL2);
  for (int i = 0; i < c.s_q; ++i)
    for (int h = 0; h < c.h_q; ++h) {
      const float lse = tc.lse[(0 * c.h_q + h) * c.s_q + i];
      EXPECT_EQ(std::isnan(lse), i == 3) << "i " << i << " h " << h;
    }
}

// Causal s_q > 1 with h_q not a multiple of 16 mixes visibilities inside one MMA row tile.
TEST(DecodeTcGpu, RefusesMixedVisibilityTiles) {
  const Case c{"refused", 2, 2, 3, {70, 10}, true, 0};
  testing::GpuDecode g(make(c, 5), 4);
  kernels::DecodeParams p = fp8_params(g);
  EXPECT_FALSE(kernels::decode_fp8_tc_supports(p));
  EXPECT_FALSE(kernels::launch_decode_fp8_tc(p, nullptr));
  p.causal = false;
  EXPECT_TRUE(kernels::decode_fp8_tc_supports(p));
  p.causal = true;
  p.h_q = 16;
  EXPECT_TRUE(kernels::decode_fp8_tc_supports(p));
}

// ---- timing (SNAPMLA_TC_TIMING=1) ---------------------------------------------------------------

template <typename F>
double median_us(F&& launch, int reps) {
  cudaEvent_t e0, e1;
  SNAPMLA_CUDA_OK(cudaEventCreate(&e0));
  SNAPMLA_CUDA_OK(cudaEventCreate(&e1));
  for (int k = 0; k < 3; ++k) launch();  // warm up
  std::vector<double> t;
  for (int k = 0; k < reps; ++k) {
    SNAPMLA_CUDA_OK(cudaEventRecord(e0));
    launch();
    SNAPMLA_CUDA_OK(cudaEventRecord(e1));
    SNAPMLA_CUDA_OK(cudaEventSynchronize(e1));
    float ms = 0;
    SNAPMLA_CUDA_OK(cudaEventElapsedTime(&ms, e0, e1));
    t.push_back(ms * 1e3);
  }
  cudaEventDestroy(e0);
  cudaEventDestroy(e1);
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

void time_shape(int b, int h_q, int s_k) {
  const int s_q = 1, pages_per_req = sched::blocks_of(s_k), num_pages = b * pages_per_req;
  const std::size_t rows = std::size_t(b) * s_q * h_q, tokens = std::size_t(num_pages) * kPageSize;
  testing::DeviceBuffer<std::uint8_t> q_nope(rows * kDimLatent), kv_fp8(tokens * kDimLatent);
  testing::DeviceBuffer<float> q_scale(rows), kv_scale(tokens), lse(rows);
  testing::DeviceBuffer<std::uint16_t> q_rope(rows * kDimRope), kv_rope(tokens * kDimRope), out(rows * kDimLatent);
  // Finite constants: e4m3 0x38 = 1.0, float/bf16 bytes 0x3c = ~0.0115.
  SNAPMLA_CUDA_OK(cudaMemset(q_nope.get(), 0x38, q_nope.bytes()));
  SNAPMLA_CUDA_OK(cudaMemset(kv_fp8.get(), 0x38, kv_fp8.bytes()));
  SNAPMLA_CUDA_OK(cudaMemset(q_scale.get(), 0x3c, q_scale.bytes()));
  SNAPMLA_CUDA_OK(cudaMemset(kv_scale.get(), 0x3c, kv_scale.bytes()));
  SNAPMLA_CUDA_OK(cudaMemset(q_rope.get(), 0x3c, q_rope.bytes()));
  SNAPMLA_CUDA_OK(cudaMemset(kv_rope.get(), 0x3c, kv_rope.bytes()));
  std::vector<std::int32_t> table(num_pages), lengths(b, s_k);
  for (int k = 0; k < num_pages; ++k) table[k] = k;
  testing::DeviceBuffer<std::int32_t> d_table(table), d_lengths(lengths);
  const int parts = default_num_sm_parts(Device::cuda(0), s_q, h_q);
  const auto layout = sched::workspace_layout(b, s_q, h_q, parts);
  testing::DeviceBuffer<std::uint8_t> ws(layout.total_bytes);

  kernels::DecodeParams p{};
  p.batch = b; p.s_q = s_q; p.h_q = h_q; p.causal = false;
  p.scale_log2 = 1.0f / std::sqrt(float(kDimQK)) * 1.4426950408889634f;
  p.q_nope = q_nope.get(); p.q_nope_stride[0] = std::int64_t(s_q) * h_q * kDimLatent; p.q_nope_stride[1] = std::int64_t(h_q) * kDimLatent; p.q_nope_stride[2] = kDimLatent;
  p.q_scale = q_scale.get(); p.q_scale_stride[0] = s_q * h_q; p.q_scale_stride[1] = h_q; p.q_scale_stride[2] = 1;
  p.q_rope = q_rope.get(); p.q_rope_stride[0] = std::int64_t(s_q) * h_q * kDimRope; p.q_rope_stride[1] = std::int64_t(h_q) * kDimRope; p.q_rope_stride[2] = kDimRope;
  p.fp8_cache = {num_pages, kv_fp8.get(), kv_scale.get(), kv_rope.get()};
  p.block_table = d_table.get(); p.block_table_stride = pages_per_req; p.max_pages = pages_per_req;
  p.lengths = d_lengths.get();
  p.out = out.get(); p.out_stride[0] = std::int64_t(s_q) * h_q * kDimLatent; p.out_stride[1] = std::int64_t(h_q) * kDimLatent; p.out_stride[2] = kDimLatent;
  p.lse = lse.get(); p.lse_stride[0] = std::int64_t(h_q) * s_q; p.lse_stride[1] = s_q; p.lse_stride[2] = 1;
  p.num_parts = parts;
  p.parts = ws.get() + layout.parts_offset;
  p.split_begin = reinterpret_cast<const std::int32_t*>(ws.get() + layout.split_begin_offset);
  p.partial_lse = reinterpret_cast<float*>(ws.get() + layout.partial_lse_offset);
  p.partial_o = reinterpret_cast<float*>(ws.get() + layout.partial_o_offset);
  kernels::launch_plan(d_lengths.get(), b, parts, ws.get() + layout.parts_offset,
                       reinterpret_cast<std::int32_t*>(ws.get() + layout.split_begin_offset), nullptr);
  testing::sync();

  const int reps = 30;
  const double simt = median_us([&] { kernels::launch_decode_fp8_simt(p, nullptr); }, reps);
  const double tc = median_us([&] { ASSERT_TRUE(kernels::launch_decode_fp8_tc(p, nullptr)); }, reps);
  const double simt_c = median_us([&] { kernels::launch_decode_fp8_simt(p, nullptr); kernels::launch_combine(p, nullptr); }, reps);
  const double tc_c = median_us([&] { kernels::launch_decode_fp8_tc(p, nullptr); kernels::launch_combine(p, nullptr); }, reps);
  const double bytes = double(b) * s_k * (kDimLatent + kDimRope * 2 + 4);
  std::printf("b %3d h_q %3d s_k %5d parts %3d | split kernel: SIMT %8.1f us  TC %8.1f us  (x%.2f, TC %.0f GB/s) | "
              "+combine: SIMT %8.1f us  TC %8.1f us (x%.2f)\n",
              b, h_q, s_k, parts, simt, tc, simt / tc, bytes / (tc * 1e3), simt_c, tc_c, simt_c / tc_c);
}

TEST(DecodeTcGpu, Timing) {
  const char* env = std::getenv("SNAPMLA_TC_TIMING");
  if (!env || std::string(env) != "1") GTEST_SKIP() << "set SNAPMLA_TC_TIMING=1";
  time_shape(128, 16, 8192);
  time_shape(128, 128, 8192);
  time_shape(32, 16, 8192);
}

}  // namespace
}  // namespace snapmla

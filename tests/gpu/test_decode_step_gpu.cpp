// A whole decode step on the GPU: bitwise determinism, CUDA-graph capture and replay against
// eager execution, empty batches, and checked mode (bad page, bad length).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "common/cpu_decode.h"
#include "common/tolerances.h"
#include "gpu/gpu_decode.h"
#include "snapmla/error.h"
#include "snapmla/ops.h"

namespace snapmla {
namespace {

using testing::Path;

// 64 query rows by default (the 64-row kernel); s_q = 1, h_q = 16 gives the narrow kernel.
ref::HostProblem problem_with_splits(int s_q = 2, int h_q = 32) {
  synth::ProblemOptions o;
  o.batch = 5;
  o.s_q = s_q;
  o.h_q = h_q;
  o.lengths = {3000, 0, 17, 9000, 640};
  o.causal = true;
  o.seed = 5;
  o.poison_unused = true;
  return synth::make_problem(o);
}

bool same_bits(const testing::CpuDecodeResult& a, const testing::CpuDecodeResult& b) {
  return a.out == b.out && a.lse.size() == b.lse.size() &&
         std::memcmp(a.lse.data(), b.lse.data(), a.lse.size() * sizeof(float)) == 0;
}

TEST(DecodeStepGpu, SameInputsTwiceGiveIdenticalBits) {
  const auto p = problem_with_splits();
  for (Path path : {Path::kFp8, Path::kBf16}) {
    testing::GpuDecode run(p, 40);  // 40 parts: several requests are split
    run.step(path);
    const auto first = run.result();
    run.poison();
    run.step(path);
    const auto second = run.result();
    EXPECT_TRUE(same_bits(first, second)) << (path == Path::kFp8 ? "fp8" : "bf16");
  }
}

// The 64-row wgmma kernel merges the splits of requests of up to kMaxInKernelMergeSplits (4)
// splits in the CTA that writes the last one (kernels/common/merge_splits.cuh), the combine
// kernel the others; a decode that leaves every merge to the combine kernel must give the same
// bits. One, two and three row tiles, with 8 and 40 parts (requests of 2 to ~30 splits), and
// the narrow kernel at 16 and 32 rows (which leaves every merge to the combine kernel). The
// in-kernel step runs twice, each time on a workspace filled with 0xff: a counter that
// plan_decode did not zero, or that the first merge left non-zero, would leave the NaN poison
// in out.
TEST(DecodeStepGpu, InKernelMergeEqualsCombineKernel) {
  struct Case {
    int s_q, h_q, parts;
  };
  for (const Case c : {Case{2, 32, 8}, Case{2, 32, 40}, Case{1, 128, 8}, Case{1, 128, 40}, Case{4, 48, 40},
                       Case{1, 16, 40}, Case{1, 16, 132}, Case{2, 16, 40}}) {
    const auto p = problem_with_splits(c.s_q, c.h_q);
    testing::GpuDecode run(p, c.parts);
    run.step(Path::kFp8, nullptr, false, /*combine_kernel=*/true);
    const auto by_kernel = run.result();
    for (int repeat = 0; repeat < 2; ++repeat) {
      run.poison();
      run.workspace.fill(0xff);  // plan_decode must zero the arrival counters (-1 here)
      run.step(Path::kFp8);
      EXPECT_TRUE(same_bits(run.result(), by_kernel))
          << "s_q " << c.s_q << " h_q " << c.h_q << " parts " << c.parts << " repeat " << repeat;
    }
  }
}

// The bench and an engine plan once a step and decode many times (every layer): the in-kernel
// merges must leave their arrival counters at zero for the next call. Three decodes after one
// plan, out and the partials poisoned before each, give the bits of the first, and the counters
// read zero after each (the 64-row kernel's merge of a few splits and the combine kernel's of
// the others; the narrow kernel at 16, 20 and 32 rows, whose splits the combine kernel merges).
// A merge that read a partial before its split was written would read the NaN poison.
TEST(DecodeStepGpu, InKernelMergesRepeatWithoutReplanning) {
  struct Case {
    int s_q, h_q, parts;
  };
  for (const Case c : {Case{1, 128, 40}, Case{1, 128, 132}, Case{1, 16, 40}, Case{2, 16, 40}, Case{1, 16, 132},
                       Case{1, 20, 40}}) {
    const auto p = problem_with_splits(c.s_q, c.h_q);
    testing::GpuDecode run(p, c.parts);
    run.step(Path::kFp8);
    const auto first = run.result();
    std::ostringstream label;
    label << "s_q " << c.s_q << " h_q " << c.h_q << " parts " << c.parts;
    const std::string name = label.str();
    for (const std::int32_t counter : run.arrival_counters()) ASSERT_EQ(counter, 0) << name << " first call";
    for (int repeat = 0; repeat < 3; ++repeat) {
      run.out.poison_nan();  // the outputs only: the cache stays as the first step built it
      run.lse.poison_nan();
      run.poison_partials();
      decode_fp8(run.fp8_query(), run.fp8_cache(), run.args(), run.options());
      EXPECT_TRUE(same_bits(run.result(), first)) << name << " repeat " << repeat;
      for (const std::int32_t counter : run.arrival_counters()) ASSERT_EQ(counter, 0) << name << " repeat " << repeat;
    }
  }
}

// The 64-row kernel (in-kernel merges and the combine kernel) and the narrow one (the combine).
TEST(DecodeStepGpu, GraphReplayEqualsEager) {
  for (const int h_q : {32, 16}) {
    const auto p = h_q == 32 ? problem_with_splits() : problem_with_splits(1, h_q);
    for (Path path : {Path::kFp8, Path::kBf16}) {
      cuda_host::Stream stream;
      testing::GpuDecode run(p, 40);
      run.step(path, stream.get());
      const auto eager = run.result();

      run.poison();
      cudaGraph_t graph{};
      cudaGraphExec_t exec{};
      SNAPMLA_CUDA_CHECK(cudaStreamBeginCapture(stream.get(), cudaStreamCaptureModeThreadLocal));
      run.step(path, stream.get());
      SNAPMLA_CUDA_CHECK(cudaStreamEndCapture(stream.get(), &graph));
      SNAPMLA_CUDA_CHECK(cudaGraphInstantiate(&exec, graph, 0));
      for (int replay = 0; replay < 2; ++replay) {
        run.poison();
        SNAPMLA_CUDA_CHECK(cudaGraphLaunch(exec, stream.get()));
        SNAPMLA_CUDA_CHECK(cudaStreamSynchronize(stream.get()));
        EXPECT_TRUE(same_bits(run.result(), eager))
            << "h_q " << h_q << " " << testing::path_name(path) << " replay " << replay;
      }
      cudaGraphExecDestroy(exec);
      cudaGraphDestroy(graph);
    }
  }
}

TEST(DecodeStepGpu, AllEmptyBatchGivesZerosAndInfiniteLse) {
  synth::ProblemOptions o;
  o.batch = 4;
  o.s_q = 2;
  o.h_q = 16;
  o.lengths = {0, 0, 0, 0};
  o.poison_unused = true;
  const auto p = synth::make_problem(o);
  for (Path path : {Path::kFp8, Path::kBf16}) {
    testing::GpuDecode run(p, 0 + default_num_sm_parts(Device::cuda(0), o.s_q, o.h_q));
    run.step(path);
    const auto r = run.result();
    for (auto v : r.out) ASSERT_EQ(v, 0);
    for (auto v : r.lse) ASSERT_EQ(v, std::numeric_limits<float>::infinity());
  }
}

TEST(DecodeStepGpu, CheckedModeAcceptsGoodInputs) {
  const auto p = problem_with_splits();
  testing::GpuDecode run(p, 40);
  run.step(Path::kFp8);
  const auto unchecked = run.result();
  run.poison();
  run.step(Path::kFp8, nullptr, /*checked=*/true);
  EXPECT_TRUE(same_bits(run.result(), unchecked));
}

TEST(DecodeStepGpu, CheckedModeReportsBadPage) {
  const auto p = problem_with_splits();
  testing::GpuDecode run(p, 40);
  // Request 3, block 5 (inside its 141 pages) points outside the cache.
  std::vector<std::int32_t> table = run.block_table.download();
  const int bad = p.num_pages + 3;
  table[std::size_t(3) * p.max_pages + 5] = bad;
  run.block_table.upload(table);
  try {
    run.step(Path::kFp8, nullptr, /*checked=*/true);
    ADD_FAILURE() << "checked decode accepted a page outside the cache";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kDeviceCheckFailed);
    const std::string msg = e.what();
    EXPECT_NE(msg.find("block_table"), std::string::npos) << msg;
    EXPECT_NE(msg.find(std::to_string(bad)), std::string::npos) << msg;
    EXPECT_NE(msg.find("[3, 5]"), std::string::npos) << msg;
    std::printf("checked decode reports: %s\n", msg.c_str());
  }
}

// Unchecked, a page id outside the cache is never dereferenced: the rows that see that page
// come out NaN (not a plausible number), every other request is unaffected. `parts`: the
// schedule parts (0: the device default).
void expect_bad_page_nan_only_for_its_request(const ref::HostProblem& p, int parts, const char* what) {
  const int num_parts = parts > 0 ? parts : default_num_sm_parts(Device::cuda(0), p.s_q, p.h_q);
  for (Path path : {Path::kFp8, Path::kBf16}) {
    testing::GpuDecode run(p, num_parts);
    run.step(path);
    const auto good = run.result();
    std::vector<std::int32_t> table = run.block_table.download();
    table[std::size_t(3) * p.max_pages + 2] = p.num_pages + 1000000;
    table[std::size_t(4) * p.max_pages + 1] = -7;
    run.block_table.upload(table);
    run.poison();
    run.step(path);
    const auto bad = run.result();
    const std::size_t per_request = std::size_t(p.s_q) * p.h_q;
    for (int r = 0; r < p.batch; ++r)
      for (std::size_t k = 0; k < per_request; ++k) {
        const float lse = bad.lse[r * per_request + k];
        if (r >= 3) EXPECT_TRUE(std::isnan(lse)) << what << ", request " << r;
        else EXPECT_EQ(std::memcmp(&lse, &good.lse[r * per_request + k], sizeof lse), 0) << what << ", request " << r;
      }
  }
}

TEST(DecodeStepGpu, UncheckedBadPageGivesNanOnlyForItsRequest) {
  expect_bad_page_nan_only_for_its_request(problem_with_splits(), 40, "64 rows");
  // 16 rows: the narrow FP8 kernel, with two CTAs an SM of two whole-page stages (40 parts) and
  // with three CTAs of the split page ring (the default parts), whose lo and hi parts of a
  // page outside the cache are filled with NaN separately.
  const auto p = problem_with_splits(1, 16);
  expect_bad_page_nan_only_for_its_request(p, 40, "16 rows, 40 parts");
  expect_bad_page_nan_only_for_its_request(p, 0, "16 rows, default parts");
}

TEST(DecodeStepGpu, CheckedModeReportsBadLength) {
  const auto p = problem_with_splits();
  testing::GpuDecode run(p, 40);
  std::vector<std::int32_t> lengths = run.lengths.download();
  lengths[2] = p.max_pages * kPageSize + 1;  // needs one page more than the table holds
  run.lengths.upload(lengths);
  DecodeOptions o = run.options();
  o.checked = true;
  try {
    decode_bf16(run.q_view(),
                Bf16Cache{testing::cuda_view(run.kv_bf16, DType::kBFloat16, {p.num_pages, kPageSize, kDimQK})},
                run.args(), o);
    ADD_FAILURE() << "checked decode accepted a too long length";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kDeviceCheckFailed);
    const std::string msg = e.what();
    EXPECT_NE(msg.find("lengths[2]"), std::string::npos) << msg;
    std::printf("checked decode reports: %s\n", msg.c_str());
  }
}

}  // namespace
}  // namespace snapmla

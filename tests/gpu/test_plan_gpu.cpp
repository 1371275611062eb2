// The metadata kernel (plan_decode on CUDA) writes the same schedule as the host planner.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "common/gpu_util.h"
#include "sched/schedule.h"
#include "snapmla/ops.h"

namespace snapmla {
namespace {

using testing::cuda_view;
using testing::DeviceBuffer;

void expect_same_schedule(const std::vector<std::int32_t>& lengths, int s_q, int h_q, int parts) {
  const int batch = static_cast<int>(lengths.size());
  const DecodeShape shape{batch, s_q, h_q, parts};
  const auto layout = sched::workspace_layout(batch, s_q, h_q, parts);
  const std::size_t schedule_bytes = layout.check_offset;  // parts + split_begin

  std::vector<std::int32_t> host_lengths = lengths;
  std::vector<std::uint8_t> cpu_ws(decode_workspace_bytes(shape, Device::cpu()) + 256, 0xab);
  void* aligned = reinterpret_cast<void*>((reinterpret_cast<std::uintptr_t>(cpu_ws.data()) + 255) & ~std::uintptr_t(255));
  plan_decode(shape, TensorView::contiguous(host_lengths.data(), DType::kInt32, {batch}),
              Workspace{aligned, layout.total_bytes, Device::cpu()});

  DeviceBuffer<std::int32_t> dev_lengths(lengths);
  DeviceBuffer<std::uint8_t> dev_ws(decode_workspace_bytes(shape, Device::cuda(0)));
  dev_ws.fill(0xab);
  plan_decode(shape, cuda_view(dev_lengths, DType::kInt32, {batch}), Workspace{dev_ws.get(), dev_ws.size(), Device::cuda(0)});
  const auto gpu = dev_ws.download();
  const auto* cpu = static_cast<const std::uint8_t*>(aligned);
  auto region_equal = [&](std::size_t offset, std::size_t bytes) {
    return std::memcmp(gpu.data() + offset, cpu + offset, bytes) == 0;
  };
  EXPECT_TRUE(region_equal(layout.parts_offset, sizeof(sched::PartRange) * parts))
      << "parts differ: batch " << batch << " parts " << parts;
  EXPECT_TRUE(region_equal(layout.split_begin_offset, sizeof(std::int32_t) * (batch + 1)))
      << "split_begin differs: batch " << batch << " parts " << parts;
  (void)schedule_bytes;
}

TEST(PlanGpu, MatchesHostPlanner) {
  std::mt19937 rng(7);
  const int batches[] = {1, 2, 7, 64, 128, 1000, 4096};
  const int part_counts[] = {1, 3, 33, 66, 132, 264};
  int cases = 0;
  for (int b : batches)
    for (int parts : part_counts) {
      std::vector<std::int32_t> lengths(b);
      std::uniform_int_distribution<int> short_len(0, 300), long_len(0, 140000), zero(0, 5);
      for (auto& l : lengths) l = zero(rng) == 0 ? 0 : (b <= 7 ? long_len(rng) : short_len(rng));
      expect_same_schedule(lengths, 1, 16, parts);
      ++cases;
    }
  // Edge cases: all zero, one huge request, exact multiples of 64.
  expect_same_schedule(std::vector<std::int32_t>(9, 0), 2, 64, 132);
  expect_same_schedule({131137}, 1, 128, 132);
  expect_same_schedule({64, 128, 4096, 1, 63, 65, 0}, 4, 3, 17);
  std::printf("plan kernel == host planner on %d random cases and 3 edge cases\n", cases);
}

}  // namespace
}  // namespace snapmla

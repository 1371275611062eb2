// The metadata kernel: the split-KV schedule from device-resident lengths. One thread runs the
// very planner the CPU runs (sched::plan_schedule), so host and device schedules are identical;
// b is at most a few thousand, so this takes microseconds and needs no host synchronisation.
// The block's other threads zero the arrival counters of the fused merge (schedule.h).
#include "kernels/common/cuda_utils.cuh"
#include "kernels/launch.h"
#include "sched/schedule.h"

namespace snapmla::kernels {
namespace {

constexpr int kPlanThreads = 256;

__global__ void __launch_bounds__(kPlanThreads) plan_kernel(const std::int32_t* lengths, int batch, int num_parts,
                                                            sched::PartRange* parts, std::int32_t* split_begin,
                                                            std::int32_t* split_done, int split_done_count) {
  if (threadIdx.x == 0) sched::plan_schedule(lengths, batch, num_parts, parts, split_begin);
  for (int k = threadIdx.x; k < split_done_count; k += kPlanThreads) split_done[k] = 0;
}

}  // namespace

void launch_plan(const std::int32_t* lengths, int batch, int num_parts, void* parts, std::int32_t* split_begin,
                 std::int32_t* split_done, int split_done_count, StreamHandle stream) {
  plan_kernel<<<1, kPlanThreads, 0, to_stream(stream)>>>(lengths, batch, num_parts,
                                                         static_cast<sched::PartRange*>(parts), split_begin,
                                                         split_done, split_done_count);
  check_launch("plan (metadata) kernel launch");
}

}  // namespace snapmla::kernels

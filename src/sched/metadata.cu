// The metadata kernel: the split-KV schedule from device-resident lengths. One thread runs the
// very planner the CPU runs (sched::plan_schedule), so host and device schedules are identical;
// b is at most a few thousand, so this takes microseconds and needs no host synchronisation.
#include "kernels/common/cuda_utils.cuh"
#include "kernels/launch.h"
#include "sched/schedule.h"

namespace snapmla::kernels {
namespace {

__global__ void plan_kernel(const std::int32_t* lengths, int batch, int num_parts, sched::PartRange* parts,
                            std::int32_t* split_begin) {
  if (threadIdx.x == 0 && blockIdx.x == 0) sched::plan_schedule(lengths, batch, num_parts, parts, split_begin);
}

}  // namespace

void launch_plan(const std::int32_t* lengths, int batch, int num_parts, void* parts, std::int32_t* split_begin,
                 StreamHandle stream) {
  plan_kernel<<<1, 1, 0, to_stream(stream)>>>(lengths, batch, num_parts, static_cast<sched::PartRange*>(parts),
                                              split_begin);
  check_launch("plan (metadata) kernel launch");
}

}  // namespace snapmla::kernels

// Checked mode: validate device-resident slots, lengths and block tables on the device, then
// synchronise and report the first failure (lowest row, then lowest column).
//
// The failure is found with a 64-bit atomicMin on key = (row << 32) | (column + 1), then a
// one-thread kernel decodes the key and re-derives the kind and the offending value, so the
// report is deterministic. The report lives in a __device__ buffer of this module (the check_*
// signatures carry no workspace): checked mode synchronises anyway, but two checked calls
// running at the same time on one device (several host threads or streams) would share it.
#include <cstdint>

#include "kernels/common/cuda_utils.cuh"
#include "kernels/launch.h"
#include "sched/schedule.h"
#include "snapmla/cache.h"

namespace snapmla::kernels {
namespace {

constexpr int kThreads = 256;
constexpr int kMaxBlocks = 1024;
constexpr unsigned long long kNoFailure = ~0ull;

enum FailureKind : int { kNone = 0, kNegativeLength = 1, kLengthTooLong = 2, kBadPage = 3, kBadSlot = 4 };

struct DeviceReport {
  unsigned long long key;
  int failed, request, index, value, kind;
};
__device__ DeviceReport g_report;

__device__ __forceinline__ unsigned long long make_key(long long row, int column) {
  return (static_cast<unsigned long long>(row) << 32) | static_cast<unsigned>(column + 1);
}

__global__ void reset_report_kernel() {
  g_report = DeviceReport{kNoFailure, 0, -1, -1, 0, kNone};
}

__global__ void __launch_bounds__(kThreads) check_slots_kernel(const std::int32_t* slots, int n, int num_pages) {
  const long long capacity = static_cast<long long>(num_pages) * kPageSize;
  for (long long k = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; k < n;
       k += static_cast<long long>(gridDim.x) * blockDim.x)
    if (slots[k] >= capacity) atomicMin(&g_report.key, make_key(k, -1));
}

__global__ void finish_slots_kernel(const std::int32_t* slots) {
  if (g_report.key == kNoFailure) return;
  const int row = static_cast<int>(g_report.key >> 32);
  g_report = DeviceReport{g_report.key, 1, row, -1, slots[row], kBadSlot};
}

// One thread per (request, column); column -1 (encoded as thread 0 of the row) checks the length.
__global__ void __launch_bounds__(kThreads)
check_decode_kernel(const std::int32_t* lengths, const std::int32_t* block_table, std::int64_t stride, int batch,
                    int max_pages, int num_pages) {
  const long long per_row = static_cast<long long>(max_pages) + 1;
  const long long total = per_row * batch;
  for (long long k = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; k < total;
       k += static_cast<long long>(gridDim.x) * blockDim.x) {
    const long long r = k / per_row;
    const int column = static_cast<int>(k % per_row) - 1;
    const int length = lengths[r];
    const bool length_ok = length >= 0 && static_cast<long long>(length) <= static_cast<long long>(max_pages) * kPageSize;
    if (column < 0) {
      if (!length_ok) atomicMin(&g_report.key, make_key(r, -1));
      continue;
    }
    // Only columns the request uses are read: the rest of the row may hold anything.
    if (!length_ok || column >= sched::blocks_of(length)) continue;
    const int page = block_table[r * stride + column];
    if (page < 0 || page >= num_pages) atomicMin(&g_report.key, make_key(r, column));
  }
}

__global__ void finish_decode_kernel(const std::int32_t* lengths, const std::int32_t* block_table,
                                     std::int64_t stride) {
  if (g_report.key == kNoFailure) return;
  const int r = static_cast<int>(g_report.key >> 32);
  const int column = static_cast<int>(g_report.key & 0xffffffffu) - 1;
  if (column < 0) {
    const int length = lengths[r];
    g_report = DeviceReport{g_report.key, 1, r, -1, length, length < 0 ? kNegativeLength : kLengthTooLong};
  } else {
    g_report = DeviceReport{g_report.key, 1, r, column, block_table[r * stride + column], kBadPage};
  }
}

CheckReport read_report(cudaStream_t stream, const char* what) {
  DeviceReport report{};
  cuda_check(cudaMemcpyFromSymbolAsync(&report, g_report, sizeof report, 0, cudaMemcpyDeviceToHost, stream), what);
  cuda_check(cudaStreamSynchronize(stream), what);
  CheckReport out;
  out.failed = report.failed;
  out.request = report.request;
  out.index = report.index;
  out.value = report.value;
  out.kind = report.kind;
  return out;
}

int grid_for(long long items) {
  const long long blocks = (items + kThreads - 1) / kThreads;
  return static_cast<int>(blocks < 1 ? 1 : (blocks > kMaxBlocks ? kMaxBlocks : blocks));
}

}  // namespace

CheckReport check_slots(const std::int32_t* slots, int n, int num_pages, StreamHandle stream) {
  const cudaStream_t s = to_stream(stream);
  reset_report_kernel<<<1, 1, 0, s>>>();
  check_launch("check_slots: reset kernel launch");
  if (n > 0) {
    check_slots_kernel<<<grid_for(n), kThreads, 0, s>>>(slots, n, num_pages);
    check_launch("check_slots kernel launch");
    finish_slots_kernel<<<1, 1, 0, s>>>(slots);
    check_launch("check_slots: finish kernel launch");
  }
  return read_report(s, "check_slots: reading the report");
}

CheckReport check_decode_inputs(const std::int32_t* lengths, const std::int32_t* block_table,
                                std::int64_t block_table_stride, int batch, int max_pages, int num_pages,
                                StreamHandle stream) {
  const cudaStream_t s = to_stream(stream);
  reset_report_kernel<<<1, 1, 0, s>>>();
  check_launch("check_decode_inputs: reset kernel launch");
  if (batch > 0) {
    check_decode_kernel<<<grid_for((static_cast<long long>(max_pages) + 1) * batch), kThreads, 0, s>>>(
        lengths, block_table, block_table_stride, batch, max_pages, num_pages);
    check_launch("check_decode_inputs kernel launch");
    finish_decode_kernel<<<1, 1, 0, s>>>(lengths, block_table, block_table_stride);
    check_launch("check_decode_inputs: finish kernel launch");
  }
  return read_report(s, "check_decode_inputs: reading the report");
}

}  // namespace snapmla::kernels

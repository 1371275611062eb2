// CUDA runtime helpers of the snapmla tool: the shared RAII owners and checked calls
// (common/cuda_host.h), the median and the device name. Only compiled
// into a CUDA build; the CPU build never includes cuda_runtime.h.
#pragma once

#if SNAPMLA_WITH_CUDA
#include <cuda_runtime.h>

#include <algorithm>
#include <string>
#include <vector>

#include "common/cuda_host.h"

namespace snapmla::tool {

using cuda_host::DeviceBytes;
using cuda_host::Event;

inline double median(std::vector<double> v) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// Before each timed call: a memset of `bytes` (by_reads false: the L2 left dirty) or a kernel
// reading them (the L2 left clean); `buffer` has 4 bytes more. bench/common/l2_flush.cuh.
void flush_l2(bool by_reads, void* buffer, std::size_t bytes, int pass, cudaStream_t stream);

inline std::string device_name(int ordinal = 0) {
  cudaDeviceProp prop{};
  if (cudaGetDeviceProperties(&prop, ordinal) != cudaSuccess) return "unknown GPU";
  return prop.name;
}

}  // namespace snapmla::tool
#endif  // SNAPMLA_WITH_CUDA

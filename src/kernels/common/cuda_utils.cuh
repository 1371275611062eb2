// Small helpers shared by the CUDA translation units of src/kernels and src/sched: error
// checking that throws snapmla::Error, and warp reductions.
#pragma once

#include <cuda_runtime.h>

#include <string>

#include "snapmla/error.h"

namespace snapmla::kernels {

inline constexpr int kWarpSize = 32;
inline constexpr unsigned kFullMask = 0xffffffffu;

// Throws snapmla::Error(kCudaError, "<what>: <cudaGetErrorString>") when `status` is an error.
inline void cuda_check(cudaError_t status, const char* what) {
  if (status != cudaSuccess) {
    (void)cudaGetLastError();  // clear the sticky-free error state of this thread
    throw Error(ErrorCode::kCudaError, std::string(what) + ": " + cudaGetErrorString(status));
  }
}

// Checks the launch just made (configuration errors, missing kernel image, ...).
inline void check_launch(const char* what) { cuda_check(cudaGetLastError(), what); }

inline cudaStream_t to_stream(void* stream) { return static_cast<cudaStream_t>(stream); }

inline int ceil_div(long long a, long long b) { return static_cast<int>((a + b - 1) / b); }

#if defined(__CUDACC__)
template <typename Op>
__device__ __forceinline__ float warp_reduce(float v, Op op) {
#pragma unroll
  for (int offset = kWarpSize / 2; offset > 0; offset /= 2)
    v = op(v, __shfl_xor_sync(kFullMask, v, offset));
  return v;
}
#endif

}  // namespace snapmla::kernels

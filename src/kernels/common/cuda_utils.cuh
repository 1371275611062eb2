// Small helpers shared by the CUDA translation units of src/kernels and src/sched: error
// checking that throws snapmla::Error, and warp reductions.
#pragma once

#include <cuda_runtime.h>

#include <atomic>
#include <cstdint>
#include <string>

#include "common/cuda_host.h"
#include "kernels/launch.h"
#include "snapmla/error.h"

namespace snapmla::kernels {

inline constexpr int kWarpSize = 32;
inline constexpr unsigned kFullMask = 0xffffffffu;

// Throws snapmla::Error(kCudaError, "<what>: <cudaGetErrorString>") when `status` is an error.
inline void cuda_check(cudaError_t status, const char* what) { cuda_host::check(status, what); }

// Checks the launch just made (configuration errors, missing kernel image, ...).
inline void check_launch(const char* what) { cuda_check(cudaGetLastError(), what); }

// Raises kKernel's dynamic shared-memory limit to `bytes` on the current device, once per device
// (the attribute is per device; ordinals of 64 and up set it on every call). One guard per kernel.
template <auto kKernel>
void set_max_dynamic_smem(int bytes, const char* what) {
  int device = 0;
  cuda_check(cudaGetDevice(&device), what);
  static std::atomic<std::uint64_t> configured{0};  // one bit per device ordinal < 64
  const std::uint64_t bit = device < 64 ? (std::uint64_t{1} << device) : 0;
  if (bit == 0 || !(configured.load() & bit)) {
    cuda_check(cudaFuncSetAttribute(kKernel, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes), what);
    configured.fetch_or(bit);
  }
}

inline cudaStream_t to_stream(void* stream) { return static_cast<cudaStream_t>(stream); }

// The SM count of the current device (cached per device by device_sm_count).
inline int current_device_sm_count(const char* what) {
  int device = 0;
  cuda_check(cudaGetDevice(&device), what);
  return device_sm_count(device);
}

inline int ceil_div(long long a, long long b) { return static_cast<int>((a + b - 1) / b); }

#if defined(__CUDACC__)
// Reduction over the lanes whose indices differ only in bits kFirstBit.. of the lane index
// below kEndBit (as masks: lane_reduce<1, 4> = a quad, <4, 32> = the 8 lanes of equal lane % 4),
// combining at distance kFirstBit first.
template <int kFirstBit, int kEndBit, typename Op>
__device__ __forceinline__ float lane_reduce(float v, Op op) {
#pragma unroll
  for (int d = kFirstBit; d < kEndBit; d *= 2) v = op(v, __shfl_xor_sync(kFullMask, v, d));
  return v;
}

// 2^x by the special-function unit, subnormal results flushed to +0 (ex2.approx.ftz). exp2f is
// the same instruction plus a fix-up for results below 2^-126, three more instructions and a
// predicate per call; a p or alpha that small cannot change an fp32 O or l (docs/numerics.md).
__device__ __forceinline__ float exp2_ftz(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}

// Programmatic dependent launch (SNAPMLA.md section 4): the combine kernel is launched with
// programmatic stream serialization after a split kernel, so its launch is prepared while the
// split kernel runs; before it reads what that kernel wrote it waits here for the whole split
// grid (its completion and memory flush). A no-op where the launch had no such dependency.
__device__ __forceinline__ void wait_for_primary_grid() { asm volatile("griddepcontrol.wait;" ::: "memory"); }

template <typename Op>
__device__ __forceinline__ float warp_reduce(float v, Op op) {
#pragma unroll
  for (int offset = kWarpSize / 2; offset > 0; offset /= 2)
    v = op(v, __shfl_xor_sync(kFullMask, v, offset));
  return v;
}
#endif

}  // namespace snapmla::kernels

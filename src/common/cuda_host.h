// Host-side CUDA runtime helpers: a checked call that throws snapmla::Error(kCudaError) (the
// library's kernels/common/cuda_utils.cuh calls it too), and RAII owners of a device allocation,
// an event and a stream for the tool and the GPU tests. CUDA builds only.
#pragma once

#if SNAPMLA_WITH_CUDA
#include <cuda_runtime.h>

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "snapmla/error.h"

namespace snapmla::cuda_host {

inline void check(cudaError_t status, const char* what) {
  if (status != cudaSuccess) {
    (void)cudaGetLastError();  // clear the (non-sticky) error state of this thread
    throw Error(ErrorCode::kCudaError, std::string(what) + ": " + cudaGetErrorString(status));
  }
}
#define SNAPMLA_CUDA_CHECK(call) ::snapmla::cuda_host::check((call), #call)

// An owning, untyped device allocation.
class DeviceBytes {
 public:
  DeviceBytes() = default;
  explicit DeviceBytes(std::size_t bytes) : bytes_(bytes) {
    if (bytes) SNAPMLA_CUDA_CHECK(cudaMalloc(&ptr_, bytes));
  }
  DeviceBytes(const DeviceBytes&) = delete;
  DeviceBytes& operator=(const DeviceBytes&) = delete;
  DeviceBytes(DeviceBytes&& o) noexcept : ptr_(std::exchange(o.ptr_, nullptr)), bytes_(std::exchange(o.bytes_, 0)) {}
  DeviceBytes& operator=(DeviceBytes&& o) noexcept {
    std::swap(ptr_, o.ptr_);
    std::swap(bytes_, o.bytes_);
    return *this;
  }
  ~DeviceBytes() {
    if (ptr_) cudaFree(ptr_);
  }
  void* get() const { return ptr_; }
  template <typename T>
  T* as() const { return static_cast<T*>(ptr_); }
  std::size_t bytes() const { return bytes_; }

  template <typename T>
  static DeviceBytes from_host(const std::vector<T>& v) {
    DeviceBytes b(v.size() * sizeof(T));
    b.upload(v);
    return b;
  }
  template <typename T>
  void upload(const std::vector<T>& v) {
    if (v.size() * sizeof(T) != bytes_) throw Error(ErrorCode::kInvalidArgument, "DeviceBytes::upload: size mismatch");
    if (bytes_) SNAPMLA_CUDA_CHECK(cudaMemcpy(ptr_, v.data(), bytes_, cudaMemcpyHostToDevice));
  }
  template <typename T>
  std::vector<T> to_host() const {
    std::vector<T> v(bytes_ / sizeof(T));
    if (!v.empty()) SNAPMLA_CUDA_CHECK(cudaMemcpy(v.data(), ptr_, v.size() * sizeof(T), cudaMemcpyDeviceToHost));
    return v;
  }

 private:
  void* ptr_ = nullptr;
  std::size_t bytes_ = 0;
};

class Event {
 public:
  Event() { SNAPMLA_CUDA_CHECK(cudaEventCreate(&e_)); }
  ~Event() { cudaEventDestroy(e_); }
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  cudaEvent_t get() const { return e_; }

 private:
  cudaEvent_t e_{};
};

// A non-blocking stream.
class Stream {
 public:
  Stream() { SNAPMLA_CUDA_CHECK(cudaStreamCreateWithFlags(&s_, cudaStreamNonBlocking)); }
  ~Stream() { cudaStreamDestroy(s_); }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  cudaStream_t get() const { return s_; }

 private:
  cudaStream_t s_{};
};

}  // namespace snapmla::cuda_host
#endif  // SNAPMLA_WITH_CUDA

// Helpers of the GPU tests: checked CUDA calls, RAII device buffers, NaN poisoning, CUDA views.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "snapmla/tensor.h"

namespace snapmla::testing {

inline void cuda_ok(cudaError_t status, const char* what) {
  if (status != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(status));
}
#define SNAPMLA_CUDA_OK(call) ::snapmla::testing::cuda_ok((call), #call)

// Bit patterns used to poison memory: every one decodes to NaN in its format.
inline constexpr std::uint8_t kNanE4m3 = 0x7f;
inline constexpr std::uint16_t kNanBf16 = 0x7fc0;
inline constexpr std::uint32_t kNanF32 = 0x7fc00000u;

template <typename T>
T nan_of() {
  if constexpr (sizeof(T) == 1) return static_cast<T>(kNanE4m3);
  else if constexpr (sizeof(T) == 2) return static_cast<T>(kNanBf16);
  else {
    T v;
    std::memcpy(&v, &kNanF32, sizeof v);
    return v;
  }
}

// An owning device allocation of `n` elements of T.
template <typename T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(std::size_t n) : n_(n) {
    if (n_ > 0) SNAPMLA_CUDA_OK(cudaMalloc(&ptr_, n_ * sizeof(T)));
  }
  explicit DeviceBuffer(const std::vector<T>& host) : DeviceBuffer(host.size()) { upload(host); }
  ~DeviceBuffer() {
    if (ptr_) cudaFree(ptr_);
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& o) noexcept : ptr_(o.ptr_), n_(o.n_) { o.ptr_ = nullptr; o.n_ = 0; }
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    if (this != &o) {
      if (ptr_) cudaFree(ptr_);
      ptr_ = o.ptr_; n_ = o.n_; o.ptr_ = nullptr; o.n_ = 0;
    }
    return *this;
  }

  T* get() const { return ptr_; }
  std::size_t size() const { return n_; }
  std::size_t bytes() const { return n_ * sizeof(T); }

  void upload(const std::vector<T>& host) {
    if (host.size() != n_) throw std::runtime_error("DeviceBuffer::upload: size mismatch");
    if (n_) SNAPMLA_CUDA_OK(cudaMemcpy(ptr_, host.data(), bytes(), cudaMemcpyHostToDevice));
  }
  std::vector<T> download() const {
    std::vector<T> host(n_);
    if (n_) SNAPMLA_CUDA_OK(cudaMemcpy(host.data(), ptr_, bytes(), cudaMemcpyDeviceToHost));
    return host;
  }
  void fill(T value) { upload(std::vector<T>(n_, value)); }
  void poison_nan() { fill(nan_of<T>()); }

 private:
  T* ptr_ = nullptr;
  std::size_t n_ = 0;
};

template <typename T>
TensorView cuda_view(const DeviceBuffer<T>& buf, DType dtype, std::initializer_list<std::int64_t> shape) {
  return TensorView::contiguous(buf.get(), dtype, shape, Device::cuda(0));
}

class StreamGuard {
 public:
  StreamGuard() { SNAPMLA_CUDA_OK(cudaStreamCreateWithFlags(&s_, cudaStreamNonBlocking)); }
  ~StreamGuard() { cudaStreamDestroy(s_); }
  StreamGuard(const StreamGuard&) = delete;
  StreamGuard& operator=(const StreamGuard&) = delete;
  cudaStream_t get() const { return s_; }

 private:
  cudaStream_t s_{};
};

inline void sync() { SNAPMLA_CUDA_OK(cudaDeviceSynchronize()); }

}  // namespace snapmla::testing

// Helpers of the GPU tests: checked CUDA calls and RAII owners (common/cuda_host.h), typed
// device buffers, NaN poisoning, CUDA views.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/cuda_host.h"
#include "snapmla/tensor.h"

namespace snapmla::testing {


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

// An owning device allocation of `n` elements of T (common/cuda_host.h's DeviceBytes, typed).
template <typename T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(std::size_t n) : bytes_(n * sizeof(T)) {}
  explicit DeviceBuffer(const std::vector<T>& host) : DeviceBuffer(host.size()) { upload(host); }

  T* get() const { return bytes_.as<T>(); }
  std::size_t size() const { return bytes_.bytes() / sizeof(T); }
  std::size_t bytes() const { return bytes_.bytes(); }

  void upload(const std::vector<T>& host) { bytes_.upload(host); }
  std::vector<T> download() const { return bytes_.to_host<T>(); }
  void fill(T value) { upload(std::vector<T>(size(), value)); }
  void poison_nan() { fill(nan_of<T>()); }

 private:
  cuda_host::DeviceBytes bytes_;
};

template <typename T>
TensorView cuda_view(const DeviceBuffer<T>& buf, DType dtype, std::initializer_list<std::int64_t> shape) {
  return TensorView::contiguous(buf.get(), dtype, shape, Device::cuda(0));
}

inline void sync() { SNAPMLA_CUDA_CHECK(cudaDeviceSynchronize()); }

}  // namespace snapmla::testing

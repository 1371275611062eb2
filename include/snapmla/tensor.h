// snapmla/tensor.h - non-owning tensor views, the vocabulary of the public API.
//
// A view is a pointer plus dtype, shape, strides (in elements) and the device the memory lives
// on. snapmla never allocates or frees user memory; the caller keeps it alive for the call.
// No CUDA or framework types appear here, so the header builds anywhere.
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <string>

namespace snapmla {

enum class DType : std::uint8_t { kFloat32, kBFloat16, kFloat8E4M3, kInt32 };

const char* to_string(DType dtype);
std::size_t element_size(DType dtype);

enum class DeviceKind : std::uint8_t { kCPU, kCUDA };

struct Device {
  DeviceKind kind = DeviceKind::kCPU;
  int index = 0;  // CUDA ordinal; ignored for the CPU

  static Device cpu() { return {DeviceKind::kCPU, 0}; }
  static Device cuda(int ordinal = 0) { return {DeviceKind::kCUDA, ordinal}; }
  bool is_cuda() const { return kind == DeviceKind::kCUDA; }
  friend bool operator==(const Device&, const Device&) = default;
};

std::string to_string(const Device& device);

inline constexpr int kMaxRank = 4;

struct TensorView {
  void* data = nullptr;
  DType dtype = DType::kFloat32;
  Device device{};
  int rank = 0;
  std::array<std::int64_t, kMaxRank> shape{};
  std::array<std::int64_t, kMaxRank> stride{};  // in elements, not bytes

  // A densely packed (row-major) view.
  static TensorView contiguous(void* data, DType dtype, std::initializer_list<std::int64_t> shape,
                               Device device = Device::cpu());
  // A view with explicit strides (in elements).
  static TensorView strided(void* data, DType dtype, std::initializer_list<std::int64_t> shape,
                            std::initializer_list<std::int64_t> stride,
                            Device device = Device::cpu());

  std::int64_t numel() const;
  bool is_contiguous() const;
  std::int64_t size(int dim) const { return shape[dim]; }
  template <typename T>
  T* ptr() const { return static_cast<T*>(data); }
  std::string shape_string() const;  // "[4, 1, 128, 576]"
};

}  // namespace snapmla

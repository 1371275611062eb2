// Element addressing of CPU TensorViews (strides in elements) for the reference code.
#pragma once

#include <cstdint>

#include "snapmla/tensor.h"

namespace snapmla {

template <typename T>
T* element(const TensorView& v, std::int64_t i0) {
  return static_cast<T*>(v.data) + i0 * v.stride[0];
}
template <typename T>
T* element(const TensorView& v, std::int64_t i0, std::int64_t i1) {
  return static_cast<T*>(v.data) + i0 * v.stride[0] + i1 * v.stride[1];
}
template <typename T>
T* element(const TensorView& v, std::int64_t i0, std::int64_t i1, std::int64_t i2) {
  return static_cast<T*>(v.data) + i0 * v.stride[0] + i1 * v.stride[1] + i2 * v.stride[2];
}

}  // namespace snapmla

// Small helpers of the public vocabulary types.
#include <sstream>

#include "snapmla/error.h"
#include "snapmla/tensor.h"

namespace snapmla {

const char* to_string(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return "invalid argument";
    case ErrorCode::kUnsupported: return "unsupported";
    case ErrorCode::kCudaError: return "CUDA error";
    case ErrorCode::kDeviceCheckFailed: return "device check failed";
  }
  return "unknown";
}

const char* to_string(DType dtype) {
  switch (dtype) {
    case DType::kFloat32: return "float32";
    case DType::kBFloat16: return "bfloat16";
    case DType::kFloat8E4M3: return "float8_e4m3";
    case DType::kInt32: return "int32";
  }
  return "unknown";
}

std::size_t element_size(DType dtype) {
  switch (dtype) {
    case DType::kFloat32: return 4;
    case DType::kBFloat16: return 2;
    case DType::kFloat8E4M3: return 1;
    case DType::kInt32: return 4;
  }
  return 0;
}

std::string to_string(const Device& device) {
  return device.is_cuda() ? "cuda:" + std::to_string(device.index) : std::string("cpu");
}

namespace {
TensorView make_view(void* data, DType dtype, std::initializer_list<std::int64_t> shape,
                     Device device) {
  if (shape.size() > static_cast<std::size_t>(kMaxRank)) {
    throw Error(ErrorCode::kInvalidArgument, "TensorView: rank " + std::to_string(shape.size()) +
                                                 " exceeds the maximum of " +
                                                 std::to_string(kMaxRank));
  }
  TensorView v;
  v.data = data;
  v.dtype = dtype;
  v.device = device;
  v.rank = static_cast<int>(shape.size());
  int i = 0;
  for (std::int64_t s : shape) v.shape[i++] = s;
  return v;
}
}  // namespace

TensorView TensorView::contiguous(void* data, DType dtype, std::initializer_list<std::int64_t> shape,
                                  Device device) {
  TensorView v = make_view(data, dtype, shape, device);
  std::int64_t step = 1;
  for (int d = v.rank - 1; d >= 0; --d) {
    v.stride[d] = step;
    step *= v.shape[d];
  }
  return v;
}

TensorView TensorView::strided(void* data, DType dtype, std::initializer_list<std::int64_t> shape,
                               std::initializer_list<std::int64_t> stride, Device device) {
  if (stride.size() != shape.size()) {
    throw Error(ErrorCode::kInvalidArgument, "TensorView: " + std::to_string(stride.size()) +
                                                 " strides for " + std::to_string(shape.size()) +
                                                 " dimensions");
  }
  TensorView v = make_view(data, dtype, shape, device);
  int i = 0;
  for (std::int64_t s : stride) v.stride[i++] = s;
  return v;
}

std::int64_t TensorView::numel() const {
  std::int64_t n = 1;
  for (int d = 0; d < rank; ++d) n *= shape[d];
  return n;
}

bool TensorView::is_contiguous() const {
  std::int64_t step = 1;
  for (int d = rank - 1; d >= 0; --d) {
    if (shape[d] != 1 && stride[d] != step) return false;
    step *= shape[d];
  }
  return true;
}

std::string TensorView::shape_string() const {
  std::ostringstream out;
  out << '[';
  for (int d = 0; d < rank; ++d) out << (d ? ", " : "") << shape[d];
  out << ']';
  return out.str();
}

}  // namespace snapmla

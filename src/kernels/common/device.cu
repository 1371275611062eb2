// Device facts the host API needs: SM count, architecture, device count and which device a
// pointer lives on. SM counts and architecture are cached per device.
#include <mutex>
#include <vector>

#include "kernels/common/cuda_utils.cuh"
#include "kernels/launch.h"

namespace snapmla::kernels {
namespace {

struct DeviceFacts {
  int sm_count = 0;
  int major = 0;
};

DeviceFacts facts_of(int device) {
  static std::mutex mutex;
  static std::vector<DeviceFacts> cache;
  std::lock_guard<std::mutex> lock(mutex);
  if (device < 0) throw Error(ErrorCode::kInvalidArgument, "device ordinal " + std::to_string(device) + " is negative");
  if (static_cast<int>(cache.size()) <= device) cache.resize(device + 1);
  DeviceFacts& f = cache[device];
  if (f.sm_count == 0) {
    cuda_check(cudaDeviceGetAttribute(&f.sm_count, cudaDevAttrMultiProcessorCount, device),
               "cudaDeviceGetAttribute(MultiProcessorCount)");
    cuda_check(cudaDeviceGetAttribute(&f.major, cudaDevAttrComputeCapabilityMajor, device),
               "cudaDeviceGetAttribute(ComputeCapabilityMajor)");
  }
  return f;
}

}  // namespace

int device_sm_count(int device) { return facts_of(device).sm_count; }

bool device_is_hopper(int device) { return facts_of(device).major == 9; }

int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    (void)cudaGetLastError();  // no driver or no device: not an error here
    return 0;
  }
  return n;
}

int pointer_device(const void* ptr) {
  if (ptr == nullptr) return -1;
  cudaPointerAttributes attr{};
  if (cudaPointerGetAttributes(&attr, ptr) != cudaSuccess) {
    (void)cudaGetLastError();
    return -1;
  }
  if (attr.type == cudaMemoryTypeDevice || attr.type == cudaMemoryTypeManaged) return attr.device;
  return -1;  // host (pinned or pageable) or unregistered
}

}  // namespace snapmla::kernels

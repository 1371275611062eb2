// gtest main of the GPU tests: exits with 77 (CTest "skipped") where no CUDA device of compute
// capability 9.x is present, otherwise runs the tests.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cstdio>

int main(int argc, char** argv) {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
    (void)cudaGetLastError();
    std::printf("snapmla GPU tests: no CUDA device found, skipping\n");
    return 77;
  }
  int major = 0;
  if (cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, 0) != cudaSuccess || major != 9) {
    std::printf("snapmla GPU tests: device 0 is not a Hopper GPU (compute capability %d.x), skipping\n", major);
    return 77;
  }
  cudaDeviceProp prop{};
  if (cudaGetDeviceProperties(&prop, 0) == cudaSuccess)
    std::printf("snapmla GPU tests on %s (%d SMs)\n", prop.name, prop.multiProcessorCount);
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}

// What the design microbenchmarks (qk_page.cu, pv_page.cu) share. One CTA an SM; the kernel
// takes its own arguments, then `long long* cycles` (the leader of each warpgroup writes its
// clock64 span to cycles[cta * warpgroups + warpgroup]) and `float* sink` (a value per thread,
// so that nothing is optimised away). time_launch runs a warm-up launch and a timed one;
// resident_operands lays out and fills the kernel's shared memory.
#pragma once

#include <cuda_runtime.h>

#include <cstdio>
#include <cstdlib>
#include <vector>

#include "kernels/sm90/decode_wgmma/components/wgmma_ops.cuh"

namespace snapmla::micro {

inline constexpr int kSmemAlign = 1024;  // wgmma's swizzled tiles start 1024-aligned

// The dynamic shared memory as a Smem, its base rounded up to kSmemAlign (launch with
// sizeof(Smem) + kSmemAlign bytes), filled with small e4m3 / bf16 codes (a hash of the byte
// index into 0x30..0x3f: e4m3 ~0.5-1, no NaN) and fenced for wgmma. Every thread of the CTA.
template <class Smem>
__device__ __forceinline__ Smem& resident_operands(unsigned char* raw) {
  using kernels::decode_wgmma::smem_u32;
  const std::uint32_t pad = (kSmemAlign - smem_u32(raw) % kSmemAlign) % kSmemAlign;
  auto& sm = *reinterpret_cast<Smem*>(raw + pad);
  auto* bytes = reinterpret_cast<std::uint8_t*>(&sm);
  for (int i = threadIdx.x; i < int(sizeof(Smem)); i += blockDim.x) bytes[i] = 0x30 | ((i * 2654435761u) >> 28);
  kernels::decode_wgmma::fence_view_async_shared();
  __syncthreads();
  return sm;
}

inline void check(cudaError_t status, const char* what) {
  if (status == cudaSuccess) return;
  std::fprintf(stderr, "microbenchmark: %s: %s\n", what, cudaGetErrorString(status));
  std::exit(1);
}

inline int sm_count() {
  int sms = 0;
  check(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0), "SM count");
  return sms;
}

struct Timing {
  std::vector<long long> cycles;  // [cta * warpgroups + warpgroup]
  int warpgroups = 0;
  float ms = 0;  // the timed launch, CUDA events
  // Mean cycles of warpgroup wg over the CTAs, divided by `per` (the iterations each timed).
  double mean(int wg, double per) const {
    double c = 0;
    const std::size_t ctas = cycles.size() / warpgroups;
    for (std::size_t b = 0; b < ctas; ++b) c += cycles[b * warpgroups + wg];
    return c / (ctas * per);
  }
};

template <class... KernelArgs, class... Args>
Timing time_launch(const char* name, void (*kernel)(KernelArgs...), int blocks, int threads, int smem, int warpgroups,
                   Args... args) {
  Timing t;
  t.warpgroups = warpgroups;
  long long* cycles = nullptr;
  float* sink = nullptr;
  check(cudaMalloc(&cycles, blocks * warpgroups * sizeof(long long)), "cudaMalloc cycles");
  check(cudaMalloc(&sink, blocks * threads * sizeof(float)), "cudaMalloc sink");
  check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, smem), "smem attribute");
  kernel<<<blocks, threads, smem>>>(args..., cycles, sink);  // warm-up
  check(cudaGetLastError(), "warm-up launch");
  cudaEvent_t e0, e1;
  check(cudaEventCreate(&e0), "event");
  check(cudaEventCreate(&e1), "event");
  check(cudaEventRecord(e0), "event record");
  kernel<<<blocks, threads, smem>>>(args..., cycles, sink);
  check(cudaGetLastError(), "launch");
  check(cudaEventRecord(e1), "event record");
  check(cudaDeviceSynchronize(), name);
  check(cudaEventElapsedTime(&t.ms, e0, e1), "event time");
  t.cycles.resize(blocks * warpgroups);
  check(cudaMemcpy(t.cycles.data(), cycles, t.cycles.size() * sizeof(long long), cudaMemcpyDeviceToHost),
        "copy cycles");
  check(cudaEventDestroy(e0), "event destroy");
  check(cudaEventDestroy(e1), "event destroy");
  check(cudaFree(cycles), "cudaFree");
  check(cudaFree(sink), "cudaFree");
  return t;
}

}  // namespace snapmla::micro

// The L2 flush between timed calls, shared by `snapmla bench` and FlashMLA's same-run compare
// (bench/external/flashmla_compare.cu), so that both time the same conditions.
//
// Two ways to push the previous call's data out of the L2 before a timed call:
//   memset  cudaMemsetAsync of a buffer of 2x the L2: the L2 is left full of dirty lines, which
//           the timed call writes back to HBM as it evicts them (up to the L2's size of extra
//           write traffic inside the timed region). This is what triton's do_bench does.
//   read    a kernel reads the same buffer (ld.global.cg: through the L2, not the L1): the L2 is
//           left full of clean lines, as after a layer that streamed its weights.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace snapmla::bench {

enum class L2Flush { kMemset, kRead };

// Parses "memset" / "read"; false for anything else.
inline bool parse_l2_flush(const char* text, L2Flush& out) {
  if (std::strcmp(text, "memset") == 0) return out = L2Flush::kMemset, true;
  if (std::strcmp(text, "read") == 0) return out = L2Flush::kRead, true;
  return false;
}
inline const char* l2_flush_name(L2Flush f) { return f == L2Flush::kMemset ? "memset" : "read"; }

// Every 16 bytes of the buffer read once; `sink` is written only if the XOR of all of them equals
// `never` (a value the caller picks so that it does not happen), which keeps the loads alive.
__global__ void read_through_l2(const int4* buffer, std::size_t count, std::uint32_t never, std::uint32_t* sink) {
  std::uint32_t acc = 0;
  for (std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; i < count;
       i += std::size_t(gridDim.x) * blockDim.x) {
    const int4 v = __ldcg(buffer + i);
    acc ^= static_cast<std::uint32_t>(v.x ^ v.y ^ v.z ^ v.w);
  }
  if (acc == never) *sink = acc;
}

// `buffer` holds `bytes` (a multiple of 16) plus 4 bytes of sink after them.
inline cudaError_t flush_l2(L2Flush how, void* buffer, std::size_t bytes, int pass, cudaStream_t stream) {
  if (how == L2Flush::kMemset) return cudaMemsetAsync(buffer, pass & 0xff, bytes, stream);
  auto* sink = reinterpret_cast<std::uint32_t*>(static_cast<char*>(buffer) + bytes);
  read_through_l2<<<1024, 512, 0, stream>>>(static_cast<const int4*>(buffer), bytes / 16, 0x9e3779b9u, sink);
  return cudaGetLastError();
}

}  // namespace snapmla::bench

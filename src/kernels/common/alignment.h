// Host-side alignment checks of the fast decode kernels' vector loads and stores (plain C++).
#pragma once

#include <cstdint>

#include "kernels/params.h"
#include "snapmla/cache.h"

namespace snapmla::kernels {

inline bool aligned_to(const void* ptr, std::uintptr_t bytes) {
  return reinterpret_cast<std::uintptr_t>(ptr) % bytes == 0;
}

// Whether TMA can read the FP8 cache (decode_wgmma/components/tma_load.cuh): at least one page,
// and token coordinates within int32.
inline bool tma_reads_cache(const DecodeParams& p) {
  return p.fp8_cache.num_pages > 0 && static_cast<long long>(p.fp8_cache.num_pages) * kPageSize <= 0x7fffffffLL;
}

// The FP8 query and cache planes take 16-byte loads: q_nope rows (1-byte elements), q_rope rows
// (2-byte elements) and the three cache planes must be 16-byte aligned, strides included.
inline bool fp8_inputs_16b_aligned(const DecodeParams& p) {
  constexpr int kBytes = 16;
  if (!aligned_to(p.fp8_cache.kv_fp8, kBytes) || !aligned_to(p.fp8_cache.kv_rope, kBytes) ||
      !aligned_to(p.fp8_cache.kv_scale, kBytes) || !aligned_to(p.q_nope, kBytes) || !aligned_to(p.q_rope, kBytes))
    return false;
  for (int k = 0; k < 3; ++k)
    if (p.q_nope_stride[k] % kBytes != 0 || p.q_rope_stride[k] % (kBytes / 2) != 0) return false;
  return true;
}

}  // namespace snapmla::kernels

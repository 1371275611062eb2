// Register conversions of staged cache/query data to fp32 (all exact).
#pragma once

#include <cuda_fp16.h>
#include <cuda_fp8.h>

#include <cstdint>

namespace snapmla::kernels::decode {

// Two e4m3 codes (low byte first) -> two floats, through the exact e4m3 -> f16 conversion.
__device__ __forceinline__ float2 e4m3x2_to_float2(std::uint16_t pair) {
  const __half2_raw h = __nv_cvt_fp8x2_to_halfraw2(static_cast<__nv_fp8x2_storage_t>(pair), __NV_E4M3);
  return __half22float2(__half2(h));
}

// Four e4m3 codes packed in a word -> out[0..3].
__device__ __forceinline__ void e4m3x4_to_float(std::uint32_t w, float* out) {
  const float2 lo = e4m3x2_to_float2(static_cast<std::uint16_t>(w & 0xffffu));
  const float2 hi = e4m3x2_to_float2(static_cast<std::uint16_t>(w >> 16));
  out[0] = lo.x; out[1] = lo.y; out[2] = hi.x; out[3] = hi.y;
}

// Two bf16 codes packed in a word -> out[0..1].
__device__ __forceinline__ void bf16x2_to_float(std::uint32_t w, float* out) {
  out[0] = __uint_as_float(w << 16);
  out[1] = __uint_as_float(w & 0xffff0000u);
}

// Words holding `n_values` values of the given format -> floats.
template <bool kFp8, int kWords>
__device__ __forceinline__ void words_to_float(const std::uint32_t (&w)[kWords], float* out) {
#pragma unroll
  for (int k = 0; k < kWords; ++k) {
    if constexpr (kFp8) e4m3x4_to_float(w[k], out + 4 * k);
    else bf16x2_to_float(w[k], out + 2 * k);
  }
}

}  // namespace snapmla::kernels::decode

// Device-side row quantization (docs/numerics.md "Scales"): one warp quantizes one 576-value
// row into 512 e4m3 codes, one fp32 scale and 64 bf16 codes, bit for bit like
// ref::quantize_row. Lane l owns content values l + 32 k (k < 16) and rope values l + 32 k
// (k < 2), so every global access of the warp is contiguous whatever the row's alignment.
#pragma once

#include <cstdint>

#include "common/codecs.h"
#include "common/quant_rules.h"
#include "kernels/common/cuda_utils.cuh"
#include "snapmla/cache.h"

namespace snapmla::kernels {

inline constexpr int kContentPerLane = kDimLatent / kWarpSize;  // 16
inline constexpr int kRopePerLane = kDimRope / kWarpSize;       // 2

// src: 576 bf16; dst_content: 512 e4m3, dst_scale: 1 float, dst_rope: 64 bf16.
__device__ __forceinline__ void quantize_row_warp(const std::uint16_t* __restrict__ src,
                                                  std::uint8_t* __restrict__ dst_content,
                                                  float* __restrict__ dst_scale,
                                                  std::uint16_t* __restrict__ dst_rope) {
  const int lane = threadIdx.x % kWarpSize;
  float content[kContentPerLane];
  float rope[kRopePerLane];
  float amax = 0.0f;
#pragma unroll
  for (int k = 0; k < kContentPerLane; ++k) {
    content[k] = bf16_to_float(src[lane + kWarpSize * k]);
    amax = nan_sticky_max(amax, fabsf(content[k]));
  }
#pragma unroll
  for (int k = 0; k < kRopePerLane; ++k) {
    rope[k] = bf16_to_float(src[kDimLatent + lane + kWarpSize * k]);
    amax = nan_sticky_max(amax, nonfinite_as_nan(rope[k]));
  }
  // nan_sticky_max is exact and keeps NaN in any order, so the tree gives the serial result.
  amax = warp_reduce(amax, [](float a, float b) { return nan_sticky_max(a, b); });
  const float s = scale_from_amax(amax);
#pragma unroll
  for (int k = 0; k < kContentPerLane; ++k)
    dst_content[lane + kWarpSize * k] = e4m3_from_float(__fdiv_rn(content[k], s));
#pragma unroll
  for (int k = 0; k < kRopePerLane; ++k)
    dst_rope[lane + kWarpSize * k] = bf16_from_float(__fdiv_rn(rope[k], s));
  if (lane == 0) *dst_scale = s;
}

}  // namespace snapmla::kernels

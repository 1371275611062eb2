// combine: merges the partial results of requests with more than one split (docs/numerics.md
// "Split-KV"), in the same order as ref::combine_splits:
//   M = max_i lse2_i, S = sum_i exp2(lse2_i - M), lse2 = M + log2 S, O = sum_i exp2(lse2_i - lse2) O_i
// One CTA per request (those with a single split exit at once: the split kernel wrote them),
// one warp per query row, each lane owning 16 of the 512 output values.
#include <cstdint>

#include "common/codecs.h"
#include "common/quant_rules.h"
#include "kernels/common/cuda_utils.cuh"
#include "kernels/launch.h"
#include "snapmla/cache.h"

namespace snapmla::kernels {
namespace {

constexpr int kWarpsPerBlock = 8;
constexpr int kValuesPerLane = kDimLatent / kWarpSize;  // 16

__global__ void __launch_bounds__(kWarpsPerBlock * kWarpSize) combine_kernel(DecodeParams p) {
  const int r = blockIdx.x;
  const int first = p.split_begin[r];
  const int count = p.split_begin[r + 1] - first;
  if (count <= 1) return;
  const int rows = p.s_q * p.h_q;
  const int lane = threadIdx.x % kWarpSize;
  const float inf = __int_as_float(0x7f800000);
  for (int row = threadIdx.x / kWarpSize; row < rows; row += kWarpsPerBlock) {
    float m = -inf;
    for (int k = 0; k < count; ++k) m = fmaxf(m, p.partial_lse[static_cast<long long>(first + k) * rows + row]);
    float o[kValuesPerLane] = {};
    float lse2 = -inf;
    if (m != -inf) {
      float sum = 0.0f;
      for (int k = 0; k < count; ++k)
        sum = __fadd_rn(sum, exp2f(p.partial_lse[static_cast<long long>(first + k) * rows + row] - m));
      lse2 = m + log2f(sum);
      for (int k = 0; k < count; ++k) {
        const long long slot = static_cast<long long>(first + k) * rows + row;
        const float w = exp2f(p.partial_lse[slot] - lse2);
        const float* src = p.partial_o + slot * kDimLatent;
#pragma unroll
        for (int j = 0; j < kValuesPerLane; ++j)
          o[j] = __fadd_rn(o[j], __fmul_rn(w, src[lane + kWarpSize * j]));
      }
    }
    const int i = row / p.h_q, h = row % p.h_q;
    std::uint16_t* out = p.out + r * p.out_stride[0] + i * p.out_stride[1] + h * p.out_stride[2];
#pragma unroll
    for (int j = 0; j < kValuesPerLane; ++j) out[lane + kWarpSize * j] = bf16_from_float(o[j]);
    if (lane == 0)
      p.lse[r * p.lse_stride[0] + h * p.lse_stride[1] + i * p.lse_stride[2]] = lse2 == -inf ? inf : lse2 * kLn2;
  }
}

}  // namespace

void launch_combine(const DecodeParams& params, StreamHandle stream) {
  if (params.batch <= 0) return;
  combine_kernel<<<params.batch, kWarpsPerBlock * kWarpSize, 0, to_stream(stream)>>>(params);
  check_launch("combine kernel launch");
}

}  // namespace snapmla::kernels

// quantize_query: BF16 absorbed query [b, s_q, h_q, 576] -> (q_nope e4m3, q_scale, q_rope bf16).
// One warp per (b, i, h) row; see quantize_row.cuh for the arithmetic.
#include "kernels/common/quantize_row.cuh"
#include "kernels/launch.h"

namespace snapmla::kernels {
namespace {

constexpr int kWarpsPerBlock = 8;

__global__ void __launch_bounds__(kWarpsPerBlock * kWarpSize)
quantize_query_kernel(QuantizeQueryParams p) {
  const long long row = static_cast<long long>(blockIdx.x) * kWarpsPerBlock + threadIdx.x / kWarpSize;
  const long long rows = static_cast<long long>(p.batch) * p.s_q * p.h_q;
  if (row >= rows) return;
  const long long h = row % p.h_q;
  const long long i = (row / p.h_q) % p.s_q;
  const long long b = row / (static_cast<long long>(p.h_q) * p.s_q);
  const auto at = [&](const std::int64_t* stride) { return b * stride[0] + i * stride[1] + h * stride[2]; };
  quantize_row_warp(p.q + at(p.q_stride), p.q_nope + at(p.q_nope_stride), p.q_scale + at(p.q_scale_stride),
                    p.q_rope + at(p.q_rope_stride));
}

}  // namespace

void launch_quantize_query(const QuantizeQueryParams& params, StreamHandle stream) {
  const long long rows = static_cast<long long>(params.batch) * params.s_q * params.h_q;
  if (rows <= 0) return;
  quantize_query_kernel<<<ceil_div(rows, kWarpsPerBlock), kWarpsPerBlock * kWarpSize, 0,
                          to_stream(stream)>>>(params);
  check_launch("quantize_query kernel launch");
}

}  // namespace snapmla::kernels

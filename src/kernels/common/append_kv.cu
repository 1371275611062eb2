// append_kv: BF16 rows [n, 576] -> the three planes of the FP8 cache at slot = page * 64 + offset.
// One warp per row. A negative slot is padding; a slot past the cache is skipped (checked mode
// rejects it on the host side before this kernel runs), so nothing is ever written out of bounds.
#include "kernels/common/quantize_row.cuh"
#include "kernels/launch.h"

namespace snapmla::kernels {
namespace {

constexpr int kWarpsPerBlock = 8;

__global__ void __launch_bounds__(kWarpsPerBlock * kWarpSize) append_kv_kernel(AppendParams p) {
  const long long n = static_cast<long long>(blockIdx.x) * kWarpsPerBlock + threadIdx.x / kWarpSize;
  if (n >= p.num_tokens) return;
  const long long slot = p.slots[n];
  const long long capacity = static_cast<long long>(p.cache.num_pages) * kPageSize;
  if (slot < 0 || slot >= capacity) return;
  quantize_row_warp(p.kv + n * p.kv_row_stride, p.cache.kv_fp8 + slot * kDimLatent, p.cache.kv_scale + slot,
                    p.cache.kv_rope + slot * kDimRope);
}

}  // namespace

void launch_append_kv(const AppendParams& params, StreamHandle stream) {
  if (params.num_tokens <= 0) return;
  append_kv_kernel<<<ceil_div(params.num_tokens, kWarpsPerBlock), kWarpsPerBlock * kWarpSize, 0,
                     to_stream(stream)>>>(params);
  check_launch("append_kv kernel launch");
}

}  // namespace snapmla::kernels

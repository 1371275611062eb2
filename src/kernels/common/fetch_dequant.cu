// fetch_dequant: cache slots -> BF16 [c_kv * s | k_rope * s] (one fp32 multiply, then bf16),
// exactly like ref::fetch_dequant. Negative or out-of-range slots give zeros. One warp per row.
#include "common/codecs.h"
#include "kernels/common/cuda_utils.cuh"
#include "kernels/launch.h"
#include "snapmla/cache.h"

namespace snapmla::kernels {
namespace {

constexpr int kWarpsPerBlock = 8;

__global__ void __launch_bounds__(kWarpsPerBlock * kWarpSize) fetch_dequant_kernel(FetchParams p) {
  const long long n = static_cast<long long>(blockIdx.x) * kWarpsPerBlock + threadIdx.x / kWarpSize;
  if (n >= p.num_tokens) return;
  const int lane = threadIdx.x % kWarpSize;
  const long long slot = p.slots[n];
  const long long capacity = static_cast<long long>(p.cache.num_pages) * kPageSize;
  std::uint16_t* dst = p.out + n * p.out_row_stride;
  if (slot < 0 || slot >= capacity) {
    for (int d = lane; d < kDimQK; d += kWarpSize) dst[d] = 0;
    return;
  }
  const float s = p.cache.kv_scale[slot];
  const std::uint8_t* content = p.cache.kv_fp8 + slot * kDimLatent;
  const std::uint16_t* rope = p.cache.kv_rope + slot * kDimRope;
  for (int d = lane; d < kDimLatent; d += kWarpSize)
    dst[d] = bf16_from_float(__fmul_rn(e4m3_to_float(content[d]), s));
  for (int j = lane; j < kDimRope; j += kWarpSize)
    dst[kDimLatent + j] = bf16_from_float(__fmul_rn(bf16_to_float(rope[j]), s));
}

}  // namespace

void launch_fetch_dequant(const FetchParams& params, StreamHandle stream) {
  if (params.num_tokens <= 0) return;
  fetch_dequant_kernel<<<ceil_div(params.num_tokens, kWarpsPerBlock), kWarpsPerBlock * kWarpSize, 0,
                         to_stream(stream)>>>(params);
  check_launch("fetch_dequant kernel launch");
}

}  // namespace snapmla::kernels

// combine: merges the partial results of requests with more than one split (docs/numerics.md
// "Split-KV"), in the same order as ref::combine_splits:
//   M = max_i lse2_i, S = sum_i exp2(lse2_i - M), lse2 = M + log2 S, O = sum_i exp2(lse2_i - lse2) O_i
// Grid (request, group of 8 query rows, part of the 512 dims), one warp per row and dim part:
// a small batch with many splits (b = 1 spread over every SM) still fills the GPU. Lane k of a
// warp holds the LSE and weight of splits k, k + 32, ...; the sums run in split order (the
// reference's rounding) with the weights broadcast by shuffles; each lane owns one float4 of
// each 128 output values of its dim part (coalesced 512-byte rows), and kSplitUnroll splits are
// loaded before they are added, so the loads of a long split list overlap instead of queueing
// one latency each (b = 1: the combine was 2-3x the split kernel's time with one warp a row and
// 4 splits in flight). Requests with a single split exit at once: the split kernel wrote them;
// so do those the split kernel merged itself (at most `merged_up_to` splits, merge_splits.cuh).
// The kernel follows the split kernel by programmatic dependent launch (launch_after_split_kernel).
#include <cstdint>

#include "common/codecs.h"
#include "common/quant_rules.h"
#include "kernels/common/cuda_utils.cuh"
#include "kernels/launch.h"
#include "snapmla/cache.h"

namespace snapmla::kernels {
namespace {

constexpr int kWarpsPerBlock = 8;
constexpr unsigned kFullMask = 0xffffffffu;

// Two instantiations. Few blocks (a small batch, many splits a request): 4 dim parts (grid z),
// kSplitUnroll = 16 loads in flight a lane, 90 registers, 2 blocks a SM. Blocks for more than
// one wave of that (a large batch, a few splits a request): that one ran 4 latency-bound waves
// (128x1x16x8192: 13 us in ncu, 20 % of DRAM bandwidth), so 2 dim parts (half the blocks,
// 2 float4 a lane), 4 splits in flight and 4 blocks a SM (64 registers): 9.7 us with 4 dim parts
// at 6 blocks a SM, and 1-2 us less again with 2 (docs/perf.md, v30).
template <int kDimParts, int kSplitUnroll, int kMinBlocksPerSm>
__global__ void __launch_bounds__(kWarpsPerBlock * kWarpSize, kMinBlocksPerSm) combine_kernel(DecodeParams p,
                                                                                             int merged_up_to) {
  const int r = blockIdx.x;
  const int first = p.split_begin[r];
  const int count = p.split_begin[r + 1] - first;
  const int rows = p.s_q * p.h_q;
  const int row = blockIdx.y * kWarpsPerBlock + threadIdx.x / kWarpSize;
  if (count <= merged_up_to || row >= rows) return;
  // Launched as the split kernel's programmatic dependent (launch_after_split_kernel):
  // split_begin comes from plan_decode, which finished before the split kernel started; the
  // partials are read only after this wait.
  wait_for_primary_grid();
  const int lane = threadIdx.x % kWarpSize;
  constexpr int kVectorsPerLane = kDimLatent / (4 * kWarpSize * kDimParts);  // float4s a lane
  const int dim0 = blockIdx.z * (kDimLatent / kDimParts);  // the dim part's first dim
  const float inf = __int_as_float(0x7f800000);
  const auto lse_of = [&](int k) { return p.partial_lse[static_cast<long long>(first + k) * rows + row]; };

  float m = -inf;
  for (int k = lane; k < count; k += kWarpSize) m = fmaxf(m, lse_of(k));
#pragma unroll
  for (int d = kWarpSize / 2; d > 0; d /= 2) m = fmaxf(m, __shfl_xor_sync(kFullMask, m, d));

  float4 o[kVectorsPerLane];
#pragma unroll
  for (int j = 0; j < kVectorsPerLane; ++j) o[j] = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
  float lse2 = -inf;
  if (m != -inf) {
    float sum = 0.0f;  // in split order, as the reference
    for (int base = 0; base < count; base += kWarpSize) {
      const float e = base + lane < count ? exp2f(lse_of(base + lane) - m) : 0.0f;
      const int n = min(kWarpSize, count - base);
      for (int k = 0; k < n; ++k) sum = __fadd_rn(sum, __shfl_sync(kFullMask, e, k));
    }
    lse2 = m + log2f(sum);
    for (int base = 0; base < count; base += kWarpSize) {
      const float w_lane = base + lane < count ? exp2f(lse_of(base + lane) - lse2) : 0.0f;
      const int n = min(kWarpSize, count - base);
      for (int k0 = 0; k0 < n; k0 += kSplitUnroll) {
        float4 v[kSplitUnroll][kVectorsPerLane];
#pragma unroll
        for (int u = 0; u < kSplitUnroll; ++u) {
          if (k0 + u >= n) break;
          const float4* src = reinterpret_cast<const float4*>(
              p.partial_o + (static_cast<long long>(first + base + k0 + u) * rows + row) * kDimLatent + dim0);
#pragma unroll
          for (int j = 0; j < kVectorsPerLane; ++j) v[u][j] = src[lane + kWarpSize * j];
        }
#pragma unroll
        for (int u = 0; u < kSplitUnroll; ++u) {
          const float w = __shfl_sync(kFullMask, w_lane, (k0 + u) % kWarpSize);  // every lane takes part
          if (k0 + u >= n) break;
#pragma unroll
          for (int j = 0; j < kVectorsPerLane; ++j) {
            o[j].x = __fadd_rn(o[j].x, __fmul_rn(w, v[u][j].x));
            o[j].y = __fadd_rn(o[j].y, __fmul_rn(w, v[u][j].y));
            o[j].z = __fadd_rn(o[j].z, __fmul_rn(w, v[u][j].z));
            o[j].w = __fadd_rn(o[j].w, __fmul_rn(w, v[u][j].w));
          }
        }
      }
    }
  }
  const auto [i, h] = query_row(row, p.h_q);
  std::uint16_t* out = p.out + r * p.out_stride[0] + i * p.out_stride[1] + h * p.out_stride[2];
#pragma unroll
  for (int j = 0; j < kVectorsPerLane; ++j) {
    const int d = dim0 + 4 * (lane + kWarpSize * j);
    out[d + 0] = bf16_from_float(o[j].x);
    out[d + 1] = bf16_from_float(o[j].y);
    out[d + 2] = bf16_from_float(o[j].z);
    out[d + 3] = bf16_from_float(o[j].w);
  }
  if (lane == 0 && blockIdx.z == 0)
    p.lse[r * p.lse_stride[0] + h * p.lse_stride[1] + i * p.lse_stride[2]] = reported_lse(lse2);
}

// Launched with programmatic stream serialization after the split kernel: the split kernels do
// not signal early (griddepcontrol.launch_dependents), so the combine's blocks are scheduled as
// the last split CTAs exit and wait in wait_for_primary_grid. Signalled at each split CTA's
// start, the 64-row kernel's calls at b = 1 and 8 with 8K tokens lost 1.5-3 us (docs/perf.md,
// v41; not profiled: the combine's blocks then take the first SMs to go idle, two a SM, where
// launched later they spread one a SM).
template <int kDimParts, int kSplitUnroll, int kMinBlocksPerSm>
void launch_after_split_kernel(const DecodeParams& params, StreamHandle stream, int merged_up_to, unsigned row_groups) {
  cudaLaunchAttribute attribute{};
  attribute.id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attribute.val.programmaticStreamSerializationAllowed = 1;
  cudaLaunchConfig_t config{};
  config.gridDim = dim3(params.batch, row_groups, kDimParts);
  config.blockDim = dim3(kWarpsPerBlock * kWarpSize);
  config.dynamicSmemBytes = 0;
  config.stream = to_stream(stream);
  config.attrs = &attribute;
  config.numAttrs = 1;
  cuda_check(cudaLaunchKernelEx(&config, combine_kernel<kDimParts, kSplitUnroll, kMinBlocksPerSm>, params, merged_up_to),
             "combine kernel launch");
}

}  // namespace

void launch_combine(const DecodeParams& params, StreamHandle stream, int merged_up_to) {
  const int rows = params.s_q * params.h_q;
  if (params.batch <= 0 || rows <= 0) return;
  const unsigned row_groups = ceil_div(rows, kWarpsPerBlock);
  const long long small_blocks = static_cast<long long>(params.batch) * row_groups * 4;
  if (small_blocks > 2ll * current_device_sm_count("combine kernel launch")) {  // more than one wave of the small-batch form
    launch_after_split_kernel<2, 4, 4>(params, stream, merged_up_to, row_groups);
  } else {
    launch_after_split_kernel<4, 16, 1>(params, stream, merged_up_to, row_groups);
  }
  check_launch("combine kernel launch");
}

}  // namespace snapmla::kernels

// The combine step inside a split kernel (the 64-row wgmma kernel). A CTA that has written its
// split of request b (partial_o, partial_lse) counts itself in on the request's arrival counter;
// the CTA that arrives last merges the request's splits into out / lse after its own segments
// and resets the counter for the next call (the planner zeroed it). The merges overlap the
// other CTAs' work (one CTA a SM, parts of unequal duration), and the combine kernel that
// follows has nothing left to do for these requests. One CTA reads all of a request's
// partials, so only requests of at most kMaxInKernelMergeSplits splits are merged here (a short
// batch spread over every SM has hundreds); the combine kernel, spread over the whole GPU,
// merges the others.
//
// The arithmetic and its order are those of combine.cu and ref::combine_splits: M = max_k lse2_k,
// S = the sum in split order of exp2(lse2_k - M), lse2 = M + log2 S, and
// O = the sum in split order of exp2(lse2_k - lse2) * O_k, each product and sum rounded once,
// so a merged request is bit-identical to one merged by the combine kernel (tested).
#pragma once

#include <cstdint>

#include "common/codecs.h"
#include "common/quant_rules.h"
#include "kernels/params.h"
#include "sched/schedule.h"
#include "snapmla/cache.h"

namespace snapmla::kernels {

using sched::kMaxInKernelMergeSplits;

// Called by the threads that wrote the CTA's partials of request b, row tile `tile` (thread 0
// among them; a producer warpgroup need not take part), if the request has
// 2..kMaxInKernelMergeSplits splits: `sync` is their barrier, `flag` a shared int that carries
// the answer. True in the CTA that wrote the last of the splits, which may then read everyone's
// partials.
template <class Sync>
__device__ __forceinline__ bool arrive_split(const DecodeParams& p, int b, int tile, int splits, Sync&& sync,
                                             int& flag) {
  __threadfence();  // release: this thread's partial stores before the CTA's arrival
  sync();
  if (threadIdx.x == 0) {
    std::int32_t* counter = p.split_done + static_cast<long long>(b) * sched::merge_tiles_of(p.s_q * p.h_q) + tile;
    const bool last = atomicAdd(counter, 1) + 1 == splits;
    if (last) *counter = 0;  // every split has arrived: nobody touches it again in this call
    flag = last;
  }
  sync();
  const bool last = flag != 0;
  if (last) __threadfence();  // acquire: the other CTAs' partials, read below through L2
  return last;
}

// Whether the CTA writing a split of a request of `splits` splits takes part in the merge.
// Only the first and the last segment of a part can belong to a request of several splits (the
// segments between are whole requests; tested in test_schedule.cpp), so a CTA has at most two
// merges to run, kept in PendingMerges and run after its segment loop, where the loop's
// registers are free.
__device__ __forceinline__ bool merges_in_kernel(const DecodeParams& p, int splits) {
  return p.split_done != nullptr && splits > 1 && splits <= kMaxInKernelMergeSplits;
}

struct PendingMerges {
  int first = -1, last = -1;  // requests, -1: none
  __device__ __forceinline__ void add(int b) { (first < 0 ? first : last) = b; }
  template <class Merge>
  __device__ __forceinline__ void run(Merge&& merge) const {
    if (first >= 0) merge(first);
    if (last >= 0) merge(last);
  }
};

// What merge_splits reads and writes, passed by value: merge_splits stays out of line, so that
// its ~1,100 instructions sit apart from the code every call runs (fetched cold after an L2
// flush: 0.5-1 us at b = 1, docs/perf.md sessions 21-22); a DecodeParams& made ptxas copy
// every parameter to the stack.
struct MergeArgs {
  const std::int32_t* split_begin;
  const float* partial_lse;
  const float* partial_o;
  std::uint16_t* out;
  float* lse;
  std::int64_t out_stride[3], lse_stride[3];
  int s_q, h_q;
  __device__ __forceinline__ explicit MergeArgs(const DecodeParams& p)
      : split_begin(p.split_begin), partial_lse(p.partial_lse), partial_o(p.partial_o), out(p.out), lse(p.lse),
        out_stride{p.out_stride[0], p.out_stride[1], p.out_stride[2]},
        lse_stride{p.lse_stride[0], p.lse_stride[1], p.lse_stride[2]}, s_q(p.s_q), h_q(p.h_q) {}
};

// Merges request b's splits for query rows [row0, row0 + kTileRows) (those below s_q * h_q).
// kThreads / kTileRows threads share a row; each owns every (kThreads / kTileRows)-th float4 of
// its 512 dims, so a row's threads read consecutive 16-byte pieces. The dims go in passes of
// kVecsPerPass float4s, the loads of all splits of a pass in flight at once (16 kVecsPerPass
// registers; the 64-row kernel takes 4). No barrier inside. The kernel calls it after its
// segment loop, where nothing else is live (inside the loop, ptxas spilled).
template <int kThreads, int kTileRows, int kVecsPerPass>
__device__ __noinline__ void merge_splits(const MergeArgs p, int b, int row0) {
  constexpr int kThreadsPerRow = kThreads / kTileRows;
  static_assert(kThreadsPerRow * kTileRows == kThreads && kThreadsPerRow <= kDimLatent / 4);
  constexpr int kVecsPerThread = kDimLatent / 4 / kThreadsPerRow;
  static_assert(kVecsPerThread % kVecsPerPass == 0);
  const int rows = p.s_q * p.h_q;
  const int row = row0 + static_cast<int>(threadIdx.x) / kThreadsPerRow;
  if (row >= rows) return;
  const int part = static_cast<int>(threadIdx.x) % kThreadsPerRow;
  const int first = p.split_begin[b], count = p.split_begin[b + 1] - first;
  const float inf = __int_as_float(0x7f800000);
  float lse[kMaxInKernelMergeSplits];
#pragma unroll
  for (int k = 0; k < kMaxInKernelMergeSplits; ++k)
    lse[k] = k < count ? __ldcg(p.partial_lse + static_cast<long long>(first + k) * rows + row) : -inf;

  float m = -inf;
#pragma unroll
  for (int k = 0; k < kMaxInKernelMergeSplits; ++k) m = fmaxf(m, lse[k]);
  float lse2 = -inf;  // a row no split saw: out = 0
  float w[kMaxInKernelMergeSplits];
  if (m != -inf) {
    float sum = 0.0f;
#pragma unroll
    for (int k = 0; k < kMaxInKernelMergeSplits; ++k)
      if (k < count) sum = __fadd_rn(sum, exp2f(lse[k] - m));
    lse2 = m + log2f(sum);
  }
#pragma unroll
  for (int k = 0; k < kMaxInKernelMergeSplits; ++k) w[k] = exp2f(lse[k] - lse2);
  const long long split_vecs = static_cast<long long>(rows) * kDimLatent / 4;  // float4s from split to split
  const float4* src = reinterpret_cast<const float4*>(p.partial_o) +
                      (static_cast<long long>(first) * rows + row) * (kDimLatent / 4) + part;
  const long long iq = row / p.h_q, h = row % p.h_q;  // not query_row: see decode_wgmma's epilogue
  std::uint16_t* out = p.out + b * p.out_stride[0] + iq * p.out_stride[1] + h * p.out_stride[2];
#pragma unroll 1
  for (int pass = 0; pass < kVecsPerThread; pass += kVecsPerPass) {
    float4 v[kMaxInKernelMergeSplits][kVecsPerPass];
#pragma unroll
    for (int k = 0; k < kMaxInKernelMergeSplits; ++k)
#pragma unroll
      for (int j = 0; j < kVecsPerPass; ++j)
        if (k < count && m != -inf) v[k][j] = __ldcg(src + k * split_vecs + (pass + j) * kThreadsPerRow);
    float4 o[kVecsPerPass];
#pragma unroll
    for (int j = 0; j < kVecsPerPass; ++j) o[j] = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
#pragma unroll
    for (int k = 0; k < kMaxInKernelMergeSplits; ++k)
#pragma unroll
      for (int j = 0; j < kVecsPerPass; ++j)
        if (k < count && m != -inf) {
          o[j].x = __fadd_rn(o[j].x, __fmul_rn(w[k], v[k][j].x));
          o[j].y = __fadd_rn(o[j].y, __fmul_rn(w[k], v[k][j].y));
          o[j].z = __fadd_rn(o[j].z, __fmul_rn(w[k], v[k][j].z));
          o[j].w = __fadd_rn(o[j].w, __fmul_rn(w[k], v[k][j].w));
        }
#pragma unroll
    for (int j = 0; j < kVecsPerPass; ++j) {
      const int dim = 4 * (part + (pass + j) * kThreadsPerRow);
      auto* pair = reinterpret_cast<std::uint32_t*>(out + dim);  // the kernels check out for 4-byte stores
      pair[0] = bf16_from_float(o[j].x) | (std::uint32_t(bf16_from_float(o[j].y)) << 16);
      pair[1] = bf16_from_float(o[j].z) | (std::uint32_t(bf16_from_float(o[j].w)) << 16);
    }
  }
  if (part == 0) p.lse[b * p.lse_stride[0] + h * p.lse_stride[1] + iq * p.lse_stride[2]] = reported_lse(lse2);
}

}  // namespace snapmla::kernels

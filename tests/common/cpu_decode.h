// Runs one whole decode step of a synthetic problem through the public API on CPU views:
// quantize_query, append_kv (every used token), plan_decode, decode_fp8 or decode_bf16.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

#include "snapmla/ops.h"
#include "synth/mla_data.h"

namespace snapmla::testing {

enum class Path { kFp8, kBf16 };

struct CpuDecodeResult {
  std::vector<std::uint16_t> out;  // [b, s_q, h_q, 512] bf16
  std::vector<float> lse;          // [b, h_q, s_q]
  ref::HostResult host() const { return synth::to_host_result(out, lse); }
};

inline CpuDecodeResult cpu_decode(const ref::HostProblem& problem, Path path, int num_sm_parts = 0) {
  synth::HostTensors t(problem);
  DecodeShape shape{problem.batch, problem.s_q, problem.h_q, num_sm_parts};
  std::vector<std::uint8_t> ws_storage(decode_workspace_bytes(shape, Device::cpu()) + 256);
  void* aligned = reinterpret_cast<void*>((reinterpret_cast<std::uintptr_t>(ws_storage.data()) + 255) & ~std::uintptr_t(255));
  Workspace ws{aligned, ws_storage.size() - 256, Device::cpu()};

  CpuDecodeResult r;
  const std::size_t rows = std::size_t(problem.batch) * problem.s_q * problem.h_q;
  r.out.assign(rows * kDimLatent, 0x7fc0);  // poisoned with NaN: every element must be written
  r.lse.assign(rows, std::numeric_limits<float>::quiet_NaN());
  DecodeArgs args{shape, t.block_table_view(), t.lengths_view(), ws,
                  TensorView::contiguous(r.out.data(), DType::kBFloat16,
                                         {problem.batch, problem.s_q, problem.h_q, kDimLatent}),
                  TensorView::contiguous(r.lse.data(), DType::kFloat32, {problem.batch, problem.h_q, problem.s_q})};
  DecodeOptions options;
  options.causal = problem.causal;
  options.softmax_scale = problem.softmax_scale;
  plan_decode(shape, t.lengths_view(), ws);
  if (path == Path::kBf16) {
    decode_bf16(t.q_view(), Bf16Cache{t.bf16_cache_view()}, args, options);
    return r;
  }
  synth::HostFp8Query q(problem.batch, problem.s_q, problem.h_q);
  quantize_query(t.q_view(), q.view());
  synth::HostFp8Cache cache(problem.num_pages);
  // Slots that append_kv does not write stay NaN: decode must never read them.
  std::fill(cache.kv_fp8.begin(), cache.kv_fp8.end(), std::uint8_t(0x7f));
  std::fill(cache.kv_scale.begin(), cache.kv_scale.end(), std::numeric_limits<float>::quiet_NaN());
  std::fill(cache.kv_rope.begin(), cache.kv_rope.end(), std::uint16_t(0x7fc0));
  append_kv(t.new_kv_view(), t.slots_view(), cache.view());
  decode_fp8(q.view(), cache.view(), args, options);
  return r;
}

}  // namespace snapmla::testing

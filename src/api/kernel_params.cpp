#include "api/kernel_params.h"

#include "common/quant_rules.h"
#include "sched/schedule.h"

namespace snapmla::api {

namespace {
template <int N>
void copy_strides(const TensorView& v, std::int64_t (&out)[N]) {
  for (int d = 0; d < N; ++d) out[d] = v.stride[d];
}
}  // namespace

kernels::Fp8CacheParams fp8_cache_params(const Fp8Cache& cache) {
  return {static_cast<int>(cache.kv_fp8.shape[0]), cache.kv_fp8.ptr<std::uint8_t>(),
          cache.kv_scale.ptr<float>(), cache.kv_rope.ptr<std::uint16_t>()};
}

kernels::DecodeParams decode_params(const DecodeArgs& args, const DecodeShape& shape,
                                    const DecodeOptions& options) {
  kernels::DecodeParams p{};
  p.batch = shape.batch;
  p.s_q = shape.s_q;
  p.h_q = shape.h_q;
  p.causal = options.causal;
  p.scale_log2 = softmax_scale_log2(options.softmax_scale);
  p.block_table = args.block_table.ptr<const std::int32_t>();
  p.block_table_stride = args.block_table.stride[0];
  p.max_pages = static_cast<int>(args.block_table.shape[1]);
  p.lengths = args.lengths.ptr<const std::int32_t>();
  p.out = args.out.ptr<std::uint16_t>();
  copy_strides(args.out, p.out_stride);
  p.lse = args.lse.ptr<float>();
  copy_strides(args.lse, p.lse_stride);
  const auto layout = sched::workspace_layout(shape.batch, shape.s_q, shape.h_q, shape.num_sm_parts);
  auto* base = static_cast<char*>(args.workspace.data);
  p.num_parts = shape.num_sm_parts;
  p.parts = base + layout.parts_offset;
  p.split_begin = reinterpret_cast<const std::int32_t*>(base + layout.split_begin_offset);
  p.partial_lse = reinterpret_cast<float*>(base + layout.partial_lse_offset);
  p.partial_o = reinterpret_cast<float*>(base + layout.partial_o_offset);
  // Kernels that can merge the splits themselves do so only when the call asks for the merge.
  p.split_done = options.combine ? reinterpret_cast<std::int32_t*>(base + layout.split_done_offset) : nullptr;
  return p;
}

void set_fp8_inputs(kernels::DecodeParams& p, const Fp8Query& q, const Fp8Cache& cache) {
  p.q_nope = q.q_nope.ptr<const std::uint8_t>();
  copy_strides(q.q_nope, p.q_nope_stride);
  p.q_scale = q.q_scale.ptr<const float>();
  copy_strides(q.q_scale, p.q_scale_stride);
  p.q_rope = q.q_rope.ptr<const std::uint16_t>();
  copy_strides(q.q_rope, p.q_rope_stride);
  p.fp8_cache = fp8_cache_params(cache);
}

void set_bf16_inputs(kernels::DecodeParams& p, const TensorView& q, const Bf16Cache& cache) {
  p.q_bf16 = q.ptr<const std::uint16_t>();
  copy_strides(q, p.q_bf16_stride);
  p.kv_bf16 = cache.kv.ptr<const std::uint16_t>();
  p.num_pages_bf16 = static_cast<int>(cache.kv.shape[0]);
}

kernels::QuantizeQueryParams quantize_query_params(const TensorView& q, const Fp8Query& out) {
  kernels::QuantizeQueryParams p{};
  p.batch = static_cast<int>(q.shape[0]);
  p.s_q = static_cast<int>(q.shape[1]);
  p.h_q = static_cast<int>(q.shape[2]);
  p.q = q.ptr<const std::uint16_t>();
  copy_strides(q, p.q_stride);
  p.q_nope = out.q_nope.ptr<std::uint8_t>();
  copy_strides(out.q_nope, p.q_nope_stride);
  p.q_scale = out.q_scale.ptr<float>();
  copy_strides(out.q_scale, p.q_scale_stride);
  p.q_rope = out.q_rope.ptr<std::uint16_t>();
  copy_strides(out.q_rope, p.q_rope_stride);
  return p;
}

}  // namespace snapmla::api

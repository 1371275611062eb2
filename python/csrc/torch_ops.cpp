// PyTorch custom operators over libsnapmla (namespace `snapmla`).
//
// Each operator turns its at::Tensor arguments into snapmla::TensorView (no copies: pointer,
// dtype, shape, strides in elements, device), runs the library call on the current CUDA stream
// of the tensors' device (or on the CPU reference for CPU tensors), and turns snapmla::Error into
// a Python exception with the message kept: ValueError for bad arguments (and for bad indices
// found by checked mode), RuntimeError for everything else.
//
// The operators are registered with TORCH_LIBRARY so that torch.compile and CUDA graphs see
// them as opaque ops; their fake (meta) implementations live in python/snapmla/_ops.py.
// The library is loaded with torch.ops.load_library: no Python module init, no pybind11.
#include <ATen/ATen.h>
#include <torch/library.h>

#if SNAPMLA_WITH_CUDA
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

#include <cstdint>
#include <optional>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "sched/schedule.h"  // the workspace layout (split_begin offset)
#include "snapmla/error.h"
#include "snapmla/ops.h"

namespace {

using snapmla::DType;
using snapmla::TensorView;

[[noreturn]] void value_error(const std::string& msg) { C10_THROW_ERROR(ValueError, msg); }

// snapmla::Error -> ValueError (bad arguments, bad indices found by checked mode) or RuntimeError.
[[noreturn]] void translate(const snapmla::Error& e) {
  if (e.code() == snapmla::ErrorCode::kInvalidArgument || e.code() == snapmla::ErrorCode::kDeviceCheckFailed)
    C10_THROW_ERROR(ValueError, e.what());
  C10_THROW_ERROR(Error, e.what());
}

std::string shape_str(const at::Tensor& t) {
  std::ostringstream s;
  s << '[';
  for (int64_t d = 0; d < t.dim(); ++d) s << (d ? ", " : "") << t.size(d);
  s << ']';
  return s.str();
}

// at::Tensor -> TensorView. `fp8_plane`: a uint8 tensor is the storage of an e4m3 plane.
TensorView to_view(const at::Tensor& t, const std::string& op, const char* arg, bool fp8_plane = false) {
  TensorView v;
  switch (t.scalar_type()) {
    case at::kBFloat16: v.dtype = DType::kBFloat16; break;
    case at::kFloat: v.dtype = DType::kFloat32; break;
    case at::kFloat8_e4m3fn: v.dtype = DType::kFloat8E4M3; break;
    case at::kInt: v.dtype = DType::kInt32; break;
    case at::kByte:
      if (fp8_plane) { v.dtype = DType::kFloat8E4M3; break; }
      [[fallthrough]];
    default:
      value_error(op + ": " + arg + ": unsupported dtype " + std::string(c10::toString(t.scalar_type())) +
                  " (snapmla takes bfloat16, float32, float8_e4m3fn (or its uint8 storage) and int32)");
  }
  if (t.dim() > snapmla::kMaxRank)
    value_error(op + ": " + arg + ": rank " + std::to_string(t.dim()) + " is not supported (at most " +
                std::to_string(snapmla::kMaxRank) + "), shape " + shape_str(t));
  if (t.is_cuda()) {
    v.device = snapmla::Device::cuda(t.get_device());
  } else if (t.is_cpu()) {
    v.device = snapmla::Device::cpu();
  } else {
    value_error(op + ": " + arg + ": tensors must live on the CPU or a CUDA device, got " + t.device().str());
  }
  v.rank = static_cast<int>(t.dim());
  for (int d = 0; d < v.rank; ++d) {
    v.shape[d] = t.size(d);
    v.stride[d] = t.stride(d);
  }
  v.data = t.numel() > 0 ? t.data_ptr() : nullptr;
  return v;
}

snapmla::Workspace to_workspace(const at::Tensor& ws, const std::string& op) {
  if (ws.scalar_type() != at::kByte || ws.dim() != 1 || !ws.is_contiguous())
    value_error(op + ": workspace: expected a contiguous 1-D uint8 tensor (decode_workspace_bytes), got dtype " +
                std::string(c10::toString(ws.scalar_type())) + " shape " + shape_str(ws));
  snapmla::Workspace w;
  w.data = ws.numel() > 0 ? ws.data_ptr() : nullptr;
  w.bytes = static_cast<std::size_t>(ws.numel());
  w.device = ws.is_cuda() ? snapmla::Device::cuda(ws.get_device()) : snapmla::Device::cpu();
  return w;
}

// Runs `f` on the device of `t` (CUDA guard + current stream), translating snapmla::Error.
template <typename F>
void run_on(const at::Tensor& t, F&& f) {
  try {
#if SNAPMLA_WITH_CUDA
    if (t.is_cuda()) {
      const c10::cuda::CUDAGuard guard(t.device());
      f(static_cast<void*>(c10::cuda::getCurrentCUDAStream(t.device().index()).stream()));
      return;
    }
#endif
    f(static_cast<void*>(nullptr));
  } catch (const snapmla::Error& e) {
    translate(e);
  }
}

// ---- operators ---------------------------------------------------------------------------------

std::tuple<at::Tensor, at::Tensor, at::Tensor> quantize_query(const at::Tensor& q) {
  const std::string op = "quantize_query";
  std::vector<int64_t> lead{0, 0, 0};
  if (q.dim() == 4) lead = {q.size(0), q.size(1), q.size(2)};
  auto opts = q.options();
  at::Tensor q_nope = at::empty({lead[0], lead[1], lead[2], snapmla::kDimLatent}, opts.dtype(at::kFloat8_e4m3fn));
  at::Tensor q_scale = at::empty({lead[0], lead[1], lead[2]}, opts.dtype(at::kFloat));
  at::Tensor q_rope = at::empty({lead[0], lead[1], lead[2], snapmla::kDimRope}, opts.dtype(at::kBFloat16));
  const TensorView qv = to_view(q, op, "q");
  snapmla::Fp8Query out{to_view(q_nope, op, "q_nope"), to_view(q_scale, op, "q_scale"),
                        to_view(q_rope, op, "q_rope")};
  run_on(q, [&](void* stream) { snapmla::quantize_query(qv, out, stream); });
  return {q_nope, q_scale, q_rope};
}

snapmla::Fp8Cache fp8_cache(const std::string& op, const at::Tensor& kv_fp8, const at::Tensor& kv_scale,
                            const at::Tensor& kv_rope) {
  return {to_view(kv_fp8, op, "kv_fp8", /*fp8_plane=*/true), to_view(kv_scale, op, "kv_scale"),
          to_view(kv_rope, op, "kv_rope")};
}

void append_kv(const at::Tensor& kv, const at::Tensor& slots, at::Tensor& kv_fp8, at::Tensor& kv_scale,
               at::Tensor& kv_rope, bool checked) {
  const std::string op = "append_kv";
  const TensorView kvv = to_view(kv, op, "kv");
  const TensorView sv = to_view(slots, op, "slots");
  const snapmla::Fp8Cache cache = fp8_cache(op, kv_fp8, kv_scale, kv_rope);
  run_on(kv, [&](void* stream) { snapmla::append_kv(kvv, sv, cache, stream, checked); });
}

at::Tensor fetch_dequant(const at::Tensor& kv_fp8, const at::Tensor& kv_scale, const at::Tensor& kv_rope,
                         const at::Tensor& slots, bool checked) {
  const std::string op = "fetch_dequant";
  const int64_t n = slots.dim() == 1 ? slots.size(0) : 0;
  at::Tensor out = at::empty({n, snapmla::kDimQK}, slots.options().dtype(at::kBFloat16));
  const snapmla::Fp8Cache cache = fp8_cache(op, kv_fp8, kv_scale, kv_rope);
  const TensorView sv = to_view(slots, op, "slots");
  const TensorView ov = to_view(out, op, "out");
  run_on(slots, [&](void* stream) { snapmla::fetch_dequant(cache, sv, ov, stream, checked); });
  return out;
}

// [num_sm_parts (resolved), workspace bytes, split_begin offset (bytes)] for a decode shape;
// max_pages: the block table's width when known (DecodeShape::max_pages), else 0.
std::vector<int64_t> workspace_layout(int64_t batch, int64_t s_q, int64_t h_q, int64_t num_sm_parts,
                                      c10::Device device, int64_t max_pages) {
  snapmla::Device dev = device.is_cuda() ? snapmla::Device::cuda(device.has_index() ? device.index() : 0)
                                         : snapmla::Device::cpu();
  try {
    snapmla::DecodeShape shape{static_cast<int>(batch), static_cast<int>(s_q), static_cast<int>(h_q),
                               static_cast<int>(num_sm_parts), static_cast<int>(max_pages)};
    if (shape.num_sm_parts == 0 && shape.s_q > 0 && shape.h_q > 0 && shape.max_pages >= 0)
      shape.num_sm_parts = snapmla::default_num_sm_parts(dev, shape.s_q, shape.h_q, shape.batch, shape.max_pages);
    const std::size_t bytes = snapmla::decode_workspace_bytes(shape, dev);
    const auto layout = snapmla::sched::workspace_layout(shape.batch, shape.s_q, shape.h_q, shape.num_sm_parts);
    return {shape.num_sm_parts, static_cast<int64_t>(bytes), static_cast<int64_t>(layout.split_begin_offset)};
  } catch (const snapmla::Error& e) {
    translate(e);
  }
}

bool cuda_available() { return snapmla::cuda_available(); }

void plan_decode(const at::Tensor& lengths, at::Tensor& workspace, int64_t s_q, int64_t h_q,
                 int64_t num_sm_parts) {
  const std::string op = "plan_decode";
  const TensorView lv = to_view(lengths, op, "cache_seqlens");
  const snapmla::Workspace ws = to_workspace(workspace, op);
  const snapmla::DecodeShape shape{lengths.dim() == 1 ? static_cast<int>(lengths.size(0)) : 0,
                                   static_cast<int>(s_q), static_cast<int>(h_q), static_cast<int>(num_sm_parts)};
  run_on(lengths, [&](void* stream) { snapmla::plan_decode(shape, lv, ws, stream); });
}

// Output tensors and the shared decode arguments.
struct DecodeCall {
  at::Tensor out, lse;
  snapmla::DecodeArgs args;
  snapmla::DecodeOptions options;
};

DecodeCall make_decode(const std::string& op, const at::Tensor& q_like, const char* q_name, int64_t q_dim,
                       const at::Tensor& block_table, const at::Tensor& lengths, const at::Tensor& workspace,
                       int64_t num_sm_parts, double softmax_scale, bool causal, bool checked) {
  if (q_like.dim() != 4 || q_like.size(3) != q_dim)
    value_error(op + ": " + q_name + ": expected shape [batch, s_q, h_q, " + std::to_string(q_dim) + "], got " +
                shape_str(q_like));
  DecodeCall c;
  const int64_t b = q_like.size(0), s_q = q_like.size(1), h_q = q_like.size(2);
  c.out = at::empty({b, s_q, h_q, snapmla::kDimLatent}, q_like.options().dtype(at::kBFloat16));
  c.lse = at::empty({b, h_q, s_q}, q_like.options().dtype(at::kFloat));
  c.args.shape = {static_cast<int>(b), static_cast<int>(s_q), static_cast<int>(h_q), static_cast<int>(num_sm_parts)};
  c.args.block_table = to_view(block_table, op, "block_table");
  c.args.lengths = to_view(lengths, op, "cache_seqlens");
  c.args.workspace = to_workspace(workspace, op);
  c.args.out = to_view(c.out, op, "out");
  c.args.lse = to_view(c.lse, op, "lse");
  c.options.causal = causal;
  c.options.softmax_scale = static_cast<float>(softmax_scale);
  c.options.checked = checked;
  return c;
}

std::tuple<at::Tensor, at::Tensor> decode_fp8(const at::Tensor& q_nope, const at::Tensor& q_scale,
                                              const at::Tensor& q_rope, const at::Tensor& kv_fp8,
                                              const at::Tensor& kv_scale, const at::Tensor& kv_rope,
                                              const at::Tensor& block_table, const at::Tensor& lengths,
                                              const at::Tensor& workspace, int64_t num_sm_parts,
                                              double softmax_scale, bool causal, bool checked) {
  const std::string op = "decode_fp8";
  DecodeCall c = make_decode(op, q_nope, "q_nope", snapmla::kDimLatent, block_table, lengths, workspace,
                             num_sm_parts, softmax_scale, causal, checked);
  const snapmla::Fp8Query q{to_view(q_nope, op, "q_nope", /*fp8_plane=*/true), to_view(q_scale, op, "q_scale"),
                            to_view(q_rope, op, "q_rope")};
  const snapmla::Fp8Cache cache = fp8_cache(op, kv_fp8, kv_scale, kv_rope);
  run_on(q_nope, [&](void* stream) {
    c.options.stream = stream;
    snapmla::decode_fp8(q, cache, c.args, c.options);
  });
  return {c.out, c.lse};
}

std::tuple<at::Tensor, at::Tensor> decode_bf16(const at::Tensor& q, const at::Tensor& kv,
                                               const at::Tensor& block_table, const at::Tensor& lengths,
                                               const at::Tensor& workspace, int64_t num_sm_parts,
                                               double softmax_scale, bool causal, bool checked) {
  const std::string op = "decode_bf16";
  DecodeCall c = make_decode(op, q, "q", snapmla::kDimQK, block_table, lengths, workspace, num_sm_parts,
                             softmax_scale, causal, checked);
  const TensorView qv = to_view(q, op, "q");
  const snapmla::Bf16Cache cache{to_view(kv, op, "k_cache")};
  run_on(q, [&](void* stream) {
    c.options.stream = stream;
    snapmla::decode_bf16(qv, cache, c.args, c.options);
  });
  return {c.out, c.lse};
}

}  // namespace

TORCH_LIBRARY(snapmla, m) {
  m.def("quantize_query(Tensor q) -> (Tensor q_nope, Tensor q_scale, Tensor q_rope)");
  m.def("append_kv(Tensor kv, Tensor slots, Tensor(a!) kv_fp8, Tensor(b!) kv_scale, Tensor(c!) kv_rope, "
        "bool checked=False) -> ()");
  m.def("fetch_dequant(Tensor kv_fp8, Tensor kv_scale, Tensor kv_rope, Tensor slots, bool checked=False) -> Tensor");
  m.def("plan_decode(Tensor cache_seqlens, Tensor(a!) workspace, int s_q, int h_q, int num_sm_parts) -> ()");
  // The workspace also holds the partial results of split requests: decode writes them as
  // scratch that no later op reads, so the schema leaves the workspace unannotated (a mutable
  // annotation would make torch.compile clone the whole workspace for every layer).
  m.def("decode_fp8(Tensor q_nope, Tensor q_scale, Tensor q_rope, Tensor kv_fp8, Tensor kv_scale, "
        "Tensor kv_rope, Tensor block_table, Tensor cache_seqlens, Tensor workspace, int num_sm_parts, "
        "float softmax_scale, bool causal, bool checked=False) -> (Tensor out, Tensor lse)");
  m.def("decode_bf16(Tensor q, Tensor k_cache, Tensor block_table, Tensor cache_seqlens, Tensor workspace, "
        "int num_sm_parts, float softmax_scale, bool causal, bool checked=False) -> (Tensor out, Tensor lse)");
  // Host-only helpers (no tensors).
  m.def("workspace_layout(int batch, int s_q, int h_q, int num_sm_parts, Device device, int max_pages=0) -> int[]",
        &workspace_layout);
  m.def("cuda_available() -> bool", &cuda_available);
}

// The same functions serve both dispatch keys: the library itself routes CPU views to the
// reference and CUDA views to the kernels.
static void register_impls(torch::Library& m) {
  m.impl("quantize_query", &quantize_query);
  m.impl("append_kv", &append_kv);
  m.impl("fetch_dequant", &fetch_dequant);
  m.impl("plan_decode", &plan_decode);
  m.impl("decode_fp8", &decode_fp8);
  m.impl("decode_bf16", &decode_bf16);
}

TORCH_LIBRARY_IMPL(snapmla, CPU, m) { register_impls(m); }
TORCH_LIBRARY_IMPL(snapmla, CUDA, m) { register_impls(m); }

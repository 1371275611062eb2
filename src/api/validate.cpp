#include "api/validate.h"

#include <cmath>
#include <sstream>

#include "common/view_access.h"
#include "sched/schedule.h"

namespace snapmla::api {

namespace {
std::string shape_of(std::initializer_list<std::int64_t> shape) {
  std::ostringstream out;
  out << '[';
  int d = 0;
  for (std::int64_t s : shape) {
    out << (d++ ? ", " : "");
    if (s < 0) out << '*'; else out << s;
  }
  out << ']';
  return out.str();
}
}  // namespace

void ArgCheck::fail(const std::string& arg, const std::string& rule, ErrorCode code) const {
  throw Error(code, std::string(op_) + ": " + arg + ": " + rule);
}

void ArgCheck::positive(std::int64_t value, const char* arg) const {
  if (value <= 0) fail(arg, "must be positive, got " + std::to_string(value));
}

void ArgCheck::tensor(const TensorView& v, const char* arg, DType dtype,
                      std::initializer_list<std::int64_t> shape) const {
  if (v.dtype != dtype)
    fail(arg, std::string("expected dtype ") + to_string(dtype) + ", got " + to_string(v.dtype));
  bool match = v.rank == static_cast<int>(shape.size());
  int d = 0;
  for (std::int64_t s : shape) {
    if (match && s >= 0 && v.shape[d] != s) match = false;
    ++d;
  }
  if (!match) fail(arg, "expected shape " + shape_of(shape) + ", got " + v.shape_string());
  for (int k = 0; k < v.rank; ++k)
    if (v.shape[k] < 0) fail(arg, "negative extent in shape " + v.shape_string());
  if (v.numel() == 0) return;
  if (v.data == nullptr) fail(arg, "null data pointer for a non-empty tensor");
  for (int k = 0; k < v.rank; ++k)
    if (v.shape[k] > 1 && v.stride[k] <= 0)
      fail(arg, "stride of dimension " + std::to_string(k) + " must be positive, got " +
                    std::to_string(v.stride[k]));
  if (v.rank > 0 && v.shape[v.rank - 1] > 1 && v.stride[v.rank - 1] != 1)
    fail(arg, "the innermost dimension must be contiguous (stride 1), got stride " +
                  std::to_string(v.stride[v.rank - 1]));
  if (reinterpret_cast<std::uintptr_t>(v.data) % element_size(dtype) != 0)
    fail(arg, "data pointer is not aligned to its element size");
}

void ArgCheck::contiguous_tensor(const TensorView& v, const char* arg, DType dtype,
                                 std::initializer_list<std::int64_t> shape) const {
  tensor(v, arg, dtype, shape);
  if (!v.is_contiguous()) fail(arg, "must be contiguous (packed row-major), got other strides");
}

void ArgCheck::same_device(const TensorView& v, const char* arg, const Device& device) const {
  if (!(v.device == device))
    fail(arg, "is on " + to_string(v.device) + " but the operation runs on " + to_string(device) +
                  " (all tensors of one call must be on the same device)");
}

DecodeShape check_decode_shape(const ArgCheck& check, const DecodeShape& shape, Device device) {
  check.positive(shape.batch, "shape.batch");
  check.positive(shape.s_q, "shape.s_q");
  check.positive(shape.h_q, "shape.h_q");
  if (shape.h_q > kMaxHeads)
    check.fail("shape.h_q", "unsupported head count " + std::to_string(shape.h_q) + " (at most " +
                                std::to_string(kMaxHeads) + ")", ErrorCode::kUnsupported);
  if (shape.s_q > kMaxQueryTokens)
    check.fail("shape.s_q", "unsupported number of query tokens " + std::to_string(shape.s_q) +
                                " (at most " + std::to_string(kMaxQueryTokens) + ")",
               ErrorCode::kUnsupported);
  if (shape.num_sm_parts < 0)
    check.fail("shape.num_sm_parts", "must be >= 0 (0 picks the device default), got " +
                                         std::to_string(shape.num_sm_parts));
  if (shape.max_pages < 0)
    check.fail("shape.max_pages", "must be >= 0 (0: the block table's width is not known), got " +
                                      std::to_string(shape.max_pages));
  DecodeShape resolved = shape;
  if (resolved.num_sm_parts == 0)
    resolved.num_sm_parts = default_num_sm_parts(device, shape.s_q, shape.h_q, shape.batch, shape.max_pages);
  return resolved;
}

void check_workspace(const ArgCheck& check, const Workspace& ws, const DecodeShape& resolved,
                     Device device) {
  if (!(ws.device == device))
    check.fail("workspace", "is on " + to_string(ws.device) + " but the operation runs on " + to_string(device));
  const std::size_t need =
      sched::workspace_layout(resolved.batch, resolved.s_q, resolved.h_q, resolved.num_sm_parts).total_bytes;
  if (ws.data == nullptr) check.fail("workspace", "null data pointer");
  if (ws.bytes < need)
    check.fail("workspace", "holds " + std::to_string(ws.bytes) + " bytes, this shape needs " +
                                std::to_string(need) + " (decode_workspace_bytes)");
  if (reinterpret_cast<std::uintptr_t>(ws.data) % 256 != 0)
    check.fail("workspace", "data pointer must be 256-byte aligned");
}

void check_decode_outputs(const ArgCheck& check, const DecodeArgs& args, Device device) {
  const DecodeShape& s = args.shape;
  check.tensor(args.block_table, "block_table", DType::kInt32, {s.batch, -1});
  check.positive(args.block_table.shape[1], "block_table.shape[1]");
  if (s.max_pages > 0 && args.block_table.shape[1] > s.max_pages)
    check.fail("block_table", "has " + std::to_string(args.block_table.shape[1]) +
                                  " pages a request, more than shape.max_pages = " + std::to_string(s.max_pages) +
                                  " that the schedule was planned for");
  check.contiguous_tensor(args.lengths, "lengths", DType::kInt32, {s.batch});
  check.tensor(args.out, "out", DType::kBFloat16, {s.batch, s.s_q, s.h_q, kDimLatent});
  check.tensor(args.lse, "lse", DType::kFloat32, {s.batch, s.h_q, s.s_q});
  check.same_device(args.block_table, "block_table", device);
  check.same_device(args.lengths, "lengths", device);
  check.same_device(args.out, "out", device);
  check.same_device(args.lse, "lse", device);
}

void check_lengths_and_pages(const ArgCheck& check, const DecodeArgs& args, std::int64_t num_pages) {
  const std::int64_t max_pages = args.block_table.shape[1];
  for (int b = 0; b < args.shape.batch; ++b) {
    const std::int64_t len = *element<const std::int32_t>(args.lengths, b);
    if (len < 0)
      check.fail("lengths", "lengths[" + std::to_string(b) + "] = " + std::to_string(len) + " is negative");
    if (len > max_pages * kPageSize)
      check.fail("lengths", "lengths[" + std::to_string(b) + "] = " + std::to_string(len) +
                                " needs more than the " + std::to_string(max_pages) +
                                " pages of its block table row (" + std::to_string(max_pages * kPageSize) +
                                " tokens)");
    for (std::int64_t blk = 0; blk < sched::blocks_of(static_cast<int>(len)); ++blk) {
      const std::int64_t page = *element<const std::int32_t>(args.block_table, b, blk);
      if (page < 0 || page >= num_pages)
        check.fail("block_table", "page index " + std::to_string(page) + " at [" + std::to_string(b) + ", " +
                                      std::to_string(blk) + "] is outside the cache (pages = " +
                                      std::to_string(num_pages) + ")");
    }
  }
}

void check_fp8_cache(const ArgCheck& check, const Fp8Cache& cache, Device device) {
  check.contiguous_tensor(cache.kv_fp8, "cache.kv_fp8", DType::kFloat8E4M3, {-1, kPageSize, kDimLatent});
  const std::int64_t pages = cache.kv_fp8.shape[0];
  check.positive(pages, "cache.kv_fp8.shape[0] (pages)");
  check.contiguous_tensor(cache.kv_scale, "cache.kv_scale", DType::kFloat32, {pages, kPageSize});
  check.contiguous_tensor(cache.kv_rope, "cache.kv_rope", DType::kBFloat16, {pages, kPageSize, kDimRope});
  check.same_device(cache.kv_fp8, "cache.kv_fp8", device);
  check.same_device(cache.kv_scale, "cache.kv_scale", device);
  check.same_device(cache.kv_rope, "cache.kv_rope", device);
}

void check_bf16_cache(const ArgCheck& check, const Bf16Cache& cache, Device device) {
  check.contiguous_tensor(cache.kv, "cache.kv", DType::kBFloat16, {-1, kPageSize, kDimQK});
  check.positive(cache.kv.shape[0], "cache.kv.shape[0] (pages)");
  check.same_device(cache.kv, "cache.kv", device);
}

void check_fp8_query(const ArgCheck& check, const Fp8Query& q, const DecodeShape& s, Device device) {
  check.tensor(q.q_nope, "q.q_nope", DType::kFloat8E4M3, {s.batch, s.s_q, s.h_q, kDimLatent});
  check.tensor(q.q_scale, "q.q_scale", DType::kFloat32, {s.batch, s.s_q, s.h_q});
  check.tensor(q.q_rope, "q.q_rope", DType::kBFloat16, {s.batch, s.s_q, s.h_q, kDimRope});
  check.same_device(q.q_nope, "q.q_nope", device);
  check.same_device(q.q_scale, "q.q_scale", device);
  check.same_device(q.q_rope, "q.q_rope", device);
}

void check_slot_values(const ArgCheck& check, const TensorView& slots, std::int64_t num_pages) {
  for (std::int64_t n = 0; n < slots.shape[0]; ++n) {
    const std::int64_t slot = *element<const std::int32_t>(slots, n);
    if (slot >= num_pages * kPageSize)
      check.fail("slots", "slots[" + std::to_string(n) + "] = " + std::to_string(slot) +
                              " is outside the cache (pages = " + std::to_string(num_pages) + ", slots 0.." +
                              std::to_string(num_pages * kPageSize - 1) + "; negative skips)");
  }
}

}  // namespace snapmla::api

// The public operations: validate every argument on the host, then dispatch to the CPU
// reference (all views on the CPU) or the CUDA kernels (all views on one CUDA device).
#include "snapmla/ops.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "api/kernel_params.h"
#include "api/validate.h"
#include "reference/reference.h"
#include "sched/schedule.h"

#if SNAPMLA_WITH_CUDA
#include "kernels/launch.h"
#endif
#include "kernels/sm90/decode_narrow/config.h"  // CTAs per SM of the narrow kernel (host constants)

namespace snapmla {

namespace {

using api::ArgCheck;

constexpr int kReferenceSmCount = 132;  // H100 SXM / H200: the CPU plans like these cards

// The parts of `num_parts` that the planner gives blocks when every one of `batch` requests is
// `max_pages` pages long (the most a block table that wide allows). A walk of the planner on
// the host; every decode call that leaves num_sm_parts at 0 asks again (its shape is checked),
// so the last answer is kept, a thread's own.
int busy_parts_at_full_length(int batch, int max_pages, int num_parts) {
  struct Memo {
    int batch = -1, max_pages = -1, num_parts = -1, busy = 0;
  };
  thread_local Memo memo;
  if (memo.batch == batch && memo.max_pages == max_pages && memo.num_parts == num_parts) return memo.busy;
  const std::vector<std::int32_t> lengths(batch, max_pages * kPageSize);
  std::vector<sched::PartRange> parts(num_parts);
  std::vector<std::int32_t> split_begin(batch + 1);
  sched::plan_schedule(lengths.data(), batch, num_parts, parts.data(), split_begin.data());
  int busy = 0;
  for (const sched::PartRange& part : parts) {
    bool has_blocks = false;
    sched::for_each_segment(part, batch, lengths.data(), [&](int, int begin, int end, int) { has_blocks |= begin < end; });
    busy += has_blocks;
  }
  memo = {batch, max_pages, num_parts, busy};
  return busy;
}

[[maybe_unused]] bool env_checked() {
  static const bool on = [] {
    const char* v = std::getenv("SNAPMLA_CHECKED");
    return v != nullptr && std::strcmp(v, "") != 0 && std::strcmp(v, "0") != 0;
  }();
  return on;
}

// Throws unless this build can run on `device`.
void require_backend(const ArgCheck& check, const Device& device) {
  if (!device.is_cuda()) return;
#if SNAPMLA_WITH_CUDA
  if (device.index < 0 || device.index >= kernels::device_count())
    check.fail("device", "CUDA device " + std::to_string(device.index) + " does not exist", ErrorCode::kUnsupported);
  if (!kernels::device_is_hopper(device.index))
    check.fail("device", "CUDA device " + std::to_string(device.index) +
                             " is not a Hopper GPU (compute capability 9.0 is required)", ErrorCode::kUnsupported);
#else
  check.fail("device", "this build of snapmla has no CUDA kernels (configure with nvcc and "
                       "SNAPMLA_ENABLE_CUDA=ON)", ErrorCode::kUnsupported);
#endif
}

#if SNAPMLA_WITH_CUDA
void raise_check_report(const ArgCheck& check, const kernels::CheckReport& rep, std::int64_t num_pages) {
  if (!rep.failed) return;
  const std::string where = std::to_string(rep.request);
  switch (rep.kind) {
    case 1:
      check.fail("lengths", "lengths[" + where + "] = " + std::to_string(rep.value) + " is negative",
                 ErrorCode::kDeviceCheckFailed);
    case 2:
      check.fail("lengths", "lengths[" + where + "] = " + std::to_string(rep.value) +
                                " needs more pages than its block table row holds", ErrorCode::kDeviceCheckFailed);
    case 3:
      check.fail("block_table", "page index " + std::to_string(rep.value) + " at [" + where + ", " +
                                    std::to_string(rep.index) + "] is outside the cache (pages = " +
                                    std::to_string(num_pages) + ")", ErrorCode::kDeviceCheckFailed);
    default:
      check.fail("slots", "slots[" + where + "] = " + std::to_string(rep.value) +
                              " is outside the cache (pages = " + std::to_string(num_pages) + ")",
                 ErrorCode::kDeviceCheckFailed);
  }
}

#endif

// Checks shared by both decode paths; returns the resolved shape.
DecodeShape check_decode(const ArgCheck& check, const DecodeArgs& args, const DecodeOptions& options,
                         Device device, std::int64_t num_pages) {
  const DecodeShape shape = api::check_decode_shape(check, args.shape, device);
  api::check_decode_outputs(check, args, device);
  api::check_workspace(check, args.workspace, shape, device);
  if (!(options.softmax_scale >= 0.0f) || std::isinf(options.softmax_scale))
    check.fail("options.softmax_scale", "must be finite and > 0 (or 0 for 1/sqrt(576)), got " +
                                            std::to_string(options.softmax_scale));
  if (!device.is_cuda()) api::check_lengths_and_pages(check, args, num_pages);
#if SNAPMLA_WITH_CUDA
  if (device.is_cuda() && (options.checked || env_checked())) {
    raise_check_report(check,
                       kernels::check_decode_inputs(args.lengths.ptr<const std::int32_t>(),
                                                    args.block_table.ptr<const std::int32_t>(),
                                                    args.block_table.stride[0], shape.batch,
                                                    static_cast<int>(args.block_table.shape[1]),
                                                    static_cast<int>(num_pages), options.stream),
                       num_pages);
  }
#endif
  return shape;
}

// Slot values: always checked on the CPU (they are readable there); on CUDA only in checked
// mode, on the device, before anything is written.
void check_slots(const ArgCheck& check, const TensorView& slots, std::int64_t pages, Stream stream,
                 bool checked) {
  if (!slots.device.is_cuda()) return api::check_slot_values(check, slots, pages);
#if SNAPMLA_WITH_CUDA
  if (checked || env_checked())
    raise_check_report(check,
                       kernels::check_slots(slots.ptr<const std::int32_t>(), int(slots.shape[0]), int(pages), stream),
                       pages);
#endif
}

}  // namespace

bool cuda_available() {
#if SNAPMLA_WITH_CUDA
  return kernels::device_count() > 0 && kernels::device_is_hopper(0);
#else
  return false;
#endif
}

int default_num_sm_parts(Device device, int s_q, int h_q, int batch, int max_pages) {
  int sms = kReferenceSmCount;
#if SNAPMLA_WITH_CUDA
  if (device.is_cuda() && device.index < kernels::device_count()) sms = kernels::device_sm_count(device.index);
#endif
  namespace narrow = kernels::decode_narrow;
  const int rows = s_q * h_q;
  // A few requests of long block tables: the narrow kernel's row groups, in one wave.
  if (narrow::long_table_row_groups(rows, batch, max_pages, sms)) return narrow::row_group_parts(rows, sms);
  // Up to 32 rows the narrow kernel runs two one-warpgroup CTAs per SM, each on its own part, or
  // three at 16 rows and large batches, one at 16 rows and small ones (decode_narrow/config.h);
  // above, one CTA per SM and per 64-row tile.
  const int row_tiles = (rows + 63) / 64;
  const int parts = rows <= narrow::kMaxCols ? narrow::narrow_parts_per_sm(rows, batch) * sms
                                             : std::max(sms / std::max(row_tiles, 1), 1);
  // Short tables in row groups: the one-wave parts where these would take two waves.
  if (narrow::short_table_row_groups(rows, batch, max_pages, sms) &&
      static_cast<long long>(busy_parts_at_full_length(batch, max_pages, parts)) * narrow::row_groups(rows, narrow::kGroupCols) >
          3LL * sms)
    return narrow::row_group_parts(rows, sms);
  return parts;
}

std::size_t decode_workspace_bytes(const DecodeShape& shape, Device device) {
  ArgCheck check("decode_workspace_bytes");
  const DecodeShape s = api::check_decode_shape(check, shape, device);
  return sched::workspace_layout(s.batch, s.s_q, s.h_q, s.num_sm_parts).total_bytes;
}

void quantize_query(const TensorView& q, const Fp8Query& out, Stream stream) {
  ArgCheck check("quantize_query");
  const Device device = q.device;
  require_backend(check, device);
  check.tensor(q, "q", DType::kBFloat16, {-1, -1, -1, kDimQK});
  check.positive(q.shape[0], "q.shape[0] (batch)");
  check.positive(q.shape[1], "q.shape[1] (s_q)");
  check.positive(q.shape[2], "q.shape[2] (h_q)");
  DecodeShape shape{static_cast<int>(q.shape[0]), static_cast<int>(q.shape[1]), static_cast<int>(q.shape[2])};
  api::check_fp8_query(check, out, shape, device);
  if (!device.is_cuda()) return ref::quantize_query(q, out);
#if SNAPMLA_WITH_CUDA
  kernels::launch_quantize_query(api::quantize_query_params(q, out), stream);
#endif
}

void append_kv(const TensorView& kv, const TensorView& slots, const Fp8Cache& cache, Stream stream,
               bool checked) {
  ArgCheck check("append_kv");
  const Device device = kv.device;
  require_backend(check, device);
  check.tensor(kv, "kv", DType::kBFloat16, {-1, kDimQK});
  check.contiguous_tensor(slots, "slots", DType::kInt32, {kv.shape[0]});
  check.same_device(slots, "slots", device);
  api::check_fp8_cache(check, cache, device);
  const std::int64_t pages = cache.kv_fp8.shape[0];
  if (kv.shape[0] == 0) return;
  check_slots(check, slots, pages, stream, checked);  // before anything is written
  if (!device.is_cuda()) return ref::append_kv(kv, slots, cache);
#if SNAPMLA_WITH_CUDA
  kernels::AppendParams p{};
  p.num_tokens = static_cast<int>(kv.shape[0]);
  p.kv = kv.ptr<const std::uint16_t>();
  p.kv_row_stride = kv.stride[0];
  p.slots = slots.ptr<const std::int32_t>();
  p.cache = api::fp8_cache_params(cache);
  kernels::launch_append_kv(p, stream);
#endif
}

void fetch_dequant(const Fp8Cache& cache, const TensorView& slots, const TensorView& out, Stream stream,
                   bool checked) {
  ArgCheck check("fetch_dequant");
  const Device device = slots.device;
  require_backend(check, device);
  api::check_fp8_cache(check, cache, device);
  check.contiguous_tensor(slots, "slots", DType::kInt32, {-1});
  check.tensor(out, "out", DType::kBFloat16, {slots.shape[0], kDimQK});
  check.same_device(out, "out", device);
  const std::int64_t pages = cache.kv_fp8.shape[0];
  if (slots.shape[0] == 0) return;
  check_slots(check, slots, pages, stream, checked);
  if (!device.is_cuda()) return ref::fetch_dequant(cache, slots, out);
#if SNAPMLA_WITH_CUDA
  kernels::FetchParams p{};
  p.num_tokens = static_cast<int>(slots.shape[0]);
  p.slots = slots.ptr<const std::int32_t>();
  p.cache = api::fp8_cache_params(cache);
  p.out = out.ptr<std::uint16_t>();
  p.out_row_stride = out.stride[0];
  kernels::launch_fetch_dequant(p, stream);
#endif
}

void plan_decode(const DecodeShape& shape_in, const TensorView& lengths, const Workspace& workspace,
                 Stream stream) {
  ArgCheck check("plan_decode");
  const Device device = lengths.device;
  require_backend(check, device);
  const DecodeShape shape = api::check_decode_shape(check, shape_in, device);
  check.contiguous_tensor(lengths, "lengths", DType::kInt32, {shape.batch});
  api::check_workspace(check, workspace, shape, device);
  if (!device.is_cuda()) {
    for (int b = 0; b < shape.batch; ++b)
      if (lengths.ptr<const std::int32_t>()[b] < 0)
        check.fail("lengths", "lengths[" + std::to_string(b) + "] = " +
                                  std::to_string(lengths.ptr<const std::int32_t>()[b]) + " is negative");
    return ref::plan_decode(shape, lengths, workspace);
  }
#if SNAPMLA_WITH_CUDA
  const auto layout = sched::workspace_layout(shape.batch, shape.s_q, shape.h_q, shape.num_sm_parts);
  auto* base = static_cast<char*>(workspace.data);
  kernels::launch_plan(lengths.ptr<const std::int32_t>(), shape.batch, shape.num_sm_parts,
                       base + layout.parts_offset,
                       reinterpret_cast<std::int32_t*>(base + layout.split_begin_offset),
                       reinterpret_cast<std::int32_t*>(base + layout.split_done_offset), layout.split_done_count(),
                       stream);
#endif
}

void decode_fp8(const Fp8Query& q, const Fp8Cache& cache, const DecodeArgs& args,
                const DecodeOptions& options) {
  ArgCheck check("decode_fp8");
  const Device device = q.q_nope.device;
  require_backend(check, device);
  api::check_fp8_cache(check, cache, device);
  const DecodeShape shape = check_decode(check, args, options, device, cache.kv_fp8.shape[0]);
  api::check_fp8_query(check, q, shape, device);
  if (!device.is_cuda()) {
    DecodeArgs resolved = args;
    resolved.shape = shape;
    return ref::decode_fp8(q, cache, resolved, options);
  }
#if SNAPMLA_WITH_CUDA
  kernels::DecodeParams p = api::decode_params(args, shape, options);
  api::set_fp8_inputs(p, q, cache);
  const int merged_up_to = kernels::launch_decode_fp8(p, options.stream);
  if (options.combine) kernels::launch_combine(p, options.stream, merged_up_to);
#endif
}

void decode_bf16(const TensorView& q, const Bf16Cache& cache, const DecodeArgs& args,
                 const DecodeOptions& options) {
  ArgCheck check("decode_bf16");
  const Device device = q.device;
  require_backend(check, device);
  api::check_bf16_cache(check, cache, device);
  const DecodeShape shape = check_decode(check, args, options, device, cache.kv.shape[0]);
  check.tensor(q, "q", DType::kBFloat16, {shape.batch, shape.s_q, shape.h_q, kDimQK});
  if (!device.is_cuda()) {
    DecodeArgs resolved = args;
    resolved.shape = shape;
    return ref::decode_bf16(q, cache, resolved, options);
  }
#if SNAPMLA_WITH_CUDA
  kernels::DecodeParams p = api::decode_params(args, shape, options);
  api::set_bf16_inputs(p, q, cache);
  kernels::launch_decode_bf16(p, options.stream);
  if (options.combine) kernels::launch_combine(p, options.stream);
#endif
}

void combine_splits(const DecodeArgs& args, Stream stream) {
  ArgCheck check("combine_splits");
  const Device device = args.out.device;
  require_backend(check, device);
  const DecodeShape shape = api::check_decode_shape(check, args.shape, device);
  api::check_decode_outputs(check, args, device);
  api::check_workspace(check, args.workspace, shape, device);
  DecodeArgs resolved = args;
  resolved.shape = shape;
  if (!device.is_cuda()) return ref::combine_splits(resolved);
#if SNAPMLA_WITH_CUDA
  kernels::launch_combine(api::decode_params(resolved, shape, DecodeOptions{}), stream);
#endif
}

}  // namespace snapmla

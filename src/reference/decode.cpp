// CPU reference of plan_decode, decode_fp8, decode_bf16 and combine_splits. It follows the same
// split schedule as the kernels (the planner is shared code), so the emulation rounds the same
// values the GPU rounds.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <vector>

#include "common/codecs.h"
#include "common/quant_rules.h"
#include "common/view_access.h"
#include "reference/emulation.h"
#include "reference/parallel.h"
#include "reference/reference.h"
#include "sched/schedule.h"

namespace snapmla::ref {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr int kRowsPerTask = 16;  // rows of one segment handled by one CPU task

// Pointers into the workspace for a shape.
struct WorkspaceView {
  sched::WorkspaceLayout layout;
  sched::PartRange* parts;
  std::int32_t* split_begin;
  float* partial_lse;
  float* partial_o;
};

WorkspaceView view_workspace(const DecodeShape& shape, const Workspace& ws) {
  WorkspaceView v;
  v.layout = sched::workspace_layout(shape.batch, shape.s_q, shape.h_q, shape.num_sm_parts);
  auto* base = static_cast<char*>(ws.data);
  v.parts = reinterpret_cast<sched::PartRange*>(base + v.layout.parts_offset);
  v.split_begin = reinterpret_cast<std::int32_t*>(base + v.layout.split_begin_offset);
  v.partial_lse = reinterpret_cast<float*>(base + v.layout.partial_lse_offset);
  v.partial_o = reinterpret_cast<float*>(base + v.layout.partial_o_offset);
  return v;
}

struct Segment {
  int request, block_begin, block_end, split;
};

std::vector<Segment> segments_of(const WorkspaceView& ws, const std::int32_t* lengths, int batch) {
  std::vector<Segment> out;
  for (int p = 0; p < ws.layout.num_parts; ++p) {
    const sched::PartRange& part = ws.parts[p];
    sched::for_each_segment(part, batch, lengths,
                            [&](int r, int begin, int end, int split) { out.push_back({r, begin, end, split}); });
  }
  return out;
}

// Loads the tokens [first, first + count) of one physical page as the GEMMs see them.
using BlockLoader = void (*)(const void* cache, int page, int count, TokenBlock& block);

void load_fp8_block(const void* cache_ptr, int page, int count, TokenBlock& block) {
  const auto& cache = *static_cast<const Fp8Cache*>(cache_ptr);
  const auto* content = cache.kv_fp8.ptr<const std::uint8_t>() + std::int64_t(page) * kPageSize * kDimLatent;
  const auto* rope = cache.kv_rope.ptr<const std::uint16_t>() + std::int64_t(page) * kPageSize * kDimRope;
  const auto* scale = cache.kv_scale.ptr<const float>() + std::int64_t(page) * kPageSize;
  block.count = count;
  for (int t = 0; t < count; ++t) {
    for (int d = 0; d < kDimLatent; ++d) block.content[t][d] = e4m3_to_float(content[t * kDimLatent + d]);
    for (int j = 0; j < kDimRope; ++j) block.rope[t][j] = bf16_to_float(rope[t * kDimRope + j]);
    block.scale[t] = scale[t];
  }
}

void load_bf16_block(const void* cache_ptr, int page, int count, TokenBlock& block) {
  const auto& cache = *static_cast<const Bf16Cache*>(cache_ptr);
  const auto* kv = cache.kv.ptr<const std::uint16_t>() + std::int64_t(page) * kPageSize * kDimQK;
  block.count = count;
  for (int t = 0; t < count; ++t) {
    for (int d = 0; d < kDimLatent; ++d) block.content[t][d] = bf16_to_float(kv[t * kDimQK + d]);
    for (int j = 0; j < kDimRope; ++j) block.rope[t][j] = bf16_to_float(kv[t * kDimQK + kDimLatent + j]);
    block.scale[t] = 1.0f;
  }
}

// The query rows of one request, as floats.
struct RequestQuery {
  std::vector<float> content, rope, factor;
};
// Loads rows [row_begin, row_end) of one request (row = i * h_q + h) into `out` (indexed by row).
using QueryLoader = void (*)(const void* q, int request, int row_begin, int row_end,
                             const DecodeShape& shape, float scale_log2, RequestQuery& out);

void load_fp8_query(const void* q_ptr, int b, int row_begin, int row_end, const DecodeShape& shape,
                     float scale_log2, RequestQuery& out) {
  const auto& q = *static_cast<const Fp8Query*>(q_ptr);
  for (int row = row_begin; row < row_end; ++row) {
      const int i = row / shape.h_q, h = row % shape.h_q;
      const auto* nope = element<const std::uint8_t>(q.q_nope, b, i, h);
      const auto* rope = element<const std::uint16_t>(q.q_rope, b, i, h);
      for (int d = 0; d < kDimLatent; ++d) out.content[row * kDimLatent + d] = e4m3_to_float(nope[d]);
      for (int j = 0; j < kDimRope; ++j) out.rope[row * kDimRope + j] = bf16_to_float(rope[j]);
      out.factor[row] = *element<const float>(q.q_scale, b, i, h) * scale_log2;
    }
}

void load_bf16_query(const void* q_ptr, int b, int row_begin, int row_end, const DecodeShape& shape,
                     float scale_log2, RequestQuery& out) {
  const auto& q = *static_cast<const TensorView*>(q_ptr);
  for (int row = row_begin; row < row_end; ++row) {
      const int i = row / shape.h_q, h = row % shape.h_q;
      const auto* src = element<const std::uint16_t>(q, b, i, h);
      for (int d = 0; d < kDimLatent; ++d) out.content[row * kDimLatent + d] = bf16_to_float(src[d]);
      for (int j = 0; j < kDimRope; ++j) out.rope[row * kDimRope + j] = bf16_to_float(src[kDimLatent + j]);
      out.factor[row] = scale_log2;
    }
}

void write_final(const DecodeArgs& args, int b, int i, int h, const float* o, float lse2) {
  auto* out = element<std::uint16_t>(args.out, b, i, h);
  for (int d = 0; d < kDimLatent; ++d) out[d] = bf16_from_float(o[d]);
  *element<float>(args.lse, b, h, i) = reported_lse(lse2);
}

void run_decode(const void* q, QueryLoader load_query, const void* cache, BlockLoader load_block,
                PvRule rule, const DecodeArgs& args, const DecodeOptions& options) {
  const DecodeShape& shape = args.shape;
  const WorkspaceView ws = view_workspace(shape, args.workspace);
  const auto* lengths = args.lengths.ptr<const std::int32_t>();
  const std::vector<Segment> segments = segments_of(ws, lengths, shape.batch);
  const int rows = shape.s_q * shape.h_q;
  const int tasks_per_segment = (rows + kRowsPerTask - 1) / kRowsPerTask;
  const float scale_log2 = softmax_scale_log2(options.softmax_scale);

  parallel_for(std::int64_t(segments.size()) * tasks_per_segment, 0, [&](std::int64_t task) {
    const Segment& seg = segments[task / tasks_per_segment];
    const int row_begin = static_cast<int>(task % tasks_per_segment) * kRowsPerTask;
    const int row_end = std::min(rows, row_begin + kRowsPerTask);
    const int length = lengths[seg.request];
    const bool single = ws.split_begin[seg.request + 1] - ws.split_begin[seg.request] == 1;

    RequestQuery query{std::vector<float>(std::size_t(rows) * kDimLatent),
                       std::vector<float>(std::size_t(rows) * kDimRope), std::vector<float>(rows)};
    load_query(q, seg.request, row_begin, row_end, shape, scale_log2, query);
    std::vector<RowState> states(row_end - row_begin);
    std::vector<QueryRow> qrows;
    for (int row = row_begin; row < row_end; ++row) {
      const int i = row / shape.h_q;
      qrows.push_back({&query.content[std::size_t(row) * kDimLatent], &query.rope[std::size_t(row) * kDimRope],
                       query.factor[row], visible_tokens(length, shape.s_q, i, options.causal)});
    }
    auto block = std::make_unique<TokenBlock>();
    const auto* table = element<const std::int32_t>(args.block_table, seg.request);
    for (int blk = seg.block_begin; blk < seg.block_end; ++blk) {
      const int first = blk * kPageSize;
      load_block(cache, table[blk * args.block_table.stride[1]], std::min(kPageSize, length - first), *block);
      for (std::size_t k = 0; k < qrows.size(); ++k) apply_block(*block, first, qrows[k], rule, states[k]);
    }
    float o[kDimLatent], lse2;
    for (int row = row_begin; row < row_end; ++row) {
      finish_row(states[row - row_begin], o, &lse2);
      const int i = row / shape.h_q, h = row % shape.h_q;
      if (single) {
        write_final(args, seg.request, i, h, o, lse2);
      } else {
        const std::size_t slot = std::size_t(seg.split) * rows + row;
        ws.partial_lse[slot] = lse2;
        std::memcpy(ws.partial_o + slot * kDimLatent, o, sizeof o);
      }
    }
  });
  if (options.combine) ref::combine_splits(args);
}

}  // namespace

void plan_decode(const DecodeShape& shape, const TensorView& lengths, const Workspace& workspace) {
  const WorkspaceView ws = view_workspace(shape, workspace);
  sched::plan_schedule(lengths.ptr<const std::int32_t>(), shape.batch, shape.num_sm_parts, ws.parts,
                       ws.split_begin);
  // The arrival counters start at zero, as the GPU planner leaves them (the CPU decode does
  // not use them).
  std::fill_n(reinterpret_cast<std::int32_t*>(static_cast<char*>(workspace.data) + ws.layout.split_done_offset),
              ws.layout.split_done_count(), 0);
}

void decode_fp8(const Fp8Query& q, const Fp8Cache& cache, const DecodeArgs& args,
                const DecodeOptions& options) {
  run_decode(&q, load_fp8_query, &cache, load_fp8_block, PvRule::kFp8Scaled, args, options);
}

void decode_bf16(const TensorView& q, const Bf16Cache& cache, const DecodeArgs& args,
                 const DecodeOptions& options) {
  run_decode(&q, load_bf16_query, &cache, load_bf16_block, PvRule::kBf16, args, options);
}

void combine_splits(const DecodeArgs& args) {
  const DecodeShape& shape = args.shape;
  const WorkspaceView ws = view_workspace(shape, args.workspace);
  const int rows = shape.s_q * shape.h_q;
  for (int r = 0; r < shape.batch; ++r) {
    const int first = ws.split_begin[r], count = ws.split_begin[r + 1] - first;
    if (count <= 1) continue;  // written directly by the split kernel
    for (int row = 0; row < rows; ++row) {
      float m = -kInf;
      for (int k = 0; k < count; ++k) m = std::fmax(m, ws.partial_lse[std::size_t(first + k) * rows + row]);
      float o[kDimLatent] = {};
      float lse2 = -kInf;
      if (m != -kInf) {
        float sum = 0.0f;
        for (int k = 0; k < count; ++k) sum += std::exp2(ws.partial_lse[std::size_t(first + k) * rows + row] - m);
        lse2 = m + std::log2(sum);
        for (int k = 0; k < count; ++k) {
          const std::size_t slot = std::size_t(first + k) * rows + row;
          const float w = std::exp2(ws.partial_lse[slot] - lse2);
          for (int d = 0; d < kDimLatent; ++d) o[d] += w * ws.partial_o[slot * kDimLatent + d];
        }
      }
      write_final(args, r, row / shape.h_q, row % shape.h_q, o, lse2);
    }
  }
}

}  // namespace snapmla::ref

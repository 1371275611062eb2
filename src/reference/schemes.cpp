// The accuracy ablation of SNAPMLA.md section 6: each scheme quantizes the same cache and query
// its own way, then runs the shared decode arithmetic (reference/emulation.h). All FP8 schemes
// use the same P rule, so the table isolates what the cache format does.
#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <vector>

#include "common/codecs.h"
#include "common/quant_rules.h"
#include "reference/emulation.h"
#include "reference/parallel.h"
#include "reference/reference.h"

namespace snapmla::ref {

const char* scheme_name(Scheme scheme) {
  switch (scheme) {
    case Scheme::kSnapMLA: return "snapmla";
    case Scheme::kRopeFp8: return "rope_fp8";
    case Scheme::kPerTensorStatic: return "per_tensor_static";
    case Scheme::kPerTensorDynamic: return "per_tensor_dynamic";
    case Scheme::kPerBlock: return "per_block";
    case Scheme::kBf16: return "bf16";
  }
  return "unknown";
}

const char* scheme_description(Scheme scheme) {
  switch (scheme) {
    case Scheme::kSnapMLA: return "per-token scale, RoPE BF16 aligned (SnapMLA)";
    case Scheme::kRopeFp8: return "A: per-token scale, RoPE in FP8 too";
    case Scheme::kPerTensorStatic: return "B: per-tensor static scale 1.0, RoPE BF16";
    case Scheme::kPerTensorDynamic: return "C: per-tensor dynamic scale, RoPE BF16";
    case Scheme::kPerBlock: return "D: per-block scale 64 tok x 128 ch, RoPE BF16";
    case Scheme::kBf16: return "BF16 cache, BF16 P (FlashMLA)";
  }
  return "unknown";
}

namespace {

constexpr int kBlockChannels = 128;  // per-block scheme: channel group width

// A cache (or a set of query rows) as the GEMMs of one scheme see it.
struct SchemeRows {
  std::vector<float> content;  // [rows, 512]
  std::vector<float> rope;     // [rows, 64]
  std::vector<float> scale;    // [rows]: s[t] for tokens, q scale for queries
};

SchemeRows make_rows(std::size_t n) {
  return {std::vector<float>(n * kDimLatent, 0.0f), std::vector<float>(n * kDimRope, 0.0f),
          std::vector<float>(n, 1.0f)};
}

float row_amax(const float* x, int n) {
  float amax = 0.0f;
  for (int d = 0; d < n; ++d) amax = nan_sticky_max(amax, std::fabs(x[d]));
  return amax;
}

// Per-row scale with content e4m3 and RoPE either BF16-aligned (SnapMLA: exactly the cache
// format, through quantize_row) or e4m3 under one scale over all 576 values (RoPE-unaware).
void quantize_per_row(const float* x, std::size_t r, bool rope_in_fp8, SchemeRows& out) {
  if (!rope_in_fp8) {
    std::uint8_t content[kDimLatent];
    std::uint16_t rope[kDimRope];
    quantize_row(x, content, &out.scale[r], rope);
    for (int d = 0; d < kDimLatent; ++d) out.content[r * kDimLatent + d] = e4m3_to_float(content[d]);
    for (int j = 0; j < kDimRope; ++j) out.rope[r * kDimRope + j] = bf16_to_float(rope[j]);
    return;
  }
  const float s = scale_from_amax(row_amax(x, kDimQK));
  for (int d = 0; d < kDimQK; ++d) {
    const float v = round_to_e4m3(x[d] / s);
    if (d < kDimLatent) out.content[r * kDimLatent + d] = v;
    else out.rope[r * kDimRope + d - kDimLatent] = v;
  }
  out.scale[r] = s;
}

// Which cache slots hold a token some request reads.
std::vector<char> used_slots(const HostProblem& pb) {
  std::vector<char> used(std::size_t(pb.num_pages) * kPageSize, 0);
  for (int b = 0; b < pb.batch; ++b)
    for (int t = 0; t < pb.lengths[b]; ++t) {
      const int page = pb.block_table[std::size_t(b) * pb.max_pages + t / kPageSize];
      used[std::size_t(page) * kPageSize + t % kPageSize] = 1;
    }
  return used;
}

SchemeRows quantize_cache(Scheme scheme, const HostProblem& pb) {
  const std::size_t slots = std::size_t(pb.num_pages) * kPageSize;
  const std::vector<char> used = used_slots(pb);
  SchemeRows c = make_rows(slots);
  auto token = [&](std::size_t slot) { return &pb.cache[slot * kDimQK]; };

  float tensor_scale = 1.0f;
  if (scheme == Scheme::kPerTensorDynamic) {
    float amax = 0.0f;
    for (std::size_t s = 0; s < slots; ++s)
      if (used[s]) amax = nan_sticky_max(amax, row_amax(token(s), kDimLatent));
    tensor_scale = scale_from_amax(amax);
  }
  for (std::size_t s = 0; s < slots; ++s) {
    if (!used[s]) continue;
    const float* x = token(s);
    switch (scheme) {
      case Scheme::kSnapMLA: quantize_per_row(x, s, false, c); break;
      case Scheme::kRopeFp8: quantize_per_row(x, s, true, c); break;
      case Scheme::kPerTensorStatic:
      case Scheme::kPerTensorDynamic:
        for (int d = 0; d < kDimLatent; ++d) c.content[s * kDimLatent + d] = round_to_e4m3(x[d] / tensor_scale);
        for (int j = 0; j < kDimRope; ++j) c.rope[s * kDimRope + j] = round_to_bf16(x[kDimLatent + j] / tensor_scale);
        c.scale[s] = tensor_scale;
        break;
      case Scheme::kPerBlock:  // content filled per block below; RoPE BF16, unscaled
        for (int j = 0; j < kDimRope; ++j) c.rope[s * kDimRope + j] = round_to_bf16(x[kDimLatent + j]);
        break;
      case Scheme::kBf16:
        for (int d = 0; d < kDimLatent; ++d) c.content[s * kDimLatent + d] = round_to_bf16(x[d]);
        for (int j = 0; j < kDimRope; ++j) c.rope[s * kDimRope + j] = round_to_bf16(x[kDimLatent + j]);
        break;
    }
  }
  if (scheme == Scheme::kPerBlock) {
    // One scale per (page, 128-channel group); the GEMM result of each group is scaled by it,
    // which is the same as multiplying the dequantized values (s[t] stays 1).
    for (int page = 0; page < pb.num_pages; ++page)
      for (int g = 0; g < kDimLatent; g += kBlockChannels) {
        float amax = 0.0f;
        for (int t = 0; t < kPageSize; ++t) {
          const std::size_t s = std::size_t(page) * kPageSize + t;
          if (used[s]) amax = nan_sticky_max(amax, row_amax(token(s) + g, kBlockChannels));
        }
        const float sb = scale_from_amax(amax);
        for (int t = 0; t < kPageSize; ++t) {
          const std::size_t s = std::size_t(page) * kPageSize + t;
          if (!used[s]) continue;
          for (int d = g; d < g + kBlockChannels; ++d)
            c.content[s * kDimLatent + d] = round_to_e4m3(token(s)[d] / sb) * sb;
        }
      }
  }
  return c;
}

SchemeRows quantize_queries(Scheme scheme, const HostProblem& pb) {
  const std::size_t n = std::size_t(pb.batch) * pb.s_q * pb.h_q;
  SchemeRows q = make_rows(n);
  for (std::size_t r = 0; r < n; ++r) {
    const float* x = &pb.q[r * kDimQK];
    if (scheme == Scheme::kBf16) {
      for (int d = 0; d < kDimLatent; ++d) q.content[r * kDimLatent + d] = round_to_bf16(x[d]);
      for (int j = 0; j < kDimRope; ++j) q.rope[r * kDimRope + j] = round_to_bf16(x[kDimLatent + j]);
    } else {
      // Every FP8 scheme quantizes the query per (token, head); only A puts its RoPE in FP8.
      quantize_per_row(x, r, scheme == Scheme::kRopeFp8, q);
    }
  }
  return q;
}

}  // namespace

HostResult run_scheme(Scheme scheme, const HostProblem& pb, int threads) {
  const SchemeRows cache = quantize_cache(scheme, pb);
  const SchemeRows query = quantize_queries(scheme, pb);
  const PvRule rule = scheme == Scheme::kBf16 ? PvRule::kBf16 : PvRule::kFp8Scaled;
  const float scale_log2 = pb.softmax_scale * kLog2e;
  const int rows = pb.s_q * pb.h_q;
  constexpr int kRowsPerTask = 16;
  const int tasks_per_request = (rows + kRowsPerTask - 1) / kRowsPerTask;

  HostResult result;
  result.out.assign(std::size_t(pb.batch) * rows * kDimLatent, 0.0);
  result.lse.assign(std::size_t(pb.batch) * rows, std::numeric_limits<double>::infinity());
  parallel_for(std::int64_t(pb.batch) * tasks_per_request, threads, [&](std::int64_t task) {
    const int b = static_cast<int>(task / tasks_per_request);
    const int row_begin = static_cast<int>(task % tasks_per_request) * kRowsPerTask;
    const int row_end = std::min(rows, row_begin + kRowsPerTask);
    const int length = pb.lengths[b];
    std::vector<QueryRow> qrows;
    for (int row = row_begin; row < row_end; ++row) {
      const std::size_t r = std::size_t(b) * rows + row;
      qrows.push_back({&query.content[r * kDimLatent], &query.rope[r * kDimRope],
                       query.scale[r] * scale_log2, visible_tokens(length, pb.s_q, row / pb.h_q, pb.causal)});
    }
    std::vector<RowState> states(qrows.size());
    auto block = std::make_unique<TokenBlock>();
    for (int first = 0; first < length; first += kPageSize) {
      const int page = pb.block_table[std::size_t(b) * pb.max_pages + first / kPageSize];
      block->count = std::min(kPageSize, length - first);
      for (int t = 0; t < block->count; ++t) {
        const std::size_t s = std::size_t(page) * kPageSize + t;
        std::copy_n(&cache.content[s * kDimLatent], kDimLatent, block->content[t]);
        std::copy_n(&cache.rope[s * kDimRope], kDimRope, block->rope[t]);
        block->scale[t] = cache.scale[s];
      }
      for (std::size_t k = 0; k < qrows.size(); ++k) apply_block(*block, first, qrows[k], rule, states[k]);
    }
    float o[kDimLatent], lse2;
    for (int row = row_begin; row < row_end; ++row) {
      if (!finish_row(states[row - row_begin], o, &lse2)) continue;  // empty: 0 and +inf
      const std::size_t r = std::size_t(b) * rows + row;
      for (int d = 0; d < kDimLatent; ++d) result.out[r * kDimLatent + d] = o[d];
      const int i = row / pb.h_q, h = row % pb.h_q;
      result.lse[(std::size_t(b) * pb.h_q + h) * pb.s_q + i] = double(lse2) * double(kLn2);
    }
  });
  return result;
}

}  // namespace snapmla::ref

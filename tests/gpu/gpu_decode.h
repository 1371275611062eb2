// One decode step of a synthetic problem through the public API on CUDA views, the GPU twin of
// tests/common/cpu_decode.h, plus the comparisons the decode tests use.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "common/codecs.h"
#include "common/cpu_decode.h"
#include "common/gpu_util.h"
#include "common/tolerances.h"
#include "kernels/common/variant.h"
#include "sched/schedule.h"
#include "snapmla/ops.h"
#include "synth/mla_data.h"

namespace snapmla::testing {

// One case of a decode grid, and its synthetic problem (realistic data, NaN in unused pages).
struct DecodeCase {
  std::string name;
  int batch, s_q, h_q;
  std::vector<int> lengths;
  bool causal;
  int parts;  // 0: the device default
  bool truth = true;
  bool tell_max_pages = false;  // DecodeShape::max_pages = the block table's width (default parts)
};

// The environment variable SNAPMLA_TEST_SEED=N (N > 0) moves every case to other random inputs
// (case seed + N * 1000003): the GPU tests can be run again on fresh data, to hunt for races
// or to see how a bound behaves over many draws. Unset or 0: the fixed seeds the tests name.
inline std::uint64_t test_seed(std::uint64_t seed) {
  const char* env = std::getenv("SNAPMLA_TEST_SEED");
  const std::uint64_t shift = env != nullptr ? std::strtoull(env, nullptr, 10) : 0;
  return seed + shift * 1000003ull;
}

inline ref::HostProblem make_problem(const DecodeCase& c, std::uint64_t seed) {
  synth::ProblemOptions o;
  o.batch = c.batch;
  o.s_q = c.s_q;
  o.h_q = c.h_q;
  o.lengths = c.lengths;
  o.causal = c.causal;
  o.seed = test_seed(seed);
  o.poison_unused = true;
  return synth::make_problem(o);
}

inline std::string path_name(Path p) { return p == Path::kFp8 ? "fp8" : "bf16"; }

// The bounds against the emulation (out, lse) of the kernel family the API picks for `path`
// (tolerances.h).
inline bool api_runs_wgmma(Path p) {
  return p == Path::kFp8 && kernels::decode_kernel_choice() == kernels::DecodeKernel::kWgmma;
}
inline double api_lse_bound(Path p) { return api_runs_wgmma(p) ? kWgmmaVsEmulationLseAbs : kGpuVsEmulationLseAbs; }
inline double api_out_bound(Path p) { return api_runs_wgmma(p) ? kWgmmaVsEmulationRelL2 : kGpuVsEmulationRelL2; }

// Device copies of a problem, the FP8 planes, the workspace and the outputs.
struct GpuDecode {
  ref::HostProblem problem;
  synth::HostTensors host;
  DecodeShape shape;
  DeviceBuffer<std::uint16_t> q, kv_bf16, new_kv, out;
  DeviceBuffer<std::int32_t> block_table, lengths, slots;
  DeviceBuffer<std::uint8_t> q_nope, kv_fp8, workspace;
  DeviceBuffer<float> q_scale, kv_scale, lse;
  DeviceBuffer<std::uint16_t> q_rope, kv_rope;

  // max_pages_hint: DecodeShape::max_pages (0: the block table's width not told to the planner).
  GpuDecode(const ref::HostProblem& p, int num_sm_parts, int max_pages_hint = 0)
      : problem(p),
        host(p),
        shape{p.batch, p.s_q, p.h_q, num_sm_parts, max_pages_hint},
        q(host.q),
        kv_bf16(host.kv_bf16),
        new_kv(host.new_kv),
        out(std::size_t(p.batch) * p.s_q * p.h_q * kDimLatent),
        block_table(garbage_past_used_pages(host)),
        lengths(host.lengths),
        slots(host.slots),
        q_nope(std::size_t(p.batch) * p.s_q * p.h_q * kDimLatent),
        kv_fp8(std::size_t(p.num_pages) * kPageSize * kDimLatent),
        workspace(decode_workspace_bytes(shape, Device::cuda(0))),
        q_scale(std::size_t(p.batch) * p.s_q * p.h_q),
        kv_scale(std::size_t(p.num_pages) * kPageSize),
        lse(std::size_t(p.batch) * p.s_q * p.h_q),
        q_rope(std::size_t(p.batch) * p.s_q * p.h_q * kDimRope),
        kv_rope(std::size_t(p.num_pages) * kPageSize * kDimRope) {
    poison();
  }

  // Block-table entries past a request's pages must never be read: fill them with ids outside
  // the cache (negative and too large, alternating).
  static std::vector<std::int32_t> garbage_past_used_pages(const synth::HostTensors& t) {
    std::vector<std::int32_t> table = t.block_table;
    for (int r = 0; r < t.batch; ++r)
      for (int blk = sched::blocks_of(t.lengths[r]); blk < t.max_pages; ++blk)
        table[std::size_t(r) * t.max_pages + blk] = (blk % 2) ? -1000003 : t.num_pages + 12345;
    return table;
  }

  // NaN in every slot append_kv does not write, and in the outputs (all must be written).
  void poison() {
    kv_fp8.poison_nan();
    kv_scale.poison_nan();
    kv_rope.poison_nan();
    out.poison_nan();
    lse.poison_nan();
  }

  Fp8Query fp8_query() const {
    return {cuda_view(q_nope, DType::kFloat8E4M3, {problem.batch, problem.s_q, problem.h_q, kDimLatent}),
            cuda_view(q_scale, DType::kFloat32, {problem.batch, problem.s_q, problem.h_q}),
            cuda_view(q_rope, DType::kBFloat16, {problem.batch, problem.s_q, problem.h_q, kDimRope})};
  }
  Fp8Cache fp8_cache() const {
    return {cuda_view(kv_fp8, DType::kFloat8E4M3, {problem.num_pages, kPageSize, kDimLatent}),
            cuda_view(kv_scale, DType::kFloat32, {problem.num_pages, kPageSize}),
            cuda_view(kv_rope, DType::kBFloat16, {problem.num_pages, kPageSize, kDimRope})};
  }
  Bf16Cache bf16_cache() const {
    return {cuda_view(kv_bf16, DType::kBFloat16, {problem.num_pages, kPageSize, kDimQK})};
  }
  TensorView q_view() const { return cuda_view(q, DType::kBFloat16, {problem.batch, problem.s_q, problem.h_q, kDimQK}); }
  TensorView lengths_view() const { return cuda_view(lengths, DType::kInt32, {problem.batch}); }
  TensorView slots_view() const { return cuda_view(slots, DType::kInt32, {std::int64_t(slots.size())}); }
  TensorView new_kv_view() const { return cuda_view(new_kv, DType::kBFloat16, {std::int64_t(new_kv.size() / kDimQK), kDimQK}); }
  Workspace workspace_view() const { return {workspace.get(), workspace.size(), Device::cuda(0)}; }
  DecodeArgs args() const {
    return {shape, cuda_view(block_table, DType::kInt32, {problem.batch, problem.max_pages}), lengths_view(),
            workspace_view(),
            cuda_view(out, DType::kBFloat16, {problem.batch, problem.s_q, problem.h_q, kDimLatent}),
            cuda_view(lse, DType::kFloat32, {problem.batch, problem.h_q, problem.s_q})};
  }
  DecodeOptions options(Stream stream = nullptr) const {
    DecodeOptions o;
    o.causal = problem.causal;
    o.softmax_scale = problem.softmax_scale;
    o.stream = stream;
    return o;
  }

  // quantize_query, append_kv, plan_decode, decode (asynchronous on `stream`). With
  // `combine_kernel`, the decode leaves the partials and combine_splits (the combine kernel)
  // merges them, instead of whatever the decode would do (the wgmma kernels merge in-kernel).
  void step(Path path, Stream stream = nullptr, bool checked = false, bool combine_kernel = false) {
    DecodeOptions o = options(stream);
    o.checked = checked;
    o.combine = !combine_kernel;
    plan_decode(shape, lengths_view(), workspace_view(), stream);
    if (path == Path::kBf16) {
      decode_bf16(q_view(), bf16_cache(), args(), o);
      if (combine_kernel) combine_splits(args(), stream);
      return;
    }
    quantize_query(q_view(), fp8_query(), stream);
    if (slots.size() != 0) append_kv(new_kv_view(), slots_view(), fp8_cache(), stream, checked);
    decode_fp8(fp8_query(), fp8_cache(), args(), o);
    if (combine_kernel) combine_splits(args(), stream);
  }

  CpuDecodeResult result() const {
    sync();
    return {out.download(), lse.download()};
  }

  // The workspace's pieces, with the part count the API resolves (0: the device default).
  sched::WorkspaceLayout layout() const {
    const int parts = shape.num_sm_parts != 0
                          ? shape.num_sm_parts
                          : default_num_sm_parts(Device::cuda(0), problem.s_q, problem.h_q, problem.batch,
                                                 shape.max_pages);
    return sched::workspace_layout(problem.batch, problem.s_q, problem.h_q, parts);
  }
  // The split arrival counters, which every decode must leave at zero for the next.
  std::vector<std::int32_t> arrival_counters() const {
    const sched::WorkspaceLayout w = layout();
    const std::vector<std::uint8_t> bytes = workspace.download();
    std::vector<std::int32_t> counters(w.split_done_count());
    std::memcpy(counters.data(), bytes.data() + w.split_done_offset, counters.size() * sizeof(std::int32_t));
    return counters;
  }
  // NaN (bytes 0xff) in the partial LSEs and outputs, the workspace's tail; the schedule and the
  // counters before them are left as they are.
  void poison_partials() {
    const sched::WorkspaceLayout w = layout();
    SNAPMLA_CUDA_CHECK(cudaMemset(workspace.get() + w.partial_lse_offset, 0xff, w.total_bytes - w.partial_lse_offset));
    SNAPMLA_CUDA_CHECK(cudaDeviceSynchronize());
  }
};

struct Agreement {
  double rel_l2 = 0, max_abs = 0, lse_max_abs = 0, identical = 0;
  std::int64_t mismatched_specials = 0;  // NaN/Inf where the other side has none (or unwritten)
};

inline double bf16_value(std::uint16_t h) { return double(bf16_to_float(h)); }

// GPU result against the CPU emulation. Empty rows must agree exactly (out 0, lse +inf);
// non-finite values must sit at the same places.
inline Agreement agreement(const CpuDecodeResult& gpu, const CpuDecodeResult& cpu) {
  Agreement a;
  double diff2 = 0, ref2 = 0;
  std::int64_t same = 0;
  for (std::size_t k = 0; k < cpu.out.size(); ++k) {
    const double x = bf16_value(gpu.out[k]), y = bf16_value(cpu.out[k]);
    if (gpu.out[k] == cpu.out[k] || (std::isnan(x) && std::isnan(y))) { ++same; ref2 += std::isfinite(y) ? y * y : 0; continue; }
    if (!std::isfinite(x) || !std::isfinite(y)) { ++a.mismatched_specials; continue; }
    diff2 += (x - y) * (x - y);
    ref2 += y * y;
    a.max_abs = std::max(a.max_abs, std::fabs(x - y));
  }
  a.rel_l2 = ref2 > 0 ? std::sqrt(diff2 / ref2) : std::sqrt(diff2);
  a.identical = cpu.out.empty() ? 1.0 : double(same) / double(cpu.out.size());
  for (std::size_t k = 0; k < cpu.lse.size(); ++k) {
    const double x = gpu.lse[k], y = cpu.lse[k];
    if (x == y || (std::isnan(x) && std::isnan(y))) continue;
    if (!std::isfinite(x) || !std::isfinite(y)) { ++a.mismatched_specials; continue; }
    a.lse_max_abs = std::max(a.lse_max_abs, std::fabs(x - y));
  }
  return a;
}

}  // namespace snapmla::testing

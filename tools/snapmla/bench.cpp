// snapmla bench: FP8 vs BF16 decode on the GPU over a grid of shapes.
//
// For every shape: a paged cache with a random-permutation block table, filled with realistic
// synthetic rows (a 4096-token pool replicated), the FP8 cache built from it by append_kv, the
// query by quantize_query. plan_decode runs once (it serves every layer of a step); the timed
// region is one decode_fp8 / decode_bf16 call (split-KV decode + combine), CUDA events around
// each call, the L2 flushed before each call (a memset of 2x the L2 size, or with --flush read a
// kernel reading it: bench/common/l2_flush.cuh; outside the timed region), warm-up calls first,
// median of --reps calls. Batches up to --graph-max-batch are captured in a CUDA graph and
// replayed (launch overhead would dominate otherwise).
// The roofs are measured in the same run: the copy roof is a cudaMemcpyAsync device-to-device
// of 1 GiB (bytes read + written over time), the GEMM roofs are 8192^3 BF16 and FP8 products
// through cuBLASLt, opened at run time (gemm_roof.h).
//
// Without a CUDA build or a Hopper GPU it prints one line and exits with status 2.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <numeric>
#include <random>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "default_shapes.h"
#include "gemm_roof.h"
#include "gpu_util.h"
#include "report.h"
#include "snapmla/error.h"
#include "snapmla/ops.h"
#include "synth/mla_data.h"

namespace snapmla::tool {

std::vector<BenchShape> parse_shapes(const std::string& text) {
  std::vector<BenchShape> shapes;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item.empty()) continue;
    long long v[4];
    int n = 0;
    std::size_t at = 0;
    bool ok = true;
    while (ok && n < 4) {
      std::size_t end = item.find('x', at);
      const std::string part = item.substr(at, end == std::string::npos ? std::string::npos : end - at);
      if (part.empty() || part.find_first_not_of("0123456789") != std::string::npos ||
          part.size() > 9) {
        ok = false;
        break;
      }
      v[n++] = std::stoll(part);
      if (end == std::string::npos) break;
      at = end + 1;
    }
    if (!ok || n != 4 || item.find('x', at) != std::string::npos || v[0] <= 0 || v[1] <= 0 ||
        v[2] <= 0 || v[3] < 0)
      throw Error(ErrorCode::kInvalidArgument,
                  "--shapes: '" + item + "' is not BxS_QxH_QxS_K with positive b, s_q, h_q and s_k >= 0");
    shapes.push_back({int(v[0]), int(v[1]), int(v[2]), int(v[3])});
  }
  if (shapes.empty()) throw Error(ErrorCode::kInvalidArgument, "--shapes: no shape given");
  return shapes;
}

std::vector<BenchShape> default_bench_shapes() { return parse_shapes(kDefaultBenchShapes); }

namespace {

struct BenchResult {
  BenchShape s{};
  double fp8_us = 0, bf16_us = 0;
  bool graph = false;
  std::string error;
  double flops() const { return double(s.batch) * s.h_q * s.s_q * s.s_k * (2.0 * 576 + 2.0 * 512); }
  double rows() const { return double(s.batch) * s.s_q * s.h_q; }
  double out_bytes() const { return rows() * (kDimLatent * 2 + 4); }
  double fp8_bytes() const {
    return double(kBytesPerTokenFp8) * s.s_k * s.batch + rows() * (kDimLatent + 4 + 2 * kDimRope) + out_bytes();
  }
  double bf16_bytes() const {
    return double(kBytesPerTokenBf16) * s.s_k * s.batch + rows() * 2 * kDimQK + out_bytes();
  }
};

std::string shape_label(const BenchShape& s) {
  return fmt::format("{}x{}x{}x{}", s.batch, s.s_q, s.h_q, s.s_k);
}

void write_svg(const std::string& path, const std::vector<BenchResult>& results, double roof,
               const std::string& device) {
  const int n = static_cast<int>(results.size());
  const double left = 70, right = 20, top = 50, bottom = 110, group = 64;
  const double width = left + right + group * std::max(n, 1), height = 420;
  const double plot_h = height - top - bottom;
  double ymax = roof;
  for (const auto& r : results) {
    if (r.fp8_us > 0) ymax = std::max(ymax, r.fp8_bytes() / r.fp8_us / 1e3);
    if (r.bf16_us > 0) ymax = std::max(ymax, r.bf16_bytes() / r.bf16_us / 1e3);
  }
  ymax = std::max(1.0, ymax * 1.1);
  auto y = [&](double v) { return top + plot_h * (1.0 - v / ymax); };
  std::ofstream f(path);
  if (!f) throw Error(ErrorCode::kInvalidArgument, "--svg: cannot write '" + path + "'");
  f << fmt::format(R"SVG(<svg xmlns="http://www.w3.org/2000/svg" width="{:.0f}" height="{:.0f}" font-family="sans-serif" font-size="11">)SVG",
                   width, height) << "\n";
  f << fmt::format(R"SVG(<rect width="100%" height="100%" fill="white"/><text x="{:.0f}" y="20" font-size="14">snapmla decode bandwidth, FP8 vs BF16 ({}); label = BF16 time / FP8 time</text>)SVG",
                   left, device) << "\n";
  for (int i = 0; i <= 5; ++i) {  // grid and y axis
    const double v = ymax * i / 5;
    f << fmt::format(R"SVG(<line x1="{:.1f}" x2="{:.1f}" y1="{:.1f}" y2="{:.1f}" stroke="#ddd"/><text x="{:.1f}" y="{:.1f}" text-anchor="end">{:.0f}</text>)SVG",
                     left, width - right, y(v), y(v), left - 6, y(v) + 4, v) << "\n";
  }
  f << fmt::format(R"SVG(<text transform="translate(16,{:.0f}) rotate(-90)" text-anchor="middle">GB/s (true bytes per token)</text>)SVG",
                   top + plot_h / 2) << "\n";
  if (roof > 0)
    f << fmt::format(R"SVG(<line x1="{:.1f}" x2="{:.1f}" y1="{:.1f}" y2="{:.1f}" stroke="#c00" stroke-dasharray="6,4"/><text x="{:.1f}" y="{:.1f}" fill="#c00" text-anchor="end">copy roof {:.0f} GB/s</text>)SVG",
                     left, width - right, y(roof), y(roof), width - right, y(roof) - 4, roof) << "\n";
  for (int i = 0; i < n; ++i) {
    const auto& r = results[i];
    const double x0 = left + group * i + 8, bw = (group - 16) / 2;
    const double g8 = r.fp8_us > 0 ? r.fp8_bytes() / r.fp8_us / 1e3 : 0;
    const double g16 = r.bf16_us > 0 ? r.bf16_bytes() / r.bf16_us / 1e3 : 0;
    f << fmt::format(R"SVG(<rect x="{:.1f}" y="{:.1f}" width="{:.1f}" height="{:.1f}" fill="#e8833a"/>)SVG",
                     x0, y(g8), bw, y(0) - y(g8)) << "\n";
    f << fmt::format(R"SVG(<rect x="{:.1f}" y="{:.1f}" width="{:.1f}" height="{:.1f}" fill="#3a6ee8"/>)SVG",
                     x0 + bw, y(g16), bw, y(0) - y(g16)) << "\n";
    if (r.fp8_us > 0 && r.bf16_us > 0)
      f << fmt::format(R"SVG(<text x="{:.1f}" y="{:.1f}" text-anchor="middle">{:.2f}x</text>)SVG", x0 + bw,
                       y(std::max(g8, g16)) - 4, r.bf16_us / r.fp8_us) << "\n";
    const double lx = x0 + bw, ly = y(0) + 10;
    f << fmt::format(R"SVG(<text transform="translate({:.1f},{:.1f}) rotate(45)">{}{}</text>)SVG", lx, ly,
                     shape_label(r.s), r.graph ? " (graph)" : "") << "\n";
  }
  const double lx = left + 10, ly = top - 14;
  f << fmt::format(R"SVG(<rect x="{:.0f}" y="{:.0f}" width="10" height="10" fill="#e8833a"/><text x="{:.0f}" y="{:.0f}">FP8 (SnapMLA)</text><rect x="{:.0f}" y="{:.0f}" width="10" height="10" fill="#3a6ee8"/><text x="{:.0f}" y="{:.0f}">BF16</text>)SVG",
                   lx, ly - 9, lx + 14, ly, lx + 110, ly - 9, lx + 124, ly) << "\n";
  f << fmt::format(R"SVG(<text x="{:.0f}" y="{:.0f}">shape: b x s_q x h_q x s_k</text>)SVG", left,
                   height - 6) << "\n";
  f << "</svg>\n";
}

void print_results(const BenchOptions& o, const std::vector<BenchResult>& results, double roof,
                   const GemmRoofs& gemm, double l2_bytes, const std::string& device) {
  auto gemm_fraction = [](double tflops, double peak) { return peak > 0 ? tflops / peak : 0.0; };
  if (o.json) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& r : results) {
      nlohmann::json j = {{"b", r.s.batch}, {"s_q", r.s.s_q}, {"h_q", r.s.h_q}, {"s_k", r.s.s_k},
                          {"graph", r.graph}};
      if (!r.error.empty()) j["error"] = r.error;
      if (r.fp8_us > 0 && r.bf16_us > 0) {
        j["fp8_us"] = r.fp8_us;
        j["bf16_us"] = r.bf16_us;
        j["ratio_bf16_over_fp8"] = r.bf16_us / r.fp8_us;
        j["fp8_tflops"] = r.flops() / r.fp8_us / 1e6;
        j["bf16_tflops"] = r.flops() / r.bf16_us / 1e6;
        j["fp8_gbs"] = r.fp8_bytes() / r.fp8_us / 1e3;
        j["bf16_gbs"] = r.bf16_bytes() / r.bf16_us / 1e3;
        j["fp8_copy_fraction"] = roof > 0 ? r.fp8_bytes() / r.fp8_us / 1e3 / roof : 0.0;
        j["bf16_copy_fraction"] = roof > 0 ? r.bf16_bytes() / r.bf16_us / 1e3 / roof : 0.0;
        j["fp8_gemm_fraction"] = gemm_fraction(r.flops() / r.fp8_us / 1e6, gemm.fp8_tflops);
        j["bf16_gemm_fraction"] = gemm_fraction(r.flops() / r.bf16_us / 1e6, gemm.bf16_tflops);
      }
      arr.push_back(j);
    }
    nlohmann::json out = {{"device", device}, {"copy_roof_gbs", roof},
                          {"gemm_roof_tflops", {{"bf16", gemm.bf16_tflops}, {"fp8", gemm.fp8_tflops}}},
                          {"gemm_roof_note", gemm.note}, {"l2_bytes", l2_bytes},
                          {"reps", o.reps}, {"warmup", o.warmup}, {"split_only", o.split_only},
                          {"l2_flush", o.flush},
                          {"results", arr}};
    std::printf("%s\n", out.dump(2).c_str());
    return;
  }
  if (o.csv) {
    std::printf("b,s_q,h_q,s_k,graph,fp8_us,bf16_us,ratio,fp8_tflops,bf16_tflops,fp8_gbs,bf16_gbs,"
                "fp8_copy_fraction,bf16_copy_fraction,fp8_gemm_fraction,bf16_gemm_fraction,error\n");
    for (const auto& r : results) {
      const bool ok = r.fp8_us > 0 && r.bf16_us > 0;
      auto v = [&](double x) { return ok ? fmt::format("{:.4g}", x) : std::string(); };
      std::printf("%d,%d,%d,%d,%d,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,\"%s\"\n", r.s.batch, r.s.s_q, r.s.h_q,
                  r.s.s_k, r.graph ? 1 : 0, v(r.fp8_us).c_str(), v(r.bf16_us).c_str(),
                  v(ok ? r.bf16_us / r.fp8_us : 0).c_str(), v(ok ? r.flops() / r.fp8_us / 1e6 : 0).c_str(),
                  v(ok ? r.flops() / r.bf16_us / 1e6 : 0).c_str(),
                  v(ok ? r.fp8_bytes() / r.fp8_us / 1e3 : 0).c_str(),
                  v(ok ? r.bf16_bytes() / r.bf16_us / 1e3 : 0).c_str(),
                  v(ok && roof > 0 ? r.fp8_bytes() / r.fp8_us / 1e3 / roof : 0).c_str(),
                  v(ok && roof > 0 ? r.bf16_bytes() / r.bf16_us / 1e3 / roof : 0).c_str(),
                  v(ok ? gemm_fraction(r.flops() / r.fp8_us / 1e6, gemm.fp8_tflops) : 0).c_str(),
                  v(ok ? gemm_fraction(r.flops() / r.bf16_us / 1e6, gemm.bf16_tflops) : 0).c_str(),
                  r.error.c_str());
    }
    return;
  }
  std::printf("snapmla bench on %s: copy roof %.0f GB/s (D2D memcpy, read+write), L2 %.0f MB "
              "flushed (%s) before each call, median of %d calls after %d warm-up\n",
              device.c_str(), roof, l2_bytes / 1e6, o.flush.c_str(), o.reps, o.warmup);
  if (gemm.bf16_tflops > 0 || gemm.fp8_tflops > 0)
    std::printf("GEMM roofs: BF16 %.0f TFLOPS, FP8 %.0f TFLOPS (cuBLASLt 8192^3, same run)\n",
                gemm.bf16_tflops, gemm.fp8_tflops);
  else
    std::printf("%s\n", gemm.note.c_str());
  std::printf(o.split_only ? "timed: the split-KV kernels alone (--split-only: no merging of splits; plan_decode untimed)\n\n"
                           : "timed: one decode call (decode + combine; plan_decode once per step, untimed)\n\n");
  Table t({"b", "s_q", "h_q", "s_k", "mode", "fp8 us", "bf16 us", "bf16/fp8", "fp8 TFLOPS",
           "bf16 TFLOPS", "fp8 GB/s", "bf16 GB/s", "fp8 %copy", "bf16 %copy", "fp8 %gemm", "bf16 %gemm"});
  for (const auto& r : results) {
    if (!r.error.empty() && !(r.fp8_us > 0 && r.bf16_us > 0)) {
      t.add_row({std::to_string(r.s.batch), std::to_string(r.s.s_q), std::to_string(r.s.h_q),
                 std::to_string(r.s.s_k), "error: " + r.error});
      continue;
    }
    const double g8 = r.fp8_bytes() / r.fp8_us / 1e3, g16 = r.bf16_bytes() / r.bf16_us / 1e3;
    const double t8 = r.flops() / r.fp8_us / 1e6, t16 = r.flops() / r.bf16_us / 1e6;
    auto pct = [](double x, double peak) { return peak > 0 ? fixed(100 * x / peak, 0) + "%" : std::string("-"); };
    t.add_row({std::to_string(r.s.batch), std::to_string(r.s.s_q), std::to_string(r.s.h_q),
               std::to_string(r.s.s_k), r.graph ? "graph" : "eager", fixed(r.fp8_us, 1),
               fixed(r.bf16_us, 1), fixed(r.bf16_us / r.fp8_us, 2) + "x",
               fixed(r.flops() / r.fp8_us / 1e6, 0), fixed(r.flops() / r.bf16_us / 1e6, 0),
               fixed(g8, 0), fixed(g16, 0), roof > 0 ? fixed(100 * g8 / roof, 0) + "%" : "-",
               roof > 0 ? fixed(100 * g16 / roof, 0) + "%" : "-", pct(t8, gemm.fp8_tflops),
               pct(t16, gemm.bf16_tflops)});
  }
  std::printf("%s", t.render().c_str());
  std::printf("\nFLOPs = b*h_q*s_q*s_k*(2*576+2*512); bytes = %d (fp8) or %d (bf16) per token * "
              "s_k * b + Q + O\n",
              kBytesPerTokenFp8, kBytesPerTokenBf16);
}

#if SNAPMLA_WITH_CUDA

class Bench {
 public:
  explicit Bench(const BenchOptions& o) : o_(o) {
    int l2 = 0;
    SNAPMLA_CUDA_CHECK(cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, 0));
    l2_bytes_ = l2;
    flush_bytes_ = std::max<std::size_t>(2 * std::size_t(l2), std::size_t(64) << 20);
    flush_ = DeviceBytes(flush_bytes_ + 16);  // + the read flush's sink
    // A pool of realistic rows to replicate into every cache.
    synth::ProblemOptions po;
    po.batch = 1;
    po.length = 4096;
    po.h_q = 1;
    po.seed = 1234;
    po.extra_pages = 0;
    synth::HostTensors pool(synth::make_problem(po));
    pool_ = std::move(pool.new_kv);
  }

  double l2_bytes() const { return l2_bytes_; }
  void* stream() const { return stream_.get(); }

  double copy_roof() {
    const std::size_t bytes = std::size_t(1) << 30;
    DeviceBytes a(bytes), b(bytes);
    SNAPMLA_CUDA_CHECK(cudaMemsetAsync(a.get(), 1, bytes, stream_.get()));
    std::vector<double> us;
    Event e0, e1;
    for (int i = 0; i < 12; ++i) {
      SNAPMLA_CUDA_CHECK(cudaEventRecord(e0.get(), stream_.get()));
      SNAPMLA_CUDA_CHECK(cudaMemcpyAsync(b.get(), a.get(), bytes, cudaMemcpyDeviceToDevice, stream_.get()));
      SNAPMLA_CUDA_CHECK(cudaEventRecord(e1.get(), stream_.get()));
      SNAPMLA_CUDA_CHECK(cudaEventSynchronize(e1.get()));
      float ms = 0;
      SNAPMLA_CUDA_CHECK(cudaEventElapsedTime(&ms, e0.get(), e1.get()));
      if (i >= 2) us.push_back(ms * 1e3);
    }
    return 2.0 * double(bytes) / median(us) / 1e3;
  }

  BenchResult run(const BenchShape& s) {
    BenchResult r;
    r.s = s;
    const Device dev = Device::cuda(0);
    cudaStream_t stream = stream_.get();
    const std::int64_t b = s.batch, sq = s.s_q, hq = s.h_q;
    const std::int64_t ppr = std::max<std::int64_t>(1, (s.s_k + kPageSize - 1) / kPageSize);
    const std::int64_t pages = b * ppr + 16;
    const std::int64_t tokens = pages * kPageSize;
    if (tokens >= (std::int64_t(1) << 31)) throw Error(ErrorCode::kInvalidArgument, "cache too large");

    // Block table: a random permutation of the pages; lengths all s_k.
    std::mt19937_64 rng(42 + b * 7 + s.s_k);
    std::vector<std::int32_t> perm(pages);
    std::iota(perm.begin(), perm.end(), 0);
    std::shuffle(perm.begin(), perm.end(), rng);
    std::vector<std::int32_t> table(perm.begin(), perm.begin() + b * ppr);
    std::vector<std::int32_t> lengths(b, s.s_k);

    // BF16 cache: the pool replicated (doubling device copies), then FP8 by append_kv.
    DeviceBytes kv16(std::size_t(tokens) * kDimQK * 2);
    {
      const std::size_t pool_bytes = std::min(pool_.size() * 2, kv16.bytes());
      SNAPMLA_CUDA_CHECK(cudaMemcpy(kv16.get(), pool_.data(), pool_bytes, cudaMemcpyHostToDevice));
      std::size_t filled = pool_bytes;
      while (filled < kv16.bytes()) {
        const std::size_t n = std::min(filled, kv16.bytes() - filled);
        SNAPMLA_CUDA_CHECK(cudaMemcpyAsync(kv16.as<char>() + filled, kv16.get(), n,
                                          cudaMemcpyDeviceToDevice, stream));
        filled += n;
      }
    }
    DeviceBytes kv8(std::size_t(tokens) * kDimLatent), kscale(std::size_t(tokens) * 4),
        krope(std::size_t(tokens) * kDimRope * 2);
    auto view = [&](const DeviceBytes& buf, DType t, std::initializer_list<std::int64_t> shp) {
      return TensorView::contiguous(buf.get(), t, shp, dev);
    };
    const Fp8Cache fc{view(kv8, DType::kFloat8E4M3, {pages, kPageSize, kDimLatent}),
                      view(kscale, DType::kFloat32, {pages, kPageSize}),
                      view(krope, DType::kBFloat16, {pages, kPageSize, kDimRope})};
    const Bf16Cache bc{view(kv16, DType::kBFloat16, {pages, kPageSize, kDimQK})};
    {
      std::vector<std::int32_t> slots(tokens);
      std::iota(slots.begin(), slots.end(), 0);
      DeviceBytes dslots = DeviceBytes::from_host(slots);
      append_kv(view(kv16, DType::kBFloat16, {tokens, kDimQK}), view(dslots, DType::kInt32, {tokens}),
                fc, stream);
      SNAPMLA_CUDA_CHECK(cudaStreamSynchronize(stream));
    }
    // Queries: realistic synthetic rows.
    synth::ProblemOptions qo;
    qo.batch = s.batch;
    qo.s_q = s.s_q;
    qo.h_q = s.h_q;
    qo.length = 1;
    qo.seed = 99;
    qo.extra_pages = 0;
    DeviceBytes q = DeviceBytes::from_host(synth::to_bf16(synth::make_problem(qo).q));
    const std::size_t rows = std::size_t(b * sq * hq);
    DeviceBytes qn(rows * kDimLatent), qs(rows * 4), qr(rows * kDimRope * 2);
    const TensorView q_view = view(q, DType::kBFloat16, {b, sq, hq, kDimQK});
    const Fp8Query fq{view(qn, DType::kFloat8E4M3, {b, sq, hq, kDimLatent}),
                      view(qs, DType::kFloat32, {b, sq, hq}),
                      view(qr, DType::kBFloat16, {b, sq, hq, kDimRope})};
    quantize_query(q_view, fq, stream);

    DeviceBytes dtable = DeviceBytes::from_host(table), dlens = DeviceBytes::from_host(lengths);
    DeviceBytes out(rows * kDimLatent * 2), lse(rows * 4);
    const DecodeShape shape{s.batch, s.s_q, s.h_q, o_.num_sm_parts, static_cast<int>(ppr)};
    DeviceBytes ws(decode_workspace_bytes(shape, dev));
    const Workspace workspace{ws.get(), ws.bytes(), dev};
    const TensorView dl = view(dlens, DType::kInt32, {b});
    plan_decode(shape, dl, workspace, stream);
    const DecodeArgs args{shape, view(dtable, DType::kInt32, {b, ppr}), dl, workspace,
                          view(out, DType::kBFloat16, {b, sq, hq, kDimLatent}),
                          view(lse, DType::kFloat32, {b, hq, sq})};
    DecodeOptions opts;
    opts.causal = s.s_q > 1;
    opts.stream = stream;
    opts.combine = !o_.split_only;
    SNAPMLA_CUDA_CHECK(cudaStreamSynchronize(stream));

    const bool want_graph = !o_.no_graphs && s.batch <= o_.graph_max_batch;
    bool graph8 = false, graph16 = false;
    r.fp8_us = time_call([&] { decode_fp8(fq, fc, args, opts); }, want_graph, graph8);
    r.bf16_us = time_call([&] { decode_bf16(q_view, bc, args, opts); }, want_graph, graph16);
    r.graph = graph8 && graph16;
    if (want_graph && !r.graph) r.error = "CUDA graph capture failed, timed eagerly";
    return r;
  }

 private:
  template <typename Call>
  double time_call(Call&& call, bool want_graph, bool& used_graph) {
    cudaStream_t stream = stream_.get();
    cudaGraphExec_t exec = nullptr;
    used_graph = false;
    if (want_graph) {
      cudaGraph_t graph = nullptr;
      bool ok = cudaStreamBeginCapture(stream, cudaStreamCaptureModeRelaxed) == cudaSuccess;
      if (ok) {
        try {
          call();
        } catch (...) {
          ok = false;
        }
        ok = (cudaStreamEndCapture(stream, &graph) == cudaSuccess) && ok && graph;
      }
      if (ok) ok = cudaGraphInstantiate(&exec, graph, 0) == cudaSuccess;
      if (graph) cudaGraphDestroy(graph);
      cudaGetLastError();  // clear a failed capture
      used_graph = ok;
      if (!ok && exec) {
        cudaGraphExecDestroy(exec);
        exec = nullptr;
      }
    }
    auto launch = [&] {
      if (exec) SNAPMLA_CUDA_CHECK(cudaGraphLaunch(exec, stream));
      else call();
    };
    for (int i = 0; i < o_.warmup; ++i) launch();
    std::vector<Event> start(o_.reps), stop(o_.reps);
    for (int i = 0; i < o_.reps; ++i) {
      flush_l2(o_.flush == "read", flush_.get(), flush_bytes_, i, stream);
      SNAPMLA_CUDA_CHECK(cudaEventRecord(start[i].get(), stream));
      launch();
      SNAPMLA_CUDA_CHECK(cudaEventRecord(stop[i].get(), stream));
    }
    SNAPMLA_CUDA_CHECK(cudaStreamSynchronize(stream));
    SNAPMLA_CUDA_CHECK(cudaGetLastError());
    std::vector<double> us;
    for (int i = 0; i < o_.reps; ++i) {
      float ms = 0;
      SNAPMLA_CUDA_CHECK(cudaEventElapsedTime(&ms, start[i].get(), stop[i].get()));
      us.push_back(ms * 1e3);
    }
    if (exec) cudaGraphExecDestroy(exec);
    return median(us);
  }

  BenchOptions o_;
  cuda_host::Stream stream_;
  DeviceBytes flush_;
  std::size_t flush_bytes_ = 0;
  double l2_bytes_ = 0;
  std::vector<std::uint16_t> pool_;
};

#endif  // SNAPMLA_WITH_CUDA

}  // namespace

int run_bench(const BenchOptions& o) {
  const std::vector<BenchShape> shapes = o.shapes.empty() ? default_bench_shapes() : parse_shapes(o.shapes);
#if SNAPMLA_WITH_CUDA
  if (!cuda_available()) {
    std::fprintf(stderr, "snapmla bench: no Hopper GPU (compute capability 9.0) found; nothing to time\n");
    return 2;
  }
  const std::string device = device_name(0);
  Bench bench(o);
  const double roof = bench.copy_roof();
  const GemmRoofs gemm = measure_gemm_roofs(bench.stream());
  std::vector<BenchResult> results;
  bool failed = false;
  for (const BenchShape& s : shapes) {
    try {
      results.push_back(bench.run(s));
    } catch (const std::exception& e) {
      BenchResult r;
      r.s = s;
      r.error = e.what();
      for (char& c : r.error)
        if (c == '\n') c = ' ';
      results.push_back(r);
      failed = true;
      cudaGetLastError();
    }
    if (!o.json && !o.csv)
      std::fprintf(stderr, "  %s done\n", shape_label(s).c_str());
  }
  print_results(o, results, roof, gemm, bench.l2_bytes(), device);
  if (!o.svg.empty()) {
    write_svg(o.svg, results, roof, device);
    if (!o.json && !o.csv) std::printf("plot written to %s\n", o.svg.c_str());
  }
  return failed ? 1 : 0;
#else
  (void)shapes;
  (void)&print_results;
  (void)&write_svg;
  std::fprintf(stderr, "snapmla bench: this build has no CUDA kernels (configure with nvcc, e.g. "
                       "`cmake --preset default`) and it needs a Hopper GPU; nothing to time\n");
  return 2;
#endif
}

}  // namespace snapmla::tool

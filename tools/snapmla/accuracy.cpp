// snapmla accuracy: the ablation of SNAPMLA.md section 6. Every scheme quantizes the same
// synthetic problem its own way (CPU emulation, src/reference/schemes.cpp) and is compared with
// the float64 truth.
#include <chrono>
#include <cstdio>
#include <thread>

#include <fmt/format.h>

#include "commands.h"
#include "reference/reference.h"
#include "report.h"
#include "synth/mla_data.h"

namespace snapmla::tool {
namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int run_accuracy(const AccuracyOptions& o) {
  synth::ProblemOptions po;
  po.batch = o.batch;
  po.s_q = o.s_q;
  po.h_q = o.h_q;
  po.length = o.s_k;
  po.causal = o.causal;
  po.dist = synth::parse_distribution(o.dist);
  po.seed = o.seed;
  po.threads = o.threads;

  const auto t_all = std::chrono::steady_clock::now();
  double t_gen = 0, t_truth = 0;
  struct Row {
    ref::Scheme scheme;
    ref::ErrorMetrics metrics;  // mean over seeds (lse_max_abs: max; non_finite: sum)
    double seconds;
  };
  std::vector<Row> rows;
  for (ref::Scheme scheme : ref::kAllSchemes) rows.push_back({scheme, {}, 0.0});
  float softmax_scale = 0.0f;
  for (int k = 0; k < o.seeds; ++k) {
    po.seed = o.seed + static_cast<std::uint64_t>(k);
    auto t0 = std::chrono::steady_clock::now();
    const ref::HostProblem problem = synth::make_problem(po);
    softmax_scale = problem.softmax_scale;
    t_gen += seconds_since(t0);
    t0 = std::chrono::steady_clock::now();
    const ref::HostResult truth = ref::attention_truth(problem, o.threads);
    t_truth += seconds_since(t0);
    for (Row& row : rows) {
      t0 = std::chrono::steady_clock::now();
      const ref::ErrorMetrics m = ref::compare(ref::run_scheme(row.scheme, problem, o.threads), truth);
      row.seconds += seconds_since(t0);
      row.metrics.rel_l2 += m.rel_l2 / o.seeds;
      row.metrics.rmse += m.rmse / o.seeds;
      row.metrics.cos_diff += m.cos_diff / o.seeds;
      row.metrics.lse_max_abs = k == 0 ? m.lse_max_abs : std::max(row.metrics.lse_max_abs, m.lse_max_abs);
      row.metrics.non_finite += m.non_finite;
    }
  }
  const double t_total = seconds_since(t_all);
  const int threads = o.threads > 0 ? o.threads
                                    : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));

  // Which FP8 scheme has the lowest relative L2 error (the claim of the paper).
  const Row* best_fp8 = nullptr;
  for (const Row& row : rows)
    if (row.scheme != ref::Scheme::kBf16 &&
        (!best_fp8 || row.metrics.rel_l2 < best_fp8->metrics.rel_l2))
      best_fp8 = &row;

  if (o.json) {
    nlohmann::json schemes = nlohmann::json::object();
    for (const Row& row : rows) {
      auto m = metrics_json(row.metrics);
      m["seconds"] = row.seconds;
      schemes[ref::scheme_name(row.scheme)] = m;
    }
    nlohmann::json j = {
        {"schemes", schemes},
        {"config",
         {{"batch", o.batch}, {"s_q", o.s_q}, {"h_q", o.h_q}, {"s_k", o.s_k}, {"dist", o.dist},
          {"seed", o.seed}, {"seeds", o.seeds}, {"causal", o.causal}, {"threads", threads},
          {"softmax_scale", softmax_scale}}},
        {"best_fp8", best_fp8 ? ref::scheme_name(best_fp8->scheme) : ""},
        {"seconds", {{"generate", t_gen}, {"truth", t_truth}, {"total", t_total}}}};
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }

  std::printf("snapmla accuracy: b=%d s_q=%d h_q=%d s_k=%d%s, %s data (seed %llu%s), "
              "softmax_scale %.6g\n",
              o.batch, o.s_q, o.h_q, o.s_k, o.causal ? " causal" : "", o.dist.c_str(),
              static_cast<unsigned long long>(o.seed),
              o.seeds > 1 ? fmt::format("..{}, mean over {} seeds, LSE: max", o.seed + o.seeds - 1, o.seeds).c_str() : "",
              softmax_scale);
  std::printf("errors against the float64 truth (out [b, s_q, h_q, 512], LSE in natural log)\n\n");
  Table table(metrics_headers(), {true, true});
  for (const Row& row : rows)
    table.add_row(metrics_row(ref::scheme_name(row.scheme), ref::scheme_description(row.scheme),
                              row.metrics));
  std::printf("%s\n", table.render().c_str());
  if (best_fp8)
    std::printf("lowest FP8 error (rel L2): %s\n", ref::scheme_name(best_fp8->scheme));
  double t_schemes = 0.0;
  for (const Row& row : rows) t_schemes += row.seconds;
  std::printf("time: %.2f s (generate %.2f s, truth %.2f s, 6 schemes %.2f s) on %d threads\n",
              t_total, t_gen, t_truth, t_schemes, threads);
  return 0;
}

}  // namespace snapmla::tool

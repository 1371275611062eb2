// snapmla: the command-line tool. `snapmla` alone runs the decode demo.
//
//   snapmla [demo]     decode demo: FP8 vs BF16 against float64 truth (GPU when present)
//   snapmla accuracy   the accuracy ablation of SNAPMLA.md section 6 on synthetic MLA data
//   snapmla bench      GPU timing of FP8 and BF16 decode over a grid of shapes
//
// Any bad option or value prints one line "snapmla: error: ..." and exits with status 2; a
// failure while running exits with status 1.
#include <cstdio>
#include <exception>
#include <string>

#include <CLI/CLI.hpp>

#include "commands.h"
#include "snapmla/error.h"

namespace {

void one_line(std::string& s) {
  for (char& c : s)
    if (c == '\n' || c == '\r') c = ' ';
  while (!s.empty() && s.back() == ' ') s.pop_back();
}

int error_exit(std::string message, int status) {
  one_line(message);
  std::fprintf(stderr, "snapmla: error: %s\n", message.c_str());
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace snapmla::tool;
  CLI::App app{"snapmla: FP8 MLA decoding (SnapMLA) - demo, accuracy ablation and benchmark"};
  app.require_subcommand(0, 1);

  DemoOptions demo;
  auto* demo_cmd = app.add_subcommand(
      "demo", "Default decode demo (also what `snapmla` with no arguments runs): FP8 and BF16 "
              "decode against float64 truth, cache bytes saved; on the GPU also the timing");
  demo_cmd->add_flag("--cpu", demo.force_cpu, "Run the CPU path even where a GPU is present");
  demo_cmd->add_option("--seed", demo.seed, "Seed of the synthetic data");
  demo_cmd->add_option("--threads", demo.threads, "CPU threads (0: all)")
      ->check(CLI::NonNegativeNumber);
  demo_cmd->add_option("--reps", demo.reps, "GPU timing repetitions")->check(CLI::PositiveNumber);

  AccuracyOptions acc;
  auto* acc_cmd = app.add_subcommand(
      "accuracy", "Accuracy ablation (SnapMLA, A-D, BF16) against float64 truth on synthetic data");
  acc_cmd->add_option("--batch,-b", acc.batch, "Requests")->check(CLI::PositiveNumber);
  acc_cmd->add_option("--s-q", acc.s_q, "Query tokens per request")->check(CLI::PositiveNumber);
  acc_cmd->add_option("--h-q", acc.h_q, "Query heads")->check(CLI::PositiveNumber);
  acc_cmd->add_option("--s-k", acc.s_k, "Context length (tokens per request)")
      ->check(CLI::NonNegativeNumber);
  acc_cmd->add_option("--dist", acc.dist, "Data distribution")
      ->check(CLI::IsMember({"realistic", "gaussian", "uniform"}));
  acc_cmd->add_option("--seed", acc.seed, "Seed of the synthetic data");
  acc_cmd->add_option("--seeds", acc.seeds,
                      "Average the metrics over this many seeds (seed, seed+1, ...; LSE: max)")
      ->check(CLI::PositiveNumber);
  acc_cmd->add_flag("--causal", acc.causal, "Causal masking among the s_q query tokens");
  acc_cmd->add_option("--threads", acc.threads, "CPU threads (0: all)")
      ->check(CLI::NonNegativeNumber);
  acc_cmd->add_flag("--json", acc.json, "Print one JSON object instead of the table");

  BenchOptions bench;
  auto* bench_cmd = app.add_subcommand(
      "bench", "GPU benchmark of FP8 vs BF16 decode (needs a CUDA build and a Hopper GPU; "
               "exits with status 2 where there is none)");
  bench_cmd->add_option("--shapes", bench.shapes,
                        "Comma-separated shapes BxS_QxH_QxS_K, e.g. 128x1x16x8192,1x1x128x8192 "
                        "(default: the shapes of SNAPMLA.md section 7)");
  bench_cmd->add_option("--reps", bench.reps, "Timed repetitions per measurement (median)")
      ->check(CLI::PositiveNumber);
  bench_cmd->add_option("--warmup", bench.warmup, "Warm-up calls")->check(CLI::NonNegativeNumber);
  bench_cmd->add_flag("--json", bench.json, "Print one JSON object instead of the table");
  bench_cmd->add_flag("--csv", bench.csv, "Print CSV instead of the table");
  bench_cmd->add_option("--svg", bench.svg, "Write a plot (SVG) of the results to this file");
  bench_cmd->add_flag("--no-graphs", bench.no_graphs, "Time eager calls only");
  bench_cmd->add_option("--graph-max-batch", bench.graph_max_batch,
                        "Use CUDA graphs for batches up to this")
      ->check(CLI::NonNegativeNumber);
  bench_cmd->add_option("--num-sm-parts", bench.num_sm_parts,
                        "Split-KV parts for every shape (0: the device default of each shape)")
      ->check(CLI::NonNegativeNumber);
  bench_cmd->add_option("--flush", bench.flush,
                        "How the L2 is flushed before each timed call: memset (2x the L2, left dirty: "
                        "the call writes it back) or read (a kernel reads 2x the L2, left clean)")
      ->check(CLI::IsMember({"memset", "read"}));
  bench_cmd->add_flag("--split-only", bench.split_only,
                      "Time the split-KV kernels alone, merging no splits (neither the combine kernel "
                      "nor the 64-row kernel's in-kernel merges): a diagnostic, the merging's share "
                      "of a call is the difference; the outputs are not complete");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return error_exit(e.what(), 2);
  }

  try {
    if (*acc_cmd) return run_accuracy(acc);
    if (*bench_cmd) {
      if (bench.json && bench.csv) return error_exit("--json and --csv exclude each other", 2);
      if (!bench.shapes.empty()) {
        try {
          parse_shapes(bench.shapes);
        } catch (const std::exception& e) {
          return error_exit(e.what(), 2);
        }
      }
      return run_bench(bench);
    }
    return run_demo(demo);
  } catch (const snapmla::Error& e) {
    return error_exit(e.what(), 1);
  } catch (const std::exception& e) {
    return error_exit(e.what(), 1);
  } catch (...) {
    return error_exit("unknown failure", 1);
  }
}

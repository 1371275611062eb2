// The subcommands of the snapmla tool. Each returns the process exit status; errors are thrown
// (snapmla::Error, std::exception) and main() turns them into one line on stderr.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace snapmla::tool {

struct DemoOptions {
  bool force_cpu = false;   // run the CPU path even where a GPU is present
  std::uint64_t seed = 0;
  int threads = 0;
  int reps = 50;            // GPU timing repetitions
};
int run_demo(const DemoOptions& options);

struct AccuracyOptions {
  int batch = 2;
  int s_q = 1;
  int h_q = 16;
  int s_k = 8192;
  std::string dist = "realistic";
  std::uint64_t seed = 0;
  int seeds = 1;  // average over seeds seed .. seed + seeds - 1
  bool causal = false;
  int threads = 0;
  bool json = false;
};
int run_accuracy(const AccuracyOptions& options);

struct BenchShape {
  int batch, s_q, h_q, s_k;
};
// "128x1x16x8192,1x1x128x640" -> shapes; throws snapmla::Error on a malformed list.
std::vector<BenchShape> parse_shapes(const std::string& text);
std::vector<BenchShape> default_bench_shapes();

struct BenchOptions {
  std::string shapes;       // empty: default_bench_shapes()
  int reps = 30;            // timed repetitions per measurement (median reported)
  int warmup = 5;
  bool json = false;
  bool csv = false;
  std::string svg;          // write a plot here
  bool no_graphs = false;   // never use CUDA graphs
  int graph_max_batch = 8;  // CUDA graphs for b <= this
  int num_sm_parts = 0;     // split-KV parts of every shape (0: default_num_sm_parts)
  bool split_only = false;  // time the split kernels without merging splits (a diagnostic)
  std::string flush = "memset";  // how the L2 is flushed before each call: memset or read
};
// Exit status 2 where no CUDA build or no Hopper GPU is present (message on stderr).
int run_bench(const BenchOptions& options);

}  // namespace snapmla::tool

// FlashMLA's BF16 dense decode, timed the way `snapmla bench` times ours, in the same run.
//
// SNAPMLA.md section 7's anchors come from other runs (and the small shapes from an H100), so the
// issue's "same GPU, same run" comparison needs FlashMLA on the lent card itself. FlashMLA is
// not part of this repository: scripts/build_flashmla_compare.sh compiles this file against a
// FlashMLA checkout the user supplies (its csrc/sm90 dense decode, its combine and its
// scheduler-metadata kernels) and the project's CUTLASS headers.
//
// What is timed is what FlashMLA's Python entry point runs per call: the split kernel and the
// combine; the scheduler metadata is computed once per shape, untimed, as plan_decode is in our
// bench (it serves every layer of a step). Timing as in tools/snapmla/bench.cpp: the L2 flushed
// before each call by a memset of 2x its size, or with --flush read by a kernel reading it
// (bench/common/l2_flush.cuh; outside the timed region), CUDA events around
// the call, batches up to 8 captured in a CUDA graph of one call and replayed, 5 warm-up calls,
// median of 30.
//
// Before the timing, one small case per head count is checked against a float CPU reference
// (bf16 inputs, same block table), so that a wrong parameter wiring cannot pass as a fast kernel.
//
// Usage: flashmla_compare [--flush memset|read] [BxS_QxH_QxS_K,...]
//   (default: tools/snapmla/default_shapes.h, the list `snapmla bench` times)
#include <cuda_runtime.h>

#include "../common/l2_flush.cuh"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <cutlass/bfloat16.h>

#include "../../tools/snapmla/default_shapes.h"  // relative: built outside the project's CMake
#include "params.h"
#include "sm90/decode/dense/splitkv_mla.h"
#include "smxx/decode/combine/combine.h"
#include "smxx/decode/get_decoding_sched_meta/get_decoding_sched_meta.h"

namespace {

#define CHECK_CUDA(call)                                                                       \
  do {                                                                                         \
    cudaError_t e_ = (call);                                                                   \
    if (e_ != cudaSuccess) {                                                                   \
      std::fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call, cudaGetErrorString(e_)); \
      std::exit(1);                                                                            \
    }                                                                                          \
  } while (0)

constexpr int kDimQK = 576, kDimV = 512, kPage = 64;
constexpr std::size_t kPoolTokens = 4096;

struct Shape {
  int b, s_q, h_q, s_k;
};

std::vector<Shape> parse(const std::string& text) {
  std::vector<Shape> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    Shape s{};
    if (std::sscanf(item.c_str(), "%dx%dx%dx%d", &s.b, &s.s_q, &s.h_q, &s.s_k) != 4 || s.b <= 0 ||
        s.s_q <= 0 || s.h_q <= 0 || s.s_k <= 0) {
      std::fprintf(stderr, "flashmla_compare: '%s' is not BxS_QxH_QxS_K with positive values\n", item.c_str());
      std::exit(2);
    }
    out.push_back(s);
  }
  return out;
}

template <class T>
struct Buffer {
  T* ptr = nullptr;
  std::size_t count = 0;
  explicit Buffer(std::size_t n) : count(n) { CHECK_CUDA(cudaMalloc(&ptr, std::max<std::size_t>(n, 1) * sizeof(T))); }
  ~Buffer() { cudaFree(ptr); }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  void upload(const std::vector<T>& h) { CHECK_CUDA(cudaMemcpy(ptr, h.data(), h.size() * sizeof(T), cudaMemcpyHostToDevice)); }
  std::vector<T> download() const {
    std::vector<T> h(count);
    CHECK_CUDA(cudaMemcpy(h.data(), ptr, count * sizeof(T), cudaMemcpyDeviceToHost));
    return h;
  }
};

using bf16 = cutlass::bfloat16_t;

// One FlashMLA decode problem: inputs, workspace and the two launches of a call.
struct Problem {
  Shape s;
  int rows, blocks_per_seq, num_blocks, num_sm_parts, total_splits;
  float scale;
  std::vector<bf16> q_host, pool;  // pool: the tokens the cache repeats
  std::vector<int> table_host;
  Buffer<bf16> q, k, out;
  Buffer<int> table, lengths, num_splits;
  Buffer<float> lse, lse_accum, o_accum;
  Buffer<DecodingSchedMeta> meta;
  DenseAttnDecodeParams dp{};
  CombineParams cp{};

  Problem(Shape shape, int sms, std::mt19937& rng)
      : s(shape),
        rows(shape.s_q * shape.h_q),
        blocks_per_seq((shape.s_k + kPage - 1) / kPage),
        num_blocks(shape.b * blocks_per_seq),
        // FlashMLA's own choice (csrc/api/dense_decode.h), one KV head.
        num_sm_parts(std::max(sms / ((rows + 63) / 64), 1)),
        total_splits(shape.b + num_sm_parts),
        scale(1.0f / std::sqrt(float(kDimQK))),
        q(std::size_t(shape.b) * rows * kDimQK),
        k(std::size_t(num_blocks) * kPage * kDimQK),
        out(std::size_t(shape.b) * rows * kDimV),
        table(std::size_t(shape.b) * blocks_per_seq),
        lengths(shape.b),
        num_splits(shape.b + 1),
        lse(std::size_t(shape.b) * rows),
        lse_accum(std::size_t(total_splits) * rows),
        o_accum(std::size_t(total_splits) * rows * kDimV),
        meta(num_sm_parts) {
    // Magnitudes like an MLA cache (SNAPMLA.md section 6): content within about +-10 with a
    // per-token spread, RoPE with heavier tails; the values only matter for the check below.
    // A pool of kPoolTokens tokens is generated and repeated over the cache, as in our bench.
    std::normal_distribution<float> normal(0.f, 1.f);
    std::uniform_real_distribution<float> spread(0.3f, 3.f);
    q_host.resize(q.count);
    for (auto& v : q_host) v = bf16(normal(rng));
    const std::size_t cache_tokens = std::size_t(num_blocks) * kPage;
    pool.resize(std::min<std::size_t>(cache_tokens, kPoolTokens) * kDimQK);
    for (std::size_t t = 0; t < pool.size() / kDimQK; ++t) {
      const float token_scale = spread(rng);
      for (int d = 0; d < kDimQK; ++d)
        pool[t * kDimQK + d] = bf16(d < kDimV ? token_scale * normal(rng) : 20.f * normal(rng));
    }
    for (std::size_t at = 0; at < cache_tokens * kDimQK; at += pool.size()) {
      const std::size_t n = std::min(pool.size(), cache_tokens * kDimQK - at);
      CHECK_CUDA(cudaMemcpy(k.ptr + at, pool.data(), n * sizeof(bf16), cudaMemcpyHostToDevice));
    }
    table_host.resize(table.count);
    std::iota(table_host.begin(), table_host.end(), 0);
    std::shuffle(table_host.begin(), table_host.end(), rng);
    q.upload(q_host);
    table.upload(table_host);
    lengths.upload(std::vector<int>(shape.b, shape.s_k));

    dp.b = shape.b;
    dp.s_q = shape.s_q;
    dp.q_seq_per_hk = rows;
    dp.d = kDimQK;
    dp.d_v = kDimV;
    dp.h_q = shape.h_q;
    dp.h_k = 1;
    dp.num_blocks = num_blocks;
    dp.q_head_per_hk = shape.h_q;
    dp.is_causal = shape.s_q > 1;  // as our bench: query token i sees s_k - s_q + i + 1 tokens
    dp.scale_softmax = scale;
    dp.scale_softmax_log2 = scale * float(M_LOG2E);
    dp.q_ptr = q.ptr;
    dp.k_ptr = k.ptr;
    dp.o_ptr = out.ptr;
    dp.softmax_lse_ptr = lse.ptr;
    dp.q_batch_stride = std::int64_t(rows) * kDimQK;  // strides in elements
    dp.k_batch_stride = std::int64_t(kPage) * kDimQK;
    dp.o_batch_stride = std::int64_t(rows) * kDimV;
    dp.q_row_stride = kDimQK;
    dp.k_row_stride = kDimQK;
    dp.o_row_stride = kDimV;
    dp.q_head_stride = kDimQK;
    dp.k_head_stride = kDimQK;
    dp.o_head_stride = std::int64_t(rows) * kDimV;
    dp.block_table = table.ptr;
    dp.block_table_batch_stride = blocks_per_seq;
    dp.page_block_size = kPage;
    dp.seqlens_k_ptr = lengths.ptr;
    dp.tile_scheduler_metadata_ptr = meta.ptr;
    dp.num_sm_parts = num_sm_parts;
    dp.num_splits_ptr = num_splits.ptr;
    dp.total_num_splits = total_splits;
    dp.softmax_lseaccum_ptr = lse_accum.ptr;
    dp.oaccum_ptr = o_accum.ptr;

    cp = CombineParams{shape.b, shape.s_q, shape.h_q, kDimV,
                       lse.ptr, out.ptr, rows, shape.h_q,
                       rows * kDimV, shape.h_q * kDimV, kDimV,
                       lse_accum.ptr, o_accum.ptr, rows, shape.h_q,
                       rows * kDimV, shape.h_q * kDimV, kDimV,
                       meta.ptr, num_splits.ptr, num_sm_parts,
                       nullptr, nullptr};
  }

  void plan(cudaStream_t stream) {
    GetDecodeSchedMetaParams mp{s.b, s.s_q, kPage, 5, -1, -1, nullptr, nullptr, lengths.ptr,
                                meta.ptr, num_splits.ptr, num_sm_parts, stream};
    smxx::decode::run_get_decoding_sched_meta_kernel(mp);
    CHECK_CUDA(cudaGetLastError());
  }

  void call(cudaStream_t stream) {
    dp.stream = stream;
    cp.stream = stream;
    sm90::run_flash_splitkv_mla_kernel<bf16>(dp);
    smxx::decode::run_flash_mla_combine_kernel<bf16>(cp);
  }

  // Token t of request b as the cache holds it.
  const bf16* token(int b, int t) const {
    const std::size_t physical = std::size_t(table_host[b * blocks_per_seq + t / kPage]) * kPage + t % kPage;
    return &pool[(physical % (pool.size() / kDimQK)) * kDimQK];
  }

  // Double CPU attention over the same bf16 inputs; returns the largest |error| / max |ref|.
  double check() const {
    const std::vector<bf16> got = out.download();
    double worst = 0, ref_max = 0;
    std::vector<double> logits(s.s_k), o(kDimV);
    for (int b = 0; b < s.b; ++b)
      for (int r = 0; r < rows; ++r) {
        const bf16* qr = &q_host[(std::size_t(b) * rows + r) * kDimQK];
        const int visible = s.s_k - s.s_q + r / s.h_q + 1;  // causal among the s_q tokens
        double m = -1e300;
        for (int t = 0; t < visible; ++t) {
          const bf16* kt = token(b, t);
          double dot = 0;
          for (int d = 0; d < kDimQK; ++d) dot += double(float(qr[d])) * double(float(kt[d]));
          logits[t] = dot * scale;
          m = std::max(m, logits[t]);
        }
        double l = 0;
        std::fill(o.begin(), o.end(), 0.0);
        for (int t = 0; t < visible; ++t) {
          const double p = std::exp(logits[t] - m);
          l += p;
          const bf16* kt = token(b, t);
          for (int d = 0; d < kDimV; ++d) o[d] += p * double(float(kt[d]));
        }
        for (int d = 0; d < kDimV; ++d) {
          const double ref = o[d] / l;
          ref_max = std::max(ref_max, std::abs(ref));
          worst = std::max(worst, std::abs(double(float(got[(std::size_t(b) * rows + r) * kDimV + d])) - ref));
        }
      }
    return worst / std::max(ref_max, 1e-30);
  }
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

}  // namespace

int main(int argc, char** argv) {
  snapmla::bench::L2Flush flush_how = snapmla::bench::L2Flush::kMemset;
  int arg = 1;
  if (argc > arg && std::string(argv[arg]) == "--flush") {
    if (argc <= arg + 1 || !snapmla::bench::parse_l2_flush(argv[arg + 1], flush_how)) {
      std::fprintf(stderr, "flashmla_compare: --flush takes memset or read\n");
      return 2;
    }
    arg += 2;
  }
  const std::string shapes_text = argc > arg ? argv[arg] : snapmla::tool::kDefaultBenchShapes;
  const std::vector<Shape> shapes = parse(shapes_text);
  cudaDeviceProp prop{};
  CHECK_CUDA(cudaGetDeviceProperties(&prop, 0));
  if (prop.major != 9) {
    std::fprintf(stderr, "flashmla_compare: needs a Hopper GPU (found %s)\n", prop.name);
    return 2;
  }
  cudaStream_t stream;
  CHECK_CUDA(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  std::mt19937 rng(20261128);

  // The wiring check: small cases, 16 and 128 heads, a context that ends inside a page.
  for (Shape small : {Shape{2, 1, 16, 700}, Shape{2, 1, 128, 700}, Shape{1, 2, 64, 333}}) {
    Problem p(small, prop.multiProcessorCount, rng);
    p.plan(stream);
    p.call(stream);
    CHECK_CUDA(cudaStreamSynchronize(stream));
    const double err = p.check();
    std::printf("check %dx%dx%dx%d: max |err| / max |ref| = %.3e\n", small.b, small.s_q, small.h_q, small.s_k, err);
    if (!(err < 2e-2)) {
      std::fprintf(stderr, "flashmla_compare: FlashMLA's output disagrees with the CPU reference\n");
      return 1;
    }
  }

  void* flush = nullptr;
  const std::size_t flush_bytes = std::max<std::size_t>(2 * std::size_t(prop.l2CacheSize), std::size_t(64) << 20);
  CHECK_CUDA(cudaMalloc(&flush, flush_bytes + 16));  // + the read flush's sink
  std::printf("%s, %d SMs; FlashMLA BF16 dense decode, us (median of 30, L2 flushed (%s), graphs at b <= 8)\n",
              prop.name, prop.multiProcessorCount, snapmla::bench::l2_flush_name(flush_how));
  std::printf("%-18s %10s %6s %10s\n", "shape", "us", "graph", "GB/s");
  for (const Shape& s : shapes) {
    Problem p(s, prop.multiProcessorCount, rng);
    p.plan(stream);
    const bool use_graph = s.b <= 8;
    cudaGraphExec_t exec = nullptr;
    if (use_graph) {
      cudaGraph_t graph = nullptr;
      CHECK_CUDA(cudaStreamBeginCapture(stream, cudaStreamCaptureModeRelaxed));
      p.call(stream);
      CHECK_CUDA(cudaStreamEndCapture(stream, &graph));
      CHECK_CUDA(cudaGraphInstantiate(&exec, graph, 0));
      CHECK_CUDA(cudaGraphDestroy(graph));
    }
    auto launch = [&] {
      if (exec) CHECK_CUDA(cudaGraphLaunch(exec, stream));
      else p.call(stream);
    };
    for (int i = 0; i < 5; ++i) launch();
    constexpr int kReps = 30;
    std::vector<cudaEvent_t> start(kReps), stop(kReps);
    for (int i = 0; i < kReps; ++i) {
      CHECK_CUDA(cudaEventCreate(&start[i]));
      CHECK_CUDA(cudaEventCreate(&stop[i]));
      CHECK_CUDA(snapmla::bench::flush_l2(flush_how, flush, flush_bytes, i, stream));
      CHECK_CUDA(cudaEventRecord(start[i], stream));
      launch();
      CHECK_CUDA(cudaEventRecord(stop[i], stream));
    }
    CHECK_CUDA(cudaStreamSynchronize(stream));
    CHECK_CUDA(cudaGetLastError());
    std::vector<double> us;
    for (int i = 0; i < kReps; ++i) {
      float ms = 0;
      CHECK_CUDA(cudaEventElapsedTime(&ms, start[i], stop[i]));
      us.push_back(ms * 1e3);
      cudaEventDestroy(start[i]);
      cudaEventDestroy(stop[i]);
    }
    if (exec) cudaGraphExecDestroy(exec);
    const double t = median(us);
    const double bytes = double(s.b) * s.s_k * kDimQK * 2;  // the BF16 cache read
    std::printf("%-18s %10.1f %6s %10.0f\n",
                (std::to_string(s.b) + "x" + std::to_string(s.s_q) + "x" + std::to_string(s.h_q) + "x" +
                 std::to_string(s.s_k)).c_str(),
                t, use_graph ? "yes" : "no", bytes / (t * 1e-6) / 1e9);
    std::fflush(stdout);
  }
  cudaFree(flush);
  return 0;
}

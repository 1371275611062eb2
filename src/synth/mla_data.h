// Seeded synthetic MLA decode problems for the tools and the tests.
//
// make_problem() builds a ref::HostProblem (query, paged cache, block table, lengths) whose
// values are bf16-representable floats, as the model would produce them. The "realistic"
// distribution imitates what SNAPMLA.md section 6 describes of real DeepSeek caches:
//
//   c_kv     per-token magnitude spread (log-normal), per-channel scales, a few outlier
//            channels several times larger; content roughly within +-10 (clipped at kContentClip)
//   k_rope   32 channel pairs, each a fixed per-pair mean direction plus Student-t (nu = 3) noise,
//            pair magnitudes growing geometrically from low to high pairs (the low-frequency
//            pairs carry the big values), rotated by the position (theta_j = 10000^(-j/32)),
//            clipped at +-kRopeClip (about 1000)
//   queries  q_nope moderate (per-head scale); q_rope scaled so that the RoPE part of a score
//            has about the same spread as the content part
//   sinks    token 0 of every request and a few random tokens whose c_kv points along a
//            direction u shared by every query; the queries carry a component along u, so these
//            tokens together take most of the attention in most heads
//
// "gaussian" (N(0,1) everywhere) and "uniform" (U(-1,1) everywhere) exist for comparison only:
// they hide the effects the FP8 schemes differ in.
//
// Everything is a pure function of the options: each cache page has its own mt19937_64 stream
// seeded from (seed, page), so the result is the same for any number of threads.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "reference/reference.h"
#include "snapmla/ops.h"

namespace snapmla::synth {

enum class Distribution { kRealistic, kGaussian, kUniform };

const char* to_string(Distribution dist);
// "realistic", "gaussian", "uniform"; throws snapmla::Error(kInvalidArgument) otherwise.
Distribution parse_distribution(const std::string& name);

inline constexpr float kContentClip = 16.0f;  // |c_kv| never exceeds this
inline constexpr float kRopeClip = 1000.0f;   // |k_rope| never exceeds this

struct ProblemOptions {
  int batch = 1;
  int s_q = 1;
  int h_q = 16;
  // Per-request lengths: if `lengths` is non-empty it must hold `batch` values (0 allowed) and
  // wins; otherwise every request has `length` tokens.
  int length = 4096;
  std::vector<int> lengths;
  bool causal = false;
  float softmax_scale = 0.0f;  // 0 -> 1/sqrt(576)
  Distribution dist = Distribution::kRealistic;
  std::uint64_t seed = 0;
  // Physical pages beyond the ones the requests use (the block table is a random permutation
  // of all pages, so unused pages sit between used ones). -1: about 1/8 of the used pages, at
  // least 2.
  int extra_pages = -1;
  // Fill unused pages and the unused tail of each request's last page with NaN (tests check
  // that nothing reads them). Otherwise they hold zeros.
  bool poison_unused = false;
  int threads = 0;  // 0: hardware concurrency
};

// Validates the options (throws snapmla::Error naming the bad one) and builds the problem.
ref::HostProblem make_problem(const ProblemOptions& options);

// ---- helpers: bf16 copies and CPU views of a problem ------------------------------------------

std::vector<std::uint16_t> to_bf16(const std::vector<float>& values);  // round to nearest even

// Owns the bf16 / int32 copies of a problem and hands out CPU TensorViews of them, shaped as the
// public API wants them. Rows of the problem's cache become the append_kv input in slot order.
struct HostTensors {
  int batch = 0, s_q = 1, h_q = 0, num_pages = 0, max_pages = 0;
  std::vector<std::uint16_t> q;            // [b, s_q, h_q, 576] bf16
  std::vector<std::uint16_t> kv_bf16;      // [num_pages, 64, 576] bf16 (the BF16 cache)
  std::vector<std::int32_t> block_table;   // [b, max_pages]
  std::vector<std::int32_t> lengths;       // [b]
  std::vector<std::uint16_t> new_kv;       // [n, 576] bf16: every used token, request order
  std::vector<std::int32_t> slots;         // [n] page * 64 + offset of each new_kv row

  explicit HostTensors(const ref::HostProblem& problem);

  TensorView q_view();
  TensorView bf16_cache_view();
  TensorView block_table_view();
  TensorView lengths_view();
  TensorView new_kv_view();
  TensorView slots_view();
};

// Owning CPU storage for the outputs and intermediate planes of one decode.
struct HostFp8Cache {
  std::vector<std::uint8_t> kv_fp8;     // [pages, 64, 512]
  std::vector<float> kv_scale;          // [pages, 64]
  std::vector<std::uint16_t> kv_rope;   // [pages, 64, 64]
  explicit HostFp8Cache(int num_pages);
  Fp8Cache view();
};

struct HostFp8Query {
  std::vector<std::uint8_t> q_nope;     // [b, s_q, h_q, 512]
  std::vector<float> q_scale;           // [b, s_q, h_q]
  std::vector<std::uint16_t> q_rope;    // [b, s_q, h_q, 64]
  int batch, s_q, h_q;
  HostFp8Query(int batch, int s_q, int h_q);
  Fp8Query view();
};

// out [b, s_q, h_q, 512] bf16 and lse [b, h_q, s_q] f32 as a HostResult (doubles) for ref::compare.
ref::HostResult to_host_result(const std::vector<std::uint16_t>& out_bf16,
                               const std::vector<float>& lse);

}  // namespace snapmla::synth

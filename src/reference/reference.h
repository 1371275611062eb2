// The CPU reference: float64 truth and a faithful emulation of the FP8 and BF16 decode
// arithmetic (docs/numerics.md). The CPU implementation of every public operation lives here,
// so the kernels, the tools and the tests all check against one oracle that reads the same
// problem description (the public views) as the kernels.
//
// Functions in this header assume their arguments were validated by src/api.
#pragma once

#include <cstdint>
#include <vector>

#include "snapmla/ops.h"

namespace snapmla::ref {

// ---- the public operations, CPU implementations ---------------------------------------------
void quantize_query(const TensorView& q, const Fp8Query& out);
void append_kv(const TensorView& kv, const TensorView& slots, const Fp8Cache& cache);
void fetch_dequant(const Fp8Cache& cache, const TensorView& slots, const TensorView& out);
void plan_decode(const DecodeShape& shape, const TensorView& lengths, const Workspace& workspace);
void decode_fp8(const Fp8Query& q, const Fp8Cache& cache, const DecodeArgs& args,
                const DecodeOptions& options);
void decode_bf16(const TensorView& q, const Bf16Cache& cache, const DecodeArgs& args,
                 const DecodeOptions& options);
void combine_splits(const DecodeArgs& args);

// ---- quantization of one row (the rules of the cache format) ---------------------------------
// row: 576 floats (c_kv | k_rope). Writes 512 e4m3 codes, the scale and 64 bf16 codes.
void quantize_row(const float* row, std::uint8_t* content, float* scale, std::uint16_t* rope);

// ---- float64 truth ---------------------------------------------------------------------------
// The attention problem in plain numbers: what the truth and the ablation schemes read.
struct HostProblem {
  int batch = 0, s_q = 1, h_q = 0;
  int num_pages = 0, max_pages = 0;
  bool causal = false;
  float softmax_scale = 0.0f;               // resolved (never 0 here)
  std::vector<std::int32_t> lengths;        // [b]
  std::vector<std::int32_t> block_table;    // [b, max_pages]
  std::vector<float> q;                     // [b, s_q, h_q, 576]
  std::vector<float> cache;                 // [num_pages, 64, 576] (c_kv | k_rope)
};

struct HostResult {
  std::vector<double> out;  // [b, s_q, h_q, 512]
  std::vector<double> lse;  // [b, h_q, s_q], natural log; +inf for rows that see no token
};

// The number of tokens query token i (0-based) of a request of `length` sees.
inline int visible_tokens(int length, int s_q, int i, bool causal) {
  if (!causal) return length;
  const int n = length - s_q + 1 + i;
  return n < 0 ? 0 : n;
}

HostResult attention_truth(const HostProblem& problem, int threads = 0);

// ---- the accuracy ablation (SNAPMLA.md section 6) --------------------------------------------
enum class Scheme { kSnapMLA, kRopeFp8, kPerTensorStatic, kPerTensorDynamic, kPerBlock, kBf16 };
inline constexpr Scheme kAllSchemes[] = {Scheme::kSnapMLA, Scheme::kRopeFp8,
                                         Scheme::kPerTensorStatic, Scheme::kPerTensorDynamic,
                                         Scheme::kPerBlock, Scheme::kBf16};
const char* scheme_name(Scheme scheme);  // "snapmla", "rope_fp8", ... (the --json keys)
const char* scheme_description(Scheme scheme);

// Quantizes the problem's cache and query as `scheme` does and runs its decode arithmetic
// (one split per request). Returns out and lse in the same layout as the truth.
HostResult run_scheme(Scheme scheme, const HostProblem& problem, int threads = 0);

struct ErrorMetrics {
  double rel_l2 = 0, rmse = 0, cos_diff = 0, lse_max_abs = 0;
  std::int64_t non_finite = 0;  // outputs that are NaN or Inf
};
// Rows with lse = +inf in the truth (empty) are compared for out = 0 and lse = +inf.
ErrorMetrics compare(const HostResult& result, const HostResult& truth);

}  // namespace snapmla::ref

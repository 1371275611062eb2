// The decode arithmetic of docs/numerics.md, written once for the CPU. Used by the reference
// decode (FP8 and BF16, following the split schedule) and by the accuracy ablation (every
// scheme is "some quantized cache + one of two PV rules").
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "common/codecs.h"
#include "common/quant_rules.h"
#include "snapmla/cache.h"

namespace snapmla::ref {

// How P meets V.
enum class PvRule {
  kFp8Scaled,  // P' = p * s[t], per-(row, block) power-of-two scale, e4m3 (SnapMLA)
  kBf16,       // P = bf16(p), s[t] must be 1 (FlashMLA)
};

// One 64-token block as the GEMMs see it: values already dequantized from their codes (e4m3,
// bf16) but still in the scale domain; s[t] multiplies the score and folds into P'.
struct TokenBlock {
  int count = 0;  // tokens loaded (the rest are never read)
  float content[kPageSize][kDimLatent];
  float rope[kPageSize][kDimRope];
  float scale[kPageSize];
};

// One query row as the GEMMs see it.
struct QueryRow {
  const float* content;  // 512
  const float* rope;     // 64
  float factor;          // q_scale * softmax_scale * log2(e)
  int visible;           // tokens this row sees (causal rule applied)
};

// Online-softmax state of one row over one split.
struct RowState {
  float m = -std::numeric_limits<float>::infinity();
  float l = 0.0f;
  float o[kDimLatent] = {};
};

// Deterministic fp32 dot product: eight interleaved partial sums, then a fixed tree.
inline float dot_f32(const float* a, const float* b, int n) {
  float s[8] = {};
  for (int i = 0; i < n; i += 8)
    for (int k = 0; k < 8; ++k) s[k] += a[i + k] * b[i + k];
  return ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
}

// Applies one block (tokens [first_token, first_token + block.count)) to one row.
inline void apply_block(const TokenBlock& block, int first_token, const QueryRow& q, PvRule rule,
                        RowState& st) {
  int n = q.visible - first_token;
  if (n > block.count) n = block.count;
  if (n <= 0) return;  // every token masked: the state is unchanged
  float x[kPageSize];
  float block_max = -std::numeric_limits<float>::infinity();
  for (int t = 0; t < n; ++t) {
    const float acc = dot_f32(q.content, block.content[t], kDimLatent) +
                      dot_f32(q.rope, block.rope[t], kDimRope);
    x[t] = (acc * q.factor) * block.scale[t];
    block_max = std::fmax(block_max, x[t]);
  }
  const float m_new = std::fmax(st.m, block_max);
  const float alpha = std::exp2(st.m - m_new);  // exp2(-inf) = 0 on the first block
  float p[kPageSize], p_sum = 0.0f;
  for (int t = 0; t < n; ++t) {
    p[t] = std::exp2(x[t] - m_new);
    p_sum += p[t];
  }
  st.l = st.l * alpha + p_sum;

  float pv[kPageSize];  // the P operand of the PV GEMM, as the tensor core sees it
  float unmult = 1.0f;
  if (rule == PvRule::kFp8Scaled) {
    float ps_max = 0.0f;
    for (int t = 0; t < n; ++t) {
      pv[t] = p[t] * block.scale[t];
      ps_max = nan_sticky_max(ps_max, pv[t]);
    }
    const PvScale ps = pv_scale_from_max(ps_max);
    for (int t = 0; t < n; ++t) pv[t] = round_to_e4m3(pv[t] * ps.mult);
    unmult = ps.unmult;
  } else {
    for (int t = 0; t < n; ++t) pv[t] = round_to_bf16(p[t]);
  }
  float acc[kDimLatent] = {};
  for (int t = 0; t < n; ++t) {
    const float w = pv[t];
    const float* v = block.content[t];
    for (int d = 0; d < kDimLatent; ++d) acc[d] += w * v[d];
  }
  // One rounding for the product and the sum (the kernels' fma, kernels/common/block_fold.cuh).
  for (int d = 0; d < kDimLatent; ++d) st.o[d] = std::fma(unmult, acc[d], st.o[d] * alpha);
  st.m = m_new;
}

// The result of one split for one row: O / l and the LSE in log2 units (-inf: saw nothing).
inline bool finish_row(const RowState& st, float* o_out, float* lse2_out) {
  if (st.l == 0.0f && st.m == -std::numeric_limits<float>::infinity()) {
    for (int d = 0; d < kDimLatent; ++d) o_out[d] = 0.0f;
    *lse2_out = -std::numeric_limits<float>::infinity();
    return false;
  }
  const float inv_l = 1.0f / st.l;
  for (int d = 0; d < kDimLatent; ++d) o_out[d] = st.o[d] * inv_l;
  *lse2_out = st.m + std::log2(st.l);
  return true;
}

}  // namespace snapmla::ref

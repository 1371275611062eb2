// CPU reference of the cache format: row quantization, query quantization, append, fetch.
#include <cmath>
#include <cstring>

#include "common/codecs.h"
#include "common/quant_rules.h"
#include "common/view_access.h"
#include "reference/reference.h"

namespace snapmla::ref {

void quantize_row(const float* row, std::uint8_t* content, float* scale, std::uint16_t* rope) {
  float amax = 0.0f;
  for (int d = 0; d < kDimLatent; ++d) amax = nan_sticky_max(amax, std::fabs(row[d]));
  for (int j = 0; j < kDimRope; ++j) amax = nan_sticky_max(amax, nonfinite_as_nan(row[kDimLatent + j]));
  const float s = scale_from_amax(amax);
  for (int d = 0; d < kDimLatent; ++d) content[d] = e4m3_from_float(row[d] / s);
  for (int j = 0; j < kDimRope; ++j) rope[j] = bf16_from_float(row[kDimLatent + j] / s);
  *scale = s;
}

namespace {
// bf16 row of 576 -> floats
void load_bf16_row(const std::uint16_t* src, float* dst) {
  for (int d = 0; d < kDimQK; ++d) dst[d] = bf16_to_float(src[d]);
}
}  // namespace

void quantize_query(const TensorView& q, const Fp8Query& out) {
  float row[kDimQK];
  for (std::int64_t b = 0; b < q.shape[0]; ++b)
    for (std::int64_t i = 0; i < q.shape[1]; ++i)
      for (std::int64_t h = 0; h < q.shape[2]; ++h) {
        load_bf16_row(element<const std::uint16_t>(q, b, i, h), row);
        quantize_row(row, element<std::uint8_t>(out.q_nope, b, i, h),
                     element<float>(out.q_scale, b, i, h),
                     element<std::uint16_t>(out.q_rope, b, i, h));
      }
}

void append_kv(const TensorView& kv, const TensorView& slots, const Fp8Cache& cache) {
  float row[kDimQK];
  auto* content = cache.kv_fp8.ptr<std::uint8_t>();
  auto* scale = cache.kv_scale.ptr<float>();
  auto* rope = cache.kv_rope.ptr<std::uint16_t>();
  for (std::int64_t n = 0; n < kv.shape[0]; ++n) {
    const std::int64_t slot = *element<const std::int32_t>(slots, n);
    if (slot < 0) continue;  // padding row
    load_bf16_row(element<const std::uint16_t>(kv, n), row);
    quantize_row(row, content + slot * kDimLatent, scale + slot, rope + slot * kDimRope);
  }
}

void fetch_dequant(const Fp8Cache& cache, const TensorView& slots, const TensorView& out) {
  const auto* content = cache.kv_fp8.ptr<const std::uint8_t>();
  const auto* scale = cache.kv_scale.ptr<const float>();
  const auto* rope = cache.kv_rope.ptr<const std::uint16_t>();
  for (std::int64_t n = 0; n < slots.shape[0]; ++n) {
    const std::int64_t slot = *element<const std::int32_t>(slots, n);
    auto* dst = element<std::uint16_t>(out, n);
    if (slot < 0) {
      std::memset(dst, 0, sizeof(std::uint16_t) * kDimQK);
      continue;
    }
    const float s = scale[slot];
    for (int d = 0; d < kDimLatent; ++d)
      dst[d] = bf16_from_float(e4m3_to_float(content[slot * kDimLatent + d]) * s);
    for (int j = 0; j < kDimRope; ++j)
      dst[kDimLatent + j] = bf16_from_float(bf16_to_float(rope[slot * kDimRope + j]) * s);
  }
}

}  // namespace snapmla::ref

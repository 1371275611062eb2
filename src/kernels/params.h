// The one ABI between the host API (src/api) and the CUDA kernels: plain structs of pointers,
// sizes and strides. Kernels never see TensorView or framework types; src/api fills these after
// validation. Strides are in elements. Shapes are in the comments.
#pragma once

#include <cstdint>

#include "common/host_device.h"

namespace snapmla::kernels {

using StreamHandle = void*;  // cudaStream_t

struct QuantizeQueryParams {
  int batch, s_q, h_q;
  const std::uint16_t* q;  // [b, s_q, h_q, 576] bf16, strides below, last dim contiguous
  std::int64_t q_stride[3];
  std::uint8_t* q_nope;    // [b, s_q, h_q, 512] e4m3, strides below
  std::int64_t q_nope_stride[3];
  float* q_scale;          // [b, s_q, h_q]
  std::int64_t q_scale_stride[3];
  std::uint16_t* q_rope;   // [b, s_q, h_q, 64] bf16
  std::int64_t q_rope_stride[3];
};

struct Fp8CacheParams {
  int num_pages;
  std::uint8_t* kv_fp8;    // [pages, 64, 512] contiguous
  float* kv_scale;         // [pages, 64] contiguous
  std::uint16_t* kv_rope;  // [pages, 64, 64] contiguous
};

struct AppendParams {
  int num_tokens;
  const std::uint16_t* kv;  // [n, 576] bf16, row stride below
  std::int64_t kv_row_stride;
  const std::int32_t* slots;  // [n], page * 64 + offset; < 0 skips
  Fp8CacheParams cache;
};

struct FetchParams {
  int num_tokens;
  const std::int32_t* slots;  // [n]
  Fp8CacheParams cache;
  std::uint16_t* out;         // [n, 576] bf16, row stride below
  std::int64_t out_row_stride;
};

// Everything a decode launch needs. q_* are either the FP8 query planes or the BF16 query.
struct DecodeParams {
  int batch, s_q, h_q;
  bool causal;
  float scale_log2;  // softmax_scale * log2(e)

  // FP8 path
  const std::uint8_t* q_nope;  std::int64_t q_nope_stride[3];  // [b, s_q, h_q, 512]
  const float* q_scale;        std::int64_t q_scale_stride[3]; // [b, s_q, h_q]
  const std::uint16_t* q_rope; std::int64_t q_rope_stride[3];  // [b, s_q, h_q, 64]
  Fp8CacheParams fp8_cache;
  // BF16 path
  const std::uint16_t* q_bf16; std::int64_t q_bf16_stride[3];  // [b, s_q, h_q, 576]
  const std::uint16_t* kv_bf16; int num_pages_bf16;             // [pages, 64, 576] contiguous

  const std::int32_t* block_table;  std::int64_t block_table_stride; int max_pages;
  const std::int32_t* lengths;      // [b]

  std::uint16_t* out;  std::int64_t out_stride[3];  // [b, s_q, h_q, 512] bf16
  float* lse;          std::int64_t lse_stride[3];  // [b, h_q, s_q] f32 natural log

  // workspace pieces (see src/sched/schedule.h)
  int num_parts;
  const void* parts;              // sched::PartRange[num_parts]
  const std::int32_t* split_begin;  // [b + 1]
  float* partial_lse;             // [max_splits, rows] log2
  float* partial_o;               // [max_splits, rows, 512]
  // Arrival counters [batch, merge tiles] (zero between calls) for kernels that merge the
  // splits themselves (kernels/common/merge_splits.cuh); nullptr: leave the partials to combine.
  std::int32_t* split_done;
};

// Query row r = i * h_q + h of a request: (i, h) with one integer division (the compiler emits a
// separate software division for a % beside a /).
struct QueryRow {
  int i, h;
};
SNAPMLA_HD QueryRow query_row(int row, int h_q) {
  const int i = row / h_q;
  return {i, row - i * h_q};
}

}  // namespace snapmla::kernels

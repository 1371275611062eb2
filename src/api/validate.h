// Host-side argument checks. Every public operation runs these before it touches data; a
// failure throws snapmla::Error(kInvalidArgument) whose message names the operation, the
// argument and the rule: "decode_fp8: out: expected shape [4, 1, 16, 512], got [4, 1, 16, 576]".
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>

#include "snapmla/error.h"
#include "snapmla/ops.h"

namespace snapmla::api {

class ArgCheck {
 public:
  explicit ArgCheck(const char* op) : op_(op) {}

  [[noreturn]] void fail(const std::string& arg, const std::string& rule,
                         ErrorCode code = ErrorCode::kInvalidArgument) const;

  // dtype, rank, shape (-1 matches any extent), non-null data (unless empty), positive strides,
  // innermost dimension contiguous. Returns nothing; throws on the first broken rule.
  void tensor(const TensorView& v, const char* arg, DType dtype,
              std::initializer_list<std::int64_t> shape) const;
  // tensor() plus fully packed layout.
  void contiguous_tensor(const TensorView& v, const char* arg, DType dtype,
                         std::initializer_list<std::int64_t> shape) const;
  void positive(std::int64_t value, const char* arg) const;
  // All views on `device` (the first view's device decides the operation's device).
  void same_device(const TensorView& v, const char* arg, const Device& device) const;

  const char* op() const { return op_; }

 private:
  const char* op_;
};

// Decode-step checks shared by decode_fp8, decode_bf16, combine_splits and plan_decode.
// Returns the shape with num_sm_parts resolved.
DecodeShape check_decode_shape(const ArgCheck& check, const DecodeShape& shape, Device device);
void check_workspace(const ArgCheck& check, const Workspace& ws, const DecodeShape& resolved,
                     Device device);
void check_decode_outputs(const ArgCheck& check, const DecodeArgs& args, Device device);
// CPU only (values readable on the host): lengths >= 0 and within the block table, and every
// page a request uses inside [0, num_pages).
void check_lengths_and_pages(const ArgCheck& check, const DecodeArgs& args, std::int64_t num_pages);
void check_fp8_cache(const ArgCheck& check, const Fp8Cache& cache, Device device);
void check_bf16_cache(const ArgCheck& check, const Bf16Cache& cache, Device device);
void check_fp8_query(const ArgCheck& check, const Fp8Query& q, const DecodeShape& shape, Device device);
// CPU only: slots negative (skip) or inside the cache.
void check_slot_values(const ArgCheck& check, const TensorView& slots, std::int64_t num_pages);

// Limits of what the kernels serve.
inline constexpr int kMaxHeads = 1024;
inline constexpr int kMaxQueryTokens = 16;

}  // namespace snapmla::api

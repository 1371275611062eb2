// Public views -> the kernels' plain parameter structs (src/kernels/params.h). Used by the API
// after validation, and by GPU tests that launch one kernel variant directly, so a test always
// feeds a kernel exactly what the API would.
#pragma once

#include "kernels/params.h"
#include "snapmla/ops.h"

namespace snapmla::api {

kernels::Fp8CacheParams fp8_cache_params(const Fp8Cache& cache);

// Everything but the query and the cache; `shape` must have num_sm_parts resolved.
kernels::DecodeParams decode_params(const DecodeArgs& args, const DecodeShape& shape,
                                    const DecodeOptions& options);
void set_fp8_inputs(kernels::DecodeParams& params, const Fp8Query& q, const Fp8Cache& cache);
void set_bf16_inputs(kernels::DecodeParams& params, const TensorView& q, const Bf16Cache& cache);

kernels::QuantizeQueryParams quantize_query_params(const TensorView& q, const Fp8Query& out);

}  // namespace snapmla::api

// Host entry of the tensor-core FP8 split-KV decode kernel (kernel.cuh). Plain C++.
#pragma once

#include "kernels/params.h"

namespace snapmla::kernels {

// Runs the FP8 split kernel with tensor cores (same outputs as launch_decode_fp8: out/lse for
// single-split requests, partial_o/partial_lse for the others; combine is separate). Returns
// false, launching nothing, for what it does not serve: causal s_q > 1 with h_q not a multiple
// of 16 (a warp's 16 rows must see the same tokens), or misaligned query / output / cache
// pointers or strides (16-byte loads of q_nope, q_rope and the cache, 8-byte stores of out).
bool launch_decode_fp8_tc(const DecodeParams& params, StreamHandle stream);

// Whether launch_decode_fp8_tc would serve `params` (no launch).
bool decode_fp8_tc_supports(const DecodeParams& params);

}  // namespace snapmla::kernels

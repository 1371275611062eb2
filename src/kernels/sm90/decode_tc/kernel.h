// Host entries of the tensor-core FP8 and BF16 split-KV decode kernels (kernel.cuh). Plain C++.
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

// The BF16 split kernel with tensor cores (same outputs as launch_decode_bf16; FlashMLA's
// arithmetic). Returns false, launching nothing, for the same shapes as the FP8 one (causal
// s_q > 1 with h_q not a multiple of 16) and for misaligned q_bf16 / kv_bf16 / out pointers or
// strides (16-byte loads of q and the cache, 8-byte-aligned out rows).
bool launch_decode_bf16_tc(const DecodeParams& params, StreamHandle stream);
bool decode_bf16_tc_supports(const DecodeParams& params);

}  // namespace snapmla::kernels

// Host entry of the wgmma FP8 split-KV decode kernel (kernel.cuh). Plain C++.
#pragma once

#include "kernels/params.h"

namespace snapmla::kernels {

// Runs the FP8 split kernel on Hopper warpgroup MMAs (same outputs as launch_decode_fp8:
// out/lse for single-split requests, partial_o/partial_lse for the others; combine is
// separate). Serves every s_q, h_q and causal setting. Returns false, launching nothing, for
// misaligned query, cache or output pointers or strides (16-byte loads of q_nope, q_rope and
// the cache planes, 4-byte stores of out) and for caches TMA cannot address (no page, more
// than 2^31 tokens).
bool launch_decode_fp8_wgmma(const DecodeParams& params, StreamHandle stream);

// Whether launch_decode_fp8_wgmma would serve `params` (no launch).
bool decode_fp8_wgmma_supports(const DecodeParams& params);

}  // namespace snapmla::kernels

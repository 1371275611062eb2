// Host entry of the wgmma FP8 split-KV decode kernel (kernel.cuh). Plain C++.
#pragma once

#include "kernels/params.h"

namespace snapmla::kernels {

// Which kernel launch_decode_fp8_wgmma runs. kAuto: the one decode_wgmma/kernel.cuh's route_for
// picks for the call; the others force a kernel (tests cover each on the same inputs).
//   kNarrow16              the narrow kernel (src/kernels/sm90/decode_narrow), 16 query rows a
//                          CTA, any row count in row groups
//   kNarrow32              the same with 32 rows a CTA, for s_q * h_q <= 32 only (0, nothing
//                          launched, above)
//   kTiles64               the 64-row kernel
enum class WgmmaRoute { kAuto, kNarrow16, kNarrow32, kTiles64 };

// Runs the FP8 split kernel on Hopper warpgroup MMAs, with launch_decode_fp8's contract: out/lse
// for single-split requests, partial_o/partial_lse for the others, out/lse for the requests it
// merged itself, and it returns the largest split count of those (launch_combine's
// merged_up_to). Only the 64-row kernel (kTiles64) merges, requests of up to
// sched::kMaxInKernelMergeSplits splits when params.split_done is set
// (kernels/common/merge_splits.cuh); the others return 1 (single splits only): the narrow
// kernel's requests' last splits all end in its last moments, where the combine kernel, spread
// over every SM, is faster (docs/perf.md, v30). Serves every s_q, h_q and causal setting.
// Returns 0, launching nothing, for misaligned query, cache or output pointers or strides
// (16-byte loads of q_nope, q_rope and the cache planes, 4-byte stores of out), for caches TMA
// cannot address (no page, more than 2^31 tokens) and for kNarrow32 above 32 rows.
int launch_decode_fp8_wgmma(const DecodeParams& params, StreamHandle stream, WgmmaRoute route = WgmmaRoute::kAuto);

// Whether launch_decode_fp8_wgmma would serve `params` (no launch).
bool decode_fp8_wgmma_supports(const DecodeParams& params);

}  // namespace snapmla::kernels

// The shapes `snapmla bench` times by default (BxS_QxH_QxS_K), also the default of
// bench/external/flashmla_compare.cu, which includes this file so that both time the same list.
// SNAPMLA.md section 7: the H100 table, then the shapes only the H200 table has, then h_q = 32
// (issue 4's tensor-parallel shard, per KV byte against h_q = 16 and 64), then the rest of
// issue 4's small family (b in {1, 8}, 640 tokens, h_q 16 and 128, under graphs), then the
// same at the tensor-parallel shards h_q = 32 and 64 (the narrow kernel's row groups), then
// the small family at 8192 tokens for h_q = 32 and 64, and the memory-bound family's smaller
// batches (issue 4: b >= 32, h_q * s_q <= 64, s_k >= 8K).
// Plain C++ with no includes: flashmla_compare is built outside the project's CMake.
#pragma once

namespace snapmla::tool {

inline constexpr const char* kDefaultBenchShapes =
    "1x1x128x640,1x1x128x8192,1x1x16x8192,8x1x128x8192,8x1x16x8192,32x1x128x8192,32x2x128x8192,"
    "128x1x128x8192,128x2x128x8192,128x1x16x8192,128x1x64x8192,64x1x16x131072,128x1x128x16384,"
    "128x2x128x16384,64x1x128x65536,128x1x16x16384,128x1x32x8192,8x1x128x640,1x1x16x640,8x1x16x640,"
    "1x1x32x640,8x1x32x640,1x1x64x640,8x1x64x640,1x1x32x8192,8x1x32x8192,1x1x64x8192,8x1x64x8192,"
    "32x1x16x8192,64x1x16x8192,32x1x64x8192";

}  // namespace snapmla::tool

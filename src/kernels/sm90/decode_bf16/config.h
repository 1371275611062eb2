// The BF16 cache ([pages, 64, 576] bf16, FlashMLA's format) as the shared decode kernel reads it.
// The tiling constants are those of the FP8 kernel (decode_fp8/config.h).
#pragma once

#include "kernels/sm90/decode_fp8/config.h"

namespace snapmla::kernels::decode {

struct Bf16Format {
  static constexpr bool kFp8 = false;
  static constexpr int kContentBytes = kDimLatent * 2;        // bf16
  static constexpr int kContentRowBytes = kContentBytes + kRowPadBytes;
  static constexpr int kContentPerChunk = kChunkBytes / 2;    // 8 values per 16-byte chunk
  static constexpr int kPvBytesPerThread = kDimsPerThread * 2;  // 8 bf16 values
  static constexpr int kTokenBytes = kDimQK * 2;              // 1152: content then rope
};

}  // namespace snapmla::kernels::decode

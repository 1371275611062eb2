// The BF16 decode split kernel (FlashMLA arithmetic: bf16 q/cache, P = bf16(p)). It shares the
// kernel template of the FP8 path (decode_fp8/kernel.cuh) with the BF16 cache format.
#include "kernels/sm90/decode_bf16/config.h"
#include "kernels/sm90/decode_fp8/kernel.cuh"

namespace snapmla::kernels {

void launch_decode_bf16(const DecodeParams& params, StreamHandle stream) {
  decode::launch_decode<decode::Bf16Format>(params, stream, "decode_bf16 kernel launch");
}

}  // namespace snapmla::kernels

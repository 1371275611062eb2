// The FP8 decode split kernel (SnapMLA arithmetic, docs/numerics.md).
#include "kernels/sm90/decode_fp8/kernel.cuh"

namespace snapmla::kernels {

void launch_decode_fp8(const DecodeParams& params, StreamHandle stream) {
  decode::launch_decode<decode::Fp8Format>(params, stream, "decode_fp8 kernel launch");
}

}  // namespace snapmla::kernels

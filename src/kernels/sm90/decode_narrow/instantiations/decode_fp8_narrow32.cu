// The narrow FP8 decode split kernel for up to 32 query rows, two CTAs of two stages per SM (SnapMLA
// arithmetic, docs/numerics.md).
#include "kernels/sm90/decode_narrow/kernel.cuh"

namespace snapmla::kernels {

void launch_decode_fp8_narrow32(const DecodeParams& params, StreamHandle stream) {
  decode_narrow::launch_cols<32, 2>(params, stream);
}

}  // namespace snapmla::kernels

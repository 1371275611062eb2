// The narrow FP8 decode split kernel for up to 16 query rows, three CTAs per SM with the split
// page ring (SnapMLA arithmetic, docs/numerics.md).
#include "kernels/sm90/decode_narrow/kernel.cuh"

namespace snapmla::kernels {

void launch_decode_fp8_narrow16x3(const DecodeParams& params, StreamHandle stream) {
  decode_narrow::launch_cols<16, 3>(params, stream);
}

}  // namespace snapmla::kernels

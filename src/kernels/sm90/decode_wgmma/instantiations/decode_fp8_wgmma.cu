// The wgmma FP8 decode split kernel (SnapMLA arithmetic, docs/numerics.md).
#include "kernels/sm90/decode_wgmma/kernel.cuh"

namespace snapmla::kernels {

bool decode_fp8_wgmma_supports(const DecodeParams& params) { return decode_wgmma::supports(params); }

int launch_decode_fp8_wgmma(const DecodeParams& params, StreamHandle stream, WgmmaRoute route) {
  return decode_wgmma::launch(params, stream, route);
}

}  // namespace snapmla::kernels

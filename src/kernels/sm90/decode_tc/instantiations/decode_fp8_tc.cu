// The tensor-core FP8 decode split kernel (SnapMLA arithmetic, docs/numerics.md).
#include "kernels/sm90/decode_tc/kernel.cuh"

namespace snapmla::kernels {

bool decode_fp8_tc_supports(const DecodeParams& params) { return decode_tc::supports<decode_tc::Fp8Tc>(params); }

bool launch_decode_fp8_tc(const DecodeParams& params, StreamHandle stream) {
  return decode_tc::launch<decode_tc::Fp8Tc>(params, stream);
}

}  // namespace snapmla::kernels

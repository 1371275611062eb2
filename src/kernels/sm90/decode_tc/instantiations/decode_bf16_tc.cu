// The tensor-core BF16 decode split kernel (FlashMLA arithmetic: bf16 q/cache, P = bf16(p)), the
// BF16 instantiation of the tensor-core kernel template (decode_tc/kernel.cuh).
#include "kernels/sm90/decode_tc/kernel.cuh"

namespace snapmla::kernels {

bool decode_bf16_tc_supports(const DecodeParams& params) { return decode_tc::supports<decode_tc::Bf16Tc>(params); }

bool launch_decode_bf16_tc(const DecodeParams& params, StreamHandle stream) {
  return decode_tc::launch<decode_tc::Bf16Tc>(params, stream);
}

}  // namespace snapmla::kernels

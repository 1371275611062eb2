// The FP8 decode split kernels (SnapMLA arithmetic, docs/numerics.md): the SIMT kernel, or the
// tensor-core kernel where it serves the shape when SNAPMLA_DECODE_KERNEL=tc
// (kernels/common/variant.h).
#include "kernels/sm90/decode_fp8/kernel.cuh"
#include "kernels/common/variant.h"
#include "kernels/sm90/decode_tc/kernel.h"

namespace snapmla::kernels {

void launch_decode_fp8_simt(const DecodeParams& params, StreamHandle stream) {
  decode::launch_decode<decode::Fp8Format>(params, stream, "decode_fp8 kernel launch");
}

void launch_decode_fp8(const DecodeParams& params, StreamHandle stream) {
  if (tensor_core_enabled() && launch_decode_fp8_tc(params, stream)) return;
  launch_decode_fp8_simt(params, stream);
}

}  // namespace snapmla::kernels

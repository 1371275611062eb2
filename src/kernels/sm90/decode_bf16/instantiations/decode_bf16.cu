// The BF16 decode split kernels (FlashMLA arithmetic: bf16 q/cache, P = bf16(p)): the SIMT
// kernel, or the tensor-core kernel (decode_tc/kernel.cuh with the BF16 format) where it serves
// the shape when SNAPMLA_DECODE_KERNEL is tc or wgmma (kernels/common/variant.h). The SIMT kernel shares the
// kernel template of the FP8 path (decode_fp8/kernel.cuh) with the BF16 cache format.
#include "kernels/sm90/decode_bf16/config.h"
#include "kernels/sm90/decode_fp8/kernel.cuh"
#include "kernels/common/variant.h"
#include "kernels/sm90/decode_tc/kernel.h"

namespace snapmla::kernels {

void launch_decode_bf16_simt(const DecodeParams& params, StreamHandle stream) {
  decode::launch_decode<decode::Bf16Format>(params, stream, "decode_bf16 kernel launch");
}

void launch_decode_bf16(const DecodeParams& params, StreamHandle stream) {
  if (decode_kernel_choice() != DecodeKernel::kSimt && launch_decode_bf16_tc(params, stream)) return;
  launch_decode_bf16_simt(params, stream);
}

}  // namespace snapmla::kernels

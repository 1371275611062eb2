// The FP8 decode split kernels (SnapMLA arithmetic, docs/numerics.md): the SIMT kernel, or the
// mma.sync tensor-core or the wgmma kernel where it serves the shape (kernels/common/variant.h
// says which one serves a call).
#include "kernels/sm90/decode_fp8/kernel.cuh"
#include "kernels/common/variant.h"
#include "kernels/sm90/decode_tc/kernel.h"
#include "kernels/sm90/decode_wgmma/kernel.h"

namespace snapmla::kernels {

void launch_decode_fp8_simt(const DecodeParams& params, StreamHandle stream) {
  decode::launch_decode<decode::Fp8Format>(params, stream, "decode_fp8 kernel launch");
}

// Only the 64-row wgmma kernel merges splits itself (kernels/common/merge_splits.cuh).
int launch_decode_fp8(const DecodeParams& params, StreamHandle stream) {
  switch (decode_kernel_choice()) {
    case DecodeKernel::kWgmma:
      if (const int merged_up_to = launch_decode_fp8_wgmma(params, stream)) return merged_up_to;
      break;
    case DecodeKernel::kTensorCore:
      if (launch_decode_fp8_tc(params, stream)) return 1;
      break;
    case DecodeKernel::kSimt:
      break;
  }
  launch_decode_fp8_simt(params, stream);
  return 1;
}

}  // namespace snapmla::kernels
